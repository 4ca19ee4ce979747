"""What every hashing `balance` (source, uri, url_param, hdr) shares.

HAProxy's flow (backend.c): with no usable server, nothing; with exactly one,
no hashing at all (hash 0); otherwise extract the key, hash it with the
`hash-type` function (plus avalanche), and look it up in the map (`map-based`)
or on the ring (`consistent`).  A missing key falls back to round robin on the
same structure: the map's round-robin cursor, or a walk of the ring.

Subclasses only say which string is the key (`raw_key`) and how it becomes a
hash (`digest`).  Digests are cached per raw key, so a hot key costs a dict
lookup instead of a byte loop.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING, Protocol

from ..chash import ConsistentRing
from ..hashing import HashCache, full_hash, hash_function
from ..maglev import MaglevTable
from ._map import ServerMap
from .base import Algorithm, Member
from .static_rr import weights_gcd

if TYPE_CHECKING:
    from ..request import Request

__all__ = ["HashAlgorithm", "Lookup", "MapLookup"]

_MISS = -1


class Lookup(Protocol):
    """The hash -> server structure: map, consistent ring or Maglev table."""

    served: int

    def rebuild(self) -> None: ...

    def update(self, member: Member) -> None: ...

    def get_hash(self, hash_value: int, avoid: Member | None) -> Member | None: ...

    def get_next(self, avoid: Member | None) -> Member | None: ...


class MapLookup:
    """`hash-type map-based`: `map[hash % total weight]`; fallback on the map's cursor."""

    def __init__(self, algorithm: Algorithm) -> None:
        self.algorithm = algorithm
        self.map = ServerMap()
        self.served = 0

    def __repr__(self) -> str:
        return repr(self.map)

    def rebuild(self) -> None:
        self.map.rebuild(self.algorithm)

    def update(self, member: Member) -> None:
        self.map.rebuild(self.algorithm)

    def get_hash(self, hash_value: int, avoid: Member | None) -> Member | None:
        return self.map.get_hash(hash_value)

    def get_next(self, avoid: Member | None) -> Member | None:
        return self.map.next_rr(avoid)


class HashAlgorithm(Algorithm):
    """Base of the hashing algorithms; the lookup structure follows `hash-type`."""

    skips_full = False
    #: reads the HTTP request (uri, url_param, hdr): round robin in `mode tcp`.
    layer7: bool = True
    lookup: Lookup

    def setup(self) -> None:
        method = self.hashing.method
        if method == "map-based":
            self.dynamic = False
            self.weight_scale = 1
            self.weight_divisor = weights_gcd(self.members)
            self.lookup = MapLookup(self)
        elif method == "consistent":
            self.lookup = ConsistentRing(self)
        else:
            self.lookup = MaglevTable(self)
        self._function = hash_function(self.hashing.function)
        self._avalanche = self.hashing.avalanche
        self.cache = HashCache()
        self.reads_request = self.options.http or not self.layer7

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} balance={self.keyword} hash-type={self.hashing.method} "
            f"{self.hashing.function}{' avalanche' if self._avalanche else ''} "
            f"act={self.srv_act} bck={self.srv_bck} {self.lookup!r} cache={len(self.cache)}>"
        )

    def rebuild(self) -> None:
        self.lookup.rebuild()

    def update(self, member: Member) -> None:
        self.lookup.update(member)

    def take(self, member: Member) -> None:
        self.lookup.served += 1

    def drop(self, member: Member) -> None:
        self.lookup.served -= 1

    def hash_bytes(self, data: bytes) -> int:
        """The configured function, then avalanche if set (gen_hash + full_hash)."""
        value = self._function(data)
        return full_hash(value) if self._avalanche else value

    @abstractmethod
    def raw_key(self, request: Request) -> str | None:
        """The request field the key comes from (the cache key), or None if absent."""

    @abstractmethod
    def digest(self, raw: str) -> int | None:
        """The final 32-bit hash of `raw`, or None when it holds no usable key."""

    def pick(self, request: Request | None, avoid: Member | None = None) -> Member | None:
        if not self.tot_weight:
            return None
        lookup = self.lookup
        if self.tot_used == 1:
            return lookup.get_hash(0, avoid)
        raw = self.raw_key(request) if request is not None and self.reads_request else None
        if raw is None:
            return lookup.get_next(avoid)
        cache = self.cache
        value = cache.data.get(raw, _MISS)
        if value == _MISS:
            value = self.digest(raw)
            cache.put(raw, value)
        if value is None:
            return lookup.get_next(avoid)
        return lookup.get_hash(value, avoid)


def encode(text: str) -> bytes:
    """Request text back to the bytes HAProxy saw: front ends decode the wire as
    latin-1, so that is undone first; text beyond latin-1 (a Python caller's own
    string) is taken as UTF-8."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape")
