"""The Python API in one place: plan for free, run for money, then follow the job.

    >>> from skill import plan
    >>> p = plan("a quick vertical draft of a barista pulling espresso, with cafe sound")
    >>> p.endpoint, p.cost_usd
    ('kling/kling-3.0/standard/text-to-video', 0.63)

``run``/``arun`` take the same request (text, dict of friendly fields, or a ``Plan``) and spend.
"""

from __future__ import annotations

from typing import Any

from skill.execution.flow import (
    CallResult,
    RunResult,
    arun,
    cancel,
    fetch,
    jobs,
    resume,
    run,
    status,
)
from skill.media.ffmpeg import video_tools_available
from skill.planning import Plan, make_plan
from skill.request import VideoRequest

__all__ = ["arun", "cancel", "jobs", "plan", "result", "resume", "run", "status"]


def plan(request: str | dict[str, Any] | VideoRequest | None = None, /, **fields: Any) -> Plan:
    """Plan without spending: ``plan("text", tier="pro", duration=8)`` or ``plan({...})``."""
    if isinstance(request, VideoRequest):
        data: dict[str, Any] = {**request.model_dump(exclude_none=True), **fields}
    elif isinstance(request, dict):
        data = {**request, **fields}
    else:
        data = {"text": request or "", **fields}
    return make_plan(data, video_tools=video_tools_available)


def result(request_id: str, **options: Any) -> CallResult:
    """Fetch a job's video by request_id (``wait=True`` to wait for it); downloads the files."""
    return fetch(request_id, **options)


# Re-exported so `skill.api` documents the whole surface.
_ = (arun, cancel, jobs, resume, run, status, RunResult)
