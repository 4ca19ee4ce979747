"""The contract every `balance` algorithm fills, after HAProxy's `struct lbprm` ops.

HAProxy gives each algorithm the same table of operations (init, server up/down,
weight change, take/drop a connection).  Mirroring that keeps the pool ignorant of
how any algorithm works and lets one contract test drive them all.
"""

from __future__ import annotations

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
        "index",
        "inflight",
        "lbtot",
        "puid",
        "queue",
        "ramp",
        "server",
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
        self.uweight = server.weight
        #: slow-start ramp in [0, 1]; 1 means full weight.
        self.ramp = 1.0
        self.eweight = 0
        self.inflight = 0
        self.lbtot = 0
        self.queue: deque[Lease] = deque()

    @property
    def name(self) -> str:
        return self.server.name

    @property
    def usable(self) -> bool:
        """May take new, non-persistent traffic (HAProxy's srv_currently_usable)."""
        return self.up and self.admin == "ready" and self.eweight > 0

    @property
    def status(self) -> str:
        """The state word HAProxy's `show stat` prints."""
        if self.admin == "maint":
            return "MAINT"
        if not self.up:
            return "DOWN"
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


class Algorithm(ABC):
    """One `balance` keyword.

    Subclasses register themselves with `@register("keyword")`.  The pool calls
    `update` whenever a member's usability or effective weight changed, and
    `take`/`drop` when its in-flight count changed, exactly where HAProxy calls
    its lbprm ops.
    """

    #: the haproxy.cfg keyword, filled in by the registry.
    keyword: ClassVar[str] = ""
    #: True for algorithms that step over servers at maxconn (rr, leastconn, first…);
    #: False for hashing, which returns the key's server and lets the pool queue on it.
    skips_full: ClassVar[bool] = True
    #: HAProxy's lbprm.wdiv: what uweight is multiplied by to get the effective weight.
    weight_scale: ClassVar[int] = WEIGHT_SCALE
    #: whether a weight change at runtime is honoured (static algorithms: only 0% / 100%).
    dynamic: ClassVar[bool] = True

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

    # Helpers shared by algorithms -------------------------------------------------

    def eligible_group(self) -> list[Member]:
        """The servers HAProxy would balance over now: every usable active server,
        else the first usable backup (or every usable backup with `allbackups`)."""
        active = [m for m in self.members if not m.backup and m.usable]
        if active:
            return active
        backups = [m for m in self.members if m.backup and m.usable]
        if self.options.allbackups:
            return backups
        return backups[:1]
