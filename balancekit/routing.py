"""The Router: what a frontend does with one request, as a pure decision.

Order follows HAProxy's request analysers (http_ana.c, stream.c):

0. `tcp-request content` rules (HAProxy runs them in HTTP mode too, for each
   request): the first that matches decides; `reject` closes the connection.
1. `http-request` rules in order.  `allow` stops the list; `deny`, `redirect`,
   `return` and `reject` (close the connection without an answer) end the request.
   Header rules (`set-header`, `replace-value`…) accumulate and are applied to the
   request view at once, so later rules and `use_backend` see the edited headers.
2. Standalone `redirect` statements, in order (always after every
   `http-request` rule, wherever they sit in the section).
3. `use_backend` rules: the first whose condition holds; else
   `default_backend`; else no backend (`backend=None`: the front end answers 503).
4. The chosen backend's own rules (`BackendRules`), as the stream enters it: its
   `tcp-request content` rules, then its `http-request` rules and redirects, on
   the request as the frontend's rules edited it.

L4 has two entry points: `accept_connection` (tcp-request connection/session
rules) and `route_tcp` (tcp-request content rules, then the same backend choice).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

from .cache import CacheHit, CacheLookup
from .request import Request, RequestBody, ResponseView
from .rules import (
    ADDRESS_ACTIONS,
    HEADER_ACTIONS,
    LINE_ACTIONS,
    STREAM_ACTIONS,
    TABLE_ACTIONS,
    HeaderEdit,
    HttpRule,
    InspectDelay,
    TcpRule,
    UseBackend,
    apply_header_edits,
)
from .uri_normalize import InvalidUri

__all__ = ["BackendRules", "BodyWait", "Decision", "RestrictNames", "Router", "reply_decision"]

Action = Literal[
    "forward",
    "deny",
    "tarpit",
    "redirect",
    "return",
    "reject",
    "use-service",
    "auth",
    "cache",
    "wait-for-body",
]
#: One `103 Early Hints` response: its header lines, in order.
EarlyHint = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome for one request.

    `forward` goes to `backend` (None: no backend, answer 503) after applying
    `header_edits` to the forwarded request.  `deny` and `return` answer
    `status`; their `body` is None when the front end should use its error page
    for that status (or an `errorfile`).  `redirect` answers `status` with
    `location`.  `auth` answers the 401 error page with `response_headers`' challenge
    in place of any `WWW-Authenticate` it has.  `reject` closes an L4 connection.
    `wait-for-body` asks the front end for the request's body (`body_wait` says how
    long and how much), then for `body_wait.resume(body)`: the decision the rules
    reach once they read it.  `early_hints` are the `103 Early Hints` responses
    `early-hint` rules made, to send to the client before anything else.
    `response_headers` are extra headers for a locally generated answer (Set-Cookie,
    `hdr` of a `return`).  `rule` names the `file:line` of the rule that decided (the
    `use_backend` line for a forward; empty when `default_backend` applied), for logs
    and tests.  An answer a backend's rules decided names that `backend` too: its
    error pages and log line are the backend's.
    """

    action: Action = "forward"
    backend: str | None = None
    status: int = 0
    location: str | None = None
    body: str | None = None
    content_type: str | None = None
    header_edits: tuple[HeaderEdit, ...] = ()
    response_headers: tuple[tuple[str, str], ...] = ()
    rule: str = ""
    #: The request as the rules left it, when one rewrote its line (`set-path`…):
    #: its `uri` is what goes to the server, and what balancing and persistence read
    #: (None: the request as it came, headers edited as listed).
    request: Request | None = None
    #: The method `set-method` gave the server (None: the one that came).
    method: str | None = None
    #: What the last `cache-use` rule learnt of the request (its key), which a
    #: `cache-store` rule needs on the answer; `cache_hit`, with action "cache": the
    #: stored answer to send (from the proxy named `backend`, the frontend if None).
    cache_lookup: CacheLookup | None = None
    cache_hit: CacheHit | None = None
    #: A reply's whole HTTP message (`errorfile`, `errorfiles`), sent as is for `status`.
    raw: bytes | None = None
    #: The addresses as `set-src`/`set-dst` rules left them (src, src port, dst,
    #: dst port), for this request only (None: unchanged).
    addresses: tuple[str, int, str, int] | None = None
    #: The `103 Early Hints` responses to send first, each its header lines.
    early_hints: tuple[EarlyHint, ...] = ()
    #: With action "wait-for-body": what to wait for, and how the rules go on.
    body_wait: BodyWait | None = None


