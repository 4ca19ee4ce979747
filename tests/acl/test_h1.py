"""HAProxy 2.6's verdict on TCP payloads: is it an HTTP request (`req.proto_http`)?

`balancekit.h1.parse_request_head` reproduces the H1 parser HAProxy runs on the
buffer of a `mode tcp` frontend.  The two tables below are HAProxy 2.6.12's answers
(`test_haproxy_agrees` asks it again, through a frontend that rejects every
connection whose payload is not HTTP); the other tests pin the view the TCP front
end builds from a payload.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from balancekit import Request
from balancekit.acl.fetches import parse_sample_expr
from balancekit.h1 import parse_request_head, payload_view
from support.haproxy import HAProxy

#: Payloads HAProxy 2.6.12 takes for an HTTP request.
HTTP = [
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /\r\n",
    b"GET /x\r\n\r\n",
    b"GET / FOO\r\n\r\n",
    b"get / HTTP/1.1\r\n\r\n",
    b"\r\nGET / HTTP/1.1\r\n\r\n",
    b"\n\nGET / HTTP/1.1\r\n\r\n",
    b"GET  /  HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\n\n",
    b"GET / HTTP/1.1\nHost: a\n\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody",
    b"GET / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
    b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n",
    b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked,\r\n\r\n",
    b"GET / HTTP/1.1\r\nTransfer-Encoding: ,chunked\r\n\r\n",
    b"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET / HTTP/2.0\r\n\r\n",
    b"GET / HTTP/1\r\n\r\n",
    b"GET / 1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
    b"GET / HTTP/1.1\r\nX:\r\n b\r\n\r\n",
    b"GET\t/\tHTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nX:\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nHost: A\r\n\r\n",
    b"GET http://a/ HTTP/1.1\r\nHost: A\r\n\r\n",
    b"GET http://u@a:80/ HTTP/1.1\r\nHost: a:80\r\n\r\n",
    b"CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\n",
    b"GET * HTTP/1.1\r\nHost: b\r\n\r\n",
    b"GET / H\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: \xc3\xa9\r\n\r\n",
    b"CONNECT a:1 HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
    b"GET /\r\nHost: x\r\n\r\n",
    b"GET / \r\n",
    b"GET / HTTP/1.1\r\nContent-Length: 1 , 1\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: a#b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost:\r\n\r\n",
    b"GET http://a HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: a\n b\n\n",
    b"GET / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + b"".join(b"X%d: v\r\n" % k for k in range(98)) + b"\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n" + b"Host: a\r\n" * 100 + b"\r\n",  # dropped duplicates
]

#: Payloads it does not (invalid, or incomplete when the inspect-delay ends).
NOT_HTTP = [
    b"hello there\r\n\r\n",
    b"get /x\r\n",
    b"HEAD /x\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET \r\n",
    b"GET / HTTP/1.1\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n",
    b"GET / HTTP/1.1\r\nHost: x",
    b"GET / HTTP/1.1\r\nHost: x\r\n\r",
    b"",
    b"GET",
    b"GET / http/1.1\r\n\r\n",
    b"\rGET / HTTP/1.1\r\n\r\n",
    b" GET / HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
    b"GET / HTTP/1.1 \r\n\r\n",
    b"GET / HTTP/1.1 x\r\n\r\n",
    b"hello\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: 1,2\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: ,1\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: 1,\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: 1,,1\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length:\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
    b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
    b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
    b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n",
    b"GET /\xc3\xa9 HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\n X: a\r\n\r\n",
    b"G@T / HTTP/1.1\r\n\r\n",
    b"GET /a\tb HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nX : a\r\n\r\n",
    b"GET / HTTP/1.1\r\n: a\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n",
    b"CONNECT a:1 HTTP/1.1\r\nHost: b\r\n\r\n",
    b"GET / HTTP/1.1\rX\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r",
    b"GET / HTTP/1.1\r\nx-\xc3\xa9: a\r\n\r\n",
    b"GET /a#b HTTP/1.1\r\n\r\n",
    b"\x16\x03\x01\x00\x05hello",
    b"SSH-2.0-OpenSSH_9.2\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: 1, \r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length:   \r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: +1\r\n\r\n",
    b"GET /a#b\r\n",
    b"GET /?a=#b HTTP/1.1\r\n\r\n",
    b"GET http://a/ HTTP/1.1\r\nHost:\r\n\r\n",
    b"GET http:/a HTTP/1.1\r\nHost: b\r\n\r\n",
    b"GET a HTTP/1.1\r\nHost: b\r\n\r\n",
    b"GET 1a HTTP/1.1\r\nHost: b\r\n\r\n",
    b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked ;x\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: x\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + b"".join(b"X%d: v\r\n" % k for k in range(99)) + b"\r\n",
]


@pytest.mark.parametrize("payload", HTTP)
def test_http_payloads(payload: bytes) -> None:
    assert parse_request_head(payload) is not None


@pytest.mark.parametrize("payload", NOT_HTTP)
def test_payloads_that_are_not_http(payload: bytes) -> None:
    assert parse_request_head(payload) is None


def test_head_fields() -> None:
    head = parse_request_head(
        b"\r\nGET\t/p?q  HTTP/1.1\r\nHost: a\r\nX: 1\r\n  2\r\nContent-Length: 0, 0\r\n"
        b"Host: A\r\n\r\nbody"
    )
    assert head is not None
    assert head.method == "GET" and head.uri == "/p?q" and head.version == "HTTP/1.1"
    # a fold's CR LF become spaces; an agreeing Content-Length list is one value
    assert head.headers == (("Host", "a"), ("X", "1    2"), ("Content-Length", "0"))
    assert head.size == len(b"\r\nGET\t/p?q  HTTP/1.1\r\nHost: a\r\nX: 1\r\n  2\r\n") + len(
        b"Content-Length: 0, 0\r\nHost: A\r\n\r\n"
    )
    old = parse_request_head(b"GET /x\r\n")  # HTTP/0.9, read as HTTP/1.0
    assert old is not None and (old.version, old.headers) == ("HTTP/1.0", ())


def _sample(expression: str, request: Request) -> object:
    values = parse_sample_expr(expression).samples(request)
    return values[0] if values else None


def test_payload_view() -> None:
    """What a mode tcp frontend's rules see after inspecting a payload."""
    connection = Request("127.0.0.1", version="", payload=b"")
    assert _sample("req.proto_http", connection) is False
    assert _sample("req.len", connection) == 0
    text = payload_view(connection, b"hello there\r\n\r\n")
    assert (_sample("req.proto_http", text), _sample("req.len", text)) == (False, 15)
    http = payload_view(connection, b"GET http://a/p?q=1 HTTP/1.1\r\nHost: A\r\nX-Y: z\r\n\r\n")
    assert _sample("req.proto_http", http) is True
    assert _sample("req.len", http) == 48
    assert (_sample("path", http), _sample("query", http), _sample("hdr(x-y)", http)) == (
        "/p",
        "q=1",
        "z",
    )
    assert http.src == "127.0.0.1"


@pytest.fixture
def answering_port() -> Iterator[int]:
    """A server that answers `OK` to every connection and closes it."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with client:
                client.sendall(b"OK")

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1]
    listener.close()


def _accepted(port: int, payload: bytes) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        answer = b""
        while data := sock.recv(100):
            answer += data
    return answer == b"OK"


@pytest.mark.haproxy
def test_haproxy_agrees(answering_port: int) -> None:
    """The tables are still HAProxy's answers (the calibration of this file)."""
    config = f"""
defaults
    mode tcp
    timeout client 5s
    timeout server 5s
    timeout connect 1s
frontend ft
    bind {{listen:main}}
    tcp-request inspect-delay 300ms
    tcp-request content reject if !{{ req.proto_http }}
    default_backend b1
backend b1
    server s1 127.0.0.1:{answering_port}
"""
    with HAProxy(config) as haproxy, ThreadPoolExecutor(16) as pool:
        port = haproxy.port("main")
        payloads = HTTP + NOT_HTTP
        verdicts = list(pool.map(lambda payload: _accepted(port, payload), payloads))
    wrong = [p for p, v in zip(payloads, verdicts, strict=True) if v != (p in HTTP)]
    assert wrong == []
