"""Header rewriting between client and server: hop-by-hop removal and added headers.

A proxy must not forward what belongs to one connection (RFC 9110 §7.6.1):
`Connection` and every header it names, `Keep-Alive`, `TE`, `Trailer`,
`Transfer-Encoding` (the proxy re-frames bodies itself), `Upgrade` unless the
request is being upgraded, and `Proxy-*`.  `Host` is kept untouched, as HAProxy
does.  Headers stay `bytes` end to end: decoding them costs time on every
request and gains nothing when they are only copied.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from balancekit import Headers
from balancekit.config.runtime import ForwardFor
from balancekit.rules import HeaderEdit, apply_header_edits

__all__ = [
    "HOP_BY_HOP",
    "RawHeaders",
    "apply_edits",
    "apply_forwardfor",
    "connection_tokens",
    "hop_name",
    "in_network",
    "split_response_headers",
    "strip_hop_by_hop",
    "text_view",
]

RawHeaders = list[tuple[bytes, bytes]]

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-connection",
        b"content-length",  # re-added by the framing code, never copied blindly
    }
)


def connection_tokens(headers: Iterable[tuple[bytes, bytes]]) -> set[bytes]:
    """Lower-cased tokens of every `Connection` header (`close`, `upgrade`, names…)."""
    tokens: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            tokens.update(t.strip().lower() for t in value.split(b","))
    return tokens


_CONNECTION_OPTIONS = frozenset({b"close", b"keep-alive", b"upgrade", b""})
_MISS = b"?"
_HOP_CACHE: dict[bytes, bytes | None] = {}


def hop_name(name: bytes) -> bytes | None:
    """The lower-cased name if `name` is a hop-by-hop header, else None.

    Header names repeat from request to request, so answers are cached by the
    name as received (bounded, so odd clients cannot grow it without limit).
    """
    found = _HOP_CACHE.get(name, _MISS)
    if found is not _MISS:
        return found
    low = name.lower()
    hop = low if low in HOP_BY_HOP or low.startswith(b"proxy-") else None
    if len(_HOP_CACHE) < 4096:
        _HOP_CACHE[name] = hop
    return hop


_KEPT_WHEN_LISTED = _CONNECTION_OPTIONS | {b"host", b"content-length"}


def strip_hop_by_hop(
    headers: Iterable[tuple[bytes, bytes]],
    tokens: set[bytes],
    *,
    keep_upgrade: bool = False,
    keep_length: bool = False,
    keep_chunked: bool = False,
) -> RawHeaders:
    """Copy `headers` without hop-by-hop ones (framing headers included) and
    without the headers the `Connection` header names (`tokens`, lower case).

    `keep_length`: a request's `Content-Length` stays where the client put it (its
    first line only), as HAProxy 2.6 forwards it; the body is relayed as it came,
    so the length still holds.  `keep_chunked`: so does a chunked request's
    `Transfer-Encoding`, as `chunked` (the only coding a request may have)."""
    out: RawHeaders = []
    cache = _HOP_CACHE
    length_kept = not keep_length
    chunked_kept = not keep_chunked
    for name, value in headers:
        hop = cache.get(name, _MISS)
        if hop is _MISS:
            hop = hop_name(name)
        if hop is None or (keep_upgrade and hop == b"upgrade"):
            out.append((name, value))
        elif not length_kept and hop == b"content-length":
            out.append((name, value))
            length_kept = True
        elif not chunked_kept and hop == b"transfer-encoding":
            out.append((name, b"chunked"))
            chunked_kept = True
    # `Connection: host` must not take the Host header away (HAProxy keeps it).
    listed = tokens - _KEPT_WHEN_LISTED if tokens else None
    if listed:
        out = [(n, v) for n, v in out if n.lower() not in listed]
    return out


def split_response_headers(
    headers: Iterable[tuple[bytes, bytes]],
    *,
    keep_upgrade: bool = False,
    keep_framing: bool = False,
) -> tuple[RawHeaders, bytes | None, bool]:
    """One pass over a response head: (headers to forward, Content-Length value,
    whether Transfer-Encoding was present).  Same removals as `strip_hop_by_hop`.

    `keep_framing`: a response without a body (HEAD, 304) keeps its
    Content-Length and Transfer-Encoding where the server put them, as HAProxy
    does: they describe what a GET would return, and no body is re-framed."""
    out: RawHeaders = []
    length: bytes | None = None
    encoded = False
    listed: set[bytes] | None = None
    cache = _HOP_CACHE
    for name, value in headers:
        hop = cache.get(name, _MISS)
        if hop is _MISS:
            hop = hop_name(name)
        if hop is None:
            out.append((name, value))
        elif hop == b"content-length":
            length = value
            if keep_framing:
                out.append((name, value))
        elif hop == b"transfer-encoding":
            encoded = True
            if keep_framing:
                out.append((name, value))
        elif hop == b"connection" and value.lower() not in _CONNECTION_OPTIONS:
            tokens = {t.strip().lower() for t in value.split(b",")} - _CONNECTION_OPTIONS
            if tokens:
                listed = tokens if listed is None else listed | tokens
        elif keep_upgrade and hop == b"upgrade":
            out.append((name, value))
    if listed:
        out = [(n, v) for n, v in out if n.lower() not in listed]
    return out, length, encoded


def apply_forwardfor(headers: RawHeaders, forwardfor: ForwardFor, src: str) -> None:
    """Append the client address as a new header line, as HAProxy does
    (`option forwardfor`, merged from the frontend and the backend)."""
    if not src:
        return
    if forwardfor.except_net is not None and in_network(src, forwardfor.except_net):
        return
    name = forwardfor.header.encode("latin-1")
    if forwardfor.if_none:
        low = name.lower()
        if any(key.lower() == low for key, _ in headers):
            return
    headers.append((name, src.encode("latin-1")))


def in_network(src: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(src) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


def text_view(headers: RawHeaders) -> Headers:
    """The library's view of wire headers, for the rare paths that run library
    logic on them (header edits, `stick store-response` keys)."""
    return Headers((n.decode("latin-1"), v.decode("latin-1")) for n, v in headers)


def apply_edits(headers: RawHeaders, edits: Sequence[HeaderEdit]) -> RawHeaders:
    """Apply the router's `http-request set/add/del-header` edits, in order.

    The matching logic is the library's, run on a decoded copy — edits are rare,
    so the decoding cost only hits those requests.
    """
    edited = apply_header_edits(text_view(headers), edits)
    # Headers lower-cases names; keep the client's spelling where the name survived.
    spelling = {n.lower(): n for n, _ in headers}
    out = [
        (spelling.get(n.encode("latin-1"), n.encode("latin-1")), v.encode("latin-1"))
        for n, v in edited
    ]
    return _same_length(headers, out)


def _same_length(before: RawHeaders, after: RawHeaders) -> RawHeaders:
    """Rules do not reframe a body: the body is relayed as the client framed it, so
    an edit that removed, changed or added a `Content-Length` line would make the
    server read it wrong (or read the next request into it).  Then the client's
    length is put back, last, and edited ones are dropped."""
    old = [(n, v) for n, v in before if n.lower() == b"content-length"]
    new = [(n, v) for n, v in after if n.lower() == b"content-length"]
    if new == old:
        return after
    out = [(n, v) for n, v in after if n.lower() != b"content-length"]
    out.extend(old[:1])
    return out
