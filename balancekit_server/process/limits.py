"""Process-wide connection accounting: HAProxy's `actconn` and global `maxconn`.

Every client connection of the process counts here, whatever its frontend's
mode, as in HAProxy: `%ac` in a log line and the global `maxconn` see TCP
sessions and HTTP connections alike.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterable
from typing import Protocol

__all__ = ["Admittable", "FrontendGate", "Limits", "Stream", "StreamSource", "stream_line"]


class Admittable(Protocol):
    """A client connection as `Limits` admits it (a TCP session, an HTTP connection)."""

    parked: bool

    def frontend_has_room(self) -> bool:
        """False while its frontend is at its own `maxconn`."""
        ...

    def unparked(self) -> None:
        """Its turn came: resume reading and start (counting itself in)."""
        ...


class Stream(Protocol):
    """A client connection as the runtime API sees it (`show sess`, `shutdown session`)."""

    def show(self, now: float) -> str | None:
        """`show sess`'s line after the pointer, or None when nothing is in flight
        (an idle keep-alive connection: HAProxy has no stream for it)."""
        ...

    def kill(self) -> None:
        """`shutdown session`: end it now."""
        ...


class StreamSource(Protocol):
    """A service whose admitted client connections `show sess` lists."""

    def live_streams(self) -> Iterable[Stream]: ...


def stream_line(src: str, port: int, fe: str, be: str, srv: str, age: float) -> str:
    """A `show sess` line after the pointer, with HAProxy's leading fields."""
    proto = "tcpv6" if ":" in src else "tcpv4"
    where = f"[{src}]:{port}" if ":" in src else f"{src}:{port}"
    return (
        f"proto={proto} src={where} fe={fe} be={be} srv={srv} ts=00 epoch=0 "
        f"age={max(int(age), 0)}s calls=0 rate=0 cpu=0 lat=0"
    )


class FrontendGate:
    """One frontend's own admission: its `maxconn` and whether `disable frontend`
    paused it.  Kept here, one per frontend name, so that the runtime API changes
    what the engines read and what `show stat` prints at once."""

    __slots__ = ("maxconn", "name", "paused")

    def __init__(self, name: str, maxconn: int = 0) -> None:
        self.name = name
        self.maxconn = maxconn  # 0: none
        self.paused = False

    def __repr__(self) -> str:
        return f"<FrontendGate {self.name} maxconn={self.maxconn} paused={self.paused}>"

    def has_room(self, feconn: int) -> bool:
        return not (self.paused or (self.maxconn and feconn >= self.maxconn))


class Limits:
    """`actconn` and global `maxconn`, shared by every frontend of a process.

    Over a limit, HAProxy stops accepting and lets clients wait in the kernel
    backlog.  We accept and park them paused instead (same effect for the
    client: connected, nothing happens), and admit them in arrival order as
    connections end.
    """

    def __init__(self, maxconn: int = 0) -> None:
        self.maxconn = maxconn
        #: The ceiling `set maxconn global` may not pass (HAProxy's hardmaxconn):
        #: the configured value; 0 when none was configured (no ceiling).
        self.hard = maxconn
        self.actconn = 0
        self._parked: deque[Admittable] = deque()
        # Sessions taken from each pool queue ("be" or "be/srv"), for %bq/%sq.
        self.dequeued: dict[str, int] = {}
        self.gates: dict[str, FrontendGate] = {}
        #: The services of this process, asked for their connections by `streams`.
        self.sources: list[StreamSource] = []

    def __repr__(self) -> str:
        return f"<Limits actconn={self.actconn} maxconn={self.maxconn} parked={len(self._parked)}>"

    def admissible(self, conn: Admittable) -> bool:
        if self.maxconn and self.actconn >= self.maxconn:
            return False
        return conn.frontend_has_room()

    def park(self, conn: Admittable) -> None:
        conn.parked = True
        self._parked.append(conn)

    def unpark(self, conn: Admittable) -> None:
        """Forget a parked connection that went away."""
        if conn.parked:
            conn.parked = False
            with contextlib.suppress(ValueError):
                self._parked.remove(conn)

    def streams(self) -> dict[int, Stream]:
        """Every admitted client connection, by `id()`: `show sess` prints that as
        its pointer and `shutdown session` takes it back.  Gathered when asked, so
        a connection's own path registers nothing."""
        return {id(stream): stream for source in self.sources for stream in source.live_streams()}

    def gate(self, name: str, maxconn: int = 0) -> FrontendGate:
        """The frontend `name`'s gate (created with its configured `maxconn`)."""
        found = self.gates.get(name)
        if found is None:
            found = self.gates[name] = FrontendGate(name, maxconn)
        return found

    def set_maxconn(self, maxconn: int) -> None:
        """`set maxconn global`: a raised limit admits parked connections at once."""
        self.maxconn = maxconn
        self.slot_freed()

    def slot_freed(self) -> None:
        """Admit parked connections, oldest first, while limits allow."""
        if not self._parked:
            return
        for conn in list(self._parked):
            if self.maxconn and self.actconn >= self.maxconn:
                return
            if conn.frontend_has_room():
                self._parked.remove(conn)
                conn.parked = False
                conn.unparked()
