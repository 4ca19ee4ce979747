"""Side by side with a real HAProxy 2.6: PROXY protocol both ways, tcplog line shape."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket as socket_mod
import struct
import time as time_mod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from l4_harness import Backend, CaptureLogger, LoopThread, Proxy, named, recv_all, wait_until

from balancekit import Backend as Pool
from balancekit import Server
from balancekit.config import BackendRuntime, load_text
from balancekit_server.process.runtime import Runtime
from balancekit_server.tcp import Listener, TcpFrontend
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


@contextlib.contextmanager
def balancekit_logging(
    lt: LoopThread, head: str, proxy: str
) -> Iterator[tuple[int, Callable[[], str]]]:
    """Run `head` + `proxy` (a `listen px` bound to port 0) in balancekit's Runtime with the
    head's `log stdout` line sent to a UDP socket here instead: yields the listener's port
    and a function returning the next log line."""
    udp = socket_mod.socket(socket_mod.AF_INET, socket_mod.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(10)
    target = f"log 127.0.0.1:{udp.getsockname()[1]} format raw local0"
    runtime = Runtime(
        load_text(head.replace("log stdout format raw local0", target) + proxy).config,
        quiet=True,
    )
    lt.run(runtime.start())
    try:
        yield runtime.addresses["px"][0][1], lambda: udp.recv(4096).decode()
    finally:
        lt.call(runtime.hard_stop)
        udp.close()


@pytest.mark.parametrize("version", ["send-proxy", "send-proxy-v2"])
def test_haproxy_sends_proxy_header_to_our_accept_proxy_bind(lt1: LoopThread, version: str) -> None:
    target = Backend(lt1, named("behind"))
    logger = CaptureLogger()
    pool = Pool("be", [Server("s1", target.address)])
    fe = TcpFrontend(
        "ours",
        default_backend=BackendRuntime(pool.name, "tcp", pool, timeout_connect=2),
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
            "ours",
            default_backend=BackendRuntime("be", "tcp", Pool("be", [server]), timeout_connect=2),
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
        default_backend=BackendRuntime(
            "be", "tcp", Pool("be", [Server("s1", target.address)]), timeout_connect=2
        ),
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
    for field in ("ci", "ft", "b", "s", "bytes", "ts", "conns", "queues"):
        assert ours[field] == theirs[field], field


@pytest.mark.parametrize(
    ("balance", "redispatch"),
    [("roundrobin", True), ("roundrobin", False), ("source", True)],
    ids=["roundrobin-redispatch", "roundrobin-no-redispatch", "source-map-redispatch"],
)
def test_refused_server_retries_like_haproxy(
    lt1: LoopThread, balance: str, redispatch: bool
) -> None:
    """Same config, a refused first server: same answer and same log fields as HAProxy."""
    import socket

    from l4_harness import free_port

    from support.haproxy import HAProxy

    good = Backend(lt1, named("good"))
    refused = free_port()
    body = f"""
    balance {balance}
    retries 2
    {"option redispatch" if redispatch else ""}
    timeout connect 100ms
    server s1 127.0.0.1:{refused}
    server s2 {good.address}
"""
    src = "127.0.0.1"
    # For `source`, find a client address that hashes to the refused s1 (same map as HAProxy).
    if balance == "source":
        pool = Pool("p", [Server("s1", "127.0.0.1:1"), Server("s2", "127.0.0.1:2")], "source")
        from balancekit import Request

        src = next(
            f"127.0.0.{i}"
            for i in range(1, 250)
            if pool.pick(Request(src=f"127.0.0.{i}")).name == "s1"
        )

    def run(port: int) -> bytes:
        with socket.socket() as sock:
            sock.settimeout(10)
            sock.bind((src, 0))
            sock.connect(("127.0.0.1", port))
            try:
                return recv_all(sock)
            except ConnectionResetError:
                return b""

    ha_config = HAPROXY_HEAD + "\nlisten px\n    bind {listen:px}\n" + body
    with HAProxy(ha_config) as haproxy:
        theirs_answer = run(haproxy.port("px"))
        wait_until(lambda: bool(_tcplog_lines(haproxy.log())), what="HAProxy's log line")
        theirs = _tcplog_lines(haproxy.log())[0]
    proxy = "\nlisten px\n    bind 127.0.0.1:0\n" + body
    with balancekit_logging(lt1, HAPROXY_HEAD, proxy) as (our_port, next_line):
        ours_answer = run(our_port)
        ours = TCPLOG.match(next_line())
    assert ours is not None
    assert ours_answer == theirs_answer
    for field in ("s", "ts", "conns", "queues"):
        assert ours[field] == theirs[field], (field, ours.group(0), theirs.group(0))


SNI_ROUTING = """
    tcp-request inspect-delay 2s
    tcp-request content accept if {{ req_ssl_sni -m found }}
    use_backend shop if {{ req_ssl_sni -i shop.test }}
    default_backend other

