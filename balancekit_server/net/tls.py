"""TLS on the wire: the SNI a connection was served for, and a ClientHello's SNI
read without terminating TLS (`req.ssl_sni`).  The contexts themselves are built
at load by `balancekit.tlsconfig` (re-exported here for the server's callers)."""

from __future__ import annotations

from typing import Any

from balancekit.request import TlsFacts, distinguished_name
from balancekit.tlsconfig import TLSConfigError, apply_options, cert_names, server_context

__all__ = [
    "TLSConfigError",
    "apply_options",
    "cert_names",
    "client_hello_sni",
    "server_context",
    "sni_of",
    "tls_facts",
]


def sni_of(ssl_object: object) -> str:
    """The SNI name the client sent on a connection accepted with `server_context`."""
    return str(getattr(ssl_object, "bk_sni", "") or "")


def tls_facts(ssl_object: Any) -> TlsFacts | None:
    """What the `ssl_fc_*` and `ssl_c_*` fetches read of a finished handshake."""
    if ssl_object is None:
        return None
    cipher = ssl_object.cipher()
    cert = ssl_object.getpeercert() or None  # (empty when none was asked for or sent)
    serial = ""
    if cert is not None:
        serial = str(cert.get("serialNumber", ""))
        serial = ("0" + serial) if len(serial) % 2 else serial
    return TlsFacts(
        protocol=ssl_object.version() or "",
        cipher=cipher[0] if cipher else "",
        alpn=ssl_object.selected_alpn_protocol() or "",
        client_subject=distinguished_name(cert["subject"]) if cert else None,
        client_issuer=distinguished_name(cert.get("issuer", ())) if cert else (),
        client_serial=bytes.fromhex(serial),
        resumed=bool(getattr(ssl_object, "session_reused", False)),
    )


NEED_MORE = "need-more"
"""`client_hello_sni` result: the first TLS record is not complete yet."""


def client_hello_sni(data: bytes | bytearray) -> str | None:
    """The SNI of a TLS ClientHello at the start of `data`, read without terminating TLS.

    This is what `req.ssl_sni` sees in HAProxy (`tcp-request inspect-delay`):
    only the first TLS record is parsed.  Returns the lower-cased name, None
    when the data is not a ClientHello or carries no SNI, or `NEED_MORE`
    while the first record is still incomplete.
    """
    if not data:
        return NEED_MORE
    if data[0] != 0x16:  # not a TLS handshake record
        return None
    if len(data) < 5:
        return NEED_MORE
    record_len = int.from_bytes(data[3:5], "big")
    if len(data) < 5 + record_len:
        return NEED_MORE
    body = bytes(data[5 : 5 + record_len])
    try:
        return _sni_from_handshake(body)
    except (IndexError, ValueError):
        return None


def _sni_from_handshake(body: bytes) -> str | None:
    if not body or body[0] != 0x01:  # ClientHello
        return None
    pos = 4 + 2 + 32  # handshake header, client_version, random
    pos += 1 + body[pos]  # session_id
    pos += 2 + int.from_bytes(body[pos : pos + 2], "big")  # cipher_suites
    pos += 1 + body[pos]  # compression_methods
    end = pos + 2 + int.from_bytes(body[pos : pos + 2], "big")
    pos += 2
    while pos + 4 <= min(end, len(body)):
        kind = int.from_bytes(body[pos : pos + 2], "big")
        size = int.from_bytes(body[pos + 2 : pos + 4], "big")
        ext = body[pos + 4 : pos + 4 + size]
        pos += 4 + size
        if kind != 0:  # server_name
            continue
        i = 2  # server_name_list length
        while i + 3 <= len(ext):
            name_type = ext[i]
            length = int.from_bytes(ext[i + 1 : i + 3], "big")
            name = ext[i + 3 : i + 3 + length]
            i += 3 + length
            if name_type == 0:
                return name.decode("ascii").lower()
        return None
    return None
