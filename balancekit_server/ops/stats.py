"""The runtime API: HAProxy's `stats socket` commands, on unix and TCP sockets.

`CommandProcessor.execute(line)` is the whole protocol: `;`-chained commands,
each answered with its text and an empty line, with the socket's level
(`user` < `operator` < `admin`) enforced per command as HAProxy does.  Errors
use HAProxy's own words, so scripts that check for them keep working.

`StatsService` serves it on every `stats socket` of the `global` section:
`stats socket /run/lb.sock mode 600 level admin` and
`stats socket ipv4@127.0.0.1:9999 level operator`.  One line per connection
(what `echo "show stat" | socat stdio /run/lb.sock` sends), or an interactive
session after `prompt`, as HAProxy.

State changes go through `balancekit_server.ops.checks.HealthMonitor` so they are
logged like HAProxy's and pause/resume health checks.  Numbers are per process
(with `--workers N`, per worker): see docs/runtime-api.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import os
import socket
import stat as stat_mod
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from balancekit.acl.patcli import run_pattern_command
from balancekit.config import BackendRuntime, Config, StatsSocket, runtime_server
from balancekit.sticktables import run_table_command
from balancekit_server.clock import now_ms
from balancekit_server.errors import RunError
from balancekit_server.ops.counters import REGISTRY, Registry
from balancekit_server.ops.stats_data import StatsSource

if TYPE_CHECKING:
    from balancekit_server.http.proxy import HttpProxy
    from balancekit_server.ops.checks import HealthMonitor
    from balancekit_server.process.limits import FrontendGate, Limits

__all__ = ["LEVELS", "CommandProcessor", "StatsService", "parse_weight", "start"]

STATS_BACKLOG = 100  # what asyncio gives a server it binds itself
#: The longest command line read: HAProxy reads one into a `tune.bufsize` chunk.
CLI_LINE_LIMIT = 16384

LEVELS = {"user": 0, "operator": 1, "admin": 2}

_SET_SERVER_USAGE = (
    "usage: set server <backend>/<server> addr | agent | agent-addr | agent-port | agent-send"
    " | check-addr | check-port | fqdn | health | ssl | state | weight\n"
)


class CommandError(Exception):
    """A command refused with HAProxy's message (the text already ends with a newline)."""


@dataclass(frozen=True, slots=True)
class _Command:
    words: tuple[str, ...]
    level: str
    usage: str
    handler: Callable[[CommandProcessor, list[str]], str]


def parse_weight(text: str, initial: int) -> int:
    """`set server … weight N|N%` with HAProxy's checks and messages."""
    body = text.strip()
    if not body:
        raise CommandError("Require <weight> or <weight%>.\n")
    digits = body.lstrip("-")
    number = ""
    for ch in digits:
        if not ch.isdigit():
            break
        number += ch
    if not number:
        raise CommandError("Empty weight string empty or preceded by garbage")
    rest = digits[len(number) :]
    value = int(number) * (-1 if body.startswith("-") else 1)
    if rest == "%":
        if value < 0:
            raise CommandError("Relative weight must be positive.\n")
        value = initial * value // 100
    elif rest:
        raise CommandError("Trailing garbage in weight string")
    if not 0 <= value <= 256:
        raise CommandError("Absolute weight can only be between 0 and 256 inclusive.\n")
    return value


