"""Differential: tcp-request connection/content rules on HAProxy 2.6 (mode tcp) and in the Router.

Clients connect from several 127.x.y.z sources; HAProxy either closes the
connection (reject) or relays it to a backend that names itself.  balancekit's
`accept_connection` / `route_tcp` must reach the same outcome for each source.
"""

from __future__ import annotations

import pytest
from acl_harness import Probe, filler, global_section, send, side_by_side, view

from support.backends import NamedBackends

pytestmark = pytest.mark.haproxy

BACKENDS = """
backend b1
    server s1 ADDR:b1

backend b2
    server s2 ADDR:b2
"""

CONFIG = (
    global_section("tcp")
    + """
frontend fe
    bind BIND
    tcp-request connection accept if { src 127.0.2.1 }
    tcp-request connection reject if { src 127.0.2.0/24 }
    tcp-request inspect-delay 1s
    tcp-request content reject if { src 127.0.3.0/24 } !{ src 127.0.3.7 }
    use_backend b2 if { src 127.0.4.0/24 } or { dst_port 1-1023 }
    default_backend b1
"""
    + BACKENDS
)

SOURCES = ["127.0.0.1", "127.0.2.1", "127.0.2.2", "127.0.3.3", "127.0.3.7", "127.0.4.4"]


def outcome_on_haproxy(port: int, src: str) -> str:
    """The backend that answered, "deny" for a 403, or "reject" for a silent close."""
    try:
        answer = send(port, Probe(src=src))
    except (ValueError, ConnectionError):
        return "reject"  # closed without a byte of answer
    return "deny" if answer.status == 403 else answer.header("X-Server") or "?"


def test_tcp_rules_match_haproxy() -> None:
    outcomes: dict[str, str] = {}
    with (
        NamedBackends(["b1", "b2"]) as backends,
        side_by_side(filler(CONFIG, backends), name="tcp.cfg") as (router, haproxy),
    ):
        port = haproxy.port("fe")
        for src in SOURCES:
            request = view(Probe(src=src), port)
            if not router.accept_connection(request):
                ours = "reject"
            else:
                decision = router.route_tcp(request)
                ours = "reject" if decision.action == "reject" else str(decision.backend)
            outcomes[src] = ours
            assert outcome_on_haproxy(port, src) == ours, src
    assert set(outcomes.values()) == {"b1", "b2", "reject"}  # every path was exercised


HTTP_CONFIG = (
    global_section("http")
    + """
frontend fe
    bind BIND
    tcp-request content accept if { src 127.0.3.7 }
    tcp-request content reject if { src 127.0.3.0/24 }
    http-request deny if { src 127.0.3.7 }
    use_backend b2 if { src 127.0.4.0/24 }
    default_backend b1
"""
    + BACKENDS
)


def test_tcp_content_rules_in_http_mode_match_haproxy() -> None:
    cases = [
        ("127.0.0.1", "b1"),
        ("127.0.3.3", "reject"),
        ("127.0.3.7", "deny"),  # accepted by tcp-request, then denied by http-request
        ("127.0.4.4", "b2"),
    ]
    with (
        NamedBackends(["b1", "b2"]) as backends,
        side_by_side(filler(HTTP_CONFIG, backends), name="http.cfg") as (router, haproxy),
    ):
        port = haproxy.port("fe")
        for src, expected in cases:
            decision = router.route(view(Probe(src=src), port))
            ours = decision.backend if decision.action == "forward" else decision.action
            assert (ours, outcome_on_haproxy(port, src)) == (expected, expected), src
