"""Request rules: `http-request`, `tcp-request`, `redirect`, `use_backend`.

Each parser takes the words after its keyword, compiles everything (conditions,
log-format strings, regexes, reply bodies) and returns a frozen rule value.  The
`Router` in `routing.py` evaluates them against a request view.  Error messages
follow HAProxy's wording where it has one, and always name `file:line`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal, cast

from .acl import AclSet, Condition
from .acl.acl import AclWarning
from .acl.fetches import (
    FetchError,
    SampleContext,
    SampleExpr,
    format_sample,
    parse_sample_expr,
    suggest,
)
from .acl.logformat import LogFormat, LogFormatError, parse_log_format
from .acl.patterns import KNOWN_METHODS, parse_ip_sample, str_to_int
from .cache import Cache
from .errors import ConfigError
from .request import Headers, Request, header_value_spans
from .status_reasons import status_reason
from .sticktables import StickTable
from .tracking import MAX_TRACKED, table_key
from .uri_normalize import NORMALIZERS, normalize
from .variables import VarError, VarName, parse_var_spec

__all__ = [
    "ADDRESS_ACTIONS",
    "HEADER_ACTIONS",
    "LINE_ACTIONS",
    "STREAM_ACTIONS",
    "TABLE_ACTIONS",
    "VAR_ACTIONS",
    "HeaderEdit",
    "HttpRule",
    "InspectDelay",
    "Redirect",
    "TcpRule",
    "UseBackend",
    "apply_header_edits",
    "parse_cache_rule",
    "parse_http_request_rule",
    "parse_keyed_rule",
    "parse_redirect",
    "parse_tcp_request_rule",
    "parse_tcp_response_rule",
    "parse_use_backend",
    "response_verdict",
]

#: Status codes HAProxy has a built-in error page for (http.c's http_err_codes).
DEFAULT_ERROR_CODES = frozenset(
    {200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 421, 422, 425, 429, 500, 501, 502, 503, 504}
)
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})

HTTP_ACTIONS = (
    "allow",
    "deny",
    "reject",
    "redirect",
    "return",
    "set-header",
    "add-header",
    "del-header",
    "replace-header",
    "replace-value",
    "set-method",
    "set-path",
    "set-pathq",
    "set-query",
    "set-uri",
    "replace-path",
    "replace-pathq",
    "replace-uri",
    "set-var",
    "set-var-fmt",
    "unset-var",
    "auth",
    "track-sc0",
    "track-sc1",
    "track-sc2",
    "sc-inc-gpc0",
    "sc-inc-gpc1",
    "sc-set-gpt0",
    "sc-inc-gpc",
    "sc-set-gpt",
    "cache-use",
    "set-log-level",
    "capture",
    "set-src",
    "set-src-port",
    "set-dst",
    "set-dst-port",
    "normalize-uri",
    "tarpit",
)
#: The syslog levels `set-log-level` takes (log.c's log_levels), and "silent".
LOG_LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "silent")
#: The actions that edit the message's headers and let the rules go on.
HEADER_ACTIONS = frozenset(
    ("set-header", "add-header", "del-header", "replace-header", "replace-value")
)
#: The actions that rewrite the request line and let the rules go on.
LINE_ACTIONS = frozenset(
    ("set-method", "set-path", "set-pathq", "set-query", "set-uri", "replace-path",
     "replace-pathq", "replace-uri")
)  # fmt: skip
#: The actions that set or clear a variable and let the rules go on.
VAR_ACTIONS = frozenset(("set-var", "set-var-fmt", "unset-var"))
#: The actions that only change the stream's state (variables, log level, capture
#: slots) and let the rules go on, on a request or on its answer alike.
STREAM_ACTIONS = VAR_ACTIONS | {"set-log-level", "capture"}
#: The actions that change the connection's addresses, for this request and the
#: next ones on the connection, and let the rules go on.
ADDRESS_ACTIONS = frozenset(("set-src", "set-src-port", "set-dst", "set-dst-port"))
#: The actions that change stick-table entries and let the rules go on.
TABLE_ACTIONS = frozenset(
    ("track-sc0", "track-sc1", "track-sc2", "sc-inc-gpc0", "sc-inc-gpc1", "sc-set-gpt0",
     "sc-inc-gpc", "sc-set-gpt")
)  # fmt: skip
#: http-request actions HAProxy 2.6 has but balancekit does not implement.
HTTP_ACTIONS_UNSUPPORTED = frozenset((
    "add-acl", "del-acl", "del-map", "disable-l7-retry",
    "do-resolve", "early-hint", "send-spoe-group",
    "set-map", "set-mark", "set-nice", "set-priority-class",
    "set-priority-offset", "set-timeout", "set-tos",
    "silent-drop", "strict-mode",
    "unset-var", "wait-for-body", "wait-for-handshake",
))  # fmt: skip
#: `http-request use-service <name>`: the services balancekit provides (H6: stats_page).
HTTP_SERVICES = ("prometheus-exporter",)
TCP_ACTIONS = ("accept", "reject")
TCP_ACTIONS_UNSUPPORTED = frozenset((
    "capture", "do-resolve", "expect-netscaler-cip", "expect-proxy", "sc-inc-gpc0",
    "sc-inc-gpc1", "sc-set-gpt0", "send-spoe-group", "set-dst", "set-dst-port", "set-log-level",
    "set-mark", "set-nice", "set-priority-class", "set-priority-offset", "set-src",
    "set-src-port", "set-tos", "silent-drop", "switch-mode", "use-service",
))  # fmt: skip
#: `tcp-response content` actions: the final ones HAProxy knows itself.
TCP_RESPONSE_ACTIONS = ("accept", "reject", "close")
#: tcp-response content actions HAProxy 2.6 has but balancekit does not implement.
TCP_RESPONSE_ACTIONS_UNSUPPORTED = frozenset((
    "sc-inc-gpc", "sc-inc-gpc0", "sc-inc-gpc1", "sc-set-gpt", "sc-set-gpt0", "send-spoe-group",
    "set-log-level", "set-mark", "set-nice", "set-tos", "set-var", "set-var-fmt", "silent-drop",
    "unset-var",
))  # fmt: skip
HEADER_MATCHES = ("str", "beg", "end", "sub", "reg")


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class HeaderEdit:
    """One header change for a forwarded message, applied in order.

    `op` is set (replace every occurrence), add (append one), del (remove every
    header whose name matches `name` under `match`; `reg` uses `regex`), or
    replace-header / replace-value: where `regex` finds a match in a line's whole
    value (replace-header) or in one of its comma-separated values
    (replace-value), that value becomes `value` with `\\N` and `\\xHH` expanded
    from the match, as HAProxy's exp_replace does (the rest of the value is not
    kept: the pattern usually captures it).
    """

    op: Literal["set", "add", "del", "replace-header", "replace-value"]
    name: str
    value: str = ""
    match: str = "str"
    regex: re.Pattern[str] | None = None

    def matches_name(self, header: str) -> bool:
        """Does a (lower-case) header name fall under this edit?"""
        wanted = self.name.lower()
        if self.match == "str":
            return header == wanted
        if self.match == "beg":
            return header.startswith(wanted)
        if self.match == "end":
            return header.endswith(wanted)
        if self.match == "sub":
            return wanted in header
        return self.regex is not None and self.regex.search(header) is not None

    def replaced(self, value: str) -> str | None:
        """`value` rewritten by a replace-header edit, or None where `regex` finds
        nothing in it."""
        assert self.regex is not None
        found = self.regex.search(value)
        return None if found is None else expand_replacement(self.value, found)


def expand_replacement(template: str, found: re.Match[str]) -> str:
    """HAProxy's exp_replace: `\\N` is group N (empty when it did not take part),
    `\\xHH` a byte, `\\c` the character c; the rest is literal."""
    out: list[str] = []
    i, n = 0, len(template)
    while i < n:
        ch = template[i]
        i += 1
        if ch != "\\" or i >= n:
            out.append(ch)
            continue
        ch = template[i]
        i += 1
        if ch.isdigit():
            number = int(ch)
            group = found.group(number) if number <= (found.re.groups or 0) else None
            out.append(group or "")
        elif ch == "x" and i + 2 <= n:
            out.append(chr(int(template[i : i + 2], 16)))
            i += 2
        else:
            out.append(ch)
    return "".join(out)


def _replace_values(edit: HeaderEdit, line: str) -> str:
    """A line after replace-value: each value the regex finds a match in is
    rewritten, the spaces around it dropped (HAProxy replaces the value with its
    surrounding whitespace); the commas and the other values stay as they were."""
    out: list[str] = []
    last = 0
    for start, end, begin, stop in header_value_spans(line):
        rewritten = edit.replaced(line[begin:stop])
        if rewritten is not None:
            out += (line[last:start], rewritten)
            last = end
    out.append(line[last:])
    return "".join(out)


def apply_header_edits(headers: Headers, edits: Sequence[HeaderEdit]) -> Headers:
    """The headers after `edits`, in order; front ends call this before forwarding."""
    items = list(headers.items)
    for edit in edits:
        op = edit.op
        if op == "add":
            items.append((edit.name, edit.value))
            continue
        if op in ("replace-header", "replace-value"):
            wanted = edit.name.lower()
            for at, (key, value) in enumerate(items):
                if key.lower() != wanted:
                    continue
                if op == "replace-value":
                    items[at] = (key, _replace_values(edit, value))
                else:
                    rewritten = edit.replaced(value)
                    if rewritten is not None:
                        items[at] = (key, rewritten)
            continue
        # (names added by earlier edits keep their spelling: compare lower-cased)
        items = [(k, v) for k, v in items if not edit.matches_name(k.lower())]
        if op == "set":
            items.append((edit.name, edit.value))
    return Headers(items)


@dataclass(frozen=True, slots=True)
class Redirect:
    """A redirect: `location`, `prefix` or `scheme`, with its options.

    A standalone `redirect` statement takes its target literally; `http-request
    redirect` takes a log-format string.  Both are a `LogFormat` here.
    """

    kind: Literal["location", "prefix", "scheme"]
    target: LogFormat
    code: int = 302
    drop_query: bool = False
    append_slash: bool = False
    set_cookie: str | None = None

    def location(self, request: Request) -> str:
        """The Location header for this request (http_apply_redirect_rule)."""
        if self.kind == "location":
            return self.target.render(request)
        path = _uri_path(request.uri)
        if self.drop_query:
            path = path.split("?", 1)[0]
        if self.kind == "prefix":
            prefix = "" if self.target.text == "/" else self.target.render(request)
            out = prefix + path
        else:
            host = request.headers.first_value("host") or ""
            out = f"{self.target.render(request)}://{host}{path}"
        if self.append_slash and out and not out.endswith("/"):
            out += "/"
        return out


def split_target(uri: str) -> tuple[str, str, str]:
    """A request target as (scheme and authority, path, `?query`): the authority
    part is empty for an origin-form target, the query part empty without a `?`."""
    authority = ""
    if not uri.startswith("/"):
        scheme, sep, rest = uri.partition("://")
        if sep and "/" not in scheme:
            cut = min((at for at in (rest.find("/"), rest.find("?")) if at >= 0), default=-1)
            cut = len(rest) if cut < 0 else cut
            authority = uri[: len(scheme) + 3 + cut]
            uri = rest[cut:]
    path, mark, query = uri.partition("?")
    return authority, path, mark + query


def _uri_path(uri: str) -> str:
    """The path (with query) of a request target, for origin or absolute form."""
    if uri.startswith("/"):
        return uri
    scheme, sep, rest = uri.partition("://")
    if sep and "/" not in scheme:
        slash = rest.find("/")
        if slash >= 0:
            return rest[slash:]
        query = rest.find("?")
        return "/" + rest[query:] if query >= 0 else "/"
    return "/"


@dataclass(frozen=True, slots=True)
class HttpRule:
    """One `http-request …` rule (or a standalone `redirect`, flagged `standalone`).

    Only the fields the action uses are set.  `body` is None when the reply uses
    the default error page for `status`, a string for a static payload, or a
    `LogFormat` for `lf-string`.
    """

    action: str
    cond: Condition | None = None
    file: str = "<string>"
    line: int = 0
    status: int = 0
    header: str = ""
    value: LogFormat | None = None
    header_match: str = "str"
    header_regex: re.Pattern[str] | None = None
    content_type: str | None = None
    body: str | LogFormat | None = None
    reply_headers: tuple[tuple[str, LogFormat], ...] = ()
    redirect: Redirect | None = None
    standalone: bool = False
    realm: str | None = None
    #: `track-scN` / `sc-*(N)`: the counter N, the key (track) or the value
    #: (`sc-set-gpt0`, an int or an expression), and the table tracked into.
    counter: int = 0
    sample: SampleExpr | None = None
    number: int = 0
    table: StickTable | None = None
    #: The array element of `sc-inc-gpc(idx,N)` / `sc-set-gpt(idx,N)`.
    index: int = 0
    #: `set-status <code> reason <text>`: the reason phrase (None: the code's own).
    reason: str | None = None
    #: `set-var(<name>,<conditions>)` / `unset-var(<name>)`: the variable (the value
    #: is `sample`, or `value` for `set-var-fmt`).
    variable: VarName | None = None
    conditions: tuple[str, ...] = ()
    #: `cache-use <name>` / `cache-store <name>`: the cache section.
    cache: Cache | None = None
    #: A reply's whole HTTP message (`errorfile`, `errorfiles`), sent as is.
    raw_reply: bytes | None = None
    #: `set-log-level <level>`: one of LOG_LEVELS.
    level: str = ""

    def move(self, request: Request) -> Request:
        """`set-src`, `set-dst` (and their `-port`): the request as seen from the
        address (or port) the sample gives, cast as HAProxy casts it; a sample that
        is none leaves it as it was.  An address keeps its port."""
        assert self.sample is not None
        value = self.sample.single(request)
        if value is None:
            return request
        if self.action.endswith("-port"):
            port = value if isinstance(value, int) else str_to_int(format_sample(value))
            if port is None or not 0 <= port <= 65535:
                return request
            if self.action == "set-src-port":
                return replace(request, src_port=port)
            return replace(request, dst_port=port)
        address = value if isinstance(value, tuple) else parse_ip_sample(format_sample(value))
        if address is None:
            return request
        version, number = cast(tuple[int, int], address)
        text = str(ipaddress.IPv4Address(number) if version == 4 else ipaddress.IPv6Address(number))
        if self.action == "set-src":
            return replace(request, src=text)
        return replace(request, dst=text)

    def on_stream(self, request: Request, *, response: bool = False) -> None:
        """Run a STREAM_ACTIONS rule; `response`: on the answer (its capture slots)."""
        if self.action == "set-log-level":
            self.set_log_level(request)
        elif self.action == "capture":
            self.capture(request, response=response)
        else:
            self.store_var(request)

    def capture(self, request: Request, *, response: bool = False) -> None:
        """`capture <sample> len|id`: the sample as text, cut to the slot's length,
        into slot `index` (nothing found: the slot stays as it was)."""
        stream = request.stream
        if stream is None or self.sample is None:
            return
        slots = stream.response_captures if response else stream.request_captures
        if slots is None or not 0 <= self.index < len(slots):
            return
        value = self.sample.single(request)
        if value is not None:
            slots[self.index] = format_sample(value)[: self.number]

    def set_log_level(self, request: Request) -> None:
        """`set-log-level`: the stream's line goes out at this level (none without a
        stream: the builder gives every stream one when a rule sets its level)."""
        if request.stream is not None:
            request.stream.log_level = self.level

    def applies(self, request: Request) -> bool:
        return self.cond is None or self.cond.matches(request)

    def header_edit(self, request: Request) -> HeaderEdit:
        """The edit a set/add/del/replace-header or replace-value rule makes for
        this request (or response: `request` is then a `ResponseView`)."""
        action = self.action
        op: Literal["set", "add", "del", "replace-header", "replace-value"] = (
            "set"
            if action == "set-header"
            else "add"
            if action == "add-header"
            else "del"
            if action == "del-header"
            else action  # type: ignore[assignment]
        )
        value = self.value.render(request) if self.value is not None else ""
        return HeaderEdit(op, self.header, value, self.header_match, self.header_regex)

    def store_var(self, request: Request) -> None:
        """Run a VAR_ACTIONS rule on the stream's variables (none without a stream)."""
        stream, variable = request.stream, self.variable
        if stream is None or variable is None:
            return
        if self.action == "unset-var":
            stream.vars.unset(variable)
        elif self.value is not None:  # set-var-fmt: always a string, maybe empty
            stream.vars.set(variable, self.value.render(request), self.conditions)
        elif self.sample is not None:
            value = self.sample.single(request)
            if value is not None:  # no sample: nothing stored
                stream.vars.set(variable, value, self.conditions)

    def new_method(self, request: Request) -> tuple[str, Request]:
        """`set-method`: the method the server gets, and the view later rules read.
        HAProxy's `method` fetch keeps answering the method that came when it was
        one it knows (txn->meth), and reads the line only for another one."""
        assert self.value is not None
        method = self.value.render(request)
        if request.method in KNOWN_METHODS:
            return method, request
        return method, replace(request, method=method)

    def rewrite_line(self, request: Request) -> Request:
        """The request view after a LINE_ACTIONS rule other than `set-method`: its
        target (and so `path`, `query`, `url`) rewritten as HAProxy's
        http_req_replace_stline does; unchanged when a replace-* regex finds nothing."""
        action = self.action
        if action == "set-method":
            raise ValueError("set-method rewrites the wire's method: see `new_method`")
        authority, path, query = split_target(request.uri)
        if action.startswith("replace-"):
            subject = {"replace-path": path, "replace-pathq": path + query}.get(action, request.uri)
            assert self.header_regex is not None and self.value is not None
            found = self.header_regex.search(subject) if subject else None
            if found is None:
                return request
            text = expand_replacement(self.value.render(request), found)
            action = {"replace-path": "set-path", "replace-pathq": "set-pathq"}.get(
                action, "set-uri"
            )
        else:
            assert self.value is not None
            text = self.value.render(request)
        if action == "set-path":
            uri = authority + text + query
        elif action == "set-pathq":
            uri = authority + text
        elif action == "set-query":
            # A `?` comes (or stays) unless the new query is empty and there was none.
            uri = authority + path + ("?" + text if query or text else "")
        else:
            uri = text
        target = _uri_path(uri) if not uri.startswith("/") else uri
        new_path, _, new_query = target.partition("?")
        return replace(request, uri=uri, path=new_path, query=new_query)

    def normalized(self, request: Request) -> Request:
        """`normalize-uri`: the request view with its target normalized (an
        asterisk target has no path and stays).  Raises InvalidUri for what a
        strict normalizer refuses."""
        authority, path, query = split_target(request.uri)
        if not path.startswith("/"):
            return request
        target = normalize(self.header, path, query[1:] if query else None)
        uri = authority + target
        new_path, _, new_query = target.partition("?")
        return replace(request, uri=uri, path=new_path, query=new_query)

    def update_table(self, request: Request) -> None:
        """Run a `TABLE_ACTIONS` rule on the request's tracked counters (nothing
        without `request.stream`: no stick table in use)."""
        stream = request.stream
        if stream is None:
            return
        if self.table is not None:  # track-scN
            assert self.sample is not None
            key = table_key(self.sample.single(request))
            if key is not None:
                stream.track_http(self.counter, self.table, key)
            return
        tracked = stream.tracked(self.counter)
        if tracked is None:
            return
        table, entry = tracked
        now = stream.now_ms
        if self.action == "sc-inc-gpc0":
            table.inc_gpc0(entry, now)
        elif self.action == "sc-inc-gpc1":
            table.inc_gpc1(entry, now)
        elif self.action == "sc-inc-gpc":
            table.inc_gpc(entry, self.index, now)
        else:  # sc-set-gpt0, sc-set-gpt
            value = self.sample.single(request) if self.sample is not None else self.number
            if isinstance(value, str):  # cast to an integer as HAProxy does (c_str2int)
                value = str_to_int(value)
            if isinstance(value, int):
                if self.action == "sc-set-gpt":
                    table.set_gpt(entry, self.index, value, now)
                else:
                    table.set_gpt0(entry, value, now)

    def render_body(self, request: Request) -> str | None:
        if isinstance(self.body, LogFormat):
            return self.body.render(request)
        return self.body


