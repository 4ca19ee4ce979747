"""One client stream's connect → queue → retry → redispatch → give-up decisions, sans-IO.

HAProxy takes these decisions in one place (the back stream connector's states in
src/backend.c and src/stream.c, plus ``do_l7_retry`` in src/http_ana.c).  Both
balancekit engines (``balancekit_server.tcp`` and ``balancekit_server.http``) used
to write them separately and disagreed; `StreamPolicy` is the single copy.  It
opens no socket, sleeps for nothing and reads no clock: the engine feeds it what
happened (an `Event`) and gets back a `Decision` naming the I/O still to do.

The rules followed, from HAProxy 2.6 (the maintenance branch, i.e. 2.6.0 plus
the backported fixes bc6b238, 41ade74 and 406efb9, which HAProxy marked for 2.6):

* ``retries N`` allows N connection attempts after the first one: a stream makes
  at most N + 1 (``back_handle_st_cer`` checks the count *before* incrementing
  it; 2.6.0 did it after, one attempt short, which the backport fixed).
* A failed attempt is retried only while ``retry-on`` holds ``conn-failure``
  (the default).  When retries are exhausted the stream gives up with 503 and
  ``SC`` (refused/reset) or ``sC`` (``timeout connect``).
* Before each retry ``stream_choose_redispatch`` (include/haproxy/stream.h)
  decides whether to give up the assigned server: only with ``option
  redispatch``, never under ``force-persist``, and then when the server is not
  usable, OR the retry number matches the redispatch interval, OR the server was
  not chosen by persistence (``SF_DIRECT``), more than one active server is up
  and the algorithm is not a hash (``BE_LB_KIND_HI``).
* The turn-around pause (``SC_ST_TAR``) is ``min(1s, timeout connect)``; it is
  taken only after an *error* (not a connect timeout), only when the retry stays
  on the same server (or at most one active server is up) and not after a failed
  reused idle connection.
* Counting happens where HAProxy counts: a retry that keeps its server adds
  ``wretr`` on the server and the backend; after a redispatch the next
  assignment adds ``wredis`` (server changed) or ``wretr`` (the algorithm chose
  the same server again), on the *previous* server and the backend
  (``assign_server_and_queue``).  ``econ`` (failed_conns) is counted once, when
  the stream gives up connecting or times out in the queue, not per attempt.
* L7 retries (``do_l7_retry``): for a replayable request, an empty response,
  a junk response, a response timeout or a listed status is retried without a
  pause, sharing the same ``retries`` budget; ``do_l7_retry`` itself adds one
  ``wretr`` before ``stream_choose_redispatch`` runs, so an L7 retry that keeps
  its server counts ``wretr`` twice, exactly as HAProxy 2.6 does.

See docs/stream-policy.md for the transition table and an engine's loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Literal

from .errors import BalancekitError

__all__ = [
    "ALL_RETRYABLE_ERRORS",
    "DEFAULT_BUFSIZE",
    "DEFAULT_RETRY_ON",
    "HASH_ALGORITHMS",
    "RETRY_ON_KEYWORDS",
    "RETRY_STATUSES",
    "TRANSITIONS",
    "Assigned",
    "AwaitGrant",
    "ClientAbort",
    "Closed",
    "Connect",
    "ConnectFailed",
    "ConnectOk",
    "Count",
    "Decision",
    "Deliver",
    "EmptyResponse",
    "Event",
    "Finished",
    "Forward",
    "GiveUp",
    "Granted",
    "JunkResponse",
    "NoServer",
    "PauseElapsed",
    "Pick",
    "QueueTimeout",
    "Queued",
    "Response",
    "ResponseEvent",
    "ResponseTimeout",
    "Retry",
    "RetryPolicy",
    "State",
    "StreamPolicy",
    "StreamPolicyError",
    "is_deterministic",
    "is_replayable",
    "parse_retry_on",
    "redispatch_due",
    "turnaround_delay",
]

RETRY_STATUSES: tuple[int, ...] = (401, 403, 404, 408, 425, 500, 501, 502, 503, 504)
"""The statuses `retry-on` accepts (HAProxy 2.6 src/proxy.c ``proxy_parse_retry_on``)."""

RETRY_ON_KEYWORDS: frozenset[str] = frozenset(
    {
        "conn-failure",
        "empty-response",
        "junk-response",
        "response-timeout",
        "0rtt-rejected",
        *(str(status) for status in RETRY_STATUSES),
    }
)
"""Every event keyword a `retry-on` set may hold (``none`` and
``all-retryable-errors`` are words of the parser, not members)."""

ALL_RETRYABLE_ERRORS: frozenset[str] = frozenset(
    {
        "conn-failure",
        "empty-response",
        "junk-response",
        "response-timeout",
        "0rtt-rejected",
        "500",
        "502",
        "503",
        "504",
    }
)
"""What ``all-retryable-errors`` expands to: no 401/403/404/408/425/501, which
say something about the request rather than about the server."""

HASH_ALGORITHMS: frozenset[str] = frozenset(
    {"source", "uri", "url_param", "hdr", "rdp-cookie", "hash"}
)
"""`balance` keywords of HAProxy's ``BE_LB_KIND_HI``: the same request maps to
the same server, so re-picking after a failure would usually find it again."""

DEFAULT_BUFSIZE = 16384
"""HAProxy's default ``tune.bufsize``: a request must fit in one buffer to be replayed."""

