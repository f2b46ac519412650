"""Typed progress events: what a paid call reports while it runs.

The flow emits them; the CLI printer, the MCP progress notifications, the tool tracker and the
batch runner render them. Each renderer ends its ``match`` with :func:`unhandled`, so a new
event fails type-checking until every renderer says what to do with it. ``to_json_dict`` is the
JSON line ``--json`` prints on stderr (``{"event": "status", ...}``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, Literal, NoReturn

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = [
    "CancelFailed",
    "Cancelled",
    "Done",
    "DownloadProgress",
    "Downloading",
    "Event",
    "EventSink",
    "FinishFailed",
    "Finished",
    "Finishing",
    "NotCancellable",
    "SchemaUnavailable",
    "Status",
    "SubmitWatch",
    "Submitted",
    "Submitting",
    "parse_event",
    "unhandled",
]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Submitting(_Event):
    """About to send a submit: from here on the call may cost money."""

    event: Literal["submitting"] = "submitting"
    endpoint: str
    segment: int
    cost_usd: float
    job_key: str


class Submitted(_Event):
    """The API confirmed the submit: from here on the job is paid. Sent before the request_id is
    journaled, so the id reaches the user even if the journal is busy."""

    event: Literal["submitted"] = "submitted"
    request_id: str
    segment: int
    job_key: str | None = None


class Status(_Event):
    """A poll answer that differs from the previous one."""

    event: Literal["status"] = "status"
    request_id: str
    status: str
    queue_position: int | None = None
    elapsed_s: float = 0.0


class Cancelled(_Event):
    event: Literal["cancelled"] = "cancelled"
    request_id: str


class NotCancellable(_Event):
    event: Literal["not_cancellable"] = "not_cancellable"
    request_id: str
    message: str


class CancelFailed(_Event):
    event: Literal["cancel_failed"] = "cancel_failed"
    request_id: str
    message: str


class Downloading(_Event):
    event: Literal["downloading"] = "downloading"
    request_id: str
    output_dir: str


class DownloadProgress(_Event):
    event: Literal["download_progress"] = "download_progress"
    request_id: str
    url: str
    bytes: int
    total: int | None = None


class Done(_Event):
    """Every video of one call is saved and verified; ``images`` are covers saved beside them,
    ``skipped`` the outputs not saved (``{"url", "reason"}``: an untrusted host, say)."""

    event: Literal["done"] = "done"
    request_id: str
    files: list[str]
    images: list[str] = Field(default_factory=list)
    skipped: list[dict[str, str]] = Field(default_factory=list)


class Finishing(_Event):
    """Stitching or cropping the calls of a run into the one video asked for."""

    event: Literal["finishing"] = "finishing"
    segments: int
    aspect_ratio: str
    run_id: str | None = None


class FinishFailed(_Event):
    event: Literal["finish_failed"] = "finish_failed"
    code: str
    message: str


class Finished(_Event):
    event: Literal["finished"] = "finished"
    path: str


class SchemaUnavailable(_Event):
    """The live schema could not be checked; the call goes ahead on the bundled one."""

    event: Literal["schema_unavailable"] = "schema_unavailable"
    endpoint: str
    message: str


Event = Annotated[
    Submitting
    | Submitted
    | Status
    | Cancelled
    | NotCancellable
    | CancelFailed
    | Downloading
    | DownloadProgress
    | Done
    | Finishing
    | FinishFailed
    | Finished
    | SchemaUnavailable,
    Field(discriminator="event"),
]
EventSink = Callable[[Event], None]

class SubmitWatch:
    """What one command or tool call submitted, seen through its events: if an unexpected error
    ends it, the caller can still name the paid jobs to resume, or say that a submit was under
    way (possibly paid). :meth:`tee` puts it in front of another sink."""

    def __init__(self) -> None:
        self.submitted: list[str] = []
        self.pending: set[str] = set()

    @property
    def in_flight(self) -> bool:
        """A submit was sent and its answer never came back."""
        return bool(self.pending)

    def see(self, event: Event) -> None:
        if isinstance(event, Submitting):
            self.pending.add(event.job_key)
        elif isinstance(event, Submitted):
            if event.job_key is None:
                self.pending.clear()
            self.pending.discard(event.job_key or "")
            self.submitted.append(event.request_id)

    def tee(self, sink: EventSink | None) -> EventSink:
        """A sink that records each event here, then passes it to ``sink``."""

        def both(event: Event) -> None:
            self.see(event)
            if sink is not None:
                sink(event)

        return both


@functools.cache
def _adapter() -> TypeAdapter[Event]:
    return TypeAdapter(Event)


def parse_event(data: dict[str, Any]) -> Event:
    """An event back from its JSON form (for hosts that receive the JSON lines)."""
    return _adapter().validate_python(data)


def unhandled(event: NoReturn) -> NoReturn:
    """End of an exhaustive ``match`` over :data:`Event`: mypy rejects the call while a case is missing."""
    raise AssertionError(f"unhandled progress event: {event!r}")
