"""Upstream side: per-server HTTP/1.1 keep-alive connections on asyncio Protocols.

General-purpose clients cost a proxy most of its speed (see docs/performance.md),
so this is deliberately lean: one `UpstreamConnection` is an `asyncio.Protocol`
whose response parser (httptools/llhttp, never hand-written) calls straight into
a `ResponseSink`.  The sink writes to the client as bytes arrive, so a response
of any size streams through with no per-chunk task or await; backpressure is
`pause_reading`/`resume_reading` on the transports.

How many connections a server gets is not decided here: the `Backend` lease
(server `maxconn`, the queue) gates requests before they reach a pool.  A pool
only keeps idle connections for reuse.

What a `server` line asks of each new connection beyond TCP (`ssl`, `sni`,
`send-proxy[-v2]`) is its pool's `ServerLink`.  As in HAProxy, which hashes the
SNI and the PROXY header into a connection's reuse key, an idle connection
only serves a request that would have opened the same one: with `send-proxy` a
server connection carries one client's addresses, so it is never lent to
another client.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol, cast

import httptools

from balancekit import Request, Server
from balancekit.config.runtime import BackendRuntime, TcpKeepalive
from balancekit.server import unix_sockaddr
from balancekit.tlsconfig import ServerTls, SniExpr, parse_sni
from balancekit_server.http.headers import RawHeaders
from balancekit_server.net import proxy_protocol
from balancekit_server.net.sockopts import set_keepalive
from balancekit_server.net.unix_sockets import connect_unix

if TYPE_CHECKING:  # proxy.py imports this module
    from balancekit_server.http.proxy import Exchange

__all__ = [
    "ResponseSink",
    "ServerLink",
    "UpstreamConnection",
    "UpstreamError",
    "UpstreamPool",
    "UpstreamTimeout",
    "server_link",
]

MAX_IDLE_PER_SERVER = 256
#: Header lines a message may have by default (HAProxy's `tune.http.maxhdr`, 101
#: with the start line): a request with more is a 400, a response a 502.
MAX_HEADER_LINES = 100


class UpstreamError(Exception):
    """The server broke the exchange: reset, closed early, or sent an invalid response."""


class UpstreamTimeout(UpstreamError):
    """`timeout server` expired while waiting for the server."""


class UpstreamKilled(UpstreamError):
    """The proxy cut the connection on purpose; `cause` is the letter HAProxy logs
    first in the termination state: K (the operator), D (the server went down,
    `on-marked-down`), U (an active server came up, `on-marked-up`)."""

    def __init__(self, cause: str) -> None:
        super().__init__(f"session killed ({cause})")
        self.cause = cause


class ResponseSink(Protocol):
    """Where a connection delivers the response, synchronously from data_received."""

    def on_interim(self, status: int, reason: bytes, headers: RawHeaders) -> None: ...

    def on_head(
        self, status: int, reason: bytes, headers: RawHeaders, keep_alive: bool
    ) -> None: ...

    def on_body(self, data: bytes) -> None: ...

    def on_flush(self) -> None: ...

    def on_trailers(self, trailers: RawHeaders) -> None: ...

    def on_done(self) -> None: ...

    def on_upgrade(self, leftover: bytes) -> None: ...

    def on_error(self, exc: UpstreamError) -> None: ...


class _SkipBody(Exception):
    """Raised inside the parser callback to stop after a HEAD response's headers."""


#: What HAProxy's HTX buffer spends on a response head besides its text (measured
#: against HAProxy 2.6: `HTTP/1.1 <status> <reason>` with headers of n bytes of names
#: and values fits while 85 + 8 + 3 + len(reason) + n + 8 per header <= tune.bufsize
#: - tune.maxrewrite, the pool's `max_head`); a larger head is a 502.
_HTX_RESPONSE_HEAD = 85 + 8 + 3
#: What a header line takes in HAProxy's buffer beyond its name and value.
_HTX_BLOCK = 8
#: The Connection tokens HAProxy's H1 parser turns into flags and drops.
_CONNECTION_FLAGS = frozenset((b"close", b"keep-alive"))


