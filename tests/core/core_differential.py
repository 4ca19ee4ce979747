"""Differential scenarios: the same requests through a real HAProxy 2.6 and `Backend.pick`.

A scenario is a backend (balance, hash-type, servers with weights and flags), a
request sequence (target, headers, source address) and runtime API commands to
send before given requests.  `replay_haproxy` runs it through HAProxy (one
`listen` per scenario, loopback servers answering their own name);
`replay_model` runs it through balancekit.  Answers recorded from HAProxy are
kept in tests/golden/ so the comparison still runs where HAProxy is missing.
"""

from __future__ import annotations

import json
import random
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path

import balancekit
from support.backends import NamedBackends
from support.client import http_request
from support.haproxy import HAProxy

DEFAULT_HOST = ("Host", "app.example.com")
GOLDEN = Path(__file__).resolve().parent.parent / "golden"
NAMES = ["A", "B", "C", "D", "E", "F"]


@dataclass
class Req:
    target: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    src: str = "127.0.0.1"

    def to_row(self) -> list[object]:
        """Compact JSON form: [target] when headers and source are the defaults."""
        if self.headers == [DEFAULT_HOST] and self.src == "127.0.0.1":
            return [self.target]
        return [self.target, [list(h) for h in self.headers], self.src]

    @classmethod
    def from_row(cls, row: list[object]) -> Req:
        if len(row) == 1:
            return cls(str(row[0]), [DEFAULT_HOST])
        target, headers, src = row
        return cls(str(target), [(str(k), str(v)) for k, v in headers], str(src))  # type: ignore[attr-defined]

    def request(self) -> balancekit.Request:
        path, _, query = self.target.partition("?")
        headers = [*self.headers, ("Connection", "close")]
        return balancekit.Request(
            src=self.src, path=path, query=query, headers=headers, uri=self.target
        )


@dataclass
class Scenario:
    id: str
    balance: str
    hash_type: str | None
    #: (name, weight, extra server keywords such as "disabled" or "backup")
    servers: list[tuple[str, int, str]]
    requests: list[Req]
    #: request index -> runtime API commands sent just before it ({px} = proxy name)
    actions: dict[int, list[str]] = field(default_factory=dict)
    answers: list[str] = field(default_factory=list)
    #: servers whose address refuses connections: HAProxy retries once with
    #: `option redispatch`, avoiding the failed server (the model: pick(avoid=...)).
    dead: list[str] = field(default_factory=list)
    #: extra proxy lines, e.g. "option allbackups"
    options: list[str] = field(default_factory=list)

    @property
    def proxy(self) -> str:
        return f"sc_{self.id}"

    def listen_section(self, backends: NamedBackends, refused: str) -> str:
        lines = [f"listen {self.proxy}", f"    bind {{listen:{self.proxy}}}"]
        lines.append(f"    balance {self.balance}")
        if self.hash_type:
            lines.append(f"    hash-type {self.hash_type}")
        if self.dead:
            lines += ["    retries 1", "    option redispatch"]
        lines += [f"    {option}" for option in self.options]
        for name, weight, extra in self.servers:
            address = refused if name in self.dead else backends.address(name)
            lines.append(f"    server {name} {address} weight {weight} {extra}".rstrip())
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["actions"] = {str(k): v for k, v in self.actions.items()}
        data["requests"] = [r.to_row() for r in self.requests]
        return data

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Scenario:
        requests = [Req.from_row(row) for row in data["requests"]]  # type: ignore[attr-defined]
        return cls(
            dead=list(data.get("dead", [])),  # type: ignore[attr-defined,call-overload]
            options=list(data.get("options", [])),  # type: ignore[attr-defined,call-overload]
            id=str(data["id"]),
            balance=str(data["balance"]),
            hash_type=data["hash_type"],  # type: ignore[arg-type]
            servers=[tuple(s) for s in data["servers"]],  # type: ignore[attr-defined,misc]
            requests=requests,
            actions={int(k): v for k, v in data["actions"].items()},  # type: ignore[attr-defined]
            answers=list(data["answers"]),  # type: ignore[call-overload]
        )


def haproxy_config(scenarios: list[Scenario], backends: NamedBackends, refused: str) -> str:
    """One `listen` per scenario; `refused` is an address nothing listens on."""
    head = """
global
    nbthread 1
    stats socket {stats} level admin

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
"""
    return head + "\n\n".join(s.listen_section(backends, refused) for s in scenarios) + "\n"


