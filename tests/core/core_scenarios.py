"""The differential scenarios, generated deterministically (seeded) so the recorded
HAProxy answers in tests/golden/ stay valid."""

from __future__ import annotations

import random

from core_differential import (
    NAMES,
    Req,
    Scenario,
    header_requests,
    host_header,
    param_requests,
    source_requests,
    uri_requests,
)

RR_WEIGHTS = ["1:1:1", "3:1", "2:1:1", "5:3:2", "2:1:3", "0:2:1", "10:7:3:1", "2:3:3", "1:7:7:9"]


def _servers(weights: str, extra: dict[str, str] | None = None) -> list[tuple[str, int, str]]:
    extra = extra or {}
    return [(NAMES[i], int(w), extra.get(NAMES[i], "")) for i, w in enumerate(weights.split(":"))]


def _plain(count: int) -> list[Req]:
    return [Req(f"/r{i}", [host_header()]) for i in range(count)]


def round_robin_scenarios() -> list[Scenario]:
    out = []
    for balance in ("roundrobin", "static-rr"):
        short = "rr" if balance == "roundrobin" else "srr"
        for weights in RR_WEIGHTS:
            sid = f"{short}_{weights.replace(':', '_')}"
            out.append(Scenario(sid, balance, None, _servers(weights), _plain(300)))
        out.append(
            Scenario(
                f"{short}_disabled",
                balance,
                None,
                _servers("5:3:2", {"B": "disabled"}),
                _plain(60),
                actions={30: ["set server {px}/B state ready"]},
            )
        )
        out.append(
            Scenario(
                f"{short}_backup",
                balance,
                None,
                _servers("2:1:3:2", {"C": "backup", "D": "backup"}),
                _plain(80),
                actions={
                    10: ["set server {px}/A state maint", "set server {px}/B state maint"],
                    30: ["set server {px}/C state maint"],
                    45: ["set server {px}/C state ready"],
                    60: ["set server {px}/B state ready"],
                },
            )
        )
    # Runtime changes mid-sequence: roundrobin honours any weight...
    out.append(
        Scenario(
            "rr_runtime",
            "roundrobin",
            None,
            _servers("5:3:2:1"),
            _plain(240),
            actions={
                7: ["set server {px}/B weight 7"],
                20: ["set server {px}/A state maint"],
                33: ["set server {px}/A state ready"],
                41: ["set server {px}/C weight 0"],
                70: ["set server {px}/C weight 4", "set server {px}/D state drain"],
                95: ["set server {px}/A weight 1"],
                120: ["set server {px}/D state ready", "set server {px}/B weight 0"],
                150: ["set server {px}/B weight 2", "set server {px}/A state maint"],
                151: ["set server {px}/A state ready"],
                200: ["set server {px}/A weight 20"],
            },
        )
    )
    # ...static-rr only 0% and 100%.
    out.append(
        Scenario(
            "srr_runtime",
            "static-rr",
            None,
            _servers("5:3:2:1"),
            _plain(200),
            actions={
                13: ["set server {px}/A state maint"],
                40: ["set server {px}/A state ready"],
                77: ["set server {px}/C weight 0"],
                120: ["set server {px}/C weight 100%", "set server {px}/D state drain"],
                160: ["set server {px}/D state ready"],
            },
        )
    )
    return out


def noop_scenarios() -> list[Scenario]:
    """Runtime commands that change nothing (ready when ready, the same weight) must
    not disturb the order, as HAProxy's srv_lb_status_changed() ensures."""
    noop = {
        k: ["set server {px}/A state ready", "set server {px}/B weight 2"] for k in (5, 11, 17, 30)
    }
    noop[23] = ["set server {px}/C state maint", "set server {px}/C state drain"]
    noop[24] = ["set server {px}/C state ready"]
    return [
        Scenario(f"noop_{balance}", balance, None, _servers("3:2:1"), _plain(50), actions=noop)
        for balance in ("roundrobin", "leastconn", "static-rr")
    ]


def conn_scenarios() -> list[Scenario]:
    """leastconn and first, one request at a time: leastconn then rotates through
    idle servers (a server moves behind its equals each time its count changes)."""
    return [
        Scenario(
            "lc_rotation",
            "leastconn",
            None,
            _servers("3:1:2:1"),
            _plain(120),
            actions={
                20: ["set server {px}/B state maint"],
                40: ["set server {px}/C weight 5"],
                60: ["set server {px}/B state ready"],
                90: ["set server {px}/A weight 0"],
            },
        ),
        Scenario(
            "first_ids",
            "first",
            None,
            [("A", 1, "id 7"), ("B", 1, ""), ("C", 2, "id 2"), ("D", 1, "")],
            _plain(60),
            actions={
                10: ["set server {px}/B state maint"],
                20: ["set server {px}/C state maint"],
                30: ["set server {px}/D weight 0"],
                40: ["set server {px}/B state ready"],
            },
        ),
    ]


HASH_TYPES = ["map-based", "consistent"]
VARIANT_TYPES = ["map-based djb2", "consistent wt6", "consistent crc32 avalanche"]


def _maintenance_actions(count: int) -> dict[int, list[str]]:
    return {
        count // 3: ["set server {px}/B state maint"],
        (2 * count) // 3: ["set server {px}/B state ready"],
    }


