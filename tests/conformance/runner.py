"""Run one matrix row through HAProxy 2.6 and balancekit side by side.

`run_row(row, group)` renders the row's config for each proxy, starts both in
front of the same recording backends (`support.echo_backends`), sends the row's
requests to each in turn, and returns both observations and their differences.

Config placeholders (`{name}`, no spaces, so `{ ssl_fc }` conditions are left alone):

- `{bind:NAME}` — a listening socket: `fd@N` of a port-0 socket for HAProxy
  (`support.haproxy`), `127.0.0.1:0` for balancekit; requests name it (`Req.bind`).
- `{bind6:NAME}` — the same on `::1`.
- `{s1}` `{s2}` `{s3}` — the backend group's servers; `{t1}` its TLS server, `{c1}`
  one that closes without answering (`httpserver` kind only); `{s1:name}` the same
  server by the name `localhost`;
  `{dead}` — an address that refuses connections; `{pg}` — a PostgreSQL server
  (`support.postgresql`, started once for the session); `{redis}` a Redis server,
  `{redis:auth}` one that wants a password (`support.redis_server`); `{smtp}` an
  SMTP server, `{smtp:refuse}` one that turns HELO away (`support.smtp_server`);
  `{agent:NAME}` the port of an agent answering the row's `files[NAME]` to every
  connection (`support.agent_server`; both proxies ask the same agent), and
  `{port:dead}` the port of `{dead}`.
- `{crt}` — a server certificate and key (trustme, for `localhost`, `127.0.0.1`,
  `example.test`); `{certdir}` its directory, where it is `site.pem`; `{ca}` the
  CA bundle that signed it and the backends' TLS certificate.
- `{workdir}` — the directory of the row's files (all written), for relative names.
- `{file:NAME}` — a file with the row's `files[NAME]` content, where `{port:s1}` (and
  the other servers) becomes that server's port, as it does in the config, and
  `{certdir}` the certificates' directory (`site.pem`, `backend.pem`, `wild.pem`,
  and `client.pem`, the client certificate with its key); a file starting with
  `#!` is made executable.
- `{dns:NAME}` — a DNS server (`support.dnsmasq`) answering for `*.test` from the
  dnsmasq lines of `files[NAME]` (`{port:s1}` as in files), one per text for the
  session, so both proxies ask the same one.
- `{log}` — a UDP syslog receiver of this proxy's own; `{stats}` — a stats socket.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import re
import select
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme

from support.agent_server import AgentServer
from support.dnsmasq import Dnsmasq
from support.echo_backends import EchoGroup, dead_address
from support.haproxy import HAProxy
from support.postgresql import PostgreSQL
from support.redis_server import Redis
from support.smtp_server import Smtp

from .matrix import Par, Req, Row

_PLACEHOLDER = re.compile(r"\{([a-z0-9]+)(?::([A-Za-z0-9_.-]+))?\}")
_SECTION = re.compile(r"^\s*(frontend|listen|backend|defaults|global|peers|userlist)\b\s*(\S*)")


# --------------------------------------------------------------------------- certificates


class Certs:
    """One CA and its certificates for the whole session (trustme)."""

    _instance: Certs | None = None

    def __init__(self) -> None:
        self.ca = trustme.CA()
        self.server = self.ca.issue_cert("localhost", "127.0.0.1", "example.test")
        self.backend = self.ca.issue_cert("localhost", "127.0.0.1", "backend.test")
        self.dir = Path(tempfile.mkdtemp(prefix="bk-conformance-certs-"))
        self.crt = self.dir / "site.pem"
        self.server.private_key_and_cert_chain_pem.write_to_path(str(self.crt))
        self.ca_path = self.dir / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_path))
        # A client certificate of the same CA, for binds with `ca-file` and `verify`.
        self.client = self.ca.issue_cert(
            "client.test", common_name="client.test", organization_name="Balancekit Tests"
        )
        # More certificates a bind may serve (`crt-list` rows), by file name.
        self.backend.private_key_and_cert_chain_pem.write_to_path(str(self.dir / "backend.pem"))
        self.wild = self.ca.issue_cert("*.wild.test")
        self.wild.private_key_and_cert_chain_pem.write_to_path(str(self.dir / "wild.pem"))
        # The client certificate with its key, for `server … crt` (`{certdir}/client.pem`).
        self.client.private_key_and_cert_chain_pem.write_to_path(str(self.dir / "client.pem"))
        # An RSA certificate (DHE ciphers need one), alone and with DH parameters in its
        # file; RFC 7919's 2048-bit group and RFC 5114's 1024-bit one in files of their own.
        self.rsa = self.ca.issue_cert("localhost", "example.test", key_type=trustme.KeyType.RSA)
        self.rsa.private_key_and_cert_chain_pem.write_to_path(str(self.dir / "rsa.pem"))
        for name, group in (("ffdhe2048", "ffdhe2048"), ("dh1024", "dh_1024_160")):
            subprocess.run(
                ["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt",
                 f"group:{group}", "-out", str(self.dir / f"{name}.pem")],
                check=True, capture_output=True,
            )  # fmt: skip
        (self.dir / "rsa-dh.pem").write_bytes(
            (self.dir / "rsa.pem").read_bytes() + (self.dir / "ffdhe2048.pem").read_bytes()
        )
        atexit.register(shutil.rmtree, self.dir, True)

    def name_of(self, der: bytes | None) -> str:
        """Which of the session's certificates a server presented."""
        for name, cert in (
            ("site", self.server),
            ("backend", self.backend),
            ("wild", self.wild),
            ("rsa", self.rsa),
        ):
            if (
                der is not None
                and ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode()) == der
            ):
                return name
        return "unknown"

    @classmethod
    def get(cls) -> Certs:
        if cls._instance is None:
            cls._instance = Certs()
        return cls._instance


