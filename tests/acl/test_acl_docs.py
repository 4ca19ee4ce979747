"""docs/acl.md stays true: its Python examples run, and its tables list what the code has."""

from __future__ import annotations

import re
from pathlib import Path

from balancekit.acl import ACL_KEYWORDS, CONVERTERS, FETCHES, PREDEFINED_ACLS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "acl.md").read_text()


def test_python_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC, flags=re.DOTALL)
    assert len(blocks) >= 7
    namespace: dict[str, object] = {}
    for block in blocks:  # later blocks reuse earlier imports, like a reader would
        exec(compile(block, "docs/acl.md", "exec"), namespace)


def _first_column(heading: str) -> set[str]:
    section = DOC.split(f"### {heading}\n", 1)[1].split("\n#", 1)[0]
    names: set[str] = set()
    for cell in re.findall(r"^\| (.+?) \|", section, flags=re.MULTILINE):
        names.update(code.split("(", 1)[0] for code in re.findall(r"`([^`]+)`", cell))
    return names


def test_fetch_table_lists_every_fetch() -> None:
    assert _first_column("Fetches") == set(FETCHES)


def test_predefined_table_lists_every_predefined_acl() -> None:
    assert _first_column("Predefined ACLs") == set(PREDEFINED_ACLS)


def test_acl_keywords_and_converters_are_described() -> None:
    section = DOC.split("### ACL keywords\n", 1)[1].split("\n#", 1)[0]
    families = re.findall(r"`([\w ]+)`", section.split("exists bare", 1)[0])[0].split()
    suffixes = re.findall(r"_[a-z]+", re.findall(r"`(_[\w ]+)`", section)[0])
    described = set(families) | {f + s for f in families for s in suffixes}
    described |= set(re.findall(r"`(\w+)`", section.split("Also", 1)[1]))
    assert set(ACL_KEYWORDS) <= described
    for name in CONVERTERS:
        assert f"`{name}`" in DOC
