"""The byte relay: data both ways, half-close, resets, dying backends, backpressure."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading

from l4_harness import (
    Backend,
    CaptureLogger,
    LoopThread,
    Proxy,
    count_then_answer,
    echo,
    recv_all,
    rst,
    wait_until,
)

from balancekit import Backend as Pool
from balancekit import Server
from balancekit.config import BackendRuntime
from balancekit.config.runtime import TcpKeepalive
from balancekit_server.tcp import HIGH_WATER, TcpFrontend


def _frontend(address: str, logger: CaptureLogger | None = None, **kw: object) -> TcpFrontend:
    pool = Pool("be", [Server("s1", address)], balance="first")
    tb = BackendRuntime(
        pool.name, "tcp", pool, timeout_connect=2, timeout_server=kw.pop("timeout_server", 10)
    )  # type: ignore[arg-type]
    return TcpFrontend(
        "fe",
        default_backend=tb,
        logger=logger,
        log_format="tcplog" if logger else None,
        **kw,  # type: ignore[arg-type]
    )


def test_bytes_flow_both_ways_unchanged(lt: LoopThread) -> None:
    backend = Backend(lt, echo)
    proxy = Proxy(lt, _frontend(backend.address, timeout_client=10))
    payload = os.urandom(3 * 1024 * 1024)
    with proxy.connect() as sock:
        sender = threading.Thread(
            target=lambda: (sock.sendall(payload), sock.shutdown(socket.SHUT_WR))
        )
        sender.start()
        received = recv_all(sock)
        sender.join()
    assert received == payload


def test_client_half_close_reaches_server_and_answer_comes_back(lt: LoopThread) -> None:
    backend = Backend(lt, count_then_answer)
    proxy = Proxy(lt, _frontend(backend.address, timeout_client=10))
    with proxy.connect() as sock:
        sock.sendall(b"x" * 100_000)
        sock.shutdown(socket.SHUT_WR)  # the server answers only after seeing this EOF
        assert recv_all(sock) == b"got 100000"


def test_session_ends_once_both_sides_closed(lt: LoopThread) -> None:
    logger = CaptureLogger()
    backend = Backend(lt, echo)
    proxy = Proxy(lt, _frontend(backend.address, logger, timeout_client=10))
    with proxy.connect() as sock:
        sock.sendall(b"ping")
        assert sock.recv(10) == b"ping"
        sock.shutdown(socket.SHUT_WR)
        assert recv_all(sock) == b""
    line = logger.wait_lines(1)[0]
    assert " fe be/s1 " in line and " 4 -- " in line
    wait_until(lambda: proxy.sessions() == 0 and backend.active == 0, what="both sides closed")


def test_server_reset_closes_the_client_cleanly(lt: LoopThread) -> None:
    """HAProxy passes resets on towards servers only: the client gets a FIN (and the
    log says SD).  tests/l4/test_l4_haproxy.py checks this against HAProxy itself."""

    async def reset_on_data(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(10)
        rst(writer.get_extra_info("socket").dup())
        writer.transport.abort()

    logger = CaptureLogger()
    backend = Backend(lt, reset_on_data)
    proxy = Proxy(lt, _frontend(backend.address, logger, timeout_client=10))
    with proxy.connect() as sock:
        sock.sendall(b"hello")
        assert recv_all(sock) == b""
    assert logger.wait_lines(1)[0].split()[6] == "SD"
    wait_until(lambda: proxy.sessions() == 0, what="the session to end")


def test_client_reset_is_propagated_to_server(lt: LoopThread) -> None:
    seen: list[str] = []
    done = threading.Event()
    got_data = threading.Event()

    async def watch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read(10)
            got_data.set()
            while await reader.read(10):
                pass
            seen.append("eof")
        except ConnectionResetError:
            seen.append("reset")
        finally:
            done.set()

    backend = Backend(lt, watch)
    proxy = Proxy(lt, _frontend(backend.address, timeout_client=10))
    sock = proxy.connect()
    sock.sendall(b"hello")
    assert got_data.wait(10)  # mid-transfer, not during the connect
    rst(sock)
    assert done.wait(10)
    assert seen == ["reset"]


def test_backend_dying_mid_transfer_closes_client_promptly(lt: LoopThread) -> None:
    async def die(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"partial")
        await writer.drain()
        writer.transport.abort()  # the process "dies": its socket closes under the client

    backend = Backend(lt, die)
    proxy = Proxy(lt, _frontend(backend.address, timeout_client=60, timeout_server=60))
    with proxy.connect(timeout=10) as sock:
        data = b""
        with contextlib.suppress(ConnectionResetError):
            data = recv_all(sock)
        # recv returned (EOF or reset) long before the 60 s timeouts: the client saw the close.
        assert data in (b"", b"partial")
    wait_until(lambda: proxy.sessions() == 0, what="the session to end")


def test_client_flooding_without_reading_keeps_buffers_bounded(lt: LoopThread) -> None:
    """The server streams; the client never reads: the proxy stops reading the server."""
    sent = [0]
    blocked = threading.Event()

    async def firehose(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        chunk = b"z" * 65536
        while True:
            writer.write(chunk)
            try:
                await asyncio.wait_for(writer.drain(), 2)
            except TimeoutError:
                blocked.set()  # backpressure reached the server
                await asyncio.sleep(3600)
            sent[0] += len(chunk)

    backend = Backend(lt, firehose)
    proxy = Proxy(lt, _frontend(backend.address, timeout_client=60, timeout_server=60))
    with proxy.connect() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(b"go")
        assert blocked.wait(30)

        def buffered() -> int:
            total = 0
            for session in proxy.service.sessions:
                for transport in (session.client, session.server):
                    if transport is not None:
                        total += transport.get_write_buffer_size()
            return total

        # Everything the server managed to send sits in kernel buffers or one bounded
        # transport buffer, not in an ever-growing Python buffer.
        assert buffered() <= HIGH_WATER + 65536
        assert sent[0] < 64 * 1024 * 1024


def test_client_sending_to_a_server_that_never_reads_is_bounded(lt: LoopThread) -> None:
    async def deaf(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(3600)

    backend = Backend(lt, deaf)
    proxy = Proxy(lt, _frontend(backend.address, timeout_client=60, timeout_server=60))
    with proxy.connect() as sock:
        sock.settimeout(1.0)
        pushed = 0
        chunk = b"y" * 65536
        try:
            while pushed < 256 * 1024 * 1024:
                sock.send(chunk)
                pushed += len(chunk)
        except TimeoutError:
            pass  # the proxy stopped reading us: backpressure reached the client
        assert pushed < 256 * 1024 * 1024
        sizes = lt.call(
            lambda: [
                t.get_write_buffer_size()
                for s in proxy.service.sessions
                for t in (s.client, s.server)
                if t is not None
            ]
        )
        assert max(sizes) <= HIGH_WATER + 65536 * 4


def test_clitcpka_and_srvtcpka_set_keepalive_on_each_side(lt: LoopThread) -> None:
    backend = Backend(lt, echo)
    pool = Pool("be", [Server("s1", backend.address)])
    for cli, srv in ((True, False), (False, True)):
        fe = TcpFrontend(
            "fe",
            default_backend=BackendRuntime(
                pool.name, "tcp", pool, timeout_connect=2, srvtcpka=TcpKeepalive() if srv else None
            ),
            clitcpka=TcpKeepalive() if cli else None,
        )
        proxy = Proxy(lt, fe)
        with proxy.connect() as sock:
            sock.sendall(b"k")
            assert sock.recv(1) == b"k"

            def flags(proxy: Proxy = proxy) -> tuple[int, int]:
                (session,) = proxy.service.sessions
                assert session.client is not None and session.server is not None
                return tuple(  # type: ignore[return-value]
                    t.get_extra_info("socket").getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
                    for t in (session.client, session.server)
                )

            assert lt.call(flags) == (int(cli), int(srv))
        proxy.close()
