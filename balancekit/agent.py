"""The agent check's reply, read as HAProxy 2.6 reads it (`agent-check`).

An agent is a small program next to a server that answers one line on a TCP
connection: words separated by spaces, tabs or commas, optionally followed by
`#` and a description.  HAProxy's tcpcheck_agent_expect_reply reads it; this
module does the same without I/O, so `balancekit_server.ops.checks` only
connects, sends `agent-send` and hands over the bytes it got.

Words (case-insensitive, any order, the last of a kind wins):

* health: `up`, `down`, `stopped`, `fail` — the agent's own health counter
  (rise = fall = 1), which gates the server with the regular check's;
* admin: `ready`, `drain`, `maint` — the same as `set server … state`;
* a weight `75%` (a digit first and a `%` somewhere): a share of the configured
  weight; `maxconn:N`: a new per-server limit;
* anything else is an error, reported only when no health word came.
"""

from __future__ import annotations

from dataclasses import dataclass

from .health import CheckResult, CheckStatus

__all__ = [
    "ADMIN_WORDS",
    "HEALTH_WORDS",
    "INCOMPLETE",
    "AgentReply",
    "agent_maxconn",
    "agent_result",
    "agent_weight",
    "parse_agent_reply",
]

HEALTH_WORDS = ("up", "down", "stopped", "fail")
ADMIN_WORDS = ("ready", "drain", "maint")
#: The text HAProxy records when the agent closes before ending its line.
INCOMPLETE = "Ignoring incomplete line from agent"

_BLANKS = " \t,"


@dataclass(frozen=True, slots=True)
class AgentReply:
    """One line from an agent, split into what HAProxy acts on (words as written)."""

    health: str | None = None
    admin: str | None = None
    weight: str | None = None
    maxconn: str | None = None
    error: str | None = None
    description: str = ""

    @property
    def up(self) -> bool | None:
        """What the health word says (None: no health word)."""
        if self.health is None:
            return None
        return self.health.lower() == "up"


def parse_agent_reply(data: bytes, *, closed: bool) -> AgentReply | str | None:
    """The agent's first line: an `AgentReply`; None while more bytes may come;
    `INCOMPLETE` when the agent closed (`closed`) before a CR or LF.

    A NUL byte ends the buffer for HAProxy (it reads a C string), so a line is
    only what comes before the first NUL."""
    text = data.split(b"\0", 1)[0].decode("latin-1")
    ends = [i for i in (text.find("\n"), text.find("\r")) if i >= 0]
    if not ends:
        return INCOMPLETE if closed or b"\0" in data else None
    line = text[: min(ends)]
    health = admin = weight = maxconn = error = None
    description = ""
    i = 0
    while i < len(line):
        if line[i] in _BLANKS:
            i += 1
            continue
        if line[i] == "#":
            description = line[i + 1 :].lstrip(" \t")
            break
        j = i + 1
        while j < len(line) and line[j] not in " \t,":
            j += 1
        word = line[i:j]
        i = j + 1
        lower = word.lower()
        if lower in HEALTH_WORDS:
            health = word
        elif lower in ADMIN_WORDS:
            admin = word
        elif word[0].isdigit() and "%" in word:
            weight = word
        elif lower.startswith("maxconn:"):
            maxconn = word[len("maxconn:") :]
        elif error is None:
            error = word
    return AgentReply(health, admin, weight, maxconn, error, description)


def _signed_prefix(text: str) -> tuple[int | None, str]:
    """strtol's reading: an optional sign and the digits after it, as a number (None
    when there is no digit), and what follows them."""
    digits = text[1:] if text[:1] in "+-" else text
    number = ""
    for ch in digits:
        if not ch.isdigit():
            break
        number += ch
    if not number:
        return None, digits
    return int(number) * (-1 if text.startswith("-") else 1), digits[len(number) :]


def agent_weight(word: str, initial: int, *, dynamic: bool) -> tuple[int | None, str]:
    """A weight word applied as server_parse_weight_change_request does: the new
    user weight (None when refused) and HAProxy's message when refused."""
    value, rest = _signed_prefix(word)
    if value is None:
        return None, "Empty weight string empty or preceded by garbage"
    if rest == "%":
        value = initial * min(value, 25600) // 100
        value = min(value, 256)
    elif not 0 <= value <= 256:
        return None, "Absolute weight can only be between 0 and 256 inclusive.\n"
    elif rest:
        return None, "Trailing garbage in weight string"
    if value and value != initial and not dynamic:
        return None, (
            "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n"
        )
    return value, ""


def agent_maxconn(text: str) -> tuple[int | None, str]:
    """`maxconn:N` as server_parse_maxconn_change_request reads N."""
    if not text:
        return None, "Require <maxconn>.\n"
    value, rest = _signed_prefix(text)
    if value is None:
        return None, "maxconn string empty or preceded by garbage"
    if rest:
        return None, "Trailing garbage in maxconn string"
    return value, ""


def agent_result(reply: AgentReply, warning: str, duration_ms: int) -> CheckResult:
    """The check result HAProxy records for a reply: `L7OK`/`L7STS` (code 0) with
    "via agent : <word> (<text>)" for a health word, else `CHECKED` ("No status
    change") with the first error or warning.  `warning` is the first message
    the weight or maxconn change gave."""
    if reply.health is not None:
        status = CheckStatus.L7OK if reply.up else CheckStatus.L7STS
        message = reply.description
        if not message or status is CheckStatus.L7OK:
            message = reply.error or warning or message
        text = f"via agent : {reply.health}" + (f" ({message})" if message else "")
        return CheckResult(status, code=0, info=text, duration_ms=duration_ms)
    if reply.error:
        info = f"agent reports an error : {reply.error}"
    elif warning:
        info = f"agent warns : {warning}"
    else:
        info = ""
    return CheckResult(CheckStatus.CHECKED, info=info, duration_ms=duration_ms)
