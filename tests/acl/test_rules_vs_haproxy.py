"""Differential: redirects, returns, denies and header edits on HAProxy 2.6 and in the Router.

One config runs on a real HAProxy (with real backends that echo what they
received) and is loaded by balancekit; each probe is sent to HAProxy and its
request view routed by balancekit.  Status, Location, Set-Cookie, local bodies,
the backend chosen after header edits, and the headers the backend received
must all agree.
"""

# ruff: noqa: E501  (case tables read best one case per line)

from __future__ import annotations

import json

import pytest
from acl_harness import Probe, filler, global_section, send, side_by_side, view

from balancekit.rules import apply_header_edits
from support.backends import NamedBackends

pytestmark = pytest.mark.haproxy

FRONTEND = (
    global_section()
    + """
frontend fe
    bind BIND
    http-request redirect location /login if { path /r1 }
    http-request redirect location https://%[hdr(host)]%[path]?from=%[src] code 301 if { path /r2 }
    http-request redirect prefix https://new.example if { path_beg /r3 }
    http-request redirect prefix https://new.example drop-query if { path_beg /r4 }
    http-request redirect prefix / append-slash if { path_beg /r5 }
    http-request redirect scheme https code 308 if { path_beg /r6 }
    http-request redirect scheme https drop-query append-slash if { path_beg /r7 }
    http-request redirect location /x set-cookie SEEN=1 code 303 if { path /r8 }
    http-request redirect location /y clear-cookie SEEN= code 307 if { path /r9 }
    redirect prefix /moved code 301 if { path_beg /s1 }
    http-request deny if { path /s1/blocked }
    http-request reject if { path /rej }
    http-request deny deny_status 429 if { path /d1 }
    http-request deny status 400 content-type text/plain string nope if { path /d2 }
    http-request return status 202 content-type text/plain lf-string "hello %[path] %[url_param(q)]" if { path /ret }
    http-request return status 200 content-type text/plain string ok if { path /health }
    http-request allow if { path_beg /echo/allowed }
    http-request deny if { path_beg /echo/allowed/never }
    http-request set-header X-Client %[src]
    http-request add-header X-Tag one
    http-request add-header X-Tag two,three
    http-request del-header X-Secret
    http-request del-header x-drop- -m beg
    http-request set-header X-Path %[path]
    use_backend b2 if { hdr(x-tag) three }
    default_backend b1

backend b1
    server s1 ADDR:b1

backend b2
    server s2 ADDR:b2
"""
)

PROBES: list[tuple[str, tuple[tuple[str, str], ...]]] = [
    ("/r1", ()),
    ("/r2", (("Host", "shop.example"),)),
    ("/r3/a?b=1", ()),
    ("/r4/a?b=1", ()),
    ("/r5/dir", ()),
    ("/r5/dir/", ()),
    ("/r5/dir?q=1", ()),
    ("/r6/a?q=1", (("Host", "h.example:8443"),)),
    ("/r7/a?q=1", (("Host", "h.example"),)),
    ("/r8", ()),
    ("/r9", ()),
    ("/s1/page?x=1", ()),
    ("/s1/blocked", ()),
    ("/rej", ()),
    ("/d1", ()),
    ("/d2", ()),
    ("/ret?q=42", ()),
    ("/ret", ()),
    ("/health", ()),
    ("/echo/allowed/never", (("X-Secret", "s"),)),
    ("/echo/plain", ()),
    ("/echo/edits", (("X-Secret", "s"), ("X-Drop-A", "1"), ("X-Drop-B", "2"), ("X-Keep", "k"), ("X-Client", "spoof"), ("X-Tag", "zero"))),
]  # fmt: skip


def _x_headers(pairs: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    return [(k.lower(), v) for k, v in pairs if k.lower().startswith("x-")]


def test_rules_match_haproxy() -> None:
    with (
        NamedBackends(["b1", "b2"]) as backends,
        side_by_side(filler(FRONTEND, backends), name="rules.cfg") as (router, haproxy),
    ):
        port = haproxy.port("fe")
        for path, headers in PROBES:
            probe = Probe(path, headers=headers)
            decision = router.route(view(probe, port))
            where = (path, decision)
            if decision.action == "reject":  # HAProxy closes without a byte
                with pytest.raises((ValueError, ConnectionError)):
                    send(port, probe)
                continue
            answer = send(port, probe)
            if decision.action == "forward":
                assert answer.status == 200, where
                echoed = json.loads(answer.text)
                assert echoed["server"] == decision.backend, where
                expected = apply_header_edits(view(probe, port).headers, decision.header_edits)
                assert _x_headers(echoed["headers"]) == _x_headers(expected.items), where
                continue
            assert answer.status == decision.status, where
            if decision.action == "redirect":
                assert answer.header("Location") == decision.location, where
                assert answer.header("Set-Cookie") == dict(decision.response_headers).get(
                    "Set-Cookie"
                ), where
            elif decision.body:  # a local answer with a configured payload
                assert answer.text == decision.body, where
                assert answer.header("Content-Type") == decision.content_type, where
