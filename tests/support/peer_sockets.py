"""Another process's sockets, read with getsockopt: what a proxy set on the very
connections it holds (`pidfd_getfd`, Linux 5.6+, as root or with ptrace rights).

A proxy's per-connection socket options (keep-alive probes, timeouts) are not
visible from the other end of the connection; duplicating its descriptor is the
one way to read them, for HAProxy and balancekit-server alike.
"""

from __future__ import annotations

import ctypes
import os
import socket
from contextlib import suppress

_SYS_PIDFD_OPEN = 434
_SYS_PIDFD_GETFD = 438
_libc = ctypes.CDLL(None, use_errno=True)


def _pidfd_getfd(pidfd: int, fd: int) -> int:
    copy = int(_libc.syscall(_SYS_PIDFD_GETFD, pidfd, fd, 0))
    if copy < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return copy


def tcp_socket_of(
    pid: int, *, local_port: int | None = None, peer_port: int | None = None
) -> socket.socket:
    """A duplicate of process `pid`'s connected TCP socket with these ports (the
    caller closes it).  Raises LookupError when it holds none."""
    pidfd = int(_libc.syscall(_SYS_PIDFD_OPEN, pid, 0))
    if pidfd < 0:
        raise OSError(ctypes.get_errno(), f"pidfd_open({pid}) failed")
    try:
        for name in os.listdir(f"/proc/{pid}/fd"):
            with suppress(OSError):
                if not os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                    continue
                sock = socket.socket(fileno=_pidfd_getfd(pidfd, int(name)))
                try:
                    if sock.family in (socket.AF_INET, socket.AF_INET6):
                        here, there = sock.getsockname()[1], sock.getpeername()[1]
                        if local_port in (None, here) and peer_port in (None, there):
                            return sock
                except OSError:
                    pass  # a listener or an unconnected socket: no peer
                sock.close()
    finally:
        os.close(pidfd)
    raise LookupError(f"process {pid} has no TCP socket {local_port} <-> {peer_port}")
