"""kling3-skill: plan, price and run Kling 3.0 video generations on the RunComfy Model API.

Public API (imported lazily, so ``import skill`` stays light)::

    from skill import plan, run, arun, status, result, cancel, jobs, resume

Models: ``VideoRequest``, ``Shot``, ``Plan``, ``Segment``, ``Params``, ``Decision``,
``RunResult``, ``CallResult``. Errors: see :mod:`skill.errors` (``Kling3Error`` and its tree).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from skill._version import __version__

_EXPORTS: dict[str, str] = {
    "plan": "skill.api",
    "run": "skill.api",
    "arun": "skill.api",
    "status": "skill.api",
    "result": "skill.api",
    "cancel": "skill.api",
    "jobs": "skill.api",
    "resume": "skill.api",
    "VideoRequest": "skill.request",
    "Shot": "skill.request",
    "Plan": "skill.planning",
    "Segment": "skill.planning",
    "Params": "skill.planning",
    "Decision": "skill.planning",
    "RunResult": "skill.execution.flow",
    "CallResult": "skill.execution.flow",
    "Kling3Error": "skill.errors",
    "UsageError": "skill.errors",
    "InputError": "skill.errors",
    "ConfigError": "skill.errors",
    "AuthError": "skill.errors",
    "ApiError": "skill.errors",
    "ApiClientError": "skill.errors",
    "ApiServerError": "skill.errors",
    "TransientError": "skill.errors",
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
    "DownloadError",
    "InputError",
    "Interrupted",
    "JobFailed",
    "Kling3Error",
    "Mp4Error",
    "Params",
    "Plan",
    "RunResult",
    "Segment",
    "Shot",
    "SubmitUnconfirmed",
    "TransientError",
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
    from skill.api import arun, cancel, jobs, plan, result, resume, run, status
    from skill.errors import (
        ApiClientError,
        ApiError,
        ApiServerError,
        AuthError,
        ConfigError,
        DownloadError,
        InputError,
        Interrupted,
        JobFailed,
        Kling3Error,
        Mp4Error,
        SubmitUnconfirmed,
        TransientError,
        UsageError,
        VideoError,
        WaitTimeout,
    )
    from skill.execution.flow import CallResult, RunResult
    from skill.planning import Decision, Params, Plan, Segment
    from skill.request import Shot, VideoRequest
