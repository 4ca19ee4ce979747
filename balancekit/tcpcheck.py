"""`tcp-check` rulesets, and the protocol checks HAProxy builds from them.

HAProxy 2.6 runs every scripted health check as a list of `connect`, `send` and
`expect` steps (src/tcpcheck.c).  `option tcp-check` takes the proxy's own
`tcp-check` lines; `option redis-check`, `option smtpchk`, `option ssl-hello-chk`
and `option ldap-check` are fixed rulesets that HAProxy writes with the same
parser.  This module does both the same way, so a protocol check and the
equivalent hand-written `tcp-check` lines cannot drift apart.

Sans-IO: `parse_rule` compiles one line, `ruleset` finishes a list the way
check_proxy_tcpcheck does (an implicit first `connect`, comments folded into
the steps after them), and the `expect`/`passed`/`timed_out`/`failed_at`
functions turn what a probe read into HAProxy's verdict, info text and code.
The driver (`balancekit_server.ops.checks`) only connects, writes and reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from .acl.fetches import FetchError, SampleContext, SampleExpr, parse_sample_expr
from .acl.logformat import LogFormat, LogFormatError, parse_log_format
from .health import CheckResult, CheckStatus
from .request import Request, ResponseView

__all__ = [
    "ACTIONS",
    "BUFFER_SIZE",
    "PROTOCOLS",
    "TcpCheckRule",
    "TcpCheckRuleset",
    "TcpComment",
    "TcpConnect",
    "TcpExpect",
    "TcpSend",
    "empty_response",
    "expect",
    "failed_at",
    "parse_binary",
    "parse_rule",
    "passed",
    "protocol_ruleset",
    "ruleset",
    "step_id",
    "timed_out",
]

#: A check reads at most one buffer (tune.bufsize); a full buffer is its last read.
BUFFER_SIZE = 16384

#: The `tcp-check` actions balancekit runs (HAProxy's `set-var`/`unset-var` it does not).
ACTIONS = ("connect", "send", "send-binary", "send-lf", "send-binary-lf", "expect", "comment")

#: The `option` checks made of tcp-check steps, by option name.
PROTOCOLS = ("tcp-check", "redis-check", "smtpchk", "ssl-hello-chk", "ldap-check")


@dataclass(frozen=True, slots=True)
class TcpConnect:
    """`tcp-check connect [default] [port P] [addr A] [send-proxy] [ssl] [sni S]
    [alpn L] [linger] [comment C]`.  `default` takes the server's check settings
    (its `check-ssl`, `check-sni`, `check-send-proxy`); without it the connection
    is plain unless the rule says otherwise."""

    index: int
    port: int = 0
    addr: str | None = None
    default: bool = False
    send_proxy: bool = False
    ssl: bool = False
    sni: str | None = None
    alpn: str | None = None
    linger: bool = False
    implicit: bool = False
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class TcpSend:
    """`tcp-check send|send-binary|send-lf|send-binary-lf <data> [comment C]`."""

    index: int
    data: bytes = b""
    fmt: LogFormat | None = None  # the -lf forms
    binary: bool = False
    comment: str | None = None

    def render(self) -> bytes | None:
        """The bytes to write; None when a `send-binary-lf` string is not hex."""
        if self.fmt is None:
            return self.data
        text = self.fmt.render(_view(b""))
        if not self.binary:
            return text.encode("latin-1", "replace")
        try:
            return parse_binary(text)
        except ValueError:
            return None


ExpectKind = Literal["string", "rstring", "binary", "rbinary", "string-lf", "binary-lf", "ldap"]


@dataclass(frozen=True, slots=True)
class TcpExpect:
    """`tcp-check expect [min-recv N] [ok-status S] [error-status S] [tout-status S]
    [on-success FMT] [on-error FMT] [status-code EXPR] [comment C] [!] <kind> <pattern>`."""

    index: int
    kind: ExpectKind
    pattern: str = ""
    data: bytes = b""  # string / binary
    regex: re.Pattern[str] | None = None  # rstring / rbinary
    fmt: LogFormat | None = None  # string-lf / binary-lf
    inverse: bool = False
    min_recv: int = -1
    ok_status: CheckStatus | None = None
    error_status: CheckStatus | None = None
    tout_status: CheckStatus | None = None
    on_success: LogFormat | None = None
    on_error: LogFormat | None = None
    status_code: SampleExpr | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class TcpComment:
    """`tcp-check comment <text>`: names the steps that follow it in messages."""

    index: int
    comment: str


TcpCheckRule = TcpConnect | TcpSend | TcpExpect


@dataclass(frozen=True, slots=True)
class TcpCheckRuleset:
    """A finished ruleset.  `protocol` is the option that made it: a plain
    `tcp-check` gets HAProxy's generic messages ("TCPCHK did not match content …");
    the protocol checks say only what their own `on-error` strings say."""

    protocol: str
    rules: tuple[TcpCheckRule, ...]

    @property
    def generic(self) -> bool:
        return self.protocol == "tcp-check"


# -- parsing ---------------------------------------------------------------------


def parse_binary(text: str) -> bytes:
    """HAProxy's parse_binary: pairs of hex digits, with its messages."""
    if len(text) % 2:
        raise ValueError("an even number of hex digit is expected")
    for char in text:
        if char not in "0123456789abcdefABCDEF":
            raise ValueError(f"an hex digit is expected (found '{char}')")
    return bytes.fromhex(text)


