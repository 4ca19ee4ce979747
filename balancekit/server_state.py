"""Server state files: what `show servers state` wrote, read back at start.

HAProxy users keep servers' run-time state (maintenance, drain, weights, a
server found DOWN) across reloads by dumping `show servers state` to a file and
naming it in `server-state-file`; backends with `load-server-state-from-file`
read it back before any check runs.  This module is the pure half: it reads
the file's text as HAProxy 2.6 does (server_state.c) and says, per server, what
to apply; `balancekit_server.ops.server_state` opens the files and applies it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "ServerState",
    "StateFile",
    "StateFileError",
    "parse_state_file",
    "state_file_path",
]

#: Fields of a version 1 line (`show servers state`): at least, and at most.
_MIN_FIELDS, _MAX_FIELDS = 20, 25
#: srv_admin_state bits (server-t.h).
FMAINT, IMAINT, CMAINT, FDRAIN, IDRAIN, RMAINT, HMAINT = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40
_ADMIN_VALUES = frozenset((0, FMAINT, CMAINT, CMAINT | FMAINT, CMAINT | FDRAIN, FDRAIN))
#: srv_op_state values.
STOPPED, STARTING, RUNNING, STOPPING = 0, 1, 2, 3
#: The check / agent state bits a line may carry (CHK_ST_*).
_CHECK_BITS = 0x01 | 0x02 | 0x04 | 0x08 | 0x10
_UWEIGHT_MAX = 256
_CHECK_STATUS_SIZE = 29  # HCHK_STATUS_SIZE in HAProxy 2.6
_CHECK_RESULTS = frozenset((0, 1, 2, 3, 4))


class StateFileError(ValueError):
    """The file cannot be used at all: no version line, or a corrupted line
    (`line` is its number after the version line, as HAProxy counts)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True, slots=True)
class ServerState:
    """One line, validated as srv_state_srv_update() does: `problems` lists the
    fields it rejects (then nothing of the line applies)."""

    backend_id: str
    backend: str
    server_id: str
    server: str
    op_state: int
    admin_state: int
    uweight: int
    iweight: int
    #: `srv_port`: HAProxy takes the port from the file (None: the field is absent).
    port: int | None
    problems: tuple[str, ...]

    @classmethod
    def from_fields(cls, fields: list[str]) -> ServerState:
        params = fields[4:]
        problems: list[str] = []

        def number(index: int, name: str, valid: Callable[[int], bool] | None = None) -> int:
            text = params[index] if index < len(params) else ""
            value = _strtol(text)
            if value is None or (valid is not None and not valid(value)):
                problems.append(f"invalid {name} value '{text}'")
                return 0
            return value

        op_state = number(1, "srv_op_state", lambda v: v in (STOPPED, STARTING, RUNNING, STOPPING))
        admin_text = params[2]
        admin = _strtol(admin_text)
        if admin is not None:
            # Inherited statuses are recomputed; HMAINT (an FQDN from the CLI) is not kept.
            admin &= ~(IDRAIN | IMAINT | HMAINT | RMAINT)
        if admin is None or admin not in _ADMIN_VALUES:
            problems.append(f"invalid srv_admin_state value '{admin_text}'")
            admin = 0
        uweight = number(3, "srv_uweight", lambda v: 0 <= v <= _UWEIGHT_MAX)
        iweight = number(4, "srv_iweight", lambda v: 0 <= v <= _UWEIGHT_MAX)
        number(5, "srv_last_time_change")
        number(6, "srv_check_status", lambda v: v < _CHECK_STATUS_SIZE)
        number(7, "srv_check_result", lambda v: v in _CHECK_RESULTS)
        number(8, "srv_check_health")
        number(9, "srv_check_state", lambda v: not v & ~_CHECK_BITS)
        number(10, "srv_agent_state", lambda v: not v & ~_CHECK_BITS)
        number(11, "bk_f_forced_id", lambda v: v in (0, 1))
        number(12, "srv_f_forced_id", lambda v: v in (0, 1))
        port: int | None = None
        if len(params) > 14:
            digits = params[14][: len(params[14]) - len(params[14].lstrip("0123456789"))]
            port = int(digits) if digits else 0  # strl2uic: the leading digits
            if port > 65535:
                problems.append(f"invalid srv_port value '{params[14]}'")
                port = None
        return cls(
            fields[0],
            fields[1],
            fields[2],
            fields[3],
            op_state,
            admin,
            uweight,
            iweight,
            port,
            tuple(problems),
        )

    @property
    def maintenance(self) -> bool:
        """Put in maintenance by hand (`disable server`, `set server … state maint`)."""
        return bool(self.admin_state & FMAINT)

    @property
    def drain(self) -> bool:
        return bool(self.admin_state & FDRAIN)


@dataclass(frozen=True, slots=True)
class StateFile:
    """The lines of one file."""

    version: int
    lines: tuple[list[str], ...]

    def for_backend(self, name: str) -> dict[str, ServerState]:
        """Backend `name`'s lines by server name, the first of each kept (HAProxy
        keys them by backend and server name and ignores a repeated key)."""
        found: dict[str, ServerState] = {}
        for fields in self.lines:
            if fields[1] == name and fields[3] not in found:
                found[fields[3]] = ServerState.from_fields(fields)
        return found


def parse_state_file(text: str) -> StateFile:
    """Read a state file as HAProxy 2.6 does: a version line ("1"), then lines of
    20 to 25 space-separated fields; blank lines and `#` comments are skipped."""
    lines = text.split("\n")
    version = lines[0].lstrip(" \t")
    if len(lines) < 2 or not version.lstrip("+").isdigit() or int(version.lstrip("+")) != 1:
        raise StateFileError("Can't get version")
    out: list[list[str]] = []
    rest = lines[1:]
    for number, line in enumerate(rest, start=1):
        if number == len(rest):
            if line:
                raise StateFileError("corrupted", number)  # no final newline
            break
        stripped = line.lstrip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        fields = stripped.split()
        if not _MIN_FIELDS <= len(fields) <= _MAX_FIELDS:
            raise StateFileError("corrupted", number)
        out.append(fields)
    return StateFile(1, tuple(out))


def state_file_path(name: str, base: str | None) -> str:
    """srv_state_get_filepath: `name` under `server-state-base` unless absolute."""
    if name.startswith("/") or not base:
        return name
    return os.path.join(base, name) if not base.endswith("/") else base + name


def _strtol(text: str) -> int | None:
    """C's strtol as HAProxy uses it: a leading integer (after blanks), else None."""
    stripped = text.lstrip(" \t")
    end = 0
    if stripped[:1] in ("+", "-"):
        end = 1
    digits = end
    while digits < len(stripped) and stripped[digits].isdigit():
        digits += 1
    if digits == end:
        return None
    return int(stripped[:digits])
