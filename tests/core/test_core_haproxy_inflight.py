"""Requests held in flight through a real HAProxy 2.6 and through Backend leases:
same server for every request, same queueing (maxconn, FIFO), same dequeueing.

Each step waits until HAProxy's `show stat` counters (per-server qcur/scur,
backend qcur) equal the model's, so both sides see the same order of events.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from core_inflight import (
    CASES,
    Case,
    HoldBackends,
    InflightReplay,
    inflight_config,
    load_inflight_golden,
)

from support.haproxy import HAProxy, require_haproxy

pytestmark = pytest.mark.haproxy


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[HAProxy, HoldBackends]]:
    require_haproxy()
    with HoldBackends(["A", "B", "C"]) as backends, HAProxy(inflight_config(backends)) as haproxy:
        yield haproxy, backends


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_in_flight_behaviour_matches_haproxy(
    running: tuple[HAProxy, HoldBackends], case: Case
) -> None:
    haproxy, backends = running
    replay = InflightReplay(haproxy, backends, case.proxy, case.model())
    for step in case.steps:
        if step[0] == "open":
            replay.open(step[1], step[2] if len(step) > 2 else "")
        else:
            replay.release(step[1])
        for member in replay.model.members:
            assert member.inflight <= (member.server.maxconn or 10**9)
    opened = [step[1] for step in case.steps if step[0] == "open"]
    recorded = load_inflight_golden()[case.id]
    for ident in opened:
        haproxy_choice, model_choice = replay.chosen(ident)
        assert haproxy_choice == model_choice, f"request {ident}"
        assert recorded[ident] == haproxy_choice, f"request {ident}: golden file is stale"
        assert replay.status(ident) == 200
