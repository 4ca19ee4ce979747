"""`balancekit-server -c` through the real CLI, and its verdicts next to `haproxy -c`."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from support.haproxy import HAPROXY, require_haproxy

SEEDS = Path(__file__).resolve().parent.parent / "fixtures" / "seeds"
SEED_FILES = sorted(SEEDS.glob("*.cfg"))


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "balancekit_server.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def haproxy_check(path: Path) -> subprocess.CompletedProcess[str]:
    require_haproxy()
    return subprocess.run(
        [HAPROXY, "-c", "-f", str(path)], capture_output=True, text=True, timeout=60
    )


def test_every_seed_config_is_found() -> None:
    assert len(SEED_FILES) == 15


@pytest.mark.parametrize("path", SEED_FILES, ids=[p.stem for p in SEED_FILES])
def test_seed_config_passes_check(path: Path) -> None:
    result = cli("-c", "-f", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Configuration file is valid\n"
    # Warnings, if any, name the file and a line.
    for line in result.stderr.splitlines():
        assert re.match(rf"\[WARNING\] {re.escape(str(path))}:\d+: ", line), line


def test_ep8_random_draw_is_accepted_with_the_haproxy_form() -> None:
    path = SEEDS / "ep8_random_draw.cfg"
    result = cli("-c", "-f", str(path))
    assert result.returncode == 0
    assert f"[WARNING] {path}:20: 'random draw 2' is not HAProxy syntax" in result.stderr
    assert "accepted as 'balance random(2)'" in result.stderr
    # …and HAProxy 2.6 itself rejects that very line, which is why we warn.
    real = haproxy_check(path)
    assert real.returncode != 0
    assert "[ep8_random_draw.cfg:20] : unknown keyword 'random' in 'backend' section" in (
        real.stderr.replace(str(SEEDS) + "/", "")
    )


def test_ignored_global_keywords_are_warned_about() -> None:
    path = SEEDS / "karan_mysql_tcp.cfg"
    stderr = cli("-c", "-f", str(path)).stderr
    for line, keyword in ((4, "chroot"), (7, "user"), (8, "group"), (9, "daemon")):
        assert f"[WARNING] {path}:{line}: '{keyword}' has no effect" in stderr
    assert f"[WARNING] {path}:19: 'ssl-default-bind-ciphers' has no effect" in stderr


def test_a_bad_bind_line_is_one_error_not_also_a_missing_bind(tmp_path: Path) -> None:
    path = tmp_path / "bind.cfg"
    path.write_text(
        "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n"
        "    timeout server 1s\nlisten l\n    bind 127.0.0.1:0 interface lo\n"
        "    server a 127.0.0.1:1\n"
    )
    result = cli("-c", "-f", str(path))
    assert result.returncode != 0
    unsupported = "bind: 'interface' is an HAProxy bind option that balancekit does not support"
    assert f"{path}:7: {unsupported}" in result.stderr
    assert "has no 'bind' line" not in result.stderr


def test_tcp_tuning_options_are_warned_about_not_rejected(tmp_path: Path) -> None:
    path = tmp_path / "splice.cfg"
    path.write_text(
        "defaults\n    mode tcp\n    option splice-auto\n    option tcp-smart-accept\n"
        "    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n"
        "listen l\n    bind 127.0.0.1:0\n    server a 127.0.0.1:1\n"
    )
    result = cli("-c", "-f", str(path))
    assert result.returncode == 0, result.stderr
    for line, keyword in ((3, "option splice-auto"), (4, "option tcp-smart-accept")):
        assert f"[WARNING] {path}:{line}: '{keyword}' has no effect" in result.stderr


def test_quiet_hides_warnings() -> None:
    result = cli("-c", "-q", "-f", str(SEEDS / "karan_mysql_tcp.cfg"))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_several_files_and_a_directory(tmp_path: Path) -> None:
    conf = tmp_path / "conf.d"
    conf.mkdir()
    (conf / "a.cfg").write_text("defaults\n    mode http\n    timeout connect 1s\n")
    (conf / "b.cfg").write_text("backend app\n    server s 127.0.0.1:1\n")
    front = tmp_path / "front.cfg"
    front.write_text("frontend f\n    bind 127.0.0.1:0\n    default_backend app\n")
    result = cli("-c", "-q", "-f", str(conf), "-f", str(front))
    assert result.returncode == 0, result.stderr
    # Order matters: the frontend file alone does not know the backend.
    alone = cli("-c", "-f", str(front))
    assert alone.returncode == 1
    assert f"{front}:3: frontend 'f': unable to find required backend 'app'" in alone.stderr


def test_invalid_config_lists_every_error_and_exits_1(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.cfg"
    cfg.write_text(
        "defaults\n    timeout connect 5x\nbackend b\n    balance fastest\n"
        "    server flask1 check\n"
    )
    result = cli("-c", "-f", str(cfg))
    assert result.returncode == 1
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith(str(cfg))]
    assert [e.split(": ", 1)[0] for e in errors] == [f"{cfg}:2", f"{cfg}:4", f"{cfg}:5"]
    assert "Configuration is invalid: 3 error(s) found." in result.stderr


def test_usage_errors() -> None:
    result = cli("-c")
    assert result.returncode == 2
    assert "no configuration file given" in result.stderr


# -- side by side with HAProxy 2.6 ---------------------------------------------------------

_T = "    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n"
_BACKEND = "backend b\n    server s 127.0.0.1:1\n"

#: (id, config, line HAProxy and balancekit both blame or None when HAProxy names none)
DIFFERENTIAL: list[tuple[str, str, int | None]] = [
    ("unknown keyword", "defaults\n" + _T + _BACKEND + "    balanse roundrobin\n", 7),
    ("unknown option", "defaults\n    option htplog\n", 2),
    ("bad timeout unit", "defaults\n    timeout connect 5x\n", 2),
    ("unmatched quote", 'global\n    log "stdout local0\n', 2),
    ("bind in defaults", "defaults\n    bind :80\n", 2),
    ("server in frontend", "frontend f\n    server s 127.0.0.1:1\n", 2),
    ("bad weight", "defaults\n" + _T + "backend b\n    server s 127.0.0.1:1 weight 300\n", 6),
    ("unknown server option", "backend b\n    server s 127.0.0.1:1 wieght 2\n", 2),
    ("unknown balance", "defaults\n" + _T + "backend b\n    balance fastest\n", 6),
    ("bad mode", "defaults\n    mode ftp\n", 2),
    ("duplicate backend", "defaults\n" + _T + _BACKEND + _BACKEND, 7),
    ("unknown acl", "frontend f\n    mode http\n    http-request deny if nope\n", 3),
    ("unknown default_backend", "defaults\n" + _T + "frontend f\n    default_backend bb\n", None),
    ("http frontend to tcp backend",
     "defaults\n" + _T + "frontend f\n    mode http\n    bind 127.0.0.1:0\n"
     "    default_backend b\n" + _BACKEND, None),
    ("missing server address", "backend b\n    server flask1 check\n", None),
    ("errorfile missing", "defaults\n    errorfile 503 /nonexistent/503.http\n", 2),
]  # fmt: skip


@pytest.mark.haproxy
@pytest.mark.parametrize(
    ("text", "line"), [d[1:] for d in DIFFERENTIAL], ids=[d[0] for d in DIFFERENTIAL]
)
def test_both_reject(tmp_path: Path, text: str, line: int | None) -> None:
    cfg = tmp_path / "bad.cfg"
    cfg.write_text(text)
    real = haproxy_check(cfg)
    ours = cli("-c", "-f", str(cfg))
    assert real.returncode != 0, real.stderr
    assert ours.returncode == 1, ours.stderr
    if line is not None:
        assert f"[{cfg}:{line}]" in real.stderr, real.stderr
        assert f"{cfg}:{line}: " in ours.stderr, ours.stderr


@pytest.mark.haproxy
@pytest.mark.parametrize("path", SEED_FILES, ids=[p.stem for p in SEED_FILES])
def test_same_verdict_as_haproxy_on_seeds(path: Path) -> None:
    real = haproxy_check(path)
    ours = cli("-c", "-f", str(path))
    if path.name == "ep8_random_draw.cfg":
        # The one deliberate difference: see test_ep8_random_draw_is_accepted_with_the_haproxy_form.
        assert (real.returncode, ours.returncode) == (1, 0)
    else:
        assert (real.returncode, ours.returncode) == (0, 0), real.stderr + ours.stderr


def test_no_listener_exits_2_like_haproxy(tmp_path: Path) -> None:
    cfg = tmp_path / "backends.cfg"
    cfg.write_text("backend b\n    server s 127.0.0.1:1\n")
    ours = cli("-c", "-f", str(cfg))
    real = haproxy_check(cfg)
    assert (ours.returncode, real.returncode) == (2, 2)
    assert "will not start (no listener) => exit(2)" in ours.stderr
    assert "will not start (no listener) => exit(2)" in real.stdout + real.stderr


def test_scraped_seed_config_is_rejected_line_by_line_like_haproxy() -> None:
    path = SEEDS / "scraped" / "ep2_tcp_proxy_scraped.cfg"
    ours = cli("-c", "-f", str(path))
    real = haproxy_check(path)
    assert (ours.returncode, real.returncode != 0) == (1, True)
    ours_lines = [
        int(m) for m in re.findall(rf"^{re.escape(str(path))}:(\d+): ", ours.stderr, re.M)
    ]
    real_lines = [
        int(m) for m in re.findall(r"\[.*?ep2_tcp_proxy_scraped\.cfg:(\d+)\]", real.stderr)
    ]
    assert ours_lines == [1, 2, 4, 5, 6, 7, 8, 9, 17]
    assert set(real_lines) <= set(ours_lines)
    assert f"{path}:1: unknown keyword 'log' out of section" in ours.stderr
    assert f"{path}:17: server 'flask1': missing address (found option 'check' instead)" in (
        ours.stderr
    )


UNRESOLVED = """\
defaults
    timeout connect 1s
    timeout client 1s
    timeout server 1s
