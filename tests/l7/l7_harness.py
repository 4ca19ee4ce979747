"""L7 test harness: the proxy runs on its own event loop thread so tests can use
ordinary blocking clients (sockets, curl) against real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from balancekit import Request
from balancekit.routing import Decision
from balancekit_server.http import HttpLogEntry, ProxyApp, serve


@dataclass
class FnRouter:
    """A router from a Python function: enough to drive the proxy without a config."""

    fn: Callable[[Request], Decision]
    seen: list[Request] = field(default_factory=list)
    filters_connections = False

    def accept_connection(self, request: Request) -> bool:
        return True

    def route(self, request: Request) -> Decision:
        self.seen.append(request)
        return self.fn(request)


def to(backend: str) -> FnRouter:
    return FnRouter(lambda _r: Decision(backend=backend))


class LoopThread:
    """An event loop in a daemon thread; `call(coro)` runs a coroutine there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        """Cancel what is still running (health checks, handlers), then stop the loop."""

        async def cancel_all() -> None:
            current = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not current]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.call(cancel_all(), timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        if not self.thread.is_alive():
            self.loop.close()


class RunningProxy:
    """The fast server (`serve`) on a loop thread; `port`, `logs`, `proxy`."""

    def __init__(self, router: Any, backends: dict[str, Any], frontend: Any = None, **kw: Any):
        self.logs: list[HttpLogEntry] = []
        self.thread = LoopThread()

        async def start() -> Any:
            return await serve(router, backends, frontend, log=self.logs.append, **kw)

        self.listener = self.thread.call(start())
        self.port = self.listener.port
        self.proxy = self.listener.proxy

    def close(self) -> None:
        async def stop() -> None:
            self.listener.close()
            await self.listener.wait_closed()

        self.thread.call(stop())
        self.thread.stop()


class RunningAsgi:
    """`ProxyApp` under a real uvicorn (httptools) on a free port."""

    def __init__(
        self,
        router: Any,
        backends: dict[str, Any],
        frontend: Any = None,
        *,
        http: str = "httptools",
    ):
        self.logs: list[HttpLogEntry] = []
        self.app = ProxyApp(router, backends, frontend=frontend, log=self.logs.append)
        self.proxy = self.app.proxy
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        config = uvicorn.Config(
            self.app,
            http=http,
            loop="asyncio",
            log_level="error",
            lifespan="on",
            proxy_headers=False,
        )
        self.server = uvicorn.Server(config)
        self.done: Future[None] = Future()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        while not self.server.started:
            if self.done.done():
                self.done.result()
            threading.Event().wait(0.01)

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.done.set_result(None)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
