"""The tokenizer and the value units, as tables against HAProxy 2.6's parse_line."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from balancekit.config import ConfigWarning, parse_size, parse_time, split_words
from balancekit.config.lexer import Line, split_lines
from balancekit.errors import ConfigError

ENV = {"HOST": "127.0.0.1", "PORT": "8080", "EMPTY": ""}

WORDS = [
    ("plain", "bind 127.0.0.1:80", ("bind", "127.0.0.1:80")),
    ("NBSP is not a separator", "x a\u00a0b", ("x", "a\u00a0b")),
    ("vertical tab and form feed separate", "x a\vb\fc", ("x", "a", "b", "c")),
    ("leading and inner blanks", "  \tserver   s1\t 127.0.0.1:1 ", ("server", "s1", "127.0.0.1:1")),
    ("comment", "mode tcp  # Operating in TCP mode", ("mode", "tcp")),
    ("comment glued", "mode tcp#x", ("mode", "tcp")),
    ("only a comment", "   # nothing", ()),
    ("escaped space", r"log-format a\ b", ("log-format", "a b")),
    ("escaped hash", r"acl x path_beg /a\#b", ("acl", "x", "path_beg", "/a#b")),
    ("escaped backslash", r"x a\\b", ("x", "a\\b")),
    ("escaped quotes", r"""x \"a\' """, ("x", "\"a'")),
    ("tab newline escapes", r"x a\tb\nc\rd", ("x", "a\tb\nc\rd")),
    ("hex escape", r"x \x41\x7a", ("x", "Az")),
    ("other backslash kept", r"acl r path_reg ^/a\.b\d", ("acl", "r", "path_reg", "^/a\\.b\\d")),
    ("double quotes keep spaces", 'x "a  b" c', ("x", "a  b", "c")),
    ("double quotes keep hash", 'x "a # b"', ("x", "a # b")),
    ("single quotes keep spaces", "x 'a  b'", ("x", "a  b")),
    ("quotes glue to a word", 'x pre"mid dle"post', ("x", "premid dlepost")),
    ("single quotes are literal", r"x '$HOST \x41 \"'", ("x", '$HOST \\x41 \\"')),
    ("double quote inside single", "x 'a\"b'", ("x", 'a"b')),
    ("single quote inside double", 'x "a\'b"', ("x", "a'b")),
    ("$VAR in double quotes", 'bind "$HOST:$PORT"', ("bind", "127.0.0.1:8080")),
    ("${VAR} in double quotes", 'bind "${HOST}:${PORT}"', ("bind", "127.0.0.1:8080")),
    ("${VAR-default} unset", 'x "${NOPE-fallback value}"', ("x", "fallback value")),
    ("${VAR-default} set", 'x "${PORT-1}"', ("x", "8080")),
    ("${VAR-default} empty is set", 'x "${EMPTY-d}"', ("x", "")),
    ("unset var is empty", 'x "a${NOPE}b"', ("x", "ab")),
    ("$ outside quotes is literal", "x $HOST", ("x", "$HOST")),
    ("escaped $ in double quotes", r'x "\$HOST"', ("x", "$HOST")),
    ("inner empty word kept", 'x "" y', ("x", "", "y")),
    ("trailing empty word dropped", 'x ""', ("x",)),
    ("pseudo var .LINE", 'x "$.LINE"', ("x", "7")),
    ("pseudo var .FILE", 'x "${.FILE}"', ("x", "t.cfg")),
]


@pytest.mark.parametrize(("text", "expected"), [w[1:] for w in WORDS], ids=[w[0] for w in WORDS])
def test_split_words(text: str, expected: tuple[str, ...]) -> None:
    assert split_words(text, env=ENV, file="t.cfg", line=7) == expected


BAD = [
    ("unmatched double quote", 'x "abc', "unmatched quote at position 3"),
    ("unmatched single quote", "x  'abc", "unmatched quote at position 4"),
    ("bad hex", r"x \xZZ", "truncated or invalid hexadecimal sequence at position 3"),
    ("truncated hex", "x \\x4", "truncated or invalid hexadecimal sequence at position 3"),
    ("unmatched brace", 'x "${HOST"', "unmatched brace in environment variable name at position 5"),
    ("brace default unclosed", 'x "${A-b"', "unmatched brace in environment variable name"),
    ("bad var name", 'x "$1"', "forbidden first char in environment variable name at position 5"),
    ("unknown pseudo var", 'x "$.NOPE"', "unsupported internal variable name"),
]


