"""Every example's haproxy.cfg is valid, for balancekit and (where HAProxy agrees) HAProxy.

The examples are our users' configs: they must load as shipped, with the
tutorial's default addresses, and the copies packaged for `--demo` must not drift
from them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from balancekit.config import load
from balancekit_server.integrations.demo import SCENARIOS
from support.haproxy import HAPROXY, require_haproxy

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CONFIGS = sorted(EXAMPLES.glob("*/*.cfg"))
#: a site.pem for the l7-routing-ssl example's `bind … ssl crt "${CERT-site.pem}"`
NEEDS_CERT = {"l7-routing-ssl"}
#: HAProxy 2.6 rejects the tutorial's own `random draw 2` line; balancekit accepts it.
HAPROXY_REJECTS = {"random/haproxy.cfg"}


def _env(config: Path, pem: Path) -> dict[str, str]:
    env = {"STATS_SOCKET": str(pem.parent / "stats.sock")}
    if config.parent.name in NEEDS_CERT:
        env["CERT"] = str(pem)
    return env


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    path = tmp_path_factory.mktemp("pem") / "site.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(path))
    return path


def test_every_episode_has_an_example() -> None:
    folders = {p.name for p in EXAMPLES.iterdir() if p.is_dir()}
    assert {
        "tcp-proxy",
        "l7-routing-ssl",
        "acl",
        "roundrobin",
        "weighted",
        "random",
        "source-uri-hash",
        "mysql",
        "client-side",
    } <= folders
    for folder in folders - {"client-side"}:
        for name in ("haproxy.cfg", "run.sh", "Dockerfile", "docker-compose.yml"):
            assert (EXAMPLES / folder / name).exists(), f"{folder}/{name}"


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_balancekit_loads_example(config: Path, pem: Path) -> None:
    result = load([config], env=_env(config, pem))
    assert result.config.frontends
    if config.parent.name == "random":
        assert any("random(2)" in str(w) for w in result.warnings), result.warnings


@pytest.mark.haproxy
@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_haproxy_agrees(config: Path, pem: Path) -> None:
    require_haproxy()
    env = {"PATH": "/usr/bin:/bin", **_env(config, pem)}
    done = subprocess.run(
        [HAPROXY, "-c", "-f", str(config)], capture_output=True, text=True, env=env
    )
    rel = f"{config.parent.name}/{config.name}"
    if rel in HAPROXY_REJECTS:
        assert done.returncode != 0 and "unknown keyword 'random'" in done.stderr
    else:
        assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_demo_configs_are_the_examples(scenario: str) -> None:
    packaged = ROOT / "balancekit_server" / "integrations" / "demo" / SCENARIOS[scenario].config
    example = EXAMPLES / SCENARIOS[scenario].example
    shipped = {p.read_text() for p in example.glob("*.cfg")}
    assert packaged.read_text() in shipped


def test_demo_mysql_schema_is_the_examples() -> None:
    packaged = ROOT / "balancekit_server" / "integrations" / "demo" / "mysql-init.sql"
    assert packaged.read_text() == (EXAMPLES / "mysql" / "init.sql").read_text()
