"""Reload without losing a connection: SIGUSR2 / SIGHUP re-read the configuration.

HAProxy reloads by starting a new process that inherits the listening sockets,
then soft-stopping the old one.  balancekit does the same inside one process:

1. the files given with `-f` are loaded again; a configuration that fails
   (what `balancekit-server -c` would reject) is refused, logged as an ALERT,
   and the running one keeps serving;
2. a new `Runtime` starts on the *same* listening sockets, stats sockets
   included (each runtime gets a `dup()` of a socket kept in a `SocketPool`, so
   the kernel's accept queue is never closed and no client is refused);
3. the old runtime soft-stops: it stops accepting, finishes its in-flight HTTP
   requests and TCP sessions on the old configuration, then its health checks
   and stats sockets go away.  New connections use the new configuration.

SIGUSR1 soft-stops and SIGTERM/SIGINT hard-stop whatever is running, old
generations included, as in HAProxy.  Health state is not carried over (each
generation starts with servers UP and re-checks them, HAProxy's default without
`server-state-file`); the counters registry is per process and keeps counting.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import Sequence
from typing import Any

from balancekit.config import Bind, Config, ConfigErrors, Frontend, StatsSocket, load
from balancekit_server.errors import RunError
from balancekit_server.net.listeners import open_listener
from balancekit_server.ops.counters import REGISTRY, Registry
from balancekit_server.ops.logs import console
from balancekit_server.ops.stats import (
    bind_stats_listener,
    file_identity,
    socket_specs,
    unlink_if_ours,
)
from balancekit_server.process.runtime import Runtime, new_event_loop

__all__ = ["ReloadableRuntime", "Reloader", "SocketPool", "serve"]


def _key(bind: Bind) -> tuple[str, int, bool]:
    # `bind fd@N` is keyed by "fd@N": one pooled duplicate of the inherited socket
    # (a UNIX socket by its address, `unix@…` or `abns@…`).
    plain = bind.fd is None and bind.path is None
    return (bind.host if plain else bind.address, bind.port, bind.v6)


class SocketPool:
    """Listening sockets that outlive any one configuration generation.

    `take(bind)` returns a new file descriptor (a `dup`) on the pooled socket,
    binding it on first use; runtimes close their dups freely.  `keep(binds)`
    closes pooled sockets the current configuration no longer uses.
    """

    def __init__(self, *, reuse_port: bool = False) -> None:
        self.reuse_port = reuse_port
        self._socks: dict[tuple[str, int, bool], socket.socket] = {}
        # stats sockets by address: (socket, (st_dev, st_ino) of a unix file we bound)
        self._stats: dict[str, tuple[socket.socket, tuple[int, int] | None]] = {}

    def __repr__(self) -> str:
        return f"<SocketPool {sorted(self._socks)}>"

    def adopt(self, bind: Bind, sock: socket.socket) -> None:
        """Use an already bound socket (inherited from a parent process) for `bind`."""
        self._socks[_key(bind)] = sock

    def take(self, bind: Bind) -> socket.socket:
        sock = self._socks.get(_key(bind))
        if sock is None:
            sock = open_listener(bind, reuse_port=self.reuse_port)
            self._socks[_key(bind)] = sock
        return sock.dup()

    def take_stats(self, spec: StatsSocket) -> socket.socket:
        """A dup of the listener of a `stats socket`, bound on first use (see `take`)."""
        entry = self._stats.get(spec.address)
        if entry is None:
            sock = bind_stats_listener(spec)
            entry = self._stats[spec.address] = (sock, file_identity(spec))
        elif spec.is_unix and spec.mode is not None:
            os.chmod(spec.address, spec.mode)
        return entry[0].dup()

    def keep(self, binds: Sequence[Bind], stats_addresses: Sequence[str] = ()) -> None:
        wanted = {_key(b) for b in binds}
        for key in [k for k in self._socks if k not in wanted]:
            with contextlib.suppress(OSError):
                self._socks.pop(key).close()
        for address in [a for a in self._stats if a not in stats_addresses]:
            sock, identity = self._stats.pop(address)
            sock.close()
            if identity is not None:
                unlink_if_ours(address, identity)

    def close(self) -> None:
        self.keep(())


class ReloadableRuntime(Runtime):
    """A `Runtime` whose listeners come from a `SocketPool` shared across generations."""

    def __init__(self, config: Config, pool: SocketPool, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.pool = pool

    def open_sockets(self, frontend: Frontend) -> list[tuple[socket.socket, Bind]]:
        return [self.listening(frontend, self.pool.take(bind), bind) for bind in frontend.binds]

    def take_stats_listener(self, spec: StatsSocket) -> socket.socket:
        """Stats sockets too keep one listener across generations (`stats.start`)."""
        return self.pool.take_stats(spec)


def _all_binds(config: Config) -> list[Bind]:
    return [bind for frontend in config.frontends for bind in frontend.binds]


def _stats_addresses(config: Config) -> list[str]:
    return [spec.address for spec in socket_specs(config)]


class Reloader:
    """Runs generations of `ReloadableRuntime`s for one set of config files."""

    def __init__(
        self,
        files: Sequence[str],
        config: Config,
        *,
        quiet: bool = False,
        registry: Registry = REGISTRY,
        pool: SocketPool | None = None,
    ) -> None:
        self.files = list(files)
        self.config = config
        self.quiet = quiet
        self.registry = registry
        self.pool = pool or SocketPool()
        self.current: ReloadableRuntime | None = None
        self.draining: set[ReloadableRuntime] = set()
        self.generation = 0
        self.stopping = False
        self.reloads = 0
        self.refused = 0
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.grace = 2.0  # seconds an old generation's idle keep-alive connections may stay

    def __repr__(self) -> str:
        return (
            f"<Reloader generation={self.generation} draining={len(self.draining)} "
            f"reloads={self.reloads} refused={self.refused}>"
        )

    def _runtime(self, config: Config) -> ReloadableRuntime:
        # Later generations do not announce "Proxy … started" again (HAProxy does not
        # either); the reload itself is logged once.
        quiet = self.quiet or self.generation > 0
        return ReloadableRuntime(config, self.pool, registry=self.registry, quiet=quiet)

    async def start(self) -> ReloadableRuntime:
        runtime = self._runtime(self.config)
        await runtime.start()
        self.current = runtime
        self.generation = 1
        return runtime

    async def reload(self) -> bool:
        """Load the files again and switch to them; False (and an ALERT) when refused."""
        async with self._lock:
            try:
                result = await asyncio.get_running_loop().run_in_executor(None, load, self.files)
            except ConfigErrors as failure:
                self.refused += 1
                for error in failure.errors:
                    console("alert", f"{error}")
                console(
                    "alert",
                    f"Reload refused: the new configuration has {len(failure.errors)} "
                    "error(s); the running configuration keeps serving.",
                )
                return False
            except OSError as exc:
                self.refused += 1
                console("alert", f"Reload refused: {exc}; the running configuration keeps serving.")
                return False
            if self.stopping:
                return False
            new = self._runtime(result.config)
            try:
                await new.start()
                new.quiet = self.quiet  # its later messages (soft stop) are wanted
            except (RunError, OSError) as exc:
                self.refused += 1
                new.hard_stop()
                console("alert", f"Reload refused: {exc}; the running configuration keeps serving.")
                return False
            old, self.current = self.current, new
            self.config = result.config
            self.generation += 1
            self.reloads += 1
            if old is not None:
                self._retire(old)
            self.pool.keep(_all_binds(result.config), _stats_addresses(result.config))
            if not self.quiet:
                console("notice", f"Reloaded configuration (generation {self.generation}).")
            return True

    def _retire(self, old: ReloadableRuntime) -> None:
        """Soft-stop a generation: stop accepting, finish in-flight, then drop the rest."""
        self.draining.add(old)
        old.quiet = True
        for proxy in old.proxies:
            proxy.retire(self.grace)
        old.soft_stop()

        async def finish() -> None:
            try:
                await old.wait_stopped()
            finally:
                old.hard_stop()  # health checks, stats sessions: whatever is left
                self.draining.discard(old)

        task = asyncio.get_running_loop().create_task(finish())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def request_reload(self) -> None:
        if self.stopping:
            return
        task = asyncio.get_running_loop().create_task(self.reload())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def soft_stop(self) -> None:
        """SIGUSR1: the listeners close now (new clients are refused), live sessions finish."""
        self.stopping = True
        if self.current is not None:
            self.current.soft_stop()
        self.pool.close()

    def hard_stop(self) -> None:
        self.stopping = True
        for runtime in [*self.draining, self.current]:
            if runtime is not None:
                runtime.hard_stop()
        self.pool.close()

    def install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR2, self.request_reload)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        loop.add_signal_handler(signal.SIGUSR1, self.soft_stop)
        loop.add_signal_handler(signal.SIGTERM, self.hard_stop)
        loop.add_signal_handler(signal.SIGINT, self.hard_stop)

    async def serve(self) -> None:
        """Start, handle signals, return once the current generation has stopped."""
        await self.start()
        self.install_signals()
        while True:
            runtime = self.current
            assert runtime is not None
            await runtime.wait_stopped()
            async with self._lock:
                if runtime is self.current:
                    break
        for old in list(self.draining):
            with contextlib.suppress(Exception):
                await old.wait_stopped()
        self.pool.close()


def serve(
    config: Config, files: Sequence[str], quiet: bool = False, shared_listeners: bool = False
) -> int:
    """Run `config` with reload support until stopped; the process exit status.

    This is `workers.Serve`: `shared_listeners` binds with SO_REUSEPORT, for a
    worker among several on the same addresses.
    """
    pool = SocketPool(reuse_port=True) if shared_listeners else None
    reloader = Reloader(files, config, quiet=quiet, pool=pool)
    try:
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(reloader.serve())
    except RunError as exc:
        console("alert", str(exc))
        return 1
    return 0
