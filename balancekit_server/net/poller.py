"""Plain TCP sockets on one epoll set of our own, registered once with the event loop.

Why not the loop's transports: on uvloop each transport is a libuv handle, and
every libuv callback takes the GIL back (`PyGILState_Ensure`), about a quarter
of a keep-alive request's instructions; a new transport also costs two
`getsockname`/`getpeername` calls and a `WeakValueDictionary` entry, and a
libuv poll handle per socket costs an `ioctl` and several `epoll_ctl`s.  Here
all of a frontend's plain TCP sockets share one epoll set whose descriptor the
loop watches like any other (`loop.add_reader`), so one loop callback serves
every ready socket in a batch, and a connection takes 21 system calls (HAProxy
18, a relay on uvloop's transports 24; docs/performance.md).  `bench/tcp.py`
measures the difference.

Two transports can be linked (`SocketTransport.link`): what one reads then goes
straight into the other's socket inside `_relay.c`, which also takes the batch
from the epoll set (`pump`), so a batch of linked reads is one C call and no
Python per read.  The C loop counts the bytes and the time of the last move per
socket; the protocol hears of them when it asks (`harvest`) and at the close.
While either socket wants more than reads (a backlog, a pause, a close, an
EOF), or the C loop is not built, reads go through Python as usual, so
backpressure and teardown do not change.

`SocketTransport` keeps the `asyncio.Transport` contract the relay relies on
(`data_received`, `eof_received` with half-close, `pause_writing` and
`resume_writing` at the write buffer limits, `pause_reading`, `write_eof`, a
`close` that flushes first, `abort`, `connection_lost` called soon after), so
the relay does not know which kind of transport it drives.  TLS stays on the
loop's transports.  On a system without epoll, `poller_for` returns None and
the callers use the loop's transports for everything.
"""

from __future__ import annotations

import _socket
import asyncio
import errno
import logging
import os
import select
import socket
import weakref
from collections.abc import Callable
from socket import (
    AF_INET,
    AF_INET6,
    AF_UNIX,
    IPPROTO_TCP,
    SHUT_WR,
    SO_ERROR,
    SOCK_STREAM,
    SOL_SOCKET,
    TCP_NODELAY,
    inet_pton,
)
from typing import Any, Final

from balancekit.server import unix_sockaddr

OnRelayed = Callable[[int, float], None]


def _load_c_loop() -> Any:
    try:
        from balancekit_server.net import _relay
    except ImportError:  # not built (a pure-Python install): `link` does nothing
        return None
    return _relay


__all__ = [
    "Connector",
    "Poller",
    "SocketServer",
    "SocketTransport",
    "close_poller",
    "connect",
    "ip_address",
    "open_connection",
    "poller_for",
]

_log = logging.getLogger("balancekit_server.net.poller")

# Final: mypyc makes these C constants rather than module lookups per use.
_IN: Final = select.EPOLLIN if hasattr(select, "EPOLLIN") else 1
_OUT: Final = select.EPOLLOUT if hasattr(select, "EPOLLOUT") else 4
_ERR: Final = (select.EPOLLERR | select.EPOLLHUP) if hasattr(select, "EPOLLERR") else 24
SOCK_NONBLOCK: Final = getattr(socket, "SOCK_NONBLOCK", 0)  # Linux, as epoll is
READ_SIZE = 65536  # what one read takes, as asyncio's and uvloop's transports do
BATCH = 1024  # events taken from the epoll set per loop callback (_relay.c: MAX_EVENTS)
ACCEPTS = 64  # connections accepted per readiness event, so a burst cannot starve relays
_ACCEPT_RESOURCE_ERRORS: Final = frozenset(
    {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
)
ACCEPT_PAUSE = 1.0  # seconds without accepting after running out of descriptors (as asyncio)

_c_loop: Final[Any] = _load_c_loop()  # the module, or None
# Bound once: a module attribute looked up per call costs more than the call.
_c_pump: Final[Any] = _c_loop and _c_loop.pump
_c_relay: Final[Any] = _c_loop and _c_loop.relay
_c_link: Final[Any] = _c_loop and _c_loop.link
_c_mark: Final[Any] = _c_loop and _c_loop.mark
_c_take: Final[Any] = _c_loop and _c_loop.take
_c_unlink: Final[Any] = _c_loop and _c_loop.unlink
_pollers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Poller] = weakref.WeakKeyDictionary()


