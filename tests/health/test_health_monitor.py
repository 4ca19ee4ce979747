"""The check driver against real servers that die, hang, answer 500 and come back.

No wall-clock assertions: we assert what happened and in which order (the
sequence of check results and transitions), which is what "fall x inter" means.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

from health_servers import ControlledHTTP, closed_port

from balancekit import Backend, Server
from balancekit.config.runtime import BackendRuntime, HttpCheck
from balancekit.health import CheckResult, CheckStatus, Observation
from balancekit_server.ops.checks import HealthMonitor
from balancekit_server.ops.counters import Registry
from support.haproxy import HAProxy

Events = list[tuple[str, str]]


def runtime(
    name: str, servers: list[Server], *, httpchk: HttpCheck | None = None, **kw: object
) -> BackendRuntime:
    return BackendRuntime(name, "http", Backend(name, servers), httpchk=httpchk, **kw)  # type: ignore[arg-type]


class Recorder(HealthMonitor):
    """A monitor that also keeps every check result, in order, for assertions."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        self.lines: list[tuple[str, str]] = []
        self.results: list[tuple[str, str, CheckStatus, int, bool]] = []
        super().__init__(*args, log=lambda lvl, msg: self.lines.append((lvl, msg)), **kwargs)  # type: ignore[arg-type]

    def record(self, backend: str, server: str, result: CheckResult):  # type: ignore[no-untyped-def]
        transition = super().record(backend, server, result)
        health = self.health(backend, server)
        self.results.append((backend, server, result.status, health.health, health.up))
        return transition


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def test_server_dies_after_exactly_fall_failures_and_comes_back_after_rise() -> None:
    async def scenario() -> None:
        srv = ControlledHTTP(200).start()
        port = srv.port
        other = ControlledHTTP(200).start()
        be = runtime(
            "app",
            [
                Server("s1", f"127.0.0.1:{port}", check=True, inter=0.05, rise=2, fall=3),
                Server("s2", f"127.0.0.1:{other.port}", check=True, inter=0.05),
            ],
            httpchk=HttpCheck("GET", "/health"),
        )
        mon = Recorder({"app": be}, registry=Registry())
        mon.start()
        pool = be.backend
        try:
            await wait_for(lambda: mon.health("app", "s1").health == 4)
            srv.stop()  # the server dies
            mark = len(mon.results)
            await wait_for(lambda: not pool.member("s1").up)
            after = [r for r in mon.results[mark:] if r[1] == "s1"]
            fails = [r for r in after if r[2] is not CheckStatus.L7OK]
            # Exactly `fall` failed checks, the last of them flipping the state.
            assert [r[3] for r in fails] == [3, 2, 0]
            assert [r[4] for r in fails] == [True, True, False]
            # Once DOWN, the pool never hands s1 out again.
            assert {pool.pick().name for _ in range(20)} == {"s2"}
            srv2 = ControlledHTTP(200, port=port).start()  # it comes back
            try:
                mark = len(mon.results)
                await wait_for(lambda: pool.member("s1").up)
                back = [r for r in mon.results[mark:] if r[1] == "s1"]
                oks = [r for r in back if r[2] is CheckStatus.L7OK]
                assert [r[3] for r in oks] == [1, 4] and oks[-1][4] is True
                assert {pool.pick().name for _ in range(20)} == {"s1", "s2"}
            finally:
                srv2.stop()
            downs = [m for _, m in mon.lines if "is DOWN" in m]
            ups = [m for _, m in mon.lines if "is UP" in m]
            assert len(downs) == 1 and len(ups) == 1
            assert downs[0].startswith("Server app/s1 is DOWN, reason: Layer4 connection problem")
            assert ups[0].startswith("Server app/s1 is UP, reason: Layer7 check passed, code: 200")
            assert ups[0].endswith(
                "1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."
            ) or ups[0].endswith(
                "2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."
            )
            assert mon.registry.server("app", "s1").chkdown == 1
        finally:
            await mon.stop()
            other.stop()

    asyncio.run(scenario())


def test_hanging_and_failing_servers_marked_down_with_haproxy_reasons() -> None:
    async def scenario() -> None:
        hang = ControlledHTTP().start()
        hang.hang()
        err = ControlledHTTP(503).start()
        ok = ControlledHTTP(200).start()
        be = runtime(
            "web",
            [
                Server("s1", f"127.0.0.1:{hang.port}", check=True, inter=0.1),
                Server("s2", f"127.0.0.1:{err.port}", check=True, inter=0.1),
                Server("s3", f"127.0.0.1:{ok.port}", check=True, inter=0.1),
            ],
            httpchk=HttpCheck(),
            timeout_check=0.2,
        )
        mon = Recorder({"web": be}, registry=Registry())
        mon.start()
        try:
            await wait_for(lambda: not be.backend.member("s1").up)
            await wait_for(lambda: not be.backend.member("s2").up)
            assert be.backend.member("s3").up
            text = "\n".join(m for _, m in mon.lines)
            assert "Server web/s1 is DOWN, reason: Layer7 timeout, check duration: " in text
            assert (
                "Server web/s2 is DOWN, reason: Layer7 wrong status, code: 503, "
                'info: "Service Unavailable", check duration: '
            ) in text
        finally:
            await mon.stop()
            for s in (hang, err, ok):
                s.stop()

    asyncio.run(scenario())


