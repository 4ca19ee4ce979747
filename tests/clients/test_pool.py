"""BalancedPool on real loopback servers: spread, queue, checks, passive checks, retries."""

from __future__ import annotations

import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

import balancekit
from balancekit.clients import BalancedPool, ConnectFailure, QueueTimeoutError
from balancekit.health import CheckStatus


def _get(server: balancekit.Server) -> str:
    try:
        with urllib.request.urlopen(f"http://{server.address}/", timeout=2) as resp:
            return str(resp.read().decode())
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ConnectionRefusedError):
            raise ConnectFailure("error", exc) from exc
        raise


def _wait(predicate, limit: float) -> float:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < limit, "condition not reached in time"
        time.sleep(0.01)
    return time.monotonic() - start


def test_spread_by_weight(backends) -> None:  # type: ignore[no-untyped-def]
    b = backends(["s1", "s2"])
    be = balancekit.Backend(
        "api",
        [
            balancekit.Server("s1", b.address("s1"), weight=3),
            balancekit.Server("s2", b.address("s2"), weight=1),
        ],
    )
    with BalancedPool(be) as pool:
        seen = Counter(pool.call(_get) for _ in range(40))
    assert seen == {"s1": 30, "s2": 10}


def test_killed_server_no_request_lost_ejected_and_back(backends) -> None:  # type: ignore[no-untyped-def]
    b = backends(["s1", "s2", "s3"])
    servers = [
        balancekit.Server(n, b.address(n), check=True, inter=0.1, rise=2, fall=2)
        for n in ("s1", "s2", "s3")
    ]
    with BalancedPool(balancekit.Backend("api", servers)) as pool:
        assert "checking" in repr(pool)
        b.kill("s2")
        killed = time.monotonic()
        answers = [pool.call(_get) for _ in range(30)]  # none lost: retried elsewhere
        assert len(answers) == 30 and "s2" not in answers
        _wait(lambda: pool.backend.state("s2") == "DOWN", 2 * 0.1 + 0.5)
        assert time.monotonic() - killed <= 2 * 0.1 + 0.5  # within fall x inter (+ slack)
        assert pool.stats()["servers"]["s2"]["check"] == "DOWN"
        b.start("s2")
        took = _wait(lambda: pool.backend.state("s2") == "UP", 2 * 0.1 + 0.5)
        assert took >= 0.1  # rise 2: not at the first passed check
        assert "s2" in {pool.call(_get) for _ in range(6)}


def test_http_checks_from_config(backends, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    b = backends(["a", "b"])
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n"
        "    timeout server 5s\n    timeout queue 200ms\n\n"
        "backend api\n    balance roundrobin\n    option redispatch\n    retries 2\n"
        "    option httpchk GET /health\n"
        f"    server a {b.address('a')} check inter 100ms rise 1 fall 1\n"
        f"    server b {b.address('b')} check inter 100ms rise 1 fall 1\n"
    )
    with BalancedPool.from_config(cfg, backend="api") as pool:
        assert pool.retry_policy.retries == 2 and pool.timeout_queue == 0.2
        b.servers["b"].status = 500  # the HTTP check fails: L7STS
        _wait(lambda: pool.backend.state("b") == "DOWN", 1.0)
        assert "/health" in b.hits["b"]
        assert {pool.call(_get) for _ in range(4)} == {"a"}
        b.servers["b"].status = 200
        _wait(lambda: pool.backend.state("b") == "UP", 1.0)


