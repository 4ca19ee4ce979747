"""The one HTTP proxy: route a request, lease a server, relay the exchange, log it.

Both front doors — the fast `asyncio.Protocol` server (`server.py`) and the ASGI
application (`asgi.py`) — describe an incoming request as an `Exchange` and call
`HttpProxy.handle`.  Everything that decides anything (rules, backend choice,
server lease and queue, retries and redispatch, header rewriting, error pages,
log lines) lives here once, so the two entry points cannot drift apart.

The exchange only knows how to read the request body and write the response to
its client; the proxy never sees a socket of the client.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from mypy_extensions import mypyc_attr

from balancekit import Backend, Headers, Lease, NoServerAvailable, Request
from balancekit.cache import Admission, CacheLookup
from balancekit.compression import (
    Compression,
    Encoder,
    compressed_headers,
    compressible,
    negotiate,
)
from balancekit.config.keywords import ERRORFILE_CODES
from balancekit.config.runtime import BackendRuntime, ForwardFor, Frontend
from balancekit.persistence import PersistRule, cacheable_cookie
from balancekit.pool import ServerEvent
from balancekit.request import ProxyTlvs, RequestBody, ResponseView, StreamNames, TlsFacts
from balancekit.response_rules import ResponseVerdict, evaluate
from balancekit.routing import Decision, EarlyHint, Router
from balancekit.rules import HttpRule
from balancekit.server_rules import choose_server
from balancekit.sticking import StickJob
from balancekit.stream import (
    Assigned,
    AwaitGrant,
    Connect,
    ConnectFailed,
    ConnectOk,
    Count,
    EmptyResponse,
    Forward,
    GiveUp,
    Granted,
    JunkResponse,
    NoServer,
    PauseElapsed,
    Pick,
    Queued,
    QueueTimeout,
    Response,
    ResponseEvent,
    ResponseTimeout,
    Retry,
    StreamPolicy,
    is_replayable,
)
from balancekit.stream import Decision as StreamDecision
from balancekit.tracking import StreamCounters
from balancekit_server.clock import now_ms
from balancekit_server.http.body_wait import (
    body_room,
    early_hints_bytes,
    next_body,
    read_for_rules,
)
from balancekit_server.http.cookies import CookieJob
from balancekit_server.http.errors import ErrorPage, ErrorPages, reason_phrase
from balancekit_server.http.headers import (
    RawHeaders,
    apply_edits,
    apply_forwardfor,
    in_network,
    split_response_headers,
    strip_hop_by_hop,
    text_view,
)
from balancekit_server.http.upstream import (
    UpstreamConnection,
    UpstreamError,
    UpstreamKilled,
    UpstreamPool,
    UpstreamTimeout,
    server_link,
)
from balancekit_server.ops.counters import apply_count

__all__ = [
    "HTX_EXTRA",
    "Exchange",
    "HttpLogEntry",
    "HttpProxy",
    "RouterLike",
    "logged_head_size",
]

#: Rule lists run in order on a response (the backend's, then the frontend's).
RuleLists = tuple[tuple[HttpRule, ...], ...]


@dataclass(frozen=True, slots=True)
class _Responding:
    """What a response's rules need: `http-response` and `http-after-response`
    lists (the backend's, then the frontend's) and the request they belong to."""

    response_rules: RuleLists
    after_rules: RuleLists
    request: Request
    #: What `cache-use` learnt of the request: `cache-store` needs it.
    cache_lookup: CacheLookup | None = None
    #: The frontend, backend and server (`fe_name`, `be_name`, `srv_name`, `srv_id`).
    names: StreamNames | None = None


def _rewritten(
    verdict: ResponseVerdict, reason: bytes, headers: RawHeaders
) -> tuple[int, bytes, RawHeaders, int]:
    """The status, reason and head after a verdict's `set-status` and header edits
    (the framing stays the server's), and the bytes the edits added to the head's
    fields: HAProxy's %B counts a message as it was produced, before any rule."""
    added = 0
    if verdict.header_edits:
        added = -_fields_size(headers)
        headers = apply_edits(headers, verdict.header_edits)
        added += _fields_size(headers)
    if verdict.reason is not None:
        reason = verdict.reason.encode("latin-1")
    return verdict.status, reason, headers, added


_NO_BODY_STATUS = frozenset({204, 304})
_VERSIONS = {b"1.1": "HTTP/1.1", b"1.0": "HTTP/1.0"}
_ANY_REQUEST = Request()
_NO_BODY = RequestBody()


_SILENT_CLOSE = ErrorPage(0, (), b"", b"", True)
_DEFAULT_PORTS = {b"http": b"80", b"https": b"443", b"ws": b"80", b"wss": b"443"}


def _without_port(authority: bytes, default: bytes | None) -> bytes:
    """`site:80` -> `site` for http (the scheme's default port says nothing)."""
    if default is not None and authority.endswith(b":" + default):
        return authority[: -len(default) - 1]
    return authority


class RouterLike(Protocol):
    """What the proxy needs from `balancekit.routing.Router`."""

    @property
    def filters_connections(self) -> bool: ...

    def accept_connection(self, request: Request) -> bool: ...

    def route(self, request: Request) -> Decision: ...


@mypyc_attr(allow_interpreted_subclasses=True)  # the stats page's router
class BodyService:
    """A router that answers some `use-service` decisions itself once it has the
    request body (the stats page's admin form).  The proxy reads at most
    `body_limit` bytes of it; a larger body reaches `serve` as None."""

    body_limit: int = 16_384

    def serve(self, decision: Decision, request: Request, body: bytes | None) -> Decision:
        raise NotImplementedError


@dataclass(slots=True)
class _Tarpit:
    """A request an `http-request tarpit` rule holds for `delay` seconds, then answers."""

    decision: Decision
    delay: float


@dataclass(slots=True)
class _BodyJob:
    """A request whose rules wait for its body (`Decision` "wait-for-body")."""

    request: Request
    decision: Decision


@dataclass(slots=True)
class _Service:
    """A request a `BodyService` answers: routing's decision, waiting for the body."""

    request: Request
    decision: Decision
    service: BodyService


_LOG_FIELDS = (
    "client_ip",
    "client_port",
    "request_date",
    "frontend",
    "backend",
    "server",
    "treq",
    "tw",
    "tc",
    "tr",
    "ta",
    "status",
    "bytes_read",
    "request_line",
    "termination",
    "cookies",
    "retries",
    "redispatched",
    "srv_queue",
    "backend_queue",
    "ssl",
    "captured_request_headers",
    "captured_response_headers",
    "actconn",
    "feconn",
    "beconn",
    "srv_conn",
)


class HttpLogEntry:
    """Everything an `option httplog` line says about one request.

    One is built per request, and most fields keep their defaults unless a log
    wants them, so the defaults live on the class and an instance only stores
    what was set.  `as_kwargs()` feeds `balancekit_server.ops.logs.format_httplog`.
    """

    server: str | None = None
    treq: int = -1
    tw: int = -1
    tc: int = -1
    tr: int = -1
    ta: int = 0
    status: int = 0
    bytes_read: int = 0
    request_line: str = ""
    termination: str = "--"
    # `%tsc`'s cookie letters (balancekit.persistence); "--" without a `cookie` line.
    cookies: str = "--"
    retries: int = 0
    redispatched: bool = False
    srv_queue: int = 0
    backend_queue: int = 0
    ssl: bool = False
    # `capture request|response header`: one value per capture ("" when absent), or
    # None when the frontend captures nothing in that direction.
    captured_request_headers: list[str] | None = None
    captured_response_headers: list[str] | None = None
    actconn: int = 0
    feconn: int = 0
    beconn: int = 0
    srv_conn: int = 0
    # The connection as a request view, for `log-format` samples (HttpProxy.log_requests).
    request: Request | None = None
    # `%si:%sp` and `%bi:%bp`: the server's address and our end of the connection
    # to it (kept, like `request`, only when the format reads them).
    server_address: tuple[str | None, int | None] = (None, None)
    source_address: tuple[str | None, int | None] = (None, None)
    # A `monitor-uri` request: HAProxy never logs those.
    unlogged: bool = False
    # `%ID`: the request's `unique-id-format`, once built.
    unique_id: str | None = None
    # `set-log-level`: the level of the line ("silent": no line), else None.
    log_level: str | None = None
    # What `http-response capture` rules put in the response capture slots.
    response_slots: list[str] | None = None

    def __init__(
        self,
        client_ip: str,
        client_port: int,
        request_date: float,
        frontend: str,
        backend: str,
        **fields: Any,
    ) -> None:
        self.client_ip = client_ip
        self.client_port = client_port
        self.request_date = request_date
        self.frontend = frontend
        self.backend = backend
        for name, value in fields.items() if fields else ():
            if name not in _LOG_FIELDS:
                raise TypeError(f"HttpLogEntry has no field '{name}'")
            setattr(self, name, value)

    def as_kwargs(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _LOG_FIELDS}

    def __repr__(self) -> str:
        return f"HttpLogEntry({self.as_kwargs()!r})"


@mypyc_attr(allow_interpreted_subclasses=True)  # the ASGI front door's exchange
class Exchange:
    """One client request as a front door presents it to the proxy.

    Subclasses fill the request fields and implement the response half.  Times
    are `loop.time()` values; `request_date` is wall-clock for the log line.
    """

    # request, filled by the front door
    method: bytes = b"GET"
    target: bytes = b"/"
    version: bytes = b"1.1"
    headers: RawHeaders
    tokens: set[bytes]  # Connection header tokens (lower case)
    src: str = ""
    src_port: int = 0
    dst: str = ""
    dst_port: int = 0
    ssl: bool = False
    sni: str = ""
    tls: TlsFacts | None = None  # what the TLS handshake negotiated (`ssl_fc_*`, `ssl_c_*`)
    pp: ProxyTlvs | None = None  # the PROXY v2 header's TLVs (`fc_pp_*`)
    content_length: int | None = None
    chunked: bool = False
    upgrade: bool = False
    client_keep_alive: bool = True
    t_start: float = 0.0
    t_head: float = 0.0
    request_date: float = 0.0
    bytes_in: int = 0  # request body bytes received (the head: `request_size`)
    # response progress, updated by the proxy
    status: int = 0
    bytes_out: int = 0
    # The log entry of this request (`show sess` reads its backend and server).
    log_entry: HttpLogEntry | None = None
    # The request's tracked stick-table counters (None without stick tables), and
    # its connection's (`tcp-request connection track-sc*`), which the front door sets.
    stream: StreamCounters | None = None
    session: StreamCounters | None = None
    # The trailer fields after a chunked response body, passed on to the client.
    response_trailers: RawHeaders | None = None
    # The server's response headers, kept only for `capture response header`.
    keep_response_headers: bool = False
    response_headers: RawHeaders | None = None
    keep_alive: bool = True  # whether the client connection can serve another request
    # The first request of its client connection.  As with HAProxy's default
    # `http-reuse safe`, it goes out on a server connection of its own, not an idle
    # one another client used: a fresh connection is also ACKed at once, where a
    # reused one would wait out the delayed-ACK timer (~40 ms) for a server that
    # writes its head and body separately (Python's http.server, many sync servers).
    first_request: bool = False
    # The `compression algo` chosen for this request's answer (None: none applies).
    compression: str | None = None
    malformed: bool = False  # a request the parser accepted but HAProxy refuses
    malformed_status: int = 400  # what HAProxy answers it: 400, or 422 (see read_framing)
    # Refused by HAProxy's H1 mux itself, whose page ends with `connection: close`.
    malformed_in_mux: bool = False
    # The body pieces read for the rules (`wait-for-body`), forwarded before the rest.
    early_body: list[bytes] | None = None

    def _refuse(self, status: int = 400) -> None:
        self.malformed = True
        self.malformed_status = status

    def read_framing(self) -> bool:
        """Set `content_length`/`chunked`/`tokens` from the headers (one pass); True if
        `Expect: 100-continue`.  A request HAProxy 2.6 refuses is marked `malformed`:

        - `Transfer-Encoding` other than a final, single `chunked` (400; 422 when
          other codings come before `chunked`): the body could not be framed as the
          client meant it, and relabelling it `chunked` would desynchronise the two
          connections;
        - two different `Host` headers, or an absolute-form target whose authority
          differs from `Host` (400): an ACL on `hdr(host)` must see the site a
          server following RFC 9112 would serve.

        The parser already rejected two different lengths.
        """
        expect = False
        self.content_length = None
        self.chunked = False
        tokens: set[bytes] = set()
        host: bytes | None = None
        codings: list[bytes] = []
        for name, value in self.headers:
            low = name.lower()
            if low == b"content-length":
                self.content_length = int(value)
            elif low == b"transfer-encoding":
                codings.extend(c.strip().lower() for c in value.split(b","))
            elif low == b"connection":
                tokens.update(t.strip().lower() for t in value.split(b","))
            elif low == b"expect" and value.lower() == b"100-continue":
                expect = True
            elif low == b"host":
                if host is not None and host.lower() != value.lower():
                    # Two different Host headers: which site is meant? HAProxy says 400.
                    self.malformed = True
                host = value
        self.tokens = tokens
        if codings:
            if codings[-1] != b"chunked" or codings.count(b"chunked") > 1:
                self._refuse(400)
            elif len(codings) > 1:
                self._refuse(422)  # HAProxy 2.6 forwards no other coding
            self.chunked = True
            self.content_length = None
        if self.target[:1] != b"/" and b"://" in self.target:
            self._check_authority(host)
        if self.method == b"PRI":
            # HTTP/2's connection preface (`PRI * HTTP/2.0`) is no HTTP/1 request:
            # HAProxy 2.6's H1 parser refuses the method (400) where it does not
            # upgrade to HTTP/2 (`option disable-h2-upgrade`; balancekit never does).
            self._refuse(400)
            self.malformed_in_mux = True
        return expect

    def _check_authority(self, host: bytes | None) -> None:
        """An absolute-form target (`GET http://site/ HTTP/1.1`): its authority must
        be the Host header's, ports that are the scheme's default aside, as in
        HAProxy 2.6, which then forwards the target without that default port."""
        scheme, _, rest = self.target.partition(b"://")
        end = len(rest)
        for stop in (b"/", b"?", b"#"):
            found = rest.find(stop)
            if 0 <= found < end:
                end = found
        userinfo, at, authority = rest[:end].rpartition(b"@")
        default = _DEFAULT_PORTS.get(scheme.lower())
        bare = _without_port(authority, default)
        if bare != authority:
            self.target = scheme + b"://" + userinfo + at + bare + rest[end:]
        if host is not None and _without_port(host, default).lower() != bare.lower():
            self._refuse(400)

    def shut_with_request(self) -> bool:
        """Whether the client's FIN came with this request: already read, or waiting
        right behind it.  HAProxy 2.6's HTTP/1 layer stops reading a client once
        its request is whole, so a FIN that comes later goes unnoticed until the
        answer; `option abortonclose` acts on this one only.  Front doors that
        cannot tell say no."""
        return False

    def move(self, src: str, src_port: int, dst: str, dst_port: int) -> None:
        """`set-src`/`set-dst`: the client's addresses as this request's rules left
        them.  Since HAProxy 2.5 they are the stream's: the connection's next
        requests start from its own addresses again."""
        self.src, self.src_port, self.dst, self.dst_port = src, src_port, dst, dst_port

    @property
    def has_body(self) -> bool:
        return self.chunked or bool(self.content_length)

    @property
    def body_finished(self) -> bool:
        """Whether the whole request body has arrived (front doors that know say so;
        unknown counts as not yet, which only makes the request not replayable)."""
        return not self.has_body

    async def read_body(self) -> bytes:
        """Next request-body chunk; b"" once the body is complete."""
        raise NotImplementedError

    def arrived_body(self, limit: int) -> tuple[bytes, bool]:
        """The body bytes already here, not yet read (at least `limit` of them when
        there are that many), and whether they are all of it: HAProxy's rules see
        what arrived with the head even without waiting."""
        return b"", not self.has_body

    def request_trailers(self) -> RawHeaders:
        """The trailer fields after a chunked request body (once it is read)."""
        return []

    def send_page(self, page: ErrorPage) -> None:
        """A complete local response (error page, redirect, `return`)."""
        raise NotImplementedError

    def send_interim(self, status: int, reason: bytes, headers: RawHeaders) -> None:
        raise NotImplementedError

    def begin_response(
        self,
        status: int,
        reason: bytes,
        headers: RawHeaders,
        length: int | None,
        body: bool,
        *,
        until_close: bool = False,
        framed: bool = False,
        response_version: bytes = b"1.1",
    ) -> None:
        """Response head; `length` None with `body` means the body's size is unknown:
        chunked from the server, or, with `until_close`, ended by the server closing
        (an HTTP/1.1 client then gets it the same way, as from HAProxy).  `framed`:
        `headers` already hold the `transfer-encoding: chunked` line where it goes
        (compression adds it among the headers, as HAProxy's filter does)."""
        raise NotImplementedError

    def write_body(self, data: bytes) -> None:
        raise NotImplementedError

    def end_response(self) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Push buffered response bytes to the client (front doors may coalesce)."""

    def abort(self) -> None:
        """The response cannot be completed: drop the client connection."""
        raise NotImplementedError

    def set_producer(self, conn: UpstreamConnection | None) -> None:
        """The upstream connection to pause while the client does not read."""
        raise NotImplementedError

    async def wait_response(self, relay: Relay) -> None:
        """Return once the response is complete (or raise the upstream error)."""
        raise NotImplementedError

    def start_tunnel(self, conn: UpstreamConnection, leftover: bytes) -> bool:
        """Switch to a raw byte tunnel with `conn` (101 Switching Protocols)."""
        return False

    def on_client_lost(self, callback: Callable[[], None] | None) -> None:
        """Call `callback` if the client goes away while the proxy waits."""

    def attach(self, conn: UpstreamConnection, relay: Relay) -> None:
        """The exchange is in flight on `conn`: `set_producer` + `on_client_lost`."""
        self.set_producer(conn)
        self.on_client_lost(relay.client_lost)

    def detach(self) -> None:
        """The exchange is over: undo `attach`."""
        self.set_producer(None)
        self.on_client_lost(None)


class Relay:
    """The response sink of one exchange: upstream callbacks → client writes."""

    __slots__ = (
        "_future",
        "blocked",
        "caching",
        "checkcache",
        "closing",
        "compressing",
        "conn",
        "cookies",
        "counters",
        "encoder",
        "exchange",
        "head_request",
        "intercepted",
        "logasap",
        "notify",
        "respond",
        "retry",
        "retry_check",
        "started",
        "stick",
        "t_response",
        "tunnel_timeout",
        "upgraded",
    )

    def __init__(
        self,
        exchange: Exchange,
        conn: UpstreamConnection,
        head_request: bool,
        notify: Callable[[BaseException | None], None] | None = None,
    ) -> None:
        self.exchange = exchange
        self.conn = conn
        # Completion goes to `notify` (fast path, no task) or to `future` (awaited).
        self.notify = notify
        self._future: asyncio.Future[None] | None = None
        self.head_request = head_request
        self.started = False
        self.upgraded = False
        self.tunnel_timeout: float | None = None
        self.closing = False
        self.t_response = 0.0
        self.counters: Any = None  # the server's, while counted (see _start_exchange)
        # L7 retries on status (`retry-on 503 …`): asked before the head goes out.
        self.retry_check: Callable[[int], StreamDecision | None] | None = None
        self.retry: StreamDecision | None = None
        self.cookies: CookieJob | None = None  # the backend's `cookie` persistence
        # The backend's `stick` rules, its pool and the server: stored on the answer.
        self.stick: tuple[StickJob, Backend, str] | None = None
        # `http-response` and `http-after-response` rules and the request they read.
        self.respond: _Responding | None = None
        # What they decided when a rule replaced the answer (deny, return, redirect).
        self.intercepted: ResponseVerdict | None = None
        # `option checkcache`: where to say an answer was blocked (the backend's log,
        # None: no log), once it was (`blocked`); None: the option is off.
        self.checkcache: Callable[[], None] | None = None
        self.blocked = 0  # the status of the answer blocked
        # `option logasap`: logs the request once the answer's head is on its way.
        self.logasap: Callable[[], None] | None = None
        # `cache-store`: the answer being copied into caches as it is relayed.
        self.caching: list[Admission] | None = None
        # `compression`: the algorithm the request chose and the backend's and the
        # frontend's lines, until the answer's head says whether it applies...
        self.compressing: tuple[str, Compression | None, Compression | None] | None = None
        # ...and the encoder of the body when it does.
        self.encoder: Encoder | None = None

    def on_interim(self, status: int, reason: bytes, headers: RawHeaders) -> None:
        self.exchange.send_interim(status, reason, headers)

    def on_head(self, status: int, reason: bytes, headers: RawHeaders, keep_alive: bool) -> None:
        ex = self.exchange
        if status == 101 and not ex.upgrade:
            # A switch nobody asked for: the client could not speak the new protocol.
            # HAProxy answers 502; raising here fails the exchange before it starts.
            raise UpstreamError("101 Switching Protocols to a request without Upgrade")
        check = self.retry_check
        if check is not None:
            retry = check(status)
            if retry is not None:
                # Nothing went to the client: drop this answer and send the request again.
                self.retry = retry
                raise UpstreamError(f"status {status} is retried (retry-on)")
        self.t_response = self.conn.pool.loop.time()
        self.started = True
        upgrading = status == 101 and ex.upgrade
        bodiless = self.head_request or status == 304
        out, length_value, encoded = split_response_headers(
            headers, keep_upgrade=upgrading, keep_framing=bodiless
        )
        length: int | None = None
        body = not (bodiless or status in _NO_BODY_STATUS or status < 200)
        if body and length_value is not None and not encoded:
            try:
                length = int(length_value)
            except ValueError:
                length = None
        version = b"1.0" if self.conn.parser.get_http_version() == "1.0" else b"1.1"
        framed = False
        if self.compressing is not None:
            # Decided on the server's head, before any rule (HAProxy's filter runs at
            # the end of wait-for-response); the head changes after them all.
            sized = body and (encoded or bool(length))
            self.encoder = self._encoder(status, version, headers, sized)
            if self.encoder is not None and encoded:
                # Already chunked: HAProxy keeps the server's line where it was.
                out = split_response_headers(headers, keep_framing=True)[0]
                framed = True
        if self.stick is not None:
            job, backend, server = self.stick
            if job.reads_response:  # `stick store-response`: the answer's head is read
                job.store(backend, server, now_ms(), status, text_view(headers))
            else:
                job.store(backend, server, now_ms())  # process_store_rules, on the answer
        respond = self.respond
        unseen = 0  # what the rules add to the head: HAProxy's %B never counts it
        if respond is not None:
            stream = respond.request.stream
            if stream is not None:
                stream.vars.to_response()  # the `req.*` variables end here
            # http_process_res_common: after the store rules, before the cookie.
            view = self._view(respond, status, headers, version)
            verdict = evaluate(respond.response_rules, view)
            if verdict.answer is not None:
                self.intercepted = verdict
                raise UpstreamError("the answer was replaced by an http-response rule")
            if verdict.stores:
                self.caching = _admissions(verdict, respond.cache_lookup, reason, encoded)
            status, reason, out, added = _rewritten(verdict, reason, out)
            unseen += added
        if self.cookies is not None:
            out = self.cookies.apply_response(out, status, ex.method)
        if self.checkcache is not None and cacheable_cookie(ex.method, status, headers, out):
            self.blocked = status
            self.checkcache()
            raise UpstreamError("a cacheable answer sets a cookie (option checkcache)")
        if respond is not None and respond.after_rules:
            view = self._view(respond, status, out, version)
            verdict = evaluate(respond.after_rules, view)
            status, reason, out, added = _rewritten(verdict, reason, out)
            unseen += added
        if upgrading:
            out.append((b"Connection", b"upgrade"))
        if self.encoder is not None:
            assert self.compressing is not None
            # The encoded body goes chunked; HAProxy's filter adds the header first
            # (unless the server's answer was chunked already), then Vary and the coding.
            if not framed:
                out.append((b"transfer-encoding", b"chunked"))
                framed = True
            out = compressed_headers(out, self.compressing[0])
            length = None
        ex.status = status
        if ex.keep_response_headers:
            ex.response_headers = headers
        ex.begin_response(
            status,
            reason or reason_phrase(status).encode(),
            out,
            length,
            body,
            until_close=body and length_value is None and not encoded,
            framed=framed,
            response_version=version,
        )
        ex.bytes_out -= unseen
        if self.logasap is not None:
            self.logasap()

    def _view(
        self, respond: _Responding, status: int, headers: RawHeaders, version: bytes
    ) -> ResponseView:
        """What `http-response` / `http-after-response` rules read of the answer."""
        algo = self.compressing[0] if self.encoder is not None and self.compressing else ""
        return ResponseView(
            respond.request,
            status,
            text_view(headers),
            names=respond.names,
            compression=algo,
            version="HTTP/1.0" if version == b"1.0" else "HTTP/1.1",
        )

    def _encoder(
        self, status: int, version: bytes, headers: RawHeaders, sized: bool
    ) -> Encoder | None:
        assert self.compressing is not None
        algo, backend, frontend = self.compressing
        ex = self.exchange
        if compressible(
            backend,
            frontend,
            method=ex.method,
            request_version=ex.version,
            response_version=version,
            status=status,
            headers=headers,
            sized=sized,
        ):
            return Encoder(algo, (backend or frontend or Compression()).level)
        return None

    def on_body(self, data: bytes) -> None:
        if self.caching is not None:
            for admission in self.caching:
                admission.add(data)
        encoder = self.encoder
        if encoder is not None:
            data = encoder.feed(data)
            if not data:
                return
        self.exchange.write_body(data)

    def on_flush(self) -> None:
        self.exchange.flush()

    @property
    def future(self) -> asyncio.Future[None]:
        if self._future is None:
            self._future = self.conn.pool.loop.create_future()
        return self._future

    def _complete(self, exc: BaseException | None) -> None:
        notify = self.notify
        if notify is not None:
            self.notify = None
            notify(exc)
            return
        future = self.future
        if not future.done():
            if exc is None:
                future.set_result(None)
            else:
                future.set_exception(exc)

    def on_trailers(self, trailers: RawHeaders) -> None:
        self.exchange.response_trailers = trailers

    def on_done(self) -> None:
        if self.encoder is not None:
            tail = self.encoder.finish()
            if tail:
                self.exchange.write_body(tail)
        if not self.upgraded:
            self.exchange.end_response()
        if self.caching is not None:
            for admission in self.caching:
                admission.finish()
            self.caching = None
        self._complete(None)

    def on_upgrade(self, leftover: bytes) -> None:
        self.upgraded = True
        if self.exchange.start_tunnel(self.conn, leftover):
            self.conn.tunnel_timeout(self.tunnel_timeout)
        else:
            self.conn.abort()
        self._complete(None)

    def on_error(self, exc: UpstreamError) -> None:
        self.exchange.flush()
        self._complete(exc)

    def client_lost(self) -> None:
        self.conn.abort()
        self._complete(ConnectionResetError("client went away"))


@dataclass(slots=True)
class _BackendState:
    settings: BackendRuntime
    backend: Backend
    pools: dict[str, UpstreamPool]
    errors: ErrorPages | None
    forwardfor: ForwardFor | None
    counters: Any = None
    # `option originalto`, frontend and backend merged: the header's name and the
    # networks whose addresses get none.
    originalto: tuple[bytes, tuple[str, ...]] | None = None
    active: int = 0
    timeout_server: float | None = None
    timeout_tunnel: float | None = None
    # `option http-server-close` or `httpclose` (frontend or backend): one request per
    # server connection, announced with `Connection: close`, as HAProxy does.
    close_server: bool = False
    # `retry-on` beyond conn-failure: requests keep a copy and take the task path.
    l7_retries: bool = False
    server_counters: dict[str, Any] = field(default_factory=dict)
    #: What each server's answers say of themselves (`srv_name`…), made once per server.
    stream_names: dict[str, StreamNames] = field(default_factory=dict)
    #: `http-response` and `http-after-response` rule lists, backend's then
    #: frontend's (empty: none at all).
    response_rules: RuleLists = ()
    after_rules: RuleLists = ()


@dataclass(slots=True)
class _Plan:
    """What routing decided for one request: the view, the backend, the request head."""

    request: Request
    state: _BackendState
    head: bytes
    #: Cookie persistence of the backend (None without a `cookie` line).
    cookies: CookieJob | None = None
    #: `stick` rules of the backend (None without any).
    stick: StickJob | None = None
    #: The server a `use-server` rule chose (None: none did).
    use_server: str | None = None
    #: What `cache-use` learnt of the request, for `cache-store` on the answer.
    cache_lookup: CacheLookup | None = None

    @property
    def server(self) -> str | None:
        """The server persistence names ("direct"): a `use-server` rule's, else the
        cookie's, else a table's (HAProxy's order of analysers)."""
        if self.use_server is not None:
            return self.use_server
        cookies = self.cookies
        if cookies is not None and cookies.server is not None:
            return cookies.server
        stick = self.stick
        return None if stick is None else stick.server


class _Flight(Relay):
    """The task-free fast path of one request (see `HttpProxy.begin`): the relay
    itself carries what finishing needs, so a request allocates one object here."""

    __slots__ = ("done", "ended", "entry", "lease", "plan", "proxy", "t_sent")

    def __init__(
        self,
        proxy: HttpProxy,
        ex: Exchange,
        entry: HttpLogEntry,
        plan: _Plan,
        lease: Lease,
        conn: UpstreamConnection,
        done: Callable[[], None],
    ) -> None:
        # Relay's fields, set here rather than through super().__init__ (hot path).
        self.exchange = ex
        self.conn = conn
        self.notify = None
        self._future = None
        self.head_request = ex.method == b"HEAD"
        self.started = False
        self.upgraded = False
        self.tunnel_timeout = None
        self.closing = False
        self.t_response = 0.0
        self.counters: Any = None  # the server's, while counted (see _start_exchange)
        self.retry_check = None  # the fast path never runs with L7 retries
        self.retry = None
        self.cookies = None  # set by _start_exchange for a backend with a `cookie` line
        self.stick = None  # set by _start_exchange for a backend with `stick` rules
        self.respond = None  # set by _start_exchange when response rules exist
        self.intercepted = None
        self.checkcache = None  # set by _start_exchange with `option checkcache`
        self.blocked = 0
        self.logasap = None  # set by _start_exchange with `option logasap`
        self.caching = None  # set on the answer by a `cache-store` rule
        self.compressing = None  # set by _start_exchange when a `compression` algo applies
        self.encoder = None
        self.proxy = proxy
        self.entry = entry
        self.plan = plan
        self.lease = lease
        self.done = done
        self.t_sent = 0.0
        self.ended = False

    def start(self) -> None:
        self.t_sent = self.proxy._start_exchange(
            self.plan, self.lease, self.conn, self, self.entry, self.conn.pool.loop.time()
        )

    def _complete(self, exc: BaseException | None) -> None:
        if self.ended:
            return  # an exchange ends once (a late error after the answer is moot)
        self.ended = True
        proxy, ex, entry = self.proxy, self.exchange, self.entry
        try:
            outcome = proxy._end_exchange(
                self.plan, self.lease, self.conn, self, entry, self.t_sent, exc
            )
        except Exception:
            proxy._crashed(ex, entry)
            outcome = "failed"
        if outcome == "replay":
            loop = self.conn.pool.loop
            task = loop.create_task(
                proxy._slow(ex, entry, self.plan, None, self.done, replayed=True)
            )
            task.add_done_callback(_report_crash)
            return
        proxy._finish(ex, entry)
        self.done()


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        task.get_loop().call_exception_handler(
            {"message": "HTTP request handler crashed", "exception": task.exception()}
        )


class _Failure(Exception):
    def __init__(self, status: int, termination: str) -> None:
        super().__init__(status)
        self.status = status
        self.termination = termination


class HttpProxy:
    """Routing + balancing + relaying for one `mode http` frontend.

    `router` is anything with `route(Request) -> Decision` (the compiled frontend
    rules); `frontend` and `backends` are the config's own settings
    (`balancekit.config.Frontend`, `BackendRuntime`), as `balancekit.config.load`
    builds them; a bare `Backend` stands for a backend with default settings and a
    5 s connect timeout.  `log` receives one `HttpLogEntry` per request when
    `option httplog` is on (or always, if given and the frontend has no such flag).
    """

    def __init__(
        self,
        router: RouterLike,
        backends: Mapping[str, BackendRuntime | Backend],
        frontend: Frontend | None = None,
        *,
        log: Callable[[HttpLogEntry], None] | None = None,
        counters: Any = None,
    ) -> None:
        self.router = router
        self.frontend = frontend if frontend is not None else Frontend("http")
        self.name: str = self.frontend.name
        self.errors = ErrorPages(self.frontend.errorfiles)
        self.forwardfor: ForwardFor | None = self.frontend.forwardfor
        self.x_forwarded_proto = self.frontend.x_forwarded_proto
        self.x_forwarded_host = self.frontend.x_forwarded_host
        self.log = log
        self.log_requests = False  # entries carry the request view (log-format samples)
        #: Each backend's own log (`log` lines), for its alerts: (message, level).
        self.backend_log: dict[str, Callable[[str, str], None]] = {}
        #: Where HAProxy's "Connect from" line goes: a frontend that logs without a
        #: format (no `option httplog`, no `log-format`) says it for each request.
        self.connect_log: Callable[[str], None] | None = None
        self.counters = counters
        self.fe_counters = counters.frontend(self.name) if counters is not None else None
        self.active = 0  # requests in progress
        self._request_captures = _capture_specs(self.frontend.captures, "request")
        self._response_captures = _capture_specs(self.frontend.captures, "response")
        # (actconn, feconn) for log lines, set by a front door that counts connections
        # (`HttpService`); without one, the requests in progress stand in for both.
        self.connection_counts: Callable[[], tuple[int, int]] | None = None
        self.stopping = False  # soft stop: connections close after their response
        self._backends: dict[str, _BackendState] = {}
        for name, item in backends.items():
            settings = (
                item
                if isinstance(item, BackendRuntime)
                else BackendRuntime(name, "http", item, timeout_connect=5.0)
            )
            self._backends[name] = _BackendState(
                settings=settings,
                backend=settings.backend,
                pools={},
                errors=ErrorPages(settings.errorfiles) if settings.errorfiles else None,
                # frontend and backend `option forwardfor` merged once, as HAProxy does
                forwardfor=_merge_forwardfor(self.forwardfor, settings.forwardfor),
                originalto=_merge_originalto(self.frontend.originalto, settings.originalto),
                counters=(counters.backend(name) if counters is not None else None),
                timeout_server=settings.timeout_server,
                timeout_tunnel=(
                    settings.timeout_tunnel
                    or settings.timeout_server
                    or self.frontend.timeout_client
                ),
                close_server=any(
                    side.http_server_close or side.httpclose for side in (self.frontend, settings)
                ),
                l7_retries=settings.retry_policy.l7,
                response_rules=_lists(
                    settings.http_response_rules, self.frontend.http_response_rules
                ),
                after_rules=_lists(
                    settings.http_after_response_rules, self.frontend.http_after_response_rules
                ),
            )
            state = self._backends[name]
            settings.backend.watch_servers(
                functools.partial(_server_event, state.pools, state.stream_names)
            )

        #: `http-after-response` rules for answers given before a backend is chosen,
        #: and the frontend's `http-response` rules for the cache's answers.
        self._after_rules = _lists(self.frontend.http_after_response_rules)
        self._response_rules = _lists(self.frontend.http_response_rules)
        self._static = self._static_route()
        uid_format = self.frontend.unique_id_format
        self._unique_id_format = None if uid_format is None else uid_format.render
        header = self.frontend.unique_id_header
        self._unique_id_header = None if header is None else header.encode("latin-1")

    def set_router(self, router: RouterLike) -> None:
        """Route with `router` from now on (the stats page wraps a frontend's rules
        once the stats service is up)."""
        self.router = router
        self._static = self._static_route()

    def _static_route(self) -> tuple[Decision, _BackendState] | None:
        """The decision of a frontend whose every request goes to the same backend
        untouched, when that backend's algorithm does not look at the request.

        Such frontends (the seeds' round-robin, weighted and random episodes) skip
        the routing view and `route()` per request.  Anything the router can base a
        decision on (`Router.fixed_http`) disables this; so does a router that is
        not `balancekit.routing.Router`.
        """
        router = self.router
        if self.frontend.tracks:
            return None  # every request carries its tracked counters: build the view
        decision = router.fixed_http if isinstance(router, Router) else None
        if decision is None or decision.action != "forward" or decision.backend is None:
            return None
        state = self._backends.get(decision.backend)
        settings = state.settings if state is not None else None
        if state is None or state.backend.balance.is_hash or settings is None:
            return None
        if settings.stick_rules or settings.server_rules:
            return None
        if state.response_rules or state.after_rules or self._after_rules:
            return None  # they read the request's view
        return decision, state

    def __repr__(self) -> str:
        return f"<HttpProxy {self.name} backends={sorted(self._backends)} active={self.active}>"

    # -- helpers used by front doors -----------------------------------------------

    def error_page(self, status: int) -> ErrorPage:
        return self.errors[status]

    def close(self) -> None:
        """Close idle upstream connections (shutdown)."""
        for state in self._backends.values():
            for pool in state.pools.values():
                pool.close()

    def pool(self, backend: str, server: str) -> UpstreamPool:
        """The keep-alive pool of one server (created on first use)."""
        state = self._backends[backend]
        return self._pool(state, server)

    def _pool(self, state: _BackendState, server_name: str) -> UpstreamPool:
        pool = state.pools.get(server_name)
        if pool is None:
            server = state.backend.member(server_name).server
            port = server.port
            if port is None:
                raise UpstreamError(f"server '{server_name}' has no port")
            pool = state.pools[server_name] = UpstreamPool(
                server.host,
                port,
                keepalive=state.settings.srvtcpka,
                link=server_link(state.settings, server, self.build_request),
                max_head=state.settings.max_response_head,
                max_lines=state.settings.max_response_lines,
            )
        return pool

    # -- the request ------------------------------------------------------------------

    @staticmethod
    def build_request(ex: Exchange) -> Request:
        """The routing view of a request (decoded once; names lower-cased once)."""
        uri = target = ex.target.decode("latin-1")
        if not target.startswith("/"):
            # absolute-form (proxy-style) or '*': route on the path part only
            scheme_sep = target.find("://")
            if scheme_sep >= 0:
                slash = target.find("/", scheme_sep + 3)
                target = target[slash:] if slash >= 0 else "/"
        path, _, query = target.partition("?")
        headers = Headers.__new__(Headers)
        headers._items = tuple(  # what Headers() would build, without a second pass
            (n.lower().decode("latin-1"), v.decode("latin-1")) for n, v in ex.headers
        )
        version = _VERSIONS.get(ex.version) or "HTTP/" + ex.version.decode("latin-1")
        method = ex.method.decode("latin-1")
        return Request(
            ex.src,
            method,
            path,
            query,
            headers,
            src_port=ex.src_port,
            dst=ex.dst,
            dst_port=ex.dst_port,
            version=version,
            uri=uri,
            ssl=ex.ssl,
            sni=ex.sni,
            stream=ex.stream,
            tls=ex.tls,
            pp=ex.pp,
        )

    def _new_entry(self, ex: Exchange) -> HttpLogEntry:
        self.active += 1
        if self.fe_counters is not None:
            self.fe_counters.request()
        # request_line, treq and ssl are filled in `_finish`, only when a log wants them
        entry = ex.log_entry = HttpLogEntry(
            ex.src, ex.src_port, ex.request_date, self.name, self.name
        )
        if self.connect_log is not None:
            self.connect_log(
                f"Connect from {ex.src}:{ex.src_port} to {ex.dst}:{ex.dst_port} ({self.name}/HTTP)"
            )
        if self.log is not None and (self._request_captures or self._response_captures):
            if self._request_captures:
                entry.captured_request_headers = _captured(ex.headers, self._request_captures)
            ex.keep_response_headers = bool(self._response_captures)
        return entry

    def _finish(self, ex: Exchange, entry: HttpLogEntry) -> None:
        """Account and log one finished request (every path ends here once)."""
        self.active -= 1
        stream = ex.stream
        if stream is not None:
            ex.stream = None
            entry.log_level = stream.log_level
            entry.response_slots = stream.response_captures
            if ex.status and entry.termination[:1] not in ("P", "L"):
                # A server's answer, or the proxy's for a server that failed: its
                # 4xx/5xx count on the tracked entries (rules already counted theirs).
                stream.response(ex.status)
            stream.close(now_ms(), ex.bytes_out, request_size(ex))
        fe = self.fe_counters
        if fe is not None and ex.status:
            _count_response(fe, ex.status, ex.bytes_out)
        self._log(ex, entry)

    def _log(self, ex: Exchange, entry: HttpLogEntry) -> None:
        """Fill in what the log line says at this moment, and log it (once)."""
        if self.log is not None and not entry.unlogged:
            entry.unlogged = True
            # (`cR`: the request never came whole, a body wait ran out: no request time)
            treq = max(0, int((ex.t_head - ex.t_start) * 1000))
            entry.treq = -1 if entry.termination[:2] == "cR" else treq
            entry.ssl = ex.ssl
            entry.ta = max(0, int((asyncio.get_running_loop().time() - ex.t_start) * 1000))
            entry.status = ex.status or entry.status
            entry.bytes_read = ex.bytes_out
            if self._response_captures:
                captured = _captured(ex.response_headers or [], self._response_captures)
                if entry.response_slots is not None:  # `http-response capture … id N`
                    captured = [a or b for a, b in zip(entry.response_slots, captured, strict=True)]
                entry.captured_response_headers = captured
            if self.connection_counts is not None:
                entry.actconn, entry.feconn = self.connection_counts()
            else:
                entry.actconn = entry.feconn = self.active + 1
            if not entry.request_line:
                entry.request_line = (
                    f"{ex.method.decode('latin-1')} {ex.target.decode('latin-1')} "
                    f"HTTP/{ex.version.decode('latin-1')}"
                )
            if self.log_requests:  # log-format samples see the connection only
                entry.request = Request(
                    ex.src,
                    src_port=ex.src_port,
                    dst=ex.dst,
                    dst_port=ex.dst_port,
                    ssl=ex.ssl,
                    sni=ex.sni,
                    tls=ex.tls,
                    pp=ex.pp,
                )
            self.log(entry)

    def _crashed(self, ex: Exchange, entry: HttpLogEntry) -> None:
        """A bug must not leave the client hanging: answer 500 (or cut the response)."""
        entry.termination = "PH"
        if ex.status == 0:
            self._local(ex, self.errors[500], entry, "PH")
        else:
            ex.abort()

    async def handle(self, ex: Exchange) -> None:
        """Serve one request from `ex` to completion; never raises for I/O errors."""
        entry = self._new_entry(ex)
        try:
            plan = self._plan(ex, entry)
            if isinstance(plan, _BodyJob):
                plan = await self._waited(ex, entry, plan)
            if isinstance(plan, _Service):
                await self._serve(ex, entry, plan)
            elif isinstance(plan, _Tarpit):
                await self._hold(ex, entry, plan)
            elif plan is not None:
                await self._forward(ex, entry, plan, None)
        except Exception:
            self._crashed(ex, entry)
            raise
        finally:
            self._finish(ex, entry)

    def begin(self, ex: Exchange, done: Callable[[], None]) -> None:
        """Serve one request, calling `done()` when it is over.

        The common case — no request body, a free server slot and an idle
        keep-alive connection — runs entirely in callbacks, with no task and no
        future: that is most of the difference to an ASGI host on a proxy hop.
        Anything that must wait (connect, queue, upload, retry) continues in a
        task running the same `_forward` the coroutine path uses.
        """
        entry = self._new_entry(ex)
        lease: Lease | None = None
        try:
            plan = self._plan(ex, entry)
            if plan is None:
                self._finish(ex, entry)
                done()
                return
            # (a local service reads the body first: in the task below)
            if (
                not isinstance(plan, (_Service, _Tarpit, _BodyJob))
                and not ex.has_body
                and not ex.upgrade
                and not plan.state.l7_retries
            ):
                try:
                    lease = plan.state.backend.acquire(plan.request, server=plan.server)
                except NoServerAvailable:
                    self._local(ex, self.errors_for(plan.state)[503], entry, "SC", plan.state)
                    self._finish(ex, entry)
                    done()
                    return
                server = lease.server
                if server is not None:
                    pool = self._pool(plan.state, server.name)
                    conn = None if ex.first_request else pool.take_idle(ex)
                    if conn is not None:
                        _Flight(self, ex, entry, plan, lease, conn, done).start()
                        return
        except Exception:
            self._crashed(ex, entry)
            self._finish(ex, entry)
            done()
            raise
        task = asyncio.get_running_loop().create_task(self._slow(ex, entry, plan, lease, done))
        task.add_done_callback(_report_crash)

    async def _slow(
        self,
        ex: Exchange,
        entry: HttpLogEntry,
        plan: _Plan | _Service | _Tarpit | _BodyJob | None,
        lease: Lease | None,
        done: Callable[[], None],
        *,
        replayed: bool = False,
    ) -> None:
        try:
            if isinstance(plan, _BodyJob):
                plan = await self._waited(ex, entry, plan)
            if plan is None:
                pass
            elif isinstance(plan, _Service):
                await self._serve(ex, entry, plan)
            elif isinstance(plan, _Tarpit):
                await self._hold(ex, entry, plan)
            else:
                await self._forward(ex, entry, plan, lease, replayed=replayed)
        except Exception:
            self._crashed(ex, entry)
            raise
        finally:
            self._finish(ex, entry)
            done()

    async def _serve(self, ex: Exchange, entry: HttpLogEntry, job: _Service) -> None:
        """Read the body a local service needs (all of it, so that none is taken for
        the next request), then send its answer."""
        body = bytearray()
        whole = True
        limit = job.service.body_limit
        try:
            while chunk := await next_body(ex):
                if whole and len(body) + len(chunk) <= limit:
                    body += chunk
                else:
                    whole = False
        except ConnectionResetError:
            entry.termination = "CR"
            ex.keep_alive = False
            ex.abort()
            return
        answer = job.service.serve(job.decision, job.request, bytes(body) if whole else None)
        self._answer_locally(ex, answer, entry)

    def _tarpit_delay(self, decision: Decision) -> float:
        """`timeout tarpit` of the proxy whose rule decided (else its `timeout connect`)."""
        state = self._backends.get(decision.backend) if decision.backend else None
        delay = state.settings.timeout_tarpit if state is not None else self.frontend.timeout_tarpit
        return delay or 0.0

    async def _hold(self, ex: Exchange, entry: HttpLogEntry, job: _Tarpit) -> None:
        """`http-request tarpit`: keep the client waiting, then answer its page (500
        by default), logged `PT` with the wait as `Tw`, as HAProxy does."""
        start = time.monotonic()
        # Never answer early: a loop timer may fire a little before its time.
        while (left := start + job.delay - time.monotonic()) > 0:
            await asyncio.sleep(left)
        entry.tw = _ms(time.monotonic() - start)
        self._answer_locally(ex, job.decision, entry)

    def _plan(
        self, ex: Exchange, entry: HttpLogEntry
    ) -> _Plan | _Service | _Tarpit | _BodyJob | None:
        """Rules and backend choice; None when the request was answered locally."""
        monitor = self.frontend.monitor_uri
        if monitor is not None and _is_monitor_request(ex.target, monitor):
            self._answer_monitor(ex, entry)
            return None
        static = self._static
        if static is not None:
            # No rule reads the request and the backend's algorithm ignores it
            # (roundrobin, leastconn, random…): no routing view to build.
            decision, fixed = static
            entry.backend = fixed.backend.name
            headers = self._upstream_headers(ex, decision, fixed)
            if fixed.settings.cookie is None:
                return _Plan(_ANY_REQUEST, fixed, self._request_head(ex, headers))
            request = self.build_request(ex) if fixed.settings.persist_rules else _ANY_REQUEST
            verdict = _persist_verdict(fixed.settings, request)
            return self._persistent_plan(ex, entry, request, fixed, headers, verdict)
        if self.frontend.tracks:
            ex.stream = stream = StreamCounters(now_ms(), ex.session, self._unique_id_format)
            if self._request_captures:
                # The slots `capture` rules fill and the log reads: one list for both.
                slots = entry.captured_request_headers
                if slots is None:
                    slots = _captured(ex.headers, self._request_captures)
                stream.request_captures = slots
            if self._response_captures:
                stream.response_captures = [""] * len(self._response_captures)
        request = self.build_request(ex)
        body: RequestBody | None = None
        if ex.has_body:
            body = self._arrived(ex)
            request = replace(request, body=body)
        decision = self.router.route(request)
        if decision.early_hints:
            self._send_hints(ex, decision.early_hints)
        while decision.action == "wait-for-body":
            wait = decision.body_wait
            assert wait is not None
            if ex.has_body:
                return _BodyJob(request, decision)
            decision = wait.resume(_NO_BODY)  # (a request without a body has it all)
            if decision.early_hints:
                self._send_hints(ex, decision.early_hints)
        return self._planned(ex, entry, request, decision, body)

    def _arrived(self, ex: Exchange) -> RequestBody:
        """What of the body the rules see before any wait: what came with the head."""
        room = body_room(ex, self.frontend.max_header_size)
        data, complete = ex.arrived_body(room)
        if complete:
            size = len(data)
        else:
            size = ex.content_length if ex.content_length is not None else len(data)
        return RequestBody(data[:room], size, partial=not complete and len(data) < room)

    def _send_hints(self, ex: Exchange, hints: tuple[EarlyHint, ...]) -> None:
        """`early-hint` rules: their `103 Early Hints` responses, sent at once."""
        for status, reason, headers in early_hints_bytes(hints):
            ex.send_interim(status, reason, headers)

    async def _waited(
        self, ex: Exchange, entry: HttpLogEntry, job: _BodyJob
    ) -> _Plan | _Service | _Tarpit | None:
        """Read the body the rules wait for, then let them go on (as often as they
        wait); None when the request was answered: 408 when the time ran out
        (logged `cD`, as HAProxy), or the client went away."""
        decision = job.decision
        room = body_room(ex, self.frontend.max_header_size)
        body: RequestBody | None = None
        while decision.action == "wait-for-body":
            wait = decision.body_wait
            assert wait is not None
            seconds = wait.wait
            state = self._backends.get(wait.proxy) if wait.proxy else None
            if seconds is None:  # the option: `timeout http-request`, else `timeout client`
                seconds = (
                    state.settings.timeout_http_request
                    if state is not None
                    else self.frontend.timeout_http_request
                ) or self.frontend.timeout_client
            try:
                body = await read_for_rules(ex, seconds or 0.0, wait.at_least, room)
            except TimeoutError:
                # HAProxy's 408, `connection: close` last as its H1 mux writes it.
                pages = self.errors_for(state) if state is not None else self.errors
                if state is not None:
                    entry.backend = state.backend.name
                ex.keep_alive = False
                page = pages[408].with_header(b"connection", b"close")
                self._local(ex, page, entry, "cR", state)
                return None
            except ConnectionResetError:
                entry.termination = "CR"
                ex.keep_alive = False
                ex.abort()
                return None
            # The request time (%TR) counts the wait, as HAProxy 2.6's does (measured:
            # a body sent 300 ms after the head logs %TR 300, option or action).
            ex.t_head = asyncio.get_running_loop().time()
            decision = wait.resume(body)
            if decision.early_hints:
                self._send_hints(ex, decision.early_hints)
        return self._planned(ex, entry, job.request, decision, body)

    def _planned(
        self,
        ex: Exchange,
        entry: HttpLogEntry,
        request: Request,
        decision: Decision,
        body: RequestBody | None = None,
    ) -> _Plan | _Service | _Tarpit | None:
        """What `_plan` does once the rules decided (after any body wait); `body`:
        what of the body the rules saw."""
        router = self.router
        if decision.action not in ("forward", "use-service") and (
            not ex.body_finished or (body is not None and not body.whole)
        ):
            # Answered before the whole body was in (HAProxy's buffer): the connection
            # closes after the answer, which says so (`connection: close`), as HAProxy's.
            # A service (the stats page) reads the body itself, as HAProxy's applets do.
            ex.keep_alive = False
        if decision.addresses is not None:
            ex.move(*decision.addresses)
            entry.client_ip, entry.client_port = ex.src, ex.src_port
        unique_id = None
        if ex.stream is not None and self._unique_id_format is not None:
            unique_id = entry.unique_id = ex.stream.unique_id(request)  # (route() built it)
        if decision.action != "forward":
            if decision.action == "tarpit":
                return _Tarpit(decision, self._tarpit_delay(decision))
            if decision.action == "use-service" and isinstance(router, BodyService):
                return _Service(request, decision, router)
            if decision.action == "cache":
                self._answer_from_cache(ex, decision, request, entry)
                return None
            self._answer_locally(ex, decision, entry)
            return None
        line: tuple[bytes, bytes] | None = None
        if decision.request is not None or decision.method is not None:
            # `set-path`, `set-method`…: the server, balancing and persistence get
            # the rewritten request (the log keeps the one that came).
            request = decision.request or request
            method = decision.method or request.method
            line = (method.encode("latin-1"), request.uri.encode("latin-1"))
        backend_name = decision.backend
        state = self._backends.get(backend_name) if backend_name else None
        if state is None:
            # No use_backend matched and no default_backend: HAProxy answers 503.
            self._local(ex, self.errors[503], entry, "PR" if backend_name else "SC")
            return None
        entry.backend = state.backend.name
        headers = self._upstream_headers(ex, decision, state, unique_id)
        settings = state.settings
        # HAProxy's order once the backend is known: persist rules, `use-server`,
        # then the cookie (ignored when a rule chose), then `stick match`.
        verdict = _persist_verdict(settings, request)
        persist = settings.persist or verdict == "force"
        use_server = None
        if settings.server_rules:
            use_server = choose_server(
                settings.server_rules, request, state.backend, persist=persist
            )
        if settings.cookie is None:
            plan = _Plan(request, state, self._request_head(ex, headers, line))
        else:
            plan = self._persistent_plan(
                ex,
                entry,
                request,
                state,
                headers,
                verdict,
                assigned=use_server is not None,
                line=line,
            )
        plan.use_server = use_server
        plan.cache_lookup = decision.cache_lookup
        if settings.stick_rules:
            plan.stick = StickJob(
                settings.stick_rules,
                request,
                state.backend,
                now_ms(),
                persist=persist,
                assigned=plan.server is not None,
            )
            if plan.stick.server is not None and plan.cookies is not None:
                plan.cookies.directed()
        return plan

    def _persistent_plan(
        self,
        ex: Exchange,
        entry: HttpLogEntry,
        request: Request,
        state: _BackendState,
        headers: RawHeaders,
        verdict: str | None,
        *,
        assigned: bool = False,
        line: tuple[bytes, bytes] | None = None,
    ) -> _Plan:
        """A plan for a backend with a `cookie` line: the request's cookie may name
        its server (unless the persist rules' `verdict` or a `use-server` rule,
        `assigned`, says otherwise), and the forwarded `Cookie` headers lose what
        was ours."""
        settings = state.settings
        assert settings.cookie is not None
        job = CookieJob(settings.cookie, state.backend, settings.persist, entry, verdict, assigned)
        headers = job.read_request(headers)
        return _Plan(request, state, self._request_head(ex, headers, line), job)

    def _answer_monitor(self, ex: Exchange, entry: HttpLogEntry) -> None:
        """`monitor-uri`, before any rule (HAProxy's http_wait_for_request): the
        200 page, or the 503 one when a `monitor fail` condition holds; unlogged."""
        entry.unlogged = True
        failing = self.frontend.monitor_fail
        request = self.build_request(ex) if failing else _ANY_REQUEST
        down = any(condition.matches(request) for condition in failing)
        self._local(ex, self.errors[503 if down else 200], entry, "LR")

    def _local(
        self,
        ex: Exchange,
        page: ErrorPage,
        entry: HttpLogEntry,
        term: str,
        state: _BackendState | None = None,
    ) -> None:
        """Send one of the proxy's own answers; `state`: the backend chosen, whose
        `http-after-response` rules run on it before the frontend's."""
        after = self._after_rules if state is None else state.after_rules
        unseen = 0  # what the rules add to the page: HAProxy's %B never counts it
        if after and page.raw:
            names = StreamNames(self.name, self.name if state is None else state.backend.name)
            view = ResponseView(
                self.build_request(ex), page.status, text_view(list(page.headers)), names=names
            )
            if view.stream is not None:
                view.stream.vars.to_response()
            verdict = evaluate(after, view)
            if verdict.header_edits or verdict.reason is not None:
                edited = _rewritten(verdict, page.reason, list(page.headers))
                status, reason, headers, unseen = edited
                page = page.rewritten(status, reason, headers)
        entry.termination = term
        ex.status = page.logged or page.status
        if page.close:
            ex.keep_alive = False
        ex.send_page(page)
        ex.bytes_out -= unseen

    def _answer_from_cache(
        self, ex: Exchange, decision: Decision, request: Request, entry: HttpLogEntry
    ) -> None:
        """A `cache-use` hit: HAProxy's cache applet sends the stored answer (a 304
        to a matching conditional request), with its `Age`, through the response
        rules of the proxy that found it (a backend's, then the frontend's), and
        logs it `<CACHE>`, `LR`."""
        hit = decision.cache_hit
        assert hit is not None
        answer = hit.answer
        state = self._backends.get(decision.backend) if decision.backend else None
        entry.backend = decision.backend or self.name
        entry.server = "<CACHE>"
        entry.termination = "LR"
        status = 304 if hit.not_modified else answer.status
        reason = b"Not Modified" if hit.not_modified else answer.reason.encode("latin-1")
        stored = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in answer.headers]
        stored.append((b"age", str(answer.age_at(time.time())).encode()))
        bodiless = hit.not_modified or ex.method == b"HEAD"
        out, _, _ = split_response_headers(stored, keep_framing=bodiless)
        if state is not None:
            rules, after = state.response_rules, state.after_rules
        else:
            rules, after = self._response_rules, self._after_rules
        unseen = 0  # %B counts the cache's answer, not what the rules add
        names = StreamNames(self.name, entry.backend or self.name, cache=hit.cache_name)
        for lists in (rules, after):
            if lists:
                view = ResponseView(request, status, text_view(out), names=names)
                status, reason, out, added = _rewritten(evaluate(lists, view), reason, out)
                unseen += added
        ex.status = status
        entry.tw = entry.tc = entry.tr = 0
        body = not bodiless
        length = None if answer.chunked or not body else len(answer.body)
        ex.begin_response(status, reason, out, length, body)
        ex.bytes_out -= unseen
        if body and answer.body:
            ex.write_body(answer.body)
        ex.end_response()

    def _answer_locally(self, ex: Exchange, decision: Decision, entry: HttpLogEntry) -> None:
        if decision.action in ("deny", "tarpit") and self.fe_counters is not None:
            self.fe_counters.dreq += 1
        state = self._backends.get(decision.backend) if decision.backend else None
        if state is not None:  # a backend's rule: its pages answer, its name is logged
            entry.backend = state.backend.name
        errors = self.errors if state is None else self.errors_for(state)
        page, term = self._page(decision, errors)
        self._local(ex, page, entry, term, state)

    @staticmethod
    def _page(
        decision: Decision, errors: ErrorPages, *, response: bool = False
    ) -> tuple[ErrorPage, str]:
        """The page a rule's decision answers, and the termination state it logs:
        `P` for a deny (`R` while the request is analysed, `H` on the answer), `L`
        for the proxy's own answers."""
        action, status = decision.action, decision.status
        phase = "H" if response else "R"
        extra = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in decision.response_headers]
        if action == "reject":
            # `http-request reject`: close without a word, as HAProxy does.
            return _SILENT_CLOSE, "PR"
        if action == "redirect":
            location = decision.location or "/"
            headers = [(b"Location", location.encode("latin-1")), *extra]
            return _simple_page(status or 302, headers, b""), "L" + phase
        if action == "auth":
            return errors[401].with_header(*extra[0]), "LR"
        body = decision.body
        if action == "deny":
            status = status or 403
        elif action == "tarpit":
            status = status or 500
        elif action != "return":
            raise ValueError(f"unknown routing action '{action}'")
        term = {"deny": "P" + phase, "tarpit": "PT"}.get(action, "L" + phase)
        if decision.raw is not None:
            # `errorfile`/`errorfiles` in the reply: that message, logged as `status`.
            page = ErrorPage.from_raw(decision.raw)
            return ErrorPage(
                page.status, page.headers, page.body, page.raw, page.close, status,
                page.own_connection,
            ), term  # fmt: skip
        if body is None:
            # No body given: the status's error page (or its errorfile).  HAProxy's
            # rules answer through HTX, whose H1 output writes the connection header
            # last (a parse error's 400 goes out as the raw page, header in place).
            page = errors[status or 200]
            if page.close and not page.own_connection:
                page = page.with_header(b"Connection", b"close")
            return page, term
        payload = body.encode()
        content_type = decision.content_type
        if content_type:
            extra.insert(0, (b"Content-Type", content_type.encode("latin-1")))
        return _simple_page(status or 200, extra, payload), term

    def _upstream_headers(
        self,
        ex: Exchange,
        decision: Decision,
        state: _BackendState,
        unique_id: str | None = None,
    ) -> RawHeaders:
        headers = strip_hop_by_hop(
            ex.headers,
            ex.tokens,
            keep_upgrade=ex.upgrade,
            keep_length=not ex.chunked,
            keep_chunked=ex.chunked,
        )
        if decision.header_edits:
            headers = apply_edits(headers, decision.header_edits)
        front, back = self.frontend.compression, state.settings.compression
        if front is not None or back is not None:
            # On the request as the rules left it, once the backend is known.
            ex.compression, headers = negotiate(back, front, headers)
        if unique_id is not None and self._unique_id_header is not None:
            headers.append((self._unique_id_header, unique_id.encode("latin-1")))
        forwardfor = state.forwardfor
        if forwardfor is not None and ex.src != "unix":  # (a UNIX socket's client: none)
            apply_forwardfor(headers, forwardfor, ex.src)
        originalto = state.originalto
        if originalto is not None and ex.dst not in ("", "unix"):
            name, nets = originalto
            if not any(in_network(ex.dst, net) for net in nets):
                headers.append((name, ex.dst.encode("latin-1")))
        if self.x_forwarded_proto:
            headers.append((b"X-Forwarded-Proto", b"https" if ex.ssl else b"http"))
        if self.x_forwarded_host:
            host = next((v for n, v in ex.headers if n.lower() == b"host"), None)
            if host is not None:
                headers.append((b"X-Forwarded-Host", host))
        if state.close_server and not ex.upgrade and not state.settings.pretend_keepalive:
            if ex.version != b"1.0":  # (HTTP/1.0 closes unless told otherwise: nothing to add)
                headers.append((b"connection", b"close"))
        elif ex.version == b"1.0":
            # HTTP/1.0 goes out as HTTP/1.0 (see `_request_head`), where keep-alive must
            # be asked for: HAProxy 2.6 adds it, last, when it keeps the server connection
            # (or, with `option http-pretend-keepalive`, only pretends to).
            headers.append((b"connection", b"keep-alive"))
        return headers

    @staticmethod
    def _request_head(
        ex: Exchange, headers: RawHeaders, line: tuple[bytes, bytes] | None = None
    ) -> bytes:
        """The head sent upstream; `line`: the method and target rules rewrote."""
        # HAProxy 2.6 forwards an HTTP/1.0 request as HTTP/1.0: sent as HTTP/1.1, one
        # without Host would be an invalid request (nginx answers 400).
        version = b" HTTP/1.0\r\n" if ex.version == b"1.0" else b" HTTP/1.1\r\n"
        method, target = line if line is not None else (ex.method, ex.target)
        parts = [method, b" ", target, version]
        for name, value in headers:
            parts += (name, b": ", value, b"\r\n")
        if ex.chunked and not any(n.lower() == b"transfer-encoding" for n, _ in headers):
            # (kept where the client put it, unless a rule or `Connection` took it away)
            parts.append(b"Transfer-Encoding: chunked\r\n")
        # `Content-Length` is already in `headers`, where the client put it.
        if ex.upgrade:
            parts.append(b"Connection: upgrade\r\n")
        parts.append(b"\r\n")
        return b"".join(parts)

    # -- forwarding ---------------------------------------------------------------------

    async def _wait_granted(self, state: _BackendState, lease: Lease, entry: HttpLogEntry) -> None:
        """A queued lease: wait for a slot up to `timeout queue` (else 503, `sQ`)."""
        backend = state.backend
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        lease.on_granted = lambda _lease: None if waiter.done() else waiter.set_result(None)
        entry.backend_queue = backend.queued
        settings = state.settings
        timeout = settings.timeout_queue or settings.timeout_connect
        t0 = loop.time()
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            backend.cancel(lease)
            raise _Failure(503, "sQ") from None
        except BaseException:
            backend.cancel(lease)
            raise
        entry.tw = _ms(loop.time() - t0)

    @staticmethod
    def _abort_queued(
        ex: Exchange, entry: HttpLogEntry, state: _BackendState, lease: Lease
    ) -> None:
        """`option abortonclose`: the client's FIN came with its request, which then
        waited in the queue.  HAProxy 2.6 acts on it when the slot is granted, as
        the connection would start (`back_handle_st_con`), and drops the request
        there: no server sees it, the client gets nothing, the log says `-1`, `CC`."""
        assert lease.server is not None
        entry.server = lease.server.name
        entry.termination = "CC"
        entry.status = -1  # no answer at all
        state.backend.release(lease)
        ex.keep_alive = False
        ex.abort()

    async def _forward(
        self,
        ex: Exchange,
        entry: HttpLogEntry,
        plan: _Plan,
        lease: Lease | None,
        *,
        replayed: bool = False,
    ) -> None:
        """Lease (or the one given), connect with retries/redispatch, relay, release.

        What to do after each step is `balancekit.stream.StreamPolicy`'s decision,
        the same table the TCP forwarder follows: this loop only performs it.
        """
        state = plan.state
        settings = state.settings
        backend = state.backend
        loop = asyncio.get_running_loop()
        body: list[bytes] | None = None
        replayable = False
        if state.l7_retries and ex.body_finished:
            # HAProxy keeps a copy of a request that arrived whole and fits a buffer.
            body = await _whole_body(ex) if ex.has_body else []
            size = len(plan.head) + sum(map(len, body))
            replayable = is_replayable(complete=True, size=size)
        cookies = plan.cookies
        policy = StreamPolicy(
            settings.retry_policy,
            deterministic=settings.deterministic,
            replayable=replayable,
            force_persist=cookies is not None and cookies.forced,
        )
        decision: StreamDecision | None = policy.start()
        conn: UpstreamConnection | None = None
        t_connect = loop.time()
        while decision is not None:
            if decision.count:
                self._count(state, decision.count)
            if isinstance(decision, Pick):
                if lease is None:
                    try:
                        lease = backend.acquire(
                            plan.request, avoid=decision.avoid, server=plan.server
                        )
                    except NoServerAvailable:
                        decision = policy.handle(NoServer())
                        continue
                server = lease.server
                direct = plan.server is not None
                decision = policy.handle(
                    Assigned(server.name, direct=direct)
                    if server is not None
                    else Queued(lease.queue_server)
                )
            elif isinstance(decision, AwaitGrant):
                assert lease is not None
                abort = settings.abortonclose and ex.shut_with_request()
                try:
                    await self._wait_granted(state, lease, entry)
                except _Failure:
                    lease = None  # cancelled by _wait_granted
                    decision = policy.handle(QueueTimeout())
                    continue
                assert lease.server is not None
                if abort:
                    self._abort_queued(ex, entry, state, lease)
                    return
                direct = plan.server is not None
                decision = policy.handle(Granted(lease.server.name, direct=direct))
            elif isinstance(decision, Connect):
                entry.server = decision.server
                t_connect = loop.time()
                reused = False
                try:
                    pool = self._pool(state, decision.server)
                    conn = None if ex.first_request or policy.retries else pool.take_idle(ex)
                    reused = conn is not None
                    if conn is None:
                        conn = await pool.connect(settings.timeout_connect, ex)
                except (OSError, TimeoutError, UpstreamError) as exc:
                    if state.counters is not None:
                        self._server_counters(state, decision.server).connect_failed()
                    member = backend.member(decision.server)
                    decision = policy.handle(
                        ConnectFailed(
                            "timeout" if isinstance(exc, TimeoutError) else "error",
                            server_usable=member.usable,
                            active_servers=backend.active_servers,
                            reused=reused,
                        )
                    )
                    continue
                decision = policy.handle(ConnectOk())
            elif isinstance(decision, Retry):
                entry.retries, entry.redispatched = policy.retries, policy.redispatched
                if decision.redispatch and lease is not None:
                    backend.release(lease)
                    lease = None
                    if cookies is not None:
                        cookies.redispatched()
                if decision.after > 0:
                    await asyncio.sleep(decision.after)  # HAProxy's turn-around pause
                    decision = policy.handle(PauseElapsed())
                else:
                    decision = decision.next
            elif isinstance(decision, GiveUp):
                entry.retries, entry.redispatched = policy.retries, policy.redispatched
                if lease is not None:
                    backend.release(lease)
                status = decision.status or 503
                page = self.errors_for(state)[status]
                self._local(ex, page, entry, decision.termination, state)
                return
            else:
                assert isinstance(decision, Forward)
                assert lease is not None and conn is not None
                entry.retries, entry.redispatched = policy.retries, policy.redispatched
                outcome, decision = await self._exchange(
                    ex, entry, plan, lease, conn, policy, body, t_connect
                )
                if decision is None and outcome != "replay":
                    return
        if replayed:
            self._local(ex, self.errors_for(state)[502], entry, "SH", state)
            return
        # A reused idle connection was closed by the server before answering:
        # nothing reached it, so the request is replayed once on a new one (HAProxy's
        # connection reuse, apart from `retries`).
        await self._forward(ex, entry, plan, None, replayed=True)

    async def _exchange(
        self,
        ex: Exchange,
        entry: HttpLogEntry,
        plan: _Plan,
        lease: Lease,
        conn: UpstreamConnection,
        policy: StreamPolicy,
        body: list[bytes] | None,
        t_connect: float,
    ) -> tuple[str, StreamDecision | None]:
        """Send the request on `conn` and relay the answer.

        Returns `_end_exchange`'s outcome, and the policy's next step when an L7
        retry (`retry-on`) takes the request elsewhere: None when it is over.
        """
        state = plan.state
        relay = Relay(ex, conn, ex.method == b"HEAD")
        if policy.replayable:
            relay.retry_check = self._status_check(state, policy)
        t_sent = self._start_exchange(plan, lease, conn, relay, entry, t_connect)
        failure: BaseException | None = None
        try:
            if body is not None:
                _send_buffered(conn, ex, body)
            elif ex.has_body:
                await self._send_body(ex, conn, relay)
            await ex.wait_response(relay)
        except (UpstreamError, ConnectionError, asyncio.CancelledError) as exc:
            failure = exc
        retry = relay.retry
        if (
            retry is None
            and failure is not None
            and policy.replayable
            and not relay.started
            and relay.intercepted is None
            and not relay.blocked
        ):
            retry = self._response_failure(state, policy, conn, failure)
        if isinstance(retry, Retry):
            self._end_exchange(plan, lease, conn, relay, entry, t_sent, failure, retrying=True)
            return "retry", retry
        return self._end_exchange(plan, lease, conn, relay, entry, t_sent, failure), None

    def _status_check(
        self, state: _BackendState, policy: StreamPolicy
    ) -> Callable[[int], StreamDecision | None]:
        """`Relay.retry_check` for one exchange: a `Retry` when `retry-on` lists the
        response's status and the request may go again, else None (deliver it)."""
        backend = state.backend

        def check(status: int) -> StreamDecision | None:
            server = policy.server
            assert server is not None
            decision = policy.handle(
                Response(
                    status,
                    server_usable=backend.member(server).usable,
                    active_servers=backend.active_servers,
                )
            )
            return decision if isinstance(decision, Retry) else None

        return check

    @staticmethod
    def _response_failure(
        state: _BackendState,
        policy: StreamPolicy,
        conn: UpstreamConnection,
        failure: BaseException,
    ) -> StreamDecision | None:
        """What the policy says of a failure before any response byte reached the
        client: an L7 retry (`Retry`), or None to answer the error as usual."""
        if not isinstance(failure, UpstreamError) or isinstance(failure, UpstreamKilled):
            return None  # the client went away, or the proxy cut the session itself
        server = policy.server
        assert server is not None
        usable = state.backend.member(server).usable
        active = state.backend.active_servers
        event: ResponseEvent
        if isinstance(failure, UpstreamTimeout):
            event = ResponseTimeout(server_usable=usable, active_servers=active)
        elif conn.received == 0:
            event = EmptyResponse(server_usable=usable, active_servers=active)
        else:
            event = JunkResponse(server_usable=usable, active_servers=active)
        decision = policy.handle(event)
        return decision if isinstance(decision, Retry) else None

    def _count(self, state: _BackendState, count: Count) -> None:
        """A policy decision's counter increments, where HAProxy makes them."""
        if state.counters is not None:
            apply_count(state.counters, lambda server: self._server_counters(state, server), count)

    def _server_counters(self, state: _BackendState, server: str) -> Any:
        found = state.server_counters.get(server)
        if found is None:
            found = state.server_counters[server] = self.counters.server(state.backend.name, server)
        return found

    def errors_for(self, state: _BackendState) -> ErrorPages:
        return state.errors or self.errors

    def _start_exchange(
        self,
        plan: _Plan,
        lease: Lease,
        conn: UpstreamConnection,
        relay: Relay,
        entry: HttpLogEntry,
        t_connect: float,
    ) -> float:
        """Send the request head on `conn`; returns the time it was sent."""
        state = plan.state
        ex = relay.exchange
        server = lease.server
        assert server is not None
        entry.server = server.name
        if self.log_requests:
            entry.server_address = (server.host, server.port)
            transport = conn.transport
            sockname = transport.get_extra_info("sockname") if transport is not None else None
            if isinstance(sockname, tuple):
                entry.source_address = (str(sockname[0]), int(sockname[1]))
        now = conn.pool.loop.time()
        state.active += 1
        if self.log is not None:  # the rest only feeds the log line
            if entry.tw < 0:
                entry.tw = 0
            entry.tc = _ms(now - t_connect)
        if state.counters is not None:
            wall = time.time()
            state.counters.session_start(wall)
            relay.counters = self._server_counters(state, server.name)
            relay.counters.session_start(wall)
        relay.tunnel_timeout = state.timeout_tunnel
        if plan.cookies is not None:
            plan.cookies.sent_to(server.name)
            relay.cookies = plan.cookies
        if plan.stick is not None:
            relay.stick = (plan.stick, state.backend, server.name)
        if state.settings.checkcache:
            relay.checkcache = functools.partial(self._blocking, state, server.name)
        if state.response_rules or state.after_rules:
            names = state.stream_names.get(server.name)
            if names is None:
                member = state.backend.member(server.name)
                names = StreamNames(self.name, state.backend.name, server.name, member.puid)
                state.stream_names[server.name] = names
            relay.respond = _Responding(
                state.response_rules, state.after_rules, plan.request, plan.cache_lookup, names
            )
        if ex.compression is not None:
            relay.compressing = (
                ex.compression,
                state.settings.compression,
                self.frontend.compression,
            )
        if self.frontend.logasap and self.log is not None:
            relay.logasap = functools.partial(self._log_asap, relay, entry, state, server.name, now)
        ex.attach(conn, relay)
        conn.start(
            relay,
            plan.head,
            head_request=relay.head_request,
            timeout=state.timeout_server,
            close=state.close_server and not ex.upgrade,
        )
        return now

    def _end_exchange(
        self,
        plan: _Plan,
        lease: Lease,
        conn: UpstreamConnection,
        relay: Relay,
        entry: HttpLogEntry,
        t_sent: float,
        failure: BaseException | None,
        *,
        retrying: bool = False,
    ) -> str:
        """Classify how the exchange ended, answer errors, release the server slot.

        Returns "done", "failed", "client" (the client went away) or "replay" (a
        reused idle connection died before a byte came back: safe to send again).
        `retrying`: an L7 retry sends the request again; its answer is dropped
        unseen and the server slot stays with the request (the policy's `Retry`
        releases it if it redispatches).
        """
        ex = relay.exchange
        ex.detach()
        state = plan.state
        state.active -= 1
        if retrying:
            conn.abort()
            if relay.counters is not None:
                state.counters.session_end()
                relay.counters.session_end()
            return "retry"
        outcome = "done"
        if failure is None:
            if relay.t_response and self.log is not None:
                entry.tr = _ms(relay.t_response - t_sent)
            if relay.closing:
                ex.keep_alive = False
        else:
            conn.abort()
            if relay.intercepted is not None:
                outcome = self._intercepted(state, relay, entry, relay.intercepted)
            elif relay.blocked:
                outcome = self._blocked(state, relay, entry)
            elif isinstance(failure, UpstreamTimeout):
                outcome = self._upstream_failed(state, relay, entry, 504, "sH", "sD")
            elif isinstance(failure, UpstreamKilled):
                cause = failure.cause
                outcome = self._upstream_failed(state, relay, entry, 502, cause + "H", cause + "D")
            elif isinstance(failure, UpstreamError):
                replayable = conn.reused and conn.received == 0 and not relay.started
                if replayable and not ex.has_body:
                    outcome = "replay"
                else:
                    outcome = self._upstream_failed(state, relay, entry, 502, "SH", "SD")
            else:
                entry.termination = "CD" if relay.started else "CH"
                ex.keep_alive = False
                outcome = "client"
        server = lease.server
        state.backend.release(lease)
        if self.log is not None and server is not None:
            # As HAProxy logs them: %bc and %sc no longer count this request.
            entry.beconn = state.active
            entry.srv_conn = state.backend.member(server.name).inflight
        if relay.counters is not None:
            # A replay ends this server session too; its answer is counted once, later.
            failed = entry.termination[0] in "sS"
            for counters in (state.counters, relay.counters):
                counters.session_end()
                if outcome != "replay":
                    _count_response(counters, ex.status, ex.bytes_out)
                    if failed:
                        counters.eresp += 1
        return outcome

    def _log_asap(
        self, relay: Relay, entry: HttpLogEntry, state: _BackendState, server: str, t_sent: float
    ) -> None:
        """`option logasap`: the line as HAProxy writes it once the response head is
        processed: the times and bytes so far (marked `+` by the writer), no
        termination yet, the request still counted in `%bc` and `%sc`."""
        ex = relay.exchange
        entry.tr = _ms(relay.t_response - t_sent)
        entry.beconn = state.active
        entry.srv_conn = state.backend.member(server).inflight
        self._log(ex, entry)

    def _intercepted(
        self, state: _BackendState, relay: Relay, entry: HttpLogEntry, verdict: ResponseVerdict
    ) -> str:
        """An `http-response deny|return|redirect` replaced the server's answer: the
        proxy's goes out instead, logged with no response time (HAProxy's t_data
        is -1), a deny counted as a denied response where HAProxy counts it."""
        answer = verdict.answer
        assert answer is not None
        entry.tr = -1
        if answer.action == "deny":
            for counters in (self.fe_counters, state.counters, relay.counters):
                if counters is not None:
                    counters.dresp += 1
        page, term = self._page(answer, self.errors_for(state), response=True)
        self._local(relay.exchange, page, entry, term, state)
        return "done"

    def _blocking(self, state: _BackendState, server: str) -> None:
        """`option checkcache` blocks an answer: HAProxy's alert, in the backend's log."""
        log = self.backend_log.get(state.backend.name)
        if log is not None:
            log(
                f"Blocking cacheable cookie in response from instance {state.backend.name}, "
                f"server {server}.",
                "alert",
            )

    def _blocked(self, state: _BackendState, relay: Relay, entry: HttpLogEntry) -> str:
        """A blocked answer (`option checkcache`) is a denied response: HAProxy 2.6
        answers its own page for the server's status (its `200 Service ready.` for a
        200: the status is not changed first), and logs it `PH`."""
        status = relay.blocked
        errors = self.errors_for(state)
        for counters in (self.fe_counters, state.counters, relay.counters):
            if counters is not None:
                counters.dresp += 1
        entry.tr = -1
        page = errors[status] if status in ERRORFILE_CODES else errors[500]
        self._local(relay.exchange, page, entry, "PH", state)
        return "done"

    def _upstream_failed(
        self,
        state: _BackendState,
        relay: Relay,
        entry: HttpLogEntry,
        status: int,
        before: str,
        during: str,
    ) -> str:
        ex = relay.exchange
        if relay.started:
            entry.termination = during
            ex.keep_alive = False
            ex.abort()
        else:
            self._local(ex, self.errors[status], entry, before, state)
        return "failed"

    async def _send_body(self, ex: Exchange, conn: UpstreamConnection, relay: Relay) -> None:
        """Stream the request body as it arrives (not replayable: no copy kept)."""
        chunked = ex.chunked
        while True:
            data = await next_body(ex)
            if relay.future.done() and relay.future.exception() is not None:
                return
            if not data:
                if chunked:
                    conn.write(_last_chunk(ex.request_trailers()))
                return
            if chunked:
                conn.write(b"%x\r\n%b\r\n" % (len(data), data))
            else:
                conn.write(data)
            await conn.drain()


