"""The mypyc build of the hot path: in use when built, never stale, and optional.

The compiled modules are what `bench/tcp.py` measures, so a build that quietly
fell back to pure Python (or an editable install running old compiled code after
an edit) would make the figures and the code disagree.  The pure-Python source
must keep working on its own: it is what runs without a C compiler.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from balancekit_server import native

ROOT = Path(__file__).resolve().parent.parent
PURE = bool(os.environ.get("BALANCEKIT_PURE_PYTHON"))


@pytest.mark.skipif(PURE, reason="BALANCEKIT_PURE_PYTHON: installed without compiling")
def test_the_hot_path_is_compiled_and_current() -> None:
    assert native.compiled_modules() == list(native.COMPILED), (
        "the hot path is not compiled: install a C compiler and run "
        "`pip install -e .` again (or set BALANCEKIT_PURE_PYTHON=1 to test pure Python)"
    )
    assert native.stale_modules() == [], "source edited since the build: `pip install -e .`"
    count = len(native.COMPILED)
    assert native.describe() == (
        f"hot path compiled with mypyc ({count} of {count} modules) and the C relay loop"
    )


def test_the_build_type_checks_without_the_server_dependencies() -> None:
    # pip builds in an isolated environment that has mypy but none of the
    # server's dependencies; a type error there makes the install fall back to
    # pure Python on a fresh machine while it compiles here.
    paths = [name.replace(".", "/") + ".py" for name in native.COMPILED]
    check = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-site-packages", *native.BUILD_OPTIONS, *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def _copy_source(target: Path, with_extensions: bool) -> None:
    skip = shutil.ignore_patterns("__pycache__", *(() if with_extensions else ("*.so",)))
    for package in ("balancekit", "balancekit_server"):
        shutil.copytree(ROOT / package, target / package, ignore=skip)
    if with_extensions:
        for shared in ROOT.glob("balancekit_native__mypyc*"):
            shutil.copy2(shared, target)
    shutil.copytree(ROOT / "tests", target / "tests", ignore=skip)
    shutil.copy2(ROOT / "pyproject.toml", target)
    shutil.copy2(ROOT / "setup.py", target)


def _python(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    # The copy comes first on sys.path (the working directory), ahead of the install.
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_the_pure_python_source_passes_the_proxy_tests(tmp_path: Path) -> None:
    _copy_source(tmp_path, with_extensions=False)
    # An editable install's import hook would otherwise find its built C loop for
    # the copy's package (it resolves submodules the copy lacks).
    (tmp_path / "balancekit_server" / "net" / "_relay.py").write_text(
        'raise ImportError("not built in this copy")\n'
    )
    which = _python(
        tmp_path, "-c", "from balancekit_server import native; print(native.describe())"
    )
    assert which.stdout.strip() == "pure Python (hot path not compiled)", which.stderr
    tests = [
        "tests/l4/test_l4_relay.py",
        "tests/l4/test_l4_accounting.py",
        "tests/l4/test_l4_poller.py",  # without the C relay loop, `link` does nothing
        "tests/l7/test_l7_proxy.py",  # the compiled front door's cases, not the ASGI ones
    ]
    args = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "not asgi", *tests]
    run = _python(tmp_path, *args)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert " passed" in run.stdout and "failed" not in run.stdout


def test_the_loop_transports_pass_the_relay_tests() -> None:
    # Where there is no epoll (or BALANCEKIT_LOOP_TRANSPORTS is set) plain TCP
    # runs on the event loop's own transports, as TLS always does.
    tests = ["tests/l4/test_l4_relay.py", "tests/l4/test_l4_accounting.py"]
    env = {**os.environ, "BALANCEKIT_LOOP_TRANSPORTS": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert " passed" in run.stdout and "failed" not in run.stdout


@pytest.mark.skipif(PURE, reason="BALANCEKIT_PURE_PYTHON: no extensions to go stale")
def test_an_edited_source_runs_as_edited_never_the_old_build(tmp_path: Path) -> None:
    _copy_source(tmp_path, with_extensions=True)
    wakeups = tmp_path / "balancekit_server" / "net" / "wakeups.py"
    wakeups.write_text(wakeups.read_text() + "\nEDITED_AFTER_THE_BUILD = True\n")
    code = (
        "from balancekit_server import native, tcp\n"
        "from balancekit_server.net import wakeups\n"
        "print(native.stale_modules(), native.compiled_modules())\n"
        "print(wakeups.EDITED_AFTER_THE_BUILD, tcp.__file__.endswith('.py'))\n"
        "print(native.describe())\n"
    )
    out = _python(tmp_path, "-c", code)
    assert out.returncode == 0, out.stderr
    stale, edited, described = out.stdout.splitlines()
    # Every mypyc module comes from source: they call each other natively, so an
    # edited one beside compiled neighbours would still run through old code.
    assert stale == "['balancekit_server.net.wakeups'] []"
    assert edited == "True True"
    assert described.startswith("pure Python (hot path not compiled), with the C relay loop")
    assert "source changed since the build (balancekit_server.net.wakeups)" in described
    config = tmp_path / "haproxy.cfg"
    config.write_text("listen l\n    mode tcp\n    bind 127.0.0.1:0\n    server s 127.0.0.1:1\n")
    check = _python(tmp_path, "-m", "balancekit_server.cli", "-c", "-f", str(config))
    assert check.returncode == 0, check.stderr


@pytest.mark.skipif(PURE, reason="BALANCEKIT_PURE_PYTHON: no extensions to go stale")
def test_an_edited_relay_loop_is_not_loaded(tmp_path: Path) -> None:
    _copy_source(tmp_path, with_extensions=True)
    relay = tmp_path / "balancekit_server" / "net" / "_relay.c"
    relay.write_text(relay.read_text() + "\n/* edited */\n")
    code = (
        "from balancekit_server import native\n"
        "from balancekit_server.net import poller\n"
        "print(native.stale_modules(), len(native.compiled_modules()), poller._c_loop)\n"
    )
    out = _python(tmp_path, "-c", code)
    assert out.returncode == 0, out.stderr
    count = len(native.COMPILED)
    assert out.stdout.strip() == f"['balancekit_server.net._relay'] {count} None"


@pytest.mark.skipif(PURE, reason="BALANCEKIT_PURE_PYTHON: no extensions to go stale")
def test_an_unedited_copy_runs_compiled_whatever_its_file_times(tmp_path: Path) -> None:
    # Unpacking a wheel or checking out again gives new times to unchanged files:
    # the digests, not the times, decide.
    _copy_source(tmp_path, with_extensions=True)
    later = time.time() + 60
    for source in (tmp_path / "balancekit_server").rglob("*.py"):
        os.utime(source, (later, later))
    code = "from balancekit_server import native; print(native.stale_modules(), native.describe())"
    out = _python(tmp_path, "-c", code)
    assert out.returncode == 0, out.stderr
    count = len(native.COMPILED)
    assert out.stdout.strip() == (
        f"[] hot path compiled with mypyc ({count} of {count} modules) and the C relay loop"
    )


@pytest.mark.skipif(PURE, reason="BALANCEKIT_PURE_PYTHON: no extensions to go stale")
def test_extensions_without_a_build_record_are_not_trusted(tmp_path: Path) -> None:
    _copy_source(tmp_path, with_extensions=True)
    (tmp_path / "balancekit_server" / native.MANIFEST).unlink()
    code = "from balancekit_server import native; print(native.compiled_modules())"
    out = _python(tmp_path, "-c", code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_version_says_how_the_hot_path_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "balancekit_server.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("balancekit-server ")
    assert out.stdout.rstrip().endswith(native.describe())