listen db
    mode tcp
    bind 127.0.0.1:18306
    server local localhost:3306
    server gone {name}:3306
"""


def test_an_unresolvable_server_name_fails_check_like_haproxy(tmp_path: Path) -> None:
    # `.invalid` never resolves (RFC 6761), whatever DNS the machine has.
    config = tmp_path / "haproxy.cfg"
    config.write_text(UNRESOLVED.format(name="nowhere.invalid"))
    real = haproxy_check(config)
    assert real.returncode != 0
    assert "could not resolve address 'nowhere.invalid'" in real.stderr
    ours = cli("-c", "-f", str(config))
    assert ours.returncode == 1
    assert f"{config}:9: 'server db/gone' : could not resolve address 'nowhere.invalid'" in (
        ours.stderr
    )


def test_a_resolvable_server_name_passes_check(tmp_path: Path) -> None:
    config = tmp_path / "haproxy.cfg"
    config.write_text(UNRESOLVED.format(name="localhost"))
    assert haproxy_check(config).returncode == 0
    assert cli("-c", "-f", str(config)).returncode == 0


INIT_ADDR = """\
defaults
    timeout connect 1s
    timeout client 1s
    timeout server 1s
listen db
    mode tcp
    bind 127.0.0.1:18307
    server a nowhere.invalid:3306 init-addr libc,none
    server b nowhere.invalid:3306 init-addr libc,127.0.0.9
    server c nowhere.invalid:3306 init-addr none
    server d nowhere.invalid:3306 init-addr last
