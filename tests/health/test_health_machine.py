"""The sans-IO health state machine: HAProxy's counter, intervals, slow start, observe."""

from __future__ import annotations

import itertools

import pytest

from balancekit import Server
from balancekit.health import (
    _STEPS,
    CheckResult,
    CheckStatus,
    HealthSettings,
    Observation,
    ServerHealth,
    Zone,
    format_check_report,
    format_leave_maint,
    format_maint,
    format_state_change,
    panic_mode,
)

OK = CheckResult(CheckStatus.L4OK)
REFUSED = CheckResult(CheckStatus.L4CON, info="Connection refused", duration_ms=0)


def run(health: ServerHealth, outcomes: str, start: float = 0.0) -> list[tuple[int, bool]]:
    """Feed 'p'/'f' outcomes one second apart; return (health, up) after each."""
    seen = []
    for i, ch in enumerate(outcomes):
        health.record(OK if ch == "p" else REFUSED, start + i)
        seen.append((health.health, health.up))
    return seen


def test_table_covers_every_zone_and_outcome() -> None:
    assert set(_STEPS) == set(itertools.product(Zone, (True, False)))


def test_servers_start_up_at_rise_and_first_failure_marks_down() -> None:
    h = ServerHealth(HealthSettings(rise=2, fall=3), now=0)
    assert (h.health, h.up) == (2, True)
    transition = h.record(REFUSED, 1.0)
    assert transition is not None and transition.up is False and transition.at == 1.0
    assert (h.health, h.up) == (0, False)


def test_reaching_rise_jumps_to_top_then_fall_failures_mark_down() -> None:
    h = ServerHealth(HealthSettings(rise=2, fall=3), now=0)
    assert run(h, "pp") == [(4, True), (4, True)]
    # From the top it takes exactly `fall` failures.
    assert run(h, "fff") == [(3, True), (2, True), (0, False)]
    # Coming back needs `rise` successes, and lands on the top.
    assert run(h, "pp") == [(1, False), (4, True)]


def test_a_failure_below_rise_resets_to_zero() -> None:
    h = ServerHealth(HealthSettings(rise=3, fall=2), now=0)
    run(h, "f")
    assert run(h, "ppf") == [(1, False), (2, False), (0, False)]
    assert run(h, "ppp") == [(1, False), (2, False), (4, True)]


def test_success_in_falling_zone_goes_back_to_top() -> None:
    h = ServerHealth(HealthSettings(rise=2, fall=3), now=0)
    run(h, "p")
    assert run(h, "ffp") == [(3, True), (2, True), (4, True)]


@pytest.mark.parametrize(("rise", "fall"), [(1, 1), (1, 3), (2, 3), (3, 1), (5, 5)])
def test_transitions_take_exactly_fall_and_rise_checks(rise: int, fall: int) -> None:
    h = ServerHealth(HealthSettings(rise=rise, fall=fall), now=0)
    run(h, "p" * (rise + fall))  # settle at the top
    downs = [i for i, (_, up) in enumerate(run(h, "f" * (fall + 2)), 1) if not up]
    assert downs[0] == fall
    ups = [i for i, (_, up) in enumerate(run(h, "p" * (rise + 2)), 1) if up]
    assert ups[0] == rise


def test_intervals_follow_the_zone() -> None:
    h = ServerHealth(HealthSettings(inter=2, fastinter=0.5, downinter=5), now=0)
    assert h.next_interval() == 0.5  # startup: health == rise < top → transitional
    run(h, "p")
    assert h.next_interval() == 2
    run(h, "f")
    assert h.next_interval() == 0.5
    run(h, "ff")
    assert not h.up and h.next_interval() == 5
    run(h, "p")
    assert h.next_interval() == 0.5


def test_intervals_fall_back_to_inter() -> None:
    h = ServerHealth(HealthSettings(inter=3), now=0)
    run(h, "f")
    assert h.next_interval() == 3
    run(h, "p")
    assert h.next_interval() == 3


def test_time_to_mark_down_is_fall_times_inter() -> None:
    """Driven like the checker: next check at now + next_interval()."""
    s = HealthSettings(rise=2, fall=3, inter=2.0, fastinter=1.0)
    h = ServerHealth(s, now=0)
    now = 0.0
    h.record(OK, now)
    dies_at = now + 0.1  # the server dies just after a passing check
    now += h.next_interval()
    while h.up:
        h.record(REFUSED, now)
        if h.up:
            now += h.next_interval()
    # First failed check within one inter of the death, then (fall-1) fastinters.
    assert now - dies_at <= s.inter + (s.fall - 1) * (s.fastinter or s.inter)
    assert now - dies_at >= (s.fall - 1) * (s.fastinter or s.inter)


def test_failed_checks_counted_only_while_health_above_zero() -> None:
    h = ServerHealth(HealthSettings(), now=0)
    run(h, "fff")
    assert h.failed_checks == 1 and h.down_transitions == 1


