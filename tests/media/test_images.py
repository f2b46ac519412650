"""A downloaded cover is an image only when its bytes are a complete PNG, JPEG or WebP."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from skill.media.images import image_type
from skill.testing.mp4writer import make_mp4
from skill.testing.pngwriter import make_png

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 40 + b"\xff\xd9"


def _webp(payload: bytes) -> bytes:
    body = b"WEBP" + b"VP8 " + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (make_png(), "png"),
        (make_png()[:-6], None),  # cut short: no IEND
        (JPEG, "jpg"),
        (JPEG + b"\x00\x00", "jpg"),  # zero padding after the end marker
        (JPEG[:-2], None),
        (_webp(b"\x01\x02\x03\x04"), "webp"),
        (_webp(b"\x01\x02\x03") + b"\x00", "webp"),  # RIFF pads an odd chunk
        (_webp(b"\x01\x02\x03\x04")[:-2], None),
        (make_mp4(1, "16:9"), None),
        (b'{"error": "not an image"}', None),
        (b"", None),
    ],
)
def test_image_type_reads_the_bytes(tmp_path: Path, data: bytes, kind: str | None) -> None:
    path = tmp_path / "cover.png"  # the name never decides
    path.write_bytes(data)
    assert image_type(path) == kind
