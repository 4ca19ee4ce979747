"""Reloads (SIGUSR2/SIGHUP) and workers, on the real `balancekit-server` process."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.backends import NamedBackends, free_port

WRK = shutil.which("wrk")
SERVER = [sys.executable, "-m", "balancekit_server.cli"]


class Server:
    """`balancekit-server -f cfg` in a subprocess, with its stderr captured to a file."""

    def __init__(self, text: str, *args: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bk-reload-"))
        self.cfg = self.dir / "haproxy.cfg"
        self.sock = str(self.dir / "admin.sock")
        self.write(text)
        self.log_path = self.dir / "stderr.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [*SERVER, "-f", str(self.cfg), *args], stdout=log, stderr=subprocess.STDOUT
            )

    def write(self, text: str) -> None:
        self.cfg.write_text(text.replace("{sock}", self.sock))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, needle: str, count: int = 1, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while self.log().count(needle) < count:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} in:\n{self.log()}")
            time.sleep(0.02)

    def command(self, line: str, path: str | None = None) -> str:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(path or self.sock)
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while data := sock.recv(65536):
                chunks.append(data)
        return b"".join(chunks).decode()

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.proc.returncode


def config(port: int, backend: str, *, extra: str = "") -> str:
    return f"""
global
    stats socket {{sock}} level admin
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend www
    bind 127.0.0.1:{port}
    default_backend app
backend app
    server s1 {backend}
{extra}"""


def fetch(port: int, path: str = "/") -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


@pytest.fixture
def backends() -> Iterator[NamedBackends]:
    with NamedBackends(["a", "b", "c", "d"]) as nb:
        yield nb


def wait_ready(server: Server, port: int) -> None:
    server.wait_log("started on")
    deadline = time.monotonic() + 10
    while True:
        try:
            fetch(port)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.mark.skipif(WRK is None, reason="wrk is installed by .ci/run")
def test_wrk_through_three_reloads_sees_no_error(backends: NamedBackends) -> None:
    port = free_port()
    names = ["a", "b", "c", "d"]
    server = Server(config(port, backends.address("a")))
    try:
        wait_ready(server, port)
        assert WRK is not None
        wrk = subprocess.Popen(
            [WRK, "-t2", "-c16", "-d5s", "--timeout", "5s", f"http://127.0.0.1:{port}/"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for generation, name in enumerate(names[1:], start=2):
            time.sleep(1.0)
            server.write(config(port, backends.address(name)))
            server.signal(signal.SIGUSR2 if generation % 2 else signal.SIGHUP)
            server.wait_log("Reloaded configuration", count=generation - 1)
        out, _ = wrk.communicate(timeout=30)
        assert "Socket errors" not in out, out
        assert "Non-2xx" not in out, out
        requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        assert requests > 100, out
        # Every generation served traffic, and the last one is the one serving now
        # (on a slow machine wrk may end before the last reload: `d` is checked after).
        for name in names[:-1]:
            assert backends.hits(name), f"backend {name} never got a request"
        assert fetch(port) == (200, "d")
        assert server.log().count("Reloaded configuration") == 3
    finally:
        assert server.stop() == 0


def test_bad_config_is_refused_and_the_old_one_keeps_serving(backends: NamedBackends) -> None:
    port = free_port()
    server = Server(config(port, backends.address("a")))
    try:
        wait_ready(server, port)
        server.write(config(port, backends.address("b"), extra="    bogus-keyword 1\n"))
        server.signal(signal.SIGHUP)
        server.wait_log("Reload refused")
        assert re.search(r"\[ALERT\].*haproxy\.cfg:14: .*bogus-keyword", server.log())
        assert fetch(port) == (200, "a")
        assert "app,s1," in server.command("show stat")
        # Fixed again: the next reload goes through.
        server.write(config(port, backends.address("b")))
        server.signal(signal.SIGUSR2)
        server.wait_log("Reloaded configuration")
        assert fetch(port) == (200, "b")
    finally:
        server.stop()


def test_stats_sockets_answer_all_through_reloads(backends: NamedBackends) -> None:
    """Stats sockets stay in the runtime's socket pool across generations (a unix one
    was first bound at a temporary name and renamed over its path, as HAProxy does):
    clients polling them during reloads never find one missing, refusing or resetting."""
    port, stats_port = free_port(), free_port()
    tcp_line = f"    stats socket 127.0.0.1:{stats_port} level admin\n"

    def with_tcp_stats(text: str) -> str:
        return text.replace("level admin\n", "level admin\n" + tcp_line, 1)

    def tcp_command(line: str) -> str:
        with socket.create_connection(("127.0.0.1", stats_port), timeout=5) as sock:
            sock.sendall(line.encode() + b"\n")
            return b"".join(iter(lambda: sock.recv(65536), b"")).decode()

    server = Server(with_tcp_stats(config(port, backends.address("a"))))
    failures: list[BaseException] = []
    answers = {"unix": 0, "tcp": 0}
    done = threading.Event()

    def poll(kind: str, command: Callable[[str], str]) -> None:
        while not done.is_set():
            try:
                assert "Pid: " in command("show info")
                answers[kind] += 1
            except (OSError, AssertionError) as exc:
                failures.append(exc)

    try:
        wait_ready(server, port)
        pollers = [
            threading.Thread(target=poll, args=("unix", server.command)),
            threading.Thread(target=poll, args=("tcp", tcp_command)),
        ]
        for poller in pollers:
            poller.start()
        try:
            for generation in range(2, 6):
                server.write(with_tcp_stats(config(port, backends.address("ab"[generation % 2]))))
                server.signal(signal.SIGUSR2)
                server.wait_log(f"(generation {generation})")
        finally:
            done.set()
            for poller in pollers:
                poller.join()
        assert failures == [] and min(answers.values()) > 10, (failures[:3], answers)
        assert fetch(port) == (200, "b")
    finally:
        server.stop()


class SlowBackend:
    """Answers each request after `delay` seconds with its name."""

    def __init__(self, name: str, delay: float) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.name = name
        self.delay = delay
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            time.sleep(self.delay)
            body = self.name.encode()
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                % (len(body), body)
            )

    def close(self) -> None:
        with contextlib.suppress(OSError):  # wakes the thread blocked in accept()
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()


def test_in_flight_request_finishes_on_the_old_config(backends: NamedBackends) -> None:
    slow = SlowBackend("old-slow", 1.5)
    port = free_port()
    server = Server(config(port, f"127.0.0.1:{slow.port}"))
    try:
        wait_ready(server, port)
        result: list[tuple[int, str]] = []
        started = threading.Event()

        def slow_request() -> None:
            started.set()
            result.append(fetch(port, "/slow"))

        t = threading.Thread(target=slow_request)
        t.start()
        started.wait()
        time.sleep(0.3)  # the request is at the slow backend now
        server.write(config(port, backends.address("b")))
        server.signal(signal.SIGUSR2)
        server.wait_log("Reloaded configuration")
        assert fetch(port) == (200, "b")  # new requests: new config
        t.join(20)
        assert result == [(200, "old-slow")]  # the old one finished where it started
    finally:
        server.stop()
        slow.close()


def test_tcp_session_survives_a_reload() -> None:
    def echo_server(tag: bytes) -> socket.socket:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)

        def serve() -> None:
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return

                def one(c: socket.socket) -> None:
                    with c:
                        while data := c.recv(4096):
                            c.sendall(tag + data)

                threading.Thread(target=one, args=(conn,), daemon=True).start()

        threading.Thread(target=serve, daemon=True).start()
        return listener

    one, two = echo_server(b"1:"), echo_server(b"2:")
    port = free_port()

    def tcp_config(target: socket.socket) -> str:
        return f"""
