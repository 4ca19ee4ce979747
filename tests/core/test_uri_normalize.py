"""`normalize-uri`'s normalizers on the inputs of HAProxy's reg-test
http-rules/normalize_uri.vtc (its expected outputs), and the edge cases around them."""

from __future__ import annotations

import pytest

from balancekit.uri_normalize import InvalidUri, normalize


@pytest.mark.parametrize(
    ("path", "dotdot", "full"),
    [
        ("/foo/bar", "/foo/bar", "/foo/bar"),
        ("/foo/..", "/", "/"),
        ("/foo/../", "/", "/"),
        ("/foo/bar/../", "/foo/", "/foo/"),
        ("/foo/../bar", "/bar", "/bar"),
        ("/foo/../../bar/", "/../bar/", "/bar/"),
        ("/foo//../../bar/", "/bar/", "/bar/"),
        ("/..", "/../", "/"),
    ],
)
def test_path_strip_dotdot(path: str, dotdot: str, full: str) -> None:
    assert normalize("path-strip-dotdot", path, None) == dotdot
    assert normalize("path-strip-dotdot full", path, None) == full


def test_path_normalizers_leave_the_query_alone() -> None:
    assert normalize("path-strip-dotdot", "/foo/../", "bar=/foo/../") == "/?bar=/foo/../"
    assert normalize("path-merge-slashes", "//a//b", "x=//") == "/a/b?x=//"
    assert normalize("path-strip-dot", "/a/./b/.", "x=./") == "/a/b/?x=./"


def test_query_sort_by_name_is_stable_and_bytewise() -> None:
    assert (
        normalize("query-sort-by-name", "/", "b=2&a=1&ab=3&a=0&=e&c") == "/?=e&a=1&a=0&ab=3&b=2&c"
    )
    assert normalize("query-sort-by-name", "/", None) == "/"


def test_percent_normalizers() -> None:
    assert normalize("percent-to-uppercase", "/a%2f", "x=%3d%zz") == "/a%2F?x=%3D%zz"
    assert normalize("percent-decode-unreserved", "/%41%2F%7e", "x=%61%3D") == "/A%2F~?x=a%3D"
    for name in ("percent-to-uppercase strict", "percent-decode-unreserved strict"):
        with pytest.raises(InvalidUri):
            normalize(name, "/a%zz", None)
        with pytest.raises(InvalidUri):
            normalize(name, "/a%4", None)


def test_fragments() -> None:
    assert normalize("fragment-strip", "/a#b", "c") == "/a"
    assert normalize("fragment-encode", "/a#b", "c#d") == "/a%23b?c%23d"