# --------------------------------------------------------------------------- balancekit


class LoopThread:
    """An event loop in a daemon thread; `call(coro)` runs a coroutine there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        async def cancel_all() -> None:
            current = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not current]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.call(cancel_all(), timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        if not self.thread.is_alive():
            self.loop.close()


class InProcessBalancekit:
    """`balancekit-server` inside this process: `load_text` + `Runtime` on a loop thread.

    Binds are rewritten to port 0 and found again in `runtime.addresses`, by the
    order of the `bind` lines of each frontend (`bind_map`).
    """

    def __init__(self, text: str, bind_map: dict[str, tuple[str, int]]) -> None:
        from balancekit.config import load_text
        from balancekit_server.ops.counters import Registry
        from balancekit_server.process.runtime import Runtime

        self.bind_map = bind_map
        self.result = load_text(text, name="conformance.cfg")
        self.thread = LoopThread()
        self.runtime = Runtime(self.result.config, registry=Registry(), quiet=True)
        try:
            self.thread.call(self.runtime.start())
        except BaseException:
            self.thread.stop()
            raise

    def port(self, name: str) -> int:
        frontend, index = self.bind_map[name]
        return int(self.runtime.addresses[frontend][index][1])

    def close(self) -> None:
        async def stop() -> None:
            self.runtime.hard_stop()
            for logger in list(getattr(self.runtime, "_loggers", {}).values()):
                with contextlib.suppress(Exception):
                    logger.close()

        with contextlib.suppress(Exception):
            self.thread.call(stop())
        self.thread.stop()


class SubprocessBalancekit:
    """`balancekit-server -f cfg` with its listening sockets inherited as `fd@N`,
    exactly as `support.haproxy.HAProxy` runs HAProxy (needs `bind fd@N` support)."""

    def __init__(
        self, text: str, bind_map: dict[str, tuple[str, int]], stats_path: str = ""
    ) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bk-conformance-kit-"))
        self.sockets: dict[str, socket.socket] = {}
        names = iter(bind_map)  # in the order of the bind lines, as the text has them

        def inherit(match: re.Match[str]) -> str:
            name = next(names, None)
            if name is None:  # a peers listener, after every proxy's: bound by the server
                return match.group(0)
            v6 = match.group(0).startswith("[")
            sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("::1" if v6 else "127.0.0.1", 0))
            sock.listen(1024)
            sock.set_inheritable(True)
            self.sockets[name] = sock
            return f"fd@{sock.fileno()}"

        text = re.sub(r"(?m)(?<=bind )(127\.0\.0\.1:0|\[::1\]:0)", inherit, text)
        path = self.dir / "balancekit.cfg"
        path.write_text(text.rstrip("\n") + "\n")
        self.log = self.dir / "balancekit.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [shutil.which("balancekit-server") or "balancekit-server", "-q", "-f", str(path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=[s.fileno() for s in self.sockets.values()],
            )
        # Ready once the stats socket answers (every matrix config has one), as for HAProxy;
        # requests sent earlier would only wait in the inherited sockets' backlog.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.log.read_text()
                self.close()
                raise RuntimeError(f"balancekit-server exited: {output}")
            if not stats_path:
                break
            if os.path.exists(stats_path) and not _stats_command(stats_path, "help").startswith(
                "error:"
            ):
                break
            time.sleep(0.02)
        else:
            self.close()
            raise RuntimeError("balancekit-server did not start")

    def port(self, name: str) -> int:
        return int(self.sockets[name].getsockname()[1])

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for sock in self.sockets.values():
            sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


#: How balancekit runs, from BALANCEKIT_CONFORMANCE_SUBPROCESS:
#:
#: - `first` (default): `balancekit-server -f cfg` with inherited `fd@N` sockets (it takes
#:   them since 2c22e21) on each row's first backend kind, so every row goes through the
#:   real command line once; the row's other kinds run `Runtime` in process, which is the
#:   same engine without the CLI and ~0.25 s of start-up (keeps the matrix under 4 min
#:   on two cores);
#: - `all`: the command line for every case (about 5 minutes);
#: - `none`: in process for every case (handy under a debugger).
SUBPROCESS = os.environ.get("BALANCEKIT_CONFORMANCE_SUBPROCESS", "first")
if SUBPROCESS not in ("first", "all", "none"):
    raise ValueError(f"BALANCEKIT_CONFORMANCE_SUBPROCESS={SUBPROCESS!r}: first, all or none")


def start_balancekit(
    text: str,
    bind_map: dict[str, tuple[str, int]],
    stats_path: str = "",
    *,
    first_kind: bool = True,
) -> InProcessBalancekit | SubprocessBalancekit:
    """The one place that decides how balancekit runs for the matrix (`SUBPROCESS`):
    `balancekit-server -f cfg` with the listening sockets inherited as `fd@N`
    (`pass_fds`), like `support.haproxy.HAProxy` runs HAProxy, or `Runtime` in this
    process.
    """
    if SUBPROCESS == "all" or (SUBPROCESS == "first" and first_kind):
        return SubprocessBalancekit(text, bind_map, stats_path)
    return InProcessBalancekit(text, bind_map)


# --------------------------------------------------------------------------- rendering


def bind_map(template: str) -> dict[str, tuple[str, int]]:
    """`{bind:NAME}` → (frontend or listen name, index of that bind in it)."""
    found: dict[str, tuple[str, int]] = {}
    section = ""
    counts: dict[str, int] = {}
    for line in template.splitlines():
        head = _SECTION.match(line)
        if head:
            section = head.group(2) if head.group(1) != "peers" else ""
            continue
        if line.split()[:1] == ["bind"] and section:  # a peers listener takes no requests
            for match in _PLACEHOLDER.finditer(line):
                if match.group(1) in ("bind", "bind6"):
                    index = counts.get(section, 0)
                    counts[section] = index + 1
                    found[match.group(2)] = (section, index)
    return found


#: How long a request's log line is waited for before the next request goes
#: (requests that log nothing, e.g. under `option dontlognull`, wait this long).
_LOG_WAIT = 0.5


class UdpLog:
    """A syslog receiver on 127.0.0.1, collecting datagrams as text lines."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.received: list[str] = []

    def _receive(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.sock], [], [], max(timeout, 0.0))
        if ready:
            data = self.sock.recv(65536)
            self.received.append(data.decode("utf-8", "replace").rstrip("\n"))
        return bool(ready)

    def wait_for(self, count: int, timeout: float) -> None:
        """Until `count` lines have come (or `timeout`): a request's line arrives
        before the next request starts, so lines keep the requests' order even when
        a proxy logs after the client already has its answer."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and self._receive(deadline - time.monotonic()):
            pass

    def lines(self, settle: float = 0.3) -> list[str]:
        deadline = time.monotonic() + settle
        while (left := deadline - time.monotonic()) > 0:
            if self._receive(left):
                deadline = time.monotonic() + 0.15
        return list(self.received)

    def close(self) -> None:
        self.sock.close()


@dataclass
class Side:
    """One proxy of the pair: its rendered config, how to reach it, what it logged."""

    name: str
    text: str = ""
    ports: dict[str, int] = field(default_factory=dict)
    stats_path: str = ""
    log: UdpLog | None = None
    error: str | None = None
    how: str = ""
    stop: Callable[[], None] = lambda: None


def _render(row: Row, group: EchoGroup, side: str, work: Path, side_obj: Side) -> str:
    certs = Certs.get()
    text = row.config
    for old, new in row.haproxy_edits if side == "haproxy" else row.balancekit_edits:
        text = text.replace(old, new)
    dead = dead_address()

    def sub(match: re.Match[str]) -> str:
        kind, arg = match.group(1), match.group(2)
        if kind == "bind":
            return "{listen:" + arg + "}" if side == "haproxy" else "127.0.0.1:0"
        if kind == "bind6":
            return "{v6:" + arg + "}" if side == "haproxy" else "[::1]:0"
        if kind in ("s1", "s2", "s3", "t1", "c1"):
            address = group.address(kind)
            return "localhost:" + address.rsplit(":", 1)[1] if arg == "name" else address
        if kind == "port":
            return (dead if arg == "dead" else group.address(arg)).rsplit(":", 1)[1]
        if kind == "agent":
            return str(AgentServer.shared(row.files[arg]).port)
        if kind == "pg":
            return PostgreSQL.get().address
        if kind == "redis":
            return Redis.get(arg or "open").address
        if kind == "smtp":
            return Smtp.get(arg or "open").address
        if kind == "dead":
            return dead
        if kind == "dns":
            records = re.sub(
                rb"\{port:(\w+)\}",
                lambda m: group.address(m.group(1).decode()).rsplit(":", 1)[1].encode(),
                row.files[arg],
            )
            return Dnsmasq.shared(records.decode()).address
        if kind == "crt":
            return str(certs.crt)
        if kind == "certdir":
            return str(certs.dir)
        if kind == "workdir":
            for name in row.files:  # every file of the row, for relative names
                sub(re.match(_PLACEHOLDER, "{file:" + name + "}"))  # type: ignore[arg-type]
            return str(work)
        if kind == "ca":
            return str(certs.ca_path)
        if kind == "file":
            path = work / arg
            if not path.exists():
                content = re.sub(
                    rb"\{port:(\w+)\}",
                    lambda m: group.address(m.group(1).decode()).rsplit(":", 1)[1].encode(),
                    row.files[arg],
                )
                content = content.replace(b"{certdir}", str(certs.dir).encode())
                path.write_bytes(content)
                if content.startswith(b"#!"):  # a script (`external-check command`)
                    path.chmod(0o755)
            return str(path)
        if kind == "log":
            if side_obj.log is None:
                side_obj.log = UdpLog()
            return side_obj.log.address
        if kind == "stats":
            if side == "haproxy":
                return "{stats}"
            side_obj.stats_path = str(work / "bk-stats.sock")
            return side_obj.stats_path
        return match.group(0)

    return _PLACEHOLDER.sub(sub, text)


def _start_haproxy(text: str, side: Side) -> None:
    # IPv6 listeners: the harness binds them on ::1 (`{listen6:NAME}`), like the others.
    v6 = re.findall(r"\{v6:([A-Za-z0-9_.-]+)\}", text)
    text = re.sub(r"\{v6:([A-Za-z0-9_.-]+)\}", r"{listen6:\1}", text)
    proxy = HAProxy(text)
    side.text = proxy.config
    side.stats_path = proxy.stats_path
    side.stop = proxy.stop
    proxy.start()
    side.ports = {name: proxy.port(name) for name in proxy._sockets if ":" not in name}
    side.ports.update({name: proxy.port(f"v6:{name}") for name in v6})
    side.haproxy = proxy  # type: ignore[attr-defined]


def _start_kit(text: str, row: Row, side: Side, first_kind: bool) -> None:
    side.text = text
    try:
        kit = start_balancekit(text, bind_map(row.config), side.stats_path, first_kind=first_kind)
    except Exception as exc:
        side.error = f"balancekit did not start: {type(exc).__name__}: {exc}"
        return
    side.ports = {name: kit.port(name) for name in bind_map(row.config)}
    side.stop = kit.close
    side.how = "balancekit-server -f" if isinstance(kit, SubprocessBalancekit) else "Runtime"


# --------------------------------------------------------------------------- the client


def _read_response(
    sock: socket.socket, method: str, deadline: float, interim: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """One response from `sock`: status, reason, headers, body, and how it ended;
    the interim (1xx) responses before it, kept as `interim` (`100 Continue`,
    `103 Early Hints`), are compared too."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = _recv(sock, deadline)
        if chunk is None:
            return {"error": "timeout", "partial": buf.decode("latin-1")}
        if not chunk:
            return {"error": "closed" if not buf else "closed-mid-head", "partial": buf.decode()}
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1])
    headers = []
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers.append([key.strip(), value.strip()])
    if 100 <= status < 200 and status != 101:
        # interim response: keep it, read the final one from what follows
        interim = [] if interim is None else interim
        interim.append({"status": status, "reason": parts[2] if len(parts) > 2 else ""})
        interim[-1]["headers"] = headers
        return _read_response_from(sock, rest, method, deadline, interim)
    out: dict[str, Any] = {"status": status, "reason": parts[2] if len(parts) > 2 else ""}
    if interim:
        out["interim"] = interim
    out["proto"] = parts[0]
    out["headers"] = headers
    names = {k.lower(): v for k, v in headers}
    body = rest
    if method == "HEAD" or status in (204, 304):
        body = b""
    elif "chunked" in names.get("transfer-encoding", "").lower():
        body, ok, trailer = _read_chunked(sock, rest, deadline)
        if not ok:
            out["truncated"] = True
        out["trailer"] = trailer
    elif "content-length" in names:
        length = int(names["content-length"])
        while len(body) < length:
            chunk = _recv(sock, deadline)
            if not chunk:
                out["truncated"] = True
                break
            body += chunk
        body = body[:length]
    else:
        while True:
            chunk = _recv(sock, deadline)
            if chunk is None:
                out["timeout"] = True  # no end of the body: still open at the deadline
                break
            if not chunk:
                break
            body += chunk
        out["close_delimited"] = True
    out["body"] = body
    return out