@dataclass(frozen=True, slots=True)
class BodyWait:
    """Rules stopped by `http-request wait-for-body` or `option http-buffer-request`.

    The front end reads the body for at most `wait` seconds (None: the waiting
    proxy's `timeout http-request`, else its `timeout client`, as the option does)
    until it has it all, `at_least` bytes (0: all) or as much as its buffer holds,
    then calls `resume` with it; the rules go on from where they stopped, on the
    request with the body (HAProxy's rule list yielding, then run again from the
    rule it stopped at).  `proxy` names the proxy whose timeout applies (None: the
    frontend).
    """

    wait: float | None
    at_least: int
    proxy: str | None
    router: Router
    spot: _Spot
    #: What a router wrapping this one does with the decision it resumes to (a stats
    #: page answering, say), as it does with those `route` gives.
    then: Callable[[Decision], Decision] | None = None

    def resume(self, body: RequestBody) -> Decision:
        """The decision once the rules read `body`."""
        decision = self.router.resume(self.spot, body)
        return decision if self.then is None else self.then(decision)


def _where(rule: HttpRule | TcpRule | UseBackend) -> str:
    return f"{rule.file}:{rule.line}"


@dataclass(frozen=True, slots=True)
class _Spot:
    """Where a body wait stopped the rules: the request and its view as the rules
    left them, the next rule's `index` (0 and up; -2: the backend's content rules,
    after the backend's `option http-buffer-request`), what the rules gathered so
    far, and the backend once chosen (None: still in the frontend's rules)."""

    request: Request
    view: Request
    index: int
    edits: tuple[HeaderEdit, ...] = ()
    method: tuple[str, ...] = ()
    cache: tuple[_CacheUse, ...] = ()
    backend: str | None = None
    where: str = ""

    @property
    def in_backend(self) -> bool:
        return self.backend is not None


def _unread(request: Request) -> bool:
    """Whether more of the request's body could be read for the rules."""
    body = request.body
    return body is None or body.partial


@dataclass(frozen=True, slots=True)
class _Wait:
    """A `wait-for-body` rule that applies before the body was read: resume at `index`."""

    rule: HttpRule
    index: int


#: `option http-restrict-req-hdr-names`: "" (preserve), "delete" or "reject".
RestrictNames = Literal["", "delete", "reject"]
#: The header names `option http-restrict-req-hdr-names` lets through.
_PLAIN_NAME = re.compile(r"[0-9A-Za-z-]+")


def _restricted(
    mode: RestrictNames, view: Request, edits: list[HeaderEdit]
) -> tuple[Decision | None, Request]:
    """`option http-restrict-req-hdr-names`, after a proxy's `http-request` rules
    (http_process_req_common): a header whose name has a byte other than a letter,
    a digit or `-` (`X_Forwarded_For`: read as `X-Forwarded-For` by some servers)
    is deleted (`delete`), or refuses the request with a 403 (`reject`)."""
    odd = [name for name, _ in view.headers.items if not _PLAIN_NAME.fullmatch(name)]
    if not odd:
        return None, view
    if mode == "reject":
        return Decision("deny", status=403, header_edits=tuple(edits)), view
    dropped = [HeaderEdit("del", name) for name in dict.fromkeys(n.lower() for n in odd)]
    edits.extend(dropped)
    return None, replace(view, headers=apply_header_edits(view.headers, dropped))


