"""Map and ACL commands on a running `balancekit-server`'s stats socket: the answers
end with the CLI's empty line, any level may use them (as HAProxy 2.6), and the next
request routes by the changed map and ACL."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_runtime_reload import Server

from support.backends import NamedBackends, free_port
from support.client import http_request


@pytest.fixture
def server(named_backends: NamedBackends, tmp_path: Path) -> Iterator[tuple[Server, int]]:
    port = free_port()
    (tmp_path / "hosts.map").write_text("a.test be2\n")
    (tmp_path / "blocked.acl").write_text("10.9.9.9\n")
    text = f"""
global
    stats socket {{sock}} level admin
    stats socket {{sock}}.user level user
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend www
    bind 127.0.0.1:{port}
    acl blocked src -f {tmp_path}/blocked.acl
    http-request deny if blocked
    use_backend %[req.hdr(host),lower,map({tmp_path}/hosts.map,app)]
backend app
    server s1 {named_backends.address("s1")}
backend be2
    server s2 {named_backends.address("s2")}
backend be3
    server s3 {named_backends.address("s3")}
"""
    srv = Server(text)
    srv.wait_log("started on")
    deadline = time.monotonic() + 10
    while not os.path.exists(srv.sock + ".user"):
        assert time.monotonic() < deadline, srv.log()
        time.sleep(0.02)
    yield srv, port
    srv.stop()


def _served_by(port: int, host: str) -> str | None:
    response = http_request(port, "/", headers={"Host": host})
    return response.header("X-Server") if response.status == 200 else str(response.status)


def test_map_and_acl_changes_route_the_next_request(server: tuple[Server, int]) -> None:
    srv, port = server
    user = srv.sock + ".user"
    assert _served_by(port, "b.test") == "s1"
    # The map is #4: only `use_backend %[…]` loads it, after parsing (the ACL's file is
    # #0, its own patterns #1) and after the two ids HAProxy's HTTP client takes.
    assert srv.command("add map #4 b.test be3", user) == "\n"
    assert _served_by(port, "B.TEST") == "s3"
    assert srv.command("set map #4 b.test be2;get map #4 b.test", user) == (
        '\ntype=str, case=sensitive, found=yes, idx=tree, key="b.test", value="be2", type="str"\n\n'
    )
    assert _served_by(port, "b.test") == "s2"
    assert srv.command("del map #4 a.test", user) == "\n"
    assert _served_by(port, "a.test") == "s1"
    assert srv.command("add acl #0 127.0.0.1", user) == "\n"
    assert _served_by(port, "a.test") == "403"
    assert srv.command("clear acl #0", user) == "\n"
    assert _served_by(port, "b.test") == "s2"
    answer = srv.command("show map #4;show acl #0", user)
    assert answer.endswith(" b.test be2\n\n\n") and answer.startswith("0x")


def test_versions_are_refused_with_a_line(server: tuple[Server, int]) -> None:
    srv, _port = server
    assert srv.command("prepare map #4") == (
        "prepare map: versions (prepare/commit, @<ver>) are not supported by balancekit.\n\n"
    )
    assert srv.command("show map nosuch") == (
        "Unknown map identifier. Please use #<id> or <file>.\n\n"
    )
