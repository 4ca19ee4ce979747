"""The runtime API's stick table commands: `show table`, `clear table`, `set table`.

Why the text is HAProxy's to the character: operators' scripts parse it (the
`# table:` header, `key=… use=… exp=…` and `type(period)=value` fields, the error
lines), so `run_table_command` answers what HAProxy 2.6's CLI answers
(stick_table.c: `cli_parse_table_req`, `table_process_entry_per_key`,
`table_prepare_data_request`, `cli_io_handler_table`, `table_dump_head_to_buffer`,
`table_dump_entry_to_buffer`), without the empty line the CLI adds after every
answer (balancekit_server's runtime API adds it).

Two things cannot be HAProxy's:

- each entry line starts with the entry's address in memory (`0x55d0c8a3b2c0:`);
  here it is a made-up address that stays the same for the entry's life and is
  never shared by two entries (`entry_id`), so it can be matched the same way;
- HAProxy walks the table while other threads change it; here a command sees
  the table as it is at `now`, with what has expired by then already gone.

Kept from HAProxy 2.6, although they look like slips, because scripts meet them:
`clear table` (and `set table <t>` with nothing after the name, which HAProxy
runs as the same walk) keeps an unused entry when the next entry in key order
is in use; entries are listed in the key tree's order; `show table` with no
name lists the tables newest first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from ipaddress import AddressValueError, IPv4Address, IPv6Address

from .datatypes import data_type
from .keys import KeyInput, format_key
from .table import Entry, StickTable

__all__ = [
    "FILTER_LEN",
    "entry_id",
    "format_entry",
    "format_header",
    "run_table_command",
]

#: STKTABLE_FILTER_LEN: how many `data.<type> <op> <value>` filters a command takes.
FILTER_LEN = 4
_LEVELS = {"user": 0, "operator": 1, "admin": 2}
_OPS = ("eq", "ne", "le", "ge", "lt", "gt")
_LLONG_MAX = 2**63 - 1
_LLONG_MIN = -(2**63)
_LLONG_MIN_DIV10 = -(2**63 // 10)  # C's LLONG_MIN / 10, rounded toward zero
_ID_BASE = 0x7F0000000000


def entry_id(entry: Entry) -> int:
    """The number printed in place of the entry's address."""
    return _ID_BASE + 0x40 * entry.serial


def format_header(table: StickTable) -> str:
    return (
        f"# table: {table.name}, type: {table.key_type.kind}, "
        f"size:{table.size}, used:{table.used}\n"
    )


def format_entry(table: StickTable, entry: Entry, now: int) -> str:
    """One entry's line, data types in HAProxy's order (not the `store` order)."""
    key = format_key(table.key_type, table.key_of(entry))
    parts = [
        f"0x{entry_id(entry):x}: key={key} use={table.ref_count(entry)} "
        f"exp={table.read(entry, 'expire', now)}"
    ]
    for stored, idx, value in table.values(entry, now):
        name = stored.name
        if stored.type.is_array:
            # gpc_rate's element 3 prints as gpc3_rate: the index goes before the first '_'.
            head, sep, tail = name.partition("_")
            name = f"{head}{idx}{sep}{tail}"
        if stored.type.takes_period:
            name += f"({stored.period_ms})"
        parts.append(f"{name}={'-' if value is None else value}")
    return " ".join(parts) + "\n"


