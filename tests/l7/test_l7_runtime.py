"""`balancekit-server` runs `mode http` frontends through `serve_frontend`: a soft stop
(SIGUSR1) lets a request in flight finish, closes idle keep-alive connections and
refuses new ones; counters see the traffic."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
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


@pytest.mark.parametrize(("options", "expected"), [
    ("option clitcpka", (1, 0)),
    ("option srvtcpka", (0, 1)),
    ("option tcpka", (1, 1)),
    ("", (0, 0)),
])  # fmt: skip
def test_tcp_keepalive_options_set_so_keepalive_on_each_side(
    options: str, expected: tuple[int, int]
) -> None:
    """`option clitcpka`/`srvtcpka`/`tcpka` in mode http, as in mode tcp."""
    with RawServer(slow_ok) as raw:
        text = config(raw.address).replace("defaults\n", f"defaults\n    {options}\n")
        kit = BalancekitRun(text)
        try:
            with socket.create_connection(("127.0.0.1", kit.port("web")), timeout=5) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                assert sock.recv(65536).endswith(b"ok")

                async def flags() -> tuple[int, int]:
                    (service,) = [s for s in kit.runtime.services if hasattr(s, "connections")]
                    (client,) = service.connections
                    (pool,) = next(iter(service.proxy._backends.values())).pools.values()
                    (upstream,) = pool._idle
                    return tuple(  # type: ignore[return-value]
                        t.get_extra_info("socket").getsockopt(
                            socket.SOL_SOCKET, socket.SO_KEEPALIVE
                        )
                        for t in (client.transport, upstream.transport)
                    )

                assert kit.thread.call(flags()) == expected
        finally:
            kit.close()
