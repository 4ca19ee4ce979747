"""Exceptions a user of balancekit can meet.

Every error a user can cause carries enough context to fix it without a traceback:
the backend's name for balancing failures, `file:line` for configuration errors.
"""

from __future__ import annotations

__all__ = ["BalancekitError", "ConfigError", "NoServerAvailable", "QueueFull"]


class BalancekitError(Exception):
    """Base of every balancekit exception."""


class NoServerAvailable(BalancekitError):
    """No usable server in the backend: HAProxy answers 503 and logs `<NOSRV>`."""

    def __init__(self, backend: str, reason: str = "no server available") -> None:
        super().__init__(f"backend '{backend}': {reason}")
        self.backend = backend
        self.reason = reason


class QueueFull(NoServerAvailable):
    """Every eligible server is at maxconn and the queue is at maxqueue: HAProxy answers 503."""

    def __init__(self, backend: str) -> None:
        super().__init__(backend, "all servers full and queue full")


class ConfigError(BalancekitError, ValueError):
    """A configuration error, located at `file:line` when it comes from a file."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        where = f"{file}:{line}: " if file is not None and line is not None else ""
        super().__init__(f"{where}{message}")