class CommandProcessor:
    """One CLI session: its level, and the running state it reads and changes."""

    def __init__(
        self,
        config: Config,
        *,
        level: str = "admin",
        monitor: HealthMonitor | None = None,
        registry: Registry = REGISTRY,
        source: StatsSource | None = None,
        nbthread: int = 1,
        worker: tuple[int, int] = (1, 1),
        limits: Limits | None = None,
    ) -> None:
        if level not in LEVELS:
            raise ValueError(f"unknown CLI level '{level}'")
        if monitor is None:
            # No checks running: still route changes through a (never started) monitor,
            # so they are logged and counted the same way.
            from balancekit_server.ops.checks import HealthMonitor

            monitor = HealthMonitor(config.backends, registry=registry)
        self.config = config
        self.level = level
        self.monitor: HealthMonitor = monitor
        self.registry = registry
        self.source = source or StatsSource(
            config, registry=registry, monitor=monitor, limits=limits
        )
        self.nbthread = nbthread
        self.worker = worker
        self.limits = limits  # global maxconn, for `set maxconn global`
        self.interactive = False
        self.quit = False

    def __repr__(self) -> str:
        return f"<CommandProcessor level={self.level} interactive={self.interactive}>"

    # -- the protocol --------------------------------------------------------------------

    def execute(self, line: str) -> str:
        """Run one input line (commands separated by `;`), return the full answer."""
        out = []
        for command in _split_commands(line):
            words = command.split()
            if not words:
                continue
            out.append(self.run(words))
            if self.quit:
                break
        return "".join(out)

    def run(self, words: list[str]) -> str:
        """One command: its answer followed by the empty line HAProxy sends after each."""
        command = self._lookup(words)
        if command is None:
            return self._help(unknown=True) + "\n"
        if command.handler is _cmd_quit:
            self.quit = True  # HAProxy closes without a word
            return ""
        if LEVELS[self.level] < LEVELS[command.level]:
            return "Permission denied\n\n"
        try:
            return command.handler(self, words) + "\n"
        except CommandError as exc:
            return str(exc) + "\n"

    def _lookup(self, words: list[str]) -> _Command | None:
        best: _Command | None = None
        for command in COMMANDS:
            n = len(command.words)
            if tuple(w.lower() for w in words[:n]) == command.words and (
                best is None or n > len(best.words)
            ):
                best = command
        return best

    # -- helpers ---------------------------------------------------------------------------

    def _server(self, ref: str) -> tuple[str, str]:
        backend, sep, server = ref.partition("/")
        if not sep:
            raise CommandError("Require 'backend/server'.\n")
        runtime = self.config.backends.get(backend)
        if runtime is None:
            raise CommandError("No such backend.\n")
        try:
            runtime.backend.member(server)
        except KeyError:
            raise CommandError("No such server.\n") from None
        return backend, server

    def _gate(self, name: str) -> FrontendGate:
        """`cli_find_frontend`: a frontend (or listen section) by name, as its gate."""
        if not name:
            raise CommandError("A frontend name is expected.\n")
        frontend = next((fe for fe in self.config.frontends if fe.name == name), None)
        if frontend is None or self.limits is None:
            raise CommandError("No such frontend.\n")
        return self.limits.gate(name, frontend.maxconn)

    def _set_admin(self, backend: str, server: str, state: str) -> None:
        self.monitor.set_admin(backend, server, state)

    def _set_health(self, backend: str, server: str, up: bool) -> None:
        self.monitor.force_health(backend, server, up)

    def _set_weight(self, backend: str, server: str, text: str) -> None:
        pool = self.config.backends[backend].backend
        member = pool.member(server)
        value = parse_weight(text, member.server.weight)
        if not pool.algorithm.dynamic and value not in (0, member.server.weight):
            raise CommandError(
                "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.\n"
            )
        pool.set_weight(server, value)

    def _help(self, *, unknown: bool = False) -> str:
        head = (
            "Unknown command, but maybe one of the following ones is a better match:\n"
            if unknown
            else "The following commands are valid at this level:\n"
        )
        lines = [
            f"  {c.usage}" for c in COMMANDS if LEVELS[self.level] >= LEVELS[c.level] and c.usage
        ]
        return head + "\n".join(sorted(lines)) + "\n"


def _split_commands(line: str) -> list[str]:
    """Split on unescaped `;` (HAProxy lets `\\;` through)."""
    parts, current, escaped = [], [], False
    for ch in line.rstrip("\r\n"):
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ";":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


# -- command handlers ---------------------------------------------------------------------


def _cmd_help(p: CommandProcessor, words: list[str]) -> str:
    return p._help()


def _cmd_prompt(p: CommandProcessor, words: list[str]) -> str:
    p.interactive = not p.interactive
    return ""


def _cmd_quit(p: CommandProcessor, words: list[str]) -> str:
    p.quit = True
    return ""


def _cmd_operator(p: CommandProcessor, words: list[str]) -> str:
    if LEVELS[p.level] > LEVELS["operator"]:
        p.level = "operator"
    return ""


def _cmd_user(p: CommandProcessor, words: list[str]) -> str:
    p.level = "user"
    return ""


def _cmd_show_info(p: CommandProcessor, words: list[str]) -> str:
    info = p.source.info(nbthread=p.nbthread)
    index, count = p.worker
    fixed = {"Nbproc": str(count), "Process_num": str(index)}
    return "".join(f"{k}: {fixed.get(k, v)}\n" for k, v in info)


def _cmd_table(p: CommandProcessor, words: list[str]) -> str:
    """`show|clear|set table …`: the stick tables' text, HAProxy's to the character
    (balancekit.sticktables.dump), at the session's level."""
    return run_table_command(p.config.tables, words, now_ms(), level=p.level)


def _cmd_pattern(p: CommandProcessor, words: list[str]) -> str:
    """`show|get|add|set|del|clear map|acl …`: the shared map and ACL pattern lists,
    HAProxy's answers (balancekit.acl.patcli); any level may use them, as in 2.6."""
    return run_pattern_command(p.config.patterns, words)


def _cmd_show_stat(p: CommandProcessor, words: list[str]) -> str:
    args = words[2:]
    flags = {a for a in args if not a.lstrip("-").isdigit()}
    numbers = [int(a) for a in args if a.lstrip("-").isdigit()]
    unsupported = flags - {"no-maint", "up"}
    if unsupported:
        raise CommandError(
            f"show stat: '{sorted(unsupported)[0]}' is not supported by balancekit "
            "(CSV only; see docs/runtime-api.md).\n"
        )
    iid, types, sid = -1, -1, -1
    if numbers:
        if len(numbers) != 3:
            raise CommandError("Require <proxy-id>, <type> and <server-id> arguments.\n")
        iid, types, sid = numbers
    rows = p.source.rows(iid=iid, types=types, sid=sid)
    if "up" in flags:
        rows = [r for r in rows if r["type"] != "2" or r["status"].startswith(("UP", "no check"))]
    elif "no-maint" in flags:
        rows = [r for r in rows if r["type"] != "2" or r["status"] != "MAINT"]
    return p.source.csv(rows)


