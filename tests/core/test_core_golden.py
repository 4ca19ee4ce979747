"""Recorded HAProxy 2.6 answers (tests/golden/) against `Backend.pick`, so the
differential check also runs where HAProxy is not installed."""

from __future__ import annotations

import pytest
from core_differential import Scenario, first_difference, load_golden, replay_model
from core_inflight import CASES, Case, load_inflight_golden, replay_model_only
from core_scenarios import all_scenarios

RECORDED = load_golden("haproxy_2.6_balance")


@pytest.mark.parametrize("scenario", RECORDED, ids=lambda s: s.id)
def test_recorded_haproxy_answers(scenario: Scenario) -> None:
    model = replay_model(scenario)
    assert model == scenario.answers, first_difference(scenario.answers, model)


def test_golden_file_matches_the_generated_scenarios() -> None:
    recorded = {s.id: s for s in RECORDED}
    for scenario in all_scenarios():
        assert scenario.id in recorded, f"{scenario.id} not recorded: run core_record.py"
        golden = recorded[scenario.id]
        assert golden.requests == scenario.requests, scenario.id
        assert golden.actions == scenario.actions, scenario.id
        assert golden.servers == scenario.servers, scenario.id


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_recorded_in_flight_choices(case: Case) -> None:
    """Leases (maxconn, queues, leastconn loads) against HAProxy's recorded choices."""
    assert replay_model_only(case) == load_inflight_golden()[case.id]