@dataclass(frozen=True, slots=True)
class TcpRule:
    """`tcp-request connection|session|content accept|reject [if …]`,
    `tcp-request connection|session track-scN <key> [table T] [if …]` (`track`
    holds the counter, the key and the table), or `tcp-response content
    accept|reject|close [if …]` (stage "response", run on a `ResponseView`)."""

    stage: Literal["connection", "session", "content", "response"]
    action: Literal["accept", "reject", "track", "close", "var"]
    cond: Condition | None = None
    file: str = "<string>"
    line: int = 0
    #: `track-scN …` (action "track") or `set-var(…)`/`unset-var(…)` (action "var").
    track: HttpRule | None = None

    def applies(self, request: Request) -> bool:
        return self.cond is None or self.cond.matches(request)

    def track_key(self, request: Request) -> None:
        """Track the key: in the connection's counters for the connection and session
        stages, in the stream's for content (`request.stream` either way)."""
        track, stream = self.track, request.stream
        if track is None or stream is None or track.sample is None or track.table is None:
            return
        key = table_key(track.sample.single(request))
        if key is None:
            return
        if self.stage == "content":
            # An HTTP engine's request has no `payload` (mode tcp inspects bytes).
            stream.track_content(track.counter, track.table, key, http=request.payload is None)
        else:
            stream.track_session(track.counter, track.table, key)


