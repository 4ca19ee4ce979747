"""`Rate`, the per-second counters behind `rate`/`rate_max` and `req_rate`: HAProxy's
freq_ctr blends the previous second into the current one."""

from __future__ import annotations

from balancekit_server.counters import Rate


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
