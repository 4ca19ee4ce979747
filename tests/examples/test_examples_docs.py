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
PAGES = ["../README.md", "library.md", "concepts.md", "middleware.md", "quickstart.md"]
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


ROOT = DOCS.parent


def test_readme_opens_with_the_two_newcomer_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```sh\n", 1)[1].split("```", 1)[0]
    lines = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert lines == [
        "pip install -e '.[server]' && balancekit-server --demo",
        "scripts/test",
    ]
    # CI runs exactly the README's test command, on a line of its own, before the linters.
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert lines[1] in ci_lines
    assert ci_lines.index(lines[1]) < ci_lines.index("python3 -m ruff check .")


def test_readme_links_every_doc_and_only_existing_files() -> None:
    readme = (ROOT / "README.md").read_text()
    targets = set(re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme))
    for target in targets:
        assert (ROOT / target).exists(), f"README links to missing {target}"
    docs = {f"docs/{p.name}" for p in DOCS.glob("*.md")}
    assert docs <= targets, f"not linked from README: {sorted(docs - targets)}"


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_relative_links_in_docs_resolve(page: str) -> None:
    text = (DOCS / page).read_text()
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        assert (DOCS / target).exists(), f"{page} links to missing {target}"
