"""balancekit.requests with a real requests.Session on real loopback servers."""

from __future__ import annotations

import time
from collections import Counter

import pytest

import balancekit
from balancekit.clients import BalancedPool

requests = pytest.importorskip("requests")
import balancekit.requests as bkrequests  # noqa: E402


def _session(pool: BalancedPool) -> requests.Session:
    session = requests.Session()
    session.mount("http://api/", bkrequests.Adapter(pool))
    return session


def test_spread_by_weight(backends) -> None:  # type: ignore[no-untyped-def]
    b = backends(["s1", "s2"])
    servers = [
        balancekit.Server("s1", b.address("s1"), weight=1),
        balancekit.Server("s2", b.address("s2"), weight=4),
    ]
    with BalancedPool(balancekit.Backend("api", servers)) as pool, _session(pool) as session:
        response = session.get("http://api/x?y=1")
        assert response.url == "http://api/x?y=1"
        seen = Counter([response.text] + [session.get("http://api/x").text for _ in range(49)])
    assert seen == {"s1": 10, "s2": 40}


def test_url_param_hashing(backends) -> None:  # type: ignore[no-untyped-def]
    b = backends(["a", "b", "c"])
    names = ["a", "b", "c"]

    def backend() -> balancekit.Backend:
        servers = [balancekit.Server(n, b.address(n)) for n in names]
        return balancekit.Backend("api", servers, balance="url_param user")

    reference = backend()
    with BalancedPool(backend()) as pool, _session(pool) as session:
        for user in ("alice", "bob", "carol", "dan", "eve"):
            want = reference.pick(balancekit.Request(path="/", query=f"user={user}")).name
            assert session.get(f"http://api/?user={user}").text == want


def test_killed_server_no_request_lost_ejected_then_back(backends) -> None:  # type: ignore[no-untyped-def]
    b = backends(["s1", "s2", "s3"])
    servers = [
        balancekit.Server(n, b.address(n), check=True, inter=0.1, rise=2, fall=2)
        for n in ("s1", "s2", "s3")
    ]
    with BalancedPool(balancekit.Backend("api", servers)) as pool, _session(pool) as session:
        assert {session.get("http://api/").text for _ in range(6)} == {"s1", "s2", "s3"}
        b.kill("s3")
        killed = time.monotonic()
        answers = [session.get("http://api/").text for _ in range(30)]
        assert len(answers) == 30 and "s3" not in answers  # none lost
        while pool.backend.state("s3") != "DOWN":
            assert time.monotonic() - killed < 2 * 0.1 + 0.5
            time.sleep(0.01)
        b.start("s3")
        back = time.monotonic()
        while pool.backend.state("s3") != "UP":
            assert time.monotonic() - back < 2 * 0.1 + 0.5
            time.sleep(0.01)
        assert Counter(session.get("http://api/").text for _ in range(9)) == {
            "s1": 3,
            "s2": 3,
            "s3": 3,
        }


def test_l7_retries_for_replayable_requests_only(backends) -> None:  # type: ignore[no-untyped-def]
    from balancekit.stream import RetryPolicy, parse_retry_on

    b = backends(["empty", "good"])
    b.servers["empty"].status = 0  # closes without answering
    servers = [balancekit.Server(n, b.address(n)) for n in ("empty", "good")]
    policy = RetryPolicy(3, -1, parse_retry_on(["conn-failure", "empty-response"]))
    backend = balancekit.Backend("api", servers, balance="static-rr")
    with BalancedPool(backend, retry_policy=policy) as pool, _session(pool) as session:

        def upload():  # type: ignore[no-untyped-def]
            yield b"streamed"  # not replayable

        with pytest.raises(requests.exceptions.ConnectionError):
            session.post("http://api/", data=upload())  # empty's turn: not replayed
        assert pool.stats()["retries"] == 0
        assert session.post("http://api/", data=b"x").text == "good"
        assert session.post("http://api/", data=b"x").text == "good"  # empty, replayed
        assert pool.stats()["retries"] == 1 and len(b.hits["empty"]) == 2
