"""balancekit_server: the thin I/O front ends over `balancekit` (L4, L7, CLI)."""

from __future__ import annotations

__all__: list[str] = []
