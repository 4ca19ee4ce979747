"""The runtime API command processor, compared with a real HAProxy 2.6 where it matters."""

from __future__ import annotations

import csv
import io
import re

import pytest

from balancekit.config import load_text
from balancekit_server.ops.checks import HealthMonitor
from balancekit_server.ops.counters import Registry
from balancekit_server.ops.stats import CommandError, CommandProcessor, parse_weight
from balancekit_server.ops.stats_data import FIELDS
from balancekit_server.process.limits import Limits
from support.backends import NamedBackends
from support.haproxy import HAProxy

CONFIG = """
global
    stats socket {stats} level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend www
    bind {listen:www}
    default_backend app
backend app
    balance roundrobin
    cookie SRV insert indirect
    server s1 {s1} weight 10 cookie c1
    server s2 {s2} weight 20 maxconn 30
    server b1 {s3} backup
backend static
    balance source
    server s1 {s1}
listen tcpsvc
    mode tcp
    bind {listen:tcp}
    server t1 {s2} id 7
"""


def render(template: str, backends: NamedBackends) -> str:
    return (
        template.replace("{s1}", backends.address("s1"))
        .replace("{s2}", backends.address("s2"))
        .replace("{s3}", backends.address("s3"))
    )


def ours(text: str, level: str = "admin") -> CommandProcessor:
    ours_text = (
        text.replace("{stats}", "/tmp/unused.sock")
        .replace("{listen:www}", "127.0.0.1:0")
        .replace("{listen:tcp}", "127.0.0.1:0")
    )
    config = load_text(ours_text).config
    registry = Registry()
    monitor = HealthMonitor(config.backends, registry=registry, log=lambda *_: None)
    limits = Limits(config.global_.maxconn)
    return CommandProcessor(config, level=level, registry=registry, monitor=monitor, limits=limits)


def parse_csv(text: str) -> list[dict[str, str]]:
    body = text.strip("\n")
    assert body.startswith("# ")
    return list(csv.DictReader(io.StringIO(body[2:])))


@pytest.fixture
def both(named_backends: NamedBackends):  # type: ignore[no-untyped-def]
    text = render(CONFIG, named_backends)
    with HAProxy(text) as hap:
        yield hap, ours(text)


STABLE = (
    "pxname",
    "svname",
    "status",
    "weight",
    "act",
    "bck",
    "iid",
    "sid",
    "type",
    "mode",
    "addr",
    "cookie",
    "uweight",
    "qcur",
    "scur",
    "stot",
    "lbtot",
    "check_status",
    "check_rise",
    "check_fall",
    "check_health",
    "pid",
)


def test_show_stat_header_and_rows_match_haproxy(both) -> None:  # type: ignore[no-untyped-def]
    hap, cli = both
    theirs = hap.command("show stat")
    mine = cli.execute("show stat")
    assert mine.splitlines()[0] == theirs.splitlines()[0]  # the exact header
    assert mine.endswith(",\n\n") and theirs.endswith(",\n\n")
    t_rows, m_rows = parse_csv(theirs), parse_csv(mine)
    assert [(r["pxname"], r["svname"]) for r in m_rows] == [
        (r["pxname"], r["svname"]) for r in t_rows
    ]
    for t, m in zip(t_rows, m_rows, strict=True):
        assert {k: m[k] for k in STABLE} == {k: t[k] for k in STABLE}, (t["pxname"], t["svname"])
        assert list(m) == list(t) == [*FIELDS, ""]  # the trailing comma


