"""DNS service discovery: `resolvers` sections and what their answers do to servers.

HAProxy 2.6 re-resolves server names while it runs (resolvers.c): a server line
naming `resolvers X` follows its name's A/AAAA records, and a `server-template`
whose name is an SRV name (`_service._proto.name`) fills its slots from the SRV
records: one record (target, port) per server, its weight scaled to HAProxy's
0..256.  This module is the part of that which needs no network and no clock:
reading a section, and deciding which server gets which record.  Asking the
nameservers is the front end's job (balancekit_server.ops.resolvers), which
passes each answer and the time it arrived.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .units import parse_time

__all__ = [
    "HOLD_EVENTS",
    "AddressSlots",
    "AddressUser",
    "Nameserver",
    "Resolvers",
    "SlotChange",
    "SrvRecord",
    "SrvSlots",
    "pick_address",
    "read_resolvers",
    "record_key",
    "srv_weight",
    "xxh32",
]

#: `hold <event>` names, with HAProxy's defaults in seconds (resolvers_new).
HOLD_EVENTS: Mapping[str, float] = {
    "nx": 30.0,
    "other": 30.0,
    "refused": 30.0,
    "timeout": 30.0,
    "valid": 10.0,
    "obsolete": 0.0,
}

#: DNS_HEADER_SIZE and DNS_MAX_UDP_MESSAGE: the range of `accepted_payload_size`.
_PAYLOAD_RANGE = (12, 65535)


@dataclass(frozen=True, slots=True)
class Nameserver:
    """`nameserver <id> <ip>:<port>`: where queries go (UDP)."""

    name: str
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class Resolvers:
    """A `resolvers` section: its nameservers and timers (seconds)."""

    name: str
    nameservers: tuple[Nameserver, ...] = ()
    #: `parse-resolv-conf`: the system's nameservers (/etc/resolv.conf) are added.
    parse_resolv_conf: bool = False
    hold: Mapping[str, float] = field(default_factory=lambda: dict(HOLD_EVENTS))
    resolve_retries: int = 3
    timeout_resolve: float = 1.0
    timeout_retry: float = 1.0
    accepted_payload_size: int = 512
    file: str | None = None
    line: int | None = None


def _atoi(word: str) -> int:
    """C's atoi: leading digits (and sign), 0 when there are none."""
    text = word.strip()
    sign = -1 if text[:1] == "-" else 1
    text = text.lstrip("+-")
    digits = ""
    for char in text:
        if not char.isdigit():
            break
        digits += char
    return sign * int(digits) if digits else 0


def _time(word: str) -> float:
    return parse_time(word, default_unit="ms")


def read_resolvers(
    name: str,
    lines: Sequence[tuple[str, tuple[str, ...]]],
    file: str | None = None,
    line: int | None = None,
    *,
    errors: list[tuple[int, str]] | None = None,
    numbers: Sequence[int] = (),
) -> Resolvers:
    """A `resolvers <name>` section from its (keyword, args) lines, with HAProxy's
    messages (cfg_parse_resolvers).  A bad line goes to `errors` as (its index in
    `lines`, message) when given, else raises ValueError."""
    found: list[Nameserver] = []
    hold = dict(HOLD_EVENTS)
    settings: dict[str, object] = {}
    for index, (keyword, args) in enumerate(lines):
        try:
            _read_line(keyword, args, found, hold, settings)
        except ValueError as exc:
            if errors is None:
                raise
            errors.append((index, str(exc)))
    return Resolvers(
        name,
        tuple(found),
        bool(settings.get("parse_resolv_conf", False)),
        hold,
        int(settings.get("resolve_retries", 3)),  # type: ignore[call-overload]
        float(settings.get("timeout_resolve", 1.0)),  # type: ignore[arg-type]
        float(settings.get("timeout_retry", 1.0)),  # type: ignore[arg-type]
        int(settings.get("accepted_payload_size", 512)),  # type: ignore[call-overload]
        file,
        line,
    )


