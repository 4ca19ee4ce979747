"""The stats page in a real browser: headless Chromium renders it, state colours and all.

Chromium comes from Debian (`apt-get install chromium`, in .ci/run).  The test
loads the page served by the real runtime, checks the DOM Chromium built, and
reads the screenshot's pixels (a minimal PNG decoder below; no imaging library)
to see HAProxy's state colours actually painted.  Set `BK_STATS_SCREENSHOT` to a
path to keep the screenshot (docs/stats-page.png was made that way).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from runtime.runtime_harness import RuntimeThread

from support.backends import NamedBackends, free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(*args: str) -> subprocess.CompletedProcess[bytes]:
    if CHROMIUM is None:
        raise RuntimeError("chromium is not installed (apt-get install chromium; see .ci/run)")
    profile = tempfile.mkdtemp(prefix="bk-chromium-")
    try:
        return subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                *args,
            ],
            capture_output=True,
            timeout=90,
            check=False,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def png_pixels(data: bytes) -> set[tuple[int, int, int]]:
    """The distinct RGB colours of an 8-bit RGB/RGBA non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and colour in (2, 6)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    prev = bytearray(stride)
    colours: set[tuple[int, int, int]] = set()
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = prev[i]
            upleft = prev[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - upleft
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else upleft
                line[i] = (line[i] + pred) & 0xFF
        for x in range(0, stride, channels):
            colours.add((line[x], line[x + 1], line[x + 2]))
        prev = line
    return colours


@pytest.fixture
def stats_url() -> Iterator[str]:
    with NamedBackends(["s1", "s2", "s3"]) as nb:
        dead = free_port()
        text = f"""
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend www
    bind 127.0.0.1:0
    stats enable
    stats uri /stats
    stats refresh 10s
    default_backend app
backend app
    balance roundrobin
    server web1 {nb.address("s1")} check inter 100
    server web2 {nb.address("s2")} check inter 100
    server web3 127.0.0.1:{dead} check inter 100
    server web4 {nb.address("s3")} check inter 100 backup
    server web5 {nb.address("s3")} disabled
"""
        rt = RuntimeThread(text)
        try:
            pool = rt.config.backends["app"].backend

            async def settle() -> None:
                async with asyncio.timeout(10):
                    while pool.member("web3").up:
                        await asyncio.sleep(0.01)

            rt.run(settle())
            rt.run(_drain(rt))
            yield f"http://127.0.0.1:{rt.port('www')}/stats;norefresh"
        finally:
            rt.close()


async def _drain(rt: RuntimeThread) -> None:
    """Put web2 in drain, as an operator would over the runtime API."""
    rt.runtime.health.set_admin("app", "web2", "drain")  # type: ignore[attr-defined]


def test_chromium_renders_the_stats_page_with_state_colours(stats_url: str) -> None:
    dom = chromium("--dump-dom", stats_url)
    assert dom.returncode == 0, dom.stderr.decode(errors="replace")[-2000:]
    html = dom.stdout.decode()
    assert "<title>Statistics Report for balancekit</title>" in html
    for css, server in (
        ("active_up", "web1"),
        ("active_drain", "web2"),
        ("active_down", "web3"),
        ("backup_up", "web4"),
        ("active_maint", "web5"),
    ):
        assert f'<tr class="{css}" data-server="{server}">' in html, (css, server)

    with tempfile.TemporaryDirectory() as folder:
        shot = Path(folder) / "stats.png"
        result = chromium("--window-size=1400,700", f"--screenshot={shot}", stats_url)
        assert result.returncode == 0 and shot.exists(), result.stderr.decode()[-2000:]
        data = shot.read_bytes()
        keep = os.environ.get("BK_STATS_SCREENSHOT")
        if keep:
            Path(keep).write_bytes(data)
    colours = png_pixels(data)
    for hex_colour in ("c0ffc0", "20a0ff", "ff9090", "b0d0ff", "c07820", "b00040"):
        rgb = tuple(int(hex_colour[i : i + 2], 16) for i in (0, 2, 4))
        assert rgb in colours, f"#{hex_colour} not painted"
