"""http-request / redirect / use_backend rules evaluated by the Router, without sockets."""

# ruff: noqa: E501  (case tables read best one case per line)

from __future__ import annotations

from pathlib import Path

import pytest

from balancekit import Headers, Request
from balancekit.acl import AclSet
from balancekit.routing import BackendRules, Decision, Router
from balancekit.rules import (
    HeaderEdit,
    apply_header_edits,
    parse_http_request_rule,
    parse_redirect,
    parse_tcp_request_rule,
    parse_use_backend,
)


def build(
    text: str, default_backend: str | None = None, backends: dict[str, str] | None = None
) -> Router:
    """A tiny frontend section: acl / http-request / redirect / use_backend / tcp-request
    lines; `backends` maps backend names to their own rule lines (in be.cfg)."""
    router = _section(text, "fe.cfg")
    backend_rules = {}
    for name, rules in (backends or {}).items():
        be = _section(rules, "be.cfg")
        backend_rules[name] = BackendRules(be._http + be._redirects, be._tcp_content)
    return Router(
        http_rules=router._http + router._redirects,
        tcp_connection_rules=router._tcp_connection,
        tcp_content_rules=router._tcp_content,
        use_backends=router._use_backends,
        default_backend=default_backend,
        backend_rules=backend_rules,
    )


def _section(text: str, file: str) -> Router:
    acls = AclSet()
    http, tcp_conn, tcp_content, use = [], [], [], []
    for n, raw in enumerate(text.strip().splitlines(), 1):
        keyword, *words = raw.split()
        where = {"file": file, "line": n}
        if keyword == "acl":
            acls.define(words, **where)
        elif keyword == "http-request":
            http.append(parse_http_request_rule(words, acls, **where))
        elif keyword == "redirect":
            http.append(parse_redirect(words, acls, **where))
        elif keyword == "use_backend":
            use.append(parse_use_backend(words, acls, **where))
        elif keyword == "tcp-request":
            rule = parse_tcp_request_rule(words, acls, **where)
            (tcp_content if words[0] == "content" else tcp_conn).append(rule)
    return Router(
        http_rules=http,
        tcp_connection_rules=tcp_conn,
        tcp_content_rules=tcp_content,
        use_backends=use,
    )


# --------------------------------------------------------------------------- seed examples


def test_path_routing_seed() -> None:
    router = build(
        "acl is_static path_beg /static\nuse_backend static_backend if is_static", "dynamic_backend"
    )
    assert router.route(Request(path="/static/app.css")).backend == "static_backend"
    assert router.route(Request(path="/api/data")).backend == "dynamic_backend"


def test_post_submit_seed() -> None:
    router = build(
        """
        acl is_post_method method POST
        acl is_submit_path path_beg /submit
        use_backend post_backend if is_post_method is_submit_path
        """,
        "general_backend",
    )
    assert router.route(Request(method="POST", path="/submit")).backend == "post_backend"
    assert router.route(Request(method="GET", path="/submit")).backend == "general_backend"
    assert router.route(Request(method="POST", path="/")).backend == "general_backend"


def test_deny_seed_and_decision_fields() -> None:
    router = build("acl block_ip src 127.0.1.0/24\nhttp-request deny if block_ip", "web_backend")
    denied = router.route(Request("127.0.1.9"))
    assert denied == Decision("deny", status=403, rule="fe.cfg:2")
    assert router.route(Request("127.0.0.1")) == Decision("forward", backend="web_backend")


def test_no_backend_at_all_means_none() -> None:
    assert build("").route(Request()).backend is None


# --------------------------------------------------------------------------- http-request actions


def test_rules_run_in_order_and_allow_stops_them() -> None:
    router = build(
        """
        http-request allow if { src 127.0.0.1 }
        http-request deny
        """,
        "b",
    )
    assert router.route(Request("127.0.0.1")).action == "forward"
    assert router.route(Request("127.0.0.2")).action == "deny"


def test_with_default_keeps_rules() -> None:
    router = build("redirect location /r if { path /old }\nuse_backend a if { path /a }", "d")
    bare = router.with_default(None)
    assert bare.route(Request(path="/x")).backend is None
    assert bare.route(Request(path="/a")).backend == "a"
    assert bare.route(Request(path="/old")).location == "/r"
    assert router.route(Request(path="/x")).backend == "d"