async def _whole_body(ex: Exchange) -> list[bytes]:
    """A request body that has arrived whole, as its chunks (no waiting)."""
    chunks = []
    while data := await next_body(ex):
        chunks.append(data)
    return chunks


def _is_monitor_request(target: bytes, uri: str) -> bool:
    """HAProxy's match: a monitor URI starting with `/` is compared with the
    request's path as http_parse_path() reads it (query included; the path of an
    absolute-form target), any other with the whole target."""
    text = target.decode("latin-1")
    if text == uri:
        return True
    if not uri.startswith("/"):
        return False
    scheme, sep, rest = text.partition("://")
    if sep and "/" not in scheme:
        slash = rest.find("/")
        text = rest[slash:] if slash >= 0 else ""
    return text == uri


def _persist_verdict(settings: BackendRuntime, request: Request) -> str | None:
    """What the backend's `force-persist` / `ignore-persist` rules say of the
    request (evaluated once per request: the cookie and the stick rules share it)."""
    return PersistRule.verdict(settings.persist_rules, request) if settings.persist_rules else None


def _send_buffered(conn: UpstreamConnection, ex: Exchange, body: list[bytes]) -> None:
    """Send a kept request body (L7 retries may send it more than once)."""
    if ex.chunked:
        conn.write(b"".join(b"%x\r\n%b\r\n" % (len(data), data) for data in body))
        conn.write(_last_chunk(ex.request_trailers()))
    elif body:
        conn.write(b"".join(body))


