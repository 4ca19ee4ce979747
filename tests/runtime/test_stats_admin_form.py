"""`stats admin`'s form, read as HAProxy's stats_process_http_post reads it.

Pure: `run_form` with a recording `apply`.  What the actions do to a running
proxy, and the 303 answers, are pinned against HAProxy by the conformance rows
`stats-admin*`; here are the parser's corners that a browser never sends.
"""

from __future__ import annotations

import pytest

from balancekit_server.ops.stats_admin import FORM_LIMIT, Outcome, run_form, status_code

KNOWN = {"s1", "s2", "s3"}


class Recorder:
    def __init__(self, unchanged: frozenset[str] = frozenset()) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.unchanged = unchanged

    def find(self, ref: str) -> str | None:
        return {"be": "be", "#3": "be"}.get(ref)

    def apply(self, backend: str, server: str, action: str) -> Outcome:
        self.calls.append((backend, server, action))
        if server not in KNOWN:
            return "unknown"
        return "unchanged" if server in self.unchanged else "altered"

    def run(self, body: bytes | None) -> str:
        return run_form(body, self.find, self.apply)


def test_servers_before_the_backend_and_action_are_applied_in_reverse_order() -> None:
    rec = Recorder()
    assert rec.run(b"s=s1&s=s2&s=s3&action=maint&b=%233") == "DONE"
    assert rec.calls == [("be", "s3", "maint"), ("be", "s2", "maint"), ("be", "s1", "maint")]


def test_servers_on_both_sides_of_the_backend_each_run_once() -> None:
    rec = Recorder()
    assert rec.run(b"s=s1&b=be&s=s2&action=drain&s=s3") == "DONE"
    assert sorted(c[1] for c in rec.calls) == ["s1", "s2", "s3"]


def test_the_last_backend_and_action_win() -> None:
    rec = Recorder()
    assert rec.run(b"action=maint&b=nope&s=s1&action=ready&b=be") == "DONE"
    assert rec.calls == [("be", "s1", "ready")]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "NONE"),  # nothing posted
        (b"s=s1&s=s2", "NONE"),  # no backend, no action: servers never applied
        (b"s=s1&action=maint", "NONE"),
        (b"s=s1&action=maint&b=nope", "ERRP"),  # unknown backend
        (b"s=s1&action=bogus&b=be", "ERRP"),  # unknown action
        (b"s=s1&action=hnolb&b=be", "DONE"),
        (b"s=s1&action=dhlth&b=be", "DONE"),
        (b"s=nosuch&action=maint&b=be", "ERRP"),  # nothing altered
        (b"s=s1&s=nosuch&action=maint&b=be", "PART"),
        (b"s=s1&action=maint&b=be&" + b"x" * 2048, "ERRP"),  # pair over LINESIZE
        (b"s=s1&action=maint&b=be&" + b"x" * 2047, "DONE"),
    ],
)
def test_status_codes(body: bytes, code: str) -> None:
    assert Recorder().run(body) == code


def test_unchanged_servers_are_not_counted() -> None:
    rec = Recorder(unchanged=frozenset({"s1"}))
    assert rec.run(b"s=s1&action=disable&b=be") == "NONE"
    assert rec.run(b"s=s1&s=s2&action=disable&b=be") == "DONE"


def test_a_bad_escape_stops_reading_the_form() -> None:
    # Read from the end: the bad pair stops the scan before `s=s1` is reached.
    rec = Recorder()
    assert rec.run(b"s=s1&bad=%zz&action=maint&b=be") == "NONE"
    assert rec.calls == []
    assert Recorder().run(b"s=%73%31&action=ma%69nt&b=b%65") == "DONE"


def test_plus_is_a_space_in_a_form() -> None:
    rec = Recorder()
    rec.run(b"s=my+server&action=maint&b=be")
    assert rec.calls == [("be", "my server", "maint")]


def test_an_oversized_form_is_refused_whole() -> None:
    assert Recorder().run(None) == "EXCD"
    assert FORM_LIMIT < 16384  # under HAProxy's buffer


def test_status_code_reads_four_characters() -> None:
    assert status_code("DONE;norefresh") == "DONE"
    assert status_code("XXXX") == "UNKN"
