"""`option mysql-check [user NAME]` against a real MariaDB, and against HAProxy's own check."""

from __future__ import annotations

import asyncio
import re

import pytest

from balancekit import Backend, Server
from balancekit.config.runtime import BackendRuntime
from balancekit.health import CheckStatus
from balancekit_server.ops.checks import CheckSpec, HealthMonitor, probe
from balancekit_server.ops.counters import Registry
from support.haproxy import HAProxy
from support.mariadb import MariaDB, mariadb  # noqa: F401  (session fixture)

pytestmark = pytest.mark.mariadb


@pytest.fixture(scope="module")
def check_user(mariadb: MariaDB) -> str:  # noqa: F811
    for host in ("127.0.0.1", "localhost", "%"):
        mariadb.query(f"CREATE USER IF NOT EXISTS 'bk_check'@'{host}'")
    return "bk_check"


def spec(db: MariaDB, user: str | None) -> CheckSpec:
    return CheckSpec("127.0.0.1", db.port, kind="mysql", inter=2, mysql_user=user)


def test_handshake_only_and_with_user(mariadb: MariaDB, check_user: str) -> None:  # noqa: F811
    version = mariadb.query("SELECT VERSION()")[0][0]
    plain = asyncio.run(probe(spec(mariadb, None)))
    # The greeting carries the server version (MariaDB prefixes "5.5.5-"), as HAProxy reports.
    assert plain.status is CheckStatus.L7OK and plain.info.endswith(version)
    authed = asyncio.run(probe(spec(mariadb, check_user)))
    assert authed.status is CheckStatus.L7OK and authed.info.endswith(version)


def test_unknown_user_is_layer7_wrong_status(mariadb: MariaDB) -> None:  # noqa: F811
    result = asyncio.run(probe(spec(mariadb, "nobody_here")))
    assert result.status is CheckStatus.L7STS and result.code == 1045
    assert result.info.startswith("#28000Access denied for user 'nobody_here'")


def test_mysql_check_lines_match_haproxy(mariadb: MariaDB, check_user: str) -> None:  # noqa: F811
    """HAProxy's mysql-check and ours, same users: the same DOWN line for a bad user."""
    cfg = f"""
global
    stats socket {{stats}} level admin
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
backend db
    option mysql-check user nobody_here
    server m1 {mariadb.address} check inter 100
    server m2 {mariadb.address} check inter 100 disabled
frontend f
    bind {{listen:fe}}
    default_backend db
"""
    with HAProxy(cfg) as hap:

        async def theirs() -> str:
            async with asyncio.timeout(10):
                while " is DOWN" not in hap.log():
                    await asyncio.sleep(0.02)
            found = re.search(r"\[WARNING\]\s+\(\d+\) : (Server db/m1 is DOWN.*)", hap.log())
            assert found is not None
            return found.group(1)

        haproxy_line = asyncio.run(theirs())

    async def ours() -> str:
        be = BackendRuntime(
            "db",
            "tcp",
            Backend(
                "db",
                [
                    Server("m1", mariadb.address, check=True, inter=0.1),
                    Server("m2", mariadb.address, check=True, inter=0.1, disabled=True),
                ],
            ),
            mysql_check_user="nobody_here",
        )
        lines: list[str] = []
        mon = HealthMonitor({"db": be}, log=lambda _l, m: lines.append(m), registry=Registry())
        mon.start()
        try:
            async with asyncio.timeout(10):
                while not any(" is DOWN" in m for m in lines):
                    await asyncio.sleep(0.02)
        finally:
            await mon.stop()
        return next(m for m in lines if " is DOWN" in m)

    mine = asyncio.run(ours())

    def norm(line: str) -> str:
        line = re.sub(r"check duration: \d+ms", "check duration: Nms", line)
        return re.sub(r"'@'[^']*'", "'@'HOST'", line)

    assert norm(mine) == norm(haproxy_line)


def test_database_killed_and_restarted(mariadb: MariaDB, check_user: str) -> None:  # noqa: F811
    async def scenario() -> list[tuple[bool, CheckStatus | None]]:
        be = BackendRuntime(
            "db",
            "tcp",
            Backend("db", [Server("m1", mariadb.address, check=True, inter=0.1, rise=2, fall=2)]),
            mysql_check_user=check_user,
        )
        mon = HealthMonitor({"db": be}, log=lambda *_: None, registry=Registry())
        mon.start()
        loop = asyncio.get_running_loop()
        try:
            health = mon.health("db", "m1")
            async with asyncio.timeout(20):
                while health.health < health.settings.top:
                    await asyncio.sleep(0.02)
                await loop.run_in_executor(None, mariadb.stop)
                while health.up:
                    await asyncio.sleep(0.02)
                await loop.run_in_executor(None, mariadb.start)
                while not health.up:
                    await asyncio.sleep(0.02)
        finally:
            await mon.stop()
        return [(t.up, t.result.status if t.result else None) for t in mon.history("db", "m1")]

    history = asyncio.run(scenario())
    assert history == [(False, CheckStatus.L4CON), (True, CheckStatus.L7OK)]
