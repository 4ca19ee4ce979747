"""Benchmark: load a 100,000-entry `-f` list of IPs/CIDRs and match against it.

The issue's bar: the list loads in under a second and a lookup is O(log n).
This script measures both (load time, then lookups per second for lists of
1k / 10k / 100k entries, which should fall only logarithmically) and a
typical seed condition per request.  Run it alone: `python bench/acl_load.py`.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from balancekit import Request
from balancekit.acl import AclSet


def write_list(path: Path, count: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    lines = ["# generated block list"]
    for i in range(count):
        a, b, c = rng.randrange(1, 224), rng.randrange(256), rng.randrange(256)
        if i % 4 == 0:
            lines.append(f"{a}.{b}.{c}.0/24")
        elif i % 17 == 0:
            lines.append(f"2001:db8:{a:x}:{b:x}::/64")
        else:
            lines.append(f"{a}.{b}.{c}.{rng.randrange(256)}")
    path.write_text("\n".join(lines) + "\n")


def load(path: Path) -> tuple[AclSet, float]:
    start = time.perf_counter()
    acls = AclSet()
    acls.define(["blocked", "src", "-f", str(path)])
    return acls, time.perf_counter() - start


def lookups_per_second(acls: AclSet, seconds: float) -> float:
    cond = acls.condition(["if", "blocked"])
    rng = random.Random(7)
    requests = [
        Request(f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.1")
        for _ in range(1000)
    ]
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for request in requests:
            cond.matches(request)
        done += len(requests)
    return done / (time.perf_counter() - start)


def seed_condition_rate(seconds: float) -> float:
    acls = AclSet()
    acls.define(["is_admin_path", "path_beg", "/admin"])
    acls.define(["is_internal_network", "src", "127.0.10.0/24"])
    acls.define(["is_mobile", "req.hdr(User-Agent)", "-i", "-m", "sub", "Mobile"])
    deny = acls.condition(["if", "is_admin_path", "!is_internal_network"])
    mobile = acls.condition(["if", "is_mobile"])
    request = Request(
        "127.0.0.1", path="/admin/x", headers={"User-Agent": "Mozilla/5.0 (iPhone) Mobile"}
    )
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(1000):
            deny.matches(request)
            mobile.matches(request)
        done += 1000
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per lookup measure")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for count in (1_000, 10_000, 100_000):
            path = Path(tmp) / f"list{count}.lst"
            write_list(path, count)
            acls, elapsed = load(path)
            rate = lookups_per_second(acls, args.seconds)
            print(f"{count:>7} entries: load {elapsed * 1000:7.1f} ms, {rate:>10,.0f} lookups/s")
    print(
        f"seed conditions (admin deny + mobile): {seed_condition_rate(args.seconds):,.0f} pairs/s"
    )


if __name__ == "__main__":
    main()
