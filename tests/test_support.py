"""The harness itself: real HAProxy in front of real named backends."""

from __future__ import annotations

from support.backends import NamedBackends
from support.client import http_request
from support.haproxy import HAProxy, http_defaults


def test_haproxy_roundrobin_through_named_backends(named_backends: NamedBackends) -> None:
    config = (
        http_defaults()
        + """
frontend fe
    bind {listen:fe}
    default_backend be

backend be
    balance roundrobin
"""
        + named_backends.server_lines()
    )
    with HAProxy(config) as hap:
        names = [http_request(hap.port("fe")).text for _ in range(6)]
        assert names == ["s1", "s2", "s3", "s1", "s2", "s3"]
        assert "be/s1" in hap.command("show stat") or "s1" in hap.command("show stat")


def test_client_binds_source_address(named_backends: NamedBackends) -> None:
    response = http_request(named_backends.port("s1"), "/echo", src="127.0.0.42")
    assert response.status == 200
    assert '"server": "s1"' in response.text
