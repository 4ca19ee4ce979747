"""Property tests: the fast matchers agree with the obvious slow definitions."""

from __future__ import annotations

import ipaddress
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from balancekit.acl.patterns import build_matcher, parse_ip_sample
from balancekit.request import header_value_spans, split_header_values

v4_networks = st.builds(
    lambda addr, prefix: ipaddress.ip_network(
        f"{ipaddress.IPv4Address(addr)}/{prefix}", strict=False
    ),
    st.integers(0, 2**32 - 1),
    st.integers(0, 32),
)
v6_networks = st.builds(
    lambda addr, prefix: ipaddress.ip_network(
        f"{ipaddress.IPv6Address(addr)}/{prefix}", strict=False
    ),
    st.integers(0, 2**128 - 1),
    st.integers(0, 128),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(v4_networks, v6_networks), max_size=30),
    st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=20),
)
def test_ip_set_agrees_with_ipaddress(networks: list, probes: list[int]) -> None:
    matcher = build_matcher("ip", [str(n) for n in networks], False)
    v4 = [n for n in networks if n.version == 4]
    for number in probes:
        address = ipaddress.IPv4Address(number)
        mapped = ipaddress.IPv6Address(f"::ffff:{address}")
        expected = any(address in n for n in v4) or any(
            mapped in n for n in networks if n.version == 6
        )
        sample = parse_ip_sample(str(address))
        assert sample is not None
        assert matcher.match(sample) is expected


words = st.text(alphabet="abAB/.-", max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.lists(words, max_size=8), words, st.booleans())
def test_string_matchers_agree_with_definitions(
    patterns: list[str], sample: str, icase: bool
) -> None:
    fold = (lambda s: s.lower()) if icase else (lambda s: s)
    s = fold(sample)
    expected = {
        "str": any(fold(p) == s for p in patterns),
        "beg": any(s.startswith(fold(p)) for p in patterns),
        "end": any(s.endswith(fold(p)) for p in patterns),
        "sub": any(fold(p) in s for p in patterns),
    }
    for method, want in expected.items():
        assert build_matcher(method, patterns, icase).match(sample) is want, method


@given(st.lists(st.text(alphabet="ab ", max_size=4), min_size=1, max_size=5))
def test_header_values_without_quotes_split_at_every_comma(parts: list[str]) -> None:
    assert split_header_values(",".join(parts)) == [p.strip(" \t") for p in parts]


@given(st.text(alphabet='ab ,"\\', max_size=12))
def test_header_value_spans_tile_the_whole_line(line: str) -> None:
    """The values and the commas between them cover the line, as HAProxy's
    http_find_hdr_value_end walks it: a quote left open runs to the end of the line
    (it once made the last value vanish)."""
    spans = header_value_spans(line)
    assert spans[0][0] == 0 and spans[-1][1] == len(line)
    for (_, end, _, _), (start, _, _, _) in itertools.pairwise(spans):
        assert line[end] == "," and start == end + 1


def test_an_unclosed_quote_runs_to_the_end_of_the_line() -> None:
    escaped_json = 'say \\"hi\\"\\/\\\\ caf\\u00e9'
    assert split_header_values(escaped_json) == [escaped_json]
    assert split_header_values('x, "open, y') == ["x", '"open, y']
    assert split_header_values('a, "b,c", d') == ["a", '"b,c"', "d"]


def match_word_reference(sample: str, pattern: str, icase: bool, delims: str) -> bool:
    """A line-by-line Python transcription of pattern.c's match_word(), as the oracle."""
    ps = pattern
    while ps and ps[0] in delims:
        ps = ps[1:]
    while ps and ps[-1] in delims:
        ps = ps[:-1]
    pl = len(ps)
    if pl > len(sample):
        return False
    if icase:
        sample, ps = sample.lower(), ps.lower()
    may_match = True
    end = len(sample) - pl
    for c in range(end + 1):
        ch = sample[c] if c < len(sample) else "\0"
        if ch in delims:
            may_match = True
            continue
        if not may_match:
            continue
        if sample[c : c + pl] == ps and (c == end or sample[c + pl] in delims):
            return True
        may_match = False
    return False


word_text = st.text(alphabet="ab/?.:", max_size=8)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(word_text, min_size=1, max_size=3),
    word_text,
    st.booleans(),
)
def test_dir_and_dom_agree_with_match_word(patterns: list[str], sample: str, icase: bool) -> None:
    for method, delims in (("dir", "/?"), ("dom", "/?.:")):
        expected = any(match_word_reference(sample, p, icase, delims) for p in patterns)
        assert build_matcher(method, patterns, icase).match(sample) is expected, method


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address HAProxy reads out of a v4-mapped, v4-compatible or 6to4 address."""
    number = int(address)
    if number >> 32 in (0, 0xFFFF):
        return ipaddress.IPv4Address(number & 0xFFFFFFFF)
    if number >> 112 == 0x2002:
        return ipaddress.IPv4Address((number >> 80) & 0xFFFFFFFF)
    return None


v6_probes = st.one_of(
    st.integers(0, 2**128 - 1),
    st.integers(0, 2**32 - 1).map(lambda n: (0xFFFF << 32) | n),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1).map(lambda n: (0x2002 << 112) | (n << 80)),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(v4_networks, v6_networks), max_size=30),
    st.lists(v6_probes, min_size=1, max_size=20),
)
def test_ipv6_samples_agree_with_ipaddress(networks: list, probes: list[int]) -> None:
    matcher = build_matcher("ip", [str(n) for n in networks], False)
    for number in probes:
        address = ipaddress.IPv6Address(number)
        embedded = _embedded_v4(address)
        expected = any(address in n for n in networks if n.version == 6) or (
            embedded is not None and any(embedded in n for n in networks if n.version == 4)
        )
        assert matcher.match((6, number)) is expected, address
