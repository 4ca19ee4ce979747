"""`bind … ssl crt …` TLS termination in mode tcp, with certificates from trustme."""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from l4_harness import Backend, CaptureLogger, LoopThread, echo, recv_all

from balancekit.config import BackendRuntime, load_text
from balancekit_server.net.tls import TLSConfigError, cert_names, server_context
from balancekit_server.process.runtime import Runtime

CONFIG = """
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s

frontend tls_in
    bind 127.0.0.1:0 ssl crt {crt}
    default_backend plain

backend plain
    server s1 {backend}
"""


def _pem(ca: trustme.CA, path: Path, *names: str) -> Path:
    cert = ca.issue_cert(*names)
    with path.open("wb") as handle:
        handle.write(cert.private_key_pem.bytes())
        for blob in cert.cert_chain_pems:
            handle.write(blob.bytes())
    return path


@pytest.fixture
def crt_dir(ca: trustme.CA, tmp_path: Path) -> Path:
    folder = tmp_path / "certs"
    folder.mkdir()
    _pem(ca, folder / "1-default.pem", "default.test")
    _pem(ca, folder / "2-shop.pem", "shop.test", "*.shop.test")
    return folder


@pytest.fixture
def running(lt1: LoopThread, crt_dir: Path) -> Iterator[tuple[Runtime, Backend]]:
    backend = Backend(lt1, echo)
    config = load_text(CONFIG.format(crt=crt_dir, backend=backend.address)).config
    runtime = Runtime(config, quiet=True)
    lt1.run(runtime.start())
    yield runtime, backend
    lt1.call(runtime.hard_stop)


def _tls_roundtrip(port: int, ca: trustme.CA, sni: str, payload: bytes) -> tuple[bytes, list[str]]:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=sni) as tls,
    ):
        tls.sendall(payload)
        names = [v for k, v in tls.getpeercert().get("subjectAltName", ()) if k == "DNS"]
        data = b""
        while len(data) < len(payload):
            chunk = tls.recv(65536)
            if not chunk:
                break
            data += chunk
        return data, names


def test_tls_is_terminated_and_bytes_reach_a_plain_backend(
    running: tuple[Runtime, Backend], ca: trustme.CA
) -> None:
    runtime, backend = running
    port = runtime.addresses["tls_in"][0][1]
    payload = b"secret" * 10000
    data, names = _tls_roundtrip(port, ca, "default.test", payload)
    assert data == payload
    assert names == ["default.test"]
    assert backend.connections == 1


def test_sni_selects_the_certificate_from_a_crt_directory(
    running: tuple[Runtime, Backend], ca: trustme.CA
) -> None:
    runtime, _ = running
    port = runtime.addresses["tls_in"][0][1]
    data, names = _tls_roundtrip(port, ca, "api.shop.test", b"hi")
    assert data == b"hi"
    assert "*.shop.test" in names


def test_plain_client_on_a_tls_bind_is_closed(running: tuple[Runtime, Backend]) -> None:
    runtime, backend = running
    port = runtime.addresses["tls_in"][0][1]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        with contextlib.suppress(ConnectionResetError):
            recv_all(sock)
    assert backend.connections == 0


def test_tls_frontend_name_gets_a_tilde_in_tcplog(
    lt1: LoopThread, ca: trustme.CA, tmp_path: Path
) -> None:
    from l4_harness import Proxy

    from balancekit import Backend as Pool
    from balancekit import Server
    from balancekit_server.tcp import Listener, TcpFrontend

    backend = Backend(lt1, echo)
    logger = CaptureLogger()
    fe = TcpFrontend(
        "fe",
        default_backend=BackendRuntime("be", "tcp", Pool("be", [Server("s1", backend.address)])),
        logger=logger,
        log_format="tcplog",
    )
    context = server_context(str(_pem(ca, tmp_path / "one.pem", "one.test")))
    proxy = Proxy(lt1, fe, listeners=[Listener(ssl=context)])
    assert _tls_roundtrip(proxy.port, ca, "one.test", b"x")[0] == b"x"
    assert logger.wait_lines(1)[0].split()[2] == "fe~"


def test_bad_crt_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate")
    with pytest.raises(TLSConfigError, match=r"bogus\.pem"):
        server_context(str(bogus))
    with pytest.raises(TLSConfigError, match="no such file"):
        server_context(str(tmp_path / "missing.pem"))
    with pytest.raises(TLSConfigError, match=r"bogus\.pem"):
        cert_names(bogus)


