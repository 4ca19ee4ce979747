"""`poller.SocketTransport` and friends keep the asyncio transport contract the relay
relies on, on real sockets, under both event loops.

The relay tests (test_l4_relay.py and the rest) run the whole forwarder on these
transports; here each promise is checked on its own: half-close, write buffering
with pause/resume, close-after-flush versus abort, resets, paused reading, the
linked relay, and connects that fail or are cancelled.
"""

from __future__ import annotations

import _socket
import asyncio
import contextlib
import gc
import hashlib
import os
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from l4_harness import LoopThread, free_port, recv_all, rst, wait_until

from balancekit_server.net import poller as poller_module
from balancekit_server.net.poller import (
    Poller,
    SocketServer,
    SocketTransport,
    close_poller,
    connect,
    ip_address,
    open_connection,
    poller_for,
)

LINKED = poller_module._c_loop is not None  # the C loop is built (not pure Python)


class Recorder(asyncio.Protocol):
    """Remembers what the transport told it, in order."""

    def __init__(self, keep_open: bool = True) -> None:
        self.keep_open = keep_open
        self.transport: Any = None
        self.data = bytearray()
        self.events: list[str] = []
        self.exc: BaseException | None = None
        self.lost = threading.Event()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.events.append("made")

    def data_received(self, data: bytes) -> None:
        self.data += data

    def eof_received(self) -> bool:
        self.events.append("eof")
        return self.keep_open

    def pause_writing(self) -> None:
        self.events.append("pause")

    def resume_writing(self) -> None:
        self.events.append("resume")

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append("lost")
        self.exc = exc
        self.lost.set()


