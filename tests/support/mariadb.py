"""A throwaway MariaDB server for tests: own datadir, free port on 127.0.0.1, socket in tmp.

Usage from any test module::

    from support.mariadb import mariadb  # noqa: F401  (the session fixture)

    def test_x(mariadb: MariaDB) -> None:
        conn = mariadb.connect()               # pymysql over TCP, as root
        mariadb.query("SELECT 1")              # over the unix socket (not counted as TCP)

The seed's schema (database `test`, table `todos` with two rows, user
`haproxy_user`/`tester`) is created once.  The server runs as root with
`--user=root` because the suite runs as root in CI; it is killed at session end.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

MARIADBD = shutil.which("mariadbd") or shutil.which("mysqld") or "/usr/sbin/mariadbd"
INSTALL_DB = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db") or ""

SEED_SQL = """
CREATE DATABASE IF NOT EXISTS test;
CREATE TABLE IF NOT EXISTS test.todos (id int, item varchar(255), status varchar(255));
DELETE FROM test.todos;
INSERT INTO test.todos VALUES (1, 'task1', 'pending');
INSERT INTO test.todos VALUES (2, 'task2', 'done');
CREATE USER IF NOT EXISTS 'haproxy_user'@'%' IDENTIFIED BY 'tester';
CREATE USER IF NOT EXISTS 'haproxy_user'@'localhost' IDENTIFIED BY 'tester';
GRANT ALL PRIVILEGES ON *.* TO 'haproxy_user'@'%';
GRANT ALL PRIVILEGES ON *.* TO 'haproxy_user'@'localhost';
FLUSH PRIVILEGES;
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MariaDB:
    """One running mariadbd; `stop()`/`start()` let tests kill it and bring it back."""

    user = "haproxy_user"
    password = "tester"

    def __init__(self, base: Path) -> None:
        if not Path(MARIADBD).exists() or not INSTALL_DB:
            raise RuntimeError(
                "MariaDB is not installed (apt-get install mariadb-server); .ci/run installs it"
            )
        self.base = base
        self.datadir = base / "data"
        self.socket = str(base / "mysqld.sock")
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        install = subprocess.run(
            [
                INSTALL_DB,
                "--no-defaults",
                f"--datadir={self.datadir}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            capture_output=True,
            text=True,
        )
        if install.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed:\n{install.stdout}\n{install.stderr}")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> MariaDB:
        """Start mariadbd (again on its previous port after a `stop`, else a free one)."""
        for attempt in range(5):
            if not self.port or attempt:
                self.port = _free_port()
            log = self.base / "error.log"
            self.process = subprocess.Popen(
                [
                    MARIADBD,
                    "--no-defaults",
                    f"--datadir={self.datadir}",
                    "--user=root",
                    "--bind-address=127.0.0.1",
                    f"--port={self.port}",
                    f"--socket={self.socket}",
                    f"--pid-file={self.base / 'mysqld.pid'}",
                    f"--log-error={log}",
                    "--skip-networking=0",
                    "--skip-name-resolve",
                    "--innodb-buffer-pool-size=16M",
                    "--max-connections=200",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                        pass
                    if os.path.exists(self.socket):
                        return self
                except OSError:
                    time.sleep(0.1)
            self.stop()
        tail = (self.base / "error.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"mariadbd did not start:\n{tail}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server (SIGKILL simulates a crash)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def connect(self, **kwargs: Any) -> Any:
        """A pymysql connection as root over the unix socket (never through a proxy)."""
        import pymysql

        return pymysql.connect(unix_socket=self.socket, user="root", **kwargs)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        conn = self.connect()
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall())
        finally:
            conn.close()

    def seed(self) -> None:
        conn = self.connect(autocommit=True)
        try:
            with conn.cursor() as cursor:
                for statement in filter(None, (s.strip() for s in SEED_SQL.split(";"))):
                    cursor.execute(statement)
        finally:
            conn.close()

    def tcp_clients(self) -> int:
        """Client connections that came over TCP (PROCESSLIST hosts `ip:port`)."""
        rows = self.query("SELECT HOST FROM information_schema.PROCESSLIST")
        return sum(1 for (host,) in rows if host and ":" in str(host))


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDB]:
    """A seeded MariaDB for the whole test session (start ~2 s)."""
    base = Path(tempfile.mkdtemp(prefix="bk-mariadb-"))
    server = MariaDB(base)
    try:
        server.start()
        server.seed()
        yield server
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