@pytest.mark.parametrize(("text", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_split_words_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        split_words(text, env=ENV, file="t.cfg", line=3)
    assert message in info.value.message
    assert (info.value.file, info.value.line) == ("t.cfg", 3)
    assert str(info.value).startswith("t.cfg:3: ")


def test_split_lines_keeps_line_numbers_and_reports_bad_lines() -> None:
    text = 'global\n\n  # c\n    maxconn 10\n    x "open\n    nbthread 2\n'
    items = list(split_lines(text, file="f.cfg", env={}))
    assert items[0] == Line(("global",), "f.cfg", 1)
    assert items[1] == Line(("maxconn", "10"), "f.cfg", 4)
    assert isinstance(items[2], ConfigError) and items[2].line == 5
    assert items[3] == Line(("nbthread", "2"), "f.cfg", 6)


def test_section_pseudo_variable_is_the_section_name() -> None:
    text = 'global\n  x "$.SECTION"\nfrontend web\n  x "$.SECTION"\n'
    items = list(split_lines(text, file="f", env={}))
    assert items[1] == Line(("x", "global"), "f", 2)
    assert items[3] == Line(("x", "web"), "f", 4)


TIMES = [
    ("5000", 5.0),
    ("5000ms", 5.0),
    ("5s", 5.0),
    ("300s", 300.0),
    ("2m", 120.0),
    ("1h", 3600.0),
    ("1d", 86400.0),
    ("1500us", 0.0015),
    ("0", 0.0),
]


@pytest.mark.parametrize(("word", "seconds"), TIMES, ids=[t[0] for t in TIMES])
def test_parse_time(word: str, seconds: float) -> None:
    assert parse_time(word) == pytest.approx(seconds)


def test_parse_time_default_unit_can_be_seconds() -> None:
    assert parse_time("10", default_unit="s") == 10.0


BAD_TIMES = [
    ("5x", "unexpected character 'x' in time value '5x'"),
    ("5 s", "unexpected character ' '"),
    ("ms", "expected a time value, got 'ms'"),
    ("", "expected a time value, got ''"),
    ("25d", "timer overflow in '25d'"),
]


@pytest.mark.parametrize(("word", "message"), BAD_TIMES, ids=[b[0] or "empty" for b in BAD_TIMES])
def test_parse_time_errors(word: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        parse_time(word)


SIZES = [("16384", 16384), ("16k", 16384), ("16K", 16384), ("1m", 1 << 20), ("2g", 2 << 30)]


@pytest.mark.parametrize(("word", "size"), SIZES, ids=[s[0] for s in SIZES])
def test_parse_size(word: str, size: int) -> None:
    assert parse_size(word) == size


@pytest.mark.parametrize("word", ["16kb", "k", "-1", "4g"])
def test_parse_size_errors(word: str) -> None:
    with pytest.raises(ValueError, match=word):
        parse_size(word)


# -- conditional blocks --------------------------------------------------------------------


def _kept(text: str, env: dict[str, str] | None = None) -> list[object]:
    return [
        item.words[0] if isinstance(item, Line) else item
        for item in split_lines(text, file="c.cfg", env=env or {})
    ]


BLOCKS = [
    ("if true", ".if 1\na\n.endif\nb\n", ["a", "b"]),
    ("if false", ".if 0\na\n.endif\nb\n", ["b"]),
    ("else", ".if 0\na\n.else\nb\n.endif\n", ["b"]),
    ("elif", ".if 0\na\n.elif 1\nb\n.elif 1\nc\n.else\nd\n.endif\n", ["b"]),
    ("first true wins", ".if 1\na\n.elif 1\nb\n.else\nc\n.endif\n", ["a"]),
    ("nested in false", ".if 0\n.if 1\na\n.else\nb\n.endif\n.else\nc\n.endif\n", ["c"]),
    ("nested in true", ".if 1\n.if 0\na\n.else\nb\n.endif\n.endif\n", ["b"]),
    ("defined", ".if defined(X)\na\n.endif\n", ["a"]),
    ("and or not", ".if !defined(NOPE) && (0 || defined(X))\na\n.endif\n", ["a"]),
    ("streq", '.if streq("$X",on)\na\n.endif\n', ["a"]),
    ("strneq", ".if strneq(a,a)\na\n.endif\n", []),
    ("version", ".if version_atleast(2.6) && version_before(2.7)\na\n.endif\n", ["a"]),
    ("hex number", ".if 0x10\na\n.endif\n", ["a"]),
    ("unknown keyword in a false block is skipped", ".if 0\nbogus\n.endif\n", []),
]


@pytest.mark.parametrize(("text", "kept"), [b[1:] for b in BLOCKS], ids=[b[0] for b in BLOCKS])
def test_conditional_blocks(text: str, kept: list[str]) -> None:
    assert _kept(text, {"X": "on"}) == kept


BLOCK_ERRORS = [
    ("lone elif", ".elif 1\n", 1, "lone '.elif' with no matching '.if'"),
    ("lone else", ".else\n", 1, "lone '.else' with no matching '.if'"),
    ("lone endif", ".endif\n", 1, "lone '.endif' with no matching '.if'"),
    ("elif after else", ".if 0\n.else\n.elif 1\n.endif\n", 3, "'.elif' after '.else'"),
    ("else after else", ".if 0\n.else\n.else\n.endif\n", 3, "'.else' after '.else'"),
    ("else argument", ".if 0\n.else 1\n.endif\n", 2, "unexpected argument '1' for '.else'"),
    ("non-terminated", "a\n.if 1\nb\n", 2, "non-terminated '.if' block"),
    ("unparsable", ".if maybe\n.endif\n", 1, "unparsable conditional expression 'maybe' in '.if'"),
    ("empty", ".if\n.endif\n", 1, "empty conditional expression"),
    ("unclosed paren", ".if (1\n.endif\n", 1, "expected ')'"),
    ("trailing", ".if 1 2\n.endif\n", 1, "unexpected '2' in conditional expression"),
    ("unknown predicate", ".if exists(X)\n.endif\n", 1, "unknown predicate 'exists'"),
    ("feature", ".if feature(OPENSSL)\n.endif\n", 1, "predicate 'feature' describes"),
    ("arity", ".if streq(a)\n.endif\n", 1, "predicate 'streq' expects 2 argument(s)"),
    ("alert", '.alert "stop here"\n', 1, "'stop here'"),
    ("message words", ".warning two words\n", 1, "'.warning' expects one message"),
    ("bad quoting even in a false block", '.if 0\nx "open\n.endif\n', 2, "unmatched quote"),
    ("unknown directive", ".include x.cfg\n", 1, "unknown directive '.include'"),
]


@pytest.mark.parametrize(
    ("text", "line", "message"), [b[1:] for b in BLOCK_ERRORS], ids=[b[0] for b in BLOCK_ERRORS]
)
def test_conditional_block_errors(text: str, line: int, message: str) -> None:
    errors = [i for i in split_lines(text, file="c.cfg", env={}) if isinstance(i, ConfigError)]
    assert len(errors) == 1, errors
    assert (errors[0].file, errors[0].line) == ("c.cfg", line)
    assert message in errors[0].message


@pytest.mark.parametrize("directive", [".warning", ".notice", ".diag"])
def test_message_directives_are_warnings(directive: str) -> None:
    items = list(split_lines(f'global\n{directive} "check me"\n', file="c.cfg", env={}))
    assert items[1] == ConfigWarning("check me", "c.cfg", 2)


def test_warning_directive_in_a_false_block_is_silent() -> None:
    assert _kept('.if 0\n.warning "x"\n.alert "y"\n.endif\n') == []


# -- property: any word survives HAProxy's escaping ----------------------------------------


def _escape(word: str) -> str:
    """Write `word` so that HAProxy reads it back as one word (backslash escapes)."""
    out = []
    for char in word:
        if char in " #\\'\"":
            out.append("\\" + char)
        elif char in "\t\n\r":
            out.append({"\t": "\\t", "\n": "\\n", "\r": "\\r"}[char])
        elif char in "\v\f":
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out)


_WORD = st.text(st.characters(min_codepoint=1, max_codepoint=255), min_size=1, max_size=12)


@given(st.lists(_WORD, min_size=1, max_size=6))
def test_escaped_words_round_trip(words: list[str]) -> None:
    line = " ".join(_escape(w) for w in words)
    assert split_words(line, env={}) == tuple(words)


@given(st.lists(_WORD.filter(lambda w: "'" not in w and "\n" not in w and "\r" not in w),
                min_size=1, max_size=6))  # fmt: skip
def test_single_quoted_words_round_trip(words: list[str]) -> None:
    assert split_words(" ".join(f"'{w}'" for w in words), env={}) == tuple(words)
