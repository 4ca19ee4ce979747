"""`peers` sections (cfgparse.c's cfg_parse_peers), read into `PeersSection`s.

Why the local name matters here: a section lists every member of the fleet,
this process included, and only the name tells which line is "us" (where to
listen) and which are the peers to connect to.  HAProxy takes it from `-L`, else
`localpeer`, else the host name; a section that does not name this process is
dropped with HAProxy's warning, and a proxy table that names such a section is
an error (HAProxy's "unable to find local peer").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..server import split_address
from ..sticktables import StickTable
from ._values import inherited_fd
from .model import Section, Statement
from .runtime import Peer

__all__ = ["PeersLines", "read_peers_section"]


@dataclass(slots=True)
class PeersLines:
    """What one `peers` section says, before the tables that name it are known."""

    name: str
    file: str
    line: int
    peers: list[Peer] = field(default_factory=list)
    bind: tuple[str, int] | None = None
    #: `bind fd@N`: an inherited listening socket (systemd, HAProxy's reg-tests).
    bind_fd: int | None = None
    disabled: bool = False
    #: The section's own tables: (wire name `/<name>`, table), declared in order.
    tables: list[tuple[str, StickTable]] = field(default_factory=list)
    #: Proxies' tables that name this section (`stick-table … peers <name>`).
    proxy_tables: list[tuple[str, StickTable]] = field(default_factory=list)

    @property
    def local(self) -> Peer | None:
        return next((peer for peer in self.peers if peer.local), None)

    def listen(self) -> tuple[str, int] | None:
        local = self.local
        if local is None:
            return None
        return local.address if local.address is not None else self.bind


def read_peers_section(
    section: Section,
    local_name: str,
    run: Callable[[Statement, Callable[[Statement], None]], None],
    table: Callable[[str, Statement], StickTable],
) -> PeersLines:
    """Read the section's lines; `run` reports a ValueError as the line's error and
    `table` builds a `table` line's stick table under its full name."""
    lines = PeersLines(section.name, section.file, section.line)
    mixed: dict[str, int] = {}

    def statement(stmt: Statement) -> None:
        key, args = stmt.keyword, stmt.args
        if key in ("peer", "server"):
            if key == "peer":
                mixed["peer"] = stmt.line
                if "bind" in mixed:
                    raise ValueError('mixing "peer" and "bind" line is forbidden')
            _member(lines, stmt, local_name)
        elif key == "bind":
            mixed["bind"] = stmt.line
            if "peer" in mixed:
                raise ValueError('mixing "peer" and "bind" line is forbidden')
            if lines.bind is not None:
                raise ValueError('One listener per "peers" section is authorized')
            if len(args) != 1:
                raise ValueError(
                    "'bind' expects one <addr>:<port> (bind options are not supported "
                    "in peers sections)"
                )
            if args[0].startswith("fd@"):
                lines.bind_fd = inherited_fd(args[0], "bind")
                lines.bind = ("", 0)
            else:
                lines.bind = _address(args[0], "bind")
        elif key == "table":
            if not args or args[0] in ("type", "size"):
                raise ValueError("'table' expects a table name then its 'type' and 'size'")
            full = f"{section.name}/{args[0]}"
            lines.tables.append((f"/{args[0]}", table(full, stmt)))
        elif key == "disabled":
            lines.disabled = True
        elif key == "enabled":
            lines.disabled = False

    for stmt in section.statements:
        run(stmt, statement)
    return lines


def _member(lines: PeersLines, stmt: Statement, local_name: str) -> None:
    args = stmt.args
    if not args:
        raise ValueError(f"'{stmt.keyword}' expects <name> and <addr>:<port>")
    name = args[0]
    local = name == local_name
    if local and lines.local is not None:
        raise ValueError(f"'{stmt.keyword} {name}' : local peer name already referenced")
    if any(peer.name == name for peer in lines.peers):
        raise ValueError(f"'{stmt.keyword} {name}' : peer name already referenced")
    address: tuple[str, int] | None = None
    if len(args) >= 2:
        address = _address(args[1], f"{stmt.keyword} {name}")
    elif stmt.keyword == "peer" or not local:
        raise ValueError(f"'{stmt.keyword} {name}' : missing <addr>:<port>")
    if len(args) > 2:
        raise ValueError(
            f"'{args[2]}' is an HAProxy keyword that balancekit does not support "
            f"(in a '{stmt.keyword}' line of a peers section)"
        )
    lines.peers.append(Peer(name, address, local, stmt.file, stmt.line))


def _address(text: str, what: str) -> tuple[str, int]:
    try:
        host, port = split_address(text)
    except ValueError as error:
        raise ValueError(f"'{what}' : {error}") from None
    if port is None or not host:
        raise ValueError(f"'{what}' : missing or invalid port in '{text}'")
    return host, port
