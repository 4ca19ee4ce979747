"""A server killed hard under load, `retry-on all-retryable-errors`: balancekit fails
no more client requests than HAProxy 2.6 with the same config in the same test.

Each proxy gets two fresh backend processes (`l7_slow_backend.py`, 30 ms per
request) and eight keep-alive clients; 0.6 s in, one backend gets SIGKILL with
requests in flight and idle connections pooled. What then fails depends on the
retry policy end to end: empty responses on the in-flight requests (L7 retries,
replayed on the other server), refused connections afterwards (connection
retries with redispatch), reused pooled connections that died (replay).
"""

from __future__ import annotations

import http.client
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from support.haproxy import BALANCEKIT, HAPROXY, HAProxy, require_haproxy

BACKEND = Path(__file__).with_name("l7_slow_backend.py")
CLIENTS = 8
RUN_FOR = 2.0
KILL_AT = 0.6

CONFIG = """\
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    retries 3
    retry-on all-retryable-errors
    option redispatch 1
{mode}
frontend web
    bind {listen:web}
    default_backend app
backend app
    balance roundrobin
    server a 127.0.0.1:{a}
    server b 127.0.0.1:{b}
"""
#: Pooled server connections (a dead one is replayed once on a new connection), or
#: one per request (only an L7 retry saves a request in flight).
MODES = {"keep-alive": "", "server-close": "    option http-server-close"}


@contextmanager
def _backend(name: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    process = subprocess.Popen(
        [sys.executable, str(BACKEND), name, "30"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield process, port
    finally:
        process.kill()
        process.wait()


def _client(port: int, stop: float, tally: dict[str, int], lock: threading.Lock) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while time.monotonic() < stop:
        try:
            conn.request("GET", "/work")
            response = conn.getresponse()
            body = response.read()
            outcome = body.decode() if response.status == 200 else f"status {response.status}"
        except (OSError, http.client.HTTPException) as exc:
            outcome = f"error {type(exc).__name__}"
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        with lock:
            tally[outcome] = tally.get(outcome, 0) + 1
    conn.close()


def _run(command: tuple[str, ...], mode: str) -> dict[str, int]:
    """Outcome → count, for one proxy under the kill scenario."""
    with _backend("a") as (victim, port_a), _backend("b") as (_, port_b):
        config = (
            CONFIG.replace("{mode}", MODES[mode])
            .replace("{a}", str(port_a))
            .replace("{b}", str(port_b))
        )
        with HAProxy(config, command=command) as proxy:
            port = proxy.port("web")
            tally: dict[str, int] = {}
            lock = threading.Lock()
            stop = time.monotonic() + RUN_FOR
            threads = [
                threading.Thread(target=_client, args=(port, stop, tally, lock))
                for _ in range(CLIENTS)
            ]
            for thread in threads:
                thread.start()
            time.sleep(KILL_AT)
            victim.send_signal(signal.SIGKILL)
            for thread in threads:
                thread.join()
    return tally


def _failed(tally: dict[str, int]) -> int:
    return sum(n for outcome, n in tally.items() if outcome not in ("a", "b"))


@pytest.mark.parametrize("mode", MODES)
def test_a_server_killed_under_load_fails_no_more_requests_than_haproxy(mode: str) -> None:
    require_haproxy()
    haproxy = _run((HAPROXY,), mode)
    balancekit = _run(BALANCEKIT, mode)
    report = f"haproxy {haproxy}, balancekit {balancekit}"
    # Both served from both servers before the kill and only from b after it.
    for tally in (haproxy, balancekit):
        assert tally.get("a", 0) > 0 and tally.get("b", 0) > tally.get("a", 0), report
    assert _failed(balancekit) <= _failed(haproxy), report
