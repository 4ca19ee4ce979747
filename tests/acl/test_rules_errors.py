"""Every rule configuration error: a clear message naming the bad word, located at file:line."""

# ruff: noqa: E501  (case tables read best one case per line)

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from balancekit.acl import AclSet
from balancekit.errors import ConfigError
from balancekit.rules import (
    InspectDelay,
    parse_http_request_rule,
    parse_redirect,
    parse_tcp_request_rule,
    parse_use_backend,
)

Parser = Callable[..., object]

ERRORS: list[tuple[str, Parser, str, str]] = [
    # http-request
    ("http-empty", parse_http_request_rule, "", "'http-request' expects allow, deny, reject, redirect, return, set-header, add-header, del-header, replace-header, replace-value, set-method, set-path, set-pathq, set-query, set-uri, replace-path, replace-pathq, replace-uri, set-var, set-var-fmt, unset-var, auth, track-sc0, track-sc1, track-sc2, sc-inc-gpc0, sc-inc-gpc1, sc-set-gpt0, sc-inc-gpc, sc-set-gpt, cache-use, set-log-level, capture, set-src, set-src-port, set-dst, set-dst-port, normalize-uri, tarpit, wait-for-body, early-hint (missing argument)"),
    ("http-unknown", parse_http_request_rule, "dney if x", "'http-request' expects allow, deny, reject, redirect, return, set-header, add-header, del-header, replace-header, replace-value, set-method, set-path, set-pathq, set-query, set-uri, replace-path, replace-pathq, replace-uri, set-var, set-var-fmt, unset-var, auth, track-sc0, track-sc1, track-sc2, sc-inc-gpc0, sc-inc-gpc1, sc-set-gpt0, sc-inc-gpc, sc-set-gpt, cache-use, set-log-level, capture, set-src, set-src-port, set-dst, set-dst-port, normalize-uri, tarpit, wait-for-body, early-hint, but got 'dney'; did you mean 'deny'?"),
    ("http-unsupported", parse_http_request_rule, "set-map(f) a b", "'http-request set-map(f)' is an HAProxy action balancekit does not support"),
    ("http-unsupported-known", parse_http_request_rule, "silent-drop", "'http-request silent-drop' is an HAProxy action balancekit does not support"),
    ("http-trailing", parse_http_request_rule, "allow when x", "'http-request allow' expects either 'if' or 'unless' followed by a condition but found 'when'"),
    ("http-bad-cond", parse_http_request_rule, "deny if nope", "no such ACL : 'nope'"),
    ("set-header-args", parse_http_request_rule, "set-header X-A", "'http-request set-header': expects exactly 2 arguments"),
    ("add-header-args", parse_http_request_rule, "add-header X-A if x", "'http-request add-header': expects exactly 2 arguments"),
    ("set-header-lf", parse_http_request_rule, "set-header X-A %[nope]", "failed to parse sample expression <nope> : unknown fetch method 'nope'"),
    ("set-header-alias", parse_http_request_rule, "set-header X-A %Tq", "log-format variable '%Tq' is not supported here"),
    ("set-header-unclosed", parse_http_request_rule, "set-header X-A %[src", "missing ']' after '%['"),
    ("set-header-no-bracket", parse_http_request_rule, "set-header X-A %[hdr(x)y]", "expected ']' after '%[hdr(x)', but found 'y'"),
    ("del-header-args", parse_http_request_rule, "del-header", "'http-request del-header': expects at least 1 argument"),
    ("del-header-m", parse_http_request_rule, "del-header X -m", "-m flag expects exactly 1 argument"),
    ("del-header-method", parse_http_request_rule, "del-header X -m dom", "-m with unsupported matching method 'dom'"),
    ("del-header-regex", parse_http_request_rule, "del-header ( -m reg", "regex '(' is invalid"),
    ("deny-status-missing", parse_http_request_rule, "deny deny_status", "missing argument for 'deny_status'"),
    ("deny-status-nan", parse_http_request_rule, "deny deny_status abc", "status code must be a number, got 'abc'"),
    ("deny-status-nopage", parse_http_request_rule, "deny deny_status 418", "status code '418' not handled by default with 'default-errorfiles' argument."),
    ("return-status-range", parse_http_request_rule, "return status 99", "Unexpected status code '99'"),
    ("return-no-ctype", parse_http_request_rule, "return status 200 string hi", "a content type must be defined when non-empty payload is configured"),
    ("return-lf-no-ctype", parse_http_request_rule, "return lf-string %[path]", "a content type must be defined with a log-format payload"),
    ("return-204-body", parse_http_request_rule, "return status 204 content-type t/p string x", "No body expected for 204 responses"),
    ("return-two-bodies", parse_http_request_rule, "return content-type t/p string a string b", "unexpected 'string' argument, 'string' already defined"),
    ("return-unknown-arg", parse_http_request_rule, "return colour red", "unexpected argument 'colour'"),
    ("return-errorfile", parse_http_request_rule, "return errorfile /x", "error opening file '/x'"),
    ("return-missing-value", parse_http_request_rule, "return status", "'status' expects an argument"),
    ("return-file-absent", parse_http_request_rule, "return content-type t/p file /nonexistent", "error opening file '/nonexistent'"),
    ("redirect-no-type", parse_http_request_rule, "redirect code 301", "redirection type expected ('prefix', 'location', or 'scheme')"),
    ("redirect-bad-code", parse_http_request_rule, "redirect location / code 305", "'code': unsupported HTTP code '305' (must be one of 301, 302, 303, 307 or 308)"),
    ("redirect-missing-arg", parse_http_request_rule, "redirect location", "missing argument for 'location'"),
    ("redirect-unknown-word", parse_http_request_rule, "redirect location / drop-qurey", "(was 'drop-qurey'); did you mean 'drop-query'?"),
    # standalone redirect
    ("redirect-stmt", parse_redirect, "prefx /x", "redirect: expects 'code', 'prefix', 'location', 'scheme'"),
    ("redirect-stmt-cond", parse_redirect, "location / if nope", "no such ACL : 'nope'"),
    # tcp-request
    ("tcp-empty", parse_tcp_request_rule, "", "'tcp-request' expects 'inspect-delay', 'connection', 'session' or 'content', but got nothing"),
    ("tcp-stage", parse_tcp_request_rule, "conection accept", "but got 'conection'; did you mean 'connection'?"),
    ("tcp-no-action", parse_tcp_request_rule, "content", "'tcp-request content' expects 'accept' or 'reject' (missing argument)"),
    ("tcp-action", parse_tcp_request_rule, "connection rejct", "'tcp-request connection' expects 'accept' or 'reject', but got 'rejct'; did you mean 'reject'?"),
    ("tcp-unsupported", parse_tcp_request_rule, "connection expect-proxy layer4", "'tcp-request connection expect-proxy' is an HAProxy action balancekit does not support"),
    ("tcp-trailing", parse_tcp_request_rule, "content accept now", "expects either 'if' or 'unless' followed by a condition but found 'now'"),
    ("tcp-delay", parse_tcp_request_rule, "inspect-delay 5x", "invalid time value '5x'"),
    ("tcp-delay-missing", parse_tcp_request_rule, "inspect-delay", "'tcp-request inspect-delay' expects a time value"),
    # use_backend
    ("use-empty", parse_use_backend, "", "'use_backend' requires a backend name"),
    ("use-cond-only", parse_use_backend, "if x", "'use_backend' requires a backend name"),
    ("use-trailing", parse_use_backend, "b when x", "'use_backend' expects either 'if' or 'unless' followed by a condition but found 'when'"),
    ("use-dynamic", parse_use_backend, "%[req.hdr(host)", "missing ']' after '%['"),
    ("use-bad-cond", parse_use_backend, "b if { path_bg /x }", "unknown fetch method 'path_bg'; did you mean 'path_beg'?"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("parser", "text", "message"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS]
)
def test_rule_errors(parser: Parser, text: str, message: str) -> None:
    words: Sequence[str] = text.split()
    with pytest.raises(ConfigError) as info:
        parser(words, AclSet(), file="fe.cfg", line=9)
    assert message in str(info.value)
    assert (info.value.file, info.value.line) == ("fe.cfg", 9)


@pytest.mark.parametrize(
    ("text", "ms"), [("5s", 5000), ("250", 250), ("250ms", 250), ("1m", 60000), ("2h", 7200000)]
)
def test_inspect_delay_units(text: str, ms: int) -> None:
    assert parse_tcp_request_rule(["inspect-delay", text], AclSet()) == InspectDelay(ms)