DEFAULT_RETRY_ON: frozenset[str] = frozenset({"conn-failure"})
"""`retry-on` when a backend does not say: connection failures only."""
_STATUS_WORDS = frozenset(str(status) for status in RETRY_STATUSES)


class StreamPolicyError(BalancekitError, RuntimeError):
    """An event that the current state does not accept (h11's LocalProtocolError):
    the engine fed the policy something out of order, a bug in the engine."""


def parse_retry_on(words: Sequence[str]) -> frozenset[str]:
    """The `retry-on` line's words as a set of event keywords.

    Like HAProxy, the line replaces any earlier one (it is not cumulative),
    ``none`` must stand alone and yields the empty set, and
    ``all-retryable-errors`` expands in place.  Raises `ValueError` naming the
    bad word, so a config loader can report it at its line.
    """
    if not words:
        raise ValueError("retry-on: needs at least one keyword to specify when to retry")
    if "none" in words:
        if len(words) != 1:
            raise ValueError("retry-on: 'none' is only usable alone")
        return frozenset()
    found: set[str] = set()
    for word in words:
        if word == "all-retryable-errors":
            found |= ALL_RETRYABLE_ERRORS
        elif word in RETRY_ON_KEYWORDS:
            found.add(word)
        else:
            expected = ", ".join(
                ["none", "all-retryable-errors", *sorted(RETRY_ON_KEYWORDS - _STATUS_WORDS)]
            )
            statuses = " ".join(str(s) for s in RETRY_STATUSES)
            raise ValueError(
                f"retry-on: unknown keyword '{word}' (expected {expected}, or a status among "
                f"{statuses})"
            )
    return frozenset(found)


def redispatch_due(interval: int, retry: int, retries: int) -> bool:
    """Whether retry number `retry` (1 for the first) is a redispatch one.

    `interval` is HAProxy's ``redispatch_after`` as ``option redispatch
    [interval]`` sets it: 0 never (``no option redispatch``), P > 0 every P-th
    retry, N < 0 every (retries + 1 + N)-th retry, so -1 (the word without a
    value) is the last retry.  As in C, a negative modulus counts by its size; a
    zero one (N = -(retries + 1)) would crash HAProxy and means never here.
    """
    if interval > 0:
        return retry % interval == 0
    if interval < 0:
        modulus = abs(retries + 1 + interval)
        return modulus != 0 and retry % modulus == 0
    return False


def turnaround_delay(timeout_connect: float | None) -> float:
    """The turn-around pause before reconnecting to the same server, in seconds:
    ``min(1s, timeout connect)`` (``back_handle_st_cer``).  A refused server is
    probably restarting; hammering it immediately would fail the same way."""
    if timeout_connect and timeout_connect < 1.0:
        return timeout_connect
    return 1.0


def is_deterministic(algorithm: str) -> bool:
    """Whether a `balance` keyword hashes the request (HAProxy's ``BE_LB_KIND_HI``).

    Such backends keep retrying the assigned server while it is usable (unless
    the redispatch interval says otherwise): giving it up would just re-hash to
    it.  ``roundrobin``, ``static-rr``, ``random``, ``leastconn`` and ``first``
    are not deterministic."""
    return algorithm in HASH_ALGORITHMS


