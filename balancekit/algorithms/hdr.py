"""`balance hdr(<name>) [use_domain_only]`: a request header picks the server.

E.g. `hdr(host)` to keep each virtual host on one server, or a user header
set by an upstream.  As HAProxy's get_server_hh: the first comma-separated
value (quotes respected) of the first occurrence, blanks trimmed; missing or
empty means round robin.  `use_domain_only` hashes only the registrable part
of a host name (`www.example.com` -> `example`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..request import first_header_value
from . import register
from ._hash import HashAlgorithm, encode

if TYPE_CHECKING:
    from ..request import Request


def domain_only(value: bytes) -> bytes:
    """The label before the last dot (get_server_hh's use_domain_only walk)."""
    end = len(value)
    position = len(value)
    remaining = len(value)
    in_domain = False
    while remaining:
        if in_domain:
            if value[position - 1] == 46:  # '.'
                break
        elif position < len(value) and value[position] == 46:
            end = position
            in_domain = True
        position -= 1
        remaining -= 1
    return value[position:end]


@register("hdr")
class Hdr(HashAlgorithm):
    def setup(self) -> None:
        super().setup()
        self._header = self.spec.header.lower()
        self._domain_only = self.spec.use_domain_only

    def raw_key(self, request: Request) -> str | None:
        return request.headers.get(self._header)

    def digest(self, raw: str) -> int | None:
        value = first_header_value(raw)
        if not value:
            return None
        data = encode(value)
        if self._domain_only:
            data = domain_only(data)
        return self.hash_bytes(data)
