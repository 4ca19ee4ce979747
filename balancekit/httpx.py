"""httpx transports that balance requests over a `BalancedPool`.

```python
pool = BalancedPool(balancekit.Backend("api", servers, balance="uri"))
client = httpx.Client(transport=balancekit.httpx.Transport(pool), base_url="http://api")
```

Each request becomes a `balancekit.Request` (method, path, query, headers, so
`uri`, `url_param` and `hdr(...)` hashing see it); the pool picks a server, the
request goes to that server's own `httpx.HTTPTransport` (one connection pool per
server) with its Host header unchanged, a connect failure is retried by the
pool's policy (elsewhere when it redispatches), and the response status feeds
the passive checks.  The server's slot is held until the response is closed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx

from .clients.pool import AsyncBalancedPool, BalancedPool, ConnectFailure, ResponseFailure
from .pool import Lease
from .request import Request
from .server import Server

__all__ = ["AsyncTransport", "Transport", "to_request"]

_CONNECT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout)


def to_request(request: httpx.Request, src: str = "") -> Request:
    """The `balancekit.Request` the algorithms read for an httpx request."""
    url = request.url
    return Request(
        src=src,
        method=request.method,
        path=url.path or "/",
        query=url.query.decode("ascii", "replace"),
        headers=list(request.headers.multi_items()),
    )


def _server_url(url: httpx.URL, server: Server) -> httpx.URL:
    """`url` pointed at `server`.  `URL.copy_with` re-parses and re-validates the
    whole URL (about 16 µs, most of the balancing overhead on a keep-alive GET);
    the parsed components only need their host and port replaced (under 1 µs).
    That reaches into httpx's parsed form, so any other shape takes `copy_with`."""
    reference = getattr(url, "_uri_reference", None)
    replace = getattr(reference, "_replace", None)
    if replace is None:
        return url.copy_with(host=server.host, port=server.port)
    moved = httpx.URL.__new__(httpx.URL)
    moved._uri_reference = replace(host=server.host, port=server.port)
    return moved


def _aimed(request: httpx.Request, server: Server) -> httpx.URL:
    """Point `request` at `server` for one send and return the URL to restore after
    it.  Building a new `httpx.Request` re-normalises every header (several µs);
    the transport reads only the URL, which is all that differs (the Host header
    still names the site asked for, as a proxy keeps it)."""
    original = request.url
    request.url = _server_url(original, server)
    return original


def _response_failure(exc: Exception) -> ResponseFailure | None:
    """Sent, but no response head: HAProxy's empty/junk response and response timeout."""
    if isinstance(exc, httpx.ReadTimeout):
        return ResponseFailure("timeout", exc)
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return ResponseFailure("empty", exc)
    if isinstance(exc, httpx.RemoteProtocolError):
        if "without sending" in str(exc):
            return ResponseFailure("empty", exc)
        return ResponseFailure("junk", exc)
    return None


def _replayable(request: httpx.Request) -> bool:
    """HAProxy's rule: the whole request body is at hand (not a streamed upload)."""
    return isinstance(request.stream, httpx.ByteStream)


def _failure(exc: Exception) -> ConnectFailure:
    if isinstance(exc, httpx.ConnectTimeout):
        return ConnectFailure("timeout", exc)
    return ConnectFailure("error", exc)


class _ReleasingStream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, done: Callable[[], None]) -> None:
        self._inner = inner
        self._done: Callable[[], None] | None = done

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._inner)  # the inner iterator itself: no generator frame per chunk

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            if self._done is not None:
                done, self._done = self._done, None
                done()


class _AsyncReleasingStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, done: Callable[[], None]) -> None:
        self._inner = inner
        self._done: Callable[[], None] | None = done

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._inner.__aiter__()

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            if self._done is not None:
                done, self._done = self._done, None
                done()


