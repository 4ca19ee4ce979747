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
]
#: Last: the comment also swallows the rule's condition, so it matches every path.
GLUED = ("comment glued", "a#b")

#: (id, `.if` condition): the block answers "then", its `.else` "else".
CONDITIONS = [
    ("defined", "defined(BK_LEX_X)"),
    ("not defined", "defined(BK_LEX_NOPE)"),
    ("defined but empty", "defined(BK_LEX_EMPTY)"),
    ("negation", "!defined(BK_LEX_X)"),
    ("streq with env", 'streq("$BK_LEX_X","hello world")'),
    ("strneq", "strneq(a,b)"),
    ("numbers and operators", "0 || 1 && !0"),
    ("parentheses", "(0 || 1) && 0"),
    ("version_atleast", "version_atleast(2.4)"),
    ("version_before", "version_before(2.6.1)"),
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
    rule = "    http-request return status 200 content-type text/plain string {} if {{ path /{} }}"
    for index, (_, word) in enumerate(WORDS):
        lines.append(rule.format(word, index))
    for index, (_, condition) in enumerate(CONDITIONS):
        lines += [
            f".if {condition}",
            rule.format("then", f"cond{index}"),
            ".else",
            rule.format("else", f"cond{index}"),
            ".endif",
        ]
    lines.append(rule.format(GLUED[1], "glued"))
    return "\n".join(lines) + "\n"


def _our_rules(haproxy: HAProxy) -> list[Line]:
    text = haproxy.config_path.read_text()
    return [
        item
        for item in split_lines(text, file=str(haproxy.config_path), env=ENV)
        if isinstance(item, Line) and item.words[:2] == ("http-request", "return")
    ]


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


def _answer(echo: HAProxy, path: str) -> tuple[str, str]:
    """(HAProxy's answer for `path`, the word balancekit read on the rule for it)."""
    (ours,) = [r for r in _our_rules(echo) if r.words[-2:] == (path, "}")]
    word = ours.words[ours.words.index("string") + 1]
    response = http_request(echo.port("echo"), path)
    assert response.status == 200
    return response.body.decode(), word


@pytest.mark.parametrize("index", range(len(WORDS)), ids=[w[0] for w in WORDS])
def test_same_word_as_haproxy(echo: HAProxy, index: int) -> None:
    theirs, ours = _answer(echo, f"/{index}")
    assert theirs == ours


def test_comment_glued_to_a_word(echo: HAProxy) -> None:
    rules = _our_rules(echo)
    assert rules[-1].words[-1] == "a"  # the condition went into the comment
    assert http_request(echo.port("echo"), "/no-such-rule").body == b"a"


@pytest.mark.parametrize("index", range(len(CONDITIONS)), ids=[c[0] for c in CONDITIONS])
def test_same_conditional_branch_as_haproxy(echo: HAProxy, index: int) -> None:
    theirs, ours = _answer(echo, f"/cond{index}")
    assert theirs == ours
