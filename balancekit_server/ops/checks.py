"""Active health checks: probe servers on a schedule and drive `balancekit.health`.

Each checked server gets one asyncio task: probe, hand the `CheckResult` to its
`ServerHealth`, apply any transition to the pool (`Backend.set_health`), log it
exactly as HAProxy does, sleep `next_interval()`.  Probes:

* TCP connect (default; HAProxy's L4 check),
* `option httpchk [METH] [URI] [VER]` + `http-check send` + `http-check expect`,
* `option mysql-check [user NAME]` (handshake, then a post-4.1 auth packet with
  the user and no password, then COM_QUIT; as HAProxy's tcp-check ruleset),
* `option pgsql-check user NAME` (a startup packet for the user; an
  authentication request is a pass, an error message a failure).

`HealthMonitor` is also the one place runtime state changes go through
(`set_admin`, `force_health`, `observe`), so the runtime API, passive checks
and active checks all log and count the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import os
import random
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from balancekit import Backend, tcpcheck
from balancekit.agent import INCOMPLETE, agent_maxconn, agent_result, agent_weight
from balancekit.config.runtime import (
    BackendRuntime,
    Config,
    HttpCheck,
    HttpCheckExpect,
    LogTarget,
    ServerExtras,
)
from balancekit.health import (
    CheckResult,
    CheckStatus,
    HealthSettings,
    Observation,
    ServerHealth,
    Transition,
    format_check_report,
    format_drain,
    format_drain_remains,
    format_leave_drain,
    format_leave_maint,
    format_maint,
    format_state_change,
    panic_mode,
    spread_interval,
)
from balancekit.httpcheck import evaluate_http
from balancekit.pool import ServerEvent
from balancekit.server import is_ip, unix_sockaddr
from balancekit.tcpcheck import TcpCheckRule, TcpCheckRuleset, TcpConnect, TcpExpect, TcpSend
from balancekit.tlsconfig import ServerTls
from balancekit_server.net import proxy_protocol
from balancekit_server.net.unix_sockets import connect_unix
from balancekit_server.ops.agent_probe import AgentOutcome, AgentSpec, probe_agent
from balancekit_server.ops.counters import REGISTRY, Registry
from balancekit_server.ops.external_check import ExternalSpec, run_external_check
from balancekit_server.ops.logs import Logger
from balancekit_server.ops.logs import console as stderr_sink

__all__ = [
    "CheckSpec",
    "HealthMonitor",
    "LogSink",
    "current",
    "observe",
    "probe",
    "start",
    "stderr_sink",
]

LogSink = Callable[[str, str], None]


def _silent(level: str, message: str) -> None:
    """A LogSink that says nothing (HealthMonitor.muted)."""


"""(level, message): level is HAProxy's word ("warning", "alert", "notice")."""

_READ_LIMIT = 16384  # HAProxy reads at most one buffer of a check response


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """How to probe one server.  Times in seconds."""

    host: str
    port: int
    kind: Literal["tcp", "http", "mysql", "pgsql"] = "tcp"
    #: The steps of `option tcp-check` and the protocol checks built on it (the
    #: whole probe when set: its first step is the connection).
    tcp_check: TcpCheckRuleset | None = None
    inter: float = 2.0
    connect_timeout: float | None = None  # `timeout connect` (used only with `timeout check`)
    check_timeout: float | None = None  # `timeout check`
    http: HttpCheck | None = None
    expects: tuple[HttpCheckExpect, ...] = ()
    disable_404: bool = False  # `http-check disable-on-404`
    send_state: bool = False  # `http-check send-state`
    mysql_user: str | None = None
    pgsql_user: str | None = None
    tls: bool = False  # `check-ssl`, or `ssl` on the server without `port`/`addr`
    #: The server's TLS settings (`verify`, `ca-file`, `crt`, versions…), with
    #: `check-alpn` in place of `alpn`: also those of `tcp-check connect ssl`.
    tls_settings: ServerTls = field(default_factory=ServerTls)
    sni: str | None = None  # `check-sni`: checks never send the server's `sni`
    # The PROXY version sent first (`send-proxy[-v2]` without `port`/`addr`, as
    # HAProxy does); 0: none.
    send_proxy: int = 0
    #: `option external-check`: the program run instead of any probe.
    external: ExternalSpec | None = None

    def tls_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        # The names are checked against the SNI sent, if any (as for traffic).
        return self.tls_settings.context(check_hostname=bool(self.sni))

    @property
    def connect_limit(self) -> float:
        """HAProxy: the connect phase ends at inter, or earlier at `timeout connect`
        when `timeout check` is set."""
        if self.check_timeout is not None and self.connect_timeout is not None:
            return min(self.inter, self.connect_timeout)
        return self.inter

    def read_limit(self, elapsed: float) -> float:
        if self.check_timeout is not None:
            return self.check_timeout
        return max(self.inter - elapsed, 0.001)


def _loop_deadline(deadline: float) -> float:
    """A time.monotonic() deadline on the loop's clock (they are the same clock on Linux,
    but asyncio does not promise it)."""
    loop = asyncio.get_running_loop()
    return loop.time() + (deadline - time.monotonic())


def _ms(start: float) -> int:
    return int((time.monotonic() - start) * 1000)


