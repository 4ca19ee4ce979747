"""Live differential test: real HAProxy 2.6 and `Backend.pick` choose the same
server for the same request sequence (weights incl. 0, backups, `disabled`,
runtime `set server` commands mid-sequence, every hashing key in map-based and
consistent mode)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from core_differential import (
    NAMES,
    RefusedAddress,
    Scenario,
    first_difference,
    haproxy_config,
    load_golden,
    replay_haproxy,
    replay_model,
)
from core_scenarios import all_scenarios

from support.backends import NamedBackends
from support.haproxy import HAProxy, require_haproxy

pytestmark = pytest.mark.haproxy

SCENARIOS = all_scenarios()
GOLDEN = {s.id: s for s in load_golden("haproxy_2.6_balance")}


@pytest.fixture(scope="module")
def haproxy() -> Iterator[HAProxy]:
    require_haproxy()
    with (
        NamedBackends(NAMES) as backends,
        RefusedAddress() as refused,
        HAProxy(haproxy_config(SCENARIOS, backends, refused.address)) as hp,
    ):
        yield hp


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_same_server_as_haproxy(haproxy: HAProxy, scenario: Scenario) -> None:
    answers = replay_haproxy(haproxy, scenario)
    assert set(answers) <= {name for name, _, _ in scenario.servers} | {"<503>"}, answers
    model = replay_model(scenario)
    assert model == answers, first_difference(answers, model)
    # The recorded answers must still be what HAProxy says.
    assert GOLDEN[scenario.id].answers == answers
