"""Test harness for the L4 forwarder: an event loop in a thread, real backends, real sockets.

Tests are plain synchronous pytest functions using blocking client sockets; the
forwarder and the backends run on one asyncio loop in a background thread, so a
test can drive clients, then inspect the proxy's live state through `call`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

from balancekit_server.logs import Logger
from balancekit_server.tcp import Listener, TcpFrontend, TcpService

T = TypeVar("T")


class LoopThread:
    """An asyncio (or uvloop) event loop running in a daemon thread."""

    def __init__(self, use_uvloop: bool = False) -> None:
        if use_uvloop:
            import uvloop

            self.loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        else:
            self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], T], timeout: float = 30) -> T:
        """Run `fn()` on the loop thread and return its result."""
        done: Future[T] = Future()

        def wrapper() -> None:
            try:
                done.set_result(fn())
            except BaseException as exc:  # pragma: no cover - reported to the test
                done.set_exception(exc)

        self.loop.call_soon_threadsafe(wrapper)
        return done.result(timeout)

    def close(self) -> None:
        async def shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.run(shutdown(), timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


class CaptureLogger(Logger):
    """A Logger that keeps the lines in memory (the line format is what is tested)."""

    def __init__(self) -> None:
        super().__init__([])
        self.lines: list[str] = []
        self.event = threading.Event()

    def __bool__(self) -> bool:
        return True

    def log(self, message: str, level: str = "info", now: float | None = None) -> None:
        self.lines.append(message)
        self.event.set()

    def wait_lines(self, count: int, timeout: float = 10) -> list[str]:
        deadline = threading.Event()
        for _ in range(int(timeout * 100)):
            if len(self.lines) >= count:
                return list(self.lines)
            deadline.wait(0.01)
        raise AssertionError(f"expected {count} log lines, got {self.lines}")


def free_port() -> int:
    """A loopback port with nothing listening (connects are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Proxy:
    """A TcpService listening on 127.0.0.1:0 (one socket per listener) in a LoopThread."""

    def __init__(
        self,
        lt: LoopThread,
        frontend: TcpFrontend,
        listeners: Sequence[Listener] = (Listener(),),
        host: str = "127.0.0.1",
        **service_kwargs: Any,
    ) -> None:
        self.lt = lt
        self.sockets: list[socket.socket] = []

        async def start() -> TcpService:
            service = TcpService(frontend, **service_kwargs)
            for listener in listeners:
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                sock = socket.socket(family, socket.SOCK_STREAM)
                sock.bind((host, 0))
                sock.listen(1024)
                sock.setblocking(False)
                self.sockets.append(sock)
                await service.listen(sock, listener)
            return service

        self.service = lt.run(start())

    @property
    def port(self) -> int:
        return int(self.sockets[0].getsockname()[1])

    def connect(self, src: str | None = None, index: int = 0, timeout: float = 10) -> socket.socket:
        host, port = self.sockets[index].getsockname()[:2]
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        if src is not None:
            sock.bind((src, 0))
        sock.connect((host, port))
        return sock

    def sessions(self) -> int:
        return self.lt.call(lambda: len(self.service.sessions))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.lt.call(self.service.kill)


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Backend:
    """An asyncio stream server on 127.0.0.1:0 running `handler` per connection."""

    def __init__(self, lt: LoopThread, handler: Handler, host: str = "127.0.0.1") -> None:
        self.lt = lt
        self.connections = 0
        self.active = 0
        self.max_active = 0

        async def wrapped(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            try:
                await handler(reader, writer)
            except (ConnectionError, OSError):
                pass
            finally:
                self.active -= 1
                if not writer.is_closing():
                    writer.close()

        async def start() -> asyncio.Server:
            return await asyncio.start_server(wrapped, host, 0)

        self.server = lt.run(start())
        self.port = int(self.server.sockets[0].getsockname()[1])
        self.address = f"{host}:{self.port}"

    def close(self) -> None:
        async def stop() -> None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 1)

        with contextlib.suppress(Exception):
            self.lt.run(stop(), timeout=5)


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Echo everything; on EOF, shut the write side too."""
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.write_eof()
    await writer.drain()


async def count_then_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read until the client's EOF, then answer how many bytes came (a half-close check)."""
    total = 0
    while data := await reader.read(65536):
        total += len(data)
    writer.write(f"got {total}".encode())
    await writer.drain()
    writer.close()


def named(name: str) -> Handler:
    """Answer with the server's name, then close (which server was picked?)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(name.encode())
        await writer.drain()
        writer.close()

    return handler


def rst(sock: socket.socket) -> None:
    """Close with an RST instead of a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def recv_all(sock: socket.socket, limit: int = 1 << 30) -> bytes:
    chunks = []
    total = 0
    while total < limit:
        data = sock.recv(65536)
        if not data:
            break
        chunks.append(data)
        total += len(data)
    return b"".join(chunks)


def wait_until(check: Callable[[], bool], timeout: float = 10, what: str = "condition") -> None:
    """Poll `check` until true; fail (never hang) after `timeout` seconds."""
    pause = threading.Event()
    for _ in range(int(timeout * 50)):
        if check():
            return
        pause.wait(0.02)
    raise AssertionError(f"timed out waiting for {what}")
