# ruff: noqa: RUF005  (tuple concatenation reads best in a table of requests)
"""The conformance matrix: one row per behaviour, run through HAProxy and balancekit.

A row is a config template (placeholders: see `runner.py`), the requests to send,
what to compare, the backend kinds to run it against, and `covers`: the
keywords, server/bind options, fetches, converters, algorithms, actions and ACL
flags it exercises (`test_coverage.py` checks that every implemented one is
covered).  Coverage names:

- a `KEYWORDS` name as written there: `bind`, `timeout connect`, `option forwardfor`;
- `server:<opt>`, `bind:<opt>` — `server`/`default-server` and `bind` options;
- `fetch:<name>`, `conv:<name>` — sample fetches and converters;
- `balance:<algo>`, `hash:<method>`, `hashfn:<function>`;
- `action:<name>` — `http-request` actions; `http-response:<name>`,
  `http-after-response:<name>` — theirs; `match:<method>`, `flag:<flag>` — ACLs.

When balancekit differs from HAProxy on a row, the row stays as it is and gets
`xfail="<the divergence>"` (strict), and DIVERGENCES.md says more.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from dataclasses import dataclass, field, replace
from urllib.parse import quote

ALL_KINDS = ("httpserver", "gunicorn", "flask", "nginx")
#: Kinds that report every request header line and the body (nginx reports a few headers).
ECHO_KINDS = ("httpserver", "gunicorn", "flask")
#: Rows that need the backend's special behaviour (PROXY header, TLS, naming itself on
#: non-HTTP input) run against the `http.server` kind only.
RAW_KIND = ("httpserver",)

DEFAULT_COMPARE = frozenset({"status", "headers", "body", "closed", "log", "tls", "command"})


@dataclass(frozen=True)
class Req:
    """One request (or, with `raw`, bytes) sent on a new or named connection."""

    path: str = "/echo"
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    version: str = "HTTP/1.1"
    host: str | None = "example.test"
    #: Keep the connection open under this name; later requests with it reuse it.
    conn: str | None = None
    #: Client source address (any 127.x.y.z).
    src: str | None = None
    bind: str = "main"
    tls: bool = False
    sni: str | None = None
    alpn: tuple[str, ...] = ()
    tls_max: str | None = None
    #: The client's TLS 1.2 cipher list (OpenSSL syntax): only these are offered.
    tls_ciphers: str | None = None
    #: Check the server's certificate against the name sent (False: accept any).
    tls_verify: bool = True
    #: Present the session's client certificate (`Certs.client`).
    client_cert: bool = False
    #: Connect and close at once without sending anything (a "null" connection).
    close_now: bool = False
    #: Bytes sent first on a new connection (a PROXY protocol header).
    proxy: bytes | None = None
    #: Send these bytes instead of a request, read until the proxy closes.
    raw: bytes | None = None
    #: With `raw`: more bytes sent `pause` seconds after it (a slow body).
    then: bytes = b""
    pause: float = 0.0
    half_close: bool = False
    #: With `half_close`: seconds between the last bytes and the shutdown, so that
    #: the proxy has read the request before the FIN comes.
    shut_after: float = 0.0
    #: With `half_close`: `raw` and the FIN leave in one TCP segment (TCP_CORK), so the
    #: proxy reads them together, as from `printf … | nc -N` on a busy network.
    corked: bool = False
    #: `raw` holds several pipelined requests: parse every response that comes back.
    pipelined: bool = False
    #: Seconds to sleep before this request.
    wait: float = 0.0
    timeout: float = 5.0
    #: After the response, wait briefly to see whether the proxy closes the connection.
    check_close: bool = False
    #: A runtime API command sent to the stats socket instead of a request.
    command: str | None = None


@dataclass(frozen=True)
class Par:
    """Requests sent concurrently, each on its own connection, `stagger` s apart."""

    reqs: tuple[Req, ...]
    stagger: float = 0.05


@dataclass(frozen=True)
class Row:
    id: str
    covers: tuple[str, ...]
    config: str
    requests: tuple[Req | Par, ...]
    compare: frozenset[str] = DEFAULT_COMPARE
    kinds: tuple[str, ...] = ALL_KINDS
    files: dict[str, bytes] = field(default_factory=dict)
    #: Seconds to wait after both started (health checks).
    settle: float = 0.0
    #: Text replacements for one side only, each justified in the row's comment.
    haproxy_edits: tuple[tuple[str, str], ...] = ()
    balancekit_edits: tuple[tuple[str, str], ...] = ()
    #: Compare header names with their case (else lower-cased).
    exact_case: bool = False
    #: Compare only these response headers (lower-case names); None: all but Date.
    response_headers: frozenset[str] | None = None
    #: Compare only the first lines of a body (or of a runtime API answer).
    body_lines: int | None = None
    #: Compare only what this regex finds in a body or runtime API answer (one line per
    #: match): for pages whose layout is balancekit's own but whose facts are HAProxy's.
    extract: str = ""
    #: (regex, replacement) applied to runtime API answers (addresses in memory, timers).
    command_subs: tuple[tuple[str, str], ...] = ()
    #: Keep only log lines matching this regex.
    log_filter: str = ""
    #: (regex, replacement) applied to log lines, for fields pinned by another row.
    log_subs: tuple[tuple[str, str], ...] = ()
    #: Compare the log lines sorted: for events HAProxy's threads log in either order.
    log_sorted: bool = False
    #: Compare response headers in order (False: sorted by name; the order of generated
    #: responses is pinned by the `generated-response-header-order` row).
    header_order: bool = True
    #: A known divergence: the row is expected to fail (strict) ...
    xfail: str = ""
    #: ... on these backend kinds only (default: all of the row's kinds).
    xfail_kinds: tuple[str, ...] = ()
    #: ... and every difference must match this regex (a diff path such as
    #: `.requests[0].echo.version`); a row failing in another way is a real failure.
    diverges: str = ""


# --------------------------------------------------------------------------- helpers

GLOBAL = """global
    stats socket {stats} level admin
"""

DEFAULTS = """defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
"""


def http_cfg(
    frontend: str = "",
    backend: str = "",
    servers: str = "    server s1 {s1}\n",
    *,
    defaults: str = "",
    global_: str = "",
    extra: str = "",
) -> str:
    """global + defaults + `frontend fe` (bind main) → `backend be` + `extra` sections."""
    return (
        GLOBAL
        + global_
        + DEFAULTS
        + defaults
        + "frontend fe\n    bind {bind:main}\n"
        + frontend
        + "    default_backend be\n"
        + "backend be\n"
        + backend
        + servers
        + extra
    )


def three(extra: str = "", names: tuple[str, ...] = ("s1", "s2", "s3")) -> str:
    return "".join(f"    server {n} {{{n}}} {extra}".rstrip() + "\n" for n in names)


def get(path: str = "/echo", **kw: object) -> Req:
    return Req(path=path, **kw)  # type: ignore[arg-type]


def seq(n: int, path: str = "/echo", **kw: object) -> tuple[Req, ...]:
    return tuple(Req(path=path, **kw) for _ in range(n))  # type: ignore[arg-type]


STD = (
    get("/echo?a=1&b=two", headers=(("X-Test", "1"), ("Accept", "*/*"))),
    Req("/echo/post", method="POST", body=b"hello=world", headers=(("Content-Type", "text/x"),)),
)
SERVER_ONLY = frozenset({"status", "server"})

# --------------------------------------------------------------------------- rows

ROWS: list[Row] = []


def row(*args: object, **kw: object) -> Row:
    made = Row(*args, **kw)  # type: ignore[arg-type]
    ROWS.append(made)
    return made


# -- basics --------------------------------------------------------------------------------

row(
    "http-basic",
    ("mode", "bind", "server", "default_backend", "timeout client", "timeout connect",
     "timeout server", "stats socket"),
    http_cfg(),
    STD
    + (
        Req("/echo/put", method="PUT", body=b"x" * 3000),
        Req("/echo/del?x", method="DELETE"),
        Req("/echo/opt", method="OPTIONS"),
        get("/echo", headers=(("X-Dup", "a"), ("X-Dup", "b"), ("x-MiXeD", "c"))),
        get("/status/404"),
        get("/status/503"),
    ),
)  # fmt: skip

row(
    "head-response",
    ("mode", "bind"),
    http_cfg(),
    (Req("/echo", method="HEAD"), Req("/status/404", method="HEAD")),
)

row(
    "http-chunked-request",
    ("mode", "bind"),
    http_cfg(),
    (
        Req(
            "/echo/chunked",
            method="POST",
            headers=(("Transfer-Encoding", "chunked"),),
            body=b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        ),
    ),
    kinds=ECHO_KINDS,
)

row(
    "http-1.0",
    ("mode", "bind"),
    http_cfg(),
    (get("/echo", version="HTTP/1.0"), get("/echo?again", version="HTTP/1.0")),
)
row(
    "http-1.0-no-host",
    ("mode", "bind"),
    http_cfg(),
    (get("/echo", version="HTTP/1.0", host=None),),
)

row(
    "header-name-case",
    ("mode",),
    http_cfg(),
    (get("/echo", headers=(("X-Custom-Header", "v"), ("accept", "*/*"))),),
    kinds=RAW_KIND,
    exact_case=True,
    xfail="header names: HAProxy 2.6 lower-cases every header name it forwards (request "
    "and response); balancekit keeps the case they arrived in (documented in docs/http.md)",
    diverges=r"\]\[0\]: ",
)

row(
    "connection-other-tokens",
    ("mode",),
    http_cfg(),
    (get("/echo", headers=(("Connection", "keep-alive, Upgrade"),)),),
    kinds=RAW_KIND,
    xfail="Connection tokens other than close/keep-alive: HAProxy 2.6 forwards them "
    "(`connection: Upgrade` without an Upgrade header); balancekit drops the hop-by-hop "
    "Connection header",
    diverges=r"\.echo\.headers",
)

row(
    "pipelined-requests",
    ("mode", "bind"),
    http_cfg(),
    (
        Req(
            raw=b"GET /echo?one HTTP/1.1\r\nHost: a\r\n\r\n"
            b"GET /echo?two HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            pipelined=True,
        ),
    ),
    kinds=ECHO_KINDS,
)
row(
    "expect-100-continue",
    ("mode", "bind"),
    http_cfg(),
    (Req("/echo", method="POST", body=b"data", headers=(("Expect", "100-continue"),)),),
    kinds=ECHO_KINDS,
)
row(
    "odd-methods",
    ("mode", "bind"),
    http_cfg(),
    (Req("/echo", method="PATCH"), Req("/echo", method="PURGE"), Req("/echo", method="post")),
    kinds=ECHO_KINDS,
)
row(
    "oversized-head",
    ("mode", "bind"),
    http_cfg(),
    (get("/echo", headers=(("X-Big", "x" * 20000),)), get("/echo")),
)
row(
    "content-length-and-chunked",
    ("mode", "bind"),
    http_cfg(),
    (
        Req(
            "/echo",
            method="POST",
            headers=(("Content-Length", "3"), ("Transfer-Encoding", "chunked")),
            body=b"3\r\nabc\r\n0\r\n\r\n",
        ),
    ),
    kinds=ECHO_KINDS,
    xfail="Content-Length together with Transfer-Encoding: chunked: HAProxy drops the length "
    "and forwards the chunked body; balancekit refuses the request with 400 (deliberate, "
    "docs/http.md: both are smuggling-safe)",
    diverges=r"^\.requests\[0\]\.",
)
row(
    "response-chunked",
    ("mode", "bind"),
    http_cfg(),
    (get("/echo/chunked"), get("/echo/chunked?again", check_close=True)),
    kinds=RAW_KIND,
)
row(
    "chunked-trailers",
    ("mode", "bind"),
    http_cfg(),
    (
        get("/echo/chunked-trailer"),
        Req(
            "/echo/trailer",
            method="POST",
            headers=(("Transfer-Encoding", "chunked"),),
            body=b"3\r\nabc\r\n0\r\nX-Req-Trailer: r\r\n\r\n",
        ),
    ),
    kinds=RAW_KIND,
)
row(
    "response-close-delimited",
    ("mode", "bind"),
    http_cfg(),
    (get("/echo/close-delimited", check_close=True),),
    kinds=RAW_KIND,
)
row(
    "head-chunked-response",
    ("mode", "bind"),
    http_cfg(),
    (Req("/echo/chunked", method="HEAD"),),
    kinds=RAW_KIND,
)
row(
    "large-bodies",
    ("mode", "bind"),
    http_cfg(),
    (
        Req("/echo/big", method="POST", body=bytes(range(32, 127)) * 3000),
        Req(
            "/echo/big-chunked",
            method="POST",
            headers=(("Transfer-Encoding", "chunked"),),
            body=b"".join(b"1000\r\n" + b"z" * 4096 + b"\r\n" for _ in range(40)) + b"0\r\n\r\n",
        ),
    ),
    kinds=ECHO_KINDS,
)
row(
    "server-closes-502",
    ("server", "log-format"),
    http_cfg(
        global_="    log {log} format raw local0\n",
        defaults="    log global\n",
        frontend='    log-format "%ST %ts %b/%s %rc"\n',
        servers="    server c1 {c1}\n",
    ),
    (get("/echo"), Req("/echo", method="POST", body=b"abc")),
    kinds=RAW_KIND,
)
row(
    "keep-alive-default",
    ("option http-keep-alive",),
    http_cfg(defaults="    option http-keep-alive\n"),
    (
        get("/echo", conn="a"),
        get("/echo?second", conn="a"),
        get("/echo?third", conn="a", check_close=True),
    ),
)

row(
    "http-server-close",
    ("option http-server-close",),
    http_cfg(backend="    option http-server-close\n"),
    (get("/echo", conn="a"), get("/echo?second", conn="a", check_close=True)),
)

row(
    "http-server-close-frontend",
    ("option http-server-close",),
    http_cfg(frontend="    option http-server-close\n"),
    (get("/echo", conn="a"), get("/echo?second", conn="a", check_close=True)),
)

row(
    "httpclose",
    ("option httpclose",),
    http_cfg(defaults="    option httpclose\n"),
    (get("/echo", conn="a", check_close=True), get("/echo?again", conn="b", check_close=True)),
)

row(
    "no-httpclose",
    ("option httpclose",),
    http_cfg(defaults="    option httpclose\n", backend="    no option httpclose\n"),
    (get("/echo", conn="a", check_close=True),),
)

# -- option forwardfor ---------------------------------------------------------------------

XFF_REQS = (
    get("/echo"),
    get("/echo", headers=(("X-Forwarded-For", "203.0.113.7"),)),
    get("/echo", src="127.0.0.2"),
)
row(
    "forwardfor-defaults",
    ("option forwardfor",),
    http_cfg(defaults="    option forwardfor\n"),
    XFF_REQS,
)
row(
    "forwardfor-frontend",
    ("option forwardfor",),
    http_cfg(frontend="    option forwardfor\n"),
    XFF_REQS,
)
row(
    "forwardfor-backend",
    ("option forwardfor",),
    http_cfg(backend="    option forwardfor\n"),
    XFF_REQS,
)
row(
    "forwardfor-except",
    ("option forwardfor",),
    http_cfg(frontend="    option forwardfor except 127.0.0.2/32\n"),
    XFF_REQS,
)
row(
    "forwardfor-header",
    ("option forwardfor",),
    http_cfg(backend="    option forwardfor header X-Client-IP\n"),
    XFF_REQS + (get("/echo", headers=(("X-Client-IP", "198.51.100.1"),)),),
)
row(
    "forwardfor-if-none",
    ("option forwardfor",),
    http_cfg(frontend="    option forwardfor if-none\n"),
    XFF_REQS,
)
row(
    "forwardfor-frontend-and-backend",
    ("option forwardfor",),
    http_cfg(
        frontend="    option forwardfor header X-Fe if-none\n",
        backend="    option forwardfor header X-Be\n",
    ),
    XFF_REQS + (get("/echo", headers=(("X-Be", "1.2.3.4"),)),),
)

# -- configuration grammar on the live path ------------------------------------------------

row(
    "config-grammar",
    ("http-request", "action:set-header", "option forwardfor", "option http-server-close", "mode"),
    GLOBAL
    + """defaults base
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    option forwardfor header X-From-Base
    option http-server-close
defaults other from base
    no option http-server-close
frontend fe from base
    bind {bind:main}
    http-request set-header X-Quoted "a b # not a comment"
    http-request set-header X-Single 'single $HOME \\t'
    http-request set-header X-Escaped a\\ b\\#c
    http-request set-header X-Glued pre"fix "post
    http-request set-header X-Default "${BK_CONFORMANCE_UNSET-fallback}"
    http-request set-header X-Section "$.SECTION"
.if version_atleast(2.5)
    http-request set-header X-If new
.elif defined(HOME)
    http-request set-header X-If home
.else
    http-request set-header X-If old
.endif
.if streq(a,b) || !defined(BK_CONFORMANCE_UNSET)
    http-request set-header X-Cond yes
.endif
    default_backend be
backend be from other
    server s1 {s1}
""",
    (get("/echo"),),
    kinds=ECHO_KINDS,
)

# -- balance algorithms and hashing ---------------------------------------------------------

row(
    "balance-roundrobin",
    ("balance", "balance:roundrobin"),
    http_cfg(backend="    balance roundrobin\n", servers=three()),
    seq(6),
    compare=SERVER_ONLY,
)
row(
    "balance-roundrobin-weights",
    ("server:weight", "balance:roundrobin"),
    http_cfg(
        backend="    balance roundrobin\n",
        servers="    server s1 {s1} weight 1\n    server s2 {s2} weight 2\n"
        "    server s3 {s3} weight 3\n",
    ),
    seq(12),
    compare=SERVER_ONLY,
)
row(
    "balance-weight-zero",
    ("server:weight",),
    http_cfg(servers="    server s1 {s1} weight 0\n    server s2 {s2}\n"),
    seq(3),
    compare=SERVER_ONLY,
)
row(
    "balance-static-rr",
    ("balance:static-rr", "server:weight"),
    http_cfg(
        backend="    balance static-rr\n",
        servers="    server s1 {s1} weight 2\n    server s2 {s2}\n    server s3 {s3}\n",
    ),
    seq(8),
    compare=SERVER_ONLY,
)
row(
    "balance-leastconn",
    ("balance:leastconn",),
    http_cfg(backend="    balance leastconn\n", servers=three()),
    seq(6, wait=0.05),
    compare=SERVER_ONLY,
)
row(
    "balance-leastconn-busy",
    ("balance:leastconn",),
    http_cfg(backend="    balance leastconn\n", servers=three()),
    (Par((get("/sleep/900"), get("/sleep/900"), get("/echo")), stagger=0.2),),
    compare=SERVER_ONLY,
    kinds=ECHO_KINDS,
)
row(
    "balance-first",
    ("balance:first", "server:maxconn"),
    http_cfg(backend="    balance first\n", servers=three("maxconn 1")),
    # `wait`: a finished request's slot is released just after its response is sent
    seq(3, wait=0.05) + (Par((get("/sleep/900"), get("/sleep/900"), get("/echo")), stagger=0.2),),
    compare=SERVER_ONLY,
    kinds=ECHO_KINDS,
)
row(
    "balance-source",
    ("balance:source", "hash-type", "hash:map-based"),
    http_cfg(backend="    balance source\n    hash-type map-based\n", servers=three()),
    tuple(get("/echo", src=f"127.0.0.{i}") for i in range(1, 12)),
    compare=SERVER_ONLY,
)
row(
    "balance-source-consistent",
    ("balance:source", "hash-type", "hash:consistent"),
    http_cfg(backend="    balance source\n    hash-type consistent\n", servers=three()),
    tuple(get("/echo", src=f"127.0.0.{i}") for i in range(1, 12)),
    compare=SERVER_ONLY,
)
URIS = tuple(
    get(p)
    for p in ("/a", "/b/c", "/b/c?x=1", "/d/e/f", "/img/1.png", "/x?y", "/zz/yy/xx", "/", "/q")
)
row(
    "balance-uri",
    ("balance:uri",),
    http_cfg(backend="    balance uri\n", servers=three()),
    URIS,
    compare=SERVER_ONLY,
)
row(
    "balance-uri-whole-depth-len",
    ("balance:uri",),
    http_cfg(backend="    balance uri depth 2 len 5 whole\n", servers=three()),
    URIS,
    compare=SERVER_ONLY,
)
row(
    "balance-uri-path-only",
    ("balance:uri",),
    http_cfg(backend="    balance uri path-only\n", servers=three()),
    URIS,
    compare=SERVER_ONLY,
)
for fn in ("sdbm", "djb2", "wt6", "crc32"):
    row(
        f"hash-consistent-{fn}",
        ("hash-type", "hash:consistent", f"hashfn:{fn}", "balance:uri"),
        http_cfg(backend=f"    balance uri\n    hash-type consistent {fn}\n", servers=three()),
        URIS,
        compare=SERVER_ONLY,
    )
for fn in ("djb2", "wt6", "crc32"):
    row(
        f"hash-map-based-{fn}",
        ("hash-type", "hash:map-based", f"hashfn:{fn}", "balance:url_param"),
        http_cfg(
            backend=f"    balance url_param id\n    hash-type map-based {fn}\n", servers=three()
        ),
        tuple(get(f"/echo?id={i}") for i in ("1", "22", "abc", "x-y", "9999", "k")),
        compare=SERVER_ONLY,
    )
row(
    "hash-consistent-avalanche",
    ("hash-type", "hash:consistent", "hashfn:sdbm", "balance:hdr"),
    http_cfg(
        backend="    balance hdr(X-Key)\n    hash-type consistent sdbm avalanche\n",
        servers=three(),
    ),
    tuple(get("/echo", headers=(("X-Key", k),)) for k in ("a", "bb", "ccc", "dddd", "e", "ff")),
    compare=SERVER_ONLY,
)
row(
    "hash-map-based-avalanche",
    ("hash-type", "hash:map-based", "hashfn:sdbm", "balance:uri"),
    http_cfg(backend="    balance uri\n    hash-type map-based sdbm avalanche\n", servers=three()),
    URIS,
    compare=SERVER_ONLY,
)
row(
    "hash-consistent-ids",
    ("server:id", "hash:consistent"),
    http_cfg(
        backend="    balance uri\n    hash-type consistent\n",
        servers="    server s1 {s1} id 7\n    server s2 {s2} id 3\n    server s3 {s3} id 12\n",
    ),
    URIS,
    compare=SERVER_ONLY,
)
row(
    "hash-balance-factor",
    ("hash-balance-factor", "hash:consistent"),
    http_cfg(
        backend="    balance uri\n    hash-type consistent\n    hash-balance-factor 150\n",
        servers=three(),
    ),
    tuple(Req(r.path, wait=0.05) for r in URIS),
    compare=SERVER_ONLY,
)
row(
    "balance-url-param",
    ("balance:url_param",),
    http_cfg(backend="    balance url_param uid\n", servers=three()),
    tuple(get(f"/echo?uid={u}") for u in ("1", "2", "3", "abc", "zz", "77"))
    + (get("/echo?other=1"), get("/echo"), get("/echo")),
    compare=SERVER_ONLY,
)
row(
    "balance-hdr",
    ("balance:hdr",),
    http_cfg(backend="    balance hdr(X-User)\n", servers=three()),
    tuple(get("/echo", headers=(("X-User", u),)) for u in ("ann", "bob", "cy", "dee", "eve"))
    + (get("/echo"), get("/echo")),
    compare=SERVER_ONLY,
)
row(
    "balance-hdr-use-domain-only",
    ("balance:hdr",),
    http_cfg(backend="    balance hdr(Host) use_domain_only\n", servers=three()),
    tuple(get("/echo", host=h) for h in ("a.example.com", "www.example.org", "x.y.z.net", "q")),
    compare=SERVER_ONLY,
)
# random is random: both must answer from the servers they have, not the same ones.
row(
    "balance-random",
    ("balance:random",),
    http_cfg(backend="    balance random(3)\n", servers=three()),
    seq(4),
    compare=frozenset({"status"}),
)
# `random draw N` is the tutorial's spelling, which HAProxy rejects: HAProxy gets the
# equivalent `balance random(2)` (the only one-sided edit made for a keyword).
row(
    "random-draw",
    ("random", "balance:random"),
    http_cfg(backend="    balance random\n    random draw 2\n", servers=three()),
    seq(4),
    compare=frozenset({"status"}),
    haproxy_edits=(("    balance random\n    random draw 2\n", "    balance random(2)\n"),),
)

# -- server options -------------------------------------------------------------------------

row(
    "server-backup",
    ("server:backup", "option allbackups"),
    http_cfg(
        servers="    server s1 {dead} check inter 100 fall 1\n    server s2 {s2} backup\n"
        "    server s3 {s3} backup\n"
    ),
    seq(4),
    compare=SERVER_ONLY,
    settle=0.6,
)
row(
    "server-allbackups",
    ("server:backup", "option allbackups"),
    http_cfg(
        backend="    option allbackups\n",
        servers="    server s1 {dead} check inter 100 fall 1\n    server s2 {s2} backup\n"
        "    server s3 {s3} backup\n",
    ),
    seq(4),
    compare=SERVER_ONLY,
    settle=0.6,
)
row(
    "server-backup-unused",
    ("server:backup",),
    http_cfg(servers="    server s1 {s1}\n    server s2 {s2} backup\n"),
    seq(3),
    compare=SERVER_ONLY,
)
row(
    "server-disabled-enabled",
    ("server:disabled", "server:enabled", "default-server"),
    http_cfg(
        backend="    default-server disabled\n",
        servers="    server s1 {s1}\n    server s2 {s2} enabled\n    server s3 {s3} enabled\n",
    ),
    seq(4),
    compare=SERVER_ONLY,
)
row(
    "server-all-disabled",
    ("server:disabled",),
    http_cfg(servers="    server s1 {s1} disabled\n"),
    (get("/echo"),),
)
row(
    "server-check-down",
    ("server:check", "server:inter", "server:fall", "server:rise"),
    http_cfg(
        servers="    server s1 {s1} check inter 100 fall 1 rise 1\n"
        "    server s2 {dead} check inter 100 fall 1 rise 1\n"
    ),
    seq(4),
    compare=SERVER_ONLY,
    settle=0.6,
)
row(
    "server-check-intervals",
    ("server:fastinter", "server:downinter", "server:check", "timeout check"),
    http_cfg(
        backend="    timeout check 500ms\n",
        servers="    server s1 {s1} check inter 100 fastinter 50 downinter 200\n"
        "    server s2 {dead} check inter 100 fastinter 50 downinter 200 fall 2\n",
    ),
    seq(4),
    compare=SERVER_ONLY,
    settle=0.8,
)
row(
    "server-check-port",
    ("server:port", "server:check"),
    http_cfg(
        servers="    server s1 {s1} check inter 100 fall 1\n"
        "    server s2 {s2} check inter 100 fall 1 port 1\n"
    ),
    seq(4),
    compare=SERVER_ONLY,
    settle=0.6,
)
row(
    "server-check-addr",
    ("server:addr", "server:check"),
    http_cfg(
        servers="    server s1 {s1} check inter 100 fall 1\n"
        "    server s2 {s2} check inter 100 fall 1 addr 127.0.0.1 port 1\n"
    ),
    seq(4),
    compare=SERVER_ONLY,
    settle=0.6,
)
row(
    "server-no-check",
    ("server:no-check", "default-server", "retries"),
    http_cfg(
        backend="    default-server check inter 100 fall 1\n    retries 0\n",
        servers="    server s1 {s1}\n    server s2 {dead} no-check\n",
    ),
    seq(4),
    compare=frozenset({"status", "server"}),
    settle=0.6,
)
row(
    "server-slowstart",
    ("server:slowstart",),
    http_cfg(servers=three("check inter 100 slowstart 2s")),
    seq(4),
    compare=frozenset({"status"}),
    settle=0.3,
)
row(
    "server-maxconn-queue",
    ("server:maxconn", "timeout queue"),
    http_cfg(backend="    timeout queue 2s\n", servers="    server s1 {s1} maxconn 1\n"),
    (Par((get("/sleep/300"), get("/sleep/300"), get("/sleep/300")), stagger=0.15),),
    compare=SERVER_ONLY,
    kinds=ECHO_KINDS,
)
row(
    "server-maxconn-queue-timeout",
    ("server:maxconn", "timeout queue"),
    http_cfg(backend="    timeout queue 200ms\n", servers="    server s1 {s1} maxconn 1\n"),
    (Par((get("/sleep/800"), get("/echo")), stagger=0.15),),
    compare=frozenset({"status", "headers", "body"}),
    kinds=ECHO_KINDS,
)
row(
    "server-maxqueue",
    ("server:maxqueue", "server:maxconn"),
    http_cfg(
        backend="    timeout queue 3s\n",
        servers="    server s1 {s1} maxconn 1 maxqueue 1\n",
    ),
    (Par((get("/sleep/900"), get("/sleep/100"), get("/echo")), stagger=0.2),),
    compare=frozenset({"status", "server"}),
    kinds=ECHO_KINDS,
)
row(
    "server-send-proxy",
    ("server:send-proxy",),
    http_cfg(servers="    server s1 {s1} send-proxy\n"),
    (get("/echo"), get("/echo", src="127.0.0.3")),
    kinds=RAW_KIND,
)
row(
    "server-send-proxy-v2",
    ("server:send-proxy-v2",),
    http_cfg(servers="    server s1 {s1} send-proxy-v2\n"),
    (get("/echo"), get("/echo", src="127.0.0.3")),
    kinds=RAW_KIND,
)
row(
    "server-observe-layer7",
    ("server:observe", "server:error-limit", "server:on-error"),
    http_cfg(
        servers="    server s1 {s1} check inter 10s observe layer7 error-limit 1 on-error "
        "mark-down\n    server s2 {s2} check inter 10s\n"
    ),
    (get("/status/500"), get("/echo"), get("/echo"), get("/echo")),
    compare=SERVER_ONLY,
    settle=0.2,
)
row(
    "server-ssl",
    ("server:ssl", "server:verify", "server:ca-file", "server:sni"),
    http_cfg(servers="    server t1 {t1} ssl verify required ca-file {ca} sni str(backend.test)\n"),
    (get("/echo"),),
    kinds=RAW_KIND,
)
row(
    "server-ssl-verify-none",
    ("server:ssl", "server:verify"),
    http_cfg(servers="    server t1 {t1} ssl verify none\n"),
    (get("/echo"),),
    kinds=RAW_KIND,
)
row(
    "ssl-server-verify-none",
    ("ssl-server-verify", "server:ssl"),
    # The global default instead of a `verify` on each line: s1 verifies nothing (the
    # backend's certificate is for another name), s2 still verifies, explicitly.
    http_cfg(
        global_="    ssl-server-verify none\n",
        backend="    balance roundrobin\n",
        servers="    server s1 {t1} ssl\n"
        "    server s2 {t1} ssl verify required ca-file {ca} sni str(backend.test)\n",
    ),
    (get("/echo"), get("/echo"), get("/echo")),
    kinds=RAW_KIND,
)
# TLS to servers: what the TLS server saw of each connection (version, cipher,
# ALPN, client certificate) is in its echo.  One option per server, in turn.
row(
    "server-tls-options",
    ("server:crt", "server:alpn", "server:ssl-max-ver", "server:ciphers",
     "server:ciphersuites", "server:no-tls-tickets", "server:tls-tickets", "server:no-tlsv13",
     "server:no-sslv3", "server:force-tlsv12", "server:ssl-min-ver", "server:force-tlsv13",
     "server:no-tlsv10", "server:no-tlsv11", "server:no-tlsv12"),
    http_cfg(
        backend="    balance roundrobin\n    default-server no-tls-tickets\n",
        servers="    server a {t1} ssl verify none crt {certdir}/client.pem alpn http/1.1\n"
        "    server b {t1} ssl verify none ssl-max-ver TLSv1.2 "
        "ciphers ECDHE-ECDSA-AES128-GCM-SHA256\n"
        "    server c {t1} ssl verify none ciphersuites TLS_CHACHA20_POLY1305_SHA256 "
        "tls-tickets\n"
        "    server d {t1} ssl verify none no-sslv3 no-tlsv13\n"
        "    server e {t1} ssl verify none ssl-min-ver TLSv1.2 force-tlsv12\n"
        "    server f {t1} ssl verify none no-tlsv10 no-tlsv11 no-tlsv12 force-tlsv13\n",
    ),
    seq(6),
    kinds=RAW_KIND,
)  # fmt: skip
# Versions the TLS server refuses (below TLSv1.2): the handshake fails, a 503 after
# the retries, for both.
row(
    "server-tls-old-versions",
    ("server:force-tlsv10", "server:force-tlsv11"),
    http_cfg(
        backend="    balance roundrobin\n    retries 0\n",
        servers="    server a {t1} ssl verify none force-tlsv10\n"
        "    server b {t1} ssl verify none force-tlsv11\n",
    ),
    seq(2),
    compare=frozenset({"status", "body"}),
    kinds=RAW_KIND,
)
# The global defaults of TLS to servers, and a line's own settings over them: the
# ciphers replace the global ones, the options follow them (the last version wins).
row(
    "ssl-default-server-settings",
    ("ssl-default-server-ciphers", "ssl-default-server-ciphersuites",
     "ssl-default-server-options"),
    http_cfg(
        global_="    ssl-default-server-ciphers ECDHE-ECDSA-AES256-GCM-SHA384\n"
        "    ssl-default-server-ciphersuites TLS_AES_128_GCM_SHA256\n"
        "    ssl-default-server-options ssl-max-ver TLSv1.2 no-tls-tickets\n",
        backend="    balance roundrobin\n",
        servers="    server a {t1} ssl verify none\n"
        "    server b {t1} ssl verify none ssl-max-ver TLSv1.3\n"
        "    server c {t1} ssl verify none ciphers ECDHE-ECDSA-CHACHA20-POLY1305\n",
    ),
    seq(3),
    kinds=RAW_KIND,
)  # fmt: skip
# Undoing a default-server's flags.
row(
    "server-no-flags",
    ("server:no-backup", "server:no-send-proxy", "server:no-send-proxy-v2"),
    http_cfg(
        backend="    balance roundrobin\n    default-server backup send-proxy\n",
        servers="    server s1 {s1} no-backup no-send-proxy\n"
        "    server s2 {s2} send-proxy-v2 no-send-proxy-v2 no-send-proxy\n",
    ),
    seq(3),
    kinds=RAW_KIND,
)
# `tune.http.maxhdr`: a request with more header lines than it allows (less the
# start line's slot) is a 400; a response with more is a 502.
row(
    "tune-http-maxhdr",
    ("tune.http.maxhdr",),
    http_cfg(global_="    tune.http.maxhdr 8\n"),
    (
        get("/echo", headers=tuple((f"X-H{i}", "v") for i in range(6))),
        get("/echo", headers=tuple((f"X-H{i}", "v") for i in range(7))),
        get("/echo?respond-header=X-A:1&respond-header=X-B:2"),
        get("/echo?respond-header=X-A:1&respond-header=X-B:2&respond-header=X-C:3"),
    ),
    kinds=RAW_KIND,
)
# The addresses a `log-format` may print in mode http: the frontend's (%fi:%fp),
# the server's (%si:%sp) and our end of the connection to it (%bi:%bp); a request
# answered without a server prints `-`.
row(
    "log-format-addresses",
    ("log-format",),
    http_cfg(
        global_="    log {log} format raw local0\n",
        defaults="    log global\n",
        frontend='    log-format "%fi:%fp %si:%sp %bi:%bp %b/%s %ST"\n'
        "    http-request deny if { path /denied }\n",
    ),
    (get("/echo"), get("/denied"), get("/echo")),
    compare=frozenset({"status", "log"}),
    kinds=RAW_KIND,
)
# `http-error`: the proxy's page for a status, written as HAProxy writes a reply (the
# `hdr` lines, content-length, content-type): a 503 without servers, a deny.
row(
    "http-error",
    ("http-error",),
    http_cfg(
        frontend="    http-error status 403 content-type text/plain string 'go away' "
        "hdr X-Why rule\n    http-request deny if { path /denied }\n",
        backend='    http-error status 503 content-type "text/html; charset=utf-8" '
        'string "<p>down</p>"\n',
        servers="    server s1 {dead}\n",
        # Without a payload: an empty answer, not the built-in page.
        extra="listen bare\n    bind {bind:bare}\n    http-error status 403\n"
        "    http-request deny\n    server s1 {s1}\n",
    ),
    (get("/denied"), get("/echo"), get("/", bind="bare")),
    kinds=RAW_KIND,
)
# `http-request tarpit`: the request is held `timeout tarpit` (else `timeout
# connect`), then answered with a 500 (or its deny_status and reply), logged `PT`.
row(
    "http-request-tarpit",
    ("action:tarpit", "timeout tarpit"),
    http_cfg(
        global_="    log {log} format raw local0\n",
        defaults="    log global\n",
        frontend='    log-format "%ST %tsc %b/%s %Tw"\n    timeout tarpit 200ms\n'
        "    http-request tarpit if { path /slow }\n"
        "    http-request tarpit deny_status 429 content-type text/plain string calm "
        "if { path /calm }\n",
        # No `timeout tarpit` here: `timeout connect` holds it.
        backend="    timeout connect 300ms\n    http-request tarpit if { path /be }\n",
    ),
    (get("/slow"), get("/calm"), get("/be"), get("/echo")),
    # %Tw is the time held: about 200 or 300 ms, give or take the scheduler.
    log_subs=((r" 2[0-5]\d$", " ~200"), (r" 3[0-5]\d$", " ~300")),
    kinds=RAW_KIND,
)
# `option originalto`: the address the client connected to, after X-Forwarded-For;
# the backend's header name wins, and an address in either side's `except` network
# gets none.
row(
    "option-originalto",
    ("option originalto",),
    http_cfg(
        frontend="    option forwardfor\n    option originalto\n"
        "    use_backend b2 if { path_beg /echo/b2 }\n"
        "    use_backend b3 if { path_beg /echo/b3 }\n",
        extra="backend b2\n    option originalto header X-Dest\n    server s1 {s1}\n"
        "backend b3\n    option originalto except 127.0.0.0/8\n    server s1 {s1}\n",
    ),
    (get("/echo"), get("/echo/b2"), get("/echo/b3")),
    kinds=RAW_KIND,
)
# `normalize-uri` (experimental in HAProxy 2.6, so `expose-experimental-directives`):
# each normalizer on the part of the target it rewrites, as the echo server sees the
# result, one frontend each; a strict one answers 400 to a `%` that starts no octet.
NORMALIZE = (
    ("path-merge-slashes", "/m//a///b/?x=//y"),
    ("path-strip-dot", "/d/./a/./b/.?x=./y"),
    ("path-strip-dotdot", "/dd/a/../../../b/..?x=/../"),
    ("path-strip-dotdot full", "/df/a/../../../b/"),
    ("query-sort-by-name", "/q?b=2&a=1&ab=3&a=0&=e&c"),
    ("percent-to-uppercase", "/pu/%2f%aa?x=%3d%zz"),
    ("percent-to-uppercase strict", "/ps/%2f%zz"),
    ("percent-decode-unreserved", "/pd/%41%2F%7e%2d?x=%61%3D"),
    ("percent-decode-unreserved strict", "/pds/%41%4"),
    ("fragment-strip", "/fs/a?x=1"),
    ("fragment-encode", "/fe/a?x=1"),
)
row(
    "http-request-normalize-uri",
    ("action:normalize-uri", "expose-experimental-directives"),
    http_cfg(
        global_="    expose-experimental-directives\n",
        extra="".join(
            f"frontend n{at}\n    bind {{bind:n{at}}}\n    http-request normalize-uri {name}\n"
            "    default_backend be\n"
            for at, (name, _) in enumerate(NORMALIZE)
        ),
    ),
    tuple(get(target, bind=f"n{at}") for at, (_, target) in enumerate(NORMALIZE)),
    kinds=RAW_KIND,
)
row(
    "normalize-uri-conditional",
    ("action:normalize-uri",),
    http_cfg(
        global_="    expose-experimental-directives\n",
        frontend="    http-request normalize-uri path-strip-dotdot if { path_beg /a/ }\n",
    ),
    (get("/a/b/../c//d"),),
    kinds=RAW_KIND,
    xfail="HAProxy 2.6 parses `path-strip-dotdot`, `percent-to-uppercase` and "
    "`percent-decode-unreserved` followed by `if`/`unless` as `path-merge-slashes` (the "
    "normalizer is only set when nothing follows); balancekit applies the one named",
    diverges=r"\.echo\.uri: '/a/b/\.\./c/d' != '/a/c//d'",
)
# `set-src`/`set-dst` and their ports: what later rules, `balance source`, `option
# forwardfor` and the log see, for this request only (since HAProxy 2.5 the
# addresses are the stream's: the connection's next request has its own again); a
# sample that is no address changes nothing.
row(
    "http-request-set-src-dst",
    ("action:set-src", "action:set-src-port", "action:set-dst", "action:set-dst-port"),
    http_cfg(
        global_="    log {log} format raw local0\n",
        defaults="    log global\n    option forwardfor\n",
        frontend='    log-format "%ci:%cp %fi:%fp %s"\n'
        "    http-request set-src req.hdr(x-client) if { req.hdr(x-client) -m found }\n"
        "    http-request set-src-port int(4444) if { path_beg /echo/port }\n"
        "    http-request set-dst ipv4(10.0.0.9) if { path_beg /echo/dst }\n"
        "    http-request set-dst-port int(8080) if { path_beg /echo/dst }\n"
        "    http-request set-header X-Src %[src]\n"
        "    http-request set-header X-Src-Port %[src_port] if { path_beg /echo/port }\n"
        "    http-request set-header X-Dst %[dst]:%[dst_port]\n",
        backend="    balance source\n",
        servers=three(),
    ),
    (
        get("/echo", headers=(("X-Client", "192.0.2.7"),)),
        get("/echo", headers=(("X-Client", "not-an-address"),)),
        get("/echo/port", headers=(("X-Client", "2001:db8::1"),)),
        get("/echo/dst", headers=(("X-Client", "198.51.100.4"),), conn="k"),
        get("/echo", conn="k"),
        get("/echo"),
    ),
    compare=frozenset({"status", "headers", "body", "log"}),
    log_subs=((r"^127\.0\.0\.1:\d+ ", "127.0.0.1:<port> "),),
    kinds=RAW_KIND,
)
row(
    "ulimit-n",
    ("ulimit-n", "stats socket"),
    # The process's file descriptor limit set from the config (lowered here, which
    # any user may do), as `show info` reports it.
    http_cfg(global_="    ulimit-n 3000\n"),
    (get("/echo"), Req(command="show info")),
    compare=frozenset({"status", "command"}),
    extract=r"^Ulimit-n: .*$",
    kinds=RAW_KIND,
)
row(
    "ulimit-n-no-strict-limits",
    ("ulimit-n", "strict-limits", "stats socket"),
    # More than the kernel allows anyone: with `no strict-limits` both start with the
    # most there is (and a warning) rather than refusing to.
    http_cfg(global_="    ulimit-n 1000000000\n    no strict-limits\n"),
    (get("/echo"), Req(command="show info")),
    compare=frozenset({"status", "command"}),
    extract=r"^Ulimit-n: .*$",
    kinds=RAW_KIND,
)
row(
    "server-any-address",
    ("server", "mode"),
    # `*:port` and `:port`: the any-address, which reaches this machine.
    http_cfg(
        backend="    balance roundrobin\n",
        servers="    server s1 *:{port:s1}\n    server s2 :{port:s2}\n",
    ),
    (get("/echo"), get("/echo"), get("/echo")),
    kinds=ECHO_KINDS,
)
row(
    "server-init-addr",
    ("server:init-addr", "stats socket"),
    # Names that do not resolve: `none` starts s2 in maintenance (after libc failed)
    # and s4 at once; s3 falls back to the IP given. Only s1 and s3 take requests.
    http_cfg(
        backend="    balance roundrobin\n",
        servers="    server s1 {s1}\n"
        "    server s2 nope.invalid:{port:s2} init-addr libc,none\n"
        "    server s3 nope.invalid:{port:s3} init-addr libc,127.0.0.1\n"
        "    server s4 localhost:{port:s1} init-addr none\n",
    ),
    (get("/echo"), get("/echo"), get("/echo"), get("/echo"), Req(command="show stat")),
    compare=frozenset({"status", "server", "command"}),
    extract=r"^be,(s\d),(?:[^,]*,){15}([A-Z]+)",
    kinds=ECHO_KINDS,
)
row(
    "server-template",
    ("server-template", "server:resolve-prefer", "stats socket"),
    # Numbered servers from one line: a range and a count, options on each (the
    # weights), the name resolved at start; their names and ids in `show stat`.
    http_cfg(
        backend="    balance roundrobin\n",
        servers="    server-template web 2-4 {s1:name} resolve-prefer ipv4\n"
        "    server-template api 2 {s2} weight 2\n",
    ),
    (*seq(7), Req(command="show stat")),
    compare=frozenset({"status", "server", "command"}),
    extract=r"^be,(\w+),(?:[^,]*,){16}(\d+),(?:[^,]*,){9}(\d+)",
    kinds=ECHO_KINDS,
)
row(
    "server-no-ssl-check-ssl",
    ("server:no-ssl", "server:check-ssl", "option httpchk", "ca-base"),
    http_cfg(
        global_="    ca-base {certdir}\n",
        backend="    option httpchk GET /echo\n"
        "    default-server ssl verify required ca-file ca.pem\n",
        servers="    server s1 {s1} no-ssl check inter 100 fall 1\n"
        "    server t1 {t1} check check-ssl inter 100 fall 1\n",
    ),
    seq(4),
    compare=SERVER_ONLY,
    settle=0.6,
    kinds=RAW_KIND,
)

# -- http-request ---------------------------------------------------------------------------

row(
    "http-request-deny",
    ("http-request", "action:deny", "acl", "fetch:path", "match:beg"),
    http_cfg(frontend="    acl blocked path_beg /admin\n    http-request deny if blocked\n"),
    (get("/admin/x"), get("/echo")),
)
row(
    "http-request-deny-status",
    ("action:deny", "errorfile"),
    http_cfg(
        frontend="    http-request deny deny_status 429 if { path_beg /slow }\n"
        "    http-request deny status 410 content-type text/plain string gone "
        "hdr X-Why rule if { path /gone }\n"
    ),
    (get("/slow"), get("/gone"), get("/echo")),
    header_order=False,
)
row(
    "http-request-allow",
    ("action:allow",),
    http_cfg(frontend="    http-request allow if { path_beg /ok }\n    http-request deny\n"),
    (get("/ok/1"), get("/no")),
)
row(
    "http-request-reject",
    ("action:reject", "fetch:hdr"),
    http_cfg(frontend="    http-request reject if { hdr(x-evil) -m found }\n"),
    (get("/echo", headers=(("X-Evil", "1"),)), get("/echo")),
)
row(
    "http-request-redirect",
    ("action:redirect", "fetch:url_param"),
    http_cfg(
        frontend="    http-request redirect location /new?id=%[url_param(id)] code 301 "
        "if { path /old }\n"
        "    http-request redirect prefix /v2 code 307 drop-query if { path_beg /api }\n"
        "    http-request redirect scheme https code 308 if { path_beg /secure }\n"
        "    http-request redirect prefix /p append-slash set-cookie SEEN=1 "
        "if { path_beg /dir }\n"
        "    http-request redirect location /gone clear-cookie OLD= code 303 "
        "if { path /clear }\n"
    ),
    (
        get("/old?id=42"),
        get("/api/x?q=1"),
        get("/secure/page?z"),
        get("/dir/sub"),
        get("/clear"),
        get("/echo"),
    ),
    header_order=False,
    response_headers=frozenset(
        {"location", "set-cookie", "content-length", "content-type", "server", "x-server"}
    ),
)
row(
    "http-request-headers",
    ("action:set-header", "action:add-header", "action:del-header", "fetch:src", "fetch:method"),
    http_cfg(
        frontend="    http-request set-header X-Client %[src]\n"
        "    http-request add-header X-Added one\n"
        "    http-request add-header X-Added two\n"
        "    http-request set-header X-Test replaced\n"
        "    http-request del-header X-Remove\n"
        "    http-request del-header x-pre -m beg\n"
        "    http-request set-header X-Meth %[method]\n"
        "    http-request add-header X-Twice one\n"
        "    http-request set-header X-Twice two\n",
        backend="    http-request add-header X-Backend be\n",
    ),
    (
        get(
            "/echo",
            headers=(
                ("X-Test", "orig"),
                ("X-Remove", "1"),
                ("X-Pre-A", "1"),
                ("X-Pre-B", "2"),
                ("X-Keep", "k"),
            ),
        ),
    ),
)
row(
    "http-request-return",
    ("action:return",),
    http_cfg(
        frontend="    http-request return status 200 content-type text/plain "
        'string "hello there" hdr X-One 1 if { path /hello }\n'
        "    http-request return status 404 if { path /empty }\n"
        "    http-request return content-type text/plain lf-string "
        '"you are %[src] on %[path]" if { path_beg /lf }\n'
        "    http-request return status 201 content-type text/html file {file:page} "
        "if { path /file }\n"
        "    http-request return content-type text/plain lf-file {file:lf} if { path /lff }\n"
    ),
    (get("/hello"), get("/empty"), get("/lf/x"), get("/file"), get("/lff"), get("/echo")),
    files={"page": b"<p>static page</p>\n", "lf": b"method %[method] path %[path]\n"},
    header_order=False,
)
row(
    "http-request-prometheus",
    ("action:use-service",),
    http_cfg(frontend="    http-request use-service prometheus-exporter if { path /metrics }\n"),
    (get("/metrics"),),
    compare=frozenset({"status", "headers"}),
    response_headers=frozenset({"content-type"}),
)
row(
    "http-request-backend-rules",
    ("http-request", "action:deny", "action:set-header"),
    http_cfg(
        backend="    http-request deny if { path_beg /private }\n"
        "    http-request set-header X-Be-Rule yes\n"
    ),
    (get("/private"), get("/echo")),
)
row(
    "redirect-standalone",
    ("redirect",),
    http_cfg(
        frontend="    redirect location /moved code 301 if { path /a }\n"
        "    redirect prefix /new drop-query if { path_beg /b }\n"
        "    redirect scheme https if { path_beg /c }\n"
        "    redirect prefix / append-slash if { path /d }\n"
        "    http-request set-header X-Seen 1\n"
    ),
    (get("/a"), get("/b/x?y=1"), get("/c/z?k"), get("/d"), get("/echo")),
    header_order=False,
    response_headers=frozenset(
        {"location", "set-cookie", "content-length", "content-type", "server", "x-server"}
    ),
)

row(
    "generated-response-header-order",
    ("http-request", "action:return", "action:deny", "action:redirect", "stats enable"),
    http_cfg(
        frontend="    stats enable\n    stats uri /st\n    stats auth a:b\n"
        "    http-request return content-type text/plain string hi hdr X-One 1 "
        "if { path /r }\n"
        "    http-request deny status 410 content-type text/plain string gone hdr X-Why w "
        "if { path /d }\n"
        "    http-request redirect location /x code 302 if { path /l }\n"
    ),
    (get("/r"), get("/d"), get("/l"), get("/st")),
)
row(
    "redirect-cache-control",
    ("action:redirect", "redirect"),
    http_cfg(
        frontend="    http-request redirect location /x code 301 if { path /a }\n"
        "    redirect location /y code 308 if { path /b }\n"
    ),
    (get("/a"), get("/b")),
    response_headers=frozenset({"cache-control"}),
)

# -- routing, ACLs, fetches, converters ----------------------------------------------------

TWO_BACKENDS = """backend be2
    server s2 {s2}
