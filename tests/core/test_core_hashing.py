"""Hash functions against outputs of HAProxy 2.6.12's own src/hash.c (compiled),
recorded in tests/golden/hash_vectors.json, plus the extensions."""

from __future__ import annotations

import json
from pathlib import Path

import mmh3
import pytest

from balancekit import Backend, Server
from balancekit.hashing import (
    HashCache,
    djb2,
    full_hash,
    hash_function,
    hash_none,
    murmur3,
    sdbm,
    wt6,
    xxh64,
)
from balancekit.hashing import crc32 as crc32_hash
from balancekit.persistence import DynamicCookies, dynamic_cookie

VECTORS = json.loads((Path(__file__).parent.parent / "golden" / "hash_vectors.json").read_text())
FUNCTIONS = {"sdbm": sdbm, "djb2": djb2, "wt6": wt6, "crc32": crc32_hash}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_string_hashes_match_haproxy(name: str) -> None:
    function = FUNCTIONS[name]
    for vector in VECTORS["strings"]:
        data = bytes.fromhex(vector["hex"])
        assert function(data) == vector[name], (name, data)


def test_full_hash_matches_haproxy() -> None:
    for value, expected in VECTORS["full_hash"]:
        assert full_hash(value) == expected, value


def test_long_keys_grow_the_power_tables() -> None:
    data = bytes(range(256)) * 20
    expected = 0
    for byte in data:
        expected = (byte + (expected << 6) + (expected << 16) - expected) & 0xFFFFFFFF
    assert sdbm(data) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"42", 42),
        (b"+7", 7),
        (b"-1", 0xFFFFFFFF),
        (b"123abc", 123),
        (b"abc", 0),
        (b"", 0),
        (b"4294967297", 1),
        (b"99999999999999999999999", (2**63 - 1) & 0xFFFFFFFF),
        (b"-99999999999999999999999", (-(2**63)) & 0xFFFFFFFF),
    ],
)
def test_none_reads_the_key_as_a_decimal_integer(text: bytes, expected: int) -> None:
    assert hash_none(text) == expected


def test_murmur3_is_mmh3_unsigned_seed_0() -> None:
    assert murmur3(b"hello") == mmh3.hash(b"hello", 0, signed=False)


def test_avalanche_composes_full_hash() -> None:
    assert hash_function("djb2", avalanche=True)(b"x") == full_hash(djb2(b"x"))
    assert hash_function("djb2")(b"x") == djb2(b"x")


def test_unknown_function_is_named() -> None:
    with pytest.raises(ValueError, match="'md5'"):
        hash_function("md5")


def test_cache_is_bounded_and_evicts_oldest_first() -> None:
    cache = HashCache(size=3)
    for index, key in enumerate("abcd"):
        cache.put(key, index)
    assert len(cache) == 3
    assert "a" not in cache.data
    assert cache.data["d"] == 3
    assert repr(cache) == "<HashCache 3/3>"


@pytest.mark.parametrize(
    ("data", "seed", "expected"),
    [
        # The first three are the xxHash reference vectors; all four are what HAProxy
        # 2.6 answers for `%[str(<data>),xxh64(<seed>),hex]`, and cover each tail
        # length and the 32-byte stripes.
        (b"", 0, 0xEF46DB3751D8E999),
        (b"a", 0, 0xD24EC4F1A98C6E5B),
        (b"abc", 0, 0x44BC2CF5AD770999),
        (b"abcdefghijklmno", 7, 0x9B132E3FC9DE9A02),
        (b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ", 0, 0x4EFDB622D9F95091),
    ],
)
def test_xxh64_matches_haproxy(data: bytes, seed: int, expected: int) -> None:
    assert xxh64(data, seed) == expected


def test_dynamic_cookie_hashes_key_address_and_port() -> None:
    value = dynamic_cookie("k", "127.0.0.1", 8080)
    assert value == f"{xxh64(b'k' + bytes([127, 0, 0, 1]) + (8080).to_bytes(4, 'big')):016x}"
    assert len(dynamic_cookie("k", "::1", None) or "") == 16  # 16 address bytes, port 0
    assert dynamic_cookie("k", "app.internal", 80) is None  # a name: not resolved here


def test_dynamic_cookies_hash_the_address_a_host_name_resolved_to() -> None:
    backend = Backend("be", [Server("a", "app.internal:80"), Server("b", "10.0.0.2:80")])
    cookies = DynamicCookies("k", enabled=True)
    cookies.refresh(backend)
    assert backend.member("a").server.cookie is None  # nobody resolved the name yet
    cookies.addresses["app.internal"] = "10.0.0.1"
    cookies.refresh(backend)
    assert backend.member("a").server.cookie == dynamic_cookie("k", "10.0.0.1", 80)
    assert backend.member("b").server.cookie == dynamic_cookie("k", "10.0.0.2", 80)
