"""Traffic logs the way HAProxy writes them: line formats and syslog targets.

Operators grep, parse and ship HAProxy's log lines with existing tooling, so the
shape matters more than the prose: `format_tcplog` and `format_httplog` produce
the exact fields of `option tcplog` / `option httplog`, and `Logger` sends them
to `stdout`, `stderr`, a unix datagram socket (`/dev/log`) or UDP syslog with
the `raw`, `rfc3164` or `rfc5424` header HAProxy would put in front.

Sending never blocks the event loop on a syslog server and never raises: like
HAProxy, a log that cannot be delivered is dropped.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from mypy_extensions import mypyc_attr

from balancekit import Request
from balancekit.acl.fetches import SampleExpr, format_sample
from balancekit.config import FACILITIES, LEVELS, LogTarget
from balancekit.logline import (
    ABSENT_WHEN_EMPTY,
    CLF_HTTPLOG_FORMAT,
    HTTPLOG_FORMAT,
    LOG_VARIABLES,
    TCPLOG_FORMAT,
    LogLine,
    compile_log_line,
)

if TYPE_CHECKING:
    from balancekit.config.runtime import Frontend

__all__ = [
    "CLF_HTTPLOG_FORMAT",
    "FACILITIES",
    "HTTPLOG_FORMAT",
    "LEVELS",
    "LOG_VARIABLES",
    "TCPLOG_FORMAT",
    "LogFormat",
    "LogTarget",
    "Logger",
    "console",
    "expand_targets",
    "format_date",
    "format_httplog",
    "format_tcplog",
    "http_log_writer",
    "target_kind",
]


def console(level: str, message: str) -> None:
    """One line on stderr in HAProxy's own shape (`[WARNING]  (pid) : message`), for
    what HAProxy says on its console: startup, stops, reloads, health changes."""
    tag = {"alert": "[ALERT]   ", "warning": "[WARNING] "}.get(level, "[NOTICE]  ")
    sys.stderr.write(f"{tag} ({os.getpid()}) : {message}\n")
    sys.stderr.flush()


FORMATS = ("raw", "rfc3164", "rfc5424", "short", "local")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# -- line formats --------------------------------------------------------------------


def format_date(epoch: float) -> str:
    """HAProxy's `%t`/`%tr` date: local time, `06/Feb/2009:12:14:14.655`."""
    tm = time.localtime(epoch)
    ms = round(epoch * 1_000_000) // 1000 % 1000
    return (
        f"{tm.tm_mday:02d}/{_MONTHS[tm.tm_mon - 1]}/{tm.tm_year:04d}:"
        f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}.{ms:03d}"
    )


def _frontend(name: str, ssl: bool) -> str:
    # %ft: the frontend name, suffixed with '~' when the listener speaks TLS.
    return f"{name}~" if ssl else name


def _retries(retries: int, redispatched: bool) -> str:
    # %rc: '+' in front when the session was redispatched to another server.
    return f"+{retries}" if redispatched else str(retries)


def format_tcplog(
    *,
    client_ip: str,
    client_port: int,
    accept_date: float,
    frontend: str,
    backend: str,
    server: str | None,
    tw: int,
    tc: int,
    tt: int,
    bytes_read: int,
    termination: str = "--",
    actconn: int = 0,
    feconn: int = 0,
    beconn: int = 0,
    srv_conn: int = 0,
    retries: int = 0,
    redispatched: bool = False,
    srv_queue: int = 0,
    backend_queue: int = 0,
    ssl: bool = False,
    logasap: bool = False,
) -> str:
    """One `option tcplog` line (HAProxy's `%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts
    %ac/%fc/%bc/%sc/%rc %sq/%bq`).

    Times are milliseconds; `-1` means "that phase was never reached", as in
    HAProxy.  `server=None` prints `<NOSRV>`.  `logasap` (`option logasap`) marks
    the total time and the bytes `+`: they are what was known when it was logged.
    """
    mark = "+" if logasap else ""
    return (
        f"{client_ip}:{client_port} [{format_date(accept_date)}] {_frontend(frontend, ssl)} "
        f"{backend}/{server or '<NOSRV>'} {tw}/{tc}/{mark}{tt} {mark}{bytes_read} {termination} "
        f"{actconn}/{feconn}/{beconn}/{srv_conn}/{_retries(retries, redispatched)} "
        f"{srv_queue}/{backend_queue}"
    )


_URL_SPECIAL = frozenset(b'"#')
_HDR_SPECIAL = frozenset(b'"#{|}')