def close_poller(loop: asyncio.AbstractEventLoop) -> None:
    """Close every socket on the loop's poller, and the poller: for a loop about to
    close with connections still open (a loop's `close()` leaves its transports
    to the garbage collector, and descriptors pile up until it runs)."""
    poller = _pollers.pop(loop, None)
    if poller is not None:
        poller.close()


def poller_for(loop: asyncio.AbstractEventLoop) -> Poller | None:
    """The loop's shared epoll set, made on first use; None without epoll."""
    poller = _pollers.get(loop)
    if poller is None:
        if not hasattr(select, "epoll") or os.environ.get("BALANCEKIT_LOOP_TRANSPORTS"):
            return None
        poller = _pollers[loop] = Poller(loop)
    return poller


class Watcher:
    """Something with a descriptor in the epoll set."""

    #: The poller's batch when this watcher was made: that batch's events predate it.
    born = 0

    def on_events(self, events: int) -> None:
        raise NotImplementedError

    def on_outcome(self, outcome: object) -> None:
        """Finish a read the C loop made (linked sockets only)."""
        raise NotImplementedError

    def fail(self, exc: Exception) -> None:
        """`on_events` raised: end what this watcher serves."""

    def release(self) -> None:
        """Give the descriptor up at once (see `Poller.close`)."""
        raise NotImplementedError