@dataclass(frozen=True, slots=True)
class InspectDelay:
    """`tcp-request inspect-delay <time>`: how long content rules may wait for data."""

    milliseconds: int
    file: str = "<string>"
    line: int = 0


@dataclass(frozen=True, slots=True)
class UseBackend:
    """`use_backend <name> [if|unless …]`; a name with `%[…]` is a log-format
    (`name_format`) rendered per request, as in `use_backend
    %[req.hdr(host),lower,map(hosts.map,web)]`."""

    backend: str
    cond: Condition | None = None
    file: str = "<string>"
    line: int = 0
    name_format: LogFormat | None = None

    def applies(self, request: Request) -> bool:
        return self.cond is None or self.cond.matches(request)


# --------------------------------------------------------------------------- parsing helpers


def _condition(
    words: Sequence[str],
    at: int,
    acls: AclSet,
    what: str,
    file: str,
    line: int,
    *,
    response: bool = False,
) -> Condition | None:
    """The optional trailing condition starting at `words[at]` (`response`: it runs
    on the answer, and its anonymous ACLs may read it)."""
    if at >= len(words):
        return None
    if words[at] not in ("if", "unless"):
        raise ConfigError(
            f"'{what}' expects either 'if' or 'unless' followed by a condition but found "
            f"'{words[at]}'",
            file,
            line,
        )
    return acls.condition(list(words[at:]), file=file, line=line, response=response)


