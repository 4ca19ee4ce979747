"""`balancekit-server --demo [NAME]`: a seed scenario running from one command.

The demo starts the tutorial's Flask apps on free loopback ports (in threads of
this process), fills their addresses into the scenario's haproxy.cfg -- the same
file as in `examples/`, packaged here -- through `${NAME-default}` variables, adds
a stats page, and runs it with the normal runtime until Ctrl-C.  Nothing is
written outside a temporary directory and nothing outlives the process.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, TextIO

from balancekit.config import ConfigErrors, LoadResult, load_text
from balancekit_server.integrations.demo.apps import AppServers
from balancekit_server.integrations.demo.mariadb import DemoMariaDB

__all__ = ["DEFAULT", "SCENARIOS", "Scenario", "build_config", "main", "run", "run_demo"]

DEFAULT = "weighted"
DEFAULT_PORT = 8080
DEFAULT_STATS_PORT = 8404

_STATS_SECTION = """
# Added by the demo: HAProxy's stats page on its own port.
listen stats
    bind "${STATS}"
    mode http
    stats enable
    stats uri /stats
    stats refresh 5s
"""


@dataclass(frozen=True, slots=True)
class Scenario:
    """One seed episode: its packaged config, its apps, and what to try."""

    name: str
    title: str
    config: str
    #: (variable the config reads the address from, app kind in `apps.APPS`)
    apps: tuple[tuple[str, str], ...]
    #: shell lines to suggest; `{url}` is the proxy's base URL, `{host}`/`{port}` its parts
    try_lines: tuple[str, ...]
    example: str
    tls: bool = False
    #: the proxy speaks this (the banner's address scheme); "mysql" for the database
    proxy_scheme: str = "http"
    #: start a throwaway MariaDB and hand its address to the config as MYSQL1
    mariadb: bool = False


_THREE = (("APP1", "app1"), ("APP2", "app2"), ("APP3", "app3"))

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "weighted",
            "weighted round robin, weights 2:1:3 (HAProxy EP 9)",
            "weighted.cfg",
            _THREE,
            ("for i in $(seq 6); do curl -s {url}/; echo; done", "curl {url}/data"),
            "weighted",
        ),
        Scenario(
            "roundrobin",
            "round robin over three Flask apps (HAProxy EP 5)",
            "roundrobin.cfg",
            _THREE,
            ("for i in $(seq 3); do curl -s {url}/; echo; done",),
            "roundrobin",
        ),
        Scenario(
            "random",
            "balance random with `random draw 2` (HAProxy EP 8)",
            "random.cfg",
            _THREE,
            ("for i in $(seq 6); do curl -s {url}/; echo; done",),
            "random",
        ),
        Scenario(
            "source",
            "source address hashing, hash-type consistent (HAProxy EP 7)",
            "source.cfg",
            _THREE,
            (
                "curl --interface 127.0.0.11 {url}/   # the same client always lands on",
                "curl --interface 127.0.0.12 {url}/   # the same server",
            ),
            "source-uri-hash",
        ),
        Scenario(
            "uri",
            "URI hashing, hash-type consistent (HAProxy EP 7)",
            "uri.cfg",
            _THREE,
            ("curl {url}/cart; curl {url}/profile; curl {url}/cart",),
            "source-uri-hash",
        ),
        Scenario(
            "acl",
            "ACL routing and denies (HAProxy EP 4)",
            "acl.cfg",
            (("APP1", "acl_main"), ("APP2", "acl_form")),
            (
                "curl {url}/                                # app1",
                "curl -X POST {url}/submit                  # app2",
                "curl {url}/admin                           # 403",
                "curl --interface 127.0.1.7 {url}/          # 403: blocked range",
            ),
            "acl",
        ),
        Scenario(
            "tcp",
            "TCP proxy (mode tcp) in front of two Flask apps (HAProxy EP 2)",
            "tcp.cfg",
            (("FLASK1", "tcp"), ("FLASK2", "tcp")),
            ("curl {url}/",),
            "tcp-proxy",
        ),
        Scenario(
            "l7",
            "path routing with TLS termination (HAProxy EP 3)",
            "l7.cfg",
            (("STATIC1", "static"), ("DYNAMIC1", "dynamic")),
            (
                "curl {url}/api/data",
                "curl {url}/static/logo.png",
                "curl -k https://{host}:{tls_port}/",
            ),
            "l7-routing-ssl",
            tls=True,
        ),
        Scenario(
            "mysql",
            "MySQL behind a TCP proxy with server maxconn 10 (Flask + HAProxy + MySQL)",
            "mysql.cfg",
            (("APP", "mysql"),),
            (
                "curl http://{APP}/todos       # the Flask app reads through the proxy",
                "curl http://{APP}/sleep/1",
            ),
            "mysql",
            proxy_scheme="mysql",
            mariadb=True,
        ),
    )
}

ALIASES = {
    "default": DEFAULT,
    "weighted-roundrobin": "weighted",
    "round-robin": "roundrobin",
    "tcp-proxy": "tcp",
    "source-uri-hash": "source",
    "l7-routing-ssl": "l7",
    "ssl": "l7",
}


def resolve(name: str | None) -> Scenario:
    """The scenario called `name` (or an alias); ValueError listing the choices otherwise."""
    key = ALIASES.get(name or DEFAULT, name or DEFAULT)
    try:
        return SCENARIOS[key]
    except KeyError:
        raise ValueError(f"unknown demo '{name}'; choose one of: {', '.join(SCENARIOS)}") from None


def config_text(scenario: Scenario) -> str:
    """The packaged haproxy.cfg of `scenario` plus the demo's stats section."""
    text = resources.files(__name__).joinpath(scenario.config).read_text(encoding="utf-8")
    return text.rstrip("\n") + "\n" + _STATS_SECTION