class BackendRules:
    """A backend's own `tcp-request content`, `http-request` and `redirect` rules.

    HAProxy evaluates them when a stream enters the backend, after the
    frontend's rules and `use_backend`: a `deny` in a backend answers even when
    the frontend allowed the request.
    """

    __slots__ = ("buffer_body", "http", "redirects", "restrict_names", "tcp_content")

    def __init__(
        self,
        http_rules: Iterable[HttpRule] = (),
        tcp_content_rules: Iterable[TcpRule | InspectDelay] = (),
        *,
        buffer_body: bool = False,
        restrict_names: RestrictNames = "",
    ) -> None:
        #: `option http-buffer-request`: the body is waited for as the stream
        #: enters this proxy, before its rules (HAProxy's AN_REQ_HTTP_BODY).
        self.buffer_body = buffer_body
        #: `option http-restrict-req-hdr-names delete|reject` ("": preserve).
        self.restrict_names = restrict_names
        rules = tuple(http_rules)
        self.http = tuple(r for r in rules if not r.standalone)
        self.redirects = tuple(r for r in rules if r.standalone)
        self.tcp_content = tuple(r for r in tcp_content_rules if isinstance(r, TcpRule))

    def __repr__(self) -> str:
        return (
            f"<BackendRules http-request={len(self.http)} redirect={len(self.redirects)} "
            f"tcp-request content={len(self.tcp_content)}>"
        )

    def __bool__(self) -> bool:
        return bool(
            self.http or self.redirects or self.tcp_content or self.buffer_body
            or self.restrict_names
        )  # fmt: skip


