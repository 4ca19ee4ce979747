"""Health checks under real traffic, through the real runtime and L7 proxy.

A backend is killed while clients keep sending requests: with `retries` and
`option redispatch` no client sees an error, the server is marked DOWN by its
checks, and from that moment the pool never hands it out again (asserted on
the order of events: every lease taken is compared with the health state at
that instant, not on timings).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from health_servers import ControlledHTTP
from runtime.runtime_harness import RuntimeThread


@pytest.fixture
def servers() -> Iterator[list[ControlledHTTP]]:
    started = [ControlledHTTP(200, body=f"s{i}").start() for i in (1, 2, 3)]
    yield started
    for srv in started:
        with contextlib.suppress(OSError):
            srv.stop()


def get(port: int, path: str = "/") -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_killed_server_under_load_zero_failures_and_no_lease_after_down(
    servers: list[ControlledHTTP],
) -> None:
    s1, s2, s3 = servers
    text = f"""
defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    retries 3
    option redispatch
frontend www
    bind 127.0.0.1:0
    default_backend app
backend app
    balance roundrobin
    option httpchk GET /health
    server s1 127.0.0.1:{s1.port} check inter 50 fall 2 rise 2
    server s2 127.0.0.1:{s2.port} check inter 50 fall 2 rise 2
    server s3 127.0.0.1:{s3.port} check inter 50 fall 2 rise 2
"""
    rt = RuntimeThread(text)
    try:
        pool = rt.config.backends["app"].backend
        monitor = rt.runtime.health  # type: ignore[attr-defined]
        leases: list[tuple[str | None, bool]] = []
        acquire = pool.acquire

        def spy(*args: Any, **kwargs: Any) -> Any:
            lease = acquire(*args, **kwargs)
            name = lease.server.name if lease.server is not None else None
            # Runs on the loop thread, as the monitor does: the state seen is exact.
            leases.append((name, monitor.health("app", "s1").up))
            return lease

        pool.acquire = spy  # type: ignore[method-assign]
        port = rt.port("www")
        statuses: list[int] = []
        errors: list[BaseException] = []
        killed = threading.Event()

        def client() -> None:
            try:
                for i in range(150):
                    statuses.append(get(port))
                    if i == 40:
                        killed.set()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        killed.wait(30)
        s1.die()  # dies under load: new connections are refused
        for t in threads:
            t.join(60)
        assert not errors
        assert len(statuses) == 600
        assert set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
        # The checks saw it die...
        assert not pool.member("s1").up
        assert any(line.startswith("Server app/s1 is DOWN") for line in rt.lines)
        # ...and once DOWN, no request was ever leased to it.
        after_down = [name for name, s1_up in leases if not s1_up]
        assert after_down, "traffic continued after the server was marked down"
        assert "s1" not in after_down
        # It comes back on the same port: rise checks later it takes traffic again.
        back = ControlledHTTP(200, body="s1", port=s1.port).start()
        try:

            async def until_up() -> None:
                async with asyncio.timeout(10):
                    while not pool.member("s1").up:
                        await asyncio.sleep(0.01)

            rt.run(until_up())
            seen = {get(port) for _ in range(9)}
            assert seen == {200}
            assert back.requests, "the recovered server got no traffic"
        finally:
            back.stop()
    finally:
        rt.close()


def test_server_answering_500_to_checks_is_drained_of_traffic(
    servers: list[ControlledHTTP],
) -> None:
    s1, s2, _ = servers
    text = f"""
defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
frontend www
    bind 127.0.0.1:0
    default_backend app
backend app
    option httpchk GET /health
    http-check expect status 200
    server s1 127.0.0.1:{s1.port} check inter 50 fall 2
    server s2 127.0.0.1:{s2.port} check inter 50 fall 2
"""
    rt = RuntimeThread(text)
    try:
        pool = rt.config.backends["app"].backend
        s1.status = 500  # health checks and traffic both get 500 from now on

        async def until_down() -> None:
            async with asyncio.timeout(10):
                while pool.member("s1").up:
                    await asyncio.sleep(0.01)

        rt.run(until_down())
        hits = len(s1.requests)
        port = rt.port("www")
        assert {get(port) for _ in range(10)} == {200}
        # Only health checks reached s1 since it went down; never a client request.
        assert all(r.startswith("GET /health") for r in s1.requests[hits:])
        line = next(x for x in rt.lines if x.startswith("Server app/s1 is DOWN"))
        assert ', reason: Layer7 wrong status, code: 500, info: "Internal Server Error"' in line
    finally:
        rt.close()
