"""Bodies stream through with backpressure: 2 GiB up and 2 GiB down while the
proxy's resident memory stays flat.  The proxy runs as a real `balancekit-server`
process so its RSS is measured alone; the client is a generator of chunks."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from l7_rawserver import RawServer, header, read_head

CHUNK = 1 << 20
TOTAL = 2 << 30  # 2 GiB
RSS_GROWTH_LIMIT = 48 << 20  # bounded buffers: far below any whole-body buffering


def stream_server(sock: socket.socket) -> None:
    """`/down/N` streams N bytes (chunked when `?chunked`); `/up` counts the body."""
    head, rest = read_head(sock)
    target = head.split(b" ")[1]
    if target.startswith(b"/down/"):
        size = int(target[6:].split(b"?")[0])
        chunked = target.endswith(b"?chunked")
        framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % size
        sock.sendall(b"HTTP/1.1 200 OK\r\n" + framing + b"\r\n\r\n")
        block = b"x" * CHUNK
        sent = 0
        while sent < size:
            piece = block[: min(CHUNK, size - sent)]
            sock.sendall(b"%x\r\n%b\r\n" % (len(piece), piece) if chunked else piece)
            sent += len(piece)
        if chunked:
            sock.sendall(b"0\r\n\r\n")
        return
    length = int(header(head, b"content-length") or 0)
    received = len(rest)
    pause_at = 512 << 20
    while received < length:
        data = sock.recv(1 << 20)
        if not data:
            return
        received += len(data)
        if received >= pause_at:
            pause_at += 512 << 20
            time.sleep(0.3)  # a slow server for a moment: the proxy must stop reading
    body = str(received).encode()
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body))


def rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert match
    return int(match.group(1)) * 1024


class ProxyProcess:
    """`balancekit-server -f` (front="fast") or ProxyApp under uvicorn (front="asgi")."""

    def __init__(self, config: str, tmp: Path, front: str = "fast") -> None:
        path = tmp / "stream.cfg"
        path.write_text(config)
        if front == "fast":
            cmd = [sys.executable, "-m", "balancekit_server.cli", "-f", str(path)]
            pattern = r"started on 127\.0\.0\.1:(\d+)"
        else:
            cmd = [
                sys.executable, "-m", "uvicorn", "--factory", "l7_asgi_app:app",
                "--app-dir", str(Path(__file__).parent), "--host", "127.0.0.1", "--port", "0",
                "--http", "httptools", "--no-proxy-headers", "--no-access-log",
            ]  # fmt: skip
            pattern = r"running on http://127\.0\.0\.1:(\d+)"
        self.process = subprocess.Popen(
            cmd,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "BK_CONFIG": str(path)},
        )
        assert self.process.stderr is not None
        for line in self.process.stderr:
            found = re.search(pattern, line)
            if found:
                self.port = int(found.group(1))
                break
        else:
            raise RuntimeError(f"{cmd[2]} did not start")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture(params=["fast", "asgi"])
def streaming_proxy(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[ProxyProcess, RawServer]]:
    with RawServer(stream_server) as backend:
        config = f"""
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s

frontend web
    bind 127.0.0.1:0
    default_backend stream

backend stream
    server s1 {backend.address}
"""
        proxy = ProxyProcess(config, tmp_path, request.param)
        try:
            yield proxy, backend
        finally:
            proxy.close()


def chunks(total: int) -> Iterator[bytes]:
    block = os.urandom(CHUNK)
    for _ in range(total // CHUNK):
        yield block


class RssProbe:
    """Samples a process's RSS every 64 MiB of traffic; `growth` after the warm-up."""

    STEP = 64 << 20

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.baseline = 0
        self.peak = 0
        self._next = self.STEP

    def progress(self, done: int) -> None:
        if done < self._next:
            return
        self._next += self.STEP
        now = rss(self.pid)
        if not self.baseline:
            self.baseline = now
        self.peak = max(self.peak, now)
        if done % (512 << 20) < self.STEP:
            # A slow reader for a moment: without backpressure the proxy would now
            # buffer everything the other side can send.
            time.sleep(0.3)

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_download_2gib_keeps_rss_flat(
    streaming_proxy: tuple[ProxyProcess, RawServer], framing: str
) -> None:
    proxy, _ = streaming_proxy
    probe = RssProbe(proxy.process.pid)
    suffix = "?chunked" if framing == "chunked" else ""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as sock:
        sock.sendall(f"GET /down/{TOTAL}{suffix} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        head, body = read_head(sock)
        received = len(body)
        tail = body[-16:]
        while True:
            done = received >= TOTAL if framing == "length" else tail.endswith(b"0\r\n\r\n")
            if done:
                break
            data = sock.recv(1 << 20)
            assert data, "proxy closed early"
            received += len(data)
            tail = (tail + data)[-16:]
            probe.progress(received)
    assert head.startswith(b"HTTP/1.1 200")
    assert received >= TOTAL
    assert probe.growth < RSS_GROWTH_LIMIT, (probe.baseline, probe.peak)


def test_upload_2gib_keeps_rss_flat(streaming_proxy: tuple[ProxyProcess, RawServer]) -> None:
    proxy, _ = streaming_proxy
    probe = RssProbe(proxy.process.pid)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=30) as sock:
        sock.sendall(f"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: {TOTAL}\r\n\r\n".encode())
        sent = 0
        for block in chunks(TOTAL):
            sock.sendall(block)
            sent += len(block)
            probe.progress(sent)
        answer = b""
        while not answer.endswith(str(TOTAL).encode()):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    assert answer.endswith(str(TOTAL).encode())
    assert probe.growth < RSS_GROWTH_LIMIT, (probe.baseline, probe.peak)
