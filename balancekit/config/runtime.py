"""The runtime model: what the front ends consume after a config is loaded.

Everything here is a frozen value except the `balancekit.Backend` inside each
`BackendRuntime` (it holds the live pool state) and H3's compiled `Router`.
Times are seconds as `float`; `None` means "not set" (HAProxy: no timeout).
Every object that comes from a line keeps `file` and `line` so that runtime
messages can point back at the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from ssl import SSLContext
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from ..acl.logformat import LogFormat
from ..acl.patref import PatRefs
from ..compression import Compression
from ..logline import LogLine
from ..persistence import CookiePolicy, DynamicCookies, PersistRule
from ..pool import Backend
from ..resolvers import Resolvers
from ..server_rules import ServerRule
from ..sticking import StickRule
from ..sticktables import StickTable
from ..stream import DEFAULT_RETRY_ON, RetryPolicy, is_deterministic
from ..tcpcheck import TcpCheckRuleset, TcpConnect
from ..tlsconfig import ServerTls

if TYPE_CHECKING:
    from ..acl.conditions import Condition
    from ..routing import Router
    from ..rules import HttpRule, TcpRule

__all__ = [
    "BackendRuntime",
    "Bind",
    "Capture",
    "Config",
    "ConfigWarning",
    "ExternalCheck",
    "ForwardFor",
    "Global",
    "HttpCheck",
    "HttpCheckExpect",
    "LoadResult",
    "LogTarget",
    "Peer",
    "PeersSection",
    "ServerExtras",
    "StatsPage",
    "StatsSocket",
    "TcpKeepalive",
]

Mode = Literal["tcp", "http"]


@dataclass(frozen=True, slots=True)
class TcpKeepalive:
    """`option clitcpka`/`srvtcpka` (or `tcpka`) with its `*tcpka-cnt`, `-idle`
    (seconds) and `-intvl` (seconds): the kernel's keep-alive probes on client or
    server connections.  0 leaves the system's value."""

    cnt: int = 0
    idle: int = 0
    intvl: int = 0


_EMPTY: Mapping[int, bytes] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ConfigWarning:
    """A line balancekit accepted but wants the user to know about."""

    message: str
    file: str | None = None
    line: int | None = None
    #: A note of balancekit's own (a keyword without effect here, a value read the
    #: way HAProxy silently reads it): HAProxy gives no warning, so `zero-warning`
    #: does not count it.
    ours: bool = False

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file is not None else ""
        return f"{where}{self.message}"


@dataclass(frozen=True, slots=True)
class LogTarget:
    """`log <address> [len N] [format F] <facility> [<level> [<minlevel>]]`.

    `address` is as written: `stdout`, `stderr`, `/dev/log`, `127.0.0.1:514`,
    `udp@…`, `fd@1`…  Field names match `balancekit_server.ops.logs.LogTarget`.
    """

    address: str
    facility: str = "local0"
    level: str = "debug"
    minlevel: str = "emerg"
    format: str = "rfc3164"
    length: int = 1024
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class StatsSocket:
    """`stats socket <path|[ipv4@]addr:port|fd@N> [mode M] [level L] …` in `global`.

    `fd` is set for `fd@N`: an inherited, already listening socket (unix or TCP)
    that is adopted, not bound; `address` is then `fd@N` and `is_unix` False.
    """

    address: str
    is_unix: bool
    mode: int | None = None
    level: Literal["user", "operator", "admin"] = "operator"
    expose_fd_listeners: bool = False
    file: str | None = None
    line: int | None = None
    fd: int | None = None


