"""Requests crafted to confuse a proxy, side by side with HAProxy 2.6.

Each case sends raw bytes to both proxies (same config, same keep-alive backend)
and compares the sequence of statuses the client gets and what reached the
server.  The cases are the defects an attacker's probe found: an absolute-form
target whose authority differs from Host (an ACL on `hdr(host)` bypassed), a
malformed request pipelined after a valid one (the valid response lost), unknown
transfer-codings relabelled `chunked`, and a client that half-closes after its
request.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from l7_diff import BalancekitRun
from l7_harness import RunningAsgi
from l7_rawserver import RawServer, read_head

from balancekit.config import load_text
from support.backends import NamedBackends
from support.client import http_request
from support.haproxy import HAProxy

CONFIG = """\
defaults
    mode http
    timeout connect 5s
    timeout client 3s
    timeout server 5s
    timeout http-keep-alive 1s
frontend web
    bind {bind}
    http-request deny if {{ hdr(host) -i admin.example }}
    default_backend app
backend app
    server s1 {server}
"""

_STATUS = re.compile(rb"HTTP/1\.[01] (\d{3}) ")


def _exchange(port: int, data: bytes, *, half_close: bool = False) -> list[int]:
    """Send `data`; the statuses of every response read until the proxy closes
    (or goes quiet for longer than its keep-alive timeout)."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=4) as sock:
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return [int(m.group(1)) for m in _STATUS.finditer(received)]


@pytest.fixture(scope="module")
def proxies() -> Iterator[tuple[int, int, NamedBackends]]:
    with NamedBackends(["s1"]) as backends:
        server = backends.address("s1")
        kit = BalancekitRun(CONFIG.format(bind="127.0.0.1:0", server=server))
        try:
            with HAProxy(CONFIG.format(bind="{listen:web}", server=server)) as haproxy:
                yield haproxy.port("web"), kit.port("web"), backends
        finally:
            kit.close()


