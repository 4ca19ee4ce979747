"""Read replicas as a balancekit pool: client-side balancing with no proxy process.

Each replica is a `balancekit.Server`; a `balancekit.Backend` picks one per read
(roundrobin or leastconn, the same words as haproxy.cfg) and holds a lease while
the query runs, so leastconn sees real in-flight counts.  A `ServerHealth` per
replica applies HAProxy's rise/fall counter to `SELECT 1` probes run by a
background thread; a failed read counts as a failed check (HAProxy's
`on-error fail-check`) and is retried once on another replica.

The pool is synchronous and not thread-safe by design (the library does no
locking); Flask serves requests from several threads, so every call into the pool
happens under one lock, held only for the microseconds a pick takes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

import balancekit
from balancekit.health import CheckResult, CheckStatus, HealthSettings, ServerHealth


@dataclass(frozen=True, slots=True)
class ReadResult:
    """Rows from one read, and which replica served them."""

    replica: str
    rows: list[tuple[Any, ...]]


def parse_replicas(spec: str, *, inter: float = 2.0) -> list[balancekit.Server]:
    """`name=host:port,name=host:port` -> servers with active checks every `inter` seconds."""
    servers = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, address = item.partition("=")
        if not sep:
            raise ValueError(f"replica '{item}' is not name=host:port")
        servers.append(balancekit.Server(name, address, check=True, inter=inter, rise=2, fall=2))
    if not servers:
        raise ValueError("no replicas given")
    return servers


class ReplicaSet:
    """Spread reads over replicas with a balancekit `Backend` and keep their health."""

    def __init__(
        self,
        servers: Iterable[balancekit.Server],
        *,
        balance: str = "roundrobin",
        user: str,
        password: str,
        database: str = "",
        connect_timeout: int = 2,
    ) -> None:
        self.pool = balancekit.Backend("replicas", list(servers), balance=balance)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._checker: threading.Thread | None = None
        now = time.monotonic()
        self.health = {
            s.name: ServerHealth(HealthSettings.from_server(s), now=now) for s in self.pool.servers
        }
        self.engines: Mapping[str, Engine] = {
            s.name: create_engine(
                f"mysql+pymysql://{user}:{password}@{s.host}:{s.port}/{database}",
                pool_size=5,
                pool_pre_ping=True,
                connect_args={"connect_timeout": connect_timeout},
            )
            for s in self.pool.servers
        }
        self.events: list[str] = []

    def __repr__(self) -> str:
        return f"<ReplicaSet {self.pool!r}>"

    # -- reads --------------------------------------------------------------------------

    def read(self, sql: str, params: Mapping[str, Any] | None = None) -> ReadResult:
        """Run `sql` on one replica; on a connection error, try another one once."""
        avoid: str | None = None
        last_error: Exception | None = None
        for _attempt in range(2):
            with self._lock:
                lease = self.pool.acquire(avoid=avoid)
            if lease.server is None:  # only with maxconn: this example sets none
                with self._lock:
                    self.pool.cancel(lease)
                raise balancekit.NoServerAvailable(self.pool.name, "all replicas busy")
            name = lease.server.name
            try:
                with self.engines[name].connect() as conn:
                    rows = [tuple(row) for row in conn.execute(text(sql), dict(params or {}))]
                return ReadResult(name, rows)
            except DBAPIError as exc:
                if not exc.connection_invalidated and not _is_connection_error(exc):
                    raise  # a bad query fails the same on every replica
                self._record(name, CheckResult(CheckStatus.L4CON, info=str(exc.orig)))
                avoid, last_error = name, exc
            finally:
                with self._lock:
                    self.pool.release(lease)
        raise balancekit.NoServerAvailable(self.pool.name, f"read failed: {last_error}")

    # -- health ---------------------------------------------------------------------------

    def check_once(self) -> None:
        """Probe every replica with `SELECT 1` and feed the results to its health state."""
        for name, engine in self.engines.items():
            started = time.monotonic()
            try:
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                result = CheckResult(CheckStatus.L7OK, duration_ms=_ms_since(started))
            except DBAPIError as exc:
                result = CheckResult(
                    CheckStatus.L4CON, info=str(exc.orig), duration_ms=_ms_since(started)
                )
            self._record(name, result)

    def start_checks(self, interval: float | None = None) -> None:
        """Run `check_once` in a daemon thread every `interval` (default: the servers' inter)."""
        every = interval or min(s.inter for s in self.pool.servers)

        def loop() -> None:
            while not self._stop.wait(every):
                self.check_once()

        self._checker = threading.Thread(target=loop, name="replica-checks", daemon=True)
        self._checker.start()

    def close(self) -> None:
        self._stop.set()
        if self._checker is not None:
            self._checker.join()
        for engine in self.engines.values():
            engine.dispose()

    def _record(self, name: str, result: CheckResult) -> None:
        with self._lock:
            transition = self.health[name].record(result, time.monotonic())
            if transition is not None:
                self.pool.set_health(name, transition.up)
                state = "UP" if transition.up else "DOWN"
                self.events.append(f"replica {name} is {state} ({result.status.description})")

    def status(self) -> list[dict[str, Any]]:
        """Each replica's state, in-flight reads and total picks, as `show stat` has them."""
        with self._lock:
            return [
                {
                    "name": m.name,
                    "address": m.server.address,
                    "status": m.status,
                    "inflight": m.inflight,
                    "picks": m.lbtot,
                    "check": self.health[m.name].status_text,
                }
                for m in self.pool.members
            ]


def _is_connection_error(exc: DBAPIError) -> bool:
    """pymysql raises OperationalError 2003/2006/2013 when the server is unreachable."""
    code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
    return code in (2003, 2006, 2013)


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
