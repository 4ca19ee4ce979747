"""Microseconds per `Backend.pick` for every algorithm, next to uhashring's get_node.

    python bench/pick.py                 # 3, 100 and 1,000 servers (about a minute)
    python bench/pick.py --quick         # a smoke run of a few seconds
    python bench/pick.py --sizes 3 --picks 50000

Two key mixes: a Zipf mix (s=1.1 over 10,000 keys: what caches and user ids look
like) and all-unique keys (every key hashed for the first time).  Each figure is
the best of several timed rounds after a warm-up (roundrobin precomputes its
order on the first pick).  Run it alone on the machine: numbers are per core.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import balancekit as bk

ALGORITHMS: list[tuple[str, str | None]] = [
    ("roundrobin", None),
    ("static-rr", None),
    ("leastconn", None),
    ("first", None),
    ("random", None),
    ("source", "map-based"),
    ("source", "consistent"),
    ("uri", "map-based"),
    ("uri", "consistent"),
    ("uri", "maglev"),
    ("url_param uid", "consistent"),
    ("hdr(x-user)", "consistent"),
    ("uri", "consistent murmur3"),
]


MIXES = ("zipf", "unique")


def servers(count: int) -> list[bk.Server]:
    rng = random.Random(count)
    return [
        bk.Server(f"srv{i}", f"10.0.{i // 250}.{i % 250 + 1}:8080", weight=rng.randint(1, 4))
        for i in range(count)
    ]


def keys(mix: str, count: int, universe: int = 10_000) -> list[int]:
    rng = random.Random(42)
    if mix == "unique":
        return list(range(count))
    weights = [1.0 / (rank + 1) ** 1.1 for rank in range(universe)]
    return rng.choices(range(universe), weights, k=count)


def request_for(k: int) -> bk.Request:
    """A request whose every hashable field derives from key `k` (about 20 bytes)."""
    return bk.Request(
        src=f"10.{k >> 16 & 255}.{k >> 8 & 255}.{k & 255}",
        path=f"/static/obj/{k:08d}",
        query=f"uid={k:08d}",
        headers={"x-user": f"user-{k:012d}"},
    )


def timed(run: Callable[[], None], picks: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best / picks * 1e6


WARM_UP = [request_for(10**9 + k) for k in range(2000)]


def bench_backend(
    size: int, balance: str, hash_type: str | None, mix: str, picks: int, rounds: int
) -> float:
    """Unique keys get a fresh key range every round, so no round hits the cache."""
    backend = bk.Backend("bench", servers(size), balance=balance, hash_type=hash_type)
    pick = backend.pick
    for request in WARM_UP:
        pick(request)  # warm-up (precomputed orders), with keys never measured
    batches = [
        [request_for(k + (r + 1) * 10**7 if mix == "unique" else k) for k in keys(mix, picks)]
        for r in range(rounds if mix == "unique" else 1)
    ]
    turn = iter(range(rounds))

    def run() -> None:
        for request in batches[next(turn) % len(batches)]:
            pick(request)

    return timed(run, picks, rounds)


def bench_uhashring(size: int, texts: Sequence[str], rounds: int) -> float | None:
    try:
        from uhashring import HashRing
    except ImportError:
        return None
    ring = HashRing(nodes=[s.name for s in servers(size)])
    get_node = ring.get_node
    for text in texts[:2000]:
        get_node(text)

    def run() -> None:
        for text in texts:
            get_node(text)

    return timed(run, len(texts), rounds)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3,100,1000")
    parser.add_argument("--picks", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="smoke run: few picks, one round")
    args = parser.parse_args(argv)
    if args.quick:
        args.picks, args.rounds = 3_000, 1
    sizes = [int(s) for s in args.sizes.split(",")]
    texts = {mix: [f"/static/obj/{k:08d}" for k in keys(mix, args.picks)] for mix in MIXES}

    print(f"Python {sys.version.split()[0]}, {args.picks} picks per round, best of {args.rounds}")
    print(f"{'algorithm':<34}" + "".join(f"{f'{n} srv zipf':>14}{'unique':>9}" for n in sizes))
    rows: list[tuple[str, Callable[[int, str], float | None]]] = [
        (
            f"{balance}" + (f" [{hash_type}]" if hash_type else ""),
            lambda n, mix, b=balance, h=hash_type: bench_backend(  # type: ignore[misc]
                n, b, h, mix, args.picks, args.rounds
            ),
        )
        for balance, hash_type in ALGORITHMS
    ]
    rows.append(("uhashring get_node", lambda n, mix: bench_uhashring(n, texts[mix], args.rounds)))
    for label, measure in rows:
        cells = []
        for size in sizes:
            for mix in MIXES:
                value = measure(size, mix)
                cells.append(
                    f"{'n/a' if value is None else f'{value:.2f}':>{14 if mix == 'zipf' else 9}}"
                )
        print(f"{label:<34}" + "".join(cells), flush=True)
    print("(µs per pick; lower is better)")


if __name__ == "__main__":
    main()
