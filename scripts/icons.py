#!/usr/bin/env python3
"""Draws Chatstudy's icons (RGBA PNG, as Tauri requires) into icons/: a speech bubble on an indigo
rounded square. Run it again only to change the design."""
import math
import os
import struct
import zlib

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "icons")


def pixel(u, v):
    r = 0.2
    dx, dy = max(abs(u - 0.5) - (0.5 - r), 0), max(abs(v - 0.5) - (0.5 - r), 0)
    if math.hypot(dx, dy) > r:
        return (0, 0, 0, 0)
    background = (63, 81, 181, 255)
    ex, ey = (u - 0.5) / 0.32, (v - 0.46) / 0.24
    bubble = ex * ex + ey * ey <= 1
    tail = 0.30 <= u <= 0.44 and 0.62 <= v <= 0.78 and (u - 0.30) <= (0.78 - v) * 0.9
    if bubble or tail:
        if any(math.hypot(u - cx, v - 0.46) < 0.045 for cx in (0.38, 0.5, 0.62)):
            return background
        return (255, 255, 255, 255)
    return background


def png(path, size):
    rows = b"".join(
        b"\x00" + b"".join(bytes(pixel((x + 0.5) / size, (y + 0.5) / size)) for x in range(size)) for y in range(size)
    )

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(rows, 9)))
        f.write(chunk(b"IEND", b""))


for name, size in [("32x32.png", 32), ("128x128.png", 128), ("128x128@2x.png", 256), ("icon.png", 512)]:
    png(os.path.join(HERE, name), size)
