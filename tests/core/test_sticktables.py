"""balancekit.sticktables without sockets: HAProxy 2.6's stick tables, pinned on a
reading of its C (freq_ctr.h/freq_ctr.c, stick_table.c, stream.h, session.c,
sample.c, tools.c).  Each test names the function it holds us to; the expected
numbers were worked out by hand from that function, not printed by our code."""

from __future__ import annotations

import bisect
import re
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from balancekit.sticktables import (
    DATA_TYPES,
    FreqCtr,
    KeyType,
    StickTable,
    format_key,
    freq_ctr_remain_period,
    next_event_delay_period,
    normalize_key,
    parse_key_type,
    parse_store,
    read_freq_ctr_period,
    run_table_command,
    update_freq_ctr_period,
)
from balancekit.sticktables.dump import _inetaddr_host, _strl2llrc, entry_id
from balancekit.sticktables.keys import inet_ntop6

IP = IPv4Address
PERIOD = 10_000


def ctr(tick: int, curr: int, prev: int) -> FreqCtr:
    return FreqCtr(tick, curr, prev)


def state(c: FreqCtr) -> tuple[int, int, int]:
    return c.curr_tick, c.curr_ctr, c.prev_ctr


def show(table: StickTable, now: int, *args: str, level: str = "admin") -> str:
    return run_table_command({table.name: table}, ["show", "table", *args], now, level=level)


def cli(tables: dict[str, StickTable], line: str, now: int, level: str = "admin") -> str:
    return run_table_command(tables, line.split(), now, level=level)


def lines(text: str) -> list[str]:
    """Entry lines with the made-up address taken off."""
    return [re.sub(r"^0x[0-9a-f]+: ", "", line) for line in text.splitlines()]


# -- freq_ctr ---------------------------------------------------------------------------


def test_update_freq_ctr_period_first_event_starts_the_period_at_now() -> None:
    """A zeroed counter is far behind: rotated twice over, no history, tick = now & ~1."""
    c = FreqCtr()
    assert update_freq_ctr_period(c, PERIOD, 1, 100_001) == 1
    assert state(c) == (100_000, 1, 0)


def test_update_freq_ctr_period_adds_inside_the_period() -> None:
    c = ctr(100_000, 1, 0)
    assert update_freq_ctr_period(c, PERIOD, 1, 100_500) == 2
    assert update_freq_ctr_period(c, PERIOD, 1, 109_999) == 3
    assert state(c) == (100_000, 3, 0)


def test_update_freq_ctr_period_rotates_one_period_keeping_history() -> None:
    c = ctr(100_000, 3, 0)
    assert update_freq_ctr_period(c, PERIOD, 1, 112_000) == 1  # returns inc on rotation
    assert state(c) == (110_000, 1, 3)


def test_update_freq_ctr_period_more_than_two_periods_late_drops_history() -> None:
    c = ctr(110_000, 1, 3)
    update_freq_ctr_period(c, PERIOD, 1, 135_000)
    assert state(c) == (135_000, 1, 0)


def test_update_freq_ctr_period_at_exactly_two_periods_drops_history() -> None:
    """`now - curr_tick >= period` after one rotation: the boundary drops it."""
    c = ctr(100_000, 3, 0)
    update_freq_ctr_period(c, PERIOD, 1, 119_999)
    assert state(c) == (110_000, 1, 3)
    c = ctr(100_000, 3, 0)
    update_freq_ctr_period(c, PERIOD, 1, 120_000)
    assert state(c) == (120_000, 1, 0)


def test_update_freq_ctr_period_keeps_the_tick_even_with_an_odd_period() -> None:
    """curr_tick's low bit is HAProxy's lock: 5000 + 1001 = 6001 is stored as 6000."""
    c = FreqCtr()
    update_freq_ctr_period(c, 1001, 1, 5000)
    assert state(c) == (5000, 1, 0)
    update_freq_ctr_period(c, 1001, 1, 6001)
    assert state(c) == (6000, 1, 1)


def test_update_freq_ctr_period_early_in_time_counts_from_tick_zero() -> None:
    c = FreqCtr()
    update_freq_ctr_period(c, 1000, 1, 50)
    assert state(c) == (0, 1, 0)
    assert read_freq_ctr_period(c, 1000, 500) == 1


def test_update_freq_ctr_period_count_wraps_at_32_bits() -> None:
    c = ctr(100_000, 0xFFFFFFFF, 0)
    assert update_freq_ctr_period(c, PERIOD, 2, 100_001) == 1


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (105_000, 3),  # remain 5000: 0*5000 + 3*10000 = 30000
        (109_999, 3),
        (112_000, 2),  # past period: 3 * 8000 = 24000
        (115_001, 1),  # 3 * 4999 = 14997
        (120_000, 0),  # remain 0
        (120_001, 0),  # out of reach
    ],
)
def test_read_freq_ctr_period_weights_the_previous_period(now: int, expected: int) -> None:
    """freq_ctr_total: prev * remain + curr * period, divided by the period."""
    assert read_freq_ctr_period(ctr(100_000, 3, 0), PERIOD, now) == expected


def test_read_freq_ctr_period_blends_both_periods() -> None:
    c = ctr(110_000, 1, 3)
    assert read_freq_ctr_period(c, PERIOD, 112_000) == 3  # 3*8000 + 1*10000 = 34000
    assert read_freq_ctr_period(c, PERIOD, 119_000) == 1  # 3*1000 + 10000 = 13000


def test_read_freq_ctr_period_flapping_correction_holds_a_single_event() -> None:
    """With no event yet in this period and at most one before, the read reports
    that event for the whole period (1), where the weighting would say 0."""
    c = ctr(100_000, 1, 0)
    assert read_freq_ctr_period(c, PERIOD, 115_000) == 1
    assert read_freq_ctr_period(c, PERIOD, 119_999) == 1
    assert read_freq_ctr_period(ctr(100_000, 2, 0), PERIOD, 115_000) == 1  # 2*5000
    # remain is 0 but still >= 0: the lone event is still reported...
    assert read_freq_ctr_period(c, PERIOD, 120_000) == 1
    # ... and one millisecond later it is out of reach.
    assert read_freq_ctr_period(c, PERIOD, 120_001) == 0


def test_freq_ctr_remain_period_has_no_flapping_correction() -> None:
    c = ctr(100_000, 1, 0)
    assert freq_ctr_remain_period(c, PERIOD, 1, 0, 115_000) == 1  # 5000 / 10000 = 0 used
    assert freq_ctr_remain_period(ctr(100_000, 3, 0), PERIOD, 5, 0, 105_000) == 2
    assert freq_ctr_remain_period(ctr(100_000, 3, 0), PERIOD, 2, 0, 105_000) == 0
    assert freq_ctr_remain_period(ctr(100_000, 3, 0), PERIOD, 5, 2, 105_000) == 0


def test_next_event_delay_period() -> None:
    c = ctr(100_000, 3, 0)
    assert next_event_delay_period(c, PERIOD, 4, 0, 105_000) == 0
    assert next_event_delay_period(c, PERIOD, 2, 0, 105_000) == 5000  # (30000-20000)/2
    assert next_event_delay_period(c, PERIOD, 3, 0, 105_000) == 1  # at the limit: 1 ms
    assert next_event_delay_period(c, PERIOD, 0, 0, 105_000) == 30000


