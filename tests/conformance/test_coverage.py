"""Every implemented keyword, option, fetch, converter, algorithm, action and ACL flag
has at least one matrix row (or a justified entry in EXEMPT)."""

from __future__ import annotations

import re
from pathlib import Path

from balancekit.acl.acl import PREDEFINED_ACLS
from balancekit.acl.fetches import CONVERTERS, FETCHES, RESPONSE_FETCHES
from balancekit.acl.patterns import MATCH_METHODS
from balancekit.algorithms import ALGORITHM_MODULES
from balancekit.algorithms.spec import HASH_FUNCTIONS, HASH_METHODS
from balancekit.config.keywords import (
    BIND_KEYWORDS,
    CACHE_KEYWORDS,
    HTTP_ERRORS_KEYWORDS,
    KEYWORDS,
    PEERS_KEYWORDS,
    RESOLVERS_KEYWORDS,
    SERVER_KEYWORDS,
    USERLIST_KEYWORDS,
)
from balancekit.response_rules import AFTER_RESPONSE_ACTIONS, RESPONSE_ACTIONS
from balancekit.rules import HTTP_ACTIONS, HTTP_SERVICES

from .matrix import ROWS

#: ACL flags of docs/acl.md ("Flags"); the parser has no table of them.
ACL_FLAGS = ("-i", "-f", "-m", "-n", "-u", "--")

#: What cannot run side by side, and why.  Keep it small.
EXEMPT = {
    "hash:maglev": "balancekit extension: HAProxy 2.6 has no maglev hash-type",
    "hashfn:none": "HAProxy 2.6 refuses it ('only supports sdbm, djb2, crc32, or wt6')",
    "hashfn:murmur3": "HAProxy 2.6 refuses it ('only supports sdbm, djb2, crc32, or wt6')",
    "zero-warning": "a refusal to start, not traffic: compared with `haproxy -c` in "
    "tests/config/test_config_keywords_vs_haproxy.py",
}


def required() -> set[str]:
    names = {k.name for k in KEYWORDS if not k.ignored}
    names |= {f"server:{name}" for name in SERVER_KEYWORDS}
    names |= {f"bind:{name}" for name in BIND_KEYWORDS}
    names |= {f"userlist:{name}" for name in USERLIST_KEYWORDS}
    names |= {f"peers:{name}" for name in PEERS_KEYWORDS}
    names |= {"cache"} | {f"cache:{name}" for name in CACHE_KEYWORDS}
    names |= {"http-errors"} | {f"http-errors:{name}" for name in HTTP_ERRORS_KEYWORDS}
    names |= {"resolvers"} | {f"resolvers:{name}" for name in RESOLVERS_KEYWORDS}
    names |= {f"fetch:{name}" for name in [*FETCHES, *RESPONSE_FETCHES]}
    names |= {f"conv:{name}" for name in CONVERTERS}
    names |= {f"balance:{name}" for name in ALGORITHM_MODULES}
    names |= {f"hash:{name}" for name in HASH_METHODS}
    names |= {f"hashfn:{name}" for name in HASH_FUNCTIONS}
    names |= {f"action:{name}" for name in HTTP_ACTIONS}
    names |= {f"http-response:{name}" for name in RESPONSE_ACTIONS}
    names |= {f"http-after-response:{name}" for name in AFTER_RESPONSE_ACTIONS}
    if HTTP_SERVICES:
        names.add("action:use-service")
    names |= {f"match:{name}" for name in MATCH_METHODS}
    names |= {f"flag:{name}" for name in ACL_FLAGS}
    names |= {f"predef:{name}" for name in PREDEFINED_ACLS}
    return names


def covered() -> set[str]:
    return {name for row in ROWS for name in row.covers}


def test_every_implemented_thing_has_a_row() -> None:
    missing = sorted(required() - covered() - set(EXEMPT))
    assert not missing, f"implemented but in no conformance row: {missing}"


def test_rows_cover_only_known_names() -> None:
    """A typo in `covers` would hide a gap: every name must be a real one."""
    unknown = sorted(covered() - required())
    assert not unknown, f"unknown names in rows' covers: {unknown}"


def test_exemptions_are_still_needed() -> None:
    stale = sorted(name for name in EXEMPT if name not in required() or name in covered())
    assert not stale, f"exemptions no longer needed: {stale}"


def test_row_ids_are_unique() -> None:
    ids = [row.id for row in ROWS]
    assert len(ids) == len(set(ids))


def test_every_divergence_is_documented() -> None:
    """A strict-xfail row and its DIVERGENCES.md entry come and go together."""
    text = (Path(__file__).parent / "DIVERGENCES.md").read_text()
    first_cells = re.findall(r"^\| (`[^|]+?) \|", text, re.M)
    names = {name for cell in first_cells for name in re.findall(r"`([a-z0-9.-]+)`", cell)}
    failing = {row.id for row in ROWS if row.xfail}
    assert not failing - names, f"xfail rows missing from DIVERGENCES.md: {failing - names}"
    assert not names - failing, f"DIVERGENCES.md rows that no longer fail: {names - failing}"


def test_known_divergences_say_how_they_show() -> None:
    for row in ROWS:
        if row.xfail:
            assert row.diverges, f"{row.id}: give `diverges=` (which differences are expected)"
