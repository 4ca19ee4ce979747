"""Group tokenized lines into sections and recognize every keyword.

This is the step that decides, for each line, "known, allowed here" or "error
with file:line": unknown keywords get a did-you-mean suggestion, keywords in
the wrong kind of section get HAProxy's own verdict (an error in `defaults`, a
warning where a proxy lacks the capability).  Meaning is applied later, in
`build`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from typing import Literal, get_args

from ..errors import ConfigError
from .keywords import (
    CACHE_KEYWORDS,
    FAMILIES,
    HAPROXY_ONLY,
    HTTP_ERRORS_KEYWORDS,
    KEYWORDS,
    PEERS_KEYWORDS,
    REMOVED,
    RESOLVERS_KEYWORDS,
    SECTION_LETTER,
    USERLIST_KEYWORDS,
    Keyword,
    lookup,
    suggest,
)
from .lexer import Line
from .model import ParsedConfig, Section, SectionKind, Statement
from .runtime import ConfigWarning

__all__ = ["parse_sections"]

_SECTIONS: tuple[SectionKind, ...] = get_args(SectionKind)

#: HAProxy 2.6's other sections: one error at the header, their lines skipped (they
#: are the section's, not the proxy's above).
_UNSUPPORTED_SECTIONS = frozenset({"mailers", "program", "ring", "fcgi-app"})

#: HAProxy's other `peers` section keywords.
_PEERS_UNSUPPORTED = frozenset({"default-server", "default-bind", "log", "shards"})

_NAME = re.compile(r"^[A-Za-z0-9_.:-]+$")


class _Open:
    """A section being filled."""

    def __init__(self, kind: SectionKind, name: str, file: str, line: int) -> None:
        self.kind: SectionKind = kind
        self.name = name
        self.file = file
        self.line = line
        self.from_name: str | None = None
        self.statements: list[Statement] = []
        self.defaults: int | None = None


def parse_sections(
    lines: Iterable[Line | ConfigError | ConfigWarning],
    errors: list[ConfigError],
    warnings: list[ConfigWarning],
    files: tuple[str, ...] = (),
) -> ParsedConfig:
    """Build the frozen model; append problems to `errors` / `warnings`."""
    done: list[Section] = []
    current: _Open | None = None
    last_defaults: int | None = None
    named_defaults: dict[str, int] = {}
    proxy_names: dict[tuple[str, str], str] = {}

    def close() -> None:
        nonlocal last_defaults
        if current is None:
            return
        done.append(
            Section(
                current.kind,
                current.name,
                tuple(current.statements),
                current.file,
                current.line,
                current.defaults,
            )
        )
        if current.kind == "defaults":
            last_defaults = len(done) - 1
            if current.name:
                named_defaults[current.name] = last_defaults

    skipping = False  # inside a section balancekit does not support
    for item in lines:
        if isinstance(item, ConfigError):
            errors.append(item)
            continue
        if isinstance(item, ConfigWarning):
            warnings.append(item)
            continue
        words = item.words
        if words[0] in _UNSUPPORTED_SECTIONS:
            close()
            current, skipping = None, True
            errors.append(
                ConfigError(
                    f"'{words[0]}' is an HAProxy keyword that balancekit does not support (a "
                    "section: its lines are not read); see docs/configuration.md",
                    item.file,
                    item.line,
                )
            )
            continue
        if words[0] in _SECTIONS:
            close()
            current, skipping = None, False
            try:
                current = _open_section(item, named_defaults, last_defaults, proxy_names)
            except ConfigError as error:
                errors.append(error)
                # Keep reading into a throwaway section so its lines are still checked.
                kind = words[0]
                assert kind in _SECTIONS
                current = _Open(kind, "", item.file, item.line)
            continue
        if skipping:
            continue
        if current is None:
            message = (
                f"'{words[0]}' is an HAProxy keyword that balancekit does not support; "
                "see docs/configuration.md"
                if words[0] in HAPROXY_ONLY
                else f"unknown keyword '{words[0]}' out of section "
                "(expected global, defaults, frontend, backend, listen, userlist, peers, cache or "
                "http-errors)"
            )
            errors.append(ConfigError(message, item.file, item.line))
            continue
        if current.kind in _KEYWORDS_OF:
            statement = _listed_statement(item, current.kind, errors)
        elif current.kind == "peers":
            statement = _peers_statement(item, errors)
        else:
            statement = _statement(item, current, errors, warnings)
        if statement is not None:
            current.statements.append(statement)
    close()
    return ParsedConfig(tuple(done), files)


def _open_section(
    item: Line,
    named_defaults: dict[str, int],
    last_defaults: int | None,
    proxy_names: dict[tuple[str, str], str],
) -> _Open:
    words = item.words
    kind = words[0]
    assert kind in _SECTIONS
    args = list(words[1:])
    if kind == "global":
        if args:
            raise ConfigError(f"'global' takes no argument, got '{args[0]}'", item.file, item.line)
        return _Open("global", "", item.file, item.line)
    if kind == "http-errors":
        if not args:
            raise ConfigError("missing name for http-errors section.", *_loc(item))
        if not _NAME.match(args[0]):
            bad = next(c for c in args[0] if not _NAME.match(c))
            raise ConfigError(
                f"character '{bad}' is not permitted in 'http-errors' name '{args[0]}'.",
                *_loc(item),
            )
        previous = proxy_names.get(("http-errors", args[0]))
        if previous is not None:
            raise ConfigError(
                f"http-errors section '{args[0]}' already exists (declared at {previous}).",
                *_loc(item),
            )
        proxy_names[("http-errors", args[0])] = f"{item.file}:{item.line}"
        return _Open(kind, args[0], item.file, item.line)
    if kind == "resolvers":
        if not args:
            raise ConfigError("missing name for resolvers section.", *_loc(item))
        if not _NAME.match(args[0]):
            bad = next(c for c in args[0] if not _NAME.match(c))
            raise ConfigError(
                f"character '{bad}' is not permitted in 'resolvers' name '{args[0]}'.",
                *_loc(item),
            )
        previous = proxy_names.get(("resolvers", args[0]))
        if previous is not None:
            raise ConfigError(
                f"resolvers '{args[0]}' has same name as another resolvers (declared at "
                f"{previous}).",
                *_loc(item),
            )
        proxy_names[("resolvers", args[0])] = f"{item.file}:{item.line}"
        return _Open(kind, args[0], item.file, item.line)
    if kind == "cache":
        if not args:
            raise ConfigError("'cache' expects a <name> argument", *_loc(item))
        if len(args) > 1:
            raise ConfigError(
                f"'cache' cannot handle unexpected argument '{args[1]}'.", *_loc(item)
            )
        previous = proxy_names.get(("cache", args[0]))
        if previous is not None:
            raise ConfigError(f"Duplicate cache name '{args[0]}'.", *_loc(item))
        proxy_names[("cache", args[0])] = f"{item.file}:{item.line}"
        return _Open(kind, args[0], item.file, item.line)
    if kind in ("userlist", "peers"):
        if len(args) != 1:
            message = (
                "expects <name> as arguments" if not args else "cannot handle unexpected argument"
            )
            raise ConfigError(f"'{kind}' {message}", *_loc(item))
        if not _NAME.match(args[0]):
            raise ConfigError(
                f"invalid character in {kind} name '{args[0]}' "
                "(letters, digits, '-', '_', '.' and ':' only)",
                *_loc(item),
            )
        if kind == "peers":
            previous = proxy_names.get(("peers", args[0]))
            if previous is not None:
                raise ConfigError(
                    f"peers section '{args[0]}' has the same name as another peers section "
                    f"declared at {previous}",
                    *_loc(item),
                )
            proxy_names[("peers", args[0])] = f"{item.file}:{item.line}"
        return _Open(kind, args[0], item.file, item.line)
    from_name: str | None = None
    if "from" in args:
        at = args.index("from")
        if at + 1 >= len(args):
            raise ConfigError(f"'{kind}': 'from' expects a defaults section name", *_loc(item))
        from_name = args[at + 1]
        if at + 2 < len(args):
            raise ConfigError(f"'{kind}': unexpected '{args[at + 2]}' after 'from'", *_loc(item))
        args = args[:at]
    name = args[0] if args else ""
    if len(args) > 1:
        raise ConfigError(f"'{kind} {name}': unexpected argument '{args[1]}'", *_loc(item))
    if kind != "defaults" and not name:
        raise ConfigError(f"'{kind}' needs a name", *_loc(item))
    if name and not _NAME.match(name):
        raise ConfigError(
            f"invalid character in {kind} name '{name}' "
            "(letters, digits, '-', '_', '.' and ':' only)",
            *_loc(item),
        )
    section = _Open(kind, name, item.file, item.line)
    if from_name is not None:
        if from_name not in named_defaults:
            raise ConfigError(
                f"'{kind} {name}': no defaults section named '{from_name}' above", *_loc(item)
            )
        section.defaults = named_defaults[from_name]
    elif kind != "defaults":
        # A defaults section without `from` resets everything; proxies take the last one.
        section.defaults = last_defaults
    if kind != "defaults":
        # Frontends and backends have separate namespaces; a listen is both.
        spaces = ("frontend", "backend") if kind == "listen" else (kind,)
        for space in spaces:
            previous = proxy_names.get((space, name))
            if previous is not None:
                raise ConfigError(
                    f"{kind} '{name}' has the same name as the {previous}", *_loc(item)
                )
        for space in spaces:
            proxy_names[(space, name)] = f"{kind} '{name}' declared at {item.file}:{item.line}"
    return section


def _loc(item: Line) -> tuple[str, int]:
    return item.file, item.line


def _statement(
    item: Line, section: _Open, errors: list[ConfigError], warnings: list[ConfigWarning]
) -> Statement | None:
    words = item.words
    prefix: Literal["", "no", "default"] = ""
    if words[0] == "no" and len(words) > 1:
        prefix, words = "no", words[1:]
    elif words[0] == "default" and len(words) > 1:
        prefix, words = "default", words[1:]
    name, entry, span = lookup(words)
    letter = SECTION_LETTER[section.kind]
    proxy_kinds = "dflb"
    in_proxy = letter in proxy_kinds

    def error(message: str) -> None:
        errors.append(ConfigError(message, item.file, item.line))

    if (
        entry is None
        or (in_proxy and not set(entry.sections) & set(proxy_kinds))
        or (not in_proxy and "g" not in entry.sections)
    ):
        error(_unknown(name, words, section.kind))
        return None
    if prefix and not entry.negatable:
        error(f"'{prefix}' prefix is not allowed on '{name}'")
        return None
    statement = Statement(name, words[span:], item.file, item.line, prefix)
    if letter not in entry.sections:
        return _misplaced(statement, entry, section, errors, warnings)
    if entry.ignored:
        warnings.append(
            ConfigWarning(
                f"'{name}' has no effect in balancekit: {entry.ignored}",
                *_sloc(statement),
                ours=True,
            )
        )
    return statement


#: The sections whose lines are a plain list of their own keywords.
_KEYWORDS_OF: dict[str, Collection[str]] = {
    "userlist": USERLIST_KEYWORDS,
    "cache": CACHE_KEYWORDS,
    "http-errors": HTTP_ERRORS_KEYWORDS,
    "resolvers": RESOLVERS_KEYWORDS,
}


def _listed_statement(item: Line, kind: str, errors: list[ConfigError]) -> Statement | None:
    """A line of a `userlist`, `cache`, `http-errors` or `resolvers` section: one of
    its keywords."""
    words = item.words
    if words[0] in _KEYWORDS_OF[kind]:
        return Statement(words[0], words[1:], item.file, item.line)
    errors.append(
        ConfigError(f"unknown keyword '{words[0]}' in '{kind}' section", item.file, item.line)
    )
    return None


def _peers_statement(item: Line, errors: list[ConfigError]) -> Statement | None:
    words = item.words
    if words[0] in PEERS_KEYWORDS:
        return Statement(words[0], words[1:], item.file, item.line)
    if words[0] in _PEERS_UNSUPPORTED:
        message = (
            f"'{words[0]}' is an HAProxy keyword that balancekit does not support "
            "(in 'peers' section); see docs/configuration.md"
        )
    else:
        message = f"unknown keyword '{words[0]}' in 'peers' section"
    errors.append(ConfigError(message, item.file, item.line))
    return None


def _unknown(name: str, words: tuple[str, ...], kind: SectionKind) -> str:
    head = words[0]
    if head in REMOVED:
        return REMOVED[head]
    # Actions with their argument in the word (`tcp-check set-var(check.x)`) go by name.
    bare = re.sub(r"\(.*", "", name)
    if head in HAPROXY_ONLY or name in HAPROXY_ONLY or bare in HAPROXY_ONLY:
        return (
            f"'{name}' is an HAProxy keyword that balancekit does not support "
            f"(in '{kind}' section); see docs/configuration.md"
        )
    if head in FAMILIES and len(words) == 1:
        known = sorted({k.name.split(" ", 2)[1] for k in KEYWORDS if k.name.startswith(head + " ")})
        return f"'{head}' expects one of: {', '.join(known)}"
    what = "option" if head == "option" else "keyword"
    return f"unknown {what} '{name}' in '{kind}' section{suggest(name, kind)}"


def _misplaced(
    statement: Statement,
    entry: Keyword,
    section: _Open,
    errors: list[ConfigError],
    warnings: list[ConfigWarning],
) -> Statement | None:
    """HAProxy's verdicts for a keyword in a section type that cannot use it."""
    name = entry.name
    if section.kind in ("defaults", "global"):
        errors.append(
            ConfigError(f"'{name}' not allowed in '{section.kind}' section", *_sloc(statement))
        )
        return None
    missing = "backend" if section.kind == "frontend" else "frontend"
    if entry.strict:
        errors.append(
            ConfigError(
                f"'{name}' not allowed because {section.kind} '{section.name}' "
                f"has no {missing} capability",
                *_sloc(statement),
            )
        )
        return None
    warnings.append(
        ConfigWarning(
            f"'{name}' ignored because {section.kind} '{section.name}' has no {missing} capability",
            *_sloc(statement),
        )
    )
    return None


def _sloc(statement: Statement) -> tuple[str, int]:
    return statement.file, statement.line
