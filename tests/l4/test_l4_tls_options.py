"""`ssl-default-bind-ciphers` and `ssl-default-bind-options` on a `bind … ssl`,
side by side with HAProxy 2.6: the same handshakes succeed, with the same
version and cipher, and the same ones fail."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from l4_harness import Backend, LoopThread, echo
from test_l4_tls import CONFIG

from balancekit.config import load_text
from balancekit_server.process.runtime import Runtime
from support.haproxy import HAProxy

pytestmark = pytest.mark.haproxy


@pytest.fixture
def crt(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "default.pem"
    ca.issue_cert("default.test").private_key_and_cert_chain_pem.write_to_path(str(path))
    return path


@pytest.fixture
def echo_backend(lt1: LoopThread) -> Iterator[Backend]:
    backend = Backend(lt1, echo)
    yield backend
    backend.close()


def _handshake(port: int, ca: trustme.CA, client: dict[str, str]) -> tuple[str, ...]:
    """("ok", version, cipher) after a round trip, or ("refused",)."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    if "max" in client:
        context.maximum_version = ssl.TLSVersion[client["max"]]
    if "ciphers" in client:
        context.set_ciphers(client["ciphers"])
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="default.test") as tls,
        ):
            tls.sendall(b"ping")
            assert tls.recv(10) == b"ping"
            cipher = tls.cipher()
            return ("ok", str(tls.version()), cipher[0] if cipher else "")
    except (ssl.SSLError, ConnectionResetError):
        return ("refused",)


TLS12_ONLY = {"max": "TLSv1_2"}
CASES = [
    # (global lines, client, what HAProxy does)
    ("ssl-default-bind-options ssl-min-ver TLSv1.3", TLS12_ONLY, "refused"),
    ("ssl-default-bind-options ssl-min-ver TLSv1.3", {}, "TLSv1.3"),
    (
        "ssl-default-bind-options ssl-max-ver TLSv1.2 no-tls-tickets\n"
        "    ssl-default-bind-ciphers ECDHE-ECDSA-AES256-GCM-SHA384",
        {},
        "TLSv1.2 ECDHE-ECDSA-AES256-GCM-SHA384",
    ),
    (
        "ssl-default-bind-ciphers ECDHE-ECDSA-AES256-GCM-SHA384",
        {**TLS12_ONLY, "ciphers": "ECDHE-ECDSA-AES128-GCM-SHA256"},
        "refused",
    ),
    ("ssl-default-bind-options force-tlsv12", {}, "TLSv1.2"),
    ("ssl-default-bind-options no-tlsv13", {}, "TLSv1.2"),
    ("ssl-default-bind-options no-tlsv12", TLS12_ONLY, "refused"),
]


@pytest.mark.parametrize(("global_lines", "client", "expected"), CASES)
def test_tls_defaults_match_haproxy(
    lt1: LoopThread,
    ca: trustme.CA,
    crt: Path,
    echo_backend: Backend,
    global_lines: str,
    client: dict[str, str],
    expected: str,
) -> None:
    text = f"global\n    {global_lines}\n" + CONFIG.format(crt=crt, backend=echo_backend.address)
    with HAProxy(text.replace("127.0.0.1:0", "{listen:tls}")) as haproxy:
        theirs = _handshake(haproxy.port("tls"), ca, client)
    runtime = Runtime(load_text(text).config, quiet=True)
    lt1.run(runtime.start())
    try:
        ours = _handshake(runtime.addresses["tls_in"][0][1], ca, client)
    finally:
        lt1.call(runtime.hard_stop)
    assert " ".join(theirs).startswith(expected if expected == "refused" else f"ok {expected}")
    assert ours == theirs
