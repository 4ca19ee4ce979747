"""Global and frontend `maxconn` in mode http, side by side with HAProxy 2.6: a
connection over the limit waits (connected, unanswered) until another one closes."""

from __future__ import annotations

import socket

import pytest
from l7_diff import HTTP_DEFAULTS, SideBySide

from support.backends import NamedBackends

pytestmark = pytest.mark.haproxy


def _config(servers: str, where: str) -> str:
    limit = "    maxconn 2\n"
    tcp = f"""
listen tcp_front
    mode tcp
    bind 127.0.0.1:81
    balance roundrobin
{servers}
"""
    return f"""
global
{limit if where != "frontend" else ""}
{HTTP_DEFAULTS}
frontend http_front
    bind 127.0.0.1:80
{limit if where == "frontend" else ""}
    default_backend app

backend app
    balance roundrobin
{servers}
{tcp if where == "global, tcp too" else ""}
"""


def _ask(sock: socket.socket, path: str) -> None:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())


def _answer(sock: socket.socket, timeout: float) -> bytes:
    """The first bytes of an answer, or b"" if none comes within `timeout`."""
    sock.settimeout(timeout)
    try:
        return sock.recv(65536)
    except TimeoutError:
        return b""


@pytest.mark.parametrize("where", ["global", "frontend", "global, tcp too"])
def test_connection_over_maxconn_waits_for_a_free_slot(
    named_backends: NamedBackends, where: str
) -> None:
    """With "global, tcp too", the first connection goes through a `mode tcp` proxy
    of the same process: the global limit counts every connection, as HAProxy's."""
    with SideBySide(_config(named_backends.server_lines(), where), {}) as sides:
        first_ports = sides.ports
        if where == "global, tcp too":
            first_ports = {
                "haproxy": sides.haproxy.port("p81"),
                "balancekit": sides.kit.port("tcp_front"),
            }
        for side, port in sides.ports.items():
            first = socket.create_connection(("127.0.0.1", first_ports[side]))
            second, third = (socket.create_connection(("127.0.0.1", port)) for _ in "23")
            try:
                for sock in (first, second):
                    _ask(sock, "/")
                    assert _answer(sock, 5).startswith(b"HTTP/1.1 200"), side
                # Both keep-alive connections stay open: the third one is over the limit.
                _ask(third, "/third")
                assert _answer(third, 0.5) == b"", f"{side} answered over maxconn"
                first.close()
                assert _answer(third, 5).startswith(b"HTTP/1.1 200"), side
            finally:
                for sock in (first, second, third):
                    sock.close()
