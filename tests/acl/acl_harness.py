"""Shared pieces of the ACL/rules differential tests: one config, two engines.

`side_by_side` loads a config text with balancekit's parser (for its Router)
and runs the same text on a real HAProxy; `Probe` is one client request, sent
for real by `send` (from its own 127.x.y.z source) and turned into the request
view balancekit routes by `view`.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from balancekit import Request
from balancekit.config import load_text
from balancekit.routing import Router
from support.backends import NamedBackends
from support.client import Response, http_request, parse_response
from support.haproxy import HAProxy

EPHEMERAL_PORT = 49152  # the client's port is ephemeral; its exact value is never compared


def global_section(mode: str = "http") -> str:
    return f"""
global
    stats socket {{stats}} level admin

defaults
    mode {mode}
    timeout connect 5s
    timeout client 30s
    timeout server 30s
"""


def filler(template: str, backends: NamedBackends) -> Callable[[str], str]:
    """Render `template` for a bind address: `BIND` and `ADDR:<name>` are replaced."""

    def render(bind: str) -> str:
        text = template.replace("BIND", bind)
        for name in backends.names:
            text = text.replace(f"ADDR:{name}", backends.address(name))
        return text

    return render


@contextmanager
def side_by_side(
    render: Callable[[str], str], *, name: str, haproxy_extra: Callable[[str], str] | None = None
) -> Iterator[tuple[Router, HAProxy]]:
    """balancekit's Router for the first frontend, and a running HAProxy on the same text.

    `haproxy_extra` may rewrite HAProxy's copy only (to tag answers, say).
    """
    router = load_text(render("127.0.0.1:8080"), name=name).config.frontends[0].router
    text = render("{listen:fe}")
    with HAProxy(haproxy_extra(text) if haproxy_extra else text) as haproxy:
        yield router, haproxy


@dataclass(frozen=True)
class Probe:
    """One request as the client sends it."""

    path: str = "/"  # the request target: origin form, or absolute form (http://h/p)
    method: str = "GET"
    src: str = "127.0.0.1"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    version: str = "HTTP/1.1"


def _wire_headers(probe: Probe, port: int) -> list[tuple[str, str]]:
    headers = list(probe.headers)
    if not any(name.lower() == "host" for name, _ in headers):
        headers.insert(0, ("Host", f"127.0.0.1:{port}"))
    if probe.body:
        headers.append(("Content-Length", str(len(probe.body))))
    headers.append(("Connection", "close"))
    return headers


def send(port: int, probe: Probe) -> Response:
    """Send the probe from its source address and read the whole answer."""
    if probe.version != "HTTP/1.1":
        head = f"{probe.method} {probe.path} {probe.version}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in _wire_headers(probe, port)) + "\r\n"
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.bind((probe.src, 0))
            sock.connect(("127.0.0.1", port))
            sock.sendall(head.encode("latin-1") + probe.body)
            chunks = []
            while data := sock.recv(65536):
                chunks.append(data)
        return parse_response(b"".join(chunks), head_only=probe.method == "HEAD")
    return http_request(
        port,
        probe.path,
        method=probe.method,
        headers=list(probe.headers),
        body=probe.body,
        src=probe.src,
        timeout=5,
    )


def view(probe: Probe, port: int) -> Request:
    """The request view of exactly what `send` puts on the wire."""
    target = probe.path
    scheme, sep, rest = target.partition("://")
    if sep and "/" not in scheme:  # absolute form: the path starts after the authority
        slash = rest.find("/")
        target = rest[slash:] if slash >= 0 else "/"
    path, _, query = target.partition("?")
    return Request(
        probe.src,
        probe.method,
        path,
        query,
        _wire_headers(probe, port),
        uri=probe.path,
        version=probe.version,
        src_port=EPHEMERAL_PORT,
        dst="127.0.0.1",
        dst_port=port,
    )