def _cmd_show_servers_state(p: CommandProcessor, words: list[str]) -> str:
    backend = words[3] if len(words) > 3 else None
    if backend is not None and backend not in p.config.backends:
        raise CommandError("Can't find backend.\n")
    return p.source.servers_state(backend)


def _cmd_show_backend(p: CommandProcessor, words: list[str]) -> str:
    return "# name\n" + "".join(f"{proxy.name}\n" for proxy in p.source.proxies if proxy.backend)


def _cmd_get_weight(p: CommandProcessor, words: list[str]) -> str:
    if len(words) < 3:
        raise CommandError("Require 'backend/server'.\n")
    backend, server = p._server(words[2])
    current, initial = p.config.backends[backend].backend.get_weight(server)
    return f"{current} (initial {initial})\n"


def _cmd_set_weight(p: CommandProcessor, words: list[str]) -> str:
    if len(words) < 3:
        raise CommandError("Require 'backend/server'.\n")
    backend, server = p._server(words[2])
    p._set_weight(backend, server, words[3] if len(words) > 3 else "")
    return ""


def _cmd_set_server(p: CommandProcessor, words: list[str]) -> str:
    if len(words) < 3:
        raise CommandError("Require 'backend/server'.\n")
    backend, server = p._server(words[2])
    what = words[3].lower() if len(words) > 3 else ""
    arg = words[4].lower() if len(words) > 4 else ""
    if what == "weight":
        p._set_weight(backend, server, words[4] if len(words) > 4 else "")
    elif what == "state":
        if arg not in ("ready", "drain", "maint"):
            raise CommandError("'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n")
        p._set_admin(backend, server, arg)
    elif what == "health":
        if arg not in ("up", "stopping", "down"):
            raise CommandError("'set server <srv> health' expects 'up', 'stopping', or 'down'.\n")
        if arg == "stopping":
            p.monitor.force_stopping(backend, server)
        else:
            p._set_health(backend, server, arg == "up")
    elif what == "agent":
        if arg not in ("up", "down") and p.monitor.agent_enabled(backend, server):
            raise CommandError("'set server <srv> agent' expects 'up' or 'down'.\n")
        if not p.monitor.force_agent(backend, server, arg == "up"):
            raise CommandError("agent checks are not enabled on this server.\n")
    elif what in ("agent-addr", "agent-port"):
        value = words[4] if len(words) > 4 else ""
        if not value:
            needs = "an address and optionally a port" if what == "agent-addr" else "a port"
            raise CommandError(f"set server <b>/<s> {what} requires {needs}.\n")
        if what == "agent-addr":
            port = words[6] if len(words) > 6 and words[5] == "port" else None
            message = p.monitor.set_agent_address(backend, server, value, port)
        else:
            message = p.monitor.set_agent_address(backend, server, None, value)
        return message + "\n" if message else ""
    elif what == "agent-send":
        if not p.monitor.set_agent_send(backend, server, words[4] if len(words) > 4 else ""):
            raise CommandError("agent checks are not enabled on this server.\n")
    elif what == "addr":
        address = words[4] if len(words) > 4 else ""
        if not address:
            raise CommandError(
                "set server <b>/<s> addr requires an address and optionally a port.\n"
            )
        port = words[6] if len(words) > 6 and words[5] == "port" else None
        return _set_address(p, backend, server, address, port)
    else:
        raise CommandError(_SET_SERVER_USAGE)
    return ""


def _cmd_set_maxconn_server(p: CommandProcessor, words: list[str]) -> str:
    if len(words) < 4:
        raise CommandError("Require 'backend/server'.\n")
    backend, server = p._server(words[3])
    text = words[4] if len(words) > 4 else ""
    if not text:
        raise CommandError("Require <maxconn>.\n")
    digits = text.lstrip("+-")
    if not digits[:1].isdigit():
        raise CommandError("maxconn string empty or preceded by garbage")  # no newline: 2.6
    if not digits.isdigit():
        raise CommandError("Trailing garbage in maxconn string")
    p.config.backends[backend].backend.set_maxconn(server, int(text))
    return ""


def _cmd_set_maxconn_global(p: CommandProcessor, words: list[str]) -> str:
    text = words[3] if len(words) > 3 else ""
    if not text:
        raise CommandError("Expects an integer value.\n")
    limits = p.limits
    if limits is None:
        raise CommandError("No global maxconn in this process.\n")
    value = _atoi(text)
    if limits.hard and value > limits.hard:
        raise CommandError("Value out of range.\n")
    limits.set_maxconn(value if value > 0 else limits.hard)
    return ""


