"""Pattern matchers: the `-m` methods of an ACL, compiled once at load.

HAProxy splits an ACL into fetch → match → condition (sample.c → pattern.c →
acl.c).  This module is the middle layer: each matcher is built from the pattern
words of one `acl` line (and any `-f` files), does all parsing and compiling up
front, and answers `match(value) -> bool` per sample with no allocation beyond
what Python needs for the comparison.  IP lists are merged into sorted disjoint
ranges so a 100,000-entry list answers in O(log n) by bisection.
"""

from __future__ import annotations

import re
import socket
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from typing import cast

__all__ = [
    "KNOWN_METHODS",
    "MATCH_METHODS",
    "IpSet",
    "Matcher",
    "MethodMatcher",
    "PatternError",
    "build_matcher",
    "parse_ip_sample",
    "parse_range",
    "str_to_int",
    "v4_mask",
]

#: Every `-m` method and the sample type the match consumes (pattern.c's
#: pat_match_types); `regm` exists in HAProxy but is not supported here.
MATCH_METHODS: dict[str, str] = {
    "found": "sint",
    "bool": "sint",
    "int": "sint",
    "ip": "addr",
    "len": "str",
    "str": "str",
    "beg": "str",
    "sub": "str",
    "dir": "str",
    "dom": "str",
    "end": "str",
    "reg": "str",
    "bin": "bin",
}
UNSUPPORTED_METHODS = frozenset({"regm"})

_V4_MAPPED_PREFIX = 0xFFFF << 32
_ALL_V6 = (1 << 128) - 1


class PatternError(ValueError):
    """A pattern word that cannot be compiled; the ACL layer adds `file:line`."""


def parse_ip_sample(text: str) -> tuple[int, int] | None:
    """Parse an address as a sample: `(4 | 6, integer)`, or None when it is not one."""
    try:
        if ":" in text:
            return 6, int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
        return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except (OSError, ValueError):
        return None


def str_to_int(text: str) -> int | None:
    """HAProxy's string→integer cast: optional sign then leading digits; empty fails."""
    if not text:
        return None
    i, sign = 0, 1
    if text[0] in "+-":
        sign = -1 if text[0] == "-" else 1
        i = 1
    start = i
    while i < len(text) and "0" <= text[i] <= "9":
        i += 1
    return sign * int(text[start:i]) if i > start else 0


def _parse_int(text: str, original: str, what: str) -> int:
    body = text[1:] if text[:1] in "+-" else text
    if not body.isdigit() or not body.isascii():
        raise PatternError(f"'{original}' is not a {what}")
    return int(text)


def parse_range(text: str) -> tuple[int | None, int | None]:
    """Parse `N`, `N:M`, `N-M`, `:M`, `N:` (pat_parse_int) into inclusive bounds."""
    if not text:
        raise PatternError("'' is not a valid number range")
    sep = next((i for i, ch in enumerate(text) if ch in ":-"), -1)
    if sep < 0:
        value = _parse_int(text, text, "number")
        return value, value
    bad = "valid number range"
    if sep == 0 and len(text) > 1:
        return None, _parse_int(text[1:], text, bad)
    if sep == len(text) - 1:
        return _parse_int(text[:sep], text, bad), None
    low = _parse_int(text[:sep], text, bad)
    high = _parse_int(text[sep + 1 :], text, bad)
    if low > high:
        raise PatternError(f"'{text}' is not a valid number range")
    return low, high


