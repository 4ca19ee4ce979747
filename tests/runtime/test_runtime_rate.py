"""`Rate`, the per-second counters behind `rate`/`rate_max` and `req_rate`: HAProxy's
freq_ctr blends the previous second into the current one."""

from __future__ import annotations

from balancekit_server.ops.counters import Rate


def test_rate_counts_the_current_second_and_blends_the_previous_one() -> None:
    rate = Rate()
    for _ in range(4):
        rate.add(10.0)
    assert rate.read(10.9) == 4
    # Half of second 11 is gone: half of second 10's events still count.
    assert rate.read(11.5) == 2
    rate.add(11.5)
    assert rate.read(11.5) == 1 + 2
    # More than a second without events: nothing carries over.
    assert rate.read(13.2) == 0
    rate.add(13.2, 3)
    assert rate.read(13.2) == 3


def test_rate_max_is_the_highest_blended_reading() -> None:
    rate = Rate()
    rate.add(5.0, 6)
    rate.add(6.25)  # 1 + int(6 * 0.75) = 5, below the max
    assert rate.max == 6
    rate.add(6.25, 4)  # 5 + 4 = 9
    assert rate.max == 9
    assert rate.read(6.25) == 9


def test_sync_accounts_what_a_total_gained_and_survives_a_clear() -> None:
    rate = Rate()
    rate.sync(5, 20.0)
    rate.sync(8, 20.5)
    assert rate.read(20.5) == 8
    rate.sync(0, 20.6)  # `clear counters all` put the total back to 0: nothing to add
    assert rate.read(20.6) == 8
    rate.sync(2, 20.7)
    assert rate.read(20.7) == 10


def test_counters_feed_rates_through_their_totals() -> None:
    from balancekit_server.ops.counters import Counters

    counters = Counters("frontend", "fe")
    for _ in range(3):
        counters.session_start(100.0)
        counters.request()
    assert counters.sess_rate.read(100.2) == 0  # not synced yet: totals only
    counters.sync_rates(100.2)
    assert (counters.sess_rate.read(100.2), counters.req_rate.read(100.2)) == (3, 3)
    assert counters.sess_rate.max == 3


def test_the_runtime_syncs_rates_without_a_reader() -> None:
    """Rates are current within SYNC_INTERVAL even if no stats reader asks."""
    import asyncio
    import time

    from balancekit.config import load_text
    from balancekit_server.ops.counters import SYNC_INTERVAL, Registry
    from balancekit_server.process.runtime import Runtime

    config = load_text(
        "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n"
        "    timeout server 1s\nfrontend fe\n    bind 127.0.0.1:0\n"
    ).config
    registry = Registry()

    async def main() -> int:
        runtime = Runtime(config, quiet=True, registry=registry)
        await runtime.start()
        try:
            port = runtime.addresses["fe"][0][1]
            for _ in range(4):  # no backend: each connection is counted, then closed
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
            deadline = time.monotonic() + 2
            while registry.frontend("fe").stot < 4 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            await asyncio.sleep(SYNC_INTERVAL * 3)
            return registry.frontend("fe").sess_rate.read(time.time())
        finally:
            runtime.hard_stop()

    # Without the periodic sync the rate would read 0; a second boundary crossed
    # since the events may have blended part of them away, never all.
    assert 1 <= asyncio.run(main()) <= 4
