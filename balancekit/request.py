"""The request view that balancing and rules read.

Front ends fill one `Request` per connection (L4) or per HTTP request (L7); the
library only ever reads it.  Keeping it a plain value with no socket behind it is
what lets every routing decision be tested without I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .tracking import StreamCounters

__all__ = [
    "Headers",
    "ProxyTlvs",
    "Request",
    "RequestBody",
    "ResponseView",
    "StreamNames",
    "first_header_value",
    "header_value_spans",
    "split_header_values",
]

HeaderInput = Mapping[str, str] | Iterable[tuple[str, str]]


def split_header_values(line: str) -> list[str]:
    """A header line's comma-separated values, trimmed; commas inside "quotes" do not split.

    This is HAProxy's http_find_hdr_value_end(): a backslash escapes the next
    character inside a quoted string.
    """
    if '"' not in line:
        return [part.strip(" \t") for part in line.split(",")]
    return [line[begin:end] for _, _, begin, end in header_value_spans(line)]


def header_value_spans(line: str) -> list[tuple[int, int, int, int]]:
    """Where each comma-separated value of a header line lies, as HAProxy's
    http_find_header sees it: (start, end) with the spaces around it, then
    (start, end) without them; commas inside "quotes" do not split."""
    spans: list[tuple[int, int, int, int]] = []
    start = 0
    quoted = escaped = False

    def close(i: int) -> None:
        begin, end = start, i
        while begin < end and line[begin] in " \t":
            begin += 1
        while end > begin and line[end - 1] in " \t":
            end -= 1
        spans.append((start, i, begin, end))

    for i, ch in enumerate(line):
        if escaped:
            escaped = False
        elif quoted:
            if ch == "\\":
                escaped = True
            elif ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == ",":
            close(i)
            start = i + 1
    close(len(line))  # the last value ends with the line, even inside unclosed quotes
    return spans


def first_header_value(line: str) -> str:
    """The first value of a header line, as `balance hdr()` hashes it (quotes respected)."""
    if '"' not in line:
        return line.split(",", 1)[0].strip(" \t")
    return split_header_values(line)[0]


class Headers:
    """Ordered, case-insensitive multi-map of HTTP headers.

    HAProxy fetches distinguish the first occurrence, every occurrence, and every
    comma-separated value of every occurrence, so the order and repetition of the
    original headers are kept rather than folded into a dict.
    """

    __slots__ = ("_items",)

    def __init__(self, items: HeaderInput = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self._items: tuple[tuple[str, str], ...] = tuple(
            (name.lower(), value) for name, value in pairs
        )

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({list(self._items)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and other._items == self._items

    def __hash__(self) -> int:
        return hash(self._items)

    @property
    def items(self) -> tuple[tuple[str, str], ...]:
        """All (lower-case name, value) pairs in arrival order."""
        return self._items

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first occurrence's full value, as HAProxy's `req.fhdr` sees it."""
        name = name.lower()
        for key, value in self._items:
            if key == name:
                return value
        return default

    def occurrences(self, name: str) -> list[str]:
        """Every occurrence's full line value, in order."""
        name = name.lower()
        return [value for key, value in self._items if key == name]

    def values(self, name: str) -> list[str]:
        """Every comma-separated value of every occurrence, trimmed, as `req.hdr` sees them."""
        out: list[str] = []
        name = name.lower()
        for key, value in self._items:
            if key == name:
                out.extend(split_header_values(value))
        return out

    def first_value(self, name: str) -> str | None:
        """The first comma-delimited value of the first occurrence (what `balance hdr()` hashes)."""
        name = name.lower()
        for key, value in self._items:
            if key == name:
                return first_header_value(value)
        return None


_NO_HEADERS = Headers()


#: OpenSSL's short names of the DN attributes Python's `ssl` spells out.
_DN_SHORT = {
    "countryName": "C", "stateOrProvinceName": "ST", "localityName": "L",
    "organizationName": "O", "organizationalUnitName": "OU", "commonName": "CN",
    "domainComponent": "DC", "userId": "UID", "surname": "SN", "givenName": "GN",
    "streetAddress": "street",
}  # fmt: skip

DistinguishedName = tuple[tuple[str, str], ...]


