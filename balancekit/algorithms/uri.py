"""`balance uri [len N] [depth N] [whole] [path-only]`: the request URI picks the server.

Made for caches: the same object is always fetched from the same cache.  As
HAProxy's get_server_uh: the request target as received, up to the `?` unless
`whole`, stopping at the (depth+1)-th `/` with `depth`, at most `len` bytes;
`path-only` first drops the scheme and authority of an absolute URI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import register
from ._hash import HashAlgorithm, encode

if TYPE_CHECKING:
    from ..request import Request


def path_of(uri: str) -> str:
    """http_parse_path: the path (and query) of a request target, "" if it has none."""
    if not uri or uri == "*":
        return ""
    if uri.startswith("/"):
        return uri
    scheme, sep, rest = uri.partition("://")
    if not sep or not scheme or "/" in scheme:
        return ""
    slash = rest.find("/")
    return "" if slash < 0 else rest[slash:]


def uri_key(uri: bytes, length: int, depth: int, whole: bool) -> bytes:
    """The bytes get_server_uh hashes."""
    if length:
        uri = uri[:length]
    end = len(uri)
    if not whole:
        question = uri.find(b"?")
        if question >= 0:
            end = question
    if depth:
        slashes = 0
        for index in range(end):
            if uri[index] == 47:  # '/'
                slashes += 1
                if slashes == depth + 1:
                    end = index
                    break
    return uri[:end]


@register("uri")
class Uri(HashAlgorithm):
    def setup(self) -> None:
        super().setup()
        spec = self.spec
        self._options = (spec.uri_len, spec.uri_depth, spec.uri_whole)
        self._path_only = spec.uri_path_only

    def raw_key(self, request: Request) -> str | None:
        return request.uri

    def digest(self, raw: str) -> int | None:
        target = path_of(raw) if self._path_only else raw
        return self.hash_bytes(uri_key(encode(target), *self._options))
