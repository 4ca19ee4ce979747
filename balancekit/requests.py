"""A `requests` transport adapter that balances requests over a `BalancedPool`.

```python
session = requests.Session()
session.mount("http://api/", balancekit.requests.Adapter(pool))
session.get("http://api/users/1")      # goes to one of the pool's servers
```

The URL's path, query and headers become a `balancekit.Request` (so `uri`,
`url_param` and `hdr(...)` hashing see them), the URL's host is replaced by the
chosen server's address with the original `Host` header kept, a connect failure
is retried by the pool's policy (elsewhere when it redispatches), and the status
feeds the passive checks.  urllib3 keeps one connection pool per server.  The
server's slot is held until the response head has arrived.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import requests.adapters
import urllib3.exceptions
from requests.models import PreparedRequest, Response

from .clients.pool import BalancedPool, ConnectFailure, ResponseFailure
from .request import Request
from .server import Server

__all__ = ["Adapter", "to_request"]


def to_request(request: PreparedRequest, src: str = "") -> Request:
    """The `balancekit.Request` the algorithms read for a prepared request."""
    parts = urlsplit(request.url or "/")
    headers: Mapping[str, str | bytes] = request.headers or {}
    return Request(
        src=src,
        method=request.method or "GET",
        path=parts.path or "/",
        query=parts.query,
        headers=[(k, v if isinstance(v, str) else v.decode("latin-1")) for k, v in headers.items()],
    )


def _connect_failure(exc: requests.exceptions.ConnectionError) -> ConnectFailure | None:
    """A failure to connect (nothing sent), or None for a failure after sending."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return ConnectFailure("timeout", exc)
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        return ConnectFailure("error", exc)
    return None


def _response_failure(exc: requests.exceptions.RequestException) -> ResponseFailure | None:
    """Sent, but no response head: an empty response or a response timeout."""
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return ResponseFailure("timeout", exc)
    if isinstance(exc, requests.exceptions.ConnectionError) and exc.args:
        reason = exc.args[0]
        if isinstance(reason, urllib3.exceptions.ProtocolError):
            return ResponseFailure("empty", exc)
    return None


class Adapter(requests.adapters.HTTPAdapter):
    """Mount it on a prefix; every request under it is balanced over `pool`.
    Other keyword arguments go to `requests.adapters.HTTPAdapter`."""

    def __init__(self, pool: BalancedPool, **kwargs: Any) -> None:
        self.pool = pool
        super().__init__(**kwargs)

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> Response:
        url = request.url or "/"
        parts = urlsplit(url)
        # Aimed at each server in place and restored after the send: a copy of the
        # prepared request (headers, cookies) per call costs more than the pick.
        # The Host header keeps naming the site asked for, as a proxy keeps it.
        added_host = "Host" not in request.headers
        # A prepared URL is `scheme://netloc/rest`: only the netloc changes, so the
        # server's URL is a concatenation (no urlunsplit, which re-quotes nothing here).
        head = f"{parts.scheme}://{parts.netloc}"
        rest = url[len(head) :] if url.startswith(head) else None

        def send(server: Server) -> Response:
            netloc = f"{server.host}:{server.port}" if server.port else server.host
            if rest is not None:
                request.url = f"{parts.scheme}://{netloc}{rest}"
            else:
                request.url = urlunsplit(parts._replace(netloc=netloc))
            if added_host:
                request.headers["Host"] = parts.netloc
            try:
                return super(Adapter, self).send(request, stream, timeout, verify, cert, proxies)
            except requests.exceptions.ConnectionError as exc:
                failure = _connect_failure(exc)
                if failure is not None:
                    raise failure from exc
                response_failure = _response_failure(exc)
                if response_failure is not None:
                    raise response_failure from exc
                raise
            except requests.exceptions.ReadTimeout as exc:
                raise ResponseFailure("timeout", exc) from exc
            finally:
                request.url = url
                if added_host:
                    del request.headers["Host"]

        breq = to_request(request) if self.pool.backend.needs_request else None
        response, lease = self.pool.attempt(
            send,
            breq,
            # HAProxy's rule: the whole body is at hand (not a generator or a file)
            replayable=request.body is None or isinstance(request.body, bytes | str),
            status_of=lambda r: r.status_code,
            discard=lambda r: r.close(),
        )
        self.pool.release(lease, response.status_code)
        response.url = url
        return response