def _format(text: str, context: SampleContext | None) -> LogFormat:
    try:
        return parse_log_format(text, context, response=True)
    except LogFormatError as exc:
        raise ValueError(f"'{text}' invalid log-format string ({exc}).") from None


_OK = {"L7OK": CheckStatus.L7OK, "L7OKC": CheckStatus.L7OKC, "L6OK": CheckStatus.L6OK}
_OK["L4OK"] = CheckStatus.L4OK
_ERR = {
    "L7RSP": CheckStatus.L7RSP,
    "L7STS": CheckStatus.L7STS,
    "L7OKC": CheckStatus.L7OKC,
    "L6RSP": CheckStatus.L6RSP,
    "L4CON": CheckStatus.L4CON,
}
_TOUT = {"L7TOUT": CheckStatus.L7TOUT, "L6TOUT": CheckStatus.L6TOUT, "L4TOUT": CheckStatus.L4TOUT}


def parse_rule(
    args: tuple[str, ...],
    index: int,
    earlier: tuple[TcpCheckRule | TcpComment, ...] = (),
    context: SampleContext | None = None,
) -> TcpCheckRule | TcpComment:
    """One `tcp-check` line, `args` starting at its action (`connect`, `send`, …).
    `earlier` is the ruleset so far (a `connect` must come first if any does).
    Raises ValueError with HAProxy's message for the line."""
    action = args[0]
    try:
        if action == "connect":
            return _parse_connect(args, index, earlier)
        if action in ("send", "send-binary", "send-lf", "send-binary-lf"):
            return _parse_send(args, index, context)
        if action == "expect":
            return _parse_expect(args, index, context)
        if action == "comment":
            if len(args) != 2:
                raise ValueError("expects a string as argument")
            return TcpComment(index, args[1])
    except ValueError as exc:
        raise ValueError(f"'tcp-check {action}' : {exc}.") from None
    raise ValueError(
        "'tcp-check' only supports 'comment', 'connect', 'send', 'send-binary', 'expect', "
        f"'set-var', 'unset-var'. but got '{action}'"
    )


