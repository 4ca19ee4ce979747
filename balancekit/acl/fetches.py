"""Sample fetches and converters over a `balancekit.Request`.

A fetch turns a request into zero or more typed samples (HAProxy's sample.c and
http_fetch.c): zero means "no sample" (the ACL expression fails, `-m found` is
false), several means the ACL tries each one (every value of every `hdr`
occurrence).  Expressions such as `req.hdr(host),lower` are parsed and checked
once at load into a `SampleExpr`; evaluating one per request only calls plain
functions.

Sample values are plain Python objects by type: `str` for str and meth, `int`
for sint, `bool` for bool, `(version, int)` for addresses.
"""

from __future__ import annotations

import difflib
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TypeVar, cast

from ..auth import BasicCredentials, Userlist, read_authorization
from ..request import DistinguishedName, Request, ResponseView, split_header_values
from ..sticktables import READS, Entry, KeyInput, StickTable
from ..tls_hello import hello_alpn, hello_pending, hello_type
from ..tracking import MAX_TRACKED, StreamCounters, table_key
from ..variables import VarError, VarName, parse_var_name
from .haproxy_fetches import HAPROXY_CONVERTERS, is_haproxy_fetch
from .patref import PatRefs
from .patterns import PatternError, parse_ip_sample, str_to_int, v4_mask

if TYPE_CHECKING:
    from ..cache import Cache
    from ..pool import Backend

__all__ = [
    "CONVERTERS",
    "FETCHES",
    "REQUEST_HEADER_FETCHES",
    "ConverterDef",
    "FetchDef",
    "FetchError",
    "SampleContext",
    "SampleExpr",
    "VarArgs",
    "can_cast",
    "cast_function",
    "format_sample",
    "parse_sample_expr",
    "sample_expr_end",
    "suggest",
]

Value = object
FetchFn = Callable[[Request, tuple[object, ...]], list[Value]]
MayChangeFn = Callable[[Request, tuple[object, ...]], bool]
ConvFn = Callable[[Value, tuple[object, ...]], Value | None]


class FetchError(ValueError):
    """A sample expression that cannot be compiled; callers add `file:line`."""


class _ArgumentError(FetchError):
    """A bad argument found while the arguments are parsed (HAProxy says "in
    argument to …"), rather than by the fetch's own check ("invalid args in …")."""


@dataclass(frozen=True, slots=True)
class SampleContext:
    """What fetch arguments may name, resolved when an expression is compiled: the
    config's userlists and stick tables, and the proxy the expression is in (its
    table, named after it, is what a left-out `[table]` argument means)."""

    userlists: Mapping[str, Userlist] = field(default_factory=dict)
    tables: Mapping[str, StickTable] = field(default_factory=dict)
    proxy: str = ""
    #: The backends (and listens) by name, each a slot its pool is put in once built:
    #: `nbsrv(<backend>)` may name one declared further down.
    backends: Mapping[str, BackendSlot] = field(default_factory=dict)
    #: The `cache` sections by name (`cache-use`, `cache-store`).
    caches: Mapping[str, Cache] = field(default_factory=dict)
    #: The `http-errors` sections by name: their pages (None: the built-in one).
    http_errors: Mapping[str, Mapping[int, bytes | None]] = field(default_factory=dict)
    #: The config's pattern references (map files, ACL patterns), shared by every user.
    patterns: PatRefs = field(default_factory=PatRefs)
    #: The environment `env()` reads: the process's, as the config's `setenv` lines
    #: left it (None: the process's as it is).
    environ: Mapping[str, str] | None = None


@dataclass(slots=True)
class BackendSlot:
    """Where a `backend` section's pool will be, for the fetches that read it."""

    backend: Backend | None = None


@dataclass(frozen=True, slots=True)
class FetchDef:
    """One sample fetch keyword: its output type, arguments and implementation.

    `args` lists argument kinds ("str", "int", "userlist", "table": a stick table,
    the proxy's own when left out, "table?": left out, the tracked entry's), `required` how many are
    mandatory.  `last` says which value a single-value context (log-format)
    takes when the fetch yields several: HAProxy's `hdr()` takes the last one.
    """

    name: str
    out_type: str
    fn: FetchFn
    args: tuple[str, ...] = ()
    required: int = 0
    last: bool = False
    #: Validates and converts the arguments once at load (raising FetchError),
    #: like HAProxy's val_args hooks (`payload_lv`'s offsets).
    prepare: Callable[[tuple[object, ...]], tuple[object, ...]] | None = None
    #: What the fetch reads, in HAProxy's words (sample.c's fetch_src_names), for
    #: the error where that is not available (a response fetch in a request rule).
    source: str = "HTTP response headers"
    #: Whether a sample read now could still change as more bytes arrive
    #: (HAProxy's SMP_F_MAY_CHANGE): the payload fetches on a short buffer.
    unsettled: MayChangeFn | None = None


@dataclass(frozen=True, slots=True)
class ConverterDef:
    """One converter keyword (`,lower`), typed like HAProxy's sample_conv.

    `prepare` validates and converts the arguments once at load (raising
    FetchError), like HAProxy's val_args hooks.
    """

    name: str
    in_type: str
    out_type: str
    fn: ConvFn
    args: tuple[str, ...] = ()
    required: int = 0
    prepare: Callable[[tuple[object, ...]], tuple[object, ...]] | None = None
    #: As `prepare`, for the converters that load a shared pattern reference
    #: (`map*`): the config's references are passed along.
    prepare_refs: Callable[[tuple[object, ...], PatRefs], tuple[object, ...]] | None = None


# --------------------------------------------------------------------------- casts

#: (from, to) pairs HAProxy accepts at configuration time (sample_casts).
_CASTABLE: frozenset[tuple[str, str]] = frozenset(
    {
        ("bool", "bool"), ("bool", "sint"), ("bool", "str"),
        ("sint", "bool"), ("sint", "sint"), ("sint", "addr"), ("sint", "str"),
        ("ipv4", "sint"), ("ipv4", "addr"), ("ipv4", "str"),
        ("ipv6", "addr"), ("ipv6", "str"),
        ("str", "bool"), ("str", "sint"), ("str", "addr"), ("str", "str"), ("str", "meth"),
        ("meth", "str"), ("meth", "meth"),
        ("bin", "bin"), ("bin", "str"), ("bin", "meth"), ("str", "bin"), ("meth", "bin"),
        ("sint", "bin"), ("bool", "bin"), ("ipv4", "bin"), ("ipv6", "bin"),
    }
)  # fmt: skip


def can_cast(src: str, dst: str) -> bool:
    """Whether a sample of type `src` may feed something expecting `dst` (a
    variable's, "any", is known only when it is read: checked then; a converter
    taking "any", as `table_*`, converts the sample itself)."""
    return src == "any" or dst == "any" or (src, dst) in _CASTABLE


