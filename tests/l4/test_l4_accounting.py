"""Many sessions ending every possible way: afterwards nothing is left open or counted."""

from __future__ import annotations

import asyncio
import random
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

from l4_harness import Backend, LoopThread, Proxy, recv_all, rst, wait_until

from balancekit import Backend as Pool
from balancekit import Server
from balancekit.config import BackendRuntime
from balancekit_server.ops.counters import Registry
from balancekit_server.tcp import Limits, TcpFrontend


async def _moody(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A server that, depending on the first byte, echoes, closes early, resets or stalls."""
    first = await reader.read(1)
    mode = first[:1]
    if mode == b"e":  # echo until EOF
        writer.write(first)
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.write_eof()
    elif mode == b"c":  # close at once
        writer.close()
    elif mode == b"r":  # reset
        writer.transport.abort()
    elif mode == b"h":  # half-close first, then read the rest
        writer.write(b"bye")
        writer.write_eof()
        while await reader.read(65536):
            pass
    else:  # stall until the client goes away
        while await reader.read(65536):
            pass


def _client(port: int, seed: int) -> None:
    rng = random.Random(seed)
    mode = rng.choice(b"ecrhs")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(bytes([mode]) + b"x" * rng.randrange(0, 200_000))
            ending = rng.choice(["read", "shut", "close", "reset"])
            if ending == "reset":
                rst(sock.dup())
                return
            if ending == "shut":
                sock.shutdown(socket.SHUT_WR)
                if mode != ord("s"):
                    recv_all(sock)
            elif ending == "read" and mode != ord("s"):
                sock.recv(65536)  # a little, then close with data still unread
    except OSError:
        pass  # resets and early closes are part of the game


def test_every_ending_leaves_no_session_lease_or_count(lt1: LoopThread) -> None:
    backends = [Backend(lt1, _moody) for _ in range(3)]
    pool = Pool(
        "be",
        [Server(f"s{i}", b.address, maxconn=4) for i, b in enumerate(backends)],
        balance="leastconn",
    )
    registry = Registry()
    limits = Limits(maxconn=20)
    fe = TcpFrontend(
        "fe",
        default_backend=BackendRuntime(
            pool.name, "tcp", pool, timeout_connect=2, timeout_server=3, timeout_queue=5
        ),
        timeout_client=3,
        maxconn=15,
    )
    proxy = Proxy(lt1, fe, limits=limits, registry=registry)
    with ThreadPoolExecutor(24) as workers:
        list(workers.map(lambda seed: _client(proxy.port, seed), range(200)))

    def settled() -> bool:
        return lt1.call(
            lambda: (
                not proxy.service.sessions
                and limits.actconn == 0
                and proxy.service.feconn == 0
                and pool.queued == 0
                and all(m.inflight == 0 for m in pool.members)
            )
        )

    wait_until(settled, timeout=30, what="every session, slot and count to be released")
    counters = lt1.call(lambda: (registry.frontend("fe"), registry.backend("be")))
    assert counters[0].scur == 0 and counters[0].stot == 200
    assert counters[1].scur == 0
    assert all(lt1.call(lambda b=b: b.active) == 0 for b in backends)
    assert threading.active_count() < 50


def test_finished_sessions_are_freed_without_the_cyclic_gc(lt: LoopThread) -> None:
    """Ended sessions hold no reference cycle: reference counting frees them at once,
    so a long-lived proxy does not depend on GC passes (or gc.freeze) for its memory."""
    import gc

    from l4_harness import echo

    from balancekit_server.tcp import Session

    def live_sessions() -> int:
        # Not weak references: a compiled (mypyc) Session does not support them.
        return sum(1 for obj in gc.get_objects() if type(obj) is Session)

    backend = Backend(lt, echo)
    pool = Pool("be", [Server("s1", backend.address)])
    proxy = Proxy(
        lt,
        TcpFrontend(
            "fe", default_backend=BackendRuntime(pool.name, "tcp", pool, timeout_connect=2)
        ),
    )
    gc.collect()
    gc.disable()
    try:
        for ending in ("shut", "reset"):
            sock = proxy.connect()
            sock.sendall(b"x")
            assert sock.recv(1) == b"x"
            assert lt.call(live_sessions) == 1
            if ending == "reset":
                rst(sock)
            else:
                sock.shutdown(socket.SHUT_WR)
                assert recv_all(sock) == b""
                sock.close()
            wait_until(lambda: proxy.sessions() == 0, what="the session to end")
            lt.call(lambda: None)  # let the loop drop its last handles
            wait_until(lambda: lt.call(live_sessions) == 0, what="the session to be freed")
    finally:
        gc.enable()