def test_http_request_reject_closes_without_answer() -> None:
    router = build("http-request reject if { path /x }", "b")
    assert router.route(Request(path="/x")) == Decision("reject", rule="fe.cfg:1")
    assert router.route(Request(path="/y")).backend == "b"


def test_deny_status_and_reply_payload() -> None:
    router = build(
        """
        http-request deny deny_status 429 if { path /slow }
        http-request deny status 400 content-type text/plain string nope if { path /bad }
        http-request deny content-type text/plain lf-string %[path] if { path /lf }
        """
    )
    slow = router.route(Request(path="/slow"))
    assert (slow.status, slow.body) == (429, None)  # None: use the error page for 429
    bad = router.route(Request(path="/bad"))
    assert (bad.status, bad.body, bad.content_type) == (400, "nope", "text/plain")
    assert router.route(Request(path="/lf")).body == "/lf"


def test_return_action() -> None:
    router = build(
        """
        http-request return status 200 content-type text/plain string ok hdr X-A %[src] if { path /health }
        http-request return if { path /empty }
        http-request return status 404 content-type text/html lf-string <p>%[path]</p> if { path_beg /x }
        """
    )
    health = router.route(Request("127.0.0.3", path="/health"))
    assert health.action == "return"
    assert (health.status, health.body, health.content_type) == (200, "ok", "text/plain")
    assert health.response_headers == (("X-A", "127.0.0.3"),)
    empty = router.route(Request(path="/empty"))
    assert (empty.status, empty.body) == (200, "")
    assert router.route(Request(path="/x1")).body == "<p>/x1</p>"


