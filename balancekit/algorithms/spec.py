"""Parsing of the `balance` and `hash-type` arguments, in haproxy.cfg's own words.

Both the Python API and the config parser go through these functions, so a
`Backend(balance="uri depth 2 whole")` means exactly what the same words mean in
a config file, and both fail with the same message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "HASH_FUNCTIONS",
    "HASH_METHODS",
    "BalanceSpec",
    "HashSpec",
    "parse_balance",
    "parse_hash_type",
]

HASH_METHODS = ("map-based", "consistent", "maglev")
HASH_FUNCTIONS = ("sdbm", "djb2", "wt6", "crc32", "none", "murmur3")

_CALL = re.compile(r"^(?P<name>[a-z_-]+)\((?P<arg>[^()]*)\)$")


@dataclass(frozen=True, slots=True)
class BalanceSpec:
    """A parsed `balance` line."""

    algorithm: str = "roundrobin"
    uri_len: int = 0
    uri_depth: int = 0
    uri_whole: bool = False
    uri_path_only: bool = False
    param: str = ""
    header: str = ""
    use_domain_only: bool = False
    draws: int = 2

    @property
    def is_hash(self) -> bool:
        return self.algorithm in ("source", "uri", "url_param", "hdr")


@dataclass(frozen=True, slots=True)
class HashSpec:
    """A parsed `hash-type` line; the defaults are HAProxy's when the line is absent."""

    method: str = "map-based"
    function: str = "sdbm"
    avalanche: bool = False


def _positive_int(word: str, what: str) -> int:
    if not word.isdigit() or int(word) <= 0:
        raise ValueError(f"balance: {what} expects a positive integer, got '{word}'")
    return int(word)


def parse_balance(text: str | None) -> BalanceSpec:
    """Parse `roundrobin`, `uri depth 2 whole`, `hdr(X-User)`, `url_param uid`, `random(3)`…"""
    words = (text or "roundrobin").split()
    if not words:
        return BalanceSpec()
    head, rest = words[0], words[1:]
    call = _CALL.match(head)
    name, arg = (call.group("name"), call.group("arg")) if call else (head, None)

    if name in ("roundrobin", "static-rr", "leastconn", "first", "source"):
        if arg is not None or rest:
            raise ValueError(f"balance: '{name}' takes no argument, got '{text}'")
        return BalanceSpec(algorithm=name)
    if name == "random":
        draws = 2 if arg is None or arg == "" else _positive_int(arg, "random(<draws>)")
        if rest:
            raise ValueError(f"balance: unexpected '{rest[0]}' after 'random'")
        return BalanceSpec(algorithm="random", draws=draws)
    if name == "uri":
        if arg is not None:
            raise ValueError("balance: 'uri' takes options, not parentheses")
        return _parse_uri(rest)
    if name == "url_param":
        if not rest:
            raise ValueError("balance: 'url_param' requires a parameter name")
        param, options = rest[0], rest[1:]
        if options and options[0] == "check_post":
            raise ValueError("balance url_param: 'check_post' is not supported")
        if options:
            raise ValueError(f"balance url_param: unexpected '{options[0]}'")
        return BalanceSpec(algorithm="url_param", param=param)
    if name == "hdr":
        if not arg:
            raise ValueError("balance: 'hdr' requires a header name in parentheses, e.g. hdr(host)")
        use_domain_only = False
        for option in rest:
            if option != "use_domain_only":
                raise ValueError(f"balance hdr: unexpected '{option}'")
            use_domain_only = True
        return BalanceSpec(algorithm="hdr", header=arg.lower(), use_domain_only=use_domain_only)
    raise ValueError(
        f"balance: unknown algorithm '{name}' (expected roundrobin, static-rr, leastconn, "
        "first, source, uri, url_param, hdr(<name>) or random[(<draws>)])"
    )


def _parse_uri(options: list[str]) -> BalanceSpec:
    length = depth = 0
    whole = path_only = False
    i = 0
    while i < len(options):
        word = options[i]
        if word in ("len", "depth"):
            if i + 1 >= len(options):
                raise ValueError(f"balance uri: '{word}' expects a positive integer")
            value = _positive_int(options[i + 1], f"uri {word}")
            if word == "len":
                length = value
            else:
                depth = value
            i += 2
            continue
        if word == "whole":
            whole = True
        elif word == "path-only":
            path_only = True
        else:
            raise ValueError(f"balance uri: unexpected '{word}'")
        i += 1
    return BalanceSpec(
        algorithm="uri", uri_len=length, uri_depth=depth, uri_whole=whole, uri_path_only=path_only
    )


def parse_hash_type(text: str | None) -> HashSpec:
    """Parse `map-based`, `consistent`, `consistent djb2 avalanche`, `maglev murmur3`…

    `consistent` with no function means sdbm *with* avalanche, as in HAProxy.
    """
    words = (text or "map-based").split()
    method, rest = words[0], words[1:]
    if method not in HASH_METHODS:
        raise ValueError(
            f"hash-type: unknown method '{method}' (expected {', '.join(HASH_METHODS)})"
        )
    if not rest:
        return HashSpec(method=method, function="sdbm", avalanche=method != "map-based")
    function = rest[0]
    if function not in HASH_FUNCTIONS:
        raise ValueError(
            f"hash-type: unknown function '{function}' (expected {', '.join(HASH_FUNCTIONS)})"
        )
    avalanche = False
    for word in rest[1:]:
        if word != "avalanche":
            raise ValueError(f"hash-type: unexpected '{word}' (only 'avalanche' may follow)")
        avalanche = True
    return HashSpec(method=method, function=function, avalanche=avalanche)
