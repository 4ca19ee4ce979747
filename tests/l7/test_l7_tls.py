"""EP3 over HTTPS: TLS termination (`bind … ssl crt site.pem`), SNI in ACLs and
`redirect scheme https if !{ ssl_fc }`, side by side with real HAProxy 2.6."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from l7_diff import SideBySide, seed

from support.client import Response, http_request, parse_response

pytestmark = pytest.mark.haproxy

EP3_APPS = {"127.0.0.1:5001": "static", "127.0.0.1:5002": "dynamic"}


@pytest.fixture(scope="module")
def site_pem(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Certificate and key in one PEM, as `crt` wants it."""
    path = tmp_path_factory.mktemp("tls") / "site.pem"
    ca.issue_cert(
        "localhost", "static.test", "127.0.0.1"
    ).private_key_and_cert_chain_pem.write_to_path(str(path))
    return path


def https_request(
    ca: trustme.CA,
    port: int,
    path: str,
    *,
    sni: str = "localhost",
    method: str = "GET",
    alpn: list[str] | None = None,
) -> Response:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    if alpn:
        context.set_alpn_protocols(alpn)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    with context.wrap_socket(raw, server_hostname=sni) as sock:
        if alpn:
            assert sock.selected_alpn_protocol() == "http/1.1"
        head = f"{method} {path} HTTP/1.1\r\nHost: {sni}\r\nConnection: close\r\n\r\n"
        sock.sendall(head.encode())
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ssl.SSLZeroReturnError:
                break
            if not chunk:
                break
            data += chunk
    return parse_response(data)


def ep3_with_tls(pem: Path, extra: str = "") -> str:
    text = seed("ep3_l7_path_routing.cfg")
    return text.replace(
        "    bind 127.0.0.1:80\n",
        f"    bind 127.0.0.1:80\n    bind 127.0.0.1:443 ssl crt {pem}\n{extra}",
    )


@pytest.fixture
def ep3(site_pem: Path) -> Iterator[SideBySide]:
    extra = (
        "    redirect scheme https code 301 if !{ ssl_fc } { path_beg /secure }\n"
        "    use_backend static_backend if { ssl_fc_sni -i static.test }\n"
    )
    with SideBySide(ep3_with_tls(site_pem, extra), EP3_APPS) as sides:
        yield sides


@pytest.mark.parametrize("path", ["/static/logo.png", "/", "/api/data", "/nowhere"])
def test_ep3_https_routing_matches_haproxy(ep3: SideBySide, ca: trustme.CA, path: str) -> None:
    answers = {name: https_request(ca, port, path) for name, port in ep3.ports_of("443").items()}
    kit, ha = answers["balancekit"], answers["haproxy"]
    assert (kit.status, kit.body) == (ha.status, ha.body)
    if path == "/":
        assert kit.body == b"Welcome to FitGuru!"


def test_sni_reaches_acls(ep3: SideBySide, ca: trustme.CA) -> None:
    answers = {
        name: https_request(ca, port, "/static/x.css", sni="static.test")
        for name, port in ep3.ports_of("443").items()
    }
    assert answers["balancekit"].body == answers["haproxy"].body
    home = {
        name: https_request(ca, port, "/", sni="static.test")
        for name, port in ep3.ports_of("443").items()
    }
    # static.test sends even "/" to the static app (which has no "/": 404)
    assert home["balancekit"].status == home["haproxy"].status == 404


def test_redirect_scheme_https_unless_ssl(ep3: SideBySide, ca: trustme.CA) -> None:
    plain = {
        name: http_request(port, "/secure/x?y=1", headers={"Host": "fitguru.test"})
        for name, port in ep3.ports.items()
    }
    kit, ha = plain["balancekit"], plain["haproxy"]
    assert kit.status == ha.status == 301
    assert kit.header("Location") == ha.header("Location")
    assert kit.header("Location") == "https://fitguru.test/secure/x?y=1"
    tls = {name: https_request(ca, port, "/secure/x") for name, port in ep3.ports_of("443").items()}
    assert tls["balancekit"].status == tls["haproxy"].status  # no redirect loop over TLS


def test_alpn_h2_is_not_offered_so_clients_speak_http11(site_pem: Path, ca: trustme.CA) -> None:
    """`alpn h2,http/1.1` (a common bind line): we speak HTTP/1.1 only, so only that is
    offered (with a warning at load); a client that prefers h2 still gets its answer."""
    text = ep3_with_tls(site_pem).replace(
        f"ssl crt {site_pem}", f"ssl crt {site_pem} alpn h2,http/1.1"
    )
    with SideBySide(text, EP3_APPS) as sides:
        assert any("alpn 'h2' not offered" in str(w) for w in sides.kit.result.warnings)
        answer = https_request(
            ca, sides.ports_of("443")["balancekit"], "/", alpn=["h2", "http/1.1"]
        )
    assert answer.status == 200