def v4_mask(text: str) -> int:
    """An IPv4 mask written as a length (`24`) or dotted (`255.255.255.0`)."""
    if "." in text:
        try:
            return int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
        except OSError:
            raise PatternError("bad mask") from None
    if not text.isdigit() or int(text) > 32:
        raise PatternError("bad mask")
    bits = int(text)
    return (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF if bits else 0


def _contiguous_prefix(mask: int) -> int | None:
    inverted = ~mask & 0xFFFFFFFF
    if inverted & (inverted + 1):
        return None
    return 32 - inverted.bit_length()


class IpSet:
    """IPv4/IPv6 addresses and networks, merged into sorted disjoint ranges.

    Mirrors pat_match_ip: an IPv4 sample is looked up among IPv4 networks, then
    as `::ffff:a.b.c.d` among IPv6 ones; an IPv6 sample among IPv6 networks,
    then (if it is v4-mapped, v4-compatible or 6to4) among IPv4 ones.  IPv4
    masks that are not contiguous (`10.0.0.0/255.0.255.0`) cannot be ranges and
    are checked one by one, as HAProxy keeps them in a list too.
    """

    __slots__ = ("_odd_v4", "_pending4", "_pending6", "_v4", "_v6")

    def __init__(self) -> None:
        self._pending4: list[tuple[int, int]] = []
        self._pending6: list[tuple[int, int]] = []
        self._odd_v4: list[tuple[int, int]] = []
        self._v4: tuple[list[int], list[int]] = ([], [])
        self._v6: tuple[list[int], list[int]] = ([], [])

    def __repr__(self) -> str:
        return (
            f"<IpSet v4 ranges={len(self._v4[0])} v6 ranges={len(self._v6[0])} "
            f"odd masks={len(self._odd_v4)}>"
        )

    def __len__(self) -> int:
        return len(self._v4[0]) + len(self._v6[0]) + len(self._odd_v4)

    def add(self, text: str) -> None:
        """Add one `addr[/mask]` pattern (pat_parse_ip's grammar; no DNS)."""
        self.add_many((text,))

    def add_many(self, texts: Iterable[str]) -> None:
        """Add many patterns; the loop is kept tight because `-f` lists can be huge."""
        pton, af4, af6, from_bytes = (
            socket.inet_pton,
            socket.AF_INET,
            socket.AF_INET6,
            int.from_bytes,
        )
        pending4, pending6 = self._pending4, self._pending6
        for text in texts:
            try:
                cut = text.rfind("/")
                addr = text if cut < 0 else text[:cut]
                mask = "" if cut < 0 else text[cut + 1 :]
                if ":" not in addr:
                    value = from_bytes(pton(af4, addr), "big")
                    if cut < 0:
                        pending4.append((value, value))
                        continue
                    if mask.isdigit() and int(mask) <= 32:
                        prefix: int | None = int(mask)
                    else:
                        bits = v4_mask(mask)
                        prefix = _contiguous_prefix(bits)
                        if prefix is None:
                            self._odd_v4.append((value & bits, bits))
                            continue
                    span = (1 << (32 - prefix)) - 1  # type: ignore[operator]
                    start = value & ~span & 0xFFFFFFFF
                    pending4.append((start, start + span))
                    continue
                value = from_bytes(pton(af6, addr), "big")
                prefix = 128
                if cut >= 0:
                    if not mask.isdigit() or int(mask) > 128:
                        raise PatternError("bad mask")
                    prefix = int(mask)
                span = (1 << (128 - prefix)) - 1
                start = value & ~span & _ALL_V6
                pending6.append((start, start + span))
            except (OSError, ValueError):
                hint = ""
                if text[:1].isalpha() and ":" not in text:
                    hint = " (host names are not resolved: use an address)"
                raise PatternError(f"'{text}' is not a valid IPv4 or IPv6 address{hint}") from None

    def freeze(self) -> None:
        """Merge what was added into the searchable ranges (idempotent)."""
        if self._pending4:
            self._v4 = _merge(self._v4, self._pending4)
            self._pending4 = []
        if self._pending6:
            self._v6 = _merge(self._v6, self._pending6)
            self._pending6 = []

    def contains(self, version: int, value: int) -> bool:
        """Is the sample address (as returned by `parse_ip_sample`) in the set?"""
        if version == 4:
            return (
                _in(self._v4, value)
                or _in(self._v6, _V4_MAPPED_PREFIX | value)
                or self._odd_match(value)
            )
        if _in(self._v6, value):
            return True
        top = value >> 32
        if top == 0xFFFF or top == 0:
            v4 = value & 0xFFFFFFFF
        elif value >> 112 == 0x2002:
            v4 = (value >> 80) & 0xFFFFFFFF
        else:
            return False
        return _in(self._v4, v4) or self._odd_match(v4)

    def _odd_match(self, v4: int) -> bool:
        return any((v4 & mask) == net for net, mask in self._odd_v4)


def _merge(
    current: tuple[list[int], list[int]], extra: list[tuple[int, int]]
) -> tuple[list[int], list[int]]:
    spans = sorted([*zip(current[0], current[1], strict=True), *extra])
    starts: list[int] = []
    ends: list[int] = []
    for start, end in spans:
        if ends and start <= ends[-1] + 1:
            if end > ends[-1]:
                ends[-1] = end
        else:
            starts.append(start)
            ends.append(end)
    return starts, ends


def _in(ranges: tuple[list[int], list[int]], value: int) -> bool:
    starts, ends = ranges
    i = bisect_right(starts, value) - 1
    return i >= 0 and value <= ends[i]


# --------------------------------------------------------------------------- matchers


class Matcher:
    """One compiled `-m` method over a list of patterns.

    `match` receives a sample already cast to `input_type` (str, int, or an
    `(version, int)` address) and says whether any pattern matches it.
    """

    __slots__ = ()
    method = ""

    def match(self, value: object) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} -m {self.method}>"


class FoundMatcher(Matcher):
    """`-m found`: the fetch returned a sample; patterns are ignored."""

    __slots__ = ()
    method = "found"

    def match(self, value: object) -> bool:
        return True


