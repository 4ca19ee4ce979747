"""Build hook: compile the per-connection hot path with mypyc, else stay pure Python.

Everything else about the package is in pyproject.toml.  The compiled modules and
the type check's options are set once, in balancekit_server/native.py (read here
without importing the package).  The TCP relay's C loop (`_relay.c`) is built
alongside.  `BALANCEKIT_PURE_PYTHON=1` skips compiling; a build that cannot
compile (no C compiler, no mypyc, a type error mypyc rejects) warns and installs
the pure-Python modules.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path
from typing import Any

from setuptools import Extension, setup

HERE = Path(__file__).parent


def _native_setting(name: str) -> Any:
    """A literal from balancekit_server/native.py, read without importing it."""
    tree = ast.parse((HERE / "balancekit_server" / "native.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == name:
            assert node.value is not None
            return ast.literal_eval(node.value)
    raise RuntimeError(f"balancekit_server/native.py has no {name}")


def _extensions() -> list[object]:
    if os.environ.get("BALANCEKIT_PURE_PYTHON"):
        return []
    relay_loop: str = _native_setting("RELAY_LOOP")
    relay = Extension(relay_loop, [relay_loop.replace(".", "/") + ".c"], optional=True)
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("balancekit: mypyc is not installed; installing pure Python", file=sys.stderr)
        return [relay]
    paths = [name.replace(".", "/") + ".py" for name in _native_setting("COMPILED")]
    options = list(_native_setting("BUILD_OPTIONS"))
    try:
        extensions = mypycify([*options, *paths], opt_level="3", group_name="balancekit_native")
    except (Exception, SystemExit) as error:  # mypyc exits on a type error it rejects
        print(f"balancekit: mypyc failed ({error!r}); installing pure Python", file=sys.stderr)
        return [relay]
    for extension in extensions:
        extension.optional = True  # no C compiler: warn and keep the .py modules
    return [*extensions, relay]


setup(ext_modules=_extensions())
