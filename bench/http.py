"""Benchmark: balancekit-server vs HAProxy 2.6 in `mode http`, plus an aiohttp-client
ASGI proxy on uvicorn, same nginx backends.

    python bench/http.py                # the real run (lead only: nothing else running)
    python bench/http.py --smoke        # a 1-second sanity run of every step

Three nginx servers (worker_processes 1, `return 200 "Hello"`) sit behind:
- HAProxy 2.6 (`nbthread 1`, `mode http`, `balance roundrobin`),
- balancekit-server on the same haproxy.cfg (its fast asyncio-Protocol HTTP server),
- balancekit's `ProxyApp` (the ASGI front door) on uvicorn (httptools, uvloop),
- a round-robin ASGI proxy built on aiohttp's client on uvicorn (httptools, uvloop):
  the best general-purpose Python option, the "≥ 2x" reference.
`wrk -t1 -c50 --latency` runs against each in turn, alternating A B C D per round
so drift on a shared 2-core machine hits all equally.  Ratios are the median
over rounds of each round's ratio (see bench/tcp.py `paired_ratio`), and p99
latency is printed next to HAProxy's.

Goals (issue 5): balancekit-server keep-alive req/s ≥ 0.6x HAProxy and ≥ 2x the
aiohttp proxy.  Results and commands go in docs/performance.md (HTTP section).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import itertools
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

# This file is named like the stdlib `http` package: keep its folder off sys.path
# (uvicorn and aiohttp import `http`), and load the shared helpers of bench/tcp.py by path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
_spec = importlib.util.spec_from_file_location("bench_tcp", _HERE / "tcp.py")
assert _spec is not None and _spec.loader is not None
_tcp = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _tcp  # dataclasses look their module up there
_spec.loader.exec_module(_tcp)
HAPROXY, NGINX, WRK = _tcp.HAPROXY, _tcp.NGINX, _tcp.WRK
free_port, process, wait_port = _tcp.free_port, _tcp.process, _tcp.wait_port
start_nginx = _tcp.start_nginx

PROXY_CONF = """
global
    maxconn 4000
    nbthread 1

defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s

frontend bench
    bind 127.0.0.1:{port}
    default_backend nginx

backend nginx
    balance roundrobin
{servers}
"""


def aiohttp_app(backends: list[str]) -> Any:
    """A plain ASGI reverse proxy on aiohttp's client: round robin, streamed body."""
    import aiohttp

    cycle = itertools.cycle(backends)
    state: dict[str, aiohttp.ClientSession] = {}
    hop = {b"connection", b"keep-alive", b"transfer-encoding", b"te", b"upgrade"}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
                    state["s"] = aiohttp.ClientSession(connector=connector, auto_decompress=False)
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await state["s"].close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        url = f"http://{next(cycle)}{scope['path']}"
        if scope["query_string"]:
            url += "?" + scope["query_string"].decode()
        headers = [(k.decode(), v.decode()) for k, v in scope["headers"] if k not in hop]
        async with state["s"].request(scope["method"], url, headers=headers, data=body) as resp:
            out = (
                [
                    (k.encode(), v.encode())
                    for k, v in resp.raw_headers_decoded()
                    if k.lower().encode() not in hop
                ]
                if hasattr(resp, "raw_headers_decoded")
                else [(k, v) for k, v in resp.raw_headers if k.lower() not in hop]
            )
            await send({"type": "http.response.start", "status": resp.status, "headers": out})
            async for chunk in resp.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})

    return app


def serve_asgi(kind: str, port: int, config: str | None, backends: list[str]) -> None:
    import uvicorn

    if kind == "aiohttp":
        app = aiohttp_app(backends)
    else:
        from balancekit.config import load
        from balancekit_server.http import ProxyApp

        loaded = load(config or "")
        frontend = loaded.config.frontends[0]
        app = ProxyApp(frontend, dict(loaded.config.backends))
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        http="httptools",
        loop="uvloop",
        log_level="error",
        access_log=False,
        proxy_headers=False,
    )


