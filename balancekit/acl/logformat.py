"""Log-format strings in rule arguments: literal text, `%[sample]` and a few `%xx` aliases.

`http-request set-header X-Src %[src]` and `http-request redirect location
/x?%[query]` take log-format strings.  They are split at load into literal
pieces and compiled sample expressions, so rendering one per request is a join.
As in HAProxy's HTTP rules, a sample that yields nothing renders as an empty
string and `%{+Q}` quotes only the `%xx` aliases, not samples (checked against
a running HAProxy 2.6).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..request import Request
from .fetches import FetchError, format_sample, parse_sample_expr

__all__ = ["LogFormat", "LogFormatError", "parse_log_format"]

Piece = str | Callable[[Request], str]


class LogFormatError(ValueError):
    """A log-format string that cannot be compiled; callers add `file:line`."""


def _port(value: int) -> str:
    return str(value)


#: `%xx` aliases that make sense for a request view (log.c's logformat_keywords).
_ALIASES: dict[str, Callable[[Request], str]] = {
    "ci": lambda r: r.src or "-",
    "cp": lambda r: _port(r.src_port),
    "fi": lambda r: r.dst or "-",
    "fp": lambda r: _port(r.dst_port),
    "HM": lambda r: r.method,
    "HU": lambda r: r.uri,
    "HP": lambda r: r.path,
    "HQ": lambda r: ("?" + r.query) if "?" in r.uri else "",
    "HV": lambda r: r.version,
}


@dataclass(frozen=True, slots=True)
class LogFormat:
    """A compiled log-format string; `render(request)` builds the text."""

    text: str
    pieces: tuple[Piece, ...]

    @property
    def is_static(self) -> bool:
        """True when the string has no `%` variable at all."""
        return all(isinstance(p, str) for p in self.pieces)

    def render(self, request: Request) -> str:
        return "".join(p if isinstance(p, str) else p(request) for p in self.pieces)


def _sample_piece(text: str) -> Piece:
    try:
        expr = parse_sample_expr(text)
    except FetchError as exc:
        raise LogFormatError(f"failed to parse sample expression <{text}> : {exc}") from None

    def render(request: Request) -> str:
        value = expr.single(request)
        return "" if value is None else format_sample(value)

    return render


def _quoted(alias: Callable[[Request], str]) -> Callable[[Request], str]:
    def render(request: Request) -> str:
        return f'"{alias(request)}"'

    return render


def parse_log_format(text: str) -> LogFormat:
    """Compile a log-format string (the subset balancekit can evaluate from a request)."""
    pieces: list[Piece] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "%":
            literal.append(ch)
            i += 1
            continue
        if text.startswith("%%", i):
            literal.append("%")
            i += 2
            continue
        i += 1
        options = ""
        if i < len(text) and text[i] == "{":
            end = text.find("}", i)
            if end < 0:
                raise LogFormatError(f"missing '}}' after '%{{' in '{text}'")
            options, i = text[i + 1 : end], end + 1
        quote = "+Q" in options
        if literal:
            pieces.append("".join(literal))
            literal = []
        if i < len(text) and text[i] == "[":
            end = text.find("]", i)
            if end < 0:
                raise LogFormatError(f"missing ']' after '%[' in '{text}'")
            pieces.append(_sample_piece(text[i + 1 : end]))
            i = end + 1
            continue
        start = i
        while i < len(text) and text[i].isalpha():
            i += 1
        name = text[start:i]
        alias = _ALIASES.get(name)
        if alias is None:
            shown = name or text[start : start + 1]
            raise LogFormatError(
                f"log-format variable '%{shown}' is not supported here "
                f"(supported: %[sample], {', '.join('%' + k for k in _ALIASES)})"
            )
        pieces.append(_quoted(alias) if quote else alias)
    if literal:
        pieces.append("".join(literal))
    return LogFormat(text, tuple(pieces))
