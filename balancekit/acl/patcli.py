"""The runtime API's map and ACL commands, answered as HAProxy 2.6 answers them (map.c).

`run_pattern_command(refs, words)` takes one command's words (`show map`, `get acl
#0 /api`, `add map hosts.map example.test be2`…) and returns its answer (without
the empty line the CLI adds after every answer).  A map or ACL is named by its file
or by `#<id>`; an entry by its key or by the `0x…` identifier `show map` prints.
The change is made in the shared reference (balancekit.acl.patref), so the next
lookup of every converter and ACL using it sees it.

Versions (`prepare map`, `commit map`, `@<ver>`) and payloads (`add map <map> <<`)
are not supported: those answer so, never silently.
"""

from __future__ import annotations

from collections.abc import Sequence

from .patref import PatElt, PatExpr, PatRef, PatRefs, RefError
from .patterns import MATCH_METHODS, Matcher, parse_ip_sample, str_to_int

__all__ = ["PATTERN_COMMANDS", "run_pattern_command"]

#: (verb, map|acl) pairs this module answers.
PATTERN_COMMANDS = frozenset(
    (verb, kind)
    for verb in ("show", "get", "add", "del", "clear", "prepare", "commit")
    for kind in ("map", "acl")
) | {("set", "map")}

_UNKNOWN = {
    "map": "Unknown map identifier. Please use #<id> or <file>.\n",
    "acl": "Unknown ACL identifier. Please use #<id> or <file>.\n",
}
_MALFORMED = "Malformed identifier. Please use #<id> or <file>.\n"


def run_pattern_command(refs: PatRefs, words: Sequence[str]) -> str:
    """One `show|get|add|set|del|clear map|acl …` command; returns the answer."""
    verb = words[0].lower() if words else ""
    kind = words[1].lower() if len(words) > 1 else ""
    if (verb, kind) not in PATTERN_COMMANDS:
        raise ValueError("not a map or ACL command")
    args = list(words[2:])
    if verb in ("prepare", "commit") or (args and args[0].startswith("@")):
        return (
            f"{verb} {kind}: versions (prepare/commit, @<ver>) are not supported by balancekit.\n"
        )
    if args and args[-1] == "<<":
        return f"{verb} {kind}: payloads ('<<') are not supported by balancekit.\n"
    return _HANDLERS[verb](refs, kind, args)


def _arg(args: Sequence[str], i: int) -> str:
    return args[i] if i < len(args) else ""


def _ref(refs: PatRefs, kind: str, name: str, *, check_kind: bool) -> PatRef | str:
    ref = refs.lookup(name)
    if ref is None or (check_kind and kind not in ref.kinds):
        return _UNKNOWN[kind]
    return ref


def _show(refs: PatRefs, kind: str, args: list[str]) -> str:
    if not _arg(args, 0):
        out = ["# id (file) description\n"]
        for each in refs:
            if kind in each.kinds:
                out.append(
                    f"{each.uid} ({each.reference or ''}) {each.display}. "
                    f"curr_ver=0 next_ver=0 entry_cnt={each.entry_cnt}\n"
                )
        return "".join(out)
    ref = _ref(refs, kind, args[0], check_kind=True)
    if isinstance(ref, str):
        return ref
    return "".join(
        f"0x{e.ptr:x} {e.pattern} {e.sample}\n"
        if e.sample is not None
        else f"0x{e.ptr:x} {e.pattern}\n"
        for e in ref.elements
    )


def _get(refs: PatRefs, kind: str, args: list[str]) -> str:
    if not _arg(args, 0) or not _arg(args, 1):
        return (
            "Missing map identifier and/or key.\n"
            if kind == "map"
            else ("Missing ACL identifier and/or key.\n")
        )
    ref = _ref(refs, kind, args[0], check_kind=False)
    if isinstance(ref, str):
        return ref
    return "".join(_lookup_line(expr, args[1], kind) for expr in ref.exprs)


def _sample(text: str, wanted: str) -> object | None:
    """The CLI's string cast to what an expression matches (None: no such value)."""
    if wanted == "sint":
        return str_to_int(text)
    if wanted == "addr":
        return parse_ip_sample(text)
    return text


def _lookup_line(expr: PatExpr, text: str, kind: str) -> str:
    """One expression's line of `get map|acl`: how it matches and what it found."""
    is_map = expr.output is not None
    wanted = (
        {"int": "sint", "ip": "addr"}.get(expr.method, "str")
        if is_map
        else (MATCH_METHODS.get(expr.method, "str"))
    )
    sample = _sample(text, wanted)
    # The `method` ACL's matcher is not among HAProxy's named ones: it prints its address.
    method = f"unknown(0x{id(expr):x})" if expr.method == "meth" else expr.method
    head = f"type={method}, case={'insensitive' if expr.icase else 'sensitive'}"
    word = "found" if kind == "map" else "match"
    hit: tuple[PatElt, object] | None = None
    if sample is not None:
        hit = expr.index.find(sample) if is_map else _acl_find(expr, sample)
    pattern_less = not is_map and expr.method in ("found", "bool")
    if hit is None and pattern_less and sample is not None and expr.index.match(sample):
        # HAProxy's pattern-less match names no entry.
        if kind == "map":
            return f"{head}, {word}=yes, idx=list, key=unknown, value=none\n"
        return f"{head}, {word}=yes, idx=list, pattern=unknown\n"
    if hit is None:
        return f"{head}, {word}=no\n"
    elt, value = hit
    tree = expr.method in ("str", "beg", "ip") and not expr.icase
    out = f"{head}, {word}=yes, idx={'tree' if tree else 'list'}"
    if kind == "map":
        out += f', key="{elt.pattern}"'
        if is_map and elt.sample is not None:
            out += f', value="{elt.sample}", type="{_type_name(value)}"'
        else:
            out += ", value=none"
    else:
        out += f', pattern="{elt.pattern}"'
    return out + "\n"


