"""`option external-check`: run a program as a server's check, as HAProxy 2.6 does.

The program is `external-check command`, looked up in `external-check path`
only (HAProxy replaces the environment before execvp, so `PATH` is that path,
empty by default).  It gets HAProxy's four arguments — the proxy's first
listening address and port (`NOT_USED` for a backend without one), the server's
address and port — and an environment of exactly `PATH` and the `HAPROXY_*`
variables (src/extcheck.c).  Exit status 0 is `PROCOK` ("External check
passed"), any other `PROCERR` with the status as the code (255 when the program
cannot be run, -1 when a signal ended it), and a program still running after
the check's time (`inter`, or `timeout connect` when `timeout check` is set) is
killed (SIGTERM): `PROCTOUT`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from dataclasses import dataclass

from balancekit.health import CheckResult, CheckStatus
from balancekit_server.ops.logs import console

__all__ = ["ExternalSpec", "run_external_check"]


@dataclass(frozen=True, slots=True)
class ExternalSpec:
    """One server's external check: the program, its arguments and fixed environment."""

    command: str
    path: str
    #: The four arguments after the command.
    args: tuple[str, str, str, str]
    #: Every variable but HAPROXY_SERVER_CURCONN, which is read at each run.
    env: tuple[tuple[str, str], ...]
    limit: float

    def environment(self, curconn: int) -> dict[str, str]:
        env = dict(self.env)
        env["HAPROXY_SERVER_CURCONN"] = str(curconn)
        return env


def _program(spec: ExternalSpec) -> str | None:
    """What execvp would run: a name with a `/` as it is, else found in the path."""
    if "/" in spec.command:
        return spec.command
    return shutil.which(spec.command, path=spec.path) if spec.path else None


async def run_external_check(spec: ExternalSpec, curconn: int) -> CheckResult:
    """Run the program once; never raises for a program that fails or hangs."""
    start = time.monotonic()
    program = _program(spec)

    def done(status: CheckStatus, code: int) -> CheckResult:
        return CheckResult(status, code, "", int((time.monotonic() - start) * 1000))

    if program is None:
        console(
            "alert",
            "Failed to exec process for external health check: No such file or directory. "
            "Aborting.",
        )
        return done(CheckStatus.PROCERR, 255)
    try:
        process = await asyncio.create_subprocess_exec(
            spec.command,  # argv[0] as configured, as execvp gets it
            *spec.args,
            env=spec.environment(curconn),
            stdin=asyncio.subprocess.DEVNULL,
            executable=program,
        )
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        console("alert", f"Failed to exec process for external health check: {reason}. Aborting.")
        return done(CheckStatus.PROCERR, 255)
    try:
        async with asyncio.timeout(spec.limit):
            returncode = await process.wait()
    except TimeoutError:
        console("warning", f"kill {process.pid}")
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        await process.wait()
        return done(CheckStatus.PROCTOUT, 0)
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        raise
    if returncode < 0:  # ended by a signal
        return done(CheckStatus.PROCERR, -1)
    return done(CheckStatus.PROCOK if returncode == 0 else CheckStatus.PROCERR, returncode)
