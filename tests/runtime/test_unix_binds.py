"""UNIX sockets: `bind unix@/path`, a bare `/path`, `bind abns@name`, and servers
at `unix@/path` and `abns@name`.

The same config runs under HAProxy 2.6 and balancekit-server (each with its own
socket paths and abstract names), and the answers and log lines must agree: a
UNIX socket's client has no address (`src`, `src_port`, `dst` find nothing, no
X-Forwarded-For is added) and both ends are logged `unix:<listener id>`.
Clients are curl (`--unix-socket`) and a raw socket connecting to the abstract
name the way HAProxy's own `abns@` servers do (the whole 108-byte `sun_path`).
Servers are a real HTTP application on a UNIX socket (health-checked) and the
proxy's own frontend behind `abns@`, reached with a PROXY v2 header (HAProxy's
usual way to chain a TCP frontend to an HTTP one).
"""

from __future__ import annotations

import json
import re
import socket
import socketserver
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from support.backends import NamedBackends
from support.client import http_request, parse_response
from support.haproxy import BALANCEKIT, HAPROXY, HAProxy

PROGRAMS = {"balancekit": BALANCEKIT, "haproxy": (HAPROXY,)}

RULE = 'http-request set-header X-Where "%[src]|%ci|%cp|%[src_port]|%[dst]|%fi|%fp|%[dst_port]"'


def _config(backends: NamedBackends, where: Path, abstract: str) -> str:
    return f"""
global
    stats socket {{stats}} level admin
    log stdout format raw local0

defaults
    log global
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend web
    mode http
    option httplog
    option forwardfor
    bind {{listen:main}}
    bind unix@{where}/web.sock
    bind abns@{abstract}
    {RULE}
    use_backend unix_app if {{ path_beg /app }}
    use_backend chained if {{ path_end /loop }}
    default_backend app

frontend inner
    mode http
    option httplog
    bind abns@{abstract}-in accept-proxy
    http-request set-header X-Inner "%[src]|%[dst]|%ci"
    default_backend app

backend unix_app
    mode http
    server u1 unix@{where}/app.sock check inter 200

backend chained
    mode http
    server loop abns@{abstract}-in send-proxy-v2

frontend raw
    mode tcp
    option tcplog
    bind {where}/raw.sock
    default_backend app_tcp

backend app
    mode http
{backends.server_lines(names=["s1"])}

backend app_tcp
    mode tcp
{backends.server_lines(names=["s1"])}
"""


class _UnixApp(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


class _UnixHandler(BaseHTTPRequestHandler):
    """An application on a UNIX socket: answers with the path it was asked for."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = f"unix app: {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _abstract_request(name: str, request: bytes) -> bytes:
    raw = ("\0" + name).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(raw + b"\0" * (108 - len(raw)))
        sock.sendall(request)
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    return b"".join(chunks)


def _wait_log(proxy: HAProxy, count: int) -> str:
    """The log once `count` request lines are in (the TCP one comes after the close)."""
    deadline = time.monotonic() + 5
    while True:
        log = proxy.log()
        if log.count("\nunix:") + log.startswith("unix:") >= count or time.monotonic() > deadline:
            return log
        time.sleep(0.05)


def _run(program: str, tmp_path: Path) -> tuple[list[object], list[str]]:
    where = tmp_path / program
    where.mkdir()
    abstract = f"bk-test-{uuid.uuid4().hex[:12]}"
    seen: list[object] = []
    app = _UnixApp(str(where / "app.sock"), _UnixHandler)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    with NamedBackends(["s1"]) as backends:
        proxy = HAProxy(_config(backends, where, abstract), command=PROGRAMS[program]).start()
        try:
            time.sleep(0.5)  # the UNIX application's first check
            up = [line for line in proxy.command("show stat").splitlines() if ",u1," in line]
            seen.append(up[0].split(",")[17])
            port = proxy.port("main")
            seen.append(http_request(port, "/app/x").text)
            chained = http_request(port, "/echo/loop")
            inner = {k.lower(): v for k, v in json.loads(chained.text)["headers"]}
            seen.append(inner.get("x-inner"))
            curl = subprocess.run(
                ["curl", "-s", "--unix-socket", str(where / "web.sock"), "http://site/echo"],
                capture_output=True,
                timeout=10,
                check=True,
            )
            echoed = dict(json.loads(curl.stdout)["headers"])
            seen.append({k.lower(): v for k, v in echoed.items() if k.lower() != "host"})
            answer = parse_response(
                _abstract_request(
                    abstract, b"GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                )
            )
            seen.append((answer.status, answer.text))
            raw = subprocess.run(
                ["curl", "-s", "--unix-socket", str(where / "raw.sock"), "http://site/plain"],
                capture_output=True,
                timeout=10,
                check=True,
            )
            seen.append(raw.stdout.decode())
            assert (where / "web.sock").is_socket() and (where / "raw.sock").is_socket()
            log = _wait_log(proxy, 3)
        finally:
            proxy.stop()
            app.shutdown()
            app.server_close()
    lines = [
        re.sub(r"\[[^]]+\]", "[date]", re.sub(r" \d+/\d+/\d+(/\d+/\d+)? ", " <timers> ", line))
        for line in log.splitlines()
        if line.startswith("unix:")
    ]
    return seen, lines


@pytest.mark.parametrize("program", ["balancekit"])
def test_unix_and_abstract_binds_answer_and_log_as_haproxy(program: str, tmp_path: Path) -> None:
    ours, our_log = _run(program, tmp_path)
    theirs, their_log = _run("haproxy", tmp_path)
    assert ours == theirs
    assert ours[:3] == ["UP", "unix app: /app/x", "127.0.0.1|127.0.0.1|127.0.0.1"]
    assert ours[3]["x-where"] == "|unix|2|||unix|2|"  # type: ignore[index]  # (bind 2)
    assert "x-forwarded-for" not in ours[3]  # type: ignore[operator]
    assert ours[4] == (200, "s1")
    assert sorted(our_log) == sorted(their_log)
    assert len(our_log) == 3, our_log


def test_a_unix_server_address_is_all_host_even_with_a_colon() -> None:
    """A UNIX socket's path is never split at a colon into host and port."""
    from balancekit.server import Server, unix_sockaddr

    server = Server("u", "unix@/run/app:v2.sock")
    assert (server.host, server.port) == ("unix@/run/app:v2.sock", 0)
    assert unix_sockaddr(server.host) == "/run/app:v2.sock"
    abstract = unix_sockaddr(Server("a", "abns@name:1").host)
    assert (
        isinstance(abstract, bytes) and abstract.startswith(b"\0name:1\0") and len(abstract) == 108
    )
