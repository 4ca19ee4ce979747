"""An HTTP/1.0 server behind the proxy, side by side with HAProxy 2.6: the client
gets the server's `HTTP/1.0` status line (HAProxy's H1 mux keeps a version below
1.1) with `connection: keep-alive` when the client connection stays open, and the
client connection serves the next request (an HTTP/1.0 client's: one request)."""

from __future__ import annotations

import socket

import pytest
from l7_diff import HTTP_DEFAULTS, SideBySide
from l7_rawserver import RawServer, header, read_head

pytestmark = pytest.mark.haproxy


def _http10_server(sock: socket.socket) -> None:
    """Answers every request on the connection as HTTP/1.0 with keep-alive."""
    while True:
        head, _ = read_head(sock)
        if not head:
            return
        sock.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")


def _two_requests(port: int, version: bytes) -> list[tuple[bytes, bytes | None]]:
    """The status line and Connection header of two requests on one connection."""
    seen = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for _ in range(2):
            try:
                sock.sendall(b"GET / HTTP/" + version + b"\r\nHost: x\r\n\r\n")
                head, body = read_head(sock)
            except OSError:
                break
            if not head:
                break
            while len(body) < 2:
                body += sock.recv(100)
            seen.append((head.split(b"\r\n", 1)[0], header(head, b"connection")))
    return seen


@pytest.mark.parametrize("version", [b"1.1", b"1.0"])
def test_an_http10_answer_keeps_its_version(version: bytes) -> None:
    got = {}
    with RawServer(_http10_server) as server:
        config = f"""
{HTTP_DEFAULTS}
frontend http_front
    bind 127.0.0.1:80
    default_backend app

backend app
    server s1 {server.address}
"""
        with SideBySide(config, {}) as sides:
            for side, port in sides.ports.items():
                got[side] = _two_requests(port, version)
    assert got["haproxy"][0][0] == b"HTTP/1.0 200 OK"
    # An HTTP/1.0 client that did not ask for keep-alive gets one answer, then the close.
    assert len(got["haproxy"]) == (2 if version == b"1.1" else 1)
    assert got["balancekit"] == got["haproxy"]
