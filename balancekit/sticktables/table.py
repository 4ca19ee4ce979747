"""One stick table (HAProxy 2.6's `struct stktable`): entries, expiry, purging, counters.

The engines call it where HAProxy's streams touch `stkctr`s: `track` for a
`track-scN` rule (the entry is created if needed, referenced, and counts the
connection), `count_*` for sessions, requests, errors and bytes, the gpc/gpt
methods for `sc-inc-gpc0`, `sc-set-gpt0` and the `sc_*_gpc*` fetches, `read` for
what an `sc0_*` fetch returns, `fetch` for `src_*` and the `table_*` converters,
and `untrack` when the connection ends.  Time is passed in (`now`, in ms, HAProxy's
`now_ms`) and never goes backwards: an earlier `now` counts as the latest seen.

Expiry and purging follow stick_table.c, including their order:

- an entry's `expire` is set when it is created and on every touch (`now` +
  the table's `expire`; a table without `expire` stamps the touch time, never
  expires entries and only purges them when full);
- HAProxy queues each entry by its expiry date when it is stored and does not
  move it when touched: the queue is only corrected when a sweep or a purge
  reaches it (the entry is then queued again at its new date).  Both walk the
  queue from its oldest date and never remove a referenced (tracked) entry;
- the sweep (`process_table_expire`) runs whenever a call is given a `now` at or
  past the next expiry date, as if HAProxy's expiry task had woken on time; so an
  expired entry is never seen again unless it is tracked;
- when the table is full, creating an entry first purges up to `size / 256 + 1`
  of the oldest queued entries that are not referenced, giving up after twice
  that many looked at (`stktable_trash_oldest`); nothing purged, or `nopurge`,
  and the entry is not created.

Memory: a million entries must fit, so an entry is not an object.  Its values
live in two flat integer arrays (64-bit for dates and byte counts, 32-bit for
counters and rates, as HAProxy's types), found by slot number; a dict maps keys
to slots and a heap of packed integers is the expiry queue: about 200 bytes per
`type ip` entry storing a rate and two counters (`bench/sticktable_memory.py`:
201 bytes at a million entries on CPython 3.11; the dict and the key and slot
integers are half of it).  Allow 256 bytes per entry.
`Entry` is a handle made on demand: valid while the entry is tracked, and
otherwise only until a later call may have expired or purged it (a handle to an
entry that is gone raises LookupError rather than reach another one).
"""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Iterator
from dataclasses import dataclass

from .datatypes import StoredType, StoreSpec, parse_store
from .freqctr import freq_ctr_total, rotate
from .keys import Key, KeyInput, KeyType, normalize_key, parse_key_type, sort_key
from .updates import UpdateLog

__all__ = ["READS", "Entry", "StickTable", "WireValue"]

#: One element of a stored type as peers exchange it: a counter, a rate as
#: (age in ms, current count, previous count), or the server key's text.
WireValue = int | tuple[int, int, int] | str | None

_U32 = 0xFFFFFFFF
_U64 = 2**64 - 1
_SEQ_BITS = 64
_SEQ_MASK = (1 << _SEQ_BITS) - 1
# 64-bit lane: the expiry date and the entry's serial come first.
_EXPIRE, _SERIAL = 0, 1
# 32-bit lane: the reference count comes first.
_REF = 0


@dataclass(frozen=True, slots=True)
class Entry:
    """A handle on one entry: its slot, and the serial that tells it from a later
    entry in the same slot."""

    slot: int
    serial: int


@dataclass(frozen=True, slots=True)
class _Field:
    """Where a stored type lives in an entry: `off` in the 32-bit lane (counters;
    for rates, the current and previous counts, two per element) or in the 64-bit
    lane (byte counts); `tick` is a rate's period start in the 64-bit lane."""

    stored: StoredType
    off: int
    tick: int = -1

    @property
    def std(self) -> str:
        return self.stored.type.std


# What `read`/`fetch` accept: the fetch names after `sc0_`, `sc_` or `src_`, and the
# converter names after `table_` (`gpc0` for `table_gpc0`, `gpc` for `table_gpc`).
_PLAIN: tuple[str, ...] = ("conn_cnt", "conn_cur", "sess_cnt", "http_req_cnt")
_PLAIN += ("http_err_cnt", "http_fail_cnt", "server_id", "bytes_in_cnt", "bytes_out_cnt")
_RATES: tuple[str, ...] = ("conn_rate", "sess_rate", "http_req_rate", "http_err_rate")
_RATES += ("http_fail_rate", "bytes_in_rate", "bytes_out_rate")
_KBYTES = {"kbytes_in": "bytes_in_cnt", "kbytes_out": "bytes_out_cnt"}
# The legacy gpc0/gpc1/gpt0 fetches fall back on the arrays' first elements.
_LEGACY = {
    "get_gpc0": ("gpc0", "gpc", 0),
    "get_gpc1": ("gpc1", "gpc", 1),
    "get_gpt0": ("gpt0", "gpt", 0),
    "gpc0_rate": ("gpc0_rate", "gpc_rate", 0),
    "gpc1_rate": ("gpc1_rate", "gpc_rate", 1),
}
_LEGACY.update({"gpc0": _LEGACY["get_gpc0"], "gpc1": _LEGACY["get_gpc1"]})
_LEGACY["gpt0"] = _LEGACY["get_gpt0"]
_ARRAYS = {"get_gpc": "gpc", "gpc": "gpc", "get_gpt": "gpt", "gpt": "gpt", "gpc_rate": "gpc_rate"}
_SPECIAL = ("trackers", "expire", "idle")
#: Every name `read` and `fetch` accept.
READS: frozenset[str] = frozenset((*_PLAIN, *_RATES, *_KBYTES, *_LEGACY, *_ARRAYS, *_SPECIAL))