def hash_scenarios() -> list[Scenario]:
    out: list[Scenario] = []
    families = [
        ("source", "source", source_requests),
        ("uri", "uri", uri_requests),
        ("urlp", "url_param uid", param_requests),
        ("hdr", "hdr(X-User)", lambda rng, n: header_requests(rng, n, "X-User")),
        ("host", "hdr(host) use_domain_only", lambda rng, n: header_requests(rng, n, "host")),
    ]
    count = 240
    for seed, (short, balance, make) in enumerate(families):
        for hash_type in HASH_TYPES:
            mode = "map" if hash_type == "map-based" else "chash"
            requests = make(random.Random(seed), count)
            servers = _servers("3:2:1:1")
            out.append(Scenario(f"{short}_{mode}", balance, hash_type, servers, requests))
            out.append(
                Scenario(
                    f"{short}_{mode}_maint",
                    balance,
                    hash_type,
                    servers,
                    requests,
                    actions=_maintenance_actions(count),
                )
            )
            out.append(
                Scenario(
                    f"{short}_{mode}_disabled",
                    balance,
                    hash_type,
                    _servers("3:2:1:1", {"C": "disabled"}),
                    requests[:120],
                )
            )
    weight_changes = {
        60: ["set server {px}/B weight 5"],
        120: ["set server {px}/A weight 1", "set server {px}/D weight 0"],
        180: ["set server {px}/B weight 2", "set server {px}/D weight 1"],
    }
    for short, balance, make in families[1:4]:
        out.append(
            Scenario(
                f"{short}_chash_weights",
                balance,
                "consistent",
                _servers("3:2:1:1"),
                make(random.Random(77), count),
                actions=weight_changes,
            )
        )
    uri_variants = [
        ("uri depth 2", "consistent"),
        ("uri len 6", "map-based"),
        ("uri whole", "map-based"),
        ("uri depth 1 whole", "consistent"),
        ("uri path-only", "consistent"),
    ]
    rng = random.Random(99)
    for index, (balance, hash_type) in enumerate(uri_variants):
        requests = uri_requests(rng, 120)
        if "path-only" in balance:
            requests += [Req(f"http://app.example.com{r.target}", r.headers) for r in requests[:40]]
        out.append(Scenario(f"urivar_{index}", balance, hash_type, _servers("1:1:1:1"), requests))
    for index, hash_type in enumerate(VARIANT_TYPES):
        out.append(
            Scenario(
                f"funcs_{index}",
                "uri",
                hash_type,
                _servers("2:1:1"),
                uri_requests(random.Random(200 + index), 120),
            )
        )
    return out


def redispatch_scenarios() -> list[Scenario]:
    """A server refuses connections: the retry is redispatched with that server to
    avoid, which exercises every algorithm's `avoid` against HAProxy's."""
    out = []
    for balance, hash_type, make in [
        ("roundrobin", None, _plain),
        ("static-rr", None, _plain),
        ("leastconn", None, _plain),
        ("first", None, _plain),
        ("uri", "consistent", lambda n: uri_requests(random.Random(5), n)),
        ("uri", "map-based", lambda n: uri_requests(random.Random(5), n)),
        ("hdr(X-User)", "consistent", lambda n: header_requests(random.Random(6), n, "X-User")),
        ("url_param uid", "map-based", lambda n: param_requests(random.Random(7), n)),
    ]:
        short = balance.split()[0].split("(")[0].replace("-", "")
        mode = "" if hash_type is None else ("_map" if hash_type == "map-based" else "_chash")
        dynamic = balance != "static-rr" and hash_type != "map-based"
        out.append(
            Scenario(
                f"redisp_{short}{mode}",
                balance,
                hash_type,
                _servers("3:2:2:1"),
                make(120),
                actions={60: ["set server {px}/C weight 1"]} if dynamic else {},
                dead=["B"] if balance != "first" else ["A"],
            )
        )
    return out


def allbackups_scenarios() -> list[Scenario]:
    """`option allbackups`: with every active server down, all backups share the load."""
    actions = {
        10: ["set server {px}/A state maint", "set server {px}/B state maint"],
        50: ["set server {px}/D state maint"],
        70: ["set server {px}/D state ready"],
        90: ["set server {px}/B state ready"],
    }
    backups = {"C": "backup", "D": "backup", "E": "backup"}
    out = []
    for balance, hash_type, requests in [
        ("roundrobin", None, _plain(110)),
        ("static-rr", None, _plain(110)),
        ("leastconn", None, _plain(110)),
        ("uri", "consistent", uri_requests(random.Random(11), 110)),
        ("uri", "map-based", uri_requests(random.Random(11), 110)),
    ]:
        short = balance.replace("-", "") + ("" if hash_type is None else f"_{hash_type[:3]}")
        out.append(
            Scenario(
                f"allbck_{short}",
                balance,
                hash_type,
                _servers("2:1:3:1:2", backups),
                requests,
                actions=actions,
                options=["option allbackups"],
            )
        )
    return out


def all_scenarios() -> list[Scenario]:
    return (
        round_robin_scenarios()
        + conn_scenarios()
        + hash_scenarios()
        + redispatch_scenarios()
        + allbackups_scenarios()
        + noop_scenarios()
    )
