"""The Python examples in the user docs run as written.

Docs that show code are only trustworthy if the code still works; every
```python block in these pages is executed, in a fresh namespace.  Blocks that
need a running server are fenced as ```py instead, and are not run here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = ["library.md", "concepts.md", "middleware.md", "quickstart.md"]
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _blocks() -> list[tuple[str, int, str]]:
    found = []
    for page in PAGES:
        path = DOCS / page
        if not path.exists():
            continue
        text = path.read_text()
        for match in _BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 2
            found.append((page, line, match.group(1)))
    return found


@pytest.mark.parametrize(("page", "line", "code"), _blocks(), ids=lambda v: str(v)[:20])
def test_python_block_runs(page: str, line: int, code: str) -> None:
    compiled = compile(code, f"{page}:{line}", "exec")
    exec(compiled, {"__name__": f"docs_{page}"})