class Router:
    """Evaluates one frontend's compiled rules; holds no per-request state."""

    __slots__ = (
        "_backend_rules",
        "_buffer_body",
        "_default",
        "_fixed_tcp",
        "_http",
        "_known",
        "_redirects",
        "_restrict_names",
        "_tcp_connection",
        "_tcp_content",
        "_use_backends",
    )

    def __init__(
        self,
        http_rules: Iterable[HttpRule] = (),
        tcp_connection_rules: Iterable[TcpRule | InspectDelay] = (),
        tcp_content_rules: Iterable[TcpRule | InspectDelay] = (),
        use_backends: Iterable[UseBackend] = (),
        default_backend: str | None = None,
        redirects: Iterable[HttpRule] = (),
        backend_rules: Mapping[str, BackendRules] | None = None,
        known_backends: Iterable[str] | None = None,
        *,
        buffer_body: bool = False,
        restrict_names: RestrictNames = "",
    ) -> None:
        own = BackendRules(http_rules, tcp_content_rules)  # split as a backend's are
        self._restrict_names = restrict_names  # the frontend's (see BackendRules)
        self._buffer_body = buffer_body  # the frontend's `option http-buffer-request`
        # The backends a dynamic `use_backend %[…]` may name (None: any name).
        self._known = None if known_backends is None else frozenset(known_backends)
        self._http = own.http
        self._redirects = (*own.redirects, *redirects)
        self._tcp_connection = tuple(r for r in tcp_connection_rules if isinstance(r, TcpRule))
        self._tcp_content = own.tcp_content
        self._use_backends = tuple(use_backends)
        self._default = default_backend
        self._backend_rules = {name: r for name, r in (backend_rules or {}).items() if r}
        # With no content rule and no use_backend, every connection gets the same
        # (immutable) decision: an L4 front end asks once per connection.
        self._fixed_tcp = (
            None
            if self._tcp_content or self._use_backends or self._backend_rules
            else Decision("forward", backend=default_backend, rule="")
        )

    def __repr__(self) -> str:
        return (
            f"<Router http-request={len(self._http)} redirect={len(self._redirects)} "
            f"tcp-request connection={len(self._tcp_connection)} "
            f"content={len(self._tcp_content)} use_backend={len(self._use_backends)} "
            f"default_backend={self._default!r} backends with rules={len(self._backend_rules)}>"
        )

    def route(self, request: Request) -> Decision:
        """Decide an HTTP request: tcp-request content rules, http-request rules,
        redirects, then the backend.  The stream's unique ID (`unique-id-format`)
        of a request to forward is then built, if no rule asked for it, on the
        request as the rules left it (http_process_request); one answered here gets
        it when it is logged, from what is left of it then (see `ResponseView`)."""
        return self._decided(request, None)

    def _decided(self, request: Request, spot: _Spot | None) -> Decision:
        hints: list[list[tuple[str, str]]] = []
        decision, view = self._route(request, hints, spot)
        if hints:
            decision = replace(decision, early_hints=tuple(tuple(h) for h in hints))
        if decision.action == "wait-for-body":
            return decision
        if view is not request:  # (a rule rewrote something: maybe the addresses)
            moved = (view.src, view.src_port, view.dst, view.dst_port)
            if moved != (request.src, request.src_port, request.dst, request.dst_port):
                decision = replace(decision, addresses=moved)
        stream = view.stream
        if stream is not None and stream.unique_id_format is not None:
            stream.unique_id(view if decision.action == "forward" else ResponseView(view))
        return decision

    def _route(
        self, request: Request, hints: list[list[tuple[str, str]]], spot: _Spot | None = None
    ) -> tuple[Decision, Request]:
        """Every step of `route`, from the start or (`spot`) from where a body wait
        stopped them; a wait returns a "wait-for-body" decision to resume from."""
        if spot is None:
            rejected = _tcp_content_verdict(self._tcp_content, request)
            if rejected is not None:
                return rejected, request
            edits: list[HeaderEdit] = []
            method: list[str] = []  # what set-method rules said, the last one last
            cache: list[_CacheUse] = []  # what cache-use rules found
            view, start, backend, where = request, 0, None, ""
            if self._buffer_body and _unread(request):
                return self._pause(_Spot(request, view, 0), None, None, 0), view
        else:
            request, view, start = spot.request, spot.view, spot.index
            edits, method, cache = list(spot.edits), list(spot.method), list(spot.cache)
            backend, where = spot.backend, spot.where
        if spot is None or not spot.in_backend:
            final, view = _http_verdict(
                self._http, self._redirects, view, edits, method, cache, hints, start
            )
            if isinstance(final, _Wait):
                here = _Spot(request, view, final.index, tuple(edits), tuple(method), tuple(cache))
                return self._pause(here, final.rule.wait, None, final.rule.at_least), view
            if final is not None:
                return final, view
            if cache and _first_hit(cache) is not None:
                return _cached(cache, None, edits), view  # answered by the frontend
            if self._restrict_names:
                refused, view = _restricted(self._restrict_names, view, edits)
                if refused is not None:
                    return refused, view
            backend, where = self._backend(view)
            start = -1  # entering the backend
        rules = self._backend_rules.get(backend) if backend is not None else None
        if rules is not None:
            if start < 0:  # entering it (-1), or again after its body wait (-2)
                if start == -1 and rules.buffer_body and _unread(view):
                    # (HAProxy's body analyser runs before the backend's content rules)
                    here = _Spot(
                        request, view, -2, tuple(edits), tuple(method), tuple(cache),
                        backend, where,
                    )  # fmt: skip
                    return self._pause(here, None, backend, 0), view
                rejected = _tcp_content_verdict(rules.tcp_content, view)
                if rejected is not None:
                    return rejected, view
            final, view = _http_verdict(
                rules.http, rules.redirects, view, edits, method, cache, hints, max(start, 0)
            )
            if isinstance(final, _Wait):
                here = _Spot(
                    request, view, final.index, tuple(edits), tuple(method), tuple(cache),
                    backend, where,
                )  # fmt: skip
                return self._pause(here, final.rule.wait, backend, final.rule.at_least), view
            if final is not None:
                return replace(final, backend=backend), view  # (the backend's pages answer)
            if cache and _first_hit(cache) is not None:
                return _cached(cache, backend, edits), view
            if rules.restrict_names:
                refused, view = _restricted(rules.restrict_names, view, edits)
                if refused is not None:
                    return replace(refused, backend=backend), view
        # A rewritten line or address: balancing and persistence read the new one.
        rewritten = view if view.uri != request.uri or view.src != request.src else None
        return Decision(
            "forward",
            backend=backend,
            header_edits=tuple(edits),
            rule=where,
            request=rewritten,
            method=method[-1] if method else None,
            cache_lookup=_last_lookup(cache) if cache else None,
        ), view

    def _pause(self, spot: _Spot, wait: float | None, proxy: str | None, at_least: int) -> Decision:
        return Decision(
            "wait-for-body",
            backend=proxy,
            header_edits=spot.edits,
            body_wait=BodyWait(wait, at_least, proxy, self, spot),
        )

    def resume(self, spot: _Spot, body: RequestBody) -> Decision:
        """`route` again from `spot`, where a body wait stopped it, on the request
        with `body` (see `BodyWait`)."""
        with_body = _Spot(
            replace(spot.request, body=body),
            replace(spot.view, body=body),
            spot.index,
            spot.edits,
            spot.method,
            spot.cache,
            spot.backend,
            spot.where,
        )
        return self._decided(with_body.request, with_body)

    def with_default(self, backend: str | None) -> Router:
        """The same compiled rules with another `default_backend` (None: no default)."""
        clone = Router(
            self._http,
            self._tcp_connection,
            self._tcp_content,
            self._use_backends,
            backend,
            backend_rules=self._backend_rules,
            known_backends=self._known,
            buffer_body=self._buffer_body,
        )
        clone._redirects = self._redirects
        return clone

    @property
    def filters_connections(self) -> bool:
        """Whether any `tcp-request connection` rule exists, so front ends can skip
        building a request view for connections nothing would inspect."""
        return bool(self._tcp_connection)

    @property
    def fixed_tcp(self) -> Decision | None:
        """The decision `route_tcp` gives every connection when no content rule,
        `use_backend` or backend rule reads it (None when one does), so an L4 front
        end can route without building a request view."""
        return self._fixed_tcp

    @property
    def waits_for_body(self) -> bool:
        """Whether a rule or `option http-buffer-request` (the frontend's or a
        backend's) can stop the rules until the request body is read."""
        lists = [self._http, *(rules.http for rules in self._backend_rules.values())]
        return (
            self._buffer_body
            or any(rules.buffer_body for rules in self._backend_rules.values())
            or any(rule.action == "wait-for-body" for rules in lists for rule in rules)
        )

    @property
    def uses_service(self) -> bool:
        """Whether an `http-request use-service` rule exists (a service such as the
        Prometheus exporter answers some requests itself)."""
        return any(rule.action == "use-service" for rule in self._http)

    @property
    def fixed_http(self) -> Decision | None:
        """The decision `route` gives every request when no rule of any kind could
        change it (no `http-request`, redirect, `tcp-request`, `use_backend` or
        backend rule), so an HTTP front end can skip building a request view; None
        when one could."""
        if (
            self._http
            or self._redirects
            or self._tcp_connection
            or self._tcp_content
            or self._use_backends
            or self._backend_rules
            or self._buffer_body
        ):
            return None
        return self.route(Request())

    def accept_connection(self, request: Request) -> bool:
        """`tcp-request connection` (and `session`) rules: first match decides; default
        accept.  A matching `track-scN` tracks (in `request.stream`, the connection's
        counters) and the rules go on."""
        for rule in self._tcp_connection:
            if rule.applies(request):
                if rule.action == "track":
                    rule.track_key(request)
                    continue
                if rule.action == "var":
                    assert rule.track is not None
                    rule.track.store_var(request)
                    continue
                return rule.action == "accept"
        return True

    def route_tcp(self, request: Request) -> Decision:
        """`tcp-request content` rules, then `use_backend` / `default_backend`, then
        the chosen backend's content rules (L4)."""
        decision = self.route_tcp_frontend(request)
        if decision.action != "forward":
            return decision
        return self.backend_content(decision.backend, request) or decision

    def route_tcp_frontend(self, request: Request) -> Decision:
        """The frontend's half of `route_tcp`: its content rules and the backend.
        A front end whose backend waits for data of its own (`tcp-request
        inspect-delay` there) runs `backend_content` once it has."""
        if self._fixed_tcp is not None:
            return self._fixed_tcp
        rejected = _tcp_content_verdict(self._tcp_content, request)
        if rejected is not None:
            return rejected
        backend, where = self._backend(request)
        return Decision("forward", backend=backend, rule=where)

    def backend_content(self, backend: str | None, request: Request) -> Decision | None:
        """A backend's `tcp-request content` rules: a reject Decision, or None."""
        rules = self._backend_rules.get(backend) if backend is not None else None
        if rules is None:
            return None
        return _tcp_content_verdict(rules.tcp_content, request)

    def _backend(self, request: Request) -> tuple[str | None, str]:
        """The backend and the `use_backend` line that chose it ("" for the default)."""
        for use in self._use_backends:
            if use.applies(request):
                if use.name_format is None:
                    return use.backend, _where(use)
                name = use.name_format.render(request)
                if self._known is None or name in self._known:
                    return name, _where(use)
                # No such backend: the rules stop there and the default applies
                # (stream.c's process_switching_rules).
                break
        return self._default, ""


