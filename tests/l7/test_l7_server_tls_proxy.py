"""Mode http servers with `ssl` and `send-proxy[-v2]`, side by side with HAProxy 2.6.

The conformance rows `server-ssl*` and `server-send-proxy*` check one request
each.  These check what only shows over several: a PROXY header goes once per
server connection and such a connection never serves another client; the SNI
of `sni req.hdr(host)` follows each request and a connection is only reused by
requests with the same one; a certificate that fails verification (unknown CA,
a name that is not the SNI) is a connection failure (503 after the retries);
and the load-time errors HAProxy reports about server TLS.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import trustme
from l7_diff import HTTP_DEFAULTS, BalancekitRun

from balancekit.config import ConfigErrors, load_text
from support.echo_backends import parse_proxy_v2
from support.haproxy import HAProxy

pytestmark = pytest.mark.haproxy

_V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


class Listener:
    """A loopback listener whose accepted connections each get a thread running
    `_serve`; `address` is what a config's server line names."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        with contextlib.suppress(OSError):  # wakes the thread blocked in accept()
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class RecordingServer(Listener):
    """An HTTP/1.1 keep-alive server that records each connection: the PROXY header
    read in clear first (if any), the SNI of its TLS handshake (with a context), and
    the requests it served.  Every answer says which connection served it."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self.context = context
        self.connections: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        if context is not None:
            context.sni_callback = self._remember_sni
        super().__init__()

    @staticmethod
    def _remember_sni(sock: Any, name: str | None, _ctx: Any) -> None:
        sock.bk_sni = name

    def _read_proxy(self, conn: socket.socket) -> str | None:
        head = conn.recv(16, socket.MSG_PEEK)
        if head.startswith(b"PROXY "):
            line = b""
            while not line.endswith(b"\r\n"):
                line += conn.recv(1)
            return line.decode("ascii").rstrip("\r\n")
        if head.startswith(_V2_SIGNATURE[:8]):
            fixed = b""
            while len(fixed) < 16:
                fixed += conn.recv(16 - len(fixed))
            rest = b""
            while len(rest) < int.from_bytes(fixed[14:16], "big"):
                rest += conn.recv(int.from_bytes(fixed[14:16], "big") - len(rest))
            return parse_proxy_v2(fixed + rest)
        return None

    def _serve(self, raw: socket.socket) -> None:
        conn: socket.socket = raw
        with contextlib.suppress(OSError, ValueError), conn:
            raw.settimeout(10)
            record: dict[str, Any] = {"proxy": self._read_proxy(raw), "sni": None, "paths": []}
            if self.context is not None:
                conn = self.context.wrap_socket(raw, server_side=True)
                record["sni"] = getattr(conn, "bk_sni", None)
            with self.lock:
                index = len(self.connections)
                self.connections.append(record)
            rfile = conn.makefile("rb")
            while True:
                line = rfile.readline()
                if not line:
                    return
                path = line.split()[1].decode()
                while rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                record["paths"].append(path)
                body = json.dumps({"conn": index, **record}).encode()
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )


def _get(sock: socket.socket, path: str, host: str = "app.test") -> tuple[int, dict[str, Any]]:
    """One keep-alive request on `sock`: the status and the JSON answer (or {})."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a response")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    is_json = status == 200 and body.startswith(b"{")
    return status, (json.loads(body[:length]) if is_json else {})


class Both:
    """One frontend `fe` and backend `be` with `servers`, under HAProxy and balancekit."""

    def __init__(self, servers: str) -> None:
        text = (
            HTTP_DEFAULTS
            + "    retries 1\n"
            + "frontend fe\n    bind {bind}\n    default_backend be\n"
            + "backend be\n"
            + servers
        )
        self.haproxy = HAProxy(text.replace("{bind}", "{listen:fe}")).start()
        try:
            self.kit = BalancekitRun(text.replace("{bind}", "127.0.0.1:0"))
        except BaseException:
            self.haproxy.stop()
            raise

    def ports(self) -> dict[str, int]:
        return {"haproxy": self.haproxy.port("fe"), "balancekit": self.kit.port("fe")}

    def close(self) -> None:
        self.kit.close()
        self.haproxy.stop()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def _server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


