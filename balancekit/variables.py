"""Variables: `set-var(txn.x)`, `unset-var`, `var()`, as HAProxy 2.6's vars.c keeps them.

A name is `<scope>.<name>`.  The scope says how long a value lives: `proc` for
the process, `sess` for the client connection, `txn` for one request and its
response, `req` while the request is processed and `res` once the response is
(the `req` values are dropped when the response starts, and a `res` value cannot
be set before).  A value keeps the type of the sample it came from.

The values of a stream live on its `StreamCounters` (`Request.stream`), next to
its tracked entries; a connection's on its own.  Pure: the engines only create
the streams and say when the response phase starts (`Variables.to_response`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "CONDITIONS",
    "PROCESS",
    "SCOPES",
    "VarError",
    "VarName",
    "Variables",
    "parse_var_name",
    "parse_var_spec",
]

SCOPES = ("proc", "sess", "txn", "req", "res")
#: `set-var(name,cond…)` conditions (vars.c's var_set flags).
CONDITIONS = ("ifexists", "ifnotexists", "ifempty", "ifnotempty", "ifset", "ifnotset",
              "ifgt", "iflt")  # fmt: skip
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._")

#: The `proc` scope: one per process.
PROCESS: dict[str, object] = {}


class VarError(ValueError):
    """A variable name or condition HAProxy would refuse; callers add `file:line`."""


@dataclass(frozen=True, slots=True)
class VarName:
    """A parsed `<scope>.<name>`."""

    scope: str
    name: str

    def __str__(self) -> str:
        return f"{self.scope}.{self.name}"


def parse_var_name(text: str) -> VarName:
    """`<scope>.<name>`, checked as HAProxy's vars_hash_name does."""
    scope, dot, name = text.partition(".")
    if not dot or scope not in (*SCOPES, "check"):
        raise VarError(
            f"invalid variable name '{text}'. A variable name must be start by its scope. "
            "The scope can be 'proc', 'sess', 'txn', 'req', 'res' or 'check'"
        )
    if scope == "check":
        raise VarError(
            f"variable '{text}': the 'check' scope (health checks) is an HAProxy feature "
            "balancekit does not support"
        )
    if not name:
        raise VarError(f"Empty variable name in '{text}'")
    if any(ch not in _NAME_CHARS for ch in name):
        raise VarError(f"invalid char in variable name '{text}'")
    return VarName(scope, name)


def parse_var_spec(text: str) -> tuple[VarName, tuple[str, ...]]:
    """The inside of `set-var(<name>[,<cond>…])`: the name and its conditions."""
    name, *conditions = text.split(",")
    for condition in conditions:
        if condition not in CONDITIONS:
            raise VarError(f"unknown condition '{condition}' in variable '{text}'")
    return parse_var_name(name.strip()), tuple(conditions)


class Variables:
    """One stream's variables, with its connection's (`sess`) and the process's.

    `sess` is the dict of the client connection, shared by its requests.
    """

    __slots__ = ("_reqres", "_response", "_sess", "_txn")

    def __init__(self, sess: dict[str, object] | None = None) -> None:
        self._sess: dict[str, object] = {} if sess is None else sess
        self._txn: dict[str, object] = {}
        self._reqres: dict[str, object] = {}
        self._response = False

    def __repr__(self) -> str:
        phase = "res" if self._response else "req"
        return f"<Variables sess={self._sess} txn={self._txn} {phase}={self._reqres}>"

    def _store(self, scope: str) -> dict[str, object] | None:
        if scope == "txn":
            return self._txn
        if scope == "sess":
            return self._sess
        if scope == "proc":
            return PROCESS
        # `req` and `res` share one store, which belongs to one phase at a time.
        return self._reqres if (scope == "res") == self._response else None

    def in_phase(self, var: VarName) -> bool:
        """Whether the variable's scope exists now (`req` until the response, `res`
        from then on); out of it, `var()` finds nothing, not even its default."""
        return self._store(var.scope) is not None

    def get(self, var: VarName) -> object | None:
        """The value, or None (never set, unset, or out of its phase)."""
        store = self._store(var.scope)
        return None if store is None else store.get(var.name)

    def set(self, var: VarName, value: object, conditions: Sequence[str] = ()) -> None:
        """Store `value` unless a condition says otherwise (vars.c's var_set)."""
        store = self._store(var.scope)
        if store is None:
            return
        exists = var.name in store
        current = store.get(var.name)
        if "ifexists" in conditions and not exists:
            return
        if "ifnotexists" in conditions and exists:
            return
        if "ifset" in conditions and current is None:
            return
        if "ifnotset" in conditions and current is not None:
            return
        textual = isinstance(value, str | bytes)
        if "ifempty" in conditions and not (textual and not value):
            return
        if "ifnotempty" in conditions and textual and not value:
            return
        both_ints = (
            isinstance(value, int)
            and not isinstance(value, bool)
            and isinstance(current, int)
            and not isinstance(current, bool)
        )
        if both_ints:
            if "ifgt" in conditions and not current > value:  # type: ignore[operator]
                return
            if "iflt" in conditions and not current < value:  # type: ignore[operator]
                return
        store[var.name] = value

    def unset(self, var: VarName) -> None:
        store = self._store(var.scope)
        if store is not None:
            store.pop(var.name, None)

    def for_request(self) -> Variables:
        """A new stream's variables on the same connection (its `sess` scope)."""
        return Variables(self._sess)

    def to_response(self) -> None:
        """The response starts: the `req` values go, `res` ones may be set."""
        if not self._response:
            self._reqres = {}
            self._response = True
