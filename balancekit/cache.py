"""HAProxy's small object cache (`cache` sections, `http-request cache-use`,
`http-response cache-store`), decided here and served by the engines.

HAProxy 2.6 keeps whole answers to GET requests in shared memory, keyed by the
SHA-1 of `https://` + Host + URI, and answers later requests for the same key
itself, with an `Age` header, until the entry expires.  What may be stored and
used follows its cache.c and http_ana.c to the letter, since that is what users
observe: only HTTP/1.1 GET answers with status 200, no `Vary` unless the section
says `process-vary on` (then several answers per URI, told apart by a secondary
key: `cache_vary`), freshness from `s-maxage`/`max-age`/`Expires` capped by the section's
`max-age`, or at least a validator (`ETag`, `Last-Modified`); a request with
`Authorization`, `Cache-Control: no-cache` (or `max-age`, `max-stale`,
`min-fresh`, `Pragma: no-cache`) neither uses nor fills it; a successful unsafe
request (POST, PUT…) drops the entry of its URI; `If-None-Match` and
`If-Modified-Since` get a 304 from the cache.

The engines call `Cache.lookup` (through the `cache-use` rule, which the router
runs), then `Cache.admit` on the answer the `cache-store` rule saw, feed the
body to the `Admission`, and `finish` it once the body ended.  Entries are kept
in one process's memory: each worker of a multi-worker server has its own.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from . import cache_vary
from .cache_vary import SecondaryKey
from .request import Headers, Request

__all__ = ["Admission", "Cache", "CacheConfig", "CacheHit", "CacheLookup", "CachedAnswer"]

#: HAProxy's CACHE_BLOCKSIZE: `total-max-size` counts in blocks of this size.
BLOCK_SIZE = 1024
#: cache.c's CACHE_ENTRY_MAX_AGE: the largest `Age` kept.
MAX_AGE = 2147483648
_SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "TRACE"))
#: What an answer's stored head leaves out: the server's `Age` (counted apart), and
#: what only framed that one transfer.
_NOT_STORED = frozenset(("age", "transfer-encoding", "connection"))


@dataclass(frozen=True, slots=True)
class CacheConfig:
    """A `cache <name>` section: sizes in bytes, `max_age` in seconds."""

    name: str
    total_max_size: int
    max_object_size: int
    max_age: int = 60
    process_vary: bool = False
    #: How many answers one URI may have (varied answers, `process-vary on`).
    max_secondary_entries: int = 10


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """A stored answer: its head as the `cache-store` rule saw it (names lower-case,
    the framing the server used), its body, and when it was validated."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    chunked: bool
    validated: float
    expire: float
    #: The server's own `Age`, added to the time spent here.
    age: int
    last_modified: float
    etag: str | None
    #: The names its `Vary` listed (cache_vary bits; 0: it does not vary), and the
    #: secondary key a request must match to get it.
    signature: int = 0
    secondary: SecondaryKey = (0, 0)

    def age_at(self, now: float) -> int:
        """The `Age` an answer sent at `now` carries (htx_cache_add_age_hdr)."""
        return min(max(0, int(now) - int(self.validated)) + self.age, MAX_AGE)

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(n) + len(v) + 4 for n, v in self.headers)


@dataclass(frozen=True, slots=True)
class CacheHit:
    """What `cache-use` found: the answer, and whether the request's conditions
    (`If-None-Match`, `If-Modified-Since`) make it a 304."""

    answer: CachedAnswer
    not_modified: bool
    #: The `cache` section that holds it (`res.cache_name`).
    cache_name: str = ""


@dataclass(slots=True)
class CacheLookup:
    """What `cache-use` learnt of a request (HAProxy's txn cache flags and hash),
    which `cache-store` needs on the answer: without it nothing is stored."""

    key: bytes
    method: str
    http11: bool
    #: TX_CACHEABLE and TX_CACHE_COOK: a safe method, no `no-store` nor
    #: `Authorization`.
    cacheable: bool
    #: TX_CACHE_IGNORE: the request neither uses nor fills the cache.
    ignore: bool
    #: The request's secondary key (`process-vary on`), None when it has none:
    #: then an answer that varies is not stored.
    secondary: SecondaryKey | None = None