def test_http_check_expect_from_config(backends, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`http-check expect` judges the answer as the server's checker does: here a
    body check that only `good` passes, and a status check it then fails."""
    b = backends(["good", "other"])
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(
        "defaults\n    mode http\n    timeout connect 1s\n\n"
        "backend api\n    option httpchk GET /health\n"
        "    http-check expect string good\n"
        f"    server good {b.address('good')} check inter 100ms rise 1 fall 1\n"
        f"    server other {b.address('other')} check inter 100ms rise 1 fall 1\n"
    )
    with BalancedPool.from_config(cfg, backend="api") as pool:
        _wait(lambda: pool.backend.state("other") == "DOWN", 1.0)
        assert pool.backend.state("good") == "UP"
        result = pool.probe(pool.backend.member("other").server)
        assert result.status is CheckStatus.L7RSP
        assert result.info == "HTTP content check did not match"
        assert {pool.call(_get) for _ in range(4)} == {"good"}
    cfg.write_text(cfg.read_text().replace("expect string good", "expect status 204"))
    with BalancedPool.from_config(cfg, backend="api") as pool:
        result = pool.probe(pool.backend.member("good").server)
        assert (result.status, result.code) == (CheckStatus.L7STS, 200)


def test_maxconn_queue_fifo_and_timeout() -> None:
    be = balancekit.Backend("q", [balancekit.Server("s", "127.0.0.1:1", maxconn=1)])
    pool = BalancedPool(be, timeout_queue=0.1)
    first = pool.acquire()
    with pytest.raises(QueueTimeoutError):
        pool.acquire()
    assert pool.stats()["queue_timeouts"] == 1 and pool.stats()["queued"] == 0
    order: list[int] = []

    def waiter(i: int) -> None:
        lease = pool.acquire(timeout=5)
        order.append(i)
        pool.release(lease)

    threads = []
    for i in range(3):
        t = threading.Thread(target=waiter, args=(i,))
        t.start()
        threads.append(t)
        _wait(lambda i=i: pool.backend.queued == i + 1, 1.0)
    assert "queued=3" in repr(pool)
    pool.release(first)
    for t in threads:
        t.join(2)
    assert order == [0, 1, 2]
    pool.close()


def test_passive_checks_mark_down_on_errors() -> None:
    servers = [
        balancekit.Server(
            "bad",
            "127.0.0.1:1",
            check=True,
            inter=60,
            observe="layer7",
            error_limit=3,
            on_error="mark-down",
        ),
        balancekit.Server("good", "127.0.0.1:2"),
    ]
    pool = BalancedPool(balancekit.Backend("p", servers, balance="static-rr"), checks=False)
    for _ in range(2):
        pool.observe("bad", 503)
    assert pool.backend.state("bad") == "UP"
    pool.observe("bad", 200)  # a good answer resets the count
    for _ in range(3):
        pool.observe("bad", 502)
    assert pool.backend.state("bad") == "DOWN"
    assert pool.stats()["servers"]["bad"]["hanafail"] == 1


def test_gives_up_when_every_server_refuses(backends) -> None:  # type: ignore[no-untyped-def]
    b = backends(["x", "y"])
    servers = [balancekit.Server(n, b.address(n)) for n in ("x", "y")]
    b.kill("x")
    b.kill("y")
    pool = BalancedPool(balancekit.Backend("p", servers), timeout_connect=0.01)
    with pytest.raises(balancekit.NoServerAvailable, match="gave up after 3 retries"):
        pool.call(_get)
    stats = pool.stats()
    assert stats["retries"] == 3 and stats["failed_connects"] == 1
    assert stats["servers"]["x"]["inflight"] == 0 and stats["servers"]["y"]["inflight"] == 0


@pytest.mark.parametrize(
    ("balance", "expected"),
    [
        # A non-hash algorithm with another server up redispatches at once.
        ("roundrobin", ["first", "other"]),
        # A hash stays on its server until the last retry (`option redispatch -1`),
        # which a consistent ring can steer elsewhere.
        ("uri", ["first", "first", "first", "other"]),
    ],
)
def test_a_failed_first_try_continues_under_the_retry_policy(
    balance: str, expected: list[str]
) -> None:
    """`attempt` tries once without the stream policy; a connect failure is then
    replayed into it, which decides as HAProxy's stream_choose_redispatch does."""
    servers = [balancekit.Server(n, f"127.0.0.1:{i}") for i, n in enumerate(("x", "y"), 1)]
    pool = BalancedPool(balancekit.Backend("p", servers, balance=balance, hash_type="consistent"))
    tried: list[str] = []

    def fn(server: balancekit.Server) -> str:
        tried.append(server.name)
        if server.name == tried[0]:
            raise ConnectFailure("error")
        return server.name

    result, lease = pool.attempt(fn, balancekit.Request(path="/some/page"))
    pool.release(lease, "ok")
    first = tried[0]
    assert [("first" if name == first else "other") for name in tried] == expected
    assert result != first
    stats = pool.stats()
    assert stats["retries"] == len(expected) - 1 and stats["redispatches"] == 1
    assert stats["servers"]["x"]["inflight"] == 0 and stats["servers"]["y"]["inflight"] == 0
    assert pool.backend.member(first).lbtot == 1  # picked once, retried on without a pick


def test_slowstart_ramps_weight_after_coming_back() -> None:
    server = balancekit.Server("s", "127.0.0.1:1", check=True, rise=1, fall=1, slowstart=10)
    now = [0.0]
    pool = BalancedPool(
        balancekit.Backend("p", [server, balancekit.Server("t", "127.0.0.1:2")]),
        checks=False,
        clock=lambda: now[0],
    )
    from balancekit.health import CheckResult, CheckStatus

    pool.record("s", CheckResult(CheckStatus.L4CON))
    assert pool.backend.state("s") == "DOWN"
    now[0] = 1.0
    pool.record("s", CheckResult(CheckStatus.L4OK))
    assert pool.backend.state("s") == "UP"
    assert pool.stats()["servers"]["s"]["ramp"] < 0.01


def test_async_pool_queue_fifo_and_timeout() -> None:
    import asyncio

    from balancekit.clients import AsyncBalancedPool

    async def main() -> list[int]:
        be = balancekit.Backend("q", [balancekit.Server("s", "127.0.0.1:1", maxconn=1)])
        async with AsyncBalancedPool(be, timeout_queue=0.05) as pool:
            first = await pool.acquire()
            with pytest.raises(QueueTimeoutError):
                await pool.acquire()
            assert pool.backend.queued == 0
            order: list[int] = []

            async def waiter(i: int) -> None:
                async with pool.lease():
                    order.append(i)

            pool.timeout_queue = 5
            tasks = [asyncio.create_task(waiter(i)) for i in range(3)]
            while pool.backend.queued < 3:
                await asyncio.sleep(0.001)
            pool.release(first)
            await asyncio.gather(*tasks)
            return order

    assert asyncio.run(main()) == [0, 1, 2]
