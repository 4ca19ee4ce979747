"""balancekit.persistence without sockets: the byte edits, flags and dates HAProxy 2.6
produces (http_ana.c), with a fake clock.  The same behaviour against a real
HAProxy is in the conformance matrix (`cookie-*` rows) and tests/l7/test_l7_cookies.py."""

from __future__ import annotations

import pytest

from balancekit import Backend, ConfigError, QueueFull, Server
from balancekit.config import load_text
from balancekit.persistence import (
    CookiePolicy,
    CookieServer,
    RequestCookies,
    ResponseCookies,
    decode_date,
    encode_date,
    parse_cookie_keyword,
    read_request_cookies,
    response_cacheable,
    rewrite_response_cookies,
)

SERVERS = [CookieServer("s1", "a", True), CookieServer("s2", "b", False)]
NOW = 1_700_000_000
INSERT = parse_cookie_keyword(["SRV", "insert", "indirect"])


def request(policy: CookiePolicy, *values: bytes, now: int = NOW, **kw: bool) -> RequestCookies:
    return read_request_cookies(policy, values, SERVERS, now, **kw)


def respond(
    policy: CookiePolicy,
    values: list[bytes],
    found: RequestCookies | None = None,
    *,
    server: CookieServer = SERVERS[0],
    method: bytes = b"GET",
    cacheable: bool = False,
) -> ResponseCookies:
    """The response side for an answer from `server` at NOW."""
    return rewrite_response_cookies(
        policy,
        values,
        server=server,
        request=found if found is not None else RequestCookies(),
        method=method,
        cacheable=cacheable,
        now=NOW,
    )


@pytest.mark.parametrize(
    ("header", "forwarded", "server", "flag"),
    [
        (b"SRV=a", None, "s1", "V"),
        (b"x=1; SRV=a", b"x=1", "s1", "V"),
        (b"SRV=a; x=1", b"x=1", "s1", "V"),
        (b"x=1;SRV=a;y=2", b"x=1; y=2", "s1", "V"),
        (b"x=1 ;  SRV=a ;y=2", b"x=1; y=2", "s1", "V"),
        (b"SRV = a", None, "s1", "V"),
        (b"$Version=1; SRV=a; x", b"$Version=1; x", "s1", "V"),
        (b"SRV=zz; q=1", b"q=1", None, "I"),
        (b"SRV=", None, None, "I"),
        (b"SRV=b", None, None, "D"),
        (b"other=1", b"other=1", None, "N"),
    ],
)
def test_insert_indirect_reads_and_strips_the_cookie(
    header: bytes, forwarded: bytes | None, server: str | None, flag: str
) -> None:
    found = request(INSERT, header)
    assert (found.headers, found.server, found.flag) == ([forwarded], server, flag)


def test_a_down_server_is_used_only_with_persist() -> None:
    assert request(INSERT, b"SRV=b").server is None
    forced = request(INSERT, b"SRV=b", persist=True)
    assert (forced.server, forced.flag) == ("s2", "D")
    ignored = request(INSERT, b"SRV=a", ignore=True)
    assert (ignored.server, ignored.flag) == (None, "U")


def test_a_second_cookie_after_a_valid_one_is_unused() -> None:
    found = request(INSERT, b"SRV=a", b"SRV=a")
    assert (found.server, found.flag) == ("s1", "U")


def test_prefix_mode_gives_the_server_its_own_cookie_back() -> None:
    prefix = parse_cookie_keyword(["JS", "prefix"])
    found = request(prefix, b"JS=a~opaque; o=1")
    assert (found.server, found.headers) == ("s1", [b"JS=opaque; o=1"])
    answer = respond(prefix, [b"JS=opaque2; path=/"], found)
    assert (answer.headers, answer.flag) == ([b"JS=a~opaque2; path=/"], "R")


def test_rewrite_mode_replaces_the_value_only() -> None:
    rewrite = parse_cookie_keyword(["SRV", "rewrite"])
    answer = respond(rewrite, [b"SRV=whatever; Path=/; HttpOnly", b"other=1"])
    assert answer.headers == [b"SRV=a; Path=/; HttpOnly", b"other=1"]
    assert answer.added == [] and answer.flag == "R"


