"""The least a uvloop Protocol relay can do per connection: a yardstick, not a proxy.

    python bench/uvloop_floor.py LISTEN_PORT BACKEND_PORT [BACKEND_PORT ...]

Round robin over the backends, early client bytes kept until the server
connection is up, half-close passed on, nothing else: no timeouts, counters,
logs, limits, routing or flow control (its memory grows on a bulk transfer).
`bench/tcp.py --floor` runs it next to HAProxy and balancekit, so the gap
between balancekit and this floor is what balancekit's own work costs, and the
gap between the floor and HAProxy is what the event loop and its transports
cost.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from typing import Any

import uvloop


class Relay:
    """One client connection and its server connection."""

    def __init__(self, loop: asyncio.AbstractEventLoop, backend: tuple[str, int]) -> None:
        self.loop = loop
        self.backend = backend
        self.client_side = End(self, client=True)
        self.server_side = End(self, client=False)
        self.client: asyncio.Transport | None = None
        self.server: asyncio.Transport | None = None
        self.early: list[bytes] = []
        self.eofs = 0
        self.connecting: Any = None

    def accepted(self, transport: asyncio.Transport) -> None:
        # The connect coroutine is stepped by hand (no Task), as balancekit does.
        self.client = transport
        self.connecting = self.loop.create_connection(lambda: self.server_side, *self.backend)
        self.step(None)

    def step(self, _: object) -> None:
        try:
            waiter = self.connecting.send(None)
        except StopIteration as done:
            self.connected(done.value[0])
        except OSError:
            assert self.client is not None
            self.client.close()
        else:
            waiter.add_done_callback(self.step)

    def connected(self, server: asyncio.Transport) -> None:
        assert self.client is not None
        self.server = server
        self.client_side.peer, self.server_side.peer = self.server, self.client
        if self.early:
            self.server.write(b"".join(self.early))
        if self.client_side.eof:
            self.server.write_eof()

    def eof(self, end: End) -> None:
        self.eofs += 1
        if self.eofs == 2 or end.peer is None:
            for transport in (self.client, self.server):
                if transport is not None:
                    transport.close()
        elif end.peer.can_write_eof():
            end.peer.write_eof()


class End(asyncio.Protocol):
    def __init__(self, relay: Relay, *, client: bool) -> None:
        self.relay = relay
        self.client = client
        self.peer: asyncio.Transport | None = None
        self.eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.client:
            self.relay.accepted(transport)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        if self.peer is not None:
            self.peer.write(data)
        else:
            self.relay.early.append(data)

    def eof_received(self) -> bool:
        self.eof = True
        self.relay.eof(self)
        return True


async def serve(port: int, backends: list[tuple[str, int]]) -> None:
    loop = asyncio.get_running_loop()
    turn = itertools.cycle(backends)
    server = await loop.create_server(
        lambda: Relay(loop, next(turn)).client_side, "127.0.0.1", port
    )
    async with server:
        await server.serve_forever()


def main() -> None:
    port, *backends = (int(arg) for arg in sys.argv[1:])
    uvloop.run(serve(port, [("127.0.0.1", backend) for backend in backends]))


if __name__ == "__main__":
    main()
