"""Record HAProxy 2.6's answers for every scenario into tests/golden/.

Run from the repository root after changing a scenario:
    python tests/core/core_record.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parent.parent)]

from core_differential import (  # noqa: E402
    NAMES,
    RefusedAddress,
    haproxy_config,
    replay_haproxy,
    save_golden,
)
from core_inflight import CASES, HoldBackends, inflight_config, record_inflight  # noqa: E402
from core_scenarios import all_scenarios  # noqa: E402

from support.backends import NamedBackends  # noqa: E402
from support.haproxy import HAProxy  # noqa: E402


def main() -> None:
    scenarios = all_scenarios()
    with (
        NamedBackends(NAMES) as backends,
        RefusedAddress() as refused,
        HAProxy(haproxy_config(scenarios, backends, refused.address)) as hp,
    ):
        version = hp.command("show info")
        print(next(line for line in version.splitlines() if line.startswith("Version")))
        for scenario in scenarios:
            scenario.answers = replay_haproxy(hp, scenario)
    save_golden("haproxy_2.6_balance", scenarios)
    print(f"recorded {len(scenarios)} scenarios")
    with (
        HoldBackends(["A", "B", "C"]) as holders,
        HAProxy(inflight_config(holders)) as hp,
    ):
        record_inflight(hp, holders)
    print(f"recorded {len(CASES)} in-flight cases")


if __name__ == "__main__":
    main()
