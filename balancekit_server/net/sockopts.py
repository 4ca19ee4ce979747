"""Socket options on asyncio transports, for the TCP forwarder and the HTTP proxy.

A transport (asyncio's or uvloop's) exposes its socket through
`get_extra_info("socket")`; a transport without one (a test double, a closed
one) is left alone rather than failing the connection over an option.
"""

from __future__ import annotations

import contextlib
import os
import socket
from typing import Any, Protocol

from balancekit.config.runtime import TcpKeepalive

__all__ = ["peer_shut", "set_keepalive", "set_option"]


class HasSocket(Protocol):
    """Any transport: asyncio's, uvloop's or `poller.SocketTransport`."""

    def get_extra_info(self, name: str, default: Any = None) -> Any: ...


def set_option(transport: HasSocket, level: int, name: int, value: int | bytes) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(level, name, value)


def set_keepalive(transport: HasSocket, tuning: TcpKeepalive | None = None) -> None:
    """SO_KEEPALIVE (`option clitcpka`, `srvtcpka`, `tcpka`), and the probes'
    count, idle time and interval where `*tcpka-cnt|idle|intvl` set them."""
    set_option(transport, socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    if tuning is None or not hasattr(socket, "TCP_KEEPIDLE"):
        return
    for value, name in (
        (tuning.cnt, socket.TCP_KEEPCNT),
        (tuning.idle, socket.TCP_KEEPIDLE),
        (tuning.intvl, socket.TCP_KEEPINTVL),
    ):
        if value:
            set_option(transport, socket.IPPROTO_TCP, name, value)


def peer_shut(transport: HasSocket) -> bool:
    """Whether the peer's FIN is already waiting on the socket, with nothing
    unread before it (a peek: the transport still reads it as usual).  A socket
    that cannot be peeked (uvloop's pseudo-socket) reads as no."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return False
    try:
        fd = sock.fileno()
        with socket.socket(fileno=os.dup(fd)) as dup:  # (works on any fd-backed socket)
            return dup.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (OSError, AttributeError, ValueError):
        return False  # BlockingIOError: nothing waiting, or the socket is gone
