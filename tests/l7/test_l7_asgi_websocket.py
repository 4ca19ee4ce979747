"""WebSocket through `ProxyApp` under a real uvicorn: the upgrade is routed and
balanced like any request, then messages flow both ways (relayed by the
proxy's own WebSocket client side, since uvicorn has already decoded frames)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import uvicorn
from l7_harness import Decision, FnRouter, RunningAsgi
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    RejectConnection,
    Request,
    TextMessage,
)

from balancekit import Backend, Server


def echo_app(name: str) -> Starlette:
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(f"hello from {name}")
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("text") is not None:
                await websocket.send_text(f"{name}:{message['text']}")
            else:
                await websocket.send_bytes(message["bytes"][::-1])

    return Starlette(routes=[WebSocketRoute("/ws", echo)])


class Uvicorn:
    """An ASGI app under uvicorn on a free loopback port, in a thread."""

    def __init__(self, app: Starlette) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="error", ws="wsproto"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})
        self.thread.start()
        while not self.server.started:
            threading.Event().wait(0.01)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


class Client:
    """A WebSocket client over a raw socket (wsproto frames it)."""

    def __init__(self, port: int, path: str = "/ws") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.sock.sendall(self.ws.send(Request(host=f"127.0.0.1:{port}", target=path)))
        self.pending: list[object] = []

    def next_event(self) -> object:
        while not self.pending:
            data = self.sock.recv(65536)
            self.ws.receive_data(data or None)
            self.pending.extend(self.ws.events())
        return self.pending.pop(0)

    def handshake(self) -> object:
        return self.next_event()

    def receive(self) -> str | bytes:
        parts: list[str | bytes] = []
        while True:
            event = self.next_event()
            assert isinstance(event, TextMessage | BytesMessage), event
            parts.append(event.data)
            if event.message_finished:
                return "".join(parts) if isinstance(event, TextMessage) else b"".join(parts)  # type: ignore[arg-type]

    def send(self, data: str | bytes) -> None:
        self.sock.sendall(self.ws.send(Message(data=data)))

    def close(self) -> None:
        self.sock.sendall(self.ws.send(CloseConnection(code=1000)))
        self.sock.close()


@pytest.fixture
def backends() -> Iterator[dict[str, Uvicorn]]:
    servers = {name: Uvicorn(echo_app(name)) for name in ("s1", "s2")}
    yield servers
    for server in servers.values():
        server.close()


def test_upgrades_are_balanced_and_messages_flow_both_ways(backends: dict[str, Uvicorn]) -> None:
    pool = Backend("be", [Server(n, f"127.0.0.1:{b.port}") for n, b in backends.items()])
    proxy = RunningAsgi(FnRouter(lambda _r: Decision(backend="be")), {"be": pool})
    try:
        greetings = []
        for _ in range(2):
            client = Client(proxy.port)
            assert isinstance(client.handshake(), AcceptConnection)
            greeting = client.receive()
            greetings.append(greeting)
            name = str(greeting).rsplit(" ", 1)[1]
            client.send("ping")
            assert client.receive() == f"{name}:ping"
            big = bytes(range(256)) * 1024  # 256 KiB: several frames on the wire
            client.send(big)
            assert client.receive() == big[::-1]
            client.close()
        assert greetings == ["hello from s1", "hello from s2"]
    finally:
        proxy.close()


def test_denied_upgrade_never_reaches_a_server(backends: dict[str, Uvicorn]) -> None:
    pool = Backend("be", [Server("s1", f"127.0.0.1:{backends['s1'].port}")])
    router = FnRouter(lambda _r: Decision(action="deny", status=403))
    proxy = RunningAsgi(router, {"be": pool})
    try:
        client = Client(proxy.port)
        event = client.handshake()
        assert isinstance(event, RejectConnection)
        assert event.status_code == 403
        assert pool.member("s1").lbtot == 0
    finally:
        proxy.close()


MIDDLEWARE_CONFIG = """
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s

frontend web
    bind 127.0.0.1:0
    option httplog
    http-request deny if {{ path_beg /blocked }}
    use_backend be if {{ path_beg /ws }}

backend be
    balance roundrobin
    server s1 127.0.0.1:{p1}
    server s2 127.0.0.1:{p2}
"""


def test_middleware_relays_websockets_its_rules_route(backends: dict[str, Uvicorn]) -> None:
    """`BalancerMiddleware`: a `use_backend` upgrade is relayed to the pool, a denied
    one refused, any other reaches the app's own endpoint; the relayed ones are
    logged in `option httplog` format like the server's requests."""
    from balancekit.config import load_text
    from balancekit_server.integrations.middleware import BalancerMiddleware

    async def local(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello from the app")
        await websocket.close()

    config = load_text(
        MIDDLEWARE_CONFIG.format(p1=backends["s1"].port, p2=backends["s2"].port)
    ).config
    lines: list[str] = []
    app = Starlette(routes=[WebSocketRoute("/local", local)])
    app.add_middleware(BalancerMiddleware, config=config, checks=False, log=lines.append)
    served = Uvicorn(app)
    try:
        greetings = []
        for _ in range(2):
            client = Client(served.port, "/ws")
            assert isinstance(client.handshake(), AcceptConnection)
            greetings.append(client.receive())
            client.send("ping")
            assert str(client.receive()).endswith(":ping")
            client.close()
        assert greetings == ["hello from s1", "hello from s2"]

        client = Client(served.port, "/local")
        assert isinstance(client.handshake(), AcceptConnection)
        assert client.receive() == "hello from the app"

        client = Client(served.port, "/blocked")
        event = client.handshake()
        assert isinstance(event, RejectConnection) and event.status_code == 403
    finally:
        served.close()
    relayed = [line for line in lines if '"GET /ws HTTP/1.1"' in line]
    assert [line.split()[3] for line in relayed] == ["be/s1", "be/s2"]
    assert all(line.split()[2] == "web" and line.split()[5] == "101" for line in relayed)
    denied = [line for line in lines if "/blocked" in line]
    assert len(denied) == 1 and " web/<NOSRV> " in denied[0] and " 403 " in denied[0]
    assert not any("/local" in line for line in lines)  # the app's own: not the proxy's
