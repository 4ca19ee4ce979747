"""`balancekit-server --demo` as a newcomer runs it: a real subprocess, curl, Ctrl-C.

The default demo must answer 2:1:3 over the tutorial's three Flask apps, show a
stats page, and on SIGINT stop everything: the process exits 0 and every port it
opened (proxy, stats, the three apps) is closed.
"""

from __future__ import annotations

import collections
import csv
import http.client
import io
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.client import http_request

SERVER = str(Path(sys.executable).parent / "balancekit-server")


class Demo:
    """A running `balancekit-server --demo NAME --port 0`; reads its banner for addresses."""

    def __init__(self, *args: str, port: str | None = "0") -> None:
        options = ["--port", port] if port is not None else []
        self.process = subprocess.Popen(
            [SERVER, "--demo", *args, *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        assert self._ready.wait(30), "demo printed no banner:\n" + self.output
        self.urls = dict(re.findall(r"^\s+(\S+(?: \S+)?)\s+(\w+://\S+?)/?$", self.output, re.M))

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if line.startswith("Ctrl-C stops everything"):
                self._ready.set()
        self._ready.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def port(self, label: str) -> int:
        return int(self.urls[label].rsplit(":", 1)[1].split("/")[0])

    def get(self, path: str = "/", **kwargs: object) -> tuple[int, str]:
        response = http_request(self.port("proxy"), path, **kwargs)  # type: ignore[arg-type]
        return response.status, response.text

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(20)
        finally:
            self._reader.join(5)


@pytest.fixture
def demo() -> Iterator[type[Demo]]:
    started: list[Demo] = []

    def start(*args: str, port: str | None = "0") -> Demo:
        d = Demo(*args, port=port)
        started.append(d)
        return d

    yield start  # type: ignore[misc]
    for d in started:
        if d.process.poll() is None:
            d.process.kill()
            d.process.wait()


def _closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _wait_served(d: Demo) -> int:
    """The banner is printed as the runtime starts; wait until the proxy answers.

    Returns how many requests reached a server (refused connections reach none).
    """
    for _ in range(200):
        try:
            status = d.get("/")[0]
        except OSError:
            threading.Event().wait(0.05)
            continue
        assert status < 500, d.output
        return 1
    raise AssertionError("the demo proxy never answered:\n" + d.output)


def _curl(url: str) -> str:
    """What a newcomer runs: curl, the body as it prints it."""
    done = subprocess.run(
        ["curl", "-sS", "--max-time", "10", url], capture_output=True, text=True, timeout=20
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _server_rows(d: Demo) -> dict[str, dict[str, str]]:
    """The stats page's CSV rows of the demo's three servers, by name."""
    csv_text = http_request(d.port("stats page"), "/stats;csv").text.lstrip("# ")
    return {
        row["svname"]: row
        for row in csv.DictReader(io.StringIO(csv_text))
        if row["pxname"] == "servers" and row["svname"].startswith("server")
    }


def test_default_demo_weighted_two_one_three_then_ctrl_c(demo) -> None:  # type: ignore[no-untyped-def]
    d = demo()
    assert "weighted round robin" in d.output
    served = _wait_served(d)
    for _ in range(6 - served):  # finish the first cycle of 2 + 1 + 3
        d.get("/")
    url = f"http://127.0.0.1:{d.port('proxy')}/"
    total = collections.Counter(_curl(url) for _ in range(6 * 4))
    assert total == {
        "Hello from Flask App 1!": 8,
        "Hello from Flask App 2!": 4,
        "Hello from Flask App 3!": 12,
    }
    stats = http_request(d.port("stats page"), "/stats")
    assert stats.status == 200 and "servers" in stats.text
    rows: dict[str, dict[str, str]] = {}
    for _ in range(200):  # the first checks are spread over `inter` (2 s)
        rows = _server_rows(d)
        if all(row["check_status"] for row in rows.values()):
            break
        threading.Event().wait(0.05)
    assert sorted(rows) == ["server1", "server2", "server3"]
    for row in rows.values():
        assert row["check_status"] == "L4OK" and row["status"] == "UP", row
    ports = [d.port(label) for label in d.urls if label.startswith(("backend", "proxy", "stats"))]
    assert len(ports) == 5
    assert d.stop() == 0
    assert "balancekit demo stopped." in d.output
    assert all(_closed(port) for port in ports), d.output


def test_acl_demo_routes_and_denies(demo) -> None:  # type: ignore[no-untyped-def]
    d = demo("acl")
    _wait_served(d)
    assert d.get("/") == (200, "Welcome to the main page!")
    assert d.get("/submit", method="POST") == (200, "Form submitted successfully!")
    assert d.get("/admin")[0] == 403
    assert d.get("/", src="127.0.1.7")[0] == 403
    assert d.stop() == 0


def test_tcp_demo_relays(demo) -> None:  # type: ignore[no-untyped-def]
    d = demo("tcp")
    _wait_served(d)
    assert d.get("/") == (200, "Hello from Flask over TCP!")
    assert d.stop() == 0


def test_unknown_demo_is_a_clear_error() -> None:
    done = subprocess.run(
        [SERVER, "--demo", "nope", "--port", "0"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert "unknown demo 'nope'; choose one of: weighted, roundrobin" in done.stderr


def test_l7_demo_routes_by_path_over_http_and_https(demo) -> None:  # type: ignore[no-untyped-def]
    d = demo("l7")
    _wait_served(d)
    assert d.get("/") == (200, "Welcome to FitGuru!")
    assert d.get("/static/logo.png") == (200, "static file logo.png from static_app\n")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the demo's throwaway self-signed certificate
    conn = http.client.HTTPSConnection("127.0.0.1", d.port("proxy (TLS)"), context=context)
    conn.request("GET", "/api/data")
    answer = conn.getresponse()
    assert answer.status == 200 and json.loads(answer.read()) == {"data": "Some dynamic data"}
    conn.close()
    assert d.stop() == 0


def test_demo_falls_back_to_a_free_port_when_8080_is_taken(demo) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as taken:
        try:
            taken.bind(("127.0.0.1", 8080))
            taken.listen()
        except OSError:
            pass  # already taken by something else: the demo must fall back all the same
        d = demo("roundrobin", port=None)
        assert "note: 127.0.0.1:8080 is in use; the proxy uses 127.0.0.1:" in d.output
        assert d.port("proxy") != 8080
        _wait_served(d)
        assert d.get("/")[1].startswith("Hello from Flask App ")
        assert d.stop() == 0


@pytest.mark.mariadb
def test_mysql_demo_reads_through_the_tcp_proxy_and_stops_mariadb(demo) -> None:  # type: ignore[no-untyped-def]
    d = demo("mysql")
    app = d.port("app")
    todos = http_request(app, "/todos", timeout=30)
    assert todos.status == 200
    assert json.loads(todos.body)["1"] == {"item": "task1", "status": "pending"}
    database = d.port("mariadb")
    assert not _closed(database)
    assert d.stop() == 0
    assert _closed(database) and _closed(app)
