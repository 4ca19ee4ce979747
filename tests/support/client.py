"""A minimal HTTP/1.1 client over a raw socket, able to choose its source address.

Source hashing and `src` ACLs need requests from many client addresses; binding
the client socket to 127.x.y.z is how one machine plays many clients.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def http_request(
    port: int,
    path: str = "/",
    *,
    method: str = "GET",
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    body: bytes = b"",
    src: str | None = None,
    host: str = "127.0.0.1",
    timeout: float = 10.0,
) -> Response:
    """Send one request with `Connection: close` and read the whole answer."""
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    names = {k.lower() for k, _ in pairs}
    if "host" not in names:
        pairs.insert(0, ("Host", f"{host}:{port}"))
    if body and "content-length" not in names and "transfer-encoding" not in names:
        pairs.append(("Content-Length", str(len(body))))
    pairs.append(("Connection", "close"))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        if src:
            sock.bind((src, 0))
        sock.connect((host, port))
        sock.sendall(head.encode("latin-1") + body)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return parse_response(b"".join(chunks), head_only=method == "HEAD")


def parse_response(raw: bytes, *, head_only: bool = False) -> Response:
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if not lines or not lines[0].startswith("HTTP/"):
        raise ValueError(f"not an HTTP response: {raw[:80]!r}")
    parts = lines[0].split(" ", 2)
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    headers = []
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers.append((key.strip(), value.strip()))
    response = Response(status, reason, headers, b"")
    if head_only:
        return response
    if (response.header("transfer-encoding") or "").lower() == "chunked":
        response.body = _dechunk(rest)
    else:
        length = response.header("content-length")
        response.body = rest[: int(length)] if length is not None else rest
    return response


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return bytes(out)
