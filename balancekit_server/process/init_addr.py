"""Server addresses at start: HAProxy's `init-addr` (server.c's srv_iterate_initaddr).

HAProxy gives each server named by host name an address once, while it starts,
trying the server's `init-addr` methods in order (`last,libc` by default): `libc`
asks the system resolver, an IP is used as given, `none` starts the server in
maintenance until something gives it an address, and a name no method could
place stops the start.  The library reads no network, so this runs in the
front end: `resolve_servers` finds what to do and what to say (for `-c` as for a
start), `apply` does it to a running configuration.

`last` (the address a server-state file kept) is skipped, as HAProxy skips it
when no state file gives one: balancekit's state files do not carry addresses.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from balancekit.config.runtime import Config
from balancekit.server import is_ip, unix_sockaddr

__all__ = ["InitAddrs", "apply", "resolve_servers"]


@dataclass
class InitAddrs:
    """What starting would do: its `file:line:` errors and warnings, the servers
    that start in maintenance (`none`), and those given their configured IP."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    disabled: list[tuple[str, str]] = field(default_factory=list)
    fallbacks: list[tuple[str, str, str]] = field(default_factory=list)


def _libc(host: str) -> bool:
    try:
        socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    return True


def resolve_servers(config: Config, resolves: Callable[[str], bool] = _libc) -> InitAddrs:
    """Run every named server's `init-addr` methods (`resolves` is libc's)."""
    out = InitAddrs()
    known: dict[str, bool] = {}
    for name, backend in config.backends.items():
        for member in backend.backend.members:
            host = member.server.host
            if is_ip(host) or unix_sockaddr(host) is not None:
                continue
            extra = backend.extras(member.name)
            where = f"{extra.file}:{extra.line}: " if extra.file else ""
            said = f"{where}'server {name}/{member.name}' : "
            failed = False
            # With `resolvers`, HAProxy's default adds `none`: the name may resolve later.
            default = ("last", "libc", "none") if extra.resolvers else ("last", "libc")
            for method in extra.init_addr or default:
                if method == "last":
                    continue
                if method == "libc":
                    if host not in known:
                        known[host] = resolves(host)
                    if known[host]:
                        break
                    failed = True
                elif method == "none":
                    out.disabled.append((name, member.name))
                    if failed:
                        out.warnings.append(
                            said + f"could not resolve address '{host}', disabling server."
                        )
                    break
                else:
                    out.fallbacks.append((name, member.name, method))
                    if failed:
                        out.warnings.append(
                            said + f"could not resolve address '{host}', falling back to "
                            "configured address."
                        )
                    break
            else:
                problem = "could not resolve" if failed else "no method found to resolve"
                out.errors.append(said + f"{problem} address '{host}'.")
    return out


def apply(config: Config, found: InitAddrs) -> None:
    """Start the `none` servers in maintenance and give the others their IP."""
    for backend, server in found.disabled:
        config.backends[backend].backend.set_state(server, "maint")
    for backend, server, ip in found.fallbacks:
        pool = config.backends[backend].backend
        pool.set_address(server, ip, pool.member(server).server.port)
