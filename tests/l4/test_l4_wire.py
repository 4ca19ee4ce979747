"""Table tests for the wire formats: PROXY protocol headers and HAProxy log lines."""

from __future__ import annotations

import calendar
import os
import re
import time
from collections.abc import Iterator

import pytest

from balancekit.config import LogTarget, parse_log_target
from balancekit_server.net import proxy_protocol as pp
from balancekit_server.ops.logs import Logger, format_date, format_httplog, format_tcplog


@pytest.fixture
def utc() -> Iterator[None]:
    """Log dates are local time, as in HAProxy: pin the zone for exact strings."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


# HAProxy's documentation example (doc/configuration.txt, "HTTP log format").
DOC_DATE = calendar.timegm((2009, 2, 6, 12, 14, 14)) + 0.655


def test_httplog_matches_haproxys_documented_example(utc: None) -> None:
    line = format_httplog(
        client_ip="10.0.1.2", client_port=33317, request_date=DOC_DATE, frontend="http-in",
        backend="static", server="srv1", treq=10, tw=0, tc=30, tr=69, ta=109, status=200,
        bytes_read=2750, request_line="GET /index.html HTTP/1.1", actconn=1, feconn=1,
        beconn=1, srv_conn=1,
    )  # fmt: skip
    assert line == (
        "10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 "
        '2750 - - ---- 1/1/1/1/0 0/0 "GET /index.html HTTP/1.1"'
    )


def test_tcplog_matches_haproxys_documented_example(utc: None) -> None:
    line = format_tcplog(
        client_ip="10.0.1.2", client_port=33313, accept_date=DOC_DATE - 0.655 + 0.011,
        frontend="fnt", backend="bck", server="srv1", tw=0, tc=0, tt=5007, bytes_read=212,
        termination="--", actconn=0, feconn=0, beconn=0, srv_conn=0,
    )  # fmt: skip
    assert line == (
        "10.0.1.2:33313 [06/Feb/2009:12:14:14.011] fnt bck/srv1 0/0/5007 212 -- 0/0/0/0/0 0/0"
    )


@pytest.mark.parametrize(
    ("kwargs", "piece"),
    [
        ({"server": None}, " be/<NOSRV> "),
        ({"ssl": True}, " fe~ be/"),
        ({"retries": 2, "redispatched": True}, "/+2 "),
        ({"request_line": 'GET /a"b#c\x01é HTTP/1.1'}, '"GET /a#22b#23c#01#C3#A9 HTTP/1.1"'),
        ({"captured_request_headers": ["a|b", "{x}"]}, " {a#7Cb|#7Bx#7D} "),
        ({"termination": "SC"}, " SC-- "),
    ],
    ids=["nosrv", "ssl", "redispatch", "escaping", "captures", "termination"],
)
def test_httplog_fields(utc: None, kwargs: dict[str, object], piece: str) -> None:
    base: dict[str, object] = {
        "client_ip": "127.0.0.1", "client_port": 1, "request_date": DOC_DATE,
        "frontend": "fe", "backend": "be", "server": "s1", "treq": 0, "tw": 0, "tc": 0,
        "tr": 0, "ta": 0, "status": 200, "bytes_read": 0, "request_line": "GET / HTTP/1.1",
    }  # fmt: skip
    assert piece in format_httplog(**{**base, **kwargs})  # type: ignore[arg-type]


def test_date_milliseconds_are_truncated_like_haproxy(utc: None) -> None:
    assert format_date(DOC_DATE - 0.655 + 0.123).endswith(":14.123")
    assert format_date(DOC_DATE - 0.655 + 0.9999).endswith(":14.999")


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["stdout", "format", "raw", "local0"], LogTarget("stdout", "local0", format="raw")),
        (["/dev/log", "local1", "notice"], LogTarget("/dev/log", "local1", "notice")),
        (
            ["127.0.0.1:514", "len", "2048", "local2", "info", "err"],
            LogTarget("127.0.0.1:514", "local2", "info", "err", length=2048),
        ),
    ],
)
def test_parse_log_target(words: list[str], expected: LogTarget) -> None:
    assert parse_log_target(words) == expected


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ([], "expects 'global' or a target address"),
        (["stdout"], "missing facility"),
        (["stdout", "local9"], "unknown facility 'local9'"),
        (["stdout", "format", "json", "local0"], "unknown format 'json'"),
        (["stdout", "local0", "loud"], "unknown level 'loud'"),
        (["stdout", "len", "x", "local0"], "len expects an integer"),
    ],
)
def test_bad_log_lines_say_what_is_wrong(words: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_log_target(words)


def test_syslog_headers(utc: None) -> None:
    logger = Logger([], tag="haproxy")
    now = DOC_DATE
    pid = os.getpid()
    rfc3164 = logger.header(LogTarget("x", "local0"), "info", now)
    assert rfc3164 == f"<134>Feb  6 12:14:14 haproxy[{pid}]: "
    rfc5424 = logger.header(LogTarget("x", "local1", format="rfc5424"), "notice", now)
    assert rfc5424 == f"<141>1 2009-02-06T12:14:14.655000+00:00 - haproxy {pid} - - "
    assert logger.header(LogTarget("x", "local0", format="raw"), "info", now) == ""
    # minlevel caps more severe messages at that level (HAProxy's 4th log argument).
    capped = logger.header(LogTarget("x", "local0", minlevel="err"), "alert", now)
    assert capped.startswith("<131>")  # local0 (16) * 8 + err (3)
    kept = logger.header(LogTarget("x", "local0", minlevel="err"), "info", now)
    assert kept.startswith("<134>")


# -- PROXY protocol ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("src", "dst"),
    [("192.0.2.1", "198.51.100.2"), ("2001:db8::1", "2001:db8::2"), ("127.0.0.1", "::1")],
)
def test_proxy_roundtrip(src: str, dst: str) -> None:
    for encode in (pp.encode_v1, pp.encode_v2):
        header = encode(src, 1234, dst, 443)
        parsed = pp.parse(header + b"payload")
        assert parsed is not None
        info, used = parsed
        assert header + b"payload" == (header + b"payload")[:used] + b"payload"
        if encode is pp.encode_v1 and ":" in src + dst and "." in src + dst:
            assert info.local  # mixed families in v1: UNKNOWN
        else:
            assert (info.src, info.src_port, info.dst, info.dst_port) == (src, 1234, dst, 443)


def test_proxy_v1_exact_bytes() -> None:
    assert (
        pp.encode_v1("192.0.2.1", 5, "192.0.2.2", 80) == b"PROXY TCP4 192.0.2.1 192.0.2.2 5 80\r\n"
    )


@pytest.mark.parametrize(
    "data",
    [
        b"P",
        b"PROXY TCP4 1.2.3.4",
        pp.V2_SIGNATURE[:5],
        pp.encode_v2("1.2.3.4", 1, "1.2.3.5", 2)[:20],
    ],
    ids=["v1-start", "v1-partial", "v2-signature", "v2-partial"],
)
def test_proxy_partial_headers_ask_for_more(data: bytes) -> None:
    assert pp.parse(data) is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GET / HTTP/1.1\r\n", "does not start with a PROXY"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 99999 80\r\n", "port out of range"),
        (b"PROXY TCP4 ::1 ::2 1 2\r\n", "malformed"),
        (b"PROXY TCP9 a b c d\r\n", "malformed"),
        (b"PROXY " + b"x" * 120, "too long"),
        (b"\r\n\r\n\x00\r\nQUIT\n\x31\x11\x00\x00", "version 3"),
        (b"\r\n\r\nXXXXXXXXXXXX", "signature"),
    ],
)
def test_proxy_garbage_is_rejected(data: bytes, message: str) -> None:
    with pytest.raises(pp.ProxyProtocolError, match=message):
        pp.parse(data)


def test_proxy_v2_local_and_unix_keep_own_addresses() -> None:
    local = pp.encode_v2("", 0, "", 0, local=True)
    parsed = pp.parse(local)
    assert parsed is not None and parsed[0].local and parsed[1] == len(local)
    unix = pp.V2_SIGNATURE + bytes((0x21, 0x31)) + (216).to_bytes(2, "big") + bytes(216)
    parsed = pp.parse(unix)
    assert parsed is not None and parsed[0].local and parsed[1] == len(unix)


def test_log_format_default_tcplog_equals_format_tcplog(utc: None) -> None:
    from balancekit_server.ops.logs import TCPLOG_FORMAT, LogFormat, format_date

    values: dict[str, object] = {
        "ci": "10.0.0.1", "cp": 4000, "t": format_date(DOC_DATE), "ft": "fe", "b": "be",
        "s": "s1", "Tw": 0, "Tc": 2, "Tt": 30, "B": 99, "ts": "--", "ac": 3, "fc": 2,
        "bc": 1, "sc": 1, "rc": "+1", "sq": 0, "bq": 4,
    }  # fmt: skip
    line = format_tcplog(
        client_ip="10.0.0.1", client_port=4000, accept_date=DOC_DATE, frontend="fe",
        backend="be", server="s1", tw=0, tc=2, tt=30, bytes_read=99, actconn=3, feconn=2,
        beconn=1, srv_conn=1, retries=1, redispatched=True, backend_queue=4,
    )  # fmt: skip
    assert LogFormat(TCPLOG_FORMAT).render(values) == line


@pytest.mark.parametrize(
    ("template", "values", "expected"),
    [
        ("%ci %b", {"ci": "1.2.3.4"}, "1.2.3.4 -"),  # missing value: '-'
        ("%ci  %hr  %b", {"ci": "a", "hr": "", "b": "be"}, "a be"),  # one space per run
        ("%{+Q}ci:%cp", {"ci": "a", "cp": 5}, '"a":5'),  # numbers are never quoted
        ("%{+Q}o %b %{-Q}s", {"b": "be", "s": "s1"}, '"be" s1'),
        ("100%% %b", {"b": "x"}, "100% x"),
        # as HAProxy 2.6: no capture, nothing printed, not even with +Q; the space
        # before it at the end stays (`option httplog clf` ends with `%CS %hrl %hsl`)
        ("%ST %hr", {"ST": 200, "hr": ""}, "200 "),
        ("%{+Q}o %CS %hrl %hsl", {"CS": None, "hrl": "", "hsl": ""}, '"" '),
    ],
)
def test_log_format_rendering(template: str, values: dict[str, object], expected: str) -> None:
    from balancekit_server.ops.logs import LogFormat

    assert LogFormat(template).render(values) == expected


def test_log_format_samples_render_from_the_request() -> None:
    from balancekit import Request
    from balancekit_server.ops.logs import LogFormat

    request = Request(src="10.1.2.3", src_port=4000, dst="10.0.0.1", dst_port=443)
    template = LogFormat("%[src] %[src,ipmask(16)] %[ssl_fc_sni] %{+Q}[ssl_fc_sni] %{+Q}[src_port]")
    assert template.render({}, request) == '10.1.2.3 10.1.0.0 - "" "4000"'
    assert template.render({}) == '- - - "" ""'  # no request: nothing to sample


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("%zz", "unknown variable '%zz'"),
        ("%{+Q", "missing '}'"),
        ("%[src", "missing ']'"),
        ("%[nosuch]", "sample expression 'nosuch'"),
        ("%[src,nosuch]", "unknown converter 'nosuch'"),
        # HAProxy refuses what a mode tcp log line cannot sample reliably.
        ("%[req.ssl_sni]", "needs 'request buffer' which is not available here"),
        ("%[req.hdr(host)]", "needs 'HTTP request headers' which is not available here"),
    ],
)
def test_log_format_errors(template: str, message: str) -> None:
    from balancekit_server.ops.logs import LogFormat

    with pytest.raises(ValueError, match=re.escape(message)):
        LogFormat(template)
