"""Seed 004: Flask + SQLAlchemy + pymysql -> balancekit-server (mode tcp) -> real MariaDB.

The proxy runs the seed's own `listen` section (addresses adapted to loopback),
from a config file, through the `balancekit-server` command.
"""

from __future__ import annotations

import json
import signal
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from l4_harness import ServerProcess
from mysql_app import AppServer

from support.mariadb import MariaDB, mariadb  # noqa: F401  (session fixture)

pytestmark = pytest.mark.mariadb

SEED_CONFIG = """
global
    maxconn 100
    log stdout format raw local0

defaults
    log     global
    timeout connect 5s
    timeout client  300s
    timeout server  300s

listen msyql
    bind 127.0.0.1:0
    mode tcp
    option srvtcpka
    balance roundrobin
    server mysql1 {address} maxconn 10
"""


def _get(url: str, timeout: float = 60) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def stack(mariadb: MariaDB) -> Iterator[tuple[ServerProcess, AppServer]]:  # noqa: F811
    if mariadb.process is None:
        mariadb.start()
    proxy = ServerProcess(SEED_CONFIG.format(address=mariadb.address), expect=["msyql"])
    app = AppServer(f"mysql+pymysql://haproxy_user:tester@127.0.0.1:{proxy.port('msyql')}")
    try:
        yield proxy, app
    finally:
        app.close()
        proxy.stop()


def test_todos_returns_the_seeded_rows(stack: tuple[ServerProcess, AppServer]) -> None:
    _, app = stack
    status, body = _get(f"http://127.0.0.1:{app.port}/todos")
    assert status == 200
    assert body == {
        "1": {"item": "task1", "status": "pending"},
        "2": {"item": "task2", "status": "done"},
    }


def test_30_concurrent_sleeps_complete_with_at_most_10_database_connections(
    stack: tuple[ServerProcess, AppServer],
    mariadb: MariaDB,  # noqa: F811
) -> None:
    _, app = stack
    peak = [0]
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], mariadb.tcp_clients())
            stop.wait(0.02)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    with ThreadPoolExecutor(30) as pool:
        results = list(pool.map(lambda _: _get(f"http://127.0.0.1:{app.port}/sleep/1"), range(30)))
    stop.set()
    poller.join(5)
    assert [status for status, _ in results] == [200] * 30
    assert all(body == {"slept": "1"} for _, body in results)
    # The app opens up to 11 connections (pool 1 + overflow 10); the server maxconn
    # queues the 11th in the proxy, so MariaDB sees 10 at most, and did see 10.
    assert peak[0] == 10


def test_killing_mariadb_mid_query_gives_a_clean_error(
    stack: tuple[ServerProcess, AppServer],
    mariadb: MariaDB,  # noqa: F811
) -> None:
    proxy, app = stack
    result: list[tuple[int, dict[str, object]]] = []
    request = threading.Thread(
        target=lambda: result.append(_get(f"http://127.0.0.1:{app.port}/sleep/30"))
    )
    request.start()
    try:
        # Wait until the query is running inside MariaDB, then crash the server.
        for _ in range(500):
            rows = mariadb.query("SELECT INFO FROM information_schema.PROCESSLIST")
            if any(info and "SLEEP" in str(info) for (info,) in rows):
                break
            threading.Event().wait(0.02)
        else:
            raise AssertionError("the query never reached MariaDB")
        mariadb.stop(signal.SIGKILL)
        request.join(20)
        assert not request.is_alive(), "the app hung after the database died"
        status, body = result[0]
        assert status == 503
        assert "Lost connection" in str(body["error"]) or "2013" in str(body["error"])
        assert proxy.process.poll() is None  # the proxy itself is fine
    finally:
        mariadb.start()
    # And once MariaDB is back, the same proxy serves again.
    status, _ = _get(f"http://127.0.0.1:{app.port}/todos")
    assert status == 200
