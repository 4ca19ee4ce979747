"""Server health as HAProxy keeps it: one counter, a table of steps, and the log text.

Sans-IO: nothing here opens a socket or reads a clock.  The check driver
(`balancekit_server.ops.checks`) runs a probe, turns its outcome into a
`CheckResult`, feeds it to `ServerHealth.record(result, now)` and applies any
returned `Transition` to the pool with `Backend.set_health`.

HAProxy's model (src/check.c, src/server.c), which this module follows:

* One integer `health` per server in ``0 .. rise + fall - 1`` (the "top").
  The server is UP while ``health >= rise`` and DOWN once it reaches 0; in
  between it keeps its previous state (hysteresis).
* A failed check decrements; if that leaves the counter below `rise`, it drops
  straight to 0 (so an UP server goes DOWN after `fall` failures from the top).
* A passed check increments; reaching `rise` jumps straight to the top (so one
  failure after recovery does not undo it).
* Servers start UP with ``health = rise``: a server that is dead at startup is
  marked DOWN by its very first failed check, exactly as HAProxy does.
* The next check runs after `inter` at the top, `downinter` when fully DOWN,
  and `fastinter` in the transitional zones (each falls back to `inter`).

Passive checks (`observe layer4|layer7`) count consecutive errors seen on real
traffic; at `error-limit` the `on-error` action fires (fastinter, fail-check,
sudden-death, mark-down).  Slow start is a ramp computed from `now`.

Extension beyond HAProxy: `panic_mode`, an Envoy-style panic threshold (see
docs/health.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Literal

from .server import Server

__all__ = [
    "CheckResult",
    "CheckStatus",
    "HealthSettings",
    "Observation",
    "ObserveOutcome",
    "ServerHealth",
    "Transition",
    "Zone",
    "format_check_report",
    "format_drain",
    "format_drain_remains",
    "format_leave_drain",
    "format_leave_maint",
    "format_maint",
    "format_state_change",
    "panic_mode",
    "spread_interval",
    "zone_of",
]

Result = Literal["failed", "passed", "condpass", "neutral"]


class CheckStatus(Enum):
    """A check's outcome, HAProxy's HCHK_STATUS_*: (short info, description, result)."""

    UNK = ("UNK", "Unknown", "neutral")
    INI = ("INI", "Initializing", "neutral")
    #: An agent's reply without a health word: recorded, changes nothing.
    CHECKED = ("CHECKED", "No status change", "neutral")
    HANA = ("HANA", "Health analyze", "failed")
    SOCKERR = ("SOCKERR", "Socket error", "failed")
    L4OK = ("L4OK", "Layer4 check passed", "passed")
    L4TOUT = ("L4TOUT", "Layer4 timeout", "failed")
    L4CON = ("L4CON", "Layer4 connection problem", "failed")
    L6OK = ("L6OK", "Layer6 check passed", "passed")
    L6TOUT = ("L6TOUT", "Layer6 timeout", "failed")
    L6RSP = ("L6RSP", "Layer6 invalid response", "failed")
    L7TOUT = ("L7TOUT", "Layer7 timeout", "failed")
    L7RSP = ("L7RSP", "Layer7 invalid response", "failed")
    L7OK = ("L7OK", "Layer7 check passed", "passed")
    L7OKC = ("L7OKC", "Layer7 check conditionally passed", "condpass")
    L7STS = ("L7STS", "Layer7 wrong status", "failed")
    PROCERR = ("PROCERR", "External check error", "failed")
    PROCTOUT = ("PROCTOUT", "External check timeout", "failed")
    PROCOK = ("PROCOK", "External check passed", "passed")

    @property
    def info(self) -> str:
        """The short word `show stat` prints in `check_status`."""
        return self.value[0]

    @property
    def description(self) -> str:
        """The long text that follows `reason:` in log lines."""
        return self.value[1]

    @property
    def result(self) -> Result:
        return self.value[2]

    @property
    def has_code(self) -> bool:
        """Layer-7 data statuses carry a response code (`code: 500` in the log)."""
        return self in _WITH_CODE


_WITH_CODE = frozenset(
    {
        CheckStatus.L7OK,
        CheckStatus.L7OKC,
        CheckStatus.L7STS,
        CheckStatus.PROCERR,
        CheckStatus.PROCTOUT,
        CheckStatus.PROCOK,
    }
)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one probe found.  `duration_ms` is None for results with no probe (HANA)."""

    status: CheckStatus
    code: int | None = None
    info: str = ""
    duration_ms: int | None = 0

    @property
    def passed(self) -> bool:
        return self.status.result in ("passed", "condpass")