backend be3
    server s3 {s3}
"""
row(
    "use-backend",
    ("use_backend", "acl", "match:beg", "fetch:path", "fetch:method", "fetch:hdr",
     "fetch:src", "flag:-i", "match:sub", "match:ip"),
    http_cfg(
        frontend="    acl is_api path_beg /api\n"
        "    acl is_post method POST\n"
        "    acl mobile hdr(User-Agent) -i -m sub mobile\n"
        "    acl local3 src 127.0.0.3/32\n"
        "    use_backend be2 if is_api is_post\n"
        "    use_backend be3 if mobile or local3\n"
        "    use_backend be2 unless { path_beg / }\n",
        extra=TWO_BACKENDS,
    ),
    (
        Req("/api/x", method="POST", body=b"{}"),
        get("/api/x"),
        get("/echo", headers=(("User-Agent", "Some MOBILE thing"),)),
        get("/echo", src="127.0.0.3"),
        get("*", method="OPTIONS"),
        get("/echo"),
    ),
    compare=SERVER_ONLY,
)  # fmt: skip

FETCH_HEADERS = """    http-request set-header X-base %[base]
    http-request set-header X-baseq %[baseq]
    http-request set-header X-cook %[cook(sid)]
    http-request set-header X-cook-cnt %[cook_cnt(sid)]
    http-request set-header X-req-cook %[req.cook(lang)]
    http-request set-header X-req-cook-cnt %[req.cook_cnt]
    http-request set-header X-dst %[dst]
    http-request set-header X-dst-port %[dst_port]
    http-request set-header X-hdr %[hdr(x-list)]
    http-request set-header X-hdr-occ %[hdr(x-list,2)]
    http-request set-header X-hdr-cnt %[hdr_cnt(x-list)]
    http-request set-header X-hdr-ip %[hdr_ip(x-ip)]
    http-request set-header X-hdr-val %[hdr_val(x-num)]
    http-request set-header X-req-hdr %[req.hdr(x-list,-1)]
    http-request set-header X-req-hdr-cnt %[req.hdr_cnt(x-list)]
    http-request set-header X-req-hdr-ip %[req.hdr_ip(x-ip)]
    http-request set-header X-req-hdr-val %[req.hdr_val(x-num)]
    http-request set-header X-fhdr %[req.fhdr(x-list)]
    http-request set-header X-fhdr-cnt %[req.fhdr_cnt(x-list)]
    http-request set-header X-method %[method]
    http-request set-header X-path %[path]
    http-request set-header X-pathq %[pathq]
    http-request set-header X-query %[query]
    http-request set-header X-req-ver %[req.ver]
    http-request set-header X-req_ver %[req_ver]
    http-request set-header X-src %[src]
    http-request set-header X-ssl-fc %[ssl_fc]
    http-request set-header X-ssl-fc-has-sni %[ssl_fc_has_sni]
    http-request set-header X-ssl-fc-sni %[ssl_fc_sni]
    http-request set-header X-url %[url]
    http-request set-header X-url-ip %[url_ip]
    http-request set-header X-url-port %[url_port]
    http-request set-header X-url-param %[url_param(q)]
    http-request set-header X-urlp %[urlp(q,;)]
    http-request set-header X-true %[always_true]
    http-request set-header X-false %[always_false]
    http-request set-header X-proto-http %[req.proto_http]
    http-request set-header X-proto-http2 %[req_proto_http]
"""
FETCH_REQS = (
    get(
        "/a/b?q=1&x=2",
        headers=(
            ("Cookie", "sid=abc; lang=fr"),
            ("X-List", "a, b"),
            ("X-List", "c"),
            ("X-IP", "10.1.2.3"),
            ("X-Num", "42"),
        ),
    ),
    get("/plain", headers=(("Cookie", "lang=de"),)),
    get("http://127.0.0.1:8080/abs?q=z;q=y", host="127.0.0.1:8080"),
    get("/p;q=semi?q=first&q=second"),
)
row(
    "fetches-http",
    tuple(
        f"fetch:{f}"
        for f in [
            "base",
            "baseq",
            "cook",
            "cook_cnt",
            "req.cook",
            "req.cook_cnt",
            "dst",
            "dst_port",
            "hdr",
            "hdr_cnt",
            "hdr_ip",
            "hdr_val",
            "req.hdr",
            "req.hdr_cnt",
            "req.hdr_ip",
            "req.hdr_val",
            "req.fhdr",
            "req.fhdr_cnt",
            "method",
            "path",
            "pathq",
            "query",
            "req.ver",
            "req_ver",
            "src",
            "ssl_fc",
            "ssl_fc_has_sni",
            "ssl_fc_sni",
            "url",
            "url_ip",
            "url_port",
            "url_param",
            "urlp",
            "always_true",
            "always_false",
            "req.proto_http",
            "req_proto_http",
        ]
    ),
    http_cfg(frontend=FETCH_HEADERS),
    FETCH_REQS,
    kinds=ECHO_KINDS,
)
row(
    "fetch-cook-repeated",
    ("fetch:cook", "fetch:req.cook"),
    http_cfg(
        frontend="    http-request set-header X-cook %[cook(sid)]\n"
        "    http-request set-header X-req-cook %[req.cook(sid)]\n"
    ),
    (get("/echo", headers=(("Cookie", "sid=abc; lang=fr; sid=def"),)),),
    kinds=ECHO_KINDS,
)
row(
    "converters",
    tuple(
        f"conv:{c}"
        for c in ("lower", "upper", "length", "not", "bool", "field", "word", "ipmask", "regsub")
    ),
    http_cfg(
        frontend="    http-request set-header X-lower %[hdr(x-v),lower]\n"
        "    http-request set-header X-upper %[hdr(x-v),upper]\n"
        "    http-request set-header X-length %[hdr(x-v),length]\n"
        "    http-request set-header X-not %[always_false,not]\n"
        "    http-request set-header X-bool %[hdr_val(x-n),bool]\n"
        "    http-request set-header X-field %[path,field(2,/)]\n"
        "    http-request set-header X-field-rest %[path,field(2,/,0)]\n"
        "    http-request set-header X-word %[path,word(2,/)]\n"
        "    http-request set-header X-ipmask %[src,ipmask(24)]\n"
        "    http-request set-header X-regsub %[path,regsub(^/a,/z/,g)]\n"
        "    http-request set-header X-regsub-i %[hdr(x-v),regsub(mixed,M,i)]\n"
    ),
    (
        get("/a//b/c", headers=(("X-V", "MiXed Case"), ("X-N", "3"))),
        get("/b/x", headers=(("X-N", "0"),), src="127.0.5.9"),
    ),
    kinds=ECHO_KINDS,
)

row(
    "converter-regsub-brackets",
    ("conv:regsub",),
    http_cfg(frontend="    http-request set-header X-regsub %[path,regsub(^/[ab],/z/,g)]\n"),
    (get("/a/x"), get("/b/y")),
    kinds=ECHO_KINDS,
)

ACL_MATRIX = """    acl m_str path /exact
    acl m_beg path_beg /be
    acl m_end path_end .png
    acl m_sub path_sub mid
    acl m_reg path_reg ^/r[0-9]+$
    acl m_dir path_dir img
    acl m_dom hdr_dom(host) example.com
    acl m_len path_len 5
    acl m_len_range path -m len 10:12
    acl m_int hdr_val(x-n) gt 10
    acl m_int_range hdr_val(x-n) 3:5
    acl m_int_ops hdr_val(x-n) eq 7 le 1
    acl m_int_ge hdr_val(x-n) ge 100 lt 200
    acl m_ip src 127.0.0.0/30
    acl m_ip_hdr hdr(x-ip) -m ip 10.0.0.0/8
    acl m_bool hdr_val(x-n),bool -m bool
    acl m_found hdr(x-flag) -m found
    acl m_i path -i /UPPER
    acl m_m_str hdr(x-s) -m str abc
    acl m_m_beg hdr(x-s) -m beg pre
    acl m_m_sub hdr(x-s) -m sub mid
    acl m_m_end hdr(x-s) -m end suf
    acl m_m_reg hdr(x-s) -m reg ^a.c$
    acl m_m_dir url -m dir deep
    acl m_m_dom hdr(host) -m dom www
    acl m_m_len hdr(x-s) -m len 3
    acl m_m_int hdr(x-n) -m int 42
    acl m_file path -f {file:paths}
    acl m_dashdash hdr(x-s) -n -u 9 -- -dash
    acl m_url url_beg /u
    acl m_url_sub url_sub =yes
    acl m_urlp urlp(k) v1
    acl m_urlp_reg urlp_reg(k) ^v[0-9]$
    acl m_url_param url_param(k) -m found
    acl m_hdr_beg hdr_beg(x-s) pre
    acl m_hdr_end hdr_end(x-s) suf
    acl m_hdr_sub hdr_sub(x-s) mid
    acl m_hdr_reg hdr_reg(x-s) ^p
    acl m_hdr_len hdr_len(x-s) 3
    acl m_hdr_dir hdr_dir(x-s) seg
    acl m_cook cook(c) cv
    acl m_cook_beg cook_beg(c) c
    acl m_base base_beg example.test/be
    acl m_base_sub base_sub /mi
    acl m_src_port src_port gt 1023
    acl m_dst_port dst_port gt 0
    acl m_method method GET HEAD
    acl m_ver req.ver 1.0
    acl m_ver2 req_ver 1.1
    acl m_url_ip url_ip 127.0.0.1
    acl m_url_port url_port 8080
    http-request add-header X-M str if m_str
    http-request add-header X-M beg if m_beg
    http-request add-header X-M end if m_end
    http-request add-header X-M sub if m_sub
    http-request add-header X-M reg if m_reg
    http-request add-header X-M dir if m_dir
    http-request add-header X-M dom if m_dom
    http-request add-header X-M len if m_len
    http-request add-header X-M len_range if m_len_range
    http-request add-header X-M int if m_int
    http-request add-header X-M int_range if m_int_range
    http-request add-header X-M int_ops if m_int_ops
    http-request add-header X-M int_ge if m_int_ge
    http-request add-header X-M ip if m_ip
    http-request add-header X-M ip_hdr if m_ip_hdr
    http-request add-header X-M bool if m_bool
    http-request add-header X-M found if m_found
    http-request add-header X-M i if m_i
    http-request add-header X-M m_str if m_m_str
    http-request add-header X-M m_beg if m_m_beg
    http-request add-header X-M m_sub if m_m_sub
    http-request add-header X-M m_end if m_m_end
    http-request add-header X-M m_reg if m_m_reg
    http-request add-header X-M m_dir if m_m_dir
    http-request add-header X-M m_dom if m_m_dom
    http-request add-header X-M m_len if m_m_len
    http-request add-header X-M m_int if m_m_int
    http-request add-header X-M file if m_file
    http-request add-header X-M dashdash if m_dashdash
    http-request add-header X-M url if m_url
    http-request add-header X-M url_sub if m_url_sub
    http-request add-header X-M urlp if m_urlp
    http-request add-header X-M urlp_reg if m_urlp_reg
    http-request add-header X-M url_param if m_url_param
    http-request add-header X-M hdr_beg if m_hdr_beg
    http-request add-header X-M hdr_end if m_hdr_end
    http-request add-header X-M hdr_sub if m_hdr_sub
    http-request add-header X-M hdr_reg if m_hdr_reg
    http-request add-header X-M hdr_len if m_hdr_len
    http-request add-header X-M hdr_dir if m_hdr_dir
    http-request add-header X-M cook if m_cook
    http-request add-header X-M cook_beg if m_cook_beg
    http-request add-header X-M base if m_base
    http-request add-header X-M base_sub if m_base_sub
    http-request add-header X-M src_port if m_src_port
    http-request add-header X-M dst_port if m_dst_port
    http-request add-header X-M method if m_method
    http-request add-header X-M ver if m_ver
    http-request add-header X-M ver2 if m_ver2
    http-request add-header X-M url_ip if m_url_ip
    http-request add-header X-M url_port if m_url_port
    http-request add-header X-M not_beg if !m_beg
    http-request add-header X-M or if m_str || m_end
    http-request add-header X-M anon if { path_beg /r } !{ hdr(x-n) -m found }
    http-request add-header X-M pre_localhost if LOCALHOST
    http-request add-header X-M pre_http11 if HTTP_1.1
    http-request add-header X-M pre_http10 if HTTP_1.0
    http-request add-header X-M pre_get if METH_GET
    http-request add-header X-M pre_post if METH_POST
    http-request add-header X-M pre_content if HTTP_CONTENT
    http-request add-header X-M pre_abs if HTTP_URL_ABS
    http-request add-header X-M pre_slash if HTTP_URL_SLASH
    http-request add-header X-M pre_true if TRUE
    http-request add-header X-M pre_false if FALSE
    http-request add-header X-M unless_false unless FALSE
