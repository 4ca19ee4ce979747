"""`process-vary on`: the secondary key that tells apart answers a server varies.

HAProxy 2.6 (cache.c) stores answers that carry `Vary` only when the cache
section says `process-vary on`, and only if every name in `Vary` is one it can
normalise: `accept-encoding` and `referer`.  A request's secondary key has one
part per name: a bitmap of the encodings its `Accept-Encoding` headers accept,
and a CRC32 of its first `Referer` value.  A stored answer keeps the request's
parts for the names its `Vary` lists (the others zeroed), with the encoding part
replaced by the bitmap of the answer's own `Content-Encoding`; a later request
may use it when it accepts every encoding in that bitmap and has the same
referer.  The rules below follow HAProxy's to the bit, quirks included (a prefix
such as `gzipx` still counts as gzip, then fails on what follows), since which
request gets a stored answer is what users observe.
"""

from __future__ import annotations

import zlib

from .request import Headers

__all__ = [
    "ACCEPT_ENCODING",
    "ALL_NAMES",
    "REFERER",
    "SecondaryKey",
    "answer_encoding",
    "matches",
    "reduce_key",
    "request_key",
    "vary_signature",
]

#: The names HAProxy's Vary support knows, as bits of a signature.
ACCEPT_ENCODING = 1 << 0
REFERER = 1 << 1
ALL_NAMES = ACCEPT_ENCODING | REFERER
_NAMES = {"accept-encoding": ACCEPT_ENCODING, "referer": REFERER}

# Encodings with a bit of their own (enum vary_encoding).
_GZIP, _DEFLATE, _BR, _COMPRESS = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_AES128GCM, _EXI, _PACK200_GZIP, _ZSTD = 1 << 4, 1 << 5, 1 << 6, 1 << 7
_IDENTITY, _STAR, _OTHER = 1 << 8, 1 << 9, 1 << 10
_ALL_BITS = 0xFFFFFFFF
#: A request listing this many encodings (or more) gets no secondary key.
_MAX_ENCODINGS = 16

#: By first letter, the encodings that letter may start (parse_encoding_value).
_BY_LETTER: dict[str, tuple[tuple[str, int], ...]] = {
    "a": (("aes128gcm", _AES128GCM),),
    "b": (("br", _BR),),
    "c": (("compress", _COMPRESS),),
    "d": (("deflate", _DEFLATE),),
    "e": (("exi", _EXI),),
    "g": (("gzip", _GZIP),),
    "i": (("identity", _IDENTITY),),
    "p": (("pack200-gzip", _PACK200_GZIP),),
    "x": (("x-gzip", _GZIP), ("x-compress", _COMPRESS)),
    "z": (("zstd", _ZSTD),),
}

#: (encoding bitmap, referer CRC32): the two parts of HAProxy's secondary key.
SecondaryKey = tuple[int, int]


def _encoding(value: str) -> tuple[int, bool] | None:
    """One listed encoding as (its bit, whether it says `q=0`), or None when
    HAProxy cannot parse it.  A known name followed by anything but `;…` is
    unparsable; an unknown name that starts with a known letter counts for nothing."""
    if not value:
        return None
    rest = ""
    bit = 0
    if value[0] == "*":
        bit, rest = _STAR, value[1:]
    elif value[0] in _BY_LETTER:
        for name, candidate in _BY_LETTER[value[0]]:
            if value.startswith(name):
                bit, rest = candidate, value[len(name) :]
                break
    else:
        return None
    if not bit:
        return 0, False
    rest = rest.lstrip(" \t")
    if not rest:
        return bit, False
    if rest[0] != ";":
        return None
    return bit, rest[1:].lstrip(" \t") == "q=0"


def _accept_encoding(headers: Headers) -> int | None:
    """accept_encoding_normalizer: the encodings a request accepts, None when it
    lists too many to be trusted."""
    accepted, refused = _IDENTITY, _ALL_BITS
    count = 0
    for value in headers.values("accept-encoding"):
        if count == _MAX_ENCODINGS:
            return None
        count += 1
        if not value:
            continue
        parsed = _encoding(value.lower())
        if parsed is None:
            accepted |= _OTHER
        elif parsed[1]:
            refused &= ~parsed[0]
        else:
            accepted |= parsed[0]
    if count == _MAX_ENCODINGS:
        return None
    if accepted & _STAR:
        accepted = _ALL_BITS
    accepted &= refused
    return _ALL_BITS if count == 0 else accepted


def request_key(headers: Headers, signature: int) -> SecondaryKey | None:
    """The request's key for the names in `signature` (the others zeroed), or None
    when it cannot have one (too many encodings): then it neither finds a varied
    answer nor stores one."""
    encodings = referer = 0
    if signature & ACCEPT_ENCODING:
        found = _accept_encoding(headers)
        if found is None:
            return None
        encodings = found
    if signature & REFERER:
        value = headers.get("referer")
        if value is not None:
            referer = zlib.crc32(value.encode("latin-1"))
    return encodings, referer


def reduce_key(key: SecondaryKey, signature: int) -> SecondaryKey:
    """Keep only the parts the answer's `Vary` names."""
    return (
        key[0] if signature & ACCEPT_ENCODING else 0,
        key[1] if signature & REFERER else 0,
    )


def vary_signature(headers: Headers) -> int | None:
    """The names an answer's `Vary` headers list, None if one is not supported
    (`*` included): such an answer is not stored."""
    signature = 0
    for value in headers.values("vary"):
        bit = _NAMES.get(value.lower())
        if bit is None:
            return None
        signature |= bit
    return signature


def answer_encoding(headers: Headers) -> int | None:
    """The bitmap of an answer's `Content-Encoding` (identity without one), None for
    an encoding HAProxy does not know: a varied answer in it is not stored.  Names
    are compared as sent, so `GZIP` is unknown, as in HAProxy."""
    bitmap = 0
    for value in headers.values("content-encoding"):
        parsed = _encoding(value)
        if parsed is None:
            return None
        bitmap |= parsed[0]
    return bitmap or _IDENTITY


def matches(stored: SecondaryKey, wanted: SecondaryKey) -> bool:
    """secondary_key_cmp: the request accepts every encoding of the stored answer
    (one in an unknown encoding matches nothing) and has the same referer part."""
    if stored[0] & _OTHER or stored[0] & wanted[0] != stored[0]:
        return False
    return stored[1] == wanted[1]
