"""Restartable loopback HTTP backends: each keeps its port across kill/start."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        body = self.server.name.encode()
        self.server.hits.append(self.path)
        if self.server.status == 0:  # close without an answer: an empty response
            self.close_connection = True
            return
        self.send_response(self.server.status)
        self.send_header("X-Server", self.server.name)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        elif self.headers.get("Transfer-Encoding") == "chunked":
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                self.rfile.read(size + 2)
                if not size:
                    break
        self.do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, name: str, port: int, hits: list[str]) -> None:
        self.name = name
        self.hits = hits
        self.status = 200
        self.conns: list[socket.socket] = []
        super().__init__(("127.0.0.1", port), _Handler)

    def get_request(self) -> tuple[socket.socket, object]:
        sock, addr = super().get_request()
        # headers and body leave in two writes: without this, Nagle + delayed ACK
        # stall every keep-alive answer ~40 ms
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conns.append(sock)
        return sock, addr


class Backends:
    """Named HTTP servers on 127.0.0.1; `kill(name)` closes one, `start(name)`
    brings it back on the same port."""

    def __init__(self, names: list[str]) -> None:
        self.ports: dict[str, int] = {}
        self.hits: dict[str, list[str]] = {name: [] for name in names}
        self.servers: dict[str, _Server] = {}
        for name in names:
            self.ports[name] = 0
            self.start(name)

    def start(self, name: str) -> None:
        server = _Server(name, self.ports[name], self.hits[name])
        self.ports[name] = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.servers[name] = server

    def kill(self, name: str) -> None:
        server = self.servers.pop(name)
        server.shutdown()
        server.server_close()
        for conn in server.conns:  # a killed server drops its keep-alive connections too
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def address(self, name: str) -> str:
        return f"127.0.0.1:{self.ports[name]}"

    def close(self) -> None:
        for name in list(self.servers):
            self.kill(name)


@pytest.fixture
def backends() -> Iterator[Backends]:
    made: list[Backends] = []

    def make(names: list[str]) -> Backends:
        b = Backends(names)
        made.append(b)
        return b

    yield make  # type: ignore[misc]
    for b in made:
        b.close()


def refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0
