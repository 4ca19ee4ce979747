"""Real loopback servers whose behaviour a test can change: answer N, hang, die, come back."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server: ControlledHTTP

    def _answer(self) -> None:
        owner = self.server
        owner.requests.append(f"{self.command} {self.path} {self.request_version}")
        owner.headers_seen.append(dict(self.headers.items()))
        if owner.mode == "hang":
            owner.release.wait(30)
            return
        body = owner.body.encode()
        self.send_response(owner.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_HEAD = do_OPTIONS = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


class ControlledHTTP(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1:<free port> whose answer can be switched at run time."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, status: int = 200, body: str = "ok", port: int = 0) -> None:
        self.status = status
        self.body = body
        self.mode = "answer"
        self.release = threading.Event()
        self.requests: list[str] = []
        self.headers_seen: list[dict[str, str]] = []
        super().__init__(("127.0.0.1", port), _Handler)
        self.port = int(self.server_address[1])
        self._thread: threading.Thread | None = None

    def start(self) -> ControlledHTTP:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def hang(self) -> None:
        self.mode = "hang"

    def die(self) -> None:
        """Stop listening the way a dying process does for new clients (connection refused),
        serving what the kernel had already accepted in the backlog first: those clients'
        requests were already sent, and no load balancer may retry them (HAProxy without
        `retry-on` answers 502 for a connection reset after the request was sent)."""
        self.shutdown()
        self.socket.setblocking(False)
        while True:
            try:
                conn, addr = self.socket.accept()
            except (BlockingIOError, OSError):
                break
            conn.setblocking(True)
            self.process_request(conn, addr)
        self.server_close()

    def stop(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()

    def __enter__(self) -> ControlledHTTP:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def closed_port() -> int:
    """A loopback port nobody listens on (bound then closed: connect gets RST)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
