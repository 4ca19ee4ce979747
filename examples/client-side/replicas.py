"""The app's database: a primary for writes, replicas balanced in-app for reads.

Everything a read-replica setup needs comes from `balancekit.sqlalchemy.ReplicaRouter`:
a thread-safe `BalancedPool` over one engine per replica (roundrobin, leastconn or
any haproxy `balance` word), a lease held for exactly one query (so leastconn sees
real in-flight reads), background MySQL checks with HAProxy's `inter`/`rise`/`fall`,
ejection of a replica a query found unreachable, and the read retried elsewhere.
This module only turns the app's settings into engines.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from balancekit.sqlalchemy import ReplicaRouter


def parse_replicas(spec: str) -> dict[str, str]:
    """`name=host:port,name=host:port` -> {name: host:port}, in the order given."""
    replicas: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, address = item.partition("=")
        if not sep or not address:
            raise ValueError(f"replica '{item}' is not name=host:port")
        replicas[name] = address
    if not replicas:
        raise ValueError("no replicas given")
    return replicas


def _engine(address: str, user: str, password: str, database: str, timeout: int) -> Engine:
    return create_engine(
        f"mysql+pymysql://{user}:{password}@{address}/{database}",
        pool_size=5,
        connect_args={"connect_timeout": timeout},
    )


def make_router(
    primary: str,
    replicas: dict[str, str],
    *,
    balance: str = "roundrobin",
    user: str,
    password: str,
    database: str = "",
    inter: float = 2.0,
    connect_timeout: int = 2,
) -> ReplicaRouter:
    """A router whose replicas are checked every `inter` seconds (`rise 2 fall 2`)."""
    options: dict[str, Any] = {"check": True, "inter": inter, "rise": 2, "fall": 2}
    return ReplicaRouter(
        _engine(primary, user, password, database, connect_timeout),
        {
            name: _engine(address, user, password, database, connect_timeout)
            for name, address in replicas.items()
        },
        balance=balance,
        **options,
    )
