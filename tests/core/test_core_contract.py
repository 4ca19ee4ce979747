"""Every registered algorithm through the same cases (the uvicorn-style contract)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

import balancekit as bk
from balancekit.algorithms import ALGORITHM_MODULES, algorithm_class

BALANCE_LINES = {"url_param": "url_param uid", "hdr": "hdr(x-user)"}
HASHING = {"source", "uri", "url_param", "hdr"}
CASES = [
    (BALANCE_LINES.get(keyword, keyword), hash_type)
    for keyword in ALGORITHM_MODULES
    for hash_type in (
        ["map-based", "consistent", "maglev"] if keyword in HASHING else ["map-based"]
    )
]
IDS = [f"{balance}-{hash_type}" for balance, hash_type in CASES]


def request(k: int) -> bk.Request:
    address = random.Random(k).getrandbits(32)
    return bk.Request(
        src=".".join(str(address >> shift & 255) for shift in (24, 16, 8, 0)),
        path=f"/obj/{k}",
        query=f"uid={k}",
        headers={"x-user": f"user-{k}"},
    )


def make(balance: str, hash_type: str, weights: list[int], **options: object) -> bk.Backend:
    servers = [
        bk.Server(f"s{i + 1}", f"127.0.0.1:{8000 + i}", weight=w) for i, w in enumerate(weights)
    ]
    return bk.Backend(
        "be", servers, balance=balance, hash_type=hash_type, rng=random.Random(7), **options
    )  # type: ignore[arg-type]


def test_every_keyword_is_registered_under_its_name() -> None:
    for keyword in ALGORITHM_MODULES:
        assert algorithm_class(keyword).keyword == keyword


@pytest.mark.parametrize(("balance", "hash_type"), CASES, ids=IDS)
def test_weight_zero_is_never_picked(balance: str, hash_type: str) -> None:
    be = make(balance, hash_type, [1, 0, 2])
    assert "s2" not in {be.pick(request(k)).name for k in range(300)}


@pytest.mark.parametrize(("balance", "hash_type"), CASES, ids=IDS)
def test_no_usable_server_names_the_backend(balance: str, hash_type: str) -> None:
    be = make(balance, hash_type, [1, 1])
    be.set_state("s1", "maint")
    be.set_health("s2", False)
    assert not be.usable
    with pytest.raises(bk.NoServerAvailable, match="'be'"):
        be.pick(request(1))
    with pytest.raises(bk.NoServerAvailable, match="'be'"):
        be.acquire(request(1))


@pytest.mark.parametrize(("balance", "hash_type"), CASES, ids=IDS)
def test_drain_and_maint_take_no_new_traffic(balance: str, hash_type: str) -> None:
    be = make(balance, hash_type, [1, 1, 1])
    be.set_state("s1", "drain")
    be.set_state("s2", "maint")
    assert be.state("s1") == "DRAIN"
    assert be.state("s2") == "MAINT"
    assert {be.pick(request(k)).name for k in range(100)} == {"s3"}
    be.set_state("s1", "ready")
    assert "s1" in {be.pick(request(k)).name for k in range(200)}


@pytest.mark.parametrize(("balance", "hash_type"), CASES, ids=IDS)
def test_nolb_takes_only_persistent_traffic(balance: str, hash_type: str) -> None:
    """HAProxy's SRV_ST_STOPPING: no pick, but a cookie or stick entry still reaches it."""
    be = make(balance, hash_type, [1, 1, 1])
    be.set_stopping("s1", True)
    assert be.state("s1") == "NOLB"
    assert {be.pick(request(k)).name for k in range(100)} <= {"s2", "s3"}
    lease = be.acquire(request(0), server="s1")
    assert lease.granted and lease.server.name == "s1"
    be.release(lease)
    be.set_stopping("s1", False)
    assert "s1" in {be.pick(request(k)).name for k in range(200)}


def _with_backups(balance: str, hash_type: str, allbackups: bool) -> bk.Backend:
    servers = [
        bk.Server("a1", "127.0.0.1:9001"),
        bk.Server("b1", "127.0.0.1:9002", backup=True),
        bk.Server("b2", "127.0.0.1:9003", backup=True),
        bk.Server("b3", "127.0.0.1:9004", backup=True),
    ]
    return bk.Backend(
        "be",
        servers,
        balance=balance,
        hash_type=hash_type,
        allbackups=allbackups,
        rng=random.Random(3),
    )


