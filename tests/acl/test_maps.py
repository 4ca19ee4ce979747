"""Map files, the `map_*` converters and `use_backend %[…]` (balancekit.acl.maps)."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancekit import Request
from balancekit.acl import AclSet, parse_sample_expr
from balancekit.acl.fetches import FetchError
from balancekit.acl.maps import read_map_file
from balancekit.routing import Router
from balancekit.rules import parse_use_backend


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "m.map"
    path.write_text(text)
    return str(path)


def test_file_format(tmp_path: Path) -> None:
    path = write(tmp_path, "# comment\n  key1   value with  spaces  \n\n#x y\nk2\tv2\nonly\n")
    assert read_map_file(path) == [("key1", "value with  spaces"), ("k2", "v2"), ("only", "")]


@pytest.mark.parametrize(
    ("conv", "text", "sample", "expected"),
    [
        ("map", "a 1\nb 2\n", "b", ["2"]),
        ("map_str", "dup 1\ndup 2\n", "dup", ["1"]),
        ("map_beg", "/a a\n/abc abc\n/ab ab\n", "/abd", ["ab"]),  # the longest prefix
        ("map_sub", "z z\nb b\na a\n", "abc", ["b"]),  # the first line that matches
        ("map_end", ".com com\n.b.com bcom\n", "a.b.com", ["com"]),
        ("map_reg", "^x x\n[0-9]+ digits\n", "ab12", ["digits"]),
        ("map_str_int", "a 41\n", "a", [41]),
        ("map_str", "a 1\n", "zz", []),
    ],
)
def test_lookups(tmp_path: Path, conv: str, text: str, sample: str, expected: list[object]) -> None:
    path = write(tmp_path, text)
    request = Request(headers={"x": sample})
    assert parse_sample_expr(f"req.hdr(x),{conv}({path})").samples(request) == expected


def test_ip_maps_take_the_longest_ipv4_network(tmp_path: Path) -> None:
    path = write(tmp_path, "10.0.0.0/8 wide\n10.1.0.0/16 narrow\n::/0 six\n")
    expr = parse_sample_expr(f"src,map_ip({path},none)")
    assert expr.samples(Request("10.1.2.3")) == ["narrow"]
    assert expr.samples(Request("10.9.2.3")) == ["wide"]
    assert expr.samples(Request("192.0.2.1")) == ["none"]
    assert expr.samples(Request("2001:db8::1")) == ["six"]


@pytest.mark.parametrize(
    ("expr", "text", "message"),
    [
        ("map_str_int({path})", "a b\n", "'b' is not an integer"),
        ("map_str_ip({path})", "a b\n", "'b' is not an IP address"),
        ("map_str({path}.missing)", "", "failed to load map file"),
        ("map_str_int({path},x)", "a 1\n", "map default 'x': 'x' is not an integer"),
        ("map_regm({path})", "", "converter 'map_regm' is an HAProxy converter that balancekit"),
    ],
)
def test_errors_at_load(tmp_path: Path, expr: str, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(FetchError, match=message):
        parse_sample_expr(f"req.hdr(x),{expr.format(path=path)}")


def test_dynamic_use_backend_stops_at_a_name_that_is_no_backend(tmp_path: Path) -> None:
    path = write(tmp_path, "a.test be_a\nb.test nosuch\n")
    acls = AclSet()
    rules = [
        parse_use_backend([f"%[req.hdr(host),map({path})]"], acls),
        parse_use_backend(["be_b", "if", "TRUE"], acls),
    ]
    router = Router(use_backends=rules, default_backend="web", known_backends=["be_a", "be_b"])
    assert router.route(Request(headers={"host": "a.test"})).backend == "be_a"
    # Not a backend: the default, not the next rule (stream.c's switching rules).
    assert router.route(Request(headers={"host": "b.test"})).backend == "web"
    # No sample at all: an empty name, no backend either.
    assert router.route(Request(headers={"host": "c.test"})).backend == "web"