def _log_format(
    text: str,
    what: str,
    file: str,
    line: int,
    context: SampleContext | None = None,
    *,
    response: bool = False,
) -> LogFormat:
    try:
        return parse_log_format(text, context, response=response)
    except LogFormatError as exc:
        raise ConfigError(f"{what}: {exc}", file, line) from None


def _static(text: str) -> LogFormat:
    return LogFormat(text, (text,) if text else ())


def _status(word: str, what: str, file: str, line: int) -> int:
    if not word.isdigit():
        raise ConfigError(f"{what}: status code must be a number, got '{word}'", file, line)
    return int(word)


def _read_message(path: str, what: str, file: str, line: int) -> bytes:
    """An `errorfile <file>` of a reply: a whole HTTP response (or nothing: close)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError:
        raise ConfigError(f"{what}: error opening file '{path}'", file, line) from None
    if raw and not raw.startswith(b"HTTP/"):
        raise ConfigError(
            f"{what}: '{path}' is not an HTTP response (it must start with the status line)",
            file,
            line,
        )
    return raw


def http_error_page(
    words: Sequence[str], acls: AclSet, *, file: str = "<string>", line: int = 0
) -> tuple[int, bytes | None]:
    """`http-error status <code> [content-type <t>] [string|file|errorfile|errorfiles|
    default-errorfiles …] [hdr <name> <value>]*` (proxy_parse_http_error): the status
    and the page the proxy answers it with, as HAProxy writes such a reply (the
    `hdr` lines, content-length, content-type), or None for the built-in page.
    balancekit keeps error pages as whole messages, so log-format payloads and
    header values are named as unsupported."""
    what = "http-error"
    if not words or words[0] != "status":
        raise ConfigError(f"{what} : expects at least a <status> as arguments.", file, line)
    reply, at = _parse_reply(words, 0, 0, what, file, line, acls)
    if at < len(words):
        raise ConfigError(f"{what} : unknown keyword '{words[at]}'.", file, line)
    if reply.status not in DEFAULT_ERROR_CODES:
        raise ConfigError(f"{what}: status code '{reply.status}' not handled.", file, line)
    if reply.raw is not None:
        return reply.status, reply.raw
    dynamic = isinstance(reply.body, LogFormat) or not all(v.is_static for _, v in reply.headers)
    if dynamic:
        raise ConfigError(
            f"{what} with a log-format payload or header is an HAProxy feature balancekit "
            "does not support (its error pages are fixed messages)",
            file,
            line,
        )
    if reply.body is None:
        return reply.status, None
    body = str(reply.body).encode("latin-1")
    lines = [f"{name}: {value.render(Request(''))}" for name, value in reply.headers]
    lines.append(f"content-length: {len(body)}")
    if reply.content_type is not None and body:
        lines.append(f"content-type: {reply.content_type}")
    head = f"HTTP/1.1 {reply.status} {status_reason(reply.status)}\r\n" + "".join(
        f"{line_}\r\n" for line_ in lines
    )
    return reply.status, head.encode("latin-1") + b"\r\n" + body


def _message_reply(reply: _Reply, acls: AclSet, what: str, file: str, line: int) -> None:
    """A reply sending an HTTP message: `errorfiles` picks its status's page from the
    section (the proxy's own page when it has none, with HAProxy's warning), and
    the content type and headers of the reply are dropped with HAProxy's warnings."""
    if reply.body_kind == "errorfiles":
        if reply.status not in DEFAULT_ERROR_CODES:
            raise ConfigError(
                f"{what}: status code '{reply.status}' not handled by default with "
                "'errorfiles' argument.",
                file,
                line,
            )
        name = str(reply.body)
        pages = acls.context.http_errors.get(name)
        if pages is None:
            raise ConfigError(
                f"{what}: unknown http-errors section '{name}' referenced by an http reply",
                file,
                line,
            )
        reply.raw = pages.get(reply.status)
        if reply.raw is None:
            reply.body = ""  # (HAProxy then answers the status with no payload)
            acls.warnings.append(
                AclWarning(
                    f"Proxy '{acls.context.proxy}': status '{reply.status}' referenced by an "
                    f"http reply not declared in http-errors section '{name}'.",
                    file,
                    line,
                )
            )
        else:
            reply.body = None
    if reply.content_type is not None:
        acls.warnings.append(
            AclWarning(
                f"content-type '{reply.content_type}' ignored by the http reply when used "
                "with an erorrfile.",  # (HAProxy 2.6's spelling)
                file,
                line,
            )
        )
        reply.content_type = None
    if reply.headers:
        acls.warnings.append(
            AclWarning("hdr parameters ignored by the http reply when used with an erorrfile.",
                       file, line)
        )  # fmt: skip
        reply.headers = ()


def _read_file(path: str, what: str, file: str, line: int) -> str:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            return handle.read()
    except OSError:
        raise ConfigError(f"{what}: error opening file '{path}'", file, line) from None


@dataclass(slots=True)
class _Reply:
    status: int
    content_type: str | None = None
    body: str | LogFormat | None = None
    body_kind: str = ""
    headers: tuple[tuple[str, LogFormat], ...] = ()
    #: `errorfile <file>` or `errorfiles <section>`: a whole HTTP message, sent as is.
    raw: bytes | None = None


_REPLY_BODIES = (
    "string", "lf-string", "file", "lf-file", "default-errorfiles", "errorfile", "errorfiles"
)  # fmt: skip


