"""Every `balance` algorithm, registered under its haproxy.cfg keyword.

One module per keyword, as in HAProxy's src/lb_*.c.  Registration by keyword is
what lets the config parser, the Python API and the contract tests all reach
the same implementation by the same word.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

from .base import Algorithm, LBOptions, Member
from .spec import BalanceSpec, HashSpec, parse_balance, parse_hash_type

__all__ = [
    "ALGORITHM_MODULES",
    "Algorithm",
    "BalanceSpec",
    "HashSpec",
    "LBOptions",
    "Member",
    "algorithm_class",
    "parse_balance",
    "parse_hash_type",
    "register",
]

#: keyword -> module that registers it; imported on first use.
ALGORITHM_MODULES: dict[str, str] = {
    "roundrobin": ".roundrobin",
    "static-rr": ".static_rr",
    "leastconn": ".leastconn",
    "first": ".first",
    "source": ".source",
    "uri": ".uri",
    "url_param": ".url_param",
    "hdr": ".hdr",
    "random": ".random",
}

_REGISTRY: dict[str, type[Algorithm]] = {}


def register(keyword: str) -> Callable[[type[Algorithm]], type[Algorithm]]:
    """Class decorator: make `cls` the implementation of `balance <keyword>`."""

    def decorate(cls: type[Algorithm]) -> type[Algorithm]:
        cls.keyword = keyword
        _REGISTRY[keyword] = cls
        return cls

    return decorate


def algorithm_class(keyword: str) -> type[Algorithm]:
    """The class registered for `keyword`, importing its module on first use."""
    if keyword not in _REGISTRY:
        module = ALGORITHM_MODULES.get(keyword)
        if module is None:
            raise ValueError(f"balance: unknown algorithm '{keyword}'")
        import_module(module, __name__)
    return _REGISTRY[keyword]