def is_replayable(
    *, complete: bool, size: int, bufsize: int = DEFAULT_BUFSIZE, disabled: bool = False
) -> bool:
    """Whether an HTTP request may be sent again by an L7 retry.

    HAProxy 2.6 keeps a copy of the request when it first sends it, and only if
    the whole message (headers and body, `size` bytes) has been received
    (`complete`) and fits in one buffer (`bufsize`, ``tune.bufsize``); the
    ``http-request disable-l7-retry`` action opts a request out (`disabled`).
    2.6 does not look at the method: replay safety is the operator's call
    (the `retry-on` documentation says so), not the proxy's."""
    return complete and not disabled and size <= bufsize


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A backend's `retries`, `option redispatch [interval]`, `retry-on` and
    `timeout connect`, as the policy reads them.

    `redispatch` is HAProxy's ``redispatch_after``: 0 disabled, -1 the plain
    ``option redispatch`` (the last retry), P > 0 every P-th retry, N < 0 the
    N-th retry before the last.  `retry_on` is what `parse_retry_on` returns.
    """

    retries: int = 3
    redispatch: int = 0
    retry_on: frozenset[str] = DEFAULT_RETRY_ON
    timeout_connect: float | None = None

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError(f"retries: must be 0 or more, not {self.retries}")
        unknown = self.retry_on - RETRY_ON_KEYWORDS
        if unknown:
            raise ValueError(f"retry-on: unknown keyword '{sorted(unknown)[0]}'")

    @property
    def l7(self) -> bool:
        """Whether any L7 retry is configured: anything beyond ``conn-failure``
        (HAProxy sets ``TX_L7_RETRY`` only then, and only in mode http)."""
        return bool(self.retry_on - DEFAULT_RETRY_ON)

    def retries_on_status(self, status: int) -> bool:
        return str(status) in self.retry_on


# --- events ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    """Something the engine saw.  Subclasses carry what the decision needs."""


@dataclass(frozen=True, slots=True)
class Assigned(Event):
    """The balancer chose `server` and a connection slot is free.  `direct` is
    HAProxy's ``SF_DIRECT``: persistence (a cookie, a stick table) chose it."""

    server: str
    direct: bool = False


@dataclass(frozen=True, slots=True)
class Queued(Event):
    """Every eligible server is full: the stream waits in `server`'s queue, or
    the backend's when `server` is None."""

    server: str | None = None


@dataclass(frozen=True, slots=True)
class Granted(Event):
    """The queue handed the stream `server` (the lease's ``on_granted``)."""

    server: str
    direct: bool = False


@dataclass(frozen=True, slots=True)
class NoServer(Event):
    """The balancer found no usable server (`NoServerAvailable`)."""


@dataclass(frozen=True, slots=True)
class QueueTimeout(Event):
    """``timeout queue`` expired while waiting."""


@dataclass(frozen=True, slots=True)
class ConnectOk(Event):
    """The server connection is established (or an idle one was taken)."""


@dataclass(frozen=True, slots=True)
class ConnectFailed(Event):
    """A connect attempt failed.

    `kind` is ``"error"`` (refused, reset, unreachable: HAProxy's asynchronous
    ``SE_FL_ERROR``, which earns a turn-around pause) or ``"timeout"``
    (``timeout connect``, retried at once).  `server_usable` is whether the
    server is still up and not in maintenance (``cur_state >= SRV_ST_RUNNING``:
    ``Backend.member(name).usable``); `active_servers` is HAProxy's
    ``srv_act``, the usable non-backup servers; `reused` is whether the attempt
    was a reused idle connection (no pause then)."""

    kind: Literal["error", "timeout"]
    server_usable: bool = True
    active_servers: int = 1
    reused: bool = False


@dataclass(frozen=True, slots=True)
class PauseElapsed(Event):
    """The turn-around pause is over."""


@dataclass(frozen=True, slots=True)
class ResponseEvent(Event):
    """What a response (or its absence) tells, for an L7 retry's redispatch
    choice: whether the server is still usable and how many active servers are
    up (HAProxy's ``srv_act``), as in `ConnectFailed`."""

    server_usable: bool = field(default=True, kw_only=True)
    active_servers: int = field(default=1, kw_only=True)


@dataclass(frozen=True, slots=True)
class Response(ResponseEvent):
    """The server's response head arrived with `status` (mode http)."""

    status: int


@dataclass(frozen=True, slots=True)
class EmptyResponse(ResponseEvent):
    """The server closed after (part of) the request and sent nothing."""


@dataclass(frozen=True, slots=True)
class JunkResponse(ResponseEvent):
    """The server sent something that is not a valid HTTP response head."""


@dataclass(frozen=True, slots=True)
class ResponseTimeout(ResponseEvent):
    """``timeout server`` struck before the response head, nothing forwarded yet."""


