"""Run a whole configuration in-process: `Runtime` on an event loop in a daemon thread.

Tests drive it with ordinary blocking clients and read its live state (pools,
health monitor, log lines) directly.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from balancekit.config import load_text
from balancekit_server.ops.counters import Registry
from balancekit_server.process.runtime import Runtime


class RuntimeThread:
    """A `Runtime` running a config text on an event loop in a daemon thread."""

    def __init__(self, text: str) -> None:
        self.config = load_text(text).config
        self.runtime = Runtime(self.config, registry=Registry(), quiet=True)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.lines: list[str] = []
        self.run(self._start())

    async def _start(self) -> None:
        await self.runtime.start()
        monitor = self.runtime.health  # type: ignore[attr-defined]
        monitor.log = lambda level, message: self.lines.append(message)

    def run(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def port(self, frontend: str) -> int:
        return self.runtime.addresses[frontend][0][1]

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.runtime.hard_stop)

        async def settle() -> None:
            await asyncio.sleep(0.05)

        self.run(settle())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
