"""Maglev lookup table (Eisenbud et al., NSDI 2016): `hash-type maglev`, an extension.

Not in HAProxy.  Each server walks its own permutation of a prime-sized table and
claims the next free slot on its turn, heavier servers taking more turns; a
lookup is one modulo and one list index, and removing one of N servers moves
little more than that server's 1/N of the keys (docs/algorithms.md has the
measured figure).  The table is rebuilt on every state change, which costs
O(table size): fine for the runtime API, not for per-request churn.
"""

from __future__ import annotations

import mmh3

from .algorithms.base import Algorithm, Member

__all__ = ["MaglevTable", "table_size"]

#: primes the table size is chosen from: the smallest >= 100 x servers.
PRIMES = (1031, 4099, 16411, 65537, 262147, 1048583)


def table_size(servers: int) -> int:
    for prime in PRIMES:
        if prime >= 100 * servers:
            return prime
    return PRIMES[-1]


def build_table(group: list[Member], size: int) -> list[Member]:
    """Fill `size` slots from `group` (each with eweight > 0), weighted by eweight."""
    if not group:
        return []
    offsets = []
    skips = []
    for member in group:
        name = member.name.encode()
        offsets.append(mmh3.hash(name, 1, signed=False) % size)
        skips.append(mmh3.hash(name, 2, signed=False) % (size - 1) + 1)
    heaviest = max(m.eweight for m in group)
    credit = [0] * len(group)
    cursor = [0] * len(group)
    table: list[Member | None] = [None] * size
    filled = 0
    while True:
        for k, member in enumerate(group):
            credit[k] += member.eweight
            if credit[k] < heaviest:
                continue
            credit[k] -= heaviest
            offset, skip, c = offsets[k], skips[k], cursor[k]
            slot = (offset + c * skip) % size
            while table[slot] is not None:
                c += 1
                slot = (offset + c * skip) % size
            cursor[k] = c + 1
            table[slot] = member
            filled += 1
            if filled == size:
                return [m for m in table if m is not None]


class MaglevTable:
    """Active and backup tables with the same lookup interface as ConsistentRing."""

    def __init__(self, algorithm: Algorithm) -> None:
        self.algorithm = algorithm
        self.tables: tuple[list[Member], list[Member]] = ([], [])
        self.cursor = 0
        self.served = 0

    def __repr__(self) -> str:
        return f"<MaglevTable act={len(self.tables[0])} bck={len(self.tables[1])} slots>"

    def rebuild(self) -> None:
        algorithm = self.algorithm
        algorithm.recount()
        members = algorithm.members
        active = [m for m in members if m.usable and not m.backup]
        backup = [m for m in members if m.usable and m.backup]
        size = table_size(max(len(active), len(backup), 1))
        self.tables = (build_table(active, size), build_table(backup, size))

    def update(self, member: Member) -> None:
        self.rebuild()

    def _table(self) -> list[Member] | Member | None:
        algorithm = self.algorithm
        if algorithm.srv_act:
            return self.tables[0]
        if algorithm.fbck is not None:
            return algorithm.fbck
        if algorithm.srv_bck:
            return self.tables[1]
        return None

    def get_hash(self, hash_value: int, avoid: Member | None) -> Member | None:
        table = self._table()
        if table is None or isinstance(table, Member):
            return table
        size = len(table)
        slot = hash_value % size
        member = table[slot]
        if member is avoid:
            for step in range(1, size):
                candidate = table[(slot + step) % size]
                if candidate is not avoid:
                    return candidate
        return member

    def get_next(self, avoid: Member | None) -> Member | None:
        """Round-robin fallback: walk the table, skipping full servers and `avoid`."""
        table = self._table()
        if table is None or isinstance(table, Member):
            return table
        size = len(table)
        avoided: Member | None = None
        for _ in range(size):
            self.cursor = (self.cursor + 1) % size
            member = table[self.cursor]
            if not member.full():
                if member is not avoid:
                    return member
                avoided = member
        return avoided
