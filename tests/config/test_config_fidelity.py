"""Lines that real configs carry and HAProxy 2.6 reads leniently (or strictly):
balancekit must give the same verdict and the same reading, side by side with
`haproxy -c`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from balancekit.config import ConfigErrors, load, load_text, parse_time
from support.haproxy import HAPROXY, require_haproxy

TIMEOUTS = """\
defaults
    mode http
    timeout connect 5s
    timeout client {client}
    timeout server 5s
listen web
    bind 127.0.0.1:18080
    server s1 127.0.0.1:8080
"""


def haproxy_check(path: Path) -> subprocess.CompletedProcess[str]:
    require_haproxy()
    return subprocess.run(
        [HAPROXY, "-c", "-f", str(path)], capture_output=True, text=True, timeout=60
    )


def write(tmp_path: Path, text: str, name: str = "haproxy.cfg") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def test_a_file_whose_last_line_lacks_a_newline_is_refused_like_haproxy(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, TIMEOUTS.format(client="30s").rstrip("\n"))
    real = haproxy_check(path)
    assert real.returncode != 0
    assert "Missing LF on last line" in real.stderr
    with pytest.raises(ConfigErrors) as failure:
        load(path)
    message = str(failure.value)
    assert f"{path}:8: Missing LF on last line" in message
    # HAProxy counts the position from 1 past the last character of that line.
    assert "truncated at position 29" in message
    assert "truncated at position 29" in real.stderr


def test_the_same_text_with_its_newline_loads(tmp_path: Path) -> None:
    path = write(tmp_path, TIMEOUTS.format(client="30s"))
    assert haproxy_check(path).returncode == 0
    assert load(path).config.frontend("web").timeout_client == 30.0


@pytest.mark.parametrize(
    ("word", "seconds"),
    [("15min", 900.0), ("10sec", 10.0), ("2msx", 0.002), ("1hr", 3600.0), ("2dd", 172800.0)],
)
def test_a_unit_followed_by_junk_warns_and_reads_the_unit(
    tmp_path: Path, word: str, seconds: float
) -> None:
    path = write(tmp_path, TIMEOUTS.format(client=word))
    real = haproxy_check(path)
    assert real.returncode == 0, real.stderr
    assert f"after the timer value '{word}'" in real.stderr
    result = load(path)
    assert result.config.frontend("web").timeout_client == pytest.approx(seconds)
    warnings = [str(w) for w in result.warnings]
    assert any(f"{path}:4: " in w and f"'{word}'" in w for w in warnings), warnings


@pytest.mark.parametrize("word", ["2x", "x", "1.5s"])
def test_junk_without_a_unit_is_an_error_in_both(tmp_path: Path, word: str) -> None:
    path = write(tmp_path, TIMEOUTS.format(client=word))
    assert haproxy_check(path).returncode != 0
    with pytest.raises(ConfigErrors) as failure:
        load(path)
    assert f"{path}:4: " in str(failure.value)


def test_the_library_parser_stays_strict_without_a_warning_sink() -> None:
    with pytest.raises(ValueError, match="after the timer value '15min'"):
        parse_time("15min")
    notes: list[str] = []
    assert parse_time("15min", warnings=notes) == 900.0
    assert len(notes) == 1


def test_server_times_warn_with_their_line_too() -> None:
    text = TIMEOUTS.format(client="5s").replace(
        "server s1 127.0.0.1:8080", "server s1 127.0.0.1:8080 check inter 3sx"
    )
    result = load_text(text, name="t.cfg")
    server = result.config.backend("web").backend.member("s1").server
    assert server.inter == 3.0
    assert any(w.line == 8 and "'3sx'" in w.message for w in result.warnings)


STATS_WORDS = """\
defaults
    mode http
    timeout connect 5s
    timeout client 5s
    timeout server 5s
listen web
    bind 127.0.0.1:18080
    stats enable enable
    stats uri uri /stats
    stats realm HAProxy Statistics
    stats auth admin:secret
    server s1 127.0.0.1:8080
"""


def test_extra_words_after_stats_keywords_are_ignored_like_haproxy(tmp_path: Path) -> None:
    path = write(tmp_path, STATS_WORDS)
    assert haproxy_check(path).returncode == 0
    result = load(path)
    page = result.config.frontend("web").stats
    assert page is not None
    # HAProxy reads the first word only: the realm is "HAProxy", the URI "uri".
    assert page.realm == "HAProxy"
    assert page.uri == "uri"
    warned = {w.line for w in result.warnings if "ignoring extra words" in w.message}
    assert warned == {8, 9, 10}
