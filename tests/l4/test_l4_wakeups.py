"""`Wakeups`: many sessions' timeouts on one event-loop timer, on a real event loop."""

from __future__ import annotations

import asyncio

from balancekit_server.net.wakeups import GRANULARITY, Wakeups


class Sleeper:
    """Records when it was woken; can ask again from inside `wake`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, name: str, log: list[str]) -> None:
        self.loop = loop
        self.name = name
        self.log = log
        self.woken_at: list[float] = []
        self.again: tuple[Wakeups, float] | None = None

    def wake(self) -> None:
        self.woken_at.append(self.loop.time())
        self.log.append(self.name)
        if self.again is not None:
            wakeups, delay = self.again
            self.again = None
            wakeups.add(self, self.loop.time() + delay)


def test_wakes_in_order_never_early_and_forgets_discarded() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        wakeups = Wakeups(loop)
        log: list[str] = []
        start = loop.time()
        a, b, c = (Sleeper(loop, n, log) for n in "abc")
        wakeups.add(b, start + 0.06)
        wakeups.add(a, start + 0.03)
        wakeups.add(c, start + 0.09)
        wakeups.discard(c)
        await asyncio.sleep(0.2)
        assert log == ["a", "b"]
        assert a.woken_at[0] >= start + 0.03 and b.woken_at[0] >= start + 0.06
        # Never early; "late" only by what a loaded machine adds (not by a far timer).
        assert b.woken_at[0] - (start + 0.06) < 1.0
        assert len(wakeups) == 0

    asyncio.run(main())


def test_a_wakeup_added_while_firing_does_not_hide_an_earlier_one() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        wakeups = Wakeups(loop)
        log: list[str] = []
        start = loop.time()
        first, second = Sleeper(loop, "first", log), Sleeper(loop, "second", log)
        first.again = (wakeups, 10.0)  # asks for a far wake-up from inside its wake()
        wakeups.add(first, start + 0.02)
        wakeups.add(second, start + 0.02 + GRANULARITY * 3)
        await asyncio.sleep(0.02 + GRANULARITY * 3 + 0.1)
        assert log == ["first", "second"]
        assert second.woken_at[0] >= start + 0.02 + GRANULARITY * 3
        assert len(wakeups) == 1  # `first` waits for its far wake-up
        wakeups.discard(first)
        assert len(wakeups) == 0

    asyncio.run(main())


def test_many_sleepers_one_loop_timer() -> None:
    """10,000 sessions' wake-ups: all delivered, each at or after its time."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        wakeups = Wakeups(loop)
        log: list[str] = []
        start = loop.time()
        sleepers = [Sleeper(loop, str(i), log) for i in range(10_000)]
        for i, sleeper in enumerate(sleepers):
            wakeups.add(sleeper, start + 0.05 + (i % 100) / 1000)
        ended = sleepers[::2]  # half of them end before their time
        for sleeper in ended:
            wakeups.discard(sleeper)
        await asyncio.sleep(0.3)
        while len(log) < len(sleepers) // 2 and loop.time() < start + 5:
            await asyncio.sleep(0.05)  # a loaded machine may need longer
        assert sorted(log, key=int) == [s.name for s in sleepers[1::2]]
        for i, sleeper in enumerate(sleepers[1::2]):
            due = start + 0.05 + ((2 * i + 1) % 100) / 1000
            assert due <= sleeper.woken_at[0] < due + GRANULARITY + 1.0
        assert len(wakeups) == 0

    asyncio.run(main())


def test_ended_sleepers_do_not_pile_up() -> None:
    """A busy frontend: many short sessions end long before their wake-up time."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        wakeups = Wakeups(loop)
        log: list[str] = []
        live = [Sleeper(loop, f"live{i}", log) for i in range(10)]
        for sleeper in live:
            wakeups.add(sleeper, loop.time() + 0.05)
        for i in range(20_000):
            short = Sleeper(loop, f"short{i}", log)
            wakeups.add(short, loop.time() + 60)
            wakeups.discard(short)
        assert len(wakeups._heap) <= 2 * len(live) + 64 + 1  # not 20,010 entries
        await asyncio.sleep(0.15)
        assert sorted(log) == sorted(s.name for s in live)

    asyncio.run(main())


def test_wakeups_are_lazy_and_never_early_after_a_discard() -> None:
    """A later request while an earlier one is pending changes nothing; an earlier one
    wins; a discarded and re-added object is not woken by its old entry."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        wakeups = Wakeups(loop)
        log: list[str] = []
        start = loop.time()
        lazy, hurried, readded = (Sleeper(loop, n, log) for n in ("lazy", "hurried", "readded"))
        wakeups.add(lazy, start + 0.03)
        wakeups.add(lazy, start + 0.2)  # no-op: 0.03 is pending
        wakeups.add(hurried, start + 0.2)
        wakeups.add(hurried, start + 0.03)  # earlier: wins
        wakeups.add(readded, start + 0.03)
        wakeups.discard(readded)
        wakeups.add(readded, start + 0.15)  # its 0.03 entry is a leftover now
        await asyncio.sleep(0.1)
        assert sorted(log) == ["hurried", "lazy"]
        await asyncio.sleep(0.25)
        assert sorted(log) == ["hurried", "lazy", "readded"]  # each woken once
        assert readded.woken_at[0] >= start + 0.15

    asyncio.run(main())


def test_pending_is_the_earliest_wakeup_still_to_come() -> None:
    """A session skips arming a later timer when `pending` says an earlier wake-up
    will come: it must name exactly what is due, and inf once delivered or discarded."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        wakeups = Wakeups(loop)
        log: list[str] = []
        a, b = Sleeper(loop, "a", log), Sleeper(loop, "b", log)
        start = loop.time()
        assert wakeups.pending(a) == float("inf")
        wakeups.add(a, start + 0.2)
        wakeups.add(a, start + 0.05)  # earlier: replaces
        wakeups.add(a, start + 0.5)  # later: a no-op
        assert wakeups.pending(a) == start + 0.05
        wakeups.add(b, start + 0.05)
        wakeups.discard(b)
        assert wakeups.pending(b) == float("inf")
        await asyncio.sleep(0.05 + 5 * GRANULARITY)
        assert log == ["a"]
        assert wakeups.pending(a) == float("inf")  # delivered: nothing left to come

    asyncio.run(main())