class Observation(Enum):
    """What real traffic showed (HAProxy's HANA_STATUS_*): description and meaning per mode.

    The pair is (layer4, layer7): "err" counts toward `error-limit`, "ok" resets
    the consecutive-error count, "" is ignored in that mode.
    """

    L4_OK = ("L4 successful connection", "ok", "")
    L4_ERR = ("L4 unsuccessful connection", "err", "err")
    HTTP_OK = ("Correct http response", "", "ok")
    HTTP_STS = ("Wrong http response", "", "err")
    HTTP_HDRRSP = ("Invalid http response (headers)", "", "err")
    HTTP_RSP = ("Invalid http response", "", "err")
    HTTP_READ_ERROR = ("Read error (http)", "", "err")
    HTTP_READ_TIMEOUT = ("Read timeout (http)", "", "err")
    HTTP_BROKEN_PIPE = ("Close from server (http)", "", "err")

    @property
    def description(self) -> str:
        return self.value[0]

    def meaning(self, mode: str) -> str:
        return self.value[1] if mode == "layer4" else self.value[2]

    @classmethod
    def for_status(cls, status: int) -> Observation:
        """HTTP status to observation: 100-499, 501 and 505 are the server's fault-free answers."""
        if status >= 100 and (status < 500 or status in (501, 505)):
            return cls.HTTP_OK
        return cls.HTTP_STS


@dataclass(frozen=True, slots=True)
class HealthSettings:
    """The check-related keywords of one `server` line (times in seconds)."""

    rise: int = 2
    fall: int = 3
    inter: float = 2.0
    fastinter: float | None = None
    downinter: float | None = None
    slowstart: float = 0.0
    observe: str | None = None
    error_limit: int = 10
    on_error: str = "fail-check"

    def __post_init__(self) -> None:
        if self.rise < 1 or self.fall < 1:
            raise ValueError("rise and fall must be >= 1")
        if self.inter <= 0:
            raise ValueError(f"inter {self.inter} must be > 0")
        if self.observe not in (None, "layer4", "layer7"):
            raise ValueError(f"observe '{self.observe}' is not layer4 or layer7")
        if self.on_error not in ("fastinter", "fail-check", "sudden-death", "mark-down"):
            raise ValueError(f"on-error '{self.on_error}' is not a known action")
        if self.error_limit < 1:
            raise ValueError(f"error-limit {self.error_limit} must be >= 1")

    @classmethod
    def from_server(cls, server: Server) -> HealthSettings:
        return cls(
            rise=server.rise,
            fall=server.fall,
            inter=server.inter,
            fastinter=server.fastinter,
            downinter=server.downinter,
            slowstart=server.slowstart,
            observe=server.observe,
            error_limit=server.error_limit,
            on_error=server.on_error,
        )

    @property
    def top(self) -> int:
        return self.rise + self.fall - 1


class Zone(Enum):
    """Where the counter sits; the step table is keyed by (zone, outcome)."""

    TOP = "top"  # health == rise + fall - 1: fully UP
    FALLING = "falling"  # rise <= health < top: UP, failures seen
    ZERO = "zero"  # health == 0: fully DOWN
    RISING = "rising"  # 0 < health < rise: DOWN, successes seen


class _Step(Enum):
    KEEP = "keep"
    DECREMENT = "decrement"  # health - 1, and to 0 if that is below rise
    INCREMENT = "increment"  # health + 1, and to the top if that reaches rise
    TO_TOP = "to-top"
    TO_ZERO = "to-zero"


