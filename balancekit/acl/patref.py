"""Pattern references: the mutable lists behind map files and ACL patterns (HAProxy's pat_ref).

HAProxy keeps every list of patterns a configuration loads in one `pat_ref`: a map
file (`map(<file>)`, two columns), an ACL pattern file (`-f <file>`, one column), or
the inline patterns of one `acl` line.  Every converter or ACL that names the same
file shares its reference, and the runtime API (`add map`, `del acl`…) changes the
reference, so the next lookup of every user sees the change.  This module is that
store, pure: `PatRefs` holds a configuration's references in creation order (their
`#<id>`s), a `PatRef` its entries, and a `PatExpr` one way of matching them (a map
looked up by `map_beg` and by `map_str` has two), compiled again lazily after a
change.  What an expression compiles the entries into is up to its user (maps.py,
acl.py), so this module knows no sample types.

HAProxy's bookkeeping is mirrored where the runtime API shows it: the ids, the
description line naming every user, and `entry_cnt`, which counts indexed patterns
over all expressions and has HAProxy 2.6's quirks (see `PatRef.entry_cnt`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = ["PatElt", "PatExpr", "PatRef", "PatRefs", "RefError"]

_U64 = (1 << 64) - 1
#: Added to the creation order of what HAProxy loads only after parsing.
_DEFERRED = 1 << 40
#: The ACLs HAProxy 2.6's internal HTTP client makes after parsing (see finalize).
_HTTPCLIENT_ACLS = 2


class RefError(ValueError):
    """A pattern or value a reference's expressions cannot take (HAProxy's words).

    `elt` is the entry refused; `on_value` says it was its value (a map's second
    column) rather than its pattern, which the runtime API reports differently.
    """

    def __init__(self, message: str, elt: PatElt | None = None, *, on_value: bool = False) -> None:
        super().__init__(message)
        self.elt, self.on_value = elt, on_value


class PatElt:
    """One entry: a pattern (a map's key) and, in a map, its value as written.

    `ptr` is the identifier `show map` prints and `del map <ref> #0x…` takes.
    """

    __slots__ = ("line", "pattern", "sample")

    def __init__(self, pattern: str, sample: str | None, line: int = -1) -> None:
        self.pattern, self.sample, self.line = pattern, sample, line

    def __repr__(self) -> str:
        return f"<PatElt {self.pattern!r} {self.sample!r}>"

    @property
    def ptr(self) -> int:
        return id(self)


#: Compiles a reference's entries into what lookups use; raises RefError on a bad one.
Builder = Callable[[Sequence[PatElt]], Any]


class PatExpr:
    """One compiled view of a reference: a match method, case, and output type.

    Users with the same `family` (HAProxy: the same parse, index and value-parse
    functions, and the same `-i`) share one; `method` is the first user's, which is
    what `get map` names.  `index` is compiled from the entries on first use after
    a change, so a burst of `add map` compiles once.
    """

    __slots__ = ("_build", "_index", "family", "icase", "late", "method", "output", "ref")

    def __init__(
        self, ref: PatRef, method: str, icase: bool, output: str | None, family: str, build: Builder
    ) -> None:
        self.ref, self.method, self.icase, self.output, self.family = (
            ref,
            method,
            icase,
            output,
            family,
        )
        self._build = build
        self.late = False  # made by a deferred load: HAProxy makes it after the others
        self._index: Any = build(ref.elements)  # raises at load, where the config names it

    def __repr__(self) -> str:
        return f"<PatExpr {self.method} icase={self.icase} output={self.output}>"

    def __deepcopy__(self, memo: dict[int, object]) -> PatExpr:
        # Shared state: settings a `defaults` section hands down are deep-copied, and
        # a copy would be a map the runtime API no longer reaches.
        return self

    @property
    def index(self) -> Any:
        """What lookups read: current with the reference's entries."""
        if self._index is None:
            self._index = self._build(self.ref.elements)
        return self._index

    def check(self, elt: PatElt) -> None:
        """Raise RefError if this expression cannot take `elt` (nothing changes)."""
        self._build((elt,))

    def compile(self, elements: Sequence[PatElt]) -> Any:
        """These entries compiled as this expression compiles its own (`get acl`
        finds which entry matched with it)."""
        return self._build(elements)

    def stale(self) -> None:
        self._index = None


class PatRef:
    """A map file, an ACL pattern file, or one `acl` line's inline patterns."""

    __slots__ = (
        "_display",
        "_entry_cnt",
        "_users",
        "elements",
        "exprs",
        "kinds",
        "order",
        "reference",
        "two_column",
        "uid",
    )

    def __init__(self, uid: int, reference: str | None, display: str, two_column: bool) -> None:
        self.uid = uid
        #: The file name as the configuration wrote it (None: inline patterns).
        self.reference = reference
        self._display = display
        #: A file's users as (deferred, "map at file '…' line N"), see PatRefs.deferred.
        self._users: list[tuple[bool, str]] = []
        #: When HAProxy would have made it: what the ids follow (PatRefs.finalize).
        self.order = uid
        self.two_column = two_column
        self.kinds: set[str] = set()  # "map", "acl"
        self.elements: list[PatElt] = []
        self.exprs: list[PatExpr] = []
        self._entry_cnt = 0

    def __repr__(self) -> str:
        return f"<PatRef #{self.uid} {self.reference!r} entries={len(self.elements)}>"

    def __deepcopy__(self, memo: dict[int, object]) -> PatRef:
        return self  # shared, as PatExpr

    @property
    def display(self) -> str:
        """The description `show map` prints: a file's users, those HAProxy only
        resolves after parsing (deferred) last, as it names them."""
        if not self._users:
            return self._display
        users = [text for late, text in self._users if not late]
        users += [text for late, text in self._users if late]
        return f"{self._display} " + ", by ".join(users)

    @property
    def entry_cnt(self) -> int:
        """HAProxy 2.6's counter, as `show map` prints it (unsigned 64-bit): +1 per
        entry indexed in each expression, -1 per entry deleted or cleared (once,
        whatever the number of expressions), and -1 for an `add` some expression
        refused after others took it."""
        return self._entry_cnt & _U64

    def add_user(self, text: str, *, deferred: bool = False) -> None:
        self._users.append((deferred, text))

    def expr(
        self,
        method: str,
        icase: bool,
        output: str | None,
        family: str,
        build: Builder,
        *,
        late: bool = False,
    ) -> PatExpr:
        """The expression a new user matches with: a shared one, or a new one
        (which indexes every entry)."""
        for each in self.exprs:
            if each.family == family and each.icase == icase and each.output == output:
                return each
        created = PatExpr(self, method, icase, output, family, build)
        created.late = late
        self.exprs.append(created)
        self._entry_cnt += len(self.elements)
        return created

    # -- changes (the runtime API) ---------------------------------------------------------

    def load(self, entries: Sequence[tuple[str, str | None, int]]) -> None:
        """The file's entries, before any expression exists."""
        self.elements.extend(PatElt(p, s, line) for p, s, line in entries)

    def add(self, pattern: str, sample: str | None) -> PatElt:
        """`add map` / `add acl`: every expression must take the entry, else none
        does and RefError says why."""
        elt = PatElt(pattern, sample)
        for taken, each in enumerate(self.exprs):
            try:
                each.check(elt)
            except RefError:
                self._entry_cnt += taken - 1
                raise
        self.elements.append(elt)
        self._entry_cnt += len(self.exprs)
        self._changed()
        return elt

    def find(self, ptr: int) -> PatElt | None:
        return next((e for e in self.elements if e.ptr == ptr), None)

    def set_value(self, elts: Sequence[PatElt], value: str) -> None:
        """`set map`: a new value for these entries, if every expression can read it
        (HAProxy answers nothing either way)."""
        probe = [PatElt(e.pattern, value) for e in elts]
        for each in self.exprs:
            for elt in probe:
                try:
                    each.check(elt)
                except RefError:
                    return
        for elt in elts:
            elt.sample = value
        self._changed()

    def delete(self, elts: Sequence[PatElt]) -> None:
        gone = {id(e) for e in elts}
        self.elements = [e for e in self.elements if id(e) not in gone]
        self._entry_cnt -= len(gone)
        self._changed()

    def clear(self) -> None:
        self._entry_cnt -= len(self.elements)
        self.elements = []
        self._changed()

    def _changed(self) -> None:
        for each in self.exprs:
            each.stale()


class PatRefs:
    """A configuration's pattern references, in creation order (their ids).

    `where` is the configuration line being compiled, which a new reference's
    description names; the config builder sets it statement by statement.
    """

    __slots__ = ("_deferred", "_refs", "_seq", "where")

    def __init__(self) -> None:
        self._refs: list[PatRef] = []
        self.where: tuple[str, int] = ("<string>", 0)
        self._deferred = False
        self._seq = 0

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Loads HAProxy makes only after the whole configuration is parsed (the
        `%[…]` name of a `use_backend`): such a user is named last, and a file only
        such users load gets its id after every other reference (`finalize`)."""
        self._deferred = True
        try:
            yield
        finally:
            self._deferred = False

    def finalize(self) -> None:
        """Number the references as HAProxy does once parsing is over: in the order
        they were made, deferred loads after all others.  HAProxy 2.6's internal
        HTTP client makes two ACLs of its own between the two (`show acl` lists them
        as `acl 'var' file 'httpclient'`): their ids stay unused here, so a deferred
        map has the id HAProxy gives it."""
        self._refs.sort(key=lambda ref: ref.order)
        parsed = sum(1 for ref in self._refs if ref.order < _DEFERRED)
        for index, ref in enumerate(self._refs):
            ref.uid = index if index < parsed else index + _HTTPCLIENT_ACLS
            ref.exprs.sort(key=lambda expr: expr.late)

    @property
    def is_deferred(self) -> bool:
        return self._deferred

    def _next(self) -> int:
        self._seq += 1
        return self._seq + (_DEFERRED if self._deferred else 0)

    def __repr__(self) -> str:
        return f"<PatRefs {len(self._refs)}>"

    def __deepcopy__(self, memo: dict[int, object]) -> PatRefs:
        return self  # shared, as PatExpr

    def __iter__(self) -> Iterator[PatRef]:
        return iter(self._refs)

    def __len__(self) -> int:
        return len(self._refs)

    def file(
        self,
        name: str,
        kind: str,
        read: Callable[[], Sequence[tuple[str, str | None, int]]],
        *,
        two_column: bool,
        where: tuple[str, int] | None = None,
    ) -> PatRef:
        """The reference for file `name` (as written), read once by `read`; a later
        user is named in its description (pattern.c's pattern_read_from_file)."""
        file, line = where or self.where
        user = f"{kind} at file '{file}' line {line}"
        for ref in self._refs:
            if ref.reference == name:
                if two_column and not ref.two_column:
                    raise RefError(
                        f'The file "{name}" is already used as one column file and cannot be '
                        "used by as two column file."
                    )
                if ref.two_column and not two_column:
                    raise RefError(
                        f'The file "{name}" is already used as two column file and cannot be '
                        "used by as one column file."
                    )
                ref.add_user(user, deferred=self._deferred)
                ref.kinds.add(kind)
                ref.order = min(ref.order, self._next())
                return ref
        ref = PatRef(
            len(self._refs), name, f"pattern loaded from file '{name}' used by", two_column
        )
        ref.order = self._next()
        ref.add_user(user, deferred=self._deferred)
        ref.load(read())
        ref.kinds.add(kind)
        self._refs.append(ref)
        return ref

    def inline(self, keyword: str, patterns: Sequence[str], file: str, line: int) -> PatRef:
        """The reference of one `acl` line's own patterns (always made, even empty)."""
        ref = PatRef(len(self._refs), None, f"acl '{keyword}' file '{file}' line {line}", False)
        ref.order = self._next()
        ref.load([(p, None, -1) for p in patterns])
        ref.kinds.add("acl")
        self._refs.append(ref)
        return ref

    def lookup(self, name: str) -> PatRef | None:
        """`#<id>` or a file name, as the runtime API takes them (pat_ref_lookup_ref:
        the id is read as C's atoi reads it)."""
        if name.startswith("#"):
            uid = _atoi(name[1:])
            return next((r for r in self._refs if r.uid == uid), None)
        return next((r for r in self._refs if r.reference == name), None)


def _atoi(text: str) -> int:
    body = text.lstrip(" \t")
    sign = -1 if body[:1] == "-" else 1
    body = body[1:] if body[:1] in "+-" else body
    digits = len(body) - len(body.lstrip("0123456789"))
    return sign * int(body[:digits]) if digits else 0