@pytest.mark.parametrize(
    "commands",
    [
        "get weight app/s1",
        "set server app/s1 weight 50%;get weight app/s1",
        "set server app/s2 weight 5;get weight app/s2;get weight app/s1",
        "set weight app/s2 7;get weight app/s2",
        "set server app/s1 weight 300",
        "set server app/s1 weight abc",
        "set server app/s1 weight 12x",
        "set server app/s1 weight -5%",
        "set server static/s1 weight 0;get weight static/s1",
        "set server static/s1 weight 50%",
        "set server app/nope weight 1",
        "set server nope/s1 weight 1",
        "get weight app",
        "set server app/s1 state bogus",
        "set server app/s1 health sideways",
        "set server app/s1 frobnicate",
        "set server app/s1 state drain;show stat -1 4 -1",
        "set server app/s1 state maint;show servers state app",
        "disable server app/s2;enable server app/s2;show servers state",
        "set server app/s2 health down;show stat -1 4 -1",
        "show servers state nope",
        "show stat 3 2 -1",
        "set maxconn server app/s1 5;show stat -1 4 -1",
        "set maxconn server app/s2 0;show stat -1 4 -1",
        "set maxconn server app/s1",
        "set maxconn server app/s1 x",
        "set maxconn server app/s1 5x",
        "set maxconn server app/zz 5",
        "set maxconn server app",
        "set maxconn frontend www 10;show stat -1 1 -1",
        "set maxconn frontend www -1",
        "set maxconn frontend www",
        "set maxconn frontend nope 10",
        "set maxconn frontend app 3",
        "set maxconn frontend",
        "disable frontend www;show stat -1 1 -1",
        "disable frontend www;disable frontend www",
        "disable frontend tcpsvc;enable frontend tcpsvc;enable frontend tcpsvc",
        "enable frontend www",
        "disable frontend nope",
        "enable frontend",
        "set server app/s1 addr 127.0.0.2 port 8080;show servers state app",
        "set server app/s1 addr 127.0.0.1;set server app/s1 addr 127.0.0.1 port 8081",
        "set server app/s1 addr ::1",
        "set server app/s1 addr bad",
        "set server app/s1 addr 127.0.0.3 port x;show servers state app",
        "set server app/s1 addr 127.0.0.4 port 12x",
        "set server app/s1 addr",
        "shutdown sessions server app/s1",
        "shutdown sessions server app/nope",
        "shutdown sessions server",
        "add server app/s9 127.0.0.1:8080;show servers state app",
        "add server app/s9 127.0.0.1:8080;add server app/s9 127.0.0.1:8081",
        "add server app/s9 127.0.0.1:8080 weight 5 maxconn 2;enable server app/s9;"
        "show stat -1 4 -1",
        "add server static/s9 127.0.0.1:8080",
        "add server app/s9",
        "add server app",
        "add server nope/s9 127.0.0.1:80",
        "add server app/s9 127.0.0.1:8080;del server app/s9;show servers state app",
        "add server app/s9 127.0.0.1:8080;enable server app/s9;del server app/s9",
        "disable server app/s2;del server app/s2;show servers state app",
        "del server app/s1",
        "del server app/nope",
        "del server nope/s1",
        "del server app",
        "set maxconn global 100",
        "set maxconn global",
        "set maxconn global x",
    ],
)
def test_command_answers_match_haproxy(both, commands: str) -> None:  # type: ignore[no-untyped-def]
    hap, cli = both
    theirs = hap.command(commands)
    mine = cli.execute(commands)
    if "show stat" in commands:
        m_rows, t_rows = parse_csv(mine.split("\n\n")[-2]), parse_csv(theirs.split("\n\n")[-2])
        assert [{k: r[k] for k in STABLE} for r in m_rows] == [
            {k: r[k] for k in STABLE} for r in t_rows
        ]
        assert mine.split("# ")[0] == theirs.split("# ")[0]
        # slim: servers, and a frontend whose maxconn was set (an unset one reads
        # HAProxy's default, derived from the machine's file limit).
        changed = re.findall(r"set maxconn frontend (\S+)", commands)

        def limits(rows: list[dict[str, str]]) -> list[tuple[str, str, str]]:
            return [
                (r["pxname"], r["svname"], r["slim"])
                for r in rows
                if r["type"] == "2" or (r["type"] == "0" and r["pxname"] in changed)
            ]

        assert limits(m_rows) == limits(t_rows)
    elif "show servers state" in commands:
        # srv_time_since_last_change (10th column) is a clock: compare everything else.
        def strip(text: str) -> list[list[str]]:
            return [[w for i, w in enumerate(line.split()) if i != 9] for line in text.splitlines()]

        assert strip(mine) == strip(theirs)
    else:
        assert mine == theirs