def _last_chunk(trailers: RawHeaders) -> bytes:
    """The chunked body's end: the zero chunk, its trailer fields, the empty line."""
    return b"0\r\n" + b"".join(n + b": " + v + b"\r\n" for n, v in trailers) + b"\r\n"


#: Who cut a server's connections, as the termination state's first letter.
_KILLED_BY = {"shutdown": "K", "marked-down": "D", "marked-up": "U"}


def _server_event(
    pools: dict[str, UpstreamPool],
    names: dict[str, StreamNames],
    event: ServerEvent,
    server: str,
) -> None:
    """A server moved (`set server … addr`) or went (`del server`): close its idle
    connections, in-flight exchanges finish, the next request opens a pool for
    the new address.
    `shutdown sessions server` (and `on-marked-down`/`on-marked-up`): abort every
    connection to it; an exchange still waiting for its response head answers
    502, as HAProxy's killed stream does."""
    if event == "removed":
        names.pop(server, None)  # (a server added again under its name may get another id)
    if event in ("moved", "removed"):
        pool = pools.pop(server, None)
        if pool is not None:
            pool.close()
    elif event in _KILLED_BY:
        pool = pools.get(server)
        if pool is not None:
            pool.abort_all(_KILLED_BY[event])


def _count_response(counters: Any, status: int, bytes_out: int) -> None:
    """One response's status and bytes (runs for the frontend, backend and server)."""
    if status:
        counters.response(status)
    counters.bout += bytes_out