def _encode(text: str, special: frozenset[int]) -> str:
    # HAProxy escapes control bytes, bytes >= 127 and a few specials as `#XX`.
    out = []
    for byte in text.encode("utf-8", "surrogateescape"):
        if byte < 32 or byte >= 127 or byte in special:
            out.append(f"#{byte:02X}")
        else:
            out.append(chr(byte))
    return "".join(out)


def _quote(text: str) -> str:
    # %{+Q}r: the request line in double quotes, URL-escaped as HAProxy does.
    return '"' + _encode(text, _URL_SPECIAL) + '"'


def format_httplog(
    *,
    client_ip: str,
    client_port: int,
    request_date: float,
    frontend: str,
    backend: str,
    server: str | None,
    treq: int,
    tw: int,
    tc: int,
    tr: int,
    ta: int,
    status: int,
    bytes_read: int,
    request_line: str,
    termination: str = "--",
    cookies: str = "--",
    actconn: int = 0,
    feconn: int = 0,
    beconn: int = 0,
    srv_conn: int = 0,
    retries: int = 0,
    redispatched: bool = False,
    srv_queue: int = 0,
    backend_queue: int = 0,
    captured_request_cookie: str = "-",
    captured_response_cookie: str = "-",
    captured_request_headers: Sequence[str] | None = None,
    captured_response_headers: Sequence[str] | None = None,
    ssl: bool = False,
    logasap: bool = False,
) -> str:
    """One `option httplog` line (HAProxy's `%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta
    %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r`).

    `termination` is the two-letter session state (`--`, `SC`, `cD`…) and
    `cookies` the two cookie letters of `%tsc` (`--` when the backend has no
    `cookie` line; balancekit.persistence).  Captured headers appear as `{a|b}`
    only when given, like HAProxy prints them only when `capture request/response
    header` is set.
    `request_line` is the raw `METHOD URI VERSION`, quoted and escaped here.
    `logasap` (`option logasap`) marks `%Ta` and `%B` `+`, as HAProxy does.
    """
    mark = "+" if logasap else ""
    parts = [
        f"{client_ip}:{client_port}",
        f"[{format_date(request_date)}]",
        _frontend(frontend, ssl),
        f"{backend}/{server or '<NOSRV>'}",
        f"{treq}/{tw}/{tc}/{tr}/{mark}{ta}",
        str(status),
        f"{mark}{bytes_read}",
        captured_request_cookie or "-",
        captured_response_cookie or "-",
        f"{termination}{cookies}",
        f"{actconn}/{feconn}/{beconn}/{srv_conn}/{_retries(retries, redispatched)}",
        f"{srv_queue}/{backend_queue}",
    ]
    if captured_request_headers is not None:
        parts.append(
            "{" + "|".join(_encode(h, _HDR_SPECIAL) for h in captured_request_headers) + "}"
        )
    if captured_response_headers is not None:
        parts.append(
            "{" + "|".join(_encode(h, _HDR_SPECIAL) for h in captured_response_headers) + "}"
        )
    parts.append(_quote(request_line))
    return " ".join(parts)