def _cmd_set_maxconn_frontend(p: CommandProcessor, words: list[str]) -> str:
    gate = p._gate(words[3] if len(words) > 3 else "")
    text = words[4] if len(words) > 4 else ""
    if not text:
        raise CommandError("Integer value expected.\n")
    value = _atoi(text)
    if value < 0:
        raise CommandError("Value out of range.\n")
    gate.maxconn = value
    assert p.limits is not None
    p.limits.slot_freed()  # a raised limit admits waiting connections at once
    return ""


def _cmd_disable_frontend(p: CommandProcessor, words: list[str]) -> str:
    gate = p._gate(words[2] if len(words) > 2 else "")
    if gate.paused:
        raise CommandError("All sockets are already disabled.\n")
    gate.paused = True  # new connections wait, unanswered, as in a paused listener's backlog
    return ""


def _cmd_enable_frontend(p: CommandProcessor, words: list[str]) -> str:
    gate = p._gate(words[2] if len(words) > 2 else "")
    if not gate.paused:
        raise CommandError("All sockets are already enabled.\n")
    gate.paused = False
    assert p.limits is not None
    p.limits.slot_freed()
    return ""


def _atoi(text: str) -> int:
    """C's atoi: the leading integer, 0 when there is none (HAProxy reads numbers so)."""
    sign, digits = (-1, text[1:]) if text[:1] == "-" else (1, text.lstrip("+"))
    n = len(digits) - len(digits.lstrip("0123456789"))
    return sign * int(digits[:n]) if n else 0


def _set_address(
    p: CommandProcessor, backend: str, server: str, addr: str, port: str | None
) -> str:
    """HAProxy's ``srv_update_addr_port``: its checks, changes and report."""
    pool = p.config.backends[backend].backend
    current = pool.member(server).server
    by = " by 'stats socket command'\n"
    try:
        new_host = str(ipaddress.ip_address(addr))
    except ValueError:
        return f"Invalid addr '{addr}'" + by
    host, report = current.host, []
    if ipaddress.ip_address(current.host) == ipaddress.ip_address(new_host):
        report.append("no need to change the addr")
    else:
        report.append(f"IP changed from '{current.host}' to '{addr}'")
        host = new_host
    new_port = current.port
    if port is not None:
        number = _leading_int(port)
        if number is None:
            pool.set_address(server, host, new_port)
            return ", ".join([*report, f"problem converting port '{port}' to an int"]) + by
        if number == current.port:
            report.append("no need to change the port")
        else:
            report.append(f"port changed from '{current.port or 0}' to '{number}'")
            new_port = number
    if (host, new_port) != (current.host, current.port):
        pool.set_address(server, host, new_port)
        # HAProxy's srv_set_dyncookie: a generated cookie follows the new address.
        p.config.backends[backend].dynamic_cookies.refresh(pool, server)
    return ", ".join(report) + by


def _leading_int(text: str) -> int | None:
    """strtol: the leading integer, None when there are no digits at all."""
    body = text.lstrip()
    sign = body[:1] if body[:1] in "+-" else ""
    digits = body[len(sign) :]
    n = len(digits) - len(digits.lstrip("0123456789"))
    return int(sign + digits[:n]) if n else None


def _cmd_add_server(p: CommandProcessor, words: list[str]) -> str:
    backend, sep, name = (words[2] if len(words) > 2 else "").partition("/")
    if not sep:
        raise CommandError("Require 'backend/server'.")
    runtime = p.config.backends.get(backend)
    if runtime is None:
        raise CommandError("No such backend.")
    pool = runtime.backend
    if not pool.algorithm.dynamic:
        raise CommandError("Backend must use a dynamic load balancing to support dynamic servers.")
    if len(words) < 4:
        raise CommandError("'server' expects <name> and <addr>[:<port>] as arguments.\n")
    if name in {m.name for m in pool.members}:
        raise CommandError("Already exists a server with the same name in backend.\n")
    try:
        pool.add_server(runtime_server(name, words[3], words[4:]))
    except ValueError as exc:
        raise CommandError(f"'server {backend}/{name}' : {exc}.\n") from None
    return "New server registered.\n"


def _cmd_del_server(p: CommandProcessor, words: list[str]) -> str:
    backend, sep, name = (words[2] if len(words) > 2 else "").partition("/")
    if not sep:
        raise CommandError("Require 'backend/server'.")
    runtime = p.config.backends.get(backend)
    if runtime is None:
        raise CommandError("No such backend.")
    pool = runtime.backend
    if name not in {m.name for m in pool.members}:
        raise CommandError("No such server.")
    member = pool.member(name)
    if member.admin != "maint":
        raise CommandError("Only servers in maintenance mode can be deleted.")
    if member.inflight or member.queue:
        raise CommandError("Server still has connections attached to it, cannot remove it.")
    pool.remove_server(name)
    return "Server deleted."


def _cmd_show_sess(p: CommandProcessor, words: list[str]) -> str:
    """One line per stream: a pointer `shutdown session` takes, and HAProxy's
    leading fields (proto, src, fe, be, srv, age).  This CLI session is not
    listed: it is not a proxied connection here."""
    if p.limits is None:
        return ""
    now = time.time()
    lines = []
    for key, stream in p.limits.streams().items():
        line = stream.show(now)
        if line is not None:
            lines.append(f"0x{key:x}: {line}\n")
    return "".join(lines)


