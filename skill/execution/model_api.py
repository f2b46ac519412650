"""What the execution flow needs from the RunComfy Model API: its operations and their answers.

:mod:`skill.execution.flow` and :mod:`skill.execution.batch` are written against the
:class:`ModelApi` and :class:`AsyncModelApi` protocols, not against the HTTP client, so the
paid-call logic does not depend on how requests travel and a test or an embedding host can drive
it with any object that answers the same calls. :class:`~skill.execution.client.RunComfyClient`
and its async twin are the implementations.

The answer records live here, next to the protocols that return them, for the same reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from skill.execution.states import API_CANCELLED, API_DONE

__all__ = [
    "AsyncModelApi",
    "CancelOutcome",
    "JobResult",
    "JobStatus",
    "ModelApi",
    "Submission",
    "wire_json",
]


def wire_json(payload: Mapping[str, Any]) -> str:
    """The exact JSON text of a submit body: what the client sends and what the journal keeps,
    so the journal's copy is the body that was sent, byte for byte. ``ValueError`` or
    ``TypeError`` for what is not strict JSON (NaN, infinities, objects)."""
    return json.dumps(dict(payload), ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True)
class Submission:
    """The submit answer. The URLs are informational: the client builds its own from the base."""

    request_id: str
    status_url: str | None
    result_url: str | None
    cancel_url: str | None
    raw: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class JobStatus:
    """One status poll; ``status`` is lower-cased and passed through even when unknown."""

    request_id: str
    status: str
    queue_position: int | None
    raw: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class JobResult:
    """The result record. ``output`` is the output object (a bare URL or list is wrapped as
    ``{"output": value}``); ``status`` may still be ``in_queue``/``in_progress``."""

    request_id: str
    status: str
    output: dict[str, Any] | None
    error: Any
    raw: dict[str, Any] = field(repr=False)

    @property
    def done(self) -> bool:
        return self.status in API_DONE

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    @property
    def cancelled(self) -> bool:
        return self.status in API_CANCELLED


@dataclass(frozen=True)
class CancelOutcome:
    """``outcome`` is ``cancelled``, ``not_cancellable`` or whatever else the API said."""

    request_id: str
    outcome: str
    status: str | None
    raw: dict[str, Any] = field(repr=False)


class ModelApi(Protocol):
    """The blocking Model API operations the flow performs.

    ``base_url`` is there because downloads trust the API's own origin and the live-schema
    cache is keyed by it. An implementation may also offer ``download_http()``, the HTTP client
    the outputs are fetched through (the HTTP client does: one pool for a whole batch).
    """

    @property
    def base_url(self) -> str:
        """The API base, ``/v1`` included."""
        ...

    def submit(self, model_id: str, payload: dict[str, Any]) -> Submission:
        """Create one paid job. Must never repeat a request that may have reached the server:
        raise :class:`~skill.errors.SubmitUnconfirmed` instead, so the flow journals it."""
        ...

    def status(self, request_id: str) -> JobStatus:
        """One status poll."""
        ...

    def result(self, request_id: str) -> JobResult:
        """The result record: outputs when done, the error when failed."""
        ...

    def cancel(self, request_id: str) -> CancelOutcome:
        """Ask to cancel; only a queued job can be."""
        ...

    def model_schema(self, model_id: str) -> dict[str, Any]:
        """The model's details, ``input_schema`` included, for the live payload check."""
        ...


class AsyncModelApi(Protocol):
    """The asyncio twin of :class:`ModelApi`: the same operations, awaited."""

    @property
    def base_url(self) -> str:
        """The API base, ``/v1`` included."""
        ...

    async def submit(self, model_id: str, payload: dict[str, Any]) -> Submission:
        """As :meth:`ModelApi.submit`: never repeated once it may have arrived."""
        ...

    async def status(self, request_id: str) -> JobStatus:
        """One status poll."""
        ...

    async def result(self, request_id: str) -> JobResult:
        """The result record: outputs when done, the error when failed."""
        ...

    async def cancel(self, request_id: str) -> CancelOutcome:
        """Ask to cancel; only a queued job can be."""
        ...

    async def model_schema(self, model_id: str) -> dict[str, Any]:
        """The model's details, ``input_schema`` included, for the live payload check."""
        ...
