"""`userlist` sections and HTTP Basic credentials, as HAProxy 2.6 checks them.

HAProxy keeps a userlist's passwords as crypt(3) hashes (or, with
`insecure-password`, in clear) and asks the system's crypt(3) whether a
presented password hashes to the stored value (auth.c's check_user).  Asking
the same libcrypt is what makes every hash HAProxy accepts work here too
(sha512-crypt, sha256-crypt, md5-crypt, yescrypt, bcrypt, DES), with no
hand-rolled hashing; libcrypt is loaded through ctypes, so the library keeps
no dependency.

Sans-IO: the engines hand in the `Authorization` header value; this module
says who that is and whether the password is right.
"""

from __future__ import annotations

import base64
import binascii
import ctypes
import ctypes.util
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

__all__ = [
    "BasicCredentials",
    "CryptUnavailable",
    "User",
    "Userlist",
    "build_userlist",
    "crypt",
    "crypt_matches",
    "read_authorization",
]


class CryptUnavailable(RuntimeError):
    """This system has no crypt(3); hashed passwords cannot be checked."""


@dataclass(frozen=True, slots=True)
class User:
    """A `user` line: its password (a crypt(3) hash unless `insecure`) and groups."""

    name: str
    password: str
    insecure: bool = False
    groups: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Userlist:
    """A `userlist` section: users by name, and the group names it declares."""

    name: str
    users: Mapping[str, User] = field(default_factory=dict)
    groups: frozenset[str] = frozenset()

    def check(self, user: str, password: str) -> bool:
        """Is `password` right for `user`?  Unknown users never are (check_user)."""
        found = self.users.get(user)
        if found is None:
            return False
        if found.insecure:
            return password == found.password
        return crypt_matches(password, found.password)

    def groups_of(self, user: str) -> frozenset[str]:
        found = self.users.get(user)
        return found.groups if found is not None else frozenset()


@dataclass(frozen=True, slots=True)
class BasicCredentials:
    """What an `Authorization` header carries: its scheme, and user and password for
    Basic.  `scheme` is "Basic" or "Bearer" (HAProxy's names, whatever the case sent);
    `token` is the text after the scheme."""

    scheme: str
    token: str
    user: str = ""
    password: str = ""


def read_authorization(value: str | None) -> BasicCredentials | None:
    """Parse the first `Authorization` value as HAProxy's get_http_auth does.

    None means "no usable credentials": no header, no space after the scheme, a
    scheme other than Basic or Bearer, Basic that is not strict base64 (its length
    a multiple of 4, padding only at the end) or lacks the `:` between user and
    password.
    """
    if value is None:
        return None
    # HAProxy reads the header's first comma-separated value.
    value = value.split(",", 1)[0].strip(" \t")
    space = value.find(" ")
    if space <= 0:
        return None
    scheme = value[:space].lower()
    token = value[space:].lstrip(" ")
    if scheme == "bearer":
        return BasicCredentials("Bearer", token)
    if scheme != "basic":
        return None
    if len(token) % 4:
        return None
    try:
        decoded = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        return None
    # C strings: the user ends at the first `:`, the password at the first NUL.
    text = decoded.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
    user, colon, password = text.partition(":")
    if not colon:
        return None
    return BasicCredentials("Basic", token, user, password)


# --------------------------------------------------------------------------- crypt(3)

_lock = threading.Lock()
_CryptFn = Callable[[bytes, bytes], bytes | None]
_crypt_fn: _CryptFn | None = None
_CACHE_SIZE = 256
#: (hash, digest of the password) -> verdict.  A hashed check costs milliseconds
#: (sha512-crypt runs 5000 rounds) on the event loop; clients resend the same
#: credentials with every request.  Keyed by a digest so no password stays in memory.
_verdicts: OrderedDict[tuple[str, bytes], bool] = OrderedDict()


def _crypt() -> _CryptFn:
    global _crypt_fn
    if _crypt_fn is None:
        name = ctypes.util.find_library("crypt")
        if name is None:
            raise CryptUnavailable(
                "this system has no crypt(3) library (libcrypt); use 'insecure-password'"
            )
        function = ctypes.CDLL(name).crypt
        function.restype = ctypes.c_char_p
        function.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
        _crypt_fn = cast(_CryptFn, function)
    return _crypt_fn


def crypt(password: str, setting: str) -> str | None:
    """crypt(3) of `password` with `setting` (a hash or salt), None when it fails."""
    function = _crypt()
    with _lock:  # crypt() keeps its result in static storage
        result = function(
            password.encode("utf-8", "surrogateescape"), setting.encode("utf-8", "surrogateescape")
        )
    if result is None:
        return None
    text = bytes(result).decode("utf-8", "surrogateescape")
    # libxcrypt reports a bad setting with a "*0"/"*1" token, never equal to a hash.
    return None if text.startswith("*") else text


def crypt_matches(password: str, hashed: str) -> bool:
    """Does `password` hash to `hashed`?  crypt(3) with the hash as its setting."""
    key = (hashed, hashlib.sha256(password.encode("utf-8", "surrogateescape")).digest())
    verdict = _verdicts.get(key)
    if verdict is None:
        try:
            verdict = crypt(password, hashed) == hashed
        except CryptUnavailable:
            return False  # as HAProxy built without crypt(3): hashed passwords never match
        _verdicts[key] = verdict
        if len(_verdicts) > _CACHE_SIZE:
            _verdicts.popitem(last=False)
    return verdict


def build_userlist(
    name: str,
    users: Sequence[tuple[str, str, bool, tuple[str, ...]]],
    groups: Sequence[tuple[str, tuple[str, ...]]],
) -> Userlist:
    """A userlist from its `user` (name, password, insecure, groups) and `group`
    (name, users) lines, membership declared on either side (userlist_postinit).

    Raises ValueError with HAProxy's message for a group or user that is not declared.
    """
    group_names = [g for g, _ in groups]
    declared = set(group_names)
    members: dict[str, set[str]] = {}
    user_names = {u for u, _, _, _ in users}
    for user, _, _, wanted in users:
        for group in wanted:
            if group not in declared:
                raise ValueError(
                    f"userlist '{name}': no such group '{group}' specified in user '{user}'"
                )
            members.setdefault(user, set()).add(group)
    for group, listed in groups:
        for user in listed:
            if user not in user_names:
                raise ValueError(
                    f"userlist '{name}': no such user '{user}' specified in group '{group}'"
                )
            members.setdefault(user, set()).add(group)
    return Userlist(
        name,
        {
            user: User(user, password, insecure, frozenset(members.get(user, ())))
            for user, password, insecure, _ in users
        },
        frozenset(group_names),
    )
