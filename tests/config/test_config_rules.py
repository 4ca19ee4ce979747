"""Rules in a config reach the frontend's Router in the right places.

The ACL engine and rule semantics have their own tests (tests/acl); these check
the wiring the parser owns: which section's ACLs a rule sees, where each kind of
rule lands, what HTTP-only rules do in a TCP proxy, and the seeds' routing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from balancekit import Request
from balancekit.config import load, load_text
from balancekit.config.runtime import TcpKeepalive
from balancekit.request import ResponseView
from balancekit.rules import response_verdict

SEEDS = Path(__file__).resolve().parent.parent / "fixtures" / "seeds"

HTTP = """
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s

frontend web
    bind 127.0.0.1:0
    acl is_api path_beg /api
    acl is_old path_beg /old
    acl blocked src 127.0.9.0/24
    tcp-request connection reject if { src 127.0.8.1 }
    http-request deny deny_status 429 if blocked
    http-request set-header X-Via balancekit
    redirect prefix /new code 301 if is_old
    use_backend api if is_api
    default_backend app

backend api
    acl is_admin path_beg /api/admin
    http-request deny if is_admin
    server a 127.0.0.1:1

backend app
    server b 127.0.0.1:2
"""


def test_rules_are_wired_into_the_router() -> None:
    config = load_text(HTTP, env={}).config
    router = config.frontend("web").router
    assert router.route(Request(src="127.0.0.1", path="/api/x")).backend == "api"
    assert router.route(Request(src="127.0.0.1", path="/")).backend == "app"
    denied = router.route(Request(src="127.0.9.5", path="/api/x"))
    assert (denied.action, denied.status) == ("deny", 429)
    moved = router.route(Request(src="127.0.0.1", path="/old/page"))
    assert (moved.action, moved.status, moved.location) == ("redirect", 301, "/new/old/page")
    forwarded = router.route(Request(src="127.0.0.1", path="/"))
    assert [(e.op, e.name) for e in forwarded.header_edits] == [("set", "X-Via")]
    assert router.accept_connection(Request(src="127.0.8.1")) is False
    assert router.accept_connection(Request(src="127.0.8.2")) is True


def test_backend_rules_use_the_backend_acls() -> None:
    config = load_text(HTTP, env={}).config
    (rule,) = config.backend("api").http_rules
    assert (rule.action, rule.line) == ("deny", 22)
    assert rule.applies(Request(path="/api/admin/users"))
    assert not rule.applies(Request(path="/api/users"))
    assert config.backend("app").http_rules == ()


def test_the_frontend_router_runs_the_chosen_backends_rules() -> None:
    router = load_text(HTTP, env={}).config.frontend("web").router
    decision = router.route(Request(path="/api/admin/users"))
    assert (decision.action, decision.status, decision.rule) == ("deny", 403, "<string>:22")
    assert router.route(Request(path="/api/users")).backend == "api"


def test_a_backend_has_an_inspect_delay_of_its_own() -> None:
    text = HTTP.replace("backend api\n", "backend api\n    tcp-request inspect-delay 2s\n")
    loaded = load_text(text, env={})
    assert loaded.config.backend("api").tcp_inspect_delay == 2.0
    assert loaded.config.backend("app").tcp_inspect_delay is None
    assert not any("inspect-delay" in str(w) for w in loaded.warnings)


TCP_RESPONSE = """
defaults
    mode tcp
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend ft
    bind 127.0.0.1:0
    default_backend b
backend b
    acl hello rep_ssl_hello_type 2
    tcp-request content reject if { req.payload(0,3) -m str BAD }
    tcp-response inspect-delay 3s
    tcp-response content accept if hello
    tcp-response content reject if { res.payload(0,4) -m bin 48545450 }
    tcp-response content close unless { res.len gt 2 }
    server s1 127.0.0.1:1
