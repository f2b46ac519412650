"""Small filesystem helpers shared by the downloader, the video finisher and the flow (no heavy
imports)."""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from pathlib import Path

from skill.errors import OutputDirError

__all__ = ["SYNCED_PROBE_WINDOW_S", "check_output_dir", "fsync_dir"]

SYNCED_PROBE_WINDOW_S = 60.0
"""How long an fsync'ed probe of a folder vouches for its filesystem: a later check of it, or
of a folder under it, within this time writes its probe without the fsync (a batch probes its
root once, not each item's folder twice)."""
_synced: dict[Path, float] = {}
_synced_lock = threading.Lock()


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (best effort: some filesystems refuse directory fsync)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def check_output_dir(path: Path | str, *, sync: bool = True) -> Path:
    """``path``, absolute, once it is proven usable: created if missing, then (unless a recent
    probe vouches for it) a probe file is written, flushed and removed in it.

    Called before anything is paid, so a folder that is a file, cannot be created, is read-only
    or is full refuses the request (:class:`~skill.errors.OutputDirError`, exit 73) instead of
    leaving a paid video with nowhere to go. When this folder or one above it passed an
    fsync'ed probe in the last :data:`SYNCED_PROBE_WINDOW_S` seconds (a batch's item folders
    under its root), that probe vouches for the filesystem: the folder is only created and
    asked for write access (a file in the way, or a folder made read-only, is still refused).
    Else the probe is written, and fsync'ed unless ``sync=False`` (the check right before a
    download, which fsyncs its own file and reports its own failure).
    """
    target = Path(path).expanduser()
    try:
        target = target.resolve()
        target.mkdir(parents=True, exist_ok=True)
        now = time.monotonic()
        if _vouched(target, now):
            if not os.access(target, os.W_OK | os.X_OK):
                raise PermissionError(13, "Permission denied")
            return target
        vouched = not sync
        fd, probe = tempfile.mkstemp(prefix=".kling3-probe-", dir=target)
        try:
            os.write(fd, b"kling3 output folder probe\n")
            if not vouched:
                os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
        if not vouched:
            with _synced_lock:
                _synced[target] = now
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


def _vouched(target: Path, now: float) -> bool:
    """Whether ``target`` or a folder above it passed an fsync'ed probe in the window."""
    with _synced_lock:
        return any(p in _synced and now - _synced[p] < SYNCED_PROBE_WINDOW_S for p in (target, *target.parents))
