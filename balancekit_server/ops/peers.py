"""`peers` sections at run time: listen for peers, connect to them, keep sessions.

The sync rules are `balancekit.peers.session`'s; this module moves its bytes
and keeps its time.  As in HAProxy 2.6:

- every process listens on its own `peer` address and connects to each other
  peer; when both sides connect at once, the session a process accepted
  replaces the one it opened, and the loser retries after a random 50 ms to 2 s;
- a failed or lost connection is retried 5 s after the attempt began;
- a local change to a shared table wakes the sessions at once (no polling), and
  a timer every 500 ms sends heartbeats, ends silent sessions and retries.

Only the first worker process (`--workers`) takes part: the peers see one
member per `peer` line, never one per worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from typing import cast

from balancekit.config.runtime import Config, Peer, PeersSection
from balancekit.peers.session import (
    RECONNECT_MS,
    PeerSession,
    PeersState,
    reconnect_delay_ms,
)
from balancekit.peers.wire import MessageReader, ProtocolError, hello, parse_hello
from balancekit_server.clock import now_ms
from balancekit_server.errors import RunError

__all__ = ["PeersService", "start"]

TICK_S = 0.5
_HIGH_WATER = 256 * 1024


class PeersService:
    """One `peers` section of this process."""

    def __init__(self, section: PeersSection, *, clock: Callable[[], int] = now_ms) -> None:
        self.section = section
        self.clock = clock
        self.state = PeersState(section.local)
        for wire_name, table in section.tables.items():
            shared = self.state.add_table(table, wire_name)
            log = shared.table.updates
            assert log is not None
            log.listener = self._wake
        self.connections: dict[str, PeerConnection] = {}
        self._retry_at: dict[str, int] = {}
        self._server: asyncio.Server | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._flush_pending = False
        self._stopped = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        up = sorted(name for name, c in self.connections.items() if c.session is not None)
        return f"<PeersService {self.section.name} local={self.section.local} up={up}>"

    @property
    def address(self) -> tuple[str, int] | None:
        if self._server is None or not self._server.sockets:
            return None
        host, port = self._server.sockets[0].getsockname()[:2]
        return host, port

    async def start(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        self.state.start(self.clock())
        host, port = self.section.listen
        try:
            if self.section.listen_fd is not None:
                sock = socket.socket(fileno=os.dup(self.section.listen_fd))
                sock.setblocking(False)
            else:
                sock = _listener(host, port)
        except OSError as error:
            where = f"[{self.section.file}:{self.section.line}] " if self.section.file else ""
            raise RunError(
                f"{where}peers '{self.section.name}': cannot listen on {host}:{port}: "
                f"{error.strerror}"
            ) from None
        self._server = await loop.create_server(
            lambda: PeerConnection(self, None), sock=sock, backlog=64
        )
        self._tick()

    # -- the Service protocol (balancekit_server.process.runtime) ----------------------------

    def stop_accepting(self) -> None:
        self._stopped = True
        if self._server is not None:
            self._server.close()
        if self._timer is not None:
            self._timer.cancel()
        for connection in list(self.connections.values()):
            connection.close()

    def kill(self) -> None:
        self.stop_accepting()

    async def wait_idle(self) -> None:
        return None

    # -- sessions ------------------------------------------------------------------------------

    def remote(self, name: str) -> Peer | None:
        """The section's peer called `name` (None: not one of ours)."""
        return next((p for p in self.section.remotes if p.name == name), None)

    def accepted(self, connection: PeerConnection, name: str) -> None:
        """A peer connected to us: its session replaces any other with it."""
        existing = self.connections.get(name)
        if existing is not None and existing is not connection:
            self._retry_at[name] = self.clock() + reconnect_delay_ms()
            existing.close()
        self.connections[name] = connection

    def established(self, name: str) -> PeerSession:
        return self.state.session(name, self.clock())

    def lost(self, connection: PeerConnection) -> None:
        name = connection.peer
        if name is not None and self.connections.get(name) is connection:
            del self.connections[name]
        if connection.session is not None:
            self.state.closed(connection.session, self.clock())

    def _connect(self, peer: Peer) -> None:
        assert self._loop is not None and peer.address is not None
        connection = PeerConnection(self, peer.name)
        self.connections[peer.name] = connection
        self._retry_at[peer.name] = self.clock() + RECONNECT_MS
        host, port = peer.address
        task = self._loop.create_task(self._loop.create_connection(lambda: connection, host, port))
        task.add_done_callback(lambda done: self._connected(connection, done))

    def _connected(self, connection: PeerConnection, done: asyncio.Task[object]) -> None:
        failed = done.cancelled() or done.exception() is not None
        name = connection.peer
        if failed and name is not None and self.connections.get(name) is connection:
            del self.connections[name]

    # -- time and wake-ups -----------------------------------------------------------------

    def _wake(self) -> None:
        if not self._flush_pending and self._loop is not None and not self._stopped:
            self._flush_pending = True
            self._loop.call_soon(self._flush_all)

    def _flush_all(self) -> None:
        self._flush_pending = False
        for connection in list(self.connections.values()):
            connection.flush()

    def _tick(self) -> None:
        if self._stopped:
            return
        now = self.clock()
        self.state.tick(now)
        for peer in self.section.remotes:
            connection = self.connections.get(peer.name)
            if connection is None:
                if now >= self._retry_at.get(peer.name, 0):
                    self._connect(peer)
            elif connection.session is not None and connection.session.expired(now):
                self._retry_at[peer.name] = now + reconnect_delay_ms()
                connection.close()
        self._flush_all()
        assert self._loop is not None
        self._timer = self._loop.call_later(TICK_S, self._tick)


