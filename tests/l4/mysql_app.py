"""The seed's Flask + SQLAlchemy + pymysql app (seed 004), in SQLAlchemy 2 syntax.

Same endpoints as the tutorial: `/` says welcome, `/todos` lists the todos
table, `/sleep/<s>` runs `SELECT SLEEP(s)`.  The engine is the tutorial's
(`pool_size=1, pool_recycle=-1`); the URI points at the proxy.  One deliberate
change: a database that goes away mid-query answers 503 with the error, which
is the "clean error" the test expects instead of a hang.
"""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from werkzeug.serving import BaseWSGIServer, make_server


def create_app(db_uri: str) -> Flask:
    app = Flask(__name__)
    engine = create_engine(db_uri, pool_size=1, pool_recycle=-1, connect_args={"read_timeout": 60})
    app.config["engine"] = engine

    @app.route("/")
    def main() -> str:
        return "Welcome!\n"

    @app.route("/todos")
    def list_todos() -> dict[str, Any]:
        with engine.connect() as conn:
            rows = conn.execute(text("select * from test.todos"))
            return {str(row[0]): {"item": row[1], "status": row[2]} for row in rows}

    @app.route("/sleep/<s>")
    def slow_query(s: str) -> dict[str, Any]:
        with engine.connect() as conn:
            conn.execute(text("SELECT SLEEP(:s)"), {"s": float(s)})
        return {"slept": s}

    @app.errorhandler(DBAPIError)
    def database_error(error: DBAPIError) -> tuple[dict[str, str], int]:
        return {"error": str(error.orig)}, 503

    return app


class AppServer:
    """The app on a threaded werkzeug server on 127.0.0.1:0, in a background thread."""

    def __init__(self, db_uri: str) -> None:
        self.app = create_app(db_uri)
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.app.config["engine"].dispose()
