"""The library stays dependency-light: importing it pulls in no server stack."""

import subprocess
import sys

import balancekit


def test_import_needs_only_stdlib_and_mmh3() -> None:
    code = (
        "import sys, pkgutil, importlib, balancekit\n"
        "for mod in pkgutil.walk_packages(balancekit.__path__, 'balancekit.'):\n"
        "    importlib.import_module(mod.name)\n"
        "heavy = {'anyio', 'starlette', 'uvicorn', 'httptools', 'uvloop', 'flask', 'asyncio'}\n"
        "loaded = heavy & {name.split('.')[0] for name in sys.modules}\n"
        "print(','.join(sorted(loaded)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_public_exports_are_importable() -> None:
    for name in balancekit.__all__:
        assert hasattr(balancekit, name), name