@settings(max_examples=300, deadline=None)
@given(
    period=st.integers(2, 5000),
    gaps=st.lists(st.integers(0, 4000), min_size=1, max_size=60),
    incs=st.lists(st.integers(1, 5), min_size=60, max_size=60),
    read_after=st.integers(0, 12000),
)
def test_rate_never_exceeds_events_of_the_last_two_periods(
    period: int, gaps: list[int], incs: list[int], read_after: int
) -> None:
    c = FreqCtr()
    now = 1_000_000
    events: list[tuple[int, int]] = []
    for gap, inc in zip(gaps, incs, strict=False):
        now += gap
        update_freq_ctr_period(c, period, inc, now)
        events.append((now, inc))
    now += read_after
    recent = sum(inc for at, inc in events if at >= now - 2 * period)
    assert read_freq_ctr_period(c, period, now) <= recent
    if read_after == 0:
        # Read as the last event lands: at least what the current period counted.
        assert read_freq_ctr_period(c, period, now) >= c.curr_ctr >= incs[len(gaps) - 1]


# -- store lists and data types ----------------------------------------------------------


def test_parse_store_orders_types_as_show_table_does() -> None:
    spec = parse_store("http_req_rate(10s),conn_cur,gpc0")
    assert [item.name for item in spec] == ["gpc0", "conn_cur", "http_req_rate"]
    assert spec.get("http_req_rate").period_ms == 10_000  # type: ignore[union-attr]
    assert str(spec) == "gpc0,conn_cur,http_req_rate(10000)"
    assert "conn_cur" in spec and "conn_cnt" not in spec


def test_parse_store_arrays_and_repeated_store_words() -> None:
    spec = parse_store(["gpc(3)", "gpc_rate(2,1m),gpt(1)"])
    assert [(i.name, i.count, i.period_ms) for i in spec] == [
        ("gpt", 1, 0),
        ("gpc", 3, 0),
        ("gpc_rate", 2, 60_000),
    ]


def test_every_haproxy_data_type_is_known() -> None:
    names = "server_id gpt0 gpc0 gpc0_rate conn_cnt conn_rate conn_cur sess_cnt sess_rate"
    names += " http_req_cnt http_req_rate http_err_cnt http_err_rate bytes_in_cnt"
    names += " bytes_in_rate bytes_out_cnt bytes_out_rate gpc1 gpc1_rate server_key"
    names += " http_fail_cnt http_fail_rate gpt gpc gpc_rate"
    assert list(DATA_TYPES) == names.split()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("foo", "unknown store option 'foo'."),
        ("gpc0,bogus_rate(1s)", "unknown store option 'bogus_rate'."),
        ("conn_rate", "missing argument to store option 'conn_rate'."),
        ("gpc0(3)", "unexpected argument to store option 'gpc0'."),
        ("gpc0()", "unexpected argument to store option 'gpc0'."),
        ("gpc(0)", "array size is out of allowed range (1-100) for store option 'gpc'."),
        ("gpc(101)", "array size is out of allowed range (1-100) for store option 'gpc'."),
        ("gpc(x)", "array size is out of allowed range (1-100) for store option 'gpc'."),
        ("gpc", "missing argument to store option 'gpc'."),
        ("gpc_rate(2)", "missing argument to store option 'gpc_rate'."),
        ("gpc(2,1s)", "unexpected argument to store option 'gpc'."),
        ("conn_rate(10s", "missing closing parenthesis after store option 'conn_rate'."),
        ("gpt(2),gpt0", "simultaneous usage of 'gpt' and 'gpt0' in a same table"),
        ("gpc1,gpc(2)", "simultaneous usage of 'gpc' and 'gpc[0/1]' in a same table"),
        ("gpc0_rate(1s),gpc_rate(1,1s)", "simultaneous usage of 'gpc_rate' and"),
        ("conn_rate(10x)", "error when processing store option 'conn_rate'"),
        ("conn_rate()", "error when processing store option 'conn_rate'"),
        ("conn_rate(0)", "error when processing store option 'conn_rate'"),
        ("conn_rate(25d)", "error when processing store option 'conn_rate'"),
    ],
)
def test_parse_store_errors_are_haproxys(text: str, message: str) -> None:
    """parse_stick_table / stktable_alloc_data_type messages."""
    with pytest.raises(ValueError) as info:
        parse_store(text)
    assert str(info.value).startswith(message)


def test_parse_store_duplicate_is_a_warning() -> None:
    warnings: list[str] = []
    spec = parse_store("gpc0,conn_cur,gpc0(5)", warnings=warnings)
    assert [i.name for i in spec] == ["gpc0", "conn_cur"]
    assert warnings == ["store option 'gpc0' already enabled, ignored."]
    assert spec.warnings == tuple(warnings)


def test_parse_store_periods_use_haproxy_time_units() -> None:
    """parse_time_err with TIME_UNIT_MS: bare numbers are ms, sub-ms rounds up."""
    spec = parse_store("conn_rate(1500us),sess_rate(2m),http_req_rate(250),bytes_in_rate(1h)")
    periods = {i.name: i.period_ms for i in spec}
    assert periods == {
        "conn_rate": 2,
        "sess_rate": 120_000,
        "http_req_rate": 250,
        "bytes_in_rate": 3_600_000,
    }


def test_parse_store_second_argument_of_a_plain_rate_is_ignored() -> None:
    """stktable_alloc_data_type only shifts `sa2` into place for arrays."""
    assert parse_store("conn_rate(10s,5)").get("conn_rate").period_ms == 10_000  # type: ignore[union-attr]


def test_parse_store_unit_with_junk_warns_like_haproxy_when_warnings_are_kept() -> None:
    warnings: list[str] = []
    assert parse_store("conn_rate(10sec)", warnings=warnings).get("conn_rate").period_ms == 10_000  # type: ignore[union-attr]
    assert len(warnings) == 1 and "10sec" in warnings[0]
    with pytest.raises(ValueError, match="conn_rate"):
        parse_store("conn_rate(10sec)")


def test_parse_store_server_name_is_the_old_name_of_server_key() -> None:
    assert [i.name for i in parse_store("server_name")] == ["server_key"]


# -- keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "kind", "size"),
    [
        ("ip", "ip", 4),
        ("ipv6", "ipv6", 16),
        ("integer", "integer", 4),
        ("string", "string", 32),
        ("string len 16", "string", 17),
        ("binary", "binary", 32),
        ("binary len 8", "binary", 8),
        ("string len 5x", "string", 6),
    ],
)
def test_parse_key_type(words: str, kind: str, size: int) -> None:
    """stktable_parse_type: a string's size counts its NUL only when `len` is given."""
    assert parse_key_type(words) == KeyType(kind, size)  # type: ignore[arg-type]


