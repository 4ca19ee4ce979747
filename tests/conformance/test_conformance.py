"""Every matrix row × backend kind: HAProxy 2.6 and balancekit must agree."""

from __future__ import annotations

import pytest

from support.echo_backends import EchoGroup
from support.haproxy import require_haproxy

from .matrix import ROWS, Row
from .runner import run_row

pytestmark = pytest.mark.haproxy


def _cases() -> list[object]:
    cases = []
    for row in ROWS:
        marks = [pytest.mark.xfail(strict=True, reason=row.xfail)] if row.xfail else []
        for kind in row.kinds:
            cases.append(pytest.param(row, kind, id=f"{row.id}[{kind}]", marks=marks))
    return cases


@pytest.mark.parametrize(("row", "echo_group"), _cases(), indirect=["echo_group"])
def test_row(row: Row, echo_group: EchoGroup) -> None:
    require_haproxy()
    outcome = run_row(row, echo_group)
    assert outcome.haproxy.get("start") == "ok", outcome.report()
    assert not outcome.diff, outcome.report()
