"""docs/algorithms.md stays true: its Python examples run and it covers every keyword."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from balancekit.algorithms import ALGORITHM_MODULES
from balancekit.algorithms.spec import HASH_FUNCTIONS, HASH_METHODS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "algorithms.md").read_text()
BLOCKS = re.findall(r"^```python\n(.*?)^```", DOC, re.S | re.M)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_python_examples_run(code: str) -> None:
    exec(compile(code, "docs/algorithms.md", "exec"), {"__name__": "docs_algorithms"})


def test_every_keyword_and_hash_option_is_documented() -> None:
    assert len(BLOCKS) >= 2
    table = DOC.split("## How a choice is made")[0]
    for keyword in ALGORITHM_MODULES:
        assert f"| `{keyword}" in table, keyword
    for word in (*HASH_FUNCTIONS, *HASH_METHODS):
        assert f"`{word}`" in DOC or word in DOC.split("### hash-type")[1], word