def _parse_connect(
    args: tuple[str, ...], index: int, earlier: tuple[TcpCheckRule | TcpComment, ...]
) -> TcpConnect:
    for rule in earlier:
        if isinstance(rule, TcpConnect):
            break
        if not isinstance(rule, TcpComment):
            raise ValueError(
                "first step MUST also be a 'connect', optionally preceded by a 'set-var', "
                "an 'unset-var' or a 'comment', when there is a 'connect' step in the "
                "tcp-check ruleset"
            )
    fields: dict[str, object] = {}
    i = 1
    while i < len(args):
        word = args[i]
        if word in ("default", "send-proxy", "ssl", "linger"):
            fields[word.replace("-", "_")] = True
        elif word in ("port", "addr", "sni", "alpn", "comment"):
            if i + 1 >= len(args):
                raise ValueError(f"'{word}' expects an argument.")
            value = args[i + 1]
            if word == "port":
                if not value.isdigit() or not 1 <= int(value) <= 65535:
                    raise ValueError(
                        "expects a valid TCP port (from range 1 to 65535) or a sample "
                        f"expression, got {value}"
                    )
                fields["port"] = int(value)
            else:
                fields[word] = value
            i += 1
        else:
            raise ValueError(
                "expects 'comment', 'port', 'addr', 'send-proxy', 'ssl', 'sni', 'alpn' or "
                f"'via-socks4', 'linger', 'default' but got '{word}' as argument"
            )
        i += 1
    return TcpConnect(index, **fields)  # type: ignore[arg-type]


def _comment(args: tuple[str, ...]) -> str | None:
    if not args:
        return None
    if args[0] != "comment":
        raise ValueError(f"expects 'comment' but got '{args[0]}' as argument")
    if len(args) < 2:
        raise ValueError("'comment' expects a string as argument")
    return args[1]


def _parse_send(args: tuple[str, ...], index: int, context: SampleContext | None) -> TcpSend:
    action = args[0]
    binary = action.startswith("send-binary")
    if len(args) < 2 or not args[1]:
        raise ValueError(f"'{action}' expects a {'binary string' if binary else 'string'}")
    data = args[1]
    comment = _comment(args[2:])
    if action.endswith("-lf"):
        return TcpSend(index, fmt=_format(data, context), binary=binary, comment=comment)
    if binary:
        try:
            return TcpSend(index, parse_binary(data), binary=True, comment=comment)
        except ValueError as exc:
            raise ValueError(f"'{data}' invalid binary string ({exc})") from None
    return TcpSend(index, data.encode("latin-1"), comment=comment)


def _status(table: dict[str, CheckStatus], word: str, value: str, allowed: str) -> CheckStatus:
    status = table.get(value.upper())
    if status is None:
        raise ValueError(f"'{word}' only supports {allowed} status (got '{value}')")
    return status


def _parse_expect(args: tuple[str, ...], index: int, context: SampleContext | None) -> TcpExpect:
    if len(args) < 2:
        raise ValueError("expects at least a matching pattern as arguments")
    fields: dict[str, object] = {}
    kind: str | None = None
    pattern = ""
    inverse = False
    i = 1
    while i < len(args):
        word = args[i]
        if word.startswith("!"):
            inverse ^= (len(word) - len(word.lstrip("!"))) % 2 == 1
            word = word.lstrip("!")
            if not word:
                i += 1
                continue
            if word not in ("string", "rstring", "binary", "rbinary", "string-lf", "binary-lf"):
                raise ValueError(f"[!] not supported with '{word}'")
        if word in ("string", "rstring", "binary", "rbinary", "string-lf", "binary-lf"):
            if kind is not None:
                raise ValueError("only on pattern expected")
            if i + 1 >= len(args):
                raise ValueError(f"'{word}' expects a <pattern> as argument")
            kind, pattern = word, args[i + 1]
            i += 2
            continue
        if i + 1 >= len(args) and word in _EXPECT_OPTIONS:
            raise ValueError(f"'{word}' expects {_EXPECT_OPTIONS[word]} as argument")
        value = args[i + 1] if i + 1 < len(args) else ""
        if word == "min-recv":
            try:
                fields["min_recv"] = int(value)
            except ValueError:
                fields["min_recv"] = 0
            if not -1 <= int(str(fields["min_recv"])) <= 2**31 - 1:
                raise ValueError(f"'{word}' expects -1 or an integer from 0 to INT_MAX")
        elif word == "ok-status":
            allowed = "'L4OK', 'L6OK', 'L7OK' or 'L7OKC'"
            fields["ok_status"] = _status(_OK, word, value, allowed)
        elif word == "error-status":
            allowed = "'L4CON', 'L6RSP', 'L7RSP' or 'L7STS'"
            fields["error_status"] = _status(_ERR, word, value, allowed)
        elif word == "tout-status":
            fields["tout_status"] = _status(_TOUT, word, value, "'L4TOUT', 'L6TOUT' or 'L7TOUT'")
        elif word in ("on-success", "on-error"):
            fields[word.replace("-", "_")] = _format(value, context)
        elif word == "status-code":
            try:
                fields["status_code"] = parse_sample_expr(value, context=context, response=True)
            except FetchError as exc:
                raise ValueError(
                    f"error detected while parsing status-code expression : {exc}"
                ) from None
        elif word == "comment":
            fields["comment"] = value
        else:
            raise ValueError(
                "'only supports min-recv, '[!]binary', '[!]string', '[!]rstring', "
                "'[!]string-lf''[!]rbinary', '[!]binary-lf' or comment but got "
                f"'{word}' as argument"
            )
        i += 2
    if kind is None:
        raise ValueError("expects at least a matching pattern as arguments")
    return _expect(index, kind, pattern, inverse, context, fields)


