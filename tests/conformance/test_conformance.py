"""Every matrix row, on each of its backend kinds: HAProxy 2.6 and balancekit must agree."""

from __future__ import annotations

import re

import pytest

from support.echo_backends import EchoGroup
from support.haproxy import require_haproxy

from .matrix import ROWS, Row
from .runner import run_row

pytestmark = pytest.mark.haproxy


class KnownDivergence(AssertionError):
    """The row's documented divergence, and nothing else (see DIVERGENCES.md)."""


def _cases() -> list[object]:
    cases = []
    for row in ROWS:
        for kind in row.kinds:
            failing = row.xfail and (not row.xfail_kinds or kind in row.xfail_kinds)
            marks = (
                [pytest.mark.xfail(strict=True, raises=KnownDivergence, reason=row.xfail)]
                if failing
                else []
            )
            cases.append(pytest.param(row, kind, id=f"{row.id}[{kind}]", marks=marks))
    return cases


@pytest.mark.parametrize(("row", "echo_group"), _cases(), indirect=["echo_group"])
def test_row(row: Row, echo_group: EchoGroup) -> None:
    require_haproxy()
    outcome = run_row(row, echo_group)
    assert outcome.haproxy.get("start") == "ok", outcome.report()
    diff = outcome.diff
    if row.xfail and diff and all(re.search(row.diverges, line) for line in diff):
        raise KnownDivergence(outcome.report())
    assert not diff, outcome.report()
