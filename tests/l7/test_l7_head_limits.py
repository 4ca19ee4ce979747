"""Request and response heads are bounded while they arrive, as in HAProxy 2.6.

A header line was once only size-checked when it ended, so one endless header
(`X-Flood: aaaa…` with no CRLF) made the proxy buffer everything it was sent.
HAProxy answers 400 once the head outgrows its buffer (tune.bufsize less
tune.maxrewrite), and 502 to a server whose response head does the same; these
run both proxies on the same config and compare.
"""

from __future__ import annotations

import socket
import time

import pytest
from l7_diff import BalancekitRun
from l7_rawserver import RawServer, read_head

from support.backends import NamedBackends
from support.client import http_request, parse_response
from support.haproxy import HAProxy

CONFIG = """\
defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend web
    bind {bind}
    default_backend app
backend app
    server s1 {server}
"""

FLOOD = 8 * 1024 * 1024  # far beyond any head buffer


def _endless_header(port: int) -> tuple[bytes, int]:
    """Send a request whose one header never ends; return the answer and how many
    bytes the proxy took before it answered and closed."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nX-Flood: ")
        chunk = b"a" * 65536
        try:
            while sent < FLOOD:
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        try:
            while data := sock.recv(65536):
                answer += data
        except ConnectionResetError:
            pass
    return answer, sent


@pytest.mark.haproxy
def test_an_endless_request_header_gets_400_like_haproxy() -> None:
    with NamedBackends(["s1"]) as backends:
        server = backends.address("s1")
        kit = BalancekitRun(CONFIG.format(bind="127.0.0.1:0", server=server))
        try:
            with HAProxy(CONFIG.format(bind="{listen:web}", server=server)) as haproxy:
                theirs, _ = _endless_header(haproxy.port("web"))
                ours, taken = _endless_header(kit.port("web"))
                # The proxy still serves others at once.
                assert http_request(kit.port("web"), "/").status == 200
        finally:
            kit.close()
        assert backends.hits("s1") == ["/"]  # the flood never reached the server
    assert parse_response(theirs, head_only=True).status == 400
    assert parse_response(ours, head_only=True).status == 400
    # Cut off long before the flood ended: the head was bounded as it arrived.
    assert taken < FLOOD


def _endless_response_header(sock: socket.socket) -> None:
    read_head(sock)
    sock.sendall(b"HTTP/1.1 200 OK\r\nX-Flood: ")
    chunk = b"b" * 65536
    deadline = time.monotonic() + 10
    try:
        while time.monotonic() < deadline:
            sock.sendall(chunk)
    except OSError:
        pass  # the proxy gave up on us, as it should


@pytest.mark.haproxy
def test_an_endless_response_header_gets_502_like_haproxy() -> None:
    with RawServer(_endless_response_header) as raw:
        kit = BalancekitRun(CONFIG.format(bind="127.0.0.1:0", server=raw.address))
        try:
            with HAProxy(CONFIG.format(bind="{listen:web}", server=raw.address)) as haproxy:
                theirs = http_request(haproxy.port("web"), "/")
                started = time.monotonic()
                ours = http_request(kit.port("web"), "/")
                elapsed = time.monotonic() - started
        finally:
            kit.close()
    assert theirs.status == 502
    assert ours.status == 502
    # At once, not after the server gave up (its loop runs for 10 s).
    assert elapsed < 5
