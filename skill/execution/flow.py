"""Execution: submit a plan's calls, wait, download, and journal every step.

The flow of one paid call is written once, as a generator that yields I/O operations
("submit", "status", "sleep", ...) and receives their results. A sync driver and an async driver
perform those operations with any :class:`~skill.execution.model_api.ModelApi` (or
:class:`~skill.execution.model_api.AsyncModelApi`), by default
:class:`~skill.execution.client.RunComfyClient` or its async twin, so ``run`` and ``arun`` cannot
drift apart and the flow does not depend on how requests travel. The journal row exists before the submit and gets the
request_id right after the response, so no paid job is ever lost: the ``submitted`` event
announces the id before the journal write, and a journal locked by another process is tried
again, then kept waiting in memory and in the journal's side file while the job goes on.

After a confirmed submit every error is the paid job's (:func:`skill.errors.after_submit`):
exit 75, its request_id and the command that finishes it; a submit that may have arrived is
:class:`~skill.errors.SubmitUnconfirmed` (69), one that surely did not is
:class:`~skill.errors.NotSent` (69, nothing paid).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from skill import settings
from skill.errors import (
    ApiClientError,
    DownloadError,
    InputError,
    InternalError,
    Interrupted,
    JobFailed,
    JobUnfinished,
    Kling3Error,
    NotSent,
    OutputDirError,
    SubmitUnconfirmed,
    TransientError,
    VideoError,
    WaitTimeout,
    after_submit,
    resume_command,
)
from skill.execution.events import (
    CancelFailed,
    Cancelled,
    Done,
    Downloading,
    DownloadProgress,
    EventSink,
    Finished,
    FinishFailed,
    Finishing,
    NotCancellable,
    Status,
    Submitted,
    Submitting,
)
from skill.execution.group_commit import group_commit
from skill.execution.journal import CLAIM_SECONDS, JobRecord, Journal, new_owner
from skill.execution.live_schema import acheck_plan, check_plan
from skill.execution.model_api import AsyncModelApi, ModelApi
from skill.execution.pacing import poll_floor
from skill.execution.states import (
    API_CANCELLED,
    API_DONE,
    API_WAITING,
    JOURNALED_API_STATES,
    UNFINISHED_STATES,
)
from skill.filenames import video_stem
from skill.fsutil import check_output_dir

if TYPE_CHECKING:  # the planner is imported when a request is planned here, not to fetch a job
    from skill.planning import Plan, Segment
    from skill.request import VideoRequest

__all__ = [
    "CallResult",
    "FileInfo",
    "RunResult",
    "SkippedOutput",
    "arun",
    "cancel",
    "fetch",
    "jobs",
    "possibly_paid_entry",
    "resume",
    "run",
    "settle",
    "status",
]

Op = tuple[Any, ...]
_T = TypeVar("_T")

UNKNOWN_STATUS_LIMIT = 10
NOT_FOUND_GRACE_POLLS = 5
"""A job the API created a moment ago may not be visible to status yet: this many 404s in a row,
before any status was seen, are polled through rather than taken for an answer."""


class FileInfo(BaseModel):
    """One downloaded file of a call, as ``--json`` reports it (absolute path, size, hash)."""

    model_config = ConfigDict(frozen=True)

    path: str
    url: str
    size: int
    sha256: str
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    contact_sheet: str | None = None
    """A JPEG of six frames beside the video (:mod:`skill.media.contact_sheet`), if one was made."""


class SkippedOutput(BaseModel):
    """An output of a finished job that was not saved, and why (an untrusted host, an image
    that is not PNG/JPEG/WebP). The URL is shown without its query (signatures live there)."""

    model_config = ConfigDict(frozen=True)

    url: str
    reason: str


class CallResult(BaseModel):
    """The outcome of one paid call (one segment of a plan): its videos in ``files``, a cover
    or thumbnail saved beside them in ``images``, and the outputs not saved in ``skipped``."""

    model_config = ConfigDict(frozen=True)

    segment: int
    job_key: str
    request_id: str | None
    status: str
    cost_usd: float
    files: list[FileInfo] = Field(default_factory=list)
    images: list[FileInfo] = Field(default_factory=list)
    skipped: list[SkippedOutput] = Field(default_factory=list)
    queue_position: int | None = None
    warnings: list[str] = Field(default_factory=list)


class RunResult(BaseModel):
    """What ``kling3 run --json`` prints: ids, status, absolute file paths, cost, warnings.

    ``files`` holds the deliverable: the stitched/cropped video when the plan needed several
    calls or a non-native ratio, else the downloaded video(s). ``segment_files`` keeps every
    call's own videos; ``images`` the covers saved beside them; ``skipped`` the outputs not saved.
    """

    model_config = ConfigDict(frozen=True)

    request_id: str | None
    request_ids: list[str]
    endpoint: str
    tier: str
    mode: str
    status: str
    files: list[str]
    segment_files: list[str] = Field(default_factory=list)
    images: list[str] = Field(default_factory=list)
    skipped: list[SkippedOutput] = Field(default_factory=list)
    video: dict[str, Any] | None = None
    cost_usd: float
    warnings: list[str]
    calls: list[CallResult]

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


JOURNAL_ATTEMPTS = 3
"""Tries (each waiting the journal's busy time-out) to record a confirmed submit's request_id
before it is kept in memory and in the journal's side file instead."""


@dataclass
class _Ctx:
    """What the flow of every call of one run shares: the journal, the event sink, the
    options; ``track`` is off for a job fetched by id that the journal never saw. ``pending``
    holds request_ids confirmed while the journal was locked (job_key -> request_id)."""

    journal: Journal
    on_event: EventSink
    poll_interval: float
    timeout: float | None
    output_dir: Path
    wait: bool
    download: bool = True
    clock: Callable[[], float] = time.monotonic
    track: bool = True
    run_id: str | None = None
    pending: dict[str, str] = field(default_factory=dict)
    owner: str = field(default_factory=new_owner)
    renewed: dict[str, float] = field(default_factory=dict)
    api_base: str | None = None
    sheets: SheetMaker = field(default_factory=lambda: SheetMaker())
    defer: Callable[[Callable[[], None]], object] | None = None
    """Set on an event loop (:func:`_write_behind`): states and file rows that are not promises
    are written behind (:meth:`Journal.defer_state`), several flows' in one transaction."""

    @property
    def claim_seconds(self) -> float:
        """How long a claim lasts: long enough to cover a few polls."""
        return max(CLAIM_SECONDS, 3 * self.poll_interval)

    def hold(self, job_key: str) -> None:
        """Renew this flow's claim on the job it is waiting for, every third of the claim's
        life, so no other process fetches it meanwhile (a claim expires if we die)."""
        now = self.clock()
        if not self.track or now - self.renewed.get(job_key, -math.inf) < self.claim_seconds / 3:
            return
        self.renewed[job_key] = now
        self._tolerant(lambda: self.journal.claim(job_key, self.owner, seconds=self.claim_seconds))

    def let_go(self) -> None:
        """Release every claim this flow holds (the flow is over, whatever its end); a journal
        still locked gets the release in its side file, done the next time it opens."""
        if not self.track or not self.renewed:  # every claim it took is in renewed
            return
        try:
            self.journal.release(self.owner, keys=list(self.renewed))
        except TransientError as exc:
            if exc.code != "journal_busy":
                raise
            self.journal.note_release(self.owner)

    def settle_writes(self) -> None:
        """Write now what this flow's journal holds behind (the loop may end before its timer);
        a journal still locked keeps it for its next write or its close."""
        if self.defer is not None:
            with contextlib.suppress(TransientError):
                self.journal.flush_deferred()

    def remember(self, job_key: str, request_id: str) -> None:
        """Journal a confirmed submit's request_id; a journal locked by another process is tried
        again, and if it stays locked the id is kept in memory and in the journal's side file
        (:meth:`Journal.note_request_id`) while the flow goes on: the job is paid for."""
        self.pending[job_key] = request_id
        if not self.flush(JOURNAL_ATTEMPTS):
            self.journal.note_request_id(job_key, request_id)

    def flush(self, attempts: int = 1) -> bool:
        """Record the pending request_ids; ``False`` while the journal is still locked."""
        for job_key, request_id in list(self.pending.items()):
            for attempt in range(1, attempts + 1):
                try:
                    self.journal.set_request_id(job_key, request_id)
                except TransientError as exc:
                    if exc.code != "journal_busy":
                        raise
                    if attempt == attempts:
                        return False
                else:
                    del self.pending[job_key]
                    break
        return True

    def unjournaled(self) -> list[str]:
        """The warning for request_ids still not in the journal at the end of a run."""
        if not self.pending or self.flush():
            return []
        ids = ", ".join(self.pending.values())
        return [
            f"journal_busy: the journal {self.journal.where} stayed locked, so job(s) {ids} are "
            f"not recorded in it yet; the request_ids are kept in {self.journal.noted_path} and "
            "recorded the next time kling3 opens the journal"
        ]

    def record(
        self, ref: str, state: str, detail: dict[str, Any] | None = None, *, durable: bool = True
    ) -> None:
        """Journal a state change; a job the journal never saw (fetched by id) is not tracked,
        and while the journal is locked a state change is skipped (the request_id is kept).
        ``durable=False``: a state polling finds again, not flushed on its own (and on an event
        loop, written behind with the other flows')."""
        if not self.track:
            return
        defer = self.defer
        if not durable and defer is not None:
            self._tolerant(lambda: self.journal.defer_state(ref, state, detail, schedule=defer))
        else:
            self._tolerant(lambda: self.journal.record_state(ref, state, detail, durable=durable))

    def record_file(self, request_id: str, url: str, path: str, sha256: str, size: int) -> None:
        """Journal a saved file (not flushed on its own: the file is, and resume finds it by its
        hash); on an event loop, written behind with the job's ``downloaded``."""
        if not self.track:
            return
        defer = self.defer
        if defer is not None:
            self._tolerant(lambda: self.journal.defer_file(request_id, url, path, sha256, size, schedule=defer))
        else:
            self._tolerant(lambda: self.journal.add_file(request_id, url, path, sha256, size, durable=False))

    def _tolerant(self, write: Callable[[], object]) -> None:
        if not self.flush():
            return
        try:
            write()
        except TransientError as exc:
            if exc.code != "journal_busy":
                raise

    def saved(self, request_id: str) -> tuple[JobRecord | None, dict[str, Path]]:
        """The job as journaled (read once: its prompt names the files) and SHA-256 -> path of
        the files already saved for it, so none is saved twice; a journal locked by another
        process costs at most a second copy (and a plainer name), never the download."""
        if not self.track:
            return None, {}
        try:
            job = self.journal.get(request_id)
            files = self.journal.files(job) if job is not None else []
        except TransientError as exc:
            if exc.code != "journal_busy":
                raise
            return None, {}
        return job, {f.sha256: Path(f.path) for f in files if f.sha256}


# -- the flow of one call, I/O as yielded operations -----------------------------------------


def _call_flow(
    ctx: _Ctx, plan: Plan, seg: Segment, batch_id: str | None
) -> Generator[Op, Any, CallResult]:
    """Submit one segment, journal first: the row (and the daily-cap check) exists before the
    request leaves, and a submit that may have arrived is kept as ``unconfirmed``, never lost.
    Once the submit is confirmed, whatever goes wrong names the request_id (:func:`after_submit`)."""
    row = {
        "model_id": plan.endpoint, "tier": plan.tier, "mode": plan.mode, "payload": seg.payload,
        "cost_usd": seg.cost_usd, "output_dir": str(ctx.output_dir), "batch_id": batch_id,
        "label": f"segment {seg.index}/{len(plan.segments)}", "daily_cap_usd": settings.daily_cap_usd(),
        "run_id": ctx.run_id, "owner": ctx.owner, "api_base": ctx.api_base, "claim_seconds": ctx.claim_seconds,
    }
    with _not_sent():
        job_key: str = yield ("begin", ctx.journal, row)  # durable before the submit below
    ctx.renewed[job_key] = ctx.clock()  # the row is claimed from its start
    try:
        ctx.on_event(Submitting(endpoint=plan.endpoint, segment=seg.index, cost_usd=seg.cost_usd,
                                job_key=job_key))
    except Exception as exc:  # the caller's sink failed: nothing was sent
        ctx.journal.update_state(job_key, "failed", {"error": repr(exc), "sent": False})
        raise InternalError(f"the progress callback failed ({type(exc).__name__}: {exc}); "
                            "nothing was sent") from exc
    sub = yield from _submit(ctx, job_key, plan.endpoint, seg.payload)
    with _as_paid(sub.request_id):
        try:  # paid from here on: the id goes out first, so a locked journal cannot lose it
            ctx.on_event(Submitted(request_id=sub.request_id, segment=seg.index, job_key=job_key))
        finally:
            yield ("remember", ctx, job_key, sub.request_id)
        if not ctx.wait:
            return CallResult(
                segment=seg.index,
                job_key=job_key,
                request_id=sub.request_id,
                status="submitted",
                cost_usd=seg.cost_usd,
            )
        return (yield from _wait_flow(ctx, job_key, sub.request_id, seg.index, seg.cost_usd))


def _submit(
    ctx: _Ctx, job_key: str, endpoint: str, payload: dict[str, Any]
) -> Generator[Op, Any, Any]:
    """The submit itself: a refusal is journaled as never sent; anything else that is not an
    answer (a 5xx, a dropped connection, an interrupt, a bug) may have created the job, so it is
    kept as possibly paid and reported as :class:`SubmitUnconfirmed`, never repeated."""
    try:
        return (yield ("submit", endpoint, payload))
    except SubmitUnconfirmed as exc:
        ctx.journal.mark_unconfirmed(job_key, {"error": exc.to_dict()})
        exc.details.setdefault("job_key", job_key)
        raise
    except Kling3Error as exc:
        ctx.journal.update_state(job_key, "failed", {"error": exc.to_dict(), "sent": False})
        with _not_sent():
            raise
    except (KeyboardInterrupt, asyncio.CancelledError):
        ctx.journal.mark_unconfirmed(
            job_key, {"error": "interrupted during the submit: it may have reached the API"}
        )
        raise
    except Exception as exc:
        cause = f"{type(exc).__name__}: {exc}"
        ctx.journal.mark_unconfirmed(job_key, {"error": cause})
        raise SubmitUnconfirmed(
            f"the submit to {endpoint} could not be confirmed: unexpected error ({cause}). The "
            "job may or may not have been created; the submit was not repeated. Check your "
            "RunComfy requests before submitting again.",
            details={"job_key": job_key},
        ) from exc


@contextlib.contextmanager
def _not_sent() -> Iterator[None]:
    """A passing failure before the submit left (the client raises :class:`SubmitUnconfirmed`
    for any that may have arrived) is :class:`NotSent`: nothing paid, try again later."""
    try:
        yield
    except TransientError as exc:
        raise NotSent(exc.message + "; nothing was sent: try again later", code=exc.code,
                      field=exc.field, details=exc.details) from exc


def _paid(flow: Generator[Op, Any, _T], request_id: str) -> Generator[Op, Any, _T]:
    """``flow`` after the submit of ``request_id`` was confirmed: any error it raises is
    reported as the paid job's (:func:`after_submit`), with the command that finishes it."""
    with _as_paid(request_id):
        return (yield from flow)


@contextlib.contextmanager
def _as_paid(request_ids: str | list[str] | None) -> Iterator[None]:
    """Errors inside are the paid jobs' (:func:`after_submit`); ``None``/empty: left as they are
    (a job this journal never saw, or nothing submitted yet)."""
    try:
        yield
    except Exception as exc:
        if not request_ids:
            raise
        converted = after_submit(exc, request_ids)
        if converted is exc:
            raise
        raise converted from exc


def _wait_flow(
    ctx: _Ctx, job_key: str, request_id: str, segment: int, cost: float
) -> Generator[Op, Any, CallResult]:
    """Poll until a terminal status, then fetch the result and download. Never resubmits."""
    started = ctx.clock()
    deadline = None if ctx.timeout is None else started + ctx.timeout
    last: tuple[str, int | None] | None = None
    unknown = 0
    missing = 0
    try:
        while True:
            ctx.hold(job_key)
            try:
                st = yield ("status", request_id)
            except ApiClientError as exc:
                if exc.code != "not_found" or last is not None or missing >= NOT_FOUND_GRACE_POLLS:
                    raise
                missing += 1
                yield ("sleep", ctx.poll_interval)
                continue
            key = (st.status, st.queue_position)
            if key != last:
                last = key
                if st.status not in API_DONE:  # done: journaled with the result, fetched next
                    ctx.record(
                        request_id,
                        st.status if st.status in JOURNALED_API_STATES else "submitted",
                        {"status": st.raw},
                        durable=False,
                    )
                ctx.on_event(Status(request_id=request_id,
                    status=st.status,
                    queue_position=st.queue_position,
                    elapsed_s=round(ctx.clock() - started, 1)))
            if st.status in API_DONE or st.status == "failed" or st.status in API_CANCELLED:
                break
            if st.status in API_WAITING:
                unknown = 0
            else:
                unknown += 1
                if unknown >= UNKNOWN_STATUS_LIMIT:
                    raise TransientError(
                        f"the API keeps answering an unknown status {st.status!r}; the job is left as is: "
                        f"check it later with `kling3 status {request_id}`",
                        code="unknown_status",
                        request_id=request_id,
                    )
            now = ctx.clock()
            if deadline is not None and now + ctx.poll_interval > deadline:
                ctx.record(request_id, "timeout", {"waited_s": round(now - started, 1)})
                raise WaitTimeout(
                    f"still {st.status} after {round(now - started)} s; the job keeps running: "
                    f"fetch it later with `kling3 result {request_id}` or `kling3 resume {request_id}`",
                    request_id=request_id,
                )
            yield ("sleep", ctx.poll_interval)
    except (KeyboardInterrupt, asyncio.CancelledError) as interrupt:
        yield from _cancel_on_interrupt(ctx, request_id)
        if isinstance(interrupt, asyncio.CancelledError):
            raise
        raise Interrupted("interrupted while waiting", request_id=request_id) from None
    return (yield from _finish_flow(ctx, job_key, request_id, segment, cost))


def _plan_flow(ctx: _Ctx, plan: Plan, batch_id: str | None) -> Generator[Op, Any, list[CallResult]]:
    """Every call of a plan. Several calls are all submitted first, so they render side by side,
    then collected in order; an interrupt cancels the ones still queued."""
    from skill.media.video import needs_finishing

    if ctx.track and needs_finishing(len(plan.segments), plan.params.aspect_ratio):
        ctx.run_id = ctx.journal.begin_run(
            aspect_ratio=plan.params.aspect_ratio,
            duration=plan.params.duration,
            segments=len(plan.segments),
            tier=plan.tier,
            output_dir=str(ctx.output_dir),
        )
    submitted: list[str] = []
    with _as_paid(submitted):
        return (yield from _plan_calls(ctx, plan, batch_id, submitted))


def _plan_calls(
    ctx: _Ctx, plan: Plan, batch_id: str | None, submitted: list[str]
) -> Generator[Op, Any, list[CallResult]]:
    """The calls of :func:`_plan_flow`; ``submitted`` collects the request_ids of the calls
    already sent, so an error after them names every paid job."""
    out: list[CallResult] = []
    if not ctx.wait or len(plan.segments) == 1:
        for seg in plan.segments:
            out.append((yield from _call_flow(ctx, plan, seg, batch_id)))
            submitted.extend(c.request_id for c in out[-1:] if c.request_id)
        return out
    submit_ctx = replace(ctx, wait=False)
    calls = []
    for seg in plan.segments:
        calls.append((yield from _call_flow(submit_ctx, plan, seg, batch_id)))
        submitted.append(str(calls[-1].request_id))
    for k, call in enumerate(calls):
        assert call.request_id is not None
        try:
            out.append(
                (
                    yield from _wait_flow(
                        ctx, call.job_key, call.request_id, call.segment, call.cost_usd
                    )
                )
            )
        except (Interrupted, asyncio.CancelledError):
            for other in calls[k + 1 :]:
                if other.request_id is not None:
                    yield from _cancel_on_interrupt(ctx, other.request_id)
            raise
    return out


def _cancel_on_interrupt(ctx: _Ctx, request_id: str) -> Generator[Op, Any, None]:
    """Ask the API to cancel a job the user stopped waiting for; only a queued job can be, so
    a running one is recorded as such (it will finish and be charged) for ``kling3 result``."""
    try:
        out = yield ("cancel", request_id)
    except Kling3Error as exc:
        ctx.on_event(CancelFailed(request_id=request_id, message=exc.message))
        ctx.record(request_id, "submitted", {"cancel_error": exc.to_dict()})
        return
    if out.outcome == "cancelled":
        ctx.record(request_id, "cancelled", {"cancel": out.raw})
        ctx.on_event(Cancelled(request_id=request_id))
    else:
        ctx.record(request_id, "in_progress", {"cancel": out.raw})
        ctx.on_event(NotCancellable(request_id=request_id,
            message=f"the job is already running and will finish (and be charged); fetch it later with `kling3 result {request_id}`"))


def _finish_flow(
    ctx: _Ctx, job_key: str, request_id: str, segment: int, cost: float
) -> Generator[Op, Any, CallResult]:
    """Fetch the result of a settled job and download its files. A job that is done and paid
    but whose videos could not all be saved raises with the command that fetches the rest."""
    res = yield ("result", request_id)
    if res.status in API_CANCELLED:
        ctx.record(request_id, "cancelled", {"result": res.raw})
        raise JobFailed(f"job {request_id} was cancelled", code="cancelled", request_id=request_id)
    if res.status == "failed":
        ctx.record(request_id, "failed", {"result": res.raw})
        detail = (
            json.dumps(res.error, ensure_ascii=False)[:300]
            if res.error is not None
            else "(no detail)"
        )
        raise JobFailed(
            f"job {request_id} failed: {detail}",
            request_id=request_id,
            details={"api_error": res.error},
        )
    if res.status not in API_DONE:
        return CallResult(
            segment=segment,
            job_key=job_key,
            request_id=request_id,
            status=res.status,
            cost_usd=cost,
        )
    ctx.record(request_id, "completed", {"result": res.raw}, durable=not ctx.download)
    if not ctx.download:
        return CallResult(
            segment=segment,
            job_key=job_key,
            request_id=request_id,
            status="completed",
            cost_usd=cost,
        )
    videos, images, skipped = yield from _download_flow(ctx, request_id, res.output)
    sheeted = []
    for info in videos:
        sheeted.append((yield from _sheet_flow(ctx, info)))
    videos = sheeted
    paths = [i.path for i in videos]
    ctx.record(request_id, "downloaded", {"files": paths, "images": [i.path for i in images],
                                          "skipped": [k.model_dump() for k in skipped]},
               durable=False)  # the files are on disk, fsync'ed: resume finds them by their hash
    ctx.on_event(Done(request_id=request_id, files=paths, images=[i.path for i in images],
                      skipped=[k.model_dump() for k in skipped]))
    return CallResult(
        segment=segment,
        job_key=job_key,
        request_id=request_id,
        status="completed",
        cost_usd=cost,
        files=videos,
        images=images,
        skipped=skipped,
        warnings=ctx.sheets.take_warnings(),
    )


def _download_flow(
    ctx: _Ctx, request_id: str, output: dict[str, Any] | None
) -> Generator[Op, Any, tuple[list[FileInfo], list[FileInfo], list[SkippedOutput]]]:
    """Fetch a finished job's outputs, each on its own, and journal every file saved before
    judging the rest: a video still missing (a refused URL, a write error, the folder unusable
    by now) raises with the command that fetches what is missing (the job is paid for), and
    what was saved is not saved again."""
    ctx.on_event(Downloading(request_id=request_id, output_dir=str(ctx.output_dir)))
    try:
        _usable(ctx.output_dir, request_id)
        if not _has_urls(output):
            raise DownloadError(
                "the job finished but its result names no file to download",
                code="no_output",
                details={"output": output},
            )

        def progress(url: str, done: int, total: int | None) -> None:
            ctx.on_event(DownloadProgress(request_id=request_id, url=url, bytes=done, total=total))

        try:
            job, known = ctx.saved(request_id)
            delivery = yield ("download", output or {}, ctx.output_dir, progress, known,
                              _file_stem(job, request_id))
        except OSError as exc:
            raise DownloadError(
                f"the files could not be saved in {ctx.output_dir} ({exc.strerror or exc}); "
                f"`kling3 resume {request_id} --output-dir DIR` saves them elsewhere",
                code="output_unwritable",
                details={"output_dir": str(ctx.output_dir)},
            ) from exc
        for f in delivery.files:
            ctx.record_file(request_id, f.url, str(f.path), f.sha256, f.size)
        problem = delivery.problem()
        if problem is not None:
            raise problem
    except DownloadError as exc:
        raise _paid_download_error(ctx, request_id, exc) from None
    infos = {f.path: _file_info(f) for f in delivery.files}
    videos = [infos[f.path] for f in delivery.videos]
    images = [infos[f.path] for f in delivery.images]
    return videos, images, [SkippedOutput(**s.to_dict()) for s in delivery.skipped]


def _file_info(f: Any) -> FileInfo:
    return FileInfo(
        path=str(Path(f.path).resolve()),
        url=f.url,
        size=f.size,
        sha256=f.sha256,
        width=f.width,
        height=f.height,
        duration_s=f.duration_s,
    )


def _paid_download_error(ctx: _Ctx, request_id: str, exc: DownloadError) -> DownloadError:
    """``exc`` journaled, with the request_id and what fetches what is missing: a journaled job's
    error gets the resume command from :func:`after_submit`; a job fetched by id, ``result``."""
    ctx.record(request_id, "download_failed", {"error": exc.to_dict()})
    exc.request_id = request_id
    if ctx.track:
        exc.message = f"{exc.message} (files already saved are kept)"
    else:
        exc.message = (
            f"{exc.message}; the job is done and paid: `kling3 result {request_id}` fetches what is "
            "missing (files already saved are kept)"
        )
    exc.args = (exc.message,)
    return exc


def _usable(output_dir: Path, request_id: str) -> None:
    """The folder must still be usable when the paid job is done; if not, it is a download
    failure of the paid job (exit 75), resumable into another folder."""
    try:
        check_output_dir(output_dir, sync=False)
    except OutputDirError as exc:
        raise DownloadError(
            f"the output folder {output_dir} cannot be used ({exc.details['reason']}); "
            f"`kling3 resume {request_id} --output-dir DIR` saves the files elsewhere",
            code="output_dir_unusable",
            field="output_dir",
            details=exc.details,
        ) from None
# -- contact sheets: a preview never fails a paid run ------------------------------------------


class SheetMaker:
    """Whether to make contact sheets in this run, and the one warning when they cannot be.

    The first failure for want of ffmpeg turns sheets off for the rest of the run, so the
    warning is said once, not once per video.
    """

    def __init__(self) -> None:
        self.enabled = True
        self._warnings: list[str] = []

    def failed(self, exc: BaseException) -> None:
        from skill.media.contact_sheet import sheet_warning

        if not isinstance(exc, Kling3Error):
            exc = Kling3Error(f"{type(exc).__name__}: {exc}", code="contact_sheet_failed")
        if exc.code == "ffmpeg_missing":
            self.enabled = False
        self._warnings.append(sheet_warning(exc))

    def take_warnings(self) -> list[str]:
        out, self._warnings = self._warnings, []
        return out

    def make(self, video: str) -> str | None:
        """The sheet of a video made outside the flow (a stitched one), blocking; None if not."""
        from skill.media.contact_sheet import make_contact_sheet

        if not self.enabled:
            return None
        try:
            return str(make_contact_sheet(video).path)
        except Exception as exc:  # the video is made and verified: a preview must not undo that
            self.failed(exc)
            return None


def _sheet_flow(ctx: _Ctx, info: FileInfo) -> Generator[Op, Any, FileInfo]:
    """A contact sheet beside a saved video; without one the video is returned as it is."""
    if not ctx.sheets.enabled:
        return info
    try:
        sheet = yield ("contact_sheet", info.path)
    except Exception as exc:  # the video is paid and saved: a preview must not fail the run
        ctx.sheets.failed(exc)
        return info
    return info.model_copy(update={"contact_sheet": str(sheet.path)})


def _file_stem(job: JobRecord | None, request_id: str) -> str:
    """The saved file's name: a slug of the journaled prompt and the request id (``fox-snow-3f9a2c``)."""
    prompt = job.payload.get("prompt") if job is not None else None
    return video_stem(prompt if isinstance(prompt, str) else None, request_id)


def _has_urls(output: Any) -> bool:
    from skill.execution.delivery import output_urls

    return bool(output_urls(output or {}))


# -- drivers ---------------------------------------------------------------------------------


def _download_pool(client: object) -> Any:
    """The HTTP client a :class:`~skill.execution.model_api.ModelApi` offers for downloads
    (``download_http()``, as :class:`~skill.execution.client.RunComfyClient` does), so a batch
    fetches every output through one connection pool; ``None`` (a client made per delivery)
    for one that offers none."""
    offer = getattr(client, "download_http", None)
    return offer() if callable(offer) else None


def _do_sync(op: Op, client: ModelApi) -> Any:
    """Perform one yielded operation, blocking; the only place the sync flow touches I/O."""
    kind = op[0]
    if kind == "begin":
        return op[1].begin(**op[2]).job_key
    if kind == "remember":
        return op[1].remember(op[2], op[3])
    if kind == "submit":
        return client.submit(op[1], op[2])
    if kind == "status":
        return client.status(op[1])
    if kind == "result":
        return client.result(op[1])
    if kind == "cancel":
        return client.cancel(op[1])
    if kind == "sleep":
        time.sleep(op[1])
        return None
    if kind == "download":
        from skill.execution.delivery import deliver

        return deliver(op[1], op[2], api_base=client.base_url, http=_download_pool(client),
                       on_progress=op[3], known=op[4], stem=op[5])
    if kind == "contact_sheet":
        from skill.media.contact_sheet import make_contact_sheet

        return make_contact_sheet(op[1])
    raise AssertionError(kind)


async def _do_async(op: Op, client: AsyncModelApi) -> Any:
    """The asyncio twin of :func:`_do_sync`: the same operations, awaited."""
    kind = op[0]
    if kind == "begin":
        return await group_commit(op[1]).begin(op[2])
    if kind == "remember":
        return await group_commit(op[1].journal).remember(op[1], op[2], op[3])
    if kind == "submit":
        return await client.submit(op[1], op[2])
    if kind == "status":
        return await client.status(op[1])
    if kind == "result":
        return await client.result(op[1])
    if kind == "cancel":
        return await client.cancel(op[1])
    if kind == "sleep":
        await asyncio.sleep(op[1])
        return None
    if kind == "download":
        from skill.execution.delivery import adeliver

        return await adeliver(op[1], op[2], api_base=client.base_url, http=_download_pool(client),
                              on_progress=op[3], known=op[4], stem=op[5])
    if kind == "contact_sheet":
        from skill.media.contact_sheet import make_contact_sheet

        return await asyncio.to_thread(make_contact_sheet, op[1])
    raise AssertionError(kind)


def _drive(gen: Generator[Op, Any, Any], client: ModelApi) -> Any:
    """Run a flow to its end: send each operation's result back in, or throw its error in, so
    the flow itself decides what a failure means (journal it, cancel, re-raise)."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            op = gen.throw(error) if error is not None else gen.send(value)
        except StopIteration as stop:
            return stop.value
        value, error = None, None
        try:
            value = _do_sync(op, client)
        except (Exception, KeyboardInterrupt) as exc:
            error = exc


async def _adrive(gen: Generator[Op, Any, Any], client: AsyncModelApi) -> Any:
    """The asyncio twin of :func:`_drive`; a task cancellation is thrown into the flow too."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            op = gen.throw(error) if error is not None else gen.send(value)
        except StopIteration as stop:
            return stop.value
        value, error = None, None
        try:
            value = await _do_async(op, client)
        except (Exception, asyncio.CancelledError) as exc:
            error = exc


@contextlib.contextmanager
def _api(client: ModelApi | None) -> Iterator[ModelApi]:
    """``client``, else a new :class:`~skill.execution.client.RunComfyClient` closed afterwards.

    A caller's client is left open, so one client (one connection pool) can serve many calls.
    """
    if client is not None:
        yield client
        return
    from skill.execution.client import RunComfyClient

    with RunComfyClient() as own:
        yield own


@contextlib.asynccontextmanager
async def _aapi(client: AsyncModelApi | None) -> AsyncIterator[AsyncModelApi]:
    """The asyncio twin of :func:`_api`."""
    if client is not None:
        yield client
        return
    from skill.execution.client import AsyncRunComfyClient

    async with AsyncRunComfyClient() as own:
        yield own


# -- public API ------------------------------------------------------------------------------


def _plan_of(request: Plan | VideoRequest | dict[str, Any] | str) -> Plan:
    from skill.media.ffmpeg import video_tools_available
    from skill.planning import Plan, make_plan

    return request if isinstance(request, Plan) else make_plan(request, video_tools=video_tools_available)


def _summarise(
    plan: Plan,
    calls: list[CallResult],
    finished: tuple[list[str], dict[str, Any] | None, list[str]] | None = None,
    notes: list[str] | None = None,
) -> RunResult:
    """The run's result from its calls; ``status`` is theirs when they agree, else ``partial``.

    ``notes`` are warnings raised after the calls (a contact sheet that could not be made).
    """
    ids = [c.request_id for c in calls if c.request_id]
    statuses = {c.status for c in calls}
    status = statuses.pop() if len(statuses) == 1 else "partial"
    segment_files = [f.path for c in calls for f in c.files]
    files, video, warnings = finished or (segment_files, None, list(plan.warnings))
    for note in [w for c in calls for w in c.warnings] + (notes or []):
        if note not in warnings:
            warnings.append(note)
    return RunResult(
        images=[f.path for c in calls for f in c.images],
        skipped=[k for c in calls for k in c.skipped],
        request_id=ids[0] if ids else None,
        request_ids=ids,
        endpoint=plan.endpoint,
        tier=plan.tier,
        mode=plan.mode,
        status=status,
        files=files,
        segment_files=segment_files,
        video=video,
        cost_usd=plan.cost_usd,
        warnings=warnings,
        calls=calls,
    )


def _finish_job(
    plan: Plan, calls: list[CallResult], ctx: _Ctx, wanted: bool
) -> dict[str, Any] | None:
    """The arguments of :func:`skill.media.video.finish` when this run's video needs stitching or cropping."""
    from skill.media.video import needs_finishing

    segment_files = [f.path for c in calls for f in c.files]
    if not wanted or not segment_files or any(c.status != "completed" for c in calls):
        return None
    if not needs_finishing(len(plan.segments), plan.params.aspect_ratio):
        return None
    ctx.on_event(Finishing(run_id=ctx.run_id, segments=len(segment_files), aspect_ratio=plan.params.aspect_ratio))
    return {
        "paths": [Path(p) for p in segment_files],
        "asked_ratio": plan.params.aspect_ratio,
        "expected_duration": float(plan.params.duration),
        "out_dir": ctx.output_dir,
        "name": _film_stem(plan.segments[0].payload.get("prompt"), calls[0].request_id, len(plan.segments),
                           plan.params.duration, plan.params.aspect_ratio),
    }


def _finish_with_sheet(args: dict[str, Any], sheets: SheetMaker) -> tuple[Any, str | None]:
    """Finish the video, then make its contact sheet; blocking (the async path runs it in a thread).

    Returns the :class:`~skill.media.video.FinishedVideo` (or the error that stopped it) and the
    sheet's path (None when none was made).
    """
    from skill.media.video import finish

    try:
        video = finish(**args)
    except Exception as exc:  # the calls are paid and saved: a finishing failure keeps them
        return _as_video_error(exc), None
    return video, sheets.make(str(video.path))


def _film_stem(prompt: Any, request_id: str | None, segments: int, duration: int, ratio: str) -> str:
    """The finished video's name: its first call's stem plus what was done (``-40s``, ``-21x9``)."""
    from skill.media.video import NATIVE_RATIOS

    done = ([f"{duration}s"] if segments > 1 else []) + ([ratio.replace(":", "x")] if ratio not in NATIVE_RATIOS else [])
    return video_stem(prompt if isinstance(prompt, str) else None, request_id, suffix=" ".join(done))


def _finished(
    plan: Plan, calls: list[CallResult], ctx: _Ctx, outcome: Any, sheet: str | None = None
) -> tuple[list[str], dict[str, Any] | None, list[str]]:
    """Files, video and warnings after finishing; a failure keeps the segments and says why."""
    segment_files = [f.path for c in calls for f in c.files]
    if isinstance(outcome, Kling3Error):
        ctx.on_event(FinishFailed(code=outcome.code, message=outcome.message))
        return (
            segment_files,
            None,
            [
                *plan.warnings,
                f"{outcome.code}: {outcome.message}; the segments are kept as separate files",
            ],
        )
    ctx.on_event(Finished(path=str(outcome.path)))
    if ctx.run_id is not None:
        ctx.journal.set_run_video(ctx.run_id, str(Path(outcome.path).resolve()))
    video = {**outcome.to_json_dict(), "contact_sheet": sheet}
    return [str(Path(outcome.path).resolve())], video, list(plan.warnings)


def _as_video_error(exc: Exception) -> Kling3Error:
    """A finishing failure as the package's error (an OSError writing the stitched file...)."""
    if isinstance(exc, Kling3Error):
        return exc
    return VideoError(f"finishing the video failed: {type(exc).__name__}: {exc}", code="video_failed")


def _finish_sync(plan: Plan, calls: list[CallResult], ctx: _Ctx, wanted: bool) -> RunResult:
    args = _finish_job(plan, calls, ctx, wanted)
    if args is None:
        return _summarise(plan, calls)
    outcome, sheet = _finish_with_sheet(args, ctx.sheets)
    finished = _finished(plan, calls, ctx, outcome, sheet)
    return _summarise(plan, calls, finished, ctx.sheets.take_warnings())


async def _finish_async(plan: Plan, calls: list[CallResult], ctx: _Ctx, wanted: bool) -> RunResult:
    """As :func:`_finish_sync`, with ffmpeg off the event loop (MCP servers keep answering)."""
    args = _finish_job(plan, calls, ctx, wanted)
    if args is None:
        return _summarise(plan, calls)
    outcome, sheet = await asyncio.to_thread(_finish_with_sheet, args, ctx.sheets)
    finished = _finished(plan, calls, ctx, outcome, sheet)
    return _summarise(plan, calls, finished, ctx.sheets.take_warnings())


def _ctx(
    journal: Journal | None,
    on_event: EventSink | None,
    poll_interval: float,
    timeout: float | None,
    output_dir: Path | str | None,
    wait: bool,
    download: bool = True,
) -> _Ctx:
    return _Ctx(
        journal=journal or Journal(),
        on_event=on_event or (lambda _e: None),
        poll_interval=max(0.01, poll_interval),
        timeout=timeout,
        output_dir=Path(output_dir or Path.cwd()).resolve(),
        wait=wait,
        download=download,
    )


def _pace(ctx: _Ctx, base_url: str) -> None:
    """The flow talks to ``base_url``: at least a second between polls of a real API, whatever
    was asked (loopback: as asked), and the jobs it journals are that base's."""
    ctx.poll_interval = max(ctx.poll_interval, poll_floor(base_url))
    ctx.api_base = base_url


def _before_paying(ctx: _Ctx, plan: Plan) -> None:
    """What is checked for the whole plan before its first submit, so a plan is not refused
    half way with some calls paid, or paid with nowhere to save it: today's cap for every call
    together, and the output folder (created and written to)."""
    ctx.journal.check_daily_cap(plan.cost_usd, settings.daily_cap_usd(), ctx.api_base)
    check_output_dir(ctx.output_dir)


@contextlib.contextmanager
def _journal_note(ctx: _Ctx) -> Iterator[None]:
    """A run's error also says which paid request_ids the locked journal has not recorded yet."""
    try:
        yield
    except Kling3Error as exc:
        note = ctx.unjournaled()
        if note:
            exc.details["journal"] = note[0]
            exc.message += f" ({note[0]})"
            exc.args = (exc.message,)
        raise


def _noted(ctx: _Ctx, result: RunResult) -> RunResult:
    """``result`` with a warning for request_ids the locked journal has not recorded yet."""
    note = ctx.unjournaled()
    return result.model_copy(update={"warnings": [*result.warnings, *note]}) if note else result


def run(
    request: Plan | VideoRequest | dict[str, Any] | str,
    *,
    output_dir: Path | str | None = None,
    wait: bool = True,
    poll_interval: float = 2.0,
    timeout: float | None = 1800.0,
    on_event: EventSink | None = None,
    client: ModelApi | None = None,
    journal: Journal | None = None,
    check_live_schema: bool = True,
    batch_id: str | None = None,
    finish_video: bool = True,
) -> RunResult:
    """Plan (if needed), submit every call, wait, download. Spends money: see :func:`make_plan` first."""
    plan = _plan_of(request)
    ctx = _ctx(journal, on_event, poll_interval, timeout, output_dir, wait)
    with _api(client) as cl:
        _pace(ctx, cl.base_url)
        _before_paying(ctx, plan)
        if check_live_schema:
            check_plan(cl, plan, ctx.on_event)
        with _journal_note(ctx):
            try:
                calls: list[CallResult] = _drive(_plan_flow(ctx, plan, batch_id), cl)
            finally:
                ctx.let_go()
    return _noted(ctx, _finish_sync(plan, calls, ctx, finish_video and wait))


async def arun(
    request: Plan | VideoRequest | dict[str, Any] | str,
    *,
    output_dir: Path | str | None = None,
    wait: bool = True,
    poll_interval: float = 2.0,
    timeout: float | None = 1800.0,
    on_event: EventSink | None = None,
    client: AsyncModelApi | None = None,
    journal: Journal | None = None,
    check_live_schema: bool = True,
    batch_id: str | None = None,
    finish_video: bool = True,
) -> RunResult:
    """The async twin of :func:`run`: same flow, same journal, same results."""
    plan = _plan_of(request)
    ctx = _ctx(journal, on_event, poll_interval, timeout, output_dir, wait)
    ctx.defer = _write_behind(ctx)
    async with _aapi(client) as cl:
        _pace(ctx, cl.base_url)
        _before_paying(ctx, plan)
        if check_live_schema:
            await acheck_plan(cl, plan, ctx.on_event)
        with _journal_note(ctx):
            try:
                calls: list[CallResult] = await _adrive(_plan_flow(ctx, plan, batch_id), cl)
            finally:
                ctx.let_go()  # a write: what was written behind goes with it
                ctx.settle_writes()
    return _noted(ctx, await _finish_async(plan, calls, ctx, finish_video and wait))


WRITE_BEHIND_S = 0.25
"""The longest a state written behind waits (less on a quicker poll: half its interval), so
``kling3 status`` from another process sees it within a poll interval."""


def _write_behind(ctx: _Ctx) -> Callable[[Callable[[], None]], object]:
    """How this flow schedules the journal's writes behind: on the running loop, a fraction of
    a poll interval ahead, so the statuses of many flows polled meanwhile share a transaction."""
    loop = asyncio.get_running_loop()
    return lambda write: loop.call_later(min(WRITE_BEHIND_S, ctx.poll_interval / 2), write)


def _request_id(journal: Journal, ref: str) -> tuple[str, JobRecord | None]:
    job = journal.get(ref)
    if job is not None and job.request_id:
        return job.request_id, job
    if job is not None:
        hint = (
            f"; it is possibly paid: check your RunComfy requests, then `kling3 jobs --settle "
            f"{job.job_key[:8]} paid --request-id ID` (or `unpaid`)"
            if job.possibly_paid
            else ""
        )
        raise InputError(
            f"job {ref} has no request_id (state {job.state}): its submit was never confirmed by "
            f"the API{hint}",
            code="no_request_id",
            field="request_id",
        )
    return ref, None


def _same_base(job: JobRecord | None, base_url: str) -> None:
    """A journaled job is followed only on the API it was sent to: another base would not know
    it, and would get this base's token. Paid, so exit 75, with the command that works."""
    if job is None or job.api_base is None or job.api_base == base_url or job.request_id is None:
        return
    command = f"RUNCOMFY_MODEL_API_BASE={job.api_base} {resume_command(job.request_id)}"
    raise JobUnfinished(
        f"job {job.request_id} was sent to {job.api_base}, not to {base_url} (RUNCOMFY_MODEL_API_BASE): "
        f"it is followed only there; do not submit it again, finish it with `{command}`",
        code="other_api_base",
        request_id=job.request_id,
        details={"paid": True, "api_base": job.api_base, "resume_command": command},
    )


def status(
    ref: str, *, client: ModelApi | None = None, journal: Journal | None = None
) -> dict[str, Any]:
    """The live status of a job by request_id (or a journal prefix), recorded in the journal."""
    jr = journal or Journal()
    request_id, job = _request_id(jr, ref)
    with _as_paid(request_id if job is not None else None):
        with _api(client) as cl:
            _same_base(job, cl.base_url)
            st = cl.status(request_id)
        if job is not None and st.status in JOURNALED_API_STATES and job.state not in ("downloaded",):
            jr.update_state(request_id, st.status, {"status": st.raw})
    return {
        "request_id": request_id,
        "status": st.status,
        "queue_position": st.queue_position,
        "journal": job.to_dict() if job else None,
    }


def fetch(
    ref: str,
    *,
    output_dir: Path | str | None = None,
    wait: bool = False,
    poll_interval: float = 2.0,
    timeout: float | None = 1800.0,
    on_event: EventSink | None = None,
    client: ModelApi | None = None,
    journal: Journal | None = None,
) -> CallResult:
    """Fetch (and optionally wait for) a job's result by request_id and download its files."""
    jr = journal or Journal()
    request_id, job = _request_id(jr, ref)
    out_dir = output_dir or (job.output_dir if job and job.output_dir else None)
    ctx = _ctx(jr, on_event, poll_interval, timeout, out_dir, True)
    ctx.track = job is not None
    key = job.job_key if job else request_id
    cost = job.cost_usd if job else 0.0
    with _api(client) as cl:
        _same_base(job, cl.base_url)
        _pace(ctx, cl.base_url)
        flow = (
            _wait_flow(ctx, key, request_id, 1, cost)
            if wait
            else _finish_flow(ctx, key, request_id, 1, cost)
        )
        return _drive(_paid(flow, request_id) if job is not None else flow, cl)  # type: ignore[no-any-return]


NOT_CHARGED = ("cancelled", "already_cancelled")
"""Cancel outcomes of a job that will not be charged (the API cancels queued jobs only)."""


def cancel(
    ref: str, *, client: ModelApi | None = None, journal: Journal | None = None
) -> dict[str, Any]:
    """Ask the API to cancel a job (only queued jobs can be); record the outcome.

    ``outcome`` is ``cancelled`` (it will not be charged), ``already_cancelled`` (nothing to
    do; the API is not asked again for a job the journal knows is cancelled) or what the API
    said (``not_cancellable``: it runs or ran, and is charged). ``message`` says it in words.
    """
    jr = journal or Journal()
    request_id, job = _request_id(jr, ref)
    if job is not None and job.state == "cancelled":
        return _cancel_doc(request_id, "already_cancelled", "cancelled")
    with _as_paid(request_id if job is not None else None):
        with _api(client) as cl:
            _same_base(job, cl.base_url)
            out = cl.cancel(request_id)
        outcome = out.outcome
        if outcome != "cancelled" and out.status in API_CANCELLED:
            outcome = "already_cancelled"
        if job is not None:
            jr.update_state(
                request_id, "cancelled" if outcome in NOT_CHARGED else job.state, {"cancel": out.raw}
            )
    return _cancel_doc(request_id, outcome, out.status)


def _cancel_doc(request_id: str, outcome: str, status: str | None) -> dict[str, Any]:
    if outcome == "cancelled":
        message = "cancelled while queued: it will not be charged"
    elif outcome == "already_cancelled":
        message = "it was already cancelled (not charged): nothing to do"
    elif status in API_DONE:
        message = f"it has already finished and is charged: `{resume_command(request_id)}` fetches the video"
    else:
        message = (
            f"it is already running, so it will finish and be charged: `{resume_command(request_id)}` "
            "fetches the video"
        )
    return {
        "request_id": request_id,
        "outcome": outcome,
        "status": status,
        "charged": outcome not in NOT_CHARGED,
        "message": message,
    }


def resume(
    ref: str | None = None,
    *,
    output_dir: Path | str | None = None,
    poll_interval: float = 2.0,
    timeout: float | None = 1800.0,
    on_event: EventSink | None = None,
    client: ModelApi | None = None,
    journal: Journal | None = None,
    all_bases: bool = False,
) -> list[dict[str, Any]]:
    """Re-poll and download unfinished jobs (one, or all of the current API base's). Never
    resubmits anything. ``all_bases`` also lists the jobs of other bases, which are never
    polled here (they get the command that resumes them on their own base)."""
    jr = journal or Journal()
    outcomes: list[dict[str, Any]] = []
    with _api(client) as cl:
        base = cl.base_url
        if ref is not None:
            _, job = _request_id(jr, ref)
            if job is None:
                raise InputError(f"no job {ref!r} in the journal", code="unknown_job", field="request_id")
            _same_base(job, base)
            targets = [job]
        else:
            targets = jr.unfinished(api_base=None if all_bases else base)
        for job in targets:
            if job.api_base not in (None, base):
                outcomes.append(_elsewhere(job))
                continue
            ctx = _ctx(jr, on_event, poll_interval, timeout, output_dir or job.output_dir, True)
            _pace(ctx, base)
            outcome = _resume_one(ctx, job, cl, every=ref is None)
            if outcome is not None:
                outcomes.append(outcome)
    for run_id in dict.fromkeys(j.run_id for j in targets if j.run_id):
        done = _finish_run(jr, run_id, on_event or (lambda _e: None))
        if done is not None:
            outcomes.append(done)
    if ref is None:
        outcomes.extend(possibly_paid_entry(j) for j in jr.possibly_paid(None if all_bases else base))
    return outcomes


def _elsewhere(job: JobRecord) -> dict[str, Any]:
    """A ``resume --all-bases`` entry for a job of another API base: not polled from here."""
    assert job.request_id is not None
    return {
        "request_id": job.request_id,
        "status": "other_api_base",
        "api_base": job.api_base,
        "message": f"sent to {job.api_base}: `RUNCOMFY_MODEL_API_BASE={job.api_base} "
        f"{resume_command(job.request_id)}` resumes it",
    }


def _resume_one(ctx: _Ctx, job: JobRecord, client: ModelApi, *, every: bool) -> dict[str, Any] | None:
    """Finish one journaled job under a claim, so two ``resume --all`` never fetch it twice:
    a job another live process holds is reported ``claimed`` and left to it; with ``every``, one
    finished by another process meanwhile is skipped (``None``)."""
    assert job.request_id is not None
    held = ctx.journal.claim(job.job_key, ctx.owner, seconds=ctx.claim_seconds, unfinished_only=every)
    if held is None:
        now = ctx.journal.get(job.job_key)
        if now is None or (every and now.state not in UNFINISHED_STATES):
            return None
        return {
            "request_id": job.request_id,
            "status": "claimed",
            "claimed_by": now.claimed_by,
            "message": f"another kling3 process ({now.claimed_by}) is fetching it right now; "
            f"`{resume_command(job.request_id)}` later if it does not finish",
        }
    ctx.renewed[job.job_key] = ctx.clock()
    try:
        res: CallResult = _drive(
            _paid(_wait_flow(ctx, job.job_key, job.request_id, 1, job.cost_usd), job.request_id), client
        )
    except Interrupted:
        raise
    except Kling3Error as exc:
        return {"request_id": job.request_id, "status": "error", "error": exc.to_dict()}
    finally:
        ctx.let_go()
    return {
        "request_id": job.request_id,
        "status": res.status,
        "files": [f.path for f in res.files],
        "images": [f.path for f in res.images],
        "skipped": [k.model_dump() for k in res.skipped],
    }


def possibly_paid_entry(job: JobRecord) -> dict[str, Any]:
    """How ``resume`` and ``jobs`` show a possibly-paid submit: what it cost, and how to settle it."""
    key = job.job_key[:8]
    return {
        "job_key": job.job_key,
        "status": "possibly_paid",
        "state": job.state,
        "endpoint": job.model_id,
        "cost_usd": job.cost_usd,
        "created_at": job.created_at,
        "message": (
            "the submit was never confirmed: it may have created a paid job. Do not submit it "
            "again before checking your RunComfy requests; then `kling3 jobs --settle "
            f"{key} paid --request-id ID` (resume then fetches it) or `kling3 jobs --settle {key} unpaid`"
        ),
    }


def settle(
    ref: str, verdict: str, *, request_id: str | None = None, journal: Journal | None = None
) -> dict[str, Any]:
    """Settle a possibly-paid submit as ``paid`` (optionally with its request_id) or ``unpaid``."""
    from skill.execution.client import validate_request_id

    if request_id is not None:
        validate_request_id(request_id)
    return (journal or Journal()).settle(ref, verdict, request_id).to_dict()


def _finish_run(jr: Journal, run_id: str, on_event: EventSink) -> dict[str, Any] | None:
    """Stitch/crop a run once every one of its calls is downloaded (after an interrupted run)."""
    from skill.media.video import finish

    info = jr.run_info(run_id)
    calls = jr.run_jobs(run_id)
    if info is None or info["video"] or len(calls) != info["segments"]:
        return None
    if any(c.state != "downloaded" for c in calls):
        return None
    from skill.execution.downloads import is_video_path

    paths = [Path(f.path) for c in calls for f in jr.files(c) if is_video_path(f.path)]
    on_event(Finishing(run_id=run_id, segments=len(paths), aspect_ratio=info["aspect_ratio"]))
    try:
        video = finish(
            paths,
            asked_ratio=info["aspect_ratio"],
            expected_duration=float(info["duration"]),
            out_dir=Path(info["output_dir"] or Path.cwd()),
            name=_film_stem(calls[0].payload.get("prompt"), calls[0].request_id, int(info["segments"]),
                            int(info["duration"]), str(info["aspect_ratio"])),
        )
    except Exception as exc:
        return {"run_id": run_id, "status": "error", "error": _as_video_error(exc).to_dict()}
    path = str(Path(video.path).resolve())
    jr.set_run_video(run_id, path)
    sheets = SheetMaker()
    done = {**video.to_json_dict(), "contact_sheet": sheets.make(path)}
    return {"run_id": run_id, "status": "completed", "files": [path], "video": done,
            "warnings": sheets.take_warnings()}


def jobs(
    limit: int = 50, *, journal: Journal | None = None, api_base: str | None = None
) -> list[dict[str, Any]]:
    """Recent jobs from the local journal, newest first, with their files; ``api_base``: only
    the jobs sent there (and those recorded before bases were)."""
    jr = journal or Journal()
    out = []
    for job in jr.list(limit=limit, api_base=api_base):
        d = job.to_dict()
        d["files"] = [f.path for f in jr.files(job)]
        out.append(d)
    return out
