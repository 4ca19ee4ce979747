"""The PROXY protocol, versions 1 (text) and 2 (binary), both directions.

A proxy in front of a proxy hides the client's address; the PROXY header puts
it back.  `send-proxy`/`send-proxy-v2` on a `server` line make us write one as
the first bytes to the server, `accept-proxy` on a `bind` makes us read one
before anything else.  Parsing is incremental (`parse` says "need more bytes"
with `None`) because the header may arrive split across reads.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from balancekit.hashing import crc32c
from balancekit.request import ProxyTlvs

__all__ = [
    "V2_SIGNATURE",
    "ProxyHeader",
    "ProxyProtocolError",
    "encode_local",
    "encode_v1",
    "encode_v2",
    "parse",
]

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
_V1_MAX = 107  # the spec's longest v1 line, CRLF included
_V2_FAMILIES = {0x11: 4, 0x12: 4, 0x21: 6, 0x22: 6}
_PP2_TYPE_AUTHORITY = 0x02
_PP2_TYPE_CRC32C = 0x03
_PP2_TYPE_UNIQUE_ID = 0x05
#: The longest authority and unique ID HAProxy accepts (PP2_AUTHORITY_MAX, UNIQUEID_LEN).
_AUTHORITY_MAX = 255
_UNIQUE_ID_MAX = 128


class ProxyProtocolError(ValueError):
    """The peer did not send a valid PROXY header: the connection must be closed."""


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    """What a PROXY header says.  `local` (v2 LOCAL, v1 UNKNOWN) means "use the
    connection's own addresses": a health check or the proxy speaking for itself."""

    src: str = ""
    src_port: int = 0
    dst: str = ""
    dst_port: int = 0
    local: bool = False
    version: int = 1
    #: The TLVs HAProxy reads (v2 only): None when the header carried neither.
    tlvs: ProxyTlvs | None = None


def _family(address: str) -> int:
    return ipaddress.ip_address(address).version


def encode_v1(src: str, src_port: int, dst: str, dst_port: int) -> bytes:
    """`PROXY TCP4 src dst sport dport\\r\\n` (or TCP6; UNKNOWN when families differ)."""
    try:
        fam_src, fam_dst = _family(src), _family(dst)
    except ValueError:
        return b"PROXY UNKNOWN\r\n"
    if fam_src != fam_dst:
        return b"PROXY UNKNOWN\r\n"
    proto = "TCP4" if fam_src == 4 else "TCP6"
    return f"PROXY {proto} {src} {dst} {src_port} {dst_port}\r\n".encode("ascii")


def encode_v2(src: str, src_port: int, dst: str, dst_port: int, *, local: bool = False) -> bytes:
    """The binary v2 header for a TCP stream (LOCAL command when `local`)."""
    if local:
        return V2_SIGNATURE + bytes((0x20, 0x00)) + struct.pack("!H", 0)
    try:
        a_src, a_dst = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    except ValueError:
        return V2_SIGNATURE + bytes((0x21, 0x00)) + struct.pack("!H", 0)
    if a_src.version != a_dst.version:
        # Mixed families: map the IPv4 side into IPv6 as HAProxy does.
        a_src = ipaddress.IPv6Address(f"::ffff:{a_src}") if a_src.version == 4 else a_src
        a_dst = ipaddress.IPv6Address(f"::ffff:{a_dst}") if a_dst.version == 4 else a_dst
    family = 0x11 if a_src.version == 4 else 0x21
    body = a_src.packed + a_dst.packed + struct.pack("!HH", src_port, dst_port)
    return V2_SIGNATURE + bytes((0x21, family)) + struct.pack("!H", len(body)) + body


def encode_local(version: int) -> bytes:
    """The header of a connection opened for no client (a health check): v1
    `UNKNOWN`, v2 `LOCAL`, what HAProxy sends then; the receiver keeps the
    connection's own addresses."""
    return encode_v2("", 0, "", 0, local=True) if version == 2 else b"PROXY UNKNOWN\r\n"


def parse(data: bytes | bytearray) -> tuple[ProxyHeader, int] | None:
    """Parse a v1 or v2 header at the start of `data`.

    Returns (header, bytes consumed), or None when more bytes are needed.
    Raises `ProxyProtocolError` when the data cannot be a PROXY header.
    """
    if not data:
        return None
    if data[:1] == b"\r":
        return _parse_v2(bytes(data))
    if data[:1] == b"P":
        return _parse_v1(bytes(data))
    raise ProxyProtocolError("connection does not start with a PROXY protocol header")


