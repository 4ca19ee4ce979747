"""`BalancedPool`: a thread-safe `Backend` with HAProxy's runtime around it, for clients.

The pool owns a `balancekit.Backend` and adds what a proxy would do around it:
a lock, the `maxconn` FIFO queue with a queue timeout, active health checks in a
background thread (`check`, `inter`, `rise`, `fall`, `fastinter`, `downinter`),
passive checks from the outcomes callers report (`observe`, `error-limit`,
`on-error`), slow start, and connect retries with redispatch following
`balancekit.stream.StreamPolicy` (the same decisions as the proxies).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, Literal, Self, TypeVar

from .. import config as _config
from ..config.runtime import HttpCheck, HttpCheckExpect
from ..errors import BalancekitError, NoServerAvailable
from ..health import CheckResult, HealthSettings, Observation, ServerHealth, Transition
from ..pool import Backend, Lease
from ..request import Request
from ..server import Server
from ..stream import (
    Assigned,
    AwaitGrant,
    Connect,
    ConnectFailed,
    ConnectOk,
    Decision,
    EmptyResponse,
    GiveUp,
    Granted,
    JunkResponse,
    NoServer,
    PauseElapsed,
    Pick,
    Queued,
    QueueTimeout,
    Response,
    ResponseTimeout,
    Retry,
    RetryPolicy,
    StreamPolicy,
    is_deterministic,
)
from .probes import http_probe, mysql_probe, tcp_probe

if TYPE_CHECKING:  # asyncio is imported when an AsyncBalancedPool is used
    import asyncio

__all__ = [
    "AsyncBalancedPool",
    "BalancedPool",
    "ConnectFailure",
    "Outcome",
    "QueueTimeoutError",
    "ResponseFailure",
]

#: What a caller saw: "ok", an HTTP status, "connect_error" (nothing was sent),
#: "timeout" (no answer in time) or "error" (the exchange broke).
Outcome = Literal["ok", "connect_error", "timeout", "error"] | int

T = TypeVar("T")

_OBSERVATIONS: dict[str, Observation] = {
    "ok": Observation.L4_OK,
    "connect_error": Observation.L4_ERR,
    "timeout": Observation.HTTP_READ_TIMEOUT,
    "error": Observation.HTTP_BROKEN_PIPE,
}


class QueueTimeoutError(NoServerAvailable):
    """A queued request waited `timeout queue` without a server (HAProxy's 503 sQ)."""

    def __init__(self, backend: str) -> None:
        super().__init__(backend, "queue timeout")


class ConnectFailure(BalancekitError):
    """Raised by a `call` function when the server could not be reached and
    nothing was sent: the pool retries it (elsewhere when the policy redispatches).
    `kind` is "error" (refused, reset) or "timeout"."""

    def __init__(
        self, kind: Literal["error", "timeout"] = "error", cause: BaseException | None = None
    ) -> None:
        super().__init__(f"connect {kind}: {cause}" if cause else f"connect {kind}")
        self.kind = kind
        self.cause = cause


class ResponseFailure(BalancekitError):
    """Raised by a `call` function when the request was sent but no valid
    response head came back: `kind` "empty" (the server closed), "junk" (not
    HTTP) or "timeout".  Retried (HAProxy's L7 retries) only for a replayable
    request and when the policy's `retry-on` lists the matching keyword
    (`empty-response`, `junk-response`, `response-timeout`)."""

    def __init__(
        self, kind: Literal["empty", "junk", "timeout"], cause: BaseException | None = None
    ) -> None:
        super().__init__(f"{kind} response: {cause}" if cause else f"{kind} response")
        self.kind = kind
        self.cause = cause


_RESPONSE_EVENTS: dict[str, type[EmptyResponse | JunkResponse | ResponseTimeout]] = {
    "empty": EmptyResponse,
    "junk": JunkResponse,
    "timeout": ResponseTimeout,
}


@dataclass(frozen=True, slots=True)
class _Returned(Generic[T]):
    """What the first try of `attempt` returned, when the policy must still see it."""

    value: T


def _outcome(first: _Returned[T] | BaseException) -> T:
    """The first try's result again, or its exception raised again."""
    if isinstance(first, BaseException):
        raise first
    return first.value


@dataclass
class _Checked:
    server: Server
    health: ServerHealth
    due: float
    ramp_due: float | None = None


#: What `_try_acquire` hands back for a lease granted at once (nothing to wait for).
_GRANTED = threading.Event()
_GRANTED.set()


class BalancedPool:
    """A thread-safe balanced pool of servers for an in-process client.

    `backend` is the pool; `retry_policy` the `retries`/`option redispatch`
    words (default: 3 retries, redispatch on the last one, as `option
    redispatch`); `timeout_queue` how long a request waits for a `maxconn` slot
    (None: `timeout connect`, then forever, as HAProxy); `httpchk` makes the
    checks HTTP requests instead of TCP connects, judged by `http_expect` (the
    `http-check expect` rules; default 2xx/3xx); `timeout_check` bounds one
    probe (default: `inter`).  Checks start at construction (`checks=False`
    defers them to `start()`) and stop with `close()` or the `with` block.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        retry_policy: RetryPolicy | None = None,
        timeout_queue: float | None = None,
        timeout_connect: float | None = None,
        timeout_check: float | None = None,
        httpchk: HttpCheck | None = None,
        http_expect: tuple[HttpCheckExpect, ...] = (),
        mysql_check: bool = False,
        checks: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.retry_policy = retry_policy or RetryPolicy(3, -1, timeout_connect=timeout_connect)
        self.timeout_queue = timeout_queue if timeout_queue is not None else timeout_connect
        self.timeout_connect = timeout_connect
        self.timeout_check = timeout_check
        self.httpchk = httpchk
        self.http_expect = http_expect
        self.mysql_check = mysql_check
        self.deterministic = is_deterministic(backend.balance.algorithm)
        self._clock = clock
        self._lock = threading.Lock()
        now = clock()
        self.health: dict[str, ServerHealth] = {}
        self._checked: list[_Checked] = []
        for server in backend.servers:
            health = ServerHealth(HealthSettings.from_server(server), now=now, checked=server.check)
            self.health[server.name] = health
            if server.check:
                self._checked.append(_Checked(server, health, now))
        self.retries = 0
        self.redispatches = 0
        self.failed_connects = 0
        self.queue_timeouts = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.closed = False
        if checks:
            self.start()

    # -- construction from haproxy.cfg ------------------------------------------------

    @classmethod
    def from_config(
        cls,
        path: str | os.PathLike[str],
        backend: str,
        **kwargs: Any,
    ) -> Self:
        """Build a pool from a `backend` (or `listen`) section of an haproxy.cfg:
        its servers and `balance`, `retries`, `option redispatch`, `retry-on`,
        `timeout connect|queue|check`, `option httpchk` and `http-check expect`."""
        runtime = _config.load(path).config.backend(backend)
        kwargs.setdefault("retry_policy", runtime.retry_policy)
        kwargs.setdefault("timeout_queue", runtime.timeout_queue)
        kwargs.setdefault("timeout_connect", runtime.timeout_connect)
        kwargs.setdefault("timeout_check", runtime.timeout_check)
        kwargs.setdefault("httpchk", runtime.httpchk)
        kwargs.setdefault("http_expect", runtime.http_check_expect)
        # `option mysql-check [user U]`: the greeting is read; the user's login is not tried
        kwargs.setdefault("mysql_check", runtime.mysql_check_user is not None)
        return cls(runtime.backend, **kwargs)

    # -- lifetime ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the health-check thread (once; a no-op without checked servers)."""
        if self._thread is not None or not self._checked or self.closed:
            return
        self._thread = threading.Thread(
            target=self._check_loop, name=f"balancekit-checks-{self.backend.name}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop the checks and wait for the thread to end."""
        self.closed = True
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def __enter__(self) -> BalancedPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- leases ------------------------------------------------------------------------

    def acquire(
        self,
        request: Request | None = None,
        *,
        avoid: str | None = None,
        timeout: float | None = None,
    ) -> Lease:
        """A granted lease; waits in the FIFO queue when every server is at `maxconn`.

        Raises `NoServerAvailable` (nothing usable, `maxqueue` reached) or
        `QueueTimeoutError` after `timeout` (default: the pool's `timeout_queue`)."""
        lease, granted = self._try_acquire(request, avoid)
        if not lease.granted:
            self._await(lease, granted, timeout)
        return lease

    def _try_acquire(
        self, request: Request | None, avoid: str | None
    ) -> tuple[Lease, threading.Event]:
        with self._lock:
            lease = self.backend.acquire(request, avoid=avoid)
            if lease.granted:
                return lease, _GRANTED  # the common case: no event to make
            # Queued: grants happen under the lock too, so none can be missed here.
            granted = threading.Event()
            lease.on_granted = lambda _lease: granted.set()
        return lease, granted

    def _await(self, lease: Lease, granted: threading.Event, timeout: float | None) -> None:
        wait = self.timeout_queue if timeout is None else timeout
        granted.wait(wait)
        with self._lock:
            if lease.granted:
                return
            self.backend.cancel(lease)
            self.queue_timeouts += 1
        raise QueueTimeoutError(self.backend.name)

    def release(self, lease: Lease, outcome: Outcome | None = None) -> None:
        """Give the slot back; `outcome` feeds the passive checks (`observe`)."""
        server = lease.server
        with self._lock:
            self.backend.release(lease)
        if server is not None and outcome is not None:
            self.observe(server.name, outcome)

    @contextmanager
    def lease(self, request: Request | None = None, *, avoid: str | None = None) -> Iterator[Lease]:
        """`with pool.lease(request) as lease:` use `lease.server`; an exception counts
        as "error" for the passive checks, a normal exit as "ok"."""
        lease = self.acquire(request, avoid=avoid)
        try:
            yield lease
        except BaseException:
            self.release(lease, "error")
            raise
        self.release(lease, "ok")

    def observe(self, server: str, outcome: Outcome) -> None:
        """Count one traffic outcome on `server` (`observe layer4|layer7`)."""
        health = self.health[server]
        if health.settings.observe is None:
            return
        if isinstance(outcome, int):
            event = Observation.for_status(outcome)
            if health.settings.observe == "layer4":
                event = Observation.L4_OK
        elif outcome == "ok" and health.settings.observe == "layer7":
            event = Observation.HTTP_OK
        else:
            event = _OBSERVATIONS[outcome]
        with self._lock:
            result = health.observe(event, self._clock())
            if result.transition is not None:
                self._apply(server, result.transition)
            if result.check_at is not None:
                for checked in self._checked:
                    if checked.server.name == server:
                        checked.due = min(checked.due, result.check_at)
        if result.check_at is not None:
            self._wake.set()

    # -- the retry loop ------------------------------------------------------------------

    def call(
        self,
        fn: Callable[[Server], T],
        request: Request | None = None,
        *,
        classify: Callable[[T], Outcome] | None = None,
    ) -> T:
        """Run `fn(server)` on a balanced server, retrying connect failures.

        `fn` raises `ConnectFailure` when the server could not be reached and nothing
        was sent; the pool then retries by HAProxy's rules (`retries`, `option
        redispatch`, the turn-around pause) via `balancekit.stream.StreamPolicy`.
        Any other exception is reported as "error" and propagates.  `classify`
        turns a result into an outcome for the passive checks (default "ok")."""
        result, lease = self.attempt(fn, request)
        self.release(lease, classify(result) if classify else "ok")
        return result

    def attempt(
        self,
        fn: Callable[[Server], T],
        request: Request | None = None,
        *,
        replayable: bool = False,
        status_of: Callable[[T], int] | None = None,
        discard: Callable[[T], None] | None = None,
    ) -> tuple[T, Lease]:
        """`call` without the release: the lease stays held (a streamed response
        body); give it back with `release(lease, outcome)`.

        A `replayable` request (its whole body is in memory) may also be retried
        after a `ResponseFailure`, or after a status the policy's `retry-on`
        lists (`status_of` reads it from a result, `discard` frees a result that
        is retried), HAProxy's L7 retries."""
        # The common case runs without the stream policy (its state table costs
        # several µs a call): a slot free at once, and the call works.  Anything else
        # replays what happened into the policy below, which takes it from there.
        pending: tuple[Lease, threading.Event] | None = None
        first: _Returned[T] | BaseException | None = None
        with contextlib.suppress(NoServerAvailable):
            pending = self._try_acquire(request, None)
        if pending is not None and pending[0].server is not None:
            lease0, server0 = pending[0], pending[0].server
            try:
                value = fn(server0)
            except (ConnectFailure, ResponseFailure) as failure:
                first = failure
            except BaseException:
                self.release(lease0, "error")
                raise
            else:
                if not self._may_retry_status(replayable, status_of):
                    return value, lease0
                first = _Returned(value)
        stream = StreamPolicy(
            self.retry_policy, deterministic=self.deterministic, replayable=replayable
        )
        decision: Decision = stream.start()
        lease: Lease | None = None
        granted: threading.Event | None = None
        last: ConnectFailure | None = None
        while True:
            if isinstance(decision, Pick):
                if pending is not None:
                    (lease, granted), pending = pending, None
                else:
                    try:
                        lease, granted = self._try_acquire(request, decision.avoid)
                    except NoServerAvailable:
                        decision = stream.handle(NoServer())
                        continue
                decision = stream.handle(self._assigned(lease))
            elif isinstance(decision, AwaitGrant):
                assert lease is not None and granted is not None
                try:
                    self._await(lease, granted, None)
                except QueueTimeoutError:
                    decision = stream.handle(QueueTimeout())
                    continue
                assert lease.server is not None
                decision = stream.handle(Granted(lease.server.name))
            elif isinstance(decision, Connect):
                assert lease is not None and lease.server is not None
                server = lease.server
                try:
                    result = _outcome(first) if first is not None else fn(server)
                    first = None
                except ConnectFailure as failure:
                    first = None
                    last = failure
                    decision = stream.handle(self._connect_failed(server, failure))
                    continue
                except ResponseFailure as failure:
                    first = None
                    decision = self._response_failed(stream, server, lease, failure)
                    continue
                except BaseException:
                    self.release(lease, "error")
                    raise
                retry = self._answered(stream, server, result, status_of)
                if retry is None:
                    return result, lease
                if discard is not None:
                    discard(result)
                decision = retry
            elif isinstance(decision, Retry):
                lease = self._retry(decision, lease)
                if decision.after > 0:
                    time.sleep(decision.after)
                    decision = stream.handle(PauseElapsed())
                else:
                    assert decision.next is not None
                    decision = decision.next
            elif isinstance(decision, GiveUp):
                raise self._give_up(decision, lease, stream, last)
            else:  # pragma: no cover - Forward comes after Connect, handled there
                raise AssertionError(f"unexpected decision {decision!r}")

    # The steps `attempt` and the asyncio form share.

    def _may_retry_status(self, replayable: bool, status_of: Callable[[Any], int] | None) -> bool:
        """Whether a response's status can lead to a retry (HAProxy's L7 retries)."""
        return replayable and status_of is not None and self.retry_policy.l7

    @staticmethod
    def _assigned(lease: Lease) -> Assigned | Queued:
        server = lease.server
        if server is not None:
            return Assigned(server.name)
        return Queued(lease.queue_server)

    def _connect_failed(self, server: Server, failure: ConnectFailure) -> ConnectFailed:
        self.observe(server.name, "connect_error")
        with self._lock:
            usable = self.backend.member(server.name).usable
            active = self.backend.active_servers
        return ConnectFailed(failure.kind, server_usable=usable, active_servers=active)

    def _server_view(self, server: Server) -> tuple[bool, int]:
        with self._lock:
            return self.backend.member(server.name).usable, self.backend.active_servers

    def _response_failed(
        self, stream: StreamPolicy, server: Server, lease: Lease, failure: ResponseFailure
    ) -> Decision:
        stream.handle(ConnectOk())
        self.observe(server.name, "timeout" if failure.kind == "timeout" else "error")
        usable, active = self._server_view(server)
        event = _RESPONSE_EVENTS[failure.kind](server_usable=usable, active_servers=active)
        decision = stream.handle(event)
        if isinstance(decision, GiveUp):
            self.release(lease)
            if failure.cause is not None:
                raise failure.cause
            raise failure
        return decision

    def _answered(
        self,
        stream: StreamPolicy,
        server: Server,
        result: Any,
        status_of: Callable[[Any], int] | None,
    ) -> Retry | None:
        """The connect worked and `result` came back: a Retry when its status is
        one `retry-on` lists and the request can be replayed, else None."""
        stream.handle(ConnectOk())
        if status_of is None:
            return None
        status = status_of(result)
        usable, active = self._server_view(server)
        decision = stream.handle(Response(status, server_usable=usable, active_servers=active))
        if isinstance(decision, Retry):
            self.observe(server.name, status)
            return decision
        return None

    def _retry(self, decision: Retry, lease: Lease | None) -> Lease | None:
        with self._lock:
            self.retries += 1
            if decision.redispatch:
                self.redispatches += 1
        if decision.redispatch and lease is not None:
            self.release(lease)
            return None
        return lease

    def _give_up(
        self,
        decision: GiveUp,
        lease: Lease | None,
        stream: StreamPolicy,
        last: ConnectFailure | None,
    ) -> NoServerAvailable:
        if lease is not None and lease.granted:
            self.release(lease)
        with self._lock:
            self.failed_connects += 1
        if decision.termination == "sQ":
            return QueueTimeoutError(self.backend.name)
        if last is not None:
            error = NoServerAvailable(
                self.backend.name, f"gave up after {stream.retries} retries: {last}"
            )
            error.__cause__ = last.cause or last
            return error
        return NoServerAvailable(self.backend.name)

    # -- health --------------------------------------------------------------------------

    def _apply(self, name: str, transition: Transition) -> None:
        """Called with the lock held."""
        self.backend.set_health(name, transition.up)
        health = self.health[name]
        if transition.up and health.starting:
            self.backend.set_ramp(name, health.ramp(self._clock()))
            for checked in self._checked:
                if checked.server.name == name:
                    checked.ramp_due = self._clock() + health.ramp_step()

    def record(self, name: str, result: CheckResult) -> Transition | None:
        """Feed one active-check result for `name` (what the checker thread does)."""
        with self._lock:
            transition = self.health[name].record(result, self._clock())
            if transition is not None:
                self._apply(name, transition)
        return transition

    def eject(self, name: str) -> Transition | None:
        """Mark `name` DOWN now (a failed query proved it broken); the active checks
        bring it back after `rise` passed checks."""
        with self._lock:
            transition = self.health[name].force(False, self._clock())
            if transition is not None:
                self._apply(name, transition)
        return transition

    def probe(self, server: Server) -> CheckResult:
        """Run one active check on `server` (HTTP with `httpchk`, else a TCP connect)."""
        host = server.check_addr or server.host
        port = server.check_port or server.port
        timeout = self.timeout_check or server.inter
        if port is None:
            raise ValueError(f"server '{server.name}' has no port to check")
        if self.httpchk is not None:
            return http_probe(host, port, self.httpchk, timeout, self.http_expect)
        if self.mysql_check:
            return mysql_probe(host, port, timeout)
        return tcp_probe(host, port, timeout)

    def _check_loop(self) -> None:
        # Due probes run side by side, so one server timing out does not delay
        # the others' checks (each probe is bounded by `timeout check` or `inter`).
        with ThreadPoolExecutor(
            max_workers=min(len(self._checked), 16),
            thread_name_prefix=f"balancekit-probe-{self.backend.name}",
        ) as probes:
            while not self._stop.is_set():
                self._check_round(probes)

    def _check_round(self, probes: ThreadPoolExecutor) -> None:
        now = self._clock()
        due = [c for c in self._checked if c.due <= now]
        futures = [(c, probes.submit(self.probe, c.server)) for c in due]
        for checked, future in futures:
            if self._stop.is_set():
                return
            self.record(checked.server.name, future.result())
            checked.due = self._clock() + checked.health.next_interval()
        for checked in self._checked:
            if checked.ramp_due is not None and checked.ramp_due <= now:
                self._ramp(checked)
        dues = [c.due for c in self._checked]
        dues += [c.ramp_due for c in self._checked if c.ramp_due is not None]
        self._wake.wait(max(0.0, min(dues) - self._clock()))
        self._wake.clear()

    def _ramp(self, checked: _Checked) -> None:
        with self._lock:
            health = checked.health
            ramp = health.ramp(self._clock())
            name = checked.server.name
            if self.backend.member(name).usable or health.up:
                self.backend.set_ramp(name, ramp)
            checked.ramp_due = self._clock() + health.ramp_step() if health.starting else None

    # -- state -----------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """A snapshot: per server its state, check status, in-flight, queue, picks."""
        with self._lock:
            servers = {}
            for member in self.backend.members:
                health = self.health[member.server.name]
                servers[member.server.name] = {
                    "status": member.status,
                    "check": health.status_text if member.server.check else None,
                    "weight": member.uweight,
                    "ramp": member.ramp,
                    "inflight": member.inflight,
                    "queued": len(member.queue),
                    "picks": member.lbtot,
                    "chkfail": health.failed_checks,
                    "chkdown": health.down_transitions,
                    "hanafail": health.hana_failures,
                }
            return {
                "backend": self.backend.name,
                "balance": self.backend.balance.algorithm,
                "queued": self.backend.queued,
                "retries": self.retries,
                "redispatches": self.redispatches,
                "failed_connects": self.failed_connects,
                "queue_timeouts": self.queue_timeouts,
                "servers": servers,
            }

    def __repr__(self) -> str:
        with self._lock:
            parts = " ".join(
                f"{m.server.name}={m.status}/{m.inflight}" for m in self.backend.members
            )
            queued = self.backend.queued
        state = "closed" if self.closed else "checking" if self._thread else "idle"
        return (
            f"<{type(self).__name__} {self.backend.name} "
            f"balance={self.backend.balance.algorithm} {state} [{parts}] queued={queued}>"
        )


class AsyncBalancedPool(BalancedPool):
    """The asyncio form: the same pool, with `acquire`, `attempt`, `call` and
    `lease` as coroutines.  Queued requests wait on a future (woken from the loop
    or from the checker thread) instead of blocking a thread; the active checks
    still run in the pool's background thread, so a slow probe never stalls the
    loop.  Use it from one event loop; `async with` closes it."""

    async def __aenter__(self) -> AsyncBalancedPool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the checks without blocking the loop."""
        import asyncio

        await asyncio.get_running_loop().run_in_executor(None, self.close)

    def _try_acquire_async(
        self, request: Request | None, avoid: str | None
    ) -> tuple[Lease, asyncio.Future[None]]:
        import asyncio

        loop = asyncio.get_running_loop()
        granted: asyncio.Future[None] = loop.create_future()

        def wake(_lease: Lease) -> None:
            def set_result() -> None:
                if not granted.done():
                    granted.set_result(None)

            loop.call_soon_threadsafe(set_result)

        with self._lock:
            lease = self.backend.acquire(request, avoid=avoid)
            if not lease.granted:
                lease.on_granted = wake  # grants happen under the lock: none is missed
        return lease, granted

    async def _await_async(
        self, lease: Lease, granted: asyncio.Future[None], timeout: float | None
    ) -> None:
        import asyncio

        wait = self.timeout_queue if timeout is None else timeout
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(granted), wait)
        with self._lock:
            if lease.granted:
                return
            self.backend.cancel(lease)
            self.queue_timeouts += 1
        raise QueueTimeoutError(self.backend.name)

    async def acquire(  # type: ignore[override]
        self,
        request: Request | None = None,
        *,
        avoid: str | None = None,
        timeout: float | None = None,
    ) -> Lease:
        lease, granted = self._try_acquire_async(request, avoid)
        if not lease.granted:
            await self._await_async(lease, granted, timeout)
        return lease

    @asynccontextmanager
    async def lease(  # type: ignore[override]
        self, request: Request | None = None, *, avoid: str | None = None
    ) -> AsyncIterator[Lease]:
        lease = await self.acquire(request, avoid=avoid)
        try:
            yield lease
        except BaseException:
            self.release(lease, "error")
            raise
        self.release(lease, "ok")

    async def call(  # type: ignore[override]
        self,
        fn: Callable[[Server], Awaitable[T]],
        request: Request | None = None,
        *,
        classify: Callable[[T], Outcome] | None = None,
    ) -> T:
        result, lease = await self.attempt(fn, request)
        self.release(lease, classify(result) if classify else "ok")
        return result

    async def attempt(  # type: ignore[override]
        self,
        fn: Callable[[Server], Awaitable[T]],
        request: Request | None = None,
        *,
        replayable: bool = False,
        status_of: Callable[[T], int] | None = None,
        discard: Callable[[T], Awaitable[None]] | None = None,
    ) -> tuple[T, Lease]:
        import asyncio

        # The fast path of the sync form's `attempt`, awaited.
        pending: tuple[Lease, asyncio.Future[None]] | None = None
        first: _Returned[T] | BaseException | None = None
        with contextlib.suppress(NoServerAvailable):
            pending = self._try_acquire_async(request, None)
        if pending is not None and pending[0].server is not None:
            lease0, server0 = pending[0], pending[0].server
            try:
                value = await fn(server0)
            except (ConnectFailure, ResponseFailure) as failure:
                first = failure
            except BaseException:
                self.release(lease0, "error")
                raise
            else:
                if not self._may_retry_status(replayable, status_of):
                    return value, lease0
                first = _Returned(value)
        stream = StreamPolicy(
            self.retry_policy, deterministic=self.deterministic, replayable=replayable
        )
        decision: Decision = stream.start()
        lease: Lease | None = None
        granted: asyncio.Future[None] | None = None
        last: ConnectFailure | None = None
        while True:
            if isinstance(decision, Pick):
                if pending is not None:
                    (lease, granted), pending = pending, None
                else:
                    try:
                        lease, granted = self._try_acquire_async(request, decision.avoid)
                    except NoServerAvailable:
                        decision = stream.handle(NoServer())
                        continue
                decision = stream.handle(self._assigned(lease))
            elif isinstance(decision, AwaitGrant):
                assert lease is not None and granted is not None
                try:
                    await self._await_async(lease, granted, None)
                except QueueTimeoutError:
                    decision = stream.handle(QueueTimeout())
                    continue
                assert lease.server is not None
                decision = stream.handle(Granted(lease.server.name))
            elif isinstance(decision, Connect):
                assert lease is not None and lease.server is not None
                server = lease.server
                try:
                    result = _outcome(first) if first is not None else await fn(server)
                    first = None
                except ConnectFailure as failure:
                    first = None
                    last = failure
                    decision = stream.handle(self._connect_failed(server, failure))
                    continue
                except ResponseFailure as failure:
                    first = None
                    decision = self._response_failed(stream, server, lease, failure)
                    continue
                except BaseException:
                    self.release(lease, "error")
                    raise
                retry = self._answered(stream, server, result, status_of)
                if retry is None:
                    return result, lease
                if discard is not None:
                    await discard(result)
                decision = retry
            elif isinstance(decision, Retry):
                lease = self._retry(decision, lease)
                if decision.after > 0:
                    await asyncio.sleep(decision.after)
                    decision = stream.handle(PauseElapsed())
                else:
                    assert decision.next is not None
                    decision = decision.next
            elif isinstance(decision, GiveUp):
                raise self._give_up(decision, lease, stream, last)
            else:  # pragma: no cover
                raise AssertionError(f"unexpected decision {decision!r}")