class PeerConnection(asyncio.Protocol):
    """One TCP connection with a peer: the hello, then messages both ways."""

    def __init__(self, service: PeersService, peer: str | None) -> None:
        self.service = service
        #: The peer's name: known from the start when we connect, from its hello otherwise.
        self.peer = peer
        self.outgoing = peer is not None
        self.session: PeerSession | None = None
        self.status: int | None = None
        self._timeout: asyncio.TimerHandle | None = None
        self.transport: asyncio.Transport | None = None
        self._lines = bytearray()
        self._reader = MessageReader()
        self._paused = False
        self._closed = False

    def __repr__(self) -> str:
        side = "to" if self.outgoing else "from"
        return f"<PeerConnection {side} {self.peer} status={self.status}>"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)  # uvloop's too
        if self._closed:  # given up while connecting
            transport.close()
            return
        # No hello or status within 5 s: HAProxy's peers proxy has a 5 s client timeout.
        self._timeout = asyncio.get_running_loop().call_later(RECONNECT_MS / 1000, self.close)
        with contextlib.suppress(OSError):
            transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.outgoing:
            assert self.peer is not None
            transport.write(hello(self.peer, self.service.section.local, os.getpid()))

    def data_received(self, data: bytes) -> None:
        if self.session is None:
            self._lines += data
            self._handshake()
            return
        self._messages(data)

    def _handshake(self) -> None:
        wanted = 1 if self.outgoing else 3
        if self._lines.count(b"\n") < wanted and len(self._lines) < 4096:
            return
        parts = bytes(self._lines).split(b"\n", wanted)
        if len(parts) <= wanted:
            self.close()
            return
        lines, rest = parts[:wanted], parts[wanted]
        self._lines.clear()
        if self.outgoing:
            text = lines[0].decode("latin-1").strip()
            self.status = int(text) if text.isdigit() else 0
            if self.status != 200:
                self.close()
                return
        else:
            code = self._check_hello(lines)
            self.status = code
            assert self.transport is not None
            self.transport.write(f"{code}\n".encode())
            if code != 200:
                self.transport.close()
                return
        assert self.peer is not None
        if self._timeout is not None:
            self._timeout.cancel()
        self.session = self.service.established(self.peer)
        self.flush()
        if rest:
            self._messages(rest)

    def _check_hello(self, lines: list[bytes]) -> int:
        """`peer_getline_*`: the version, our name, a known peer; 200 accepts it."""
        parsed = parse_hello(lines)
        if isinstance(parsed, int):
            return parsed
        if parsed.remote != self.service.section.local:
            return 503
        if self.service.remote(parsed.local) is None:
            return 504
        self.peer = parsed.local
        self.service.accepted(self, parsed.local)
        return 200

    def _messages(self, data: bytes) -> None:
        session = self.session
        assert session is not None and self.transport is not None
        now = self.service.clock()
        try:
            for message in self._reader.feed(data):
                session.receive(message, now)
        except ProtocolError:
            self.transport.write(session.protocol_error())
            self.close()
            return
        self.flush()

    def flush(self) -> None:
        """Send what the session has due, until the socket buffer fills."""
        session, transport = self.session, self.transport
        if session is None or transport is None or self._paused or transport.is_closing():
            return
        now = self.service.clock()
        while True:
            data = session.outgoing(now)
            if not data:
                return
            transport.write(data)
            if transport.get_write_buffer_size() > _HIGH_WATER:
                return

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self.flush()

    def close(self) -> None:
        self._closed = True
        if self.transport is not None:
            self.transport.close()
        else:
            self.service.lost(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timeout is not None:
            self._timeout.cancel()
        self.service.lost(self)


def _listener(host: str, port: int) -> socket.socket:
    """The peers listener; SO_REUSEPORT lets a reloaded configuration bind it while
    the previous one still holds it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    with contextlib.suppress(AttributeError, OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.setblocking(False)
    return sock


async def start(config: Config) -> list[PeersService]:
    """Every peers section of `config`, listening and connecting (first worker only)."""
    from balancekit_server.process.workers import worker_identity

    if not config.peers or worker_identity()[0] != 1:
        return []
    services = []
    for section in config.peers.values():
        service = PeersService(section)
        await service.start()
        services.append(service)
    return services
