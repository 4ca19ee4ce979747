"""`option httplog` lines to a syslog target, compared with HAProxy 2.6's own lines for
the same requests (timers, ports and dates normalized; everything else must match)."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from l7_diff import SideBySide

from support.client import http_request

pytestmark = pytest.mark.haproxy


class Syslog:
    """A UDP syslog receiver on a free loopback port."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.port = int(self.sock.getsockname()[1])

    def lines(self, count: int) -> list[str]:
        return [self.sock.recv(65536).decode() for _ in range(count)]


@pytest.fixture
def receivers() -> Iterator[tuple[Syslog, Syslog]]:
    one, two = Syslog(), Syslog()
    yield one, two
    one.sock.close()
    two.sock.close()


def normalize(line: str) -> str:
    line = re.sub(r"^(\S+):\d+ ", r"\1:PORT ", line.strip())
    line = re.sub(r"\[\d\d/\w+/\d{4}:[\d:.]+\]", "[DATE]", line)
    line = re.sub(r" -?\d+/-?\d+/-?\d+/-?\d+/-?\d+ ", " TIMERS ", line, count=1)
    return re.sub(r" \d+/\d+/\d+/\d+/(\+?\d+) ", r" CONN/\1 ", line)


def _log_lines_of_both(
    receivers: tuple[Syslog, Syslog],
    named_backends: object,
    logging: str,
    requests: list[str | bytes | None],
    idle_clients: int = 0,
    in_flight: str | None = None,
    lines: int | None = None,
) -> dict[str, list[str]]:
    """The log lines HAProxy and balancekit send for `requests` through the same
    frontend (with a deny rule for /admin), `logging` being its log option lines,
    while `idle_clients` other connections stay open to each proxy and (if given)
    the slow request `in_flight` runs from before the first to after the last.
    A request given as bytes is sent raw (b"": nothing, wait for the proxy to
    close); None connects and closes at once.  `lines`: how many lines to expect
    (one per request by default)."""
    ha_log, kit_log = receivers
    servers = named_backends.server_lines()  # type: ignore[attr-defined]
    config = f"""
global
    log 127.0.0.1:{ha_log.port} format raw local0

defaults
    mode http
    log global
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend http_front
    bind 127.0.0.1:80
{logging}
    http-request deny if {{ path_beg /admin }}
    default_backend app

backend app
    balance roundrobin
{servers}
"""
    with SideBySide(config, {}) as sides:
        # balancekit logs to its own receiver: same config, other port
        sides.kit.close()
        from l7_diff import BalancekitRun

        sides.kit = BalancekitRun(sides.kit_text.replace(str(ha_log.port), str(kit_log.port)))
        receiver = {"haproxy": ha_log, "balancekit": kit_log}
        got: dict[str, list[str]] = {"haproxy": [], "balancekit": []}
        with contextlib.ExitStack() as idle:
            for port in sides.ports.values():
                for _ in range(idle_clients):
                    idle.enter_context(socket.create_connection(("127.0.0.1", port)))
            for side, port in sides.ports.items():
                slow = None
                if in_flight is not None:
                    slow = threading.Thread(target=http_request, args=(port, in_flight))
                    slow.start()
                    time.sleep(0.2)
                for path in requests:
                    if path is None:
                        socket.create_connection(("127.0.0.1", port), timeout=10).close()
                    elif isinstance(path, bytes):  # raw bytes: a malformed or partial head
                        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
                            raw.sendall(path)
                            while raw.recv(65536):
                                pass
                    else:
                        http_request(port, path, headers={"User-Agent": "t"})
                    if lines is None:
                        # Its line before the next request: a proxy may log after the
                        # client has its answer, and the next connection must not be
                        # counted in this line's %ac/%fc.
                        got[side] += receiver[side].lines(1)
                if slow is not None:
                    slow.join()
                count = (in_flight is not None) if lines is None else lines
                got[side] += receiver[side].lines(count)
        return {side: [x.strip() for x in found] for side, found in got.items()}


def test_httplog_lines_match_haproxy(
    receivers: tuple[Syslog, Syslog], named_backends: object
) -> None:
    got = _log_lines_of_both(
        receivers, named_backends, "    option httplog", ["/", "/a?b=c", "/admin/x", "/"]
    )
    got = {side: [normalize(x) for x in lines] for side, lines in got.items()}
    # Lines leave in completion order, which can differ by a hair: compare as sets.
    assert sorted(got["balancekit"]) == sorted(got["haproxy"])
    denied = [line for line in got["haproxy"] if line.endswith('"GET /admin/x HTTP/1.1"')]
    assert denied and " 403 " in denied[0] and "<NOSRV>" in denied[0]


LOG_FORMAT = (
    "%ci %ft %b %s %ST %tsc %HM %HU %HP %HQ %HV %{+Q}r %[src] %{+Q}[dst] %[ssl_fc_sni] "
    "%[src,ipmask(8)] %{+Q}o %b %ST %%done"
)


def test_http_log_format_lines_match_haproxy(
    receivers: tuple[Syslog, Syslog], named_backends: object
) -> None:
    """`log-format` in mode http (without `option httplog`): variables and samples."""
    got = _log_lines_of_both(
        receivers, named_backends, f'    log-format "{LOG_FORMAT}"', ["/", "/a?b=c", "/admin/x"]
    )
    assert sorted(got["balancekit"]) == sorted(got["haproxy"])
    assert any(" 403 PR-- GET /admin/x " in line for line in got["haproxy"])


