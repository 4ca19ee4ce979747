"""Cookie persistence in the HTTP engine: `balancekit.persistence` applied to the
raw headers of one exchange.

The library decides from header values and server states; this module finds
those values in the request and response heads, puts the edited ones back in
place, and remembers between request and response what the request side found
(the answer's `Set-Cookie` depends on it).
"""

from __future__ import annotations

import time
from typing import Any

from balancekit.persistence import (
    CookiePolicy,
    CookieServer,
    RequestCookies,
    read_request_cookies,
    response_cacheable,
    rewrite_response_cookies,
)
from balancekit.pool import Backend

RawHeaders = list[tuple[bytes, bytes]]

__all__ = ["CookieJob"]


class CookieJob:
    """One request's persistence: what its `Cookie` headers chose, then the
    response's `Set-Cookie` edits.  `flags` is `%tsc`'s cookie half."""

    __slots__ = (
        "_left",
        "_response_flag",
        "assigned",
        "backend",
        "entry",
        "forced",
        "found",
        "ignore",
        "persist",
        "policy",
        "served_by",
    )

    def __init__(
        self,
        policy: CookiePolicy,
        backend: Backend,
        persist: bool,
        entry: Any = None,
        rule: str | None = None,
        assigned: bool = False,
    ) -> None:
        self.policy = policy
        self.backend = backend
        # A matching `force-persist` (HAProxy's SF_FORCE_PRST): a down server still
        # serves, and the stream is never redispatched.
        self.forced = rule == "force"
        # ... and `option persist` alike for the down server.
        self.persist = persist or self.forced
        # A matching `ignore-persist`: the cookie is read, not followed, not set.
        self.ignore = rule == "ignore"
        # A `use-server` rule chose the server first (HAProxy's SF_ASSIGNED).
        self.assigned = assigned
        self.found = RequestCookies(assigned=assigned)
        self._response_flag = "N"
        #: The log entry whose `cookies` field follows `flags`.
        self.entry = entry
        #: The server the request was sent to (the answer's cookie names it).
        self.served_by: str | None = None
        self._left: str | None = None  # the cookie's server, once redispatched away
        self._log()

    @property
    def server(self) -> str | None:
        """The server the cookie sends this request to (None: balance as usual)."""
        return self.found.server

    @property
    def flags(self) -> str:
        return self.found.flag + self._response_flag

    def _log(self) -> None:
        if self.entry is not None and self.policy.logged:
            self.entry.cookies = self.flags

    def read_request(self, headers: RawHeaders) -> RawHeaders:
        """Choose the server from the `Cookie` headers; returns the headers to forward."""
        values = [v for n, v in headers if _is(n, b"cookie")]
        if not values:
            return headers
        self.found = read_request_cookies(
            self.policy,
            values,
            self._servers(),
            int(time.time()),
            persist=self.persist,
            ignore=self.ignore or self.assigned,
        )
        self.found.assigned = self.assigned
        self._log()
        return _replace(headers, b"cookie", values, self.found.headers)

    def directed(self) -> None:
        """A `stick match` sent the request to its server after the cookie was read
        (HAProxy's SF_DIRECT): the answer sets no new cookie for it."""
        self.found.assigned = True

    def redispatched(self) -> None:
        """The stream leaves the cookie's server: the answer must set a new cookie."""
        if self.found.server is not None:
            self._left, self.found.server = self.found.server, None

    def sent_to(self, server: str) -> None:
        """The request goes to `server`.  A valid cookie whose server was left for
        another one is logged as a cookie for a down server (HAProxy's
        `assign_server_and_queue`)."""
        self.served_by = server
        if self._left is not None and self._left != server and self.found.flag == "V":
            self.found.flag = "D"
            self._log()

    def apply_response(self, headers: RawHeaders, status: int, method: bytes) -> RawHeaders:
        """The response head's `Set-Cookie` edits and additions (HAProxy's order:
        the server's cookies first, the inserted one and `Cache-control` last)."""
        if status < 200 and status != 101:
            return headers
        values = [v for n, v in headers if _is(n, b"set-cookie")]
        server = self.served_by
        member = self.backend.member(server) if server is not None else None
        target = (
            CookieServer(member.name, member.server.cookie, True) if member is not None else None
        )
        verdict = rewrite_response_cookies(
            self.policy,
            values,
            server=target,
            request=self.found,
            method=method,
            cacheable=response_cacheable(method, status, headers),
            now=int(time.time()),
            ignore=self.ignore,
        )
        self._response_flag = verdict.flag
        self._log()
        headers = _replace(headers, b"set-cookie", values, verdict.headers)
        if verdict.added:
            headers = [*headers, *verdict.added]
        return headers

    def _servers(self) -> list[CookieServer]:
        return [
            CookieServer(m.name, m.server.cookie, m.up and m.admin != "maint")
            for m in self.backend.members
        ]


def _is(name: bytes, wanted: bytes) -> bool:
    return len(name) == len(wanted) and name.lower() == wanted


def _replace(
    headers: RawHeaders, wanted: bytes, values: list[bytes], edited: list[bytes | None]
) -> RawHeaders:
    """`headers` with the `wanted` headers' values (`values`, in order) replaced by
    `edited` (None: removed); the same list when nothing changed."""
    if edited == values:
        return headers
    out: RawHeaders = []
    position = 0
    for name, value in headers:
        if _is(name, wanted):
            new = edited[position]
            position += 1
            if new is not None:
                out.append((name, new))
        else:
            out.append((name, value))
    return out
