"""Many sessions' timeouts on one event-loop timer.

Each `mode tcp` session needs to be woken when a timeout may have expired
(`timeout connect`, `client`, `server`, the `-fin` ones).  One event-loop timer
per session costs more than the rest of a short connection's bookkeeping: uvloop
allocates a timer handle and a libuv timer for it, and closes both when the
session ends.  `Wakeups` keeps the sessions' wake-up times in a heap instead, and
arms a single loop timer for the earliest one.

Wake-ups are lazy, as the sessions' own timer was: a session asks to be woken "by"
a time, a later request is a no-op while an earlier one is pending, and the woken
session re-checks its state (and asks again if nothing has expired yet).  A
session that ends is forgotten at once; the heap entries it leaves behind are
skipped when they come due.  After firing, the loop timer is re-armed no sooner
than `GRANULARITY` later, so a busy frontend wakes at most 100 times a second and
a timeout fires at most that much late.
"""

from __future__ import annotations

import asyncio
import heapq
from typing import Protocol

__all__ = ["GRANULARITY", "Wakeable", "Wakeups"]

GRANULARITY = 0.01
"""Seconds between two firings of the loop timer, at the least."""
_NEVER = float("inf")


class Wakeable(Protocol):
    def wake(self) -> None:
        """A wake-up this object asked for is due: re-check, maybe ask again."""


class Wakeups:
    """Wake-up calls for many objects, on one event-loop timer."""

    __slots__ = ("_heap", "_loop", "_timer", "_timer_at", "_waiting")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._heap: list[tuple[float, int]] = []
        # id -> (object, its earliest pending wake-up).  The heap holds ids, so an
        # ended session is not kept alive by its leftover entries.
        self._waiting: dict[int, tuple[Wakeable, float]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")

    def __repr__(self) -> str:
        return f"<Wakeups waiting={len(self._waiting)} entries={len(self._heap)}>"

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, obj: Wakeable, when: float) -> None:
        """Call `obj.wake()` by `when` (loop time), or a little later; nothing to do
        when `obj` already has a wake-up pending that is due no later."""
        key = id(obj)
        pending = self._waiting.get(key)
        if pending is not None and pending[1] <= when:
            return
        self._waiting[key] = (obj, when)
        heapq.heappush(self._heap, (when, key))
        if when < self._timer_at:
            self._arm(when)

    def pending(self, obj: Wakeable) -> float:
        """When `obj` will be woken (loop time): inf when it has no wake-up pending."""
        pending = self._waiting.get(id(obj))
        return _NEVER if pending is None else pending[1]

    def discard(self, obj: Wakeable) -> None:
        """Forget `obj`: its pending wake-ups will not be delivered.

        The loop timer stays armed even when nobody waits any more: connections
        one after the other would otherwise arm and cancel it each time.  The
        entries of ended objects are dropped once they are most of the heap, so
        its size follows the live objects, not the connection rate.
        """
        waiting = self._waiting
        waiting.pop(id(obj), None)
        heap = self._heap
        if len(heap) > 2 * len(waiting) + 64:
            heap[:] = [entry for entry in heap if entry[1] in waiting]  # in place: see _fire
            heapq.heapify(heap)

    def close(self) -> None:
        """Forget everyone and stop the loop timer (a hard stop)."""
        self._waiting.clear()
        self._heap.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = float("inf")

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._timer = None
        # While the due objects run, `add` must not arm the timer for their new
        # wake-ups alone: an entry not yet due may sit before them in the heap.
        self._timer_at = float("-inf")
        now = self._loop.time()
        heap = self._heap
        waiting = self._waiting
        due: list[Wakeable] = []
        while heap and heap[0][0] <= now:
            when, key = heapq.heappop(heap)
            pending = waiting.get(key)
            # An entry due before the object's pending time is a leftover: of an
            # ended object whose id was reused, or of a discard and a later add.
            if pending is not None and when >= pending[1]:
                del waiting[key]
                due.append(pending[0])
        try:
            for obj in due:
                try:
                    obj.wake()  # may add again
                except Exception as exc:  # one object's bug must not cost the others theirs
                    self._loop.call_exception_handler(
                        {"message": f"{obj!r}.wake() failed", "exception": exc}
                    )
        finally:
            self._timer_at = float("inf")
            while heap and heap[0][1] not in waiting:
                heapq.heappop(heap)  # leftovers of ended objects
            if heap:
                self._arm(max(heap[0][0], now + GRANULARITY))
