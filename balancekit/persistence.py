"""Cookie persistence (`cookie <name> insert|rewrite|prefix …`), as HAProxy 2.6 does it.

Sans-IO: the engines hand in the request's `Cookie` header values, the servers'
cookie values and states and the time, and get back the server to use, the
header values to forward and the two cookie letters of `%tsc`; on the way back
they hand in the response's `Set-Cookie` values and get back what to forward
and what to add.  The byte-level edits follow HAProxy's (http_ana.c:
`http_manage_client_side_cookies`, `http_manage_server_side_cookies` and the
insertion in `http_process_res_common`), so a client sees the same headers
behind balancekit as behind HAProxy.

Dates (`maxidle`/`maxlife`) travel in the cookie value as HAProxy writes them:
`SRV|<last seen>|<first seen>`, each a 30-bit count of 4-second units since the
epoch in five base64 characters.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .acl.conditions import Condition
from .hashing import xxh64
from .pool import Backend
from .request import Request
from .units import MAX_SECONDS_MS, parse_time

__all__ = [
    "CookiePolicy",
    "CookieServer",
    "DynamicCookies",
    "PersistRule",
    "RequestCookies",
    "ResponseCookies",
    "cacheable_cookie",
    "decode_date",
    "dynamic_cookie",
    "encode_date",
    "parse_cookie_keyword",
    "read_request_cookies",
    "rewrite_response_cookies",
]

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_VALUE = {ord(c): i for i, c in enumerate(_B64)}
_SPHT = b" \t"
_DAY = 86400
_EXPIRED = b"; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/"

CookieMode = Literal["passive", "insert", "rewrite", "prefix"]


@dataclass(frozen=True, slots=True)
class CookiePolicy:
    """A backend's `cookie` line.  `mode` is "passive" when none of `insert`,
    `rewrite`, `prefix` is given (the cookie is only read)."""

    name: str
    mode: CookieMode = "passive"
    indirect: bool = False
    nocache: bool = False
    postonly: bool = False
    preserve: bool = False
    httponly: bool = False
    secure: bool = False
    domains: tuple[str, ...] = ()
    maxidle: int = 0
    maxlife: int = 0
    attrs: tuple[str, ...] = ()
    # `dynamic`: servers without a `cookie` value get one made from the backend's
    # `dynamic-cookie-key` and their address (`dynamic_cookie`).
    dynamic: bool = False

    @property
    def logged(self) -> bool:
        """Whether `%tsc` shows the cookie letters: HAProxy prints `--` for a
        cookie that is only read (no insert/rewrite/prefix/indirect)."""
        return self.mode != "passive" or self.indirect


@dataclass(frozen=True, slots=True)
class PersistRule:
    """`force-persist` ("force") or `ignore-persist` ("ignore") with its condition
    (anything with `matches(request)`); the first rule that matches applies."""

    kind: Literal["force", "ignore"]
    condition: Condition

    @staticmethod
    def verdict(rules: Sequence[PersistRule], request: Request) -> str | None:
        """ "force", "ignore" or None for `request` (HAProxy's persist_rules walk)."""
        for rule in rules:
            if rule.condition.matches(request):
                return rule.kind
        return None


@dataclass(frozen=True, slots=True)
class CookieServer:
    """What persistence needs of a server: its `cookie` value and whether it is
    up (a server in maintenance or failing its checks is down)."""

    name: str
    cookie: str | None
    up: bool


@dataclass(slots=True)
class RequestCookies:
    """The request side's verdict.

    `server`: the server the cookie sends the request to (None: balance as
    usual).  `headers`: what becomes of each `Cookie` value given, in order
    (None: the header goes).  `flag`: `%tsc`'s third letter (N, I, D, V, E, O, U).  `direct`: the
    server was chosen by the cookie (HAProxy's SF_DIRECT)."""

    server: str | None = None
    headers: list[bytes | None] = field(default_factory=list)
    flag: str = "N"
    last_date: int = 0
    first_date: int = 0
    #: A `use-server` rule chose the server before the cookie was read (SF_ASSIGNED):
    #: the cookie is not followed (`U`), and the request counts as direct.
    assigned: bool = False

    @property
    def direct(self) -> bool:
        return self.server is not None or self.assigned


@dataclass(slots=True)
class ResponseCookies:
    """The response side's verdict: what becomes of each `Set-Cookie` value given
    (None: the header goes), the headers to append, and `%tsc`'s fourth letter
    (N, P, D, I, R, U)."""

    headers: list[bytes | None]
    added: list[tuple[bytes, bytes]]
    flag: str = "N"


# -- configuration ----------------------------------------------------------------------


def parse_cookie_keyword(
    args: Sequence[str], parse_seconds: Callable[[str], float] | None = None
) -> CookiePolicy:
    """`cookie <name> [options]` → a policy; ValueError says what HAProxy 2.6 says.

    `parse_seconds` converts `maxidle`/`maxlife` values (HAProxy's time format,
    seconds when no unit is given, up to 2^31-1 s); balancekit.config passes its
    own so that a unit followed by junk warns at its line as elsewhere in the file.
    """
    if not args:
        raise ValueError("'cookie' expects <cookie_name> as argument")
    name, rest = args[0], list(args[1:])
    modes: list[str] = []
    flags: dict[str, bool] = {}
    domains: list[str] = []
    attrs: list[str] = []
    maxidle = maxlife = 0
    while rest:
        word = rest.pop(0)
        if word in ("rewrite", "insert", "prefix"):
            modes.append(word)
        elif word in ("indirect", "nocache", "postonly", "preserve", "httponly", "secure"):
            flags[word] = True
        elif word in ("domain", "maxidle", "maxlife", "attr"):
            if not rest:
                expected = {"domain": "<domain>", "attr": "<value>"}.get(word, "<time>")
                raise ValueError(f"'{word}' expects {expected} as argument")
            value = rest.pop(0)
            if word == "domain":
                bad = next((c for c in value if not (c.isalnum() or c in "-._")), None)
                if bad is not None:
                    raise ValueError(f"character '{bad}' is not permitted in domain name '{value}'")
                domains.append(value)
            elif word == "attr":
                bad = next((c for c in value if ord(c) < 32 or c in ";\x7f"), None)
                if bad is not None:
                    raise ValueError(
                        f"character '%x{ord(bad):02X}' is not permitted in attribute value"
                    )
                attrs.append(value)
            else:
                seconds = _seconds(value, parse_seconds)
                if word == "maxidle":
                    maxidle = seconds
                else:
                    maxlife = seconds
        elif word == "dynamic":
            flags["dynamic"] = True
        else:
            raise ValueError(
                "'cookie' supports 'rewrite', 'insert', 'prefix', 'indirect', 'nocache', "
                "'postonly', 'domain', 'maxidle', 'dynamic', 'maxlife' and 'attr' options"
            )
    if "rewrite" in modes and flags.get("indirect"):
        raise ValueError("cookie 'rewrite' and 'indirect' modes are incompatible")
    if len(set(modes)) > 1:
        raise ValueError("cookie 'rewrite', 'insert' and 'prefix' modes are incompatible")
    mode: CookieMode = modes[0] if modes else "passive"  # type: ignore[assignment]
    if flags.get("preserve") and mode != "insert" and not flags.get("indirect"):
        raise ValueError("cookie 'preserve' requires at least 'insert' or 'indirect'")
    return CookiePolicy(
        name,
        mode,
        domains=tuple(domains),
        maxidle=maxidle,
        maxlife=maxlife,
        attrs=tuple(attrs),
        **flags,
    )


def dynamic_cookie(key: str, address: str, port: int | None) -> str | None:
    """HAProxy's srv_set_dyncookie: XXH64 of the secret key, the server's address
    bytes (4 or 16) and its port as 4 big-endian bytes, in 16 hex digits.  Every
    balancer with the same key names a server alike.  None for an address that is
    not an IP (HAProxy resolves names first; see docs/persistence-and-limits.md)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    material = key.encode() + ip.packed + (port or 0).to_bytes(4, "big")
    return f"{xxh64(material):016x}"


@dataclass(slots=True)
class DynamicCookies:
    """A backend's `cookie … dynamic` state, which the runtime API changes (`set
    dynamic-cookie-key backend`, `enable|disable dynamic-cookie backend`).
    `explicit` names the servers whose value comes from their own `cookie` option
    (HAProxy's SRV_F_COOKIESET): those are never generated nor cleared."""

    key: str | None = None
    enabled: bool = False
    explicit: frozenset[str] = frozenset()
    #: Server host names and the address each resolved to. HAProxy hashes the
    #: address it resolved at start (`init-addr libc`); the library reads no
    #: network, so the front end that resolves names fills this in.
    addresses: dict[str, str] = field(default_factory=dict)

    def value(self, address: str, port: int | None) -> str | None:
        """A generated value, None while disabled, without a key, or for a host
        name nobody resolved."""
        if not self.enabled or self.key is None:
            return None
        return dynamic_cookie(self.key, self.addresses.get(address, address), port)

    def refresh(self, backend: Backend, server: str | None = None) -> None:
        """HAProxy's srv_set_dyncookie on one server or all: a generated value for
        each server without its own (nothing changes while disabled)."""
        if not self.enabled or self.key is None:
            return
        for member in backend.members:
            if member.name not in self.explicit and server in (None, member.name):
                backend.set_cookie(member.name, self.value(member.server.host, member.server.port))

    def disable(self, backend: Backend) -> None:
        """`disable dynamic-cookie backend`: generated values are dropped."""
        self.enabled = False
        for member in backend.members:
            if member.name not in self.explicit:
                backend.set_cookie(member.name, None)


def _seconds(value: str, parse_seconds: Callable[[str], float] | None) -> int:
    if parse_seconds is None:
        return int(parse_time(value, default_unit="s", maximum_ms=MAX_SECONDS_MS))
    return int(parse_seconds(value))


# -- dates ------------------------------------------------------------------------------


def encode_date(seconds: int) -> bytes:
    """HAProxy's `s30tob64((seconds + 3) >> 2)`: five base64 characters."""
    return _encode_units((seconds + 3) >> 2)


def _encode_units(units: int) -> bytes:
    """`s30tob64`: a count of 4-second units in five base64 characters."""
    units &= 0x3FFFFFFF
    return "".join(_B64[(units >> shift) & 0x3F] for shift in (24, 18, 12, 6, 0)).encode()


def decode_date(text: bytes) -> int:
    """Seconds encoded by `encode_date` (a multiple of 4), or -1 if malformed."""
    if len(text) < 5:
        return -1
    units = 0
    for byte in text[:5]:
        digit = _B64_VALUE.get(byte)
        if digit is None:
            return -1
        units = (units << 6) | digit
    return units << 2


# -- request side -----------------------------------------------------------------------


def read_request_cookies(
    policy: CookiePolicy,
    values: Sequence[bytes],
    servers: Sequence[CookieServer],
    now: int,
    *,
    persist: bool = False,
    ignore: bool = False,
) -> RequestCookies:
    """Find the persistence cookie among the request's `Cookie` header `values`.

    `persist` is `option persist`/`force-persist` (a down server is still used);
    `ignore` is `ignore-persist` (the cookie is read but not followed: `U`).
    `now` is the wall clock in seconds (HAProxy compares cookie dates to it).
    """
    out = RequestCookies()
    for value in values:
        out.headers.append(_client_header(policy, value, servers, now, persist, ignore, out))
    return out


def _client_header(
    policy: CookiePolicy,
    value: bytes,
    servers: Sequence[CookieServer],
    now: int,
    persist: bool,
    ignore: bool,
    out: RequestCookies,
) -> bytes | None:
    """One `Cookie` header: updates `out`, returns its new value (None: removed)."""
    name = policy.name.encode()
    buf = bytearray(value)
    end = len(buf)
    delete_from: int | None = None
    keep_header = False
    prev = 0
    first = True
    while prev < end:
        att_beg = prev if first else prev + 1
        first = False
        while att_beg < end and buf[att_beg] in _SPHT:
            att_beg += 1
        equal = att_end = att_beg
        while equal < end:
            c = buf[equal]
            if c in b"=,;":
                break
            equal += 1
            if c not in _SPHT:
                att_end = equal
        if equal < end and buf[equal] == ord("="):
            val_beg = equal + 1
            while val_beg < end and buf[val_beg] in _SPHT:
                val_beg += 1
            nxt = _cookie_value_end(buf, val_beg, end)
            val_end = nxt
            while val_end > val_beg and buf[val_end - 1] in _SPHT:
                val_end -= 1
        else:
            val_beg = val_end = nxt = equal
        if att_beg < end and buf[att_beg] == ord("$"):
            prev = nxt
            continue
        valued = equal != nxt  # a cookie without '=' is never ours
        if valued and (att_end != equal or val_beg > equal + 1):
            # Spaces around '=' are removed, as HAProxy does before anything else.
            removed = (equal - att_end) + (val_beg - equal - 1)
            del buf[equal + 1 : val_beg]
            del buf[att_end:equal]
            equal = att_end
            val_beg = equal + 1
            val_end -= removed
            nxt -= removed
            end -= removed
        if valued and buf[att_beg:att_end] == name:
            delim = _read_ours(policy, buf, val_beg, val_end, servers, now, persist, ignore, out)
            if policy.mode == "prefix" and delim != val_end:
                # The server's own cookie comes back without the prefix.
                delta = val_beg - (delim + 1)
                del buf[val_beg : delim + 1]
                val_end += delta
                nxt += delta
                end += delta
                delete_from = None
                keep_header = True
            elif delete_from is None and policy.mode == "insert" and policy.indirect:
                delete_from = prev
        else:
            # Not ours: kept, and a removal of ours waiting before it is done now.
            keep_header = True
            if delete_from is not None:
                delta = _delete_value(buf, delete_from, prev, end)
                nxt += delta
                end += delta
                delete_from = None
        prev = nxt
    if delete_from is not None:
        end = delete_from if keep_header else 0
    if end == 0:
        return None
    return bytes(buf[:end])


def _read_ours(
    policy: CookiePolicy,
    buf: bytearray,
    val_beg: int,
    val_end: int,
    servers: Sequence[CookieServer],
    now: int,
    persist: bool,
    ignore: bool,
    out: RequestCookies,
) -> int:
    """Our cookie's value is `buf[val_beg:val_end]`: pick its server, set the flag.
    Returns where the server's identifier ends (HAProxy's `delim`)."""
    if policy.mode == "prefix":
        tilde = buf.find(b"~", val_beg, val_end)
        delim = val_end if tilde < 0 else tilde
    else:
        delim = val_end
        bar = buf.find(b"|", val_beg, val_end)
        if bar >= 0:
            delim = bar
            bar += 1
            if val_end - bar >= 5:
                date = decode_date(bytes(buf[bar : bar + 5]))
                if date > 0:
                    out.last_date = date
            second = buf.find(b"|", bar, val_end)
            if second >= 0 and val_end - second > 5:
                date = decode_date(bytes(buf[second + 1 : second + 6]))
                if date > 0:
                    out.first_date = date
    # Too old (maxlife) or idle too long (maxidle): as if there were no cookie.
    stale = "O" if _outlived(out.first_date, policy.maxlife, now) else ""
    if not stale and _outlived(out.last_date, policy.maxidle, now):
        stale = "E"
    if stale:
        out.flag = stale
        delim = val_beg
        out.first_date = out.last_date = 0
    wanted = bytes(buf[val_beg:delim])
    found: CookieServer | None = None
    if delim != val_beg and not ignore and out.server is None:
        for server in servers:
            if server.cookie is not None and server.cookie.encode() == wanted:
                if server.up or persist:
                    out.flag = "V" if server.up else "D"
                    out.server = server.name
                    found = server
                    break
                out.flag = "D"
    if found is None and out.flag not in ("D", "E", "O"):
        out.flag = "U" if (ignore or out.server is not None) else "I"
    return delim


def _outlived(date: int, limit: int, now: int) -> bool:
    """A cookie date past `limit` seconds, or more than a day ahead (HAProxy lets
    admins fix a clock without sending everyone elsewhere)."""
    return bool(date and limit and (now - date > limit or date - now > _DAY))


def _cookie_value_end(buf: bytes | bytearray, start: int, end: int) -> int:
    """Where a cookie value ends: `;` or `,` outside double quotes."""
    quoted = escaped = False
    for i in range(start, end):
        c = buf[i]
        if escaped:
            escaped = False
        elif quoted:
            if c == 0x5C:
                escaped = True
            elif c == 0x22:
                quoted = False
        elif c == 0x22:
            quoted = True
        elif c in b",;":
            return i
    return end


def _delete_value(buf: bytearray, start: int, nxt: int, end: int) -> int:
    """Remove the cookie between delimiter `start` and delimiter `nxt` (HAProxy's
    `http_del_hdr_value`); returns how much `end` moved (negative)."""
    prev = start
    if prev == 0:
        if nxt < end:
            nxt += 1
        while nxt < end and buf[nxt] in _SPHT:
            nxt += 1
        del buf[0:nxt]
        return -nxt
    while buf[prev - 1] in _SPHT:
        prev -= 1
    kept = bytearray()
    if nxt < end:
        kept.append(buf[nxt])  # the delimiter stays, then one space if there was room
        if prev + 1 < nxt:
            kept.append(0x20)
        nxt += 1
        while nxt < end and buf[nxt] in _SPHT:
            nxt += 1
    buf[prev:nxt] = kept
    return len(kept) - (nxt - prev)


# -- response side ----------------------------------------------------------------------


def rewrite_response_cookies(
    policy: CookiePolicy,
    values: Sequence[bytes],
    *,
    server: CookieServer | None,
    request: RequestCookies,
    method: bytes,
    cacheable: bool,
    now: int,
    ignore: bool = False,
) -> ResponseCookies:
    """Apply the policy to the response's `Set-Cookie` `values` and decide what to add.

    `server` is the server that answered (None: no server, e.g. a local page);
    `cacheable` is `response_cacheable(...)` for this response (nocache only acts
    on cacheable answers).
    """
    out = ResponseCookies([], [])
    name = policy.name.encode()
    for value in values:
        out.headers.append(_server_header(policy, name, value, server, request.direct, ignore, out))
    if server is None or policy.mode != "insert" or ignore:
        return out
    if out.flag == "P" and policy.preserve:
        return out
    if policy.postonly and method != b"POST":
        return out
    refresh = (
        not request.direct
        or (
            (policy.maxidle or request.last_date)
            and (not request.last_date or request.last_date - now < 0)
        )
        or (policy.maxlife and not request.first_date)
        or (not policy.maxlife and request.first_date)
    )
    if not refresh:
        return out
    if server.cookie is None:
        cookie = name + b"=" + _EXPIRED
    else:
        cookie = name + b"=" + server.cookie.encode()
        if policy.maxidle or policy.maxlife:
            cookie += b"|" + encode_date(now)
            if policy.maxlife:
                first = request.first_date
                # The first visit's date as it came (HAProxy writes `first >> 2`).
                cookie += b"|" + (_encode_units(first >> 2) if first else encode_date(now))
        cookie += b"; path=/"
    if policy.domains:
        cookie += b"; domain=" + b"; domain=".join(d.encode() for d in policy.domains)
    if policy.httponly:
        cookie += b"; HttpOnly"
    if policy.secure:
        cookie += b"; Secure"
    if policy.attrs:
        cookie += b"; " + b"; ".join(a.encode() for a in policy.attrs)
    out.added.append((b"Set-Cookie", cookie))
    out.flag = "U" if server.cookie is not None and request.direct else "I"
    if policy.nocache and cacheable:
        out.added.append((b"Cache-control", b"private"))
    return out


def _server_header(
    policy: CookiePolicy,
    name: bytes,
    value: bytes,
    server: CookieServer | None,
    direct: bool,
    ignore: bool,
    out: ResponseCookies,
) -> bytes | None:
    """One `Set-Cookie` value (its first `name=value` is the cookie; the rest are
    attributes): returns the value to forward, or None to drop the header."""
    att_beg = 0
    end = len(value)
    while att_beg < end and value[att_beg] in _SPHT:
        att_beg += 1
    equal = value.find(b"=", att_beg)
    semi = value.find(b";", att_beg)
    if equal < 0 or (0 <= semi < equal):
        return value  # no value: not a cookie HAProxy looks at
    att_end = equal
    while att_end > att_beg and value[att_end - 1] in _SPHT:
        att_end -= 1
    val_beg = equal + 1
    while val_beg < end and value[val_beg] in _SPHT:
        val_beg += 1
    val_end = _cookie_value_end(value, val_beg, end)
    while val_end > val_beg and value[val_end - 1] in _SPHT:
        val_end -= 1
    if att_end != equal or val_beg != equal + 1:
        # HAProxy strips spaces around '=' in the header it forwards.
        value = value[:att_end] + b"=" + value[val_beg:]
        shift = val_beg - (att_end + 1)
        val_beg -= shift
        val_end -= shift
    if ignore or value[att_beg:att_end] != name:
        return value
    out.flag = "P"
    if policy.preserve:
        return value
    if (server is not None and policy.mode == "insert") or (direct and policy.indirect):
        out.flag = "D"
        return None
    if server is not None and server.cookie is not None:
        if policy.mode == "rewrite":
            out.flag = "R"
            return value[:val_beg] + server.cookie.encode() + value[val_end:]
        if policy.mode == "prefix":
            out.flag = "R"
            return value[:val_beg] + server.cookie.encode() + b"~" + value[val_beg:]
    return value


def cacheable_cookie(
    method: bytes,
    status: int,
    server_headers: Sequence[tuple[bytes, bytes]],
    headers: Sequence[tuple[bytes, bytes]],
) -> bool:
    """`option checkcache`: whether an answer would let a shared cache store the
    cookie its server set (HAProxy 2.6 blocks it).  The cookie is the server's
    (`server_headers`); whether the answer may be cached is read on `headers`, as
    the cookie persistence left them (its `nocache` makes an answer private).  A
    `no-cache="set-cookie"` directive keeps the cookie out of caches, unless a later
    `public` lets it in again, as HAProxy reads the directives in order."""
    if not any(n.lower() in (b"set-cookie", b"set-cookie2") for n, _ in server_headers):
        return False
    if not response_cacheable(method, status, headers):
        return False
    cookie = True
    for n, v in headers:
        if n.lower() == b"cache-control":
            for item in v.split(b","):
                word = item.strip().lower()
                if word == b"public":
                    cookie = True
                elif word.startswith(b'no-cache="set-cookie'):
                    cookie = False
    return cookie


def response_cacheable(method: bytes, status: int, headers: Sequence[tuple[bytes, bytes]]) -> bool:
    """HAProxy's TX_CACHEABLE for a response: a safe method, a status cacheable by
    default, no `Pragma: no-cache`, nothing in `Cache-Control` that forbids it,
    and freshness information or a validator (RFC 7234 §3)."""
    if method not in (b"GET", b"HEAD", b"OPTIONS", b"TRACE"):
        return False
    if status not in (200, 203, 204, 206, 300, 301, 404, 405, 410, 414, 501):
        return False
    cacheable = True
    fresh = False
    pragma = next((v for n, v in headers if n.lower() == b"pragma"), None)
    if pragma is not None and pragma.strip().lower() == b"no-cache":
        return False
    for n, v in headers:
        if n.lower() != b"cache-control":
            continue
        for item in v.split(b","):
            word = item.strip().lower()
            if word == b"public":
                cacheable = True
            elif word in (b"private", b"no-cache", b"no-store", b"max-age=0", b"s-maxage=0"):
                cacheable = False
            elif word.startswith(b'no-cache="set-cookie'):
                continue
            elif word.startswith((b"s-maxage", b"max-age")):
                fresh = True
    if not cacheable:
        return False
    if fresh:
        return True
    names = {n.lower() for n, _ in headers}
    return bool(names & {b"expires", b"etag", b"last-modified"})
