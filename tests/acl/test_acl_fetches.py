"""Every fetch and ACL keyword, with its default match method, against request views."""

# ruff: noqa: E501  (case tables read best one case per line)

from __future__ import annotations

import pytest

from balancekit import Request
from balancekit.acl import AclSet
from balancekit.acl.fetches import parse_sample_expr
from balancekit.acl.logformat import parse_log_format
from balancekit.request import ResponseView


def matches(words: list[str], request: Request) -> bool:
    acls = AclSet()
    acls.define(["x", *words])
    return acls.condition(["if", "x"]).matches(request)


UA = {"User-Agent": "Mozilla/5.0 (iPhone; Mobile)"}
MULTI = [("X-Fwd", "a, b"), ("X-Fwd", "c"), ("Host", "www.example.com:8080")]
COOKIES = [("Cookie", "sid=42; lang=fr"), ("Cookie", "theme=dark")]

CASES: list[tuple[str, list[str], Request, bool]] = [
    # addresses and ports
    ("src-net", ["src", "127.0.0.0/8"], Request("127.1.2.3"), True),
    ("src-miss", ["src", "127.0.0.0/8"], Request("10.1.2.3"), False),
    ("src-v6", ["src", "::1"], Request("::1"), True),
    ("src-empty", ["src", "0.0.0.0/0"], Request(""), False),
    ("src_port", ["src_port", "1024:65535"], Request(src_port=40000), True),
    ("dst", ["dst", "127.0.0.2"], Request(dst="127.0.0.2"), True),
    ("dst_port", ["dst_port", "80", "443"], Request(dst_port=443), True),
    ("dst_port-miss", ["dst_port", "80"], Request(dst_port=8080), False),
    # path family (ACL keywords with their own match method)
    ("path", ["path", "/a"], Request(path="/a", query="q=1"), True),
    ("path_beg", ["path_beg", "/static"], Request(path="/static/x"), True),
    ("path_end", ["path_end", ".css"], Request(path="/x.css"), True),
    ("path_sub", ["path_sub", "adm"], Request(path="/x/admin"), True),
    ("path_reg", ["path_reg", "^/v[0-9]/"], Request(path="/v2/x"), True),
    ("path_dir", ["path_dir", "img"], Request(path="/a/img/b"), True),
    ("path_dom", ["path_dom", "b"], Request(path="/a.b.c"), True),
    ("path_len", ["path_len", "gt", "3"], Request(path="/abcd"), True),
    ("path_len-miss", ["path_len", "gt", "3"], Request(path="/ab"), False),
    ("pathq", ["pathq", "/a?b=1"], Request(path="/a", query="b=1"), True),
    # url family
    ("url", ["url", "/a?b=1"], Request(path="/a", query="b=1"), True),
    ("url_beg", ["url_beg", "http://"], Request(uri="http://h/x", path="/x"), True),
    ("url_end", ["url_end", "=1"], Request(path="/a", query="b=1"), True),
    ("url_sub", ["url_sub", "?b"], Request(path="/a", query="b=1"), True),
    ("url_reg", ["url_reg", r"\?b=[0-9]$"], Request(path="/a", query="b=1"), True),
    ("url_len", ["url_len", "6"], Request(path="/a", query="b=1"), True),
    ("url_ip", ["url_ip", "127.0.0.1"], Request(uri="http://127.0.0.1:81/x", path="/x"), True),
    ("url_port", ["url_port", "81"], Request(uri="http://127.0.0.1:81/x", path="/x"), True),
    ("url_port-default", ["url_port", "80"], Request(uri="http://h/x", path="/x"), True),
    ("query", ["query", "a=1&b=2"], Request(query="a=1&b=2"), True),
    ("query-absent", ["query", "-m", "found"], Request(path="/a"), False),
    ("query-empty", ["query", "-m", "len", "0"], Request(uri="/a?", path="/a"), True),
    ("url_param", ["url_param(user)", "bob"], Request(query="id=1&user=bob"), True),
    ("url_param-semi", ["url_param(user)", "bob"], Request(query="id=1;user=bob"), True),
    ("urlp-second", ["urlp(a)", "2"], Request(query="a=1&a=2"), True),
    ("urlp_beg", ["urlp_beg(a)", "ab"], Request(query="a=abc"), True),
    ("urlp-prefix-name", ["urlp(a)", "1"], Request(query="aa=1"), False),
    ("urlp_len", ["urlp_len(a)", "3"], Request(query="a=abc"), True),
    # method
    ("method", ["method", "POST"], Request(method="POST"), True),
    ("method-list", ["method", "GET", "HEAD"], Request(method="HEAD"), True),
    ("method-other", ["method", "PURGE"], Request(method="PURGE"), True),
    ("method-miss", ["method", "POST"], Request(method="GET"), False),
    # headers
    ("hdr", ["hdr(x-fwd)", "b"], Request(headers=MULTI), True),
    ("hdr-every-value", ["hdr(x-fwd)", "c"], Request(headers=MULTI), True),
    ("hdr-no-full-line", ["hdr(x-fwd)", "a, b"], Request(headers=MULTI), False),
    ("req.hdr", ["req.hdr(User-Agent)", "-i", "-m", "sub", "mobile"], Request(headers=UA), True),
    ("hdr-occ", ["hdr(x-fwd,1)", "a"], Request(headers=MULTI), True),
    ("hdr-occ-last", ["hdr(x-fwd,-1)", "c"], Request(headers=MULTI), True),
    ("hdr-occ-miss", ["hdr(x-fwd,2)", "a"], Request(headers=MULTI), False),
    ("hdr_beg", ["hdr_beg(host)", "www."], Request(headers=MULTI), True),
    ("hdr_end", ["hdr_end(host)", ":8080"], Request(headers=MULTI), True),
    ("hdr_sub", ["hdr_sub(user-agent)", "iPhone"], Request(headers=UA), True),
    ("hdr_reg", ["hdr_reg(host)", r"^www\."], Request(headers=MULTI), True),
    ("hdr_dom", ["hdr_dom(host)", "example.com"], Request(headers=MULTI), True),
    ("hdr_dir", ["hdr_dir(user-agent)", "5.0 (iPhone; Mobile)"], Request(headers=UA), True),
    ("hdr_len", ["hdr_len(x-fwd)", "1"], Request(headers=MULTI), True),
    ("hdr_cnt", ["hdr_cnt(x-fwd)", "3"], Request(headers=MULTI), True),
    ("req.hdr_cnt", ["req.hdr_cnt(x-fwd)", "gt", "2"], Request(headers=MULTI), True),
    ("req.hdr_cnt-none", ["req.hdr_cnt(absent)", "0"], Request(headers=MULTI), True),
    ("req.fhdr", ["req.fhdr(x-fwd)", "a, b"], Request(headers=MULTI), True),
    ("req.fhdr_cnt", ["req.fhdr_cnt(x-fwd)", "2"], Request(headers=MULTI), True),
    ("hdr_val", ["hdr_val(content-length)", "gt", "10"], Request(headers={"Content-Length": "12"}), True),
    ("hdr_ip", ["hdr_ip(x-real-ip)", "127.0.0.0/8"], Request(headers={"X-Real-IP": "127.0.0.9"}), True),
    ("hdr-absent", ["hdr(x-none)", "-m", "found"], Request(headers=MULTI), False),
    ("hdr-found", ["hdr(host)", "-m", "found"], Request(headers=MULTI), True),
    ("cook", ["cook(lang)", "fr"], Request(headers=COOKIES), True),
    ("req.cook", ["req.cook(theme)", "dark"], Request(headers=COOKIES), True),
    ("cook_cnt", ["cook_cnt(sid)", "1"], Request(headers=COOKIES), True),
    ("cook_beg", ["cook_beg(sid)", "4"], Request(headers=COOKIES), True),
    # base
    ("base", ["base", "www.example.com:8080/a"], Request(path="/a", query="q", headers=MULTI), True),
    ("base-no-host", ["base", "/a"], Request(path="/a"), True),
    ("base_beg", ["base_beg", "www.example.com"], Request(path="/a", headers=MULTI), True),
    ("baseq", ["baseq", "www.example.com:8080/a?q"], Request(path="/a", query="q", headers=MULTI), True),
    # versions, TLS, constants
    ("req.ver", ["req.ver", "1.1"], Request(), True),
    ("req_ver", ["req_ver", "1.0"], Request(version="HTTP/1.0"), True),
    ("ssl_fc", ["ssl_fc"], Request(ssl=True), True),
    ("ssl_fc-false", ["ssl_fc"], Request(ssl=False), False),
    ("ssl_fc_sni", ["ssl_fc_sni", "api.example"], Request(ssl=True, sni="api.example"), True),
    ("ssl_fc_sni-cleartext", ["ssl_fc_sni", "-m", "found"], Request(sni="api.example"), False),
    ("ssl_fc_sni_end", ["ssl_fc_sni_end", ".example"], Request(ssl=True, sni="api.example"), True),
    ("ssl_fc_has_sni", ["ssl_fc_has_sni"], Request(ssl=True, sni="a"), True),
    ("req.ssl_sni", ["req.ssl_sni", "-i", "API.example"], Request(sni="api.example"), True),
    ("req_ssl_sni", ["req_ssl_sni", "api.example"], Request(sni="api.example"), True),
    ("always_true", ["always_true"], Request(), True),
    ("always_false", ["always_false"], Request(), False),
    ("req.proto_http", ["req.proto_http"], Request(), True),
    # converters change the match method to the converter's output type
    ("conv-lower", ["hdr(host),lower", "-m", "beg", "www."], Request(headers={"Host": "WWW.X"}), True),
    ("conv-upper", ["path,upper", "/A"], Request(path="/a"), True),
    ("conv-length", ["path,length", "gt", "2"], Request(path="/abc"), True),
    ("conv-on-acl-kw", ["path_beg,lower", "/a"], Request(path="/A"), True),
    ("conv-field", ["path,field(3,/)", "b"], Request(path="/a/b/c"), True),
    ("conv-field-neg", ["path,field(-1,/)", "c"], Request(path="/a/b/c"), True),
    ("conv-field-count", ["path,field(2,/,2)", "a/b"], Request(path="/a/b/c"), True),
    ("conv-field-rest", ["path,field(-2,/,0)", "/a/b"], Request(path="/a/b/c"), True),
    ("conv-field-missing", ["path,field(9,/)", "-m", "found"], Request(path="/a/b/c"), False),
    ("conv-regsub", ["path,regsub(/+,/,g)", "/a/b"], Request(path="//a///b"), True),
    ("conv-regsub-first", ["path,regsub(/+,/)", "/a///b"], Request(path="//a///b"), True),
    ("conv-regsub-empty", ["path,regsub(x*,-,g)", "--", "-/-a-"], Request(path="/a"), True),
    ("conv-regsub-groups", ['path,regsub("^/(a)/(b)",/\\2/\\1)', "/b/a"], Request(path="/a/b"), True),
    ("conv-regsub-icase", ["path,regsub(A,_,gi)", "/_b_"], Request(path="/aba"), True),
    ("conv-regsub-hex", ["path,regsub(/,\\x41)", "Ab"], Request(path="/b"), True),
    ("conv-ipmask", ["src,ipmask(16)", "10.1.0.0"], Request("10.1.2.3"), True),
    ("conv-ipmask-mapped", ["src,ipmask(24)", "10.1.2.0"], Request("::ffff:10.1.2.3"), True),
    ("conv-ipmask-v6", ["src,ipmask(24,64)", "2001:db8::"], Request("2001:db8::1"), True),
    ("conv-ipmask-v6-nomask", ["src,ipmask(24)", "-m", "found"], Request("2001:db8::1"), False),
    # forced methods and casts
    ("m-str-on-ip", ["src", "-m", "str", "127.0.0.1"], Request("127.0.0.1"), True),
    ("m-beg-on-ip", ["src", "-m", "beg", "127."], Request("127.0.0.1"), True),
    ("m-ip-on-hdr", ["hdr(x-real-ip)", "-m", "ip", "10.0.0.0/8"], Request(headers={"X-Real-IP": "10.1.1.1"}), True),
    ("m-ip-on-bad-hdr", ["hdr(x-real-ip)", "-m", "ip", "0.0.0.0/0"], Request(headers={"X-Real-IP": "nope"}), False),
    ("m-int-on-hdr", ["hdr(x)", "-m", "int", "gt", "5"], Request(headers={"X": "3, 7"}), True),
    ("m-int-on-ip", ["src", "-m", "int", "2130706433"], Request("127.0.0.1"), True),
    ("m-bool-on-hdr", ["hdr(x)", "-m", "bool"], Request(headers={"X": "0"}), False),
    ("m-len-on-port", ["dst_port", "-m", "len", "4"], Request(dst_port=8080), True),
    ("m-dom-on-path", ["path", "-m", "dom", "b"], Request(path="/a.b"), True),
    ("m-found-int", ["src_port", "-m", "found"], Request(), True),
    ("m-str-on-method", ["method", "-m", "str", "GET"], Request(method="GET"), True),
]  # fmt: skip


