"""The L4 forwarder: `mode tcp` sessions relayed on asyncio Protocols.

One `Session` per accepted client.  Its life: admission (global and frontend
`maxconn`), optional PROXY header (`accept-proxy`), `tcp-request` rules through
the router, a server lease from the backend's pool (waiting in its FIFO queue up
to `timeout queue`), a connect with `retries`/`redispatch`, then a byte relay
until both directions are shut.

Why Protocols and not streams: the relay is the hot path, and a `data_received`
that writes straight into the peer transport is the cheapest thing asyncio can
do (see docs/performance.md).  Plain TCP sockets are `poller.SocketTransport`s
on one epoll set per loop rather than the loop's own transports: on uvloop that
is a third less CPU per connection and half the user CPU per request.  TLS
connections use the loop's transports.  The relay drives both kinds alike.

Backpressure is the transports' own: when the peer's write buffer passes its
high-water mark, `pause_writing` pauses reading on the other side, so a slow
reader never makes memory grow.  Half-close is propagated with `write_eof`,
resets with an RST (SO_LINGER 0), and a session ends only when both sides are
closed, so nothing is left half-open.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import ssl
import struct
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from balancekit import Backend, Lease, NoServerAvailable, Request, Server
from balancekit.config.runtime import BackendRuntime
from balancekit.h1 import payload_view
from balancekit.pool import ServerEvent
from balancekit.request import ResponseView
from balancekit.routing import Decision
from balancekit.rules import response_verdict
from balancekit.server import unix_sockaddr
from balancekit.server_rules import choose_server
from balancekit.sticking import StickJob
from balancekit.stream import (
    Assigned,
    AwaitGrant,
    Connect,
    ConnectFailed,
    Count,
    GiveUp,
    Granted,
    NoServer,
    PauseElapsed,
    Pick,
    Queued,
    QueueTimeout,
    Retry,
    StreamPolicy,
)
from balancekit.stream import Decision as StreamDecision
from balancekit.tlsconfig import ServerTls, SniExpr, parse_sni
from balancekit.tracking import StreamCounters
from balancekit_server.clock import now_ms
from balancekit_server.net import proxy_protocol
from balancekit_server.net.poller import (
    Connector,
    Poller,
    SocketServer,
    SocketTransport,
    connect,
    ip_address,
    open_connection,
    poller_for,
)
from balancekit_server.net.sockopts import set_keepalive, set_option
from balancekit_server.net.tls import NEED_MORE, client_hello_sni, sni_of, tls_facts
from balancekit_server.net.unix_sockets import connect_unix
from balancekit_server.net.wakeups import Wakeups
from balancekit_server.ops.counters import REGISTRY, Counters, Registry, apply_count
from balancekit_server.ops.logs import (
    LogFormat,
    Logger,
    format_date,
    format_tcplog,
    stream_log_level,
)
from balancekit_server.process.limits import Limits, stream_line

__all__ = [
    "HIGH_WATER",
    "Limits",
    "Listener",
    "Session",
    "TcpFrontend",
    "TcpRouter",
    "TcpService",
]

HIGH_WATER = 256 * 1024
"""Bytes a transport may buffer before the other side stops reading."""
LOW_WATER = 64 * 1024
EARLY_LIMIT = 64 * 1024
"""Client bytes kept while the server connection is being set up."""
LINGER = 1.0
"""Seconds a rejected client may go on sending (dropped) before its connection closes."""
_LINGER_RST = struct.pack("ii", 1, 0)
#: The termination state a session cut from the server side is logged with:
#: killed by the admin, the server going down, or an active one coming up.  No
#: session state: HAProxy's stream_shutdown sets only the cause.
_KILLED_BY = {"shutdown": "K-", "marked-down": "D-", "marked-up": "U-"}
_NO_REQUEST = Request()
_log = logging.getLogger("balancekit_server.tcp")

Transport = asyncio.Transport | SocketTransport
"""Either end of a session: the loop's transport (TLS) or a poller's socket."""


class TcpRouter(Protocol):
    """What the forwarder needs from the rules engine (`balancekit.routing.Router`).

    `accept_connection` runs `tcp-request connection` rules on the raw
    connection; `route_tcp` runs `tcp-request content` rules and `use_backend`,
    returning a decision with `.action` ("accept"/"reject"…) and `.backend`
    (a backend name, or None for the default).

    A router also says whether it reads connections at all, as
    `balancekit.routing.Router` does: `filters_connections` False (no
    `tcp-request connection` rule) and `fixed_tcp` (the one decision every
    connection gets, or None).  The forwarder reads both once, and then neither
    calls the router nor builds a `Request` for connections nothing inspects.

    A router that can run the two halves of `route_tcp` apart (`SplitTcpRouter`,
    as `Router` can) lets a backend wait for data of its own before its rules.
    """

    @property
    def filters_connections(self) -> bool: ...

    @property
    def fixed_tcp(self) -> Decision | None: ...

    def accept_connection(self, request: Request) -> bool: ...

    def route_tcp(self, request: Request) -> Decision: ...


class SplitTcpRouter(TcpRouter, Protocol):
    """`route_tcp` in two halves: the frontend's rules and the backend they choose,
    then that backend's content rules (after its own `tcp-request inspect-delay`)."""

    def route_tcp_frontend(self, request: Request) -> Decision: ...

    def backend_content(self, backend: str | None, request: Request) -> Decision | None: ...


@dataclass(frozen=True, slots=True)
class TcpFrontend:
    """A `mode tcp` frontend (or the front half of a `listen`).

    `log_format` is "tcplog" for `option tcplog` (or a `log-format` line, given as
    `log_template`); None with a logger set logs HAProxy's one "Connect from" line
    per connection instead.  `inspect_delay`
    (`tcp-request inspect-delay`) lets content rules see the SNI of a TLS
    ClientHello (`req.ssl_sni`) on binds that do not terminate TLS.
    """

    name: str
    default_backend: BackendRuntime | None = None
    backends: Mapping[str, BackendRuntime] = field(default_factory=dict)
    router: TcpRouter | None = None
    timeout_client: float | None = None
    timeout_client_fin: float | None = None
    clitcpka: bool = False
    maxconn: int = 0
    logger: Logger | None = None
    log_format: str | None = None
    dontlognull: bool = False
    #: `option log-separate-errors` and `option dontlog-normal` (ops.logs.stream_log_level).
    log_separate_errors: bool = False
    dontlog_normal: bool = False
    #: `option logasap`: log a session once its server is connected.
    logasap: bool = False
    inspect_delay: float | None = None
    log_template: LogFormat | None = None
    #: The config has stick tables or variables: each session carries its state.
    tracks: bool = False

    def backend_for(self, name: str | None) -> BackendRuntime | None:
        if name is None:
            return self.default_backend
        return self.backends.get(name)


@dataclass(frozen=True, slots=True)
class Listener:
    """One `bind` line's behaviour (the socket itself is opened by the runtime)."""

    accept_proxy: bool = False
    ssl: ssl.SSLContext | None = None


