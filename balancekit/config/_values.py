"""Parsers for the small value grammars inside lines: log targets, binds, servers.

Each takes the words after its keyword and returns model values, raising
`ValueError` with a message naming the offending word; the caller adds
`file:line`.  They are separate from `build` so they can be table-tested one
grammar at a time.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..server import ON_ERROR_ACTIONS, Server, is_ip, split_address, unix_sockaddr
from ..units import c_atol, parse_time
from .keywords import BIND_KEYWORDS, HAPROXY_BIND_OPTIONS, HAPROXY_SERVER_OPTIONS, SERVER_KEYWORDS
from .runtime import Bind, LogTarget, StatsSocket

# Server options HAProxy 2.6 reads with atol(), so a bad value is 0, not an error.
_ATOL_OPTIONS = frozenset({"weight", "maxconn", "maxqueue"})

__all__ = [
    "FACILITIES",
    "LEVELS",
    "LOG_FORMATS",
    "ServerParams",
    "parse_bind",
    "parse_log",
    "parse_server_params",
    "parse_stats_socket",
]

FACILITIES = (
    *("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron"),
    *("auth2", "ftp", "ntp", "audit", "alert", "cron2"),
    *(f"local{n}" for n in range(8)),
)
LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
LOG_FORMATS = ("local", "rfc3164", "rfc5424", "priority", "short", "timed", "iso", "raw")


def _int(word: str, what: str, low: int = 0, high: int | None = None) -> int:
    if not word.lstrip("-").isdigit():
        raise ValueError(f"{what} expects an integer, got '{word}'")
    value = int(word)
    if value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise ValueError(f"{what} {value} out of range ({bound})")
    return value


def parse_log(args: tuple[str, ...], file: str | None, line: int | None) -> LogTarget:
    """`<address> [len N] [format F] [sample R:S] <facility> [<level> [<minlevel>]]`."""
    if not args:
        raise ValueError("'log' expects 'global' or a target address and a facility")
    address, rest = args[0], list(args[1:])
    length, fmt = 1024, "rfc3164"
    while rest and rest[0] in ("len", "format", "sample"):
        key = rest.pop(0)
        if not rest:
            raise ValueError(f"log: '{key}' expects a value")
        value = rest.pop(0)
        if key == "len":
            length = _int(value, "log: len", 80, 65535)
        elif key == "format":
            if value not in LOG_FORMATS:
                raise ValueError(
                    f"log: unknown format '{value}' (expected {', '.join(LOG_FORMATS)})"
                )
            fmt = value
    if not rest:
        raise ValueError(f"log {address}: missing facility (e.g. local0)")
    facility = rest.pop(0)
    if facility not in FACILITIES:
        raise ValueError(f"log {address}: unknown facility '{facility}'")
    levels = rest[:2]
    for level in levels:
        if level not in LEVELS:
            raise ValueError(f"log {address}: unknown level '{level}'")
    if len(rest) > 2:
        raise ValueError(f"log {address}: unexpected '{rest[2]}'")
    return LogTarget(
        address,
        facility,
        levels[0] if levels else "debug",
        levels[1] if len(levels) > 1 else "emerg",
        fmt,
        length,
        file,
        line,
    )


def inherited_fd(address: str, keyword: str) -> int:
    """The N of `fd@N`, which must be an open socket, as HAProxy 2.6 checks it.

    HAProxy calls getsockname() on it while parsing, so `haproxy -c` too fails
    on a descriptor that is not open (`Bad file descriptor`) or not a socket.
    """
    text = address.removeprefix("fd@")
    if not text.isdigit():
        raise ValueError(
            f"'{keyword}' : file descriptor '{text}' is not a valid integer in '{address}'"
        )
    fd = int(text)
    try:
        probe = socket.socket(fileno=fd)  # getsockname() on it, as HAProxy does
    except OSError as exc:
        raise ValueError(
            f"'{keyword}' : cannot use file descriptor '{fd}' : {exc.strerror or exc}."
        ) from None
    probe.detach()  # the descriptor stays open: it is the listener's
    return fd


def parse_stats_socket(
    args: tuple[str, ...], file: str | None, line: int | None
) -> tuple[StatsSocket, list[str]]:
    """`stats socket <path|[ipv4@]addr:port> [mode M] [level L] [expose-fd listeners] …`.

    Returns the socket and notes about accepted-but-unused options.
    """
    if not args:
        raise ValueError("'stats socket' expects a path or an address")
    address, rest = args[0], list(args[1:])
    fd = inherited_fd(address, "stats socket") if address.startswith("fd@") else None
    is_unix = fd is None and (address.startswith(("/", "unix@", "./")) or ":" not in address)
    if not is_unix and fd is None:
        host, port = split_address(address.split("@", 1)[-1])
        if port is None:
            raise ValueError(f"stats socket: missing port in '{address}'")
        del host
    mode: int | None = None
    level = "operator"
    expose = False
    notes: list[str] = []
    while rest:
        key = rest.pop(0)
        if key in ("mode", "level", "user", "group", "uid", "gid", "expose-fd"):
            if not rest:
                raise ValueError(f"stats socket: '{key}' expects a value")
            value = rest.pop(0)
            if key == "mode":
                try:
                    mode = int(value, 8)
                except ValueError:
                    raise ValueError(f"stats socket: mode expects octal, got '{value}'") from None
            elif key == "level":
                if value not in ("user", "operator", "admin"):
                    raise ValueError(
                        f"stats socket: level must be user, operator or admin, got '{value}'"
                    )
                level = value
            elif key == "expose-fd":
                if value != "listeners":
                    raise ValueError(f"stats socket: expose-fd expects 'listeners', got '{value}'")
                expose = True
                notes.append(
                    "'expose-fd listeners' has no effect: balancekit-server reloads without "
                    "passing listening sockets over the stats socket"
                )
            else:
                notes.append(f"'{key} {value}' has no effect: balancekit-server does not chown")
        else:
            raise ValueError(f"stats socket: unknown option '{key}'")
    return (
        StatsSocket(address, is_unix, mode, level, expose, file, line, fd),  # type: ignore[arg-type]
        notes,
    )


def unix_path(text: str) -> str | None:
    """The UNIX socket an address names: `unix@/path` or a bare `/path` (a path), or
    `abns@name` (NUL + name: Linux's abstract namespace); None for another address."""
    if text.startswith("abns@"):
        if not text[5:]:
            raise ValueError(f"bind: missing socket name in '{text}'")
        return "\0" + text[5:]
    path = text[5:] if text.startswith("unix@") else text if text.startswith("/") else None
    if path is not None and not path:
        raise ValueError(f"bind: missing socket path in '{text}'")
    if path is not None and len(path.encode()) > 107:
        raise ValueError(f"bind: socket path '{path}' is too long (at most 107 bytes)")
    return path


def _bind_address(text: str) -> tuple[str, list[int], bool]:
    """One `addr:port[-end]` of a bind list -> (host, ports, v6)."""
    original = text
    for prefix in ("ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    if text.startswith(("fd@", "sockpair@", "udp@", "quic")):
        raise ValueError(f"bind: '{original}' is not a TCP address (only host:port is supported)")
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ValueError(f"bind: missing port number in '{original}'")
        port_text = rest[1:]
    else:
        if ":" not in text:
            raise ValueError(f"bind: missing port number in '{original}'")
        host, _, port_text = text.rpartition(":")
    if host in ("", "*"):
        host = "0.0.0.0"
    v6 = ":" in host
    if not is_ip(host) and not _is_hostname(host):
        raise ValueError(f"bind: invalid address '{host}' in '{original}'")
    low_text, _, high_text = port_text.partition("-")
    if not low_text.isdigit() or (high_text and not high_text.isdigit()):
        raise ValueError(f"bind: invalid port '{port_text}' in '{original}'")
    low = int(low_text)
    high = int(high_text) if high_text else low
    if low > 65535 or high > 65535 or high < low:
        raise ValueError(f"bind: invalid port range '{port_text}' in '{original}'")
    return host, list(range(low, high + 1)), v6


#: `bind` options that set the TLS versions, as `ssl-default-bind-options` words.
TLS_FLAGS = frozenset(
    {"no-sslv3", "no-tlsv10", "no-tlsv11", "no-tlsv12", "no-tlsv13", "no-tls-tickets",
     "force-tlsv10", "force-tlsv11", "force-tlsv12", "force-tlsv13", "prefer-client-ciphers"}
)  # fmt: skip
TLS_VERSIONS = ("SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")


def _bind_value(key: str, rest: list[str]) -> str:
    if not rest:
        raise ValueError(f"bind: '{key}' expects a value")
    return rest.pop(0)


def _tcp_value(key: str, rest: list[str]) -> int:
    """`mss <n>`, `tcp-ut <time>`, `backlog <n>`, with HAProxy's checks and words."""
    if not rest:
        raise ValueError(f"bind: '{key}' : missing {_TCP_VALUE_NAMES[key]}")
    word = rest.pop(0)
    if key == "tcp-ut":
        return int(parse_time(word) * 1000)
    value = c_atol(word)
    if key == "mss" and not 1 <= value <= 65535:
        # HAProxy also takes a negative MSS (clamp what clients announce), which
        # needs a per-connection setting balancekit does not make.
        raise ValueError(
            f"bind: '{key}' : expects an MSS between 1 and 65535 (a negative MSS is an "
            "HAProxy setting balancekit does not support)"
        )
    if key == "backlog" and value < 0:
        raise ValueError(f"bind: '{key}' : invalid value {value}, must be > 0")
    return value


_TCP_VALUE_NAMES = {"mss": "MSS value", "tcp-ut": "TCP User Timeout value", "backlog": "value"}


def parse_bind(
    args: tuple[str, ...],
    file: str | None,
    line: int | None,
    crt_base: str | None,
    ca_base: str | None = None,
) -> tuple[Bind, ...]:
    """`bind <addr>:<port>[-<end>][,…] [ssl] [crt F]… [accept-proxy] [name N] …`."""
    if not args:
        raise ValueError("'bind' expects an address")
    addresses = [a for a in args[0].split(",") if a]
    rest = list(args[1:])
    tls: dict[str, Any] = {}
    tcp: dict[str, Any] = {}
    options: list[str] = []
    flags = {"ssl": False, "accept-proxy": False, "v4v6": False, "v6only": False}
    crts: list[str] = []
    crt_lists: list[str] = []
    name: str | None = None
    alpn: tuple[str, ...] = ()
    while rest:
        key = rest.pop(0)
        if key in ("crt", "crt-list"):
            value = _bind_value(key, rest)
            path = value if os.path.isabs(value) or not crt_base else os.path.join(crt_base, value)
            if not os.path.exists(path):
                what = "SSL certificate" if key == "crt" else "crt-list"
                raise ValueError(f"bind: unable to load {what} file '{path}'")
            (crts if key == "crt" else crt_lists).append(path)
        elif key == "name":
            name = _bind_value(key, rest)
        elif key == "alpn":
            alpn = tuple(p for p in _bind_value(key, rest).split(",") if p)
        elif key in flags:
            flags[key] = True
        elif key in TLS_FLAGS:
            options.append(key)
        elif key in ("ssl-min-ver", "ssl-max-ver"):
            version = _bind_value(key, rest)
            if version not in TLS_VERSIONS:
                raise ValueError(f"bind: '{version}' : unknown ssl/tls version")
            options.append(f"{key} {version}")
        elif key in ("ciphers", "ciphersuites", "curves"):
            tls[key] = _bind_value(key, rest)
        elif key == "ca-file":
            value = _bind_value(key, rest)
            tls["ca_file"] = (
                value if os.path.isabs(value) or not ca_base else os.path.join(ca_base, value)
            )
        elif key == "verify":
            value = _bind_value(key, rest)
            if value not in ("none", "optional", "required"):
                raise ValueError(
                    f"bind: 'verify' : unknown verify method '{value}', only 'none', "
                    "'optional', and 'required' are supported"
                )
            tls["verify"] = value
        elif key == "strict-sni":
            tls["strict_sni"] = True
        elif key in ("tfo", "defer-accept"):
            tcp[key.replace("-", "_")] = True
        elif key in ("mss", "tcp-ut", "backlog"):
            tcp[key.replace("-", "_")] = _tcp_value(key, rest)
        elif key in HAPROXY_BIND_OPTIONS:
            raise ValueError(
                f"bind: '{key}' is an HAProxy bind option that balancekit does not support; "
                "see docs/configuration.md"
            )
        else:
            raise ValueError(f"bind: unknown option '{key}'{_close(key, list(BIND_KEYWORDS))}")
    ssl, accept_proxy = flags["ssl"], flags["accept-proxy"]
    if ssl and not crts and not crt_lists:
        raise ValueError("bind: 'ssl' needs at least one 'crt <file>' or 'crt-list <file>'")
    common: dict[str, Any] = dict(
        tls, **tcp, tls_options=tuple(options), crt_lists=tuple(crt_lists), file=file, line=line
    )
    binds: list[Bind] = []
    for text in addresses:
        if text.startswith("fd@"):
            fd = inherited_fd(text, "bind")
            binds.append(
                Bind("", 0, False, ssl, tuple(crts), accept_proxy, name, alpn, fd=fd, **common)
            )
            continue
        unix = unix_path(text)
        if unix is not None:
            binds.append(
                Bind("", 0, False, ssl, tuple(crts), accept_proxy, name, alpn, path=unix, **common)
            )
            continue
        host, ports, v6 = _bind_address(text)
        for port in ports:
            binds.append(
                Bind(host, port, v6, ssl, tuple(crts), accept_proxy, name, alpn,
                     flags["v4v6"], flags["v6only"], **common)
            )  # fmt: skip
    return tuple(binds)


def _close(word: str, options: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


@dataclass(slots=True)
class ServerParams:
    """Options of a `server` or `default-server` line, before the `Server` is built."""

    server: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    def copy(self) -> ServerParams:
        return ServerParams(dict(self.server), dict(self.extras))


_FLAGS: dict[str, tuple[str, str, object]] = {
    "backup": ("server", "backup", True),
    "disabled": ("server", "disabled", True),
    "enabled": ("server", "disabled", False),
    "check": ("server", "check", True),
    "no-check": ("server", "check", False),
    "send-proxy": ("server", "send_proxy", True),
    "send-proxy-v2": ("server", "send_proxy_v2", True),
    "ssl": ("extras", "ssl", True),
    "no-ssl": ("extras", "ssl", False),
    "check-ssl": ("extras", "check_ssl", True),
    "no-check-ssl": ("extras", "check_ssl", False),
    "check-send-proxy": ("extras", "check_send_proxy", True),
    "no-backup": ("server", "backup", False),
    "no-send-proxy": ("server", "send_proxy", False),
    "no-send-proxy-v2": ("server", "send_proxy_v2", False),
    "agent-check": ("server", "agent_check", True),
    "no-agent-check": ("server", "agent_check", False),
}

#: Server options that add a word to the line's TLS options (`ssl-default-server-options`
#: words): the bind's but the one about ciphers a server does not choose; `tls-tickets`
#: takes `no-tls-tickets` back.
_SERVER_TLS_FLAGS = TLS_FLAGS - {"prefer-client-ciphers"}


def parse_server_params(
    args: tuple[str, ...],
    base: ServerParams,
    ca_base: str | None,
    warn: Callable[[str], None] | None = None,
    crt_base: str | None = None,
) -> ServerParams:
    """Apply server options `args` on top of `base` (the `default-server` values).

    `warn` receives what HAProxy accepts with a warning (a time unit followed by
    junk); without it such values are errors.
    """
    params = base.copy()
    rest = list(args)
    while rest:
        key = rest.pop(0)
        if key in _FLAGS:
            target, attr, value = _FLAGS[key]
            getattr(params, target)[attr] = value
            continue
        if key in _SERVER_TLS_FLAGS or key == "tls-tickets":
            kept = [o for o in params.extras.get("tls_options", ()) if o != "no-tls-tickets"]
            params.extras["tls_options"] = (*kept, key) if key != "tls-tickets" else tuple(kept)
            continue
        if key not in SERVER_KEYWORDS:
            if key in HAPROXY_SERVER_OPTIONS:
                raise ValueError(
                    f"server option '{key}' is an HAProxy keyword that balancekit does not "
                    "support; see docs/configuration.md"
                )
            raise ValueError(f"unknown server option '{key}'{_close(key, list(SERVER_KEYWORDS))}")
        if key in _ATOL_OPTIONS and (not rest or not rest[0].isdigit()) and warn is not None:
            # HAProxy 2.6 reads these with atol(): the next word whatever it is
            # (`weight check` takes "check"), and 0 when it is not a number.
            word = rest.pop(0) if rest else ""
            value = str(max(c_atol(word), 0))
            shown = f"{key} {word}".rstrip()
            warn(f"server option '{shown}' is read as {value}, as HAProxy 2.6 does")
            rest.insert(0, value)
        if not rest:
            raise ValueError(f"server option '{key}' expects a value")
        value = rest.pop(0)
        s, x = params.server, params.extras
        if key == "weight":
            s["weight"] = _int(value, "weight", 0, 256)
        elif key in ("maxconn", "maxqueue", "error-limit"):
            s[key.replace("-", "_")] = _int(value, key, 0)
        elif key == "id":
            s["id"] = _int(value, "id", 1)
        elif key in ("rise", "fall"):
            s[key] = _int(value, key, 1)
        elif key in ("inter", "fastinter", "downinter", "slowstart"):
            notes: list[str] = []
            seconds = parse_time(value, warnings=notes if warn is not None else None)
            if warn is not None:
                for note in notes:
                    warn(note)
            if key != "slowstart" and seconds <= 0:
                raise ValueError(f"{key} must be greater than 0, got '{value}'")
            s[key] = seconds
        elif key == "port":
            s["check_port"] = _int(value, "port", 1, 65535)
        elif key == "agent-port":
            s["agent_port"] = _int(value, "agent-port", 1, 65535)
        elif key == "agent-addr":
            if not is_ip(value):
                raise ValueError(
                    f"parsing agent-addr failed. Check if '{value}' is correct address."
                )
            s["agent_addr"] = value
        elif key == "agent-send":
            s["agent_send"] = value
        elif key == "agent-inter":
            seconds = parse_time(value)
            if seconds <= 0:
                raise ValueError(f"agent-inter must be greater than 0, got '{value}'")
            s["agent_inter"] = seconds
        elif key == "addr":
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError(f"addr expects an IP address, got '{value}'") from None
            s["check_addr"] = value
        elif key == "observe":
            if value not in ("layer4", "layer7"):
                raise ValueError(f"observe expects layer4 or layer7, got '{value}'")
            s["observe"] = value
        elif key == "on-error":
            if value not in ON_ERROR_ACTIONS:
                raise ValueError(
                    f"on-error expects one of {', '.join(ON_ERROR_ACTIONS)}, got '{value}'"
                )
            s["on_error"] = value
        elif key == "on-marked-down":
            if value != "shutdown-sessions":
                raise ValueError(f"'{key}' expects 'shutdown-sessions' but got '{value}'")
            s["shutdown_on_down"] = True
        elif key == "on-marked-up":
            if value != "shutdown-backup-sessions":
                raise ValueError(f"'{key}' expects 'shutdown-backup-sessions' but got '{value}'")
            s["shutdown_backups_on_up"] = True
        elif key == "verify":
            if value not in ("none", "required"):
                raise ValueError(f"verify expects none or required, got '{value}'")
            x["verify"] = value
        elif key == "ca-file":
            x["ca_file"] = (
                value if os.path.isabs(value) or not ca_base else os.path.join(ca_base, value)
            )
        elif key in ("sni", "check-sni"):
            x[key.replace("-", "_")] = value
        elif key == "crt":
            x["crt"] = (
                value if os.path.isabs(value) or not crt_base else os.path.join(crt_base, value)
            )
        elif key in ("ciphers", "ciphersuites"):
            x[key] = value
        elif key in ("ssl-min-ver", "ssl-max-ver"):
            if value not in TLS_VERSIONS:
                raise ValueError(f"'{value}' : unknown ssl/tls version.")
            x["tls_options"] = (*x.get("tls_options", ()), f"{key} {value}")
        elif key in ("alpn", "check-alpn"):
            x[key.replace("-", "_")] = tuple(p for p in value.split(",") if p)
        elif key == "cookie":
            s["cookie"] = value
        elif key == "init-addr":
            x["init_addr"] = parse_init_addr(value)
        elif key == "resolve-prefer":
            if value not in ("ipv4", "ipv6"):
                raise ValueError("'resolve-prefer' expects either ipv4 or ipv6 as argument.")
            x["resolve_prefer"] = value
        elif key == "resolvers":
            x["resolvers"] = value
        elif key == "resolve-opts":
            x["resolve_opts"] = parse_resolve_opts(value)
        elif key == "resolve-net":
            x["resolve_net"] = parse_resolve_net(value)
    return params


def parse_resolve_opts(value: str) -> tuple[str, ...]:
    """`resolve-opts allow-dup-ip,ignore-weight,prevent-dup-ip` (srv_parse_resolve_opts)."""
    options = tuple(word for word in value.split(",") if word)
    for option in options:
        if option not in ("allow-dup-ip", "ignore-weight", "prevent-dup-ip"):
            raise ValueError(
                f"'resolve-opts' : unknown resolve-opts option '{option}', supported methods "
                "are 'allow-dup-ip', 'ignore-weight', and 'prevent-dup-ip'."
            )
    return options


def parse_resolve_net(value: str) -> tuple[str, ...]:
    """`resolve-net 10.0.0.0/8,fd00::/8` (srv_parse_resolve_net)."""
    networks = tuple(word for word in value.split(",") if word)
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ValueError(f"'resolve-net' : invalid network '{network}'.") from None
    return networks


def parse_init_addr(value: str) -> tuple[str, ...]:
    """`init-addr last,libc,none,<ip>`: the methods, in order (server.c's
    srv_parse_init_addr, with its messages)."""
    methods: list[str] = []
    for method in value.split(","):
        if method in ("libc", "last", "none"):
            if method in methods:
                raise ValueError(
                    f"'init-addr' : too many init-addr methods when trying to add '{method}'"
                )
        elif is_ip(method):
            if any(is_ip(m) for m in methods):
                raise ValueError(
                    f"'init-addr' : initial address already specified, cannot add '{method}'."
                )
        else:
            raise ValueError(
                f"'init-addr' : unknown init-addr method '{method}', supported methods are "
                "'libc', 'last', 'none'."
            )
        methods.append(method)
    return tuple(methods)


def runtime_server(name: str, address: str, words: Sequence[str]) -> Server:
    """A server line given at run time (`add server B/S ADDR [options]`): checked
    and parsed as a config `server` line without `default-server` (HAProxy 2.6
    applies none to dynamic servers).  Options that need per-server TLS or
    PROXY state beyond the `Server` itself are refused: dynamic servers get
    what `Server` carries."""
    address = server_address(name, address)
    params = parse_server_params(tuple(words), ServerParams(), None)
    if params.extras:
        raise ValueError(
            f"server '{name}': {', '.join(sorted(params.extras))} not supported on "
            "servers added at run time"
        )
    return Server(name, address, **params.server)


def server_address(name: str, address: str) -> str:
    """A server address checked, names left to the runtime to resolve.  A host of
    `*` or none (`*:80`, `:80`) is the any-address 0.0.0.0, as HAProxy's
    str2sa_range reads it: connecting there reaches this machine."""
    if address in SERVER_KEYWORDS:
        raise ValueError(f"server '{name}': missing address (found option '{address}' instead)")
    if address.startswith(("fd@", "sockpair@")):
        raise ValueError(f"server '{name}': '{address}' is not a TCP address")
    if unix_sockaddr(address) is not None:
        if address in ("unix@", "abns@"):
            raise ValueError(f"server '{name}': missing socket path in '{address}'")
        return address
    host, port = split_address(address)
    if host in ("", "*") and ":" in address:
        return "0.0.0.0" if port is None else f"0.0.0.0:{port}"
    if not host:
        raise ValueError(f"server '{name}': missing host in address '{address}'")
    if not is_ip(host) and not _is_hostname(host):
        raise ValueError(f"server '{name}': invalid address '{address}'")
    return address


def _is_hostname(host: str) -> bool:
    """A DNS name; resolving it is the runtime's job (balancekit does no I/O)."""
    labels = host.rstrip(".").split(".")
    return all(part and part.replace("-", "").replace("_", "").isalnum() for part in labels)
