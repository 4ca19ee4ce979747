"""haproxy.cfg support: lexer -> frozen model -> runtime objects.

    result = load(["haproxy.cfg"])          # raises ConfigErrors listing every error
    result.config.frontends[0].router       # compiled rules (balancekit.routing.Router)
    result.config.backend("servers").backend.pick(request)
    for warning in result.warnings: print(warning)

`check(paths)` returns every error as a `file:line: message` string, which is
what `balancekit-server -c` prints.  The model is in `model.py` (as written)
and `runtime.py` (what the front ends consume); see docs/configuration.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from ..errors import ConfigError
from ..units import parse_size, parse_time
from ._values import FACILITIES, LEVELS, LOG_FORMATS, parse_log, runtime_server
from .build import build
from .keywords import KEYWORDS, Keyword
from .lexer import Line, split_lines, split_words
from .model import ParsedConfig, Section, Statement
from .parser import parse_sections
from .runtime import (
    BackendRuntime,
    Bind,
    Capture,
    Config,
    ConfigWarning,
    ForwardFor,
    Frontend,
    Global,
    HttpCheck,
    HttpCheckExpect,
    LoadResult,
    LogTarget,
    Peer,
    PeersSection,
    ServerExtras,
    StatsPage,
    StatsSocket,
)

__all__ = [
    "FACILITIES",
    "KEYWORDS",
    "LEVELS",
    "LOG_FORMATS",
    "BackendRuntime",
    "Bind",
    "Capture",
    "Config",
    "ConfigErrors",
    "ConfigWarning",
    "ForwardFor",
    "Frontend",
    "Global",
    "HttpCheck",
    "HttpCheckExpect",
    "Keyword",
    "Line",
    "LoadResult",
    "LogTarget",
    "ParsedConfig",
    "Peer",
    "PeersSection",
    "Section",
    "ServerExtras",
    "Statement",
    "StatsPage",
    "StatsSocket",
    "check",
    "config_files",
    "load",
    "load_text",
    "parse",
    "parse_log_target",
    "parse_size",
    "parse_time",
    "runtime_server",
    "split_words",
]


class ConfigErrors(ConfigError):
    """Every error of a configuration (at least one), plus the warnings seen so far.

    Behaves as the first error (`message`, `file`, `line`) for code that only
    expects one; `str()` lists them all, one `file:line: message` a line.
    """

    def __init__(
        self, errors: Sequence[ConfigError], warnings: Sequence[ConfigWarning] = ()
    ) -> None:
        first = errors[0]
        super().__init__(first.message, first.file, first.line)
        self.errors = tuple(errors)
        self.warnings = tuple(warnings)
        self.args = ("\n".join(str(error) for error in self.errors),)

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)


def config_files(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Expand `-f` arguments: a directory stands for its `*.cfg` files in name order."""
    files: list[str] = []
    for path in (os.fspath(p) for p in paths):
        if os.path.isdir(path):
            names = sorted(n for n in os.listdir(path) if n.endswith(".cfg"))
            files.extend(os.path.join(path, n) for n in names)
        else:
            files.append(path)
    return files


def _lines(
    files: Sequence[str], env: Mapping[str, str], errors: list[ConfigError]
) -> Iterator[Line | ConfigError | ConfigWarning]:
    for path in files:
        try:
            with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
                text = handle.read()
        except OSError as error:
            errors.append(ConfigError(f"cannot open configuration file: {error.strerror}", path, 0))
            continue
        if text and not text.endswith("\n"):
            # HAProxy 2.6 refuses the file: it may have been cut short while copied.
            last = text.rsplit("\n", 1)[-1]
            errors.append(
                ConfigError(
                    "Missing LF on last line, file might have been truncated at position "
                    f"{len(last) + 1}",
                    path,
                    text.count("\n") + 1,
                )
            )
        yield from split_lines(text, file=path, env=env)


def parse(
    paths: Iterable[str | os.PathLike[str]],
    *,
    env: Mapping[str, str] | None = None,
    errors: list[ConfigError] | None = None,
    warnings: list[ConfigWarning] | None = None,
) -> ParsedConfig:
    """Read files into the frozen model only (no runtime objects)."""
    errs = [] if errors is None else errors
    warns = [] if warnings is None else warnings
    files = config_files(paths)
    # A copy: `setenv` lines change what later lines (of any file) expand, not ours.
    environ = dict(os.environ if env is None else env)
    parsed = parse_sections(_lines(files, environ, errs), errs, warns, tuple(files))
    return replace(parsed, environ=environ)


def _finish(
    parsed: ParsedConfig,
    errors: list[ConfigError],
    warnings: list[ConfigWarning],
    env: Mapping[str, str],
) -> LoadResult:
    # `balancekit-server -L <name>` exports it, as HAProxy does; it beats `localpeer`.
    config = build(parsed, errors, warnings, local_peer=env.get("HAPROXY_LOCALPEER") or None)
    _in_file_order(parsed.files, errors)
    _in_file_order(parsed.files, warnings)
    # `zero-warning` counts what HAProxy warns about, not balancekit's own notes.
    if not errors and config.global_.zero_warning and any(not w.ours for w in warnings):
        errors.append(ConfigError("Some warnings were found and 'zero-warning' is set. Aborting."))
    if errors:
        raise ConfigErrors(errors, warnings)
    return LoadResult(config, tuple(warnings))


def _in_file_order(files: tuple[str, ...], items: list[Any]) -> None:
    """Sort messages by file (in reading order) then line, as a reader expects them."""
    rank = {name: index for index, name in enumerate(files)}
    items.sort(key=lambda item: (rank.get(item.file, len(rank)), item.line or 0))


def load(
    paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
) -> LoadResult:
    """Load one or several config files (or directories of `*.cfg`) in order.

    Raises `ConfigErrors` carrying every error found, not only the first.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    errors: list[ConfigError] = []
    warnings: list[ConfigWarning] = []
    parsed = parse(paths, env=env, errors=errors, warnings=warnings)
    return _finish(parsed, errors, warnings, os.environ if env is None else env)


def load_text(
    text: str, *, name: str = "<string>", env: Mapping[str, str] | None = None
) -> LoadResult:
    """Load a configuration held in a string; `name` is the file name in messages."""
    errors: list[ConfigError] = []
    warnings: list[ConfigWarning] = []
    environ = dict(os.environ if env is None else env)  # `setenv` changes the copy
    parsed = parse_sections(split_lines(text, file=name, env=environ), errors, warnings, (name,))
    parsed = replace(parsed, environ=environ)
    return _finish(parsed, errors, warnings, environ)


def check(
    paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """Every error of the configuration as `file:line: message`; empty when valid."""
    try:
        load(paths, env=env)
    except ConfigErrors as failure:
        return [str(error) for error in failure.errors]
    return []


def parse_log_target(words: Sequence[str]) -> LogTarget:
    """The target of a `log` line (the words after `log`), as the config parser reads it."""
    return parse_log(tuple(words), None, None)
