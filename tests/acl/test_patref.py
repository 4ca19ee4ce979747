"""Shared pattern references and the runtime API's map/ACL commands (balancekit.acl.patref,
balancekit.acl.patcli), without a socket: what a change does to the next lookup, and
the answers' text.  The same answers are compared with HAProxy 2.6 by the conformance
rows `runtime-map-commands` and `runtime-acl-commands`."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from balancekit import Request
from balancekit.acl import AclSet, parse_sample_expr
from balancekit.acl.fetches import SampleContext
from balancekit.acl.patcli import run_pattern_command
from balancekit.acl.patref import PatRefs
from balancekit.config import load_text


def _file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _cli(refs: PatRefs, line: str) -> str:
    return run_pattern_command(refs, line.split())


def _host(host: str) -> Request:
    return Request(headers={"host": host})


def test_converters_on_one_file_share_its_entries(tmp_path: Path) -> None:
    path = _file(tmp_path, "hosts.map", "example.test be2\n")
    context = SampleContext()
    exact = parse_sample_expr(f"req.hdr(host),map({path},none)", context=context)
    prefix = parse_sample_expr(f"req.hdr(host),map_beg({path},none)", context=context)
    refs = context.patterns
    assert len(refs) == 1  # one reference, two expressions (str, beg)
    assert _cli(refs, f"add map {path} new.test be3") == ""
    assert exact.samples(_host("new.test")) == ["be3"]
    assert prefix.samples(_host("new.test.example")) == ["be3"]
    assert _cli(refs, "set map #0 new.test be4") == ""
    assert exact.samples(_host("new.test")) == ["be4"]
    assert _cli(refs, "del map #0 new.test") == ""
    assert exact.samples(_host("new.test")) == ["none"]
    assert _cli(refs, "clear map #0") == ""
    assert exact.samples(_host("example.test")) == ["none"]


def test_acl_file_and_inline_patterns_are_references(tmp_path: Path) -> None:
    path = _file(tmp_path, "paths.acl", "/listed\n")
    acls = AclSet()
    acls.define(["api", "path_beg", "-f", path, "/inline"], file="lb.cfg", line=7)
    api = acls["api"]
    refs = acls.context.patterns
    listing = _cli(refs, "show acl")
    assert listing == (
        "# id (file) description\n"
        f"0 ({path}) pattern loaded from file '{path}' used by acl at file 'lb.cfg' line 7."
        " curr_ver=0 next_ver=0 entry_cnt=1\n"
        "1 () acl 'path_beg' file 'lb.cfg' line 7. curr_ver=0 next_ver=0 entry_cnt=1\n"
    )
    assert not api.test(Request(path="/api/x"))
    assert _cli(refs, "add acl #0 /api") == ""
    assert api.test(Request(path="/api/x"))
    assert _cli(refs, "add acl #1 /more") == ""
    assert api.test(Request(path="/more/y"))
    assert _cli(refs, "del acl #1 /inline") == ""
    assert not api.test(Request(path="/inline"))
    assert re.fullmatch(r"0x[0-9a-f]+ /listed\n0x[0-9a-f]+ /api\n", _cli(refs, "show acl #0"))


def test_delete_and_set_by_identifier(tmp_path: Path) -> None:
    path = _file(tmp_path, "m.map", "a 1\nb 2\n")
    context = SampleContext()
    expr = parse_sample_expr(f"req.hdr(host),map({path},none)", context=context)
    refs = context.patterns
    first = _cli(refs, "show map #0").split()[0]
    assert _cli(refs, f"set map #0 #{first} 9") == ""
    assert expr.samples(_host("a")) == ["9"]
    assert _cli(refs, f"del map #0 #{first}") == ""
    assert expr.samples(_host("a")) == ["none"]
    assert _cli(refs, f"del map #0 #{first}") == "Key not found.\n"
    assert _cli(refs, f"set map #0 #{first} 1") == "key or pattern not found.\n"
    assert _cli(refs, "set map #0 #0xzz 1") == "Malformed identifier. Please use #<id> or <file>.\n"


def test_a_value_an_expression_cannot_read_is_refused(tmp_path: Path) -> None:
    path = _file(tmp_path, "w.map", "a 5\n")
    context = SampleContext()
    weight = parse_sample_expr(f"req.hdr(host),map_str_int({path},0)", context=context)
    refs = context.patterns
    assert _cli(refs, "add map #0 b x") == "unable to parse 'x'.\n"
    assert weight.samples(_host("b")) == [0]
    # HAProxy 2.6: a `set` some expression cannot read is dropped without a word.
    assert _cli(refs, "set map #0 a x") == ""
    assert weight.samples(_host("a")) == [5]
    # entry_cnt as HAProxy 2.6 keeps it: the refused add took one off, so a clear
    # of the one entry wraps the unsigned counter.
    assert _cli(refs, "clear map #0") == ""
    assert _cli(refs, "show map").endswith(" entry_cnt=18446744073709551615\n")


def test_get_reports_each_expression(tmp_path: Path) -> None:
    path = _file(tmp_path, "hosts.map", "example.test be2\n")
    context = SampleContext()
    parse_sample_expr(f"req.hdr(host),map_beg({path})", context=context)
    parse_sample_expr(f"req.hdr(host),map({path})", context=context)
    assert _cli(context.patterns, "get map #0 example.test") == (
        'type=beg, case=sensitive, found=yes, idx=tree, key="example.test", value="be2", '
        'type="str"\n'
        'type=str, case=sensitive, found=yes, idx=tree, key="example.test", value="be2", '
        'type="str"\n'
    )
    assert _cli(context.patterns, "get map #0 other") == (
        "type=beg, case=sensitive, found=no\ntype=str, case=sensitive, found=no\n"
    )


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ("show map #7", "Unknown map identifier. Please use #<id> or <file>.\n"),
        ("show acl #0", "Unknown ACL identifier. Please use #<id> or <file>.\n"),
        ("get map #0", "Missing map identifier and/or key.\n"),
        ("add acl #0 x", "This ACL is shared with a map containing samples. You must use the "
         "command 'add map' to add values.\n"),
        ("add acl #0", "'add acl' expects two parameters: ACL identifier and pattern.\n"),
        ("del acl #0 a", "Unknown map identifier. Please use #<id> or <file>.\n"),
        ("del map #0", "This command expects two parameters: map identifier and key.\n"),
        ("clear acl", "Missing ACL identifier.\n"),
        ("prepare map #0", "prepare map: versions (prepare/commit, @<ver>) are not supported by "
         "balancekit.\n"),
        ("show map @1 #0", "show map: versions (prepare/commit, @<ver>) are not supported by "
         "balancekit.\n"),
        ("add map #0 <<", "add map: payloads ('<<') are not supported by balancekit.\n"),
    ],
)  # fmt: skip
def test_answers(tmp_path: Path, line: str, answer: str) -> None:
    path = _file(tmp_path, "m.map", "a 1\n")
    context = SampleContext()
    parse_sample_expr(f"req.hdr(host),map({path})", context=context)
    assert _cli(context.patterns, line) == answer


def test_ids_follow_haproxys_order(tmp_path: Path) -> None:
    """A map only `use_backend %[…]` names is loaded after parsing in HAProxy, after
    the two ACLs of its HTTP client: it is #4 here, not #0."""
    hosts = _file(tmp_path, "hosts.map", "a be\n")
    paths = _file(tmp_path, "paths.acl", "/x\n")
    config = load_text(
        "defaults\n    mode http\n"
        "frontend fe\n    bind 127.0.0.1:0\n"
        f"    use_backend %[req.hdr(host),map({hosts},be)]\n"
        f"    acl api path_beg -f {paths}\n"
        "    use_backend be if api\n"
        "backend be\n    server s1 127.0.0.1:1\n",
        name="lb.cfg",
    ).config
    listing = _cli(config.patterns, "show map") + _cli(config.patterns, "show acl")
    assert [line.split(" ", 2)[:2] for line in listing.splitlines() if line[0] != "#"] == [
        ["4", f"({hosts})"],
        ["0", f"({paths})"],
        ["1", "()"],
    ]
    assert "used by map at file 'lb.cfg' line 5." in listing