@pytest.mark.parametrize(("balance", "hash_type"), CASES, ids=IDS)
def test_backups_only_when_no_active_server(balance: str, hash_type: str) -> None:
    be = _with_backups(balance, hash_type, allbackups=False)
    assert {be.pick(request(k)).name for k in range(100)} == {"a1"}
    be.set_state("a1", "maint")
    assert {be.pick(request(k)).name for k in range(100)} == {"b1"}
    be.set_state("b1", "maint")
    assert {be.pick(request(k)).name for k in range(100)} == {"b2"}
    be.set_state("a1", "ready")
    assert {be.pick(request(k)).name for k in range(100)} == {"a1"}


@pytest.mark.parametrize(("balance", "hash_type"), CASES, ids=IDS)
def test_allbackups_balances_over_every_backup(balance: str, hash_type: str) -> None:
    be = _with_backups(balance, hash_type, allbackups=True)
    be.set_state("a1", "maint")
    picked = {be.pick(request(k)).name for k in range(600)}
    expected = {"b1"} if balance == "first" else {"b1", "b2", "b3"}
    assert picked == expected


SPREAD_CASES = [(b, h) for b, h in CASES if b != "first"]


@pytest.mark.parametrize(("balance", "hash_type"), SPREAD_CASES, ids=lambda v: str(v))
def test_even_spread(balance: str, hash_type: str) -> None:
    be = make(balance, hash_type, [1, 1, 1])
    counts = Counter(be.pick(request(k)).name for k in range(3000))
    for name in ("s1", "s2", "s3"):
        assert abs(counts[name] / 3000 - 1 / 3) < 0.08, counts


WEIGHTED_CASES = [(b, h) for b, h in SPREAD_CASES if b != "leastconn"]


@pytest.mark.parametrize(("balance", "hash_type"), WEIGHTED_CASES, ids=lambda v: str(v))
def test_spread_follows_weights(balance: str, hash_type: str) -> None:
    """(leastconn weighs in-flight requests: with `pick` alone nothing is in flight,
    so idle servers simply take turns, as HAProxy does with sequential requests.)"""
    be = make(balance, hash_type, [1, 2, 1])
    counts = Counter(be.pick(request(k)).name for k in range(4000))
    for name, share in (("s1", 0.25), ("s2", 0.5), ("s3", 0.25)):
        assert abs(counts[name] / 4000 - share) < 0.1, counts


def test_first_fills_the_lowest_id() -> None:
    be = make("first", "map-based", [1, 2, 1])
    assert {be.pick(request(k)).name for k in range(50)} == {"s1"}


AVOID_CASES = [
    (b, h) for b, h in CASES if not (h == "map-based" and b.split()[0].split("(")[0] in HASHING)
]


@pytest.mark.parametrize(("balance", "hash_type"), AVOID_CASES, ids=lambda v: str(v))
def test_avoid_steps_over_a_server_unless_it_is_the_only_one(balance: str, hash_type: str) -> None:
    be = make(balance, hash_type, [1, 1, 1])
    assert "s2" not in {be.pick(request(k), avoid="s2").name for k in range(200)}
    be.set_state("s1", "maint")
    be.set_state("s3", "maint")
    assert be.pick(request(1), avoid="s2").name == "s2"


@pytest.mark.parametrize("balance", ["source", "uri", "url_param uid", "hdr(x-user)"])
def test_map_based_hashing_ignores_avoid_like_haproxy(balance: str) -> None:
    """map_get_server_hash has no avoid parameter: a retry lands on the same server."""
    be = make(balance, "map-based", [1, 1, 1])
    for k in range(50):
        chosen = be.pick(request(k)).name
        assert be.pick(request(k), avoid=chosen).name == chosen


def test_bad_arguments_name_the_bad_value() -> None:
    with pytest.raises(ValueError, match="300"):
        bk.Server("s", "127.0.0.1:1", weight=300)
    with pytest.raises(ValueError, match="'bogus'"):
        bk.Backend("be", [bk.Server("s", "127.0.0.1:1")], balance="bogus")
    with pytest.raises(ValueError, match="'sha1'"):
        bk.Backend("be", [bk.Server("s", "127.0.0.1:1")], hash_type="consistent sha1")
    with pytest.raises(ValueError, match="999"):
        bk.Backend("be", [bk.Server("s", "127.0.0.1:1")]).set_weight("s", 999)


