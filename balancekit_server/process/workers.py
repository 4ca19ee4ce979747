"""`--workers N` (or `nbthread N`): N worker processes sharing the listeners.

Python runs one event loop per process, so where HAProxy uses threads
balancekit forks processes.  The master forks N workers; each binds the
frontends' addresses with SO_REUSEPORT (the kernel spreads new connections
over them), runs the configuration with its own pools, health checks and
counters, and reloads itself on SIGUSR2 (see `reload`).  The master:

* checks the configuration on SIGUSR2/SIGHUP before forwarding the signal, so a
  broken file is refused once, with one ALERT, and every worker keeps serving;
* forwards SIGUSR1 (soft stop) and SIGTERM/SIGINT (hard stop) to every worker;
* starts a new worker when one dies unexpectedly.

State is per worker, and the runtime API says so rather than pretending:
`show info` reports `Nbproc`/`Process_num`, the unix stats socket `PATH` is
answered by worker 1 and `PATH.<n>` by worker n, and a TCP stats socket is
shared (SO_REUSEPORT), so each connection talks to one worker.  With one
worker (the default) none of this applies.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType

from balancekit.config import Config, ConfigErrors, load
from balancekit_server.ops.logs import console

__all__ = ["ENV", "Master", "Serve", "run", "worker_identity"]

Serve = Callable[[Config, Sequence[str], bool, bool], int]
"""What runs one process: `serve(config, files, quiet, shared_listeners)` returns its
exit status.  `shared_listeners` asks for SO_REUSEPORT binds, so every worker
accepts on the same addresses.  The master never imports what serves (as uvicorn's
supervisors wrap `server.run`): `cli` hands it `reload.serve`."""

ENV = "BALANCEKIT_WORKER"
"""Set to `index/count` in each worker process (1-based index)."""


def worker_identity() -> tuple[int, int]:
    """(index, count) of this process: (1, 1) when not running under a master."""
    value = os.environ.get(ENV, "")
    index, _, count = value.partition("/")
    if index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count):
        return int(index), int(count)
    return 1, 1


class Master:
    """Forks and supervises the workers; never touches a client connection."""

    FAIL_FAST = 2.0  # a worker dying sooner than this after its fork failed to start

    def __init__(
        self, config: Config, files: Sequence[str], serve: Serve, *, count: int, quiet: bool
    ) -> None:
        self.config = config
        self.files = list(files)
        self.serve = serve
        self.count = count
        self.quiet = quiet
        self.children: dict[int, int] = {}  # pid -> worker index
        self.started: dict[int, float] = {}  # pid -> when it was forked
        self.stopping = False
        self.pending: list[int] = []
        self.status = 0

    def __repr__(self) -> str:
        return f"<Master workers={sorted(self.children.values())} stopping={self.stopping}>"

    def spawn(self, index: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            for sig in (
                signal.SIGUSR1,
                signal.SIGUSR2,
                signal.SIGHUP,
                signal.SIGTERM,
                signal.SIGINT,
            ):
                signal.signal(sig, signal.SIG_DFL)
            os.environ[ENV] = f"{index}/{self.count}"
            code = 1
            try:
                code = self.serve(self.config, self.files, self.quiet or index > 1, True)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self.children[pid] = index
        self.started[pid] = time.monotonic()

    def _signal(self, signum: int, frame: FrameType | None) -> None:
        self.pending.append(signum)

    def _handle(self, signum: int) -> None:
        if signum in (signal.SIGUSR2, signal.SIGHUP):
            try:
                load(self.files)
            except ConfigErrors as failure:
                for error in failure.errors:
                    console("alert", str(error))
                console("alert", "Reload refused: the workers keep the running configuration.")
                return
            except OSError as exc:
                console("alert", f"Reload refused: {exc}.")
                return
            self._forward(signal.SIGUSR2)
            return
        if signum in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
            self.stopping = True
            self._forward(signal.SIGTERM if signum == signal.SIGINT else signum)

    def _forward(self, signum: int) -> None:
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def run(self) -> int:
        for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._signal)
        for index in range(1, self.count + 1):
            self.spawn(index)
        if not self.quiet:
            console("notice", f"Master started {self.count} workers: {sorted(self.children)}.")
        while self.children:
            while self.pending:
                self._handle(self.pending.pop(0))
            try:
                pid, raw = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.05)
                continue
            index = self.children.pop(pid)
            lived = time.monotonic() - self.started.pop(pid, 0.0)
            code = os.waitstatus_to_exitcode(raw)
            if self.stopping:
                self.status = max(self.status, code if code > 0 else 0)
                continue
            if lived < self.FAIL_FAST:
                # It could not even start (a bind error, say): restarting would loop.
                console("alert", f"Worker #{index} (pid {pid}) failed to start; stopping.")
                self.stopping = True
                self.status = code if code > 0 else 1
                self._forward(signal.SIGTERM)
                continue
            console(
                "alert", f"Worker #{index} (pid {pid}) exited with code {code}; starting a new one."
            )
            self.spawn(index)
        return self.status


def run(
    config: Config,
    serve: Serve,
    *,
    files: Sequence[str],
    quiet: bool = False,
    workers: int | None = None,
) -> int:
    """Run `config` with `workers` processes (default: `nbthread`, else 1), each
    running `serve`; one worker runs in this process, without a master."""
    count = workers or config.global_.nbthread or 1
    if count <= 1:
        return serve(config, files, quiet, False)
    return Master(config, files, serve, count=count, quiet=quiet).run()
