"""`use-server` rules (balancekit.server_rules), as HAProxy's process_server_rules."""

from __future__ import annotations

from balancekit.config import load_text
from balancekit.config.runtime import BackendRuntime
from balancekit.request import Request
from balancekit.server_rules import choose_server

CONFIG = """
defaults
    mode http
backend be
    use-server s3 if { path_beg /three }
    use-server s2 if { path_beg /three }
    use-server %[req.hdr(x-srv)] if { req.hdr(x-srv) -m found }
    use-server s1 unless { path_beg /three } || { req.hdr(x-srv) -m found }
    server s1 127.0.0.1:1
    server s2 127.0.0.1:2
    server s3 127.0.0.1:3
"""


def _backend(text: str = CONFIG) -> BackendRuntime:
    return load_text(text, name="t.cfg", env={}).config.backends["be"]


def _choose(
    be: BackendRuntime, path: str, headers: tuple[tuple[str, str], ...] = (), **kw: bool
) -> str | None:
    request = Request("10.0.0.1", path=path, headers=list(headers))
    return choose_server(be.server_rules, request, be.backend, **kw)


def test_the_first_matching_rule_with_a_live_server_wins() -> None:
    be = _backend()
    assert _choose(be, "/three") == "s3"
    assert _choose(be, "/other") == "s1"  # `unless`
    be.backend.set_health("s3", False)
    assert _choose(be, "/three") == "s2"  # s3 down: the next matching rule
    be.backend.set_state("s2", "maint")
    assert _choose(be, "/three") is None  # no rule left: balance
    assert _choose(be, "/three", persist=True) == "s3"  # option persist / force-persist


def test_a_log_format_name_is_rendered_per_request() -> None:
    be = _backend()
    assert _choose(be, "/x", (("x-srv", "s2"),)) == "s2"
    # A name that is no server ends the walk (HAProxy's `break`), even with rules left.
    assert _choose(be, "/x", (("x-srv", "nosuch"),)) is None


def test_nolb_and_drain_servers_still_take_rules() -> None:
    be = _backend()
    be.backend.set_stopping("s3", True)
    assert _choose(be, "/three") == "s3"
    be.backend.set_state("s3", "drain")
    assert _choose(be, "/three") == "s3"
