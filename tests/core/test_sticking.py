"""`stick on|match|store-request` (balancekit.sticking) with a fake clock: which
server a table sends a request to, and what the answer stores, as HAProxy's
process_sticking_rules and process_store_rules do."""

from __future__ import annotations

from ipaddress import IPv4Address

from balancekit.config import load_text
from balancekit.config.runtime import BackendRuntime
from balancekit.request import Request
from balancekit.sticking import StickJob

CONFIG = """
defaults
    mode http
backend be
    balance roundrobin
    stick-table type ip size 2 nopurge expire 1m
    stick on src
    server s1 127.0.0.1:1
    server s2 127.0.0.1:2 id 7
"""


def _backend(text: str = CONFIG) -> BackendRuntime:
    return load_text(text, name="t.cfg", env={}).config.backends["be"]


def _job(be: BackendRuntime, src: str, now: int, **kw: bool) -> StickJob:
    return StickJob(be.stick_rules, Request(src), be.backend, now, **kw)


def test_first_request_is_balanced_then_stored_then_followed() -> None:
    be = _backend()
    job = _job(be, "10.0.0.1", 0)
    assert job.server is None  # nothing stored yet: balance
    job.store(be.backend, "s2", 1)
    table = be.stick_rules[0].table
    entry = table.lookup(IPv4Address("10.0.0.1"), 1)
    assert entry is not None
    # The server's id (`id 7`) and its name, which lookups try first.
    assert (table.read(entry, "server_id", 1), table.server_key(entry)) == (7, "s2")
    assert _job(be, "10.0.0.1", 2).server == "s2"
    # A cookie (or an earlier rule) that assigned a server wins.
    assert _job(be, "10.0.0.1", 2, assigned=True).server is None


def test_a_server_in_maintenance_is_followed_only_with_persist() -> None:
    be = _backend()
    _job(be, "10.0.0.1", 0).store(be.backend, "s1", 0)
    be.backend.set_state("s1", "maint")
    assert _job(be, "10.0.0.1", 1).server is None
    assert _job(be, "10.0.0.1", 1, persist=True).server == "s1"


def test_a_full_nopurge_table_stores_nothing_more() -> None:
    be = _backend()
    for i, server in ((1, "s1"), (2, "s2")):
        _job(be, f"10.0.0.{i}", 0).store(be.backend, server, 0)
    late = _job(be, "10.0.0.3", 1)
    late.store(be.backend, "s1", 1)
    table = be.stick_rules[0].table
    assert table.used == 2 and table.lookup(IPv4Address("10.0.0.3"), 1) is None
    # Not even a key it holds is re-stored: HAProxy allocates before it looks.
    again = _job(be, "10.0.0.1", 2)
    assert again.server == "s1"
    again.store(be.backend, "s2", 2)
    assert _job(be, "10.0.0.1", 3).server == "s1"


def test_only_the_first_store_rule_of_a_table_applies_and_conditions_hold() -> None:
    be = _backend(
        CONFIG.replace(
            "    stick on src\n",
            "    stick store-request req.hdr(x-a) if { path_beg /a }\n"
            "    stick store-request req.hdr(x-b)\n",
        ).replace("type ip size 2 nopurge", "type string size 10")
    )
    headers = (("X-A", "alpha"), ("X-B", "beta"))
    job = StickJob(be.stick_rules, Request("10.0.0.1", headers=headers), be.backend, 0)
    job.store(be.backend, "s1", 0)
    table = be.stick_rules[0].table
    assert table.lookup("alpha", 0) is None and table.lookup("beta", 0) is not None
    job = StickJob(be.stick_rules, Request("10.0.0.1", path="/a", headers=headers), be.backend, 0)
    job.store(be.backend, "s1", 0)
    assert table.lookup("alpha", 0) is not None


RESPONSE = """
defaults
    mode http
backend be
    balance roundrobin
    stick-table type string len 32 size 10 expire 1m
    stick store-response res.cook(SID)
    stick store-response res.hdr(x-sid)
    stick match req.cook(SID)
    server s1 127.0.0.1:1
    server s2 127.0.0.1:2
"""