@pytest.mark.parametrize(
    ("words", "request_", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_fetch_table(words: list[str], request_: Request, expected: bool) -> None:
    assert matches(words, request_) is expected


LOG_FORMAT_CASES = [
    ("%[src]", Request("127.0.0.7"), "127.0.0.7"),
    ("%[src_port]", Request(src_port=4242), "4242"),
    ("%[hdr(x-fwd)]", Request(headers=MULTI), "c"),  # single-value context: the last value
    ("%[req.hdr(x-fwd,1)]", Request(headers=MULTI), "a"),
    ("%[req.fhdr(x-fwd)]", Request(headers=MULTI), "c"),
    ("%[url_param(a)]", Request(query="b=2&a=1;a=3"), "1"),  # the first one
    ("%[hdr(host),lower]", Request(headers={"Host": "A.B"}), "a.b"),
    ("a%[hdr(none)]b", Request(), "ab"),  # no sample renders as nothing in HTTP rules
    ("%[ssl_fc]", Request(ssl=True), "1"),
    ("%[method]", Request(method="PUT"), "PUT"),
    ("x-%ci:%cp/%HM %HU %HP %HQ %HV", Request("127.0.0.1", "GET", "/p", "q=1", src_port=9), "x-127.0.0.1:9/GET /p?q=1 /p ?q=1 HTTP/1.1"),
    ("100%%", Request(), "100%"),
    ("%{+Q}[path]", Request(path="/a"), "/a"),  # +Q does not quote samples here
    ("%{+Q}ci", Request("127.0.0.1"), '"127.0.0.1"'),
    # the sample ends where its syntax ends: `]` inside converter arguments is part of it
    ("%[path,regsub(^/[ab],/z/,g)]]", Request(path="/b/c"), "/z//c]"),
    ("<%[path,regsub('[]]',x)]>", Request(path="/]"), "</x>"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "request_", "expected"), LOG_FORMAT_CASES)
def test_log_format(text: str, request_: Request, expected: str) -> None:
    assert parse_log_format(text).render(request_) == expected


def test_sample_expr_reports_types() -> None:
    assert parse_sample_expr("path").out_type == "str"
    assert parse_sample_expr("path,length").out_type == "sint"
    assert parse_sample_expr("src").out_type == "ipv4"
    assert parse_sample_expr("ssl_fc").out_type == "bool"


def test_samples_are_every_value_of_every_occurrence() -> None:
    expr = parse_sample_expr("req.hdr(x-fwd)")
    assert expr.samples(Request(headers=MULTI)) == ["a", "b", "c"]
    assert parse_sample_expr("req.fhdr(x-fwd)").samples(Request(headers=MULTI)) == ["a, b", "c"]


BYTES = Request(payload=b"\x05hello\x02hi there\r\n", version="")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("req.payload(0,3)", [b"\x05he"]),
        ("req.payload(6,0)", [b"\x02hi there\r\n"]),  # 0: all that follows
        ("req.payload(20,4)", []),  # not arrived (yet)
        ("req.payload(16380,8)", []),  # past a buffer: never
        ("req.payload_lv(0,1)", [b"hello"]),
        ("req.payload_lv(6,1,+1)", [b"i "]),  # relative to after the length
        ("req.payload_lv(6,1,-7)", [b"\x05h"]),
        ("req.payload_lv(6,1,2)", [b"he"]),  # absolute: HAProxy 2.6 halves it ...
        ("req.payload_lv(6,1,3)", [b"i "]),  # ... and reads an odd one as relative
        ("req.payload_lv(6,2)", []),  # a length of 0x0268 is past the bytes
        ("payload(1,5)", [b"hello"]),
        ("payload(1,5),upper", ["HELLO"]),  # a binary sample cast to a string
        ("req.len", [17]),
        ("req.ssl_hello_type", []),
    ],
)
def test_payload_fetches(text: str, expected: list[object]) -> None:
    assert parse_sample_expr(text).samples(BYTES) == expected


