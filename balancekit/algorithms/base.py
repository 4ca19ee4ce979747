"""The contract every `balance` algorithm fills, after HAProxy's `struct lbprm` ops.

HAProxy gives each algorithm the same table of operations (init, server up/down,
weight change, take/drop a connection).  Mirroring that keeps the pool ignorant of
how any algorithm works and lets one contract test drive them all.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from ..server import Server

if TYPE_CHECKING:
    from ..pool import Lease
    from ..request import Request
    from .spec import BalanceSpec, HashSpec

__all__ = ["ADMIN_STATES", "Algorithm", "LBOptions", "Member"]

ADMIN_STATES = ("ready", "drain", "maint")

#: HAProxy's BE_WEIGHT_SCALE: dynamic algorithms work on weight * 16.
WEIGHT_SCALE = 16


class Member:
    """A server's runtime record inside one pool.

    Algorithms keep their own per-server data in arrays indexed by `index`, so
    this record stays small and its fields mean the same to every algorithm.
    """

    __slots__ = (
        "admin",
        "backup",
        "eweight",
        "fqdn",
        "index",
        "inflight",
        "lbtot",
        "puid",
        "queue",
        "ramp",
        "resolution",
        "server",
        "stopping",
        "up",
        "uweight",
    )

    def __init__(self, server: Server, index: int, puid: int) -> None:
        self.server = server
        self.index = index
        self.puid = puid
        self.backup = server.backup
        self.admin = "maint" if server.disabled else "ready"
        self.up = True
        #: HAProxy's SRV_ST_STOPPING ("NOLB"): up, but only persistent traffic.
        self.stopping = False
        self.uweight = server.weight
        #: slow-start ramp in [0, 1]; 1 means full weight.
        self.ramp = 1.0
        self.eweight = 0
        self.inflight = 0
        self.lbtot = 0
        self.queue: deque[Lease] = deque()
        #: HAProxy's RMAINT: in maintenance because DNS gave it no address (set by
        #: the front end's resolvers, with `fqdn` the name they last gave it).
        self.resolution = False
        self.fqdn: str | None = None

    @property
    def name(self) -> str:
        return self.server.name

    @property
    def usable(self) -> bool:
        """May take new, non-persistent traffic (HAProxy's srv_currently_usable)."""
        return self.up and not self.stopping and self.admin == "ready" and self.eweight > 0

    @property
    def status(self) -> str:
        """The state word HAProxy's `show stat` prints."""
        if self.admin == "maint":
            return "MAINT"
        if not self.up:
            return "DOWN"
        if self.stopping:
            return "NOLB"
        if self.admin == "drain":
            return "DRAIN"
        return "UP"

    def full(self) -> bool:
        """At maxconn, or with requests already waiting in front of a new one."""
        maxconn = self.server.maxconn
        return bool(maxconn) and (bool(self.queue) or self.inflight >= maxconn)

    def __repr__(self) -> str:
        return (
            f"<Member {self.name} {self.status} w={self.uweight} ew={self.eweight} "
            f"inflight={self.inflight} queued={len(self.queue)}>"
        )


@dataclass(frozen=True, slots=True)
class LBOptions:
    """Backend-wide options that change how an algorithm chooses."""

    allbackups: bool = False
    hash_balance_factor: int = 0
    #: `mode http`: uri, url_param and hdr can read the request; in `mode tcp`
    #: HAProxy has no HTTP message to hash and falls back to round robin.
    http: bool = True


class Algorithm(ABC):
    """One `balance` keyword.

    Subclasses register themselves with `@register("keyword")`.  The pool calls
    `update` whenever a member's usability or effective weight changed, and
    `take`/`drop` when its in-flight count changed, exactly where HAProxy calls
    its lbprm ops.  `touch` is called by `Backend.pick`, which hands out a server
    without a lease: algorithms whose order depends on in-flight counts use it
    to rotate as if a request had come and gone.
    """

    #: the haproxy.cfg keyword, filled in by the registry.
    keyword: ClassVar[str] = ""
    #: True for algorithms that step over servers at maxconn (rr, leastconn, first…);
    #: False for hashing, which returns the key's server and lets the pool queue on it.
    skips_full: bool = True
    #: HAProxy's lbprm.wdiv: what uweight is multiplied by to get the effective weight.
    weight_scale: int = WEIGHT_SCALE
    #: whether a weight change at runtime is honoured (static algorithms: only 0% / 100%).
    dynamic: bool = True
    #: HAProxy's "a queued backend means every server is full" shortcut applies
    #: (first, roundrobin, static-rr): new requests go behind the backend queue.
    fifo_backend_queue: bool = False
    #: whether `pick` reads the request; only the hashing algorithms do, and then only
    #: when the request carries what they hash (not uri/hdr/url_param in `mode tcp`).
    reads_request: bool = False

    def __init__(
        self,
        members: Sequence[Member],
        spec: BalanceSpec,
        hashing: HashSpec,
        options: LBOptions,
    ) -> None:
        self.members = members
        self.spec = spec
        self.hashing = hashing
        self.options = options
        #: HAProxy's lbprm.wmult; the map-based algorithms set it to the weights' GCD.
        self.weight_divisor = 1
        # HAProxy's recount_servers()/update_backend_weight() results.
        self.srv_act = 0
        self.srv_bck = 0
        self.tot_wact = 0
        self.tot_wbck = 0
        self.tot_weight = 0
        self.tot_used = 0
        self.fbck: Member | None = None
        #: the randomness source of `balance random` (the pool passes its own).
        self.rng = random.Random()
        self.setup()

    def setup(self) -> None:  # noqa: B027 - optional hook
        """Per-algorithm initialisation, before the pool sets effective weights (so
        map-based algorithms can fix `weight_divisor` here)."""

    @abstractmethod
    def pick(self, request: Request | None, avoid: Member | None = None) -> Member | None:
        """Choose a member for this request, or None when nothing is usable (or, for
        algorithms that skip full servers, when every usable one is full)."""

    @abstractmethod
    def rebuild(self) -> None:
        """Build the lookup structures from scratch; called once the pool has set every
        member's effective weight, and after bulk changes."""

    def update(self, member: Member) -> None:
        """`member` went up/down or its effective weight changed.  Incremental
        algorithms override this to move only what HAProxy moves."""
        self.rebuild()

    def take(self, member: Member) -> None:  # noqa: B027 - optional hook
        """`member` got one more in-flight request."""

    def drop(self, member: Member) -> None:  # noqa: B027 - optional hook
        """`member` finished one in-flight request."""

    def touch(self, member: Member) -> None:  # noqa: B027 - optional hook
        """`member` was handed out by `Backend.pick` (no lease, no in-flight change)."""

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} balance={self.keyword} act={self.srv_act} "
            f"bck={self.srv_bck} tot_weight={self.tot_weight}>"
        )

    # Helpers shared by algorithms -------------------------------------------------

    def recount(self) -> None:
        """HAProxy's recount_servers() + update_backend_weight(): usable counts, total
        weights, and the first usable backup (`fbck`) unless `allbackups`."""
        srv_act = srv_bck = tot_wact = tot_wbck = 0
        fbck: Member | None = None
        allbackups = self.options.allbackups
        for member in self.members:
            if not member.usable:
                continue
            if member.backup:
                if not srv_bck and not allbackups:
                    fbck = member
                srv_bck += 1
                tot_wbck += member.eweight
            else:
                srv_act += 1
                tot_wact += member.eweight
        self.srv_act, self.srv_bck = srv_act, srv_bck
        self.tot_wact, self.tot_wbck = tot_wact, tot_wbck
        self.fbck = fbck
        if srv_act:
            self.tot_weight, self.tot_used = tot_wact, srv_act
        elif fbck is not None:
            self.tot_weight, self.tot_used = fbck.eweight, 1
        else:
            self.tot_weight, self.tot_used = tot_wbck, srv_bck

    def current_group(self) -> tuple[bool, list[Member]]:
        """(is_backup, members) of the group HAProxy picks from: the usable active
        servers if any, else the usable backups (all of them; callers handle `fbck`)."""
        backup = self.srv_act == 0
        return backup, [m for m in self.members if m.usable and m.backup == backup]
