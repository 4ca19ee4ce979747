"""The frozen model of a parsed haproxy.cfg: sections of statements with `file:line`.

This is the config as written, after tokenizing and keyword recognition but
before any meaning is applied.  Keeping it separate from the runtime objects
lets `-c` report every error, lets tests assert on what was read, and gives
every later message a `file:line` to point at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = ["ParsedConfig", "Section", "SectionKind", "Statement"]

SectionKind = Literal[
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "userlist",
    "peers",
    "cache",
    "http-errors",
    "resolvers",
]


@dataclass(frozen=True, slots=True)
class Statement:
    """One configuration line.

    `keyword` is the canonical, possibly multi-word keyword (`timeout connect`,
    `option httplog`); `args` are the words after it.  `prefix` is `no` or
    `default` when the line starts with one of HAProxy's option prefixes.
    """

    keyword: str
    args: tuple[str, ...]
    file: str
    line: int
    prefix: Literal["", "no", "default"] = ""

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def text(self) -> str:
        """The statement as one line, for messages."""
        head = f"{self.prefix} {self.keyword}" if self.prefix else self.keyword
        return " ".join((head, *self.args))


@dataclass(frozen=True, slots=True)
class Section:
    """A global, defaults, frontend, backend, listen, userlist, peers, cache or http-errors
    section.

    `defaults` is the index in `ParsedConfig.sections` of the defaults section
    this one inherits from (the last one above it, or the one named by
    `from NAME`), or None.
    """

    kind: SectionKind
    name: str
    statements: tuple[Statement, ...]
    file: str
    line: int
    defaults: int | None = None

    @property
    def is_proxy(self) -> bool:
        return self.kind in ("frontend", "backend", "listen")


@dataclass(frozen=True, slots=True)
class ParsedConfig:
    """Every section of every file, in reading order."""

    sections: tuple[Section, ...]
    files: tuple[str, ...] = ()
    #: The environment once the files' `setenv`-style lines ran (`env()` reads it);
    #: None: the process's own.
    environ: Mapping[str, str] | None = None

    def section(self, kind: SectionKind, name: str = "") -> Section:
        for section in self.sections:
            if section.kind == kind and section.name == name:
                return section
        raise KeyError(f"no {kind} section '{name}'")
