"""The one table of every haproxy.cfg keyword balancekit knows.

Each entry says where the keyword may appear, whether balancekit implements it
or accepts it with a warning (and why), and a one-line meaning.  The parser
looks keywords up here, `docs/configuration.md` lists exactly this table (a
test keeps the two in step), and anything not here is an error with a
"did you mean" suggestion.  Keeping it in one place is what makes "nothing is
silently ignored" checkable.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

__all__ = [
    "BIND_KEYWORDS",
    "ERRORFILE_CODES",
    "FAMILIES",
    "HAPROXY_BIND_OPTIONS",
    "HAPROXY_ONLY",
    "HAPROXY_SERVER_OPTIONS",
    "KEYWORDS",
    "PEERS_KEYWORDS",
    "REMOVED",
    "RESOLVERS_KEYWORDS",
    "SERVER_KEYWORDS",
    "USERLIST_KEYWORDS",
    "Keyword",
    "lookup",
    "suggest",
]

#: Section letters: g=global d=defaults f=frontend l=listen b=backend.
SECTION_LETTER = {"global": "g", "defaults": "d", "frontend": "f", "listen": "l", "backend": "b"}

#: Keywords whose second word is part of the keyword (`timeout connect`).
FAMILIES = frozenset(
    {
        "option",
        "timeout",
        "stats",
        "capture",
        "declare",
        "http-check",
        "tcp-check",
        "external-check",
        "compression",
        "filter",
        "tcp-request",
        "tcp-response",
    }
)


@dataclass(frozen=True, slots=True)
class Keyword:
    """One keyword: where it may appear, what balancekit does with it."""

    name: str
    sections: str
    summary: str
    #: "" when implemented; otherwise why it is accepted but has no effect (warned).
    ignored: str = ""
    #: True when HAProxy rejects it (not just warns) in a proxy lacking the capability.
    strict: bool = False
    #: May be prefixed with `no` (HAProxy's "(*)" options).
    negatable: bool = False


_K = Keyword
_NO_DAEMON = "balancekit-server stays in the foreground; let the service manager daemonize it"
_NO_PRIVS = "balancekit-server does not switch users; start it as the user it should run as"
_NO_SPLICE = "a kernel TCP tuning hint; balancekit relays through asyncio transports without it"
_NO_POLLER = "balancekit-server polls with its event loop (epoll, through uvloop or asyncio)"
_NO_TUNING = "a tuning knob of HAProxy's scheduler, buffers or sockets; balancekit has no such one"
_NO_H2 = "balancekit speaks HTTP/1.1 on both sides; there are no HTTP/2 connections to tune"
_NO_SSL_TUNING = (
    "OpenSSL's defaults apply under Python's ssl module (session cache, ticket lifetime, "
    "record sizes)"
)
_NO_VAR_LIMITS = "balancekit's variables take the room they need; no size limit is applied"
_NO_PROCESS_SWITCH = "a switch of HAProxy's process model (core dumps, fork, memory, profiling)"
#: HAProxy's internal tuning knobs, accepted with a warning.
_TUNING_KNOBS = """tune.buffers.limit tune.buffers.reserve tune.idletimer tune.maxaccept
    tune.maxpollevents tune.pattern.cache-size tune.rcvbuf.client tune.rcvbuf.server
    tune.sndbuf.client tune.sndbuf.server tune.recv_enough tune.runqueue-depth tune.fail-alloc
    tune.fd.edge-triggered tune.listener.multi-queue tune.sched.low-latency
    tune.pool-high-fd-ratio tune.pool-low-fd-ratio tune.peers.max-updates-at-once
    tune.http.cookielen tune.ssl.capture-buffer-size tune.ssl.capture-cipherlist-size
    maxzlibmem maxcompcpuusage numa-cpu-mapping fd-hard-limit noreuseport nogetaddrinfo
    h2-workaround-bogus-websocket-clients"""


def _warned(summary: str, reason: str, names: str) -> tuple[Keyword, ...]:
    """Global keywords accepted with the same warning (`reason`)."""
    return tuple(_K(name, "g", summary, ignored=reason) for name in names.split())


KEYWORDS: tuple[Keyword, ...] = (
    # -- global ------------------------------------------------------------------------
    _K(
        "log",
        "gdflb",
        "Log target (`log global`, `log <addr> [len N] [format F] <facility> …`).",
        negatable=True,
    ),
    _K("maxconn", "gdfl", "Maximum concurrent connections (process-wide in global)."),
    _K("id", "dflb", "`id <n>`: the proxy's numeric id (`show stat`'s iid, `#<n>` references)."),
    _K("backlog", "dfl", "`backlog <n>`: the listen queue of the binds (default: `maxconn`)."),
    _K("nbthread", "g", "Number of worker threads; kept in the model for the runtime."),
    _K("hard-stop-after", "g", "Maximum time a soft stop may take."),
    _K(
        "description",
        "gflb",
        "Free text: the process's (global, `show info`) or the proxy's, on the statistics page.",
    ),
    _K(
        "localpeer",
        "g",
        "This process's name in `peers` sections (`-L` wins; default: the host name).",
    ),
    _K("node", "g", "Node name for `show info` and `stats show-node` (default: the host name)."),
    _K("setenv", "g", "`setenv <name> <value>`: set an environment variable (`${name}`, `env()`)."),
    _K("presetenv", "g", "`presetenv <name> <value>`: set it only if it is not set yet."),
    _K("unsetenv", "g", "`unsetenv <name>…`: remove these environment variables."),
    _K("resetenv", "g", "`resetenv [<name>…]`: remove every environment variable but these."),
    _K(
        "stats socket",
        "g",
        "Runtime API socket: `<path, addr:port or fd@N> [mode M] [level L]`.",
    ),
    _K("stats timeout", "g", "Idle timeout of runtime API connections (default 10s)."),
    _K("ca-base", "g", "Directory for relative `ca-file` paths."),
    _K(
        "ssl-server-verify",
        "g",
        "`none` or `required`: what a `server … ssl` line without `verify` does.",
    ),
    _K(
        "set-var",
        "g",
        "`set-var proc.<name> <expr>`: a process-wide variable, set when the configuration loads.",
    ),
    _K(
        "set-var-fmt",
        "g",
        "`set-var-fmt proc.<name> <log-format>`: the same, from a format string.",
    ),
    _K(
        "log-send-hostname",
        "g",
        "Put the host name (or the name given) in the header of rfc3164 and rfc5424 logs.",
    ),
    _K("log-tag", "g", "The tag of syslog headers (default `haproxy`); global only."),
    _K("ulimit-n", "g", "The file descriptors the process may open (raised at start)."),
    _K(
        "strict-limits",
        "g",
        "A `ulimit-n` that cannot be had stops the start (the default).",
        negatable=True,
    ),
    _K("crt-base", "g", "Directory for relative `crt` paths."),
    _K("ssl-default-bind-ciphers", "g", "TLS 1.2 cipher list for `bind … ssl` lines."),
    _K("ssl-default-bind-ciphersuites", "g", "TLS 1.3 cipher suites for `bind … ssl` lines."),
    _K("ssl-default-bind-options", "g", "Default TLS options (`no-sslv3`, `ssl-min-ver …`)."),
    _K(
        "ssl-default-bind-curves",
        "g",
        "The key exchange groups `bind … ssl` lines offer (`X25519:P-256`), replaced by a "
        "bind's `curves`.",
    ),
    _K("ssl-default-server-ciphers", "g", "TLS 1.2 cipher list for `server … ssl` lines."),
    _K("ssl-default-server-ciphersuites", "g", "TLS 1.3 cipher suites for `server … ssl` lines."),
    _K(
        "ssl-default-server-options",
        "g",
        "Default TLS options of `server … ssl` lines (`ssl-min-ver …`, `no-tls-tickets`).",
    ),
    _K(
        "tune.http.maxhdr",
        "g",
        "The header lines a request or response may have (default 101): a request with "
        "more is a 400, a response a 502.",
    ),
    _K("zero-warning", "g", "Any warning about the configuration stops the start."),
    _K(
        "expose-experimental-directives",
        "g",
        "Allow HAProxy's experimental keywords (`http-request normalize-uri`); it must "
        "come before them.",
    ),
    _K(
        "tune.bufsize",
        "g",
        "Buffer size (default 16384): with `tune.maxrewrite`, the room a request or "
        "response head may take.",
    ),
    _K("tune.comp.maxlevel", "g", "The compression level of `compression` (1 to 9, default 1)."),
    _K("tune.maxrewrite", "g", "Buffer space kept for rewrites (default 1024, at most half)."),
    _K(
        "server-state-file",
        "g",
        "The file of servers' states (`show servers state`) backends load at start.",
    ),
    _K("server-state-base", "g", "Directory for relative server state file names."),
    _K("external-check", "g", "Allow `option external-check` (checks that run a program)."),
    _K(
        "insecure-fork-wanted",
        "g",
        "Acknowledge that checks fork programs (`option external-check` warns without it).",
    ),
    _K("spread-checks", "g", "Each check comes up to this percentage (0..50) early or late."),
    _K("max-spread-checks", "g", "The longest delay over which the first checks are spread."),
    _K("daemon", "g", "Run in the background.", ignored=_NO_DAEMON),
    _K("master-worker", "g", "Master-worker mode.", ignored=_NO_DAEMON),
    _K("pidfile", "g", "Write the pid to a file.", ignored=_NO_DAEMON),
    _K("chroot", "g", "Chroot after start.", ignored="balancekit-server does not chroot"),
    _K(
        "unix-bind",
        "g",
        "Prefix, mode and owner of the UNIX sockets `bind` lines listen on.",
        ignored="a `bind` on a UNIX socket takes its path as written, with the process's "
        "umask and owner: the prefix, mode and owner are not applied",
    ),
    _K("user", "g", "Switch to this user.", ignored=_NO_PRIVS),
    _K("group", "g", "Switch to this group.", ignored=_NO_PRIVS),
    _K("uid", "g", "Switch to this uid.", ignored=_NO_PRIVS),
    _K("gid", "g", "Switch to this gid.", ignored=_NO_PRIVS),
    _K(
        "tune.ssl.default-dh-param",
        "g",
        "`tune.ssl.default-dh-param <bits>`: DHE ciphers get RFC 7919's group of the "
        "certificate key's size, at most this (1024: none, OpenSSL 3 refuses it).",
    ),
    _K(
        "ssl-dh-param-file",
        "g",
        "`ssl-dh-param-file <file>`: the DH parameters of DHE ciphers, for certificates "
        "whose file has none.",
    ),
    _K(
        "tune.idle-pool.shared",
        "g",
        "Share idle connection pools between threads.",
        ignored="a thread-tuning knob; balancekit-server runs one event loop per process",
    ),
    *_warned(
        "A choice of HAProxy's poller.",
        _NO_POLLER,
        "busy-polling noepoll noevports nokqueue nopoll",
    ),
    *_warned("Kernel splicing.", _NO_SPLICE, "nosplice maxpipes tune.pipesize"),
    _K(
        "tune.http.logurilen",
        "g",
        "The URI length kept in log lines.",
        ignored="balancekit logs the whole URI (HAProxy cuts it at this length, 1024 by default)",
    ),
    *_warned("HAProxy's internals.", _NO_TUNING, _TUNING_KNOBS),
    *_warned(
        "HTTP/2 settings.",
        _NO_H2,
        """tune.h2.header-table-size tune.h2.initial-window-size tune.h2.max-concurrent-streams
        tune.h2.max-frame-size""",
    ),
    *_warned(
        "TLS session cache and record sizes.",
        _NO_SSL_TUNING,
        """tune.ssl.cachesize tune.ssl.lifetime tune.ssl.force-private-cache tune.ssl.maxrecord
        tune.ssl.hard-maxrecord tune.ssl.ssl-ctx-cache-size""",
    ),
    *_warned(
        "Lua settings.",
        "balancekit runs no Lua (`lua-load` is refused)",
        """tune.lua.forced-yield tune.lua.maxmem tune.lua.service-timeout
        tune.lua.session-timeout tune.lua.task-timeout""",
    ),
    *_warned(
        "Limits on variables' sizes.",
        _NO_VAR_LIMITS,
        """tune.vars.check-max-size tune.vars.global-max-size tune.vars.proc-max-size
        tune.vars.reqres-max-size tune.vars.sess-max-size tune.vars.txn-max-size""",
    ),
    *_warned(
        "Process safety switches.",
        _NO_PROCESS_SWITCH,
        """set-dumpable insecure-setuid-wanted no-memory-trimming
        profiling.tasks mworker-max-reloads quiet""",
    ),
    # -- proxies -----------------------------------------------------------------------
    _K("mode", "dflb", "`tcp` or `http` (HAProxy's default is tcp)."),
    _K(
        "bind",
        "fl",
        "Listening address: `[addr]:port[-end][,…]`, a UNIX socket (`unix@/path`, "
        "`/path`, `abns@name`) or an inherited `fd@N` `[ssl crt F] [accept-proxy] …`.",
    ),
    _K(
        "server",
        "lb",
        "A server: `<name> <addr>[:port] [options]`, the address a UNIX socket too "
        "(`unix@/path`, `/path`, `abns@name`).",
        strict=True,
    ),
    _K(
        "server-template",
        "lb",
        "Servers `<prefix>1`…`<prefix>N`: `<prefix> <N or low-high> <addr>[:port] [options]`.",
        strict=True,
    ),
    _K("default-server", "dlb", "Default options for the following `server` lines."),
    _K("balance", "dlb", "Load-balancing algorithm and its options."),
    _K("hash-type", "dlb", "`map-based`, `consistent` or `maglev` [function] [`avalanche`]."),
    _K("hash-balance-factor", "dlb", "Bounded-load consistent hashing (> 100)."),
    _K("random", "lb", "Tutorial form `random draw N`, accepted as `balance random(N)`."),
    _K("retries", "dlb", "Connection retries before giving up (default 3)."),
    _K(
        "load-server-state-from-file",
        "dlb",
        "`global` (the `server-state-file`), `local` (`server-state-file-name`) or "
        "`none`: where the servers' states are read at start.",
    ),
    _K(
        "server-state-file-name",
        "dlb",
        "The file `load-server-state-from-file local` reads (default: the backend's name).",
    ),
    _K(
        "fullconn",
        "dlb",
        "The backend's full load (default: 10% of its frontends' maxconn), its `slim` "
        "in the statistics.",
    ),
    _K(
        "cookie",
        "dlb",
        "Cookie persistence: `<name>`, a mode (`insert`, `rewrite`, `prefix`; none: read "
        "only) and options (docs/persistence-and-limits.md).",
    ),
    _K(
        "dynamic-cookie-key",
        "dlb",
        "Secret for `cookie … dynamic`: a server without a `cookie` value gets the XXH64 "
        "of key, address and port, as HAProxy computes it.",
    ),
    _K(
        "force-persist",
        "lb",
        "`if <cond>` or `unless <cond>`: a matching request follows its cookie even to a "
        "down server.",
    ),
    _K(
        "use-server",
        "lb",
        "`use-server <name or %[expr]> if <cond>` (or `unless`): the first matching rule "
        "whose server is not down takes the request, before its cookie, `stick match` "
        "and balancing.",
    ),
    _K(
        "ignore-persist",
        "lb",
        "`if <cond>` or `unless <cond>`: a matching request is balanced whatever its cookie says.",
    ),
    _K(
        "option persist",
        "dlb",
        "A cookie for a down server still sends the request there.",
        negatable=True,
    ),
    _K(
        "retry-on",
        "dlb",
        "What is retried: `conn-failure` (default), `none`, and in mode http for "
        "replayable requests `empty-response`, `junk-response`, `response-timeout`, "
        "status codes, `all-retryable-errors` (docs/stream-policy.md).",
    ),
    _K("default_backend", "dfl", "Backend used when no `use_backend` matches."),
    _K("use_backend", "fl", "`use_backend <name> [if/unless <cond>]`."),
    _K(
        "stick",
        "lb",
        "`stick <on, match, store-request or store-response> <sample> [table T] "
        "[if/unless …]`: a table keeps which server took a key (`store-response`: its "
        "key read from the answer's head in mode http, from the server's first bytes in "
        "mode tcp).",
    ),
    _K("acl", "flb", "`acl <name> <fetch> [flags] [operator] <value> …`."),
    _K(
        "http-request",
        "flb",
        "HTTP request rule (allow, deny, redirect, headers, request line rewrites, "
        "return, `use-service prometheus-exporter`).",
    ),
    _K(
        "http-response",
        "flb",
        "HTTP response rule (allow, deny, return, redirect location, set/add/del-header, "
        "replace-header, replace-value, set-status, set-var, set-var-fmt, unset-var, "
        "cache-store, set-log-level); the backend's run before the frontend's.",
    ),
    _K(
        "http-after-response",
        "flb",
        "Rule on every answer the client gets, the proxy's own included (allow, "
        "set/add/del-header, replace-header, replace-value, set-status, set-var, "
        "set-var-fmt, unset-var).",
    ),
    _K("tcp-request connection", "fl", "Layer-4 rule on new connections (accept/reject)."),
    _K("tcp-request session", "fl", "Rule once the session is set up (accept/reject)."),
    _K("tcp-request content", "flb", "Content rule (accept/reject/track-scN/set-var)."),
    _K("tcp-request inspect-delay", "flb", "How long content rules may wait for data."),
    _K(
        "tcp-response content",
        "lb",
        "Rule on the server's first bytes, mode tcp (accept/reject/close).",
        strict=True,
    ),
    _K(
        "tcp-response inspect-delay",
        "lb",
        "How long tcp-response rules may wait for the server's first bytes.",
        strict=True,
    ),
    _K("redirect", "flb", "`redirect location/prefix/scheme <x> [code N] [options] [cond]`."),
    _K(
        "errorfile",
        "dflb",
        "`errorfile <code> <file>`: full HTTP response sent for <code>; an empty file"
        " (`/dev/null`) closes the connection without an answer.",
    ),
    _K(
        "http-error",
        "dflb",
        "`http-error status <code> [content-type <t>] [<payload>] [hdr <n> <v>]*`, the "
        "payload being `string`, `file`, `errorfile`, `errorfiles` or `default-errorfiles`: "
        "the page the proxy answers <code> with.",
    ),
    _K(
        "errorfiles",
        "dflb",
        "`errorfiles <http-errors section> [<code> …]`: that section's pages (all, or the "
        "codes listed) replace the proxy's.",
    ),
    _K(
        "errorloc",
        "dflb",
        "`errorloc <code> <url>`: <code> is answered by a 302 redirect to <url>.",
    ),
    _K("errorloc302", "dflb", "`errorloc302 <code> <url>`: the same as `errorloc`."),
    _K(
        "errorloc303",
        "dflb",
        "`errorloc303 <code> <url>`: <code> is answered by a 303 redirect to <url>.",
    ),
    _K("log-format", "dfl", "Custom log line format."),
    _K("capture request header", "fl", "`capture request header <name> len <n>` for logs."),
    _K(
        "monitor-uri",
        "dfl",
        "A URI the proxy answers itself (200, not logged): a health check of the proxy.",
    ),
    _K(
        "unique-id-format",
        "dflb",
        "A log-format naming each request: the `unique-id` fetch and `%ID` read it.",
    ),
    _K(
        "unique-id-header",
        "dflb",
        "`unique-id-header <name>`: the request's unique ID is sent to the server in it.",
    ),
    _K("monitor", "fl", "`monitor fail if <cond>` (or `unless`): the monitor URI answers 503."),
    _K("capture response header", "fl", "`capture response header <name> len <n>` for logs."),
    _K(
        "declare capture",
        "fl",
        "`declare capture request|response len <n>`: a capture slot for `capture … id` rules.",
    ),
    _K(
        "compression algo",
        "dflb",
        "`gzip`, `deflate`, `raw-deflate`, `identity`: the encodings offered.",
    ),
    _K(
        "compression type",
        "dflb",
        "The Content-Types compressed (prefixes; default: any but multipart).",
    ),
    _K(
        "filter cache",
        "flb",
        "`filter cache <name>`: the cache's filter, declared where the rules would; "
        "it must come before `filter compression`.",
    ),
    _K(
        "filter compression",
        "flb",
        "The compression filter, declared explicitly: after every cache filter.",
    ),
    _K(
        "compression offload",
        "dflb",
        "The server gets no Accept-Encoding when the proxy compresses.",
    ),
    _K("tcp-check connect", "dlb", "A check step: `[default] [port P] [addr A] [ssl] [sni S] …`."),
    _K("tcp-check send", "dlb", "A check step: `send <string> [comment C]`."),
    _K("tcp-check send-binary", "dlb", "A check step: `send-binary <hex> [comment C]`."),
    _K("tcp-check send-lf", "dlb", "A check step: `send-lf <log-format>`."),
    _K("tcp-check send-binary-lf", "dlb", "A check step: `send-binary-lf <log-format of hex>`."),
    _K(
        "tcp-check expect",
        "dlb",
        "A check step: `[!] string`, `rstring`, `binary`, `rbinary` … `<pattern>`.",
    ),
    _K("tcp-check comment", "dlb", "Names the check steps that follow in messages."),
    _K("http-check send", "dlb", "Health check request: `[meth M] [uri U] [ver V] [hdr n v]*`."),
    _K("http-check expect", "dlb", "`[!] status/rstatus/string/rstring <pattern>`."),
    _K(
        "http-check disable-on-404",
        "dlb",
        "A 404 to the check of a server that is up puts it in NOLB (persistent traffic only).",
    ),
    _K(
        "http-check connect",
        "dlb",
        "Where and how HTTP checks connect: `[default] [port P] [addr A] [ssl] [sni S] "
        "[alpn L] [send-proxy] [linger]` (one such step per proxy).",
    ),
    _K(
        "http-check send-state",
        "dlb",
        "Checks tell the server its state as HAProxy sees it (`X-Haproxy-Server-State`).",
    ),
    _K(
        "stick-table",
        "flb",
        "`type <ip, ipv6, integer, string [len n] or binary [len n]> size <n> [expire <t>]"
        " [nopurge] [peers <section>] [store <data>,…]`: the proxy's table, for `track-sc*`"
        " and the table fetches; `peers` shares it with the section's members.",
    ),
    _K("stats enable", "dflb", "Serve the statistics page."),
    _K("stats uri", "dflb", "Statistics page path (default `/haproxy?stats`)."),
    _K("stats auth", "dflb", "`user:password` allowed on the statistics page."),
    _K("stats scope", "dflb", "`<proxy>` or `.` (this one): the page shows only these proxies."),
    _K(
        "stats admin",
        "flb",
        "`if <cond>` (or `unless`): the page offers server actions (ready, drain, maint, force "
        "up/down, kill sessions) to requests that match.",
    ),
    _K(
        "stats http-request",
        "flb",
        "`allow`, `deny` or `auth [realm r]`, with a condition: the page's own access rules (not "
        "with `stats auth`/`stats realm`, as in HAProxy).",
    ),
    _K("stats realm", "dflb", "Basic-auth realm of the statistics page."),
    _K("stats refresh", "dflb", "Statistics page auto-refresh delay."),
    _K("stats hide-version", "dflb", "Hide the version on the statistics page."),
    _K("stats show-node", "dflb", "Show the node name (`[name]`, else global `node`) on the page."),
    _K("stats show-desc", "dflb", "Show a description (`[text]`, else global `description`)."),
    _K("stats show-legends", "dflb", "Show each proxy's capabilities, mode and id on the page."),
    _K("timeout client", "dfl", "Client inactivity timeout."),
    _K("timeout client-fin", "dfl", "Client inactivity timeout once half-closed."),
    _K("timeout http-request", "dflb", "Time to receive a complete request head."),
    _K("timeout http-keep-alive", "dflb", "Idle time between keep-alive requests."),
    _K("timeout connect", "dlb", "Time to establish the server connection."),
    _K("timeout server", "dlb", "Server inactivity timeout."),
    _K("timeout server-fin", "dlb", "Server inactivity timeout once half-closed."),
    _K("timeout queue", "dlb", "Time a request may wait in a queue (default: connect)."),
    _K("timeout check", "dlb", "Extra read timeout of health checks (default: inter)."),
    _K("timeout tunnel", "dlb", "Inactivity timeout of tunnels (WebSocket, CONNECT)."),
    _K(
        "timeout tarpit",
        "dflb",
        "How long `http-request tarpit` holds a request before answering (default: connect).",
    ),
    _K("option httplog", "dfl", "HTTP log format (`clf`: Common Log Format).", negatable=True),
    _K(
        "option httpslog",
        "dfl",
        "HTTPS log format: `option httplog`'s line, then the connection's and TLS "
        "layer's error codes, session resumption, SNI, TLS version and cipher.",
    ),
    _K("option tcplog", "dfl", "TCP log format.", negatable=True),
    _K("option dontlognull", "dfl", "Do not log connections that sent no data.", negatable=True),
    _K(
        "option http-ignore-probes",
        "dfl",
        "A connection that sends nothing before `timeout http-request` is closed "
        "without a 408, a log line or a count (browsers' pre-connects).",
        negatable=True,
    ),
    _K(
        "option dontlog-normal",
        "dfl",
        "Log only the streams that report a problem (an error, a retry, a 5xx).",
        negatable=True,
    ),
    _K(
        "option logasap",
        "dfl",
        "Log a stream as soon as the server answers (mode http: its response head; "
        "mode tcp: the connection), its total time and bytes marked `+`.",
        negatable=True,
    ),
    _K(
        "option log-separate-errors",
        "dfl",
        "Log the streams that report a problem at level err instead of info.",
        negatable=True,
    ),
    _K("option forwardfor", "dflb", "Add `X-Forwarded-For` (`[except net] [header h] [if-none]`)."),
    _K(
        "option originalto",
        "dflb",
        "Add `X-Original-To`, the address the client connected to (`[except net] [header h]`).",
    ),
    _K(
        "option http-server-close",
        "dflb",
        "Close the server side after each response.",
        negatable=True,
    ),
    _K("option httpclose", "dflb", "Close both sides after each response.", negatable=True),
    _K("option http-keep-alive", "dflb", "Keep-alive on both sides (the default).", negatable=True),
    _K(
        "option http-buffer-request",
        "dflb",
        "Wait for the request body (up to `timeout http-request`) before the rules.",
        negatable=True,
    ),
    _K(
        "option http-pretend-keepalive",
        "dlb",
        "Requests on server connections closed after the answer (`http-server-close`, "
        "`httpclose`) announce keep-alive all the same (no `Connection: close`).",
        negatable=True,
    ),
    _K(
        "option disable-h2-upgrade",
        "dfl",
        "HTTP/2's connection preface on an HTTP/1 bind is a bad request (400): "
        "balancekit never upgrades a connection to HTTP/2, with or without it.",
        negatable=True,
    ),
    _K(
        "option checkcache",
        "dlb",
        "Block an answer that a shared cache could store with the cookie its server set "
        "(HAProxy's own page for its status, `PH`, and an alert in the backend's log).",
        negatable=True,
    ),
    _K(
        "option http-restrict-req-hdr-names",
        "dflb",
        "`preserve` (default), `delete` or `reject` (403) request headers whose name has a "
        "byte other than a letter, a digit or `-`, after the proxy's `http-request` rules.",
    ),
    _K("option clitcpka", "dfl", "SO_KEEPALIVE on client sockets.", negatable=True),
    _K("option srvtcpka", "dlb", "SO_KEEPALIVE on server sockets.", negatable=True),
    *(
        _K(f"{side}tcpka-{what}", "dflb", f"{meaning} ({where}).")
        for side, where in (("cli", "client sockets"), ("srv", "server sockets"))
        for what, meaning in (
            ("cnt", "Keep-alive probes sent before a silent peer is dropped"),
            ("idle", "Seconds of silence before the first keep-alive probe"),
            ("intvl", "Seconds between keep-alive probes"),
        )
    ),
    _K("option tcpka", "dflb", "SO_KEEPALIVE on both sides.", negatable=True),
    _K(
        "option abortonclose",
        "dlb",
        "A request whose client shut its side while it waited in the queue is dropped "
        "when its turn comes (`CC`, nothing answered) instead of being served.",
        negatable=True,
    ),
    _K("option redispatch", "dlb", "The last retry may go to another server.", negatable=True),
    _K("option allbackups", "dlb", "Use every backup server, not only the first.", negatable=True),
    _K("option httpchk", "dlb", "HTTP health checks: `[<method>] [<uri>] [<version>]`."),
    _K("option mysql-check", "dlb", "MySQL health checks: `[user <name>]`."),
    _K("option pgsql-check", "dlb", "PostgreSQL health checks: `user <name>`."),
    _K(
        "option external-check",
        "dlb",
        "Health checks run `external-check command` with HAProxy's arguments and environment; "
        "exit status 0 passes.",
    ),
    _K(
        "external-check command",
        "dlb",
        "The program an external check runs (a leading `/`, or found in `external-check path`).",
    ),
    _K("external-check path", "dlb", "`PATH` for the external check's program (default empty)."),
    _K("option tcp-check", "dlb", "Scripted health checks: the proxy's `tcp-check` steps."),
    _K("option redis-check", "dlb", "Redis health checks: `PING` answered `+PONG`."),
    _K(
        "option smtpchk",
        "dlb",
        "SMTP health checks: greeting, `HELO` (or `EHLO <domain>`), all 2xx.",
    ),
    _K("option ssl-hello-chk", "dlb", "An SSLv3 client hello answered by a TLS record."),
    _K("option ldap-check", "dlb", "LDAPv3 health checks: an anonymous bind answered success."),
    _K("option log-health-checks", "dlb", "Log health check state changes.", negatable=True),
    _K("option splice-auto", "dflb", "Kernel splicing.", ignored=_NO_SPLICE, negatable=True),
    _K("option splice-request", "dflb", "Kernel splicing.", ignored=_NO_SPLICE, negatable=True),
    _K("option splice-response", "dflb", "Kernel splicing.", ignored=_NO_SPLICE, negatable=True),
    _K("option tcp-smart-accept", "dfl", "TCP tuning.", ignored=_NO_SPLICE, negatable=True),
    _K("option tcp-smart-connect", "dlb", "TCP tuning.", ignored=_NO_SPLICE, negatable=True),
    _K(
        "option http-no-delay",
        "dflb",
        "Send HTTP data without waiting for more.",
        ignored="balancekit already sends each piece of a message as it has it, on sockets "
        "with TCP_NODELAY and without MSG_MORE: there is no wait to turn off",
        negatable=True,
    ),
)

#: `server` / `default-server` options (value-taking ones marked by `takes`).
SERVER_KEYWORDS: dict[str, str] = {
    "weight": "Weight 0..256 (default 1); 0 takes the server out of balancing.",
    "maxconn": "Maximum concurrent connections; excess requests queue.",
    "maxqueue": "Maximum queued requests for this server (0 = unlimited).",
    "cookie": "The value of the backend's persistence cookie that designates this server.",
    "backup": "Only used when no active server is usable.",
    "disabled": "Start in maintenance.",
    "enabled": "Start in service (cancels a `default-server disabled`).",
    "id": "Server id (puid) for hashing and stats; default is the position.",
    "check": "Enable active health checks.",
    "no-check": "Disable health checks (cancels a `default-server check`).",
    "inter": "Interval between checks (default 2s).",
    "fastinter": "Interval while a state change is in progress.",
    "downinter": "Interval while the server is down.",
    "rise": "Successful checks to go up (default 2).",
    "fall": "Failed checks to go down (default 3).",
    "port": "Port health checks connect to.",
    "addr": "Address health checks connect to.",
    "slowstart": "Ramp the weight up over this time after recovery.",
    "send-proxy": "Send a PROXY protocol v1 header first on each new connection and check.",
    "send-proxy-v2": "Send a PROXY protocol v2 header first on each new connection and check.",
    "observe": "Passive health: `layer4` or `layer7`.",
    "error-limit": "Consecutive observed errors before `on-error` (default 10).",
    "on-error": "`fastinter`, `fail-check`, `sudden-death` or `mark-down`.",
    "on-marked-down": "`shutdown-sessions`: cut the server's sessions when it stops.",
    "on-marked-up": "`shutdown-backup-sessions`: cut the backups' sessions when it comes up.",
    "ssl": "Talk TLS to the server (mode http, and health checks without `port`/`addr`).",
    "no-ssl": "Cancel a `default-server ssl`.",
    "verify": "`none` or `required` (the default, which needs `ca-file`) certificate verification.",
    "ca-file": "CA bundle used to verify the server (relative to `ca-base`).",
    "sni": "SNI sent to the server: a sample expression such as `str(name)` or `req.hdr(host)`.",
    "check-ssl": "Run health checks over TLS.",
    "no-check-ssl": "Health checks without TLS (undoes a `default-server` `check-ssl`).",
    "check-send-proxy": (
        "Health checks start with the server's PROXY header (v2 with `send-proxy-v2`), "
        "even on a `port` or `addr` of their own."
    ),
    "crt": "A client certificate (PEM with its key, relative to `crt-base`) for servers "
    "that ask for one.",
    "ciphers": "The TLS 1.2 cipher list offered; replaces `ssl-default-server-ciphers`.",
    "ciphersuites": "The TLS 1.3 cipher suites offered; replaces "
    "`ssl-default-server-ciphersuites`.",
    "ssl-min-ver": "The lowest TLS version offered (`TLSv1.2`…); TLSv1.2 without it.",
    "ssl-max-ver": "The highest TLS version offered.",
    **{f"no-tlsv1{minor}": f"Do not offer TLSv1.{minor}." for minor in range(4)},
    "no-sslv3": "Do not offer SSLv3 (never offered anyway).",
    **{f"force-tlsv1{minor}": f"Offer TLSv1.{minor} only." for minor in range(4)},
    "no-tls-tickets": "Do not ask the server for session tickets.",
    "tls-tickets": "Undo a `default-server` `no-tls-tickets`.",
    "alpn": "The ALPN protocols offered; in mode http only `http/1.1` (what balancekit "
    "speaks to servers) is kept.",
    "check-alpn": "The ALPN protocols health checks offer, instead of `alpn`'s.",
    "check-sni": "The SNI health checks send (a host name), instead of `sni`'s.",
    "no-backup": "Undo a `default-server` `backup`.",
    "no-send-proxy": "Undo a `default-server` `send-proxy`.",
    "no-send-proxy-v2": "Undo a `default-server` `send-proxy-v2`.",
    "resolve-prefer": (
        "`ipv4` or `ipv6` (the default): the family a server prefers among the records its "
        "`resolvers` find."
    ),
    "agent-check": (
        "Ask an agent for the server's state every `agent-inter`: a line of `up`, `down`, "
        "`drain`, `maint`, `ready`, `N%`, `maxconn:N`… (docs/health.md)."
    ),
    "no-agent-check": "Undo a `default-server` `agent-check`.",
    "agent-port": "The agent's TCP port (default: `port`); required with `agent-check`.",
    "agent-addr": "The agent's address (default: `addr`, else the server's).",
    "agent-inter": "Interval between agent checks (default: `inter`).",
    "agent-send": "A string sent to the agent on each connection before reading its line.",
    "init-addr": (
        "How a server name gets its address at start: `libc`, `last`, `none` (start in "
        "maintenance) or an IP, tried in order (default `last,libc`)."
    ),
    "resolvers": (
        "`resolvers <id>`: the `resolvers` section that keeps re-resolving the server's name "
        "while running (A/AAAA records; SRV records for a `server-template` of "
        "`_service._proto.name`)."
    ),
    "resolve-opts": (
        "`allow-dup-ip`, `ignore-weight` (SRV weights left alone), `prevent-dup-ip` "
        "(comma-separated)."
    ),
    "resolve-net": (
        "Comma-separated networks whose addresses a server prefers among its name's records."
    ),
}

#: `bind` options.
BIND_KEYWORDS: dict[str, str] = {
    "ssl": "Terminate TLS on this address (needs `crt`).",
    "crt": "Certificate+key PEM file, repeatable (relative to `crt-base`).",
    "accept-proxy": "Expect a PROXY protocol v1/v2 header from the client.",
    "name": "Name of this listener (logs, stats).",
    "alpn": (
        "Comma-separated ALPN protocols offered with `ssl`. In mode http only `http/1.1` "
        "and `http/1.0` are offered (`h2` is dropped with a warning: balancekit-server "
        "speaks HTTP/1.1)."
    ),
    "v4v6": "Accept IPv4 too on an IPv6 wildcard address.",
    "v6only": "Accept IPv6 only on an IPv6 address.",
    "ssl-min-ver": "The lowest TLS version offered (`SSLv3` … `TLSv1.3`; default TLSv1.2).",
    "ssl-max-ver": "The highest TLS version offered.",
    "no-sslv3": "Refuse SSLv3 (never offered anyway).",
    "no-tlsv10": "Refuse TLS 1.0.",
    "no-tlsv11": "Refuse TLS 1.1.",
    "no-tlsv12": "Refuse TLS 1.2.",
    "no-tlsv13": "Refuse TLS 1.3.",
    "force-tlsv10": "Offer TLS 1.0 only.",
    "force-tlsv11": "Offer TLS 1.1 only.",
    "force-tlsv12": "Offer TLS 1.2 only.",
    "force-tlsv13": "Offer TLS 1.3 only.",
    "no-tls-tickets": "No TLS session tickets.",
    "prefer-client-ciphers": "The client's cipher order wins over the server's.",
    "ciphers": "The TLS 1.2 cipher list (OpenSSL syntax); replaces `ssl-default-bind-ciphers`.",
    "ciphersuites": "The TLS 1.3 cipher suites accepted; replaces `ssl-default-bind-ciphersuites`.",
    "curves": "The key exchange groups accepted (`X25519:P-256`); replaces "
    "`ssl-default-bind-curves`.",
    "ca-file": "CA certificates client certificates are verified against (`verify`).",
    "verify": (
        "`none` (default), `optional` or `required`: ask for a client certificate, verified "
        "against `ca-file` (`ssl_c_*` fetches)."
    ),
    "crt-list": (
        "A file of certificates, one per line: `<crt> [[alpn|ciphers|ssl-min-ver|ssl-max-ver|"
        "verify|ca-file …]] [[!]<sni filter>…]`."
    ),
    "strict-sni": "Refuse a handshake whose SNI matches no certificate (alert unrecognized_name).",
    "tfo": "TCP Fast Open: clients may send data in their SYN (queue: the listener's backlog).",
    "defer-accept": "A connection is accepted once its first bytes arrive (TCP_DEFER_ACCEPT).",
    "mss": "`mss <1-65535>`: the TCP maximum segment size announced to clients.",
    "tcp-ut": "`tcp-ut <time>`: TCP_USER_TIMEOUT on accepted connections.",
    "backlog": "`backlog <n>`: the listen queue (default: the frontend's `backlog`, else its "
    "`maxconn`).",
}

#: Every `bind` option of HAProxy 2.6 (configuration.txt 5.1): those balancekit
#: lacks are named as unsupported, never "did you mean".
_BIND_OPTION_NAMES = """
    accept-netscaler-cip accept-proxy allow-0rtt alpn backlog ca-ignore-err ca-sign-file
    ca-sign-pass ca-file ca-verify-file ciphers ciphersuites client-sigalgs crl-file crt
    crt-ignore-err crt-list curves defer-accept expose-fd force-sslv3 force-tlsv10
    force-tlsv11 force-tlsv12 force-tlsv13 generate-certificates gid group id interface level
    maxconn mode mss name namespace nbconn nice no-ca-names no-sslv3 no-tls-tickets no-tlsv10
    no-tlsv11 no-tlsv12 no-tlsv13 npn prefer-client-ciphers process proto quic-cc-algo
    quic-force-retry severity-output sigalgs ssl ssl-max-ver ssl-min-ver strict-sni tcp-ut
    tfo thread tls-ticket-keys transparent uid user v4v6 v6only verify
