"""Runs a loaded configuration: listeners, sessions, checks, stats and signals.

`run(config)` is what `balancekit-server -f haproxy.cfg` calls.  It picks uvloop
when installed (a cheap +30% on the connection rate), raises the open-files
limit the way HAProxy sizes `ulimit-n` from `maxconn`, binds every `bind` of
every frontend, hands `mode tcp` frontends to `balancekit_server.tcp` and
`mode http` ones to `balancekit_server.http.serve_frontend(frontend, runtime)`,
starts health checks and stats sockets when those modules are present, and
stops like HAProxy: SIGTERM (and SIGINT) at once, SIGUSR1 after the live
sessions have finished.

The `Runtime` object is the contract with the other front ends.  What they may use:

- `runtime.config` — the loaded `balancekit.config.Config`;
- `runtime.limits` — process-wide `actconn`/global `maxconn` (`limits.Limits`), for TCP and HTTP;
- `runtime.loop` — the running event loop;
- `runtime.open_sockets(frontend)` — `[(socket, bind)]`, bound and listening;
- `runtime.ssl_context(bind)` — the `SSLContext` of a `bind … ssl crt …` (cached);
- `runtime.logger(targets)` — a `logs.Logger` for a proxy's log targets (cached);
- `runtime.addresses` — `{frontend name: [(host, port), …]}` actually bound;
- `runtime.add_service(obj)` — register anything with `stop_accepting()`,
  `kill()` and `async wait_idle()`, so signals reach it;
- `runtime.health`, `runtime.stats` — set by the checks and stats modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import resource
import signal
import socket
import ssl
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from balancekit.config import Bind, Config, Frontend, LogTarget, StatsSocket
from balancekit.server import unix_sockaddr
from balancekit_server.errors import RunError
from balancekit_server.net.listeners import BACKLOG, config_location, open_listener
from balancekit_server.ops import logs
from balancekit_server.ops.counters import REGISTRY, SYNC_INTERVAL, Registry
from balancekit_server.process import init_addr
from balancekit_server.process.limits import Limits
from balancekit_server.tcp import Listener, TcpFrontend, TcpService

if TYPE_CHECKING:
    from balancekit_server.http.proxy import HttpProxy
    from balancekit_server.ops.checks import HealthMonitor
    from balancekit_server.ops.peers import PeersService
    from balancekit_server.ops.resolvers import ResolversService
    from balancekit_server.ops.stats import StatsService

__all__ = [
    "Runtime",
    "Service",
    "new_event_loop",
    "raise_fd_limit",
    "resolve_cookie_hosts",
    "run",
    "tune_gc",
]


class Service(Protocol):
    """Anything the runtime stops: a TCP frontend, an HTTP frontend, a stats socket."""

    def stop_accepting(self) -> None: ...

    def kill(self) -> None: ...

    async def wait_idle(self) -> None: ...


class ProxyService(Service, Protocol):
    """A running frontend: its name and its live connections (HAProxy's feconn)."""

    @property
    def name(self) -> str: ...

    @property
    def feconn(self) -> int: ...

    def retire(self, grace: float) -> None:
        """A reload's soft stop of this generation (`soft_stop` follows)."""


def raise_fd_limit(
    maxconn: int, ulimit_n: int = 0, *, strict: bool = True
) -> tuple[int, str | None]:
    """Raise RLIMIT_NOFILE so `maxconn` sessions fit (two fds each, plus spare), or
    set it to `ulimit-n` when the config says so.

    HAProxy computes `ulimit-n` from `maxconn` the same way.  With no maxconn
    the soft limit goes up to the hard one.  Returns the soft limit, and HAProxy's
    message when `ulimit-n` could not be had: with `strict-limits` (the default)
    the limit is left as it was and the start is to fail; without, it is the most
    there is."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if ulimit_n:
        with contextlib.suppress(ValueError, OSError):
            top = ulimit_n if hard == resource.RLIM_INFINITY else max(hard, ulimit_n)
            resource.setrlimit(resource.RLIMIT_NOFILE, (ulimit_n, top))
            return ulimit_n, None
        if not strict:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
                soft = hard
        return soft, f"Cannot raise FD limit to {ulimit_n}, limit is {soft}."
    want = 2 * maxconn + 256 if maxconn else hard
    if hard != resource.RLIM_INFINITY and want > hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))  # root only
            return want, None
        want = hard
    if want > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            return want, None
    return soft, None


def resolve_cookie_hosts(config: Config) -> None:
    """Give `cookie … dynamic` the addresses its servers' host names resolve to.

    HAProxy resolves server names with libc once, at start (`init-addr libc`), and
    hashes that address into the cookie; the first getaddrinfo answer is the one
    it keeps.  A name that does not resolve gets no cookie, as in HAProxy.
    """
    for runtime in config.backends.values():
        cookies = runtime.dynamic_cookies
        if not cookies.enabled:
            continue
        for member in runtime.backend.members:
            host = member.server.host
            if host in cookies.addresses or unix_sockaddr(host) is not None:
                continue
            with contextlib.suppress(OSError, UnicodeError):
                answers = socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
                family, _, _, _, sockaddr = answers[0]
                if family in (socket.AF_INET, socket.AF_INET6) and sockaddr[0] != host:
                    cookies.addresses[host] = str(sockaddr[0])
        cookies.refresh(runtime.backend)


class Runtime:
    """One running configuration (see the module docstring for what others may use)."""

    def __init__(
        self,
        config: Config,
        *,
        registry: Registry = REGISTRY,
        reuse_port: bool = False,
        quiet: bool = False,
    ) -> None:
        self.config = config
        # Server names get their address as HAProxy's start gives it (`init-addr`);
        # what cannot start was refused by the command line before.
        init_addr.apply(config, init_addr.resolve_servers(config))
        resolve_cookie_hosts(config)
        self.registry = registry
        self.reuse_port = reuse_port
        self.quiet = quiet
        self.limits = Limits(config.global_.maxconn)
        self.services: list[Service] = []
        self.addresses: dict[str, list[tuple[str, int]]] = {}
        self._sockets: list[socket.socket] = []
        self._loggers: dict[tuple[LogTarget, ...], logs.Logger] = {}
        self._stopped: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping = False
        # Set by the optional modules when they start: the health monitor
        # (balancekit_server.ops.checks) and the stats service (balancekit_server.ops.stats).
        self.health: HealthMonitor | None = None
        self.stats: StatsService | None = None
        #: The `peers` sections this process takes part in (balancekit_server.ops.peers).
        self.peers: list[PeersService] = []
        #: The names `resolvers` sections keep resolving (balancekit_server.ops.resolvers).
        self.resolvers: ResolversService | None = None
        #: The running frontends (TCP and HTTP), for HAProxy's per-proxy stop messages.
        self.proxies: list[ProxyService] = []
        #: The HTTP frontends' proxy cores (the stats page wraps their routers).
        self.http_proxies: list[HttpProxy] = []

    def __repr__(self) -> str:
        state = "stopping" if self.stopping else "running" if self.loop else "idle"
        return (
            f"<Runtime {state} frontends={len(self.config.frontends)} "
            f"services={len(self.services)} {self.limits!r}>"
        )

    # -- building blocks other front ends use ---------------------------------------------

    def ssl_context(self, bind: Bind) -> ssl.SSLContext | None:
        """The TLS context of a `bind … ssl`, which the config load built."""
        if bind.ssl and bind.context is None:
            raise RunError(f"{config_location(bind)}bind {bind.address}: ssl without a context")
        return bind.context

    def logger(self, targets: Iterable[LogTarget]) -> logs.Logger | None:
        """A Logger for a proxy's `log` lines (`log global` means the global ones)."""
        key = tuple(logs.expand_targets(targets, self.config.global_.logs))
        if not key:
            return None
        found = self._loggers.get(key)
        if found is None:
            try:
                g = self.config.global_
                found = logs.Logger(key, tag=g.log_tag, hostname=g.log_hostname)
            except (ValueError, OSError) as exc:
                raise RunError(f"{config_location(key[0])}log: {exc}") from None
            self._loggers[key] = found
        return found

    def open_sockets(self, frontend: Frontend) -> list[tuple[socket.socket, Bind]]:
        return [
            self.listening(frontend, open_listener(bind, reuse_port=self.reuse_port), bind)
            for bind in frontend.binds
        ]

    def listening(
        self, frontend: Frontend, sock: socket.socket, bind: Bind
    ) -> tuple[socket.socket, Bind]:
        """Keep `sock`, the listener of `bind`, and note where it listens."""
        self._sockets.append(sock)
        if bind.path is None:
            host, port = sock.getsockname()[:2]
        else:
            host, port = bind.address, 0
        self.addresses.setdefault(frontend.name, []).append((host, port))
        return sock, bind

    def add_service(self, service: Service) -> None:
        self.services.append(service)

    def take_stats_listener(self, spec: StatsSocket) -> socket.socket | None:
        """A listening socket the stats socket `spec` must use, or None to open its
        own (a reloadable runtime hands over the one its generations share)."""
        return None

    # -- starting ---------------------------------------------------------------------

    def tcp_frontend(self, frontend: Frontend) -> TcpFrontend:
        """The forwarder's view of a `mode tcp` frontend."""
        backends = {name: be for name, be in self.config.backends.items() if be.mode == "tcp"}
        default_name = frontend.default_backend or frontend.backend_name
        default = backends.get(default_name) if default_name else None
        if default_name and default is None:
            raise RunError(
                f"{config_location(frontend)}frontend '{frontend.name}' (mode tcp) uses backend "
                f"'{default_name}' which is not a mode tcp backend"
            )
        log_format = "tcplog" if frontend.tcplog or frontend.httplog else None
        template = None
        if frontend.log_line is not None:
            template = logs.LogFormat(frontend.log_line)
            log_format = "tcplog"
        return TcpFrontend(
            name=frontend.name,
            default_backend=default,
            backends=backends,
            router=frontend.router,
            timeout_client=frontend.timeout_client,
            timeout_client_fin=frontend.timeout_client_fin,
            clitcpka=frontend.clitcpka,
            maxconn=frontend.maxconn,
            logger=self.logger(frontend.logs),
            log_format=log_format,
            dontlognull=frontend.dontlognull,
            log_separate_errors=frontend.log_separate_errors,
            dontlog_normal=frontend.dontlog_normal,
            logasap=frontend.logasap,
            inspect_delay=frontend.tcp_inspect_delay,
            log_template=template,
            tracks=frontend.tracks,
        )

    async def _start_tcp(self, frontend: Frontend) -> None:
        service = TcpService(
            self.tcp_frontend(frontend), limits=self.limits, registry=self.registry
        )
        self.proxies.append(service)
        self.add_service(service)
        for number, (sock, bind) in enumerate(self.open_sockets(frontend), 1):
            listener = Listener(accept_proxy=bind.accept_proxy, ssl=self.ssl_context(bind))
            await service.listen(sock, listener, BACKLOG, number)

    async def _start_http(self, frontend: Frontend) -> None:
        # Imported here: the HTTP engine needs httptools, which `mode tcp` configs don't.
        from balancekit_server.http.listen import serve_frontend

        service = await serve_frontend(frontend, self)
        self.proxies.append(service)
        self.http_proxies.append(service.proxy)
        self.add_service(service)

    async def _start_checks_and_stats(self) -> None:
        from balancekit_server.ops import checks, peers, resolvers, server_state, stats

        self.health = checks.start(self)
        self.add_service(self.health)
        # Before the first check runs: servers come back as the state file left them.
        states, warnings = server_state.read_states(self.config)
        warn = (lambda message: None) if self.quiet else self._warn
        for warning in warnings:
            warn(warning)
        server_state.apply_states(self.config, states, self.health, warn)
        self.stats = await stats.start(self)
        if self.stats is not None:
            self.add_service(self.stats)
        self.peers = await peers.start(self.config)
        for service in self.peers:
            self.add_service(service)
        self.resolvers = resolvers.start(self.config, self.health)
        if self.resolvers is not None:
            self.add_service(self.resolvers)

    @staticmethod
    def _warn(message: str) -> None:
        logs.console("warning", message)

    async def start(self) -> None:
        """Bind everything and start serving; raises `RunError` naming the bad line."""
        self.loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        g = self.config.global_
        _, problem = raise_fd_limit(g.maxconn, g.ulimit_n, strict=g.strict_limits)
        if problem is not None:
            if g.strict_limits:
                raise RunError(problem)
            self._warn(problem)
        try:
            for frontend in self.config.frontends:
                if frontend.mode == "tcp":
                    await self._start_tcp(frontend)
                else:
                    await self._start_http(frontend)
                if not self.quiet:
                    where = ", ".join(
                        f"{h}:{p}" if p else h for h, p in self.addresses.get(frontend.name, [])
                    )
                    logs.console("notice", f"Proxy {frontend.name} started on {where}.")
            await self._start_checks_and_stats()
        except BaseException:
            self.hard_stop()
            raise
        self._sync_rates()

    def _sync_rates(self) -> None:
        """The proxies count totals; the per-second rates catch up here (see `Rate`)."""
        self.registry.sync_rates()
        if self._stopped is not None and not self._stopped.is_set():
            assert self.loop is not None
            self.loop.call_later(SYNC_INTERVAL, self._sync_rates)

    # -- stopping ---------------------------------------------------------------------

    def hard_stop(self) -> None:
        """SIGTERM: close listeners and abort every session now."""
        self.stopping = True
        for service in self.services:
            with contextlib.suppress(Exception):
                service.kill()
        self._close_sockets()
        if self._stopped is not None:
            self._stopped.set()

    def soft_stop(self) -> None:
        """SIGUSR1: stop accepting, let live sessions finish, then stop."""
        if self.stopping:
            return
        self.stopping = True
        if not self.quiet:
            self._announce_stopped_proxies()
        for service in self.services:
            with contextlib.suppress(Exception):
                service.stop_accepting()
        self._close_sockets()
        loop = asyncio.get_running_loop()
        task = loop.create_task(self._drain())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        after = self.config.global_.hard_stop_after
        if after is not None:
            loop.call_later(after, self._soft_stop_expired)

    def _announce_stopped_proxies(self) -> None:
        """HAProxy's line per proxy as a soft stop closes its listeners."""
        names = [f.name for f in self.config.frontends]
        names += [name for name in self.config.backends if name not in names]
        frontends = {f.name for f in self.config.frontends}
        for name in names:
            fe = self.registry.frontend(name).stot if name in frontends else 0
            be = self.registry.backend(name).stot if name in self.config.backends else 0
            logs.console("warning", f"Proxy {name} stopped (cumulated conns: FE: {fe}, BE: {be}).")

    def _soft_stop_expired(self) -> None:
        """`hard-stop-after`: a soft stop still waiting on sessions ends them now,
        saying so as HAProxy does."""
        if self._stopped is None or self._stopped.is_set():
            return
        if not self.quiet:
            logs.console("warning", "soft-stop running for too long, performing a hard-stop.")
            for proxy in self.proxies:
                if proxy.feconn:
                    logs.console(
                        "warning",
                        f"Proxy {proxy.name} hard-stopped "
                        f"({proxy.feconn} remaining conns will be closed).",
                    )
        self.hard_stop()

    async def _drain(self) -> None:
        await asyncio.gather(*(s.wait_idle() for s in self.services), return_exceptions=True)
        if self._stopped is not None:
            self._stopped.set()

    def _close_sockets(self) -> None:
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
        self._sockets.clear()

    async def wait_stopped(self) -> None:
        assert self._stopped is not None, "start() first"
        await self._stopped.wait()

    def install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.hard_stop)
        loop.add_signal_handler(signal.SIGINT, self.hard_stop)
        loop.add_signal_handler(signal.SIGUSR1, self.soft_stop)

    async def serve(self) -> None:
        """Start, install the signal handlers, and run until stopped."""
        await self.start()
        self.install_signals()
        try:
            await self.wait_stopped()
        finally:
            for logger in self._loggers.values():
                logger.close()


def tune_gc() -> None:
    """Fewer, cheaper garbage collections on the per-connection path.

    Each session allocates a few dozen container objects, which made the cyclic
    GC run every few connections (2-3% of a connection-heavy profile).  Sessions
    hold no reference cycle once ended (reference counting frees them), so the
    youngest generation may grow before it is scanned, and what the process
    built at startup (config, rules, rings) is frozen out of collection.  Called
    once, by `run`, before anything is served.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when installed, else asyncio's default."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(config: Config, *, quiet: bool = False) -> int:
    """Run `config` in this process until a signal stops it (no reload: that is
    `reload.serve`, which `balancekit-server -f` uses); the exit status."""
    tune_gc()  # the process's own entry point: nothing else lives in it yet
    runtime = Runtime(config, quiet=quiet)
    try:
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(runtime.serve())
    except (RunError, OSError, ValueError) as exc:
        # A config that loaded but cannot run: one line, no traceback.
        print(f"[ALERT]    ({os.getpid()}) : {exc}", file=sys.stderr)
        return 1
    return 0
