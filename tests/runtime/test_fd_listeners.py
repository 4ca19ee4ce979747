"""`bind fd@N` and `stats socket fd@N`: listening sockets inherited from the parent.

The test binds real sockets (port 0) and hands them to the server as `fd@N`, the
way varnishtest and systemd do, with `support.haproxy.HAProxy`, the helper the
differential tests use for HAProxy itself: the same config runs under both
programs.  Also the haproxy flags varnishtest passes (`-d`, `-W`, `-S`, `-p`,
`-cc`) and `-c`'s check that the descriptor is an open socket.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from support.backends import NamedBackends
from support.client import http_request
from support.haproxy import BALANCEKIT, HAPROXY, HAProxy

PROGRAMS = {"balancekit": BALANCEKIT, "haproxy": (HAPROXY,)}


def _config(backends: NamedBackends, crt: Path) -> str:
    return f"""
global
    stats socket {{stats}} level admin
    stats socket {{listen:cli}} level admin

defaults
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend web
    mode http
    bind {{listen:web}}
    bind {{listen:tls}} ssl crt {crt}
    default_backend app

frontend raw
    mode tcp
    bind {{listen:raw}}
    default_backend app_tcp

backend app
    mode http
    balance roundrobin
{backends.server_lines(names=["s1", "s2"])}