"""
HAPROXY_BIND_OPTIONS = frozenset(_BIND_OPTION_NAMES.split())

#: The keywords of a `userlist` section (cfg_parse_users), with their meaning.
USERLIST_KEYWORDS = {
    "user": "`user <name> [password <crypt hash> or insecure-password <text>] [groups <g>,…]`.",
    "group": "`group <name> [users <user>,…]`: membership may be given on either side.",
}

#: The keywords of a `peers` section (cfg_parse_peers), with their meaning.
PEERS_KEYWORDS = {
    "peer": "`peer <name> <addr>:<port>`: a member of the fleet; the one named as this "
    "process (`-L`, `localpeer`, else the host name) is where it listens.",
    "server": "`server <name> [<addr>:<port>]`: a member, with `bind` giving the local "
    "listener (the local one's address may be left out).",
    "bind": "`bind <addr>:<port>`: where this process listens for its peers (with `server`).",
    "table": "`table <name> type … size … [expire …] [store …]`: a table of this section, "
    "referred to as `<section>/<name>`.",
    "disabled": "The section is off: its tables are not synced.",
    "enabled": "The section is on (undoes a `disabled` above).",
}

#: The keywords of a `cache` section (cfg_parse_cache), with their meaning.
CACHE_KEYWORDS = {
    "total-max-size": "`total-max-size <megabytes>`: the room for stored answers (required).",
    "max-object-size": "`max-object-size <bytes>`: the largest answer stored (default: a "
    "256th of the total, at most half of it).",
    "max-age": "`max-age <seconds>`: the longest an answer is kept (default 60), shortened "
    "by its own `s-maxage`, `max-age` or `Expires`.",
    "process-vary": "`process-vary on` or `off`: whether answers with a `Vary` header on "
    "`accept-encoding` and `referer` are stored, several per URI (default off: none is).",
    "max-secondary-entries": "`max-secondary-entries <n>`: how many varied answers one URI "
    "may have (default 10).",
}

#: The keywords of a `resolvers` section (cfg_parse_resolvers), with their meaning.
RESOLVERS_KEYWORDS = {
    "nameserver": "`nameserver <id> <ip>:<port>`: a nameserver queried over UDP.",
    "parse-resolv-conf": "Add the nameservers of /etc/resolv.conf.",
    "hold": "`hold <event> <time>`: `valid` is how often names are re-resolved (default 10s); "
    "`nx`, `refused`, `timeout`, `other` how long servers keep their address once their "
    "name fails that way (30s); `obsolete` how long an SRV record missing from the "
    "answers keeps its server (0).",
    "resolve_retries": "`resolve_retries <n>`: queries sent before a name is said to time "
    "out (default 3).",
    "timeout": "`timeout resolve <time>` (default 1s; the wait between resolutions when no "
    "`hold valid` applies) and `timeout retry <time>` (1s; the wait for an answer before "
    "asking again).",
    "accepted_payload_size": "`accepted_payload_size <n>`: the EDNS0 payload size announced "
    "(512 to 65535; default 512).",
}

#: The keywords of an `http-errors` section (cfg_parse_http_errors), with their meaning.
HTTP_ERRORS_KEYWORDS = {
    "errorfile": "`errorfile <code> <file>`: the section's page for <code>, used by "
    "`errorfiles` lines and by replies' `errorfiles <section>`.",
}

#: Status codes `errorfile` accepts in HAProxy 2.6.
ERRORFILE_CODES = (
    200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 421, 422, 425, 429, 500, 501, 502, 503, 504,
)  # fmt: skip

#: Real HAProxy keywords balancekit does not implement: an error, but a precise one.
_HAPROXY_ONLY_NAMES = """bind-process
    disabled dispatch
    email-alert enabled error-log-format
    http-reuse
    http-send-name-header log-format-sd log-tag
    max-keep-alive-queue persist rate-limit
    source
    use-fcgi-app mailers program
    ring nbproc cpu-map lua-load
    default-bind
    close-spread-time default-path grace h1-accept-payload-with-any-method h1-case-adjust
    h1-case-adjust-file httpclient.resolvers.id httpclient.resolvers.prefer
    httpclient.ssl.ca-file httpclient.ssl.verify issuers-chain-path lua-load-per-thread
    lua-prepend-path maxsslconn pp2-never-send-local ssl-load-extra-del-ext
    ssl-load-extra-files ssl-mode-async ssl-propquery ssl-provider ssl-provider-path
    ssl-skip-self-issued-ca thread-group thread-groups tune.ssl.keylog cluster-secret
    maxconnrate maxsessrate maxsslrate maxcomprate
    max-session-srv-conns transparent usesrc"""
_HAPROXY_ONLY_FAMILY = """capture cookie|filter trace|filter spoe|filter fcgi-app|
filter bwlim-in|filter bwlim-out|http-check comment|
http-check set-var|http-check set-var-fmt|http-check unset-var|
option accept-invalid-http-request|option accept-invalid-http-response|
option contstats|
option h1-case-adjust-bogus-client|option h1-case-adjust-bogus-server|
option http-use-proxy-header|option independent-streams|
option nolinger|
option prefer-last-server|
option socket-stats|option spop-check|tcp-check set-var|tcp-check set-var-fmt|tcp-check unset-var|
option transparent|
option idle-close-on-response|stats maxconn|
stats bind-process"""
#: Every `server`/`default-server` option of HAProxy 2.6 (configuration.txt 5.2);
#: those balancekit lacks are named as unsupported, never "did you mean".
_SERVER_OPTION_NAMES = """
    agent-addr agent-check agent-inter agent-port agent-send allow-0rtt alpn backup ca-file
    check check-alpn check-proto check-send-proxy check-sni check-ssl check-via-socks4 ciphers
    ciphersuites cookie crl-file crt disabled downinter enabled error-limit fall fastinter
    force-sslv3 force-tlsv10 force-tlsv11 force-tlsv12 force-tlsv13 id init-addr inter
    log-proto max-reuse maxconn maxqueue minconn namespace no-agent-check no-backup no-check
    no-check-ssl no-send-proxy no-send-proxy-v2 no-send-proxy-v2-ssl no-send-proxy-v2-ssl-cn
    no-ssl no-ssl-reuse no-sslv3 no-tfo no-tls-tickets no-tlsv10 no-tlsv11 no-tlsv12 no-tlsv13
    no-verifyhost non-stick npn observe on-error on-marked-down on-marked-up pool-low-conn
    pool-max-conn pool-purge-delay port proto proxy-v2-options redir resolve-net resolve-opts
    resolve-prefer resolvers rise send-proxy send-proxy-v2 send-proxy-v2-ssl
    send-proxy-v2-ssl-cn slowstart sni socks4 source ssl ssl-max-ver ssl-min-ver ssl-reuse
    stick tcp-ut tfo tls-tickets track verify verifyhost weight ws addr
