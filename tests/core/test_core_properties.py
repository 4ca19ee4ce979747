"""Properties of the algorithms, checked with hypothesis over random configs and
operation sequences."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

import balancekit as bk
from balancekit.algorithms._fwrr import NONE, FwrrModel
from balancekit.algorithms._map import build_map
from balancekit.algorithms.roundrobin import RoundRobin

weights_st = st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=7)


def backend(weights: list[int], balance: str, **kwargs: object) -> bk.Backend:
    servers = [bk.Server(f"s{i}", f"127.0.0.1:{6000 + i}", weight=w) for i, w in enumerate(weights)]
    return bk.Backend("be", servers, balance=balance, **kwargs)  # type: ignore[arg-type]


# -- the fast structures equal the literal algorithms ----------------------------------


def literal_map(weights: list[int], tot: int) -> list[int]:
    """recalc_server_map as written: every slot, every server adds its weight."""
    scores = [0] * len(weights)
    table = []
    for _ in range(tot):
        best, best_value = -1, 0
        for i, weight in enumerate(weights):
            if tot == 1:
                best = i
                break
            scores[i] += weight
            value = int((scores[i] + tot) / tot)  # C division truncates
            if best < 0 or value > best_value:
                best, best_value = i, value
        table.append(best)
        scores[best] -= tot
    return table


@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=8), st.data())
def test_server_map_equals_the_literal_algorithm(weights: list[int], data: st.DataObject) -> None:
    be = backend(weights, "static-rr")
    group = list(be.members)
    for member, weight in zip(group, weights, strict=True):
        member.eweight = weight
    # tot may differ from the sum (HAProxy's single-backup case uses fbck's weight).
    tot = data.draw(st.sampled_from([sum(weights), weights[0]]))
    table = build_map(group, tot)
    assert [m.index for m in table] == literal_map(weights, tot)


runtime_op = st.tuples(
    st.integers(min_value=0, max_value=6),
    st.sampled_from(["weight", "maint", "ready", "drain", "down", "up"]),
    st.integers(min_value=0, max_value=9),
    st.integers(min_value=1, max_value=60),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=9), min_size=1, max_size=6),
    st.lists(runtime_op, max_size=6),
)
def test_precomputed_roundrobin_equals_the_tree_model(
    weights: list[int], ops: list[tuple[int, str, int, int]]
) -> None:
    """The schedule (and its restore-from-checkpoint path) never departs from a
    model stepped one request at a time."""
    be = backend(weights, "roundrobin")
    algorithm = be.algorithm
    assert isinstance(algorithm, RoundRobin)
    reference = FwrrModel(be.members, allbackups=False)
    reference.init()

    def step(count: int) -> None:
        for _ in range(count):
            got = algorithm.pick(None)
            index = reference.next_server(NONE)
            assert (got.index if got else NONE) == index

    def until_scheduled() -> None:
        for _ in range(20_000):
            if not algorithm._live:
                return
            step(1)

    step(70)
    until_scheduled()
    for server, action, weight, count in ops:
        if server >= len(weights):
            continue
        name = f"s{server}"
        if action == "weight":
            be.set_weight(name, weight)
        elif action in ("maint", "ready", "drain"):
            be.set_state(name, action)
        else:
            be.set_health(name, action == "up")
        reference.update(server)
        step(count)
        until_scheduled()
        step(count)


def literal_closest(keys: list[int], owners: list[str], h: int) -> str:
    nxt = bisect_left(keys, h)
    if nxt == len(keys):
        nxt = 0
    prev = nxt - 1 if nxt else len(keys) - 1
    if (h - keys[prev]) & 0xFFFFFFFF <= (keys[nxt] - h) & 0xFFFFFFFF:
        nxt = prev
    return owners[nxt]


@settings(max_examples=40, deadline=None)
@given(weights_st, st.lists(st.integers(min_value=0, max_value=2**32 - 1), max_size=200))
def test_ring_bounds_equal_the_closest_point_rule(weights: list[int], hashes: list[int]) -> None:
    be = backend(weights, "uri", hash_type="consistent")
    ring = be.algorithm.lookup  # type: ignore[attr-defined]
    tree = ring.trees[0]
    if not tree.keys:
        return
    edges = [0, 2**32 - 1, *tree.keys, *(k + 1 for k in tree.keys), *(k - 1 for k in tree.keys)]
    for h in [*hashes, *(e & 0xFFFFFFFF for e in edges)]:
        expected = literal_closest(tree.keys, [m.name for m in tree.owners], h)
        assert ring.get_hash(h, None).name == expected


# -- distribution properties ------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(weights_st.filter(lambda ws: any(ws)))
def test_static_rr_exact_over_each_cycle(weights: list[int]) -> None:
    be = backend(weights, "static-rr")
    cycle = be.algorithm.tot_weight
    for _ in range(3):
        counts = Counter(be.pick().name for _ in range(cycle))
        assert counts == {f"s{i}": w * cycle // sum(weights) for i, w in enumerate(weights) if w}


@settings(max_examples=60, deadline=None)
@given(weights_st.filter(lambda ws: any(ws)))
def test_roundrobin_proportional_over_each_cycle(weights: list[int]) -> None:
    """Over each period of its order, every server gets its weight's share to within
    one request per tree cycle (16 x total weight picks).  Not exactly: HAProxy 2.6
    itself gives 2:3:3 31/48/48 picks per 127 (checked live in the differential
    scenario rr_2_3_3), and the model must do what HAProxy does."""
    be = backend(weights, "roundrobin")
    algorithm = be.algorithm
    assert isinstance(algorithm, RoundRobin)
    while algorithm._live:
        be.pick()
    period = len(algorithm._schedule) - algorithm._loop_start
    while algorithm._pos != algorithm._loop_start:
        be.pick()
    total = sum(weights)
    cycles = -(-period // (16 * total))
    for _ in range(3):
        counts = Counter(be.pick().name for _ in range(period))
        for i, weight in enumerate(weights):
            assert abs(counts[f"s{i}"] * total - weight * period) <= cycles * total


@settings(max_examples=30, deadline=None)
@given(
    st.integers(min_value=2, max_value=9),
    st.data(),
    st.sampled_from(["source", "uri", "hdr(x-k)", "url_param k"]),
)
def test_consistent_removal_moves_only_the_removed_servers_keys(
    count: int, data: st.DataObject, balance: str
) -> None:
    weights = data.draw(st.lists(st.integers(1, 6), min_size=count, max_size=count))
    be = backend(weights, balance, hash_type="consistent")
    requests = [
        bk.Request(src=f"10.{k % 256}.{k // 256}.7", uri=f"/o/{k}?k={k}", headers={"x-k": str(k)})
        for k in range(300)
    ]
    before = [be.pick(r).name for r in requests]
    victim = f"s{data.draw(st.integers(0, count - 1))}"
    be.set_state(victim, "maint")
    after = [be.pick(r).name for r in requests]
    for old, new in zip(before, after, strict=True):
        assert old in (new, victim)
        assert new != victim
    be.set_state(victim, "ready")
    assert [be.pick(r).name for r in requests] == before


def lc_key(member: bk.algorithms.Member) -> int:
    inflight = member.inflight + len(member.queue)
    return (inflight + 1) * 4096 // member.eweight if inflight else 0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=8), min_size=1, max_size=6),
    st.lists(st.tuples(st.booleans(), st.integers(0, 50)), max_size=120),
)
def test_leastconn_never_picks_a_more_loaded_server(
    weights: list[int], ops: list[tuple[bool, int]]
) -> None:
    be = backend(weights, "leastconn")
    leases: list[bk.Lease] = []
    for acquire, which in ops:
        if acquire or not leases:
            lowest = min(lc_key(m) for m in be.members if m.usable)
            lease = be.acquire()
            assert lease.server is not None
            chosen = be.member(lease.server.name)
            chosen.inflight -= 1  # compare with the state before this request
            assert lc_key(chosen) == lowest
            chosen.inflight += 1
            leases.append(lease)
        else:
            be.release(leases.pop(which % len(leases)))


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["roundrobin", "static-rr", "leastconn", "first", "random", "uri"]),
    st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=4),
    st.lists(st.tuples(st.sampled_from(["acquire", "release", "cancel"]), st.integers(0, 99))),
)
def test_maxconn_is_never_exceeded_and_queues_are_fifo(
    balance: str, maxconns: list[int], ops: list[tuple[str, int]]
) -> None:
    import random

    servers = [
        bk.Server(f"s{i}", f"127.0.0.1:{7000 + i}", maxconn=m) for i, m in enumerate(maxconns)
    ]
    be = bk.Backend("be", servers, balance=balance, rng=random.Random(1))
    granted_order: list[int] = []
    live: list[bk.Lease] = []

    def on_granted(lease: bk.Lease) -> None:
        granted_order.append(lease.seq)

    for op, which in ops:
        if op == "acquire":
            lease = be.acquire(bk.Request(uri=f"/{which}"), on_granted=on_granted)
            live.append(lease)
        elif live:
            lease = live.pop(which % len(live))
            if op == "release":
                be.release(lease)
            else:
                be.cancel(lease)
        for member in be.members:
            assert member.inflight <= member.server.maxconn
        # Whatever a queue holds is in arrival order.
        for queue in [be._queue, *(m.queue for m in be.members)]:
            seqs = [lease.seq for lease in queue]
            assert seqs == sorted(seqs)
    # Leases woken from the queues were woken oldest first, per queue kind.
    if balance != "uri":
        assert granted_order == sorted(granted_order)


@settings(max_examples=50, deadline=None)
@given(
    st.integers(min_value=2, max_value=6),
    st.sampled_from([110, 125, 150, 200]),
    st.lists(st.tuples(st.booleans(), st.integers(0, 10_000)), max_size=150),
)
def test_bounded_loads_cap_every_server(
    count: int, factor: int, ops: list[tuple[bool, int]]
) -> None:
    """hash-balance-factor: a server takes a request only below its share of
    ceil((in flight + 1) x factor / 100), so none ever exceeds that share."""
    be = backend([1] * count, "uri", hash_type="consistent", hash_balance_factor=factor)
    leases: list[bk.Lease] = []
    for acquire, key in ops:
        if acquire or not leases:
            lease = be.acquire(bk.Request(uri=f"/hot/{key % 2}"))
            assert lease.server is not None
            total = sum(m.inflight for m in be.members)
            share = -(-((total * factor + 99) // 100) // count)
            assert be.member(lease.server.name).inflight <= share
            leases.append(lease)
        else:
            be.release(leases.pop(key % len(leases)))