def test_observe_layer7_marks_down_on_error_limit_and_fastinter_recheck() -> None:
    async def scenario() -> None:
        ok = ControlledHTTP(200).start()
        be = runtime(
            "api",
            [
                Server(
                    "s1",
                    f"127.0.0.1:{ok.port}",
                    check=True,
                    inter=30,
                    fastinter=0.05,
                    observe="layer7",
                    error_limit=3,
                    on_error="mark-down",
                ),
                Server("s2", f"127.0.0.1:{ok.port}"),
            ],
        )
        mon = Recorder({"api": be}, registry=Registry())
        mon.start()
        try:
            await wait_for(lambda: any(r[1] == "s1" for r in mon.results))
            for _ in range(3):
                mon.observe("api", "s1", Observation.for_status(502))
            assert not be.backend.member("s1").up
            down = next(m for _, m in mon.lines if "is DOWN" in m)
            assert down.startswith(
                'Server api/s1 is DOWN, reason: Health analyze, info: "Detected 3 consecutive '
                'errors, last one was: Wrong http response". 1 active and 0 backup'
            )
            # on-error forces fastinter: the real (passing) checks bring it back
            # long before inter=30s would have run a second check.
            await wait_for(lambda: be.backend.member("s1").up)
        finally:
            await mon.stop()
            ok.stop()

    asyncio.run(scenario())


def test_runtime_changes_pause_checks_and_log_like_haproxy() -> None:
    async def scenario() -> None:
        ok = ControlledHTTP(200).start()
        be = runtime(
            "be",
            [
                Server("s1", f"127.0.0.1:{ok.port}", check=True, inter=0.05),
                Server("s2", f"127.0.0.1:{ok.port}"),
            ],
        )
        mon = Recorder({"be": be}, registry=Registry())
        mon.start()
        try:
            mon.set_admin("be", "s1", "maint")
            assert be.backend.state("s1") == "MAINT"
            count = len([r for r in mon.results if r[1] == "s1"])
            await asyncio.sleep(0.2)
            assert len([r for r in mon.results if r[1] == "s1"]) == count  # paused
            mon.set_admin("be", "s1", "ready")
            assert be.backend.state("s1") == "UP"
            mon.force_health("be", "s2", False)
            assert be.backend.state("s2") == "DOWN"
            msgs = [m for _, m in mon.lines]
            assert msgs[0] == (
                "Server be/s1 is going DOWN for maintenance. 1 active and 0 backup servers "
                "left. 0 sessions active, 0 requeued, 0 remaining in queue."
            )
            assert msgs[1] == "Server be/s1 is UP/READY (leaving forced maintenance)."
            assert msgs[2] == (
                "Server be/s2 is DOWN, changed from CLI. 1 active and 0 backup servers left. "
                "0 sessions active, 0 requeued, 0 remaining in queue."
            )
        finally:
            await mon.stop()
            ok.stop()

    asyncio.run(scenario())


def test_slowstart_ramps_pool_weight_after_recovery() -> None:
    be = runtime(
        "ss",
        [
            Server("s1", "127.0.0.1:1", check=True, slowstart=10, weight=100),
            Server("s2", "127.0.0.1:2", weight=100),
        ],
    )
    clock = [0.0]
    mon = HealthMonitor(
        {"ss": be}, log=lambda *_: None, registry=Registry(), clock=lambda: clock[0]
    )
    fail = CheckResult(CheckStatus.L4CON, info="Connection refused")
    ok = CheckResult(CheckStatus.L4OK)
    mon.record("ss", "s1", fail)
    clock[0] = 100.0
    mon.record("ss", "s1", ok)
    mon.record("ss", "s1", ok)
    member = be.backend.member("s1")
    assert member.up and 0 < member.eweight < be.backend.member("s2").eweight
    first = member.eweight
    clock[0] = 105.0
    be.backend.set_ramp("s1", mon.health("ss", "s1").ramp(clock[0]))
    assert first < member.eweight < be.backend.member("s2").eweight