def test_string_keys_keep_one_byte_less_than_the_size() -> None:
    assert parse_key_type("string").max_len == 31
    assert parse_key_type("string len 16").max_len == 16
    assert parse_key_type("binary len 8").max_len == 8


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ("foo", "unknown type 'foo'."),
        ("string len 0", "unknown type '0'."),
        ("string len", "unknown type ''."),
        ("ip len 4", "unknown argument 'len'."),
    ],
)
def test_parse_key_type_errors(words: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_key_type(words)


IPT = KeyType("ip", 4)
IP6T = KeyType("ipv6", 16)
INTT = KeyType("integer", 4)
STRT = parse_key_type("string")
BINT = parse_key_type("binary len 8")


@pytest.mark.parametrize(
    ("key_type", "value", "stored"),
    [
        (IPT, IP("192.0.2.7"), 0xC0000207),
        (IPT, IPv6Address("::ffff:192.0.2.7"), 0xC0000207),  # c_ipv62ip: v4-mapped only
        (IPT, 0x1_0000_0001, 1),  # c_int2ip: the low 32 bits
        (IPT, -1, 0xFFFFFFFF),
        (IPT, "10.0.0.1", 0x0A000001),
        (IPT, "10.0.0.1:8080", 0x0A000001),  # buf2ip stops at the first other char
        (IPT, "010.000.000.001", 0x0A000001),
        (IP6T, IP("1.2.3.4"), 0xFFFF01020304),  # c_ip2ipv6: mapped
        (IP6T, 5, 0xFFFF00000005),  # c_int2ipv6
        (IP6T, "2001:db8::1", int(IPv6Address("2001:db8::1"))),
        (INTT, IP("0.0.1.0"), 256),  # c_ip2int
        (INTT, 2**32 + 7, 7),
        (INTT, -1, 0xFFFFFFFF),
        (INTT, "42abc", 42),  # c_str2int: read_int64 stops at the first non-digit
        (INTT, "abc", 0),
        (INTT, "-2", 0xFFFFFFFE),
        (INTT, "99999999999999999999", 0xFFFFFFFF),  # saturates at LLONG_MAX
        (INTT, True, 1),
        (STRT, "x" * 40, b"x" * 31),
        (STRT, b"ab\0cd", b"ab"),  # c_bin2str: a NUL ends the string
        (STRT, 42, b"42"),
        (STRT, IP("1.2.3.4"), b"1.2.3.4"),
        (STRT, IPv6Address("::ffff:1.2.3.4"), b"::ffff:1.2.3.4"),
        (STRT, "é", "é".encode()),
        (BINT, b"ab", b"ab\0\0\0\0\0\0"),  # smp_to_stkey pads with zeros
        (BINT, b"0123456789", b"01234567"),
        (BINT, 1, b"\0\0\0\0\0\0\0\1"),  # c_int2bin: 64-bit big-endian
        (BINT, IP("1.2.3.4"), b"\1\2\3\4\0\0\0\0"),
        (BINT, "ab", b"ab\0\0\0\0\0\0"),
    ],
)
def test_normalize_key_follows_sample_casts(
    key_type: KeyType, value: object, stored: object
) -> None:
    assert normalize_key(key_type, value) == stored  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("key_type", "value"),
    [
        (IPT, IPv6Address("2001:db8::1")),
        (IPT, "::ffff:1.2.3.4"),  # text: c_str2ip only reads dotted quads
        (IPT, "1.2.3"),
        (IPT, "1.2.3.4.5"),
        (IPT, "256.1.1.1"),
        (IPT, "1..2.3"),
        (IPT, b"\1\2\3\4"),
        (IPT, True),
        (IP6T, "1.2.3.4"),
        (IP6T, "fe80::1%eth0"),
        (IP6T, b"x"),
        (INTT, IPv6Address("::1")),
        (INTT, ""),
        (INTT, b"\0\0\0\1"),
        (INTT, 2**64),
    ],
)
def test_normalize_key_refuses_what_haproxy_cannot_cast(key_type: KeyType, value: object) -> None:
    with pytest.raises(ValueError):
        normalize_key(key_type, value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("address", "text"),
    [
        ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
        ("::1.2.3.4", "::1.2.3.4"),
        ("::1", "::1"),
        ("::", "::"),
        ("::ffff:0.0.0.0", "::ffff:0.0.0.0"),
        ("1::", "1::"),
        ("2001:db8::1", "2001:db8::1"),
        ("1:0:0:1:0:0:1:1", "1::1:0:0:1:1"),  # equal runs: the first
        ("1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"),  # single zeros stay
        ("0:0:1::", "0:0:1::"),
    ],
)
def test_inet_ntop6_is_glibcs(address: str, text: str) -> None:
    assert inet_ntop6(int(IPv6Address(address))) == text


@given(st.integers(1 << 80, 2**128 - 1))
def test_inet_ntop6_matches_python_outside_the_embedded_ipv4_forms(value: int) -> None:
    assert inet_ntop6(value) == str(IPv6Address(value))


def test_format_key_per_type() -> None:
    """table_dump_entry_to_buffer: inet_ntop, %u, dump_text, dump_binary."""
    assert format_key(IPT, 0x7F000001) == "127.0.0.1"
    assert format_key(INTT, 0xFFFFFFFF) == "4294967295"
    assert format_key(STRT, b"a b=c\\\t\x01\xc3") == "a\\ b\\=c\\\\\\t\\x01\\xC3"
    assert format_key(BINT, b"\x00\xab\x10\0\0\0\0\0") == "00AB100000000000"


# -- the table -------------------------------------------------------------------------------


def table(store: str = "", size: int = 100, expire: int | None = 1000, **kw: bool) -> StickTable:
    return StickTable("t", "ip", size, expire, store=store, **kw)


def test_get_or_create_sets_expire_and_lookup_finds_it() -> None:
    """__stksess_init: expire = now + table expire; lookups do not touch."""
    t = table()
    e = t.get_or_create(IP("10.0.0.1"), 5000)
    assert e is not None and t.expiry(e) == 6000 and t.used == 1 and t.available == 99
    assert t.lookup("10.0.0.1", 5500) == e
    assert t.expiry(e) == 6000
    assert t.lookup("10.0.0.2", 5500) is None


def test_entry_expires_when_its_date_is_reached() -> None:
    """process_table_expire removes an entry once tick_is_expired (expire <= now)."""
    t = table()
    t.get_or_create(IP("10.0.0.1"), 5000)
    assert t.lookup(IP("10.0.0.1"), 5999) is not None
    assert t.next_expiry == 6000
    assert t.lookup(IP("10.0.0.1"), 6000) is None
    assert t.used == 0 and t.next_expiry is None


def test_touch_moves_the_expiry_and_the_sweep_requeues() -> None:
    """stktable_touch_local: expire = now + expire; the queued date is corrected
    when the sweep reaches it, not before."""
    t = table()
    e = t.get_or_create(IP("10.0.0.1"), 5000)
    assert e is not None
    t.touch(e, 5400)
    assert t.expiry(e) == 6400 and t.next_expiry == 6000
    assert t.expire(6000) == 0  # requeued, not removed
    assert t.next_expiry == 6400
    assert t.expire(6400) == 1 and t.used == 0


def test_time_never_goes_backwards() -> None:
    t = table()
    e = t.get_or_create(IP("10.0.0.1"), 5000)
    assert e is not None
    t.touch(e, 4000)  # counts as 5000
    assert t.expiry(e) == 6000


def test_table_without_expire_stamps_touches_and_never_expires() -> None:
    t = table(expire=None)
    e = t.get_or_create(IP("10.0.0.1"), 5000)
    assert e is not None and t.expiry(e) == 5000 and t.next_expiry is None
    assert t.lookup(IP("10.0.0.1"), 10**9) is not None
    assert t.read(e, "expire", 10**9) == 0


