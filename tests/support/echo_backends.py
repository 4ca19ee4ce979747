"""Recording HTTP backends of several kinds, each answering with what it saw.

Every server of a group answers any request with a JSON echo of it —
`{"server", "method", "uri", "headers", "body", …}` — and an `X-Server` header,
so a differential test can compare what a proxy forwarded (method, target,
header lines, body) as well as which server it chose.  Special paths, on every
kind that can do them:

- `/status/<N>` answers with status N (the same echo as body);
- `/sleep/<ms>` waits that long before answering;
- a `respond-header=<Name>:<value>` query parameter (repeatable, URL-encoded)
  adds that header to the answer (`Set-Cookie`, `Cache-Control`…), except on nginx;
  `respond-pad=<n>` adds `X-Pad` with n bytes (a large response head).

Kinds (`start_group(kind)`), three servers `s1 s2 s3` each:

- `httpserver`: `http.server.BaseHTTPRequestHandler` (head and body in separate
  writes); reports header lines with their case and order, the request line's
  version, a PROXY protocol header (v1 or v2) when one came first and request
  trailers; answers `…/chunked` targets chunked (`…/chunked-trailer`: with a
  trailer) and `…/close-delimited` ones without a length; has a TLS server `t1`
  that also reports the SNI it was offered and the TLS version, cipher, ALPN
  protocol and client certificate (its common name) of the connection (it offers
  `http/1.1` and asks for a certificate, optionally), and `c1`, which reads a request and
  closes without answering;
- `gunicorn`: the sync worker running a tiny WSGI echo app, one subprocess per
  server on a socket bound here (`fd://N`);
- `flask`: a Flask app under werkzeug's development server (`make_server`);
- `nginx`: one nginx process, three `server` blocks answering with `return`: it
  cannot list request headers, so it echoes method, target and a few named ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

KINDS = ("httpserver", "gunicorn", "flask", "nginx")
NAMES = ("s1", "s2", "s3")
_V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def _special(path: str) -> tuple[int, float]:
    """(status, delay) asked for by the request target."""
    status, delay = 200, 0.0
    head = path.split("?", 1)[0]
    if head.startswith("/status/"):
        try:
            status = int(head.split("/")[2])
        except (ValueError, IndexError):
            status = 200
    elif head.startswith("/sleep/"):
        try:
            delay = int(head.split("/")[2]) / 1000
        except (ValueError, IndexError):
            delay = 0.0
    return status, delay


def asked_headers(path: str) -> list[tuple[str, str]]:
    """The `respond-header=<Name>:<value>` query parameters of a request target."""
    query = path.partition("?")[2]
    out = []
    for key, value in urllib.parse.parse_qsl(query):
        if key == "respond-header" and ":" in value:
            name, _, text = value.partition(":")
            out.append((name, text))
        elif key == "respond-pad" and value.isdigit():
            out.append(("X-Pad", "p" * int(value)))
    return out


def parse_proxy_v2(header: bytes) -> str:
    """A readable summary of a PROXY v2 header (ports kept: callers normalize them)."""
    ver_cmd, fam = header[12], header[13]
    body = header[16:]
    text = f"v2 ver_cmd={ver_cmd:#x} fam={fam:#x} len={len(body)}"
    if fam >> 4 == 1 and len(body) >= 12:
        src = socket.inet_ntop(socket.AF_INET, body[0:4])
        dst = socket.inet_ntop(socket.AF_INET, body[4:8])
        sport = int.from_bytes(body[8:10], "big")
        dport = int.from_bytes(body[10:12], "big")
        text += f" {src}:{sport} {dst}:{dport} tlv={body[12:].hex()}"
    return text


# --------------------------------------------------------------------------- httpserver


class _EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _EchoServer

    def handle(self) -> None:
        self.proxy_header: str | None = None
        try:
            head = self.rfile.peek(16)[:16]
        except (OSError, ValueError):
            return
        if head.startswith(b"PROXY "):
            self.proxy_header = self.rfile.readline().decode("latin-1").rstrip("\r\n")
        elif head.startswith(_V2_SIG[:8]):
            fixed = self.rfile.read(16)
            rest = self.rfile.read(int.from_bytes(fixed[14:16], "big"))
            self.proxy_header = parse_proxy_v2(fixed + rest)
        super().handle()

    def _answer(self) -> None:
        self.trailer: list[str] = []
        length = int(self.headers.get("Content-Length") or 0)
        body_in = self.rfile.read(length) if length else b""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            body_in = self._read_chunked()
        status, delay = _special(self.path)
        if delay:
            time.sleep(delay)
        payload: dict[str, Any] = {
            "server": self.server.name,
            "method": self.command,
            "uri": self.path,
            "version": self.request_version,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body": body_in.decode("latin-1"),
        }
        if self.proxy_header is not None:
            payload["proxy"] = self.proxy_header
        if self.trailer:
            payload["trailer"] = self.trailer
        sni = getattr(self.connection, "bk_sni", None)
        if self.server.tls:
            payload["sni"] = sni
            payload["tls"] = _tls_facts(self.connection)
        body = json.dumps(payload).encode()
        self.server.seen.append(payload)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Server", self.server.name)
        for name, value in asked_headers(self.path):
            self.send_header(name, value)
        framing = self.path.split("?", 1)[0]
        if framing.endswith(("/chunked", "/chunked-trailer")):
            # the echo in two chunks, with a trailer when asked
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if self.command != "HEAD":
                half = len(body) // 2
                for part in (body[:half], body[half:]):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                trailer = b"X-Trailer: t\r\n" if framing.endswith("-trailer") else b""
                self.wfile.write(b"0\r\n" + trailer + b"\r\n")
            return
        if framing.endswith("/close-delimited"):
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            if self.command != "HEAD":
                self.wfile.write(body)
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _read_chunked(self) -> bytes:
        out = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (line := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
                    self.trailer.append(line.decode("latin-1").rstrip("\r\n"))
                return out
            out += self.rfile.read(size)
            self.rfile.readline()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None):
        # Non-HTTP input (a TLS hello relayed by a mode tcp proxy) still names the server.
        body = json.dumps({"server": self.server.name, "error": code}).encode()
        self.send_response(code, message)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Server", self.server.name)
        self.send_header("Connection", "close")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_PATCH = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


class _EchoServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, name: str, context: ssl.SSLContext | None = None) -> None:
        self.name = name
        self.tls = context is not None
        self.context = context
        self.seen: list[dict[str, Any]] = []
        super().__init__(("127.0.0.1", 0), _EchoHandler)

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = super().get_request()
        if self.context is not None:
            sock.settimeout(5)
            sock = self.context.wrap_socket(sock, server_side=True)
            sock.settimeout(None)
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            super().handle_error(request, client_address)


def _tls_facts(conn: ssl.SSLSocket) -> dict[str, Any]:
    """What the TLS server saw of its client: version, cipher, ALPN, and the
    common name of the certificate it presented (None without one)."""
    peer = conn.getpeercert() or {}
    names = [value for rdn in peer.get("subject", ()) for key, value in rdn if key == "commonName"]
    cipher = conn.cipher()
    return {
        "version": conn.version(),
        "cipher": cipher[0] if cipher else None,
        "alpn": conn.selected_alpn_protocol(),
        "client": names[0] if names else None,
    }


def _tls_context(cert: Any, client_ca: Any = None) -> ssl.SSLContext:
    """The TLS server's context: HTTP/1.1 as its only ALPN protocol, and (with
    `client_ca`) a client certificate asked for, not required."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    context.set_alpn_protocols(["http/1.1"])
    if client_ca is not None:
        client_ca.configure_trust(context)
        context.verify_mode = ssl.CERT_OPTIONAL

    def remember(sock: Any, name: str | None, _ctx: Any) -> None:
        sock.bk_sni = name

    context.sni_callback = remember
    return context


