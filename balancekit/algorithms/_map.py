"""HAProxy's server map (lb_map.c), shared by `static-rr` and map-based hashing.

The map has one slot per unit of effective weight (weights divided by their
GCD).  HAProxy fills slot after slot: every usable server adds its weight to a
score, the highest `(score + tot) / tot` wins (first declared on ties) and pays
`tot` back.  Done literally that is O(slots x servers); here the same winner is
found with two heaps, using `floor((o+1) * w / tot) - wins` as each server's
score for slot `o`, so rebuilding a 1,000-server map stays cheap.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from .base import Algorithm, Member

__all__ = ["ServerMap", "build_map"]


def build_map(group: Sequence[Member], tot: int) -> list[Member]:
    """The `tot`-slot map HAProxy's recalc_server_map() builds over `group`
    (usable servers of one kind, in declaration order, each with eweight > 0)."""
    if not group or tot <= 0:
        return []
    if tot == 1:
        return [group[0]]
    weights = [m.eweight for m in group]
    n = len(weights)
    floors = [0] * n
    wins = [0] * n
    best: list[tuple[int, int]] = [(0, i) for i in range(n)]
    # Slot at which floor((o+1) * w / tot) next grows, per server.
    events = [((tot + w - 1) // w - 1, i) for i, w in enumerate(weights)]
    heapq.heapify(events)
    push, pop, replace = heapq.heappush, heapq.heappop, heapq.heapreplace
    table: list[Member] = []
    append = table.append
    for slot in range(tot):
        while events[0][0] <= slot:
            i = events[0][1]
            w = weights[i]
            grown = ((slot + 1) * w) // tot
            floors[i] = grown
            push(best, (wins[i] - grown, i))
            replace(events, (((grown + 1) * tot + w - 1) // w - 1, i))
        while True:
            score, i = best[0]
            if score == wins[i] - floors[i]:
                break
            pop(best)
        append(group[i])
        wins[i] += 1
        replace(best, (wins[i] - floors[i], i))
    return table


class ServerMap:
    """The map plus its round-robin cursor (`rr_idx`), as one backend holds them."""

    __slots__ = ("rr_idx", "table", "tot")

    def __init__(self) -> None:
        self.table: list[Member] = []
        self.tot = 0
        self.rr_idx = 0

    def rebuild(self, algorithm: Algorithm) -> None:
        """recount_servers + update_backend_weight + recalc_server_map."""
        algorithm.recount()
        self.tot = algorithm.tot_weight
        if algorithm.tot_used == 0:
            return
        _, group = algorithm.current_group()
        self.table = build_map(group, self.tot)

    def get_hash(self, hash_value: int) -> Member | None:
        """map_get_server_hash: the slot `hash % tot`, full or not."""
        if not self.tot:
            return None
        return self.table[hash_value % self.tot]

    def get_rr(self, avoid: Member | None) -> Member | None:
        """map_get_server_rr: next slot whose server has room, stepping over `avoid`
        unless it is the only one with room."""
        tot = self.tot
        if not tot:
            return None
        if self.rr_idx < 0 or self.rr_idx >= tot:
            self.rr_idx = 0
        newidx = self.rr_idx
        avoided: Member | None = None
        avoididx = 0
        table = self.table
        while True:
            member = table[newidx]
            newidx += 1
            if not member.full():
                avoided = member
                avoididx = newidx
                if member is not avoid:
                    self.rr_idx = newidx
                    return member
            if newidx == tot:
                newidx = 0
            if newidx == self.rr_idx:
                break
        if avoided is not None:
            self.rr_idx = avoididx
        return avoided

    def next_rr(self, avoid: Member | None) -> Member | None:
        """get_rr with an O(1) fast path for the common case (slot free, not avoided)."""
        tot = self.tot
        if not tot:
            return None
        i = self.rr_idx
        if i >= tot or i < 0:
            i = 0
        member = self.table[i]
        if member is not avoid and not (member.server.maxconn and member.full()):
            self.rr_idx = i + 1
            return member
        return self.get_rr(avoid)

    def __repr__(self) -> str:
        return f"<ServerMap slots={self.tot} rr_idx={self.rr_idx}>"
