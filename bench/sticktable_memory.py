"""Benchmark: the memory a full stick table takes, per entry.

Fills a `type ip` table storing `http_req_rate(10s),conn_cur,gpc0` with
1,000,000 distinct clients (each tracked, counted once, its gpc0 raised, then
released, as a `track-sc0 src` connection would leave it) and reports what
tracemalloc saw the table allocate, per entry.  Memory, not time: the fill is
not timed.  Run it alone: `python bench/sticktable_memory.py` (about a minute,
and about 0.5 GB of memory while tracemalloc watches).
"""

from __future__ import annotations

import argparse
import gc
import sys
import tracemalloc

from balancekit.sticktables import StickTable

STORE = "http_req_rate(10s),conn_cur,gpc0"
#: The bound docs/performance.md states.  HAProxy's configuration manual estimates
#: about 50 bytes per entry for an `ip` key; Python objects cost more.
BOUND = 256
FIRST_CLIENT = 10 << 24  # 10.0.0.0


def fill(table: StickTable, count: int, per_ms: int) -> None:
    """`count` clients, `per_ms` new ones per millisecond, none expiring meanwhile."""
    start = 1_000_000
    for i in range(count):
        now = start + i // per_ms
        entry = table.track(FIRST_CLIENT + i, now)
        assert entry is not None
        table.count_http_request(entry, now)
        table.inc_gpc0(entry, now)
        table.untrack(entry, now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="table size, all filled")
    parser.add_argument("--per-ms", type=int, default=100, help="new clients per millisecond")
    parser.add_argument(
        "--sites", type=int, default=0, help="also list the N biggest allocation sites"
    )
    parser.add_argument(
        "--bound", type=int, default=BOUND, help="the stated bound, bytes per entry"
    )
    args = parser.parse_args()

    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    table = StickTable("per_ip", "ip", size=args.entries, expire_ms=30 * 60_000, store=STORE)
    fill(table, args.entries, args.per_ms)
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - before
    peak = tracemalloc.get_traced_memory()[1] - before
    snapshot = tracemalloc.take_snapshot() if args.sites else None
    tracemalloc.stop()

    assert table.used == args.entries
    per_entry = used / args.entries
    print(
        f"stick-table type ip size {args.entries} store {STORE}: "
        f"{table.used:,} entries take {used / 2**20:,.1f} MiB, "
        f"{per_entry:.0f} bytes per entry "
        f"(peak while filling {peak / 2**20:,.1f} MiB; Python {sys.version.split()[0]})"
    )
    verdict = "within" if per_entry <= args.bound else "OVER"
    print(
        f"{verdict} the stated bound of {args.bound} bytes per entry "
        f"({per_entry / 50:.1f}x HAProxy's documented ~50 bytes per ip entry)"
    )
    if snapshot is not None:
        for stat in snapshot.statistics("lineno")[: args.sites]:
            frame = stat.traceback[0]
            print(f"  {stat.size / args.entries:6.1f} B/entry  {frame.filename}:{frame.lineno}")


if __name__ == "__main__":
    main()
