"""A bulk transfer through the real balancekit-server process keeps its memory flat."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from l4_harness import Backend, LoopThread, ServerProcess

SIZE = 256 * 1024 * 1024
CONFIG = """
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s

listen bulk
    bind 127.0.0.1:0
    server s1 {backend}
"""


async def _source(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    chunk = b"\0" * (1024 * 1024)
    for _ in range(SIZE // len(chunk)):
        writer.write(chunk)
        await writer.drain()
    writer.write_eof()
    await writer.drain()


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_256_mib_download_keeps_the_proxy_memory_flat(lt1: LoopThread) -> None:
    backend = Backend(lt1, _source)
    with ServerProcess(CONFIG.format(backend=backend.address)) as proc:
        port = proc.port("bulk")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as warm:
            warm.recv(65536)  # one small session first: the baseline includes a live relay
        before = _peak_rss_kib(proc.process.pid)
        received = 0
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.shutdown(socket.SHUT_WR)
            while data := sock.recv(1 << 20):
                received += len(data)
        after = _peak_rss_kib(proc.process.pid)
    assert received == SIZE
    # The relay holds at most its bounded buffers: the peak barely moves.
    assert (after - before) / 1024 < 16, f"peak RSS grew {(after - before) / 1024:.1f} MB"
