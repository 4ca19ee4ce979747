"""Fixtures for the L4 tests: an event loop thread (asyncio and uvloop)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from l4_harness import LoopThread


@pytest.fixture(params=["asyncio", "uvloop"])
def lt(request: pytest.FixtureRequest) -> Iterator[LoopThread]:
    """The forwarder's loop; relay tests run on both event loop implementations."""
    thread = LoopThread(use_uvloop=request.param == "uvloop")
    yield thread
    thread.close()


@pytest.fixture
def lt1() -> Iterator[LoopThread]:
    """One asyncio loop, for tests whose subject is not the loop implementation."""
    thread = LoopThread()
    yield thread
    thread.close()
