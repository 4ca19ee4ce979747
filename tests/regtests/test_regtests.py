"""HAProxy 2.6's own reg-tests, run by varnishtest against balancekit-server.

varnishtest starts the program named by `HAPROXY_PROGRAM` as `haproxy -d -f cfg`,
handing every listener over as an inherited socket (`bind "fd@${fe1}"`, `stats
socket "fd@${cli}"`); here that program is a wrapper that execs balancekit-server.
Each test is one .vtc file, run with `varnishtest -q -t 20 FILE`, and the same file
is also run with the real HAProxy 2.6 (`test_vtc_with_haproxy`): a file only counts
as an oracle if HAProxy passes it on this machine.

The .vtc files are HAProxy's (GPLv2+) and are not copied into this repository: see
ORIGINS.md beside this file for where they come from and how to point the tests at
them (`BALANCEKIT_HAPROXY_SRC`, a HAProxy v2.6 source tree holding `reg-tests/`).

`EXPECTED` is the explicit list: every selected file and its outcome under
balancekit — `PASS`, or a `Differs(reason, marker)` for a file balancekit fails
because it deliberately behaves differently, asserted to still fail in that way
(`marker` must appear in varnishtest's log).  Files left out are listed in
ORIGINS.md with the reason.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.haproxy import HAPROXY, require_haproxy

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
VARNISHTEST = shutil.which("varnishtest") or "/usr/bin/varnishtest"
#: Where HAProxy's source tree (with `reg-tests/`) is looked for, in order.
SOURCE_ENV = "BALANCEKIT_HAPROXY_SRC"
SOURCE_FALLBACKS = (REPO / ".cache" / "haproxy-src", REPO.parent / "shared" / "haproxy-2.6")
TIMEOUT = 20  # varnishtest -t: seconds per file


@dataclass(frozen=True)
class Differs:
    """A file balancekit fails on purpose: why, and a line of the log that shows it."""

    reason: str
    marker: str


PASS = "pass"

#: Every selected reg-test (paths under HAProxy's tree) and its outcome under balancekit.
EXPECTED: dict[str, str | Differs] = {
    "reg-tests/balance/balance-rr.vtc": PASS,
    "reg-tests/balance/balance-uri.vtc": PASS,
    "reg-tests/checks/1be_40srv_odd_health_checks.vtc": PASS,
    "reg-tests/checks/40be_2srv_odd_health_checks.vtc": PASS,
    "reg-tests/checks/4be_1srv_health_checks.vtc": PASS,
    "reg-tests/http-capture/multiple_headers.vtc": PASS,
    "reg-tests/http-errorfiles/errorfiles.vtc": PASS,
    "reg-tests/http-messaging/h1_to_h1.vtc": PASS,
    "reg-tests/http-rules/http_return.vtc": PASS,
    "reg-tests/log/log_uri.vtc": PASS,
    "reg-tests/log/wrong_ip_port_logging.vtc": PASS,
    "reg-tests/webstats/webstats-scope-and-post-change.vtc": PASS,
    "reg-tests/converter/add_item.vtc": PASS,
    "reg-tests/converter/field.vtc": PASS,
    "reg-tests/converter/iif.vtc": PASS,
    "reg-tests/converter/json.vtc": PASS,
    "reg-tests/converter/url_dec.vtc": PASS,
    "reg-tests/http-rules/del_header.vtc": PASS,
    "reg-tests/http-rules/h1_to_h1c.vtc": PASS,
    "reg-tests/http-rules/path_and_pathq.vtc": PASS,
    "reg-tests/sample_fetches/ubase64.vtc": PASS,
    "reg-tests/cache/basic.vtc": PASS,
    "reg-tests/cache/caching_rules.vtc": PASS,
    "reg-tests/cache/expires.vtc": PASS,
    "reg-tests/cache/post_on_entry.vtc": PASS,
    "reg-tests/cache/sample_fetches.vtc": PASS,
    "reg-tests/cache/vary.vtc": PASS,
    "reg-tests/cache/vary_accept_encoding.vtc": PASS,
    "reg-tests/http-errorfiles/http_deny_errors.vtc": PASS,
    "reg-tests/http-errorfiles/http_errors.vtc": PASS,
    "reg-tests/http-errorfiles/http_return.vtc": PASS,
    "reg-tests/stream/unique-id.vtc": PASS,
    "reg-tests/checks/redis-check.vtc": PASS,
    "reg-tests/checks/smtp-check.vtc": PASS,
    "reg-tests/checks/ldap-check.vtc": PASS,
    "reg-tests/checks/tcp-check_min-recv.vtc": PASS,
    "reg-tests/checks/tcp-check_multiple_ports.vtc": PASS,
    "reg-tests/compression/etags_conversion.vtc": PASS,
    "reg-tests/compression/vary.vtc": PASS,
    "reg-tests/compression/basic.vtc": PASS,
    # -- deliberate differences, asserted to fail that way --
    "reg-tests/balance/balance-uri-path-only.vtc": Differs(
        "its second listener speaks HTTP/2 (`bind … proto h2`); balancekit-server speaks "
        "HTTP/1.1 only and refuses the option",
        "bind: 'proto' is an HAProxy bind option that balancekit does not support",
    ),
    "reg-tests/checks/ssl-hello-check.vtc": Differs(
        "its TLS server is balancekit-server too, which closes a refused handshake without "
        "the TLS alert (asyncio/uvloop drop it), so the SSLv3 hello gets no record back",
        "Health check for server be1/srv failed, reason: Layer6 invalid response",
    ),
    "reg-tests/http-messaging/http_transfer_encoding.vtc": Differs(
        "a request with both Content-Length and Transfer-Encoding: chunked is refused with "
        "400 (request smuggling guard, docs/http.md); HAProxy drops the length and forwards",
        'EXPECT resp.status (400) == "200" failed',
    ),
    "reg-tests/startup/check_condition.vtc": Differs(
        "`-cc 'feature(OPENSSL) || !feature(OPENSSL)'`: predicates about HAProxy's build "
        "are refused (exit 2), in -cc as in `.if`; every other -cc case matches",
        "predicate 'feature' describes HAProxy's build",
    ),
}


def _source() -> Path | None:
    configured = os.environ.get(SOURCE_ENV)
    candidates = [Path(configured)] if configured else list(SOURCE_FALLBACKS)
    for candidate in candidates:
        if (candidate / "reg-tests").is_dir():
            return candidate
    return None


def _vtc(relative: str) -> Path:
    source = _source()
    if source is None and os.environ.get("CI"):
        pytest.fail(
            f"HAProxy's reg-tests are missing: scripts/test fetches them as root "
            f"(the Debian source of haproxy) and sets {SOURCE_ENV}"
        )
    if source is None:
        pytest.skip(
            f"HAProxy's reg-tests are not on this machine: set {SOURCE_ENV} to a HAProxy "
            "v2.6 source tree (tests/regtests/ORIGINS.md says how to get one)"
        )
    path = source / relative
    assert path.is_file(), f"{relative} is missing from {source}"
    return path


@pytest.fixture(scope="module")
def balancekit_program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `HAPROXY_PROGRAM` for varnishtest: execs balancekit-server with its arguments."""
    wrapper = tmp_path_factory.mktemp("regtests") / "haproxy"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m balancekit_server.cli "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return wrapper


