"""Queueing, maxconn, retries/redispatch and timeouts of the L4 forwarder."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time

import pytest
from l4_harness import (
    Backend,
    CaptureLogger,
    LoopThread,
    Proxy,
    free_port,
    named,
    recv_all,
    wait_until,
)

from balancekit import Backend as Pool
from balancekit import Request, Server
from balancekit.config import BackendRuntime
from balancekit_server.tcp import Limits, TcpFrontend


def _hold(release: threading.Event) -> object:
    """A server that says hello and keeps the connection until `release` is set."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello")
        await writer.drain()
        while not release.is_set():
            await asyncio.sleep(0.01)

    return handler


def _fields(line: str) -> dict[str, str]:
    """Split a tcplog line into HAProxy's named fields."""
    parts = line.split()
    times = parts[4].split("/")
    conns = parts[7].split("/")
    queues = parts[8].split("/")
    return {
        "client": parts[0],
        "frontend": parts[2],
        "backend_server": parts[3],
        "tw": times[0],
        "tc": times[1],
        "tt": times[2],
        "bytes": parts[5],
        "term": parts[6],
        "retries": conns[4],
        "sq": queues[0],
        "bq": queues[1],
    }


def _proxy(
    lt: LoopThread,
    pool: Pool,
    logger: CaptureLogger | None = None,
    *,
    limits: Limits | None = None,
    fe_maxconn: int = 0,
    timeout_client: float = 30,
    **backend: object,
) -> Proxy:
    tb = BackendRuntime(
        pool.name, "tcp", pool, **{"timeout_connect": 2.0, "timeout_server": 30.0, **backend}
    )  # type: ignore[arg-type]
    fe = TcpFrontend(
        "fe",
        default_backend=tb,
        timeout_client=timeout_client,
        maxconn=fe_maxconn,
        logger=logger,
        log_format="tcplog" if logger else None,
    )
    kwargs = {"limits": limits} if limits is not None else {}
    return Proxy(lt, fe, **kwargs)


def test_over_server_maxconn_waits_in_queue_until_a_slot_frees(lt1: LoopThread) -> None:
    release = threading.Event()
    backend = Backend(lt1, _hold(release))
    pool = Pool("be", [Server("s1", backend.address, maxconn=1)], balance="roundrobin")
    logger = CaptureLogger()
    proxy = _proxy(lt1, pool, logger)
    first = proxy.connect()
    assert first.recv(5) == b"hello"
    second = proxy.connect()
    wait_until(lambda: lt1.call(lambda: pool.queued) == 1, what="the second client to queue")
    assert lt1.call(lambda: backend.connections) == 1  # the server never saw it
    time.sleep(0.3)
    first.close()
    release.set()
    assert second.recv(5) == b"hello"  # served once the slot freed
    second.close()
    direct, queued = (_fields(line) for line in logger.wait_lines(2))
    assert queued["term"] == "--"
    assert queued["bq"] == "0" or queued["sq"] == "0"
    # %Tw is the time in the queue, %Tc the connect after it, %Tt the whole session.
    assert int(direct["tw"]) <= 5 and 0 <= int(direct["tc"]) <= 100
    assert 300 <= int(queued["tw"]) <= 2000
    assert 0 <= int(queued["tc"]) <= 100
    assert int(queued["tt"]) >= int(queued["tw"]) + int(queued["tc"])


def test_queue_timeout_closes_the_waiting_client(lt1: LoopThread) -> None:
    release = threading.Event()
    backend = Backend(lt1, _hold(release))
    pool = Pool("be", [Server("s1", backend.address, maxconn=1)], balance="roundrobin")
    logger = CaptureLogger()
    proxy = _proxy(lt1, pool, logger, timeout_queue=0.2)
    first = proxy.connect()
    assert first.recv(5) == b"hello"
    with proxy.connect() as second:
        assert recv_all(second) == b""  # closed without ever reaching the server
    fields = _fields(logger.wait_lines(1)[0])
    assert fields["term"] == "sQ"
    assert fields["backend_server"] == "be/<NOSRV>" and fields["tc"] == "-1"
    assert lt1.call(lambda: backend.connections) == 1
    assert lt1.call(lambda: pool.queued) == 0
    release.set()
    first.close()


@pytest.mark.parametrize("where", ["global", "frontend"])
def test_global_and_frontend_maxconn_hold_new_clients(lt1: LoopThread, where: str) -> None:
    release = threading.Event()
    backend = Backend(lt1, _hold(release))
    pool = Pool("be", [Server("s1", backend.address)], balance="roundrobin")
    if where == "global":
        proxy = _proxy(lt1, pool, limits=Limits(maxconn=1))
    else:
        proxy = _proxy(lt1, pool, fe_maxconn=1)
    first = proxy.connect()
    assert first.recv(5) == b"hello"
    second = proxy.connect()
    wait_until(lambda: proxy.sessions() == 2, what="the second connection to be parked")
    assert lt1.call(lambda: backend.connections) == 1
    assert lt1.call(lambda: proxy.service.feconn) == 1
    first.close()
    release.set()  # the first session ends once its server side closes too
    assert second.recv(5) == b"hello"
    second.close()