def _parse_v1(data: bytes) -> tuple[ProxyHeader, int] | None:
    if not b"PROXY "[: len(data)] == data[:6]:
        raise ProxyProtocolError("invalid PROXY v1 signature")
    end = data.find(b"\r\n")
    if end < 0:
        if len(data) >= _V1_MAX:
            raise ProxyProtocolError("PROXY v1 line too long")
        return None
    line = data[:end].decode("ascii", "replace")
    words = line.split(" ")
    if len(words) >= 2 and words[1] == "UNKNOWN":
        return ProxyHeader(local=True, version=1), end + 2
    if len(words) != 6 or words[1] not in ("TCP4", "TCP6"):
        raise ProxyProtocolError(f"malformed PROXY v1 line '{line[:_V1_MAX]}'")
    _, proto, src, dst, sport, dport = words
    want = 4 if proto == "TCP4" else 6
    try:
        if _family(src) != want or _family(dst) != want:
            raise ValueError
        src_port, dst_port = int(sport), int(dport)
    except ValueError:
        raise ProxyProtocolError(f"malformed PROXY v1 line '{line}'") from None
    if not (0 <= src_port <= 65535 and 0 <= dst_port <= 65535):
        raise ProxyProtocolError(f"PROXY v1 port out of range in '{line}'")
    return ProxyHeader(src, src_port, dst, dst_port, version=1), end + 2


def _parse_v2(data: bytes) -> tuple[ProxyHeader, int] | None:
    if V2_SIGNATURE[: len(data)] != data[: len(V2_SIGNATURE)]:
        raise ProxyProtocolError("invalid PROXY v2 signature")
    if len(data) < 16:
        return None
    ver_cmd, fam = data[12], data[13]
    (length,) = struct.unpack("!H", data[14:16])
    if ver_cmd >> 4 != 2:
        raise ProxyProtocolError(f"unsupported PROXY protocol version {ver_cmd >> 4}")
    if len(data) < 16 + length:
        return None
    total = 16 + length
    command = ver_cmd & 0x0F
    if command == 0:
        return ProxyHeader(local=True, version=2), total
    if command != 1:
        raise ProxyProtocolError(f"unknown PROXY v2 command {command}")
    version = _V2_FAMILIES.get(fam)
    if version is None:
        return ProxyHeader(local=True, version=2), total  # UNSPEC/unix: keep own addresses
    size = 4 if version == 4 else 16
    need = 2 * size + 4
    if length < need:
        raise ProxyProtocolError("PROXY v2 address block too short")
    body = data[16 : 16 + need]
    src = _unmap(body[:size])
    dst = _unmap(body[size : 2 * size])
    src_port, dst_port = struct.unpack("!HH", body[2 * size : need])
    tlvs = _read_tlvs(data[:total], 16 + need)
    return ProxyHeader(src, src_port, dst, dst_port, version=2, tlvs=tlvs), total


def _read_tlvs(header: bytes, offset: int) -> ProxyTlvs | None:
    """The TLVs after the address block, checked as HAProxy's conn_recv_proxy does:
    each must fit the header, a CRC32C must be 4 bytes and match the header (summed
    with its own value zeroed), an authority or unique ID must not exceed HAProxy's
    buffers; any other type is skipped."""
    authority = unique_id = None
    total = len(header)
    while offset < total:
        if offset + 3 > total:
            raise ProxyProtocolError("PROXY v2 TLV header truncated")
        kind = header[offset]
        (length,) = struct.unpack("!H", header[offset + 1 : offset + 3])
        start, offset = offset + 3, offset + 3 + length
        if offset > total:
            raise ProxyProtocolError("PROXY v2 TLV longer than the header")
        value = header[start:offset]
        if kind == _PP2_TYPE_CRC32C:
            zeroed = header[:start] + bytes(4) + header[offset:]
            if length != 4 or crc32c(zeroed) != struct.unpack("!I", value)[0]:
                raise ProxyProtocolError("PROXY v2 CRC32C mismatch")
        elif kind == _PP2_TYPE_AUTHORITY:
            if length > _AUTHORITY_MAX:
                raise ProxyProtocolError("PROXY v2 authority too long")
            authority = value.decode("latin-1")
        elif kind == _PP2_TYPE_UNIQUE_ID:
            if length > _UNIQUE_ID_MAX:
                raise ProxyProtocolError("PROXY v2 unique ID too long")
            unique_id = value.decode("latin-1")
    if authority is None and unique_id is None:
        return None
    return ProxyTlvs(authority, unique_id)


def _unmap(packed: bytes) -> str:
    # An IPv4 client carried in an IPv6 block (mixed families) is still an IPv4 client.
    address = ipaddress.ip_address(packed)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)