@contextlib.contextmanager
def _connected(
    lt: LoopThread, protocol: Recorder, host: str = "127.0.0.1", names_on_close: bool = False
) -> Iterator[tuple[socket.socket, Any]]:
    """A SocketTransport (driving `protocol`) connected to a plain blocking socket."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        async def open_it() -> Any:
            poller = poller_for(asyncio.get_running_loop())
            assert poller is not None
            transport, _ = await open_connection(
                poller, lambda: protocol, host, port, names_on_close=names_on_close
            )
            return transport

        transport = lt.run(open_it())
        peer, _ = listener.accept()
    with peer:
        peer.settimeout(10)
        yield peer, transport


def test_data_and_half_close_both_ways(lt: LoopThread) -> None:
    protocol = Recorder()
    with _connected(lt, protocol) as (peer, transport):
        assert isinstance(transport, SocketTransport)
        peer.sendall(b"hello")
        peer.shutdown(socket.SHUT_WR)
        wait_until(lambda: "eof" in protocol.events, what="the EOF")
        assert bytes(protocol.data) == b"hello"
        # Our direction stays open after the peer's FIN (eof_received returned True).
        lt.call(lambda: transport.write(b"bye"))
        lt.call(transport.write_eof)
        assert recv_all(peer) == b"bye"
        assert not protocol.lost.is_set()
        lt.call(transport.close)
        assert protocol.lost.wait(5)
    assert protocol.events == ["made", "eof", "lost"] and protocol.exc is None


def test_eof_received_false_closes_the_transport(lt: LoopThread) -> None:
    protocol = Recorder(keep_open=False)
    with _connected(lt, protocol) as (peer, _):
        peer.shutdown(socket.SHUT_WR)
        assert protocol.lost.wait(5)
        assert peer.recv(1) == b""  # closed by us in turn


def test_a_slow_reader_pauses_the_writer_and_gets_every_byte(lt: LoopThread) -> None:
    protocol = Recorder()
    payload = bytes(range(256)) * 131072  # 32 MiB, far more than loopback's socket buffers
    with _connected(lt, protocol) as (peer, transport):
        lt.call(lambda: transport.set_write_buffer_limits(high=65536))

        def write_all() -> int:
            for start in range(0, len(payload), 65536):
                transport.write(payload[start : start + 65536])
            return int(transport.get_write_buffer_size())

        assert lt.call(write_all) > 65536  # the peer reads nothing yet
        assert "pause" in protocol.events and "resume" not in protocol.events
        lt.call(transport.close)  # after the buffer is flushed
        received = recv_all(peer)
    assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
    assert protocol.events[-2:] == ["resume", "lost"] and protocol.exc is None


def test_abort_drops_the_buffer_at_once(lt: LoopThread) -> None:
    protocol = Recorder()
    with _connected(lt, protocol) as (peer, transport):
        lt.call(lambda: transport.write(b"x" * (8 << 20)))
        assert lt.call(transport.get_write_buffer_size) > 0
        lt.call(transport.abort)
        assert protocol.lost.wait(5)
        assert len(recv_all(peer)) < 8 << 20


def test_a_reset_reaches_connection_lost_as_an_error(lt: LoopThread) -> None:
    protocol = Recorder()
    with _connected(lt, protocol) as (peer, _):
        rst(peer)
        assert protocol.lost.wait(5)
    assert isinstance(protocol.exc, ConnectionResetError)


def test_paused_reading_holds_the_data_back(lt: LoopThread) -> None:
    protocol = Recorder()
    with _connected(lt, protocol) as (peer, transport):
        lt.call(transport.pause_reading)
        assert not lt.call(transport.is_reading)
        peer.sendall(b"later")
        time.sleep(0.2)
        assert protocol.data == b""
        lt.call(transport.resume_reading)
        wait_until(lambda: protocol.data == b"later", what="the data after resume_reading")


def test_addresses_outlive_the_close_when_asked(lt: LoopThread) -> None:
    protocol = Recorder()
    with _connected(lt, protocol, names_on_close=True) as (peer, transport):
        lt.call(transport.abort)
        assert protocol.lost.wait(5)
        assert transport.get_extra_info("peername") == peer.getsockname()
        assert transport.get_extra_info("sockname") == peer.getpeername()
        assert transport.get_extra_info("socket") is None


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    sock.settimeout(10)
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            break
        chunks += chunk
    return bytes(chunks)


def test_linked_transports_relay_without_data_received(lt: LoopThread) -> None:
    """Linked both ways, each side's reads go into the other's socket inside the C
    loop; the protocols hear how much moved, and when, only once they ask."""
    a_counts: list[tuple[int, float]] = []
    b_counts: list[tuple[int, float]] = []
    a_protocol, b_protocol = Recorder(), Recorder()
    request, answer = b"ask" * 30000, b"answer" * 50000
    with _connected(lt, a_protocol) as (a_peer, a), _connected(lt, b_protocol) as (b_peer, b):

        def link_both() -> None:
            a.link(b, lambda size, stamp: a_counts.append((size, stamp)))
            b.link(a, lambda size, stamp: b_counts.append((size, stamp)))

        linked_at = time.monotonic()
        lt.call(link_both)
        a_peer.sendall(request)
        if not LINKED:  # pure Python: `link` does nothing and the bytes come up as usual
            wait_until(lambda: len(a_protocol.data) == len(request), what="A's data")
            assert a_counts == b_counts == []
            return
        assert recv_exactly(b_peer, len(request)) == request
        b_peer.sendall(answer)
        assert recv_exactly(a_peer, len(answer)) == answer
        told_before_asking = (list(a_counts), list(b_counts))
        lt.call(a.harvest)
        lt.call(b.harvest)
        asked_at = time.monotonic()
        a_peer.shutdown(socket.SHUT_WR)
        wait_until(lambda: "eof" in a_protocol.events, what="the EOF on A")
    assert a_protocol.data == b"" and b_protocol.data == b""
    assert told_before_asking == ([], [])
    assert sum(size for size, _ in a_counts) == len(request)
    assert sum(size for size, _ in b_counts) == len(answer)
    assert all(linked_at <= stamp <= asked_at for _, stamp in a_counts + b_counts)


def test_a_reused_descriptor_number_gets_none_of_the_old_pairs_bytes(lt: LoopThread) -> None:
    """When one of a linked pair closes, the C loop forgets it as its peer's peer:
    another connection that gets its descriptor number (and is linked itself) must
    not receive what the survivor reads."""
    a_protocol, b_protocol, c_protocol = Recorder(), Recorder(), Recorder()

    def ignore(size: int, stamp: float) -> None:
        pass

    with (
        _connected(lt, a_protocol) as (a_peer, a),
        _connected(lt, b_protocol) as (_, b),
        socket.create_server(("127.0.0.1", 0)) as listener,
        socket.create_connection(listener.getsockname()) as fresh,
    ):
        fresh_peer, _ = listener.accept()
        lt.call(lambda: (a.link(b, ignore), b.link(a, ignore)))

        def reuse_bs_number() -> SocketTransport:
            number = b.fd
            b.abort()
            os.dup2(fresh.fileno(), number)  # b's number now names another connection
            sock = _socket.socket(socket.AF_INET, socket.SOCK_STREAM, 0, number)
            sock.setblocking(False)
            poller = poller_for(asyncio.get_running_loop())
            assert poller is not None
            c = SocketTransport(poller, sock, c_protocol)
            c_protocol.connection_made(c)
            c.start()
            c.link(a, ignore)
            return c

        c = lt.call(reuse_bs_number)
        a_peer.sendall(b"for b only")
        wait_until(lambda: bytes(a_protocol.data) == b"for b only", what="A's data")
        with fresh_peer:
            fresh_peer.settimeout(0.3)
            with pytest.raises(TimeoutError):
                fresh_peer.recv(100)
        lt.call(c.abort)


def test_a_one_way_link_relays_and_reports_at_close(lt: LoopThread) -> None:
    """Linked one way only (the peer is not in the C loop's table), reads go
    through Python's step; what moved is reported when the transport closes."""
    counted: list[int] = []
    a_protocol, b_protocol = Recorder(), Recorder()
    payload = b"relay" * 40000
    with _connected(lt, a_protocol) as (a_peer, a), _connected(lt, b_protocol) as (b_peer, b):
        lt.call(lambda: a.link(b, lambda size, stamp: counted.append(size)))
        a_peer.sendall(payload)
        a_peer.shutdown(socket.SHUT_WR)
        wait_until(lambda: "eof" in a_protocol.events, what="the EOF on A")
        lt.call(b.write_eof)
        relayed = recv_all(b_peer)
        lt.call(a.abort)
    if LINKED:
        assert relayed == payload and a_protocol.data == b"" and sum(counted) == len(payload)
    else:  # pure Python: `link` does nothing and the bytes come up as usual
        assert relayed == b"" and bytes(a_protocol.data) == payload and counted == []


def test_a_refused_connect_reports_the_error_and_closes_the_socket(lt: LoopThread) -> None:
    port = free_port()
    outcome: list[Any] = []

    def start() -> Any:
        poller = poller_for(asyncio.get_running_loop())
        assert poller is not None
        address = ip_address("127.0.0.1", port)
        assert address is not None
        return connect(poller, Recorder, address, lambda t, e: outcome.append((t, e)))

    connector = lt.call(start)
    wait_until(lambda: bool(outcome), what="the refused connect to be reported")
    transport, error = outcome[0]
    assert transport is None and isinstance(error, ConnectionRefusedError)
    assert connector.done() and connector.sock.fileno() == -1


def test_a_cancelled_connect_says_so_on_the_next_iteration(lt: LoopThread) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        outcome: list[Any] = []

        def start_and_cancel() -> tuple[bool, list[Any]]:
            poller = poller_for(asyncio.get_running_loop())
            assert poller is not None
            address = ip_address("127.0.0.1", port)
            assert address is not None
            connector = connect(poller, Recorder, address, lambda t, e: outcome.append((t, e)))
            cancelled = connector.cancel()
            return cancelled and not connector.cancel(), list(outcome)

        cancelled_once, seen_at_once = lt.call(start_and_cancel)
        assert cancelled_once and seen_at_once == []
        wait_until(lambda: bool(outcome), what="the cancellation to be reported")
        assert outcome[0][0] is None and isinstance(outcome[0][1], asyncio.CancelledError)


class RaisesOnMade(Recorder):
    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        raise RuntimeError("a bug in connection_made")


def test_a_connect_whose_protocol_raises_in_connection_made_reports_it(lt: LoopThread) -> None:
    """The connect's callback hears the error, the loop's handler hears of it, and
    the connection is closed rather than left registered."""
    reported: list[dict[str, Any]] = []
    lt.call(lambda: lt.loop.set_exception_handler(lambda _, context: reported.append(context)))
    outcome: list[Any] = []
    protocol = RaisesOnMade()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def start() -> Any:
            poller = poller_for(asyncio.get_running_loop())
            assert poller is not None
            address = ip_address("127.0.0.1", port)
            assert address is not None
            return connect(poller, lambda: protocol, address, lambda t, e: outcome.append((t, e)))

        lt.call(start)
        peer, _ = listener.accept()
        with peer:
            peer.settimeout(10)
            wait_until(lambda: bool(outcome), what="the connect to be reported")
            assert peer.recv(1) == b""  # closed by the proxy side
    transport, error = outcome[0]
    assert transport is None and str(error) == "a bug in connection_made"
    assert [str(c["exception"]) for c in reported] == ["a bug in connection_made"]
    assert protocol.lost.wait(5) and protocol.events == ["made", "lost"]


def test_an_accept_whose_protocol_raises_in_connection_made_closes_only_that_one(
    lt: LoopThread,
) -> None:
    reported: list[dict[str, Any]] = []
    lt.call(lambda: lt.loop.set_exception_handler(lambda _, context: reported.append(context)))
    made: list[Recorder] = []

    def factory() -> Recorder:
        protocol = RaisesOnMade() if not made else Recorder()
        made.append(protocol)
        return protocol

    def listen() -> SocketServer:
        poller = poller_for(asyncio.get_running_loop())
        assert poller is not None
        sock = socket.create_server(("127.0.0.1", 0))
        sock.setblocking(False)
        return SocketServer(poller, sock, factory)

    server = lt.call(listen)
    address = server.sock.getsockname()
    try:
        with socket.create_connection(address, timeout=10) as first:
            assert first.recv(1) == b""  # its protocol failed: closed
        with socket.create_connection(address, timeout=10) as second:
            wait_until(lambda: len(made) == 2, what="the second connection")
            second.sendall(b"still accepting")
            wait_until(lambda: bytes(made[1].data) == b"still accepting", what="the data")
    finally:
        lt.call(server.close)
    assert [str(c["exception"]) for c in reported] == ["a bug in connection_made"]


def test_open_connection_resolves_a_name(lt: LoopThread) -> None:
    protocol = Recorder()
    with _connected(lt, protocol, host="localhost") as (peer, transport):
        peer.sendall(b"named")
        wait_until(lambda: protocol.data == b"named", what="data over a resolved connect")
        lt.call(transport.close)


def test_a_server_accepts_until_closed(lt: LoopThread) -> None:
    protocols: list[Recorder] = []
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def recorder() -> Recorder:
        protocols.append(Recorder())
        return protocols[-1]

    def serve() -> SocketServer:
        poller = poller_for(asyncio.get_running_loop())
        assert poller is not None
        return SocketServer(poller, listener, recorder)

    server = lt.call(serve)
    clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(3)]
    for index, client in enumerate(clients):
        client.sendall(bytes([index]))
    wait_until(lambda: sorted(bytes(p.data) for p in protocols) == [b"\0", b"\1", b"\2"])
    assert all(p.transport.get_extra_info("peername") for p in protocols)
    lt.call(server.close)
    assert not server.is_serving() and listener.fileno() == -1
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5)
    for client in clients:
        client.close()


