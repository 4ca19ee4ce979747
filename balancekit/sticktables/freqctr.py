"""HAProxy 2.6's `freq_ctr`: an event rate over a period, from three integers.

Why this shape: a stick table may hold a million rates, so each is only the
start of the current period, the events counted in it and the events of the
period before (freq_ctr-t.h).  Reading it estimates a sliding window: the
previous period counts for the share of it still inside the window ending now,
so a rate neither drops to zero at each period boundary nor needs a ring of
samples.  The arithmetic is freq_ctr.h/freq_ctr.c's, integer for integer, so a
`show table` or an ACL on `sc0_http_req_rate` reads what HAProxy would:

- an update inside the period adds to the current count; one past its end
  rotates (the current count becomes the previous one and the period start
  advances by one period), and one more than two periods late starts afresh at
  `now` with no history;
- a period start is always even: HAProxy keeps its low bit as a lock, so an
  update at an odd date starts the period one millisecond earlier;
- a read counts `prev * remain + curr * period` ticks of events and divides by
  the period (rounding down), where `remain` is what is left of the current
  period; when nothing happened yet in this period and the previous one saw at
  most one event, it reports that event for the whole period instead, so a
  client sending one request per period does not read 1, 0, 1, 0.

Time is HAProxy's `global_now_ms`, handed in as `now_ms`.  HAProxy's ticks are
32-bit and wrap every 49.7 days; here they are Python ints that never wrap, and
`now_ms` must not go backwards (HAProxy's clock never does).  Counts still wrap
at 2**32 as HAProxy's `unsigned int` do.  The period is in milliseconds and must
be at least 1 (HAProxy divides by it).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "FreqCtr",
    "freq_ctr_remain_period",
    "freq_ctr_total",
    "next_event_delay_period",
    "read_freq_ctr_period",
    "rotate",
    "update_freq_ctr_period",
]

_U32 = 0xFFFFFFFF


@dataclass(slots=True)
class FreqCtr:
    """`struct freq_ctr`: all zeros is a fresh counter, as HAProxy's zeroed memory."""

    curr_tick: int = 0
    curr_ctr: int = 0
    prev_ctr: int = 0


def rotate(
    curr_tick: int, curr_ctr: int, prev_ctr: int, period: int, inc: int, now_ms: int
) -> tuple[int, int, int]:
    """The state after `update_freq_ctr_period`, as a (curr_tick, curr_ctr, prev_ctr)
    triple; the stick table keeps its counters in arrays and calls this directly."""
    inc &= _U32
    if now_ms - curr_tick < period:
        return curr_tick, (curr_ctr + inc) & _U32, prev_ctr
    prev_ctr = curr_ctr
    curr_tick += period
    if now_ms - curr_tick >= period:
        # More than two periods late: the previous one saw nothing either.
        prev_ctr = 0
        curr_tick = now_ms
    return curr_tick & ~1, inc, prev_ctr


def update_freq_ctr_period(ctr: FreqCtr, period: int, inc: int, now_ms: int) -> int:
    """Count `inc` events at `now_ms`; returns what HAProxy's does (the current
    period's count, or just `inc` when the period rotated)."""
    ctr.curr_tick, ctr.curr_ctr, ctr.prev_ctr = rotate(
        ctr.curr_tick, ctr.curr_ctr, ctr.prev_ctr, period, inc, now_ms
    )
    return ctr.curr_ctr


def freq_ctr_total(
    curr_tick: int, curr_ctr: int, prev_ctr: int, period: int, pend: int, now_ms: int
) -> int:
    """Events times ticks over the window ending at `now_ms` (freq_ctr.c).

    `pend` events are counted as already in the current period; a negative
    `pend` asks for the low-rate correction that reads use instead."""
    curr, past = curr_ctr, prev_ctr
    remain = curr_tick + period - now_ms
    if remain < 0:
        # The stored period is over: it becomes the previous one, if still in reach.
        remain += period
        past = curr if remain >= 0 else 0
        curr = 0
    if pend < 0:
        pend = 0
        if not curr and past <= 1:
            return past * period
    return past * remain + (curr + pend) * period


def read_freq_ctr_period(ctr: FreqCtr, period: int, now_ms: int) -> int:
    """Events per period at `now_ms`, what the `*_rate` fetches and `show table` report."""
    total = freq_ctr_total(ctr.curr_tick, ctr.curr_ctr, ctr.prev_ctr, period, -1, now_ms)
    return (total // period) & _U32


def freq_ctr_remain_period(ctr: FreqCtr, period: int, freq: int, pend: int, now_ms: int) -> int:
    """How many more events fit under `freq` per period, `pend` being already due
    (no low-rate correction: a limit of one event per period must hold)."""
    total = freq_ctr_total(ctr.curr_tick, ctr.curr_ctr, ctr.prev_ctr, period, pend, now_ms)
    avg = (total // period) & _U32
    return freq - min(avg, freq)


def next_event_delay_period(ctr: FreqCtr, period: int, freq: int, pend: int, now_ms: int) -> int:
    """Milliseconds to wait before the next event respects `freq` per period:
    0 when it may happen now, otherwise at least 1."""
    total = freq_ctr_total(ctr.curr_tick, ctr.curr_ctr, ctr.prev_ctr, period, pend, now_ms)
    limit = freq * period
    if total < limit:
        return 0
    wait = ((total - limit) // (freq or 1)) & _U32
    return max(wait, 1)
