"""Flags (-i -f -m -n -u --), named/predefined/anonymous ACLs and condition logic."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancekit import Request
from balancekit.acl import AclSet


def acl_set(*lines: str) -> AclSet:
    acls = AclSet()
    for line in lines:
        acls.define(line.split())
    return acls


def holds(acls: AclSet, cond: str, request: Request) -> bool:
    return acls.condition(cond.split()).matches(request)


# --------------------------------------------------------------------------- flags


def test_dash_i_makes_every_pattern_case_insensitive() -> None:
    acls = acl_set("a path_beg -i /Static /IMG")
    assert holds(acls, "if a", Request(path="/static/x"))
    assert holds(acls, "if a", Request(path="/img/x"))


def test_double_dash_ends_flags_so_patterns_may_start_with_dash() -> None:
    acls = acl_set("a hdr(x) -- -1")
    assert holds(acls, "if a", Request(headers={"X": "-1"}))


def test_dash_n_and_dash_u_are_accepted() -> None:
    acls = acl_set("a src -n -u 7 127.0.0.1")
    assert holds(acls, "if a", Request("127.0.0.1"))


def test_pattern_file_one_pattern_a_line(tmp_path: Path) -> None:
    (tmp_path / "nets.lst").write_text("# blocked networks\n127.0.0.0/24\n\n   127.0.9.9\r\n::1\n")
    acls = AclSet()
    acls.define(["bad", "src", "-f", "nets.lst"], base_dir=str(tmp_path))
    assert holds(acls, "if bad", Request("127.0.0.200"))
    assert holds(acls, "if bad", Request("127.0.9.9"))  # leading spaces stripped, CR ends it
    assert holds(acls, "if bad", Request("::1"))
    assert not holds(acls, "if bad", Request("127.0.1.1"))


def test_pattern_file_keeps_spaces_inside_and_comment_only_at_column_one(tmp_path: Path) -> None:
    (tmp_path / "ua.lst").write_text("Bad Bot\n  # not a comment\n")
    acls = AclSet()
    acls.define(["ua", "hdr(user-agent)", "-f", str(tmp_path / "ua.lst")])
    assert holds(acls, "if ua", Request(headers={"User-Agent": "Bad Bot"}))
    assert holds(acls, "if ua", Request(headers={"User-Agent": "# not a comment"}))


def test_anonymous_acl_files_use_the_set_base_dir(tmp_path: Path) -> None:
    (tmp_path / "deny.lst").write_text("127.0.0.66\n")
    acls = AclSet(base_dir=str(tmp_path))
    cond = acls.condition(["if", "{", "src", "-f", "deny.lst", "}"])
    assert cond.matches(Request("127.0.0.66")) and not cond.matches(Request("127.0.0.1"))


def test_several_files_and_inline_patterns_combine(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("/a\n")
    (tmp_path / "b").write_text("/b\n")
    acls = AclSet()
    acls.define(["p", "path", "-f", "a", "-f", "b", "/c"], base_dir=str(tmp_path))
    assert all(holds(acls, "if p", Request(path=p)) for p in ("/a", "/b", "/c"))
    assert not holds(acls, "if p", Request(path="/d"))


def test_dash_i_after_dash_f_applies_only_to_inline_patterns(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("/File\n")
    acls = AclSet()
    acls.define(["p", "path", "-f", "f", "-i", "/Inline"], base_dir=str(tmp_path))
    assert holds(acls, "if p", Request(path="/inline"))
    assert not holds(acls, "if p", Request(path="/file"))
    assert holds(acls, "if p", Request(path="/File"))


def test_dash_m_before_dash_f_applies_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("/api\n")
    acls = AclSet()
    acls.define(["p", "path", "-m", "beg", "-f", "f"], base_dir=str(tmp_path))
    assert holds(acls, "if p", Request(path="/api/users"))


def test_no_pattern_never_matches_and_warns() -> None:
    acls = AclSet()
    acls.define(["block_ip", "src"], file="h.cfg", line=7)
    assert not holds(acls, "if block_ip", Request("127.0.0.1"))
    assert str(acls.warnings[0]).startswith("h.cfg:7: acl keyword 'src': no pattern")


def test_boolean_fetch_without_pattern_does_not_warn() -> None:
    acls = acl_set("tls ssl_fc")
    assert acls.warnings == []


# --------------------------------------------------------------------------- names and conditions


def test_redeclared_name_ors_expressions() -> None:
    acls = acl_set("s path_beg /static", "s path_end .css")
    assert holds(acls, "if s", Request(path="/static/a"))
    assert holds(acls, "if s", Request(path="/x.css"))
    assert not holds(acls, "if s", Request(path="/x.js"))


def test_redeclaring_after_use_still_extends_the_condition() -> None:
    acls = acl_set("s path /a")
    cond = acls.condition(["if", "s"])
    acls.define(["s", "path", "/b"])
    assert cond.matches(Request(path="/b"))


@pytest.mark.parametrize(
    ("cond", "path", "method", "expected"),
    [
        ("if post submit", "/submit", "POST", True),
        ("if post submit", "/submit", "GET", False),
        ("if post submit", "/other", "POST", False),
        ("if post or submit", "/other", "POST", True),
        ("if post || submit", "/submit", "GET", True),
        ("if post OR submit", "/x", "GET", False),
        ("if !post", "/x", "GET", True),
        ("if !post", "/x", "POST", False),
        ("if !!post", "/x", "POST", True),
        ("if ! post", "/x", "POST", False),  # a lone '!' negates the next term
        ("unless post", "/x", "POST", False),
        ("unless post", "/x", "GET", True),
        ("unless post submit", "/submit", "POST", False),
        ("if post submit or !post", "/x", "GET", True),
        ("if { path /x }", "/x", "GET", True),
        ("if !{ path /x }", "/x", "GET", False),
        ("if post { path_beg /sub }", "/submit", "POST", True),
        ("if { method GET HEAD } !{ path_beg /admin }", "/admin/x", "GET", False),
        ("if", "/x", "GET", False),
        ("unless", "/x", "GET", True),
    ],
)
def test_condition_logic(cond: str, path: str, method: str, expected: bool) -> None:
    acls = acl_set("post method POST", "submit path_beg /submit")
    assert holds(acls, cond, Request(method=method, path=path)) is expected


def test_seed_admin_rule_shape() -> None:
    acls = acl_set("is_admin_path path_beg /admin", "is_internal_network src 127.0.10.0/24")
    deny = acls.condition(["if", "is_admin_path", "!is_internal_network"])
    assert deny.matches(Request("127.0.0.1", path="/admin"))
    assert not deny.matches(Request("127.0.10.4", path="/admin"))
    assert not deny.matches(Request("127.0.0.1", path="/public"))


PREDEFINED = [
    ("TRUE", Request(), True),
    ("FALSE", Request(), False),
    ("LOCALHOST", Request("127.3.3.3"), True),
    ("LOCALHOST", Request("::1"), True),
    ("LOCALHOST", Request("10.0.0.1"), False),
    ("HTTP", Request(), True),
    ("HTTP_1.0", Request(version="HTTP/1.0"), True),
    ("HTTP_1.1", Request(version="HTTP/1.1"), True),
    ("HTTP_1.1", Request(version="HTTP/1.0"), False),
    ("HTTP_2.0", Request(version="HTTP/2.0"), True),
    ("METH_GET", Request(method="GET"), True),
    ("METH_GET", Request(method="HEAD"), True),
    ("METH_GET", Request(method="POST"), False),
    ("METH_HEAD", Request(method="HEAD"), True),
    ("METH_POST", Request(method="POST"), True),
    ("METH_PUT", Request(method="PUT"), True),
    ("METH_DELETE", Request(method="DELETE"), True),
    ("METH_OPTIONS", Request(method="OPTIONS"), True),
    ("METH_TRACE", Request(method="TRACE"), True),
    ("METH_CONNECT", Request(method="CONNECT"), True),
    ("HTTP_URL_ABS", Request(uri="http://h/x", path="/x"), True),
    ("HTTP_URL_ABS", Request(path="/x"), False),
    ("HTTP_URL_SLASH", Request(path="/x"), True),
    ("HTTP_URL_STAR", Request(method="OPTIONS", uri="*", path=""), True),
    ("HTTP_CONTENT", Request(headers={"Content-Length": "5"}), True),
    ("HTTP_CONTENT", Request(headers={"Content-Length": "0"}), False),
    ("REQ_CONTENT", Request(), True),
    ("RDP_COOKIE", Request(), False),
    ("WAIT_END", Request(), True),
]


@pytest.mark.parametrize(("name", "request_", "expected"), PREDEFINED)
def test_predefined_acls(name: str, request_: Request, expected: bool) -> None:
    assert holds(AclSet(), f"if {name}", request_) is expected


def test_predefined_acl_can_be_overridden_or_extended() -> None:
    overridden = acl_set("LOCALHOST src 127.0.0.5")
    assert not holds(overridden, "if LOCALHOST", Request("127.0.0.1"))
    extended = AclSet()
    cond = extended.condition(["if", "LOCALHOST"])
    extended.define(["LOCALHOST", "src", "10.0.0.1"])
    assert cond.matches(Request("10.0.0.1")) and cond.matches(Request("127.0.0.1"))


def test_reprs_show_state() -> None:
    acls = acl_set("a path /x", "a path_beg /y")
    assert repr(acls) == "<AclSet ['a']>"
    assert repr(acls["a"]) == "<Acl a [path, path_beg]>"
    assert (
        repr(acls.condition(["if", "a"], file="f.cfg", line=3)) == "<Condition 'if a' at f.cfg:3>"
    )