@dataclass(frozen=True, slots=True)
class ClientAbort(Event):
    """The client went away before the server connection was established."""


@dataclass(frozen=True, slots=True)
class Closed(Event):
    """The exchange is over (TCP: both sides closed; HTTP: response forwarded)."""


# --- decisions ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Count:
    """Counter increments a decision carries, identical for both engines: add
    every field on the backend; add `wretr` and `wredis` on `server` too, and
    `econ` on `econ_server`, when they are set.  (They differ after a redispatch
    that finds no server: the redispatch counts on the old server, the failed
    connection on the backend only, as in ``srv_redispatch_connect``.)"""

    server: str | None = None
    wretr: int = 0
    wredis: int = 0
    econ: int = 0
    econ_server: str | None = None

    def __bool__(self) -> bool:
        return bool(self.wretr or self.wredis or self.econ)


_NO_COUNT = Count()


@dataclass(frozen=True, slots=True)
class Decision:
    """What the engine must do next; `count` says which counters to bump first."""

    count: Count = field(default=_NO_COUNT, kw_only=True)


@dataclass(frozen=True, slots=True)
class Pick(Decision):
    """Ask the balancer for a server (``Backend.acquire``), stepping over `avoid`
    if another one is usable, then feed `Assigned`, `Queued` or `NoServer`."""

    avoid: str | None = None


@dataclass(frozen=True, slots=True)
class AwaitGrant(Decision):
    """Wait in the queue (with ``timeout queue``), then feed `Granted` or `QueueTimeout`."""


@dataclass(frozen=True, slots=True)
class Connect(Decision):
    """Connect to `server` (``timeout connect``), then feed `ConnectOk` or
    `ConnectFailed`.  `same_server` is True for a retry that kept its server."""

    server: str
    same_server: bool = False


@dataclass(frozen=True, slots=True)
class Retry(Decision):
    """An attempt failed and will be retried.

    Release nothing yet if not `redispatch` (the lease is kept); otherwise release
    the lease.  Wait `after` seconds when it is positive and feed `PauseElapsed`;
    when it is 0 the policy has already moved on and `next` is the decision to
    carry out at once (a `Connect` to the same server or a `Pick`)."""

    after: float
    redispatch: bool
    server: str
    next: Decision | None = None


@dataclass(frozen=True, slots=True)
class Forward(Decision):
    """Connected: send the request / relay the bytes."""

    server: str


@dataclass(frozen=True, slots=True)
class Deliver(Decision):
    """Give the client the server's response as it is (HTTP)."""

    status: int


@dataclass(frozen=True, slots=True)
class GiveUp(Decision):
    """Stop trying: answer `status` (None: the client left, send nothing) and log
    `termination`, HAProxy's two termination-state letters (``SC``, ``sQ``…)."""

    status: int | None
    termination: str


@dataclass(frozen=True, slots=True)
class Finished(Decision):
    """Nothing left to do."""


# --- the state machine -------------------------------------------------------


class State(Enum):
    """The back side's states, after HAProxy's ``SC_ST_*`` (REQ, QUE, CON, TAR, EST, CLO)."""

    PICK = "pick"  # SC_ST_REQ: a server must be chosen
    QUEUED = "queued"  # SC_ST_QUE
    CONNECTING = "connecting"  # SC_ST_ASS/SC_ST_CON: a server is assigned, connect to it
    TURNAROUND = "turnaround"  # SC_ST_TAR: the pause before retrying
    ESTABLISHED = "established"  # SC_ST_EST: request/response or relay
    DONE = "done"
    FAILED = "failed"  # SC_ST_CLO after an error


