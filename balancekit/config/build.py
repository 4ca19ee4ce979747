"""Turn the frozen model into runtime objects: `Backend`s, frontends with routers.

Each proxy starts from a copy of its `defaults` section's settings (HAProxy's
inheritance), then applies its own statements in order.  Errors are collected
per statement, so one `-c` run reports all of them; every message carries the
`file:line` of the statement that caused it.
"""

from __future__ import annotations

import copy
import difflib
import functools
import ipaddress
import os
import re
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..acl import AclSet
from ..acl.conditions import Condition
from ..acl.fetches import BackendSlot, SampleContext
from ..acl.logformat import LogFormat, parse_log_format
from ..acl.patref import PatRefs
from ..algorithms import parse_balance, parse_hash_type
from ..auth import CryptUnavailable, Userlist, build_userlist, crypt
from ..cache import Cache, CacheConfig
from ..compression import ALGORITHMS as COMPRESSION_ALGORITHMS
from ..compression import Compression
from ..errors import ConfigError
from ..logline import HTTPSLOG_FORMAT, LogLine, compile_log_line
from ..persistence import (
    CookiePolicy,
    DynamicCookies,
    PersistRule,
    parse_cookie_keyword,
)
from ..pool import Backend
from ..request import Request
from ..resolvers import Resolvers, read_resolvers
from ..response_rules import parse_http_response_rule
from ..routing import BackendRules, RestrictNames, Router
from ..rules import (
    HttpRule,
    InspectDelay,
    TcpRule,
    UseBackend,
    http_error_page,
    parse_http_request_rule,
    parse_keyed_rule,
    parse_redirect,
    parse_tcp_request_rule,
    parse_tcp_response_rule,
    parse_use_backend,
    parse_var_rule,
)
from ..server import Server
from ..server_rules import ServerRule
from ..sticking import StickRule
from ..sticktables import StickTable
from ..stream import DEFAULT_RETRY_ON, parse_retry_on
from ..tcpcheck import ACTIONS as TCP_CHECK_ACTIONS
from ..tcpcheck import PROTOCOLS as TCP_CHECK_PROTOCOLS
from ..tcpcheck import (
    TcpCheckRule,
    TcpCheckRuleset,
    TcpComment,
    TcpConnect,
    parse_rule,
    protocol_ruleset,
)
from ..tcpcheck import ruleset as tcp_check_ruleset
from ..tlsconfig import (
    DhParams,
    ServerTls,
    TLSConfigError,
    apply_options,
    parse_sni,
    read_crt_list,
    server_context,
)
from ..tracking import StreamCounters
from ..units import MAX_SECONDS_MS, MAX_TIMER_MS, c_atol, parse_size, parse_time
from ._peers import PeersLines, read_peers_section
from ._tables import parse_stick_table
from ._values import (
    TLS_FLAGS,
    TLS_VERSIONS,
    ServerParams,
    parse_bind,
    parse_log,
    parse_server_params,
    parse_stats_socket,
    server_address,
)
from .keywords import ERRORFILE_CODES
from .lexer import ENV_KEYWORDS
from .model import ParsedConfig, Section, Statement
from .runtime import (
    BackendRuntime,
    Bind,
    Capture,
    Config,
    ConfigWarning,
    ExternalCheck,
    ForwardFor,
    Frontend,
    Global,
    HttpCheck,
    HttpCheckExpect,
    LogTarget,
    PeersSection,
    ServerExtras,
    StatsPage,
    TcpKeepalive,
)

__all__ = ["build"]

#: `log global` inside a proxy, expanded once the global section is known.
_LOG_GLOBAL = LogTarget("global")

#: Where Debian/Ubuntu packages put HAProxy's stock error pages.
_STOCK_ERRORFILES = "/etc/haproxy/errors/"

_CONN_MODES = ("http-server-close", "httpclose", "http-keep-alive")


@dataclass(slots=True)
class _Settings:
    """What a proxy inherits from its defaults section (mutable while building)."""

    mode: str = "tcp"
    maxconn: int = 0
    #: `backlog`: the listen queue of binds without their own (0: `maxconn`'s).
    backlog: int = 0
    timeouts: dict[str, float] = field(default_factory=dict)
    options: dict[str, bool] = field(default_factory=dict)
    #: `clitcpka-cnt`, `srvtcpka-idle`…: keep-alive probe settings by keyword.
    tcpka: dict[str, int] = field(default_factory=dict)
    #: `option http-restrict-req-hdr-names`: "" (preserve), "delete" or "reject".
    restrict_names: RestrictNames = ""
    forwardfor: ForwardFor | None = None
    originalto: ForwardFor | None = None
    balance: Statement | None = None
    hash_type: Statement | None = None
    hash_balance_factor: int = 0
    #: `fullconn` (0: HAProxy's default, 10% of what the frontends may send).
    fullconn: int = 0
    monitor_uri: str | None = None
    load_server_state: str = "none"
    server_state_file_name: str | None = None
    retries: int = 3
    logs: list[LogTarget] = field(default_factory=list)
    log_format: str | None = None
    log_line: LogLine | None = None
    #: `option redispatch [interval]`: 0 off, -1 the last retry, P every P-th retry.
    redispatch: int = 0
    retry_on: frozenset[str] = DEFAULT_RETRY_ON
    errorfiles: dict[int, bytes] = field(default_factory=dict)
    default_backend: Statement | None = None
    default_server: ServerParams = field(default_factory=ServerParams)
    httpchk: HttpCheck | None = None
    http_check_expect: list[HttpCheckExpect] = field(default_factory=list)
    http_check_disable_404: bool = False
    http_check_send_state: bool = False
    http_check_connect: TcpConnect | None = None
    mysql_check_user: str | None = None
    pgsql_check_user: str | None = None
    #: The `option` whose tcp-check ruleset checks the servers (`tcp-check`,
    #: `redis-check`, `smtpchk`, `ssl-hello-chk`, `ldap-check`) and its arguments.
    tcp_check: tuple[str, tuple[str, ...]] | None = None
    #: `external-check command` and `path` (with their lines, for the messages).
    external_check_command: Statement | None = None
    external_check_path: Statement | None = None
    #: A `defaults` section's `tcp-check` lines: its proxies with none of their own run
    #: them, if the defaults section itself has `option tcp-check`.
    tcp_check_lines: list[TcpCheckRule | TcpComment] = field(default_factory=list)
    stats: dict[str, Any] | None = None
    cookie: CookiePolicy | None = None
    dynamic_cookie_key: str | None = None
    #: `compression` lines (algos and types in HAProxy's list order: the last first).
    compression: Compression | None = None
    #: `unique-id-format` (compiled) and `unique-id-header`.
    unique_id_format: LogFormat | None = None
    unique_id_header: str | None = None


@dataclass(slots=True)
class _Proxy:
    """One proxy (or defaults) section being built."""

    section: Section
    settings: _Settings
    acls: AclSet
    binds: list[Bind] = field(default_factory=list)
    servers: list[tuple[Server, ServerExtras, Statement]] = field(default_factory=list)
    http_rules: list[HttpRule] = field(default_factory=list)
    redirects: list[HttpRule] = field(default_factory=list)
    http_response_rules: list[HttpRule] = field(default_factory=list)
    http_after_response_rules: list[HttpRule] = field(default_factory=list)
    tcp_connection_rules: list[TcpRule | InspectDelay] = field(default_factory=list)
    tcp_content_rules: list[TcpRule | InspectDelay] = field(default_factory=list)
    use_backends: list[tuple[UseBackend, Statement]] = field(default_factory=list)
    persist_rules: list[PersistRule] = field(default_factory=list)
    stick_rules: list[StickRule] = field(default_factory=list)
    server_rules: list[tuple[ServerRule, Statement]] = field(default_factory=list)
    captures: list[Capture] = field(default_factory=list)
    monitor_fail: list[Condition] = field(default_factory=list)
    tcp_inspect_delay: float | None = None
    tcp_response_rules: list[TcpRule] = field(default_factory=list)
    #: Explicit `filter cache <name>` / `filter compression` lines: (cache name or "").
    filters: list[tuple[str, Statement]] = field(default_factory=list)
    tcp_response_delay: float | None = None
    random_draw: Statement | None = None
    description: str | None = None
    #: `id <n>`, and the id the proxy ends up with (`_number_proxies`).
    forced_id: int | None = None
    uuid: int = 0
    tcp_check_lines: list[TcpCheckRule | TcpComment] = field(default_factory=list)
    #: This section has its own `http-check connect` (a defaults section's is replaced).
    own_http_check_connect: bool = False

    @property
    def name(self) -> str:
        return self.section.name

    @property
    def kind(self) -> str:
        return self.section.kind


