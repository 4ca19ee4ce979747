"""A keep-alive HTTP/1.1 server in its own process, slow enough that requests are in
flight when a test kills it with SIGKILL (a crash, not a shutdown).

Run as `python l7_slow_backend.py NAME DELAY_MS`: binds 127.0.0.1:0, prints the
port on stdout, then answers every request after DELAY_MS with `NAME` as body.
"""

from __future__ import annotations

import asyncio
import sys


async def serve(name: bytes, delay: float) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if not head:
                    return
                await asyncio.sleep(delay)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(name), name))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1].encode(), int(sys.argv[2]) / 1000))
