"""The routing view the proxy builds per request equals what `balancekit.Request`'s own
constructor builds (the proxy fills the slots directly, for speed)."""

from __future__ import annotations

import pytest

from balancekit import Headers, Request
from balancekit_server.http import HttpProxy
from balancekit_server.http.proxy import Exchange


def exchange(
    target: bytes, headers: list[tuple[bytes, bytes]], version: bytes = b"1.1"
) -> Exchange:
    ex = Exchange()
    ex.method, ex.target, ex.version, ex.headers = b"POST", target, version, headers
    ex.src, ex.src_port, ex.dst, ex.dst_port = "10.0.0.1", 4242, "127.0.0.1", 8443
    ex.ssl, ex.sni = True, "site.test"
    ex.read_framing()
    return ex


@pytest.mark.parametrize(
    ("target", "path", "query"),
    [
        (b"/a/b?x=1&y=2", "/a/b", "x=1&y=2"),
        (b"/", "/", ""),
        (b"http://example.test/p?q", "/p", "q"),
        (b"http://example.test", "/", ""),
    ],
)
@pytest.mark.parametrize("version", [b"1.1", b"1.0"])
def test_request_view_matches_constructor(
    target: bytes, path: str, query: str, version: bytes
) -> None:
    headers = [(b"Host", b"Example.Test"), (b"X-Multi", b"a, b"), (b"x-multi", b"c")]
    got = HttpProxy.build_request(exchange(target, headers, version))
    expected = Request(
        "10.0.0.1",
        "POST",
        path,
        query,
        Headers([("Host", "Example.Test"), ("X-Multi", "a, b"), ("x-multi", "c")]),
        src_port=4242,
        dst="127.0.0.1",
        dst_port=8443,
        version="HTTP/" + version.decode(),
        uri=target.decode(),
        ssl=True,
        sni="site.test",
    )
    assert got == expected
    assert got.headers.values("x-multi") == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("extra_frontend", "balance", "static"),
    [
        ("", "roundrobin", True),
        ("", "random", True),
        ("", "source", False),  # hashing reads the request
        ("", "uri", False),
        ("    http-request set-header X-A b\n", "roundrobin", False),
        ("    acl a path_beg /a\n    use_backend app if a\n", "roundrobin", False),
        ("    http-request deny if { src 10.0.0.0/8 }\n", "roundrobin", False),
    ],
)
def test_requests_skip_routing_only_when_nothing_reads_them(
    extra_frontend: str, balance: str, static: bool
) -> None:
    from balancekit.config import load_text

    config = load_text(
        "defaults\n    mode http\n\nfrontend web\n    bind 127.0.0.1:0\n"
        f"{extra_frontend}    default_backend app\n\n"
        f"backend app\n    balance {balance}\n    server s1 127.0.0.1:9\n"
    ).config
    frontend = config.frontends[0]
    proxy = HttpProxy(frontend.router, dict(config.backends), frontend)
    assert (proxy._static is not None) is static
