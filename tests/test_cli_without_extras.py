"""`pip install balancekit` alone: `balancekit-server -c` works, and a start that
needs the server extra says which one.

The server extra's modules are made unimportable in a child interpreter (a finder
ahead of all others refuses them), which is what a machine without the extra
looks like to the import system.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from balancekit_server.cli import SERVER_EXTRA_MODULES

HTTP_CONFIG = """\
defaults
    mode http
    timeout connect 5s
    timeout client 5s
    timeout server 5s
    option forwardfor
    log-format "%ci %ST %{+Q}r"
frontend web
    bind 127.0.0.1:0
    default_backend app
backend app
    balance uri
    hash-type consistent
    server s1 127.0.0.1:8081 check
"""

WITHOUT_EXTRAS = textwrap.dedent(
    """
    import importlib.abc, sys

    class NoServerExtra(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.partition(".")[0] in {blocked!r}:
                raise ModuleNotFoundError(f"No module named '{{name}}'", name=name)
            return None

    sys.meta_path.insert(0, NoServerExtra())
    from balancekit_server.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def cli_without_extras(*args: str) -> subprocess.CompletedProcess[str]:
    code = WITHOUT_EXTRAS.format(blocked=set(SERVER_EXTRA_MODULES))
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=60
    )


def test_the_blocker_really_hides_the_server_extra() -> None:
    probe = cli_without_extras("--version")
    assert probe.returncode == 0, probe.stderr
    code = WITHOUT_EXTRAS.format(blocked=set(SERVER_EXTRA_MODULES)).replace(
        "from balancekit_server.cli import main", "import httptools"
    )
    hidden = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "No module named 'httptools'" in hidden.stderr


def test_check_needs_only_the_library(tmp_path: Path) -> None:
    config = tmp_path / "haproxy.cfg"
    config.write_text(HTTP_CONFIG)
    result = cli_without_extras("-c", "-f", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Configuration file is valid\n"
    assert "Traceback" not in result.stderr


def test_a_bad_config_is_still_reported_by_line(tmp_path: Path) -> None:
    config = tmp_path / "haproxy.cfg"
    config.write_text(HTTP_CONFIG.replace("balance uri", "balance nonsense"))
    result = cli_without_extras("-c", "-f", str(config))
    assert result.returncode == 1
    assert f"{config}:12: " in result.stderr
    assert "Traceback" not in result.stderr


def test_running_an_http_config_names_the_extra_to_install(tmp_path: Path) -> None:
    config = tmp_path / "haproxy.cfg"
    config.write_text(HTTP_CONFIG)
    result = cli_without_extras("-f", str(config))
    assert result.returncode == 1
    assert "pip install 'balancekit[server]'" in result.stderr
    assert "Traceback" not in result.stderr