class BoolMatcher(Matcher):
    """`-m bool`: the sample as an integer is non-zero; patterns are ignored."""

    __slots__ = ()
    method = "bool"

    def match(self, value: object) -> bool:
        return bool(value)


class RangeMatcher(Matcher):
    """`-m int` (the integer) or `-m len` (the string's length) within any range."""

    __slots__ = ("_length", "ranges")

    def __init__(self, ranges: Sequence[tuple[int | None, int | None]], *, length: bool) -> None:
        self.ranges = tuple(ranges)
        self._length = length

    @property
    def method(self) -> str:  # type: ignore[override]
        return "len" if self._length else "int"

    def match(self, value: object) -> bool:
        number = len(value) if self._length else value  # type: ignore[arg-type]
        for low, high in self.ranges:
            if (low is None or low <= number) and (high is None or number <= high):  # type: ignore[operator]
                return True
        return False


class IpMatcher(Matcher):
    """`-m ip`: the address is inside any listed address or network."""

    __slots__ = ("ips",)
    method = "ip"

    def __init__(self, ips: IpSet) -> None:
        self.ips = ips

    def match(self, value: object) -> bool:
        version, number = cast(tuple[int, int], value)
        return self.ips.contains(version, number)


class StrMatcher(Matcher):
    """`-m str`: exact equality, a hash lookup whatever the list size."""

    __slots__ = ("_icase", "_set")
    method = "str"

    def __init__(self, patterns: Iterable[str], icase: bool) -> None:
        self._icase = icase
        self._set = frozenset(p.lower() for p in patterns) if icase else frozenset(patterns)

    def match(self, value: object) -> bool:
        text: str = value  # type: ignore[assignment]
        return (text.lower() if self._icase else text) in self._set


class BinMatcher(Matcher):
    """`-m bin`: the sample's bytes equal a pattern written in hexadecimal."""

    __slots__ = ("_set",)
    method = "bin"

    def __init__(self, patterns: Iterable[str]) -> None:
        self._set = frozenset(_parse_hex(p) for p in patterns)

    def match(self, value: object) -> bool:
        return value in self._set


def _parse_hex(text: str) -> bytes:
    """tools.c's parse_binary: an even number of hex digits, with its messages."""
    if len(text) % 2:
        raise PatternError("an even number of hex digit is expected")
    bad = next((ch for ch in text if ch not in "0123456789abcdefABCDEF"), None)
    if bad is not None:
        raise PatternError(f"an hex digit is expected (found '{bad}')")
    return bytes.fromhex(text)


class AffixMatcher(Matcher):
    """`-m beg` / `-m end`: one hash lookup per distinct pattern length."""

    __slots__ = ("_by_len", "_end", "_icase")

    def __init__(self, patterns: Iterable[str], icase: bool, *, end: bool) -> None:
        by_len: dict[int, set[str]] = {}
        for p in patterns:
            by_len.setdefault(len(p), set()).add(p.lower() if icase else p)
        self._by_len = tuple((n, frozenset(s)) for n, s in sorted(by_len.items()))
        self._icase = icase
        self._end = end

    @property
    def method(self) -> str:  # type: ignore[override]
        return "end" if self._end else "beg"

    def match(self, value: object) -> bool:
        text: str = value  # type: ignore[assignment]
        if self._icase:
            text = text.lower()
        size = len(text)
        for n, group in self._by_len:
            if n > size:
                return False
            piece = (text[size - n :] if n else "") if self._end else text[:n]
            if piece in group:
                return True
        return False


class SubMatcher(Matcher):
    """`-m sub`: the pattern appears anywhere in the sample."""

    __slots__ = ("_icase", "_patterns")
    method = "sub"

    def __init__(self, patterns: Iterable[str], icase: bool) -> None:
        self._icase = icase
        self._patterns = tuple(p.lower() for p in patterns) if icase else tuple(patterns)

    def match(self, value: object) -> bool:
        text: str = value  # type: ignore[assignment]
        if self._icase:
            text = text.lower()
        return any(p in text for p in self._patterns)


class RegexMatcher(Matcher):
    """`-m reg`, `-m dir`, `-m dom`: one precompiled regex for the whole list.

    dir and dom are HAProxy's match_word(): the pattern (stripped of its own
    leading/trailing delimiters) must start at the beginning of the sample or
    right after a delimiter, and end at the end or right before one.  dir's
    delimiters are `/` and `?`; dom's are `/ ? . :`.
    """

    __slots__ = ("_search", "method")

    def __init__(self, regex: re.Pattern[str], method: str) -> None:
        self._search = regex.search
        self.method = method

    def match(self, value: object) -> bool:
        return self._search(cast(str, value)) is not None


_WORD_DELIMS = {"dir": "/?", "dom": "/?.:"}


