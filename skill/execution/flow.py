"""Execution: submit a plan's calls, wait, download, and journal every step.

The flow of one paid call is written once, as a generator that yields I/O operations
("submit", "status", "sleep", ...) and receives their results. A sync driver and an async driver
perform those operations with any :class:`~skill.execution.model_api.ModelApi` (or
:class:`~skill.execution.model_api.AsyncModelApi`), by default
:class:`~skill.execution.client.RunComfyClient` or its async twin, so ``run`` and ``arun`` cannot
drift apart and the flow does not depend on how requests travel. The journal row exists before the submit and gets the
request_id right after the response, so no paid job is ever lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from skill import settings
from skill.errors import (
    DownloadError,
    InputError,
    Interrupted,
    JobFailed,
    Kling3Error,
    SubmitUnconfirmed,
    TransientError,
    WaitTimeout,
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
from skill.execution.journal import JobRecord, Journal
from skill.execution.live_schema import acheck_plan, check_plan
from skill.execution.model_api import AsyncModelApi, ModelApi
from skill.execution.states import API_CANCELLED, API_DONE, API_WAITING, JOURNALED_API_STATES
from skill.filenames import video_stem
from skill.media.ffmpeg import video_tools_available
from skill.planning import Plan, Segment, make_plan
from skill.request import VideoRequest

__all__ = [
    "CallResult",
    "RunResult",
    "arun",
    "cancel",
    "fetch",
    "jobs",
    "resume",
    "run",
    "status",
]

Op = tuple[Any, ...]

UNKNOWN_STATUS_LIMIT = 10


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


class CallResult(BaseModel):
    """The outcome of one paid call (one segment of a plan)."""

    model_config = ConfigDict(frozen=True)

    segment: int
    job_key: str
    request_id: str | None
    status: str
    cost_usd: float
    files: list[FileInfo] = Field(default_factory=list)
    queue_position: int | None = None
    warnings: list[str] = Field(default_factory=list)


class RunResult(BaseModel):
    """What ``kling3 run --json`` prints: ids, status, absolute file paths, cost, warnings.

    ``files`` holds the deliverable: the stitched/cropped video when the plan needed several
    calls or a non-native ratio, else the downloaded file(s). ``segment_files`` keeps every call's
    own download.
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
    video: dict[str, Any] | None = None
    cost_usd: float
    warnings: list[str]
    calls: list[CallResult]

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


@dataclass
class _Ctx:
    """What the flow of every call of one run shares: the journal, the event sink, the
    options; ``track`` is off for a job fetched by id that the journal never saw."""

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
    sheets: SheetMaker = dataclasses.field(default_factory=lambda: SheetMaker())

    def record(self, ref: str, state: str, detail: dict[str, Any] | None = None) -> None:
        """Journal a state change; a job the journal never saw (fetched by id) is not tracked."""
        if self.track:
            self.journal.update_state(ref, state, detail)

    def record_file(self, request_id: str, url: str, path: str, sha256: str, size: int) -> None:
        if self.track:
            self.journal.add_file(request_id, url, path, sha256, size)


# -- the flow of one call, I/O as yielded operations -----------------------------------------