_EXPECT_OPTIONS = {
    "min-recv": "a integer",
    "ok-status": "a string",
    "error-status": "a string",
    "tout-status": "a string",
    "on-success": "a string",
    "on-error": "a string",
    "status-code": "an expression",
    "comment": "a string",
}


def _expect(
    index: int,
    kind: str,
    pattern: str,
    inverse: bool,
    context: SampleContext | None,
    fields: dict[str, object],
) -> TcpExpect:
    if kind == "string":
        fields["data"] = pattern.encode("latin-1")
    elif kind == "binary":
        try:
            fields["data"] = parse_binary(pattern)
        except ValueError as exc:
            raise ValueError(f"invalid binary string ({exc})") from None
    elif kind in ("rstring", "rbinary"):
        try:
            fields["regex"] = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"regex '{pattern}' is invalid ({exc})") from None
    else:
        fields["fmt"] = _format(pattern, context)
    return TcpExpect(index, kind, pattern, inverse=inverse, **fields)  # type: ignore[arg-type]


def ruleset(protocol: str, lines: tuple[TcpCheckRule | TcpComment, ...]) -> TcpCheckRuleset:
    """check_proxy_tcpcheck's finish: a first `connect` (implicit, step 0) when the
    list does not start with one, and each comment given to the steps after it
    (to the next `connect` for a connect, to every send/expect until another kind)."""
    rules: list[TcpCheckRule] = []
    if not lines or not isinstance(lines[0], TcpConnect):
        first = next((r for r in lines if not isinstance(r, TcpComment)), None)
        if not isinstance(first, TcpConnect):
            rules.append(TcpConnect(0, default=True, implicit=True))
    comment: str | None = None
    previous: type | None = None
    for rule in lines:
        if previous is not None and type(rule) is not previous and previous is not TcpComment:
            comment = None
        previous = type(rule)
        if isinstance(rule, TcpComment):
            comment = rule.comment
            continue
        if rule.comment is None and comment is not None:
            rule = replace(rule, comment=comment)
        if isinstance(rule, TcpConnect):
            comment = None
        rules.append(rule)
    return TcpCheckRuleset(protocol, tuple(rules))


# -- the protocol checks (tcpcheck.c's proxy_parse_*_opt) ---------------------------

_SSLV3_HELLO = (
    "160300007901000075"
    + "0300"
    + "%[date(),htonl,hex]"
    + "%[str(HAPROXYSSLCHK\nHAPROXYSSLCHK\n),hex]"
    "00004E"
    + "".join(f"{n:04X}" for n in range(0x01, 0x1C))
    + "".join(f"{n:04X}" for n in range(0x2F, 0x3B))
    + "0100"
)