def _word_regex(patterns: Sequence[str], delims: str, icase: bool) -> re.Pattern[str]:
    klass = "[" + re.escape(delims) + "]"
    words = {p.strip(delims) for p in patterns}
    branches = []
    if words - {""}:
        alternatives = "|".join(re.escape(w) for w in sorted(words - {""}))
        branches.append(f"(?:\\A|(?<={klass}))(?:{alternatives})(?={klass}|\\Z)")
    if "" in words:  # a pattern made only of delimiters: an empty sample, or one ending in one
        branches.append(f"(?:\\A|(?<={klass}))\\Z")
    flags = re.IGNORECASE if icase else 0
    return re.compile("|".join(branches), flags | re.DOTALL)


def _compile_regexes(patterns: Sequence[str], icase: bool) -> re.Pattern[str]:
    flags = re.IGNORECASE if icase else 0
    for p in patterns:
        try:
            re.compile(p, flags)
        except re.error as exc:
            raise PatternError(f"regex '{p}' is invalid: {exc}") from None
    if not patterns:
        return re.compile(r"(?!)")
    joined = "|".join(f"(?:{p})" for p in patterns)
    try:
        return re.compile(joined, flags)
    except re.error:  # e.g. a pattern with its own inline global flags
        compiled = [re.compile(p, flags) for p in patterns]
        return _AnyOf(compiled)  # type: ignore[return-value]


class _AnyOf:
    """Fallback when the regexes cannot be joined into one alternation."""

    __slots__ = ("_all",)

    def __init__(self, compiled: list[re.Pattern[str]]) -> None:
        self._all = compiled

    def search(self, text: str) -> object:
        for r in self._all:
            found = r.search(text)
            if found:
                return found
        return None


_OPERATORS = {"eq", "ge", "gt", "le", "lt"}


def int_ranges(words: Sequence[str]) -> list[tuple[int | None, int | None]]:
    """Turn `-m int` / `-m len` words into ranges, applying sticky eq/ge/gt/le/lt operators."""
    op = "eq"
    out: list[tuple[int | None, int | None]] = []
    for word in words:
        if word in _OPERATORS:
            op = word
            continue
        if op == "eq" or ":" in word or "-" in word:
            out.append(parse_range(word))
            continue
        value = str_to_int_strict(word)
        if op in ("ge", "gt"):
            out.append((value + (op == "gt"), None))
        else:
            out.append((None, value - (op == "lt")))
    return out


def str_to_int_strict(word: str) -> int:
    """An operator's operand: an integer, or the error HAProxy reports."""
    try:
        return _parse_int(word, word, "number")
    except PatternError:
        raise PatternError(f"'{word}' is neither a number nor a supported operator") from None


KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "CONNECT", "PUT", "OPTIONS", "DELETE", "TRACE"})


class MethodMatcher(Matcher):
    """The `method` ACL: well-known methods compare as enums, others as strings.

    HAProxy recognises the eight methods above only when spelled in upper case,
    on both sides; anything else ("post", "PATCH") is "other" and compares by
    string, honouring `-i`.  So `method GET` never matches a request whose
    method is `get`, and `-i` only helps for non-standard methods.
    """

    __slots__ = ("_icase", "_known", "_other")
    method = "str"

    def __init__(self, patterns: Iterable[str], icase: bool) -> None:
        words = list(patterns)
        self._known = frozenset(p for p in words if p in KNOWN_METHODS)
        others = [p for p in words if p not in KNOWN_METHODS]
        self._other = frozenset(p.lower() for p in others) if icase else frozenset(others)
        self._icase = icase

    def match(self, value: object) -> bool:
        text: str = value  # type: ignore[assignment]
        if text in KNOWN_METHODS:
            return text in self._known
        return (text.lower() if self._icase else text) in self._other


def build_matcher(method: str, patterns: Sequence[str], icase: bool) -> Matcher:
    """Compile the patterns of one ACL expression for `-m method`."""
    if method == "found":
        return FoundMatcher()
    if method == "bool":
        return BoolMatcher()
    if method in ("int", "len"):
        return RangeMatcher(int_ranges(patterns), length=method == "len")
    if method == "ip":
        ips = IpSet()
        ips.add_many(patterns)
        ips.freeze()
        return IpMatcher(ips)
    if method == "str":
        return StrMatcher(patterns, icase)
    if method == "bin":
        return BinMatcher(patterns)
    if method in ("beg", "end"):
        return AffixMatcher(patterns, icase, end=method == "end")
    if method == "sub":
        return SubMatcher(patterns, icase)
    if method == "reg":
        return RegexMatcher(_compile_regexes(patterns, icase), "reg")
    if method in _WORD_DELIMS:
        if not patterns:
            return RegexMatcher(re.compile(r"(?!)"), method)
        return RegexMatcher(_word_regex(patterns, _WORD_DELIMS[method], icase), method)
    raise PatternError(f"unknown matching method '{method}'")