def _parse_reply(
    words: Sequence[str],
    at: int,
    default_status: int,
    what: str,
    file: str,
    line: int,
    acls: AclSet,
    *,
    response: bool = False,
) -> tuple[_Reply, int]:
    """HAProxy's http reply arguments (http_parse_http_reply: status, content-type,
    string, lf-string, file, lf-file, errorfile, errorfiles, default-errorfiles,
    hdr); `response`: its formats may read the response being answered."""
    context = acls.context
    reply = _Reply(default_status)
    headers: list[tuple[str, LogFormat]] = []
    i = at
    while i < len(words) and words[i] not in ("if", "unless"):
        word = words[i]
        needs = 2 if word == "hdr" else 1
        if word not in ("status", "content-type", "hdr", *_REPLY_BODIES):
            raise ConfigError(
                f"{what}: unexpected argument '{word}' (expects 'status', 'content-type', "
                "'string', 'lf-string', 'file', 'lf-file', 'errorfile', 'errorfiles', "
                "'default-errorfiles' or 'hdr')",
                file,
                line,
            )
        if word != "default-errorfiles" and i + needs >= len(words):
            raise ConfigError(f"{what}: '{word}' expects an argument", file, line)
        if word in _REPLY_BODIES:
            if reply.body_kind:
                raise ConfigError(
                    f"{what}: unexpected '{word}' argument, '{reply.body_kind}' already defined",
                    file,
                    line,
                )
            reply.body_kind = word
        if word == "status":
            reply.status = _status(words[i + 1], what, file, line)
            if not 200 <= reply.status <= 599:
                raise ConfigError(f"{what}: Unexpected status code '{reply.status}'", file, line)
        elif word == "content-type":
            reply.content_type = words[i + 1]
        elif word == "string":
            reply.body = words[i + 1]
        elif word == "file":
            reply.body = _read_file(words[i + 1], what, file, line)
        elif word == "lf-string":
            reply.body = _log_format(words[i + 1], what, file, line, context, response=response)
        elif word == "lf-file":
            text = _read_file(words[i + 1], what, file, line)
            reply.body = _log_format(text, what, file, line, context, response=response)
        elif word == "errorfile":
            reply.raw = _read_message(words[i + 1], what, file, line)
        elif word == "errorfiles":
            reply.raw = b""  # the section is looked up once the status is known
            reply.body = words[i + 1]
        elif word == "hdr":
            fmt = _log_format(words[i + 2], what, file, line, context, response=response)
            headers.append((words[i + 1], fmt))
        i += 1 + (needs if word != "default-errorfiles" else 0)
    reply.headers = tuple(headers)
    if reply.body_kind in ("errorfile", "errorfiles"):
        _message_reply(reply, acls, what, file, line)
    elif reply.body_kind in ("", "default-errorfiles"):
        if reply.body_kind == "default-errorfiles" and reply.status not in DEFAULT_ERROR_CODES:
            raise ConfigError(
                f"{what}: status code '{reply.status}' not handled by default with "
                "'default-errorfiles' argument.",
                file,
                line,
            )
        reply.body = None if reply.body_kind else ""
    elif reply.body_kind in ("lf-string", "lf-file"):
        if reply.status in (204, 304):
            raise ConfigError(f"{what}: No body expected for {reply.status} responses", file, line)
        if reply.content_type is None:
            raise ConfigError(
                f"{what}: a content type must be defined with a log-format payload", file, line
            )
    elif reply.body:
        if reply.status in (204, 304):
            raise ConfigError(f"{what}: No body expected for {reply.status} responses", file, line)
        if reply.content_type is None:
            raise ConfigError(
                f"{what}: a content type must be defined when non-empty payload is configured",
                file,
                line,
            )
    if reply.body == "":
        # HAProxy ignores the content-type of a reply without payload (with a warning):
        # `return content-type text/plain` answers no Content-Type header.
        reply.content_type = None
    return reply, i


# --------------------------------------------------------------------------- parsers


def parse_http_request_rule(
    words: Sequence[str], acls: AclSet, *, file: str = "<string>", line: int = 0
) -> HttpRule:
    """Compile the words after `http-request`."""
    if not words:
        raise ConfigError(
            f"'http-request' expects {', '.join(HTTP_ACTIONS)} (missing argument)", file, line
        )
    action = words[0]
    what = f"http-request {action}"
    if action == "allow":
        return HttpRule("allow", _condition(words, 1, acls, what, file, line), file, line)
    if action == "deny":
        return _parse_deny(words, acls, file, line)
    if action == "tarpit":
        return _parse_deny(words, acls, file, line, status=500)
    if action == "reject":
        return HttpRule("reject", _condition(words, 1, acls, what, file, line), file, line)
    if action == "return":
        reply, at = _parse_reply(words, 1, 200, what, file, line, acls)
        return _reply_rule(
            "return", reply, _condition(words, at, acls, what, file, line), file, line
        )
    if action == "redirect":
        redirect, cond = _parse_redirect_words(words[1:], acls, what, file, line, use_fmt=True)
        return HttpRule("redirect", cond, file, line, status=redirect.code, redirect=redirect)
    if action in ("set-header", "add-header"):
        return _parse_set_header(words, acls, file, line)
    if action == "del-header":
        return _parse_del_header(words, acls, file, line)
    if action in ("replace-header", "replace-value"):
        return _parse_replace(words, acls, file, line)
    if action in LINE_ACTIONS:
        return _parse_line_rule(words, acls, file, line)
    if action.split("(", 1)[0] in VAR_ACTIONS:
        return parse_var_rule(words, acls, file, line)
    if action.startswith("track-sc"):
        return _parse_track(words, acls, file, line)
    if action.split("(", 1)[0] in (
        "sc-inc-gpc0",
        "sc-inc-gpc1",
        "sc-set-gpt0",
        "sc-inc-gpc",
        "sc-set-gpt",
    ):
        return _parse_sc_action(words, acls, file, line)
    if action == "auth":
        at, realm = 1, None
        if len(words) > 1 and words[1] == "realm":
            if len(words) < 3 or not words[2]:
                raise ConfigError(f"'{what}': missing realm value", file, line)
            at, realm = 3, words[2]
        cond = _condition(words, at, acls, what, file, line)
        return HttpRule("auth", cond, file, line, status=401, realm=realm)
    if action == "cache-use":
        return parse_cache_rule(words, acls, "http-request", file, line)
    if action == "set-log-level":
        return parse_log_level_rule(words, acls, "http-request", file, line)
    if action == "normalize-uri":
        return _parse_normalize_uri(words, acls, file, line)
    if action in ADDRESS_ACTIONS:
        if len(words) < 2 or words[1] in ("if", "unless"):
            raise ConfigError(f"'{what}': expects a sample expression", file, line)
        try:
            sample = parse_sample_expr(words[1], context=acls.context)
        except FetchError as exc:
            raise ConfigError(f"'{what}': {exc}", file, line) from None
        cond = _condition(words, 2, acls, what, file, line)
        return HttpRule(action, cond, file, line, sample=sample)
    if action == "capture":
        return parse_capture_rule(words, acls, "http-request", file, line)
    if action == "use-service":
        if len(words) < 2 or words[1] not in HTTP_SERVICES:
            got = words[1] if len(words) > 1 else "nothing"
            raise ConfigError(
                f"'{what}' expects one of {', '.join(HTTP_SERVICES)}, but got '{got}'", file, line
            )
        cond = _condition(words, 2, acls, what, file, line)
        return HttpRule("use-service", cond, file, line, body=words[1])
    if action.split("(", 1)[0] in HTTP_ACTIONS_UNSUPPORTED or action.startswith("lua."):
        raise ConfigError(
            f"'http-request {action}' is an HAProxy action balancekit does not support "
            f"(supported: {', '.join(HTTP_ACTIONS)})",
            file,
            line,
        )
    raise ConfigError(
        f"'http-request' expects {', '.join(HTTP_ACTIONS)}, but got '{action}'"
        f"{suggest(action, [*HTTP_ACTIONS, *HTTP_ACTIONS_UNSUPPORTED])}",
        file,
        line,
    )


def parse_capture_rule(
    words: Sequence[str], acls: AclSet, side: str, file: str, line: int
) -> HttpRule:
    """`http-request capture <sample> len <n> | id <id>`, `http-response capture
    <sample> id <id>` (parse_http_req_capture): a `len` capture gets its slot from
    the builder (`index` -1), an `id` one names a declared slot."""
    response = side != "http-request"
    what = f"'{side} capture' rule"
    usage = "expects <expression> id <idx>" if response else (
        "expects <expression> [ 'len' <length> | id <idx> ]"
    )  # fmt: skip
    body = list(words[1:])
    end = next((i for i, w in enumerate(body) if w in ("if", "unless")), len(body))
    if end < 3:
        raise ConfigError(f"{what} : {usage}", file, line)
    try:
        expr = parse_sample_expr(body[0], context=acls.context, response=response)
    except FetchError as exc:
        raise ConfigError(f"{what} : {exc}", file, line) from None
    kind, value = body[1], body[2]
    if kind not in (("id",) if response else ("len", "id")):
        found = "expects 'id'" if response else "expects 'len' or 'id'"
        raise ConfigError(f"{what} : {found}, found '{kind}'", file, line)
    if not value.isdigit():
        problem = f"cannot parse id '{value}'" if kind == "id" else "length must be > 0"
        raise ConfigError(f"{what} : {problem}", file, line)
    if kind == "len" and int(value) <= 0:
        raise ConfigError(f"{what} : length must be > 0", file, line)
    cond = _condition(body, 3, acls, f"{side} capture", file, line, response=response)
    if kind == "len":
        return HttpRule("capture", cond, file, line, sample=expr, index=-1, number=int(value))
    return HttpRule("capture", cond, file, line, sample=expr, index=int(value))


