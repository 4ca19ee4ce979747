"""The HTTP proxy end to end: real sockets, real backends, both front doors.

`front` runs each test twice: on the fast asyncio-Protocol server and as the
ASGI app under a real uvicorn — the two must behave the same.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from typing import Any

import pytest
from l7_harness import Decision, FnRouter, RunningAsgi, to
from l7_rawserver import RawServer, read_head

from balancekit import Backend, Server
from balancekit.config import BackendRuntime, ForwardFor, Frontend
from balancekit.rules import HeaderEdit
from balancekit_server.http import ErrorPage
from support.backends import NamedBackends
from support.client import http_request, parse_response


def backend_of(nb: NamedBackends, balance: str = "roundrobin", **kw: Any) -> Backend:
    return Backend("app", [Server(n, nb.address(n), **kw) for n in nb.names], balance)


def echo(port: int, path: str = "/echo", **kw: Any) -> dict[str, Any]:
    response = http_request(port, path, **kw)
    assert response.status == 200, response
    result: dict[str, Any] = json.loads(response.body)
    return result


def names(headers: list[list[str]]) -> list[str]:
    return [k.lower() for k, _ in headers]


def test_round_robin_through_the_proxy(front: Any, named_backends: NamedBackends) -> None:
    proxy = front(to("app"), {"app": backend_of(named_backends)})
    seen = [http_request(proxy.port, "/").text for _ in range(6)]
    assert seen == ["s1", "s2", "s3", "s1", "s2", "s3"]


def test_host_kept_hop_by_hop_removed(front: Any, named_backends: NamedBackends) -> None:
    proxy = front(to("app"), {"app": backend_of(named_backends)})
    got = echo(
        proxy.port,
        headers=[
            ("Host", "example.test"),
            ("Connection", "close, X-Secret"),
            ("X-Secret", "hop"),
            ("Keep-Alive", "timeout=5"),
            ("TE", "trailers"),
            ("Proxy-Connection", "keep-alive"),
            ("Upgrade", "h2c"),
            ("X-Kept", "yes"),
        ],
    )
    hdrs = {k.lower(): v for k, v in got["headers"]}
    assert hdrs["host"] == "example.test"
    assert hdrs["x-kept"] == "yes"
    for gone in ("x-secret", "keep-alive", "te", "proxy-connection", "upgrade"):
        assert gone not in hdrs
    assert hdrs.get("connection", "").lower() != "close, x-secret"


def test_forwardfor_and_header_rules(front: Any, named_backends: NamedBackends) -> None:
    edits = (
        HeaderEdit("set", "X-Set", "one"),
        HeaderEdit("add", "X-Add", "a"),
        HeaderEdit("del", "X-Drop"),
    )
    router = FnRouter(lambda _r: Decision(backend="app", header_edits=edits))
    frontend = Frontend("http", forwardfor=ForwardFor(), x_forwarded_proto=True)
    proxy = front(router, {"app": backend_of(named_backends)}, frontend)
    got = echo(
        proxy.port,
        headers=[("X-Set", "old"), ("X-Drop", "x"), ("X-Forwarded-For", "10.9.9.9")],
    )
    pairs = [(k.lower(), v) for k, v in got["headers"]]
    assert ("x-set", "one") in pairs and ("x-set", "old") not in pairs
    assert ("x-add", "a") in pairs
    assert "x-drop" not in dict(pairs)
    # HAProxy appends a new line; the client's own value stays first.
    assert [v for k, v in pairs if k == "x-forwarded-for"] == ["10.9.9.9", "127.0.0.1"]
    assert ("x-forwarded-proto", "http") in pairs


@pytest.mark.parametrize(
    ("option", "client_header", "expected"),
    [
        (ForwardFor(except_net="127.0.0.0/8"), None, []),
        (ForwardFor(header="X-Client"), None, ["127.0.0.1"]),
        (ForwardFor(header="X-Client", if_none=True), "1.2.3.4", ["1.2.3.4"]),
    ],
    ids=["except", "header", "if-none"],
)
def test_forwardfor_options(
    fast: Any,
    named_backends: NamedBackends,
    option: ForwardFor,
    client_header: str | None,
    expected: list[str],
) -> None:
    settings = BackendRuntime("app", "http", backend_of(named_backends), forwardfor=option)
    proxy = fast(to("app"), {"app": settings})
    extra = [(option.header, client_header)] if client_header else []
    got = echo(proxy.port, headers=extra)
    assert [v for k, v in got["headers"] if k.lower() == option.header.lower()] == expected


def test_deny_redirect_return(front: Any, named_backends: NamedBackends) -> None:
    def rules(request: Any) -> Decision:
        if request.path.startswith("/admin"):
            return Decision(action="deny")
        if request.path == "/old":
            return Decision(action="redirect", status=301, location="https://example.test/new")
        if request.path == "/health":
            return Decision(action="return", status=200, body="ok\n", content_type="text/plain")
        return Decision(backend="app")

    proxy = front(FnRouter(rules), {"app": backend_of(named_backends)})
    denied = http_request(proxy.port, "/admin/x")
    assert denied.status == 403
    assert denied.body == ErrorPage.default(403).body
    assert denied.header("Cache-Control") == "no-cache"
    moved = http_request(proxy.port, "/old")
    assert (moved.status, moved.header("Location")) == (301, "https://example.test/new")
    health = http_request(proxy.port, "/health")
    assert (health.status, health.body, health.header("content-type")) == (
        200,
        b"ok\n",
        "text/plain",
    )
    assert named_backends.hits("s1") == []


def test_no_server_is_503_nosrv(front: Any, named_backends: NamedBackends) -> None:
    backend = backend_of(named_backends)
    for name in named_backends.names:
        backend.set_state(name, "maint")
    proxy = front(to("app"), {"app": backend})
    response = http_request(proxy.port, "/")
    assert response.status == 503
    assert response.body == ErrorPage.default(503).body
    entry = proxy.logs[-1]
    assert (entry.backend, entry.server, entry.status) == ("app", None, 503)


def test_no_backend_is_503(front: Any, named_backends: NamedBackends) -> None:
    proxy = front(FnRouter(lambda _r: Decision(backend=None)), {"app": backend_of(named_backends)})
    assert http_request(proxy.port, "/").status == 503


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connect_failure_retries_then_503(front: Any) -> None:
    dead = Backend("app", [Server("dead", f"127.0.0.1:{closed_port()}")], "roundrobin")
    proxy = front(to("app"), {"app": BackendRuntime("app", "http", dead, retries=2)})
    response = http_request(proxy.port, "/")
    assert response.status == 503
    entry = proxy.logs[-1]
    assert (entry.server, entry.retries, entry.termination) == ("dead", 2, "SC")


def test_redispatch_moves_to_a_live_server(front: Any, named_backends: NamedBackends) -> None:
    servers = [
        Server("dead", f"127.0.0.1:{closed_port()}"),
        Server("s1", named_backends.address("s1")),
    ]
    backend = Backend("app", servers, "roundrobin")
    settings = BackendRuntime("app", "http", backend, retries=1, redispatch=True)
    proxy = front(to("app"), {"app": settings})
    answers = [http_request(proxy.port, "/").text for _ in range(4)]
    assert answers == ["s1"] * 4
    assert any(e.redispatched for e in proxy.logs)


def garbage(sock: socket.socket) -> None:
    read_head(sock)
    sock.sendall(b"HTTP/1.1 ??? nonsense\r\n\r\n")


def reset(sock: socket.socket) -> None:
    read_head(sock)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()


def truncated(sock: socket.socket) -> None:
    read_head(sock)
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a part")


@pytest.mark.parametrize("handler", [garbage, reset], ids=["invalid", "reset"])
def test_bad_upstream_is_502(front: Any, handler: Any) -> None:
    with RawServer(handler) as raw:
        backend = Backend("app", [Server("bad", raw.address)], "roundrobin")
        proxy = front(to("app"), {"app": backend})
        response = http_request(proxy.port, "/")
    assert response.status == 502
    assert response.body == ErrorPage.default(502).body
    assert proxy.logs[-1].termination == "SH"


def test_truncated_body_cuts_the_client(fast: Any) -> None:
    with RawServer(truncated) as raw:
        backend = Backend("app", [Server("bad", raw.address)], "roundrobin")
        proxy = fast(to("app"), {"app": backend})
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
    assert data.startswith(b"HTTP/1.1 200")
    assert data.endswith(b"only a part")  # the client sees the cut, not a fake end
    assert proxy.logs[-1].termination == "SD"


def silent(sock: socket.socket) -> None:
    read_head(sock)
    time.sleep(3)


def test_timeout_server_is_504(front: Any) -> None:
    with RawServer(silent) as raw:
        backend = Backend("app", [Server("slow", raw.address)], "roundrobin")
        proxy = front(
            to("app"), {"app": BackendRuntime("app", "http", backend, timeout_server=0.3)}
        )
        response = http_request(proxy.port, "/")
    assert response.status == 504
    assert response.body == ErrorPage.default(504).body
    assert proxy.logs[-1].termination == "sH"


def test_errorfile_overrides_default(front: Any, tmp_path: Any) -> None:
    page = (
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 6\r\n\r\nsorry\n"
    )
    dead = Backend("app", [Server("dead", f"127.0.0.1:{closed_port()}")], "roundrobin")
    frontend = Frontend("http", errorfiles={503: page})
    proxy = front(to("app"), {"app": BackendRuntime("app", "http", dead, retries=0)}, frontend)
    response = http_request(proxy.port, "/")
    assert (response.status, response.body) == (503, b"sorry\n")


@pytest.mark.parametrize(
    ("page", "head", "close"),
    [
        # no length: HAProxy 2.6 closes after it, with `connection: close` for HTTP/1.1
        (b"HTTP/1.1 403 Forbidden\r\nX-Page: custom\r\n\r\nno\n",
         b"HTTP/1.1 403 Forbidden\r\nX-Page: custom\r\nConnection: close", True),
        (b"HTTP/1.1 403 Forbidden\nConnection: keep-alive\nA: b\n\nno\n",
         b"HTTP/1.1 403 Forbidden\r\nA: b\r\nConnection: close", True),
        (b"HTTP/1.0 403 Forbidden\r\nA: b\r\n\r\nno\n", b"HTTP/1.0 403 Forbidden\r\nA: b", True),
        # a length (or a bodyless status) keeps the connection and the page as it is
        (b"HTTP/1.1 403 Forbidden\r\nContent-Length: 3\r\n\r\nno\n",
         b"HTTP/1.1 403 Forbidden\r\nContent-Length: 3", False),
        (b"HTTP/1.1 204 No Content\r\nA: b\r\n\r\n", b"HTTP/1.1 204 No Content\r\nA: b", False),
    ],
)  # fmt: skip
def test_errorfile_without_length_closes(page: bytes, head: bytes, close: bool) -> None:
    parsed = ErrorPage.from_raw(page)
    assert parsed.raw.partition(b"\r\n\r\n")[0] == head
    assert parsed.close is close


def test_errorfile_without_length_ends_the_connection(fast: Any) -> None:
    """The client of a page without Content-Length learns its end from the close
    (on balancekit's own HTTP/1 wire; an ASGI server frames the page itself)."""
    page = b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\n\r\n<b>no</b>\n"
    proxy = fast(
        FnRouter(lambda request: Decision(action="deny")),
        {},
        Frontend("http", errorfiles={403: page}),
    )
    started = time.monotonic()
    data = raw_exchange(proxy.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
    assert time.monotonic() - started < 4  # closed by the proxy, not by our timeout
    head = b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/html\r\nConnection: close"
    assert data == head + b"\r\n\r\n<b>no</b>\n"


@pytest.mark.parametrize(
    ("status", "given", "names"),
    [
        # orders HAProxy 2.6 sends (tests/conformance `generated-response-header-order`)
        (302, [(b"Location", b"/x"), (b"Set-Cookie", b"a=1")],
         [b"content-length", b"location", b"cache-control", b"set-cookie"]),
        (301, [(b"Location", b"/x")], [b"content-length", b"location"]),
        (200, [(b"Content-Type", b"text/plain"), (b"X-One", b"1"), (b"X-Two", b"2")],
         [b"x-one", b"x-two", b"content-length", b"content-type"]),
        (200, [(b"X-One", b"1")], [b"x-one", b"content-length"]),
        (204, [(b"X-One", b"1")], [b"x-one"]),
        (401, [(b"Cache-Control", b"no-cache"), (b"Content-Type", b"text/html"),
               (b"WWW-Authenticate", b"Basic")],
         [b"content-length", b"cache-control", b"content-type", b"www-authenticate"]),
    ],
)  # fmt: skip
def test_generated_response_header_order(
    status: int, given: list[tuple[bytes, bytes]], names: list[bytes]
) -> None:
    from balancekit_server.http.proxy import _simple_page

    page = _simple_page(status, given, b"" if status in (204, 301, 302) else b"hi")
    assert [name.lower() for name, _ in page.headers] == names
    head = page.raw.partition(b"\r\n\r\n")[0].split(b"\r\n")[1:]
    assert [line.partition(b":")[0].lower() for line in head] == names


def raw_exchange(port: int, payload: bytes, timeout: float = 10) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except TimeoutError:
            pass
    return data


@pytest.mark.parametrize(
    "payload",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n",
    ],
    ids=["cl-and-te", "two-lengths", "space-in-name", "no-version", "oversized"],
)
def test_malformed_requests_are_400(
    fast: Any, named_backends: NamedBackends, payload: bytes
) -> None:
    proxy = fast(to("app"), {"app": backend_of(named_backends)})
    data = raw_exchange(proxy.port, payload)
    response = parse_response(data)
    assert response.status == 400
    assert response.body == ErrorPage.default(400).body
    assert all(not named_backends.hits(n) for n in named_backends.names)


def test_slow_headers_get_408(fast: Any, named_backends: NamedBackends) -> None:
    frontend = Frontend("http", timeout_http_request=0.3)
    proxy = fast(to("app"), {"app": backend_of(named_backends)}, frontend)
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finishes the head
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    response = parse_response(data)
    assert response.status == 408
    assert response.body == ErrorPage.default(408).body
    assert proxy.logs[-1].termination == "cR"


def chunked_with_trailers(sock: socket.socket) -> None:
    while True:
        head, _ = read_head(sock)
        if not head:
            return
        sock.sendall(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n"
            b"5\r\nhello\r\n6\r\n world\r\n0\r\nX-T: secret\r\n\r\n"
        )


def test_chunked_response_relayed_with_its_trailers(front: Any) -> None:
    """HAProxy passes a chunked response's trailer fields on; an ASGI server is
    handed none (ASGI's trailers are an extension uvicorn does not offer)."""
    with RawServer(chunked_with_trailers) as raw:
        backend = Backend("app", [Server("c", raw.address)], "roundrobin")
        proxy = front(to("app"), {"app": backend})
        data = raw_exchange(proxy.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    response = parse_response(data)
    assert response.body == b"hello world"
    if isinstance(proxy, RunningAsgi):
        assert b"secret" not in data
    else:
        assert data.endswith(b"0\r\nX-T: secret\r\n\r\n")


def close_delimited(sock: socket.socket) -> None:
    read_head(sock)
    sock.sendall(b"HTTP/1.0 200 OK\r\n\r\nuntil the end")


def test_close_delimited_response(front: Any) -> None:
    with RawServer(close_delimited) as raw:
        backend = Backend("app", [Server("c", raw.address)], "roundrobin")
        proxy = front(to("app"), {"app": backend})
        response = http_request(proxy.port, "/")
    assert (response.status, response.body) == (200, b"until the end")


def no_body_statuses(sock: socket.socket) -> None:
    while True:
        head, _ = read_head(sock)
        if not head:
            return
        path = head.split(b" ")[1]
        if path == b"/204":
            sock.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
        elif path == b"/304":
            sock.sendall(b'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n')
        else:  # HEAD
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")


def test_head_204_304_have_no_body_and_keep_alive(fast: Any) -> None:
    with RawServer(no_body_statuses) as raw:
        backend = Backend("app", [Server("c", raw.address)], "roundrobin")
        proxy = fast(to("app"), {"app": backend})
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
            answers = []
            for method, path in [
                (b"HEAD", b"/"),
                (b"GET", b"/204"),
                (b"GET", b"/304"),
                (b"HEAD", b"/"),
            ]:
                sock.sendall(method + b" " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
                data = b""
                while b"\r\n\r\n" not in data:
                    data += sock.recv(65536)
                answers.append(data)
        assert raw.connections == 1  # one upstream connection reused for all four
    assert answers[0].startswith(b"HTTP/1.1 200") and answers[0].endswith(b"\r\n\r\n")
    assert b"content-length: 1234" in answers[0].lower()
    assert answers[1].startswith(b"HTTP/1.1 204") and answers[1].endswith(b"\r\n\r\n")
    assert answers[2].startswith(b"HTTP/1.1 304") and answers[2].endswith(b"\r\n\r\n")
    assert answers[3] == answers[0]


def raw_body_echo(sock: socket.socket) -> None:
    head, rest = read_head(sock)
    while not rest.endswith(b"\r\n\r\n"):  # the last chunk, its trailers, the empty line
        rest += sock.recv(65536)
    sock.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b"
        % (len(head + rest) + 4, head + b"\r\n\r\n" + rest)
    )


def test_chunked_upload_reframed_with_its_trailers(front: Any) -> None:
    with RawServer(raw_body_echo) as raw:
        backend = Backend("app", [Server("c", raw.address)], "roundrobin")
        proxy = front(to("app"), {"app": backend})
        payload = (
            b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n"
            b"4\r\nwiki\r\n5\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n"
        )
        response = parse_response(raw_exchange(proxy.port, payload))
    head, _, body = response.body.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    if isinstance(proxy, RunningAsgi):  # the ASGI server keeps request trailers to itself
        assert body.endswith(b"0\r\n\r\n") and b"X-Trailer" not in body
    else:
        assert body.endswith(b"0\r\nX-Trailer: t\r\n\r\n")
    assert _dechunk(body) == b"wikipedia"


def _dechunk(data: bytes) -> bytes:
    out = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return out
        out += data[:size]
        data = data[size + 2 :]


def test_expect_100_continue_with_curl(front: Any, named_backends: NamedBackends) -> None:
    proxy = front(to("app"), {"app": backend_of(named_backends)})
    body = "x" * 5000
    out = subprocess.run(
        [
            "curl",
            "-s",
            "-v",
            "--expect100-timeout",
            "30",
            "-H",
            "Expect: 100-continue",
            "--data-binary",
            body,
            f"http://127.0.0.1:{proxy.port}/echo",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert "100 Continue" in out.stderr
    assert json.loads(out.stdout)["body"] == body


def test_keep_alive_reuses_upstream(front: Any, named_backends: NamedBackends) -> None:
    backend = Backend("app", [Server("s1", named_backends.address("s1"))], "roundrobin")
    proxy = front(to("app"), {"app": backend})
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as client:
        for _ in range(5):
            client.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            data = b""
            while not data.endswith(b"s1"):
                data += client.recv(65536)
    # One client connection's requests share one server connection.
    assert proxy.proxy.pool("app", "s1").total == 1


def test_httplog_line(front: Any, named_backends: NamedBackends) -> None:
    from balancekit_server.ops.logs import format_httplog

    proxy = front(to("app"), {"app": backend_of(named_backends)}, Frontend(name="web"))
    http_request(proxy.port, "/a?b=c")
    line = format_httplog(**proxy.logs[-1].as_kwargs())
    assert " web app/s1 " in line
    assert line.endswith('"GET /a?b=c HTTP/1.1"')
    assert re.search(r" 200 \d+ - - ---- ", line)
    assert proxy.logs[-1].bytes_read > 2  # head counted too, as HAProxy's %B does


def split_responses(data: bytes) -> list[bytes]:
    """Bodies of consecutive Content-Length-framed responses on one connection."""
    bodies = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
        bodies.append(rest[:length])
        data = rest[length:]
    return bodies


def test_pipelined_requests_answered_in_order(fast: Any, named_backends: NamedBackends) -> None:
    proxy = fast(to("app"), {"app": backend_of(named_backends)})
    payload = b"".join(
        b"GET /echo?n=%d HTTP/1.1\r\nHost: x\r\n%b\r\n" % (i, b"Connection: close\r\n" * (i == 2))
        for i in range(3)
    )
    bodies = [json.loads(body) for body in split_responses(raw_exchange(proxy.port, payload))]
    assert [b["path"] for b in bodies] == ["/echo?n=0", "/echo?n=1", "/echo?n=2"]
    assert [b["server"] for b in bodies] == ["s1", "s2", "s3"]


def test_http10_client_gets_close_delimited_or_length(
    fast: Any, named_backends: NamedBackends
) -> None:
    proxy = fast(to("app"), {"app": backend_of(named_backends)})
    data = raw_exchange(proxy.port, b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
    response = parse_response(data)
    assert (response.status, response.body) == (200, b"s1")
    assert (response.header("connection") or "").lower() == "close"


def one_per_connection(sock: socket.socket) -> None:
    """Keep-alive in words only: the second request on a connection gets a close."""
    read_head(sock)
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    read_head(sock)  # the next request arrives... and the server hangs up


def test_request_replayed_when_reused_connection_closes(front: Any) -> None:
    with RawServer(one_per_connection) as raw:
        backend = Backend("app", [Server("s1", raw.address)], "roundrobin")
        proxy = front(to("app"), {"app": backend})
        answers = [http_request(proxy.port, "/").text for _ in range(3)]
    assert answers == ["ok", "ok", "ok"]
    assert raw.connections == 3  # each reuse failed once and went to a new connection


def test_two_different_hosts_are_400(front: Any, named_backends: NamedBackends) -> None:
    proxy = front(to("app"), {"app": backend_of(named_backends)})
    payload = b"GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\nConnection: close\r\n\r\n"
    assert parse_response(raw_exchange(proxy.port, payload)).status == 400
    same = b"GET / HTTP/1.1\r\nHost: a.test\r\nHost: A.test\r\nConnection: close\r\n\r\n"
    assert parse_response(raw_exchange(proxy.port, same)).status == 200
    assert named_backends.hits("s1") == ["/"]
