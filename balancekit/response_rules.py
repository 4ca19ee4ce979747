"""Response rules: `http-response` and `http-after-response`, as a pure decision.

HAProxy runs a response's rules where its analysers meet the answer
(http_ana.c's http_process_res_common): the backend's `http-response` list
first, then the frontend's (one list when both are the same `listen`); `allow`
ends only the list it is in.  Header rules change the response at once, so later
rules (and their conditions) see the edited head; `deny`, `return` and
`redirect` replace the server's answer with one the proxy makes.  After those,
`http-after-response` rules run on every answer the client gets, the proxy's
own error pages, redirects and returns included (http_eval_after_res_rules).

The front end builds a `ResponseView` (the request and the response head) and
applies what `evaluate` returns; the rules hold no per-response state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .acl import AclSet
from .acl.fetches import suggest
from .cache import Cache
from .errors import ConfigError
from .request import Headers, ResponseView
from .routing import Decision, reply_decision
from .rules import (
    HEADER_ACTIONS,
    STREAM_ACTIONS,
    VAR_ACTIONS,
    HeaderEdit,
    HttpRule,
    _condition,
    _parse_del_header,
    _parse_deny,
    _parse_redirect_words,
    _parse_replace,
    _parse_reply,
    _parse_set_header,
    _reply_rule,
    apply_header_edits,
    parse_cache_rule,
    parse_capture_rule,
    parse_log_level_rule,
    parse_var_rule,
)
from .status_reasons import status_reason

__all__ = [
    "AFTER_RESPONSE_ACTIONS",
    "RESPONSE_ACTIONS",
    "ResponseVerdict",
    "evaluate",
    "parse_http_response_rule",
    "status_reason",
]

#: The `http-response` actions balancekit implements.
RESPONSE_ACTIONS = (
    "allow",
    "deny",
    "return",
    "redirect",
    "set-header",
    "add-header",
    "del-header",
    "replace-header",
    "replace-value",
    "set-status",
    "set-var",
    "set-var-fmt",
    "unset-var",
    "cache-store",
    "set-log-level",
    "capture",
)
#: The `http-after-response` actions balancekit implements.
AFTER_RESPONSE_ACTIONS = (
    "allow",
    "set-header",
    "add-header",
    "del-header",
    "replace-header",
    "replace-value",
    "set-status",
    "set-var",
    "set-var-fmt",
    "unset-var",
)
#: `http-response` actions of HAProxy 2.6 that balancekit does not implement.
RESPONSE_ACTIONS_UNSUPPORTED = frozenset((
    "add-acl", "del-acl", "del-map", "sc-inc-gpc", "sc-inc-gpc0",
    "sc-inc-gpc1", "sc-set-gpt", "sc-set-gpt0", "send-spoe-group", "set-map",
    "set-mark", "set-nice", "set-tos", "silent-drop", "strict-mode",
    "track-sc0", "track-sc1", "track-sc2", "wait-for-body",
))  # fmt: skip
#: `http-after-response` actions of HAProxy 2.6 that balancekit does not implement.
AFTER_RESPONSE_ACTIONS_UNSUPPORTED = frozenset(("capture", "strict-mode"))


@dataclass(frozen=True, slots=True)
class ResponseVerdict:
    """What the rules make of one response.

    `status` and `reason` are the status line to send (`reason` None: keep the
    one the answer had; a `set-status` sets both);
    `header_edits` change the head in order.  `answer` is set when a `deny`,
    `return` or `redirect` replaced the answer: a `Decision` as the request rules
    give one (`deny` counts as a denied response, the others as local answers),
    whose `rule` names the `file:line` of the rule that replaced it.  `stores`
    lists what each `cache-store` rule saw: its cache, and the status, reason and
    headers at that point of the rules (later rules change what is sent, not
    what is stored).
    """

    status: int
    reason: str | None = None
    header_edits: tuple[HeaderEdit, ...] = ()
    answer: Decision | None = None
    stores: tuple[tuple[Cache, int, str | None, Headers], ...] = ()


def evaluate(rule_lists: Sequence[Sequence[HttpRule]], view: ResponseView) -> ResponseVerdict:
    """Run each list in order (backend's, then frontend's) on `view`."""
    status = view.status
    reason: str | None = None
    edits: list[HeaderEdit] = []
    stores: list[tuple[Cache, int, str | None, Headers]] = []
    for rules in rule_lists:
        for rule in rules:
            if not rule.applies(view):
                continue
            action = rule.action
            if action == "allow":
                break
            if action in HEADER_ACTIONS:
                edit = rule.header_edit(view)
                edits.append(edit)
                headers = apply_header_edits(view.response.headers, (edit,))
                view = ResponseView(view, view.status, headers)
                continue
            if action in STREAM_ACTIONS:
                rule.on_stream(view, response=True)
                continue
            if action == "set-status":
                status, reason = rule.status, rule.reason or status_reason(rule.status)
                view = ResponseView(view, status, view.response.headers)
                continue
            if action == "cache-store":
                assert rule.cache is not None
                stores.append((rule.cache, status, reason, view.response.headers))
                continue
            # A reply is built once the server's answer is dropped (HAProxy empties
            # the response buffer first): `%[status]` there finds nothing.
            answer = reply_decision(rule, view, reply=ResponseView(view, 0))
            return ResponseVerdict(status, reason, tuple(edits), answer)
    return ResponseVerdict(status, reason, tuple(edits), stores=tuple(stores))


def parse_http_response_rule(
    words: Sequence[str],
    acls: AclSet,
    *,
    after: bool = False,
    file: str = "<string>",
    line: int = 0,
) -> HttpRule:
    """Compile the words after `http-response` (or `http-after-response`, `after`)."""
    side = "http-after-response" if after else "http-response"
    actions = AFTER_RESPONSE_ACTIONS if after else RESPONSE_ACTIONS
    unsupported = AFTER_RESPONSE_ACTIONS_UNSUPPORTED if after else RESPONSE_ACTIONS_UNSUPPORTED
    if not words:
        raise ConfigError(f"'{side}' expects {', '.join(actions)} (missing argument)", file, line)
    action = words[0]
    what = f"{side} {action}"
    if action.split("(", 1)[0] in VAR_ACTIONS:
        return parse_var_rule(words, acls, file, line, side=side, response=True)
    if action in actions:
        return _parse(action, words, acls, side, what, file, line)
    if action.split("(", 1)[0] in unsupported or action.startswith("lua."):
        raise ConfigError(
            f"'{what}' is an HAProxy action balancekit does not support "
            f"(supported: {', '.join(actions)})",
            file,
            line,
        )
    raise ConfigError(
        f"'{side}' expects {', '.join(actions)}, but got '{action}'"
        f"{suggest(action, [*actions, *unsupported])}",
        file,
        line,
    )


def _parse(
    action: str, words: Sequence[str], acls: AclSet, side: str, what: str, file: str, line: int
) -> HttpRule:
    if action == "allow":
        return HttpRule("allow", _condition(words, 1, acls, what, file, line, response=True),
                        file, line)  # fmt: skip
    if action in ("set-header", "add-header"):
        return _parse_set_header(words, acls, file, line, side=side)
    if action == "del-header":
        return _parse_del_header(words, acls, file, line, side=side)
    if action in ("replace-header", "replace-value"):
        return _parse_replace(words, acls, file, line, side=side)
    if action == "set-status":
        return _parse_set_status(words, acls, what, file, line)
    if action == "cache-store":
        return parse_cache_rule(words, acls, side, file, line)
    if action == "set-log-level":
        return parse_log_level_rule(words, acls, side, file, line)
    if action == "capture":
        return parse_capture_rule(words, acls, side, file, line)
    if action == "deny":
        return _parse_deny(words, acls, file, line, side=side, status=502)
    if action == "return":
        reply, at = _parse_reply(words, 1, 200, what, file, line, acls, response=True)
        cond = _condition(words, at, acls, what, file, line, response=True)
        return _reply_rule("return", reply, cond, file, line)
    # redirect
    redirect, cond = _parse_redirect_words(
        words[1:], acls, what, file, line, use_fmt=True, response=True
    )
    if redirect.kind != "location":
        raise ConfigError(
            f"'{what}': error parsing http-response redirect rule: response only supports "
            "redirect type 'location'",
            file,
            line,
        )
    return HttpRule("redirect", cond, file, line, status=redirect.code, redirect=redirect)


def _parse_set_status(
    words: Sequence[str], acls: AclSet, what: str, file: str, line: int
) -> HttpRule:
    """`set-status <code> [reason <text>] [cond]`: the reason is literal text."""
    if len(words) < 2 or words[1] in ("if", "unless"):
        raise ConfigError(
            f"'{what}': expects 1 argument: <status>; or 3 arguments: <status> reason <fmt>",
            file,
            line,
        )
    code = words[1]
    if not code.isdigit() or not 100 <= int(code) <= 999:
        raise ConfigError(
            f"'{what}': expects an integer status code between 100 and 999", file, line
        )
    at, reason = 2, None
    if at < len(words) and words[at] == "reason":
        if at + 1 >= len(words):
            raise ConfigError(
                f"'{what}': expects 1 argument: <status>; or 3 arguments: <status> reason <fmt>",
                file,
                line,
            )
        reason, at = words[at + 1], at + 2
    cond = _condition(words, at, acls, what, file, line, response=True)
    return HttpRule("set-status", cond, file, line, status=int(code), reason=reason)