backend shop
    server s {shop}

backend other
    server o {other}
"""


def _client_hello(server_name: str | None) -> bytes:
    """The first flight of a real TLS client (Python's ssl), as bytes on the wire."""
    import ssl

    context = ssl.create_default_context()
    if server_name is None:
        context.check_hostname = False
    outgoing = ssl.MemoryBIO()
    tls = context.wrap_bio(ssl.MemoryBIO(), outgoing, server_hostname=server_name)
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def _answers_of_both(lt: LoopThread, rules: str, data: bytes) -> tuple[bytes, bytes]:
    """Send `data` through HAProxy and through balancekit, each running `frontend fe`
    with `rules`; what each connection answered (theirs, ours)."""

    def run(port: int) -> bytes:
        with socket_mod.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(data)
            return recv_all(sock)

    with HAProxy(HAPROXY_HEAD + "\nfrontend fe\n    bind {listen:fe}\n" + rules) as haproxy:
        theirs = run(haproxy.port("fe"))
    runtime = Runtime(
        load_text(HAPROXY_HEAD + "\nfrontend fe\n    bind 127.0.0.1:0\n" + rules).config, quiet=True
    )
    lt.run(runtime.start())
    try:
        ours = run(runtime.addresses["fe"][0][1])
    finally:
        lt.call(runtime.hard_stop)
    return theirs, ours


@pytest.mark.parametrize(
    "payload",
    ["shop.test", "SHOP.test", "other.test", None, "plain"],
    ids=["sni-shop", "sni-case", "sni-other", "no-sni", "not-tls"],
)
def test_sni_routing_without_terminating_tls_matches_haproxy(
    lt1: LoopThread, payload: str | None
) -> None:
    """`req.ssl_sni` with `tcp-request inspect-delay`: the ClientHello picks the backend."""
    shop = Backend(lt1, named("shop"))
    other = Backend(lt1, named("other"))
    data = b"hello plain\r\n" if payload == "plain" else _client_hello(payload)
    rules = SNI_ROUTING.format(shop=shop.address, other=other.address)
    theirs, ours = _answers_of_both(lt1, rules, data)
    assert theirs in (b"shop", b"other")
    assert ours == theirs


HELLO_TYPE_ROUTING = """
    tcp-request inspect-delay 1s
    tcp-request content accept if {{ req_ssl_hello_type 1 }}
    use_backend shop if {{ req_ssl_hello_type 1 }}
    use_backend third if {{ req.ssl_hello_type 2 }}
    default_backend other

backend shop
    server s {shop}

backend third
    server t {third}

backend other
    server o {other}
"""

# A complete TLS record holding a 4-byte handshake message of type 2 (ServerHello).
_SERVER_HELLO_RECORD = b"\x16\x03\x03\x00\x08\x02\x00\x00\x04abcd"


@pytest.mark.parametrize(
    "payload",
    ["hello-sni", "hello-no-sni", "type-2", "cut-short", "old-version", "plain"],
)
def test_ssl_hello_type_routing_matches_haproxy(lt1: LoopThread, payload: str) -> None:
    """`req_ssl_hello_type` / `req.ssl_hello_type` with `tcp-request inspect-delay`."""
    shop, third, other = (Backend(lt1, named(n)) for n in ("shop", "third", "other"))
    data = {
        "hello-sni": lambda: _client_hello("shop.test"),
        "hello-no-sni": lambda: _client_hello(None),
        "type-2": lambda: _SERVER_HELLO_RECORD,
        "cut-short": lambda: _client_hello("shop.test")[:40],  # the delay expires
        "old-version": lambda: b"\x16\x02\x00" + _SERVER_HELLO_RECORD[3:],
        "plain": lambda: b"hello plain\r\n",
    }[payload]()
    rules = HELLO_TYPE_ROUTING.format(shop=shop.address, third=third.address, other=other.address)
    theirs, ours = _answers_of_both(lt1, rules, data)
    expected = {"hello-sni": b"shop", "hello-no-sni": b"shop", "type-2": b"third"}
    assert theirs == expected.get(payload, b"other")
    assert ours == theirs


@pytest.mark.parametrize("version", ["send-proxy", "send-proxy-v2"])
def test_tls_behind_haproxy_with_proxy_protocol(
    lt: LoopThread, tmp_path: Path, version: str
) -> None:
    """`bind … ssl crt … accept-proxy` behind an L4 HAProxy (an NLB-style setup):
    PROXY header in clear, then the client's TLS, terminated by us."""
    import socket
    import ssl

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("app.test")
    pem = tmp_path / "app.pem"
    pem.write_bytes(
        cert.private_key_pem.bytes() + b"".join(b.bytes() for b in cert.cert_chain_pems)
    )
    target = Backend(lt, named("behind-tls"))
    logger = CaptureLogger()
    fe = TcpFrontend(
        "ours",
        default_backend=BackendRuntime(
            "be", "tcp", Pool("be", [Server("s1", target.address)]), timeout_connect=2
        ),
        logger=logger,
        log_format="tcplog",
    )
    from balancekit_server.net.tls import server_context

    proxy = Proxy(lt, fe, listeners=[Listener(accept_proxy=True, ssl=server_context(str(pem)))])
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
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with HAProxy(config) as haproxy:
        for _ in range(3):  # several sessions: the header and the hello often share a segment
            with socket.socket() as raw:
                raw.settimeout(10)
                raw.bind(("127.0.0.9", 0))
                raw.connect(("127.0.0.1", haproxy.port("hfe")))
                client_port = raw.getsockname()[1]
                with context.wrap_socket(raw, server_hostname="app.test") as tls:
                    assert tls.recv(100) == b"behind-tls"
            line = logger.wait_lines(1)[-1]
            ours = TCPLOG.match(line)
            assert ours is not None, line
            assert (ours["ci"], int(ours["cp"]), ours["ft"]) == ("127.0.0.9", client_port, "ours~")
            logger.lines.clear()


CUSTOM_FORMAT = (
    "%{+Q}o %ci %fi:%fp %f %ft %b %s %si:%sp %B %U %ts %ac/%fc/%bc/%sc/%rc %sq/%bq %%done"
)


@dataclass
class LoggedRun:
    """One session through a proxy running a `log-format` ending in `%%done`."""

    line: str
    listen_port: int
    client_port: int


def _custom_log_lines(lt: LoopThread, log_format: str) -> tuple[LoggedRun, LoggedRun]:
    """The same session (5 bytes, a half-close, the answer) through HAProxy and through
    balancekit, both with `log_format`: (theirs, ours)."""
    import socket

    from l4_harness import count_then_answer

    target = Backend(lt, count_then_answer)  # reads everything: no reset, a clean close
    proxy_body = f"""
    log-format "{log_format}"
    server s1 {target.address}
"""

    def run(port: int) -> int:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"12345")
            sock.shutdown(socket.SHUT_WR)
            assert recv_all(sock) == b"got 5"
            return int(sock.getsockname()[1])

    with HAProxy(HAPROXY_HEAD + "\nlisten px\n    bind {listen:px}\n" + proxy_body) as haproxy:
        port = haproxy.port("px")
        client = run(port)
        wait_until(lambda: "%done" in haproxy.log(), what="HAProxy's custom log line")
        theirs = LoggedRun(
            next(x for x in haproxy.log().splitlines() if "%done" in x), port, client
        )
    proxy = "\nlisten px\n    bind 127.0.0.1:0\n" + proxy_body
    with balancekit_logging(lt, HAPROXY_HEAD, proxy) as (our_port, next_line):
        client = run(our_port)
        ours = LoggedRun(next_line(), our_port, client)
    return theirs, ours


