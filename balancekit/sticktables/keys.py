"""Stick table keys: the five `type`s, how a sample becomes a key, how a key prints.

Why this is its own module: the same client must land on the same entry however
the engine got its address, so a key goes through HAProxy's sample casts before
the lookup (stick_table.c `smp_to_stkey`, sample.c `sample_casts`).  An IPv6
address is an `ip` key only if it is IPv4-mapped (`::ffff:a.b.c.d`), an IPv4
address becomes a mapped `ipv6` key, integers are kept as 32 bits, strings are
cut to the table's length and binary blocks padded or cut to it.

A stored key is an `int` for `ip` (the address as a number), `ipv6` and
`integer`, and `bytes` for `string` and `binary`: the most compact Python values
that keep HAProxy's equality.  Pass addresses as `ipaddress` objects: HAProxy's
`src` is an address, and a text sample only casts to `ip` when it is a dotted
quad (so `"::ffff:1.2.3.4"` as text is refused for an `ip` table, as in HAProxy).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import AddressValueError, IPv4Address, IPv6Address
from typing import Literal

__all__ = [
    "Key",
    "KeyInput",
    "KeyType",
    "format_key",
    "inet_ntop6",
    "normalize_key",
    "parse_key_type",
]

KeyKind = Literal["ip", "ipv6", "integer", "string", "binary"]
Key = int | bytes
KeyInput = int | str | bytes | IPv4Address | IPv6Address

_U32 = 0xFFFFFFFF
_MAPPED = 0xFFFF << 32
_SINT_MIN, _SINT_MAX = -(2**63), 2**63 - 1
# stktable_types: the keyword, and the key size when `len` is not given.
_DEFAULT_SIZE: dict[str, int] = {"integer": 4, "ip": 4, "ipv6": 16, "string": 32, "binary": 32}


@dataclass(frozen=True, slots=True)
class KeyType:
    """A table's `type`.  `size` is HAProxy's key size in bytes: for `string`
    it counts the terminating NUL, so `string len 16` has size 17 and keeps 16
    characters, while a bare `string` has size 32 and keeps 31."""

    kind: KeyKind
    size: int

    def __str__(self) -> str:
        return self.kind

    @property
    def max_len(self) -> int:
        """How many bytes of a key are kept (and compared)."""
        return self.size - 1 if self.kind == "string" else self.size


def parse_key_type(words: str | Sequence[str]) -> KeyType:
    """`ip`, `ipv6`, `integer`, `string [len N]`, `binary [len N]` → KeyType
    (`stktable_parse_type`); ValueError says what HAProxy 2.6 says."""
    if isinstance(words, str):
        words = words.split()
    if not words or words[0] not in _DEFAULT_SIZE:
        raise ValueError(f"unknown type '{words[0] if words else ''}'.")
    kind: KeyKind = words[0]  # type: ignore[assignment]
    size = _DEFAULT_SIZE[kind]
    rest = list(words[1:])
    if kind in ("string", "binary") and rest and rest[0] == "len":
        length = rest[1] if len(rest) > 1 else ""
        match = re.match(r"\s*([-+]?\d+)", length)
        size = int(match.group(1)) if match else 0  # atol
        if size <= 0:
            # HAProxy names the word it stopped on.
            raise ValueError(f"unknown type '{length}'.")
        if kind == "string":
            size += 1
        rest = rest[2:]
    if rest:
        raise ValueError(f"unknown argument '{rest[0]}'.")
    return KeyType(kind, size)


def normalize_key(key_type: KeyType, value: KeyInput) -> Key:
    """The stored key for `value` (HAProxy's cast to the table's type), or ValueError.

    `int` is an integer sample (HAProxy's are signed 64-bit), `str` a text
    sample, `bytes` a binary one, `IPv4Address`/`IPv6Address` an address."""
    kind = key_type.kind
    if isinstance(value, bool):
        if kind in ("ip", "ipv6"):
            raise ValueError(f"a boolean cannot be a key of a table of type {kind}")
        value = int(value)
    if isinstance(value, int) and not _SINT_MIN <= value <= _SINT_MAX:
        raise ValueError(f"integer key {value} does not fit HAProxy's 64-bit samples")
    if kind == "ip":
        return _ipv4_key(value)
    if kind == "ipv6":
        return _ipv6_key(value)
    if kind == "integer":
        return _integer_key(value)
    if kind == "string":
        return _string_key(key_type, value)
    return _binary_key(key_type, value)


def _ipv4_key(value: KeyInput) -> int:
    if isinstance(value, IPv4Address):
        return int(value)
    if isinstance(value, IPv6Address):
        mapped = value.ipv4_mapped
        if mapped is None:
            raise ValueError(f"{value} is not IPv4-mapped: no key for a table of type ip")
        return int(mapped)
    if isinstance(value, int):
        return value & _U32
    if isinstance(value, str):
        parsed = _buf2ip(value)
        if parsed is None:
            raise ValueError(f"'{value}' is not an IPv4 address")
        return parsed
    raise ValueError("a binary sample cannot be a key of a table of type ip")


def _buf2ip(text: str) -> int | None:
    """HAProxy's buf2ip: exactly four dotted octets of at most 255; reading stops
    at the first other character (so `1.2.3.4:80` reads as 1.2.3.4)."""
    octets: list[int] = []
    digit_seen = False
    for ch in text:
        if ch.isdigit() and ch.isascii():
            if not digit_seen:
                if len(octets) == 4:
                    return None
                octets.append(0)
                digit_seen = True
            octets[-1] = octets[-1] * 10 + int(ch)
            if octets[-1] > 255:
                return None
        elif ch == ".":
            if not digit_seen or len(octets) == 4:
                return None
            digit_seen = False
        else:
            break
    if len(octets) < 4 or not digit_seen:
        return None
    a, b, c, d = octets
    return (a << 24) | (b << 16) | (c << 8) | d


def _ipv6_key(value: KeyInput) -> int:
    if isinstance(value, IPv6Address):
        return int(value)
    if isinstance(value, IPv4Address):
        return _MAPPED | int(value)
    if isinstance(value, int):
        return _MAPPED | (value & _U32)
    if isinstance(value, str):
        # inet_pton: no zone index, at most INET6_ADDRSTRLEN characters.
        if len(value) <= 46 and "%" not in value:
            try:
                return int(IPv6Address(value))
            except AddressValueError:
                pass
        raise ValueError(f"'{value}' is not an IPv6 address")
    raise ValueError("a binary sample cannot be a key of a table of type ipv6")


def _integer_key(value: KeyInput) -> int:
    if isinstance(value, IPv4Address):
        return int(value)
    if isinstance(value, IPv6Address):
        raise ValueError("an IPv6 address cannot be a key of a table of type integer")
    if isinstance(value, int):
        return value & _U32
    if isinstance(value, str):
        if not value:
            raise ValueError("an empty string cannot be a key of a table of type integer")
        return _read_int64(value) & _U32
    raise ValueError("a binary sample cannot be a key of a table of type integer")


def _read_int64(text: str) -> int:
    """read_int64: a sign, then digits up to the first other character, saturated."""
    negative = text[:1] == "-"
    if text[:1] in "+-":
        text = text[1:]
    digits = re.match(r"[0-9]*", text)
    number = int(digits.group(0)) if digits and digits.group(0) else 0
    number = min(number, 2**64 - 1)
    if negative:
        return _SINT_MIN if number > 2**63 else -number
    return min(number, _SINT_MAX)


def _string_key(key_type: KeyType, value: KeyInput) -> bytes:
    if isinstance(value, IPv4Address | IPv6Address):
        data = (str(value) if value.version == 4 else inet_ntop6(int(value))).encode()
    elif isinstance(value, int):
        data = str(value).encode()
    elif isinstance(value, str):
        data = value.encode()
    else:
        data = value
    # Stored as a C string: nothing after a NUL counts.
    nul = data.find(b"\0")
    if nul >= 0:
        data = data[:nul]
    return data[: key_type.max_len]


def _binary_key(key_type: KeyType, value: KeyInput) -> bytes:
    if isinstance(value, IPv4Address | IPv6Address):
        data = value.packed
    elif isinstance(value, int):
        data = (value & (2**64 - 1)).to_bytes(8, "big")
    elif isinstance(value, str):
        data = value.encode()
    else:
        data = value
    return data[: key_type.size].ljust(key_type.size, b"\0")


def format_key(key_type: KeyType, key: Key) -> str:
    """The key as `show table` prints it after `key=`."""
    kind = key_type.kind
    if isinstance(key, int):
        if kind == "ip":
            return str(IPv4Address(key))
        if kind == "ipv6":
            return inet_ntop6(key)
        return str(key)
    if kind == "string":
        return _dump_text(key)
    return key.hex().upper()


def sort_key(key_type: KeyType, key: Key) -> int | bytes:
    """Where the key sits in HAProxy's key tree, which `show table` walks: the
    order of the key's bytes.  Addresses are stored in network order, so that is
    their numeric order; an `integer` key is stored in host order, and on the
    little-endian machines HAProxy runs on that is byte-reversed."""
    if key_type.kind == "integer" and isinstance(key, int):
        return int.from_bytes(key.to_bytes(4, "little"), "big")
    return key


def inet_ntop6(value: int) -> str:
    """An IPv6 address as glibc's inet_ntop writes it: like Python's compressed
    form, except that `::ffff:a.b.c.d` and `::a.b.c.d` keep the dotted quad."""
    words = [(value >> (112 - 16 * i)) & 0xFFFF for i in range(8)]
    best_base, best_len = -1, 0
    i = 0
    while i < 8:
        if words[i] == 0:
            j = i
            while j < 8 and words[j] == 0:
                j += 1
            if j - i > best_len:
                best_base, best_len = i, j - i
            i = j
        else:
            i += 1
    if best_len < 2:
        best_base = -1
    out: list[str] = []
    for i in range(8):
        if best_base <= i < best_base + best_len:
            if i == best_base:
                out.append(":")
            continue
        if i:
            out.append(":")
        if i == 6 and best_base == 0 and (best_len == 6 or (best_len == 5 and words[5] == 0xFFFF)):
            out.append(str(IPv4Address(value & _U32)))
            break
        out.append(f"{words[i]:x}")
    if best_base != -1 and best_base + best_len == 8:
        out.append(":")
    return "".join(out)


_ESCAPES = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r", 0x1B: "\\e", 0x5C: "\\\\", 0x20: "\\ "}
_ESCAPES[0x3D] = "\\="


def _dump_text(data: bytes) -> str:
    """tools.c dump_text: printable ASCII as is, a few C escapes, `\\xHH` otherwise;
    space, backslash and `=` are escaped so the line still splits on them."""
    out = []
    for c in data:
        if c == 0:
            break
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif 0x20 < c < 0x7F:
            out.append(chr(c))
        else:
            out.append(f"\\x{c:02X}")
    return "".join(out)
