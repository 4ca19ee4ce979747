"""The stick tables' clock: monotonic milliseconds, HAProxy's `now_ms`.

The library takes time as an argument; the engines and the runtime API read it
here, so every table sees one clock.
"""

from __future__ import annotations

import time

__all__ = ["now_ms"]


def now_ms() -> int:
    return int(time.monotonic() * 1000)
