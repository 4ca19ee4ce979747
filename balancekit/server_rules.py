"""`use-server` rules: a condition chooses the server, before any balancing.

HAProxy 2.6 walks a backend's `use-server <name> if|unless <cond>` rules once the
backend is known (stream.c `process_server_rules`): the first rule whose
condition holds and whose server is not down (or is, under `option persist` or
`force-persist`) assigns the request to it, as persistence would.  This runs
before the persistence cookie is read, so a rule wins over a cookie (which is
then not followed, nor set again), and over a `stick match`, which comes after.
The name may be a log-format expression (`%[req.hdr(x)]`); a name that matches
no server stops the walk, and the request is balanced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .acl.conditions import Condition
from .acl.logformat import LogFormat
from .pool import Backend
from .request import Request

__all__ = ["ServerRule", "choose_server"]


@dataclass(frozen=True, slots=True)
class ServerRule:
    """One `use-server` line: the server's name (text, or rendered per request)."""

    name: LogFormat
    condition: Condition

    @property
    def static_name(self) -> str | None:
        """The name when it is plain text (checked against the servers at load)."""
        return self.name.render(_NO_REQUEST) if self.name.is_static else None


_NO_REQUEST = Request()


def choose_server(
    rules: Sequence[ServerRule], request: Request, backend: Backend, *, persist: bool = False
) -> str | None:
    """The server the rules assign `request` to, or None to balance it."""
    for rule in rules:
        if not rule.condition.matches(request):
            continue
        name = rule.name.render(request)
        member = next((m for m in backend.members if m.name == name), None)
        if member is None:
            return None  # HAProxy stops at a name it cannot find
        if persist or (member.up and member.admin != "maint"):
            return member.name
    return None