@pytest.mark.parametrize("tls", [False, True], ids=["clear", "ssl"])
@pytest.mark.parametrize("option", ["send-proxy", "send-proxy-v2"])
def test_proxy_header_once_per_server_connection_and_per_client(
    ca: trustme.CA, ca_file: Path, option: str, tls: bool
) -> None:
    """Two keep-alive clients, two requests each: each client's requests share one
    server connection, opened with that client's PROXY header (before the TLS
    handshake with `ssl`) and sent once; no connection serves both clients."""
    seen: dict[str, list[list[tuple[str, list[str]]]]] = {}
    for side in ("haproxy", "balancekit"):
        backend = RecordingServer(_server_context(ca, "localhost") if tls else None)
        extra = f" ssl verify required ca-file {ca_file} sni str(localhost)" if tls else ""
        both = Both(f"    server s1 {backend.address} {option}{extra}\n")
        try:
            port = both.ports()[side]
            clients = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in "ab"]
            answers = []
            for n in (1, 2):  # interleaved: a's idle connection is there for b's turn
                for client, name in zip(clients, "ab", strict=True):
                    status, answer = _get(client, f"/{name}{n}")
                    assert status == 200, (side, answer)
                    answers.append((client.getsockname()[1], answer))
            for client in clients:
                client.close()
            # Every answer came on a connection whose header names its own client.
            for client_port, answer in answers:
                assert f":{client_port} " in answer["proxy"] or (
                    f" {client_port} " in answer["proxy"]
                ), (side, answer)
                if tls:
                    assert answer["sni"] == "localhost"
            seen[side] = [
                [("proxy" if c["proxy"] else "none", c["paths"]) for c in backend.connections]
            ]
        finally:
            both.close()
            backend.close()
    assert seen["balancekit"] == seen["haproxy"]
    assert seen["haproxy"] == [[("proxy", ["/a1", "/a2"]), ("proxy", ["/b1", "/b2"])]]


def test_sni_from_host_header_keys_connection_reuse(ca: trustme.CA, ca_file: Path) -> None:
    """`sni req.hdr(host)`: each request's Host is the SNI its connection announced
    (and was verified against); a request with another Host opens a new
    connection, one with a Host seen before reuses that one (HAProxy's reuse hash
    covers the SNI)."""
    seen: dict[str, list[tuple[str | None, list[str]]]] = {}
    for side in ("haproxy", "balancekit"):
        backend = RecordingServer(_server_context(ca, "a.test", "b.test"))
        both = Both(
            f"    server s1 {backend.address} ssl verify required ca-file {ca_file} "
            "sni req.hdr(host)\n"
        )
        try:
            with socket.create_connection(("127.0.0.1", both.ports()[side]), timeout=10) as c:
                for path, host in (("/1", "a.test"), ("/2", "b.test"), ("/3", "a.test")):
                    status, answer = _get(c, path, host)
                    assert status == 200, (side, path)
                    assert answer["sni"] == host, (side, answer)
            seen[side] = [(c["sni"], c["paths"]) for c in backend.connections]
        finally:
            both.close()
            backend.close()
    assert seen["balancekit"] == seen["haproxy"]