_STEPS: dict[tuple[Zone, bool], _Step] = {
    (Zone.TOP, True): _Step.KEEP,
    (Zone.TOP, False): _Step.DECREMENT,
    (Zone.FALLING, True): _Step.TO_TOP,
    (Zone.FALLING, False): _Step.DECREMENT,
    (Zone.ZERO, True): _Step.INCREMENT,
    (Zone.ZERO, False): _Step.KEEP,
    (Zone.RISING, True): _Step.INCREMENT,
    (Zone.RISING, False): _Step.TO_ZERO,
}
"""The whole counter machine (HAProxy's set_server_check_status).  Every key exists."""


def zone_of(health: int, settings: HealthSettings) -> Zone:
    if health >= settings.top:
        return Zone.TOP
    if health >= settings.rise:
        return Zone.FALLING
    if health == 0:
        return Zone.ZERO
    return Zone.RISING


def _apply(step: _Step, health: int, settings: HealthSettings) -> int:
    if step is _Step.KEEP:
        return health
    if step is _Step.TO_TOP:
        return settings.top
    if step is _Step.TO_ZERO:
        return 0
    if step is _Step.DECREMENT:
        health -= 1
        return 0 if health < settings.rise else health
    health += 1
    return settings.top if health >= settings.rise else health


@dataclass(frozen=True, slots=True)
class Transition:
    """The operational state changed.  `result` is the check that caused it (None if
    forced); `stopping` marks the move to HAProxy's NOLB state (up, no new picks)."""

    up: bool
    result: CheckResult | None
    at: float
    stopping: bool = False


@dataclass(frozen=True, slots=True)
class ObserveOutcome:
    """What a traffic observation did: maybe a transition, maybe "check again soon"."""

    transition: Transition | None = None
    fired: bool = False  # error-limit reached and the on-error action ran
    check_at: float | None = None  # run the next check no later than this (fastinter)


