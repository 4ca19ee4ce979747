"""The `-m` matchers on their own: one table per method, plus IP sets and integer ranges."""

from __future__ import annotations

import pytest

from balancekit.acl.patterns import (
    IpSet,
    MethodMatcher,
    PatternError,
    build_matcher,
    int_ranges,
    parse_ip_sample,
    parse_range,
    str_to_int,
)

STRING_CASES = [
    # method, patterns, icase, sample, expected
    ("str", ["/a"], False, "/a", True),
    ("str", ["/a"], False, "/A", False),
    ("str", ["/a"], True, "/A", True),
    ("str", ["/a"], False, "/ab", False),
    ("beg", ["/static", "/img"], False, "/static/x.css", True),
    ("beg", ["/static"], False, "/stat", False),
    ("beg", ["/Static"], True, "/STATIC/x", True),
    ("beg", [""], False, "anything", True),
    ("end", [".css", ".js"], False, "/a/b.js", True),
    ("end", [".css"], False, "/a/b.CSS", False),
    ("end", [".css"], True, "/a/b.CSS", True),
    ("end", ["long-suffix"], False, "x", False),
    ("sub", ["Mobile"], False, "Mozilla (iPhone; Mobile)", True),
    ("sub", ["Mobile"], False, "mozilla mobile", False),
    ("sub", ["Mobile"], True, "mozilla mobile", True),
    ("reg", [r"^/api/v[0-9]+/"], False, "/api/v2/users", True),
    ("reg", [r"^/api/v[0-9]+/"], False, "/x/api/v2/", False),
    ("reg", [r"\.PHP$"], True, "/index.php", True),
    ("reg", [r"a(", r"b"][1:], False, "abc", True),
    ("dir", ["/img"], False, "/static/img/logo.png", True),
    ("dir", ["img"], False, "/static/images/logo.png", False),
    ("dir", ["static/img"], False, "/static/img/x", True),
    ("dir", ["x"], False, "/a?x", True),
    ("dir", ["IMG"], True, "/img/", True),
    ("dom", ["example.com"], False, "www.example.com", True),
    ("dom", ["example.com"], False, "www.myexample.com", False),
    ("dom", ["www"], False, "www.example.com:8080", True),
    ("dom", ["8080"], False, "www.example.com:8080", True),
    ("dom", [".example.com."], False, "example.com", True),
]


@pytest.mark.parametrize(
    ("method", "patterns", "icase", "sample", "expected"),
    STRING_CASES,
    ids=[f"{c[0]}-{c[3]}-{c[4]}" for c in STRING_CASES],
)
def test_string_methods(
    method: str, patterns: list[str], icase: bool, sample: str, expected: bool
) -> None:
    assert build_matcher(method, patterns, icase).match(sample) is expected


INT_CASES = [
    (["5"], 5, True),
    (["5"], 6, False),
    (["3:7"], 7, True),
    (["3-7"], 8, False),
    ([":7"], -100, True),
    (["7:"], 7, True),
    (["7:"], 6, False),
    (["gt", "5"], 6, True),
    (["gt", "5"], 5, False),
    (["ge", "5"], 5, True),
    (["lt", "5"], 5, False),
    (["lt", "5"], 4, True),
    (["le", "5"], 5, True),
    (["eq", "5"], 5, True),
    (["lt", "2", "gt", "8"], 9, True),
    (["lt", "2", "gt", "8"], 5, False),
    (["lt", "2", "7"], 7, False),  # operators are sticky: "7" means "lt 7" here
    (["lt", "2", "7"], 6, True),
    (["-5"], 5, True),  # a leading '-' is a range separator: ":5"
]


@pytest.mark.parametrize(("words", "value", "expected"), INT_CASES)
def test_int_operators_and_ranges(words: list[str], value: int, expected: bool) -> None:
    assert build_matcher("int", words, False).match(value) is expected


def test_len_matches_the_string_length() -> None:
    matcher = build_matcher("len", ["gt", "3"], False)
    assert matcher.match("abcd") and not matcher.match("abc")