def wrk(port: int, duration: float) -> tuple[float, float]:
    """(requests/s, p99 latency in ms) of one `wrk -t1 -c50` run."""
    args = [WRK, "-t1", "-c50", f"-d{max(1, int(duration))}s", "--latency"]
    out = subprocess.run(
        [*args, f"http://127.0.0.1:{port}/"], capture_output=True, text=True, check=True
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    if not rate or not p99:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out)
    if errors:
        print(f"    (wrk: {errors.group(0)})")
    return float(rate.group(1)), float(p99.group(1)) * scale


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of A B C D")
    parser.add_argument("--smoke", action="store_true", help="1 s runs, 1 round")
    parser.add_argument("--serve", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:  # internal: run one ASGI proxy in this process
        kind, port, config, *backends = args.serve
        serve_asgi(kind, int(port), config if config != "-" else None, backends)
        return 0
    if args.smoke:
        args.duration, args.rounds = 1.0, 1
    for tool in (HAPROXY, NGINX, WRK):
        if not shutil.which(tool) and not Path(tool).exists():
            print(f"missing tool: {tool}", file=sys.stderr)
            return 1

    work = Path(tempfile.mkdtemp(prefix="bk-bench-http-"))
    stack = contextlib.ExitStack()
    try:
        ports = start_nginx(stack, work, 3)
        servers = "\n".join(f"    server n{i} 127.0.0.1:{p}" for i, p in enumerate(ports, 1))
        backends = [f"127.0.0.1:{p}" for p in ports]
        me = str(Path(__file__).resolve())
        targets: dict[str, tuple[int, subprocess.Popen[bytes]]] = {}
        for name in ("haproxy", "balancekit", "balancekit-asgi", "aiohttp-asgi"):
            port = free_port()
            conf = work / f"{name}.cfg"
            conf.write_text(PROXY_CONF.format(port=port, servers=servers))
            if name == "haproxy":
                cmd = [HAPROXY, "-db", "-f", str(conf)]
            elif name == "balancekit":
                cmd = [sys.executable, "-m", "balancekit_server.cli", "-q", "-f", str(conf)]
            elif name == "balancekit-asgi":
                cmd = [sys.executable, me, "--serve", "balancekit", str(port), str(conf)]
            else:
                cmd = [sys.executable, me, "--serve", "aiohttp", str(port), "-", *backends]
            proc = stack.enter_context(process(cmd, work / f"{name}.log"))
            wait_port(port)
            targets[name] = (port, proc)
        print(
            f"# mode http bench: wrk -t1 -c50 -d{args.duration:g}s --latency, "
            f"{args.rounds} rounds; python {sys.version.split()[0]}"
        )
        rates: dict[str, list[float]] = {name: [] for name in targets}
        p99s: dict[str, list[float]] = {name: [] for name in targets}
        worst_steal = 0.0
        for round_no in range(1, args.rounds + 1):
            for name, (port, _) in targets.items():
                mark = _tcp.steal_mark()
                rate, p99 = wrk(port, args.duration)
                steal = _tcp.steal_since(mark)
                worst_steal = max(worst_steal, steal)
                rates[name].append(rate)
                p99s[name].append(p99)
                print(
                    f"  round {round_no} {name:16s} {rate:10,.0f} req/s  p99 {p99:8.2f} ms"
                    f"  ({steal:.0%} stolen)"
                )
        print()
        print(
            f"{'proxy':16s} {'req/s':>10s} {'vs haproxy':>11s} {'vs aiohttp':>11s} {'p99 ms':>8s}"
        )
        for name in targets:
            rate = statistics.median(rates[name])
            p99 = statistics.median(p99s[name])
            vs_ha = _tcp.paired_ratio(rates["haproxy"], rates[name])
            vs_aio = _tcp.paired_ratio(rates["aiohttp-asgi"], rates[name])
            print(f"{name:16s} {rate:10,.0f} {vs_ha:10.2f}x {vs_aio:10.2f}x {p99:8.2f}")
        print("goals: balancekit >= 0.60x haproxy and >= 2.00x aiohttp-asgi")
        _tcp.warn_if_stolen(worst_steal)
    finally:
        _tcp.close_stack(stack, work)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