class ServerHealth:
    """One server's health state: the counter, the UP/DOWN flag, slow start, observe.

    `checked=False` models a server without `check`: always UP, no counter.
    """

    def __init__(self, settings: HealthSettings, *, now: float, checked: bool = True) -> None:
        self.settings = settings
        self.checked = checked
        self.health = settings.rise
        self.up = True
        #: HAProxy's SRV_ST_STOPPING ("NOLB"): up, but balanced no new traffic.
        self.stopping = False
        self.maint = False
        self.last_change = now
        self.last_result: CheckResult | None = None
        self.starting = False  # in slow start
        self.consecutive_errors = 0
        self.failed_checks = 0  # show stat chkfail
        self.down_transitions = 0  # show stat chkdown
        self.hana_failures = 0  # show stat hanafail
        #: `agent-check`: the agent's own counter (rise = fall = 1, so up or down);
        #: a server its agent calls down stays DOWN whatever its checks say.
        self.agent_up = True
        self.agent_result: CheckResult | None = None
        #: `disable agent` clears it: the agent is neither asked nor heard.
        self.agent_enabled = True

    # -- active checks --------------------------------------------------------

    def record(self, result: CheckResult, now: float) -> Transition | None:
        """Feed one check result; return the state change it caused, if any."""
        if self.maint or result.status.result == "neutral":
            self.last_result = result
            return None
        if result.status.result == "condpass":
            # set_server_check_status counts it as a pass, then check_notify_stopping
            # puts an up server in NOLB.
            self.health = _apply(
                _STEPS[(zone_of(self.health, self.settings), True)], self.health, self.settings
            )
            self.last_result = result
            if self.health < self.settings.rise or self.stopping or not self.up:
                return None
            self.stopping = True
            self.starting = False
            self.last_change = now
            return Transition(True, result, now, stopping=True)
        passed = result.passed
        if not passed and self.health > 0:
            self.failed_checks += 1
        if passed and self.settings.observe:
            self.consecutive_errors = 0
        self.health = _apply(
            _STEPS[(zone_of(self.health, self.settings), passed)], self.health, self.settings
        )
        self.last_result = result
        return self._settle(result, now)

    def _settle(
        self, result: CheckResult | None, now: float, *, forced: bool = False
    ) -> Transition | None:
        if self.up and self.health == 0:
            return self._set(False, result, now)
        # check_notify_success: a passing check brings the server up only if its
        # agent agrees (the CLI's `health up` forces it regardless).
        agent_ok = self.agent_up or not self.agent_enabled
        if not self.up and self.health >= self.settings.rise and (agent_ok or forced):
            return self._set(True, result, now)
        passed = result is None or result.passed
        if self.stopping and passed and self.health >= self.settings.rise:
            # check_notify_success: a passing check (or `health up`) ends NOLB.
            return self._set(True, result, now)
        return None

    def _set(self, up: bool, result: CheckResult | None, now: float) -> Transition:
        self.up = up
        self.stopping = False
        self.last_change = now
        if up:
            self.starting = self.settings.slowstart > 0
        else:
            self.starting = False
            self.down_transitions += 1
        return Transition(up, result, now)

    def next_interval(self) -> float:
        """Seconds until the next check (HAProxy's srv_getinter)."""
        s = self.settings
        if self.health >= s.top:
            return s.inter
        if not self.up and self.health == 0:
            return s.downinter or s.inter
        return s.fastinter or s.inter

    # -- runtime API / admin --------------------------------------------------

    def force(self, up: bool, now: float) -> Transition | None:
        """`set server B/S health up|down`: counter to the top or to 0."""
        self.health = self.settings.top if up else 0
        if self.maint:
            return None
        return self._settle(None, now, forced=True)

    def force_agent(self, up: bool, now: float) -> Transition | None:
        """`set server B/S agent up|down`: the agent's counter, and the server
        started or stopped at once (srv_set_running/srv_set_stopped), checks aside."""
        self.agent_up = up
        if self.maint:
            return None
        if up and (not self.up or self.stopping):
            return self._set(True, None, now)
        if not up and self.up:
            return self._set(False, None, now)
        return None

    def agent_says(self, result: CheckResult, up: bool | None, now: float) -> Transition | None:
        """An agent check's outcome (HAProxy's agent counter, rise = fall = 1).

        `up` is the reply's health word (None: none, or no reply at all: an
        agent that cannot be reached changes nothing).  `down`, `stopped` and
        `fail` stop the server at once; `up` starts it only when its regular
        check also passes, and never ends NOLB (only health checks do)."""
        if not self.agent_enabled:  # disabled while it ran: ignored, as HAProxy
            return None
        self.agent_result = result
        if up is None:
            return None
        self.agent_up = up
        if self.maint:
            return None
        if not up:
            return self._set(False, result, now) if self.up else None
        if self.up or (self.checked and self.health < self.settings.rise):
            return None
        return self._set(True, result, now)

    def force_stopping(self, now: float) -> Transition | None:
        """`set server B/S health stopping` or the stats page's "force NOLB"
        (srv_set_stopping): counter to the top, up but taking no new picks until a
        check passes or the state is forced again; nothing in maintenance."""
        self.health = self.settings.top
        if self.maint or self.stopping:
            return None
        self.up = True
        self.stopping = True
        self.starting = False
        self.last_change = now
        return Transition(True, None, now, stopping=True)

    def enter_maint(self, now: float) -> None:
        """Maintenance pauses checks and resets the counter to 0 (HAProxy does the same)."""
        self.maint = True
        self.health = 0
        self.starting = False
        self.stopping = False
        if self.up:
            self.up = False
            self.last_change = now
            self.down_transitions += 1

    def leave_maint(self, now: float) -> None:
        """Back from maintenance: UP at ``health = rise`` (one failure puts it DOWN), ramping."""
        self.maint = False
        if self.checked:
            self.health = self.settings.rise
        if not self.up and (self.agent_up or not self.agent_enabled):
            self._set(True, None, now)

    # -- slow start -----------------------------------------------------------

    def ramp(self, now: float) -> float:
        """Fraction (0, 1] of its weight the server runs at (slowstart after going UP)."""
        if not self.starting:
            return 1.0
        elapsed = now - self.last_change
        if elapsed < 0 or elapsed >= self.settings.slowstart:
            self.starting = False
            return 1.0
        return max(elapsed / self.settings.slowstart, 1e-6)

    def ramp_step(self) -> float:
        """How often to recompute the ramp: max(1 s, slowstart / 20), as HAProxy's warmup task."""
        return max(1.0, self.settings.slowstart / 20)

    # -- passive checks -------------------------------------------------------

    def observe(self, event: Observation, now: float) -> ObserveOutcome:
        """Account one traffic outcome under `observe`; run `on-error` at `error-limit`."""
        mode = self.settings.observe
        if mode is None or self.maint:
            return ObserveOutcome()
        meaning = event.meaning(mode)
        if meaning == "ok":
            self.consecutive_errors = 0
            return ObserveOutcome()
        if meaning != "err":
            return ObserveOutcome()
        self.consecutive_errors += 1
        if self.consecutive_errors < self.settings.error_limit:
            return ObserveOutcome()
        info = (
            f"Detected {self.consecutive_errors} consecutive errors, "
            f"last one was: {event.description}"
        )
        hana = CheckResult(CheckStatus.HANA, info=info, duration_ms=None)
        transition: Transition | None = None
        action = self.settings.on_error
        if action != "fastinter":
            if action == "sudden-death" and self.health > self.settings.rise:
                self.health = self.settings.rise + 1
            elif action == "mark-down":
                self.health = self.settings.rise
            transition = self.record(hana, now)
        self.consecutive_errors = 0
        self.hana_failures += 1
        fast = self.settings.fastinter
        return ObserveOutcome(transition, True, now + fast if fast else None)

    # -- display --------------------------------------------------------------

    @property
    def status_text(self) -> str:
        """`show stat` status for a checked, non-maint server ("UP", "UP 1/3", "NOLB",
        "DOWN 1/2")."""
        s = self.settings
        if self.up:
            word = "NOLB" if self.stopping else "UP"
            if self.health >= s.top or not self.checked:
                return word
            return f"{word} {self.health - s.rise + 1}/{s.fall}"
        if self.health == 0:
            return "DOWN"
        return f"DOWN {self.health}/{s.rise}"

    @property
    def check_health(self) -> int:
        return self.health

    def __repr__(self) -> str:
        state = "MAINT" if self.maint else self.status_text
        return f"<ServerHealth {state} health={self.health}/{self.settings.top}>"