def run_table_command(
    tables: Mapping[str, StickTable],
    words: Sequence[str],
    now: int,
    *,
    level: str = "admin",
) -> str:
    """`show table …`, `clear table …` or `set table …` (all of `words`, the
    command included) at CLI `level` ("user", "operator" or "admin"); returns the
    answer.  `tables` are the stick tables by name, in configuration order."""
    action = words[0].lower() if words else ""
    if action not in ("show", "clear", "set") or len(words) < 2 or words[1].lower() != "table":
        raise ValueError("not a stick table command")
    args = _Args(words)
    oper = _LEVELS[level] >= _LEVELS["operator"]
    if not args[2]:
        if action != "show":
            return _usage(action)
        out = []
        for each in reversed(list(tables.values())):
            each.expire(now)
            out.append(format_header(each))
        return "".join(out)
    table = tables.get(args[2])
    if table is None:
        return "No such table\n"
    if args[3] == "key":
        return _per_key(table, action, args, now, oper)
    filters: list[tuple[str, str, int]] = []
    if args[3].startswith("data."):
        if action == "set":
            return 'content-based lookup is only supported with the "show" and "clear" actions\n'
        error = _parse_filters(table, args, filters)
        if error:
            return error
    elif args[3]:
        return _usage(action)
    table.expire(now)
    if action == "show":
        out = [format_header(table)]
        if not oper:
            out.append("# contents not dumped due to insufficient privileges\n")
            return "".join(out)
        for entry in table.entries(now):
            if _matches(table, entry, filters, now):
                out.append(format_entry(table, entry, now))
        return "".join(out)
    if oper:
        _clear(table, filters, now)
    return ""


class _Args:
    """HAProxy's `args[]`: a missing word reads as an empty one."""

    def __init__(self, words: Sequence[str]) -> None:
        self.words = words

    def __getitem__(self, i: int) -> str:
        return self.words[i] if i < len(self.words) else ""


def _usage(action: str) -> str:
    if action == "show":
        return (
            'Optional argument only supports "data.<store_data_type>" <operator> <value> '
            "and key <key>\n"
        )
    if action == "clear":
        return (
            'Required arguments: <table> "data.<store_data_type>" <operator> <value> '
            "or <table> key <key>\n"
        )
    return "Required arguments: <table> key <key> [data.<store_data_type> <value>]*\n"


def _parse_filters(table: StickTable, args: _Args, out: list[tuple[str, str, int]]) -> str:
    """`table_prepare_data_request`: up to FILTER_LEN `data.<type> <op> <value>`."""
    i = 0
    while i < FILTER_LEN:
        if i > 0 and not args[3 + 3 * i]:
            break
        # Only the first filter's prefix is checked; HAProxy skips 5 characters.
        kind = data_type(args[3 + 3 * i][5:])
        if kind is None:
            return f"Filter entry #{i + 1}: Unknown data type\n"
        if table.store.get(kind.name) is None:
            return f"Filter entry #{i + 1}: Data type not stored in this table\n"
        op = args[4 + 3 * i]
        if op not in _OPS:
            return (
                f"Filter entry #{i + 1}: Require and operator among "
                '"eq", "ne", "le", "ge", "lt", "gt"\n'
            )
        value = _strl2llrc(args[5 + 3 * i])
        if value is None:
            return f"Filter entry #{i + 1}: Require a valid integer value to compare against\n"
        out.append((kind.name, op, value))
        i += 1
    if args[3 + 3 * i]:
        return (
            f"Detected extra data in filter, {3 + 3 * i + 1}th word of input, "
            f"after '{args[2 + 3 * i]}'\n"
        )
    return ""


def _matches(
    table: StickTable, entry: Entry, filters: list[tuple[str, str, int]], now: int
) -> bool:
    for name, op, value in filters:
        data = table.data_value(entry, name, now)
        if (
            (data < value and op in ("eq", "gt", "ge"))
            or (data == value and op in ("ne", "gt", "lt"))
            or (data > value and op in ("eq", "lt", "le"))
        ):
            return False
    return True


def _clear(table: StickTable, filters: list[tuple[str, str, int]], now: int) -> None:
    """The `clear table` walk: an entry goes when it matches and nobody uses it,
    and (HAProxy 2.6 checks the entry it moves on to) nobody uses the next one."""
    entries = table.entries(now)
    for i, entry in enumerate(entries):
        if not _matches(table, entry, filters, now):
            continue
        after = entries[i + 1] if i + 1 < len(entries) else entry
        if table.ref_count(after) == 0:
            table.kill(entry)  # refuses a referenced entry itself