def _admissions(
    verdict: ResponseVerdict, lookup: CacheLookup | None, reason: bytes, chunked: bool
) -> list[Admission] | None:
    """The answer's copies to the caches whose `cache-store` rule ran, if any may
    store it (each decides on the head the rule saw)."""
    admitted = []
    for cache, status, new_reason, headers in verdict.stores:
        text = new_reason if new_reason is not None else reason.decode("latin-1")
        admission = cache.admit(lookup, status, text, headers, chunked)
        if admission is not None:
            admitted.append(admission)
    return admitted or None


def _fields_size(headers: Iterable[tuple[bytes, bytes]]) -> int:
    """The bytes of a head's fields as HAProxy's HTX counts them (names and values)."""
    return sum(len(name) + len(value) for name, value in headers)


def _lists(*lists: tuple[HttpRule, ...]) -> RuleLists:
    """The non-empty ones of a response's rule lists, in order."""
    return tuple(rules for rules in lists if rules)


def _merge_originalto(
    front: ForwardFor | None, back: ForwardFor | None
) -> tuple[bytes, tuple[str, ...]] | None:
    """HAProxy: either side enables it; the backend's header name wins; the address
    must be outside both sides' `except` networks."""
    if front is None and back is None:
        return None
    header = (back or front).header  # type: ignore[union-attr]
    nets = tuple(side.except_net for side in (front, back) if side and side.except_net)
    return header.encode("latin-1"), nets