def _tcp_content_verdict(rules: tuple[TcpRule, ...], request: Request) -> Decision | None:
    """A reject Decision when the first matching accept/reject content rule rejects,
    else None; matching `track-scN` rules before it track and go on."""
    for rule in rules:
        if rule.applies(request):
            if rule.action == "track":
                rule.track_key(request)
                continue
            if rule.action == "var":
                assert rule.track is not None
                rule.track.store_var(request)
                continue
            if rule.action == "reject":
                return Decision("reject", rule=_where(rule))
            break
    return None


_CacheUse = tuple[CacheLookup | None, CacheHit | None]


def _first_hit(found: list[_CacheUse]) -> CacheHit | None:
    return next((hit for _, hit in found if hit is not None), None)


def _last_lookup(found: list[_CacheUse]) -> CacheLookup | None:
    return next((lookup for lookup, _ in reversed(found) if lookup is not None), None)


def _cached(found: list[_CacheUse], backend: str | None, edits: list[HeaderEdit]) -> Decision:
    """A request `cache-use` found an answer for: HAProxy's cache applet answers it
    once the proxy's rules ran, and no backend is chosen after it."""
    return Decision(
        "cache",
        backend=backend,
        header_edits=tuple(edits),
        cache_lookup=_last_lookup(found),
        cache_hit=_first_hit(found),
    )


