"""Server persistence through a stick table: `stick on|match|store-request|store-response`.

A backend's `stick match <key>` looks the request's key up and, when the entry
names a server that can take it, sends the request there "direct" (as a cookie
does); `stick store-request <key>` remembers, once the server has answered,
which server took that key; `stick on` is both; `stick store-response <key>`
reads its key from the answer (`res.cook(SID)`: the session the server made).
HAProxy's stream.c (process_sticking_rules, sticking_rule_find_target,
process_store_rules) is the model: the first store rule per table wins, a
cookie's server wins over a table's, and a down server is not followed unless
`option persist` or `force-persist` says so.  Sans-IO: the engines give the request view, the
backend and the time, then tell which server answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .acl.conditions import Condition
from .acl.fetches import SampleExpr
from .pool import Backend
from .request import HeaderInput, Request, ResponseView
from .sticktables import Entry, KeyInput, StickTable
from .tracking import table_key

__all__ = ["StickJob", "StickRule"]

StickKind = Literal["on", "match", "store-request", "store-response"]


@dataclass(frozen=True, slots=True)
class StickRule:
    """One `stick on|match|store-request|store-response <sample> [table T] [if|unless …]`
    line."""

    kind: StickKind
    sample: SampleExpr
    table: StickTable
    cond: Condition | None = None
    file: str = "<string>"
    line: int = 0

    @property
    def matches(self) -> bool:
        return self.kind in ("on", "match")

    @property
    def stores(self) -> bool:
        return self.kind in ("on", "store-request")

    def key(self, view: Request) -> KeyInput | None:
        """The table key this rule reads from `view`, None when its condition does
        not hold or the sample has no value."""
        if self.cond is not None and not self.cond.matches(view):
            return None
        return table_key(self.sample.single(view))


#: How many keys one stream stores at most, request and response rules together
#: (HAProxy's `store[8]` in struct stream): later ones are dropped.
MAX_STORES = 8


def _no_room(table: StickTable) -> bool:
    """HAProxy allocates the entry to store before it knows the key (stksess_new): a
    full `nopurge` table stores nothing more, not even for a key it holds ("stick on
    dst" failover keeps the first)."""
    return table.nopurge and table.used >= table.size


class StickJob:
    """One request's sticking rules: the server a table names (`server`, None to
    balance), and the keys to store with the server that answers."""

    __slots__ = ("_request", "_response_rules", "_stores", "server")

    def __init__(
        self,
        rules: Sequence[StickRule],
        request: Request,
        backend: Backend,
        now_ms: int,
        *,
        persist: bool = False,
        assigned: bool = False,
    ) -> None:
        #: The server a `stick match` sends the request to (None: balance as usual).
        self.server: str | None = None
        self._stores: list[tuple[StickTable, KeyInput]] = []
        self._request = request
        self._response_rules = [rule for rule in rules if rule.kind == "store-response"]
        for rule in rules:
            if rule.kind == "store-response":
                continue
            if rule.stores and any(table is rule.table for table, _ in self._stores):
                continue  # only the first store rule of each table applies
            key = rule.key(request)
            if key is None:
                continue
            if rule.matches:
                entry = rule.table.lookup(key, now_ms)
                if entry is not None:
                    if self.server is None and not assigned:
                        self.server = _target(rule.table, entry, backend, now_ms, persist)
                    rule.table.touch(entry, now_ms)
            if rule.stores and not _no_room(rule.table) and len(self._stores) < MAX_STORES:
                self._stores.append((rule.table, key))

    def __repr__(self) -> str:
        return f"<StickJob server={self.server!r} stores={len(self._stores)}>"

    @property
    def reads_response(self) -> bool:
        """Whether `store` wants the response head (`stick store-response`)."""
        return bool(self._response_rules)

    def store(
        self,
        backend: Backend,
        server: str,
        now_ms: int,
        status: int = 0,
        headers: HeaderInput = (),
        *,
        payload: bytes | None = None,
    ) -> None:
        """The server that answered: every store rule's key now names it (its id,
        and its name as the server key).  `status` and `headers` are the answer's
        (mode http), `payload` the server's first bytes (mode tcp), for the
        `store-response` rules (the first that applies per table)."""
        stores = self._stores
        if self._response_rules and len(stores) < MAX_STORES:
            view = ResponseView(self._request, status, headers, payload=payload)
            found = self._response_keys(view)
            stores = [*stores, *found[: MAX_STORES - len(stores)]]
        puid = backend.member(server).puid
        for table, key in stores:
            entry = table.get_or_create(key, now_ms)
            if entry is not None:
                table.store_server(entry, puid, server, now_ms)
        self._stores = []
        self._response_rules = []

    def _response_keys(self, view: ResponseView) -> list[tuple[StickTable, KeyInput]]:
        """HAProxy's process_store_rules: the store-response rules on the answer."""
        found: list[tuple[StickTable, KeyInput]] = []
        for rule in self._response_rules:
            table = rule.table
            if any(seen is table for seen, _ in found):
                continue
            key = rule.key(view)
            if key is not None and not _no_room(table):
                found.append((table, key))
        return found


def _target(
    table: StickTable, entry: Entry, backend: Backend, now_ms: int, persist: bool
) -> str | None:
    """The server an entry names, by server key (its name) else by id, when it can
    take the request: not down or in maintenance, unless persisting anyway."""
    name = table.server_key(entry)
    member = None
    if name is not None:
        member = next((m for m in backend.members if m.name == name), None)
    if member is None:
        puid = table.read(entry, "server_id", now_ms)
        member = next((m for m in backend.members if m.puid == puid), None)
    if member is None:
        return None
    if persist or (member.up and member.admin != "maint"):
        return member.name
    return None
