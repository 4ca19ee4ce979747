"""Listening sockets for `bind` and `stats socket` lines: bound here, or inherited.

HAProxy binds every address while it starts, and `fd@N` hands it a socket a
parent already bound (varnishtest, systemd socket activation).  Both engines,
the stats socket and a reload's socket pool open their listeners here, so a
failure reads the same wherever it happens: the config line, then the reason.
"""

from __future__ import annotations

import contextlib
import os
import socket
from typing import Protocol

from balancekit.config import Bind
from balancekit.server import unix_sockaddr
from balancekit_server.errors import RunError

__all__ = [
    "BACKLOG",
    "Located",
    "adopt_listener",
    "config_location",
    "open_listener",
]

BACKLOG = 1024
#: A bind's listen queue when no `backlog` or `maxconn` sets it: HAProxy's computed
#: global maxconn is in the thousands, and the kernel caps the queue (somaxconn) anyway.
_UNBOUNDED_BACKLOG = 65535


class Located(Protocol):
    """A config object that remembers where it was written."""

    @property
    def file(self) -> str | None: ...

    @property
    def line(self) -> int | None: ...


def config_location(obj: Located) -> str:
    """`file:line: ` of a config object, for messages (empty when unknown)."""
    file, line = obj.file, obj.line
    return f"{file}:{line}: " if file is not None and line is not None else ""


def open_listener(bind: Bind, *, reuse_port: bool = False) -> socket.socket:
    """Bind and listen on one `bind` address (non-blocking), like HAProxy does.

    `*:port` binds IPv4 only (HAProxy's meaning); `:::port` binds IPv6, dual
    stack unless `v6only`.  Errors name the config line.  `bind fd@N` adopts the
    inherited socket N instead (`adopt_listener`).
    """
    if bind.fd is not None:
        sock = adopt_listener(bind.fd, config_location(bind))
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            _tcp_options(sock, bind)
        return sock
    if bind.path is not None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        sock = socket.socket(socket.AF_INET6 if bind.v6 else socket.AF_INET, socket.SOCK_STREAM)
    try:
        if bind.path is not None:
            _bind_unix(sock, bind)
        else:
            _bind_inet(sock, bind, reuse_port)
            _tcp_options(sock, bind)
        sock.listen(bind.backlog or _UNBOUNDED_BACKLOG)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise RunError(
            f"{config_location(bind)}cannot bind socket {bind.address}: {exc.strerror or exc}"
        ) from None
    return sock


def _bind_inet(sock: socket.socket, bind: Bind, reuse_port: bool) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port and hasattr(socket, "SO_REUSEPORT"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if bind.v6:
        if bind.v6only:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        elif bind.v4v6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind((bind.host, bind.port))


def _tcp_options(sock: socket.socket, bind: Bind) -> None:
    """`tfo`, `defer-accept`, `mss`, `tcp-ut` as tcp_bind_listener sets them; an
    option the bind does not set is cleared, since an inherited socket (`fd@N`, a
    reload) may carry an old process's."""
    if not hasattr(socket, "TCP_DEFER_ACCEPT"):  # not Linux: HAProxy skips them too
        return
    tcp = socket.IPPROTO_TCP
    sock.setsockopt(tcp, socket.TCP_USER_TIMEOUT, bind.tcp_ut)
    sock.setsockopt(tcp, socket.TCP_DEFER_ACCEPT, 1 if bind.defer_accept else 0)
    if bind.mss:
        sock.setsockopt(tcp, socket.TCP_MAXSEG, bind.mss)
    if bind.tfo:
        sock.setsockopt(tcp, socket.TCP_FASTOPEN, bind.backlog or _UNBOUNDED_BACKLOG)
    elif sock.getsockopt(tcp, socket.TCP_FASTOPEN):
        sock.setsockopt(tcp, socket.TCP_FASTOPEN, 0)


def _bind_unix(sock: socket.socket, bind: Bind) -> None:
    """`bind unix@/path` or `abns@name`, as HAProxy's sock_unix_bind_receiver: a path is
    bound under a temporary name, then renamed over the old one (a client never
    finds the path missing); an abstract name fills the whole `sun_path`, zeros
    after the name included, so `server abns@name` in HAProxy reaches it too."""
    path = unix_sockaddr(bind.address)
    if isinstance(path, bytes):
        sock.bind(path)
        return
    assert path is not None
    temp = f"{path}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp)
    sock.bind(temp)
    os.rename(temp, path)


def adopt_listener(fd: int, where: str = "") -> socket.socket:
    """A duplicate of the inherited socket `fd@N`, listening and non-blocking.

    The socket is the parent's (varnishtest, systemd): it is not bound here, and
    closing the duplicate leaves N open, so a reload or another worker adopts it
    again.  listen() again is harmless on a listening socket and makes a merely
    bound one usable, as HAProxy does.
    """
    try:
        copy = os.dup(fd)
    except OSError as exc:
        raise RunError(f"{where}cannot use file descriptor '{fd}' : {exc.strerror}") from None
    try:
        sock = socket.socket(fileno=copy)
    except OSError as exc:
        os.close(copy)
        raise RunError(f"{where}cannot use file descriptor '{fd}' : {exc.strerror}") from None
    try:
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise RunError(f"{where}cannot listen on fd@{fd}: {exc.strerror or exc}") from None
    return sock
