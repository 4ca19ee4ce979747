"""Probes against real loopback servers: TCP connect, httpchk + expect, timeouts."""

from __future__ import annotations

import asyncio
import socket

import pytest
from health_servers import ControlledHTTP, closed_port

from balancekit.config.runtime import HttpCheck, HttpCheckExpect
from balancekit.health import CheckStatus
from balancekit.httpcheck import evaluate_http
from balancekit_server.ops.checks import CheckSpec, http_request, probe


def run(spec: CheckSpec):  # type: ignore[no-untyped-def]
    return asyncio.run(probe(spec))


def test_tcp_connect_refused_and_ok() -> None:
    refused = run(CheckSpec("127.0.0.1", closed_port(), inter=1))
    assert refused.status is CheckStatus.L4CON and refused.info == "Connection refused"
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        ok = run(CheckSpec("127.0.0.1", listener.getsockname()[1], inter=1))
    assert ok.status is CheckStatus.L4OK and ok.passed


def test_httpchk_status_and_reason() -> None:
    with ControlledHTTP(500) as srv:
        spec = CheckSpec("127.0.0.1", srv.port, kind="http", inter=1, http=HttpCheck("GET", "/h"))
        bad = run(spec)
        assert (bad.status, bad.code, bad.info) == (CheckStatus.L7STS, 500, "Internal Server Error")
        srv.status = 200
        good = run(spec)
        assert (good.status, good.code, good.info) == (CheckStatus.L7OK, 200, "")
        srv.status = 302
        assert run(spec).status is CheckStatus.L7OK  # default expect: 200-399
        assert srv.requests[0] == "GET /h HTTP/1.0"


def test_http_check_send_headers_and_body() -> None:
    check = HttpCheck("POST", "/ping", "HTTP/1.1", (("Host", "example.org"),), "hello")
    # The bytes HAProxy 2.6 sends for it (captured from haproxy 2.6.12).
    assert http_request(check) == (
        b"POST /ping HTTP/1.1\r\nhost: example.org\r\ncontent-length: 5\r\n"
        b"connection: close\r\n\r\nhello"
    )
    state = "UP; address=127.0.0.1; port=80; name=b/s; node=n; weight=1/1; scur=0/0; qcur=0"
    assert http_request(HttpCheck("GET", "/", "HTTP/1.0"), state) == (
        b"GET / HTTP/1.0\r\nx-haproxy-server-state: " + state.encode() + b"\r\n\r\n"
    )
    with ControlledHTTP(200) as srv:
        result = run(CheckSpec("127.0.0.1", srv.port, kind="http", inter=1, http=check))
        assert result.status is CheckStatus.L7OK
        assert srv.headers_seen[0]["host"] == "example.org"


@pytest.mark.parametrize(
    ("rule", "status", "body", "outcome"),
    [
        (HttpCheckExpect("status", "200"), 200, "", CheckStatus.L7OK),
        (HttpCheckExpect("status", "200,204-206"), 205, "", CheckStatus.L7OK),
        (HttpCheckExpect("status", "200"), 204, "", CheckStatus.L7STS),
        (HttpCheckExpect("status", "200", negate=True), 200, "", CheckStatus.L7STS),
        (HttpCheckExpect("rstatus", "^5"), 503, "", CheckStatus.L7OK),
        (HttpCheckExpect("string", "alive"), 200, "I am alive", CheckStatus.L7OK),
        (HttpCheckExpect("string", "alive"), 200, "dead", CheckStatus.L7RSP),
        (HttpCheckExpect("string", "maint", negate=True), 200, "in maint", CheckStatus.L7RSP),
        (HttpCheckExpect("rstring", r"status: (ok|up)"), 200, "status: up", CheckStatus.L7OK),
        (HttpCheckExpect("string", "x"), 200, "", CheckStatus.L7RSP),
    ],
)
def test_expect_rules(rule: HttpCheckExpect, status: int, body: str, outcome: CheckStatus) -> None:
    assert evaluate_http((rule,), status, "R", body.encode(), 1).status is outcome


def test_expect_string_against_real_server_and_infos() -> None:
    with ControlledHTTP(200, body="db=down") as srv:
        spec = CheckSpec(
            "127.0.0.1",
            srv.port,
            kind="http",
            inter=1,
            http=HttpCheck(),
            expects=(HttpCheckExpect("string", "db=up"),),
        )
        result = run(spec)
        assert result.status is CheckStatus.L7RSP
        assert result.info == "HTTP content check did not match"
        srv.body = "db=up"
        assert run(spec).status is CheckStatus.L7OK
        assert srv.requests[0] == "OPTIONS / HTTP/1.0"  # HAProxy's default request


def test_hanging_server_times_out_at_timeout_check() -> None:
    with ControlledHTTP() as srv:
        srv.hang()
        spec = CheckSpec(
            "127.0.0.1", srv.port, kind="http", inter=5, check_timeout=0.2, http=HttpCheck()
        )
        result = run(spec)
        assert result.status is CheckStatus.L7TOUT and result.info == ""
        assert result.duration_ms is not None and result.duration_ms >= 200


def test_server_closing_without_answer_is_invalid_response() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]

        async def go() -> CheckStatus:
            task = asyncio.create_task(
                probe(CheckSpec("127.0.0.1", port, kind="http", inter=2, http=HttpCheck()))
            )

            def serve_one() -> None:
                conn, _ = listener.accept()
                conn.recv(1024)
                conn.close()

            await asyncio.get_running_loop().run_in_executor(None, serve_one)
            return (await task).status

        assert asyncio.run(go()) is CheckStatus.L7RSP