class StickTable:
    """`stick-table type <key_type> size <size> [expire <expire_ms>] [nopurge]
    [store <store>]`, named `name` (the proxy's name in HAProxy)."""

    __slots__ = (
        "_current",
        "_exp_next",
        "_expire",
        "_fields",
        "_free",
        "_heap",
        "_index",
        "_keys",
        "_now",
        "_seq",
        "_slot_bits",
        "_slot_mask",
        "_strings",
        "_u32",
        "_u64",
        "_updates",
        "_w32",
        "_w64",
        "_zero32",
        "_zero64",
        "key_type",
        "name",
        "nopurge",
        "size",
        "store",
    )

    def __init__(
        self,
        name: str,
        key_type: KeyType | str,
        size: int,
        expire_ms: int | None = None,
        nopurge: bool = False,
        store: StoreSpec | str = "",
    ) -> None:
        if size < 1:
            raise ValueError("missing size.")
        if expire_ms is not None and not 0 <= expire_ms <= 2**31 - 1:
            raise ValueError(f"expire of {expire_ms} ms is out of range (0 to 2147483647)")
        self.name = name
        self.key_type = key_type if isinstance(key_type, KeyType) else parse_key_type(key_type)
        self.size = size
        self.nopurge = nopurge
        self.store = store if isinstance(store, StoreSpec) else parse_store(store)
        self._expire = expire_ms or 0  # HAProxy's 0: no expiry
        self._fields: dict[str, _Field] = {}
        w32, w64 = 1, 2
        for item in self.store:
            std = item.type.std
            if std in ("uint", "sint"):
                self._fields[item.name] = _Field(item, w32)
                w32 += item.count
            elif std == "frqp":
                self._fields[item.name] = _Field(item, w32, w64)
                w32 += 2 * item.count
                w64 += item.count
            elif std == "ull":
                self._fields[item.name] = _Field(item, w64)
                w64 += item.count
            else:  # the server key, a string
                self._fields[item.name] = _Field(item, -1)
        self._w32, self._w64 = w32, w64
        self._zero32: array[int] = array("I", bytes(4 * w32))
        self._zero64: array[int] = array("Q", bytes(8 * w64))
        self._u32: array[int] = array("I")
        self._u64: array[int] = array("Q")
        self._keys: list[Key | None] = []
        self._strings: list[str | None] | None = [] if "server_key" in self._fields else None
        self._free: array[int] = array("I")
        self._index: dict[Key, int] = {}
        self._heap: list[int] = []
        self._slot_bits = max(1, size.bit_length())
        self._slot_mask = (1 << self._slot_bits) - 1
        self._seq = 1
        self._current = 0
        self._now = 0
        self._exp_next: int | None = None
        self._updates: UpdateLog | None = None

    def __repr__(self) -> str:
        return (
            f"<StickTable {self.name} type {self.key_type} size {self.size} "
            f"used {self._current} expire {self._expire or None} store {self.store}>"
        )

    def __len__(self) -> int:
        return self._current

    # -- table-wide ------------------------------------------------------------------------

    @property
    def used(self) -> int:
        """Entries in the table (`table_cnt`, `used:` in `show table`)."""
        return self._current

    @property
    def available(self) -> int:
        """Free places (`table_avl`)."""
        return self.size - self._current

    @property
    def expire_ms(self) -> int | None:
        return self._expire or None

    @property
    def next_expiry(self) -> int | None:
        """When the next entry expires (HAProxy's `exp_next`), for an engine that
        would rather sweep on a timer than on its next call; None: never."""
        return self._exp_next

    def normalize(self, key: KeyInput) -> Key:
        """The stored form of `key` for this table (see `keys.normalize_key`);
        ValueError says why a key does not convert."""
        return normalize_key(self.key_type, key)

    def _convert(self, key: KeyInput) -> Key | None:
        try:
            return normalize_key(self.key_type, key)
        except ValueError:
            return None

    def expire(self, now: int) -> int:
        """Remove what has expired by `now` (`process_table_expire`); returns how many."""
        return self._advance(now)

    def entries(self, now: int) -> list[Entry]:
        """Every entry, in the order `show table` lists them (the key tree's)."""
        self._advance(now)
        kt = self.key_type
        ordered = sorted(self._index.items(), key=lambda item: sort_key(kt, item[0]))
        return [Entry(slot, self._u64[slot * self._w64 + _SERIAL]) for _, slot in ordered]

    # -- entries ---------------------------------------------------------------------------

    def lookup(self, key: KeyInput, now: int) -> Entry | None:
        """The entry for `key`, if any; nothing is created, referenced or touched.
        A key that does not convert to the table's type finds nothing, as in
        HAProxy (use `normalize` to get the reason)."""
        self._advance(now)
        stored = self._convert(key)
        slot = None if stored is None else self._index.get(stored)
        if slot is None:
            return None
        return Entry(slot, self._u64[slot * self._w64 + _SERIAL])

    def get_or_create(self, key: KeyInput, now: int) -> Entry | None:
        """The entry for `key`, created if missing (`stktable_get_entry`, without
        the reference).  None when the table is full and nothing may be purged,
        or when `key` does not convert to the table's type (HAProxy then skips
        the rule)."""
        now = self._tick(now)
        stored = self._convert(key)
        if stored is None:
            return None
        slot = self._index.get(stored)
        if slot is None:
            slot = self._create(stored, now)
            if slot is None:
                return None
        return Entry(slot, self._u64[slot * self._w64 + _SERIAL])

    def key_of(self, entry: Entry) -> Key:
        key = self._keys[self._slot(entry)]
        assert key is not None
        return key

    def ref_count(self, entry: Entry) -> int:
        """How many trackers hold the entry (HAProxy's `ref_cnt`, `use=` in `show table`)."""
        return self._u32[self._slot(entry) * self._w32 + _REF]

    def expiry(self, entry: Entry) -> int:
        """The entry's expiry date (HAProxy's `expire` tick)."""
        return self._u64[self._slot(entry) * self._w64 + _EXPIRE]

    def touch(self, entry: Entry, now: int) -> None:
        """Push the expiry to `now` + the table's expire (`stktable_touch_local`)."""
        now = self._tick(now)
        self._touch(self._slot(entry), now)

    def kill(self, entry: Entry) -> bool:
        """Remove the entry unless it is referenced (`stksess_kill`); True if removed."""
        slot = self._slot(entry)
        if self._u32[slot * self._w32 + _REF]:
            return False
        self._kill(slot)
        return True

    # -- tracking --------------------------------------------------------------------------

    def track(self, key: KeyInput, now: int) -> Entry | None:
        """A `track-scN` rule: the entry (created if needed) is referenced, and
        counts one more connection (`stream_track_stkctr`): `conn_cur` and
        `conn_cnt` + 1, `conn_rate` updated, expiry pushed.  None when the table
        is full and nothing may be purged (the rule then tracks nothing)."""
        entry = self.get_or_create(key, now)
        if entry is None:
            return None
        now = self._now
        slot = entry.slot
        self._u32[slot * self._w32 + _REF] += 1
        self._inc(slot, "conn_cur", 1)
        self._inc(slot, "conn_cnt", 1)
        self._rate(slot, "conn_rate", 1, now)
        self._touch(slot, now)
        return entry

    def track_http(
        self, key: KeyInput, now: int, *, response_status: int | None = None
    ) -> Entry | None:
        """`http-request track-scN` (or `http-response track-scN` with the response's
        status): as `track`, and the request being processed is counted at once
        since it went by before the rule (`http_action_track_sc`); on the response
        side a 4xx also counts as an error and a 5xx other than 501 and 505 as a
        failure."""
        entry = self.track(key, now)
        if entry is None:
            return None
        now, slot = self._now, entry.slot
        touched = self._inc(slot, "http_req_cnt", 1)
        touched |= self._rate(slot, "http_req_rate", 1, now)
        if response_status is not None and 400 <= response_status < 500:
            touched |= self._inc(slot, "http_err_cnt", 1)
            touched |= self._rate(slot, "http_err_rate", 1, now)
        if (
            response_status is not None
            and 500 <= response_status < 600
            and response_status not in (501, 505)
        ):
            touched |= self._inc(slot, "http_fail_cnt", 1)
            touched |= self._rate(slot, "http_fail_rate", 1, now)
        if touched:
            self._touch(slot, now)
        return entry

    def untrack(self, entry: Entry, now: int) -> None:
        """The tracking connection ends (`session_store_counters`): `conn_cur` - 1
        (not below 0), the reference dropped, and the entry removed at once if it
        has expired meanwhile and nobody else holds it."""
        now = self._tick(now)
        slot = self._slot(entry)
        ref = slot * self._w32 + _REF
        if not self._u32[ref]:
            raise ValueError("untrack of an entry that is not tracked")
        field = self._fields.get("conn_cur")
        if field is not None:
            at = slot * self._w32 + field.off
            if self._u32[at]:
                self._u32[at] -= 1
            self._touch(slot, now)
        self._u32[ref] -= 1
        if self._expire and self._u64[slot * self._w64 + _EXPIRE] <= now and not self._u32[ref]:
            self._kill(slot)

    # -- events ----------------------------------------------------------------------------

    def count_session(self, entry: Entry, now: int) -> None:
        """A tracked connection became a session (`session_count_new`): `sess_cnt`
        and `sess_rate`; HAProxy does not touch the entry for it."""
        now = self._tick(now)
        slot = self._slot(entry)
        self._inc(slot, "sess_cnt", 1)
        self._rate(slot, "sess_rate", 1, now)

    def count_http_request(self, entry: Entry, now: int) -> None:
        """An HTTP request (`stkctr_inc_http_req_ctr`): `http_req_cnt`, `http_req_rate`."""
        self._count(entry, now, "http_req_cnt", "http_req_rate", 1)

    def count_http_error(self, entry: Entry, now: int) -> None:
        """A request error (`stkctr_inc_http_err_ctr`): `http_err_cnt`, `http_err_rate`."""
        self._count(entry, now, "http_err_cnt", "http_err_rate", 1)

    def count_http_failure(self, entry: Entry, now: int) -> None:
        """A server failure (`stkctr_inc_http_fail_ctr`): `http_fail_cnt`, `http_fail_rate`."""
        self._count(entry, now, "http_fail_cnt", "http_fail_rate", 1)

    def add_bytes_in(self, entry: Entry, count: int, now: int) -> None:
        """Bytes from the client (`stkctr_inc_bytes_in_ctr`)."""
        self._count(entry, now, "bytes_in_cnt", "bytes_in_rate", count)

    def add_bytes_out(self, entry: Entry, count: int, now: int) -> None:
        """Bytes to the client (`stkctr_inc_bytes_out_ctr`)."""
        self._count(entry, now, "bytes_out_cnt", "bytes_out_rate", count)

    def _count(self, entry: Entry, now: int, counter: str, rate: str, inc: int) -> None:
        now = self._tick(now)
        slot = self._slot(entry)
        touched = self._inc(slot, counter, inc)
        touched |= self._rate(slot, rate, inc, now)
        if touched:  # HAProxy touches only when something is stored
            self._touch(slot, now)

    def update_conn_cnt(self, entry: Entry, now: int) -> int | None:
        """`src_updt_conn_cnt`: `conn_cnt` + 1, the entry touched; None when the table
        does not store `conn_cnt` (HAProxy 2.6 leaves `conn_rate` alone here)."""
        now = self._tick(now)
        slot = self._slot(entry)
        if not self._inc(slot, "conn_cnt", 1):
            return None
        self._touch(slot, now)
        return self._plain(slot, "conn_cnt")

    # -- general purpose counters and tags ---------------------------------------------------

    def inc_gpc0(self, entry: Entry, now: int) -> int:
        """`sc-inc-gpc0` and `sc_inc_gpc0`: `gpc0_rate` then `gpc0` (or the arrays'
        element 0) + 1; returns the new `gpc0`, else the rate's current count,
        else 0 (the fetch's value)."""
        return self._inc_gpc(entry, now, ("gpc0_rate", "gpc_rate", 0), ("gpc0", "gpc", 0))

    def inc_gpc1(self, entry: Entry, now: int) -> int:
        """`sc-inc-gpc1` / `sc_inc_gpc1`, as `inc_gpc0` for gpc1 (arrays' element 1)."""
        return self._inc_gpc(entry, now, ("gpc1_rate", "gpc_rate", 1), ("gpc1", "gpc", 1))

    def inc_gpc(self, entry: Entry, idx: int, now: int) -> int:
        """`sc-inc-gpc(idx,N)` / `sc_inc_gpc`: the arrays only."""
        return self._inc_gpc(entry, now, (None, "gpc_rate", idx), (None, "gpc", idx))

    def clr_gpc0(self, entry: Entry, now: int) -> int | None:
        """`sc_clr_gpc0`: `gpc0` (or `gpc[0]`) back to 0; returns its former value,
        None when neither is stored (the fetch then has no value)."""
        return self._clr_gpc(entry, now, "gpc0", 0)

    def clr_gpc1(self, entry: Entry, now: int) -> int | None:
        return self._clr_gpc(entry, now, "gpc1", 1)

    def clr_gpc(self, entry: Entry, idx: int, now: int) -> int | None:
        return self._clr_gpc(entry, now, None, idx)

    def set_gpt0(self, entry: Entry, value: int, now: int) -> bool:
        """`sc-set-gpt0`: `gpt0` (or `gpt[0]`) = value as a 32-bit unsigned integer;
        False when neither is stored (nothing happens)."""
        return self._set_gpt(entry, now, "gpt0", 0, value)

    def set_gpt(self, entry: Entry, idx: int, value: int, now: int) -> bool:
        """`sc-set-gpt(idx,N)`: the array only."""
        return self._set_gpt(entry, now, None, idx, value)

    def _element(self, legacy: str | None, array_name: str, idx: int) -> tuple[_Field, int] | None:
        """The stored legacy type, else the array's element `idx` if stored."""
        if legacy is not None and legacy in self._fields:
            return self._fields[legacy], 0
        field = self._fields.get(array_name)
        if field is None or not 0 <= idx < field.stored.count:
            return None
        return field, idx

    def _inc_gpc(
        self,
        entry: Entry,
        now: int,
        rate: tuple[str | None, str, int],
        counter: tuple[str | None, str, int],
    ) -> int:
        now = self._tick(now)
        slot = self._slot(entry)
        rate_at, counter_at = self._element(*rate), self._element(*counter)
        value = 0
        if rate_at is not None:
            field, idx = rate_at
            value = self._rate_update(slot, field, idx, 1, now)
        if counter_at is not None:
            field, idx = counter_at
            at = slot * self._w32 + field.off + idx
            self._u32[at] = value = (self._u32[at] + 1) & _U32
        if rate_at is not None or counter_at is not None:
            self._touch(slot, now)
        return value

    def _clr_gpc(self, entry: Entry, now: int, legacy: str | None, idx: int) -> int | None:
        now = self._tick(now)
        slot = self._slot(entry)
        found = self._element(legacy, "gpc", idx)
        if found is None:
            return None
        field, idx = found
        at = slot * self._w32 + field.off + idx
        value = self._u32[at]
        self._u32[at] = 0
        self._touch(slot, now)
        return value

    def _set_gpt(self, entry: Entry, now: int, legacy: str | None, idx: int, value: int) -> bool:
        now = self._tick(now)
        slot = self._slot(entry)
        found = self._element(legacy, "gpt", idx)
        if found is None:
            return False
        field, idx = found
        self._u32[slot * self._w32 + field.off + idx] = value & _U32
        self._touch(slot, now)
        return True

    def store_server(self, entry: Entry, server_id: int, server_key: str | None, now: int) -> None:
        """A `stick store-*`/`stick on` rule records the server (stream.c): its id
        and, when `server_key` is stored, its name or address; the entry is touched."""
        now = self._tick(now)
        slot = self._slot(entry)
        self._set_plain(slot, "server_id", server_id)
        if server_key is not None and self._strings is not None:
            self._strings[slot] = server_key
        self._touch(slot, now)

    def server_key(self, entry: Entry) -> str | None:
        """The stored server name or address (None: not stored or not set)."""
        slot = self._slot(entry)
        return None if self._strings is None else self._strings[slot]

    # -- reading ---------------------------------------------------------------------------

    def read(self, entry: Entry, what: str, now: int, idx: int = 0) -> int | None:
        """What `sc0_<what>` returns for a tracked entry: None when the type is not
        stored, which HAProxy reports as "no value" (an ACL on it does not match).

        `what` is the fetch's name after `sc0_`/`src_` (`http_req_rate`,
        `get_gpc0`, `kbytes_in`, `trackers`, ...) or a `table_*` converter's after
        `table_` (`gpc0`, `server_id`, `expire`, `idle`, ...); `idx` is the array
        index of `get_gpc`, `get_gpt` and `gpc_rate`."""
        now = self._tick(now)
        return self._read(self._slot(entry), what, now, idx)

    def fetch(self, key: KeyInput, what: str, now: int, idx: int = 0) -> int | None:
        """What `src_<what>` or `table_<what>(table)` returns for `key`: as `read`,
        but a key that is not in the table reads 0, whatever is stored (for
        `expire` and `idle`, it has no value; nor has a key that does not convert
        to the table's type).  Nothing is created or touched.  One difference
        with HAProxy 2.6: its `table_trackers` converter counts its own lookup
        (one more than `src_trackers`); `trackers` here is `src_trackers`."""
        if what not in READS:
            raise ValueError(_unknown_read(what))
        self._advance(now)
        stored = self._convert(key)
        if stored is None:
            return None
        slot = self._index.get(stored)
        if slot is None:
            return None if what in ("expire", "idle") else 0
        return self._read(slot, what, self._now, idx)

    def _read(self, slot: int, what: str, now: int, idx: int) -> int | None:
        if what in _RATES:
            field = self._fields.get(what)
            return None if field is None else self._rate_read(slot, field, 0, now)
        if what in _PLAIN:
            return self._plain(slot, what)
        if what in _LEGACY or what in _ARRAYS:
            if what in _LEGACY:
                found = self._element(*_LEGACY[what])
            else:
                found = self._element(None, _ARRAYS[what], idx)
            if found is None:
                return None
            field, idx = found
            if field.std == "frqp":
                return self._rate_read(slot, field, idx, now)
            return self._u32[slot * self._w32 + field.off + idx]
        if what in _KBYTES:
            value = self._plain(slot, _KBYTES[what])
            return None if value is None else value >> 10
        if what == "trackers":
            return self._u32[slot * self._w32 + _REF]
        if what in ("expire", "idle"):
            remain = _tick_remain(now, self._u64[slot * self._w64 + _EXPIRE])
            # table_idle: HAProxy's tick_remain(remain, expire), 0 once reached.
            return remain if what == "expire" else _tick_remain(remain, self._expire)
        raise ValueError(_unknown_read(what))

    def _plain(self, slot: int, name: str) -> int | None:
        field = self._fields.get(name)
        if field is None:
            return None
        if field.std == "ull":
            return self._u64[slot * self._w64 + field.off]
        value = self._u32[slot * self._w32 + field.off]
        if field.std == "sint" and value >= 2**31:
            value -= 2**32
        return value

    def values(self, entry: Entry, now: int) -> list[tuple[StoredType, int, int | str | None]]:
        """Every stored value in `show table` order: (type, array index, value),
        rates as read now and the server key as its text (None: not set)."""
        now = self._tick(now)
        slot = self._slot(entry)
        out: list[tuple[StoredType, int, int | str | None]] = []
        for name, field in self._fields.items():
            for i in range(field.stored.count):
                value: int | str | None
                if field.std == "frqp":
                    value = self._rate_read(slot, field, i, now)
                elif field.std == "dict":
                    value = None if self._strings is None else self._strings[slot]
                elif field.std == "ull":
                    value = self._u64[slot * self._w64 + field.off + i]
                elif name == "server_id":
                    value = self._plain(slot, name)
                else:
                    value = self._u32[slot * self._w32 + field.off + i]
                out.append((field.stored, i, value))
        return out

    def data_value(self, entry: Entry, name: str, now: int) -> int:
        """A stored type's value as the CLI's `data.<type>` filters compare it: an
        array's first element, a rate as read now, a 64-bit count as signed, the
        server key as 0."""
        now = self._tick(now)
        slot = self._slot(entry)
        field = self._fields[name]
        if field.std == "frqp":
            return self._rate_read(slot, field, 0, now)
        if field.std == "dict":
            return 0
        if field.std == "ull":
            value = self._u64[slot * self._w64 + field.off]
            return value - 2**64 if value >= 2**63 else value
        value = self._u32[slot * self._w32 + field.off]
        if field.std == "sint" and value >= 2**31:
            value -= 2**32
        return value

    def set_data(self, entry: Entry, name: str, value: int, now: int) -> None:
        """The CLI's `set table … data.<type> <value>`: the value cast to the type
        (an array's first element; a rate gets `value` events in a period starting
        now and no history; the server key is left alone, as HAProxy does).  The
        caller touches the entry once all values are set."""
        now = self._tick(now)
        slot = self._slot(entry)
        field = self._fields[name]
        if field.std == "frqp":
            b32 = slot * self._w32 + field.off
            self._u64[slot * self._w64 + field.tick] = now & ~1
            self._u32[b32] = value & _U32
            self._u32[b32 + 1] = 0
        elif field.std == "ull":
            self._u64[slot * self._w64 + field.off] = value & _U64
        elif field.std != "dict":
            self._u32[slot * self._w32 + field.off] = value & _U32

    # -- sharing with peers (balancekit.peers) -------------------------------------------------

    def share(self) -> UpdateLog:
        """Number local changes from now on, for peers to fetch (`stick-table … peers`)."""
        if self._updates is None:
            self._updates = UpdateLog()
        return self._updates

    @property
    def updates(self) -> UpdateLog | None:
        """The log of local changes, None for a table no peers section shares."""
        return self._updates

    def slots(self) -> list[int]:
        """Every live entry's slot (what a full resync teaches)."""
        return list(self._index.values())

    def key_at(self, slot: int) -> Key | None:
        """The key in `slot`, None once it is gone."""
        return self._keys[slot] if slot < len(self._keys) else None

    def wire_values(
        self, slot: int, now: int
    ) -> tuple[int, list[tuple[StoredType, list[WireValue]]]]:
        """What a peers update carries for `slot`: the time left before expiry, and
        each stored type's elements (a rate as its age in ms, current and previous
        counts; the server key as its text)."""
        now = self._tick(now)
        out: list[tuple[StoredType, list[WireValue]]] = []
        for name, field in self._fields.items():
            elements: list[WireValue] = []
            for i in range(field.stored.count):
                if field.std == "frqp":
                    b32 = slot * self._w32 + field.off + 2 * i
                    tick = self._u64[slot * self._w64 + field.tick + i]
                    elements.append(((now - tick) & _U32, self._u32[b32], self._u32[b32 + 1]))
                elif field.std == "dict":
                    elements.append(None if self._strings is None else self._strings[slot])
                elif field.std == "ull":
                    elements.append(self._u64[slot * self._w64 + field.off + i])
                elif name == "server_id":
                    elements.append(self._plain(slot, name))
                else:
                    elements.append(self._u32[slot * self._w32 + field.off + i])
            out.append((field.stored, elements))
        return _tick_remain(now, self._u64[slot * self._w64 + _EXPIRE]), out

    def apply_remote(
        self, key: Key, values: dict[str, list[WireValue]], expire_ms: int | None, now: int
    ) -> Entry | None:
        """A peer's update (`peer_treat_updatemsg`): the entry created if needed, the
        types this table stores set (never `conn_cur`, which stays local), and its
        expiry set to `expire_ms` from now (the table's own expiry when None).  Not
        a local change: nothing is logged.  None when the table is full."""
        now = self._tick(now)
        slot = self._index.get(key)
        if slot is None:
            slot = self._create(key, now)
            if slot is None:
                return None
        for name, elements in values.items():
            field = self._fields.get(name)
            if field is None or name == "conn_cur":
                continue
            for i, value in enumerate(elements[: field.stored.count]):
                if isinstance(value, tuple):
                    age, curr, prev = value
                    b32 = slot * self._w32 + field.off + 2 * i
                    self._u64[slot * self._w64 + field.tick + i] = max(now - age, 0) & ~1
                    self._u32[b32], self._u32[b32 + 1] = curr & _U32, prev & _U32
                elif isinstance(value, str) or value is None:
                    if field.std == "dict" and self._strings is not None and value is not None:
                        self._strings[slot] = value
                elif field.std == "ull":
                    self._u64[slot * self._w64 + field.off + i] = value & _U64
                elif field.std != "dict" and field.std != "frqp":
                    self._u32[slot * self._w32 + field.off + i] = value & _U32
        remain = self._expire if expire_ms is None else expire_ms
        self._set_expire(slot, now + remain or 1)
        return Entry(slot, self._u64[slot * self._w64 + _SERIAL])

    # -- internals -------------------------------------------------------------------------

    def _tick(self, now: int) -> int:
        """`now`, never earlier than a date already seen, once the expiry task
        has run if it was due."""
        self._advance(now)
        return self._now

    def _advance(self, now: int) -> int:
        if now > self._now:
            self._now = now
        return self._sweep_if_due(self._now)

    def _sweep_if_due(self, now: int) -> int:
        if self._exp_next is not None and now >= self._exp_next:
            return self._sweep(now)
        return 0

    def _slot(self, entry: Entry) -> int:
        slot = entry.slot
        if (
            slot >= len(self._keys)
            or self._keys[slot] is None
            or self._u64[slot * self._w64 + _SERIAL] != entry.serial
        ):
            raise LookupError(f"stick table {self.name}: this entry is no longer in the table")
        return slot

    def _tick_add(self, now: int) -> int:
        # Tick 0 means "never" to HAProxy: a date landing on it moves to 1.
        return now + self._expire or 1

    def _touch(self, slot: int, now: int) -> None:
        """`stktable_touch_local`: a local change, which a shared table logs."""
        self._set_expire(slot, self._tick_add(now))
        if self._updates is not None:
            self._updates.record(slot)

    def _set_expire(self, slot: int, expire: int) -> None:
        self._u64[slot * self._w64 + _EXPIRE] = expire
        if self._expire and (self._exp_next is None or expire < self._exp_next):
            self._exp_next = expire

    def _inc(self, slot: int, name: str, inc: int) -> bool:
        field = self._fields.get(name)
        if field is None:
            return False
        if field.std == "ull":
            at = slot * self._w64 + field.off
            self._u64[at] = (self._u64[at] + inc) & _U64
        else:
            at = slot * self._w32 + field.off
            self._u32[at] = (self._u32[at] + inc) & _U32
        return True

    def _set_plain(self, slot: int, name: str, value: int) -> None:
        field = self._fields.get(name)
        if field is not None:
            self._u32[slot * self._w32 + field.off] = value & _U32

    def _rate(self, slot: int, name: str, inc: int, now: int) -> bool:
        field = self._fields.get(name)
        if field is None:
            return False
        self._rate_update(slot, field, 0, inc, now)
        return True

    def _rate_update(self, slot: int, field: _Field, idx: int, inc: int, now: int) -> int:
        b64 = slot * self._w64 + field.tick + idx
        b32 = slot * self._w32 + field.off + 2 * idx
        u32 = self._u32
        tick, curr, prev = rotate(
            self._u64[b64], u32[b32], u32[b32 + 1], field.stored.period_ms, inc, now
        )
        self._u64[b64], u32[b32], u32[b32 + 1] = tick, curr, prev
        return curr

    def _rate_read(self, slot: int, field: _Field, idx: int, now: int) -> int:
        b32 = slot * self._w32 + field.off + 2 * idx
        period = field.stored.period_ms
        total = freq_ctr_total(
            self._u64[slot * self._w64 + field.tick + idx],
            self._u32[b32],
            self._u32[b32 + 1],
            period,
            -1,
            now,
        )
        return (total // period) & _U32

    def _create(self, key: Key, now: int) -> int | None:
        """`__stksess_new` + `__stktable_store`: purge first when full."""
        if self._current == self.size and (
            self.nopurge or not self._trash_oldest((self.size >> 8) + 1)
        ):
            return None
        if self._free:
            slot = self._free.pop()
            self._u32[slot * self._w32 : (slot + 1) * self._w32] = self._zero32
            self._u64[slot * self._w64 : (slot + 1) * self._w64] = self._zero64
        else:
            slot = len(self._keys)
            self._u32.extend(self._zero32)
            self._u64.extend(self._zero64)
            self._keys.append(None)
            if self._strings is not None:
                self._strings.append(None)
        seq = self._seq
        self._seq += 1
        expire = self._tick_add(now)
        base = slot * self._w64
        self._u64[base + _EXPIRE] = expire
        self._u64[base + _SERIAL] = seq
        self._keys[slot] = key
        self._index[key] = slot
        self._current += 1
        if len(self._heap) > 2 * self._current + 1024:
            self._compact()  # entries removed outside a sweep left their places
        self._queue(expire, seq, slot)
        if self._expire and (self._exp_next is None or expire < self._exp_next):
            self._exp_next = expire
        return slot

    def _kill(self, slot: int) -> None:
        key = self._keys[slot]
        assert key is not None
        del self._index[key]
        self._keys[slot] = None
        if self._strings is not None:
            self._strings[slot] = None
        self._free.append(slot)
        self._current -= 1
        if self._updates is not None:
            self._updates.forget(slot)
        # Its place in the expiry queue goes stale and is dropped when reached.

    # The expiry queue holds one integer per entry: (date, sequence, slot), so it
    # sorts by date, then by insertion as HAProxy's tree keeps equal dates.  An
    # element is current if its slot still holds the entry it was queued for
    # (that entry's serial is not newer than the element).

    def _queue(self, date: int, seq: int, slot: int) -> None:
        bits = self._slot_bits
        heapq.heappush(self._heap, (((date << _SEQ_BITS) | seq) << bits) | slot)

    def _current_element(self, element: int) -> tuple[int, int] | None:
        """(slot, date) of a current element, None for a stale one."""
        bits = self._slot_bits
        slot = element & self._slot_mask
        seq = (element >> bits) & _SEQ_MASK
        if self._keys[slot] is None or seq < self._u64[slot * self._w64 + _SERIAL]:
            return None
        return slot, element >> (bits + _SEQ_BITS)

    def _compact(self) -> None:
        self._heap = [e for e in self._heap if self._current_element(e) is not None]
        heapq.heapify(self._heap)

    def _requeue(self, slot: int, date: int) -> None:
        seq = self._seq
        self._seq += 1
        self._queue(date, seq, slot)

    def _trash_oldest(self, to_batch: int) -> int:
        """`__stktable_trash_oldest`: purge up to `to_batch` unreferenced entries
        from the oldest queued date; an entry touched since it was queued is queued
        again at its new date instead; gives up after `2 * to_batch` looked at."""
        heap = self._heap
        held: list[int] = []
        batched = 0
        max_search = 2 * to_batch
        while batched < to_batch and heap:
            found = self._current_element(heap[0])
            if found is None:
                heapq.heappop(heap)
                continue
            max_search -= 1
            if max_search < 0:
                break
            element = heapq.heappop(heap)
            slot, date = found
            if self._u32[slot * self._w32 + _REF]:
                held.append(element)  # referenced: stays where it is
                continue
            expire = self._u64[slot * self._w64 + _EXPIRE]
            if expire != date:
                self._requeue(slot, expire)
                continue
            self._kill(slot)
            batched += 1
        for element in held:
            heapq.heappush(heap, element)
        return batched

    def _sweep(self, now: int) -> int:
        """`process_table_expire`: from the oldest queued date up to `now`, remove
        the expired unreferenced entries and queue touched ones at their new date;
        the first date still ahead becomes the next expiry."""
        heap = self._heap
        held: list[int] = []
        removed = 0
        self._exp_next = None
        while heap:
            element = heap[0]
            found = self._current_element(element)
            if found is None:
                heapq.heappop(heap)
                continue
            slot, date = found
            if now < date:
                self._exp_next = date
                break
            heapq.heappop(heap)
            if self._u32[slot * self._w32 + _REF]:
                held.append(element)
                continue
            expire = self._u64[slot * self._w64 + _EXPIRE]
            if expire > now:
                self._requeue(slot, expire)
                continue
            self._kill(slot)
            removed += 1
        for element in held:
            heapq.heappush(heap, element)
        return removed

    def __iter__(self) -> Iterator[Key]:
        """The keys, in no particular order (no time passes)."""
        return iter(list(self._index))


def _tick_remain(now: int, exp: int) -> int:
    """ticks.h tick_remain: what is left until `exp`, 0 once reached; a date of
    0 (HAProxy's "never") is never reached."""
    if exp and exp - now <= 0:
        return 0
    return exp - now


def _unknown_read(what: str) -> str:
    return f"unknown stick table fetch '{what}' (expected one of: {', '.join(sorted(READS))})"
