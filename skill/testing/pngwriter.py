"""A tiny, valid PNG: the cover image the emulator serves beside a job's videos.

RunComfy's documented result shape carries an ``image`` next to the ``videos``
(runcomfy-protocol.md §1.5), so the emulator must hand out a real image for the downloader to
verify and save. One solid colour, 8-bit RGB, no dependencies.
"""

from __future__ import annotations

import struct
import zlib

__all__ = ["make_png"]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def make_png(width: int = 64, height: int = 36, color: tuple[int, int, int] = (200, 120, 40)) -> bytes:
    """A ``width`` x ``height`` PNG of one colour."""
    if not (0 < width <= 4096 and 0 < height <= 4096):
        raise ValueError("width and height must be 1-4096")
    row = b"\x00" + bytes(color) * width  # filter byte 0, then RGB pixels
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(row * height))
        + _chunk(b"IEND", b"")
    )
