"""What a TCP proxy reads from a TLS record it does not terminate.

`req.ssl_hello_type`, `res.ssl_hello_type`: the first record of a connection,
looked at in the bytes a content rule inspects, as HAProxy's payload.c does.
"""

from __future__ import annotations

__all__ = ["hello_type"]


def hello_type(data: bytes | bytearray) -> int | None:
    """The handshake message type a TLS (or SSLv3) record at the start of `data`
    carries: 1 for a ClientHello, 2 for a ServerHello.

    Like HAProxy, any record type from 20 to 23 (or 255) with a version of 3.0 or
    later and room for a handshake header counts, once the whole handshake message
    has arrived; otherwise None.
    """
    if len(data) < 9 or not (0x14 <= data[0] <= 0x17 or data[0] == 0xFF):
        return None
    if data[1] < 3 or int.from_bytes(data[3:5], "big") < 4:
        return None
    if len(data) < 9 + int.from_bytes(data[6:9], "big"):
        return None
    return data[5]
