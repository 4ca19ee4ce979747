"""Every matrix row, on each of its backend kinds: HAProxy 2.6 and balancekit must agree."""

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
        for kind in row.kinds:
            failing = row.xfail and (not row.xfail_kinds or kind in row.xfail_kinds)
            marks = [pytest.mark.xfail(strict=True, reason=row.xfail)] if failing else []
            cases.append(pytest.param(row, kind, id=f"{row.id}[{kind}]", marks=marks))
    return cases


@pytest.mark.parametrize(("row", "echo_group"), _cases(), indirect=["echo_group"])
def test_row(row: Row, echo_group: EchoGroup) -> None:
    require_haproxy()
    outcome = run_row(row, echo_group)
    assert outcome.haproxy.get("start") == "ok", outcome.report()
    assert not outcome.diff, outcome.report()