def test_tick_zero_is_never_an_expiry_date() -> None:
    """tick_add: a date of 0 means "never" to HAProxy, so it becomes 1."""
    t = table(expire=None)
    e = t.get_or_create(IP("10.0.0.1"), 0)
    assert e is not None and t.expiry(e) == 1


def test_track_counts_the_connection() -> None:
    """stream_track_stkctr -> stream_start_counters: conn_cur, conn_cnt, conn_rate."""
    t = table("conn_cnt,conn_cur,conn_rate(10s)")
    e = t.track(IP("10.0.0.1"), 100_000)
    assert e is not None
    t.track(IP("10.0.0.1"), 100_010)
    assert t.ref_count(e) == 2
    assert t.read(e, "conn_cnt", 100_020) == 2
    assert t.read(e, "conn_cur", 100_020) == 2
    assert t.read(e, "conn_rate", 100_020) == 2
    assert t.expiry(e) == 101_010
    t.untrack(e, 100_030)
    assert t.read(e, "conn_cur", 100_030) == 1 and t.ref_count(e) == 1
    assert t.read(e, "conn_cnt", 100_030) == 2


def test_untrack_never_takes_conn_cur_below_zero() -> None:
    """session_store_counters decrements only a positive conn_cur."""
    t = table("conn_cur")
    e = t.track(IP("10.0.0.1"), 1)
    assert e is not None
    t.set_data(e, "conn_cur", 0, 1)
    t.untrack(e, 2)
    assert t.read(e, "conn_cur", 2) == 0
    with pytest.raises(ValueError):
        t.untrack(e, 3)


def test_tracked_entry_outlives_its_expiry_and_untrack_removes_it() -> None:
    """stksess_kill_if_expired on untrack: without conn_cur nothing touches the
    entry, so an expired one goes at once."""
    t = table("gpc0")
    e = t.track(IP("10.0.0.1"), 1000)
    assert e is not None
    assert t.lookup(IP("10.0.0.1"), 5000) == e  # expired at 2000, but tracked
    assert lines(show(t, 5000, "t"))[1] == "key=10.0.0.1 use=1 exp=0 gpc0=0"
    t.untrack(e, 5000)
    assert t.used == 0


def test_untrack_with_conn_cur_touches_so_the_entry_stays() -> None:
    t = table("conn_cur")
    e = t.track(IP("10.0.0.1"), 1000)
    assert e is not None
    t.untrack(e, 5000)
    assert t.used == 1 and t.expiry(e) == 6000


def test_a_handle_to_a_removed_entry_raises() -> None:
    t = table()
    e = t.get_or_create(IP("10.0.0.1"), 1000)
    assert e is not None
    t.expire(2000)
    with pytest.raises(LookupError):
        t.touch(e, 2000)
    again = t.get_or_create(IP("10.0.0.2"), 2000)  # may reuse the slot
    assert again is not None and t.key_of(again) == 0x0A000002
    with pytest.raises(LookupError):
        t.read(e, "trackers", 2000)


def test_key_that_does_not_cast_finds_and_tracks_nothing() -> None:
    """smp_to_stkey fails: HAProxy skips the track rule and the fetch has no value."""
    t = table("gpc0")
    v6 = IPv6Address("2001:db8::1")
    assert t.track(v6, 1) is None and t.lookup(v6, 1) is None
    assert t.fetch(v6, "get_gpc0", 1) is None
    with pytest.raises(ValueError):
        t.normalize(v6)


# -- purging ----------------------------------------------------------------------------------


def keys(t: StickTable, now: int) -> list[str]:
    return [str(IP(t.key_of(e))) for e in t.entries(now)]


def test_trash_oldest_purges_size_256th_plus_one() -> None:
    """__stksess_new on a full table trashes (size >> 8) + 1 of the oldest first."""
    t = table(size=512, expire=None)
    for i in range(512):
        t.get_or_create(i, 1000 + i)
    assert t.get_or_create(10_000, 5000) is not None
    assert t.used == 512 - 3 + 1
    assert t.lookup(0, 5000) is None and t.lookup(2, 5000) is None
    assert t.lookup(3, 5000) is not None


def test_trash_oldest_takes_equal_dates_in_insertion_order() -> None:
    t = table(size=2, expire=None)
    t.get_or_create(1, 7)
    t.get_or_create(2, 7)
    t.get_or_create(3, 7)
    assert sorted(t) == [2, 3]


def test_trash_oldest_requeues_a_touched_entry_then_takes_the_next() -> None:
    """__stktable_trash_oldest: the entry queued first was touched since, so it is
    queued again at its new date (45) and the next oldest (20) goes instead."""
    t = table(size=4, expire=None)
    for i, now in enumerate((10, 20, 30, 40), 1):
        t.get_or_create(i, now)
    a = t.lookup(1, 40)
    assert a is not None
    t.touch(a, 45)
    t.get_or_create(5, 50)
    assert sorted(t) == [1, 3, 4, 5]


def test_trash_oldest_revisits_a_requeued_entry_older_than_the_next() -> None:
    """... and when the new date is before the next entry's (`eb = &ts->exp`), the
    requeued entry is looked at again at once and is the one purged."""
    t = table(size=4, expire=None)
    a = t.get_or_create(1, 10)
    assert a is not None
    t.touch(a, 15)
    for i, now in enumerate((20, 30, 40), 2):
        t.get_or_create(i, now)
    t.get_or_create(5, 50)
    assert sorted(t) == [2, 3, 4, 5]


def test_trash_oldest_gives_up_after_twice_the_batch() -> None:
    """max_search = 2 * to_batch: two referenced entries first and nothing is purged,
    so the entry is not created although two others could go."""
    t = table(size=4, expire=None)
    for i in range(1, 5):
        t.get_or_create(i, i)
    t.track(1, 5)
    t.track(2, 5)  # both touched at 5, but still queued at 1 and 2
    assert t.get_or_create(9, 6) is None
    assert sorted(t) == [1, 2, 3, 4]


def test_trash_oldest_skips_referenced_entries() -> None:
    t = table(size=4, expire=None)
    for i in range(1, 5):
        t.get_or_create(i, i)
    t.track(1, 5)
    assert t.get_or_create(9, 6) is not None
    assert sorted(t) == [1, 3, 4, 9]


def test_a_removed_entry_leaves_no_place_in_the_queue() -> None:
    """__stksess_kill takes the entry out of the expiry tree: its slot's next
    entry is not purged early and does not cost the purge a look."""
    t = table(size=2, expire=None)
    a = t.get_or_create(1, 1)
    assert a is not None
    t.track(2, 2)
    assert t.kill(a)
    t.get_or_create(3, 3)  # takes the slot a left
    assert t.get_or_create(4, 4) is not None  # 2 is held: 3 is the one purged
    assert sorted(t) == [2, 4]


def test_nopurge_refuses_new_entries_when_full() -> None:
    t = table(size=2, expire=None, nopurge=True)
    t.get_or_create(1, 1)
    t.get_or_create(2, 2)
    assert t.get_or_create(3, 3) is None and t.track(3, 3) is None
    assert sorted(t) == [1, 2]
    assert t.get_or_create(2, 4) is not None  # an existing key is still found


