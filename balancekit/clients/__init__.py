"""Client-side balancing: a pool with HAProxy's runtime (checks, queue, retries)
for in-process clients.  The httpx, requests and SQLAlchemy integrations live in
`balancekit.httpx`, `balancekit.requests` and `balancekit.sqlalchemy`."""

from __future__ import annotations

from .pool import (
    AsyncBalancedPool,
    BalancedPool,
    ConnectFailure,
    Outcome,
    QueueTimeoutError,
    ResponseFailure,
)

__all__ = [
    "AsyncBalancedPool",
    "BalancedPool",
    "ConnectFailure",
    "Outcome",
    "QueueTimeoutError",
    "ResponseFailure",
]
