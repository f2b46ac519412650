"""Contact sheets: one small image of a video's frames, written beside the video.

A model that paid for a video cannot watch it, but a multimodal one can look at an image: six
frames in a 3x2 grid, the first and the last among them, are enough to judge "did the camera
push in, did the face hold" and re-prompt. People get the same image as the poster of the
gallery's players. So after every saved video :func:`make_contact_sheet` writes
``<video stem>.contact.jpg`` beside it, small enough to hand to a model (under
:data:`MAX_SHEET_BYTES`; a smaller grid is tried when a first one is too big).

The frames are picked by index from the frame count (pure-Python probe, else ``ffmpeg -i``):
``k * (frames - 1) / (n - 1)`` for ``k = 0..n-1``, each reached by an input seek half a frame
before its timestamp, so rounding cannot skip the last one. One ffmpeg run decodes them all.

ffmpeg is optional: without it :func:`make_contact_sheet` raises
``ConfigError(code="ffmpeg_missing")`` and the caller carries on without a sheet (the run flow
reports it once per run as the warning code :data:`SHEET_UNAVAILABLE`). A sheet is a derived
file: it is written to a hidden temporary and renamed over an older sheet of the same video.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from skill.errors import ConfigError, Kling3Error, VideoError
from skill.media.ffmpeg import require_ffmpeg
from skill.media.video import probe_video, run_ffmpeg

__all__ = [
    "MAX_SHEET_BYTES",
    "SHEET_FAILED",
    "SHEET_FRAMES",
    "SHEET_SUFFIX",
    "SHEET_UNAVAILABLE",
    "ContactSheet",
    "make_contact_sheet",
    "sheet_path",
    "sheet_warning",
]

SHEET_FRAMES = 6
SHEET_SUFFIX = ".contact.jpg"
MAX_SHEET_BYTES = 300_000
SHEET_UNAVAILABLE = "contact_sheet_unavailable"
"""Warning code: no ffmpeg here, so no contact sheet was made (the video itself is fine)."""
SHEET_FAILED = "contact_sheet_failed"
"""Warning code: ffmpeg could not make the sheet (the video itself is fine)."""

_COLUMNS = 3
_TRIES = ((320, 4), (240, 7), (160, 12))  # (largest cell side in px, JPEG qscale: higher is smaller)
_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class ContactSheet:
    """A written sheet: where it is, its size in pixels and bytes, and how many frames it shows."""

    path: Path
    width: int
    height: int
    size: int
    frames: int

    @property
    def mime_type(self) -> str:
        return "image/jpeg"


def sheet_path(video: str | os.PathLike[str]) -> Path:
    """Where the sheet of ``video`` goes: ``clip.mp4`` -> ``clip.contact.jpg``, same folder."""
    p = Path(video)
    return p.with_name(p.stem + SHEET_SUFFIX)


def sheet_warning(exc: Kling3Error) -> str:
    """The one warning line for a sheet that could not be made: ``code: why; the video is fine``."""
    if isinstance(exc, ConfigError) and exc.code == "ffmpeg_missing":
        return (
            f"{SHEET_UNAVAILABLE}: no contact sheet was made because there is no ffmpeg "
            "(pip install 'kling3-skill[video]' or put ffmpeg on PATH); the video itself is saved"
        )
    return f"{SHEET_FAILED}: no contact sheet was made ({exc.message}); the video itself is saved"


def _frame_times(frames: int, fps: float, count: int) -> list[float]:
    """Seek points of ``count`` frames spread evenly over ``frames``, the first and last included."""
    picks = [0] if count == 1 or frames <= 1 else sorted(
        {round(k * (frames - 1) / (count - 1)) for k in range(count)}
    )
    return [max(0.0, (index - 0.5) / fps) for index in picks]


def _args(video: Path, times: list[float], cell: int, quality: int, out: Path) -> list[str]:
    # One thread per decoder and filter graph: six one-frame decodes gain nothing from thread
    # pools, and starting them cost a quarter of the sheet's CPU (same bytes out).
    args: list[str] = ["-y", "-filter_threads", "1", "-filter_complex_threads", "1"]
    chains, labels = [], []
    for n, at in enumerate(times):
        args += ["-threads", "1", "-ss", f"{at:.4f}", "-i", str(video)]
        chains.append(
            f"[{n}:v:0]trim=end_frame=1,scale={cell}:{cell}:force_original_aspect_ratio=decrease,"
            f"scale=trunc(iw/2)*2:trunc(ih/2)*2,setsar=1,format=yuvj420p[f{n}]"
        )
        labels.append(f"[f{n}]")
    columns = min(_COLUMNS, len(times))
    rows = -(-len(times) // columns)
    grid = (
        f"{''.join(labels)}concat=n={len(times)}:v=1:a=0,"
        f"tile={columns}x{rows}:padding=4:margin=4:color=white"
    )
    chains.append(grid)
    return [*args, "-filter_complex", ";".join(chains), "-frames:v", "1", "-q:v", str(quality),
            "-f", "image2", "-c:v", "mjpeg", str(out)]  # fmt: skip


def _jpeg_size(path: Path) -> tuple[int, int]:
    """(width, height) from a JPEG's start-of-frame marker; (0, 0) if none is found."""
    data = path.read_bytes()
    pos = 2
    while pos + 9 <= len(data) and data[pos] == 0xFF:
        marker, length = data[pos + 1], int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            return int.from_bytes(data[pos + 7 : pos + 9], "big"), int.from_bytes(data[pos + 5 : pos + 7], "big")
        pos += 2 + length
    return 0, 0


def make_contact_sheet(
    video: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    frames: int = SHEET_FRAMES,
    max_bytes: int = MAX_SHEET_BYTES,
) -> ContactSheet:
    """Write a grid of ``frames`` frames of ``video`` (first and last included) as a JPEG.

    ``out`` defaults to :func:`sheet_path`. Raises ``ConfigError(code="ffmpeg_missing")``
    without ffmpeg, and :class:`VideoError` when the video cannot be read, ffmpeg fails, the
    file cannot be written, or even the smallest grid is over ``max_bytes``.
    """
    source = Path(video)
    require_ffmpeg([source])
    info = probe_video(source)
    dest = Path(out) if out is not None else sheet_path(source)
    fps = info.fps or 24.0
    total = max(1, round(info.duration_s * fps))
    times = _frame_times(total, fps, max(1, min(frames, total)))
    tmp = dest.with_name(f".{dest.stem}-{secrets.token_hex(6)}.jpg")
    try:
        for cell, quality in _TRIES:
            run_ffmpeg(_args(source, times, cell, quality, tmp), what=f"make a contact sheet of {source.name}",
                       timeout=_TIMEOUT_S)
            size = tmp.stat().st_size
            if size <= max_bytes:
                width, height = _jpeg_size(tmp)
                os.replace(tmp, dest)
                return ContactSheet(dest, width, height, size, len(times))
    except OSError as exc:
        raise VideoError(
            f"cannot write the contact sheet {dest}: {exc.strerror or exc}",
            code="video_write_failed",
            details={"path": str(dest)},
        ) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    raise VideoError(
        f"the contact sheet of {source.name} stays over {max_bytes} bytes even at the smallest size",
        code="video_write_failed",
        details={"path": str(dest)},
    )
