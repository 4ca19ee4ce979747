"""A listener's TCP options (`tfo`, `defer-accept`, `mss`, `tcp-ut`, `backlog`), read
back from the very sockets HAProxy 2.6 and balancekit-server listen on.

The sockets are this test's (`bind fd@N`), so after each proxy started, getsockopt
on our copy shows what it set; a bind without the options must have them cleared,
as HAProxy clears what an inherited socket may carry.  The listen queue is not
visible through getsockopt: `ss` reads it for balancekit's own sockets.
"""

from __future__ import annotations

import socket
import subprocess
from typing import Any

import pytest

from balancekit.config import load_text
from support.haproxy import BALANCEKIT, HAPROXY, HAProxy

CONFIG = """\
global
    stats socket {stats} level admin
defaults
    mode http
    timeout client 5s
    timeout server 5s
    timeout connect 5s
frontend fe
    bind {listen:tuned} tfo defer-accept mss 1400 tcp-ut 3s backlog 64
    bind {listen:plain}
    http-request return status 200
"""

_OPTIONS = {
    "fastopen": socket.TCP_FASTOPEN,
    "defer-accept": socket.TCP_DEFER_ACCEPT,
    "mss": socket.TCP_MAXSEG,
    "user-timeout": socket.TCP_USER_TIMEOUT,
}


def _read(sock: socket.socket) -> dict[str, int]:
    return {name: sock.getsockopt(socket.IPPROTO_TCP, opt) for name, opt in _OPTIONS.items()}


def _options_after_start(command: tuple[str, ...]) -> dict[str, dict[str, int]]:
    proxy = HAProxy(CONFIG, command=command)
    with proxy:
        # The stats socket answering means every listener has been set up.
        proxy.command("show info")
        return {name: _read(sock) for name, sock in proxy._sockets.items()}


def test_listener_options_are_those_haproxy_sets() -> None:
    haproxy = _options_after_start((HAPROXY,))
    balancekit = _options_after_start(BALANCEKIT)
    assert balancekit == haproxy
    assert haproxy["tuned"]["defer-accept"] == 1
    assert haproxy["tuned"]["mss"] == 1400
    assert haproxy["tuned"]["user-timeout"] == 3000
    assert haproxy["tuned"]["fastopen"] > 0
    assert haproxy["plain"]["fastopen"] == haproxy["plain"]["defer-accept"] == 0


def test_an_inherited_socket_loses_options_its_bind_does_not_set() -> None:
    """A socket handed over with the options on (an older process's) gets them
    cleared by a bind without them, in both proxies."""
    results: list[dict[str, Any]] = []
    for command in ((HAPROXY,), BALANCEKIT):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 9000)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 8)
        text = CONFIG.replace(" tfo defer-accept mss 1400 tcp-ut 3s backlog 64", "")
        with sock, HAProxy(text, command=command, sockets={"tuned": sock}) as proxy:
            proxy.command("show info")
            results.append(_read(sock))
    assert results[0] == results[1]
    assert results[0]["defer-accept"] == results[0]["user-timeout"] == 0
    assert results[0]["fastopen"] == 0


def _listen_queue(port: int) -> int:
    """The listen queue (ss's Send-Q for a listening socket) of 127.0.0.1:port."""
    out = subprocess.run(
        ["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[2])


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ("    bind 127.0.0.1:0 backlog 37\n    backlog 41\n    maxconn 53\n", 37),
        ("    bind 127.0.0.1:0\n    backlog 41\n    maxconn 53\n", 41),
        ("    bind 127.0.0.1:0\n    maxconn 53\n", 53),
    ],
)
def test_backlog_is_the_binds_then_the_frontends_then_maxconn(lines: str, expected: int) -> None:
    """listener_backlog's order, on the socket balancekit itself binds."""
    from balancekit_server.net.listeners import open_listener

    text = "defaults\n    mode http\n    timeout client 5s\nfrontend fe\n" + lines
    bind = load_text(text).config.frontend("fe").binds[0]
    sock = open_listener(bind)
    try:
        assert _listen_queue(sock.getsockname()[1]) == expected
    finally:
        sock.close()
