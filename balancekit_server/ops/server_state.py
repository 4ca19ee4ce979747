"""`server-state-file` / `load-server-state-from-file`: servers keep their run-time
state across a restart or reload, as HAProxy 2.6's apply_server_state() does.

`read_states(config)` opens the files (the global one whenever it is named, as
HAProxy does, even if no backend loads it) and returns what each loading backend
finds, with HAProxy's warnings; `apply_states` applies it through the health
monitor before the first check runs, so the log lines and counters are those of
a state change "from server-state after a reload".
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from balancekit.config import Config
from balancekit.server_state import (
    CMAINT,
    RUNNING,
    STOPPED,
    STOPPING,
    ServerState,
    StateFile,
    StateFileError,
    parse_state_file,
    state_file_path,
)

if TYPE_CHECKING:
    from balancekit.algorithms import Member
    from balancekit_server.ops.checks import HealthMonitor

__all__ = ["apply_states", "read_states"]

#: Per backend, its servers' states from the file it loads.
States = dict[str, dict[str, ServerState]]

_WHY = "changed from server-state after a reload"


def read_states(config: Config) -> tuple[States, list[str]]:
    """What every backend with `load-server-state-from-file` finds, and the
    warnings HAProxy gives on the way (files missing, unversioned, corrupted;
    servers of a local file that the backend lacks)."""
    warnings: list[str] = []
    g = config.global_
    shared: StateFile | None = None
    if g.server_state_file is not None:
        path = state_file_path(g.server_state_file, g.server_state_base)
        shared = _read(
            path,
            warnings,
            opened=f"config: Can't open global server state file '{path}': {{}}",
            version=f"config: Can't get version of the global server state file '{path}'.",
            corrupted=f"config: corrupted global server state file '{path}' at line {{}}.",
        )
    states: States = {}
    for name, runtime in config.backends.items():
        if runtime.load_server_state == "none" or not runtime.backend.members:
            continue
        if runtime.load_server_state == "global":
            if shared is not None:
                states[name] = shared.for_backend(name)
            continue
        path = state_file_path(runtime.server_state_file_name or name, g.server_state_base)
        local = _read(
            path,
            warnings,
            opened=f"Proxy '{name}': Can't open server state file '{path}': {{}}.",
            version=f"Proxy '{name}': Can't get version of the server state file '{path}'.",
            corrupted=f"Proxy '{name}': corrupted server state file '{path}' at line {{}}.",
        )
        if local is None:
            continue
        found = local.for_backend(name)
        servers = {member.name for member in runtime.backend.members}
        for server in found:
            if server not in servers:
                warnings.append(f"Proxy '{name}': can't find server '{server}' in backend '{name}'")
        states[name] = found
    return states, warnings


def _read(
    path: str, warnings: list[str], *, opened: str, version: str, corrupted: str
) -> StateFile | None:
    try:
        with open(path, encoding="latin-1", newline="") as file:
            text = file.read()
    except OSError as error:
        warnings.append(opened.format(os.strerror(error.errno or 0)))
        return None
    try:
        return parse_state_file(text)
    except StateFileError as error:
        warnings.append(corrupted.format(error.line) if error.line else version)
        return None


def _apply(monitor: HealthMonitor, backend: str, member: Member, state: ServerState) -> None:
    server = member.server
    with monitor.muted(console=True):
        if state.op_state == STOPPED or (state.op_state == STOPPING and server.fall == 1):
            monitor.force_health(backend, member.name, False, _WHY)
        elif state.op_state == STOPPING:
            monitor.force_stopping(backend, member.name, _WHY)
        elif state.op_state == RUNNING or server.rise == 1:
            # Fully up: the check counter at its top (rise + fall - 1), as HAProxy sets it.
            monitor.force_health(backend, member.name, True, _WHY)
    with monitor.muted(console=False):
        configured_maint = server.disabled
        if bool(state.admin_state & CMAINT) == configured_maint:
            # The configuration did not change: the operator's choice stays.
            if state.maintenance and not configured_maint:
                monitor.set_admin(backend, member.name, "maint")
            elif not state.maintenance and configured_maint:
                monitor.set_admin(backend, member.name, "ready")
        if member.admin != "maint" and state.drain and (state.iweight > 0 or server.weight == 0):
            monitor.set_admin(backend, member.name, "drain")


def apply_states(
    config: Config,
    states: Mapping[str, Mapping[str, ServerState]],
    monitor: HealthMonitor,
    warn: Callable[[str], None],
) -> None:
    """srv_state_srv_update() for each server a file names: its operational
    state, then maintenance and drain (the configuration wins where it changed),
    its weight if the configured one did not change, and its port."""
    for backend, found in states.items():
        runtime = config.backends[backend]
        pool = runtime.backend
        for member in pool.members:
            state = found.get(member.name)
            if state is None:
                continue
            if state.problems:
                warn(
                    f"server-state application failed for server '{backend}/{member.name}'"
                    + "".join(f", {problem}" for problem in state.problems)
                )
                continue
            _apply(monitor, backend, member, state)
            server = member.server
            if state.port is not None and state.port != server.port:
                pool.set_address(member.name, server.host, state.port)
            if state.iweight == server.weight and state.uweight != member.uweight:
                try:
                    pool.set_weight(member.name, state.uweight)
                except ValueError:
                    # A static algorithm takes no other weight than 0 or the configured one.
                    warn(
                        f"server-state partially applied for server '{backend}/{member.name}'"
                        f", weight {state.uweight} not applied"
                    )
