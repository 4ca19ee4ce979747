"""Requests held open on purpose, to compare in-flight behaviour with HAProxy.

`HoldBackends` are loopback HTTP servers that keep `GET /hold/<id>` waiting
until the test releases `<id>`; they record which server each id reached.
`Step`s (open id / release id) are replayed through HAProxy and through
`Backend.acquire`/`release`; after every step the test waits until HAProxy's
own counters (`show stat`: scur per server, qcur) equal the model's, so the
order of events is the same on both sides.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

import balancekit
from support.client import Response, http_request
from support.haproxy import HAProxy


class _Hub:
    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.arrived: dict[str, str] = {}
        self.gates: dict[str, threading.Event] = {}

    def gate(self, ident: str) -> threading.Event:
        with self.lock:
            return self.gates.setdefault(ident, threading.Event())


class _HoldHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HoldServer

    def do_GET(self) -> None:
        ident = self.path.split("?", 1)[0].rsplit("/", 1)[-1]
        hub = self.server.hub
        with hub.lock:
            hub.arrived[ident] = self.server.name
            hub.lock.notify_all()
        hub.gate(ident).wait(30)
        body = self.server.name.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _HoldServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, name: str, hub: _Hub) -> None:
        self.name = name
        self.hub = hub
        super().__init__(("127.0.0.1", 0), _HoldHandler)


class HoldBackends:
    def __init__(self, names: list[str]) -> None:
        self.hub = _Hub()
        self.servers = {name: _HoldServer(name, self.hub) for name in names}

    def __enter__(self) -> HoldBackends:
        for server in self.servers.values():
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for event in list(self.hub.gates.values()):
            event.set()
        for server in self.servers.values():
            server.shutdown()
            server.server_close()

    def address(self, name: str) -> str:
        host, port = self.servers[name].server_address[:2]
        return f"{host}:{port}"

    def arrival(self, ident: str, timeout: float = 10.0) -> str | None:
        deadline = time.monotonic() + timeout
        with self.hub.lock:
            while ident not in self.hub.arrived:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.hub.lock.wait(left)
            return self.hub.arrived[ident]


def stat_counts(haproxy: HAProxy, proxy: str) -> dict[str, tuple[int, int]]:
    """(qcur, scur) per server, and for the whole backend under 'BACKEND'."""
    lines = haproxy.command("show stat").splitlines()
    header = lines[0].lstrip("# ").split(",")
    qcur, scur = header.index("qcur"), header.index("scur")
    out = {}
    for line in lines[1:]:
        fields = line.split(",")
        if len(fields) > scur and fields[0] == proxy:
            out[fields[1]] = (int(fields[qcur] or 0), int(fields[scur] or 0))
    return out


def wait_for(condition: Callable[[], bool], what: Callable[[], str], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"HAProxy never reached the model's state: {what()}")
        time.sleep(0.005)


class InflightReplay:
    """Drive one `listen` of a running HAProxy and a model Backend side by side."""

    def __init__(
        self, haproxy: HAProxy, backends: HoldBackends, proxy: str, model: balancekit.Backend
    ) -> None:
        self.haproxy = haproxy
        self.backends = backends
        self.proxy = proxy
        self.model = model
        self.leases: dict[str, balancekit.Lease] = {}
        self.threads: dict[str, threading.Thread] = {}
        self.responses: dict[str, Response] = {}
        self.model_server: dict[str, str] = {}

    def _model_counts(self) -> dict[str, tuple[int, int]]:
        counts = {m.name: (len(m.queue), m.inflight) for m in self.model.members}
        backend_queue = self.model.queued - sum(len(m.queue) for m in self.model.members)
        counts["BACKEND"] = (backend_queue, -1)
        return counts

    def _haproxy_counts(self) -> dict[str, tuple[int, int]]:
        counts = stat_counts(self.haproxy, self.proxy)
        counts.pop("FRONTEND", None)
        counts["BACKEND"] = (counts["BACKEND"][0], -1)
        return counts

    def sync(self) -> None:
        expected = self._model_counts()
        wait_for(
            lambda: self._haproxy_counts() == expected,
            lambda: f"haproxy {self._haproxy_counts()} model {expected}",
        )

    def _granted(self, lease: balancekit.Lease) -> None:
        for ident, candidate in self.leases.items():
            if candidate is lease and lease.server is not None:
                self.model_server[ident] = lease.server.name

    def open(self, ident: str, query: str = "") -> None:
        ident = f"{self.proxy}-{ident}"
        port = self.haproxy.port(self.proxy)
        path = f"/hold/{ident}" + (f"?{query}" if query else "")

        def run() -> None:
            self.responses[ident] = http_request(port, path, timeout=30)

        thread = threading.Thread(target=run, daemon=True)
        self.threads[ident] = thread
        request = balancekit.Request(path=f"/hold/{ident}", query=query)
        lease = self.model.acquire(request, on_granted=self._granted)
        self.leases[ident] = lease
        if lease.server is not None:
            self.model_server[ident] = lease.server.name
        thread.start()
        if lease.granted:
            self.backends.arrival(ident)
        self.sync()

    def release(self, ident: str) -> None:
        ident = f"{self.proxy}-{ident}"
        self.backends.hub.gate(ident).set()
        self.threads[ident].join(30)
        self.model.release(self.leases[ident])
        self.sync()

    def chosen(self, ident: str) -> tuple[str | None, str | None]:
        """(HAProxy's server, the model's server) for one request."""
        ident = f"{self.proxy}-{ident}"
        return self.backends.arrival(ident, timeout=5), self.model_server.get(ident)

    def status(self, ident: str) -> int:
        return self.responses[f"{self.proxy}-{ident}"].status


# -- the cases ----------------------------------------------------------------------


@dataclass
class Case:
    id: str
    balance: str
    #: (name, weight, maxconn)
    servers: list[tuple[str, int, int]]
    #: ("open", id[, query]) or ("release", id)
    steps: list[tuple[str, ...]]
    hash_type: str | None = None
    hash_balance_factor: int = 0
    queries: dict[str, str] = field(default_factory=dict)

    @property
    def proxy(self) -> str:
        return f"hold_{self.id}"

    def section(self, backends: HoldBackends) -> str:
        lines = [
            f"listen {self.proxy}",
            f"    bind {{listen:{self.proxy}}}",
            f"    balance {self.balance}",
        ]
        if self.hash_type:
            lines.append(f"    hash-type {self.hash_type}")
        if self.hash_balance_factor:
            lines.append(f"    hash-balance-factor {self.hash_balance_factor}")
        for name, weight, maxconn in self.servers:
            lines.append(
                f"    server {name} {backends.address(name)} weight {weight} maxconn {maxconn}"
            )
        return "\n".join(lines)

    def model(self) -> balancekit.Backend:
        servers = [
            balancekit.Server(name, f"127.0.0.1:{20000 + i}", weight=w, maxconn=m)
            for i, (name, w, m) in enumerate(self.servers)
        ]
        return balancekit.Backend(
            self.proxy,
            servers,
            balance=self.balance,
            hash_type=self.hash_type,
            hash_balance_factor=self.hash_balance_factor,
        )


def opens(*idents: int) -> list[tuple[str, ...]]:
    return [("open", str(i)) for i in idents]


def releases(*idents: int) -> list[tuple[str, ...]]:
    return [("release", str(i)) for i in idents]


CASES = [
    Case(
        "leastconn_weights",
        "leastconn",
        [("A", 3, 0), ("B", 1, 0), ("C", 2, 0)],
        opens(*range(1, 9))
        + releases(2, 4, 5)
        + opens(9, 10, 11)
        + releases(1, 3)
        + opens(12, 13, 14, 15)
        + releases(6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
    ),
    Case(
        "roundrobin_maxconn_queue",
        "roundrobin",
        [("A", 2, 2), ("B", 1, 1), ("C", 1, 1)],
        opens(*range(1, 9))
        + releases(2)
        + opens(9)
        + releases(1, 3, 4)
        + opens(10, 11)
        + releases(5, 6, 7, 8, 9, 10, 11),
    ),
    Case(
        "first_maxconn",
        "first",
        [("A", 1, 2), ("B", 1, 2), ("C", 1, 1)],
        opens(*range(1, 8))
        + releases(1)
        + releases(4)
        + opens(8, 9)
        + releases(2, 3, 5, 6, 7, 8, 9),
    ),
    Case(
        "static_rr_maxconn",
        "static-rr",
        [("A", 3, 1), ("B", 1, 2)],
        opens(*range(1, 6)) + releases(3, 1) + opens(6) + releases(2, 4, 5, 6),
    ),
    Case(
        "url_param_server_queues",
        "url_param k",
        [("A", 1, 1), ("B", 1, 1), ("C", 1, 1)],
        [("open", str(i), f"k={i % 4}") for i in range(1, 10)]
        + releases(1, 2)
        + [("open", "10", "k=3"), ("open", "11", "k=0")]
        + releases(3, 4, 5, 6, 7, 8, 9, 10, 11),
        hash_type="consistent",
    ),
    Case(
        "server_and_backend_queues",
        "url_param k",
        [("A", 1, 1), ("B", 1, 1)],
        [("open", str(i), f"k={i}") for i in range(1, 5)]
        + [("open", str(i)) for i in range(5, 8)]  # no key, all full: backend queue
        + [("open", "8", "k=2"), ("open", "9", "k=3")]
        + releases(1, 2, 3, 4, 5, 6, 7, 8, 9),
        hash_type="map-based",
    ),
    Case(
        "bounded_loads",
        "url_param k",
        [("A", 1, 0), ("B", 2, 0), ("C", 1, 0)],
        [("open", str(i), "k=hot") for i in range(1, 9)]
        + [("open", str(i), f"k={i}") for i in range(9, 13)]
        + releases(2, 3, 9)
        + [("open", str(i), "k=hot") for i in range(13, 17)]
        + releases(1, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16),
        hash_type="consistent",
        hash_balance_factor=125,
    ),
]


GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "haproxy_2.6_inflight.json"


def inflight_config(backends: HoldBackends) -> str:
    return (
        "global\n    nbthread 1\n    stats socket {stats} level admin\n\n"
        "defaults\n    mode http\n    timeout connect 5s\n    timeout client 30s\n"
        "    timeout server 30s\n    timeout queue 30s\n\n"
        + "\n\n".join(case.section(backends) for case in CASES)
        + "\n"
    )


def record_inflight(haproxy: HAProxy, backends: HoldBackends) -> None:
    """Replay every case through HAProxy and store which server got each request."""
    recorded = {}
    for case in CASES:
        replay = InflightReplay(haproxy, backends, case.proxy, case.model())
        for step in case.steps:
            if step[0] == "open":
                replay.open(step[1], step[2] if len(step) > 2 else "")
            else:
                replay.release(step[1])
        opened = [step[1] for step in case.steps if step[0] == "open"]
        recorded[case.id] = {ident: replay.chosen(ident)[0] for ident in opened}
    GOLDEN.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")


def replay_model_only(case: Case) -> dict[str, str]:
    """The server the model grants each request, replaying the steps with leases."""
    model = case.model()
    leases: dict[str, balancekit.Lease] = {}
    chosen: dict[str, str] = {}

    def granted(lease: balancekit.Lease) -> None:
        for ident, candidate in leases.items():
            if candidate is lease and lease.server is not None:
                chosen[ident] = lease.server.name

    for step in case.steps:
        if step[0] == "open":
            query = step[2] if len(step) > 2 else ""
            lease = model.acquire(
                balancekit.Request(path=f"/hold/{step[1]}", query=query), on_granted=granted
            )
            leases[step[1]] = lease
            if lease.server is not None:
                chosen[step[1]] = lease.server.name
        else:
            model.release(leases[step[1]])
    return chosen


def load_inflight_golden() -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads(GOLDEN.read_text())
    return data
