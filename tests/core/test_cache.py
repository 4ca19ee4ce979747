"""The cache's decisions (balancekit.cache), on a fake clock: what is stored, for how
long, what a conditional request gets.  The proxy's use of them is checked against
HAProxy by the conformance rows `cache-use-store` and `cache-in-backend`."""

from __future__ import annotations

from balancekit.cache import Cache, CacheConfig
from balancekit.request import Headers, Request


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _cache(max_age: int = 60, total: int = 1 << 20, largest: int = 4096) -> tuple[Cache, Clock]:
    clock = Clock()
    return Cache(CacheConfig("c", total, largest, max_age), clock), clock


def _get(path: str = "/a", method: str = "GET", **headers: str) -> Request:
    pairs = [("host", "example.test")] + [(k.replace("_", "-"), v) for k, v in headers.items()]
    return Request(method=method, path=path, uri=path, headers=Headers(pairs))


def _store(cache: Cache, request: Request, body: bytes = b"hello", **headers: str) -> bool:
    lookup, hit = cache.lookup(request)
    assert hit is None
    pairs = [(k.replace("_", "-"), v) for k, v in headers.items()]
    admission = cache.admit(lookup, 200, "OK", Headers(pairs), chunked=False)
    if admission is None:
        return False
    admission.add(body)
    admission.finish()
    return True


def test_an_answer_with_max_age_is_kept_that_long_capped_by_the_section() -> None:
    cache, clock = _cache(max_age=30)
    assert _store(cache, _get(), cache_control="max-age=100")
    clock.now += 29
    _, hit = cache.lookup(_get())
    assert hit is not None and hit.answer.body == b"hello"
    assert hit.answer.age_at(clock.now) == 29
    clock.now += 1
    assert cache.lookup(_get())[1] is None


def test_the_servers_age_counts_and_a_stale_answer_is_not_stored() -> None:
    cache, clock = _cache()
    assert _store(cache, _get(), cache_control="max-age=50", age="10")
    hit = cache.lookup(_get())[1]
    assert hit is not None and hit.answer.age_at(clock.now + 5) == 15
    assert not _store(cache, _get("/b"), cache_control="max-age=50", age="51")


def test_without_expiry_or_validator_nothing_is_stored() -> None:
    cache, _ = _cache()
    assert not _store(cache, _get(), x_other="1")
    assert _store(cache, _get("/etag"), etag='"1"')
    assert _store(cache, _get("/lm"), last_modified="Tue, 01 Dec 2026 10:00:00 GMT")


def test_private_and_vary_are_not_stored_public_overrides_no_store_of_the_request() -> None:
    cache, _ = _cache()
    assert not _store(cache, _get(), cache_control="private", etag='"1"')
    assert not _store(cache, _get("/v"), vary="accept-encoding", etag='"1"')
    lookup, _ = cache.lookup(_get("/p", cache_control="no-store"))
    assert lookup is not None and not lookup.cacheable
    admission = cache.admit(
        lookup, 200, "OK", Headers([("cache-control", "public"), ("etag", '"1"')]), False
    )
    assert admission is not None


def test_requests_that_bypass_the_cache() -> None:
    cache, _ = _cache()
    assert _store(cache, _get(), cache_control="max-age=60")
    for request in (
        _get(authorization="Basic eDp5"),
        _get(cache_control="no-cache"),
        _get(cache_control="max-age=0"),
        _get(pragma="no-cache"),
        Request(
            method="GET",
            path="/a",
            uri="/a",
            headers=Headers([("host", "example.test")]),
            version="HTTP/1.0",
        ),
    ):
        lookup, hit = cache.lookup(request)
        assert lookup is not None and lookup.ignore and hit is None
    assert cache.lookup(_get(pragma="no-cache", cache_control="foo"))[1] is not None


def test_a_successful_unsafe_request_drops_the_entry() -> None:
    cache, _ = _cache()
    assert _store(cache, _get(), cache_control="max-age=60")
    lookup, _ = cache.lookup(_get(method="POST"))
    assert cache.admit(lookup, 201, "Created", Headers(), False) is None
    assert cache.lookup(_get())[1] is None


def test_conditional_requests_get_a_304() -> None:
    cache, _ = _cache()
    assert _store(cache, _get(), etag='W/"v1"', date="Tue, 01 Dec 2026 10:00:00 GMT")
    assert cache.lookup(_get(if_none_match='"v1"'))[1].not_modified  # type: ignore[union-attr]
    assert not cache.lookup(_get(if_none_match='"v2"'))[1].not_modified  # type: ignore[union-attr]
    assert cache.lookup(_get(if_none_match="*"))[1].not_modified  # type: ignore[union-attr]
    later = "Wed, 02 Dec 2026 10:00:00 GMT"
    assert cache.lookup(_get(if_modified_since=later))[1].not_modified  # type: ignore[union-attr]
    earlier = "Mon, 30 Nov 2026 10:00:00 GMT"
    hit = cache.lookup(_get(if_modified_since=earlier))[1]
    assert hit is not None and not hit.not_modified


def test_too_large_answers_are_dropped_and_the_oldest_evicted() -> None:
    cache, _ = _cache(total=3000, largest=1500)
    _store(cache, _get("/big"), body=b"x" * 2000, cache_control="max-age=60")  # no length
    assert cache.lookup(_get("/big"))[1] is None
    assert not _store(cache, _get("/big"), cache_control="max-age=60", content_length="2000")
    for path in ("/1", "/2", "/3"):
        assert _store(cache, _get(path), body=b"y" * 1000, cache_control="max-age=60")
    assert cache.lookup(_get("/1"))[1] is None
    assert cache.lookup(_get("/3"))[1] is not None


def test_the_key_is_the_host_and_uri() -> None:
    cache, _ = _cache()
    assert _store(cache, _get(), cache_control="max-age=60")
    other = Request(method="GET", path="/a", uri="/a", headers=Headers([("host", "other")]))
    assert cache.lookup(other)[1] is None
    no_host = Request(method="GET", path="/a", uri="/a")
    assert cache.lookup(no_host) == (None, None)