def parse_log_level_rule(
    words: Sequence[str], acls: AclSet, side: str, file: str, line: int
) -> HttpRule:
    """`set-log-level <level> [cond]` (stream_parse_set_log_level), on any rule list."""
    level = words[1] if len(words) > 1 else ""
    if level not in LOG_LEVELS:
        raise ConfigError(
            f"'{side} set-log-level' expects exactly 1 argument (log level name or 'silent')",
            file,
            line,
        )
    cond = _condition(
        words, 2, acls, f"{side} set-log-level", file, line, response=side != "http-request"
    )
    return HttpRule("set-log-level", cond, file, line, level=level)


def parse_cache_rule(
    words: Sequence[str], acls: AclSet, side: str, file: str, line: int
) -> HttpRule:
    """`http-request cache-use <name>` / `http-response cache-store <name>` [cond]."""
    action = words[0]
    name = words[1] if len(words) > 1 else ""
    if not name or name in ("if", "unless"):
        raise ConfigError(f"'{side} {action}' rule : expects a cache name.", file, line)
    cache = acls.context.caches.get(name)
    if cache is None:
        raise ConfigError(
            f"unable to find the cache '{name}' referenced by the filter 'cache'.", file, line
        )
    cond = _condition(
        words, 2, acls, f"{side} {action}", file, line, response=side != "http-request"
    )
    return HttpRule(action, cond, file, line, cache=cache)


def _counter_number(text: str, what: str, file: str, line: int) -> int:
    """N of `track-scN` or `sc-inc-gpc0(N)`: 0 to 2 (HAProxy's MAX_SESS_STKCTR - 1)."""
    if not text.isdigit():
        raise ConfigError(f"'{what}': Wrong track-sc number '{text}'", file, line)
    number = int(text)
    if number >= MAX_TRACKED:
        raise ConfigError(
            f"'{what}': invalid stick table track ID. The max allowed ID is {MAX_TRACKED - 1}.",
            file,
            line,
        )
    return number


def _sample(
    text: str, what: str, acls: AclSet, file: str, line: int, *, response: bool = False
) -> SampleExpr:
    try:
        return parse_sample_expr(text, context=acls.context, response=response)
    except FetchError as exc:
        raise ConfigError(f"'{what}': {exc}", file, line) from None


def parse_keyed_rule(
    words: Sequence[str],
    acls: AclSet,
    what: str,
    *,
    file: str,
    line: int,
    response: bool = False,
) -> tuple[SampleExpr, str, Condition | None]:
    """`<sample> [table <t>] [if|unless …]`, the tail of `track-scN` and `stick`
    lines: the key's expression, the table's name (the proxy's own when left
    out) and the condition.  `response`: the key is read from the response."""
    if not words or words[0] in ("if", "unless"):
        raise ConfigError(f"'{what}': missing fetch method", file, line)
    sample = _sample(words[0], what, acls, file, line, response=response)
    at, name = 1, acls.context.proxy
    if at < len(words) and words[at] == "table":
        if at + 1 >= len(words):
            raise ConfigError(f"'{what}': missing table name", file, line)
        name, at = words[at + 1], at + 2
    return sample, name, _condition(words, at, acls, what, file, line, response=response)


def _parse_track(
    words: Sequence[str], acls: AclSet, file: str, line: int, *, what: str = ""
) -> HttpRule:
    """`track-scN <key> [table <t>] [cond]`: the table is the proxy's own by default."""
    what = what or f"http-request {words[0]}"
    counter = _counter_number(words[0][8:], what, file, line)
    sample, name, cond = parse_keyed_rule(words[1:], acls, what, file=file, line=line)
    table = acls.context.tables.get(name)
    if table is None:
        raise ConfigError(
            f"'{what}': unable to find table '{name}' referenced by track-sc{counter}", file, line
        )
    return HttpRule(
        f"track-sc{counter}", cond, file, line, counter=counter, sample=sample, table=table
    )


def _parse_sc_action(words: Sequence[str], acls: AclSet, file: str, line: int) -> HttpRule:
    """`sc-inc-gpc0(N)`, `sc-inc-gpc1(N)`, `sc-set-gpt0(N) <int|expr>` on the entry
    tracked by counter N; `sc-inc-gpc(idx,N)`, `sc-set-gpt(idx,N) …` on element idx
    of its arrays."""
    name, _, rest = words[0].partition("(")
    what = f"http-request {words[0]}"
    if not rest.endswith(")"):
        raise ConfigError(f"'{what}': expects a counter number in parentheses", file, line)
    index = 0
    numbers = rest[:-1]
    if name in ("sc-inc-gpc", "sc-set-gpt"):
        idx, comma, numbers = numbers.partition(",")
        if not comma or not idx.isdigit():
            raise ConfigError(f"'{what}': expects (<index>,<counter>)", file, line)
        index = int(idx)
    counter = _counter_number(numbers, what, file, line)
    at, sample, number = 1, None, 0
    if name in ("sc-set-gpt0", "sc-set-gpt"):
        if len(words) < 2 or words[1] in ("if", "unless"):
            raise ConfigError(f"'{what}': expects an integer or an expression", file, line)
        value = words[1]
        if value.lstrip("-").isdigit():
            number = int(value)
        else:
            sample = _sample(value, what, acls, file, line)
        at = 2
    cond = _condition(words, at, acls, what, file, line)
    return HttpRule(
        name, cond, file, line, counter=counter, sample=sample, number=number, index=index
    )


def _parse_deny(
    words: Sequence[str],
    acls: AclSet,
    file: str,
    line: int,
    *,
    side: str = "http-request",
    status: int = 403,
) -> HttpRule:
    """`deny|tarpit [deny_status <code>] [reply…] [cond]`: 403 for a request's deny,
    500 for its tarpit, 502 for a response's deny by default (`side` is the
    keyword, for messages)."""
    action = words[0]
    what = f"{side} {action}"
    response = side != "http-request"
    at = 1
    reply_words: list[str] = []
    if at < len(words) and words[at] == "deny_status":
        if at + 1 >= len(words):
            raise ConfigError(f"{what}: missing argument for 'deny_status'", file, line)
        reply_words = ["status", words[at + 1]]
        at += 2
    rest = list(words[at:])
    if not rest or rest[0] in ("if", "unless"):
        reply_words.append("default-errorfiles")
    reply, used = _parse_reply(
        [*reply_words, *rest], 0, status, what, file, line, acls, response=response
    )
    cond = _condition([*reply_words, *rest], used, acls, what, file, line, response=response)
    return _reply_rule(action, reply, cond, file, line)


def _reply_rule(
    action: str, reply: _Reply, cond: Condition | None, file: str, line: int
) -> HttpRule:
    return HttpRule(
        action,
        cond,
        file,
        line,
        status=reply.status,
        content_type=reply.content_type,
        body=reply.body,
        reply_headers=reply.headers,
        raw_reply=reply.raw,
    )


