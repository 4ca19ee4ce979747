"""`balance roundrobin`: HAProxy's dynamic weighted round robin (lb_fwrr.c).

The default algorithm.  Weights can change at runtime and the order reacts the
way HAProxy's does, request for request (1:1:1 `ABCABC`, 3:1 `AAAB`, 0:2:1
`BBCBBC`…).  Use it for short, even requests; prefer `leastconn` for long ones.

Speed: stepping the exact tree model (`_fwrr.FwrrModel`) costs microseconds, so
the order of an unloaded backend is precomputed: a copy of the model runs ahead
until its trees return to a state seen at an earlier cycle switch, after which
the order provably repeats, and picks then walk a list (`prefix + cycle`).  The
copy advances a few steps per pick (`STEPS_PER_PICK`), so no single request pays
for a whole precomputation.  Snapshots every `CHECKPOINT` picks let the model be
put back at "after the k-th pick" in a few steps when a server's state changes or
a pick must step over a full (maxconn) or avoided server; the model then runs
live, and precomputes again once picks are clean.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from . import register
from ._fwrr import NONE, FwrrModel, Snapshot
from .base import Algorithm, Member

if TYPE_CHECKING:
    from ..request import Request

#: minimum picks between two snapshots of the model while precomputing.
CHECKPOINT = 64
#: how many cycle switches to wait for a repeated state before giving up.
MAX_SWITCHES = 12
#: model steps the precomputation takes per live pick.
STEPS_PER_PICK = 8
#: clean live picks to wait, after a change, before precomputing again.
START_AFTER = 8
#: above this total effective weight (16 x the sum of weights, i.e. a sum of
#: weights of 8,192) the order is not precomputed: it would take too long and too
#: much memory, and picks step the model live (a few µs each).
PRECOMPUTE_MAX_WEIGHT = 1 << 17
#: at most this many snapshots per precomputed order (replay cost is its length
#: divided by this).
MAX_CHECKPOINTS = 32

_Schedule = tuple[list[Member], int, dict[int, Snapshot]]


@register("roundrobin")
class RoundRobin(Algorithm):
    fifo_backend_queue = True

    def setup(self) -> None:
        self.model = FwrrModel(self.members, self.options.allbackups)
        self._schedule: list[Member] = []
        self._loop_start = 0
        self._pos = 0
        self._checkpoints: dict[int, Snapshot] = {}
        self._live = True
        self._clean = 0
        self._ahead: Iterator[_Schedule | None] | None = None
        self._ahead_since = 0

    def __repr__(self) -> str:
        mode = (
            f"schedule {self._pos}/{len(self._schedule)} (cycle from {self._loop_start})"
            if not self._live
            else "live"
        )
        return (
            f"<RoundRobin act={self.srv_act} bck={self.srv_bck} "
            f"tot_weight={self.tot_weight} {mode}>"
        )

    # -- state -----------------------------------------------------------------------

    def rebuild(self) -> None:
        self.model.init()
        self._sync_counts()
        self._go_live()
        self._clean = START_AFTER

    def update(self, member: Member) -> None:
        self._materialize()
        self.model.update(member.index)
        self._sync_counts()
        self._go_live()

    def _sync_counts(self) -> None:
        model = self.model
        self.srv_act, self.srv_bck = model.srv_act, model.srv_bck
        self.tot_wact, self.tot_wbck = model.tot_wact, model.tot_wbck
        self.tot_weight, self.tot_used = model.tot_weight, model.tot_used
        self.fbck = self.members[model.fbck] if model.fbck != NONE else None

    def _go_live(self) -> None:
        self._live = True
        self._schedule = []
        self._checkpoints = {}
        self._clean = 0
        self._ahead = None

    def _materialize(self) -> None:
        """Bring the model to the state after the picks consumed from the schedule."""
        if self._live:
            return
        pos = self._pos
        start = max(c for c in self._checkpoints if c <= pos)
        self.model.restore(self._checkpoints[start])
        for _ in range(pos - start):
            self.model.next_server(NONE, check_full=False)
        self._go_live()

    def _precompute(self, model: FwrrModel) -> Iterator[_Schedule | None]:
        """Step `model` (a copy) through the unloaded order until it provably repeats;
        yields None every STEPS_PER_PICK steps, then the schedule; it stops without
        one when no repetition shows up within the budget."""
        members = self.members
        checkpoints = {0: model.snapshot()}
        order: list[Member] = []
        seen: dict[tuple[int, ...], int] = {}
        switches = 0
        limit = 64 * max(self.tot_weight, 1) + 1024
        every = max(CHECKPOINT, len(members), 3 * self.tot_weight // MAX_CHECKPOINTS)
        while len(order) < limit:
            for _ in range(STEPS_PER_PICK):
                if len(order) % every == 0:
                    checkpoints.setdefault(len(order), model.snapshot())
                model.switched_to = None
                index = model.next_server(NONE, check_full=False)
                if index == NONE:
                    return
                signature = model.switched_to
                if signature is not None:
                    if signature in seen:
                        yield order, seen[signature], checkpoints
                        return
                    seen[signature] = len(order)
                    switches += 1
                    if switches > MAX_SWITCHES:
                        return
                order.append(members[index])
            yield None

    def _advance_precomputation(self) -> None:
        if self.tot_weight > PRECOMPUTE_MAX_WEIGHT:
            return
        if self._ahead is None:
            self._ahead = self._precompute(self.model.clone())
            self._ahead_since = 0
            return
        self._ahead_since += 1
        try:
            result = next(self._ahead)
        except StopIteration:
            self._ahead = None
            self._clean = -64 * max(self.tot_weight, 1)  # no repetition: back off
            return
        if result is None:
            return
        self._ahead = None
        order, loop_start, checkpoints = result
        done = self._ahead_since  # live picks made since the copy was taken
        if done >= len(order):
            done = loop_start + (done - loop_start) % (len(order) - loop_start)
        self._schedule, self._loop_start, self._checkpoints = order, loop_start, checkpoints
        self._pos = done
        self._live = False

    # -- picking -----------------------------------------------------------------------

    def pick(self, request: Request | None, avoid: Member | None = None) -> Member | None:
        if not self._live:
            pos = self._pos
            member = self._schedule[pos]
            if member is not avoid and not (member.server.maxconn and member.full()):
                pos += 1
                self._pos = self._loop_start if pos == len(self._schedule) else pos
                return member
            self._materialize()
        model = self.model
        index = model.next_server(avoid.index if avoid is not None else NONE)
        if model.skipped:
            self._clean = 0
            self._ahead = None
        else:
            self._clean += 1
            if self._clean >= START_AFTER:
                self._advance_precomputation()
        return self.members[index] if index != NONE else None
