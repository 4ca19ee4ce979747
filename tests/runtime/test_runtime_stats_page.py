"""The stats page and the Prometheus exporter, served by the real runtime and L7 proxy."""

from __future__ import annotations

import base64
import csv
import http.client
import io
import re
from collections.abc import Iterator

import pytest
from runtime.runtime_harness import RuntimeThread

from support.backends import NamedBackends, free_port
from support.haproxy import HAProxy

AUTH = "Basic " + base64.b64encode(b"admin:s3cret").decode()


def config(nb: NamedBackends, dead: int, bind: str, others: tuple[str, str] | None = None) -> str:
    metrics_bind, plain_bind = others or (bind, bind)
    return f"""
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend www
    bind {bind}
    stats enable
    stats uri /stats
    stats auth admin:s3cret
    stats refresh 5s
    http-request use-service prometheus-exporter if {{ path /metrics }}
    default_backend app
frontend metrics
    bind {metrics_bind}
    http-request use-service prometheus-exporter if {{ path /metrics }}
    default_backend app
frontend plain
    bind {plain_bind}
    default_backend app
backend app
    server s1 {nb.address("s1")} check inter 100
    server s2 {nb.address("s2")}
    server s3 127.0.0.1:{dead} check inter 100
    server s4 {nb.address("s3")} disabled
"""


def get(port: int, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


@pytest.fixture
def running(named_backends: NamedBackends) -> Iterator[tuple[RuntimeThread, int]]:
    rt = RuntimeThread(config(named_backends, free_port(), "127.0.0.1:0"))
    pool = rt.config.backends["app"].backend

    async def settle() -> None:
        import asyncio

        async with asyncio.timeout(10):
            while pool.member("s3").up:
                await asyncio.sleep(0.01)

    rt.run(settle())
    yield rt, rt.port("www")
    rt.close()


def test_auth_required_with_haproxys_realm(running: tuple[RuntimeThread, int]) -> None:
    _, port = running
    denied = get(port, "/stats")
    assert denied.status == 401
    assert denied.getheader("WWW-Authenticate") == 'Basic realm="HAProxy Statistics"'
    wrong = get(port, "/stats", {"Authorization": "Basic " + base64.b64encode(b"a:b").decode()})
    assert wrong.status == 401
    # Other paths still go to the backend.
    assert get(port, "/hello").status == 200


def test_html_page_shows_states_and_refresh(running: tuple[RuntimeThread, int]) -> None:
    _, port = running
    page = get(port, "/stats", {"Authorization": AUTH})
    assert page.status == 200
    assert page.getheader("Content-Type", "").startswith("text/html")
    assert page.getheader("Refresh") == "5"
    body = page.body.decode()  # type: ignore[attr-defined]
    classes = {
        server: css
        for css, server in re.findall(r"<tr class='([a-z_]+)' data-server='([^']+)'", body)
    }
    assert classes["s1"] == "active_up"
    assert classes["s2"] == "nocheck"
    assert classes["s3"] == "active_down"
    assert classes["s4"] == "active_maint"
    assert classes["FRONTEND"] == "frontend" and classes["BACKEND"] == "backend"
    assert "L4CON" in body and "CSV export" in body
    assert get(port, "/stats;norefresh", {"Authorization": AUTH}).getheader("Refresh") is None


def test_csv_suffix_is_show_stat(running: tuple[RuntimeThread, int]) -> None:
    _, port = running
    answer = get(port, "/stats;csv", {"Authorization": AUTH})
    assert answer.status == 200
    text = answer.body.decode()  # type: ignore[attr-defined]
    assert text.startswith("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,")
    rows = list(csv.DictReader(io.StringIO(text[2:])))
    status = {(r["pxname"], r["svname"]): r["status"] for r in rows}
    assert status[("app", "s1")] == "UP"
    assert status[("app", "s3")] == "DOWN"
    assert status[("app", "s4")] == "MAINT"
    assert status[("www", "FRONTEND")] == "OPEN"
    # The requests for the page itself were counted by the proxy.
    assert int(next(r for r in rows if r["svname"] == "FRONTEND")["req_tot"]) >= 1


def _samples(text: str) -> dict[tuple[str, str], str]:
    """{(metric, labels): value} of an exposition text; every line must parse."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            assert line == "" or re.match(r"# (HELP|TYPE) [a-z_]+ ", line), line
            continue
        match = re.fullmatch(r"([a-z_]+)(\{[^}]*\})? (-?[0-9.e+]+|NaN)", line)
        assert match, line
        out[(match.group(1), match.group(2) or "")] = match.group(3)
    return out


def test_prometheus_exporter_matches_haproxys_names(
    running: tuple[RuntimeThread, int], named_backends: NamedBackends
) -> None:
    _, port = running
    answer = get(port, "/metrics")
    assert answer.status == 200
    assert answer.getheader("Content-Type", "").startswith("text/plain; version=0.0.4")
    mine = _samples(answer.body.decode())  # type: ignore[attr-defined]
    assert mine[("haproxy_server_status", '{proxy="app",server="s1",state="UP"}')] == "1"
    assert mine[("haproxy_server_status", '{proxy="app",server="s3",state="DOWN"}')] == "1"
    assert mine[("haproxy_server_status", '{proxy="app",server="s4",state="MAINT"}')] == "1"
    assert mine[("haproxy_backend_active_servers", '{proxy="app"}')] == "2"

    dead = free_port()
    cfg = config(named_backends, dead, "{listen:www}", ("{listen:metrics}", "{listen:plain}"))
    with HAProxy(cfg) as hap:
        import time

        deadline = time.monotonic() + 10
        while " is DOWN" not in hap.log() and time.monotonic() < deadline:
            time.sleep(0.02)
        theirs = _samples(get(hap.port("www"), "/metrics").body.decode())  # type: ignore[attr-defined]
    names_mine = {name for name, _ in mine}
    names_theirs = {name for name, _ in theirs}
    assert names_mine <= names_theirs, names_mine - names_theirs
    for key in (
        ("haproxy_server_status", '{proxy="app",server="s1",state="UP"}'),
        ("haproxy_server_status", '{proxy="app",server="s3",state="DOWN"}'),
        ("haproxy_server_status", '{proxy="app",server="s4",state="MAINT"}'),
        ("haproxy_backend_active_servers", '{proxy="app"}'),
        ("haproxy_server_weight", '{proxy="app",server="s1"}'),
    ):
        assert mine[key] == theirs[key], key


def test_only_frontends_that_need_it_are_wrapped(running: tuple[RuntimeThread, int]) -> None:
    from balancekit_server.ops.stats_page import StatsRouter

    rt, _ = running
    routers = {
        service.proxy.name: service.proxy.router
        for service in rt.runtime.services
        if hasattr(service, "proxy")
    }
    assert isinstance(routers["www"], StatsRouter)
    assert isinstance(routers["metrics"], StatsRouter)
    assert not isinstance(routers["plain"], StatsRouter)
    metrics_port = rt.port("metrics")
    answer = get(metrics_port, "/metrics")
    assert answer.status == 200 and b"haproxy_server_status{" in answer.body  # type: ignore[attr-defined]
    assert get(metrics_port, "/other").status == 200  # forwarded to the backend