def _reset(transport: Transport | None) -> None:
    """Close with an RST, so a reset on one side is a reset on the other."""
    if transport is None or transport.is_closing():
        if transport is not None:
            with contextlib.suppress(Exception):
                transport.abort()
        return
    set_option(transport, socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
    transport.abort()


class _Side(asyncio.Protocol):
    """One end of the relay.  `data_received` is the hot path: write to the peer.

    Both ends are this one class, told apart by `client`: CPython specializes an
    attribute access for one type, and two subclasses sharing `data_received`
    would keep its accesses on the generic path (about 1k instructions a request).
    """

    __slots__ = ("client", "nbytes", "peer", "session")

    def __init__(self, session: Session, client: bool) -> None:
        # None once this side's connection is lost: a finished session is then
        # freed by reference counting rather than by the cyclic GC.
        self.session: Session | None = session
        self.client = client
        self.peer: Transport | None = None
        self.nbytes = 0  # read on this side: the session's bytes_in (client) or bytes_out

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        s = self.session
        if s is None:
            return
        if peer is not None:
            peer.write(data)
            self.nbytes += len(data)
            s.last = s.clock()
        elif self.client:
            s.early_data(data)
        else:
            s.response_data(data)

    def relayed(self, size: int, stamp: float) -> None:
        """A linked `SocketTransport` moved `size` bytes to the peer itself, the
        last of them at `stamp` (`time.monotonic()`, the loop's clock), reported
        late: see `Session.harvest`."""
        s = self.session
        if s is not None:
            self.nbytes += size
            if stamp > s.last:
                s.last = stamp

    def eof_received(self) -> bool:
        s = self.session
        return s is not None and s.eof(self.client)

    def connection_lost(self, exc: Exception | None) -> None:
        session = self.session
        self.peer = None
        self.session = None
        if session is not None:
            session.lost(self.client, exc)

    def pause_writing(self) -> None:
        # Our transport is full: stop reading from the other side.
        s = self.session
        other = None if s is None else s.server if self.client else s.client
        if other is not None:
            with contextlib.suppress(Exception):
                other.pause_reading()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        s = self.session
        if not self.client or s is None:
            return  # the server side: `_established` takes it from the connect's result
        try:
            s.accepted(transport)  # type: ignore[arg-type]
        except Exception:
            s.internal_error("accepting a connection")

    def resume_writing(self) -> None:
        s = self.session
        other = None if s is None else s.server if self.client else s.client
        if other is not None and not other.is_closing():
            with contextlib.suppress(Exception):
                other.resume_reading()


_TlsLink = tuple[ssl.SSLContext, ssl.SSLContext | None, SniExpr | None]


def _tls_link(tls: ServerTls, sni: str | None) -> _TlsLink:
    """A server's contexts (`ServerTls.contexts`) and compiled `sni`."""
    expr = parse_sni(sni) if sni is not None else None
    return (*tls.contexts(expr is not None), expr)


class BackendTimes:
    """The settings of a backend a connection's path reads, copied once into a
    compiled object: each read of the config's (interpreted) `BackendRuntime`
    from compiled code is a generic attribute lookup, several per connection."""

    def __init__(self, runtime: BackendRuntime) -> None:
        self.pool: Backend = runtime.backend
        self.name: str = runtime.name
        self.timeout_connect: float | None = runtime.timeout_connect
        self.timeout_server: float | None = runtime.timeout_server
        self.timeout_server_fin: float | None = runtime.timeout_server_fin
        self.timeout_tunnel: float | None = runtime.timeout_tunnel
        self.timeout_floor: float = runtime.timeout_floor
        self.srvtcpka: bool = runtime.srvtcpka
        self.inspect_delay: float | None = runtime.tcp_inspect_delay
        self.response_rules = runtime.tcp_response_rules
        self.response_delay: float | None = runtime.tcp_response_delay
        #: HAProxy's response analysers (AN_RES_INSPECT, AN_RES_STORE_RULES) run
        #: once the server connection is up: the `tcp-response content` rules and
        #: the `stick` rules that store.  They see the server's bytes only when the
        #: rules may wait for them (`tcp-response inspect-delay`): then those bytes
        #: are held until the rules decide.
        self.analyses_response: bool = bool(runtime.tcp_response_rules) or any(
            rule.stores or rule.kind == "store-response" for rule in runtime.stick_rules
        )
        self.holds_response: bool = bool(runtime.tcp_response_rules) and (
            runtime.tcp_response_delay is not None
        )
        #: How much of the server's bytes the rules wait for at most (a full buffer).
        self.response_room: int = runtime.max_response_head
        #: `server … ssl`: each such server's contexts (without and with the SNI
        #: name check) and its `sni` expression, read against the session.
        self.tls_links: dict[str, _TlsLink] = {
            extras.name: _tls_link(extras.tls, extras.sni)
            for extras in runtime.servers
            if extras.ssl
        }


class Session:
    """One client connection through a `mode tcp` frontend, and its server connection."""

    __slots__ = (
        "_be_counters",
        "_connect_due",
        "_connecting",
        "_cside",
        "_early",
        "_early_paused",
        "_expired",
        "_grant",
        "_hold",
        "_holding",
        "_pending",
        "_queue_key",
        "_queue_start",
        "_request",
        "_srv_counters",
        "_sside",
        "_task",
        "accept_date",
        "accept_mono",
        "backend",
        "client",
        "client_closed",
        "client_eof",
        "clock",
        "connected_at",
        "counted",
        "finished",
        "inspecting",
        "last",
        "lease",
        "lingering",
        "listener",
        "local",
        "loop",
        "parked",
        "proxy_buf",
        "queue_pos",
        "queued_until",
        "redispatched",
        "retries",
        "server",
        "server_closed",
        "server_eof",
        "service",
        "silent",
        "srv",
        "stick",
        "term",
        "times",
    )

    def __init__(
        self, service: TcpService, listener: Listener, local: tuple[str, int] | None = None
    ) -> None:
        self.local = local
        self.service = service
        self.listener = listener
        self.loop = service.loop
        self.clock = service.clock
        self.accept_date = time.time()
        self.accept_mono = self.clock()
        self.last = self.accept_mono
        self.client: Transport | None = None
        self.server: Transport | None = None
        self._cside = _Side(self, True)
        self._sside = _Side(self, False)
        self._early: list[bytes] = []
        self._early_paused = False
        self._expired = False
        self._grant: asyncio.Future[Lease] | None = None
        # The server's first bytes, held for the response rules (`holds_response`),
        # and the `tcp-response inspect-delay` timer while they wait.
        self._hold: bytearray | None = None
        self._holding: asyncio.TimerHandle | None = None
        # Routed to a backend that inspects the client's bytes itself (its own
        # `tcp-request inspect-delay`): that decision, until the backend's rules run.
        self._pending: Decision | None = None
        self._queue_key: str | None = None
        self._queue_start = 0
        self._task: asyncio.Task[Any] | None = None
        # The fast connect path (see `_start_connect`): the coroutine and its future,
        # or (None, the poller's Connector); and when `timeout connect` expires (the
        # session timer watches it).
        self._connecting: tuple[Any, asyncio.Future[Any] | Connector] | None = None
        self._connect_due = 0.0
        self.proxy_buf: bytearray | None = bytearray() if listener.accept_proxy else None
        self._request: Request | None = _NO_REQUEST  # None: not built yet (see `request`)
        self.backend: BackendRuntime | None = None
        self.times: BackendTimes | None = None  # the backend's, once routed
        # Looked up once per session: `_finish` counts into them again.
        self._be_counters: Counters | None = None
        self._srv_counters: Counters | None = None
        self.lease: Lease | None = None
        # The backend's `stick` rules for this session (None without any).
        self.stick: StickJob | None = None
        self.srv: Server | None = None
        self.retries = 0
        self.redispatched = False
        self.queue_pos = (0, 0)
        # Loop times the session left the queue and reached its server (-1: not
        # yet); the logs' %Tw and %Tc are computed from them only when logged.
        self.queued_until = -1.0
        self.connected_at = -1.0
        self.term: str | None = None
        self.client_eof = False
        self.server_eof = False
        self.client_closed = False
        self.server_closed = False
        self.counted = False
        self.finished = False
        self.silent = False
        self.parked = False
        self.lingering = False  # rejected: the FIN is sent, the client's bytes dropped
        self.inspecting: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        srv = self.srv.name if self.srv else "-"
        be = self.backend.name if self.backend else "-"
        state = "finished" if self.finished else ("relaying" if self.server else "setting up")
        return (
            f"<Session {self.request.src}:{self.request.src_port} {self.service.frontend.name} "
            f"{be}/{srv} {state} in={self.bytes_in} out={self.bytes_out}>"
        )

    @property
    def bytes_in(self) -> int:
        """Bytes read from the client (`%U`), counted by its side of the relay."""
        self.harvest()
        return self._cside.nbytes

    @property
    def bytes_out(self) -> int:
        """Bytes read from the server (`%B`)."""
        self.harvest()
        return self._sside.nbytes

    def harvest(self) -> None:
        """Bring `last` and the byte counts up to date.  Linked sockets relay in C
        and count there (poller.py); they report when asked, and when they close,
        so a request costs no Python call.  Whatever reads `last` asks first."""
        for transport in (self.client, self.server):
            if isinstance(transport, SocketTransport):
                transport.harvest()

    @property
    def request(self) -> Request:
        """The connection as rules, hashing algorithms and logs see it, built on first
        read: with no rule, a balance algorithm that reads no request and no log
        line, a connection never needs one."""
        request = self._request
        if request is None:
            request = self._request = self._connection_request()
        return request

    @request.setter
    def request(self, request: Request) -> None:
        self._request = request

    def _connection_request(self) -> Request:
        transport = self.client
        assert transport is not None
        # The transport keeps both addresses after it closes (uvloop and asyncio alike).
        # A listener bound to one address knows the local end: no getsockname() needed.
        dst, dst_port = self.local or _address(transport.get_extra_info("sockname"))
        if dst == "unix":
            src, src_port = dst, dst_port  # a UNIX socket: no address, the listener's id
        else:
            src, src_port = _address(transport.get_extra_info("peername"))
        tls = self.listener.ssl is not None
        # Nothing inspected yet: no HTTP request (`req.proto_http` false) and `req.len`
        # 0, as HAProxy's rules see an empty buffer without `tcp-request inspect-delay`.
        return Request(
            src=src,
            src_port=src_port,
            dst=dst,
            dst_port=dst_port,
            version="",
            ssl=tls,
            sni=sni_of(transport.get_extra_info("ssl_object")) if tls else "",
            payload=b"",
            stream=StreamCounters(now_ms()) if self.service.frontend.tracks else None,
        )

    # -- admission ---------------------------------------------------------------------

    def accepted(self, transport: Transport) -> None:
        self.client = transport
        transport.set_write_buffer_limits(HIGH_WATER, LOW_WATER)
        # A TLS connection's SNI is read now, while the handshake's state is at hand.
        self._request = self._connection_request() if self.listener.ssl is not None else None
        service = self.service
        service.sessions.add(self)
        if not service.accepting:
            self.close_now()
            return
        if service.frontend.clitcpka:
            set_keepalive(transport)
        limits = service.limits
        if limits.admissible(self):
            self.admit()
        else:
            transport.pause_reading()
            limits.park(self)

    def show(self, now: float) -> str | None:
        """`show sess`: HAProxy's leading fields (its buffer and flag fields have no
        meaning here and are left out)."""
        request, runtime, srv = self.request, self.backend, self.srv
        return stream_line(
            request.src,
            request.src_port,
            self.service.frontend.name,
            runtime.name if runtime is not None else "<NONE>",
            srv.name if srv is not None else "<none>",
            now - self.accept_date,
        )

    def kill(self) -> None:
        self.term = self.term or "KD"  # killed by the admin
        self.close_now()

    def frontend_has_room(self) -> bool:
        service = self.service
        return service.gate.has_room(service.feconn)

    def unparked(self) -> None:
        """`Limits` admits this session, parked (and paused) over a `maxconn`."""
        if self.client is not None and not self.client.is_closing():
            self.client.resume_reading()
        self.admit()

    def admit(self) -> None:
        """Count the session (actconn, feconn) and start it."""
        service = self.service
        service.limits.actconn += 1
        service.feconn += 1
        self.counted = True
        service.fe_counters.session_start(self.accept_date)
        router = service.connection_router
        if router is not None and not router.accept_connection(self.request):
            # `tcp-request connection reject`: closed before anything else, never logged,
            # and with a reset, as HAProxy closes it.
            service.fe_counters.dreq += 1
            self.term = "PR"
            _reset(self.client)
            self.close_now(log=False)
            return
        if self.request.stream is not None:
            self.request.stream.count_session()
        fe = service.frontend
        if fe.logger and fe.log_format is None:
            fe.logger.log(
                f"Connect from {self.request.src}:{self.request.src_port} to "
                f"{self.request.dst}:{self.request.dst_port} ({fe.name}/TCP)"
            )
        if self.proxy_buf is not None:
            # Wait for the PROXY header before routing; data goes to early_data.
            self._arm_timer()
            if self.client is not None and self._early_paused:
                self.client.resume_reading()
            return
        self._inspect_or_route()

    def _inspect_or_route(self) -> None:
        """With `tcp-request inspect-delay`, wait for a ClientHello (or the delay) first."""
        delay = self.service.frontend.inspect_delay
        if delay is None or self.listener.ssl is not None:
            self.route()
            return
        self._start_inspecting(delay)

    def _start_inspecting(self, delay: float) -> None:
        self.inspecting = self.loop.call_later(delay, self._inspected)
        if self._early or self.client_eof:
            self._inspect()

    def _inspect(self) -> None:
        data = b"".join(self._early)
        sni = client_hello_sni(data)
        if sni == NEED_MORE and len(data) < 16384 + 5 and not self.client_eof:
            return
        self._inspected(sni if sni != NEED_MORE else None)

    def _inspected(self, sni: str | None = None) -> None:
        """Inspection is over (hello parsed, not TLS, EOF, or the delay expired): route."""
        if self.inspecting is None:
            return
        self.inspecting.cancel()
        self.inspecting = None
        data = b"".join(self._early)
        # What the payload fetches see: its bytes, and its request head if it is HTTP.
        request = payload_view(self.request, data)
        if sni:
            request = replace(request, sni=sni)
        self.request = request
        if self.client_closed:
            return
        pending, self._pending = self._pending, None
        if pending is None:
            self.route()
            return
        try:
            self._route_backend(pending)
        except Exception:
            self.internal_error("routing")

    # -- PROXY header and routing ---------------------------------------------------------

    def early_data(self, data: bytes) -> None:
        """Client bytes before the server is connected (or before the PROXY header ends)."""
        if self.lingering:
            return  # rejected: read and dropped until the client's FIN
        if self.proxy_buf is not None:
            self.proxy_buf += data
            try:
                parsed = proxy_protocol.parse(self.proxy_buf)
            except proxy_protocol.ProxyProtocolError:
                self.service.fe_counters.ereq += 1
                self.term = "PR"
                self.close_now(log=False)
                return
            if parsed is None:
                return
            header, used = parsed
            rest = bytes(self.proxy_buf[used:])
            self.proxy_buf = None
            if not header.local:
                self.request = replace(
                    self.request,
                    src=header.src,
                    src_port=header.src_port,
                    dst=header.dst,
                    dst_port=header.dst_port,
                    pp=header.tlvs,
                )
            if self.listener.ssl is not None:
                # `accept-proxy` + `ssl`: the TLS handshake starts after the header.
                self._task = self.loop.create_task(self._start_tls(rest))
                return
            if rest:
                self._early.append(rest)
                self._cside.nbytes += len(rest)
            self._inspect_or_route()
            return
        self._early.append(data)
        self._cside.nbytes += len(data)
        if self.inspecting is not None:
            self._inspect()
            return
        # Until the relay starts, every byte read from the client is still in `_early`.
        if not self._early_paused and self._cside.nbytes > EARLY_LIMIT:
            self._early_paused = True
            if self.client is not None:
                self.client.pause_reading()

    async def _start_tls(self, rest: bytes) -> None:
        """TLS on a connection whose PROXY header was read in clear (`accept-proxy ssl`).

        `loop.start_tls` cannot be handed bytes that were already read, but the
        client's ClientHello may have come in the same segment as the header.
        Both asyncio and uvloop install the TLS protocol and then schedule its
        `connection_made` and `resume_reading` with `call_soon`; feeding the
        leftover bytes two `call_soon`s later puts them right after those, before
        any new read.
        """
        loop = self.loop
        transport = self.client
        context = self.listener.ssl
        # TLS listeners accept on the loop's transports (see `TcpService.listen`).
        assert transport is not None and not isinstance(transport, SocketTransport)
        assert context is not None

        def feed() -> None:
            protocol: Any = transport.get_protocol()
            view = memoryview(rest)
            while view:
                buffer = protocol.get_buffer(len(view))
                size = min(len(buffer), len(view))
                buffer[:size] = view[:size]
                protocol.buffer_updated(size)
                view = view[size:]

        if rest:
            loop.call_soon(loop.call_soon, feed)
        try:
            tls = await loop.start_tls(transport, self._cside, context, server_side=True)
        except (OSError, ssl.SSLError, TimeoutError):
            self.term = "CR"
            self.close_now(log=False)
            return
        if tls is None or self.client_closed:
            return
        self._task = None
        self.client = tls
        tls.set_write_buffer_limits(HIGH_WATER, LOW_WATER)
        sslobj = tls.get_extra_info("ssl_object")
        self.request = replace(self.request, ssl=True, sni=sni_of(sslobj), tls=tls_facts(sslobj))
        self._inspect_or_route()

    def _linger_close(self) -> None:
        """End a rejected session as HAProxy does: a FIN now, then what the client
        still sends is read and dropped until its own FIN (or `LINGER` seconds), so
        bytes it sent before seeing ours do not turn the close into a reset."""
        client = self.client
        if client is None or client.is_closing() or not client.can_write_eof():
            self.close_now(log=True)
            return
        self.lingering = True
        client.write_eof()
        self._timer_at(self.clock() + LINGER)

    def internal_error(self, what: str) -> None:
        """A bug in routing or setup must not leave the client hanging: log it, close."""
        _log.exception("%s: internal error while %s", self.service.frontend.name, what)
        if self.term is None:
            self.term = "IC"
        self.close_now(log=True)

    def route(self) -> None:
        try:
            self._route()
        except Exception:
            self.internal_error("routing")

    def _route(self) -> None:
        service = self.service
        router = service.content_router
        if router is None:
            if self._enter_backend(service.fixed_backend, service.fixed_times):
                self._pick_server()
            return
        if self.request.stream is not None:
            self.request.stream.now_ms = now_ms()  # the rules read rates as of now
        split = service.split_router
        if split is None:  # a hand-made router: its own backend rules included
            decision = router.route_tcp(self.request)
        else:
            decision = split.route_tcp_frontend(self.request)
        if _rejects(decision):
            self._rejected()
            return
        backend = service.frontend.backend_for(decision.backend)
        times = service.times_of(backend) if backend is not None else None
        if not self._enter_backend(backend, times):
            return
        assert times is not None
        if split is None:
            self._pick_server()
            return
        if (
            times.inspect_delay is not None
            and service.frontend.inspect_delay is None
            and self.listener.ssl is None
        ):
            # The backend's own inspect-delay: its rules wait for the client's bytes.
            self._pending = decision
            self._start_inspecting(times.inspect_delay)
            return
        self._route_backend(decision)

    def _rejected(self) -> None:
        """A `tcp-request content reject`: HAProxy's PR, the client's bytes drained."""
        self.service.fe_counters.dreq += 1
        self.term = "PR"
        self._linger_close()

    def _enter_backend(self, backend: BackendRuntime | None, times: BackendTimes | None) -> bool:
        """The session belongs to `backend` from now on (its counters and log line
        name it, even if its content rules reject the session); False, and the
        session closed, when there is none."""
        if backend is None or times is None:
            # No backend: HAProxy closes and logs the session as `<NOSRV>`.
            self.term = "SC"
            self.close_now(log=True)
            return False
        self.backend = backend
        self.times = times
        self._be_counters = self.service.be_counters(times.name)
        self._be_counters.session_start(self.accept_date)
        return True

    def _route_backend(self, decision: Decision) -> None:
        """The chosen backend's content rules, then its server."""
        router = self.service.split_router
        assert router is not None
        if self.request.stream is not None:
            self.request.stream.now_ms = now_ms()
        verdict = router.backend_content(decision.backend, self.request)
        if verdict is not None and _rejects(verdict):
            self._rejected()
            return
        self._pick_server()

    def _pick_server(self) -> None:
        backend, times = self.backend, self.times
        assert backend is not None and times is not None
        pool = times.pool
        direct = None
        if backend.server_rules:
            direct = choose_server(
                backend.server_rules, self.request, pool, persist=backend.persist
            )
        if backend.stick_rules:
            self.stick = StickJob(
                backend.stick_rules,
                self.request,
                pool,
                now_ms(),
                persist=backend.persist,
                assigned=direct is not None,
            )
            if direct is None:
                direct = self.stick.server
        try:
            lease = pool.acquire(
                self.request if pool.needs_request else None,
                on_granted=self._granted,
                server=direct,
            )
        except NoServerAvailable:
            self.term = "SC"
            self.close_now(log=True)
            return
        self.lease = lease
        if lease.granted:
            self._start_connect(lease)
        else:
            self._task = self.loop.create_task(self._connect())

    # -- queue and connect ----------------------------------------------------------------
    #
    # The common case (a free slot, the connect succeeds) runs without a task: the
    # connect coroutine is stepped by hand from `_start_connect` and from its
    # future's done callback.  A task would add its own scheduling, two loop
    # iterations and a registration per connection, which is most of what a new
    # connection costs in Python.  Queueing, retries and redispatch run in the
    # `_connect` task.

    def _start_connect(self, lease: Lease) -> None:
        server = lease.server
        assert server is not None and self.backend is not None
        self.srv = server
        self.queued_until = now = self.clock()
        host, port = server.host, server.port
        if port is None:
            port = self.request.dst_port
        self._sside.peer = self._server_peer()
        poller = self.service.poller
        address = None if poller is None else ip_address(host, port)
        assert self.times is not None
        tls = self.times.tls_links.get(server.name) if self.times.tls_links else None
        if poller is not None and address is not None and tls is None:
            # The poller's connect calls back: no coroutine, future or task at all.
            try:
                connector = connect(
                    poller, self._server_side, address, self._connected, names_on_close=self._names
                )
            except OSError as exc:
                self._connect_done(None, exc)
                return
            self._connecting = (None, connector)
            self._arm_connect_timeout(now)
            return
        coro = self._open_connection(host, port) if tls is None else self._open_tls(host, port, tls)
        try:
            waiter = coro.send(None)
        except StopIteration as stop:  # connected at once (not on TCP, but allowed)
            self._connect_done(stop.value, None)
            return
        except BaseException as exc:
            self._connect_done(None, exc)
            return
        self._connecting = (coro, waiter)
        self._arm_connect_timeout(now)
        waiter.add_done_callback(self._connect_step)

    def _arm_connect_timeout(self, now: float) -> None:
        assert self.times is not None
        timeout = self.times.timeout_connect
        if timeout is not None:
            self._connect_due = due = now + timeout
            self.service.wakeups.add(self, due)

    def _connected(self, transport: SocketTransport | None, exc: BaseException | None) -> None:
        """The poller's connect ended (see `_start_connect`)."""
        self._connecting = None
        self._connect_done(None if transport is None else (transport, None), exc)

    def _connect_step(self, waiter: asyncio.Future[Any]) -> None:
        """The connect future is done: resume the coroutine, which returns or raises."""
        connecting = self._connecting
        if connecting is None:
            return
        coro = connecting[0]
        try:
            following = coro.send(None)
        except StopIteration as stop:
            self._connecting = None
            self._connect_done(stop.value, None)
            return
        except BaseException as exc:
            self._connecting = None
            self._connect_done(None, exc)
            return
        # Another await inside the event loop's connect: keep stepping.
        self._connecting = (coro, following)
        following.add_done_callback(self._connect_step)

    def _connect_done(self, result: Any, exc: BaseException | None) -> None:
        """The fast path's connect returned (`result`) or raised (`exc`)."""
        if exc is None:
            transport, _ = result
            assert self.srv is not None
            try:
                self._established(transport, self.srv)
            except Exception:
                self.internal_error("connecting to a server")
            return
        try:
            self._connect_failed(exc)
        except Exception:
            self.internal_error("connecting to a server")

    def _connect_failed(self, exc: BaseException) -> None:
        if isinstance(exc, asyncio.CancelledError):
            if not self._expired or self.client_closed:
                return  # the client left; `lost` released everything
            self._expired = False
            error = "sC"
        elif not isinstance(exc, OSError):
            if not isinstance(exc, Exception):
                raise exc
            self.term = "SC"
            self.close_now(log=True)
            return
        else:
            error = "SC"
        if self.client_closed:
            return
        self._task = self.loop.create_task(self._connect(error))

    def _cancel_connecting(self) -> bool:
        """Interrupt a pending connect, fast path (future) or queue/retry task;
        False if there is none."""
        if self._connecting is not None and not self._connecting[1].done():
            self._connecting[1].cancel()
            return True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            return True
        return False

    def _granted(self, lease: Lease) -> None:
        grant = self._grant
        if grant is not None and not grant.done():
            self._left_queue(dequeued=True)
            grant.set_result(lease)

    def _left_queue(self, *, dequeued: bool) -> None:
        """%sq/%bq as HAProxy counts them: the sessions taken from the same queue while
        this one waited, plus one (its own exit, whether dequeued or given up)."""
        key = self._queue_key
        if key is None:
            return
        self._queue_key = None
        counts = self.service.limits.dequeued
        position = counts.get(key, 0) - self._queue_start + 1
        if dequeued:
            counts[key] = counts.get(key, 0) + 1
        self.queue_pos = (position, 0) if "/" in key else (0, position)

    async def _connect(self, error: str | None = None) -> None:
        """Queue, connect, retry and redispatch; `error` is a failed first attempt.

        What to do after each step is `balancekit.stream.StreamPolicy`'s decision,
        the same table the HTTP proxy follows; this loop only performs it.  It runs
        only off the fast path (a queue, or a failed first connect), so a
        connection that succeeds at once never builds a policy.
        """
        assert self.backend is not None
        tb = self.backend
        be = tb.backend
        policy = StreamPolicy(tb.retry_policy, deterministic=tb.deterministic)
        decision: StreamDecision | None = policy.start()
        try:
            while decision is not None:
                # The log line's %rc: retries, "+" once redispatched.
                self.retries, self.redispatched = policy.retries, policy.redispatched
                if decision.count:
                    self._count(be.name, decision.count)
                if isinstance(decision, Pick):
                    if self.lease is None:
                        try:
                            self.lease = be.acquire(
                                self.request if be.needs_request else None,
                                avoid=decision.avoid,
                                on_granted=self._granted,
                            )
                        except NoServerAvailable:
                            decision = policy.handle(NoServer())
                            continue
                    lease = self.lease
                    server = lease.server
                    decision = policy.handle(
                        Assigned(server.name) if server is not None else Queued(lease.queue_server)
                    )
                elif isinstance(decision, AwaitGrant):
                    assert self.lease is not None
                    if not await self._wait_queue(self.lease, tb):
                        decision = policy.handle(QueueTimeout())
                        continue
                    assert self.lease is not None and self.lease.server is not None
                    decision = policy.handle(Granted(self.lease.server.name))
                elif isinstance(decision, Connect):
                    assert self.lease is not None
                    server = self.lease.server
                    assert server is not None
                    self.srv = server
                    if self.queued_until < 0:
                        self.queued_until = self.clock()
                    if error is None:
                        error = await self._open(server, tb)
                        if error is None or self.client_closed:
                            return
                    self.service.srv_counters(be.name, server.name).connect_failed()
                    decision = policy.handle(
                        ConnectFailed(
                            "error" if error == "SC" else "timeout",
                            server_usable=be.member(server.name).usable,
                            active_servers=be.active_servers,
                        )
                    )
                    error = None
                elif isinstance(decision, Retry):
                    if decision.redispatch and self.lease is not None:
                        be.release(self.lease)
                        self.lease = None
                    if decision.after > 0:
                        # Turn-around: a refused server is likely restarting (HAProxy waits too).
                        await asyncio.sleep(decision.after)
                        decision = policy.handle(PauseElapsed())
                    else:
                        decision = decision.next
                elif isinstance(decision, GiveUp):
                    self.term = decision.termination
                    self.close_now(log=True)
                    return
                else:
                    return  # Forward: `_open` established the session
        except asyncio.CancelledError:
            pass
        except Exception:
            self.internal_error("connecting to a server")

    def _count(self, backend: str, count: Count) -> None:
        """A policy decision's counter increments, where HAProxy makes them."""
        service = self.service
        apply_count(
            service.be_counters(backend),
            lambda server: service.srv_counters(backend, server),
            count,
        )

    async def _wait_queue(self, lease: Lease, tb: BackendRuntime) -> bool:
        """Wait in the queue for `timeout queue`; False when it expired (the lease is
        then cancelled)."""
        be = tb.backend
        server = lease.queue_server
        key = be.name if server is None else f"{be.name}/{server}"
        self._queue_key = key
        self._queue_start = self.service.limits.dequeued.get(key, 0)
        self.service.be_counters(be.name).queued(be.queued)
        self._grant = self.loop.create_future()
        try:
            timeout = tb.queue_timeout
            if timeout is None:
                await self._grant
            else:
                async with asyncio.timeout(timeout):
                    await self._grant
        except TimeoutError:
            be.cancel(lease)
            self._left_queue(dequeued=False)
            self.lease = None
            self.queued_until = self.clock()
            return False
        finally:
            self._grant = None
        return True

    async def _open(self, server: Server, tb: BackendRuntime) -> str | None:
        """Connect to `server`; None on success, else the termination code."""
        host, port = server.host, server.port
        if port is None:
            port = self.request.dst_port
        self._sside.peer = self._server_peer()
        timeout = tb.timeout_connect
        # A plain timer rather than asyncio.timeout(): this is the per-connection path.
        deadline = None if timeout is None else self.loop.call_later(timeout, self._expire)
        times = self.times
        assert times is not None
        tls = times.tls_links.get(server.name) if times.tls_links else None
        try:
            if tls is None:
                transport, _ = await self._open_connection(host, port)
            else:
                transport, _ = await self._open_tls(host, port, tls)
        except asyncio.CancelledError:
            if not self._expired or self.client_closed:
                raise
            self._expired = False
            if self._task is not None:
                self._task.uncancel()
            return "sC"
        except OSError:
            return "SC"
        finally:
            if deadline is not None:
                deadline.cancel()
        self._established(transport, server)
        return None

    def _server_side(self) -> _Side:
        return self._sside

    def _server_peer(self) -> Transport | None:
        """Where the server's bytes go: straight to the client, or (None) to
        `response_data` while the response rules have not read them."""
        times = self.times
        return None if times is not None and times.holds_response else self.client

    def _open_connection(self, host: str, port: int) -> Any:
        """The connect coroutine: on the poller when there is one."""
        poller = self.service.poller
        if poller is None:
            unix = unix_sockaddr(host)
            if unix is not None:
                return self._open_unix(unix)
            return self.loop.create_connection(self._server_side, host, port)
        return open_connection(poller, self._server_side, host, port, names_on_close=self._names)

    async def _open_tls(
        self, host: str, port: int, link: _TlsLink
    ) -> tuple[asyncio.BaseTransport, Any]:
        """A TLS connection to a `server … ssl`: the PROXY header, if the server
        wants one, goes in clear before the handshake, as HAProxy sends it."""
        unnamed, named, expr = link
        name = expr.value(self.request) if expr is not None else ""
        context = named if name and named is not None else unnamed
        server = self.srv
        assert server is not None
        if not (server.send_proxy or server.send_proxy_v2):
            return await self.loop.create_connection(
                self._server_side, host, port, ssl=context, server_hostname=name or None
            )
        req = self.request
        encode = proxy_protocol.encode_v2 if server.send_proxy_v2 else proxy_protocol.encode_v1
        family, kind, proto, _, address = (
            await self.loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            await self.loop.sock_connect(sock, address)
            await self.loop.sock_sendall(sock, encode(req.src, req.src_port, req.dst, req.dst_port))
            return await self.loop.create_connection(
                self._server_side, sock=sock, ssl=context, server_hostname=name or None
            )
        except BaseException:
            sock.close()
            raise

    async def _open_unix(self, address: str | bytes) -> tuple[asyncio.BaseTransport, Any]:
        sock = await connect_unix(self.loop, address)
        return await self.loop.create_unix_connection(self._server_side, sock=sock)

    @property
    def _names(self) -> bool:
        """Whether the server connection keeps its addresses past its close: a
        custom log-format may print our end's (%bi, %bp) in the log line."""
        return self.service.frontend.log_template is not None

    def _expire(self) -> None:
        """`timeout connect` fired: interrupt the pending connect."""
        if self._cancel_connecting():
            self._expired = True

    def _established(self, transport: Transport, server: Server) -> None:
        if self.client is None or self.client_closed:
            _reset(transport)  # the client left while we connected: HAProxy aborts too
            self.server_closed = True
            self._finish()
            return
        self.server = transport
        self.last = self.connected_at = now = self.clock()
        times = self.times
        assert times is not None
        self._srv_counters = self.service.srv_counters(times.name, server.name)
        self._srv_counters.session_start(self.accept_date)
        transport.set_write_buffer_limits(HIGH_WATER, LOW_WATER)
        if times.srvtcpka:
            set_keepalive(transport)
        if (server.send_proxy or server.send_proxy_v2) and not times.tls_links.get(server.name):
            req = self.request
            encode = proxy_protocol.encode_v2 if server.send_proxy_v2 else proxy_protocol.encode_v1
            transport.write(encode(req.src, req.src_port, req.dst, req.dst_port))
        if self._early:
            transport.write(b"".join(self._early))
            self._early.clear()
        self._cside.peer = transport
        client = self.client
        if isinstance(client, SocketTransport) and isinstance(transport, SocketTransport):
            client.link(transport, self._cside.relayed)
            if not times.holds_response:
                transport.link(client, self._sside.relayed)
        if self.client_eof:
            self._shut(transport)
        if self._early_paused:
            self._early_paused = False
            self.client.resume_reading()
        if self.service.tcplog and self.service.frontend.logasap and not self.silent:
            # stream.c's back_establish: logged now, never again (the bytes to come
            # and the way it ends are not known; the line marks them `+`).
            self._log(early=True)
            self.silent = True
        if times.holds_response:
            self._hold_response(times)
        elif times.analyses_response and self._analyse_response(b"") == "close":
            _reset(transport)  # at once: the server's bytes have not been read
        # A wake-up due before any relay timeout could expire (the connect's, as a
        # rule) arms the relay's when it comes (see `wake`); else arm it now.
        pending = self.service.wakeups.pending(self)
        if pending > now + times.timeout_floor or pending > now + self.service.client_timeout_floor:
            self._arm_timer()

    # -- the server's first bytes ---------------------------------------------------------
    #
    # HAProxy's response analysers in mode tcp run when the server connection is up:
    # `tcp-response content` rules, then the `stick` store rules.  With `tcp-response
    # inspect-delay` the rules may wait for the server's first bytes (a rule that
    # cannot match yet on a buffer too short, until the delay, a full buffer or the
    # server's EOF); those bytes are held here until the rules decide, and only then
    # reach the client.  Without it the rules run at once, on no bytes at all.

    def _hold_response(self, times: BackendTimes) -> None:
        if self._hold is None:
            self._hold = bytearray()
        assert times.response_delay is not None
        self._holding = self.loop.call_later(times.response_delay, self._response_delay_over)
        self._inspect_response()

    def response_data(self, data: bytes) -> None:
        """Server bytes the response rules have not read yet."""
        if self._hold is None:
            self._hold = bytearray()
        self._hold += data
        self._sside.nbytes += len(data)
        self.last = self.clock()
        if self._holding is not None:  # else `_established` looks at them
            self._inspect_response()

    def _response_delay_over(self) -> None:
        self._holding = None
        self._inspect_response(final=True)

    def _inspect_response(self, *, final: bool = False) -> None:
        times, hold = self.times, self._hold
        if times is None or hold is None:
            return
        data = bytes(hold)
        decided, rule = response_verdict(
            times.response_rules,
            ResponseView(self.request, payload=data),
            final=final or len(data) >= times.response_room,
        )
        if not decided:
            return
        if self._holding is not None:
            self._holding.cancel()
            self._holding = None
        self._hold = None
        action = self._analyse_response(data, "accept" if rule is None else rule.action)
        if action is None:
            return
        client, server = self.client, self.server
        if client is None or client.is_closing():
            return
        self._sside.peer = client
        if data:
            client.write(data)
        if isinstance(client, SocketTransport) and isinstance(server, SocketTransport):
            server.link(client, self._sside.relayed)
        if action == "close":
            _reset(server)

    def _analyse_response(self, data: bytes, action: str | None = None) -> str | None:
        """The response analysers on `data`: the rules' action (decided here when
        not given: on no bytes, finally), then the store rules.  The action, or
        None when a rule rejected the session."""
        times, backend, srv = self.times, self.backend, self.srv
        assert times is not None and backend is not None and srv is not None
        if action is None:
            view = ResponseView(self.request, payload=data)
            _, rule = response_verdict(times.response_rules, view)
            action = "accept" if rule is None else rule.action
        if action == "reject":
            self._response_rejected()
            return None
        if self.stick is not None:
            self.stick.store(backend.backend, srv.name, now_ms(), payload=data)
        return action

    def _response_rejected(self) -> None:
        """`tcp-response content reject`: HAProxy's PD, both connections cut."""
        service = self.service
        service.fe_counters.dresp += 1
        if self._be_counters is not None:
            self._be_counters.dresp += 1
        if self._srv_counters is not None:
            self._srv_counters.dresp += 1
        if self.term is None:
            self.term = "PD"
        _reset(self.server)
        if self.client is not None and not self.client.is_closing():
            self.client.close()

    # -- relay events -------------------------------------------------------------------

    def eof(self, client: bool) -> bool:
        """One side shut its write direction: shut the other side's, keep reading."""
        # When the other direction is already shut, both are done: the close below
        # sends the FIN, so no shutdown() first (one syscall less per connection).
        if client:
            self.client_eof = True
            if self.inspecting is not None:
                self._inspect()  # content rules run at EOF at the latest
            if self.server is not None and not self.server_eof:
                self._shut(self.server)
        else:
            self.server_eof = True
            if self._holding is not None:
                self._inspect_response(final=True)  # the rules decide at the server's EOF
                if self.term == "PD":
                    return True
            if self.client is not None and not self.client_eof:
                self._shut(self.client)
        connecting = self._task is not None or self._connecting is not None
        if self.client_eof and (self.server_eof or (self.server is None and not connecting)):
            self._close_both()
        else:
            self.last = self.clock()  # an EOF is activity: the timeouts count from it
            if self.server is not None and self._fin_timeouts():
                self._arm_timer()  # half-closed: client-fin/server-fin may be shorter
        # Keep a TCP transport open for the other direction; a TLS one cannot half-close
        # (and asyncio warns when asked to), so let it close after its buffer is flushed.
        return not (client and self.listener.ssl is not None)

    @staticmethod
    def _shut(transport: Transport) -> None:
        if transport.is_closing():
            return
        if transport.can_write_eof():
            transport.write_eof()
        else:
            transport.close()  # TLS: no half-close, flush and close

    def lost(self, client: bool, exc: Exception | None) -> None:
        if client:
            self.client_closed = True
            if self.parked:
                self.service.limits.unpark(self)
            if self._cancel_connecting():
                self._cancel_lease()
                if self.term is None:
                    self.term = "CQ" if self.srv is None else "CC"
            if exc is not None:
                if self.term is None:
                    self.term = "CD"
                self.service.fe_counters.cli_abrt += 1
                _reset(self.server)
            elif self.server is not None and not self.server.is_closing():
                self.server.close()
        else:
            self.server_closed = True
            if self._holding is not None:
                self._inspect_response(final=True)
            if exc is not None:
                if self.term is None:
                    self.term = "SD"
                if self.backend is not None:
                    self.service.be_counters(self.backend.name).srv_abrt += 1
            # Even after a server's reset the client gets what was relayed and a FIN:
            # HAProxy passes resets on towards servers only.
            if self.client is not None and not self.client.is_closing():
                self.client.close()
            self._release()
        if self.client_closed and (self.server_closed or self.server is None):
            self._finish()

    def _close_both(self) -> None:
        for transport in (self.client, self.server):
            if transport is not None and not transport.is_closing():
                transport.close()

    def close_now(self, *, log: bool = True) -> None:
        """End the session at once (reject, timeout, error, hard stop)."""
        if not log:
            self.silent = True
        self._cancel_lease()
        self._cancel_connecting()
        for transport in (self.client, self.server):
            if transport is not None:
                transport.abort()
        if self.client is None or self.client_closed:
            self._finish()

    # -- timeouts -----------------------------------------------------------------------

    def _fin_timeouts(self) -> bool:
        tb = self.times
        return self.service.timeout_client_fin is not None or (
            tb is not None and tb.timeout_server_fin is not None
        )

    def _current_timeout(self) -> tuple[float | None, str]:
        service = self.service
        client_fin = service.timeout_client_fin
        tb = self.times
        half = self.client_eof or self.server_eof
        if tb is not None and tb.timeout_tunnel is not None and self.server is not None:
            # `timeout tunnel` replaces client and server timeouts once both sides are up.
            tunnel = tb.timeout_tunnel
            if half and client_fin is not None:
                tunnel = min(tunnel, client_fin)
            return tunnel, "cD"
        cli = service.timeout_client
        if half and client_fin is not None:
            cli = client_fin
        srv = tb.timeout_server if tb is not None and self.server is not None else None
        if half and tb is not None and tb.timeout_server_fin is not None and srv is not None:
            srv = tb.timeout_server_fin
        if cli is None and srv is None:
            return None, "--"
        if srv is None or (cli is not None and cli <= srv):
            return cli, "cD"
        return srv, "sD"

    def _arm_timer(self) -> None:
        timeout, _ = self._current_timeout()
        if timeout is not None:
            self._timer_at(self.last + timeout)

    def _timer_at(self, deadline: float) -> None:
        """Be woken by `deadline`.  Lazy: a wake-up due earlier is kept (`wake`
        re-checks the current state and asks again), so most sessions ask once in
        their life instead of once per state change."""
        self.service.wakeups.add(self, deadline)

    def wake(self) -> None:
        """A wake-up is due (`Wakeups`): expire what has expired, else ask again."""
        if self.finished:
            return
        if self.lingering:
            self.close_now(log=True)
            return
        self.harvest()
        now = self.clock()
        connect_due = 0.0
        if self._connecting is not None and not self._connecting[1].done():
            connect_due = self._connect_due
            if connect_due and now + 0.0005 >= connect_due:
                self._expire()
                return
        timeout, code = self._current_timeout()
        if timeout is None or now + 0.0005 < self.last + timeout:
            if timeout is not None:
                self._timer_at(self.last + timeout)
            if connect_due:
                self._timer_at(connect_due)
            return
        if self.server is None and self.proxy_buf is not None:
            code = "cR"
        if self.term is None:
            self.term = code
        self.close_now(log=True)

    # -- the end ------------------------------------------------------------------------

    def _cancel_lease(self) -> None:
        if self.lease is not None:
            lease, self.lease = self.lease, None
            lease.backend.cancel(lease)

    def _release(self) -> None:
        if self.lease is not None:
            lease, self.lease = self.lease, None
            lease.backend.release(lease)

    @property
    def t_queue(self) -> int:
        """%Tw: milliseconds from accept until the session left the queue (-1: never)."""
        if self.queued_until < 0:
            return -1
        return int((self.queued_until - self.accept_mono) * 1000)

    @property
    def t_connect(self) -> int:
        """%Tc: milliseconds spent connecting to the server (-1: never connected)."""
        if self.connected_at < 0:
            return -1
        return int((self.connected_at - self.accept_mono) * 1000) - max(self.t_queue, 0)

    def _ms_since_accept(self) -> int:
        return int((self.clock() - self.accept_mono) * 1000)

    def _finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        self._task = None
        if self.inspecting is not None:
            self.inspecting.cancel()
            self.inspecting = None
        if self._holding is not None:
            self._holding.cancel()
            self._holding = None
        service = self.service
        service.wakeups.discard(self)
        self._release()
        service.sessions.discard(self)
        stream = self.request.stream
        if not self.counted:
            if stream is not None:
                stream.close(now_ms())
            service.idle_check()
            return
        self.counted = False
        self.harvest()
        if stream is not None:
            # The session's tracked entries: its bytes both ways, then let go.
            stream.close(now_ms(), self._sside.nbytes, self._cside.nbytes)
        bytes_in = self._cside.nbytes
        bytes_out = self._sside.nbytes
        if service.tcplog and not self.silent and (bytes_in or not service.frontend.dontlognull):
            self._log()
        for counters in (service.fe_counters, self._be_counters, self._srv_counters):
            if counters is not None:
                counters.session_end(bytes_in, bytes_out)
        service.feconn -= 1
        service.limits.actconn -= 1
        service.limits.slot_freed()
        service.idle_check()

    def _log(self, *, early: bool = False) -> None:
        """The session's line: at its end, or `early` when its server is connected
        (`option logasap`)."""
        fe = self.service.frontend
        assert fe.logger is not None
        tb = self.backend
        be_name = tb.name if tb is not None else fe.name
        srv_conn = 0
        beconn = 0
        if tb is not None:
            # HAProxy logs a TCP session after its server side is gone: %bc and %sc
            # no longer count it (while %ac and %fc still do), unless logged early.
            beconn = self.service.be_counters(tb.name).scur - (0 if early else 1)
            if self.srv is not None:
                srv_conn = tb.backend.member(self.srv.name).inflight
        tt = self._ms_since_accept()
        if early:
            tt = int((self.connected_at - self.accept_mono) * 1000)
        level = stream_log_level(
            fe.log_separate_errors, fe.dontlog_normal, self.term or "--", self.retries,
            self.redispatched,
        )  # fmt: skip
        if level is None:
            return
        if fe.log_template is not None:
            values = self._log_values(beconn, srv_conn, tt)
            fe.logger.log(fe.log_template.render(values, self.request), level)
            return
        line = format_tcplog(
            client_ip=self.request.src,
            client_port=self.request.src_port,
            accept_date=self.accept_date,
            frontend=fe.name,
            backend=be_name,
            # HAProxy names the assigned server even when connecting to it failed.
            server=self.srv.name if self.srv is not None else None,
            tw=self.t_queue,
            tc=self.t_connect,
            tt=tt,
            bytes_read=self._sside.nbytes,  # harvested by `_finish`, the only caller
            termination=self.term or "--",
            actconn=self.service.limits.actconn,
            feconn=self.service.feconn,
            beconn=beconn,
            srv_conn=srv_conn,
            retries=self.retries,
            redispatched=self.redispatched,
            srv_queue=self.queue_pos[0],
            backend_queue=self.queue_pos[1],
            ssl=self.listener.ssl is not None,
            logasap=fe.logasap,
        )
        fe.logger.log(line, level)

    def _log_values(self, beconn: int, srv_conn: int, tt: int) -> dict[str, object]:
        """The `log-format` variables a TCP session knows (HTTP-only ones print `-`)."""
        fe = self.service.frontend
        req = self.request
        server_ip: str | None = None
        server_port: int | None = None
        if self.srv is not None:
            server_ip, server_port = self.srv.host, self.srv.port
        # Our end of the server connection (the transport keeps it after closing).
        source_ip: str | None = None
        source_port: int | None = None
        if self.server is not None:
            source_ip, source_port = _address(self.server.get_extra_info("sockname"))
        date = format_date(self.accept_date)
        rc = f"+{self.retries}" if self.redispatched else str(self.retries)
        waited = max(self.t_queue, 0) + max(self.t_connect, 0)
        total: object = f"+{tt}" if fe.logasap else tt
        counters = self.service.fe_counters
        return {
            # addresses and names
            "ci": req.src, "cp": req.src_port, "fi": req.dst, "fp": req.dst_port,
            "si": server_ip, "sp": server_port, "bi": source_ip, "bp": source_port,
            "f": fe.name,
            "ft": f"{fe.name}~" if self.listener.ssl is not None else fe.name,
            "b": self.backend.name if self.backend is not None else fe.name,
            "s": self.srv.name if self.srv is not None else "<NOSRV>",
            "H": socket.gethostname(), "pid": os.getpid(),
            # dates and timers (ms)
            "t": date, "tr": date, "Ts": int(self.accept_date),
            "T": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(self.accept_date)),
            "Tl": time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(self.accept_date)),
            "ms": f"{int(self.accept_date * 1000) % 1000:03d}",
            "Tw": self.t_queue, "Tc": self.t_connect, "Tt": total, "Tu": total, "Ta": total,
            "Th": 0, "Td": max(0, tt - waited),
            # bytes, state, counts
            "B": f"+{self._sside.nbytes}" if fe.logasap else self._sside.nbytes,
            "U": self._cside.nbytes, "ts": self.term or "--",
            "ac": self.service.limits.actconn, "fc": self.service.feconn, "bc": beconn,
            "sc": srv_conn, "rc": rc, "sq": self.queue_pos[0], "bq": self.queue_pos[1],
            "rt": counters.stot, "lc": counters.stot,
            # nothing captured in TCP mode
            "hr": "", "hs": "", "hrl": "", "hsl": "",
        }  # fmt: skip


