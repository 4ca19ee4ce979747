"""Checks over TLS: `ssl` servers are checked over TLS (layer 6), as HAProxy does."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator

import pytest
import trustme
from health_servers import ControlledHTTP

from balancekit.config import load_text
from balancekit.health import CheckStatus
from balancekit_server.ops.checks import probe, spec_for


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[ControlledHTTP]:
    srv = ControlledHTTP(200)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost").configure_cert(context)
    srv.socket = context.wrap_socket(srv.socket, server_side=True)
    srv.start()
    yield srv
    srv.stop()


def config(port: int, server_opts: str, check: str = "option httpchk GET /health") -> str:
    return f"""
backend app
    {check}
    server s1 127.0.0.1:{port} {server_opts}
"""


def run_probe(text: str):  # type: ignore[no-untyped-def]
    runtime = load_text(text).config.backends["app"]
    spec = spec_for(runtime, "s1")
    assert spec is not None
    return spec, asyncio.run(probe(spec))


def test_ssl_server_is_checked_over_tls(tls_server: ControlledHTTP, ca: trustme.CA) -> None:
    spec, result = run_probe(config(tls_server.port, "ssl verify none check"))
    assert spec.tls and result.status is CheckStatus.L7OK and result.code == 200
    assert tls_server.requests == ["GET /health HTTP/1.0"]


def test_tls_verification_failure_is_layer6(tls_server: ControlledHTTP, tmp_path) -> None:  # type: ignore[no-untyped-def]
    other = tmp_path / "other-ca.pem"  # `verify required` needs a ca-file: not the issuer's
    trustme.CA().cert_pem.write_to_path(str(other))
    _, result = run_probe(config(tls_server.port, f"ssl verify required ca-file {other} check"))
    assert result.status is CheckStatus.L6RSP
    assert "CERTIFICATE_VERIFY_FAILED" in result.info


def test_ca_file_and_sni_verify(tls_server: ControlledHTTP, ca: trustme.CA, tmp_path) -> None:  # type: ignore[no-untyped-def]
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    opts = f"ssl verify required ca-file {pem} sni str(localhost) check"
    _, result = run_probe(config(tls_server.port, opts))
    assert result.status is CheckStatus.L7OK


def test_plain_tcp_check_on_tls_is_layer6_ok(tls_server: ControlledHTTP) -> None:
    spec, result = run_probe(config(tls_server.port, "ssl verify none check", check=""))
    assert spec.kind == "tcp" and result.status is CheckStatus.L6OK


def test_check_port_without_check_ssl_is_plain(tls_server: ControlledHTTP) -> None:
    plain = ControlledHTTP(200).start()
    try:
        text = config(tls_server.port, f"ssl verify none check port {plain.port}")
        spec, result = run_probe(text)
        assert not spec.tls and result.status is CheckStatus.L7OK
        spec, _ = run_probe(
            config(tls_server.port, f"ssl verify none check check-ssl port {tls_server.port}")
        )
        assert spec.tls
    finally:
        plain.stop()
