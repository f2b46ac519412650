"""The live display of ``run`` and ``batch`` on a terminal: one row per job, redrawn in place.

A paid job spends minutes in the queue; a screen frozen on ``[poll] in_queue`` looks like a hang.
On a TTY (and never with ``--json``) these commands show a table instead, redrawn a few times a
second by rich: each job's state, its queue position, the time since it was sent (ticking), a
download bar with real sizes, and where the file went. A batch has its rows from the start,
queued ones included. Warnings and errors print above the table, in colour unless ``NO_COLOR``
is set (rich honours it). Not a TTY: the plain lines of :mod:`skill.cli.progress`, unchanged.

rich is imported here at the top, so only the commands that draw this (imported in their
handlers, after the TTY check) ever load it; ``plan`` never does.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.filesize import decimal
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from skill.execution import events as ev
from skill.money import usd

__all__ = ["LiveBoard", "live_board"]

_STYLES = {
    "queued": "dim", "submitting": "cyan", "submitted": "cyan", "in_queue": "yellow",
    "in_progress": "blue", "running": "blue", "downloading": "blue", "finishing": "blue",
    "completed": "green", "saved": "green", "failed": "bold red", "error": "bold red",
    "cancelled": "magenta", "refused": "magenta", "timeout": "yellow", "interrupted": "yellow",
    "not_started": "dim",
}  # fmt: skip
_FINAL = frozenset({"saved", "completed", "failed", "error", "cancelled", "refused", "timeout", "interrupted",
                    "not_started"})  # fmt: skip


@dataclass
class _Row:
    """One job as the table shows it."""

    label: str
    state: str = "queued"
    position: int | None = None
    started: float | None = None
    stopped: float | None = None
    done_bytes: int = 0
    total_bytes: int | None = None
    downloading: bool = False
    result: str = ""
    cost: float | None = None
    request_ids: list[str] = field(default_factory=list)

    def set_state(self, state: str, now: float) -> None:
        self.state = state
        if state in _FINAL and self.started is not None and self.stopped is None:
            self.stopped = now

    def elapsed(self, now: float) -> str:
        if self.started is None:
            return ""
        return f"{(self.stopped or now) - self.started:.1f} s"


class LiveBoard:
    """The rows of one run or batch; :meth:`on_event` and :meth:`on_item` feed it, rich draws it.

    Thread-safe: the flow feeds it from one thread while rich redraws from its own.
    """

    def __init__(self, console: Console, title: str = "") -> None:
        self.console = console
        self.title = title
        self._rows: dict[Any, _Row] = {}
        self._by_request: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._clock = time.monotonic
        self.redraw: Callable[[], None] = lambda: None  # set by live_board: draw now, between ticks

    # -- feeding -----------------------------------------------------------------------------

    def add_row(self, key: Any, label: str, cost: float | None = None) -> None:
        """A row before anything happens to it, so every job shows from the start."""
        with self._lock:
            self._rows.setdefault(key, _Row(label=label, cost=cost))

    def warn(self, message: str) -> None:
        """A warning above the table, in yellow."""
        self.console.print(Text.assemble(("warning: ", "bold yellow"), message))

    def error(self, message: str) -> None:
        """An error above the table, in bold red."""
        self.console.print(Text.assemble(("error: ", "bold red"), message))

    def note(self, message: str) -> None:
        self.console.print(Text(message, style="dim"))

    def on_item(self, item: Any) -> None:
        """A batch item changed (queued, running, then final): its row follows."""
        with self._lock:
            row = self._rows.setdefault(item.index, _Row(label=item.label or f"item {item.index}"))
            now = self._clock()
            if item.status == "running" and row.started is None:
                row.started = now
            if item.status not in ("queued", "running") or row.state in ("queued", "submitting"):
                row.set_state("saved" if item.status == "completed" else item.status, now)
            row.cost = item.cost_usd if item.status in _FINAL else item.planned_cost_usd
            if item.status == "completed":
                row.result = item.video or (item.files[0] if item.files else "")
            elif item.error:
                row.result = str(item.error.get("code"))
        if item.error and item.status != "not_started":
            say = self.error if item.status in ("failed", "error") else self.warn
            say(f"[{item.index}] {item.error.get('code')}: {item.error.get('message', '')}")

    def on_event(self, event: ev.Event, key: Any = None) -> None:
        """A progress event of the job ``key`` (a segment for ``run``, the item index in a batch)."""
        message: tuple[str, str] | None = None
        with self._lock:
            message = self._apply(event, key, self._clock())
        if isinstance(event, ev.DownloadProgress) and event.total and event.bytes >= event.total:
            self.redraw()  # the finished size is drawn once, however fast the file came
        if message is not None:
            kind, text = message
            (self.warn if kind == "warn" else self.error if kind == "error" else self.note)(text)

    def _row_for(self, event: ev.Event, key: Any) -> _Row:
        rid = getattr(event, "request_id", None)
        if key is None and rid is not None:
            key = self._by_request.get(rid, rid)
        if key is None:
            key = getattr(event, "segment", 1)
        return self._rows.setdefault(key, _Row(label=str(rid or key)))

    def _apply(self, event: ev.Event, key: Any, now: float) -> tuple[str, str] | None:
        """Update the rows; return a ``(kind, text)`` line to print above the table, if any."""
        match event:
            case ev.Submitting():
                row = self._row_for(event, key)
                row.set_state("submitting", now)
                if key is None:  # a run's row is one call; a batch item's cost comes from its plan
                    row.cost = event.cost_usd
            case ev.Submitted():
                if key is None:
                    self._by_request[event.request_id] = event.segment
                row = self._row_for(event, key if key is not None else event.segment)
                row.request_ids.append(event.request_id)
                row.set_state("submitted", now)
                if row.started is None:
                    row.started = now
            case ev.Status():
                row = self._row_for(event, key)
                if row.started is None:
                    row.started = now - event.elapsed_s
                row.position = event.queue_position
                row.set_state(event.status, now)
            case ev.Downloading():
                row = self._row_for(event, key)
                row.set_state("downloading", now)
                row.downloading, row.position = True, None
            case ev.DownloadProgress():
                row = self._row_for(event, key)
                row.done_bytes, row.total_bytes, row.downloading = event.bytes, event.total, True
            case ev.Done():
                row = self._row_for(event, key)
                row.set_state("saved", now)
                row.result = ", ".join(event.files)
            case ev.Cancelled():
                self._row_for(event, key).set_state("cancelled", now)
                return "warn", f"cancelled {event.request_id} while queued: it is not charged"
            case ev.NotCancellable() | ev.CancelFailed():
                return "warn", event.message
            case ev.SchemaUnavailable():
                return "warn", f"{event.endpoint}: {event.message}"
            case ev.Finishing():
                return "note", f"finishing: {event.segments} segment(s) into one {event.aspect_ratio} video"
            case ev.FinishFailed():
                return "error", f"{event.code}: {event.message}; the segments are kept"
            case ev.Finished():
                return "note", f"finished: {event.path}"
            case _:
                ev.unhandled(event)
        return None

    # -- drawing -----------------------------------------------------------------------------

    @staticmethod
    def _state(row: _Row) -> Text:
        text = row.state + (f" #{row.position}" if row.position is not None else "")
        return Text(text, style=_STYLES.get(row.state, ""))

    @staticmethod
    def _download(row: _Row) -> RenderableType:
        """The bar and real sizes while downloading; the saved file's name (or the error) after."""
        if row.result:
            style = "green" if row.state == "saved" else _STYLES.get(row.state, "")
            return Text(row.result.rsplit("/", 1)[-1] if row.state == "saved" else row.result, style=style,
                        overflow="ellipsis", no_wrap=True)  # fmt: skip
        if not row.downloading:
            return Text("")
        sizes = decimal(row.done_bytes) + (f" / {decimal(row.total_bytes)}" if row.total_bytes else "")
        grid = Table.grid(padding=(0, 1))
        grid.add_row(ProgressBar(total=row.total_bytes, completed=row.done_bytes, width=12,
                                 pulse=row.total_bytes is None), Text(sizes, no_wrap=True))  # fmt: skip
        return grid

    def __rich__(self) -> RenderableType:
        now = self._clock()
        table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold", expand=False)
        table.add_column("#", justify="right", no_wrap=True)
        table.add_column("job", no_wrap=True, overflow="ellipsis", ratio=1, min_width=8, max_width=32)
        table.add_column("state", no_wrap=True)
        table.add_column("time", justify="right", no_wrap=True)
        table.add_column("cost", justify="right", no_wrap=True)
        table.add_column("download / file", no_wrap=True, overflow="ellipsis", ratio=1, min_width=12, max_width=44)
        with self._lock:
            for key, row in list(self._rows.items()):
                cost = "" if row.cost is None else usd(row.cost)
                table.add_row(str(key), row.label, self._state(row), row.elapsed(now), cost, self._download(row))
        return Group(Text(self.title, style="bold"), table) if self.title else table


@contextlib.contextmanager
def live_board(title: str = "", *, transient: bool = False) -> Iterator[LiveBoard]:
    """A :class:`LiveBoard` drawn on stderr while the block runs (stdout is left alone)."""
    console = Console(stderr=True, highlight=False)
    board = LiveBoard(console, title)
    with Live(board, console=console, refresh_per_second=8, transient=transient, redirect_stdout=False) as live:
        board.redraw = live.refresh
        yield board
