"""The benchmarks load: a user who runs one must not meet an import error.

They are not run here (timed runs belong to `bench/`, not the suite), but each
one's `--help` imports the module and the siblings it loads, which is where a
change elsewhere in `bench/` breaks it.
"""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
# The bare relay takes positional ports only; `bench/tcp.py --floor` starts it.
SCRIPTS = sorted(path.name for path in BENCH.glob("*.py") if path.name != "uvloop_floor.py")


@pytest.mark.parametrize("script", SCRIPTS)
def test_bench_script_loads(script: str) -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH / script), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "usage:" in out.stdout
