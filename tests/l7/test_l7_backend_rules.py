"""A backend's own `http-request` rules and redirects, side by side with HAProxy 2.6:
they run after the frontend's rules and `use_backend`, on the edited request."""

from __future__ import annotations

import json

import pytest
from l7_diff import HTTP_DEFAULTS, SideBySide

from support.backends import NamedBackends
from support.client import http_request

pytestmark = pytest.mark.haproxy


def _config(named_backends: NamedBackends) -> str:
    return f"""
{HTTP_DEFAULTS}
frontend http_front
    bind 127.0.0.1:80
    http-request set-header X-Tier front
    use_backend api if {{ path_beg /echo/api }}
    default_backend web

backend api
    http-request deny if {{ hdr(x-tier) front }} {{ path /echo/api/admin }}
    http-request set-header X-Api yes
    redirect location /echo/api/v2 if {{ path /echo/api/v1 }}
{named_backends.server_lines(names=["s1"])}

backend web
{named_backends.server_lines(names=["s2"])}
"""


def _seen(port: int, path: str) -> tuple[int, str | None, dict[str, str]]:
    """Status, Location and (for an answer from a server) the headers it received."""
    response = http_request(port, path)
    headers: dict[str, str] = {}
    if response.status == 200:
        headers = {k.lower(): v for k, v in json.loads(response.body)["headers"]}
    return response.status, response.header("location"), headers


@pytest.mark.parametrize(
    "path", ["/echo/api/x", "/echo/api/admin", "/echo/api/v1", "/echo/web/admin"]
)
def test_backend_rules_match_haproxy(named_backends: NamedBackends, path: str) -> None:
    with SideBySide(_config(named_backends), {}) as sides:
        got = {side: _seen(port, path) for side, port in sides.ports.items()}
    assert got["balancekit"][:2] == got["haproxy"][:2]
    for header in ("x-tier", "x-api"):
        assert got["balancekit"][2].get(header) == got["haproxy"][2].get(header)
    status = got["haproxy"][0]
    if path == "/echo/api/x":
        assert got["haproxy"][2]["x-api"] == "yes"
    else:
        assert status == {"/echo/api/admin": 403, "/echo/api/v1": 302}.get(path, 200)
