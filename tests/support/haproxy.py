"""Run a real HAProxy 2.6 from a config text, for differential tests.

Listening sockets are bound here (port 0) and handed to HAProxy as `fd@N`, so
tests never race for ports.  In the config template, `{listen:NAME}` becomes
that fd and `{stats}` the path of an admin stats socket.  `command` runs another
program the same way: `HAProxy(cfg, command=BALANCEKIT)` runs balancekit-server,
which takes the same flags and `fd@N` listeners.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
_LISTEN = re.compile(r"\{listen(6?):([A-Za-z0-9_.-]+)\}")  # listen6: on ::1
_FIRST_FD = 3  # where the child finds its listeners: fd@3, fd@4, …
_PARK = 100  # out of the way while they are renumbered
#: balancekit-server as a drop-in `command` for `HAProxy`.
BALANCEKIT = (sys.executable, "-m", "balancekit_server.cli")


def haproxy_available() -> bool:
    return Path(HAPROXY).exists()


def require_haproxy() -> None:
    """Fail (not skip) when HAProxy is missing: CI installs it, so absence is a bug there."""
    if not haproxy_available():
        raise RuntimeError(
            "haproxy is not installed (apt-get install haproxy); .ci/run installs it"
        )


class HAProxy:
    """A foreground `haproxy -db` process; use as a context manager."""

    def __init__(
        self,
        template: str,
        *,
        host: str = "127.0.0.1",
        command: tuple[str, ...] = (HAPROXY,),
        sockets: dict[str, socket.socket] | None = None,
    ) -> None:
        if command == (HAPROXY,):
            require_haproxy()
        self.command_line = command
        self.host = host
        self.dir = Path(tempfile.mkdtemp(prefix="bk-haproxy-"))
        self.stats_path = str(self.dir / "stats.sock")
        self.log_path = self.dir / "haproxy.log"
        # Listeners bound by the caller (whose ports other configs must name first).
        self._sockets: dict[str, socket.socket] = dict(sockets or {})
        self._adopted = set(self._sockets)  # the caller closes these
        for sock in self._sockets.values():
            sock.set_inheritable(True)
        self.config = _LISTEN.sub(self._bind, template).replace("{stats}", self.stats_path)
        self.config_path = self.dir / "haproxy.cfg"
        self.config_path.write_text(self.config.rstrip("\n") + "\n")
        self.process: subprocess.Popen[bytes] | None = None

    def _bind(self, match: re.Match[str]) -> str:
        v6, name = match.group(1) == "6", match.group(2)
        if v6:
            name = f"v6:{name}"
        if name not in self._sockets:
            sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if v6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(("::1" if v6 else self.host, 0))
            sock.listen(1024)
            sock.set_inheritable(True)
            self._sockets[name] = sock
        return f"fd@{_FIRST_FD + list(self._sockets).index(name)}"

    def _argv(self, *args: str) -> list[str]:
        """The command line, wrapped so that the listeners arrive as fd 3, 4, …

        HAProxy refuses an inherited fd above what its `maxconn` lets it use ("not
        enough free sockets"); a test process that has opened many files would hand
        over large numbers, so the child renumbers them before it execs."""
        command = [*self.command_line, *args]
        if not self._sockets:
            return command
        fds = [sock.fileno() for sock in self._sockets.values()]
        base = max(_PARK, *fds) + 1  # parked above every source: none is overwritten
        park = " ".join(f"{base + i}<&{fd}" for i, fd in enumerate(fds))
        place = " ".join(f"{_FIRST_FD + i}<&{base + i}" for i in range(len(fds)))
        drop = " ".join(f"{base + i}<&-" for i in range(len(fds)))
        script = f'exec {park}; exec {place}; exec {drop}; exec "$@"'
        return ["/bin/bash", "-c", script, "bash", *command]

    def port(self, name: str) -> int:
        return int(self._sockets[name].getsockname()[1])

    def check(self) -> subprocess.CompletedProcess[str]:
        """`haproxy -c -f` on the rendered config."""
        return subprocess.run(
            self._argv("-c", "-f", str(self.config_path)),
            capture_output=True,
            text=True,
            pass_fds=[s.fileno() for s in self._sockets.values()],
        )

    def start(self) -> HAProxy:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self._argv("-db", "-f", str(self.config_path)),
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=[s.fileno() for s in self._sockets.values()],
        )
        log.close()
        deadline = time.monotonic() + 10
        # Ready once the stats socket answers (when configured) or the process is alive a bit.
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"haproxy exited:\n{self.log()}")
            if "{stats}" not in self.config and "stats socket" not in self.config:
                time.sleep(0.2)
                if self.process.poll() is not None:  # e.g. a listener it could not use
                    raise RuntimeError(f"haproxy exited:\n{self.log()}")
                break
            if os.path.exists(self.stats_path):
                try:
                    self.command("show info")
                    break
                except OSError:
                    pass
            time.sleep(0.02)
        else:
            raise RuntimeError(f"haproxy did not start:\n{self.log()}")
        return self

    def command(self, line: str) -> str:
        """One runtime API command over the stats socket."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(self.stats_path)
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while data := sock.recv(65536):
                chunks.append(data)
        return b"".join(chunks).decode()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for name, sock in self._sockets.items():
            if name not in self._adopted:
                sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> HAProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def http_defaults(mode: str = "http") -> str:
    """The seeds' global/defaults, with the stats socket the harness needs."""
    return f"""
global
    stats socket {{stats}} level admin
    log stdout format raw local0

defaults
    mode {mode}
    log global
    timeout connect 5s
    timeout client 30s
    timeout server 30s
"""
