"""L7: the HTTP reverse proxy (`mode http`).

One proxy core (`HttpProxy`) with two front doors: a fast asyncio-Protocol
server (`serve`, used by `balancekit-server`) and an ASGI application
(`ProxyApp`) for any ASGI server.  See docs/http.md.
"""

from __future__ import annotations

from balancekit_server.http.asgi import ProxyApp
from balancekit_server.http.errors import ErrorPage, ErrorPages
from balancekit_server.http.listen import HttpListener, HttpService, serve, serve_frontend
from balancekit_server.http.proxy import HttpLogEntry, HttpProxy

__all__ = [
    "ErrorPage",
    "ErrorPages",
    "HttpListener",
    "HttpLogEntry",
    "HttpProxy",
    "HttpService",
    "ProxyApp",
    "serve",
    "serve_frontend",
]
