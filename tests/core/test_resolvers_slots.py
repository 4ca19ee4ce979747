"""balancekit.resolvers: reading a `resolvers` section and which server takes which
record, with no network and no clock (times are passed in)."""

from __future__ import annotations

import re

import pytest

from balancekit.config import ConfigErrors, load_text
from balancekit.resolvers import (
    HOLD_EVENTS,
    AddressSlots,
    AddressUser,
    SlotChange,
    SrvRecord,
    SrvSlots,
    pick_address,
    read_resolvers,
    record_key,
    srv_weight,
    xxh32,
)


def test_section_defaults_are_haproxys() -> None:
    found = read_resolvers("dns", [("nameserver", ("ns1", "127.0.0.1:53"))])
    assert found.hold == HOLD_EVENTS
    assert (found.resolve_retries, found.timeout_resolve, found.timeout_retry) == (3, 1.0, 1.0)
    assert found.accepted_payload_size == 512
    assert found.nameservers[0].port == 53


def test_section_keywords_are_read() -> None:
    found = read_resolvers(
        "dns",
        [
            ("nameserver", ("a", "10.0.0.1:5353")),
            ("parse-resolv-conf", ()),
            ("hold", ("valid", "2s")),
            ("hold", ("obsolete", "30s")),
            ("resolve_retries", ("5",)),
            ("timeout", ("retry", "250ms")),
            ("accepted_payload_size", ("8192",)),
        ],
    )
    assert found.parse_resolv_conf
    assert found.hold["valid"] == 2.0 and found.hold["obsolete"] == 30.0
    assert (found.resolve_retries, found.timeout_retry) == (5, 0.25)
    assert found.accepted_payload_size == 8192


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (("hold", ("valid",)), "'hold' expects an <event> and a <time>"),
        (("hold", ("forever", "1s")), "'hold' unknown <event>: 'forever'"),
        (("accepted_payload_size", ("11",)), "must be between 12 and 65535 inclusive (was 11)"),
        (
            ("timeout", ("connect", "1s")),
            "expects 'retry' or 'resolve' and <time> as arguments got",
        ),
        (("nameserver", ("a",)), "'nameserver' expects <name> and <addr>[:<port>]"),
        (("resolution_pool_size", ("4",)), "is not supported anymore"),
        (("nameserver", ("a", "tcp@127.0.0.1:53")), "balancekit does not support"),
    ],
)
def test_bad_lines_get_haproxys_messages(line: tuple[str, tuple[str, ...]], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        read_resolvers("dns", [line])


def test_a_server_naming_a_missing_section_is_an_error() -> None:
    text = """defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
backend be
    server s1 app.example:80 resolvers nowhere
"""
    with pytest.raises(ConfigErrors, match="unable to find required resolvers 'nowhere'"):
        load_text(text, name="t.cfg")


def test_srv_weight_rounds_up_so_only_zero_is_zero() -> None:
    assert [srv_weight(w) for w in (0, 1, 256, 257, 512, 65535)] == [0, 1, 1, 2, 2, 256]


def test_xxh32_matches_the_reference_vectors() -> None:
    assert xxh32(b"") == 0x02CC5D05
    assert xxh32(b"a") == 0x550D7456
    assert xxh32(b"abcdefghijklmnopqrstuvwxyz0123456789") == 0x42AE804D


def rec(target: str, port: int, weight: int = 256, address: str | None = "10.0.0.1") -> SrvRecord:
    return SrvRecord(target, port, weight, address)


def test_srv_records_fill_free_slots_in_record_order() -> None:
    slots = SrvSlots(["w1", "w2", "w3"], HOLD_EVENTS)
    records = [rec("a.test", 80), rec("b.test", 81, 512)]
    changes = slots.answer(0.0, records)
    first, second = sorted(records, key=record_key)
    assert [(c.server, c.hostname, c.port) for c in changes] == [
        ("w1", first.target, first.port),
        ("w2", second.target, second.port),
    ]
    # The same answer again changes nothing; a record gone frees its server.
    assert slots.answer(1.0, records) == []
    gone = slots.answer(2.0, [first])
    assert gone == [SlotChange("w2", None)]


def test_hold_obsolete_keeps_a_missing_record_a_while() -> None:
    slots = SrvSlots(["w1"], {**HOLD_EVENTS, "obsolete": 5.0})
    slots.answer(0.0, [rec("a.test", 80)])
    assert slots.answer(3.0, []) == []
    assert slots.answer(6.0, []) == [SlotChange("w1", None)]


def test_a_record_without_an_address_takes_no_server() -> None:
    slots = SrvSlots(["w1"], HOLD_EVENTS)
    assert slots.answer(0.0, [rec("a.test", 80, address=None)]) == []


def test_failures_free_servers_only_after_their_hold() -> None:
    slots = SrvSlots(["w1"], {**HOLD_EVENTS, "nx": 10.0})
    slots.answer(0.0, [rec("a.test", 80)])
    assert slots.failure(5.0, "nx") == []
    assert slots.failure(11.0, "nx") == [SlotChange("w1", None)]


def test_pick_address_prefers_family_then_network() -> None:
    both = ["192.0.2.1", "2001:db8::1"]
    assert pick_address(both, None, (), "ipv6") == "2001:db8::1"
    assert pick_address(both, None, (), "ipv4") == "192.0.2.1"
    two = ["192.0.2.1", "10.1.2.3"]
    assert pick_address(two, None, (), "ipv4", ["10.0.0.0/8"]) == "10.1.2.3"


def test_address_slots_give_one_address_per_server_unless_duplicates_allowed() -> None:
    users = [
        AddressUser("be", "p1", 80, "ipv4"),
        AddressUser("be", "p2", 80, "ipv4"),
        AddressUser("be", "s", 80, "ipv4", allow_duplicates=True),
        AddressUser("other", "o", 80, "ipv4"),
    ]
    slots = AddressSlots(users, HOLD_EVENTS)
    changes = {user.server: change.address for user, change in slots.answer(0.0, ["10.0.0.1"])}
    assert changes == {"p1": "10.0.0.1", "p2": None, "s": "10.0.0.1", "o": "10.0.0.1"}
    # A second address goes to the server without one; the others keep theirs.
    again = {u.server: c.address for u, c in slots.answer(1.0, ["10.0.0.1", "10.0.0.2"])}
    assert again == {"p2": "10.0.0.2"}