"""


def test_init_addr_methods_say_what_haproxy_says(tmp_path: Path) -> None:
    config = tmp_path / "haproxy.cfg"
    config.write_text(INIT_ADDR)
    real, ours = haproxy_check(config), cli("-c", "-f", str(config))
    assert real.returncode != 0 and ours.returncode == 1
    expected = [
        (8, "'server db/a' : could not resolve address 'nowhere.invalid', disabling server."),
        (9, "'server db/b' : could not resolve address 'nowhere.invalid', falling back to "
         "configured address."),
        (11, "'server db/d' : no method found to resolve address 'nowhere.invalid'."),
    ]  # fmt: skip
    for line, message in expected:
        assert f"[{config}:{line}] : {message}" in real.stderr, real.stderr
        assert f"{config}:{line}: {message}" in ours.stderr, ours.stderr
    assert "'server db/c'" not in real.stderr + ours.stderr  # `none` alone says nothing
    config.write_text(INIT_ADDR.replace("init-addr last", "init-addr last,none"))
    assert haproxy_check(config).returncode == 0
    assert cli("-c", "-f", str(config)).returncode == 0


ULIMIT = """\
global
    ulimit-n 1000000000
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend f
    bind 127.0.0.1:{port}
    default_backend b
backend b
    server s 127.0.0.1:1
"""


def test_a_ulimit_n_that_cannot_be_had_stops_the_start_like_haproxy(tmp_path: Path) -> None:
    # Above the kernel's nr_open: not even root gets it.
    config = tmp_path / "haproxy.cfg"
    with socket.socket() as sock:  # a free port (the start fails before binding it)
        sock.bind(("127.0.0.1", 0))
        config.write_text(ULIMIT.format(port=sock.getsockname()[1]))
    require_haproxy()
    real = subprocess.run([HAPROXY, "-f", str(config)], capture_output=True, text=True, timeout=20)
    ours = cli("-f", str(config))
    assert real.returncode == ours.returncode == 1
    said = re.search(r"Cannot raise FD limit to 1000000000, limit is \d+\.", real.stderr)
    assert said is not None and "[ALERT]" in real.stderr
    assert said.group() in ours.stderr and "[ALERT]" in ours.stderr


def test_no_strict_limits_warns_and_takes_the_most_there_is() -> None:
    import resource

    from balancekit_server.process.runtime import raise_fd_limit

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert raise_fd_limit(0, 10**9, strict=True) == (soft, f"Cannot raise FD limit to {10**9}, "
                                                      f"limit is {soft}.")  # fmt: skip
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (soft, hard)  # left alone
    limit, said = raise_fd_limit(0, 10**9, strict=False)
    assert limit == hard and said == f"Cannot raise FD limit to {10**9}, limit is {hard}."