@dataclass(frozen=True, slots=True)
class Global:
    """The `global` section.  `maxconn` 0 means HAProxy's computed default."""

    maxconn: int = 0
    nbthread: int | None = None
    logs: tuple[LogTarget, ...] = ()
    stats_sockets: tuple[StatsSocket, ...] = ()
    stats_timeout: float = 10.0
    hard_stop_after: float | None = None
    ca_base: str | None = None
    crt_base: str | None = None
    ssl_default_bind_ciphers: str | None = None
    ssl_default_bind_ciphersuites: str | None = None
    ssl_default_bind_options: tuple[str, ...] = ()
    ssl_default_bind_curves: str | None = None
    ssl_default_server_ciphers: str | None = None
    ssl_default_server_ciphersuites: str | None = None
    ssl_default_server_options: tuple[str, ...] = ()
    #: `ssl-dh-param-file` (its contents) and `tune.ssl.default-dh-param` (0: unset):
    #: where DHE ciphers get their group (`tlsconfig.DhParams`).
    ssl_dh_params: bytes | None = None
    tune_ssl_default_dh_param: int = 0
    #: `tune.http.maxhdr`: the header lines a message may have (HAProxy counts 101
    #: with the start line's slot; balancekit counts the header lines, 100).
    tune_http_maxhdr: int = 101
    #: `zero-warning`: a configuration with warnings does not start.
    zero_warning: bool = False
    #: `expose-experimental-directives`: experimental keywords are allowed.
    experimental: bool = False
    #: `log-send-hostname [name]` (the host name when given none) and `log-tag`:
    #: the syslog headers' host and tag.
    log_hostname: str | None = None
    log_tag: str = "haproxy"
    #: `node` (None: the host name, as HAProxy) and `description`.
    node: str | None = None
    description: str | None = None
    #: `localpeer`: this process's name in `peers` sections (`-L` overrides it).
    localpeer: str | None = None
    #: `tune.bufsize` (rounded up to 16 as HAProxy does) and `tune.maxrewrite`, the
    #: room a message head may use (`head_room`).
    tune_bufsize: int = 16384
    tune_maxrewrite: int = 1024
    #: `tune.comp.maxlevel`: the zlib level responses are compressed at (1..9).
    tune_comp_maxlevel: int = 1
    #: `spread-checks` (a percentage, 0..50) and `max-spread-checks` (seconds).
    spread_checks: int = 0
    #: `external-check` and `insecure-fork-wanted`: proxies may run external checks.
    external_check: bool = False
    insecure_fork_wanted: bool = False
    max_spread_checks: float | None = None
    #: `server-state-file` and `server-state-base` (balancekit.server_state).
    server_state_file: str | None = None
    server_state_base: str | None = None
    #: `ssl-server-verify`: what a `server … ssl` line without `verify` does.
    ssl_server_verify: Literal["none", "required"] = "required"
    #: `ulimit-n`: the file descriptors to allow (0: computed from maxconn).
    ulimit_n: int = 0
    #: `strict-limits` (the default; `no strict-limits` turns it off): a `ulimit-n`
    #: that cannot be had stops the start rather than being warned about.
    strict_limits: bool = True

    @property
    def head_room(self) -> int:
        """The bytes a request or response head may take in HAProxy's buffer: the
        buffer less the rewrite reserve, which HAProxy caps at half the buffer."""
        return self.tune_bufsize - min(self.tune_maxrewrite, self.tune_bufsize // 2)


@dataclass(frozen=True, slots=True)
class Bind:
    """One listening address (a `bind` line with a list or range yields several).

    `fd` is set for `bind fd@N`: an inherited, already listening socket (from a
    parent such as varnishtest or systemd) that is adopted, not bound; `host` is
    then empty and `port` 0.  `path` is set for a UNIX socket: `unix@/path` (or a
    bare `/path`), or `abns@name` in Linux's abstract namespace (`path` then
    starts with a NUL), with `host` empty and `port` 0 too.
    """

    host: str
    port: int
    v6: bool = False
    ssl: bool = False
    crts: tuple[str, ...] = ()
    accept_proxy: bool = False
    name: str | None = None
    alpn: tuple[str, ...] = ()
    v4v6: bool = False
    v6only: bool = False
    file: str | None = None
    line: int | None = None
    fd: int | None = None
    path: str | None = None
    #: TLS versions and options (`ssl-min-ver TLSv1.3`, `no-tlsv12`…, as the words of
    #: `ssl-default-bind-options`), `ciphers`, client certificates (`ca-file`,
    #: `verify`), `strict-sni`.
    tls_options: tuple[str, ...] = ()
    #: `crt-list` files: certificates with SNI filters and options of their own.
    crt_lists: tuple[str, ...] = ()
    ciphers: str | None = None
    ciphersuites: str | None = None
    curves: str | None = None
    ca_file: str | None = None
    verify: str | None = None
    strict_sni: bool = False
    #: TCP listener options (tcp_bind_listener): `tfo`, `defer-accept`, `mss` (0: the
    #: system's), `tcp-ut` in milliseconds (0: none), `backlog` (0: the frontend's).
    tfo: bool = False
    defer_accept: bool = False
    mss: int = 0
    tcp_ut: int = 0
    backlog: int = 0
    #: The TLS context of an `ssl` bind, built at load from `crts`, `alpn` and the
    #: global `ssl-default-bind-*` settings (`balancekit.tlsconfig`).
    context: SSLContext | None = field(default=None, compare=False, repr=False)

    @property
    def address(self) -> str:
        """`host:port` with brackets around IPv6 hosts; `fd@N` for an inherited socket."""
        if self.fd is not None:
            return f"fd@{self.fd}"
        if self.path is not None:
            return "abns@" + self.path[1:] if self.path[:1] == "\0" else "unix@" + self.path
        return f"[{self.host}]:{self.port}" if self.v6 else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ForwardFor:
    """`option forwardfor [except <net>] [header <name>] [if-none]`.

    `except_net` is checked when the config is read (a bad network fails `-c`).
    """

    header: str = "X-Forwarded-For"
    except_net: str | None = None
    if_none: bool = False


@dataclass(frozen=True, slots=True)
class Capture:
    """A capture slot: `capture request|response header <name> len <n>`, or one that
    rules fill (`header` None: `declare capture`, `http-request capture … len`)."""

    direction: Literal["request", "response"]
    header: str | None
    length: int


@dataclass(frozen=True, slots=True)
class StatsPage:
    """`stats enable|uri|auth|realm|refresh|hide-version|show-*` on an HTTP proxy.

    `show_node`/`show_desc` are None when not asked for, "" for the global `node` /
    `description`, else the text given on the line.
    """

    uri: str = "/haproxy?stats"
    auth: tuple[tuple[str, str], ...] = ()
    # `stats admin if|unless …`: the page offers server actions when one matches.
    admin: tuple[Condition, ...] = ()
    # `stats http-request allow|deny|auth …`, in order (the first that applies decides).
    rules: tuple[HttpRule, ...] = ()
    # `stats scope <name>|.`: the proxies the page shows (all when empty).
    scope: tuple[str, ...] = ()
    realm: str | None = None
    refresh: float | None = None
    hide_version: bool = False
    show_node: str | None = None
    show_desc: str | None = None
    show_legends: bool = False


@dataclass(frozen=True, slots=True)
class ExternalCheck:
    """`option external-check`: the program run as each server's check (as HAProxy
    runs it, with `PATH` set to `path` only)."""

    command: str
    path: str = ""


@dataclass(frozen=True, slots=True)
class HttpCheck:
    """The request of HTTP health checks (`option httpchk` + `http-check send`)."""

    method: str = "OPTIONS"
    uri: str = "/"
    version: str = "HTTP/1.0"
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""


@dataclass(frozen=True, slots=True)
class HttpCheckExpect:
    """`http-check expect [!] status|rstatus|string|rstring <pattern>`."""

    kind: Literal["status", "rstatus", "string", "rstring"]
    pattern: str
    negate: bool = False
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class ServerExtras:
    """What a `server` line says beyond `balancekit.Server`: TLS to the server, and
    how its name gets an address at start."""

    name: str
    ssl: bool = False
    verify: Literal["none", "required"] = "required"
    ca_file: str | None = None
    sni: str | None = None
    check_ssl: bool = False
    #: `check-send-proxy`: health checks start with a PROXY header even on their own port.
    check_send_proxy: bool = False
    #: `crt`, `ciphers`, `ciphersuites`, the version and ticket options (as
    #: `ssl-default-server-options` words) and `alpn` of the line.
    crt: str | None = None
    ciphers: str | None = None
    ciphersuites: str | None = None
    tls_options: tuple[str, ...] = ()
    alpn: tuple[str, ...] = ()
    #: `check-alpn` and `check-sni`: what health checks offer instead.
    check_alpn: tuple[str, ...] | None = None
    check_sni: str | None = None
    #: The line's TLS settings after the global `ssl-default-server-*` ones.
    tls: ServerTls = field(default_factory=ServerTls)
    #: `init-addr`: how a server name gets its address at start ("last", "libc",
    #: "none" or an IP, in order); empty for HAProxy's default, `last,libc`.
    init_addr: tuple[str, ...] = ()
    #: `resolvers`: the section that keeps resolving the name while running, and the
    #: `resolve-prefer`, `resolve-opts` and `resolve-net` it does it with.
    resolvers: str | None = None
    resolve_prefer: str = "ipv6"
    resolve_opts: tuple[str, ...] = ()
    resolve_net: tuple[str, ...] = ()
    #: The `server-template` line that made this server, with its servers' names
    #: (all of them share one SRV or A/AAAA name).
    template: tuple[str, ...] = ()
    #: The SRV name (`_service._proto.name`) of such a template with `resolvers`.
    srvrecord: str | None = None
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Frontend:
    """A `frontend`, or the front half of a `listen` (then `backend_name` == `name`)."""

    name: str
    mode: Mode = "http"
    binds: tuple[Bind, ...] = ()
    #: The compiled rules; None only for a frontend built by hand for a front end
    #: that is given its router separately (`HttpProxy`, `ProxyApp`).
    router: Router | None = None
    maxconn: int = 0
    timeout_client: float | None = None
    timeout_client_fin: float | None = None
    timeout_http_request: float | None = None
    #: `timeout tarpit` (else `timeout connect`): how long `http-request tarpit` waits.
    timeout_tarpit: float | None = None
    timeout_http_keep_alive: float | None = None
    tcp_inspect_delay: float | None = None
    tcplog: bool = False
    httplog: bool = False
    httplog_clf: bool = False
    dontlognull: bool = False
    #: `option http-ignore-probes`: a connection silent until its timeout just closes.
    http_ignore_probes: bool = False
    #: `option log-separate-errors` (a stream that reports a problem is logged at
    #: level err) and `option dontlog-normal` (only those are logged).
    log_separate_errors: bool = False
    dontlog_normal: bool = False
    #: `option logasap`: log when the server answers (HTTP) or is connected (TCP).
    logasap: bool = False
    forwardfor: ForwardFor | None = None
    #: `option originalto`: `X-Original-To` with the address the client connected to.
    originalto: ForwardFor | None = None
    #: `option clitcpka` (None: off).
    clitcpka: TcpKeepalive | None = None
    http_server_close: bool = False
    httpclose: bool = False
    logs: tuple[LogTarget, ...] = ()
    log_format: str | None = None
    #: `log_format` compiled at load (so `-c` rejects a bad one at its line).
    log_line: LogLine | None = None
    errorfiles: Mapping[int, bytes] = field(default_factory=lambda: _EMPTY)
    #: `compression` lines (None: none; a backend's algorithms come before these).
    compression: Compression | None = None
    stats: StatsPage | None = None
    captures: tuple[Capture, ...] = ()
    #: `monitor-uri`: requests for it (its path, when it starts with `/`) are answered
    #: 200 by the proxy itself, 503 when a `monitor fail` condition holds; not logged.
    monitor_uri: str | None = None
    monitor_fail: tuple[Condition, ...] = ()
    #: `unique-id-format`: each request's ID (the `unique-id` fetch, `%ID`), sent to
    #: the server in `unique-id-header` when that is set.
    unique_id_format: LogFormat | None = None
    unique_id_header: str | None = None
    #: `http-response` / `http-after-response` rules (a `listen`'s are here only).
    http_response_rules: tuple[HttpRule, ...] = ()
    http_after_response_rules: tuple[HttpRule, ...] = ()
    default_backend: str | None = None
    backend_name: str | None = None
    #: Python-only options (no haproxy.cfg keyword; HAProxy users write
    #: `http-request set-header X-Forwarded-Proto …`): add X-Forwarded-Proto and
    #: X-Forwarded-Host to forwarded requests.
    x_forwarded_proto: bool = False
    x_forwarded_host: bool = False
    #: The room a request head may take (`Global.head_room`: tune.bufsize less
    #: tune.maxrewrite), counted as HAProxy's HTX stores it (see docs/http.md).
    max_header_size: int = 15360
    #: The header lines a request may have (`tune.http.maxhdr` less the start line's
    #: slot); a request with more is a 400.
    max_header_lines: int = 100
    #: `description`, shown on the statistics page.
    description: str | None = None
    #: The proxy's numeric id (`id`, else HAProxy's automatic numbering): `show stat`'s
    #: iid, `#<id>` on the runtime API.  0 for one built by hand.
    uuid: int = 0
    #: The configuration has stick tables or variables: each request carries its
    #: stream's state (`Request.stream`: tracked counters, variables).
    tracks: bool = False
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class BackendRuntime:
    """A `backend`, or the back half of a `listen`: the pool plus connection settings."""

    name: str
    mode: Mode
    backend: Backend
    servers: tuple[ServerExtras, ...] = ()
    timeout_connect: float | None = None
    timeout_server: float | None = None
    timeout_queue: float | None = None
    timeout_check: float | None = None
    timeout_server_fin: float | None = None
    timeout_tunnel: float | None = None
    timeout_http_request: float | None = None
    #: `timeout tarpit` (else `timeout connect`): how long `http-request tarpit` waits.
    timeout_tarpit: float | None = None
    timeout_http_keep_alive: float | None = None
    retries: int = 3
    #: `option redispatch [interval]`: 0 off, -1 the last retry, P > 0 every P-th
    #: retry, N < -1 the |N|-th retry before the last.
    redispatch: int = 0
    #: `retry-on`: the events a request is retried on (balancekit.stream).
    retry_on: frozenset[str] = DEFAULT_RETRY_ON
    #: `cookie …` (mode http only) and `option persist` (balancekit.persistence).
    cookie: CookiePolicy | None = None
    #: `cookie … dynamic` and `dynamic-cookie-key`, changeable at run time.
    dynamic_cookies: DynamicCookies = field(default_factory=DynamicCookies)
    persist: bool = False
    #: `force-persist` / `ignore-persist` rules, in order (the first match applies).
    persist_rules: tuple[PersistRule, ...] = ()
    #: `stick on|match|store-request|store-response` rules, in order (balancekit.sticking).
    stick_rules: tuple[StickRule, ...] = ()
    #: `use-server` rules, in order (balancekit.server_rules).
    server_rules: tuple[ServerRule, ...] = ()
    #: `tcp-request inspect-delay`: how long this backend's content rules wait for
    #: the client's first bytes when the frontend did not (mode tcp).
    tcp_inspect_delay: float | None = None
    #: `tcp-response content` rules and `tcp-response inspect-delay` (mode tcp):
    #: they decide on the server's first bytes before the client sees them.
    tcp_response_rules: tuple[TcpRule, ...] = ()
    tcp_response_delay: float | None = None
    #: `option srvtcpka` (None: off).
    srvtcpka: TcpKeepalive | None = None
    forwardfor: ForwardFor | None = None
    #: `option originalto`: `X-Original-To` with the address the client connected to.
    originalto: ForwardFor | None = None
    http_server_close: bool = False
    httpclose: bool = False
    #: `option abortonclose`: a queued request whose client has shut its side by the
    #: time it is granted a slot is dropped (`CC`) rather than sent to the server.
    abortonclose: bool = False
    #: `option http-pretend-keepalive`: a request on a server connection closed after
    #: the answer (`http-server-close`, `httpclose`) says keep-alive all the same: no
    #: `Connection: close` (HTTP/1.1), `Connection: keep-alive` (HTTP/1.0).
    pretend_keepalive: bool = False
    #: `option checkcache` (mode http): an answer that would let a shared cache keep
    #: the cookie its server set is blocked (`balancekit.persistence.cacheable_cookie`).
    checkcache: bool = False
    httpchk: HttpCheck | None = None
    http_check_expect: tuple[HttpCheckExpect, ...] = ()
    #: `http-check disable-on-404`: a 404 puts an up server in NOLB (L7OKC).
    http_check_disable_404: bool = False
    #: `http-check send-state`: checks carry an `X-Haproxy-Server-State` header.
    http_check_send_state: bool = False
    #: `http-check connect`: where and how HTTP checks connect.
    http_check_connect: TcpConnect | None = None
    mysql_check_user: str | None = None
    #: `option pgsql-check user <name>`: a PostgreSQL startup packet for that user,
    #: then an authentication request (not an error) as the answer.
    pgsql_check_user: str | None = None
    #: `option tcp-check` (with the proxy's `tcp-check` lines), `option redis-check`,
    #: `smtpchk`, `ssl-hello-chk`, `ldap-check`: the steps each check runs.
    tcp_check: TcpCheckRuleset | None = None
    #: `option external-check`: the `external-check command` and `path` checks run.
    external_check: ExternalCheck | None = None
    log_health_checks: bool = False
    #: `compression` lines (None: none).
    compression: Compression | None = None
    logs: tuple[LogTarget, ...] = ()
    errorfiles: Mapping[int, bytes] = field(default_factory=lambda: _EMPTY)
    http_rules: tuple[HttpRule, ...] = ()
    #: `http-response` / `http-after-response` rules, run before the frontend's.
    http_response_rules: tuple[HttpRule, ...] = ()
    http_after_response_rules: tuple[HttpRule, ...] = ()
    stats: StatsPage | None = None
    #: `description`, shown on the statistics page.
    description: str | None = None
    #: The proxy's numeric id, as `Frontend.uuid` (a listen's two halves share it).
    uuid: int = 0
    #: The room a response head may take (`Global.head_room`); a larger one is a 502.
    max_response_head: int = 15360
    #: The header lines a response may have (as `Frontend.max_header_lines`); a 502.
    max_response_lines: int = 100
    #: `fullconn`, or HAProxy's default for it (10% of the incoming frontends'
    #: maxconn); 0 when that depends on the machine (a frontend without maxconn
    #: and no global one). Shown as the backend's `slim` in the statistics.
    fullconn: int = 0
    #: `load-server-state-from-file`: "none", "global" or "local", and the file
    #: "local" reads (`server-state-file-name`, default the backend's name).
    load_server_state: str = "none"
    server_state_file_name: str | None = None
    file: str | None = None
    line: int | None = None
    #: The soonest one of the relay timeouts (server, server-fin, tunnel) can
    #: expire, in seconds; inf without any.  Engines check it before the timeouts
    #: one by one, so an idle-timer sweep costs one comparison per session.
    timeout_floor: float = field(init=False, repr=False, compare=False)
    #: `retries`, `option redispatch`, `retry-on` and `timeout connect` as the
    #: stream policy reads them, built once (`balancekit.stream`).
    retry_policy: RetryPolicy = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        retry_policy = RetryPolicy(
            self.retries, self.redispatch, self.retry_on, self.timeout_connect
        )
        object.__setattr__(self, "retry_policy", retry_policy)
        times = [
            t
            for t in (self.timeout_server, self.timeout_server_fin, self.timeout_tunnel)
            if t is not None
        ]
        object.__setattr__(self, "timeout_floor", min(times, default=float("inf")))

    @property
    def deterministic(self) -> bool:
        """Whether the algorithm hashes the request, so that re-picking after a
        failure would find the same server again (no early redispatch)."""
        return is_deterministic(self.backend.balance.algorithm)

    @property
    def queue_timeout(self) -> float | None:
        """`timeout queue`, which defaults to `timeout connect` as in HAProxy."""
        return self.timeout_queue if self.timeout_queue is not None else self.timeout_connect

    def extras(self, server: str) -> ServerExtras:
        """The `ServerExtras` of server `server` (KeyError if unknown)."""
        for extra in self.servers:
            if extra.name == server:
                return extra
        raise KeyError(f"backend '{self.name}' has no server '{server}'")


@dataclass(frozen=True, slots=True)
class Peer:
    """One member of a `peers` section; `local` is this process (it listens on
    `address`, which a `server` line may leave out when `bind` gives it)."""

    name: str
    address: tuple[str, int] | None
    local: bool
    file: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class PeersSection:
    """A `peers` section this process takes part in: `listen` is where its peers
    connect, `tables` maps the name each shared table has on the wire (its
    proxy's, or `/<name>` for the section's own `table`) to the table."""

    name: str
    local: str
    listen: tuple[str, int]
    peers: tuple[Peer, ...]
    tables: Mapping[str, StickTable]
    file: str = ""
    line: int = 0
    #: `bind fd@N`: listen on this inherited socket instead of `listen`.
    listen_fd: int | None = None

    @property
    def remotes(self) -> tuple[Peer, ...]:
        return tuple(peer for peer in self.peers if not peer.local)


@dataclass(frozen=True, slots=True)
class Config:
    """A whole loaded configuration, ready to run."""

    global_: Global
    frontends: tuple[Frontend, ...]
    backends: Mapping[str, BackendRuntime]
    files: tuple[str, ...] = ()
    #: Every `stick-table`, by name (its proxy's), in declaration order.
    tables: Mapping[str, StickTable] = field(default_factory=lambda: _EMPTY_TABLES)
    #: The `peers` sections in use (not disabled, naming this process), by name.
    peers: Mapping[str, PeersSection] = field(default_factory=lambda: _EMPTY_PEERS)
    #: Map files and ACL pattern lists (`show map`, `add acl`…), in creation order.
    patterns: PatRefs = field(default_factory=PatRefs)
    #: The `resolvers` sections, by name.
    resolvers: Mapping[str, Resolvers] = field(default_factory=lambda: _EMPTY_RESOLVERS)

    def frontend(self, name: str) -> Frontend:
        for frontend in self.frontends:
            if frontend.name == name:
                return frontend
        raise KeyError(f"no frontend '{name}'")

    def backend(self, name: str) -> BackendRuntime:
        try:
            return self.backends[name]
        except KeyError:
            raise KeyError(f"no backend '{name}'") from None


_EMPTY_TABLES: Mapping[str, StickTable] = MappingProxyType({})
_EMPTY_PEERS: Mapping[str, PeersSection] = MappingProxyType({})
_EMPTY_RESOLVERS: Mapping[str, Resolvers] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What `load` returns: the config and every warning, in file order."""

    config: Config
    warnings: tuple[ConfigWarning, ...] = ()
