"""A section balancekit lacks is one error at its header; its lines are not read as
the lines of the proxy above it (which would make each an "unknown keyword")."""

from __future__ import annotations

from balancekit.config import ConfigErrors, load_text

CONFIG = """defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
ring buf
    format rfc3164
    size 32764
mailers m
    mailer smtp1 127.0.0.1:25
listen l
    bind 127.0.0.1:0
    server s1 127.0.0.1:80
"""


def test_unsupported_sections_are_named_once_and_skipped() -> None:
    try:
        load_text(CONFIG, name="t.cfg")
    except ConfigErrors as failure:
        errors = [str(error) for error in failure.errors]
    else:
        raise AssertionError("the config loaded")
    assert errors == [
        "t.cfg:6: 'ring' is an HAProxy keyword that balancekit does not support (a "
        "section: its lines are not read); see docs/configuration.md",
        "t.cfg:9: 'mailers' is an HAProxy keyword that balancekit does not support (a "
        "section: its lines are not read); see docs/configuration.md",
    ]
