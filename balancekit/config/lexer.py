"""Split haproxy.cfg text into words, line by line, exactly as HAProxy 2.6 does.

HAProxy's tokenizer (`parse_line` in src/tools.c) is the authority: unquoted
whitespace separates words, `#` starts a comment, `"…"` keeps spaces and expands
environment variables, `'…'` is literal, and a backslash escapes space, `#`,
quotes, `\\`, `$` (inside double quotes), `\\t \\n \\r` and `\\xNN`.  Matching it
byte for byte matters because users paste configs that HAProxy accepts; any
difference would change what a line means without telling anyone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ._cond import evaluate
from .runtime import ConfigWarning

__all__ = ["Line", "split_lines", "split_words"]

_HEX = "0123456789abcdefABCDEF"
#: C's isspace() in the C locale: Python's str.isspace() also counts NBSP and others.
_BLANK = frozenset(" \t\n\v\f\r")
_VAR_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_VAR_CHAR = _VAR_START | frozenset("0123456789")


@dataclass(frozen=True, slots=True)
class Line:
    """One non-empty configuration line: its words and where it came from."""

    words: tuple[str, ...]
    file: str
    line: int


def split_words(
    text: str,
    *,
    env: Mapping[str, str] | None = None,
    file: str = "<string>",
    line: int = 1,
    section: str = "",
) -> tuple[str, ...]:
    """Split one line into words; raise `ConfigError` on a malformed line.

    `section` feeds the `$.SECTION` pseudo-variable, as in HAProxy.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    words: list[str] = []
    current: list[str] = []
    started = False  # the current word exists even if empty (after quotes)
    squote = dquote = False
    quote_pos = -1
    i, n = 0, len(text)

    def fail(message: str, pos: int) -> ConfigError:
        return _at(message, pos, file, line)

    while i < n:
        c = text[i]
        if c in "\r\n":
            break
        if c == "#" and not squote and not dquote:
            break
        if (c == '"' and not squote) or (c == "'" and not dquote):
            # A quote toggles its own kind; the other kind is literal inside it.
            if c == '"':
                dquote = not dquote
            else:
                squote = not squote
            quote_pos = i
            started = True
            i += 1
            continue
        if c == "\\" and not squote:
            nxt = text[i + 1] if i + 1 < n else ""
            if nxt in (" ", "\\", "#", "'", '"'):
                current.append(nxt)
                i += 2
            elif nxt in ("t", "n", "r"):
                current.append({"t": "\t", "n": "\n", "r": "\r"}[nxt])
                i += 2
            elif nxt == "$" and dquote:
                current.append("$")
                i += 2
            elif nxt == "x":
                digits = text[i + 2 : i + 4]
                if len(digits) != 2 or any(d not in _HEX for d in digits):
                    raise fail("truncated or invalid hexadecimal sequence", i)
                current.append(chr(int(digits, 16)))
                i += 4
            else:
                current.append("\\")
                i += 1
            started = True
            continue
        if c in _BLANK and not squote and not dquote:
            if current or started:
                words.append("".join(current))
            current, started = [], False
            while i < n and text[i] in _BLANK and text[i] not in "\r\n":
                i += 1
            continue
        if c == "$" and dquote:
            i, value = _expand(text, i, environ, file, line, section)
            current.append(value)
            started = True
            continue
        current.append(c)
        started = True
        i += 1
    if squote or dquote:
        raise fail("unmatched quote", quote_pos)
    # HAProxy drops a trailing empty word (`foo ""`), keeps inner ones (`a "" b`).
    if current:
        words.append("".join(current))
    return tuple(words)


def _expand(
    text: str,
    i: int,
    env: Mapping[str, str],
    file: str,
    line: int,
    section: str,
) -> tuple[int, str]:
    """Expand `$NAME`, `${NAME}` or `${NAME-default}` starting at text[i] == '$'."""

    def fail(message: str, pos: int) -> ConfigError:
        return _at(message, pos, file, line)

    start = i
    i += 1
    brace = i < len(text) and text[i] == "{"
    if brace:
        i += 1
    if i >= len(text) or (text[i] not in _VAR_START and text[i] != "."):
        raise fail("forbidden first char in environment variable name", i)
    name_start = i
    if text[i] == ".":
        i += 1
    while i < len(text) and text[i] in _VAR_CHAR:
        i += 1
    name = text[name_start:i]
    value: str | None
    if name.startswith("."):
        pseudo = {".LINE": str(line), ".FILE": file, ".SECTION": section}
        if name not in pseudo:
            raise fail("unsupported internal variable name", name_start)
        value = pseudo[name]
    else:
        value = env.get(name)
    if brace:
        if i < len(text) and text[i] == "-":
            end = text.find("}", i)
            if end < 0:
                raise fail("unmatched brace in environment variable name", start + 1)
            if value is None:
                value = text[i + 1 : end]
            i = end
        elif i >= len(text) or text[i] != "}":
            raise fail("unmatched brace in environment variable name", start + 1)
        i += 1
    return i, value or ""


