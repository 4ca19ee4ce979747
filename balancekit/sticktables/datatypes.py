"""What a stick table stores per entry: HAProxy 2.6's data types and `store` lists.

Why a table of types rather than one attribute per counter: a table stores only
the types its `store` list names (an entry of `type ip store gpc0` is the key,
its expiry and one integer), and the fetches tell "stored and zero" from "not
stored" (an ACL on an unstored type does not match).  The names, argument forms
and the order `show table` prints them in are stick_table.c's
(`stktable_data_types`, in the order of its enum); so are the errors, without
the `parsing [file:line] : stick-table:` prefix the config layer adds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from ..units import c_atol, parse_time

__all__ = [
    "DATA_TYPES",
    "MAX_ARRAY_SIZE",
    "DataType",
    "StoreSpec",
    "StoredType",
    "parse_store",
]

#: STKTABLE_MAX_DT_ARRAY_SIZE: the most elements `gpc(n)`, `gpt(n)`, `gpc_rate(n,p)` take.
MAX_ARRAY_SIZE = 100

StdType = Literal["sint", "uint", "ull", "frqp", "dict"]


@dataclass(frozen=True, slots=True)
class DataType:
    """One of HAProxy's `stktable_data_types`.

    `std` is how the value is kept: a signed or unsigned 32-bit integer, a 64-bit
    counter, a rate (`freq_ctr`) or a string (the server key).  `order` is the
    enum position, which is the order `show table` prints the types in."""

    name: str
    std: StdType
    order: int
    takes_period: bool = False
    is_array: bool = False


def _types() -> dict[str, DataType]:
    spec: list[tuple[str, StdType, bool, bool]] = [
        ("server_id", "sint", False, False),
        ("gpt0", "uint", False, False),
        ("gpc0", "uint", False, False),
        ("gpc0_rate", "frqp", True, False),
        ("conn_cnt", "uint", False, False),
        ("conn_rate", "frqp", True, False),
        ("conn_cur", "uint", False, False),
        ("sess_cnt", "uint", False, False),
        ("sess_rate", "frqp", True, False),
        ("http_req_cnt", "uint", False, False),
        ("http_req_rate", "frqp", True, False),
        ("http_err_cnt", "uint", False, False),
        ("http_err_rate", "frqp", True, False),
        ("bytes_in_cnt", "ull", False, False),
        ("bytes_in_rate", "frqp", True, False),
        ("bytes_out_cnt", "ull", False, False),
        ("bytes_out_rate", "frqp", True, False),
        ("gpc1", "uint", False, False),
        ("gpc1_rate", "frqp", True, False),
        ("server_key", "dict", False, False),
        ("http_fail_cnt", "uint", False, False),
        ("http_fail_rate", "frqp", True, False),
        ("gpt", "uint", False, True),
        ("gpc", "uint", False, True),
        ("gpc_rate", "frqp", True, True),
    ]
    return {
        name: DataType(name, std, order, period, array)
        for order, (name, std, period, array) in enumerate(spec)
    }


#: Every data type by name, in HAProxy's enum order.
DATA_TYPES: dict[str, DataType] = _types()
# HAProxy still accepts the type's former name.
_ALIASES = {"server_name": "server_key"}


def data_type(name: str) -> DataType | None:
    """The type called `name` (`stktable_get_data_type`, with its old alias)."""
    return DATA_TYPES.get(_ALIASES.get(name, name))


@dataclass(frozen=True, slots=True)
class StoredType:
    """One stored type of a table: its period (rates, in ms) and element count
    (1 unless the type is an array)."""

    type: DataType
    period_ms: int = 0
    count: int = 1

    @property
    def name(self) -> str:
        return self.type.name


@dataclass(frozen=True, slots=True)
class StoreSpec:
    """A table's stored types, in `show table` order; `warnings` are the
    duplicates HAProxy ignores with a warning."""

    items: tuple[StoredType, ...] = ()
    warnings: tuple[str, ...] = ()

    def __contains__(self, name: object) -> bool:
        return any(item.type.name == name for item in self.items)

    def __iter__(self) -> Iterator[StoredType]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def get(self, name: str) -> StoredType | None:
        for item in self.items:
            if item.type.name == name:
                return item
        return None

    def __str__(self) -> str:
        """The `store` argument that gives this spec back (periods in ms)."""
        words = []
        for item in self.items:
            args = [str(item.count)] if item.type.is_array else []
            if item.type.takes_period:
                args.append(str(item.period_ms))
            words.append(f"{item.name}({','.join(args)})" if args else item.name)
        return ",".join(words)


_WORD = re.compile(r"([^,(]*)(?:\(([^)]*)(\))?)?[^,]*")


def parse_store(words: str | Sequence[str], *, warnings: list[str] | None = None) -> StoreSpec:
    """`store` arguments (`"http_req_rate(10s),conn_cur,gpc0"`, or several such
    words for a repeated `store`) → the spec; ValueError with HAProxy's words.

    Periods take HAProxy's time units (a bare number is in ms; `1500us` rounds up
    to 2 ms).  A unit followed by junk (`10sec`) is read as HAProxy 2.6 reads it
    when `warnings` collects the warning, and refused otherwise (see
    `balancekit.units.parse_time`).  One departure: HAProxy accepts a
    zero period and then divides by it on the first read; it is refused here.
    """
    if isinstance(words, str):
        words = [words]
    chosen: dict[str, StoredType] = {}
    notes: list[str] = []
    for word in words:
        pos = 0
        while pos < len(word):
            match = _WORD.match(word, pos)
            assert match is not None  # the pattern matches the empty string
            pos = match.end() + 1  # past the comma
            name, args, closed = match.group(1), match.group(2), match.group(3)
            if args is not None and closed is None:
                raise ValueError(f"missing closing parenthesis after store option '{name}'.")
            kind = data_type(name)
            if kind is None:
                raise ValueError(f"unknown store option '{name}'.")
            if kind.name in chosen:
                notes.append(f"store option '{name}' already enabled, ignored.")
                continue
            chosen[kind.name] = _stored(kind, name, args, warnings)
    _check_overrides(chosen)
    if warnings is not None:
        warnings.extend(notes)
    items = tuple(sorted(chosen.values(), key=lambda item: item.type.order))
    return StoreSpec(items, tuple(notes))


def _stored(kind: DataType, name: str, args: str | None, warnings: list[str] | None) -> StoredType:
    """`stktable_alloc_data_type`: the first argument of an array is its size, the
    next (or the only one) the period; a second argument elsewhere is ignored."""
    first, second = args, None
    if args is not None and "," in args:
        first, second = args.split(",", 1)
    count = 1
    if kind.is_array:
        if first is None:
            raise ValueError(f"missing argument to store option '{name}'.")
        count = c_atol(first)
        if not 1 <= count <= MAX_ARRAY_SIZE:
            raise ValueError(
                "array size is out of allowed range "
                f"(1-{MAX_ARRAY_SIZE}) for store option '{name}'."
            )
        first = second
    if not kind.takes_period:
        if first is not None:
            raise ValueError(f"unexpected argument to store option '{name}'.")
        return StoredType(kind, 0, count)
    if first is None:
        raise ValueError(f"missing argument to store option '{name}'.")
    try:
        seconds = parse_time(first, warnings=warnings)
    except ValueError as exc:
        raise ValueError(f"error when processing store option '{name}': {exc}.") from None
    # parse_time_err rounds a sub-millisecond remainder up.
    period = math.ceil(round(seconds * 1000, 6))
    if period < 1:
        raise ValueError(
            f"error when processing store option '{name}': a period of 0 ms cannot measure a rate."
        )
    return StoredType(kind, period, count)


def _check_overrides(chosen: dict[str, StoredType]) -> None:
    """The arrays replace the legacy counters; a table may not have both."""
    if "gpt" in chosen and "gpt0" in chosen:
        raise ValueError(
            "simultaneous usage of 'gpt' and 'gpt0' in a same table is not permitted "
            "as 'gpt' overrides 'gpt0'."
        )
    if "gpc" in chosen and ("gpc0" in chosen or "gpc1" in chosen):
        raise ValueError(
            "simultaneous usage of 'gpc' and 'gpc[0/1]' in a same table is not permitted "
            "as 'gpc' overrides 'gpc[0/1]'."
        )
    if "gpc_rate" in chosen and ("gpc0_rate" in chosen or "gpc1_rate" in chosen):
        raise ValueError(
            "simultaneous usage of 'gpc_rate' and 'gpc[0/1]_rate' in a same table is not "
            "permitted as 'gpc_rate' overrides 'gpc[0/1]_rate'."
        )
