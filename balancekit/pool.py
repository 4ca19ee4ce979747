"""`Backend`: a pool of servers, one balance algorithm, and the runtime state HAProxy keeps.

The pool is synchronous and does no I/O.  Front ends ask it for a `Lease`; when
every eligible server is at `maxconn` the lease comes back queued and the front
end waits on it (with whatever timeout it likes), then calls `release` or
`cancel`.  Queue order is FIFO across a server's own queue and the backend's,
as HAProxy's pendconn processing is.
"""

from __future__ import annotations

import contextlib
import itertools
import random as _random
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Literal

from .algorithms import (
    Algorithm,
    BalanceSpec,
    HashSpec,
    LBOptions,
    Member,
    algorithm_class,
    parse_balance,
    parse_hash_type,
)
from .algorithms.base import ADMIN_STATES
from .errors import NoServerAvailable, QueueFull
from .request import Request
from .server import MAX_WEIGHT, Server

__all__ = ["Backend", "Lease", "ServerEvent"]

#: What `Backend.watch_servers` callbacks hear: a server was added or removed,
#: moved to a new address, or its streams are to be shut down: by the operator
#: ("shutdown"), because it stopped ("marked-down", `on-marked-down
#: shutdown-sessions`), or because an active server came back ("marked-up", said
#: of each backup server, `on-marked-up shutdown-backup-sessions`).  HAProxy logs
#: the three with their own termination letter (K, D, U).
ServerEvent = Literal["added", "moved", "removed", "shutdown", "marked-down", "marked-up"]

_EMPTY_REQUEST = Request()


class Lease:
    """A request's claim on a server slot: granted now, or waiting in a queue.

    `on_granted` is called (synchronously, from `release` or a state change) when
    a queued lease gets its server; front ends use it to wake a future.
    """

    __slots__ = ("_member", "_queue", "backend", "granted", "on_granted", "request", "seq")

    def __init__(
        self,
        backend: Backend,
        request: Request,
        seq: int,
        on_granted: Callable[[Lease], None] | None,
    ) -> None:
        self.backend = backend
        self.request = request
        self.seq = seq
        self.on_granted = on_granted
        self.granted = False
        self._member: Member | None = None
        self._queue: deque[Lease] | None = None

    @property
    def server(self) -> Server | None:
        """The granted server, or None while queued or after cancel."""
        return self._member.server if self.granted and self._member is not None else None

    @property
    def queued(self) -> bool:
        return self._queue is not None

    @property
    def queue_server(self) -> str | None:
        """The server whose own queue this lease waits in (a `maxconn` server that a
        hash or persistence chose), or None: granted, or in the backend's queue."""
        if self._queue is None or self._member is None:
            return None
        return self._member.name

    def __repr__(self) -> str:
        state = (
            f"granted {self._member.name}"
            if self.granted and self._member
            else "queued"
            if self.queued
            else "done"
        )
        return f"<Lease #{self.seq} {self.backend.name} {state}>"


