"""`balance random[(<draws>)]`: power of N random choices on the consistent ring.

Each request draws `draws` (default 2) random points on the same ring
`hash-type consistent` uses and keeps the server with the lower load relative
to its weight (HAProxy's get_server_rnd).  Good for large farms and when
several load balancers share the servers: no shared state, yet loads stay
even.  Weights change at runtime like `roundrobin`.  If the winner is at
maxconn the request waits in the backend queue.  Feed `Backend(rng=...)` a
seeded `random.Random` for reproducible tests.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING

from ..chash import ConsistentRing
from . import register
from .base import Algorithm, Member

if TYPE_CHECKING:
    from ..request import Request


@register("random")
class Random(Algorithm):
    def setup(self) -> None:
        self.ring = ConsistentRing(self)
        self._draws = self.spec.draws

    def rebuild(self) -> None:
        self.ring.rebuild()

    def update(self, member: Member) -> None:
        self.ring.update(member)

    def take(self, member: Member) -> None:
        self.ring.served += 1

    def drop(self, member: Member) -> None:
        self.ring.served -= 1

    def pick(self, request: Request | None, avoid: Member | None = None) -> Member | None:
        if not self.tot_weight:
            return None
        ring = self.ring
        if avoid is not None or self.options.hash_balance_factor or not self.srv_act:
            return self._pick_general(avoid)
        # Fast path (active servers, no avoid, no bounded loads): the closest point
        # of each draw is one bisect away.
        tree = ring.trees[0]
        bounds, closest = tree.bounds, tree.closest
        getrandbits = self.rng.getrandbits
        cur_ew = ring.cur_ew
        current = closest[bisect_left(bounds, getrandbits(32))]
        for _ in range(self._draws - 1):
            drawn = closest[bisect_left(bounds, getrandbits(32))]
            if drawn is not current and not (
                drawn.inflight * cur_ew[current.index] > current.inflight * cur_ew[drawn.index]
            ):
                current = drawn
        if current.server.maxconn and current.full():
            return None
        return current

    def _pick_general(self, avoid: Member | None) -> Member | None:
        """get_server_rnd as written: draws through chash_get_server_hash."""
        getrandbits = self.rng.getrandbits
        get_hash = self.ring.get_hash
        cur_ew = self.ring.cur_ew
        current: Member | None = None
        for _ in range(self._draws):
            previous = current
            current = get_hash(getrandbits(32), avoid)
            if current is None:
                break
            if (
                previous is not None
                and previous is not current
                and current.inflight * cur_ew[previous.index]
                > previous.inflight * cur_ew[current.index]
            ):
                current = previous
        if current is not None and current.full():
            return None
        return current
