"""`stats admin` through the real runtime: the form's body on a kept-alive connection.

The decisions and the 303 answers are compared with HAProxy by the conformance rows
`stats-admin*`; these tests cover what a differential row cannot see: that the
form's bytes are consumed (the next request on the connection is parsed cleanly),
`Expect: 100-continue`, an oversized form, and the server states behind the answers.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import BinaryIO

import pytest
from runtime.runtime_harness import RuntimeThread

from support.backends import NamedBackends


def config(nb: NamedBackends) -> str:
    return f"""
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend www
    bind 127.0.0.1:0
    stats enable
    stats uri /st
    stats admin if {{ src 127.0.0.1 }}
    default_backend app
backend app
    server s1 {nb.address("s1")}
    server s2 {nb.address("s2")}
"""


@pytest.fixture
def running(named_backends: NamedBackends) -> Iterator[RuntimeThread]:
    rt = RuntimeThread(config(named_backends))
    yield rt
    rt.close()


def _read_response(reader: BinaryIO) -> tuple[bytes, bytes]:
    """One response (head, body) off a kept-alive connection (Content-Length bodies)."""
    lines = []
    while (line := reader.readline()) not in (b"\r\n", b""):
        lines.append(line)
    assert lines, "connection closed"
    head = b"".join(lines)
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head, reader.read(length)


def _post(body: bytes, extra: bytes = b"") -> bytes:
    return (
        b"POST /st HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        + extra
        + b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


def test_post_then_get_on_one_connection(running: RuntimeThread) -> None:
    pool = running.config.backends["app"].backend
    with socket.create_connection(("127.0.0.1", running.port("www")), timeout=5) as sock:
        reader = sock.makefile("rb")
        sock.sendall(_post(b"s=s1&action=maint&b=app") + b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _ = _read_response(reader)
        assert head.startswith(b"HTTP/1.1 303 See Other")
        assert b"\r\nLocation: /st;st=DONE" in head
        head, body = _read_response(reader)
        assert head.startswith(b"HTTP/1.1 200")
        assert b'"server": "s2"' in body  # s1 is in maintenance now
    assert pool.member("s1").admin == "maint"


def test_expect_100_continue(running: RuntimeThread) -> None:
    with socket.create_connection(("127.0.0.1", running.port("www")), timeout=5) as sock:
        reader = sock.makefile("rb")
        form = b"s=s2&action=drain&b=%232"
        sock.sendall(_post(b"", b"Expect: 100-continue\r\n").replace(b"Length: 0", b"Length: 24"))
        assert reader.readline() == b"HTTP/1.1 100 Continue\r\n"
        assert reader.readline() == b"\r\n"
        sock.sendall(form)
        head, _ = _read_response(reader)
        assert b"st=DONE" in head
    assert running.config.backends["app"].backend.member("s2").admin == "drain"


def test_an_oversized_form_changes_nothing_and_keeps_the_connection(
    running: RuntimeThread,
) -> None:
    body = b"s=s1&action=maint&b=app&pad=" + b"x" * 20_000
    with socket.create_connection(("127.0.0.1", running.port("www")), timeout=5) as sock:
        reader = sock.makefile("rb")
        sock.sendall(_post(body) + b"GET /st;st=EXCD HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _ = _read_response(reader)
        assert b"st=EXCD" in head
        head, page = _read_response(reader)
        assert head.startswith(b"HTTP/1.1 200")
        assert b"the buffer couldn't store all the data" in page
    assert running.config.backends["app"].backend.member("s1").admin == "ready"


def test_agent_actions_count_nothing_without_agents(running: RuntimeThread) -> None:
    with socket.create_connection(("127.0.0.1", running.port("www")), timeout=5) as sock:
        reader = sock.makefile("rb")
        sock.sendall(_post(b"s=s1&action=adown&b=app"))
        head, _ = _read_response(reader)
    assert b"st=NONE" in head
    assert running.config.backends["app"].backend.member("s1").up


def test_the_admin_page_has_the_form(running: RuntimeThread) -> None:
    with socket.create_connection(("127.0.0.1", running.port("www")), timeout=5) as sock:
        reader = sock.makefile("rb")
        sock.sendall(b"GET /st HTTP/1.1\r\nHost: x\r\n\r\n")
        _, page = _read_response(reader)
    assert b'<form method="post">' in page
    assert b'name="s" value="s1"' in page and b'name="s" value="s2"' in page
    assert b'<input type="hidden" name="b" value="#2">' in page