def test_force_and_maint() -> None:
    h = ServerHealth(HealthSettings(rise=2, fall=3), now=0)
    t = h.force(False, 1)
    assert t is not None and not t.up and h.health == 0
    t = h.force(True, 2)
    assert t is not None and t.up and h.health == 4
    h.enter_maint(3)
    assert not h.up and h.health == 0
    assert h.record(OK, 4) is None  # checks are paused in maintenance
    h.leave_maint(5)
    assert h.up and h.health == 2  # fragile: one failure puts it DOWN
    t = h.record(REFUSED, 6)
    assert t is not None and not t.up


def test_slowstart_ramps_linearly_after_recovery_only() -> None:
    h = ServerHealth(HealthSettings(rise=1, fall=1, slowstart=10), now=0)
    assert h.ramp(1) == 1.0  # servers at startup are not ramped
    run(h, "f", start=2)
    run(h, "p", start=20)
    assert h.starting
    assert h.ramp(20) == pytest.approx(1e-6)
    assert h.ramp(22.5) == pytest.approx(0.25)
    assert h.ramp(25) == pytest.approx(0.5)
    assert h.ramp(30) == 1.0 and not h.starting
    assert h.ramp_step() == 1.0
    assert ServerHealth(HealthSettings(slowstart=60), now=0).ramp_step() == 3.0


@pytest.mark.parametrize(
    ("action", "errors_to_down"),
    [("fail-check", 3), ("mark-down", 1), ("sudden-death", 2)],
)
def test_on_error_actions(action: str, errors_to_down: int) -> None:
    s = HealthSettings(observe="layer4", error_limit=2, on_error=action, fastinter=0.5)
    h = ServerHealth(s, now=0)
    run(h, "p")
    fired = 0
    now = 1.0
    while h.up:
        out = h.observe(Observation.L4_ERR, now)
        now += 1
        if out.fired:
            fired += 1
            assert out.check_at == pytest.approx(now - 1 + 0.5)
    assert fired == errors_to_down
    assert h.last_result is not None and h.last_result.status is CheckStatus.HANA
    assert h.last_result.info == (
        "Detected 2 consecutive errors, last one was: L4 unsuccessful connection"
    )
    assert h.hana_failures == errors_to_down


def test_on_error_fastinter_only_reschedules() -> None:
    h = ServerHealth(HealthSettings(observe="layer7", error_limit=1, on_error="fastinter"), now=0)
    out = h.observe(Observation.HTTP_STS, 1)
    assert out.fired and out.transition is None and h.up and out.check_at is None


def test_observe_success_resets_and_modes_ignore_foreign_events() -> None:
    h = ServerHealth(HealthSettings(observe="layer7", error_limit=3), now=0)
    h.observe(Observation.HTTP_STS, 1)
    h.observe(Observation.HTTP_STS, 1)
    h.observe(Observation.HTTP_OK, 1)
    assert h.consecutive_errors == 0
    h.observe(Observation.L4_OK, 1)  # ignored in layer7
    h.observe(Observation.L4_ERR, 1)
    assert h.consecutive_errors == 1
    l4 = ServerHealth(HealthSettings(observe="layer4"), now=0)
    l4.observe(Observation.HTTP_STS, 1)
    assert l4.consecutive_errors == 0


@pytest.mark.parametrize(
    ("status", "ok"),
    [
        (200, True),
        (404, True),
        (499, True),
        (501, True),
        (505, True),
        (500, False),
        (502, False),
        (503, False),
    ],
)
def test_http_status_observation(status: int, ok: bool) -> None:
    assert (Observation.for_status(status) is Observation.HTTP_OK) is ok


def test_status_text_like_show_stat() -> None:
    h = ServerHealth(HealthSettings(rise=2, fall=3), now=0)
    assert h.status_text == "UP 1/3"
    run(h, "p")
    assert h.status_text == "UP"
    run(h, "f")
    assert h.status_text == "UP 2/3"
    run(h, "ff")
    assert h.status_text == "DOWN"
    run(h, "p")
    assert h.status_text == "DOWN 1/2"


def test_panic_threshold() -> None:
    assert panic_mode(1, 4, 50)
    assert not panic_mode(2, 4, 50)
    assert not panic_mode(0, 4, 0)
    assert not panic_mode(0, 0, 50)


def test_settings_from_server_line() -> None:
    server = Server("s1", "127.0.0.1:80", check=True, rise=5, fall=1, inter=1.5, slowstart=30)
    s = HealthSettings.from_server(server)
    assert (s.rise, s.fall, s.inter, s.slowstart, s.top) == (5, 1, 1.5, 30, 5)
    with pytest.raises(ValueError, match="observe"):
        HealthSettings(observe="layer9")