def _read_response_from(
    sock: socket.socket,
    already: bytes,
    method: str,
    deadline: float,
    interim: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    class _Prefixed:
        def __init__(self) -> None:
            self.pending = already

        def recv(self, n: int) -> bytes:
            if self.pending:
                data, self.pending = self.pending, b""
                return data
            return sock.recv(n)

        def settimeout(self, value: float) -> None:
            sock.settimeout(value)

    return _read_response(_Prefixed(), method, deadline, interim)  # type: ignore[arg-type]


def _recv(sock: socket.socket, deadline: float) -> bytes | None:
    left = deadline - time.monotonic()
    if left <= 0:
        return None
    sock.settimeout(left)
    try:
        return sock.recv(65536)
    except TimeoutError:
        return None
    except ConnectionResetError:
        return b""


def _read_chunked(sock: socket.socket, data: bytes, deadline: float) -> tuple[bytes, bool, str]:
    """A chunked body: (body, complete, trailer lines)."""
    out = b""
    while True:
        while b"\r\n" not in data:
            chunk = _recv(sock, deadline)
            if not chunk:
                return out, False, ""
            data += chunk
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while not (data.startswith(b"\r\n") or b"\r\n\r\n" in data):
                chunk = _recv(sock, deadline)
                if not chunk:
                    break
                data += chunk
            trailer = b"" if data.startswith(b"\r\n") else data.partition(b"\r\n\r\n")[0]
            return out, True, trailer.decode("latin-1")
        while len(data) < size + 2:
            chunk = _recv(sock, deadline)
            if not chunk:
                return out + data, False, ""
            data += chunk
        out += data[:size]
        data = data[size + 2 :]


def _split_responses(data: bytes) -> list[dict[str, Any]]:
    """Several responses read in one go (pipelining); each framed by Content-Length."""
    out: list[dict[str, Any]] = []
    while data.startswith(b"HTTP/") and b"\r\n\r\n" in data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        headers = [
            [k.strip(), v.strip()] for k, _, v in (line.partition(":") for line in lines[1:])
        ]
        length = int(next((v for k, v in headers if k.lower() == "content-length"), "0"))
        out.append(
            {
                "status": int(parts[1]),
                "proto": parts[0],
                "reason": parts[2] if len(parts) > 2 else "",
                "headers": headers,
                "body": rest[:length],
            }
        )
        data = rest[length:]
    if data:
        out.append({"raw": data.decode("latin-1")})
    return out


def _closed_soon(sock: socket.socket, wait: float) -> bool:
    """Whether the peer closes the connection within `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        data = _recv(sock, deadline)
        if data is None:
            return False
        if not data:
            return True


class Client:
    """Sends a row's requests to one proxy; named connections stay open between requests."""

    def __init__(self, side: Side) -> None:
        self.side = side
        self.conns: dict[str, socket.socket] = {}

    def close(self) -> None:
        for sock in self.conns.values():
            with contextlib.suppress(OSError):
                sock.close()
        self.conns.clear()

    def _connect(self, req: Req) -> tuple[socket.socket, dict[str, Any]]:
        port = self.side.ports[req.bind]
        family = socket.AF_INET6 if req.bind.startswith("v6") else socket.AF_INET
        host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(5)
        if req.src:
            sock.bind((req.src, 0))
        sock.connect((host, port))
        info: dict[str, Any] = {}
        if req.proxy:
            sock.sendall(req.proxy)
        if req.tls:
            context = ssl.create_default_context(cafile=str(Certs.get().ca_path))
            if not req.tls_verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if req.client_cert:
                Certs.get().client.configure_cert(context)
            if req.tls_max:
                context.maximum_version = getattr(ssl.TLSVersion, req.tls_max)
            if req.tls_ciphers:
                context.set_ciphers(req.tls_ciphers)
            if req.alpn:
                context.set_alpn_protocols(list(req.alpn))
            sock = context.wrap_socket(sock, server_hostname=req.sni or "localhost")
            info["tls"] = {
                "version": sock.version(),
                "alpn": sock.selected_alpn_protocol(),
                "cert": Certs.get().name_of(sock.getpeercert(binary_form=True)),
            }
            if req.tls_max or req.tls_ciphers:
                info["tls"]["cipher"] = (sock.cipher() or ("",))[0]
        return sock, info

    def one(self, req: Req) -> dict[str, Any]:
        if req.wait:
            time.sleep(req.wait)
        if req.command is not None:
            return {"command": _stats_command(self.side.stats_path, req.command)}
        if req.close_now:
            try:
                sock, _info = self._connect(req)
                sock.close()
                return {"client_closed": True}
            except OSError as exc:
                return {"error": f"connect: {type(exc).__name__}"}
        try:
            if req.conn and req.conn in self.conns:
                sock, info = self.conns[req.conn], {}
            else:
                sock, info = self._connect(req)
        except (OSError, ssl.SSLError) as exc:
            return {"error": f"connect: {type(exc).__name__}"}
        try:
            obs = self._exchange(sock, req)
        except (OSError, ssl.SSLError) as exc:
            obs = {"error": f"{type(exc).__name__}"}
        obs.update(info)
        if req.conn and "error" not in obs and not obs.get("closed"):
            self.conns[req.conn] = sock
        else:
            self.conns.pop(req.conn or "", None)
            with contextlib.suppress(OSError):
                sock.close()
        return obs

    def _exchange(self, sock: socket.socket, req: Req) -> dict[str, Any]:
        deadline = time.monotonic() + req.timeout
        if req.raw is not None:
            if req.corked:  # the bytes wait for the FIN: one segment carries both
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
            sock.sendall(req.raw)
            if req.then:
                time.sleep(req.pause)
                sock.sendall(req.then)
            if req.half_close:
                time.sleep(req.shut_after)
                sock.shutdown(socket.SHUT_WR)
            data = b""
            while True:
                chunk = _recv(sock, deadline)
                if chunk is None:
                    return {"raw": data.decode("latin-1"), "timeout": True}
                if not chunk:
                    break
                data += chunk
            if req.pipelined:
                return {"responses": _split_responses(data), "closed": True}
            if data.startswith(b"HTTP/"):
                parsed = _read_response_from(sock, data, "GET", time.monotonic() + 0.5)
                parsed["closed"] = True
                return parsed
            return {"raw": data.decode("latin-1"), "closed": True}
        head = [f"{req.method} {req.path} {req.version}"]
        if req.host is not None:
            head.append(f"Host: {req.host}")
        head += [f"{k}: {v}" for k, v in req.headers]
        body = req.body
        if body and not any(
            k.lower() in ("content-length", "transfer-encoding") for k, _ in req.headers
        ):
            head.append(f"Content-Length: {len(body)}")
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        obs = _read_response(sock, req.method, deadline)
        if req.check_close and "error" not in obs and not obs.get("close_delimited"):
            obs["closed"] = _closed_soon(sock, 0.3)
        elif obs.get("close_delimited"):
            obs["closed"] = not obs.get("timeout")
        return obs

    def run(self, steps: tuple[Req | Par, ...]) -> list[Any]:
        out: list[Any] = []
        for step in steps:
            if isinstance(step, Par):
                results: list[Any] = [None] * len(step.reqs)

                def go(i: int, r: Req, results: list[Any] = results) -> None:
                    results[i] = Client(self.side).one(r)

                threads = []
                for i, r in enumerate(step.reqs):
                    thread = threading.Thread(target=go, args=(i, r))
                    thread.start()
                    threads.append(thread)
                    time.sleep(step.stagger)
                for thread in threads:
                    thread.join(30)
                out.append(results)
            else:
                log = self.side.log
                logged = len(log.received) if log is not None else 0
                out.append(self.one(step))
                if log is not None:
                    log.wait_for(logged + 1, _LOG_WAIT)
        return out


def _stats_command(path: str, line: str) -> str:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(path)
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while data := sock.recv(65536):
                chunks.append(data)
        return b"".join(chunks).decode().strip()
    except OSError as exc:
        return f"error: {type(exc).__name__}"


# --------------------------------------------------------------------------- normalizing

_DROP_ALWAYS = {"date"}
_CLOSED_ERRORS = {
    "closed": "closed",
    "ConnectionResetError": "closed",
    "BrokenPipeError": "closed",
    "connect: ConnectionResetError": "closed",
}
_PROXY_V1 = re.compile(r"^(PROXY TCP[46] \S+ \S+) \d+ \d+$")
_ADDR_PORT = re.compile(r"((?:\d{1,3}\.){3}\d{1,3}):\d+")
_LOG_DATE = re.compile(r"\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d\.\d{3}\]")
_LOG_TIMERS = re.compile(r" -?\d+/-?\d+/-?\d+/-?\d+/\+?-?\d+ ")
_LOG_TIMERS3 = re.compile(r" -?\d+/-?\d+/\+?-?\d+ ")
_LOG_PID = re.compile(r"\[\d+\]:")


def _norm_text(value: str, ports: dict[int, str]) -> str:
    for port, name in ports.items():
        value = re.sub(rf"(?<!\d){port}(?!\d)", name, value)
    return value


def _extracted(regex: str, text: str) -> str:
    """One line per match of `regex`: its groups that matched, else the whole match."""
    lines = []
    for match in re.finditer(regex, text, re.M):
        groups = [g for g in match.groups() if g is not None]
        lines.append(" ".join(groups) if groups else match.group(0))
    return "\n".join(lines)


def normalize(obs: Any, row: Row, ports: dict[int, str]) -> Any:
    """What is compared of one request's observation."""
    if isinstance(obs, list):
        return [normalize(o, row, ports) for o in obs]
    if "client_closed" in obs:
        return obs
    if "responses" in obs:
        return {"responses": [normalize(o, row, ports) for o in obs["responses"]]}
    if "command" in obs:
        text = obs["command"]
        if row.body_lines is not None:
            text = "\n".join(text.split("\n")[: row.body_lines])
        if row.extract:
            text = _extracted(row.extract, text)
        for pattern, replacement in row.command_subs:
            text = re.sub(pattern, replacement, text)
        return {"command": _norm_text(text, ports)} if "command" in row.compare else {}
    out: dict[str, Any] = {}
    if "error" in obs:
        # A reset, a broken pipe or an EOF are one behaviour (the proxy closed the
        # connection without answering); which one the client sees is timing.
        return {"error": _CLOSED_ERRORS.get(obs["error"], obs["error"])}
    if "raw" in obs:
        out["raw"] = _norm_text(obs["raw"], ports) if "body" in row.compare else "<not compared>"
        if obs.get("timeout"):
            out["timeout"] = True
        return out
    if "status" in row.compare:
        # Interim responses other than `100 Continue` (which HAProxy may send twice, its
        # own and the server's, where balancekit sends one: not compared, as before),
        # header names with their case: the proxy writes them itself (`early-hint`).
        interim = [each for each in obs.get("interim", ()) if each["status"] != 100]
        if interim:
            out["interim"] = [
                {
                    "status": each["status"],
                    "reason": each["reason"],
                    "headers": [[k, _norm_text(v, ports)] for k, v in each["headers"]],
                }
                for each in interim
            ]
        out["status"] = obs["status"]
        out["reason"] = obs["reason"]
        if "proto" in obs:  # the status line's version: HAProxy keeps an HTTP/1.0 server's
            out["proto"] = obs["proto"]
    body, coding = _decoded(obs.get("body", b""), obs.get("headers", ()))
    if coding:
        out["coding"] = coding
    echo = None
    if body[:1] == b"{":
        with contextlib.suppress(ValueError):
            echo = json.loads(body)
    if "headers" in row.compare:
        headers = []
        for key, value in obs["headers"]:
            name = key if row.exact_case else key.lower()
            if name.lower() in _DROP_ALWAYS:
                continue
            if name.lower() == "content-length" and echo is not None:
                continue  # follows the echo, compared itself
            if row.response_headers is not None and name.lower() not in row.response_headers:
                continue
            headers.append([name, _norm_text(value, ports)])
        out["headers"] = headers if row.header_order else sorted(headers)
    if "body" in row.compare:
        if echo is not None:
            out["echo"] = _norm_echo(echo, row, ports)
        else:
            text = body.decode("latin-1")
            if row.body_lines is not None:
                text = "\n".join(text.split("\n")[: row.body_lines])
            if row.extract:
                text = _extracted(row.extract, text)
            out["body"] = _norm_text(text, ports)
    elif "server" in row.compare and echo is not None:
        out["server"] = echo.get("server")
    if "closed" in row.compare and "closed" in obs:
        out["closed"] = obs["closed"]
    if "tls" in obs and "tls" in row.compare:
        out["tls"] = obs["tls"]
    if obs.get("truncated"):
        out["truncated"] = True
    if obs.get("timeout"):
        out["timeout"] = True
    if obs.get("trailer") and "headers" in row.compare:
        out["trailer"] = obs["trailer"] if row.exact_case else obs["trailer"].lower()
    return out


def _decoded(body: bytes, headers: Any) -> tuple[bytes, str]:
    """A compressed body decoded, and its format: two proxies' encoders (HAProxy's
    libslz, zlib) write different bytes for the same body, which decode the same.
    An undecodable body compares as what it is."""
    encoding = next((v.lower() for k, v in headers if k.lower() == "content-encoding"), "")
    formats = {"gzip": (("gzip", zlib.MAX_WBITS | 16),)}
    # HAProxy's `deflate` is zlib's format, its `raw-deflate` the bare stream.
    formats["deflate"] = (("zlib", zlib.MAX_WBITS), ("raw", -zlib.MAX_WBITS))
    for name, wbits in formats.get(encoding, ()):
        with contextlib.suppress(zlib.error):
            return zlib.decompress(body, wbits), name
    if encoding in formats:
        return b"<undecodable body>", encoding
    return body, ""


def _norm_echo(echo: dict[str, Any], row: Row, ports: dict[int, str]) -> dict[str, Any]:
    out = dict(echo)
    if "headers" in out:
        out["headers"] = [
            [k if row.exact_case else k.lower(), _norm_text(v, ports)] for k, v in out["headers"]
        ]
    if "trailer" in out and not row.exact_case:
        # "Name: value" lines: names are case-insensitive (see `header-name-case`)
        out["trailer"] = [
            name.lower() + sep + value
            for name, sep, value in (line.partition(":") for line in out["trailer"])
        ]
    if "proxy" in out:
        proxy = _PROXY_V1.sub(r"\1 <port> <port>", out["proxy"])
        out["proxy"] = _ADDR_PORT.sub(r"\1:<port>", proxy)
    return out


def normalize_log(line: str, ports: dict[int, str], subs: tuple[tuple[str, str], ...]) -> str:
    line = _LOG_PID.sub("[<pid>]:", line)
    line = _LOG_DATE.sub("[<date>]", line)
    line = _LOG_TIMERS.sub(" <timers> ", line)
    line = _LOG_TIMERS3.sub(" <timers> ", line)
    line = _ADDR_PORT.sub(r"\1:<port>", line)
    line = _norm_text(line, ports)
    for pattern, repl in subs:
        line = re.sub(pattern, repl, line)
    return line


# --------------------------------------------------------------------------- one row


@dataclass
class Outcome:
    haproxy: dict[str, Any]
    balancekit: dict[str, Any]
    configs: dict[str, str]
    how: str = ""

    @property
    def diff(self) -> list[str]:
        return diff(self.haproxy, self.balancekit)

    def report(self) -> str:
        lines = [f"balancekit ran as: {self.how}", "differences (path: haproxy != balancekit):"]
        lines += [f"  {d}" for d in self.diff]
        lines.append("haproxy:    " + json.dumps(self.haproxy, default=str)[:4000])
        lines.append("balancekit: " + json.dumps(self.balancekit, default=str)[:4000])
        return "\n".join(lines)


def diff(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            if key not in a:
                out.append(f"{path}.{key}: <missing> != {b[key]!r}")
            elif key not in b:
                out.append(f"{path}.{key}: {a[key]!r} != <missing>")
            else:
                out += diff(a[key], b[key], f"{path}.{key}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out += diff(x, y, f"{path}[{i}]")
        return out
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def run_row(row: Row, group: EchoGroup) -> Outcome:
    work = Path(tempfile.mkdtemp(prefix="bk-conformance-"))
    sides = {"haproxy": Side("haproxy"), "balancekit": Side("balancekit")}
    results: dict[str, dict[str, Any]] = {}
    try:
        ha_text = _render(row, group, "haproxy", work, sides["haproxy"])
        kit_text = _render(row, group, "balancekit", work, sides["balancekit"])
        # Both start at once (each waits for its stats socket): half the start-up time.
        failure: list[BaseException] = []

        def start_haproxy() -> None:
            try:
                _start_haproxy(ha_text, sides["haproxy"])
            except BaseException as exc:
                failure.append(exc)

        starter = threading.Thread(target=start_haproxy)
        starter.start()
        _start_kit(kit_text, row, sides["balancekit"], group.kind == row.kinds[0])
        starter.join(30)
        if failure:
            raise failure[0]
        if row.settle:
            time.sleep(row.settle)
        for name, side in sides.items():
            if side.error:
                results[name] = {"start": side.error}
                continue
            ports = {port: f"<port:{bind}>" for bind, port in side.ports.items()}
            client = Client(side)
            try:
                raw = client.run(row.requests)
            finally:
                client.close()
            result: dict[str, Any] = {"start": "ok"}
            result["requests"] = [normalize(o, row, ports) for o in raw]
            if side.log is not None and "log" in row.compare:
                lines = [normalize_log(line, ports, row.log_subs) for line in side.log.lines()]
                if row.log_filter:
                    lines = [line for line in lines if re.search(row.log_filter, line)]
                result["log"] = sorted(lines) if row.log_sorted else lines
            results[name] = result
        return Outcome(
            results["haproxy"],
            results["balancekit"],
            {name: side.text for name, side in sides.items()},
            sides["balancekit"].how,
        )
    finally:
        for side in sides.values():
            with contextlib.suppress(Exception):
                side.stop()
            if side.log is not None:
                side.log.close()
        shutil.rmtree(work, ignore_errors=True)