def _http_verdict(
    rules: tuple[HttpRule, ...],
    redirects: tuple[HttpRule, ...],
    request: Request,
    edits: list[HeaderEdit],
    method: list[str],
    cache: list[_CacheUse],
    hints: list[list[tuple[str, str]]],
    start: int = 0,
) -> tuple[Decision | _Wait | None, Request]:
    """Run `http-request` rules from the `start`th, then redirects: the final
    Decision if one ends the request, a `_Wait` if a `wait-for-body` rule wants
    the body first (else None), and the request view with the edits so far (header
    edits also appended to `edits`, `set-method` results to `method`, what
    `cache-use` rules found to `cache`, `early-hint` responses to `hints`)."""
    view = request
    hint_open = False
    for index in range(start, len(rules)):
        rule = rules[index]
        if not rule.applies(view):
            continue
        action = rule.action
        if action == "allow":
            break
        if action in TABLE_ACTIONS:
            rule.update_table(view)
            continue
        if action in HEADER_ACTIONS:
            edit = rule.header_edit(view)
            edits.append(edit)
            view = replace(view, headers=apply_header_edits(view.headers, (edit,)))
            continue
        if action == "set-method":
            new, view = rule.new_method(view)
            method.append(new)
            continue
        if action in LINE_ACTIONS:
            view = rule.rewrite_line(view)
            continue
        if action in ADDRESS_ACTIONS:
            view = rule.move(view)
            continue
        if action == "normalize-uri":
            try:
                view = rule.normalized(view)
            except InvalidUri:
                # HAProxy's ACT_RET_INV: a bad request, answered with its 400 page.
                return Decision(
                    "deny", status=400, header_edits=tuple(edits), rule=_where(rule)
                ), view
            continue
        if action in STREAM_ACTIONS:
            rule.on_stream(view)
            continue
        if action == "cache-use":
            assert rule.cache is not None
            cache.append(rule.cache.lookup(view))
            continue
        if action == "wait-for-body":
            if _unread(view):
                return _Wait(rule, index + 1), view
            continue
        if action == "early-hint":
            if view.version == "HTTP/1.0":
                continue  # (HAProxy sends early hints to HTTP/1.1 clients only)
            if not hint_open:
                hints.append([])
            assert rule.value is not None
            hints[-1].append((rule.header, rule.value.render(view)))
            # A run of early-hint rules makes one response; the run ends before a
            # rule of another kind, or a conditional one (http_action_early_hint).
            after = rules[index + 1] if index + 1 < len(rules) else None
            hint_open = after is not None and after.action == "early-hint" and after.cond is None
            continue
        return _final(rule, view, tuple(edits)), view
    for rule in redirects:
        if rule.applies(view):
            return _final(rule, view, tuple(edits)), view
    return None, view


