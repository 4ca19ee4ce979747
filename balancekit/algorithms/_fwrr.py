"""An exact model of HAProxy's fast weighted round robin (lb_fwrr.c).

HAProxy keeps, per group (active, backup), three weight-ordered trees: `init`
(servers not placed yet in this cycle), `curr` (placed, ordered by next position)
and `next` (pushed to the following cycle), and swaps `init`/`next` when a cycle
ends.  Reproducing its picks request for request means reproducing those trees,
their tie order (insertion order) and the integer arithmetic, which is what
`FwrrModel` does with sorted lists of `(key, seq, index)`.

Each step costs a few microseconds in Python, so `roundrobin` does not call it
per request: it records the sequence until the trees come back to a state they
were in at an earlier cycle switch, and then replays that cycle (see
roundrobin.py).  The model can snapshot and restore itself so the pool can jump
back to "the state after the k-th pick" when something changes.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Sequence

from .base import Member

__all__ = ["FwrrModel", "Snapshot"]

SRV_EWGHT_MAX = 256 * 16
SRV_UWGHT_RANGE = 256
BE_WEIGHT_SCALE = 16
MASK32 = 0xFFFFFFFF
NONE = -1
# Tree ids: group g (0 active, 1 backup) owns trees 3g (curr), 3g+1 and 3g+2 (init/next).


#: the per-server lists a pick can change.
_ARRAYS = ("npos", "lpos", "rweight", "lb_tree", "in_tree", "key", "seq")


class Snapshot:
    """Everything a pick can change, copied (restoring it rewinds the model)."""

    __slots__ = ("arrays", "counter", "groups", "trees")

    def __init__(self, model: FwrrModel) -> None:
        self.trees = [list(tree) for tree in model.trees]
        self.groups = [
            (g.curr, g.init, g.next, g.curr_pos, g.curr_weight, g.next_weight) for g in model.groups
        ]
        self.arrays: dict[str, list[int]] = {name: list(getattr(model, name)) for name in _ARRAYS}
        self.counter = model.counter


def _cdiv(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


class _Group:
    __slots__ = ("curr", "curr_pos", "curr_weight", "init", "next", "next_weight")

    def __init__(self, base: int) -> None:
        self.curr = base
        self.init = base + 1
        self.next = base + 2
        self.curr_pos = 0
        self.curr_weight = 0
        self.next_weight = 0


class FwrrModel:
    """Server trees and positions of one backend, mutated exactly as lb_fwrr.c does."""

    def __init__(self, members: Sequence[Member], allbackups: bool) -> None:
        self.members = members
        self.allbackups = allbackups
        n = len(members)
        self.trees: list[list[tuple[int, int, int]]] = [[] for _ in range(6)]
        self.groups = (_Group(0), _Group(3))
        self.npos = [0] * n
        self.lpos = [0] * n
        self.rweight = [0] * n
        self.lb_tree = [NONE] * n
        self.in_tree = [NONE] * n
        self.key = [0] * n
        self.seq = [0] * n
        self.cur_ew = [0] * n
        self.cur_usable = [False] * n
        self.counter = 0
        self.srv_act = 0
        self.srv_bck = 0
        self.tot_wact = 0
        self.tot_wbck = 0
        self.tot_weight = 0
        self.tot_used = 0
        self.fbck: int = NONE
        #: set by a tree switch: the `init` order right after it (cycle detection).
        self.switched_to: tuple[int, ...] | None = None
        #: the last pick stepped over a full or avoided server (it differs from an
        #: unloaded pick, so a precomputed order no longer applies).
        self.skipped = False
        #: inside an lbprm op: "next" weight/usability are the members' live values;
        #: otherwise the committed ones, so a replay after a change replays the past.
        self._changing = False

    def __repr__(self) -> str:
        act = self.groups[0]
        return (
            f"<FwrrModel act={self.srv_act} bck={self.srv_bck} curr_pos={act.curr_pos} "
            f"curr_weight={act.curr_weight} next_weight={act.next_weight}>"
        )

    # -- snapshots -------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        return Snapshot(self)

    def clone(self) -> FwrrModel:
        """An independent copy (same members), to run ahead without touching this one."""
        other = FwrrModel.__new__(FwrrModel)
        other.__dict__.update(self.__dict__)
        other.groups = (_Group(0), _Group(3))
        other.cur_ew = self.cur_ew.copy()
        other.cur_usable = self.cur_usable.copy()
        other.restore(self.snapshot())
        return other

    def restore(self, snap: Snapshot) -> None:
        self.trees = [list(tree) for tree in snap.trees]
        for group, values in zip(self.groups, snap.groups, strict=True):
            (
                group.curr,
                group.init,
                group.next,
                group.curr_pos,
                group.curr_weight,
                group.next_weight,
            ) = values
        for name, array in snap.arrays.items():
            setattr(self, name, array.copy())
        self.counter = snap.counter

    # -- tree primitives ---------------------------------------------------------------

    def _insert(self, tree: int, i: int, key: int) -> None:
        self.counter += 1
        self.key[i] = key
        self.seq[i] = self.counter
        insort(self.trees[tree], (key, self.counter, i))
        self.in_tree[i] = tree

    def _dequeue(self, i: int) -> None:
        tree = self.in_tree[i]
        if tree == NONE:
            return
        items = self.trees[tree]
        entry = (self.key[i], self.seq[i], i)
        pos = bisect_left(items, entry)
        del items[pos]
        self.in_tree[i] = NONE

    def _first(self, tree: int) -> int:
        items = self.trees[tree]
        return items[0][2] if items else NONE

    def _group(self, i: int) -> _Group:
        return self.groups[1 if self.members[i].backup else 0]

    def _next_ew(self, i: int) -> int:
        return self.members[i].eweight if self._changing else self.cur_ew[i]

    def _queue_by_weight(self, tree: int, i: int) -> None:
        self._insert(tree, i, SRV_EWGHT_MAX - self._next_ew(i))
        self.lb_tree[i] = tree

    def _queue_srv(self, i: int) -> None:
        grp = self._group(i)
        next_ew = self._next_ew(i)
        usable = self.members[i].usable if self._changing else self.cur_usable[i]
        if not usable:
            self.lb_tree[i] = NONE
        elif (
            next_ew <= 0
            or self.npos[i] >= 2 * grp.curr_weight
            or self.npos[i] >= grp.curr_weight + grp.next_weight
        ):
            self.npos[i] -= grp.curr_weight
            self._queue_by_weight(grp.next, i)
        else:
            key = (
                SRV_UWGHT_RANGE * self.npos[i]
                + ((SRV_EWGHT_MAX + self.rweight[i] - next_ew) & MASK32) // BE_WEIGHT_SCALE
            )
            self._insert(grp.curr, i, key & MASK32)
            self.lb_tree[i] = grp.curr

    def _get_srv(self, i: int) -> None:
        grp = self._group(i)
        tree = self.lb_tree[i]
        if tree == grp.init:
            self.npos[i] = self.rweight[i] = 0
        elif tree == grp.next:
            self.npos[i] += grp.curr_weight
        elif tree == NONE:
            self.npos[i] = grp.curr_pos

    # -- backend weight bookkeeping -------------------------------------------------------

    def _update_backend_weight(self) -> None:
        if self.srv_act:
            self.tot_weight, self.tot_used = self.tot_wact, self.srv_act
        elif self.fbck != NONE:
            self.tot_weight, self.tot_used = self.members[self.fbck].eweight, 1
        else:
            self.tot_weight, self.tot_used = self.tot_wbck, self.srv_bck

    def _commit(self, i: int) -> None:
        self.cur_ew[i] = self.members[i].eweight
        self.cur_usable[i] = self.members[i].usable

    # -- lbprm ops ------------------------------------------------------------------------

    def init(self) -> None:
        """fwrr_init_server_groups."""
        n = len(self.members)
        self.trees = [[] for _ in range(6)]
        self.lb_tree = [NONE] * n
        self.in_tree = [NONE] * n
        self.npos = [0] * n
        self.lpos = [0] * n
        self.rweight = [0] * n
        srv_act = srv_bck = tot_wact = tot_wbck = 0
        fbck = NONE
        for i, member in enumerate(self.members):
            self._commit(i)
            if not member.usable:
                continue
            if member.backup:
                if not srv_bck and not self.allbackups:
                    fbck = i
                srv_bck += 1
                tot_wbck += member.eweight
            else:
                srv_act += 1
                tot_wact += member.eweight
        self.srv_act, self.srv_bck, self.tot_wact, self.tot_wbck = (
            srv_act,
            srv_bck,
            tot_wact,
            tot_wbck,
        )
        self.fbck = fbck
        self._update_backend_weight()
        for grp, total in zip(self.groups, (tot_wact, tot_wbck), strict=True):
            grp.curr_pos = grp.curr_weight = grp.next_weight = total
            base = grp.curr
            grp.init, grp.next = base + 1, base + 2
        for i, member in enumerate(self.members):
            if member.usable:
                self._queue_by_weight(self._group(i).init, i)

    def set_status_down(self, i: int) -> None:
        member = self.members[i]
        if member.usable:
            self._commit(i)
            return
        if not self.cur_usable[i]:
            self._update_backend_weight()
            self._commit(i)
            return
        grp = self._group(i)
        grp.next_weight -= self.cur_ew[i]
        if member.backup:
            self.tot_wbck = grp.next_weight
            self.srv_bck -= 1
            if i == self.fbck:
                j = i + 1
                while j < len(self.members) and not (
                    self.members[j].backup and self.members[j].usable
                ):
                    j += 1
                self.fbck = j if j < len(self.members) else NONE
        else:
            self.tot_wact = grp.next_weight
            self.srv_act -= 1
        self._dequeue(i)
        self.lb_tree[i] = NONE
        self._update_backend_weight()
        self._commit(i)

    def set_status_up(self, i: int) -> None:
        member = self.members[i]
        if not member.usable:
            self._commit(i)
            return
        if self.cur_usable[i]:
            self._update_backend_weight()
            self._commit(i)
            return
        grp = self._group(i)
        grp.next_weight += member.eweight
        if member.backup:
            self.tot_wbck = grp.next_weight
            self.srv_bck += 1
            if not self.allbackups and (self.fbck == NONE or i < self.fbck):
                self.fbck = i
        else:
            self.tot_wact = grp.next_weight
            self.srv_act += 1
        self._get_srv(i)
        self.npos[i] = grp.curr_pos + _cdiv(
            grp.next_weight + grp.curr_weight - grp.curr_pos, member.eweight
        )
        self._queue_srv(i)
        self._update_backend_weight()
        self._commit(i)

    def update(self, i: int) -> None:
        """fwrr_update_server_weight: any change of state or effective weight.  Like
        HAProxy (srv_lb_status_changed), nothing moves when neither changed."""
        member = self.members[i]
        if self.cur_usable[i] == member.usable and self.cur_ew[i] == member.eweight:
            return
        self._changing = True
        try:
            self._update(i)
        finally:
            self._changing = False

    def _update(self, i: int) -> None:
        member = self.members[i]
        old, new = self.cur_usable[i], member.usable
        if not old and not new:
            self._commit(i)
            return
        if not old:
            self.set_status_up(i)
            return
        if not new:
            self.set_status_down(i)
            return
        grp = self._group(i)
        next_ew = member.eweight
        grp.next_weight = grp.next_weight - self.cur_ew[i] + next_ew
        self.tot_wact = self.groups[0].next_weight
        self.tot_wbck = self.groups[1].next_weight
        tree = self.lb_tree[i]
        if tree == grp.init:
            self._dequeue(i)
            self._queue_by_weight(grp.init, i)
        elif tree == NONE:
            self._dequeue(i)
            self._get_srv(i)
            self.npos[i] = grp.curr_pos + _cdiv(
                grp.next_weight + grp.curr_weight - grp.curr_pos, next_ew
            )
            self._queue_srv(i)
        else:
            self._get_srv(i)
            if next_ew > 0:
                prev_next = self.npos[i]
                step = grp.next_weight // next_ew
                self.npos[i] = self.lpos[i] + step
                self.rweight[i] = 0
                if self.npos[i] > prev_next:
                    self.npos[i] = prev_next
                if self.npos[i] < grp.curr_pos + 2:
                    self.npos[i] = grp.curr_pos + step
            else:
                self.npos[i] = grp.curr_pos + grp.curr_weight
            self._dequeue(i)
            self._queue_srv(i)
        self._update_backend_weight()
        self._commit(i)

    # -- picking ----------------------------------------------------------------------------

    def _switch_trees(self, grp: _Group) -> None:
        grp.init, grp.next = grp.next, grp.init
        grp.curr_weight = grp.next_weight
        grp.curr_pos = grp.curr_weight
        self.switched_to = tuple(entry[2] for entry in self.trees[grp.init])

    def _from_group(self, grp: _Group) -> int:
        s1 = self._first(grp.curr)
        if s1 != NONE and self.cur_ew[s1] and self.npos[s1] <= grp.curr_pos:
            return s1
        s2 = self._first(grp.init)
        if s2 != NONE and self.cur_ew[s2]:
            self.npos[s2] = self.rweight[s2] = 0
            return s2
        return s1

    def _update_position(self, grp: _Group, i: int) -> None:
        eweight = self.cur_ew[i]
        if not eweight:
            return
        if not self.npos[i]:
            self.npos[i] = grp.curr_pos
        self.lpos[i] = self.npos[i]
        self.npos[i] += grp.next_weight // eweight
        self.rweight[i] += grp.next_weight % eweight
        if self.rweight[i] >= eweight:
            self.rweight[i] -= eweight
            self.npos[i] += 1

    def next_server(self, avoid: int = NONE, check_full: bool = True) -> int:
        """fwrr_get_next_server.  With `check_full` False every server counts as having
        room (used to precompute the order of an unloaded backend)."""
        if self.srv_act:
            grp = self.groups[0]
        elif self.fbck != NONE:
            return self.fbck
        elif self.srv_bck:
            grp = self.groups[1]
        else:
            return NONE
        members = self.members
        switched = False
        avoided = NONE
        full: list[int] = []
        srv = NONE
        take = True
        while True:
            if not grp.curr_weight:
                grp.curr_pos = grp.curr_weight = grp.next_weight
            while True:
                srv = self._from_group(grp)
                if srv != NONE:
                    break
                if switched:
                    break
                switched = True
                self._switch_trees(grp)
            if srv == NONE:
                if avoided != NONE:
                    srv = avoided
                else:
                    take = False
                break
            self._update_position(grp, srv)
            self._dequeue(srv)
            grp.curr_pos += 1
            if not check_full or not members[srv].full():
                if srv != avoid or avoided != NONE:
                    break
                avoided = srv
            full.append(srv)
        self.skipped = bool(full)
        if take:
            self._queue_srv(srv)
        for extracted in reversed(full):
            if extracted == srv and take:
                continue
            if switched:
                self._queue_by_weight(grp.init, extracted)
            else:
                self._queue_srv(extracted)
        return srv
