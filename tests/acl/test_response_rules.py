"""`http-response` / `http-after-response` rules as a pure decision (balancekit.response_rules)."""

from __future__ import annotations

import pytest

from balancekit import Request
from balancekit.acl import AclSet
from balancekit.errors import ConfigError
from balancekit.request import Headers, ResponseView
from balancekit.response_rules import evaluate, parse_http_response_rule, status_reason
from balancekit.rules import HttpRule, apply_header_edits


def rules(*lines: str, after: bool = False) -> tuple[HttpRule, ...]:
    acls = AclSet()
    return tuple(
        parse_http_response_rule(line.split(), acls, after=after, file="t.cfg", line=n)
        for n, line in enumerate(lines, 1)
    )


def answer(status: int = 200, *headers: tuple[str, str], path: str = "/x") -> ResponseView:
    return ResponseView(Request(path=path, headers={"host": "h"}), status, headers)


def edited(view: ResponseView, *lists: tuple[HttpRule, ...]) -> list[tuple[str, str]]:
    verdict = evaluate(lists, view)
    return list(apply_header_edits(view.response.headers, verdict.header_edits))


def test_backend_list_then_frontend_list_and_allow_ends_only_its_own() -> None:
    backend = rules("add-header X-Via be", "allow", "add-header X-Via never")
    frontend = rules("add-header X-Via fe")
    assert edited(answer(), backend, frontend) == [("x-via", "be"), ("x-via", "fe")]


def test_later_rules_see_the_edited_head_and_status() -> None:
    lines = rules(
        "set-header X-A 1",
        "set-header X-Seen yes if { res.hdr(x-a) 1 }",
        "set-status 503 if { status 404 }",
        "set-header X-Status %[status]",
    )
    verdict = evaluate((lines,), answer(404))
    assert (verdict.status, verdict.reason) == (503, "Service Unavailable")
    assert list(apply_header_edits(Headers(), verdict.header_edits)) == [
        ("x-a", "1"),
        ("x-seen", "yes"),
        ("x-status", "503"),
    ]


def test_set_header_removes_what_an_earlier_rule_added() -> None:
    view = answer(200, ("x-a", "server"))
    assert edited(view, rules("add-header X-A one", "set-header X-A two")) == [("x-a", "two")]


@pytest.mark.parametrize(
    ("line", "value", "expected"),
    [
        (r"replace-header Set-Cookie (.*) \1;\x20Secure", "id=7; path=/", "id=7; path=/; Secure"),
        (r"replace-header Set-Cookie ^x(.*) y\1", "id=7", "id=7"),  # no match: unchanged
        (r"replace-header Set-Cookie id=(\d) \2[\1]", "id=7", "[7]"),  # absent group: empty
        (r"replace-value X-M ^b(.*)$ B\1", "alpha, beta ,bravo", "alpha,Beta,Bravo"),
        (r"replace-value X-M ^a$ z", 'a, "a,b" ,a', 'z, "a,b" ,z'),
    ],
)
def test_replace_rewrites_what_the_regex_finds(line: str, value: str, expected: str) -> None:
    name = line.split()[1]
    assert edited(answer(200, (name, value)), rules(line)) == [(name.lower(), expected)]


def test_request_head_is_gone_but_the_stream_remains() -> None:
    view = answer(200, path="/api")
    assert (view.path, view.uri, list(view.headers)) == ("", "", [])
    acls = AclSet()
    acls.condition(["if", "{", "path_beg", "/api", "}"], file="t.cfg", line=3, response=True)
    assert [w.message for w in acls.warnings] == [
        "anonymous acl will never match because it uses keyword 'path_beg' which is "
        "incompatible with 'request rule'"
    ]
    verdict = evaluate((rules("set-header X-M %[method] if { path_beg /api }"),), view)
    assert verdict.header_edits == ()
    verdict = evaluate((rules("set-header X-M %[method]"),), view)
    assert verdict.header_edits[0].value == "GET"


@pytest.mark.parametrize(
    ("line", "action", "status"),
    [
        ("deny", "deny", 502),
        ("deny deny_status 403", "deny", 403),
        ("return status 200 content-type text/plain lf-string was%[status]", "return", 200),
        ("redirect location /moved code 301", "redirect", 301),
    ],
)
def test_rules_that_replace_the_answer(line: str, action: str, status: int) -> None:
    verdict = evaluate((rules("set-header X-A 1", line, "set-header X-B 2"),), answer(404))
    assert verdict.answer is not None
    assert (verdict.answer.action, verdict.answer.status) == (action, status)
    assert verdict.answer.rule == "t.cfg:2"
    assert len(verdict.header_edits) == 1
    if action == "return":
        assert verdict.answer.body == "was"  # the server's answer is gone by then
    if action == "redirect":
        assert verdict.answer.location == "/moved"


def test_status_reasons_are_haproxys() -> None:
    assert [status_reason(code) for code in (302, 299, 418, 599, 999)] == [
        "Moved Temporarily",
        "Success",
        "I'm a teapot",
        "Server Error",
        "Other",
    ]


@pytest.mark.parametrize(
    ("line", "after", "message"),
    [
        ("", False, "'http-response' expects allow, deny, return"),
        ("set-map(/x) a b", False, "'http-response set-map(/x)' is an HAProxy action "
         "balancekit does not support"),
        ("set-map(f.map) a b", False, "'http-response set-map(f.map)' is an HAProxy action"),
        ("deny", True, "'http-after-response' expects allow, set-header"),
        ("dney", False, "but got 'dney'; did you mean 'deny'?"),
        ("set-status abc", False, "expects an integer status code between 100 and 999"),
        ("set-status 200 reason", False, "expects 1 argument: <status>; or 3 arguments"),
        ("replace-value X a", False, "'http-response replace-value': expects exactly 3 arguments"),
        ("replace-header X ( y", False, "regex '(' is invalid"),
        ("set-header X %[req.hdr(host)]", False, "sample fetch <req.hdr(host)> may not be "
         "reliably used here because it needs 'HTTP request headers'"),
        ("redirect prefix /x", False, "response only supports redirect type 'location'"),
        ("set-header X-A 1 when x", True, "'http-after-response set-header' expects either "
         "'if' or 'unless'"),
    ],
)  # fmt: skip
def test_errors_name_the_rule_and_its_line(line: str, after: bool, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_http_response_rule(line.split(), AclSet(), after=after, file="t.cfg", line=4)
    assert str(info.value).startswith("t.cfg:4: ")
    assert message in str(info.value)
