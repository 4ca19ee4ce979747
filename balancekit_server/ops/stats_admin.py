"""The statistics page's server actions (`stats admin`), as HAProxy's stats applet runs them.

A POST to the page carries the form HAProxy's page sends: `s=<server>` for each
checked server, `action=<what>` and `b=<backend name or #id>`.  HAProxy reads the
parameters from the end (the form puts the backend and the action last) and keeps
the last value of each; a server named before both are known is applied once they
are.  The answer is a 303 to `<uri>;st=<CODE>`, whose page then shows the
message for the code, so that reloading the result never posts again.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from balancekit.config import Config
    from balancekit_server.ops.checks import HealthMonitor

__all__ = [
    "ACTIONS",
    "FORM_LIMIT",
    "MESSAGES",
    "Outcome",
    "ServerActions",
    "run_form",
    "status_code",
]

# HAProxy copies the form into a trash chunk and gives up (EXCD) when the request
# buffer cannot take more: tune.bufsize (16384) less tune.maxrewrite (1024) and the
# HTX bookkeeping.  A form over this size answers EXCD.
FORM_LIMIT = 15_000
# A key=value pair longer than HAProxy's LINESIZE buffer makes the form invalid.
_LINESIZE = 2048

#: The actions HAProxy's form offers, plus the old names it still accepts.
ACTIONS = frozenset(
    {
        "ready",
        "drain",
        "maint",
        "shutdown",
        "dhlth",
        "ehlth",
        "hrunn",
        "hnolb",
        "hdown",
        "dagent",
        "eagent",
        "arunn",
        "adown",
        "disable",
        "enable",
        "stop",
        "start",
    }
)
# balancekit has no agent checks, so these never find a configured agent: HAProxy
# then neither changes nor counts the server.
_AGENT = frozenset({"dagent", "eagent", "arunn", "adown"})

Outcome = Literal["altered", "unchanged", "unknown"]
# The reason HAProxy gives for state changes made on the page.
_FROM_PAGE = "changed from Web interface"

#: `;st=<CODE>` → (the message box's class, its text), HAProxy's words.
MESSAGES: dict[str, tuple[str, str]] = {
    "DONE": ("active_up", "Action processed successfully."),
    "NONE": ("active_going_down", "Nothing has changed."),
    "PART": (
        "active_going_down",
        "Action partially processed.<br>Some server names are probably unknown or ambiguous "
        "(duplicated names in the backend).",
    ),
    "ERRP": (
        "active_down",
        "Action not processed because of invalid parameters.<ul><li>The action is maybe "
        "unknown.</li><li>Invalid key parameter (empty or too long).</li><li>The backend name "
        "is probably unknown or ambiguous (duplicated names).</li><li>Some server names are "
        "probably unknown or ambiguous (duplicated names in the backend).</li></ul>",
    ),
    "EXCD": (
        "active_down",
        "<b>Action not processed : the buffer couldn't store all the data.<br>You should "
        "retry with less servers at a time.</b>",
    ),
    "DENY": ("active_down", "<b>Action denied.</b>"),
    "IVAL": (
        "active_down",
        "<b>Invalid requests (unsupported method or chunked encoded request).</b>",
    ),
    "UNKN": ("active_no_check", "Unexpected result."),
}


def status_code(text: str) -> str:
    """The code a `;st=` parameter names: HAProxy compares its first four characters,
    and an unknown one shows "Unexpected result"."""
    head = text[:4]
    return head if head in MESSAGES else "UNKN"


def _decode(text: bytes) -> str | None:
    """HAProxy's url_decode in form mode ('+' is a space); None on a bad escape."""
    i = 0
    while (i := text.find(b"%", i)) >= 0:
        pair = text[i + 1 : i + 3]
        if len(pair) < 2 or not all(c in b"0123456789abcdefABCDEF" for c in pair):
            return None
        i += 3
    return urllib.parse.unquote_to_bytes(text.replace(b"+", b" ")).decode("latin-1")