def test_levels_are_enforced() -> None:
    with NamedBackends(["s1", "s2", "s3"]) as nb:
        text = render(CONFIG, nb)
    user = ours(text, "user")
    assert user.execute("set server app/s1 state maint") == "Permission denied\n\n"
    assert user.execute("disable server app/s1") == "Permission denied\n\n"
    assert user.execute("clear counters") == "Permission denied\n\n"
    assert user.execute("get weight app/s1") == "10 (initial 10)\n\n"
    assert user.config.backends["app"].backend.state("s1") == "UP"
    operator = ours(text, "operator")
    assert operator.execute("set server app/s1 weight 1") == "Permission denied\n\n"
    assert operator.execute("clear counters") == "\n"
    assert operator.execute("clear counters all") == "Permission denied\n\n"
    admin = ours(text, "admin")
    assert admin.execute("user;set server app/s1 state maint") == "\nPermission denied\n\n"
    assert "set server" not in ours(text, "user").execute("help")
    assert "set server <bk>/<srv>" in ours(text, "admin").execute("help")


def test_unknown_command_lists_what_is_valid() -> None:
    with NamedBackends(["s1", "s2", "s3"]) as nb:
        cli = ours(render(CONFIG, nb))
    answer = cli.execute("bogus")
    assert answer.startswith("Unknown command, but maybe one of the following ones")
    assert "  show stat " in answer and answer.endswith("\n\n")


def test_state_changes_reach_the_pool() -> None:
    with NamedBackends(["s1", "s2", "s3"]) as nb:
        cli = ours(render(CONFIG, nb))
    pool = cli.config.backends["app"].backend
    cli.execute("set server app/s1 state maint")
    assert {pool.pick().name for _ in range(10)} == {"s2"}
    cli.execute("set server app/s1 state ready;set server app/s2 state drain")
    assert {pool.pick().name for _ in range(10)} == {"s1"}
    cli.execute("set server app/s1 health down")
    assert {pool.pick().name for _ in range(10)} == {"b1"}  # backup takes over
    rows = {(r["pxname"], r["svname"]): r for r in parse_csv(cli.execute("show stat"))}
    assert rows[("app", "s1")]["status"] == "DOWN"
    assert rows[("app", "s2")]["status"] == "DRAIN"


def test_parse_weight() -> None:
    assert parse_weight("50%", 10) == 5
    assert parse_weight("256", 1) == 256
    with pytest.raises(CommandError, match="between 0 and 256"):
        parse_weight("257", 1)
    with pytest.raises(CommandError, match="Require"):
        parse_weight("", 1)


def test_counters_show_up_in_show_stat_and_info() -> None:
    with NamedBackends(["s1", "s2", "s3"]) as nb:
        cli = ours(render(CONFIG, nb))
    fe = cli.registry.frontend("www")
    srv = cli.registry.server("app", "s1")
    for status in (200, 200, 503):
        fe.session_start()
        fe.request()
        fe.response(status)
        fe.session_end()
        srv.session_start()
        srv.response(status)
        srv.session_end()
    rows = {(r["pxname"], r["svname"]): r for r in parse_csv(cli.execute("show stat"))}
    assert rows[("www", "FRONTEND")]["stot"] == "3"
    assert rows[("www", "FRONTEND")]["req_tot"] == "3"
    assert rows[("app", "s1")]["hrsp_2xx"] == "2"
    assert rows[("app", "s1")]["hrsp_5xx"] == "1"
    info = dict(line.split(": ", 1) for line in cli.execute("show info").strip().splitlines())
    assert info["CumConns"] == "3" and info["CumReq"] == "3"
    cli.execute("clear counters all")
    rows = {(r["pxname"], r["svname"]): r for r in parse_csv(cli.execute("show stat"))}
    assert rows[("www", "FRONTEND")]["stot"] == "0"


def test_set_maxconn_global_admits_parked_connections(named_backends: NamedBackends) -> None:
    cli = ours(render(CONFIG, named_backends))
    assert cli.limits is not None
    cli.limits.maxconn = 1
    cli.limits.actconn = 1

    class Parked:
        parked = False
        admitted = False

        def frontend_has_room(self) -> bool:
            return True

        def unparked(self) -> None:
            self.admitted = True

    waiting = Parked()
    cli.limits.park(waiting)
    assert cli.execute("set maxconn global 2") == "\n"
    assert cli.limits.maxconn == 2 and waiting.admitted and not waiting.parked
