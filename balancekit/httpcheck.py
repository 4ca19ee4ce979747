"""The verdict of an HTTP health check: `http-check expect` applied to a response.

Pure, so the server's asyncio checker and the in-app pools' blocking probes
reach the same verdict (and the same `show stat` check status) for the same
answer.
"""

from __future__ import annotations

import re

from .config.runtime import HttpCheckExpect
from .health import CheckResult, CheckStatus

__all__ = ["DEFAULT_EXPECT", "evaluate_http"]

#: What HAProxy expects when no `http-check expect` is given: a 2xx or 3xx status.
DEFAULT_EXPECT = (HttpCheckExpect("status", "200-399"),)


def _status_matches(pattern: str, status: int) -> bool:
    for part in pattern.split(","):
        low, _, high = part.strip().partition("-")
        if low.isdigit() and int(low) <= status <= int(high or low):
            return True
    return False


def evaluate_http(
    expects: tuple[HttpCheckExpect, ...],
    status: int,
    reason: str,
    body: bytes,
    duration: int,
    *,
    condpass_404: bool = False,
) -> CheckResult:
    """Apply `http-check expect` rules (default: status 200-399) to a response.
    `condpass_404` (`http-check disable-on-404`, for a server that is not DOWN):
    a 404 conditionally passes (L7OKC) before any rule, as in HAProxy's tcpcheck."""
    if condpass_404 and status == 404:
        return CheckResult(CheckStatus.L7OKC, status, "", duration)  # no info, as HAProxy
    text = body.decode("latin-1")
    for rule in expects or DEFAULT_EXPECT:
        if rule.kind in ("status", "rstatus"):
            matched = (
                _status_matches(rule.pattern, status)
                if rule.kind == "status"
                else re.search(rule.pattern, str(status)) is not None
            )
            if matched == rule.negate:
                return CheckResult(CheckStatus.L7STS, status, reason, duration)
        else:
            if not text and not rule.negate:
                info = "HTTP content check could not find a response body"
                return CheckResult(CheckStatus.L7RSP, status, info, duration)
            matched = (
                rule.pattern in text
                if rule.kind == "string"
                else re.search(rule.pattern, text) is not None
            )
            if matched == rule.negate:
                info = (
                    "HTTP check matched unwanted content"
                    if rule.negate
                    else "HTTP content check did not match"
                )
                return CheckResult(CheckStatus.L7RSP, status, info, duration)
    return CheckResult(CheckStatus.L7OK, status, "", duration)
