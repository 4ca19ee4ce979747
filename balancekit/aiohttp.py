"""An aiohttp client session that balances requests over an `AsyncBalancedPool`.

```python
async with AsyncBalancedPool(backend) as pool, balancekit.aiohttp.Session(pool) as session:
    async with await session.get("/users/1") as response:
        print(await response.text())
```

`Session.request(method, path, **kwargs)` builds a `balancekit.Request` from
the path, query and headers, sends the request to the server the pool picks
through one shared `aiohttp.ClientSession` (whose connector keeps a keep-alive
pool per server), with `host` as the Host header; a connect failure is retried
by the pool's policy, the status feeds the passive checks.  The slot is held
until the response head has arrived.  aiohttp is imported when a `Session` is
made, so importing this module costs nothing.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .clients.pool import AsyncBalancedPool, ConnectFailure
from .request import Request
from .server import Server

if TYPE_CHECKING:
    import aiohttp

__all__ = ["Session"]


class Session:
    """Requests to `path`s on the pool's servers; `host` is the Host header sent
    (default: the backend's name); other keyword arguments go to
    `aiohttp.ClientSession`."""

    def __init__(self, pool: AsyncBalancedPool, *, host: str | None = None, **kwargs: Any) -> None:
        import aiohttp

        self.pool = pool
        self.host = host or pool.backend.name
        self.session = aiohttp.ClientSession(**kwargs)

    async def request(self, method: str, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        import aiohttp

        parts = urlsplit(path)
        headers = dict(kwargs.pop("headers", None) or {})
        headers.setdefault("Host", self.host)
        breq = None
        if self.pool.backend.needs_request:
            breq = Request(
                method=method,
                path=parts.path or "/",
                query=parts.query,
                headers=list(headers.items()),
            )

        async def send(server: Server) -> aiohttp.ClientResponse:
            url = f"http://{server.host}:{server.port}{path}"
            try:
                return await self.session.request(method, url, headers=headers, **kwargs)
            except aiohttp.ClientConnectorError as exc:
                raise ConnectFailure("error", exc) from exc
            except TimeoutError as exc:
                raise ConnectFailure("timeout", exc) from exc

        response, lease = await self.pool.attempt(send, breq)
        self.pool.release(lease, response.status)
        return response

    async def get(self, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        return await self.request("POST", path, **kwargs)

    async def close(self) -> None:
        await self.session.close()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