class _Builder:
    def __init__(
        self,
        parsed: ParsedConfig,
        errors: list[ConfigError],
        warnings: list[ConfigWarning],
        base_dir: str,
        local_peer: str | None = None,
    ) -> None:
        self.parsed = parsed
        self.local_peer = local_peer
        self.errors = errors
        self.warnings = warnings
        self.base_dir = base_dir
        self.global_ = Global()
        self.global_logs: list[LogTarget] = []
        self.sockets: list[Any] = []
        self.defaults: dict[int, _Settings] = {}
        self.proxies: list[_Proxy] = []
        #: Proxies by their `id` (cfgparse's used_proxy_id).
        self.proxy_ids: dict[int, _Proxy] = {}
        self.userlists: dict[str, Userlist] = {}
        self.tables: dict[str, StickTable] = {}
        #: Every map file and ACL pattern list, shared by all proxies (HAProxy's pat_ref).
        self.patterns = PatRefs()
        #: Every backend and listen by name, its pool put in once built (`nbsrv`).
        self.backend_slots: dict[str, BackendSlot] = {
            section.name: BackendSlot()
            for section in parsed.sections
            if section.kind in ("backend", "listen")
        }
        self.peers: dict[str, PeersLines] = {}
        #: `resolvers` sections by name.
        self.resolvers: dict[str, Resolvers] = {}
        #: `cache` sections by name (`http-request cache-use`, `http-response cache-store`).
        self.caches: dict[str, Cache] = {}
        #: `http-errors` sections by name: their pages by status (None: the built-in one).
        self.http_errors: dict[str, dict[int, bytes | None]] = {}
        #: Some rule or expression names a variable (`set-var`, `var()`) or sets the
        #: log level: each stream then carries its state (`Request.stream`), as with
        #: stick tables.
        self.needs_streams = any(
            "var(" in word or word in ("set-log-level", "capture") or "capture." in word
            for section in parsed.sections
            for stmt in section.statements
            for word in stmt.args
        )
        #: Proxy tables naming a peers section: (proxy, section name, the line).
        self._synced: list[tuple[str, str, Statement]] = []
        # One context per certificate set, shared by the binds that serve it.
        # Binds with the same TLS settings share one context (keyed by those settings).
        self._tls_contexts: dict[tuple[object, ...], ssl.SSLContext] = {}

    # -- helpers -----------------------------------------------------------------------

    def warn(self, message: str, stmt: Statement | Section, *, ours: bool = False) -> None:
        self.warnings.append(ConfigWarning(message, stmt.file, stmt.line, ours))

    def _count(self, stmt: Statement) -> int:
        """A count HAProxy reads with atol() (`maxconn`, `retries`): `5s` is 5 and `x`
        is 0, with a warning here since HAProxy says nothing."""
        word = _one(stmt)
        if word.isdigit():
            return int(word)
        value = max(c_atol(word), 0)
        message = f"'{stmt.keyword} {word}' is read as {value}, as HAProxy 2.6 reads it"
        self.warn(message, stmt, ours=True)
        return value

    def _first(self, stmt: Statement) -> str:
        """The one argument of `stmt`; like HAProxy 2.6, words after it are ignored
        (`stats realm HAProxy Statistics` sets the realm `HAProxy`), with a warning."""
        if not stmt.args:
            raise ValueError(f"'{stmt.keyword}' expects an argument")
        self._extra_words(stmt, 1)
        return stmt.args[0]

    def _extra_words(self, stmt: Statement, used: int) -> None:
        if len(stmt.args) > used:
            extra = " ".join(stmt.args[used:])
            message = f"'{stmt.keyword}': ignoring extra words '{extra}', as HAProxy 2.6 does"
            self.warn(message, stmt)

    def notes(self, stmt: Statement) -> Callable[[str], None]:
        """A sink for the warnings a value parser finds on `stmt`."""
        return lambda message: self.warn(message, stmt)

    def time(
        self, word: str, stmt: Statement, default_unit: str = "ms", maximum_ms: int = MAX_TIMER_MS
    ) -> float:
        """A time value read as HAProxy 2.6 reads it: trailing junk after a unit warns."""
        notes: list[str] = []
        seconds = parse_time(word, default_unit=default_unit, warnings=notes, maximum_ms=maximum_ms)
        for note in notes:
            self.warn(note, stmt)
        return seconds

    def run(self, stmt: Statement, handler: Callable[[Statement], None]) -> None:
        self.patterns.where = (stmt.file, stmt.line)  # what a map it loads names
        try:
            handler(stmt)
        except ConfigError as error:
            if error.file is None:
                error = ConfigError(error.message, stmt.file, stmt.line)
            self.errors.append(error)
        except ValueError as error:
            self.errors.append(ConfigError(str(error), stmt.file, stmt.line))

    # -- global ------------------------------------------------------------------------

    def build_global(self, section: Section) -> None:
        for stmt in section.statements:
            self.run(stmt, self._global_statement)

    def _global_set_var(self, stmt: Statement) -> None:
        """`set-var proc.<name> <expr>` / `set-var-fmt proc.<name> <fmt>` (vars.c's
        vars_parse_global_set_var): evaluated now, on no request at all."""
        key, args = stmt.keyword, stmt.args
        what = "a format string" if key == "set-var-fmt" else "a sample expression"
        if len(args) != 2:
            raise ValueError(
                f"'{key}' requires a process-wide variable name ('proc.<name>') and {what}."
            )
        rule = parse_var_rule(
            [f"{key}({args[0]})", args[1]], AclSet(), stmt.file, stmt.line, side=""
        )
        assert rule.variable is not None
        if rule.variable.scope != "proc":
            raise ValueError(
                f"'{key}': cannot set variable '{args[0]}', only scope 'proc' is permitted "
                "in the global section."
            )
        rule.store_var(Request(stream=StreamCounters(0)))

    def _global_statement(self, stmt: Statement) -> None:
        key, args = stmt.keyword, stmt.args
        g = self.global_
        if key == "log":
            if stmt.prefix == "no":
                raise ValueError("'no log' is only meaningful in proxies and defaults")
            if args == ("global",):
                raise ValueError("'log global' is only meaningful in proxies and defaults")
            self.global_logs.append(parse_log(args, stmt.file, stmt.line))
        elif key in ("set-var", "set-var-fmt"):
            self._global_set_var(stmt)
        elif key == "maxconn":
            self.global_ = replace(g, maxconn=self._count(stmt))
        elif key == "nbthread":
            self.global_ = replace(g, nbthread=_one_int(stmt, 1))
        elif key == "hard-stop-after":
            self.global_ = replace(g, hard_stop_after=self.time(_one(stmt), stmt))
        elif key == "stats socket":
            stats_socket, notes = parse_stats_socket(args, stmt.file, stmt.line)
            self.sockets.append(stats_socket)
            for note in notes:
                self.warn(note, stmt)
        elif key == "stats timeout":
            self.global_ = replace(g, stats_timeout=self.time(_one(stmt), stmt))
        elif key == "description":
            self.global_ = replace(g, description=_description(stmt))
        elif key == "node":
            self.global_ = replace(
                g, node=_node_name(_one(stmt), "'node' requires valid node name")
            )
        elif key in ENV_KEYWORDS:
            if key in ("setenv", "presetenv"):
                if len(args) > 2:
                    raise ValueError(f"'{key}' cannot handle unexpected argument '{args[2]}'.")
                if len(args) < 2 or not args[1]:
                    raise ValueError(f"'{key}' expects a name and a value.")
            elif key == "unsetenv" and not args:
                raise ValueError(f"'{key}' expects at least one variable name.")
            # (run by the lexer as the file was read: `parsed.environ`)
        elif key == "localpeer":
            self.global_ = replace(g, localpeer=_one(stmt))
        elif key == "log-send-hostname":
            # HAProxy reads one word and ignores the rest.
            self.global_ = replace(g, log_hostname=args[0] if args else socket.gethostname())
        elif key == "log-tag":
            if not args:
                raise ValueError("'log-tag' expects a tag for use in syslog.")
            if len(args) > 1:
                raise ValueError(f"'log-tag' cannot handle unexpected argument '{args[1]}'.")
            self.global_ = replace(g, log_tag=args[0])
        elif key in ("server-state-file", "server-state-base"):
            is_file = key == "server-state-file"
            if (g.server_state_file if is_file else g.server_state_base) is not None:
                # An alert in HAProxy, but not a fatal one: the first line stays.
                self.warn(f"'{key}' already specified. Continuing.", stmt)
                return
            if len(args) != 1:
                what = "a file path" if is_file else "a directory path"
                raise ValueError(f"'{key}' expects one argument: {what}.")
            if is_file:
                self.global_ = replace(g, server_state_file=args[0])
            else:
                self.global_ = replace(g, server_state_base=args[0])
        elif key in ("external-check", "insecure-fork-wanted"):
            if args:
                raise ValueError(f"'{key}' cannot handle unexpected argument '{args[0]}'.")
            if key == "external-check":
                self.global_ = replace(g, external_check=True)
            else:
                self.global_ = replace(g, insecure_fork_wanted=True)
        elif key == "spread-checks":
            if not args:
                raise ValueError("'spread-checks' expects an integer argument (0..50).")
            if g.spread_checks:
                self.warn("spread-checks already specified. Continuing.", stmt)
            percent = c_atol(_one(stmt))
            if not 0 <= percent <= 50:
                raise ValueError("'spread-checks' needs a positive value in range 0..50.")
            self.global_ = replace(g, spread_checks=percent)
        elif key == "max-spread-checks":
            if not args:
                raise ValueError("'max-spread-checks' expects an integer argument (0..50).")
            delay = self.time(_one(stmt), stmt)
            self.global_ = replace(g, max_spread_checks=delay or None)
        elif key == "tune.bufsize":
            # HAProxy reads it with atol() and rounds it up to two pointers (16 bytes).
            size = (c_atol(_one(stmt)) + 15) & -16
            if size <= 0:
                raise ValueError("'tune.bufsize' expects a positive integer argument.")
            self.global_ = replace(g, tune_bufsize=size)
        elif key == "tune.comp.maxlevel":
            level = c_atol(_one(stmt))
            if not 1 <= level <= 9:
                raise ValueError("'tune.comp.maxlevel' expects a numeric value between 1 and 9")
            self.global_ = replace(g, tune_comp_maxlevel=level)
        elif key == "tune.maxrewrite":
            reserve = c_atol(_one(stmt))
            if reserve < 0:
                raise ValueError("'tune.maxrewrite' expects a positive integer argument.")
            self.global_ = replace(g, tune_maxrewrite=reserve)
        elif key == "ca-base":
            self.global_ = replace(g, ca_base=_one(stmt))
        elif key == "ssl-server-verify":
            if len(args) != 1 or args[0] not in ("none", "required"):
                raise ValueError("'ssl-server-verify' expects 'none' or 'required' as argument.")
            self.global_ = replace(g, ssl_server_verify=args[0])  # type: ignore[arg-type]
        elif key == "strict-limits":
            if args:
                raise ValueError("'strict-limits' cannot handle arguments.")
            self.global_ = replace(g, strict_limits=stmt.prefix != "no")
        elif key == "ulimit-n":
            limit = c_atol(args[0]) if len(args) == 1 else 0
            if len(args) != 1 or limit <= 0:
                raise ValueError("'ulimit-n' expects an integer argument.")
            if g.ulimit_n:
                self.warn("'ulimit-n' already specified. Continuing.", stmt)
                return
            self.global_ = replace(g, ulimit_n=limit)
        elif key == "crt-base":
            self.global_ = replace(g, crt_base=_one(stmt))
        elif key == "ssl-default-bind-ciphers":
            self.global_ = replace(g, ssl_default_bind_ciphers=_cipher_list(_one(stmt), key))
        elif key == "ssl-default-bind-ciphersuites":
            suites = _openssl_list(_one(stmt), key)
            self.global_ = replace(g, ssl_default_bind_ciphersuites=suites)
        elif key == "ssl-default-bind-options":
            self.global_ = replace(g, ssl_default_bind_options=_ssl_options(args, key))
        elif key == "ssl-default-bind-curves":
            curves = _openssl_list(_one(stmt), key, curves=True)
            self.global_ = replace(g, ssl_default_bind_curves=curves)
        elif key == "ssl-default-server-ciphers":
            self.global_ = replace(g, ssl_default_server_ciphers=_cipher_list(_one(stmt), key))
        elif key == "ssl-default-server-ciphersuites":
            suites = _openssl_list(_one(stmt), key)
            self.global_ = replace(g, ssl_default_server_ciphersuites=suites)
        elif key == "ssl-default-server-options":
            self.global_ = replace(g, ssl_default_server_options=_ssl_options(args, key))
        elif key == "ssl-dh-param-file":
            path = _one(stmt)
            try:
                pem = Path(path).read_bytes()
            except OSError:
                pem = b""
            if b"-----BEGIN DH PARAMETERS-----" not in pem:
                raise ValueError(f"'{key}': unable to load DH parameters from file <{path}>.")
            self.global_ = replace(g, ssl_dh_params=pem)
        elif key == "tune.ssl.default-dh-param":
            bits = c_atol(_one(stmt))
            if bits < 1024:
                raise ValueError(f"'{key}' expects a value >= 1024.")
            self.global_ = replace(g, tune_ssl_default_dh_param=bits)
        elif key == "tune.http.maxhdr":
            count = c_atol(_one(stmt))
            if not 1 <= count <= 32767:
                raise ValueError("'tune.http.maxhdr' expects a numeric value between 1 and 32767")
            self.global_ = replace(g, tune_http_maxhdr=count)
        elif key == "expose-experimental-directives":
            self.global_ = replace(g, experimental=True)
        elif key == "zero-warning":
            if args:
                raise ValueError(f"'zero-warning' cannot handle unexpected argument '{args[0]}'.")
            self.global_ = replace(g, zero_warning=True)
        # Everything else in a global section is an `ignored` keyword, warned by the parser.

    # -- resolvers ----------------------------------------------------------------------

    def build_resolvers(self, sections: list[Section]) -> None:
        """Every `resolvers` section (cfg_parse_resolvers), its bad lines at their line."""
        for section in sections:
            bad: list[tuple[int, str]] = []
            lines = [(stmt.keyword, stmt.args) for stmt in section.statements]
            found = read_resolvers(section.name, lines, section.file, section.line, errors=bad)
            for index, message in bad:
                stmt = section.statements[index]
                self.errors.append(ConfigError(message, stmt.file, stmt.line))
            self.resolvers[section.name] = found
        # HAProxy 2.6 makes a `default` section of /etc/resolv.conf's nameservers when
        # the config has none of that name (resolvers_create_default).
        self.resolvers.setdefault("default", Resolvers("default", parse_resolv_conf=True))

    def _check_resolvers(self) -> None:
        """A server naming a section that does not exist stops the start, as in
        HAProxy (resolvers_finalize_config)."""
        for p in self.proxies:
            for _, extras, stmt in p.servers:
                if extras.resolvers is not None and extras.resolvers not in self.resolvers:
                    self.errors.append(
                        ConfigError(
                            f"{p.kind} '{p.name}', "
                            f"server '{extras.name}': unable to find required resolvers "
                            f"'{extras.resolvers}'",
                            stmt.file,
                            stmt.line,
                        )
                    )

    # -- caches -------------------------------------------------------------------------

    def build_caches(self, sections: list[Section]) -> None:
        """Every `cache` section (cfg_parse_cache, then its post-parse checks)."""
        for section in sections:
            sizes: dict[str, int] = {"max-age": 60}
            read = functools.partial(_cache_setting, sizes)
            errors = len(self.errors)
            for stmt in section.statements:
                self.run(stmt, read)
            if len(self.errors) > errors:
                continue
            total = sizes.get("total-max-size", 0) * 1024 * 1024
            if total <= 0:
                self.errors.append(
                    ConfigError(
                        f"Size not specified for cache '{section.name}'", section.file, section.line
                    )
                )
                continue
            largest = sizes.get("max-object-size") or total >> 8
            if largest > total // 2:
                self.errors.append(
                    ConfigError(
                        '"max-object-size" is limited to an half of "total-max-size" => '
                        f"{total // 2}",
                        section.file,
                        section.line,
                    )
                )
                continue
            config = CacheConfig(
                section.name,
                total,
                largest,
                sizes["max-age"],
                process_vary=bool(sizes.get("process-vary")),
                max_secondary_entries=sizes.get("max-secondary-entries", 10),
            )
            self.caches[section.name] = Cache(config)

    # -- http-errors ----------------------------------------------------------------------

    def build_http_errors(self, sections: list[Section]) -> None:
        """Every `http-errors` section: its `errorfile` lines (cfg_parse_http_errors)."""
        for section in sections:
            pages = self.http_errors[section.name] = {}
            read = functools.partial(self._http_errors_page, pages)
            for stmt in section.statements:
                self.run(stmt, read)

    def _http_errors_page(self, pages: dict[int, bytes | None], stmt: Statement) -> None:
        code, content = _read_errorfile(self, stmt)
        pages[code] = content

    # -- userlists ----------------------------------------------------------------------

    def build_userlists(self, sections: list[Section]) -> None:
        merged: dict[str, _UserlistLines] = {}
        for section in sections:
            lines = merged.get(section.name)
            if lines is None:
                lines = merged[section.name] = _UserlistLines(section)
            else:
                self.warn(f"ignoring duplicated userlist '{section.name}'", section)
            for stmt in section.statements:
                self.run(stmt, lines.add)
            self.warnings.extend(lines.warnings)
            lines.warnings.clear()
        for name, lines in merged.items():
            try:
                self.userlists[name] = build_userlist(name, lines.users, lines.groups)
            except ValueError as error:
                self.errors.append(ConfigError(str(error), lines.section.file, lines.section.line))

    # -- peers ----------------------------------------------------------------------------

    def build_peers(self, sections: list[Section]) -> None:
        """Every `peers` section, with its own tables (before the proxies' tables,
        whose names must not clash with `<section>/<table>`)."""
        local = self.local_peer or self.global_.localpeer or socket.gethostname()
        for section in sections:
            self.peers[section.name] = read_peers_section(
                section, local, self.run, self._peers_table
            )

    def _peers_table(self, full: str, stmt: Statement) -> StickTable:
        if full in self.tables:
            raise ValueError(f"stick-table name '{full}' conflicts with a table declared before")
        notes: list[str] = []
        table = parse_stick_table(full, stmt.args[1:], notes, peers=[])
        for note in notes:
            self.warn(note, stmt)
        self.tables[full] = table
        return table

    def _peers_sections(self) -> dict[str, PeersSection]:
        """The sections this process takes part in, with every table they share;
        HAProxy's errors for proxy tables naming a missing or incomplete one."""
        local = self.local_peer or self.global_.localpeer or socket.gethostname()
        for proxy, name, stmt in self._synced:
            lines = self.peers.get(name)
            if lines is None:
                self.errors.append(
                    ConfigError(
                        f"Proxy '{proxy}': unable to find sync peers '{name}'.",
                        stmt.file,
                        stmt.line,
                    )
                )
            elif lines.disabled:
                continue
            elif not lines.peers and not lines.tables:
                # HAProxy's peers proxy only exists once a member or table is declared;
                # a section with members but not this process is dropped below instead.
                self.errors.append(
                    ConfigError(
                        f"Proxy '{proxy}': unable to find local peer '{local}' in peers "
                        f"section '{name}'.",
                        stmt.file,
                        stmt.line,
                    )
                )
            elif lines.listen() is not None:
                lines.proxy_tables.append((proxy, self.tables[proxy]))
        out: dict[str, PeersSection] = {}
        for lines in self.peers.values():
            listen = lines.listen()
            if lines.disabled:
                continue
            if listen is None:
                self.warnings.append(
                    ConfigWarning(
                        f"Removing incomplete section 'peers {lines.name}' "
                        f"(no peer named '{local}').",
                        lines.file,
                        lines.line,
                    )
                )
                continue
            out[lines.name] = PeersSection(
                lines.name,
                local,
                listen,
                tuple(lines.peers),
                MappingProxyType(dict([*lines.tables, *lines.proxy_tables])),
                lines.file,
                lines.line,
                lines.bind_fd if listen == lines.bind else None,
            )
        return out

    # -- stick tables ---------------------------------------------------------------------

    def build_tables(self, sections: list[Section]) -> None:
        """Every proxy's `stick-table`, named after the proxy (HAProxy refuses a
        second one: the name would conflict)."""
        # `stick` rules keep the server in their table: HAProxy adds server_id and
        # server_key to it whatever its `store` says.
        sticky = {
            _stick_table_name(stmt.args, section.name)
            for section in sections
            for stmt in section.statements
            if stmt.keyword == "stick"
        }
        for section in sections:
            for stmt in section.statements:
                if stmt.keyword == "stick-table":
                    add = ("server_id", "server_key") if section.name in sticky else ()
                    self.run(stmt, functools.partial(self._table, section.name, add))

    def _table(self, name: str, add: tuple[str, ...], stmt: Statement) -> None:
        if name in self.tables:
            raise ValueError(f"stick-table name '{name}' conflicts with a table declared before")
        notes: list[str] = []
        peers: list[str] = []
        self.tables[name] = parse_stick_table(name, stmt.args, notes, add, peers)
        for note in notes:
            self.warn(note, stmt)
        if peers:
            self._synced.append((name, peers[-1], stmt))

    # -- proxies -----------------------------------------------------------------------

    def settings_for(self, section: Section) -> _Settings:
        if section.defaults is None:
            return _Settings()
        settings = copy.deepcopy(self.defaults[section.defaults])
        if settings.compression is not None:
            # HAProxy copies the defaults' algorithms and types, not `offload`.
            settings.compression = replace(settings.compression, offload=False)
        if settings.tcp_check is None or settings.tcp_check[0] != "tcp-check":
            # HAProxy hands a defaults section's steps down only with its `option
            # tcp-check`: without it they are an unused ruleset of the defaults'.
            settings.tcp_check_lines = []
        return settings

    def build_proxy(self, index: int, section: Section) -> None:
        context = SampleContext(
            self.userlists,
            self.tables,
            section.name,
            self.backend_slots,
            self.caches,
            self.http_errors,
            self.patterns,
            self.parsed.environ,
        )
        proxy = _Proxy(section, self.settings_for(section), AclSet(context=context))
        for stmt in section.statements:
            self.run(stmt, lambda s: self._proxy_statement(proxy, s))
        if section.kind != "defaults":
            try:
                _check_filters(proxy)
            except ConfigError as error:
                self.errors.append(error)
        for note in proxy.acls.warnings:
            self.warnings.append(ConfigWarning(note.message, note.file, note.line))
        if section.kind == "defaults":
            self.defaults[index] = proxy.settings
        else:
            self.proxies.append(proxy)

    def _proxy_statement(self, p: _Proxy, stmt: Statement) -> None:
        key = stmt.keyword
        p.acls.place = _check_place(p.kind, stmt)
        handler = _HANDLERS.get(key)
        if handler is not None:
            handler(self, p, stmt)
        elif key.startswith("timeout "):
            p.settings.timeouts[key[8:]] = self.time(_one(stmt), stmt)
        elif key.startswith("option "):
            self._option(p, stmt)
        elif key.startswith("stats "):
            self._stats(p, stmt)
        else:  # pragma: no cover - the keyword table and the handlers disagree
            raise ValueError(f"keyword '{key}' is recognized but not handled")

    def _option(self, p: _Proxy, stmt: Statement) -> None:
        name = stmt.keyword[7:]
        s = p.settings
        if stmt.prefix == "default":
            s.options.pop(name, None)
            return
        enabled = stmt.prefix != "no"
        if name == "forwardfor":
            s.forwardfor = _forwardfor(stmt.args)
        elif name == "originalto":
            s.originalto = _forwardfor(stmt.args, "originalto")
        elif name == "redispatch":
            s.redispatch = _redispatch_interval(stmt.args) if enabled else 0
        elif name == "httpchk":
            s.httpchk = _httpchk(stmt.args)
            s.pgsql_check_user = s.tcp_check = None
            s.options.pop("external-check", None)
        elif name == "mysql-check":
            s.mysql_check_user = _mysql_check(stmt.args)
            s.pgsql_check_user = s.tcp_check = None
            s.options[name] = True
            s.options.pop("external-check", None)
        elif name == "pgsql-check":
            # The last check option wins, as HAProxy's `options2 &= ~PR_O2_CHK_ANY`.
            s.pgsql_check_user = _pgsql_check(stmt.args)
            s.httpchk = s.mysql_check_user = s.tcp_check = None
            s.options.pop("mysql-check", None)
            s.options.pop("external-check", None)
        elif name in TCP_CHECK_PROTOCOLS:
            most = 2 if name == "smtpchk" else 0
            if len(stmt.args) > most:
                raise ValueError(
                    f"'option {name}' cannot handle unexpected argument '{stmt.args[most]}'."
                )
            s.tcp_check = (name, stmt.args) if enabled else None
            s.httpchk = s.mysql_check_user = s.pgsql_check_user = None
            s.options.pop("mysql-check", None)
            s.options.pop("external-check", None)
        elif name == "external-check":
            if stmt.args:
                raise ValueError(f"'option {name}' takes no argument, got '{stmt.args[0]}'")
            s.options[name] = enabled
            if enabled:  # the last check option wins (PR_O2_CHK_ANY)
                s.httpchk = s.mysql_check_user = s.pgsql_check_user = s.tcp_check = None
                s.options.pop("mysql-check", None)
        elif name == "httplog" and stmt.args == ("clf",) and enabled:
            s.options["httplog"] = s.options["httplog-clf"] = True
            s.options["httpslog"] = False
        elif name == "http-restrict-req-hdr-names":
            how = stmt.args[0] if stmt.args else ""
            if how not in ("preserve", "delete", "reject"):
                raise ValueError(
                    (f"invalid parameter '{how}'. " if how else "missing parameter. ")
                    + f"option '{name}' expects 'preserve', 'reject' or 'delete' option."
                )
            if len(stmt.args) > 1:
                raise ValueError(
                    f"'option {name}' cannot handle unexpected argument '{stmt.args[1]}'."
                )
            s.restrict_names = "" if how == "preserve" else how  # type: ignore[assignment]
        elif name == "httpslog":
            if stmt.args:
                raise ValueError(f"'option {name}' takes no argument, got '{stmt.args[0]}'")
            # The last log format line wins, as in HAProxy: this one replaces a
            # `log-format` above it (`_frontend` compiles HTTPSLOG_FORMAT).
            s.options["httplog"] = s.options["httpslog"] = True
            s.options["httplog-clf"] = False
            s.log_format = s.log_line = None
        else:
            if stmt.args:
                raise ValueError(f"'option {name}' takes no argument, got '{stmt.args[0]}'")
            if name in ("httplog", "tcplog"):
                s.options["httplog-clf"] = s.options["httpslog"] = False
            if name in _CONN_MODES and enabled:
                for other in _CONN_MODES:
                    s.options.pop(other, None)
            if name == "tcpka":
                s.options["clitcpka"] = s.options["srvtcpka"] = enabled
            s.options[name] = enabled

    def _stats(self, p: _Proxy, stmt: Statement) -> None:
        s = p.settings
        stats = s.stats if s.stats is not None else {}
        what = stmt.keyword[6:]
        if what in ("enable", "hide-version"):
            if stmt.args:
                self._extra_words(stmt, 0)
            stats[what] = True
        elif what == "uri":
            stats["uri"] = self._first(stmt)
        elif what == "realm":
            stats["realm"] = self._first(stmt)
        elif what == "refresh":
            stats["refresh"] = self.time(self._first(stmt), stmt, default_unit="s")
        elif what == "show-legends":
            self._extra_words(stmt, 0)
            stats["show-legends"] = True
        elif what == "show-node":
            self._extra_words(stmt, 1)
            name = stmt.args[0] if stmt.args else ""
            stats["show-node"] = (
                _node_name(name, "'stats show-node' invalid node name") if name else ""
            )
        elif what == "show-desc":
            if not stmt.args and self.global_.description is None:
                self.warn(
                    "'show-desc' requires a parameter or 'desc' to be set in the global section.",
                    stmt,
                )
            else:
                stats["show-desc"] = " ".join(stmt.args)
        elif what == "scope":
            if not stmt.args:
                raise ValueError("'scope' needs a proxy name.")
            stats.setdefault("scope", []).append(stmt.args[0])
        elif what == "admin":
            stats.setdefault("admin", []).append(self._stats_admin(p, stmt))
        elif what == "http-request":
            self._stats_http_request(p, stmt, stats.setdefault("http-request", []))
        elif what == "auth":
            user, sep, password = self._first(stmt).partition(":")
            if not sep or not user:
                raise ValueError("'stats auth' expects <user>:<password>")
            stats.setdefault("auth", []).append((user, password))
        if stats.get("http-request") and (stats.get("auth") or stats.get("realm")):
            # HAProxy turns `stats auth` into a `stats http-request auth` rule of its own.
            raise ValueError(
                f"{p.kind} '{p.name}': stats 'auth'/'realm' and 'http-request' can't be used "
                "at the same time."
            )
        s.stats = stats

    def _stats_admin(self, p: _Proxy, stmt: Statement) -> Condition:
        """`stats admin if|unless <cond>`: who may change servers from the page."""
        if not stmt.args or stmt.args[0] not in ("if", "unless"):
            raise ValueError(
                "'stats admin' requires either 'if' or 'unless' followed by a condition."
            )
        return p.acls.condition(list(stmt.args), file=stmt.file, line=stmt.line)

    def _stats_http_request(self, p: _Proxy, stmt: Statement, rules: list[HttpRule]) -> None:
        """`stats http-request allow|deny|auth [realm r] [if|unless <cond>]`, the page's
        own access rules (HAProxy documents these three actions for them)."""
        if rules and rules[-1].cond is None:
            self.warn(
                "previous 'stats' action has no condition attached, further entries are NOOP.",
                stmt,
            )
        rule = parse_http_request_rule(list(stmt.args), p.acls, file=stmt.file, line=stmt.line)
        if rule.action not in ("allow", "deny", "auth"):
            raise ValueError(
                f"'stats http-request {rule.action}' is an HAProxy action balancekit does not "
                "support (the statistics page's rules take allow, deny and auth)"
            )
        rules.append(rule)

    # -- finishing ---------------------------------------------------------------------

    def finish(self) -> Config:
        global_ = replace(
            self.global_, logs=tuple(self.global_logs), stats_sockets=tuple(self.sockets)
        )
        backends: dict[str, BackendRuntime] = {}
        frontends: list[Frontend] = []
        self._number_proxies(global_)
        incoming = self._incoming_maxconn(global_)
        for p in self.proxies:
            if p.kind in ("backend", "listen"):
                runtime = self._backend(p, global_, incoming.get(p.name, 0))
                if runtime is not None:
                    backends[p.name] = runtime
                    self.backend_slots[p.name].backend = runtime.backend
        # A listen's rules are its frontend half's; a backend's run as a stream enters it.
        backend_rules = {
            p.name: self._backend_rules(p) for p in self.proxies if p.kind == "backend"
        }
        for p in self.proxies:
            if p.kind in ("frontend", "listen"):
                frontend = self._frontend(p, global_, backends, backend_rules)
                if frontend is not None:
                    frontends.append(frontend)
            self._missing_timeouts(p)
        self._global_checks(global_, frontends)
        self._check_resolvers()
        self.patterns.finalize()
        return Config(
            global_,
            tuple(frontends),
            MappingProxyType(backends),
            self.parsed.files,
            MappingProxyType(dict(self.tables)),
            MappingProxyType(self._peers_sections()),
            self.patterns,
            MappingProxyType(dict(self.resolvers)),
        )

    def _number_proxies(self, global_: Global) -> None:
        """HAProxy's proxy ids (check_config_validity): in declaration order, a proxy
        without `id` takes the first free number from a counter that every proxy
        advances, starting at 1, or 2 when a `stats socket` made the CLI's proxy
        first.  So a fixed id never moves the others."""
        following = 2 if global_.stats_sockets else 1
        for p in self.proxies:
            if p.forced_id is None:
                while following in self.proxy_ids:
                    following += 1
                p.uuid = following
            else:
                p.uuid = p.forced_id
            following += 1

    def _logs(self, p: _Proxy, global_: Global) -> tuple[LogTarget, ...]:
        logs: list[LogTarget] = []
        for target in p.settings.logs:
            logs.extend(global_.logs if target is _LOG_GLOBAL else (target,))
        return tuple(logs)

    def _incoming_maxconn(self, global_: Global) -> dict[str, int]:
        """Per backend, the sum of the `maxconn` of the frontends that may send it
        traffic (default_backend, static use_backend rules once each, a listen's
        own half), as HAProxy's proxy_adjust_all_maxconn() adds them up; -1 when
        one of them has no maxconn (HAProxy's is then derived from the machine's
        file limit)."""
        totals: dict[str, int] = {}
        for p in self.proxies:
            if p.kind not in ("frontend", "listen"):
                continue
            maxconn = p.settings.maxconn or global_.maxconn or -1
            default = p.settings.default_backend
            targets = [default.args[0]] if default is not None and default.args else []
            if not targets and p.kind == "listen":
                targets.append(p.name)
            for use, _stmt in p.use_backends:
                if "%[" not in use.backend and use.backend not in targets:
                    targets.append(use.backend)
            for name in targets:
                known = totals.get(name, 0)
                totals[name] = -1 if -1 in (known, maxconn) else known + maxconn
        return totals

    def _backend(self, p: _Proxy, global_: Global, incoming: int) -> BackendRuntime | None:
        s = p.settings
        balance = " ".join(s.balance.args) if s.balance else None
        draws = p.random_draw
        try:
            if draws is not None:
                balance = self._random_draw(draws, balance)
            backend = Backend(
                p.name,
                [server for server, _, _ in p.servers],
                balance=balance,
                hash_type=" ".join(s.hash_type.args) if s.hash_type else None,
                allbackups=s.options.get("allbackups", False),
                hash_balance_factor=s.hash_balance_factor,
                mode=s.mode,
            )
        except ConfigError as error:
            self.errors.append(error)
            return None
        except ValueError as error:
            where = s.balance or s.hash_type or p.section
            self.errors.append(ConfigError(f"{p.kind} '{p.name}': {error}", where.file, where.line))
            return None
        if s.mode == "http" and p.tcp_response_rules:
            rule = p.tcp_response_rules[0]
            self.errors.append(
                ConfigError(
                    f"'tcp-response content' in mode http ({p.kind} '{p.name}') is not "
                    "supported by balancekit; it runs tcp-response rules in mode tcp",
                    rule.file,
                    rule.line,
                )
            )
            return None
        # `cookie … dynamic`: servers without a `cookie` value get a generated one.
        dynamic = DynamicCookies(
            s.dynamic_cookie_key,
            s.cookie is not None and s.cookie.dynamic,
            frozenset(server.name for server, _, _ in p.servers if server.cookie is not None),
        )
        dynamic.refresh(backend)
        if s.cookie is not None and s.mode != "http":
            # HAProxy 2.6's words: the line is kept but has no effect in mode tcp.
            self.warn(
                f"cookie will be ignored for {p.kind} '{p.name}' (needs 'mode http')", p.section
            )
        response_rules, after_rules = self._response_rules(p) if p.kind == "backend" else ((), ())
        if s.mode == "http":
            self._warn_server_alpn(p)
        t = s.timeouts
        return BackendRuntime(
            name=p.name,
            description=p.description,
            uuid=p.uuid,
            max_response_head=self.global_.head_room,
            max_response_lines=self.global_.tune_http_maxhdr - 1,
            # HAProxy's default: 10% of the incoming maxconn, at least 1.
            fullconn=s.fullconn or (max((incoming + 9) // 10, 1) if incoming >= 0 else 0),
            load_server_state=s.load_server_state,
            server_state_file_name=s.server_state_file_name or p.name,
            mode=s.mode,  # type: ignore[arg-type]
            backend=backend,
            servers=tuple(extras for _, extras, _ in p.servers),
            timeout_connect=t.get("connect"),
            timeout_server=t.get("server"),
            timeout_queue=t.get("queue", t.get("connect")),
            timeout_check=t.get("check"),
            timeout_server_fin=t.get("server-fin"),
            timeout_tunnel=t.get("tunnel"),
            timeout_http_request=t.get("http-request"),
            timeout_tarpit=t.get("tarpit", t.get("connect")),
            timeout_http_keep_alive=t.get("http-keep-alive"),
            retries=s.retries,
            redispatch=s.redispatch,
            cookie=s.cookie if s.mode == "http" else None,
            dynamic_cookies=dynamic,
            persist=s.options.get("persist", False),
            persist_rules=tuple(p.persist_rules),
            stick_rules=tuple(p.stick_rules),
            server_rules=_server_rules(p, self.errors),
            tcp_inspect_delay=p.tcp_inspect_delay,
            tcp_response_rules=tuple(p.tcp_response_rules),
            tcp_response_delay=p.tcp_response_delay,
            retry_on=s.retry_on,
            srvtcpka=_keepalive(s, "srv"),
            forwardfor=s.forwardfor,
            originalto=s.originalto,
            http_server_close=s.options.get("http-server-close", False),
            httpclose=s.options.get("httpclose", False),
            abortonclose=s.options.get("abortonclose", False),
            pretend_keepalive=s.options.get("http-pretend-keepalive", False),
            checkcache=s.mode == "http" and s.options.get("checkcache", False),
            httpchk=s.httpchk,
            http_check_expect=tuple(s.http_check_expect),
            http_check_disable_404=s.http_check_disable_404,
            http_check_send_state=s.http_check_send_state,
            http_check_connect=s.http_check_connect,
            mysql_check_user=s.mysql_check_user,
            pgsql_check_user=s.pgsql_check_user,
            tcp_check=self._tcp_check(p),
            external_check=self._external_check(p, global_),
            compression=_leveled(s.compression, global_),
            log_health_checks=s.options.get("log-health-checks", False),
            logs=self._logs(p, global_),
            errorfiles=MappingProxyType(dict(s.errorfiles)),
            http_rules=tuple(p.http_rules) if p.kind == "backend" else (),
            http_response_rules=response_rules,
            http_after_response_rules=after_rules,
            stats=self._backend_stats(p),
            file=p.section.file,
            line=p.section.line,
        )

    def _external_check(self, p: _Proxy, global_: Global) -> ExternalCheck | None:
        """`option external-check` checked as HAProxy checks it once the config is read
        (its messages; an error keeps the config from loading)."""
        s = p.settings
        command, path = s.external_check_command, s.external_check_path
        enabled = s.options.get("external-check", False)
        if command is not None and not enabled:
            self.warn(
                f"'external-check command' will be ignored for {p.kind} '{p.name}' "
                "(requires 'option external-check').",
                command,
            )
        if command is not None and not command.args[0].startswith("/") and path is None:
            self.errors.append(
                ConfigError(
                    f"Proxy '{p.name}': 'external-check command' does not have a leading '/' "
                    "and 'external-check path' is not set.",
                    command.file,
                    command.line,
                )
            )
        if not enabled:
            return None
        fatal = False
        if not global_.external_check:
            message = (
                f"Proxy '{p.name}' : 'option external-check' unable to find required "
                "'global.external-check'."
            )
            self.errors.append(ConfigError(message, p.section.file, p.section.line))
            fatal = True
        if command is None:
            message = (
                f"Proxy '{p.name}' : 'option external-check' unable to find required "
                "'external-check command'."
            )
            self.errors.append(ConfigError(message, p.section.file, p.section.line))
            fatal = True
        if not global_.insecure_fork_wanted:
            self.warn(
                f"Proxy '{p.name}' : 'insecure-fork-wanted' not enabled in the global section, "
                "'option external-check' will likely fail.",
                p.section,
            )
        if fatal or command is None:
            return None
        return ExternalCheck(command.args[0], path.args[0] if path is not None else "")

    def _tcp_check(self, p: _Proxy) -> TcpCheckRuleset | None:
        """The ruleset the proxy's check option runs: a protocol's own, or its
        `tcp-check` lines (else its defaults section's, as HAProxy inherits them)."""
        if p.settings.tcp_check is None:
            return None
        option, args = p.settings.tcp_check
        if option != "tcp-check":
            return protocol_ruleset(option, args)
        return tcp_check_ruleset(option, tuple(p.tcp_check_lines or p.settings.tcp_check_lines))

    def _backend_stats(self, p: _Proxy) -> StatsPage | None:
        if p.kind != "backend":
            return None  # a listen's statistics page belongs to its frontend half
        stats = _stats_page(p.settings)
        if stats is not None and p.settings.mode != "http":
            return self._http_only(p, stats, {})
        return stats

    def _random_draw(self, stmt: Statement, balance: str | None) -> str:
        if len(stmt.args) != 2 or stmt.args[0] != "draw" or not stmt.args[1].isdigit():
            raise ConfigError(
                "unknown keyword 'random' (the tutorial form is 'random draw <N>'; "
                "HAProxy writes 'balance random(<N>)')",
                stmt.file,
                stmt.line,
            )
        draws = stmt.args[1]
        if balance is None or balance.split("(")[0].split()[0] != "random":
            raise ConfigError(
                f"'random draw {draws}' only applies to 'balance random' "
                f"(HAProxy writes 'balance random({draws})')",
                stmt.file,
                stmt.line,
            )
        self.warn(
            f"'random draw {draws}' is not HAProxy syntax (HAProxy 2.6 rejects it: unknown "
            f"keyword 'random' in 'backend' section); accepted as 'balance random({draws})', "
            "which is what HAProxy understands",
            stmt,
        )
        return f"random({draws})"

    def _warn_server_alpn(self, p: _Proxy) -> None:
        """In mode http, servers are spoken to in HTTP/1.1: `alpn` offers that alone."""
        for _, extras, stmt in p.servers:
            dropped = ",".join(proto for proto in extras.alpn if proto != "http/1.1")
            if extras.ssl and dropped:
                self.warn(
                    f"server '{extras.name}': alpn '{dropped}' not offered: balancekit-server "
                    "speaks HTTP/1.1 to servers",
                    stmt,
                    ours=True,
                )

    def _binds(self, p: _Proxy, mode: str, global_: Global) -> tuple[Bind, ...]:
        """The proxy's binds, each `ssl` one with its TLS context built now (so `-c`
        fails on a bad certificate, at its line); in mode http, ALPN offers only the
        HTTP/1 versions we speak (a client that picked `h2` would get no answer)."""
        out = []
        for bind in p.binds:
            spoken = tuple(proto for proto in bind.alpn if proto in ("http/1.1", "http/1.0"))
            if mode == "http" and spoken != bind.alpn:
                dropped = ",".join(proto for proto in bind.alpn if proto not in spoken)
                self.warnings.append(
                    ConfigWarning(
                        f"bind: alpn '{dropped}' not offered: balancekit-server speaks "
                        "HTTP/1.1 only (clients fall back to it)",
                        bind.file,
                        bind.line,
                        ours=True,
                    )
                )
                bind = replace(bind, alpn=spoken)
            if bind.ssl:
                bind = self._with_context(bind, global_, p.name, p.kind)
            if not bind.backlog:  # listener_backlog: the bind's, the frontend's, its maxconn
                backlog = p.settings.backlog or p.settings.maxconn or global_.maxconn
                bind = replace(bind, backlog=backlog)
            out.append(bind)
        return tuple(out)

    def _with_context(self, bind: Bind, global_: Global, proxy: str, kind: str) -> Bind:
        """The bind's TLS context: its own options after the global defaults (HAProxy
        ORs the `no-*` flags and lets the bind's versions and ciphers win)."""
        ciphers = bind.ciphers or global_.ssl_default_bind_ciphers
        suites = bind.ciphersuites or global_.ssl_default_bind_ciphersuites
        curves = bind.curves or global_.ssl_default_bind_curves
        options = (*global_.ssl_default_bind_options, *bind.tls_options)
        verify = bind.verify or "none"
        key: tuple[object, ...] = (bind.crts, bind.crt_lists, bind.alpn, ciphers, options)
        key += (bind.ca_file, verify, bind.strict_sni, suites, curves)
        context = self._tls_contexts.get(key)
        if context is None:
            if verify != "none" and bind.ca_file is None:
                where = f"[{bind.file}:{bind.line}]"
                message = (
                    f"Proxy '{proxy}': verify is enabled but no CA file specified for "
                    f"bind '{bind.address}' at {where}."
                )
                self.errors.append(ConfigError(message, bind.file, bind.line))
                return bind
            notes: list[str] = []
            try:
                entries = [
                    entry
                    for path in bind.crt_lists
                    for entry in read_crt_list(path, global_.crt_base)
                ]
                context = server_context(
                    bind.crts,
                    entries=entries,
                    alpn=bind.alpn,
                    ciphers=ciphers,
                    options=options,
                    ca_file=bind.ca_file if verify != "none" else None,
                    verify=verify,
                    strict_sni=bind.strict_sni,
                    ciphersuites=suites,
                    curves=curves,
                    dh=DhParams(global_.ssl_dh_params, global_.tune_ssl_default_dh_param),
                    warnings=notes,
                )
            except TLSConfigError as exc:
                self.errors.append(ConfigError(f"bind: {exc}", bind.file, bind.line))
                return bind
            for note in notes:
                self.warnings.append(
                    ConfigWarning(
                        f"'bind {bind.address}' in section '{kind}' : {note}", bind.file, bind.line
                    )
                )
            self._tls_contexts[key] = context
        return replace(bind, context=context)

    def _response_rules(self, p: _Proxy) -> tuple[tuple[HttpRule, ...], tuple[HttpRule, ...]]:
        """The proxy's `http-response` and `http-after-response` rules (none, with a
        warning, outside mode http, as HAProxy does)."""
        if p.settings.mode == "http":
            return tuple(p.http_response_rules), tuple(p.http_after_response_rules)
        for rules, keyword in (
            (p.http_response_rules, "http-response"),
            (p.http_after_response_rules, "http-after-response"),
        ):
            if rules:
                self.warn(
                    f"'{keyword}' rules ignored for {p.kind} '{p.name}' as they require HTTP mode",
                    p.section,
                )
        return (), ()

    def _backend_rules(self, p: _Proxy) -> BackendRules:
        http_rules = [*p.http_rules, *p.redirects]
        if p.settings.mode != "http" and http_rules:
            what = "'http-request' rules" if p.http_rules else "'redirect' rules"
            self.warn(f"{what} ignored for backend '{p.name}' as they require HTTP mode", p.section)
            http_rules = []
        buffer_body = p.settings.mode == "http" and p.settings.options.get(
            "http-buffer-request", False
        )
        restrict = p.settings.restrict_names if p.settings.mode == "http" else ""
        return BackendRules(
            http_rules, p.tcp_content_rules, buffer_body=buffer_body, restrict_names=restrict
        )

    def _frontend(
        self,
        p: _Proxy,
        global_: Global,
        backends: Mapping[str, BackendRuntime],
        backend_rules: Mapping[str, BackendRules],
    ) -> Frontend | None:
        s = p.settings
        default = s.default_backend.args[0] if s.default_backend else None
        if default is not None:
            self._check_target(p, default, s.default_backend, backends)  # type: ignore[arg-type]
        for ub, stmt in p.use_backends:
            if ub.name_format is None:  # a dynamic name is looked up per request
                self._check_target(p, ub.backend, stmt, backends)
        if default is None and p.kind == "listen":
            default = p.name
        http_rules, redirects = p.http_rules, p.redirects
        if s.mode != "http" and (http_rules or redirects):
            what = "'http-request' rules" if http_rules else "'redirect' rules"
            self.warn(
                f"{what} ignored for {p.kind} '{p.name}' as they require HTTP mode",
                p.section,
            )
            http_rules, redirects = [], []
        try:
            router = Router(
                http_rules=tuple(http_rules),
                tcp_connection_rules=tuple(p.tcp_connection_rules),
                tcp_content_rules=tuple(p.tcp_content_rules),
                use_backends=tuple(ub for ub, _ in p.use_backends),
                default_backend=default,
                redirects=tuple(redirects),
                backend_rules=backend_rules,
                known_backends=[q.name for q in self.proxies if q.kind in ("backend", "listen")],
                buffer_body=s.mode == "http" and s.options.get("http-buffer-request", False),
                restrict_names=s.restrict_names if s.mode == "http" else "",
            )
        except ConfigError as error:
            self.errors.append(error)
            return None
        if not any(stmt.keyword == "bind" for stmt in p.section.statements):
            # (a bind line with an error has its own message)
            self.warn(f"{p.kind} '{p.name}' has no 'bind' line and will not listen", p.section)
        response_rules, after_rules = self._response_rules(p)
        t = s.timeouts
        options = dict(s.options)
        stats = _stats_page(s)
        if s.mode != "http":
            stats = self._http_only(p, stats, options)
        return Frontend(
            name=p.name,
            description=p.description,
            uuid=p.uuid,
            max_header_size=global_.head_room,
            max_header_lines=global_.tune_http_maxhdr - 1,
            tracks=bool(self.tables) or self.needs_streams or s.unique_id_format is not None,
            mode=s.mode,  # type: ignore[arg-type]
            binds=self._binds(p, s.mode, global_),
            router=router,
            maxconn=s.maxconn,
            timeout_client=t.get("client"),
            timeout_client_fin=t.get("client-fin"),
            timeout_http_request=t.get("http-request"),
            timeout_tarpit=t.get("tarpit", t.get("connect")),
            timeout_http_keep_alive=t.get("http-keep-alive"),
            tcp_inspect_delay=p.tcp_inspect_delay,
            tcplog=options.get("tcplog", False),
            httplog=options.get("httplog", False),
            httplog_clf=options.get("httplog-clf", False),
            dontlognull=options.get("dontlognull", False),
            http_ignore_probes=options.get("http-ignore-probes", False),
            log_separate_errors=options.get("log-separate-errors", False),
            dontlog_normal=options.get("dontlog-normal", False),
            logasap=options.get("logasap", False),
            forwardfor=s.forwardfor,
            originalto=s.originalto,
            clitcpka=_keepalive(s, "cli"),
            http_server_close=options.get("http-server-close", False),
            httpclose=options.get("httpclose", False),
            logs=self._logs(p, global_),
            log_format=HTTPSLOG_FORMAT if options.get("httpslog") else s.log_format,
            log_line=_httpslog_line() if options.get("httpslog") else s.log_line,
            errorfiles=MappingProxyType(dict(s.errorfiles)),
            compression=_leveled(s.compression, global_) if s.mode == "http" else None,
            stats=stats,
            captures=tuple(p.captures),
            monitor_uri=s.monitor_uri,
            monitor_fail=tuple(p.monitor_fail),
            unique_id_format=s.unique_id_format,
            unique_id_header=s.unique_id_header if s.unique_id_format is not None else None,
            http_response_rules=response_rules,
            http_after_response_rules=after_rules,
            default_backend=s.default_backend.args[0] if s.default_backend else None,
            backend_name=p.name if p.kind == "listen" else None,
            file=p.section.file,
            line=p.section.line,
        )

    def _http_only(
        self, p: _Proxy, stats: StatsPage | None, options: dict[str, bool]
    ) -> StatsPage | None:
        """HAProxy's fallbacks for HTTP-only settings in a TCP proxy (warned, not fatal)."""
        if options.get("httplog"):
            which = "httpslog" if options.get("httpslog") else "httplog"
            options["httpslog"] = False
            self.warn(
                f"'option {which}' not usable with {p.kind} '{p.name}' (needs 'mode http'); "
                "falling back to 'option tcplog'",
                p.section,
            )
            options["httplog"] = options["httplog-clf"] = False
            options["tcplog"] = True
        if stats is not None:
            self.warn(
                f"'stats' statements ignored for {p.kind} '{p.name}' as they require HTTP mode",
                p.section,
            )
        return None

    def _check_target(
        self,
        p: _Proxy,
        name: str,
        stmt: Statement,
        backends: Mapping[str, BackendRuntime],
    ) -> None:
        target = backends.get(name)
        if target is None:
            known = {q.name for q in self.proxies if q.kind in ("backend", "listen")}
            if name in known:
                return  # that backend failed to build; its own error says why
            hint = _close_name(name, sorted(known))
            self.errors.append(
                ConfigError(
                    f"{p.kind} '{p.name}': unable to find required backend '{name}'{hint}",
                    stmt.file,
                    stmt.line,
                )
            )
            return
        if p.settings.mode == "http" and target.mode != "http":
            self.errors.append(
                ConfigError(
                    f"{p.kind} '{p.name}' (mode http) cannot use backend '{name}' (mode tcp)",
                    stmt.file,
                    stmt.line,
                )
            )
        elif p.settings.mode == "tcp" and target.mode == "http":
            self.errors.append(
                ConfigError(
                    f"{p.kind} '{p.name}' (mode tcp) cannot use backend '{name}' (mode http): "
                    "balancekit does not upgrade TCP connections to HTTP",
                    stmt.file,
                    stmt.line,
                )
            )

    def _missing_timeouts(self, p: _Proxy) -> None:
        t = p.settings.timeouts
        need = []
        if p.kind in ("frontend", "listen") and not t.get("client"):
            need.append("client")
        if p.kind in ("backend", "listen"):
            need += [name for name in ("connect", "server") if not t.get(name)]
        if need:
            self.warn(
                f"missing timeouts for {p.kind} '{p.name}': set "
                + ", ".join(f"'timeout {n}'" for n in need)
                + " (without them, stalled connections are never closed)",
                p.section,
            )

    def _global_checks(self, global_: Global, frontends: list[Frontend]) -> None:
        uses_ssl = any(b.ssl for f in frontends for b in f.binds)
        global_section = next((s for s in self.parsed.sections if s.kind == "global"), None)
        if global_section is None:
            return
        for stmt in global_section.statements:
            if not stmt.keyword.startswith("ssl-default-bind-"):
                continue
            if not uses_ssl:
                message = f"'{stmt.keyword}' has no effect: no 'bind … ssl' line uses it"
                self.warn(message, stmt, ours=True)


# -- statement handlers --------------------------------------------------------------------


def _h_description(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    p.description = _description(stmt)


def _h_id(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    """`id <n>`: a fixed proxy id, checked as cfgparse-listen.c does."""
    if p.kind == "defaults":
        raise ValueError("'id' not allowed in 'defaults' section.")
    if not stmt.args:
        raise ValueError("'id' expects an integer argument.")
    if len(stmt.args) > 1:
        raise ValueError(f"'id' cannot handle unexpected argument '{stmt.args[1]}'.")
    number = c_atol(stmt.args[0])
    if number <= 0:
        raise ValueError("custom id has to be > 0.")
    other = b.proxy_ids.get(number)
    if other is not None:
        raise ValueError(
            f"{p.kind} {p.name} reuses same custom id as {other.kind} {other.name} "
            f"(declared at {other.section.file}:{other.section.line})."
        )
    b.proxy_ids[number] = p
    p.forced_id = number


def _h_mode(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    mode = _one(stmt)
    if mode not in ("tcp", "http"):
        if mode == "health":
            raise ValueError("'mode health' was removed from HAProxy; use 'monitor-uri'")
        raise ValueError(f"unknown proxy mode '{mode}' (expected tcp or http)")
    p.settings.mode = mode


def _h_log(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    if stmt.prefix == "no":
        if stmt.args:
            raise ValueError("'no log' takes no argument")
        p.settings.logs = []
        return
    if stmt.args == ("global",):
        p.settings.logs.append(_LOG_GLOBAL)
        return
    p.settings.logs.append(parse_log(stmt.args, stmt.file, stmt.line))


def _h_server_template(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    """`server-template <prefix> <nb | low-high> <addr>[:port] [options]`: one server
    per number, named `<prefix><n>`, each as a `server` line would make it.  Without
    `resolvers` HAProxy gives them all the address the name resolves to at start,
    and so does this; with them, the running process fills them from the name's SRV
    or A/AAAA records (balancekit.resolvers)."""
    if len(stmt.args) < 3:
        raise ValueError(
            "'server-template' expects <prefix> <nb | range> <addr>[:<port>] as arguments."
        )
    prefix, numbers = stmt.args[0], stmt.args[1]
    # server.c's _srv_parse_tmpl_range, atoi() and all: `N` is 1..N, `L-H` is L..H.
    low = c_atol(numbers)
    if "-" in numbers:
        high = c_atol(numbers.split("-", 1)[1])
    else:
        low, high = 1, low
    if low < 0 or high < low:
        raise ValueError(f"Wrong server-template number or range arg '{numbers}'.")
    names = tuple(f"{prefix}{number}" for number in range(low, high + 1))
    first = len(p.servers)
    for name in names:
        _h_server(b, p, replace(stmt, args=(name, *stmt.args[2:])))
    # The servers share one name: the resolvers fill them together (SRV or A/AAAA).
    p.servers[first:] = [
        (server, replace(extras, template=names, srvrecord=_srv_name(server, extras)), where)
        for server, extras, where in p.servers[first:]
    ]


def _srv_name(server: Server, extras: ServerExtras) -> str | None:
    """The SRV name a template with `resolvers` is filled from, if it names one."""
    host = server.host
    return host if extras.resolvers and host.startswith("_") else None


def _h_maxconn(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    p.settings.maxconn = b._count(stmt)


def _h_tcpka(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    """`clitcpka-cnt|idle|intvl`, `srvtcpka-…` (proxy_parse_tcpka_*): a count, or a
    time in seconds; a side the proxy lacks is warned about, as by HAProxy."""
    key = stmt.keyword
    if not stmt.args:
        raise ValueError(f"'{key}' expects an integer value")
    word = stmt.args[0]
    if key.endswith("-cnt"):
        try:
            value = int(word, 0)
        except ValueError:
            bad = next((c for c in word if not c.isdigit()), word[:1])
            raise ValueError(
                f"'{key}' : unexpected character '{bad}' in integer value '{word}'"
            ) from None
    else:
        value = int(parse_time(word, default_unit="s"))
    side = "frontend" if key.startswith("cli") else "backend"
    if p.kind not in (side, "listen", "defaults"):
        b.warn(f"{key} will be ignored because {p.kind} '{p.name}' has no {side} capability", stmt)
    p.settings.tcpka[key] = value


_TCPKA = ("cnt", "idle", "intvl")


def _keepalive(s: _Settings, side: str) -> TcpKeepalive | None:
    """The `option {side}tcpka` of a proxy with its probe settings, None when off."""
    if not s.options.get(f"{side}tcpka", False):
        return None
    return TcpKeepalive(
        s.tcpka.get(f"{side}tcpka-cnt", 0),
        s.tcpka.get(f"{side}tcpka-idle", 0),
        s.tcpka.get(f"{side}tcpka-intvl", 0),
    )


def _h_backlog(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    if not stmt.args:
        raise ValueError("'backlog' expects an integer argument.")
    p.settings.backlog = b._count(stmt)


def _h_bind(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    p.binds.extend(
        parse_bind(stmt.args, stmt.file, stmt.line, b.global_.crt_base, b.global_.ca_base)
    )


def _h_server(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    if len(stmt.args) < 2:
        raise ValueError("'server' expects <name> and <address>")
    name = stmt.args[0]
    address = server_address(name, stmt.args[1])
    params = parse_server_params(
        stmt.args[2:],
        p.settings.default_server,
        b.global_.ca_base,
        b.notes(stmt),
        crt_base=b.global_.crt_base,
    )
    for existing, _, where in p.servers:
        if existing.name == name:
            raise ValueError(
                f"{p.kind} '{p.name}': duplicate server name '{name}' (first at {where.where})"
            )
        if existing.id is not None and existing.id == params.server.get("id"):
            raise ValueError(
                f"{p.kind} '{p.name}': server id {existing.id} already used by server "
                f"'{existing.name}' at {where.where}"
            )
    server = Server(name, address, **params.server)
    # No `verify` on the line (nor its default-server): `ssl-server-verify` decides.
    extras = ServerExtras(
        name,
        **{"verify": b.global_.ssl_server_verify, **params.extras},
        file=stmt.file,
        line=stmt.line,
    )
    extras = replace(extras, tls=_server_tls(extras, b.global_))
    _check_server_tls(p, extras, b.global_.ssl_server_verify)
    p.servers.append((server, extras, stmt))


def _server_tls(extras: ServerExtras, global_: Global) -> ServerTls:
    """The line's TLS settings over the global `ssl-default-server-*` ones: its own
    ciphers win, its options follow the global ones (ssl_sock_prepare_srv_ctx)."""
    return ServerTls(
        verify=extras.verify != "none",
        ca_file=extras.ca_file,
        crt=extras.crt,
        ciphers=extras.ciphers or global_.ssl_default_server_ciphers,
        ciphersuites=extras.ciphersuites or global_.ssl_default_server_ciphersuites,
        options=(*global_.ssl_default_server_options, *extras.tls_options),
        alpn=extras.alpn,
    )


def _check_server_tls(p: _Proxy, extras: ServerExtras, default_verify: str) -> None:
    """What HAProxy 2.6 refuses at load about TLS to a server: an `sni` expression
    it cannot compile, a `ca-file` it cannot read, and verification (the default,
    unless `ssl-server-verify none`) without a `ca-file`.  Checked here so `-c`
    names the line, not the first connection; the runtime builds its own contexts
    from the same fields."""
    where = f"'server {p.name}/{extras.name}' : "
    try:
        if extras.sni is not None:
            parse_sni(extras.sni)
        if extras.ca_file is not None:
            extras.tls.context()  # an unreadable ca-file first, as HAProxy reports it
    except TLSConfigError as exc:
        raise ValueError(where + str(exc)) from None
    tls = extras.ssl or extras.check_ssl
    if tls and extras.verify == "required" and not extras.ca_file:
        if default_verify == "none":
            raise ValueError(where + "verify is enabled but no CA file specified.")
        raise ValueError(
            where + "verify is enabled by default but no CA file specified. If you're "
            "running on a LAN where you're certain to trust the server's certificate, "
            "please set an explicit 'verify none' statement on the 'server' line, or use "
            "'ssl-server-verify none' in the global section to disable server-side "
            "verifications by default."
        )
    if tls and extras.ca_file is None:
        try:
            extras.tls.context()  # a bad crt, cipher list or version range
        except TLSConfigError as exc:
            raise ValueError(where + str(exc)) from None


def _h_default_server(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    p.settings.default_server = parse_server_params(
        stmt.args,
        p.settings.default_server,
        b.global_.ca_base,
        b.notes(stmt),
        crt_base=b.global_.crt_base,
    )


def _h_balance(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    if not stmt.args:
        # HAProxy 2.6 reads a bare `balance` as roundrobin.
        b.warn("'balance' without an algorithm is read as 'balance roundrobin'", stmt)
        stmt = replace(stmt, args=("roundrobin",))
    elif stmt.args[0] in _NO_OPTION_ALGORITHMS and len(stmt.args) > 1:
        # HAProxy 2.6 reads no option for these and ignores what follows.
        extra = " ".join(stmt.args[1:])
        message = f"'balance {stmt.args[0]}': ignoring extra words '{extra}', as HAProxy 2.6 does"
        b.warn(message, stmt)
        stmt = replace(stmt, args=stmt.args[:1])
    parse_balance(" ".join(stmt.args))  # fail here, at this line, on a bad algorithm
    p.settings.balance = stmt


_NO_OPTION_ALGORITHMS = frozenset({"roundrobin", "static-rr", "leastconn", "first", "source"})


def _h_hash_type(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    if not stmt.args:
        raise ValueError("'hash-type' expects map-based, consistent or maglev")
    parse_hash_type(" ".join(stmt.args))
    p.settings.hash_type = stmt


def _h_hash_balance_factor(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    value = _one_int(stmt, 0)
    if value and value <= 100:
        raise ValueError(f"hash-balance-factor {value} must be 0 (off) or greater than 100")
    p.settings.hash_balance_factor = value


def _h_random(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    p.random_draw = stmt


def _h_retry_on(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    p.settings.retry_on = parse_retry_on(stmt.args)


def _h_dynamic_cookie_key(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    if not stmt.args:
        raise ValueError("'dynamic-cookie-key' expects <secret_key> as argument.")
    p.settings.dynamic_cookie_key = stmt.args[0]


def _h_cookie(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    def seconds(word: str) -> float:
        return b.time(word, stmt, "s", MAX_SECONDS_MS)

    p.settings.cookie = parse_cookie_keyword(stmt.args, seconds)


def _h_retries(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    p.settings.retries = b._count(stmt)


def _h_load_server_state(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    where = stmt.args[0] if stmt.args else ""
    if where not in ("global", "local", "none"):
        raise ValueError(f"'{stmt.keyword}' expects 'global', 'local' or 'none'. Got '{where}'")
    if where == "global" and b.global_.server_state_file is None and p.kind != "defaults":
        b.warn(
            f"backend '{p.name}' configured to load server state file from global section "
            "'server-state-file' directive. Unfortunately, 'server-state-file' is not set!",
            stmt,
        )
    p.settings.load_server_state = where


def _h_server_state_file_name(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    name = stmt.args[0] if stmt.args else ""
    p.settings.server_state_file_name = None if name in ("", "use-backend-name") else name


def _h_monitor_uri(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    if not stmt.args:
        raise ValueError("'monitor-uri' expects an URI.")
    if len(stmt.args) > 1:
        raise ValueError(f"'monitor-uri' cannot handle unexpected argument '{stmt.args[1]}'.")
    p.settings.monitor_uri = stmt.args[0]


def _h_monitor(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    """`monitor fail if|unless <cond>`: the monitor URI answers 503 when it holds."""
    words = list(stmt.args)
    if words[:1] != ["fail"]:
        raise ValueError("'monitor' only supports 'fail'.")
    if len(words) < 2 or words[1] not in ("if", "unless"):
        raise ValueError("'monitor fail' requires either 'if' or 'unless' followed by a condition.")
    p.monitor_fail.append(p.acls.condition(words[1:], file=stmt.file, line=stmt.line))


def _h_fullconn(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    if not stmt.args:
        raise ValueError("'fullconn' expects an integer argument.")
    p.settings.fullconn = b._count(stmt)


def _check_place(kind: str, stmt: Statement) -> str:
    """Where a statement's condition runs, as HAProxy names it in its warnings
    (sample.c's fetch_ckp_names, the first place of the proxy's capabilities)."""
    side = "backend" if kind == "backend" else "frontend"
    key = stmt.keyword
    if key == "use_backend":
        return "frontend use-backend rule"
    if key in ("use-server", "stick"):
        if stmt.args[:1] == ("store-response",):
            return "backend stick-store rule"
        return "backend use-server, balance or stick-match rule"
    if key in ("force-persist", "ignore-persist"):
        return "backend tcp-request content rule"
    if key == "tcp-response content":
        return "backend tcp-response content rule"
    if key in ("http-response", "http-after-response"):
        return f"{side} http-response header rule"
    if key.startswith("tcp-request "):
        rule = key.split()[1]
        return f"{side if rule == 'content' else 'frontend'} tcp-request {rule} rule"
    return f"{side} http-request header rule"


def _h_default_backend(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    _one(stmt)
    p.settings.default_backend = stmt


def _h_persist_rule(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    words = list(stmt.args)
    if not words or words[0] not in ("if", "unless"):
        raise ValueError(
            f"'{stmt.keyword}' requires either 'if' or 'unless' followed by a condition"
        )
    condition = p.acls.condition(words, file=stmt.file, line=stmt.line)
    p.persist_rules.append(
        PersistRule("force" if stmt.keyword == "force-persist" else "ignore", condition)
    )


def _h_use_server(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    """`use-server <name> if|unless <cond>` (cfgparse-listen.c); the name is checked
    against the servers once the proxy is read (`_server_rules`)."""
    words = list(stmt.args)
    if not words:
        raise ValueError("'use-server' expects a server name.")
    if len(words) < 2 or words[1] not in ("if", "unless"):
        raise ValueError("'use-server' requires either 'if' or 'unless' followed by a condition.")
    try:
        name = parse_log_format(words[0], p.acls.context)
    except ValueError as error:
        raise ValueError(
            f"use-server rule failed to parse log-format '{words[0]}' : {error}."
        ) from None
    condition = p.acls.condition(words[1:], file=stmt.file, line=stmt.line)
    p.server_rules.append((ServerRule(name, condition), stmt))


def _server_rules(p: _Proxy, errors: list[ConfigError]) -> tuple[ServerRule, ...]:
    """The rules, each plain name naming one of the proxy's servers (HAProxy's error)."""
    names = {server.name for server, _extras, _stmt in p.servers}
    kind = "proxy" if p.kind == "listen" else p.kind
    for rule, stmt in p.server_rules:
        name = rule.static_name
        if name is not None and name not in names:
            errors.append(
                ConfigError(
                    f"{kind} '{p.name}' : unable to find server '{name}' referenced in a "
                    "'use-server' rule.",
                    stmt.file,
                    stmt.line,
                )
            )
    return tuple(rule for rule, _stmt in p.server_rules)


def _stick_table_name(args: tuple[str, ...], proxy: str) -> str:
    """The table a `stick` line names (`table T`), else its proxy's."""
    return args[args.index("table") + 1] if "table" in args[:-1] else proxy


#: The sample types each kind of table key can be cast from (sample.c's
#: sample_casts, as stktable_compatible_sample checks them at load).
_ALL_TYPES = frozenset(("bool", "sint", "ipv4", "ipv6", "str", "bin", "meth"))
_TABLE_KEY_SOURCES = {
    "ip": frozenset(("sint", "ipv4", "ipv6", "str")),
    "ipv6": frozenset(("sint", "ipv4", "ipv6", "str")),
    "integer": frozenset(("bool", "sint", "ipv4", "str")),
    "string": _ALL_TYPES,
    "binary": _ALL_TYPES,
}


def _h_stick(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    words = list(stmt.args)
    kind = words[0] if words else ""
    if kind not in ("on", "match", "store-request", "store-response"):
        raise ValueError(
            f"'stick' expects 'on', 'match', 'store-request' or 'store-response', but got '{kind}'"
        )
    what = f"stick {kind}"
    sample, name, cond = parse_keyed_rule(
        words[1:],
        p.acls,
        what,
        file=stmt.file,
        line=stmt.line,
        response=kind == "store-response",
    )
    table = b.tables.get(name)
    if table is None:
        raise ValueError(f"Proxy '{p.name}': unable to find stick-table '{name}'.")
    if sample.out_type not in _TABLE_KEY_SOURCES[table.key_type.kind]:
        raise ValueError(
            f"Proxy '{p.name}': type of fetch not usable with type of stick-table '{name}'."
        )
    p.stick_rules.append(
        StickRule(kind, sample, table, cond, stmt.file, stmt.line)  # type: ignore[arg-type]
    )


def _h_use_backend(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    if not stmt.args:
        raise ValueError("'use_backend' expects a backend name")
    ub = parse_use_backend(list(stmt.args), p.acls, file=stmt.file, line=stmt.line)
    p.use_backends.append((ub, stmt))


def _h_acl(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    p.acls.define(list(stmt.args), file=stmt.file, line=stmt.line, base_dir=b.base_dir)


def _h_http_request(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    rule = parse_http_request_rule(list(stmt.args), p.acls, file=stmt.file, line=stmt.line)
    if rule.action == "normalize-uri" and not b.global_.experimental:
        raise ValueError(
            "'normalize-uri' action is experimental, must be allowed via a global "
            "'expose-experimental-directives'"
        )
    if rule.action == "auth" and rule.realm is None:
        rule = replace(rule, realm=p.name)  # HAProxy's default realm: the proxy's name
    if rule.action == "capture":
        rule = _capture_slot(p, rule, "request")
    p.http_rules.append(rule)


def _h_http_response(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    after = stmt.keyword == "http-after-response"
    rule = parse_http_response_rule(
        list(stmt.args), p.acls, after=after, file=stmt.file, line=stmt.line
    )
    if rule.action == "capture":
        rule = _capture_slot(p, rule, "response")
    (p.http_after_response_rules if after else p.http_response_rules).append(rule)


def _capture_slot(p: _Proxy, rule: HttpRule, direction: str) -> HttpRule:
    """A `capture` rule's slot: a new one for `len` (the frontend's next, in the order
    of the capture lines), else the declared slot `id` names, whose length it takes.
    A backend's `id` is the frontend's slot, checked when the request runs."""
    slots = [c for c in p.captures if c.direction == direction]
    side = f"http-{direction}"
    if rule.index < 0:
        if p.kind in ("backend", "defaults"):
            raise ValueError(f"'{side} capture' rule : proxy '{p.name}' has no frontend capability")
        p.captures.append(Capture(direction, None, rule.number))  # type: ignore[arg-type]
        return replace(rule, index=len(slots))
    if p.kind == "backend":
        return replace(rule, number=1 << 16)  # (HAProxy's slots are never larger)
    if rule.index >= len(slots):
        raise ValueError(
            f"unable to find capture id '{rule.index}' referenced by {side} capture rule"
        )
    return replace(rule, number=slots[rule.index].length)


def _h_declare(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    """`declare capture request|response len <n>` (proxy_parse_declare)."""
    args = stmt.args
    if not args or args[0] not in ("request", "response"):
        raise ValueError("'declare capture' requires a direction ('request' or 'response')")
    if len(args) < 2 or args[1] != "len":
        raise ValueError("'declare capture' requires a capture length ('len')")
    if len(args) < 3:
        raise ValueError(
            "'declare capture': 'len' requires a numeric value that represents the capture length"
        )
    if not args[2].isdigit():
        raise ValueError(f"'declare capture': cannot parse the length '{args[2]}'.")
    if int(args[2]) <= 0:
        raise ValueError("length must be > 0")
    p.captures.append(Capture(args[0], None, int(args[2])))  # type: ignore[arg-type]


def _h_redirect(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    rule = parse_redirect(list(stmt.args), p.acls, file=stmt.file, line=stmt.line)
    p.redirects.append(rule)


def _h_tcp_request(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    words = [stmt.keyword.split()[1], *stmt.args]
    rule = parse_tcp_request_rule(words, p.acls, file=stmt.file, line=stmt.line)
    if words[0] in ("connection", "session"):
        p.tcp_connection_rules.append(rule)
    else:
        p.tcp_content_rules.append(rule)


def _h_inspect_delay(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    p.tcp_inspect_delay = b.time(_one(stmt), stmt)


def _h_tcp_response(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    rule = parse_tcp_response_rule(list(stmt.args), p.acls, file=stmt.file, line=stmt.line)
    p.tcp_response_rules.append(rule)


def _h_response_delay(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    p.tcp_response_delay = b.time(_one(stmt), stmt)


def _h_errorfile(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    _set_page(p.settings, *_read_errorfile(b, stmt))


def _h_http_error(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    _set_page(p.settings, *http_error_page(stmt.args, p.acls, file=stmt.file, line=stmt.line))


def _set_page(settings: _Settings, code: int, content: bytes | None) -> None:
    """A proxy's page for `code` (None: the built-in one again)."""
    if content is None:
        settings.errorfiles.pop(code, None)
    else:
        settings.errorfiles[code] = content


def _read_errorfile(b: _Builder, stmt: Statement) -> tuple[int, bytes | None]:
    """`errorfile <code> <file>` (in a proxy or an `http-errors` section): the code and
    the file's bytes, None for a missing stock page (the built-in one is used)."""
    if len(stmt.args) != 2:
        raise ValueError("'errorfile' expects <code> and <file>")
    code_text, path = stmt.args
    if not code_text.isdigit() or int(code_text) not in ERRORFILE_CODES:
        raise ValueError(
            f"errorfile: status code '{code_text}' cannot be customized (allowed: "
            + ", ".join(map(str, ERRORFILE_CODES))
            + ")"
        )
    code = int(code_text)
    full = path if os.path.isabs(path) else os.path.join(b.base_dir, path)
    try:
        with open(full, "rb") as handle:
            content = handle.read()
    except FileNotFoundError:
        if path.startswith(_STOCK_ERRORFILES):
            b.warn(
                f"errorfile {code}: '{path}' not found; balancekit's built-in {code} page is "
                "used instead (HAProxy's stock error files hold the same pages)",
                stmt,
            )
            return code, None
        raise ValueError(f"errorfile {code}: error opening file '{path}'") from None
    except OSError as error:
        raise ValueError(f"errorfile {code}: cannot read '{path}': {error.strerror}") from None
    # An empty file is valid (HAProxy's http_str_to_htx): the status then closes the
    # connection without an answer (the `errorfile 408 /dev/null` idiom).
    if content and not content.startswith(b"HTTP/"):
        raise ValueError(
            f"errorfile {code}: '{path}' is not an HTTP response (it must start with the "
            "status line, e.g. 'HTTP/1.1 503 Service Unavailable')"
        )
    return code, content


def _h_errorloc(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    """`errorloc[302|303] <code> <url>`: the status answered by a redirect to <url>
    (http_parse_errorloc's message, byte for byte)."""
    if len(stmt.args) < 2:
        raise ValueError(f"{stmt.keyword} : expects <status_code> and <url> as arguments.")
    code, url = c_atol(stmt.args[0]), stmt.args[1]
    if code not in ERRORFILE_CODES:
        raise ValueError(f"{stmt.keyword} : status code '{code}' not handled.")
    line = "HTTP/1.1 303 See Other" if stmt.keyword == "errorloc303" else "HTTP/1.1 302 Found"
    p.settings.errorfiles[code] = (
        f"{line}\r\nCache-Control: no-cache\r\nContent-length: 0\r\nLocation: {url}\r\n\r\n"
    ).encode("latin-1")


def _h_errorfiles(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    """`errorfiles <name> [<code> …]`: the pages of an `http-errors` section (all, or
    the codes listed) replace the proxy's, in the order of the lines."""
    if not stmt.args:
        raise ValueError("errorfiles : expects <name> as argument.")
    name, codes = stmt.args[0], stmt.args[1:]
    for text in codes:
        if not text.isdigit() or int(text) not in ERRORFILE_CODES:
            raise ValueError(f"errorfiles : status code '{text}' not handled.")
    pages = b.http_errors.get(name)
    if pages is None:
        raise ValueError(f"proxy '{p.name}': unknown http-errors section '{name}'.")
    for code in map(int, codes) if codes else list(pages):
        if code not in pages:
            b.warn(
                f"proxy '{p.name}' : status '{code}' not declared in http-errors section '{name}'",
                stmt,
            )
            continue
        _set_page(p.settings, code, pages[code])


@functools.cache
def _httpslog_line() -> LogLine:
    """`option httpslog`'s line, compiled once."""
    return compile_log_line(HTTPSLOG_FORMAT)


def _h_log_format(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    text = " ".join(stmt.args)
    p.settings.options["httpslog"] = False  # the last format line wins
    p.settings.log_line = compile_log_line(text)  # a bad one fails -c here, at its line
    p.settings.log_format = text


def _h_unique_id(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    """`unique-id-format <fmt>` / `unique-id-header <name>` (cfgparse-listen.c); the
    format reads the request as the rules leave it, spaces merged as in log lines."""
    if not stmt.args:
        raise ValueError(f"{stmt.keyword} expects an argument.")
    if len(stmt.args) > 1:
        raise ValueError(
            f"{stmt.keyword} expects only one argument, don't forget to escape spaces!"
        )
    if stmt.keyword == "unique-id-header":
        p.settings.unique_id_header = stmt.args[0]
        return
    try:
        p.settings.unique_id_format = parse_log_format(
            stmt.args[0], p.acls.context, merge_spaces=True
        )
    except ValueError as error:
        raise ValueError(f"failed to parse unique-id : {error}.") from None


def _h_capture(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    direction = stmt.keyword.split()[1]
    args = stmt.args
    if len(args) != 3 or args[1] != "len":
        raise ValueError(f"'{stmt.keyword}' expects <name> len <length>")
    length = parse_size(args[2])
    if length == 0:
        raise ValueError(f"'{stmt.keyword}': len must be greater than 0")
    p.captures.append(Capture(direction, args[0], length))  # type: ignore[arg-type]


def _h_http_check_send(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    base = p.settings.httpchk or HttpCheck()
    fields: dict[str, Any] = {}
    headers = list(base.headers)
    rest = list(stmt.args)
    while rest:
        key = rest.pop(0)
        if key == "hdr":
            if len(rest) < 2:
                raise ValueError("http-check send: 'hdr' expects <name> <value>")
            headers.append((rest.pop(0), rest.pop(0)))
            continue
        names = {"meth": "method", "uri": "uri", "ver": "version", "body": "body"}
        if key not in names:
            raise ValueError(f"http-check send: unknown option '{key}' (meth, uri, ver, hdr, body)")
        if not rest:
            raise ValueError(f"http-check send: '{key}' expects a value")
        fields[names[key]] = rest.pop(0)
    p.settings.httpchk = replace(base, headers=tuple(headers), **fields)


def _leveled(compression: Compression | None, global_: Global) -> Compression | None:
    """A proxy's `compression` lines with the global `tune.comp.maxlevel`."""
    if compression is None:
        return None
    return replace(compression, level=global_.tune_comp_maxlevel)


def _h_filter(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    """`filter cache <name>` or `filter compression`: HAProxy's filters are declared
    implicitly by `cache-use`/`cache-store` rules and `compression` lines; naming
    them only fixes their order, which must put every cache before compression."""
    if stmt.keyword == "filter compression":
        p.filters.append(("", stmt))
        return
    if not stmt.args:
        raise ValueError("cache : expects a <name> argument")
    name = stmt.args[0]
    if any(cache == name for cache, _ in p.filters):
        raise ValueError(
            f"{p.section.name}: multiple explicit declarations of the cache filter '{name}'"
        )
    p.filters.append((name, stmt))


def _check_filters(p: _Proxy) -> None:
    """cache_store_check: an explicit cache filter names a `cache` section, and no
    cache filter (explicit, or implicit at the first rule naming its cache) comes
    after an explicit compression filter."""
    kind, proxy = p.section.kind, p.section.name
    for name, stmt in p.filters:
        if name and name not in p.acls.context.caches:
            raise ConfigError(
                f"config: {kind} '{proxy}': unable to find the cache '{name}' "
                "referenced by the filter 'cache'.",
                stmt.file,
                stmt.line,
            )
    # (line, cache name or "" for compression, file), in the order HAProxy lists them.
    order = [(stmt.line, name, stmt.file) for name, stmt in p.filters]
    explicit = {name for name, _ in p.filters if name}
    implicit: set[str] = set()
    for rule in sorted(p.http_rules + p.http_response_rules, key=lambda r: r.line):
        if rule.cache is not None and rule.cache.config.name not in explicit | implicit:
            implicit.add(rule.cache.config.name)
            order.append((rule.line, rule.cache.config.name, rule.file))
    compression_seen = False
    for line, name, file in sorted(order):
        if not name:
            compression_seen = True
        elif compression_seen:
            raise ConfigError(
                f"config: {kind} '{proxy}': unable to enable the compression filter "
                f"before the cache '{name}'.",
                file,
                line,
            )


def _h_compression(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    """`compression algo|type|offload …`, with HAProxy's messages; each word goes in
    front of the list, as comp_append_algo/comp_append_type put it."""
    what = stmt.keyword.split(" ", 1)[1]
    current = p.settings.compression or Compression()
    if what == "offload":
        if p.kind == "defaults":
            b.warn("'compression' : 'offload' ignored in 'defaults' section.", stmt)
        p.settings.compression = replace(current, offload=True)
        return
    if not stmt.args:
        raise ValueError(
            "'compression' expects <algorithm>."
            if what == "algo"
            else "'compression' expects <type>."
        )
    if what == "algo":
        for algo in stmt.args:
            if algo not in COMPRESSION_ALGORITHMS:
                raise ValueError(f"'compression' : '{algo}' is not a supported algorithm.")
        current = replace(current, algos=(*reversed(stmt.args), *current.algos))
    else:
        current = replace(current, types=(*reversed(stmt.args), *current.types))
    p.settings.compression = current


def _h_tcp_check(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    """`tcp-check <action> …`: a step of the proxy's ruleset (a defaults section's
    steps are its proxies' until they write their own)."""
    lines = p.settings.tcp_check_lines if p.kind == "defaults" else p.tcp_check_lines
    args = (stmt.keyword.split(" ", 1)[1], *stmt.args)
    lines.append(parse_rule(args, len(lines), tuple(lines), p.acls.context))


def _h_http_check_disable_404(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    if stmt.args:
        raise ValueError(f"'http-check disable-on-404' takes no argument, got '{stmt.args[0]}'")
    p.settings.http_check_disable_404 = True


def _h_http_check_connect(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    """`http-check connect …`: the options of `tcp-check connect`.  HAProxy runs
    several connect/send/expect sequences; balancekit runs one, so a second
    `connect` is named as unsupported rather than ignored."""
    if p.own_http_check_connect:
        raise ValueError(
            "a second 'http-check connect' is an HAProxy feature (several check "
            "sequences) that balancekit does not support; see docs/health.md"
        )
    try:
        rule = parse_rule(("connect", *stmt.args), 0)
    except ValueError as exc:
        raise ValueError(str(exc).replace("'tcp-check connect'", "'http-check connect'")) from None
    assert isinstance(rule, TcpConnect)
    p.settings.http_check_connect = rule
    p.own_http_check_connect = True


def _h_http_check_send_state(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    if stmt.args:
        raise ValueError(f"'http-check send-state' takes no argument, got '{stmt.args[0]}'")
    p.settings.http_check_send_state = True


def _h_http_check_expect(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    args = list(stmt.args)
    negate = bool(args) and args[0] == "!"
    if negate:
        args.pop(0)
    kinds = ("status", "rstatus", "string", "rstring")
    if len(args) != 2 or args[0] not in kinds:
        raise ValueError("http-check expect: expects [!] status|rstatus|string|rstring <pattern>")
    if args[0] == "rstatus" or args[0] == "rstring":
        try:
            re.compile(args[1])
        except re.error as error:
            raise ValueError(f"http-check expect: bad regex '{args[1]}': {error}") from None
    p.settings.http_check_expect.append(
        HttpCheckExpect(args[0], args[1], negate, stmt.file, stmt.line)  # type: ignore[arg-type]
    )


def _h_external_check(b: _Builder, p: _Proxy, stmt: Statement) -> None:
    """`external-check command <cmd>` / `external-check path <path>`: one argument."""
    what = stmt.keyword.split(" ", 1)[1]
    if len(stmt.args) != 1:
        raise ValueError(f"'external-check {what}' expects one argument.")
    if what == "command":
        p.settings.external_check_command = stmt
    else:
        p.settings.external_check_path = stmt


_HANDLERS: dict[str, Callable[[_Builder, _Proxy, Statement], None]] = {
    "external-check command": _h_external_check,
    "external-check path": _h_external_check,
    "mode": _h_mode,
    "description": _h_description,
    "stick-table": lambda b, p, stmt: None,  # built before the proxies (build_tables)
    "log": _h_log,
    "maxconn": _h_maxconn,
    "id": _h_id,
    "backlog": _h_backlog,
    **{
        f"{side}tcpka-{what}": _h_tcpka
        for side in ("cli", "srv")
        for what in ("cnt", "idle", "intvl")
    },
    "bind": _h_bind,
    "server": _h_server,
    "server-template": _h_server_template,
    "default-server": _h_default_server,
    "balance": _h_balance,
    "hash-type": _h_hash_type,
    "hash-balance-factor": _h_hash_balance_factor,
    "random": _h_random,
    "retries": _h_retries,
    "fullconn": _h_fullconn,
    "monitor-uri": _h_monitor_uri,
    "unique-id-format": _h_unique_id,
    "unique-id-header": _h_unique_id,
    "monitor": _h_monitor,
    "load-server-state-from-file": _h_load_server_state,
    "server-state-file-name": _h_server_state_file_name,
    "cookie": _h_cookie,
    "dynamic-cookie-key": _h_dynamic_cookie_key,
    "force-persist": _h_persist_rule,
    "stick": _h_stick,
    "use-server": _h_use_server,
    "ignore-persist": _h_persist_rule,
    "retry-on": _h_retry_on,
    "default_backend": _h_default_backend,
    "use_backend": _h_use_backend,
    "acl": _h_acl,
    "http-request": _h_http_request,
    "http-response": _h_http_response,
    "http-after-response": _h_http_response,
    "redirect": _h_redirect,
    "tcp-request connection": _h_tcp_request,
    "tcp-request session": _h_tcp_request,
    "tcp-request content": _h_tcp_request,
    "tcp-request inspect-delay": _h_inspect_delay,
    "tcp-response content": _h_tcp_response,
    "tcp-response inspect-delay": _h_response_delay,
    "errorfile": _h_errorfile,
    "http-error": _h_http_error,
    "errorfiles": _h_errorfiles,
    "errorloc": _h_errorloc,
    "errorloc302": _h_errorloc,
    "errorloc303": _h_errorloc,
    "log-format": _h_log_format,
    "capture request header": _h_capture,
    "declare capture": _h_declare,
    "capture response header": _h_capture,
    "http-check send": _h_http_check_send,
    "http-check expect": _h_http_check_expect,
    "http-check disable-on-404": _h_http_check_disable_404,
    "http-check send-state": _h_http_check_send_state,
    "http-check connect": _h_http_check_connect,
    **{f"tcp-check {action}": _h_tcp_check for action in TCP_CHECK_ACTIONS},
    **{f"compression {what}": _h_compression for what in ("algo", "type", "offload")},
    "filter cache": _h_filter,
    "filter compression": _h_filter,
}


# -- small parsers -------------------------------------------------------------------------


def _redispatch_interval(args: tuple[str, ...]) -> int:
    """HAProxy's `option redispatch [<interval>]`: -1 (the last retry) when omitted.

    HAProxy reads the interval with atol(): a leading integer, else 0 (which turns
    redispatching off), and ignores further words; so does this.
    """
    if not args:
        return -1
    match = re.match(r"\s*[-+]?\d+", args[0])
    return int(match.group()) if match else 0


def _one(stmt: Statement) -> str:
    if len(stmt.args) != 1:
        got = "nothing" if not stmt.args else f"'{' '.join(stmt.args)}'"
        raise ValueError(f"'{stmt.keyword}' expects exactly one argument, got {got}")
    return stmt.args[0]


def _one_int(stmt: Statement, low: int) -> int:
    word = _one(stmt)
    if not word.isdigit() or int(word) < low:
        raise ValueError(f"'{stmt.keyword}' expects an integer >= {low}, got '{word}'")
    return int(word)


def _cipher_list(ciphers: str, keyword: str) -> str:
    """An OpenSSL cipher list, checked now so `-c` reports a bad one at its line."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).set_ciphers(ciphers)
    except ssl.SSLError:
        raise ValueError(f"{keyword}: no usable cipher in '{ciphers}'") from None
    return ciphers


def _openssl_list(value: str, keyword: str, *, curves: bool = False) -> str:
    """TLS 1.3 cipher suites (or, with `curves`, key exchange groups), checked now
    as `_cipher_list` does."""
    suites, groups = (None, value) if curves else (value, None)
    try:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        apply_options(context, None, (), ciphersuites=suites, curves=groups)
    except TLSConfigError as exc:
        raise ValueError(f"{keyword}: {exc}") from None
    return value


def _ssl_options(args: tuple[str, ...], keyword: str) -> tuple[str, ...]:
    """`ssl-default-bind-options` / `ssl-default-server-options`: the words a bind
    line takes for its versions and flags."""
    out: list[str] = []
    rest = list(args)
    while rest:
        word = rest.pop(0)
        if word in ("ssl-min-ver", "ssl-max-ver"):
            if not rest or rest[0] not in TLS_VERSIONS:
                raise ValueError(f"'{word}' expects one of {', '.join(TLS_VERSIONS)}")
            out.append(f"{word} {rest.pop(0)}")
        elif word in TLS_FLAGS:
            out.append(word)
        else:
            raise ValueError(f"{keyword}: unknown option '{word}'")
    return tuple(out)


def _forwardfor(args: tuple[str, ...], option: str = "forwardfor") -> ForwardFor:
    """`option forwardfor|originalto [except <net>] [header <name>]` (`if-none`:
    forwardfor only)."""
    header = "X-Forwarded-For" if option == "forwardfor" else "X-Original-To"
    except_net, if_none = None, False
    rest = list(args)
    while rest:
        word = rest.pop(0)
        if word in ("except", "header"):
            if not rest:
                raise ValueError(f"option {option}: '{word}' expects a value")
            value = rest.pop(0)
            if word == "header":
                header = value
            else:
                try:
                    ipaddress.ip_network(value, strict=False)
                except ValueError:
                    raise ValueError(
                        f"option {option}: except expects a network, got '{value}'"
                    ) from None
                except_net = value
        elif word == "if-none" and option == "forwardfor":
            if_none = True
        else:
            raise ValueError(f"option {option}: unknown argument '{word}'")
    return ForwardFor(header, except_net, if_none)


def _httpchk(args: tuple[str, ...]) -> HttpCheck:
    if len(args) > 3:
        raise ValueError("option httpchk: expects at most <method> <uri> <version>")
    if len(args) == 1:
        return HttpCheck(uri=args[0])
    if len(args) == 2:
        return HttpCheck(method=args[0], uri=args[1])
    if len(args) == 3:
        return HttpCheck(method=args[0], uri=args[1], version=args[2])
    return HttpCheck()


def _mysql_check(args: tuple[str, ...]) -> str | None:
    if not args:
        return ""  # handshake-only check: "" (not None, which means no mysql-check)
    if args[0] != "user" or len(args) < 2:
        raise ValueError("option mysql-check: expects [user <username> [post-41]]")
    if len(args) > 3 or (len(args) == 3 and args[2] != "post-41"):
        raise ValueError(f"option mysql-check: unexpected '{args[-1]}'")
    return args[1]


def _cache_setting(sizes: dict[str, int], stmt: Statement) -> None:
    """One line of a `cache` section, with cfg_parse_cache's checks."""
    name = stmt.keyword
    if len(stmt.args) > 1:
        raise ValueError(f"'{name}' cannot handle unexpected argument '{stmt.args[1]}'.")
    value = stmt.args[0] if stmt.args else ""
    if name == "process-vary":
        if value not in ("on", "off"):
            raise ValueError(
                f'\'{name}\' expects "on" or "off" (enable or disable vary processing).'
            )
        sizes[name] = value == "on"
        return
    if name == "max-age":
        sizes[name] = max(c_atol(value), 0)  # (atoi(); a negative age keeps nothing)
        return
    if not value.isdigit() or (name == "max-secondary-entries" and int(value) == 0):
        raise ValueError(f"{name} wrong value '{value}'")
    if name == "total-max-size" and int(value) > 0xFFFFFFFF >> 20:
        raise ValueError(f'"total-max-size" ({value}) must not be greater than {0xFFFFFFFF >> 20}')
    sizes[name] = int(value)


def _pgsql_check(args: tuple[str, ...]) -> str:
    """`option pgsql-check user <name>`, with HAProxy's messages."""
    if len(args) > 2:
        raise ValueError(f"'option pgsql-check' cannot handle unexpected argument '{args[2]}'.")
    if len(args) < 2:
        raise ValueError("'option pgsql-check' expects 'user <username>' as argument.")
    if args[0] != "user":
        raise ValueError("'option pgsql-check' only supports optional values: 'user'.")
    return args[1]


def _stats_page(s: _Settings) -> StatsPage | None:
    if s.stats is None:
        return None
    return StatsPage(
        admin=tuple(s.stats.get("admin", ())),
        rules=tuple(s.stats.get("http-request", ())),
        scope=tuple(s.stats.get("scope", ())),
        uri=s.stats.get("uri", "/haproxy?stats"),
        auth=tuple(s.stats.get("auth", ())),
        realm=s.stats.get("realm"),
        refresh=s.stats.get("refresh"),
        hide_version=s.stats.get("hide-version", False),
        show_node=s.stats.get("show-node"),
        show_desc=s.stats.get("show-desc"),
        show_legends=s.stats.get("show-legends", False),
    )


_NODE_CHARS = re.compile(r"[A-Za-z0-9_.-]+")


def _node_name(name: str, what: str) -> str:
    if not _NODE_CHARS.fullmatch(name):
        raise ValueError(
            f"{what} - non-empty string with digits(0-9), letters(A-Z, a-z), dot(.), "
            "hyphen(-) or underscore(_)"
        )
    return name


def _description(stmt: Statement) -> str:
    """`description` joins its words with single spaces, as HAProxy does."""
    if not stmt.args:
        raise ValueError(f"'{stmt.keyword}' expects a string argument.")
    return " ".join(stmt.args)


def _close_name(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


@dataclass(slots=True)
class _UserlistLines:
    """The `user` and `group` lines of one userlist (cfg_parse_users), read before
    the membership both sides declare is checked (build_userlist)."""

    section: Section
    users: list[tuple[str, str, bool, tuple[str, ...]]] = field(default_factory=list)
    groups: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    warnings: list[ConfigWarning] = field(default_factory=list)

    def add(self, stmt: Statement) -> None:
        if not stmt.args:
            raise ValueError(f"'{stmt.keyword}' expects <name> as arguments.")
        name, options = stmt.args[0], stmt.args[1:]
        known = (
            {u for u, _, _, _ in self.users}
            if stmt.keyword == "user"
            else {g for g, _ in self.groups}
        )
        if name in known:
            self.warnings.append(
                ConfigWarning(
                    f"ignoring duplicated {stmt.keyword} '{name}' in userlist "
                    f"'{self.section.name}'",
                    stmt.file,
                    stmt.line,
                )
            )
            return
        pairs = [
            (options[i], options[i + 1] if i + 1 < len(options) else "")
            for i in range(0, len(options), 2)
        ]
        if stmt.keyword == "group":
            if any(option != "users" for option, _ in pairs):
                raise ValueError("'group' only supports 'users' option.")
            self.groups.append((name, _comma_list(pairs[-1][1] if pairs else "")))
            return
        password, insecure, groups = "", False, ""
        for option, value in pairs:
            if option == "password":
                password = value
            elif option == "insecure-password":
                password, insecure = value, True
            elif option == "groups":
                groups = value
            else:
                raise ValueError(
                    "'user' only supports 'password', 'insecure-password' and 'groups' options."
                )
        if not insecure:
            self._check_hash(name, password, stmt)
        self.users.append((name, password, insecure, _comma_list(groups)))

    def _check_hash(self, user: str, password: str, stmt: Statement) -> None:
        try:
            usable = crypt("", password) is not None
        except CryptUnavailable as error:
            self.warnings.append(
                ConfigWarning(f"{error}: encrypted passwords will not work", stmt.file, stmt.line)
            )
            return
        if not usable:
            self.warnings.append(
                ConfigWarning(
                    f"the encrypted password of user '{user}' is not a hash crypt(3) "
                    "knows: it never matches",
                    stmt.file,
                    stmt.line,
                )
            )


def _comma_list(text: str) -> tuple[str, ...]:
    return tuple(word for word in text.split(",") if word)


def build(
    parsed: ParsedConfig,
    errors: list[ConfigError],
    warnings: list[ConfigWarning],
    *,
    base_dir: str | None = None,
    local_peer: str | None = None,
) -> Config:
    """Build runtime objects from `parsed`; append problems to `errors` / `warnings`.

    `local_peer` is this process's peer name when given on the command line (`-L`).

    `base_dir` is where relative `errorfile` and ACL `-f` paths are found
    (HAProxy: the current directory).
    """
    builder = _Builder(parsed, errors, warnings, base_dir or os.getcwd(), local_peer)
    for section in parsed.sections:
        if section.kind == "global":
            builder.build_global(section)
    # Userlists first: an ACL may name one declared further down (HAProxy resolves
    # them once the whole file is read).
    builder.build_userlists([s for s in parsed.sections if s.kind == "userlist"])
    builder.build_peers([s for s in parsed.sections if s.kind == "peers"])
    builder.build_caches([s for s in parsed.sections if s.kind == "cache"])
    builder.build_resolvers([s for s in parsed.sections if s.kind == "resolvers"])
    builder.build_http_errors([s for s in parsed.sections if s.kind == "http-errors"])
    builder.build_tables([s for s in parsed.sections if s.is_proxy])
    for index, section in enumerate(parsed.sections):
        if section.kind not in ("global", "userlist", "peers", "cache", "http-errors", "resolvers"):
            builder.build_proxy(index, section)
    return builder.finish()