class RefTable:
    """A literal model of HAProxy's expiry tree: a sorted list of (date, insertion,
    key) walked in order, for comparison with the heap of packed integers."""

    def __init__(self, size: int, expire: int) -> None:
        self.size, self.expire = size, expire
        self.tree: list[tuple[int, int, int]] = []
        self.entries: dict[int, list[int]] = {}  # key -> [expire, ref]
        self.ins = 0
        self.now = 0
        self.exp_next: int | None = None

    def date(self, now: int) -> int:
        return now + self.expire or 1

    def queue(self, key: int, date: int) -> None:
        self.ins += 1
        bisect.insort(self.tree, (date, self.ins, key))

    def advance(self, now: int) -> int:
        self.now = max(self.now, now)
        if self.exp_next is not None and self.now >= self.exp_next:
            self.sweep()
        return self.now

    def walk(self) -> list[tuple[int, int, int]]:
        return list(self.tree)

    def sweep(self) -> None:
        self.exp_next = None
        cursor = (-1, -1, -1)
        while True:
            later = [node for node in self.tree if node > cursor]
            if not later:
                return
            node = later[0]
            date, _, key = node
            if self.now < date:
                self.exp_next = date
                return
            cursor = node
            expire, ref = self.entries[key]
            if ref:
                continue
            self.tree.remove(node)
            if expire > self.now:
                self.queue(key, expire)
                continue
            del self.entries[key]

    def trash(self, to_batch: int) -> int:
        max_search, batched = 2 * to_batch, 0
        cursor = (-1, -1, -1)
        while batched < to_batch:
            later = [node for node in self.tree if node > cursor]
            if not later:
                break
            max_search -= 1
            if max_search < 0:
                break
            node = later[0]
            cursor = node
            date, _, key = node
            expire, ref = self.entries[key]
            if ref:
                continue
            self.tree.remove(node)
            if expire != date:
                self.queue(key, expire)
                continue
            del self.entries[key]
            batched += 1
        return batched

    def get_or_create(self, key: int, now: int) -> bool:
        now = self.advance(now)
        if key in self.entries:
            return True
        if len(self.entries) == self.size and not self.trash((self.size >> 8) + 1):
            return False
        date = self.date(now)
        self.entries[key] = [date, 0]
        self.queue(key, date)
        self.note(date)
        return True

    def note(self, date: int) -> None:
        if self.expire and (self.exp_next is None or date < self.exp_next):
            self.exp_next = date

    def touch(self, key: int, now: int) -> None:
        now = self.advance(now)
        if key in self.entries:
            date = self.date(now)
            self.entries[key][0] = date
            self.note(date)

    def track(self, key: int, now: int) -> None:
        if self.get_or_create(key, now):
            self.entries[key][1] += 1
            self.touch(key, now)

    def kill(self, key: int, now: int) -> None:
        self.advance(now)
        if key in self.entries and not self.entries[key][1]:
            self.tree = [node for node in self.tree if node[2] != key]
            del self.entries[key]

    def untrack(self, key: int, now: int) -> None:
        now = self.advance(now)
        if key in self.entries and self.entries[key][1]:
            self.entries[key][1] -= 1
            expire, ref = self.entries[key]
            if self.expire and expire <= now and not ref:
                self.tree = [node for node in self.tree if node[2] != key]
                del self.entries[key]


OPS = st.lists(
    st.tuples(
        st.sampled_from(["create", "touch", "track", "untrack", "kill", "wait"]),
        st.integers(0, 11),
        st.integers(0, 40),
    ),
    max_size=120,
)


@settings(max_examples=250, deadline=None)
@given(ops=OPS, size=st.integers(1, 8), expire=st.sampled_from([0, 5, 30, 100]))
def test_table_matches_a_literal_model_of_haproxys_expiry_tree(
    ops: list[tuple[str, int, int]], size: int, expire: int
) -> None:
    """Purge order, requeues, sweeps and references against the model; and the
    size bound, and tracked entries surviving purges and sweeps."""
    t = StickTable("t", "integer", size, expire or None)
    ref = RefTable(size, expire)
    now = 1
    handles: dict[int, int] = {}  # key -> outstanding tracks
    for op, key, step in ops:
        now += step
        if op == "create":
            assert (t.get_or_create(key, now) is not None) == ref.get_or_create(key, now)
        elif op == "touch":
            e = t.lookup(key, now)
            ref.advance(now)
            if e is not None:
                t.touch(e, now)
                ref.touch(key, now)
        elif op == "track":
            e = t.track(key, now)
            ref.track(key, now)
            if e is not None:
                handles[key] = handles.get(key, 0) + 1
        elif op == "kill":
            e = t.lookup(key, now)
            if e is not None:
                assert t.kill(e) == (not handles.get(key))
            ref.kill(key, now)
        elif op == "untrack" and handles.get(key):
            e = t.lookup(key, now)
            assert e is not None  # tracked entries are never purged or expired
            t.untrack(e, now)
            ref.untrack(key, now)
            handles[key] -= 1
        else:
            t.expire(now)
            ref.advance(now)
        assert t.used <= size
        assert sorted(t) == sorted(ref.entries)
        for k, count in handles.items():
            if count:
                e = t.lookup(k, now)
                assert e is not None and t.ref_count(e) == count


@settings(max_examples=100, deadline=None)
@given(
    births=st.lists(st.tuples(st.integers(0, 500), st.integers(0, 99)), max_size=60),
    later=st.integers(0, 700),
)
def test_after_expiry_the_entry_is_gone(births: list[tuple[int, int]], later: int) -> None:
    t = StickTable("t", "integer", 1000, 100)
    expires: dict[int, int] = {}
    now = 0
    for gap, key in births:
        now += gap
        e = t.get_or_create(key, now)
        assert e is not None
        t.touch(e, now)
        expires = {k: d for k, d in expires.items() if d > now}
        expires[key] = now + 100
    now += later
    assert {k for k, d in expires.items() if d > now} == {
        k for k in range(100) if t.lookup(k, now) is not None
    }


# -- counters and fetches ----------------------------------------------------------------------


def test_count_session_does_not_touch() -> None:
    """session_count_new: sess_cnt and sess_rate, no stktable_touch_local."""
    t = table("sess_cnt,sess_rate(1s)")
    e = t.track(IP("10.0.0.1"), 100)
    assert e is not None
    t.count_session(e, 500)
    assert t.expiry(e) == 1100
    assert t.read(e, "sess_cnt", 500) == 1 and t.read(e, "sess_rate", 500) == 1


def test_http_counters_touch_only_when_stored() -> None:
    """stkctr_inc_http_req_ctr touches if http_req_cnt or http_req_rate is stored."""
    t = table("http_req_cnt,http_req_rate(10s)")
    e = t.get_or_create(IP("10.0.0.1"), 100)
    assert e is not None
    t.count_http_request(e, 300)
    t.count_http_request(e, 400)
    assert t.expiry(e) == 1400
    assert t.read(e, "http_req_cnt", 400) == 2 and t.read(e, "http_req_rate", 400) == 2
    t.count_http_error(e, 500)  # not stored: no touch
    t.count_http_failure(e, 500)
    assert t.expiry(e) == 1400
    assert t.read(e, "http_err_cnt", 500) is None


