"""One peers section's sync logic, sans I/O: what to send, what a message means.

Why sans-IO: the resync and acknowledgement rules (`peer_io_handler`,
`process_peer_sync`) are the part worth testing without sockets, and the server
only has to move bytes and keep time.  Time is passed in (`now`, in ms).

What HAProxy 2.6 does, and this does:

- every local change to a shared table gets an update id; each session pushes
  the changes after the last id its peer acknowledged, so a reconnecting peer
  misses nothing and gets nothing twice;
- a process that starts asks one connected peer for a full resync ("resync
  request"); the peer sends every entry (with the time each has left) and ends
  with "resync finished" (or "partial" when it is not up to date itself, and
  another peer is asked); after 5 s without a teacher the process considers
  itself up to date;
- updates are acknowledged per table; a session that has sent nothing for 3 s
  sends a heartbeat, and one that has heard nothing for 5 s is closed.

Not done here: the local-peer hand-over of an old process on reload (balancekit
reloads inside one process and keeps its tables).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ..sticktables import StickTable
from .tables import ARRAYS, RATES, SharedTable, decode_definition, decode_update
from .wire import (
    CLASS_CONTROL,
    CLASS_ERROR,
    CLASS_RESERVED,
    CLASS_STICKTABLE,
    CTRL_HEARTBEAT,
    CTRL_RESYNC_CONFIRM,
    CTRL_RESYNC_FINISHED,
    CTRL_RESYNC_PARTIAL,
    CTRL_RESYNC_REQUEST,
    ERR_PROTOCOL,
    STKT_ACK,
    STKT_DEFINE,
    STKT_INCUPDATE,
    STKT_INCUPDATE_TIMED,
    STKT_SWITCH,
    STKT_UPDATE,
    STKT_UPDATE_TIMED,
    Definition,
    Message,
    ProtocolError,
    Reader,
    frame,
)

__all__ = [
    "HEARTBEAT_MS",
    "MAX_UPDATES_AT_ONCE",
    "RECONNECT_MS",
    "RESYNC_MS",
    "PeerSession",
    "PeersState",
    "reconnect_delay_ms",
]

RESYNC_MS = 5000
RECONNECT_MS = 5000
HEARTBEAT_MS = 3000
MAX_UPDATES_AT_ONCE = 200


@dataclass(slots=True)
class _Remote:
    """What a peer told us about one of its tables."""

    definition: Definition
    shared: SharedTable
    last_get: int = 0
    last_acked: int = 0


@dataclass(slots=True)
class PeersState:
    """A `peers` section as one process sees it: its local name, the tables it
    shares, and whether this process is up to date."""

    local: str
    tables: list[SharedTable] = field(default_factory=list)
    #: The update id each peer acknowledged, per peer and table id (kept across sessions).
    acked: dict[str, dict[int, int]] = field(default_factory=dict)
    resynced: bool = False
    resync_deadline: int | None = None
    teacher: PeerSession | None = None
    #: Peers that taught a partial lesson: not asked again.
    not_up_to_date: set[str] = field(default_factory=set)

    def add_table(self, table: StickTable, name: str) -> SharedTable:
        table.share()
        shared = SharedTable(table, name, len(self.tables) + 1)
        self.tables.append(shared)
        return shared

    def start(self, now: int) -> None:
        """The process starts: a resync is sought for `RESYNC_MS`."""
        self.resync_deadline = now + RESYNC_MS

    def tick(self, now: int) -> None:
        """With nobody teaching when the resync time is up, the process is up to date."""
        if (
            not self.resynced
            and self.teacher is None
            and self.resync_deadline is not None
            and now >= self.resync_deadline
        ):
            self.resynced = True

    def session(self, peer: str, now: int) -> PeerSession:
        """A session with `peer` has been established (either side connected)."""
        session = PeerSession(self, peer, now)
        if not self.resynced and self.teacher is None and peer not in self.not_up_to_date:
            self.teacher = session
            session.learning = True
        return session

    def closed(self, session: PeerSession, now: int) -> None:
        if self.teacher is session:
            self.teacher = None
            self.resync_deadline = now + RESYNC_MS


class PeerSession:
    """One established session with a peer: feed it messages, ask it what to send."""

    def __init__(self, state: PeersState, peer: str, now: int) -> None:
        self.state = state
        self.peer = peer
        self.learning = False
        self._request_sent = False
        self._teaching: list[tuple[SharedTable, list[int]]] | None = None
        self._finish_pending = False
        self._confirms = 0
        self._remotes: dict[int, _Remote] = {}
        self._current: _Remote | None = None
        self._dictionary: dict[int, str] = {}
        acked = state.acked.setdefault(peer, {})
        self._pushed = {t.table_id: acked.get(t.table_id, 0) for t in state.tables}
        self._defined: int | None = None
        self.last_received = now
        self.last_sent = now

    def __repr__(self) -> str:
        return f"<PeerSession {self.state.local}->{self.peer} learning={self.learning}>"

    # -- receiving --------------------------------------------------------------------------

    def receive(self, message: Message, now: int) -> None:
        """Apply one message; ProtocolError when HAProxy would close with a protocol error."""
        self.last_received = now
        if message.cls == CLASS_CONTROL:
            self._control(message.type, now)
        elif message.cls == CLASS_STICKTABLE:
            self._sticktable(message, now)
        elif message.cls == CLASS_RESERVED:
            raise ProtocolError("reserved message class")
        elif message.cls == CLASS_ERROR:
            raise ProtocolError("the peer reported an error")

    def _control(self, kind: int, now: int) -> None:
        state = self.state
        if kind == CTRL_RESYNC_REQUEST:
            self._teaching = [(t, t.table.slots()) for t in state.tables]
            for shared in state.tables:
                updates = shared.table.updates
                self._pushed[shared.table_id] = updates.last if updates is not None else 0
        elif kind in (CTRL_RESYNC_FINISHED, CTRL_RESYNC_PARTIAL):
            if state.teacher is self:
                state.teacher = None
                self.learning = False
                if kind == CTRL_RESYNC_FINISHED:
                    state.resynced = True
                else:
                    state.not_up_to_date.add(self.peer)
                    state.resync_deadline = now + RESYNC_MS
            self._confirms += 1
        # CTRL_HEARTBEAT: nothing to do; receiving it refreshed last_received.

    def _sticktable(self, message: Message, now: int) -> None:
        kind = message.type
        if kind == STKT_DEFINE:
            self._define(message.payload)
        elif kind == STKT_SWITCH:
            table_id = Reader(message.payload).varint()
            self._current = self._remotes.get(table_id)
        elif kind in (STKT_UPDATE, STKT_INCUPDATE, STKT_UPDATE_TIMED, STKT_INCUPDATE_TIMED):
            self._update(message, now)
        elif kind == STKT_ACK:
            reader = Reader(message.payload)
            table_id = reader.varint()
            update_id = reader.u32()
            if self._teaching is None and table_id in self._pushed:
                self.state.acked[self.peer][table_id] = update_id

    def _define(self, payload: bytes) -> None:
        self._current = None
        definition = decode_definition(payload, ARRAYS, RATES)
        if definition is None:
            return
        self._remotes.pop(definition.table_id, None)
        for shared in self.state.tables:
            if shared.matches(definition):
                remote = _Remote(definition, shared)
                self._remotes[definition.table_id] = remote
                self._current = remote
                return

    def _update(self, message: Message, now: int) -> None:
        remote = self._current
        if remote is None:
            return  # a table we do not share: HAProxy ignores its updates
        table = remote.shared.table
        update_id, key, expire, values = decode_update(
            message.payload,
            message.type,
            remote.definition,
            table,
            self._dictionary,
            remote.last_get,
        )
        remote.last_get = update_id
        table.apply_remote(key, values, expire, now)

    # -- sending ----------------------------------------------------------------------------

    def outgoing(self, now: int) -> bytes:
        """Everything due now, at most MAX_UPDATES_AT_ONCE updates (call again while
        it returns bytes and the connection takes them)."""
        out = bytearray()
        if self.learning and not self._request_sent:
            out += frame(CLASS_CONTROL, CTRL_RESYNC_REQUEST)
            self._request_sent = True
        for remote in self._remotes.values():
            if remote.last_get != remote.last_acked:
                out += remote.shared.ack_message(remote.definition.table_id, remote.last_get)
                remote.last_acked = remote.last_get
        budget = MAX_UPDATES_AT_ONCE
        if self._teaching is not None:
            budget = self._teach(out, budget, now)
            if self._teaching is None:
                resync = CTRL_RESYNC_FINISHED if self.state.resynced else CTRL_RESYNC_PARTIAL
                out += frame(CLASS_CONTROL, resync)
        else:
            for shared in self.state.tables:
                budget = self._push(shared, out, budget, now)
                if budget <= 0:
                    break
        while self._confirms:
            out += frame(CLASS_CONTROL, CTRL_RESYNC_CONFIRM)
            self._confirms -= 1
        if not out and now - self.last_sent >= HEARTBEAT_MS:
            out += frame(CLASS_CONTROL, CTRL_HEARTBEAT)
        if out:
            self.last_sent = now
        return bytes(out)

    def _define_once(self, shared: SharedTable, out: bytearray) -> None:
        if self._defined != shared.table_id:
            out += shared.define_message()
            self._defined = shared.table_id

    def _push(self, shared: SharedTable, out: bytearray, budget: int, now: int) -> int:
        updates = shared.table.updates
        if updates is None:
            return budget
        pushed = self._pushed[shared.table_id]
        for update_id, slot in updates.after(pushed):
            message = shared.update_message(slot, update_id, now, timed=False)
            if message is not None:
                self._define_once(shared, out)
                out += message
            self._pushed[shared.table_id] = update_id
            budget -= 1
            if budget <= 0:
                break
        return budget

    def _teach(self, out: bytearray, budget: int, now: int) -> int:
        assert self._teaching is not None
        while self._teaching:
            shared, slots = self._teaching[0]
            updates = shared.table.updates
            update_id = updates.last if updates is not None else 0
            while slots and budget > 0:
                message = shared.update_message(slots.pop(), update_id, now, timed=True)
                if message is not None:
                    self._define_once(shared, out)
                    out += message
                    budget -= 1
            if slots:
                return budget
            self._teaching.pop(0)
        self._teaching = None
        return budget

    def protocol_error(self) -> bytes:
        return frame(CLASS_ERROR, ERR_PROTOCOL)

    def expired(self, now: int) -> bool:
        """Heard nothing for `RECONNECT_MS`: the session is dead."""
        return now - self.last_received >= RECONNECT_MS


def reconnect_delay_ms() -> int:
    """After killing a session: 50 ms to 2 s, random, so both sides do not collide again."""
    return 50 + random.randrange(2000)
