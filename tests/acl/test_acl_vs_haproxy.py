"""Differential: the seeds' ACL examples on a real HAProxy 2.6 and through balancekit's Router.

The same config text (EP4 of the tutorials, with the private ranges replaced by
loopback ones) runs on HAProxy with real backends that answer with their name,
and is loaded by balancekit's parser; every request is sent to HAProxy from a
real socket bound to its 127.x.y.z source, and the same request view goes
through `Router.route`.  The outcome — which backend, or a deny — must agree.

A second test checks many ACL fetch/flag/method combinations at once: HAProxy
marks each ACL's verdict in a request header and a `return` echoes them all in
a response header.
"""

# ruff: noqa: E501  (case tables read best one case per line)

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from acl_harness import Probe, global_section, send, side_by_side, view

from balancekit.acl import AclSet
from support.backends import NamedBackends
from support.haproxy import HAProxy

pytestmark = pytest.mark.haproxy


@dataclass
class Example:
    name: str
    frontend: str  # the frontend body, as in the tutorial
    backends: list[str]
    probes: list[Probe] = field(default_factory=list)


EXAMPLES = [
    Example(
        "path-routing",
        """
    acl is_static path_beg /static
    use_backend static_backend if is_static
    default_backend dynamic_backend""",
        ["static_backend", "dynamic_backend"],
        [
            Probe("/static"),
            Probe("/static/app.css"),
            Probe("/staticfiles/x"),
            Probe("/STATIC/app.css"),
            Probe("/"),
            Probe("/api/static"),
            Probe("/static?x=/y"),
        ],
    ),
    Example(
        "src-deny",
        """
    acl block_ip src 127.0.1.0/24
    http-request deny if block_ip
    default_backend web_backend""",
        ["web_backend"],
        [
            Probe(src="127.0.1.1"),
            Probe(src="127.0.1.254"),
            Probe(src="127.0.2.1"),
            Probe(src="127.0.0.1"),
            Probe("/anything", src="127.0.1.77"),
        ],
    ),
    Example(
        "method",
        """
    acl is_post_method method POST
    use_backend post_backend if is_post_method
    default_backend general_backend""",
        ["post_backend", "general_backend"],
        [
            Probe(method="POST", body=b"a=1"),
            Probe(method="GET"),
            Probe(method="PUT", body=b"x"),
            Probe(method="post", body=b"a=1"),  # HAProxy's method enum is case-sensitive
            Probe(method="HEAD"),
        ],
    ),
    Example(
        "user-agent",
        """
    acl is_mobile_user_agent req.hdr(User-Agent) -i -m sub Mobile
    use_backend mobile_backend if is_mobile_user_agent
    default_backend desktop_backend""",
        ["mobile_backend", "desktop_backend"],
        [
            Probe(headers=(("User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS) Mobile/15E148"),)),
            Probe(headers=(("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/120"),)),
            Probe(headers=(("User-Agent", "some MOBILE client"),)),
            Probe(headers=(("User-Agent", "a, b mobile"),)),
            Probe(headers=(("User-Agent", "desktop"), ("User-Agent", "mobile"))),
            Probe(),
        ],
    ),
    Example(
        "admin-internal",
        """
    acl is_admin_path path_beg /admin
    acl is_internal_network src 127.0.10.0/24
    http-request deny if is_admin_path !is_internal_network
    default_backend web_backend""",
        ["web_backend"],
        [
            Probe("/admin", src="127.0.0.1"),
            Probe("/admin/users", src="127.0.10.9"),
            Probe("/admin", src="127.0.11.9"),
            Probe("/administrator", src="127.0.0.2"),
            Probe("/Admin", src="127.0.0.2"),
            Probe("/public", src="127.0.0.3"),
            Probe("/public", src="127.0.10.3"),
        ],
    ),
    # The other copy of the tutorial lost the addresses: an ACL with no pattern
    # never matches (HAProxy warns), so nothing is blocked and /admin is always denied.
    Example(
        "src-deny-no-pattern",
        """
    acl block_ip src
    http-request deny if block_ip
    default_backend web_backend""",
        ["web_backend"],
        [Probe(src="127.0.1.1"), Probe(src="127.0.0.1")],
    ),
    Example(
        "admin-no-pattern",
        """
    acl is_admin_path path_beg /admin
    acl is_internal_network src
    http-request deny if is_admin_path !is_internal_network
    default_backend web_backend""",
        ["web_backend"],
        [Probe("/admin", src="127.0.10.9"), Probe("/public", src="127.0.0.1")],
    ),
    Example(
        "post-submit",
        """
    acl is_post_method method POST
    acl is_submit_path path_beg /submit
    use_backend post_backend if is_post_method is_submit_path
    default_backend general_backend""",
        ["post_backend", "general_backend"],
        [
            Probe("/submit", "POST", body=b"name=x"),
            Probe("/submit", "GET"),
            Probe("/", "POST", body=b"name=x"),
            Probe("/submit/form?x=1", "POST", body=b"name=x"),
            Probe("/", "GET", headers=(("X-F", "x"),)),
        ],
    ),
]


