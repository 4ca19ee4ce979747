"""`balance url_param <name>`: a query-string parameter picks the server.

Typical for a user or session id carried in the URL.  As HAProxy's
get_server_ph: the first `name=` in the query of the request target; the value
runs to the next `&` (an empty value is still a key).  Without the parameter,
round robin.  (`check_post`, which reads the body, is not supported.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import register
from ._hash import HashAlgorithm, encode

if TYPE_CHECKING:
    from ..request import Request


def param_value(uri: bytes, name: bytes) -> bytes | None:
    """The value get_server_ph hashes, or None when `name=` is not in the query."""
    question = uri.find(b"?")
    if question < 0:
        return None
    params = uri[question + 1 :]
    plen = len(name)
    start = 0
    while len(params) - start > plen:
        if params[start + plen] == 61 and params[start : start + plen] == name:  # '='
            value_start = start + plen + 1
            end = params.find(b"&", value_start)
            return params[value_start:] if end < 0 else params[value_start:end]
        amp = params.find(b"&", start)
        if amp < 0:
            return None
        start = amp + 1
    return None


@register("url_param")
class UrlParam(HashAlgorithm):
    def setup(self) -> None:
        super().setup()
        self._name = encode(self.spec.param)

    def raw_key(self, request: Request) -> str | None:
        return request.uri

    def digest(self, raw: str) -> int | None:
        value = param_value(encode(raw), self._name)
        return None if value is None else self.hash_bytes(value)
