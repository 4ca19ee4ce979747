"""`balance roundrobin`: HAProxy's dynamic weighted round robin (lb_fwrr.c).

The default algorithm.  Weights can change at runtime and the order reacts the
way HAProxy's does, request for request (1:1:1 `ABCABC`, 3:1 `AAAB`, 0:2:1
`BBCBBC`…).  Use it for short, even requests; prefer `leastconn` for long ones.

Speed: stepping the exact tree model costs microseconds, so the pick order of an
unloaded backend is precomputed.  The model is run until its trees return to a
state seen at an earlier cycle switch; from then on the order repeats, so picks
walk a list (`prefix + cycle`).  Snapshots every `CHECKPOINT` picks let the model
be brought back to "after the k-th pick" in a few steps when a server's state
changes or a pick has to step over a full (maxconn) or avoided server; the model
then runs live until it has earned another precomputation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import register
from ._fwrr import NONE, FwrrModel, Snapshot
from .base import Algorithm, Member

if TYPE_CHECKING:
    from ..request import Request

#: picks between two snapshots of the model while precomputing a schedule.
CHECKPOINT = 64
#: how many cycle switches to wait for a repeated state before giving up.
MAX_SWITCHES = 12


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
        self._threshold = 0

    # -- state -----------------------------------------------------------------------

    def rebuild(self) -> None:
        self.model.init()
        self._sync_counts()
        self._go_live()
        self._clean = self._threshold  # precompute on the first pick

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
        self._threshold = max(32, self.tot_weight)

    def _materialize(self) -> None:
        """Bring the model to the state after the picks consumed from the schedule."""
        if self._live:
            return
        pos = self._pos
        start = max(c for c in self._checkpoints if c <= pos)
        self.model.restore(self._checkpoints[start])
        for _ in range(pos - start):
            self.model.next_server(NONE, check_full=False)
        self._live = True
        self._schedule = []
        self._checkpoints = {}

    def _precompute(self) -> None:
        """Record the unloaded pick order until it provably repeats."""
        model = self.model
        members = self.members
        checkpoints = {0: model.snapshot()}
        order: list[Member] = []
        seen: dict[tuple[int, ...], int] = {}
        switches = 0
        limit = 64 * max(self.tot_weight, 1) + 1024
        every = max(CHECKPOINT, len(members))
        while len(order) < limit:
            if len(order) % every == 0:
                checkpoints.setdefault(len(order), model.snapshot())
            model.switched_to = None
            index = model.next_server(NONE, check_full=False)
            if index == NONE:
                break
            signature = model.switched_to
            if signature is not None:
                position = len(order)
                if signature in seen:
                    self._schedule = order
                    self._loop_start = seen[signature]
                    self._checkpoints = checkpoints
                    self._pos = 0
                    # The model now stands one pick past the schedule's end; it is
                    # restored from a checkpoint when it is needed again.
                    self._live = False
                    return
                seen[signature] = position
                switches += 1
                if switches > MAX_SWITCHES:
                    break
            order.append(members[index])
        # No repetition found: restore and stay live, retry much later.
        model.restore(checkpoints[0])
        self._live = True
        self._clean = 0
        self._threshold *= 8

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
            self._clean = 0
        elif self._clean >= self._threshold and avoid is None:
            self._precompute()
            if not self._live:
                return self.pick(request, avoid)
        index = self.model.next_server(avoid.index if avoid is not None else NONE)
        self._clean = self._clean + 1 if avoid is None else 0
        return self.members[index] if index != NONE else None