def config_text(example: Example, backends: NamedBackends, bind: str) -> str:
    """The tutorial's config, with the test backends' addresses."""
    lines = [global_section(), "frontend http_front", f"    bind {bind}", example.frontend, ""]
    for name in example.backends:
        lines += [f"backend {name}", f"    server {name}1 {backends.address(name)} check", ""]
    return "\n".join(lines)


def tag_backends(text: str) -> str:
    """HAProxy's copy only: each backend names itself in an X-Backend response header."""
    return re.sub(
        r"^backend (\S+)\n",
        r"backend \1\n    http-response set-header X-Backend \1\n",
        text,
        flags=re.M,
    )


@pytest.fixture(params=EXAMPLES, ids=[e.name for e in EXAMPLES])
def example(request: pytest.FixtureRequest) -> Iterator[tuple[Example, NamedBackends]]:
    with NamedBackends(request.param.backends) as backends:
        yield request.param, backends


def test_seed_acl_examples_match_haproxy(example: tuple[Example, NamedBackends]) -> None:
    spec, backends = example

    def render(bind: str) -> str:
        return config_text(spec, backends, bind)

    with side_by_side(render, name="ep4.cfg", haproxy_extra=tag_backends) as (router, haproxy):
        port = haproxy.port("fe")
        for probe in spec.probes:
            answer = send(port, probe)
            if answer.status == 403:
                expected = "deny"
            else:
                # The test backends answer 501 to a method they do not know ("post"):
                # the backend HAProxy chose is in X-Backend either way.
                assert answer.status in (200, 501), (probe, answer.status, answer.text)
                expected = answer.header("X-Backend") or ""
            decision = router.route(view(probe, port))
            got = "deny" if decision.action == "deny" else decision.backend
            assert got == expected, probe


# --------------------------------------------------------------------------- ACL matrix

MATRIX_ACLS = [
    "path_beg /static /img",
    "path_end -i .CSS",
    "path_sub adm",
    "path_reg ^/v[0-9]+/",
    "path_dir img",
    "path_dom b",
    "path_len gt 6",
    "path -m beg /a",
    "url_sub ?",
    "url_beg /a",
    "url_len 4:10",
    "query -m found",
    "query -m beg a=1",
    "url_param(a) 1",
    "urlp(a) -m int ge 2",
    "urlp_reg(b) ^x",
    "method GET HEAD",
    "method PUT",
    "method -i purge",
    "method post",
    "src 127.0.0.0/24",
    "src 127.0.5.5 ::1",
    "src -m str 127.0.0.1",
    "src -m beg 127.0.5",
    "src_port gt 1023",
    "dst_port gt 1023",
    "hdr(x-a) one",
    "hdr(x-a) -m sub w",
    "hdr(x-a,1) one",
    "hdr(x-a,-1) three",
    "hdr_beg(host) 127.",
    "hdr_end(host) -i .COM:81",
    "hdr_dom(x-host) example.com",
    "hdr_reg(user-agent) -i bot",
    "hdr_len(x-a) 3",
    "hdr_cnt(x-a) 3",
    "hdr_cnt(x-q) 3",
    "hdr(x-q) -m end c",
    "req.hdr_cnt(x-a) ge 2",
    "req.fhdr(x-a) one,two",
    "req.fhdr(x-a) -m sub two",
    "req.hdr(x-a) -m found",
    "hdr(x-num) -m int gt 10",
    "hdr_val(x-num) 5:20",
    "hdr_ip(x-ip) 10.0.0.0/8",
    "hdr(x-ip) -m ip 10.0.0.0/8",
    "cook(sid) 42",
    "cook_cnt(sid) 1",
    "cook_beg(lang) f",
    "base_beg 127.0.0.1",
    "base_end //b",
    "base_sub /img",
    "req.ver 1.1",
    "req.ver 1.0",
    "url_reg ^[^/:]*://",
    "url_ip 127.0.0.1",
    "url_port 81",
    "url_beg http://",
    "base_reg ^127\\.0\\.0\\.1:[0-9]+/abs$",
    "ssl_fc",
    "path,lower /static/a.css",
    "hdr(x-a),upper -m beg TH",
    "path,length gt 5",
    "req.fhdr(x-f),field(2,/) a",
    "req.fhdr(x-f),field(-2,/,2) c/d",
    "req.fhdr(x-f),field(2,/,0) a/b//c/d/",
    "req.fhdr(x-f),field(4,/) -m len 0",
    "req.fhdr(x-f),field(-1,/) -m len 0",
    "req.fhdr(x-f),field(9,/) -m found",
    "req.fhdr(x-f),word(2,/) b",
    "req.fhdr(x-f),word(3,/) c",
    "req.fhdr(x-f),word(-2,/,2) b//c",
    "req.fhdr(x-f),word(2,/,9) b//c/d/",
    "req.fhdr(x-f),word(-1,/,0) /a/b//c/d",
    "req.fhdr(x-f),word(-3,/,5) /a/b",
    "req.fhdr(x-f),word(7,/) -m len 0",
    "path,regsub(/+,/,g) /a/b",
    "path,regsub(/+,/) /a//b",
    "path,regsub(x*,-,g) -m str -- -/-",
    "path,regsub([AEIOU],_,gi) -m sub _",
    "path,regsub(^/v[0-9]+,/api) -m beg /api/",
    "path,regsub(/,,g) -m len 0",
    "src,ipmask(24) 127.0.5.0",
    "src,ipmask(255.255.255.0) 127.0.0.0",
    "src -f {lists}/nets.lst",
    "path_beg -i -f {lists}/paths.lst",
    "path_beg -f {lists}/paths.lst -i /img",
]
MATRIX_PROBES = [
    Probe("/", headers=(("X-F", "x"),)),
    Probe("/static/a.CSS?a=1&b=xyz"),
    Probe("/img/admin.b.c", "HEAD", src="127.0.5.5"),
    Probe("/v12/x?a=3;b=y", "PUT", body=b"x", headers=(("X-A", "one,two"), ("X-A", "three"), ("X-Q", '"a,b" , c,"d\\",e"'))),
    Probe("//a//b", "PURGE", src="127.0.0.9", headers=(("X-Num", "12"), ("X-IP", "10.1.2.3"), ("X-F", "/a/b//c/d/"))),
    Probe("/a?", "post", body=b"z", headers=(("Cookie", "sid=42; lang=fr"), ("User-Agent", "GoodBot/1"))),
    Probe("/STATIC/x", src="127.0.5.1", headers=(("Host", "www.example.com:81"), ("X-Host", "www.example.com"), ("X-A", "tw"))),
    Probe("/a/img/z?b=x1", "DELETE", headers=(("X-Num", "7abc"), ("X-IP", "nope"))),
    Probe("http://127.0.0.1:81/abs?a=1", headers=(("Host", "127.0.0.1:81"), ("X-A", "one"))),  # Host must match the authority
    Probe("/static/old", version="HTTP/1.0", headers=(("User-Agent", "OldBot"),)),
]  # fmt: skip


