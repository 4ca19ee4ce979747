"""Starting the fast HTTP server on sockets: `serve()` for Python objects and
`serve_frontend()` for a `mode http` frontend of a loaded config."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl as _ssl
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from balancekit import Backend
from balancekit.config import Config, LogTarget
from balancekit.config.runtime import BackendRuntime, Bind, Frontend
from balancekit_server.http.proxy import HttpLogEntry, HttpProxy, RouterLike
from balancekit_server.http.server import HttpServerProtocol, ProxiedHttpServerProtocol
from balancekit_server.ops.counters import Registry
from balancekit_server.ops.logs import Logger
from balancekit_server.process.limits import Limits

__all__ = ["HttpListener", "HttpService", "add_sni_capture", "serve", "serve_frontend"]


def add_sni_capture(context: _ssl.SSLContext) -> _ssl.SSLContext:
    """Remember the client's SNI on the SSL object so `ssl_fc_sni` ACLs can read it.

    An existing `sni_callback` (certificate selection) keeps working: it is called
    after the name is recorded.
    """
    previous = context.sni_callback

    def capture(sslobj: Any, name: str | None, ctx: _ssl.SSLContext) -> int | None:
        if name:
            with contextlib.suppress(AttributeError):
                sslobj.bk_sni = name
        return previous(sslobj, name, ctx) if previous is not None else None  # type: ignore[arg-type]

    context.sni_callback = capture
    return context


class HttpListener:
    """The listening sockets of one HTTP frontend; `close()`/`wait_closed()` like
    `asyncio.Server`."""

    def __init__(self, proxy: HttpProxy, servers: list[asyncio.Server]) -> None:
        self.proxy = proxy
        self.servers = servers

    @property
    def sockets(self) -> list[Any]:
        return [sock for server in self.servers for sock in server.sockets]

    @property
    def port(self) -> int:
        """The first socket's port (handy after binding port 0)."""
        return int(self.sockets[0].getsockname()[1])

    def close(self) -> None:
        for server in self.servers:
            server.close()
        self.proxy.close()

    async def wait_closed(self) -> None:
        for server in self.servers:
            await server.wait_closed()

    def __repr__(self) -> str:
        addrs = [s.getsockname()[:2] for s in self.sockets]
        return f"<HttpListener {self.proxy.name} {addrs}>"


async def serve(
    router: RouterLike,
    backends: Mapping[str, BackendRuntime | Backend],
    frontend: Frontend | None = None,
    *,
    binds: Sequence[tuple[str, int] | tuple[str, int, _ssl.SSLContext | None]] = (
        ("127.0.0.1", 0),
    ),
    sockets: Sequence[Any] = (),
    log: Callable[[HttpLogEntry], None] | None = None,
    counters: Any = None,
    proxy: HttpProxy | None = None,
) -> HttpListener:
    """Serve one HTTP frontend with the fast protocol on `binds` (host, port[, ssl])
    and/or already-bound `sockets`."""
    loop = asyncio.get_running_loop()
    if proxy is None:
        proxy = HttpProxy(router, backends, frontend, log=log, counters=counters)
    servers: list[asyncio.Server] = []
    for bind in binds:
        host, port = bind[0], bind[1]
        context = bind[2] if len(bind) > 2 else None
        if context is not None:
            add_sni_capture(context)
        servers.append(
            await loop.create_server(
                _factory(proxy, context is not None),
                host or None,
                port,
                ssl=context,
                backlog=1024,
                reuse_address=True,
            )
        )
    for sock in sockets:
        servers.append(await loop.create_server(_factory(proxy, False), sock=sock, backlog=1024))
    return HttpListener(proxy, servers)


def _factory(proxy: HttpProxy, tls: bool) -> Callable[[], HttpServerProtocol]:
    return lambda: HttpServerProtocol(proxy, ssl=tls)


