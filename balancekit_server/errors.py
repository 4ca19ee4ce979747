"""The one error a loaded configuration can still meet when it starts."""

from __future__ import annotations

__all__ = ["RunError"]


class RunError(RuntimeError):
    """The config cannot run (port taken, missing front end); the message says which line."""