class RefusedAddress:
    """A loopback port that is bound but not listening: connections get a RST."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()
        return f"{host}:{port}"

    def __enter__(self) -> RefusedAddress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def replay_haproxy(haproxy: HAProxy, scenario: Scenario) -> list[str]:
    answers = []
    port = haproxy.port(scenario.proxy)
    for index, req in enumerate(scenario.requests):
        for command in scenario.actions.get(index, []):
            reply = haproxy.command(command.format(px=scenario.proxy))
            assert reply.strip() == "", f"{command}: {reply}"
        response = http_request(port, req.target, headers=req.headers, src=req.src)
        answers.append(response.text if response.status == 200 else f"<{response.status}>")
    return answers


def _apply(backend: balancekit.Backend, command: str) -> None:
    words = command.split()
    server = words[2].split("/", 1)[1]
    if words[:2] == ["set", "server"] and words[3] == "state":
        backend.set_state(server, words[4])
    elif words[:2] == ["set", "server"] and words[3] == "weight":
        backend.set_weight(server, words[4])
    elif words[:2] == ["disable", "server"]:
        backend.set_state(server, "maint")
    elif words[:2] == ["enable", "server"]:
        backend.set_state(server, "ready")
    else:
        raise ValueError(f"no model for runtime command '{command}'")


def _server_id(extra: str) -> int | None:
    words = extra.split()
    return int(words[words.index("id") + 1]) if "id" in words else None


def model_backend(scenario: Scenario) -> balancekit.Backend:
    servers = [
        balancekit.Server(
            name,
            f"127.0.0.1:{10000 + i}",
            weight=weight,
            disabled="disabled" in extra.split(),
            backup="backup" in extra.split(),
            id=_server_id(extra),
        )
        for i, (name, weight, extra) in enumerate(scenario.servers)
    ]
    return balancekit.Backend(
        scenario.proxy,
        servers,
        balance=scenario.balance,
        hash_type=scenario.hash_type,
        allbackups="option allbackups" in scenario.options,
    )


def replay_model(scenario: Scenario) -> list[str]:
    backend = model_backend(scenario)
    answers = []
    for index, req in enumerate(scenario.requests):
        for command in scenario.actions.get(index, []):
            _apply(backend, command.format(px=scenario.proxy))
        try:
            server = backend.pick(req.request())
            if server.name in scenario.dead:
                # The connection is refused; the one retry is redispatched.
                server = backend.pick(req.request(), avoid=server.name)
            answers.append("<503>" if server.name in scenario.dead else server.name)
        except balancekit.NoServerAvailable:
            answers.append("<503>")
    return answers


def first_difference(expected: list[str], got: list[str]) -> str:
    for index, (a, b) in enumerate(zip(expected, got, strict=False)):
        if a != b:
            return f"request #{index}: HAProxy chose {a}, balancekit {b}"
    if len(expected) != len(got):
        return f"lengths differ: {len(expected)} vs {len(got)}"
    return "identical"


# -- scenario generation ------------------------------------------------------------------


def zipf_choice(rng: random.Random, items: list[str], skew: float = 1.1) -> str:
    weights = [1.0 / (rank + 1) ** skew for rank in range(len(items))]
    return rng.choices(items, weights)[0]


def host_header(name: str = DEFAULT_HOST[1]) -> tuple[str, str]:
    return ("Host", name)


def uri_requests(rng: random.Random, count: int) -> list[Req]:
    paths = [
        f"/{rng.choice(['img', 'css', 'api', 'static', 'v1/users'])}/{rng.randrange(10**6)}"
        + rng.choice(["", ".png", "/x/y", "/deep/er/path.js"])
        for _ in range(60)
    ]
    out = []
    for _ in range(count):
        target = zipf_choice(rng, paths)
        if rng.random() < 0.3:
            target += f"?v={rng.randrange(100)}&uid={rng.randrange(50)}"
        out.append(Req(target, [host_header()]))
    return out


def param_requests(rng: random.Random, count: int) -> list[Req]:
    out = []
    for _ in range(count):
        roll = rng.random()
        uid = str(rng.randrange(80))
        if roll < 0.15:
            target = f"/p?other={uid}"  # parameter missing: round-robin fallback
        elif roll < 0.2:
            target = "/p"
        elif roll < 0.25:
            target = "/p?uid="
        elif roll < 0.5:
            target = f"/p?a=1&uid={uid}&b=2"
        elif roll < 0.55:
            target = f"/p?xuid={uid}&uid={uid}7"
        else:
            target = f"/p?uid={uid}"
        out.append(Req(target, [host_header()]))
    return out


def header_requests(rng: random.Random, count: int, header: str) -> list[Req]:
    out = []
    hosts = [f"{p}.site{n}.example" for p in ("www", "api", "m") for n in range(12)]
    hosts += ["localhost", "intranet", "a.b.c.d.org"]
    for _ in range(count):
        roll = rng.random()
        headers = [host_header(zipf_choice(rng, hosts) if header == "host" else "app.example")]
        if header != "host":
            if roll < 0.15:
                pass  # header missing: round-robin fallback
            elif roll < 0.2:
                headers.append((header, ""))
            elif roll < 0.3:
                headers.append((header, f"user{rng.randrange(40)}, other"))
            else:
                headers.append((header, f"user{rng.randrange(40)}"))
        out.append(Req("/h", headers))
    return out


def source_requests(rng: random.Random, count: int) -> list[Req]:
    sources = [
        f"127.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(50)
    ]
    return [Req("/s", [host_header()], zipf_choice(rng, sources)) for _ in range(count)]


def save_golden(name: str, scenarios: list[Scenario]) -> None:
    GOLDEN.mkdir(exist_ok=True)
    path = GOLDEN / f"{name}.json"
    rows = ",\n".join(json.dumps(s.to_json(), separators=(",", ":")) for s in scenarios)
    path.write_text(f"[\n{rows}\n]\n")


def load_golden(name: str) -> list[Scenario]:
    path = GOLDEN / f"{name}.json"
    return [Scenario.from_json(data) for data in json.loads(path.read_text())]
