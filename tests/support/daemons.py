"""Starting and stopping the real servers the suite runs (PostgreSQL, Redis): the
wait for their port and the stop, in one place."""

from __future__ import annotations

import socket
import subprocess
import time


def wait_listening(process: subprocess.Popen[bytes], port: int, timeout: float) -> bool:
    """True once 127.0.0.1:`port` accepts; False if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        if process.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not gone within 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