#: Global keywords that change the environment later lines expand `${NAME}` from.
ENV_KEYWORDS = frozenset(("setenv", "presetenv", "unsetenv", "resetenv"))


def apply_env(words: tuple[str, ...], environ: MutableMapping[str, str]) -> None:
    """Run a well-formed `setenv`, `presetenv`, `unsetenv` or `resetenv` line on
    `environ`, as HAProxy runs it on its own environment while it reads the file
    (a malformed one changes nothing; the builder reports it)."""
    keyword, args = words[0], words[1:]
    if keyword in ("setenv", "presetenv"):
        if len(args) == 2 and args[1] and (keyword == "setenv" or args[0] not in environ):
            environ[args[0]] = args[1]
    elif keyword == "unsetenv":
        for name in args:
            environ.pop(name, None)
    else:  # resetenv: keep only the names given
        for name in [n for n in environ if n not in args]:
            del environ[name]


def _at(message: str, pos: int, file: str, line: int) -> ConfigError:
    return ConfigError(f"{message} at position {pos + 1}", file, line)


def split_lines(
    text: str, *, file: str = "<string>", env: Mapping[str, str] | None = None
) -> Iterator[Line | ConfigError | ConfigWarning]:
    """Yield each non-empty line's words, or the `ConfigError` that line raised.

    Errors are yielded rather than raised so that `haproxy -c`-style checking
    can report every bad line of a file, not just the first one.  Conditional
    blocks (`.if` … `.endif`) are resolved here; `.warning`, `.notice` and
    `.diag` yield a `ConfigWarning`, `.alert` an error.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    section = kind = ""
    blocks = _Blocks(file)
    number = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        if "\x00" in raw:
            yield ConfigError("stray NUL character", file, number)
            continue
        try:
            words = split_words(raw, env=environ, file=file, line=number, section=section)
        except ConfigError as error:
            yield error  # HAProxy tokenizes every line, even in a false `.if` branch
            continue
        if not words:
            continue
        if words[0].startswith("."):
            yield from blocks.directive(words, number, environ)
            continue
        if not blocks.active:
            continue
        if words[0] in _SECTION_WORDS:
            # HAProxy's $.SECTION: the section's name, or its keyword when unnamed.
            section = words[1] if len(words) > 1 and words[1] else words[0]
            kind = words[0]
        elif kind == "global" and words[0] in ENV_KEYWORDS and isinstance(environ, MutableMapping):
            apply_env(words, environ)
        yield Line(words, file, number)
    yield from blocks.finish()


class _Blocks:
    """The stack of open `.if` blocks of one file."""

    def __init__(self, file: str) -> None:
        self.file = file
        # Per open block: [taking lines now, a branch was taken, `.else` seen, .if line].
        self.stack: list[list[Any]] = []

    @property
    def active(self) -> bool:
        return all(level[0] for level in self.stack)

    def directive(
        self, words: tuple[str, ...], line: int, env: Mapping[str, str]
    ) -> Iterator[ConfigError | ConfigWarning]:
        name, args = words[0], words[1:]

        def error(message: str) -> ConfigError:
            return ConfigError(message, self.file, line)

        if name in (".if", ".elif"):
            parent_active = all(level[0] for level in self.stack[: -1 if name == ".elif" else None])
            if name == ".if":
                self.stack.append([False, not parent_active, False, line])
            elif not self.stack:
                yield error("lone '.elif' with no matching '.if'")
                return
            elif self.stack[-1][2]:
                yield error("'.elif' after '.else' is not permitted")
                return
            level = self.stack[-1]
            level[0] = False
            if level[1]:
                return
            try:
                taken = evaluate(" ".join(args), env)
            except ValueError as failure:
                yield error(f"{failure} in '{name}'")
                return
            level[0] = level[1] = taken
            return
        if name in (".else", ".endif"):
            if args:
                yield error(f"unexpected argument '{args[0]}' for '{name}'")
                return
            if not self.stack:
                yield error(f"lone '{name}' with no matching '.if'")
                return
            if name == ".endif":
                self.stack.pop()
                return
            level = self.stack[-1]
            if level[2]:
                yield error("'.else' after '.else' is not permitted")
                return
            level[0], level[1], level[2] = not level[1], True, True
            return
        if not self.active:
            return
        if name in (".warning", ".notice", ".diag", ".alert"):
            if len(args) != 1:
                extra = f"'{args[1]}'" if len(args) > 1 else "nothing"
                yield error(f"'{name}' expects one message (use quotes for spaces), got {extra}")
            elif name == ".alert":
                yield error(f"'{args[0]}'")
            else:
                yield ConfigWarning(args[0], self.file, line)
            return
        yield error(f"unknown directive '{name}'")

    def finish(self) -> Iterator[ConfigError]:
        for level in self.stack:
            yield ConfigError("non-terminated '.if' block", self.file, level[3])


_SECTION_WORDS = frozenset({"global", "defaults", "frontend", "backend", "listen"})