def test_store_response_learns_the_key_from_the_answer() -> None:
    be = _backend(RESPONSE)
    job = StickJob(be.stick_rules, Request("10.0.0.1"), be.backend, 0)
    assert job.reads_response
    # The first store-response rule per table: the cookie, not the header.
    job.store(be.backend, "s2", 1, 200, [("Set-Cookie", "SID=abc; path=/"), ("X-Sid", "zzz")])
    cookie = Request("10.0.0.9", headers=[("Cookie", "SID=abc")])
    assert StickJob(be.stick_rules, cookie, be.backend, 2).server == "s2"
    other = Request("10.0.0.9", headers=[("Cookie", "SID=zzz")])
    assert StickJob(be.stick_rules, other, be.backend, 2).server is None


def test_store_response_without_a_key_stores_nothing() -> None:
    be = _backend(RESPONSE)
    job = StickJob(be.stick_rules, Request("10.0.0.1"), be.backend, 0)
    job.store(be.backend, "s1", 1, 200, [("X-Sid", "k1")])  # the second rule applies
    table = be.stick_rules[0].table
    assert table.lookup("k1", 1) is not None and table.used == 1
    job = StickJob(be.stick_rules, Request("10.0.0.1"), be.backend, 2)
    job.store(be.backend, "s1", 3, 200, [])
    assert table.used == 1


def test_response_fetches_are_refused_where_there_is_no_response() -> None:
    from balancekit.config import ConfigErrors

    text = RESPONSE.replace("stick match req.cook(SID)", "stick match res.cook(SID)")
    try:
        load_text(text, name="t.cfg", env={})
    except ConfigErrors as errors:
        assert "extracts information from 'HTTP response headers'" in str(errors)
    else:
        raise AssertionError("res.cook accepted in a request rule")


TCP_PAYLOAD = """
defaults
    mode tcp
backend be
    stick-table type binary len 4 size 10 expire 1m
    stick on req.payload(0,2)
    stick store-response res.payload(0,3) table other
    server s1 127.0.0.1:1
    server s2 127.0.0.1:2
backend other
    stick-table type string len 8 size 10 expire 1m
"""


def test_store_response_reads_the_servers_first_bytes_in_mode_tcp() -> None:
    be = _backend(TCP_PAYLOAD)
    request = Request("10.0.0.1", payload=b"\x01\x02rest", version="")
    StickJob(be.stick_rules, request, be.backend, 0).store(be.backend, "s2", 1, payload=b"+OK x")
    mine, other = be.stick_rules[0].table, be.stick_rules[1].table
    assert mine.lookup(b"\x01\x02", 1) is not None and other.lookup("+OK", 1) is not None
    assert StickJob(be.stick_rules, request, be.backend, 2).server == "s2"
    # No bytes from the server (the rules ran before any came): only the request's key.
    again = Request("10.0.0.1", payload=b"\x03\x04", version="")
    StickJob(be.stick_rules, again, be.backend, 3).store(be.backend, "s1", 4, payload=b"")
    assert mine.used == 2 and other.used == 1


def test_a_stream_stores_eight_keys_at_most() -> None:
    tables = "".join(f"backend t{i}\n    stick-table type string size 10\n" for i in range(10))
    rules = "".join(f"    stick store-request req.hdr(x) table t{i}\n" for i in range(7))
    rules += "".join(f"    stick store-response res.hdr(y) table t{i}\n" for i in (7, 8, 9))
    text = f"defaults\n    mode http\nbackend be\n{rules}    server s1 127.0.0.1:1\n{tables}"
    be = _backend(text)
    job = StickJob(be.stick_rules, Request("10.0.0.1", headers=[("x", "k")]), be.backend, 0)
    job.store(be.backend, "s1", 1, 200, [("y", "r")])
    stored = [rule.table.used for rule in be.stick_rules]
    assert stored == [1] * 8 + [0, 0]  # HAProxy's store[8]: the 9th and 10th are dropped
