"""`option clitcpka`/`srvtcpka` with `clitcpka-cnt|idle|intvl` and `srvtcpka-…`: the
keep-alive settings HAProxy 2.6 and balancekit-server put on the client and server
connections they hold, read from inside each proxy (`support.peer_sockets`).

The settings are invisible from either end of the connection, and waiting for the
kernel's probes would take the idle time; reading the proxy's own sockets is exact.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from support.haproxy import BALANCEKIT, HAPROXY, HAProxy
from support.peer_sockets import tcp_socket_of

CONFIG = """\
global
    stats socket {{stats}} level admin
defaults
    mode {mode}
    timeout client 5s
    timeout server 5s
    timeout connect 5s
    option clitcpka
    clitcpka-cnt 4
    clitcpka-idle 30
listen l
    bind {{listen:main}}
    clitcpka-intvl 7s
    option srvtcpka
    srvtcpka-cnt 5
    srvtcpka-idle 1m
    srvtcpka-intvl 9
    server s 127.0.0.1:{port}
"""

_READ = {
    "keepalive": (socket.SOL_SOCKET, socket.SO_KEEPALIVE),
    "cnt": (socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
    "idle": (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
    "intvl": (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
}


@contextmanager
def holding_server() -> Iterator[tuple[int, threading.Event]]:
    """A server that accepts one connection and keeps it open; the event says the
    client's first bytes came through it, so the proxy had finished connecting (a
    proxy sets its options before it forwards a byte, not before the accept)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        conn, _ = listener.accept()
        held.append(conn)
        conn.recv(1)
        accepted.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        listener.close()
        for conn in held:
            conn.close()


def _options(sock: socket.socket) -> dict[str, int]:
    with sock:
        return {name: sock.getsockopt(level, opt) for name, (level, opt) in _READ.items()}


def _observe(command: tuple[str, ...], mode: str) -> dict[str, dict[str, int]]:
    with holding_server() as (port, accepted):
        proxy = HAProxy(CONFIG.format(mode=mode, port=port), command=command)
        with proxy:
            proxy.command("show info")
            assert proxy.process is not None
            client = socket.create_connection(("127.0.0.1", proxy.port("main")))
            with client:
                client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                assert accepted.wait(5), "the proxy never forwarded the request"
                pid = proxy.process.pid
                deadline = time.monotonic() + 5
                while True:
                    try:
                        front = tcp_socket_of(pid, peer_port=client.getsockname()[1])
                        back = tcp_socket_of(pid, peer_port=port)
                        break
                    except LookupError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.05)
                return {"client side": _options(front), "server side": _options(back)}


@pytest.mark.parametrize("mode", ["tcp", "http"])
def test_keepalive_probes_are_set_as_haproxy_sets_them(mode: str) -> None:
    haproxy = _observe((HAPROXY,), mode)
    balancekit = _observe(BALANCEKIT, mode)
    assert balancekit == haproxy
    assert haproxy["client side"] == {"keepalive": 1, "cnt": 4, "idle": 30, "intvl": 7}
    assert haproxy["server side"] == {"keepalive": 1, "cnt": 5, "idle": 60, "intvl": 9}
