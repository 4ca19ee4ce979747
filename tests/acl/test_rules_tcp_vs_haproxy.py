"""Differential: tcp-request connection/content rules on HAProxy 2.6 (mode tcp) and in the Router.

Clients connect from several 127.x.y.z sources; HAProxy either closes the
connection (reject) or relays it to a backend that names itself.  balancekit's
`accept_connection` / `route_tcp` must reach the same outcome for each source.
"""

from __future__ import annotations

import pytest

from balancekit import Request
from balancekit.config import load_text
from support.backends import NamedBackends
from support.client import http_request
from support.haproxy import HAProxy

pytestmark = pytest.mark.haproxy

CONFIG = """
global
    stats socket {stats} level admin

defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend fe
    bind BIND
    tcp-request connection accept if { src 127.0.2.1 }
    tcp-request connection reject if { src 127.0.2.0/24 }
    tcp-request inspect-delay 1s
    tcp-request content reject if { src 127.0.3.0/24 } !{ src 127.0.3.7 }
    use_backend b2 if { src 127.0.4.0/24 } or { dst_port 1-1023 }
    default_backend b1

backend b1
    server s1 ADDR1

backend b2
    server s2 ADDR2
"""

SOURCES = ["127.0.0.1", "127.0.2.1", "127.0.2.2", "127.0.3.3", "127.0.3.7", "127.0.4.4"]


def outcome_on_haproxy(port: int, src: str) -> str:
    try:
        answer = http_request(port, "/", src=src, timeout=5)
    except (ValueError, ConnectionError):
        return "reject"  # closed without a byte of answer
    return answer.header("X-Server") or "?"


def test_tcp_rules_match_haproxy() -> None:
    with NamedBackends(["b1", "b2"]) as backends:

        def config(bind: str) -> str:
            return (
                CONFIG.replace("BIND", bind)
                .replace("ADDR1", backends.address("b1"))
                .replace("ADDR2", backends.address("b2"))
            )

        router = load_text(config("127.0.0.1:8080"), name="tcp.cfg").config.frontends[0].router
        outcomes: dict[str, str] = {}
        with HAProxy(config("{listen:fe}")) as haproxy:
            port = haproxy.port("fe")
            for src in SOURCES:
                view = Request(src, dst="127.0.0.1", dst_port=port, src_port=49152)
                if not router.accept_connection(view):
                    ours = "reject"
                else:
                    decision = router.route_tcp(view)
                    ours = "reject" if decision.action == "reject" else str(decision.backend)
                outcomes[src] = ours
                assert outcome_on_haproxy(port, src) == ours, src
        assert set(outcomes.values()) == {"b1", "b2", "reject"}  # every path was exercised


HTTP_CONFIG = """
global
    stats socket {stats} level admin

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend fe
    bind BIND
    tcp-request content accept if { src 127.0.3.7 }
    tcp-request content reject if { src 127.0.3.0/24 }
    http-request deny if { src 127.0.3.7 }
    use_backend b2 if { src 127.0.4.0/24 }
    default_backend b1

backend b1
    server s1 ADDR1

backend b2
    server s2 ADDR2
"""


def test_tcp_content_rules_in_http_mode_match_haproxy() -> None:
    with NamedBackends(["b1", "b2"]) as backends:

        def config(bind: str) -> str:
            return (
                HTTP_CONFIG.replace("BIND", bind)
                .replace("ADDR1", backends.address("b1"))
                .replace("ADDR2", backends.address("b2"))
            )

        router = load_text(config("127.0.0.1:8080"), name="http.cfg").config.frontends[0].router
        with HAProxy(config("{listen:fe}")) as haproxy:
            port = haproxy.port("fe")
            for src, expected in [
                ("127.0.0.1", "b1"),
                ("127.0.3.3", "reject"),
                ("127.0.3.7", "deny"),  # accepted by tcp-request, then denied by http-request
                ("127.0.4.4", "b2"),
            ]:
                view = Request(src, headers={"Host": "h"}, dst="127.0.0.1", dst_port=port)
                decision = router.route(view)
                ours = decision.backend if decision.action == "forward" else decision.action
                try:
                    answer = http_request(port, "/", src=src, timeout=5)
                    theirs = "deny" if answer.status == 403 else answer.header("X-Server")
                except (ValueError, ConnectionError):
                    theirs = "reject"
                assert (ours, theirs) == (expected, expected), src
