"""Progress on stderr while a job runs: JSON lines with ``--json``, short lines for people.

Kept apart from :mod:`skill.cli.render` because it knows the typed progress events, which the
plan path never loads: the commands that wait import this module in their handlers.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from skill.cli.render import emit_json, say
from skill.execution import events as ev
from skill.money import usd

__all__ = ["WATCH", "progress_line", "progress_printer", "size_words"]


WATCH = ev.SubmitWatch()
"""What this process submitted, for the entry point's last word on an unexpected error (a CLI
command runs in a process of its own)."""


def progress_printer(as_json: bool) -> Callable[[ev.Event], None]:
    """Progress on stderr: JSON lines with --json, short lines for people otherwise."""
    tty = sys.stderr.isatty()
    last_bar: list[Any] = [0.0, None]

    def show(event: ev.Event) -> None:
        WATCH.see(event)
        if as_json:
            emit_json(event.to_json_dict(), sys.stderr)
            return
        if isinstance(event, ev.DownloadProgress):
            now, seen = time.monotonic(), (event.url, event.bytes, event.total)
            if tty and seen != last_bar[1] and (now - last_bar[0] >= 0.1 or event.total == event.bytes):
                last_bar[:] = [now, seen]
                _draw_download_bar(event.bytes, event.total)
            return
        line = progress_line(event)
        if line:
            say(line)

    return show


def progress_line(event: ev.Event) -> str | None:
    """What one progress event says to a person on stderr (``None``: nothing worth a line)."""
    match event:
        case ev.Status(status=status, queue_position=pos, elapsed_s=elapsed):
            return f"[poll] {status}" + (f" (position {pos})" if pos is not None else "") + f"  {elapsed} s"
        case ev.Submitting():
            return f"[submit] {event.endpoint} (segment {event.segment}, {usd(event.cost_usd)})"
        case ev.Submitted():
            return f"[submit] request_id: {event.request_id}"
        case ev.Downloading():
            return f"[download] to {event.output_dir}"
        case ev.Done():
            lines = [f"[ok] {f}" for f in event.files + event.images]
            lines += [f"[skip] {s['url']}: {s['reason']}" for s in event.skipped]
            return "\n".join(lines) or None
        case ev.Cancelled():
            return f"[cancelled] {event.request_id}"
        case ev.NotCancellable() | ev.CancelFailed() | ev.SchemaUnavailable():
            return f"[{event.event}] {event.message}"
        case ev.DownloadProgress() | ev.Finishing() | ev.FinishFailed() | ev.Finished():
            return None
        case _:
            ev.unhandled(event)


def size_words(n: int) -> str:
    """``980 bytes``, ``16.7 kB``, ``3.0 MB``: decimal units, as the live table's rich shows them."""
    if n < 1000:
        return f"{n} bytes"
    value = float(n)
    for unit in ("kB", "MB", "GB"):
        value /= 1000
        if value < 1000:
            return f"{value:.1f} {unit}"
    return f"{value / 1000:.1f} TB"


def _draw_download_bar(done: int, total: int | None) -> None:
    """Redraw the download bar in place (a TTY only), once more with a newline when it is full."""
    if total:
        width = 30
        filled = int(width * min(done, total) / total)
        sys.stderr.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {size_words(done)} / {size_words(total)}")
        if done >= total:
            sys.stderr.write("\n")
    else:
        sys.stderr.write(f"\r  {size_words(done)}")
    sys.stderr.flush()
