"""Run one seed config twice — real HAProxy 2.6 and balancekit's Runtime — in front
of the tutorials' own Flask apps, so tests can compare what each one answers."""

from __future__ import annotations

import re
from pathlib import Path
from types import TracebackType
from typing import Any

from l7_harness import LoopThread

from balancekit.config import load_text
from balancekit_server.integrations.demo.apps import AppServers
from balancekit_server.ops.counters import Registry
from balancekit_server.process.runtime import Runtime
from support.haproxy import HAProxy

SEEDS = Path(__file__).resolve().parent.parent / "fixtures" / "seeds"
HTTP_DEFAULTS = """
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
"""
"""The `defaults` section of the side-by-side tests that write their own config."""
_BIND = re.compile(r"^(\s*bind\s+)127\.0\.0\.1:(\d+)\b", re.M)


def seed(name: str) -> str:
    return (SEEDS / name).read_text()


class BalancekitRun:
    """`balancekit-server` on a config text, inside this process (own loop thread)."""

    def __init__(self, text: str) -> None:
        self.result = load_text(text, name="seed.cfg")
        self.thread = LoopThread()
        self.runtime = Runtime(self.result.config, registry=Registry(), quiet=True)
        self.thread.call(self.runtime.start())

    def port(self, frontend: str = "http_front", index: int = 0) -> int:
        return int(self.runtime.addresses[frontend][index][1])

    def close(self) -> None:
        async def stop() -> None:
            self.runtime.hard_stop()

        self.thread.call(stop())
        self.thread.stop()


class SideBySide:
    """The same seed config under HAProxy and balancekit, with the seed's apps behind.

    `apps` maps each address in the config (`127.0.0.1:5001`) to a Flask app kind
    of `balancekit_server.integrations.demo.apps`; `edit` rewrites the config for both sides
    (e.g. to add an ssl bind); `haproxy_edit` only for HAProxy (its own syntax).
    """

    def __init__(
        self,
        config: str,
        apps: dict[str, str],
        *,
        haproxy_edit: Any = None,
    ) -> None:
        self.apps = AppServers([(addr, kind) for addr, kind in apps.items()]).start()
        text = config
        for addr in apps:
            text = re.sub(rf"\b{re.escape(addr)}\b", self.apps.address(addr), text)
        self.binds = [m.group(2) for m in _BIND.finditer(text)]
        self.kit_text = _BIND.sub(r"\g<1>127.0.0.1:0", text)
        ha_text = _BIND.sub(r"\g<1>{listen:p\g<2>}", text)
        if haproxy_edit is not None:
            ha_text = haproxy_edit(ha_text)
        self.haproxy = HAProxy(ha_text).start()
        try:
            self.kit = BalancekitRun(self.kit_text)
        except BaseException:
            self.haproxy.stop()
            self.apps.close()
            raise

    @property
    def ports(self) -> dict[str, int]:
        """Both proxies' port for the config's first bind."""
        return self.ports_of(self.binds[0])

    def ports_of(self, config_port: str) -> dict[str, int]:
        """Both proxies' port for the bind written as `127.0.0.1:<config_port>`."""
        index = self.binds.index(config_port)
        return {
            "haproxy": self.haproxy.port(f"p{config_port}"),
            "balancekit": self.kit.port(index=index),
        }

    def __enter__(self) -> SideBySide:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kit.close()
        self.haproxy.stop()
        self.apps.close()
