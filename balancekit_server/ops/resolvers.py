"""Re-resolving server names while running: HAProxy's `resolvers` sections.

Every server line naming `resolvers X` is watched: its name is asked of the
section's nameservers (UDP, with dnspython) every `hold valid`, and what the
answers say goes through the same pool calls as `set server … addr|state|weight`
on the stats socket, so balancing, stats and health checks follow.  A
`server-template` of an SRV name (`_service._proto.name`) fills its servers from
the SRV records, a template of a plain name from the A/AAAA records (one address
per server); the choice of which server takes which record is the library's
(balancekit.resolvers), this module only asks and applies.

A server without a record is put in maintenance with its address cleared, as
HAProxy's RMAINT ("MAINT (resolution)") does.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from balancekit.config import BackendRuntime, Config
from balancekit.resolvers import (
    AddressSlots,
    AddressUser,
    Nameserver,
    Resolvers,
    SlotChange,
    SrvRecord,
    SrvSlots,
    pick_address,
)
from balancekit.server import is_ip

if TYPE_CHECKING:
    from balancekit_server.ops.checks import HealthMonitor

__all__ = ["Answer", "ResolversService", "query", "start"]

#: DNS_RTYPE by family word (`resolve-prefer`).
_TYPES = {"ipv4": dns.rdatatype.A, "ipv6": dns.rdatatype.AAAA}


@dataclass(frozen=True, slots=True)
class Answer:
    """What one resolution found: `status` is `valid`, `nx`, `refused`, `timeout` or
    `other`; `records` the answer's rdata, `additional` the addresses the additional
    section gave for names (SRV targets)."""

    status: str
    records: tuple[object, ...] = ()
    additional: dict[str, list[str]] | None = None


def _system_nameservers() -> list[Nameserver]:
    """`parse-resolv-conf`: the nameservers /etc/resolv.conf lists (port 53)."""
    found: list[Nameserver] = []
    with (
        contextlib.suppress(OSError),
        open("/etc/resolv.conf", encoding="utf-8", errors="replace") as file,
    ):
        for number, line in enumerate(file, 1):
            words = line.split()
            if len(words) >= 2 and words[0] == "nameserver" and is_ip(words[1]):
                found.append(Nameserver(f"resolv.conf:{number}", words[1], 53))
    return found


async def query(section: Resolvers, name: str, rdtype: dns.rdatatype.RdataType) -> Answer:
    """Ask `name` of every nameserver of the section at once, as HAProxy does
    (resolv_send_query): the first valid answer wins; when none is valid, the
    first error; when none answers within `timeout retry`, ask again, up to
    `resolve_retries` times, then it is a timeout."""
    servers = list(section.nameservers)
    if section.parse_resolv_conf:
        servers += _system_nameservers()
    if not servers:
        return Answer("other")
    message = dns.message.make_query(
        name, rdtype, use_edns=0, payload=section.accepted_payload_size
    )
    for _ in range(max(section.resolve_retries, 1)):
        asks = [
            asyncio.ensure_future(_ask(message, server, section.timeout_retry, rdtype))
            for server in servers
        ]
        first_error: Answer | None = None
        try:
            for done in asyncio.as_completed(asks):
                answer = await done
                if answer.status == "valid":
                    return answer
                if answer.status != "timeout" and first_error is None:
                    first_error = answer
        finally:
            for ask in asks:
                ask.cancel()
        if first_error is not None:
            return first_error
    return Answer("timeout")


async def _ask(
    message: dns.message.Message,
    server: Nameserver,
    timeout: float,
    rdtype: dns.rdatatype.RdataType,
) -> Answer:
    """One nameserver's answer, read as HAProxy's resolv_validate_dns_response does."""
    try:
        reply = await dns.asyncquery.udp(message, server.host, timeout=timeout, port=server.port)
    except (dns.exception.Timeout, TimeoutError):
        return Answer("timeout")
    except (OSError, dns.exception.DNSException):
        return Answer("other")
    code = reply.rcode()
    if code == dns.rcode.NXDOMAIN:
        return Answer("nx")
    if code == dns.rcode.REFUSED:
        return Answer("refused")
    if code != dns.rcode.NOERROR:
        return Answer("other")
    records = tuple(rdata for rrset in reply.answer if rrset.rdtype == rdtype for rdata in rrset)
    if not records:
        return Answer("other")
    additional: dict[str, list[str]] = {}
    for rrset in reply.additional:
        if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            key = rrset.name.to_text().lower().rstrip(".")
            additional.setdefault(key, []).extend(rdata.to_text() for rdata in rrset)
    return Answer("valid", records, additional)


async def query_addresses(section: Resolvers, name: str, prefer: str) -> Answer:
    """A/AAAA records of `name`: the preferred family first, the other when the
    first has none (HAProxy switches query type the same way)."""
    other = "ipv4" if prefer == "ipv6" else "ipv6"
    first = await query(section, name, _TYPES[prefer])
    if first.status == "valid":
        return first
    second = await query(section, name, _TYPES[other])
    return second if second.status == "valid" else first


class _Watch:
    """One resolved name and the servers it feeds."""

    def __init__(self, service: ResolversService, section: Resolvers, name: str) -> None:
        self.service = service
        self.section = section
        self.name = name

    @property
    def period(self) -> float:
        """How often the name is asked again (`hold valid`, at least `timeout resolve`)."""
        return max(self.section.hold["valid"], self.section.timeout_resolve, 0.001)

    def servers(self) -> Iterable[tuple[BackendRuntime, str]]:
        raise NotImplementedError

    async def run(self) -> None:
        while True:
            await self.resolve_once()
            await asyncio.sleep(self.period)

    async def resolve_once(self) -> None:
        raise NotImplementedError


class _SrvWatch(_Watch):
    """A `server-template` of an SRV name: its servers take the SRV records."""

    def __init__(
        self,
        service: ResolversService,
        section: Resolvers,
        name: str,
        runtime: BackendRuntime,
        servers: tuple[str, ...],
    ) -> None:
        super().__init__(service, section, name)
        self.runtime = runtime
        self.names = servers
        extras = runtime.extras(servers[0])
        self.prefer = extras.resolve_prefer
        self.opts = extras.resolve_opts
        self.networks = extras.resolve_net
        self.slots = SrvSlots(servers, section.hold)

    def servers(self) -> Iterable[tuple[BackendRuntime, str]]:
        return ((self.runtime, name) for name in self.names)

    async def resolve_once(self) -> None:
        answer = await query(self.section, self.name, dns.rdatatype.SRV)
        now = self.service.clock()
        if answer.status != "valid":
            self.service.apply(self.runtime, self.slots.failure(now, answer.status), self.opts)
            return
        found: list[SrvRecord] = []
        for rdata in answer.records:
            target = rdata.target.to_text().lower().rstrip(".")  # type: ignore[attr-defined]
            addresses = (answer.additional or {}).get(target)
            if not addresses:
                # No additional record: the target is resolved on its own.
                got = await query_addresses(self.section, target, self.prefer)
                if got.status == "valid":
                    addresses = [r.to_text() for r in got.records]  # type: ignore[attr-defined]
            address = None
            if addresses:
                address = pick_address(addresses, None, (), self.prefer, self.networks, True)
            found.append(SrvRecord(target, rdata.port, rdata.weight, address))  # type: ignore[attr-defined]
        self.service.apply(self.runtime, self.slots.answer(now, found), self.opts)


class _NameWatch(_Watch):
    """Every server following one A/AAAA name in one section, in config order."""

    def __init__(
        self,
        service: ResolversService,
        section: Resolvers,
        name: str,
        members: list[tuple[BackendRuntime, str]],
    ) -> None:
        super().__init__(service, section, name)
        self.members = members
        self.runtimes = {runtime.name: runtime for runtime, _ in members}
        users = []
        for runtime, server in members:
            extras = runtime.extras(server)
            opts = extras.resolve_opts
            users.append(
                AddressUser(
                    runtime.name,
                    server,
                    runtime.backend.member(server).server.port or 0,
                    extras.resolve_prefer,
                    extras.resolve_net,
                    "allow-dup-ip" in opts and "prevent-dup-ip" not in opts,
                )
            )
        self.prefer = users[0].prefer
        self.slots = AddressSlots(users, section.hold)

    def servers(self) -> Iterable[tuple[BackendRuntime, str]]:
        return iter(self.members)

    async def resolve_once(self) -> None:
        answer = await query_addresses(self.section, self.name, self.prefer)
        now = self.service.clock()
        if answer.status != "valid":
            changes = self.slots.failure(now, answer.status)
        else:
            addresses = [rdata.to_text() for rdata in answer.records]  # type: ignore[attr-defined]
            changes = self.slots.answer(now, addresses)
        for user, change in changes:
            runtime = self.runtimes[user.backend]
            self.service.apply(runtime, [change], runtime.extras(user.server).resolve_opts)


class ResolversService:
    """Every watched name of a configuration, each re-resolved on its own timer."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], float] = time.monotonic,
        monitor: HealthMonitor | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        #: State changes go through the health monitor when there is one, as the
        #: stats socket's do: checks pause in maintenance, the changes are logged.
        self.monitor = monitor
        self.watches: list[_Watch] = []
        self._tasks: list[asyncio.Task[None]] = []
        #: Servers whose address resolution cleared (RMAINT), by (backend, server).
        self.cleared: set[tuple[str, str]] = set()
        names: dict[tuple[str, str], list[tuple[BackendRuntime, str]]] = {}
        for runtime in config.backends.values():
            seen: set[str] = set()
            for member in runtime.backend.members:
                extras = runtime.extras(member.name)
                section = self.config.resolvers.get(extras.resolvers or "")
                host = member.server.host
                if section is None or is_ip(host) or member.name in seen:
                    continue
                if extras.srvrecord is not None:
                    seen.update(extras.template)
                    self.watches.append(_SrvWatch(self, section, host, runtime, extras.template))
                else:
                    names.setdefault((section.name, host.lower()), []).append(
                        (runtime, member.name)
                    )
        for (section_name, host), members in names.items():
            self.watches.append(
                _NameWatch(self, self.config.resolvers[section_name], host, members)
            )

    def start(self) -> None:
        """Clear the SRV templates' servers (they have no address until an answer
        fills them), then start every name's timer, the first ones spread a little
        as HAProxy's are."""
        for watch in self.watches:
            srv = isinstance(watch, _SrvWatch)
            for runtime, server in watch.servers():
                member = runtime.backend.member(server)
                # `init-addr none` (or a failed `libc` that fell to it) is RMAINT.
                started_maint = member.admin == "maint" and not member.server.disabled
                if not srv:
                    member.fqdn = watch.name
                if srv or started_maint:
                    self.apply(runtime, [SlotChange(server, None)], ())
        loop = asyncio.get_running_loop()
        for watch in self.watches:
            self._tasks.append(loop.create_task(self._run(watch)))

    async def _run(self, watch: _Watch) -> None:
        await asyncio.sleep(random.uniform(0, 0.01))
        with contextlib.suppress(asyncio.CancelledError):
            await watch.run()

    def _set_admin(self, runtime: BackendRuntime, server: str, state: str) -> None:
        if self.monitor is not None:
            self.monitor.set_admin(runtime.name, server, state)
        else:
            runtime.backend.set_state(server, state)

    @staticmethod
    def _srv_backed(runtime: BackendRuntime, server: str) -> bool:
        return runtime.extras(server).srvrecord is not None

    def is_cleared(self, runtime: BackendRuntime, server: str) -> bool:
        return (runtime.name, server) in self.cleared

    def apply(
        self, runtime: BackendRuntime, changes: Iterable[SlotChange], opts: tuple[str, ...]
    ) -> None:
        """Make `changes` through the pool's runtime calls (those of `set server`)."""
        pool = runtime.backend
        for change in changes:
            key = (runtime.name, change.server)
            member = pool.member(change.server)
            if change.address is None:
                if key in self.cleared and member.resolution:
                    continue
                self.cleared.add(key)
                if self._srv_backed(runtime, change.server) and member.fqdn is not None:
                    # The name goes; HAProxy 2.6 keeps HMAINT on a server once an SRV
                    # record named it, which "" (no name, but named once) keeps here.
                    member.fqdn = ""
                self._set_admin(runtime, change.server, "maint")
                member.resolution = True
                pool.set_address(change.server, "0.0.0.0", member.server.port)
                continue
            host = str(ipaddress.ip_address(change.address))
            if member.server.host != host or member.server.port != (change.port or None):
                pool.set_address(change.server, host, change.port or member.server.port)
            if change.weight is not None and "ignore-weight" not in opts:
                with contextlib.suppress(ValueError):
                    pool.set_weight(change.server, change.weight)
            if self._srv_backed(runtime, change.server):
                member.fqdn = change.hostname
            if key in self.cleared:
                self.cleared.discard(key)
                member.resolution = False
                self._set_admin(runtime, change.server, "ready")

    def stop_accepting(self) -> None:
        for task in self._tasks:
            task.cancel()

    def kill(self) -> None:
        self.stop_accepting()

    async def wait_idle(self) -> None:
        return None


def start(config: Config, monitor: HealthMonitor | None = None) -> ResolversService | None:
    """Watch every server name a `resolvers` section resolves (None: there is none)."""
    service = ResolversService(config, monitor=monitor)
    if not service.watches:
        return None
    service.start()
    return service
