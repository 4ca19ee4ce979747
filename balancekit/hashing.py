"""HAProxy's 32-bit hash functions (src/hash.c), its avalanche mix, and a key cache.

Hashing algorithms must give the same 32-bit number HAProxy computes, or the
same request lands on a different server.  Byte-at-a-time loops are slow in
Python, so the two polynomial hashes (sdbm, djb2) are evaluated as a dot product
with precomputed powers, CRC32 is zlib's (the same reflected 0xEDB88320 CRC),
and `HashCache` remembers recent keys so a realistic (Zipf) key mix rarely
hashes at all.
"""

from __future__ import annotations

import operator
import zlib
from collections import OrderedDict
from collections.abc import Callable

import mmh3

__all__ = [
    "HASH_FUNCTIONS",
    "HashCache",
    "crc32",
    "crc32c",
    "djb2",
    "full_hash",
    "hash_function",
    "hash_none",
    "murmur3",
    "sdbm",
    "wt6",
    "xxh32",
    "xxh64",
]

MASK32 = 0xFFFFFFFF
_SDBM_MULT = 65599  # c + (h << 6) + (h << 16) - h  ==  h * 65599 + c
_DJB2_MULT = 33  # (h << 5) + h + c  ==  h * 33 + c


class _Powers:
    """Powers of a multiplier mod 2**32, highest first, grown on demand.

    A polynomial hash `h = h * m + c` over n bytes equals the sum of
    `c[i] * m**(n-1-i)`: `map(mul)` + `sum` does that loop in C.
    """

    __slots__ = ("_mult", "_table")

    def __init__(self, mult: int) -> None:
        self._mult = mult
        self._table: list[int] = []
        self._grow(64)

    def _grow(self, size: int) -> None:
        table = [1] * size
        for i in range(size - 2, -1, -1):
            table[i] = (table[i + 1] * self._mult) & MASK32
        self._table = table

    def tail(self, n: int) -> list[int]:
        if n > len(self._table):
            self._grow(max(n, 2 * len(self._table)))
        return self._table[len(self._table) - n :]

    def power(self, n: int) -> int:
        return pow(self._mult, n, 1 << 32)


_SDBM = _Powers(_SDBM_MULT)
_DJB2 = _Powers(_DJB2_MULT)
_mul = operator.mul


def sdbm(data: bytes) -> int:
    """HAProxy's default: `h = c + (h << 6) + (h << 16) - h` from 0."""
    n = len(data)
    if n == 0:
        return 0
    total: int = sum(map(_mul, data, _SDBM.tail(n)))
    return total & MASK32


def djb2(data: bytes) -> int:
    """`h = h * 33 + c` from 5381."""
    n = len(data)
    start = (5381 * _DJB2.power(n)) & MASK32
    if n == 0:
        return start
    total: int = sum(map(_mul, data, _DJB2.tail(n)))
    return (start + total) & MASK32


def wt6(data: bytes) -> int:
    """Willy Tarreau's 6-bit-rotation hash (hash.c hash_wt6)."""
    h0 = 0xA53C965A
    h1 = 0x5CA6953A
    step0 = 6
    step1 = 18
    for t in data:
        h0 = ~(h0 ^ t) & MASK32
        h1 = ~(h1 + t) & MASK32
        t = ((h1 << step0) | (h1 >> (32 - step0))) & MASK32
        h1 = ((h0 << step1) | (h0 >> (32 - step1))) & MASK32
        h0 = t
        t = ((h0 >> 16) ^ h1) & 0xFFFF
        step0 = t & 0x1F
        step1 = t >> 11
    return h0 ^ h1


def crc32(data: bytes) -> int:
    """Reflected CRC-32 (poly 0xEDB88320, init ~0, final ~): exactly zlib's."""
    return zlib.crc32(data)


def hash_none(data: bytes) -> int:
    """`none` (HAProxy 2.8+, an extension here): the key read as a decimal integer.

    Like HAProxy's read_int64: optional sign, digits up to the first non-digit,
    saturating at the 64-bit limits, then truncated to 32 bits.
    """
    i = 0
    negative = False
    if data[:1] == b"-":
        negative, i = True, 1
    elif data[:1] == b"+":
        i = 1
    value = 0
    limit = (1 << 64) - 1
    for byte in data[i:]:
        if not 48 <= byte <= 57:
            break
        if value != limit:
            value = value * 10 + byte - 48
            if value > limit:
                value = limit
    if negative:
        value = -(1 << 63) if value > (1 << 63) else -value
    elif value > (1 << 63) - 1:
        value = (1 << 63) - 1
    return value & MASK32


def murmur3(data: bytes) -> int:
    """MurmurHash3 x86 32-bit, seed 0 (extension: not in HAProxy)."""
    return int(mmh3.hash(data, 0, signed=False))


HASH_FUNCTIONS: dict[str, Callable[[bytes], int]] = {
    "sdbm": sdbm,
    "djb2": djb2,
    "wt6": wt6,
    "crc32": crc32,
    "none": hash_none,
    "murmur3": murmur3,
}


def full_hash(a: int) -> int:
    """Bob Jenkins' avalanche mix then `* 3221225473`, as HAProxy's `full_hash`."""
    a = ((a + 0x7ED55D16) + (a << 12)) & MASK32
    a = ((a ^ 0xC761C23C) ^ (a >> 19)) & MASK32
    a = ((a + 0x165667B1) + (a << 5)) & MASK32
    a = ((a + 0xD3A2646C) ^ (a << 9)) & MASK32
    a = ((a + 0xFD7046C5) + (a << 3)) & MASK32
    a = ((a ^ 0xB55A4F09) ^ (a >> 16)) & MASK32
    return (a * 3221225473) & MASK32