@pytest.mark.parametrize(
    "case",
    ["unknown-ca", "name-is-not-the-sni"],
)
def test_failed_verification_is_a_connection_failure(
    ca: trustme.CA, ca_file: Path, case: str
) -> None:
    """A certificate `verify required` refuses fails the connection, as a refused
    connect does: retried, then 503, on both sides; `verify none` takes it."""
    names = ("localhost",) if case == "unknown-ca" else ("other.test",)
    issuer = trustme.CA() if case == "unknown-ca" else ca
    for verify, expected in (("required", 503), ("none", 200)):
        statuses = {}
        backend = RecordingServer(_server_context(issuer, *names))
        ca_opt = f" ca-file {ca_file}" if verify == "required" else ""
        both = Both(
            f"    server s1 {backend.address} ssl verify {verify}{ca_opt} sni str(localhost)\n"
        )
        try:
            for side, port in both.ports().items():
                with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                    statuses[side] = _get(c, "/x")[0]
        finally:
            both.close()
            backend.close()
        assert statuses == {"haproxy": expected, "balancekit": expected}, (case, verify)


@pytest.mark.parametrize(
    "line",
    [
        "server s 127.0.0.1:1 ssl",
        "server s 127.0.0.1:1 check check-ssl",
        "server s 127.0.0.1:1 ssl verify none sni no_such_fetch",
        "server s 127.0.0.1:1 ssl verify required ca-file /nonexistent/ca.pem",
    ],
    ids=["verify-without-ca-file", "check-ssl-without-ca-file", "bad-sni", "missing-ca-file"],
)
def test_server_tls_errors_at_load(line: str) -> None:
    """What HAProxy refuses at load about server TLS, balancekit refuses too."""
    text = HTTP_DEFAULTS + f"backend be\n    {line}\n"
    checked = HAProxy(text).check()
    assert checked.returncode != 0, checked.stdout + checked.stderr
    with pytest.raises(ConfigErrors) as failure:
        load_text(text, name="t.cfg")
    assert "'server be/s'" in str(failure.value)


class FirstBytes(Listener):
    """Records the first bytes of every connection (a health check's PROXY header and
    request), then closes it."""

    def __init__(self) -> None:
        self.seen: list[bytes] = []
        super().__init__()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            conn.settimeout(2)
            data = b""
            while not (b"HTTP/1." in data and data.endswith(b"\r\n\r\n")):
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            self.seen.append(data)


@pytest.mark.parametrize("option", ["send-proxy", "send-proxy-v2"])
def test_health_check_sends_the_proxy_header(option: str) -> None:
    """A checked `send-proxy[-v2]` server gets the header on its checks too: v1
    naming the check's own connection, v2 `LOCAL`, as HAProxy 2.6 sends them."""
    firsts: dict[str, bytes] = {}
    ports: dict[str, str] = {}
    for side in ("haproxy", "balancekit"):
        backend = FirstBytes()
        ports[side] = backend.address.rsplit(":", 1)[1]
        text = (
            HTTP_DEFAULTS
            + "frontend fe\n    bind {bind}\n    default_backend be\n"
            + "backend be\n    option httpchk GET /\n"
            + f"    server s1 {backend.address} {option} check\n"
        )
        running: HAProxy | BalancekitRun = (
            HAProxy(text.replace("{bind}", "{listen:fe}")).start()
            if side == "haproxy"
            else BalancekitRun(text.replace("{bind}", "127.0.0.1:0"))
        )
        try:
            deadline = time.monotonic() + 5
            while not backend.seen and time.monotonic() < deadline:
                time.sleep(0.05)
            firsts[side] = backend.seen[0]
        finally:
            if isinstance(running, HAProxy):
                running.stop()
            else:
                running.close()
            backend.close()
    if option == "send-proxy":
        lines = {side: first.split(b"\r\n", 1)[0].decode() for side, first in firsts.items()}
        for side, line in lines.items():
            expected = rf"PROXY TCP4 127\.0\.0\.1 127\.0\.0\.1 \d+ {ports[side]}"
            assert re.fullmatch(expected, line), lines
    else:
        heads = {side: first[:16] for side, first in firsts.items()}
        assert heads["balancekit"] == heads["haproxy"] == _V2_SIGNATURE + b"\x20\x00\x00\x00"
    for first in firsts.values():  # and then the check's request
        assert b"\nGET / HTTP/1.0\r\n" in first or b"\x00GET / HTTP/1.0\r\n" in first
