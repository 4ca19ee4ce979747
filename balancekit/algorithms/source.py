"""`balance source`: the client's address picks the server.

The same client keeps reaching the same server while the set of servers does
not change: stickiness without cookies, for TCP or HTTP.  As HAProxy's
get_server_sh: an IPv4 address hashes as its 32-bit value, an IPv6 one as the
XOR of its four 32-bit words; the `hash-type` function is not applied, only
`avalanche` when set.  A source that is not an IP address (a UNIX socket) falls
back to round robin.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from ..hashing import full_hash
from . import register
from ._hash import HashAlgorithm

if TYPE_CHECKING:
    from ..request import Request


def address_hash(address: str) -> int | None:
    """The 32-bit value HAProxy derives from a source address, before avalanche."""
    if address.startswith("[") and address.endswith("]"):
        address = address[1:-1]
    try:
        packed = socket.inet_pton(socket.AF_INET, address)
        return int.from_bytes(packed, "big")
    except OSError:
        pass
    try:
        packed = socket.inet_pton(socket.AF_INET6, address.split("%", 1)[0])
    except OSError:
        return None
    value = 0
    for offset in (0, 4, 8, 12):
        value ^= int.from_bytes(packed[offset : offset + 4], "big")
    return value


@register("source")
class Source(HashAlgorithm):
    layer7 = False

    def raw_key(self, request: Request) -> str | None:
        return request.src or None

    def digest(self, raw: str) -> int | None:
        value = address_hash(raw)
        if value is None:
            return None
        return full_hash(value) if self.hashing.avalanche else value
