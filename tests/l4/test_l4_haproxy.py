"""Side by side with a real HAProxy 2.6: PROXY protocol both ways, tcplog line shape."""

from __future__ import annotations

import re

import pytest
from l4_harness import Backend, CaptureLogger, LoopThread, Proxy, named, recv_all, wait_until

from balancekit import Backend as Pool
from balancekit import Server
from balancekit_server.tcp import Listener, TcpBackend, TcpFrontend
from support.haproxy import HAProxy

pytestmark = pytest.mark.haproxy

TCPLOG = re.compile(
    r"^(?P<ci>[\d.]+):(?P<cp>\d+) \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d\.\d{3}\] "
    r"(?P<ft>\S+) (?P<b>[^/\s]+)/(?P<s>\S+) (?P<tw>-?\d+)/(?P<tc>-?\d+)/(?P<tt>\d+) "
    r"(?P<bytes>\d+) (?P<ts>[-A-Za-z]{2}) (?P<conns>\d+/\d+/\d+/\d+/\+?\d+) (?P<queues>\d+/\d+)$"
)

HAPROXY_HEAD = """
global
    log stdout format raw local0

defaults
    mode tcp
    log global
    option tcplog
    timeout connect 2s
    timeout client 10s
    timeout server 10s
"""


def _tcplog_lines(text: str) -> list[re.Match[str]]:
    return [m for line in text.splitlines() if (m := TCPLOG.match(line.strip()))]


@pytest.mark.parametrize("version", ["send-proxy", "send-proxy-v2"])
def test_haproxy_sends_proxy_header_to_our_accept_proxy_bind(lt1: LoopThread, version: str) -> None:
    target = Backend(lt1, named("behind"))
    logger = CaptureLogger()
    pool = Pool("be", [Server("s1", target.address)])
    fe = TcpFrontend(
        "ours",
        default_backend=TcpBackend(pool, timeout_connect=2),
        logger=logger,
        log_format="tcplog",
    )
    proxy = Proxy(lt1, fe, listeners=[Listener(accept_proxy=True)])
    config = (
        HAPROXY_HEAD
        + f"""
frontend hfe
    bind {{listen:hfe}}
    default_backend hbe

backend hbe
    server ours 127.0.0.1:{proxy.port} {version}
"""
    )
    with HAProxy(config) as haproxy:
        import socket

        with socket.socket() as sock:
            sock.settimeout(10)
            sock.bind(("127.0.0.9", 0))
            sock.connect(("127.0.0.1", haproxy.port("hfe")))
            client_port = sock.getsockname()[1]
            assert recv_all(sock) == b"behind"
        ours = TCPLOG.match(logger.wait_lines(1)[0])
        assert ours is not None
        # Our log names the real client, known only through HAProxy's PROXY header.
        assert (ours["ci"], int(ours["cp"])) == ("127.0.0.9", client_port)


@pytest.mark.parametrize("v2", [False, True])
def test_we_send_proxy_header_that_haproxy_accepts(lt1: LoopThread, v2: bool) -> None:
    target = Backend(lt1, named("final"))
    config = (
        HAPROXY_HEAD
        + f"""
frontend hfe
    bind {{listen:hfe}} accept-proxy
    default_backend hbe

backend hbe
    server final {target.address}
"""
    )
    with HAProxy(config) as haproxy:
        server = Server(
            "h", f"127.0.0.1:{haproxy.port('hfe')}", send_proxy=not v2, send_proxy_v2=v2
        )
        fe = TcpFrontend(
            "ours", default_backend=TcpBackend(Pool("be", [server]), timeout_connect=2)
        )
        proxy = Proxy(lt1, fe)
        with proxy.connect(src="127.0.0.11") as sock:
            client_port = sock.getsockname()[1]
            assert recv_all(sock) == b"final"
        wait_until(lambda: bool(_tcplog_lines(haproxy.log())), what="HAProxy's log line")
        theirs = _tcplog_lines(haproxy.log())[0]
        # HAProxy logs the client we saw, from our PROXY header.
        assert (theirs["ci"], int(theirs["cp"])) == ("127.0.0.11", client_port)


def test_tcplog_line_has_haproxy_shape_and_values(lt1: LoopThread) -> None:
    """The same session through HAProxy and through us gives the same log fields."""
    target = Backend(lt1, named("hello-world"))
    logger = CaptureLogger()
    fe = TcpFrontend(
        "fe",
        default_backend=TcpBackend(Pool("be", [Server("s1", target.address)]), timeout_connect=2),
        logger=logger,
        log_format="tcplog",
    )
    proxy = Proxy(lt1, fe)
    config = (
        HAPROXY_HEAD
        + f"""
frontend fe
    bind {{listen:fe}}
    default_backend be

backend be
    server s1 {target.address}
"""
    )
    with HAProxy(config) as haproxy:
        import socket

        with socket.socket() as sock:
            sock.settimeout(10)
            sock.connect(("127.0.0.1", haproxy.port("fe")))
            assert recv_all(sock) == b"hello-world"
        wait_until(lambda: bool(_tcplog_lines(haproxy.log())), what="HAProxy's log line")
        theirs = _tcplog_lines(haproxy.log())[0]
    with proxy.connect() as sock:
        assert recv_all(sock) == b"hello-world"
    ours = TCPLOG.match(logger.wait_lines(1)[0])
    assert ours is not None, logger.lines
    print(theirs.group(0), ours.group(0), sep="\n")
    for field in ("ci", "ft", "b", "s", "bytes", "ts", "conns", "queues"):
        assert ours[field] == theirs[field], field
