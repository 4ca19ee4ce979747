"""WebSocket through the proxy: the upgrade is balanced like any request, then the
connection becomes a byte tunnel both ways (frames pass untouched)."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
import time
from typing import Any

from l7_harness import to
from l7_rawserver import RawServer, header, read_head

from balancekit import Backend, Server

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_key(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def frame(payload: bytes, *, mask: bool, opcode: int = 1) -> bytes:
    head = bytes([0x80 | opcode])
    length = len(payload)
    bit = 0x80 if mask else 0
    if length < 126:
        head += bytes([bit | length])
    elif length < 1 << 16:
        head += bytes([bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", length)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def recv_exact(sock: socket.socket, size: int, buffered: bytearray) -> bytes:
    while len(buffered) < size:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("closed")
        buffered += data
    out = bytes(buffered[:size])
    del buffered[:size]
    return out


def read_frame(sock: socket.socket, buffered: bytearray) -> tuple[int, bytes]:
    b0, b1 = recv_exact(sock, 2, buffered)
    length = b1 & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", recv_exact(sock, 2, buffered))
    elif length == 127:
        (length,) = struct.unpack("!Q", recv_exact(sock, 8, buffered))
    key = recv_exact(sock, 4, buffered) if b1 & 0x80 else b""
    payload = recv_exact(sock, length, buffered)
    if key:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return b0 & 0x0F, payload


def ws_echo(name: str) -> Any:
    """A WebSocket server: greets with its name, then echoes every text frame."""

    def handler(sock: socket.socket) -> None:
        head, rest = read_head(sock)
        key = header(head, b"sec-websocket-key") or b""
        sock.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept_key(key) + b"\r\n\r\n"
        )
        sock.sendall(frame(f"hello from {name}".encode(), mask=False))
        buffered = bytearray(rest)
        while True:
            opcode, payload = read_frame(sock, buffered)
            if opcode == 8:
                sock.sendall(frame(payload, mask=False, opcode=8))
                return
            sock.sendall(frame(name.encode() + b": " + payload, mask=False))

    return handler


def open_ws(port: int) -> tuple[socket.socket, bytearray, bytes]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16))
    sock.sendall(
        b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key + b"\r\n\r\n"
    )
    head, rest = read_head(sock)
    assert head.startswith(b"HTTP/1.1 101"), head
    assert header(head, b"sec-websocket-accept") == accept_key(key)
    assert (header(head, b"upgrade") or b"").lower() == b"websocket"
    return sock, bytearray(rest), head


def test_websocket_tunnel_both_ways_and_balanced(fast: Any) -> None:
    with RawServer(ws_echo("s1")) as one, RawServer(ws_echo("s2")) as two:
        backend = Backend(
            "ws", [Server("s1", one.address), Server("s2", two.address)], "roundrobin"
        )
        proxy = fast(to("ws"), {"ws": backend})
        greetings = []
        for _ in range(2):
            sock, buffered, _head = open_ws(proxy.port)
            with sock:
                greetings.append(read_frame(sock, buffered)[1])  # server speaks first
                big = os.urandom(200_000).hex().encode()
                for message in (b"ping", big):
                    sock.sendall(frame(message, mask=True))
                    opcode, payload = read_frame(sock, buffered)
                    assert opcode == 1
                    assert payload.endswith(b": " + message)
                sock.sendall(frame(b"", mask=True, opcode=8))
                assert read_frame(sock, buffered)[0] == 8
    assert greetings == [b"hello from s1", b"hello from s2"]


def refuse_upgrade(sock: socket.socket) -> None:
    read_head(sock)
    sock.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno")


def test_refused_upgrade_is_a_plain_response(fast: Any) -> None:
    with RawServer(refuse_upgrade) as raw:
        proxy = fast(to("ws"), {"ws": Backend("ws", [Server("r", raw.address)], "roundrobin")})
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as sock:
            sock.sendall(
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: eA==\r\n\r\n"
            )
            data = b""
            while not data.endswith(b"no"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    assert data.startswith(b"HTTP/1.1 403")
    assert data.endswith(b"no")


def test_idle_tunnel_closes_after_timeout_tunnel(fast: Any) -> None:
    from balancekit.config import BackendRuntime

    with RawServer(ws_echo("s1")) as one:
        backend = Backend("ws", [Server("s1", one.address)], "roundrobin")
        settings = BackendRuntime("ws", "http", backend, timeout_server=30, timeout_tunnel=0.4)
        proxy = fast(to("ws"), {"ws": settings})
        sock, buffered, _head = open_ws(proxy.port)
        with sock:
            assert read_frame(sock, buffered)[1] == b"hello from s1"
            for _ in range(3):  # traffic keeps it open past the timeout
                time.sleep(0.2)
                sock.sendall(frame(b"still here", mask=True))
                assert read_frame(sock, buffered)[1] == b"s1: still here"
            sock.settimeout(10)
            assert sock.recv(65536) == b""  # then silence: the proxy closes both sides
