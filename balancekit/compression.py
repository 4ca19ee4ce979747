"""HTTP response compression as HAProxy 2.6 decides it (`compression algo|type|offload`).

HAProxy's compression filter (src/flt_http_comp.c) makes three decisions, kept
here apart from any socket so that every front end makes them the same way:

* `negotiate`, on the request once the backend is known: the client's
  `Accept-Encoding` (its order and q-values) against the algorithms configured
  (the backend's, else the frontend's), `identity` as a fallback, and nothing
  for old "Mozilla/4" agents that are not a known-good MSIE;
* `compressible`, on the response head before the `http-response` rules: only
  HTTP/1.1 answers to HTTP/1.1 requests other than HEAD, status 200-203, with a
  known length and a body, not already encoded, no `Cache-Control:
  no-transform`, a valid single ETag, and a `Content-Type` in `compression
  type` (when set; never multipart);
* `compressed_headers`, on the head as it leaves, after every rule: no
  `Content-Length` (the body goes chunked), a weak ETag, `Vary:
  Accept-Encoding`, `Content-Encoding` unless the algorithm is `identity`.

`Encoder` turns the body into the chosen encoding (zlib at `tune.comp.maxlevel`,
1 by default).  HAProxy 2.6 as Debian builds it uses libslz, whose bytes differ
from zlib's: both are valid streams of the same format, and decode to the same
body.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "ALGORITHMS",
    "Compression",
    "Encoder",
    "compressed_headers",
    "compressible",
    "negotiate",
]

#: `compression algo` names and the token each is announced as (HAProxy's ua_name).
ALGORITHMS = {
    "identity": "identity",
    "deflate": "deflate",
    "raw-deflate": "deflate",
    "gzip": "gzip",
}

#: zlib's window bits for each format: zlib (RFC 1950), raw (RFC 1951), gzip (RFC 1952).
_WBITS = {"deflate": zlib.MAX_WBITS, "raw-deflate": -zlib.MAX_WBITS, "gzip": zlib.MAX_WBITS | 16}

RawHeaders = list[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class Compression:
    """A proxy's `compression` lines.  `algos` in the order HAProxy tries them: the
    reverse of the configuration's (each `algo` word is put in front of the list)."""

    algos: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    offload: bool = False
    #: `tune.comp.maxlevel` (global): the zlib level.
    level: int = 1


