"""What a TCP proxy reads from a TLS record it does not terminate.

`req.ssl_hello_type`, `res.ssl_hello_type`: the first record of a connection,
looked at in the bytes a content rule inspects, as HAProxy's payload.c does.
"""

from __future__ import annotations

__all__ = ["hello_pending", "hello_type"]

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
