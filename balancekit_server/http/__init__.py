"""L7: the HTTP reverse proxy (`mode http`).

One proxy core (`HttpProxy`) with two front doors: a fast asyncio-Protocol
server (`serve`, used by `balancekit-server`) and an ASGI application
(`ProxyApp`) for any ASGI server.  See docs/http.md.
"""

from __future__ import annotations

from .asgi import ProxyApp
from .errors import ErrorPage, ErrorPages
from .listen import HttpListener, HttpService, serve, serve_frontend
from .proxy import HttpLogEntry, HttpProxy

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