def htx_header_size(name: bytes, value: bytes) -> int:
    """The bytes a header line takes in HAProxy's HTX buffer: name, value and a
    block; a Connection header loses its close/keep-alive tokens (nothing at all
    when only those remain), as HAProxy's H1 parser keeps them as flags."""
    if len(name) == 10 and name.lower() == b"connection":
        kept = [
            t for t in (w.strip() for w in value.split(b",")) if t.lower() not in _CONNECTION_FLAGS
        ]
        if not kept:
            return 0
        value = b", ".join(kept)
    return len(name) + len(value) + _HTX_BLOCK


class UpstreamConnection(asyncio.Protocol):
    """One keep-alive connection to one server, serving one exchange at a time."""

    __slots__ = (
        "_close_after",
        "_drain",
        "_eof_body",
        "_head_in",
        "_headers",
        "_keep_alive",
        "_last_activity",
        "_paused_writing",
        "_reason",
        "_skip_body",
        "_status",
        "_timeout",
        "_timer",
        "closed",
        "key",
        "parser",
        "pool",
        "received",
        "reused",
        "sink",
        "transport",
        "tunnel",
    )

    def __init__(self, pool: UpstreamPool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.sink: ResponseSink | None = None
        self.closed = False
        self.reused = False
        # What the connection was opened with when that limits its reuse (see
        # `ServerLink.key`); None: any request of the pool may reuse it.
        self.key: tuple[bytes, str] | None = None
        self.received = 0  # response bytes of the current exchange (0: replay is safe)
        self.tunnel: asyncio.Transport | None = None  # client transport once upgraded
        self._headers: RawHeaders = []
        self._head_in = 0  # bytes received while the response head is unfinished
        self._reason = b""
        self._status = 0
        self._keep_alive = True
        self._close_after = False
        self._skip_body = False
        self._eof_body = False
        self._paused_writing = False
        self._drain: asyncio.Future[None] | None = None
        self._timeout: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._last_activity = 0.0

    def __repr__(self) -> str:
        state = "closed" if self.closed else "busy" if self.sink is not None else "idle"
        return f"<UpstreamConnection {self.pool.address} {state}>"

    # -- exchange API --------------------------------------------------------------

    def start(
        self,
        sink: ResponseSink,
        head: bytes,
        *,
        head_request: bool,
        timeout: float | None,
        close: bool = False,
    ) -> None:
        """Send a request head and route the response to `sink`; `close`: the head
        says `Connection: close`, so this connection serves no other request."""
        assert self.transport is not None
        self.sink = sink
        self._close_after = close
        self.received = 0
        self._status = 0
        self._head_in = 0
        self._headers = []  # here rather than in on_message_begin: one callback less
        self._skip_body = head_request
        self._timeout = timeout
        if timeout:
            # Lazy inactivity timer: one pending timer per connection, rescheduled
            # only when it fires early, instead of one timer per request.
            loop = self.pool.loop
            self._last_activity = now = loop.time()
            if self._timer is None:
                self._timer = loop.call_at(now + timeout, self._check_timeout)
        self.transport.write(head)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            if self.tunnel is not None and self._timer is not None:
                self._last_activity = self.pool.loop.time()
            self.transport.write(data)

    def tunnel_timeout(self, timeout: float | None) -> None:
        """Close the tunnel (both sides) after `timeout` seconds without traffic either
        way: HAProxy's `timeout tunnel` (else the server/client timeouts)."""
        self._timeout = timeout
        if timeout:
            loop = self.pool.loop
            self._last_activity = now = loop.time()
            if self._timer is None:
                self._timer = loop.call_at(now + timeout, self._check_timeout)

    async def drain(self) -> None:
        """Wait while the server is not reading (request-body backpressure)."""
        if self._paused_writing and not self.closed:
            self._drain = self.pool.loop.create_future()
            await self._drain

    def pause_reading(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()

    def close(self) -> None:
        """Close an idle connection politely (FIN, not RST): shutdown, pool full."""
        self.sink = None
        self._cancel_timer()
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()

    def kill(self, cause: str = "K") -> None:
        """`shutdown sessions server` and the `on-marked-*` options: reset the
        connection; an exchange on it fails at once (502 before the response head,
        a cut response after), logged with `cause` (see UpstreamKilled)."""
        self._fail(UpstreamKilled(cause))

    def abort(self) -> None:
        """Drop the connection (client gone, timeout): it can never be reused."""
        self.sink = None
        self._cancel_timer()
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.abort()

    # -- timeout server (inactivity) -------------------------------------------------

    def _check_timeout(self) -> None:
        self._timer = None
        tunnel = self.tunnel is not None
        if (self.sink is None and not tunnel) or self._timeout is None or self.closed:
            return
        loop = self.pool.loop
        due = self._last_activity + self._timeout
        if loop.time() < due:
            self._timer = loop.call_at(due, self._check_timeout)
            return
        sink = self.sink
        self.abort()  # a tunnel's client side closes from connection_lost
        if sink is not None:
            sink.on_error(UpstreamTimeout("timeout server"))

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- asyncio.Protocol ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: no isinstance here.
        self.transport = cast(asyncio.Transport, transport)
        if self.pool.keepalive is not None:
            set_keepalive(transport, self.pool.keepalive)

    def data_received(self, data: bytes) -> None:
        if self.tunnel is not None:
            if self._timer is not None:
                self._last_activity = self.pool.loop.time()
            self.tunnel.write(data)
            return
        self.received += len(data)
        if self._timer is not None:
            self._last_activity = self.pool.loop.time()
        sink = self.sink
        if sink is None:
            # Bytes on an idle connection: the server is confused; never reuse it.
            self.abort()
            self.pool.discard(self)
            return
        head_open = self._status < 200 and self._status != 101  # no final head yet
        if head_open:
            self._head_in += len(data)
        try:
            self.parser.feed_data(data)
            if head_open and self._status < 200 and self._head_in > self.pool.max_head:
                # Checked as the head arrives: the parser buffers an unfinished header
                # itself, so an endless one would otherwise grow without bound.
                self._fail(UpstreamError("response head too large"))
                return
            if self.sink is not None:
                sink.on_flush()
        except httptools.HttpParserUpgrade as upgrade:
            offset = upgrade.args[0] if upgrade.args else len(data)
            self._cancel_timer()
            if self.sink is not None:
                self.sink = None
                sink.on_upgrade(data[offset:])
        except httptools.HttpParserCallbackError:
            if self._skip_body and self._status and self.sink is None:
                # HEAD answered: the parser stopped on purpose; start clean next time.
                self.parser = httptools.HttpResponseParser(self)
                self._release()
                sink.on_done()
                return
            self._fail(UpstreamError("invalid response from server"))
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError(f"invalid response from server: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._cancel_timer()
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)
        if self.tunnel is not None:
            tunnel, self.tunnel = self.tunnel, None
            tunnel.close()
        self.pool.discard(self)
        sink = self.sink
        if sink is None:
            return
        self.sink = None
        if self._status and self._eof_body:
            # A body without Content-Length or chunking ends with the connection.
            sink.on_done()
            return
        reason = "server closed the connection" if exc is None else f"server reset: {exc}"
        sink.on_error(UpstreamError(reason))

    def pause_writing(self) -> None:
        self._paused_writing = True

    def resume_writing(self) -> None:
        self._paused_writing = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    # -- httptools callbacks ---------------------------------------------------------

    def on_status(self, reason: bytes) -> None:
        self._reason = reason

    def on_header(self, name: bytes, value: bytes) -> None:
        headers = self._headers
        headers.append((name, value))
        if len(headers) > self.pool.max_lines:  # HAProxy's tune.http.maxhdr: a 502
            raise UpstreamError("too many header lines in the response")

    def on_headers_complete(self) -> None:
        status = self._status = self.parser.get_status_code()
        sink = self.sink
        if sink is None:
            return
        size = _HTX_RESPONSE_HEAD + len(self._reason)
        for name, value in self._headers:
            size += htx_header_size(name, value)
        if size > self.pool.max_head:
            raise UpstreamError("response head too large")
        if 100 <= status < 200 and status != 101:
            sink.on_interim(status, self._reason, self._headers)
            self._headers = []  # the final response follows on the same exchange
            self._head_in = 0
            return
        self._keep_alive = self.parser.should_keep_alive()
        self._eof_body = not self._keep_alive and not any(
            n.lower() in (b"content-length", b"transfer-encoding") for n, _ in self._headers
        )
        if self._close_after:
            self._keep_alive = False
        sink.on_head(status, self._reason, self._headers, self._keep_alive)
        self._headers = []  # what on_header hears from now on are the body's trailers
        if self._skip_body and status != 101:
            self.sink = None
            raise _SkipBody

    def on_body(self, body: bytes) -> None:
        sink = self.sink
        if sink is not None:
            sink.on_body(body)

    def on_message_complete(self) -> None:
        if 100 <= self._status < 200:
            return  # an interim answer (the real one follows) or 101 (a tunnel follows)
        sink = self.sink
        if sink is None:
            return
        self.sink = None
        self._release()
        if self._headers:
            sink.on_trailers(self._headers)  # a chunked body's trailer fields
        sink.on_done()

    # -- helpers ---------------------------------------------------------------------

    def _release(self) -> None:
        if self._keep_alive and not self.closed:
            self.pool.put_idle(self)
        else:
            self.close()
            self.pool.discard(self)

    def _fail(self, exc: UpstreamError) -> None:
        sink = self.sink
        self.abort()
        self.pool.discard(self)
        if sink is not None:
            sink.on_error(exc)


class ServerLink:
    """How a new connection to one server starts beyond the TCP connect: the PROXY
    header (`send-proxy`, `send-proxy-v2`) first, then TLS (`ssl`, `verify`,
    `ca-file`, `sni`), as HAProxy 2.6 opens it.

    `request_of` builds the request view an `sni` fetch reads (the proxy's
    `build_request`); a constant `sni str(…)` needs none.
    """

    __slots__ = ("_named", "_unnamed", "keyed", "proxy_version", "request_of", "sni")

    def __init__(
        self,
        *,
        proxy_version: int = 0,
        tls: ServerTls | None = None,
        sni: SniExpr | None = None,
        request_of: Callable[[Exchange], Request] | None = None,
    ) -> None:
        self.proxy_version = proxy_version  # 0: no header, else the PROXY version
        self.sni = sni if tls is not None else None
        self.request_of = request_of
        unnamed: ssl.SSLContext | None = None
        named: ssl.SSLContext | None = None
        if tls is not None:
            unnamed, named = tls.contexts(self.sni is not None)
        self._unnamed, self._named = unnamed, named
        # Whether connections differ by request: then each idle one keeps the
        # (header, SNI) it was opened with and serves only requests that match.
        self.keyed = proxy_version != 0 or (self.sni is not None and self.sni.constant is None)

    @property
    def tls(self) -> bool:
        return self._unnamed is not None

    def params(self, ex: Exchange | None) -> tuple[bytes, str]:
        """The PROXY header and SNI of a connection opened for `ex`.

        The header carries the addresses of the client connection `ex` came on
        (`src`, `dst` and their ports); without one (a caller with no client),
        it says so: v1 `UNKNOWN`, v2 `LOCAL`, what HAProxy's checks send.
        """
        header = b""
        version = self.proxy_version
        if version:
            if ex is None:
                header = proxy_protocol.encode_local(version)
            else:
                encode = proxy_protocol.encode_v2 if version == 2 else proxy_protocol.encode_v1
                header = encode(ex.src, ex.src_port, ex.dst, ex.dst_port)
        name = ""
        sni = self.sni
        if sni is not None:
            if sni.constant is not None:
                name = sni.constant
            elif ex is not None and self.request_of is not None:
                name = sni.value(self.request_of(ex))
        return header, name

    def context(self, sni: str) -> ssl.SSLContext | None:
        """The TLS context for a connection announcing `sni` ("" for none)."""
        if sni and self._named is not None:
            return self._named
        return self._unnamed


def server_link(
    runtime: BackendRuntime, server: Server, request_of: Callable[[Exchange], Request]
) -> ServerLink | None:
    """The `ServerLink` of one server of `runtime`, or None for a plain TCP one
    (the common case, whose pool keeps its shortest path)."""
    try:
        extras = runtime.extras(server.name)
    except KeyError:  # a backend built without ServerExtras (a bare `Backend`)
        extras = None
    version = 2 if server.send_proxy_v2 else 1 if server.send_proxy else 0
    if extras is None or not extras.ssl:
        return ServerLink(proxy_version=version) if version else None
    # Requests go to servers in HTTP/1.1 whatever else `alpn` lists.
    spoken = tuple(proto for proto in extras.tls.alpn if proto == "http/1.1")
    return ServerLink(
        proxy_version=version,
        tls=replace(extras.tls, alpn=spoken),
        sni=parse_sni(extras.sni) if extras.sni is not None else None,
        request_of=request_of,
    )


class UpstreamPool:
    """Idle keep-alive connections to one server address."""

    __slots__ = (
        "_idle",
        "address",
        "host",
        "keepalive",
        "link",
        "live",
        "loop",
        "max_head",
        "max_lines",
        "port",
        "total",
        "unix",
    )

    def __init__(
        self,
        host: str,
        port: int,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        keepalive: TcpKeepalive | None = None,
        link: ServerLink | None = None,
        max_head: int = 15360,
        max_lines: int = MAX_HEADER_LINES,
    ):
        self.host = host
        #: The room a response head may take (`BackendRuntime.max_response_head`)
        #: and the header lines it may have (`max_response_lines`).
        self.max_head = max_head
        self.max_lines = max_lines
        self.port = port
        #: A server on a UNIX socket: where to connect (`host` is its address then).
        self.unix = unix_sockaddr(host)
        self.address = host if self.unix is not None else f"{host}:{port}"
        self.loop = loop or asyncio.get_running_loop()
        self.keepalive = keepalive  # `option srvtcpka`: keep-alive probes on each connection
        self.link = link  # PROXY header and TLS of new connections; None: plain TCP
        self._idle: deque[UpstreamConnection] = deque()
        # Every open connection, idle or busy (`shutdown sessions server` cuts them).
        self.live: set[UpstreamConnection] = set()
        self.total = 0  # connections opened, for tests and stats

    def __repr__(self) -> str:
        return f"<UpstreamPool {self.address} [Connections: {len(self._idle)} idle]>"

    @property
    def idle(self) -> int:
        return len(self._idle)

    def take_idle(self, ex: Exchange | None = None) -> UpstreamConnection | None:
        """A reusable connection for `ex`, without awaiting (the common case on the
        hot path).  With a keyed link only one opened with the same PROXY header
        and SNI qualifies (HAProxy's reuse hash): with `send-proxy`, one of this
        client connection's own."""
        idle = self._idle
        link = self.link
        if link is None or not link.keyed:
            while idle:
                conn = idle.pop()
                if not conn.closed:
                    conn.reused = True
                    return conn
            return None
        key = link.params(ex)
        for i in range(len(idle) - 1, -1, -1):  # the most recently used first
            conn = idle[i]
            if conn.key == key and not conn.closed:
                del idle[i]
                conn.reused = True
                return conn
        return None

    async def connect(
        self, timeout: float | None, ex: Exchange | None = None
    ) -> UpstreamConnection:
        """Open a new connection for `ex`; raises OSError/TimeoutError on failure
        (a TLS handshake that fails is an `ssl.SSLError`, an OSError: to the
        proxy a connection failure, as to HAProxy).  `timeout` (`timeout
        connect`) covers the handshake too."""
        if self.unix is not None:
            coro = self._open_unix(self.link, ex)
        elif self.link is None:
            coro = self.loop.create_connection(
                lambda: UpstreamConnection(self), self.host, self.port
            )
        else:
            coro = self._open(self.link, ex)
        if timeout:
            async with asyncio.timeout(timeout):
                _, proto = await coro
        else:
            _, proto = await coro
        self.total += 1
        self.live.add(proto)
        return proto

    async def _open(
        self, link: ServerLink, ex: Exchange | None
    ) -> tuple[asyncio.Transport, UpstreamConnection]:
        """Connect, send the PROXY header, then talk TLS, in that order."""
        header, sni = link.params(ex)
        context = link.context(sni)
        loop = self.loop

        def factory() -> UpstreamConnection:
            return UpstreamConnection(self)

        if context is None:
            transport, proto = await loop.create_connection(factory, self.host, self.port)
            if header:
                transport.write(header)  # the first bytes: nothing else has been written
        else:
            # server_hostname "" sends no SNI (None would send the address).
            try:
                if header:
                    # The header goes in clear before the ClientHello: on the
                    # socket itself, which the TLS transport then takes over.
                    sock = await self._connected_socket()
                    try:
                        await loop.sock_sendall(sock, header)
                    except BaseException:
                        sock.close()
                        raise
                    transport, proto = await loop.create_connection(
                        factory, sock=sock, ssl=context, server_hostname=sni
                    )
                else:
                    transport, proto = await loop.create_connection(
                        factory, self.host, self.port, ssl=context, server_hostname=sni
                    )
            except (ValueError, UnicodeError) as exc:  # an SNI the ssl module refuses
                raise UpstreamError(f"cannot use SNI {sni!r}: {exc}") from None
        if link.keyed:
            proto.key = (header, sni)
        return transport, proto

    async def _open_unix(
        self, link: ServerLink | None, ex: Exchange | None
    ) -> tuple[asyncio.BaseTransport, UpstreamConnection]:
        """A server on a UNIX socket (`unix@/path`, `abns@name`): the PROXY header,
        if any, goes first, as over TCP (`send-proxy` to a local HAProxy bind is the
        usual reason for one)."""
        header = link.params(ex)[0] if link is not None else b""
        assert self.unix is not None
        sock = await connect_unix(self.loop, self.unix)
        transport, proto = await self.loop.create_unix_connection(
            lambda: UpstreamConnection(self), sock=sock
        )
        if header:
            transport.write(header)
        if link is not None and link.keyed:
            proto.key = (header, "")
        return transport, proto

    async def _connected_socket(self) -> socket.socket:
        """A non-blocking socket connected to the server (every resolved address
        tried in turn, as create_connection does)."""
        loop = self.loop
        infos = await loop.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
        error: OSError = OSError(f"cannot resolve {self.address}")
        for family, kind, proto, _, address in infos:
            sock = socket.socket(family, kind, proto)
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                await loop.sock_connect(sock, address)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            except BaseException:
                sock.close()
                raise
            return sock
        raise error

    def put_idle(self, conn: UpstreamConnection) -> None:
        idle = self._idle
        if len(idle) >= MAX_IDLE_PER_SERVER:
            if conn.key is None:
                conn.close()
                return
            # Keyed connections outlive the clients they belong to: the oldest one
            # makes room rather than the one just used, whose client is alive.
            idle.popleft().close()
        idle.append(conn)

    def discard(self, conn: UpstreamConnection) -> None:
        self.live.discard(conn)
        with contextlib.suppress(ValueError):
            self._idle.remove(conn)

    def abort_all(self, cause: str = "K") -> None:
        """Reset every connection: an exchange on one fails as killed by `cause`
        (`shutdown sessions server`, `on-marked-down`, `on-marked-up`)."""
        for conn in list(self.live):
            conn.kill(cause)

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()
