"""The peers protocol's encodings (balancekit.peers.wire), against HAProxy's definitions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from balancekit.peers.tables import ARRAYS, RATES
from balancekit.peers.wire import (
    CLASS_CONTROL,
    CLASS_STICKTABLE,
    CTRL_HEARTBEAT,
    MAX_MESSAGE,
    STKT_ACK,
    Definition,
    Hello,
    Incomplete,
    Message,
    MessageReader,
    ProtocolError,
    decode_definition,
    decode_varint,
    encode_definition,
    encode_varint,
    frame,
    hello,
    parse_hello,
)


@pytest.mark.parametrize(
    ("value", "size"),
    # doc/peers-v2.0.txt: 1 byte below 240, then 11, 18, 25, 32 bits.
    [(0, 1), (239, 1), (240, 2), (2287, 2), (2288, 3), (264431, 3), (264432, 4),
     (33818863, 4), (33818864, 5), (4328786159, 5), (2**64 - 1, 10)],
)  # fmt: skip
def test_varint_sizes_follow_haproxy_boundaries(value: int, size: int) -> None:
    encoded = encode_varint(value)
    assert len(encoded) == size
    assert decode_varint(encoded, 0, len(encoded)) == (value, size)


def test_varint_known_bytes() -> None:
    # intencode(300): 300 | 0xf0 = 0xfc, then (300 - 240) >> 4 = 3.
    assert encode_varint(300) == b"\xfc\x03"
    # A negative server id goes out as its 64-bit two's complement.
    assert decode_varint(encode_varint(-1), 0, 10)[0] == 2**64 - 1


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_varint_round_trips(value: int) -> None:
    encoded = encode_varint(value)
    assert decode_varint(encoded, 0, len(encoded)) == (value, len(encoded))
    with pytest.raises(Incomplete):
        decode_varint(encoded, 0, len(encoded) - 1)


@given(st.lists(st.binary(max_size=300), max_size=8), st.integers(min_value=1, max_value=7))
def test_messages_survive_any_chunking(payloads: list[bytes], step: int) -> None:
    stream = frame(CLASS_CONTROL, CTRL_HEARTBEAT)
    stream += b"".join(frame(CLASS_STICKTABLE, STKT_ACK, p) for p in payloads)
    reader = MessageReader()
    got: list[Message] = []
    for at in range(0, len(stream), step):
        got.extend(reader.feed(stream[at : at + step]))
    assert got[0] == Message(CLASS_CONTROL, CTRL_HEARTBEAT)
    assert [m.payload for m in got[1:]] == payloads


def test_an_oversized_message_is_a_protocol_error() -> None:
    header = bytes((CLASS_STICKTABLE, STKT_ACK)) + encode_varint(MAX_MESSAGE + 1)
    with pytest.raises(ProtocolError):
        list(MessageReader().feed(header))


def test_definition_round_trip_with_rates_and_arrays() -> None:
    # server_id, gpc0, http_req_rate(10s), gpc(3), gpc_rate(2,1m)
    definition = Definition(
        7, "be", 4, 4, {0: (1, 0), 2: (1, 0), 10: (1, 10000), 23: (3, 0), 24: (2, 60000)}, 30000
    )
    payload = encode_definition(definition, ARRAYS, RATES)
    assert decode_definition(payload, ARRAYS, RATES) == definition


def test_hello_and_its_refusals() -> None:
    text = hello("hap", "bk", 42)
    assert text == b"HAProxyS 2.1\nhap\nbk 42 1\n"
    lines = text.split(b"\n")[:3]
    assert parse_hello(lines) == Hello((2, 1), "hap", "bk", 42)
    assert parse_hello([b"HAProxyS 3.0", b"hap", b"bk 1 1"]) == 502
    assert parse_hello([b"HAProxyS 2.2", b"hap", b"bk 1 1"]) == 502
    assert parse_hello([b"HTTP/1.1 200", b"hap", b"bk 1 1"]) == 501
    assert parse_hello([b"HAProxyS 2.0", b"hap", b"bk"]) == 501