def _read_line(
    keyword: str,
    args: tuple[str, ...],
    found: list[Nameserver],
    hold: dict[str, float],
    settings: dict[str, object],
) -> None:
    if keyword == "nameserver":
        if len(args) < 2:
            raise ValueError("'nameserver' expects <name> and <addr>[:<port>] as arguments.")
        ident, address = args[0], args[1]
        if any(ns.name == ident for ns in found):
            raise ValueError(f"nameserver '{ident}' has same name as another nameserver.")
        host, _, port = address.rpartition(":")
        host = host.strip("[]")
        if address.startswith("tcp@"):
            raise ValueError(
                "'nameserver' over TCP (tcp@) is an HAProxy feature balancekit does not "
                "support; see docs/configuration.md"
            )
        host = host.removeprefix("udp@").removeprefix("ipv4@").removeprefix("ipv6@")
        if not port:
            raise ValueError(f"'nameserver {ident}' : missing port number: '{address}'")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(
                f"'nameserver {ident}' : invalid address: '{host}' in '{address}'"
            ) from None
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"'nameserver {ident}' : invalid port '{port}'")
        found.append(Nameserver(ident, host, int(port)))
    elif keyword == "parse-resolv-conf":
        settings["parse_resolv_conf"] = True
    elif keyword == "hold":
        if len(args) < 2:
            raise ValueError(
                "'hold' expects an <event> and a <time> as arguments. "
                "<event> can be either 'valid', 'nx', 'refused', 'timeout', or 'other'"
            )
        seconds = _time(args[1])
        if args[0] not in HOLD_EVENTS:
            raise ValueError(
                f"'hold' unknown <event>: '{args[0]}', expects either 'nx', 'timeout', "
                "'valid', 'obsolete' or 'other'."
            )
        hold[args[0]] = seconds
    elif keyword == "accepted_payload_size":
        if not args:
            raise ValueError("'accepted_payload_size' expects <nb> as argument.")
        size = _atoi(args[0])
        low, high = _PAYLOAD_RANGE
        if not low <= size <= high:
            raise ValueError(
                f"'accepted_payload_size' must be between {low} and {high} inclusive "
                f"(was {args[0]})."
            )
        settings["accepted_payload_size"] = size
    elif keyword == "resolve_retries":
        if not args:
            raise ValueError("'resolve_retries' expects <nb> as argument.")
        settings["resolve_retries"] = _atoi(args[0])
    elif keyword == "timeout":
        if not args:
            raise ValueError("'timeout' expects 'retry' or 'resolve' and <time> as arguments.")
        if args[0] not in ("retry", "resolve"):
            raise ValueError(
                f"'timeout' expects 'retry' or 'resolve' and <time> as arguments got '{args[0]}'."
            )
        if len(args) < 2:
            raise ValueError(f"'timeout {args[0]}' expects <time> as argument.")
        settings[f"timeout_{args[0]}"] = _time(args[1])
    elif keyword == "resolution_pool_size":
        raise ValueError(
            "'resolution_pool_size' directive is not supported anymore (it never appeared "
            "in a stable release)."
        )
    else:
        raise ValueError(f"unknown keyword '{keyword}' in 'resolvers' section")


def srv_weight(dns_weight: int) -> int:
    """An SRV weight (0..65535) as a server weight (0..256): HAProxy rounds up, so
    only a weight of 0 gives 0."""
    return (dns_weight + 255) // 256


@dataclass(frozen=True, slots=True)
class SrvRecord:
    """One SRV answer: its target, port and weight, and the target's address when
    the answer carried it (an additional record) or a query found it."""

    target: str
    port: int
    weight: int
    address: str | None = None


@dataclass(frozen=True, slots=True)
class SlotChange:
    """What to do to one server: give it `address`:`port` and `weight`, or (with
    `address` None) put it in maintenance with its address cleared."""

    server: str
    address: str | None
    port: int = 0
    weight: int | None = None
    hostname: str | None = None


@dataclass
class _Held:
    record: SrvRecord
    server: str
    last_seen: float