class Poller:
    """One epoll set, dispatched from a single reader callback of the event loop.

    The set is level-triggered.  A descriptor is in it only while someone wants
    an event from it (see `SocketTransport._update`): an idle half-closed socket
    would otherwise report its hang-up again on every batch.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Weak: `_pollers` holds this poller for as long as its loop lives, and a
        # strong reference back would keep every loop (and epoll set) forever.
        self._loop = weakref.ref(loop)
        self.epoll = select.epoll()
        self.epfd = self.epoll.fileno()
        self.watchers: dict[int, Watcher] = {}
        # A descriptor closed and reused within one batch may still have the old
        # socket's event in that batch: watchers added during a batch skip it.
        self.batch = 0
        loop.add_reader(self.epoll.fileno(), self.dispatch)

    def __repr__(self) -> str:
        return f"<Poller fd={self.epoll.fileno()} watchers={len(self.watchers)}>"

    def close(self) -> None:
        """Abort every connection, close every listener, then the epoll set."""
        for watcher in list(self.watchers.values()):
            watcher.release()
        self.watchers.clear()
        loop: Any = self._loop()  # Any: uvloop's remove_reader returns None, not a bool
        if loop is not None and not loop.is_closed():
            loop.remove_reader(self.epoll.fileno())
        self.epoll.close()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop()
        if loop is None:
            raise RuntimeError("the poller's event loop is gone")
        return loop

    def dispatch(self) -> None:
        self.batch += 1
        if _c_loop is None:
            for fd, events in self.epoll.poll(0, BATCH):
                self._deliver(fd, events, None)
            return
        # Linked reads happen inside pump(); what it returns is everything else.
        left: list[tuple[int, int, object]] = _c_pump(self.epfd)
        for fd, events, outcome in left:
            self._deliver(fd, events, outcome)

    def _deliver(self, fd: int, events: int, outcome: object) -> None:
        watcher = self.watchers.get(fd)
        if watcher is None or watcher.born == self.batch:
            return
        try:
            if outcome is None:
                watcher.on_events(events)
            else:
                watcher.on_outcome(outcome)
        except Exception as exc:  # a protocol's bug ends its connection, not the loop
            self.loop.call_exception_handler(
                {"message": "poller callback failed", "exception": exc, "watcher": watcher}
            )
            watcher.fail(exc)


class SocketTransport(Watcher):
    """A connected non-blocking TCP socket as an asyncio-style transport.

    The socket is a bare `_socket.socket`: `socket.socket` adds Python-level
    `accept`, `close`, `family` and a constructor, which cost more per connection
    than the rest of this module.
    """

    def __init__(
        self,
        poller: Poller,
        sock: _socket.socket,
        protocol: asyncio.Protocol,
        *,
        peername: Any = None,
        registered: int = 0,
        names_on_close: bool = False,
    ) -> None:
        self.poller = poller
        self.sock = sock
        self.fd = sock.fileno()
        self.protocol: asyncio.Protocol | None = protocol
        self.born = poller.batch
        self.relay_to: SocketTransport | None = None  # see `link`
        self._on_relayed: OnRelayed | None = None
        self._mask = registered  # the events the epoll set holds for this socket
        self._paused = False  # pause_reading()
        self._eof = False  # the peer's FIN was read
        self._buffer = bytearray()
        self._high = 65536
        self._low = 16384
        self._writing_paused = False
        self._eof_pending = False  # write_eof() asked, sent once the buffer is flushed
        self._closing = False
        self._closed = False
        self._peername = peername
        self._sockname: Any = None
        # Keep the addresses past the close, for a log line written after it.
        self._names_on_close = names_on_close
        poller.watchers[self.fd] = self

    def __repr__(self) -> str:
        state = "closed" if self._closed else "closing" if self._closing else "open"
        return f"<SocketTransport fd={self.fd} {state} buffered={len(self._buffer)}>"

    # -- registration ------------------------------------------------------------------

    def start(self) -> None:
        """Start reading (after `connection_made`, which may have paused it)."""
        self._update()

    def _update(self) -> None:
        want = 0
        if not (self._closing or self._paused or self._eof):
            want = _IN
        if self._buffer:
            want |= _OUT
        mask = self._mask
        if want == mask or self._closed:
            return
        epoll = self.poller.epoll
        try:
            if mask == 0:
                epoll.register(self.fd, want)
            elif want == 0:
                epoll.unregister(self.fd)
            else:
                epoll.modify(self.fd, want)
        except OSError as exc:
            self._finalize(exc)
            return
        self._mask = want
        if self._on_relayed is not None:
            _c_mark(self.fd, want)

    # -- events ------------------------------------------------------------------------

    def on_events(self, events: int) -> None:
        mask = self._mask
        if mask & _IN and events & (_IN | _ERR):
            self._read()
        if mask & _OUT and events & (_OUT | _ERR) and not self._closed:
            self._flush()

    def fail(self, exc: Exception) -> None:
        self._finalize(exc)

    def link(self, peer: SocketTransport, on_relayed: OnRelayed) -> None:
        """Relay what this socket reads into `peer` without `data_received`.  The
        bytes are counted in C: `on_relayed(size, when)` hears of them when
        `harvest` asks and when this transport closes, `when` being the last
        move's time on `time.monotonic()`'s clock (which `loop.time()` reads too).
        A no-op without the C loop."""
        if _c_loop is not None and not self._closed:
            self.relay_to = peer
            self._on_relayed = on_relayed
            _c_link(self.fd, peer.fd, self._mask)

    def harvest(self) -> None:
        """Report what the C loop relayed from this socket since last asked."""
        if self._on_relayed is not None:
            moved, stamp = _c_take(self.fd)
            if moved:
                self._on_relayed(moved, stamp)

    def _read(self) -> None:
        peer = self.relay_to
        if peer is not None and not peer._buffer and not peer._closing:
            outcome = _c_relay(self.fd, peer.fd)
            if outcome is not None:
                self.on_outcome(outcome)
            return
        try:
            data = self.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._finalize(exc)
            return
        if not data:
            self._read_eof()
        elif self.protocol is not None:
            self.protocol.data_received(data)

    def on_outcome(self, outcome: object) -> None:
        """Finish a linked read that did not simply pass everything on."""
        peer = self.relay_to
        if isinstance(outcome, bytes):  # the peer took part: it keeps the rest
            if peer is not None:
                peer._buffered(outcome)
        elif isinstance(outcome, OSError):  # reading failed
            self._finalize(outcome)
        elif outcome == 0:
            self._read_eof()
        elif peer is not None and isinstance(outcome, int):  # sending failed: errno
            peer._finalize(OSError(outcome, os.strerror(outcome)))

    def _read_eof(self) -> None:
        self._eof = True
        self._update()
        protocol = self.protocol
        if protocol is not None and not protocol.eof_received():
            self.close()

    def _flush(self) -> None:
        buffer = self._buffer
        try:
            sent = self.sock.send(buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._finalize(exc)
            return
        del buffer[:sent]
        if self._writing_paused and len(buffer) <= self._low:
            self._writing_paused = False
            if self.protocol is not None:
                self.protocol.resume_writing()
        if buffer:
            return
        if self._closing:
            self._finalize(None)
            return
        self._update()
        if self._eof_pending:
            self._shutdown()

    # -- the transport API -------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or not data:
            return
        buffer = self._buffer
        if not buffer:
            try:
                sent = self.sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._finalize(exc)
                return
            if sent == len(data):
                return
            self._buffered(memoryview(data)[sent:])
            return
        buffer += data
        self._check_high()

    def _buffered(self, rest: bytes | bytearray | memoryview) -> None:
        """Keep what the socket did not take, to send when it is writable again."""
        self._buffer += rest
        self._update()
        self._check_high()

    def _check_high(self) -> None:
        if not self._writing_paused and len(self._buffer) > self._high:
            self._writing_paused = True
            if self.protocol is not None:
                self.protocol.pause_writing()

    def write_eof(self) -> None:
        if self._closing or self._eof_pending:
            return
        self._eof_pending = True
        if not self._buffer:
            self._shutdown()

    def _shutdown(self) -> None:
        try:
            self.sock.shutdown(SHUT_WR)
        except OSError as exc:
            self._finalize(exc)

    def can_write_eof(self) -> bool:
        return True

    def close(self) -> None:
        """Stop reading; close once what is buffered is sent."""
        if self._closing:
            return
        self._closing = True
        if self._buffer:
            self._update()
        else:
            self._finalize(None)

    def abort(self) -> None:
        self._finalize(None)

    def release(self) -> None:
        self.abort()

    def is_closing(self) -> bool:
        return self._closing

    def pause_reading(self) -> None:
        if self._closing or self._paused:
            return
        self._paused = True
        self._update()

    def resume_reading(self) -> None:
        if self._closing or not self._paused:
            return
        self._paused = False
        self._update()

    def is_reading(self) -> bool:
        return not (self._closing or self._paused or self._eof)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if high is None:
            high = 65536 if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high, self._low = high, low

    def get_write_buffer_size(self) -> int:
        return len(self._buffer)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "socket":
            return None if self._closed else self.sock
        if name == "peername":
            if self._peername is None and not self._closed:
                self._peername = _name(self.sock.getpeername)
            return self._peername if self._peername is not None else default
        if name == "sockname":
            if self._sockname is None and not self._closed:
                self._sockname = _name(self.sock.getsockname)
            return self._sockname if self._sockname is not None else default
        return default

    # -- the end -----------------------------------------------------------------------

    def _finalize(self, exc: Exception | None) -> None:
        if self._closed:
            return
        if self._names_on_close:
            self.get_extra_info("peername")
            self.get_extra_info("sockname")
        self._closing = self._closed = True
        self._buffer.clear()
        self.relay_to = None
        on_relayed, self._on_relayed = self._on_relayed, None
        if on_relayed is not None:
            moved, stamp = _c_unlink(self.fd)
            if moved:
                on_relayed(moved, stamp)
        if self.poller.watchers.get(self.fd) is self:
            del self.poller.watchers[self.fd]
        # Closing the descriptor takes it out of the epoll set too.
        self.sock.close()
        self.poller.loop.call_soon(self._lost, exc)

    def _lost(self, exc: Exception | None) -> None:
        protocol, self.protocol = self.protocol, None
        if protocol is not None:
            protocol.connection_lost(exc)


def _start_transport(
    poller: Poller,
    sock: _socket.socket,
    protocol_factory: Callable[[], asyncio.Protocol],
    *,
    peername: Any = None,
    registered: int = 0,
    names_on_close: bool = False,
) -> SocketTransport | Exception:
    """A connected socket's transport, given to a new protocol and reading.  If the
    protocol cannot be made or raises in `connection_made`, the loop's exception
    handler hears of it, the connection is closed, and the exception is returned:
    a protocol's bug ends its connection, not the accept loop or the connect."""
    transport: SocketTransport | None = None
    try:
        protocol = protocol_factory()
        transport = SocketTransport(
            poller,
            sock,
            protocol,
            peername=peername,
            registered=registered,
            names_on_close=names_on_close,
        )
        protocol.connection_made(transport)  # type: ignore[arg-type]
    except Exception as exc:
        poller.loop.call_exception_handler(
            {"message": "connection_made failed", "exception": exc, "transport": transport}
        )
        if transport is not None:
            transport.abort()
        else:
            sock.close()  # which takes it out of the epoll set too
        return exc
    transport.start()
    return transport


