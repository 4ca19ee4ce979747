"""One agent whose answer changes, asked by HAProxy 2.6 and by balancekit-server.

The same config runs under both; between two looks the test changes what the
agent says and waits until both have asked it again (counted connections, not
time).  At each step the servers that took the requests, `show stat`'s state
and agent columns and `show servers state` must be HAProxy's, and so must the
log lines of the whole run.
"""

from __future__ import annotations

import http.client
import re
import time

import pytest

from support.agent_server import AgentServer
from support.backends import NamedBackends
from support.haproxy import BALANCEKIT, HAPROXY, HAProxy, require_haproxy

STEPS = (
    b"up\n",
    b"50%\n",
    b"down #maintenance window\n",
    b"up\n",
    b"drain\n",
    b"drain 20%\n",
    b"ready\n",
    b"maint\n",
    b"ready\n",
    b"maxconn:3 fail\n",
    b"up\n",
)
COLUMNS = ("status", "weight", "slim", "check_status", "agent_status", "agent_code",
           "agent_desc", "last_agt", "agent_health")  # fmt: skip

CONFIG = """global
    stats socket {stats} level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 1s
listen be
    bind {listen:main}
    balance roundrobin
    server s1 %(s1)s weight 10 check inter 100ms %(agent_options)s
    server s2 %(s2)s weight 5
"""


def _wait_for_agent(agent: AgentServer, more: int) -> None:
    """Until the agent was asked `more` more times (each side asks every 100 ms)."""
    target = agent.connections + more
    deadline = time.monotonic() + 10
    while agent.connections < target:
        assert time.monotonic() < deadline, "the agent was not asked again"
        time.sleep(0.02)


def _servers(port: int, count: int) -> list[str]:
    names = []
    for _ in range(count):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/")
        names.append(conn.getresponse().read().decode())
        conn.close()
    return names


def _stat(proxy: HAProxy) -> dict[str, str]:
    """s1's columns, read when its agent check is not running: HAProxy blanks the
    agent's text while it runs, and when it runs is timing, not behaviour."""
    for _ in range(200):
        text = proxy.command("show stat")
        header = text.splitlines()[0].lstrip("# ").split(",")
        rows = [dict(zip(header, line.split(","), strict=False)) for line in text.splitlines()]
        fields = next(row for row in rows if row.get("svname") == "s1")
        if not fields["agent_status"].startswith("* "):
            return {c: fields[c].removeprefix("* ") for c in COLUMNS}
        time.sleep(0.005)
    raise AssertionError(f"s1's agent check never stopped running:\n{text}")


def _state(proxy: HAProxy) -> str:
    """s1's `show servers state` line without the time since its last change."""
    line = next(x for x in proxy.command("show servers state be").splitlines() if " s1 " in x)
    words = line.split()
    del words[9]
    words[13] = "22" if words[13] == "23" else words[13]  # CHK_ST_INPROGRESS: timing
    return " ".join(words[5:15])


def _run(command: tuple[str, ...]) -> tuple[list[tuple[object, ...]], list[str], list[bytes]]:
    steps: list[tuple[object, ...]] = []
    with NamedBackends(["s1", "s2"]) as backends, AgentServer(STEPS[0]) as agent:
        cfg = CONFIG % {
            "s1": backends.address("s1"),
            "s2": backends.address("s2"),
            "agent_options": f"agent-check agent-port {agent.port} agent-inter 100ms "
            'agent-send "hello\\n"',
        }
        with HAProxy(cfg, command=command) as proxy:
            for answer in STEPS:
                agent.answer = answer
                _wait_for_agent(agent, 3)
                steps.append((answer, _servers(proxy.port("main"), 6), _stat(proxy), _state(proxy)))
            log = proxy.log()
    lines: list[str] = []
    for line in log.splitlines():
        if "Server be/" not in line:
            continue
        text = re.sub(r"check duration: \d+ms", "check duration: <ms>", line.split(" : ", 1)[1])
        # "remains in forced drain mode" comes once per `drain 20%` the agent was
        # asked for: how many times that is, is timing.
        if not lines or lines[-1] != text:
            lines.append(text)
    return steps, lines, agent.received[:1]


@pytest.mark.timeout(120)
def test_an_agent_steers_the_server_as_haproxy_does() -> None:
    require_haproxy()
    theirs = _run((HAPROXY,))
    ours = _run(BALANCEKIT)
    for their_step, our_step in zip(theirs[0], ours[0], strict=True):
        assert our_step == their_step
    assert ours[1] == theirs[1]
    # The scenario did what it says: s1 went down and came back, was drained and
    # put in maintenance, and the agent got `agent-send` each time.
    assert any("is DOWN, reason: Layer7 wrong status" in line for line in ours[1])
    assert any("remains in forced drain mode" in line for line in ours[1])
    assert any("going DOWN for maintenance" in line for line in ours[1])
    assert ours[2] == theirs[2] == [b"hello\n"]