def test_refused_server_is_retried_then_the_client_is_closed(lt1: LoopThread) -> None:
    pool = Pool("be", [Server("s1", f"127.0.0.1:{free_port()}")], balance="roundrobin")
    logger = CaptureLogger()
    proxy = _proxy(lt1, pool, logger, retries=2, timeout_connect=0.05)
    with proxy.connect() as sock:
        sock.sendall(b"data")
        assert recv_all(sock) == b""
    fields = _fields(logger.wait_lines(1)[0])
    assert fields["term"] == "SC" and fields["retries"] == "2"
    assert fields["backend_server"] == "be/s1" and fields["tc"] == "-1"  # as HAProxy logs it
    assert lt1.call(lambda: pool.member("s1").inflight) == 0


def test_redispatch_moves_a_failed_connection_to_another_server(lt1: LoopThread) -> None:
    good = Backend(lt1, named("s2"))
    pool = Pool(
        "be",
        [Server("s1", f"127.0.0.1:{free_port()}"), Server("s2", good.address)],
        balance="roundrobin",
    )
    logger = CaptureLogger()
    proxy = _proxy(lt1, pool, logger, retries=3, redispatch=-1)
    with proxy.connect() as sock:
        assert recv_all(sock) == b"s2"
    fields = _fields(logger.wait_lines(1)[0])
    # roundrobin with two usable servers redispatches on the first retry (HAProxy does).
    assert fields["backend_server"] == "be/s2" and fields["retries"] == "+1"


def test_redispatch_with_a_hash_waits_for_the_last_retry(lt1: LoopThread) -> None:
    good = Backend(lt1, named("good"))
    refused = f"127.0.0.1:{free_port()}"
    probe = Pool(
        "be", [Server("a", "127.0.0.1:1"), Server("b", "127.0.0.1:2")], "source", "consistent"
    )
    first = probe.pick(Request(src="127.0.0.1")).name
    addresses = {first: refused, ({"a", "b"} - {first}).pop(): good.address}
    # Consistent hashing honours "avoid" on redispatch (map-based HAProxy does not).
    pool = Pool("be", [Server(n, addresses[n]) for n in ("a", "b")], "source", "consistent")
    logger = CaptureLogger()
    proxy = _proxy(lt1, pool, logger, retries=3, redispatch=-1, timeout_connect=0.05)
    with proxy.connect(src="127.0.0.1") as sock:
        assert recv_all(sock) == b"good"
    fields = _fields(logger.wait_lines(1)[0])
    assert fields["retries"] == "+3"  # two retries on the hashed server, the last elsewhere
    assert lt1.call(lambda: proxy.service.registry.backend("be").wretr) >= 2


def test_no_usable_server_closes_and_logs_nosrv(lt1: LoopThread) -> None:
    pool = Pool("be", [Server("s1", "127.0.0.1:1")], balance="roundrobin")
    pool.set_state("s1", "maint")
    logger = CaptureLogger()
    proxy = _proxy(lt1, pool, logger)
    with proxy.connect() as sock:
        assert recv_all(sock) == b""
    fields = _fields(logger.wait_lines(1)[0])
    assert fields["backend_server"] == "be/<NOSRV>" and fields["term"] == "SC"


def test_idle_client_times_out(lt1: LoopThread) -> None:
    release = threading.Event()
    backend = Backend(lt1, _hold(release))
    pool = Pool("be", [Server("s1", backend.address)], balance="roundrobin")
    logger = CaptureLogger()
    proxy = _proxy(lt1, pool, logger, timeout_client=0.2)
    with proxy.connect() as sock:
        assert recv_all(sock) == b"hello"  # then the proxy closes the idle session
    assert _fields(logger.wait_lines(1)[0])["term"] == "cD"
    release.set()


def test_idle_server_times_out(lt1: LoopThread) -> None:
    release = threading.Event()
    backend = Backend(lt1, _hold(release))
    pool = Pool("be", [Server("s1", backend.address)], balance="roundrobin")
    logger = CaptureLogger()
    proxy = _proxy(lt1, pool, logger, timeout_server=0.2)
    with proxy.connect() as sock:
        assert recv_all(sock) == b"hello"
    assert _fields(logger.wait_lines(1)[0])["term"] == "sD"
    release.set()


@pytest.mark.parametrize(
    ("timeouts", "at_least", "before"),
    [
        # The relay timeout is shorter than the connect's: it must not wait for it.
        ({"timeout_connect": 5.0, "timeout_client": 0.3}, 0.3, 3.0),
        ({"timeout_connect": 5.0, "timeout_server": 0.3}, 0.3, 3.0),
        # The connect's wake-up comes first and must arm the relay timeout then.
        ({"timeout_connect": 0.2, "timeout_client": 0.6}, 0.6, 4.0),
    ],
    ids=["client-under-connect", "server-under-connect", "connect-under-client"],
)
def test_an_idle_session_ends_when_its_relay_timeout_expires(
    lt1: LoopThread, timeouts: dict[str, float], at_least: float, before: float
) -> None:
    release = threading.Event()
    backend = Backend(lt1, _hold(release))
    pool = Pool("be", [Server("s1", backend.address)], balance="roundrobin")
    proxy = _proxy(lt1, pool, **timeouts)  # type: ignore[arg-type]
    started = time.monotonic()
    with proxy.connect() as sock:
        assert recv_all(sock) == b"hello"
    assert at_least <= time.monotonic() - started < before
    release.set()


