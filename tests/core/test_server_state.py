"""Server state files read as HAProxy 2.6's server_state.c reads them."""

from __future__ import annotations

import pytest

from balancekit.server_state import (
    CMAINT,
    FDRAIN,
    FMAINT,
    STOPPED,
    StateFileError,
    parse_state_file,
    state_file_path,
)

LINE = "3 be {sid} {name} 127.0.0.1 {op} {admin} {uw} 1 10 1 0 2 6 0 0 0 - 8080 - 0 0 - - 0"


def line(name: str = "s1", op: int = 2, admin: int = 0, uw: int = 1) -> str:
    return LINE.format(sid=name[1:], name=name, op=op, admin=admin, uw=uw)


def test_a_file_gives_each_servers_first_line_with_its_state() -> None:
    text = (
        "1\n# header\n\n"
        + "\n".join(
            [
                line("s1", admin=FMAINT),
                line("s2", op=STOPPED),
                line("s1", admin=0),
                line("s3", uw=7),
            ]
        )
        + "\n"
    )
    states = parse_state_file(text).for_backend("be")
    assert sorted(states) == ["s1", "s2", "s3"]
    assert states["s1"].maintenance and not states["s1"].drain  # the first s1 line wins
    assert states["s2"].op_state == STOPPED
    assert (states["s3"].uweight, states["s3"].iweight, states["s3"].port) == (7, 1, 8080)
    assert parse_state_file(text).for_backend("other") == {}


def test_inherited_admin_bits_are_dropped_and_odd_ones_refused() -> None:
    # IMAINT (0x02) and HMAINT (0x40) are recomputed; CMAINT|FDRAIN is a valid pair.
    text = "1\n" + line("s1", admin=FMAINT | 0x02 | 0x40) + "\n" + line("s2", admin=CMAINT | FDRAIN)
    text += "\n" + line("s3", admin=FMAINT | FDRAIN) + "\n" + line("s4", op=7, uw=300) + "\n"
    states = parse_state_file(text).for_backend("be")
    assert states["s1"].admin_state == FMAINT and not states["s1"].problems
    assert states["s2"].drain and not states["s2"].problems
    assert states["s3"].problems == ("invalid srv_admin_state value '9'",)
    assert states["s4"].problems == (
        "invalid srv_op_state value '7'",
        "invalid srv_uweight value '300'",
    )


@pytest.mark.parametrize(
    ("text", "line_number"),
    [
        ("", 0),  # no version
        ("2\n", 0),  # an unknown version
        ("1 \n", 0),  # junk after it
        ("1\n" + line() + "\n3 be 2 s2 127.0.0.1\n", 2),  # too few fields
        ("1\n" + line(), 1),  # the last line lacks its newline
    ],
)
def test_unusable_files_are_refused_whole(text: str, line_number: int) -> None:
    with pytest.raises(StateFileError) as caught:
        parse_state_file(text)
    assert caught.value.line == line_number


def test_relative_names_are_found_under_the_base() -> None:
    assert state_file_path("be", "/var/lib/haproxy") == "/var/lib/haproxy/be"
    assert state_file_path("be", "/var/lib/haproxy/") == "/var/lib/haproxy/be"
    assert state_file_path("/etc/state", "/var/lib/haproxy") == "/etc/state"
    assert state_file_path("be", None) == "be"
