"""Every example's run.sh works without Docker: exit 0, the tutorial's answers printed.

The scripts start the tutorials' Flask apps on free loopback ports, run
`balancekit-server -f haproxy.cfg` and curl it; here each is run as a user would
and its output is checked for what the tutorial says one should see.
"""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str, timeout: float = 90) -> str:
    """Run examples/<name>/run.sh with this interpreter and its balancekit-server."""
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, "PYTHON": sys.executable, "PATH": bindir + os.pathsep + os.environ["PATH"]}
    done = subprocess.run(
        ["bash", str(EXAMPLES / name / "run.sh")],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def answers(output: str) -> list[str]:
    """The bodies `show` printed (the line before each ` [HTTP nnn]`), with status."""
    return re.findall(r"^(.*) \[HTTP (\d{3})\]$", output, re.M)


def test_tcp_proxy() -> None:
    out = run_example("tcp-proxy")
    assert answers(out) == [("Hello from Flask over TCP!", "200")] * 4


def test_roundrobin_takes_turns() -> None:
    out = run_example("roundrobin")
    bodies = [body for body, _ in answers(out)]
    assert len(bodies) == 6
    assert collections.Counter(bodies) == {f"Hello from Flask App {n}!": 2 for n in (1, 2, 3)}
    assert bodies[:3] == bodies[3:]  # the same order in each cycle


def test_weighted_two_one_three() -> None:
    out = run_example("weighted")
    counts = dict(
        (body, int(n))
        for n, body in re.findall(r"^\s+(\d+) (Hello from Flask App \d!)$", out, re.M)
    )
    assert counts == {
        "Hello from Flask App 1!": 4,
        "Hello from Flask App 2!": 2,
        "Hello from Flask App 3!": 6,
    }
    assert re.search(r"^Data from Flask App \d! \[HTTP 200\]$", out, re.M)


def test_random_draw() -> None:
    out = run_example("random")
    got = answers(out)
    assert len(got) == 7 and all(status == "200" for _, status in got)
    assert {body for body, _ in got[:6]} <= {f"Hello from Flask App {n}!" for n in (1, 2, 3)}


def test_source_and_uri_hashing_stick() -> None:
    out = run_example("source-uri-hash")
    got = [body for body, _ in answers(out)]
    assert len(got) == 12
    by_client, by_path = got[:6], got[6:]
    assert by_client[:3] == by_client[3:]  # same client address -> same server
    assert [b.split(" (")[0] for b in by_path[:3]] == [b.split(" (")[0] for b in by_path[3:]]
    assert by_path[0].endswith("(/cart)")


def test_acl_routes_and_denies() -> None:
    got = answers(run_example("acl"))
    assert got[0] == ("Welcome to the main page!", "200")
    assert got[1] == ("Form submitted successfully!", "200")
    assert got[2][1] == "403"  # blocked source range
    assert got[3][1] == "403"  # /admin from outside
    assert got[4][1] == "404"  # /admin from inside reaches app1, which has no such page


def test_l7_routing_over_http_and_https() -> None:
    got = answers(run_example("l7-routing-ssl"))
    assert got[0] == ("Welcome to FitGuru!", "200")
    assert "Some dynamic data" in got[1][0]
    static = "FitGuru static content: served by static_app.py through static_backend."
    assert got[2] == (static, "200")
    assert got[3] == ("Welcome to FitGuru!", "200")  # over TLS
    assert got[4] == (static, "200")


@pytest.mark.mariadb
def test_mysql_through_the_tcp_proxy() -> None:
    out = run_example("mysql", timeout=110)
    assert '"1":{"item":"task1","status":"pending"}' in out.replace(" ", "")
    assert out.count('{"slept":"1"}') == 3


def test_middleware_routes_inside_the_starlette_app() -> None:
    out = run_example("middleware")
    got = answers(out)
    assert got[0] == ("Hello from the Starlette app! (X-Balancer: in-app)", "200")
    data = collections.Counter(body for body, _ in got[1:7])
    assert data == {
        "Data from Flask App 1!": 2,
        "Data from Flask App 2!": 1,
        "Data from Flask App 3!": 3,
    }
    assert got[7][1] == "403"
    assert got[8] == ("Admin page, for 127.0.10.5", "200")
    assert "HTTP/1.1 301 Moved Permanently" in out and "location: /" in out.lower()