def test_connection_counts_in_log_lines_match_haproxy(
    receivers: tuple[Syslog, Syslog], named_backends: object
) -> None:
    """%ac counts the process's connections and %fc the frontend's (two idle
    clients and a slow request besides the logged one), not requests; %bc and %sc
    count the backend's and the server's other requests in flight."""
    got = _log_lines_of_both(
        receivers,
        named_backends,
        '    log-format "%ac %fc %bc %sc %rc %ST %HP"',
        ["/", "/admin/x"],
        idle_clients=2,
        in_flight="/slow",
    )
    assert sorted(got["balancekit"]) == sorted(got["haproxy"])
    assert "4 4 1 0 0 200 /" in got["haproxy"]  # the slow request is on another server
    assert "3 3 0 0 0 200 /slow" in got["haproxy"]  # the last one, once the others left


CAPTURES = """    option httplog
    capture request header User-Agent len 5
    capture request header X-Missing len 10
    capture response header X-Server len 10
    capture response header Content-Type len 4"""


def test_captured_headers_in_log_lines_match_haproxy(
    receivers: tuple[Syslog, Syslog], named_backends: object
) -> None:
    """`capture request|response header`: `{…|…}` blocks in `option httplog` lines
    (a denied request has no server response to capture)."""
    got = _log_lines_of_both(receivers, named_backends, CAPTURES, ["/", "/admin/x"])
    got = {side: sorted(normalize(x) for x in lines) for side, lines in got.items()}
    assert got["balancekit"] == got["haproxy"]
    assert any(" {t|} {s1|text} " in line for line in got["haproxy"])


def test_captured_headers_in_log_format_match_haproxy(
    receivers: tuple[Syslog, Syslog], named_backends: object
) -> None:
    logging = CAPTURES.replace("option httplog", 'log-format "%hr %hs %hrl %hsl %{+Q}hrl %ST"')
    got = _log_lines_of_both(receivers, named_backends, logging, ["/", "/admin/x"])
    assert sorted(got["balancekit"]) == sorted(got["haproxy"])


@pytest.mark.parametrize(
    "logging", ["    option httplog", '    log-format "%ac/%fc %B %ST %tsc %{+Q}r"']
)
def test_errors_of_the_http_layer_log_like_haproxy(
    receivers: tuple[Syslog, Syslog], named_backends: object, logging: str
) -> None:
    """A malformed head (400) and `timeout http-request` (408) log `<BADREQ>` lines
    with no bytes counted and the connection still counted.

    The test holds one connection at a time, so `%ac/%fc` is `1/1` on both sides.
    A higher count on HAProxy's side can only be a stranger's connection (another
    test's leftover client reaching a port the kernel handed out again); such a run
    says nothing about either proxy and is repeated once."""
    for attempt in range(2):
        got = _log_lines_of_both(
            receivers,
            named_backends,
            logging + "\n    timeout http-request 1s",
            [b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", b"GET / HTTP/1.1\r\n"],
        )
        got = {side: sorted(normalize(x) for x in lines) for side, lines in got.items()}
        crowded = any(not line.startswith(("1/1 ", "127.")) for line in got["haproxy"])
        if not (crowded and attempt == 0):
            break
    assert got["balancekit"] == got["haproxy"]
    assert any(" 408 " in line and "cR--" in line for line in got["haproxy"])


def test_httplog_clf_lines_match_haproxy(
    receivers: tuple[Syslog, Syslog], named_backends: object
) -> None:
    """`option httplog clf`: the Common Log Format, then HAProxy's own fields."""
    got = _log_lines_of_both(
        receivers,
        named_backends,
        CAPTURES.replace("httplog", "httplog clf"),
        ["/a?b=c", "/admin/x"],
    )
    normal = {
        side: sorted(re.sub(r"\[[^]]+\]", "[DATE]", x).split(" ") for x in lines)
        for side, lines in got.items()
    }
    # The port, milliseconds and timers are the run's own: mask those fields.
    for side in normal:
        for words in normal[side]:
            for index in (11, 12, 16, 17, 18, 19, 20):  # %cp %ms %TR %Tw %Tc %Tr %Ta
                words[index] = "X"
    assert normal["balancekit"] == normal["haproxy"]
    assert all(line.startswith("127.0.0.1 - - [") for line in got["haproxy"])
    assert any(' "" "" "t" "" "s1" "text"' in line for line in got["haproxy"])


@pytest.mark.parametrize("dontlognull", [False, True])
def test_clients_that_send_nothing_log_like_haproxy(
    receivers: tuple[Syslog, Syslog], named_backends: object, dontlognull: bool
) -> None:
    """A client gone before sending a byte logs `400 CR`, one silent until `timeout
    http-request` logs `408 cR` timed from the accept; `option dontlognull` logs
    neither (the request after them is then the first line)."""
    logging = "    option httplog\n    timeout http-request 1s"
    if dontlognull:
        logging += "\n    option dontlognull"
    raw = _log_lines_of_both(
        receivers, named_backends, logging, [None, b"", "/"], lines=1 if dontlognull else 3
    )
    got = {side: sorted(normalize(x) for x in lines) for side, lines in raw.items()}
    assert got["balancekit"] == got["haproxy"]
    if dontlognull:
        assert got["haproxy"][0].endswith('"GET / HTTP/1.1"')
        return
    assert any(" 400 0 - - CR-- " in line for line in got["haproxy"])
    for lines in raw.values():  # the 408's %Ta counts from the accept: about 1 s
        (timed_out,) = [line for line in lines if " 408 " in line]
        ta = int(re.search(r" -1/-1/-1/-1/(\d+) ", timed_out).group(1))  # type: ignore[union-attr]
        assert 900 <= ta < 5000, timed_out
