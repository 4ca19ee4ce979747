"""`shutdown sessions server B/S`: what the clients of streams in flight see,
through HAProxy 2.6 and balancekit-server side by side.

HAProxy kills every stream on the server: an HTTP request still waiting for its
response head gets a 502, a TCP session is closed; the server stays in service.
"""

from __future__ import annotations

import socket
import time

import pytest

from support.backends import NamedBackends
from support.haproxy import BALANCEKIT, HAPROXY, HAProxy, require_haproxy

CONFIG = """\
global
    stats socket {stats} level admin
defaults
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend www
    mode http
    bind {listen:www}
    default_backend app
backend app
    mode http
    server s1 %(s1)s
listen raw
    mode tcp
    bind {listen:raw}
    server s1 %(s1)s
"""

SLOW = b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"  # the backend answers after 0.5 s


@pytest.fixture(params=["haproxy", "balancekit"])
def proxy(request: pytest.FixtureRequest, named_backends: NamedBackends) -> HAProxy:
    require_haproxy()
    command = (HAPROXY,) if request.param == "haproxy" else BALANCEKIT
    with HAProxy(CONFIG % {"s1": named_backends.address("s1")}, command=command) as running:
        yield running


def _in_flight(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=3)
    sock.sendall(SLOW)
    time.sleep(0.15)  # the request has reached the server, which is still working
    return sock


@pytest.mark.parametrize(("frontend", "backend"), [("www", "app"), ("raw", "raw")])
def test_streams_on_the_server_end_at_once(proxy: HAProxy, frontend: str, backend: str) -> None:
    port = proxy.port(frontend)
    waiting = _in_flight(port)
    started = time.monotonic()
    assert proxy.command(f"shutdown sessions server {backend}/s1") == "\n"
    answer = waiting.recv(65536)
    assert time.monotonic() - started < 0.4  # not the server's answer, 0.5 s late
    if frontend == "www":
        assert answer.startswith(b"HTTP/1.1 502 Bad Gateway\r\n"), answer
    else:
        assert answer == b""  # mode tcp: closed
    waiting.close()
    # The server stays in service: the next request is answered.
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")


def test_show_sess_lists_streams_in_flight_and_shutdown_session_ends_one(
    proxy: HAProxy,
) -> None:
    """`show sess` names each stream with a pointer and HAProxy's leading fields;
    `shutdown session <pointer>` ends that one (balancekit prints only the fields
    it has a meaning for, and lists no line for the CLI's own connection)."""
    web = _in_flight(proxy.port("www"))
    raw = _in_flight(proxy.port("raw"))
    lines = proxy.command("show sess").splitlines()
    streams = {
        fields["fe"]: (pointer, fields)
        for pointer, _, rest in (line.partition(": ") for line in lines if line)
        for fields in [dict(w.split("=", 1) for w in rest.split() if "=" in w)]
    }
    for frontend, backend in (("www", "app"), ("raw", "raw")):
        _, fields = streams[frontend]
        assert (fields["proto"], fields["be"], fields["srv"]) == ("tcpv4", backend, "s1")
        assert fields["src"].startswith("127.0.0.1:")
    pointer = streams["raw"][0]
    assert proxy.command(f"shutdown session {pointer}") == "\n"
    assert raw.recv(65536) == b""  # closed at once
    assert web.recv(65536).startswith(b"HTTP/1.1 200")  # the other one goes on
    assert proxy.command("shutdown session 0x1") == "No such session (use 'show sess').\n\n"
    assert proxy.command("shutdown session") == ("Session pointer expected (use 'show sess').\n\n")
    web.close()
    raw.close()