def test_keys_a_method_cannot_read_are_refused(tmp_path: Path) -> None:
    nets = _file(tmp_path, "nets.map", "10.0.0.0/8 ten\n")
    context = SampleContext()
    expr = parse_sample_expr(f"src,map_ip({nets},none)", context=context)
    refs = context.patterns
    assert _cli(refs, "add map #0 bad x") == "'bad' is not a valid IPv4 or IPv6 address.\n"
    assert _cli(refs, "show map #0").count("\n") == 1
    assert _cli(refs, "add map #0 192.168.0.0/16 lan") == ""
    assert expr.samples(Request("192.168.3.4")) == ["lan"]
    acls = AclSet(context=context)
    acls.define(["always", "always_true"], file="lb.cfg", line=3)
    assert _cli(refs, "get acl #1 x") == "type=bool, case=sensitive, match=no\n"


def test_a_deep_copy_shares_the_reference(tmp_path: Path) -> None:
    """Settings a `defaults` section hands down are deep-copied: a map in them must
    stay the one the runtime API changes."""
    path = _file(tmp_path, "m.map", "a 1\n")
    context = SampleContext()
    expr = copy.deepcopy(parse_sample_expr(f"req.hdr(host),map({path},none)", context=context))
    assert _cli(context.patterns, "add map #0 b 2") == ""
    assert expr.samples(_host("b")) == ["2"]
