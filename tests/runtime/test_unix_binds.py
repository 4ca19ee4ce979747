"""`bind unix@/path`, a bare `/path` and `bind abns@name`: listeners on UNIX sockets.

The same config runs under HAProxy 2.6 and balancekit-server (each with its own
socket paths and abstract names), and the answers and log lines must agree: a
UNIX socket's client has no address (`src`, `src_port`, `dst` find nothing, no
X-Forwarded-For is added) and both ends are logged `unix:<listener id>`.
Clients are curl (`--unix-socket`) and a raw socket connecting to the abstract
name the way HAProxy's own `abns@` servers do (the whole 108-byte `sun_path`).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from support.backends import NamedBackends
from support.client import parse_response
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
    bind {{listen:unused}}
    bind unix@{where}/web.sock
    bind abns@{abstract}
    {RULE}
    default_backend app

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
    with NamedBackends(["s1"]) as backends:
        proxy = HAProxy(_config(backends, where, abstract), command=PROGRAMS[program]).start()
        try:
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
    assert ours[0]["x-where"] == "|unix|2|||unix|2|"  # type: ignore[index]  # (bind 2)
    assert "x-forwarded-for" not in ours[0]  # type: ignore[operator]
    assert ours[1] == (200, "s1")
    assert sorted(our_log) == sorted(their_log)
    assert len(our_log) == 3, our_log
