"""A tiny agent for `agent-check` tests: it answers every connection with `answer`.

It runs an asyncio server on 127.0.0.1, port 0, in a thread of its own, so a
test (or the conformance runner's `{agent:NAME}`) can point HAProxy and
balancekit at the same agent and change what it says between two looks.
What each connection sent first (`agent-send`) is kept in `received`.

The answer is written as soon as a connection opens, then the agent reads
until the checker closes (at most a second) and closes too.  An answer that
does not end its line closes at once after it (an agent cut short), and an
empty one closes without a word: the checker gets an empty response.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
from typing import ClassVar


class AgentServer:
    """One agent; `answer` may be changed at any time (the next connection sees it)."""

    _shared: ClassVar[dict[bytes, AgentServer]] = {}

    def __init__(self, answer: bytes = b"up\n") -> None:
        self.answer = answer
        self.received: list[bytes] = []
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop
        ).result(10)
        self.port: int = self._server.sockets[0].getsockname()[1]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        answer = self.answer
        try:
            if answer:
                writer.write(answer)
                await writer.drain()
            if answer.endswith((b"\n", b"\r")):
                got = b""
                with contextlib.suppress(TimeoutError, OSError):
                    async with asyncio.timeout(1.0):
                        while chunk := await reader.read(4096):
                            got += chunk
                self.received.append(got)
        finally:
            writer.close()

    def close(self) -> None:
        async def stop() -> None:
            self._server.close()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def __enter__(self) -> AgentServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    def shared(cls, answer: bytes) -> AgentServer:
        """The session's agent that always answers `answer` (the runner's `{agent:NAME}`)."""
        if answer not in cls._shared:
            agent = cls._shared[answer] = AgentServer(answer)
            atexit.register(agent.close)
        return cls._shared[answer]
