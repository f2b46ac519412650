"""kling3-skill: plan, price and run Kling 3.0 video generations on the RunComfy Model API.

Public API (imported lazily, so ``import skill`` stays light)::

    >>> from skill import plan
    >>> p = plan("a quick vertical draft of a barista pulling espresso, with cafe sound")
    >>> p.endpoint, p.cost_usd
    ('kling/kling-3.0/standard/text-to-video', 0.63)

``plan`` is free; ``run``/``arun`` take the same request (text, dict of friendly fields, or a
``Plan``) and spend; ``status``, ``result``, ``cancel``, ``jobs`` and ``resume`` follow the job.

Models: ``VideoRequest``, ``Shot``, ``Plan``, ``Segment``, ``Params``, ``Decision``,
``RunResult``, ``CallResult``. Errors: see :mod:`skill.errors` (``Kling3Error`` and its tree).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from skill._version import __version__

_EXPORTS: dict[str, str] = {
    "run": "skill.execution.flow",
    "arun": "skill.execution.flow",
    "status": "skill.execution.flow",
    "cancel": "skill.execution.flow",
    "jobs": "skill.execution.flow",
    "resume": "skill.execution.flow",
    "VideoRequest": "skill.request",
    "Shot": "skill.request",
    "Plan": "skill.planning",
    "Segment": "skill.planning",
    "Params": "skill.planning",
    "Decision": "skill.planning",
    "RunResult": "skill.execution.flow",
    "CallResult": "skill.execution.flow",
    "Kling3Error": "skill.errors",
    "OutputDirError": "skill.errors",
    "NoInput": "skill.errors",
    "NotSent": "skill.errors",
    "JobUnfinished": "skill.errors",
    "JournalUnreachable": "skill.errors",
    "InternalError": "skill.errors",
    "Declined": "skill.errors",
    "UsageError": "skill.errors",
    "InputError": "skill.errors",
    "ConfigError": "skill.errors",
    "AuthError": "skill.errors",
    "ApiError": "skill.errors",
    "ApiClientError": "skill.errors",
    "ApiServerError": "skill.errors",
    "TransientError": "skill.errors",
    "Unavailable": "skill.errors",
    "WaitTimeout": "skill.errors",
    "SubmitUnconfirmed": "skill.errors",
    "DownloadError": "skill.errors",
    "JobFailed": "skill.errors",
    "VideoError": "skill.errors",
    "Mp4Error": "skill.errors",
    "Interrupted": "skill.errors",
}

__all__ = [
    "ApiClientError",
    "ApiError",
    "ApiServerError",
    "AuthError",
    "CallResult",
    "ConfigError",
    "Decision",
    "Declined",
    "DownloadError",
    "InputError",
    "InternalError",
    "Interrupted",
    "JobFailed",
    "JobUnfinished",
    "JournalUnreachable",
    "Kling3Error",
    "Mp4Error",
    "NoInput",
    "NotSent",
    "OutputDirError",
    "Params",
    "Plan",
    "RunResult",
    "Segment",
    "Shot",
    "SubmitUnconfirmed",
    "TransientError",
    "Unavailable",
    "UsageError",
    "VideoError",
    "VideoRequest",
    "WaitTimeout",
    "__version__",
    "arun",
    "cancel",
    "jobs",
    "plan",
    "result",
    "resume",
    "run",
    "status",
]


def plan(request: str | dict[str, Any] | VideoRequest | None = None, /, **fields: Any) -> Plan:
    """Plan without spending: ``plan("text", tier="pro", duration=8)`` or ``plan({...})``."""
    from skill.media.ffmpeg import video_tools_available
    from skill.planning import make_plan
    from skill.request import VideoRequest

    if isinstance(request, VideoRequest):
        data: dict[str, Any] = {**request.model_dump(exclude_none=True), **fields}
    elif isinstance(request, dict):
        data = {**request, **fields}
    else:
        data = {"text": request or "", **fields}
    return make_plan(data, video_tools=video_tools_available)


def result(request_id: str, **options: Any) -> CallResult:
    """Fetch a job's video by request_id (``wait=True`` to wait for it); downloads the files."""
    from skill.execution.flow import fetch

    return fetch(request_id, **options)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'skill' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:
    from skill.errors import (
        ApiClientError,
        ApiError,
        ApiServerError,
        AuthError,
        ConfigError,
        Declined,
        DownloadError,
        InputError,
        InternalError,
        Interrupted,
        JobFailed,
        JobUnfinished,
        JournalUnreachable,
        Kling3Error,
        Mp4Error,
        NoInput,
        NotSent,
        OutputDirError,
        SubmitUnconfirmed,
        TransientError,
        Unavailable,
        UsageError,
        VideoError,
        WaitTimeout,
    )
    from skill.execution.flow import CallResult, RunResult, arun, cancel, jobs, resume, run, status
    from skill.planning import Decision, Params, Plan, Segment
    from skill.request import Shot, VideoRequest
