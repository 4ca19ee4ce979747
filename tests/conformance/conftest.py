"""Backend groups are started once per session and shared by every row."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.echo_backends import EchoGroup

from .runner import Certs


@pytest.fixture(scope="session")
def echo_groups() -> Iterator[dict[str, EchoGroup]]:
    """Started lazily, by kind: a run of one row starts only what it needs."""
    groups: dict[str, EchoGroup] = {}
    yield groups
    for group in groups.values():
        group.close()


@pytest.fixture
def echo_group(request: pytest.FixtureRequest, echo_groups: dict[str, EchoGroup]) -> EchoGroup:
    kind = request.param
    if kind not in echo_groups:
        echo_groups[kind] = EchoGroup(kind, tls_cert=Certs.get().backend, client_ca=Certs.get().ca)
    return echo_groups[kind]
