"""The secondary key of `process-vary on` (cache_vary), case by case as cache.c decides."""

from __future__ import annotations

from balancekit.cache_vary import (
    ACCEPT_ENCODING,
    ALL_NAMES,
    REFERER,
    answer_encoding,
    matches,
    reduce_key,
    request_key,
    vary_signature,
)
from balancekit.request import Headers

GZIP, BR, IDENTITY, OTHER = 1, 4, 1 << 8, 1 << 10


def key(*pairs: tuple[str, str], signature: int = ALL_NAMES) -> tuple[int, int] | None:
    return request_key(Headers(pairs), signature)


def test_no_accept_encoding_accepts_everything() -> None:
    assert key() == (0xFFFFFFFF, 0)


def test_listed_encodings_and_identity() -> None:
    assert key(("Accept-Encoding", "gzip, br")) == (GZIP | BR | IDENTITY, 0)
    # A null weight refuses; `*` accepts all the others; case does not matter.
    assert key(("Accept-Encoding", "GZip;q=0, br")) == (BR | IDENTITY, 0)
    assert key(("Accept-Encoding", "*, gzip; q=0")) == (0xFFFFFFFF & ~GZIP, 0)


def test_unknown_and_malformed_encodings() -> None:
    assert key(("Accept-Encoding", "snappy")) == (IDENTITY | OTHER, 0)
    assert key(("Accept-Encoding", "gzipx")) == (IDENTITY | OTHER, 0)  # known prefix, then junk
    assert key(("Accept-Encoding", "gz")) == (IDENTITY, 0)  # counts for nothing


def test_sixteen_encodings_give_no_key() -> None:
    assert key(("Accept-Encoding", ",".join(["gzip"] * 15))) is not None
    assert key(("Accept-Encoding", ",".join(["gzip"] * 16))) is None


def test_referer_part_only_when_asked() -> None:
    with_referer = key(("Referer", "http://a.test/"), signature=REFERER)
    assert with_referer is not None and with_referer[0] == 0 and with_referer[1] != 0
    assert key(("Referer", "http://a.test/"), signature=ACCEPT_ENCODING) == (0xFFFFFFFF, 0)


def test_vary_signature() -> None:
    assert vary_signature(Headers([("Vary", "Accept-Encoding, referer")])) == ALL_NAMES
    assert vary_signature(Headers()) == 0
    assert vary_signature(Headers([("Vary", "*")])) is None
    assert vary_signature(Headers([("Vary", "accept-encoding,user-agent")])) is None


def test_answer_encoding() -> None:
    assert answer_encoding(Headers()) == IDENTITY
    assert answer_encoding(Headers([("Content-Encoding", "gzip")])) == GZIP
    assert answer_encoding(Headers([("Content-Encoding", "GZIP")])) is None


def test_matches_and_reduce() -> None:
    stored = (GZIP, 7)
    assert matches(stored, (GZIP | BR | IDENTITY, 7))
    assert not matches(stored, (BR | IDENTITY, 7))
    assert not matches(stored, (GZIP, 8))
    assert not matches((GZIP | OTHER, 0), (0xFFFFFFFF, 0))
    assert reduce_key((GZIP, 7), REFERER) == (0, 7)