def test_panic_threshold_spreads_over_all_servers() -> None:
    servers = [Server(f"s{i}", f"127.0.0.1:{i + 1}", check=True) for i in range(4)]
    be = runtime("p", servers)
    lines: Events = []
    mon = HealthMonitor(
        {"p": be},
        log=lambda lvl, msg: lines.append((lvl, msg)),
        registry=Registry(),
        panic_thresholds={"p": 50},
    )
    fail = CheckResult(CheckStatus.L4CON, info="Connection refused")
    mon.record("p", "s0", fail)
    mon.record("p", "s1", fail)
    assert [m.up for m in be.backend.members] == [False, False, True, True]
    mon.record("p", "s2", fail)  # 1 of 4 up: below 50% → panic
    assert all(m.up for m in be.backend.members)
    assert any("enters panic mode" in m for _, m in lines)
    assert not mon.health("p", "s2").up  # the truth is kept
    mon.force_health("p", "s0", True)
    mon.force_health("p", "s1", True)  # 3 of 4: panic over, real states return
    assert [m.up for m in be.backend.members] == [True, True, False, True]


def _normalize(line: str) -> str:
    return re.sub(r"check duration: \d+ms", "check duration: Nms", line)


def test_state_change_lines_match_real_haproxy() -> None:
    """Same servers, same config: HAProxy's stderr lines and ours are identical."""
    err = ControlledHTTP(500).start()
    ok = ControlledHTTP(200).start()
    dead = closed_port()
    try:
        cfg = f"""
global
    stats socket {{stats}} level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
backend b_tcp
    mode tcp
    server s1 127.0.0.1:{dead} check inter 100
    server s2 127.0.0.1:{ok.port} check inter 100
backend b_http
    option httpchk GET /health
    server s1 127.0.0.1:{err.port} check inter 100
    server s2 127.0.0.1:{ok.port} check inter 100
    server b1 127.0.0.1:{dead} check inter 100 backup
frontend f
    bind {{listen:fe}}
    default_backend b_http
"""
        with HAProxy(cfg) as hap:

            async def ours() -> list[str]:
                tcp = runtime(
                    "b_tcp",
                    [
                        Server("s1", f"127.0.0.1:{dead}", check=True, inter=0.1),
                        Server("s2", f"127.0.0.1:{ok.port}", check=True, inter=0.1),
                    ],
                )
                http = runtime(
                    "b_http",
                    [
                        Server("s1", f"127.0.0.1:{err.port}", check=True, inter=0.1),
                        Server("s2", f"127.0.0.1:{ok.port}", check=True, inter=0.1),
                        Server("b1", f"127.0.0.1:{dead}", check=True, inter=0.1, backup=True),
                    ],
                    httpchk=HttpCheck("GET", "/health"),
                )
                mon = Recorder({"b_tcp": tcp, "b_http": http}, registry=Registry())
                mon.start()
                try:
                    await wait_for(lambda: sum("is DOWN" in m for _, m in mon.lines) == 3)
                finally:
                    await mon.stop()
                return [m for _, m in mon.lines if "is DOWN" in m]

            mine = asyncio.run(ours())

            async def theirs() -> list[str]:
                await wait_for(lambda: hap.log().count(" is DOWN") >= 3)
                return re.findall(r"\[WARNING\]\s+\(\d+\) : (.* is DOWN.*)", hap.log())

            haproxy_lines = asyncio.run(theirs())
        # The order of independent backends may differ; each line must be identical.
        assert sorted(map(_normalize, mine)) == sorted(map(_normalize, haproxy_lines))
    finally:
        err.stop()
        ok.stop()


def test_send_state_header_follows_the_health_counter() -> None:
    """`http-check send-state`: httpchk_build_status_header's words for each zone of
    the counter (rise 2, fall 3: an up server starts at "UP 1/3", going down)."""
    be = runtime(
        "st",
        [
            Server("s1", "127.0.0.1:81", check=True, weight=7),
            Server("s2", "127.0.0.1:82", weight=3),
        ],
    )
    mon = HealthMonitor({"st": be}, log=lambda *_: None, registry=Registry(), node="lb1")
    watched = mon.watched[("st", "s1")]
    ok = CheckResult(CheckStatus.L7OK)
    fail = CheckResult(CheckStatus.L7STS)
    tail = "; address=127.0.0.1; port=81; name=st/s1; node=lb1; weight=7/10; scur=0/0; qcur=0"
    assert mon._state_header(watched) == "UP 1/3" + tail
    mon.record("st", "s1", ok)
    mon.record("st", "s1", ok)
    assert mon._state_header(watched) == "UP" + tail
    for _ in range(3):
        mon.record("st", "s1", fail)
    # A down server keeps its effective weight; the total is the servers serving.
    down = "; address=127.0.0.1; port=81; name=st/s1; node=lb1; weight=7/3; scur=0/0; qcur=0"
    assert mon._state_header(watched) == "DOWN" + down
    mon.record("st", "s1", ok)
    assert mon._state_header(watched) == "DOWN 1/2" + down
