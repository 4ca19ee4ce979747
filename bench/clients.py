"""Benchmark: what in-app balancing costs per call, against the bare client.

    python bench/clients.py              # the real run (alone on the machine: ~2 minutes)
    python bench/clients.py --smoke      # a few seconds, every step once

Three nginx backends (bench/tcp.py's: worker_processes 1, `return 200 "Hello"`).
Each client does keep-alive GETs, one at a time: bare to one nginx, bare turning
over the three by hand (what users write without balancekit: the same network
work as balancing, so the difference is balancekit's own cost), then through
balancekit over the three (`balance roundrobin`, checks off), round after round:
- httpx: `httpx.Client` vs `httpx.Client(transport=balancekit.httpx.Transport(pool))`;
- requests: `requests.Session` vs the same session with `balancekit.requests.Adapter`.
The ratio is the median over rounds of each round's balanced/bare time per call
(bench/tcp.py `paired_ratio`); "best" is the fastest balanced round over the
fastest bare round, which the hypervisor's pauses (a few % of the CPU, and
bursts) disturb least, as `timeit` reports its best.  Then the threaded pool
alone, with no I/O:
microseconds per `BalancedPool.acquire()` + `release()` (and per `Backend.acquire`
+ `release`, the library floor).

Goals (issue 22): ≤ 5% over the bare client on a keep-alive GET; ≤ 2 µs per pick
in the threaded form.  Results and commands go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import itertools
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
import requests.adapters  # noqa: E402

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


Calls = tuple[Callable[[], object], Callable[[], object], Callable[[], object], list[Any]]


def httpx_calls(ports: list[int]) -> Calls:
    """(one server, the same client turning over the servers by hand, balanced)."""
    bare = httpx.Client()
    one = f"http://127.0.0.1:{ports[0]}/"
    urls = itertools.cycle([f"http://127.0.0.1:{port}/" for port in ports])
    # Absolute URLs on every side: a `base_url` costs httpx a second URL parse per call.
    balanced = httpx.Client(transport=balancekit.httpx.Transport(pool_of(ports)))

    def get_one() -> object:
        return bare.get(one).content

    def get_turning() -> object:
        return bare.get(next(urls)).content

    def get_balanced() -> object:
        return balanced.get("http://nginx/").content

    return get_one, get_turning, get_balanced, [bare, balanced]


def requests_calls(ports: list[int]) -> Calls:
    bare = requests.Session()
    balanced = requests.Session()
    balanced.mount("http://nginx/", balancekit.requests.Adapter(pool_of(ports)))
    one = f"http://127.0.0.1:{ports[0]}/"
    urls = itertools.cycle([f"http://127.0.0.1:{port}/" for port in ports])

    def get_one() -> object:
        return bare.get(one).content

    def get_turning() -> object:
        return bare.get(next(urls)).content

    def get_balanced() -> object:
        return balanced.get("http://nginx/").content

    return get_one, get_turning, get_balanced, [bare, balanced]


@contextlib.contextmanager
def in_memory_transports() -> Any:
    """httpx's and requests' own transports answer at once, from memory: what is
    left of a call is the client's Python work and balancekit's, the same in every
    round, so the difference is balancekit's own cost without the network's noise."""

    def httpx_send(self: Any, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"Hello", request=request)

    def requests_send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        response = requests.models.Response()
        response.status_code, response._content, response.url = 200, b"Hello", request.url
        response.request = request
        return response

    saved = httpx.HTTPTransport.handle_request, requests.adapters.HTTPAdapter.send
    httpx.HTTPTransport.handle_request = httpx_send  # type: ignore[method-assign]
    requests.adapters.HTTPAdapter.send = requests_send  # type: ignore[method-assign]
    try:
        yield
    finally:
        httpx.HTTPTransport.handle_request, requests.adapters.HTTPAdapter.send = saved  # type: ignore[method-assign]


def own_costs(ports: list[int], calls: int) -> dict[str, tuple[float, float]]:
    """µs per call with in-memory transports: (bare by hand, balanced), per client."""
    out = {}
    with in_memory_transports():
        for name, make in (("httpx", httpx_calls), ("requests", requests_calls)):
            _one, get_turning, get_balanced, closers = make(ports)
            turning, balanced = [], []
            for _ in range(7):  # alternating, the best of each: the noise only adds
                turning.append(per_call(get_turning, calls))
                balanced.append(per_call(get_balanced, calls))
            out[name] = (min(turning), min(balanced))
            for closer in closers:
                closer.close()
    return out


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
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--calls", type=int, default=1500, help="GETs per client per round")
    args = parser.parse_args()
    rounds, calls = (1, 200) if args.smoke else (args.rounds, args.calls)
    work = Path(tempfile.mkdtemp(prefix="bk-bench-clients-"))
    stack = contextlib.ExitStack()
    try:
        ports = _tcp.start_nginx(stack, work, 3)
        print(
            f"{'client':<22} {'bare µs/call':>13} {'balanced µs/call':>17} {'ratio':>7} {'best':>7}"
        )
        for name, make in (("httpx", httpx_calls), ("requests", requests_calls)):
            get_one, get_turning, get_balanced, closers = make(ports)
            runs: dict[str, list[float]] = {"one": [], "turning": [], "balanced": []}
            for _ in range(rounds):  # A B C A B C: drift hits all alike
                runs["one"].append(per_call(get_one, calls))
                runs["turning"].append(per_call(get_turning, calls))
                runs["balanced"].append(per_call(get_balanced, calls))
            for closer in closers:
                closer.close()
            for label, key in ((f"{name} vs one server", "one"), (f"{name} vs by hand", "turning")):
                bare_runs, balanced_runs = runs[key], runs["balanced"]
                ratio = _tcp.paired_ratio(bare_runs, balanced_runs)
                spread = _tcp.round_ratios(bare_runs, balanced_runs)
                best = min(balanced_runs) / min(bare_runs)
                print(
                    f"{label:<22} {statistics.median(bare_runs):>13.1f} "
                    f"{statistics.median(balanced_runs):>17.1f} {ratio:>6.3f}x {best:>6.3f}x"
                    f"   (rounds {min(spread):.3f}-{max(spread):.3f})"
                )
        for name, (bare, balanced) in own_costs(ports, 500 if args.smoke else 10_000).items():
            print(
                f"{name} with in-memory transports: by hand {bare:.1f} µs/call, balanced "
                f"{balanced:.1f} µs/call: balancekit's own {balanced - bare:+.1f} µs"
            )
        pooled, floor = pick_costs(2_000 if args.smoke else 200_000)
        print(f"pick: BalancedPool.acquire+release {pooled:.2f} µs, Backend {floor:.2f} µs")
    finally:
        _tcp.close_stack(stack, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
