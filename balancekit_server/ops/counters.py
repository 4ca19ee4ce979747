"""Traffic counters the proxies increment and the stats outputs read.

One `Counters` record per frontend, backend and server, kept in a `Registry`
keyed by proxy name.  The front ends (L4 forwarder, L7 proxy) own the moments
("a session started", "the server answered 503"); this module only owns the
arithmetic, so `show stat`, the stats page and the Prometheus exporter all read
the same numbers.  Counters are per process: with `--workers N` each worker
keeps its own (see docs/runtime-api.md).

Field names are HAProxy's `show stat` column names, so the CSV writer needs no
mapping table.  Typical use from a proxy::

    fe = REGISTRY.frontend("www")
    srv = REGISTRY.server("app", "s1")
    fe.session_start(); srv.session_start()
    ...
    srv.response(status)
    srv.session_end(bin=n_in, bout=n_out); fe.session_end(bin=n_in, bout=n_out)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from balancekit.health import Observation
from balancekit.stream import Count

__all__ = ["REGISTRY", "SYNC_INTERVAL", "Counters", "Rate", "Registry"]

Kind = Literal["frontend", "backend", "server"]

SYNC_INTERVAL = 0.1
"""Seconds between the runtime's rate syncs: events are placed in their second to
within this much, which is all a 1-second window needs."""


@dataclass(slots=True)
class Rate:
    """Events in the current wall second, HAProxy's `rate` (a 1-second window).

    HAProxy's freq_ctr blends the previous second into the current one; we do
    the same so a reading just after a second boundary is not zero.

    The proxies do not call `add` per event: that arithmetic was a tenth of a
    proxied request's Python.  They bump a plain total (`stot`, `req_tot`) and
    the rate catches up with `sync`, which the runtime calls every
    `SYNC_INTERVAL` and the stats readers call before reading.
    """

    _second: int = 0
    _cur: int = 0
    _prev: int = 0
    max: int = 0
    _seen: int = 0  # the total already accounted by `sync`

    def add(self, now: float, n: int = 1) -> None:
        sec = int(now)
        if sec != self._second:
            self._prev = self._cur if sec == self._second + 1 else 0
            self._cur = 0
            self._second = sec
        cur = self._cur + n
        self._cur = cur
        current = cur + int(self._prev * (1.0 - (now - sec)))
        if current > self.max:
            self.max = current

    def sync(self, total: int, now: float) -> None:
        """Account the events a running `total` gained since the last sync, at `now`."""
        gained = total - self._seen
        self._seen = total
        if gained > 0:  # a total that went down was cleared (`clear counters all`)
            self.add(now, gained)

    def read(self, now: float) -> int:
        """Events per second: this second's count plus the unexpired part of the last one."""
        sec = int(now)
        if sec == self._second:
            cur, prev = self._cur, self._prev
        elif sec == self._second + 1:
            cur, prev = 0, self._cur
        else:
            return 0
        remaining = 1.0 - (now - sec)
        return cur + int(prev * remaining)


