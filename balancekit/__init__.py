"""balancekit: HAProxy's load-balancing model as a pure Python library.

Pools, every `balance` algorithm, hashing rings, ACLs, rules, health policies and
an haproxy.cfg parser, with no sockets and no event loop: the front ends in
`balancekit_server` are thin glue over what is here.
"""

from __future__ import annotations

from .algorithms import BalanceSpec, HashSpec, parse_balance, parse_hash_type
from .errors import BalancekitError, ConfigError, NoServerAvailable, QueueFull
from .pool import Backend, Lease
from .request import Headers, Request
from .server import Server

__all__ = [
    "Backend",
    "BalanceSpec",
    "BalancekitError",
    "ConfigError",
    "HashSpec",
    "Headers",
    "Lease",
    "NoServerAvailable",
    "QueueFull",
    "Request",
    "Server",
    "parse_balance",
    "parse_hash_type",
]

__version__ = "0.1.0"
