"""Tiny loopback HTTP servers that answer with their own name.

Differential tests need backends whose answer says which server was chosen,
for HAProxy and balancekit alike; these are real sockets, served from threads.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _NamedServer

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body_in = self.rfile.read(length) if length else b""
        if self.path.startswith("/slow"):
            time.sleep(0.5)  # a request still in flight while others come and go
        if self.path.startswith("/echo"):
            payload = {
                "server": self.server.name,
                "method": self.command,
                "path": self.path,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body": body_in.decode("latin-1"),
            }
            body = json.dumps(payload).encode()
        else:
            body = self.server.name.encode()
        # Record before answering: a client that has its answer may look at hits at once.
        self.server.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("X-Server", self.server.name)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


class _NamedServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, name: str, host: str) -> None:
        self.name = name
        self.hits: list[str] = []
        super().__init__((host, 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A proxy resetting a connection it no longer needs (HAProxy does, at the
        # end of a test) is ordinary here; anything else is still printed.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class NamedBackends:
    """Start one HTTP server per name on `host`, each on its own free port."""

    def __init__(self, names: list[str], host: str = "127.0.0.1") -> None:
        self.names = names
        self.host = host
        self.servers: dict[str, _NamedServer] = {}
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> NamedBackends:
        for name in self.names:
            server = _NamedServer(name, self.host)
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            self.servers[name] = server
            self._threads.append(thread)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        for server in self.servers.values():
            server.shutdown()
            server.server_close()

    def port(self, name: str) -> int:
        return int(self.servers[name].server_address[1])

    def address(self, name: str) -> str:
        return f"{self.host}:{self.port(name)}"

    def hits(self, name: str) -> list[str]:
        return self.servers[name].hits

    def server_lines(self, extra: str = "", names: list[str] | None = None) -> str:
        """`server` lines for a config, in declaration order, each followed by `extra`."""
        return "\n".join(
            f"    server {name} {self.address(name)} {extra}".rstrip()
            for name in names or self.names
        )


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (prefer passing a bound socket where possible)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
