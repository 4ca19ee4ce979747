"""Error answers byte for byte against HAProxy 2.6: the same config in front of the
same misbehaving backends (or clients) must produce the same status and body."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from l7_diff import SideBySide
from l7_rawserver import RawServer, read_head

from support.client import parse_response

pytestmark = pytest.mark.haproxy


def silent(sock: socket.socket) -> None:
    read_head(sock)
    sock.recv(1)  # never answers; returns when the proxy gives up


def garbage(sock: socket.socket) -> None:
    read_head(sock)
    sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def sides() -> Iterator[SideBySide]:
    with RawServer(silent) as slow, RawServer(garbage) as bad:
        config = f"""
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 500ms
    timeout http-request 500ms

frontend http_front
    bind 127.0.0.1:80
    use_backend slow if {{ path_beg /slow }}
    use_backend bad if {{ path_beg /bad }}
    use_backend dead if {{ path_beg /dead }}
    http-request deny if {{ path_beg /admin }}
    default_backend none

backend slow
    server s1 {slow.address}

backend bad
    server b1 {bad.address}

backend dead
    retries 1
    server d1 127.0.0.1:{closed_port()}

backend none
    server n1 127.0.0.1:{closed_port()} disabled
"""
        with SideBySide(config, {}) as both:
            yield both


def exchange(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        if payload:
            sock.sendall(payload)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


CASES = {
    "403-deny": b"GET /admin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "503-no-server": b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "503-connect-refused": b"GET /dead HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "502-invalid-response": b"GET /bad HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "504-timeout-server": b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "408-silent-client": b"",
    "408-slow-headers": b"GET / HTTP/1.1\r\nHost: x\r\n",
    "400-two-lengths": (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"
    ),
    "400-oversized": b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
    "400-two-hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
    "400-garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
}


@pytest.mark.parametrize("case", list(CASES))
def test_error_answers_match_haproxy(sides: SideBySide, case: str) -> None:
    answers = {name: exchange(port, CASES[case]) for name, port in sides.ports.items()}
    kit, ha = (parse_response(answers[n]) for n in ("balancekit", "haproxy"))
    assert kit.status == ha.status == int(case[:3])
    assert kit.body == ha.body
    assert kit.header("cache-control") == ha.header("cache-control")


def test_length_and_chunked_together_is_refused(sides: SideBySide) -> None:
    """A documented difference: HAProxy 2.6 drops Content-Length and reads the body as
    chunked; balancekit refuses the ambiguous request outright (400), which the
    issue asks for and which can never be smuggled either way."""
    payload = (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    kit = exchange(sides.ports["balancekit"], payload)
    assert parse_response(kit).status == 400
    assert kit.count(b"HTTP/1.1 ") == 1  # nothing behind it was served