def _cmd_shutdown_session(p: CommandProcessor, words: list[str]) -> str:
    text = words[2] if len(words) > 2 else ""
    if not text:
        raise CommandError("Session pointer expected (use 'show sess').\n")
    try:
        key = int(text, 16)
    except ValueError:
        key = -1
    stream = p.limits.streams().get(key) if p.limits is not None else None
    if stream is None or stream.show(time.time()) is None:
        raise CommandError("No such session (use 'show sess').\n")
    stream.kill()
    return ""


def _cmd_shutdown_sessions_server(p: CommandProcessor, words: list[str]) -> str:
    backend, server = p._server(words[3] if len(words) > 3 else "")
    p.config.backends[backend].backend.shutdown_sessions(server)
    return ""


def _cmd_enable_server(p: CommandProcessor, words: list[str]) -> str:
    if len(words) < 3:
        raise CommandError("Require 'backend/server'.\n")
    backend, server = p._server(words[2])
    member = p.config.backends[backend].backend.member(server)
    if member.admin == "maint":
        p._set_admin(backend, server, "ready")
    return ""


def _dynamic_backend(p: CommandProcessor, name: str) -> BackendRuntime:
    """`cli_find_backend`, as the dynamic-cookie commands use it."""
    if not name:
        raise CommandError("A backend name is expected.\n")
    runtime = p.config.backends.get(name)
    if runtime is None:
        raise CommandError("No such backend.\n")
    return runtime


def _cmd_set_dynamic_cookie_key(p: CommandProcessor, words: list[str]) -> str:
    runtime = _dynamic_backend(p, words[3] if len(words) > 3 else "")
    if len(words) < 5:
        raise CommandError("String value expected.\n")
    runtime.dynamic_cookies.key = words[4]
    runtime.dynamic_cookies.refresh(runtime.backend)
    return ""


def _cmd_enable_dynamic_cookie(p: CommandProcessor, words: list[str]) -> str:
    runtime = _dynamic_backend(p, words[3] if len(words) > 3 else "")
    runtime.dynamic_cookies.enabled = True
    runtime.dynamic_cookies.refresh(runtime.backend)
    return ""


def _cmd_disable_dynamic_cookie(p: CommandProcessor, words: list[str]) -> str:
    runtime = _dynamic_backend(p, words[3] if len(words) > 3 else "")
    runtime.dynamic_cookies.disable(runtime.backend)
    return ""


def _cmd_enable_agent(p: CommandProcessor, words: list[str]) -> str:
    if len(words) < 3:
        raise CommandError("Require 'backend/server'.\n")
    backend, server = p._server(words[2])
    if not p.monitor.set_agent_enabled(backend, server, True):
        raise CommandError("Agent was not configured on this server, cannot enable.\n")
    return ""


def _cmd_disable_agent(p: CommandProcessor, words: list[str]) -> str:
    if len(words) < 3:
        raise CommandError("Require 'backend/server'.\n")
    backend, server = p._server(words[2])
    p.monitor.set_agent_enabled(backend, server, False)
    return ""


def _cmd_disable_server(p: CommandProcessor, words: list[str]) -> str:
    if len(words) < 3:
        raise CommandError("Require 'backend/server'.\n")
    backend, server = p._server(words[2])
    p._set_admin(backend, server, "maint")
    return ""


def _cmd_clear_counters(p: CommandProcessor, words: list[str]) -> str:
    if len(words) > 2 and words[2] == "all":
        if LEVELS[p.level] < LEVELS["admin"]:
            return "Permission denied\n"
        for key in list(p.registry.frontends()):
            _reset(p.registry.frontend(key))
        for key in list(p.registry.backends()):
            _reset(p.registry.backend(key))
        for be, srv in list(p.registry.servers()):
            _reset(p.registry.server(be, srv))
        return ""
    for counters in (
        *p.registry.frontends().values(),
        *p.registry.backends().values(),
        *p.registry.servers().values(),
    ):
        counters.smax = counters.scur
        counters.qmax = 0
        counters.sess_rate.max = 0
        counters.req_rate.max = 0
    return ""


def _reset(counters: Any) -> None:
    """`clear counters all`: every cumulative counter back to 0, live gauges kept."""
    keep = {"kind", "name", "scur", "lastchg", "down_since", "sess_rate", "req_rate", "observer"}
    for name in type(counters).__dataclass_fields__:
        if name not in keep:
            value = getattr(counters, name)
            setattr(counters, name, None if value is None or name == "lastsess" else type(value)())
    counters.smax = counters.scur
    counters.sess_rate.max = 0
    counters.req_rate.max = 0


def _c(
    words: str,
    level: str,
    syntax: str,
    description: str,
    handler: Callable[[CommandProcessor, list[str]], str],
) -> _Command:
    return _Command(tuple(words.split()), level, f"{syntax:<40}: {description}", handler)