def _name(getter: Callable[[], Any]) -> Any:
    try:
        return getter()
    except OSError:
        return None


class SocketServer(Watcher):
    """A listening socket whose connections become `SocketTransport`s."""

    def __init__(
        self,
        poller: Poller,
        sock: socket.socket,
        protocol_factory: Callable[[], asyncio.Protocol],
        *,
        names_on_close: bool = False,
    ) -> None:
        self.poller = poller
        self.sock = sock
        self.fd = sock.fileno()
        self.protocol_factory = protocol_factory
        self.names_on_close = names_on_close
        self.family = int(sock.family)
        self.tcp = self.family in (AF_INET, AF_INET6)
        self.serving = False
        self.born = poller.batch
        self._resume: asyncio.TimerHandle | None = None
        sock.setblocking(False)
        self._listen()

    def __repr__(self) -> str:
        return f"<SocketServer fd={self.fd} {'serving' if self.serving else 'closed'}>"

    def _listen(self) -> None:
        self.poller.watchers[self.fd] = self
        self.poller.epoll.register(self.fd, _IN)
        self.serving = True

    def _pause(self) -> None:
        self.poller.epoll.unregister(self.fd)
        del self.poller.watchers[self.fd]
        self.serving = False

    def on_events(self, events: int) -> None:
        poller = self.poller
        for _ in range(ACCEPTS):
            try:
                fd, address = self.sock._accept()  # type: ignore[attr-defined]  # the C accept
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _ACCEPT_RESOURCE_ERRORS:
                    # Out of descriptors: a level-triggered set would report the
                    # pending connection again at once, so stop accepting a while.
                    _log.warning("accept failed, pausing for %.0f s: %s", ACCEPT_PAUSE, exc)
                    self._pause()
                    self._resume = poller.loop.call_later(ACCEPT_PAUSE, self._resumed)
                return  # ECONNABORTED and the like: that connection is gone
            conn = _socket.socket(self.family, SOCK_STREAM, 0, fd)
            try:
                conn.setblocking(False)
                if self.tcp:
                    conn.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
            except OSError:
                conn.close()
                continue
            _start_transport(
                poller,
                conn,
                self.protocol_factory,
                peername=address,
                names_on_close=self.names_on_close,
            )

    def _resumed(self) -> None:
        self._resume = None
        if self.sock.fileno() >= 0:  # not closed meanwhile
            self._listen()

    def close(self) -> None:
        """Stop accepting and close the listening socket (as `asyncio.Server.close`)."""
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None
        if self.serving:
            self._pause()
        self.sock.close()

    def is_serving(self) -> bool:
        return self.serving

    def release(self) -> None:
        self.close()


