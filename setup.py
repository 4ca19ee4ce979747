"""Build hook: compile the per-connection hot path with mypyc, else stay pure Python.

Everything else about the package is in pyproject.toml.  The compiled modules and
the type check's options are set once, in balancekit_server/native.py (loaded
here by path, without importing the package and its dependencies).  The TCP
relay's C loop (`_relay.c`) is built alongside.  The build records a digest of
each source it compiles (native.MANIFEST), so that an edited source always runs
as edited (native.guard).  `BALANCEKIT_PURE_PYTHON=1` skips compiling; a build that
cannot compile (no C compiler, no mypyc, a type error mypyc rejects) warns and
installs the pure-Python modules.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

from setuptools import Extension, setup

HERE = Path(__file__).parent


def _native() -> Any:
    """balancekit_server/native.py, loaded by path (it needs only the standard library)."""
    spec = importlib.util.spec_from_file_location(
        "_balancekit_native_build", HERE / "balancekit_server" / "native.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _extensions() -> list[object]:
    if os.environ.get("BALANCEKIT_PURE_PYTHON"):
        return []
    native = _native()
    manifest = HERE / "balancekit_server" / native.MANIFEST
    manifest.write_text(json.dumps(native.source_digests(HERE), indent=1, sort_keys=True) + "\n")
    relay_loop: str = native.RELAY_LOOP
    relay = Extension(relay_loop, [relay_loop.replace(".", "/") + ".c"], optional=True)
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("balancekit: mypyc is not installed; installing pure Python", file=sys.stderr)
        return [relay]
    paths = [name.replace(".", "/") + ".py" for name in native.COMPILED]
    options = list(native.BUILD_OPTIONS)
    try:
        extensions = mypycify([*options, *paths], opt_level="3", group_name="balancekit_native")
    except (Exception, SystemExit) as error:  # mypyc exits on a type error it rejects
        print(f"balancekit: mypyc failed ({error!r}); installing pure Python", file=sys.stderr)
        return [relay]
    for extension in extensions:
        extension.optional = True  # no C compiler: warn and keep the .py modules
    return [*extensions, relay]


setup(ext_modules=_extensions())
