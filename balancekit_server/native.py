"""Which modules run compiled: the per-connection path, built with mypyc when it can be.

Why compile: a `mode tcp` connection or an HTTP request runs a few hundred small
Python functions (accept, parse, route, lease, connect, relay, count, log, tear
down).  Interpreted, balancekit's own work cost 138k instructions per TCP
connection against 94k for a bare uvloop relay; compiled with mypyc it costs the
relay's, and the HTTP proxy serves half as many requests again
(`bench/tcp_cost.py`, `bench/http.py`, docs/performance.md).  The source stays
plain typed Python: without a C compiler, or with `BALANCEKIT_PURE_PYTHON=1` at
install time, it runs as it is, only slower.

`setup.py` reads `COMPILED` and `BUILD_OPTIONS` from this file without importing
the package, so they live here once; keep this module free of imports the build
lacks.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
from pathlib import Path

__all__ = ["BUILD_OPTIONS", "COMPILED", "compiled_modules", "describe", "stale_modules"]

# balancekit_server's modules on the per-connection path.  A compiled class takes
# no interpreted subclass unless it says `@mypyc_attr(allow_interpreted_subclasses=
# True)`, no weak reference and no attribute patched onto an instance; so the
# `balancekit` library, which users extend, stays pure Python.
COMPILED: tuple[str, ...] = (
    "balancekit_server.counters",
    "balancekit_server.http.errors",
    "balancekit_server.http.headers",
    "balancekit_server.http.listen",
    "balancekit_server.http.proxy",
    "balancekit_server.http.server",
    "balancekit_server.http.upstream",
    "balancekit_server.limits",
    "balancekit_server.logs",
    "balancekit_server.poller",
    "balancekit_server.sockopts",
    "balancekit_server.tcp",
    "balancekit_server.wakeups",
)

# The TCP relay's hand-written C loop (`_relay.c`, see poller.py), built
# beside the mypyc modules and optional like them.
RELAY_LOOP: str = "balancekit_server._relay"

# mypy options for the build.  pip builds in an environment with none of the
# server's dependencies, where their types are unknown (Any) and the modules
# outside `COMPILED` are only followed; without these the type check fails there
# and the install silently falls back to pure Python.
BUILD_OPTIONS: tuple[str, ...] = ("--ignore-missing-imports", "--follow-imports=silent")


def _extensions() -> dict[str, Path]:
    """The modules of `COMPILED` (and the relay loop) that load from an extension,
    and that file."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    found = {}
    for module in (*COMPILED, RELAY_LOOP):
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin and spec.origin.endswith(suffixes):
            found[module] = Path(spec.origin)
    return found


def _stale(extensions: dict[str, Path]) -> list[str]:
    stale = []
    for module, extension in extensions.items():
        root = extension.parents[module.count(".")]
        suffix = ".c" if module == RELAY_LOOP else ".py"
        source = extension.parent / (module.rpartition(".")[2] + suffix)
        if not (root / "setup.py").exists() or not source.exists():
            continue
        if source.stat().st_mtime > extension.stat().st_mtime:
            stale.append(module)
    return stale


def compiled_modules() -> list[str]:
    """The modules of `COMPILED` that load from an extension rather than their source."""
    return [module for module in _extensions() if module != RELAY_LOOP]


def stale_modules() -> list[str]:
    """Compiled modules whose source changed after the build (an editable install
    would otherwise run the old code, silently): reinstall to rebuild them.

    Only a source checkout (with its `setup.py`) is checked: an installed wheel's
    files all date from when it was unpacked, in no meaningful order.
    """
    return _stale(_extensions())


def describe() -> str:
    """One line for `--version` and the benches: how this install runs its hot path."""
    extensions = _extensions()
    relay = RELAY_LOOP in extensions
    compiled = len(extensions) - relay
    if not compiled:
        text = "pure Python (hot path not compiled)" + (", with the C relay loop" * relay)
    else:
        text = f"hot path compiled with mypyc ({compiled} of {len(COMPILED)} modules)"
        text += " and the C relay loop" if relay else ", without the C relay loop"
    stale = _stale(extensions)
    if stale:
        text += f"; STALE, source changed since the build: {', '.join(stale)} (reinstall)"
    return text
