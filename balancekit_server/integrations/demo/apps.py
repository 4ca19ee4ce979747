"""The tutorials' Flask apps, served from threads on free loopback ports.

The demo must work on a fresh machine with one command, so the backends run
inside the demo process (werkzeug's threaded server, one per app) instead of
as separate scripts; their answers are the tutorials' own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

__all__ = ["APPS", "AppServers", "make_app"]


def _numbered(n: int) -> Flask:
    """EP5/EP7/EP8/EP9's app<n>.py: "/" and "/data" answer with the app's number."""
    app = Flask(f"app{n}")
    app.add_url_rule("/", "home", lambda: f"Hello from Flask App {n}!")
    app.add_url_rule("/data", "data", lambda: f"Data from Flask App {n}!")

    def anything(path: str) -> str:
        return f"Hello from Flask App {n}! (/{path})"

    app.add_url_rule("/<path:path>", "anything", anything)
    return app


def _tcp() -> Flask:
    """EP2's app.py."""
    app = Flask("tcp_app")
    app.add_url_rule("/", "home", lambda: "Hello from Flask over TCP!")
    return app


def _acl_main() -> Flask:
    """EP4's app1.py."""
    app = Flask("acl_app1")
    app.add_url_rule("/", "index", lambda: "Welcome to the main page!")
    return app


def _acl_form() -> Flask:
    """EP4's app2.py."""
    app = Flask("acl_app2")
    app.add_url_rule(
        "/submit", "submit_form", lambda: "Form submitted successfully!", methods=["POST"]
    )
    return app


def _static() -> Flask:
    """EP3's static_app.py, with its `static` folder's content generated in memory."""
    app = Flask("static_app", static_folder=None)  # the route below replaces Flask's own

    def serve_static(filename: str) -> tuple[str, int, dict[str, str]]:
        return f"static file {filename} from static_app\n", 200, {"Content-Type": "text/plain"}

    app.add_url_rule("/static/<path:filename>", "serve_static", serve_static)
    return app


def _dynamic() -> Flask:
    """EP3's dynamic_app.py."""
    app = Flask("dynamic_app")
    app.add_url_rule("/", "home", lambda: "Welcome to FitGuru!")
    app.add_url_rule("/api/data", "api_data", lambda: {"data": "Some dynamic data"})
    return app


def _mysql(env: Mapping[str, str]) -> Flask:
    """The MySQL tutorial's app.py: SQLAlchemy + pymysql through the proxy at LISTEN."""
    try:
        from sqlalchemy import create_engine, text
    except ImportError:
        raise OSError(
            "the mysql demo needs SQLAlchemy and PyMySQL: pip install sqlalchemy pymysql"
        ) from None
    engine = create_engine(
        f"mysql+pymysql://haproxy_user:tester@{env['LISTEN']}", pool_size=1, pool_recycle=-1
    )
    app = Flask("mysql_app")

    def todos() -> dict[str, Any]:
        with engine.connect() as conn:
            rows = conn.execute(text("select * from test.todos"))
            return {str(r[0]): {"item": r[1], "status": r[2]} for r in rows}

    def slow_query(s: str) -> dict[str, Any]:
        with engine.connect() as conn:
            conn.execute(text("SELECT SLEEP(:s)"), {"s": float(s)})
        return {"slept": s}

    app.add_url_rule("/", "main", lambda: "Welcome!\n")
    app.add_url_rule("/todos", "list_todos", todos)
    app.add_url_rule("/sleep/<s>", "slow_query", slow_query)
    return app


Factory = Callable[[Mapping[str, str]], Flask]

#: app kind -> factory (given the demo's addresses); a scenario lists (variable, kind) pairs.
APPS: dict[str, Factory] = {
    "app1": lambda env: _numbered(1),
    "app2": lambda env: _numbered(2),
    "app3": lambda env: _numbered(3),
    "tcp": lambda env: _tcp(),
    "acl_main": lambda env: _acl_main(),
    "acl_form": lambda env: _acl_form(),
    "static": lambda env: _static(),
    "dynamic": lambda env: _dynamic(),
    "mysql": _mysql,
}


def make_app(kind: str, env: Mapping[str, str] | None = None) -> Flask:
    return APPS[kind](env or {})


@dataclass
class _Running:
    name: str
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.server_port}"


class AppServers:
    """Start each named app on 127.0.0.1, port 0, in its own thread; `close` stops all."""

    def __init__(self, apps: Iterable[tuple[str, str]]) -> None:
        self._wanted = list(apps)
        self.running: dict[str, _Running] = {}

    def __repr__(self) -> str:
        started = ", ".join(f"{n}={r.address}" for n, r in self.running.items())
        return f"<AppServers [{started}]>"

    def start(self, env: Mapping[str, str] | None = None) -> AppServers:
        """Serve every app; `env` holds the demo's addresses for apps that need them."""
        # Flask/werkzeug log every request; the proxy's own log already shows them.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        for name, kind in self._wanted:
            server = make_server("127.0.0.1", 0, make_app(kind, env), threaded=True)
            thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
            thread.start()
            self.running[name] = _Running(name, server, thread)
        return self

    def address(self, name: str) -> str:
        return self.running[name].address

    def close(self) -> None:
        for running in self.running.values():
            running.server.shutdown()
            running.server.server_close()
            running.thread.join(timeout=5)
        self.running.clear()