def test_custom_log_format_renders_like_haproxy(lt1: LoopThread) -> None:
    """The same `log-format` line in HAProxy and in balancekit gives the same fields."""
    theirs, ours = _custom_log_lines(lt1, CUSTOM_FORMAT)
    # Same fields; only the listening port (%fp) differs between the two proxies.
    assert ours.line.replace(f":{ours.listen_port} ", ":PORT ") == theirs.line.replace(
        f":{theirs.listen_port} ", ":PORT "
    ), (ours, theirs)


SAMPLE_FORMAT = (
    "%ci %[src] %[dst] %{+Q}[src] %[ssl_fc_sni] %{+Q}[ssl_fc_sni] %[src,ipmask(24)] "
    "%[src,field(1,.)] %[dst_port,length] %{+Q}o %[src] %bi %%done %bp %[src_port]"
)


def test_log_format_samples_and_backend_source_like_haproxy(lt1: LoopThread) -> None:
    """`%[sample]` (missing samples, converters, quoting) and `%bi`/`%bp` in `log-format`."""
    theirs, ours = _custom_log_lines(lt1, SAMPLE_FORMAT)
    # The clients' ports and our sources towards the server differ between the two
    # runs; everything before them is the same text.
    their_head, their_bp, their_cp = theirs.line.rsplit(" ", 2)
    our_head, our_bp, our_cp = ours.line.rsplit(" ", 2)
    # A sample is quoted under %{+Q}o even when it is a number (as HAProxy does).
    assert (our_cp, their_cp) == (f'"{ours.client_port}"', f'"{theirs.client_port}"')
    assert our_bp.isdigit() and their_bp.isdigit()
    assert our_head == their_head, (ours, theirs)
    assert '"127.0.0.1" %done' in ours.line  # %bi, quoted by %{+Q}o


