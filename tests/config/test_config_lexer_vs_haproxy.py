"""The tokenizer against HAProxy 2.6 itself: HAProxy echoes each parsed word back.

Each case is the argument of `http-request return … string <WORD>`; HAProxy
answers with that word, exactly as its own tokenizer produced it, and the test
compares it with what balancekit's lexer makes of the same line of the same file.
"""

from __future__ import annotations

import os

import pytest

from balancekit.config.lexer import Line, split_lines
from support.client import http_request
from support.haproxy import HAProxy

pytestmark = pytest.mark.haproxy

ENV = {"BK_LEX_X": "hello world", "BK_LEX_EMPTY": ""}

#: (id, the word as written in the config)
WORDS = [
    ("double quotes keep spaces", '"a  b"'),
    ("single quotes keep spaces", "'a  b'"),
    ("escaped space", r"a\ b"),
    ("$VAR", '"$BK_LEX_X"'),
    ("${VAR}", '"<${BK_LEX_X}>"'),
    ("${VAR-default} unset", '"${BK_LEX_NOPE-fall back}"'),
    ("${VAR-default} set but empty", '"[${BK_LEX_EMPTY-d}]"'),
    ("unset var", '"[$BK_LEX_NOPE]"'),
    ("single quotes are literal", "'$BK_LEX_X \\x41'"),
    ("$ outside quotes", "$BK_LEX_X"),
    ("escaped $ in double quotes", r'"\$BK_LEX_X"'),
    ("hex escapes", r"\x41\x42"),
    ("escaped hash", r"a\#b"),
    ("quotes glued", 'pre"mid dle"post'),
    ("apostrophe in double quotes", '"it\'s"'),
    ("double quotes in single", "'say \"hi\"'"),
    ("escaped double quotes", r"\"q\""),
    ("escaped backslash", r"a\\b"),
    ("other backslash kept", r"^/a\.b\d"),
    ("hash inside quotes", '"a # b"'),
    ("tab escape", r"a\tb"),
    ("pseudo variable .LINE", '"line $.LINE"'),
    ("pseudo variable .SECTION", '"${.SECTION}"'),
    # Last: the comment also swallows this rule's condition, so it matches every path.
    ("comment glued", "a#b"),
]


def _config() -> str:
    lines = [
        "defaults",
        "    mode http",
        "    timeout connect 5s",
        "    timeout client 5s",
        "    timeout server 5s",
        "frontend echo",
        "    bind {listen:echo}",
    ]
    for index, (_, word) in enumerate(WORDS):
        lines.append(
            f"    http-request return status 200 content-type text/plain string {word} "
            f"if {{ path /{index} }}"
        )
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def echo() -> object:
    saved = {k: os.environ.get(k) for k in ENV}
    os.environ.update(ENV)
    try:
        with HAProxy(_config()) as haproxy:
            yield haproxy
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.mark.parametrize("index", range(len(WORDS)), ids=[w[0] for w in WORDS])
def test_same_word_as_haproxy(echo: HAProxy, index: int) -> None:
    text = echo.config_path.read_text()
    ours = [
        item
        for item in split_lines(text, file=str(echo.config_path), env=ENV)
        if isinstance(item, Line) and item.words[:2] == ("http-request", "return")
    ][index]
    word = ours.words[ours.words.index("string") + 1]
    response = http_request(echo.port("echo"), f"/{index}")
    assert response.status == 200
    assert response.body.decode() == word
