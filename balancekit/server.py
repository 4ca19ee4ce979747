"""Server definitions: what a `server` line in a backend says.

A `Server` is an immutable description.  Everything that changes while running
(state, current weight, in-flight count, queue) lives in the pool's per-server
runtime record, so one `Server` can be shared, compared and hashed freely.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

__all__ = ["MAX_WEIGHT", "Server", "is_ip", "split_address"]

MAX_WEIGHT = 256
ON_ERROR_ACTIONS = ("fastinter", "fail-check", "sudden-death", "mark-down")


def is_ip(host: str) -> bool:
    """Whether `host` is an IPv4 or IPv6 address rather than a name to resolve."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def unix_sockaddr(address: str) -> str | bytes | None:
    """Where a UNIX socket address connects (`connect()`'s argument), None for another
    address: `unix@/path` or a bare `/path`, or `abns@name`, which HAProxy binds
    and connects over the whole 108-byte `sun_path` (the name, then zeros)."""
    if address.startswith("abns@"):
        raw = b"\0" + address[5:].encode()
        return raw + b"\0" * (108 - len(raw))
    if address.startswith("unix@"):
        return address[5:]
    return address if address.startswith("/") else None


def split_address(address: str) -> tuple[str, int | None]:
    """Split `host:port`, `[v6]:port` or `v6:port` (HAProxy's last-colon rule).

    Returns the port as None when it is absent, as HAProxy allows for servers
    that reuse the client's destination port.
    """
    address = address.strip()
    for prefix in ("ipv4@", "ipv6@"):
        if address.startswith(prefix):
            address = address[len(prefix) :]
    if address.startswith("["):
        host, sep, rest = address[1:].partition("]")
        if not sep:
            raise ValueError(f"invalid address '{address}': missing ']'")
        if not rest:
            return host, None
        if not rest.startswith(":"):
            raise ValueError(f"invalid address '{address}'")
        return host, _port(rest[1:], address)
    if address.count(":") == 0:
        return address, None
    host, _, port = address.rpartition(":")
    if port == "":
        return host, None
    return host, _port(port, address)


def _port(text: str, address: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise ValueError(f"invalid port in address '{address}'")
    return int(text)


@dataclass(frozen=True, slots=True)
class Server:
    """One `server` line.  Times are in seconds; `None` means "inherit the default"."""

    name: str
    address: str
    weight: int = 1
    maxconn: int = 0
    maxqueue: int = 0
    backup: bool = False
    disabled: bool = False
    id: int | None = None
    check: bool = False
    inter: float = 2.0
    fastinter: float | None = None
    downinter: float | None = None
    rise: int = 2
    fall: int = 3
    check_port: int | None = None
    check_addr: str | None = None
    slowstart: float = 0.0
    send_proxy: bool = False
    send_proxy_v2: bool = False
    observe: str | None = None
    error_limit: int = 10
    on_error: str = "fail-check"
    #: `cookie <value>`: what the backend's persistence cookie says for this server.
    cookie: str | None = None
    #: `on-marked-down shutdown-sessions`: when the server stops (checks, maintenance),
    #: its live sessions are cut rather than left to fail on their own.
    shutdown_on_down: bool = False
    #: `on-marked-up shutdown-backup-sessions`: when this active server comes back,
    #: the backup servers' sessions are cut so clients reconnect to it.
    shutdown_backups_on_up: bool = False
    #: `agent-check`: an agent answers one line on `agent-addr`:`agent-port` (else
    #: `addr`, `port`) every `agent-inter` (else `inter`), after `agent-send`.
    agent_check: bool = False
    agent_port: int | None = None
    agent_addr: str | None = None
    agent_inter: float | None = None
    agent_send: str = ""
    #: `address` split once (proxies read both on every connection); port None
    #: means "the port the client connected to", as in HAProxy.
    host: str = field(init=False, repr=False, compare=False)
    port: int | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("server name must not be empty")
        if isinstance(self.weight, bool) or not isinstance(self.weight, int):
            raise ValueError(f"server '{self.name}': weight {self.weight!r} is not an integer")
        if not 0 <= self.weight <= MAX_WEIGHT:
            raise ValueError(
                f"server '{self.name}': weight {self.weight} out of range 0..{MAX_WEIGHT}"
            )
        if self.maxconn < 0:
            raise ValueError(f"server '{self.name}': maxconn {self.maxconn} must be >= 0")
        if self.maxqueue < 0:
            raise ValueError(f"server '{self.name}': maxqueue {self.maxqueue} must be >= 0")
        if self.id is not None and self.id <= 0:
            raise ValueError(f"server '{self.name}': id {self.id} must be > 0")
        if self.rise < 1 or self.fall < 1:
            raise ValueError(f"server '{self.name}': rise and fall must be >= 1")
        if self.on_error not in ON_ERROR_ACTIONS:
            raise ValueError(
                f"server '{self.name}': on-error '{self.on_error}' is not one of "
                + ", ".join(ON_ERROR_ACTIONS)
            )
        port: int | None
        if unix_sockaddr(self.address) is not None:
            # A UNIX socket: the address is the whole "host", and there is no port (a
            # colon in its path is not one).
            host, port = self.address, 0
        else:
            host, port = split_address(self.address)
        object.__setattr__(self, "host", host)
        object.__setattr__(self, "port", port)
        if self.agent_check and not (self.agent_port or self.check_port):
            # _srv_parse_finalize: fatal, whatever its wording says.
            raise ValueError(
                f"server {self.name} does not have agent port. Agent check has been disabled."
            )

    @property
    def agent_target(self) -> tuple[str, int] | None:
        """Where the agent check connects (None: no agent check)."""
        port = self.agent_port or self.check_port
        if not self.agent_check or port is None:
            return None
        return self.agent_addr or self.check_addr or self.host, port
