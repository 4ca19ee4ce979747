"""`tcp-request connection` rules in a `mode http` frontend, against HAProxy 2.6: a
rejected client is closed before anything is read, the others are served."""

from __future__ import annotations

import socket

import pytest
from l7_diff import SideBySide

pytestmark = pytest.mark.haproxy

CONFIG = """
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s

frontend http_front
    bind 127.0.0.1:80
    tcp-request connection reject if { src 127.0.0.2 }
    default_backend servers

backend servers
    server server1 127.0.0.1:5001
"""


def exchange(port: int, src: str) -> bytes:
    """Everything the proxy answers to one GET from `src` (b"" when it just closes)."""
    with socket.socket() as sock:
        sock.settimeout(5)
        sock.bind((src, 0))
        try:
            # A reject can reset the connection before connect() even returns.
            sock.connect(("127.0.0.1", port))
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            chunks = []
            while data := sock.recv(65536):
                chunks.append(data)
        except (ConnectionResetError, BrokenPipeError):
            return b""
    return b"".join(chunks)


def test_connection_rules_apply_in_http_mode() -> None:
    with SideBySide(CONFIG, {"127.0.0.1:5001": "app1"}) as sides:
        for name, port in sides.ports.items():
            assert exchange(port, "127.0.0.2") == b"", name
            served = exchange(port, "127.0.0.3")
            assert served.startswith(b"HTTP/1.1 200"), (name, served[:60])