def test_sni_of_a_terminated_connection_feeds_the_routing(
    lt: LoopThread, ca: trustme.CA, crt_dir: Path
) -> None:
    """The request the rules see carries the SNI (what `ssl_fc_sni` ACLs match)."""
    from l4_harness import Proxy, named

    from balancekit import Backend as Pool
    from balancekit import Request, Server
    from balancekit.routing import Decision
    from balancekit_server.tcp import Listener, TcpFrontend

    class BySni:
        filters_connections = False
        fixed_tcp = None

        def accept_connection(self, request: Request) -> bool:
            return True

        def route_tcp(self, request: Request) -> Decision:
            return Decision("accept", "shop" if request.sni.endswith("shop.test") else None)

    shop = Backend(lt, named("shop"))
    other = Backend(lt, named("default"))
    fe = TcpFrontend(
        "fe",
        default_backend=BackendRuntime("other", "tcp", Pool("other", [Server("o", other.address)])),
        backends={"shop": BackendRuntime("shop", "tcp", Pool("shop", [Server("s", shop.address)]))},
        router=BySni(),
    )
    proxy = Proxy(lt, fe, listeners=[Listener(ssl=server_context(str(crt_dir)))])

    def fetch(sni: str) -> bytes:
        context = ssl.create_default_context()
        ca.configure_trust(context)
        with (
            socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=sni) as tls,
        ):
            return tls.recv(100)

    assert fetch("www.shop.test") == b"shop"
    assert fetch("default.test") == b"default"


def test_proxy_header_and_client_hello_in_one_segment(
    lt: LoopThread, ca: trustme.CA, tmp_path: Path
) -> None:
    """`accept-proxy` + `ssl`: the bytes read with the header start the TLS handshake."""
    from l4_harness import Proxy, named

    from balancekit import Backend as Pool
    from balancekit import Server
    from balancekit_server.net.proxy_protocol import encode_v2
    from balancekit_server.tcp import Listener, TcpFrontend

    backend = Backend(lt, named("inside"))
    logger = CaptureLogger()
    fe = TcpFrontend(
        "fe",
        default_backend=BackendRuntime("be", "tcp", Pool("be", [Server("s1", backend.address)])),
        logger=logger,
        log_format="tcplog",
    )
    context = server_context(str(_pem(ca, tmp_path / "p.pem", "p.test")))
    proxy = Proxy(lt, fe, listeners=[Listener(accept_proxy=True, ssl=context)])

    client = ssl.create_default_context()
    ca.configure_trust(client)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = client.wrap_bio(incoming, outgoing, server_hostname="p.test")
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
        with contextlib.suppress(ssl.SSLWantReadError):
            tls.do_handshake()
        # One write: PROXY v2 header immediately followed by the ClientHello.
        sock.sendall(encode_v2("10.1.2.3", 4567, "10.0.0.1", 443) + outgoing.read())
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                if outgoing.pending:
                    sock.sendall(outgoing.read())
                data = sock.recv(65536)
                assert data, "the proxy closed during the handshake"
                incoming.write(data)
        if outgoing.pending:
            sock.sendall(outgoing.read())
        received = b""
        while b"inside" not in received:
            try:
                received += tls.read(100)
            except ssl.SSLWantReadError:
                data = sock.recv(65536)
                if not data:
                    break
                incoming.write(data)
    assert received == b"inside"
    assert logger.wait_lines(1)[0].startswith("10.1.2.3:4567 ")


def test_tls_client_closing_first_is_quiet_and_complete(
    lt: LoopThread, ca: trustme.CA, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A TLS client that sends close_notify first: the session ends, nothing is warned."""
    from l4_harness import Proxy, wait_until

    from balancekit import Backend as Pool
    from balancekit import Server
    from balancekit_server.tcp import Listener, TcpFrontend

    backend = Backend(lt, echo)
    fe = TcpFrontend(
        "fe",
        default_backend=BackendRuntime("be", "tcp", Pool("be", [Server("s1", backend.address)])),
    )
    context = server_context(str(_pem(ca, tmp_path / "q.pem", "q.test")))
    proxy = Proxy(lt, fe, listeners=[Listener(ssl=context)])
    client = ssl.create_default_context()
    ca.configure_trust(client)
    with caplog.at_level("WARNING", logger="asyncio"):
        for _ in range(3):
            raw = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
            tls = client.wrap_socket(raw, server_hostname="q.test")
            tls.sendall(b"ping")
            assert tls.recv(4) == b"ping"
            with contextlib.suppress(ssl.SSLError, OSError):
                tls.unwrap()  # close_notify
            raw.close()
        wait_until(lambda: proxy.sessions() == 0, what="the TLS sessions to end")
    assert not [r for r in caplog.records if "eof_received" in r.getMessage()]