def _call_flow(
    ctx: _Ctx, plan: Plan, seg: Segment, batch_id: str | None
) -> Generator[Op, Any, CallResult]:
    """Submit one segment, journal first: the row (and the daily-cap check) exists before the
    request leaves, and a submit that may have arrived is kept as ``unconfirmed``, never lost."""
    cap = settings.daily_cap_usd()
    job = ctx.journal.begin(
        plan.endpoint,
        plan.tier,
        plan.mode,
        seg.payload,
        seg.cost_usd,
        output_dir=str(ctx.output_dir),
        batch_id=batch_id,
        label=f"segment {seg.index}/{len(plan.segments)}",
        daily_cap_usd=cap,
        run_id=ctx.run_id,
    )
    ctx.on_event(Submitting(endpoint=plan.endpoint,
        segment=seg.index,
        cost_usd=seg.cost_usd,
        job_key=job.job_key))
    try:
        sub = yield ("submit", plan.endpoint, seg.payload)
    except SubmitUnconfirmed as exc:
        ctx.journal.mark_unconfirmed(job.job_key, {"error": exc.to_dict()})
        exc.details.setdefault("job_key", job.job_key)
        raise
    except Kling3Error as exc:
        ctx.journal.update_state(job.job_key, "failed", {"error": exc.to_dict(), "sent": False})
        raise
    except (KeyboardInterrupt, asyncio.CancelledError):
        ctx.journal.mark_unconfirmed(
            job.job_key, {"error": "interrupted during the submit: it may have reached the API"}
        )
        raise
    ctx.journal.set_request_id(job.job_key, sub.request_id)
    ctx.on_event(Submitted(request_id=sub.request_id, segment=seg.index))
    if not ctx.wait:
        return CallResult(
            segment=seg.index,
            job_key=job.job_key,
            request_id=sub.request_id,
            status="submitted",
            cost_usd=seg.cost_usd,
        )
    return (yield from _wait_flow(ctx, job.job_key, sub.request_id, seg.index, seg.cost_usd))


