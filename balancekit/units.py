"""Time and size values as haproxy.cfg writes them.

Times: digits then `us`, `ms`, `s`, `m`, `h` or `d`; a bare number is in
milliseconds (the unit of every `timeout`).  Sizes: digits then `k`, `m` or `g`
(powers of 1024).  Results are seconds as `float` and bytes as `int`, the units
the rest of balancekit works in.
"""

from __future__ import annotations

import re

__all__ = ["MAX_SECONDS_MS", "MAX_TIMER_MS", "c_atol", "parse_size", "parse_time"]

#: HAProxy stores timers as signed 32-bit milliseconds.
MAX_TIMER_MS = 2**31 - 1
#: ... and a few durations (cookie `maxidle`/`maxlife`) as 32-bit seconds.
MAX_SECONDS_MS = (2**31 - 1) * 1000
_LIMITS = {
    MAX_TIMER_MS: "2147483647 ms, about 24.8 days",
    MAX_SECONDS_MS: "2147483647 s, about 68 years",
}

_TIME = re.compile(r"^(\d+)(us|ms|s|m|h|d)?(.*)$", re.S)
_SIZE = re.compile(r"^(\d+)([kKmMgG])?$")
_MS_PER_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_MS_PER_UNIT["d"] = 86_400_000.0


def parse_time(
    word: str,
    *,
    default_unit: str = "ms",
    warnings: list[str] | None = None,
    maximum_ms: int = MAX_TIMER_MS,
) -> float:
    """`"5000ms"`, `"5s"`, `"30"` (ms) -> seconds.  Raises ValueError with HAProxy's wording.

    `maximum_ms` is `MAX_TIMER_MS` (timeouts) or `MAX_SECONDS_MS` (values HAProxy
    keeps in seconds).

    HAProxy 2.6 reads a unit followed by junk (`15min`, `10sec`) as the unit
    alone and only warns ("will be reported as an error in next versions"); real
    configs carry such values, so with a `warnings` list the same reading is
    accepted and the warning appended.  Without one (a library caller) it is an
    error, since nobody would see the warning.
    """
    match = _TIME.match(word)
    if match is None or (match.group(2) is None and match.group(3)):
        if word and word[0].isdigit():
            bad = word.lstrip("0123456789")
            raise ValueError(
                f"unexpected character '{bad[0]}' in time value '{word}' "
                "(units are us, ms, s, m, h, d)"
            )
        raise ValueError(f"expected a time value, got '{word}'")
    trailing = match.group(3)
    if trailing:
        message = (
            f"unexpected character '{trailing[0]}' after the timer value '{word}', "
            "only (us=microseconds,ms=milliseconds,s=seconds,m=minutes,h=hours,d=days) "
            "are supported; read as "
            f"'{match.group(1)}{match.group(2)}' as HAProxy 2.6 does"
        )
        if warnings is None:
            raise ValueError(message)
        warnings.append(message)
    unit = match.group(2) or default_unit
    ms = int(match.group(1)) * _MS_PER_UNIT[unit]
    if ms > maximum_ms:
        raise ValueError(f"timer overflow in '{word}' (maximum is {_LIMITS[maximum_ms]})")
    return ms / 1000.0


def c_atol(word: str) -> int:
    """C's atol(), which HAProxy 2.6 uses for counts such as `maxconn`, `retries`
    and a server's `weight`: the leading integer, and 0 when there is none
    (`5s` is 5, `x` and an absent value are 0)."""
    match = re.match(r"\s*([-+]?\d+)", word)
    return int(match.group(1)) if match else 0


def parse_size(word: str) -> int:
    """`"16k"` -> 16384.  Raises ValueError naming the bad value."""
    match = _SIZE.match(word)
    if match is None:
        raise ValueError(f"expected a size value like 16384, 16k, 1m or 1g, got '{word}'")
    shift = {"": 0, "k": 10, "m": 20, "g": 30}[(match.group(2) or "").lower()]
    value = int(match.group(1)) << shift
    if value > 2**32 - 1:
        raise ValueError(f"size '{word}' is too large (maximum is 4g - 1)")
    return value
