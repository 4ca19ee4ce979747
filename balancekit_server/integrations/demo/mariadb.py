"""A throwaway MariaDB for `--demo mysql`: own datadir, loopback port, gone on exit.

The MySQL tutorial needs a database behind the TCP proxy.  On a machine with
MariaDB installed (`mariadbd`, `mariadb-install-db`), the demo starts a private
server in a temporary directory -- in its own session, so the terminal's Ctrl-C
reaches only the demo, which then stops it -- and loads the tutorial's schema.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from importlib import resources
from pathlib import Path

__all__ = ["SCHEMA", "DemoMariaDB"]

#: The tutorial's test user, database and rows (a copy of examples/mysql/init.sql).
SCHEMA = resources.files(__package__).joinpath("mysql-init.sql").read_text(encoding="utf-8")


def _tool(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
        if found:
            return found
    raise OSError(
        f"the mysql demo needs MariaDB installed ({' or '.join(names)} not found; "
        "apt-get install mariadb-server)"
    )


class DemoMariaDB:
    """`start()` returns once MariaDB accepts connections on `address`; `stop()` ends it."""

    def __init__(self, directory: str, port: int) -> None:
        self.base = Path(directory)
        self.port = port
        self.socket = str(self.base / "mysqld.sock")
        self.process: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        running = self.process is not None and self.process.poll() is None
        return f"<DemoMariaDB 127.0.0.1:{self.port} {'running' if running else 'stopped'}>"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> DemoMariaDB:
        user = _user()
        datadir = self.base / "data"
        install = [_tool("mariadb-install-db", "mysql_install_db"), "--no-defaults"]
        install += [f"--datadir={datadir}", f"--user={user}", "--skip-test-db"]
        install += ["--auth-root-authentication-method=socket"]
        subprocess.run(
            install,
            check=True,
            capture_output=True,
        )
        command = [_tool("mariadbd", "mysqld"), "--no-defaults", f"--datadir={datadir}"]
        command += [f"--user={user}", "--bind-address=127.0.0.1", f"--port={self.port}"]
        command += [f"--socket={self.socket}", f"--pid-file={self.base / 'mysqld.pid'}"]
        command += [f"--log-error={self.base / 'error.log'}", "--skip-log-bin"]
        command += ["--innodb-buffer-pool-size=16M"]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C is the demo's to handle, then it stops us
        )
        deadline = time.monotonic() + timeout
        while not self._accepting():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise OSError(f"MariaDB did not start; see {self.base / 'error.log'}")
            time.sleep(0.1)
        subprocess.run(
            [_tool("mariadb", "mysql"), "--no-defaults", f"--socket={self.socket}", "-u", user],
            input=SCHEMA.encode(),
            check=True,
            capture_output=True,
        )
        return self

    def _accepting(self) -> bool:
        if not os.path.exists(self.socket):
            return False
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def _user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name