backend app_tcp
    mode tcp
{backends.server_lines(names=["s3"])}
"""


@pytest.fixture(scope="module")
def site_pem(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fd-tls") / "site.pem"
    ca.issue_cert("localhost").private_key_and_cert_chain_pem.write_to_path(str(path))
    return path


@pytest.fixture(params=sorted(PROGRAMS))
def proxy(
    request: pytest.FixtureRequest, named_backends: NamedBackends, site_pem: Path
) -> Iterator[HAProxy]:
    with HAProxy(_config(named_backends, site_pem), command=PROGRAMS[request.param]) as running:
        yield running


def _cli(port: int, line: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(line.encode() + b"\n")
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    return b"".join(chunks).decode()


def test_http_and_tcp_frontends_serve_on_inherited_sockets(proxy: HAProxy) -> None:
    seen = [http_request(proxy.port("web"), "/a").header("X-Server") for _ in range(4)]
    assert sorted(seen) == ["s1", "s1", "s2", "s2"]
    assert http_request(proxy.port("raw"), "/b").header("X-Server") == "s3"


def test_ssl_bind_on_an_inherited_socket(proxy: HAProxy, ca: trustme.CA) -> None:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    raw = socket.create_connection(("127.0.0.1", proxy.port("tls")), timeout=5)
    with context.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(b"GET /t HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        answer = b""
        while data := tls.recv(65536):
            answer += data
    assert answer.startswith(b"HTTP/1.1 200")
    assert b"x-server: s" in answer.lower()


def test_stats_socket_on_an_inherited_socket(proxy: HAProxy) -> None:
    info = _cli(proxy.port("cli"), "show info")
    assert "Pid: " in info and "Uptime_sec:" in info
    assert f"Pid: {proxy.process.pid if proxy.process else 0}\n" in info


# -- -c: the descriptor must be an open socket, as HAProxy 2.6 checks it ------------------


def _check(
    command: tuple[str, ...], config: Path, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command, "-c", "-f", str(config)],
        capture_output=True,
        text=True,
        **kwargs,  # type: ignore[call-overload]
    )


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_check_rejects_a_closed_or_non_socket_descriptor(program: str, tmp_path: Path) -> None:
    config = tmp_path / "fd.cfg"
    closed = 1000  # no process here opens that many files
    with open(os.devnull) as not_a_socket:
        config.write_text(
            "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n"
            "    timeout connect 1s\n"
            f"frontend f\n    bind fd@{closed}\n    bind fd@{not_a_socket.fileno()}\n"
            "    bind fd@x\n    default_backend b\n"
            "backend b\n    server s1 127.0.0.1:1\n"
        )
        result = _check(PROGRAMS[program], config, pass_fds=[not_a_socket.fileno()])
    assert result.returncode == 1
    assert f"'bind' : cannot use file descriptor '{closed}' : Bad file descriptor" in result.stderr
    assert "Socket operation on non-socket" in result.stderr
    assert "file descriptor 'x' is not a valid integer in 'fd@x'" in result.stderr


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_check_accepts_a_bound_socket(program: str, tmp_path: Path) -> None:
    config = tmp_path / "fd.cfg"
    with socket.socket() as sock, socket.socket() as cli:
        sock.bind(("127.0.0.1", 0))  # bound, not listening: enough for -c, as in HAProxy
        cli.bind(("127.0.0.1", 0))
        config.write_text(
            f"global\n    stats socket fd@{cli.fileno()} level admin\n"
            "defaults\n    mode tcp\n    timeout client 1s\n    timeout server 1s\n"
            "    timeout connect 1s\n"
            f"listen l\n    bind fd@{sock.fileno()}\n    server s1 127.0.0.1:1\n"
        )
        result = _check(PROGRAMS[program], config, pass_fds=[sock.fileno(), cli.fileno()])
    assert result.returncode == 0, result.stderr
    assert "Configuration file is valid" in result.stdout


# -- workers, reload, and varnishtest's flags ---------------------------------------------


def _listener() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def _wait_http(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert process.poll() is None, "balancekit-server exited"
        try:
            http_request(port, "/ready", timeout=1)
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("no answer on the inherited socket")


def test_workers_and_reload_share_the_inherited_socket(
    named_backends: NamedBackends, tmp_path: Path
) -> None:
    web = _listener()
    config = tmp_path / "w.cfg"
    template = (
        "defaults\n    mode http\n    timeout client 5s\n    timeout server 5s\n"
        "    timeout connect 5s\n"
        f"frontend web\n    bind fd@{web.fileno()}\n    default_backend app\n"
        "backend app\n{servers}\n"
    )
    config.write_text(template.format(servers=named_backends.server_lines(names=["s1"])))
    pidfile = tmp_path / "pid"
    process = subprocess.Popen(
        [*BALANCEKIT, "-d", "-W", "-q", "-p", str(pidfile), "--workers", "2", "-f", str(config)],
        pass_fds=[web.fileno()],
    )
    try:
        port = web.getsockname()[1]
        _wait_http(port, process)
        assert pidfile.read_text() == f"{process.pid}\n"
        names = {http_request(port, "/w").header("X-Server") for _ in range(20)}
        assert names == {"s1"}
        config.write_text(template.format(servers=named_backends.server_lines(names=["s2"])))
        process.send_signal(signal.SIGUSR2)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            answers = {http_request(port, "/r").header("X-Server") for _ in range(10)}
            if answers == {"s2"}:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the reloaded configuration never answered")
    finally:
        process.terminate()
        process.wait(10)
        web.close()


def test_varnishtest_flags_and_unknown_flags(tmp_path: Path) -> None:
    master = _listener()
    config = tmp_path / "v.cfg"
    config.write_text(
        "defaults\n    mode tcp\n    timeout client 1s\n    timeout server 1s\n"
        "    timeout connect 1s\n"
        "listen l\n    bind 127.0.0.1:0\n    server s1 127.0.0.1:1\n"
    )
    pidfile = tmp_path / "pid"
    cli = f"fd@{master.fileno()}"
    process = subprocess.Popen(
        [*BALANCEKIT, "-d", "-W", "-S", cli, *("-f", config, "-p", pidfile)],
        pass_fds=[master.fileno()],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pidfile.read_text() == f"{process.pid}\n"
    finally:
        process.terminate()
        _, err = process.communicate(timeout=10)
        master.close()
    assert f"-S {cli}: balancekit-server has no master CLI" in err
    unknown = subprocess.run([*BALANCEKIT, "-Z", "-f", str(config)], capture_output=True, text=True)
    assert unknown.returncode == 2
    assert "unrecognized arguments: -Z" in unknown.stderr


@pytest.mark.parametrize(
    ("condition", "status"),
    [
        ("version_atleast(2.5-dev0)", 0),
        ("version_before(2.6)", 1),
        ("bogus(", 2),
        ("streq(\"foo bar\",'foo bar')", 0),  # quotes are read as in a config line
        ("", 1),  # empty is false
        ('streq(a,"a)', 2),  # unterminated quote
    ],
)
@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_cc_evaluates_a_condition_like_haproxy(program: str, condition: str, status: int) -> None:
    result = subprocess.run([*PROGRAMS[program], "-cc", condition], capture_output=True)
    assert result.returncode == status


def test_the_model_keeps_the_descriptor() -> None:
    from balancekit.config import load_text

    with socket.socket() as web_sock, socket.socket(socket.AF_UNIX) as cli_sock:
        web, cli = web_sock.fileno(), cli_sock.fileno()
        text = (
            f"global\n    stats socket fd@{cli} level admin\n"
            "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n"
            "    timeout connect 1s\n"
            f"frontend f\n    bind fd@{web} name inherited\n    default_backend b\n"
            "backend b\n    server s1 127.0.0.1:1\n"
        )
        config = load_text(text).config
    (bind,) = config.frontends[0].binds
    assert (bind.fd, bind.address, bind.host, bind.port, bind.name) == (
        web,
        f"fd@{web}",
        "",
        0,
        "inherited",
    )
    (spec,) = config.global_.stats_sockets
    assert (spec.fd, spec.address, spec.is_unix, spec.level) == (
        cli,
        f"fd@{cli}",
        False,
        "admin",
    )
