"""Throwaway Redis servers for tests, on free ports of 127.0.0.1.

`Redis.get()` starts one open server for the whole session (the conformance
runner's `{redis}`), `Redis.get("auth")` one with a password, whose `PING`
from a client that has not authenticated is answered `-NOAUTH …` (a check's
failure case).  Both are stopped at exit.
"""

from __future__ import annotations

import atexit
import shutil
from typing import ClassVar

from support.backends import free_port
from support.daemons import LocalDaemon


class Redis(LocalDaemon):
    """One running redis-server, persisting nothing."""

    name = "Redis"
    _instances: ClassVar[dict[str, Redis]] = {}

    def __init__(self, password: str | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "Redis is not installed (apt-get install redis-server); .ci/run installs it"
            )
        super().__init__("bk-redis-", free_port())
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.base)]  # fmt: skip
        if password is not None:
            args += ["--requirepass", password]
        self._start(args, 20)

    @classmethod
    def get(cls, kind: str = "open") -> Redis:
        """The session's server of that kind: "open", or "auth" (a password set)."""
        if kind not in cls._instances:
            server = cls._instances[kind] = Redis("secret" if kind == "auth" else None)
            atexit.register(server.stop)
        return cls._instances[kind]
