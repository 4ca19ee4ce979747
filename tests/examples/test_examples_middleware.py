"""BalancerMiddleware in a real Starlette app served by a real uvicorn.

The frontend's rules run before the app: deny answers 403 and the app never sees
the request, redirects are answered, `use_backend` matches are proxied to real
loopback backends (round robin), header rules reach the app, and health checks
started in the app's lifespan take a dead backend out of rotation.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import balancekit
from balancekit.config import load_text
from balancekit_server.integrations.middleware import BalancerMiddleware
from support.backends import NamedBackends
from support.client import http_request

CONFIG = """
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s

frontend web
    bind 127.0.0.1:0
    acl is_api path_beg /api /echo
    acl is_admin path_beg /admin
    acl from_office src 127.0.10.0/24
    http-request deny if is_admin !from_office
    http-request redirect location /new-home code 301 if {{ path /old-home }}
    http-request return status 200 content-type text/plain string in-app-ok if {{ path /ping }}
    http-request set-header X-Balancer in-app
    use_backend api if is_api
    default_backend api

backend api
    balance roundrobin
{servers}
"""


class AppCalls:
    """What the Starlette app saw: proves a denied request never reached it."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def app(self) -> Starlette:
        async def anything(request: StarletteRequest) -> PlainTextResponse:
            self.paths.append(request.url.path)
            marker = request.headers.get("x-balancer", "-")
            return PlainTextResponse(f"app {request.url.path} x-balancer={marker}")

        return Starlette(routes=[Route("/{path:path}", anything, methods=["GET", "POST"])])


class Served:
    def __init__(self, app: Any) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", lifespan="on", loop="asyncio")
        )
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started

    def get(self, path: str, **kwargs: Any) -> Any:
        return http_request(self.port, path, **kwargs)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Any], Served]]:
    started: list[Served] = []

    def start(app: Any) -> Served:
        served = Served(app)
        started.append(served)
        return served

    yield start
    for served in started:
        served.close()


@pytest.fixture
def api() -> Iterator[NamedBackends]:
    with NamedBackends(["api1", "api2"]) as backends:
        yield backends


def _middleware_app(api: NamedBackends, calls: AppCalls, extra: str = "") -> Any:
    config = load_text(CONFIG.format(servers=api.server_lines(extra))).config
    app = calls.app()
    app.add_middleware(BalancerMiddleware, config=config, frontend="web")
    return app


def test_rules_run_before_the_app(api: NamedBackends, serve: Any) -> None:
    calls = AppCalls()
    served = serve(_middleware_app(api, calls))

    denied = served.get("/admin/users")
    assert denied.status == 403 and "Request forbidden" in denied.text
    inside = served.get("/admin/users", src="127.0.10.9")
    assert inside.status == 200 and inside.text.startswith("app /admin/users")

    moved = served.get("/old-home")
    assert moved.status == 301 and moved.header("location") == "/new-home"

    ping = served.get("/ping")
    assert ping.status == 200 and ping.text == "in-app-ok"

    home = served.get("/")
    assert home.text == "app / x-balancer=in-app"  # header rule applied for the app
    assert calls.paths == ["/admin/users", "/"]  # the denied one never reached the app


def test_use_backend_is_proxied_round_robin(api: NamedBackends, serve: Any) -> None:
    calls = AppCalls()
    served = serve(_middleware_app(api, calls))
    answers = [served.get(f"/api/item/{n}").text for n in range(4)]
    assert answers == ["api1", "api2", "api1", "api2"]
    assert calls.paths == []
    echoed = json.loads(served.get("/echo", method="POST", body=b"hello").text)
    assert echoed["body"] == "hello" and echoed["method"] == "POST"
    assert ["x-balancer", "in-app"] in [[k.lower(), v] for k, v in echoed["headers"]]


def test_health_checks_in_lifespan_take_a_dead_server_out(api: NamedBackends, serve: Any) -> None:
    calls = AppCalls()
    app = _middleware_app(api, calls, extra="check inter 100ms fall 1 rise 1")
    served = serve(app)
    api.servers["api2"].shutdown()
    api.servers["api2"].server_close()
    middleware = _find_middleware(app)
    deadline = time.monotonic() + 10
    pool = middleware.backends["api"].backend
    while pool.state("api2") != "DOWN" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool.state("api2") == "DOWN"
    assert {served.get(f"/api/{n}").text for n in range(4)} == {"api1"}


def test_python_objects_instead_of_a_config_file(api: NamedBackends, serve: Any) -> None:
    router = load_text(CONFIG.format(servers=api.server_lines())).config.frontend("web").router
    pool = balancekit.Backend(
        "api",
        [balancekit.Server("only", api.address("api2"))],
        balance="roundrobin",
    )
    calls = AppCalls()
    app = calls.app()
    app.add_middleware(BalancerMiddleware, router=router, backends={"api": pool})
    served = serve(app)
    assert [served.get("/api/x").text for _ in range(2)] == ["api2", "api2"]
    assert served.get("/elsewhere").text.startswith("app /elsewhere")


def test_bad_arguments_are_clear_errors() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:  # pragma: no cover
        pass

    with pytest.raises(ValueError, match="needs config="):
        BalancerMiddleware(app)
    two = load_text(
        "defaults\n    mode http\n"
        "frontend a\n    bind 127.0.0.1:0\n"
        "frontend b\n    bind 127.0.0.1:0\n"
    ).config
    with pytest.raises(ValueError, match="mode http frontends: a, b"):
        BalancerMiddleware(app, config=two)
    waits = load_text(
        "defaults\n    mode http\n"
        "frontend a\n    bind 127.0.0.1:0\n    http-request wait-for-body time 1s\n"
    ).config
    with pytest.raises(ValueError, match="does not support 'http-request wait-for-body'"):
        BalancerMiddleware(app, config=waits)


def _find_middleware(app: Starlette) -> BalancerMiddleware:
    """Starlette builds its middleware stack lazily; walk it to our instance."""
    layer: Any = app.middleware_stack
    while layer is not None and not isinstance(layer, BalancerMiddleware):
        layer = getattr(layer, "app", None)
    assert isinstance(layer, BalancerMiddleware)
    return layer


def test_proxied_requests_are_logged_to_the_frontends_targets(
    api: NamedBackends, serve: Any
) -> None:
    """`option httplog` and `log <udp>`: the lines the server would send, syslog
    header included; requests the app serves itself are not the proxy's to log."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as syslog:
        syslog.bind(("127.0.0.1", 0))
        syslog.settimeout(5)
        port = syslog.getsockname()[1]
        text = CONFIG.format(servers=api.server_lines()).replace(
            "frontend web\n",
            f"frontend web\n    log 127.0.0.1:{port} local0\n    option httplog\n",
        )
        app = AppCalls().app()
        app.add_middleware(BalancerMiddleware, config=load_text(text).config, checks=False)
        served = serve(app)
        assert served.get("/home").status == 200  # the app's
        assert served.get("/api/a").text == "api1"
        assert served.get("/admin").status == 403
        lines = [syslog.recv(4096).decode() for _ in range(2)]
    assert lines[0].startswith("<134>")  # local0.info
    assert " web api/api1 " in lines[0] and " 200 " in lines[0]
    assert lines[0].endswith('"GET /api/a HTTP/1.1"')
    assert " web web/<NOSRV> " in lines[1] and " 403 " in lines[1] and " PR-- " in lines[1]