def _parse_del_header(
    words: Sequence[str], acls: AclSet, file: str, line: int, *, side: str = "http-request"
) -> HttpRule:
    what = f"{side} del-header"
    if len(words) < 2 or words[1] in ("if", "unless"):
        raise ConfigError(f"'{what}': expects at least 1 argument", file, line)
    name, at, method = words[1], 2, "str"
    regex = None
    if at < len(words) and words[at] == "-m":
        if at + 1 >= len(words):
            raise ConfigError(f"'{what}': -m flag expects exactly 1 argument", file, line)
        method = words[at + 1]
        if method not in HEADER_MATCHES:
            raise ConfigError(
                f"'{what}': -m with unsupported matching method '{method}'", file, line
            )
        if method == "reg":
            try:
                regex = re.compile(name, re.IGNORECASE)
            except re.error as exc:
                raise ConfigError(
                    f"'{what}': regex '{name}' is invalid: {exc}", file, line
                ) from None
        at += 2
    cond = _condition(words, at, acls, what, file, line, response=side != "http-request")
    return HttpRule(
        "del-header", cond, file, line, header=name, header_match=method, header_regex=regex
    )


def _parse_set_header(
    words: Sequence[str], acls: AclSet, file: str, line: int, *, side: str = "http-request"
) -> HttpRule:
    """`set-header|add-header <name> <fmt> [cond]`."""
    action = words[0]
    what = f"{side} {action}"
    response = side != "http-request"
    if len(words) < 3 or words[1] in ("if", "unless") or words[2] in ("if", "unless"):
        raise ConfigError(f"'{what}': expects exactly 2 arguments", file, line)
    value = _log_format(words[2], what, file, line, acls.context, response=response)
    cond = _condition(words, 3, acls, what, file, line, response=response)
    return HttpRule(action, cond, file, line, header=words[1], value=value)


def parse_var_rule(
    words: Sequence[str],
    acls: AclSet,
    file: str,
    line: int,
    *,
    side: str = "http-request",
    response: bool = False,
) -> HttpRule:
    """`set-var(<name>[,<cond>…]) <expr>`, `set-var-fmt(<name>[,<cond>…]) <fmt>` or
    `unset-var(<name>)`, then the rule's condition; `response`: on the answer."""
    head = words[0]
    action, _, spec = head.partition("(")
    what = f"{side} {head}" if side else head
    if not spec.endswith(")") or not spec[:-1]:
        raise ConfigError(f"'{what}': expects a variable name in parentheses", file, line)
    try:
        variable, conditions = parse_var_spec(spec[:-1])
    except VarError as exc:
        raise ConfigError(f"'{what}': {exc}", file, line) from None
    if action == "unset-var":
        if conditions:
            raise ConfigError(f"'{what}': unset-var takes no condition", file, line)
        cond = _condition(words, 1, acls, what, file, line, response=response)
        return HttpRule(action, cond, file, line, variable=variable)
    if len(words) < 2 or words[1] in ("if", "unless"):
        expects = "a format string" if action == "set-var-fmt" else "a sample expression"
        raise ConfigError(f"'{what}': expects {expects}", file, line)
    sample: SampleExpr | None = None
    value: LogFormat | None = None
    if action == "set-var-fmt":
        value = _log_format(words[1], what, file, line, acls.context, response=response)
    else:
        try:
            sample = parse_sample_expr(
                words[1], context=acls.context, response=response, request_gone=response
            )
        except FetchError as exc:
            raise ConfigError(f"'{what}': {exc}", file, line) from None
    cond = _condition(words, 2, acls, what, file, line, response=response)
    return HttpRule(
        action, cond, file, line, sample=sample, value=value, variable=variable,
        conditions=conditions,
    )  # fmt: skip


def _regex(text: str, what: str, file: str, line: int) -> re.Pattern[str]:
    """A rewrite's regex, case-sensitive as HAProxy compiles it."""
    try:
        return re.compile(text)
    except re.error as exc:
        raise ConfigError(f"'{what}': regex '{text}' is invalid: {exc}", file, line) from None


def _parse_normalize_uri(words: Sequence[str], acls: AclSet, file: str, line: int) -> HttpRule:
    """`normalize-uri <normalizer> [full|strict] [cond]` (parse_http_normalize_uri);
    `header` holds the normalizer with its argument, as `NORMALIZERS` names it."""
    where = "error detected while parsing 'http-request normalize-uri' rule : "
    if len(words) < 2:
        raise ConfigError(where + "missing argument <normalizer>.", file, line)
    name, at = words[1], 2
    option = {"path-strip-dotdot": "full", "percent-to-uppercase": "strict",
              "percent-decode-unreserved": "strict"}.get(name)  # fmt: skip
    if name not in NORMALIZERS:
        raise ConfigError(where + f"unknown normalizer '{name}'.", file, line)
    if option is not None and len(words) > 2 and words[2] not in ("if", "unless"):
        if words[2] != option:
            raise ConfigError(
                where + f"unknown argument '{words[2]}' for '{name}' normalizer.", file, line
            )
        name, at = f"{name} {option}", 3
    cond = _condition(words, at, acls, "http-request normalize-uri", file, line)
    return HttpRule("normalize-uri", cond, file, line, header=name)


def _parse_line_rule(words: Sequence[str], acls: AclSet, file: str, line: int) -> HttpRule:
    """`set-method|set-path|set-pathq|set-query|set-uri <fmt> [cond]`, or
    `replace-path|replace-pathq|replace-uri <regex> <fmt> [cond]`."""
    action = words[0]
    what = f"http-request {action}"
    count = 2 if action.startswith("replace-") else 1
    args = list(words[1 : 1 + count])
    if len(args) < count or any(word in ("if", "unless") for word in args):
        expects = "exactly 2 arguments" if count == 2 else "exactly 1 argument <format>"
        raise ConfigError(f"'{what}': expects {expects}", file, line)
    regex = None
    if count == 2:
        try:
            regex = re.compile(args[0])
        except re.error as exc:
            raise ConfigError(
                f"'{what}': regex '{args[0]}' is invalid: {exc}", file, line
            ) from None
    value = _log_format(args[-1], what, file, line, acls.context)
    cond = _condition(words, 1 + count, acls, what, file, line)
    return HttpRule(action, cond, file, line, value=value, header_regex=regex)


def _parse_replace(
    words: Sequence[str], acls: AclSet, file: str, line: int, *, side: str = "http-request"
) -> HttpRule:
    """`replace-header|replace-value <name> <regex> <fmt> [cond]`: the regex is
    case-sensitive, as HAProxy compiles it."""
    action = words[0]
    what = f"{side} {action}"
    response = side != "http-request"
    if len(words) < 4 or any(word in ("if", "unless") for word in words[1:4]):
        raise ConfigError(f"'{what}': expects exactly 3 arguments", file, line)
    regex = _regex(words[2], what, file, line)
    value = _log_format(words[3], what, file, line, acls.context, response=response)
    cond = _condition(words, 4, acls, what, file, line, response=response)
    return HttpRule(action, cond, file, line, header=words[1], value=value, header_regex=regex)


_REDIRECT_WORDS = (
    "code",
    "prefix",
    "location",
    "scheme",
    "set-cookie",
    "clear-cookie",
    "drop-query",
    "ignore-empty",
    "append-slash",
)