def test_insert_builds_haproxys_set_cookie() -> None:
    policy = parse_cookie_keyword(
        ["SRV", "insert", "nocache", "httponly", "secure", "domain", ".a.test", "domain", ".b.test",
         "attr", "SameSite=Lax"]
    )  # fmt: skip
    answer = respond(policy, [b"SRV=server-made; path=/"], cacheable=True)
    assert answer.headers == [None]  # the server's own is dropped, then ours goes last
    assert answer.added == [
        (b"Set-Cookie",
         b"SRV=a; path=/; domain=.a.test; domain=.b.test; HttpOnly; Secure; SameSite=Lax"),
        (b"Cache-control", b"private"),
    ]  # fmt: skip
    assert answer.flag == "I"


def test_a_server_without_a_cookie_value_clears_the_cookie() -> None:
    answer = respond(INSERT, [], server=CookieServer("s3", None, True))
    assert answer.added == [(b"Set-Cookie", b"SRV=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/")]


def test_postonly_inserts_on_post_only() -> None:
    policy = parse_cookie_keyword(["SRV", "insert", "postonly"])

    assert respond(policy, []).added == []
    assert respond(policy, [], method=b"POST").added


def test_dates_travel_as_haproxy_encodes_them() -> None:
    assert decode_date(encode_date(NOW)) == (NOW + 3) & ~3
    assert decode_date(b"AAAAB") == 4
    assert decode_date(b"AA=AB") == -1 and decode_date(b"AAA") == -1
    policy = parse_cookie_keyword(["SRV", "insert", "maxidle", "30", "maxlife", "1m"])
    assert (policy.maxidle, policy.maxlife) == (30, 60)
    first = respond(policy, [])
    value = first.added[0][1].split(b";")[0].removeprefix(b"SRV=")
    stamp = encode_date(NOW)
    assert value == b"a|" + stamp + b"|" + stamp
    fresh = request(policy, b"SRV=" + value, now=NOW + 20)
    assert (fresh.server, fresh.flag) == ("s1", "V")
    idle = request(policy, b"SRV=" + value, now=NOW + 40)
    assert (idle.server, idle.flag) == (None, "E")
    # Still in use every 20 s, the cookie ages out after maxlife all the same.
    seen_first = encode_date(NOW - 80)
    old = request(policy, b"SRV=a|" + encode_date(NOW - 10) + b"|" + seen_first)
    assert (old.server, old.flag) == (None, "O")
    ahead = request(policy, b"SRV=a|" + encode_date(NOW + 2 * 86400))
    assert ahead.flag == "E"


