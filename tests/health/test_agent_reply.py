"""The agent's line as HAProxy 2.6 reads it, and what the agent does to a server's health.

Pure: `balancekit.agent` and `balancekit.health` without sockets.  The texts are
HAProxy's (tcpcheck_agent_expect_reply, server_parse_weight_change_request);
`test_agent_check.py` and the `agent-check*` conformance rows hold them against
a real HAProxy.
"""

from __future__ import annotations

import pytest

from balancekit.agent import (
    INCOMPLETE,
    AgentReply,
    agent_maxconn,
    agent_result,
    agent_weight,
    parse_agent_reply,
)
from balancekit.health import CheckResult, CheckStatus, HealthSettings, ServerHealth


def reply(line: bytes) -> AgentReply:
    parsed = parse_agent_reply(line, closed=True)
    assert isinstance(parsed, AgentReply)
    return parsed


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"up\n", AgentReply(health="up")),
        (b"DOWN\r\n", AgentReply(health="DOWN")),
        (b"75%,drain maxconn:10\n", AgentReply(admin="drain", weight="75%", maxconn="10")),
        (b"\tready  50% 20%\n", AgentReply(admin="ready", weight="20%")),
        (b"down up\n", AgentReply(health="up")),  # the last of a kind wins
        (
            b"stopped #  gone for lunch \n",
            AgentReply(health="stopped", description="gone for lunch "),
        ),
        (b"bogus other fail\n", AgentReply(health="fail", error="bogus")),
        (b"up#x\n", AgentReply(error="up#x")),  # '#' starts a description only between words
        (b"%5 5x%\n", AgentReply(weight="5x%", error="%5")),
        (b"maint\nup\n", AgentReply(admin="maint")),  # one line only
    ],
)
def test_words(line: bytes, expected: AgentReply) -> None:
    assert reply(line) == expected


def test_a_line_needs_its_end() -> None:
    assert parse_agent_reply(b"up", closed=False) is None
    assert parse_agent_reply(b"up", closed=True) == INCOMPLETE
    assert parse_agent_reply(b"up\0\n", closed=False) == INCOMPLETE  # a NUL ends the C string


@pytest.mark.parametrize(
    ("word", "initial", "dynamic", "expected"),
    [
        ("50%", 10, True, (5, "")),
        ("75%", 4, True, (3, "")),
        ("1000%", 100, True, (256, "")),
        ("0%", 10, False, (0, "")),
        ("100%", 10, False, (10, "")),
        (
            "50%",
            10,
            False,
            (
                None,
                "Backend is using a static LB algorithm and only accepts weights "
                "'0%' and '100%'.\n",
            ),
        ),
        ("20x%", 10, True, (None, "Trailing garbage in weight string")),
        ("300x%", 10, True, (None, "Absolute weight can only be between 0 and 256 inclusive.\n")),
    ],
)
def test_weights(word: str, initial: int, dynamic: bool, expected: tuple[int | None, str]) -> None:
    assert agent_weight(word, initial, dynamic=dynamic) == expected


def test_maxconn() -> None:
    assert agent_maxconn("7") == (7, "")
    assert agent_maxconn("") == (None, "Require <maxconn>.\n")
    assert agent_maxconn("x") == (None, "maxconn string empty or preceded by garbage")
    assert agent_maxconn("7x") == (None, "Trailing garbage in maxconn string")


def test_results_and_their_texts() -> None:
    down = agent_result(reply(b"down #window\n"), "", 3)
    assert (down.status, down.code, down.info) == (
        CheckStatus.L7STS,
        0,
        "via agent : down (window)",
    )
    # An `up` reports the first error (or warning) rather than its description.
    up = agent_result(reply(b"up junk #fine\n"), "", 0)
    assert (up.status, up.info) == (CheckStatus.L7OK, "via agent : up (junk)")
    warned = agent_result(reply(b"20x%\n"), "Trailing garbage in weight string", 0)
    assert warned.status is CheckStatus.CHECKED
    assert warned.info == "agent warns : Trailing garbage in weight string"
    assert agent_result(reply(b"bogus\n"), "", 0).info == "agent reports an error : bogus"
    assert agent_result(reply(b"50%\n"), "", 0).info == ""


def _health(*, checked: bool = True) -> ServerHealth:
    return ServerHealth(HealthSettings(rise=2, fall=3), now=0.0, checked=checked)


L7OK = CheckResult(CheckStatus.L7OK, 0, "via agent : up")
L7STS = CheckResult(CheckStatus.L7STS, 0, "via agent : down")
L4OK = CheckResult(CheckStatus.L4OK)
L4CON = CheckResult(CheckStatus.L4CON, info="Connection refused")


def test_agent_down_wins_over_a_passing_check() -> None:
    health = _health()
    transition = health.agent_says(L7STS, False, 1.0)
    assert transition is not None and not transition.up and transition.result is L7STS
    assert health.record(L4OK, 2.0) is None and not health.up  # the check passes: still DOWN
    back = health.agent_says(L7OK, True, 3.0)
    assert back is not None and back.up


def test_agent_up_does_not_raise_a_server_its_check_keeps_down() -> None:
    health = _health()
    health.record(L4CON, 1.0)
    assert not health.up
    assert health.agent_says(L7OK, True, 2.0) is None and not health.up
    health.record(L4OK, 3.0)
    transition = health.record(L4OK, 4.0)
    assert transition is not None and transition.up


def test_an_unreachable_agent_changes_nothing() -> None:
    health = _health(checked=False)
    assert health.agent_says(L4CON, None, 1.0) is None
    assert health.up and health.agent_up and health.agent_result is L4CON


def test_maintenance_keeps_what_the_agent_said_for_later() -> None:
    health = _health(checked=False)
    health.enter_maint(1.0)
    assert health.agent_says(L7STS, False, 2.0) is None
    health.leave_maint(3.0)
    assert not health.up  # leaving maintenance, the agent still says down


def test_the_cli_forces_the_agent_and_the_server_with_it() -> None:
    health = _health()
    health.record(L4CON, 1.0)  # the check keeps it DOWN...
    transition = health.force_agent(True, 2.0)  # ...`set server … agent up` starts it anyway
    assert transition is not None and transition.up and transition.result is None
    down = health.force_agent(False, 3.0)
    assert down is not None and not down.up and not health.agent_up


def test_a_disabled_agent_is_not_heard_and_does_not_hold_the_server() -> None:
    health = _health()
    health.agent_says(L7STS, False, 1.0)
    health.agent_enabled = False  # `disable agent`
    assert health.agent_says(L7OK, True, 2.0) is None  # ignored
    transition = health.record(L4OK, 3.0)  # the check alone decides now
    assert transition is not None and transition.up
