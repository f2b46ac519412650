"""The generated MP4s are real: right size and length, bounded memory, and (where ffmpeg exists)
they decode cleanly, frame by frame, in the asked colour."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from skill.media.mp4probe import probe_mp4
from skill.testing.mp4writer import (
    RESOLUTIONS,
    iter_mp4_chunks,
    make_mp4,
    mp4_stream,
    write_mp4,
)


def _ffmpeg() -> str | None:
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError:
        return None
    try:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError:
        return None


def test_resolutions_are_the_documented_ones() -> None:
    assert RESOLUTIONS == {"16:9": (128, 72), "9:16": (72, 128), "1:1": (96, 96)}


def test_fractional_duration_is_within_one_frame() -> None:
    info = probe_mp4(make_mp4(2.3, "16:9", fps=8))
    assert info.frames == 18
    assert abs(info.duration_s - 2.3) <= 1 / 8


@pytest.mark.parametrize(
    "kwargs",
    [
        {"duration_s": 5, "aspect_ratio": "4:3"},
        {"duration_s": 0, "aspect_ratio": "16:9"},
        {"duration_s": float("nan"), "aspect_ratio": "16:9"},
        {"duration_s": 5, "aspect_ratio": "16:9", "fps": 0},
        {"duration_s": 5, "aspect_ratio": "16:9", "color": (0, 0, 300)},
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        make_mp4(**kwargs)  # type: ignore[arg-type]


def test_padding_makes_the_file_at_least_that_big_and_still_valid(tmp_path: Path) -> None:
    data = make_mp4(5, "9:16", pad_to_bytes=200_000)
    assert len(data) == 200_000
    assert probe_mp4(data).height == 128
    path = write_mp4(tmp_path / "v.mp4", 5, "9:16", pad_to_bytes=300_001)
    assert path.stat().st_size == 300_001
    assert probe_mp4(path).duration_s == pytest.approx(5)


def test_a_256_mib_file_streams_in_bounded_chunks() -> None:
    size = 256 * 1024 * 1024
    total = 0
    biggest = 0
    chunks = iter_mp4_chunks(5, "16:9", pad_to_bytes=size, chunk_size=1 << 20)
    head = next(chunks)
    for chunk in chunks:
        total += len(chunk)
        biggest = max(biggest, len(chunk))
    assert len(head) + total == size
    assert biggest <= 1 << 20
    assert mp4_stream(5, "16:9", pad_to_bytes=size).size == size


def test_padding_beyond_4_gib_uses_a_64_bit_box_size() -> None:
    stream = mp4_stream(3, "1:1", pad_to_bytes=5 * 1024**3)
    chunks = stream.chunks()
    next(chunks)
    header = next(chunks)
    size32, kind, size64 = struct.unpack(">I4sQ", header)
    assert (size32, kind, size64) == (1, b"free", stream.padding)
    assert stream.size == 5 * 1024**3


FFMPEG = _ffmpeg()
needs_ffmpeg = pytest.mark.skipif(
    FFMPEG is None, reason="no ffmpeg on PATH and imageio_ffmpeg is not installed"
)


def _run(*args: str) -> subprocess.CompletedProcess[bytes]:
    assert FFMPEG is not None
    return subprocess.run([FFMPEG, "-nostdin", *args], capture_output=True, timeout=60, check=False)


@needs_ffmpeg
@pytest.mark.parametrize(
    ("ratio", "duration", "fps"),
    [("16:9", 5, 8), ("9:16", 3, 8), ("1:1", 15, 30)],  # 450 frames: frame_num wraps at 256
)
def test_ffmpeg_decodes_every_frame_in_the_asked_colour(
    tmp_path: Path, ratio: str, duration: int, fps: int
) -> None:
    color = (200, 30, 10)
    path = write_mp4(tmp_path / "v.mp4", duration, ratio, fps=fps, color=color, pad_to_bytes=50_000)
    width, height = RESOLUTIONS[ratio]

    checked = _run("-v", "error", "-i", str(path), "-f", "null", "-")
    assert checked.returncode == 0
    assert checked.stderr.decode() == ""

    described = _run("-i", str(path)).stderr.decode()
    assert f"Duration: 00:00:{duration:02d}.00" in described
    assert re.search(rf"Video: h264 .*\b{width}x{height}\b", described)

    raw = _run("-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-")
    assert raw.returncode == 0
    frame = width * height * 3
    assert len(raw.stdout) == duration * fps * frame
    for channel, want in enumerate(color):
        values = set(raw.stdout[channel::3])
        assert all(abs(v - want) <= 4 for v in values), (channel, sorted(values)[:5])