def spread_interval(interval: float, percent: int, draw: float) -> float:
    """HAProxy's `spread-checks <percent>`: the next check comes `interval` plus or
    minus up to `percent`% later, so checks of many servers drift apart; `draw` is
    a uniform random number in [0, 1] (check.c, in whole milliseconds)."""
    if percent <= 0:
        return interval
    ms = int(interval * 1000)
    spread = ms * percent // 100
    spread -= int(2 * spread * draw)
    return (ms + spread) / 1000


def panic_mode(up: int, total: int, threshold_pct: float) -> bool:
    """Envoy-style panic (extension): fewer than `threshold_pct`% of servers are up.

    In panic the pool should balance over every server, healthy or not, rather
    than pile the whole load onto the few survivors.  0 disables it.
    """
    return threshold_pct > 0 and total > 0 and up * 100 < threshold_pct * total


# -- log text -----------------------------------------------------------------


def _quote(text: str) -> str:
    """HAProxy's chunk_asciiencode: non-printables, '<', '>' and '"' become <HH>."""
    out = []
    for ch in text:
        code = ord(ch)
        if code < 32 or code > 126 or ch in '<>"':
            out.append(f"<{code & 0xFF:02X}>")
        else:
            out.append(ch)
    return "".join(out)


def _reason(result: CheckResult | None, why: str = "") -> str:
    if result is None:
        return f", {why}" if why else ""
    parts = [f", reason: {result.status.description}"]
    if result.status.has_code and result.code is not None:
        parts.append(f", code: {result.code}")
    if result.info:
        parts.append(f', info: "{_quote(result.info)}"')
    if result.duration_ms is not None and result.duration_ms >= 0:
        parts.append(f", check duration: {result.duration_ms}ms")
    return "".join(parts)


