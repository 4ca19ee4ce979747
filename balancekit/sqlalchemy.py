"""Read/write routing for SQLAlchemy over a primary and balanced replicas.

```python
router = balancekit.sqlalchemy.ReplicaRouter(
    create_engine("mysql+pymysql://app:pw@db-primary/app"),
    {"r1": create_engine("mysql+pymysql://app:pw@db-r1/app"),
     "r2": create_engine("mysql+pymysql://app:pw@db-r2/app")},
    balance="leastconn", check=True, inter=2.0,
)
rows = router.read(lambda conn: conn.execute(text("SELECT ...")).all())
Session = sessionmaker(class_=balancekit.sqlalchemy.RoutingSession, router=router)
```

`ReplicaRouter.read(fn)` runs `fn(connection)` on a replica picked by the pool,
holding a lease for exactly that call (so `leastconn` counts real in-flight
queries); a replica that cannot be reached or loses the connection is ejected
(marked DOWN until its active checks pass `rise` times) and the read is retried
on another replica.  `write(fn)` runs in a transaction on the primary.

`RoutingSession` is a `sqlalchemy.orm.Session` whose `get_bind` sends flushes,
writes and everything after the first write in a transaction to the primary, and
plain SELECTs to one replica per transaction (its lease is held until the
transaction ends).  A replica whose connection breaks under a session is ejected
too; the session's own query is not replayed (use `read` for that).

SQLAlchemy is imported on first use of this module's classes, so `import
balancekit.sqlalchemy` is cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from .clients.pool import BalancedPool, ConnectFailure
from .pool import Backend, Lease
from .server import Server

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

__all__ = ["ReplicaRouter", "RoutingSession"]

T = TypeVar("T")

#: MySQL/MariaDB client errors that mean the server was not reached (2003, 2002),
#: or the connection died under the query (2006 gone away, 2013 lost, 4031 timeout).
_UNREACHABLE = {2002, 2003}
_LOST = {2006, 2013, 4031}


def _error_code(exc: BaseException) -> int | None:
    orig = getattr(exc, "orig", None)
    args = getattr(orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


class ReplicaRouter:
    """A primary engine and a `BalancedPool` over replica engines (one per server
    name).  `server_options` (`check`, `inter`, `rise`, `fall`, `weight`,
    `maxconn`, `observe`…) apply to every replica's `Server`; pass `pool` to
    configure the pool yourself (its server names must be `replicas`' keys).
    The active checks read each replica's MySQL greeting (`option mysql-check`);
    `mysql_check=False` makes them plain TCP connects."""

    def __init__(
        self,
        primary: Engine,
        replicas: Mapping[str, Engine],
        *,
        balance: str = "leastconn",
        pool: BalancedPool | None = None,
        mysql_check: bool = True,
        **server_options: Any,
    ) -> None:
        self.primary = primary
        self.replicas = dict(replicas)
        if pool is None:
            servers = [
                Server(name, f"{engine.url.host}:{engine.url.port or 3306}", **server_options)
                for name, engine in self.replicas.items()
            ]
            pool = BalancedPool(
                Backend("replicas", servers, balance=balance), mysql_check=mysql_check
            )
        missing = {s.name for s in pool.backend.servers} - set(self.replicas)
        if missing:
            raise ValueError(f"no replica engine for server(s) {', '.join(sorted(missing))}")
        self.pool = pool
        from sqlalchemy import event

        for name, engine in self.replicas.items():
            event.listen(engine, "handle_error", self._on_error(name))

    def _on_error(self, name: str) -> Callable[[Any], None]:
        def handle_error(context: Any) -> None:
            code = _error_code(context.sqlalchemy_exception or context.original_exception)
            if context.is_disconnect or code in _UNREACHABLE or code in _LOST:
                self.pool.eject(name)

        return handle_error

    def read(self, fn: Callable[[Connection], T], *, retry_lost: bool = True) -> T:
        """Run `fn(connection)` on a balanced replica; a replica that is unreachable
        (or, with `retry_lost`, loses the connection: a read is safe to replay) is
        ejected and the call retried on another one by the pool's policy."""
        from sqlalchemy import exc as sa_exc

        def run(server: Server) -> T:
            engine = self.replicas[server.name]
            try:
                with engine.connect() as conn:
                    return fn(conn)
            except (sa_exc.OperationalError, sa_exc.InterfaceError) as error:
                code = _error_code(error)
                if code in _UNREACHABLE or (retry_lost and code in _LOST):
                    raise ConnectFailure("error", error) from error
                raise

        return self.pool.call(run)

    def write(self, fn: Callable[[Connection], T]) -> T:
        """Run `fn(connection)` in a transaction on the primary."""
        with self.primary.begin() as conn:
            return fn(conn)

    def lease(self) -> tuple[Engine, Lease]:
        """A replica engine and its lease (release with `self.pool.release`)."""
        lease = self.pool.acquire()
        assert lease.server is not None
        return self.replicas[lease.server.name], lease

    def close(self) -> None:
        self.pool.close()

    def __repr__(self) -> str:
        return f"<ReplicaRouter primary={self.primary.url.host} {self.pool!r}>"


def __getattr__(name: str) -> Any:
    if name == "RoutingSession":
        cls = _routing_session()
        globals()[name] = cls
        return cls
    raise AttributeError(name)


def _routing_session() -> type:
    from sqlalchemy import event
    from sqlalchemy.orm import Session
    from sqlalchemy.sql import Select

    class RoutingSession(Session):
        """A Session routing reads to replicas and writes to the primary."""

        def __init__(self, *args: Any, router: ReplicaRouter, **kwargs: Any) -> None:
            self.router = router
            self._bk_lease: Lease | None = None
            self._bk_primary = False
            super().__init__(*args, **kwargs)

        def get_bind(self, mapper: Any = None, clause: Any = None, **kw: Any) -> Any:
            if self._flushing or self._bk_primary or not isinstance(clause, Select):
                self._bk_primary = True  # this transaction has written: stay on the primary
                return self.router.primary
            if self._bk_lease is None:
                engine, self._bk_lease = self.router.lease()
                return engine
            assert self._bk_lease.server is not None
            return self.router.replicas[self._bk_lease.server.name]

        def _bk_end(self) -> None:
            lease, self._bk_lease = self._bk_lease, None
            self._bk_primary = False
            if lease is not None:
                self.router.pool.release(lease)

    def after_transaction_end(session: Any, transaction: Any) -> None:
        if transaction.parent is None:
            session._bk_end()

    event.listen(RoutingSession, "after_transaction_end", after_transaction_end)
    return RoutingSession


if TYPE_CHECKING:
    from sqlalchemy.orm import Session as RoutingSession