class Backend:
    """A `backend` section: servers, one `balance` algorithm and their runtime state.

    `balance` and `hash_type` take haproxy.cfg's own words.  `rng` feeds
    `balance random`; pass a seeded `random.Random` for reproducible picks.
    `mode="tcp"` tells the layer-7 hashes (uri, url_param, hdr) that there is no
    HTTP request to read: like HAProxy, they then fall back to round robin.
    """

    def __init__(
        self,
        name: str,
        servers: Iterable[Server],
        balance: str | BalanceSpec | None = None,
        hash_type: str | HashSpec | None = None,
        *,
        allbackups: bool = False,
        hash_balance_factor: int = 0,
        rng: _random.Random | None = None,
        mode: str = "http",
    ) -> None:
        self.name = name
        self.balance = balance if isinstance(balance, BalanceSpec) else parse_balance(balance)
        self.hash_type = (
            hash_type if isinstance(hash_type, HashSpec) else parse_hash_type(hash_type)
        )
        if hash_balance_factor and hash_balance_factor <= 100:
            raise ValueError(
                f"hash-balance-factor {hash_balance_factor} must be 0 (off) or greater than 100"
            )
        if mode not in ("http", "tcp"):
            raise ValueError(f"mode '{mode}' is not 'http' or 'tcp'")
        self.mode = mode
        self.options = LBOptions(
            allbackups=allbackups, hash_balance_factor=hash_balance_factor, http=mode == "http"
        )
        self.rng = rng or _random.Random()
        self._members: list[Member] = []
        self._by_name: dict[str, Member] = {}
        server_list = list(servers)
        # cfgparse.c: explicit ids are reserved first; the others take the first free
        # id >= a counter that advances past every server, numbered or not.
        used_ids: set[int] = set()
        for server in server_list:
            if server.id is not None:
                if server.id in used_ids:
                    raise ValueError(f"backend '{name}': server id {server.id} used twice")
                used_ids.add(server.id)
        next_id = 1
        for index, server in enumerate(server_list):
            if server.name in self._by_name:
                raise ValueError(f"backend '{name}': duplicate server name '{server.name}'")
            if server.id is not None:
                puid = server.id
            else:
                while next_id in used_ids:
                    next_id += 1
                puid = next_id
                used_ids.add(puid)
            next_id += 1
            member = Member(server, index, puid)
            self._members.append(member)
            self._by_name[server.name] = member
        self._queue: deque[Lease] = deque()
        self._seq = itertools.count(1)
        self._server_watchers: list[Callable[[ServerEvent, str], None]] = []
        self._build_algorithm()

    def _build_algorithm(self) -> None:
        """(Re)make the algorithm over the current members: at construction, and
        when a server is added or removed at run time (its arrays are per member)."""
        self.algorithm: Algorithm = algorithm_class(self.balance.algorithm)(
            self._members, self.balance, self.hash_type, self.options
        )
        self.algorithm.rng = self.rng
        #: False when the algorithm never reads the request (round robin, leastconn,
        #: first, random…): a front end may then skip building one for `acquire`.
        self.needs_request: bool = self.algorithm.reads_request
        # Every lease passes `take` and `drop`, hooks most algorithms leave empty.
        kind = type(self.algorithm)
        self._hooks_leases = kind.take is not Algorithm.take or kind.drop is not Algorithm.drop
        for member in self._members:
            member.eweight = self._eweight(member)
        self.algorithm.rebuild()

    # -- introspection ---------------------------------------------------------------

    @property
    def active_servers(self) -> int:
        """Usable non-backup servers: HAProxy's `srv_act`, which the retry policy
        weighs before redispatching (`balancekit.stream`)."""
        return sum(1 for m in self._members if m.usable and not m.server.backup)

    @property
    def servers(self) -> list[Server]:
        return [m.server for m in self._members]

    @property
    def members(self) -> Sequence[Member]:
        """Runtime records, in declaration order (read-only use)."""
        return self._members

    def member(self, name: str) -> Member:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"backend '{self.name}' has no server '{name}'") from None

    def state(self, name: str) -> str:
        """`UP`, `DOWN`, `NOLB`, `DRAIN` or `MAINT`, as `show stat` prints it."""
        return self.member(name).status

    @property
    def queued(self) -> int:
        """Requests waiting, in the backend queue and every server's queue."""
        return len(self._queue) + sum(len(m.queue) for m in self._members)

    @property
    def usable_servers(self) -> int:
        """HAProxy's be_usable_srv (the `nbsrv` fetch): the active servers that take
        new traffic, else 1 when a backup would (the first one serves), or every
        usable backup with `option allbackups`."""
        active = backups = 0
        for member in self._members:
            if member.usable:
                if member.backup:
                    backups += 1
                else:
                    active += 1
        if active or not backups:
            return active
        return backups if self.options.allbackups else 1

    @property
    def usable(self) -> bool:
        return any(m.usable for m in self._members)

    def __repr__(self) -> str:
        inflight = sum(m.inflight for m in self._members)
        up = sum(1 for m in self._members if m.usable)
        return (
            f"<Backend {self.name} balance={self.balance.algorithm} "
            f"[Servers: {up}/{len(self._members)} usable | Requests: {inflight} active, "
            f"{self.queued} queued]>"
        )

    # -- picking ---------------------------------------------------------------------

    def pick(self, request: Request | None = None, *, avoid: str | None = None) -> Server:
        """Choose a server for `request` without taking a connection slot.

        This is the client-side balancing entry point: call it, talk to the server.
        Use `acquire`/`release` instead when in-flight counts or maxconn matter.
        `avoid` names a server to step over if another one is usable (a retry).
        """
        member = self.algorithm.pick(
            request or _EMPTY_REQUEST, self._by_name.get(avoid) if avoid else None
        )
        if member is None:
            if self.usable:
                raise NoServerAvailable(self.name, "every usable server is at maxconn")
            raise NoServerAvailable(self.name)
        member.lbtot += 1
        self.algorithm.touch(member)
        return member.server

    # -- leases ----------------------------------------------------------------------

    def acquire(
        self,
        request: Request | None = None,
        *,
        avoid: str | None = None,
        on_granted: Callable[[Lease], None] | None = None,
        server: str | None = None,
    ) -> Lease:
        """Take a slot on a server for `request`, or queue for one.

        Raises `NoServerAvailable` when no server is usable and `QueueFull` when
        the chosen server's `maxqueue` is reached.  A returned lease is either
        `granted` (use `lease.server`) or queued (wait for `on_granted`).
        `server` names the server persistence chose (a cookie): the algorithm is
        not asked, and a full server queues the request on itself, as HAProxy
        does for a "direct" stream.
        """
        req = request or _EMPTY_REQUEST
        lease = Lease(self, req, next(self._seq), on_granted)
        if server is not None:
            return self._direct(lease, self._by_name[server])
        if (
            self._queue
            and self.algorithm.fifo_backend_queue
            and any(m.inflight for m in self._members)
            and self.usable
        ):
            # backend.c assign_server: with first/roundrobin/static-rr a backend queue
            # while requests are in flight means every server is full; wait behind it.
            self._enqueue(lease, self._queue)
            return lease
        member = self.algorithm.pick(req, self._by_name.get(avoid) if avoid else None)
        if member is None:
            if not self.usable:
                raise NoServerAvailable(self.name)
            # Every usable server is full: wait in the backend's queue.
            self._enqueue(lease, self._queue)
            return lease
        if member.server.maxconn and member.full():
            maxqueue = member.server.maxqueue
            if maxqueue and len(member.queue) >= maxqueue:
                raise QueueFull(self.name)
            member.lbtot += 1
            lease._member = member
            self._enqueue(lease, member.queue)
            return lease
        member.lbtot += 1
        # `_grant`, inline: every request comes through here
        lease._member = member
        lease.granted = True
        member.inflight += 1
        if self._hooks_leases:
            self.algorithm.take(member)
        return lease

    def _direct(self, lease: Lease, member: Member) -> Lease:
        if member.server.maxconn and member.full():
            maxqueue = member.server.maxqueue
            if maxqueue and len(member.queue) >= maxqueue:
                raise QueueFull(self.name)
            lease._member = member
            self._enqueue(lease, member.queue)
            return lease
        self._grant(lease, member)
        return lease

    def release(self, lease: Lease) -> list[Lease]:
        """The request is done with its server.  Returns the leases this woke up."""
        if not lease.granted:
            self.cancel(lease)
            return []
        member = lease._member
        assert member is not None
        lease.granted = False
        member.inflight -= 1
        if self._hooks_leases:
            self.algorithm.drop(member)
        if not member.queue and not self._queue:
            return []  # nobody waits: the common case, kept off `_serve_queues`
        return self._serve_queues(member)

    def cancel(self, lease: Lease) -> None:
        """Give up a queued lease (timeout queue, client gone); releases a granted one."""
        if lease.granted:
            self.release(lease)
            return
        if lease._queue is not None:
            with contextlib.suppress(ValueError):
                lease._queue.remove(lease)
            lease._queue = None

    def _enqueue(self, lease: Lease, queue: deque[Lease]) -> None:
        lease._queue = queue
        queue.append(lease)

    def _grant(self, lease: Lease, member: Member) -> None:
        lease._member = member
        lease._queue = None
        lease.granted = True
        member.inflight += 1
        if self._hooks_leases:
            self.algorithm.take(member)

    def _serve_queues(self, member: Member) -> list[Lease]:
        """Hand free slots on `member` to the oldest waiters (its queue or the backend's)."""
        woken: list[Lease] = []
        maxconn = member.server.maxconn
        while member.usable and (not maxconn or member.inflight < maxconn):
            own = member.queue[0] if member.queue else None
            shared = self._queue[0] if self._queue else None
            if own is None and shared is None:
                break
            chosen: Lease
            if own is not None and (shared is None or own.seq < shared.seq):
                chosen = member.queue.popleft()
            else:
                chosen = self._queue.popleft()
                member.lbtot += 1
            self._grant(chosen, member)
            woken.append(chosen)
        for lease in woken:
            if lease.on_granted is not None:
                lease.on_granted(lease)
        return woken

    def _redistribute(self, member: Member) -> list[Lease]:
        """A server stopped being usable: its waiters go back to the backend queue, in
        arrival order, then every usable server takes what it can."""
        if member.queue:
            merged = sorted([*self._queue, *member.queue], key=lambda lease: lease.seq)
            member.queue.clear()
            self._queue.clear()
            for lease in merged:
                self._enqueue(lease, self._queue)
        return self._serve_all()

    def _serve_all(self) -> list[Lease]:
        woken: list[Lease] = []
        for member in self._members:
            if member.usable:
                woken.extend(self._serve_queues(member))
        return woken

    # -- runtime changes ---------------------------------------------------------------

    def _eweight(self, member: Member) -> int:
        """server_recalc_eweight: uweight scaled by the algorithm's wdiv/wmult; during a
        slow start (dynamic algorithms only) the scale grows in whole steps from 1."""
        scale = self.algorithm.weight_scale
        divisor = self.algorithm.weight_divisor
        if member.ramp < 1.0 and self.algorithm.dynamic:
            scale = min(scale, int(scale * member.ramp) + 1)
        return (member.uweight * scale + divisor - 1) // divisor

    def _changed(self, member: Member) -> list[Lease]:
        member.eweight = self._eweight(member)
        self.algorithm.update(member)
        if member.usable:
            return self._serve_all()
        return self._redistribute(member)

    def set_state(self, name: str, state: Literal["ready", "drain", "maint"] | str) -> list[Lease]:
        """`set server B/S state ready|drain|maint`."""
        state = state.lower()
        if state not in ADMIN_STATES:
            raise ValueError(f"state '{state}' is not one of {', '.join(ADMIN_STATES)}")
        member = self.member(name)
        was_running = _running(member)
        member.admin = state
        leases = self._changed(member)
        self._on_marked(member, was_running)
        return leases

    def set_health(self, name: str, up: bool) -> list[Lease]:
        """The operational state health checks drive (`set server B/S health up|down`)."""
        member = self.member(name)
        was_running = _running(member)
        member.up = up
        leases = self._changed(member)
        self._on_marked(member, was_running)
        return leases

    def _on_marked(self, member: Member, was_running: bool) -> None:
        """HAProxy's srv_update_status: a server that stops (down or maintenance)
        with `on-marked-down shutdown-sessions` has its sessions cut; an active
        one that starts again with a weight and `on-marked-up
        shutdown-backup-sessions` cuts every backup server's."""
        running = _running(member)
        server = member.server
        if was_running and not running and server.shutdown_on_down:
            self._tell("marked-down", member.name)
        elif (
            running
            and not was_running
            and server.shutdown_backups_on_up
            and not member.backup
            and member.eweight > 0
        ):
            for other in self.members:
                if other.backup:
                    self._tell("marked-up", other.name)

    def set_stopping(self, name: str, stopping: bool) -> list[Lease]:
        """HAProxy's NOLB state (`set server B/S health stopping`): the server stays
        up for persistent traffic (cookies, stick tables) but takes no new picks."""
        member = self.member(name)
        member.stopping = stopping
        return self._changed(member)

    def set_weight(self, name: str, weight: int | str) -> list[Lease]:
        """`set server B/S weight N` or `N%` (relative to the configured weight)."""
        member = self.member(name)
        new = self._parse_weight(member, weight)
        if not self.algorithm.dynamic and new not in (0, member.server.weight):
            raise ValueError(
                f"backend '{self.name}': balance {self.balance.algorithm} is static; "
                "weight can only be set to 0 or its configured value"
            )
        member.uweight = new
        return self._changed(member)

    def set_maxconn(self, name: str, maxconn: int) -> list[Lease]:
        """`set maxconn server B/S N`: a new per-server limit (0 or less: none).

        Raising it hands the freed slots to the oldest waiters at once, as
        HAProxy's ``process_srv_queue`` does; lowering it lets in-flight requests
        finish and only holds back new ones."""
        member = self.member(name)
        member.server = replace(member.server, maxconn=max(0, maxconn))
        return self._serve_queues(member)

    def set_address(self, name: str, host: str, port: int | None) -> None:
        """`set server B/S addr A [port P]`: later connections go to `host:port`.

        Requests in flight stay where they are; whoever keeps something per
        address (idle connections, health checks) hears of it through
        `watch_servers` ("moved") and lets go of the old one."""
        member = self.member(name)
        shown = f"[{host}]" if ":" in host else host
        address = shown if port is None else f"{shown}:{port}"
        member.server = replace(member.server, address=address)
        self._tell("moved", name)

    def set_cookie(self, name: str, value: str | None) -> None:
        """The value of the persistence cookie naming `name` (a dynamic cookie follows
        its server's address)."""
        member = self.member(name)
        member.server = replace(member.server, cookie=value)

    def shutdown_sessions(self, name: str) -> None:
        """`shutdown sessions server B/S`: every stream on `name` is to end now.

        The pool holds leases, not sockets: the front ends that hold the
        connections hear it through `watch_servers` ("shutdown") and cut them,
        as HAProxy's ``srv_shutdown_streams`` does."""
        self.member(name)  # KeyError for an unknown server
        self._tell("shutdown", name)

    def add_server(self, server: Server) -> None:
        """`add server B/S …`: a new server, in maintenance (`enable server` puts
        it in service), as HAProxy 2.6 adds one.  Only algorithms with dynamic
        weights take servers at run time (HAProxy: ``BE_LB_PROP_DYN``)."""
        if not self.algorithm.dynamic:
            raise ValueError(
                f"backend '{self.name}': balance {self.balance.algorithm} cannot take "
                "servers at run time"
            )
        if server.name in self._by_name:
            raise ValueError(f"backend '{self.name}': duplicate server name '{server.name}'")
        used = {m.puid for m in self._members}
        if server.id is not None and server.id in used:
            raise ValueError(f"backend '{self.name}': server id {server.id} used twice")
        puid = server.id if server.id is not None else max(used, default=0) + 1
        member = Member(server, len(self._members), puid)
        member.admin = "maint"  # forced maintenance (HAProxy's FMAINT), not `disabled`
        self._members.append(member)
        self._by_name[server.name] = member
        self._build_algorithm()
        self._tell("added", server.name)

    def remove_server(self, name: str) -> None:
        """`del server B/S`: only a server in maintenance with nothing in flight or
        queued goes (HAProxy's rule); the others keep their ids."""
        member = self.member(name)
        if member.admin != "maint":
            raise ValueError(f"server '{name}' is not in maintenance")
        if member.inflight or member.queue:
            raise ValueError(f"server '{name}' still has connections")
        self._members.remove(member)
        del self._by_name[name]
        for index, other in enumerate(self._members):
            other.index = index
        self._build_algorithm()
        self._tell("removed", name)

    def watch_servers(self, callback: Callable[[ServerEvent, str], None]) -> None:
        """Call `callback(event, server_name)` after `add_server` ("added"),
        `set_address` ("moved"), `remove_server` ("removed") and
        `shutdown_sessions` ("shutdown")."""
        self._server_watchers.append(callback)

    def _tell(self, event: ServerEvent, name: str) -> None:
        for watcher in self._server_watchers:
            watcher(event, name)

    def set_ramp(self, name: str, ramp: float) -> list[Lease]:
        """Slow-start: run `name` at `ramp` (0..1] of its weight; the health layer drives it."""
        if not 0.0 < ramp <= 1.0:
            raise ValueError(f"ramp {ramp} must be in (0, 1]")
        member = self.member(name)
        member.ramp = ramp
        return self._changed(member)

    def get_weight(self, name: str) -> tuple[int, int]:
        """(current, initial) as `get weight B/S` prints them."""
        member = self.member(name)
        return member.uweight, member.server.weight

    @staticmethod
    def _parse_weight(member: Member, weight: int | str) -> int:
        text = str(weight).strip()
        if text.endswith("%"):
            number = text[:-1]
            if not number.isdigit():
                raise ValueError(f"invalid weight '{weight}'")
            value = member.server.weight * int(number) // 100
        elif text.isdigit():
            value = int(text)
        else:
            raise ValueError(f"invalid weight '{weight}'")
        if not 0 <= value <= MAX_WEIGHT:
            raise ValueError(f"weight {value} out of range 0..{MAX_WEIGHT}")
        return value


def _running(member: Member) -> bool:
    """Not stopped in HAProxy's sense: up by its checks and not in maintenance
    (draining and NOLB servers still run)."""
    return member.up and member.admin != "maint"
