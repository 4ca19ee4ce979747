"""`set server B/S addr A port P` moves a server: requests and health checks follow,
idle connections to the old address are let go.  HAProxy 2.6 and balancekit-server
side by side, in mode http (pooled keep-alive connections) and mode tcp.
"""

from __future__ import annotations

import csv
import io
import socket
import time

import pytest

from support.backends import NamedBackends
from support.echo_backends import dead_address
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
    server s1 %(s1)s check inter 100ms rise 1 fall 1
listen raw
    mode tcp
    bind {listen:raw}
    server s1 %(s1)s
"""


def _server_says(port: int, conn: socket.socket | None = None) -> str:
    """The backend's name from one GET (on `conn` when given: keep-alive)."""
    sock = conn or socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith((b"s1", b"s2")):
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    if conn is None:
        sock.close()
    return data.rstrip()[-2:].decode()


def _status(proxy: HAProxy, backend: str) -> str:
    rows = csv.DictReader(io.StringIO(proxy.command("show stat").lstrip("# ")))
    return next(r["status"] for r in rows if r["pxname"] == backend and r["svname"] == "s1")


@pytest.fixture(params=["haproxy", "balancekit"])
def proxy(request: pytest.FixtureRequest, named_backends: NamedBackends) -> HAProxy:
    require_haproxy()
    command = (HAPROXY,) if request.param == "haproxy" else BALANCEKIT
    config = CONFIG % {"s1": named_backends.address("s1")}
    with HAProxy(config, command=command) as running:
        yield running


def test_requests_follow_a_moved_server(proxy: HAProxy, named_backends: NamedBackends) -> None:
    www = proxy.port("www")
    keep_alive = socket.create_connection(("127.0.0.1", www), timeout=5)
    assert _server_says(www, keep_alive) == "s1"  # an idle pooled connection to s1 now
    s2_port = named_backends.address("s2").rsplit(":", 1)[1]
    s1_port = named_backends.address("s1").rsplit(":", 1)[1]
    for backend in ("app", "raw"):
        answer = proxy.command(f"set server {backend}/s1 addr 127.0.0.1 port {s2_port}")
        assert answer == (
            f"no need to change the addr, port changed from '{s1_port}' to '{s2_port}' "
            "by 'stats socket command'\n\n"
        )
    assert _server_says(www, keep_alive) == "s2"  # the old idle connection is not reused
    assert _server_says(www) == "s2"
    assert _server_says(proxy.port("raw")) == "s2"
    keep_alive.close()


def test_health_checks_follow_a_moved_server(proxy: HAProxy) -> None:
    deadline = time.monotonic() + 5
    while _status(proxy, "app") != "UP":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    dead = dead_address().rsplit(":", 1)[1]
    proxy.command(f"set server app/s1 addr 127.0.0.1 port {dead}")
    deadline = time.monotonic() + 5
    while _status(proxy, "app") != "DOWN":
        assert time.monotonic() < deadline, proxy.command("show stat")
        time.sleep(0.05)
