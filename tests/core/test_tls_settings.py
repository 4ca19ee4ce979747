"""`balancekit.tlsconfig`: how a bind's TLS settings combine with the global ones,
and `crt-list` files.  The handshakes themselves are compared with HAProxy 2.6 in
the conformance rows `bind-tls-options`, `bind-crt-list`, `bind-client-certificates`."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme

from balancekit.tlsconfig import TLSConfigError, apply_options, read_crt_list, server_context


def _versions(*options: str) -> tuple[ssl.TLSVersion, ssl.TLSVersion]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    apply_options(ctx, None, options)
    return ctx.minimum_version, ctx.maximum_version


def test_the_last_bound_wins_and_the_no_flags_add_up() -> None:
    v12, v13 = ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3
    assert _versions() == (v12, v13)
    assert _versions("ssl-min-ver TLSv1.3") == (v13, v13)
    # the global default's minimum, then the bind's own
    assert _versions("ssl-min-ver TLSv1.3", "ssl-min-ver TLSv1.2") == (v12, v13)
    assert _versions("no-tlsv13", "ssl-min-ver TLSv1.2") == (v12, v12)
    assert _versions("force-tlsv12") == (v12, v12)
    with pytest.raises(TLSConfigError, match="all SSL/TLS versions are disabled"):
        _versions("no-tlsv12", "no-tlsv13")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("certs")
    ca = trustme.CA()
    for name, host in (("site.pem", "site.test"), ("other.pem", "other.test")):
        ca.issue_cert(host).private_key_and_cert_chain_pem.write_to_path(str(base / name))
    return base


def test_a_crt_list_reads_paths_options_and_filters(certs: Path) -> None:
    listing = certs / "list"
    listing.write_text(
        "# comment\n\nsite.pem\nother.pem [alpn h2,http/1.1 ssl-min-ver TLSv1.3] a.test !b.test\n"
    )
    first, second = read_crt_list(str(listing), str(certs))
    assert first.pem == str(certs / "site.pem") and first.filters == ()
    assert second.alpn == ("h2", "http/1.1")
    assert second.options == ("ssl-min-ver TLSv1.3",)
    assert second.filters == ("a.test", "!b.test")
    context = server_context((), entries=[first, second])
    assert context.sni_callback is not None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("site.pem [alpn h2", "missing ']'"),
        ("site.pem [npn h2]", "'npn' is an HAProxy crt-list option balancekit does not support"),
        ("site.pem [bogus 1]", "unknown ssl keyword bogus"),
        ("site.pem [ssl-min-ver TLSv9]", "'TLSv9' : unknown ssl/tls version"),
    ],
)
def test_crt_list_errors_name_the_line(certs: Path, line: str, message: str) -> None:
    listing = certs / "bad"
    listing.write_text("site.pem\n" + line + "\n")
    with pytest.raises(TLSConfigError) as error:
        read_crt_list(str(listing), str(certs))
    assert f"parsing [{listing}:2]: {message}" in str(error.value)
