"""`balancekit.tcpcheck`: the verdicts of tcp-check steps, without sockets, and the
driver against plain asyncio servers on loopback.

The protocol checks against real Redis, SMTP, TLS and HTTP servers, side by side
with HAProxy 2.6, are the conformance rows `tcp-check*`, `redis-check`, `smtpchk`
and `ssl-hello-ldap-check`; these tests pin what those peers do not reach (an
LDAP server's answers, waiting rules, the hello's bytes).
"""

from __future__ import annotations

import asyncio

import pytest

from balancekit.health import CheckResult, CheckStatus
from balancekit.tcpcheck import (
    TcpComment,
    TcpConnect,
    TcpExpect,
    expect,
    parse_binary,
    parse_rule,
    protocol_ruleset,
    ruleset,
    step_id,
)
from balancekit_server.ops.checks import CheckSpec, probe


def _rules(*lines: tuple[str, ...]) -> tuple[TcpConnect | TcpExpect | TcpComment, ...]:
    parsed: list[TcpConnect | TcpExpect | TcpComment] = []
    for index, line in enumerate(lines):
        parsed.append(parse_rule(line, index, tuple(parsed)))  # type: ignore[arg-type]
    return tuple(parsed)


def _bind_response(code: int) -> bytes:
    """An LDAPv3 bindResponse to message 1 with `code` as its resultCode (RFC 4511)."""
    result = b"\x0a\x01" + bytes([code]) + b"\x04\x00\x04\x00"
    op = b"\x61" + bytes([len(result)]) + result
    message = b"\x02\x01\x01" + op
    return b"\x30" + bytes([len(message)]) + message


LDAP = protocol_ruleset("ldap-check")


def _ldap_verdict(answer: bytes, last_read: bool = True) -> str | CheckResult:
    for rule in LDAP.rules[2:]:
        assert isinstance(rule, TcpExpect)
        verdict = expect(rule, LDAP, answer, last_read)
        if verdict != "next":
            return verdict
    return "next"


def test_ldap_success_failure_and_garbage() -> None:
    assert _ldap_verdict(_bind_response(0)) == CheckResult(CheckStatus.L7OK, 0, "Success")
    refused = _ldap_verdict(_bind_response(49))
    assert isinstance(refused, CheckResult)
    assert (refused.status, refused.code) == (CheckStatus.L7STS, 49)
    assert refused.info == "See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9"
    garbage = _ldap_verdict(b"\x30\x0c\x02\x01\x02\x61\x07\x0a\x01\x00\x04\x00\x04\x00")
    assert garbage == CheckResult(CheckStatus.L7RSP, 0, "Not LDAPv3 protocol")
    assert _ldap_verdict(_bind_response(0)[:5], last_read=False) == "wait"


def test_a_string_waits_for_its_length_unless_min_recv_is_set() -> None:
    rules = ruleset("tcp-check", _rules(("expect", "string", "+PONG")))
    rule = rules.rules[1]
    assert isinstance(rule, TcpExpect)
    assert expect(rule, rules, b"+PO", False) == "wait"
    assert expect(rule, rules, b"-ERR nope", False) == "wait"  # may still come
    failed = expect(rule, rules, b"-ERR nope", True)
    assert failed == CheckResult(
        CheckStatus.L7RSP, 0, "TCPCHK did not match content '+PONG' at step 1"
    )
    bounded = ruleset("tcp-check", _rules(("expect", "min-recv", "3", "string", "+PONG")))
    rule = bounded.rules[1]
    assert isinstance(rule, TcpExpect)
    assert expect(rule, bounded, b"-ERR nope", False) != "wait"
    assert expect(rule, bounded, b"-E", False) == "wait"


def test_comments_name_the_steps_after_them_and_steps_count_every_line() -> None:
    rules = ruleset(
        "tcp-check",
        _rules(
            ("comment", "hello"),
            ("connect", "port", "2"),
            ("send", "PING"),
            ("comment", "bye"),
            ("send", "QUIT"),
            ("send", "NOOP"),
            ("expect", "string", "+OK"),
        ),
    )
    # A comment names the run of steps of one kind that follows it (a connect: only it).
    comments = [rule.comment for rule in rules.rules]
    assert comments == ["hello", None, "bye", "bye", None]
    assert [step_id(r) for r in rules.rules] == [2, 3, 5, 6, 7]
    implicit = ruleset("tcp-check", _rules(("send", "PING"))).rules[0]
    assert isinstance(implicit, TcpConnect) and implicit.implicit and step_id(implicit) == 0


def test_a_connect_must_come_first() -> None:
    with pytest.raises(ValueError, match="first step MUST also be a 'connect'"):
        _rules(("send", "x"), ("connect",))


def test_parse_binary_messages() -> None:
    assert parse_binary("50494e47") == b"PING"
    with pytest.raises(ValueError, match="an even number of hex digit"):
        parse_binary("123")
    with pytest.raises(ValueError, match="found 'z'"):
        parse_binary("zz")


def test_the_ssl_hello_is_an_sslv3_client_hello() -> None:
    hello = protocol_ruleset("ssl-hello-chk").rules[1]
    data = hello.render()  # type: ignore[union-attr]
    assert data is not None and len(data) == 5 + 0x79
    assert data[:5] == bytes.fromhex("1603000079") and data[5] == 1
    assert data[15:43] == b"HAPROXYSSLCHK\nHAPROXYSSLCHK\n"


async def _serve(answer: bytes) -> tuple[asyncio.Server, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        writer.write(answer)
        await writer.drain()
        await reader.read(100)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.mark.parametrize(
    ("answer", "status", "code"),
    [(_bind_response(0), CheckStatus.L7OK, 0), (_bind_response(32), CheckStatus.L7STS, 32)],
)
def test_ldap_check_over_a_socket(answer: bytes, status: CheckStatus, code: int) -> None:
    async def run() -> CheckResult:
        server, port = await _serve(answer)
        async with server:
            return await probe(CheckSpec("127.0.0.1", port, inter=2.0, tcp_check=LDAP))

    result = asyncio.run(run())
    assert (result.status, result.code) == (status, code)


def test_a_server_that_closes_at_once_is_an_empty_response() -> None:
    rules = protocol_ruleset("redis-check")

    async def run() -> CheckResult:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(100)  # the PING, then a clean close: nothing to judge
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            return await probe(CheckSpec("127.0.0.1", port, inter=2.0, tcp_check=rules))

    result = asyncio.run(run())
    assert result.status is CheckStatus.L7STS
    assert result.info == "TCPCHK got an empty response at step 2"
