"""What kind of still image a downloaded file is: PNG, JPEG or WebP, by its bytes, never its name.

A result may carry a cover or thumbnail beside its videos (RunComfy's documented shape,
``{"image": ..., "videos": [...]}``). The downloader saves such a file only when its bytes are
one of these three formats, complete (the end marker is there), and names it by what it is.
"""

from __future__ import annotations

import os
import struct
from typing import Literal

__all__ = ["IMAGE_EXTENSIONS", "ImageType", "image_type"]

ImageType = Literal["png", "jpg", "webp"]
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".webp")
"""Name endings of still images, as the downloader strips them before naming a file."""

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_TAIL_BYTES = 64


def image_type(path: str | os.PathLike[str]) -> ImageType | None:
    """``png``, ``jpg`` or ``webp`` when the file at ``path`` is a complete image of that kind."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(16)
        fh.seek(max(0, size - _TAIL_BYTES))
        tail = fh.read(_TAIL_BYTES)
    if head.startswith(_PNG_MAGIC):
        return "png" if tail.endswith(_PNG_END) else None
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg" if tail.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9") else None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        declared = struct.unpack("<I", head[4:8])[0] + 8
        return "webp" if declared in (size, size - 1) else None  # RIFF pads odd sizes
    return None
