"""Stick tables through the rules, with a fake clock: `track-sc*`, the `sc*_`/`src_`
fetches and what a stream counts (balancekit.tracking), as HAProxy 2.6 does them.

The real-time side, the same rules against a running HAProxy, is the conformance
rows `stick-table-*`."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

import pytest

from balancekit.config import load_text
from balancekit.request import Request
from balancekit.routing import Decision, Router
from balancekit.tracking import StreamCounters, table_key

RATE_LIMIT = """
defaults
    mode http
frontend fe
    bind 127.0.0.1:0
    stick-table type ip size 100k expire 30s store http_req_rate(10s),conn_cur,http_err_cnt,gpc0
    http-request track-sc0 src
    http-request sc-inc-gpc0(0) if { path_beg /bad }
    http-request deny deny_status 429 if { sc_http_req_rate(0) gt 3 }
    http-request deny if { sc0_get_gpc0 gt 1 }
    default_backend be
backend be
    server s1 127.0.0.1:1
"""


def _router(text: str = RATE_LIMIT) -> Router:
    router = load_text(text, name="t.cfg", env={}).config.frontends[0].router
    assert router is not None
    return router


def _send(router: Router, now_ms: int, path: str = "/", src: str = "10.0.0.1") -> Decision:
    """One request as an engine runs it: route, answer, close the stream."""
    stream = StreamCounters(now_ms)
    decision = router.route(Request(src, path=path, stream=stream))
    if decision.action == "forward":
        stream.response(200)
    stream.close(now_ms)
    return decision


def test_rate_limit_over_time_follows_freq_ctr() -> None:
    router = _router()
    statuses = [_send(router, t).status for t in (0, 1000, 2000, 3000)]
    assert statuses == [0, 0, 0, 429]  # the 4th request in 10 s reads a rate of 4
    # Half-way through the next period the last one weighs half: 4 * 5/10 + 1 = 3.
    assert _send(router, 15_000).status == 0
    assert _send(router, 15_000).status == 429  # 4 * 5/10 + 2 = 4
    # Two periods later nothing of the first remains.
    assert [_send(router, 30_500).status for _ in range(3)] == [0, 0, 0]
    # Another client has its own entry.
    assert _send(router, 30_500, src="10.0.0.2").status == 0


def test_gpc0_flags_an_abuser() -> None:
    router = _router()
    assert _send(router, 0, "/bad").action == "forward"
    assert _send(router, 1, "/bad").action == "deny"  # gpc0 = 2
    assert _send(router, 2, "/").action == "deny"  # flagged for good (until expiry)
    assert _send(router, 40_000, "/").action == "forward"  # the entry expired


def test_stream_counts_and_releases() -> None:
    config = load_text(RATE_LIMIT, name="t.cfg", env={}).config
    router = config.frontends[0].router
    assert router is not None and list(config.tables) == ["fe"]
    table = config.tables["fe"]
    stream = StreamCounters(0)
    router.route(Request("10.0.0.9", stream=stream))
    entry = table.lookup(IPv4Address("10.0.0.9"), 0)
    assert entry is not None
    assert table.read(entry, "conn_cur", 0) == 1 and table.ref_count(entry) == 1
    stream.response(404)  # a 4xx is an error on every tracked entry
    stream.response(503)  # a 5xx is a failure (not stored here)
    stream.close(10)
    assert table.read(entry, "conn_cur", 10) == 0 and table.ref_count(entry) == 0
    assert table.read(entry, "http_err_cnt", 10) == 1
    # A deny counts as an error too (it never reaches a server): rates 2 to 5, and
    # the requests reading 4 and 5 are denied.
    statuses = [_send(router, 20 + t, src="10.0.0.9").status for t in range(4)]
    assert statuses == [0, 0, 429, 429]
    assert table.read(entry, "http_err_cnt", 30) == 3


def test_without_a_stream_rules_track_nothing() -> None:
    router = _router()
    assert router.route(Request("10.0.0.1")).action == "forward"
    assert router.route(Request("10.0.0.1")).action == "forward"


@pytest.mark.parametrize(
    ("sample", "key"),
    [
        ((4, 0x7F000001), IPv4Address("127.0.0.1")),
        ((6, 1), IPv6Address("::1")),
        ("text", "text"),
        (7, 7),
        (True, 1),
        (None, None),
    ],
)
def test_table_key(sample: object, key: object) -> None:
    assert table_key(sample) == key


def test_src_fetch_reads_zero_for_an_absent_key_and_table_args_resolve() -> None:
    router = _router(
        RATE_LIMIT.replace(
            "    http-request track-sc0 src\n",
            "    http-request track-sc0 src\n"
            "    http-request return status 200 content-type text/plain lf-string "
            '"%[src_http_req_cnt(other)] %[table_cnt(other)] %[sc_http_req_rate(0)]" '
            "if { path /show }\n",
        )
        + "backend other\n    stick-table type ip size 10 store http_req_cnt\n"
    )
    decision = router.route(Request("10.0.0.1", path="/show", stream=StreamCounters(0)))
    assert (decision.action, decision.body) == ("return", "0 0 1")


CONN_LIMIT = """
defaults
    mode http
