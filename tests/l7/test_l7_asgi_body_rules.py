"""`wait-for-body`, `option http-buffer-request` and `early-hint` through `ProxyApp`.

The conformance rows (`wait-for-body*`, `option-http-buffer-request`, `early-hint`)
run the fast front door against HAProxy 2.6; these send the same kinds of request
through the ASGI front door, which shares the proxy core: the rules read the body
the ASGI server hands over, the server still gets all of it, and a body that does
not come in time is a 408.  ASGI has no interim responses, so early hints are not
sent there, and the answer is unchanged.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from l7_harness import RunningAsgi

from balancekit.config import load_text
from support.backends import NamedBackends
from support.client import http_request

CONFIG = """
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s

frontend fe
    bind {bind}
    http-request early-hint link "</app.css>; rel=preload" if {{ path /echo/hint }}
    http-request wait-for-body time 300ms if METH_POST
    http-request set-header X-Len %[req.body_len]
    http-request set-header X-User %[req.body_param(user)]
    http-request deny deny_status 400 if {{ req.body_param(user) -m str root }}
    use_backend buffered if {{ path_beg /echo/buffered }}
    default_backend be

backend be
    server s1 {server}

backend buffered
    option http-buffer-request
    timeout http-request 300ms
    http-request set-header X-Be-Len %[req.body_len]
    server s1 {server}
"""


@pytest.fixture(scope="module", params=["httptools", "h11"])
def asgi_port(request: pytest.FixtureRequest) -> Iterator[int]:
    with NamedBackends(["s1"]) as backends:
        text = CONFIG.format(bind="127.0.0.1:0", server=backends.address("s1"))
        config = load_text(text).config
        frontend = config.frontends[0]
        app = RunningAsgi(frontend.router, dict(config.backends), frontend, http=request.param)
        try:
            yield app.port
        finally:
            app.close()


def _echoed(port: int, path: str, **kw: object) -> tuple[dict[str, str], str]:
    response = http_request(port, path, **kw)  # type: ignore[arg-type]
    assert response.status == 200, response.body
    echo = json.loads(response.body)
    return {k.lower(): v for k, v in echo["headers"]}, echo["body"]


def test_rules_read_the_body_and_the_server_gets_it(asgi_port: int) -> None:
    body = b"user=alice&x=1"
    headers, seen = _echoed(asgi_port, "/echo", method="POST", body=body)
    assert (headers["x-len"], headers["x-user"], seen) == ("14", "alice", body.decode())


def test_a_chunked_body_is_read_too(asgi_port: int) -> None:
    chunked = b"4\r\nuser\r\n4\r\n=bob\r\n0\r\n\r\n"
    # (this echo server does not decode a chunked body: the rules' view is checked)
    headers, _ = _echoed(
        asgi_port,
        "/echo",
        method="POST",
        body=chunked,
        headers={"Transfer-Encoding": "chunked"},
    )
    assert (headers["x-len"], headers["x-user"]) == ("8", "bob")


def test_a_rule_on_the_body_answers(asgi_port: int) -> None:
    response = http_request(asgi_port, "/echo", method="POST", body=b"user=root")
    assert response.status == 400


def test_a_backend_option_waits_for_the_body(asgi_port: int) -> None:
    headers, seen = _echoed(asgi_port, "/echo/buffered", method="POST", body=b"abc")
    assert (headers["x-be-len"], seen) == ("3", "abc")


def test_a_body_late_is_a_408(asgi_port: int) -> None:
    with socket.create_connection(("127.0.0.1", asgi_port), timeout=5) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\nabc")
        data = b""
        while b"\r\n\r\n" not in data and (chunk := sock.recv(65536)):
            data += chunk
    assert data.startswith(b"HTTP/1.1 408 ")


def test_early_hints_leave_the_answer_as_it_is(asgi_port: int) -> None:
    headers, _ = _echoed(asgi_port, "/echo/hint")
    assert headers["x-len"] == "0"
