"""`disable frontend`, `enable frontend` and `set maxconn frontend`, what a client
sees, through HAProxy 2.6 and balancekit-server side by side.

HAProxy pauses the listener: new connections wait in the kernel's backlog until
it resumes.  balancekit accepts and parks them paused (its answer to `maxconn`
too); to the client both are a connection that gets no answer yet.
"""

from __future__ import annotations

import csv
import io
import socket

import pytest

from support.backends import NamedBackends
from support.haproxy import BALANCEKIT, HAPROXY, HAProxy, require_haproxy

CONFIG = """\
global
    stats socket {stats} level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend www
    bind {listen:www}
    default_backend app
backend app
    server s1 %(s1)s
listen raw
    mode tcp
    bind {listen:raw}
    server s1 %(s1)s
"""
#: A mode http frontend and a mode tcp listen section: both engines park alike.
FRONTENDS = ("www", "raw")

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def _send(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(REQUEST)
    return sock


def _answered(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        data = sock.recv(65536)
    except TimeoutError:
        return False
    assert data.startswith(b"HTTP/1.1 200"), data
    return True


@pytest.fixture(params=["haproxy", "balancekit"])
def proxy(request: pytest.FixtureRequest, named_backends: NamedBackends) -> HAProxy:
    require_haproxy()
    command = (HAPROXY,) if request.param == "haproxy" else BALANCEKIT
    with HAProxy(CONFIG % {"s1": named_backends.address("s1")}, command=command) as running:
        yield running


@pytest.mark.parametrize("name", FRONTENDS)
def test_a_disabled_frontend_holds_new_connections_until_enabled(proxy: HAProxy, name: str) -> None:
    port = proxy.port(name)
    assert proxy.command(f"disable frontend {name}") == "\n"
    waiting = _send(port)
    assert not _answered(waiting, 0.5)
    rows = csv.DictReader(io.StringIO(proxy.command("show stat").lstrip("# ")))
    assert {r["pxname"]: r["status"] for r in rows if r["svname"] == "FRONTEND"}[name] == "PAUSED"
    assert proxy.command(f"enable frontend {name}") == "\n"
    assert _answered(waiting, 5)
    waiting.close()


@pytest.mark.parametrize("name", FRONTENDS)
def test_set_maxconn_frontend_admits_one_connection_at_a_time(proxy: HAProxy, name: str) -> None:
    port = proxy.port(name)
    assert proxy.command(f"set maxconn frontend {name} 1") == "\n"
    first = _send(port)
    assert _answered(first, 5)  # keep-alive: it holds the only slot
    second = _send(port)
    assert not _answered(second, 0.5)
    first.close()
    assert _answered(second, 5)
    second.close()
