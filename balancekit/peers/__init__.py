"""HAProxy's peers protocol: stick tables kept in sync across processes and hosts.

A fleet of balancekit processes, or balancekit and HAProxy 2.6 side by side,
list each other in a `peers` section and name it in their `stick-table … peers`
lines; each local change to a table then reaches every peer, and a process that
starts learns the whole table from one of them.

Modules: `wire` (the messages as bytes), `tables` (a stick table's definition
and entries as messages), `session` (the sync rules, sans I/O).  The server's
sockets and timers are in `balancekit_server.ops.peers`.
"""

from __future__ import annotations

from .session import PeerSession, PeersState
from .tables import SharedTable
from .wire import Hello, Message, MessageReader, ProtocolError, hello, parse_hello

__all__ = [
    "Hello",
    "Message",
    "MessageReader",
    "PeerSession",
    "PeersState",
    "ProtocolError",
    "SharedTable",
    "hello",
    "parse_hello",
]