def _type_name(value: object) -> str:
    if isinstance(value, int):
        return "sint"
    if isinstance(value, tuple):
        return "ipv4" if value[0] == 4 else "ipv6"
    return "str"


def _acl_find(expr: PatExpr, sample: object) -> tuple[PatElt, object] | None:
    """The entry an ACL expression matches: the longest for `beg` (HAProxy's
    prefix tree), else the first in order."""
    index: Matcher = expr.index
    if not index.match(sample):
        return None
    found: PatElt | None = None
    for elt in expr.ref.elements:
        try:
            single: Matcher = expr.compile((elt,))
        except ValueError:
            continue
        if single.match(sample):
            if expr.method != "beg":
                return elt, None
            if found is None or len(elt.pattern) > len(found.pattern):
                found = elt
    return None if found is None else (found, None)


def _add(refs: PatRefs, kind: str, args: list[str]) -> str:
    if kind == "map" and (not _arg(args, 0) or not _arg(args, 1) or not _arg(args, 2)):
        return (
            "'add map' expects three parameters (map identifier, key and value) or one "
            "parameter (map identifier) and a payload\n"
        )
    if kind == "acl" and (not _arg(args, 0) or not _arg(args, 1)):
        return "'add acl' expects two parameters: ACL identifier and pattern.\n"
    ref = _ref(refs, kind, args[0], check_kind=False)
    if isinstance(ref, str):
        return ref
    if kind == "acl" and ref.two_column:
        return (
            "This ACL is shared with a map containing samples. "
            "You must use the command 'add map' to add values.\n"
        )
    value = args[2] if kind == "map" else None
    try:
        ref.add(args[1], value)
    except RefError as exc:
        if exc.on_value:
            return f"unable to parse '{value}'.\n"
        # balancekit's load-time hint about DNS; HAProxy's CLI only says the rest.
        return str(exc).split(" (host names are not resolved", 1)[0] + ".\n"
    return ""


def _pointer(text: str) -> int | None:
    """`#0x…`: strtoll(…, 16) of what follows the `#`, all of it."""
    try:
        return int(text[1:], 16)
    except ValueError:
        return None


def _set(refs: PatRefs, kind: str, args: list[str]) -> str:
    if not _arg(args, 0) or not _arg(args, 1) or not _arg(args, 2):
        return "'set map' expects three parameters: map identifier, key and value.\n"
    ref = _ref(refs, kind, args[0], check_kind=False)
    if isinstance(ref, str):
        return ref
    key = args[1]
    if key.startswith("#0x"):
        ptr = _pointer(key)
        if ptr is None:
            return _MALFORMED
        elt = ref.find(ptr)
        if elt is None:
            return "key or pattern not found.\n"
        elts = [elt]
    else:
        elts = [e for e in ref.elements if e.pattern == key]
        if not elts:
            return "entry not found.\n"
    ref.set_value(elts, args[2])
    return ""


def _del(refs: PatRefs, kind: str, args: list[str]) -> str:
    if not _arg(args, 0) or not _arg(args, 1):
        what = "map" if kind == "map" else "ACL"
        return f"This command expects two parameters: {what} identifier and key.\n"
    ref = _ref(refs, kind, args[0], check_kind=True)
    if isinstance(ref, str):
        return _UNKNOWN["map"]  # HAProxy 2.6 says "map" for `del acl` too
    key = args[1]
    if key.startswith("#0x"):
        ptr = _pointer(key)
        if ptr is None:
            return _MALFORMED
        elt = ref.find(ptr)
        elts = [] if elt is None else [elt]
    else:
        elts = [e for e in ref.elements if e.pattern == key]
    if not elts:
        return "Key not found.\n"
    ref.delete(elts)
    return ""


def _clear(refs: PatRefs, kind: str, args: list[str]) -> str:
    if not _arg(args, 0):
        return "Missing map identifier.\n" if kind == "map" else "Missing ACL identifier.\n"
    ref = _ref(refs, kind, args[0], check_kind=True)
    if isinstance(ref, str):
        return ref
    ref.clear()
    return ""


_HANDLERS = {"show": _show, "get": _get, "add": _add, "set": _set, "del": _del, "clear": _clear}