def httplog_values(entry: Any, logasap: bool = False) -> dict[str, object]:
    """The `log-format` variables of one HTTP request (an `HttpLogEntry`);
    `logasap` marks the total times and the bytes `+`, as HAProxy does."""
    method, _, rest = entry.request_line.partition(" ")
    uri, _, version = rest.rpartition(" ")
    path, mark, query = uri.partition("?")
    date = format_date(entry.request_date)
    gmt = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(entry.request_date))
    local = time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(entry.request_date))
    timers = max(entry.treq, 0) + max(entry.tw, 0) + max(entry.tc, 0) + max(entry.tr, 0)
    ta: object = f"+{entry.ta}" if logasap else entry.ta
    front = entry.request  # the connection's view, kept when the format reads it
    server, source = entry.server_address, entry.source_address
    bytes_read: object = f"+{entry.bytes_read}" if logasap else entry.bytes_read
    tls = front.tls if front is not None and front.ssl else None  # (%sslv, %sslc)
    return {
        # addresses and names
        "ci": entry.client_ip, "cp": entry.client_port,
        "fi": None if front is None else front.dst, "fp": None if front is None else front.dst_port,
        "si": server[0], "sp": server[1], "bi": source[0], "bp": source[1],
        "f": entry.frontend, "ft": _frontend(entry.frontend, entry.ssl),
        "b": entry.backend, "s": entry.server or "<NOSRV>",
        "H": socket.gethostname(), "pid": os.getpid(),
        # dates and timers (ms)
        "t": date, "tr": date, "Ts": int(entry.request_date),
        "T": gmt, "trg": gmt, "Tl": local, "trl": local,
        "ms": f"{int(entry.request_date * 1000) % 1000:03d}",
        "TR": entry.treq, "Tw": entry.tw, "Tc": entry.tc, "Tr": entry.tr, "Ta": ta,
        "Tt": ta, "Tu": ta, "Th": 0, "Ti": 0, "Tq": entry.treq,
        "Td": max(0, entry.ta - timers),
        # status, bytes, state, counts
        "ST": entry.status, "B": bytes_read, "CC": None, "CS": None,
        "ts": entry.termination, "tsc": f"{entry.termination}{entry.cookies}",
        "ac": entry.actconn, "fc": entry.feconn, "bc": entry.beconn, "sc": entry.srv_conn,
        "rc": _retries(entry.retries, entry.redispatched),
        "sq": entry.srv_queue, "bq": entry.backend_queue,
        # the request
        "r": entry.request_line, "HM": method, "HU": uri, "HP": path,
        "HPO": _path_only(path), "HQ": mark + query, "HV": version,
        "ID": getattr(entry, "unique_id", None), "rt": _serial(entry),
        "sslv": tls.protocol if tls is not None else None,
        "sslc": tls.cipher if tls is not None else None,
        **_captured_values("hr", entry.captured_request_headers),
        **_captured_values("hs", entry.captured_response_headers),
    }  # fmt: skip


def _serial(entry: Any) -> int | None:
    stream = entry.request.stream if entry.request is not None else None
    return None if stream is None else int(stream.serial)


def stream_log_level(
    separate_errors: bool,
    only_errors: bool,
    termination: str,
    retries: int,
    redispatched: bool,
    status: int = 0,
) -> str | None:
    """The level a stream's line is logged at, None for no line: `option
    log-separate-errors` logs a stream that reports a problem at level err, `option
    dontlog-normal` logs only those.  A problem is log.c's strm_log `err`: the
    stream was redispatched, it ended for another reason than a local one (the
    first termination letter neither `-` nor `L`), it needed retries without
    failing, or its HTTP answer is a 5xx."""
    if not (separate_errors or only_errors):
        return "info"
    cause = termination[:1]
    error = (
        redispatched or cause not in ("-", "L") or (cause == "-" and retries > 0) or status >= 500
    )
    if not error:
        return None if only_errors else "info"
    return "err" if separate_errors else "info"


#: `log-format` variables of the connections' addresses: a proxy whose format reads
#: them keeps them on each log entry (`log_requests`).
_CONNECTION_VARIABLES = frozenset({"fi", "fp", "si", "sp", "bi", "bp", "sslv", "sslc"})


def http_log_writer(
    frontend: Frontend, emit: Callable[[str, str], None] | None
) -> tuple[Callable[[Any], None] | None, bool]:
    """How a `mode http` frontend logs its requests, for the server and the in-app
    middleware alike: `(log, log_requests)`, where `log` turns an `HttpLogEntry`
    into the frontend's line (`log-format`, else `option httplog [clf]`) and hands
    it to `emit(line, level)`, and `log_requests` says the format reads request
    samples, so the proxy must keep the request for it.  As in HAProxy, a
    `log-format` line turns logging on by itself and wins over `option httplog`.
    `log` is None when the frontend logs nothing or there is nowhere to send it."""
    template: LogFormat | None = None
    if frontend.log_line is not None:
        template = LogFormat(frontend.log_line)
    elif frontend.httplog and frontend.httplog_clf:
        template = LogFormat(CLF_HTTPLOG_FORMAT)
    log_requests = template is not None and bool(
        template.samples or template.variables & _CONNECTION_VARIABLES
    )
    if emit is None or not (frontend.httplog or template is not None):
        return None, log_requests
    send = emit
    render = template.render if template is not None else None
    separate, only_errors = frontend.log_separate_errors, frontend.dontlog_normal
    logasap = frontend.logasap

    def log(entry: Any) -> None:
        level = stream_log_level(
            separate, only_errors, entry.termination, entry.retries, entry.redispatched,
            entry.status,
        )  # fmt: skip
        if level is None:
            return
        override = entry.log_level  # `set-log-level`, after `dontlog-normal` as in strm_log
        if override is not None:
            if override == "silent":
                return
            level = override
        if render is not None:
            send(render(httplog_values(entry, logasap), entry.request), level)
        else:
            send(format_httplog(**entry.as_kwargs(), logasap=logasap), level)

    return log, log_requests