def _wait_flow(
    ctx: _Ctx, job_key: str, request_id: str, segment: int, cost: float
) -> Generator[Op, Any, CallResult]:
    """Poll until a terminal status, then fetch the result and download. Never resubmits."""
    started = ctx.clock()
    deadline = None if ctx.timeout is None else started + ctx.timeout
    last: tuple[str, int | None] | None = None
    unknown = 0
    try:
        while True:
            st = yield ("status", request_id)
            key = (st.status, st.queue_position)
            if key != last:
                last = key
                ctx.record(
                    request_id,
                    st.status if st.status in JOURNALED_API_STATES else "submitted",
                    {"status": st.raw},
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

    out: list[CallResult] = []
    if ctx.track and needs_finishing(len(plan.segments), plan.params.aspect_ratio):
        ctx.run_id = ctx.journal.begin_run(
            aspect_ratio=plan.params.aspect_ratio,
            duration=plan.params.duration,
            segments=len(plan.segments),
            tier=plan.tier,
            output_dir=str(ctx.output_dir),
        )
    if not ctx.wait or len(plan.segments) == 1:
        for seg in plan.segments:
            out.append((yield from _call_flow(ctx, plan, seg, batch_id)))
        return out
    submit_ctx = replace(ctx, wait=False)
    submitted = []
    for seg in plan.segments:
        submitted.append((yield from _call_flow(submit_ctx, plan, seg, batch_id)))
    for k, call in enumerate(submitted):
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
            for other in submitted[k + 1 :]:
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
    but could not be saved raises with the ``kling3 result`` command that fetches it again."""
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
    ctx.record(request_id, "completed", {"result": res.raw})
    if not ctx.download:
        return CallResult(
            segment=segment,
            job_key=job_key,
            request_id=request_id,
            status="completed",
            cost_usd=cost,
        )
    infos = yield from _download_flow(ctx, request_id, res.output)
    sheeted = []
    for info in infos:
        sheeted.append((yield from _sheet_flow(ctx, info)))
    infos = sheeted
    ctx.record(request_id, "downloaded", {"files": [i.path for i in infos]})
    ctx.on_event(Done(request_id=request_id, files=[i.path for i in infos]))
    return CallResult(
        segment=segment,
        job_key=job_key,
        request_id=request_id,
        status="completed",
        cost_usd=cost,
        files=infos,
        warnings=ctx.sheets.take_warnings(),
    )


def _download_flow(
    ctx: _Ctx, request_id: str, output: dict[str, Any] | None
) -> Generator[Op, Any, list[FileInfo]]:
    """Download a finished job's files and journal each. A failure is journaled and re-raised
    with the ``kling3 result`` command that fetches the files again: the job is paid for."""
    ctx.on_event(Downloading(request_id=request_id, output_dir=str(ctx.output_dir)))
    try:
        if not _has_urls(output):
            raise DownloadError(
                "the job finished but its result names no file to download",
                code="no_output",
                details={"output": output},
            )

        def progress(url: str, done: int, total: int | None) -> None:
            ctx.on_event(DownloadProgress(request_id=request_id, url=url, bytes=done, total=total))

        files = yield ("download", output or {}, ctx.output_dir, progress, _file_stem(ctx, request_id))
    except DownloadError as exc:
        ctx.record(request_id, "download_failed", {"error": exc.to_dict()})
        exc.request_id = request_id
        exc.message = f"{exc.message}; the job is done and paid: `kling3 result {request_id}` fetches it again"
        exc.args = (exc.message,)
        raise
    infos = []
    for f in files:
        ctx.record_file(request_id, f.url, str(f.path), f.sha256, f.size)
        infos.append(
            FileInfo(
                path=str(Path(f.path).resolve()),
                url=f.url,
                size=f.size,
                sha256=f.sha256,
                width=f.width,
                height=f.height,
                duration_s=f.duration_s,
            )
        )
    return infos


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


def _file_stem(ctx: _Ctx, request_id: str) -> str:
    """The saved file's name: a slug of the journaled prompt and the request id (``fox-snow-3f9a2c``)."""
    job = None
    if ctx.track:
        with contextlib.suppress(Kling3Error):
            job = ctx.journal.get(request_id)
    prompt = job.payload.get("prompt") if job is not None else None
    return video_stem(prompt if isinstance(prompt, str) else None, request_id)


def _has_urls(output: Any) -> bool:
    from skill.execution.downloads import output_urls

    return bool(output_urls(output or {}))


# -- drivers ---------------------------------------------------------------------------------


def _do_sync(op: Op, client: ModelApi) -> Any:
    """Perform one yielded operation, blocking; the only place the sync flow touches I/O."""
    kind = op[0]
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
        from skill.execution.downloads import download_outputs

        return download_outputs(op[1], op[2], api_base=client.base_url, on_progress=op[3], stem=op[4])
    if kind == "contact_sheet":
        from skill.media.contact_sheet import make_contact_sheet

        return make_contact_sheet(op[1])
    raise AssertionError(kind)


async def _do_async(op: Op, client: AsyncModelApi) -> Any:
    """The asyncio twin of :func:`_do_sync`: the same operations, awaited."""
    kind = op[0]
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
        from skill.execution.downloads import adownload_outputs

        return await adownload_outputs(op[1], op[2], api_base=client.base_url, on_progress=op[3], stem=op[4])
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
    except Kling3Error as exc:
        return exc, None
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
        if check_live_schema:
            check_plan(cl, plan, ctx.on_event)
        calls: list[CallResult] = _drive(_plan_flow(ctx, plan, batch_id), cl)
    return _finish_sync(plan, calls, ctx, finish_video and wait)


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
    async with _aapi(client) as cl:
        if check_live_schema:
            await acheck_plan(cl, plan, ctx.on_event)
        calls: list[CallResult] = await _adrive(_plan_flow(ctx, plan, batch_id), cl)
    return await _finish_async(plan, calls, ctx, finish_video and wait)


def _request_id(journal: Journal, ref: str) -> tuple[str, JobRecord | None]:
    job = journal.get(ref)
    if job is not None and job.request_id:
        return job.request_id, job
    if job is not None:
        raise InputError(
            f"job {ref} has no request_id (state {job.state}): it was never confirmed by the API",
            code="no_request_id",
            field="request_id",
        )
    return ref, None


def status(
    ref: str, *, client: ModelApi | None = None, journal: Journal | None = None
) -> dict[str, Any]:
    """The live status of a job by request_id (or a journal prefix), recorded in the journal."""
    jr = journal or Journal()
    request_id, job = _request_id(jr, ref)
    with _api(client) as cl:
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
        flow = (
            _wait_flow(ctx, key, request_id, 1, cost)
            if wait
            else _finish_flow(ctx, key, request_id, 1, cost)
        )
        return _drive(flow, cl)  # type: ignore[no-any-return]


def cancel(
    ref: str, *, client: ModelApi | None = None, journal: Journal | None = None
) -> dict[str, Any]:
    """Ask the API to cancel a job (only queued jobs can be); record the outcome."""
    jr = journal or Journal()
    request_id, job = _request_id(jr, ref)
    with _api(client) as cl:
        out = cl.cancel(request_id)
    if job is not None:
        jr.update_state(
            request_id,
            "cancelled" if out.outcome == "cancelled" else job.state,
            {"cancel": out.raw},
        )
    return {"request_id": request_id, "outcome": out.outcome, "status": out.status}


def resume(
    ref: str | None = None,
    *,
    output_dir: Path | str | None = None,
    poll_interval: float = 2.0,
    timeout: float | None = 1800.0,
    on_event: EventSink | None = None,
    client: ModelApi | None = None,
    journal: Journal | None = None,
) -> list[dict[str, Any]]:
    """Re-poll and download unfinished jobs (one, or all). Never resubmits anything."""
    jr = journal or Journal()
    if ref is not None:
        _, job = _request_id(jr, ref)
        if job is None:
            raise InputError(
                f"no job {ref!r} in the journal", code="unknown_job", field="request_id"
            )
        targets = [job]
    else:
        targets = jr.unfinished()
    outcomes: list[dict[str, Any]] = []
    with _api(client) as cl:
        for job in targets:
            assert job is not None and job.request_id is not None
            ctx = _ctx(jr, on_event, poll_interval, timeout, output_dir or job.output_dir, True)
            try:
                res: CallResult = _drive(
                    _wait_flow(ctx, job.job_key, job.request_id, 1, job.cost_usd), cl
                )
                outcomes.append(
                    {
                        "request_id": job.request_id,
                        "status": res.status,
                        "files": [f.path for f in res.files],
                    }
                )
            except Interrupted:
                raise
            except Kling3Error as exc:
                outcomes.append(
                    {"request_id": job.request_id, "status": "error", "error": exc.to_dict()}
                )
    for run_id in dict.fromkeys(j.run_id for j in targets if j is not None and j.run_id):
        done = _finish_run(jr, run_id, on_event or (lambda _e: None))
        if done is not None:
            outcomes.append(done)
    return outcomes


def _finish_run(jr: Journal, run_id: str, on_event: EventSink) -> dict[str, Any] | None:
    """Stitch/crop a run once every one of its calls is downloaded (after an interrupted run)."""
    from skill.media.video import finish

    info = jr.run_info(run_id)
    calls = jr.run_jobs(run_id)
    if info is None or info["video"] or len(calls) != info["segments"]:
        return None
    if any(c.state != "downloaded" for c in calls):
        return None
    paths = [Path(f.path) for c in calls for f in jr.files(c)]
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
    except Kling3Error as exc:
        return {"run_id": run_id, "status": "error", "error": exc.to_dict()}
    path = str(Path(video.path).resolve())
    jr.set_run_video(run_id, path)
    sheets = SheetMaker()
    done = {**video.to_json_dict(), "contact_sheet": sheets.make(path)}
    return {"run_id": run_id, "status": "completed", "files": [path], "video": done,
            "warnings": sheets.take_warnings()}


def jobs(limit: int = 50, *, journal: Journal | None = None) -> list[dict[str, Any]]:
    """Recent jobs from the local journal, newest first, with their files."""
    jr = journal or Journal()
    out = []
    for job in jr.list(limit=limit):
        d = job.to_dict()
        d["files"] = [f.path for f in jr.files(job)]
        out.append(d)
    return out
