"""Every balance algorithm through the forwarder, and tcp-request rules from a real config."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from l4_harness import Backend, LoopThread, Proxy, named, recv_all

from balancekit import Backend as Pool
from balancekit import Request, Server
from balancekit.config import BackendRuntime, load_text
from balancekit.routing import Decision
from balancekit_server.process.runtime import Runtime
from balancekit_server.tcp import TcpFrontend

ALGORITHMS = [
    ("roundrobin", None),
    ("static-rr", None),
    ("leastconn", None),
    ("first", None),
    ("source", None),
    ("source", "consistent"),
    ("uri", None),
    ("url_param uid", None),
    ("hdr(host)", "consistent"),
    ("random", None),
]


@pytest.mark.parametrize(("balance", "hash_type"), ALGORITHMS, ids=lambda v: str(v))
def test_every_algorithm_picks_what_the_pool_would(
    lt1: LoopThread, balance: str, hash_type: str | None
) -> None:
    """The forwarder feeds the real client address and releases each slot at close:
    a replay of the same requests on an identical pool gives the same servers."""
    names = ["s1", "s2", "s3"]
    backends = {n: Backend(lt1, named(n)) for n in names}
    weights = {"s1": 2, "s2": 1, "s3": 3}

    def pool(addresses: dict[str, str]) -> Pool:
        servers = [Server(n, addresses[n], weight=weights[n]) for n in names]
        return Pool("be", servers, balance, hash_type, rng=random.Random(7))

    live = pool({n: b.address for n, b in backends.items()})
    reference = pool({n: f"127.0.0.1:{i + 1}" for i, n in enumerate(names)})
    proxy = Proxy(
        lt1,
        TcpFrontend(
            "fe", default_backend=BackendRuntime(live.name, "tcp", live, timeout_connect=2)
        ),
    )
    sources = [f"127.0.{i % 3}.{1 + (i * 37) % 250}" for i in range(24)]
    seen, expected = [], []
    for src in sources:
        with proxy.connect(src=src) as sock:
            seen.append(recv_all(sock).decode())
        lease = reference.acquire(Request(src=src))
        assert lease.server is not None
        expected.append(lease.server.name)
        reference.release(lease)
    assert seen == expected
    if balance.startswith("source"):
        # Same client address, same server: the hash saw the real source.
        by_src: dict[str, set[str]] = {}
        for src, name in zip(sources, seen, strict=True):
            by_src.setdefault(src, set()).add(name)
        assert all(len(v) == 1 for v in by_src.values())
        assert len(set(seen)) > 1


RULES_CONFIG = """
global
    maxconn 50

defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s

frontend fe
    bind 127.0.0.1:0
    bind [::1]:0
    acl blocked src 127.0.0.2
    tcp-request connection reject if blocked
    acl content_blocked src 127.0.0.4
    tcp-request content reject if content_blocked
    acl to_b src 127.0.0.3
    use_backend b if to_b
    default_backend a

backend a
    server a1 {a}

backend b
    server b1 {b}
"""


@pytest.fixture
def running(lt1: LoopThread) -> Iterator[tuple[Runtime, dict[str, Backend]]]:
    backends = {"a": Backend(lt1, named("a1")), "b": Backend(lt1, named("b1"))}
    config = load_text(RULES_CONFIG.format(a=backends["a"].address, b=backends["b"].address)).config
    runtime = Runtime(config, quiet=True)
    lt1.run(runtime.start())
    yield runtime, backends
    lt1.call(runtime.hard_stop)


def _fetch(port: int, src: str, host: str = "127.0.0.1") -> bytes:
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.settimeout(10)
        sock.bind((src, 0))
        try:
            # A rejected client is reset; a fast proxy can do that before this
            # timed connect has read the socket's status, which then reports it.
            sock.connect((host, port))
            return recv_all(sock)
        except ConnectionResetError:
            return b""


def test_tcp_request_rules_and_use_backend_from_a_config(
    running: tuple[Runtime, dict[str, Backend]],
) -> None:
    runtime, backends = running
    (v4, v4_port), (v6, v6_port) = runtime.addresses["fe"]
    assert v4 == "127.0.0.1" and v6 == "::1"
    assert _fetch(v4_port, "127.0.0.1") == b"a1"
    assert _fetch(v4_port, "127.0.0.3") == b"b1"
    assert _fetch(v4_port, "127.0.0.2") == b""  # tcp-request connection reject
    assert _fetch(v4_port, "127.0.0.4") == b""  # tcp-request content reject
    assert _fetch(v6_port, "::1", host="::1") == b"a1"  # the IPv6 bind serves too
    # Rejected clients never reached a server.
    assert backends["a"].connections == 2 and backends["b"].connections == 1


def test_a_failing_router_closes_the_client_instead_of_hanging(
    lt1: LoopThread, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        filters_connections = False
        fixed_tcp = None

        def accept_connection(self, request: Request) -> bool:
            return True

        def route_tcp(self, request: Request) -> Decision:
            raise RuntimeError("rule engine bug")

    from l4_harness import CaptureLogger

    backend = Backend(lt1, named("never"))
    logger = CaptureLogger()
    fe = TcpFrontend(
        "fe",
        default_backend=BackendRuntime("be", "tcp", Pool("be", [Server("s1", backend.address)])),
        router=Broken(),
        logger=logger,
        log_format="tcplog",
    )
    proxy = Proxy(lt1, fe)
    with caplog.at_level("ERROR", logger="balancekit_server.tcp"):
        with proxy.connect(timeout=10) as sock:
            assert recv_all(sock) == b""
        assert " IC " in logger.wait_lines(1)[0]
    assert any("rule engine bug" in r.getMessage() or r.exc_info for r in caplog.records)
    assert backend.connections == 0
