"""WebSocket scopes for `ProxyApp`.

`balancekit-server` tunnels an upgraded connection byte for byte, but behind an
ASGI server the client's frames arrive already decoded, as `websocket.receive`
messages.  So the upgrade request goes through the shared `HttpProxy` exactly
like any request (rules, balancing, leases, retries, logs), and once the server
answers 101 the upstream side speaks WebSocket itself through wsproto's sans-IO
connection, one message at a time in each direction.
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections import deque
from typing import Any

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Message, Ping, TextMessage

from balancekit_server.http.asgi_exchange import AsgiExchange, Receive, Scope, Send
from balancekit_server.http.errors import ErrorPage
from balancekit_server.http.headers import RawHeaders
from balancekit_server.http.proxy import HttpProxy
from balancekit_server.http.upstream import UpstreamConnection

__all__ = ["proxy_websocket"]

_HIGH_WATER = 64  # messages waiting for the client before the upstream is paused
_LOW_WATER = 16
#: Extensions are negotiated end to end; the relay's own framing has none.
_NOT_FORWARDED = {b"sec-websocket-extensions"}


class _WebSocketExchange(AsgiExchange):
    """The upgrade request as the proxy core sees it, and the bridge once upgraded.

    While the handshake is under way the core answers through `begin_response`
    and friends: a 101 is kept for the accept, anything else becomes the HTTP
    answer the client gets instead of a WebSocket.  After `start_tunnel` the
    upstream connection writes raw frames into `write`, as into a transport.
    """

    def __init__(self, scope: Scope, receive: Receive, send: Send, loop: Any) -> None:
        headers = [(n, v) for n, v in scope.get("headers", ()) if n.lower() not in _NOT_FORWARDED]
        names = {n.lower() for n, _ in headers}
        if b"upgrade" not in names:
            headers.append((b"upgrade", b"websocket"))
        if b"sec-websocket-key" not in names:
            headers.append((b"sec-websocket-key", base64.b64encode(os.urandom(16))))
        if b"sec-websocket-version" not in names:
            headers.append((b"sec-websocket-version", b"13"))
        super().__init__({**scope, "headers": headers, "method": "GET"}, receive, send, loop)
        self.upgrade = True
        self.tokens.add(b"upgrade")
        self.extensions = scope.get("extensions") or {}
        self.answer: tuple[int, RawHeaders] | None = None
        self.page_body = bytearray()
        self.ws: Connection | None = None
        self.upstream: UpstreamConnection | None = None
        self.outbox: deque[dict[str, Any]] = deque()
        self.partial: dict[str, Any] | None = None
        self.closed = asyncio.Event()
        self.wakeup = asyncio.Event()

    # -- the handshake answer ------------------------------------------------------------

    def send_page(self, page: ErrorPage) -> None:
        self.status = page.status
        self.answer = (page.status, list(page.headers))
        self.page_body += page.body

    def begin_response(
        self,
        status: int,
        reason: bytes,
        headers: RawHeaders,
        length: int | None,
        body: bool,
        *,
        until_close: bool = False,
        framed: bool = False,
        response_version: bytes = b"1.1",
    ) -> None:
        self.answer = (status, headers)

    def write_body(self, data: bytes) -> None:
        self.bytes_out += len(data)
        self.page_body += data

    def end_response(self) -> None:
        pass

    def start_tunnel(self, conn: UpstreamConnection, leftover: bytes) -> bool:
        self.upstream = conn
        self.ws = Connection(ConnectionType.CLIENT)
        conn.tunnel = self  # type: ignore[assignment]  # duck-typed: write() and close()
        if leftover:
            self.write(leftover)
        return True

    async def refuse(self) -> None:
        """Not upgraded: give the client the HTTP answer (when the server can), else close."""
        status, headers = self.answer or (502, [])
        if "websocket.http.response" in self.extensions:
            await self._send(
                {"type": "websocket.http.response.start", "status": status, "headers": headers}
            )
            await self._send(
                {"type": "websocket.http.response.body", "body": bytes(self.page_body)}
            )
        else:
            await self._send({"type": "websocket.close", "code": 1008})

    # -- upstream frames -> client messages (the upstream writes here, as to a transport) ---

    def write(self, data: bytes) -> None:
        ws = self.ws
        if ws is None:
            return
        ws.receive_data(data)
        for event in ws.events():
            if isinstance(event, TextMessage):
                self._queue({"type": "websocket.send", "text": event.data}, event)
            elif isinstance(event, BytesMessage):
                self._queue({"type": "websocket.send", "bytes": bytes(event.data)}, event)
            elif isinstance(event, Ping):
                self._to_upstream(event.response())
            elif isinstance(event, CloseConnection):
                if ws.state is ConnectionState.REMOTE_CLOSING:
                    self._to_upstream(event.response())
                self.outbox.append({"type": "websocket.close", "code": event.code})
                self.closed.set()
        self.wakeup.set()
        if len(self.outbox) > _HIGH_WATER and self.upstream is not None:
            self.upstream.pause_reading()

    def _queue(self, message: dict[str, Any], event: Message[Any]) -> None:
        # A message may come in several frames: ASGI wants it whole.
        key = "text" if "text" in message else "bytes"
        if self.partial is not None:
            self.partial[key] += message[key]
            message = self.partial
        if event.message_finished:
            self.partial = None
            self.outbox.append(message)
        else:
            self.partial = message

    def close(self) -> None:
        """The upstream connection is gone."""
        if not self.closed.is_set():
            self.outbox.append({"type": "websocket.close", "code": 1011})
            self.closed.set()
        self.wakeup.set()

    def _to_upstream(self, event: Any) -> None:
        if self.ws is not None and self.upstream is not None:
            self.upstream.write(self.ws.send(event))

    # -- the relay ----------------------------------------------------------------------

    async def relay(self) -> None:
        headers = self.answer[1] if self.answer else []
        accept: dict[str, Any] = {"type": "websocket.accept"}
        for name, value in headers:
            if name.lower() == b"sec-websocket-protocol":
                accept["subprotocol"] = value.decode("latin-1")
        await self._send(accept)
        reader = asyncio.ensure_future(self._from_client())
        try:
            while True:
                while self.outbox:
                    message = self.outbox.popleft()
                    await self._send(message)
                    if message["type"] == "websocket.close":
                        return
                if len(self.outbox) < _LOW_WATER and self.upstream is not None:
                    self.upstream.resume_reading()
                if reader.done():
                    return
                self.wakeup.clear()
                waiter = asyncio.ensure_future(self.wakeup.wait())
                await asyncio.wait({waiter, reader}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
        finally:
            reader.cancel()
            if self.upstream is not None:
                self.upstream.tunnel = None
                self.upstream.abort()

    async def _from_client(self) -> None:
        while True:
            message = await self._receive()
            kind = message["type"]
            if kind == "websocket.receive":
                if message.get("text") is not None:
                    self._to_upstream(Message(data=message["text"]))
                elif message.get("bytes") is not None:
                    self._to_upstream(Message(data=message["bytes"]))
            elif kind == "websocket.disconnect":
                if self.ws is not None and self.ws.state is ConnectionState.OPEN:
                    self._to_upstream(CloseConnection(code=message.get("code", 1000)))
                return


async def proxy_websocket(proxy: HttpProxy, scope: Scope, receive: Receive, send: Send) -> None:
    """Serve one `websocket` scope through `proxy`."""
    first = await receive()
    if first["type"] != "websocket.connect":
        return
    ex = _WebSocketExchange(scope, receive, send, asyncio.get_running_loop())
    await proxy.handle(ex)
    if ex.ws is None:
        await ex.refuse()
        return
    await ex.relay()
