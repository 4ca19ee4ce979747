"""The answers the proxy writes itself: HAProxy's default error pages and `errorfile`.

Clients, monitoring and tests written against HAProxy look at these exact bytes
(status line, `Cache-Control: no-cache`, the short HTML body), so the defaults
reproduce what HAProxy 2.6 puts on the wire.  An `errorfile <code> <file>` holds a
complete raw HTTP response that replaces the default as it is, except that a page
without Content-Length ends with the connection, announced by `Connection: close`
as HAProxy does; an empty file (the classic `/dev/null` trick for 408) means "close
without answering".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_STATUSES", "ErrorPage", "ErrorPages", "load_errorfile", "reason_phrase"]

# status -> (reason phrase, sentence of the HTML body, whether HAProxy closes after it)
_DEFAULTS: dict[int, tuple[str, str, bool]] = {
    200: ("OK", "Service ready.", False),
    400: ("Bad request", "Your browser sent an invalid request.", True),
    401: ("Unauthorized", "You need a valid user and password to access this content.", False),
    403: ("Forbidden", "Request forbidden by administrative rules.", False),
    404: ("Not Found", "The resource could not be found.", False),
    405: (
        "Method Not Allowed",
        "A request was made of a resource using a request method not supported by that resource",
        False,
    ),
    408: ("Request Time-out", "Your browser didn't send a complete request in time.", True),
    410: (
        "Gone",
        "The resource is no longer available and will not be available again.",
        False,
    ),
    413: ("Payload Too Large", "The request entity exceeds the maximum allowed.", False),
    422: ("Unprocessable Content", "The server cannot process the contained instructions.", False),
    429: (
        "Too Many Requests",
        "You have sent too many requests in a given amount of time.",
        False,
    ),
    500: ("Internal Server Error", "An internal server error occurred.", False),
    502: ("Bad Gateway", "The server returned an invalid or incomplete response.", False),
    503: ("Service Unavailable", "No server is available to handle this request.", False),
    504: ("Gateway Time-out", "The server didn't respond in time.", False),
}

DEFAULT_STATUSES = tuple(sorted(_DEFAULTS))

_REASONS = {
    100: "Continue",
    101: "Switching Protocols",
    200: "OK",
    201: "Created",
    204: "No Content",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    304: "Not Modified",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    431: "Request Header Fields Too Large",
}


def reason_phrase(status: int) -> str:
    """The reason phrase HAProxy prints for `status` (its own wording for its error codes)."""
    if status in _DEFAULTS:
        return _DEFAULTS[status][0]
    return _REASONS.get(status, "Unknown")


@dataclass(frozen=True, slots=True)
class ErrorPage:
    """One complete response the proxy sends by itself.

    `raw` is what goes on an HTTP/1.1 wire; `status`, `headers` and `body` are the
    same response split up for ASGI servers, which serialize it themselves.  An
    empty `raw` means: send nothing, just close.  `logged`, when set, is the status
    the page stands for, which HAProxy logs and counts whatever the page's own
    status line says (an `errorloc 503 …` sends a 302 and logs 503).  `own_connection`:
    the page's file has a `Connection` line of its own, part of the message (%B counts
    it; the built-in pages have none, and HAProxy writes one on output).
    """

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    raw: bytes
    close: bool
    logged: int = 0
    own_connection: bool = False

    @classmethod
    def from_raw(cls, raw: bytes, *, source: str = "errorfile") -> ErrorPage:
        """Split a raw HTTP response (an errorfile's content) into its parts."""
        if not raw.strip():
            return cls(0, (), b"", b"", True)
        head, sep, body = raw.partition(b"\r\n\r\n")
        if not sep:
            head, sep, body = raw.partition(b"\n\n")
        lines = head.replace(b"\r\n", b"\n").split(b"\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            raise ValueError(f"{source}: does not start with an HTTP status line")
        status = int(parts[1])
        headers: list[tuple[bytes, bytes]] = []
        close = False
        framed = status in (204, 304)  # bodyless whatever their headers say
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon:
                raise ValueError(f"{source}: malformed header line {line!r}")
            name, value = name.strip(), value.strip()
            lower = name.lower()
            if lower == b"connection" and value.lower() == b"close":
                close = True
            elif lower in (b"content-length", b"transfer-encoding"):
                framed = True
            headers.append((name, value))
        own = any(n.lower() == b"connection" for n, _ in headers)
        if not framed:
            # Only the close can end a page without a length, so HAProxy 2.6 (its H1
            # mux) closes after it and, to an HTTP/1.1 page, replaces any Connection
            # header by `connection: close` at the end of the head.  Sent as it was,
            # a keep-alive client could not tell where the page ends.
            close = True
            if parts[0] != b"HTTP/1.0":
                headers = [(n, v) for n, v in headers if n.lower() != b"connection"]
                headers.append((b"Connection", b"close"))
                raw = (
                    b"\r\n".join([lines[0], *(n + b": " + v for n, v in headers)])
                    + b"\r\n\r\n"
                    + body
                )
        return cls(status, tuple(headers), body, raw, close, 0, own)

    def with_header(self, name: bytes, value: bytes) -> ErrorPage:
        """This page with `name` set to `value`: every occurrence removed, one added
        last (how `http-request auth` puts its challenge on the 401 page)."""
        if not self.raw:
            return self
        lower = name.lower()
        headers = (*((n, v) for n, v in self.headers if n.lower() != lower), (name, value))
        status_line = self.raw.split(b"\n", 1)[0].rstrip(b"\r")
        head = b"".join(n + b": " + v + b"\r\n" for n, v in headers)
        raw = status_line + b"\r\n" + head + b"\r\n" + self.body
        return ErrorPage(self.status, headers, self.body, raw, self.close)

    @property
    def reason(self) -> bytes:
        """The reason phrase of the page's status line."""
        parts = self.raw.split(b"\n", 1)[0].rstrip(b"\r").split(b" ", 2)
        return parts[2] if len(parts) > 2 else b""

    def rewritten(
        self, status: int, reason: bytes, headers: Iterable[tuple[bytes, bytes]]
    ) -> ErrorPage:
        """This page with another status line and head (`http-after-response`
        rules run on the proxy's own answers too); the body stays."""
        if not self.raw:
            return self
        version = self.raw.split(b" ", 1)[0]
        headers = tuple(headers)
        head = b"".join(n + b": " + v + b"\r\n" for n, v in headers)
        raw = b"%s %d %s\r\n%s\r\n%s" % (version, status, reason, head, self.body)
        return ErrorPage(status, headers, self.body, raw, self.close)

    @classmethod
    def default(cls, status: int) -> ErrorPage:
        """HAProxy's built-in page for `status` (500's page for codes it has none for)."""
        reason, sentence, close = _DEFAULTS.get(status, _DEFAULTS[500])
        if status not in _DEFAULTS:
            status = 500
        body = f"<html><body><h1>{status} {reason}</h1>\n{sentence}\n</body></html>\n".encode()
        headers: list[tuple[bytes, bytes]] = [
            (b"Content-length", str(len(body)).encode()),
            (b"Cache-Control", b"no-cache"),
        ]
        if close:
            headers.append((b"Connection", b"close"))
        headers.append((b"Content-Type", b"text/html"))
        head = f"HTTP/1.1 {status} {reason}\r\n".encode() + b"".join(
            name + b": " + value + b"\r\n" for name, value in headers
        )
        return cls(status, tuple(headers), body, head + b"\r\n" + body, close)


def load_errorfile(path: str | Path) -> ErrorPage:
    """Read one `errorfile`; a missing or malformed file is a clear `ValueError`."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"errorfile '{path}': {exc.strerror}") from None
    return ErrorPage.from_raw(raw, source=f"errorfile '{path}'")


class ErrorPages:
    """Default pages with a proxy's `errorfile` overrides on top (built once at load)."""

    __slots__ = ("_pages",)

    def __init__(self, overrides: Mapping[int, ErrorPage | bytes | str | Path] | None = None):
        self._pages: dict[int, ErrorPage] = {s: ErrorPage.default(s) for s in DEFAULT_STATUSES}
        for status, page in (overrides or {}).items():
            if isinstance(page, bytes):
                page = ErrorPage.from_raw(page)
            elif not isinstance(page, ErrorPage):
                page = load_errorfile(page)
            if page.raw and page.status != status:
                page = ErrorPage(
                    page.status,
                    page.headers,
                    page.body,
                    page.raw,
                    page.close,
                    status,
                    page.own_connection,
                )
            self._pages[status] = page

    def __getitem__(self, status: int) -> ErrorPage:
        page = self._pages.get(status)
        if page is None:
            page = self._pages[status] = ErrorPage.default(status)
        return page

    def __repr__(self) -> str:
        custom = sorted(s for s, p in self._pages.items() if p != ErrorPage.default(s))
        return f"<ErrorPages overrides={custom}>"
