"""balancekit.sqlalchemy on real MariaDB servers: a primary and two "replicas".

The three are independent servers seeded with the same schema (no replication):
enough to see where each statement went (`@@port` names the server)."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.mariadb import MariaDB

sqlalchemy = pytest.importorskip("sqlalchemy")
pytest.importorskip("pymysql")
from sqlalchemy import text  # noqa: E402

from balancekit.sqlalchemy import ReplicaRouter, RoutingSession  # noqa: E402

pytestmark = pytest.mark.mariadb


@pytest.fixture(scope="module")
def dbs() -> Iterator[dict[str, MariaDB]]:
    bases: list[Path] = []
    servers: dict[str, MariaDB] = {}
    try:
        for name in ("primary", "r1", "r2"):
            base = Path(tempfile.mkdtemp(prefix=f"bk-clients-{name}-"))
            bases.append(base)
            servers[name] = MariaDB(base).start()
            servers[name].seed()
        yield servers
    finally:
        for server in servers.values():
            server.stop()
        for base in bases:
            shutil.rmtree(base, ignore_errors=True)


def _engine(db: MariaDB) -> sqlalchemy.engine.Engine:
    return sqlalchemy.create_engine(
        f"mysql+pymysql://{db.user}:{db.password}@{db.address}/test",
        pool_pre_ping=False,
        connect_args={"connect_timeout": 2},
    )


def _router(dbs: dict[str, MariaDB], **options: object) -> ReplicaRouter:
    options.setdefault("check", True)
    options.setdefault("inter", 0.1)
    options.setdefault("rise", 2)
    options.setdefault("fall", 2)
    return ReplicaRouter(
        _engine(dbs["primary"]),
        {"r1": _engine(dbs["r1"]), "r2": _engine(dbs["r2"])},
        **options,  # type: ignore[arg-type]
    )


def _port(conn: sqlalchemy.engine.Connection) -> int:
    return int(conn.execute(text("SELECT @@port")).scalar_one())


def test_reads_spread_evenly_writes_to_primary(dbs: dict[str, MariaDB]) -> None:
    ports = {db.port: name for name, db in dbs.items()}
    router = _router(dbs, balance="roundrobin")
    try:
        seen = Counter(ports[router.read(_port)] for _ in range(20))
        assert seen == {"r1": 10, "r2": 10}
        assert ports[router.write(_port)] == "primary"
    finally:
        router.close()


def test_leastconn_counts_in_flight_queries(dbs: dict[str, MariaDB]) -> None:
    ports = {db.port: name for name, db in dbs.items()}
    router = _router(dbs, balance="leastconn")
    try:
        started = threading.Event()
        where: list[str] = []

        def slow(conn: sqlalchemy.engine.Connection) -> None:
            where.append(ports[_port(conn)])
            started.set()
            conn.execute(text("SELECT SLEEP(0.5)"))

        thread = threading.Thread(target=router.read, args=(slow,))
        thread.start()
        started.wait(5)
        busy = where[0]
        others = {ports[router.read(_port)] for _ in range(5)}  # while the slow one runs
        thread.join()
        assert others == ({"r1", "r2"} - {busy})
    finally:
        router.close()


def test_session_routes_reads_and_transactions(dbs: dict[str, MariaDB]) -> None:
    ports = {db.port: name for name, db in dbs.items()}
    router = _router(dbs, balance="roundrobin")
    try:
        with RoutingSession(router=router) as session:
            first = ports[session.execute(sqlalchemy.select(text("@@port"))).scalar_one()]
            assert first in ("r1", "r2")
            inflight = router.pool.stats()["servers"][first]["inflight"]
            assert inflight == 1  # the replica is leased for the transaction
            session.execute(text("INSERT INTO todos VALUES (9, 'x', 'y')"))
            # after a write, reads in the same transaction go to the primary
            after = session.execute(sqlalchemy.select(text("@@port"))).scalar_one()
            assert ports[after] == "primary"
            session.rollback()
            assert router.pool.stats()["servers"][first]["inflight"] == 0
            second = ports[session.execute(sqlalchemy.select(text("@@port"))).scalar_one()]
            assert second in ("r1", "r2") and second != first  # a new transaction, next replica
            session.commit()
    finally:
        router.close()


def test_killed_replica_reads_not_lost_ejected_then_back(dbs: dict[str, MariaDB]) -> None:
    ports = {db.port: name for name, db in dbs.items()}
    router = _router(dbs, balance="leastconn")
    try:
        assert {ports[router.read(_port)] for _ in range(4)} == {"r1", "r2"}  # pools warm
        dbs["r2"].stop()
        killed = time.monotonic()
        answers = [ports[router.read(_port)] for _ in range(10)]
        assert answers == ["r1"] * 10  # none lost: retried on r1
        while router.pool.backend.state("r2") != "DOWN":
            assert time.monotonic() - killed < 2 * 0.1 + 1.0
            time.sleep(0.01)
        dbs["r2"].start()
        back = time.monotonic()
        while router.pool.backend.state("r2") != "UP":
            assert time.monotonic() - back < 2 * 0.1 + 1.0
            time.sleep(0.01)
        assert "r2" in {ports[router.read(_port)] for _ in range(4)}
    finally:
        router.close()


def test_mysql_check_reads_the_greeting(dbs: dict[str, MariaDB]) -> None:
    from balancekit.clients.probes import mysql_probe
    from balancekit.health import CheckStatus
    from support.backends import free_port

    ok = mysql_probe("127.0.0.1", dbs["r1"].port, 2.0)
    assert ok.status is CheckStatus.L7OK and "MariaDB" in ok.info
    assert mysql_probe("127.0.0.1", free_port(), 2.0).status is CheckStatus.L4CON
    router = _router(dbs)
    try:
        assert router.pool.mysql_check
        assert router.pool.probe(router.pool.backend.servers[0]).status is CheckStatus.L7OK
    finally:
        router.close()
