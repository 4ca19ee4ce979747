"""An ASGI `http` scope as an `Exchange` of the shared `HttpProxy`.

Upstream callbacks are synchronous while ASGI `send` is a coroutine, so response
events are queued and pumped by the request's coroutine, with backpressure: once
more than `_HIGH_WATER` bytes wait for the client, the upstream connection stops
being read until the queue drains.  `ProxyApp` (asgi.py) serves `http` scopes
with it and the WebSocket relay (asgi_ws.py) builds on it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from balancekit_server.http.errors import ErrorPage
from balancekit_server.http.headers import RawHeaders
from balancekit_server.http.proxy import Exchange, HttpProxy, Relay, logged_head_size
from balancekit_server.http.upstream import MAX_HEADER_LINES, UpstreamConnection

__all__ = ["AsgiExchange", "Message", "Receive", "Scope", "Send"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_HIGH_WATER = 512 * 1024
_LOW_WATER = 64 * 1024


class AsgiExchange(Exchange):
    def __init__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        loop: Any,
        max_header_lines: int = MAX_HEADER_LINES,
    ) -> None:
        self._receive = receive
        self._send = send
        self._loop = loop
        self._events: deque[Message] = deque()
        self._queued = 0
        self._wakeup: asyncio.Future[None] | None = None
        self._producer: UpstreamConnection | None = None
        self._paused = False
        self._body_done = False
        # Set by `serve`: the proxy's callback path runs the request and `serve`
        # sends the events; `wait_response` then only waits.
        self._pumped_by_serve = False
        self._done = False
        self.aborted = False
        self._lost_cb: Callable[[], None] | None = None
        self.headers = [(bytes(n), bytes(v)) for n, v in scope.get("headers", ())]
        self.method = scope.get("method", "GET").encode("latin-1")
        raw_path = scope.get("raw_path") or scope.get("path", "/").encode("utf-8")
        query = scope.get("query_string", b"")
        self.target = raw_path + (b"?" + query if query else b"")
        self.version = scope.get("http_version", "1.1").encode("latin-1")
        client = scope.get("client") or ("", 0)
        server = scope.get("server") or ("", 0)
        self.src, self.src_port = str(client[0]), int(client[1] or 0)
        self.dst, self.dst_port = str(server[0]), int(server[1] or 0)
        self.ssl = scope.get("scheme") in ("https", "wss")
        self.sni = ""
        self.read_framing()
        if len(self.headers) > max_header_lines:
            self._refuse(400)  # HAProxy's tune.http.maxhdr
        if self.version == b"0.9":
            # A request line without a version: HAProxy answers 400 (some servers'
            # parsers pass it on as HTTP/0.9).
            self._refuse(400)
        self.upgrade = False  # WebSocket arrives as its own ASGI scope type
        self.client_keep_alive = True
        self.keep_alive = True
        self.t_start = self.t_head = loop.time()
        self.request_date = time.time()
        if not self.has_body:
            self._body_done = True

    # -- request body --------------------------------------------------------------------

    async def read_body(self) -> bytes:
        while not self._body_done:
            message = await self._receive()
            kind = message.get("type")
            if kind == "http.disconnect":
                raise ConnectionResetError("client went away")
            body = bytes(message.get("body", b""))
            self.bytes_in += len(body)
            if not message.get("more_body", False):
                self._body_done = True
            if body:
                return body
        return b""

    # -- response events ---------------------------------------------------------------------

    def _push(self, message: Message, size: int = 0) -> None:
        self._events.append(message)
        self._queued += size
        if self._queued > _HIGH_WATER and self._producer is not None and not self._paused:
            self._paused = True
            self._producer.pause_reading()
        waiter = self._wakeup
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def send_page(self, page: ErrorPage) -> None:
        if not page.raw:
            self.aborted = True
            return
        size = logged_head_size(page.raw, with_connection=page.own_connection)
        self.bytes_out += size + len(page.body)
        self._push(
            {"type": "http.response.start", "status": page.status, "headers": list(page.headers)}
        )
        self._push({"type": "http.response.body", "body": page.body})

    def send_interim(self, status: int, reason: bytes, headers: RawHeaders) -> None:
        """ASGI has no interim responses; the ASGI server answers 100-continue itself."""

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
        if framed:  # the ASGI server frames the body itself
            headers = [(n, v) for n, v in headers if n != b"transfer-encoding"]
        if body and length is not None:
            headers = [*headers, (b"content-length", b"%d" % length)]
        # %B counts the head too (HAProxy's HTX size: see `logged_head_size`).
        # Start line: a 20-byte record + version (8) + code (3) + reason; end of head: 1.
        self.bytes_out += 32 + len(reason) + sum(len(n) + len(v) for n, v in headers)
        self._push({"type": "http.response.start", "status": status, "headers": headers})

    def write_body(self, data: bytes) -> None:
        self.bytes_out += len(data)
        self._push({"type": "http.response.body", "body": data, "more_body": True}, len(data))

    def end_response(self) -> None:
        self._push({"type": "http.response.body", "body": b""})

    def abort(self) -> None:
        self.aborted = True
        self.keep_alive = False

    def set_producer(self, conn: UpstreamConnection | None) -> None:
        self._producer = conn
        self._paused = False

    def on_client_lost(self, callback: Callable[[], None] | None) -> None:
        self._lost_cb = callback

    async def serve(self, proxy: HttpProxy) -> None:
        """Run the request through `proxy.begin` (no task, no stream policy when an
        idle server connection is free, as the server's own front door does) and
        send its response events to the ASGI server as they come."""
        self._pumped_by_serve = True
        proxy.begin(self, self._finished)
        while True:
            await self.pump()
            if self._done and not self._events:
                return
            waiter: asyncio.Future[None] = self._loop.create_future()
            self._wakeup = waiter
            await waiter
            self._wakeup = None

    def _finished(self) -> None:
        self._done = True
        waiter = self._wakeup
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait_response(self, relay: Relay) -> None:
        if self._pumped_by_serve:
            await relay.future  # `serve` sends; an upstream error is raised here
            return
        future = relay.future
        while True:
            await self.pump()
            if future.done():
                if self._events:
                    continue
                future.result()  # raises the upstream error, if any
                return
            waiter: asyncio.Future[None] = self._loop.create_future()
            self._wakeup = waiter
            future.add_done_callback(_waker(waiter))
            await waiter
            self._wakeup = None

    async def pump(self) -> None:
        while self._events:
            message = self._events.popleft()
            size = len(message.get("body", b"")) if message.get("more_body") else 0
            try:
                await self._send(message)
            except OSError:
                self._events.clear()
                if self._lost_cb is not None:
                    self._lost_cb()
                raise ConnectionResetError("client went away") from None
            self._queued -= size
            if self._paused and self._queued < _LOW_WATER and self._producer is not None:
                self._paused = False
                self._producer.resume_reading()


def _waker(waiter: asyncio.Future[None]) -> Callable[[object], None]:
    def wake(_: object) -> None:
        if not waiter.done():
            waiter.set_result(None)

    return wake