class Transport(httpx.BaseTransport):
    """A sync transport over `pool`; `transport_kwargs` go to each server's
    `httpx.HTTPTransport` (limits, http2, verify…)."""

    def __init__(self, pool: BalancedPool, **transport_kwargs: Any) -> None:
        self.pool = pool
        self._kwargs = transport_kwargs
        self._transports: dict[str, httpx.HTTPTransport] = {}

    def _transport(self, server: Server) -> httpx.HTTPTransport:
        transport = self._transports.get(server.name)
        if transport is None:
            transport = self._transports.setdefault(
                server.name, httpx.HTTPTransport(**self._kwargs)
            )
        return transport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        def send(server: Server) -> httpx.Response:
            original = _aimed(request, server)
            try:
                return self._transport(server).handle_request(request)
            except _CONNECT_ERRORS as exc:
                raise _failure(exc) from exc
            except httpx.TransportError as exc:
                failure = _response_failure(exc)
                if failure is None:
                    raise
                raise failure from exc
            finally:
                request.url = original

        breq = to_request(request) if self.pool.backend.needs_request else None
        response, lease = self.pool.attempt(
            send,
            breq,
            replayable=_replayable(request),
            status_of=lambda r: r.status_code,
            discard=lambda r: r.close(),
        )
        return _wrap(
            response,
            lambda: self.pool.release(lease, response.status_code),
            lease,
            asynchronous=False,
        )

    def close(self) -> None:
        for transport in self._transports.values():
            transport.close()
        self._transports.clear()


class AsyncTransport(httpx.AsyncBaseTransport):
    """The asyncio transport over an `AsyncBalancedPool`."""

    def __init__(self, pool: AsyncBalancedPool, **transport_kwargs: Any) -> None:
        self.pool = pool
        self._kwargs = transport_kwargs
        self._transports: dict[str, httpx.AsyncHTTPTransport] = {}

    def _transport(self, server: Server) -> httpx.AsyncHTTPTransport:
        transport = self._transports.get(server.name)
        if transport is None:
            transport = self._transports.setdefault(
                server.name, httpx.AsyncHTTPTransport(**self._kwargs)
            )
        return transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        async def send(server: Server) -> httpx.Response:
            original = _aimed(request, server)
            try:
                return await self._transport(server).handle_async_request(request)
            except _CONNECT_ERRORS as exc:
                raise _failure(exc) from exc
            except httpx.TransportError as exc:
                failure = _response_failure(exc)
                if failure is None:
                    raise
                raise failure from exc
            finally:
                request.url = original

        async def discard(response: httpx.Response) -> None:
            await response.aclose()

        breq = to_request(request) if self.pool.backend.needs_request else None
        response, lease = await self.pool.attempt(
            send,
            breq,
            replayable=_replayable(request),
            status_of=lambda r: r.status_code,
            discard=discard,
        )
        return _wrap(
            response,
            lambda: self.pool.release(lease, response.status_code),
            lease,
            asynchronous=True,
        )

    async def aclose(self) -> None:
        for transport in self._transports.values():
            await transport.aclose()
        self._transports.clear()


def _wrap(
    response: httpx.Response, done: Callable[[], None], lease: Lease, *, asynchronous: bool
) -> httpx.Response:
    # By the transport's kind, not the stream's: `httpx.ByteStream` (a body given
    # whole, as mock transports return) is both a sync and an async stream.
    stream = response.stream
    wrapped: httpx.SyncByteStream | httpx.AsyncByteStream
    if asynchronous:
        assert isinstance(stream, httpx.AsyncByteStream)
        wrapped = _AsyncReleasingStream(stream, done)
    else:
        assert isinstance(stream, httpx.SyncByteStream)
        wrapped = _ReleasingStream(stream, done)
    # The transport's own response, its stream wrapped: a new `httpx.Response`
    # would re-normalise the headers for nothing.
    response.stream = wrapped
    response.extensions["balancekit.server"] = lease.server.name if lease.server else ""
    return response