class _Closer:
    """Accepts, reads what comes, and closes without answering (a crashing server)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.server_address = self.sock.getsockname()
        self.stopped = False

    def serve_forever(self) -> None:
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    conn.recv(65536)

    def shutdown(self) -> None:
        self.stopped = True
        with contextlib.suppress(OSError):
            socket.create_connection(self.server_address, timeout=1).close()

    def server_close(self) -> None:
        self.sock.close()


class _ThreadGroup:
    def __init__(self, servers: dict[str, Any], threads: list[threading.Thread]) -> None:
        self.servers = servers
        self.threads = threads

    def close(self) -> None:
        for server in self.servers.values():
            server.shutdown()
            server.server_close()


# --------------------------------------------------------------------------- WSGI apps

_WSGI_APP = textwrap.dedent(
    """
    import json, os, time, urllib.parse

    NAME = os.environ["ECHO_NAME"]

    def special(path):
        head = path.split("?", 1)[0]
        parts = head.split("/")
        if head.startswith("/status/"):
            return int(parts[2]), 0.0
        if head.startswith("/sleep/"):
            return 200, int(parts[2]) / 1000
        return 200, 0.0

    def app(environ, start_response):
        uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ["PATH_INFO"]
        headers = []
        for key, value in environ.items():
            if key.startswith("HTTP_"):
                headers.append([key[5:].replace("_", "-").lower(), value])
            elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
                headers.append([key.replace("_", "-").lower(), value])
        body_in = environ["wsgi.input"].read()
        status, delay = special(uri)
        if delay:
            time.sleep(delay)
        body = json.dumps({
            "server": NAME, "method": environ["REQUEST_METHOD"], "uri": uri,
            "version": environ.get("SERVER_PROTOCOL"), "headers": headers,
            "body": body_in.decode("latin-1"),
        }).encode()
        query = urllib.parse.parse_qsl(uri.partition("?")[2])
        asked = [tuple(v.split(":", 1)) for k, v in query
                 if k == "respond-header" and ":" in v]
        asked += [("X-Pad", "p" * int(v)) for k, v in query
                  if k == "respond-pad" and v.isdigit()]
        start_response(f"{status} X", [("Content-Type", "application/json"),
                                       ("X-Server", NAME), ("Content-Length", str(len(body))),
                                       *asked])
        return [body]
    """
)


class _GunicornGroup:
    """One `gunicorn -k sync` per name, each on a socket bound here and passed as fd://N."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bk-gunicorn-"))
        (self.dir / "echo_app.py").write_text(_WSGI_APP)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.ports: dict[str, int] = {}
        gunicorn = shutil.which("gunicorn") or "/usr/bin/gunicorn"
        for name in NAMES:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            sock.listen(128)
            sock.set_inheritable(True)
            self.ports[name] = sock.getsockname()[1]
            log = (self.dir / f"{name}.log").open("wb")
            proc = subprocess.Popen(
                [gunicorn, "-k", "sync", "-w", "1", "--bind", f"fd://{sock.fileno()}",
                 "--chdir", str(self.dir), "--log-level", "warning", "echo_app:app"],
                env={**os.environ, "ECHO_NAME": name},
                pass_fds=[sock.fileno()],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
            log.close()
            sock.close()  # the process holds it now
            self.processes.append(proc)
        for name in NAMES:
            _wait_http(self.ports[name], self.processes, self.dir)

    def close(self) -> None:
        for proc in self.processes:
            proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def _wait_http(port: int, processes: list[subprocess.Popen[bytes]], where: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for proc in processes:
            if proc.poll() is not None:
                logs = "\n".join(p.read_text() for p in where.glob("*.log"))
                raise RuntimeError(f"backend process exited:\n{logs}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /ready HTTP/1.0\r\nHost: x\r\n\r\n")
                if sock.recv(16).startswith(b"HTTP/"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"backend on port {port} did not answer")


def _flask_app(name: str) -> Any:
    from flask import Flask, Response, request

    app = Flask(f"echo_{name}")

    @app.route("/", defaults={"rest": ""}, methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    @app.route("/<path:rest>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    def echo(rest: str) -> Any:
        uri = request.environ.get("REQUEST_URI") or request.full_path
        status, delay = _special(uri)
        if delay:
            time.sleep(delay)
        payload = {
            "server": name,
            "method": request.method,
            "uri": uri,
            "version": request.environ.get("SERVER_PROTOCOL"),
            "headers": [[k.lower(), v] for k, v in request.headers.items()],
            "body": request.get_data().decode("latin-1"),
        }
        response = Response(
            json.dumps(payload), status, {"X-Server": name}, content_type="application/json"
        )
        for header, value in asked_headers(uri):
            response.headers.add(header, value)
        return response

    return app


class _FlaskGroup:
    def __init__(self) -> None:
        import logging

        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.ERROR)

        self.servers: dict[str, Any] = {}
        self.ports: dict[str, int] = {}
        self.threads: list[threading.Thread] = []
        for name in NAMES:
            server = make_server("127.0.0.1", 0, _flask_app(name), threaded=True)
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            self.servers[name] = server
            self.ports[name] = server.server_port
            self.threads.append(thread)

    def close(self) -> None:
        for server in self.servers.values():
            server.shutdown()
            server.server_close()


_NGINX_ECHO = (
    '\'{"server":"NAME","method":"$request_method","uri":"$request_uri",'
    '"version":"$server_protocol","headers":[["host","$http_host"],'
    '["x-forwarded-for","$http_x_forwarded_for"],["connection","$http_connection"],'
    '["x-test","$http_x_test"]]}\''
)


class _NginxGroup:
    """One nginx with a `server` block per name; free ports picked just before it starts."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bk-nginx-"))
        self.ports: dict[str, int] = {}
        self.process: subprocess.Popen[bytes] | None = None
        for _attempt in range(3):
            self.ports = {name: _free_port() for name in NAMES}
            self._write_config()
            log = (self.dir / "nginx.log").open("wb")
            self.process = subprocess.Popen(
                ["nginx", "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"), "-e",
                 str(self.dir / "error.log")],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
            log.close()
            try:
                for name in NAMES:
                    _wait_http(self.ports[name], [self.process], self.dir)
                return
            except RuntimeError:
                self.close(remove=False)
        raise RuntimeError("nginx did not start: " + (self.dir / "error.log").read_text())

    def _write_config(self) -> None:
        servers = []
        for name, port in self.ports.items():
            echo = _NGINX_ECHO.replace("NAME", name)
            statuses = "\n".join(
                f"        location ~ ^/status/{code} {{ return {code} {echo}; }}"
                for code in (200, 404, 500, 503)
            )
            servers.append(
                f"""
    server {{
        listen 127.0.0.1:{port};
        default_type application/json;
        add_header X-Server {name} always;
{statuses}
        location / {{ return 200 {echo}; }}
    }}"""
            )
        user = "user root root;" if os.geteuid() == 0 else ""
        (self.dir / "nginx.conf").write_text(
            f"""{user}
daemon off;
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {self.dir}/body;
    proxy_temp_path {self.dir}/proxy;
    fastcgi_temp_path {self.dir}/fastcgi;
    uwsgi_temp_path {self.dir}/uwsgi;
    scgi_temp_path {self.dir}/scgi;
    keepalive_timeout 30s;
{"".join(servers)}
}}
"""
        )

    def close(self, remove: bool = True) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EchoGroup:
    """Three recording servers (`s1 s2 s3`) of one kind; `address(name)` for configs."""

    def __init__(self, kind: str, *, tls_cert: Any = None, client_ca: Any = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown backend kind {kind!r}")
        self.kind = kind
        self.ports: dict[str, int] = {}
        self._impl: Any
        if kind == "httpserver":
            servers: dict[str, Any] = {name: _EchoServer(name) for name in NAMES}
            if tls_cert is not None:
                servers["t1"] = _EchoServer("t1", _tls_context(tls_cert, client_ca))
            servers["c1"] = _Closer()
            threads = []
            for server in servers.values():
                thread = threading.Thread(target=server.serve_forever, daemon=True)
                thread.start()
                threads.append(thread)
            self._impl = _ThreadGroup(servers, threads)
            self.ports = {name: s.server_address[1] for name, s in servers.items()}
        elif kind == "gunicorn":
            self._impl = _GunicornGroup()
            self.ports = dict(self._impl.ports)
        elif kind == "flask":
            self._impl = _FlaskGroup()
            self.ports = dict(self._impl.ports)
        else:
            self._impl = _NginxGroup()
            self.ports = dict(self._impl.ports)

    def address(self, name: str) -> str:
        return f"127.0.0.1:{self.ports[name]}"

    def has(self, name: str) -> bool:
        return name in self.ports

    def close(self) -> None:
        self._impl.close()

    def __enter__(self) -> EchoGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def dead_address() -> str:
    """An address nothing listens on (a port just released): connects are refused."""
    return f"127.0.0.1:{_free_port()}"
