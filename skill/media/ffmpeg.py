"""Finding ffmpeg: a system binary on PATH, else the one the ``[video]`` extra brings.

Split from :mod:`skill.media.video` so that asking "can this machine stitch and crop?" stays
cheap: this module imports only the standard library's path helpers (no ``subprocess``, no MP4
reader), and the answer is cached for the life of the process. The plan surfaces (the package
face, the CLI, the tools, the run flow) pass :func:`video_tools_available` to
:func:`skill.planning.make_plan`, which calls it only when a plan needs local finishing, so a
single native clip never looks for ffmpeg at all.

There is no ffprobe lookup: imageio-ffmpeg ships ffmpeg alone, so probing uses the pure-Python
MP4 reader and falls back to ``ffmpeg -i`` (see :func:`skill.media.video.probe_video`).
"""

from __future__ import annotations

import functools
import importlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from skill.errors import VIDEO_TOOLS_MISSING, ConfigError

__all__ = ["find_ffmpeg", "require_ffmpeg", "video_tools_available"]


@functools.lru_cache(maxsize=1)
def find_ffmpeg() -> str | None:
    """A system ``ffmpeg`` on PATH, else imageio-ffmpeg's bundled binary, else ``None`` (cached)."""
    system = shutil.which("ffmpeg")
    if system:
        return system
    try:
        module = importlib.import_module("imageio_ffmpeg")
        exe = module.get_ffmpeg_exe()
    except Exception:  # not installed, or its binary is missing for this platform
        return None
    return str(exe) if exe and os.path.isfile(exe) else None


def video_tools_available() -> bool:
    """Whether stitching and cropping can run here (an ffmpeg was found)."""
    return find_ffmpeg() is not None


def require_ffmpeg(segments: Sequence[Path] = ()) -> str:
    """The ffmpeg to run, or ``ConfigError(code="ffmpeg_missing")`` (exit 78) naming the kept segments.

    Only work that really needs ffmpeg calls this, so nothing fails at import or at plan time.
    """
    exe = find_ffmpeg()
    if exe is None:
        raise ConfigError(
            VIDEO_TOOLS_MISSING + " (or put ffmpeg on PATH)",
            code="ffmpeg_missing",
            details={"segments": [str(p) for p in segments]},
        )
    return exe
