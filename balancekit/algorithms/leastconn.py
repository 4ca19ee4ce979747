"""`balance leastconn`: the server with the fewest requests per unit of weight.

For long or uneven requests (databases, websockets, LDAP).  As HAProxy's
lb_fwlc.c: each usable server sits in a tree under the key
`(inflight + 1) * 4096 / eweight` (0 when idle, inflight counting its queue),
the lowest key wins, and servers with equal keys take turns because a server
moves behind its equals every time its count changes.  Full servers are
stepped over unless their queue (`maxqueue`) still has room.

The tree is a dict of insertion-ordered buckets plus a sorted list of keys, so a
pick reads the first member of the lowest bucket.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from typing import TYPE_CHECKING

from . import register
from .base import Algorithm, Member

if TYPE_CHECKING:
    from ..request import Request

SRV_EWGHT_MAX = 4096


class _Tree:
    """Buckets of members by key, each bucket in insertion order."""

    __slots__ = ("buckets", "keys")

    def __init__(self) -> None:
        self.buckets: dict[int, dict[Member, None]] = {}
        self.keys: list[int] = []

    def insert(self, key: int, member: Member) -> None:
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = {}
            insort(self.keys, key)
        bucket[member] = None

    def remove(self, key: int, member: Member) -> None:
        bucket = self.buckets[key]
        del bucket[member]
        if not bucket:
            del self.buckets[key]
            del self.keys[bisect_left(self.keys, key)]


@register("leastconn")
class LeastConn(Algorithm):
    def setup(self) -> None:
        self.trees = (_Tree(), _Tree())
        self._key: dict[Member, int] = {}
        self._cur_usable = [False] * len(self.members)
        self._cur_ew = [0] * len(self.members)

    def _compute_key(self, member: Member) -> int:
        inflight = member.inflight + len(member.queue)
        eweight = member.eweight or 1
        return (inflight + 1) * SRV_EWGHT_MAX // eweight if inflight else 0

    def _queue(self, member: Member) -> None:
        key = self._compute_key(member)
        self._key[member] = key
        self.trees[member.backup].insert(key, member)

    def _dequeue(self, member: Member) -> None:
        key = self._key.pop(member, None)
        if key is not None:
            self.trees[member.backup].remove(key, member)

    def rebuild(self) -> None:
        self.recount()
        self.trees = (_Tree(), _Tree())
        self._key = {}
        for member in self.members:
            self._cur_usable[member.index] = member.usable
            self._cur_ew[member.index] = member.eweight
            if member.usable:
                self._queue(member)

    def update(self, member: Member) -> None:
        """fwlc_set_server_status_up/down and fwlc_update_server_weight; nothing moves
        when neither usability nor effective weight changed (srv_lb_status_changed)."""
        i = member.index
        if self._cur_usable[i] == member.usable and self._cur_ew[i] == member.eweight:
            return
        self._cur_ew[i] = member.eweight
        self.recount()
        self._dequeue(member)
        if member.usable:
            self._queue(member)
        self._cur_usable[member.index] = member.usable

    def _reposition(self, member: Member) -> None:
        """fwlc_srv_reposition: move only when the key changed."""
        old = self._key.get(member)
        if old is None:
            return
        new = self._compute_key(member)
        if new != old:
            self.trees[member.backup].remove(old, member)
            self._key[member] = new
            self.trees[member.backup].insert(new, member)

    take = drop = _reposition

    def touch(self, member: Member) -> None:
        """A pick with no lease behaves as a request that came and went: the server
        goes behind the others with its key."""
        key = self._key.get(member)
        if key is not None:
            bucket = self.trees[member.backup].buckets[key]
            del bucket[member]
            bucket[member] = None

    def pick(self, request: Request | None, avoid: Member | None = None) -> Member | None:
        if self.srv_act:
            tree = self.trees[0]
        elif self.fbck is not None:
            return self.fbck
        elif self.srv_bck:
            tree = self.trees[1]
        else:
            return None
        buckets = tree.buckets
        avoided: Member | None = None
        for key in tree.keys:
            for member in buckets[key]:
                maxconn = member.server.maxconn
                if (
                    not maxconn
                    or member.inflight + len(member.queue) < maxconn + member.server.maxqueue
                ):
                    if member is not avoid:
                        return member
                    avoided = member
        return avoided
