"""The statistics page (`stats enable|uri|auth|refresh`) and the Prometheus service.

HAProxy serves its stats page from inside the proxy: when a request reaches a
proxy with `stats enable` and its URI starts with `stats uri`, the proxy answers
itself.  balancekit does the same by wrapping a frontend's `Router`
(`StatsRouter`): matching requests get a local `return` decision carrying the
page, so the L7 proxy needs no special case.  The same wrapper answers
`http-request use-service prometheus-exporter` with `metrics.render()`.

* `<uri>` — an HTML page in HAProxy's spirit: one table per proxy, one row per
  server, HAProxy's state colours, session rates, and a legend;
* `<uri>;csv` — exactly `show stat`'s CSV;
* `stats auth user:pass` (repeatable) — HTTP Basic auth, 401 otherwise;
  `stats http-request allow|deny|auth` — the page's own rules instead;
* `stats refresh 10s` — a `Refresh` header (`;norefresh` turns it off);
* `stats admin if <cond>` — a form per backend; its POST is a `use-service`
  decision that the proxy completes through `StatsRouter.serve` once it has read
  the body (stats_admin.py applies it).
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from balancekit import Request
from balancekit.auth import read_authorization
from balancekit.config import Config, StatsPage
from balancekit.routing import Decision, Router
from balancekit_server.http.proxy import BodyService
from balancekit_server.ops import metrics
from balancekit_server.ops.checks import HealthMonitor
from balancekit_server.ops.stats_admin import (
    FORM_LIMIT,
    MESSAGES,
    ServerActions,
    run_form,
    status_code,
)
from balancekit_server.ops.stats_data import (
    TYPE_BACKEND,
    TYPE_FRONTEND,
    TYPE_SERVER,
    Proxy,
    StatsSource,
)

if TYPE_CHECKING:
    from balancekit_server.http.proxy import HttpProxy, RouterLike

__all__ = ["ADMIN_SERVICE", "DEFAULT_REALM", "PageView", "StatsRouter", "render_csv", "render_html"]

DEFAULT_REALM = "HAProxy Statistics"

# HAProxy's stats page palette (class → background).
_COLOURS = {
    "active_up": "#c0ffc0",
    "active_going_down": "#ffffa0",
    "active_going_up": "#ff9040",
    "active_down": "#ff9090",
    "active_drain": "#20a0ff",
    "active_maint": "#c07820",
    "backup_up": "#b0d0ff",
    "backup_going_down": "#c0c0ff",
    "backup_going_up": "#ff80ff",
    "backup_down": "#cc9900",
    "backup_drain": "#20a0ff",
    "backup_maint": "#c07820",
    "backend_down": "#ff9090",
    "frontend": "#ffffff",
    "nocheck": "#e0e0e0",
}


def _css_class(status: str, backup: bool) -> str:
    prefix = "backup" if backup else "active"
    if status == "no check":
        return "nocheck"
    if status.startswith("MAINT"):
        return f"{prefix}_maint"
    if status.startswith("DRAIN"):
        return f"{prefix}_drain"
    if status.startswith("UP "):
        return f"{prefix}_going_down"
    if status.startswith("DOWN "):
        return f"{prefix}_going_up"
    if status.startswith("DOWN"):
        return f"{prefix}_down"
    return f"{prefix}_up"


def _age(seconds: str) -> str:
    if not seconds or seconds == "-1":
        return ""
    value = int(seconds)
    days, rest = divmod(value, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


_HEAD = (
    "<th rowspan=2>Name</th><th colspan=3>Queue</th><th colspan=3>Session rate</th>"
    "<th colspan=6>Sessions</th><th colspan=2>Bytes</th><th colspan=2>Denied</th>"
    "<th colspan=3>Errors</th><th colspan=2>Warnings</th><th colspan=9>Server</th>"
)
_SUB_WORDS = (
    "Cur Max Limit Cur Max Limit Cur Max Limit Total LbTot Last In Out Req Resp "
    "Req Conn Resp Retr Redis Status LastChk Wght Act Bck Chk Dwn Dwntme Thrtle"
)
_SUBHEAD = "".join(f"<th>{h}</th>" for h in _SUB_WORDS.split())


def _cells(row: Mapping[str, str]) -> list[str]:
    kind = int(row["type"])
    status = row["status"]
    if kind == TYPE_SERVER and row.get("check_status"):
        last = f"{row['check_status']}"
        if row.get("check_code"):
            last += f"/{row['check_code']}"
        if row.get("check_duration"):
            last += f" in {row['check_duration']}ms"
    else:
        last = ""
    status_text = status
    if kind in (TYPE_SERVER, TYPE_BACKEND) and row.get("lastchg") not in (None, "", "-1"):
        status_text = f"{_age(row['lastchg'])} {status}"
    values = [
        row.get("qcur", ""),
        row.get("qmax", ""),
        row.get("qlimit", ""),
        row.get("rate", ""),
        row.get("rate_max", ""),
        row.get("rate_lim", ""),
        row.get("scur", ""),
        row.get("smax", ""),
        row.get("slim", ""),
        row.get("stot", ""),
        row.get("lbtot", ""),
        _age(row.get("lastsess", "")),
        row.get("bin", ""),
        row.get("bout", ""),
        row.get("dreq", ""),
        row.get("dresp", ""),
        row.get("ereq", ""),
        row.get("econ", ""),
        row.get("eresp", ""),
        row.get("wretr", ""),
        row.get("wredis", ""),
        status_text,
        last,
        row.get("weight", ""),
        "Y" if row.get("act") == "1" and kind == TYPE_SERVER else row.get("act", ""),
        "Y" if row.get("bck") == "1" and kind == TYPE_SERVER else row.get("bck", ""),
        row.get("chkfail", ""),
        row.get("chkdown", ""),
        _age(row.get("downtime", "")) if row.get("downtime") else "",
        f"{row['throttle']} %" if row.get("throttle") else "",
    ]
    return [html.escape(v) for v in values]


def render_html(
    source: StatsSource,
    *,
    uri: str,
    refresh: float | None = None,
    hide_version: bool = False,
    now: float | None = None,
    page: StatsPage | None = None,
    view: PageView | None = None,
) -> str:
    """The HTML statistics report: a summary, a legend, then one table per proxy.

    `page` brings `stats show-node|show-desc|show-legends`.  Descriptions are
    written as HAProxy writes them, unescaped: they come from the config's author,
    who may put markup in them.  `view` is what the request asked for: a scope, the
    result of an action (`;st=`), and whether it may act on servers (`stats admin`).
    """
    view = view or PageView()
    at = time.time() if now is None else now
    info = dict(source.info(at))
    rows = _in_scope(source.rows(now=at), view)
    by_proxy: dict[str, list[Mapping[str, str]]] = {}
    for row in rows:
        by_proxy.setdefault(row["pxname"], []).append(row)
    style = "".join(
        f"tr.{name} td {{background: {colour};}}\n" for name, colour in _COLOURS.items()
    )
    version = "" if hide_version else f" version {html.escape(info['Version'])}"
    node = desc = ""
    if page is not None and page.show_node is not None:
        node = f" on {page.show_node or info['node']}"
    if page is not None and page.show_desc is not None:
        desc = f": {page.show_desc or info.get('description', '')}"
    legends = page is not None and page.show_legends
    proxies = {proxy.name: proxy for proxy in source.proxies}
    out = [
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>",
        f"<title>Statistics Report for balancekit{node}</title>",
        "<style>\nbody {font-family: arial, helvetica, sans-serif; font-size: 12px;}\n"
        "table.tbl {border-collapse: collapse; margin-bottom: 1.5em;}\n"
        "table.tbl td, table.tbl th {border: 1px solid #999; padding: 1px 4px; font-size: 10px;"
        " text-align: right;}\n"
        "table.tbl td.name {text-align: left;}\n"
        "table.tbl th.pxname {background: #b00040; color: #ffff40; font-weight: bold;"
        " text-align: left;"
        " padding: 2px 6px;}\n"
        "h1 {font-size: x-large;} h2 {color: #6020a0; font-size: large;}\n"
        "table.tbl th {background: #20a0ff;}\n"
        "tr.frontend td, tr.backend td {font-weight: bold;}\n" + style + "</style>",
        "</head><body>",
        f"<h1>balancekit{version}</h1>",
        f"<h2>Statistics Report for pid {html.escape(info['Pid'])}{node}{desc}</h2>",
        "<p class='info'>",
        f"uptime = {html.escape(info['Uptime'])}; current conns = {info['CurrConns']}; "
        f"total conns = {info['CumConns']}; total requests = {info['CumReq']}; "
        f"session rate = {info['SessRate']}/s",
        (f"; refresh every {refresh:g}s" if refresh else ""),
        f" &mdash; <a href='{html.escape(uri)};csv'>CSV export</a></p>",
        "<table class='legend'><tr>",
    ]
    for name, label in (
        ("active_up", "active UP"),
        ("backup_up", "backup UP"),
        ("active_going_down", "active UP, going down"),
        ("active_going_up", "active DOWN, going up"),
        ("active_down", "active or backup DOWN"),
        ("active_drain", "active or backup DRAIN"),
        ("active_maint", "active or backup MAINT"),
        ("nocheck", "not checked"),
    ):
        out.append(f"<td style='background:{_COLOURS[name]}'>&nbsp;&nbsp;</td><td>{label}</td>")
    out.append("</tr></table>")
    if view.status is not None:
        css, text = MESSAGES[view.status]
        out.append(
            f'<p><div class={css}><a class=lfsb href="{html.escape(uri)}{view.suffix}" '
            f'title="Remove this message">[X]</a> {text}</div>\n<p>'
        )
    for proxy, proxy_rows in by_proxy.items():
        info_px = proxies.get(proxy)
        form = view.admin and any(int(r["type"]) == TYPE_SERVER for r in proxy_rows)
        if form:
            out.append('<form method="post">')
        out.append(f"<table class='tbl' id='{html.escape(proxy)}'>")
        out.append(_proxy_head(proxy, info_px, legends))
        toggle = ""
        if view.admin:
            toggle = (
                '<th rowspan=2 width=1><input type="checkbox" onclick="for(c in '
                f"document.getElementsByClassName('{html.escape(proxy)}-checkbox')) "
                f"document.getElementsByClassName('{html.escape(proxy)}-checkbox')"
                '.item(c).checked = this.checked"></th>'
                if form
                else "<th rowspan=2 width=1></th>"
            )
        out.append(f"<tr>{toggle}{_HEAD}</tr><tr>{_SUBHEAD}</tr>")
        for line in proxy_rows:
            kind = int(line["type"])
            if kind == TYPE_FRONTEND:
                css, name = "frontend", "Frontend"
            elif kind == TYPE_BACKEND:
                css = "backend" if line["status"] == "UP" else "backend_down"
                name = "Backend"
            else:
                css = _css_class(line["status"], line.get("bck") == "1")
                name = line["svname"]
            cells = "".join(f"<td>{c}</td>" for c in _cells(line))
            check = ""
            if view.admin:
                check = (
                    f"<td><input class='{html.escape(proxy)}-checkbox' type=\"checkbox\" "
                    f'name="s" value="{html.escape(line["svname"])}"></td>'
                    if kind == TYPE_SERVER
                    else "<td></td>"
                )
            out.append(
                f"<tr class='{css}' data-server='{html.escape(line['svname'])}'>"
                f"{check}<td class='name'>{html.escape(name)}</td>{cells}</tr>"
            )
        out.append("</table>")
        if form:
            iid = info_px.iid if info_px is not None else 0
            options = "".join(f'<option value="{v}">{label}</option>' for v, label in _ACTIONS)
            out.append(
                "Choose the action to perform on the checked servers : "
                f'<select name=action><option value=""></option>{options}</select>'
                f'<input type="hidden" name="b" value="#{iid}">'
                '&nbsp;<input type="submit" value="Apply"></form>'
            )
    out.append("</body></html>\n")
    return "\n".join(out)


def _proxy_head(name: str, proxy: Proxy | None, legends: bool) -> str:
    """A proxy table's title row: its name, with `stats show-legends` its capability,
    mode and id (HAProxy's tips), and its `description` in HAProxy's `desc` cell."""
    front = proxy.frontend if proxy is not None else None
    back = proxy.backend if proxy is not None else None
    tips = ""
    if legends and proxy is not None:
        cap = "proxy" if front and back else "frontend" if front else "backend"
        mode = front.mode if front is not None else back.mode if back is not None else ""
        tips = f"<div class=tips>cap: {cap}, mode: {mode}, id: {proxy.iid}</div>"
    description = (front.description if front else None) or (back.description if back else None)
    cell = (
        f'<th class="desc" width="90%">{description}</th>'
        if description
        else ('<th class="empty" width="90%"></th>')
    )
    return f"<tr><th class='pxname' colspan=2>{html.escape(name)}{tips}</th>{cell}</tr>"


# The form's actions, as HAProxy's page lists them (the agent ones are left out:
# balancekit has no agent checks).
_ACTIONS = (
    ("ready", "Set state to READY"),
    ("drain", "Set state to DRAIN"),
    ("maint", "Set state to MAINT"),
    ("dhlth", "Health: disable checks"),
    ("ehlth", "Health: enable checks"),
    ("hrunn", "Health: force UP"),
    ("hnolb", "Health: force NOLB"),
    ("hdown", "Health: force DOWN"),
    ("shutdown", "Kill Sessions"),
)


def _in_scope(rows: list[dict[str, str]], view: PageView) -> list[dict[str, str]]:
    """The proxies the page shows: those `stats scope` names (all without it), then
    those whose name contains the URI's `scope=`, in any case (strnistr)."""
    if view.proxies is not None:
        rows = [row for row in rows if row["pxname"] in view.proxies]
    if not view.scope:
        return rows
    wanted = view.scope.lower()
    return [row for row in rows if wanted in row["pxname"].lower()]


def render_csv(source: StatsSource, view: PageView | None = None) -> str:
    return source.csv(_in_scope(source.rows(), view or PageView()))


@dataclass(frozen=True, slots=True)
class PageView:
    """What one request asks of the page, read from the URI as HAProxy's
    http_handle_stats reads it: `;csv`, `;norefresh`, `;st=<CODE>`, `scope=<text>`."""

    csv: bool = False
    norefresh: bool = False
    status: str | None = None
    scope: str = ""
    admin: bool = False
    # `stats scope` names resolved ("." is the page's own proxy); None shows every proxy.
    proxies: frozenset[str] | None = None

    @classmethod
    def parse(cls, rest: str, *, admin: bool, refresh: bool) -> PageView:
        """`rest`: the URI after the page's prefix; `;norefresh` counts only on a page
        that refreshes."""
        status = None
        at = rest.find(";st=")
        if at >= 0 and len(rest) - at >= 8:
            status = status_code(rest[at + 4 : at + 8])
        scope = ""
        at = rest.find("scope=")
        if at >= 0 and len(rest) - at >= 8:
            match = _SCOPE_TEXT.match(rest, at + len("scope="))
            text = match.group(0)[:_SCOPE_MAX] if match else ""
            scope = text if _SCOPE_CHARS.fullmatch(text) else ""
        return cls(";csv" in rest, refresh and ";norefresh" in rest, status, scope, admin)

    @property
    def suffix(self) -> str:
        """What the page's own links carry over (HAProxy's `;norefresh` and scope)."""
        return (";norefresh" if self.norefresh else "") + (
            f"?scope={self.scope}" if self.scope else ""
        )


_SCOPE_TEXT = re.compile(r"[^;& ]*")
_SCOPE_CHARS = re.compile(r"[A-Za-z0-9_.:-]*")
_SCOPE_MAX = 31


def _authorized(page: StatsPage, header: str | None) -> bool:
    """`stats auth` credentials, read as every Basic credential is (HAProxy turns
    `stats auth` into a userlist checked by http_auth)."""
    if not page.auth:
        return True
    found = read_authorization(header)
    return (
        found is not None and found.scheme == "Basic" and (found.user, found.password) in page.auth
    )


def _challenge(realm: str) -> Decision:
    """HAProxy's `auth` action: the 401 error page (or its errorfile) with the challenge."""
    return Decision("auth", status=401, response_headers=(_www_authenticate(realm),))


def _www_authenticate(realm: str) -> tuple[str, str]:
    return ("WWW-Authenticate", f'Basic realm="{realm}"')


def _guard(page: StatsPage, request: Request) -> Decision | None:
    """The page's access rules, as HAProxy runs them: `stats http-request` in order
    (the first rule that applies decides), else `stats auth`'s implicit
    `auth unless { http_auth(...) }`.  None lets the request in."""
    for rule in page.rules:
        if not rule.applies(request):
            continue
        if rule.action == "deny":
            return Decision("deny", status=rule.status or 403, rule=f"{rule.file}:{rule.line}")
        if rule.action == "auth":
            return _challenge(rule.realm or DEFAULT_REALM)
        return None  # allow
    if not _authorized(page, request.headers.get("authorization")):
        return _challenge(page.realm or DEFAULT_REALM)
    return None


# The service a permitted POST asks for: the proxy reads the form, then calls `serve`.
ADMIN_SERVICE = "stats-admin"


class StatsRouter(BodyService):
    """Wraps a frontend's router: stats page and Prometheus answers, else the router's own.

    It offers what the HTTP proxy asks of a router (`RouterLike`), so the proxy
    cannot tell the difference; a POST from an admin is a `use-service` decision
    that the proxy completes with `serve` once it has read the form.
    """

    def __init__(
        self,
        inner: RouterLike,
        source: StatsSource,
        *,
        frontend_page: StatsPage | None,
        backend_pages: Mapping[str, StatsPage],
        actions: ServerActions | None = None,
        frontend_name: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._inner = inner
        self._frontend_name = frontend_name
        self._source = source
        self._frontend_page = frontend_page
        self._backend_pages = dict(backend_pages)
        self._actions = actions
        self._clock = clock
        self.body_limit = FORM_LIMIT  # the proxy reads at most this much of a form

    @property
    def filters_connections(self) -> bool:
        return self._inner.filters_connections

    def accept_connection(self, request: Request) -> bool:
        return self._inner.accept_connection(request)

    def __repr__(self) -> str:
        return f"<StatsRouter page={self._frontend_page!r} around {self._inner!r}>"

    def route(self, request: Request) -> Decision:
        return self._answer(self._inner.route(request), request)

    def _answer(self, decision: Decision, request: Request) -> Decision:
        """The stats page's or the exporter's answer where they answer, else
        `decision`; once rules waiting for the body have read it too."""
        action = decision.action
        if action == "wait-for-body" and decision.body_wait is not None:
            wait = replace(decision.body_wait, then=lambda d: self._answer(d, request))
            return replace(decision, body_wait=wait)
        if action == "use-service":
            if decision.body == "prometheus-exporter":
                return Decision(
                    "return",
                    status=200,
                    body=metrics.render(self._source, self._clock()),
                    content_type=metrics.CONTENT_TYPE,
                    rule=decision.rule,
                )
            return decision
        page, owner = self._frontend_page, None
        if page is None and action == "forward":
            owner = decision.backend
            page = self._backend_pages.get(owner or "")
        if page is None:
            return decision
        if request.method not in ("GET", "HEAD", "POST"):
            return decision  # HAProxy's page answers these three methods only
        uri = _compared_uri(request)
        if not uri.startswith(page.uri):
            return decision
        return self._page(page, owner, request, uri[len(page.uri) :])

    def _page(self, page: StatsPage, owner: str | None, request: Request, rest: str) -> Decision:
        refused = _guard(page, request)
        if refused is not None:
            return refused
        admin = self._actions is not None and any(cond.matches(request) for cond in page.admin)
        view = PageView.parse(rest, admin=admin, refresh=bool(page.refresh))
        if page.scope:
            own = owner or self._frontend_name  # `.`: the proxy serving the page
            view = replace(view, proxies=frozenset(own if n == "." else n for n in page.scope))
        if request.method == "POST":
            if admin:
                return Decision("use-service", backend=owner, body=ADMIN_SERVICE)
            return _see_other(page, view, "DENY")
        headers: list[tuple[str, str]] = [("Cache-Control", "no-cache")]
        if page.refresh and not view.norefresh:
            headers.append(("Refresh", f"{page.refresh:g}"))
        if view.csv:
            return Decision(
                "return",
                status=200,
                body=render_csv(self._source, view),
                content_type="text/plain",
                response_headers=tuple(headers),
            )
        body = render_html(
            self._source,
            uri=page.uri,
            refresh=page.refresh if not view.norefresh else None,
            hide_version=page.hide_version,
            now=self._clock(),
            page=page,
            view=view,
        )
        return Decision(
            "return",
            status=200,
            body=body,
            content_type="text/html",
            response_headers=tuple(headers),
        )

    def serve(self, decision: Decision, request: Request, body: bytes | None) -> Decision:
        """Complete an admin POST (`body` is None when the form was too large)."""
        page = (
            self._frontend_page
            if decision.backend is None
            else self._backend_pages.get(decision.backend)
        )
        if page is None or self._actions is None:
            return Decision("return", status=503)
        rest = _compared_uri(request)[len(page.uri) :]
        view = PageView.parse(rest, admin=True, refresh=bool(page.refresh))
        code = run_form(body, self._actions.find_backend, self._actions.apply)
        return _see_other(page, view, code)


def _compared_uri(request: Request) -> str:
    """What `stats uri` is compared with: the path of an absolute-form target
    (http_stats_check_uri), else the target as received."""
    return request.uri if request.uri.startswith("/") else request.path


def _see_other(page: StatsPage, view: PageView, code: str) -> Decision:
    """HAProxy's answer to a POST: a 303 to the page showing the result, so that a
    reload does not post again."""
    return Decision(
        "return",
        status=303,
        body="",
        response_headers=(
            ("Cache-Control", "no-cache"),
            ("Content-Type", "text/plain"),
            ("Content-Length", "0"),
            ("Location", f"{page.uri};st={code}{view.suffix}"),
        ),
    )


def _needs_wrapper(router: RouterLike, page: StatsPage | None, pages: Mapping[str, Any]) -> bool:
    if page is not None or pages:
        return True
    # A router other than balancekit's own cannot tell: wrap, to be safe.
    return router.uses_service if isinstance(router, Router) else True


def install(proxies: Iterable[HttpProxy], config: Config, source: StatsSource) -> int:
    """Wrap the router of every running HTTP frontend that needs it; returns how many.

    Called by `stats.start(runtime)` once the frontends are up.
    """
    backend_pages = {name: be.stats for name, be in config.backends.items() if be.stats}
    actions = ServerActions(
        config,
        source.monitor or HealthMonitor(config.backends, registry=source.registry),
        [(p.name, p.iid) for p in source.proxies if p.backend is not None],
    )
    wrapped = 0
    for proxy in proxies:
        router = proxy.router
        if isinstance(router, StatsRouter):
            continue
        page = proxy.frontend.stats
        if not _needs_wrapper(router, page, backend_pages):
            continue  # no page, no use-service: keep the proxy's hot path untouched
        # The stats router must see every request: set_router drops the proxy's
        # shortcut for rule-less frontends.
        proxy.set_router(
            StatsRouter(
                router,
                source,
                frontend_page=page,
                backend_pages=backend_pages,
                actions=actions,
                frontend_name=proxy.frontend.name,
            )
        )
        wrapped += 1
    return wrapped