def build_config(scenario: Scenario, env: Mapping[str, str]) -> LoadResult:
    """Load the scenario's config with addresses from `env` (raises ConfigErrors)."""
    return load_text(config_text(scenario), name=f"demo/{scenario.config}", env=env)


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def choose_port(host: str, wanted: int | None, default: int, what: str, out: TextIO) -> int:
    """`wanted` if given (it must be free); else `default`, or a free port with a message."""
    if wanted is not None:
        if wanted and not _port_free(host, wanted):
            raise OSError(f"{host}:{wanted} is already in use; pick another {what} port")
        return wanted or _free_port(host)
    if _port_free(host, default):
        return default
    port = _free_port(host)
    print(f"note: {host}:{default} is in use; the {what} uses {host}:{port} instead", file=out)
    return port


def _make_certificate(directory: str) -> str:
    """A throwaway self-signed certificate + key in one PEM, as `bind … ssl crt` wants."""
    pem = os.path.join(directory, "site.pem")
    openssl = shutil.which("openssl")
    if openssl is None:
        raise OSError("the l7 demo needs the `openssl` command to make a test certificate")
    key, cert = os.path.join(directory, "key.pem"), os.path.join(directory, "cert.pem")
    command = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-subj", "/CN=localhost", "-keyout", key, "-out", cert]
    subprocess.run(
        command,
        check=True,
        capture_output=True,
    )
    with open(pem, "w") as out:
        for part in (cert, key):
            with open(part) as handle:
                out.write(handle.read())
    return pem


