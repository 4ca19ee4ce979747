"""Keys moved when one of N equal servers goes to maintenance, per hash-type.

    python bench/disruption.py

The figures in docs/algorithms.md come from this script (deterministic: the keys
are `/k/0` … `/k/49999` hashed by `balance uri`).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import balancekit as bk


def measure(servers: int, hash_type: str, keys: int = 50_000) -> tuple[float, float, float]:
    backend = bk.Backend(
        "be",
        [bk.Server(f"s{i}", f"127.0.0.1:{1000 + i}") for i in range(servers)],
        balance="uri",
        hash_type=hash_type,
    )
    requests = [bk.Request(uri=f"/k/{k}") for k in range(keys)]
    before = [backend.pick(r).name for r in requests]
    backend.set_state("s3", "maint")
    after = [backend.pick(r).name for r in requests]
    moved = sum(a != b for a, b in zip(before, after, strict=True))
    collateral = sum(a != b and a != "s3" for a, b in zip(before, after, strict=True))
    busiest = max(Counter(after).values()) / (keys / (servers - 1))
    return moved / keys, collateral / keys, busiest


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    print("servers  hash-type    moved   ideal  moved-not-from-removed  busiest/avg")
    for servers in (10, 100):
        for hash_type in ("map-based", "consistent", "maglev"):
            moved, collateral, busiest = measure(servers, hash_type)
            print(
                f"{servers:7}  {hash_type:11} {moved:6.1%}  {1 / servers:6.1%}"
                f"  {collateral:22.1%}  {busiest:11.2f}"
            )


if __name__ == "__main__":
    main()
