"""`stick-table` lines (stick_table.c's parse_stick_table), read into `StickTable`s.

A proxy's table is named after the proxy; every table is built before any rule
or ACL is compiled, because they name tables declared anywhere in the file.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..sticktables import StickTable, parse_key_type, parse_store
from ..units import parse_size, parse_time

__all__ = ["parse_stick_table"]


def parse_stick_table(
    name: str,
    args: Sequence[str],
    warnings: list[str],
    add: Sequence[str] = (),
    peers: list[str] | None = None,
) -> StickTable:
    """`stick-table type <t> [len n] size <n> [expire <t>] [nopurge] [peers <p>]
    [store <list>]…`, storing the `add` types too (a `stick` rule's server_id and
    server_key).  The `peers` section named is appended to `peers`.

    Raises ValueError with HAProxy's message; `srvkey` (and the later versions'
    `write-to`, `recv-only`) are named as unsupported.
    """
    key_words: list[str] | None = None
    size: int | None = None
    expire_ms: int | None = None
    nopurge = False
    store: list[str] = []
    i = 0
    while i < len(args):
        word = args[i]
        if word in ("size", "expire", "store", "peers", "srvkey") and i + 1 >= len(args):
            raise ValueError(f"stick-table: missing argument after '{word}'.")
        if word == "size":
            try:
                size = parse_size(args[i + 1])
            except ValueError as error:
                if "too large" in str(error):
                    raise ValueError(f"stick-table: {error}") from None
                bad = next((c for c in args[i + 1] if not c.isdigit()), args[i + 1][:1])
                raise ValueError(
                    f"stick-table: unexpected character '{bad}' in argument of 'size'."
                ) from None
            i += 2
        elif word == "expire":
            expire_ms = round(parse_time(args[i + 1], warnings=warnings) * 1000)
            i += 2
        elif word == "nopurge":
            nopurge = True
            i += 1
        elif word == "type":
            end = i + 2
            if args[i + 1] in ("string", "binary") and end < len(args) and args[end] == "len":
                end += 2
            key_words = list(args[i + 1 : end])
            i = end
        elif word == "store":
            store.append(args[i + 1])
            i += 2
        elif word == "peers":
            if peers is not None:
                peers.append(args[i + 1])
            i += 2
        elif word in ("srvkey", "write-to", "recv-only"):
            raise ValueError(
                f"'{word}' is an HAProxy keyword that balancekit does not support "
                "(in a 'stick-table' line)"
            )
        else:
            raise ValueError(f"stick-table: unknown argument '{word}'.")
    if size is None:
        raise ValueError("stick-table: missing size.")
    if key_words is None:
        raise ValueError("stick-table: missing type.")
    try:
        key_type = parse_key_type(key_words)
    except ValueError as error:
        raise ValueError(f"stick-table: {error}") from None
    notes: list[str] = []
    try:
        spec = parse_store(store, warnings=notes)
        missing = [kind for kind in add if kind not in spec]
        if missing:
            spec = parse_store([*store, ",".join(missing)])
    except ValueError as error:
        raise ValueError(f"stick-table: {error}") from None
    warnings.extend(f"stick-table: {note}" for note in notes)
    return StickTable(name, key_type, size, expire_ms=expire_ms, nopurge=nopurge, store=spec)