"""
ACL_REQS = (
    get("/exact"),
    get("/begin/mid/x.png"),
    get("/r12"),
    get("/a/img/b", host="www.example.com:80"),
    get("/UPPER?k=v1", headers=(("X-N", "42"), ("X-S", "abc"))),
    get("/upper?k=v9", headers=(("X-N", "4"), ("X-S", "pre-mid-suf"))),
    get("/x/y/z", headers=(("X-N", "7"), ("X-Flag", ""), ("X-IP", "10.9.8.7"))),
    get("/twelve/chars", headers=(("X-N", "150"), ("X-S", "-dash"))),
    get("/u/deep/er?k=yes", headers=(("X-S", "a/seg/b"), ("Cookie", "c=cv"))),
    get("/fromfile", src="127.0.0.2", headers=(("X-N", "0"),)),
    get("/listed/2"),
    Req("/post", method="POST", headers=(("X-S", "abc"),)),
    get("http://127.0.0.1:8080/abs", host="127.0.0.1:8080"),
    get("/r1", method="HEAD"),
)
row(
    "acl-matrix",
    (
        "acl",
        *(
            f"match:{m}"
            for m in [
                "str",
                "beg",
                "end",
                "sub",
                "reg",
                "dir",
                "dom",
                "len",
                "int",
                "ip",
                "bool",
                "found",
            ]
        ),
        *(f"flag:{f}" for f in ("-i", "-m", "-f", "-n", "-u", "--")),
        "fetch:src_port",
    ),
    http_cfg(frontend=ACL_MATRIX),
    ACL_REQS,
    files={"paths": b"# a comment\n/fromfile\n\n  /listed/2\n"},
    kinds=ECHO_KINDS,
)

row(
    "acl-http10-and-body",
    ("acl", "match:int"),
    http_cfg(frontend=ACL_MATRIX),
    (
        get("/listed/2", version="HTTP/1.0", host=None),
        Req("/post", method="POST", body=b"abc", headers=(("X-S", "abc"),)),
    ),
    files={"paths": b"/listed/2\n"},
    kinds=ECHO_KINDS,
)
row(
    "request-body-header-order",
    ("http-request", "action:add-header"),
    http_cfg(frontend="    http-request add-header X-Added 1\n"),
    (Req("/echo", method="POST", body=b"abc", headers=(("X-Before", "1"),)),),
    kinds=ECHO_KINDS,
)

PREDEF_HTTP = [
    "TRUE",
    "FALSE",
    "HTTP",
    "HTTP_1.0",
    "HTTP_1.1",
    "HTTP_2.0",
    "HTTP_CONTENT",
    "HTTP_URL_ABS",
    "HTTP_URL_SLASH",
    "LOCALHOST",
    "METH_CONNECT",
    "METH_DELETE",
    "METH_GET",
    "METH_HEAD",
    "METH_OPTIONS",
    "METH_POST",
    "METH_PUT",
    "METH_TRACE",
]
row(
    "predefined-acls-http",
    tuple(f"predef:{name}" for name in PREDEF_HTTP) + ("predef:HTTP_URL_STAR", "action:return"),
    http_cfg(
        frontend="    http-request return status 200 content-type text/plain string STAR "
        "if HTTP_URL_STAR\n"
        + "".join(
            f"    http-request return status 200 content-type text/plain string {name} "
            f"if {{ path_beg /p/{name} }} {name}\n"
            for name in PREDEF_HTTP
        )
        + "    http-request return status 404 content-type text/plain string no "
        "if { path_beg /p/ }\n"
    ),
    (
        get("/p/TRUE"),
        get("/p/FALSE"),
        get("/p/HTTP"),
        get("/p/HTTP_1.0", version="HTTP/1.0"),
        get("/p/HTTP_1.1"),
        get("/p/HTTP_2.0"),
        Req("/p/HTTP_CONTENT", method="POST", body=b"abc"),
        Req("/p/HTTP_CONTENT", method="POST"),
        get("http://example.test/p/HTTP_URL_ABS"),
        get("/p/HTTP_URL_SLASH"),
        get("*", method="OPTIONS"),
        get("/p/LOCALHOST", src="127.0.0.2"),
        get("/p/METH_CONNECT"),
        Req("/p/METH_DELETE", method="DELETE"),
        Req("/p/METH_GET", method="HEAD"),
        Req("/p/METH_HEAD", method="HEAD"),
        Req("/p/METH_OPTIONS", method="OPTIONS"),
        Req("/p/METH_POST", method="POST"),
        Req("/p/METH_PUT", method="PUT"),
        Req("/p/METH_TRACE", method="TRACE"),
        get("/p/METH_TRACE"),
    ),
    kinds=("httpserver",),  # the proxy answers every request itself
    header_order=False,
)
row(
    "predefined-acls-tcp",
    ("predef:REQ_CONTENT", "predef:RDP_COOKIE", "predef:WAIT_END", "tcp-request content"),
    GLOBAL + "defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 10s\n"
    "    timeout server 10s\n"
    "frontend ft\n    bind {bind:main}\n    tcp-request inspect-delay 1s\n"
    "    tcp-request content reject if RDP_COOKIE\n"
    "    tcp-request content accept if REQ_CONTENT WAIT_END\n"
    "    use_backend b2 if REQ_CONTENT\n"
    "    default_backend b1\n"
    "backend b1\n    server s1 {s1}\nbackend b2\n    server s2 {s2}\n",
    (get("/echo"), get("/echo?again")),
    kinds=ECHO_KINDS,
)

# -- errors, retries, timeouts --------------------------------------------------------------

ERR503 = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
    b"Cache-Control: no-cache\r\nConnection: close\r\n\r\nall servers are busy\n"
)
ERR403 = b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\nX-Page: custom\r\n\r\n<b>no</b>\n"
row(
    "errorfile-defaults-503",
    ("errorfile",),
    http_cfg(
        defaults="    errorfile 503 {file:e503}\n",
        # HAProxy pauses min(1 s, timeout connect) between retries of a refused connect
        backend="    timeout connect 200ms\n",
        servers="    server s1 {dead}\n",
    ),
    (get("/echo"),),
    files={"e503": ERR503},
)
row(
    "errorfile-frontend-403",
    ("errorfile",),
    http_cfg(frontend="    errorfile 403 {file:e403}\n    http-request deny if { path /no }\n"),
    (get("/no", timeout=1.5), get("/echo")),
    files={"e403": ERR403},
)
row(
    "errorfile-backend-503",
    ("errorfile",),
    http_cfg(backend="    errorfile 503 {file:e503}\n", servers="    server s1 {s1} disabled\n"),
    (get("/echo"),),
    files={"e503": ERR503},
)
row(
    "http-errors-errorfiles",
    ("http-errors", "http-errors:errorfile", "errorfiles"),
    # A section's pages, all of them (the frontend: its 403) or the codes listed (the
    # backend takes only 503 from it, though it also has a 403); an errorfile after
    # an `errorfiles` line wins, as the lines come in order. A code listed but not in
    # the section leaves the page as it was (with a warning).
    http_cfg(
        frontend="    errorfiles site\n    http-request deny if { path /no }\n",
        backend="    errorfiles site 503 404\n    errorfile 403 {file:e403}\n"
        "    http-request deny if { path /be-no }\n",
        servers="    server s1 {s1} disabled\n",
        extra="http-errors site\n    errorfile 503 {file:e503}\n    errorfile 403 {file:e403b}\n",
    ),
    (get("/no", timeout=1.5), get("/be-no", timeout=1.5), get("/echo")),
    files={"e503": ERR503, "e403": ERR403, "e403b": ERR403.replace(b"custom", b"section")},
)
row(
    "reply-errorfile-errorfiles",
    ("http-errors", "errorfiles", "action:deny", "action:return", "http-response:deny"),
    # (the http-response deny's line is left out: HAProxy's %B also counts the server's
    # answer the deny dropped, balancekit's does not; see http-response-deny-return-redirect)
    # A reply may send a whole message: `errorfile <file>` (its own status line is sent,
    # the rule's status logged), or the page of its status in an http-errors section;
    # a status the section lacks falls back to the proxy's page (with a warning).
    http_cfg(
        global_="    log {log} format raw local0\n",
        defaults="    log global\n    option httplog\n",
        frontend="    http-request deny errorfile {file:custom} if { path /file }\n"
        "    http-request return status 503 errorfiles site if { path /sect }\n"
        "    http-request deny status 429 errorfiles site if { path /missing }\n"
        "    http-response deny errorfiles site if { status 404 }\n",
        extra="http-errors site\n    errorfile 503 {file:e503}\n    errorfile 502 {file:e502}\n",
    ),
    (
        get("/file", timeout=1.5),
        get("/sect", timeout=1.5),
        get("/missing", timeout=1.5),
        get("/status/404", timeout=1.5),
    ),
    log_filter=r"/(file|sect|missing) ",
    files={
        "custom": b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-From: file\r\n\r\nno\n",
        "e503": ERR503,
        "e502": ERR503.replace(b"503 Service Unavailable", b"502 Bad Gateway"),
    },
    header_order=False,
)
row(
    "errorloc",
    ("errorloc", "errorloc302", "errorloc303"),
    # The status answered by a redirect (HAProxy's own message, Content-length and all);
    # logged with the status of the page sent.
    http_cfg(
        global_="    log {log} format raw local0\n",
        defaults="    log global\n    option httplog\n",
        frontend="    errorloc 403 https://example.test/forbidden\n"
        "    errorloc303 429 /slow-down\n    http-request deny if { path /no }\n"
        "    http-request deny deny_status 429 if { path /busy }\n",
        backend="    errorloc302 503 /maintenance.html\n",
        servers="    server s1 {s1} disabled\n",
    ),
    (get("/no", timeout=1.5), get("/busy", timeout=1.5), get("/echo", timeout=1.5)),
)
row(
    "errorfile-empty",
    ("errorfile",),
    http_cfg(backend="    errorfile 503 /dev/null\n", servers="    server s1 {s1} disabled\n"),
    (get("/echo"),),
)
row(
    "listen-http",
    ("mode", "bind", "server", "balance:roundrobin", "http-request", "action:set-header"),
    GLOBAL + DEFAULTS + "listen web\n    bind {bind:main}\n    balance roundrobin\n"
    "    http-request set-header X-Listen yes\n"
    "    option forwardfor\n" + three(names=("s1", "s2")),
    seq(3),
)
row(
    "no-backend-503",
    ("use_backend",),
    GLOBAL + DEFAULTS + "frontend fe\n    bind {bind:main}\n    use_backend be if { path /x }\n"
    "backend be\n    server s1 {s1}\n",
    (get("/echo"), get("/x")),
)
row(
    "retries-fail",
    ("retries", "timeout connect"),
    http_cfg(
        backend="    retries 1\n    timeout connect 200ms\n", servers="    server s1 {dead}\n"
    ),
    (get("/echo"),),
)
row(
    "redispatch",
    ("option redispatch", "retries"),
    http_cfg(
        backend="    retries 2\n    option redispatch\n    timeout connect 200ms\n",
        servers="    server s1 {dead}\n    server s2 {s2}\n",
    ),
    seq(4),
    compare=SERVER_ONLY,
)
row(
    "no-redispatch",
    ("option redispatch", "retries"),
    http_cfg(
        backend="    retries 1\n    no option redispatch\n    timeout connect 200ms\n",
        servers="    server s1 {dead}\n    server s2 {s2}\n",
    ),
    seq(4),
    compare=SERVER_ONLY,
)
row(
    "retry-on-status-redispatch",
    ("retry-on", "retries", "option redispatch"),
    http_cfg(
        backend="    retries 2\n    retry-on 503\n    option redispatch 1\n",
        servers="    server s1 {s1}\n    server s2 {s2}\n",
    ),
    (get("/status/503"), get("/echo"), get("/status/500")),
    kinds=ECHO_KINDS,
)
row(
    "retry-on-none",
    ("retry-on", "retries"),
    http_cfg(
        backend="    retries 3\n    retry-on none\n    option redispatch\n"
        "    timeout connect 200ms\n",
        servers="    server s1 {dead}\n    server s2 {s2}\n",
    ),
    seq(3),
    compare=SERVER_ONLY,
)
row(
    "retry-on-empty-response",
    ("retry-on", "retries", "option redispatch"),
    http_cfg(
        global_="    log {log} format raw local0\n",
        defaults="    log global\n",
        frontend='    log-format "%ST %ts %b/%s %rc %HU"\n',
        backend="    retries 1\n    retry-on empty-response conn-failure\n"
        "    option redispatch 1\n",
        servers="    server c1 {c1}\n    server s2 {s2}\n",
    ),
    seq(3),
    kinds=RAW_KIND,
)
row(
    "retry-on-empty-response-post",
    ("retry-on", "log-format"),
    http_cfg(
        global_="    log {log} format raw local0\n",
        defaults="    log global\n",
        frontend='    log-format "%ST %ts %b/%s %rc %HU"\n',
        backend="    retries 1\n    retry-on all-retryable-errors\n    option redispatch 1\n",
        servers="    server c1 {c1}\n    server s2 {s2}\n",
    ),
    (
        Req("/echo/post", method="POST", body=b"a=1&b=2", headers=(("Content-Type", "text/x"),)),
        Req(
            "/echo/chunked",
            method="POST",
            headers=(("Transfer-Encoding", "chunked"),),
            body=b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        ),
        get("/echo"),
    ),
    kinds=RAW_KIND,
)
row(
    "retry-on-status",
    ("retry-on", "retries", "option redispatch"),
    http_cfg(
        global_="    log {log} format raw local0\n",
        defaults="    log global\n",
        frontend='    log-format "%ST %ts %b/%s %rc %HU"\n',
        backend="    retries 2\n    retry-on 503 504\n    option redispatch 1\n",
        servers="    server s1 {s1}\n    server s2 {s2}\n",
    ),
    (get("/status/503"), get("/status/500"), get("/echo")),
    kinds=ECHO_KINDS,
)
row(
    "retry-on-response-timeout",
    ("retry-on", "timeout server"),
    http_cfg(
        global_="    log {log} format raw local0\n",
        defaults="    log global\n",
        frontend='    log-format "%ST %ts %b/%s %rc %HU"\n',
        backend="    timeout server 300ms\n    retries 1\n    retry-on response-timeout\n",
        servers="    server s1 {s1}\n    server s2 {s2}\n",
    ),
    (get("/sleep/500"), get("/echo")),
    kinds=RAW_KIND,
)
row(
    "timeout-server-504",
    ("timeout server",),
    http_cfg(backend="    timeout server 300ms\n"),
    (get("/sleep/1200"), get("/echo")),
    kinds=ECHO_KINDS,
)
row(
    "timeout-http-request-408",
    ("timeout http-request",),
    http_cfg(frontend="    timeout http-request 300ms\n"),
    (Req(raw=b"GET /echo HTTP/1.1\r\nHost: x\r\n"), get("/echo")),
)
row(
    "timeout-http-keep-alive",
    ("timeout http-keep-alive",),
    http_cfg(defaults="    timeout http-keep-alive 200ms\n"),
    (get("/echo", conn="a"), get("/echo?late", conn="a", wait=0.6)),
)
row(
    "timeout-client",
    ("timeout client",),
    http_cfg(defaults="    timeout client 300ms\n"),
    (Req(raw=b"", timeout=3),),
)
row(
    "timeouts-accepted",
    ("timeout client-fin", "timeout server-fin", "timeout tunnel", "timeout check",
     "hard-stop-after", "nbthread", "stats timeout", "maxconn"),
    http_cfg(
        global_="    nbthread 2\n    hard-stop-after 5s\n    stats timeout 20s\n"
        "    maxconn 500\n",
        defaults="    timeout client-fin 1s\n    timeout server-fin 1s\n    timeout tunnel 1h\n"
        "    timeout check 1s\n    maxconn 100\n",
    ),
    STD,
)  # fmt: skip
row(
    "frontend-maxconn",
    ("maxconn",),
    http_cfg(frontend="    maxconn 1\n"),
    (Par((get("/sleep/600"), get("/echo")), stagger=0.2),),
    compare=SERVER_ONLY,
    kinds=ECHO_KINDS,
)

# -- tcp-request in HTTP mode --------------------------------------------------------------

row(
    "tcp-request-connection",
    ("tcp-request connection", "fetch:src"),
    http_cfg(frontend="    tcp-request connection reject if { src 127.0.0.2 }\n"),
    (get("/echo", src="127.0.0.2"), get("/echo")),
)
row(
    "tcp-request-session",
    ("tcp-request session",),
    http_cfg(
        frontend="    tcp-request session reject if { src 127.0.0.2 }\n"
        "    tcp-request session accept\n"
    ),
    (get("/echo", src="127.0.0.2"), get("/echo")),
)
row(
    "tcp-request-content-http",
    ("tcp-request content", "tcp-request inspect-delay"),
    http_cfg(
        frontend="    tcp-request inspect-delay 1s\n"
        "    tcp-request content reject if { hdr(x-bad) -m found }\n"
        "    tcp-request content accept\n"
    ),
    (get("/echo", headers=(("X-Bad", "1"),)), get("/echo")),
)

# -- logs ------------------------------------------------------------------------------------

LOG_GLOBAL = "    log {log} format raw local0\n"
#: `%B` is pinned by the `log-bytes` row; the httplog rows compare the other fields.
HTTPLOG_BYTES = ((r"(<timers> \d{3}) \d+ ", r"\1 <bytes> "),)
#: A tcplog line's byte count, where it is not the row's point (a TLS flight varies).
TCPLOG_BYTES = ((r"(<timers>) \d+ (\S\S <timers>)", r"\1 <bytes> \2"),)
CLF_SUBS = (
    (r"\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]", "[<date>]"),
    (r'" (\d{3}) \d+ "(.*?)" "(.*?)" \d+ \d+ ', r'" \1 <bytes> "\2" "\3" <port> <ms> '),
    (r'"(\w+)" "(\w+)" "(\w+)" \d+ \d+ \d+ \d+ \d+ ', r'"\1" "\2" "\3" <timers> '),
)
row(
    "log-bytes",
    ("log-format", "log"),
    http_cfg(
        global_=LOG_GLOBAL,
        defaults="    log global\n",
        frontend='    log-format "%ST %B"\n'
        "    http-request deny if { path /denied }\n"
        "    http-request redirect location /elsewhere if { path /moved }\n"
        '    http-request return status 200 content-type text/plain string "hi" '
        "if { path /local }\n",
    ),
    (
        get("/echo"),
        get("/status/404"),
        get("/echo", headers=(("Connection", "close"),)),
        get("/echo", version="HTTP/1.0"),
        get("/denied"),
        get("/moved"),
        get("/local"),
    ),
    kinds=ECHO_KINDS,
)
row(
    "log-format",
    ("log", "log-format"),
    http_cfg(
        global_=LOG_GLOBAL,
        defaults="    log global\n",
        frontend='    log-format "%ci %f %b %s %ST %HM %HU %HP %HQ %HV %ts %r"\n',
    ),
    (get("/echo?q=1"), Req("/echo/p", method="POST", body=b"x"), get("/status/404")),
    kinds=ECHO_KINDS,
)
row(
    "option-httplog-captures",
    ("option httplog", "capture request header", "capture response header", "log"),
    http_cfg(
        global_=LOG_GLOBAL,
        defaults="    log global\n    option httplog\n",
        frontend="    capture request header User-Agent len 10\n"
        "    capture request header X-Test len 5\n"
        "    capture response header X-Server len 8\n",
    ),
    (get("/echo", headers=(("User-Agent", "conformance-client/1.0"), ("X-Test", "1234567"))),),
    kinds=ECHO_KINDS,
    log_subs=HTTPLOG_BYTES,
)
row(
    "option-httplog-clf",
    ("option httplog", "log"),
    http_cfg(global_=LOG_GLOBAL, defaults="    log global\n    option httplog clf\n"),
    (get("/echo?x=1"),),
    kinds=ECHO_KINDS,
    log_subs=CLF_SUBS,
)
row(
    "option-dontlognull",
    ("option dontlognull",),
    http_cfg(
        global_=LOG_GLOBAL,
        defaults="    log global\n    option httplog\n    option dontlognull\n",
    ),
    (Req(close_now=True), get("/echo")),
    kinds=ECHO_KINDS,
    log_subs=HTTPLOG_BYTES,
)
# The TCP options of a listener (tcp_bind_listener): a connection that closes before
# sending a byte on a `defer-accept` bind; the socket options themselves are compared
# in tests/l7/test_bind_tcp_options.py.
row(
    "bind-tcp-options",
    ("bind:tfo", "bind:defer-accept", "bind:mss", "bind:tcp-ut", "bind:backlog", "backlog"),
    http_cfg(
        global_=LOG_GLOBAL,
        defaults="    log global\n    option httplog\n",
        frontend="    backlog 100\n"
        "    bind {bind:o} tfo defer-accept mss 1400 tcp-ut 3s backlog 64\n",
    ),
    (Req(close_now=True, bind="o"), get("/echo", bind="o"), Req(close_now=True)),
    kinds=ECHO_KINDS,
    log_subs=HTTPLOG_BYTES,
)
# Keep-alive probe settings on client and server connections; the values set are
# read from inside both proxies in tests/l7/test_tcp_keepalive_options.py.
row(
    "tcpka-tuning",
    tuple(f"{side}tcpka-{what}" for side in ("cli", "srv") for what in ("cnt", "idle", "intvl"))
    + ("option clitcpka", "option srvtcpka"),
    http_cfg(
        defaults="    option clitcpka\n    clitcpka-cnt 4\n    clitcpka-idle 30\n",
        frontend="    clitcpka-intvl 7s\n",
        backend="    option srvtcpka\n    srvtcpka-cnt 5\n    srvtcpka-idle 1m\n"
        "    srvtcpka-intvl 9\n",
    ),
    (get("/echo"), get("/echo")),
    kinds=ECHO_KINDS,
)
# `setenv` and friends change the environment as the file is read: later lines expand
# `${NAME}` from it, and `env()` reads it while serving.
row(
    "global-setenv",
    ("setenv", "presetenv", "unsetenv", "resetenv", "fetch:env"),
    http_cfg(
        global_="    setenv BK_COLOR blue\n    presetenv BK_COLOR red\n"
        "    presetenv BK_SIZE big\n    setenv BK_GONE here\n    unsetenv BK_GONE\n"
        '    setenv BK_HOME_WAS "${HOME-unset}"\n    resetenv BK_COLOR BK_SIZE BK_HOME_WAS\n',
        frontend='    http-request set-header X-Expanded "${BK_COLOR}-${BK_SIZE}-${BK_GONE-none}"\n'
        "    http-request set-header X-Env %[env(BK_COLOR)]\n"
        "    http-request set-header X-Gone %[env(BK_GONE)] if { env(BK_GONE) -m found }\n"
        "    http-request set-header X-Home-Kept %[env(BK_HOME_WAS),length]\n"
        "    http-request set-header X-Home yes if { env(HOME) -m found }\n"
        '    http-request set-header X-Home-Expanded "${HOME-gone}"\n',
    ),
    (get("/echo"),),
    kinds=ECHO_KINDS,
)
# `res.ver`: the HTTP version the server answered in (Python's http.server speaks
# HTTP/1.0), read by response rules and by the proxy's own pages' after-response rules.
row(
    "res-ver",
    ("fetch:res.ver", "fetch:resp_ver"),
    http_cfg(
        frontend="    http-response set-header X-Ver %[res.ver]\n"
        "    http-after-response set-header X-After-Ver %[resp_ver]\n"
        "    http-request deny if { path /denied }\n",
    ),
    (get("/echo"), get("/denied")),
    kinds=ALL_KINDS,
)
row(
    "empty-request-half-closed",
    ("mode", "bind"),
    http_cfg(),
    (Req(raw=b"", half_close=True), Req(raw=b"GET /echo HTTP/1.1\r\nHost: x\r\n", half_close=True)),
)
row(
    "option-log-health-checks",
    ("option log-health-checks",),
    http_cfg(
        global_=LOG_GLOBAL,
        defaults="    log global\n",
        backend="    option log-health-checks\n",
        servers="    server s1 {s1} check inter 100 fall 1\n"
        "    server s2 {dead} check inter 100 fall 1\n",
    ),
    (get("/echo"),),
    compare=frozenset({"status", "server"}),
    settle=0.5,
)

# -- stats page ------------------------------------------------------------------------------

STATS_HEADERS = frozenset({"content-type", "www-authenticate", "refresh", "cache-control"})
row(
    "stats-page",
    ("stats enable", "stats uri", "stats auth", "stats realm", "stats refresh",
     "stats hide-version"),
    http_cfg(
        frontend="    stats enable\n    stats uri /st\n    stats auth admin:secret\n"
        "    stats realm Conformance\n    stats refresh 5s\n    stats hide-version\n"
    ),
    (
        get("/st"),
        get("/st", headers=(("Authorization", "Basic YWRtaW46c2VjcmV0"),)),
        get("/st", headers=(("Authorization", "Basic YWRtaW46d3Jvbmc="),)),
        get("/echo"),
    ),
    compare=frozenset({"status", "headers"}),
    response_headers=STATS_HEADERS,
    header_order=False,
)  # fmt: skip
row(
    "stats-default-uri",
    ("stats enable",),
    http_cfg(frontend="    stats enable\n"),
    (get("/haproxy?stats"), get("/echo")),
    compare=frozenset({"status", "headers"}),
    response_headers=frozenset({"content-type"}),
)
row(
    "stats-csv",
    ("stats enable", "stats uri", "stats socket"),
    http_cfg(frontend="    stats enable\n    stats uri /st\n", servers=three()),
    (get("/st;csv"), Req(command="show stat")),
    compare=frozenset({"status", "headers", "body", "command"}),
    response_headers=frozenset({"content-type"}),
    body_lines=1,
)
row(
    "stats-socket-disable-server",
    ("stats socket",),
    http_cfg(servers=three()),
    (
        Req(command="disable server be/s2"),
        *seq(4),
        Req(command="enable server be/s2"),
        *seq(3),
    ),
    compare=SERVER_ONLY,
)

# -- health checks ---------------------------------------------------------------------------

HC_EXTRA = """backend ok
    option httpchk GET /status/200
    server s2 {s2} check inter 100 fall 1 rise 1
backend bad
    option httpchk GET /status/503
    server s3 {s3} check inter 100 fall 1 rise 1