@dataclass
class Admission:
    """An answer being stored: the body is added as it is relayed, and the entry
    exists once `finish` is called (an entry too large is dropped)."""

    cache: Cache
    key: bytes
    head: CachedAnswer
    chunks: list[bytes] = field(default_factory=list)
    size: int = 0
    dropped: bool = False

    def add(self, data: bytes) -> None:
        if self.dropped:
            return
        self.size += len(data)
        if self.size + self.head.size > self.cache.config.max_object_size:
            self.dropped = True
            self.chunks.clear()
            return
        self.chunks.append(data)

    def finish(self) -> None:
        if self.dropped:
            return
        answer = CachedAnswer(
            self.head.status,
            self.head.reason,
            self.head.headers,
            b"".join(self.chunks),
            self.head.chunked,
            self.head.validated,
            self.head.expire,
            self.head.age,
            self.head.last_modified,
            self.head.etag,
            self.head.signature,
            self.head.secondary,
        )
        self.cache.store(self.key, answer)


class Cache:
    """One `cache` section's entries (per process), oldest evicted first.

    A URI may have several answers when they vary (`process-vary on`): they are
    kept in the order they were stored, as HAProxy's tree keeps duplicates, since
    a lookup reads the first one's `Vary` to build the request's secondary key."""

    def __init__(self, config: CacheConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        # (URI key, serial) -> answer, oldest first; a URI's serials, oldest first.
        self._entries: OrderedDict[tuple[bytes, int], CachedAnswer] = OrderedDict()
        self._chains: dict[bytes, list[int]] = {}
        self._serial = 0
        self._used = 0

    def __deepcopy__(self, memo: dict[int, object]) -> Cache:
        return self  # one store, however many copies of a rule name it

    def __repr__(self) -> str:
        return f"<Cache {self.config.name} entries={len(self._entries)} bytes={self._used}>"

    # -- the request side ---------------------------------------------------------------

    def lookup(self, request: Request) -> tuple[CacheLookup | None, CacheHit | None]:
        """`http-request cache-use`: the request's cache state (None when it has
        no key: no Host for an origin-form URI), and the answer to send, if any."""
        key = request_key(request)
        if key is None:
            return None, None
        method = request.method
        http11 = request.version == "HTTP/1.1"
        ignore, cacheable = _request_flags(request.headers, method in _SAFE_METHODS)
        if not http11 or method not in ("GET", "HEAD"):
            ignore = True
        state = CacheLookup(key, method, http11, cacheable, ignore)
        if ignore:
            return state, None
        answer = self._first(key)
        if answer is None:
            if self.config.process_vary:  # what the answer will vary on is not known yet
                state.secondary = cache_vary.request_key(request.headers, cache_vary.ALL_NAMES)
            return state, None
        if answer.signature:
            state.secondary = cache_vary.request_key(request.headers, answer.signature)
            if state.secondary is None:
                return state, None
            answer = self._variant(key, state.secondary)
            if answer is None:
                return state, None
        hit = CacheHit(answer, _not_modified(answer, request.headers), self.config.name)
        return state, hit

    def _first(self, key: bytes) -> CachedAnswer | None:
        """entry_exist: the URI's first answer; an expired one is dropped (and the
        lookup misses, even if later answers of the URI are fresh)."""
        chain = self._chains.get(key)
        if not chain:
            return None
        answer = self._entries[key, chain[0]]
        if answer.expire <= int(self.clock()):
            self._drop(key, chain[0])
            return None
        return answer

    def _variant(self, key: bytes, wanted: SecondaryKey) -> CachedAnswer | None:
        """secondary_entry_exist: the first of the URI's answers whose secondary
        key the request matches; expired ones met on the way are dropped."""
        now = int(self.clock())
        for serial in list(self._chains.get(key, ())):
            answer = self._entries[key, serial]
            if cache_vary.matches(answer.secondary, wanted):
                if answer.expire <= now:
                    self._drop(key, serial)
                    return None
                return answer
            if answer.expire <= now:
                self._drop(key, serial)
        return None

    # -- the answer side ----------------------------------------------------------------

    def admit(
        self,
        lookup: CacheLookup | None,
        status: int,
        reason: str,
        headers: Headers,
        chunked: bool,
    ) -> Admission | None:
        """`http-response cache-store`: whether this answer may be stored (its body
        still to come), as http_action_store_cache decides; a successful unsafe
        request drops the stored answer of its URI instead."""
        if lookup is None:
            return None
        if lookup.method != "GET":
            if 200 <= status < 400 and lookup.method not in _SAFE_METHODS:
                self._drop_first(lookup.key)
            return None
        if not lookup.http11 or status != 200:
            return None
        signature = 0
        secondary: SecondaryKey = (0, 0)
        if self.config.process_vary:
            found = cache_vary.vary_signature(headers)
            if found is None:
                return None  # it varies on a header HAProxy cannot normalise
            signature = found
            if signature:
                if lookup.secondary is None:
                    return None
                secondary = cache_vary.reduce_key(lookup.secondary, signature)
        elif headers.get("vary") is not None:
            return None  # (`process-vary off`: no answer that varies is stored)
        cacheable, cookies_ok = _response_flags(headers, lookup.cacheable)
        if not (cacheable and cookies_ok):
            return None
        # The answer it replaces goes now, before its body is even read.
        if signature:
            self._drop_variant(lookup.key, secondary)
        else:
            self._drop_first(lookup.key)
        now = self.clock()
        max_age, true_max_age = _max_age(headers, self.config.max_age, now)
        age = 0
        server_age = headers.get("age")
        if server_age is not None:
            if not server_age.isdigit() or int(server_age) <= 0:
                return None
            age = min(int(server_age), MAX_AGE)
            if age > true_max_age:
                return None  # already stale
        if signature:
            # The stored key holds what the answer is encoded in, not what the
            # request accepted: later requests must accept that.
            encoding = cache_vary.answer_encoding(headers)
            if encoding is None:
                return None
            secondary = (encoding, secondary[1])
        kept = tuple((n, v) for n, v in headers if n.lower() not in _NOT_STORED)
        head = CachedAnswer(
            status,
            reason,
            kept,
            b"",
            chunked,
            int(now),
            int(now) + max_age,
            age,
            _last_modified(headers, now),
            headers.get("etag"),
            signature,
            secondary,
        )
        length = headers.get("content-length") or ""
        if length.isdigit() and int(length) + head.size > self.config.max_object_size:
            return None
        return Admission(self, lookup.key, head)

    def store(self, key: bytes, answer: CachedAnswer) -> None:
        """Keep an answer whose body has ended (the URI's answer it replaces went
        when it was admitted); a varied one beyond `max-secondary-entries` (after
        dropping the URI's expired ones) is not kept."""
        if answer.signature:
            now = int(self.clock())
            for serial in list(self._chains.get(key, ())):
                if self._entries[key, serial].expire <= now:
                    self._drop(key, serial)
            if len(self._chains.get(key, ())) >= self.config.max_secondary_entries:
                return
        elif not self.config.process_vary:
            self._drop_first(key)  # one answer per URI: a concurrent store's is replaced
        size = answer.size
        if size > self.config.total_max_size:
            return
        while self._entries and self._used + size > self.config.total_max_size:
            self._drop(*next(iter(self._entries)))
        self._serial += 1
        self._entries[key, self._serial] = answer
        self._chains.setdefault(key, []).append(self._serial)
        self._used += size

    def _drop_first(self, key: bytes) -> None:
        chain = self._chains.get(key)
        if chain:
            self._drop(key, chain[0])

    def _drop_variant(self, key: bytes, secondary: SecondaryKey) -> None:
        for serial in self._chains.get(key, ()):
            if cache_vary.matches(self._entries[key, serial].secondary, secondary):
                self._drop(key, serial)
                return

    def _drop(self, key: bytes, serial: int) -> None:
        answer = self._entries.pop((key, serial), None)
        if answer is not None:
            self._used -= answer.size
            chain = self._chains[key]
            chain.remove(serial)
            if not chain:
                del self._chains[key]


def request_key(request: Request) -> bytes | None:
    """sha1_hosturi: the SHA-1 of the absolute URI, or of `https://` + Host + the
    URI of an origin-form request (None without a Host)."""
    uri = request.uri or request.path + ("?" + request.query if request.query else "")
    if not uri:
        return None
    if "://" not in uri.split("/", 1)[0] and not uri.startswith(("http://", "https://")):
        host = request.headers.get("host")
        if host is None:
            return None
        uri = "https://" + host + uri
    return hashlib.sha1(uri.encode("latin-1"), usedforsecurity=False).digest()


def _request_flags(headers: Headers, safe: bool) -> tuple[bool, bool]:
    """http_check_request_for_cacheability: (ignore the cache, answer storable)."""
    ignore, cacheable = False, safe
    pragma = headers.get("pragma")
    if headers.get("authorization") is not None:
        cacheable, ignore = False, True
    cache_control = headers.values("cache-control")
    for value in cache_control:
        lowered = value.lower()
        if lowered.startswith(("max-age", "no-cache", "max-stale", "min-fresh")):
            ignore = True
        elif lowered.startswith("no-store"):
            cacheable = False
    if not cache_control and pragma is not None and pragma.lower() == "no-cache":
        ignore = True
    return ignore, cacheable


def _response_flags(headers: Headers, cacheable: bool) -> tuple[bool, bool]:
    """http_check_response_for_cacheability: (TX_CACHEABLE, TX_CACHE_COOK)."""
    cookies_ok = cacheable
    pragma = headers.get("pragma")
    if pragma is not None and pragma.lower() == "no-cache":
        return False, False
    fresh = False
    for value in headers.values("cache-control"):
        lowered = value.lower()
        if lowered == "public":
            cacheable = cookies_ok = True
        elif lowered in ("private", "no-cache", "no-store", "max-age=0", "s-maxage=0"):
            cacheable = cookies_ok = False
        elif lowered.startswith('no-cache="set-cookie'):
            cookies_ok = False
        elif lowered.startswith(("s-maxage", "max-age")):
            fresh = True
    if not fresh:
        fresh = headers.get("expires") is not None
    if not fresh and headers.get("etag") is None and headers.get("last-modified") is None:
        cacheable = False  # neither an expiry nor a validator (RFC 7234#3)
    return cacheable, cookies_ok


def _directive(values: Sequence[str], name: str) -> int | None:
    """The number of the last `name=N` directive (a quoted N too); -1 if malformed."""
    found: int | None = None
    for value in values:
        lowered = value.lower()
        if not lowered.startswith(name + "="):
            continue
        text = value[len(name) + 1 :].strip('"')
        digits = text[: len(text) - len(text.lstrip("0123456789"))]
        found = int(digits) if digits else -1
    return found


def _max_age(headers: Headers, limit: int, now: float) -> tuple[int, int]:
    """http_calc_maxage: (how long the entry is kept, the answer's own max age)."""
    values = headers.values("cache-control")
    s_maxage = _directive(values, "s-maxage")
    max_age = _directive(values, "max-age")
    if (s_maxage is not None and s_maxage < 0) or (max_age is not None and max_age < 0):
        return -1, -1
    if s_maxage:
        return min(s_maxage, limit), s_maxage
    if max_age:
        return min(max_age, limit), max_age
    if s_maxage is None and max_age is None:
        expires = headers.get("expires")
        if expires is not None:
            when = _http_date(expires)
            left = 0 if when is None else max(0, int(when - int(now)))
            return min(left, limit), left
    return limit, limit


def _http_date(text: str) -> float | None:
    try:
        return parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def _last_modified(headers: Headers, now: float) -> float:
    for name in ("last-modified", "date"):
        value = headers.get(name)
        when = None if value is None else _http_date(value)
        if when is not None:
            return when
    return int(now)


def _etag_value(tag: str) -> str | None:
    """A strong (`"x"`) or weak (`W/"x"`) entity tag without its `W/`; None if invalid."""
    tag = tag.strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    return tag if len(tag) >= 2 and tag[0] == '"' and tag[-1] == '"' else None


def _not_modified(answer: CachedAnswer, headers: Headers) -> bool:
    """should_send_notmodified_response: `If-None-Match` first, else `If-Modified-Since`."""
    tags = headers.values("if-none-match")
    stored = None if answer.etag is None else _etag_value(answer.etag)
    for tag in tags:
        if tag == "*":
            return True
        if answer.etag is None:
            return False
        if stored is not None and _etag_value(tag) == stored:
            return True
    if tags:
        return False
    since = headers.get("if-modified-since")
    when = None if since is None else _http_date(since)
    return when is not None and answer.last_modified <= when
