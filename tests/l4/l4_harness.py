"""Test harness for the L4 forwarder: an event loop in a thread, real backends, real sockets.

Tests are plain synchronous pytest functions using blocking client sockets; the
forwarder and the backends run on one asyncio loop in a background thread, so a
test can drive clients, then inspect the proxy's live state through `call`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from balancekit_server.net.poller import close_poller
from balancekit_server.ops.logs import Logger
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
        # The tests leave proxies listening: close their sockets now rather than
        # when the garbage collector gets to them, or descriptors pile up over the
        # suite (HAProxy with a small maxconn refuses fd@ numbers past its limit).
        with contextlib.suppress(Exception):
            self.call(lambda: close_poller(self.loop), timeout=5)
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
            except asyncio.CancelledError:
                pass  # loop shutdown: end quietly (asyncio's streams log cancelled handlers)
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


_STARTED = re.compile(r"Proxy (\S+) started on (.*)\.$")


class ServerProcess:
    """`balancekit-server -f <config>` as a real process; ports are read from its notices.

    Binds in the config use port 0; the runtime prints `Proxy NAME started on
    host:port, …` on stderr and `addresses[NAME]` holds what was bound.
    """

    def __init__(self, config: str, *, expect: Sequence[str] = ()) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bk-l4-"))
        self.config_path = self.dir / "haproxy.cfg"
        self.config_path.write_text(config)
        self.stdout_path = self.dir / "stdout.log"
        self.stderr_path = self.dir / "stderr.log"
        self.addresses: dict[str, list[tuple[str, int]]] = {}
        out = self.stdout_path.open("wb")
        err = self.stderr_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "balancekit_server.cli", "-f", str(self.config_path)],
            stdout=out,
            stderr=err,
        )
        out.close()
        err.close()
        wanted = set(expect)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            self._read_notices()
            if self.process.poll() is not None:
                raise RuntimeError(f"balancekit-server exited:\n{self.stderr()}")
            if wanted and wanted <= set(self.addresses):
                return
            if not wanted and self.addresses:
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"balancekit-server did not start:\n{self.stderr()}")

    def _read_notices(self) -> None:
        for line in self.stderr().splitlines():
            match = _STARTED.search(line)
            if match:
                pairs = []
                for item in match.group(2).split(", "):
                    host, _, port = item.rpartition(":")
                    pairs.append((host, int(port)))
                self.addresses[match.group(1)] = pairs

    def port(self, name: str, index: int = 0) -> int:
        return self.addresses[name][index][1]

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float = 20) -> int:
        return self.process.wait(timeout)

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