COMMANDS: tuple[_Command, ...] = (
    _c("help", "user", "help [<command>]", "list matching or all commands", _cmd_help),
    _c("prompt", "user", "prompt", "toggle interactive mode with prompt", _cmd_prompt),
    _c("quit", "user", "quit", "disconnect", _cmd_quit),
    _c(
        "operator",
        "user",
        "operator",
        "lower the level of the current CLI session to operator",
        _cmd_operator,
    ),
    _c("user", "user", "user", "lower the level of the current CLI session to user", _cmd_user),
    _c(
        "show info",
        "user",
        "show info",
        "report information about the running process",
        _cmd_show_info,
    ),
    _c(
        "show stat",
        "user",
        "show stat [no-maint|up] [iid type sid]",
        "report counters for each proxy and server",
        _cmd_show_stat,
    ),
    _c(
        "show table",
        "user",
        "show table <table> [<filter>]*",
        "report table usage stats or dump this table's contents",
        _cmd_table,
    ),
    _c(
        "clear table",
        "operator",
        "clear table <table> [<filter>]*",
        "remove an entry from a table",
        _cmd_table,
    ),
    _c(
        "set table",
        "operator",
        "set table <table> key <k> [data.* <v>]*",
        "update or create a table entry's data",
        _cmd_table,
    ),
    _c(
        "add acl",
        "user",
        "add acl <acl> <pattern>",
        "add an ACL entry",
        _cmd_pattern,
    ),
    _c(
        "clear acl",
        "user",
        "clear acl <acl>",
        "clear the contents of this ACL",
        _cmd_pattern,
    ),
    _c(
        "commit acl",
        "user",
        "commit acl @<ver> <acl>",
        "(versions are not supported by balancekit)",
        _cmd_pattern,
    ),
    _c(
        "del acl",
        "user",
        "del acl <acl> [<key>|#<ref>]",
        "delete ACL entries matching <key>",
        _cmd_pattern,
    ),
    _c(
        "get acl",
        "user",
        "get acl <acl> <value>",
        "report the patterns matching a sample for an ACL",
        _cmd_pattern,
    ),
    _c(
        "prepare acl",
        "user",
        "prepare acl <acl>",
        "(versions are not supported by balancekit)",
        _cmd_pattern,
    ),
    _c(
        "show acl",
        "user",
        "show acl [<acl>]",
        "report available ACLs or dump an ACL's contents",
        _cmd_pattern,
    ),
    _c(
        "add map",
        "user",
        "add map <map> <key> <val>",
        "add a map entry",
        _cmd_pattern,
    ),
    _c(
        "clear map",
        "user",
        "clear map <map>",
        "clear the contents of this map",
        _cmd_pattern,
    ),
    _c(
        "commit map",
        "user",
        "commit map @<ver> <map>",
        "(versions are not supported by balancekit)",
        _cmd_pattern,
    ),
    _c(
        "del map",
        "user",
        "del map <map> [<key>|#<ref>]",
        "delete map entries matching <key>",
        _cmd_pattern,
    ),
    _c(
        "get map",
        "user",
        "get map <map> <value>",
        "report the keys and values matching a sample for a map",
        _cmd_pattern,
    ),
    _c(
        "prepare map",
        "user",
        "prepare map <map>",
        "(versions are not supported by balancekit)",
        _cmd_pattern,
    ),
    _c(
        "set map",
        "user",
        "set map <map> [<key>|#<ref>] <value>",
        "modify a map entry",
        _cmd_pattern,
    ),
    _c(
        "show map",
        "user",
        "show map [<map>]",
        "report available maps or dump a map's contents",
        _cmd_pattern,
    ),
    _c(
        "show servers state",
        "user",
        "show servers state [<backend>]",
        "dump volatile server information (all or for a single backend)",
        _cmd_show_servers_state,
    ),
    _c(
        "show backend",
        "user",
        "show backend",
        "list backends in the current running config",
        _cmd_show_backend,
    ),
    _c(
        "get weight",
        "user",
        "get weight <bk>/<srv>",
        "report a server's current weight",
        _cmd_get_weight,
    ),
    _c(
        "set weight",
        "admin",
        "set weight <bk>/<srv>  (DEPRECATED)",
        "change a server's weight (use 'set server' instead)",
        _cmd_set_weight,
    ),
    _c(
        "set server",
        "admin",
        "set server <bk>/<srv> [opts]",
        "change a server's state, weight, address or health",
        _cmd_set_server,
    ),
    _c(
        "set maxconn server",
        "admin",
        "set maxconn server <bk>/<srv>",
        "change a server's maxconn setting",
        _cmd_set_maxconn_server,
    ),
    _c(
        "set maxconn frontend",
        "admin",
        "set maxconn frontend <frontend> <value>",
        "change a frontend's maxconn setting",
        _cmd_set_maxconn_frontend,
    ),
    _c(
        "disable frontend",
        "admin",
        "disable frontend <frontend>",
        "temporarily disable specific frontend",
        _cmd_disable_frontend,
    ),
    _c(
        "enable frontend",
        "admin",
        "enable frontend <frontend>",
        "re-enable specific frontend",
        _cmd_enable_frontend,
    ),
    _c(
        "set maxconn global",
        "admin",
        "set maxconn global <value>",
        "change the per-process maxconn setting",
        _cmd_set_maxconn_global,
    ),
    _c(
        "enable server",
        "admin",
        "enable server  (DEPRECATED)",
        "enable a disabled server (use 'set server' instead)",
        _cmd_enable_server,
    ),
    _c(
        "set dynamic-cookie-key backend",
        "admin",
        "set dynamic-cookie-key backend <bk> <k>",
        "change a backend secret key for dynamic cookies",
        _cmd_set_dynamic_cookie_key,
    ),
    _c(
        "enable dynamic-cookie backend",
        "admin",
        "enable dynamic-cookie backend <bk>",
        "enable dynamic cookies on a specific backend",
        _cmd_enable_dynamic_cookie,
    ),
    _c(
        "disable dynamic-cookie backend",
        "admin",
        "disable dynamic-cookie backend <bk>",
        "disable dynamic cookies on a specific backend",
        _cmd_disable_dynamic_cookie,
    ),
    _c(
        "disable agent",
        "admin",
        "disable agent",
        "disable agent checks",
        _cmd_disable_agent,
    ),
    _c(
        "enable agent",
        "admin",
        "enable agent",
        "enable agent checks",
        _cmd_enable_agent,
    ),
    _c(
        "disable server",
        "admin",
        "disable server (DEPRECATED)",
        "disable a server for maintenance (use 'set server' instead)",
        _cmd_disable_server,
    ),
    _c(
        "add server",
        "admin",
        "add server <bk>/<srv>",
        "create a new server",
        _cmd_add_server,
    ),
    _c(
        "del server",
        "admin",
        "del server <bk>/<srv>",
        "remove a dynamically added server",
        _cmd_del_server,
    ),
    _c(
        "show sess",
        "operator",
        "show sess [id]",
        "report the list of current sessions or dump this exact session",
        _cmd_show_sess,
    ),
    _c(
        "shutdown session",
        "admin",
        "shutdown session [id]",
        "kill a specific session",
        _cmd_shutdown_session,
    ),
    _c(
        "shutdown sessions server",
        "admin",
        "shutdown sessions server <bk>/<srv>",
        "kill sessions on a server",
        _cmd_shutdown_sessions_server,
    ),
    _c(
        "clear counters",
        "operator",
        "clear counters [all]",
        "clear max statistics counters (or all counters)",
        _cmd_clear_counters,
    ),
)