def test_traffic_keeps_a_session_past_its_timeouts(lt1: LoopThread) -> None:
    """Linked sockets count their moves in C, and the session asks for them when a
    timeout is due: a session busy for three times its timeouts stays up, and the
    idle time counts from the last byte."""
    from l4_harness import echo

    backend = Backend(lt1, echo)
    pool = Pool("be", [Server("s1", backend.address)], balance="roundrobin")
    logger = CaptureLogger()
    proxy = _proxy(lt1, pool, logger, timeout_client=0.3, timeout_server=0.3)
    with proxy.connect() as sock:
        sock.settimeout(5)
        busy_until = time.monotonic() + 1.0
        pings = 0
        while time.monotonic() < busy_until:
            sock.sendall(b"ping")
            assert sock.recv(4) == b"ping"
            pings += 1
            time.sleep(0.05)
        last = time.monotonic()
        assert recv_all(sock) == b""  # then idle: closed by the timeout
        idle = time.monotonic() - last
    fields = _fields(logger.wait_lines(1)[0])
    assert fields["term"] in ("cD", "sD") and 0.25 <= idle < 2.0
    assert int(fields["bytes"]) == 4 * pings  # read from the server, counted in C


def test_client_fin_timeout_ends_a_half_closed_session(lt1: LoopThread) -> None:
    release = threading.Event()
    backend = Backend(lt1, _hold(release))
    pool = Pool("be", [Server("s1", backend.address)], balance="roundrobin")
    logger = CaptureLogger()
    tb = BackendRuntime(pool.name, "tcp", pool, timeout_connect=2, timeout_server=30)
    fe = TcpFrontend(
        "fe",
        default_backend=tb,
        timeout_client=30,
        timeout_client_fin=0.2,
        logger=logger,
        log_format="tcplog",
    )
    proxy = Proxy(lt1, fe)
    with proxy.connect() as sock:
        assert sock.recv(5) == b"hello"
        sock.shutdown(socket.SHUT_WR)  # half-closed: now client-fin applies, not 30 s
        assert recv_all(sock) == b""
    assert _fields(logger.wait_lines(1)[0])["term"] == "cD"
    release.set()


def test_connect_timeout_on_a_server_that_never_answers(lt1: LoopThread) -> None:
    # A listener whose accept queue is full drops SYNs: connects neither succeed nor fail.
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(0)
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(blackhole.getsockname())
        fillers.append(filler)
    address = f"127.0.0.1:{blackhole.getsockname()[1]}"
    pool = Pool("be", [Server("s1", address)], balance="roundrobin")
    logger = CaptureLogger()
    proxy = _proxy(lt1, pool, logger, timeout_connect=0.2, retries=1)
    with proxy.connect() as sock:
        assert recv_all(sock) == b""
    fields = _fields(logger.wait_lines(1)[0])
    assert fields["term"] == "sC" and fields["retries"] == "1"
    for filler in fillers:
        filler.close()
    blackhole.close()


def test_tunnel_timeout_replaces_client_and_server_timeouts(lt1: LoopThread) -> None:
    release = threading.Event()
    backend = Backend(lt1, _hold(release))
    pool = Pool("be", [Server("s1", backend.address)], balance="roundrobin")
    logger = CaptureLogger()
    proxy = _proxy(lt1, pool, logger, timeout_server=30.0, timeout_tunnel=0.2)
    with proxy.connect() as sock:
        assert recv_all(sock) == b"hello"  # idle past `timeout tunnel`: closed
    assert _fields(logger.wait_lines(1)[0])["term"] == "cD"
    release.set()


@pytest.mark.parametrize("where", ["global", "frontend"])
def test_bytes_sent_while_parked_are_relayed_once_admitted(lt1: LoopThread, where: str) -> None:
    from l4_harness import echo

    backend = Backend(lt1, echo)
    pool = Pool("be", [Server("s1", backend.address)], balance="roundrobin")
    if where == "global":
        proxy = _proxy(lt1, pool, limits=Limits(maxconn=1))
    else:
        proxy = _proxy(lt1, pool, fe_maxconn=1)
    first = proxy.connect()
    first.sendall(b"1")
    assert first.recv(1) == b"1"
    second = proxy.connect()
    second.sendall(b"sent while parked")
    wait_until(lambda: proxy.sessions() == 2, what="the second connection to be parked")
    first.shutdown(socket.SHUT_WR)
    assert recv_all(first) == b""
    first.close()
    second.shutdown(socket.SHUT_WR)
    assert recv_all(second) == b"sent while parked"
    second.close()
