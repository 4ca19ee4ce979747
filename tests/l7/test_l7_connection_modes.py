"""`option http-server-close`, `httpclose` and `http-keep-alive`, side by side with
HAProxy 2.6: what the server is told, how many server connections three requests
take, and whether the client connection stays open."""

from __future__ import annotations

import socket

import pytest
from l7_diff import HTTP_DEFAULTS, SideBySide
from l7_rawserver import RawServer, header, read_head

pytestmark = pytest.mark.haproxy


def _answer_until_close(sock: socket.socket) -> None:
    """An HTTP/1.1 server that keeps the connection unless the request says close,
    and answers with the Connection header it was sent."""
    while True:
        head, _ = read_head(sock)
        if not head:
            return
        told = (header(head, b"connection") or b"-").lower()
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(told), told))
        if told == b"close":
            return


def _three_requests(port: int) -> list[bytes]:
    """The bodies of three requests on one client connection (fewer if it closes)."""
    bodies = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for _ in range(3):
            try:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                head, body = read_head(sock)
            except OSError:
                break
            if not head:
                break
            length = int(header(head, b"content-length") or b"0")
            while len(body) < length:
                body += sock.recv(65536)
            bodies.append(body)
    return bodies


@pytest.mark.parametrize(
    ("option", "where", "bodies", "server_connections"),
    [
        ("option http-server-close", "frontend", [b"close"] * 3, 3),
        ("option http-server-close", "backend", [b"close"] * 3, 3),
        ("option httpclose", "frontend", [b"close"], 1),
        ("option http-keep-alive", "frontend", [b"-"] * 3, 1),
    ],
)
def test_connection_modes_match_haproxy(
    option: str, where: str, bodies: list[bytes], server_connections: int
) -> None:
    got = {}
    with RawServer(_answer_until_close) as server:
        config = f"""
{HTTP_DEFAULTS}
frontend http_front
    bind 127.0.0.1:80
{"    " + option if where == "frontend" else ""}
    default_backend app

backend app
{"    " + option if where == "backend" else ""}
    server s1 {server.address}
"""
        with SideBySide(config, {}) as sides:
            for side, port in sides.ports.items():
                before = server.connections
                got[side] = (_three_requests(port), server.connections - before)
    assert got["haproxy"] == (bodies, server_connections)
    assert got["balancekit"] == got["haproxy"]
