"""A stream's tracked counters (`track-sc0..2`), HAProxy's `s->stkctr[]`, and its variables.

A `track-scN` rule attaches one stick-table entry to the stream in slot N; the
`scN_*` fetches then read it, and the events of the stream (its response's
status, a deny) count on it until the stream ends and lets it go.  The engines
create one `StreamCounters` per HTTP request when the configuration has stick
tables, hand it in with the `Request` (`Request.stream`), and call `response`
and `close`; the rules and fetches do the rest.  Pure: `now_ms` is the engine's
clock, taken once when the request's rules run.

The stream's variables (`set-var`, `var()`: balancekit.variables) travel with it
too, in `vars`; a request's share the `sess` scope of its connection's.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address
from typing import TYPE_CHECKING

from .sticktables import Entry, KeyInput, StickTable
from .variables import Variables

if TYPE_CHECKING:
    from .request import Request

__all__ = ["MAX_TRACKED", "StreamCounters", "table_key"]

#: HAProxy 2.6's default MAX_SESS_STKCTR: track-sc0, track-sc1, track-sc2.
MAX_TRACKED = 3

#: Numbers each stream in the order it starts (`%rt`, HAProxy's `global.req_count`).
_SERIALS = itertools.count()


def table_key(value: object) -> KeyInput | None:
    """A sample as a stick-table key: addresses (`(version, number)`) become
    ipaddress objects, text and integers pass as they are."""
    if isinstance(value, tuple):
        version, number = value
        return IPv4Address(number) if version == 4 else IPv6Address(number)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | str | bytes):
        return value
    return None


class StreamCounters:
    """The entries one stream tracks, by slot, and the moment its rules run.

    A client connection has its own (`tcp-request connection|session track-scN`,
    HAProxy's `sess->stkctr`), given to each of its requests as `session`: a slot
    the request does not track reads, and counts on, the connection's entry.
    """

    __slots__ = (
        "_slots", "_unique_id", "log_level", "now_ms", "request_captures", "response_captures",
        "serial", "session", "unique_id_format", "vars",
    )  # fmt: skip

    def __init__(
        self,
        now_ms: int,
        session: StreamCounters | None = None,
        unique_id_format: Callable[[Request], str] | None = None,
        *,
        connection: bool = False,
    ) -> None:
        self.now_ms = now_ms
        self.session = session
        #: `%rt`: streams are numbered, a connection's own counters are not.
        self.serial = -1 if connection else next(_SERIALS)
        #: The frontend's `unique-id-format`, rendered once, when first needed.
        self.unique_id_format = unique_id_format
        #: `set-log-level`: the syslog level of the stream's log line ("silent": none).
        self.log_level: str | None = None
        #: The frontend's capture slots (`capture request|response header`, `declare
        #: capture`, `http-request capture … len`), by index: what `capture` rules
        #: write, the log's %hr/%hs and `capture.req.hdr(N)` read.  None: no slots.
        self.request_captures: list[str] | None = None
        self.response_captures: list[str] | None = None
        self._unique_id: str | None = None
        self.vars: Variables = Variables() if session is None else session.vars.for_request()
        self._slots: list[tuple[StickTable, Entry] | None] = [None] * MAX_TRACKED
        if session is not None:
            # A new HTTP request counts on what its connection tracks
            # (stream_inc_http_req_ctr, before any http-request rule runs).
            session.each(lambda table, entry, now: table.count_http_request(entry, now), now_ms)

    def __repr__(self) -> str:
        names = [s[0].name if s else None for s in self._slots]
        return f"<StreamCounters now_ms={self.now_ms} slots={names}>"

    def unique_id(self, request: Request) -> str | None:
        """The stream's unique ID: built from `request` the first time it is asked
        for (a `unique-id` fetch in a rule, else after the rules), then kept, as
        HAProxy's stream_generate_unique_id does; None without a format."""
        if self._unique_id is None and self.unique_id_format is not None:
            self._unique_id = ""  # a format that reads the ID finds it empty, not a loop
            self._unique_id = self.unique_id_format(request)[:127]  # UNIQUEID_LEN - 1
        return self._unique_id

    def tracked(self, slot: int) -> tuple[StickTable, Entry] | None:
        """The stream's entry in `slot`, else its connection's (smp_fetch_sc_stkctr)."""
        tracked = self._slots[slot]
        if tracked is None and self.session is not None:
            return self.session._slots[slot]
        return tracked

    def track_session(self, slot: int, table: StickTable, key: KeyInput) -> None:
        """`tcp-request connection|session track-scN` on a connection's counters: a
        connection more (conn_cnt, conn_cur, conn_rate), no request yet."""
        if self._slots[slot] is not None:
            return
        entry = table.track(key, self.now_ms)
        if entry is not None:
            self._slots[slot] = (table, entry)

    def track_content(self, slot: int, table: StickTable, key: KeyInput, *, http: bool) -> None:
        """`tcp-request content track-scN`: the stream tracks a connection more; an
        HTTP request counts too (HAProxy counts it after the content rules,
        stream_inc_http_req_ctr)."""
        if self.tracked(slot) is not None:
            return
        entry = table.track(key, self.now_ms)
        if entry is not None:
            self._slots[slot] = (table, entry)
            if http:
                table.count_http_request(entry, self.now_ms)

    def count_session(self) -> None:
        """The connection was accepted: `sess_cnt`, `sess_rate` (session_count_new)."""
        self.each(lambda table, entry, now: table.count_session(entry, now))

    def track_http(self, slot: int, table: StickTable, key: KeyInput) -> None:
        """`http-request track-scN`: the first rule for a slot wins (a slot already
        tracking, here or on the connection, is left alone: HAProxy's stream starts
        with a copy of its session's counters); the request counts at once."""
        if self.tracked(slot) is not None:
            return
        entry = table.track_http(key, self.now_ms)
        if entry is not None:
            self._slots[slot] = (table, entry)

    def each(self, event: Callable[[StickTable, Entry, int], None], now_ms: int = -1) -> None:
        """`event` on every slot's entry: the stream's, else its connection's."""
        now = self.now_ms if now_ms < 0 else now_ms
        for slot in range(MAX_TRACKED):
            tracked = self.tracked(slot)
            if tracked is not None:
                event(tracked[0], tracked[1], now)

    def error(self) -> None:
        """A request error HAProxy counts on every tracked entry (a deny, an
        auth challenge: stream_inc_http_err_ctr)."""
        self.each(lambda table, entry, now: table.count_http_error(entry, now))

    def response(self, status: int) -> None:
        """The response's status: a 4xx counts as an error, a 5xx other than 501
        and 505 as a failure (http_wait_for_response)."""
        if 400 <= status < 500:
            self.error()
        elif 500 <= status < 600 and status not in (501, 505):
            self.each(lambda table, entry, now: table.count_http_failure(entry, now))

    def close(self, now_ms: int, bytes_out: int = 0, bytes_in: int = 0) -> None:
        """The stream ends: the bytes it read from the client and sent it count
        (`bytes_in_*` as `%U`, `bytes_out_*` as `%B`: stream_process_counters, on its
        connection's entries too), then its own entries are let go (`conn_cur` - 1,
        the reference dropped: stream_store_counters); a connection's go when
        `close` is called on it."""
        if bytes_in:
            self.each(lambda table, entry, now: table.add_bytes_in(entry, bytes_in, now), now_ms)
        if bytes_out:
            self.each(lambda table, entry, now: table.add_bytes_out(entry, bytes_out, now), now_ms)
        for slot, tracked in enumerate(self._slots):
            if tracked is not None:
                tracked[0].untrack(tracked[1], now_ms)
                self._slots[slot] = None
