"""Log-format strings in rule arguments: literal text, `%[sample]` and a few `%xx` aliases.

`http-request set-header X-Src %[src]` and `http-request redirect location
/x?%[query]` take log-format strings.  They are split at load into literal
pieces and compiled sample expressions, so rendering one per request is a join.
As in HAProxy's HTTP rules, a sample that yields nothing renders as an empty
string and `%{+Q}` quotes only the `%xx` aliases, not samples (checked against
a running HAProxy 2.6).
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..request import Request
from .fetches import (
    FetchError,
    SampleContext,
    format_sample,
    parse_sample_expr,
    sample_expr_end,
)

__all__ = ["LogFormat", "LogFormatError", "Token", "parse_log_format", "tokenize"]

Piece = str | Callable[[Request], str]


class LogFormatError(ValueError):
    """A log-format string that cannot be compiled; callers add `file:line`."""


def _port(value: int) -> str:
    return str(value)


def _hex_ip(address: str) -> str:
    """`%{+X}ci`: the address's bytes in hexadecimal, as log.c's lf_ip writes them."""
    try:
        return ipaddress.ip_address(address).packed.hex().upper()
    except ValueError:
        return "-"


def _unique_id(request: Request) -> str:
    stream = request.stream
    return "" if stream is None else stream.unique_id(request) or ""


def _serial(request: Request) -> int:
    return 0 if request.stream is None else request.stream.serial


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
    "ID": _unique_id,
    "Ts": lambda r: str(int(time.time())),
    "pid": lambda r: str(os.getpid()),
    "rt": lambda r: str(_serial(r)),
}

#: Their `%{+X}` forms: numbers and addresses in upper-case hexadecimal (log.c).
_HEX_ALIASES: dict[str, Callable[[Request], str]] = {
    "ci": lambda r: _hex_ip(r.src),
    "cp": lambda r: f"{r.src_port:04X}",
    "fi": lambda r: _hex_ip(r.dst),
    "fp": lambda r: f"{r.dst_port:04X}",
    "Ts": lambda r: f"{int(time.time()):04X}",
    "pid": lambda r: f"{os.getpid():04X}",
    "rt": lambda r: f"{_serial(r):04X}",
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

    def __deepcopy__(self, memo: dict[int, object]) -> LogFormat:
        return self  # immutable: a `defaults` section's copy may share it

    def render(self, request: Request) -> str:
        return "".join(p if isinstance(p, str) else p(request) for p in self.pieces)


def _sample_piece(text: str, context: SampleContext | None, response: bool) -> Piece:
    try:
        expr = parse_sample_expr(text, context=context, response=response, request_gone=response)
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


Token = tuple[str, str, str]
"""(kind, text, options): ("lit", text, ""), ("sep", " ", ""), ("sample", expression,
options) or ("var", name, options); options are what `%{…}` held."""


def tokenize(text: str, *, spaces: bool = False) -> Iterator[Token]:
    """Split a log-format string into its pieces, as HAProxy's parser does.

    `%%` is a literal `%`.  With `spaces`, each run of spaces is one "sep" token
    (log lines, where HAProxy prints a separator only once); without, spaces are
    literal text (rule arguments).  Raises `LogFormatError` for an unclosed
    `%{` or `%[`.
    """
    literal: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if spaces and ch == " ":
            if literal:
                yield ("lit", "".join(literal), "")
                literal.clear()
            while i < n and text[i] == " ":
                i += 1
            yield ("sep", " ", "")
            continue
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
        if i < n and text[i] == "{":
            end = text.find("}", i)
            if end < 0:
                raise LogFormatError(f"missing '}}' after '%{{' in '{text}'")
            options, i = text[i + 1 : end], end + 1
        if literal:
            yield ("lit", "".join(literal), "")
            literal.clear()
        if i < n and text[i] == "[":
            # The expression ends where its own syntax ends (a `]` inside converter
            # arguments belongs to it), and a `]` must follow, as in log.c.
            end = sample_expr_end(text, i + 1)
            if end >= n:
                raise LogFormatError(f"missing ']' after '%[' in '{text}'")
            if text[end] != "]":
                raise LogFormatError(
                    f"expected ']' after '%[{text[i + 1 : end]}', but found '{text[end]}' "
                    f"in '{text}'"
                )
            yield ("sample", text[i + 1 : end], options)
            i = end + 1
            continue
        start = i
        while i < n and text[i].isalpha():
            i += 1
        yield ("var", text[start:i] or text[start : start + 1], options)
    if literal:
        yield ("lit", "".join(literal), "")


def parse_log_format(
    text: str,
    context: SampleContext | None = None,
    *,
    response: bool = False,
    merge_spaces: bool = False,
) -> LogFormat:
    """Compile a log-format string (the subset balancekit can evaluate from a request);
    `context` resolves the userlists and tables `%[…]` fetches name; `response`
    admits the response fetches and refuses the request head's (`http-response`
    rules render on a `ResponseView`, when the request head is gone);
    `merge_spaces` prints a run of spaces once (`unique-id-format`, as log lines).
    `%o` sets the options (`+Q`, `+X`) of every variable after it."""
    pieces: list[Piece] = []
    defaults = ""
    for kind, value, options in tokenize(text, spaces=merge_spaces):
        if kind == "lit":
            pieces.append(value)
        elif kind == "sep":
            if pieces:  # (a leading space is dropped, as log.c's last_isspace starts set)
                pieces.append(value)
        elif kind == "sample":
            pieces.append(_sample_piece(value, context, response))
        elif value == "o":
            defaults = options
        else:
            pieces.append(_alias_piece(value, _flags(defaults, options)))
    return LogFormat(text, tuple(pieces))


def _flags(defaults: str, options: str) -> set[str]:
    """The `+X`/`-X` flags in force: `%o`'s, then the variable's own."""
    flags: set[str] = set()
    for flag in (defaults + "," + options).split(","):
        if flag[:1] == "+":
            flags.add(flag[1:])
        elif flag[:1] == "-":
            flags.discard(flag[1:])
    return flags


def _alias_piece(name: str, flags: set[str]) -> Piece:
    alias = (_HEX_ALIASES if "X" in flags else _ALIASES).get(name) or _ALIASES.get(name)
    if alias is None:
        raise LogFormatError(
            f"log-format variable '%{name}' is not supported here "
            f"(supported: %[sample], {', '.join('%' + k for k in _ALIASES)})"
        )
    return _quoted(alias) if "Q" in flags else alias
