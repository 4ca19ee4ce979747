"""Which modules run compiled: the per-connection path, built with mypyc when it can be.

Why compile: a `mode tcp` connection or an HTTP request runs a few hundred small
Python functions (accept, parse, route, lease, connect, relay, count, log, tear
down).  Interpreted, balancekit's own work cost 138k instructions per TCP
connection against 94k for a bare uvloop relay; compiled with mypyc it costs the
relay's, and the HTTP proxy serves half as many requests again
(`bench/tcp_cost.py`, `bench/http.py`, docs/performance.md).  The source stays
plain typed Python: without a C compiler, or with `BALANCEKIT_PURE_PYTHON=1` at
install time, it runs as it is, only slower.

Why compiled code can never be older than its source: the build records a digest
of every source it compiled (`MANIFEST`, written by setup.py).  When the package
is imported, `guard()` compares them with the sources on disk; if any compiled
module's source changed (an edit in an editable install, a checkout of another
commit), every compiled module is served from its `.py` instead, by a finder put
ahead of the others on `sys.meta_path`.  All of them, because mypyc links the
modules of one build to each other directly: an edited module beside compiled
neighbours would still be called through their old code.  So an edit always
runs, interpreted until `pip install -e .` compiles it again; `--version` says so.

`setup.py` reads `COMPILED`, `BUILD_OPTIONS`, `RELAY_LOOP` and `MANIFEST` from this
file without importing the package, and writes the manifest with
`source_digests`; keep this module free of imports the build lacks.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

__all__ = [
    "BUILD_OPTIONS",
    "COMPILED",
    "MANIFEST",
    "compiled_modules",
    "describe",
    "guard",
    "source_digests",
    "stale_modules",
]

# balancekit_server's modules on the per-connection path.  A compiled class takes
# no interpreted subclass unless it says `@mypyc_attr(allow_interpreted_subclasses=
# True)`, no weak reference and no attribute patched onto an instance; so the
# `balancekit` library, which users extend, stays pure Python.
COMPILED: tuple[str, ...] = (
    "balancekit_server.ops.counters",
    "balancekit_server.http.errors",
    "balancekit_server.http.headers",
    "balancekit_server.http.listen",
    "balancekit_server.http.proxy",
    "balancekit_server.http.server",
    "balancekit_server.http.upstream",
    "balancekit_server.process.limits",
    "balancekit_server.ops.logs",
    "balancekit_server.net.poller",
    "balancekit_server.net.sockopts",
    "balancekit_server.tcp",
    "balancekit_server.net.wakeups",
)

# The TCP relay's hand-written C loop (`_relay.c`, see poller.py), built
# beside the mypyc modules and optional like them.
RELAY_LOOP: str = "balancekit_server.net._relay"

# mypy options for the build.  pip builds in an environment with none of the
# server's dependencies, where their types are unknown (Any) and the modules
# outside `COMPILED` are only followed; without these the type check fails there
# and the install silently falls back to pure Python.
BUILD_OPTIONS: tuple[str, ...] = ("--ignore-missing-imports", "--follow-imports=silent")


# The build's record of what it compiled: {module: digest of its source}, in the
# package directory (gitignored in a checkout, package data in a wheel).
MANIFEST: str = "_native_build.json"

_PACKAGE = Path(__file__).resolve().parent
_ROOT = _PACKAGE.parent


def _source(module: str, root: Path = _ROOT) -> Path:
    suffix = ".c" if module == RELAY_LOOP else ".py"
    return root / (module.replace(".", "/") + suffix)


def _extension(module: str) -> Path | None:
    """The built extension of `module` beside its source, without importing anything
    (a lookup through the import system would import the parent packages, and with
    them the server's dependencies, which `balancekit-server -c` does not need)."""
    stem = _ROOT / module.replace(".", "/")
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = stem.with_name(stem.name + suffix)
        if candidate.exists():
            return candidate
    return None


def _digest(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()


def source_digests(root: Path = _ROOT) -> dict[str, str]:
    """{module: digest} of the sources a build compiles; setup.py writes it to `MANIFEST`."""
    return {module: _digest(_source(module, root)) for module in (*COMPILED, RELAY_LOOP)}


class _Plan:
    """What the import system should load, decided once per process by `guard()`."""

    def __init__(self) -> None:
        built = [module for module in (*COMPILED, RELAY_LOOP) if _extension(module)]
        try:
            recorded = json.loads((_PACKAGE / MANIFEST).read_text())
        except (OSError, ValueError):
            recorded = {}
        #: Built modules whose source is not what was compiled (or unrecorded).
        self.stale = [
            module
            for module in built
            if not _source(module).exists() or recorded.get(module) != _digest(_source(module))
        ]
        mypyc_stale = any(module != RELAY_LOOP for module in self.stale)
        self.from_source = list(COMPILED) if mypyc_stale else []
        self.refused = [RELAY_LOOP] if RELAY_LOOP in self.stale else []
        self.compiled = [
            module for module in built if module not in self.from_source + self.refused
        ]


class _RefuseLoader(importlib.abc.Loader):
    """Makes a stale C extension look unbuilt, so its pure-Python stand-in runs."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        raise ImportError(f"{spec.name}: source changed since the build; not loading it")

    def exec_module(self, module: ModuleType) -> None:  # pragma: no cover - never reached
        raise ImportError(module.__name__)


class _SourceFirst(importlib.abc.MetaPathFinder):
    """Serves the listed modules from their `.py` files, whatever else is built."""

    def __init__(self, plan: _Plan) -> None:
        self.sources = {module: _source(module) for module in plan.from_source}
        self.refused = frozenset(plan.refused)

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname in self.sources:
            return importlib.util.spec_from_file_location(fullname, self.sources[fullname])
        if fullname in self.refused:
            return importlib.machinery.ModuleSpec(fullname, _RefuseLoader())
        return None


_plan: _Plan | None = None


def guard() -> None:
    """Run once, from `balancekit_server/__init__.py`, before any compiled module loads."""
    global _plan
    if _plan is not None:
        return
    _plan = _Plan()
    if _plan.from_source or _plan.refused:
        sys.meta_path.insert(0, _SourceFirst(_plan))


def _current() -> _Plan:
    guard()
    assert _plan is not None
    return _plan


def compiled_modules() -> list[str]:
    """The modules of `COMPILED` that load from an extension rather than their source."""
    return [module for module in _current().compiled if module != RELAY_LOOP]


def stale_modules() -> list[str]:
    """Built modules whose source changed since the build; they (and, for mypyc, all
    its modules) run from source until the next `pip install -e .`."""
    return list(_current().stale)


def describe() -> str:
    """One line for `--version` and the benches: how this install runs its hot path."""
    plan = _current()
    relay = RELAY_LOOP in plan.compiled
    compiled = len(plan.compiled) - relay
    if not compiled:
        text = "pure Python (hot path not compiled)" + (", with the C relay loop" * relay)
    else:
        text = f"hot path compiled with mypyc ({compiled} of {len(COMPILED)} modules)"
        text += " and the C relay loop" if relay else ", without the C relay loop"
    if plan.stale:
        text += (
            f"; source changed since the build ({', '.join(plan.stale)}), so it runs "
            "from source: `pip install -e .` compiles it again"
        )
    return text
