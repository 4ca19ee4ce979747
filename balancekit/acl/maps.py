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
directory, as HAProxy reads them); they are not watched.  Each file is one shared
reference (balancekit.acl.patref) that the runtime API changes (`add map`,
`set map`, `del map`, `clear map`): the next lookup sees the change.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from typing import cast

from .fetches import CONVERTERS, ConverterDef, FetchError, Value
from .patref import PatElt, PatExpr, PatRefs, RefError
from .patterns import PatternError, build_matcher, parse_ip_sample, str_to_int

__all__ = ["MAP_CONVERTERS", "MapIndex", "map_expr", "read_map_file", "read_map_lines"]

#: How a map compares its keys, and the sample type its input is read as.
_MATCHES = {"str": "str", "beg": "str", "sub": "str", "dir": "str", "dom": "str",
            "end": "str", "reg": "str", "int": "sint", "ip": "addr"}  # fmt: skip
_OUTPUTS = {"": "str", "_int": "sint", "_ip": "addr"}


def read_map_file(path: str) -> list[tuple[str, str]]:
    """The (key, value) pairs of a map file, in file order."""
    return [(key, value) for _line, key, value in read_map_lines(path)]


def read_map_lines(path: str) -> list[tuple[int, str, str]]:
    """The (line number, key, value) entries of a map file, in file order."""
    try:
        with open(path, encoding="latin-1", newline="") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        raise FetchError(f"failed to load map file '{path}': {exc.strerror}") from None
    entries: list[tuple[int, str, str]] = []
    for number, line in enumerate(lines, 1):
        if line.startswith("#"):
            continue
        text = line.lstrip(" \t")
        if not text:
            continue
        cut = next((at for at, ch in enumerate(text) if ch in " \t"), len(text))
        entries.append((number, text[:cut], text[cut:].strip(" \t")))
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


class MapIndex:
    """A map's entries compiled for one match method and output type.

    Built from a reference's entries (balancekit.acl.patref) each time they change;
    a bad entry raises RefError naming it.  `find` returns the entry that matched
    with its value, as `get map` reports them; `lookup` only the value.
    """

    __slots__ = ("_exact", "_list", "_networks", "match")

    def __init__(self, elements: Sequence[PatElt], match: str, output: str) -> None:
        self.match = match
        self._exact: dict[str, tuple[PatElt, Value]] = {}
        self._list: list[tuple[object, PatElt, Value]] = []
        self._networks: list[tuple[int, int, PatElt, Value]] = []  # (prefix length, network…)
        for elt in elements:
            try:
                value = _output(elt.sample or "", output, "")
            except FetchError as exc:
                raise RefError(str(exc)[2:], elt, on_value=True) from None
            key = elt.pattern
            if match == "str":
                self._exact.setdefault(key, (elt, value))
            elif match == "beg":
                self._list.append((key, elt, value))
            elif match == "ip":
                self._add_network(elt, value)
            else:
                try:
                    matcher = build_matcher(match, [key], False)
                except PatternError as exc:
                    raise RefError(str(exc), elt) from None
                self._list.append((matcher, elt, value))

    def __repr__(self) -> str:
        size = len(self._exact) + len(self._list) + len(self._networks)
        return f"<MapIndex match={self.match} entries={size}>"

    def _add_network(self, elt: PatElt, value: Value) -> None:
        try:
            network = ipaddress.ip_network(elt.pattern, strict=False)
        except ValueError:
            raise RefError(f"'{elt.pattern}' is not a valid IPv4 or IPv6 address", elt) from None
        if network.version == 4:
            self._networks.append((network.prefixlen, int(network.network_address), elt, value))
        else:
            self._list.append((network, elt, value))

    def lookup(self, sample: Value) -> Value | None:
        found = self.find(sample)
        return None if found is None else found[1]

    def find(self, sample: Value) -> tuple[PatElt, Value] | None:
        match = self.match
        if match == "str":
            return self._exact.get(str(sample))
        if match == "beg":
            text = str(sample)
            best: tuple[int, PatElt, Value] | None = None
            for key, elt, value in self._list:
                key_text = cast(str, key)
                if text.startswith(key_text) and (best is None or len(key_text) > best[0]):
                    best = (len(key_text), elt, value)
            return None if best is None else best[1:]
        if match == "ip":
            version, number = cast(tuple[int, int], sample)
            if version == 4:
                found: tuple[int, PatElt, Value] | None = None
                for length, network, elt, value in self._networks:
                    shift = 32 - length
                    if number >> shift == network >> shift and (found is None or length > found[0]):
                        found = (length, elt, value)
                return None if found is None else found[1:]
            address = ipaddress.IPv6Address(number)
            for network6, elt, value in self._list:
                if address in cast(ipaddress.IPv6Network, network6):
                    return elt, value
            return None
        for matcher, elt, value in self._list:
            if matcher.match(sample):  # type: ignore[attr-defined]
                return elt, value
        return None


#: Match methods whose lookups HAProxy keeps in one shared expression (the same
#: parse and index functions): `map_sub` and `map_end` on one file share one.
_FAMILY = {"sub": "list_str", "dir": "list_str", "dom": "list_str", "end": "list_str"}


def map_expr(refs: PatRefs, path: str, match: str, output: str) -> PatExpr:
    """The shared expression a `map_<match>(<path>)` converter looks up."""

    def read() -> list[tuple[str, str | None, int]]:
        return [(k, v, n) for n, k, v in read_map_lines(path)]

    try:
        ref = refs.file(path, "map", read, two_column=True)
        return ref.expr(
            match,
            False,
            output,
            _FAMILY.get(match, match),
            lambda elements: MapIndex(elements, match, output),
            late=refs.is_deferred,
        )
    except RefError as exc:
        if exc.elt is None:
            raise FetchError(str(exc)) from None
        raise FetchError(f"map file '{path}' line {exc.elt.line}: {exc}") from None


def _prepare(
    match: str, output: str
) -> Callable[[tuple[object, ...], PatRefs], tuple[object, ...]]:
    def prepare(args: tuple[object, ...], refs: PatRefs) -> tuple[object, ...]:
        expr = map_expr(refs, str(args[0]), match, output)
        if len(args) > 1:
            return (expr, _output(str(args[1]), output, f"map default '{args[1]}'"))
        return (expr,)

    return prepare


def _convert(value: Value, args: tuple[object, ...]) -> Value | None:
    found = cast(MapIndex, cast(PatExpr, args[0]).index).lookup(value)
    if found is None and len(args) > 1:
        return args[1]
    return found


def _definitions() -> Sequence[ConverterDef]:
    out: list[ConverterDef] = []
    for match, in_type in _MATCHES.items():
        for suffix, out_type in _OUTPUTS.items():
            name = f"map_{match}{suffix}"
            prepare = _prepare(match, out_type)
            out.append(
                ConverterDef(
                    name, in_type, out_type, _convert, ("str", "str"), 1, prepare_refs=prepare
                )
            )
    prepare = _prepare("str", "str")
    out.append(ConverterDef("map", "str", "str", _convert, ("str", "str"), 1, prepare_refs=prepare))
    return out


MAP_CONVERTERS: dict[str, ConverterDef] = {c.name: c for c in _definitions()}
CONVERTERS.update(MAP_CONVERTERS)