ConnectDone = Callable[["SocketTransport | None", "BaseException | None"], None]


class Connector(Watcher):
    """A non-blocking connect in progress, future-like (`done`, `cancel`).

    It calls `on_done(transport, None)` or `on_done(None, error)` from the poller
    itself: no future, task or extra loop iteration per connection.  A
    cancellation reports `CancelledError` on the next iteration, so the canceller
    finishes its own bookkeeping first.
    """

    def __init__(
        self,
        poller: Poller,
        sock: _socket.socket,
        protocol_factory: Callable[[], asyncio.Protocol],
        on_done: ConnectDone,
        names_on_close: bool,
    ) -> None:
        self.poller = poller
        self.sock = sock
        self.fd = sock.fileno()
        self.protocol_factory = protocol_factory
        self.on_done: ConnectDone | None = on_done
        self.names_on_close = names_on_close
        self.born = poller.batch
        poller.watchers[self.fd] = self
        poller.epoll.register(self.fd, _OUT)

    def done(self) -> bool:
        return self.on_done is None

    def on_events(self, events: int) -> None:
        on_done = self._take()
        if on_done is None:
            return
        # Writable without an error condition: connected (no getsockopt needed).
        if events & _ERR:
            error = self.sock.getsockopt(SOL_SOCKET, SO_ERROR) or errno.ECONNREFUSED
            self.sock.close()
            on_done(None, OSError(error, f"Connect call failed: {os.strerror(error)}"))
            return
        made = _start_transport(
            self.poller,
            self.sock,
            self.protocol_factory,
            registered=_OUT,
            names_on_close=self.names_on_close,
        )
        if isinstance(made, SocketTransport):
            on_done(made, None)
        else:
            on_done(None, made)

    def fail(self, exc: Exception) -> None:
        on_done = self._take()
        if on_done is not None:
            self.sock.close()
            on_done(None, exc)

    def release(self) -> None:
        self.cancel()

    def cancel(self) -> bool:
        on_done = self._take()
        if on_done is None:
            return False
        self.sock.close()
        self.poller.loop.call_soon(on_done, None, asyncio.CancelledError())
        return True

    def _take(self) -> ConnectDone | None:
        """The callback, once: the connect is over from here on."""
        on_done, self.on_done = self.on_done, None
        if on_done is not None and self.poller.watchers.get(self.fd) is self:
            del self.poller.watchers[self.fd]
        return on_done