"""
HAPROXY_SERVER_OPTIONS = frozenset(_SERVER_OPTION_NAMES.split())

HAPROXY_ONLY = frozenset(
    _HAPROXY_ONLY_NAMES.split()
    + [name.strip() for name in _HAPROXY_ONLY_FAMILY.replace("\n", "").split("|")]
)

#: Proxy keywords HAProxy 2.6 itself refuses, with the way it points to their
#: replacement (cfgparse-listen.c): old configs get the same advice from balancekit.
_REPLACED_IN_2_1 = {
    "block": "'http-request deny' which uses the exact same syntax",
    "cliexp": "'http-request replace-path', 'http-request replace-uri' or "
    "'http-request replace-header'",
    "reqadd": "'http-request add-header'",
    "reqallow": "'http-request allow'",
    "reqiallow": "'http-request allow'",
    "reqdel": "'http-request del-header'",
    "reqidel": "'http-request del-header'",
    "reqdeny": "'http-request deny'",
    "reqideny": "'http-request deny'",
    "reqipass": "",
    "reqpass": "",
    "reqrep": "'http-request replace-path', 'http-request replace-uri' or "
    "'http-request replace-header'",
    "reqirep": "'http-request replace-header'",
    "reqtarpit": "'http-request tarpit'",
    "reqitarpit": "'http-request tarpit'",
    "rspadd": "'http-response add-header'",
    "rspdel": "'http-response del-header'",
    "rspidel": "'http-response del-header'",
    "rspdeny": "'http-response deny'",
    "rspideny": "'http-response deny'",
    "rsprep": "'http-response replace-header'",
    "rspirep": "'http-response replace-header'",
    "srvexp": "'http-response replace-header'",
    "redisp": "'option redispatch'",
    "redispatch": "'option redispatch'",
    "clitimeout": "'timeout client'",
    "contimeout": "'timeout connect'",
    "srvtimeout": "'timeout server'",
}
REMOVED: dict[str, str] = {
    **{
        name: f"the '{name}' directive is not supported anymore since HAProxy 2.1"
        + (f". Use {use} instead." if use else ".")
        for name, use in _REPLACED_IN_2_1.items()
    },
    "appsession": "'appsession' is not supported anymore since HAProxy 1.6.",
    "monitor-net": "'monitor-net' doesn't exist anymore. Please use "
    "'http-request return status 200 if { src <net> }' instead.",
    "tune.chksize": "option 'tune.chksize' is not supported any more "
    "(tune.bufsize is used instead).",
}

_BY_NAME: dict[str, Keyword] = {k.name: k for k in KEYWORDS}


def lookup(words: tuple[str, ...]) -> tuple[str, Keyword | None, int]:
    """Find the keyword a line starts with: (name, entry or None, words it spans)."""
    head = words[0]
    if head in FAMILIES and len(words) > 1:
        for span in (3, 2):  # `capture request header` spans three words
            name = " ".join(words[:span])
            if name in _BY_NAME:
                return name, _BY_NAME[name], span
        return f"{head} {words[1]}", None, 2
    return head, _BY_NAME.get(head), 1


def suggest(name: str, section: str) -> str:
    """' (did you mean 'x'?)' for the closest keyword valid in `section`, or ''."""
    letter = SECTION_LETTER[section]
    candidates = [k.name for k in KEYWORDS if letter in k.sections]
    candidates += ["global", "defaults", "frontend", "backend", "listen"]
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def keyword(name: str) -> Keyword:
    """The table entry for `name` (KeyError if absent)."""
    return _BY_NAME[name]