@pytest.mark.parametrize("balance", ["static-rr", "uri"])
def test_static_algorithms_refuse_other_weights(balance: str) -> None:
    be = make(balance, "map-based", [2, 1])
    with pytest.raises(ValueError, match="static"):
        be.set_weight("s1", 3)
    be.set_weight("s1", "0%")
    assert be.get_weight("s1") == (0, 2)
    be.set_weight("s1", "100%")
    assert be.get_weight("s1") == (2, 2)


def test_default_algorithm_is_roundrobin_and_the_issue_example_works() -> None:
    be = bk.Backend(
        "be",
        [bk.Server("s1", "127.0.0.1:5001", weight=2), bk.Server("s2", "127.0.0.1:5002")],
        balance="uri",
        hash_type="consistent",
    )
    s = be.pick(
        bk.Request(
            src="10.0.0.1", method="GET", path="/a/b", query="x=1", headers={"user-agent": "curl"}
        )
    )
    assert s.name in ("s1", "s2")
    be.set_state("s1", "maint")
    be.set_weight("s2", 3)
    assert be.pick(bk.Request(path="/a/b")).name == "s2"
    assert bk.Backend("d", [bk.Server("x", "127.0.0.1:1")]).balance.algorithm == "roundrobin"


def test_pick_says_when_servers_are_full_rather_than_down() -> None:
    be = bk.Backend("be", [bk.Server("s1", "127.0.0.1:1", maxconn=1)])
    be.acquire()
    with pytest.raises(bk.NoServerAvailable, match="'be': every usable server is at maxconn"):
        be.pick()


@pytest.mark.parametrize(("balance", "hash_type"), CASES, ids=IDS)
def test_set_maxconn_grants_waiters_when_raised_and_holds_new_ones_when_lowered(
    balance: str, hash_type: str
) -> None:
    """`set maxconn server`: HAProxy dequeues at once when the limit rises."""
    be = make(balance, hash_type, [1])
    name = be.servers[0].name
    be.set_maxconn(name, 1)
    first = be.acquire(request(1))
    waiting = [be.acquire(request(k)) for k in (2, 3)]
    assert first.server is not None and all(lease.queued for lease in waiting)
    woken = be.set_maxconn(name, 3)
    assert woken == waiting and all(lease.server is not None for lease in waiting)
    assert be.member(name).server.maxconn == 3
    be.set_maxconn(name, 2)  # three in flight stay; the next one waits
    assert be.acquire(request(4)).queued
    for lease in [first, *waiting]:
        be.release(lease)


@pytest.mark.parametrize("mode", ["http", "tcp"])
@pytest.mark.parametrize(("balance", "hash_type"), CASES, ids=IDS)
def test_needs_request_says_whether_picks_depend_on_the_request(
    balance: str, hash_type: str, mode: str
) -> None:
    """A front end passes no request when `needs_request` is False: the picks must
    then be the ones the request would have got."""
    with_request = make(balance, hash_type, [1, 2, 3], mode=mode)
    without = make(balance, hash_type, [1, 2, 3], mode=mode)
    picked = [with_request.acquire(request(k)).server for k in range(60)]
    blind = [without.acquire(None).server for _ in range(60)]
    assert with_request.needs_request is (picked != blind)
    keyword = with_request.balance.algorithm
    assert with_request.needs_request is (
        keyword == "source" or (mode, keyword in HASHING) == ("http", True)
    )


def test_server_moves_and_shutdowns_reach_the_watchers() -> None:
    be = bk.Backend("be", [bk.Server("s1", "127.0.0.1:80"), bk.Server("s2", "127.0.0.1:81")])
    moved: list[tuple[str, str]] = []
    be.watch_servers(lambda event, name: moved.append((event, name)))
    be.set_address("s1", "::1", 8080)
    be.set_address("s2", "127.0.0.9", None)
    assert (be.member("s1").server.host, be.member("s1").server.port) == ("::1", 8080)
    assert (be.member("s2").server.host, be.member("s2").server.port) == ("127.0.0.9", None)
    be.shutdown_sessions("s2")
    assert moved == [("moved", "s1"), ("moved", "s2"), ("shutdown", "s2")]
    assert be.acquire().server is be.member("s1").server  # leases hand out the moved server