def protocol_ruleset(option: str, args: tuple[str, ...] = ()) -> TcpCheckRuleset:
    """The ruleset of `option redis-check|smtpchk|ssl-hello-chk|ldap-check`, written
    with the same steps HAProxy 2.6.12 (Debian 12's) writes for it."""
    lines: list[tuple[str, ...]]
    if option == "redis-check":
        lines = [
            ("send", "*1\r\n$4\r\nPING\r\n"),
            ("expect", "string", "+PONG\r\n", "error-status", "L7STS",
             "on-error", "%[res.payload(0,0),cut_crlf]", "on-success", "Redis server is ok"),
        ]  # fmt: skip
    elif option == "smtpchk":
        command = " ".join(args[:2]) if args[:1] in (("EHLO",), ("HELO",)) and len(args) > 1 else ""
        lines = [
            ("connect", "default", "linger"),
            ("expect", "rstring", "^[0-9]{3}[ \r]", "min-recv", "4", "error-status", "L7RSP",
             "on-error", "%[res.payload(0,0),cut_crlf]"),
            ("expect", "rstring", "^2[0-9]{2}[ \r]", "min-recv", "4", "error-status", "L7STS",
             "on-error", "%[res.payload(4,0),ltrim(' '),cut_crlf]",
             "status-code", "res.payload(0,3)"),
            # HAProxy sends `%[var(check.smtp_cmd)]\r\n`, the variable preset to this.
            ("send", (command or "HELO localhost") + "\r\n"),
            # 2.6.12's ruleset: the whole (multi-line) EHLO reply, then QUIT, so that
            # the server sees a clean end (HAProxy's fix for its issue 1812).
            ("expect", "rstring", "^(2[0-9]{2}-[^\r]*\r\n)*2[0-9]{2}[ \r]", "error-status", "L7STS",
             "on-error", "%[res.payload(4,0),ltrim(' '),cut_crlf]",
             "on-success", "%[res.payload(4,0),ltrim(' '),cut_crlf]",
             "status-code", "res.payload(0,3)"),
            ("send", "QUIT\r\n"),
            ("expect", "rstring", "^2[0-9]{2}[- \r]", "min-recv", "4", "error-status", "L7STS",
             "on-error", "%[res.payload(4,0),ltrim(' '),cut_crlf]",
             "on-success", "%[res.payload(4,0),ltrim(' '),cut_crlf]",
             "status-code", "res.payload(0,3)"),
        ]  # fmt: skip
    elif option == "ssl-hello-chk":
        lines = [
            ("send-binary-lf", _SSLV3_HELLO),
            ("expect", "rbinary", "^1[56]", "min-recv", "5", "ok-status", "L6OK",
             "error-status", "L6RSP", "tout-status", "L6TOUT"),
        ]  # fmt: skip
    elif option == "ldap-check":
        lines = [
            ("send-binary", "300C020101600702010304008000"),
            ("expect", "rbinary", "^30", "min-recv", "14", "on-error", "Not LDAPv3 protocol"),
        ]
    else:
        raise ValueError(f"no tcp-check ruleset for option '{option}'")
    parsed: list[TcpCheckRule | TcpComment] = []
    for index, line in enumerate(lines):
        parsed.append(parse_rule(line, index, tuple(parsed)))
    if option == "ldap-check":
        parsed.append(TcpExpect(len(parsed), "ldap"))
    return ruleset(option, tuple(parsed))


# -- verdicts ----------------------------------------------------------------------


def _view(data: bytes) -> ResponseView:
    """What a check's log-format strings and expressions read: the bytes received,
    as `res.payload`."""
    return ResponseView(Request(), payload=data)


def step_id(rule: TcpCheckRule | None) -> int:
    """tcpcheck_get_step_id: the line's position from 1; 0 for the implicit connect."""
    if rule is None:
        return 1
    if isinstance(rule, TcpConnect) and rule.implicit:
        return 0
    return rule.index + 1