"""


def test_tcp_response_rules_load_in_order_and_decide_on_the_servers_bytes() -> None:
    backend = load_text(TCP_RESPONSE, env={}).config.backend("b")
    assert backend.tcp_response_delay == 3.0
    rules = backend.tcp_response_rules
    assert [(r.action, r.line) for r in rules] == [("accept", 14), ("reject", 15), ("close", 16)]

    def verdict(data: bytes, final: bool = True) -> tuple[bool, str | None]:
        decided, rule = response_verdict(rules, ResponseView(Request(), payload=data), final=final)
        return decided, None if rule is None else rule.action

    server_hello = b"\x16\x03\x03\x00\x06\x02\x00\x00\x02\x03\x03"
    assert verdict(server_hello) == (True, "accept")
    assert verdict(b"HTTP/1.1 200 OK\r\n") == (True, "reject")
    assert verdict(b"+O") == (True, "close")
    assert verdict(b"+OK\r\n") == (True, None)
    # Not final: a hello or a prefix still arriving waits (acl.c's MISS) ...
    assert verdict(b"", final=False) == (False, None)
    assert verdict(server_hello[:7], final=False) == (False, None)
    assert verdict(b"HTT", final=False) == (False, None)
    # ... and what can no longer change decides at once.
    assert verdict(b"HTTP/1.1 200 OK\r\n", final=False) == (True, "reject")
    assert verdict(b"+OK\r\n", final=False) == (True, None)
    assert verdict(b"+O", final=False) == (False, None)  # res.len may still grow past 2


def test_backend_content_rules_run_apart_from_the_frontends() -> None:
    router = load_text(TCP_RESPONSE, env={}).config.frontend("ft").router
    assert router is not None
    bad = Request(payload=b"BAD stuff", version="")
    decision = router.route_tcp_frontend(bad)
    assert (decision.action, decision.backend) == ("forward", "b")
    assert router.backend_content("b", bad) is not None
    assert router.backend_content("b", Request(payload=b"fine", version="")) is None
    assert router.route_tcp(bad).action == "reject"


def test_http_rules_in_a_tcp_backend_are_ignored_with_a_warning() -> None:
    text = """
defaults
    mode tcp
    timeout connect 1s
    timeout client 1s
    timeout server 1s

frontend fe
    bind 127.0.0.1:0
    default_backend db

backend db
    http-request deny
    server s1 127.0.0.1:3306
"""
    result = load_text(text, env={})
    assert [str(w) for w in result.warnings] == [
        "<string>:12: 'http-request' rules ignored for backend 'db' as they require HTTP mode"
    ]
    decision = result.config.frontend("fe").router.route_tcp(Request())
    assert (decision.action, decision.backend) == ("forward", "db")


def test_acls_are_per_section() -> None:
    text = HTTP.replace("    http-request deny if is_admin\n", "    http-request deny if is_api\n")
    with pytest.raises(Exception, match=r"<string>:22: no such ACL : 'is_api'"):
        load_text(text, env={})


RESPONSE_ACLS = """\
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s

frontend fe
    bind 127.0.0.1:0
    acl answered status 200
    use_backend be if answered

backend be
    acl ok status 200
    acl mixed status 200
    acl mixed method GET
    acl keep res.hdr(x-keep) -m found
    stick-table type string len 32 size 10
    http-request deny if { status 200 }
    http-request deny if mixed
    stick match req.hdr(x) if ok
    stick store-response res.hdr(x) if ok keep
    server s1 127.0.0.1:1
