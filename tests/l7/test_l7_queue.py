"""Server `maxconn` holds over HTTP: excess requests wait in the backend queue (FIFO)
and get 503 when `timeout queue` expires first."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from l7_harness import to
from l7_rawserver import RawServer, read_head

from balancekit import Backend, Server
from balancekit.config import BackendRuntime
from support.client import http_request


class Slow:
    """Answers after `delay`, counting how many requests it holds at once."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.current = 0
        self.peak = 0
        self.lock = threading.Lock()

    def __call__(self, sock: socket.socket) -> None:
        while True:
            head, _ = read_head(sock)
            if not head:
                return
            with self.lock:
                self.current += 1
                self.peak = max(self.peak, self.current)
            time.sleep(self.delay)
            with self.lock:
                self.current -= 1
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


def test_maxconn_queues_requests(fast: Any) -> None:
    slow = Slow(0.2)
    with RawServer(slow) as raw:
        backend = Backend("app", [Server("s1", raw.address, maxconn=1)], "roundrobin")
        proxy = fast(to("app"), {"app": BackendRuntime("app", "http", backend, timeout_queue=10)})
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: http_request(proxy.port, "/"), range(4)))
    assert [a.status for a in answers] == [200] * 4
    assert slow.peak == 1
    assert max(entry.tw for entry in proxy.logs) > 0  # someone waited in the queue


def test_timeout_queue_is_503(fast: Any) -> None:
    slow = Slow(1.0)
    with RawServer(slow) as raw:
        backend = Backend("app", [Server("s1", raw.address, maxconn=1)], "roundrobin")
        settings = BackendRuntime("app", "http", backend, timeout_queue=0.2)
        proxy = fast(to("app"), {"app": settings})
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(http_request, proxy.port, "/")
            time.sleep(0.1)
            second = http_request(proxy.port, "/")
            assert first.result().status == 200
    assert second.status == 503
    assert any(entry.termination == "sQ" for entry in proxy.logs)
