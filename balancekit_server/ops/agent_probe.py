"""One agent check on the wire: connect, send `agent-send`, read the agent's line.

HAProxy runs the agent as a three-step tcp-check of its own (an implicit
connect, a send of `agent-send`, a custom expect), so its failures read as
that ruleset's: `Connection refused` (L4CON), a timeout (L4TOUT, L7TOUT), an
agent closing without a byte ("TCPCHK got an empty response at step 2",
L7RSP).  None of them changes the server: only a health word in a line does
(`balancekit.agent`).  The monitor applies what the line says.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import time
from dataclasses import dataclass

from balancekit.agent import AgentReply, parse_agent_reply
from balancekit.health import CheckResult, CheckStatus

__all__ = ["AgentOutcome", "AgentSpec", "probe_agent"]

_BUFFER = 16384  # one check buffer (tune.bufsize)


@dataclass(frozen=True, slots=True)
class AgentSpec:
    """Where an agent answers and what it is sent.  Times in seconds."""

    host: str
    port: int
    inter: float
    send: bytes = b""
    connect_timeout: float | None = None  # `timeout connect`, used only with `timeout check`
    check_timeout: float | None = None  # `timeout check`

    @property
    def connect_limit(self) -> float:
        if self.check_timeout is not None and self.connect_timeout is not None:
            return min(self.inter, self.connect_timeout)
        return self.inter


def elapsed_ms(start: float) -> int:
    return int((time.monotonic() - start) * 1000)


async def _open(
    spec: AgentSpec, start: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | CheckResult:
    """The agent's TCP connection (plain: HAProxy sends agents no PROXY header)."""
    try:
        async with asyncio.timeout(spec.connect_limit):
            return await asyncio.open_connection(spec.host, spec.port)
    except TimeoutError:
        return CheckResult(CheckStatus.L4TOUT, duration_ms=elapsed_ms(start))
    except OSError as exc:
        info = os.strerror(exc.errno) if exc.errno else str(exc)
        if exc.errno is None and isinstance(exc, ConnectionRefusedError):
            info = os.strerror(errno.ECONNREFUSED)
        return CheckResult(CheckStatus.L4CON, info=info, duration_ms=elapsed_ms(start))


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        async with asyncio.timeout(1.0):
            await writer.wait_closed()


@dataclass(frozen=True, slots=True)
class AgentOutcome:
    """What one agent check found: a line (`reply`, or `INCOMPLETE` text), or a
    failure `result` that leaves the server as it is."""

    duration_ms: int
    reply: AgentReply | str | None = None
    result: CheckResult | None = None


async def probe_agent(spec: AgentSpec) -> AgentOutcome:
    """Run one agent check; never raises for network trouble."""
    start = time.monotonic()
    conn = await _open(spec, start)
    if isinstance(conn, CheckResult):
        return AgentOutcome(elapsed_ms(start), result=conn)
    reader, writer = conn
    limit = spec.check_timeout if spec.check_timeout is not None else spec.inter
    data = b""
    try:
        if spec.send:
            writer.write(spec.send)
            await writer.drain()
        async with asyncio.timeout(limit):
            while True:
                chunk = await reader.read(_BUFFER - len(data))
                data += chunk
                if not chunk and not data:
                    info = "TCPCHK got an empty response at step 2"
                    failure = CheckResult(CheckStatus.L7RSP, 0, info, elapsed_ms(start))
                    return AgentOutcome(failure.duration_ms or 0, result=failure)
                reply = parse_agent_reply(data, closed=not chunk or len(data) >= _BUFFER)
                if reply is not None:
                    return AgentOutcome(elapsed_ms(start), reply=reply)
    except TimeoutError:
        result = CheckResult(CheckStatus.L7TOUT, duration_ms=elapsed_ms(start))
        return AgentOutcome(elapsed_ms(start), result=result)
    except OSError as exc:
        info = os.strerror(exc.errno) if exc.errno else ""
        result = CheckResult(CheckStatus.SOCKERR, info=info, duration_ms=elapsed_ms(start))
        return AgentOutcome(elapsed_ms(start), result=result)
    finally:
        await _close(writer)