class SrvSlots:
    """The servers of one `server-template` fed by one SRV name (resolvers.c's
    resolv_check_response and resolv_srvrq_cleanup_srv).

    A record keeps its server as long as it is in the answers, and for `hold
    obsolete` more after it left them; a new record takes the first free server in
    the template's order.  A record without a usable address takes no server.  When
    the name stops resolving for longer than the `hold` of that failure (`nx`,
    `timeout`, ...), every server is freed."""

    def __init__(self, servers: Sequence[str], hold: Mapping[str, float]) -> None:
        self.servers = tuple(servers)
        self.hold = dict(hold)
        self._held: dict[tuple[str, int], _Held] = {}
        self._last_valid: float | None = None

    @property
    def assigned(self) -> dict[str, SrvRecord]:
        """Each filled server's record."""
        return {held.server: held.record for held in self._held.values()}

    def answer(self, now: float, records: Sequence[SrvRecord]) -> list[SlotChange]:
        """A valid answer arrived at `now`: the changes it makes."""
        self._last_valid = now
        records = sorted(records, key=record_key)
        changes: list[SlotChange] = []
        seen: set[tuple[str, int]] = set()
        for record in records:
            key = (record.target.lower().rstrip("."), record.port)
            if key in seen or record.address is None:
                continue
            seen.add(key)
            held = self._held.get(key)
            if held is not None:
                held.last_seen = now
                if held.record != record:
                    held.record = record
                    changes.append(_fill(held.server, record))
        for key, held in list(self._held.items()):
            if key not in seen and now - held.last_seen >= self.hold["obsolete"]:
                del self._held[key]
                changes.append(SlotChange(held.server, None))
        for record in records:
            key = (record.target.lower().rstrip("."), record.port)
            if key in self._held or record.address is None:
                continue
            free = self._free()
            if free is None:
                break
            self._held[key] = _Held(record, free, now)
            changes.append(_fill(free, record))
        return _last_per_server(changes)

    def failure(self, now: float, status: str) -> list[SlotChange]:
        """The name did not resolve (`status`: nx, refused, timeout or other): once
        that lasted past its `hold`, every server is freed."""
        if self._last_valid is not None and now - self._last_valid <= self.hold[status]:
            return []
        changes = [SlotChange(held.server, None) for held in self._held.values()]
        self._held.clear()
        return changes

    def _free(self) -> str | None:
        used = {held.server for held in self._held.values()}
        return next((server for server in self.servers if server not in used), None)


def _fill(server: str, record: SrvRecord) -> SlotChange:
    return SlotChange(server, record.address, record.port, srv_weight(record.weight), record.target)


def _last_per_server(changes: list[SlotChange]) -> list[SlotChange]:
    """A server freed and refilled by one answer gets only its new record."""
    last: dict[str, SlotChange] = {}
    for change in changes:
        last.pop(change.server, None)
        last[change.server] = change
    return list(last.values())


def pick_address(
    addresses: Sequence[str],
    current: str | None,
    taken: Sequence[str],
    prefer: str = "ipv6",
    networks: Sequence[str] = (),
    allow_duplicates: bool = False,
) -> str | None:
    """The address a server named by an A/AAAA name takes from an answer
    (resolv_get_ip_from_response): the preferred family scores 8, a `resolve-net`
    network 4, an address no other server of the backend uses 2 (one in use is
    skipped unless `allow-dup-ip`), the current address 1; the best first one
    wins.  None when no address fits: the server goes to maintenance."""
    nets = [ipaddress.ip_network(net, strict=False) for net in networks]
    best: str | None = None
    best_score = -1
    for text in sorted(addresses, key=record_key):
        ip = ipaddress.ip_address(text)
        score = 8 if (ip.version == 4) == (prefer == "ipv4") else 0
        if any(ip.version == net.version and ip in net for net in nets):
            score += 4
        if text in taken and text != current:
            if not allow_duplicates:
                continue
        else:
            score += 2
        if text == current:
            score += 1
        if score > best_score:
            best, best_score = text, score
    return best


# -- the order HAProxy keeps records in ------------------------------------------------------

_P1, _P2, _P3, _P4, _P5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
_MASK = 0xFFFFFFFF


def _rotl(value: int, bits: int) -> int:
    return ((value << bits) | (value >> (32 - bits))) & _MASK


