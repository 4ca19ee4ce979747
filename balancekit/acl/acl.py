"""Named ACLs of one proxy section, HAProxy's `acl <name> <criterion> [flags] [patterns]`.

`AclSet.define` compiles one `acl` line (acl.c's parse_acl_expr): it picks the
fetch and its default match method from HAProxy's keyword tables, applies
`-i -f -m -n -u --`, loads pattern files relative to the config, and compiles
the matcher.  Re-declaring a name ORs one more expression into it.  Predefined
ACLs (`TRUE`, `LOCALHOST`, `METH_GET`, …) are instantiated on first use and can
be overridden or extended by declaring the same name.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..auth import Userlist
from ..errors import ConfigError
from ..request import Request
from .conditions import FAIL, MISS, PASS, Condition, parse_condition
from .fetches import (
    FETCHES,
    REQUEST_HEADER_FETCHES,
    RESPONSE_FETCHES,
    FetchError,
    SampleContext,
    SampleExpr,
    Value,
    can_cast,
    cast_function,
    parse_sample_expr,
    suggest,
)
from .haproxy_fetches import is_haproxy_fetch
from .patref import Builder, PatElt, PatExpr, RefError
from .patterns import (
    MATCH_METHODS,
    UNSUPPORTED_METHODS,
    Matcher,
    MethodMatcher,
    PatternError,
    build_matcher,
)

__all__ = ["ACL_KEYWORDS", "PREDEFINED_ACLS", "Acl", "AclExpr", "AclSet", "AclWarning"]


def _acl_keywords() -> dict[str, tuple[str, str]]:
    table: dict[str, tuple[str, str]] = {}
    families = {
        "base": "base",
        "cook": "req.cook",
        "hdr": "req.hdr",
        "path": "path",
        "url": "url",
        "urlp": "urlp",
    }
    for prefix, fetch in families.items():
        table[prefix] = (fetch, "str")
        for method in ("beg", "dir", "dom", "end", "len", "reg", "sub"):
            table[f"{prefix}_{method}"] = (fetch, method)
    table.update(
        {
            "method": ("method", "meth"),
            "req_ver": ("req.ver", "str"),
            "req_ssl_sni": ("req.ssl_sni", "str"),
            "req_rdp_cookie_cnt": ("req.rdp_cookie_cnt", "int"),
            "ssl_fc_sni_end": ("ssl_fc_sni", "end"),
            "ssl_fc_sni_reg": ("ssl_fc_sni", "reg"),
            "http_auth_group": ("http_auth_group", "auth"),
        }
    )
    return table


#: ACL-only keywords: name → (underlying fetch, default match method).
ACL_KEYWORDS: dict[str, tuple[str, str]] = _acl_keywords()

#: Predefined ACLs (acl.c's default_acl_list), compiled on first use.
PREDEFINED_ACLS: dict[str, tuple[str, ...]] = {
    "TRUE": ("always_true",),
    "FALSE": ("always_false",),
    "LOCALHOST": ("src", "127.0.0.1/8", "::1"),
    "HTTP": ("req.proto_http",),
    "HTTP_1.0": ("req.ver", "1.0"),
    "HTTP_1.1": ("req.ver", "1.1"),
    "HTTP_2.0": ("req.ver", "2.0"),
    "METH_CONNECT": ("method", "CONNECT"),
    "METH_DELETE": ("method", "DELETE"),
    "METH_GET": ("method", "GET", "HEAD"),
    "METH_HEAD": ("method", "HEAD"),
    "METH_OPTIONS": ("method", "OPTIONS"),
    "METH_POST": ("method", "POST"),
    "METH_PUT": ("method", "PUT"),
    "METH_TRACE": ("method", "TRACE"),
    "HTTP_URL_ABS": ("url_reg", "^[^/:]*://"),
    "HTTP_URL_SLASH": ("url_beg", "/"),
    "HTTP_URL_STAR": ("url", "*"),
    "HTTP_CONTENT": ("req.hdr_val(content-length)", "gt", "0"),
    "RDP_COOKIE": ("req.rdp_cookie_cnt", "gt", "0"),
    "REQ_CONTENT": ("req.len", "gt", "0"),
    "WAIT_END": ("wait_end",),
}

_DEFAULT_METHOD = {
    "bool": "bool", "sint": "int", "ipv4": "ip", "ipv6": "ip", "str": "str", "bin": "bin",
}  # fmt: skip
_KEYWORD = re.compile(r"[A-Za-z0-9._+$-]*")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-")


@dataclass(frozen=True, slots=True)
class AclWarning:
    """Something HAProxy also only warns about; the config parser shows it."""

    message: str
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class AclExpr:
    """One compiled `acl` line: a sample expression, a cast, and matchers.

    Several matchers exist when `-f` files were loaded under different `-i`
    settings than the inline patterns, as HAProxy keeps them apart too.
    """

    keyword: str
    sample: SampleExpr
    method: str
    cast: Callable[[Value], Value | None]
    matchers: tuple[Matcher, ...]
    _run: Callable[[Request], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_run", _compile_test(self.sample, self.cast, self.matchers))

    def test(self, request: Request) -> bool:
        """True when any sample matches any pattern."""
        return self._run(request)

    def may_change(self, request: Request) -> bool:
        """Whether the sample could still change as more bytes arrive (HAProxy's
        SMP_F_MAY_CHANGE): a payload fetch on a buffer too short for it."""
        unsettled = self.sample.fetch.unsettled
        return unsettled is not None and unsettled(request, self.sample.args)


def _compile_test(
    sample: SampleExpr, cast: Callable[[Value], Value | None], matchers: tuple[Matcher, ...]
) -> Callable[[Request], bool]:
    """The per-request test as one closure, with the common shapes specialised.

    Most ACLs have one matcher, no converter and a sample that needs no cast;
    those skip the generic loops, which matters on a proxy's hot path.
    """
    if not matchers:
        return lambda request: False
    fetch, args = sample.fetch.fn, sample.args
    samples = sample.samples if sample.steps else (lambda request: fetch(request, args))
    if len(matchers) == 1 and cast is cast_function("str", "str"):
        match = matchers[0].match
        if sample.steps:

            def run_plain(request: Request) -> bool:
                return any(match(value) for value in samples(request))

            return run_plain

        def run_direct(request: Request) -> bool:
            for value in fetch(request, args):  # noqa: SIM110 - a loop beats any() here
                if match(value):
                    return True
            return False

        return run_direct

    def run(request: Request) -> bool:
        for value in samples(request):
            converted = cast(value)
            if converted is None:
                continue
            for matcher in matchers:
                if matcher.match(converted):
                    return True
        return False

    return run


@dataclass(slots=True)
class Acl:
    """A named (or anonymous) ACL: true when any of its expressions is."""

    name: str
    exprs: list[AclExpr] = field(default_factory=list)

    def __repr__(self) -> str:
        kws = ", ".join(e.keyword for e in self.exprs)
        return f"<Acl {self.name or '<anonymous>'} [{kws}]>"

    def test3(self, request: Request) -> int:
        """acl.c's three-valued test: PASS, FAIL, or MISS (no match yet on a
        sample that may change)."""
        result = FAIL
        for expr in self.exprs:
            if expr.test(request):
                return PASS
            if expr.may_change(request):
                result = MISS
        return result

    def test(self, request: Request) -> bool:
        for expr in self.exprs:  # noqa: SIM110 - a loop beats any(<generator>) here
            if expr.test(request):
                return True
        return False


class GroupMatcher(Matcher):
    """`http_auth_group(<userlist>) <group>…`: the authenticated user belongs to one
    of the groups (auth.c's pat_match_auth)."""

    __slots__ = ("groups", "userlist")
    method = "auth"

    def __init__(self, userlist: Userlist, groups: Sequence[str]) -> None:
        self.userlist = userlist
        self.groups = frozenset(groups)

    def match(self, value: object) -> bool:
        return not self.groups.isdisjoint(self.userlist.groups_of(str(value)))


#: Match methods HAProxy indexes alike, so one expression serves them all on a
#: shared reference (pattern.c's pattern_new_expr compares the functions).
_ACL_FAMILY = {"sub": "list_str", "dir": "list_str", "dom": "list_str", "end": "list_str",
               "int": "val", "len": "val"}  # fmt: skip


class RefMatcher(Matcher):
    """A matcher over a pattern reference the runtime API may change: it asks the
    reference's expression for its current compiled matcher on every match."""

    __slots__ = ("expr",)

    def __init__(self, expr: PatExpr) -> None:
        self.expr = expr

    @property
    def method(self) -> str:  # type: ignore[override]
        return self.expr.method

    def match(self, value: object) -> bool:
        index = self.expr._index
        if index is None:
            index = self.expr.index
        return index.match(value)  # type: ignore[no-any-return]


def _constant(matcher: Matcher) -> Builder:
    """`-m found` and `-m bool`: the same matcher whatever the entries."""

    def build(elements: Sequence[PatElt]) -> Matcher:
        return matcher

    return build


def _builder(method: str, sample: SampleExpr, icase: bool) -> Builder:
    """How an expression compiles its reference's entries for `-m method`."""

    def compile_all(patterns: Sequence[str]) -> Matcher:
        if method == "auth":
            return _group_matcher(sample, patterns)
        if method == "meth":
            return MethodMatcher(patterns, icase)
        return build_matcher(method, patterns, icase)

    def build(elements: Sequence[PatElt]) -> Matcher:
        try:
            return compile_all([e.pattern for e in elements])
        except PatternError as exc:
            bad = next((e for e in elements if f"'{e.pattern}'" in str(exc)), None)
            raise RefError(str(exc), bad) from None

    return build


def _reads_response(expr: AclExpr) -> bool:
    return expr.sample.fetch.name in RESPONSE_FETCHES


def _reads_request_head(expr: AclExpr) -> bool:
    return expr.sample.fetch.name in REQUEST_HEADER_FETCHES


def _group_matcher(sample: SampleExpr, groups: Sequence[str]) -> GroupMatcher:
    userlist = sample.args[0]
    assert isinstance(userlist, Userlist)
    for group in groups:
        if group not in userlist.groups:
            raise PatternError(f"invalid group '{group}'")
    return GroupMatcher(userlist, groups)


class AclSet:
    """The named ACLs of one proxy section, and the conditions that use them.

    `base_dir` is where relative `-f` paths are found; `define(base_dir=…)`
    also updates it, so anonymous ACLs in later conditions use the same place.
    """

    __slots__ = ("_acls", "_files", "base_dir", "context", "place", "warnings")

    def __init__(self, *, base_dir: str = ".", context: SampleContext | None = None) -> None:
        self.base_dir = base_dir
        #: Where the rule being compiled runs, in HAProxy's words ("backend
        #: http-request header rule"): named when a condition reads the response
        #: somewhere there is none, which HAProxy only warns about.
        self.place = "request rule"
        #: The userlists and stick tables fetch arguments may name.
        self.context = context if context is not None else SampleContext()
        self._acls: dict[str, Acl] = {}
        self._files: dict[str, tuple[str, ...]] = {}
        self.warnings: list[AclWarning] = []

    def __repr__(self) -> str:
        return f"<AclSet {sorted(self._acls)}>"

    def __contains__(self, name: object) -> bool:
        return name in self._acls

    def __getitem__(self, name: str) -> Acl:
        return self._acls[name]

    @property
    def names(self) -> tuple[str, ...]:
        """Declared names (and predefined ones already used), in declaration order."""
        return tuple(self._acls)

    def define(
        self,
        words: Sequence[str],
        *,
        file: str = "<string>",
        line: int = 0,
        base_dir: str | None = None,
    ) -> Acl:
        """Compile `acl <words…>`; a repeated name ORs the new expression in."""
        if base_dir is not None:
            self.base_dir = base_dir
        if not words:
            raise ConfigError("'acl' expects an ACL name and a criterion", file, line)
        name = words[0]
        bad = next((ch for ch in name if ch not in _NAME_CHARS), None)
        if bad is not None:
            raise ConfigError(f"invalid character in ACL name : '{bad}'", file, line)
        if len(words) < 2:
            raise ConfigError(
                f"acl '{name}': missing criterion (a fetch such as 'path_beg')", file, line
            )
        # A named ACL may read the response; the rules that use it decide whether
        # there is one (HAProxy warns where there is not, see `condition`).
        expr = self._compile_expr(
            words[1:], file=file, line=line, base_dir=self.base_dir, response=True
        )
        acl = self._acls.get(name)
        if acl is None:
            acl = self._acls[name] = Acl(name)
        acl.exprs.append(expr)
        return acl

    def condition(
        self,
        words: Sequence[str],
        *,
        file: str = "<string>",
        line: int = 0,
        response: bool = False,
    ) -> Condition:
        """Compile `if …` / `unless …` against the ACLs declared so far.  With
        `response` (a rule that runs on the answer, `stick store-response`), the
        ACLs may read the response head (RESPONSE_FETCHES).  Elsewhere such an
        ACL finds no sample, so never matches, and HAProxy says so with a warning
        (cfgparse.c's warnif_cond_conflicts); so does this."""
        condition = parse_condition(
            words,
            lambda name: self._resolve(name, file, line),
            lambda inner: self._anonymous(inner, file, line),
            file=file,
            line=line,
        )
        self._warn_unavailable(
            condition, file, line, _reads_request_head if response else _reads_response
        )
        return condition

    # ----------------------------------------------------------------- internals

    def _resolve(self, name: str, file: str, line: int) -> Acl:
        acl = self._acls.get(name)
        if acl is not None:
            return acl
        predefined = PREDEFINED_ACLS.get(name)
        if predefined is None:
            hint = suggest(name, [*self._acls, *PREDEFINED_ACLS])
            raise ConfigError(f"no such ACL : '{name}'{hint}", file, line)
        acl = self._acls[name] = Acl(name)
        acl.exprs.append(self._compile_expr(predefined, file=file, line=line, base_dir="."))
        return acl

    def _anonymous(self, words: Sequence[str], file: str, line: int) -> Acl:
        if not words:
            raise ConfigError("empty anonymous ACL '{ }' in condition", file, line)
        expr = self._compile_expr(
            words, file=file, line=line, base_dir=self.base_dir, response=True
        )
        return Acl("", [expr])

    def _warn_unavailable(
        self,
        condition: Condition,
        file: str,
        line: int,
        unavailable: Callable[[AclExpr], bool],
    ) -> None:
        """HAProxy's two warnings, first kind first: an ACL that reads only what is
        `unavailable` here (the response in a request rule, the request head in a
        response rule), so never matches, else one that reads it in part."""
        acls = [acl for suite in condition.suites for acl, _negated in suite]
        never = next((acl for acl in acls if all(map(unavailable, acl.exprs))), None)
        if never is not None:
            message = (
                f"acl '{never.name}' will never match because it only involves keywords "
                f"that are incompatible with '{self.place}'"
                if never.name
                else "anonymous acl will never match because it uses keyword "
                f"'{never.exprs[0].keyword}' which is incompatible with '{self.place}'"
            )
            self.warnings.append(AclWarning(message, file, line))
            return
        for acl in acls:
            expr = next((e for e in acl.exprs if unavailable(e)), None)
            if expr is not None:
                message = (
                    f"acl '{acl.name}' involves keywords '{expr.keyword}' which is "
                    f"incompatible with '{self.place}'"
                    if acl.name
                    else f"anonymous acl involves keyword '{expr.keyword}' which is "
                    f"incompatible with '{self.place}'"
                )
                self.warnings.append(AclWarning(message, file, line))
                return

    def _compile_expr(
        self,
        words: Sequence[str],
        *,
        file: str,
        line: int,
        base_dir: str,
        response: bool = False,
    ) -> AclExpr:
        criterion = words[0]
        keyword_name = _KEYWORD.match(criterion).group()  # type: ignore[union-attr]
        acl_kw = ACL_KEYWORDS.get(keyword_name)
        # A response fetch outside a response rule gets the sample parser's own words.
        known = keyword_name in FETCHES or keyword_name in RESPONSE_FETCHES
        if acl_kw is None and not known:
            if is_haproxy_fetch(keyword_name):
                raise ConfigError(
                    f"ACL keyword '{keyword_name}' is an HAProxy sample fetch that balancekit "
                    "does not support; see docs/acl.md",
                    file,
                    line,
                )
            hint = suggest(keyword_name, [*ACL_KEYWORDS, *FETCHES])
            raise ConfigError(
                f"unknown fetch method '{keyword_name}'{hint} in ACL expression '{criterion}'",
                file,
                line,
            )
        try:
            if acl_kw is not None:
                sample = parse_sample_expr(criterion, fetch_name=acl_kw[0], context=self.context)
                method: str | None = acl_kw[1] if not sample.steps else None
            else:
                sample = parse_sample_expr(criterion, context=self.context, response=response)
                method = None
        except FetchError as exc:
            raise ConfigError(f"{exc} in ACL expression '{criterion}'", file, line) from None
        if method is None:
            method = _DEFAULT_METHOD.get(sample.out_type)
        if len(words) == 1 and sample.out_type != "bool" and method not in ("bool", "found"):
            self.warnings.append(
                AclWarning(
                    f"acl keyword '{keyword_name}': no pattern to match against were provided, "
                    "so this ACL will never match (add '--' to silence this, "
                    "or use '-m found' to test for existence)",
                    file,
                    line,
                )
            )
        icase = False
        groups: list[tuple[list[str], bool, str | None]] = []
        loaded = False
        i = 1
        while i < len(words) and words[i].startswith("-"):
            flag = words[i]
            if flag == "-i":
                icase = True
            elif flag == "-n":
                pass  # no DNS: balancekit never resolves names anyway
            elif flag == "-u":
                if i + 1 >= len(words) or not words[i + 1].isdigit():
                    raise ConfigError("the argument of -u must be an integer", file, line)
                i += 1
            elif flag == "-f":
                if i + 1 >= len(words):
                    raise ConfigError("missing file name after '-f'", file, line)
                path = words[i + 1]
                groups.append((list(self._read_patterns(path, base_dir, file, line)), icase, path))
                loaded = True
                i += 1
            elif flag == "-m":
                if loaded:
                    raise ConfigError(
                        "'-m' must only be specified before patterns and files in parsing ACL "
                        "expression",
                        file,
                        line,
                    )
                if i + 1 >= len(words):
                    raise ConfigError("missing matching method after '-m'", file, line)
                method = self._check_method(words[i + 1], sample, keyword_name, file, line)
                i += 1
            elif flag == "-M":
                raise ConfigError("'-M' (load a map file) is not supported in ACLs", file, line)
            elif flag == "--":
                i += 1
                break
            else:
                raise ConfigError(
                    f"'{flag}' is not a valid ACL option. Please use '--' before any pattern "
                    "beginning with a '-'",
                    file,
                    line,
                )
            i += 1
        if method is None:
            raise ConfigError(
                "matching method must be specified first (using '-m') when using a sample "
                f"fetch of this type ('{keyword_name}')",
                file,
                line,
            )
        groups.append((list(words[i:]), icase, None))
        return self._build(keyword_name, sample, method, groups, file, line)

    def _check_method(
        self, name: str, sample: SampleExpr, keyword: str, file: str, line: int
    ) -> str:
        if name in UNSUPPORTED_METHODS:
            raise ConfigError(
                f"matching method '{name}' is not supported by balancekit", file, line
            )
        wanted = MATCH_METHODS.get(name)
        if wanted is None:
            raise ConfigError(
                f"unknown matching method '{name}' when parsing ACL expression"
                f"{suggest(name, MATCH_METHODS)}",
                file,
                line,
            )
        if name != "found" and not can_cast(sample.out_type, wanted):
            raise ConfigError(
                f"matching method '{name}' cannot be used with fetch keyword '{keyword}'",
                file,
                line,
            )
        return name

    def _build(
        self,
        keyword: str,
        sample: SampleExpr,
        method: str,
        groups: list[tuple[list[str], bool, str | None]],
        file: str,
        line: int,
    ) -> AclExpr:
        """The matchers of one expression, each over a shared pattern reference
        (balancekit.acl.patref): the `-f` files' first, then the line's own
        patterns, which HAProxy numbers in that order (`show acl`)."""
        refs = self.context.patterns
        files = [g for g in groups if g[2] is not None]
        inline = [g for g in groups if g[2] is None]
        matchers: list[Matcher] = []
        for patterns, icase, source in [*files, *inline]:
            try:
                if source is not None:
                    entries: list[tuple[str, str | None, int]] = [
                        (p, None, n) for n, p in enumerate(patterns, 1)
                    ]
                    ref = refs.file(
                        source,
                        "acl",
                        functools.partial(list, entries),
                        two_column=False,
                        where=(file, line),
                    )
                else:
                    ref = refs.inline(keyword, patterns, file, line)
                if method in ("bool", "found"):
                    # Patterns mean nothing to these: one matcher, an expression per
                    # reference all the same (`get acl` reports it).
                    matcher = build_matcher(method, (), False)
                    ref.expr(method, icase, None, method, _constant(matcher))
                    if not matchers:
                        matchers.append(matcher)
                    continue
                build = _builder(method, sample, icase)
                expr = ref.expr(method, icase, None, _ACL_FAMILY.get(method, method), build)
            except RefError as exc:
                where = ""
                if source is not None:
                    bad = exc.elt.line if exc.elt is not None else 0
                    where = f" in pattern file '{source}'" + (f" (pattern {bad})" if bad else "")
                raise ConfigError(f"acl '{keyword}': {exc}{where}", file, line) from None
            matchers.append(RefMatcher(expr))
        if method == "meth":
            cast = cast_function("meth", "meth")
        elif method in ("found", "auth"):
            cast = cast_function(sample.out_type, sample.out_type)
        else:
            cast = cast_function(sample.out_type, MATCH_METHODS[method])
        return AclExpr(keyword, sample, method, cast, tuple(matchers))

    def _read_patterns(self, path: str, base_dir: str, file: str, line: int) -> tuple[str, ...]:
        full = path if os.path.isabs(path) else os.path.join(base_dir, path)
        cached = self._files.get(full)
        if cached is not None:
            return cached
        try:
            with open(full, encoding="utf-8", errors="surrogateescape", newline="") as handle:
                raw = handle.read()
        except OSError as exc:
            raise ConfigError(
                f"failed to open pattern file <{path}>: {exc.strerror}", file, line
            ) from None
        patterns: list[str] = []
        for text in raw.split("\n"):
            text = text.split("\r", 1)[0]
            if text.startswith("#"):
                continue
            text = text.lstrip(" \t")
            if text:
                patterns.append(text)
        result = self._files[full] = tuple(patterns)
        return result
