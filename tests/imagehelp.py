"""Decode and read images in tests with the ffmpeg the suite already has (no imaging library).

Any image ffmpeg reads (JPEG, PNG) is decoded to a binary PPM, whose header gives the size, so a
test can check that a file really decodes and look at the colour of a region.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from skill.media.ffmpeg import find_ffmpeg


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    rgb: bytes

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        i = 3 * (y * self.width + x)
        return self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]

    def variance(self) -> float:
        """Variance of the grey levels: 0 for a blank (one-colour) image."""
        grey = [sum(self.rgb[i : i + 3]) / 3 for i in range(0, len(self.rgb), 3 * 7)]
        mean = sum(grey) / len(grey)
        return sum((g - mean) ** 2 for g in grey) / len(grey)

    def has_colour(self, rgb: tuple[int, int, int], tolerance: int = 24) -> bool:
        """Whether some pixel is within ``tolerance`` of ``rgb`` on every channel."""
        r0, g0, b0 = rgb
        data = self.rgb
        return any(
            abs(data[i] - r0) <= tolerance and abs(data[i + 1] - g0) <= tolerance and abs(data[i + 2] - b0) <= tolerance
            for i in range(0, len(data), 3)
        )


def decode(image: bytes | Path) -> Image:
    """Decode ``image`` (bytes or a file); fails the test if ffmpeg cannot read it."""
    exe = find_ffmpeg()
    assert exe is not None, "decoding images in tests needs ffmpeg (the [video] extra)"
    data = image.read_bytes() if isinstance(image, Path) else image
    proc = subprocess.run(
        [exe, "-nostdin", "-v", "error", "-i", "pipe:0", "-frames:v", "1", "-f", "image2pipe", "-c:v", "ppm",
         "-pix_fmt", "rgb24", "pipe:1"],
        input=data, capture_output=True, timeout=60, check=False,
    )
    assert proc.returncode == 0 and proc.stdout.startswith(b"P6"), proc.stderr.decode(errors="replace")
    w, h, rgb = _ppm(proc.stdout)
    assert len(rgb) == 3 * w * h
    return Image(w, h, rgb)


def _ppm(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and pixels of a binary PPM: four header tokens, then ONE whitespace byte."""
    tokens: list[bytes] = []
    pos = 0
    while len(tokens) < 4:
        while data[pos : pos + 1].isspace():
            pos += 1
        start = pos
        while not data[pos : pos + 1].isspace():
            pos += 1
        tokens.append(data[start:pos])
    return int(tokens[1]), int(tokens[2]), data[pos + 1 :]
