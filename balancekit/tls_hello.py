"""What a TCP proxy reads from a TLS record it does not terminate.

`req.ssl_hello_type`, `res.ssl_hello_type`: the first record of a connection,
looked at in the bytes a content rule inspects, as HAProxy's payload.c does;
`req.ssl_alpn`: the protocols a ClientHello offers.
"""

from __future__ import annotations

__all__ = ["hello_alpn", "hello_pending", "hello_type"]

#: `_read_hello`'s answer while the record is still arriving (payload.c's too_short).
_TOO_SHORT = -1


def hello_type(data: bytes | bytearray) -> int | None:
    """The handshake message type a TLS (or SSLv3) record at the start of `data`
    carries: 1 for a ClientHello, 2 for a ServerHello.

    Like HAProxy, any record type from 20 to 23 (or 255) with a version of 3.0 or
    later and room for a handshake header counts, once the whole handshake message
    has arrived; otherwise None.
    """
    kind = _read_hello(data)
    return None if kind == _TOO_SHORT else kind


def hello_pending(data: bytes | bytearray) -> bool:
    """Whether more bytes could still make `data` a hello (HAProxy's
    SMP_F_MAY_CHANGE for the hello-type fetches): nothing yet, or a record whose
    header or first handshake message has not all arrived."""
    return _read_hello(data) == _TOO_SHORT


def _read_hello(data: bytes | bytearray) -> int | None:
    """payload.c's smp_fetch_ssl_hello_type: the handshake type, None for no
    hello, `_TOO_SHORT` while one may still be arriving."""
    if not data:
        return _TOO_SHORT
    if not (0x14 <= data[0] <= 0x17 or data[0] == 0xFF):
        return None
    if len(data) < 9:
        return _TOO_SHORT
    if data[1] < 3 or int.from_bytes(data[3:5], "big") < 4:
        return None
    if len(data) < 9 + int.from_bytes(data[6:9], "big"):
        return _TOO_SHORT
    return data[5]


def hello_alpn(data: bytes | bytearray) -> list[str]:
    """The ALPN protocol names a TLS ClientHello at the start of `data` offers, in
    its order; empty when `data` holds no whole ClientHello (of TLS 1.0 or later,
    as payload.c requires) or it offers none."""
    if len(data) < 5 or data[0] != 0x16 or data[1] < 3:
        return []
    size = int.from_bytes(data[3:5], "big")
    hello = bytes(data[5 : 5 + size])
    if len(hello) < size or not hello or hello[0] != 0x01:
        return []
    try:
        extensions = _extensions(hello)
    except (IndexError, ValueError):
        return []
    body = extensions.get(16)  # application_layer_protocol_negotiation
    if body is None or len(body) < 3:
        return []
    names: list[str] = []
    at, end = 2, 2 + int.from_bytes(body[:2], "big")
    while at < min(end, len(body)):
        length = body[at]
        if at + 1 + length > len(body):
            break
        names.append(body[at + 1 : at + 1 + length].decode("latin-1"))
        at += 1 + length
    return names


def _extensions(hello: bytes) -> dict[int, bytes]:
    """A ClientHello's extensions by type: the message after its 4-byte header is
    version, random, session id, cipher suites, compression methods, extensions."""
    if hello[4] < 3 or hello[5] < 1:  # TLS 1.0 at least
        raise ValueError("not TLS 1.0 or later")
    at = 4 + 2 + 32
    if hello[at] > 32:
        raise ValueError("bad session id")
    at += 1 + hello[at]
    at += 2 + int.from_bytes(hello[at : at + 2], "big")  # cipher suites
    at += 1 + hello[at]  # compression methods
    end = at + 2 + int.from_bytes(hello[at : at + 2], "big")
    at += 2
    found: dict[int, bytes] = {}
    while at + 4 <= min(end, len(hello)):
        kind = int.from_bytes(hello[at : at + 2], "big")
        size = int.from_bytes(hello[at + 2 : at + 4], "big")
        found.setdefault(kind, hello[at + 4 : at + 4 + size])
        at += 4 + size
    return found
