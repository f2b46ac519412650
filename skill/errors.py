"""One exception tree for the whole package.

Every error carries a stable ``code`` (for ``--json`` and tool errors), the request ``field``
at fault when there is one, and the sysexits ``exit_code`` the CLI returns. Callers catch
:class:`Kling3Error` for everything, or a branch for one family.

    Kling3Error
    ├── UsageError           64  wrong command-line usage
    ├── Declined             10  "no" at the confirmation question: nothing was sent
    ├── InputError           65  a request refused before anything is sent (policy refusals)
    │   └── NoInput          66  an input file (a batch) does not exist or cannot be read
    ├── OutputDirError       73  the output folder cannot be created or written: nothing sent
    ├── InternalError        70  a bug, caught before anything was sent
    ├── ConfigError          78  a broken rules, catalog or template file
    │                            (also: no usable ffmpeg when a video must be stitched/cropped)
    ├── AuthError            77  no token, or the API rejected it
    ├── ApiError                 the API answered with an error
    │   ├── ApiClientError   65  4xx (402: no balance)
    │   └── ApiServerError   69  5xx
    ├── SubmitUnconfirmed    69  the submit may have reached the server ("paid": "unknown");
    │                            it is not repeated, and must not be before checking
    ├── NotSent              69  the submit could not be sent (network, rate limit, a locked
    │                            journal): nothing was paid, try again later
    ├── Unavailable          69  something this machine must provide is taken or missing
    │                            (the port ``kling3 emulator`` was asked to listen on)
    ├── JournalUnreachable   74  the journal's database server cannot be reached: checked
    │                            before any submit, so nothing was sent or paid
    ├── TransientError       75  worth retrying later: rate limits, network, time-outs
    │   ├── WaitTimeout      75  the job is still running; fetch it later by request_id
    │   ├── DownloadError    75  the job is done and paid; the file could not be saved
    │   └── JobUnfinished    75  any other failure after a confirmed (paid) submit:
    │                            `kling3 resume ID` finishes the job, never a new submit
    ├── JobFailed             1  the job ended failed or cancelled
    ├── VideoError            1  local finishing failed: ffmpeg failed or timed out, or the
    │                            stitched/cropped video failed its check (segments are kept)
    ├── Mp4Error              1  bytes that are not a complete MP4 with a video track; also a
    │                            ValueError. Its callers turn it into DownloadError (not_mp4)
    │                            or VideoError (video_unreadable), so it never reaches the CLI
    └── Interrupted         130  Ctrl-C

The contract the exit codes keep (README, SKILL.md): only 1 says "the job itself failed", and 65
("refused, nothing was sent") is never used once a submit was confirmed. :func:`after_submit`
turns whatever goes wrong after a confirmed submit into an exit-75 error that names the
request_id and the command that finishes the job, because every other answer would invite a
second payment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "ApiClientError",
    "ApiError",
    "ApiServerError",
    "AuthError",
    "ConfigError",
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


class JournalUnreachable(Kling3Error):
    """The journal's database (``KLING3_JOURNAL_URL``) cannot be reached (EX_IOERR). A journal
    that cannot record a job means no submit, so nothing was sent or paid."""

    code = "journal_unreachable"
    exit_code = 74


class TransientError(Kling3Error):
    code = "temporary_failure"
    exit_code = 75


class WaitTimeout(TransientError):
    code = "timeout"


class SubmitUnconfirmed(Kling3Error):
    """The submit may or may not have created a (paid) job: an HTTP 5xx, a dropped connection or
    a time-out after the request left. It is never repeated; the journal keeps it as *possibly
    paid* until the user settles it (``kling3 jobs --settle``)."""

    code = "submit_unconfirmed"
    exit_code = 69

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "paid": "unknown"}


class NotSent(Kling3Error):
    """A passing failure before the submit left (connection refused, rate limited to the end,
    the journal locked): nothing was sent or paid, so trying again later is safe. ``code`` is
    the cause's."""

    code = "not_sent"
    exit_code = 69

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "paid": False}


class DownloadError(TransientError):
    code = "download_failed"


class JobUnfinished(TransientError):
    """The job was submitted (it is paid) but this command could not finish it: the API kept
    failing, the journal stayed locked, the files could not be saved... ``code`` is the cause's."""

    code = "job_unfinished"


class Declined(Kling3Error):
    """The user answered "no" at the confirmation question: nothing was sent. Not a usage error."""

    code = "not_confirmed"
    exit_code = 10


class NoInput(InputError):
    """An input file (``kling3 batch FILE``, ``plan --batch FILE``) is missing or unreadable."""

    code = "no_input"
    exit_code = 66


class OutputDirError(Kling3Error):
    """The output folder cannot be created or written (EX_CANTCREAT); checked before paying."""

    code = "output_dir_unusable"
    exit_code = 73


class InternalError(Kling3Error):
    """An unexpected error (a bug) before anything was sent (EX_SOFTWARE)."""

    code = "internal_error"
    exit_code = 70


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


_KEEP_MEANING = (JobFailed, Interrupted, SubmitUnconfirmed)


def resume_command(request_ids: str | Sequence[str]) -> str:
    """The one command that finishes paid jobs (it polls and downloads, never submits):
    ``kling3 resume ID`` for one job, ``kling3 resume --all`` for several."""
    ids = [request_ids] if isinstance(request_ids, str) else list(request_ids)
    return f"kling3 resume {ids[0]}" if len(ids) == 1 else "kling3 resume --all"


def after_submit(exc: BaseException, request_ids: str | Sequence[str]) -> Kling3Error:
    """``exc``, raised once the submit of ``request_ids`` was confirmed, as the error to report.

    The jobs exist and are paid, so the answer must never read as "refused" (65), "unavailable,
    retry" (69) or "failed, change the prompt" (1) unless a job itself failed: the result is an
    exit-75 error (its ``code`` is the cause's) naming the request_id(s), ``"paid": true`` and
    the command that finishes them. A :class:`JobFailed`, :class:`Interrupted` or
    :class:`SubmitUnconfirmed` keeps its own meaning (the paid ids are added to its details);
    an error already converted is returned unchanged.
    """
    ids = [request_ids] if isinstance(request_ids, str) else list(request_ids)
    if isinstance(exc, Kling3Error) and exc.details.get("paid") is True:
        return exc
    command = resume_command(ids)
    if isinstance(exc, _KEEP_MEANING):
        if isinstance(exc, SubmitUnconfirmed):
            exc.details["submitted_request_ids"] = ids
            exc.message += f" The calls submitted before it ({', '.join(ids)}) are paid: `{command}` finishes them."
            exc.args = (exc.message,)
        else:
            exc.request_id = exc.request_id or ids[0]
            if len(ids) > 1:
                exc.details.setdefault("request_ids", ids)
        return exc
    named = f"job {ids[0]} was" if len(ids) == 1 else f"jobs {', '.join(ids)} were"
    tail = f"; {named} submitted and paid for: do not submit again, finish with `{command}`"
    if isinstance(exc, TransientError):
        out: Kling3Error = exc
        out.message = exc.message.rstrip(". ") + tail
        out.args = (out.message,)
    elif isinstance(exc, Kling3Error):
        out = JobUnfinished(
            exc.message.rstrip(". ") + tail, code=exc.code, field=exc.field, details=exc.details
        )
    else:
        text = str(exc)
        cause = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        out = JobUnfinished(f"unexpected error ({cause})" + tail, code="internal_error")
    out.request_id = out.request_id or ids[0]
    out.details.update(paid=True, resume_command=command)
    if len(ids) > 1:
        out.details["request_ids"] = ids
    return out
