"""Compiled ACLs: sample fetches → pattern matchers → conditions.

The layering follows HAProxy (sample.c → pattern.c → acl.c): `fetches` reads
typed samples out of a `Request`, `patterns` compiles `-m` matchers, `acl`
holds the named ACLs of one proxy section and `conditions` combines them with
`if`/`unless`, implicit AND, `or`/`||` and `!`.  Everything is compiled when the
configuration loads; evaluating a condition does no I/O and compiles nothing.
"""

from __future__ import annotations

from . import converters, maps, table_converters  # noqa: F401  (register their converters)
from .acl import ACL_KEYWORDS, PREDEFINED_ACLS, Acl, AclExpr, AclSet, AclWarning
from .conditions import Condition
from .fetches import CONVERTERS, FETCHES, SampleExpr, parse_sample_expr
from .patterns import IpSet

__all__ = [
    "ACL_KEYWORDS",
    "CONVERTERS",
    "FETCHES",
    "PREDEFINED_ACLS",
    "Acl",
    "AclExpr",
    "AclSet",
    "AclWarning",
    "Condition",
    "IpSet",
    "SampleExpr",
    "parse_sample_expr",
]