def _parse_redirect_words(
    words: Sequence[str],
    acls: AclSet,
    what: str,
    file: str,
    line: int,
    *,
    use_fmt: bool,
    response: bool = False,
) -> tuple[Redirect, Condition | None]:
    kind: str | None = None
    target = ""
    code = 302
    drop_query = append_slash = False
    cookie: str | None = None
    cond: Condition | None = None
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("location", "prefix", "scheme", "set-cookie", "clear-cookie", "code"):
            if i + 1 >= len(words):
                raise ConfigError(f"{what}: missing argument for '{word}'", file, line)
            arg = words[i + 1]
            if word in ("location", "prefix", "scheme"):
                kind, target = word, arg
            elif word == "set-cookie":
                cookie = f"{arg}; path=/;"
            elif word == "clear-cookie":
                cookie = f"{arg}; path=/; Max-Age=0;"
            else:
                code = int(arg) if arg.isdigit() else 0
                if code not in REDIRECT_CODES:
                    raise ConfigError(
                        f"{what}: 'code': unsupported HTTP code '{arg}' "
                        "(must be one of 301, 302, 303, 307 or 308)",
                        file,
                        line,
                    )
            i += 2
            continue
        if word == "drop-query":
            drop_query = True
        elif word == "append-slash":
            append_slash = True
        elif word == "ignore-empty":
            pass
        elif word in ("if", "unless"):
            cond = acls.condition(list(words[i:]), file=file, line=line, response=response)
            break
        else:
            raise ConfigError(
                f"{what}: expects 'code', 'prefix', 'location', 'scheme', 'set-cookie', "
                "'clear-cookie', 'drop-query', 'ignore-empty' or 'append-slash' "
                f"(was '{word}'){suggest(word, _REDIRECT_WORDS)}",
                file,
                line,
            )
        i += 1
    if kind is None:
        raise ConfigError(
            f"{what}: redirection type expected ('prefix', 'location', or 'scheme')", file, line
        )
    fmt = (
        _log_format(target, what, file, line, acls.context, response=response)
        if use_fmt
        else _static(target)
    )
    redirect = Redirect(kind, fmt, code, drop_query, append_slash, cookie)  # type: ignore[arg-type]
    return redirect, cond


def parse_redirect(
    words: Sequence[str], acls: AclSet, *, file: str = "<string>", line: int = 0
) -> HttpRule:
    """Compile the words after a standalone `redirect` statement.

    The result is flagged `standalone`: HAProxy runs these after every
    `http-request` rule of the section, whatever their order in the file, and
    takes the target literally rather than as a log-format string.
    """
    redirect, cond = _parse_redirect_words(words, acls, "redirect", file, line, use_fmt=False)
    return HttpRule(
        "redirect", cond, file, line, status=redirect.code, redirect=redirect, standalone=True
    )


def parse_tcp_request_rule(
    words: Sequence[str], acls: AclSet, *, file: str = "<string>", line: int = 0
) -> TcpRule | InspectDelay:
    """Compile the words after `tcp-request`."""
    stages = ("connection", "session", "content", "inspect-delay")
    if not words or words[0] not in stages:
        got = f"'{words[0]}'" if words else "nothing"
        hint = suggest(words[0], stages) if words else ""
        raise ConfigError(
            f"'tcp-request' expects 'inspect-delay', 'connection', 'session' or 'content', "
            f"but got {got}{hint}",
            file,
            line,
        )
    stage = words[0]
    if stage == "inspect-delay":
        if len(words) != 2:
            raise ConfigError("'tcp-request inspect-delay' expects a time value", file, line)
        return InspectDelay(_milliseconds(words[1], file, line), file, line)
    what = f"tcp-request {stage}"
    if len(words) < 2:
        raise ConfigError(f"'{what}' expects 'accept' or 'reject' (missing argument)", file, line)
    action = words[1]
    if action.startswith("track-sc"):
        track = _parse_track(words[1:], acls, file, line, what=f"{what} {action}")
        return TcpRule(stage, "track", track.cond, file, line, track)  # type: ignore[arg-type]
    if action.split("(", 1)[0] in VAR_ACTIONS:
        store = parse_var_rule(words[1:], acls, file, line, side=what)
        return TcpRule(stage, "var", store.cond, file, line, store)  # type: ignore[arg-type]
    if action not in TCP_ACTIONS:
        if action in TCP_ACTIONS_UNSUPPORTED:
            raise ConfigError(
                f"'{what} {action}' is an HAProxy action balancekit does not support "
                "(supported: accept, reject, track-sc0..2, set-var, set-var-fmt, unset-var)",
                file,
                line,
            )
        raise ConfigError(
            f"'{what}' expects 'accept' or 'reject', but got '{action}'"
            f"{suggest(action, [*TCP_ACTIONS, *TCP_ACTIONS_UNSUPPORTED])}",
            file,
            line,
        )
    cond = _condition(words, 2, acls, f"{what} {action}", file, line)
    return TcpRule(stage, action, cond, file, line)  # type: ignore[arg-type]


def parse_tcp_response_rule(
    words: Sequence[str], acls: AclSet, *, file: str = "<string>", line: int = 0
) -> TcpRule:
    """Compile the words after `tcp-response content`: `accept|reject|close
    [if|unless …]`, whose condition reads the server's first bytes
    (`res.payload`, `res.ssl_hello_type`)."""
    action = words[0] if words else ""
    if action not in TCP_RESPONSE_ACTIONS:
        if action.split("(", 1)[0] in TCP_RESPONSE_ACTIONS_UNSUPPORTED:
            raise ConfigError(
                f"'tcp-response content {action}' is an HAProxy action balancekit does not "
                "support (supported: accept, reject, close)",
                file,
                line,
            )
        raise ConfigError(
            f"'tcp-response content' expects 'accept', 'close' or 'reject', but got '{action}'",
            file,
            line,
        )
    cond = _condition(words, 1, acls, f"tcp-response content {action}", file, line,
                      response=True)  # fmt: skip
    return TcpRule("response", action, cond, file, line)  # type: ignore[arg-type]


def response_verdict(
    rules: Sequence[TcpRule], view: Request, *, final: bool = True
) -> tuple[bool, TcpRule | None]:
    """HAProxy's tcp_inspect_response on `view` (the request with the server's first
    bytes): whether the rules have decided, and the rule that did (None: accept, as
    no rule matching does).  Unless `final` (the inspect-delay over, the buffer
    full or closed), a rule that does not match yet on bytes still arriving makes
    them wait for more (acl.c's MISS)."""
    for rule in rules:
        cond = rule.cond
        if cond is None:
            return True, rule
        verdict = cond.matches(view) if final else cond.settled(view)
        if verdict is None:
            return False, None
        if verdict:
            return True, rule
    return True, None


_TIME_UNITS = {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def _milliseconds(text: str, file: str, line: int) -> int:
    digits = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(digits) :] or "ms"
    if not digits.isdigit() or unit not in _TIME_UNITS:
        raise ConfigError(f"'tcp-request inspect-delay': invalid time value '{text}'", file, line)
    return int(int(digits) * _TIME_UNITS[unit])


def parse_use_backend(
    words: Sequence[str], acls: AclSet, *, file: str = "<string>", line: int = 0
) -> UseBackend:
    """Compile the words after `use_backend`."""
    if not words or words[0] in ("if", "unless"):
        raise ConfigError("'use_backend' requires a backend name", file, line)
    name = words[0]
    cond = _condition(words, 1, acls, "use_backend", file, line)
    if "%[" in name:
        with acls.context.patterns.deferred():  # HAProxy resolves the name after parsing
            fmt = _log_format(name, "use_backend", file, line, acls.context)
        return UseBackend(name, cond, file, line, name_format=fmt)
    return UseBackend(name, cond, file, line)