def test_force_stopping_is_nolb_until_a_check_passes_or_they_fail() -> None:
    h = ServerHealth(HealthSettings(rise=2, fall=3), now=0)
    t = h.force_stopping(1)
    assert t is not None and t.up and t.stopping and t.result is None
    assert h.up and h.stopping and h.health == 4 and h.status_text == "NOLB"
    assert h.force_stopping(2) is None  # already there
    t = h.record(OK, 3)  # check_notify_success: back to RUNNING
    assert t is not None and t.up and not t.stopping and not h.stopping
    assert h.status_text == "UP"
    h.force_stopping(4)
    assert h.record(REFUSED, 5) is None and h.status_text == "NOLB 2/3"  # going down
    h.record(REFUSED, 6)
    t = h.record(REFUSED, 7)
    assert t is not None and not t.up and not h.stopping and h.status_text == "DOWN"


def test_stopping_ends_with_health_up_or_down_and_is_refused_in_maint() -> None:
    h = ServerHealth(HealthSettings(), now=0)
    h.force_stopping(1)
    t = h.force(True, 2)
    assert t is not None and t.up and not h.stopping
    h.force_stopping(3)
    t = h.force(False, 4)
    assert t is not None and not t.up and not h.stopping
    h.enter_maint(5)
    assert h.force_stopping(6) is None and not h.stopping


def test_stopping_line() -> None:
    line = format_state_change(
        "be", "s1", backup=False, up=True, result=None, active=1, backups=0,
        requeued=2, why="changed from CLI", stopping=True,
    )  # fmt: skip
    assert line == (
        "Server be/s1 is stopping, changed from CLI. 1 active and 0 backup servers online. "
        "2 sessions requeued, 0 total in queue."
    )


# -- log lines (the exact text is checked against real HAProxy in test_health_haproxy.py) --


def test_down_line() -> None:
    line = format_state_change(
        "be", "s1", backup=False, up=False, result=REFUSED, active=2, backups=0
    )
    assert line == (
        'Server be/s1 is DOWN, reason: Layer4 connection problem, info: "Connection refused", '
        "check duration: 0ms. 2 active and 0 backup servers left. "
        "0 sessions active, 0 requeued, 0 remaining in queue."
    )


def test_up_line_with_code_and_backup() -> None:
    result = CheckResult(CheckStatus.L7OK, code=200, info="OK", duration_ms=3)
    line = format_state_change(
        "be", "b1", backup=True, up=True, result=result, active=0, backups=1, requeued=2, queued=1
    )
    assert line == (
        'Backup Server be/b1 is UP, reason: Layer7 check passed, code: 200, info: "OK", '
        "check duration: 3ms. 0 active and 1 backup servers online. Running on backup. "
        "2 sessions requeued, 1 total in queue."
    )


def test_timeout_line_has_no_info_and_hana_has_no_duration() -> None:
    tout = CheckResult(CheckStatus.L7TOUT, duration_ms=1000)
    assert format_state_change(
        "b", "s", backup=False, up=False, result=tout, active=1, backups=0
    ).startswith("Server b/s is DOWN, reason: Layer7 timeout, check duration: 1000ms. 1 active")
    hana = CheckResult(CheckStatus.HANA, info='x"y', duration_ms=None)
    assert ', reason: Health analyze, info: "x<22>y". 0 active' in format_state_change(
        "b", "s", backup=False, up=False, result=hana, active=0, backups=0
    )


def test_maint_and_report_lines() -> None:
    assert format_maint("be", "s2", backup=False, was_down=False, active=0, backups=0) == (
        "Server be/s2 is going DOWN for maintenance. 0 active and 0 backup servers left. "
        "0 sessions active, 0 requeued, 0 remaining in queue."
    )
    assert format_leave_maint("be", "s2", backup=False, up=True, drain=False) == (
        "Server be/s2 is UP/READY (leaving forced maintenance)."
    )
    h = ServerHealth(HealthSettings(rise=2, fall=3), now=0)
    h.record(REFUSED, 1)
    assert format_check_report("be", "s1", backup=False, result=REFUSED, health=h) == (
        "Health check for server be/s1 failed, reason: Layer4 connection problem, "
        'info: "Connection refused", check duration: 0ms, status: 0/2 DOWN.'
    )


def test_a_conditional_pass_counts_as_a_pass_and_puts_an_up_server_in_nolb() -> None:
    """`http-check disable-on-404`: L7OKC raises the counter like a pass
    (set_server_check_status), then an up server enters NOLB (check_notify_stopping);
    a real pass ends it."""
    condpass = CheckResult(CheckStatus.L7OKC, code=404, duration_ms=1)
    health = ServerHealth(HealthSettings(rise=2, fall=3), now=0.0)
    transition = health.record(condpass, 1.0)
    assert transition is not None and transition.stopping and transition.up
    assert (health.health, health.stopping, health.status_text) == (4, True, "NOLB")
    assert health.record(condpass, 2.0) is None  # already NOLB
    back = health.record(OK, 3.0)
    assert back is not None and back.up and not back.stopping and not health.stopping
    run(health, "fff")  # DOWN
    assert health.record(condpass, 4.0) is None and not health.stopping and health.health == 1