def _who(backend: str, server: str, backup: bool) -> str:
    return f"{'Backup ' if backup else ''}Server {backend}/{server}"


def _left(active: int, backup: int, sessions: int, requeued: int, queued: int) -> str:
    running = " Running on backup." if backup and not active else ""
    return (
        f". {active} active and {backup} backup servers left.{running}"
        f" {sessions} sessions active, {requeued} requeued, {queued} remaining in queue."
    )


def _online(active: int, backup: int, requeued: int, queued: int) -> str:
    running = " Running on backup." if backup and not active else ""
    return (
        f". {active} active and {backup} backup servers online.{running}"
        f" {requeued} sessions requeued, {queued} total in queue."
    )


def format_state_change(
    backend: str,
    server: str,
    *,
    backup: bool,
    up: bool,
    result: CheckResult | None,
    active: int,
    backups: int,
    sessions: int = 0,
    requeued: int = 0,
    queued: int = 0,
    why: str = "",
    stopping: bool = False,
) -> str:
    """The line HAProxy logs when a server goes UP, DOWN or into NOLB (`stopping`)
    (srv_update_status).

    `active`/`backups` count servers still usable after the change; `why` is the
    free-text reason used when no check caused it ("changed from CLI").
    """
    state = "stopping" if stopping else "UP" if up else "DOWN"
    head = f"{_who(backend, server, backup)} is {state}{_reason(result, why)}"
    if up:
        return head + _online(active, backups, requeued, queued)
    return head + _left(active, backups, sessions, requeued, queued)


def format_maint(
    backend: str,
    server: str,
    *,
    backup: bool,
    was_down: bool,
    active: int,
    backups: int,
    sessions: int = 0,
    requeued: int = 0,
    queued: int = 0,
) -> str:
    """`set server … state maint` / `disable server`."""
    if was_down:
        return f"{_who(backend, server, backup)} was DOWN and now enters maintenance."
    return f"{_who(backend, server, backup)} is going DOWN for maintenance" + _left(
        active, backups, sessions, requeued, queued
    )


def format_leave_maint(backend: str, server: str, *, backup: bool, up: bool, drain: bool) -> str:
    state = f"{'UP' if up else 'DOWN'}/{'DRAIN' if drain else 'READY'}"
    return f"{_who(backend, server, backup)} is {state} (leaving forced maintenance)."


def format_leave_drain(backend: str, server: str, *, backup: bool, up: bool) -> str:
    """`set server … state ready` (or an agent's `ready`) on a drained server."""
    return f"{_who(backend, server, backup)} is {'UP' if up else 'DOWN'} (leaving forced drain)."


def format_drain(
    backend: str,
    server: str,
    *,
    backup: bool,
    active: int,
    backups: int,
    queued: int = 0,
    up: bool = True,
    sessions: int = 0,
) -> str:
    """`set server … state drain` (or an agent's `drain`); a DOWN server's line
    counts what is left, as the DOWN line does."""
    head = f"{_who(backend, server, backup)} enters drain state"
    if not up:
        return head + _left(active, backups, sessions, 0, queued)
    return head + _online(active, backups, 0, queued)


def format_drain_remains(backend: str, server: str, *, backup: bool) -> str:
    """HAProxy re-states a forced drain whenever a drained server's state is
    updated again (it goes UP or DOWN, its weight changes)."""
    return f"{_who(backend, server, backup)} remains in forced drain mode."


def format_check_report(
    backend: str, server: str, *, backup: bool, result: CheckResult, health: ServerHealth
) -> str:
    """`option log-health-checks`: one line per check that changed something."""
    verdict = "succeeded" if result.passed else "failed"
    cond = "conditionally " if result.status.result == "condpass" else ""
    s = health.settings
    if health.health >= s.rise:
        where = f"{health.health - s.rise + 1}/{s.fall} {'UP'}"
    else:
        where = f"{health.health}/{s.rise} DOWN"
    return (
        f"Health check for {'backup ' if backup else ''}server {backend}/{server} "
        f"{cond}{verdict}{_reason(result)}, status: {where}."
    )