async def _connect(
    spec: CheckSpec, start: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | CheckResult:
    return await _open(
        spec.host,
        spec.port,
        spec.tls_context(),
        spec.sni,
        spec.send_proxy,
        spec.connect_limit,
        start,
    )


async def _open(
    host: str,
    port: int,
    context: ssl.SSLContext | None,
    sni: str | None,
    send_proxy: int,
    limit: float,
    start: float,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | CheckResult:
    """A check's connection: TCP (or UNIX), the PROXY header, the TLS handshake."""
    try:
        async with asyncio.timeout(limit):
            unix = unix_sockaddr(host)
            if unix is not None:
                sock = await connect_unix(asyncio.get_running_loop(), unix)
                reader, writer = await asyncio.open_unix_connection(sock=sock)
            else:
                reader, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return CheckResult(CheckStatus.L4TOUT, duration_ms=_ms(start))
    except OSError as exc:
        info = os.strerror(exc.errno) if exc.errno else str(exc)
        if exc.errno is None and isinstance(exc, ConnectionRefusedError):
            info = os.strerror(errno.ECONNREFUSED)
        return CheckResult(CheckStatus.L4CON, info=info, duration_ms=_ms(start))
    if send_proxy:
        writer.write(_proxy_header(send_proxy, writer))
    if context is None:
        return reader, writer
    try:  # the TLS handshake is HAProxy's layer 6
        async with asyncio.timeout(limit):
            await writer.start_tls(context, server_hostname=sni or None)
    except TimeoutError:
        writer.close()
        return CheckResult(CheckStatus.L6TOUT, duration_ms=_ms(start))
    except (OSError, ssl.SSLError) as exc:
        writer.close()
        reason = getattr(exc, "reason", None) or str(exc)
        return CheckResult(CheckStatus.L6RSP, info=str(reason), duration_ms=_ms(start))
    return reader, writer


def _proxy_header(version: int, writer: asyncio.StreamWriter) -> bytes:
    """The PROXY header of a check, as HAProxy 2.6 sends it: v1 names the check's
    own connection (it speaks for no client), v2 says `LOCAL`."""
    if version == 2:
        return proxy_protocol.encode_local(2)
    src, dst = writer.get_extra_info("sockname"), writer.get_extra_info("peername")
    if not src or not dst:
        return proxy_protocol.encode_local(1)
    return proxy_protocol.encode_v1(src[0], src[1], dst[0], dst[1])


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        async with asyncio.timeout(1.0):
            await writer.wait_closed()


async def probe(spec: CheckSpec, *, stopped: bool = False, state: str | None = None) -> CheckResult:
    """Run one check against `spec`; never raises for network trouble.  `stopped`:
    the server is DOWN, so a 404 is not the conditional pass of disable-on-404."""
    start = time.monotonic()
    if spec.tcp_check is not None:
        return await TcpCheckDriver(spec, spec.tcp_check, start).run()
    conn = await _connect(spec, start)
    if isinstance(conn, CheckResult):
        return conn
    reader, writer = conn
    try:
        if spec.kind == "http":
            condpass = spec.disable_404 and not stopped
            return await _http(spec, reader, writer, start, condpass, state)
        if spec.kind == "mysql":
            return await _mysql(spec, reader, writer, start)
        if spec.kind == "pgsql":
            return await _pgsql(spec, reader, writer, start)
        status = CheckStatus.L6OK if spec.tls else CheckStatus.L4OK
        return CheckResult(status, duration_ms=_ms(start))
    except (OSError, asyncio.IncompleteReadError) as exc:
        info = os.strerror(exc.errno) if isinstance(exc, OSError) and exc.errno else ""
        return CheckResult(CheckStatus.SOCKERR, info=info, duration_ms=_ms(start))
    finally:
        await _close(writer)


# -- HTTP ------------------------------------------------------------------------


#: Methods whose empty body goes without `content-length: 0` (HAProxy's H1 output).
_NO_EMPTY_LENGTH = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


def http_request(check: HttpCheck, state: str | None = None) -> bytes:
    """The bytes HAProxy 2.6 sends for `option httpchk` / `http-check send`, as its
    HTX request comes out of the H1 mux: names in lower case, the configured
    headers then `x-haproxy-server-state` (`http-check send-state`), the body's
    length, and the connection header last: none when the version's default is
    what the check wants (close for HTTP/1.0, a configured keep-alive for 1.1),
    else `connection: close` (1.1) or `connection: keep-alive` (1.0)."""
    lines = [f"{check.method} {check.uri} {check.version}"]
    keep_alive = False
    for name, value in check.headers:
        lowered = name.lower()
        if lowered == "connection":
            keep_alive = "keep-alive" in value.lower() and "close" not in value.lower()
            continue
        if lowered == "content-length":
            continue  # HAProxy writes its own, from the body
        lines.append(f"{lowered}: {value}")
    if state is not None:
        lines.append(f"x-haproxy-server-state: {state}")
    body = check.body.encode()
    if body or check.method not in _NO_EMPTY_LENGTH:
        lines.append(f"content-length: {len(body)}")
    if check.version == "HTTP/1.1" and not keep_alive:
        lines.append("connection: close")
    elif check.version != "HTTP/1.1" and keep_alive:
        lines.append("connection: keep-alive")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_http(reader: asyncio.StreamReader, limit: float) -> tuple[bytes, bytes] | None:
    """Read a response head and as much body as Content-Length says (or EOF)."""
    data = b""
    deadline = time.monotonic() + limit
    while b"\r\n\r\n" not in data and len(data) < _READ_LIMIT:
        async with asyncio.timeout_at(_loop_deadline(deadline)):
            chunk = await reader.read(4096)
        if not chunk:
            break
        data += chunk
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return (head, b"") if head else None
    length: int | None = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            length = int(value.strip())
    while (length is None or len(body) < length) and len(body) < _READ_LIMIT:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            async with asyncio.timeout(remaining):
                chunk = await reader.read(4096)
        except TimeoutError:
            break
        if not chunk:
            break
        body += chunk
    return head, body[:length] if length is not None else body


_STATUS_LINE = re.compile(rb"^HTTP/\d\.\d (\d{3})(?: (.*))?$")


async def _http(
    spec: CheckSpec,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    start: float,
    condpass_404: bool,
    state: str | None,
) -> CheckResult:
    writer.write(http_request(spec.http or HttpCheck(), state))
    await writer.drain()
    try:
        response = await _read_http(reader, spec.read_limit(time.monotonic() - start))
    except TimeoutError:
        return CheckResult(CheckStatus.L7TOUT, duration_ms=_ms(start))
    duration = _ms(start)
    if response is None:
        return CheckResult(CheckStatus.L7RSP, duration_ms=duration)
    head, body = response
    match = _STATUS_LINE.match(head.split(b"\r\n", 1)[0])
    if match is None:
        return CheckResult(CheckStatus.L7RSP, duration_ms=duration)
    status = int(match.group(1))
    reason = (match.group(2) or b"").decode("latin-1")
    return evaluate_http(spec.expects, status, reason, body, duration, condpass_404=condpass_404)


# -- MySQL -----------------------------------------------------------------------


def mysql_auth_packet(user: str) -> bytes:
    """HAProxy's post-4.1 client auth (no password) followed by COM_QUIT."""
    name = user.encode()
    payload = (
        bytes.fromhex("00820000")  # capabilities: PROTOCOL_41 | SECURE_CONNECTION
        + bytes.fromhex("00800001")  # max packet
        + b"\x21"  # charset utf8
        + b"\x00" * 23
        + name
        + b"\x00"  # user, NUL-terminated
        + b"\x00"  # empty auth response
    )
    header = len(payload).to_bytes(3, "little") + b"\x01"
    return header + payload + b"\x01\x00\x00\x00\x01"


async def _mysql_packet(reader: asyncio.StreamReader, limit: float) -> bytes:
    async with asyncio.timeout(limit):
        header = await reader.readexactly(4)
        length = int.from_bytes(header[:3], "little")
        return await reader.readexactly(length)


def _mysql_error(packet: bytes, duration: int) -> CheckResult:
    code = int.from_bytes(packet[1:3], "little")
    info = packet[3:].decode("utf-8", "replace")
    return CheckResult(CheckStatus.L7STS, code, info, duration)


async def _mysql(
    spec: CheckSpec, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, start: float
) -> CheckResult:
    if spec.mysql_user is not None:
        writer.write(mysql_auth_packet(spec.mysql_user))
        await writer.drain()
    limit = spec.read_limit(time.monotonic() - start)
    try:
        greeting = await _mysql_packet(reader, limit)
        if greeting[:1] == b"\xff":
            return _mysql_error(greeting, _ms(start))
        version = greeting[1:].split(b"\x00", 1)[0].decode("latin-1")
        if spec.mysql_user is not None:
            answer = await _mysql_packet(reader, limit)
            if answer[:1] == b"\xff":
                return _mysql_error(answer, _ms(start))
    except TimeoutError:
        return CheckResult(CheckStatus.L7TOUT, duration_ms=_ms(start))
    except asyncio.IncompleteReadError:
        return CheckResult(CheckStatus.L7RSP, duration_ms=_ms(start))
    return CheckResult(CheckStatus.L7OK, 0, version, _ms(start))


# -- PostgreSQL ------------------------------------------------------------------


def pgsql_startup_packet(user: str) -> bytes:
    """HAProxy's pgsql-check request: protocol 3.0, the `user` parameter only."""
    body = b"\x00\x03\x00\x00user\x00" + user.encode() + b"\x00\x00"
    return (len(body) + 4).to_bytes(4, "big") + body


#: An authentication request ('R', a length below 256, one of the methods HAProxy's
#: ruleset accepts), matched on the answer's hex as HAProxy's `rbinary` expect does.
_PGSQL_AUTH = re.compile(r"^52000000[A-Z0-9]{2}000000(00|02|03|04|05|06|07|09|0A)")


async def _pgsql(
    spec: CheckSpec, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, start: float
) -> CheckResult:
    """HAProxy's `*pgsql-check` tcp-check ruleset: an answer starting with `E` is an
    error (L7RSP, its severity as the info); else the first 9 bytes must be an
    authentication request (L7OK), or it is an unknown answer (L7STS)."""
    assert spec.pgsql_user is not None
    writer.write(pgsql_startup_packet(spec.pgsql_user))
    await writer.drain()
    limit = spec.read_limit(time.monotonic() - start)
    data = b""
    try:
        async with asyncio.timeout(limit):
            for wanted in (5, 9):  # each expect's min-recv
                while len(data) < wanted:
                    chunk = await reader.read(16384)
                    if not chunk:
                        break
                    data += chunk
                if wanted == 5 and data[:1] == b"E":
                    info = data[6:].split(b"\0", 1)[0].decode("utf-8", "replace")
                    return CheckResult(CheckStatus.L7RSP, info=info, duration_ms=_ms(start))
    except TimeoutError:
        return CheckResult(CheckStatus.L7TOUT, duration_ms=_ms(start))
    if _PGSQL_AUTH.match(data.hex().upper()):
        return CheckResult(CheckStatus.L7OK, 0, "PostgreSQL server is ok", _ms(start))
    return CheckResult(CheckStatus.L7STS, 0, "PostgreSQL unknown error", _ms(start))


# -- tcp-check rulesets (option tcp-check, redis-check, smtpchk, ssl-hello-chk, ldap-check)


class TcpCheckDriver:
    """Runs one check's steps: connects, writes and reads for them, and lets
    `balancekit.tcpcheck` judge what was read (tcpcheck_main's loop)."""

    def __init__(self, spec: CheckSpec, rules: TcpCheckRuleset, start: float) -> None:
        self.spec = spec
        self.rules = rules
        self.start = start
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.data = b""
        self.eof = False
        self.tls = False
        self.deadline: float | None = None  # on the monotonic clock, once connected

    def _done(self, result: CheckResult) -> CheckResult:
        return replace(result, duration_ms=_ms(self.start))

    async def run(self) -> CheckResult:
        try:
            return self._done(await self._steps())
        finally:
            if self.writer is not None:
                await _close(self.writer)

    async def _steps(self) -> CheckResult:
        rules = self.rules.rules
        index, last, must_read = 0, rules[0], True
        while index < len(rules):
            rule = rules[index]
            if isinstance(rule, TcpConnect):
                failure = await self._connect(rule)
                if failure is not None:
                    return tcpcheck.failed_at(self.rules, rule, failure)
                must_read = True
            elif isinstance(rule, TcpSend):
                payload = rule.render()
                if payload is None:
                    info = "tcp-check send : failed to build the data to send"
                    return CheckResult(CheckStatus.L7RSP, info=info)
                assert self.writer is not None
                self.data = b""  # HAProxy releases what it read before each send
                try:
                    self.writer.write(payload)
                    await self.writer.drain()
                except OSError as exc:
                    return self._socket_error(exc, rule)
                must_read = True
            else:
                head = _expect_head(rules, index)
                first = rules[head]
                assert isinstance(first, TcpExpect)
                if must_read:
                    failure = await self._read(first)
                    if failure is not None:
                        return failure
                    must_read = False
                verdict = tcpcheck.expect(rule, self.rules, self.data, self.eof)
                if verdict == "wait":  # read more, then judge again from the series' first
                    failure = await self._read(first)
                    if failure is not None:
                        return failure
                    index = head
                    continue
                if isinstance(verdict, CheckResult):
                    return verdict
            last = rule
            index += 1
        return tcpcheck.passed(self.rules, last, self.data, self.tls)

    async def _connect(self, rule: TcpConnect) -> CheckResult | None:
        spec = self.spec
        if self.writer is not None:
            await _close(self.writer)
            self.writer = None
        host, port = spec.host, spec.port
        if rule.addr is not None:
            host, _, addr_port = (
                rule.addr.rpartition(":") if ":" in rule.addr else (rule.addr, "", "")
            )
            port = int(addr_port) if addr_port.isdigit() else port
        port = rule.port or port
        sni = rule.sni or (spec.sni if rule.default else None)
        context: ssl.SSLContext | None = None
        alpn = tuple(rule.alpn.split(",")) if rule.alpn else None
        if rule.ssl or (rule.default and spec.tls):
            context = spec.tls_settings.context(check_hostname=bool(sni), alpn=alpn)
        send_proxy = spec.send_proxy if rule.default else 0
        if rule.send_proxy:
            send_proxy = spec.send_proxy or 1
        limit = spec.connect_limit
        if self.deadline is not None:
            limit = max(min(limit, self.deadline - time.monotonic()), 0.001)
        conn = await _open(host, port, context, sni, send_proxy, limit, self.start)
        if isinstance(conn, CheckResult):
            return conn
        self.reader, self.writer = conn
        self.data, self.eof, self.tls = b"", False, context is not None
        if self.deadline is None:
            self.deadline = time.monotonic() + spec.read_limit(time.monotonic() - self.start)
        return None

    async def _read(self, rule: TcpExpect) -> CheckResult | None:
        """Read what has arrived (waiting for something), as tcpcheck_eval_recv does;
        a failure ends the check."""
        assert self.reader is not None and self.deadline is not None
        if self.eof:
            return None if self.data else tcpcheck.empty_response(rule)
        try:
            async with asyncio.timeout_at(_loop_deadline(self.deadline)):
                chunk = await self.reader.read(tcpcheck.BUFFER_SIZE - len(self.data))
        except TimeoutError:
            return tcpcheck.timed_out(self.rules, rule)
        except OSError as exc:
            if not self.data:
                return self._socket_error(exc, rule)
            chunk = b""
        if not chunk:
            self.eof = True
            if not self.data:
                return tcpcheck.empty_response(rule)
        self.data += chunk
        return None

    def _socket_error(self, exc: OSError, rule: TcpCheckRule) -> CheckResult:
        info = os.strerror(exc.errno) if exc.errno else ""
        return tcpcheck.failed_at(self.rules, rule, CheckResult(CheckStatus.SOCKERR, info=info))


def _expect_head(rules: tuple[TcpCheckRule, ...], index: int) -> int:
    """The first of the run of `expect` steps `index` is in (HAProxy's expect.head)."""
    while index > 0 and isinstance(rules[index - 1], TcpExpect):
        index -= 1
    return index


# -- the monitor -------------------------------------------------------------------


@dataclass(slots=True)
class _Watched:
    backend: str
    server: str
    health: ServerHealth
    spec: CheckSpec | None
    wake: asyncio.Event | None = None
    check_at: float | None = None
    task: asyncio.Task[None] | None = None
    ramp_task: asyncio.Task[None] | None = None
    history: list[Transition] = field(default_factory=list)
    # Checks disabled at run time (the stats page's "Health: disable checks"): the
    # server keeps its state and no probe runs until they are enabled again.
    paused: bool = False
    # The last transition put the server in NOLB: going DOWN from there is a NOTICE.
    was_stopping: bool = False
    # A probe is running: `show stat` marks its status "* " and, as HAProxy clears
    # them when a check starts, shows no code and no text for it.
    probing: bool = False
    #: `agent-check`: where the agent answers (None: no agent), and its task.
    agent: AgentSpec | None = None
    agent_task: asyncio.Task[None] | None = None
    agent_probing: bool = False
    #: The agent address `show servers state` names: one given by `agent-addr` or
    #: `addr` (or `set server … agent-addr`), else none ("-").
    agent_addr: str | None = None


def agent_spec_for(runtime: BackendRuntime, server_name: str) -> AgentSpec | None:
    """The agent check a server line asks for (None: none)."""
    server = runtime.backend.member(server_name).server
    target = server.agent_target
    if target is None:
        return None
    return AgentSpec(
        host=target[0],
        port=target[1],
        inter=server.agent_inter or server.inter,
        send=server.agent_send.encode("latin-1", "replace"),
        connect_timeout=runtime.timeout_connect,
        check_timeout=runtime.timeout_check,
    )


@dataclass(frozen=True, slots=True)
class ProxyPlace:
    """What an external check says of its proxy: HAProxy's id for it and its first
    listening address and port (`NOT_USED` for a backend without one)."""

    iid: int
    addr: str = "NOT_USED"
    port: str = "NOT_USED"


def external_spec(
    runtime: BackendRuntime, server_name: str, place: ProxyPlace, limit: float
) -> ExternalSpec | None:
    """The program, arguments and environment of one server's external check."""
    ext = runtime.external_check
    if ext is None:
        return None
    member = runtime.backend.member(server_name)
    server = member.server
    try:
        ssl_on = runtime.extras(server_name).ssl
    except KeyError:
        ssl_on = False
    address = server.host
    port = "NOT_USED" if unix_sockaddr(address) is not None else str(server.port or 0)
    env = (
        ("PATH", ext.path),
        ("HAPROXY_PROXY_NAME", runtime.name),
        ("HAPROXY_PROXY_ID", str(place.iid)),
        ("HAPROXY_PROXY_ADDR", place.addr),
        ("HAPROXY_PROXY_PORT", place.port),
        ("HAPROXY_SERVER_NAME", server.name),
        ("HAPROXY_SERVER_ID", str(member.puid)),
        ("HAPROXY_SERVER_ADDR", address),
        ("HAPROXY_SERVER_PORT", port),
        ("HAPROXY_SERVER_MAXCONN", str(server.maxconn)),
        ("HAPROXY_SERVER_SSL", "1" if ssl_on else "0"),
        ("HAPROXY_SERVER_PROTO", "h1" if runtime.mode == "http" else "tcp"),
    )
    args = (place.addr, place.port, address, port)
    return ExternalSpec(ext.command, ext.path, args, env, limit)


def spec_for(
    runtime: BackendRuntime, server_name: str, place: ProxyPlace | None = None
) -> CheckSpec | None:
    """The probe a backend's config asks for on one server (None: not checked)."""
    server = runtime.backend.member(server_name).server
    if not server.check:
        return None
    if runtime.external_check is not None:
        spec = CheckSpec(
            host=server.host,
            port=server.port or 0,
            inter=server.inter,
            connect_timeout=runtime.timeout_connect,
            check_timeout=runtime.timeout_check,
        )
        external = external_spec(runtime, server_name, place or ProxyPlace(0), spec.connect_limit)
        return replace(spec, external=external)
    host = server.check_addr or server.host
    port = server.check_port or server.port
    if port is None:
        return None
    try:
        extras = runtime.extras(server_name)
    except KeyError:
        extras = None
    own_port = server.check_port is None and server.check_addr is None
    tls = extras is not None and (extras.check_ssl or (extras.ssl and own_port))
    version = 2 if server.send_proxy_v2 else 1 if server.send_proxy else 0
    if not own_port:
        version = 0  # a check on its own port or address goes without the server's header...
    if extras is not None and extras.check_send_proxy:
        version = 2 if server.send_proxy_v2 else 1  # ...unless `check-send-proxy` asks
    kind: Literal["tcp", "http", "mysql", "pgsql"] = "tcp"
    if runtime.httpchk is not None:
        kind = "http"
    elif runtime.mysql_check_user is not None:
        kind = "mysql"
    elif runtime.pgsql_check_user is not None:
        kind = "pgsql"
    tls_settings = _check_tls(extras, kind)
    sni = extras.check_sni if extras is not None else None
    rule = runtime.http_check_connect if kind == "http" else None
    if rule is not None:
        # `http-check connect`, read as TcpCheckDriver reads `tcp-check connect`:
        # its own address, port, TLS and PROXY header; `default` adds the server's.
        if rule.addr is not None:
            host, _, addr_port = (
                rule.addr.rpartition(":") if ":" in rule.addr else (rule.addr, "", "")
            )
            port = int(addr_port) if addr_port.isdigit() else port
        port = rule.port or port
        sni = rule.sni or (sni if rule.default else None)
        tls = rule.ssl or (rule.default and tls)
        proxied = version if rule.default else 0
        version = (version or 1) if rule.send_proxy else proxied
        if rule.alpn:
            tls_settings = replace(tls_settings, alpn=tuple(rule.alpn.split(",")))
    return CheckSpec(
        host=host,
        port=port,
        kind=kind,
        inter=server.inter,
        connect_timeout=runtime.timeout_connect,
        check_timeout=runtime.timeout_check,
        http=runtime.httpchk,
        expects=runtime.http_check_expect,
        disable_404=runtime.http_check_disable_404,
        send_state=runtime.http_check_send_state,
        mysql_user=runtime.mysql_check_user or None,
        pgsql_user=runtime.pgsql_check_user,
        tcp_check=runtime.tcp_check,
        tls=tls,
        tls_settings=tls_settings,
        sni=sni,
        send_proxy=version,
    )


def _check_tls(extras: ServerExtras | None, kind: str) -> ServerTls:
    """The server's TLS settings as its checks use them: `check-alpn` replaces
    `alpn`, and HTTP checks, spoken in HTTP/1, offer nothing else."""
    if extras is None:
        return ServerTls()
    alpn = extras.check_alpn if extras.check_alpn is not None else extras.tls.alpn
    if kind == "http":
        alpn = tuple(proto for proto in alpn if proto in ("http/1.1", "http/1.0"))
    return replace(extras.tls, alpn=alpn)


class HealthMonitor:
    """Every server's health in one process, and the checks that drive it.

    Construct with the backends (name → `BackendRuntime`), call `start()` inside
    a running loop, `await stop()` at shutdown.  `mysql-check` without a user is
    expressed by `BackendRuntime.mysql_check_user == ""`.
    """

    def __init__(
        self,
        backends: Mapping[str, BackendRuntime],
        *,
        log: LogSink = stderr_sink,
        registry: Registry = REGISTRY,
        panic_thresholds: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        loggers: Mapping[str, Any] | None = None,
        listens: Iterable[str] = (),
        spread: int = 0,
        max_spread: float | None = None,
        node: str | None = None,
        places: Mapping[str, ProxyPlace] | None = None,
    ) -> None:
        self.backends = dict(backends)
        #: Each backend's id and first listener, for its external checks.
        self.places = dict(places or {})
        #: global `node`, else the host name: what `http-check send-state` reports.
        self.node = node if node is not None else socket.gethostname()
        #: `spread-checks` (percent) and `max-spread-checks` (seconds).
        self.spread = spread
        self.max_spread = max_spread
        #: The backends that are `listen` sections: HAProxy calls them "proxy".
        self.listens = frozenset(listens)
        self.log = log
        self.loggers = dict(loggers or {})  # backend -> logs.Logger (anything with .log(msg, lvl))
        self.registry = registry
        self.clock = clock
        self.panic_thresholds = dict(panic_thresholds or {})
        self.panicking: set[str] = set()
        self.watched: dict[tuple[str, str], _Watched] = {}
        self._observed: list[tuple[Any, Callable[[Observation], None]]] = []
        now = clock()
        for be_name, runtime in self.backends.items():
            for member in runtime.backend.members:
                spec = spec_for(runtime, member.name, self.places.get(be_name))
                health = ServerHealth(
                    HealthSettings.from_server(member.server), now=now, checked=spec is not None
                )
                if member.admin == "maint":
                    health.enter_maint(now)
                server = member.server
                self.watched[(be_name, member.name)] = _Watched(
                    be_name,
                    member.name,
                    health,
                    spec,
                    agent=agent_spec_for(runtime, member.name),
                    agent_addr=server.agent_addr or server.check_addr,
                )

    def __repr__(self) -> str:
        checked = sum(1 for w in self.watched.values() if w.spec is not None)
        down = sum(1 for w in self.watched.values() if not w.health.up)
        return f"<HealthMonitor servers={len(self.watched)} checked={checked} down={down}>"

    # -- lookups -----------------------------------------------------------------

    def health(self, backend: str, server: str) -> ServerHealth:
        return self._record(backend, server).health

    def pool(self, backend: str) -> Backend:
        return self.backends[backend].backend

    def checked(self, backend: str, server: str) -> bool:
        """Whether checks run on the server: configured and not disabled (HAProxy's
        CHK_ST_ENABLED, which gates the "no check" status and the check columns)."""
        watched = self._record(backend, server)
        return watched.spec is not None and not watched.paused

    def agent_configured(self, backend: str, server: str) -> bool:
        return self._record(backend, server).agent is not None

    def check_configured(self, backend: str, server: str) -> bool:
        return self._record(backend, server).spec is not None

    def set_checks_enabled(self, backend: str, server: str, enabled: bool) -> bool:
        """Enable or disable a server's checks; False when it has none configured
        (then nothing changes, as in HAProxy)."""
        watched = self._record(backend, server)
        if watched.spec is None:
            return False
        watched.paused = not enabled
        return True

    def history(self, backend: str, server: str) -> list[Transition]:
        return self._record(backend, server).history

    # -- lifecycle ---------------------------------------------------------------

    def _hook_observers(self) -> None:
        """`observe`: receive what the proxies count for these servers (counters.observer)."""
        for (backend, server), watched in self.watched.items():
            if watched.health.settings.observe is None:
                continue
            counters = self.registry.server(backend, server)

            def report(event: Observation, be: str = backend, srv: str = server) -> None:
                self.observe(be, srv, event)

            counters.observer = report
            self._observed.append((counters, report))

    def start(self) -> None:
        """Spawn one task per checked server, first checks spread over `inter`."""
        self._hook_observers()
        for be_name, runtime in self.backends.items():
            runtime.backend.watch_servers(functools.partial(self._server_event, be_name))
        checked = [w for w in self.watched.values() if w.spec is not None]
        for position, watched in enumerate(checked):
            assert watched.spec is not None
            span = watched.spec.inter
            if self.max_spread is not None:
                span = min(span, self.max_spread)
            offset = span * position / max(len(checked), 1)
            watched.wake = asyncio.Event()
            watched.task = asyncio.get_running_loop().create_task(
                self._run(watched, offset), name=f"check {watched.backend}/{watched.server}"
            )
        agents = [w for w in self.watched.values() if w.agent is not None]
        for position, watched in enumerate(agents):
            assert watched.agent is not None
            span = watched.agent.inter
            if self.max_spread is not None:
                span = min(span, self.max_spread)
            watched.agent_task = asyncio.get_running_loop().create_task(
                self._run_agent(watched, span * position / len(agents)),
                name=f"agent {watched.backend}/{watched.server}",
            )

    async def stop(self) -> None:
        tasks = []
        for watched in self.watched.values():
            for task in (watched.task, watched.ramp_task, watched.agent_task):
                if task is not None:
                    task.cancel()
                    tasks.append(task)
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # The runtime's Service protocol: checks stop with the process.
    def stop_accepting(self) -> None:
        """Soft stop: checks keep running until the last session is gone (as HAProxy)."""

    def kill(self) -> None:
        for counters, report in self._observed:
            if counters.observer is report:  # a newer generation may have hooked it since
                counters.observer = None
        self._observed.clear()
        for watched in self.watched.values():
            for task in (watched.task, watched.ramp_task, watched.agent_task):
                if task is not None:
                    task.cancel()
        if _CURRENT.get("monitor") is self:
            _CURRENT.pop("monitor")

    async def wait_idle(self) -> None:
        return None

    async def _run(self, watched: _Watched, offset: float) -> None:
        assert watched.spec is not None and watched.wake is not None
        await asyncio.sleep(offset)
        while True:
            if not watched.health.maint and not watched.paused:
                watched.probing = True
                try:
                    state = self._state_header(watched) if watched.spec.send_state else None
                    if watched.spec.external is not None:
                        member = self.pool(watched.backend).member(watched.server)
                        result = await run_external_check(watched.spec.external, member.inflight)
                    else:
                        result = await probe(
                            watched.spec, stopped=not watched.health.up, state=state
                        )
                finally:
                    watched.probing = False
                self.record(watched.backend, watched.server, result)
            delay = spread_interval(watched.health.next_interval(), self.spread, random.random())
            if watched.check_at is not None:
                delay = min(delay, max(watched.check_at - self.clock(), 0.0))
                watched.check_at = None
            watched.wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await watched.wake.wait()

    async def _run_agent(self, watched: _Watched, offset: float) -> None:
        """The agent's own task: every `agent-inter`, maintenance or not (HAProxy
        keeps asking the agent of a server in maintenance: it may say `ready`)."""
        assert watched.agent is not None
        await asyncio.sleep(offset)
        while True:
            if not watched.health.agent_enabled:  # `disable agent`: not asked
                await asyncio.sleep(watched.agent.inter)
                continue
            watched.agent_probing = True
            try:
                outcome = await probe_agent(watched.agent)
                if outcome.reply == INCOMPLETE and watched.health.agent_result is None:
                    outcome = await self._agent_times_out(watched, watched.agent, outcome)
            finally:
                watched.agent_probing = False
            if (watched.backend, watched.server) in self.watched:
                self.record_agent(watched.backend, watched.server, outcome)
            delay = spread_interval(watched.agent.inter, self.spread, random.random())
            await asyncio.sleep(delay)

    @staticmethod
    async def _agent_times_out(
        watched: _Watched, spec: AgentSpec, outcome: AgentOutcome
    ) -> AgentOutcome:
        """A first agent check cut short has no previous status to keep: HAProxy
        records the text with its status still INI and waits for the check's time
        to run out (L7TOUT)."""
        watched.health.agent_result = CheckResult(
            CheckStatus.INI, None, INCOMPLETE, outcome.duration_ms
        )
        limit = spec.check_timeout if spec.check_timeout is not None else spec.inter
        await asyncio.sleep(max(limit - outcome.duration_ms / 1000, 0.0))
        duration = int(limit * 1000)
        return AgentOutcome(duration, result=CheckResult(CheckStatus.L7TOUT, duration_ms=duration))

    def record_agent(self, backend: str, server: str, outcome: AgentOutcome) -> None:
        """Apply one agent check as tcpcheck_agent_expect_reply does: the admin
        state first, then the weight and maxconn, then the health word."""
        watched = self._record(backend, server)
        health = watched.health
        previous = health.agent_result
        now = self.clock()
        reply = outcome.reply
        if outcome.result is not None or reply is None:
            # No line: the agent's status says why, the server is left alone.
            result = outcome.result or CheckResult(CheckStatus.L7RSP)
            self._agent_report(watched, result, previous)
            health.agent_says(result, None, now)
            return
        if isinstance(reply, str):
            # INCOMPLETE: HAProxy records the previous status with this text (a first
            # check, which has none, times out first: _agent_times_out).
            status = previous.status if previous is not None else CheckStatus.L7TOUT
            code = previous.code if previous is not None else None
            result = CheckResult(status, code, reply, outcome.duration_ms)
            self._agent_report(watched, result, previous)
            health.agent_says(result, None, now)
            return
        pool = self.pool(backend)
        member = pool.member(server)
        if reply.admin is not None:
            self.set_admin(backend, server, reply.admin.lower())
        warning = ""
        if reply.weight is not None:
            weight, message = agent_weight(
                reply.weight, member.server.weight, dynamic=pool.algorithm.dynamic
            )
            if weight is not None:
                pool.set_weight(server, weight)
                if member.admin == "drain":  # server_recalc_eweight → srv_update_status
                    self._drain_remains(backend, server)
            warning = warning or message
        if reply.maxconn is not None:
            maxconn, message = agent_maxconn(reply.maxconn)
            if maxconn is not None:
                pool.set_maxconn(server, maxconn)
            warning = warning or message
        result = agent_result(reply, warning, outcome.duration_ms)
        self._agent_report(watched, result, previous)
        transition = health.agent_says(result, reply.up, now)
        if transition is not None:
            self._apply(watched, transition)

    def _agent_report(
        self, watched: _Watched, result: CheckResult, previous: CheckResult | None
    ) -> None:
        """`option log-health-checks`: "Agent check for server … succeeded/failed",
        when the agent's status changes (its counter, 0 or 1, never steps)."""
        runtime = self.backends[watched.backend]
        before = previous.status if previous is not None else CheckStatus.INI
        if not runtime.log_health_checks or result.status.result == "neutral":
            return
        if result.status == before:
            return
        member = self.pool(watched.backend).member(watched.server)
        up = result.status is CheckStatus.L7OK or (
            watched.health.agent_up and result.status is not CheckStatus.L7STS
        )
        where = ("1/1 " + ("UP" if member.uweight else "DRAIN")) if up else "0/1 DOWN"
        line = format_check_report(
            watched.backend,
            watched.server,
            backup=member.backup,
            result=result,
            health=watched.health,
        )
        line = line.replace("Health check for", "Agent check for", 1)
        line = line[: line.rindex(", status: ")] + f", status: {where}."
        self._emit(watched.backend, "notice", line)

    def _state_header(self, watched: _Watched) -> str:
        """`X-Haproxy-Server-State` (httpchk_build_status_header): the health
        counter as `show stat` reads it, then where the server is, its weight
        among those serving, and its sessions and queue."""
        health, settings = watched.health, watched.health.settings
        counter, rise, fall = health.health, settings.rise, settings.fall
        if health.up:
            word = "NOLB" if health.stopping else "UP"
            state = word if counter == rise + fall - 1 else f"{word} {counter - rise + 1}/{fall}"
        else:
            state = f"DOWN {counter}/{rise}" if counter else "DOWN"
        runtime = self.backends[watched.backend]
        pool = runtime.backend
        member = pool.member(watched.server)
        server = member.server
        active = [m for m in pool.members if m.usable and not m.backup]
        serving = active or [m for m in pool.members if m.usable and m.backup]
        scale = pool.algorithm.weight_scale
        divisor = pool.algorithm.weight_divisor
        weight = (member.eweight * divisor + scale - 1) // scale
        total = (sum(m.eweight for m in serving) * divisor + scale - 1) // scale
        sessions = sum(m.inflight + len(m.queue) for m in pool.members)
        port = "" if server.port is None or unix_sockaddr(server.host) else str(server.port)
        return (
            f"{state}; address={server.host}; port={port}; name={watched.backend}/{server.name}; "
            f"node={self.node}; weight={weight}/{total}; scur={member.inflight}/{sessions}; "
            f"qcur={len(member.queue)}"
        )

    def _record(self, backend: str, server: str) -> _Watched:
        """A server's health record; a server `add server` made gets one on first
        use, in maintenance and unchecked, as HAProxy 2.6 starts a dynamic server
        (its checks wait for `enable health`, which balancekit does not offer)."""
        watched = self.watched.get((backend, server))
        if watched is None:
            member = self.backends[backend].backend.member(server)  # KeyError: unknown
            now = self.clock()
            health = ServerHealth(HealthSettings.from_server(member.server), now=now, checked=False)
            if member.admin == "maint":
                health.enter_maint(now)
            watched = self.watched[(backend, server)] = _Watched(backend, server, health, None)
        return watched

    def _server_event(self, backend: str, event: ServerEvent, server: str) -> None:
        """`set server … addr` ("moved"): the next probe goes to the new address
        (unless `addr`/`port` on the server line pin the check elsewhere).
        `del server` ("removed"): its record is forgotten (`_record` makes one
        for a server added at run time)."""
        key = (backend, server)
        if event == "removed":
            self.watched.pop(key, None)
            return
        watched = self.watched.get(key)
        if event == "moved" and watched is not None and watched.spec is not None:
            watched.spec = spec_for(self.backends[backend], server, self.places.get(backend))

    # -- state changes -------------------------------------------------------------

    def record(self, backend: str, server: str, result: CheckResult) -> Transition | None:
        """Feed one check result (from a probe, or a test); apply and log any change."""
        watched = self._record(backend, server)
        health = watched.health
        before = health.health
        # HAProxy also reports a check whose status differs from the previous one
        # (the first result after INI included), even when the counter stays put.
        status_before = health.last_result.status if health.last_result else None
        counters = self.registry.server(backend, server)
        failed_before = health.failed_checks
        transition = health.record(result, self.clock())
        counters.chkfail += health.failed_checks - failed_before
        runtime = self.backends[backend]
        changed = before != health.health or status_before != result.status
        if runtime.log_health_checks and (changed or transition):
            member = self.pool(backend).member(server)
            self._emit(
                backend,
                "notice",
                format_check_report(
                    backend, server, backup=member.backup, result=result, health=health
                ),
            )
        if transition is not None:
            self._apply(watched, transition)
        return transition

    def _apply(self, watched: _Watched, transition: Transition, why: str = "") -> None:
        pool = self.pool(watched.backend)
        member = pool.member(watched.server)
        requeued = len(member.queue)
        sessions = member.inflight
        watched.history.append(transition)
        counters = self.registry.server(watched.backend, watched.server)
        if transition.up:
            counters.went_up()
            if watched.health.starting:
                pool.set_ramp(watched.server, watched.health.ramp(self.clock()))
                self._start_ramp(watched)
        else:
            counters.went_down()
        self._set_pool_health(watched.backend)
        active, backups = self._usable(pool)
        # HAProxy: a warning on stderr; to the proxy's log, ALERT when going DOWN
        # (NOTICE if it was draining or in NOLB), NOTICE when coming UP or into NOLB.
        drained = member.admin == "drain" or watched.was_stopping
        watched.was_stopping = transition.stopping
        # With `option log-health-checks` the check's own line said why; HAProxy's
        # state change line then gives no reason (check.c passes it no check).
        result = None if self.backends[watched.backend].log_health_checks else transition.result
        self._emit(
            watched.backend,
            "warning",
            format_state_change(
                watched.backend,
                watched.server,
                backup=member.backup,
                up=transition.up,
                result=result,
                active=active,
                backups=backups,
                sessions=sessions,
                requeued=requeued if transition.stopping or not transition.up else 0,
                queued=len(member.queue),
                why=why,
                stopping=transition.stopping,
            ),
            "notice" if transition.up or drained else "alert",
        )
        if not transition.up and not pool.usable:
            self._no_server_left(watched.backend)
        if member.admin == "drain":
            self._drain_remains(watched.backend, watched.server)

    def _drain_remains(self, backend: str, server: str) -> None:
        member = self.pool(backend).member(server)
        self._emit(
            backend,
            "warning",
            format_drain_remains(backend, server, backup=member.backup),
            "notice",
        )

    def _no_server_left(self, backend: str) -> None:
        """HAProxy's set_backend_down(): an ALERT on stderr, and an `emerg` line without
        the quotes to the backend's `log` targets."""
        kind = "proxy" if backend in self.listens else "backend"
        self.log("alert", f"{kind} '{backend}' has no server available!")
        logger = self.loggers.get(backend)
        if logger is not None:
            logger.log(f"{kind} {backend} has no server available!", "emerg")

    def _emit(self, backend: str, level: str, message: str, syslog: str | None = None) -> None:
        """One state message: to the monitor's sink (stderr by default) and, like
        HAProxy's send_log, to the backend's own `log` targets."""
        self.log(level, message)
        logger = self.loggers.get(backend)
        if logger is not None:
            logger.log(message, syslog or level)

    @staticmethod
    def _usable(pool: Backend) -> tuple[int, int]:
        active = sum(1 for m in pool.members if m.usable and not m.backup)
        backups = sum(1 for m in pool.members if m.usable and m.backup)
        return active, backups

    def _set_pool_health(self, backend: str) -> None:
        """Push health to the pool, honouring the panic threshold (extension)."""
        pool = self.pool(backend)
        states = [(m, self._record(backend, m.name).health) for m in pool.members if not m.backup]
        threshold = self.panic_thresholds.get(backend, 0.0)
        up = sum(1 for _, h in states if h.up)
        panic = panic_mode(up, len(states), threshold)
        if panic and backend not in self.panicking:
            self.panicking.add(backend)
            self._emit(
                backend,
                "warning",
                f"backend '{backend}' enters panic mode: {up}/{len(states)} servers up, "
                f"below {threshold:g}%; balancing over all servers.",
            )
        elif not panic and backend in self.panicking:
            self.panicking.discard(backend)
            self._emit(backend, "notice", f"backend '{backend}' leaves panic mode.")
        for member in pool.members:
            health = self._record(backend, member.name).health
            want = health.up or (panic and not member.backup and not health.maint)
            if member.up != want:
                pool.set_health(member.name, want)
            if member.stopping != health.stopping:
                pool.set_stopping(member.name, health.stopping)

    def _start_ramp(self, watched: _Watched) -> None:
        if watched.ramp_task is not None and not watched.ramp_task.done():
            return
        with contextlib.suppress(RuntimeError):
            watched.ramp_task = asyncio.get_running_loop().create_task(self._ramp(watched))

    async def _ramp(self, watched: _Watched) -> None:
        pool = self.pool(watched.backend)
        while watched.health.starting and watched.health.up:
            await asyncio.sleep(watched.health.ramp_step())
            pool.set_ramp(watched.server, watched.health.ramp(self.clock()))

    @contextlib.contextmanager
    def muted(self, *, console: bool) -> Iterator[None]:
        """State changes made inside reach no log target (and, unless `console`,
        nothing on stderr either): HAProxy applies a server state file before its
        logs run, and prints only the servers it finds DOWN."""
        loggers, log = self.loggers, self.log
        self.loggers = {}
        if not console:
            self.log = _silent
        try:
            yield
        finally:
            self.loggers, self.log = loggers, log

    # -- runtime API -----------------------------------------------------------------

    def force_health(
        self, backend: str, server: str, up: bool, why: str = "changed from CLI"
    ) -> None:
        """`set server B/S health up|down`."""
        watched = self._record(backend, server)
        transition = watched.health.force(up, self.clock())
        if transition is not None:
            self._apply(watched, transition, why)

    def agent_enabled(self, backend: str, server: str) -> bool:
        """Whether the server's agent is configured and not disabled (CHK_ST_ENABLED)."""
        watched = self._record(backend, server)
        return watched.agent is not None and watched.health.agent_enabled

    def set_agent_enabled(self, backend: str, server: str, enabled: bool) -> bool:
        """`enable|disable agent B/S`; False when the server has no agent configured
        (disabling one is then a no-op, enabling one an error)."""
        watched = self._record(backend, server)
        if watched.agent is None:
            return False
        watched.health.agent_enabled = enabled
        return True

    def force_agent(self, backend: str, server: str, up: bool) -> bool:
        """`set server B/S agent up|down`; False when the server has no agent enabled."""
        watched = self._record(backend, server)
        if not self.agent_enabled(backend, server):
            return False
        transition = watched.health.force_agent(up, self.clock())
        if transition is not None:
            self._apply(watched, transition, "changed from CLI")
        return True

    def set_agent_address(
        self, backend: str, server: str, addr: str | None, port: str | None
    ) -> str:
        """`set server B/S agent-addr A [port P]` / `agent-port P`
        (srv_update_agent_addr_port): HAProxy's complaint, or "" once applied."""
        watched = self._record(backend, server)
        if watched.agent is None or not watched.health.agent_enabled:
            return "agent checks are not enabled on this server"
        if addr is not None and not is_ip(addr):
            return f"invalid addr '{addr}'"
        number: int | None = None
        if port is not None:
            digits = port[1:] if port[:1] in "+-" else port
            if not digits.isdigit():
                return "provided port is not an integer"
            number = int(port)
            if not 0 <= number <= 65535:
                return "provided port is invalid"
        if addr is not None:
            watched.agent = replace(watched.agent, host=addr)
            watched.agent_addr = addr
        if number is not None:
            watched.agent = replace(watched.agent, port=number)
        return ""

    def set_agent_send(self, backend: str, server: str, text: str) -> bool:
        """`set server B/S agent-send <string>`; False when the server has no agent enabled."""
        watched = self._record(backend, server)
        if watched.agent is None or not watched.health.agent_enabled:
            return False
        watched.agent = replace(watched.agent, send=text.encode("latin-1", "replace"))
        return True

    def force_stopping(self, backend: str, server: str, why: str = "changed from CLI") -> None:
        """`set server B/S health stopping`: HAProxy's NOLB state."""
        watched = self._record(backend, server)
        transition = watched.health.force_stopping(self.clock())
        if transition is not None:
            self._apply(watched, transition, why)

    def set_admin(self, backend: str, server: str, state: str) -> None:
        """`set server B/S state ready|drain|maint` (and enable/disable server)."""
        watched = self._record(backend, server)
        pool = self.pool(backend)
        member = pool.member(server)
        if member.resolution:
            # RMAINT: DNS gave it no address; only an answer brings it back (HAProxy
            # keeps SRV_ADMF_RMAINT whatever the operator sets).
            return
        previous = member.admin
        if state == previous:
            return
        now = self.clock()
        if state == "maint":
            was_down = not member.up
            requeued, sessions = len(member.queue), member.inflight
            watched.health.enter_maint(now)
            pool.set_state(server, "maint")
            self._set_pool_health(backend)
            self.registry.server(backend, server).went_down()
            active, backups = self._usable(pool)
            self._emit(
                backend,
                "warning",
                format_maint(
                    backend,
                    server,
                    backup=member.backup,
                    was_down=was_down,
                    active=active,
                    backups=backups,
                    sessions=sessions,
                    requeued=requeued,
                ),
                "notice" if was_down or previous == "drain" else "alert",
            )
            if not was_down and not pool.usable:
                self._no_server_left(backend)
            return
        pool.set_state(server, state)
        if previous == "maint":
            watched.health.leave_maint(now)
            if watched.health.starting:
                pool.set_ramp(server, watched.health.ramp(now))
                self._start_ramp(watched)
            self._set_pool_health(backend)
            self.registry.server(backend, server).went_up()
            self._emit(
                backend,
                "warning",
                format_leave_maint(
                    backend, server, backup=member.backup, up=member.up, drain=state == "drain"
                ),
                "notice",
            )
            if watched.wake is not None:
                watched.wake.set()  # "start OK but check immediately"
        if previous == "drain" and state == "ready":
            self._emit(
                backend,
                "warning",
                format_leave_drain(backend, server, backup=member.backup, up=member.up),
                "notice",
            )
        if state == "drain":
            active, backups = self._usable(pool)
            self._emit(
                backend,
                "warning",
                format_drain(
                    backend,
                    server,
                    backup=member.backup,
                    active=active,
                    backups=backups,
                    up=member.up,
                    sessions=member.inflight,
                ),
                "notice",
            )

    # -- passive checks ----------------------------------------------------------------

    def observe(self, backend: str, server: str, event: Observation) -> None:
        """Proxies report traffic outcomes here (`observe layer4|layer7`)."""
        watched = self.watched.get((backend, server))
        if watched is None or watched.health.settings.observe is None:
            return
        outcome = watched.health.observe(event, self.clock())
        if outcome.transition is not None:
            self._apply(watched, outcome.transition)
        if outcome.check_at is not None and watched.wake is not None:
            watched.check_at = outcome.check_at
            watched.wake.set()


_CURRENT: dict[str, HealthMonitor] = {}


def current() -> HealthMonitor | None:
    """The monitor of the running configuration in this process, if any."""
    return _CURRENT.get("monitor")


def observe(backend: str, server: str, event: Observation) -> None:
    """Passive-check hook for the proxies: report one traffic outcome (cheap no-op when
    no monitor runs or the server has no `observe`)."""
    monitor = _CURRENT.get("monitor")
    if monitor is not None:
        monitor.observe(backend, server, event)


class ChecksHost(Protocol):
    """What `start` uses of `balancekit_server.process.runtime.Runtime`."""

    config: Config
    registry: Registry
    #: `{frontend name: [(host, port), …]}` actually bound.
    addresses: dict[str, list[tuple[str, int]]]

    def logger(self, targets: Iterable[LogTarget]) -> Logger | None: ...


def start(runtime: ChecksHost, *, log: LogSink | None = None) -> HealthMonitor:
    """Entry point for `balancekit_server.process.runtime`: monitor every backend of its config.

    Must be called from inside the event loop.  The monitor becomes this
    process's `current()` one (what `observe()` reports to).
    """
    backends = runtime.config.backends
    loggers: dict[str, Any] = {}
    for name, be in backends.items():
        logger = runtime.logger(be.logs) if be.logs else None
        if logger:
            loggers[name] = logger
    monitor = HealthMonitor(
        backends,
        log=log or stderr_sink,
        registry=runtime.registry,
        loggers=loggers,
        listens=(f.backend_name for f in runtime.config.frontends if f.backend_name),
        spread=runtime.config.global_.spread_checks,
        max_spread=runtime.config.global_.max_spread_checks,
        node=runtime.config.global_.node,
        places=_places(runtime),
    )
    monitor.start()
    _CURRENT["monitor"] = monitor
    return monitor


def _places(runtime: ChecksHost) -> dict[str, ProxyPlace]:
    """Each backend's HAProxy id and, for a `listen`, its first bound address."""
    from balancekit_server.ops.stats_data import StatsSource

    places: dict[str, ProxyPlace] = {}
    for proxy in StatsSource(runtime.config, registry=runtime.registry).proxies:
        if proxy.backend is None:
            continue
        bound = runtime.addresses.get(proxy.name, []) if proxy.frontend is not None else []
        if bound:
            host, port = bound[0]
            place = ProxyPlace(proxy.iid, host, str(port) if port else "NOT_USED")
        else:
            place = ProxyPlace(proxy.iid)
        places[proxy.backend.name] = place
    return places


def iter_servers(monitor: HealthMonitor) -> Iterable[tuple[str, str, ServerHealth]]:
    for (backend, server), watched in monitor.watched.items():
        yield backend, server, watched.health