def test_without_tcplog_a_connect_line_like_haproxy(lt1: LoopThread) -> None:
    """`log` without `option tcplog`: one "Connect from" line per connection."""
    import socket

    target = Backend(lt1, named("x"))
    head = HAPROXY_HEAD.replace("    option tcplog\n", "")
    body = f"\n    server s1 {target.address}\n"

    def run(port: int) -> int:
        with socket.socket() as sock:
            sock.settimeout(10)
            sock.bind(("127.0.0.12", 0))
            sock.connect(("127.0.0.1", port))
            assert recv_all(sock) == b"x"
            return int(sock.getsockname()[1])

    with HAProxy(head + "\nlisten px\n    bind {listen:px}" + body) as haproxy:
        their_port = haproxy.port("px")
        their_client = run(their_port)
        wait_until(lambda: "Connect from" in haproxy.log(), what="HAProxy's connect line")
        theirs = next(x for x in haproxy.log().splitlines() if "Connect from" in x)
    with balancekit_logging(lt1, head, "\nlisten px\n    bind 127.0.0.1:0" + body) as (
        our_port,
        next_line,
    ):
        our_client = run(our_port)
        ours = next_line()
    assert (
        theirs.strip()
        == f"Connect from 127.0.0.12:{their_client} to 127.0.0.1:{their_port} (px/TCP)"
    )
    assert ours == f"Connect from 127.0.0.12:{our_client} to 127.0.0.1:{our_port} (px/TCP)"


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # reads until EOF, says nothing