def connect(
    poller: Poller,
    protocol_factory: Callable[[], asyncio.Protocol],
    address: tuple[int, Any],
    on_done: ConnectDone,
    *,
    names_on_close: bool = False,
) -> Connector:
    """Start connecting to `address` (family, sockaddr); raises OSError at once
    for what fails before the handshake (no route, no descriptor left)."""
    family, sockaddr = address
    # Non-blocking from the start: no ioctl after socket().
    sock = _socket.socket(family, SOCK_STREAM | SOCK_NONBLOCK)
    try:
        if family != AF_UNIX:
            sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
        err = sock.connect_ex(sockaddr)
        if err not in (0, errno.EINPROGRESS):  # 0: done already, reported when writable
            raise OSError(err, f"Connect call failed {sockaddr}: {os.strerror(err)}")
        return Connector(poller, sock, protocol_factory, on_done, names_on_close)
    except BaseException:
        sock.close()
        raise


async def open_connection(
    poller: Poller,
    protocol_factory: Callable[[], asyncio.Protocol],
    host: str,
    port: int,
    *,
    names_on_close: bool = False,
) -> tuple[SocketTransport, asyncio.Protocol]:
    """Connect to host:port, trying each address as `loop.create_connection` does."""
    literal = ip_address(host, port)
    if literal is not None:
        addresses = [literal]
    else:
        resolved = await poller.loop.getaddrinfo(host, port, type=SOCK_STREAM)
        addresses = [(family, sockaddr) for family, _, _, _, sockaddr in resolved]
        if not addresses:
            raise OSError(f"getaddrinfo({host!r}) returned no address")
    errors: list[BaseException] = []
    for address in addresses:
        outcome: Outcome = poller.loop.create_future()
        try:
            connector = connect(
                poller, protocol_factory, address, _resolver(outcome), names_on_close=names_on_close
            )
        except OSError as exc:
            errors.append(exc)
            continue
        try:
            transport, error = await outcome
        except asyncio.CancelledError:
            if not connector.cancel() and outcome.done() and not outcome.cancelled():
                # Connected just before the cancellation reached this task.
                late = outcome.result()[0]
                if late is not None:
                    late.abort()
            raise
        if transport is not None:
            assert transport.protocol is not None
            return transport, transport.protocol
        assert error is not None
        errors.append(error)
    if len(errors) == 1 or len({str(exc) for exc in errors}) == 1:
        raise errors[0]
    raise OSError(f"Multiple exceptions: {', '.join(str(exc) for exc in errors)}")


Outcome = asyncio.Future[tuple[SocketTransport | None, BaseException | None]]


def _resolver(outcome: Outcome) -> ConnectDone:
    def finished(transport: SocketTransport | None, exc: BaseException | None) -> None:
        if not outcome.done():
            outcome.set_result((transport, exc))
        elif transport is not None:
            transport.abort()  # the waiting task was cancelled while this connected

    return finished


def ip_address(host: str, port: int) -> tuple[int, Any] | None:
    """(family, sockaddr) when `host` is an IP address, which needs no resolver
    (most `server` lines name one), or a UNIX socket's (`unix@/path`, `abns@name`);
    else None."""
    unix = unix_sockaddr(host)
    if unix is not None:
        return (AF_UNIX, unix)
    try:
        inet_pton(AF_INET, host)
        return (AF_INET, (host, port))
    except OSError:
        pass
    try:
        inet_pton(AF_INET6, host)
        return (AF_INET6, (host, port, 0, 0))
    except OSError:
        return None
