"""Fixtures for the L7 proxy tests (harness in `l7_harness.py`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from l7_harness import RunningAsgi, RunningProxy


@pytest.fixture(params=["fast", "asgi"])
def front(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Start the proxy with the fast server or as ASGI app under uvicorn."""
    started: list[Any] = []

    def start(router: Any, backends: dict[str, Any], frontend: Any = None) -> Any:
        cls = RunningProxy if request.param == "fast" else RunningAsgi
        running = cls(router, backends, frontend)
        started.append(running)
        return running

    yield start
    for running in started:
        running.close()


@pytest.fixture
def fast() -> Iterator[Callable[..., RunningProxy]]:
    started: list[RunningProxy] = []

    def start(router: Any, backends: dict[str, Any], frontend: Any = None, **kw: Any):
        running = RunningProxy(router, backends, frontend, **kw)
        started.append(running)
        return running

    yield start
    for running in started:
        running.close()
