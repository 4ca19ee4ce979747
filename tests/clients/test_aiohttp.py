"""balancekit.aiohttp with a real aiohttp client on real loopback servers."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import balancekit
import balancekit.aiohttp as bkaiohttp
from balancekit.clients import AsyncBalancedPool


def test_spread_failover_ejection_and_return(backends) -> None:  # type: ignore[no-untyped-def]
    b = backends(["s1", "s2"])
    servers = [
        balancekit.Server("s1", b.address("s1"), weight=3, check=True, inter=0.1, fall=2, rise=2),
        balancekit.Server("s2", b.address("s2"), weight=1, check=True, inter=0.1, fall=2, rise=2),
    ]

    async def text(session: bkaiohttp.Session, path: str = "/") -> str:
        async with await session.get(path) as response:
            return await response.text()

    async def main() -> None:
        async with (
            AsyncBalancedPool(balancekit.Backend("api", servers)) as pool,
            bkaiohttp.Session(pool) as session,
        ):
            seen = Counter([await text(session) for _ in range(40)])
            assert seen == {"s1": 30, "s2": 10}
            b.kill("s1")
            killed = time.monotonic()
            answers = [await text(session) for _ in range(8)]
            assert answers == ["s2"] * 8  # none lost
            while pool.backend.state("s1") != "DOWN":
                assert time.monotonic() - killed < 2 * 0.1 + 0.5
                await asyncio.sleep(0.01)
            b.start("s1")
            back = time.monotonic()
            while pool.backend.state("s1") != "UP":
                assert time.monotonic() - back < 2 * 0.1 + 0.5
                await asyncio.sleep(0.01)
            assert "s1" in {await text(session) for _ in range(4)}

    asyncio.run(main())
