"""One exception tree for the whole package.

Every error carries a stable ``code`` (for ``--json`` and tool errors), the request ``field``
at fault when there is one, and the sysexits ``exit_code`` the CLI returns. Callers catch
:class:`Kling3Error` for everything, or a branch for one family.

    Kling3Error
    ├── UsageError           64  wrong command-line usage
    ├── InputError           65  a request refused before anything is sent (policy refusals)
    ├── ConfigError          78  a broken rules, catalog or template file
    │                            (also: no usable ffmpeg when a video must be stitched/cropped)
    ├── AuthError            77  no token, or the API rejected it
    ├── ApiError                 the API answered with an error
    │   ├── ApiClientError   65  4xx (402: no balance)
    │   └── ApiServerError   69  5xx
    ├── Unavailable          69  something this machine must provide is taken or missing
    │                            (the port ``kling3 emulator`` was asked to listen on)
    ├── TransientError       75  worth retrying later: rate limits, network, time-outs
    │   ├── WaitTimeout      75  the job is still running; fetch it later by request_id
    │   ├── SubmitUnconfirmed 75 the submit may have reached the server; it is not repeated
    │   └── DownloadError    75  the job is done and paid; the file could not be saved
    ├── JobFailed             1  the job ended failed or cancelled
    ├── VideoError            1  local finishing failed: ffmpeg failed or timed out, or the
    │                            stitched/cropped video failed its check (segments are kept)
    ├── Mp4Error              1  bytes that are not a complete MP4 with a video track; also a
    │                            ValueError. Its callers turn it into DownloadError (not_mp4)
    │                            or VideoError (video_unreadable), so it never reaches the CLI
    └── Interrupted         130  Ctrl-C
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiClientError",
    "ApiError",
    "ApiServerError",
    "AuthError",
    "ConfigError",
    "DownloadError",
    "InputError",
    "Interrupted",
    "JobFailed",
    "Kling3Error",
    "Mp4Error",
    "SubmitUnconfirmed",
    "TransientError",
    "Unavailable",
    "UsageError",
    "VideoError",
    "WaitTimeout",
]

VIDEO_TOOLS_MISSING = (
    "stitching/cropping unavailable: segments kept as separate files; install kling3-skill[video]"
)
"""The sentence behind ``ConfigError(code="ffmpeg_missing")`` and the plan warning
``video_tools_missing``. It lives here, the one module both :mod:`skill.planning` (which must
not import :mod:`skill.media`) and :mod:`skill.media.ffmpeg` depend on. Not in ``__all__``:
that lists the exception tree the package exports (``tests/test_api.py`` keeps the two equal)."""


class Kling3Error(Exception):
    """Base of every error this package raises on purpose."""

    code: str = "error"
    exit_code: int = 1

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        request_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field
        self.request_id = request_id
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of an error: ``{"code", "field", "message", ...}``."""
        out: dict[str, Any] = {"code": self.code, "field": self.field, "message": self.message}
        if self.request_id is not None:
            out["request_id"] = self.request_id
        out.update(self.details)
        return out


class UsageError(Kling3Error):
    code = "usage"
    exit_code = 64


class InputError(Kling3Error):
    """A refusal: the request cannot run as asked, so nothing is sent and nothing is paid."""

    code = "invalid_input"
    exit_code = 65


class ConfigError(Kling3Error):
    code = "config_error"
    exit_code = 78


class AuthError(Kling3Error):
    code = "auth"
    exit_code = 77


class ApiError(Kling3Error):
    """The API answered with an error status; ``status`` is the HTTP status."""

    code = "api_error"

    def __init__(self, message: str, *, status: int | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.status = status
        if status is not None:
            self.details.setdefault("http_status", status)


class ApiClientError(ApiError):
    code = "api_rejected"
    exit_code = 65


class ApiServerError(ApiError):
    code = "api_unavailable"
    exit_code = 69


class Unavailable(Kling3Error):
    """A local resource the command needs is not available (EX_UNAVAILABLE): another program
    holds the port ``kling3 emulator`` was asked to listen on. Nothing was sent anywhere."""

    code = "unavailable"
    exit_code = 69


class TransientError(Kling3Error):
    code = "temporary_failure"
    exit_code = 75


class WaitTimeout(TransientError):
    code = "timeout"


class SubmitUnconfirmed(TransientError):
    code = "submit_unconfirmed"


class DownloadError(TransientError):
    code = "download_failed"


class JobFailed(Kling3Error):
    code = "job_failed"
    exit_code = 1


class VideoError(Kling3Error):
    """ffmpeg failed, timed out, or the finished video is not what was asked. Segments are kept.

    Exit 1 like :class:`JobFailed`: the calls were made and paid; only the local finishing
    failed, and retrying the same command would fail the same way.
    """

    code = "video_failed"
    exit_code = 1


class Mp4Error(Kling3Error, ValueError):
    """The bytes are not a complete MP4 with a video track (:mod:`skill.media.mp4probe`).

    Still a ``ValueError``, as it was before it joined this tree, so code that caught it as
    one keeps working. Callers translate it: a download becomes ``DownloadError(code="not_mp4")``
    and a probe falls back to ffmpeg or raises ``VideoError(code="video_unreadable")``. Exit 1
    is what an uncaught exception gave, should one ever escape.
    """

    code = "mp4_invalid"
    exit_code = 1


class Interrupted(Kling3Error):
    code = "interrupted"
    exit_code = 130
