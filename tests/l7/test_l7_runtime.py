"""`balancekit-server` runs `mode http` frontends through `serve_frontend`: a soft stop
(SIGUSR1) lets a request in flight finish, closes idle keep-alive connections and
refuses new ones; counters see the traffic."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from l7_diff import BalancekitRun
from l7_rawserver import RawServer, read_head

from support.client import http_request


def slow_ok(sock: socket.socket) -> None:
    while True:
        head, _ = read_head(sock)
        if not head:
            return
        if b"/slow" in head.split(b"\r\n")[0]:
            time.sleep(0.5)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


def config(address: str) -> str:
    return f"""
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s

frontend web
    bind 127.0.0.1:0
    default_backend app

backend app
    server s1 {address}
"""


def test_soft_stop_finishes_live_requests() -> None:
    with RawServer(slow_ok) as raw:
        kit = BalancekitRun(config(raw.address))
        try:
            port = kit.port("web")
            idle = socket.create_connection(("127.0.0.1", port), timeout=5)
            idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert idle.recv(65536).endswith(b"ok")  # now an idle keep-alive connection
            with ThreadPoolExecutor(1) as pool:
                live = pool.submit(http_request, port, "/slow")
                time.sleep(0.2)

                async def stop() -> None:
                    kit.runtime.soft_stop()

                kit.thread.call(stop())
                assert idle.recv(65536) == b""  # the idle connection was closed
                assert live.result().text == "ok"  # the live request finished
            refused = threading.Event()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
            except OSError:
                refused.set()
            assert refused.is_set()
            frontend = kit.runtime.registry.frontend("web")
            assert frontend.req_tot == 2 and frontend.hrsp_2xx == 2
            assert kit.runtime.registry.server("app", "s1").stot == 2
        finally:
            idle.close()
            kit.close()
