"""Cookie persistence with dates, HAProxy 2.6 and balancekit side by side.

The conformance rows compare bytes; the dates inside `maxidle`/`maxlife` cookies
are each proxy's clock, so here the check is that both write the date of the
moment they answered, and that a cookie either proxy wrote takes the other one
to the same server: a fleet can mix them behind one load balancer, or move from
one to the other, without losing its users' sessions.
"""

from __future__ import annotations

import time

import pytest
from l7_diff import SideBySide

from balancekit.persistence import decode_date
from support.backends import NamedBackends
from support.client import http_request

pytestmark = pytest.mark.haproxy


def _config(backends: NamedBackends) -> str:
    servers = "\n".join(
        f"    server {name} {backends.address(name)} cookie {name}-id" for name in backends.names
    )
    return f"""
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend http_front
    bind 127.0.0.1:80
    default_backend app

backend app
    balance roundrobin
    cookie SRV insert indirect nocache maxidle 30m maxlife 8h httponly
{servers}
"""


def _dates(set_cookie: str) -> tuple[str, int, int]:
    value = set_cookie.split(";", 1)[0].removeprefix("SRV=")
    server, last, first = value.split("|")
    return server, decode_date(last.encode()), decode_date(first.encode())


def test_dated_cookies_are_written_alike_and_read_across(named_backends: NamedBackends) -> None:
    with SideBySide(_config(named_backends), {}) as sides:
        ports = sides.ports
        written = {}
        for side, port in ports.items():
            before = int(time.time())
            answer = http_request(port, "/")
            after = int(time.time())
            set_cookie = answer.header("Set-Cookie")
            assert set_cookie is not None and set_cookie.endswith("; path=/; HttpOnly"), side
            server, last, first = _dates(set_cookie)
            # HAProxy writes (now + 3) rounded down to 4 s, for both dates on a first visit.
            assert last == first and before <= last <= after + 3, (side, set_cookie)
            assert server == f"{answer.text.strip()}-id"
            written[side] = set_cookie.split(";", 1)[0]
        # Each proxy honours the other's cookie: same server, and at most a refresh of
        # its date (HAProxy refreshes once the 4-second unit it wrote has passed).
        for reader, writer in (("balancekit", "haproxy"), ("haproxy", "balancekit")):
            cookie = written[writer]
            wanted = cookie.removeprefix("SRV=").split("|")[0].removesuffix("-id")
            for _ in range(3):
                answer = http_request(ports[reader], "/", headers={"Cookie": cookie})
                assert answer.text.strip() == wanted, (reader, cookie)
                refreshed = answer.header("Set-Cookie")
                assert refreshed is None or refreshed.startswith(f"SRV={wanted}-id|"), refreshed
