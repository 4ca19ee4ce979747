"""Every keyword HAProxy 2.6 knows is known to balancekit: implemented, accepted
with a warning, or named as an unsupported (or removed) HAProxy keyword — never
"unknown keyword", never "did you mean".

The list comes from the installed HAProxy itself (`haproxy -dKcfg` prints the
keywords its modules register) plus those its parsers match by hand, which no
command lists (src/cfgparse-global.c and src/cfgparse-listen.c of 2.6).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from balancekit.config import ConfigErrors, load_text
from support.haproxy import HAPROXY, require_haproxy

#: Matched by string in cfgparse-global.c (HAProxy 2.6): not in `-dKcfg`.
_GLOBAL_BY_HAND = """busy-polling chroot cluster-secret cpu-map daemon description
    expose-experimental-directives external-check fd-hard-limit gid group
    h2-workaround-bogus-websocket-clients insecure-fork-wanted insecure-setuid-wanted localpeer
    log log-send-hostname log-tag master-worker max-spread-checks maxcompcpuusage maxcomprate
    maxconn maxconnrate maxpipes maxsessrate maxsslrate maxzlibmem nbproc node noepoll
    noevports nogetaddrinfo nokqueue nopoll noreuseport nosplice numa-cpu-mapping pidfile
    presetenv quiet resetenv server-state-base server-state-file set-dumpable setenv
    spread-checks ssl-server-verify strict-limits tune.buffers.limit tune.buffers.reserve
    tune.bufsize tune.chksize tune.comp.maxlevel tune.http.cookielen tune.http.logurilen
    tune.http.maxhdr tune.idletimer tune.maxaccept tune.maxpollevents tune.maxrewrite
    tune.pattern.cache-size tune.pipesize tune.rcvbuf.client tune.rcvbuf.server
    tune.recv_enough tune.runqueue-depth tune.sndbuf.client tune.sndbuf.server uid ulimit-n
    unix-bind unsetenv user zero-warning"""
GLOBAL_BY_HAND = _GLOBAL_BY_HAND.split()

#: Matched by string in cfgparse-listen.c (HAProxy 2.6), including the keywords it
#: refuses with a pointer to their replacement.
_PROXY_BY_HAND = """acl appsession backlog balance bind bind-process block capture cliexp
    cookie default-server default_backend description disabled dispatch dynamic-cookie-key
    email-alert enabled error-log-format force-persist fullconn grace hash-balance-factor
    hash-type http-after-response http-request http-response http-reuse http-send-name-header
    id ignore-persist load-server-state-from-file log log-format log-format-sd log-tag
    max-session-srv-conns maxconn mode monitor monitor-net monitor-uri option persist redirect
    redisp redispatch reqadd reqallow reqdel reqdeny reqiallow reqidel reqideny reqipass
    reqirep reqitarpit reqpass reqrep reqtarpit retries rspadd rspdel rspdeny rspidel rspideny
    rspirep rsprep server server-state-file-name server-template source srvexp stats stick
    stick-table transparent unique-id-format unique-id-header use-server use_backend
    usesrc"""
PROXY_BY_HAND = _PROXY_BY_HAND.split()

PROXY_END = (
    "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n"
    "    timeout server 1s\n"
)


def registered() -> dict[str, list[str]]:
    """`haproxy -dKcfg`: section name -> its registered one-word keywords."""
    require_haproxy()
    out = subprocess.run(
        [HAPROXY, "-dKcfg", "-q", "-c", "-f", "/dev/null"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in (out.stdout + out.stderr).splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if not line.startswith("\t"):
            current = sections.setdefault(line.strip(), [])
        elif " " not in line.strip() and "*" not in line:
            current.append(line.strip())
    return sections


def _messages(text: str) -> list[str]:
    try:
        load_text(text, name="k.cfg")
    except ConfigErrors as failure:
        return [error.message for error in failure.errors]
    return []


def _unknown(messages: list[str]) -> list[str]:
    return [m for m in messages if "unknown keyword" in m or "did you mean" in m]


@pytest.mark.haproxy
def test_haproxy_lists_its_keywords() -> None:
    sections = registered()
    assert len(sections["global"]) > 60 and len(sections["listen"]) > 20


@pytest.mark.haproxy
def test_every_global_keyword_is_known() -> None:
    names = sorted(set(registered()["global"]) | set(GLOBAL_BY_HAND))
    unknown = {
        name: found
        for name in names
        if (found := _unknown(_messages(f"global\n    {name}\n" + PROXY_END)))
    }
    assert not unknown


@pytest.mark.haproxy
def test_every_proxy_keyword_is_known() -> None:
    names = sorted(set(registered()["listen"]) | set(PROXY_BY_HAND))
    unknown = {}
    for name in names:
        config = PROXY_END + f"listen l\n    bind 127.0.0.1:0\n    {name}\n"
        if found := _unknown(_messages(config)):
            unknown[name] = found
    assert not unknown


@pytest.mark.parametrize("name", ["reqadd", "rsprep", "clitimeout", "monitor-net", "block"])
def test_removed_keywords_get_haproxys_advice(name: str, tmp_path: Path) -> None:
    """HAProxy 2.6 refuses these too, naming what replaced them: so does balancekit."""
    config = PROXY_END + f"listen l\n    bind 127.0.0.1:0\n    {name} x\n"
    ours = _messages(config)
    path = tmp_path / "h.cfg"
    path.write_text(config)
    require_haproxy()
    theirs = subprocess.run(
        [HAPROXY, "-c", "-f", str(path)], capture_output=True, text=True, timeout=60
    )
    assert theirs.returncode != 0 and len(ours) == 1
    assert "not supported anymore" in ours[0] or "doesn't exist anymore" in ours[0]
    # The advice (what to use instead) is HAProxy's.
    advice = ours[0].split("Use ", 1)[-1].split("use ", 1)[-1]
    assert advice.split(" ", 1)[0] in theirs.stderr


@pytest.mark.parametrize(
    ("global_", "starts"),
    [("    zero-warning\n", True), ("    zero-warning\n    tune.maxaccept 10\n", True)],
)
def test_zero_warning_refuses_a_config_with_warnings(
    global_: str, starts: bool, tmp_path: Path
) -> None:
    """With `zero-warning`, a warning HAProxy gives (`timeout server` missing) stops
    the start in both engines; balancekit's own notes (`tune.maxaccept` has no
    effect here) do not, since HAProxy starts."""
    clean = f"global\n{global_}" + PROXY_END + "listen l\n    bind 127.0.0.1:0\n"
    assert (not _messages(clean)) is starts
    warned = clean.replace("    timeout server 1s\n", "")
    path = tmp_path / "h.cfg"
    path.write_text(warned)
    require_haproxy()
    theirs = subprocess.run([HAPROXY, "-c", "-f", str(path)], capture_output=True, timeout=60)
    assert theirs.returncode != 0
    assert _messages(warned) == ["Some warnings were found and 'zero-warning' is set. Aborting."]