def _path_only(path: str) -> str:
    """%HPO: the path without an absolute-form URI's scheme and authority."""
    scheme, sep, rest = path.partition("://")
    if not sep or "/" in scheme:
        return path
    slash = rest.find("/")
    return rest[slash:] if slash >= 0 else "/"


def _captured_values(name: str, values: Sequence[str] | None) -> dict[str, object]:
    """`%hr`/`%hs` ({a|b}) and `%hrl`/`%hsl` (one item per header, which `render`
    prints space-separated: `-` for an empty one, each quoted with `+Q`)."""
    if values is None:
        return {name: "", f"{name}l": ""}
    encoded = [_encode(value, _HDR_SPECIAL) for value in values]
    return {name: "{" + "|".join(encoded) + "}", f"{name}l": encoded}


# -- targets ---------------------------------------------------------------------------


#: The header formats a sink can write (the config also knows priority, timed, iso).
FORMATS = ("raw", "rfc3164", "rfc5424", "short", "local")


def target_kind(address: str) -> str:
    """`stdout`, `stderr`, `unix` or `udp`: how a `log` address is reached."""
    if address in ("stdout", "stderr"):
        return address
    if address in ("fd@1", "fd@2"):
        return "stdout" if address == "fd@1" else "stderr"
    if address.startswith(("/", "unix@")):
        return "unix"
    return "udp"


def _udp_address(address: str) -> tuple[int, tuple[str, int]]:
    for prefix in ("udp@", "udp4@", "udp6@", "ipv4@", "ipv6@"):
        if address.startswith(prefix):
            address = address[len(prefix) :]
            break
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = int(rest[1:]) if rest.startswith(":") else 514
    elif address.count(":") == 1:
        host, _, port_text = address.partition(":")
        port = int(port_text)
    else:
        host, port = address, 514
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return family, (host, port)


class _Sink:
    """An open destination for one target; writes are fire-and-forget."""

    def __init__(self, target: LogTarget) -> None:
        if target.format not in FORMATS:
            raise ValueError(
                f"format '{target.format}' is not written by balancekit-server "
                f"(expected one of {', '.join(FORMATS)})"
            )
        self.target = target
        self.kind = target_kind(target.address)
        self.sock: socket.socket | None = None
        self.dest: str | tuple[str, int] | None = None
        if self.kind == "unix":
            path = target.address.removeprefix("unix@")
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.dest = path
        elif self.kind == "udp":
            family, addr = _udp_address(target.address)
            self.sock = socket.socket(family, socket.SOCK_DGRAM)
            self.dest = addr
        if self.sock is not None:
            self.sock.setblocking(False)

    def send(self, data: bytes) -> None:
        try:
            if self.kind == "stdout":
                os.write(sys.stdout.fileno(), data + b"\n")
            elif self.kind == "stderr":
                os.write(sys.stderr.fileno(), data + b"\n")
            elif self.sock is not None and self.dest is not None:
                self.sock.sendto(data, self.dest)
        except (OSError, ValueError):
            pass  # HAProxy drops logs it cannot deliver; so do we.

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


def expand_targets(targets: Iterable[LogTarget], global_: Sequence[LogTarget]) -> list[LogTarget]:
    """A proxy's `log` targets with `log global` replaced by the global section's."""
    expanded: list[LogTarget] = []
    for target in targets:
        if target.address == "global":
            expanded.extend(global_)
        else:
            expanded.append(target)
    return expanded


