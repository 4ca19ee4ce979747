"""`balance static-rr`: weighted round robin over HAProxy's precomputed server map.

Cheaper than `roundrobin` and with no limit on the number of servers, but
weights are fixed at start: at runtime a server's weight may only go to 0 and
back (HAProxy refuses anything else for static algorithms).  Same order as
HAProxy's lb_map.c, e.g. weights 5:3:2 give `AABACABABC`.
"""

from __future__ import annotations

from collections.abc import Iterable
from math import gcd
from typing import TYPE_CHECKING

from . import register
from ._map import ServerMap
from .base import Algorithm, Member

if TYPE_CHECKING:
    from ..request import Request


def weights_gcd(members: Iterable[Member]) -> int:
    """init_server_map's divisor: the GCD of the configured non-zero weights (1 if none)."""
    divisor = 0
    for member in members:
        divisor = gcd(divisor, member.server.weight)
    return divisor or 1


@register("static-rr")
class StaticRoundRobin(Algorithm):
    dynamic = False
    weight_scale = 1
    fifo_backend_queue = True

    def setup(self) -> None:
        self.weight_divisor = weights_gcd(self.members)
        self.map = ServerMap()

    def rebuild(self) -> None:
        self.map.rebuild(self)

    def pick(self, request: Request | None, avoid: Member | None = None) -> Member | None:
        return self.map.next_rr(avoid)