def test_payload_fetches_find_nothing_in_mode_http() -> None:
    http = Request(path="/x")
    assert parse_sample_expr("req.payload(0,1)").samples(http) == []
    assert parse_sample_expr("payload_lv(0,1)").samples(http) == []


def test_response_payload_fetches_read_the_servers_bytes() -> None:
    hello = b"\x16\x03\x03\x00\x06\x02\x00\x00\x02\x03\x03+more"
    view = ResponseView(BYTES, payload=hello)
    assert parse_sample_expr("res.payload(0,1)", response=True).samples(view) == [b"\x16"]
    assert parse_sample_expr("payload(0,1)", response=True).samples(view) == [b"\x16"]
    assert parse_sample_expr("req.payload(0,1)", response=True).samples(view) == [b"\x05"]
    assert parse_sample_expr("res.len", response=True).samples(view) == [len(hello)]
    assert parse_sample_expr("rep_ssl_hello_type", response=True).samples(view) == [2]
    assert (
        parse_sample_expr("res.ssl_hello_type", response=True).samples(
            ResponseView(BYTES, payload=hello[:8])
        )
        == []
    )  # the handshake message is not all there
    assert parse_sample_expr("status", response=True).samples(view) == []  # no HTTP here


def test_bin_matches_hex_patterns_and_casts_other_samples() -> None:
    assert matches(["req.payload(0,3)", "-m", "bin", "056865"], BYTES)
    assert matches(["req.payload(0,3)", "056865"], BYTES)  # bin is the default method
    assert not matches(["req.payload(0,3)", "-m", "bin", "0568"], BYTES)  # same length only
    assert matches(["req.payload(1,4)", "-m", "beg", "hel"], BYTES)
    assert matches(["src", "-m", "bin", "7f000001"], Request("127.0.0.1"))
    assert matches(["dst_port", "-m", "bin", "0000000000000050"], Request(dst_port=80))
    assert matches(["path", "-m", "bin", "2f61"], Request(path="/a"))
