"""A real DNS server for tests: Debian's dnsmasq on a free port of 127.0.0.1.

It answers only for the names it is given (`--local` makes every other name in
its zones NXDOMAIN, and it asks no upstream server), from a config text of
dnsmasq lines (`host-record=…`, `srv-host=…`).  `set(text)` changes the records:
dnsmasq reads `srv-host` lines only at start, so it restarts on the same port.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
from typing import ClassVar

from support.daemons import LocalDaemon, terminate, wait_listening

__all__ = ["Dnsmasq", "udp_free_port"]


def udp_free_port() -> int:
    """A port free for both UDP and TCP a moment ago."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket() as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port


class Dnsmasq(LocalDaemon):
    """One dnsmasq answering for `domain` from `records` (dnsmasq config lines)."""

    name = "dnsmasq"
    _shared: ClassVar[dict[str, Dnsmasq]] = {}

    def __init__(self, records: str, domain: str = "test") -> None:
        binary = shutil.which("dnsmasq") or shutil.which("dnsmasq", path="/usr/sbin:/sbin")
        if binary is None:
            raise RuntimeError("dnsmasq is not installed (apt-get install dnsmasq)")
        super().__init__("bk-dnsmasq-", udp_free_port())
        self.binary = binary
        self.domain = domain
        self.conf = self.base / "records.conf"
        self.set(records)

    @classmethod
    def shared(cls, records: str) -> Dnsmasq:
        """One server per records text for the session (the conformance runner's
        `{dns:NAME}`: both proxies of a row ask the same one)."""
        if records not in cls._shared:
            server = cls._shared[records] = Dnsmasq(records)
            atexit.register(server.stop)
        return cls._shared[records]

    def set(self, records: str) -> None:
        """Serve `records` from now on (a restart on the same port)."""
        if self.process is not None:
            terminate(self.process)
        self.conf.write_text(records + "\n")
        args = [
            self.binary,
            f"--port={self.port}",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--no-negcache",
            f"--local=/{self.domain}/",
            "--conf-file=" + str(self.conf),
            "--keep-in-foreground",
            "--pid-file=",  # none: it runs in the foreground, ours to stop
            "--log-facility=" + str(self.base / "log"),
        ]
        if os.geteuid() == 0:
            args.append("--user=root")  # else it drops to `nobody`, who cannot read base
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_listening(self.process, self.port, 20):
            self.stop()
            raise RuntimeError(f"dnsmasq did not start on {self.address}")