def _code(rule: TcpExpect, data: bytes) -> int:
    if rule.status_code is None:
        return 0
    value = rule.status_code.single(_view(data))
    if isinstance(value, bool) or value is None:
        return int(bool(value)) if isinstance(value, bool) else 0
    if isinstance(value, int):
        return value
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    match = re.match(r"\s*[-+]?\d+", text)
    return int(match.group(0)) if match else 0


def _hex(data: bytes) -> str:
    return data.hex().upper()


Step = Literal["wait", "next"]


def expect(
    rule: TcpExpect, rules: TcpCheckRuleset, data: bytes, last_read: bool
) -> Step | CheckResult:
    """tcpcheck_eval_expect on the bytes read so far: "wait" for more, "next" to go
    on, or the failed check.  `last_read`: the server closed, or the buffer is full."""
    last_read = last_read or len(data) >= BUFFER_SIZE
    if rule.kind == "ldap":
        return _ldap_bind_response(rule, rules, data, last_read)
    if not last_read:
        if rule.kind in ("string", "binary") and len(data) < len(rule.data):
            return "wait"
        if rule.min_recv > 0 and len(data) < rule.min_recv:
            return "wait"
    if rule.kind in ("string", "binary"):
        match = rule.data in data
    elif rule.kind == "rstring":
        assert rule.regex is not None
        match = rule.regex.search(data[: BUFFER_SIZE - 1].decode("latin-1")) is not None
    elif rule.kind == "rbinary":
        assert rule.regex is not None
        match = rule.regex.search(_hex(data)[: BUFFER_SIZE - 1]) is not None
    else:
        assert rule.fmt is not None
        text = rule.fmt.render(_view(data))
        if not text:
            return _failed(
                rule, rules, data, False, "log-format string evaluated to an empty string"
            )
        wanted = text.encode("latin-1", "replace")
        if rule.kind == "binary-lf":
            try:
                wanted = parse_binary(text)
            except ValueError:
                info = "Failed to parse hexastring resulting of eval of a log-format string"
                return _failed(rule, rules, data, False, info)
        if len(data) < len(wanted) and not last_read:
            return "wait"
        match = wanted in data
    if not match and not last_read and rule.min_recv == -1:
        return "wait"
    if match != rule.inverse:
        return "next"
    return _failed(rule, rules, data, match)


_KIND_WORDS = {
    "binary": " (binary)",
    "rstring": " (regex)",
    "rbinary": " (binary regex)",
    "string-lf": " (log-format string)",
    "binary-lf": " (log-format binary)",
    "ldap": " (custom function)",
}


def _failed(
    rule: TcpExpect,
    rules: TcpCheckRuleset,
    data: bytes,
    matched: bool,
    info: str = "",
    status: CheckStatus | None = None,
) -> CheckResult:
    """tcpcheck_expect_onerror_message: the given info, else the rule's `on-error`,
    else (plain tcp-check only) the generic text; then its comment."""
    if not info:
        if rule.on_error is not None:
            info = rule.on_error.render(_view(data))
        elif rules.generic:
            info = "TCPCHK matched unwanted content" if matched else "TCPCHK did not match content"
            if rule.kind == "string":
                info += f" '{rule.pattern}'"
            else:
                info += _KIND_WORDS[rule.kind]
            info += f" at step {step_id(rule)}"
    if rule.comment is not None:
        info += f" comment: {rule.comment}"
    status = status or rule.error_status or CheckStatus.L7RSP
    return CheckResult(status, _code(rule, data), info)


