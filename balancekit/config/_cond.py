"""HAProxy 2.6's conditional blocks: `.if` / `.elif` / `.else` / `.endif`, plus
`.diag` / `.notice` / `.warning` / `.alert`.

Conditions are evaluated while reading, from the environment, so that a file
which selects its lines with `.if defined(PROD)` means the same here as in
HAProxy.  Supported terms: numbers (non-zero is true), `!`, `( … )`, `&&`, `||`,
`defined(NAME)`, `streq(a,b)`, `strneq(a,b)`, `version_atleast(v)` and
`version_before(v)` against HAProxy 2.6.12, the version balancekit follows.
Predicates about the TLS library or build features are rejected, since their
answer would describe a different program.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["HAPROXY_VERSION", "evaluate"]

#: The HAProxy version balancekit behaves as, for `version_atleast` / `version_before`.
HAPROXY_VERSION = "2.6.12"

_NUMBER = re.compile(r"[+-]?(0[xX][0-9a-fA-F]+|\d+)")
_PREDICATE = re.compile(r"([a-z_]+)\(([^()]*)\)")
_UNSUPPORTED = ("feature", "openssl_version_atleast", "openssl_version_before",
                "ssllib_name_startswith")  # fmt: skip


def _version(text: str) -> tuple[int, ...]:
    parts = re.findall(r"\d+", text)
    if not parts:
        raise ValueError(f"invalid version '{text}'")
    return tuple(int(p) for p in parts)


class _Parser:
    def __init__(self, text: str, env: Mapping[str, str]) -> None:
        self.text = text
        self.pos = 0
        self.env = env

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def expr(self) -> bool:
        value = self.conjunction()
        while self.text.startswith("||", self.pos):
            self.pos += 2
            right = self.conjunction()
            value = value or right
        return value

    def conjunction(self) -> bool:
        value = self.term()
        while self.text.startswith("&&", self.pos):
            self.pos += 2
            right = self.term()
            value = value and right
        return value

    def term(self) -> bool:
        self.skip()
        negate = False
        while self.text.startswith("!", self.pos):
            negate = not negate
            self.pos += 1
            self.skip()
        rest = self.text[self.pos :]
        number = _NUMBER.match(rest)
        predicate = _PREDICATE.match(rest)
        if number:
            value = int(number.group(), 0) != 0
            self.pos += number.end()
        elif rest.startswith("("):
            self.pos += 1
            value = self.expr()
            self.skip()
            if not self.text.startswith(")", self.pos):
                raise ValueError(f"expected ')' after conditional expression '{rest}'")
            self.pos += 1
        elif predicate:
            value = self.predicate(predicate.group(1), predicate.group(2))
            self.pos += predicate.end()
        else:
            raise ValueError(f"unparsable conditional expression '{rest}'")
        self.skip()
        return value != negate

    def predicate(self, name: str, raw: str) -> bool:
        args = [a.strip() for a in raw.split(",")] if raw.strip() else []
        expected = {"defined": 1, "streq": 2, "strneq": 2, "version_atleast": 1}
        expected["version_before"] = 1
        if name in _UNSUPPORTED:
            raise ValueError(
                f"predicate '{name}' describes HAProxy's build; balancekit cannot answer it"
            )
        if name not in expected:
            raise ValueError(f"unknown predicate '{name}' in conditional expression")
        if len(args) != expected[name]:
            raise ValueError(f"predicate '{name}' expects {expected[name]} argument(s)")
        if name == "defined":
            return args[0] in self.env
        if name == "streq":
            return args[0] == args[1]
        if name == "strneq":
            return args[0] != args[1]
        current = _version(HAPROXY_VERSION)
        if name == "version_atleast":
            return current >= _version(args[0])
        return current < _version(args[0])


def evaluate(text: str, env: Mapping[str, str]) -> bool:
    """Evaluate the words after `.if` / `.elif`, joined by spaces.  ValueError if malformed."""
    parser = _Parser(text, env)
    parser.skip()
    if parser.pos >= len(text):
        raise ValueError("empty conditional expression")
    value = parser.expr()
    if parser.pos != len(text):
        raise ValueError(f"unexpected '{text[parser.pos :]}' in conditional expression")
    return value
