"""`BalancerMiddleware`: a frontend's rules and pools inside any ASGI app.

    app.add_middleware(BalancerMiddleware, config="haproxy.cfg", frontend="web")

Per HTTP request, the frontend's compiled rules (`balancekit.routing.Router`)
decide, before the app sees anything:

* `http-request deny|return|redirect` -> answered here (403, the redirect, …);
* a `use_backend` rule that holds -> proxied to that backend's pool by the same
  proxy core as `balancekit-server` (`balancekit_server.http.ProxyApp`: leases,
  maxconn queue, retries, keep-alive upstream pools, error pages);
* anything else -> the app, with the `http-request set/add/del-header` edits
  applied to its headers.

`websocket` scopes go through the same rules: a `use_backend` match (or a
deny) is relayed by the proxy core's WebSocket bridge, anything else reaches the
app's own WebSocket endpoint.

`default_backend` is not used: in-app, the app itself is the default.  Active
health checks for every backend run in the app's lifespan (startup starts them,
shutdown stops them), so the ASGI server must run lifespan events (uvicorn does
by default).

Requests the middleware proxies or answers are logged as the server logs them:
with `option httplog` or a `log-format` on the frontend, each line goes to the
frontend's `log` targets (`log global` reads the config's `global` section), or
to `log=` (a callable taking the line, e.g. a `logging.Logger`'s `info`).
Requests the app serves itself are the app's to log.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import unquote

from balancekit import Backend, Request
from balancekit.config import BackendRuntime, Config, Frontend, LoadResult, load
from balancekit.routing import Decision, Router
from balancekit.rules import apply_header_edits
from balancekit_server.http import ProxyApp
from balancekit_server.ops.checks import HealthMonitor
from balancekit_server.ops.logs import Logger, expand_targets, http_log_writer
from balancekit_server.process.runtime import resolve_cookie_hosts

__all__ = ["BalancerMiddleware", "request_from_scope"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def request_from_scope(scope: Scope) -> Request:
    """The request view the rules read, from an ASGI `http` scope."""
    headers = [
        (bytes(n).decode("latin-1"), bytes(v).decode("latin-1")) for n, v in scope["headers"]
    ]
    raw_path = scope.get("raw_path") or scope.get("path", "/").encode("utf-8")
    path = bytes(raw_path).decode("latin-1").split("?", 1)[0]
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    client = scope.get("client") or ("", 0)
    server = scope.get("server") or ("", 0)
    return Request(
        str(client[0]),
        scope.get("method", "GET"),
        path,
        query,
        headers,
        src_port=int(client[1] or 0),
        dst=str(server[0] or ""),
        dst_port=int(server[1] or 0),
        version="HTTP/" + scope.get("http_version", "1.1"),
        ssl=scope.get("scheme") in ("https", "wss"),
    )


def _load(config: str | os.PathLike[str] | Config | LoadResult) -> Config:
    if isinstance(config, LoadResult):
        config = config.config
    elif not isinstance(config, Config):
        config = load(config).config
    resolve_cookie_hosts(config)
    return config


def _pick_frontend(config: Config, name: str | None) -> Frontend:
    if name is not None:
        return config.frontend(name)
    http = [f for f in config.frontends if f.mode == "http"]
    if len(http) != 1:
        names = ", ".join(f.name for f in http) or "none"
        raise ValueError(f"name the frontend to use (mode http frontends: {names})")
    return http[0]


def _as_runtime(name: str, item: Backend | BackendRuntime) -> BackendRuntime:
    if isinstance(item, BackendRuntime):
        return item
    return BackendRuntime(name=name, mode="http", backend=item)


class BalancerMiddleware:
    """Run one frontend's rules in-app; proxy `use_backend` matches; pass the rest on.

    Give either `config` (a path to an haproxy.cfg, or a loaded `Config` /
    `LoadResult`) and optionally `frontend` (needed when the config has several
    `mode http` frontends), or Python objects: `router` (a `balancekit.routing.Router`)
    and `backends` (name -> `balancekit.Backend` or `BackendRuntime`).
    `checks=False` turns the lifespan health checks off; `log` receives each
    log line instead of the frontend's `log` targets.
    """

    def __init__(
        self,
        app: ASGIApp,
        config: str | os.PathLike[str] | Config | LoadResult | None = None,
        frontend: str | None = None,
        *,
        router: Router | None = None,
        backends: Mapping[str, Backend | BackendRuntime] | None = None,
        checks: bool = True,
        log: Callable[[str], object] | None = None,
    ) -> None:
        self.app = app
        front: Frontend | None = None
        self.logger: Logger | None = None
        emit: Callable[[str, str], None] | None = None
        if config is not None:
            if router is not None or backends is not None:
                raise ValueError("give either config=… or router=/backends=, not both")
            loaded = _load(config)
            front = _pick_frontend(loaded, frontend)
            router = front.router
            backends = loaded.backends
            if log is not None:
                line_sink = log

                def emit(line: str, level: str) -> None:
                    line_sink(line)

            elif front.httplog or front.log_line is not None:
                targets = expand_targets(front.logs, loaded.global_.logs)
                if targets:
                    self.logger = Logger(targets)
                    emit = self.logger.log
        if router is None:
            raise ValueError("BalancerMiddleware needs config=… or router=… (and backends=…)")
        if router.waits_for_body:
            # The decision to hand a request to the app is taken on its head alone:
            # rules that read the body first would consume what the app must get.
            raise ValueError(
                "BalancerMiddleware does not support 'http-request wait-for-body' or "
                "'option http-buffer-request' (run the frontend with balancekit-server "
                "or ProxyApp)"
            )
        self.frontend = front
        # No default_backend in-app: a forward decision without a backend then means
        # "no use_backend rule held", which is the app's turn.
        self.router = router.with_default(None)
        self.backends = {name: _as_runtime(name, b) for name, b in (backends or {}).items()}
        write, log_requests = http_log_writer(front, emit) if front is not None else (None, False)
        self.proxy = ProxyApp(self.router, self.backends, frontend=front, log=write)
        self.proxy.proxy.log_requests = log_requests
        self.checks = checks
        self.monitor: HealthMonitor | None = None

    def __repr__(self) -> str:
        name = self.frontend.name if self.frontend is not None else "(router)"
        return (
            f"<BalancerMiddleware frontend={name} backends={sorted(self.backends)} "
            f"checks={'running' if self.monitor else 'off'}>"
        )

    def decide(self, scope: Scope) -> Decision:
        """What the rules say about this `http` scope (pure; no I/O)."""
        return self.router.route(request_from_scope(scope))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self.app(scope, self._lifespan_receive(receive), send)
            return
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        decision = self.decide(scope)
        if decision.action != "forward" or decision.backend is not None:
            await self.proxy(scope, receive, send)
            return
        if decision.header_edits:
            request = request_from_scope(scope)
            edited = apply_header_edits(request.headers, decision.header_edits)
            scope = dict(scope)
            scope["headers"] = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in edited]
        rewritten = decision.request
        if rewritten is not None:
            # `set-path`, `set-query`…: the app sees the request the rules made.
            scope = dict(scope)
            scope["path"] = unquote(rewritten.path)
            scope["raw_path"] = rewritten.path.encode("latin-1")
            scope["query_string"] = rewritten.query.encode("latin-1")
        if decision.method is not None:
            scope = dict(scope)
            scope["method"] = decision.method
        await self.app(scope, receive, send)

    def _lifespan_receive(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
            return message

        return wrapped

    async def startup(self) -> None:
        """Start health checks (called on lifespan startup, or by hand)."""
        if self.checks and self.monitor is None and self.backends:
            self.monitor = HealthMonitor(self.backends)
            self.monitor.start()

    async def shutdown(self) -> None:
        """Stop health checks and close idle upstream connections."""
        if self.monitor is not None:
            await self.monitor.stop()
            self.monitor = None
        self.proxy.proxy.close()
        if self.logger is not None:
            self.logger.close()