def test_a_poller_does_not_keep_its_loop_alive() -> None:
    loop = asyncio.new_event_loop()
    poller = poller_for(loop)
    assert isinstance(poller, Poller) and poller_for(loop) is poller
    assert loop in poller_module._pollers
    gone = weakref.ref(loop)
    loop.close()
    del loop, poller
    gc.collect()
    assert gone() is None  # and with the loop, its poller and epoll set


def test_loop_transports_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BALANCEKIT_LOOP_TRANSPORTS", "1")
    loop = asyncio.new_event_loop()
    try:
        assert poller_for(loop) is None
    finally:
        loop.close()


def test_close_poller_releases_every_socket(lt: LoopThread) -> None:
    protocol = Recorder()
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> SocketServer:
        poller = poller_for(asyncio.get_running_loop())
        assert poller is not None
        return SocketServer(poller, listener, Recorder)

    server = lt.call(serve)
    with _connected(lt, protocol) as (peer, _):
        lt.call(lambda: close_poller(lt.loop))
        assert protocol.lost.wait(5)  # the live connection was aborted
        assert peer.recv(1) == b""
    assert not server.is_serving() and listener.fileno() == -1
    assert lt.call(lambda: poller_for(lt.loop)) is not None  # a fresh one on next use


_EMFILE_SCRIPT = """
import asyncio, resource, socket, sys
from balancekit_server.net import poller

class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
    def data_received(self, data):
        self.transport.write(data)

async def main():
    listener = socket.create_server(("127.0.0.1", 0))
    poller.SocketServer(poller.poller_for(asyncio.get_running_loop()), listener, Echo)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    print(listener.getsockname()[1], flush=True)
    await asyncio.sleep(30)

asyncio.run(main())
"""


