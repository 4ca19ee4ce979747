"""A mixed fleet in one `peers` section: HAProxy 2.6 and two balancekit-server
processes sync their stick tables over HAProxy's peers protocol (issue 20's
"fleets that agree", issue 18's `peers`).

Every member listens on a socket this test binds (port 0) and hands over as
`bind fd@N`, so the other members' configs can name its port.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from tests.support.backends import NamedBackends
from tests.support.client import http_request
from tests.support.haproxy import BALANCEKIT, HAPROXY, HAProxy, require_haproxy

MEMBERS = ("hap", "bka", "bkb")


def member_config(me: str, ports: dict[str, int], backends: NamedBackends) -> str:
    servers = "\n".join(
        f"    server {name}" + ("" if name == me else f" 127.0.0.1:{ports[name]}")
        for name in MEMBERS
    )
    return f"""global
    localpeer {me}
    stats socket {{stats}} level admin

defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s

peers fleet
    bind {{listen:peers}}
{servers}
    table flags type string len 32 size 100 expire 60s store gpc0

frontend fe
    bind {{listen:web}}
    http-request track-sc1 hdr(x-user) table fleet/flags if {{ req.hdr(x-user) -m found }}
    http-request sc-inc-gpc0(1) if {{ path /flag }} {{ req.hdr(x-user) -m found }}
    default_backend be

backend be
    balance roundrobin
    stick-table type ip size 100 expire 60s peers fleet store conn_cnt
    stick on src
{backends.server_lines()}
"""


def wait_for(what: Callable[[], str], pattern: str, timeout: float = 8.0) -> str:
    """Poll a runtime API answer until `pattern` is in it."""
    deadline = time.monotonic() + timeout
    answer = ""
    while time.monotonic() < deadline:
        answer = what()
        if re.search(pattern, answer):
            return answer
        time.sleep(0.1)
    raise AssertionError(f"/{pattern}/ never appeared; last answer:\n{answer}")


class Fleet:
    def __init__(self, backends: NamedBackends) -> None:
        self.backends = backends
        self.sockets: dict[str, socket.socket] = {}
        for name in MEMBERS:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            sock.listen(16)
            self.sockets[name] = sock
        self.ports = {name: s.getsockname()[1] for name, s in self.sockets.items()}
        self.members: dict[str, HAProxy] = {}

    def start(self, name: str) -> HAProxy:
        command = (HAPROXY,) if name == "hap" else BALANCEKIT
        member = HAProxy(
            member_config(name, self.ports, self.backends),
            command=command,
            sockets={"peers": self.sockets[name]},
        )
        self.members[name] = member.start()
        return member

    def table(self, name: str, table: str) -> Callable[[], str]:
        return lambda: self.members[name].command(f"show table {table}")

    def close(self) -> None:
        for member in self.members.values():
            member.stop()
        for sock in self.sockets.values():
            sock.close()


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    require_haproxy()
    with NamedBackends(["s1", "s2"]) as backends:
        fleet = Fleet(backends)
        try:
            for name in MEMBERS:
                fleet.start(name)
            yield fleet
        finally:
            fleet.close()


def test_counters_learnt_on_haproxy_reach_both_balancekit_processes(fleet: Fleet) -> None:
    web = fleet.members["hap"].port("web")
    for _ in range(3):
        assert http_request(web, "/flag", headers={"x-user": "alice"}).status == 200
    for name in ("bka", "bkb"):
        wait_for(fleet.table(name, "fleet/flags"), r"key=alice use=0 exp=\d+ gpc0=3")


def test_a_stick_entry_learnt_on_balancekit_steers_haproxy(fleet: Fleet) -> None:
    """`stick on src` on one member: the others send that client to the same server."""
    bka = fleet.members["bka"].port("web")
    first = http_request(bka, "/", src="127.0.0.9")
    assert first.status == 200
    chosen = first.header("x-server")
    assert chosen in ("s1", "s2")
    server_id = 1 if chosen == "s1" else 2
    wait_for(fleet.table("hap", "be"), rf"key=127\.0\.0\.9 .*server_id={server_id}\b")
    wait_for(fleet.table("bkb", "be"), rf"key=127\.0\.0\.9 .*server_id={server_id}\b")
    # Roundrobin alone would alternate; the shared entry keeps the client on `chosen`.
    for member in ("hap", "bkb"):
        port = fleet.members[member].port("web")
        got = {http_request(port, "/", src="127.0.0.9").header("x-server") for _ in range(4)}
        assert got == {chosen}, member


def test_a_restarted_member_learns_the_tables_again(fleet: Fleet) -> None:
    hap = fleet.members["hap"].port("web")
    http_request(hap, "/flag", headers={"x-user": "bob"})
    http_request(hap, "/", src="127.0.0.7")
    wait_for(fleet.table("bkb", "fleet/flags"), r"key=bob .*gpc0=1")
    fleet.members["bkb"].stop()
    fleet.start("bkb")
    wait_for(fleet.table("bkb", "fleet/flags"), r"key=bob .*gpc0=1")
    wait_for(fleet.table("bkb", "be"), r"key=127\.0\.0\.7 .*server_id=[12]\b")
