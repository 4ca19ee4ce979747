"""Map files and the `map_*` converters (HAProxy 2.6's map.c and pattern.c).

A map file holds one `key value` pair per line (a `#` in the first column starts
a comment; the value is the rest of the line, spaces around it trimmed).  The
converter `map_<match>[_<output>](<file>[,<default>])` looks its input up as
HAProxy does: `str` exactly, `beg` by the longest matching prefix, `ip` by the
longest matching IPv4 network (IPv6 ones in file order), the others (`sub`,
`dir`, `dom`, `end`, `reg`, `int`) by the first line that matches.  The value is
a string, or an integer (`_int`) or an address (`_ip`) checked when the file
loads; without a match the default is returned, or nothing.

Files are read when the configuration loads (relative paths from the current
directory, as HAProxy reads them); they are not watched.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from typing import cast

from .fetches import CONVERTERS, ConverterDef, FetchError, Value
from .patterns import PatternError, build_matcher, parse_ip_sample, str_to_int

__all__ = ["MAP_CONVERTERS", "MapLookup", "read_map_file"]

#: How a map compares its keys, and the sample type its input is read as.
_MATCHES = {"str": "str", "beg": "str", "sub": "str", "dir": "str", "dom": "str",
            "end": "str", "reg": "str", "int": "sint", "ip": "addr"}  # fmt: skip
_OUTPUTS = {"": "str", "_int": "sint", "_ip": "addr"}


def read_map_file(path: str) -> list[tuple[str, str]]:
    """The (key, value) pairs of a map file, in file order."""
    try:
        with open(path, encoding="latin-1", newline="") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        raise FetchError(f"failed to load map file '{path}': {exc.strerror}") from None
    entries: list[tuple[str, str]] = []
    for line in lines:
        if line.startswith("#"):
            continue
        text = line.lstrip(" \t")
        if not text:
            continue
        cut = next((at for at, ch in enumerate(text) if ch in " \t"), len(text))
        entries.append((text[:cut], text[cut:].strip(" \t")))
    return entries


def _output(text: str, kind: str, where: str) -> Value:
    if kind == "sint":
        number = str_to_int(text) if text.lstrip("+-").isdigit() else None
        if number is None:
            raise FetchError(f"{where}: '{text}' is not an integer")
        return number
    if kind == "addr":
        address = parse_ip_sample(text)
        if address is None:
            raise FetchError(f"{where}: '{text}' is not an IP address")
        return address
    return text


class MapLookup:
    """One loaded map, ready to answer lookups."""

    __slots__ = ("_exact", "_list", "_networks", "match", "path")

    def __init__(self, path: str, match: str, output: str) -> None:
        self.path, self.match = path, match
        self._exact: dict[str, Value] = {}
        self._list: list[tuple[object, Value]] = []
        self._networks: list[tuple[int, int, Value]] = []  # (prefix length, network, value)
        for line, (key, text) in enumerate(read_map_file(path), 1):
            value = _output(text, output, f"map file '{path}' line {line}")
            if match == "str":
                self._exact.setdefault(key, value)
            elif match == "beg":
                self._list.append((key, value))
            elif match == "ip":
                self._add_network(key, value, line)
            else:
                try:
                    matcher = build_matcher(match, [key], False)
                except PatternError as exc:
                    raise FetchError(f"map file '{path}' line {line}: {exc}") from None
                self._list.append((matcher, value))

    def __repr__(self) -> str:
        size = len(self._exact) + len(self._list) + len(self._networks)
        return f"<MapLookup {self.path!r} match={self.match} entries={size}>"

    def _add_network(self, key: str, value: Value, line: int) -> None:
        try:
            network = ipaddress.ip_network(key, strict=False)
        except ValueError:
            raise FetchError(
                f"map file '{self.path}' line {line}: '{key}' is not a network"
            ) from None
        if network.version == 4:
            self._networks.append((network.prefixlen, int(network.network_address), value))
        else:
            self._list.append((network, value))

    def lookup(self, sample: Value) -> Value | None:
        match = self.match
        if match == "str":
            return self._exact.get(str(sample))
        if match == "beg":
            text = str(sample)
            best: tuple[int, Value] | None = None
            for key, value in self._list:
                key_text = cast(str, key)
                if text.startswith(key_text) and (best is None or len(key_text) > best[0]):
                    best = (len(key_text), value)
            return None if best is None else best[1]
        if match == "ip":
            version, number = cast(tuple[int, int], sample)
            if version == 4:
                found: tuple[int, Value] | None = None
                for length, network, value in self._networks:
                    shift = 32 - length
                    if number >> shift == network >> shift and (found is None or length > found[0]):
                        found = (length, value)
                return None if found is None else found[1]
            address = ipaddress.IPv6Address(number)
            for network6, value in self._list:
                if address in cast(ipaddress.IPv6Network, network6):
                    return value
            return None
        for matcher, value in self._list:
            if matcher.match(sample):  # type: ignore[attr-defined]
                return value
        return None


def _prepare(match: str, output: str) -> Callable[[tuple[object, ...]], tuple[object, ...]]:
    def prepare(args: tuple[object, ...]) -> tuple[object, ...]:
        path = str(args[0])
        lookup = MapLookup(path, match, output)
        if len(args) > 1:
            return (lookup, _output(str(args[1]), output, f"map default '{args[1]}'"))
        return (lookup,)

    return prepare


def _convert(value: Value, args: tuple[object, ...]) -> Value | None:
    found = cast(MapLookup, args[0]).lookup(value)
    if found is None and len(args) > 1:
        return args[1]
    return found


def _definitions() -> Sequence[ConverterDef]:
    out: list[ConverterDef] = []
    for match, in_type in _MATCHES.items():
        for suffix, out_type in _OUTPUTS.items():
            name = f"map_{match}{suffix}"
            prepare = _prepare(match, out_type)
            out.append(ConverterDef(name, in_type, out_type, _convert, ("str", "str"), 1, prepare))
    prepare = _prepare("str", "str")
    out.append(ConverterDef("map", "str", "str", _convert, ("str", "str"), 1, prepare))
    return out


MAP_CONVERTERS: dict[str, ConverterDef] = {c.name: c for c in _definitions()}
CONVERTERS.update(MAP_CONVERTERS)
