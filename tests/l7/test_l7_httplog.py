"""`option httplog` lines to a syslog target, compared with HAProxy 2.6's own lines for
the same requests (timers, ports and dates normalized; everything else must match)."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest
from l7_diff import SideBySide

from support.client import http_request

pytestmark = pytest.mark.haproxy


class Syslog:
    """A UDP syslog receiver on a free loopback port."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.port = int(self.sock.getsockname()[1])

    def lines(self, count: int) -> list[str]:
        return [self.sock.recv(65536).decode() for _ in range(count)]


@pytest.fixture
def receivers() -> Iterator[tuple[Syslog, Syslog]]:
    one, two = Syslog(), Syslog()
    yield one, two
    one.sock.close()
    two.sock.close()


def normalize(line: str) -> str:
    line = re.sub(r"^(\S+):\d+ ", r"\1:PORT ", line.strip())
    line = re.sub(r"\[\d\d/\w+/\d{4}:[\d:.]+\]", "[DATE]", line)
    line = re.sub(r" -?\d+/-?\d+/-?\d+/-?\d+/-?\d+ ", " TIMERS ", line, count=1)
    return re.sub(r" \d+/\d+/\d+/\d+/(\+?\d+) ", r" CONN/\1 ", line)


def test_httplog_lines_match_haproxy(
    receivers: tuple[Syslog, Syslog], named_backends: object
) -> None:
    ha_log, kit_log = receivers
    servers = named_backends.server_lines()  # type: ignore[attr-defined]
    template = f"""
global
    log 127.0.0.1:{{port}} format raw local0

defaults
    mode http
    log global
    option httplog
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend http_front
    bind 127.0.0.1:80
    http-request deny if {{{{ path_beg /admin }}}}
    default_backend app

backend app
    balance roundrobin
{servers}
"""
    with SideBySide(template.format(port=ha_log.port), {}) as sides:
        # balancekit logs to its own receiver: same config, other port
        sides.kit.close()
        from l7_diff import BalancekitRun

        sides.kit = BalancekitRun(sides.kit_text.replace(str(ha_log.port), str(kit_log.port)))
        requests = ["/", "/a?b=c", "/admin/x", "/"]
        for port in sides.ports.values():
            for path in requests:
                http_request(port, path, headers={"User-Agent": "t"})
        got = {
            "haproxy": [normalize(x) for x in ha_log.lines(len(requests))],
            "balancekit": [normalize(x) for x in kit_log.lines(len(requests))],
        }
    # Lines leave in completion order, which can differ by a hair: compare as sets.
    assert sorted(got["balancekit"]) == sorted(got["haproxy"])
    denied = [line for line in got["haproxy"] if line.endswith('"GET /admin/x HTTP/1.1"')]
    assert denied and " 403 " in denied[0] and "<NOSRV>" in denied[0]
