"""`http-request set-path`, `set-query`, `replace-uri`… as the Router applies them."""

from __future__ import annotations

import pytest

from balancekit import Request
from balancekit.acl import AclSet
from balancekit.errors import ConfigError
from balancekit.routing import Router
from balancekit.rules import parse_http_request_rule, split_target


def route(*lines: str, request: Request) -> Request | None:
    acls = AclSet()
    rules = [parse_http_request_rule(line.split(), acls, file="t.cfg", line=1) for line in lines]
    return Router(http_rules=rules, default_backend="be").route(request).request


@pytest.mark.parametrize(
    ("line", "uri", "expected"),
    [
        ("set-path /api%[path]", "/v1/x?a=1", "/api/v1/x?a=1"),
        ("set-pathq /only", "/v1/x?a=1", "/only"),
        ("set-query b=2", "/x?a=1", "/x?b=2"),
        ("set-query b=2", "/x", "/x?b=2"),
        ("set-query %[req.hdr(x-none)]", "/x?a=1", "/x?"),
        ("set-query %[req.hdr(x-none)]", "/x", "/x"),
        ("set-uri /new", "/x?a=1", "/new"),
        (r"replace-path ^/v1(/.*) \1", "/v1/x?a=1", "/x?a=1"),
        (r"replace-pathq ^/x\?(.*) /q-\1", "/x?a=1", "/q-a=1"),
        (r"replace-uri ^(.*)$ \1&z", "/x?a=1", "/x?a=1&z"),
        ("set-path /p", "http://h:8/x?a", "http://h:8/p?a"),
        ("set-query q", "http://h", "http://h?q"),
    ],
)
def test_the_line_after_one_rule(line: str, uri: str, expected: str) -> None:
    _, path, query = split_target(uri)
    rewritten = route(line, request=Request(uri=uri, path=path or "/", query=query[1:]))
    if expected == uri:
        assert rewritten is None  # nothing changed
        return
    assert rewritten is not None
    assert rewritten.uri == expected
    if expected.startswith("/"):  # the fetches' view follows the new target
        path, _, query = expected.partition("?")
        assert (rewritten.path, rewritten.query) == (path, query)


def test_later_rules_see_the_rewritten_line_but_the_method_that_came() -> None:
    acls = AclSet()
    lines = (
        "set-path /api%[path]",
        "set-method PUT if { path_beg /api/ }",
        "set-header X-Seen %[method]%[path]",
    )
    rules = [parse_http_request_rule(line.split(), acls) for line in lines]
    router = Router(http_rules=rules, default_backend="be")
    decision = router.route(Request(path="/x"))
    assert decision.request is not None and decision.method == "PUT"
    # HAProxy's `method` keeps a method it knows (txn->meth); another is re-read.
    assert decision.request.headers.get("x-seen") == "GET/api/x"
    decision = router.route(Request(method="PURGE", path="/x"))
    assert decision.request is not None
    assert decision.request.headers.get("x-seen") == "PUT/api/x"


def test_nothing_rewritten_gives_no_request() -> None:
    assert route(r"replace-path ^/never(.*) /x", request=Request(path="/x")) is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("set-path", "'http-request set-path': expects exactly 1 argument <format>"),
        ("set-path if TRUE", "expects exactly 1 argument <format>"),
        ("replace-uri ^x", "'http-request replace-uri': expects exactly 2 arguments"),
        ("replace-path ( x", "regex '(' is invalid"),
        ("set-method %[nope]", "unknown fetch method 'nope'"),
    ],
)
def test_errors(line: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_http_request_rule(line.split(), AclSet(), file="t.cfg", line=2)
    assert str(info.value).startswith("t.cfg:2: ")
    assert message in str(info.value)