CASES = {
    # defect 2: the authority decides which site a server serves
    "absolute-form, Host differs": (
        b"GET http://admin.example/ HTTP/1.1\r\nHost: public.example\r\n\r\n",
        [400],
    ),
    "absolute-form, same Host": (
        b"GET http://public.example/echo HTTP/1.1\r\nHost: public.example\r\n\r\n",
        [200],
    ),
    "absolute-form, default port": (
        b"GET http://public.example:80/echo HTTP/1.1\r\nHost: public.example\r\n\r\n",
        [200],
    ),
    "absolute-form, other port": (
        b"GET http://public.example:8080/echo HTTP/1.1\r\nHost: public.example\r\n\r\n",
        [400],
    ),
    "absolute-form, https default port, denied host": (
        b"GET https://admin.example:443/ HTTP/1.1\r\nHost: admin.example\r\n\r\n",
        [403],
    ),
    "absolute-form, case": (
        b"GET http://PUBLIC.example/echo HTTP/1.1\r\nHost: public.example\r\n\r\n",
        [200],
    ),
    # defect 3: the valid response before a malformed request is not lost
    "bad request pipelined after a good one": (
        b"GET /echo HTTP/1.1\r\nHost: a\r\n\r\nBAD\x01 / HTTP/1.1\r\nHost: a\r\n\r\n",
        [200, 400],
    ),
    "junk after a chunked POST": (
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n\x00\x01junk\r\n\r\n",
        [200, 400],
    ),
    # smaller differences the probe found
    "HTTP/0.9 request": (b"GET /\r\n\r\n", [400]),
    # HAProxy reads any HTTP/x.y request line on an HTTP/1 connection
    "HTTP/2.0 on an HTTP/1 connection": (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", [200]),
    # defect 4: a body framed by a coding the proxy does not speak is refused
    "Transfer-Encoding: xchunked": (
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n",
        [400],
    ),
    "Transfer-Encoding: gzip": (
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nhello",
        [400],
    ),
    "Transfer-Encoding: identity": (
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\nhello",
        [400],
    ),
    "Transfer-Encoding: gzip, chunked": (
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n",
        [422],
    ),
    "Transfer-Encoding: chunked twice": (
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n",
        [400],
    ),
    # a malformed body in the same read refuses the request before anything is forwarded
    "invalid chunk size": (
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\nhello\r\n0\r\n\r\n",
        [400],
    ),
    "invalid chunk size, pipelined after a good request": (
        b"GET /echo HTTP/1.1\r\nHost: a\r\n\r\n"
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\nhello\r\n0\r\n\r\n",
        [200, 400],
    ),
    # HAProxy's tune.http.maxhdr: 101 lines with the request line
    "101 header lines": (
        b"GET /echo HTTP/1.1\r\nHost: a\r\n"
        + b"".join(b"X-H%d: v\r\n" % i for i in range(100))
        + b"\r\n",
        [400],
    ),
    "Transfer-Encoding: Chunked": (
        b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n",
        [200],
    ),
}


@pytest.mark.haproxy
@pytest.mark.parametrize("case", sorted(CASES))
def test_crafted_requests_get_what_haproxy_answers(
    proxies: tuple[int, int, NamedBackends], case: str
) -> None:
    haproxy_port, kit_port, _ = proxies
    data, expected = CASES[case]
    theirs = _exchange(haproxy_port, data)
    ours = _exchange(kit_port, data)
    assert theirs == expected, "HAProxy itself answered otherwise: the case is wrong"
    assert ours == theirs


#: Where the ASGI front door answers otherwise than HAProxy because the ASGI
#: server's own HTTP/1 parser decides before `ProxyApp` sees a request.
ASGI_SERVER_DECIDES: dict[tuple[str, str], list[int]] = {
    # uvicorn's httptools protocol drops an absolute-form target's authority: the
    # app (and the server) get an origin-form request for the Host header's site,
    # so no Host ACL is bypassed, but HAProxy's 400 cannot be given.
    ("httptools", "absolute-form, Host differs"): [200],
    ("httptools", "absolute-form, other port"): [200],
    # It answers a parse error at once and closes, dropping the response still
    # being produced for the valid request before it.
    ("httptools", "bad request pipelined after a good one"): [400],
    ("httptools", "junk after a chunked POST"): [400],
    ("httptools", "invalid chunk size, pipelined after a good request"): [400],
    # h11 refuses any coding before `chunked` itself, with 400 (HAProxy: 422).
    ("h11", "Transfer-Encoding: gzip, chunked"): [400],
}


@pytest.fixture(scope="module", params=["httptools", "h11"])
def asgi_app(request: pytest.FixtureRequest) -> Iterator[tuple[str, int, NamedBackends]]:
    """`ProxyApp` on the same config, under uvicorn with either HTTP/1 parser."""
    with NamedBackends(["s1"]) as backends:
        text = CONFIG.format(bind="127.0.0.1:0", server=backends.address("s1"))
        config = load_text(text).config
        frontend = config.frontends[0]
        app = RunningAsgi(frontend.router, dict(config.backends), frontend, http=request.param)
        try:
            yield request.param, app.port, backends
        finally:
            app.close()


@pytest.mark.parametrize("case", sorted(CASES))
def test_crafted_requests_through_the_asgi_app(
    asgi_app: tuple[str, int, NamedBackends], case: str
) -> None:
    """The same crafted requests through `ProxyApp`: HAProxy's answers (pinned by the
    test above), except where the ASGI server's parser decides first."""
    impl, port, _ = asgi_app
    data, haproxys = CASES[case]
    assert _exchange(port, data) == ASGI_SERVER_DECIDES.get((impl, case), haproxys)


def test_the_asgi_app_forwards_no_refused_coding(asgi_app: tuple[str, int, NamedBackends]) -> None:
    _, port, backends = asgi_app
    # A path of its own: a request of an earlier test (the valid one before a
    # pipelined error uvicorn answered at once) may still reach the server now.
    for case in ("Transfer-Encoding: xchunked", "Transfer-Encoding: gzip, chunked"):
        _exchange(port, CASES[case][0].replace(b"/echo", b"/refused-coding"))
    assert "/refused-coding" not in backends.hits("s1")


@pytest.mark.haproxy
def test_refused_codings_reach_no_server(proxies: tuple[int, int, NamedBackends]) -> None:
    _, kit_port, backends = proxies
    before = len(backends.hits("s1"))
    for case in (
        "Transfer-Encoding: xchunked",
        "Transfer-Encoding: gzip, chunked",
        "invalid chunk size",
    ):
        _exchange(kit_port, CASES[case][0])
    assert len(backends.hits("s1")) == before


@pytest.mark.haproxy
def test_absolute_form_default_port_is_dropped_like_haproxy(
    proxies: tuple[int, int, NamedBackends],
) -> None:
    haproxy_port, kit_port, backends = proxies
    request = b"GET http://public.example:80/x HTTP/1.1\r\nHost: public.example\r\n\r\n"
    targets = []
    for port in (haproxy_port, kit_port):
        assert _exchange(port, request) == [200]
        targets.append(backends.hits("s1")[-1])  # the target the server was sent
    assert targets == ["http://public.example/x"] * 2


@pytest.mark.haproxy
def test_a_half_closed_client_still_gets_its_answer(
    proxies: tuple[int, int, NamedBackends],
) -> None:
    haproxy_port, kit_port, _ = proxies
    request = b"GET /echo HTTP/1.1\r\nHost: a\r\n\r\n"
    assert _exchange(haproxy_port, request, half_close=True) == [200]
    assert _exchange(kit_port, request, half_close=True) == [200]


@pytest.mark.haproxy
def test_a_method_split_across_reads_is_one_method(
    proxies: tuple[int, int, NamedBackends],
) -> None:
    def split(port: int) -> list[int]:
        received = b""
        with socket.create_connection(("127.0.0.1", port), timeout=4) as sock:
            sock.sendall(b"GE")
            time.sleep(0.2)  # a separate read on the proxy's side
            sock.sendall(b"T /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            while chunk := sock.recv(65536):
                received += chunk
        return [int(m.group(1)) for m in _STATUS.finditer(received)]

    haproxy_port, kit_port, _ = proxies
    assert split(haproxy_port) == split(kit_port) == [200]


@pytest.mark.haproxy
def test_connection_host_keeps_the_host_header(proxies: tuple[int, int, NamedBackends]) -> None:
    def host_seen(port: int) -> list[str]:
        response = http_request(
            port, "/echo", headers=[("Host", "site.example"), ("Connection", "host")]
        )
        assert response.status == 200
        echoed = json.loads(response.body)
        return [v for k, v in echoed["headers"] if k.lower() == "host"]

    haproxy_port, kit_port, _ = proxies
    assert host_seen(kit_port) == host_seen(haproxy_port) == ["site.example"]


def _unsolicited_switch(sock: socket.socket) -> None:
    read_head(sock)
    sock.sendall(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"
    )
    time.sleep(1)


@pytest.mark.haproxy
def test_an_unsolicited_101_is_a_502_like_haproxy() -> None:
    with RawServer(_unsolicited_switch) as raw:
        config = CONFIG.replace("{{ hdr(host) -i admin.example }}", "FALSE")
        kit = BalancekitRun(config.format(bind="127.0.0.1:0", server=raw.address))
        try:
            with HAProxy(config.format(bind="{listen:web}", server=raw.address)) as haproxy:
                theirs = http_request(haproxy.port("web"), "/").status
                ours = http_request(kit.port("web"), "/").status
        finally:
            kit.close()
    assert theirs == ours == 502


def _many_headers(sock: socket.socket) -> None:
    read_head(sock)
    lines = b"".join(b"X-H%d: v\r\n" % i for i in range(101))
    sock.sendall(b"HTTP/1.1 200 OK\r\n" + lines + b"Content-Length: 2\r\n\r\nok")


def test_a_response_with_too_many_header_lines_is_a_502_like_haproxy() -> None:
    with RawServer(_many_headers) as raw:
        config = CONFIG.replace("{{ hdr(host) -i admin.example }}", "FALSE")
        kit = BalancekitRun(config.format(bind="127.0.0.1:0", server=raw.address))
        try:
            with HAProxy(config.format(bind="{listen:web}", server=raw.address)) as haproxy:
                theirs = http_request(haproxy.port("web"), "/").status
                ours = http_request(kit.port("web"), "/").status
        finally:
            kit.close()
    assert theirs == ours == 502


@pytest.mark.parametrize("impl", ["httptools", "h11"])
@pytest.mark.parametrize("server", [_unsolicited_switch, _many_headers], ids=["101", "headers"])
def test_faulty_backends_through_the_asgi_app(impl: str, server: Any) -> None:
    """The same faulty servers behind `ProxyApp`: the same 502."""
    with RawServer(server) as raw:
        text = CONFIG.replace("{{ hdr(host) -i admin.example }}", "FALSE")
        config = load_text(text.format(bind="127.0.0.1:0", server=raw.address)).config
        frontend = config.frontends[0]
        app = RunningAsgi(frontend.router, dict(config.backends), frontend, http=impl)
        try:
            assert http_request(app.port, "/").status == 502
        finally:
            app.close()
