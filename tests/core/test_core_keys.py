"""How each hashing algorithm extracts its key, case by case (backend.c's rules)."""

from __future__ import annotations

import pytest

import balancekit as bk
from balancekit.algorithms.hdr import domain_only
from balancekit.algorithms.source import address_hash
from balancekit.algorithms.uri import path_of, uri_key
from balancekit.algorithms.url_param import param_value
from balancekit.request import first_header_value


@pytest.mark.parametrize(
    ("uri", "length", "depth", "whole", "key"),
    [
        (b"/a/b/c?x=1", 0, 0, False, b"/a/b/c"),
        (b"/a/b/c?x=1", 0, 0, True, b"/a/b/c?x=1"),
        (b"/a/b/c?x=1", 0, 1, False, b"/a"),
        (b"/a/b/c?x=1", 0, 2, False, b"/a/b"),
        (b"/a/b/c?x=1", 0, 5, False, b"/a/b/c"),
        (b"/a/b/c?x=/y/z", 0, 3, True, b"/a/b/c?x="),
        (b"/a/b/c?x=1", 4, 0, False, b"/a/b"),
        (b"/ab?c", 3, 0, True, b"/ab"),
        (b"", 0, 0, False, b""),
    ],
)
def test_uri_key(uri: bytes, length: int, depth: int, whole: bool, key: bytes) -> None:
    assert uri_key(uri, length, depth, whole) == key


@pytest.mark.parametrize(
    ("target", "path"),
    [
        ("/a?b", "/a?b"),
        ("http://h.example/x/y?q", "/x/y?q"),
        ("https://h.example", ""),
        ("*", ""),
        ("h.example:443", ""),
    ],
)
def test_path_only(target: str, path: str) -> None:
    assert path_of(target) == path


@pytest.mark.parametrize(
    ("uri", "value"),
    [
        (b"/p?uid=42", b"42"),
        (b"/p?a=1&uid=42&b=2", b"42"),
        (b"/p?uid=", b""),
        (b"/p?uid", None),
        (b"/p?xuid=1&uid=2", b"2"),
        (b"/p?uidx=1", None),
        (b"/p", None),
        (b"/p?a=1&b=2", None),
        (b"/p?uid=1&uid=2", b"1"),
    ],
)
def test_url_param_value(uri: bytes, value: bytes | None) -> None:
    assert param_value(uri, b"uid") == value


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("  alice  ", "alice"),
        ("alice, bob", "alice"),
        ('"a,b", c', '"a,b"'),
        ('"a\\",b", c', '"a\\",b"'),
        (", bob", ""),
        ("", ""),
    ],
)
def test_header_first_value(raw: str, value: str) -> None:
    assert first_header_value(raw) == value


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        (b"www.example.com", b"example"),
        (b"example.com", b"example"),
        (b"a.b.c.example.org", b"example"),
        (b"localhost", b"localhost"),
    ],
)
def test_use_domain_only(host: bytes, domain: bytes) -> None:
    assert domain_only(host) == domain


def test_source_hash_ipv4_is_the_address_and_ipv6_xors_words() -> None:
    assert address_hash("10.0.0.1") == 0x0A000001
    assert address_hash("2001:db8::1") == 0x20010DB8 ^ 0 ^ 0 ^ 1
    assert address_hash("[::1]") == 1
    assert address_hash("/run/unix.sock") is None


def _servers(count: int) -> list[bk.Server]:
    return [bk.Server(f"s{i}", f"127.0.0.1:{5000 + i}") for i in range(1, count + 1)]


def test_uri_map_based_reference_table() -> None:
    be = bk.Backend("be", _servers(4), balance="uri")
    picks = [be.pick(bk.Request(uri=u)).name for u in ("/url1", "/url2", "/url3", "/url4")]
    assert picks == ["s2", "s3", "s4", "s1"]
    assert be.pick(bk.Request(path="/url1", query="x")).name == "s2"


@pytest.mark.parametrize("hash_type", ["map-based", "consistent", "maglev"])
@pytest.mark.parametrize(
    ("balance", "request_without_key"),
    [
        ("url_param uid", bk.Request(path="/p")),
        ("hdr(x-user)", bk.Request(path="/p")),
        ("hdr(x-user)", bk.Request(path="/p", headers={"x-user": ""})),
        ("source", bk.Request(src="")),
        ("source", bk.Request(src="unix@/tmp/sock")),
    ],
)
def test_missing_key_falls_back_to_round_robin(
    hash_type: str, balance: str, request_without_key: bk.Request
) -> None:
    be = bk.Backend("be", _servers(3), balance=balance, hash_type=hash_type)
    names = {be.pick(request_without_key).name for _ in range(60)}
    assert names == {"s1", "s2", "s3"}


@pytest.mark.parametrize("hash_type", ["map-based", "consistent", "maglev"])
def test_a_key_always_reaches_the_same_server(hash_type: str) -> None:
    be = bk.Backend("be", _servers(5), balance="hdr(x-user)", hash_type=hash_type)
    for user in range(50):
        request = bk.Request(headers={"X-User": f"u{user}"})
        assert len({be.pick(request).name for _ in range(3)}) == 1


def test_only_one_usable_server_skips_hashing() -> None:
    be = bk.Backend("be", _servers(3), balance="uri", hash_type="consistent")
    be.set_state("s1", "maint")
    be.set_state("s3", "maint")
    assert {be.pick(bk.Request(uri=f"/{i}")).name for i in range(20)} == {"s2"}


@pytest.mark.parametrize("balance", ["uri", "url_param uid", "hdr(x-user)"])
def test_layer7_hashes_round_robin_in_tcp_mode(balance: str) -> None:
    """In `mode tcp` HAProxy has no HTTP message: uri/url_param/hdr fall back."""
    be = bk.Backend("be", _servers(3), balance=balance, hash_type="consistent", mode="tcp")
    request = bk.Request(uri="/same?uid=1", headers={"x-user": "u"})
    assert {be.pick(request).name for _ in range(30)} == {"s1", "s2", "s3"}


def test_source_hashes_in_tcp_mode() -> None:
    be = bk.Backend("be", _servers(3), balance="source", mode="tcp")
    assert len({be.pick(bk.Request(src="10.1.2.3")).name for _ in range(30)}) == 1


def test_wire_bytes_decoded_as_latin1_hash_as_sent() -> None:
    """Front ends decode the request line as latin-1; the hash must see the raw bytes."""
    from balancekit.hashing import sdbm

    be = bk.Backend("be", _servers(4), balance="uri")
    raw = b"/caf\xe9"
    expected = be.members[sdbm(raw) % 4].name
    assert be.pick(bk.Request(uri=raw.decode("latin-1"))).name == expected
