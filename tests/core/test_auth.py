"""`balancekit.auth`: Authorization parsing as HAProxy's get_http_auth, userlists as
auth.c's check_user and userlist_postinit, hashes through the system's crypt(3)."""

from __future__ import annotations

import base64

import pytest

from balancekit.auth import (
    BasicCredentials,
    Userlist,
    build_userlist,
    crypt,
    crypt_matches,
    read_authorization,
)
from balancekit.config import ConfigErrors, load_text
from balancekit.request import Request


def _basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (_basic("alice:pw"), BasicCredentials("Basic", "YWxpY2U6cHc=", "alice", "pw")),
        # the password runs to the end, `:` included; the user stops at the first `:`
        (_basic("a:b:c"), BasicCredentials("Basic", "YTpiOmM=", "a", "b:c")),
        (_basic(":"), BasicCredentials("Basic", "Og==", "", "")),
        # any case, several spaces before the token (RFC 7235)
        ("bAsIc    " + _basic("u:p")[6:], BasicCredentials("Basic", "dTpw", "u", "p")),
        # the header's first comma-separated value only
        (_basic("u:p") + ", Basic eA==", BasicCredentials("Basic", "dTpw", "u", "p")),
        ("Bearer tok.en", BasicCredentials("Bearer", "tok.en")),
        ("bearer   tok", BasicCredentials("Bearer", "tok")),
        # a NUL ends the password as it ends a C string
        (_basic("u:p\0rest"), BasicCredentials("Basic", "dTpwAHJlc3Q=", "u", "p")),
    ],
)
def test_read_authorization_accepts(header: str, expected: BasicCredentials) -> None:
    assert read_authorization(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Basic",  # no space after the scheme
        " Basic dTpw",  # a leading space is trimmed, then this is "Basic dTpw" ...
        "Basic dTp",  # length not a multiple of 4
        "Basic dT=w",  # padding in the middle
        "Basic !!!!",
        _basic("alice"),  # no `:`
        _basic("u\0:p"),  # the NUL hides the `:`
        "Digest username=alice",
    ],
)
def test_read_authorization_refuses(header: str | None) -> None:
    if header == " Basic dTpw":
        assert read_authorization(header) == BasicCredentials("Basic", "dTpw", "u", "p")
        return
    assert read_authorization(header) is None


def test_crypt_checks_every_scheme_libcrypt_knows() -> None:
    for setting in (
        "$6$saltsalt$",
        "$5$rounds=1000$abc$",
        "$1$salt$",
        "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$",
    ):
        hashed = crypt("secret", setting)
        assert hashed is not None and hashed.startswith(setting.rstrip("$"))
        assert crypt_matches("secret", hashed)
        assert not crypt_matches("Secret", hashed)
    # a setting crypt(3) does not know gives no hash, and matches nothing
    assert crypt("secret", "*") is None
    assert not crypt_matches("", "*")
    assert not crypt_matches("secret", "")


def test_check_user_insecure_and_hashed() -> None:
    hashed = crypt("pw", "$6$abcdefgh$")
    assert hashed is not None
    users = build_userlist(
        "L",
        [("alice", hashed, False, ("g1",)), ("bob", "pw", True, ())],
        [("g1", ()), ("g2", ("bob",))],
    )
    assert users.check("alice", "pw") and not users.check("alice", hashed)
    # insecure passwords compare as text: the hash string itself is not a password
    assert users.check("bob", "pw") and not users.check("bob", "PW")
    assert not users.check("nobody", "pw")
    assert users.groups_of("alice") == {"g1"}
    assert users.groups_of("bob") == {"g2"}
    assert users.groups_of("nobody") == frozenset()
    assert users.groups == {"g1", "g2"}


@pytest.mark.parametrize(
    ("users", "groups", "message"),
    [
        (
            [("u", "x", True, ("nope",))],
            [],
            "userlist 'L': no such group 'nope' specified in user 'u'",
        ),
        ([], [("g", ("zed",))], "userlist 'L': no such user 'zed' specified in group 'g'"),
    ],
)
def test_membership_must_name_declared_things(
    users: list[tuple[str, str, bool, tuple[str, ...]]],
    groups: list[tuple[str, tuple[str, ...]]],
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        build_userlist("L", users, groups)


CONFIG = """
defaults
    mode http
frontend f
    bind 127.0.0.1:0
    acl ok http_auth(L)
    acl admin http_auth_group(L) admins
    http-request auth realm Admins if { path_beg /admin } !admin
    http-request auth unless ok
    default_backend b
backend b
    http-request auth if { path_beg /b } !{ http_auth_group(L) admins }
    server s 127.0.0.1:1
userlist L
    group admins
    user alice insecure-password a groups admins
    user bob insecure-password b
userlist L
    user carol insecure-password c
"""


def _decide(path: str, header: str | None = None) -> tuple[str, str | None]:
    config = load_text(CONFIG, name="t.cfg", env={}).config
    router = config.frontends[0].router
    assert router is not None
    headers = (("Authorization", header),) if header else ()
    decision = router.route(Request(src="127.0.0.1", path=path, headers=headers))
    challenge = dict(decision.response_headers).get("WWW-Authenticate")
    return decision.action, challenge


def test_auth_rules_decide_with_the_userlist_declared_below() -> None:
    assert _decide("/x") == ("auth", 'Basic realm="f"')
    assert _decide("/x", _basic("bob:b")) == ("forward", None)
    assert _decide("/x", _basic("bob:B")) == ("auth", 'Basic realm="f"')
    # the second `userlist L` adds to the first (HAProxy warns, and keeps one list)
    assert _decide("/x", _basic("carol:c")) == ("forward", None)
    assert _decide("/admin", _basic("bob:b")) == ("auth", 'Basic realm="Admins"')
    assert _decide("/admin", _basic("alice:a")) == ("forward", None)


def test_backend_auth_rule_takes_the_backends_name_as_realm() -> None:
    assert _decide("/b", _basic("bob:b")) == ("auth", 'Basic realm="b"')
    assert _decide("/b", _basic("alice:a")) == ("forward", None)


def test_duplicates_warn_as_haproxy() -> None:
    config = load_text(
        "userlist L\n    user u insecure-password a\n    user u insecure-password b\n"
        "    group g\n    group g\nuserlist L\n    user w password !locked\n",
        name="t.cfg",
        env={},
    )
    messages = [str(w) for w in config.warnings]
    assert "t.cfg:3: ignoring duplicated user 'u' in userlist 'L'" in messages
    assert "t.cfg:5: ignoring duplicated group 'g' in userlist 'L'" in messages
    assert "t.cfg:6: ignoring duplicated userlist 'L'" in messages
    assert any(m.startswith("t.cfg:7: the encrypted password of user 'w'") for m in messages)


def test_http_auth_group_with_unknown_group_is_refused() -> None:
    with pytest.raises(ConfigErrors, match="invalid group 'nobody'"):
        load_text(
            "userlist L\n    group g\nfrontend f\n    mode http\n"
            "    acl a http_auth_group(L) g nobody\n",
            name="t.cfg",
            env={},
        )


def test_userlist_dataclass_defaults() -> None:
    assert not Userlist("empty").check("anyone", "")