def _ldap_bind_response(
    rule: TcpExpect, rules: TcpCheckRuleset, data: bytes, last_read: bool
) -> Step | CheckResult:
    """tcpcheck_ldap_expect_bindrsp: an LDAPv3 bindResponse to message 1, whose
    resultCode is the check's code (0: success)."""
    not_ldap = "Not LDAPv3 protocol"
    if len(data) < 2:
        return "wait" if not last_read else _failed(rule, rules, data, False)
    size_byte, pos, nbytes = data[1], 2, 0
    if size_byte & 0x80:
        nbytes = size_byte & 0x7F
        if len(data) < 1 + nbytes:
            return "wait" if not last_read else _failed(rule, rules, data, False)
        if nbytes not in (2, 4):
            return _failed(rule, rules, data, False, not_ldap)
        length = int.from_bytes(data[2 : 2 + nbytes], "big")
    else:
        length = size_byte
    pos += nbytes
    if len(data) < 2 + nbytes + length:
        return "wait" if not last_read else _failed(rule, rules, data, False)
    if data[pos : pos + 4] != b"\x02\x01\x01\x61":
        return _failed(rule, rules, data, False, not_ldap)
    pos += 4
    pos += 1 + (data[pos] & 0x7F if data[pos] & 0x80 else 0)
    if data[pos : pos + 2] != b"\x0a\x01":
        return _failed(rule, rules, data, False, not_ldap)
    code = data[pos + 2] if pos + 2 < len(data) else 0
    if code:
        info = "See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9"
        failed = _failed(rule, rules, data, False, info, CheckStatus.L7STS)
        return replace(failed, code=code)
    return CheckResult(rule.ok_status or CheckStatus.L7OK, 0, "Success")


def passed(rules: TcpCheckRuleset, last: TcpCheckRule, data: bytes, tls: bool) -> CheckResult:
    """The verdict once every step ran (tcpcheck_main's end), by the last step run."""
    if isinstance(last, TcpExpect):
        if last.kind == "ldap":
            return CheckResult(last.ok_status or CheckStatus.L7OK, 0, "Success")
        if last.on_success is not None:
            info = last.on_success.render(_view(data))
        else:
            info = "(tcp-check)" if rules.generic else ""
        return CheckResult(last.ok_status or CheckStatus.L7OK, _code(last, data), info)
    if isinstance(last, TcpConnect):
        status = CheckStatus.L6OK if tls else CheckStatus.L4OK
        return CheckResult(status, None, "" if last.implicit else "(tcp-check)")
    return CheckResult(CheckStatus.L7OK, 0, "(tcp-check)")


def empty_response(rule: TcpExpect) -> CheckResult:
    """The server closed before sending anything the step could read."""
    info = f"TCPCHK got an empty response at step {step_id(rule)}"
    if rule.comment is not None:
        info += f" comment: '{rule.comment}'"
    return CheckResult(rule.error_status or CheckStatus.L7RSP, 0, info)


def _where(rules: TcpCheckRuleset, current: TcpCheckRule | None) -> str:
    """chk_report_conn_err's suffix for a plain tcp-check: which step failed."""
    if not rules.generic:
        return ""
    step = step_id(current)
    if not step:
        return " at initial connection step of tcp-check"
    text = f" at step {step} of tcp-check"
    if isinstance(current, TcpConnect):
        text += f" (connect port {current.port})" if current.port else " (connect)"
    elif isinstance(current, TcpExpect):
        if current.kind == "string":
            text += f" (expect string '{current.pattern}')"
        elif current.kind == "binary":
            text += f" (expect binary '{current.pattern}')"
        else:
            text += {
                "rstring": " (expect regex)",
                "rbinary": " (expect binary regex)",
                "string-lf": " (expect log-format string)",
                "binary-lf": " (expect log-format binary)",
                "ldap": " (expect custom function)",
            }[current.kind]
    elif isinstance(current, TcpSend):
        text += " (send)"
    if current is not None and current.comment is not None:
        text += f" comment: '{current.comment}'"
    return text


def timed_out(rules: TcpCheckRuleset, current: TcpCheckRule | None) -> CheckResult:
    """The check's time ran out on an established connection."""
    status = CheckStatus.L7TOUT
    if isinstance(current, TcpExpect) and current.tout_status is not None:
        status = current.tout_status
    return CheckResult(status, None, _where(rules, current))


def failed_at(rules: TcpCheckRuleset, current: TcpCheckRule, result: CheckResult) -> CheckResult:
    """A connection's failure (refused, timed out, TLS, reset) during a step: the
    plain result with the step named, as chk_report_conn_err does for a plain
    tcp-check."""
    return replace(result, info=result.info + _where(rules, current))
