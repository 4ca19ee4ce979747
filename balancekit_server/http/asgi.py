"""The ASGI front door: `ProxyApp`, the same proxy mounted in any ASGI server.

`ProxyApp` turns an ASGI `http` scope into an `AsgiExchange` (asgi_exchange.py)
for the shared `HttpProxy` (routing, leases, upstream pools, error pages, logs are
all there) and hands `websocket` scopes to the relay in asgi_ws.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from balancekit import Backend
from balancekit.config.runtime import BackendRuntime, Frontend
from balancekit_server.http.asgi_exchange import AsgiExchange, Receive, Scope, Send
from balancekit_server.http.asgi_ws import proxy_websocket
from balancekit_server.http.proxy import HttpLogEntry, HttpProxy, RouterLike

__all__ = ["ProxyApp"]


class ProxyApp:
    """ASGI application proxying every `http` request through balancekit.

    `frontend_or_router` is a config `Frontend` (its `router` is used, and its
    timeouts, forwardfor and errorfiles) or any object with `route(Request)`.
    `backends` maps names to the config's `BackendRuntime`s or bare `Backend`s.
    """

    def __init__(
        self,
        frontend_or_router: Frontend | RouterLike,
        backends: Mapping[str, BackendRuntime | Backend],
        *,
        frontend: Frontend | None = None,
        log: Callable[[HttpLogEntry], None] | None = None,
        counters: Any = None,
    ) -> None:
        router: RouterLike
        if isinstance(frontend_or_router, Frontend):
            frontend = frontend if frontend is not None else frontend_or_router
            if frontend_or_router.router is None:
                raise ValueError(f"frontend '{frontend_or_router.name}' has no router")
            router = frontend_or_router.router
        else:
            router = frontend_or_router
        self.proxy = HttpProxy(router, backends, frontend, log=log, counters=counters)

    def __repr__(self) -> str:
        return f"<ProxyApp {self.proxy!r}>"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            ex = AsgiExchange(
                scope,
                receive,
                send,
                asyncio.get_running_loop(),
                self.proxy.frontend.max_header_lines,
            )
            if ex.malformed:
                ex.send_page(self.proxy.error_page(ex.malformed_status))
                await ex.pump()
                return
            try:
                await ex.serve(self.proxy)
            except ConnectionResetError:
                return
            if ex.aborted:
                raise ConnectionAbortedError("upstream response was cut short")
        elif kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    self.proxy.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        elif kind == "websocket":
            await proxy_websocket(self.proxy, scope, receive, send)
        else:
            raise NotImplementedError(f"ProxyApp does not serve '{kind}' scopes")