def distinguished_name(rdns: Iterable[Iterable[tuple[str, str]]]) -> DistinguishedName:
    """A certificate name as `ssl.getpeercert()` gives it, in order, with OpenSSL's
    short attribute names (`CN`, `O`…), as HAProxy's `ssl_c_s_dn` writes them."""
    return tuple((_DN_SHORT.get(key, key), value) for rdn in rdns for key, value in rdn)


@dataclass(frozen=True, slots=True)
class TlsFacts:
    """What a TLS front end negotiated, for the `ssl_fc_*` and `ssl_c_*` fetches: the
    protocol and cipher names as OpenSSL gives them, the ALPN protocol chosen, and
    the client certificate's subject and issuer (None: the client sent none;
    one that failed verification never gets this far)."""

    protocol: str = ""
    cipher: str = ""
    alpn: str = ""
    client_subject: DistinguishedName | None = None
    client_issuer: DistinguishedName = ()
    #: The client certificate's serial number, big-endian bytes.
    client_serial: bytes = b""
    #: The handshake resumed an earlier session (`ssl_fc_is_resumed`).
    resumed: bool = False


@dataclass(frozen=True, slots=True)
class ProxyTlvs:
    """What a PROXY v2 header's TLVs said about the connection, for `fc_pp_authority`
    and `fc_pp_unique_id`: the authority (the host name the client asked the proxy in
    front for, its SNI) and the unique ID that proxy gave the stream.  None: not sent."""

    authority: str | None = None
    unique_id: str | None = None


@dataclass(frozen=True, slots=True)
class RequestBody:
    """What of a request body a proxy holds when its rules read it.

    `data` is the body as it arrived, de-chunked, up to the room HAProxy's buffer
    leaves it (a bigger body is read only that far); `size` is what `req.body_size`
    says: `data`'s length plus what is known still to come (the rest of a
    Content-Length, or of the chunk being read).
    """

    data: bytes = b""
    size: int = 0
    #: Whether more of the body could still be read for the rules: it stopped at
    #: `at-least` bytes, short of its end and of the buffer's room.
    partial: bool = False

    @property
    def whole(self) -> bool:
        """Whether `data` is the whole body (it came, and fitted the buffer)."""
        return not self.partial and len(self.data) == self.size


@dataclass(frozen=True, slots=True)
class Request:
    """What a balancing or routing decision may look at.

    `query` excludes the `?`.  `uri` is the request target as received; when not
    given it is rebuilt from `path` and `query`, which is what HAProxy hashes for
    origin-form targets.  `sni` is what a TCP front end read from the client's
    first TLS record without terminating TLS (`req.ssl_sni`).
    `payload` holds the bytes a TCP front end inspected (`req.len`, `req.payload`),
    None for an HTTP request; such a view has an empty `version` unless those bytes
    hold an HTTP request head (`req.proto_http`), whose line and headers it then has.
    `stream` holds the request's tracked stick-table entries (`track-scN`, read by
    the `sc*_`/`src_` fetches); None where no stick table is in use.
    `pp` holds the TLVs of the connection's PROXY v2 header, if it had any.
    `body` holds what of an HTTP request's body was waited for (`wait-for-body`,
    `option http-buffer-request`), for the `req.body*` fetches; None before.
    """

    src: str = ""
    method: str = "GET"
    path: str = "/"
    query: str = ""
    headers: Headers = field(default_factory=Headers)
    src_port: int = 0
    dst: str = ""
    dst_port: int = 0
    version: str = "HTTP/1.1"
    uri: str = ""
    ssl: bool = False
    sni: str = ""
    payload: bytes | None = None
    stream: StreamCounters | None = None
    tls: TlsFacts | None = None
    pp: ProxyTlvs | None = None
    body: RequestBody | None = None

    def __init__(
        self,
        src: str = "",
        method: str = "GET",
        path: str = "/",
        query: str = "",
        headers: Headers | HeaderInput = (),
        *,
        src_port: int = 0,
        dst: str = "",
        dst_port: int = 0,
        version: str = "HTTP/1.1",
        uri: str = "",
        ssl: bool = False,
        sni: str = "",
        payload: bytes | None = None,
        stream: StreamCounters | None = None,
        tls: TlsFacts | None = None,
        pp: ProxyTlvs | None = None,
        body: RequestBody | None = None,
    ) -> None:
        if not isinstance(headers, Headers):
            # Headers are immutable: one shared empty view serves every bare request
            # (a TCP connection's, a client-side pick's).
            headers = Headers(headers) if headers else _NO_HEADERS
        # The slots' own setters: a front end builds one Request per request or
        # connection, and these cost half of twelve `object.__setattr__` calls.
        (
            set_src,
            set_method,
            set_path,
            set_query,
            set_headers,
            set_src_port,
            set_dst,
            set_dst_port,
            set_version,
            set_uri,
            set_ssl,
            set_sni,
            set_payload,
            set_stream,
            set_tls,
            set_pp,
            set_body,
        ) = _SETTERS
        set_src(self, src)
        set_method(self, method)
        set_path(self, path)
        set_query(self, query)
        set_headers(self, headers)
        set_src_port(self, src_port)
        set_dst(self, dst)
        set_dst_port(self, dst_port)
        set_version(self, version)
        set_uri(self, uri or (f"{path}?{query}" if query else path))
        set_ssl(self, ssl)
        set_sni(self, sni)
        set_payload(self, payload)
        set_stream(self, stream)
        set_tls(self, tls)
        set_pp(self, pp)
        set_body(self, body)

    @property
    def host(self) -> str | None:
        """The Host header, which `hdr(host)` and `base` read."""
        return self.headers.get("host")


