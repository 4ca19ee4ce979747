"""`add server` / `del server` on a running proxy: traffic reaches a server added
at run time once it is enabled, and stops when it is deleted.  HAProxy 2.6 and
balancekit-server side by side, in mode http and mode tcp.
"""

from __future__ import annotations

import socket

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
    balance roundrobin
    server s1 %(s1)s
listen raw
    mode tcp
    bind {listen:raw}
    balance roundrobin
    server s1 %(s1)s
"""


def _names(port: int, count: int) -> set[str]:
    """Which backends answer `count` requests, each on a new connection."""
    seen = set()
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        seen.add(data.rsplit(b"\r\n\r\n", 1)[1].decode())
    return seen


@pytest.fixture(params=["haproxy", "balancekit"])
def proxy(request: pytest.FixtureRequest, named_backends: NamedBackends) -> HAProxy:
    require_haproxy()
    command = (HAPROXY,) if request.param == "haproxy" else BALANCEKIT
    with HAProxy(CONFIG % {"s1": named_backends.address("s1")}, command=command) as running:
        yield running


@pytest.mark.parametrize(("frontend", "backend"), [("www", "app"), ("raw", "raw")])
def test_a_server_added_at_run_time_serves_once_enabled(
    proxy: HAProxy, named_backends: NamedBackends, frontend: str, backend: str
) -> None:
    port = proxy.port(frontend)
    s2 = named_backends.address("s2")
    assert proxy.command(f"add server {backend}/s2 {s2}") == "New server registered.\n\n"
    assert _names(port, 4) == {"s1"}  # added in maintenance
    assert proxy.command(f"enable server {backend}/s2") == "\n"
    assert _names(port, 4) == {"s1", "s2"}
    assert proxy.command(f"del server {backend}/s2") == (
        "Only servers in maintenance mode can be deleted.\n"
    )
    assert proxy.command(f"disable server {backend}/s2") == "\n"
    assert proxy.command(f"del server {backend}/s2") == "Server deleted.\n"
    assert _names(port, 4) == {"s1"}
    assert f"{backend} 2 s2" not in proxy.command(f"show servers state {backend}")
