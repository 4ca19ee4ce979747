"""Real haproxy.cfg files from public repositories, checked by HAProxy 2.6 and balancekit.

The corpus is `tests/fixtures/field-configs/*.cfg` (origins and licences in its
ORIGINS.md). Each file is judged as its author's machine would have let it be: a
copy gets a final newline if it lacks one (HAProxy 2.6 refuses such a file), and
a test certificate (or CA) where a `crt` or `ca-file` names a file this machine
lacks; the verdict records these repairs.  HAProxy is the oracle: `haproxy -dr -c
-f` (`-dr`: a server host name that does not resolve here, like a compose service
name, is not an error). For every
config HAProxy accepts, balancekit either loads it or names, with `file:line`, each
HAProxy keyword it does not support; never "unknown keyword" or "did you mean" for a
real one. The verdicts are recorded in `verdicts.json` beside the corpus, so a config
that loaded and now fails (or a new kind of error) fails here. Configs that both load
are started side by side on loopback (binds become `fd@N`, servers local HTTP
backends) and must answer the same requests with the same status and backend.

`python tests/config/test_field_configs.py --record` rewrites `verdicts.json` and
prints the acceptance figures (the section "Configs from the field" of
docs/configuration.md quotes them).
"""

from __future__ import annotations

import atexit
import http.client
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import trustme

from balancekit.config import check

if __name__ == "__main__":  # `--record`: the suite's sys.path, as under pytest
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.backends import NamedBackends
from support.haproxy import BALANCEKIT, HAPROXY, HAProxy, haproxy_available

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "field-configs"
VERDICTS = CORPUS / "verdicts.json"
FILES = sorted(p.name for p in CORPUS.glob("*.cfg"))

#: The acceptable form of an error for a config HAProxy accepts: an HAProxy keyword,
#: action, server or bind option or sample fetch named as unsupported at its line.
_UNSUPPORTED = re.compile(
    r"^(?P<loc>.+:\d+): (?:.*?)'(?P<kw>[^']+)' is an HAProxy "
    r"(?:keyword|action|bind option|sample fetch|setting)(?: that)? balancekit does not support"
)
#: Global lines that only make sense on the authors' machines (users, chroot, sockets).
_HOST_ONLY = re.compile(
    r"^\s*(chroot|user|group|uid|gid|daemon|pidfile|stats\s+socket|master-worker)\b.*$"
)
#: Every section keyword of HAProxy 2.6, to know where `global` ends.
_ANY_SECTION = re.compile(
    r"^\s*(global|defaults|frontend|backend|listen|userlist|peers|resolvers|mailers|program|"
    r"http-errors|ring|cache|dynamic-update|fcgi-app)\b"
)
_BIND = re.compile(r"^(\s*bind\s+)(\S+)", re.M)
_SERVER = re.compile(r"^(\s*server\s+)(\S+)(\s+)(\S+)", re.M)
#: `server-template <prefix> <range> <addr>`: its servers share the prefix's backend.
_TEMPLATE = re.compile(r"^(\s*server-template\s+)(\S+)(\s+\S+\s+)(\S+)", re.M)
_SECTION = re.compile(r"^\s*(frontend|backend|listen|defaults|global)\b\s*(\S*)", re.M)
_REQUESTS = ["/", "/a", "/b?x=1", "/", "/c/d", "/"]


#: A `crt` or `ca-file` option and its file (bind and server lines).
_TLS_FILE = re.compile(r"(\s(?:crt|ca-file)\s+)(\S+)")
_WORK = Path(tempfile.mkdtemp(prefix="bk-field-"))
atexit.register(shutil.rmtree, _WORK, True)
_CA = trustme.CA()


