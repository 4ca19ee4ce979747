"""Starting and stopping the real servers the suite runs (PostgreSQL, Redis): the
wait for their port, the stop and their scratch directory, in one place."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


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


class LocalDaemon:
    """A server process of the suite's on 127.0.0.1:`port`, with a scratch directory
    `base` that goes with it."""

    name = "server"

    def __init__(self, prefix: str, port: int) -> None:
        self.base = Path(tempfile.mkdtemp(prefix=prefix))
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    def _start(self, args: list[str], timeout: float) -> None:
        """Run `args` and wait for the port; stop and raise if it never listens."""
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if wait_listening(self.process, self.port, timeout):
            return
        self.stop()
        raise RuntimeError(f"{self.name} did not start on {self.address}")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process)
        shutil.rmtree(self.base, ignore_errors=True)
