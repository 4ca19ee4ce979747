"""The fast front door: an HTTP/1.1 server as a plain `asyncio.Protocol`.

An ASGI host adds a scope dict, two coroutines and a message per event to every
request; for a proxy whose work per request is small, that overhead is most of
the cost (docs/performance.md).  This protocol parses requests with httptools and
hands each one to the shared `HttpProxy` as an `Exchange` whose response methods
write straight to the transport — the same routing and upstream code the ASGI app
uses, minus the ASGI layer.

Client-side protections live here because they are about the client socket:
`timeout http-request` (slow headers cannot hold a connection), header size
limits, malformed and ambiguous framing (400, connection closed: no smuggling),
pipelined requests served strictly in order.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections import deque
from typing import Any, cast

import httptools

from balancekit import Request
from balancekit.request import ProxyTlvs, TlsFacts
from balancekit.tracking import StreamCounters
from balancekit_server.clock import now_ms
from balancekit_server.http.errors import ErrorPage
from balancekit_server.http.headers import RawHeaders
from balancekit_server.http.proxy import (
    HTX_EXTRA,
    Exchange,
    HttpLogEntry,
    HttpProxy,
    Relay,
    logged_head_size,
)
from balancekit_server.http.upstream import UpstreamConnection, htx_header_size
from balancekit_server.net import proxy_protocol
from balancekit_server.net.sockopts import peer_shut, set_keepalive, set_option
from balancekit_server.net.tls import sni_of, tls_facts
from balancekit_server.process.limits import stream_line

__all__ = ["HttpServerProtocol", "ProxiedHttpServerProtocol"]

_BODY_HIGH_WATER = 256 * 1024

_VERSION_BYTES = {"1.1": b"1.1", "1.0": b"1.0"}
_NO_BODY: deque[bytes] = deque(maxlen=0)  # shared by body-less requests; never appended to
# llhttp only knows registered upper-case methods; HAProxy forwards any token.
_LLHTTP_METHODS = frozenset(
    b"DELETE GET HEAD POST PUT CONNECT OPTIONS TRACE COPY LOCK MKCOL MOVE PROPFIND PROPPATCH "
    b"SEARCH UNLOCK BIND REBIND UNBIND ACL REPORT MKACTIVITY CHECKOUT MERGE M-SEARCH NOTIFY "
    b"SUBSCRIBE UNSUBSCRIBE PATCH PURGE MKCALENDAR LINK UNLINK SOURCE QUERY".split()
)
_COMMON_STARTS = frozenset((b"GET ", b"POST", b"HEAD", b"PUT ", b"DELE", b"OPTI", b"PATC"))
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_CRLF = b"\r\n"
_LINGER_RST = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends an RST
_STATUS_LINES: dict[tuple[int, bytes], bytes] = {}


def _status_line(status: int, reason: bytes) -> bytes:
    key = (status, reason)
    line = _STATUS_LINES.get(key)
    if line is None:
        line = b"HTTP/1.1 %d %s\r\n" % (status, reason)
        if len(_STATUS_LINES) < 512:
            _STATUS_LINES[key] = line
    return line


class _ServerExchange(Exchange):
    """One request on a `HttpServerProtocol` connection."""

    __slots__ = (
        "_body",
        "_body_done",
        "_body_error",
        "_body_size",
        "_body_waiter",
        "_chunk_out",
        "_lost_cb",
        "_out",
        "conn",
        "expect_continue",
        "headers",
        "tokens",
        "trailers",
    )

    def __init__(self, conn: HttpServerProtocol) -> None:
        self.conn = conn
        self.headers = []
        self.trailers: RawHeaders | None = None  # after a chunked body, once read
        self.expect_continue = False
        self._body: deque[bytes] = _NO_BODY
        self._body_size = 0
        self._body_done = False
        self._body_error = False
        self._body_waiter: asyncio.Future[None] | None = None
        self._chunk_out = False
        self._out: list[bytes] = []
        self._lost_cb: Any = None

    # -- request body ---------------------------------------------------------------

    def feed_body(self, data: bytes) -> None:
        if self._body is _NO_BODY:
            self._body = deque()
        self._body.append(data)
        self._body_size += len(data)
        self.bytes_in += len(data)
        if self._body_size > _BODY_HIGH_WATER:
            self.conn.pause_client_reading()
        self._wake()

    def body_failed(self) -> None:
        """The body cannot be parsed (a bad chunk size): reading it now fails, so
        the exchange stops and the server never sees the request end well."""
        self._body_error = True
        self._wake()

    def body_complete(self) -> None:
        self._body_done = True
        if self._body_waiter is not None:
            self._wake()

    def _wake(self) -> None:
        waiter = self._body_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def read_body(self) -> bytes:
        if self.expect_continue:
            # The client waits for permission before sending the body: HAProxy 2.x
            # answers 100-continue itself as soon as it wants the body.
            self.expect_continue = False
            self.conn.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        while not self._body:
            if self._body_error:
                raise ConnectionResetError("malformed request body")
            if self._body_done:
                return b""
            if self.conn.lost:
                raise ConnectionResetError("client went away")
            self.conn.resume_client_reading()
            self._body_waiter = self.conn.loop.create_future()
            timeout = self.conn.proxy_timeout_client
            try:
                async with asyncio.timeout(timeout):
                    await self._body_waiter
            except TimeoutError:
                raise ConnectionResetError("timeout client while reading the body") from None
            finally:
                self._body_waiter = None
        data = self._body.popleft()
        self._body_size -= len(data)
        if self._body_size <= _BODY_HIGH_WATER:
            self.conn.resume_client_reading()
        return data

    @property
    def body_finished(self) -> bool:
        return self._body_done or not self.has_body

    def arrived_body(self, limit: int) -> tuple[bytes, bool]:
        held: list[bytes] = []
        size = 0
        for piece in self._body:  # (no more than the rules may see is copied)
            if size >= limit:
                return b"".join(held), False
            held.append(piece)
            size += len(piece)
        return b"".join(held), self.body_finished

    def request_trailers(self) -> RawHeaders:
        return self.trailers or []

    # -- response ---------------------------------------------------------------------

    def send_page(self, page: ErrorPage) -> None:
        if not page.raw:
            self.keep_alive = False
            return
        if not self.keep_alive and not page.close:
            head, sep, body = page.raw.partition(b"\r\n\r\n")
            raw = head + b"\r\nConnection: close" + sep + body
        else:
            raw = page.raw
        own = page.own_connection  # (a Connection line of ours never counts)
        size = logged_head_size(page.raw if own else raw, with_connection=own)
        self.bytes_out += size + len(page.body)
        self.conn.write(raw)

    def send_interim(self, status: int, reason: bytes, headers: RawHeaders) -> None:
        if status == 100:
            if not self.expect_continue:
                return  # already said, or never asked
            self.expect_continue = False
        parts = [_status_line(status, reason)]
        for name, value in headers:
            parts += (name, b": ", value, _CRLF)
        parts.append(_CRLF)
        self._out.append(b"".join(parts))
        self.flush()

    def begin_response(
        self,
        status: int,
        reason: bytes,
        headers: RawHeaders,
        length: int | None,
        body: bool,
        *,
        until_close: bool = False,
        framed: bool = False,
        response_version: bytes = b"1.1",
    ) -> None:
        if response_version == b"1.0":  # HAProxy relays an HTTP/1.0 server's version
            parts = [b"HTTP/1.0 %d %s\r\n" % (status, reason)]
        else:
            parts = [_STATUS_LINES.get((status, reason)) or _status_line(status, reason)]
        for name, value in headers:
            parts += (name, b": ", value, _CRLF)
        extra = b""  # framing/connection lines this hop adds
        lines = len(headers)
        if status == 101:
            pass
        elif framed:
            self._chunk_out = True  # (compression: an HTTP/1.1 exchange, chunked)
        elif body and length is None:
            if self.version == b"1.1" and not until_close:
                self._chunk_out = True
                extra = b"transfer-encoding: chunked\r\n"
                lines += 1
            else:
                self.keep_alive = (
                    False  # ends with the close: HTTP/1.0 client, or as the server did
                )
        elif body and length is not None:
            extra = b"content-length: %d\r\n" % length
            lines += 1
        # HAProxy's H1 mux adds this line on output (%B never counts it): `close` to
        # end an HTTP/1.1 answer, `keep-alive` to keep a connection where the answer or
        # the request is HTTP/1.0 (h1_update_res_conn_value).
        connection = b""
        if status != 101:
            if not self.keep_alive:
                if response_version != b"1.0":
                    connection = b"connection: close\r\n"
            elif self.version == b"1.0" or response_version == b"1.0":
                connection = b"connection: keep-alive\r\n"
        parts += (extra, connection, _CRLF)
        head = b"".join(parts)
        # %B as HAProxy counts it (see logged_head_size): its message size, not the wire's
        self.bytes_out += len(head) - len(connection) - 4 * lines + HTX_EXTRA
        self._out.append(head)

    def write_body(self, data: bytes) -> None:
        self.bytes_out += len(data)
        if self._chunk_out:
            self._out.append(b"%x\r\n%b\r\n" % (len(data), data))
        else:
            self._out.append(data)

    def end_response(self) -> None:
        out = self._out
        if self._chunk_out:
            trailers = self.response_trailers
            if trailers:
                out.append(b"".join([b"0\r\n", *(n + b": " + v + b"\r\n" for n, v in trailers)]))
                out.append(_CRLF)
            else:
                out.append(b"0\r\n\r\n")
        if out:  # `flush`, inline: once per response
            self.conn.write(out[0] if len(out) == 1 else b"".join(out))
            out.clear()

    def flush(self) -> None:
        """One write (one syscall) for everything one upstream read produced."""
        out = self._out
        if out:
            self.conn.write(out[0] if len(out) == 1 else b"".join(out))
            out.clear()

    def abort(self) -> None:
        self.flush()
        self.keep_alive = False
        self.conn.abort()

    def shut_with_request(self) -> bool:
        conn = self.conn
        if conn._client_eof:
            return True
        transport = conn.transport
        if transport is None or conn.ssl:  # (TLS: the records hide it; only what was read)
            return False
        return peer_shut(transport)

    def set_producer(self, conn: UpstreamConnection | None) -> None:
        self.conn.producer = conn
        if conn is not None and self.conn.writing_paused:
            conn.pause_reading()

    async def wait_response(self, relay: Relay) -> None:
        await relay.future

    def start_tunnel(self, conn: UpstreamConnection, leftover: bytes) -> bool:
        self.flush()
        return self.conn.start_tunnel(conn, leftover)

    def on_client_lost(self, callback: Any) -> None:
        self._lost_cb = callback

    def attach(self, conn: UpstreamConnection, relay: Relay) -> None:
        self.conn.producer = conn
        if self.conn.writing_paused:
            conn.pause_reading()
        self._lost_cb = relay.client_lost

    def detach(self) -> None:
        self.conn.producer = None
        self._lost_cb = None


class HttpServerProtocol(asyncio.Protocol):
    """One client connection: parse requests, serve them one at a time, in order."""

    def __init__(
        self, proxy: HttpProxy, *, ssl: bool = False, service: Any = None, listener: int = 0
    ) -> None:
        self.proxy = proxy
        # The listener's id (HAProxy's luid: its rank among the frontend's binds), which
        # a UNIX socket's client is logged with: `unix:<id>`.
        self.listener = listener
        self.service = service
        self.loop = asyncio.get_running_loop()
        self.ssl = ssl
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.lost = False
        self.writing_paused = False
        self.reading_paused = False
        self.producer: UpstreamConnection | None = None
        self.tunnel: UpstreamConnection | None = None
        self._pending: deque[_ServerExchange] = deque()
        self._serving: _ServerExchange | None = None
        self._parsing: _ServerExchange | None = None
        self._url = b""
        self._method = b""
        self._header_bytes = 0
        # Bytes received while a request head is still open: checked as they arrive,
        # so a header that never ends cannot make the parser buffer without bound.
        self._head_open = True
        self._head_in = 0
        self._bad_status = 400  # what a request the parser stops on is answered
        self._mux_page = False  # ... with the H1 mux's page (`connection: close` last)
        self._ready: _ServerExchange | None = None  # parsed, started after this read
        self._refuse_next = 0  # a bad request to answer once those before it are
        self._refuse_term = "PR"  # its log line's termination state
        self._started = False  # bytes of a new request's head seen (not of a body)
        self._requests = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = 0.0  # when `_timer` fires
        self._deadline: float | None = None
        self._src = ""
        self._src_port = 0
        self._dst = ""
        self._dst_port = 0
        self._sni = ""
        self._tls: TlsFacts | None = None
        self._pp: ProxyTlvs | None = None
        self._t_first = 0.0
        self._date_first = 0.0
        fe = proxy.frontend
        self._max_header = fe.max_header_size
        self._max_lines = fe.max_header_lines
        self._t_request = fe.timeout_http_request or fe.timeout_client
        self._t_keepalive = fe.timeout_http_keep_alive or self._t_request
        self.proxy_timeout_client: float | None = fe.timeout_client
        self._close_after = fe.httpclose
        # The client shut its sending side after whole requests: close once they
        # are answered.
        self._client_eof = False
        self._clitcpka = fe.clitcpka
        self._rejected = False
        # The connection's tracked stick-table counters (None without stick tables).
        self.session: StreamCounters | None = None
        self._logged_local = False  # a `<BADREQ>` line was written for this connection
        self._t_accept = 0.0
        self._date_accept = 0.0
        self.parked = False  # waiting for a slot under global or frontend `maxconn`
        self._held: bytes | None = None  # what a parked connection sent (see data_received)
        self.counted = False  # admitted: counts in actconn, feconn and the counters
        # `bind … accept-proxy`: the PROXY header read so far, None once it is read
        # (always None here; `ProxiedHttpServerProtocol` reads it).
        self._proxy_buf: bytearray | None = None

    def __repr__(self) -> str:
        state = "tunnel" if self.tunnel else "serving" if self._serving else "idle"
        peer = f"{self._src}:{self._src_port}"
        return f"<HttpServerProtocol {peer} {state} requests={self._requests}>"

    # -- transport plumbing ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: no isinstance here.
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("sockname") or ("", 0)
        if type(sock) is tuple:
            peer = transport.get_extra_info("peername") or ("", 0)
            self._src, self._src_port = str(peer[0]), int(peer[1])
            self._dst, self._dst_port = str(sock[0]), int(sock[1])
            if self._src.startswith("::ffff:"):
                self._src = self._src[7:]
        else:
            # A UNIX socket: HAProxy has no address for either side, and names them
            # `unix` and the listener's id in logs (%ci:%cp, %fi:%fp).
            self._src = self._dst = "unix"
            self._src_port = self._dst_port = self.listener
        router = self.proxy.router
        if self.proxy.frontend.tracks:
            self.session = StreamCounters(now_ms(), connection=True)
        if router.filters_connections and not router.accept_connection(
            Request(
                self._src,
                src_port=self._src_port,
                dst=self._dst,
                dst_port=self._dst_port,
                stream=self.session,
            )
        ):
            # `tcp-request connection reject`: closed before a byte is read, as in HAProxy.
            self._rejected = True
            if self.proxy.fe_counters is not None:
                self.proxy.fe_counters.dreq += 1
            self._end_session()
            self.transport.abort()
            return
        if self.session is not None:
            self.session.count_session()
        if self.ssl:
            sslobj = transport.get_extra_info("ssl_object")
            self._sni = sni_of(sslobj)
            self._tls = tls_facts(sslobj)
        if self.service is not None:
            self.service.opened(self)  # starts it, or parks it over a `maxconn`
        else:
            self.start()

    def start(self) -> None:
        """Admitted (within global and frontend `maxconn`): count it and wait for
        its first request."""
        self.counted = True
        if self._clitcpka is not None and self.transport is not None:
            set_keepalive(self.transport, self._clitcpka)
        self._t_accept = self.loop.time()
        self._date_accept = time.time()
        fe = self.proxy.fe_counters
        if fe is not None:
            fe.session_start()
        self._arm(self._t_request)

    def eof_received(self) -> bool | None:
        """The client shut its sending side.  As HAProxy 2.6's HTTP/1 layer: what it
        sent completely is answered; a request head it left unfinished, or no
        request at all on a new connection, is a 400 (`<BADREQ>`, `CR`) — the client
        may still be reading (`shutdown(SHUT_WR)`), and one that closed for good
        reads nothing anyway; only an idle keep-alive connection closes silently."""
        if self._proxy_buf is not None:
            return None  # no PROXY header yet: no HTTP either, closed silently (HAProxy)
        if self._serving is not None or self._pending:
            # A client that shuts its sending side after a whole request
            # (`printf … | nc`) still gets its answer, as from HAProxy: stay
            # half-open, and close once the requests already read are answered.
            self._close_after = True
            if self._refuse_next:
                pass  # a bad request is already waiting for its turn
            elif self._started:
                # An unfinished head after them: its 400 comes after their answers.
                self._refuse_next = 400
                self._refuse_term = "CR"
                self._parsing = None
            else:
                # Answered as they are (no `Connection: close` added, as HAProxy),
                # then the connection closes (`_done`).
                self._client_eof = True
            return True
        if (
            self.counted
            and not self._refuse_next
            and not self.lost
            and self.tunnel is None
            and (self._started or self._requests == 0)
        ):
            self._bad_request(400, "CR")
        return None

    def show(self, now: float) -> str | None:
        """`show sess`: the request in flight, with HAProxy's leading fields."""
        ex = self._serving
        if ex is None:
            return None  # idle keep-alive: no stream, as in HAProxy
        entry = ex.log_entry
        backend = entry.backend if entry is not None and entry.backend else "<NONE>"
        server = entry.server if entry is not None and entry.server else "<none>"
        return stream_line(
            ex.src, ex.src_port, self.proxy.name, backend, server, now - ex.request_date
        )

    def kill(self) -> None:
        """`shutdown session`: drop the client connection (and so its exchange)."""
        if self.transport is not None:
            self.transport.abort()

    def frontend_has_room(self) -> bool:
        return self.service is None or self.service.has_room()

    def unparked(self) -> None:
        """`Limits` admits this connection, parked (and paused) over a `maxconn`."""
        if self.transport is None or self.lost or self.transport.is_closing():
            return
        self.transport.resume_reading()
        self.service.admit(self)
        held, self._held = self._held, None
        if held is not None:
            self.data_received(held)

    def _end_session(self) -> None:
        """The connection's tracked entries are let go (`tcp-request … track-sc*`)."""
        if self.session is not None:
            self.session.close(now_ms())
            self.session = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self._rejected:
            return
        self._end_session()
        self._disarm()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.service is not None:
            self.service.closed(self)
        fe = self.proxy.fe_counters
        if fe is not None and self.counted:
            fe.session_end()
        self.counted = False
        if self.tunnel is not None:
            self.tunnel.abort()
            self.tunnel = None
        serving = self._serving
        if serving is not None:
            serving._wake()
            if serving._lost_cb is not None:
                serving._lost_cb()

    def pause_writing(self) -> None:
        self.writing_paused = True
        if self.producer is not None:
            self.producer.pause_reading()
        elif self.tunnel is not None:
            self.tunnel.pause_reading()

    def resume_writing(self) -> None:
        self.writing_paused = False
        if self.producer is not None:
            self.producer.resume_reading()
        elif self.tunnel is not None:
            self.tunnel.resume_reading()

    def pause_client_reading(self) -> None:
        if not self.reading_paused and self.transport is not None and not self.lost:
            self.reading_paused = True
            self.transport.pause_reading()

    def resume_client_reading(self) -> None:
        if self.reading_paused and self.transport is not None and not self.lost:
            self.reading_paused = False
            self.transport.resume_reading()

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.lost:
            self.transport.write(data)

    def abort(self) -> None:
        if self.transport is not None and not self.lost:
            self.transport.abort()

    def close_after_response(self) -> None:
        """Answer the next response with `Connection: close` (a reload retires us)."""
        self._close_after = True

    def close_if_idle(self) -> None:
        """Soft stop: an idle keep-alive connection closes now, a busy one after
        its response."""
        if self._serving is None and self.tunnel is None and self.transport is not None:
            self.transport.close()

    # -- timers: http-request / keep-alive --------------------------------------------------

    def _arm(self, timeout: float | None) -> None:
        """Set the idle deadline.  The timer is lazy: it is only rescheduled when it
        fires early, so a busy keep-alive connection does not create one per request.
        A deadline *before* the pending timer (`timeout http-keep-alive` shorter than
        the `timeout http-request` armed at the accept) does replace it: otherwise
        the idle connection would outlive its keep-alive timeout."""
        if not timeout:
            self._deadline = None
            return
        self._deadline = deadline = self.loop.time() + timeout
        timer = self._timer
        if timer is None or deadline < self._timer_due:
            if timer is not None:
                timer.cancel()
            self._timer_due = deadline
            self._timer = self.loop.call_at(deadline, self._timed_out)

    def _disarm(self) -> None:
        self._deadline = None

    def _timed_out(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None or self._serving is not None or self.lost:
            return
        if self.loop.time() < deadline:
            self._timer_due = deadline
            self._timer = self.loop.call_at(deadline, self._timed_out)
            return
        if self._proxy_buf is not None:
            # `timeout client` while waiting for the PROXY header: HAProxy's embryonic
            # session ends without a word (there is no HTTP yet to answer a 408 in).
            self.abort()
            return
        silent = not self._started and self.proxy.frontend.http_ignore_probes
        if (self._started or self._requests == 0) and not silent:
            # Slow or silent client: 408, as HAProxy answers (errorfile 408 /dev/null
            # turns it into a silent close; `option http-ignore-probes` into a close
            # without a word for a client that sent nothing).
            self._log_local(408, "cR")
            page = self.proxy.error_page(408)
            if page.raw:
                self.write(page.raw)
        if self.transport is not None:
            self.transport.close()

    # -- reading -------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.tunnel is not None:
            self.tunnel.write(data)
            return
        if self.parked:
            # uvloop starts reading after `connection_made` returns, undoing the pause
            # made there: hold the bytes, pause now, and read them once admitted.
            self._held = data if self._held is None else self._held + data
            if self.transport is not None:
                self.transport.pause_reading()
            return
        if self._refuse_next:
            return  # after a bad request nothing is parsed again
        if not self._started and self._head_open:  # not for a body's later reads
            self._started = True
            self._t_first = self.loop.time()
            self._date_first = time.time()
        if self._parsing is None and self._head_in == 0 and data[:4] not in _COMMON_STARTS:
            # Only where a request starts: a method split across reads (`GE`, `T / …`)
            # is llhttp's to join.
            data = self._other_method(data)
        if self._head_open:
            # Counted before parsing: the parser keeps an unfinished header line (and
            # joins its pieces) itself, so the limit must hold while the head arrives.
            # What follows a head within this read is not counted, which bounds the
            # buffering by the limit plus one read.
            self._head_in += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            offset = int(upgrade.args[0]) if upgrade.args else len(data)
            if self._parsing is not None:
                ex = self._parsing
                ex.feed_body(data[offset:]) if offset < len(data) else None
                ex.body_complete()
            self.pause_client_reading()
        except httptools.HttpParserError:
            status, self._bad_status = self._bad_status, 400
            ready, self._ready = self._ready, None
            if ready is not None and ready is not self._parsing:
                self._start(ready)  # a good request before the bad one: answered first
            self._bad_request(status)
            return
        ready = self._ready
        if ready is not None:
            self._ready = None
            self._start(ready)
        if self._head_open and self._head_in > self._max_header:
            self._bad_request(400)  # HAProxy: a head larger than tune.bufsize less maxrewrite

    def _other_method(self, data: bytes) -> bytes:
        """A request line whose method is a valid token llhttp does not know (`post`,
        `FOO`) is parsed as GET and keeps its real method for routing and forwarding."""
        space = data.find(b" ", 0, 64)
        if space <= 0:
            return data
        token = data[:space]
        if token in _LLHTTP_METHODS or not all(c in _TOKEN for c in token):
            return data
        self._method = token
        return b"GET" + data[space:]

    def _bad_request(self, status: int, termination: str = "PR") -> None:
        """Refuse the request being read with `status` (its log line ends with
        `termination`), after the answers to those read before it."""
        self._disarm()
        if self._serving is not None and not self.lost:
            bad = self._parsing
            if bad is self._serving:
                self._serving.body_failed()  # its own body is malformed: it fails
            elif bad is not None and bad in self._pending:
                self._pending.remove(bad)  # queued behind others: it never goes out
            # Requests read before the bad one are answered first, in order, and
            # then this one, as HAProxy does (200, then 400): closing now would
            # lose a response the server already produced, and a retrying client
            # would repeat it.  The parser cannot resume, so nothing more is read.
            self._refuse_next = status
            self._refuse_term = termination
            self._parsing = None
            self.pause_client_reading()
            return
        if self._serving is None:
            self._log_local(status, termination if status != 408 else "cR")
            page = self.proxy.error_page(status)
            if self._mux_page:
                page = page.with_header(b"connection", b"close")
            self.write(page.raw)
        if self.transport is not None:
            self.transport.close()
        self.lost = True

    def on_url(self, url: bytes) -> None:
        # A request line always has a target, so its first piece starts the message:
        # that spares httptools an on_message_begin callback per request.
        if self._parsing is None:
            if not self._started:
                self._started = True
                self._t_first = self.loop.time()
                self._date_first = time.time()
            self._parsing = ex = _ServerExchange(self)
            ex.session = self.session
            ex.t_start = self._t_first
            ex.request_date = self._date_first
            self._url = url
            self._header_bytes = _HTX_REQUEST_HEAD + len(url)
        else:
            self._url += url
            self._header_bytes += len(url)
        if self._header_bytes > self._max_header:
            raise _TooLarge

    def on_header(self, name: bytes, value: bytes) -> None:
        ex = self._parsing
        assert ex is not None
        if self._head_open:
            headers = ex.headers
        else:  # llhttp reports a chunked body's trailer fields as headers
            if ex.trailers is None:
                ex.trailers = []
            headers = ex.trailers
        headers.append((name, value))
        self._header_bytes += htx_header_size(name, value)
        if self._header_bytes > self._max_header or len(headers) > self._max_lines:
            raise _TooLarge

    def on_headers_complete(self) -> None:
        self._head_open = False
        self._head_in = 0
        ex = self._parsing
        assert ex is not None
        parser = self.parser
        ex.method = self._method or parser.get_method()
        self._method = b""
        if self._header_bytes + len(ex.method) - 3 > self._max_header:
            raise _TooLarge  # _HTX_REQUEST_HEAD counted a three-letter method
        ex.target = self._url
        version = parser.get_http_version()
        if version == "0.0" or version == "0.9":
            raise _Malformed  # HTTP/0.9 (a request line without a version): 400, as HAProxy
        ex.version = _VERSION_BYTES.get(version) or version.encode()
        ex.t_head = self.loop.time()
        ex.src = self._src
        ex.src_port = self._src_port
        ex.dst = self._dst
        ex.dst_port = self._dst_port
        ex.ssl = self.ssl
        ex.sni = self._sni
        ex.tls = self._tls
        ex.pp = self._pp
        ex.expect_continue = ex.read_framing()
        if ex.malformed:
            self._bad_status = ex.malformed_status
            self._mux_page = ex.malformed_in_mux
            raise _Malformed
        ex.upgrade = b"upgrade" in ex.tokens and parser.should_upgrade()
        ex.client_keep_alive = parser.should_keep_alive()
        ex.keep_alive = ex.client_keep_alive and not self._close_after
        if not ex.chunked and not ex.content_length:
            ex._body_done = True
        self._started = False
        self._requests += 1
        ex.first_request = self._requests == 1
        if self._serving is None and self._ready is None:
            # Started once this read is parsed: bytes of the same read that make
            # the request malformed (a bad chunk size) then refuse it before
            # anything is forwarded, as HAProxy parses a whole buffer first.
            self._ready = ex
        else:
            self._pending.append(ex)
            self.pause_client_reading()

    def on_body(self, body: bytes) -> None:
        ex = self._parsing
        if ex is not None:
            ex.feed_body(body)

    def on_message_complete(self) -> None:
        ex = self._parsing
        if ex is not None:
            ex.body_complete()
        self._parsing = None
        self._head_open = True

    # -- serving -------------------------------------------------------------------------

    def _start(self, ex: _ServerExchange) -> None:
        self._deadline = None  # `_disarm`, inline
        self._serving = ex
        self.proxy.begin(ex, self._done)

    def _done(self) -> None:
        ex = self._serving
        assert ex is not None
        self._serving = None
        if self.tunnel is not None or self.lost:
            return
        if self._refuse_next and not ex.status and not ex.body_finished:
            # Its body turned out malformed before any answer: HAProxy's 400.
            self._bad_request(self._refuse_next, self._refuse_term)
            return
        if (
            not ex.keep_alive
            or (self._client_eof and not self._pending)
            or not ex.body_finished
            or self.transport is None
            or self.proxy.stopping
        ):
            if self.transport is not None:
                self.transport.close()
            self.lost = True
            return
        if self._pending:
            self._start(self._pending.popleft())
            return
        if self._refuse_next:
            self._bad_request(self._refuse_next, self._refuse_term)
            return
        if self.reading_paused:
            self.resume_client_reading()
        self._arm(self._t_keepalive)

    def start_tunnel(self, conn: UpstreamConnection, leftover: bytes) -> bool:
        """101 was relayed: from now on, bytes flow both ways untouched."""
        if self.lost or self.transport is None or conn.transport is None:
            return False
        self.tunnel = conn
        conn.tunnel = self.transport
        ex = self._serving
        if ex is not None:
            # bytes the client sent after its upgrade request
            while ex._body:
                conn.write(ex._body.popleft())
        if leftover:
            self.transport.write(leftover)
        self.resume_client_reading()
        return True

    def _log_local(self, status: int, termination: str) -> None:
        log = self.proxy.log
        if log is None or self._logged_local:
            return
        if not self._started and self.proxy.frontend.dontlognull:
            return  # `option dontlognull`: a connection that sent nothing is not logged
        self._logged_local = True
        now = self.loop.time()
        # Before any byte of a request, HAProxy's timers run from the accept.
        start = self._t_first if self._started else self._t_accept
        # As HAProxy logs an error its HTTP/1 layer answered: no bytes counted, and the
        # connection still counted in %ac/%fc.
        counts = self.proxy.connection_counts
        actconn, feconn = counts() if counts is not None else (1, 1)
        log(
            HttpLogEntry(
                client_ip=self._src,
                client_port=self._src_port,
                request_date=self._date_first if self._started else self._date_accept,
                frontend=self.proxy.name,
                backend=self.proxy.name,
                server=None,
                treq=-1,
                tw=-1,
                tc=-1,
                tr=-1,
                ta=int((now - start) * 1000),
                status=status,
                bytes_read=0,
                request_line="<BADREQ>",
                termination=termination,
                ssl=self.ssl,
                actconn=actconn,
                feconn=feconn,
            )
        )


#: What HAProxy's HTX buffer spends on a request head besides its text (measured
#: against HAProxy 2.6: the head of `GET <uri> HTTP/1.1` with headers of n bytes of
#: names and values fits while 85 + 3 + len(uri) + 8 + n + 8 per header <= tune.bufsize
#: - tune.maxrewrite): its fixed part with a three-letter method and the version ...
_HTX_REQUEST_HEAD = 85 + 3 + 8


class _TooLarge(Exception):
    """Request line + headers exceed the buffer, or more header lines than
    `Frontend.max_header_lines`: HAProxy answers 400."""


class _Malformed(Exception):
    """A request llhttp accepts but HAProxy refuses (two different Host headers): 400."""


class ProxiedHttpServerProtocol(HttpServerProtocol):
    """A client connection on a `bind … accept-proxy`: the PROXY v1/v2 header comes
    first, and the addresses it names are the connection's from then on (`src` in
    ACLs, logs, `option forwardfor`), as in HAProxy.  `tcp-request connection` rules
    still see the real peer: HAProxy runs them before reading the header.

    A subclass, so that the plain listeners' `data_received` (the hot path) does not
    test for a header on every read.
    """

    def __init__(
        self, proxy: HttpProxy, *, ssl: bool = False, service: Any = None, listener: int = 0
    ) -> None:
        super().__init__(proxy, ssl=ssl, service=service, listener=listener)
        self._proxy_buf = bytearray()

    def start(self) -> None:
        """While the header is awaited the timeout is `timeout client` (HAProxy's
        handshake timeout in 2.6); `timeout http-request` starts after it."""
        super().start()
        if self._proxy_buf is not None:
            self._arm(self.proxy_timeout_client)

    def data_received(self, data: bytes) -> None:
        buf = self._proxy_buf
        if buf is None:
            super().data_received(data)
            return
        buf += data
        try:
            parsed = proxy_protocol.parse(buf)
        except proxy_protocol.ProxyProtocolError:
            # Not a PROXY header: HAProxy resets the connection without an answer.
            fe = self.proxy.fe_counters
            if fe is not None:
                fe.ereq += 1
            self._proxy_buf = None
            self._disarm()
            if self.transport is not None and not self.lost:
                set_option(self.transport, socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
                self.transport.abort()
            self.lost = True
            return
        if parsed is None:
            return
        header, used = parsed
        self._proxy_buf = None
        if not header.local:  # v1 UNKNOWN, v2 LOCAL: the connection's own addresses
            self._src, self._src_port = header.src, header.src_port
            self._dst, self._dst_port = header.dst, header.dst_port
            self._pp = header.tlvs
        self._arm(self._t_request)
        if used < len(buf):
            super().data_received(bytes(buf[used:]))