_SETTERS: tuple[Any, ...] = tuple(
    Request.__dict__[name].__set__
    for name in (
        "src", "method", "path", "query", "headers", "src_port",
        "dst", "dst_port", "version", "uri", "ssl", "sni", "payload",
        "stream", "tls", "pp", "body",
    )
)  # fmt: skip
assert len(_SETTERS) == len(Request.__dataclass_fields__), "a new Request field needs a setter"


#: What a `ResponseView` keeps of the request line and headers: nothing.
_GONE: dict[str, object] = {
    "path": "", "query": "", "headers": _NO_HEADERS, "version": "", "uri": "", "body": None,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class StreamNames:
    """Where an answer came from, for `fe_name`, `be_name`, `srv_name`, `srv_id`,
    `res.cache_hit`, `res.cache_name`: the frontend, the backend (the frontend itself
    for its own answers), the server (empty, id 0, for an answer the proxy made) and
    the cache that sent it, if one did."""

    frontend: str
    backend: str
    server: str = ""
    server_id: int = 0
    #: The `cache` section that sent the answer (`res.cache_hit`, `res.cache_name`).
    cache: str = ""


@dataclass(frozen=True, slots=True, init=False)
class ResponseView(Request):
    """A request together with its response, for what runs on the answer (`stick
    store-response`, `tcp-response content`, `http-response`): the response fetches
    (`res.hdr`, `res.cook`, `status`, `res.payload`) read `response`, a message view
    whose headers are the response head's (mode http) or whose `payload` holds the
    server's first bytes (mode tcp).  The request's line and headers are not kept:
    HAProxy has forwarded them by then, so `path` or `req.hdr` find nothing, while
    what the stream keeps (addresses, `method`, TLS, tracked counters) remains."""

    status: int = 0
    response: Request = field(default_factory=Request)
    #: The stream's frontend, backend and server (None: not known to the engine).
    names: StreamNames | None = None
    #: The `compression` algorithm the answer is encoded with ("": none), for
    #: `res.comp` and `res.comp_algo`.
    compression: str = ""

    def __init__(
        self,
        request: Request,
        status: int = 0,
        headers: Headers | HeaderInput = (),
        *,
        payload: bytes | None = None,
        names: StreamNames | None = None,
        compression: str | None = None,
        version: str | None = None,
    ) -> None:
        for name, setter in zip(Request.__dataclass_fields__, _SETTERS, strict=True):
            setter(self, _GONE.get(name, getattr(request, name)))
        object.__setattr__(self, "status", status)
        # The response's HTTP version (`res.ver`): none for a TCP server's bytes.
        if version is None:
            version = "" if payload is not None else "HTTP/1.1"
        response = Request(headers=headers, payload=payload, version=version)
        object.__setattr__(self, "response", response)
        if isinstance(request, ResponseView):  # (a rule's edit makes a new view of the answer)
            names = request.names if names is None else names
            compression = request.compression if compression is None else compression
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "compression", compression or "")