def run_form(
    body: bytes | None,
    find_backend: Callable[[str], str | None],
    apply: Callable[[str, str, str], Outcome],
) -> str:
    """Apply a posted form; returns HAProxy's status code (DONE, NONE, PART, ERRP, EXCD).

    `find_backend` resolves `b` (a name or `#<id>`) to a backend name;
    `apply(backend, server, action)` changes one server.  `body` is None when the
    form was larger than FORM_LIMIT.
    """
    if body is None:
        return "EXCD"
    backend: str | None = None
    action: str | None = None
    waiting: list[str] = []
    total = altered = 0

    def one(server: str) -> None:
        nonlocal total, altered
        assert backend is not None and action is not None
        outcome = apply(backend, server, action)
        if outcome != "unchanged":
            total += 1
            altered += outcome == "altered"

    for raw in reversed(body.split(b"&")):
        if len(raw) + 1 > _LINESIZE:
            return "ERRP"
        raw_key, _, raw_value = raw.partition(b"=")
        key, value = _decode(raw_key), _decode(raw_value)
        if key is None or value is None:
            break  # HAProxy stops reading the form there
        if backend is None and key == "b":
            backend = find_backend(value)
            if backend is None:
                return "ERRP"
        elif action is None and key == "action":
            if value not in ACTIONS:
                return "ERRP"
            action = value
        elif key == "s":
            if backend is None or action is None:
                waiting.append(value)
            else:
                one(value)
        if waiting and backend is not None and action is not None:
            for server in waiting:
                one(server)
            waiting.clear()
    if total == 0:
        return "NONE"
    if altered == 0:
        return "ERRP"
    return "DONE" if altered == total else "PART"


@dataclass(slots=True)
class ServerActions:
    """Applies the page's actions to a running configuration, through the health
    monitor as the CLI's `set server` does (same logs, same counters)."""

    config: Config
    monitor: HealthMonitor
    proxy_ids: Sequence[tuple[str, int]]  # backend name, HAProxy's proxy id

    def find_backend(self, ref: str) -> str | None:
        """`proxy_be_by_name`: a backend by name, or by `#<id>`."""
        if ref.startswith("#"):
            return next((name for name, iid in self.proxy_ids if f"#{iid}" == ref), None)
        return ref if ref in self.config.backends else None

    def apply(self, backend: str, server: str, action: str) -> Outcome:
        pool = self.config.backends[backend].backend
        try:
            member = pool.member(server)
        except KeyError:
            return "unknown"
        admin = member.admin
        if action in _AGENT:
            return "unchanged"
        if action in ("ready", "drain", "maint"):
            self.monitor.set_admin(backend, server, action)
        elif action == "disable":
            if admin == "maint":
                return "unchanged"
            self.monitor.set_admin(backend, server, "maint")
        elif action == "enable":
            if admin != "maint":
                return "unchanged"
            self.monitor.set_admin(backend, server, "ready")
        elif action == "stop":
            if admin == "drain":
                return "unchanged"
            if admin == "ready":  # in maintenance, the drain flag shows nothing
                self.monitor.set_admin(backend, server, "drain")
        elif action == "start":
            if admin != "drain":
                return "unchanged"
            self.monitor.set_admin(backend, server, "ready")
        elif action in ("dhlth", "ehlth"):
            if not self.monitor.set_checks_enabled(backend, server, action == "ehlth"):
                return "unchanged"  # no `check` on the server: not counted
        elif action in ("hrunn", "hdown"):
            self.monitor.force_health(backend, server, action == "hrunn", _FROM_PAGE)
        elif action == "hnolb":
            self.monitor.force_stopping(backend, server, _FROM_PAGE)
        elif action == "shutdown":
            pool.shutdown_sessions(server)
        else:  # pragma: no cover - run_form only passes known actions
            raise ValueError(f"unknown stats action '{action}'")
        return "altered"