@mypyc_attr(allow_interpreted_subclasses=True)  # tests and users capture lines
class Logger:
    """Sends one message to every configured target, each with its own header.

    `tag` and `hostname` feed the syslog headers (`global log-tag`,
    `log-send-hostname`); HAProxy leaves the hostname out of rfc3164 headers
    unless asked and prints `-` for it in rfc5424.
    """

    def __init__(
        self,
        targets: Iterable[LogTarget],
        *,
        tag: str = "haproxy",
        hostname: str | None = None,
    ) -> None:
        self.targets = tuple(targets)
        self.tag = tag
        self.hostname = hostname
        self.pid = os.getpid()
        self._sinks = [_Sink(t) for t in self.targets]

    def __repr__(self) -> str:
        where = ", ".join(f"{t.address}/{t.format}" for t in self.targets) or "nowhere"
        return f"<Logger {where}>"

    def __bool__(self) -> bool:
        return bool(self.targets)

    def header(self, target: LogTarget, level: str, now: float) -> str:
        """The syslog header HAProxy puts in front of a message for `target`."""
        lvl = max(LEVELS.index(level), LEVELS.index(target.minlevel))
        pri = FACILITIES.index(target.facility) * 8 + lvl
        fmt = target.format
        if fmt == "raw":
            return ""
        if fmt == "short":
            return f"<{lvl}>"
        if fmt == "rfc5424":
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now))
            micro = round(now * 1_000_000) % 1_000_000
            offset = time.strftime("%z", time.localtime(now))
            tz = f"{offset[:3]}:{offset[3:]}" if offset else "Z"
            host = self.hostname or "-"
            return f"<{pri}>1 {stamp}.{micro:06d}{tz} {host} {self.tag} {self.pid} - - "
        tm = time.localtime(now)
        stamp = f"{_MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d} {time.strftime('%H:%M:%S', tm)}"
        if fmt == "rfc3164":
            host = f"{self.hostname} " if self.hostname else ""
            return f"<{pri}>{stamp} {host}{self.tag}[{self.pid}]: "
        return f"<{pri}>{stamp} {self.tag}[{self.pid}]: "  # local

    def log(self, message: str, level: str = "info", now: float | None = None) -> None:
        """Send `message` to every target whose level admits `level`."""
        if not self._sinks:
            return
        at = time.time() if now is None else now
        rank = LEVELS.index(level)
        for sink in self._sinks:
            target = sink.target
            if rank > LEVELS.index(target.level):
                continue
            line = (self.header(target, level, at) + message).encode("utf-8", "replace")
            sink.send(line[: target.length])

    def close(self) -> None:
        for sink in self._sinks:
            sink.close()


# -- custom `log-format` ---------------------------------------------------------------


class LogFormat:
    """A `log-format` line ready to render: `balancekit.logline` compiled it (at
    load, for a config), this fills the values in.

    `render(values)` fills each variable from `values` (a missing or None value
    prints `-`, an empty string prints nothing) and, as HAProxy does, emits a
    run of spaces only once and never after another space (an uncaptured `%hr`
    and the like print nothing at all, quotes included, so no space follows
    them either; a space before them at the end of the line is kept).
    `%{+Q}var` quotes.  Sample expressions (`%[fetch,converter…]`) are evaluated
    on the `request` given to `render` (nothing found prints `-`).
    """

    __slots__ = ("parts", "samples", "template", "variables")

    def __init__(self, line: LogLine | str) -> None:
        compiled = compile_log_line(line) if isinstance(line, str) else line
        self.template = compiled.template
        self.parts: list[tuple[str, str, bool]] = list(compiled.parts)
        self.samples: dict[str, SampleExpr] = dict(compiled.samples)
        self.variables = compiled.variables

    def __repr__(self) -> str:
        return f"LogFormat({self.template!r})"

    def render(self, values: dict[str, object], request: Request | None = None) -> str:
        out: list[str] = []
        last_space = True
        for kind, text, quoted in self.parts:
            if kind == "sep":
                if not last_space:
                    out.append(" ")
                    last_space = True
                continue
            if kind == "lit":
                out.append(text)
                last_space = False
                continue
            if kind == "sample":
                # As HAProxy: a missing sample prints `-`, or `""` when quoted.
                sample = None if request is None else self.samples[text].single(request)
                rendered = ("" if quoted else "-") if sample is None else format_sample(sample)
            else:
                value = values.get(text)
                if value == "" and text in ABSENT_WHEN_EMPTY:
                    # No capture configured: HAProxy prints nothing, not even the
                    # quotes of `%{+Q}hr` (`option httplog clf`'s `%hrl %hsl`).
                    continue
                if isinstance(value, list):  # %hrl/%hsl: each captured header on its own
                    rendered = " ".join(f'"{v}"' if quoted else v or "-" for v in value)
                    quoted = False
                elif value is None:  # nothing to print: `-`, or `""` when quoted
                    rendered, quoted = ('""' if quoted else "-"), False
                else:
                    rendered = str(value)
            if quoted:
                rendered = '"' + rendered + '"'
            # An empty %HQ still counts as printed: the next space is kept.
            out.append(rendered)
            last_space = False
        # A separator before absent variables at the end stays, as in HAProxy.
        return "".join(out)
