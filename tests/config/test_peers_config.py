"""`peers` sections and `localpeer`, read into `Config.peers` (balancekit.config._peers)."""

from __future__ import annotations

from balancekit.config import Peer, load_text

SECTION = """peers fleet
    peer one 127.0.0.1:10001
    peer two 127.0.0.1:10002
    table flags type string len 32 size 100 expire 1m store gpc0
backend be
    stick-table type ip size 100 peers fleet store conn_cnt
    server s 127.0.0.1:1
"""


def test_the_local_peer_comes_from_localpeer() -> None:
    config = load_text("global\n    localpeer two\n" + SECTION, env={}).config
    section = config.peers["fleet"]
    assert section.local == "two"
    assert section.listen == ("127.0.0.1", 10002)
    assert section.remotes == (Peer("one", ("127.0.0.1", 10001), False, "<string>", 4),)
    # The wire names: a proxy's table by the proxy's name, the section's own as `/<name>`.
    assert set(section.tables) == {"/flags", "be"}
    assert section.tables["/flags"] is config.tables["fleet/flags"]
    assert section.tables["be"] is config.tables["be"]
    assert config.tables["be"].updates is None  # logging starts with the service


def test_the_command_line_name_beats_localpeer() -> None:
    text = "global\n    localpeer two\n" + SECTION
    config = load_text(text, env={"HAPROXY_LOCALPEER": "one"}).config
    assert config.peers["fleet"].local == "one"
    assert config.peers["fleet"].listen == ("127.0.0.1", 10001)


def test_bind_and_server_lines() -> None:
    text = """global
    localpeer one
peers fleet
    bind 127.0.0.1:10005
    server one
    server two 127.0.0.1:10002
"""
    section = load_text(text, env={}).config.peers["fleet"]
    assert section.listen == ("127.0.0.1", 10005)
    assert [p.name for p in section.remotes] == ["two"]


def test_a_section_without_this_process_is_dropped_with_haproxys_warning() -> None:
    """Its proxy tables then sync with nobody: HAProxy 2.6 runs such a file too."""
    result = load_text("global\n    localpeer three\n" + SECTION, env={})
    assert not result.config.peers
    assert "be" in result.config.tables
    assert "Removing incomplete section 'peers fleet' (no peer named 'three')." in [
        w.message for w in result.warnings
    ]


def test_a_disabled_section_syncs_nothing() -> None:
    text = "global\n    localpeer one\n" + SECTION.replace(
        "peers fleet\n", "peers fleet\n    disabled\n"
    )
    config = load_text(text, env={}).config
    assert not config.peers
    assert "fleet/flags" in config.tables
