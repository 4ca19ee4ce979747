"""balancekit.httpx with real httpx clients on real loopback servers."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

import balancekit
from balancekit.clients import AsyncBalancedPool, BalancedPool

httpx = pytest.importorskip("httpx")
import balancekit.httpx as bkhttpx  # noqa: E402


def _servers(b, names, **kw):  # type: ignore[no-untyped-def]
    return [balancekit.Server(n, b.address(n), **kw) for n in names]


def test_spread_by_weight_and_host_kept(backends) -> None:  # type: ignore[no-untyped-def]
    b = backends(["s1", "s2", "s3"])
    servers = [
        balancekit.Server("s1", b.address("s1"), weight=2),
        balancekit.Server("s2", b.address("s2"), weight=1),
        balancekit.Server("s3", b.address("s3"), weight=3),
    ]
    with BalancedPool(balancekit.Backend("api", servers)) as pool:
        with httpx.Client(transport=bkhttpx.Transport(pool), base_url="http://api") as client:
            seen = Counter(client.get("/x").text for _ in range(60))
        assert pool.stats()["servers"]["s1"]["inflight"] == 0  # released at close
    assert seen == {"s1": 20, "s2": 10, "s3": 30}


def test_uri_and_url_param_hashing_read_the_request(backends) -> None:  # type: ignore[no-untyped-def]
    b = backends(["a", "b", "c"])
    for balance, urls in (
        ("uri", ["/p/1", "/p/2", "/p/3", "/q"]),
        ("url_param user", ["/?user=alice", "/?user=bob", "/?user=carol", "/?user=dan"]),
        ("hdr(X-User)", None),
    ):
        be = balancekit.Backend("api", _servers(b, ["a", "b", "c"]), balance=balance)
        expected = balancekit.Backend("ref", _servers(b, ["a", "b", "c"]), balance=balance)
        with (
            BalancedPool(be) as pool,
            httpx.Client(transport=bkhttpx.Transport(pool), base_url="http://api") as client,
        ):
            if urls is None:
                for user in ("u1", "u2", "u3", "u4", "u5"):
                    got = client.get("/", headers={"X-User": user}).text
                    want = expected.pick(balancekit.Request(path="/", headers={"X-User": user}))
                    assert got == want.name
                continue
            for url in urls:
                path, _, query = url.partition("?")
                want = expected.pick(balancekit.Request(path=path, query=query)).name
                assert client.get(url).text == want  # twice: the same server
                assert client.get(url).text == want


def test_killed_server_no_request_lost_ejected_then_back(backends) -> None:  # type: ignore[no-untyped-def]
    b = backends(["s1", "s2"])
    servers = _servers(b, ["s1", "s2"], check=True, inter=0.1, rise=2, fall=3)
    with (
        BalancedPool(balancekit.Backend("api", servers)) as pool,
        httpx.Client(transport=bkhttpx.Transport(pool), base_url="http://api") as client,
    ):
        assert {client.get("/").text for _ in range(4)} == {"s1", "s2"}  # keep-alive open
        b.kill("s1")
        killed = time.monotonic()
        answers = [client.get("/").text for _ in range(20)]
        assert answers == ["s2"] * 20  # none lost
        while pool.backend.state("s1") != "DOWN":
            assert time.monotonic() - killed < 3 * 0.1 + 0.5
            time.sleep(0.01)
        b.start("s1")
        back = time.monotonic()
        while pool.backend.state("s1") != "UP":
            assert time.monotonic() - back < 2 * 0.1 + 0.5
            time.sleep(0.01)
        assert Counter(client.get("/").text for _ in range(10)) == {"s1": 5, "s2": 5}


def test_passive_layer7_errors_eject(backends) -> None:  # type: ignore[no-untyped-def]
    b = backends(["good", "bad"])
    servers = [
        balancekit.Server("good", b.address("good")),
        balancekit.Server(
            "bad",
            b.address("bad"),
            check=True,
            inter=30,
            observe="layer7",
            error_limit=2,
            on_error="mark-down",
        ),
    ]
    b.servers["bad"].status = 503
    with (
        BalancedPool(balancekit.Backend("api", servers), checks=False) as pool,
        httpx.Client(transport=bkhttpx.Transport(pool), base_url="http://api") as client,
    ):
        statuses = [client.get("/").status_code for _ in range(6)]
        assert statuses.count(503) == 2  # two errors, then ejected
        assert pool.backend.state("bad") == "DOWN"


def test_async_transport_queue_and_retry(backends) -> None:  # type: ignore[no-untyped-def]
    b = backends(["s1", "s2"])
    servers = _servers(b, ["s1", "s2"], maxconn=1)

    async def main() -> tuple[Counter[str], int, list[str]]:
        async with (
            AsyncBalancedPool(balancekit.Backend("api", servers)) as pool,
            httpx.AsyncClient(
                transport=bkhttpx.AsyncTransport(pool), base_url="http://api"
            ) as client,
        ):
            # 10 at once through two maxconn-1 servers: 8 wait in the queue
            texts = await asyncio.gather(*(client.get("/") for _ in range(10)))
            peak = max(len(b.hits["s1"]), len(b.hits["s2"]))
            b.kill("s2")
            after = [(await client.get("/")).text for _ in range(6)]
            return Counter(r.text for r in texts), peak, after

    seen, peak, after = asyncio.run(main())
    assert sum(seen.values()) == 10 and set(seen) == {"s1", "s2"} and peak >= 5
    assert after == ["s1"] * 6  # s2 killed: every request retried on s1, none lost


def test_l7_retries_for_replayable_requests_only(backends) -> None:  # type: ignore[no-untyped-def]
    from balancekit.stream import RetryPolicy, parse_retry_on

    b = backends(["bad", "empty", "good"])
    b.servers["bad"].status = 503
    b.servers["empty"].status = 0  # closes without answering
    servers = [balancekit.Server(n, b.address(n)) for n in ("bad", "empty", "good")]
    policy = RetryPolicy(3, -1, parse_retry_on(["conn-failure", "empty-response", "503"]))
    with (
        BalancedPool(
            balancekit.Backend("api", servers, balance="static-rr"), retry_policy=policy
        ) as pool,
        httpx.Client(transport=bkhttpx.Transport(pool), base_url="http://api") as client,
    ):
        answers = [client.get("/").text for _ in range(6)]  # whole requests: replayable
        assert answers == ["good"] * 6
        tried = len(b.hits["bad"]) + len(b.hits["empty"])
        assert tried > 0 and pool.stats()["retries"] == tried  # each failure retried

    def upload():  # type: ignore[no-untyped-def]
        yield b"streamed body"  # not in memory: not replayable

    two = [balancekit.Server(n, b.address(n)) for n in ("bad", "good")]
    with (
        BalancedPool(
            balancekit.Backend("api", two, balance="static-rr"), retry_policy=policy
        ) as pool,
        httpx.Client(transport=bkhttpx.Transport(pool), base_url="http://api") as client,
    ):
        assert client.post("/", content=upload()).status_code == 503  # bad's answer, as is
        assert pool.stats()["retries"] == 0
        assert client.post("/", content=b"in memory").text == "good"
        response = client.post("/", content=b"in memory")  # bad first, replayed on good
        assert response.text == "good" and pool.stats()["retries"] == 1


@pytest.mark.parametrize("address", ["127.0.0.2:8081", "[::1]:9000", "10.0.0.1:80", "example.test"])
def test_the_server_url_is_what_copy_with_gives(address: str) -> None:
    """The fast re-pointing of a request URL agrees with httpx's own `copy_with`."""
    server = balancekit.Server("s", address)
    url = httpx.URL("http://api.internal/a%20b/c?x=1&y=%2F#frag")
    fast = bkhttpx._server_url(url, server)
    slow = url.copy_with(host=server.host, port=server.port)
    assert (fast.host, fast.port or 80, fast.raw_path, fast.fragment) == (
        slow.host,
        slow.port or 80,
        slow.raw_path,
        slow.fragment,
    )
    assert str(fast).replace(":80/", "/") == str(slow)
