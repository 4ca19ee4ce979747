"""`cookie … dynamic` through the real runtime: the generated value routes, and it
follows `set server … addr` as HAProxy's srv_set_dyncookie makes it follow.

The Set-Cookie bytes themselves are compared with HAProxy by the conformance rows
`cookie-dynamic*`; a row cannot send back a value that depends on the backends'
ports, so the round trip is here.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator

import pytest
from runtime.runtime_harness import RuntimeThread

from balancekit.persistence import dynamic_cookie
from balancekit_server.ops.stats import CommandProcessor
from support.backends import NamedBackends

KEY = "s3cr3t"


@pytest.fixture
def running(named_backends: NamedBackends) -> Iterator[RuntimeThread]:
    rt = RuntimeThread(f"""
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend www
    bind 127.0.0.1:0
    default_backend app
backend app
    balance roundrobin
    dynamic-cookie-key {KEY}
    cookie SRV insert indirect nocache dynamic
    server s1 {named_backends.address("s1")}
    server s2 {named_backends.address("s2")}
    server s3 {named_backends.address("s3")} cookie mine
""")
    yield rt
    rt.close()


def _get(port: int, cookie: str | None = None) -> tuple[bytes, str | None]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/", headers={"Cookie": cookie} if cookie else {})
    response = conn.getresponse()
    body, set_cookie = response.read(), response.getheader("Set-Cookie")
    conn.close()
    return body, set_cookie


def _cli(running: RuntimeThread, line: str) -> str:
    """A runtime API line, run on the proxy's event loop (where its state lives)."""
    processor = CommandProcessor(running.config)

    async def run() -> str:
        return processor.execute(line)

    answer: str = running.run(run())
    return answer


def test_the_generated_cookie_is_set_and_followed(
    running: RuntimeThread, named_backends: NamedBackends
) -> None:
    port = running.port("www")
    s2 = dynamic_cookie(KEY, "127.0.0.1", named_backends.port("s2"))
    seen = {_get(port)[1] for _ in range(3)}
    assert f"SRV={s2}; path=/" in seen
    assert "SRV=mine; path=/" in seen  # a server's own `cookie` is kept
    for _ in range(3):
        body, set_cookie = _get(port, f"SRV={s2}")
        assert body == b"s2" and set_cookie is None


def test_the_cookie_follows_a_new_address(
    running: RuntimeThread, named_backends: NamedBackends
) -> None:
    pool = running.config.backends["app"].backend
    moved_to = named_backends.port("s3")
    assert "port changed" in _cli(running, f"set server app/s1 addr 127.0.0.1 port {moved_to}")
    assert pool.member("s1").server.cookie == dynamic_cookie(KEY, "127.0.0.1", moved_to)
    assert pool.member("s3").server.cookie == "mine"
    body, _ = _get(running.port("www"), f"SRV={pool.member('s1').server.cookie}")
    assert body == b"s3"  # s1 now points at the s3 process


def test_the_runtime_commands_change_key_and_state(
    running: RuntimeThread, named_backends: NamedBackends
) -> None:
    pool = running.config.backends["app"].backend
    port = named_backends.port("s1")
    assert _cli(running, "set dynamic-cookie-key backend app other") == "\n"
    assert pool.member("s1").server.cookie == dynamic_cookie("other", "127.0.0.1", port)
    _cli(running, "disable dynamic-cookie backend app")
    assert pool.member("s1").server.cookie is None
    assert pool.member("s3").server.cookie == "mine"  # its own value stays
    _cli(running, "enable dynamic-cookie backend app")
    assert pool.member("s1").server.cookie == dynamic_cookie("other", "127.0.0.1", port)
