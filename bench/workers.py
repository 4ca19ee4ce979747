"""Benchmark: balancekit-server `mode http` with 1 and 2 worker processes (issue 6).

    python bench/workers.py             # the real run (lead only: nothing else running)
    python bench/workers.py --smoke     # a 1-second sanity run of every step

Two nginx backends (`return 200 "Hello"`) behind one haproxy.cfg, run with
`--workers 1` and `--workers 2`; `wrk -t2 -c64` keep-alive, alternating the two
setups per round so machine drift hits both; prints each round and the median
requests/s with the 2-worker / 1-worker ratio.  Also reports wrk socket errors
(there should be none).  Results go in docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("bench_tcp", _HERE / "tcp.py")
assert _spec is not None and _spec.loader is not None
_tcp = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _tcp  # dataclasses look their module up there
_spec.loader.exec_module(_tcp)
WRK = _tcp.WRK
free_port, process, wait_port = _tcp.free_port, _tcp.process, _tcp.wait_port
start_nginx = _tcp.start_nginx

CONFIG = """
global
    maxconn 4000

defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s

frontend bench
    bind 127.0.0.1:{port}
    default_backend app

backend app
    balance roundrobin
{servers}
"""


def wrk(port: int, duration: int) -> tuple[float, str]:
    out = subprocess.run(
        [WRK, "-t2", "-c64", f"-d{duration}s", f"http://127.0.0.1:{port}/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    errors = re.search(r"Socket errors: (.*)", out)
    return float(match.group(1)), errors.group(1) if errors else "none"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="1-second runs, one round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    rounds, duration = (1, 1) if args.smoke else (args.rounds, args.duration)
    work = Path(tempfile.mkdtemp(prefix="bk-bench-workers-"))
    results: dict[int, list[float]] = {1: [], 2: []}
    with contextlib.ExitStack() as stack:
        backend_ports = start_nginx(stack, work, 2)
        servers = "\n".join(f"    server n{i} 127.0.0.1:{p}" for i, p in enumerate(backend_ports))
        for round_no in range(1, rounds + 1):
            for workers in (1, 2):
                port = free_port()
                cfg = work / f"bk-{workers}.cfg"
                cfg.write_text(CONFIG.format(port=port, servers=servers))
                command = [
                    sys.executable,
                    "-m",
                    "balancekit_server.cli",
                    "-q",
                    "-f",
                    str(cfg),
                    "--workers",
                    str(workers),
                ]
                with process(command, work / f"bk-{workers}.log"):
                    wait_port(port)
                    rate, errors = wrk(port, duration)
                results[workers].append(rate)
                print(
                    f"round {round_no}: {workers} worker(s): {rate:10.0f} req/s  errors: {errors}"
                )
    one, two = statistics.median(results[1]), statistics.median(results[2])
    print(f"median: 1 worker {one:.0f} req/s, 2 workers {two:.0f} req/s, ratio {two / one:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
