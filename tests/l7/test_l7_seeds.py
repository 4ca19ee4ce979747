"""The tutorials' L7 episodes, differential: real HAProxy 2.6 and balancekit run the
same seed config in front of the seeds' own Flask apps and must give the same
backend sequence (or the same outcome, for `random`) for the same requests."""

from __future__ import annotations

from collections import Counter

import pytest
from l7_diff import SideBySide, seed

from support.client import Response, http_request

pytestmark = pytest.mark.haproxy

NUMBERED = {"127.0.0.1:5001": "app1", "127.0.0.1:5002": "app2", "127.0.0.1:5003": "app3"}


def both(sides: SideBySide, path: str = "/", **kw: object) -> dict[str, Response]:
    return {name: http_request(port, path, **kw) for name, port in sides.ports.items()}  # type: ignore[arg-type]


def sequence(sides: SideBySide, port: int, count: int, path: str = "/") -> list[str]:
    return [http_request(port, path).text for _ in range(count)]


@pytest.mark.parametrize(
    ("config", "expected_cycle"),
    [
        ("ep5_roundrobin.cfg", [1, 2, 3]),
        ("ep9_weighted_roundrobin.cfg", [3, 1, 3, 2, 3, 1]),
    ],
    ids=["ep5-roundrobin", "ep9-weighted-2-1-3"],
)
def test_round_robin_sequences_match_haproxy(config: str, expected_cycle: list[int]) -> None:
    with SideBySide(seed(config), NUMBERED) as sides:
        got = {name: sequence(sides, port, 12) for name, port in sides.ports.items()}
    assert got["balancekit"] == got["haproxy"]
    numbers = [int(text.split("App ")[1][0]) for text in got["haproxy"]]
    assert numbers == (expected_cycle * 12)[:12]


def test_ep8_random_draw_spreads_like_haproxy() -> None:
    # HAProxy 2.6 rejects the tutorial's `random draw 2` line; its own form is random(2).
    def haproxy_form(text: str) -> str:
        return text.replace("balance random\n    random draw 2", "balance random(2)")

    with SideBySide(seed("ep8_random_draw.cfg"), NUMBERED, haproxy_edit=haproxy_form) as sides:
        assert any("random" in w.message for w in sides.kit.result.warnings)
        counts = {name: Counter(sequence(sides, port, 90)) for name, port in sides.ports.items()}
    for name, count in counts.items():
        assert len(count) == 3, (name, count)  # every app is drawn
        assert min(count.values()) >= 10, (name, count)  # and none is starved


def test_ep7_source_hash_consistent_matches_haproxy() -> None:
    sources = [f"127.0.{a}.{b}" for a in (0, 3, 77) for b in (1, 2, 9, 50, 101, 200, 254)]
    with SideBySide(seed("ep7_source_consistent.cfg"), NUMBERED) as sides:
        got = {
            name: [http_request(port, "/", src=src).text for src in sources]
            for name, port in sides.ports.items()
        }
        again = [http_request(sides.ports["balancekit"], "/", src=s).text for s in sources]
    assert got["balancekit"] == got["haproxy"]
    assert again == got["balancekit"]  # sticky per client address
    assert len(set(got["haproxy"])) > 1


def test_ep7_uri_hash_consistent_matches_haproxy() -> None:
    paths = [f"/item/{i}?page={i % 3}" for i in range(30)] + ["/", "/data", "/a/b/c"]
    with SideBySide(seed("ep7_uri_consistent.cfg"), NUMBERED) as sides:
        got = {
            name: [http_request(port, p).text for p in paths] for name, port in sides.ports.items()
        }
    assert got["balancekit"] == got["haproxy"]
    assert {text.split("App ")[1][0] for text in got["haproxy"]} == {"1", "2", "3"}


EP4 = [
    (
        "ep4_path_routing.cfg",
        {"127.0.0.1:5001": "static", "127.0.0.1:5002": "dynamic"},
        [
            ("GET", "/static/logo.png", None, {}),
            ("GET", "/", None, {}),
            ("GET", "/api/data", None, {}),
        ],
    ),
    (
        "ep4_block_ip.cfg",
        {"127.0.0.1:5003": "acl_main"},
        [("GET", "/", "127.0.1.7", {}), ("GET", "/", "127.0.2.7", {}), ("GET", "/", None, {})],
    ),
    (
        "ep4_method.cfg",
        {"127.0.0.1:5006": "app1", "127.0.0.1:5007": "app2"},
        [("POST", "/x", None, {}), ("GET", "/x", None, {}), ("post", "/", None, {})],
    ),
    (
        "ep4_user_agent.cfg",
        {"127.0.0.1:5008": "app1", "127.0.0.1:5009": "app2"},
        [
            ("GET", "/", None, {"User-Agent": "Mozilla/5.0 (iPhone) MOBILE Safari"}),
            ("GET", "/", None, {"User-Agent": "curl/8"}),
            ("GET", "/", None, {}),
        ],
    ),
    (
        "ep4_admin_internal.cfg",
        {"127.0.0.1:5015": "app1"},
        [
            ("GET", "/admin", None, {}),
            ("GET", "/admin/users", "127.0.10.20", {}),
            ("GET", "/public", None, {}),
        ],
    ),
    (
        "ep4_post_submit.cfg",
        {"127.0.0.1:5004": "acl_form", "127.0.0.1:5003": "acl_main"},
        [("POST", "/submit", None, {}), ("GET", "/submit", None, {}), ("GET", "/", None, {})],
    ),
]


# The ACL episode shows bare frontend/backend sections; they sit under the
# tutorials' usual global/defaults (mode http), taken here from EP3's config.
HTTP_DEFAULTS = seed("ep3_l7_path_routing.cfg").split("frontend")[0]


@pytest.mark.parametrize(("config", "apps", "requests"), EP4, ids=[c[0][:-4] for c in EP4])
def test_ep4_acl_examples_match_haproxy(
    config: str, apps: dict[str, str], requests: list[tuple[str, str, str | None, dict[str, str]]]
) -> None:
    text = seed(config)
    if "mode http" not in text:
        text = HTTP_DEFAULTS + text
    with SideBySide(text, apps) as sides:
        for method, path, src, headers in requests:
            body = b"x=1" if method.upper() == "POST" else b""
            answers = {
                name: http_request(port, path, method=method, src=src, headers=headers, body=body)
                for name, port in sides.ports.items()
            }
            kit, ha = answers["balancekit"], answers["haproxy"]
            assert (kit.status, kit.body) == (ha.status, ha.body), (method, path, src)