def test_bool_and_found_ignore_patterns() -> None:
    assert build_matcher("bool", ["whatever"], False).match(1)
    assert not build_matcher("bool", [], False).match(0)
    assert build_matcher("found", [], False).match(0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "'abc' is not a number"),
        ("1:x", "'1:x' is not a valid number range"),
        ("9:3", "'9:3' is not a valid number range"),
        ("", "'' is not a valid number range"),
    ],
)
def test_range_errors(text: str, message: str) -> None:
    with pytest.raises(PatternError, match=message):
        parse_range(text)


def test_operator_operand_error() -> None:
    with pytest.raises(PatternError, match="'x' is neither a number nor a supported operator"):
        int_ranges(["gt", "x"])


@pytest.mark.parametrize(
    ("text", "expected"), [("12abc", 12), ("-3", -3), ("abc", 0), ("", None), ("+7", 7)]
)
def test_str_to_int_cast(text: str, expected: int | None) -> None:
    assert str_to_int(text) == expected


IP_PATTERNS = [
    "127.0.0.1",
    "10.0.0.0/8",
    "192.168.1.0/255.255.255.0",
    "172.16.0.0/255.0.255.0",  # not contiguous: kept aside
    "2001:db8::/32",
    "::ffff:100.64.0.0/106",
]
IP_CASES = [
    ("127.0.0.1", True),
    ("127.0.0.2", False),
    ("10.255.255.255", True),
    ("11.0.0.0", False),
    ("192.168.1.77", True),
    ("192.168.2.1", False),
    ("172.99.0.5", True),  # 172.x.0.x matches the odd mask
    ("172.16.1.5", False),
    ("2001:db8:1::1", True),
    ("2001:db9::1", False),
    ("::ffff:10.1.2.3", True),  # v4-mapped sample checked against IPv4 ranges
    ("::10.1.2.3", True),  # old v4-compatible form too
    ("2002:0a01:0203::1", True),  # 6to4 of 10.1.2.3
    ("100.64.0.1", True),  # IPv4 sample checked against ::ffff:0:0/96 networks
    ("100.128.0.1", False),
]


@pytest.mark.parametrize(("sample", "expected"), IP_CASES)
def test_ip_set_lookup(sample: str, expected: bool) -> None:
    matcher = build_matcher("ip", IP_PATTERNS, False)
    parsed = parse_ip_sample(sample)
    assert parsed is not None
    assert matcher.match(parsed) is expected


def test_ip_set_merges_overlapping_ranges() -> None:
    ips = IpSet()
    for net in ["10.0.0.0/24", "10.0.0.128/25", "10.0.1.0/24", "10.0.3.0/24"]:
        ips.add(net)
    ips.freeze()
    assert repr(ips) == "<IpSet v4 ranges=2 v6 ranges=0 odd masks=0>"
    assert ips.contains(4, int.from_bytes(bytes([10, 0, 1, 255]), "big"))
    assert not ips.contains(4, int.from_bytes(bytes([10, 0, 2, 0]), "big"))


@pytest.mark.parametrize(
    "text", ["10.0.0.300", "10.0.0", "10.0.0.0/33", "::1/129", "1.2.3.4/", "example.com"]
)
def test_ip_pattern_errors(text: str) -> None:
    with pytest.raises(PatternError, match="is not a valid IPv4 or IPv6 address"):
        build_matcher("ip", [text], False)


def test_host_names_are_not_resolved() -> None:
    with pytest.raises(PatternError, match="host names are not resolved"):
        build_matcher("ip", ["localhost"], False)


def test_invalid_regex() -> None:
    with pytest.raises(PatternError, match=r"regex 'a\(' is invalid"):
        build_matcher("reg", ["a("], False)


@pytest.mark.parametrize(
    ("patterns", "icase", "sample", "expected"),
    [
        (["GET"], False, "GET", True),
        (["GET"], False, "get", False),  # well-known methods are case-sensitive enums
        (["get"], True, "GET", False),  # -i does not turn "get" into the GET enum
        (["post"], False, "post", True),  # non-standard spellings compare as strings
        (["patch"], True, "PATCH", True),
        (["PATCH"], False, "patch", False),
    ],
)
def test_method_matcher(patterns: list[str], icase: bool, sample: str, expected: bool) -> None:
    assert MethodMatcher(patterns, icase).match(sample) is expected
