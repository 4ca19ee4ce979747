"""Lines that real configs carry and HAProxy 2.6 reads leniently (or strictly):
balancekit must give the same verdict and the same reading, side by side with
`haproxy -c`."""

from __future__ import annotations

import contextlib
import ssl
import subprocess
from pathlib import Path

import pytest
import trustme

from balancekit.config import ConfigErrors, load, load_text, parse_time
from support.haproxy import HAPROXY, require_haproxy

TIMEOUTS = """\
defaults
    mode http
    timeout connect 5s
    timeout client {client}
    timeout server 5s
listen web
    bind 127.0.0.1:18080
    server s1 127.0.0.1:8080
"""


def haproxy_check(path: Path) -> subprocess.CompletedProcess[str]:
    require_haproxy()
    return subprocess.run(
        [HAPROXY, "-c", "-f", str(path)], capture_output=True, text=True, timeout=60
    )


def write(tmp_path: Path, text: str, name: str = "haproxy.cfg") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def test_a_file_whose_last_line_lacks_a_newline_is_refused_like_haproxy(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, TIMEOUTS.format(client="30s").rstrip("\n"))
    real = haproxy_check(path)
    assert real.returncode != 0
    assert "Missing LF on last line" in real.stderr
    with pytest.raises(ConfigErrors) as failure:
        load(path)
    message = str(failure.value)
    assert f"{path}:8: Missing LF on last line" in message
    # HAProxy counts the position from 1 past the last character of that line.
    assert "truncated at position 29" in message
    assert "truncated at position 29" in real.stderr


def test_the_same_text_with_its_newline_loads(tmp_path: Path) -> None:
    path = write(tmp_path, TIMEOUTS.format(client="30s"))
    assert haproxy_check(path).returncode == 0
    assert load(path).config.frontend("web").timeout_client == 30.0


@pytest.mark.parametrize(
    ("word", "seconds"),
    [("15min", 900.0), ("10sec", 10.0), ("2msx", 0.002), ("1hr", 3600.0), ("2dd", 172800.0)],
)
def test_a_unit_followed_by_junk_warns_and_reads_the_unit(
    tmp_path: Path, word: str, seconds: float
) -> None:
    path = write(tmp_path, TIMEOUTS.format(client=word))
    real = haproxy_check(path)
    assert real.returncode == 0, real.stderr
    assert f"after the timer value '{word}'" in real.stderr
    result = load(path)
    assert result.config.frontend("web").timeout_client == pytest.approx(seconds)
    warnings = [str(w) for w in result.warnings]
    assert any(f"{path}:4: " in w and f"'{word}'" in w for w in warnings), warnings


@pytest.mark.parametrize("word", ["2x", "x", "1.5s"])
def test_junk_without_a_unit_is_an_error_in_both(tmp_path: Path, word: str) -> None:
    path = write(tmp_path, TIMEOUTS.format(client=word))
    assert haproxy_check(path).returncode != 0
    with pytest.raises(ConfigErrors) as failure:
        load(path)
    assert f"{path}:4: " in str(failure.value)


def test_the_library_parser_stays_strict_without_a_warning_sink() -> None:
    with pytest.raises(ValueError, match="after the timer value '15min'"):
        parse_time("15min")
    notes: list[str] = []
    assert parse_time("15min", warnings=notes) == 900.0
    assert len(notes) == 1


def test_server_times_warn_with_their_line_too() -> None:
    text = TIMEOUTS.format(client="5s").replace(
        "server s1 127.0.0.1:8080", "server s1 127.0.0.1:8080 check inter 3sx"
    )
    result = load_text(text, name="t.cfg")
    server = result.config.backend("web").backend.member("s1").server
    assert server.inter == 3.0
    assert any(w.line == 8 and "'3sx'" in w.message for w in result.warnings)


STATS_WORDS = """\
defaults
    mode http
    timeout connect 5s
    timeout client 5s
    timeout server 5s
listen web
    bind 127.0.0.1:18080
    stats enable enable
    stats uri uri /stats
    stats realm HAProxy Statistics
    stats auth admin:secret
    server s1 127.0.0.1:8080
"""