def xxh32(data: bytes, seed: int = 0) -> int:
    """XXH32 (the xxHash specification), which HAProxy keys its answer records with."""
    length, at = len(data), 0
    if length >= 16:
        lanes = [
            (seed + _P1 + _P2) & _MASK,
            (seed + _P2) & _MASK,
            seed & _MASK,
            (seed - _P1) & _MASK,
        ]
        while at + 16 <= length:
            for lane in range(4):
                word = int.from_bytes(data[at : at + 4], "little")
                lanes[lane] = (_rotl((lanes[lane] + word * _P2) & _MASK, 13) * _P1) & _MASK
                at += 4
        acc = (_rotl(lanes[0], 1) + _rotl(lanes[1], 7) + _rotl(lanes[2], 12)) & _MASK
        acc = (acc + _rotl(lanes[3], 18)) & _MASK
    else:
        acc = (seed + _P5) & _MASK
    acc = (acc + length) & _MASK
    while at + 4 <= length:
        word = int.from_bytes(data[at : at + 4], "little")
        acc = (_rotl((acc + word * _P3) & _MASK, 17) * _P4) & _MASK
        at += 4
    while at < length:
        acc = (_rotl((acc + data[at] * _P5) & _MASK, 11) * _P1) & _MASK
        at += 1
    acc ^= acc >> 15
    acc = (acc * _P2) & _MASK
    acc ^= acc >> 13
    acc = (acc * _P3) & _MASK
    return acc ^ (acc >> 16)


def _labels(name: str) -> bytes:
    """A name in DNS wire form (length-prefixed labels, no root), as HAProxy keeps it."""
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii", "replace")
        out += bytes([len(raw)]) + raw
    return out


def record_key(record: SrvRecord | str) -> int:
    """The key HAProxy files an answer record under (XXH32 of its data, seeded with
    its type); records are walked in key order, so this decides which record a
    free server takes first."""
    if isinstance(record, SrvRecord):
        return xxh32(_labels(record.target), 33)
    ip = ipaddress.ip_address(record)
    return xxh32(ip.packed, 1 if ip.version == 4 else 28)


@dataclass(frozen=True, slots=True)
class AddressUser:
    """A server following an A/AAAA name, with its `resolve-*` options."""

    backend: str
    server: str
    port: int = 0
    prefer: str = "ipv6"
    networks: tuple[str, ...] = ()
    allow_duplicates: bool = False


class AddressSlots:
    """The servers following one A/AAAA name, in configuration order (HAProxy shares
    one resolution per name; its requesters take their pick in that order).

    A server keeps the address it took as long as the address is in the answers (or
    held by `hold obsolete`); one without takes the best address no other server of
    its backend holds (`pick_address`), or goes to maintenance when none is left.
    When the name stops resolving for longer than that failure's `hold`, every
    server loses its address."""

    def __init__(self, users: Sequence[AddressUser], hold: Mapping[str, float]) -> None:
        self.users = tuple(users)
        self.hold = dict(hold)
        self._attached: dict[int, str] = {}
        self._seen: dict[str, float] = {}
        self._last_valid: float | None = None

    @property
    def attached(self) -> dict[tuple[str, str], str]:
        """Each placed server's address, by (backend, server)."""
        return {
            (self.users[i].backend, self.users[i].server): ip for i, ip in self._attached.items()
        }

    def answer(self, now: float, addresses: Sequence[str]) -> list[tuple[AddressUser, SlotChange]]:
        """A valid answer arrived at `now`: the changes it makes, server by server."""
        self._last_valid = now
        for address in addresses:
            self._seen[str(ipaddress.ip_address(address))] = now
        for address, seen in list(self._seen.items()):
            if seen != now and now - seen >= self.hold["obsolete"]:
                del self._seen[address]
        live = list(self._seen)
        changes: list[tuple[AddressUser, SlotChange]] = []
        for index, user in enumerate(self.users):
            if self._attached.get(index) in self._seen:
                continue
            self._attached.pop(index, None)
            taken = [
                ip
                for other, ip in self._attached.items()
                if self.users[other].backend == user.backend
            ]
            picked = pick_address(
                live, None, taken, user.prefer, user.networks, user.allow_duplicates
            )
            if picked is not None:
                self._attached[index] = picked
            changes.append((user, SlotChange(user.server, picked, user.port)))
        return changes

    def failure(self, now: float, status: str) -> list[tuple[AddressUser, SlotChange]]:
        """The name did not resolve (`status`): once that lasted past its `hold`,
        every server loses its address."""
        if self._last_valid is not None and now - self._last_valid <= self.hold[status]:
            return []
        self._attached.clear()
        self._seen.clear()
        return [(user, SlotChange(user.server, None)) for user in self.users]