def banner(scenario: Scenario, apps: AppServers, env: Mapping[str, str]) -> str:
    host, _, port = env["LISTEN"].rpartition(":")
    url = f"{scenario.proxy_scheme}://{env['LISTEN']}"
    tls_port = env.get("LISTEN_TLS", "").rpartition(":")[2]
    lines = [f"balancekit demo '{scenario.name}': {scenario.title}", ""]
    if scenario.mariadb:
        lines.append(f"  mariadb           mysql://{env['MYSQL1']}")
    for variable, _kind in scenario.apps:
        label = "app" if scenario.mariadb else f"backend {variable.lower()}"
        lines.append(f"  {label:<17} http://{apps.address(variable)}")
    lines.append(f"  proxy             {url}/")
    if scenario.tls:
        lines.append(f"  proxy (TLS)       https://{env['LISTEN_TLS']}/")
    lines.append(f"  stats page        http://{env['STATS']}/stats")
    lines += ["", "Try:"]
    lines += [
        "  " + t.format(url=url, host=host, port=port, tls_port=tls_port, **env)
        for t in scenario.try_lines
    ]
    lines += [
        "",
        f"The config is examples/{scenario.example}/haproxy.cfg; other demos: "
        + ", ".join(SCENARIOS),
        "Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def _announce_when_listening(address: str, text: str, out: TextIO, timeout: float = 30) -> None:
    """Print the banner once the proxy accepts connections, so what it says to try works.

    The runtime blocks this thread's caller; if it fails to start, nothing is printed
    (its own error says why).
    """
    host, _, port = address.rpartition(":")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex((host, int(port))) == 0:
                print(text, file=out, flush=True)
                return
        time.sleep(0.05)


Runner = Callable[[Any], int | None]


def _runtime_runner() -> Runner:
    from balancekit_server.process import runtime

    def run(config: Any) -> int | None:
        return runtime.run(config)

    return run


def run_demo(
    name: str | None = None,
    *,
    port: int | None = None,
    stats_port: int | None = None,
    host: str = "127.0.0.1",
    out: TextIO | None = None,
    runner: Runner | None = None,
) -> int:
    """Start the scenario's apps and proxy; block until the runtime stops (Ctrl-C)."""
    out = out or sys.stdout
    try:
        scenario = resolve(name)
        listen_port = choose_port(host, port, DEFAULT_PORT, "proxy", out)
        stats = choose_port(host, stats_port, DEFAULT_STATS_PORT, "stats page", out)
        while stats == listen_port:  # two "free" ports can coincide; the kernel reuses them
            stats = _free_port(host)
    except (ValueError, OSError) as error:
        print(f"balancekit-server --demo: {error}", file=sys.stderr)
        return 2
    workdir = tempfile.mkdtemp(prefix="balancekit-demo-")
    apps = AppServers(scenario.apps)
    database: DemoMariaDB | None = None
    try:
        env = {"LISTEN": f"{host}:{listen_port}", "STATS": f"{host}:{stats}"}
        env["STATS_SOCKET"] = os.path.join(workdir, "stats.sock")
        if scenario.mariadb:
            print("starting a throwaway MariaDB…", file=out, flush=True)
            database = DemoMariaDB(workdir, _free_port(host)).start()
            env["MYSQL1"] = database.address
        apps.start(env)
        env.update({variable: apps.address(variable) for variable, _ in scenario.apps})
        if scenario.tls:
            tls_port = _free_port(host)
            while tls_port in (listen_port, stats):
                tls_port = _free_port(host)
            env["LISTEN_TLS"] = f"{host}:{tls_port}"
            env["CERT"] = _make_certificate(workdir)
        try:
            loaded = build_config(scenario, env)
        except ConfigErrors as failure:
            print(f"balancekit-server --demo: bad packaged config:\n{failure}", file=sys.stderr)
            return 1
        announce = threading.Thread(
            target=_announce_when_listening,
            args=(env["LISTEN"], banner(scenario, apps, env), out),
            daemon=True,
        )
        announce.start()
        try:
            status = (runner or _runtime_runner())(loaded.config)
        except KeyboardInterrupt:
            status = 0
        return int(status or 0)
    except (OSError, subprocess.CalledProcessError) as error:
        print(f"balancekit-server --demo: {error}", file=sys.stderr)
        return 1
    finally:
        apps.close()
        if database is not None:
            database.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        print("balancekit demo stopped.", file=out, flush=True)


#: what `balancekit_server.process.runtime.run(None, demo=NAME)` calls.
run = run_demo


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m balancekit_server.integrations.demo [NAME] [--port N]`, the same as `--demo`."""
    import argparse

    parser = argparse.ArgumentParser(prog="balancekit-server --demo")
    parser.add_argument("name", nargs="?", default=DEFAULT, choices=[*SCENARIOS, *ALIASES])
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--stats-port", type=int, default=None)
    args = parser.parse_args(argv)
    return run_demo(args.name, port=args.port, stats_port=args.stats_port)
