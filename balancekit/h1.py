"""HAProxy 2.6's HTTP/1 request-head parser, for payloads a TCP front end inspects.

In a `mode tcp` frontend, HTTP fetches (`req.proto_http`, `hdr(host)`, `path`…)
see the buffered client bytes as HAProxy's H1 parser (`h1_headers_to_hdr_list` in
src/h1.c, called by `smp_prefetch_htx` in src/http_fetch.c) sees them: they are an
HTTP request only if that parser accepts a complete head.  A text line such as
`hello there` is not one, although it looks like an HTTP/0.9 request line: HAProxy
converts HTTP/0.9 only for a `GET` with a URI.  This module reproduces that
verdict (checked against HAProxy 2.6.12 byte string by byte string in
`tests/acl/test_h1.py`), so routing on `req.proto_http` agrees with HAProxy.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

from .request import Headers, Request

__all__ = ["RequestHead", "parse_request_head", "payload_view"]

_CR, _LF, _COLON, _HASH = 13, 10, 58, 35
_CRLF = frozenset(b"\r\n")
_SPHT = frozenset(b" \t")
_LWS = _CRLF | _SPHT
#: RFC 7230 tchar: method and header-name characters (HTTP_IS_TOKEN).
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
#: Characters of a version token (HTTP_IS_VER_TOKEN): upper case, digits, `.`, `/`.
_VERSION = frozenset(b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
#: global.tune.max_http_hdr (101) less the two pseudo-headers and the end marker.
_MAX_HEADERS = 98


class RequestHead(NamedTuple):
    """A request head the H1 parser accepted (an HTTP/0.9 GET reads as HTTP/1.0)."""

    method: str
    uri: str
    version: str
    headers: tuple[tuple[str, str], ...]
    #: Bytes of the head, including the blank line that ends it.
    size: int


def _authority(uri: bytes) -> bytes:
    """The authority of an absolute or authority-form URI, without user info
    (http_parse_authority); empty for `/path`, `*` or an empty URI."""
    if not uri or uri[:1] in (b"/", b"*"):
        return b""
    rest = uri
    if uri[:1].isalpha():
        i = 1
        while i < len(uri) and (uri[i : i + 1].isalnum() or uri[i] in b"+-."):
            i += 1
        if uri[i : i + 3] == b"://":
            rest = uri[i + 3 :]
    authority = rest.split(b"/", 1)[0]
    return authority.rpartition(b"@")[2]


def _content_length(value: bytes, known: int | None) -> int | None:
    """Content-Length as h1_parse_cont_len_header: comma-separated digits, all equal
    and equal to an earlier Content-Length (`known`); -1 when invalid.  The
    HAProxy 2.6.12 we check against (Debian 12's, with its security fixes) also
    refuses an empty value and an empty item (`1,`)."""
    result = known
    for item in value.split(b","):
        word = item.strip(b" \t\r\n")
        if not word.isdigit() or not word.isascii():
            return -1
        number = int(word)
        if number >= 1 << 64 or (result is not None and number != result):
            return -1
        result = number
    return result


def _chunked(value: bytes, seen: bool) -> bool | None:
    """h1_parse_xfer_enc_header for a request: whether `chunked` was seen (in this or
    an earlier Transfer-Encoding, `seen`), or None when any coding follows it."""
    i, end = 0, len(value)
    while i < end:
        if value[i] in _LWS:
            i += 1
            continue
        if seen:
            return None  # nothing may follow `chunked`, not even `chunked`
        j = value.find(b",", i)
        j = end if j < 0 else j
        seen = value[i:j].rstrip(b" \t\r\n").lower() == b"chunked"
        i = j + 1
    return seen


def parse_request_head(data: bytes) -> RequestHead | None:
    """The request head at the start of `data` if HAProxy 2.6 would take `data` for an
    HTTP request (`req.proto_http` true), else None (invalid, or not complete yet).

    As HAProxy: empty lines before the request are skipped; the method is a token;
    one or more spaces or tabs separate it from the URI (bytes 33 to 126 but `#`,
    refused since the fix for CVE-2023-45539) and the URI
    from the version, which is made of `A-Z 0-9 . /` without being checked further
    (`GET / FOO` is accepted); lines may end with a bare LF; header names are tokens
    followed at once by `:`; folded header lines continue the value; Content-Length
    values must agree, several Host headers too and with the URI's authority; a
    Transfer-Encoding must end with `chunked`.  An HTTP/0.9 request line (no
    version) counts only for `GET` with a URI, and then ends the head.
    """
    n = len(data)
    i = 0
    while i < n and data[i] in _CRLF:  # leading empty lines
        if data[i] == _CR:
            if i + 1 >= n or data[i + 1] != _LF:
                return None
            i += 1
        i += 1
    start = i
    while i < n and data[i] in _TOKEN:
        i += 1
    if i >= n or i == start:
        return None
    method = data[start:i]
    uri = version = b""
    if data[i] in _SPHT:
        while i < n and data[i] in _SPHT:
            i += 1
        if i >= n:
            return None
        if data[i] not in _CRLF:
            start = i
            while i < n and 33 <= data[i] <= 126 and data[i] != _HASH:
                i += 1
            if i >= n:
                return None
            uri = data[start:i]
            if data[i] in _SPHT:
                while i < n and data[i] in _SPHT:
                    i += 1
                if i >= n:
                    return None
                if data[i] not in _CRLF:
                    start = i
                    while i < n and data[i] in _VERSION:
                        i += 1
                    if i >= n:
                        return None
                    version = data[start:i]
            if data[i] not in _CRLF:
                return None  # a control or non-ASCII byte in the URI, junk after the version
    elif data[i] not in _CRLF:
        return None
    # End of the request line: CR LF or a bare LF.
    if data[i] == _CR:
        i += 1
        if i >= n:
            return None
    if data[i] != _LF:
        return None
    i += 1
    if not version:
        # HTTP/0.9: no headers; smp_prefetch_htx turns only `GET <uri>` into HTTP/1.0.
        if method != b"GET" or not uri:
            return None
        return RequestHead("GET", uri.decode("latin-1"), "HTTP/1.0", (), i)
    headers: list[tuple[bytes, bytes]] = []
    host: bytes | None = None
    authority = _authority(uri)
    length: int | None = None
    encoded = False
    chunked = False
    while True:
        if i >= n:
            return None
        if data[i] in _CRLF:  # the blank line
            if data[i] == _CR:
                i += 1
                if i >= n or data[i] != _LF:
                    return None
            i += 1
            break
        start = i
        while i < n and data[i] in _TOKEN:
            i += 1
        if i >= n:
            return None
        if data[i] != _COLON or i == start:
            return None
        name = data[start:i]
        i += 1
        value = bytearray()
        while True:  # the value, with its folded continuation lines
            end = i
            while end < n and data[end] not in _CRLF:
                end += 1
            if end >= n:
                return None
            value += data[i:end]
            i = end
            if data[i] == _CR:
                i += 1
                if i >= n:
                    return None
            if data[i] != _LF:
                return None
            i += 1
            if i >= n:
                return None  # a folded line may follow
            if data[i] not in _SPHT:
                break
            value += b" " * (i - end)  # a fold: its CR LF become spaces
        text = bytes(value).strip(b" \t\r\n")
        lower = name.lower()
        if lower == b"transfer-encoding":
            encoded = True
            seen = _chunked(text, chunked)
            if seen is None:
                return None
            chunked = seen
        elif lower == b"content-length":
            had = length
            length = _content_length(text, length)
            if length == -1:
                return None
            if had is not None:
                continue  # an agreeing duplicate is dropped
            text = str(length).encode() if length is not None else text
        elif lower == b"host":
            if host is None:
                if authority and text.lower() != authority.lower():
                    return None
                host = text
            elif text.lower() != host.lower():
                return None
            else:
                continue  # the same host again is dropped
        headers.append((name, text))
        if len(headers) > _MAX_HEADERS:
            return None
    if encoded:
        if not chunked:
            return None  # a request body must end chunked
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
    return RequestHead(
        method.decode("latin-1"),
        uri.decode("latin-1"),
        version.decode("latin-1"),
        tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in headers),
        i,
    )


def payload_view(view: Request, data: bytes) -> Request:
    """`view`, a TCP connection's, as HTTP fetches see it once `data` was inspected.

    `req.len` is the size of `data` (and `req.payload` reads it); when it holds an
    HTTP request head (as HAProxy judges, `parse_request_head`), the view gets its
    method, target, version and headers, as `smp_prefetch_htx` gives them to
    HAProxy's HTTP fetches in a TCP frontend; otherwise its version is empty
    (`req.proto_http` false).
    """
    head = parse_request_head(data)
    if head is None:
        return replace(view, version="", payload=data)
    target = head.uri
    if not target.startswith("/"):
        # absolute-form: the path is what follows the authority (as the HTTP proxy does)
        scheme_sep = target.find("://")
        if scheme_sep >= 0:
            slash = target.find("/", scheme_sep + 3)
            target = target[slash:] if slash >= 0 else "/"
    path, _, query = target.partition("?")
    return replace(
        view,
        method=head.method,
        path=path,
        query=query,
        headers=Headers(tuple((name.lower(), value) for name, value in head.headers)),
        version=head.version,
        uri=head.uri,
        payload=data,
    )
