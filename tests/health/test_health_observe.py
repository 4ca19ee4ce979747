"""Passive checks (`observe layer7|layer4`) fed by real traffic through the runtime."""

from __future__ import annotations

import asyncio
import http.client
import socket

from health_servers import ControlledHTTP, closed_port
from runtime.runtime_harness import RuntimeThread

from balancekit.health import CheckStatus


def get(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_layer7_errors_on_traffic_mark_the_server_down() -> None:
    bad = ControlledHTTP(503).start()
    good = ControlledHTTP(200).start()
    text = f"""
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend www
    bind 127.0.0.1:0
    default_backend app
backend app
    balance roundrobin
    server s1 127.0.0.1:{bad.port} check inter 30s observe layer7 error-limit 3 on-error mark-down
    server s2 127.0.0.1:{good.port} check inter 30s
"""
    rt = RuntimeThread(text)
    try:
        pool = rt.config.backends["app"].backend
        port = rt.port("www")
        statuses = [get(port) for _ in range(6)]  # round robin: three reach s1 and fail
        assert statuses.count(503) == 3
        assert not pool.member("s1").up  # the third error fired mark-down, no check ran
        line = next(x for x in rt.lines if x.startswith("Server app/s1 is DOWN"))
        assert line.startswith(
            'Server app/s1 is DOWN, reason: Health analyze, info: "Detected 3 consecutive '
            'errors, last one was: Wrong http response". 1 active and 0 backup servers left.'
        )
        assert {get(port) for _ in range(6)} == {200}
        monitor = rt.runtime.health  # type: ignore[attr-defined]
        assert monitor.health("app", "s1").last_result.status is CheckStatus.HANA
    finally:
        rt.close()
        bad.stop()
        good.stop()


def test_layer4_connection_errors_mark_a_tcp_server_down() -> None:
    dead = closed_port()
    echo = socket.socket()
    echo.bind(("127.0.0.1", 0))
    echo.listen(16)

    async def serve_echo() -> None:
        loop = asyncio.get_running_loop()
        echo.setblocking(False)
        tasks: set[asyncio.Task[None]] = set()
        while True:
            conn, _ = await loop.sock_accept(echo)
            task = loop.create_task(_echo(loop, conn))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    async def _echo(loop: asyncio.AbstractEventLoop, conn: socket.socket) -> None:
        with conn:
            while data := await loop.sock_recv(conn, 4096):
                await loop.sock_sendall(conn, data)

    text = f"""
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    retries 1
    option redispatch
listen relay
    bind 127.0.0.1:0
    balance roundrobin
    server s1 127.0.0.1:{dead} check inter 30s observe layer4 error-limit 2 on-error mark-down
    server s2 127.0.0.1:{echo.getsockname()[1]}
"""
    rt = RuntimeThread(text)
    task = asyncio.run_coroutine_threadsafe(serve_echo(), rt.loop)
    try:
        pool = rt.config.backends["relay"].backend
        monitor = rt.runtime.health  # type: ignore[attr-defined]
        # The first check already found s1 dead at startup (servers start at rise):
        # bring it back by hand so only traffic can mark it down again.

        async def revive() -> None:
            async with asyncio.timeout(10):
                while monitor.health("relay", "s1").last_result is None:
                    await asyncio.sleep(0.01)
            monitor.force_health("relay", "s1", True)

        rt.run(revive())
        assert pool.member("s1").up
        port = rt.port("relay")
        for _ in range(6):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
                client.sendall(b"ping")
                assert client.recv(10) == b"ping"  # retried/redispatched to s2
            if not pool.member("s1").up:
                break
        assert not pool.member("s1").up
        assert any(
            "Detected 2 consecutive errors, last one was: L4 unsuccessful connection" in x
            for x in rt.lines
        )
    finally:
        task.cancel()
        rt.close()
        echo.close()
