"""Small filesystem helpers shared by the downloader, the video finisher and the flow (no heavy
imports)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from skill.errors import OutputDirError

__all__ = ["check_output_dir", "fsync_dir"]


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (best effort: some filesystems refuse directory fsync)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_output_dir(path: Path | str) -> Path:
    """``path``, absolute, once it is proven usable: created if missing, then a probe file is
    written, flushed and removed in it.

    Called before anything is paid, so a folder that is a file, cannot be created, is read-only
    or is full refuses the request (:class:`~skill.errors.OutputDirError`, exit 73) instead of
    leaving a paid video with nowhere to go.
    """
    target = Path(path).expanduser()
    try:
        target = target.resolve()
        target.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".kling3-probe-", dir=target)
        try:
            os.write(fd, b"kling3 output folder probe\n")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except (OSError, RuntimeError) as exc:
        reason = "it is a file, or under one" if isinstance(exc, (FileExistsError, NotADirectoryError)) else (
            getattr(exc, "strerror", None) or str(exc)
        )
        raise OutputDirError(
            f"the output folder {target} cannot be used ({reason}): nothing was sent; choose "
            "another --output-dir",
            field="output_dir",
            details={"output_dir": str(target), "reason": reason},
        ) from None
    return target
