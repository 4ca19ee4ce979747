"""balancekit_server: the thin I/O front ends over `balancekit` (L4, L7, CLI)."""

from __future__ import annotations

from balancekit_server import native

# Before any compiled module loads: an edited source runs as edited, never the
# build of an older one (see native.py).
native.guard()

__all__: list[str] = []
