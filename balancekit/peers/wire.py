"""HAProxy's peers protocol (v2.1, HAProxy 2.6's `peers.c`) as bytes in, values out.

Why sans-IO: the same codec serves the server's peer sessions, the tests that
play a peer against a real HAProxy, and anyone who wants to watch a peers
stream; none of them should need a socket to check a message.

The protocol, as HAProxy 2.6 speaks it:

- a session opens with a three-line hello (`HAProxyS 2.1`, the name of the peer
  called, then the caller's name, pid and relative pid) answered by a status
  line (`200` accepts; 300 and 501 to 504 refuse);
- then messages: a class byte and a type byte; stick-table messages (type ≥ 128)
  carry a length and a payload.  Integers are HAProxy's varint (`intencode`):
  below 240 one byte, otherwise a first byte ≥ 240 carrying 4 bits and 7-bit
  continuation bytes;
- a table is announced by a definition (the sender's table id, the table's
  name, key type and size, the stored data types as a bitfield, the expiry and
  the rates' periods); updates then carry an update id, optionally the time left
  before expiry, the key and each stored value in the data types' order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = [
    "CLASS_CONTROL",
    "CLASS_ERROR",
    "CLASS_RESERVED",
    "CLASS_STICKTABLE",
    "CTRL_HEARTBEAT",
    "CTRL_RESYNC_CONFIRM",
    "CTRL_RESYNC_FINISHED",
    "CTRL_RESYNC_PARTIAL",
    "CTRL_RESYNC_REQUEST",
    "ERR_PROTOCOL",
    "ERR_SIZE_LIMIT",
    "KEY_TYPES",
    "MAX_MESSAGE",
    "PROTOCOL",
    "STKT_ACK",
    "STKT_DEFINE",
    "STKT_INCUPDATE",
    "STKT_INCUPDATE_TIMED",
    "STKT_SWITCH",
    "STKT_UPDATE",
    "STKT_UPDATE_TIMED",
    "Definition",
    "Hello",
    "Incomplete",
    "Message",
    "MessageReader",
    "ProtocolError",
    "Reader",
    "Update",
    "decode_definition",
    "decode_key",
    "decode_varint",
    "encode_definition",
    "encode_key",
    "encode_varint",
    "frame",
    "hello",
    "parse_hello",
    "update_type",
]

PROTOCOL = "HAProxyS"
#: HAProxy's trash buffer (tune.bufsize): a longer message ends the session.
MAX_MESSAGE = 16384

CLASS_CONTROL, CLASS_ERROR, CLASS_STICKTABLE, CLASS_RESERVED = 0, 1, 10, 255
CTRL_RESYNC_REQUEST, CTRL_RESYNC_FINISHED, CTRL_RESYNC_PARTIAL = 0, 1, 2
CTRL_RESYNC_CONFIRM, CTRL_HEARTBEAT = 3, 4
ERR_PROTOCOL, ERR_SIZE_LIMIT = 0, 1
STKT_UPDATE, STKT_INCUPDATE, STKT_DEFINE, STKT_SWITCH = 0x80, 0x81, 0x82, 0x83
STKT_ACK, STKT_UPDATE_TIMED, STKT_INCUPDATE_TIMED = 0x84, 0x85, 0x86

#: The key types on the wire (PEER_KT_*), by the table `type` they carry.
KEY_TYPES: dict[str, int] = {"integer": 2, "ip": 4, "ipv6": 5, "string": 6, "binary": 7}

_ENC_2BYTES_MIN = 0xF0
_U64 = 2**64 - 1


class ProtocolError(ValueError):
    """The peer broke the protocol: HAProxy answers with a protocol error and closes."""


class Incomplete(Exception):
    """More bytes are needed."""


def encode_varint(value: int) -> bytes:
    """`intencode`: a 64-bit unsigned integer (a negative one as its two's complement)."""
    value &= _U64
    if value < _ENC_2BYTES_MIN:
        return bytes((value,))
    out = bytearray(((value | _ENC_2BYTES_MIN) & 0xFF,))
    value = (value - _ENC_2BYTES_MIN) >> 4
    while value >= 0x80:
        out.append((value | 0x80) & 0xFF)
        value = (value - 0x80) >> 7
    out.append(value)
    return bytes(out)


def decode_varint(data: bytes | bytearray | memoryview, pos: int, end: int) -> tuple[int, int]:
    """`intdecode`: (value, position after it); Incomplete when `end` comes first."""
    if pos >= end:
        raise Incomplete
    value = data[pos]
    pos += 1
    if value >= _ENC_2BYTES_MIN:
        shift = 4
        while True:
            if pos >= end:
                raise Incomplete
            byte = data[pos]
            pos += 1
            value += byte << shift
            shift += 7
            if byte < 0x80:
                break
    return value & _U64, pos


class Reader:
    """A cursor over one message's payload; a short payload is a protocol error."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def varint(self) -> int:
        try:
            value, self.pos = decode_varint(self.data, self.pos, self.end)
        except Incomplete:
            raise ProtocolError("truncated integer") from None
        return value

    def take(self, count: int) -> bytes:
        if self.pos + count > self.end:
            raise ProtocolError("truncated message")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    @property
    def done(self) -> bool:
        return self.pos >= self.end


# -- the handshake ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    """What a connecting peer says: the version, who it calls, who it is."""

    version: tuple[int, int]
    remote: str
    local: str
    pid: int


def hello(remote: str, local: str, pid: int, minor: int = 1) -> bytes:
    """The caller's hello (`peer_prepare_hellomsg`); the relative pid is always 1."""
    return f"{PROTOCOL} 2.{minor}\n{remote}\n{local} {pid} 1\n".encode()


def parse_hello(lines: list[bytes]) -> Hello | int:
    """The three hello lines → Hello, or the status code HAProxy would refuse with
    (501 protocol error, 502 bad version); names are checked by the caller."""
    head = lines[0].decode("latin-1")
    if not head.startswith(PROTOCOL + " "):
        return 501
    major, dot, minor = head[len(PROTOCOL) + 1 :].partition(".")
    if not dot or not major.isdigit() or not minor.isdigit():
        return 502
    if int(major) != 2 or int(minor) > 1:
        return 502
    name, space, rest = lines[2].decode("latin-1").partition(" ")
    if not space:
        return 501
    pid_text = rest.split(" ", 1)[0]
    return Hello(
        (int(major), int(minor)),
        lines[1].decode("latin-1"),
        name,
        int(pid_text) if pid_text.isdigit() else 0,
    )


# -- messages --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    """One message: its class, type and (stick-table messages only) payload."""

    cls: int
    type: int
    payload: bytes = b""


def frame(cls: int, kind: int, payload: bytes = b"") -> bytes:
    """A message's bytes: the header, and for stick-table types the length and payload."""
    if kind & 0x80:
        return bytes((cls, kind)) + encode_varint(len(payload)) + payload
    return bytes((cls, kind))


@dataclass(slots=True)
class MessageReader:
    """Splits a byte stream into messages (`peer_recv_msg`)."""

    _buffer: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> Iterator[Message]:
        """Every message `data` completes; ProtocolError for a length past MAX_MESSAGE."""
        buffer = self._buffer
        buffer += data
        pos = 0
        try:
            while len(buffer) - pos >= 2:
                cls, kind = buffer[pos], buffer[pos + 1]
                if not kind & 0x80:
                    pos += 2
                    yield Message(cls, kind)
                    continue
                try:
                    length, start = decode_varint(buffer, pos + 2, len(buffer))
                except Incomplete:
                    if len(buffer) - pos - 2 >= 9:
                        raise ProtocolError("malformed length") from None
                    break
                if length > MAX_MESSAGE:
                    raise ProtocolError("message too large")
                if len(buffer) < start + length:
                    break
                payload = bytes(buffer[start : start + length])
                pos = start + length
                yield Message(cls, kind, payload)
        finally:
            del buffer[:pos]


# -- stick-table definitions and updates -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Definition:
    """A table definition: `types` maps each stored data type's number (HAProxy's
    enum order) to its parameters: (element count, period in ms), 1 and 0 where
    the type has none."""

    table_id: int
    name: str
    key_type: int
    key_size: int
    types: dict[int, tuple[int, int]]
    expire_ms: int = 0

    @property
    def bitfield(self) -> int:
        bits = 0
        for number in self.types:
            bits |= 1 << number
        return bits


def encode_definition(
    definition: Definition, arrays: frozenset[int], rates: frozenset[int]
) -> bytes:
    """`peer_prepare_switchmsg`: the payload of a definition message.  `arrays` and
    `rates` are the data type numbers that carry parameters."""
    name = definition.name.encode()
    out = bytearray(encode_varint(definition.table_id))
    out += encode_varint(len(name)) + name
    out += encode_varint(definition.key_type) + encode_varint(definition.key_size)
    out += encode_varint(definition.bitfield) + encode_varint(definition.expire_ms)
    for number in sorted(definition.types):
        count, period = definition.types[number]
        if number in arrays:
            out += encode_varint(number) + encode_varint(count)
            if number in rates:
                out += encode_varint(period)
        elif number in rates:
            out += encode_varint(number) + encode_varint(period)
    return bytes(out)


def decode_definition(
    payload: bytes, arrays: frozenset[int], rates: frozenset[int]
) -> Definition | None:
    """`peer_treat_definemsg`: the definition, or None when HAProxy would ignore
    it (parameters that disagree with the bitfield); ProtocolError if malformed."""
    reader = Reader(payload)
    table_id = reader.varint()
    name_len = reader.varint()
    if not name_len or reader.pos + name_len >= reader.end:
        raise ProtocolError("malformed table definition")
    name = reader.take(name_len).decode("latin-1")
    key_type = reader.varint()
    key_size = reader.varint()
    bits = reader.varint()
    numbers = [n for n in range(64) if bits >> n & 1]
    types = {n: (1, 0) for n in numbers}
    if reader.done:
        # No expiry, so no parameters: a table storing an array cannot be read.
        if any(n in arrays for n in numbers):
            return None
        return Definition(table_id, name, key_type, key_size, types, 0)
    try:
        expire = reader.varint()
        for number in numbers:
            if number not in arrays and number not in rates:
                continue
            if reader.varint() != number:
                return None
            count = reader.varint() if number in arrays else 1
            period = reader.varint() if number in rates else 0
            types[number] = (count, period)
    except ProtocolError:
        return None
    return Definition(table_id, name, key_type, key_size, types, expire)


@dataclass(frozen=True, slots=True)
class Update:
    """One entry update: `update_id` None for an incremental update (the previous
    id + 1), `expire_ms` None unless timed; `values` is the payload after the key."""

    update_id: int | None
    expire_ms: int | None
    key: bytes
    values: bytes


def update_type(with_id: bool, timed: bool) -> int:
    if timed:
        return STKT_UPDATE_TIMED if with_id else STKT_INCUPDATE_TIMED
    return STKT_UPDATE if with_id else STKT_INCUPDATE


def encode_key(kind: str, key_size: int, key: int | bytes) -> bytes:
    """A key as an update carries it: strings with their length, integers and
    addresses in network order, binary keys at the table's size."""
    if kind == "string":
        assert isinstance(key, bytes)
        return encode_varint(len(key)) + key
    if isinstance(key, int):
        return key.to_bytes(16 if kind == "ipv6" else 4, "big")
    return key[:key_size].ljust(key_size, b"\0")


def decode_key(reader: Reader, kind: str, key_size: int) -> int | bytes:
    """The key of an update, as the stick table stores it."""
    if kind == "string":
        length = reader.varint()
        return reader.take(length)[: key_size - 1]
    if kind in ("integer", "ip"):
        return reader.u32()
    if kind == "ipv6":
        return int.from_bytes(reader.take(16), "big")
    return reader.take(key_size)
