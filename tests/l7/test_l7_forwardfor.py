"""`option forwardfor` wherever real configs put it, started through the runtime
(as `balancekit-server -f` does) and side by side with HAProxy 2.6.

It once killed the server at start (two `ForwardFor` types between the config and
the HTTP engine), while `-c` called the file valid: these start the whole config.
"""

from __future__ import annotations

import json

import pytest
from l7_diff import BalancekitRun

from support.backends import NamedBackends
from support.client import http_request
from support.haproxy import HAProxy

TEMPLATE = """\
defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
{defaults}
frontend web
    bind {bind}
{frontend}
    default_backend app
backend app
{backend}
{servers}
"""

PLACES = {
    "defaults": {"defaults": "    option forwardfor"},
    "backend": {"backend": "    option forwardfor"},
    "frontend": {"frontend": "    option forwardfor"},
    "both": {"defaults": "    option forwardfor", "backend": "    option forwardfor"},
    "header": {"backend": "    option forwardfor header X-Client-IP"},
    "except": {"defaults": "    option forwardfor except 127.0.0.0/8"},
    "if-none": {"backend": "    option forwardfor if-none"},
}


def _config(place: str, bind: str, servers: str) -> str:
    parts = {"defaults": "", "frontend": "", "backend": "", **PLACES[place]}
    return TEMPLATE.format(bind=bind, servers=servers, **parts)


def _seen(port: int, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    response = http_request(port, "/echo", headers=headers)
    assert response.status == 200, response
    echoed = json.loads(response.body)
    return [
        (name.lower(), value)
        for name, value in echoed["headers"]
        if name.lower() in ("x-forwarded-for", "x-client-ip")
    ]


@pytest.mark.haproxy
@pytest.mark.parametrize("place", sorted(PLACES))
@pytest.mark.parametrize(
    "sent", [[], [("X-Forwarded-For", "10.1.2.3")]], ids=["no-header", "client-header"]
)
def test_forwardfor_starts_and_adds_what_haproxy_adds(
    place: str, sent: list[tuple[str, str]]
) -> None:
    with NamedBackends(["s1"]) as backends:
        servers = backends.server_lines()
        kit = BalancekitRun(_config(place, "127.0.0.1:0", servers))
        try:
            with HAProxy(_config(place, "{listen:web}", servers)) as haproxy:
                theirs = _seen(haproxy.port("web"), sent)
                ours = _seen(kit.port("web"), sent)
        finally:
            kit.close()
    assert ours == theirs
    # The rows are not vacuous: each placement really changes what arrives.
    if place == "except":
        assert theirs == [("x-forwarded-for", v) for _, v in sent]
    elif place == "if-none" and sent:
        assert theirs == [("x-forwarded-for", "10.1.2.3")]
    else:
        assert ("x-client-ip" if place == "header" else "x-forwarded-for", "127.0.0.1") in theirs