class HttpService:
    """A running `mode http` frontend, as `Runtime` stops it: `stop_accepting()`
    (SIGUSR1: idle keep-alive connections close, live requests finish), `kill()`
    (SIGTERM) and `wait_idle()`."""

    def __init__(self, proxy: HttpProxy, *, limits: Limits | None = None, maxconn: int = 0) -> None:
        self.proxy = proxy
        self.servers: list[asyncio.Server] = []
        self.connections: set[HttpServerProtocol] = set()
        self.limits = limits or Limits()
        # The frontend's own `maxconn` and pause, shared with the runtime API.
        self.gate = self.limits.gate(proxy.name, maxconn)
        self.limits.sources.append(self)  # for `show sess`
        self.feconn = 0  # admitted connections (HAProxy's feconn, %fc)
        self._idle: asyncio.Event | None = None
        self._retire_grace = 0.0  # set by `retire`: idle connections' reprieve
        # Log lines count connections, not requests: %ac process-wide, %fc here.
        proxy.connection_counts = self.connection_counts

    def __repr__(self) -> str:
        return (
            f"<HttpService {self.proxy.name} connections={len(self.connections)} "
            f"feconn={self.feconn}>"
        )

    def factory(
        self, tls: bool, accept_proxy: bool = False, listener: int = 0
    ) -> Callable[[], HttpServerProtocol]:
        """Protocols for one listener (`listener`: its id); `accept_proxy` (`bind …
        accept-proxy`) reads a PROXY header first, with a class of its own so plain
        listeners pay nothing."""
        kind = ProxiedHttpServerProtocol if accept_proxy else HttpServerProtocol
        return lambda: kind(self.proxy, ssl=tls, service=self, listener=listener)

    def connection_counts(self) -> tuple[int, int]:
        return self.limits.actconn, self.feconn

    def has_room(self) -> bool:
        return self.gate.has_room(self.feconn)

    def live_streams(self) -> list[HttpServerProtocol]:
        return [conn for conn in self.connections if conn.counted]

    def opened(self, conn: HttpServerProtocol) -> None:
        """A new client connection: start it, or park it paused while the global or
        the frontend `maxconn` is reached (HAProxy leaves it in the backlog)."""
        self.connections.add(conn)
        if self.limits.admissible(conn):
            self.admit(conn)
        else:
            assert conn.transport is not None
            conn.transport.pause_reading()
            self.limits.park(conn)

    def admit(self, conn: HttpServerProtocol) -> None:
        self.limits.actconn += 1
        self.feconn += 1
        conn.start()

    def closed(self, conn: HttpServerProtocol) -> None:
        self.connections.discard(conn)
        if conn.parked:
            self.limits.unpark(conn)
        elif conn.counted:
            self.limits.actconn -= 1
            self.feconn -= 1
            self.limits.slot_freed()
        if not self.connections and self._idle is not None:
            self._idle.set()

    @property
    def sockets(self) -> list[Any]:
        return [sock for server in self.servers for sock in server.sockets]

    def retire(self, grace: float) -> None:
        """A reload's soft stop, without a reset on any keep-alive connection.

        Closing an idle keep-alive connection races with the client's next request
        (a client such as wrk sees a read error).  Instead every connection answers
        its next response with `Connection: close` (the one in flight, if any,
        keeps its keep-alive answer), and `stop_accepting()` closes the
        connections still idle only `grace` seconds later.
        """
        for server in self.servers:
            server.close()
        for conn in list(self.connections):
            conn.close_after_response()
        self._retire_grace = grace

    @property
    def name(self) -> str:
        return self.proxy.name

    def stop_accepting(self) -> None:
        if self._retire_grace:
            loop = asyncio.get_running_loop()
            loop.call_later(self._retire_grace, self._stop_accepting_now)
        else:
            self._stop_accepting_now()

    def _stop_accepting_now(self) -> None:
        self.proxy.stopping = True
        for server in self.servers:
            server.close()
        for conn in list(self.connections):
            conn.close_if_idle()

    def kill(self) -> None:
        self._stop_accepting_now()
        for conn in list(self.connections):
            conn.abort()
        self.proxy.close()

    def close(self) -> None:
        self.kill()

    async def wait_idle(self) -> None:
        if self.connections:
            self._idle = asyncio.Event()
            await self._idle.wait()
        self.proxy.close()

    async def wait_closed(self) -> None:
        for server in self.servers:
            await server.wait_closed()


class RuntimeLike(Protocol):
    """What `serve_frontend` uses of `balancekit_server.process.runtime.Runtime` (a
    protocol, so this compiled module need not import the runtime)."""

    config: Config
    registry: Registry
    limits: Limits

    def logger(self, targets: Iterable[LogTarget]) -> Logger | None: ...

    def open_sockets(self, frontend: Frontend) -> list[tuple[socket.socket, Bind]]: ...

    def ssl_context(self, bind: Bind) -> _ssl.SSLContext | None: ...


async def serve_frontend(frontend: Frontend, runtime: RuntimeLike) -> HttpService:
    """Run one `mode http` frontend of a loaded config (called by `Runtime`).

    Backends are every `mode http` backend of the config; log lines go to the
    frontend's log targets in `option httplog` format; counters to the runtime's
    registry; `bind … ssl crt …` uses the runtime's TLS contexts.
    """
    from balancekit_server.ops.logs import http_log_writer

    config = runtime.config
    backends = {name: be for name, be in config.backends.items() if be.mode == "http"}
    logs_requests = frontend.httplog or frontend.log_line is not None
    logger = runtime.logger(frontend.logs)
    log, log_requests = http_log_writer(frontend, logger.log if logger and logs_requests else None)
    if frontend.router is None:
        raise ValueError(f"frontend '{frontend.name}' has no router")
    proxy = HttpProxy(frontend.router, backends, frontend, log=log, counters=runtime.registry)
    proxy.log_requests = log_requests
    for name, backend in backends.items():
        if backend.checkcache and (found := runtime.logger(backend.logs)) is not None:
            proxy.backend_log[name] = found.log
    if logger is not None and not logs_requests and not frontend.tcplog:
        # HAProxy logs each stream's connection when the frontend has no log format.
        proxy.connect_log = logger.log
    service = HttpService(proxy, limits=runtime.limits, maxconn=frontend.maxconn)
    loop = asyncio.get_running_loop()
    for listener, (sock, bind) in enumerate(runtime.open_sockets(frontend), 1):
        context = runtime.ssl_context(bind)
        server = await loop.create_server(
            service.factory(context is not None, bind.accept_proxy, listener),
            sock=sock,
            ssl=context,
            backlog=1024,
        )
        service.servers.append(server)
    return service