def test_on_marked_down_and_up_tell_the_watchers_whose_sessions_to_cut() -> None:
    """HAProxy's srv_update_status: a server that stops (checks or maintenance, not
    drain) cuts its own sessions; an active one that starts again with a weight
    cuts every backup's. Servers without the options say nothing."""
    be = bk.Backend(
        "be",
        [
            bk.Server("a", "127.0.0.1:80", shutdown_on_down=True, shutdown_backups_on_up=True),
            bk.Server("plain", "127.0.0.1:81"),
            bk.Server("b1", "127.0.0.1:82", backup=True, shutdown_backups_on_up=True),
            bk.Server("b2", "127.0.0.1:83", backup=True),
        ],
    )
    heard: list[tuple[str, str]] = []
    be.watch_servers(lambda event, name: heard.append((event, name)))
    be.set_state("a", "drain")  # still running
    be.set_state("a", "maint")
    be.set_health("a", False)  # already stopped: nothing new
    be.set_state("a", "ready")  # down by its checks: still stopped
    assert heard == [("marked-down", "a")]
    be.set_health("a", True)
    assert heard[1:] == [("marked-up", "b1"), ("marked-up", "b2")]
    be.set_health("plain", False)
    be.set_health("plain", True)
    be.set_health("b1", False)
    be.set_health("b1", True)  # a backup coming up cuts nothing
    be.set_weight("a", 0)
    be.set_health("a", False)
    be.set_health("a", True)  # back, but with no weight: the backups keep theirs
    assert heard[3:] == [("marked-down", "a")]


@pytest.mark.parametrize(("balance", "hash_type"), CASES, ids=IDS)
def test_servers_added_and_removed_at_run_time(balance: str, hash_type: str) -> None:
    """`add server` / `del server`: the new server starts in maintenance, serves
    once ready, and goes only from maintenance with nothing in flight; leases
    taken before either change are released cleanly."""
    be = make(balance, hash_type, [1, 1])
    if not be.algorithm.dynamic:
        with pytest.raises(ValueError, match="cannot take servers at run time"):
            be.add_server(bk.Server("s9", "127.0.0.1:9009"))
        return
    held = be.acquire(request(1))
    be.add_server(bk.Server("s9", "127.0.0.1:9009"))
    assert be.state("s9") == "MAINT" and be.member("s9").puid == 3
    assert "s9" not in {be.pick(request(k)).name for k in range(200)}
    be.set_state("s9", "ready")
    be.set_state("s1", "maint")
    be.set_state("s2", "maint")
    assert {be.pick(request(k)).name for k in range(50)} == {"s9"}
    be.release(held)
    with pytest.raises(ValueError, match="not in maintenance"):
        be.remove_server("s9")
    busy = be.acquire(request(2))
    assert busy.server is not None and busy.server.name == "s9"
    be.set_state("s9", "maint")
    with pytest.raises(ValueError, match="still has connections"):
        be.remove_server("s9")
    be.release(busy)
    be.remove_server("s9")
    be.set_state("s1", "ready")
    be.set_state("s2", "ready")
    expected = {"s1"} if balance == "first" else {"s1", "s2"}  # first: the first with room
    assert {be.pick(request(k)).name for k in range(200)} == expected
    assert [m.index for m in be.members] == [0, 1]


def test_usable_servers_counts_as_haproxys_nbsrv() -> None:
    """be_usable_srv: active servers taking traffic, else 1 for the first usable
    backup, or every usable backup with `option allbackups`."""
    servers = [
        bk.Server("a1", "127.0.0.1:80"),
        bk.Server("a2", "127.0.0.1:81"),
        bk.Server("b1", "127.0.0.1:82", backup=True),
        bk.Server("b2", "127.0.0.1:83", backup=True),
    ]
    for allbackups, backups_only in ((False, 1), (True, 2)):
        be = bk.Backend("be", servers, allbackups=allbackups)
        assert be.usable_servers == 2
        be.set_state("a1", "drain")  # draining takes no new traffic
        assert be.usable_servers == 1
        be.set_health("a2", False)
        assert be.usable_servers == backups_only
        be.set_stopping("b1", True)  # NOLB: not usable either
        be.set_state("b2", "maint")
        assert be.usable_servers == 0