async def _resetter(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(1)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket_mod.SOL_SOCKET, socket_mod.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


TERMINATIONS = {
    # name: (timeouts, backend handler, client action)
    "client-timeout": ("timeout client 200ms\n    timeout server 5s", _silent, "wait"),
    "server-timeout": ("timeout client 5s\n    timeout server 200ms", _silent, "wait"),
    "server-reset": ("timeout client 5s\n    timeout server 5s", _resetter, "send"),
    "client-reset": ("timeout client 5s\n    timeout server 5s", _silent, "reset"),
    "both-closed": ("timeout client 5s\n    timeout server 5s", None, "shut"),
}


@pytest.mark.parametrize("scenario", list(TERMINATIONS))
def test_termination_states_match_haproxy(lt1: LoopThread, scenario: str) -> None:
    from l4_harness import count_then_answer, rst

    timeouts, handler, action = TERMINATIONS[scenario]
    target = Backend(lt1, handler or count_then_answer)
    body = f"\n    {timeouts}\n    server s1 {target.address}\n"
    head = HAPROXY_HEAD.replace("    timeout client 10s\n    timeout server 10s\n", "")

    def run(port: int) -> None:
        sock = socket_mod.create_connection(("127.0.0.1", port), timeout=10)
        if action == "reset":
            sock.sendall(b"x")
            wait_until(lambda: target.active >= 1, what="the session to reach the server")
            time_mod.sleep(0.05)
            rst(sock)
            return
        if action == "send":
            sock.sendall(b"x")
        if action == "shut":
            sock.sendall(b"abc")
            sock.shutdown(socket_mod.SHUT_WR)
        with contextlib.suppress(OSError):
            recv_all(sock)
        sock.close()

    with HAProxy(head + "\nlisten px\n    bind {listen:px}" + body) as haproxy:
        run(haproxy.port("px"))
        wait_until(lambda: bool(_tcplog_lines(haproxy.log())), what="HAProxy's log line")
        theirs = _tcplog_lines(haproxy.log())[0]
    with balancekit_logging(lt1, head, "\nlisten px\n    bind 127.0.0.1:0" + body) as (
        our_port,
        next_line,
    ):
        run(our_port)
        ours = TCPLOG.match(next_line())
    assert ours is not None
    assert (ours["ts"], ours["s"], ours["bytes"]) == (theirs["ts"], theirs["s"], theirs["bytes"])


async def _answer_then_reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(1)
    writer.write(b"shop")
    await writer.drain()
    await asyncio.sleep(0.05)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket_mod.SOL_SOCKET, socket_mod.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def test_client_sees_a_server_reset_like_haproxy(lt1: LoopThread) -> None:
    """A server that answers and then resets: HAProxy hands the client the answer and
    a clean close (it passes resets on towards servers only); so do we."""
    target = Backend(lt1, _answer_then_reset)
    body = f"\n    server s1 {target.address}\n"

    def run(port: int) -> tuple[bytes, str]:
        with socket_mod.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"x")
            received = b""
            try:
                while data := sock.recv(100):
                    received += data
            except ConnectionResetError:
                return received, "reset"
            return received, "closed"

    with HAProxy(HAPROXY_HEAD + "\nlisten px\n    bind {listen:px}" + body) as haproxy:
        theirs = run(haproxy.port("px"))
    with balancekit_logging(lt1, HAPROXY_HEAD, "\nlisten px\n    bind 127.0.0.1:0" + body) as (
        our_port,
        next_line,
    ):
        ours = run(our_port)
        line = TCPLOG.match(next_line())
    assert theirs == (b"shop", "closed")
    assert ours == theirs
    assert line is not None and line["ts"] == "SD"


