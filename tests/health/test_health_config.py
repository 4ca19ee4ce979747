"""Health checks configured from haproxy.cfg text, run by the real runtime."""

from __future__ import annotations

import asyncio

from health_servers import ControlledHTTP, closed_port
from runtime.runtime_harness import RuntimeThread

from balancekit.config import load_text
from balancekit_server.ops.checks import spec_for


def wait(rt: RuntimeThread, predicate, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    async def poll() -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                await asyncio.sleep(0.01)

    rt.run(poll())


def test_httpchk_send_and_expect_from_the_config() -> None:
    srv = ControlledHTTP(200, body="status: OK").start()
    text = f"""
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 500ms
frontend www
    bind 127.0.0.1:0
    default_backend app
backend app
    option httpchk GET /health HTTP/1.1
    http-check send hdr Host example.org hdr X-Check yes
    http-check expect string OK
    option log-health-checks
    server s1 127.0.0.1:{srv.port} check inter 50 rise 1 fall 1
"""
    rt = RuntimeThread(text)
    try:
        pool = rt.config.backends["app"].backend
        wait(rt, lambda: len(srv.requests) >= 2)
        assert srv.requests[0] == "GET /health HTTP/1.1"
        # Names in lower case, as HAProxy's HTX writes them.
        assert srv.headers_seen[0]["host"] == "example.org"
        assert srv.headers_seen[0]["x-check"] == "yes"
        assert pool.member("s1").up
        # The first result (INI -> L7OK) is reported although the server stays UP, as
        # HAProxy does (its reg-tests checks/*_health_checks.vtc expect that line).
        wait(rt, lambda: any("Health check for server app/s1 succeeded" in x for x in rt.lines))
        srv.body = "status: degraded"
        wait(rt, lambda: not pool.member("s1").up)
        down = next(x for x in rt.lines if x.startswith("Server app/s1 is DOWN"))
        # option log-health-checks: the failing check's own line says why (L7RSP
        # carries no code: only L7OK, L7OKC and L7STS do), so the state change line
        # gives no reason, as HAProxy's check.c passes it no check then.
        assert down.startswith("Server app/s1 is DOWN. 0 active")
        assert any(
            x.startswith(
                "Health check for server app/s1 failed, reason: Layer7 invalid response, "
                'info: "HTTP content check did not match"'
            )
            for x in rt.lines
        )
    finally:
        rt.close()
        srv.stop()


def test_check_port_and_addr_point_the_probe_elsewhere() -> None:
    srv = ControlledHTTP(200).start()
    dead = closed_port()
    text = f"""
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend www
    bind 127.0.0.1:0
    default_backend app
backend app
    server s1 127.0.0.1:{dead} check inter 50 port {srv.port}
    server s2 127.0.0.2:{srv.port} check inter 50 addr 127.0.0.1 port {dead}
"""
    rt = RuntimeThread(text)
    try:
        monitor = rt.runtime.health  # type: ignore[attr-defined]
        wait(rt, lambda: monitor.health("app", "s2").last_result is not None)
        wait(rt, lambda: monitor.health("app", "s1").last_result is not None)
        # s1's traffic port is dead but its check port answers: UP.
        assert monitor.health("app", "s1").up
        # s2's check goes to addr:port, which is dead: DOWN.
        assert not monitor.health("app", "s2").up
        spec = spec_for(rt.config.backends["app"], "s2")
        assert spec is not None and (spec.host, spec.port) == ("127.0.0.1", dead)
    finally:
        rt.close()
        srv.stop()


def test_mysql_check_options_map_to_probes() -> None:
    config = load_text(
        """
backend plain
    mode tcp
    option mysql-check
    server m1 127.0.0.1:3306 check
backend user
    mode tcp
    option mysql-check user haproxy_check
    server m1 127.0.0.1:3306 check
backend none
    mode tcp
    server m1 127.0.0.1:3306 check
    server m2 127.0.0.1:3306
"""
    ).config
    plain = spec_for(config.backends["plain"], "m1")
    user = spec_for(config.backends["user"], "m1")
    tcp = spec_for(config.backends["none"], "m1")
    assert plain is not None and (plain.kind, plain.mysql_user) == ("mysql", None)
    assert user is not None and (user.kind, user.mysql_user) == ("mysql", "haproxy_check")
    assert tcp is not None and tcp.kind == "tcp"
    assert spec_for(config.backends["none"], "m2") is None  # no `check`: not probed
