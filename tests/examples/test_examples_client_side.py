"""examples/client-side against a real MariaDB: reads balanced in-app, no proxy.

Two server entries pointing at the same MariaDB count as two replicas (and that
MariaDB is the primary too); a third entry on a closed port plays a dead replica.
The app is served by a real werkzeug server and queried over HTTP.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from werkzeug.serving import make_server

from support.backends import free_port
from support.client import http_request
from support.mariadb import MariaDB, mariadb  # noqa: F401  (session fixture)

pytestmark = pytest.mark.mariadb

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "client-side"


def _load(name: str, filename: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLE / filename)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


replicas_mod = _load("replicas", "replicas.py")  # app.py imports it by this name
app_mod = _load("client_side_app", "app.py")


class Served:
    """The example app on a real loopback HTTP server, with its ReplicaRouter."""

    def __init__(self, primary: str, spec: str, balance: str) -> None:
        self.router = replicas_mod.make_router(
            primary,
            replicas_mod.parse_replicas(spec),
            balance=balance,
            user="haproxy_user",
            password="tester",
            database="test",
            inter=0.1,
        )
        self.server = make_server("127.0.0.1", 0, app_mod.create_app(self.router), threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def get(self, path: str, method: str = "GET", status: int = 200) -> Any:
        response = http_request(self.server.server_port, path, method=method, timeout=30)
        assert response.status == status, response.text
        return json.loads(response.body)

    def replicas(self) -> dict[str, Any]:
        return {r["name"]: r for r in self.get("/replicas")["replicas"]}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.router.close()


@pytest.fixture
def serve(mariadb: MariaDB) -> Iterator[Any]:  # noqa: F811
    mariadb.seed()
    started: list[Served] = []

    def start(names: list[str], balance: str = "roundrobin", dead: str | None = None) -> Served:
        entries = [f"{n}={mariadb.address}" for n in names]
        if dead:
            entries.insert(0, f"{dead}=127.0.0.1:{free_port()}")
        served = Served(mariadb.address, ",".join(entries), balance)
        started.append(served)
        return served

    yield start
    for served in started:
        served.close()


def test_roundrobin_alternates_replicas_and_reads_the_rows(serve: Any) -> None:
    app = serve(["r1", "r2"])
    seen = [app.get("/todos") for _ in range(6)]
    assert [s["replica"] for s in seen] == ["r1", "r2"] * 3
    assert seen[0]["todos"] == {
        "1": {"item": "task1", "status": "pending"},
        "2": {"item": "task2", "status": "done"},
    }
    status = app.replicas()
    assert status["r1"]["picks"] == 3 and status["r2"]["picks"] == 3


def test_writes_go_to_the_primary_and_replicas_read_them(serve: Any) -> None:
    app = serve(["r1", "r2"])
    assert app.get("/todos/task3", method="POST", status=201) == {"added": "task3"}
    assert app.get("/todos")["todos"]["3"] == {"item": "task3", "status": "pending"}
    # a write takes no replica lease
    assert sum(r["picks"] for r in app.replicas().values()) == 1


def test_leastconn_avoids_the_replica_with_a_slow_read(serve: Any) -> None:
    app = serve(["r1", "r2"], balance="leastconn")
    slow: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: slow.update(app.get("/sleep/1.5")))
    worker.start()
    busy = None
    deadline = time.monotonic() + 10
    while busy is None and time.monotonic() < deadline:
        for name, replica in app.replicas().items():
            if replica["inflight"] == 1:
                busy = name
        time.sleep(0.02)
    assert busy is not None, "the slow read never showed up as in flight"
    others = {app.get("/todos")["replica"] for _ in range(4)}
    worker.join(30)
    assert slow["replica"] == busy
    assert others == {"r1", "r2"} - {busy}


def test_dead_replica_is_retried_elsewhere_then_kept_down(serve: Any) -> None:
    app = serve(["r1", "r2"], dead="gone")
    # The dead replica is first in line: whether its first check or a read finds
    # it dead first (the read is then redispatched), no read fails.
    assert {app.get("/todos")["replica"] for _ in range(3)} <= {"r1", "r2"}
    assert {n: r["status"] for n, r in app.replicas().items()} == {
        "gone": "DOWN",
        "r1": "UP",
        "r2": "UP",
    }
    # The checks (inter 0.1 s) keep it down: no read is sent there again.
    picks_before = app.replicas()["gone"]["picks"]
    time.sleep(0.5)
    served_by = [app.get("/todos")["replica"] for _ in range(6)]
    assert sorted(served_by) == ["r1", "r1", "r1", "r2", "r2", "r2"]
    after = app.replicas()["gone"]
    assert after["picks"] == picks_before
    assert after["status"] == "DOWN" and after["chkdown"] == 1  # down once, stayed down
