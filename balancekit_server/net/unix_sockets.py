"""Connecting to servers on UNIX sockets (`server s unix@/path`, `abns@name`).

asyncio's `create_unix_connection` takes a path; an abstract name as HAProxy
uses it is bytes (a NUL, the name, zeros up to the whole `sun_path`), so every
engine connects the socket here and hands it over connected.
"""

from __future__ import annotations

import asyncio
import socket

__all__ = ["connect_unix"]


async def connect_unix(loop: asyncio.AbstractEventLoop, address: str | bytes) -> socket.socket:
    """A non-blocking socket connected to `address` (see balancekit.server.unix_sockaddr)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await loop.sock_connect(sock, address)
    except BaseException:
        sock.close()
        raise
    return sock
