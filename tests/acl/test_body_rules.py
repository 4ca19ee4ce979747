"""Rules that wait for the request body, and early hints, decided without a socket.

The router stops at `wait-for-body` (or before a proxy's rules with `option
http-buffer-request`) and `BodyWait.resume` goes on from there with the body;
`early-hint` rules group into `103` responses.  The bytes on the wire are compared
with HAProxy by the conformance rows (`wait-for-body*`, `early-hint`).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from balancekit.config import load_text
from balancekit.request import Request, RequestBody
from balancekit.routing import Decision, Router

HEAD = """
defaults
    mode http
    timeout client 5s
frontend fe
    bind :8080
"""
BACKENDS = """
backend be
    server s1 127.0.0.1:1
backend other
    server s1 127.0.0.1:1
"""


def _router(frontend: str, backends: str = BACKENDS) -> Router:
    router = load_text(HEAD + frontend + backends).config.frontends[0].router
    assert isinstance(router, Router)
    return router


def _resumed(decision: Decision, data: bytes, **kw: object) -> Decision:
    assert decision.action == "wait-for-body" and decision.body_wait is not None
    return decision.body_wait.resume(RequestBody(data, len(data), **kw))  # type: ignore[arg-type]


def test_the_rules_stop_at_the_wait_and_go_on_with_the_body() -> None:
    router = _router(
        "    http-request set-header X-Before 1\n"
        "    http-request wait-for-body time 2s at-least 1k if METH_POST\n"
        "    http-request deny if { req.body_param(user) -m str root }\n"
        "    use_backend other if { req.body -m sub jsonrpc }\n"
        "    default_backend be\n"
    )
    waiting = router.route(Request(method="POST"))
    assert waiting.body_wait is not None
    assert (waiting.body_wait.wait, waiting.body_wait.at_least) == (2.0, 1024)
    assert _resumed(waiting, b"user=root&x=1").action == "deny"
    rpc = _resumed(waiting, b'{"jsonrpc": "2.0"}')
    assert (rpc.action, rpc.backend) == ("forward", "other")
    # What the rules did before the wait is kept.
    assert [edit.name for edit in rpc.header_edits] == ["X-Before"]
    # A GET does not wait (the rule's condition), and sees no body.
    assert router.route(Request(method="GET")).backend == "be"


def test_a_body_already_whole_does_not_wait_again() -> None:
    router = _router(
        "    http-request wait-for-body time 1s\n"
        "    http-request set-header X-Len %[req.body_len]\n"
        "    default_backend be\n"
    )
    whole = router.route(Request(method="POST", body=RequestBody(b"abc", 3)))
    assert whole.action == "forward"
    assert whole.header_edits[0].value == "3"
    # Stopped short by `at-least`, a later wait reads on.
    partial = Request(method="POST", body=RequestBody(b"ab", 10, partial=True))
    assert router.route(partial).action == "wait-for-body"


def test_the_option_waits_before_the_proxys_rules() -> None:
    router = _router(
        "    use_backend other if { path /other }\n    default_backend be\n",
        BACKENDS + "    option http-buffer-request\n"
        "    http-request set-header X-Len %[req.body_len]\n",
    )
    # The frontend has no option: it routes, then the backend's option waits.
    waiting = router.route(Request(method="POST", path="/other"))
    assert waiting.body_wait is not None
    assert (waiting.body_wait.wait, waiting.body_wait.proxy) == (None, "other")
    done = _resumed(waiting, b"abcd")
    assert (done.backend, done.header_edits[0].value) == ("other", "4")
    assert router.route(Request(method="POST", path="/")).action == "forward"


@pytest.mark.parametrize(
    ("version", "path", "expected"),
    [
        ("HTTP/1.1", "/", ((("link", "</a.css>"), ("link", "</b.js>")),)),
        (
            "HTTP/1.1",
            "/more",
            ((("link", "</a.css>"), ("link", "</b.js>")), (("x-more", "/more"),)),
        ),
        ("HTTP/1.0", "/more", ()),
    ],
)
def test_early_hints_group_into_responses(
    version: str, path: str, expected: tuple[tuple[tuple[str, str], ...], ...]
) -> None:
    router = _router(
        '    http-request early-hint link "</a.css>"\n'
        '    http-request early-hint link "</b.js>"\n'
        "    http-request early-hint x-more %[path] if { path /more }\n"
        "    default_backend be\n"
    )
    decision = router.route(Request(path=path, version=version))
    assert (decision.action, decision.early_hints) == ("forward", expected)


def test_early_hints_before_a_wait_are_sent_with_it() -> None:
    router = _router(
        '    http-request early-hint link "</a.css>"\n'
        "    http-request wait-for-body time 1s\n"
        "    http-request early-hint x-len %[req.body_len]\n"
        "    default_backend be\n"
    )
    waiting = router.route(Request(method="POST"))
    assert waiting.early_hints == ((("link", "</a.css>"),),)
    assert _resumed(waiting, b"abc").early_hints == ((("x-len", "3"),),)


def test_the_router_says_whether_it_waits_for_bodies() -> None:
    plain = "    default_backend be\n"
    assert not _router(plain).waits_for_body
    assert _router("    http-request wait-for-body time 1s\n" + plain).waits_for_body
    assert _router(plain, BACKENDS + "    option http-buffer-request\n").waits_for_body


def test_a_wrapping_router_sees_the_resumed_decision() -> None:
    """`BodyWait.then`: what a router around this one (the stats page's) does with
    the decision the rules reach once they read the body."""
    router = _router("    http-request wait-for-body time 1s\n    default_backend be\n")
    waiting = router.route(Request(method="POST"))
    assert waiting.body_wait is not None
    wrapped = replace(waiting.body_wait, then=lambda d: replace(d, backend=f"wrapped {d.backend}"))
    assert wrapped.resume(RequestBody(b"x", 1)).backend == "wrapped be"