global
    stats socket {{sock}} level admin
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
listen echo
    bind 127.0.0.1:{port}
    server e1 127.0.0.1:{target.getsockname()[1]}
"""

    server = Server(tcp_config(one))
    try:
        server.wait_log("started on")
        client = socket.create_connection(("127.0.0.1", port), timeout=10)
        client.sendall(b"hello")
        assert client.recv(100) == b"1:hello"
        server.write(tcp_config(two))
        server.signal(signal.SIGUSR2)
        server.wait_log("Reloaded configuration")
        client.sendall(b"again")
        assert client.recv(100) == b"1:again"  # the old session keeps its server
        with socket.create_connection(("127.0.0.1", port), timeout=10) as fresh:
            fresh.sendall(b"new")
            assert fresh.recv(100) == b"2:new"
        client.close()
    finally:
        server.stop()
        one.close()
        two.close()


def test_two_workers_answer_for_themselves_and_reload(backends: NamedBackends) -> None:
    port = free_port()
    server = Server(config(port, backends.address("a")), "--workers", "2")
    try:
        server.wait_log("started on", count=1)
        deadline = time.monotonic() + 20
        while not (os.path.exists(server.sock + ".1") and os.path.exists(server.sock + ".2")):
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
        infos = []
        for path in (server.sock, server.sock + ".1", server.sock + ".2"):
            info = dict(
                line.split(": ", 1)
                for line in server.command("show info", path).splitlines()
                if ": " in line
            )
            infos.append((info["Process_num"], info["Nbproc"], info["Pid"]))
        assert infos[0] == infos[1] and infos[0][:2] == ("1", "2")
        assert infos[2][:2] == ("2", "2") and infos[2][2] != infos[1][2]
        statuses = {fetch(port)[1] for _ in range(200)}
        assert statuses == {"a"}
        # SO_REUSEPORT spreads new connections: both workers (both cores) served some.
        for path in (server.sock + ".1", server.sock + ".2"):
            rows = [r.split(",") for r in server.command("show stat", path).splitlines()]
            frontend = next(r for r in rows if r[:2] == ["www", "FRONTEND"])
            assert int(frontend[7]) > 0, (path, frontend[7])  # stot
        server.write(config(port, backends.address("b")))
        server.signal(signal.SIGUSR2)
        deadline = time.monotonic() + 20
        while "app,s1" not in server.command("show stat", server.sock + ".2") or not all(
            backends.address("b") in server.command("show stat", p)
            for p in (server.sock + ".1", server.sock + ".2")
        ):
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
        assert {fetch(port)[1] for _ in range(20)} == {"b"}
    finally:
        assert server.stop() == 0
