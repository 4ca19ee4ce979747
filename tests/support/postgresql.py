"""A throwaway PostgreSQL server for tests: its own cluster, a free port on 127.0.0.1.

`PostgreSQL.get()` starts one for the whole session (the conformance runner's `{pg}`)
and stops it at exit.  The cluster trusts connections from loopback, so a health
check's startup packet for user `postgres` is answered "authentication OK"; it
rejects the user `refused` with a FATAL error.  PostgreSQL
refuses to run as root: as root the server runs as the `postgres` user the
Debian package creates.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import subprocess

from support.backends import free_port
from support.daemons import LocalDaemon


def _binary(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    if not found[-1]:
        raise RuntimeError(
            "PostgreSQL is not installed (apt-get install postgresql); .ci/run installs it"
        )
    return found[-1]


class PostgreSQL(LocalDaemon):
    """One running postgres, on a free port."""

    name = "PostgreSQL"
    _instance: PostgreSQL | None = None

    def __init__(self) -> None:
        super().__init__("bk-postgres-", free_port())
        self.data = self.base / "data"
        self._as: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.base, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        subprocess.run(
            [*self._as, _binary("initdb"), "-D", str(self.data), "-U", "postgres",
             "--auth=trust", "--no-sync"],
            check=True,
            capture_output=True,
        )  # fmt: skip
        # Loopback is trusted, except for the user `refused` (a check's failure case).
        (self.data / "pg_hba.conf").write_text(
            "host all refused 127.0.0.1/32 reject\n"
            "host all all 127.0.0.1/32 trust\n"
            "local all all trust\n"
        )
        self._start(
            [*self._as, _binary("postgres"), "-D", str(self.data), "-p", str(self.port),
             "-k", str(self.base), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
            30,
        )  # fmt: skip

    @classmethod
    def get(cls) -> PostgreSQL:
        if cls._instance is None:
            cls._instance = PostgreSQL()
            atexit.register(cls._instance.stop)
        return cls._instance