def test_return_body_from_file(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<h1>maintenance</h1>")
    rule = parse_http_request_rule(
        ["return", "status", "503", "content-type", "text/html", "file", str(page)], AclSet()
    )
    decision = Router(http_rules=[rule]).route(Request())
    assert (decision.status, decision.body) == (503, "<h1>maintenance</h1>")


def test_return_without_payload_drops_its_content_type() -> None:
    # HAProxy 2.6 ignores it (with a warning): its reg-test http-rules/http_return.vtc
    # expects no Content-Type header on these answers.
    router = build(
        """
        http-request return content-type text/plain if { path /none }
        http-request return content-type text/plain file /dev/null if { path /empty-file }
        """
    )
    for path in ("/none", "/empty-file"):
        decision = router.route(Request(path=path))
        assert (decision.body, decision.content_type) == ("", None)


def test_header_edits_accumulate_and_later_rules_see_them() -> None:
    router = build(
        """
        http-request set-header X-Client %[src]
        http-request add-header X-Tag one
        http-request add-header X-Tag two
        http-request del-header X-Secret
        http-request deny if { hdr(x-secret) -m found }
        use_backend internal if { hdr(x-client) -m ip 127.0.0.0/8 }
        """,
        "public",
    )
    decision = router.route(Request("127.0.0.9", headers={"X-Secret": "s", "X-Client": "spoof"}))
    assert decision.action == "forward" and decision.backend == "internal"
    assert decision.header_edits == (
        HeaderEdit("set", "X-Client", "127.0.0.9"),
        HeaderEdit("add", "X-Tag", "one"),
        HeaderEdit("add", "X-Tag", "two"),
        HeaderEdit("del", "X-Secret"),
    )
    forwarded = apply_header_edits(
        Headers({"X-Secret": "s", "X-Client": "spoof"}), decision.header_edits
    )
    assert forwarded.items == (
        ("x-client", "127.0.0.9"),
        ("x-tag", "one"),
        ("x-tag", "two"),
    )


@pytest.mark.parametrize(
    ("words", "kept"),
    [
        (["del-header", "X-Foo"], ["x-foobar", "x-bar"]),
        (["del-header", "X-Foo", "-m", "beg"], ["x-bar"]),
        (["del-header", "bar", "-m", "end"], ["x-foo"]),
        (["del-header", "oo", "-m", "sub"], ["x-bar"]),
        (["del-header", "^x-(foo|bar)$", "-m", "reg"], ["x-foobar"]),
    ],
)
def test_del_header_match_methods(words: list[str], kept: list[str]) -> None:
    rule = parse_http_request_rule(words, AclSet())
    decision = Router(http_rules=[rule]).route(Request())
    headers = Headers([("X-Foo", "1"), ("X-Foobar", "2"), ("X-Bar", "3")])
    assert [k for k, _ in apply_header_edits(headers, decision.header_edits).items] == kept


# --------------------------------------------------------------------------- redirects


REDIRECTS = [
    # words after "http-request", request, status, location
    (["redirect", "location", "/login"], Request(path="/a"), 302, "/login"),
    (["redirect", "location", "https://%[hdr(host)]%[path]", "code", "301"], Request(path="/a", headers={"Host": "h"}), 301, "https://h/a"),
    (["redirect", "prefix", "https://new.example"], Request(path="/a", query="b=1"), 302, "https://new.example/a?b=1"),
    (["redirect", "prefix", "https://new.example", "drop-query"], Request(path="/a", query="b=1"), 302, "https://new.example/a"),
    (["redirect", "prefix", "/", "append-slash"], Request(path="/dir"), 302, "/dir/"),
    (["redirect", "prefix", "/", "append-slash"], Request(path="/dir/"), 302, "/dir/"),
    (["redirect", "scheme", "https", "code", "308"], Request(path="/a", query="q", headers={"Host": "h:80"}), 308, "https://h:80/a?q"),
    (["redirect", "scheme", "https", "drop-query"], Request(path="/a", query="q", headers={"Host": "h"}), 302, "https://h/a"),
    (["redirect", "prefix", "/v2"], Request(uri="http://h/a?x", path="/a", query="x"), 302, "/v2/a?x"),
    (["redirect", "code", "303", "location", "/x"], Request(), 303, "/x"),
    (["redirect", "code", "307", "location", "/x"], Request(), 307, "/x"),
]  # fmt: skip


@pytest.mark.parametrize(("words", "request_", "status", "location"), REDIRECTS)
def test_http_request_redirect(
    words: list[str], request_: Request, status: int, location: str
) -> None:
    decision = Router(http_rules=[parse_http_request_rule(words, AclSet())]).route(request_)
    assert (decision.action, decision.status, decision.location) == ("redirect", status, location)


def test_standalone_redirect_takes_target_literally_and_runs_after_http_request_rules() -> None:
    router = build(
        """
        redirect location /x%[path] code 301 if { path /old }
        http-request deny if { path /old }
        """
    )
    # HAProxy runs every http-request rule before any standalone redirect.
    assert router.route(Request(path="/old")).action == "deny"
    lone = Router(http_rules=[parse_redirect(["location", "/x%[path]"], AclSet())])
    assert lone.route(Request(path="/p")).location == "/x%[path]"


def test_standalone_redirects_may_also_be_passed_separately() -> None:
    acls = AclSet()
    router = Router(
        http_rules=[parse_http_request_rule(["deny", "if", "{", "path", "/d", "}"], acls)],
        redirects=[parse_redirect(["scheme", "https", "unless", "{", "ssl_fc", "}"], acls)],
        default_backend="b",
    )
    assert router.route(Request(path="/d")).action == "deny"
    assert router.route(Request(path="/p", headers={"Host": "h"})).location == "https://h/p"
    assert router.route(Request(path="/p", ssl=True)).backend == "b"


def test_redirect_cookies() -> None:
    set_rule = parse_redirect(["location", "/", "set-cookie", "SEEN=1"], AclSet())
    decision = Router(http_rules=[set_rule]).route(Request())
    assert decision.response_headers == (("Set-Cookie", "SEEN=1; path=/;"),)
    clear = parse_redirect(["location", "/", "clear-cookie", "SEEN="], AclSet())
    assert Router(http_rules=[clear]).route(Request()).response_headers == (
        ("Set-Cookie", "SEEN=; path=/; Max-Age=0;"),
    )


# --------------------------------------------------------------------------- use_backend and tcp


def test_first_matching_use_backend_wins() -> None:
    router = build(
        """
        use_backend api if { path_beg /api }
        use_backend v2 if { path_beg /api/v2 }
        use_backend other unless { path_beg /api }
        """
    )
    assert router.route(Request(path="/api/v2/x")) == Decision(
        "forward", backend="api", rule="fe.cfg:1"
    )
    assert router.route(Request(path="/x")).backend == "other"


def test_unconditional_use_backend() -> None:
    assert build("use_backend always", "never").route(Request()).backend == "always"


def test_tcp_connection_rules() -> None:
    router = build(
        """
        tcp-request connection accept if { src 127.0.0.1 }
        tcp-request connection reject if { src 127.0.0.0/8 }
        """
    )
    assert router.accept_connection(Request("127.0.0.1"))
    assert not router.accept_connection(Request("127.0.0.2"))
    assert router.accept_connection(Request("10.0.0.1"))  # no rule matched: accept


def test_tcp_content_rules_then_backend() -> None:
    router = build(
        """
        tcp-request inspect-delay 5s
        tcp-request content reject if { dst_port 23 }
        tcp-request content accept if { req.ssl_sni -m end .internal }
        tcp-request content reject if { src 127.0.0.66 }
        use_backend tls_internal if { req.ssl_sni -m end .internal }
        """,
        "mysql",
    )
    assert router.route_tcp(Request(dst_port=23)) == Decision("reject", rule="fe.cfg:2")
    assert router.route_tcp(Request("127.0.0.66", sni="a.internal")).backend == "tls_internal"
    assert router.route_tcp(Request("127.0.0.66")).action == "reject"
    assert router.route_tcp(Request("127.0.0.1", dst_port=3306)).backend == "mysql"


def test_router_repr() -> None:
    router = build("http-request deny if { path /x }\nuse_backend a if { path /a }", "d")
    assert repr(router) == (
        "<Router http-request=1 redirect=0 tcp-request connection=0 content=0 "
        "use_backend=1 default_backend='d' backends with rules=0>"
    )


# --------------------------------------------------------------------------- backend rules


def test_backend_rules_run_after_the_frontend_chose_it() -> None:
    """A backend's `http-request` rules see the frontend's header edits, may deny
    what the frontend let through, and add their own edits."""
    router = build(
        "http-request set-header X-Tier front\nuse_backend api if { path_beg /api }",
        "web",
        backends={
            "api": "http-request deny if { hdr(x-tier) front } { path /api/admin }\n"
            "http-request set-header X-Api yes\n"
            "redirect location /api/v2 if { path /api/v1 }",
        },
    )
    assert router.route(Request(path="/api/admin")) == Decision(
        "deny",
        status=403,
        header_edits=(HeaderEdit("set", "X-Tier", "front"),),
        rule="be.cfg:1",
        backend="api",  # (the backend's error pages answer it)
    )
    forward = router.route(Request(path="/api/x"))
    assert forward.backend == "api"
    assert [e.name for e in forward.header_edits] == ["X-Tier", "X-Api"]
    assert router.route(Request(path="/api/v1")).location == "/api/v2"
    web = router.route(Request(path="/admin"))
    assert (web.action, web.backend, len(web.header_edits)) == ("forward", "web", 1)


def test_backend_allow_stops_only_the_backend_list() -> None:
    router = build(
        "use_backend b if { path_beg /b }",
        backends={"b": "http-request allow if { path /b/open }\nhttp-request deny"},
    )
    assert router.route(Request(path="/b/open")).action == "forward"
    assert router.route(Request(path="/b/closed")).action == "deny"


def test_backend_tcp_content_rules_in_both_modes() -> None:
    router = build("", "db", backends={"db": "tcp-request content reject if { src 10.0.0.0/8 }"})
    assert router.route_tcp(Request("10.1.2.3")) == Decision("reject", rule="be.cfg:1")
    assert router.route_tcp(Request("127.0.0.1")).backend == "db"
    assert router.route(Request("10.1.2.3")).action == "reject"
    assert router.with_default("db").route_tcp(Request("10.1.2.3")).action == "reject"


def test_backends_without_rules_keep_the_fixed_tcp_decision() -> None:
    router = build("", "db", backends={"db": ""})
    assert router.route_tcp(Request()) is router.route_tcp(Request("10.0.0.1"))
    assert "backends with rules=0" in repr(router)


def test_fixed_tcp_is_offered_only_when_no_rule_reads_the_connection() -> None:
    """An L4 front end skips the router and the request view on `fixed_tcp`: it must
    be None as soon as anything could decide per connection."""
    plain = build("", "db", backends={"db": ""})
    assert plain.fixed_tcp == Decision("forward", backend="db", rule="")
    assert plain.fixed_tcp is plain.route_tcp(Request("10.0.0.1"))
    assert not plain.filters_connections
    for frontend in (
        "tcp-request content reject if { src 10.0.0.0/8 }",
        "use_backend db if { src 10.0.0.0/8 }",
    ):
        assert build(frontend, "db", backends={"db": ""}).fixed_tcp is None
    with_backend_rule = build(
        "", "db", backends={"db": "tcp-request content reject if { src 10.0.0.0/8 }"}
    )
    assert with_backend_rule.fixed_tcp is None
    assert build("tcp-request connection reject if { src 10.0.0.0/8 }", "db").filters_connections