# -- sockets ---------------------------------------------------------------------------------


def _tcp_address(address: str) -> tuple[str, int]:
    text = address
    for prefix in ("ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    if not port.isdigit():
        raise ValueError(f"stats socket '{address}': missing port")
    return host, int(port)


def unlink_if_ours(path: str, identity: tuple[int, int] | None) -> None:
    """Remove a unix socket file only if it is still the one we created: after a
    reload, a newer generation has bound a new socket at the same path."""
    try:
        st = os.stat(path)
    except OSError:
        return
    if stat_mod.S_ISSOCK(st.st_mode) and (identity is None or (st.st_dev, st.st_ino) == identity):
        with contextlib.suppress(OSError):
            os.unlink(path)


def file_identity(spec: StatsSocket) -> tuple[int, int] | None:
    """(st_dev, st_ino) of a unix stats socket's file, for `unlink_if_ours`; None
    for a TCP one."""
    if not spec.is_unix:
        return None
    st = os.stat(spec.address)
    return st.st_dev, st.st_ino


def bind_unix_listener(path: str, mode: int | None) -> socket.socket:
    """A listening unix socket at `path`, bound the way HAProxy binds one.

    It is bound at a temporary name and renamed over `path` (replacing whatever is
    there, a stale socket included), so a client never finds the path missing.
    """
    temporary = f"{path}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(temporary)
        if mode is not None:
            os.chmod(temporary, mode)
        sock.listen(STATS_BACKLOG)
        os.rename(temporary, path)
    except BaseException:
        sock.close()
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return sock


def bind_stats_listener(spec: StatsSocket) -> socket.socket:
    """A listening socket for a `stats socket` line (unix path, TCP address, or an
    inherited `fd@N`, adopted rather than bound)."""
    if spec.fd is not None:
        from balancekit_server.net.listeners import adopt_listener

        where = f"{spec.file}:{spec.line}: stats socket " if spec.file else "stats socket "
        return adopt_listener(spec.fd, where)
    if spec.is_unix:
        return bind_unix_listener(spec.address, spec.mode)
    host, port = _tcp_address(spec.address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # SO_REUSEPORT: `--workers` processes share one TCP stats address.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(STATS_BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def socket_specs(config: Config) -> list[StatsSocket]:
    """The stats sockets this process serves: under `--workers`, PATH.<n> is worker n
    and PATH itself is worker 1 (state is per worker)."""
    from balancekit_server.process.workers import worker_identity

    index, count = worker_identity()
    specs: list[StatsSocket] = []
    for spec in config.global_.stats_sockets:
        if spec.is_unix and count > 1:
            specs.append(dataclasses.replace(spec, address=f"{spec.address}.{index}"))
            if index != 1:
                continue
        specs.append(spec)
    return specs


class StatsService:
    """Every `stats socket` of a config, serving `CommandProcessor`s."""

    def __init__(
        self,
        config: Config,
        *,
        monitor: HealthMonitor | None = None,
        registry: Registry = REGISTRY,
        nbthread: int = 1,
        started: float | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.config = config
        self.monitor = monitor
        self.limits = limits
        self.registry = registry
        self.nbthread = nbthread
        self.source = StatsSource(
            config,
            registry=registry,
            monitor=monitor,
            started=started or time.time(),
            limits=limits,
        )
        self.servers: list[asyncio.Server] = []
        self.addresses: list[str | tuple[str, int]] = []
        self._paths: list[tuple[str, tuple[int, int]]] = []
        self._sessions: set[asyncio.Task[Any]] = set()
        self.timeout = config.global_.stats_timeout or 10.0
        self.worker = (1, 1)  # (index, count) under `--workers`
        # Set by a reloadable runtime: its listeners then outlive this generation.
        self.take_listener: Callable[[StatsSocket], socket.socket | None] | None = None

    def __repr__(self) -> str:
        return f"<StatsService sockets={self.addresses} sessions={len(self._sessions)}>"

    def processor(self, level: str) -> CommandProcessor:
        return CommandProcessor(
            self.config,
            level=level,
            monitor=self.monitor,
            registry=self.registry,
            source=self.source,
            nbthread=self.nbthread,
            worker=self.worker,
            limits=self.limits,
        )

    async def listen(self, spec: StatsSocket) -> None:
        def handler(level: str) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]:
            async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                task = asyncio.current_task()
                if task is not None:
                    self._sessions.add(task)
                try:
                    await self._session(self.processor(level), reader, writer)
                finally:
                    if task is not None:
                        self._sessions.discard(task)

            return serve

        taken = self.take_listener(spec) if self.take_listener is not None else None
        if taken is not None:  # a reloadable runtime's pool owns it
            sock = taken
        else:
            sock = bind_stats_listener(spec)
            identity = file_identity(spec)
            if identity is not None:
                self._paths.append((spec.address, identity))
        if spec.is_unix or sock.family == socket.AF_UNIX:
            server = await asyncio.start_unix_server(
                handler(spec.level), sock=sock, limit=CLI_LINE_LIMIT
            )
            self.addresses.append(spec.address)
        else:
            server = await asyncio.start_server(
                handler(spec.level), sock=sock, limit=CLI_LINE_LIMIT
            )
            self.addresses.append(sock.getsockname()[:2])
        self.servers.append(server)

    async def _session(
        self,
        cli: CommandProcessor,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        try:
            while not cli.quit:
                try:
                    async with asyncio.timeout(self.timeout):
                        raw = await reader.readline()
                except TimeoutError:
                    break
                except ValueError:
                    # A line longer than a buffer (CLI_LINE_LIMIT): HAProxy never answers
                    # it either; the session ends here instead of at its timeout.
                    break
                if not raw:
                    break
                answer = cli.execute(raw.decode("utf-8", "replace"))
                if cli.interactive and not cli.quit:
                    answer += "> "
                writer.write(answer.encode())
                await writer.drain()
                if not cli.interactive:
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    # the runtime's Service protocol
    def stop_accepting(self) -> None:
        for server in self.servers:
            server.close()
        for path, identity in self._paths:
            unlink_if_ours(path, identity)
        self._paths.clear()

    def kill(self) -> None:
        self.stop_accepting()
        for task in list(self._sessions):
            task.cancel()

    async def wait_idle(self) -> None:
        return None


class StatsHost(Protocol):
    """What `start` uses of `balancekit_server.process.runtime.Runtime`."""

    config: Config
    registry: Registry
    health: HealthMonitor | None
    http_proxies: list[HttpProxy]
    limits: Limits

    def take_stats_listener(self, spec: StatsSocket) -> socket.socket | None: ...


async def start(runtime: StatsHost) -> StatsService:
    """Entry point for `balancekit_server.process.runtime`: stats sockets, stats pages, metrics.

    Uses `runtime.health` (set by `checks.start`) for state changes and wraps the
    router of every HTTP frontend for `stats uri` and `use-service
    prometheus-exporter`.
    """
    config = runtime.config
    service = StatsService(
        config,
        monitor=runtime.health,
        registry=runtime.registry,
        nbthread=1,  # one event loop per process; see workers.py
        limits=runtime.limits,
    )
    from balancekit_server.ops.stats_page import install

    # stats pages and prometheus-exporter on HTTP frontends
    install(runtime.http_proxies, config, service.source)
    from balancekit_server.process.workers import worker_identity

    service.worker = worker_identity()
    service.take_listener = runtime.take_stats_listener
    for spec in socket_specs(config):
        try:
            await service.listen(spec)
        except (OSError, ValueError) as exc:
            where = f"{spec.file}:{spec.line}: " if spec.file else ""
            service.kill()
            reason = exc.strerror if isinstance(exc, OSError) else str(exc)
            raise RunError(f"{where}stats socket {spec.address}: {reason}") from None
    return service