def _merge_forwardfor(front: ForwardFor | None, back: ForwardFor | None) -> ForwardFor | None:
    """HAProxy: either side enables it; the backend's header name wins; `if-none`
    only when both sides that set it say so."""
    if front is None:
        return back
    if back is None:
        return front
    return ForwardFor(
        header=back.header,
        except_net=back.except_net or front.except_net,
        if_none=front.if_none and back.if_none,
    )


def _simple_page(status: int, headers: Iterable[tuple[bytes, bytes]], body: bytes) -> ErrorPage:
    """A locally generated response, its headers in the order HAProxy 2.6 sends them
    (clients and tests comparing heads see the same lines).

    The callers' forms, told apart by their first header (a list that names its own
    content-length is sent as given):
    - `Location` first, a redirect: content-length, location, `cache-control:
      no-cache` for the temporary codes (302, 303, 307), then the cookies;
    - `Content-Type` first, `http-request return`/`deny` with a payload: the `hdr`
      lines, content-length, content-type (http_reply_to_htx);
    - else, if a Content-Type comes later, an error page with headers added (the stats
      page's 401): content-length, then the headers as given; without one, a reply
      without payload: the `hdr` lines, then content-length, which a 204 has not.
    """
    given = list(headers)
    first = given[0][0].lower() if given else b""
    length = (b"content-length", str(len(body)).encode())
    if any(name.lower() == b"content-length" for name, _ in given):
        hdrs = given  # an applet's answer (the stats page's 303), in its own order
    elif first == b"location":
        hdrs = [length, given[0]]
        if status in (302, 303, 307):
            # HAProxy marks temporary redirects uncacheable; 301 and 308 are permanent.
            hdrs.append((b"cache-control", b"no-cache"))
        hdrs += given[1:]
    elif first == b"content-type":
        hdrs = [*given[1:], length, given[0]]
    elif any(name.lower() == b"content-type" for name, _ in given):
        hdrs = [length, *given]
    else:
        hdrs = given if status == 204 else [*given, length]
    head = f"HTTP/1.1 {status} {reason_phrase(status)}\r\n".encode() + b"".join(
        n + b": " + v + b"\r\n" for n, v in hdrs
    )
    return ErrorPage(status, tuple(hdrs), body, head + b"\r\n" + body, False)


