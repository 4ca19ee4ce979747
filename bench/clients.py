"""Benchmark: what in-app balancing costs per call, against the bare client.

    python bench/clients.py              # the real run (alone on the machine: ~1 minute)
    python bench/clients.py --smoke      # a few seconds, every step once

Three nginx backends (bench/tcp.py's: worker_processes 1, `return 200 "Hello"`).
Each client does keep-alive GETs, one at a time, first bare (to one nginx), then
through balancekit over the three (`balance roundrobin`, checks off), A B A B:
- httpx: `httpx.Client` vs `httpx.Client(transport=balancekit.httpx.Transport(pool))`;
- requests: `requests.Session` vs the same session with `balancekit.requests.Adapter`.
The ratio is the median over rounds of each round's balanced/bare time per call
(bench/tcp.py `paired_ratio`).  Then the threaded pool alone, with no I/O:
microseconds per `BalancedPool.acquire()` + `release()` (and per `Backend.acquire`
+ `release`, the library floor).

Goals (issue 22): ≤ 5% over the bare client on a keep-alive GET; ≤ 2 µs per pick
in the threaded form.  Results and commands go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# bench/http.py is named like the stdlib `http` package: keep this folder off sys.path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))
_spec = importlib.util.spec_from_file_location("bench_tcp", _HERE / "tcp.py")
assert _spec is not None and _spec.loader is not None
_tcp = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _tcp
_spec.loader.exec_module(_tcp)

import httpx  # noqa: E402
import requests  # noqa: E402

import balancekit as bk  # noqa: E402
import balancekit.httpx  # noqa: E402
import balancekit.requests  # noqa: E402
from balancekit.clients import BalancedPool  # noqa: E402


def per_call(call: Callable[[], object], calls: int) -> float:
    """Microseconds per call, after a short warm-up."""
    for _ in range(min(calls // 10, 200)):
        call()
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - start) / calls * 1e6


def pool_of(ports: list[int]) -> BalancedPool:
    servers = [bk.Server(f"n{i}", f"127.0.0.1:{port}") for i, port in enumerate(ports)]
    return BalancedPool(bk.Backend("nginx", servers, balance="roundrobin"), checks=False)


def httpx_pair(ports: list[int]) -> tuple[Callable[[], object], Callable[[], object], list[Any]]:
    bare = httpx.Client(base_url=f"http://127.0.0.1:{ports[0]}")
    balanced = httpx.Client(
        transport=balancekit.httpx.Transport(pool_of(ports)), base_url="http://nginx"
    )

    def get_bare() -> object:
        return bare.get("/").content

    def get_balanced() -> object:
        return balanced.get("/").content

    return get_bare, get_balanced, [bare, balanced]


def requests_pair(
    ports: list[int],
) -> tuple[Callable[[], object], Callable[[], object], list[Any]]:
    bare = requests.Session()
    balanced = requests.Session()
    balanced.mount("http://nginx/", balancekit.requests.Adapter(pool_of(ports)))
    url = f"http://127.0.0.1:{ports[0]}/"

    def get_bare() -> object:
        return bare.get(url).content

    def get_balanced() -> object:
        return balanced.get("http://nginx/").content

    return get_bare, get_balanced, [bare, balanced]


def pick_costs(calls: int) -> tuple[float, float]:
    """µs per acquire+release: (BalancedPool, Backend)."""
    servers = [bk.Server(f"s{i}", f"127.0.0.1:{8000 + i}") for i in range(3)]
    pool = BalancedPool(bk.Backend("b", servers, balance="roundrobin"), checks=False)
    backend = bk.Backend("b", servers, balance="roundrobin")

    def pooled() -> None:
        pool.release(pool.acquire())

    def bare() -> None:
        backend.release(backend.acquire())

    best = [min(per_call(f, calls) for _ in range(5)) for f in (pooled, bare)]
    return best[0], best[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--smoke", action="store_true", help="a few seconds, every step once")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--calls", type=int, default=3000, help="GETs per client per round")
    args = parser.parse_args()
    rounds, calls = (1, 200) if args.smoke else (args.rounds, args.calls)
    work = Path(tempfile.mkdtemp(prefix="bk-bench-clients-"))
    stack = contextlib.ExitStack()
    try:
        ports = _tcp.start_nginx(stack, work, 3)
        print(f"{'client':<10} {'bare µs/call':>13} {'balanced µs/call':>17} {'ratio':>7}")
        for name, make in (("httpx", httpx_pair), ("requests", requests_pair)):
            get_bare, get_balanced, closers = make(ports)
            bare_runs: list[float] = []
            balanced_runs: list[float] = []
            for _ in range(rounds):  # A B A B: drift hits both alike
                bare_runs.append(per_call(get_bare, calls))
                balanced_runs.append(per_call(get_balanced, calls))
            for closer in closers:
                closer.close()
            ratio = _tcp.paired_ratio(bare_runs, balanced_runs)
            spread = _tcp.round_ratios(bare_runs, balanced_runs)
            print(
                f"{name:<10} {statistics.median(bare_runs):>13.1f} "
                f"{statistics.median(balanced_runs):>17.1f} {ratio:>6.3f}x"
                f"   (rounds {min(spread):.3f}-{max(spread):.3f})"
            )
        pooled, floor = pick_costs(2_000 if args.smoke else 200_000)
        print(f"pick: BalancedPool.acquire+release {pooled:.2f} µs, Backend {floor:.2f} µs")
    finally:
        _tcp.close_stack(stack, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