def test_extra_words_after_stats_keywords_are_ignored_like_haproxy(tmp_path: Path) -> None:
    path = write(tmp_path, STATS_WORDS)
    assert haproxy_check(path).returncode == 0
    result = load(path)
    page = result.config.frontend("web").stats
    assert page is not None
    # HAProxy reads the first word only: the realm is "HAProxy", the URI "uri".
    assert page.realm == "HAProxy"
    assert page.uri == "uri"
    warned = {w.line for w in result.warnings if "ignoring extra words" in w.message}
    assert warned == {8, 9, 10}


CHECKED_AT_LOAD = """\
defaults
    mode http
    timeout connect 5s
    timeout client 5s
    timeout server 5s
frontend web
    bind 127.0.0.1:18443 {bind}
    log-format "{log_format}"
    default_backend app
backend app
    server s1 127.0.0.1:8080
"""


def test_check_rejects_a_bad_log_format_at_its_line_like_haproxy(tmp_path: Path) -> None:
    path = write(tmp_path, CHECKED_AT_LOAD.format(bind="", log_format="%zz %ST"))
    real = haproxy_check(path)
    assert real.returncode != 0
    assert "[haproxy.cfg:8]" in real.stderr.replace(str(tmp_path) + "/", "")
    with pytest.raises(ConfigErrors) as failure:
        load(path)
    assert f"{path}:8: log-format: unknown variable '%zz'" in str(failure.value)


def test_a_good_log_format_is_compiled_at_load(tmp_path: Path) -> None:
    path = write(tmp_path, CHECKED_AT_LOAD.format(bind="", log_format="%ci %ST %[src]"))
    assert haproxy_check(path).returncode == 0
    line = load(path).config.frontend("web").log_line
    assert line is not None and line.variables == {"ci", "ST"}
    assert set(line.samples) == {"src"}