def test_http_errors_failures_and_bytes() -> None:
    t = table(
        "http_err_cnt,http_err_rate(1s),http_fail_cnt,http_fail_rate(1s),"
        "bytes_in_cnt,bytes_in_rate(1s),bytes_out_cnt,bytes_out_rate(1s)"
    )
    e = t.get_or_create(IP("10.0.0.1"), 100)
    assert e is not None
    t.count_http_error(e, 100)
    t.count_http_failure(e, 100)
    t.add_bytes_in(e, 3000, 100)
    t.add_bytes_out(e, 2**33, 100)
    assert t.read(e, "http_err_cnt", 100) == 1 and t.read(e, "http_err_rate", 100) == 1
    assert t.read(e, "http_fail_cnt", 100) == 1 and t.read(e, "http_fail_rate", 100) == 1
    assert t.read(e, "kbytes_in", 100) == 2  # smp_fetch_sc_kbytes_in: bytes >> 10
    assert t.read(e, "bytes_in_rate", 100) == 3000
    assert t.read(e, "kbytes_out", 100) == 2**23  # a 64-bit count
    assert t.read(e, "bytes_out_rate", 100) == 0  # the rate takes an unsigned int: 2**33 wraps


@pytest.mark.parametrize(
    ("status", "err", "fail"),
    [(None, 0, 0), (200, 0, 0), (404, 1, 0), (503, 0, 1), (501, 0, 0), (505, 0, 0)],
)
def test_track_http_counts_the_current_request(status: int | None, err: int, fail: int) -> None:
    """http_action_track_sc: the request (and a response's 4xx/5xx) counted at once."""
    t = table("http_req_cnt,http_err_cnt,http_fail_cnt,conn_cnt")
    e = t.track_http(IP("10.0.0.1"), 1, response_status=status)
    assert e is not None
    assert t.read(e, "http_req_cnt", 1) == 1 and t.read(e, "conn_cnt", 1) == 1
    assert t.read(e, "http_err_cnt", 1) == err and t.read(e, "http_fail_cnt", 1) == fail


def test_inc_gpc0_returns_the_counter_else_the_rate_count_else_zero() -> None:
    """smp_fetch_sc_inc_gpc0 / action_inc_gpc0."""
    both = table("gpc0,gpc0_rate(10s)")
    e = both.get_or_create(1, 100)
    assert e is not None
    assert [both.inc_gpc0(e, 100 + i) for i in range(3)] == [1, 2, 3]
    assert both.read(e, "gpc0_rate", 200) == 3 and both.expiry(e) == 1102
    rate_only = table("gpc0_rate(10s)")
    e = rate_only.get_or_create(1, 100)
    assert e is not None
    assert [rate_only.inc_gpc0(e, 100), rate_only.inc_gpc0(e, 101)] == [1, 2]
    neither = table("gpc1")
    e = neither.get_or_create(1, 100)
    assert e is not None
    assert neither.inc_gpc0(e, 500) == 0 and neither.expiry(e) == 1100  # no touch
    assert neither.inc_gpc1(e, 500) == 1


def test_gpc_array_stands_in_for_gpc0_and_gpc1() -> None:
    """The legacy fetches and actions fall back on gpc[0], gpc[1], gpc_rate[0..1], gpt[0]."""
    t = table("gpc(3),gpc_rate(2,10s),gpt(2)")
    e = t.get_or_create(1, 100)
    assert e is not None
    t.inc_gpc0(e, 100)
    t.inc_gpc1(e, 100)
    t.inc_gpc1(e, 100)
    assert t.inc_gpc(e, 2, 100) == 1
    assert t.inc_gpc(e, 3, 100) == 0  # out of the array: nothing
    assert [t.read(e, "get_gpc", 100, i) for i in range(3)] == [1, 2, 1]
    assert t.read(e, "get_gpc", 100, 3) is None
    assert t.read(e, "get_gpc1", 100) == 2 and t.read(e, "gpc1", 100) == 2
    assert t.read(e, "gpc1_rate", 100) == 2 and t.read(e, "gpc_rate", 100, 0) == 1
    assert t.read(e, "gpc_rate", 100, 2) is None  # gpc_rate has two elements
    assert t.set_gpt0(e, 7, 100) and t.read(e, "get_gpt0", 100) == 7
    assert t.set_gpt(e, 1, -1, 100) and t.read(e, "get_gpt", 100, 1) == 0xFFFFFFFF
    assert not t.set_gpt(e, 2, 1, 100)


def test_clr_gpc0_returns_the_former_value_or_no_value() -> None:
    """smp_fetch_sc_clr_gpc0: previous value, 0 stored; "no value" when not stored."""
    t = table("gpc0")
    e = t.get_or_create(1, 100)
    assert e is not None
    t.inc_gpc0(e, 100)
    t.inc_gpc0(e, 100)
    assert t.clr_gpc0(e, 200) == 2 and t.read(e, "get_gpc0", 200) == 0
    assert t.expiry(e) == 1200
    assert t.clr_gpc1(e, 300) is None and t.clr_gpc(e, 0, 300) is None
    assert t.expiry(e) == 1200


def test_set_gpt0_stores_an_unsigned_int() -> None:
    t = table("gpt0")
    e = t.get_or_create(1, 100)
    assert e is not None
    assert t.set_gpt0(e, -1, 100) and t.read(e, "gpt0", 100) == 4294967295
    assert t.set_gpt0(e, 2**32 + 5, 100) and t.read(e, "get_gpt0", 100) == 5
    other = table("gpc0")
    e = other.get_or_create(1, 100)
    assert e is not None and not other.set_gpt0(e, 1, 500) and other.expiry(e) == 1100


def test_read_of_an_unstored_type_has_no_value() -> None:
    """smp_fetch_sc_*: the entry exists but the type is not stored -> return 0 (no sample)."""
    t = table("gpc0")
    e = t.get_or_create(1, 100)
    assert e is not None
    for what in ("http_req_rate", "conn_cur", "get_gpc1", "kbytes_in", "server_id", "gpc0_rate"):
        assert t.read(e, what, 100) is None, what
    assert t.read(e, "get_gpc0", 100) == 0
    assert t.read(e, "trackers", 100) == 0
    with pytest.raises(ValueError, match="unknown stick table fetch"):
        t.read(e, "nonsense", 100)


def test_fetch_of_an_absent_key_reads_zero() -> None:
    """src_* / table_* converters: a key not in the table reads 0 whatever is stored."""
    t = table("gpc0")
    assert t.fetch(IP("10.0.0.9"), "http_req_rate", 100) == 0
    assert t.fetch(IP("10.0.0.9"), "get_gpc0", 100) == 0
    assert t.fetch(IP("10.0.0.9"), "expire", 100) is None  # table_expire without default
    assert t.used == 0  # nothing created
    e = t.get_or_create(IP("10.0.0.9"), 100)
    assert e is not None
    assert t.fetch(IP("10.0.0.9"), "http_req_rate", 100) is None
    assert t.fetch("10.0.0.9", "gpc0", 100) == 0
    with pytest.raises(ValueError):
        t.fetch(IP("10.0.0.9"), "nonsense", 100)


def test_fetch_expire_idle_and_trackers() -> None:
    """sample_conv_table_expire/idle: tick_remain and expire minus it."""
    t = table(expire=1000)
    e = t.track(IP("10.0.0.1"), 100)
    assert e is not None
    assert t.fetch(IP("10.0.0.1"), "expire", 400) == 700
    assert t.fetch(IP("10.0.0.1"), "idle", 400) == 300
    assert t.fetch(IP("10.0.0.1"), "trackers", 400) == 1