def test_queued_sessions_log_like_haproxy(lt1: LoopThread) -> None:
    """Server maxconn 1, three clients: two wait in the queue, then run."""
    from l4_harness import count_then_answer

    target = Backend(lt1, count_then_answer)
    body = f"\n    server s1 {target.address} maxconn 1\n"

    def run(port: int, who: str, log: Callable[[], str] = lambda: "") -> None:
        socks = [socket_mod.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
        for i, sock in enumerate(socks):
            sock.sendall(b"x" * (i + 1))
        # One reached the server; the others queue behind it.
        wait_until(lambda: target.connections >= 1, what="the first session")
        time_mod.sleep(0.1)
        # The proxy may serve them in any order: shut all, then read every answer.
        for sock in socks:
            sock.shutdown(socket_mod.SHUT_WR)
        for i, sock in enumerate(socks):
            answer = recv_all(sock)
            assert answer.startswith(b"got "), (who, i, answer, log())
            sock.close()

    with HAProxy(HAPROXY_HEAD + "\nlisten px\n    bind {listen:px}" + body) as haproxy:
        start = target.connections
        run(haproxy.port("px"), "haproxy", haproxy.log)
        wait_until(lambda: len(_tcplog_lines(haproxy.log())) == 3, what="HAProxy's 3 lines")
        theirs = sorted(_tcplog_lines(haproxy.log()), key=lambda m: m["bytes"])
    assert target.connections - start == 3
    proxy = "\nlisten px\n    bind 127.0.0.1:0" + body
    with balancekit_logging(lt1, HAPROXY_HEAD, proxy) as (our_port, next_line):
        target.connections = 0
        run(our_port, "balancekit")
        lines = [TCPLOG.match(next_line()) for _ in range(3)]
    ours = sorted((m for m in lines if m is not None), key=lambda m: m["bytes"])
    assert sorted((m["ts"], m["queues"], m["bytes"]) for m in ours) == sorted(
        (m["ts"], m["queues"], m["bytes"]) for m in theirs
    )


@pytest.mark.parametrize(
    ("condition", "answered"),
    [("{ src 127.0.0.1 }", False), ("{ src 10.0.0.0/8 }", True)],
    ids=["rejected", "let-through"],
)
def test_backend_tcp_content_rules_match_haproxy(
    lt1: LoopThread, condition: str, answered: bool
) -> None:
    """A backend's own `tcp-request content` rules run as the session enters it."""
    shop = Backend(lt1, named("shop"))
    rules = f"""
    default_backend guarded

backend guarded
    tcp-request content reject if {condition}
    server shop {shop.address}
"""
    theirs, ours = _answers_of_both(lt1, rules, b"hello\r\n")
    assert theirs == (b"shop" if answered else b"")
    assert ours == theirs


def _closes_of_both(lt: LoopThread, rules: str, tries: int = 10) -> dict[str, set[str]]:
    """How each proxy closes clients that sent a line (`fin` or `reset`), `tries` times."""

    def run(port: int) -> str:
        try:
            with socket_mod.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(b"hello\r\n")
                return "fin" if recv_all(sock) == b"" else "data"
        except ConnectionResetError:
            return "reset"

    with HAProxy(HAPROXY_HEAD + "\nfrontend fe\n    bind {listen:fe}\n" + rules) as haproxy:
        theirs = {run(haproxy.port("fe")) for _ in range(tries)}
    runtime = Runtime(
        load_text(HAPROXY_HEAD + "\nfrontend fe\n    bind 127.0.0.1:0\n" + rules).config, quiet=True
    )
    lt.run(runtime.start())
    try:
        ours = {run(runtime.addresses["fe"][0][1]) for _ in range(tries)}
    finally:
        lt.call(runtime.hard_stop)
    return {"haproxy": theirs, "balancekit": ours}


@pytest.mark.parametrize(("kind", "close"), [("connection", "reset"), ("content", "fin")])
def test_rejected_clients_are_closed_like_haproxy(lt1: LoopThread, kind: str, close: str) -> None:
    """`tcp-request connection reject` resets; `content reject` has read what the
    client sent and closes with a FIN, even when the bytes come after the verdict."""
    shop = Backend(lt1, named("shop"))
    rules = f"""
    tcp-request {kind} reject if {{ src 127.0.0.1 }}
    default_backend b

backend b
    server shop {shop.address}
"""
    got = _closes_of_both(lt1, rules)
    assert got["haproxy"] == {close}
    assert got["balancekit"] == got["haproxy"]