#: What HAProxy's message (HTX) form of a response head weighs beyond the wire
#: form less 4 bytes per header line: its start line is a 20-byte record plus
#: version, code and reason (4 more than the wire's spaces and CRLF make 16), and
#: the end of the head is 1 byte (the wire's empty line is 2).
HTX_EXTRA = 15


def request_size(ex: Exchange) -> int:
    """What HAProxy's `%U` counts for a request: its message (HTX) size, as
    `logged_head_size` for a response (the start line a 20-byte record plus method,
    URI and version; each header name + value; 1 for the end of the head), the
    Connection header without its `close`/`keep-alive` tokens (HAProxy's H1 parser
    drops them), then the body bytes received."""
    size = 20 + len(ex.method) + len(ex.target) + 5 + len(ex.version) + 1 + ex.bytes_in
    for name, value in ex.headers:
        if len(name) == 10 and name.lower() == b"connection":
            tokens = [t.strip() for t in value.split(b",") if t.strip()]
            kept = [t for t in tokens if t.lower() not in (b"close", b"keep-alive")]
            if not kept:
                continue
            if len(kept) < len(tokens):
                value = b",".join(kept)
        size += len(name) + len(value)
    return size


def logged_head_size(head: bytes, *, with_connection: bool = False) -> int:
    """What HAProxy's `%B` counts for a response head it sent.

    HAProxy counts its internal (HTX) message size, not wire bytes: each header
    line weighs name + value (no ": " or CRLF), the start line and the end of the
    head as `HTX_EXTRA` says, and a `Connection` line nothing (HAProxy's H1 mux
    writes it on output; it is not in the message) unless `with_connection`: a
    page read from a file keeps its own.
    """
    end = head.find(b"\r\n\r\n") + 4
    if end < 4:
        end = len(head)
    size = end - 4 * (head.count(b"\r\n", 0, end) - 2) + HTX_EXTRA
    start = head.find(b"\r\n") + 2
    while not with_connection and 0 < start < end - 2:
        stop = head.find(b"\r\n", start)
        if head[start : start + 11].lower() == b"connection:":
            size -= stop - start - 2  # its name and value (the 4 were taken above)
        start = stop + 2
    return size


def _ms(seconds: float) -> int:
    return max(0, int(seconds * 1000))


def wall_clock() -> float:
    return time.time()


def _capture_specs(captures: Iterable[Any], direction: str) -> tuple[tuple[bytes, int], ...]:
    """(lower-case header name, length) of each capture slot of `direction`; the name is
    empty for a slot that rules fill (`declare capture`, `http-request capture`)."""
    return tuple(
        ((c.header or "").lower().encode("latin-1"), c.length)
        for c in captures
        if c.direction == direction
    )


def _captured(headers: RawHeaders, specs: tuple[tuple[bytes, int], ...]) -> list[str]:
    """What `capture … header <name> len <n>` keeps: the last occurrence's value, cut
    to n characters; an absent header is an empty string."""
    found: dict[bytes, bytes] = {}
    wanted = {name for name, _ in specs}
    for name, value in headers:
        key = name.lower()
        if key in wanted:
            found[key] = value
    return [found.get(name, b"")[:length].decode("latin-1") for name, length in specs]
