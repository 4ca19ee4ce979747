"""A Flask + SQLAlchemy app that balances its reads over MariaDB replicas itself.

No proxy process: `balancekit.sqlalchemy.ReplicaRouter` (built in `replicas.py`)
sends writes to the primary and spreads reads over healthy replicas.  Configure
with the environment:

    PRIMARY="127.0.0.1:3306"                         (host:port of the primary)
    REPLICAS="r1=127.0.0.1:3306,r2=127.0.0.1:3307"  (name=host:port, comma-separated)
    BALANCE=roundrobin | leastconn                   (any haproxy `balance` word)
    DB_USER, DB_PASSWORD, DB_NAME                    (default haproxy_user/tester/test)
    HOST, PORT                                       (default 127.0.0.1:8000)

Routes: GET /todos (a read, with the replica that served it), POST /todos/<item>
(a write, on the primary), /sleep/<s> (a slow read, to watch leastconn),
/replicas (the pool's state: per replica its status, check, in-flight reads, picks).
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from replicas import make_router, parse_replicas
from sqlalchemy import text
from sqlalchemy.engine import Connection

import balancekit
from balancekit.sqlalchemy import ReplicaRouter


def create_app(router: ReplicaRouter) -> Flask:
    app = Flask(__name__)
    names = {engine: name for name, engine in router.replicas.items()}

    def served_by(conn: Connection) -> str:
        return names[conn.engine]

    @app.get("/todos")
    def todos() -> ResponseReturnValue:
        def query(conn: Connection) -> tuple[str, list[Any]]:
            rows = conn.execute(text("SELECT id, item, status FROM todos ORDER BY id")).all()
            return served_by(conn), list(rows)

        replica, rows = router.read(query)
        items = {str(r[0]): {"item": r[1], "status": r[2]} for r in rows}
        return jsonify(replica=replica, todos=items)

    @app.post("/todos/<item>")
    def add(item: str) -> ResponseReturnValue:
        router.write(
            lambda conn: conn.execute(
                text(
                    "INSERT INTO todos (id, item, status)"
                    " SELECT COALESCE(MAX(id), 0) + 1, :item, 'pending' FROM todos"
                ),
                {"item": item},
            )
        )
        return jsonify(added=item), 201

    @app.get("/sleep/<float:seconds>")
    def sleep(seconds: float) -> ResponseReturnValue:
        def query(conn: Connection) -> str:
            conn.execute(text("SELECT SLEEP(:s)"), {"s": seconds})
            return served_by(conn)

        return jsonify(replica=router.read(query), slept=seconds)

    @app.get("/replicas")
    def status() -> ResponseReturnValue:
        stats = router.pool.stats()
        return jsonify(
            balance=stats["balance"],
            retries=stats["retries"],
            redispatches=stats["redispatches"],
            replicas=[{"name": name, **state} for name, state in stats["servers"].items()],
        )

    @app.errorhandler(balancekit.NoServerAvailable)
    def no_replica(exc: balancekit.NoServerAvailable) -> ResponseReturnValue:
        return jsonify(error=str(exc)), 503

    return app


def main() -> None:
    replicas = parse_replicas(os.environ.get("REPLICAS", "r1=127.0.0.1:3306,r2=127.0.0.1:3306"))
    router = make_router(
        os.environ.get("PRIMARY", "127.0.0.1:3306"),
        replicas,
        balance=os.environ.get("BALANCE", "roundrobin"),
        user=os.environ.get("DB_USER", "haproxy_user"),
        password=os.environ.get("DB_PASSWORD", "tester"),
        database=os.environ.get("DB_NAME", "test"),
    )
    try:
        create_app(router).run(
            host=os.environ.get("HOST", "127.0.0.1"),
            port=int(os.environ.get("PORT", "8000")),
            threaded=True,
        )
    finally:
        router.close()


if __name__ == "__main__":
    main()
