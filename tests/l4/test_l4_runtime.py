"""`balancekit-server -f` running mode tcp configs: signals, log targets, bind errors."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from l4_harness import Backend, LoopThread, ServerProcess, echo, recv_all, wait_until

HEAD = """
global
    log stdout format raw local0
{global_extra}

defaults
    mode tcp
    log global
    option tcplog
    timeout connect 2s
    timeout client 30s
    timeout server 30s
"""


def _config(backend: str, *, global_extra: str = "", proxy_extra: str = "") -> str:
    return (
        HEAD.format(global_extra=global_extra)
        + f"""
listen relay
    bind 127.0.0.1:0
{proxy_extra}
    server s1 {backend}
"""
    )


@pytest.fixture
def echo_backend(lt1: LoopThread) -> Iterator[Backend]:
    backend = Backend(lt1, echo)
    yield backend
    backend.close()


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return sock


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_sigusr1_stops_accepting_and_lets_live_sessions_finish(echo_backend: Backend) -> None:
    with ServerProcess(_config(echo_backend.address)) as proc:
        port = proc.port("relay")
        live = _connect(port)
        live.sendall(b"before")
        assert live.recv(100) == b"before"
        proc.signal(signal.SIGUSR1)
        wait_until(lambda: _refused(port), what="the listener to close")
        live.sendall(b"after")  # the live session still works
        assert live.recv(100) == b"after"
        assert proc.process.poll() is None
        live.shutdown(socket.SHUT_WR)
        assert recv_all(live) == b""
        live.close()
        assert proc.wait(20) == 0  # exits once the last session is over


def test_sigterm_stops_at_once(echo_backend: Backend) -> None:
    with ServerProcess(_config(echo_backend.address)) as proc:
        live = _connect(proc.port("relay"))
        live.sendall(b"x")
        assert live.recv(10) == b"x"
        proc.signal(signal.SIGTERM)
        with contextlib.suppress(ConnectionResetError):
            assert recv_all(live) == b""
        assert proc.wait(20) == 0
        live.close()


def test_tcplog_to_stdout_unix_socket_and_udp_syslog(echo_backend: Backend) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bk-log-"))
    unix_path = str(folder / "log.sock")
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    unix.bind(unix_path)
    unix.settimeout(10)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(10)
    udp_port = udp.getsockname()[1]
    extra = (
        f"    log {unix_path} format rfc5424 local1\n"
        f"    log 127.0.0.1:{udp_port} local2 info\n"
        f"    log 127.0.0.1:{udp_port} local3 notice\n"  # traffic logs are info: filtered out
    )
    with ServerProcess(_config(echo_backend.address, global_extra=extra)) as proc:
        with _connect(proc.port("relay")) as sock:
            sock.sendall(b"ping")
            assert sock.recv(10) == b"ping"
            sock.shutdown(socket.SHUT_WR)
            recv_all(sock)
        pid = proc.process.pid
        unix_line = unix.recv(4096).decode()
        udp_line = udp.recv(4096).decode()
        wait_until(lambda: " relay relay/s1 " in proc.stdout(), what="the stdout log line")
        stdout_line = next(x for x in proc.stdout().splitlines() if " relay relay/s1 " in x)
    tail = r"\d+\.\d+\.\d+\.\d+:\d+ \[[^]]+\] relay relay/s1 \d+/\d+/\d+ 4 -- 1/1/0/0/0 0/0$"
    assert re.match("^" + tail, stdout_line), stdout_line  # format raw: the bare line
    assert re.match(rf"^<142>1 \S+ - haproxy {pid} - - " + tail, unix_line), unix_line
    assert re.match(
        rf"^<150>[A-Z][a-z]{{2}} [ \d]\d \d\d:\d\d:\d\d haproxy\[{pid}\]: " + tail, udp_line
    )
    udp.settimeout(0.3)
    with pytest.raises(TimeoutError):
        udp.recv(4096)  # nothing for the `notice` target
    unix.close()
    udp.close()


def test_dontlognull_skips_connections_without_data(echo_backend: Backend) -> None:
    config = _config(echo_backend.address, proxy_extra="    option dontlognull")
    with ServerProcess(config) as proc:
        port = proc.port("relay")
        _connect(port).close()  # no data: not logged
        with _connect(port) as sock:
            sock.sendall(b"data")
            assert sock.recv(10) == b"data"
        wait_until(lambda: " relay relay/s1 " in proc.stdout(), what="a log line")
        proc.signal(signal.SIGUSR1)
        proc.wait(20)
        lines = [x for x in proc.stdout().splitlines() if " relay relay/s1 " in x]
    assert len(lines) == 1 and " 4 -- " in lines[0]


def test_a_port_in_use_is_a_clear_error(echo_backend: Backend) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    config = _config(echo_backend.address).replace("127.0.0.1:0", f"127.0.0.1:{port}")
    with pytest.raises(RuntimeError) as failure:
        ServerProcess(config)
    message = str(failure.value)
    assert f"cannot bind socket 127.0.0.1:{port}" in message
    assert re.search(r"haproxy\.cfg:\d+: ", message)
    assert "Traceback" not in message
    taken.close()


def _console(text: str) -> list[str]:
    """The WARNING lines of a process's console output, without the pid (and without
    HAProxy's internal HTTP client proxy)."""
    return [
        re.sub(r"\(\d+\)", "(PID)", x)
        for x in text.splitlines()
        if x.startswith("[WARNING]") and "<HTTPCLIENT>" not in x
    ]


@pytest.mark.haproxy
def test_hard_stop_after_ends_a_soft_stop_like_haproxy(echo_backend: Backend) -> None:
    """`hard-stop-after`: a soft stop still waiting on a live session ends it after the
    delay, with HAProxy's two warnings."""
    from support.haproxy import HAProxy

    config = f"""
global
    hard-stop-after 1s

defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s

listen relay
    bind 127.0.0.1:0
    server s1 {echo_backend.address}
"""
    with (
        HAProxy(config.replace("127.0.0.1:0", "{listen:relay}")) as haproxy,
        ServerProcess(config) as ours,
    ):
        sessions = []
        for port in (haproxy.port("relay"), ours.port("relay")):
            live = _connect(port)
            live.sendall(b"x")
            assert live.recv(10) == b"x"
            sessions.append(live)
        assert haproxy.process is not None
        haproxy.process.send_signal(signal.SIGUSR1)
        ours.signal(signal.SIGUSR1)
        for live in sessions:
            live.settimeout(10)
            with contextlib.suppress(ConnectionResetError):
                assert recv_all(live) == b""  # closed by the hard stop, not by us
            live.close()
        assert haproxy.process.wait(10) == 0
        assert ours.wait(10) == 0
        theirs = _console(haproxy.log())
        assert theirs == [
            "[WARNING]  (PID) : Proxy relay stopped (cumulated conns: FE: 1, BE: 1).",
            "[WARNING]  (PID) : soft-stop running for too long, performing a hard-stop.",
            "[WARNING]  (PID) : Proxy relay hard-stopped (1 remaining conns will be closed).",
        ]
        assert _console(ours.stderr()) == theirs