def test_check_loads_certificates_like_haproxy(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
    path = write(tmp_path, CHECKED_AT_LOAD.format(bind=f"ssl crt {broken}", log_format="%ST"))
    assert haproxy_check(path).returncode != 0
    with pytest.raises(ConfigErrors) as failure:
        load(path)
    assert f"{path}:7: bind: crt '{broken}'" in str(failure.value)


def test_a_loaded_certificate_is_the_context_the_server_uses(tmp_path: Path) -> None:
    pem = tmp_path / "site.pem"
    ca = trustme.CA()
    cert = ca.issue_cert("site.example")
    pem.write_bytes(
        cert.private_key_pem.bytes() + b"".join(b.bytes() for b in cert.cert_chain_pems)
    )
    path = write(tmp_path, CHECKED_AT_LOAD.format(bind=f"ssl crt {pem}", log_format="%ST"))
    assert haproxy_check(path).returncode == 0
    (bind,) = load(path).config.frontend("web").binds
    assert bind.context is not None
    # A handshake in memory: the loaded context serves the certificate.
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    server = bind.context.wrap_bio(to_server, to_client, server_side=True)
    client = client_ctx.wrap_bio(to_client, to_server, server_hostname="site.example")
    for _ in range(10):
        for side in (client, server):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
    assert client.getpeercert()["subjectAltName"] == (("DNS", "site.example"),)


REDISPATCH = """\
defaults
    mode http
    timeout connect 5s
    timeout client 5s
    timeout server 5s
listen web
    bind 127.0.0.1:18080
    {line}
    server s1 127.0.0.1:8080
"""


@pytest.mark.parametrize(
    ("line", "interval"),
    [
        ("", 0),
        ("option redispatch", -1),
        ("option redispatch 2", 2),
        ("option redispatch -2", -2),
        ("option redispatch 0", 0),
        ("option redispatch x", 0),  # HAProxy's atol(): no number is 0, i.e. off
        ("option redispatch 1 2", 1),
    ],
)
def test_redispatch_interval_reads_like_haproxy(tmp_path: Path, line: str, interval: int) -> None:
    path = write(tmp_path, REDISPATCH.format(line=line))
    assert haproxy_check(path).returncode == 0
    assert load(path).config.backend("web").redispatch == interval


LENIENT = """\
global
    {global_line}
defaults
    mode http
    timeout connect 5s
    timeout client 5s
    timeout server 5s
listen web
    bind 127.0.0.1:18080
    {proxy_line}
    server s1 127.0.0.1:8080 {server_options}
    server s2 127.0.0.1:8081
"""


@pytest.mark.parametrize(
    ("global_line", "proxy_line", "server_options", "expect"),
    [
        ("maxconn 5s", "", "", {"global_maxconn": 5}),
        ("", "maxconn 5s", "", {"maxconn": 5}),
        ("", "maxconn x", "", {"maxconn": 0}),
        ("", "retries 3x", "", {"retries": 3}),
        ("", "", "maxconn 5s", {"s1_maxconn": 5}),
        ("", "", "weight", {"s1_weight": 0}),
        ("", "", "weight x", {"s1_weight": 0}),
        # atol() takes the next word whatever it is: `check` is the weight here
        ("", "", "weight check", {"s1_weight": 0, "s1_check": False}),
        ("", "balance", "", {"balance": "roundrobin"}),
        ("", "balance roundrobin roundrobin", "", {"balance": "roundrobin"}),
        ("", "balance leastconn foo", "", {"balance": "leastconn"}),
    ],
)
def test_values_haproxy_reads_with_atol_or_ignores(
    tmp_path: Path,
    global_line: str,
    proxy_line: str,
    server_options: str,
    expect: dict[str, object],
) -> None:
    text = LENIENT.format(
        global_line=global_line, proxy_line=proxy_line, server_options=server_options
    )
    path = write(tmp_path, text)
    assert haproxy_check(path).returncode == 0
    result = load(path)
    config = result.config
    backend = config.backend("web")
    s1 = backend.backend.member("s1").server
    seen = {
        "global_maxconn": config.global_.maxconn,
        "maxconn": config.frontend("web").maxconn,
        "retries": backend.retries,
        "s1_maxconn": s1.maxconn,
        "s1_weight": s1.weight,
        "s1_check": s1.check,
        "balance": backend.backend.balance.algorithm,
    }
    assert {key: seen[key] for key in expect} == expect
    assert result.warnings, "HAProxy is silent, balancekit says how it read the line"


DH_CONFIG = """\
global
{global_}
defaults
    mode http
    timeout connect 5s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:18443 ssl crt {crt}
    default_backend be
backend be
    server s1 127.0.0.1:8080
"""


@pytest.mark.parametrize(
    ("global_", "expected"),
    [
        ("    tune.ssl.default-dh-param 1024",
         "unable to load default 1024 bits DH parameter for certificate '{crt}'."),
        ("    ssl-dh-param-file {dir}/dh1024.pem",
         "unable to use the global DH parameter for certificate '{crt}'"),
        ("    tune.ssl.default-dh-param 2048", None),
    ],
)  # fmt: skip
def test_dh_parameters_openssl_refuses_warn_like_haproxy(
    tmp_path: Path, global_: str, expected: str | None
) -> None:
    """A DH group too small for OpenSSL 3's security level leaves DHE ciphers out,
    with HAProxy's warning at the bind's line; a usable one says nothing."""
    ca = trustme.CA()
    crt = tmp_path / "rsa.pem"
    ca.issue_cert(
        "example.test", key_type=trustme.KeyType.RSA
    ).private_key_and_cert_chain_pem.write_to_path(str(crt))
    subprocess.run(
        ["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:dh_1024_160",
         "-out", str(tmp_path / "dh1024.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    text = DH_CONFIG.format(global_=global_.format(dir=tmp_path), crt=crt)
    path = write(tmp_path, text)
    real = haproxy_check(path)
    assert real.returncode == 0, real.stderr
    warnings = [str(w) for w in load(path).warnings]
    dh_warnings = [w for w in warnings if "DH" in w]
    if expected is None:
        assert dh_warnings == []
        assert "DH" not in real.stderr
        return
    message = expected.format(crt=crt)
    assert message in real.stderr
    assert dh_warnings == [
        f"{path}:9: 'bind 127.0.0.1:18443' in section 'frontend' : {message}"
        ", DH ciphers won't be available."
    ]
