"""docs/configuration.md lists exactly the keyword table the parser uses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from balancekit.config.keywords import (
    BIND_KEYWORDS,
    CACHE_KEYWORDS,
    HAPROXY_ONLY,
    HTTP_ERRORS_KEYWORDS,
    KEYWORDS,
    PEERS_KEYWORDS,
    RESOLVERS_KEYWORDS,
    SERVER_KEYWORDS,
    USERLIST_KEYWORDS,
)

DOC = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()


def _table_rows(heading: str) -> dict[str, str]:
    """`keyword -> rest of the row` for the table under `### heading`."""
    section = DOC.split(f"### {heading}\n", 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \| (.*) \|$", section, flags=re.MULTILINE)
    return dict(rows)


def test_every_implemented_keyword_is_documented_with_its_sections() -> None:
    rows = _table_rows("Implemented")
    implemented = [k for k in KEYWORDS if not k.ignored]
    assert sorted(rows) == sorted(k.name for k in implemented)
    for keyword in implemented:
        assert keyword.summary in rows[keyword.name]


def test_every_warned_keyword_is_documented_with_its_reason() -> None:
    rows = _table_rows("Accepted with a warning (no effect)")
    warned = [k for k in KEYWORDS if k.ignored]
    assert sorted(rows) == sorted(k.name for k in warned)
    for keyword in warned:
        assert keyword.ignored in rows[keyword.name]


@pytest.mark.parametrize(
    ("heading", "table"),
    [
        ("`server` and `default-server` options", SERVER_KEYWORDS),
        ("`bind` options", BIND_KEYWORDS),
        ("`userlist` sections", USERLIST_KEYWORDS),
        ("`peers` sections", PEERS_KEYWORDS),
        ("`cache` sections", CACHE_KEYWORDS),
        ("`http-errors` sections", HTTP_ERRORS_KEYWORDS),
        ("`resolvers` sections", RESOLVERS_KEYWORDS),
    ],
)
def test_server_and_bind_options_are_documented(heading: str, table: dict[str, str]) -> None:
    assert _table_rows(heading) == {name: text for name, text in table.items()}


def test_rejected_haproxy_keywords_are_listed() -> None:
    rejected = DOC.split("## Rejected\n", 1)[1].split("\n## ", 1)[0]
    assert set(re.findall(r"`([^`]+)`", rejected)) >= HAPROXY_ONLY
