"""10,000 idle client connections held by one balancekit-server process, RSS growth bounded.

The machine's hard RLIMIT_NOFILE is 20000 without CAP_SYS_RESOURCE, and a
relayed session costs the proxy two descriptors, so 10,000 fully relayed
sessions cannot fit one process here.  The server's `maxconn 9000` keeps
9,000 sessions relayed to the backend and queues the other 1,000 (client side
only, as HAProxy does): all 10,000 clients are held, none is closed, and the
proxy's RSS growth for all of them stays within 100 MB.
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys

import pytest
from l4_harness import ServerProcess, wait_until

CLIENTS = 10_000
RELAYED = 9_000
CONFIG = """
global
    maxconn 20000

defaults
    mode tcp
    timeout connect 5s
    timeout queue 120s
    timeout client 120s
    timeout server 120s

listen idle
    bind 127.0.0.1:0
    server s1 {backend} maxconn {relayed}
"""

BACKEND = """
import asyncio, resource, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
async def idle(reader, writer):
    await reader.read(1)
    writer.close()
async def main():
    server = await asyncio.start_server(idle, "127.0.0.1", 0, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(3600)
asyncio.run(main())
"""


def _raise_fd_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, max(hard, need)))
    except (ValueError, OSError):
        pytest.fail(f"cannot raise RLIMIT_NOFILE to {need} (hard limit {hard})")


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _still_open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True  # nothing to read and no EOF: the proxy holds it
    except OSError:
        return False


def test_ten_thousand_idle_connections_with_bounded_memory() -> None:
    _raise_fd_limit(CLIENTS + 1000)
    backend = subprocess.Popen([sys.executable, "-c", BACKEND], stdout=subprocess.PIPE, text=True)
    clients: list[socket.socket] = []
    try:
        assert backend.stdout is not None
        backend_port = int(backend.stdout.readline())
        base_fds = _open_fds(backend.pid)
        config = CONFIG.format(backend=f"127.0.0.1:{backend_port}", relayed=RELAYED)
        with ServerProcess(config) as proc:
            port = proc.port("idle")
            warm = socket.create_connection(("127.0.0.1", port), timeout=10)
            wait_until(lambda: _open_fds(backend.pid) == base_fds + 1, what="warm-up session")
            warm.close()
            wait_until(lambda: _open_fds(backend.pid) == base_fds, what="warm-up session end")
            before = proc.rss_kib()
            for _ in range(CLIENTS):
                clients.append(socket.create_connection(("127.0.0.1", port), timeout=30))
            wait_until(
                lambda: _open_fds(backend.pid) >= base_fds + RELAYED,
                timeout=90,
                what="the relayed sessions to reach the server",
            )
            after = proc.rss_kib()
            assert proc.process.poll() is None
            assert _open_fds(backend.pid) == base_fds + RELAYED  # maxconn held the rest
            closed = sum(1 for sock in clients if not _still_open(sock))
            assert closed == 0
            growth_mb = (after - before) / 1024
            print(f"RSS {before / 1024:.1f} MB -> {after / 1024:.1f} MB for {CLIENTS} clients")
            assert growth_mb <= 100, f"RSS grew {growth_mb:.1f} MB for {CLIENTS} idle clients"
    finally:
        for sock in clients:
            sock.close()
        backend.kill()
        backend.wait()