def hash_function(name: str, avalanche: bool = False) -> Callable[[bytes], int]:
    """The `hash-type` function `name`, with `full_hash` applied when `avalanche`."""
    try:
        function = HASH_FUNCTIONS[name]
    except KeyError:
        raise ValueError(f"unknown hash function '{name}'") from None
    if not avalanche:
        return function

    def mixed(data: bytes) -> int:
        return full_hash(function(data))

    return mixed


class HashCache:
    """A bounded map from recent raw keys to what they hashed to.

    Eviction is first-in first-out, which keeps a hit to one lookup; hot keys of
    a Zipf mix are re-inserted soon after eviction anyway.  An OrderedDict, not a
    dict: popping a plain dict's oldest key rescans the slots freed before it
    (3.6 µs per insert measured at 8,192 keys, against 0.3 µs).
    """

    __slots__ = ("data", "size")

    def __init__(self, size: int = 8192) -> None:
        self.size = size
        self.data: OrderedDict[str, int | None] = OrderedDict()

    def put(self, key: str, value: int | None) -> None:
        data = self.data
        if len(data) >= self.size:
            data.popitem(last=False)
        data[key] = value

    def clear(self) -> None:
        self.data.clear()

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        return f"<HashCache {len(self.data)}/{self.size}>"


# -- XXH64 (HAProxy's dynamic cookies) ---------------------------------------------------

_MASK64 = (1 << 64) - 1
_X1 = 0x9E3779B185EBCA87
_X2 = 0xC2B2AE3D27D4EB4F
_X3 = 0x165667B19E3779F9
_X4 = 0x85EBCA77C2B2AE63
_X5 = 0x27D4EB2F165667C5


def _rotl64(value: int, bits: int) -> int:
    return ((value << bits) | (value >> (64 - bits))) & _MASK64


def _xxh_round(acc: int, lane: int) -> int:
    return (_rotl64((acc + lane * _X2) & _MASK64, 31) * _X1) & _MASK64


def xxh64(data: bytes, seed: int = 0) -> int:
    """XXH64 as the xxHash specification defines it (HAProxy hashes a dynamic
    cookie's key, address and port with it).  Inputs are a few dozen bytes, so a
    plain loop is fast enough and saves a dependency."""
    n = len(data)
    at = 0
    if n >= 32:
        v = [
            (seed + _X1 + _X2) & _MASK64,
            (seed + _X2) & _MASK64,
            seed & _MASK64,
            (seed - _X1) & _MASK64,
        ]
        while at + 32 <= n:
            for i in range(4):
                lane = int.from_bytes(data[at : at + 8], "little")
                v[i] = _xxh_round(v[i], lane)
                at += 8
        acc = (
            _rotl64(v[0], 1) + _rotl64(v[1], 7) + _rotl64(v[2], 12) + _rotl64(v[3], 18)
        ) & _MASK64
        for lane in v:
            acc = ((acc ^ _xxh_round(0, lane)) * _X1 + _X4) & _MASK64
    else:
        acc = (seed + _X5) & _MASK64
    acc = (acc + n) & _MASK64
    while at + 8 <= n:
        acc ^= _xxh_round(0, int.from_bytes(data[at : at + 8], "little"))
        acc = (_rotl64(acc, 27) * _X1 + _X4) & _MASK64
        at += 8
    if at + 4 <= n:
        acc ^= (int.from_bytes(data[at : at + 4], "little") * _X1) & _MASK64
        acc = (_rotl64(acc, 23) * _X2 + _X3) & _MASK64
        at += 4
    while at < n:
        acc ^= (data[at] * _X5) & _MASK64
        acc = (_rotl64(acc, 11) * _X1) & _MASK64
        at += 1
    acc ^= acc >> 33
    acc = (acc * _X2) & _MASK64
    acc ^= acc >> 29
    acc = (acc * _X3) & _MASK64
    return acc ^ (acc >> 32)


_P1, _P2, _P3, _P4, _P5 = 0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F, 0x165667B1


def _rotl32(value: int, bits: int) -> int:
    return ((value << bits) | (value >> (32 - bits))) & MASK32


def _xxh32_round(acc: int, lane: int) -> int:
    return (_rotl32((acc + lane * _P2) & MASK32, 13) * _P1) & MASK32


def xxh32(data: bytes, seed: int = 0) -> int:
    """XXH32 as the xxHash specification defines it (HAProxy's `xxh32` converter)."""
    n = len(data)
    seed &= MASK32
    at = 0
    if n >= 16:
        v = [(seed + _P1 + _P2) & MASK32, (seed + _P2) & MASK32, seed, (seed - _P1) & MASK32]
        while at + 16 <= n:
            for i in range(4):
                v[i] = _xxh32_round(v[i], int.from_bytes(data[at : at + 4], "little"))
                at += 4
        acc = _rotl32(v[0], 1) + _rotl32(v[1], 7) + _rotl32(v[2], 12) + _rotl32(v[3], 18)
    else:
        acc = seed + _P5
    acc = (acc + n) & MASK32
    while at + 4 <= n:
        acc = (acc + int.from_bytes(data[at : at + 4], "little") * _P3) & MASK32
        acc = (_rotl32(acc, 17) * _P4) & MASK32
        at += 4
    while at < n:
        acc = (acc + data[at] * _P5) & MASK32
        acc = (_rotl32(acc, 11) * _P1) & MASK32
        at += 1
    acc ^= acc >> 15
    acc = (acc * _P2) & MASK32
    acc ^= acc >> 13
    acc = (acc * _P3) & MASK32
    return acc ^ (acc >> 16)


def _crc32c_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli): HAProxy's `crc32c` converter, and the checksum PROXY v2
    headers may carry.  Inputs are short, so a table-driven loop is fast enough."""
    crc = MASK32
    table = _CRC32C
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ MASK32
