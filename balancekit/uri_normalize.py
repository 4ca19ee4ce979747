"""`http-request normalize-uri <normalizer>`: HAProxy 2.6's URI normalizers.

Each makes equivalent request targets look the same before routing and caching
(RFC 3986, 6.2.2), on the part of the target HAProxy applies it to: the path
alone (`path-merge-slashes`, `path-strip-dot`, `path-strip-dotdot`), the query
alone (`query-sort-by-name`), or the path with its query (`percent-*`,
`fragment-*`).  A `strict` normalizer finds a `%` not followed by two hex digits
invalid: the request is then a 400, as HAProxy answers it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["NORMALIZERS", "InvalidUri", "normalize"]

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})?")


class InvalidUri(ValueError):
    """A strict normalizer met a `%` that starts no percent-encoded octet."""


def merge_slashes(path: str) -> str:
    """`//` and longer runs of slashes become one."""
    return re.sub(r"/{2,}", "/", path)


def strip_dot(path: str) -> str:
    """Drop every `.` segment: `/a/./b` is `/a/b`, `/a/.` is `/a/`."""
    segments = path.split("/")
    last = len(segments) - 1
    return "".join(
        segment + ("/" if at < last else "")
        for at, segment in enumerate(segments)
        if segment != "."
    )


def strip_dotdot(path: str, full: bool = False) -> str:
    """Let each `..` segment remove the segment before it: `/a/b/../c` is `/a/c`.

    Without `full`, `..` segments that climb above the root stay at its start
    (`/../a` stays); with `full` they are dropped (`/a`).  A `..` that ends the
    path leaves a trailing slash (`/a/b/..` is `/a/`).
    """
    segments = path.split("/")
    if segments and segments[-1] == "..":
        segments.append("")  # `/a/..` climbs as `/a/../` does
    kept: list[str] = []
    up = 0
    # From the end, as a `..` removes what comes before it.
    for at in range(len(segments) - 1, 0, -1):
        segment = segments[at]
        if segment == ".." and at < len(segments) - 1:
            up += 1
        elif up:
            up -= 1
        else:
            kept.append(segment)
    head = segments[0]
    if up and not full:
        kept.extend([".."] * up)
    return head + "".join("/" + segment for segment in reversed(kept))


def sort_query(query: str) -> str:
    """The `&`-separated parameters of `query` (no `?`) sorted by name, byte by
    byte, a name that is a prefix of another first, equal names kept in order."""
    params = query.split("&")
    params.sort(key=lambda param: param.split("=", 1)[0].encode("latin-1"))
    return "&".join(params)


def _each_octet(target: str, strict: bool, rewrite: Callable[[str], str]) -> str:
    """`target` with each percent-encoded octet (`%` and two hex digits, given to
    `rewrite`) replaced; a `%` starting none stays, unless `strict` refuses it."""

    def octet(found: re.Match[str]) -> str:
        if found.group(1) is None:
            if strict:
                raise InvalidUri(target)
            return "%"
        return rewrite(found.group(1))

    return _PERCENT.sub(octet, target)


def percent_upper(target: str, strict: bool = False) -> str:
    """Upper-case the hex digits of percent-encoded octets (`%2f` is `%2F`)."""
    return _each_octet(target, strict, lambda digits: "%" + digits.upper())


def _decoded(digits: str) -> str:
    char = chr(int(digits, 16))
    return char if char in _UNRESERVED else "%" + digits


def percent_decode_unreserved(target: str, strict: bool = False) -> str:
    """Decode the percent-encoded octets of unreserved characters (`%7E` is `~`)."""
    return _each_octet(target, strict, _decoded)


def strip_fragment(target: str) -> str:
    return target.split("#", 1)[0]


def encode_fragment(target: str) -> str:
    return target.replace("#", "%23")


_Rewrite = Callable[[str], str]
#: normalizer (with its argument) -> (part of the target it rewrites, function).
NORMALIZERS: dict[str, tuple[str, _Rewrite]] = {
    "path-merge-slashes": ("path", merge_slashes),
    "path-strip-dot": ("path", strip_dot),
    "path-strip-dotdot": ("path", strip_dotdot),
    "path-strip-dotdot full": ("path", lambda path: strip_dotdot(path, full=True)),
    "query-sort-by-name": ("query", sort_query),
    "percent-to-uppercase": ("pathq", percent_upper),
    "percent-to-uppercase strict": ("pathq", lambda text: percent_upper(text, strict=True)),
    "percent-decode-unreserved": ("pathq", percent_decode_unreserved),
    "percent-decode-unreserved strict": (
        "pathq",
        lambda text: percent_decode_unreserved(text, strict=True),
    ),
    "fragment-strip": ("pathq", strip_fragment),
    "fragment-encode": ("pathq", encode_fragment),
}


def normalize(normalizer: str, path: str, query: str | None) -> str:
    """The path and query (`query` None: the target has no `?`) after `normalizer`,
    as one string.  Raises InvalidUri for a strict normalizer's invalid input."""
    part, rewrite = NORMALIZERS[normalizer]
    if part == "path":
        return rewrite(path) + ("" if query is None else "?" + query)
    if part == "query":
        return path + ("" if query is None else "?" + rewrite(query))
    return rewrite(path + ("" if query is None else "?" + query))