def repaired(name: str) -> tuple[Path, list[str]]:
    """The copy of corpus file `name` this machine judges (`<tmp>/field-configs/`,
    so messages name it as they name the original), and the repairs it got."""
    text = (CORPUS / name).read_text()
    repairs: list[str] = []
    if text and not text.endswith("\n"):
        text += "\n"
        repairs.append("final newline")
    files = _WORK / "tls" / name
    files.mkdir(parents=True, exist_ok=True)

    def stand_in(match: re.Match[str]) -> str:
        option, path = match.group(1), match.group(2)
        if os.path.exists(path):
            return match.group(0)
        made = files / f"{len(list(files.iterdir()))}.pem"
        if "ca-file" in option:
            _CA.cert_pem.write_to_path(str(made))
            repairs.append("test CA")
        else:
            cert = _CA.issue_cert("localhost", "127.0.0.1", "example.test")
            cert.private_key_and_cert_chain_pem.write_to_path(str(made))
            repairs.append("test certificate")
        return option + str(made)

    text = _TLS_FILE.sub(stand_in, text)
    copy = _WORK / "field-configs" / name
    copy.parent.mkdir(exist_ok=True)
    copy.write_text(text)
    return copy, sorted(set(repairs))


def _load_verdicts() -> dict[str, Any]:
    return json.loads(VERDICTS.read_text()) if VERDICTS.exists() else {}


def haproxy_accepts(path: Path) -> tuple[bool, str]:
    """HAProxy 2.6's verdict on the file (a `repaired` copy), and its first alert."""
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [HAPROXY, "-dr", "-c", "-f", str(path)],
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=30,
        )
    lines = (done.stdout + done.stderr).splitlines()
    alerts = [
        re.sub(r"^\[ALERT\]\s*\(\d+\) : (config : )?", "", line)
        for line in lines
        if "ALERT" in line and "Missing LF" not in line  # that one is only a notice
    ]
    # 2: "Configuration file has no error but will not start (no listener)".
    return done.returncode in (0, 2), (alerts[0] if alerts else "")


def classify(errors: list[str]) -> tuple[list[str], list[str]]:
    """(unsupported keywords named precisely, every other error without its path)."""
    keywords, other = [], []
    for error in errors:
        match = _UNSUPPORTED.match(error)
        if match:
            keywords.append(match.group("kw"))
        else:
            other.append(error.split("field-configs/", 1)[-1])
    return keywords, other


def loopback_text(text: str, backends: dict[str, str]) -> str:
    """The config with every bind a `{listen:N}` (`{listen:tN}` for a TLS one) and
    every server a local backend, and a stats socket of the harness's (so both
    sides are known to be ready)."""
    counter = iter(range(10_000))
    text = "global\n    stats socket {stats} level admin\n" + _without_host_lines(text)

    def listen(match: re.Match[str]) -> str:
        rest = text[match.end() : text.find("\n", match.end())]
        kind = "t" if re.search(r"\sssl\b", rest) else "b"
        return f"{match.group(1)}{{listen:{kind}{next(counter)}}}"

    text = _BIND.sub(listen, text)
    for pattern in (_SERVER, _TEMPLATE):
        text = pattern.sub(
            lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}{backends[m.group(2)]}", text
        )
    return text


#: A global `maxconn` or `ulimit-n` whose file descriptors this machine's limit
#: (20000 here) cannot give: HAProxy refuses to start with it.
_FD_HUNGRY = re.compile(r"^(\s*)(maxconn|ulimit-n)(\s+)(\d+)")
_LOOPBACK_MAXCONN = 4000


def _without_host_lines(text: str) -> str:
    """`text` with the host-only lines of `global` commented out (the same line
    numbers); a `user` line in a userlist is not one.  A global `maxconn` or
    `ulimit-n` beyond what the machine allows is lowered (to 4000 connections),
    which six requests cannot tell."""
    section = ""
    lines = text.split("\n")
    for number, line in enumerate(lines):
        header = _ANY_SECTION.match(line)
        if header:
            section = header.group(1)
        elif section == "global" and _HOST_ONLY.match(line):
            lines[number] = "#"
        elif (
            section == "global"
            and (match := _FD_HUNGRY.match(line))
            and int(match.group(4)) > _LOOPBACK_MAXCONN
        ):
            lowered = _LOOPBACK_MAXCONN * (2 if match.group(2) == "ulimit-n" else 1)
            lines[number] = f"{match.group(1)}{match.group(2)}{match.group(3)}{lowered}"
    return "\n".join(lines)


