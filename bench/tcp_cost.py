"""Benchmark: user-space instructions per connection and per request in `mode tcp`.

    python bench/tcp_cost.py              # HAProxy, balancekit-server, the bare relay
    python bench/tcp_cost.py --smoke      # fewer connections, to check that it runs

Each proxy runs under valgrind's callgrind (`apt-get install valgrind`) in front
of the same three nginx servers and config as `bench/tcp.py`.  After a warm-up,
instructions are counted while a client makes N `Connection: close` requests one
after the other, then N keep-alive requests on one connection.  The figures are
the proxy's own user-space instructions (the interpreter, uvloop and libuv for
the Python proxies), divided by the connections or requests, with the ratio to
HAProxy's.

Why next to `bench/tcp.py`: throughput on a shared 2-core machine drifts by ±10%
between runs, which hides a change worth a few percent.  Instruction counts do
not drift, so this is the yardstick for changes to the per-connection path.  It
does not count the kernel's work, which is most of a connection's CPU, and with
one client at a time every event is a batch of its own, so balancekit's poller
(one loop callback per batch of ready sockets) shows none of its batching: use
`bench/tcp.py` for what a change is worth in requests per second.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

# The sibling bench's servers, config and helpers, so both measure the same setup.
_spec = importlib.util.spec_from_file_location("bench_tcp", Path(__file__).with_name("tcp.py"))
assert _spec is not None and _spec.loader is not None
_tcp = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _tcp  # dataclasses look their module up there
_spec.loader.exec_module(_tcp)
HAPROXY, NGINX = _tcp.HAPROXY, _tcp.NGINX
close_stack, proxy_command, start_nginx, wait_port = (
    _tcp.close_stack, _tcp.proxy_command, _tcp.start_nginx, _tcp.wait_port
)  # fmt: skip

VALGRIND = shutil.which("valgrind") or "valgrind"
CALLGRIND_CONTROL = shutil.which("callgrind_control") or "callgrind_control"
CLOSE_REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
KEEPALIVE_REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
BODY = b"Hello"  # what the nginx servers answer


def close_connections(port: int, count: int) -> None:
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(CLOSE_REQUEST)
            while sock.recv(65536):
                pass


def keepalive_requests(port: int, count: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        for _ in range(count):
            sock.sendall(KEEPALIVE_REQUEST)
            answer = b""
            while not answer.endswith(BODY):
                chunk = sock.recv(65536)
                if not chunk:
                    raise RuntimeError("the proxy closed a keep-alive connection")
                answer += chunk


def instructions(
    command: list[str], port: int, work: Path, name: str, workload: tuple[str, int]
) -> float:
    """Instructions per unit of `workload` ("close"/"keepalive", count) of `command`."""
    kind, count = workload
    run = close_connections if kind == "close" else keepalive_requests
    out = work / f"{name}-{kind}.callgrind"
    proc = subprocess.Popen(
        [VALGRIND, "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
         *command],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_port(port, timeout=120)
        run(port, max(50, count // 5))  # warm-up: imports, caches, specialization
        control = [CALLGRIND_CONTROL]
        subprocess.run([*control, "-i", "on", str(proc.pid)], check=True, capture_output=True)
        run(port, count)
        subprocess.run([*control, "-d", str(proc.pid)], check=True, capture_output=True)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(60)
    total = 0
    for dump in work.glob(f"{out.name}*"):
        for line in dump.read_text(errors="replace").splitlines():
            if line.startswith(("summary:", "totals:")):
                total = max(total, int(line.split()[1]))
    if not total:
        raise RuntimeError(f"callgrind counted nothing for {name}")
    return total / count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1000, help="Connection: close runs")
    parser.add_argument("--requests", type=int, default=5000, help="keep-alive requests")
    parser.add_argument("--smoke", action="store_true", help="100 connections and requests")
    args = parser.parse_args()
    if args.smoke:
        args.connections = args.requests = 100
    for tool in (HAPROXY, NGINX, VALGRIND, CALLGRIND_CONTROL):
        if not shutil.which(tool) and not Path(tool).exists():
            print(f"missing tool: {tool}", file=sys.stderr)
            return 1

    work = Path(tempfile.mkdtemp(prefix="bk-bench-cost-"))
    (work / "bulk.bin").touch()  # the nginx config serves it; nothing here reads it
    stack = contextlib.ExitStack()
    try:
        ports = start_nginx(stack, work, 3)
        workloads = (("close", args.connections), ("keepalive", args.requests))
        results: dict[str, dict[str, float]] = {kind: {} for kind, _ in workloads}
        print(f"# user-space instructions (callgrind): {args.connections} Connection: close "
              f"connections, {args.requests} keep-alive requests; python "
              f"{sys.version.split()[0]}; balancekit: {_tcp.balancekit_build()}")  # fmt: skip
        for name in ("haproxy", "balancekit", "floor"):
            for workload in workloads:
                port, command = proxy_command(name, work, ports)
                per = instructions(command, port, work, name, workload)
                results[workload[0]][name] = per
                print(f"  {workload[0]:9s} {name:10s} {per:12,.0f}")
        print()
        for kind, by_name in results.items():
            unit = "per connection" if kind == "close" else "per request"
            base = by_name["haproxy"]
            others = "  ".join(
                f"{name} {value:,.0f} ({value / base:.2f}x)"
                for name, value in by_name.items()
                if name != "haproxy"
            )
            print(f"{kind:9s} {unit:15s} haproxy {base:,.0f}  {others}")
    finally:
        close_stack(stack, work)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