frontend fe
    bind 127.0.0.1:0
    stick-table type ip size 1k expire 1m store conn_cur,conn_cnt,sess_cnt,http_req_cnt
    tcp-request connection track-sc0 src
    tcp-request connection reject if { sc_conn_cur(0) gt 2 }
    http-request track-sc0 src
    default_backend be
backend be
    server s1 127.0.0.1:1
"""


def test_connection_tracking_limits_concurrent_connections() -> None:
    config = load_text(CONN_LIMIT, name="t.cfg", env={}).config
    router, table = config.frontends[0].router, config.tables["fe"]
    assert router is not None and router.filters_connections
    sessions = []
    for now in (0, 1, 2):
        session = StreamCounters(now)
        accepted = router.accept_connection(Request("10.0.0.1", stream=session))
        if accepted:
            session.count_session()
        sessions.append((accepted, session))
    assert [accepted for accepted, _ in sessions] == [True, True, False]
    sessions[2][1].close(2)  # the refused connection lets its entry go at once
    # A request on the first connection counts on the connection's entry, and its
    # own track-sc0 is skipped: the slot is the connection's (stream_new copies it).
    stream = StreamCounters(3, sessions[0][1])
    router.route(Request("10.0.0.1", stream=stream))
    stream.close(3)
    entry = table.lookup(IPv4Address("10.0.0.1"), 3)
    assert entry is not None
    values = {name: table.read(entry, name, 3) for name in ("conn_cur", "conn_cnt", "sess_cnt")}
    assert values == {"conn_cur": 2, "conn_cnt": 3, "sess_cnt": 2}
    assert table.read(entry, "http_req_cnt", 3) == 1
    for _, session in sessions[:2]:
        session.close(4)
    assert table.read(entry, "conn_cur", 4) == 0 and table.ref_count(entry) == 0


def test_content_tracking_counts_each_http_request_once() -> None:
    config = load_text(
        CONN_LIMIT.replace(
            "    tcp-request connection track-sc0 src\n"
            "    tcp-request connection reject if { sc_conn_cur(0) gt 2 }\n",
            "    tcp-request content track-sc1 src\n"
            "    http-request sc-set-gpt0(1) req.hdr(x-level) if { req.hdr(x-level) -m found }\n",
        ).replace("http_req_cnt", "http_req_cnt,gpt0"),
        name="t.cfg",
        env={},
    ).config
    router, table = config.frontends[0].router, config.tables["fe"]
    assert router is not None
    for now, level in ((0, None), (1, "7x")):
        stream = StreamCounters(now)
        headers = (("X-Level", level),) if level else ()
        assert router.route(Request("10.0.0.5", headers=headers, stream=stream)).action == "forward"
        stream.close(now)
    entry = table.lookup(IPv4Address("10.0.0.5"), 2)
    assert entry is not None
    # Two requests, each tracked twice (content track-sc1, http-request track-sc0) on the
    # same entry: a connection and a request per track.
    assert table.read(entry, "http_req_cnt", 2) == 4
    assert table.read(entry, "conn_cur", 2) == 0
    assert table.read(entry, "get_gpt0", 2) == 7  # "7x" cast to an integer, as HAProxy
