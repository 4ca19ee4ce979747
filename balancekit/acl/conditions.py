"""Conditions: `if` / `unless` over named ACLs (acl.c's parse_acl_cond).

A condition is an OR of suites; a suite is an AND of terms; a term is an ACL,
possibly negated with `!`.  There are no parentheses.  `or` (any case) and `||`
start a new suite; `{ … }` is an anonymous ACL used in place.  Name resolution
is done by the `AclSet` that builds the condition, so an ACL re-declared after
the condition still ORs into what the condition evaluates, as in HAProxy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..request import Request
    from .acl import Acl

__all__ = ["Condition", "parse_condition"]

Polarity = Literal["if", "unless"]

#: acl.c's enum acl_test_res (`Acl.test3`): AND and OR of these values are its logic.
FAIL, MISS, PASS = 0, 1, 3


class Condition:
    """A compiled `if …` / `unless …`: `matches(request)` applies the polarity."""

    __slots__ = ("file", "line", "polarity", "suites", "text")

    def __init__(
        self,
        polarity: Polarity,
        suites: Sequence[Sequence[tuple[Acl, bool]]],
        text: str,
        file: str = "<string>",
        line: int = 0,
    ) -> None:
        self.polarity: Polarity = polarity
        self.suites: tuple[tuple[tuple[Acl, bool], ...], ...] = tuple(tuple(s) for s in suites)
        self.text = text
        self.file = file
        self.line = line

    def __repr__(self) -> str:
        return f"<Condition {self.text!r} at {self.file}:{self.line}>"

    def matches(self, request: Request) -> bool:
        """Evaluate against one request view; pure, no I/O."""
        result = False
        for suite in self.suites:
            for acl, negated in suite:
                if acl.test(request) == negated:
                    break
            else:
                result = True
                break
        return result if self.polarity == "if" else not result

    def settled(self, request: Request) -> bool | None:
        """`matches`, or None while it may still change: acl.c's three-valued
        acl_exec_cond, where an ACL that does not match on bytes still arriving
        (`res.payload` too short, `res.len`) is a MISS, and a rule waiting for
        data (`tcp-response inspect-delay`) waits on a MISS."""
        cond = FAIL
        for suite in self.suites:
            result = PASS
            for acl, negated in suite:
                term = acl.test3(request)
                if negated and term != MISS:
                    term = FAIL if term == PASS else PASS
                result &= term
                if result == FAIL:
                    break
            cond |= result
            if cond == PASS:
                break
        if cond == MISS:
            return None
        return (cond == PASS) == (self.polarity == "if")


def parse_condition(
    words: Sequence[str],
    resolve: Callable[[str], Acl],
    anonymous: Callable[[Sequence[str]], Acl],
    *,
    file: str,
    line: int,
) -> Condition:
    """Parse words starting with `if`/`unless`.

    `resolve` finds a named ACL; `anonymous` compiles the words of a `{ … }` one.
    """
    if not words or words[0] not in ("if", "unless"):
        got = f" (got '{words[0]}')" if words else ""
        raise ConfigError(f"conditions must start with either 'if' or 'unless'{got}", file, line)
    polarity: Polarity = "if" if words[0] == "if" else "unless"
    suites: list[list[tuple[Acl, bool]]] = []
    current: list[tuple[Acl, bool]] | None = None
    negated = False
    i = 1
    while i < len(words):
        word = words[i]
        while word.startswith("!"):
            negated = not negated
            word = word[1:]
        if not word:
            i += 1
            continue
        if word.lower() == "or" or word == "||":
            current = None
            negated = False
            i += 1
            continue
        if word == "{":
            end = i + 1
            while end < len(words) and words[end] != "}":
                end += 1
            if end >= len(words):
                raise ConfigError("missing closing '}' in condition", file, line)
            acl = anonymous(words[i + 1 : end])
            i = end
        elif word == "}":
            raise ConfigError("unexpected '}' in condition without an opening '{'", file, line)
        else:
            acl = resolve(word)
        if current is None:
            current = []
            suites.append(current)
        current.append((acl, negated))
        negated = False
        i += 1
    return Condition(polarity, suites, " ".join(words), file, line)