"""


def hc_row(name: str, covers: tuple[str, ...], ok: str, bad: str) -> None:
    row(
        name,
        covers,
        GLOBAL
        + DEFAULTS
        + "frontend fe\n    bind {bind:main}\n    use_backend ok if { path_beg /ok }\n"
        "    default_backend bad\n"
        f"backend ok\n{ok}    server s2 {{s2}} check inter 100 fall 1 rise 1\n"
        f"backend bad\n{bad}    server s3 {{s3}} check inter 100 fall 1 rise 1\n",
        (get("/ok/x"), get("/bad/x")),
        compare=frozenset({"status", "server"}),
        settle=0.7,
    )


hc_row(
    "httpchk-status",
    ("option httpchk",),
    "    option httpchk GET /status/200\n",
    "    option httpchk GET /status/503\n",
)
hc_row(
    "httpchk-send-expect-status",
    ("http-check send", "http-check expect", "option httpchk"),
    "    option httpchk\n    http-check send meth GET uri /status/404 ver HTTP/1.1 "
    "hdr Host check.test\n    http-check expect status 404\n",
    "    option httpchk\n    http-check send meth GET uri /status/200\n"
    "    http-check expect status 404\n",
)
hc_row(
    "httpchk-expect-rstatus-negated",
    ("http-check expect",),
    "    option httpchk GET /status/200\n    http-check expect rstatus ^2\n",
    "    option httpchk GET /status/200\n    http-check expect ! rstatus ^2\n",
)
hc_row(
    "httpchk-expect-string",
    ("http-check expect",),
    "    option httpchk GET /status/200\n    http-check expect string s2\n",
    "    option httpchk GET /status/200\n    http-check expect rstring nomatch[0-9]\n",
)
row(
    "mysql-check-on-http",
    ("option mysql-check",),
    http_cfg(
        backend="    option mysql-check user haproxy\n",
        servers="    server s1 {s1} check inter 100 fall 1\n",
    ),
    (get("/echo"),),
    compare=frozenset({"status"}),
    settle=0.7,
    kinds=ECHO_KINDS,
)
# `id`: fixed proxy ids; the others are numbered in declaration order from a counter
# every proxy advances (from 2 here: the stats socket's proxy is first), skipping the
# fixed ones, so `show stat` and `show servers state` show the same ids in both.
row(
    "proxy-id",
    ("id",),
    http_cfg(
        frontend="    id 3\n",
        extra="backend b2\n    id 4\n    server s1 {s1}\nbackend b3\n    server s1 {s1}\n"
        "listen l4\n    bind {bind:l4}\n    server s1 {s1}\nbackend b5\n    id 9\n"
        "    server s1 {s1}\n",
    ),
    (Req(command="show stat"), Req(command="show servers state")),
    compare=frozenset({"command"}),
    # pxname, svname, iid, sid of `show stat`; be_id, be_name, srv_id of the state.
    extract=r"(?m)^(?:([^,#\s]+),([^,]*),(?:[^,]*,){25}([^,]*),([^,]*),|(\d+) (\S+) (\d+) s1 )",
    kinds=RAW_KIND,
)
row(
    "pgsql-check",
    ("option pgsql-check", "option log-health-checks", "server:check"),
    # A real PostgreSQL: the user it trusts passes (an authentication request), the
    # user its pg_hba.conf rejects fails on the FATAL error; both servers start UP,
    # so the second's change is logged, and `show stat` says why.
    http_cfg(
        global_=LOG_GLOBAL,
        defaults="    log global\n",
        extra="backend ok\n    option pgsql-check user postgres\n"
        "    option log-health-checks\n    server pg {pg} check inter 200ms fall 1\n"
        "backend refused\n    option pgsql-check user refused\n"
        "    option log-health-checks\n    server pg {pg} check inter 200ms fall 1\n",
    ),
    (Req(command="show stat"),),
    compare=frozenset({"log", "command"}),
    settle=0.8,
    extract=r"^(ok|refused),pg,(?:[^,]*,){15}([^,]*),(?:[^,]*,){18}([^,]*),",
    # HAProxy marks a check running at that moment with "* " (timing, not behaviour).
    command_subs=((r"\* (L\d)", r"\1"),),
    log_subs=((r"check duration: \d+ms", "check duration: <ms>"),),
    kinds=RAW_KIND,
)

#: A server's state and check status in `show stat`.  Its code and text are compared
#: in the log lines: `show stat` blanks them while a check runs, and when a check runs
#: is timing, not behaviour.
CHECK_STAT = r"^(\w+),(\w+),(?:[^,]*,){15}([^,]*),(?:[^,]*,){18}([^,]*),"


def check_row(
    name: str,
    covers: tuple[str, ...],
    backends: tuple[tuple[str, str, str], ...],
    defaults: str = "",
) -> None:
    """A row where each backend checks one server its own way: what `show stat` says
    of each check, and the log lines of the servers it took down."""
    extra = "".join(
        f"backend {backend}\n{lines}    option log-health-checks\n"
        f"    server s {address} check inter 200ms fall 1\n"
        for backend, lines, address in backends
    )
    row(
        name,
        (*covers, "option log-health-checks", "server:check"),
        http_cfg(global_=LOG_GLOBAL, defaults="    log global\n" + defaults, extra=extra),
        (Req(command="show stat"),),
        compare=frozenset({"log", "command"}),
        settle=0.9,
        extract=CHECK_STAT,
        # HAProxy marks a check running at that moment with "* " (timing, not behaviour).
        command_subs=((r"\* (L\d)", r"\1"),),
        log_subs=((r"check duration: \d+ms", "check duration: <ms>"),),
        # Checks of different backends finish in either order.
        log_sorted=True,
        kinds=RAW_KIND,
    )


# A real Redis: PING answered +PONG passes; one that wants a password answers
# -NOAUTH, which is not +PONG, and the check waits for more until its time is up.
check_row(
    "redis-check",
    ("option redis-check",),
    (
        ("ok", "    option redis-check\n", "{redis}"),
        ("auth", "    option redis-check\n", "{redis:auth}"),
        ("dead", "    option redis-check\n", "{dead}"),
    ),
)
# A real SMTP server (aiosmtpd): the greeting, then HELO (or the EHLO asked for);
# one that turns HELO away with 550; a server that never greets (Redis).
check_row(
    "smtpchk",
    ("option smtpchk",),
    (
        ("helo", "    option smtpchk\n", "{smtp}"),
        ("ehlo", "    option smtpchk EHLO checker.example\n", "{smtp}"),
        ("refused", "    option smtpchk HELO checker.example\n", "{smtp:refuse}"),
        ("silent", "    option smtpchk\n", "{redis}"),
    ),
)
# Scripted checks against a real Redis: strings, regexes, binary, negation,
# min-recv, on-error/on-success, error-status, comments, an explicit connect, and
# the generic messages of failures, timeouts and refused connections.
check_row(
    "tcp-check",
    ("option tcp-check", "tcp-check connect", "tcp-check send", "tcp-check send-binary",
     "tcp-check send-lf", "tcp-check send-binary-lf", "tcp-check expect", "tcp-check comment"),
    (
        ("ping", "    option tcp-check\n    tcp-check send PING\\r\\n\n"
         "    tcp-check expect string +PONG\n", "{redis}"),
        ("info", "    option tcp-check\n    tcp-check comment version\n    tcp-check connect\n"
         "    tcp-check send \"INFO server\\r\\n\"\n"
         "    tcp-check expect rstring redis_version:[0-9]\n"
         "    tcp-check send QUIT\\r\\n\n    tcp-check expect string +OK\n", "{redis}"),
        ("auth", "    option tcp-check\n    tcp-check send PING\\r\\n\n"
         "    tcp-check expect min-recv 5 string +PONG comment \"need pong\"\n", "{redis:auth}"),
        ("neg", "    option tcp-check\n    tcp-check send PING\\r\\n\n"
         "    tcp-check expect ! rstring ^-NOAUTH min-recv 1 error-status L7STS "
         "on-error %[res.payload(0,0),cut_crlf]\n", "{redis:auth}"),
        ("binary", "    option tcp-check\n    tcp-check send-binary 50494e470d0a\n"
         "    tcp-check expect binary 2b504f4e47 on-success \"pong seen\"\n", "{redis}"),
        ("slow", "    option tcp-check\n    tcp-check send PING\\r\\n comment ask\n"
         "    tcp-check expect string nevermatch comment slow\n", "{redis}"),
        ("refused", "    option tcp-check\n", "{dead}"),
        ("elsewhere", "    option tcp-check\n    tcp-check connect addr {dead}\n", "{redis}"),
        ("lf", "    option tcp-check\n    tcp-check send-lf \"%[str(PING)]\\r\\n\"\n"
         "    tcp-check expect string-lf %[str(+PONG)]\n", "{redis}"),
        ("binlf", "    option tcp-check\n    tcp-check send-binary-lf %[str(PING),hex]0d0a\n"
         "    tcp-check expect binary-lf %[str(+PONG),hex] on-success %[res.payload(1,4)]\n",
         "{redis}"),
    ),
)  # fmt: skip
# A defaults section's steps are those of its proxies that have none, if it has
# `option tcp-check` itself; without it, a proxy's own `option tcp-check` has no step
# and is a plain connect check.
check_row(
    "tcp-check-defaults",
    ("option tcp-check", "tcp-check send", "tcp-check expect"),
    (
        ("inherits", "", "{redis}"),
        (
            "own",
            "    tcp-check send PING\\r\\n\n    tcp-check expect string +PONG\n",
            "{redis:auth}",
        ),
        ("other", "    option redis-check\n", "{redis:auth}"),
    ),
    defaults="    option tcp-check\n    tcp-check send INFO\\r\\n\n"
    "    tcp-check expect rstring ^\\$[0-9]+\n",
)
check_row(
    "tcp-check-defaults-unused",
    ("option tcp-check", "tcp-check send", "tcp-check expect"),
    (("plain", "    option tcp-check\n", "{redis}"),),
    defaults="    tcp-check send INFO\\r\\n\n    tcp-check expect string nevermatch\n",
)  # fmt: skip
# `check-send-proxy`: the check of a server on a port of its own starts with a PROXY
# header anyway (the echo backend reports it in the body the expect rule reads).
check_row(
    "check-send-proxy",
    ("server:check-send-proxy", "server:port", "server:no-check-ssl"),
    (
        ("with", "    option httpchk GET /echo\n    http-check expect string proxy\n",
         "{s1} port {port:s1} check-send-proxy"),
        ("without", "    option httpchk GET /echo\n    http-check expect string proxy\n",
         "{s1} port {port:s1}"),
        # `no-check-ssl` undoes `check-ssl` (as after a default-server line).
        ("plain", "    option httpchk GET /echo\n", "{s1} check-ssl no-check-ssl"),
    ),
)  # fmt: skip
# What TLS checks offer: `check-sni` (never the server's `sni`), `check-alpn`
# (else the server's `alpn`), and the server's client certificate; the TLS echo
# backend reports each, and the check expects it in the body.
# The check request's bytes, as the echo server saw them: lower-case names, no
# `connection` header where the version's default is wanted, `content-length: 0`
# for a body-less POST, and `http-check send-state`'s header.
SEND = "    option httpchk\n    http-check send meth "
STATE = (
    "x-haproxy-server-state....UP;.address=127.0.0.1;.port=[0-9]+;.name=state/s;"
    ".node=[^;]+;.weight=3/3;.scur=0/0;.qcur=0"
)
check_row(
    "httpchk-request-bytes",
    ("option httpchk", "http-check send", "http-check send-state", "http-check expect"),
    (
        ("v10", "    option httpchk GET /echo\n    http-check expect ! string onnection\n", "{s1}"),
        ("v11", SEND + "GET uri /echo ver HTTP/1.1 hdr Host x hdr X-Custom 1\n"
         "    http-check expect rstring x-custom.*connection.,..close\n", "{s1}"),
        ("keepalive", SEND + "GET uri /echo ver HTTP/1.1 hdr Host x hdr Connection keep-alive\n"
         "    http-check expect ! string onnection\n", "{s1}"),
        ("post", SEND + "POST uri /echo ver HTTP/1.0\n"
         "    http-check expect rstring content-length.,..0\n", "{s1}"),
        ("state", "    option httpchk GET /echo\n    http-check send-state\n"
         f"    http-check expect rstring {STATE}\n", "{s1} weight 3"),
    ),
)  # fmt: skip
# `http-check connect`: where the HTTP check goes and how (the echo server that
# answered, the SNI it saw, the PROXY header), `default` adding the server's own
# settings; without it a check of a TLS server goes in clear and fails.
HCONN = "    option httpchk\n    http-check connect "
HSEND = "\n    http-check send meth GET uri /echo\n    http-check expect rstring "
check_row(
    "http-check-connect",
    ("http-check connect",),
    (
        ("port", HCONN + "port {port:s2}" + HSEND + "server....s2\n", "{s1}"),
        ("addr", HCONN + "addr 127.0.0.1 port {port:s3}" + HSEND + "server....s3\n", "{s1}"),
        ("tls", HCONN + "ssl sni check.test alpn http/1.1" + HSEND + "sni....check.test\n",
         "{t1} verify none"),
        ("proxy", HCONN + "send-proxy" + HSEND + "proxy\n", "{s1}"),
        ("plain", HCONN + "linger" + HSEND + "sni\n", "{t1} verify none check-ssl"),
        ("default", HCONN + "default" + HSEND + "sni....check.test\n",
         "{t1} verify none check-ssl check-sni check.test"),
    ),
)  # fmt: skip
CHK = "    option httpchk GET /echo\n    http-check expect rstring "
check_row(
    "check-sni-alpn-crt",
    ("server:check-sni", "server:check-alpn", "server:crt", "server:check-ssl"),
    (
        ("sni", CHK + "sni....check.test\n", "{t1} check-ssl verify none check-sni check.test"),
        ("srvsni", CHK + "sni....check.test\n", "{t1} check-ssl verify none sni str(check.test)"),
        ("alpn", CHK + "alpn....http/1.1\n", "{t1} check-ssl verify none check-alpn http/1.1"),
        ("noalpn", CHK + "alpn....http/1.1\n", "{t1} check-ssl verify none"),
        ("crt", CHK + "client....client.test\n",
         "{t1} check-ssl verify none crt {certdir}/client.pem"),
    ),
)  # fmt: skip
# The SSLv3 hello: a TLS server answers with a record (an alert), an HTTP server
# with something else, Redis with nothing.  LDAP's bind request: the HTTP server's
# answer is not LDAPv3, Redis says nothing.
check_row(
    "ssl-hello-ldap-check",
    ("option ssl-hello-chk", "option ldap-check", "tcp-check connect"),
    (
        ("tls", "    option ssl-hello-chk\n", "{t1}"),
        ("http", "    option ssl-hello-chk\n", "{s1}"),
        ("redis", "    option ssl-hello-chk\n", "{redis}"),
        ("ldaphttp", "    option ldap-check\n", "{s1}"),
        ("ldapredis", "    option ldap-check\n", "{redis}"),
        # A step that starts TLS itself, then speaks HTTP over it.
        ("tlsstep", "    option tcp-check\n    tcp-check connect ssl\n"
         "    tcp-check send \"GET /status/200 HTTP/1.0\\r\\n\\r\\n\"\n"
         "    tcp-check expect rstring ^HTTP/1\\.[01]\\ 200\n", "{t1} verify none"),
        ("tlsonly", "    option tcp-check\n    tcp-check connect ssl\n", "{t1} verify none"),
    ),
)  # fmt: skip

# -- compression -----------------------------------------------------------------------


def _ae(value: str, path: str = "/echo", **kw: object) -> Req:
    return get(path, headers=(("Accept-Encoding", value),), **kw)


def _header_query(*pairs: tuple[str, str]) -> str:
    """`respond-header=` parameters asking the echo backend for these answer headers."""
    return "&".join("respond-header=" + urllib.parse.quote(f"{n}:{v}") for n, v in pairs)


# Which algorithm the client's Accept-Encoding picks (q-values, order, `*`: HAProxy's
# first, the last configured), and the answers and requests never compressed.
row(
    "compression",
    ("compression algo", "compression type", "fetch:res.comp", "fetch:res.comp_algo"),
    http_cfg(
        frontend="    compression algo gzip deflate\n"
        "    compression type text/html application/json\n"
        "    http-response set-header X-Comp %[res.comp]\n"
        "    http-after-response set-header X-Algo %[res.comp_algo]\n"
    ),
    (
        _ae("gzip"),
        _ae("deflate"),
        _ae("gzip;q=0.5, deflate;q=0.8"),
        _ae("deflate;q=0, gzip"),
        _ae("*"),
        _ae("br"),
        get("/echo"),
        _ae("gzip", method="HEAD"),
        _ae("gzip", "/status/404"),
        _ae("gzip", "/status/201"),
        _ae("gzip", version="HTTP/1.0"),
        get("/echo", headers=(("Accept-Encoding", "gzip"),
                              ("User-Agent", "Mozilla/4.0 (compatible; MSIE 5.5; Windows)"))),
        Req("/echo/post", method="POST", body=b"x" * 2000, headers=(("Accept-Encoding", "gzip"),)),
    ),
)  # fmt: skip
# What the server's answer says: chunked or close-delimited, its ETag (made weak;
# a malformed one stops compression), Cache-Control no-transform, an encoding of its
# own; rules run on the answer before it is encoded, and add their Vary before ours.
row(
    "compression-response",
    ("compression algo", "tune.comp.maxlevel"),
    http_cfg(
        frontend="    compression algo raw-deflate gzip\n"
        "    http-response set-header Vary Cookie\n",
        global_="    tune.comp.maxlevel 9\n",
    ),
    (
        _ae("gzip", "/echo/chunked"),
        _ae("gzip", "/echo/close-delimited"),
        _ae("gzip", "/echo?" + _header_query(("ETag", '"v1"'))),
        _ae("gzip", "/echo?" + _header_query(("ETag", 'W/"v1"'))),
        _ae("gzip", "/echo?" + _header_query(("ETag", "v1"))),
        _ae("gzip", "/echo?" + _header_query(("Cache-Control", "public, no-transform"))),
        _ae("gzip", "/echo?" + _header_query(("Content-Encoding", "br"))),
        _ae("deflate"),
    ),
    kinds=RAW_KIND,
)
# The backend's lines come first: its `identity` answers every request (no header
# needed), chunked with Vary; its types are prefixes; `offload` keeps Accept-Encoding
# from the server when the client's header chose; a defaults section's algorithms
# reach its proxies, its `offload` does not (HAProxy warns).
row(
    "compression-backend",
    ("compression algo", "compression type", "compression offload"),
    GLOBAL + DEFAULTS + "    compression algo gzip\n    compression offload\n"
    "frontend fe\n    bind {bind:main}\n    compression algo deflate\n"
    "    use_backend id if { path_beg /id }\n    use_backend off if { path_beg /off }\n"
    "    default_backend plain\n"
    "backend id\n    compression algo identity\n    compression type application/\n"
    "    server s1 {s1}\n"
    "backend off\n    compression offload\n    compression type text/\n    server s2 {s2}\n"
    "backend plain\n    server s3 {s3}\n",
    (
        _ae("gzip", "/id/x"),
        get("/id/x"),
        _ae("gzip", "/off/x"),
        _ae("gzip", "/off/x?" + _header_query(("Content-Type", "text/plain"))),
        _ae("br", "/off/x"),
        _ae("gzip", "/plain"),
        _ae("deflate", "/plain"),
    ),
)

# -- TLS binds and global TLS settings ------------------------------------------------------

row(
    "bind-ssl",
    ("bind:ssl", "bind:crt", "fetch:ssl_fc", "fetch:ssl_fc_sni", "fetch:ssl_fc_has_sni"),
    http_cfg(
        frontend="    bind {bind:tls} ssl crt {crt}\n"
        "    http-request set-header X-Ssl %[ssl_fc]\n"
        "    http-request set-header X-Sni %[ssl_fc_sni]\n"
        "    http-request set-header X-Has-Sni %[ssl_fc_has_sni]\n"
        "    redirect scheme https code 302 unless { ssl_fc }\n"
    ),
    (
        get("/echo", bind="tls", tls=True, sni="localhost"),
        get("/echo", bind="tls", tls=True, sni="example.test"),
        get("/echo?plain"),
    ),
    kinds=ECHO_KINDS,
    header_order=False,
)
row(
    "bind-alpn",
    ("bind:alpn",),
    http_cfg(frontend="    bind {bind:tls} ssl crt {crt} alpn http/1.1,http/1.0\n"),
    (
        get("/echo", bind="tls", tls=True, alpn=("h2", "http/1.1")),
        get("/echo", bind="tls", tls=True, alpn=("http/1.0",)),
    ),
    kinds=ECHO_KINDS,
)
row(
    "crt-base-and-ssl-defaults",
    ("crt-base", "ssl-default-bind-ciphers", "ssl-default-bind-options",
     "ssl-default-bind-ciphersuites"),
    http_cfg(
        global_="    crt-base {certdir}\n"
        "    ssl-default-bind-ciphers ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256\n"
        "    ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384\n"
        "    ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets\n",
        frontend="    bind {bind:tls} ssl crt site.pem\n",
    ),
    (
        get("/echo", bind="tls", tls=True, tls_max="TLSv1_2"),
        get("/echo", bind="tls", tls=True),
    ),
    kinds=RAW_KIND,
)  # fmt: skip
# A bind's own TLS versions and ciphers (after the global defaults), what the
# handshake negotiated (`ssl_fc_*`), and strict-sni refusing a name no certificate
# has, or none.
row(
    "bind-tls-options",
    ("bind:ssl-min-ver", "bind:ssl-max-ver", "bind:no-tlsv13", "bind:ciphers",
     "bind:no-tls-tickets", "bind:prefer-client-ciphers", "bind:strict-sni",
     "bind:force-tlsv12", "bind:no-tlsv12", "bind:no-sslv3", "bind:no-tlsv10",
     "bind:no-tlsv11", "bind:force-tlsv13", "fetch:ssl_fc_protocol", "fetch:ssl_fc_cipher",
     "fetch:ssl_fc_alpn"),
    http_cfg(
        frontend="    bind {bind:v13} ssl crt {crt} ssl-min-ver TLSv1.3 alpn http/1.1\n"
        "    bind {bind:v12} ssl crt {crt} ssl-max-ver TLSv1.2 "
        "ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256\n"
        "    bind {bind:nov13} ssl crt {crt} no-sslv3 no-tlsv10 no-tlsv11 no-tlsv13 "
        "no-tls-tickets prefer-client-ciphers\n"
        "    bind {bind:force12} ssl crt {crt} force-tlsv12\n"
        "    bind {bind:only13} ssl crt {crt} no-tlsv12 force-tlsv13\n"
        "    bind {bind:strict} ssl crt {crt} strict-sni\n"
        "    http-request set-header X-Proto %[ssl_fc_protocol]\n"
        "    http-request set-header X-Cipher %[ssl_fc_cipher]\n"
        "    http-request set-header X-Alpn %[ssl_fc_alpn]\n"
    ),
    (
        get("/echo", bind="v13", tls=True, alpn=("http/1.1",)),
        get("/echo", bind="v12", tls=True),
        get("/echo", bind="nov13", tls=True),
        get("/echo", bind="force12", tls=True),
        get("/echo", bind="only13", tls=True),
        get("/echo", bind="strict", tls=True, sni="example.test"),
        get("/echo"),
    ),
    kinds=RAW_KIND,
)  # fmt: skip
# TLS 1.3 cipher suites and key exchange groups, on a bind and from the global
# defaults (Python's ssl module has neither; balancekit sets them in OpenSSL).
row(
    "bind-ciphersuites-curves",
    ("bind:ciphersuites", "bind:curves", "ssl-default-bind-ciphersuites",
     "ssl-default-bind-curves"),
    http_cfg(
        global_="    ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256\n"
        "    ssl-default-bind-curves P-256\n",
        frontend="    bind {bind:own} ssl crt {crt} ciphersuites TLS_CHACHA20_POLY1305_SHA256 "
        "curves P-384:X25519\n"
        "    bind {bind:dflt} ssl crt {crt}\n"
        "    http-request set-header X-Cipher %[ssl_fc_cipher]\n",
    ),
    (get("/echo", bind="own", tls=True), get("/echo", bind="dflt", tls=True)),
    kinds=RAW_KIND,
)  # fmt: skip
# DHE ciphers (a TLS 1.2 client offering DHE-RSA): their DH group comes from the
# certificate's own file, else `ssl-dh-param-file`, else `tune.ssl.default-dh-param`
# (RFC 7919's group of the key's size); a client offering ECDHE too gets what the
# server prefers.
DHE = "DHE-RSA-AES128-GCM-SHA256"
ECDHE = "ECDHE-RSA-AES128-GCM-SHA256"


def dhe(bind: str, ciphers: str = DHE) -> Req:
    """A TLS 1.2 request offering only `ciphers`."""
    return get("/echo", bind=bind, tls=True, tls_max="TLSv1_2", tls_ciphers=ciphers)


row(
    "tls-dh-default-param",
    ("tune.ssl.default-dh-param",),
    http_cfg(
        global_="    tune.ssl.default-dh-param 2048\n",
        frontend="    bind {bind:rsa} ssl crt {certdir}/rsa.pem\n"
        "    bind {bind:own} ssl crt {certdir}/rsa-dh.pem\n"
        "    http-request set-header X-Cipher %[ssl_fc_cipher]\n",
    ),
    (dhe("rsa"), dhe("own"), dhe("rsa", f"{DHE}:{ECDHE}")),
    kinds=RAW_KIND,
)
row(
    "tls-dh-param-file",
    ("ssl-dh-param-file",),
    http_cfg(
        global_="    ssl-dh-param-file {certdir}/ffdhe2048.pem\n",
        frontend="    bind {bind:rsa} ssl crt {certdir}/rsa.pem\n"
        "    http-request set-header X-Cipher %[ssl_fc_cipher]\n",
    ),
    (dhe("rsa"), dhe("rsa", f"{ECDHE}:{DHE}")),
    kinds=RAW_KIND,
)
# Client certificates: `verify optional` takes a client with or without one; the
# `ssl_c_*` fetches describe it; `verify required` refuses a client without one.
row(
    "bind-client-certificates",
    ("bind:ca-file", "bind:verify", "fetch:ssl_c_used", "fetch:ssl_c_verify",
     "fetch:ssl_c_s_dn", "fetch:ssl_c_i_dn", "fetch:ssl_c_serial"),
    http_cfg(
        frontend="    bind {bind:optional} ssl crt {crt} ca-file {ca} verify optional\n"
        "    bind {bind:required} ssl crt {crt} ca-file {ca} verify required\n"
        "    http-request set-header X-Used %[ssl_c_used]\n"
        "    http-request set-header X-Verify %[ssl_c_verify]\n"
        "    http-request set-header X-Subject %[ssl_c_s_dn]\n"
        "    http-request set-header X-Issuer %[ssl_c_i_dn]\n"
        "    http-request set-header X-CN %[ssl_c_s_dn(CN)]\n"
        "    http-request set-header X-Issuer-O %[ssl_c_i_dn(O,-1)]\n"
        "    http-request set-header X-Serial %[ssl_c_serial,hex]\n"
    ),
    (
        get("/echo", bind="optional", tls=True),
        get("/echo", bind="optional", tls=True, client_cert=True),
        get("/echo", bind="required", tls=True, client_cert=True),
    ),
    kinds=RAW_KIND,
)  # fmt: skip
# A crt-list: the first line is the default; a line's SNI filters replace its
# certificate's names (exact before wildcard, `!` excludes), its `[…]` options replace
# the bind's for it.
row(
    "bind-crt-list",
    ("bind:crt-list",),
    http_cfg(
        frontend="    bind {bind:tls} ssl crt-list {file:crtlist} alpn http/1.1\n"
        "    http-request set-header X-Proto %[ssl_fc_protocol]\n"
    ),
    (
        get("/echo", bind="tls", tls=True, sni="example.test", tls_verify=False),
        get("/echo", bind="tls", tls=True, sni="api.test", tls_verify=False,
            alpn=("http/1.0", "http/1.1")),
        get("/echo", bind="tls", tls=True, sni="a.wild.test", tls_verify=False),
        get("/echo", bind="tls", tls=True, sni="no.wild.test", tls_verify=False),
        get("/echo", bind="tls", tls=True, sni="nothing.test", tls_verify=False),
    ),
    files={
        "crtlist": b"# the default first\n{certdir}/site.pem\n"
        b"{certdir}/backend.pem [alpn http/1.0] api.test\n"
        b"{certdir}/wild.pem [ssl-min-ver TLSv1.3] *.wild.test !no.wild.test\n"
    },
    kinds=RAW_KIND,
)  # fmt: skip
# The handshakes a bind refuses: a version it does not offer (TLS 1.0 and 1.1 are below
# what this OpenSSL allows a modern client at all), a name strict-sni finds
# no certificate for, no client certificate where one is required.  Both refuse; HAProxy
# sends the TLS alert first, balancekit closes without it (asyncio and uvloop drop the
# alert OpenSSL wrote when the handshake fails), so the client sees EOF, not the alert.
row(
    "bind-tls-refusals",
    (
        "bind:ssl-min-ver",
        "bind:force-tlsv13",
        "bind:strict-sni",
        "bind:verify",
        "bind:force-tlsv10",
        "bind:force-tlsv11",
    ),
    http_cfg(
        frontend="    bind {bind:v13} ssl crt {crt} ssl-min-ver TLSv1.3\n"
        "    bind {bind:f10} ssl crt {crt} force-tlsv10\n"
        "    bind {bind:f11} ssl crt {crt} force-tlsv11\n"
        "    bind {bind:strict} ssl crt {crt} strict-sni\n"
        "    bind {bind:required} ssl crt {crt} ca-file {ca} verify required\n"
    ),
    (
        get("/echo", bind="v13", tls=True, tls_max="TLSv1_2"),
        get("/echo", bind="strict", tls=True, sni="other.test", tls_verify=False),
        get("/echo", bind="required", tls=True),
        get("/echo", bind="f10", tls=True),
        get("/echo", bind="f11", tls=True),
    ),
    kinds=RAW_KIND,
    xfail="a refused TLS handshake: HAProxy sends the alert (protocol_version, "
    "unrecognized_name, certificate_required), balancekit closes without it",
    diverges=r"\.error",
)
row(
    "bind-accept-proxy",
    ("bind:accept-proxy", "option forwardfor"),
    http_cfg(
        frontend="    bind {bind:pp} accept-proxy\n    option forwardfor\n"
        "    http-request set-header X-Src %[src]\n"
    ),
    (
        get("/echo", bind="pp", proxy=b"PROXY TCP4 192.0.2.9 127.0.0.1 5555 80\r\n"),
        get("/echo", bind="pp", proxy=b"PROXY UNKNOWN\r\n"),
    ),
    kinds=ECHO_KINDS,
)


def pp_v2(tlvs: tuple[tuple[int, bytes], ...] = (), *, crc: str = "") -> bytes:
    """A PROXY v2 header (TCP4 192.0.2.9:5555 -> 127.0.0.1:80) with these TLVs, and a
    CRC32C TLV last when `crc` is "good" (the right sum) or "bad" (off by one)."""
    import struct

    from balancekit.hashing import crc32c
    from balancekit_server.net.proxy_protocol import V2_SIGNATURE

    addresses = bytes((192, 0, 2, 9, 127, 0, 0, 1)) + struct.pack("!HH", 5555, 80)
    body = addresses + b"".join(struct.pack("!BH", k, len(v)) + v for k, v in tlvs)
    if crc:
        body += struct.pack("!BH", 0x03, 4) + bytes(4)
    header = V2_SIGNATURE + bytes((0x21, 0x11)) + struct.pack("!H", len(body)) + body
    if crc:
        checksum = crc32c(header) + (1 if crc == "bad" else 0)
        header = header[:-4] + struct.pack("!I", checksum & 0xFFFFFFFF)
    return header


# PROXY v2 TLVs: the authority (2) and unique ID (5) a proxy in front sent, read by
# `fc_pp_authority`/`fc_pp_unique_id`; a CRC32C (3) is checked, a wrong one or an
# over-long unique ID (over 128 bytes) drops the connection; other types are skipped.
row(
    "proxy-v2-tlvs",
    ("fetch:fc_pp_authority", "fetch:fc_pp_unique_id"),
    http_cfg(
        frontend="    bind {bind:pp} accept-proxy\n"
        "    http-request set-header X-Authority %[fc_pp_authority]\n"
        "    http-request set-header X-Uid %[fc_pp_unique_id] if { fc_pp_unique_id -m found }\n"
        "    http-request deny deny_status 403 if { fc_pp_unique_id -m beg deny }\n"
    ),
    (
        get("/echo", bind="pp", proxy=pp_v2(((2, b"www.example.test"), (5, b"abc-123")))),
        get("/echo", bind="pp", proxy=pp_v2(((5, b"uid-crc"), (0x20, b"\x01skip")), crc="good")),
        get("/echo", bind="pp", proxy=pp_v2(((5, b"uid-crc"),), crc="bad")),
        get("/echo", bind="pp", proxy=pp_v2(((5, b"x" * 128),))),
        get("/echo", bind="pp", proxy=pp_v2(((5, b"x" * 129),))),
        get("/echo", bind="pp", proxy=pp_v2(((5, b"deny-me"),))),
        get("/echo", bind="pp", proxy=pp_v2()),
    ),
    kinds=RAW_KIND,
)
row(
    "bind-name-v6only",
    ("bind:name", "bind:v6only"),
    http_cfg(frontend="    bind {bind6:v6} v6only name six\n"),
    (get("/echo", bind="v6"), get("/echo")),
    kinds=ECHO_KINDS,
)
row(
    "bind-v4v6",
    ("bind:v4v6",),
    http_cfg(frontend="    bind {bind6:v6b} v4v6\n"),
    (get("/echo", bind="v6b"),),
    kinds=ECHO_KINDS,
)


def padded(n: int) -> Req:
    """A request whose head takes 123 + n bytes of HAProxy's buffer (HTX): the
    request line, Host, an `X-Pad` header with n bytes, and `Connection: close`,
    which HAProxy keeps as a flag, not a header."""
    return Req(
        raw=b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: " + b"a" * n + b"\r\n\r\n",
        timeout=3,
    )


row(
    "fullconn",
    ("fullconn", "maxconn"),
    # A backend's `slim` in `show stat` is its fullconn: set, or 10% of the maxconn of
    # the frontends that may send it traffic (each counted once per backend; a listen
    # counts for itself; a frontend without maxconn brings the global one).
    http_cfg(
        global_="    maxconn 500\n",
        frontend="    maxconn 300\n    use_backend b2 if { path_beg /x }\n"
        "    use_backend b2 if { path_beg /y }\n    use_backend b3 if { path_beg /z }\n",
        extra="backend b2\n    server s1 {s1}\nbackend b3\n    fullconn 77\n    server s1 {s1}\n"
        "listen l\n    bind {bind:other}\n    server s1 {s1}\n",
    ),
    (get("/x"), Req(command="show stat")),
    compare=frozenset({"status", "command"}),
    extract=r"^([\w]+),BACKEND,(?:[^,]*,){4}([^,]*),",
)
STATE_HEADER = (
    "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
    "srv_iweight srv_time_since_last_change srv_check_status srv_check_result "
    "srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id "
    "srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr "
    "srv_agent_port\n"
)


def state_line(
    server: str, op: int, admin: int, uweight: int, port: str = "{port:s1}", iweight: int = 1
) -> str:
    """A `show servers state` line of backend `be` (id 3 in `http_cfg`)."""
    sid = server.removeprefix("s")
    return (
        f"3 be {sid} {server} 127.0.0.1 {op} {admin} {uweight} {iweight} 10 1 0 "
        f"{2 if op else 0} 0 0 0 0 - {port} - 0 0 - - 0\n"
    )


row(
    "server-state-file",
    ("server-state-file", "load-server-state-from-file", "stats socket"),
    # Servers come back as the file left them: s1 in maintenance, s2 DOWN, s3 draining,
    # s4 at weight 3 (its configured weight unchanged) and moved to s2's port (the file's
    # port wins), s5 as configured; a line for a server the backend lacks is ignored.
    # Then roundrobin sends 3 of 4 requests to s4. Nothing of this reaches the log.
    http_cfg(
        global_=LOG_GLOBAL + "    server-state-file {file:state}\n",
        defaults="    log global\n    option httplog\n    load-server-state-from-file global\n",
        backend="    balance roundrobin\n",
        servers="    server s1 {s1}\n    server s2 {s1}\n    server s3 {s1}\n"
        "    server s4 {s1}\n    server s5 {s3}\n",
    ),
    (*seq(8), Req(command="show servers state be")),
    files={
        "state": (
            "1\n"
            + STATE_HEADER
            + state_line("s1", 2, 1, 1)
            + state_line("s2", 0, 0, 1)
            + state_line("s3", 2, 8, 1)
            + state_line("s4", 2, 0, 3, port="{port:s2}")
            + state_line("s9", 2, 1, 1)
        ).encode()
    },
    compare=frozenset({"status", "server", "command", "log"}),
    command_subs=((r"(?m)^(\d+ be \d+ s\d \S+ \d+ \d+ \d+ \d+) \d+ ", r"\1 <t> "),),
    log_subs=HTTPLOG_BYTES,
)
row(
    "server-state-file-local",
    ("load-server-state-from-file", "server-state-file-name", "server-state-base"),
    # A backend's own file, by a name relative to server-state-base: s2 was disabled; a line for
    # another backend is not this one's. A corrupt global file changes nothing.
    http_cfg(
        global_="    server-state-base {workdir}\n    server-state-file {file:bad}\n",
        backend="    balance roundrobin\n    load-server-state-from-file local\n"
        "    server-state-file-name mine\n",
        servers=three(),
    ),
    (*seq(4), Req(command="show servers state be")),
    files={
        "mine": ("1\n" + STATE_HEADER + state_line("s2", 2, 1, 1, port="{port:s2}")).encode()
        + b"4 other 1 s1 127.0.0.1 0 1 1 1 10 1 0 0 0 0 0 0 - 1 - 0 0 - - 0\n",
        "bad": b"1\n3 be 1 s1 127.0.0.1 0 1\n",
    },
    compare=frozenset({"status", "server", "command"}),
    command_subs=((r"(?m)^(\d+ be \d+ s\d \S+ \d+ \d+ \d+ \d+) \d+ ", r"\1 <t> "),),
)
row(
    "log-connect-http",
    ("log",),
    # A mode http frontend that logs without a format says "Connect from" for each
    # request (HAProxy's frontend_accept runs per stream), kept-alive ones included.
    http_cfg(global_=LOG_GLOBAL, defaults="    log global\n"),
    (get("/echo", conn="k"), get("/echo", conn="k"), get("/echo")),
    compare=frozenset({"status", "log"}),
)
row(
    "monitor-uri",
    ("monitor-uri", "monitor", "option httplog"),
    # The proxy answers its monitor URI itself, before any rule (the deny below never
    # sees it), matched against the path with its query (HAProxy's http_parse_path),
    # of an absolute-form target too; 503 when a `monitor fail` condition holds. None
    # of those requests is logged.
    http_cfg(
        global_=LOG_GLOBAL,
        defaults="    log global\n    option httplog\n",
        frontend="    monitor-uri /_health\n    acl failing src 127.0.0.2\n"
        "    monitor fail if failing\n    http-request deny if { path_beg /_ }\n",
    ),
    (
        get("/_health"),
        get("/_health?full=1"),
        Req(
            raw=b"GET http://example.test/_health HTTP/1.1\r\nHost: example.test\r\n"
            b"Connection: close\r\n\r\n",
            timeout=2,
        ),
        get("/_healthy"),
        get("/_health", src="127.0.0.2"),
        get("/echo"),
    ),
    compare=frozenset({"status", "headers", "body", "log"}),
    kinds=RAW_KIND,
    log_subs=HTTPLOG_BYTES,
)
row(
    "spread-checks",
    ("spread-checks", "max-spread-checks", "server:check"),
    # The first checks are spread over 100 ms instead of `inter` (2 s): half a second
    # in, the dead s2 has had its check and is DOWN, so roundrobin skips it (without
    # max-spread-checks its first check would come at 0.67 s). spread-checks moves the
    # later checks by up to 5%.
    http_cfg(
        global_="    spread-checks 5\n    max-spread-checks 100ms\n",
        backend="    balance roundrobin\n",
        servers="    server s1 {s1} check\n    server s2 {dead} check\n    server s3 {s3} check\n",
    ),
    seq(4),
    compare=SERVER_ONLY,
    settle=0.5,
)
row(
    "http-check-disable-on-404",
    ("http-check disable-on-404", "option httpchk", "server:check"),
    # s1's check answers 404: with disable-on-404 it conditionally passes (L7OKC) and
    # s1 enters NOLB (logged as HAProxy logs it); new requests go to s2 only, and
    # `show stat` says NOLB.
    http_cfg(
        global_=LOG_GLOBAL,
        defaults="    log global\n    option httplog\n",
        backend="    balance roundrobin\n    option httpchk GET /status/404\n"
        "    http-check disable-on-404\n",
        servers="    server s1 {s1} check inter 200ms\n    server s2 {s2}\n",
    ),
    (*seq(3), Req(command="show stat")),
    compare=frozenset({"status", "server", "log", "command"}),
    kinds=ECHO_KINDS,
    settle=1.0,
    extract=r"^be,(s\d),(?:[^,]*,){15}([^,]*),",
    log_subs=(*HTTPLOG_BYTES, (r"check duration: \d+ms", "check duration: <ms>")),
)


def stat_columns(*names: str) -> str:
    """A regex capturing the server name and `names` (HAProxy's order) of each
    server row of `be` in `show stat`."""
    from balancekit_server.ops.stats_data import FIELDS

    last = max(FIELDS.index(name) for name in names)
    parts = [r"^be,(?!BACKEND|FRONTEND)(\w+),"]
    for name in FIELDS[2 : last + 1]:
        parts.append("([^,]*)," if name in names else "[^,]*,")
    return "".join(parts)


#: `show servers state` of `be`: name, states and weights, check and agent states,
#: and where the agent is asked (the time since the last change left out).
AGENT_STATE = (
    r"^\d+ be \d+ (\w+) \S+ (\d+ \d+ \d+ \d+) \d+ (\d+ \d+ \d+ \d+ \d+)"
    r" \d+ \d+ \S+ \d+ \S+ \d+ \d+ \S+ (\S+ \d+)$"
)
AGENT_STAT = stat_columns(
    "status", "weight", "slim", "check_status", "agent_status", "agent_code", "agent_desc",
    "last_agt", "agent_rise", "agent_fall", "agent_health",
)  # fmt: skip
#: An agent check running at that moment is marked "* " (timing, not behaviour), and
#: so is its server's state line (CHK_ST_INPROGRESS in srv_agent_state).
AGENT_GLOBAL = "    max-spread-checks 50ms\n" + LOG_GLOBAL
AGENT_SUBS = ((r"\* (\w)", r"\1"), (r"(?m) 23 (\S+ \d+)$", r" 22 \1"))

row(
    "agent-check",
    ("server:agent-check", "server:agent-port", "server:agent-inter", "server:agent-send"),
    # Each server's agent says something else, and the backend balances what they
    # said: s1 runs at 50% of its weight 10, s2 at 75% of 4 (5:3 roundrobin), s3's
    # agent says down (with a description) though its check passes, s4 is drained
    # with a new maxconn, s5 put in maintenance (words are case-insensitive). The
    # log lines, `show stat`'s agent columns and `show servers state` are HAProxy's.
    # The agents are asked once, early (max-spread-checks), and not again while the
    # row looks: a check running then would blank its text in HAProxy's `show stat`.
    http_cfg(
        global_=AGENT_GLOBAL,
        defaults="    log global\n",
        backend="    balance roundrobin\n    timeout check 1s\n",
        servers="    server s1 {s1} weight 10 agent-check agent-port {agent:half} "
        "agent-inter 10s\n"
        "    server s2 {s2} weight 4 agent-check agent-port {agent:most} agent-inter 10s\n"
        "    server s3 {s3} check inter 200ms agent-check agent-port {agent:down} "
        'agent-inter 10s agent-send "status\\n"\n'
        "    server s4 {s3} agent-check agent-port {agent:drain} agent-inter 10s\n"
        "    server s5 {s3} agent-check agent-port {agent:maint} agent-inter 10s\n",
    ),
    (*seq(8), Req(command="show stat"), Req(command="show servers state be")),
    compare=frozenset({"status", "server", "log", "command"}),
    files={
        "half": b"50%\n",
        "most": b"75%\r\n",
        "down": b"down #maintenance window\n",
        "drain": b"drain,maxconn:7\n",
        "maint": b"MAINT\n",
    },
    kinds=RAW_KIND,
    settle=1.0,
    extract=AGENT_STAT + "|" + AGENT_STATE,
    command_subs=AGENT_SUBS,
    log_filter="Server|server",
    log_subs=((r"check duration: \d+ms", "check duration: <ms>"),),
    log_sorted=True,
)
row(
    "agent-check-fallbacks",
    (
        "server:agent-addr",
        "server:no-agent-check",
        "server:agent-check",
        "server:port",
        "server:addr",
        "option log-health-checks",
    ),
    # Where the agent is asked (`agent-addr`; `port` and `addr` stand in for
    # `agent-port` and `agent-addr`), `no-agent-check` undoing a default-server's,
    # an agent that says up for a server its check finds DOWN (it stays DOWN), and
    # agents that cannot be reached, close without a word or in the middle of their
    # line, or say things HAProxy does not understand: none of them changes the
    # server, `show stat` says why,
    # and `option log-health-checks` logs the agents' checks as HAProxy does.
    http_cfg(
        global_=AGENT_GLOBAL,
        defaults="    log global\n",
        backend="    option log-health-checks\n    default-server agent-check agent-inter 10s\n",
        servers="    server s1 {s1} agent-port {agent:up} agent-addr 127.0.0.1\n"
        "    server s2 {s2} addr 127.0.0.1 port {agent:up} check inter 200ms\n"
        "    server s3 {s3} no-agent-check\n"
        "    server s4 {dead} check inter 200ms agent-port {agent:up}\n"
        "    server s5 {s1} agent-port {port:dead}\n"
        "    server s6 {s1} agent-port {agent:empty}\n"
        "    server s7 {s1} agent-port {agent:bogus}\n"
        "    server s8 {s1} agent-port {agent:cut}\n",
    ),
    (Req(command="show stat"), Req(command="show servers state be")),
    compare=frozenset({"log", "command"}),
    files={"up": b"up\n", "empty": b"", "bogus": b"bogus 20x% #why\n", "cut": b"down"},
    kinds=RAW_KIND,
    settle=1.0,
    extract=AGENT_STAT + "|" + AGENT_STATE,
    # s5's agent port is a free port of each side's own.
    command_subs=(*AGENT_SUBS, (r"(?m)^(s5 .* - )\d+$", r"\1<dead>")),
    log_filter="Server|server|check",
    log_subs=((r"check duration: \d+ms", "check duration: <ms>"),),
    log_sorted=True,
)
row(
    "set-server-agent",
    ("server:agent-check", "stats socket"),
    # `set server … agent down|up` sets the agent's counter and stops or starts the
    # server at once ("changed from CLI"), whatever its agent said; a server without
    # an agent, or a word other than up/down, gets HAProxy's refusal. Then
    # `disable agent` and `enable agent`, and `set server … agent-addr|agent-port`.
    http_cfg(
        global_=AGENT_GLOBAL,
        defaults="    log global\n",
        backend="    balance roundrobin\n",
        servers="    server s1 {s1} agent-check agent-port {agent:up} agent-inter 10s\n"
        "    server s2 {s2}\n",
    ),
    (
        Req(command="set server be/s1 agent down"),
        *seq(2),
        Req(command="show stat"),
        Req(command="set server be/s2 agent up"),
        Req(command="set server be/s1 agent sideways"),
        Req(command="set server be/s1 agent-send ping"),
        Req(command="set server be/s1 agent up"),
        *seq(2),
        Req(command="show stat"),
        # `disable agent`: no agent columns, state 18 (configured, not enabled), and
        # `set server … agent` refused; `enable agent` needs one configured.
        Req(command="disable agent be/s1"),
        Req(command="disable agent be/s2"),
        Req(command="show stat"),
        Req(command="show servers state be"),
        Req(command="set server be/s1 agent down"),
        Req(command="enable agent be/s2"),
        Req(command="enable agent be/s1"),
        Req(command="show servers state be"),
        # Where the agent is asked, checked as srv_update_agent_addr_port checks it.
        Req(command="set server be/s1 agent-addr 127.0.0.2"),
        Req(command="set server be/s1 agent-addr nope"),
        Req(command="set server be/s1 agent-addr 127.0.0.3 port 70000"),
        Req(command="set server be/s1 agent-port x"),
        Req(command="set server be/s1 agent-addr"),
        Req(command="set server be/s1 agent-port"),
        Req(command="set server be/s2 agent-port 5"),
        Req(command="set server be/s1 agent-addr ::1 port 77"),
        Req(command="show servers state be"),
    ),
    compare=frozenset({"status", "server", "log", "command"}),
    files={"up": b"up\n"},
    kinds=RAW_KIND,
    settle=0.5,
    extract=AGENT_STAT + "|" + AGENT_STATE + r"|^(?![\w-]+,)(?!# )(.+)$",
    command_subs=AGENT_SUBS,
    log_filter="Server|server",
    log_subs=((r"check duration: \d+ms", "check duration: <ms>"),),
)

#: Fails (9) unless the arguments are the addresses the environment names; then s2
#: fails (3) and the others pass.
EXTERNAL_CHECK = b"""#!/bin/sh
[ "$1" = "$HAPROXY_PROXY_ADDR" ] && [ "$2" = "$HAPROXY_PROXY_PORT" ] || exit 9
[ "$3" = "$HAPROXY_SERVER_ADDR" ] && [ "$4" = "$HAPROXY_SERVER_PORT" ] || exit 9
[ "$HAPROXY_SERVER_NAME" = s2 ] && exit 3
exit 0
"""
#: Says through its exit status what HAProxy told it: ids, maxconn, SSL, protocol.
EXTERNAL_ENV = b"""#!/bin/sh
[ "$1" = NOT_USED ] && [ "$2" = NOT_USED ] || exit 99
[ "$HAPROXY_PROXY_NAME" = be ] && [ "$HAPROXY_SERVER_PROTO" = h1 ] || exit 98
[ "$HAPROXY_SERVER_SSL" = 0 ] && [ "$HAPROXY_SERVER_CURCONN" = 0 ] || exit 97
[ -z "$HAPROXY_SERVER_MAXCONN" ] && exit 96
exit $(( HAPROXY_PROXY_ID * 10 + HAPROXY_SERVER_ID + HAPROXY_SERVER_MAXCONN ))
"""

row(
    "external-check",
    (
        "option external-check",
        "external-check command",
        "external-check",
        "insecure-fork-wanted",
        "server:check",
    ),
    # A script as the check: s2's exits 3 (DOWN, `code: 3` in the log and in show
    # stat), the others 0 (PROCOK); the script fails unless its four arguments are
    # the listener's and the server's addresses its environment names.
    "global\n    stats socket {stats} level admin\n    external-check\n    insecure-fork-wanted\n"
    + LOG_GLOBAL
    + DEFAULTS
    + "    log global\n"
    "listen be\n    bind {bind:main}\n    balance roundrobin\n    option external-check\n"
    "    external-check command {file:check.sh}\n"
    "    server s1 {s1} check inter 200ms\n    server s2 {s2} check inter 200ms\n"
    "    server s3 {s3} check inter 200ms\n",
    (*seq(4), Req(command="show stat")),
    compare=frozenset({"status", "server", "log", "command"}),
    files={"check.sh": EXTERNAL_CHECK},
    kinds=RAW_KIND,
    settle=1.0,
    extract=stat_columns("status", "check_status", "check_code", "check_desc"),
    command_subs=((r"\* (\w)", r"\1"),),
    log_filter="Server|server",
    log_subs=((r"check duration: \d+ms", "check duration: <ms>"),),
)
row(
    "external-check-path",
    ("external-check path", "option external-check", "external-check command", "server:maxconn"),
    # A command without a `/`, found in `external-check path` (HAProxy sets PATH to it
    # and nothing else); a backend has no listener (`NOT_USED`); the exit status
    # carries the proxy and server ids and the server's maxconn: 3*10 + 1 + 5 (ids: the
    # stats socket's proxy 1, fe 2, be 3).
    "global\n    stats socket {stats} level admin\n    external-check\n    insecure-fork-wanted\n"
    + LOG_GLOBAL
    + DEFAULTS
    + "    log global\n"
    "frontend fe\n    bind {bind:main}\n    default_backend be\n"
    "backend be\n    option external-check\n    external-check path {workdir}\n"
    "    external-check command env.sh\n"
    "    server s1 {s1} maxconn 5 check inter 200ms\n",
    (get("/"), Req(command="show stat")),
    compare=frozenset({"status", "log", "command"}),
    files={"env.sh": EXTERNAL_ENV},
    kinds=RAW_KIND,
    settle=0.8,
    extract=stat_columns("status", "check_status", "check_code", "check_desc"),
    command_subs=((r"\* (\w)", r"\1"),),
    log_filter="Server|server",
    log_subs=((r"check duration: \d+ms", "check duration: <ms>"),),
)
row(
    "monitor-fail-nbsrv",
    ("monitor", "monitor-uri", "fetch:nbsrv"),
    # The recipe: the monitor URI fails while the backend has no usable server. nbsrv
    # counts active servers, else 1 for the first usable backup (no allbackups), and
    # reads the current proxy without an argument.
    http_cfg(
        frontend="    monitor-uri /up\n    monitor fail if { nbsrv(be) lt 1 }\n"
        "    http-request return status 200 content-type text/plain"
        " lf-string %[nbsrv(be)] if { path /n }\n",
        servers="    server s1 {s1}\n    server s2 {s2}\n    server b1 {s3} backup\n"
        "    server b2 {s3} backup\n",
        backend="    http-request return status 200 content-type text/plain"
        " lf-string %[nbsrv] if { path /own }\n",
    ),
    (
        get("/up"),
        get("/n"),
        Req(command="disable server be/s1"),
        get("/n"),
        Req(command="disable server be/s2"),
        get("/n"),
        get("/own"),
        get("/up"),
        Req(command="disable server be/b1"),
        Req(command="disable server be/b2"),
        get("/n"),
        get("/up"),
    ),
    compare=frozenset({"status", "body"}),
    kinds=RAW_KIND,
)
row(
    "head-room-default",
    ("mode",),
    # A request head may take tune.bufsize less tune.maxrewrite (15360) of HAProxy's
    # buffer, counted as HTX stores it: one byte more is a 400. A response head too:
    # larger, a 502 (the response pads are far from the limit on either side, as the
    # backends add headers of their own).
    http_cfg(),
    (padded(15237), padded(15238), get("/echo?respond-pad=14000"), get("/echo?respond-pad=15300")),
    compare=frozenset({"status"}),
    kinds=RAW_KIND,
)
row(
    "tune-bufsize-maxrewrite",
    ("tune.bufsize", "tune.maxrewrite"),
    # 8190 (rounded up to 8192) less 2000 leaves 6192 bytes for a head.
    http_cfg(global_="    tune.bufsize 8190\n    tune.maxrewrite 2000\n"),
    (padded(6069), padded(6070), get("/echo?respond-pad=5500"), get("/echo?respond-pad=6300")),
    compare=frozenset({"status"}),
    kinds=RAW_KIND,
)
row(
    "tune-bufsize-large",
    ("tune.bufsize",),
    # 32768 lets a 20000-byte header through.
    http_cfg(global_="    tune.bufsize 32768\n"),
    (padded(31621), padded(31622), get("/echo?respond-pad=20000"), get("/echo?respond-pad=31700")),
    compare=frozenset({"status"}),
    kinds=ECHO_KINDS,
)


# -- mode tcp --------------------------------------------------------------------------------

TCP = (
    GLOBAL
    + """defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
"""
)
# TLS to servers in mode tcp: the client's bytes (an HTTP request) go over TLS to
# the TLS echo server, which reports what it saw.  With `send-proxy` the PROXY header
# goes first, in clear, which the echo server (TLS from the first byte) closes on;
# inside TLS it would have read it and answered.
row(
    "tcp-server-ssl",
    ("server:ssl", "server:sni", "server:crt", "server:send-proxy", "server:ssl-max-ver"),
    TCP + "listen tl\n    bind {bind:main}\n    balance roundrobin\n"
    "    server a {t1} ssl verify required ca-file {ca} sni str(backend.test) crt "
    "{certdir}/client.pem\n"
    "    server b {t1} ssl verify none send-proxy\n"
    "    server c {t1} ssl verify none ssl-max-ver TLSv1.2\n",
    (get("/echo"), get("/echo"), get("/echo")),
    kinds=RAW_KIND,
)
row(
    "server-sni-ip-address",
    ("server:sni",),
    TCP + "listen tl\n    bind {bind:main}\n    server c {t1} ssl verify none sni src\n",
    (get("/echo"),),
    kinds=RAW_KIND,
    xfail="`sni` giving an IP address: HAProxy sends it as the SNI; Python's ssl sends no "
    "SNI for an address (RFC 6066 allows host names only)",
    diverges=r"\.echo\.sni: '127\.0\.0\.1' != None",
)
row(
    "tcp-listen-roundrobin",
    ("mode", "bind", "server", "balance:roundrobin"),
    TCP + "listen tl\n    bind {bind:main}\n    balance roundrobin\n" + three(),
    seq(4, conn=None),
    kinds=ECHO_KINDS,
)
row(
    "tcp-frontend-backend-options",
    ("option clitcpka", "option srvtcpka", "option tcpka", "timeout client-fin",
     "timeout server-fin", "timeout tunnel", "default_backend"),
    TCP
    + "frontend ft\n    bind {bind:main}\n    option clitcpka\n    timeout client-fin 1s\n"
    "    default_backend bt\n"
    "backend bt\n    option srvtcpka\n    option tcpka\n    timeout server-fin 1s\n"
    "    timeout tunnel 10s\n" + three(),
    STD,
)  # fmt: skip


def client_hello(sni: str, alpn: tuple[str, ...] = ()) -> bytes:
    """A real TLS ClientHello naming `sni` and offering `alpn` (from Python's ssl,
    never completed)."""
    import contextlib
    import ssl

    context = ssl.create_default_context()
    if alpn:
        context.set_alpn_protocols(list(alpn))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = context.wrap_bio(incoming, outgoing, server_hostname=sni)
    with contextlib.suppress(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


row(
    "tcp-content-sni-routing",
    ("tcp-request content", "tcp-request inspect-delay", "fetch:req.ssl_sni",
     "fetch:req_ssl_sni", "fetch:req.ssl_hello_type", "fetch:req_ssl_hello_type",
     "use_backend"),
    TCP
    + "frontend ft\n    bind {bind:main}\n    tcp-request inspect-delay 2s\n"
    "    tcp-request content accept if { req.ssl_hello_type 1 }\n"
    "    use_backend b2 if { req.ssl_sni -i alpha.test }\n"
    "    use_backend b3 if { req_ssl_sni -m end .beta.test } { req_ssl_hello_type 1 }\n"
    "    default_backend b1\n"
    "backend b1\n    server s1 {s1}\nbackend b2\n    server s2 {s2}\nbackend b3\n"
    "    server s3 {s3}\n",
    (
        Req(raw=client_hello("ALPHA.test"), timeout=3),
        Req(raw=client_hello("x.beta.test"), timeout=3),
        Req(raw=client_hello("other.test"), timeout=3),
        get("/echo"),
    ),
    kinds=RAW_KIND,
)  # fmt: skip
# `req.ssl_alpn`, for TLS passthrough routing (the ACME tls-alpn-01 recipe): any of
# the protocols the ClientHello offers matches; none offered, nothing matches.
row(
    "tcp-content-alpn-routing",
    ("fetch:req.ssl_alpn",),
    TCP
    + "frontend ft\n    bind {bind:main}\n    tcp-request inspect-delay 2s\n"
    "    tcp-request content accept if { req.ssl_hello_type 1 }\n"
    "    use_backend b2 if { req.ssl_alpn acme-tls/1 }\n"
    "    use_backend b3 if { req.ssl_alpn -m beg h2 }\n"
    "    default_backend b1\n"
    "backend b1\n    server s1 {s1}\nbackend b2\n    server s2 {s2}\nbackend b3\n"
    "    server s3 {s3}\n",
    (
        Req(raw=client_hello("a.test", ("acme-tls/1",)), timeout=3),
        Req(raw=client_hello("a.test", ("http/1.1", "h2")), timeout=3),
        Req(raw=client_hello("a.test"), timeout=3),
    ),
    kinds=RAW_KIND,
)  # fmt: skip
row(
    "tcp-content-l6-fetches",
    ("fetch:req.len", "fetch:req_len", "fetch:req.proto_http", "fetch:wait_end",
     "fetch:req.rdp_cookie_cnt", "tcp-request content", "tcp-request connection"),
    TCP
    + "frontend ft\n    bind {bind:main}\n    tcp-request inspect-delay 1s\n"
    "    tcp-request connection accept if { src 127.0.0.0/8 }\n"
    "    tcp-request content reject if { req.rdp_cookie_cnt(x) gt 0 }\n"
    "    tcp-request content accept if { req_len gt 0 } WAIT_END\n"
    "    use_backend b2 if { req.proto_http }\n"
    "    use_backend b3 if { req.len ge 5 }\n"
    "    default_backend b1\n"
    "backend b1\n    server s1 {s1}\nbackend b2\n    server s2 {s2}\nbackend b3\n"
    "    server s3 {s3}\n",
    (get("/echo"), Req(raw=b"hello there\r\n\r\n", timeout=3)),
    kinds=RAW_KIND,
)  # fmt: skip
row(
    "tcp-content-reject",
    ("tcp-request content", "tcp-request connection", "tcp-request session"),
    TCP
    + "frontend ft\n    bind {bind:main}\n"
    "    tcp-request connection reject if { src 127.0.0.4 }\n"
    "    tcp-request session reject if { src 127.0.0.5 }\n"
    "    tcp-request content reject if { src 127.0.0.6 }\n"
    "    default_backend b1\nbackend b1\n    server s1 {s1}\n",
    (get("/echo", src="127.0.0.4"), get("/echo", src="127.0.0.5"),
     get("/echo", src="127.0.0.6"), get("/echo")),
    kinds=ECHO_KINDS,
)  # fmt: skip
row(
    "tcp-accept-proxy-send-proxy",
    ("bind:accept-proxy", "server:send-proxy-v2", "server:send-proxy"),
    TCP
    + "listen tl\n    bind {bind:main} accept-proxy\n    server s1 {s1} send-proxy-v2\n"
    + "listen tl1\n    bind {bind:v1} accept-proxy\n    server s1 {s1} send-proxy\n",
    (
        get("/echo", proxy=b"PROXY TCP4 192.0.2.9 198.51.100.1 5555 80\r\n"),
        get("/echo", bind="v1", proxy=b"PROXY TCP4 192.0.2.10 198.51.100.1 6666 8080\r\n"),
        get("/echo", bind="v1", proxy=b"PROXY UNKNOWN\r\n"),
    ),
    kinds=RAW_KIND,
)
row(
    "tcp-proxy-v2-tlvs",
    ("fetch:fc_pp_unique_id",),
    TCP + "listen tl\n    bind {bind:main} accept-proxy\n"
    "    tcp-request content reject if { fc_pp_unique_id -m str nope }\n"
    "    server s1 {s1}\n",
    (
        get("/echo", proxy=pp_v2(((5, b"nope"),))),
        get("/echo", proxy=pp_v2(((5, b"fine"), (2, b"a.test")))),
    ),
    kinds=RAW_KIND,
)
row(
    "tcp-ssl-termination",
    ("bind:ssl", "bind:crt", "mode"),
    TCP + "listen tl\n    bind {bind:tls} ssl crt {crt}\n    balance roundrobin\n" + three(),
    (get("/echo", bind="tls", tls=True), get("/echo", bind="tls", tls=True, sni="example.test")),
    kinds=ECHO_KINDS,
)
row(
    "tcp-balance-source",
    ("balance:source", "mode"),
    TCP + "listen tl\n    bind {bind:main}\n    balance source\n" + three(),
    tuple(get("/echo", src=f"127.0.0.{i}") for i in range(1, 9)),
    compare=SERVER_ONLY,
)
row(
    "tcp-tcplog",
    ("option tcplog", "log"),
    TCP.replace("defaults\n", "    log {log} format raw local0\ndefaults\n    log global\n")
    + "listen tl\n    bind {bind:main}\n    option tcplog\n    server s1 {s1}\n",
    (get("/echo"),),
    kinds=ECHO_KINDS,
)
TCP_LOGGED = TCP.replace(
    "defaults\n", "    log {log} format raw local0\ndefaults\n    log global\n"
)
# The syslog headers: `log-send-hostname` puts a host name in rfc3164 and rfc5424
# headers, `log-tag` replaces `haproxy` (the time and pid differ between runs).
row(
    "log-send-hostname-tag",
    ("log-send-hostname", "log-tag"),
    http_cfg(
        global_="    log {log} format rfc3164 local0\n    log {log} format rfc5424 local1\n"
        "    log-send-hostname lbhost\n    log-tag mytag\n",
        defaults="    log global\n",
        frontend='    log-format "%ci %ST %b/%s"\n',
    ),
    (get("/echo"),),
    compare=frozenset({"status", "log"}),
    log_subs=(
        (r"^(<\d+>)\w{3} [ \d]\d \d\d:\d\d:\d\d ", r"\1DATE "),
        (r"^(<\d+>1) \S+ ", r"\1 DATE "),
        (r"mytag\[\d+\]", "mytag[PID]"),
        (r"mytag \d+ ", "mytag PID "),
    ),
    log_sorted=True,
)
row(
    "log-separate-errors",
    ("option log-separate-errors", "option dontlog-normal", "option httplog", "option tcplog",
     "log"),
    # The syslog level (the `short` format's `<n>`): 6 (info) for a normal stream, 3
    # (err) for one reporting a problem (a 5xx, a refused server); with dontlog-normal
    # only those are logged. Mode http, then mode tcp.
    http_cfg(
        global_="    log {log} format short local0\n",
        defaults="    log global\n    option httplog\n",
        frontend="    option log-separate-errors\n",
        extra="listen quiet\n    bind {bind:other}\n    option dontlog-normal\n"
        "    server s1 {s1}\n"
        "listen tcp\n    mode tcp\n    bind {bind:tcp}\n    option tcplog\n"
        "    option log-separate-errors\n    retries 0\n    balance roundrobin\n"
        "    server s1 {s1}\n    server dead {dead}\n",
    ),
    (
        get("/echo"),
        get("/status/503"),
        get("/status/404"),
        get("/echo", bind="other"),
        get("/status/500", bind="other"),
        get("/echo", bind="tcp"),
        get("/echo", bind="tcp"),
    ),
    compare=frozenset({"status", "log"}),
    log_subs=HTTPLOG_BYTES + TCPLOG_BYTES,
    kinds=ECHO_KINDS,
)  # fmt: skip
row(
    "tcp-on-marked-down-shutdown-sessions",
    ("server:on-marked-down", "option tcplog", "stats socket"),
    # A server put in maintenance while a session is relayed to it: the session is cut
    # at once (logged `DD`), where without the option it would go on; s2 has none.
    TCP_LOGGED + "listen tl\n    bind {bind:main}\n    option tcplog\n    balance roundrobin\n"
    "    server s1 {s1} on-marked-down shutdown-sessions\n    server s2 {s2}\n",
    (
        Par(
            (get("/sleep/1500"), get("/sleep/600"), Req(command="disable server tl/s1")),
            stagger=0.15,
        ),
        Par((get("/sleep/600"), Req(command="disable server tl/s2")), stagger=0.15),
    ),
    compare=frozenset({"status", "server", "log", "command"}),
    kinds=ECHO_KINDS,
    # HAProxy builds the message after asking the streams to stop; whether the one it
    # cut is still counted, and which of the two lines comes first, depends on which
    # thread runs first.
    log_subs=((r"\d+ sessions active", "<n> sessions active"),),
    log_sorted=True,
)
row(
    "on-marked-down-shutdown-sessions",
    ("server:on-marked-down", "option httplog", "stats socket"),
    # mode http: the request waiting for s1's answer is cut when s1 goes into maintenance.
    http_cfg(
        global_=LOG_GLOBAL,
        defaults="    log global\n    option httplog\n",
        backend="    balance roundrobin\n",
        servers="    server s1 {s1} on-marked-down shutdown-sessions\n    server s2 {s2}\n",
    ),
    (
        Par(
            (get("/sleep/1500"), get("/sleep/600"), Req(command="disable server be/s1")),
            stagger=0.15,
        ),
        get("/echo"),
    ),
    compare=frozenset({"status", "server", "log", "command"}),
    kinds=ECHO_KINDS,
    log_subs=(*HTTPLOG_BYTES, (r"\d+ sessions active", "<n> sessions active")),
    log_sorted=True,  # the cut request's line and the message race in HAProxy
)
row(
    "shutdown-sessions-server",
    ("stats socket", "option httplog"),
    # mode http: the operator cuts s1 while it has a request: 502, logged `KH`.
    http_cfg(
        global_=LOG_GLOBAL,
        defaults="    log global\n    option httplog\n",
        backend="    balance roundrobin\n",
        servers="    server s1 {s1}\n    server s2 {s2}\n",
    ),
    (
        Par(
            (get("/sleep/1200"), get("/sleep/600"), Req(command="shutdown sessions server be/s1")),
            stagger=0.15,
        ),
        get("/echo"),
    ),
    compare=frozenset({"status", "server", "log", "command"}),
    kinds=ECHO_KINDS,
    log_subs=HTTPLOG_BYTES,
)
row(
    "tcp-shutdown-sessions-server",
    ("stats socket", "option tcplog"),
    # The operator cuts a server's sessions: logged `K-`, the other server's go on.
    TCP_LOGGED
    + "listen tl\n    bind {bind:main}\n    option tcplog\n    balance roundrobin\n"
    + three(),
    (
        Par(
            (get("/sleep/1200"), get("/sleep/600"), Req(command="shutdown sessions server tl/s1")),
            stagger=0.15,
        ),
    ),
    compare=frozenset({"status", "server", "log", "command"}),
    kinds=ECHO_KINDS,
)
row(
    "tcp-on-marked-up-shutdown-backup-sessions",
    ("server:on-marked-up", "server:backup", "stats socket"),
    # The active server comes back from maintenance: the backup's session is cut
    # (logged `UD`) and the next connection goes to the active server.
    TCP_LOGGED + "listen tl\n    bind {bind:main}\n    option tcplog\n"
    "    server s1 {s1} disabled on-marked-up shutdown-backup-sessions\n"
    "    server s2 {s2} backup\n",
    (
        Par((get("/sleep/1500"), Req(command="enable server tl/s1")), stagger=0.3),
        get("/echo"),
    ),
    compare=frozenset({"status", "server", "log", "command"}),
    kinds=ECHO_KINDS,
)
row(
    "tcp-backend-send-proxy",
    ("server:send-proxy", "mode"),
    TCP + "listen tl\n    bind {bind:main}\n    server s1 {s1} send-proxy\n",
    (get("/echo"),),
    kinds=RAW_KIND,
)


# -- cookie persistence ------------------------------------------------------------------------

COOKIE_SERVERS = (
    "    server s1 {s1} cookie s1\n    server s2 {s2} cookie s2\n    server s3 {s3} cookie s3\n"
)
#: Echo backends add the headers a request asks for (`respond-header=`): the
#: server's own `Set-Cookie` and a cacheable answer.
SERVER_SETS = "respond-header=Set-Cookie%3ASRV%3Dapp%3B%20path%3D%2Fx"
CACHEABLE = "respond-header=Cache-Control%3Apublic%2C%20max-age%3D60"
COOKIE_LOG = frozenset({"status", "server", "headers", "body", "log"})


def cookie(value: str, path: str = "/echo", **kw: object) -> Req:
    return get(path, headers=(("Cookie", value),), **kw)


def cookie_row(
    id: str,
    covers: tuple[str, ...],
    backend: str,
    requests: tuple[Req | Par, ...],
    *,
    servers: str = COOKIE_SERVERS,
    compare: frozenset[str] = COOKIE_LOG,
    defaults: str = "    log global\n    option httplog\n",
    **cfg: str,
) -> Row:
    """A persistence row on the echo kinds (they add `respond-header=` headers),
    logging every request (`option httplog` unless `defaults`/`cfg` say otherwise:
    the cookie letters of `%tsc` are part of what is compared)."""
    config = http_cfg(
        global_=LOG_GLOBAL, defaults=defaults, backend=backend, servers=servers, **cfg
    )
    return row(
        id, covers, config, requests, compare=compare, kinds=ECHO_KINDS, log_subs=HTTPLOG_BYTES
    )


cookie_row(
    "cookie-insert-indirect-nocache",
    ("cookie", "server:cookie", "option httplog"),
    "    balance roundrobin\n    cookie SRV insert indirect nocache\n",
    (
        get("/echo"),
        cookie("SRV=s2"),
        cookie("a=1; SRV=s3; b=2"),
        cookie("SRV=s1;a=1"),
        cookie("a=1 ;SRV=s2"),
        cookie("SRV=nobody; x=y"),
        cookie("SRV="),
        cookie("SRV=s2", f"/echo?{SERVER_SETS}"),
        get(f"/echo?{SERVER_SETS}"),
        get(f"/echo?{CACHEABLE}"),
        cookie("SRV=s3", f"/echo?{CACHEABLE}"),
        Req("/echo/p", method="POST", body=b"x", headers=(("Cookie", "SRV=s1"),)),
        # one client connection, several servers (the keep-alive path)
        cookie("SRV=s3", conn="k"),
        cookie("SRV=s1", conn="k"),
        get("/echo", conn="k"),
        cookie("SRV=s1", f"/echo?{SERVER_SETS}", conn="k"),
    ),
)
row(
    "cookie-insert-attributes",
    ("cookie",),
    http_cfg(
        backend="    balance roundrobin\n"
        "    cookie SRV insert postonly httponly secure domain .example.test domain "
        ".example.org attr SameSite=Lax attr Priority=High\n",
        servers=COOKIE_SERVERS + "    server s4 {s3}\n",
    ),
    (
        get("/echo"),
        Req("/echo/p", method="POST", body=b"x"),
        Req("/echo/p", method="POST", body=b"x"),
        Req("/echo/p", method="POST", body=b"x", headers=(("Cookie", "SRV=s2"),)),
        Req("/echo/p", method="POST", body=b"x"),
        Req("/echo/p", method="POST", body=b"x"),
    ),
    kinds=ECHO_KINDS,
)
cookie_row(
    "cookie-insert-preserve",
    ("cookie",),
    "    cookie SRV insert preserve\n",
    (get(f"/echo?{SERVER_SETS}"), get("/echo"), cookie("SRV=s2", f"/echo?{SERVER_SETS}")),
)
cookie_row(
    "cookie-rewrite",
    ("cookie",),
    "    balance roundrobin\n    cookie SRV rewrite\n",
    (
        get(f"/echo?{SERVER_SETS}"),
        get("/echo"),
        cookie("SRV=s3", f"/echo?{SERVER_SETS}"),
        cookie("k=v; SRV=s2"),
    ),
)
cookie_row(
    "cookie-prefix",
    ("cookie",),
    "    balance roundrobin\n    cookie SRV prefix\n",
    (
        get(f"/echo?{SERVER_SETS}"),
        cookie("SRV=s2~app; other=1"),
        cookie("SRV=s3"),
        cookie("SRV=zz~app", f"/echo?{SERVER_SETS}"),
    ),
)
cookie_row(
    "cookie-passive",
    ("cookie",),
    "    balance roundrobin\n    cookie SRV\n",
    (cookie("SRV=s3"), cookie("SRV=s3", f"/echo?{SERVER_SETS}"), get("/echo")),
)
cookie_row(
    "cookie-down-server",
    ("cookie", "option persist", "server:disabled"),
    "    balance roundrobin\n    cookie SRV insert indirect\n",
    (cookie("SRV=s2"), cookie("SRV=s2", "/p/echo"), cookie("SRV=s1", "/p/echo")),
    servers="    server s1 {s1} cookie s1\n    server s2 {s2} cookie s2 disabled\n",
    extra="backend persisting\n    option persist\n    cookie SRV insert indirect\n"
    "    server s1 {s1} cookie s1\n    server s2 {s2} cookie s2 disabled\n",
    frontend="    use_backend persisting if { path_beg /p }\n",
)
cookie_row(
    "cookie-server-unreachable",
    ("cookie", "option redispatch", "option persist"),
    "    retries 1\n    option redispatch\n    timeout connect 200ms\n"
    "    cookie SRV insert indirect\n",
    # A cookie for a server that refuses connections: redispatched (a new cookie for
    # the server that answered), or with neither redispatch nor a usable fallback, 503.
    (cookie("SRV=s1"), cookie("SRV=s2"), cookie("SRV=s1", "/p/echo")),
    servers="    server s1 {dead} cookie s1\n    server s2 {s2} cookie s2\n",
    extra="backend stuck\n    retries 1\n    option persist\n    timeout connect 200ms\n"
    "    cookie SRV insert indirect\n"
    "    server s1 {dead} cookie s1\n    server s2 {s2} cookie s2\n",
    frontend="    use_backend stuck if { path_beg /p }\n",
)
cookie_row(
    "cookie-force-ignore-persist",
    ("cookie", "force-persist", "ignore-persist"),
    "    balance roundrobin\n    cookie SRV insert indirect\n"
    "    acl static path_beg /static\n"
    "    ignore-persist if static\n"
    "    force-persist if { hdr(x-admin) yes }\n",
    (
        cookie("SRV=s2", "/static/a"),
        cookie("SRV=s2", f"/static/b?{SERVER_SETS}"),
        cookie("SRV=s2"),
        cookie("SRV=s3"),
        get("/echo", headers=(("Cookie", "SRV=s3"), ("X-Admin", "yes"))),
        get("/static/c", headers=(("Cookie", "SRV=s3"), ("X-Admin", "yes"))),
    ),
    servers="    server s1 {s1} cookie s1\n    server s2 {s2} cookie s2\n"
    "    server s3 {s3} cookie s3 disabled\n",
)
cookie_row(
    "cookie-direct-retries",
    ("cookie", "option redispatch", "retries"),
    "    retries 3\n    option redispatch\n    timeout connect 200ms\n"
    "    cookie SRV insert indirect\n",
    # Balanced, a refused connection moves on at once; sent by its cookie, the request
    # stays on its server until the last retry (HAProxy's SF_DIRECT).  `%rc` shows it.
    (get("/echo"), cookie("SRV=s1"), get("/echo")),
    servers="    server s1 {dead} cookie s1\n    server s2 {s2} cookie s2\n"
    "    server s3 {s3} cookie s3\n",
    defaults="    log global\n",
    frontend='    log-format "%b/%s %ST %rc %tsc"\n',
)
cookie_row(
    "cookie-maxidle-maxlife",
    ("cookie",),
    "    balance roundrobin\n    cookie SRV insert indirect maxidle 30m maxlife 8h\n",
    (
        # dates near the epoch: idle (E) and too old (O); a date a year ahead: beyond
        # the one day of tolerance (E); no date: accepted and given one (V, updated).
        cookie("SRV=s2|AAAAB"),
        cookie("SRV=s2|AAAAB|AAAAB"),
        cookie("SRV=s2|D/////"),
        cookie("SRV=s3"),
    ),
    # The dates written in the new cookies are the proxies' clocks.
    compare=frozenset({"status", "server", "log"}),
)

cookie_row(
    "cookie-dynamic",
    ("cookie", "dynamic-cookie-key", "server:cookie"),
    # Generated values are XXH64(key, address, port): the same servers, the same bytes.
    # s3's own `cookie` wins over the generated one.
    "    balance roundrobin\n    dynamic-cookie-key s3cr3t\n"
    "    cookie SRV insert indirect nocache dynamic\n",
    (*seq(3), cookie("SRV=x"), get("/echo", conn="k"), get("/echo", conn="k")),
    servers="    server s1 {s1}\n    server s2 {s2}\n    server s3 {s3} cookie third\n",
)
cookie_row(
    "cookie-dynamic-hostname",
    ("cookie", "dynamic-cookie-key", "server:cookie"),
    # A server named by host name: its cookie hashes the address the name resolved to
    # at start, as HAProxy's does (init-addr libc), not the name.
    "    balance roundrobin\n    dynamic-cookie-key s3cr3t\n"
    "    cookie SRV insert indirect nocache dynamic\n",
    (*seq(2), get("/echo", conn="k")),
    servers="    server s1 {s1:name}\n    server s2 {s2}\n",
)
row(
    "cookie-dynamic-runtime",
    ("dynamic-cookie-key", "stats socket"),
    # The runtime commands: a new key (new values, the server's own kept), disabled (no
    # generated value, so nothing inserted), enabled again; and their error answers.
    http_cfg(
        backend="    balance roundrobin\n    dynamic-cookie-key k1\n"
        "    cookie SRV insert indirect nocache dynamic\n",
        servers="    server s1 {s1}\n    server s2 {s2} cookie own\n",
    ),
    (
        *seq(2),
        Req(command="set dynamic-cookie-key backend be k2"),
        *seq(2),
        Req(command="disable dynamic-cookie backend be"),
        *seq(2),
        Req(command="enable dynamic-cookie backend be"),
        *seq(2),
        Req(command="set dynamic-cookie-key backend"),
        Req(command="set dynamic-cookie-key backend nope k"),
        Req(command="set dynamic-cookie-key backend be"),
        Req(command="enable dynamic-cookie backend"),
    ),
    compare=frozenset({"status", "server", "headers", "command"}),
    response_headers=frozenset({"set-cookie"}),
    kinds=ECHO_KINDS,
)
cookie_row(
    "cookie-dynamic-key-from-defaults",
    ("cookie", "dynamic-cookie-key"),
    # The key is inherited; without `dynamic` on the cookie line it is not used.
    "    balance roundrobin\n    cookie SRV insert indirect nocache dynamic\n",
    seq(2),
    servers="    server s1 {s1}\n    server s2 {s2}\n",
    defaults="    log global\n    option httplog\n    dynamic-cookie-key k2\n",
)
cookie_row(
    "cookie-dynamic-without-dynamic",
    ("dynamic-cookie-key",),
    "    balance roundrobin\n    dynamic-cookie-key s3cr3t\n    cookie SRV insert\n",
    seq(2),
    servers="    server s1 {s1}\n    server s2 {s2}\n",
)

# -- node, description, stats show-node|show-desc|show-legends ------------------------------

#: What the stats page says of node, description and proxies: HAProxy's page layout is
#: its own, these facts are compared (`<h2>` after the pid, the title, each proxy's
#: description cell and legend).
STATS_FACTS = (
    r"Statistics Report for (?:pid \d+|HAProxy|balancekit)(.*?)</(?:h2|title)>"
    r'|(<th class="(?:desc|empty)" width="90%">.*?</th>)'
    r"|(<div class=tips>cap: .*?</div>)"
)
row(
    "stats-node-description",
    ("node", "description", "stats show-node", "stats show-desc", "stats show-legends",
     "stats socket"),
    http_cfg(
        global_="    node edge-1.example\n    description Global   edge  proxy\n",
        frontend="    description Front <b>door</b>\n    stats enable\n    stats uri /st\n"
        "    stats show-node\n    stats show-desc\n    stats show-legends\n",
        backend="    description the app servers\n",
        extra="listen li\n    bind {bind:other}\n    description both halves\n"
        "    stats enable\n    stats uri /st\n    stats show-node other-name\n"
        "    stats show-desc local text\n    server s9 {s1}\n",
    ),
    (get("/st"), Req(command="show info"), get("/st", bind="other")),
    compare=frozenset({"status", "body", "command"}),
    extract=r"^(?:node|description): .*$|" + STATS_FACTS,
    kinds=RAW_KIND,
)  # fmt: skip

row(
    "stats-node-default",
    ("stats show-node", "stats show-desc", "stats socket"),
    # No `node`: the host name.  `show-desc` without text or global description: a
    # warning, and no description.
    http_cfg(frontend="    stats enable\n    stats uri /st\n    stats show-node\n"
             "    stats show-desc\n"),
    (get("/st"), Req(command="show info")),
    compare=frozenset({"status", "body", "command"}),
    extract=r"^(?:node|description): .*$|" + STATS_FACTS,
    kinds=RAW_KIND,
)  # fmt: skip

# -- access control: userlist, http_auth, http-request auth ---------------------------------

#: Hashes made with the system's crypt(3): sha512-crypt, sha256-crypt with rounds,
#: md5-crypt, yescrypt; `carol`'s `*` is no hash at all (HAProxy loads it, and it never
#: matches).
USERLIST = (
    "userlist L\n"
    "    group admins users alice\n"
    "    group ops\n"
    "    group empty\n"
    "    user alice password $6$Kj3bQ9$EgtB6HUZHcEe9p6nYJX0C6cFZ20f.H/1oDNaJ90PEAGL1mAsZy1XSW"
    "OQ9Xd15BBVNyeb1IhTg475pkwQ5SC5r0\n"
    "    user bob insecure-password bob:pw groups ops\n"
    "    user carol password *\n"
    "    user dave password $5$rounds=1000$Ab12Cd$D7cmf5mKaNBQarw2Vd99q0jj6HnuJgYfFKnCmAjNLv9"
    " groups ops,admins\n"
    "    user erin password $1$Xy7Q$h3rycNcbjFTnY8Bbbt.DV.\n"
    "    user frank password $y$j9T$F5Jx5fExrKuPp53xLKQ..1$bwXOvZzdwobWft.eeceWowerZ4Qgw8AUKc"
    "mCV68BaF8\n"
)


def basic(
    user: str, password: str, path: str = "/echo", scheme: str = "Basic ", **kw: object
) -> Req:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return get(path, headers=(("Authorization", scheme + token),), **kw)


def auth(value: str, path: str = "/echo") -> Req:
    return get(path, headers=(("Authorization", value),))


AUTH_LOG = frozenset({"status", "headers", "body", "log"})

row(
    "http-request-auth",
    ("action:auth", "fetch:http_auth", "fetch:http_auth_group", "userlist:user",
     "userlist:group", "option httplog"),
    http_cfg(
        global_=LOG_GLOBAL,
        defaults="    log global\n    option httplog\n",
        frontend="    acl ok http_auth(L)\n"
        "    acl adm http_auth_group(L) admins\n"
        "    acl none http_auth_group(L) empty\n"
        "    http-request deny if { path_beg /none } none\n"
        "    http-request auth realm Admin\\ area if { path_beg /adm } !adm\n"
        "    http-request auth unless ok\n",
        extra=USERLIST,
    ),
    (
        get("/echo"),
        basic("alice", "alice-pw"),
        basic("alice", "wrong"),
        basic("bob", "bob:pw"),
        basic("bob", "bob"),
        basic("carol", ""),
        basic("dave", "dave-pw"),
        basic("erin", "erin-pw"),
        basic("frank", "frank-pw"),
        basic("nobody", "x"),
        basic("alice", "alice-pw", scheme="basic   "),
        basic("alice", "alice-pw", scheme="BASIC "),
        auth("Basic YWxpY2U="),  # no `:` after the user
        auth("Basic YWxpY2U6YWxpY2UtcHc"),  # unpadded
        auth("Basic !!!!"),
        auth("Basic"),
        auth("Bearer abc"),
        auth("Digest username=alice"),
        auth("Basic Ym9iOmJvYjpwdw==, Basic eA=="),
        basic("bob", "bob:pw", "/adm/x"),
        basic("dave", "dave-pw", "/adm/x"),
        basic("alice", "alice-pw", "/adm/x"),
        get("/adm/x"),
        basic("alice", "alice-pw", "/none"),
        # kept alive: a 401 keeps the connection, the next request is authorized
        get("/echo", conn="k"),
        basic("erin", "erin-pw", conn="k"),
    ),
    compare=AUTH_LOG,
    kinds=ECHO_KINDS,
    log_subs=HTTPLOG_BYTES,
)  # fmt: skip
row(
    "http-request-auth-backend",
    ("action:auth", "fetch:http_auth"),
    http_cfg(
        backend="    http-request auth if !{ http_auth(L) } { path_beg /b }\n",
        frontend="    http-request auth realm fe-realm if { path_beg /f } !{ http_auth(L) }\n",
        extra=USERLIST,
    ),
    (get("/b"), basic("bob", "bob:pw", "/b"), get("/f"), basic("erin", "erin-pw", "/f"),
     get("/echo")),
)  # fmt: skip
row(
    "http-auth-fetches",
    ("fetch:http_auth_type", "fetch:http_auth_user", "fetch:http_auth_pass",
     "fetch:http_auth_bearer"),
    http_cfg(
        frontend="    http-request set-header X-Type %[http_auth_type]\n"
        "    http-request set-header X-User %[http_auth_user]\n"
        "    http-request set-header X-Pass %[http_auth_pass]\n"
        "    http-request set-header X-Bearer %[http_auth_bearer]\n"
        "    http-request set-header X-Token %[http_auth_bearer(X-Token)]\n"
        "    http-request set-header X-Found %[http_auth_user] if { http_auth_user -m found }\n",
    ),
    (
        get("/echo"),
        basic("alice", "pass:word"),
        basic("", ""),
        auth("bearer   tok.en"),
        auth("Bearer"),
        auth("Digest x=y"),
        auth("Basic !!"),
        get("/echo", headers=(("X-Token", "Bearer t1"),)),
        get("/echo", headers=(("X-Token", "bearer  t2, Bearer t3"),)),
        get("/echo", headers=(("X-Token", "Basic t4"),)),
        get("/echo", headers=(("Authorization", "Bearer a"), ("Authorization", "Bearer b"))),
    ),
    kinds=ECHO_KINDS,
)  # fmt: skip

# -- stats admin, stats http-request ---------------------------------------------------------

FORM = (("Content-Type", "application/x-www-form-urlencoded"),)


def post_form(body: str, path: str = "/st", **kw: object) -> Req:
    return Req(path, method="POST", body=body.encode(), headers=FORM, **kw)  # type: ignore[arg-type]


#: What the page and the runtime API say after an action: the message box (class and
#: text) and each server's `show stat` status (the 18th CSV field).
ADMIN_FACTS = (
    r'(<div class=\w+><a class=lfsb href="[^"]*" title="Remove this message">\[X\]</a> .*?)</div>'
    r"|^(be,s\d),(?:[^,]*,){15}([^,]*),"
)
# (not content-length: HAProxy's page is chunked, balancekit's has a length)
ADMIN_HEADERS = frozenset({"location", "content-type", "cache-control"})
row(
    "stats-admin",
    ("stats admin", "stats enable", "stats uri", "stats socket"),
    http_cfg(
        frontend="    stats enable\n    stats uri /st\n    stats admin if { src 127.0.0.1 }\n",
        servers=three(),
    ),
    (
        post_form("s=s2&action=maint&b=be"),
        Req(command="show stat"),
        get("/st;st=DONE"),
        *seq(4),
        # `b` by id (HAProxy numbers the frontend 2, the backend 3), servers before and
        # after it, one of them unknown: partly done
        post_form("s=s3&b=%233&s=nosuch&action=drain"),
        get("/st;st=PART;norefresh"),
        Req(command="show stat"),
        *seq(3),
        post_form("s=s2&s=s3&action=ready&b=be"),
        *seq(3),
        # the legacy actions, then nothing to change, unknown action, unknown backend
        post_form("s=s1&action=disable&b=be"),
        post_form("s=s1&action=disable&b=be"),
        post_form("s=s1&action=enable&b=be"),
        post_form("s=s1&action=stop&b=be"),
        post_form("s=s1&action=start&b=be"),
        post_form("s=s1&action=bogus&b=be"),
        post_form("s=s1&action=maint&b=nope"),
        post_form("s=s1&action=maint"),
        post_form("action=hdown&b=be&s=s1"),
        Req(command="show stat"),
        *seq(2),
        post_form("s=s1&action=hrunn&b=be"),
        get("/st;st=ERRP"),
        get("/st;st=XXXX"),
        # not an admin (another source); a method the page does not take goes through
        post_form("s=s1&action=maint&b=be", src="127.0.0.2"),
        Req("/st", method="PUT", body=b"x"),
        *seq(3),
    ),
    compare=frozenset({"status", "headers", "body", "command"}),
    response_headers=ADMIN_HEADERS,
    extract=ADMIN_FACTS,
    kinds=RAW_KIND,
)
row(
    "stats-admin-nolb",
    ("stats admin", "stats socket"),
    # HAProxy's NOLB (SRV_ST_STOPPING), from the socket and from the page: no new
    # traffic, `show stat` and `show servers state` say so, until `health up`.
    http_cfg(
        frontend="    stats enable\n    stats uri /st\n    stats admin if TRUE\n",
        servers=three(),
    ),
    (
        Req(command="set server be/s1 health stopping"),
        Req(command="show stat"),
        *seq(4),
        Req(command="set server be/s1 health up"),
        *seq(3),
        post_form("s=s2&action=hnolb&b=be"),
        get("/st;st=DONE"),
        Req(command="show stat"),
        Req(command="show servers state be"),
        *seq(4),
        Req(command="set server be/s2 health down"),
        Req(command="set server be/s3 health stopping"),
        Req(command="show stat"),
        *seq(2),
    ),
    compare=frozenset({"status", "headers", "body", "command"}),
    response_headers=ADMIN_HEADERS | {"x-server"},
    extract=ADMIN_FACTS + r"|^\d+ be \d+ (s\d) \S+ (\d)",
    kinds=RAW_KIND,
)
row(
    "stats-admin-checks",
    ("stats admin", "server:check"),
    # Disabling and enabling a checked server's checks: "no check" while disabled, its
    # check columns empty; a server without checks is not counted (NONE).
    http_cfg(
        frontend="    stats enable\n    stats uri /st\n    stats admin if TRUE\n",
        servers="    server s1 {s1} check inter 200\n    server s2 {s2}\n",
    ),
    (
        Req(command="show stat", wait=0.5),
        post_form("s=s1&action=dhlth&b=be"),
        post_form("s=s2&action=dhlth&b=be"),
        Req(command="show stat"),
        Req(command="show servers state"),
        post_form("s=s1&action=ehlth&b=be"),
        Req(command="show stat", wait=0.5),
    ),
    compare=frozenset({"status", "headers", "command"}),
    response_headers=ADMIN_HEADERS,
    extract=r"^(be,s\d),(?:[^,]*,){15}([^,]*),(?:[^,]*,){18}([^,]*),"
    r"|^\d+ be (\d+) (s\d) \S+ (?:\S+ ){8}(\d+)",
    # HAProxy marks a check running at that moment with "* " (timing, not behaviour).
    command_subs=((r"\* (L\d)", r"\1"),),
    kinds=RAW_KIND,
)
row(
    "stats-admin-server-choice",
    ("stats admin",),
    # What the actions do to traffic, on every backend kind.
    http_cfg(
        frontend="    stats enable\n    stats uri /st\n    stats admin if TRUE\n",
        servers=three(),
    ),
    (
        post_form("s=s1&s=s3&action=maint&b=be"),
        *seq(3),
        post_form("s=s1&action=ready&b=be"),
        *seq(4),
    ),
    compare=frozenset({"status", "server"}),
)
row(
    "stats-http-request",
    ("stats http-request", "stats enable", "stats uri", "userlist:user", "fetch:http_auth"),
    http_cfg(
        frontend="    stats enable\n    stats uri /st\n"
        "    stats http-request deny if { req.hdr(x-block) -m found }\n"
        "    stats http-request allow if { src 127.0.0.2 }\n"
        "    stats http-request auth realm Ops unless { http_auth(L) }\n",
        extra=USERLIST,
    ),
    (
        get("/st"),
        get("/st", src="127.0.0.2"),
        get("/st", headers=(("X-Block", "1"),), src="127.0.0.2"),
        basic("bob", "bob:pw", "/st"),
        basic("bob", "nope", "/st"),
        get("/echo"),
    ),
    compare=frozenset({"status", "headers"}),
    response_headers=STATS_HEADERS,
)
row(
    "stats-scope",
    ("stats scope", "stats enable", "stats uri"),
    # The proxies the page lists (CSV rows: proxy and server names), with `stats scope`
    # naming its own proxy as `.` and another by name, then with `scope=` in the URI too.
    http_cfg(
        frontend="    stats enable\n    stats uri /st\n    stats scope .\n    stats scope be2\n",
        extra=TWO_BACKENDS,
    ),
    (get("/st;csv"), get("/st;csv;scope=BE"), get("/st?;csv;scope=fe")),
    compare=frozenset({"status", "body"}),
    extract=r"^(\w+),(\w+),",
    kinds=RAW_KIND,
)
row(
    "stats-http-request-default-realm",
    ("stats http-request",),
    http_cfg(frontend="    stats enable\n    stats uri /st\n    stats http-request auth\n"),
    (get("/st"), get("/echo")),
    compare=frozenset({"status", "headers", "body"}),
    response_headers=STATS_HEADERS,
    kinds=RAW_KIND,
)

# -- stick tables: track-sc*, sc*_/src_ fetches, show/set/clear table ------------------------

#: `show table` prints each entry's address in memory and its remaining lifetime.
TABLE_SUBS = ((r"0x[0-9a-f]+:", "<ptr>:"), (r"exp=\d+", "exp=<ms>"))
TABLE_COMPARE = frozenset({"status", "headers", "body", "command"})


def table_row(*args: object, **kw: object) -> Row:
    """A stick-table row: answers, echoed values and runtime API text compared (entry
    addresses and timers normalised), on the echo kinds."""
    kw = {"compare": TABLE_COMPARE, "command_subs": TABLE_SUBS, "kinds": ECHO_KINDS, **kw}
    return row(*args, **kw)


def show(command: str) -> Req:
    """A runtime API command sent once the previous request's stream has ended."""
    return Req(command=command, wait=0.1)


# `table_<what>(table)`: any sample looked up as a key (here a header naming a
# user), not only the tracked one: a held key reads its counters, an unknown key 0,
# a counter the table does not store gives no sample (the header is then empty).
TABLE_CONVS = (
    "bytes_in_rate",
    "bytes_out_rate",
    "conn_cnt",
    "conn_cur",
    "conn_rate",
    "gpt0",
    "gpc0",
    "gpc1",
    "gpc0_rate",
    "gpc1_rate",
    "http_err_cnt",
    "http_err_rate",
    "http_fail_cnt",
    "http_fail_rate",
    "http_req_cnt",
    "http_req_rate",
    "kbytes_in",
    "kbytes_out",
    "server_id",
    "sess_cnt",
    "sess_rate",
    "trackers",
)
table_row(
    "table-converters",
    tuple(f"conv:table_{what}" for what in TABLE_CONVS)
    + ("conv:table_gpt", "conv:table_gpc", "conv:table_gpc_rate"),
    http_cfg(
        frontend="    http-request track-sc0 req.hdr(x-user) table users\n"
        "    http-request sc-inc-gpc0(0)\n    http-request sc-inc-gpc(1,0)\n"
        + "".join(
            f"    http-request set-header X-{what} %[req.hdr(x-ask),table_{what}(users)]\n"
            for what in TABLE_CONVS
        )
        + "    http-request set-header X-gpt %[req.hdr(x-ask),table_gpt(0,users)]\n"
        "    http-request set-header X-gpc %[req.hdr(x-ask),table_gpc(1,users)]\n"
        "    http-request set-header X-gpc-rate %[req.hdr(x-ask),table_gpc_rate(1,users)]\n",
        extra="backend users\n    stick-table type string len 16 size 10 expire 1m "
        "store http_req_rate(10s),http_req_cnt,conn_cur,gpc(2),gpc_rate(2,10s),"
        "gpt(1),sess_cnt,bytes_in_cnt\n",
    ),
    # (each once the previous stream has ended: conn_cur and the trackers count
    # the streams tracking a key, and HAProxy ends one a moment after its answer)
    tuple(
        get("/echo", headers=(("X-User", user), ("X-Ask", ask)), wait=0.1)
        for user, ask in (("ann", "ann"), ("ann", "ann"), ("bob", "ann"), ("bob", "nobody"))
    ),
)
table_row(
    "stick-table-rate-limit",
    ("stick-table", "action:track-sc0", "fetch:sc_http_req_rate", "stats socket"),
    # The recipe users copy: at most 3 requests per 10 s per client address.
    http_cfg(
        frontend="    stick-table type ip size 100k expire 30s "
        "store http_req_rate(10s),conn_cur,http_err_cnt\n"
        "    http-request track-sc0 src\n"
        "    http-request deny deny_status 429 if { sc_http_req_rate(0) gt 3 }\n",
    ),
    (
        *seq(5, wait=0.05),
        get("/echo", src="127.0.0.2"),
        get("/status/404", src="127.0.0.3"),
        get("/echo", src="127.0.0.3", conn="k", wait=0.05),
        get("/echo", src="127.0.0.3", conn="k", wait=0.05),
        show("show table fe"),
        show("show table"),
    ),
)

#: A peers section naming this process (`bind`/`server`) and one peer that is down,
#: another (`peer` lines) not naming it, which both proxies drop with a warning.
PEERS_SECTIONS = """peers fleet
    disabled
    enabled
    bind {bind:peers}
    server me
    server gone {dead}
    table flags type string len 16 size 100 expire 1m store gpc0
peers elsewhere
    peer one 127.0.0.1:1
    peer two 127.0.0.1:2
"""

table_row(
    "peers-section",
    (
        "localpeer",
        "peers:peer",
        "peers:server",
        "peers:bind",
        "peers:table",
        "peers:disabled",
        "peers:enabled",
    ),
    # Sharing tables changes nothing a client sees: the same decisions and the
    # same `show table`, while the proxy listens for peers and retries the one down.
    http_cfg(
        global_="    localpeer me\n",
        frontend="    stick-table type ip size 100 expire 30s peers fleet store conn_cnt\n"
        "    http-request track-sc0 src\n"
        "    http-request track-sc1 hdr(x-user) table fleet/flags\n"
        "    http-request sc-inc-gpc0(1)\n"
        "    http-request deny deny_status 429 if { sc1_get_gpc0 gt 2 }\n",
        extra=PEERS_SECTIONS,
    ),
    (
        *seq(4, headers=(("x-user", "ann"),), wait=0.05),
        get("/echo", headers=(("x-user", "bo"),), src="127.0.0.2"),
        show("show table fe"),
        show("show table fleet/flags"),
    ),
)

# -- resolvers: DNS service discovery --------------------------------------------------------

#: A `resolvers` section asking the row's dnsmasq (`{dns:records}`) every 100 ms.
RESOLVERS_SECTION = """resolvers dns
    nameserver ns1 {dns:records}
    resolve_retries 2
    timeout resolve 100ms
    timeout retry 300ms
    hold valid 100ms
    hold nx 50ms
    hold refused 50ms
    hold timeout 50ms
    hold other 50ms
    hold obsolete 0s
    accepted_payload_size 1232
"""
#: Three SRV records on the group's servers: weights 256, 512 and 1 give server weights
#: 1, 2 and 1 (HAProxy rounds up); the targets come with the answer (additional records).
SRV_RECORDS = (
    b"host-record=a.be.test,127.0.0.1\n"
    b"host-record=b.be.test,127.0.0.1\n"
    b"host-record=c.be.test,127.0.0.1\n"
    b"host-record=plain.be.test,127.0.0.1\n"
    b"srv-host=_http._tcp.be.test,a.be.test,{port:s1},0,256\n"
    b"srv-host=_http._tcp.be.test,b.be.test,{port:s2},0,512\n"
    b"srv-host=_http._tcp.be.test,c.be.test,{port:s3},0,1\n"
)
#: `show servers state` timers differ run to run.
STATE_AGE = ((r"(?m)^(\d+ be \d+ \S+ \S+ \d+ \d+ \d+ \d+) \d+ ", r"\1 <t> "),)

row(
    "resolvers-srv-template",
    (
        "resolvers",
        "resolvers:nameserver",
        "resolvers:hold",
        "resolvers:resolve_retries",
        "resolvers:timeout",
        "resolvers:accepted_payload_size",
        "server:resolvers",
        "server-template",
    ),
    # A template of an SRV name: one server per record, in HAProxy's record order
    # (XXH32 of the target), on the record's port with its weight scaled to 0..256; the
    # fourth slot has no record and stays in maintenance ("MAINT (resolution)", address
    # cleared). Roundrobin then follows the SRV weights.
    http_cfg(
        backend="    balance roundrobin\n",
        servers="    server-template web 1-4 _http._tcp.be.test resolvers dns init-addr none\n",
        extra=RESOLVERS_SECTION,
    ),
    (*seq(8), Req(command="show servers state be"), Req(command="show stat")),
    files={"records": SRV_RECORDS},
    settle=1.0,
    compare=frozenset({"status", "server", "command"}),
    # `show stat`: only each server's status and weight are this row's.
    command_subs=(
        *STATE_AGE,
        (r"(?m)^(?:# pxname|fe,).*\n", ""),
        (r"(?m)^(be,[^,]+),(?:[^,]*,){15}([^,]*,[^,]*),.*$", r"\1,\2"),
    ),
)
row(
    "resolvers-a-records",
    (
        "server:resolve-prefer",
        "server:resolve-opts",
        "server:resolve-net",
        "server:init-addr",
        "resolvers:parse-resolv-conf",
    ),
    # A template of a plain name: one address per server (no duplicates unless
    # allow-dup-ip), the other slots in maintenance; a lone server with allow-dup-ip takes
    # the same address, and a name the DNS does not know stays unresolved. The system's
    # nameservers are asked too (parse-resolv-conf): they know nothing of be.test.
    http_cfg(
        backend="    balance roundrobin\n",
        servers="    server-template p 1-2 plain.be.test:{port:s1} resolvers dns init-addr none "
        "resolve-prefer ipv4 resolve-net 127.0.0.0/8\n"
        "    server s2 plain.be.test:{port:s2} resolvers dns resolve-opts allow-dup-ip\n"
        "    server s3 nowhere.be.test:{port:s3} resolvers dns init-addr none "
        "resolve-prefer ipv4\n",
        extra=RESOLVERS_SECTION + "    parse-resolv-conf\n",
    ),
    (*seq(6), Req(command="show servers state be")),
    files={"records": SRV_RECORDS},
    settle=1.0,
    compare=frozenset({"status", "server", "command"}),
    command_subs=STATE_AGE,
)

#: A table storing every counter the fetches read.
ALL_COUNTERS = (
    "conn_cnt,conn_cur,conn_rate(10s),sess_cnt,sess_rate(10s),http_req_cnt,"
    "http_req_rate(10s),http_err_cnt,http_err_rate(10s),http_fail_cnt,http_fail_rate(10s),"
    "bytes_in_cnt,bytes_in_rate(10s),bytes_out_cnt,bytes_out_rate(10s),gpc0,gpc0_rate(10s),"
    "gpc1,gpc1_rate(10s),gpt0"
)
COUNTER_FETCHES = (
    "bytes_in_rate", "bytes_out_rate", "conn_cnt", "conn_cur", "conn_rate", "get_gpt0", "get_gpc0",
    "get_gpc1", "gpc0_rate", "gpc1_rate", "http_err_cnt", "http_err_rate", "http_fail_cnt",
    "http_fail_rate", "http_req_cnt", "http_req_rate", "kbytes_in", "kbytes_out", "sess_cnt",
    "sess_rate", "trackers",
)  # fmt: skip


def _fetch_header(name: str, fetches: list[str]) -> str:
    return f'    http-request set-header {name} "{" ".join(f"%[{f}]" for f in fetches)}"\n'


SC_HEADERS = "".join(
    [
        *(_fetch_header(f"X-Sc{n}", [f"sc{n}_{w}" for w in COUNTER_FETCHES]) for n in range(3)),
        _fetch_header("X-Sc", [f"sc_{w}({n})" for w in COUNTER_FETCHES for n in (0, 2)]),
        _fetch_header("X-Src", [f"src_{w}" for w in COUNTER_FETCHES if w != "trackers"]),
        _fetch_header("X-Other", ["sc_http_req_cnt(1,fe)", "sc0_http_req_cnt(other)",
                                  "src_http_req_cnt(other)", "table_cnt", "table_avl(other)",
                                  "table_cnt(users)"]),
        _fetch_header("X-Tracked", [f"sc{n}_tracked" for n in range(3)]
                      + [f"sc_tracked({n})" for n in range(3)]),
    ]
)  # fmt: skip
table_row(
    "stick-table-fetches",
    ("stick-table", "action:track-sc0", "action:track-sc1", "action:track-sc2",
     "action:sc-inc-gpc0", "action:sc-inc-gpc1", "action:sc-set-gpt0", "fetch:table_avl",
     "fetch:table_cnt",
     *(f"fetch:{p}{w}" for p in ("sc0_", "sc1_", "sc2_", "sc_", "src_") for w in COUNTER_FETCHES
       if f"{p}{w}" != "src_trackers"),
     *(f"fetch:{p}tracked" for p in ("sc0_", "sc1_", "sc2_", "sc_"))),
    http_cfg(
        frontend=f"    stick-table type ip size 1k expire 1m store {ALL_COUNTERS}\n"
        "    http-request track-sc0 src\n"
        "    http-request track-sc1 src table other if { path_sub /two }\n"
        "    http-request track-sc2 req.hdr(x-user) table users\n"
        "    http-request sc-inc-gpc0(0) if { path_sub /inc }\n"
        "    http-request sc-inc-gpc1(2) if { path_sub /inc }\n"
        "    http-request sc-set-gpt0(0) 42 if { path_end /gpt }\n"
        "    http-request sc-set-gpt0(2) req.hdr_cnt(x-user) if { path_end /gpt }\n"
        + SC_HEADERS,
        extra="backend other\n"
        "    stick-table type ip size 10 expire 1m store http_req_cnt,conn_cur,gpc0\n"
        "backend users\n"
        f"    stick-table type string len 16 size 10 expire 1m store {ALL_COUNTERS}\n",
    ),
    # Each request waits for the previous stream to end (its server may close after
    # the answer): a stream still open holds its entries (`trackers`, `conn_cur`).
    (
        get("/echo"),
        get("/echo/inc", headers=(("X-User", "ann"),), wait=0.1),
        get("/echo/two", headers=(("X-User", "ann"),), wait=0.1),
        get("/echo/gpt", headers=(("X-User", "bob"),), wait=0.1),
        get("/status/404", headers=(("X-User", "bob"),), wait=0.1),
        get("/status/503", headers=(("X-User", "bob"),), wait=0.1),
        get("/echo/inc/two", headers=(("X-User", "bob"),), wait=0.1),
        get("/echo/inc", src="127.0.0.2", headers=(("X-User", "ann"),), wait=0.1),
        show("show table fe"),
        show("show table users"),
        show("show table other"),
    ),
)  # fmt: skip
table_row(
    "stick-table-bytes-in",
    ("stick-table", "action:track-sc0", "tcp-request connection"),
    # `bytes_in` is HAProxy's `%U`: the request's message size (not its wire size:
    # header lines without ": " and CRLF, Connection without close/keep-alive), then
    # the body, whether the server or the proxy answers.
    http_cfg(
        frontend="    stick-table type ip size 1k expire 1m store bytes_in_cnt,bytes_in_rate(10s),"
        "bytes_out_cnt,http_req_cnt\n"
        "    http-request track-sc0 src\n"
        "    http-request deny if { path_beg /deny }\n",
    ),
    (
        get("/echo"),
        Req("/echo/post", method="POST", body=b"x" * 300, headers=(("X-A", "1"),), wait=0.1),
        get("/echo", headers=(("Connection", "close"),), wait=0.1),
        get("/echo", headers=(("Connection", "keep-alive"),), src="127.0.0.2", wait=0.1),
        # (a local answer: HAProxy would forward `Connection: Upgrade`, balancekit drops
        # the hop-by-hop header)
        get("/deny", headers=(("Connection", "keep-alive, Upgrade"),), src="127.0.0.2",
            wait=0.1),
        Req("/deny", method="POST", body=b"y" * 50, src="127.0.0.2", wait=0.1),
        get("/echo?q=1", src="127.0.0.3", conn="k", wait=0.1),
        get("/echo?q=22", src="127.0.0.3", conn="k", wait=0.1),
        show("show table fe"),
    ),
)  # fmt: skip
table_row(
    "tcp-stick-table-bytes-in",
    ("stick-table", "tcp-request connection"),
    TCP + "frontend ft\n    bind {bind:main}\n"
    "    stick-table type ip size 1k expire 1m store bytes_in_cnt,bytes_out_cnt\n"
    "    tcp-request connection track-sc0 src\n"
    "    default_backend bt\nbackend bt\n    server s1 {s1}\n",
    (get("/echo"), get("/echo/post", method="POST", body=b"z" * 99, wait=0.1),
     show("show table ft")),
)  # fmt: skip
GPC_CHANGES = [f"sc{n}_{c}" for c in ("inc_gpc0", "inc_gpc1", "clr_gpc0", "clr_gpc1")
               for n in range(3)]  # fmt: skip
table_row(
    "stick-table-gpc",
    ("stick-table", "action:track-sc0",
     *(f"fetch:{f}" for f in GPC_CHANGES),
     *(f"fetch:sc_{c}" for c in ("inc_gpc0", "inc_gpc1", "clr_gpc0", "clr_gpc1"))),
    # The fetches that change what they read: the abuser recipe (`sc0_inc_gpc0 gt 2`
    # in an ACL), and every one in a header.  `users` stores no gpc1: incrementing it
    # reads 0, clearing it has no value.
    http_cfg(
        frontend="    stick-table type ip size 1k expire 1m store gpc0,gpc1,gpc0_rate(10s)\n"
        "    http-request track-sc0 src\n"
        "    http-request track-sc1 src table other\n"
        "    http-request track-sc2 req.hdr(x-user) table users\n"
        "    http-request deny deny_status 429 if { path_sub /bad } { sc0_inc_gpc0 gt 2 }\n"
        + _fetch_header("X-Inc", [f for f in GPC_CHANGES if "inc" in f]
                        + ["sc_inc_gpc0(1)", "sc_inc_gpc1(2)"]).rstrip("\n")
        + " if { path_sub /inc }\n"
        + _fetch_header("X-Clr", [f for f in GPC_CHANGES if "clr" in f]
                        + ["sc_clr_gpc0(1)", "sc_clr_gpc1(2)"]).rstrip("\n")
        + " if { path_sub /clr }\n"
        + _fetch_header("X-Now", ["sc0_get_gpc0", "sc1_get_gpc1", "sc0_gpc0_rate"]),
        extra="backend other\n"
        "    stick-table type ip size 10 expire 1m store gpc0,gpc1\n"
        "backend users\n"
        "    stick-table type string size 10 expire 1m store gpc0\n",
    ),
    (
        get("/echo/bad"),
        get("/echo/bad", wait=0.05),
        get("/echo/bad", wait=0.05),
        get("/echo/inc", headers=(("X-User", "ann"),), wait=0.05),
        get("/echo/inc", headers=(("X-User", "ann"),), wait=0.05),
        get("/echo/clr", headers=(("X-User", "ann"),), wait=0.05),
        get("/echo/bad", wait=0.05),
        get("/echo", src="127.0.0.2", wait=0.05),
        show("show table fe"),
        show("show table users"),
    ),
)  # fmt: skip
CONN_COUNTERS = (
    "conn_cnt,conn_cur,conn_rate(10s),sess_cnt,sess_rate(10s),http_req_cnt,"
    "http_req_rate(10s),http_err_cnt,bytes_out_cnt"
)
table_row(
    "stick-table-track-connection",
    ("stick-table", "tcp-request connection", "tcp-request session",
     "fetch:sc_conn_cur", "fetch:sc0_sess_cnt"),
    # The connection-limit recipe: the connection is tracked (not each request), so
    # its requests count on one entry, and a third connection at once is refused.
    http_cfg(
        frontend=f"    stick-table type ip size 1k expire 1m store {CONN_COUNTERS}\n"
        "    tcp-request connection track-sc0 src\n"
        "    tcp-request connection reject if { sc_conn_cur(0) gt 2 }\n"
        "    tcp-request session track-sc1 src table other\n"
        "    http-request track-sc1 src table other\n"
        + _fetch_header("X-Sc0", ["sc0_conn_cnt", "sc0_conn_cur", "sc0_sess_cnt",
                                  "sc0_http_req_cnt", "sc0_http_req_rate", "sc0_http_err_cnt",
                                  "sc1_conn_cur", "sc1_http_req_cnt", "sc0_kbytes_out"]),
        extra="backend other\n"
        "    stick-table type ip size 10 expire 1m store conn_cur,http_req_cnt,sess_cnt\n",
    ),
    (
        get("/echo", conn="a"),
        get("/status/404", conn="a", wait=0.05),
        get("/echo", conn="b", wait=0.05),
        get("/echo", conn="a", wait=0.05),
        get("/echo", wait=0.05),  # a third connection while a and b are open
        get("/echo", src="127.0.0.2", wait=0.05),
        show("show table fe"),
        show("show table other"),
    ),
)  # fmt: skip
table_row(
    "tcp-stick-table-track-connection",
    ("stick-table", "tcp-request connection", "fetch:sc0_conn_rate", "fetch:src_conn_cnt"),
    # mode tcp: at most 2 new connections per 10 s per client, and a content rule
    # reading the connection's entry.
    TCP + "frontend ft\n    bind {bind:main}\n"
    "    stick-table type ip size 1k expire 1m store conn_cnt,conn_cur,conn_rate(10s),sess_cnt\n"
    "    tcp-request connection track-sc0 src\n"
    "    tcp-request connection reject if { sc0_conn_rate gt 2 }\n"
    "    tcp-request content reject if { src_conn_cnt gt 5 }\n"
    "    default_backend bt\n"
    "backend bt\n    server s1 {s1}\n",
    (
        get("/echo"),
        get("/echo", wait=0.05),
        get("/echo", wait=0.05),
        get("/echo", src="127.0.0.2", wait=0.05),
        show("show table ft"),
    ),
    compare=frozenset({"status", "body", "command"}),
)
table_row(
    "stick-table-content-track",
    ("stick-table", "tcp-request content", "fetch:src_inc_gpc0", "fetch:src_inc_gpc1",
     "fetch:src_clr_gpc0", "fetch:src_clr_gpc1"),
    # `tcp-request content track-sc*` in mode http (each request, counted once), and
    # the src_ fetches that create the client's entry in another table.
    http_cfg(
        frontend="    stick-table type ip size 1k expire 1m store conn_cnt,conn_cur,http_req_cnt\n"
        "    tcp-request content track-sc0 src\n"
        "    http-request track-sc0 src table other\n"
        + _fetch_header("X-Src", ["sc0_conn_cnt", "sc0_http_req_cnt", "sc0_conn_cur",
                                  "src_inc_gpc0(other)", "src_inc_gpc1(other)",
                                  "src_get_gpc0(other)"]).rstrip("\n")
        + " if { path_sub /inc }\n"
        + _fetch_header("X-Clr", ["src_clr_gpc0(other)", "src_clr_gpc1(other)",
                                  "src_clr_gpc0"]).rstrip("\n")
        + " if { path_sub /clr }\n",
        extra="backend other\n"
        "    stick-table type ip size 10 expire 1m store gpc0,gpc0_rate(10s)\n",
    ),
    (
        get("/echo/inc"),
        get("/echo/inc", wait=0.05),
        get("/echo/inc", src="127.0.0.2", conn="k", wait=0.05),
        get("/echo/clr", src="127.0.0.2", conn="k", wait=0.05),
        get("/echo/clr", src="127.0.0.3", wait=0.05),
        show("show table fe"),
        show("show table other"),
    ),
)  # fmt: skip
table_row(
    "stick-table-src-updt-conn-cnt",
    ("stick-table", "fetch:src_updt_conn_cnt"),
    # The fetch counts a connection on the client's entry each time it runs (here once
    # per request), in the proxy's own table or another; a table without conn_cnt
    # gives no sample.  (`show table nocnt` is not compared: HAProxy 2.6 keeps a
    # reference on such an entry for good, `use=` growing each time; balancekit does
    # not copy that leak, docs/persistence-and-limits.md.)
    http_cfg(
        frontend="    stick-table type ip size 1k expire 1m store conn_cnt,conn_rate(10s)\n"
        + _fetch_header("X-Updt", ["src_updt_conn_cnt", "src_updt_conn_cnt(other)",
                                   "src_updt_conn_cnt(nocnt)"]).rstrip("\n")
        + " if { path_sub /u }\n"
        "    http-request deny deny_status 429 if { src_updt_conn_cnt(limit) gt 1 }\n",
        extra="backend other\n    stick-table type ip size 10 expire 1m store conn_cnt\n"
        "backend nocnt\n    stick-table type ip size 10 expire 1m store gpc0\n"
        "backend limit\n    stick-table type ip size 10 expire 1m store conn_cnt\n",
    ),
    (
        get("/echo/u"),
        get("/echo/u", wait=0.05),
        get("/echo/u", src="127.0.0.2", conn="k", wait=0.05),
        get("/echo/u", src="127.0.0.2", conn="k", wait=0.05),
        get("/echo", src="127.0.0.3"),
        show("show table fe"),
        show("show table other"),
        show("show table limit"),
    ),
)  # fmt: skip
table_row(
    "tcp-stick-table-content-track",
    ("stick-table", "tcp-request content", "tcp-request inspect-delay"),
    TCP + "frontend ft\n    bind {bind:main}\n"
    "    stick-table type ip size 1k expire 1m store conn_cnt,conn_cur,http_req_cnt\n"
    "    tcp-request inspect-delay 1s\n"
    "    tcp-request content track-sc1 src\n"
    "    tcp-request content reject if { sc1_conn_cnt gt 2 }\n"
    "    tcp-request content accept if HTTP\n"
    "    default_backend bt\n"
    "backend bt\n    server s1 {s1}\n",
    (
        get("/echo"),
        get("/echo", wait=0.05),
        get("/echo", wait=0.05),
        show("show table ft"),
    ),
    compare=frozenset({"status", "body", "command"}),
)
table_row(
    "stick-on-src",
    ("stick", "stick-table", "balance:roundrobin"),
    # Server persistence through a table: a client's first request is balanced and
    # remembered, the next ones go to the same server; a server in maintenance is not
    # followed, and the answer re-stores the new one.
    http_cfg(
        backend="    balance roundrobin\n"
        "    stick-table type ip size 1k expire 1m\n"
        "    stick on src\n",
        servers=three(),
    ),
    (
        get("/echo"),
        get("/echo", wait=0.05),
        get("/echo", src="127.0.0.2", wait=0.05),
        get("/echo", src="127.0.0.2", wait=0.05),
        get("/echo", src="127.0.0.3", wait=0.05),
        get("/echo", wait=0.05),
        # kept alive: the task-free path follows the table too
        get("/echo", src="127.0.0.4", conn="k", wait=0.05),
        get("/echo", src="127.0.0.4", conn="k", wait=0.05),
        get("/echo", src="127.0.0.4", conn="k", wait=0.05),
        show("show table be"),
        show("disable server be/s1"),
        get("/echo", wait=0.05),
        get("/echo", wait=0.05),
        show("show table be"),
    ),
    compare=frozenset({"status", "server", "command"}),
)
table_row(
    "stick-match-store-request",
    ("stick", "stick-table", "option persist"),
    # Separate match and store rules, a table in another backend, a condition, and the
    # first store rule per table winning; `option persist` follows a server in
    # maintenance.
    http_cfg(
        backend="    balance roundrobin\n"
        "    option persist\n"
        "    stick match req.hdr(x-user) table users\n"
        "    stick store-request req.hdr(x-user) table users if { path_beg /login }\n"
        "    stick store-request req.hdr(x-other) table users\n",
        servers=three(),
        extra="backend users\n    stick-table type string len 32 size 10 expire 1m store gpc0\n",
    ),
    (
        get("/login", headers=(("X-User", "ann"),)),
        get("/echo", headers=(("X-User", "ann"),), wait=0.05),
        get("/echo", headers=(("X-User", "bob"),), wait=0.05),
        get("/echo", headers=(("X-User", "bob"),), wait=0.05),
        get("/login", headers=(("X-User", "bob"), ("X-Other", "zed")), wait=0.05),
        get("/echo", headers=(("X-User", "bob"),), wait=0.05),
        get("/echo", headers=(("X-User", "zed"),), wait=0.05),
        show("disable server be/s1"),
        get("/echo", headers=(("X-User", "ann"),), wait=0.05),
        show("show table users"),
    ),
    compare=frozenset({"status", "server", "command"}),
)


def sets(header: str, value: str) -> str:
    """An echo path whose answer carries `header: value` (the echo kinds' respond-header=)."""
    return "/echo?respond-header=" + quote(f"{header}:{value}", safe="")


table_row(
    "stick-store-response",
    ("stick", "stick-table", "fetch:res.cook", "fetch:res.hdr"),
    # The application's session cookie, learnt from its answer (`res.cook`), then
    # matched on the requests that carry it; a second table keyed on a response
    # header, the first store-response rule per table winning.
    http_cfg(
        backend="    balance roundrobin\n"
        "    stick-table type string len 32 size 1k expire 1m\n"
        "    stick store-response res.cook(SID)\n"
        "    stick match req.cook(SID)\n"
        "    stick store-response res.hdr(x-session) table tokens\n"
        "    stick store-response res.hdr(x-other) table tokens\n"
        "    stick match req.hdr(x-session) table tokens\n",
        servers=three(),
        extra="backend tokens\n    stick-table type string len 32 size 10 expire 1m\n",
    ),
    (
        get(sets("Set-Cookie", "SID=abc; path=/; HttpOnly")),
        cookie("SID=abc", wait=0.05),
        cookie("SID=abc", wait=0.05),
        get(sets("set-cookie", "SID=def"), wait=0.05),
        cookie("a=1; SID=def", wait=0.05),
        cookie("SID=nope", wait=0.05),
        get(sets("X-Session", "t1"), wait=0.05),
        get(sets("X-Other", "t2"), wait=0.05),
        get("/echo", headers=(("X-Session", "t1"),), wait=0.05),
        get("/echo", headers=(("X-Session", "t2"),), wait=0.05),
        get("/echo", headers=(("X-Session", "t1"),), wait=0.05),
        show("show table be"),
        show("show table tokens"),
    ),
    compare=frozenset({"status", "server", "command"}),
)


def answers(status: int, *headers: tuple[str, str]) -> str:
    """An echo path answering `status` with `headers` (the echo kinds' respond-header=)."""
    query = "&".join("respond-header=" + quote(f"{n}:{v}", safe="") for n, v in headers)
    return f"/status/{status}?{query}" if status != 200 else f"/echo?{query}"


table_row(
    "stick-store-response-condition",
    ("stick", "stick-table", "fetch:status", "fetch:res.hdr"),
    # A condition that reads the answer: only a 200 carrying x-keep is learnt. The
    # named ACL reads the response too (a request rule using it would never match).
    http_cfg(
        backend="    balance roundrobin\n"
        "    acl keep res.hdr(x-keep) -m found\n"
        "    stick-table type string len 32 size 1k expire 1m\n"
        "    stick store-response res.hdr(x-session) if { status 200 } keep\n"
        "    stick match req.hdr(x-session)\n",
        servers=three(),
    ),
    (
        get(answers(404, ("X-Session", "a"), ("X-Keep", "1"))),
        get(answers(200, ("X-Session", "b")), wait=0.05),
        get(answers(200, ("X-Session", "c"), ("X-Keep", "1")), wait=0.05),
        get("/echo", headers=(("X-Session", "c"),), wait=0.05),
        get("/echo", headers=(("X-Session", "c"),), wait=0.05),
        get("/echo", headers=(("X-Session", "a"),), wait=0.05),
        show("show table be"),
    ),
    compare=frozenset({"status", "server", "command"}),
)
RESPONSE_KEYS = ("res.fhdr(x-f)", "res.hdr_cnt(x-f)", "res.fhdr_cnt(x-f)", "res.cook_cnt(SID)",
                 "status", "shdr(x-f)", "scook(SID)", "shdr_cnt(x-f)")  # fmt: skip
table_row(
    "stick-store-response-fetches",
    ("stick", "stick-table", *(f"fetch:{k.split('(')[0]}" for k in RESPONSE_KEYS)),
    # Every response fetch as a store-response key, each in a table of its own: `show
    # table` then holds what each one read from the same answers.
    http_cfg(
        backend="    balance roundrobin\n"
        + "".join(
            f"    stick store-response {k} table t{i}\n" for i, k in enumerate(RESPONSE_KEYS)
        ),
        servers=three(),
        extra="".join(
            f"backend t{i}\n    stick-table type string len 32 size 10 expire 1m\n"
            for i in range(len(RESPONSE_KEYS))
        ),
    ),
    (
        get(sets("X-F", "a, b")),
        get(sets("Set-Cookie", "SID=q; path=/"), wait=0.05),
        get("/status/404", wait=0.05),
        *(show(f"show table t{i}") for i in range(len(RESPONSE_KEYS))),
    ),
    compare=frozenset({"status", "server", "command"}),
)
table_row(
    "tcp-stick-on-dst",
    ("stick", "stick-table"),
    # The failover recipe of mode tcp databases: every client on one server while it
    # is up (a one-entry table keyed on the frontend's address).
    TCP + "frontend ft\n    bind {bind:main}\n    default_backend bt\n"
    "backend bt\n    balance roundrobin\n"
    "    stick-table type ip size 1 nopurge\n"
    "    stick on dst\n" + three(),
    (
        get("/echo"),
        get("/echo", src="127.0.0.2", wait=0.05),
        get("/echo", src="127.0.0.3", wait=0.05),
        show("show table bt"),
        show("disable server bt/s1"),
        get("/echo", wait=0.05),
        get("/echo", src="127.0.0.2", wait=0.05),
        show("show table bt"),
    ),
    compare=frozenset({"status", "server", "command"}),
)
# Two ClientHellos, made once: both proxies see the same bytes (and session ids).
HELLO_A, HELLO_B = client_hello("a.test"), client_hello("b.test")
row(
    "tcp-ssl-session-id-stickiness",
    ("tcp-response content", "tcp-response inspect-delay", "tcp-request inspect-delay",
     "stick", "stick-table", "fetch:payload_lv", "fetch:rep_ssl_hello_type",
     "fetch:req_ssl_hello_type", "option tcplog"),
    # HAProxy's recipe for TLS session-id affinity without terminating TLS: the id is
    # learnt from the ServerHello (`stick store-response`, after `tcp-response
    # content` waited for it) and matched on the next ClientHello carrying it. The
    # backend waits for the hello itself (its own inspect-delay) and rejects the rest.
    TCP_LOGGED + "frontend ft\n    bind {bind:main}\n    option tcplog\n"
    "    default_backend https\n"
    "backend https\n    balance roundrobin\n"
    "    stick-table type binary len 32 size 30k expire 30m\n"
    "    acl clienthello req_ssl_hello_type 1\n"
    "    acl serverhello rep_ssl_hello_type 2\n"
    "    tcp-request inspect-delay 5s\n"
    "    tcp-request content accept if clienthello\n"
    "    tcp-request content reject\n"
    "    tcp-response inspect-delay 2s\n"
    "    tcp-response content accept if serverhello\n"
    "    stick on payload_lv(43,1) if clienthello\n"
    "    stick store-response payload_lv(43,1) if serverhello\n"
    "    server s1 {t1}\n    server s2 {t1}\n",
    (
        Req(raw=HELLO_A, half_close=True, timeout=3),
        Req(raw=HELLO_B, half_close=True, timeout=3, wait=0.05),
        Req(raw=HELLO_A, half_close=True, timeout=3, wait=0.05),
        Req(raw=HELLO_A, half_close=True, timeout=3, wait=0.05),
        Req(raw=HELLO_B, half_close=True, timeout=3, wait=0.05),
        get("/echo", wait=0.05),
        show("show table https"),
    ),
    compare=frozenset({"status", "command", "log"}),
    command_subs=TABLE_SUBS,
    log_subs=TCPLOG_BYTES,
    kinds=RAW_KIND,
)  # fmt: skip
TCP_PAYLOAD = b"\x05hello\x02hi there\r\n\r\n"
PAYLOAD_KEYS = (
    ("req.payload(0,3)", "binary len 8"), ("req.payload(6,0)", "binary len 32"),
    ("req.payload_lv(0,1)", "string len 16"), ("req.payload_lv(6,1,+1)", "binary len 8"),
    ("payload_lv(6,1,2)", "string len 8"), ("payload(1,5),upper", "string len 8"),
)  # fmt: skip
RESPONSE_PAYLOAD_KEYS = (
    ("res.payload(0,8)", "string len 16"), ("res.payload_lv(15,1,-15)", "string len 16"),
    ("payload(9,3)", "string len 8"),
)  # fmt: skip
table_row(
    "tcp-payload-fetches",
    ("stick", "stick-table", "tcp-request inspect-delay", "tcp-request content", "match:bin",
     *(f"fetch:{k.split('(')[0].split(',')[0]}" for k, _ in PAYLOAD_KEYS + RESPONSE_PAYLOAD_KEYS)),
    # The payload fetches on the bytes a client sent and on the server's first bytes
    # (which the store rules see only when a tcp-response rule waits for them), each
    # a key in a table of its own (`show table` holds what each read): offsets,
    # lengths prefixed in the data, absolute and relative data offsets (HAProxy
    # halves an absolute one), 0 for "the rest", a binary sample cast to a string
    # key, too short a buffer (no sample).
    TCP + "listen tl\n    bind {bind:main}\n    tcp-request inspect-delay 2s\n"
    "    tcp-response inspect-delay 2s\n"
    "    tcp-response content accept if { res.payload(0,16) -m found }\n"
    "    tcp-request content reject if { req.payload(0,2) -m bin 0506 }\n"
    "    tcp-request content accept if { req.payload(1,5) -m bin 68656c6c6f }\n"
    + "".join(f"    stick store-request {k} table q{i}\n" for i, (k, _) in enumerate(PAYLOAD_KEYS))
    + "".join(f"    stick store-response {k} table r{i}\n"
              for i, (k, _) in enumerate(RESPONSE_PAYLOAD_KEYS))
    + "    stick store-request req.payload(100,4) table q0\n"
    + "    server s1 {s1}\n"
    + "".join(f"backend q{i}\n    stick-table type {t} size 10 expire 1m\n"
              for i, (_, t) in enumerate(PAYLOAD_KEYS))
    + "".join(f"backend r{i}\n    stick-table type {t} size 10 expire 1m\n"
              for i, (_, t) in enumerate(RESPONSE_PAYLOAD_KEYS)),
    (
        Req(raw=TCP_PAYLOAD),
        Req(raw=b"\x05\x06rejected\r\n\r\n", wait=0.05),
        *(show(f"show table q{i}") for i in range(len(PAYLOAD_KEYS))),
        *(show(f"show table r{i}") for i in range(len(RESPONSE_PAYLOAD_KEYS))),
    ),
    compare=frozenset({"status", "command"}),
    kinds=RAW_KIND,
)  # fmt: skip
table_row(
    "tcp-response-content",
    ("tcp-response content", "fetch:res.payload", "fetch:res.len", "fetch:res.ssl_hello_type",
     "option tcplog"),
    # Rules on the server's first bytes (waited for: the inspect-delay): a 404 answer
    # is rejected (the client gets nothing, HAProxy logs PD), an HTTP/0.9 answer
    # (a JSON error, one write) closes the server's side after the bytes went
    # through, anything else is accepted; a TLS hello test on plain text is no
    # sample. What follows the status's place is learnt from the answers let through.
    TCP_LOGGED + "listen tl\n    bind {bind:main}\n    option tcplog\n"
    "    stick-table type string len 16 size 10 expire 1m\n"
    "    stick store-response res.payload(9,3)\n"
    "    tcp-response inspect-delay 2s\n"
    "    tcp-response content accept if { res.ssl_hello_type 2 }\n"
    "    tcp-response content reject if { res.payload(9,3) -m str 404 } { res.len gt 0 }\n"
    "    tcp-response content close if { res.payload(0,1) -m bin 7b }\n"
    "    server s1 {s1}\n",
    (
        get("/echo"),
        get("/status/404", wait=0.05),
        Req(raw=b"HELLO\r\n", wait=0.05),
        get("/status/403", wait=0.05),
        show("show stat"),
        show("show table tl"),
    ),
    compare=frozenset({"status", "log", "command"}),
    log_subs=TCPLOG_BYTES,
    # Sessions and the denied responses (stot, dreq, dresp) of each line; the table.
    extract=r"^(tl,\w+),(?:[^,]*,){5}([^,]*),[^,]*,[^,]*,([^,]*),([^,]*)|^(<?\w.*key=.*)",
    command_subs=TABLE_SUBS,
    kinds=RAW_KIND,
)  # fmt: skip
row(
    "use-server",
    ("use-server", "cookie", "option persist", "stick", "stick-table"),
    # `use-server` rules: static and log-format names, a server taken down (the next
    # matching rule, then balancing), a name that is no server (balanced), a cookie
    # that wins over the rules, a stick entry the rules override, and `option persist`
    # in the second backend sending to a server that is down.
    http_cfg(
        frontend="    use_backend pb if { path_beg /p/ }\n",
        backend="    balance roundrobin\n"
        "    cookie SRV insert indirect nocache\n"
        "    stick-table type ip size 10\n"
        "    stick on src\n"
        "    use-server s3 if { path_beg /echo/three }\n"
        "    use-server s2 if { path_beg /echo/three }\n"
        "    use-server %[req.hdr(x-srv)] if { req.hdr(x-srv) -m found }\n",
        servers="    server s1 {s1} cookie c1\n    server s2 {s2} cookie c2\n"
        "    server s3 {s3} cookie c3\n",
        extra="backend pb\n    option persist\n    use-server s2 if TRUE\n"
        "    server s1 {s1}\n    server s2 {s2}\n",
    ),
    (
        get("/echo/three"),
        get("/echo/three", src="127.0.0.2"),
        get("/echo", headers=(("x-srv", "s2"),), src="127.0.0.3"),
        get("/echo", headers=(("x-srv", "nosuch"),), src="127.0.0.4"),
        get("/echo/three", headers=(("Cookie", "SRV=c1"),), src="127.0.0.5"),
        get("/echo", src="127.0.0.2"),
        show("set server be/s3 health down"),
        get("/echo/three", src="127.0.0.6"),
        show("set server be/s2 health down"),
        get("/echo/three", src="127.0.0.7"),
        show("set server pb/s2 health down"),
        get("/p/x", src="127.0.0.8"),
        show("show table be"),
    ),
    compare=frozenset({"status", "server", "command", "headers"}),
    response_headers=frozenset({"set-cookie"}),
    command_subs=TABLE_SUBS,
    kinds=ECHO_KINDS,
)
row(
    "tcp-use-server",
    ("use-server", "stick"),
    # mode tcp: L4 conditions, a server down skipped.
    TCP + "frontend ft\n    bind {bind:main}\n    default_backend bt\n"
    "backend bt\n    balance roundrobin\n"
    "    use-server s3 if { src 127.0.0.2 }\n"
    "    use-server s2 if { src 127.0.0.2 127.0.0.3 }\n" + three(),
    (
        get("/echo", src="127.0.0.2"),
        get("/echo", src="127.0.0.2", wait=0.05),
        get("/echo", src="127.0.0.3", wait=0.05),
        show("disable server bt/s3"),
        get("/echo", src="127.0.0.2", wait=0.05),
        get("/echo", wait=0.05),
        get("/echo", wait=0.05),
    ),
    compare=frozenset({"status", "server", "command"}),
)
ARRAY_FETCHES = ("get_gpc", "get_gpt", "gpc_rate", "inc_gpc", "clr_gpc")
table_row(
    "stick-table-arrays",
    ("stick-table", "action:sc-inc-gpc", "action:sc-set-gpt",
     *(f"fetch:{p}{w}" for p in ("sc_", "src_") for w in ARRAY_FETCHES)),
    # HAProxy 2.6's gpc/gpt arrays: the actions, the fetches by index, and an index
    # beyond the array (no value).
    http_cfg(
        frontend="    stick-table type ip size 1k expire 1m store gpc(3),gpc_rate(2,10s),gpt(2)\n"
        "    http-request track-sc0 src\n"
        "    http-request sc-inc-gpc(1,0)\n"
        "    http-request sc-inc-gpc(2,0) if { path_sub /two }\n"
        "    http-request sc-set-gpt(1,0) 9 if { path_sub /gpt }\n"
        + _fetch_header("X-A", ["sc_get_gpc(0,0)", "sc_get_gpc(1,0)", "sc_get_gpc(2,0)",
                                "sc_get_gpc(5,0)", "sc_gpc_rate(1,0)", "sc_get_gpt(1,0)",
                                "src_get_gpc(1,fe)", "src_gpc_rate(0,fe)", "src_get_gpt(1,fe)"])
        + _fetch_header("X-B", ["sc_inc_gpc(0,0)", "src_inc_gpc(2,fe)", "sc_clr_gpc(1,0)",
                                "src_clr_gpc(0,fe)"]).rstrip("\n")
        + " if { path_sub /chg }\n",
    ),
    (
        get("/echo"),
        get("/echo/two", wait=0.05),
        get("/echo/gpt", wait=0.05),
        get("/echo/chg", wait=0.05),
        get("/echo", wait=0.05),
        get("/echo/chg", src="127.0.0.2", wait=0.05),
        show("show table fe"),
    ),
)  # fmt: skip
table_row(
    "stick-table-runtime",
    ("stick-table", "stats socket"),
    http_cfg(
        frontend="    stick-table type ip size 100 expire 30s "
        "store gpc0,conn_cnt,http_req_rate(10s)\n",
        extra="backend strings\n"
        "    stick-table type string len 8 size 10 store conn_cnt,server_id\n"
        "backend ints\n"
        "    stick-table type integer size 10 nopurge store gpt0\n",
    ),
    (
        show("set table fe key 127.0.0.5 data.gpc0 7"),
        show("set table fe key 127.0.0.1 data.gpc0 1 data.conn_cnt 3"),
        show("set table fe key 10.1.2.3 data.http_req_rate 5"),
        show("show table fe"),
        show("show table fe data.gpc0 gt 2"),
        show("show table fe data.conn_cnt eq 3 data.gpc0 le 1"),
        show("show table fe key 127.0.0.5"),
        show("show table fe key 127.0.0.9"),
        show("clear table fe key 127.0.0.5"),
        show("show table fe"),
        show("set table strings key abcdefghijk data.conn_cnt 3"),
        show("set table ints key 256 data.gpt0 1"),
        show("set table ints key 1 data.gpt0 2"),
        show("show table strings"),
        show("show table ints"),
        show("show table"),
        show("show table nope"),
        show("show table fe data.bogus gt 1"),
        show("show table fe data.gpc0 xx 1"),
        show("set table fe key 127.0.0.1 data.nope 1"),
        show("set table fe key notanip data.gpc0 1"),
        show("set table fe"),
        show("clear table fe data.gpc0 gt 0"),
        show("show table fe"),
        show("clear table fe"),
        show("show table fe"),
    ),
    compare=frozenset({"command"}),
    kinds=RAW_KIND,
)

#: Rows that only check which server (or backend) is chosen, one request at a time and
#: without health checks: the choice is made before a byte reaches a server, so the
#: `httpserver` kind is enough for them (every other row runs on several kinds).
CHOICE_ONLY = frozenset(
    [r.id for r in ROWS if r.id.startswith(("balance-", "hash-"))]
    + [
        "random-draw",
        "use-backend",
        "redispatch",
        "no-redispatch",
        "server-backup-unused",
        "server-disabled-enabled",
        "stats-socket-disable-server",
        "tcp-balance-source",
    ]
) - {"balance-leastconn-busy", "balance-first"}
ROWS[:] = [replace(r, kinds=("httpserver",)) if r.id in CHOICE_ONLY else r for r in ROWS]


# -- http-response and http-after-response ---------------------------------------------------

#: Echo kinds add these to their answer: a cookie and a header with several values.
RESPONSE_EXTRAS = (
    "respond-header=Set-Cookie%3Aid%3D7%3B%20path%3D%2F"
    "&respond-header=X-Multi%3Aalpha%2C%20beta%2Cbravo"
    "&respond-header=X-Powered-By%3Aecho"
)

row(
    "http-response-security-headers",
    ("http-response", "http-response:set-header", "http-response:add-header",
     "http-response:del-header", "fetch:status"),
    # The HSTS and security-header recipe: the backend's rules run before the
    # frontend's, on every answer (an error status, a HEAD, a POST), on every kind.
    http_cfg(
        frontend='    http-response set-header Strict-Transport-Security '
        '"max-age=63072000; includeSubDomains; preload"\n'
        "    http-response set-header X-Frame-Options DENY\n"
        "    http-response set-header X-Content-Type-Options nosniff\n"
        "    http-response del-header Server\n"
        "    http-response del-header x-powered -m beg\n"
        "    http-response add-header X-Via fe\n",
        backend="    http-response add-header X-Via be\n"
        "    http-response set-header X-Status %[status]\n"
        "    http-response set-header X-Server-Was %[res.hdr(x-server)]\n",
    ),
    (
        get("/echo"),
        get("/status/404"),
        Req("/echo/p", method="POST", body=b"a=1", headers=(("Content-Type", "text/x"),)),
        get("/echo", method="HEAD"),
        get(f"/echo?{RESPONSE_EXTRAS}"),
    ),
)  # fmt: skip
row(
    "http-response-rewrites",
    ("http-response", "http-response:replace-header", "http-response:replace-value",
     "http-response:set-status", "http-response:allow", "fetch:res.hdr", "fetch:status"),
    # `allow` ends the backend's list only; `set-status` with and without a reason
    # (later rules see the new status); replace-header rewrites whole lines,
    # replace-value each value, keeping the separators.
    http_cfg(
        frontend="    http-response set-header X-Fe yes\n"
        '    http-response set-status 503 reason "Down For Now" if { status 404 }\n'
        "    http-response set-status 299 if { status 201 }\n"
        "    http-response set-status 302 if { status 410 }\n"
        "    http-response set-header X-Final %[status]\n"
        r'    http-response replace-header Set-Cookie (.*) "\1; Secure"' "\n"
        r"    http-response replace-value X-Multi ^b(.*)$ B\1" "\n"
        r"    http-response replace-value X-Server ^(s.)$ \1\x21" "\n",
        backend="    http-response set-header X-Be-1 yes\n"
        "    http-response allow if { path_beg /echo/allow }\n"
        "    http-response set-header X-Be-2 yes\n",
    ),
    (
        get(f"/echo?{RESPONSE_EXTRAS}"),
        get(f"/echo/allow?{RESPONSE_EXTRAS}"),
        get("/status/404"),
        get("/status/201"),
        get("/status/410"),
    ),
    kinds=ECHO_KINDS,
)  # fmt: skip
row(
    "http-response-deny-return-redirect",
    ("http-response", "http-response:deny", "http-response:return",
     "http-response:redirect", "option httplog"),
    # Rules that replace the server's answer: a deny (502 by default, or its
    # deny_status, or its errorfile), a return and a redirect; logged PH / LH with
    # no response time, the denies counted in dresp on the frontend, backend and
    # server. The return's `%[status]` finds nothing: HAProxy has dropped the
    # server's answer before it builds its own.
    http_cfg(
        global_=LOG_GLOBAL,
        defaults="    log global\n    option httplog\n",
        backend="    errorfile 403 {file:e403}\n"
        "    http-response deny if { status 404 }\n"
        "    http-response deny deny_status 403 if { status 410 }\n"
        "    http-response deny deny_status 429 content-type text/plain string slow "
        "hdr X-Why w if { status 400 }\n"
        "    http-response return status 200 content-type text/plain "
        "lf-string \"was %[status]\" hdr X-From rule if { status 500 }\n"
        "    http-response redirect location /moved code 301 if { status 403 }\n",
    ),
    (
        get("/echo"),
        get("/status/404"),
        get("/status/410"),
        get("/status/400"),
        get("/status/500"),
        get("/status/403"),
        get("/echo", conn="k"),
        get("/status/404", conn="k"),
        get("/echo", conn="k"),
        show("show stat"),
    ),
    files={"e403": b"HTTP/1.1 403 Forbidden\r\ncontent-length: 6\r\n\r\nnope!\n"},
    log_subs=HTTPLOG_BYTES,
    # The denied responses (dresp) of each line.
    extract=r"^(fe|be),(\w+),(?:[^,]*,){10}([^,]*)",
    kinds=ECHO_KINDS,
)  # fmt: skip
row(
    "http-after-response",
    ("http-after-response", "http-after-response:set-header", "http-after-response:add-header",
     "http-after-response:del-header", "http-after-response:replace-header",
     "http-after-response:replace-value", "http-after-response:set-status",
     "http-after-response:allow", "option httplog"),
    # After-response rules run on every answer: the server's (after http-response),
    # the proxy's own for a request rule (only the frontend's, no backend yet) and a
    # backend's error page (its rules, then the frontend's); `set-status` is logged.
    http_cfg(
        global_=LOG_GLOBAL,
        defaults="    log global\n    option httplog\n",
        frontend="    http-after-response add-header X-After fe\n"
        "    http-after-response set-header X-After-Set %[status]\n"
        "    http-after-response set-status 418 if { status 403 }\n"
        "    http-after-response del-header Server\n"
        r"    http-after-response replace-header Content-Type text/(.*) application/\1" "\n"
        r"    http-after-response replace-value Cache-Control no-(.*) maybe-\1" "\n"
        "    http-request deny if { path /denied }\n"
        "    http-request return status 200 content-type text/plain string hi "
        "if { path /ret }\n"
        "    http-request redirect location /x if { path /redir }\n"
        "    use_backend empty if { path /empty }\n",
        backend="    http-response set-header X-Resp r\n"
        "    http-after-response add-header X-After be\n"
        "    http-after-response allow if { status 404 }\n"
        "    http-after-response add-header X-After be2 if { res.hdr(x-resp) r }\n",
        extra="backend empty\n    http-after-response add-header X-After empty\n",
    ),
    (
        get("/echo"),
        get("/status/404"),
        get("/denied"),
        get("/ret"),
        get("/redir"),
        get("/empty"),
        get("/echo", conn="k"),
        get("/denied", conn="k"),
        get("/echo", conn="k"),
    ),
    log_subs=HTTPLOG_BYTES,
    kinds=ECHO_KINDS,
)  # fmt: skip
row(
    "http-request-replace",
    ("action:replace-header", "action:replace-value"),
    # The request-side rewrites of the same kind: a Host without its port, a cookie
    # blanked inside its line, each matching value of a list (the spaces around a
    # replaced value go with it), a line the regex does not match left alone.
    http_cfg(
        frontend=r"    http-request replace-header Host (.*):\d+ \1" "\n"
        r"    http-request replace-header Cookie (.*)sess=[^;]*(.*) \1sess=gone\2" "\n"
        r"    http-request replace-value X-List ^(a.*)$ [\1]" "\n"
        r"    http-request replace-header X-Keep ^nomatch$ x" "\n"
    ),
    (
        get("/echo", host="example.test:8080", headers=(
            ("Cookie", "a=1; sess=xyz; b=2"),
            ("X-List", "alpha, beta , axe"),
            ("X-Keep", "as is"),
        )),
        get("/echo", headers=(("X-List", "bravo"),)),
    ),
    kinds=ECHO_KINDS,
)  # fmt: skip

# -- option logasap ---------------------------------------------------------------------------

row(
    "logasap-httplog",
    ("option logasap", "option httplog"),
    # Logged once the server's head is processed (no termination yet, the request
    # still counted in %bc/%sc); the total time and the bytes marked `+`, also on
    # the lines written at the end (a deny, a server that is down). The bytes then
    # depend on how much body came with the head: only their mark is compared.
    http_cfg(
        global_=LOG_GLOBAL,
        defaults="    log global\n    option httplog\n    option logasap\n",
        frontend="    http-request deny if { path /denied }\n"
        "    use_backend down if { path /down }\n",
        extra="backend down\n    server d1 127.0.0.1:1\n",
    ),
    (
        get("/echo"),
        get("/status/503"),
        get("/denied"),
        get("/down"),
        get("/echo", conn="k"),
        get("/echo", conn="k"),
    ),
    log_subs=((r"(<timers> \d{3}) \+\d+ ", r"\1 +<bytes> "),),
    kinds=ECHO_KINDS,
)
row(
    "logasap-log-format",
    ("option logasap", "log-format"),
    # The `+` marks in a log-format: %Tt, %Ta, %Tu and %B.
    http_cfg(
        global_=LOG_GLOBAL,
        defaults="    log global\n    option logasap\n",
        frontend='    log-format "%ST Tt=%Tt Ta=%Ta Tu=%Tu B=%B Tr=%Tr ts=%ts bc=%bc %{+Q}r"\n'
        "    http-request deny if { path /denied }\n",
    ),
    (get("/echo"), get("/denied"), get("/status/404")),
    log_subs=((r"=\+\d+", "=+<n>"), (r"Tr=\d+", "Tr=<n>")),
    kinds=ECHO_KINDS,
)
# -- cache ---------------------------------------------------------------------------------

CACHED = answers(200, ("Cache-Control", "max-age=60"), ("ETag", '"v1"'))
CACHE_CFG = http_cfg(
    global_=LOG_GLOBAL,
    defaults="    log global\n    option httplog\n",
    frontend="    http-request cache-use c1\n"
    "    http-response cache-store c1\n"
    "    http-after-response set-header X-Aged %[res.hdr_cnt(age)]\n"
    "    http-response set-header X-Hit %[res.cache_hit]/%[res.cache_name]\n",
    extra="cache c1\n    total-max-size 4\n    max-object-size 10000\n    max-age 240\n",
)
row(
    "cache-use-store",
    (
        "cache",
        "cache:total-max-size",
        "cache:max-object-size",
        "cache:max-age",
        "action:cache-use",
        "http-response:cache-store",
        "fetch:res.cache_hit",
        "fetch:res.cache_name",
    ),
    # The answer stored on a first GET is sent by the cache (logged fe/<CACHE>, LR, with
    # an Age header: its presence is compared, not its seconds), to a HEAD too; a
    # matching If-None-Match gets a 304 with the stored head. Requests that say
    # no-cache or carry credentials go to the server; a POST drops the entry; answers
    # that are private, without validator or expiry, or too large are not stored.
    CACHE_CFG,
    (
        get(CACHED),
        get(CACHED),
        get(CACHED, method="HEAD"),
        get(CACHED, headers=(("If-None-Match", '"v1"'),)),
        get(CACHED, headers=(("If-None-Match", '"v2"'),)),
        get(CACHED, headers=(("Cache-Control", "no-cache"),)),
        get(CACHED, headers=(("Authorization", "Basic dTpw"),)),
        get(CACHED, method="POST"),
        get(CACHED),
        get(CACHED),
        get(answers(200, ("Cache-Control", "private"), ("ETag", '"v1"'))),
        get(answers(200, ("Cache-Control", "private"), ("ETag", '"v1"'))),
        get(answers(200, ("X-No", "validator"))),
        get(answers(200, ("X-No", "validator"))),
        get(answers(404, ("Cache-Control", "max-age=60"))),
        get(answers(404, ("Cache-Control", "max-age=60"))),
        get(CACHED + "&big", headers=(("X-Pad", "x" * 12000),)),
        get(CACHED + "&big"),
    ),
    response_headers=frozenset(
        {"x-aged", "x-hit", "etag", "cache-control", "content-length", "x-server", "content-type"}
    ),
    header_order=False,
    kinds=ECHO_KINDS,
)
row(
    "cache-in-backend",
    (
        "cache",
        "cache:total-max-size",
        "action:cache-use",
        "http-response:cache-store",
        "cache:process-vary",
        "cache:max-secondary-entries",
    ),
    # In a backend, the cache answers as that backend (logged be/<CACHE>), through its
    # http-response rules and the frontend's; what is stored is the head the
    # cache-store rule saw (X-Before, not X-After, which is added to every answer).
    # An answer with Vary is not stored while process-vary is off.
    http_cfg(
        global_=LOG_GLOBAL,
        defaults="    log global\n    option httplog\n",
        frontend="    http-response set-header X-Front 1\n",
        backend="    http-request cache-use c2\n"
        "    http-response set-header X-Before %[res.hdr_cnt(age)]\n"
        "    http-response cache-store c2\n"
        "    http-response set-header X-After %[res.hdr_cnt(age)]\n",
        extra="cache c2\n    total-max-size 1\n    process-vary off\n"
        "    max-secondary-entries 10\n",
    ),
    (
        get(CACHED),
        get(CACHED),
        get(CACHED, method="HEAD"),
        get(answers(200, ("Vary", "accept-encoding"), ("ETag", '"v1"'))),
        get(answers(200, ("Vary", "accept-encoding"), ("ETag", '"v1"'))),
    ),
    response_headers=frozenset(
        {"x-before", "x-after", "x-front", "etag", "vary", "content-length", "x-server"}
    ),
    header_order=False,
    kinds=ECHO_KINDS,
)


# `process-vary on`: answers varying on accept-encoding and referer are stored, one per
# secondary key; a request gets one whose Content-Encoding it accepts (and, for referer,
# with its Referer); `Vary: *`, an unknown header or an unknown encoding is not stored,
# and a request listing 16 encodings neither finds nor fills varied answers.
def fresh(n: int, *headers: tuple[str, str]) -> str:
    """A cacheable echo path (its own URI, `v=n`) answering with `headers`."""
    return f"/echo?v={n}&" + answers(200, ("Cache-Control", "max-age=60"), *headers)[6:]


VARIED = fresh(1, ("Vary", "accept-encoding"), ("Content-Encoding", "gzip"))
BY_REFERER = fresh(2, ("Vary", "referer,accept-encoding"))
ONLY_REFERER = fresh(3, ("Vary", "Referer"))
UNSTORED = (
    fresh(4, ("Vary", "*")),
    fresh(5, ("Vary", "accept-encoding, user-agent")),
    fresh(6, ("Vary", "accept-encoding"), ("Content-Encoding", "GZIP")),
)


def accepting(*encodings: str, **headers: str) -> tuple[tuple[str, str], ...]:
    """Accept-Encoding (one header per argument) and other request headers."""
    return tuple(("Accept-Encoding", e) for e in encodings) + tuple(headers.items())


row(
    "cache-process-vary",
    ("cache:process-vary", "cache:max-secondary-entries"),
    http_cfg(
        frontend="    http-request cache-use cv\n"
        "    http-response cache-store cv\n"
        "    http-after-response set-header X-Hit %[res.cache_hit]\n",
        extra="cache cv\n    total-max-size 4\n    max-object-size 10000\n"
        "    process-vary on\n    max-secondary-entries 3\n",
    ),
    (
        get(VARIED, headers=accepting("gzip")),
        get(VARIED, headers=accepting("br, gzip;q=0.5")),
        get(VARIED, headers=accepting("br")),
        get(VARIED),
        get(VARIED, headers=accepting("gzip;q=0", "br")),
        get(VARIED, headers=accepting("*")),
        get(VARIED, headers=accepting("*, gzip; q=0")),
        get(VARIED, headers=accepting(",".join(["gzip"] * 16))),
        get(VARIED, headers=accepting("GZip", "")),
        get(BY_REFERER, headers=(("Referer", "http://a.test/"),)),
        get(BY_REFERER, headers=(("Referer", "http://a.test/"),)),
        get(BY_REFERER, headers=(("Referer", "http://b.test/"),)),
        get(BY_REFERER, headers=accepting("deflate", Referer="http://a.test/")),
        get(ONLY_REFERER, headers=(("Referer", "http://a.test/"),)),
        get(ONLY_REFERER, headers=(("Referer", "http://a.test/"),)),
    )
    + tuple(get(path) for path in UNSTORED for _ in range(2)),
    response_headers=frozenset({"x-hit", "vary", "content-encoding", "content-length"}),
    header_order=False,
    kinds=ECHO_KINDS,
)  # fmt: skip
# `filter cache` and `filter compression` declared explicitly (cache first, as HAProxy
# requires): the cache stores the answer as the server sent it, compression applies to
# every answer sent, stored or not.
row(
    "cache-filter-explicit",
    ("filter cache", "filter compression"),
    http_cfg(
        frontend="    filter cache cf\n    filter compression\n"
        "    compression algo gzip\n    compression type text/plain\n"
        "    http-request cache-use cf\n    http-response cache-store cf\n"
        "    http-after-response set-header X-Hit %[res.cache_hit]\n",
        extra="cache cf\n    total-max-size 4\n    max-object-size 10000\n",
    ),
    tuple(
        get(path, headers=headers)
        for path in (answers(200, ("Cache-Control", "max-age=60"), ("Content-Type", "text/plain")),)
        for headers in (accepting("gzip"), accepting("gzip"), ())
    ),
    response_headers=frozenset(
        {"x-hit", "content-encoding", "content-length", "transfer-encoding", "vary"}
    ),
    header_order=False,
    kinds=("httpserver",),
)
row(
    "date-http-date",
    ("fetch:date", "conv:http_date"),
    # Dates as HTTP headers write them, in seconds or with the fraction of a second
    # their unit gives; `date` is compared by its size (now, in ms, is about 1.8e12).
    http_cfg(
        frontend="    http-request return status 200 hdr X-Epoch %[int(0),http_date] "
        "hdr X-Ms %[int(1500),http_date(0,ms)] hdr X-Off %[int(0),http_date(86400)] "
        "hdr X-Now %[date,http_date,length] hdr X-Big %[date(0,ms),div(1000000000000)]\n",
    ),
    (get("/"),),
    kinds=RAW_KIND,
)
row(
    "stream-names",
    ("fetch:fe_name", "fetch:be_name", "fetch:srv_name", "fetch:srv_id"),
    # What answered: the frontend, the backend and the server (its id: given, or its
    # rank in the backend); an answer the proxy made has no server, and its backend
    # is the frontend's own when no backend was chosen.
    http_cfg(
        frontend="    http-request deny if { path /no }\n"
        "    http-after-response set-header X-Names %[fe_name]|%[be_name]|%[srv_name]|%[srv_id]\n",
        backend="    balance roundrobin\n"
        "    http-response set-header X-Served %[srv_name]-%[srv_id]\n",
        servers="    server s1 {s1}\n    server s2 {s2} id 7\n",
    ),
    (*seq(2), get("/no")),
    kinds=ECHO_KINDS,
)
row(
    "http-ignore-probes",
    ("option http-ignore-probes", "timeout http-request"),
    # A connection that sends nothing until `timeout http-request` is closed without a
    # 408, a log line or a count (the `show stat` line's req_tot, hrsp_4xx); one that
    # started a request still gets its 408.
    http_cfg(
        global_="    log {log} format raw local0\n",
        defaults="    log global\n    option httplog\n    timeout http-request 300ms\n",
        frontend="    option http-ignore-probes\n",
    ),
    (Req(raw=b"", timeout=3), Req(raw=b"GET /echo HTTP/1.1\r\n", timeout=3), show("show stat")),
    extract=r"^(fe),FRONTEND,(?:[^,]*,){5}([^,]*),(?:[^,]*,){31}([^,]*),([^,]*),([^,]*),",
    log_subs=HTTPLOG_BYTES,
    kinds=RAW_KIND,
)
row(
    "capture-actions",
    (
        "action:capture",
        "http-response:capture",
        "declare capture",
        "capture request header",
        "capture response header",
        "fetch:capture.req.hdr",
        "fetch:capture.res.hdr",
    ),
    # Slots are numbered in the order of the lines that make them, header captures and
    # `declare capture` and `http-request capture … len` alike; rules fill theirs (cut
    # to the slot's length), the log shows them all in %hr/%hs, the fetches read them.
    http_cfg(
        global_="    log {log} format raw local0\n",
        defaults="    log global\n    option httplog\n",
        frontend="    capture request header Host len 20\n"
        "    declare capture request len 8\n"
        "    http-request capture req.hdr(x-a) len 5\n"
        "    http-request capture path id 1\n"
        "    http-request set-header X-Cap %[capture.req.hdr(2)]-%[capture.req.hdr(1)]\n"
        "    declare capture response len 10\n"
        "    capture response header X-Server len 10\n"
        "    http-response capture res.hdr(content-type) id 0\n"
        "    http-response set-header X-Rcap %[capture.res.hdr(0)]\n",
    ),
    (get("/echo/long/path", headers=(("X-A", "abcdefgh"),)), get("/echo")),
    log_subs=HTTPLOG_BYTES,
    kinds=ECHO_KINDS,
)
row(
    "set-log-level",
    ("action:set-log-level", "http-response:set-log-level", "log"),
    # The log target takes `notice` and above: a request is logged only when a rule
    # raised its level (a response rule too), and `silent` drops a line whatever its
    # level, even an error's under `option log-separate-errors`.
    http_cfg(
        global_="    log {log} format raw local0 notice\n",
        defaults="    log global\n    option httplog\n    option log-separate-errors\n",
        frontend="    http-request set-log-level err if { path /err }\n"
        "    http-request set-log-level silent if { path_beg /status/5 }\n"
        "    http-response set-log-level notice if { status 404 }\n",
    ),
    (get("/echo"), get("/err"), get("/status/404"), get("/status/503"), get("/status/404")),
    log_subs=HTTPLOG_BYTES,
    kinds=ECHO_KINDS,
)
row(
    "unique-id",
    ("unique-id-format", "unique-id-header", "fetch:unique-id", "fetch:uuid"),
    # The ID is built once: by the first rule that asks for it (X-Early), so a later
    # rewrite of x-a does not change it; a denied request gets one for its log line.
    # `%{+X}o` writes the addresses in hexadecimal, the escaped space is merged away at
    # the start. A uuid is random: only its shape is compared.
    http_cfg(
        global_=LOG_GLOBAL,
        defaults="    log global\n",
        frontend="    unique-id-format %{+X}o\\ %ci_%fi-%[req.hdr(x-a)]-%HM\n"
        "    unique-id-header X-Unique-ID\n"
        '    log-format "%ID %ST"\n'
        "    http-request set-header X-Early %[unique-id] if { req.hdr(x-a) early }\n"
        "    http-request set-header X-A later\n"
        "    http-request set-header X-U %[uuid,regsub([0-9a-f],x,g)]-%[uuid(4),bytes(14,1)]\n"
        "    http-request deny if { path /denied }\n",
    ),
    (
        get("/echo", headers=(("X-A", "early"),)),
        get("/echo"),
        get("/denied", method="POST"),
    ),
    kinds=ECHO_KINDS,
)
row(
    "logasap-tcplog",
    ("option logasap", "option tcplog"),
    # Mode tcp: logged as the server connection is made, with no byte yet (+0) and
    # no termination; a session whose server is down is logged at its end, marked.
    TCP_LOGGED + "listen tl\n    bind {bind:main}\n    option tcplog\n    option logasap\n"
    "    server s1 {s1}\n"
    "listen other\n    bind {bind:second}\n    option tcplog\n    option logasap\n"
    "    server d1 127.0.0.1:1\n",
    (get("/echo"), get("/echo", wait=0.05), get("/echo", bind="second", wait=0.05)),
    compare=frozenset({"status", "log"}),
    kinds=RAW_KIND,
)

# -- converters ---------------------------------------------------------------------------

ENCODING_CONVERTERS = (
    ("B64", "req.hdr(x-in),base64"), ("B64dec", "req.hdr(x-b64),b64dec"),
    ("Ub64", "req.hdr(x-in),ub64enc"), ("Ub64dec", "req.hdr(x-ub64),ub64dec"),
    ("Hex", "req.hdr(x-in),hex"), ("Hex2i", "req.hdr(x-hex),hex2i"),
    ("Json", "req.fhdr(x-json),json"), ("Json8", "req.fhdr(x-json),json(utf8s)"),
    ("Urldec", "req.fhdr(x-url),url_dec"), ("Urldec1", "req.fhdr(x-url),url_dec(1)"),
    ("Bytes", "req.hdr(x-in),bytes(2,3)"), ("Bytes1", "req.hdr(x-in),bytes(4)"),
    ("Trim", "req.fhdr(x-pad),ltrim(-_),rtrim(_)"), ("Cut", "req.fhdr(x-pad),cut_crlf"),
    ("Host", "req.hdr(host),host_only"), ("Port", "req.hdr(host),port_only"),
    ("Sha1", "req.hdr(x-in),sha1,hex"), ("Crc", "req.hdr(x-in),crc32"),
    ("Crca", "req.hdr(x-in),crc32(1)"), ("Djb2", "req.hdr(x-in),djb2"),
    ("Sdbm", "req.hdr(x-in),sdbm(1)"), ("Wt6", "req.hdr(x-in),wt6"),
    ("Xxh", "req.hdr(x-in),xxh64"), ("Xxhs", "req.hdr(x-in),xxh64(7)"),
    ("Crcc", "req.hdr(x-in),crc32c"), ("Crcca", "req.hdr(x-in),crc32c(1)"),
    ("Xxh32", "req.hdr(x-in),xxh32"), ("Xxh32s", "req.hdr(x-in),xxh32(-3)"),
    ("Xxh3", "req.hdr(x-in),xxh3"), ("Xxh3s", "req.hdr(x-in),xxh3(12345)"),
    ("Xxh3l", "req.hdr(x-json),xxh3"), ("Xxh3e", "req.hdr(x-absent),xxh3"),
)  # fmt: skip
ARITHMETIC_CONVERTERS = (
    ("Add", "add(10)"), ("Sub", "sub(-5)"), ("Mul", "mul(3)"), ("Div", "div(2)"),
    ("Div0", "div(0)"), ("Mod", "mod(3)"), ("Mod0", "mod(0)"), ("Neg", "neg"),
    ("And", "and(6)"), ("Or", "or(1)"), ("Xor", "xor(255)"), ("Cpl", "cpl"),
    ("Odd", "odd"), ("Even", "even"), ("Htonl", "htonl,hex"), ("Iif", "odd,iif(odd,even)"),
    ("Big", "mul(9223372036854775807)"), ("Small", "sub(9223372036854775807),sub(10)"),
)  # fmt: skip


def _converter_headers(pairs: tuple[tuple[str, str], ...], prefix: str = "") -> str:
    return "".join(
        f"    http-request set-header X-{name} %[{prefix}{expr}]\n" for name, expr in pairs
    )


def _converter_names(*exprs: str) -> tuple[str, ...]:
    bare = (re.sub(r"\([^)]*\)", "", expr) for expr in exprs)  # the arguments dropped
    names = {"conv:" + step for expr in bare for step in expr.split(",")[1:]}
    return tuple(sorted(names))


row(
    "converters-encodings-hashes",
    _converter_names(*(expr for _, expr in ENCODING_CONVERTERS)),
    # Each converter on a header the request brings: encodings both ways (a bad
    # one is no sample: the header is set empty), JSON escaping in its ascii and
    # utf8 modes, URL decoding with and without its form mode, slices, the Host
    # split, and the hashes with their avalanche and seed arguments.
    http_cfg(frontend=_converter_headers(ENCODING_CONVERTERS)),
    (
        get("/echo", host="Example.TEST:8443", headers=(
            ("X-In", "hello, world"), ("X-B64", "aGk/Pz4+"), ("X-Ub64", "aGk_Pz4-"),
            ("X-Hex", "7fFf"), ("X-Json", 'say "hi"/\\ caf\xe9\tend'),
            ("X-Url", "a%20b+c%41?d+e"), ("X-Pad", "-_-value__"),
        )),
        get("/echo", host="[::1]", headers=(
            ("X-In", "x"), ("X-B64", "not base64!"), ("X-Ub64", "a"), ("X-Hex", "0x1"),
            ("X-Json", "plain"), ("X-Url", "bad%zz"), ("X-Pad", "___"),
        )),
    ),
    kinds=ECHO_KINDS,
)  # fmt: skip
row(
    "converters-arithmetic",
    _converter_names(*("x," + expr for _, expr in ARITHMETIC_CONVERTERS)),
    # Integer converters on a header read as a number, with HAProxy's saturation
    # at the 64-bit limits, its C division (toward zero) and its answers for a
    # division or a modulo by zero.
    http_cfg(frontend=_converter_headers(ARITHMETIC_CONVERTERS, "req.hdr(x-n),")),
    tuple(get("/echo", headers=(("X-N", n),)) for n in ("-7", "9", "9223372036854775807", "abc")),
    kinds=ECHO_KINDS,
)

# -- request line rewrites --------------------------------------------------------------------

row(
    "http-request-line-rewrites",
    ("action:set-method", "action:set-path", "action:set-pathq", "action:set-query",
     "action:set-uri", "action:replace-path", "action:replace-pathq", "action:replace-uri",
     "option httplog"),
    # The request line as the server gets it: each rewrite where its condition holds,
    # later rules and use_backend seeing the result, the query kept or replaced (an
    # empty new query keeps no `?`), an absolute-form target keeping its authority,
    # a regex that finds nothing leaving the line alone. The log shows the request as
    # it came.
    http_cfg(
        global_=LOG_GLOBAL,
        defaults="    log global\n    option httplog\n",
        frontend="    http-request set-path /api%[path] if { path_beg /v1/ }\n"
        r"    http-request replace-path /api/v1(/.*) /v2\1" "\n"
        "    http-request set-query from=%[src]&%[query] if { path_beg /v2/ }\n"
        "    http-request set-method PUT if { path /v2/put }\n"
        "    http-request set-uri /fixed?x=1 if { path_beg /fixed }\n"
        "    http-request set-pathq /pq/only if { path_beg /pq }\n"
        r"    http-request replace-pathq ^/rq/([^?]*)\?(.*)$ /rq-\2/\1" "\n"
        r"    http-request replace-uri ^/ru/(.*) /ru-done/\1" "\n"
        r"    http-request replace-path ^/never-(.*) /x" "\n"
        "    http-request set-query %[req.hdr(x-q)] if { path_beg /q }\n"
        "    http-request set-header X-Seen %[method]:%[path]:%[query]\n"
        "    use_backend be2 if { path_beg /v2/ }\n",
        extra="backend be2\n    http-request set-header X-Be2 %[path]\n    server s2 {s2}\n",
    ),
    (
        get("/v1/users?page=2"),
        get("/v1/put"),
        get("/fixed/a?b=2"),
        get("/pq/a?b=c"),
        get("/rq/a/b?k=v"),
        get("/ru/x?y"),
        get("/never"),
        get("/q/1?old=1", headers=(("X-Q", ""),)),
        get("/q/2", headers=(("X-Q", ""),)),
        get("/q/3", headers=(("X-Q", "n=1"),)),
        get("http://example.test/v1/abs?z=9"),
    ),
    log_subs=HTTPLOG_BYTES,
    kinds=ECHO_KINDS,
)  # fmt: skip

# -- variables ------------------------------------------------------------------------------

row(
    "variables",
    ("action:set-var", "action:set-var-fmt", "action:unset-var", "fetch:var",
     "http-response:set-var", "http-response:set-var-fmt", "http-response:unset-var",
     "http-after-response:set-var", "http-after-response:set-var-fmt",
     "http-after-response:unset-var", "tcp-request content"),
    # Variables of each scope: `txn` from the request to its answer, `req` gone once
    # the answer comes (and `res` only then), `sess` kept over a connection's
    # requests; set-var's conditions; a default for a missing one; var() in a
    # use_backend condition; set-var-fmt; unset-var; tcp-request content set-var.
    http_cfg(
        frontend="    tcp-request content set-var(sess.conns) src_port\n"
        "    http-request set-var(txn.host) req.hdr(host),lower\n"
        "    http-request set-var(txn.path) path\n"
        "    http-request set-var(txn.n) req.hdr(x-n),add(1)\n"
        "    http-request set-var(txn.n,ifgt) req.hdr(x-m),add(0)\n"
        "    http-request set-var(txn.cnt,ifnotset) req.hdr(x-a)\n"
        "    http-request set-var(txn.cnt,ifnotset) req.hdr(x-b)\n"
        "    http-request set-var(txn.empty,ifnotempty) req.hdr(x-empty)\n"
        "    http-request set-var(txn.kept,ifexists) req.hdr(x-a)\n"
        "    http-request set-var(req.r) req.hdr(host)\n"
        "    http-request set-var(res.early) req.hdr(host)\n"
        "    http-request set-var(sess.first,ifnotexists) path\n"
        '    http-request set-var-fmt(txn.fmt) "%[var(txn.host)]-%[method]"\n'
        "    http-request unset-var(txn.path) if { path_beg /echo/unset }\n"
        "    http-request set-header X-Host %[var(txn.host)]\n"
        "    http-request set-header X-Path %[var(txn.path)]\n"
        "    http-request set-header X-Def %[var(txn.none,fallback)]\n"
        "    http-request set-header X-N %[var(txn.n)]\n"
        "    http-request set-header X-Cnt %[var(txn.cnt)]\n"
        "    http-request set-header X-Empty %[var(txn.empty,unset)]\n"
        "    http-request set-header X-Kept %[var(txn.kept,no)]\n"
        "    http-request set-header X-Fmt %[var(txn.fmt)]\n"
        "    http-request set-header X-Req %[var(req.r)]\n"
        "    http-request set-header X-Early %[var(res.early,none)]\n"
        "    http-request set-header X-Sess %[var(sess.first)]\n"
        "    http-request set-header X-Conns %[var(sess.conns),bool]\n"
        "    use_backend be2 if { var(txn.host) -m str other.test }\n"
        "    http-response set-header X-Resp-Path %[var(txn.path,none)]\n"
        "    http-response set-header X-Resp-Req %[var(req.r,gone)]\n"
        "    http-response set-var(res.code) status\n"
        "    http-response set-var-fmt(txn.both) %[var(txn.host)]/%[var(res.code)]\n"
        "    http-response unset-var(txn.fmt)\n"
        "    http-response set-header X-Code %[var(res.code)]\n"
        "    http-after-response set-var(txn.after) var(txn.both)\n"
        "    http-after-response set-var-fmt(txn.afmt) x%[var(txn.after)]\n"
        "    http-after-response unset-var(txn.host)\n"
        "    http-after-response set-header X-After %[var(txn.afmt)]:%[var(txn.host,gone)]\n"
        "    http-after-response set-header X-Fmt-Gone %[var(txn.fmt,gone)]\n",
        extra="backend be2\n    server s2 {s2}\n",
    ),
    (
        get("/echo/a", conn="k", headers=(("X-N", "5"), ("X-M", "3"), ("X-B", "b"))),
        get("/echo/unset", conn="k", headers=(("X-N", "5"), ("X-M", "9"), ("X-A", "a"),
                                              ("X-Empty", ""))),
        get("/echo/other", host="Other.Test", headers=(("X-Empty", "e"),)),
        get("/status/404", headers=(("X-N", "x"),)),
    ),
    kinds=ECHO_KINDS,
)  # fmt: skip

# -- maps --------------------------------------------------------------------------------------

MAP_FILES = {
    "hosts": b"# host to backend\nexample.test   be2\nother.test\tbe3   \nUPPER.test be2\n"
    b"dup.test be3\ndup.test be2\n  \n gone.test nosuch\n",
    "prefixes": b"/a a\n/abc abc\n/ab ab\n/b b\n",
    "subs": b"ech echo-sub\nstat status-sub\n",
    "domains": b"example.test ex-dom\ntest tld\n",
    "dirs": b"echo echo-dir\nstatus stat-dir\n",
    "ends": b"/x end-x\n404 end-404\n",
    "regs": b"^/st.*/([0-9]+)$ reg-status\n^/echo re-echo\n",
    "ints": b"1:10 small\n11: big\n5 five\n",
    "nets": b"127.0.0.0/8 loop\n127.0.0.2/32 two\n10.0.0.0/8 ten\n",
    "weights": b"example.test 5\nother.test 7\n",
}
row(
    "maps-and-dynamic-use-backend",
    ("use_backend", "conv:map", "conv:map_str", "conv:map_beg", "conv:map_sub", "conv:map_dom",
     "conv:map_dir", "conv:map_end", "conv:map_reg", "conv:map_int", "conv:map_ip",
     "conv:map_str_int"),
    # Map lookups as HAProxy makes them (exact, longest prefix, longest IPv4 network,
    # else the first line that matches; a default or nothing), and `use_backend
    # %[…]` choosing a backend by name: a name that is no backend stops the rules,
    # the default backend takes the request.
    http_cfg(
        frontend="    http-request set-header X-Str %[req.hdr(host),lower,map({file:hosts},none)]\n"
        "    http-request set-header X-Beg %[path,map_beg({file:prefixes},none)]\n"
        "    http-request set-header X-Sub %[path,map_sub({file:subs})]\n"
        "    http-request set-header X-Dom %[req.hdr(host),map_dom({file:domains},nodom)]\n"
        "    http-request set-header X-Dir %[path,map_dir({file:dirs},nodir)]\n"
        "    http-request set-header X-End %[path,map_end({file:ends},noend)]\n"
        "    http-request set-header X-Reg %[path,map_reg({file:regs},noreg)]\n"
        "    http-request set-header X-Int %[req.hdr(x-n),map_int({file:ints},noint)]\n"
        "    http-request set-header X-Ip %[src,map_ip({file:nets},noip)]\n"
        "    http-request set-header X-Weight "
        "%[req.hdr(host),lower,map_str_int({file:weights},0),add(1)]\n"
        "    use_backend %[req.hdr(x-be)] if { req.hdr(x-be) -m found }\n"
        "    use_backend %[req.hdr(host),lower,map({file:hosts})] "
        "if { req.hdr(host),lower,map({file:hosts}) -m found }\n"
        "    use_backend be3 if { path_beg /abd }\n",
        extra="backend be2\n    server s2 {s2}\nbackend be3\n    server s3 {s3}\n",
    ),
    (
        get("/echo"),
        get("/abd", host="Other.Test"),
        get("/status/404", host="dup.test"),
        get("/x", host="unknown.test", src="127.0.0.2", headers=(("X-N", "5"),)),
        get("/abd", host="gone.test", headers=(("X-N", "11"),)),
        get("/echo/dir", host="UPPER.test", headers=(("X-Be", "nosuch"), ("X-N", "0"))),
        get("/b", host="example.test", headers=(("X-Be", "be3"),)),
    ),
    files=MAP_FILES,
    kinds=ECHO_KINDS,
)  # fmt: skip

#: Runtime API answers about maps and ACLs hold what differs between the two engines
#: by construction: an entry's identifier is its address in memory (`0x…`), and the
#: row's files and config are in each side's own directory (the config's name is each
#: engine's own too).  HAProxy also lists two
#: ACLs of its internal HTTP client (`file 'httpclient'`), which balancekit has not.
PATTERN_SUBS = (
    (r"(?m)\n?^\d+ \(\) acl 'var' file 'httpclient' line 0\..*$", ""),
    (r"0x[0-9a-f]+", "0x<ptr>"),
    (r"file '[^']*' line", "file '<config>' line"),
    (r"'[^' ]*/([^/' ]+)'", r"'<dir>/\1'"),
    (r"\(/[^) ]*/([^/) ]+)\)", r"(<dir>/\1)"),
)


def cmd(line: str) -> Req:
    return Req(command=line)


row(
    "runtime-map-commands",
    ("stats socket", "use_backend", "conv:map", "conv:map_beg"),
    # `add|set|del|clear map` change the map every user reads at once: the next
    # request's `use_backend %[…,map(…)]` goes where the new entry says, and a
    # header shows the value; `show map`, `get map` and the error answers are
    # HAProxy's words (pointers masked: PATTERN_SUBS).  The map is #0: the
    # set-header loads it while parsing; map_beg on the same file is a second
    # expression (`get map` lists both, entry_cnt counts both).
    http_cfg(
        frontend="    http-request set-header X-Map %[req.hdr(host),lower,map({file:hosts},none)]\n"
        "    http-request set-header X-Beg %[req.hdr(host),map_beg({file:hosts},none)]\n"
        "    use_backend %[req.hdr(host),lower,map({file:hosts},be)]\n",
        extra="backend be2\n    server s2 {s2}\nbackend be3\n    server s3 {s3}\n",
    ),
    (
        get("/echo", host="example.test"),
        get("/echo", host="new.test"),
        cmd("show map"),
        cmd("add map #0 new.test be3"),
        get("/echo", host="New.Test"),
        cmd("get map #0 new.test"),
        cmd("set map #0 new.test be2"),
        get("/echo", host="new.test"),
        cmd("show map #0"),
        cmd("del map #0 example.test"),
        get("/echo", host="example.test"),
        cmd("del map #0 example.test"),
        cmd("add map #0 new.test be3"),
        cmd("set map #0 new.test be3"),
        cmd("show map #0"),
        get("/echo", host="new.test"),
        cmd("clear map #0"),
        get("/echo", host="new.test"),
        cmd("show map"),
        cmd("show map #0"),
        cmd("show map #1"),
        cmd("get map #0"),
        cmd("add map #0 k"),
        cmd("set map #0 k"),
        cmd("set map #0 #0x1 v"),
        cmd("set map #0 #0xzz v"),
        cmd("set map #0 nosuch v"),
        cmd("del map #0 #0x1"),
        cmd("del map #0"),
        cmd("clear map"),
        cmd("get map " + "/nonexistent/file x"),
    ),
    files={"hosts": b"# host to backend\nexample.test be2\nother.test be3\n"},
    command_subs=PATTERN_SUBS,
    kinds=ECHO_KINDS,
)
row(
    "runtime-acl-commands",
    ("stats socket", "acl", "flag:-f", "action:deny", "use_backend", "conv:map"),
    # `add|del|clear acl` change an ACL's patterns at once, for a `-f` file as for
    # the line's own patterns (each its own reference: the file's first, `show acl`
    # numbers them so); a map only `use_backend %[…]` names is loaded after parsing,
    # so it comes last (#6: HAProxy's HTTP client took #4 and #5 in between) and
    # `add acl` refuses it as a two-column file.
    http_cfg(
        frontend="    acl blocked src -f {file:blocked}\n"
        "    acl api path_beg -f {file:paths} /inline\n"
        "    http-request deny if blocked\n"
        "    use_backend be2 if api\n"
        "    use_backend %[req.hdr(host),lower,map({file:hosts},be)]\n",
        extra="backend be2\n    server s2 {s2}\nbackend be3\n    server s3 {s3}\n",
    ),
    (
        get("/api/x"),
        get("/inline/y"),
        cmd("show acl"),
        cmd("show map"),
        cmd("add acl #2 /api"),
        get("/api/x"),
        cmd("get acl #2 /api/x"),
        cmd("get acl #3 /api/x"),
        cmd("add acl #0 127.0.0.0/8"),
        get("/echo"),
        cmd("show acl #0"),
        cmd("del acl #0 127.0.0.0/8"),
        get("/echo"),
        cmd("add acl #3 /other"),
        get("/other"),
        cmd("show acl #3"),
        cmd("clear acl #2"),
        get("/api/x"),
        cmd("del acl #2 /nosuch"),
        cmd("add acl #0 not-an-address"),
        cmd("add acl #6 /x"),
        cmd("add map #6 other.test be3"),
        get("/echo", host="other.test"),
        cmd("show acl #6"),
        cmd("show map #6"),
        cmd("del acl #1"),
        cmd("get acl #9 x"),
        cmd("show acl"),
    ),
    files={"blocked": b"10.9.9.9\n", "paths": b"/listed\n", "hosts": b"example.test be\n"},
    command_subs=PATTERN_SUBS,
    kinds=ECHO_KINDS,
)

row(
    "runtime-map-acl-lookups",
    ("stats socket", "conv:map_ip", "conv:map_int", "conv:map_reg", "conv:map_str_ip",
     "match:sub", "match:len", "match:reg", "match:ip", "match:dir", "flag:-i"),
    # `get map|acl` per match method (the index each names, the key or pattern found,
    # the value's type), entries added at run time found by the next lookup, and the
    # refusals of a key or value a method cannot read.  Left out: regex errors (their
    # text is PCRE's in HAProxy, Python's here) and a pattern-less match (`TRUE`, `get
    # acl #11 1`), whose `idx=` HAProxy reads from a shared static pattern's leftover
    # flags (the last match's), so it answers `tree` or `list` by history.
    http_cfg(
        frontend="    http-request set-header X-Ip %[src,map_ip({file:ip},none)]\n"
        "    http-request set-header X-Int %[req.hdr(x-n),map_int({file:int},none)]\n"
        "    http-request set-header X-Reg %[path,map_reg({file:reg},none)]\n"
        "    http-request set-header X-Sip %[req.hdr(host),map_str_ip({file:sip},0.0.0.0)]\n"
        "    acl a1 path -i -f {file:paths}\n"
        "    acl a2 req.hdr(x) -m sub foo bar\n"
        "    acl a3 req.hdr(x) -m len 3:5\n"
        "    acl a4 path_reg ^/x\n"
        "    acl a5 src 10.0.0.0/8 ::1\n"
        "    http-request set-header X-Acl %[str(yes)] if a1 || a2 || { path_dir xx } || TRUE\n",
    ),
    (
        cmd("show map"),
        cmd("show acl"),
        cmd("get map #0 10.1.1.1"),
        cmd("get map #0 nope"),
        cmd("add map #0 bad x"),
        cmd("add map #0 127.0.0.0/8 loop"),
        cmd("get map #0 127.0.0.1"),
        cmd("add map #0 ::1 six"),
        cmd("get map #0 ::1"),
        cmd("get map #1 3"),
        cmd("get map #1 x"),
        cmd("add map #1 zz v"),
        cmd("add map #1 7 seven"),
        cmd("get map #1 7"),
        cmd("get map #2 /abc"),
        cmd("get map #3 example.test"),
        cmd("add map #3 b notip"),
        cmd("set map #3 example.test 10.0.0.2"),
        cmd("get map #3 example.test"),
        get("/abc", headers=(("X-N", "7"),)),
        cmd("get acl #4 /foo"),
        cmd("get acl #5 /foo"),
        cmd("get acl #6 xfoox"),
        cmd("get acl #7 abcd"),
        cmd("get acl #8 /x"),
        cmd("get acl #9 ::1"),
        cmd("get acl #9 10.2.3.4"),
        cmd("add acl #7 zz"),
        cmd("add acl #9 not-an-address"),
        cmd("get acl #10 /a/xx/b"),
        cmd("get acl #11 x"),
        cmd("show acl"),
    ),
    files={"ip": b"10.0.0.0/8 ten\n", "int": b"1:5 small\n", "reg": b"^/a re\n",
           "sip": b"example.test 10.0.0.1\n", "paths": b"/Foo\n"},
    command_subs=PATTERN_SUBS,
    kinds=ECHO_KINDS,
)  # fmt: skip

#: (match, the input, a key it finds) for each map match method.
MAP_KINDS = (
    ("str", "req.hdr(x-s)", "a.b/c"), ("beg", "req.hdr(x-s)", "a.b"),
    ("sub", "req.hdr(x-s)", "b/"), ("dir", "req.hdr(x-s)", "c"), ("dom", "req.hdr(x-s)", "a"),
    ("end", "req.hdr(x-s)", "/c"), ("reg", "req.hdr(x-s)", "^a[.]"),
    ("int", "req.hdr(x-n)", "7"), ("ip", "src", "127.0.0.0/8"),
)  # fmt: skip
row(
    "map-output-types",
    tuple(f"conv:map_{m}_{out}" for m, _, _ in MAP_KINDS for out in ("int", "ip")),
    # Each match method with integer and address values (checked as the file
    # loads), their defaults, and arithmetic on the integer one.
    http_cfg(
        frontend="".join(
            f"    http-request set-header X-{m}-int %[{sample},map_{m}_int({{file:{m}i}},-1),"
            "add(1)]\n"
            f"    http-request set-header X-{m}-ip %[{sample},map_{m}_ip({{file:{m}a}},"
            "192.0.2.1)]\n"
            for m, sample, _ in MAP_KINDS
        )
    ),
    (
        get("/echo", headers=(("X-S", "a.b/c"), ("X-N", "7"))),
        get("/echo", src="127.0.0.3", headers=(("X-S", "zz"), ("X-N", "8"))),
    ),
    files={
        **{f"{m}i": f"{key} {n}\n".encode() for n, (m, _, key) in enumerate(MAP_KINDS)},
        **{f"{m}a": f"{key} 10.0.0.{n}\n".encode() for n, (m, _, key) in enumerate(MAP_KINDS)},
    },
    kinds=ECHO_KINDS,
)
row(
    "constants-and-global-variables",
    ("set-var", "set-var-fmt", "fetch:str", "fetch:int", "fetch:bool", "fetch:bin",
     "fetch:ipv4", "fetch:ipv6", "fetch:meth"),
    # The constant fetches (each read as its type: arithmetic on int, a hex string
    # of bin, addresses masked), and process-wide variables set in `global`.
    http_cfg(
        global_="    set-var proc.answer int(41),add(1)\n"
        "    set-var-fmt proc.greeting hello-%[str(world)]\n"
        "    set-var proc.flag bool(true)\n",
        frontend="    http-request set-header X-Str %[str(a_b)]/%[str()]\n"
        "    http-request set-header X-Int %[int(-5),mul(3)]\n"
        "    http-request set-header X-Bool %[bool(false)]/%[bool(1)]\n"
        "    http-request set-header X-Bin %[bin(00ff10),hex]/%[bin(414243)]\n"
        "    http-request set-header X-Ip %[ipv4(10.1.2.3),ipmask(8)]/%[ipv6(2001:db8::1)]\n"
        "    http-request set-header X-Meth %[meth(PURGE)]\n"
        "    http-request set-header X-Proc %[var(proc.answer)]:%[var(proc.greeting)]:"
        "%[var(proc.flag)]\n",
    ),
    (get("/echo"),),
    kinds=ECHO_KINDS,
)  # fmt: skip
row(
    "converters-with-variables",
    ("conv:concat", "conv:add_item", "conv:strcmp", "conv:add", "conv:mul", "conv:sub"),
    # Converters reading variables when they run: arithmetic operands (a string one
    # read as a number, a missing one: no sample), concat and add_item around a set,
    # missing or empty variable, strcmp against one.
    http_cfg(
        frontend="    http-request set-var(txn.n) req.hdr(x-n)\n"
        "    http-request set-var(txn.s) req.hdr(x-s)\n"
        "    http-request set-var(txn.e) str()\n"
        "    http-request set-header X-Add %[int(10),add(txn.n)]\n"
        "    http-request set-header X-Mul %[int(3),mul(txn.s)]\n"
        "    http-request set-header X-Sub %[int(3),sub(txn.none)]\n"
        "    http-request set-header X-Concat %[str(x),concat(<,txn.s,>)]\n"
        "    http-request set-header X-Concat-None %[str(x),concat(<,txn.none,>)]\n"
        "    http-request set-header X-Item %[req.hdr(x-i),add_item(-,txn.s,!)]\n"
        "    http-request set-header X-Item-Empty %[req.hdr(x-i),add_item(-,txn.e)]\n"
        "    http-request set-header X-Item-None %[str(),add_item(-,txn.s)]\n"
        "    http-request set-header X-Cmp %[req.hdr(x-c),strcmp(txn.s)]\n",
    ),
    (
        get("/echo", headers=(("X-N", "5"), ("X-S", "abc"), ("X-I", "a"), ("X-C", "abd"))),
        get("/echo", headers=(("X-N", "x"), ("X-S", "abcd"), ("X-I", ""), ("X-C", "ab"))),
        get("/echo", headers=(("X-C", "abc"),)),
    ),
    kinds=ECHO_KINDS,
)


# -- request bodies in rules, early hints -------------------------------------------------


def chunked(*parts: bytes) -> bytes:
    """A chunked body of these chunks (sent with `Transfer-Encoding: chunked`)."""
    return b"".join(b"%x\r\n%b\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


TE_CHUNKED = (("Transfer-Encoding", "chunked"),)
FORM = (("Content-Type", "application/x-www-form-urlencoded"),)
_BODY_HEADERS = (
    "    http-request set-header X-Len %[req.body_len]\n"
    "    http-request set-header X-Size %[req.body_size]\n"
)

# `http-request wait-for-body`: the rules after it read the body (`req.body`,
# `req.body_len`, `req.body_size`, `req.body_param`), content-length or chunked;
# a request without one goes on at once; the server still gets the whole body.
row(
    "wait-for-body",
    (
        "action:wait-for-body",
        "fetch:req.body",
        "fetch:req.body_len",
        "fetch:req.body_size",
        "fetch:req.body_param",
    ),
    http_cfg(
        frontend="    http-request wait-for-body time 2s if METH_POST\n"
        + _BODY_HEADERS
        + "    http-request set-header X-User %[req.body_param(user)]\n"
        "    http-request set-header X-Any %[req.body_param]\n"
        "    http-request set-header X-Body %[req.body]\n"
        "    http-request deny deny_status 400 if { req.body_param(user) -m str root }\n"
        "    http-request return status 200 content-type text/plain "
        'lf-string "rpc %[req.body_len]\\n" if { req.body -m sub jsonrpc }\n',
    ),
    (
        Req("/echo", method="POST", body=b"user=alice&x=1;y=2", headers=FORM),
        Req("/echo", method="POST", body=chunked(b"x=9&us", b"er=bob"), headers=TE_CHUNKED),
        Req("/echo", method="POST", body=b"user=root", headers=FORM),
        Req("/echo", method="POST", body=b'{"jsonrpc":"2.0","method":"sum"}'),
        get("/echo"),
        Req("/echo", method="POST", body=b"", headers=(("Content-Length", "0"),)),
    ),
    kinds=ECHO_KINDS,
)
# A body bigger than the buffer: the rules see what fits (tune.bufsize less
# tune.maxrewrite less the head, as HAProxy's HTX buffer holds it) and the server
# gets all of it; `at-least` stops the wait once that much is in.
row(
    "wait-for-body-bigger-than-buffer",
    ("action:wait-for-body", "fetch:req.body_len", "fetch:req.body_size"),
    http_cfg(
        frontend="    http-request wait-for-body time 2s at-least 10 if { path /least }\n"
        "    http-request wait-for-body time 2s\n"
        "    http-request set-header X-Len %[req.body_len]\n"
        "    http-request set-header X-Size %[req.body_size] "
        "if !{ hdr(transfer-encoding) -m found }\n"
        "    http-request deny deny_status 413 if { req.body_size gt 50000 }\n",
    ),
    (
        Req("/echo", method="POST", body=b"a" * 40000),
        Req("/echo", method="POST", body=chunked(b"b" * 20000, b"c" * 20000), headers=TE_CHUNKED),
        Req("/least", method="POST", body=b"d" * 30000),
        Req("/echo", method="POST", body=b"e" * 60000, check_close=True),
    ),
    kinds=ECHO_KINDS,
)
# A body that does not arrive in time: 408, the connection closed, logged `cD`;
# with `at-least`, the bytes that came are enough.
row(
    "wait-for-body-slow",
    ("action:wait-for-body", "fetch:req.body_len"),
    http_cfg(
        global_="    log {log} format raw local0\n",
        defaults="    log global\n",
        frontend='    log-format "%ST %tsc %b/%s %TR"\n'
        "    http-request wait-for-body time 300ms at-least 4 if { path /least }\n"
        "    http-request wait-for-body time 300ms unless { path /least }\n"
        "    http-request return status 200 content-type text/plain "
        'lf-string "len=%[req.body_len]\\n"\n',
    ),
    (
        Req(raw=b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\nabcde"),
        Req(raw=b"POST /least HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\nabcde"),
        # The rest comes in time: the whole body, and %TR counts the wait.
        Req(
            raw=b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n"
            b"Connection: close\r\n\r\nabc",
            then=b"defgh",
            pause=0.15,
        ),
    ),
    kinds=RAW_KIND,
    # The pause is 150 ms, give or take the scheduler on either side; no pause: 0 or 1 ms.
    log_subs=((r" (1[4-9]|2\d)\d$", " ~150"), (r" \d$", " ~0")),
)
# `option http-buffer-request`: the body is waited for before the proxy's rules (a
# frontend's: before its own; a backend's: as the request enters it), for
# `timeout http-request`; then 408 as above.
row(
    "option-http-buffer-request",
    ("option http-buffer-request", "fetch:req.body_len", "fetch:req.body_size"),
    http_cfg(
        global_="    log {log} format raw local0\n",
        defaults="    log global\n",
        frontend='    log-format "%ST %tsc %b/%s"\n'
        "    use_backend buffered if { path_beg /echo/b }\n"
        "    http-request set-header X-Fe-Len %[req.body_len]\n",
        backend="    http-request set-header X-Be-Len %[req.body_len]\n",
        extra="backend buffered\n    option http-buffer-request\n"
        "    timeout http-request 300ms\n"
        "    http-request set-header X-Be-Len %[req.body_len]\n"
        "    server s1 {s1}\n"
        "listen whole\n    bind {bind:whole}\n    option http-buffer-request\n"
        "    timeout http-request 300ms\n" + _BODY_HEADERS + "    server s1 {s1}\n",
    ),
    (
        Req("/echo/b", method="POST", body=b"x=1"),
        Req("/echo", method="POST", body=b"x=12", bind="whole"),
        Req("/echo", method="POST", body=chunked(b"ab", b"cd"), headers=TE_CHUNKED, bind="whole"),
        Req(
            raw=b"POST /echo/b HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\nabcde",
        ),
        Req(raw=b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\nab", bind="whole"),
    ),
    kinds=RAW_KIND,
)
# `http-request early-hint`: a `103 Early Hints` before the answer; a run of
# unconditional early-hint rules makes one response, a conditional rule starts
# another; none for an HTTP/1.0 client; sent before a deny too.
row(
    "early-hint",
    ("action:early-hint",),
    http_cfg(
        frontend='    http-request early-hint Link "</style.css>; rel=preload; as=style"\n'
        '    http-request early-hint link "</app.js>; rel=preload; as=script"\n'
        "    http-request early-hint X-Path %[path] if { path_beg /echo/two }\n"
        "    http-request deny if { path /echo/deny }\n"
        '    http-request early-hint link "<%[req.hdr(x-cdn)]>; rel=preconnect" '
        "if { req.hdr(x-cdn) -m found }\n",
    ),
    (
        get("/echo"),
        get("/echo/two"),
        get("/echo/deny"),
        get("/echo", headers=(("X-CDN", "https://cdn.test"),)),
        get("/echo", version="HTTP/1.0"),
    ),
    kinds=ECHO_KINDS,
)
# The room follows `tune.bufsize` and `tune.maxrewrite` (as the head's does).
row(
    "wait-for-body-tune-bufsize",
    ("action:wait-for-body", "fetch:req.body_len", "tune.bufsize", "tune.maxrewrite"),
    http_cfg(
        global_="    tune.bufsize 8192\n    tune.maxrewrite 512\n",
        frontend="    http-request wait-for-body time 2s\n"
        "    http-request set-header X-Len %[req.body_len]\n",
    ),
    (
        Req("/echo", method="POST", body=b"a" * 20000, headers=(("X-Pad", "p" * 100),)),
        Req("/echo", method="POST", body=chunked(b"b" * 9000), headers=TE_CHUNKED),
        Req("/echo", method="POST", body=b"c" * 7000),
    ),
    kinds=RAW_KIND,
)
# `option abortonclose`: a client whose FIN comes with its request (one segment, read
# together), which then waits in the queue, is dropped when its turn comes: `CC`,
# status -1, nothing answered, no server sees it.  Without the option it is served; a
# FIN that comes once the request was read is not seen before the answer (HAProxy's
# HTTP/1 layer stops reading a client whose request is whole), so it is served too.
_ABORT_GET = b"GET /echo HTTP/1.1\r\nHost: example.test\r\n\r\n"
#: The FIN in the request's segment, sent once the proxy has taken the connection.
_SHUT_WITH = Req(raw=b"", then=_ABORT_GET, pause=0.1, half_close=True, corked=True)
_SHUT_LATER = Req(raw=_ABORT_GET, half_close=True, shut_after=0.2)
_ABORT_CFG = http_cfg(
    global_=LOG_GLOBAL,
    defaults="    log global\n    option httplog\n",
    backend="    option abortonclose\n    timeout queue 3s\n",
    servers="    server s1 {s1} maxconn 1\n",
)
row(
    "option-abortonclose-queue",
    ("option abortonclose", "server:maxconn", "log"),
    _ABORT_CFG,
    (
        Par((get("/sleep/900"), _SHUT_WITH), stagger=0.2),
        Par((get("/sleep/900"), _SHUT_LATER), stagger=0.2),
    ),
    log_subs=HTTPLOG_BYTES,
    # The slot frees as the first request ends: which of the two lines is written
    # first is a race, in HAProxy as in balancekit.
    log_sorted=True,
    kinds=ECHO_KINDS,
)
row(
    "option-abortonclose-off",
    ("option abortonclose", "server:maxconn", "log"),
    _ABORT_CFG.replace(
        "    option abortonclose\n", "    option abortonclose\n    no option abortonclose\n"
    ),
    (Par((get("/sleep/900"), _SHUT_WITH), stagger=0.2),),
    log_subs=HTTPLOG_BYTES,
    log_sorted=True,
    kinds=ECHO_KINDS,
)
# `option httpslog`: httplog's line plus the connection's and TLS layer's facts, on a
# TLS bind and a plain one (no TLS: those samples are `-`).
row(
    "option-httpslog",
    (
        "option httpslog",
        "log",
        "fetch:fc_err",
        "fetch:ssl_fc_err",
        "fetch:ssl_c_err",
        "fetch:ssl_c_ca_err",
        "fetch:ssl_fc_is_resumed",
        "fetch:ssl_fc_sni",
    ),
    GLOBAL
    + LOG_GLOBAL
    + DEFAULTS
    + "    log global\n    option httpslog\n"
    + "frontend fe\n    bind {bind:main}\n    bind {bind:tls} ssl crt {crt}\n"
    + "    default_backend be\nbackend be\n    server s1 {s1}\n",
    (
        get("/echo"),
        get("/echo", bind="tls", tls=True, sni="example.test"),
        get("/echo", bind="tls", tls=True, tls_max="TLSv1_2", tls_verify=False, sni=None),
    ),
    log_subs=HTTPLOG_BYTES,
    kinds=ECHO_KINDS,
)
# httpslog's TLS samples alone (in the line, `0/0/0/0/0` reads as timers to the runner).
row(
    "log-format-tls-errors",
    (
        "log-format",
        "fetch:fc_err",
        "fetch:ssl_fc_err",
        "fetch:ssl_c_err",
        "fetch:ssl_c_ca_err",
        "fetch:ssl_fc_is_resumed",
        "conv:hex",
    ),
    GLOBAL
    + LOG_GLOBAL
    + DEFAULTS
    + "    log global\n"
    + '    log-format "e=%[fc_err] f=%[ssl_fc_err,hex] c=%[ssl_c_err] a=%[ssl_c_ca_err] '
    + 'r=%[ssl_fc_is_resumed] s=%[ssl_fc_sni]"\n'
    + "frontend fe\n    bind {bind:main}\n    bind {bind:tls} ssl crt {crt}\n"
    + "    default_backend be\nbackend be\n    server s1 {s1}\n",
    (get("/echo"), get("/echo", bind="tls", tls=True, sni="example.test")),
    kinds=RAW_KIND,
)
# The last log format line wins: `option httpslog` replaces a `log-format` above it,
# and `option httplog` or a `log-format` below it replace it.
row(
    "option-httpslog-last-wins",
    ("option httpslog", "log-format", "option httplog", "log"),
    GLOBAL
    + LOG_GLOBAL
    + DEFAULTS
    + "    log global\n    log-format %ST\n    option httpslog\n"
    + "frontend fe\n    bind {bind:main}\n    default_backend be\n"
    + "frontend fe2\n    bind {bind:two}\n    option httpslog\n    log-format %ST-%HM\n"
    + "    default_backend be\n"
    + "frontend fe3\n    bind {bind:three}\n    option httplog\n    default_backend be\n"
    + "backend be\n    server s1 {s1}\n",
    (get("/echo"), get("/echo", bind="two"), get("/echo", bind="three")),
    log_subs=HTTPLOG_BYTES,
    kinds=RAW_KIND,
)
# `option http-pretend-keepalive`: the server side still closes after each answer
# (`http-server-close`, `httpclose`), but its requests do not say so.
for _mode in ("http-server-close", "httpclose"):
    row(
        f"option-http-pretend-keepalive-{_mode}",
        ("option http-pretend-keepalive", f"option {_mode}"),
        http_cfg(backend=f"    option {_mode}\n    option http-pretend-keepalive\n"),
        (
            get("/echo", conn="a"),
            get("/echo", conn="a", version="HTTP/1.0", headers=(("Connection", "keep-alive"),)),
            get("/echo", version="HTTP/1.0"),
            get("/echo", headers=(("Connection", "close"),)),
        ),
        kinds=ECHO_KINDS,
    )
row(
    "option-http-pretend-keepalive-off",
    ("option http-pretend-keepalive", "option http-server-close"),
    http_cfg(
        defaults="    option http-pretend-keepalive\n",
        backend="    option http-server-close\n    no option http-pretend-keepalive\n",
    ),
    (get("/echo"), get("/echo", version="HTTP/1.0")),
    kinds=RAW_KIND,
)
# `option disable-h2-upgrade`: HTTP/2's preface on an HTTP/1 bind is a bad request, as
# the method `PRI` always is (balancekit never upgrades: without the option HAProxy
# would answer in HTTP/2, see docs/configuration.md).
row(
    "option-disable-h2-upgrade",
    ("option disable-h2-upgrade",),
    http_cfg(frontend="    option disable-h2-upgrade\n"),
    (
        Req(raw=b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        Req(raw=b"PRI /echo HTTP/1.1\r\nHost: x\r\n\r\n"),
        Req(raw=b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    ),
    kinds=RAW_KIND,
)


def _answer_with(*headers: str) -> str:
    """`/echo` answered with these `Name: value` headers (the echo backends' query)."""
    return "/echo?" + "&".join(
        "respond-header=" + quote(h.replace(": ", ":", 1), safe="") for h in headers
    )


# `option checkcache`: a cacheable answer that sets a cookie is blocked (a shared cache
# would hand that cookie to others); one that forbids caching, or its cookie, passes.
_SC = "Set-Cookie: id=7; path=/"
row(
    "option-checkcache",
    ("option checkcache", "log"),
    http_cfg(
        global_=LOG_GLOBAL,
        defaults="    log global\n    option httplog\n",
        backend="    option checkcache\n",
    ),
    (
        get(_answer_with(_SC)),
        get(_answer_with(_SC, "Cache-Control: public")),
        get(_answer_with(_SC, "Cache-Control: private")),
        get(_answer_with(_SC, "Cache-Control: max-age=60")),
        get(_answer_with(_SC, 'Cache-Control: no-cache="set-cookie"')),
        get(_answer_with(_SC, "Pragma: no-cache")),
        get(_answer_with(_SC, "Cache-Control: private", "Cache-Control: public")),
        Req(_answer_with(_SC), method="POST", body=b"x"),
        get(_answer_with(_SC).replace("/echo", "/status/302")),
        get(_answer_with(_SC).replace("/echo", "/status/404")),
        get(_answer_with("Cache-Control: public")),
    ),
    log_subs=HTTPLOG_BYTES,
    kinds=ECHO_KINDS,
)
# `option http-restrict-req-hdr-names`: after the proxy's rules, headers named with a
# byte other than a letter, a digit or `-` are deleted, or the request is refused (403);
# in a frontend before `use_backend` reads them, in a backend before forwarding.
_ODD_NAMES = (("X_A", "1"), ("X-B", "2"), ("X_C_D", "3"), ("X-E", "4"), ("X.F", "5"))
row(
    "option-http-restrict-req-hdr-names",
    ("option http-restrict-req-hdr-names", "use_backend"),
    http_cfg(
        frontend="    option http-restrict-req-hdr-names delete\n"
        "    http-request set-header X-Seen %[req.hdr(x_a)]\n"
        "    use_backend b3 if { req.hdr(x_c_d) -m found }\n",
        extra="frontend f2\n    bind {bind:two}\n    option http-restrict-req-hdr-names reject\n"
        "    default_backend be\n"
        "frontend f3\n    bind {bind:three}\n    default_backend b3\n"
        "backend b3\n    option http-restrict-req-hdr-names reject\n    server s1 {s1}\n"
        "frontend f4\n    bind {bind:four}\n    option http-restrict-req-hdr-names reject\n"
        "    option http-restrict-req-hdr-names preserve\n    default_backend be\n",
    ),
    (
        get("/echo", headers=_ODD_NAMES),
        get("/echo", headers=_ODD_NAMES, bind="two"),
        get("/echo", headers=(("X-B", "2"),), bind="two"),
        get("/echo", headers=_ODD_NAMES, bind="three"),
        get("/echo", headers=_ODD_NAMES, bind="four"),
    ),
    kinds=ECHO_KINDS,
)
