"""The local updates of a shared stick table, in order (HAProxy's `updates` tree).

Why a log and not a flag per entry: each peer reads it from its own position
(the last update it acknowledged) and several peers read at different speeds;
an entry touched again moves to the end with a new number, so a peer that
reconnects resumes where it left off and never gets an entry twice for one
change.  Only local changes get a number: what a peer taught is not echoed
back to the fleet, as in HAProxy, where every peer talks to every other.

Numbers are HAProxy's 32-bit update ids: they wrap, and positions compare in
serial-number arithmetic.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterator

__all__ = ["UpdateLog"]

_U32 = 0xFFFFFFFF


class UpdateLog:
    """Update ids for the slots of one table, oldest first."""

    __slots__ = ("_ids", "_slot_update", "_slots", "last", "listener")

    def __init__(self) -> None:
        #: The newest update id (HAProxy's `localupdate`); 0 before any.
        self.last = 0
        #: Called after each change (the peers sessions wake up to send it).
        self.listener: Callable[[], None] | None = None
        self._slot_update: dict[int, int] = {}
        # Parallel arrays, ids increasing (as unwrapped integers): id → slot.
        self._ids: array[int] = array("Q")
        self._slots: array[int] = array("I")

    def __len__(self) -> int:
        return len(self._slot_update)

    def record(self, slot: int) -> int:
        """`slot` changed locally: it gets the next update id."""
        self.last += 1
        self._slot_update[slot] = self.last
        self._ids.append(self.last)
        self._slots.append(slot)
        if len(self._ids) > 2 * len(self._slot_update) + 1024:
            self._compact()
        if self.listener is not None:
            self.listener()
        return self.last & _U32

    def forget(self, slot: int) -> None:
        """The entry in `slot` is gone: its pending update with it."""
        self._slot_update.pop(slot, None)

    def after(self, update_id: int) -> Iterator[tuple[int, int]]:
        """(update id, slot) of every live update after `update_id` (a 32-bit id a
        peer acknowledged), oldest first; an id from the future means all of them."""
        start = self._unwrap(update_id)
        index = bisect_right(self._ids, start)
        slot_update = self._slot_update
        ids, slots = self._ids, self._slots
        while index < len(ids):
            full, slot = ids[index], slots[index]
            index += 1
            if slot_update.get(slot) == full:
                yield full & _U32, slot

    def _unwrap(self, update_id: int) -> int:
        """The unwrapped id nearest below `last` whose low 32 bits are `update_id`."""
        delta = (self.last - update_id) & _U32
        if delta >= 2**31:  # ahead of us: a peer remembering an older process
            return 0
        return self.last - delta

    def _compact(self) -> None:
        live = [(i, s) for i, s in zip(self._ids, self._slots, strict=True)]
        live = [(i, s) for i, s in live if self._slot_update.get(s) == i]
        self._ids = array("Q", (i for i, _ in live))
        self._slots = array("I", (s for _, s in live))
