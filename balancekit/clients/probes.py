"""The I/O of active health checks: a TCP connect and an HTTP request, blocking.

Each probe returns a `balancekit.health.CheckResult`; the pools feed it to
`ServerHealth.record`.  Probes run in the pool's checker thread (the asyncio
pool runs them in the default executor).
"""

from __future__ import annotations

import http.client
import socket
import time

from ..config.runtime import HttpCheck, HttpCheckExpect
from ..health import CheckResult, CheckStatus
from ..httpcheck import evaluate_http

__all__ = ["http_probe", "mysql_probe", "tcp_probe"]


def _ms(start: float) -> int:
    return int((time.monotonic() - start) * 1000)


def tcp_probe(host: str, port: int, timeout: float) -> CheckResult:
    """Connect and close: L4OK, L4CON (refused, unreachable) or L4TOUT."""
    start = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except TimeoutError:
        return CheckResult(CheckStatus.L4TOUT, info="", duration_ms=_ms(start))
    except OSError as exc:
        return CheckResult(CheckStatus.L4CON, info=exc.strerror or str(exc), duration_ms=_ms(start))
    return CheckResult(CheckStatus.L4OK, duration_ms=_ms(start))


def http_probe(
    host: str,
    port: int,
    check: HttpCheck,
    timeout: float,
    expects: tuple[HttpCheckExpect, ...] = (),
) -> CheckResult:
    """Send `check`'s request and apply `http-check expect` (default: 2xx and 3xx
    pass) to the answer, as the server's checker does."""
    start = time.monotonic()
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        try:
            conn.connect()
        except TimeoutError:
            return CheckResult(CheckStatus.L4TOUT, duration_ms=_ms(start))
        except OSError as exc:
            return CheckResult(
                CheckStatus.L4CON, info=exc.strerror or str(exc), duration_ms=_ms(start)
            )
        headers = dict(check.headers)
        headers.setdefault("Host", host)
        try:
            conn.request(check.method, check.uri, body=check.body or None, headers=headers)
            response = conn.getresponse()
            body = response.read()
        except TimeoutError:
            return CheckResult(CheckStatus.L7TOUT, duration_ms=_ms(start))
        except (OSError, http.client.HTTPException) as exc:
            return CheckResult(CheckStatus.L7RSP, info=str(exc), duration_ms=_ms(start))
        return evaluate_http(expects, response.status, response.reason, body, _ms(start))
    finally:
        conn.close()


def mysql_probe(host: str, port: int, timeout: float) -> CheckResult:
    """`option mysql-check` without a user: read the server's greeting.  A
    protocol-10 handshake passes (L7OK); an error packet (too many connections,
    host blocked) is L7STS with its message; anything else L7RSP."""
    start = time.monotonic()
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except TimeoutError:
        return CheckResult(CheckStatus.L4TOUT, duration_ms=_ms(start))
    except OSError as exc:
        return CheckResult(CheckStatus.L4CON, info=exc.strerror or str(exc), duration_ms=_ms(start))
    with sock:
        try:
            data = b""
            while len(data) < 5:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            return CheckResult(CheckStatus.L7TOUT, duration_ms=_ms(start))
        except OSError as exc:
            return CheckResult(CheckStatus.L7RSP, info=str(exc), duration_ms=_ms(start))
    if len(data) < 5:
        return CheckResult(CheckStatus.L7RSP, info="short greeting", duration_ms=_ms(start))
    kind = data[4]
    if kind == 0x0A:
        version = data[5:].split(b"\0", 1)[0].decode("latin-1")
        return CheckResult(CheckStatus.L7OK, info=version, duration_ms=_ms(start))
    if kind == 0xFF:
        message = data[7:].decode("latin-1", "replace")
        return CheckResult(CheckStatus.L7STS, info=message, duration_ms=_ms(start))
    return CheckResult(CheckStatus.L7RSP, info="not a MySQL greeting", duration_ms=_ms(start))