_INTER = re.compile(r"\binter\s+(\d+)(ms|s)?\b")
_THREADS = re.compile(r"^\s*nbthread\s+(\d+)", re.M)


def _first_probes_gap(text: str) -> float:
    """Seconds between the first two health probes (0.6 s without checks)."""
    checked = sum(1 for line in text.splitlines() if _SERVER.match(line) and " check" in line)
    if checked < 2:
        return 0.6
    # HAProxy reads a time without a unit as milliseconds.
    inters = [int(n) / (1 if unit == "s" else 1000) for n, unit in _INTER.findall(text)]
    return (min(inters) if inters else 2.0) / checked


def _ask(port: int, tls: bool = False) -> list[str]:
    answers = []
    context = ssl._create_unverified_context() if tls else None
    for path in _REQUESTS:
        conn: http.client.HTTPConnection = (
            http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=context)
            if tls
            else http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        )
        try:
            conn.request("GET", path, headers={"Host": "example.test", "Connection": "close"})
            response = conn.getresponse()
            answers.append(f"{response.status} {response.getheader('X-Server') or '-'}")
            response.read()
        except (OSError, http.client.HTTPException) as error:
            answers.append(f"error ({'reset' if isinstance(error, OSError) else 'closed'})")
        finally:
            conn.close()
    return answers


def side_by_side(path: Path) -> dict[str, dict[str, list[str]]]:
    """Run HAProxy and balancekit-server on the loopback copy; each listener's answers."""
    text = path.read_text()
    names = [m.group(2) for pattern in (_SERVER, _TEMPLATE) for m in pattern.finditer(text)]
    results: dict[str, dict[str, list[str]]] = {}
    with NamedBackends(sorted(set(names))) as backends:
        addresses = {n: backends.address(n) for n in names}
        template = loopback_text(text, addresses)
        for side, command in (("haproxy", (HAPROXY,)), ("balancekit", BALANCEKIT)):
            proxy = HAProxy(template, command=command)
            try:
                proxy.start()
                # With checks, both sides spread the first probes of all proxies over
                # the smallest `inter` (check i of n at inter*i/n) and a failed first
                # probe takes a server down: ask halfway between the first probe and
                # the next one.
                time.sleep(_first_probes_gap(text) / 2)
                results[side] = {
                    label: _ask(proxy.port(label), tls=label.startswith("t"))
                    for label in sorted(proxy._sockets)
                }
            finally:
                proxy.stop()
    return results


def record() -> dict[str, Any]:
    verdicts: dict[str, Any] = {}
    for name in FILES:
        path, repairs = repaired(name)
        accepted, alert = haproxy_accepts(path)
        errors = check([str(path)])
        keywords, other = classify(errors)
        entry: dict[str, Any] = {
            "haproxy": "accepted" if accepted else "rejected",
            "balancekit": "loads" if not errors else "rejected",
            "unsupported": sorted(set(keywords)),
            "other_errors": other,
        }
        if repairs:
            entry["repairs"] = repairs
        if not accepted:
            entry["haproxy_alert"] = alert.replace(str(path.parent) + "/", "")
        threads = _THREADS.search(path.read_text())
        if accepted and not errors and threads and int(threads.group(1)) > 1:
            # Issue 20: each worker balances on its own, so the order of servers
            # depends on which worker the kernel hands each connection to.
            entry["live"] = (
                f"not compared: nbthread {threads.group(1)} runs that many workers, "
                "which balance separately (issue 20)"
            )
        elif accepted and not errors:
            try:
                runs = side_by_side(path)
                entry["live"] = "same" if runs["haproxy"] == runs["balancekit"] else "differs"
                entry["answers"] = runs["haproxy"]
                if entry["live"] == "differs":
                    entry["balancekit_answers"] = runs["balancekit"]
            except Exception as error:  # recorded, with the reason
                lines = str(error).splitlines()
                reason = next((line for line in lines if "ALERT" in line), lines[0])
                reason = re.sub(r"^.*?\] ", "", reason)
                reason = re.sub(r"\(\d+\) : ", "", reason)  # the pid changes every run
                entry["live"] = f"not started: {reason[:200]}"
        verdicts[name] = entry
    return verdicts


