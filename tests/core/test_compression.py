"""`balancekit.compression`: HAProxy's choices on the request and the answer, and the
encoder's streams.  The same behaviour side by side with HAProxy 2.6 is in the
conformance rows `compression`, `compression-response` and `compression-backend`;
these pin the corners the echo backends cannot reach."""

from __future__ import annotations

import zlib

import pytest

from balancekit.compression import (
    Compression,
    Encoder,
    compressed_headers,
    compressible,
    negotiate,
)

GZIP_FIRST = Compression(algos=("gzip", "deflate"))


def _ae(value: str, agent: str | None = None) -> list[tuple[bytes, bytes]]:
    headers = [(b"Accept-Encoding", value.encode())]
    if agent is not None:
        headers.append((b"User-Agent", agent.encode()))
    return headers


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("gzip", "gzip"),
        ("GZIP", "gzip"),
        ("deflate, gzip", "deflate"),  # equal weights: the client's first
        ("gzip;q=0.1, deflate;q=0.9", "deflate"),
        ("gzip; q=0", None),
        ("*", "gzip"),  # HAProxy's first: the last configured
        ("br, compress", None),
    ],
)
def test_the_client_chooses_by_weight_then_order(accept: str, chosen: str | None) -> None:
    assert negotiate(None, GZIP_FIRST, _ae(accept))[0] == chosen


@pytest.mark.parametrize(
    ("agent", "compressed"),
    [
        ("Mozilla/4.0 (compatible; MSIE 5.5; Windows 98)", False),
        ("Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)", False),
        ("Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)", True),
        ("Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)", True),
        ("Mozilla/5.0 (X11; Linux x86_64)", True),
    ],
)
def test_old_mozilla_agents_get_nothing(agent: str, compressed: bool) -> None:
    assert (negotiate(None, GZIP_FIRST, _ae("gzip", agent))[0] == "gzip") is compressed


def test_the_backend_algorithms_win_and_identity_needs_no_header() -> None:
    backend = Compression(algos=("identity",))
    assert negotiate(backend, GZIP_FIRST, _ae("gzip"))[0] == "identity"
    assert negotiate(backend, GZIP_FIRST, [])[0] == "identity"
    assert negotiate(Compression(types=("text/",)), GZIP_FIRST, _ae("gzip"))[0] == "gzip"


def test_offload_strips_accept_encoding_only_when_the_client_chose() -> None:
    front = Compression(algos=("identity", "gzip"), offload=True)
    assert negotiate(None, front, _ae("gzip"))[1] == []
    assert negotiate(None, front, _ae("br"))[1] == _ae("br")  # identity chosen: kept
    assert negotiate(None, GZIP_FIRST, _ae("gzip"))[1] == _ae("gzip")


def _compressible(headers: list[tuple[bytes, bytes]], **kw: object) -> bool:
    args: dict[str, object] = {
        "method": b"GET",
        "request_version": b"1.1",
        "response_version": b"1.1",
        "status": 200,
        "headers": headers,
        "sized": True,
    }
    args.update(kw)
    return compressible(None, Compression(algos=("gzip",), types=("Text/",)), **args)  # type: ignore[arg-type]


def test_what_answers_are_compressed() -> None:
    html = [(b"Content-Type", b"text/html; charset=utf-8")]
    assert _compressible(html)
    assert not _compressible([(b"Content-Type", b"application/json")])  # not in the types
    assert not _compressible([])  # types set: a Content-Type is required
    assert not _compressible([(b"Content-Type", b"multipart/mixed")])
    assert not _compressible(html, status=204)
    assert not _compressible(html, sized=False)
    assert not _compressible(html, response_version=b"1.0")
    assert not _compressible([*html, (b"Cache-Control", b"max-age=3, No-Transform")])
    assert not _compressible([*html, (b"ETag", b'"a"'), (b"ETag", b'"b"')])


def test_the_head_loses_its_length_and_gains_vary_and_the_coding() -> None:
    head = [(b"Content-Length", b"10"), (b"ETag", b'"x"'), (b"X-A", b"1")]
    assert compressed_headers(head, "gzip") == [
        (b"ETag", b'W/"x"'),
        (b"X-A", b"1"),
        (b"vary", b"Accept-Encoding"),
        (b"content-encoding", b"gzip"),
    ]
    assert (b"content-encoding", b"identity") not in compressed_headers(head, "identity")


@pytest.mark.parametrize(
    ("algo", "wbits"),
    [("gzip", 31), ("deflate", 15), ("raw-deflate", -15), ("identity", None)],
)
def test_each_encoder_writes_its_format(algo: str, wbits: int | None) -> None:
    body = b"<p>hello</p>" * 500
    encoder = Encoder(algo, level=9)
    stream = b"".join(encoder.feed(body[i : i + 1000]) for i in range(0, len(body), 1000))
    stream += encoder.finish()
    assert (encoder.bytes_in, encoder.bytes_out) == (len(body), len(stream))
    assert (zlib.decompress(stream, wbits) if wbits is not None else stream) == body