def _final(rule: HttpRule, view: Request, edits: tuple[HeaderEdit, ...]) -> Decision:
    if rule.action in ("deny", "tarpit", "auth") and view.stream is not None:
        view.stream.error()  # both count as request errors on the tracked entries
    if rule.action == "reject":
        return Decision("reject", header_edits=edits, rule=_where(rule))
    if rule.action == "use-service":
        # `body` names the service; the front end answers (stats_page.StatsRouter).
        return Decision(
            "use-service", body=rule.render_body(view), header_edits=edits, rule=_where(rule)
        )
    if rule.action == "auth":
        # The realm is the rule's, else its proxy's name (filled in at load).
        challenge = f'Basic realm="{rule.realm}"'
        return Decision(
            "auth",
            status=401,
            header_edits=edits,
            response_headers=(("WWW-Authenticate", challenge),),
            rule=_where(rule),
        )
    return reply_decision(rule, view, edits)


def reply_decision(
    rule: HttpRule, view: Request, edits: tuple[HeaderEdit, ...] = (), reply: Request | None = None
) -> Decision:
    """The answer of a `redirect`, `deny` or `return` rule: the redirect's location
    rendered on `view`, a reply's body and headers on `reply` (default `view`)."""
    if rule.redirect is not None:
        cookie = rule.redirect.set_cookie
        return Decision(
            "redirect",
            status=rule.redirect.code,
            location=rule.redirect.location(view),
            header_edits=edits,
            response_headers=(("Set-Cookie", cookie),) if cookie else (),
            rule=_where(rule),
        )
    reply = view if reply is None else reply
    return Decision(
        "deny" if rule.action == "deny" else "tarpit" if rule.action == "tarpit" else "return",
        status=rule.status,
        body=rule.render_body(reply),
        content_type=rule.content_type,
        header_edits=edits,
        response_headers=tuple((name, fmt.render(reply)) for name, fmt in rule.reply_headers),
        rule=_where(rule),
        raw=rule.raw_reply,
    )