def figures(verdicts: dict[str, Any]) -> str:
    accepted = [v for v in verdicts.values() if v["haproxy"] == "accepted"]
    repaired_ = sum(1 for v in accepted if v.get("repairs"))
    loads = [v for v in accepted if v["balancekit"] == "loads"]
    missing = Counter(k for v in accepted for k in v["unsupported"])
    gaps = sum(1 for v in accepted if v["other_errors"])
    unstarted = sum(1 for v in loads if v.get("live", "").startswith("not started"))
    uncompared = sum(1 for v in loads if v.get("live", "").startswith("not compared"))
    same = sum(1 for v in loads if v.get("live") == "same")
    return (
        f"{len(verdicts)} collected, {len(accepted)} accepted by HAProxy 2.6 "
        f"({repaired_} after repairs), "
        f"{len(loads)} of those load in balancekit ({unstarted} HAProxy cannot start here), "
        f"{same} answer like HAProxy ({uncompared} not compared: several workers); "
        f"{gaps} have errors of another form; "
        f"missing keywords (files): " + ", ".join(f"{k} {n}" for k, n in missing.most_common())
    )


EXPECTED = _load_verdicts()
needs_haproxy = pytest.mark.skipif(not haproxy_available(), reason="haproxy not installed")


def test_every_corpus_file_has_a_recorded_verdict() -> None:
    assert len(FILES) >= 45
    assert sorted(EXPECTED) == FILES
    print(figures(EXPECTED))


@needs_haproxy
@pytest.mark.parametrize("name", FILES, ids=[f.removesuffix(".cfg") for f in FILES])
def test_field_config(name: str) -> None:
    expected = EXPECTED[name]
    path, repairs = repaired(name)
    assert repairs == expected.get("repairs", [])
    accepted, alert = haproxy_accepts(path)
    assert ("accepted" if accepted else "rejected") == expected["haproxy"], alert
    errors = check([str(path)])
    keywords, other = classify(errors)
    if not accepted:
        return  # HAProxy's own verdict; balancekit may say anything precise
    for error in errors:
        assert "did you mean" not in error or error.split("field-configs/", 1)[-1] in set(
            expected["other_errors"]
        ), error
    # A regression: a config that loaded no longer does, or a new kind of error.
    if expected["balancekit"] == "loads":
        assert errors == []
    # Every error names an unsupported HAProxy keyword with file:line, except the
    # recorded ones (real keywords whose support needs a parser change, see the JSON).
    assert other == expected["other_errors"]
    assert sorted(set(keywords)) == expected["unsupported"]


# A config HAProxy itself cannot start here, or one with several workers (whose
# separate balancing, issue 20, makes balancekit's answers depend on the kernel),
# is not compared: its reason is recorded in the JSON and counted by `figures`.
_LIVE = [
    n
    for n in FILES
    if EXPECTED.get(n, {}).get("live") is not None
    and not EXPECTED[n]["live"].startswith(("not started", "not compared"))
]


@needs_haproxy
@pytest.mark.parametrize("name", _LIVE, ids=[f.removesuffix(".cfg") for f in _LIVE])
def test_field_config_answers_like_haproxy(name: str) -> None:
    expected = EXPECTED[name]
    runs = side_by_side(repaired(name)[0])
    assert runs["haproxy"] == expected["answers"]
    if expected["live"] == "same":
        assert runs["balancekit"] == runs["haproxy"]
    else:
        assert runs["balancekit"] == expected["balancekit_answers"]


if __name__ == "__main__":
    if "--record" in sys.argv:
        result = record()
        VERDICTS.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(figures(_load_verdicts()))