def sample_type(value: Value) -> str:
    """The type of a sample read at run time (a variable's value)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "sint"
    if isinstance(value, str):
        return "str"
    if isinstance(value, bytes):
        return "bin"
    return "ipv4" if cast(tuple[int, int], value)[0] == 4 else "ipv6"


def _dynamic_cast(dst: str) -> Callable[[Value], Value | None]:
    def convert(value: Value) -> Value | None:
        src = sample_type(value)
        if (src, dst) not in _CASTABLE:
            return None
        return cast_function(src, dst)(value)

    return convert


def format_ip(value: tuple[int, int]) -> str:
    version, number = value
    if version == 4:
        return socket.inet_ntop(socket.AF_INET, number.to_bytes(4, "big"))
    return socket.inet_ntop(socket.AF_INET6, number.to_bytes(16, "big"))


def _to_str(value: Value) -> Value | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):  # c_bin2str: the bytes up to the first NUL
        return value.split(b"\0", 1)[0].decode("latin-1")
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return format_ip(value)  # type: ignore[arg-type]


def _to_int(value: Value) -> Value | None:
    if isinstance(value, str):
        return str_to_int(value)
    if isinstance(value, int):
        return int(value)
    version, number = cast(tuple[int, int], value)
    return number if version == 4 else None


def _to_addr(value: Value) -> Value | None:
    if isinstance(value, str):
        return parse_ip_sample(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return (4, value & 0xFFFFFFFF)
    return value


def _identity(value: Value) -> Value | None:
    return value


def _to_bin(value: Value) -> Value | None:
    """HAProxy's casts to binary: a string's bytes, an integer (or boolean) as 8
    bytes in network order, an address as its 4 or 16 bytes."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            return value.encode("latin-1")  # what the proxies decoded the wire with
        except UnicodeEncodeError:
            return value.encode()
    if isinstance(value, int):
        return (int(value) & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big")
    version, number = cast(tuple[int, int], value)
    return number.to_bytes(4 if version == 4 else 16, "big")


def cast_function(src: str, dst: str) -> Callable[[Value], Value | None]:
    """The runtime cast for a pair `can_cast` accepted; None from it means "no sample"."""
    if src == "any" or dst == "any":
        return _identity if dst == "any" else _dynamic_cast(dst)
    if src == dst or (src in ("str", "meth") and dst in ("str", "meth")):
        return _identity
    if dst in ("str", "meth"):
        return _to_str
    if dst == "bin":
        return _to_bin
    if dst in ("sint", "bool"):
        return _to_int
    if dst == "addr":
        return _identity if src in ("ipv4", "ipv6") else _to_addr
    raise FetchError(f"cannot convert {src} to {dst}")  # pragma: no cover - guarded by can_cast


def format_sample(value: Value) -> str:
    """A sample as log-format prints it."""
    text = _to_str(value)
    return text if isinstance(text, str) else "-"


# --------------------------------------------------------------------------- fetches


def _addr(text: str) -> list[Value]:
    parsed = parse_ip_sample(text) if text else None
    return [parsed] if parsed else []


def _src(req: Request, args: tuple[object, ...]) -> list[Value]:
    return _addr(req.src)


def _dst(req: Request, args: tuple[object, ...]) -> list[Value]:
    return _addr(req.dst)


def _src_port(req: Request, args: tuple[object, ...]) -> list[Value]:
    return [] if req.src == "unix" else [req.src_port]  # (a UNIX socket has no port)


def _dst_port(req: Request, args: tuple[object, ...]) -> list[Value]:
    return [] if req.dst == "unix" else [req.dst_port]


def _path(req: Request, args: tuple[object, ...]) -> list[Value]:
    return [req.path] if req.path else []


def _pathq(req: Request, args: tuple[object, ...]) -> list[Value]:
    if not req.path:
        return []
    _, sep, query = req.uri.partition("?")
    return [f"{req.path}?{query}" if sep else req.path]


def _url(req: Request, args: tuple[object, ...]) -> list[Value]:
    return [req.uri] if req.uri else []


def _query(req: Request, args: tuple[object, ...]) -> list[Value]:
    _, sep, query = req.uri.partition("?")
    return [query] if sep else []


def _url_params(req: Request, args: tuple[object, ...]) -> list[Value]:
    name = args[0] if args else None
    delim = args[1] if len(args) > 1 and args[1] else "?"
    uri = req.uri
    start = uri.find(str(delim)[0])
    if start < 0:
        return []
    params = uri[start + 1 :]
    for sep in {";", str(delim)[0]} - {"&"}:
        params = params.replace(sep, "&")
    out: list[Value] = []
    for param in params.split("&"):
        key, eq, value = param.partition("=")
        if eq and (not name or key == name):
            out.append(value)
    return out


def _url_authority(req: Request) -> str | None:
    scheme, sep, rest = req.uri.partition("://")
    if not sep or "/" in scheme:
        return None
    return rest.split("/", 1)[0].split("?", 1)[0]


def _url_ip(req: Request, args: tuple[object, ...]) -> list[Value]:
    authority = _url_authority(req)
    if authority is None:
        return []
    parsed = parse_ip_sample(authority.rsplit(":", 1)[0])
    return [parsed] if parsed and parsed[0] == 4 else []


def _url_port(req: Request, args: tuple[object, ...]) -> list[Value]:
    authority = _url_authority(req)
    if authority is None:
        return []
    _, sep, port = authority.rpartition(":")
    if sep and port.isdigit() and "]" not in port:
        return [int(port)]
    return [80]


def _method(req: Request, args: tuple[object, ...]) -> list[Value]:
    return [req.method]


def _req_ver(req: Request, args: tuple[object, ...]) -> list[Value]:
    _, sep, ver = req.version.partition("/")
    return [ver] if sep and ver else []


def _values(req: Request, name: object) -> list[str]:
    """Every value of every occurrence of header `name` (every header when None)."""
    if name:
        return req.headers.values(str(name))
    out: list[str] = []
    for _, line in req.headers.items:
        out.extend(split_header_values(line))
    return out


def _pick(values: list[str], occ: object) -> list[Value]:
    if not occ:
        return list(values)
    index = int(occ)  # type: ignore[call-overload]
    if index > 0:
        return [values[index - 1]] if index <= len(values) else []
    return [values[index]] if -index <= len(values) else []


def _hdr(req: Request, args: tuple[object, ...]) -> list[Value]:
    return _pick(_values(req, args[0] if args else None), args[1] if len(args) > 1 else None)


def _fhdr(req: Request, args: tuple[object, ...]) -> list[Value]:
    name = args[0] if args else None
    lines = req.headers.occurrences(str(name)) if name else [v for _, v in req.headers.items]
    # Without the spaces around it, as http_find_header reads a whole line (a value
    # a rule wrote, `"sl1: "`, may end with one; the parser strips those it reads).
    lines = [line.strip(" \t") for line in lines]
    return _pick(lines, args[1] if len(args) > 1 else None)


def _hdr_cnt(req: Request, args: tuple[object, ...]) -> list[Value]:
    return [len(_values(req, args[0] if args else None))]


def _fhdr_cnt(req: Request, args: tuple[object, ...]) -> list[Value]:
    name = args[0] if args else None
    return [len(req.headers.occurrences(str(name))) if name else len(req.headers)]


def _hdr_val(req: Request, args: tuple[object, ...]) -> list[Value]:
    return [str_to_int(str(v)) or 0 for v in _hdr(req, args)]


def _hdr_ip(req: Request, args: tuple[object, ...]) -> list[Value]:
    out: list[Value] = []
    for v in _hdr(req, args):
        parsed = parse_ip_sample(str(v))
        if parsed is None and ":" in str(v) and "." in str(v):  # "a.b.c.d:port"
            parsed = parse_ip_sample(str(v).rsplit(":", 1)[0])
        if parsed:
            out.append(parsed)
    return out


def _cookies(req: Request, name: object) -> list[Value]:
    out: list[Value] = []
    for line in req.headers.occurrences("cookie"):
        for crumb in line.split(";"):
            key, eq, value = crumb.strip(" \t").partition("=")
            if eq and (not name or key == name):
                out.append(value)
    return out


def _cook(req: Request, args: tuple[object, ...]) -> list[Value]:
    return _cookies(req, args[0] if args else None)


def _cook_cnt(req: Request, args: tuple[object, ...]) -> list[Value]:
    return [len(_cookies(req, args[0] if args else None))]


def _base(req: Request, args: tuple[object, ...]) -> list[Value]:
    host = req.headers.first_value("host")
    if not host:
        return _path(req, args)
    path = req.path
    return [host + path if path.startswith("/") else host]


def _baseq(req: Request, args: tuple[object, ...]) -> list[Value]:
    host = req.headers.first_value("host")
    pathq = _pathq(req, args)
    if not host:
        return pathq
    path = str(pathq[0]) if pathq else ""
    return [host + path if path.startswith("/") else host]


def _ssl_fc(req: Request, args: tuple[object, ...]) -> list[Value]:
    return [bool(req.ssl)]


def _ssl_fc_sni(req: Request, args: tuple[object, ...]) -> list[Value]:
    return [req.sni] if req.ssl and req.sni else []


def _env(req: Request, args: tuple[object, ...]) -> list[Value]:
    value = args[0]  # the variable's value, read when the expression was compiled
    return [] if value is None else [str(value)]


def _fc_pp_authority(req: Request, args: tuple[object, ...]) -> list[Value]:
    authority = req.pp.authority if req.pp is not None else None
    return [] if authority is None else [authority]


def _fc_pp_unique_id(req: Request, args: tuple[object, ...]) -> list[Value]:
    unique_id = req.pp.unique_id if req.pp is not None else None
    return [] if unique_id is None else [unique_id]


def _ssl_fc_has_sni(req: Request, args: tuple[object, ...]) -> list[Value]:
    return [bool(req.ssl and req.sni)]


def _ssl_fc_protocol(req: Request, args: tuple[object, ...]) -> list[Value]:
    return [req.tls.protocol] if req.tls is not None and req.tls.protocol else []


def _ssl_fc_cipher(req: Request, args: tuple[object, ...]) -> list[Value]:
    return [req.tls.cipher] if req.tls is not None and req.tls.cipher else []


def _ssl_fc_alpn(req: Request, args: tuple[object, ...]) -> list[Value]:
    return [req.tls.alpn] if req.tls is not None and req.tls.alpn else []


def _ssl_c_used(req: Request, args: tuple[object, ...]) -> list[Value]:
    return [req.tls is not None and req.tls.client_subject is not None] if req.ssl else []


def _ssl_c_verify(req: Request, args: tuple[object, ...]) -> list[Value]:
    """X509_V_OK: a certificate that failed verification ended the handshake."""
    return [0] if req.ssl else []


def _fc_err(req: Request, args: tuple[object, ...]) -> list[Value]:
    """The client connection's error code: a request came on it, so none (0)."""
    return [0]


def _ssl_fc_err(req: Request, args: tuple[object, ...]) -> list[Value]:
    """The TLS layer's last error (`ssl_fc_err`), and the client certificate's
    (`ssl_c_err`, `ssl_c_ca_err`): a failed handshake or verification ended the
    connection before any request, so 0 on TLS, nothing without."""
    return [0] if req.ssl else []


def _ssl_fc_is_resumed(req: Request, args: tuple[object, ...]) -> list[Value]:
    return [req.tls is not None and req.tls.resumed]


def _dn(name: DistinguishedName | None, args: tuple[object, ...]) -> list[Value]:
    """ssl_sock_get_dn_oneline (`/C=FR/CN=x`), or with an entry, its value: the
    `occ`-th occurrence (1 by default, negative counts from the end)."""
    if name is None:
        return []
    if not args or not args[0]:
        return ["".join(f"/{key}={value}" for key, value in name)]
    values = [value for key, value in name if key == args[0]]
    occurrence = cast(int, args[1]) if len(args) > 1 and args[1] is not None else 1
    index = occurrence - 1 if occurrence > 0 else occurrence
    if not occurrence or not -len(values) <= index < len(values):
        return []
    return [values[index]]


def _ssl_c_s_dn(req: Request, args: tuple[object, ...]) -> list[Value]:
    return _dn(req.tls.client_subject if req.tls is not None else None, args)


def _ssl_c_i_dn(req: Request, args: tuple[object, ...]) -> list[Value]:
    tls = req.tls
    return _dn(tls.client_issuer if tls is not None and tls.client_subject else None, args)


def _ssl_c_serial(req: Request, args: tuple[object, ...]) -> list[Value]:
    tls = req.tls
    return [tls.client_serial] if tls is not None and tls.client_subject is not None else []


def _req_ssl_sni(req: Request, args: tuple[object, ...]) -> list[Value]:
    return [req.sni] if req.sni else []


def _req_ssl_alpn(req: Request, args: tuple[object, ...]) -> list[Value]:
    return list(hello_alpn(req.payload or b""))


def _req_ssl_hello_type(req: Request, args: tuple[object, ...]) -> list[Value]:
    kind = hello_type(req.payload or b"")
    return [] if kind is None else [kind]


def _const(value: bool) -> FetchFn:
    def fetch(req: Request, args: tuple[object, ...]) -> list[Value]:
        return [value]

    return fetch


def _constant(req: Request, args: tuple[object, ...]) -> list[Value]:
    """`str(x)`, `int(n)`, `bool(n)`, `bin(hex)`, `ipv4(a)`, `ipv6(a)`, `meth(m)`: the
    argument, read once at load as its type (see _prepare_constant)."""
    return [args[0]]


def _prepare_constant(kind: str) -> Callable[[tuple[object, ...]], tuple[object, ...]]:
    def prepare(args: tuple[object, ...]) -> tuple[object, ...]:
        text = str(args[0]) if args else ""
        value: Value
        if kind == "bool":
            truth = {"true": True, "1": True, "false": False, "0": False}.get(text.lower())
            if truth is None:
                raise FetchError("Expects 'true', 'false', '0' or '1'")
            value = truth
        elif kind == "sint":
            number = str_to_int(text) if text.lstrip("+-").isdigit() else None
            if number is None:
                raise FetchError(f"failed to parse '{text}' as an integer")
            value = number
        elif kind == "bin":
            try:
                value = bytes.fromhex(text)
            except ValueError:
                raise FetchError(f"failed to parse '{text}' as hexadecimal bytes") from None
        elif kind in ("ipv4", "ipv6"):
            parsed = parse_ip_sample(text)
            if parsed is None or parsed[0] != int(kind[-1]):
                raise FetchError(f"failed to parse '{text}' as an {kind.upper()} address")
            value = parsed
        else:  # str, meth
            value = text
        return (value,)

    return prepare


def _proto_http(req: Request, args: tuple[object, ...]) -> list[Value]:
    # A TCP view has a version only when its payload parses as an HTTP request
    # (balancekit.h1: HAProxy takes `GET / FOO` for one, and `hello there` not).
    return [bool(req.version)]


def _var(req: Request, args: tuple[object, ...]) -> list[Value]:
    """`var(<name>[,<default>])`: the stream's variable, else the default (a string)."""
    stream, var = req.stream, cast(VarName, args[0])
    if stream is None or not stream.vars.in_phase(var):
        return []  # (vars_get_by_desc: no scope, no default either)
    value = stream.vars.get(var)
    if value is None:
        return [args[1]] if len(args) > 1 else []
    return [value]


def _unique_id(req: Request, args: tuple[object, ...]) -> list[Value]:
    """`unique-id`: the stream's ID, built now if no rule asked for it before."""
    stream = req.stream
    unique_id = None if stream is None else stream.unique_id(req)
    return [] if unique_id is None else [unique_id]


def _captured(response: bool) -> FetchFn:
    """`capture.req.hdr(N)` / `capture.res.hdr(N)`: what the stream's capture slot N
    holds (nothing for a slot never filled or out of range)."""

    def fetch(req: Request, args: tuple[object, ...]) -> list[Value]:
        stream, index = req.stream, args[0]
        slots = None if stream is None else (
            stream.response_captures if response else stream.request_captures
        )  # fmt: skip
        if slots is None or not isinstance(index, int) or not 0 <= index < len(slots):
            return []
        return [slots[index]] if slots[index] else []

    return fetch


def _date(req: Request, args: tuple[object, ...]) -> list[Value]:
    """`date([<offset>][,<unit>])`: now since the epoch, in that unit, plus the offset."""
    offset, per_second = cast(int, args[0]), cast(int, args[1])
    now = time.time()
    return [int(now) * per_second + int(now % 1 * per_second) + offset]


def _uuid(req: Request, args: tuple[object, ...]) -> list[Value]:
    return [str(uuid.uuid4())]  # RFC 4122 version 4, lower-case, as ha_generate_uuid


#: `date`'s and `http_date`'s units: how many of them make a second.
TIME_UNITS = {"s": 1, "ms": 1000, "us": 1_000_000}


def prepare_time_unit(args: tuple[object, ...]) -> tuple[object, ...]:
    """`[<offset>][,<unit>]` of `date` and `http_date` (smp_check_date_unit):
    (offset, units per second, whether a unit was given)."""
    offset = args[0] if args else 0
    unit = str(args[1]) if len(args) > 1 else "s"
    if unit not in TIME_UNITS:
        raise FetchError(f"expects 's', 'ms' or 'us', got '{unit}'")
    return (offset, TIME_UNITS[unit], len(args) > 1)


def _prepare_date(args: tuple[object, ...]) -> tuple[object, ...]:
    return prepare_time_unit(args)[:2]


def _prepare_uuid(args: tuple[object, ...]) -> tuple[object, ...]:
    if args and args[0] != 4:
        raise FetchError(f"Unsupported UUID version: '{args[0]}'")
    return (4,)


def _nbsrv(req: Request, args: tuple[object, ...]) -> list[Value]:
    """The usable servers of a backend (HAProxy's be_usable_srv), read at each use."""
    slot = args[0]
    assert isinstance(slot, BackendSlot)
    return [slot.backend.usable_servers if slot.backend is not None else 0]


def _req_len(req: Request, args: tuple[object, ...]) -> list[Value]:
    if req.payload is not None:  # a TCP front end's buffer, as HAProxy measures it
        return [len(req.payload)]
    if not req.version.startswith("HTTP/"):
        return [0]
    head = len(req.method) + len(req.uri) + len(req.version) + 4
    return [head + sum(len(k) + len(v) + 4 for k, v in req.headers.items) + 2]


def _req_body(req: Request, args: tuple[object, ...]) -> list[Value]:
    """`req.body`: what of the body the proxy holds (empty before it waited)."""
    return [req.body.data if req.body is not None else b""]


def _req_body_len(req: Request, args: tuple[object, ...]) -> list[Value]:
    return [len(req.body.data) if req.body is not None else 0]


def _req_body_size(req: Request, args: tuple[object, ...]) -> list[Value]:
    """`req.body_size`: the bytes held plus those known still to come."""
    return [req.body.size if req.body is not None else 0]


def _req_body_param(req: Request, args: tuple[object, ...]) -> list[Value]:
    """`req.body_param([name])`: the values of `name=` in a form-encoded body (any
    name without one), parameters split at `&` and `;` as HAProxy's
    find_next_url_param does; the name is compared as written."""
    if req.body is None:
        return []
    name = str(args[0]).encode("latin-1") if args and args[0] else b""
    out: list[Value] = []
    for param in req.body.data.replace(b";", b"&").split(b"&"):
        key, eq, value = param.partition(b"=")
        if eq and (not name or key == name):
            out.append(value)
    return out


def _zero(req: Request, args: tuple[object, ...]) -> list[Value]:
    return [0]


#: A channel's buffer size (tune.bufsize's default): a payload fetch that reaches
#: past it can never match, as in HAProxy.
_BUFSIZE = 16384


def _payload_slice(data: bytes | None, offset: int, size: int) -> list[Value]:
    """HAProxy's smp_fetch_payload on the bytes of a TCP channel (None in mode
    http, where HAProxy finds nothing either): `size` bytes at `offset`, or all
    that follows it for 0; nothing while too few have arrived."""
    if data is None or offset + size > _BUFSIZE or offset + size > len(data):
        return []
    return [data[offset : offset + size] if size else data[offset:]]


def _payload_lv_slice(data: bytes | None, args: tuple[object, ...]) -> list[Value]:
    """HAProxy's smp_fetch_payload_lv: a block whose length is the big-endian
    number of `args[1]` bytes at `args[0]`; it starts right after that number, or
    where `args[2]` says (`_lv_start`)."""
    if data is None:
        return []
    len_offset, len_size = cast(tuple[int, int], args[:2])
    if len_offset + len_size > len(data):
        return []
    size = int.from_bytes(data[len_offset : len_offset + len_size], "big")
    start = _lv_start(len_offset + len_size, args)
    if not size or size > _BUFSIZE or start + size > _BUFSIZE or start + size > len(data):
        return []
    return [data[start : start + size]]


def _lv_start(after_length: int, args: tuple[object, ...]) -> int:
    """Where a payload_lv block starts: after its length, or at the third argument
    as HAProxy 2.6 encodes it (value << 1 | 1 when relative, the plain value when
    absolute) and decodes it (the low bit says relative, the rest is the offset).
    So an absolute offset is halved, and an odd one read as relative: HAProxy's
    behaviour, kept."""
    if len(args) < 3:
        return after_length
    encoded = cast(int, args[2])
    if encoded & 1:
        return after_length + (encoded >> 1)
    return encoded >> 1


def _prepare_payload_lv(args: tuple[object, ...]) -> tuple[object, ...]:
    """payload.c's val_payload_lv: the checks, and the third offset parsed."""
    len_offset, len_size = cast(tuple[int, int], args[:2])
    if len_offset < 0:
        raise FetchError("payload offset1 must be positive")
    if not len_size:
        raise FetchError("payload length must be > 0")
    if len(args) < 3 or not args[2]:
        return args[:2]
    text = str(args[2])
    number = text[1:] if text[0] in "+-" else text
    if not number.isdigit():
        raise _ArgumentError("payload offset2 is not a number")
    value = int(text)
    if len_offset + len_size + value < 0:
        raise _ArgumentError("payload offset2 too negative")
    return (len_offset, len_size, (value << 1) + 1 if text[0] in "+-" else value)


def _channel(req: Request, response: bool | None) -> bytes | None:
    """The bytes a payload fetch reads: the request's, the response's, or (None,
    for `payload`, `payload_lv`) those of the direction the rule runs on."""
    if response is None:
        response = isinstance(req, ResponseView)
    if response:
        return req.response.payload if isinstance(req, ResponseView) else None
    return req.payload


def _payload(response: bool | None) -> FetchFn:
    def fetch(req: Request, args: tuple[object, ...]) -> list[Value]:
        offset, size = cast(tuple[int, int], args)
        return _payload_slice(_channel(req, response), offset, size)

    return fetch


def _payload_lv(response: bool | None) -> FetchFn:
    def fetch(req: Request, args: tuple[object, ...]) -> list[Value]:
        return _payload_lv_slice(_channel(req, response), args)

    return fetch


def _payload_unsettled(response: bool | None) -> MayChangeFn:
    def unsettled(req: Request, args: tuple[object, ...]) -> bool:
        data = _channel(req, response)
        offset, size = cast(tuple[int, int], args[:2])
        if data is None or offset + size > _BUFSIZE:
            return False
        return not size or offset + size > len(data)

    return unsettled


def _payload_lv_unsettled(response: bool | None) -> MayChangeFn:
    def unsettled(req: Request, args: tuple[object, ...]) -> bool:
        data = _channel(req, response)
        return data is not None and not _payload_lv_slice(data, args) and _lv_may_fit(data, args)

    return unsettled


def _lv_may_fit(data: bytes, args: tuple[object, ...]) -> bool:
    """A payload_lv block not there yet: its length not arrived, or arrived and
    pointing past what has (HAProxy's too_short, not its never-match)."""
    len_offset, len_size = cast(tuple[int, int], args[:2])
    if len_offset + len_size > len(data):
        return True
    size = int.from_bytes(data[len_offset : len_offset + len_size], "big")
    start = _lv_start(len_offset + len_size, args)
    return bool(size) and start + size <= _BUFSIZE


def _always(req: Request, args: tuple[object, ...]) -> bool:
    return True


def _hello_unsettled(response: bool) -> MayChangeFn:
    def unsettled(req: Request, args: tuple[object, ...]) -> bool:
        data = _channel(req, response)
        return data is not None and hello_pending(data)

    return unsettled


def _res_len(req: Request, args: tuple[object, ...]) -> list[Value]:
    data = _channel(req, True)
    return [] if data is None else [len(data)]


def _res_ssl_hello_type(req: Request, args: tuple[object, ...]) -> list[Value]:
    kind = hello_type(_channel(req, True) or b"")
    return [] if kind is None else [kind]


def _credentials(req: Request) -> BasicCredentials | None:
    return read_authorization(req.headers.get("authorization"))


def _http_auth_type(req: Request, args: tuple[object, ...]) -> list[Value]:
    found = _credentials(req)
    return [found.scheme] if found is not None else []


def _http_auth_user(req: Request, args: tuple[object, ...]) -> list[Value]:
    found = _credentials(req)
    return [found.user] if found is not None and found.scheme == "Basic" else []


def _http_auth_pass(req: Request, args: tuple[object, ...]) -> list[Value]:
    found = _credentials(req)
    return [found.password] if found is not None and found.scheme == "Basic" else []


def _http_auth_bearer(req: Request, args: tuple[object, ...]) -> list[Value]:
    if args:
        # A named header: its first value's token when the scheme is Bearer, else empty.
        named = read_authorization(req.headers.get(str(args[0])))
        return [named.token if named is not None and named.scheme == "Bearer" else ""]
    found = _credentials(req)
    return [found.token] if found is not None and found.scheme == "Bearer" else []


def _http_auth(req: Request, args: tuple[object, ...]) -> list[Value]:
    """`http_auth(<userlist>)`: no sample without Basic credentials, else whether
    they are right (smp_fetch_http_auth)."""
    found = _credentials(req)
    if found is None or found.scheme != "Basic":
        return []
    userlist = args[0]
    assert isinstance(userlist, Userlist)
    return [userlist.check(found.user, found.password)]


def _http_auth_group(req: Request, args: tuple[object, ...]) -> list[Value]:
    """`http_auth_group(<userlist>)`: the user's name when the credentials are right;
    the ACL then matches it against group names (pat_match_auth)."""
    found = _credentials(req)
    if found is None or found.scheme != "Basic":
        return []
    userlist = args[0]
    assert isinstance(userlist, Userlist)
    return [found.user] if userlist.check(found.user, found.password) else []


# --------------------------------------------------------------------------- stick tables

#: The counters the `sc_*`, `scN_*` and `src_*` fetches read (stick_table.c's keywords).
_COUNTER_FETCHES = (
    "bytes_in_rate", "bytes_out_rate", "conn_cnt", "conn_cur", "conn_rate", "get_gpt0",
    "get_gpc0", "get_gpc1", "gpc0_rate", "gpc1_rate", "http_err_cnt", "http_err_rate",
    "http_fail_cnt", "http_fail_rate", "http_req_cnt", "http_req_rate",
    "kbytes_in", "kbytes_out", "sess_cnt", "sess_rate", "trackers",
)  # fmt: skip
assert set(_COUNTER_FETCHES) <= READS


def _tracked(req: Request, slot: object) -> tuple[StickTable, Entry, int] | None:
    """The entry counter `slot` tracks, its table and the stream's time, if any."""
    stream = req.stream
    if stream is None or not isinstance(slot, int) or not 0 <= slot < MAX_TRACKED:
        return None
    tracked = stream.tracked(slot)
    return None if tracked is None else (*tracked, stream.now_ms)


def _tracked_value(req: Request, slot: object, table: object, what: str) -> list[Value]:
    """`scN_<what>`: the entry tracked in `slot`, read in its own table, or, when
    `table` names another, the same key looked up there (smp_fetch_sc_stkctr)."""
    tracked = _tracked(req, slot)
    if tracked is None:
        return []
    own, entry, now = tracked
    if isinstance(table, StickTable) and table is not own:
        value = table.fetch(own.key_of(entry), what, now)
    else:
        value = own.read(entry, what, now)
    return [] if value is None else [value]


def _sc_counter(what: str) -> FetchFn:
    def fetch(req: Request, args: tuple[object, ...]) -> list[Value]:
        return _tracked_value(req, args[0], args[1] if len(args) > 1 else None, what)

    return fetch


def _scn_counter(slot: int, what: str) -> FetchFn:
    def fetch(req: Request, args: tuple[object, ...]) -> list[Value]:
        return _tracked_value(req, slot, args[0] if args else None, what)

    return fetch


def _src_lookup(req: Request, table: object) -> tuple[StickTable, KeyInput, int] | None:
    """The table a `src_` fetch names, the client address as its key, and the time."""
    stream = req.stream
    address = parse_ip_sample(req.src) if req.src else None
    key = table_key(address) if address is not None else None
    if not isinstance(table, StickTable) or stream is None or key is None:
        return None
    return table, key, stream.now_ms


def _src_counter(what: str) -> FetchFn:
    """`src_<what>([table])`: the client address looked up (an absent key reads 0)."""

    def fetch(req: Request, args: tuple[object, ...]) -> list[Value]:
        found = _src_lookup(req, args[0])
        if found is None:
            return []
        table, key, now = found
        value = table.fetch(key, what, now)
        return [] if value is None else [value]

    return fetch


def _tracked_gpc(slot_arg: int | None, change: str) -> FetchFn:
    """`sc_inc_gpc0`-style fetches, which change the entry they read."""

    def fetch(req: Request, args: tuple[object, ...]) -> list[Value]:
        tracked = _tracked(req, args[0] if slot_arg is None else slot_arg)
        if tracked is None:
            return []
        table, entry, now = tracked
        value = getattr(table, change)(entry, now)
        return [] if value is None else [value]

    return fetch


def _src_gpc(change: str) -> FetchFn:
    """`src_inc_gpc0`-style fetches: the client address's entry, created when
    missing (smp_create_src_stkctr), changed, then read."""

    def fetch(req: Request, args: tuple[object, ...]) -> list[Value]:
        found = _src_lookup(req, args[0])
        if found is None:
            return []
        table, key, now = found
        entry = table.get_or_create(key, now)
        if entry is None:
            return [0]
        value = getattr(table, change)(entry, now)
        return [] if value is None else [value]

    return fetch


def _src_updt_conn_cnt(req: Request, args: tuple[object, ...]) -> list[Value]:
    """The client address's entry, created when missing, `conn_cnt` + 1 (no sample
    when the entry cannot be made or the table stores no `conn_cnt`)."""
    found = _src_lookup(req, args[0])
    if found is None:
        return []
    table, key, now = found
    entry = table.get_or_create(key, now)
    value = None if entry is None else table.update_conn_cnt(entry, now)
    return [] if value is None else [value]


def _sc_array(what: str) -> FetchFn:
    """`sc_get_gpc(idx,N[,table])`-style: element `idx` of an array the entry counter
    N tracks stores (`inc_gpc`/`clr_gpc` change it first)."""

    def fetch(req: Request, args: tuple[object, ...]) -> list[Value]:
        idx, tracked = args[0], _tracked(req, args[1])
        if tracked is None or not isinstance(idx, int):
            return []
        own, entry, now = tracked
        table = args[2] if len(args) > 2 else None
        if what in ("inc_gpc", "clr_gpc"):
            value = getattr(own, what)(entry, idx, now)
        elif isinstance(table, StickTable) and table is not own:
            value = table.fetch(own.key_of(entry), what, now, idx)
        else:
            value = own.read(entry, what, now, idx)
        return [] if value is None else [value]

    return fetch


def _src_array(what: str) -> FetchFn:
    """`src_get_gpc(idx[,table])`-style: the client's entry (created first by
    `src_inc_gpc`/`src_clr_gpc`)."""

    def fetch(req: Request, args: tuple[object, ...]) -> list[Value]:
        idx, found = args[0], _src_lookup(req, args[1])
        if found is None or not isinstance(idx, int):
            return []
        table, key, now = found
        if what in ("inc_gpc", "clr_gpc"):
            entry = table.get_or_create(key, now)
            value = 0 if entry is None else getattr(table, what)(entry, idx, now)
        else:
            value = table.fetch(key, what, now, idx)
        return [] if value is None else [value]

    return fetch


def _sc_tracked(slot_arg: int | None) -> FetchFn:
    def fetch(req: Request, args: tuple[object, ...]) -> list[Value]:
        return [_tracked(req, args[0] if slot_arg is None else slot_arg) is not None]

    return fetch


def _table_avl(req: Request, args: tuple[object, ...]) -> list[Value]:
    table = args[0]
    return [table.available] if isinstance(table, StickTable) else []


def _table_cnt(req: Request, args: tuple[object, ...]) -> list[Value]:
    table = args[0]
    return [table.used] if isinstance(table, StickTable) else []


def _table_fetches() -> list[FetchDef]:
    out: list[FetchDef] = []
    for what in _COUNTER_FETCHES:
        out.append(FetchDef(f"sc_{what}", "sint", _sc_counter(what), ("int", "table?"), 1))
        if what != "trackers":  # HAProxy has no src_trackers
            out.append(FetchDef(f"src_{what}", "sint", _src_counter(what), ("table",)))
        for slot in range(MAX_TRACKED):
            out.append(FetchDef(f"sc{slot}_{what}", "sint", _scn_counter(slot, what), ("table?",)))
    for change in ("inc_gpc0", "inc_gpc1", "clr_gpc0", "clr_gpc1"):
        out.append(FetchDef(f"sc_{change}", "sint", _tracked_gpc(None, change), ("int",), 1))
        out.append(FetchDef(f"src_{change}", "sint", _src_gpc(change), ("table",)))
        for slot in range(MAX_TRACKED):
            out.append(FetchDef(f"sc{slot}_{change}", "sint", _tracked_gpc(slot, change)))
    for what in ("get_gpc", "get_gpt", "gpc_rate", "inc_gpc", "clr_gpc"):
        # HAProxy 2.6's array forms: sc_<what>(idx,N[,table]), src_<what>(idx,table).
        out.append(FetchDef(f"sc_{what}", "sint", _sc_array(what), ("int", "int", "table?"), 2))
        out.append(FetchDef(f"src_{what}", "sint", _src_array(what), ("int", "table"), 2))
    out.append(FetchDef("src_updt_conn_cnt", "sint", _src_updt_conn_cnt, ("table",)))
    out.append(FetchDef("sc_tracked", "bool", _sc_tracked(None), ("int",), 1))
    for slot in range(MAX_TRACKED):
        out.append(FetchDef(f"sc{slot}_tracked", "bool", _sc_tracked(slot)))
    out.append(FetchDef("table_avl", "sint", _table_avl, ("table",)))
    out.append(FetchDef("table_cnt", "sint", _table_cnt, ("table",)))
    return out


def _fetches() -> dict[str, FetchDef]:
    hdr_args = ("str", "int")
    table = [
        FetchDef("src", "ipv4", _src),
        FetchDef("dst", "ipv4", _dst),
        FetchDef("src_port", "sint", _src_port),
        FetchDef("dst_port", "sint", _dst_port),
        FetchDef("path", "str", _path),
        FetchDef("pathq", "str", _pathq),
        FetchDef("url", "str", _url),
        FetchDef("query", "str", _query),
        FetchDef("url_param", "str", _url_params, ("str", "str")),
        FetchDef("url_ip", "ipv4", _url_ip),
        FetchDef("url_port", "sint", _url_port),
        FetchDef("method", "meth", _method),
        FetchDef("req.ver", "str", _req_ver),
        FetchDef("req.hdr", "str", _hdr, hdr_args, last=True),
        FetchDef("req.fhdr", "str", _fhdr, hdr_args, last=True),
        FetchDef("req.hdr_cnt", "sint", _hdr_cnt, ("str",)),
        FetchDef("req.fhdr_cnt", "sint", _fhdr_cnt, ("str",)),
        FetchDef("req.hdr_val", "sint", _hdr_val, hdr_args, last=True),
        FetchDef("req.hdr_ip", "ipv4", _hdr_ip, hdr_args, last=True),
        FetchDef("req.cook", "str", _cook, ("str",), last=True),
        FetchDef("req.cook_cnt", "sint", _cook_cnt, ("str",)),
        FetchDef("base", "str", _base),
        FetchDef("baseq", "str", _baseq),
        FetchDef("env", "str", _env, ("env",), 1),
        FetchDef("fc_pp_authority", "str", _fc_pp_authority),
        FetchDef("fc_pp_unique_id", "str", _fc_pp_unique_id),
        FetchDef("ssl_fc", "bool", _ssl_fc),
        FetchDef("ssl_fc_sni", "str", _ssl_fc_sni),
        FetchDef("ssl_fc_has_sni", "bool", _ssl_fc_has_sni),
        FetchDef("ssl_fc_protocol", "str", _ssl_fc_protocol),
        FetchDef("ssl_fc_cipher", "str", _ssl_fc_cipher),
        FetchDef("ssl_fc_alpn", "str", _ssl_fc_alpn),
        FetchDef("ssl_c_used", "bool", _ssl_c_used),
        FetchDef("ssl_c_verify", "sint", _ssl_c_verify),
        FetchDef("fc_err", "sint", _fc_err),
        FetchDef("ssl_fc_err", "sint", _ssl_fc_err),
        FetchDef("ssl_c_err", "sint", _ssl_fc_err),
        FetchDef("ssl_c_ca_err", "sint", _ssl_fc_err),
        FetchDef("ssl_fc_is_resumed", "bool", _ssl_fc_is_resumed),
        FetchDef("ssl_c_s_dn", "str", _ssl_c_s_dn, ("str", "int"), 0),
        FetchDef("ssl_c_i_dn", "str", _ssl_c_i_dn, ("str", "int"), 0),
        FetchDef("ssl_c_serial", "bin", _ssl_c_serial),
        FetchDef("req.ssl_sni", "str", _req_ssl_sni),
        FetchDef("req.ssl_hello_type", "sint", _req_ssl_hello_type),
        FetchDef("req.ssl_alpn", "str", _req_ssl_alpn, unsettled=_hello_unsettled(False)),
        FetchDef("always_true", "bool", _const(True)),
        *(
            FetchDef(
                name,
                kind,
                _constant,
                ("str",),
                0 if kind == "str" else 1,
                prepare=_prepare_constant(kind),
            )
            for name, kind in (
                ("str", "str"),
                ("int", "sint"),
                ("bool", "bool"),
                ("bin", "bin"),
                ("ipv4", "ipv4"),
                ("ipv6", "ipv6"),
                ("meth", "meth"),
            )
        ),
        FetchDef("always_false", "bool", _const(False)),
        FetchDef("wait_end", "bool", _const(True)),
        FetchDef("req.proto_http", "bool", _proto_http),
        FetchDef("req.len", "sint", _req_len),
        FetchDef("req.body", "bin", _req_body),
        FetchDef("req.body_len", "sint", _req_body_len),
        FetchDef("req.body_size", "sint", _req_body_size),
        FetchDef("req.body_param", "bin", _req_body_param, ("str",)),
        FetchDef("req.payload", "bin", _payload(False), ("int", "int"), 2),
        FetchDef(
            "req.payload_lv",
            "bin",
            _payload_lv(False),
            ("int", "int", "str"),
            2,
            prepare=_prepare_payload_lv,
        ),
        FetchDef(
            "payload", "bin", _payload(None), ("int", "int"), 2, unsettled=_payload_unsettled(None)
        ),
        FetchDef(
            "payload_lv",
            "bin",
            _payload_lv(None),
            ("int", "int", "str"),
            2,
            prepare=_prepare_payload_lv,
            unsettled=_payload_lv_unsettled(None),
        ),
        FetchDef("nbsrv", "sint", _nbsrv, ("backend",)),
        FetchDef("var", "any", _var, ("var", "str"), 1),
        FetchDef("unique-id", "str", _unique_id),
        FetchDef("capture.req.hdr", "str", _captured(False), ("int",), 1),
        FetchDef("uuid", "str", _uuid, ("int",), prepare=_prepare_uuid),
        FetchDef("date", "sint", _date, ("int", "str"), prepare=_prepare_date),
        FetchDef("req.rdp_cookie_cnt", "sint", _zero, ("str",)),
        FetchDef("http_auth_type", "str", _http_auth_type),
        FetchDef("http_auth_user", "str", _http_auth_user),
        FetchDef("http_auth_pass", "str", _http_auth_pass),
        FetchDef("http_auth_bearer", "str", _http_auth_bearer, ("str",)),
        FetchDef("http_auth", "bool", _http_auth, ("userlist",), required=1),
        FetchDef("http_auth_group", "str", _http_auth_group, ("userlist",), required=1),
        *_table_fetches(),
    ]
    by_name = {f.name: f for f in table}
    for alias, name in _FETCH_ALIASES.items():
        by_name[alias] = replace(by_name[name], name=alias)
    return by_name


#: Older or shorter spellings HAProxy keeps for the same fetch.
_FETCH_ALIASES = {
    "urlp": "url_param",
    "req_ver": "req.ver",
    "hdr": "req.hdr",
    "hdr_cnt": "req.hdr_cnt",
    "hdr_val": "req.hdr_val",
    "hdr_ip": "req.hdr_ip",
    "cook": "req.cook",
    "cook_cnt": "req.cook_cnt",
    "req_ssl_sni": "req.ssl_sni",
    "req_ssl_hello_type": "req.ssl_hello_type",
    "req_proto_http": "req.proto_http",
    "req_len": "req.len",
}


#: Every sample fetch keyword balancekit implements.
FETCHES: dict[str, FetchDef] = _fetches()


# --------------------------------------------------------------------------- the response


def _on_response(fn: FetchFn) -> FetchFn:
    """A request-header fetch turned to the response head (nothing before there is one)."""

    def fetch(req: Request, args: tuple[object, ...]) -> list[Value]:
        return fn(req.response, args) if isinstance(req, ResponseView) else []

    return fetch


def _set_cookies(req: Request, name: object) -> list[Value]:
    """Each `Set-Cookie` line's own cookie (its first `name=value`; the rest are
    attributes), as HAProxy's res.cook reads them."""
    if not isinstance(req, ResponseView):
        return []
    out: list[Value] = []
    for line in req.response.headers.occurrences("set-cookie"):
        key, eq, value = line.split(";", 1)[0].strip(" \t").partition("=")
        if eq and (not name or key == name):
            out.append(value)
    return out


def _res_cook(req: Request, args: tuple[object, ...]) -> list[Value]:
    return _set_cookies(req, args[0] if args else None)


def _res_cook_cnt(req: Request, args: tuple[object, ...]) -> list[Value]:
    return [len(_set_cookies(req, args[0] if args else None))]


def _status(req: Request, args: tuple[object, ...]) -> list[Value]:
    # A TCP response (its bytes in `payload`) has no status line for HAProxy either;
    # status 0 is an answer already dropped (see balancekit.response_rules).
    if isinstance(req, ResponseView) and req.response.payload is None and req.status:
        return [req.status]
    return []


def _cache_hit(req: Request, args: tuple[object, ...]) -> list[Value]:
    """`res.cache_hit`: whether a `cache` section sent the answer."""
    if not isinstance(req, ResponseView) or req.status == 0:
        return []
    return [req.names is not None and bool(req.names.cache)]


def _res_comp(req: Request, args: tuple[object, ...]) -> list[Value]:
    """`res.comp`: whether the answer is being compressed."""
    if not isinstance(req, ResponseView) or req.status == 0:
        return []
    return [bool(req.compression)]


def _res_comp_algo(req: Request, args: tuple[object, ...]) -> list[Value]:
    """`res.comp_algo`: the algorithm compressing it (no sample when none is)."""
    return [req.compression] if isinstance(req, ResponseView) and req.compression else []


def _stream_name(field: str) -> FetchFn:
    """`fe_name`, `be_name`, `srv_name`, `srv_id`: what the engine said of the answer."""

    def fetch(req: Request, args: tuple[object, ...]) -> list[Value]:
        names = req.names if isinstance(req, ResponseView) else None
        value = None if names is None else getattr(names, field)
        return [value] if value else []

    return fetch


def _response_fetches() -> dict[str, FetchDef]:
    hdr_args = ("str", "int")
    table = [
        FetchDef("fe_name", "str", _stream_name("frontend"), source="internal stream information"),
        FetchDef("be_name", "str", _stream_name("backend"), source="internal stream information"),
        FetchDef("srv_name", "str", _stream_name("server"), source="internal stream information"),
        FetchDef("srv_id", "sint", _stream_name("server_id"), source="internal stream information"),
        FetchDef("res.cache_name", "str", _stream_name("cache"), source="HTTP response headers"),
        FetchDef("res.cache_hit", "bool", _cache_hit, source="HTTP response headers"),
        FetchDef("res.comp", "bool", _res_comp, source="HTTP response headers"),
        FetchDef("res.comp_algo", "str", _res_comp_algo, source="HTTP response headers"),
        FetchDef("res.hdr", "str", _on_response(_hdr), hdr_args, last=True),
        FetchDef("capture.res.hdr", "str", _captured(True), ("int",), 1),
        FetchDef("res.fhdr", "str", _on_response(_fhdr), hdr_args, last=True),
        FetchDef("res.hdr_cnt", "sint", _on_response(_hdr_cnt), ("str",)),
        FetchDef("res.fhdr_cnt", "sint", _on_response(_fhdr_cnt), ("str",)),
        FetchDef("res.cook", "str", _res_cook, ("str",), last=True),
        FetchDef("res.cook_cnt", "sint", _res_cook_cnt, ("str",)),
        FetchDef("status", "sint", _status),
        FetchDef("res.ver", "str", _on_response(_req_ver)),
        FetchDef("res.len", "sint", _res_len, source="response buffer", unsettled=_always),
        FetchDef(
            "res.payload",
            "bin",
            _payload(True),
            ("int", "int"),
            2,
            source="response buffer",
            unsettled=_payload_unsettled(True),
        ),
        FetchDef(
            "res.payload_lv",
            "bin",
            _payload_lv(True),
            ("int", "int", "str"),
            2,
            prepare=_prepare_payload_lv,
            source="response buffer",
            unsettled=_payload_lv_unsettled(True),
        ),
        FetchDef(
            "res.ssl_hello_type",
            "sint",
            _res_ssl_hello_type,
            source="response buffer",
            unsettled=_hello_unsettled(True),
        ),
    ]
    by_name = {f.name: f for f in table}
    aliases = {"shdr": "res.hdr", "scook": "res.cook", "shdr_cnt": "res.hdr_cnt",
               "rep_ssl_hello_type": "res.ssl_hello_type", "resp_ver": "res.ver"}  # fmt: skip
    for alias, name in aliases.items():
        by_name[alias] = replace(by_name[name], name=alias)
    return by_name


#: The fetches that read the response head: only where one exists (`stick
#: store-response`); elsewhere HAProxy refuses them at load, and so does balancekit.
RESPONSE_FETCHES: dict[str, FetchDef] = _response_fetches()

#: The fetches that read the request's line and headers (HAProxy's HRQHV source,
#: "HTTP request headers"): gone once the request went to the server, so they find
#: nothing in a rule on the response (`method`, kept in the transaction, remains).
REQUEST_HEADER_FETCHES = frozenset(
    name
    for name in FETCHES
    if name.startswith(("req.hdr", "req.fhdr", "req.cook", "hdr", "cook", "url", "http_auth"))
    or name in ("base", "baseq", "path", "pathq", "query", "req.ver", "req_ver")
)


# --------------------------------------------------------------------------- converters


def _lower(value: Value, args: tuple[object, ...]) -> Value | None:
    return str(value).lower()


def _upper(value: Value, args: tuple[object, ...]) -> Value | None:
    return str(value).upper()


def _length(value: Value, args: tuple[object, ...]) -> Value | None:
    return len(str(value))


def _not(value: Value, args: tuple[object, ...]) -> Value | None:
    return not value


def _bool(value: Value, args: tuple[object, ...]) -> Value | None:
    return bool(value)


def _field_bounds(text: str, delims: str) -> tuple[list[int], list[int]]:
    cuts = [i for i, ch in enumerate(text) if ch in delims]
    starts = [0, *(c + 1 for c in cuts)]
    ends = [*cuts, len(text)]
    return starts, ends


def _field(value: Value, args: tuple[object, ...]) -> Value | None:
    """`field(index,delims[,count])`: HAProxy's sample_conv_field.

    Fields are counted from 1 (negative: from the end); `count` fields are
    kept, extending right for a positive index and left for a negative one;
    count 0 keeps everything from the field to that end of the string.
    """
    text = str(value)
    index, delims = cast(int, args[0]), str(args[1])
    count = cast(int, args[2]) if len(args) > 2 else 1
    starts, ends = _field_bounds(text, delims)
    total = len(starts)
    if index > 0:
        if index > total:
            return None
        last = total if count <= 0 else min(index + count - 1, total)
        return text[starts[index - 1] : ends[last - 1]]
    position = total + index + 1
    if position < 1:
        return None
    first = 1 if count <= 0 else max(position - count + 1, 1)
    return text[starts[first - 1] : ends[position - 1]]


def _word(value: Value, args: tuple[object, ...]) -> Value | None:
    """`word(index,delims[,count])`: like field() but runs of delimiters count as one.

    An index past the last word gives an empty string, not "no sample" (as in
    HAProxy's sample_conv_word); `count` words run to the end of the string
    when there are fewer left.
    """
    text = str(value)
    index, delims = cast(int, args[0]), str(args[1])
    count = cast(int, args[2]) if len(args) > 2 else 1
    spans: list[tuple[int, int]] = []
    begin = None
    for i, ch in enumerate(text):
        if ch in delims:
            if begin is not None:
                spans.append((begin, i))
                begin = None
        elif begin is None:
            begin = i
    if begin is not None:
        spans.append((begin, len(text)))
    total = len(spans)
    if index > 0:
        if index > total:
            return ""
        last = index + count - 1
        end = spans[last - 1][1] if count >= 1 and last <= total else len(text)
        return text[spans[index - 1][0] : end]
    position = total + index + 1
    if position < 1:
        return ""
    first = position - count + 1
    start = spans[first - 1][0] if count >= 1 and first >= 1 else 0
    return text[start : spans[position - 1][1]]


def _regsub(value: Value, args: tuple[object, ...]) -> Value | None:
    """`regsub(regex,subst[,flags])`: HAProxy's sample_conv_regsub, step by step.

    Without `g` only the first match is replaced.  An empty match copies the
    next character and moves on, as HAProxy does, so `regsub(x*,-,g)` on "ab"
    gives "-a-b-".
    """
    regex = cast(re.Pattern[str], args[0])
    subst, glob = str(args[1]), bool(args[2])
    text = str(value)
    out: list[str] = []
    pos, first = 0, True
    while True:
        found = regex.search(text, pos) if glob or first else None
        if found is None:
            out.append(text[pos:])
            break
        out.append(text[pos : found.start()])
        out.append(_expand(subst, found))
        if pos >= len(text):
            break
        if found.end() == pos:  # empty match at the search start
            out.append(text[pos])
            pos += 1
        else:
            pos = found.end()
        first = False
    return "".join(out)


def _expand(subst: str, found: re.Match[str]) -> str:
    """exp_replace(): `\\N` is group N (empty if unset), `\\xHH` a byte, `\\c` is c."""
    out: list[str] = []
    i = 0
    while i < len(subst):
        ch = subst[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = subst[i + 1]
        if nxt.isdigit():
            number = int(nxt)
            group = found.group(number) if number <= (found.re.groups or 0) else None
            out.append(group or "")
            i += 2
        elif nxt == "x":
            out.append(chr(int(subst[i + 2 : i + 4], 16)))
            i += 4
        else:
            out.append(nxt)
            i += 2
    return "".join(out)


def _prepare_regsub(args: tuple[object, ...]) -> tuple[object, ...]:
    pattern, subst = str(args[0]), str(args[1])
    flags = str(args[2]) if len(args) > 2 else ""
    bad = next((f for f in flags if f not in "ig"), None)
    if bad is not None:
        raise FetchError(
            f"converter 'regsub': invalid regex flag '{bad}', only 'i' and 'g' are supported"
        )
    try:
        regex = re.compile(pattern, re.IGNORECASE if "i" in flags else 0)
    except re.error as exc:
        raise FetchError(f"converter 'regsub': regex '{pattern}' is invalid: {exc}") from None
    i = 0
    while i < len(subst):  # check_replace_string()
        if subst[i] == "\\":
            nxt = subst[i + 1 : i + 2]
            hexa = subst[i + 2 : i + 4]
            if not nxt or (
                nxt == "x"
                and (len(hexa) < 2 or any(c not in "0123456789abcdefABCDEF" for c in hexa))
            ):
                raise FetchError(f"converter 'regsub': invalid replacement string '{subst}'")
            i += 4 if nxt == "x" else 2
        else:
            i += 1
    return (regex, subst, "g" in flags)


def _prepare_field(args: tuple[object, ...]) -> tuple[object, ...]:
    if args[0] == 0:
        raise FetchError("converter 'field'/'word': Unexpected value 0 for index")
    if not args[1]:
        raise FetchError("converter 'field'/'word': Empty separators list")
    return args


def _ipmask(value: Value, args: tuple[object, ...]) -> Value | None:
    version, number = cast(tuple[int, int], value)
    if version == 6 and number >> 32 == 0xFFFF:  # v4-mapped: masked as IPv4
        version, number = 4, number & 0xFFFFFFFF
    if version == 4:
        return (4, number & cast(int, args[0]))
    if len(args) < 2:
        return None
    return (6, number & cast(int, args[1]))


def _prepare_ipmask(args: tuple[object, ...]) -> tuple[object, ...]:
    text4 = str(args[0])
    try:
        mask4 = v4_mask(text4)
    except PatternError:
        raise FetchError(f"converter 'ipmask': invalid IPv4 mask '{text4}'") from None
    if len(args) < 2:
        return (mask4,)
    text6 = str(args[1])
    if text6.isdigit() and int(text6) <= 128:
        mask6 = ((1 << 128) - 1) ^ ((1 << (128 - int(text6))) - 1)
    else:
        parsed = parse_ip_sample(text6) if ":" in text6 else None
        if parsed is None:
            raise FetchError(f"converter 'ipmask': invalid IPv6 mask '{text6}'")
        mask6 = parsed[1]
    return (mask4, mask6)


#: Converter keywords balancekit implements.
CONVERTERS: dict[str, ConverterDef] = {
    c.name: c
    for c in (
        ConverterDef("lower", "str", "str", _lower),
        ConverterDef("upper", "str", "str", _upper),
        ConverterDef("length", "str", "sint", _length),
        ConverterDef("not", "sint", "bool", _not),
        ConverterDef("bool", "sint", "bool", _bool),
        ConverterDef("field", "str", "str", _field, ("int", "str", "int"), 2, _prepare_field),
        ConverterDef("word", "str", "str", _word, ("int", "str", "int"), 2, _prepare_field),
        ConverterDef("ipmask", "addr", "ipv4", _ipmask, ("str", "str"), 1, _prepare_ipmask),
        ConverterDef("regsub", "str", "str", _regsub, ("str", "str", "str"), 2, _prepare_regsub),
    )
}


# --------------------------------------------------------------------------- expressions


class StreamNow:
    """A converter argument that stands for the stream's time (`table_*` converters
    read rates at it); None without a stream."""

    __slots__ = ()


NOW = StreamNow()


class VarArgs(tuple[object, ...]):
    """Converter arguments that name variables (`add(txn.n)`, `concat(,txn.x,)`):
    each `VarName` among them is read from the request's stream when the converter
    runs (None when it is not set, or out of its phase), and `NOW` becomes the
    stream's time."""

    __slots__ = ()

    def resolve(self, req: Request) -> tuple[object, ...]:
        stream = req.stream
        return tuple(_resolve_arg(stream, arg) for arg in self)


def _resolve_arg(stream: StreamCounters | None, arg: object) -> object | None:
    if isinstance(arg, VarName):
        return _read_var(stream, arg)
    if arg is NOW:
        return None if stream is None else stream.now_ms
    return arg


def _read_var(stream: StreamCounters | None, var: VarName) -> object | None:
    if stream is None or not stream.vars.in_phase(var):
        return None
    return stream.vars.get(var)


@dataclass(frozen=True, slots=True)
class SampleExpr:
    """A compiled `fetch(args),conv(args),…` expression."""

    text: str
    fetch: FetchDef
    args: tuple[object, ...]
    steps: tuple[tuple[Callable[[Value], Value | None], ConvFn, tuple[object, ...]], ...]
    out_type: str

    def samples(self, req: Request) -> list[Value]:
        """Every sample, after converters; samples a converter rejects are dropped."""
        values = self.fetch.fn(req, self.args)
        if not self.steps or not values:
            return values
        out: list[Value] = []
        for value in values:
            current: Value | None = value
            for to_input, conv, args in self.steps:
                current = to_input(current)
                if current is None:
                    break
                if type(args) is VarArgs:
                    args = args.resolve(req)
                current = conv(current, args)
                if current is None:
                    break
            if current is not None:
                out.append(current)
        return out

    def single(self, req: Request) -> Value | None:
        """The one value a non-iterating context (log-format) sees, or None."""
        values = self.samples(req)
        if not values:
            return None
        return values[-1] if self.fetch.last and len(self.args) < 2 else values[0]


def suggest(word: str, choices: Iterable[str]) -> str:
    """`, did you mean 'x'?` for the closest known word, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def _split_name(text: str, pos: int) -> tuple[str, int]:
    end = pos
    while end < len(text) and (text[end].isalnum() or text[end] in "._-+$"):
        end += 1
    return text[pos:end], end


_ARG_ESCAPES = {"\\": "\\", " ": " ", '"': '"', "'": "'", "r": "\r", "n": "\n", "t": "\t"}


def _split_args(text: str, pos: int, owner: str) -> tuple[list[str], int]:
    """Arguments in `(…)` at `pos`; returns them and the index after `)`.

    As HAProxy's make_arg_list: `,` separates and `)` ends the list except
    inside '…' or "…" (the quotes are removed), and outside single quotes a
    backslash escapes `\\ ' " space` and means CR/LF/TAB before `r n t`.
    """
    if pos >= len(text) or text[pos] != "(":
        return [], pos
    args: list[str] = []
    current: list[str] = []
    squote = dquote = False
    i = pos + 1
    while i < len(text):
        ch = text[i]
        if ch == '"' and not squote:
            dquote = not dquote
        elif ch == "'" and not dquote:
            squote = not squote
        elif ch == "\\" and not squote and i + 1 < len(text):
            escaped = _ARG_ESCAPES.get(text[i + 1])
            if escaped is None:
                current.append(ch)
            else:
                current.append(escaped)
                i += 1
        elif not squote and not dquote and ch in ",)":
            args.append("".join(current))
            current = []
            if ch == ")":
                return ([] if args == [""] else args), i + 1
        else:
            current.append(ch)
        i += 1
    raise FetchError(f"missing closing ')' after arguments to '{owner}'")


def sample_expr_end(text: str, pos: int = 0) -> int:
    """Index of the first character after the sample expression starting at `pos`.

    HAProxy's log-format parser does not look for the closing `]` of `%[…]`: it
    lets sample_parse_expr read `fetch(args),conv(args)…` and then requires a `]`
    where that stopped.  So a `]` inside arguments (`regsub(^/[ab],/z/)`) is part
    of the expression.  This scans the same extent: a keyword, its `(…)` read by
    the make_arg_list rules of `_split_args`, then more of them after commas.  An
    unclosed `(` runs to the end, where `parse_sample_expr` reports it.
    """
    n = len(text)
    while True:
        _, pos = _split_name(text, pos)
        if pos < n and text[pos] == "(":
            try:
                _, pos = _split_args(text, pos, "")
            except FetchError:
                return n
        if pos >= n or text[pos] != ",":
            return pos
        while pos < n and text[pos] == ",":
            pos += 1


def _check_args(
    kind: str,
    name: str,
    spec: tuple[str, ...],
    required: int,
    raw: list[str],
    context: SampleContext | None = None,
) -> tuple[object, ...]:
    context = context or _NO_CONTEXT
    if spec and spec[0] == "userlist" and not raw:
        raise FetchError(f"missing userlist name in arg 1 of {kind} '{name}'")
    if len(raw) > len(spec):
        raise FetchError(f"{kind} '{name}' takes at most {len(spec)} argument(s), got {len(raw)}")
    if len(raw) < required:
        raise FetchError(f"{kind} '{name}' expects {required} argument(s), got {len(raw)}")
    out: list[object] = []
    for i, (want, value) in enumerate(zip(spec, raw, strict=False)):
        if want in ("table", "table?"):
            out.append(_named(context.tables, "table", value, i, kind, name))
        elif want == "backend":
            out.append(_named(context.backends, "backend", value, i, kind, name))
        elif want == "var":
            try:
                out.append(parse_var_name(value))
            except VarError as exc:
                raise FetchError(f"{kind} '{name}': {exc}") from None
        elif want == "userlist":
            out.append(_named(context.userlists, "userlist", value, i, kind, name))
        elif want == "env":
            # Read once: nothing changes a running process's environment.
            out.append((os.environ if context.environ is None else context.environ).get(value))
        elif want == "int":
            number = str_to_int(value) if value.lstrip("+-").isdigit() else None
            if number is None:
                raise FetchError(
                    f"{kind} '{name}': argument {i + 1} must be an integer, got '{value}'"
                )
            out.append(number)
        else:
            out.append(value)
    if len(raw) < len(spec) and spec[len(raw)] == "table":
        # Left out: the table of the proxy the expression is in.
        out.append(_named(context.tables, "table", context.proxy, len(raw), kind, name))
    if len(raw) < len(spec) and spec[len(raw)] == "backend":
        # Left out: the proxy the expression is in (a frontend has no servers).
        out.append(context.backends.get(context.proxy) or BackendSlot())
    return tuple(out)


_NO_CONTEXT = SampleContext()
_Named = TypeVar("_Named")


def _named(
    known: Mapping[str, _Named], what: str, value: str, i: int, kind: str, name: str
) -> _Named:
    """The userlist, stick table or backend a fetch argument names, or HAProxy's
    error for a name the config does not have."""
    found = known.get(value)
    if found is None:
        raise FetchError(
            f"unable to find {what} '{value}' referenced in arg {i + 1} of {kind} '{name}'"
        )
    return found


def parse_sample_expr(
    text: str,
    *,
    fetch_name: str | None = None,
    context: SampleContext | None = None,
    response: bool = False,
    request_gone: bool = False,
) -> SampleExpr:
    """Compile `fetch[(args)][,conv[(args)]]…`.

    `fetch_name` lets an ACL keyword (`path_beg`) name its underlying fetch
    (`path`) while keeping the user's text for messages.  `context` resolves the
    userlists and stick tables fetches name (`http_auth(<userlist>)`, `src_conn_cur`).
    `response` admits the fetches of the response head (RESPONSE_FETCHES);
    `request_gone` refuses those of the request head (REQUEST_HEADER_FETCHES), as
    HAProxy does in an argument evaluated on the response.
    """
    name, pos = _split_name(text, 0)
    real = fetch_name or name
    fetch = FETCHES.get(real)
    if request_gone and real in REQUEST_HEADER_FETCHES:
        raise FetchError(
            f"sample fetch <{text}> may not be reliably used here because it needs "
            "'HTTP request headers' which is not available here"
        )
    if fetch is None and real in RESPONSE_FETCHES:
        if not response:
            raise FetchError(
                f"fetch method '{name}' extracts information from "
                f"'{RESPONSE_FETCHES[real].source}', "
                "none of which is available here"
            )
        fetch = RESPONSE_FETCHES[real]
    if fetch is None:
        if not name:
            raise FetchError(f"expected a sample fetch keyword, got '{text}'")
        if is_haproxy_fetch(real):
            raise FetchError(
                f"fetch method '{name}' is an HAProxy sample fetch that balancekit does not "
                "support; see docs/acl.md"
            )
        raise FetchError(f"unknown fetch method '{name}'{suggest(name, FETCHES)}")
    raw, pos = _split_args(text, pos, name)
    args = _check_args("fetch method", name, fetch.args, fetch.required, raw, context)
    if fetch.prepare is not None:
        try:
            args = fetch.prepare(args)
        except _ArgumentError as exc:
            raise FetchError(f"in argument to '{name}', {exc}") from None
        except FetchError as exc:
            raise FetchError(f"invalid args in fetch method '{name}' : {exc}") from None
    cur_type = fetch.out_type
    steps: list[tuple[Callable[[Value], Value | None], ConvFn, tuple[object, ...]]] = []
    while pos < len(text):
        if text[pos] != ",":
            raise FetchError(f"missing comma after '{text[:pos]}' in '{text}'")
        while pos < len(text) and text[pos] == ",":
            pos += 1
        if pos >= len(text):
            break
        cname, pos = _split_name(text, pos)
        conv = CONVERTERS.get(cname)
        if conv is None:
            if cname in HAPROXY_CONVERTERS:
                raise FetchError(
                    f"converter '{cname}' is an HAProxy converter that balancekit does not "
                    "support; see docs/acl.md"
                )
            raise FetchError(f"unknown converter '{cname}'{suggest(cname, CONVERTERS)}")
        raw, pos = _split_args(text, pos, cname)
        cargs = _check_args("converter", cname, conv.args, conv.required, raw, context)
        if conv.prepare is not None:
            cargs = conv.prepare(cargs)
        if conv.prepare_refs is not None:
            # Without a config's context (a unit test, a log line), a throwaway store.
            refs = context.patterns if context is not None else PatRefs()
            cargs = conv.prepare_refs(cargs, refs)
        if not can_cast(cur_type, conv.in_type):
            raise FetchError(f"converter '{cname}' cannot be applied to a {cur_type} sample")
        steps.append((cast_function(cur_type, conv.in_type), conv.fn, cargs))
        cur_type = conv.out_type
    return SampleExpr(text, fetch, args, tuple(steps), cur_type)
