"""The peers sync rules (balancekit.peers.session), two or three processes in memory."""

from __future__ import annotations

from ipaddress import IPv4Address

from balancekit.peers.session import HEARTBEAT_MS, RECONNECT_MS, RESYNC_MS, PeersState
from balancekit.peers.wire import (
    CLASS_CONTROL,
    CTRL_HEARTBEAT,
    CTRL_RESYNC_FINISHED,
    CTRL_RESYNC_PARTIAL,
    CTRL_RESYNC_REQUEST,
    STKT_UPDATE,
    STKT_UPDATE_TIMED,
    Message,
    MessageReader,
)
from balancekit.sticktables import StickTable

STORE = "server_id,gpc0,conn_cnt,http_req_rate(10s),server_key"


def member(name: str) -> tuple[PeersState, StickTable]:
    table = StickTable("be", "ip", 1000, expire_ms=30_000, store=STORE)
    state = PeersState(name)
    state.add_table(table, "be")
    return state, table


class Link:
    """Two established sessions wired back to back."""

    def __init__(self, a: PeersState, b: PeersState, now: int) -> None:
        self.a = a.session(b.local, now)
        self.b = b.session(a.local, now)
        self.readers = (MessageReader(), MessageReader())
        self.seen: list[Message] = []

    def pump(self, now: int, rounds: int = 6) -> None:
        for _ in range(rounds):
            for sender, receiver, reader in (
                (self.a, self.b, self.readers[0]),
                (self.b, self.a, self.readers[1]),
            ):
                data = sender.outgoing(now)
                for message in reader.feed(data):
                    self.seen.append(message)
                    receiver.receive(message, now)


def key(text: str) -> int:
    return int(IPv4Address(text))


def test_local_changes_reach_the_peer_with_their_values() -> None:
    a, table_a = member("a")
    b, table_b = member("b")
    a.resynced = b.resynced = True
    link = Link(a, b, 1000)
    entry = table_a.track(IPv4Address("10.0.0.1"), 1000)
    assert entry is not None
    table_a.count_http_request(entry, 1000)
    table_a.inc_gpc0(entry, 1000)
    table_a.store_server(entry, 3, "s3", 1000)
    link.pump(1500)
    got = table_b.lookup(key("10.0.0.1"), 1500)
    assert got is not None
    assert table_b.read(got, "conn_cnt", 1500) == 1
    assert table_b.read(got, "get_gpc0", 1500) == 1
    assert table_b.read(got, "http_req_rate", 1500) == 1
    assert table_b.read(got, "server_id", 1500) == 3
    assert table_b.server_key(got) == "s3"
    # Not a local change on b: nothing is echoed back to a.
    assert b.tables[0].table.updates is not None and b.tables[0].table.updates.last == 0
    # Received with the table's expiry (an on-the-fly update is not timed).
    assert table_b.read(got, "expire", 1500) == 30_000
    assert any(m.type == STKT_UPDATE for m in link.seen)


def test_acknowledged_updates_are_not_sent_again_after_a_reconnect() -> None:
    a, table_a = member("a")
    b, table_b = member("b")
    a.resynced = b.resynced = True
    link = Link(a, b, 0)
    for last in range(1, 4):
        table_a.track(IPv4Address(f"10.0.0.{last}"), 0)
    link.pump(10)
    assert len(table_b) == 3
    assert a.acked["b"] == {1: 3}
    # A new session resumes after what b acknowledged: only the new change goes out.
    again = Link(a, b, 20)
    table_a.track(IPv4Address("10.0.0.9"), 20)
    again.pump(30)
    updates = [m for m in again.seen if m.cls == 10 and m.type == STKT_UPDATE]
    assert len(updates) == 1
    assert len(table_b) == 4


def test_a_starting_process_learns_the_whole_table_with_expiry() -> None:
    a, table_a = member("a")
    a.resynced = True
    for last in range(1, 251):  # more than one batch of updates
        table_a.track(IPv4Address(f"10.0.{last // 200}.{last % 200}"), 0)
    b, table_b = member("b")
    b.start(20_000)
    assert not b.resynced
    link = Link(a, b, 20_000)
    assert link.b.learning
    link.pump(20_000, rounds=10)
    assert b.resynced
    assert len(table_b) == 250
    kinds = [(m.cls, m.type) for m in link.seen]
    assert (CLASS_CONTROL, CTRL_RESYNC_REQUEST) in kinds
    assert (CLASS_CONTROL, CTRL_RESYNC_FINISHED) in kinds
    assert (10, STKT_UPDATE_TIMED) in kinds
    # The lesson carried the time left: 30 s expiry, 20 s gone.
    entry = table_b.lookup(key("10.0.0.1"), 20_000)
    assert entry is not None and table_b.read(entry, "expire", 20_000) == 10_000


def test_a_partial_teacher_is_replaced_by_another_peer() -> None:
    a, table_a = member("a")
    table_a.track(IPv4Address("10.0.0.1"), 0)  # a is itself not resynced: partial
    c, table_c = member("c")
    c.resynced = True
    table_c.track(IPv4Address("10.0.0.2"), 0)
    b, table_b = member("b")
    b.start(0)
    first = Link(a, b, 0)
    first.pump(0)
    assert (CLASS_CONTROL, CTRL_RESYNC_PARTIAL) in [(m.cls, m.type) for m in first.seen]
    assert not b.resynced and "a" in b.not_up_to_date
    second = Link(c, b, 0)
    assert second.b.learning
    second.pump(0)
    assert b.resynced
    assert len(table_b) == 2


def test_nobody_to_learn_from_means_up_to_date_after_the_resync_delay() -> None:
    b, _ = member("b")
    b.start(0)
    b.tick(RESYNC_MS - 1)
    assert not b.resynced
    b.tick(RESYNC_MS)
    assert b.resynced


def test_heartbeats_and_silence() -> None:
    a, _ = member("a")
    a.resynced = True
    session = a.session("b", 0)
    assert session.outgoing(0) == b""
    assert session.outgoing(HEARTBEAT_MS) == bytes((CLASS_CONTROL, CTRL_HEARTBEAT))
    assert not session.expired(RECONNECT_MS - 1)
    assert session.expired(RECONNECT_MS)
    session.receive(Message(CLASS_CONTROL, CTRL_HEARTBEAT), RECONNECT_MS)
    assert not session.expired(RECONNECT_MS + 1)