"""


def test_response_acls_outside_response_rules_are_warned_about_as_haproxy_does() -> None:
    """A named ACL may read the response (HAProxy accepts it); a request-side rule
    that uses it never matches, and HAProxy 2.6 warns in exactly these words."""
    result = load_text(RESPONSE_ACLS, env={})
    assert [str(w) for w in result.warnings] == [
        "<string>:10: acl 'answered' will never match because it only involves keywords "
        "that are incompatible with 'frontend use-backend rule'",
        "<string>:18: anonymous acl will never match because it uses keyword 'status' "
        "which is incompatible with 'backend http-request header rule'",
        "<string>:19: acl 'mixed' involves keywords 'status' which is incompatible with "
        "'backend http-request header rule'",
        "<string>:20: acl 'ok' will never match because it only involves keywords that "
        "are incompatible with 'backend use-server, balance or stick-match rule'",
    ]
    backend = result.config.backend("be")
    store = next(rule for rule in backend.stick_rules if rule.kind == "store-response")
    assert store.cond is not None
    # On the request the response ACLs find nothing: `mixed` matches by its method.
    request = Request(method="GET", headers={"x": "k"})
    assert [rule.cond.matches(request) for rule in backend.http_rules if rule.cond] == [
        False,
        True,
    ]


def test_http_rules_in_a_tcp_frontend_are_ignored_with_a_warning() -> None:
    result = load(SEEDS / "ep4_block_ip.cfg", env={})
    warnings = [str(w) for w in result.warnings]
    assert any(
        w.endswith(":1: 'http-request' rules ignored for frontend 'http_front' as they "
                   "require HTTP mode") for w in warnings
    ), warnings  # fmt: skip
    router = result.config.frontend("http_front").router
    # As in HAProxy, the deny never happens: the request goes to the default backend.
    decision = router.route_tcp(Request(src="127.0.1.7"))
    assert (decision.action, decision.backend) == ("forward", "web_backend")


ROUTES = [
    ("ep3_l7_path_routing.cfg", Request(path="/static/logo.png"), "static_backend"),
    ("ep3_l7_path_routing.cfg", Request(path="/api/data"), "dynamic_backend"),
    ("ep9_weighted_roundrobin.cfg", Request(path="/data"), "servers"),
]


@pytest.mark.parametrize(("name", "request_", "backend"), ROUTES, ids=lambda v: str(v)[:30])
def test_seed_routing(name: str, request_: Request, backend: str) -> None:
    router = load(SEEDS / name, env={}).config.frontend("http_front").router
    assert router.route(request_).backend == backend


def test_seed_model_ep9_weights_and_ep7_hashing() -> None:
    ep9 = load(SEEDS / "ep9_weighted_roundrobin.cfg", env={}).config.backend("servers")
    assert [(s.name, s.address, s.weight, s.check) for s in ep9.backend.servers] == [
        ("server1", "127.0.0.1:5001", 2, True),
        ("server2", "127.0.0.1:5002", 1, True),
        ("server3", "127.0.0.1:5003", 3, True),
    ]
    ep7 = load(SEEDS / "ep7_uri_consistent.cfg", env={}).config.backend("servers")
    assert ep7.backend.balance.algorithm == "uri"
    assert (ep7.backend.hash_type.method, ep7.backend.hash_type.avalanche) == ("consistent", True)
    ep8 = load(SEEDS / "ep8_random_draw.cfg", env={}).config.backend("servers")
    assert (ep8.backend.balance.algorithm, ep8.backend.balance.draws) == ("random", 2)
    karan = load(SEEDS / "karan_mysql_tcp.cfg", env={}).config
    mysql = karan.backend("msyql")
    assert (mysql.mode, mysql.srvtcpka, mysql.backend.servers[0].maxconn) == (
        "tcp",
        TcpKeepalive(),
        10,
    )
    assert (mysql.timeout_connect, mysql.timeout_server) == (5.0, 300.0)
    assert karan.global_.stats_sockets[0].level == "admin"
    assert karan.global_.stats_timeout == 30.0
    assert karan.frontend("msyql").binds[0].address == "127.0.0.1:5555"


def test_every_seed_keyword_is_implemented_or_warned_about_at_its_line() -> None:
    from balancekit.config import parse
    from balancekit.config.keywords import keyword

    seen = set()
    for path in sorted(SEEDS.glob("*.cfg")):
        parsed = parse([path], env={})
        warned = {(w.file, w.line) for w in load(path, env={}).warnings}
        for section in parsed.sections:
            for stmt in section.statements:
                entry = keyword(stmt.keyword)  # KeyError: a keyword the table lacks
                seen.add(stmt.keyword)
                if entry.ignored:
                    assert (stmt.file, stmt.line) in warned, stmt
    # The seeds' vocabulary, so this test notices if the fixtures shrink.
    assert {"log", "maxconn", "daemon", "chroot", "user", "group", "stats socket",
            "stats timeout", "ca-base", "crt-base", "ssl-default-bind-ciphers",
            "ssl-default-bind-options", "mode", "option httplog", "option dontlognull",
            "option tcplog", "option srvtcpka", "timeout connect", "timeout client",
            "timeout server", "errorfile", "bind", "default_backend", "use_backend", "acl",
            "http-request", "balance", "hash-type", "random", "server"} <= seen  # fmt: skip