def _least(*timeouts: float | None) -> float:
    return min((t for t in timeouts if t is not None), default=float("inf"))


def _rejects(decision: Decision) -> bool:
    return decision.action in ("reject", "deny", "silent-drop")


def _address(address: Any) -> tuple[str, int]:
    """(host, port) of a socket address; a unix socket's is ("unix", 0).

    An IPv4 client on a dual-stack IPv6 listener stays `::ffff:a.b.c.d`, as HAProxy
    sees (and hashes, and logs) it.
    """
    if type(address) is tuple and len(address) > 1:
        return str(address[0]), int(address[1])
    return ("unix", 0) if address else ("", 0)


class TcpService:
    """Runs one `mode tcp` frontend: its listeners and its live sessions."""

    def __init__(
        self,
        frontend: TcpFrontend,
        *,
        limits: Limits | None = None,
        registry: Registry = REGISTRY,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.frontend = frontend
        self.limits = limits or Limits()
        # The frontend's own `maxconn` and pause, shared with the runtime API.
        self.gate = self.limits.gate(frontend.name, frontend.maxconn)
        self.limits.sources.append(self)  # for `show sess`
        for runtime in frontend.backends.values():
            runtime.backend.watch_servers(functools.partial(self._server_event, runtime.backend))
        self.registry = registry
        self.loop = loop or asyncio.get_running_loop()
        self.sessions: set[Session] = set()
        self.servers: list[asyncio.Server | SocketServer] = []
        self.poller: Poller | None = poller_for(self.loop)
        self.feconn = 0
        self.accepting = True
        self.fe_counters = registry.frontend(frontend.name)
        self._be: dict[str, Counters] = {}
        self._srv: dict[tuple[str, str], Counters] = {}
        self._idle: asyncio.Event | None = None
        self.wakeups = Wakeups(self.loop)  # every session's timeouts, on one loop timer
        self.clock = self.loop.time
        self.tcplog = frontend.logger is not None and frontend.log_format == "tcplog"
        #: The soonest the frontend's client timeouts can expire (see BackendRuntime.timeout_floor).
        self.client_timeout_floor = _least(frontend.timeout_client, frontend.timeout_client_fin)
        # What the router must see per connection (see TcpRouter): None where it
        # would read nothing, and then the backend every connection goes to.
        router = frontend.router
        filters = router is not None and router.filters_connections
        self.connection_router: TcpRouter | None = router if filters else None
        fixed = router.fixed_tcp if router is not None else None
        fixed_ok = router is None or (fixed is not None and not _rejects(fixed))
        self.content_router: TcpRouter | None = None if fixed_ok else router
        content = self.content_router
        self.split_router: SplitTcpRouter | None = (
            content if hasattr(content, "backend_content") else None  # type: ignore[assignment]
        )
        fixed_name = fixed.backend if fixed is not None else None
        self.fixed_backend = frontend.backend_for(fixed_name) if fixed_ok else None
        # Read per connection: kept in compiled attributes (see `BackendTimes`).
        self.timeout_client: float | None = frontend.timeout_client
        self.timeout_client_fin: float | None = frontend.timeout_client_fin
        self._times: dict[int, BackendTimes] = {}
        fixed_backend = self.fixed_backend
        self.fixed_times = self.times_of(fixed_backend) if fixed_backend is not None else None

    def times_of(self, runtime: BackendRuntime) -> BackendTimes:
        """`runtime`'s `BackendTimes` (made at its first connection)."""
        key = id(runtime)
        times = self._times.get(key)
        if times is None:
            times = self._times[key] = BackendTimes(runtime)
        return times

    def live_streams(self) -> list[Session]:
        return [session for session in self.sessions if session.counted]

    def _server_event(self, pool: Backend, event: ServerEvent, server: str) -> None:
        """`shutdown sessions server`, `on-marked-down`, `on-marked-up`: end every
        session relayed to `server` now (the server connection's address is read at
        each connect: "moved" needs nothing here)."""
        code = _KILLED_BY.get(event)
        if code is None:
            return
        for session in list(self.sessions):
            runtime, srv = session.backend, session.srv
            if runtime is not None and runtime.backend is pool and srv and srv.name == server:
                session.term = session.term or code
                session.close_now()

    def __repr__(self) -> str:
        return (
            f"<TcpService {self.frontend.name} listeners={len(self.servers)} "
            f"sessions={len(self.sessions)} feconn={self.feconn} "
            f"{'accepting' if self.accepting else 'stopped'}>"
        )

    def be_counters(self, name: str) -> Counters:
        c = self._be.get(name)
        if c is None:
            c = self._be[name] = self.registry.backend(name)
        return c

    def srv_counters(self, backend: str, server: str) -> Counters:
        key = (backend, server)
        c = self._srv.get(key)
        if c is None:
            c = self._srv[key] = self.registry.server(backend, server)
        return c

    def protocol_factory(
        self, listener: Listener, local: tuple[str, int] | None = None
    ) -> Callable[[], asyncio.Protocol]:
        def factory() -> asyncio.Protocol:
            return Session(self, listener, local)._cside

        return factory

    async def listen(
        self, sock: socket.socket, listener: Listener, backlog: int = 1024, number: int = 0
    ) -> None:
        """Serve `sock` (already bound and listening) with this frontend; `number`: the
        listener's id, which names both ends of a UNIX socket (`unix:<id>`, as HAProxy)."""
        if sock.family == socket.AF_UNIX:
            local: tuple[str, int] | None = ("unix", number)
        else:
            host, port = sock.getsockname()[:2]
            local = None if host in ("0.0.0.0", "::") else _address((host, port))
        factory = self.protocol_factory(listener, local)
        if listener.ssl is None and self.poller is not None:
            # A wildcard listener's local address is read per connection (`dst`),
            # and kept past the close for the log line.
            self.servers.append(
                SocketServer(self.poller, sock, factory, names_on_close=local is None)
            )
            return
        # With `accept-proxy`, TLS (if any) starts after the PROXY header: see _start_tls.
        server = await self.loop.create_server(
            factory,
            sock=sock,
            ssl=None if listener.accept_proxy else listener.ssl,
            backlog=backlog,
        )
        self.servers.append(server)

    @property
    def name(self) -> str:
        return self.frontend.name

    def retire(self, grace: float) -> None:
        """A reload's soft stop needs nothing more here: sessions finish as they are
        (HTTP connections, by contrast, must close between requests)."""

    def stop_accepting(self) -> None:
        """Soft stop: close the listeners; live sessions go on."""
        self.accepting = False
        for server in self.servers:
            server.close()

    def kill(self) -> None:
        """Hard stop: close listeners and abort every session now."""
        self.stop_accepting()
        for session in list(self.sessions):
            if session.term is None:
                session.term = "KD" if session.server is not None else "KC"
            session.close_now(log=True)
        self.wakeups.close()

    def idle_check(self) -> None:
        if self._idle is not None and not self.sessions:
            self._idle.set()

    async def wait_idle(self) -> None:
        """Return once no session is alive (used by soft stop)."""
        if not self.sessions:
            return
        self._idle = asyncio.Event()
        await self._idle.wait()