def _header_values(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    """Every comma-separated value of every `name` header (http_find_header, full=0)."""
    values: list[bytes] = []
    for key, value in headers:
        if key.lower() == name:
            values.extend(part.strip(b" \t") for part in value.split(b","))
    return values


def _full_values(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    return [value.strip(b" \t") for key, value in headers if key.lower() == name]


def _old_mozilla(agent: bytes) -> bool:
    """The user agents HAProxy never compresses for: "Mozilla/4" that is not MSIE 6
    with SV1 (XP SP2) or MSIE 7 and later."""
    if len(agent) < 9 or not agent.startswith(b"Mozilla/4"):
        return False
    if len(agent) < 31 or agent[25:30] != b"MSIE ":
        return True
    version = agent[30:31]
    return version < b"6" or (version == b"6" and (len(agent) < 54 or agent[51:54] != b"SV1"))


def _old_agent(headers: RawHeaders) -> bool:
    agents = _full_values(headers, b"user-agent")
    return bool(agents) and _old_mozilla(agents[0])


_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]*")


def _qvalue(text: bytes) -> int:
    """http_parse_qvalue: "1", "0.5", "0.25" as thousandths."""
    match = re.match(rb"([01])(?:\.(\d{0,3}))?", text)
    if match is None:
        return 0
    value = int(match.group(1)) * 1000 + int((match.group(2) or b"").ljust(3, b"0"))
    return min(value, 1000)


def _weight(value: bytes, token_end: int) -> int:
    """The q-value of one Accept-Encoding element (1000 when it has none)."""
    for parameter in value[token_end:].split(b";")[1:]:
        parameter = parameter.strip(b" \t")
        if parameter.startswith(b"q="):
            return _qvalue(parameter[2:])
    return 1000


def _config(backend: Compression | None, frontend: Compression | None) -> Compression | None:
    """Whose algorithms apply: the backend's, else the frontend's."""
    return backend if backend is not None and backend.algos else frontend


def _client_choice(config: Compression, headers: RawHeaders) -> str | None:
    """The configured algorithm the client's Accept-Encoding prefers: the highest
    q-value wins, the client's order breaks ties, `*` takes HAProxy's first."""
    chosen: str | None = None
    best = 0
    for value in _header_values(headers, b"accept-encoding"):
        token = _TOKEN.match(value)
        end = token.end() if token else 0
        q = _weight(value, end)
        if q <= best:
            continue
        for algo in config.algos:
            if value[:1] == b"*" or value[:end].lower() == ALGORITHMS[algo].encode():
                chosen, best = algo, q
                break
    return chosen


def negotiate(
    backend: Compression | None, frontend: Compression | None, headers: RawHeaders
) -> tuple[str | None, RawHeaders]:
    """The algorithm for this request's answer (None: none), and the request headers
    for the server (select_compression_request_header): the client's choice, else
    `identity` when configured (it needs no header).  With `compression offload`, a
    request whose header chose goes without Accept-Encoding (the server must not
    compress)."""
    config = _config(backend, frontend)
    if config is None or not config.algos or _old_agent(headers):
        return None, headers
    chosen = _client_choice(config, headers)
    if chosen is None:
        return ("identity" if "identity" in config.algos else None), headers
    if (backend is not None and backend.offload) or (frontend is not None and frontend.offload):
        headers = [(name, value) for name, value in headers if name.lower() != b"accept-encoding"]
    return chosen, headers


_ETAG = re.compile(rb'^(W/)?"[^"]*"$')


def compressible(
    backend: Compression | None,
    frontend: Compression | None,
    *,
    method: bytes,
    request_version: bytes,
    response_version: bytes,
    status: int,
    headers: RawHeaders,
    sized: bool,
) -> bool:
    """Whether the chosen algorithm applies to this answer (select_compression_response_header).
    `sized`: the answer has a body of known length (Content-Length above 0, or chunked)."""
    if request_version < b"1.1" or response_version < b"1.1" or method == b"HEAD":
        return False
    if status not in (200, 201, 202, 203) or not sized:
        return False
    if _full_values(headers, b"content-encoding"):
        return False
    if any(v.lower() == b"no-transform" for v in _header_values(headers, b"cache-control")):
        return False
    etags = _full_values(headers, b"etag")
    if len(etags) > 1 or (etags and not _ETAG.match(etags[0])):
        return False
    types = backend.types if backend is not None and backend.types else None
    if types is None and frontend is not None and frontend.types:
        types = frontend.types
    content_type = _full_values(headers, b"content-type")
    if content_type:
        value = content_type[0].lower()
        if value.startswith(b"multipart"):
            return False
        return types is None or any(value.startswith(t.lower().encode()) for t in types)
    return types is None


def compressed_headers(headers: RawHeaders, algo: str) -> RawHeaders:
    """The answer's head once compressing: (set_compression_response_header, less the
    framing, which the sender writes) no Content-Length, a weak ETag, then `Vary`
    and `Content-Encoding` added last."""
    out: RawHeaders = []
    for name, value in headers:
        lower = name.lower()
        if lower == b"content-length":
            continue
        if lower == b"etag" and value[:1] == b'"':
            value = b"W/" + value
        out.append((name, value))
    out.append((b"vary", b"Accept-Encoding"))
    if algo != "identity":
        out.append((b"content-encoding", ALGORITHMS[algo].encode()))
    return out


class Encoder:
    """The body in the chosen encoding, fed as it arrives."""

    __slots__ = ("_zlib", "bytes_in", "bytes_out")

    def __init__(self, algo: str, level: int = 1) -> None:
        self._zlib = (
            None if algo == "identity" else zlib.compressobj(level, zlib.DEFLATED, _WBITS[algo])
        )
        self.bytes_in = 0
        self.bytes_out = 0

    def feed(self, data: bytes) -> bytes:
        """Encoded bytes for `data`, flushed so that a streamed answer keeps moving."""
        self.bytes_in += len(data)
        if self._zlib is None:
            out = data
        else:
            out = self._zlib.compress(data) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
        self.bytes_out += len(out)
        return out

    def finish(self) -> bytes:
        """The end of the stream (the deflate end block, gzip's CRC and length)."""
        out = b"" if self._zlib is None else self._zlib.flush(zlib.Z_FINISH)
        self.bytes_out += len(out)
        return out