def _per_key(table: StickTable, action: str, args: _Args, now: int, oper: bool) -> str:
    """`table_process_entry_per_key`: `show|clear|set table <t> key <k> …`."""
    text = args[4]
    if not text:
        return "Key value expected\n"
    key, refusal = _cli_key(table, action, text)
    if key is None:
        return refusal
    if not oper:
        return "Permission denied\n"
    if action == "show":
        entry = table.lookup(key, now)
        if entry is None:
            return ""
        return format_header(table) + format_entry(table, entry, now)
    if action == "clear":
        entry = table.lookup(key, now)
        if entry is None:
            return ""
        if not table.kill(entry):
            return "Entry currently in use, cannot remove\n"
        return ""
    entry = table.get_or_create(key, now)
    if entry is None:
        return "Unable to allocate a new entry\n"
    error = ""
    i = 5
    while args[i]:
        word = args[i]
        if not word.startswith("data."):
            error = '"data.<type>" followed by a value expected\n'
            break
        kind = data_type(word[5:])
        if kind is None:
            error = "Unknown data type\n"
            break
        if table.store.get(kind.name) is None:
            error = "Data type not stored in this table\n"
            break
        value = _strl2llrc(args[i + 1])
        if value is None:
            error = "Require a valid integer value to store\n"
            break
        table.set_data(entry, kind.name, value, now)
        i += 2
    # Values set before an error stay set, and the entry is touched either way.
    table.touch(entry, now)
    return error


def _cli_key(table: StickTable, action: str, text: str) -> tuple[KeyInput | None, str]:
    """The key typed on the CLI, or None and HAProxy's refusal."""
    kind = table.key_type.kind
    if kind == "ip":
        return IPv4Address(_inetaddr_host(text)), ""
    if kind == "ipv6":
        if "%" not in text and len(text) <= 46:  # inet_pton: no zone, INET6_ADDRSTRLEN
            try:
                return IPv6Address(text), ""
            except AddressValueError:
                pass
        return None, "Invalid key\n"
    if kind == "integer":
        match = re.match(r"[ \t\n\v\f\r]*([+-]?)(\d+)", text)
        if match is None:
            return None, "Invalid key\n"
        value = int(match.group(2))
        if match.group(1) == "-":
            value = -value % 2**64  # strtoul negates in unsigned arithmetic
        if value > 0xFFFFFFFF:
            return None, "Invalid key\n"
        return value, ""
    if kind == "string":
        return text, ""
    verb = {"show": "Showing keys from", "clear": "Removing keys from"}
    return None, (
        f"{verb.get(action, 'Inserting keys into')} tables of type other than ip, ipv6, "
        "string and integer is not supported\n"
    )


def _inetaddr_host(text: str) -> int:
    """tools.c inetaddr_host, which the CLI uses for `ip` keys and which never
    fails: up to four dot-separated groups, the last three digits of each, a
    group over 255 carrying into the one before, a missing group reading as 0."""
    value, shift, pos = 0, 24, 0
    while True:
        start = pos
        while pos < len(text) and "0" <= text[pos] <= "9":
            pos += 1
        digits = text[max(start, pos - 3) : pos]
        value += (int(digits) if digits else 0) << shift
        if shift == 0 or pos >= len(text) or text[pos] != ".":
            break
        shift -= 8
        pos += 1
    return value & 0xFFFFFFFF


def _strl2llrc(text: str) -> int | None:
    """tools.c strl2llrc: a signed 64-bit decimal, nothing else (`-` alone is 0)."""
    if not text:
        return None
    value = 0
    if text[0] != "-":
        for ch in text:
            digit = ord(ch) - 48
            if not 0 <= digit <= 9 or value > _LLONG_MAX // 10:
                return None
            value = value * 10 + digit
            if value > _LLONG_MAX:
                return None
        return value
    for ch in text[1:]:
        digit = ord(ch) - 48
        if not 0 <= digit <= 9 or value < _LLONG_MIN_DIV10:
            return None
        value = value * 10 - digit
        if value < _LLONG_MIN:
            return None
    return value