#: ACLs whose verdict cannot vary between these probes (ports, no TLS, a missing field).
ALWAYS_THE_SAME = {
    "src_port gt 1023",
    "dst_port gt 1023",
    "ssl_fc",
    "req.fhdr(x-f),field(9,/) -m found",
}


def matrix_frontend(acls: list[str]) -> str:
    lines = [f"    acl a{i} {text}" for i, text in enumerate(acls)]
    lines += [f"    http-request set-header x-acl-{i} 1 if a{i}" for i in range(len(acls))]
    echo = ".".join(f"%[req.hdr(x-acl-{i})]" for i in range(len(acls)))
    lines.append(
        f'    http-request return status 200 hdr X-Acls "{echo}"'
    )  # a header: HEAD has no body
    return "\n".join(lines)


def test_acl_matrix_matches_haproxy(tmp_path: Path) -> None:
    (tmp_path / "nets.lst").write_text("# comment\n127.0.5.0/24\n  127.0.1.1\n\n::1\n")
    (tmp_path / "paths.lst").write_text("/STATIC\n/v12/\n")
    lines = [a.replace("{lists}", str(tmp_path)) for a in MATRIX_ACLS]
    text = global_section() + "frontend fe\n    bind {listen:fe}\n" + matrix_frontend(lines)
    acls = AclSet()
    for i, words in enumerate(lines):
        acls.define([f"a{i}", *words.split()])
    conditions = [acls.condition(["if", f"a{i}"]) for i in range(len(lines))]
    seen: dict[int, set[bool]] = {i: set() for i in range(len(lines))}
    with HAProxy(text) as haproxy:
        port = haproxy.port("fe")
        for probe in MATRIX_PROBES:
            answer = send(port, probe)
            assert answer.status == 200, (probe, answer.text)
            vector = answer.header("X-Acls") or ""
            theirs = [c == "1" for c in vector.split(".")]
            assert len(theirs) == len(MATRIX_ACLS), vector
            request = view(probe, port)
            ours = [c.matches(request) for c in conditions]
            differing = [
                (MATRIX_ACLS[i], theirs[i], ours[i])
                for i in range(len(MATRIX_ACLS))
                if theirs[i] != ours[i]
            ]
            assert not differing, (probe, differing)
            for i, verdict in enumerate(theirs):
                seen[i].add(verdict)
    constant = {MATRIX_ACLS[i] for i, verdicts in seen.items() if len(verdicts) < 2}
    assert constant <= ALWAYS_THE_SAME, (
        constant - ALWAYS_THE_SAME
    )  # every other ACL is tested both ways