def test_server_id_is_signed_and_server_key_is_text() -> None:
    t = table("server_id,server_key")
    e = t.get_or_create(1, 100)
    assert e is not None
    t.store_server(e, 3, "web2", 200)
    assert t.read(e, "server_id", 200) == 3 and t.server_key(e) == "web2"
    assert t.expiry(e) == 1200
    t.set_data(e, "server_id", -5, 200)
    assert t.read(e, "server_id", 200) == -5


# -- the runtime API ---------------------------------------------------------------------------


def test_show_table_header_and_entry_lines() -> None:
    """table_dump_head_to_buffer and table_dump_entry_to_buffer, as in management.txt."""
    t = StickTable(
        "http_proxy", "ip", 204800, 3600000, store="gpc0,conn_rate(30s),bytes_out_rate(1m)"
    )
    e = t.track(IP("127.0.0.1"), 1000)
    assert e is not None
    t.add_bytes_out(e, 187, 1000)
    t.untrack(e, 1000)
    out = show(t, 6271, "http_proxy")
    assert out.splitlines()[0] == "# table: http_proxy, type: ip, size:204800, used:1"
    assert re.fullmatch(
        r"0x[0-9a-f]+: key=127\.0\.0\.1 use=0 exp=3594729 gpc0=0 conn_rate\(30000\)=1 "
        r"bytes_out_rate\(60000\)=187",
        out.splitlines()[1],
    )
    assert out.splitlines()[1].startswith(f"0x{entry_id(e):x}: ")


def test_show_table_prints_types_in_haproxy_order_and_array_names() -> None:
    t = StickTable(
        "t",
        "string len 8",
        10,
        None,
        store="http_req_rate(10s),conn_cur,gpc_rate(2,1s),gpt(2),server_key,server_id",
    )
    e = t.get_or_create("a key that is long", 5)
    assert e is not None
    assert lines(show(t, 5, "t"))[1] == (
        "key=a\\ key\\ th use=0 exp=0 server_id=0 conn_cur=0 http_req_rate(10000)=0 "
        "server_key=- gpt0=0 gpt1=0 gpc0_rate(1000)=0 gpc1_rate(1000)=0"
    )


def test_show_table_lists_entries_in_key_tree_order() -> None:
    """ebmb order: addresses numerically; integer keys by their little-endian bytes."""
    ips = StickTable("ips", "ip", 10, None)
    for a in ("10.0.0.2", "9.0.0.1", "10.0.0.10"):
        ips.get_or_create(IP(a), 1)
    assert [line.split()[0] for line in lines(show(ips, 1, "ips"))[1:]] == [
        "key=9.0.0.1",
        "key=10.0.0.2",
        "key=10.0.0.10",
    ]
    ints = StickTable("ints", "integer", 10, None)
    for k in (1, 256, 2):
        ints.get_or_create(k, 1)
    assert [line.split()[0] for line in lines(show(ints, 1, "ints"))[1:]] == [
        "key=256",
        "key=1",
        "key=2",
    ]


def test_show_table_without_name_lists_headers_newest_first() -> None:
    """stktables_list is built by prepending each table as it is parsed."""
    a = StickTable("a", "ip", 10, None)
    b = StickTable("b", "ipv6", 20, None)
    a.get_or_create(1, 1)
    assert cli({"a": a, "b": b}, "show table", 1) == (
        "# table: b, type: ipv6, size:20, used:0\n# table: a, type: ip, size:10, used:1\n"
    )


def test_show_table_filters() -> None:
    t = StickTable("t", "ip", 10, None, store="gpc0,conn_rate(10s)")
    for i, n in enumerate((0, 1, 5)):
        e = t.get_or_create(i + 1, 100)
        assert e is not None
        t.set_data(e, "gpc0", n, 100)
        t.set_data(e, "conn_rate", n, 100)

    def shown(*args: str) -> list[str]:
        return [line.split()[0] for line in lines(show(t, 100, "t", *args))[1:]]

    assert shown("data.gpc0", "gt", "0") == ["key=0.0.0.2", "key=0.0.0.3"]
    assert shown("data.gpc0", "eq", "1") == ["key=0.0.0.2"]
    assert shown("data.gpc0", "ne", "1") == ["key=0.0.0.1", "key=0.0.0.3"]
    assert shown("data.gpc0", "le", "1") == ["key=0.0.0.1", "key=0.0.0.2"]
    assert shown("data.gpc0", "lt", "1") == ["key=0.0.0.1"]
    assert shown("data.gpc0", "ge", "5") == ["key=0.0.0.3"]
    assert shown("data.conn_rate", "gt", "4", "data.gpc0", "lt", "9") == ["key=0.0.0.3"]


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ("show table nope", "No such table\n"),
        (
            "clear table",
            'Required arguments: <table> "data.<store_data_type>" <operator> '
            "<value> or <table> key <key>\n",
        ),
        ("set table", "Required arguments: <table> key <key> [data.<store_data_type> <value>]*\n"),
        (
            "show table t junk",
            'Optional argument only supports "data.<store_data_type>" '
            "<operator> <value> and key <key>\n",
        ),
        ("show table t data.nope eq 1", "Filter entry #1: Unknown data type\n"),
        (
            "show table t data.conn_cnt eq 1",
            "Filter entry #1: Data type not stored in this table\n",
        ),
        (
            "show table t data.gpc0 is 1",
            'Filter entry #1: Require and operator among "eq", "ne", "le", "ge", "lt", "gt"\n',
        ),
        (
            "show table t data.gpc0 eq x",
            "Filter entry #1: Require a valid integer value to compare against\n",
        ),
        (
            "show table t data.gpc0 eq",
            "Filter entry #1: Require a valid integer value to compare against\n",
        ),
        (
            "show table t data.gpc0 eq 1 data.gpc0 gt",
            "Filter entry #2: Require a valid integer value to compare against\n",
        ),
        ("show table t data.gpc0 eq 1 foo", "Filter entry #2: Unknown data type\n"),
        (
            "show table t " + "data.gpc0 eq 1 " * 4 + "data.gpc0",
            "Detected extra data in filter, 16th word of input, after '1'\n",
        ),
        (
            "set table t data.gpc0 eq 1",
            'content-based lookup is only supported with the "show" and "clear" actions\n',
        ),
        ("show table t key", "Key value expected\n"),
    ],
)
def test_cli_errors_are_haproxys(line: str, answer: str) -> None:
    """cli_parse_table_req, table_prepare_data_request, table_process_entry_per_key."""
    t = StickTable("t", "ip", 10, None, store="gpc0")
    assert cli({"t": t}, line, 1) == answer


@pytest.mark.parametrize(
    ("key_type", "key", "answer"),
    [
        ("ipv6", "1.2.3.4", "Invalid key\n"),
        ("ipv6", "fe80::1%lo", "Invalid key\n"),
        ("integer", "x12", "Invalid key\n"),
        ("integer", "4294967296", "Invalid key\n"),
        ("integer", "-1", "Invalid key\n"),  # strtoul wraps it past 32 bits
    ],
)
def test_cli_invalid_keys(key_type: str, key: str, answer: str) -> None:
    t = StickTable("t", key_type, 10, None)
    assert cli({"t": t}, f"set table t key {key}", 1) == answer
    assert t.used == 0


