"""Reading a request body for the rules (`wait-for-body`, `option http-buffer-request`).

HAProxy's rules read the body from the request buffer (http_wait_for_msg_body):
they wait until the whole body is there, `at-least` bytes are, or the buffer is
full, and answer 408 when the time runs out first.  What is read here is kept on
the exchange (`Exchange.early_body`) and forwarded first, so the server still gets
the whole body; `next_body` is the one way the proxy reads a body, early or not.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from balancekit.request import RequestBody
from balancekit.routing import EarlyHint
from balancekit_server.http.upstream import htx_header_size

if TYPE_CHECKING:
    from balancekit_server.http.proxy import Exchange

__all__ = ["body_room", "early_hints_bytes", "next_body", "read_for_rules"]

#: What HAProxy's HTX buffer spends on a request head besides its text: the
#: buffer's own header, the start line's block, the end of headers, counted with a
#: three-letter method (the same figure the front door checks heads against).
_HTX_REQUEST_HEAD = 85 + 3 + 8
#: The block the body's data takes in the buffer, and what a chunked body costs
#: more (measured against HAProxy 2.6: 15213 bytes of a 70000-byte body fit behind
#: `POST /x HTTP/1.1`, `Host: x`, `Content-Length: 70000`; 15200 when chunked).
_HTX_DATA_BLOCK = 8
_HTX_CHUNKED = 8


def body_room(ex: Exchange, head_room: int) -> int:
    """How much of the body HAProxy's buffer holds for the rules: the room a head
    may take (tune.bufsize less tune.maxrewrite) less what this head takes."""
    head = _HTX_REQUEST_HEAD + len(ex.target) + max(0, len(ex.method) - 3)
    head += sum(htx_header_size(name, value) for name, value in ex.headers)
    room = head_room - head - _HTX_DATA_BLOCK - (_HTX_CHUNKED if ex.chunked else 0)
    return max(0, room)


async def next_body(ex: Exchange) -> bytes:
    """The next piece of the request body: what the rules read first, then the rest."""
    early = ex.early_body
    if early:
        return early.pop(0)
    return await ex.read_body()


async def read_for_rules(ex: Exchange, wait: float, at_least: int, room: int) -> RequestBody:
    """Read the body until it is whole, `at_least` bytes are in (0: no such
    limit) or `room` is filled, for at most `wait` seconds (TimeoutError then);
    what was read stays on `ex` for the server.  A second wait goes on from the
    first's bytes."""
    chunks = ex.early_body
    if chunks is None:
        chunks = ex.early_body = []
    got = sum(map(len, chunks))
    complete = False
    async with asyncio.timeout(wait):
        while not (at_least and got >= at_least) and got < room:
            data = await ex.read_body()
            if not data:
                complete = True
                break
            chunks.append(data)
            got += len(data)
    data = b"".join(chunks)[:room]
    if complete:
        size = got
    elif ex.content_length is not None:
        size = ex.content_length
    else:
        size = got  # (a chunked body: where its current chunk ends is not known here)
    return RequestBody(data, size, partial=not complete and got < room)


def early_hints_bytes(
    hints: tuple[EarlyHint, ...],
) -> list[tuple[int, bytes, list[tuple[bytes, bytes]]]]:
    """The `103 Early Hints` responses as (status, reason, headers) for
    `Exchange.send_interim`; HAProxy writes the header names in lower case."""
    return [
        (
            103,
            b"Early Hints",
            [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in hint],
        )
        for hint in hints
    ]
