"""`option external-check` against HAProxy 2.6: the program's arguments and
environment, byte for byte, and the config's errors and warnings.

The check program dumps `$0 $@` and its whole shell environment (`set`) to a
file; HAProxy and balancekit-server run it on the same config, and the two
dumps must be equal but for the parent's pid.  HAProxy's refusals of a config
(`external-check` missing in global, no command, a relative command without a
path) and its warning without `insecure-fork-wanted` must come out of
`balancekit-server -c` too.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from support.backends import NamedBackends
from support.haproxy import BALANCEKIT, HAPROXY, HAProxy, require_haproxy

DUMP = """#!/bin/sh
echo "$0 $@" > {out}.tmp
set >> {out}.tmp
mv {out}.tmp {out}
exit 0
"""

CONFIG = """global
    stats socket {{stats}} level admin
    external-check
    insecure-fork-wanted
defaults
    mode {mode}
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen be
    bind {{listen:main}}
    option external-check
    external-check path /usr/bin:/bin
    external-check command {command}
    server web {server} maxconn 7 check inter 100ms
"""


def _dump(tmp: Path, command: tuple[str, ...], mode: str, server: str) -> str:
    out = tmp / f"dump-{command[0].rsplit('/', 1)[-1]}-{mode}"
    script = tmp / f"check-{mode}.sh"
    script.write_text(DUMP.format(out=out))
    script.chmod(0o755)
    cfg = CONFIG.format(mode=mode, command=script, server=server)
    with HAProxy(cfg, command=command) as proxy:
        deadline = time.monotonic() + 10
        while not out.exists():
            assert time.monotonic() < deadline, f"the check never ran:\n{proxy.log()}"
            time.sleep(0.05)
        port = proxy.port("main")
    text = out.read_text()
    # What differs by run: the parent's pid, the listener's port, the dump's name.
    text = re.sub(r"PPID='\d+'", "PPID=<pid>", text).replace(str(port), "<port>")
    return text.replace(out.name, "<dump>")


@pytest.mark.parametrize("mode", ["http", "tcp"])
def test_arguments_and_environment_are_haproxys(tmp_path: Path, mode: str) -> None:
    require_haproxy()
    with NamedBackends(["s1"]) as backends:
        server = backends.address("s1")
        theirs = _dump(tmp_path, (HAPROXY,), mode, server)
        ours = _dump(tmp_path, BALANCEKIT, mode, server)
    assert ours == theirs
    # The dump says what the docs say: the four arguments, PATH, the variables.
    first = ours.splitlines()[0].split()
    assert first[1:] == ["127.0.0.1", "<port>", *server.split(":")]
    assert "PATH='/usr/bin:/bin'" in ours
    assert f"HAPROXY_SERVER_PROTO='{'h1' if mode == 'http' else 'tcp'}'" in ours
    assert "HAPROXY_SERVER_MAXCONN='7'" in ours


BASE = """global
{global_}defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind {{listen:main}}
    default_backend be
backend be
    option external-check
{lines}    server s1 127.0.0.1:9 check
"""


@pytest.mark.parametrize(
    ("global_", "lines", "message", "fatal"),
    [
        (
            "",
            "    external-check command /bin/true\n",
            "Proxy 'be' : 'option external-check' unable to find required 'global.external-check'.",
            True,
        ),
        (
            "    external-check\n    insecure-fork-wanted\n",
            "",
            "Proxy 'be' : 'option external-check' unable to find required "
            "'external-check command'.",
            True,
        ),
        (
            "    external-check\n    insecure-fork-wanted\n",
            "    external-check command true\n",
            "Proxy 'be': 'external-check command' does not have a leading '/' and "
            "'external-check path' is not set.",
            True,
        ),
        (
            "    external-check\n",
            "    external-check command /bin/true\n",
            "Proxy 'be' : 'insecure-fork-wanted' not enabled in the global section, "
            "'option external-check' will likely fail.",
            False,
        ),
    ],
)
def test_config_messages_are_haproxys(global_: str, lines: str, message: str, fatal: bool) -> None:
    require_haproxy()
    cfg = BASE.format(global_=global_, lines=lines)
    for command in ((HAPROXY,), BALANCEKIT):
        result = HAProxy(cfg, command=command).check()
        output = result.stdout + result.stderr
        assert message in output, f"{command[0]}:\n{output}"
        assert (result.returncode != 0) == fatal, f"{command[0]}:\n{output}"