_S = State
TRANSITIONS: dict[tuple[State, type[Event]], frozenset[State]] = {
    (_S.PICK, Assigned): frozenset({_S.CONNECTING}),
    (_S.PICK, Queued): frozenset({_S.QUEUED}),
    (_S.PICK, NoServer): frozenset({_S.FAILED}),
    (_S.PICK, ClientAbort): frozenset({_S.FAILED}),
    (_S.QUEUED, Granted): frozenset({_S.CONNECTING}),
    (_S.QUEUED, QueueTimeout): frozenset({_S.FAILED}),
    (_S.QUEUED, ClientAbort): frozenset({_S.FAILED}),
    (_S.CONNECTING, ConnectOk): frozenset({_S.ESTABLISHED}),
    (_S.CONNECTING, ConnectFailed): frozenset({_S.CONNECTING, _S.PICK, _S.TURNAROUND, _S.FAILED}),
    (_S.CONNECTING, ClientAbort): frozenset({_S.FAILED}),
    (_S.TURNAROUND, PauseElapsed): frozenset({_S.CONNECTING, _S.PICK}),
    (_S.TURNAROUND, ClientAbort): frozenset({_S.FAILED}),
    (_S.ESTABLISHED, Response): frozenset({_S.ESTABLISHED, _S.CONNECTING, _S.PICK}),
    (_S.ESTABLISHED, EmptyResponse): frozenset({_S.CONNECTING, _S.PICK, _S.FAILED}),
    (_S.ESTABLISHED, JunkResponse): frozenset({_S.CONNECTING, _S.PICK, _S.FAILED}),
    (_S.ESTABLISHED, ResponseTimeout): frozenset({_S.CONNECTING, _S.PICK, _S.FAILED}),
    (_S.ESTABLISHED, Closed): frozenset({_S.DONE}),
}
"""Every legal (state, event type) and the states it may lead to; the guards in
`StreamPolicy` choose among them.  A pair missing here raises `StreamPolicyError`.
A `Response` the policy accepts leaves the stream ESTABLISHED (the body is still
to forward); `Closed` then ends it."""
del _S


