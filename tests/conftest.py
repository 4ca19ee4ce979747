"""Suite-wide fixtures.  `tests/` is on sys.path, so test modules import `support.*`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trustme

from support.backends import NamedBackends


@pytest.fixture
def named_backends() -> Iterator[NamedBackends]:
    """Three loopback HTTP servers answering with their own name (s1, s2, s3)."""
    with NamedBackends(["s1", "s2", "s3"]) as backends:
        yield backends


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    """A certificate authority for the suite's TLS tests (trustme)."""
    return trustme.CA()
