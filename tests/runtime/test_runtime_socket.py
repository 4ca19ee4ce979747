"""The stats sockets of a running `balancekit-server`, driven with socat as operators do."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import time
from collections.abc import Iterator

import pytest
from test_runtime_reload import Server

from support.backends import NamedBackends, free_port

SOCAT = shutil.which("socat") or "socat"


def socat(address: str, text: str) -> str:
    result = subprocess.run(
        [SOCAT, "-t5", "stdio", address],
        input=text.encode(),
        capture_output=True,
        timeout=20,
        check=True,
    )
    return result.stdout.decode()


@pytest.fixture
def server(named_backends: NamedBackends) -> Iterator[tuple[Server, int]]:
    port, cli_port = free_port(), free_port()
    text = f"""
global
    stats socket {{sock}} mode 600 level admin
    stats socket {{sock}}.user level user
    stats socket ipv4@127.0.0.1:{cli_port} level operator
    stats timeout 5s
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend www
    bind 127.0.0.1:{port}
    default_backend app
backend app
    server s1 {named_backends.address("s1")} weight 10
    server s2 {named_backends.address("s2")} weight 10
"""
    srv = Server(text)
    srv.wait_log("started on")
    deadline = time.monotonic() + 10
    while not os.path.exists(srv.sock + ".user"):
        assert time.monotonic() < deadline, srv.log()
        time.sleep(0.02)
    yield srv, cli_port
    srv.stop()


def test_socat_on_unix_and_tcp_sockets_with_levels(server: tuple[Server, int]) -> None:
    srv, cli_port = server
    admin = f"UNIX-CONNECT:{srv.sock}"
    assert stat.S_IMODE(os.stat(srv.sock).st_mode) == 0o600
    info = socat(admin, "show info\n")
    assert "Name: balancekit\n" in info and f"Pid: {srv.proc.pid}\n" in info
    assert socat(admin, "set server app/s1 weight 5;get weight app/s1\n") == "\n5 (initial 10)\n\n"
    user = f"UNIX-CONNECT:{srv.sock}.user"
    assert socat(user, "set server app/s1 state maint\n") == "Permission denied\n\n"
    assert socat(user, "show servers state app\n").startswith("1\n# be_id be_name srv_id")
    tcp = f"TCP:127.0.0.1:{cli_port}"
    assert socat(tcp, "set server app/s2 weight 1\n") == "Permission denied\n\n"  # operator
    assert socat(tcp, "get weight app/s2\n") == "10 (initial 10)\n\n"
    csv = socat(tcp, "show stat\n")
    assert csv.startswith("# pxname,svname,") and "app,s1," in csv
    # State changes are logged like HAProxy's.
    socat(admin, "set server app/s2 state maint\n")
    srv.wait_log("Server app/s2 is going DOWN for maintenance. 1 active and 0 backup")


def test_interactive_prompt_session(server: tuple[Server, int]) -> None:
    srv, _ = server
    out = socat(f"UNIX-CONNECT:{srv.sock}", "prompt\nget weight app/s1\nshow backend\nquit\n")
    assert out == "\n> 10 (initial 10)\n\n> # name\napp\n\n> "


def test_an_overlong_command_line_ends_the_session_quietly(server: tuple[Server, int]) -> None:
    """HAProxy never answers a line longer than its buffer; balancekit neither, and
    it once logged a traceback for it and kept the client waiting."""
    srv, _ = server
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(srv.sock)
        sock.sendall(b"show info " + b"x" * 70_000 + b"\n")
        assert sock.recv(65536) == b""  # closed, no answer
    assert "Name: balancekit\n" in socat(f"UNIX-CONNECT:{srv.sock}", "show info\n")
    assert "Traceback" not in srv.log()