def test_out_of_descriptors_pauses_accepting_then_recovers(tmp_path: Path) -> None:
    """EMFILE on accept: a level-triggered set would report the pending connection
    again at once, so the server stops accepting for a while instead of spinning."""
    script = tmp_path / "emfile.py"
    script.write_text(_EMFILE_SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        clients = []
        for _ in range(80):  # more than the 64 descriptors the server may hold
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        time.sleep(0.5)
        cpu = _cpu_seconds(proc.pid)
        time.sleep(0.5)
        assert _cpu_seconds(proc.pid) - cpu < 0.2  # paused, not spinning on EMFILE
        for client in clients:
            client.close()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as late:
            late.sendall(b"ping")
            assert late.recv(4) == b"ping"  # accepting again (after ACCEPT_PAUSE)
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=10)
    assert "accept failed, pausing" in err


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Broken(Recorder):
    def data_received(self, data: bytes) -> None:
        raise RuntimeError("a bug in the protocol")


def test_a_protocol_bug_ends_its_connection_not_the_loop(lt: LoopThread) -> None:
    reported: list[dict[str, Any]] = []
    lt.call(lambda: lt.loop.set_exception_handler(lambda _, context: reported.append(context)))
    protocol = Broken()
    with _connected(lt, protocol) as (peer, _):
        peer.sendall(b"boom")
        assert protocol.lost.wait(5)
        assert peer.recv(1) == b""  # closed, not left hanging
    assert isinstance(protocol.exc, RuntimeError)
    assert [str(c["exception"]) for c in reported] == ["a bug in the protocol"]
    assert lt.call(lambda: lt.loop.is_running())  # the loop goes on
