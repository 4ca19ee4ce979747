"""Starting the fast HTTP server on sockets: `serve()` for Python objects and
`serve_frontend()` for a `mode http` frontend of a loaded config."""

from __future__ import annotations

import asyncio
import contextlib
import ssl as _ssl
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .proxy import HttpLogEntry, HttpProxy, RouterLike
from .server import HttpServerProtocol

__all__ = ["HttpListener", "add_sni_capture", "serve"]


def add_sni_capture(context: _ssl.SSLContext) -> _ssl.SSLContext:
    """Remember the client's SNI on the SSL object so `ssl_fc_sni` ACLs can read it.

    An existing `sni_callback` (certificate selection) keeps working: it is called
    after the name is recorded.
    """
    previous = context.sni_callback

    def capture(sslobj: Any, name: str | None, ctx: _ssl.SSLContext) -> int | None:
        if name:
            with contextlib.suppress(AttributeError):
                sslobj.bk_sni = name
        return previous(sslobj, name, ctx) if previous is not None else None  # type: ignore[arg-type]

    context.sni_callback = capture
    return context


class HttpListener:
    """The listening sockets of one HTTP frontend; `close()`/`wait_closed()` like
    `asyncio.Server`."""

    def __init__(self, proxy: HttpProxy, servers: list[asyncio.Server]) -> None:
        self.proxy = proxy
        self.servers = servers

    @property
    def sockets(self) -> list[Any]:
        return [sock for server in self.servers for sock in server.sockets]

    @property
    def port(self) -> int:
        """The first socket's port (handy after binding port 0)."""
        return int(self.sockets[0].getsockname()[1])

    def close(self) -> None:
        for server in self.servers:
            server.close()
        self.proxy.close()

    async def wait_closed(self) -> None:
        for server in self.servers:
            await server.wait_closed()

    def __repr__(self) -> str:
        addrs = [s.getsockname()[:2] for s in self.sockets]
        return f"<HttpListener {self.proxy.name} {addrs}>"


async def serve(
    router: RouterLike,
    backends: Mapping[str, Any],
    frontend: Any = None,
    *,
    binds: Sequence[tuple[str, int] | tuple[str, int, _ssl.SSLContext | None]] = (
        ("127.0.0.1", 0),
    ),
    sockets: Sequence[Any] = (),
    log: Callable[[HttpLogEntry], None] | None = None,
    counters: Any = None,
    proxy: HttpProxy | None = None,
) -> HttpListener:
    """Serve one HTTP frontend with the fast protocol on `binds` (host, port[, ssl])
    and/or already-bound `sockets`."""
    loop = asyncio.get_running_loop()
    if proxy is None:
        proxy = HttpProxy(router, backends, frontend, log=log, counters=counters)
    servers: list[asyncio.Server] = []
    for bind in binds:
        host, port = bind[0], bind[1]
        context = bind[2] if len(bind) > 2 else None
        if context is not None:
            add_sni_capture(context)
        servers.append(
            await loop.create_server(
                _factory(proxy, context is not None),
                host or None,
                port,
                ssl=context,
                backlog=1024,
                reuse_address=True,
            )
        )
    for sock in sockets:
        servers.append(await loop.create_server(_factory(proxy, False), sock=sock, backlog=1024))
    return HttpListener(proxy, servers)


def _factory(proxy: HttpProxy, tls: bool) -> Callable[[], HttpServerProtocol]:
    return lambda: HttpServerProtocol(proxy, ssl=tls)