def test_cli_integer_keys_read_like_strtoul() -> None:
    t = StickTable("t", "integer", 10, None)
    assert cli({"t": t}, "set table t key 42abc", 1) == ""
    assert cli({"t": t}, "set table t key -0", 1) == ""
    assert sorted(t) == [0, 42]


@pytest.mark.parametrize("action", ["show", "clear", "set"])
def test_cli_refuses_binary_keys(action: str) -> None:
    t = StickTable("t", "binary", 10, None)
    verb = {
        "show": "Showing keys from",
        "clear": "Removing keys from",
        "set": "Inserting keys into",
    }
    assert cli({"t": t}, f"{action} table t key 00", 1) == (
        f"{verb[action]} tables of type other than ip, ipv6, string and integer is not supported\n"
    )


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("1.2.3.4", "1.2.3.4"),
        ("1.2.3", "1.2.3.0"),
        ("1.2.3.256", "1.2.4.0"),  # carries into the byte before
        ("1234.5.6.7", "234.5.6.7"),  # the last three digits of a group
        ("abc", "0.0.0.0"),
        ("1.2.3.4.5", "1.2.3.4"),
    ],
)
def test_cli_ip_keys_read_like_inetaddr_host(text: str, address: str) -> None:
    assert str(IP(_inetaddr_host(text))) == address


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12", 12),
        ("-12", -12),
        ("-", 0),
        ("", None),
        ("1.5", None),
        ("+1", None),
        (" 1", None),
        ("9223372036854775807", 2**63 - 1),
        ("9223372036854775808", None),
        ("-9223372036854775808", -(2**63)),
        ("-9223372036854775809", None),
    ],
)
def test_cli_values_read_like_strl2llrc(text: str, value: int | None) -> None:
    assert _strl2llrc(text) == value


def test_show_and_clear_by_key() -> None:
    t = StickTable("t", "string len 4", 10, None, store="gpc0")
    assert cli({"t": t}, "set table t key abcdef data.gpc0 3", 1) == ""
    out = cli({"t": t}, "show table t key abcd", 2)
    assert lines(out) == [
        "# table: t, type: string, size:10, used:1",
        "key=abcd use=0 exp=0 gpc0=3",
    ]
    assert cli({"t": t}, "show table t key zzz", 2) == ""
    e = t.track("abcd", 3)
    assert e is not None
    assert cli({"t": t}, "clear table t key abcd", 3) == "Entry currently in use, cannot remove\n"
    t.untrack(e, 3)
    assert cli({"t": t}, "clear table t key abcdxyz", 3) == ""
    assert t.used == 0


def test_set_table_sets_rates_and_keeps_values_set_before_an_error() -> None:
    """STD_T_FRQP: curr_tick = now & ~1, prev = 0, curr = value."""
    t = StickTable("t", "ip", 10, 100_000, store="gpc0,server_id,http_req_rate(10s),bytes_in_cnt")
    answer = cli(
        {"t": t},
        "set table t key 10.0.0.1 data.gpc0 -1 data.server_id -7 data.http_req_rate 25 "
        "data.bytes_in_cnt -1 data.gpc1 2 data.gpc0 9",
        1001,
    )
    assert answer == "Data type not stored in this table\n"
    assert lines(show(t, 1001, "t"))[1] == (
        "key=10.0.0.1 use=0 exp=100000 server_id=-7 gpc0=4294967295 http_req_rate(10000)=25 "
        "bytes_in_cnt=18446744073709551615"
    )
    assert t.fetch(IP("10.0.0.1"), "http_req_rate", 10_999) == 25
    assert t.fetch(IP("10.0.0.1"), "http_req_rate", 16_000) == 12  # 25 * 5000 / 10000
    # The period starts at 1000 (1001 & ~1): 400 ms of it left at 20600, 399 at 20601.
    assert t.fetch(IP("10.0.0.1"), "http_req_rate", 20_600) == 1
    assert t.fetch(IP("10.0.0.1"), "http_req_rate", 20_601) == 0


@pytest.mark.parametrize(
    ("tail", "answer"),
    [
        ("gpc0 1", '"data.<type>" followed by a value expected\n'),
        ("data.nope 1", "Unknown data type\n"),
        ("data.gpc0", "Require a valid integer value to store\n"),
        ("data.gpc0 1x", "Require a valid integer value to store\n"),
    ],
)
def test_set_table_errors_still_create_and_touch(tail: str, answer: str) -> None:
    t = StickTable("t", "ip", 10, 1000, store="gpc0")
    assert cli({"t": t}, f"set table t key 10.0.0.1 {tail}", 50) == answer
    e = t.lookup(IP("10.0.0.1"), 50)
    assert e is not None and t.expiry(e) == 1050


def test_set_table_when_full_and_nopurge() -> None:
    t = StickTable("t", "ip", 1, None, nopurge=True)
    t.get_or_create(1, 1)
    assert cli({"t": t}, "set table t key 10.0.0.1", 1) == "Unable to allocate a new entry\n"


def test_clear_table_keeps_in_use_entries_and_the_one_before_them() -> None:
    """cli_io_handler_table kills the entry it leaves only if the next one has no
    reference: in HAProxy 2.6 an unused entry just before a tracked one stays."""
    t = StickTable("t", "ip", 10, None, store="gpc0")
    for a in ("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"):
        t.get_or_create(IP(a), 1)
    t.track(IP("10.0.0.2"), 1)
    assert cli({"t": t}, "clear table t", 1) == ""
    assert sorted(str(IP(k)) for k in t) == ["10.0.0.1", "10.0.0.2"]


def test_clear_table_with_a_filter() -> None:
    t = StickTable("t", "ip", 10, None, store="gpc0")
    for i in range(1, 5):
        e = t.get_or_create(i, 1)
        assert e is not None
        t.set_data(e, "gpc0", i % 2, 1)
    assert cli({"t": t}, "clear table t data.gpc0 eq 1", 1) == ""
    assert sorted(t) == [2, 4]


def test_set_table_with_only_a_name_clears_like_haproxy() -> None:
    """cli_parse_table_req lets `set table <t>` reach the walk, which clears."""
    t = StickTable("t", "ip", 10, None)
    t.get_or_create(1, 1)
    assert cli({"t": t}, "set table t", 1) == "" and t.used == 0


def test_cli_levels() -> None:
    """Key commands need operator (cli_has_level); a user's dump stops at the header."""
    t = StickTable("t", "ip", 10, None, store="gpc0")
    t.get_or_create(1, 1)
    tables = {"t": t}
    assert cli(tables, "show table t", 1, level="user") == (
        "# table: t, type: ip, size:10, used:1\n"
        "# contents not dumped due to insufficient privileges\n"
    )
    assert cli(tables, "show table t key 0.0.0.1", 1, level="user") == "Permission denied\n"
    assert cli(tables, "set table t key 0.0.0.2", 1, level="user") == "Permission denied\n"
    assert cli(tables, "clear table t", 1, level="user") == ""
    assert t.used == 1
    assert cli(tables, "clear table t", 1, level="operator") == "" and t.used == 0


def test_show_table_sees_what_expired_as_gone() -> None:
    t = StickTable("t", "ip", 10, 100)
    t.get_or_create(1, 1)
    assert show(t, 101, "t") == "# table: t, type: ip, size:10, used:0\n"
