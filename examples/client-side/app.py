"""A Flask + SQLAlchemy app that balances its reads over MariaDB replicas itself.

No proxy process: `replicas.ReplicaSet` holds a `balancekit.Backend` and picks a
replica per read.  Configure with the environment:

    REPLICAS="r1=127.0.0.1:3306,r2=127.0.0.1:3307"  (name=host:port, comma-separated)
    BALANCE=roundrobin | leastconn                   (any haproxy `balance` word)
    DB_USER, DB_PASSWORD, DB_NAME                    (default haproxy_user/tester/test)
    HOST, PORT                                       (default 127.0.0.1:8000)

Routes: /todos (a read, with the replica that served it), /sleep/<s> (a slow read,
to watch leastconn), /replicas (each replica's state, in-flight reads and picks).
"""

from __future__ import annotations

import os

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from replicas import ReplicaSet, parse_replicas

import balancekit


def create_app(replicas: ReplicaSet) -> Flask:
    app = Flask(__name__)

    @app.route("/todos")
    def todos() -> ResponseReturnValue:
        result = replicas.read("SELECT id, item, status FROM todos ORDER BY id")
        items = {str(r[0]): {"item": r[1], "status": r[2]} for r in result.rows}
        return jsonify(replica=result.replica, todos=items)

    @app.route("/sleep/<float:seconds>")
    def sleep(seconds: float) -> ResponseReturnValue:
        result = replicas.read("SELECT SLEEP(:s)", {"s": seconds})
        return jsonify(replica=result.replica, slept=seconds)

    @app.route("/replicas")
    def status() -> ResponseReturnValue:
        return jsonify(replicas=replicas.status(), events=replicas.events)

    @app.errorhandler(balancekit.NoServerAvailable)
    def no_replica(exc: balancekit.NoServerAvailable) -> ResponseReturnValue:
        return jsonify(error=str(exc)), 503

    return app


def main() -> None:
    servers = parse_replicas(os.environ.get("REPLICAS", "r1=127.0.0.1:3306,r2=127.0.0.1:3306"))
    replicas = ReplicaSet(
        servers,
        balance=os.environ.get("BALANCE", "roundrobin"),
        user=os.environ.get("DB_USER", "haproxy_user"),
        password=os.environ.get("DB_PASSWORD", "tester"),
        database=os.environ.get("DB_NAME", "test"),
    )
    replicas.start_checks()
    try:
        create_app(replicas).run(
            host=os.environ.get("HOST", "127.0.0.1"),
            port=int(os.environ.get("PORT", "8000")),
            threaded=True,
        )
    finally:
        replicas.close()


if __name__ == "__main__":
    main()
