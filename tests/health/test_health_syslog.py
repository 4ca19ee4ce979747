"""State changes reach the backend's `log` targets (syslog), as HAProxy's send_log does."""

from __future__ import annotations

import re
import socket
import time

from health_servers import ControlledHTTP, closed_port
from runtime.runtime_harness import RuntimeThread

from support.haproxy import HAProxy


def config(ok: int, dead: int, udp: int, bind: str) -> str:
    return f"""
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend www
    bind {bind}
    default_backend app
backend app
    log 127.0.0.1:{udp} local0
    server s1 127.0.0.1:{dead} check inter 100
    server s2 127.0.0.1:{ok} check inter 100
"""


def receive(sock: socket.socket, needle: str, timeout: float = 10) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while not any(needle in line for line in lines):
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            lines.append(sock.recv(4096).decode())
        except TimeoutError:
            raise AssertionError(f"no {needle!r} in {lines}") from None
    return lines


def split(line: str) -> tuple[str, str]:
    """(priority, message) of an rfc3164 line."""
    match = re.fullmatch(r"<(\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d [\w.-]+\[\d+\]: (.*?)\n?", line)
    assert match, line
    return match.group(1), match.group(2)


def test_down_line_goes_to_syslog_like_haproxy() -> None:
    ok = ControlledHTTP(200).start()
    dead = closed_port()
    try:
        mine_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        mine_sock.bind(("127.0.0.1", 0))
        rt = RuntimeThread(config(ok.port, dead, mine_sock.getsockname()[1], "127.0.0.1:0"))
        try:
            mine = receive(mine_sock, "is DOWN")
        finally:
            rt.close()
            mine_sock.close()
        theirs_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        theirs_sock.bind(("127.0.0.1", 0))
        with HAProxy(config(ok.port, dead, theirs_sock.getsockname()[1], "{listen:www}")):
            theirs = receive(theirs_sock, "is DOWN")
        theirs_sock.close()
    finally:
        ok.stop()
    mine_down = next(split(x) for x in mine if "is DOWN" in x)
    theirs_down = next(split(x) for x in theirs if "is DOWN" in x)
    assert mine_down[0] == theirs_down[0] == "129"  # local0.alert
    normalize = re.compile(r"check duration: \d+ms")
    assert normalize.sub("", mine_down[1]) == normalize.sub("", theirs_down[1])


def test_no_server_left_goes_to_syslog_unquoted_at_emerg_like_haproxy() -> None:
    dead = closed_port()
    single = (
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n"
        "    timeout server 5s\n"
        "frontend www\n    bind {bind}\n    default_backend app\n"
        "backend app\n    log 127.0.0.1:{udp} local0\n"
        f"    server s1 127.0.0.1:{dead} check inter 100\n"
    )
    needle = "has no server available"
    mine_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    mine_sock.bind(("127.0.0.1", 0))
    rt = RuntimeThread(single.format(bind="127.0.0.1:0", udp=mine_sock.getsockname()[1]))
    try:
        mine = receive(mine_sock, needle)
    finally:
        rt.close()
        mine_sock.close()
    theirs_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    theirs_sock.bind(("127.0.0.1", 0))
    template = single.format(bind="{{listen:www}}", udp=theirs_sock.getsockname()[1])
    with HAProxy(template.replace("{{", "{").replace("}}", "}")):
        theirs = receive(theirs_sock, needle)
    theirs_sock.close()
    mine_line = next(split(x) for x in mine if needle in x)
    theirs_line = next(split(x) for x in theirs if needle in x)
    assert mine_line == theirs_line == ("128", "backend app has no server available!")