def _varnishtest(vtc: Path, program: str | Path) -> subprocess.CompletedProcess[str]:
    if not Path(VARNISHTEST).exists():
        raise RuntimeError("varnishtest is not installed (apt-get install varnish)")
    env = {**os.environ, "HAPROXY_PROGRAM": str(program)}
    # Not -q: the log is what a failure (or a known difference) is judged by.
    return subprocess.run(
        [VARNISHTEST, "-t", str(TIMEOUT), str(vtc)],
        env=env,
        cwd=vtc.parent,
        capture_output=True,
        text=True,
        timeout=TIMEOUT + 40,
    )


def _tail(result: subprocess.CompletedProcess[str]) -> str:
    lines = (result.stdout + result.stderr).splitlines()
    interesting = [line for line in lines if line.startswith(("----", "***  h", "#"))]
    return "\n".join(interesting[-60:])


@pytest.mark.parametrize("relative", sorted(EXPECTED))
def test_vtc_with_balancekit(relative: str, balancekit_program: Path) -> None:
    vtc = _vtc(relative)
    result = _varnishtest(vtc, balancekit_program)
    expected = EXPECTED[relative]
    assert result.returncode != 77, f"{relative} was skipped by varnishtest:\n{_tail(result)}"
    if expected == PASS:
        assert result.returncode == 0, f"{relative} failed under balancekit:\n{_tail(result)}"
    else:
        assert isinstance(expected, Differs)
        assert result.returncode != 0, f"{relative} now passes: move it to PASS"
        assert expected.marker in result.stdout + result.stderr, (
            f"{relative} fails, but not the known way ({expected.reason}):\n{_tail(result)}"
        )


@pytest.mark.parametrize("relative", sorted(EXPECTED))
def test_vtc_with_haproxy(relative: str) -> None:
    """The calibration: each selected file passes with the real HAProxy 2.6 here."""
    vtc = _vtc(relative)
    require_haproxy()
    result = _varnishtest(vtc, HAPROXY)
    assert result.returncode == 0, f"{relative} fails with HAProxy itself:\n{_tail(result)}"