@dataclass(slots=True)
class Counters:
    """One proxy's or server's counters (names follow `show stat`)."""

    kind: Kind
    name: str
    scur: int = 0  # current sessions
    smax: int = 0  # max sessions seen
    stot: int = 0  # total sessions
    bin: int = 0  # bytes from clients
    bout: int = 0  # bytes to clients
    dreq: int = 0  # requests denied by rules
    dresp: int = 0  # responses denied by rules
    ereq: int = 0  # request errors (frontend)
    _econ: int = 0  # connection errors to a server (read/write `econ`)
    eresp: int = 0  # response errors (server closed, bad response)
    wretr: int = 0  # retries
    wredis: int = 0  # redispatches
    cli_abrt: int = 0  # transfers aborted by the client
    srv_abrt: int = 0  # transfers aborted by the server
    req_tot: int = 0  # HTTP requests
    hrsp_1xx: int = 0
    hrsp_2xx: int = 0
    hrsp_3xx: int = 0
    hrsp_4xx: int = 0
    hrsp_5xx: int = 0
    hrsp_other: int = 0
    lastsess: float | None = None  # wall time (time.time()) of the last session
    qmax: int = 0  # max queued seen (backend/server)
    chkfail: int = 0  # failed health checks (server)
    chkdown: int = 0  # UP->DOWN transitions (server)
    downtime: float = 0.0  # seconds spent DOWN, closed periods only (server)
    down_since: float | None = None  # wall time the current DOWN period began
    lastchg: float = field(default_factory=time.time)  # last state change (wall time)
    sess_rate: Rate = field(default_factory=Rate)
    req_rate: Rate = field(default_factory=Rate)
    #: Passive health checks (`observe layer4|layer7`): the health monitor sets this on
    #: the server records it watches, and the outcomes the proxies report here
    #: (connection established or failed, response status) reach it.
    observer: Callable[[Observation], None] | None = None

    @property
    def econ(self) -> int:
        return self._econ

    @econ.setter
    def econ(self, value: int) -> None:
        self._econ = value

    def connect_failed(self) -> None:
        """One connection attempt to this server failed.  HAProxy reports every
        attempt to `observe layer4` (`health_adjust` in back_handle_st_cer), while
        `econ` counts a stream once, when it gives up (the stream policy's count)."""
        if self.observer is not None:
            self.observer(Observation.L4_ERR)

    # -- sessions ----------------------------------------------------------------

    def session_start(self, now: float | None = None) -> None:
        """A connection (L4) or request stream (L7) began using this proxy/server."""
        scur = self.scur + 1
        self.scur = scur
        self.stot += 1
        if scur > self.smax:
            self.smax = scur
        self.lastsess = time.time() if now is None else now
        if self.observer is not None:
            self.observer(Observation.L4_OK)

    def session_end(self, bin: int = 0, bout: int = 0) -> None:
        """A session ended; `bin` and `bout` are the bytes it read from and sent to
        its client, counted at the end as HAProxy's TCP sessions count them."""
        self.bin += bin
        self.bout += bout
        if self.scur > 0:
            self.scur -= 1

    def request(self) -> None:
        """One HTTP request parsed (L7 only): feeds req_tot (and so req_rate)."""
        self.req_tot += 1

    def sync_rates(self, now: float) -> None:
        """Bring `sess_rate` and `req_rate` up to date with `stot` and `req_tot`."""
        self.sess_rate.sync(self.stot, now)
        self.req_rate.sync(self.req_tot, now)

    def response(self, status: int) -> None:
        """Count a response status into the hrsp_* buckets."""
        if self.observer is not None:
            self.observer(Observation.for_status(status))
        if 200 <= status < 300:  # the common case first: this runs per response
            self.hrsp_2xx += 1
        elif 100 <= status < 200:
            self.hrsp_1xx += 1
        elif 300 <= status < 400:
            self.hrsp_3xx += 1
        elif 400 <= status < 500:
            self.hrsp_4xx += 1
        elif 500 <= status < 600:
            self.hrsp_5xx += 1
        else:
            self.hrsp_other += 1

    def queued(self, depth: int) -> None:
        """Record the current queue depth; only the maximum is kept here."""
        if depth > self.qmax:
            self.qmax = depth

    # -- health (servers) --------------------------------------------------------

    def went_down(self, now: float | None = None) -> None:
        at = time.time() if now is None else now
        self.chkdown += 1
        self.down_since = at
        self.lastchg = at

    def went_up(self, now: float | None = None) -> None:
        at = time.time() if now is None else now
        if self.down_since is not None:
            self.downtime += at - self.down_since
            self.down_since = None
        self.lastchg = at

    def total_downtime(self, now: float | None = None) -> int:
        """Seconds DOWN so far, including a period still open."""
        at = time.time() if now is None else now
        open_period = at - self.down_since if self.down_since is not None else 0.0
        return int(self.downtime + open_period)

    def __repr__(self) -> str:
        return (
            f"<Counters {self.kind} {self.name} scur={self.scur} stot={self.stot} "
            f"req_tot={self.req_tot} 5xx={self.hrsp_5xx} econ={self.econ}>"
        )


class Registry:
    """All counters of one process, keyed by proxy (and server) name.

    Lookups create on first use, so a proxy never has to register anything
    before counting.  A frontend and a backend may share a name (a `listen`
    section is both), hence separate maps per kind.
    """

    def __init__(self) -> None:
        self._frontends: dict[str, Counters] = {}
        self._backends: dict[str, Counters] = {}
        self._servers: dict[tuple[str, str], Counters] = {}

    def frontend(self, name: str) -> Counters:
        c = self._frontends.get(name)
        if c is None:
            c = self._frontends[name] = Counters("frontend", name)
        return c

    def backend(self, name: str) -> Counters:
        c = self._backends.get(name)
        if c is None:
            c = self._backends[name] = Counters("backend", name)
        return c

    def server(self, backend: str, server: str) -> Counters:
        key = (backend, server)
        c = self._servers.get(key)
        if c is None:
            c = self._servers[key] = Counters("server", server)
        return c

    def frontends(self) -> dict[str, Counters]:
        return dict(self._frontends)

    def backends(self) -> dict[str, Counters]:
        return dict(self._backends)

    def servers(self) -> dict[tuple[str, str], Counters]:
        return dict(self._servers)

    def sync_rates(self, now: float | None = None) -> None:
        """Bring every rate up to date: the runtime's periodic tick and stats reads."""
        at = time.time() if now is None else now
        for table in (self._frontends, self._backends, self._servers):
            for counters in table.values():
                counters.sync_rates(at)

    def clear(self) -> None:
        """Forget everything (`clear counters all`; tests)."""
        self._frontends.clear()
        self._backends.clear()
        self._servers.clear()

    def __repr__(self) -> str:
        return (
            f"<Registry frontends={len(self._frontends)} backends={len(self._backends)} "
            f"servers={len(self._servers)}>"
        )


REGISTRY = Registry()
"""The process-wide registry the proxies and stats outputs share."""


def apply_count(backend: Counters, server: Callable[[str], Counters], count: Count) -> None:
    """Make a stream policy decision's counter increments (`balancekit.stream.Count`)
    on the backend's counters and, through `server(name)`, its servers': the one
    place both engines count retries, redispatches and failed connections."""
    backend.wretr += count.wretr
    backend.wredis += count.wredis
    backend.econ += count.econ
    if count.server is not None and (count.wretr or count.wredis):
        srv = server(count.server)
        srv.wretr += count.wretr
        srv.wredis += count.wredis
    if count.econ_server is not None and count.econ:
        server(count.econ_server).econ += count.econ