class StreamPolicy:
    """The retry/redispatch decisions of one client stream (one HTTP request).

    `policy` is the backend's `RetryPolicy`; `deterministic` whether its
    algorithm hashes the request (`is_deterministic`); `replayable` whether the
    request may be replayed for L7 retries (`is_replayable`; always False in
    mode tcp); `force_persist` HAProxy's ``SF_FORCE_PRST`` (a ``force-persist``
    rule matched), which forbids redispatching.

    The stream starts in PICK; `start()` returns the first `Pick`.
    """

    __slots__ = (
        "_previous",
        "deterministic",
        "direct",
        "force_persist",
        "policy",
        "redispatched",
        "replayable",
        "retries",
        "server",
        "state",
    )

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        deterministic: bool = False,
        replayable: bool = False,
        force_persist: bool = False,
    ) -> None:
        self.policy = policy
        self.deterministic = deterministic
        self.replayable = replayable and policy.l7
        self.force_persist = force_persist
        self.state = State.PICK
        #: HAProxy's ``conn_retries``: retries made so far (0 on the first attempt).
        self.retries = 0
        #: ``SF_REDISP``: the stream ended up on another server than first assigned.
        self.redispatched = False
        #: The assigned server, or None before the first assignment.
        self.server: str | None = None
        #: ``SF_DIRECT``: persistence chose the current server.
        self.direct = False
        # The server given up by a redispatch, until the next assignment counts it.
        self._previous: str | None = None

    def __repr__(self) -> str:
        return (
            f"<StreamPolicy {self.state.name} tries_left={self.tries_left} "
            f"server={self.server} retries={self.retries}"
            f"{' redispatched' if self.redispatched else ''}>"
        )

    @property
    def tries_left(self) -> int:
        """Retries still allowed (connection or L7) after the current attempt."""
        return self.policy.retries - self.retries

    @property
    def finished(self) -> bool:
        return self.state in (State.DONE, State.FAILED)

    def start(self) -> Decision:
        """The first decision: choose a server."""
        if self.state is not State.PICK or self.server is not None:
            raise StreamPolicyError(f"start() on a stream already in {self.state.name}")
        return Pick()

    def handle(self, event: Event) -> Decision:
        """Feed `event`; return what to do next.  Raises `StreamPolicyError` if the
        current state does not accept it."""
        key = (self.state, type(event))
        targets = TRANSITIONS.get(key)
        if targets is None:
            raise StreamPolicyError(
                f"{type(event).__name__} is not accepted in state {self.state.name}"
            )
        decision = self._dispatch(event)
        assert self.state in targets, (key, self.state)
        return decision

    # -- the handlers ---------------------------------------------------------

    def _dispatch(self, event: Event) -> Decision:
        if isinstance(event, Assigned | Granted):
            count = self._assigned(event.server, event.direct)
            self.state = State.CONNECTING
            return Connect(event.server, count=count)
        if isinstance(event, Queued):
            count = self._assigned(event.server, False)
            self.state = State.QUEUED
            return AwaitGrant(count=count)
        if isinstance(event, NoServer):
            count = self._assigned(None, False)
            self.state = State.FAILED
            return GiveUp(503, "SC", count=replace(count, econ=1))
        if isinstance(event, QueueTimeout):
            self.state = State.FAILED
            return GiveUp(503, "sQ", count=Count(econ=1, econ_server=self.server))
        if isinstance(event, ClientAbort):
            return self._client_abort()
        if isinstance(event, ConnectOk):
            self.state = State.ESTABLISHED
            assert self.server is not None
            return Forward(self.server)
        if isinstance(event, ConnectFailed):
            return self._connect_failed(event)
        if isinstance(event, PauseElapsed):
            return self._resume()
        if isinstance(event, Response):
            if self.policy.retries_on_status(event.status):
                retry = self._l7_retry(event)
                if retry is not None:
                    return retry
            return Deliver(event.status)
        if isinstance(event, EmptyResponse):
            return self._l7_failure(event, "empty-response", 502, "SH")
        if isinstance(event, JunkResponse):
            return self._l7_failure(event, "junk-response", 502, "PH")
        if isinstance(event, ResponseTimeout):
            return self._l7_failure(event, "response-timeout", 504, "sH")
        assert isinstance(event, Closed)
        self.state = State.DONE
        return Finished()

    def _assigned(self, server: str | None, direct: bool) -> Count:
        """``assign_server_and_queue``: the first assignment after a redispatch
        counts a redispatch if the server changed, else a retry, on the old one."""
        previous, self._previous = self._previous, None
        if server is not None:
            self.direct = direct
        count = _NO_COUNT
        if previous is not None:
            if server != previous:
                self.redispatched = True
                count = Count(previous, wredis=1)
            else:
                count = Count(previous, wretr=1)
        self.server = server
        return count

    def _client_abort(self) -> Decision:
        letter = "Q" if self.state is State.QUEUED else "C"
        self.state = State.FAILED
        return GiveUp(None, "C" + letter)

    def _choose_redispatch(self, server_usable: bool, active_servers: int) -> bool:
        """``stream_choose_redispatch``'s condition (2.6 maintenance branch)."""
        policy = self.policy
        if not policy.redispatch or self.force_persist:
            return False
        return (
            not server_usable
            or redispatch_due(policy.redispatch, self.retries, policy.retries)
            or (not self.direct and active_servers > 1 and not self.deterministic)
        )

    def _connect_failed(self, event: ConnectFailed) -> Decision:
        server = self.server
        assert server is not None
        termination = "SC" if event.kind == "error" else "sC"
        # back_handle_st_cer: give up before counting when the budget is spent.
        if self.retries >= self.policy.retries or "conn-failure" not in self.policy.retry_on:
            self.state = State.FAILED
            return GiveUp(503, termination, count=Count(econ=1, econ_server=server))
        self.retries += 1
        redispatch = self._choose_redispatch(event.server_usable, event.active_servers)
        count = _NO_COUNT
        if redispatch:
            self._unassign()
        else:
            count = Count(server, wretr=1)
        pause = (
            event.kind == "error"
            and not event.reused
            and (not redispatch or event.active_servers <= 1)
        )
        if pause:
            self.state = State.TURNAROUND
            delay = turnaround_delay(self.policy.timeout_connect)
            return Retry(delay, redispatch, server, count=count)
        return Retry(0.0, redispatch, server, self._resume(), count=count)

    def _unassign(self) -> None:
        assert self.server is not None
        self._previous = self.server
        self.direct = False

    def _resume(self) -> Decision:
        """Leave the turn-around (or skip it): same server while still assigned."""
        if self._previous is None:
            assert self.server is not None
            self.state = State.CONNECTING
            return Connect(self.server, same_server=True)
        self.state = State.PICK
        return Pick(avoid=self._previous)

    def _l7_retry(self, event: ResponseEvent) -> Retry | None:
        """``do_l7_retry``: None when the request cannot be replayed or the budget
        is spent; else count the retry and re-run the redispatch choice."""
        if not self.replayable or self.retries >= self.policy.retries:
            return None
        server = self.server
        assert server is not None
        self.retries += 1
        wretr = 1  # do_l7_retry counts one on its own
        redispatch = self._choose_redispatch(event.server_usable, event.active_servers)
        if redispatch:
            self._unassign()
        else:
            wretr += 1  # stream_choose_redispatch's own count
        return Retry(0.0, redispatch, server, self._resume(), count=Count(server, wretr=wretr))

    def _l7_failure(
        self, event: ResponseEvent, keyword: str, status: int, termination: str
    ) -> Decision:
        if keyword in self.policy.retry_on:
            retry = self._l7_retry(event)
            if retry is not None:
                return retry
        self.state = State.FAILED
        return GiveUp(status, termination)
