"""Variables (balancekit.variables): scopes, phases, set-var conditions, and the rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancekit import Request
from balancekit.acl import AclSet, parse_sample_expr
from balancekit.errors import ConfigError
from balancekit.request import ResponseView
from balancekit.response_rules import evaluate, parse_http_response_rule
from balancekit.routing import Router
from balancekit.rules import parse_http_request_rule, parse_tcp_request_rule
from balancekit.tracking import StreamCounters
from balancekit.variables import PROCESS, VarError, Variables, parse_var_name


def test_names_are_checked_as_haproxy_does() -> None:
    assert str(parse_var_name("txn.a.b_1")) == "txn.a.b_1"
    for bad, message in [
        ("x", "A variable name must be start by its scope"),
        ("global.x", "A variable name must be start by its scope"),
        ("txn.", "Empty variable name"),
        ("txn.a-b", "invalid char in variable name"),
        ("check.x", "the 'check' scope"),
    ]:
        with pytest.raises(VarError, match=message):
            parse_var_name(bad)


def test_req_values_end_where_the_response_starts_and_sess_outlives_txn() -> None:
    connection = Variables()
    first = connection.for_request()
    req, res, txn, sess = (parse_var_name(n) for n in ("req.a", "res.a", "txn.a", "sess.a"))
    first.set(res, "too early")
    for var in (req, txn, sess):
        first.set(var, var.scope)
    assert [first.get(v) for v in (req, res, txn, sess)] == ["req", None, "txn", "sess"]
    first.to_response()
    first.set(res, "res")
    assert [first.get(v) for v in (req, res, txn, sess)] == [None, "res", "txn", "sess"]
    second = connection.for_request()
    assert [second.get(v) for v in (req, txn, sess)] == [None, None, "sess"]


@pytest.mark.parametrize(
    ("before", "value", "conditions", "after"),
    [
        (None, "x", ("ifexists",), None),
        ("a", "x", ("ifexists",), "x"),
        ("a", "x", ("ifnotexists",), "a"),
        ("a", "x", ("ifnotset",), "a"),
        (None, "", ("ifnotempty",), None),
        (None, "", ("ifempty",), ""),
        (None, 3, ("ifempty",), None),  # a number is never empty
        (5, 3, ("ifgt",), 3),
        (5, 9, ("ifgt",), 5),
        (5, 9, ("iflt",), 9),
        ("5", 9, ("ifgt",), 9),  # types differ: no comparison
    ],
)
def test_set_var_conditions(
    before: object, value: object, conditions: tuple[str, ...], after: object
) -> None:
    variables = Variables()
    name = parse_var_name("txn.v")
    if before is not None:
        variables.set(name, before)
    variables.set(name, value, conditions)
    assert variables.get(name) == after


def test_rules_store_and_read_variables() -> None:
    acls = AclSet()
    lines = [
        "set-var(txn.host) req.hdr(host),lower",
        "set-var(txn.n) req.hdr(x-n),add(1)",
        "set-var-fmt(txn.f) %[var(txn.host)]:%[var(txn.missing,dflt)]",
        "unset-var(txn.host) if { var(txn.n) -m int gt 5 }",
    ]
    rules = [parse_http_request_rule(line.split(), acls) for line in lines]
    router = Router(http_rules=rules, default_backend="be")
    stream = StreamCounters(0)
    router.route(Request(headers={"host": "A.Test", "x-n": "7"}, stream=stream))
    got = [stream.vars.get(parse_var_name(n)) for n in ("txn.host", "txn.n", "txn.f")]
    assert got == [None, 8, "a.test:dflt"]
    response = parse_http_response_rule(["set-var(res.code)", "status"], acls)
    view = ResponseView(Request(stream=stream), 503)
    stream.vars.to_response()
    evaluate(((response,),), view)
    assert stream.vars.get(parse_var_name("res.code")) == 503


def test_var_reads_as_its_type() -> None:
    stream = StreamCounters(0)
    stream.vars.set(parse_var_name("txn.n"), 41)
    request = Request(stream=stream)
    assert parse_sample_expr("var(txn.n),add(1)").samples(request) == [42]
    assert parse_sample_expr("var(txn.none,x)").samples(request) == ["x"]
    assert parse_sample_expr("var(txn.none)").samples(request) == []


def test_tcp_content_set_var() -> None:
    rule = parse_tcp_request_rule(["content", "set-var(sess.p)", "src_port"], AclSet())
    stream = StreamCounters(0)
    Router(tcp_content_rules=[rule], default_backend="be").route_tcp(
        Request(src_port=4321, stream=stream)
    )
    assert stream.vars.get(parse_var_name("sess.p")) == 4321


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("set-var(txn.x)", "expects a sample expression"),
        ("set-var-fmt(txn.x)", "expects a format string"),
        ("set-var txn.x", "expects a variable name in parentheses"),
        ("set-var(x) src", "A variable name must be start by its scope"),
        ("set-var(txn.x,ifbig) src", "unknown condition 'ifbig'"),
        ("set-var(txn.x) nope", "unknown fetch method 'nope'"),
    ],
)
def test_errors(line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_http_request_rule(line.split(), AclSet(), file="t.cfg", line=3)


def test_global_set_var_needs_the_proc_scope(tmp_path: Path) -> None:
    from balancekit.config import ConfigErrors, load

    cfg = tmp_path / "h.cfg"
    cfg.write_text("global\n    set-var txn.x str(a)\n    set-var-fmt proc.y\n")
    with pytest.raises(ConfigErrors) as info:
        load(str(cfg))
    text = str(info.value)
    assert "h.cfg:2: 'set-var': cannot set variable 'txn.x', only scope 'proc'" in text
    assert "h.cfg:3: 'set-var-fmt' requires a process-wide variable name" in text
    cfg.write_text("global\n    set-var proc.z int(6),mul(7)\n")
    load(str(cfg))
    assert PROCESS["z"] == 42


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("int(10),add(txn.n)", [15]),
        ("int(10),add(txn.none)", []),  # no variable: no sample
        ("int(10),add(txn.empty)", []),  # an empty string is no number
        ("str(x),concat(<,txn.s,>)", ["x<abc>"]),
        ("str(x),concat(<,txn.none,>)", ["x<>"]),
        ("str(abd),strcmp(txn.s)", [1]),
        ("str(ab),strcmp(txn.s)", [-1]),
        ("str(),add_item(-,txn.s)", ["abc"]),
        ("str(a),add_item(-,txn.s,!)", ["a-abc!"]),
        ("str(a),add_item(-,txn.empty)", ["a"]),
    ],
)
def test_converters_read_variables_when_they_run(expr: str, expected: list[object]) -> None:
    stream = StreamCounters(0)
    for name, value in (("txn.n", 5), ("txn.s", "abc"), ("txn.empty", "")):
        stream.vars.set(parse_var_name(name), value)
    assert parse_sample_expr(expr).samples(Request(stream=stream)) == expected
