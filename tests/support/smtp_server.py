"""Real SMTP listeners for `option smtpchk`: aiosmtpd, in a thread, on free ports.

`Smtp.get()` is a server that greets with 220 and welcomes `HELO`/`EHLO`;
`Smtp.get("refuse")` answers `HELO`/`EHLO` with `550 5.7.1 …`, as a mail server
does for a client it will not serve.  Both live for the session.
"""

from __future__ import annotations

import atexit
from typing import Any, ClassVar

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from support.backends import free_port


class _Refusing:
    """An aiosmtpd handler that turns every greeting away."""

    async def handle_HELO(self, server: SMTP, session: Any, envelope: Any, hostname: str) -> str:
        return "550 5.7.1 not welcome here"

    async def handle_EHLO(
        self, server: SMTP, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        return ["550 5.7.1 not welcome here"]


class _Welcoming:
    """aiosmtpd's default answers; it delivers nothing (the checks send no mail)."""


class Smtp:
    _instances: ClassVar[dict[str, Smtp]] = {}

    def __init__(self, refuse: bool) -> None:
        self.port = free_port()
        handler = _Refusing() if refuse else _Welcoming()
        self.controller = Controller(
            handler, hostname="127.0.0.1", port=self.port, server_hostname="mail.example.test"
        )
        self.controller.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.controller.stop()

    @classmethod
    def get(cls, kind: str = "open") -> Smtp:
        """The session's server of that kind: "open", or "refuse"."""
        if kind not in cls._instances:
            server = cls._instances[kind] = Smtp(refuse=kind == "refuse")
            atexit.register(server.stop)
        return cls._instances[kind]