def test_a_refreshed_cookie_keeps_its_first_date_and_counts_as_updated() -> None:
    policy = parse_cookie_keyword(["SRV", "insert", "maxidle", "30", "maxlife", "600"])
    first_visit = encode_date(NOW - 100)
    found = request(policy, b"SRV=a|" + encode_date(NOW - 20) + b"|" + first_visit)
    answer = respond(policy, [], found)
    # The last-seen date moves to now; the first visit's comes back as it was sent.
    assert answer.added[0][1].startswith(
        b"SRV=a|" + encode_date(NOW) + b"|" + first_visit + b"; path=/"
    )
    assert answer.flag == "U"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "expects <cookie_name>"),
        (["SRV", "insert", "rewrite"], "modes are incompatible"),
        (["SRV", "rewrite", "indirect"], "'rewrite' and 'indirect' modes are incompatible"),
        (["SRV", "preserve"], "'preserve' requires at least 'insert' or 'indirect'"),
        (["SRV", "domain"], "'domain' expects <domain>"),
        (["SRV", "attr", "a;b"], "not permitted in attribute value"),
        (["SRV", "bogus"], "'cookie' supports 'rewrite', 'insert'"),
    ],
)
def test_bad_cookie_lines_say_what_haproxy_says(args: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_cookie_keyword(args)


@pytest.mark.parametrize(
    ("method", "status", "headers", "cacheable"),
    [
        (b"GET", 200, [], False),  # no validator, no freshness: not stored (RFC 7234 §3)
        (b"GET", 200, [(b"Cache-Control", b"public, max-age=60")], True),
        (b"GET", 200, [(b"ETag", b'"x"')], True),
        (b"POST", 200, [(b"Cache-Control", b"max-age=60")], False),
        (b"GET", 302, [(b"Cache-Control", b"max-age=60")], False),
        (b"GET", 200, [(b"Cache-Control", b"max-age=60, private")], False),
        (b"GET", 200, [(b"Pragma", b"no-cache"), (b"Expires", b"x")], False),
    ],
)
def test_cacheability_follows_haproxy(
    method: bytes, status: int, headers: list[tuple[bytes, bytes]], cacheable: bool
) -> None:
    assert response_cacheable(method, status, headers) is cacheable


def test_a_direct_request_waits_on_its_server_not_on_the_balancer() -> None:
    backend = Backend("be", [Server("s1", "127.0.0.1:1", maxconn=1, maxqueue=1),
                             Server("s2", "127.0.0.1:2")])  # fmt: skip
    first = backend.acquire(server="s1")
    assert first.granted and first.server is not None and first.server.name == "s1"
    waiting = backend.acquire(server="s1")
    assert not waiting.granted and waiting.queue_server == "s1"
    with pytest.raises(QueueFull):
        backend.acquire(server="s1")
    assert backend.member("s1").lbtot == 0  # a cookie is not a balancing decision
    woken = backend.release(first)
    assert woken == [waiting] and waiting.server is not None and waiting.server.name == "s1"


_COOKIE_CONFIG = """defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
backend b
    cookie SRV insert {options}
    server s1 127.0.0.1:1 cookie a
"""


@pytest.mark.parametrize(
    ("options", "maxidle", "maxlife", "warning"),
    [
        # HAProxy keeps these in seconds: beyond the 24.8 days of a timeout is fine.
        ("maxlife 30d", 0, 30 * 86400, None),
        # A unit followed by junk is read as the unit, with HAProxy's warning.
        ("maxidle 30min", 1800, 0, "read as '30m' as HAProxy 2.6 does"),
    ],
)
def test_cookie_dates_read_like_haproxy(
    options: str, maxidle: int, maxlife: int, warning: str | None
) -> None:
    loaded = load_text(_COOKIE_CONFIG.format(options=options), name="c.cfg")
    policy = loaded.config.backends["b"].cookie
    assert policy is not None and (policy.maxidle, policy.maxlife) == (maxidle, maxlife)
    messages = [w.message for w in loaded.warnings]
    assert (warning is None) == (not any("timer value" in m for m in messages))
    assert warning is None or any(warning in m for m in messages)


def test_a_cookie_date_beyond_68_years_is_refused_at_its_line() -> None:
    with pytest.raises(ConfigError, match="2147483647 s, about 68 years") as caught:
        load_text(_COOKIE_CONFIG.format(options="maxlife 70000d"), name="c.cfg")
    assert (caught.value.file, caught.value.line) == ("c.cfg", 7)


def test_dynamic_is_an_option_of_the_cookie_line() -> None:
    assert parse_cookie_keyword(["SRV", "insert", "dynamic"]).dynamic
    assert not parse_cookie_keyword(["SRV", "insert"]).dynamic


def test_checkcache_blocks_only_a_cacheable_answer_setting_a_server_cookie() -> None:
    from balancekit.persistence import cacheable_cookie

    cookie = (b"Set-Cookie", b"id=7")
    fresh = (b"Cache-Control", b"max-age=60")
    assert cacheable_cookie(b"GET", 200, [cookie, fresh], [cookie, fresh])
    # no freshness information nor validator: HAProxy 2.6 lets it through
    assert not cacheable_cookie(b"GET", 200, [cookie], [cookie])
    assert not cacheable_cookie(b"POST", 200, [cookie, fresh], [cookie, fresh])
    assert not cacheable_cookie(b"GET", 302, [cookie, fresh], [cookie, fresh])
    # the cookie is the server's: one the persistence inserted does not count
    assert not cacheable_cookie(b"GET", 200, [fresh], [fresh, cookie])
    # ... and its `nocache` (Cache-Control: private) makes the answer private
    private = (b"Cache-control", b"private")
    assert not cacheable_cookie(b"GET", 200, [cookie, fresh], [cookie, fresh, private])


def test_checkcache_reads_cache_control_directives_in_order() -> None:
    from balancekit.persistence import cacheable_cookie

    cookie = (b"Set-Cookie", b"id=7")
    guarded = [cookie, (b"Cache-Control", b'max-age=60, no-cache="set-cookie"')]
    assert not cacheable_cookie(b"GET", 200, guarded, guarded)
    reopened = [*guarded, (b"Cache-Control", b"public")]
    assert cacheable_cookie(b"GET", 200, reopened, reopened)
