"""A stick table as peers see it: its definition, its entries as update messages.

Why separate from the wire codec: this is where HAProxy's data type numbers
meet `StickTable`'s stored types, and where an update from a peer whose table
stores other types than ours is read (only the types both store are kept, as
`peer_treat_updatemsg` does).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..sticktables import DATA_TYPES, StickTable
from ..sticktables.table import WireValue
from .wire import (
    CLASS_STICKTABLE,
    KEY_TYPES,
    STKT_ACK,
    STKT_DEFINE,
    STKT_INCUPDATE_TIMED,
    STKT_UPDATE,
    STKT_UPDATE_TIMED,
    Definition,
    ProtocolError,
    Reader,
    decode_definition,
    decode_key,
    encode_definition,
    encode_key,
    encode_varint,
    frame,
    update_type,
)

__all__ = ["ARRAYS", "RATES", "SharedTable", "decode_definition", "decode_update", "decode_values"]

#: Data type numbers whose definitions carry parameters.
ARRAYS = frozenset(t.order for t in DATA_TYPES.values() if t.is_array)
RATES = frozenset(t.order for t in DATA_TYPES.values() if t.std == "frqp")
_BY_NUMBER = {t.order: t for t in DATA_TYPES.values()}


@dataclass(slots=True)
class SharedTable:
    """One table of a peers section: `name` is what goes on the wire (the proxy's
    name, or `/<name>` for a peers section's own `table`), `table_id` our number
    for it in this section."""

    table: StickTable
    name: str
    table_id: int

    def definition(self) -> Definition:
        table = self.table
        types = {s.type.order: (s.count, s.period_ms) for s in table.store}
        return Definition(
            self.table_id,
            self.name,
            KEY_TYPES[table.key_type.kind],
            table.key_type.size,
            types,
            table.expire_ms or 0,
        )

    def define_message(self) -> bytes:
        return frame(
            CLASS_STICKTABLE, STKT_DEFINE, encode_definition(self.definition(), ARRAYS, RATES)
        )

    def matches(self, remote: Definition) -> bool:
        """Whether a peer's definition is of this table (name, key type and size)."""
        table = self.table
        return (
            remote.name == self.name
            and remote.key_type == KEY_TYPES[table.key_type.kind]
            and remote.key_size == table.key_type.size
        )

    def update_message(self, slot: int, update_id: int, now: int, *, timed: bool) -> bytes | None:
        """The update for the entry in `slot` (None if it is gone): with its id, and
        with the time it has left when `timed` (a resync)."""
        table = self.table
        key = table.key_at(slot)
        if key is None:
            return None
        remain, values = table.wire_values(slot, now)
        out = bytearray(update_id.to_bytes(4, "big"))
        if timed:
            out += (remain & 0xFFFFFFFF).to_bytes(4, "big")
        out += encode_key(table.key_type.kind, table.key_type.size, key)
        for _stored, elements in values:
            for value in elements:
                if isinstance(value, tuple):
                    out += b"".join(encode_varint(v) for v in value)
                elif isinstance(value, str):
                    text = value.encode()
                    # A one-off dictionary entry: id 1 and the text, never cached.
                    body = encode_varint(1) + encode_varint(len(text)) + text
                    out += encode_varint(len(body)) + body
                elif value is None:
                    out += encode_varint(0)
                else:
                    out += encode_varint(value)
        return frame(CLASS_STICKTABLE, update_type(True, timed), bytes(out))

    def ack_message(self, remote_id: int, update_id: int) -> bytes:
        payload = encode_varint(remote_id) + (update_id & 0xFFFFFFFF).to_bytes(4, "big")
        return frame(CLASS_STICKTABLE, STKT_ACK, payload)


def decode_values(
    reader: Reader, remote: Definition, dictionary: dict[int, str]
) -> dict[str, list[WireValue]]:
    """The values after an update's key, per the sender's definition.  `dictionary`
    is the session's server-key cache (ids the sender numbered)."""
    values: dict[str, list[WireValue]] = {}
    for number in sorted(remote.types):
        kind = _BY_NUMBER.get(number)
        if kind is None:
            raise ProtocolError(f"unknown data type {number}")
        count = remote.types[number][0] if kind.is_array else 1
        elements: list[WireValue] = []
        for _ in range(count):
            if kind.std == "frqp":
                elements.append((reader.varint(), reader.varint(), reader.varint()))
            elif kind.std == "dict":
                elements.append(_dict_entry(reader, dictionary))
            else:
                value = reader.varint()
                if kind.std == "sint" and value >= 2**63:
                    value -= 2**64
                elements.append(value)
        values[kind.name] = elements
    return values


def _dict_entry(reader: Reader, dictionary: dict[int, str]) -> str | None:
    """A server key: 0 for none, else a length, then an id, then maybe the text."""
    length = reader.varint()
    if not length:
        return None
    end = reader.pos + length
    if end > reader.end:
        raise ProtocolError("truncated dictionary entry")
    inner = Reader(reader.data, reader.pos, end)
    entry_id = inner.varint()
    if not entry_id:
        raise ProtocolError("dictionary entry 0")
    if inner.done:
        reader.pos = end
        return dictionary.get(entry_id)
    text = inner.take(inner.varint()).decode("latin-1")
    dictionary[entry_id] = text
    reader.pos = end
    return text


def decode_update(
    payload: bytes,
    kind: int,
    remote: Definition,
    table: StickTable,
    dictionary: dict[int, str],
    last_id: int,
) -> tuple[int, int | bytes, int | None, dict[str, list[WireValue]]]:
    """An update message → (update id, key, expiry in ms or None, values)."""
    reader = Reader(payload)
    if kind in (STKT_UPDATE, STKT_UPDATE_TIMED):
        update_id = reader.u32()
    else:
        update_id = (last_id + 1) & 0xFFFFFFFF
    expire = reader.u32() if kind in (STKT_UPDATE_TIMED, STKT_INCUPDATE_TIMED) else None
    if expire is not None and expire >= 2**31:
        expire -= 2**32
    key = decode_key(reader, table.key_type.kind, table.key_type.size)
    return update_id, key, expire, decode_values(reader, remote, dictionary)
