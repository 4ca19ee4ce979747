"""The first request of a client connection goes out on a server connection of its own.

HAProxy 2.6's default `http-reuse safe` sends a session's first request over a new
server connection and reuses idle ones only for later requests.  balancekit once
reused an idle connection for every request; with a server that writes its head
and body in two writes (Python's `http.server`, many sync servers), Nagle on the
server and the delayed ACK of a reused connection then held every new client's
answer for ~40 ms (p50 44 ms against HAProxy's 0.7 ms).  A fresh connection is
ACKed at once, so reusing only for later requests removes the stall as well.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from l7_diff import BalancekitRun

from support.haproxy import HAProxy

CONFIG = """\
defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend web
    bind {bind}
    default_backend app
backend app
    server s1 127.0.0.1:{port}
"""


class _TwoWrites(BaseHTTPRequestHandler):
    """Head, then body, in two separate writes, as `http.server` apps often do."""

    protocol_version = "HTTP/1.1"
    server: _Backend

    def do_GET(self) -> None:
        body = b"hello\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.flush()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Backend(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _TwoWrites)
        self.connections = 0

    def verify_request(self, request: object, client_address: object) -> bool:
        self.connections += 1
        return True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a proxy closing an idle connection is ordinary here


@pytest.fixture
def backend() -> Iterator[_Backend]:
    server = _Backend()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _get(sock: socket.socket, close: bool) -> None:
    sock.sendall(
        b"GET / HTTP/1.1\r\nHost: a\r\n" + (b"Connection: close\r\n" if close else b"") + b"\r\n"
    )
    data = b""
    while not data.endswith(b"hello\n"):
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk


def _fresh_clients(port: int, count: int) -> list[float]:
    """`count` requests, each on a new client connection; their latencies in ms."""
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            _get(sock, close=True)
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def _one_client(port: int, count: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for _ in range(count):
            _get(sock, close=False)


@pytest.mark.haproxy
def test_each_new_client_gets_a_new_server_connection_like_haproxy(backend: _Backend) -> None:
    port = backend.server_address[1]
    seen = {}
    kit = BalancekitRun(CONFIG.format(bind="127.0.0.1:0", port=port))
    try:
        with HAProxy(CONFIG.format(bind="{listen:web}", port=port)) as haproxy:
            for name, proxy_port in (
                ("haproxy", haproxy.port("web")),
                ("balancekit", kit.port("web")),
            ):
                before = backend.connections
                _fresh_clients(proxy_port, 5)
                fresh = backend.connections - before
                before = backend.connections
                _one_client(proxy_port, 5)
                seen[name] = (fresh, backend.connections - before)
    finally:
        kit.close()
    # Five new clients: five server connections; one client's five requests: one.
    assert seen["balancekit"] == seen["haproxy"] == (5, 1)


def test_new_clients_are_not_held_by_the_delayed_ack_timer(backend: _Backend) -> None:
    """Not a speed test: a reused connection costs a fixed ~40 ms protocol stall (the
    delayed-ACK timer), a fresh one well under a millisecond here; the bound sits
    between the two with a wide margin either side."""
    kit = BalancekitRun(CONFIG.format(bind="127.0.0.1:0", port=backend.server_address[1]))
    try:
        _fresh_clients(kit.port("web"), 3)  # warm up: upstream connections now idle
        latencies = _fresh_clients(kit.port("web"), 20)
    finally:
        kit.close()
    assert statistics.median(latencies) < 20, latencies
