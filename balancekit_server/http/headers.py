"""Header rewriting between client and server: hop-by-hop removal and added headers.

A proxy must not forward what belongs to one connection (RFC 9110 §7.6.1):
`Connection` and every header it names, `Keep-Alive`, `TE`, `Trailer`,
`Transfer-Encoding` (the proxy re-frames bodies itself), `Upgrade` unless the
request is being upgraded, and `Proxy-*`.  `Host` is kept untouched, as HAProxy
does.  Headers stay `bytes` end to end: decoding them costs time on every
request and gains nothing when they are only copied.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "HOP_BY_HOP",
    "ForwardFor",
    "HeaderEdit",
    "RawHeaders",
    "apply_edits",
    "connection_tokens",
    "strip_hop_by_hop",
]

RawHeaders = list[tuple[bytes, bytes]]

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-connection",
        b"content-length",  # re-added by the framing code, never copied blindly
    }
)


def connection_tokens(headers: Iterable[tuple[bytes, bytes]]) -> set[bytes]:
    """Lower-cased tokens of every `Connection` header (`close`, `upgrade`, names…)."""
    tokens: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            tokens.update(t.strip().lower() for t in value.split(b","))
    return tokens


def strip_hop_by_hop(
    headers: Iterable[tuple[bytes, bytes]], tokens: set[bytes], *, keep_upgrade: bool = False
) -> RawHeaders:
    """Copy `headers` without hop-by-hop ones (framing headers included).

    `tokens` are the `Connection` tokens, computed once by the caller who also
    needs them for keep-alive decisions.
    """
    out: RawHeaders = []
    for name, value in headers:
        low = name.lower()
        if low in HOP_BY_HOP or low in tokens or low.startswith(b"proxy-"):
            if keep_upgrade and low == b"upgrade":
                out.append((name, value))
            continue
        out.append((name, value))
    return out


@dataclass(frozen=True, slots=True)
class ForwardFor:
    """`option forwardfor [except <network>] [header <name>] [if-none]`."""

    header: str = "X-Forwarded-For"
    except_net: str | None = None
    if_none: bool = False

    def __post_init__(self) -> None:
        if self.except_net is not None:
            ipaddress.ip_network(self.except_net, strict=False)

    def apply(self, headers: RawHeaders, src: str) -> None:
        """Append the client address as a new header line, as HAProxy does."""
        if not src:
            return
        if self.except_net is not None and _in_network(src, self.except_net):
            return
        name = self.header.encode("latin-1")
        if self.if_none:
            low = name.lower()
            if any(key.lower() == low for key, _ in headers):
                return
        headers.append((name, src.encode("latin-1")))


def _in_network(src: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(src) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class HeaderEdit:
    """One evaluated `http-request set-header|add-header|del-header` action."""

    action: str  # "set" | "add" | "del"
    name: str
    value: str = ""


def apply_edits(headers: RawHeaders, edits: Sequence[object]) -> RawHeaders:
    """Apply header actions in order; returns the (possibly new) list.

    `edits` items need `action` (set/add/del, optionally suffixed `-header`),
    `name` and `value` attributes, or are `(action, name, value)` tuples, so the
    router's own action objects can be passed straight through.
    """
    for edit in edits:
        if isinstance(edit, tuple):
            action, name = str(edit[0]), str(edit[1])
            value = str(edit[2]) if len(edit) > 2 else ""
        else:
            action = str(getattr(edit, "action", ""))
            name = str(getattr(edit, "name", ""))
            value = str(getattr(edit, "value", "") or "")
        action = action.removesuffix("-header")
        key = name.lower().encode("latin-1")
        if action in ("set", "del"):
            headers = [(n, v) for n, v in headers if n.lower() != key]
        if action in ("set", "add"):
            headers.append((name.encode("latin-1"), value.encode("latin-1")))
        elif action != "del":
            raise ValueError(f"unknown header action '{action}'")
    return headers
