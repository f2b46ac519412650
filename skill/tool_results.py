"""What the tools of :mod:`skill.tools` answer: their JSON results and the one-line summaries.

A tool's answer is a plain JSON-serialisable dict, so every framework (OpenAI, Anthropic, MCP,
pydantic-ai) can pass it back to a model unchanged; the summary is the short human line an MCP
host shows next to it. Both live here, apart from the tool table and its dispatch, because they
are the part that changes when the answers change (a new field, a clearer hint), while
:mod:`skill.tools` changes when the tools themselves do.

The builders take the package's own objects (a :class:`~skill.planning.Plan`, a
:class:`~skill.execution.flow.RunResult`, a journal row) and never import the network stack:
those types are named for the type checker only, so the free plan path stays light.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from skill.errors import Kling3Error
from skill.execution.states import API_DONE, UNFINISHED_STATES
from skill.money import usd

if TYPE_CHECKING:
    from skill.execution.batch import BatchReport
    from skill.execution.flow import CallResult, FileInfo, RunResult
    from skill.planning import Plan

__all__ = [
    "BatchItemResult",
    "BatchResult",
    "CancelResult",
    "FetchResult",
    "GenerateResult",
    "JobRow",
    "JobsResult",
    "PlanResult",
    "SkippedOutputResult",
    "StatusResult",
    "VideoEntry",
    "batch_result",
    "batch_summary",
    "cancel_result",
    "cancel_summary",
    "error_result",
    "error_summary",
    "fallback_summary",
    "fetch_pending_result",
    "fetch_result",
    "generate_pending_result",
    "generate_result",
    "job_detail",
    "job_row",
    "jobs_result",
    "jobs_summary",
    "plan_result",
    "plan_summary",
    "status_result",
    "status_summary",
    "video_entries",
    "wait_summary",
]

VIDEO_MIME = "video/mp4"


# -- the shapes of the results (the tools' output schemas) -----------------------------------


class _Result(BaseModel):
    """A tool result's shape, published as the tool's MCP output schema.

    The builders below return plain dicts (what every framework passes back to a model); these
    models only describe them. They allow extra keys so that a host holding an older schema still
    accepts a newer server's answers: an answer after a paid submit must never be rejected for a
    field the host did not expect. The test suite checks the builders against them key for key.
    """

    model_config = ConfigDict(extra="allow", defer_build=True)


_RID = "The job's id at RunComfy: keep it; kling_fetch_video, kling_video_status and kling_cancel_video take it."


class SkippedOutputResult(_Result):
    """An output of the finished job that was not saved, and why."""

    url: str = Field(description="The output's URL, without its query (signatures live there).")
    reason: str = Field(description="Why: an untrusted host, or a cover that is not a PNG, JPEG or WebP image.")


_IMAGES = "Absolute paths of cover or thumbnail images saved beside the videos (verified PNG, JPEG or WebP)."
_SKIPPED = ("Outputs not saved: tell the user. The job is done and paid; never generate it again for "
            "them.")


class PlanCall(_Result):
    """One paid call of a plan that needs several (a video over 15 s)."""

    duration_s: int
    cost_usd: float
    payload: dict[str, Any]


class PlanWhy(_Result):
    """Why the plan is what it is."""

    rules: dict[str, str] = Field(description="The routing rule that decided each slot (tier, mode, ...).")
    signals: list[str] = Field(description="What was read in the request, as 'words' -> signal.")
    changes: list[str | None] = Field(description="Changes made to fit limits or the budget, in words.")


class PlanResult(_Result):
    """``kling_plan_video``: the endpoint, prompt, exact payload and cost; nothing was sent."""

    endpoint: str
    tier: str
    mode: str
    resolution: str
    cost_usd: float = Field(description="What generating it would cost, in US dollars.")
    duration_s: int
    aspect_ratio: str
    generate_audio: bool
    prompt: str
    negative_prompt: str | None
    payload: dict[str, Any] = Field(description="The exact body that would be sent to RunComfy.")
    calls: list[PlanCall] | None = Field(default=None, description="Present when the video takes several calls.")
    why: PlanWhy
    warnings: list[str]
    free: bool = Field(description="Always true: planning sends nothing and costs nothing.")
    render_aspect_ratio: str | None = Field(default=None, description="The native ratio rendered, then cropped.")
    image_url: str | None = None
    tail_image_url: str | None = None


class VideoEntry(_Result):
    """One delivered video: where it is, where RunComfy served it, and its contact sheet."""

    path: str = Field(description="Absolute path of the saved MP4.")
    uri: str = Field(description="The same path as a file:// URI.")
    url: str | None = Field(description="The RunComfy file URL (None for a film stitched or cropped here).")
    mime_type: str
    size: int | None = None
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    contact_sheet: str | None = Field(default=None, description="A JPEG of six frames beside the video, to look at.")
    source_urls: list[str] | None = Field(default=None, description="The calls' file URLs, for a stitched film.")


class GenerateResult(_Result):
    """``kling_generate_video``: the request_id always; the files when the video is ready."""

    request_id: str | None = Field(description=_RID)
    request_ids: list[str] = Field(description="Every call's request_id (several for a video over 15 s).")
    status: str
    done: bool = Field(description="True once the video is downloaded; else fetch it with kling_fetch_video.")
    files: list[str] = Field(description="Absolute paths of the saved MP4 files.")
    images: list[str] = Field(default_factory=list, description=_IMAGES)
    skipped: list[SkippedOutputResult] = Field(default_factory=list, description=_SKIPPED)
    endpoint: str
    tier: str
    mode: str
    cost_usd: float = Field(description="What was spent (estimated), in US dollars.")
    queue_position: int | None = None
    duration_s: int | None = None
    aspect_ratio: str | None = None
    warnings: list[str] = Field(default_factory=list)
    waited_s: int | None = None
    hint: str | None = Field(default=None, description="What to do next, when the video is not ready yet.")
    videos: list[VideoEntry] | None = Field(default=None, description="The delivered videos, once done.")


class BatchItemResult(_Result):
    """One video of a batch and what became of it."""

    index: int = Field(description="1-based, in the order the requests (and their variants) were given.")
    status: str = Field(description="completed, failed, timeout, refused, error, interrupted or not_started.")
    label: str
    cfg_scale: float | None = Field(description="The variant's cfg_scale (the request's own when no variants).")
    endpoint: str | None
    tier: str | None
    duration_s: int | None
    aspect_ratio: str | None
    cost_usd: float = Field(description="What this video cost (estimated): every call RunComfy accepted.")
    planned_cost_usd: float
    request_ids: list[str] = Field(description=_RID)
    files: list[str] = Field(description="Absolute paths of the saved MP4 files.")
    skipped: list[SkippedOutputResult] = Field(default_factory=list, description=_SKIPPED)
    video: str | None = Field(default=None, description="The stitched or cropped video, when the plan needed one.")
    error: dict[str, Any] | None = None
    warnings: list[str]


class BatchResult(_Result):
    """``kling_generate_batch``: every video's outcome, the request_ids to fetch, the cost."""

    batch_id: str
    done: bool = Field(description="True when every video is saved.")
    items: list[BatchItemResult]
    request_ids: list[str] = Field(description="Every request_id of the batch, for kling_fetch_video.")
    files: list[str]
    planned_cost_usd: float
    cost_usd: float = Field(description="What was spent (estimated), in US dollars.")
    counts: dict[str, int] = Field(description="How many videos ended in each status.")
    hint: str | None = Field(default=None, description="What to do about the videos not saved yet.")


class FetchResult(_Result):
    """``kling_fetch_video``: the files when done, else where the job is and to ask again."""

    request_id: str = Field(description=_RID)
    status: str
    done: bool
    files: list[str] = Field(description="Absolute paths of the saved MP4 files.")
    images: list[str] = Field(default_factory=list, description=_IMAGES)
    skipped: list[SkippedOutputResult] = Field(default_factory=list, description=_SKIPPED)
    queue_position: int | None = None
    waited_s: int | None = None
    hint: str | None = None
    cost_usd: float | None = Field(default=None, description="What the job cost (estimated), in US dollars.")
    videos: list[VideoEntry] | None = Field(default=None, description="The delivered videos, once done.")
    warnings: list[str] | None = None


class StatusResult(_Result):
    """``kling_video_status``: the live status, and what the local journal knows of the job."""

    request_id: str = Field(description=_RID)
    status: str = Field(description="in_queue, in_progress, completed, failed or cancelled.")
    queue_position: int | None
    done: bool
    endpoint: str | None = None
    tier: str | None = None
    cost_usd: float | None = None
    journal_state: str | None = None
    hint: str | None = None


class CancelResult(_Result):
    """``kling_cancel_video``: whether the job was cancelled (then it is not charged)."""

    request_id: str = Field(description=_RID)
    outcome: str = Field(description="cancelled, already_cancelled, or not_cancellable (it runs and is charged).")
    status: str | None
    cancelled: bool
    charged: bool = Field(description="Whether the job will be (or was) charged.")
    message: str = Field(description="Whether the job will be charged, in words.")


class JobRow(_Result):
    """One job of the local journal."""

    request_id: str | None
    job_key: str | None = Field(description="The journal's key: names a job that has no request_id.")
    state: str | None
    possibly_paid: bool = Field(
        description="Its submit was never confirmed: it may have created a paid job. Never generate it "
        "again before the user has checked their RunComfy requests."
    )
    endpoint: str | None
    tier: str | None
    mode: str | None
    cost_usd: float | None
    created_at: str | None
    prompt: str
    files: list[str]


class JobsResult(_Result):
    """``kling_list_jobs``: recent jobs, newest first."""

    jobs: list[JobRow]


# -- results ---------------------------------------------------------------------------------


def plan_result(plan: Plan) -> dict[str, Any]:
    """``kling_plan_video``'s answer: everything a model needs to show the user before spending."""
    p = plan.params
    out: dict[str, Any] = {
        "endpoint": plan.endpoint,
        "tier": plan.tier,
        "mode": plan.mode,
        "resolution": plan.resolution,
        "cost_usd": plan.cost_usd,
        "duration_s": p.duration,
        "aspect_ratio": p.aspect_ratio,
        "generate_audio": p.generate_audio,
        "prompt": plan.prompt,
        "negative_prompt": plan.negative_prompt,
        "payload": plan.payload,
        "calls": [{"duration_s": s.duration, "cost_usd": s.cost_usd, "payload": s.payload} for s in plan.segments],
        "why": {
            "rules": plan.decision.rules,
            "signals": [f"{s.get('words')!r} -> {s.get('name')}" for s in plan.decision.signals],
            "changes": [c.get("reason") for c in plan.decision.changes],
        },
        "warnings": plan.warnings,
        "free": True,
    }
    if p.render_aspect_ratio != p.aspect_ratio:
        out["render_aspect_ratio"] = p.render_aspect_ratio
    if p.image_url:
        out["image_url"] = p.image_url
    if p.tail_image_url:
        out["tail_image_url"] = p.tail_image_url
    if len(plan.segments) == 1:
        del out["calls"]
    return out


def _file_entry(f: FileInfo) -> dict[str, Any]:
    return {
        "path": f.path,
        "uri": Path(f.path).as_uri(),
        "url": f.url,
        "mime_type": VIDEO_MIME,
        "size": f.size,
        "width": f.width,
        "height": f.height,
        "duration_s": f.duration_s,
        "contact_sheet": f.contact_sheet,
    }


def video_entries(res: RunResult | CallResult) -> list[dict[str, Any]]:
    """The delivered videos, one entry each: the local path and its ``file://`` URI, the RunComfy
    file URL (``None`` for a film stitched or cropped here: its ``source_urls`` are the calls'),
    size, and the contact sheet's path (``None`` when none could be made)."""
    from skill.execution.flow import CallResult

    if isinstance(res, CallResult):
        return [_file_entry(f) for f in res.files]
    by_path = {f.path: f for c in res.calls for f in c.files}
    out: list[dict[str, Any]] = []
    for path in res.files:
        if path in by_path:
            out.append(_file_entry(by_path[path]))
        elif res.video is not None and str(res.video.get("path")) == path:
            v = res.video
            out.append({
                "path": path, "uri": Path(path).as_uri(), "url": None, "mime_type": VIDEO_MIME,
                "size": None, "width": v.get("width"), "height": v.get("height"),
                "duration_s": v.get("duration_s"), "contact_sheet": v.get("contact_sheet"),
                "source_urls": [f.url for c in res.calls for f in c.files],
            })  # fmt: skip
    return out


def _fetch_hint(request_id: str | None) -> str:
    return (
        f"The job keeps running (it is charged unless cancelled while still queued): call kling_fetch_video "
        f"with request_id={request_id!r} to wait for it and download the video. Do not generate it again."
    )


def generate_pending_result(
    plan: Plan, request_id: str | None, status: str | None, queue_position: int | None, waited: int
) -> dict[str, Any]:
    """``kling_generate_video``'s answer when its wait ran out: the paid job's id, so it is fetched, not redone.

    ``status`` and ``queue_position`` are where the job was last seen (``None`` if no status
    arrived before the wait ended).
    """
    return {
        "request_id": request_id,
        "request_ids": [request_id] if request_id else [],
        "status": status or "submitted",
        "queue_position": queue_position,
        "done": False,
        "files": [],
        "endpoint": plan.endpoint,
        "tier": plan.tier,
        "mode": plan.mode,
        "cost_usd": plan.cost_usd,
        "waited_s": waited,
        "hint": _fetch_hint(request_id),
    }


def generate_result(plan: Plan, res: RunResult) -> dict[str, Any]:
    """``kling_generate_video``'s answer once the run returned (finished, or submitted in several calls)."""
    done = res.status in API_DONE
    out: dict[str, Any] = {
        "request_id": res.request_id,
        "request_ids": res.request_ids,
        "status": res.status,
        "done": done,
        "files": res.files,
        "images": res.images,
        "skipped": [k.model_dump() for k in res.skipped],
        "endpoint": res.endpoint,
        "tier": res.tier,
        "mode": res.mode,
        "cost_usd": res.cost_usd,
        "duration_s": plan.params.duration,
        "aspect_ratio": plan.params.aspect_ratio,
        "warnings": res.warnings,
    }
    if done:
        out["videos"] = video_entries(res)
    if not done:
        ids = ", ".join(res.request_ids)
        out["hint"] = (
            f"{len(res.request_ids)} calls were submitted ({ids}) and keep running; they are paid. Call "
            "kling_fetch_video for each request_id to wait for and download its part."
        )
    return out


_STILL_RUNNING = ("timeout", "interrupted", "error")


def _batch_hint(items: list[dict[str, Any]]) -> str | None:
    """What to do next: fetch what is paid, fix what was refused; change a prompt only if its job failed."""
    running = [rid for i in items if i["status"] in _STILL_RUNNING and not i["files"] for rid in i["request_ids"]]
    refused = [str(i["index"]) for i in items if i["status"] in ("refused", "not_started")]
    failed = [str(i["index"]) for i in items if i["status"] == "failed"]
    said = []
    if running:
        said.append(f"{len(running)} job(s) are paid and still running or not downloaded: call kling_fetch_video "
                    f"with each request_id ({', '.join(running)}). Do not run the batch again.")
    if refused:
        said.append(f"Item(s) {', '.join(refused)} were not sent (free): fix what each error names and send "
                    "only those again.")
    if failed:
        said.append(f"Item(s) {', '.join(failed)} failed at RunComfy: change their prompt before trying again.")
    return " ".join(said) or None


def batch_result(report: BatchReport, requests: list[dict[str, Any]]) -> dict[str, Any]:
    """``kling_generate_batch``'s answer: the executor's report, with each variant's cfg_scale."""
    items: list[dict[str, Any]] = [
        {
            "index": i.index, "status": i.status, "label": i.label,
            "cfg_scale": requests[i.index - 1].get("cfg_scale"),
            "endpoint": i.endpoint, "tier": i.tier, "duration_s": i.duration, "aspect_ratio": i.aspect_ratio,
            "cost_usd": i.cost_usd, "planned_cost_usd": i.planned_cost_usd,
            "request_ids": list(i.request_ids), "files": [i.video] if i.video else list(i.files),
            "skipped": list(i.skipped), "video": i.video, "error": i.error, "warnings": list(i.warnings),
        }
        for i in report.items
    ]
    return {
        "batch_id": report.batch_id,
        "done": report.ok,
        "items": items,
        "request_ids": [rid for i in items for rid in i["request_ids"]],
        "files": [f for i in items for f in i["files"]],
        "planned_cost_usd": report.planned_cost_usd,
        "cost_usd": report.total_cost_usd,
        "counts": dict(report.counts),
        "hint": _batch_hint(items),
    }


def fetch_result(res: CallResult, request_id: str) -> dict[str, Any]:
    """``kling_fetch_video``'s answer when the fetch returned: the files, or the status to wait on.

    ``cost_usd`` is what the journal recorded at submit (``None`` for a job it never saw).
    """
    done = res.status in API_DONE
    out: dict[str, Any] = {
        "request_id": res.request_id or request_id,
        "status": res.status,
        "done": done,
        "files": [f.path for f in res.files],
        "cost_usd": res.cost_usd or None,
        "images": [f.path for f in res.images],
        "skipped": [k.model_dump() for k in res.skipped],
    }
    if done:
        out["videos"] = video_entries(res)
        out["warnings"] = res.warnings
    if not done:
        out["queue_position"] = res.queue_position
        out["hint"] = f"Not finished yet: call kling_fetch_video again with request_id={out['request_id']!r} to keep waiting."
    return out


def fetch_pending_result(
    request_id: str, status: str | None, queue_position: int | None, waited: int
) -> dict[str, Any]:
    """``kling_fetch_video``'s answer when its wait ran out: where the job was, and to ask again."""
    return {
        "request_id": request_id,
        "status": status or "unknown",
        "queue_position": queue_position,
        "done": False,
        "files": [],
        "waited_s": waited,
        "hint": f"Still running: call kling_fetch_video again with request_id={request_id!r} to keep waiting.",
    }


def status_result(doc: dict[str, Any]) -> dict[str, Any]:
    """``kling_video_status``'s answer: the live status, plus what the journal knows of the job."""
    job = doc.get("journal") or {}
    out: dict[str, Any] = {
        "request_id": doc["request_id"],
        "status": doc["status"],
        "queue_position": doc.get("queue_position"),
        "done": doc["status"] in API_DONE,
    }
    if job:
        out.update(endpoint=job.get("model_id"), tier=job.get("tier"), cost_usd=job.get("cost_usd"),
                   journal_state=job.get("state"))
    if out["done"]:
        out["hint"] = f"Finished: call kling_fetch_video with request_id={doc['request_id']!r} to download it."
    return out


def cancel_result(doc: dict[str, Any]) -> dict[str, Any]:
    """``kling_cancel_video``'s answer, saying in words whether the job will be charged."""
    cancelled = not doc.get("charged", True)
    message = (
        "Cancelled while queued: it will not be charged."
        if doc.get("outcome") == "cancelled"
        else "It was already cancelled: it is not charged."
        if cancelled
        else "Could not be cancelled: it is already running (or finished) and will be charged. "
        "Call kling_fetch_video to get the video."
    )
    return {**doc, "cancelled": cancelled, "message": message}


def job_row(row: dict[str, Any]) -> dict[str, Any]:
    """One journal row as ``kling_list_jobs`` lists it (the prompt cut to 120 characters)."""
    prompt = str((row.get("payload") or {}).get("prompt") or "")
    return {
        "request_id": row.get("request_id"),
        "job_key": row.get("job_key"),
        "state": row.get("state"),
        "possibly_paid": bool(row.get("possibly_paid")),
        "endpoint": row.get("model_id"),
        "tier": row.get("tier"),
        "mode": row.get("mode"),
        "cost_usd": row.get("cost_usd"),
        "created_at": row.get("created_at"),
        "prompt": prompt if len(prompt) <= 120 else prompt[:117] + "...",
        "files": row.get("files", []),
    }


def _next_step(state: str, request_id: str | None, possibly_paid: bool = False) -> str:
    """What to do about a job in ``state``: never generate a paid job again, only fetch it."""
    if state == "downloaded":
        return "Done: the video is saved (files). kling_fetch_video downloads it again if a file is lost."
    if state == "unconfirmed" or possibly_paid:
        return ("The submit may or may not have reached RunComfy (possibly paid): do not generate it again "
                "before the user has checked the RunComfy dashboard; `kling3 jobs --settle` records the answer.")
    if state == "failed":
        return "The job itself failed at RunComfy: change the prompt before trying again."
    if state == "cancelled":
        return "Cancelled while queued: not charged."
    if state in UNFINISHED_STATES and request_id:
        return f"Paid, not saved yet: call kling_fetch_video with request_id={request_id!r}. Do not generate it again."
    return "Being submitted: list the jobs again in a moment."


def job_detail(row: dict[str, Any], files: list[dict[str, Any]], events: list[dict[str, Any]]) -> dict[str, Any]:
    """One journal job in full, as the ``kling3://jobs/{request_id}`` resource shows it: the
    exact payload sent, every saved file, every state change, and what to do next."""
    payload = row.get("payload") or {}
    return {
        "request_id": row.get("request_id"),
        "state": row.get("state"),
        "endpoint": row.get("model_id"),
        "tier": row.get("tier"),
        "mode": row.get("mode"),
        "cost_usd": row.get("cost_usd"),
        "created_at": row.get("created_at"),
        "updated_at": row.get("updated_at"),
        "prompt": payload.get("prompt"),
        "payload": payload,
        "output_dir": row.get("output_dir"),
        "batch_id": row.get("batch_id"),
        "files": [{k: f.get(k) for k in ("path", "url", "size", "sha256")} for f in files],
        "events": [{"at": e.get("at"), "state": e.get("state")} for e in events],
        "next": _next_step(str(row.get("state")), row.get("request_id"), bool(row.get("possibly_paid"))),
    }


def jobs_result(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """``kling_list_jobs``'s answer: the rows under ``jobs`` (an object, as every tool result is)."""
    return {"jobs": [job_row(r) for r in rows]}


def error_result(exc: Kling3Error) -> dict[str, Any]:
    """A refusal or failure as data: ``{"error": {"code", "field", "message", ...}}``, never raised.

    After a confirmed submit (``"paid": true``) the answer names the request_id(s) and tells the
    model not to generate again but to fetch; after an unconfirmed one (``"paid": "unknown"``)
    not to generate again before checking.
    """
    err = exc.to_dict()
    out: dict[str, Any] = {"error": err}
    paid = err.get("paid")
    if paid is True:
        ids = err.get("request_ids") or [err.get("request_id")]
        named = ", ".join(f"request_id={i!r}" for i in ids)
        err["hint"] = (
            f"The job is submitted and paid: do not generate it again. Call kling_fetch_video with "
            f"{named} to wait for it and download the video."
        )
        out["request_id"] = err.get("request_id")
    elif paid == "unknown":
        done = err.get("submitted_request_ids") or []
        err["hint"] = (
            "The submit may have created a paid job: do not generate again before the user has checked "
            "their RunComfy requests (kling_list_jobs lists it as possibly_paid)."
            + (f" Already paid: call kling_fetch_video for {', '.join(done)}." if done else "")
        )
        out["request_id"] = done[0] if done else None
    return out


# -- summaries -------------------------------------------------------------------------------


def _status_words(doc: dict[str, Any]) -> str:
    pos = doc.get("queue_position")
    return f"{doc.get('status')}" + (f" (queue position {pos})" if pos is not None else "")


def error_summary(err: dict[str, Any]) -> str:
    """The line for any tool's error, e.g. ``error [missing_image] (image_url): ...``."""
    field = f" ({err.get('field')})" if err.get("field") else ""
    hint = f" {err['hint']}" if err.get("hint") else ""
    return f"error [{err.get('code')}]{field}: {err.get('message')}{hint}"


def plan_summary(result: dict[str, Any]) -> str:
    """E.g. ``standard t2v, $0.63, 5 s, 9:16, audio (free plan: nothing was sent)``."""
    audio = ", audio" if result.get("generate_audio") else ""
    calls = f", {len(result['calls'])} calls" if result.get("calls") else ""
    return (
        f"{result.get('tier')} {result.get('mode')}, {usd(result.get('cost_usd'))}, {result.get('duration_s')} s, "
        f"{result.get('aspect_ratio')}{audio}{calls} (free plan: nothing was sent)"
    )


def wait_summary(result: dict[str, Any]) -> str:
    """For the tools that wait for a video: the files when done, else the status and what to do next."""
    rid = result.get("request_id")
    if result.get("done"):
        videos = result.get("videos") or [{"path": f} for f in result.get("files") or []]
        where = ", ".join(
            str(v["path"]) + (f" (contact sheet {v['contact_sheet']})" if v.get("contact_sheet") else "")
            for v in videos
        ) or "no file"
        cost = f", {usd(result['cost_usd'])}" if result.get("cost_usd") is not None else ""
        skipped = result.get("skipped") or []
        extra = f"; {len(skipped)} output(s) not saved (see skipped)" if skipped else ""
        return f"completed (request_id {rid}{cost}): {where}{extra}"
    return f"{_status_words(result)}; request_id {rid}. {result.get('hint', '')}".strip()


def batch_summary(result: dict[str, Any]) -> str:
    """E.g. ``batch of 3: 3 completed; $1.26 spent of $1.26 planned``, then one line per video."""
    items = result.get("items") or []
    counts = ", ".join(f"{n} {s}" for s, n in (result.get("counts") or {}).items())
    lines = [f"batch of {len(items)}: {counts}; {usd(result.get('cost_usd'))} spent of "
             f"{usd(result.get('planned_cost_usd'))} planned"]
    for i in items:
        where = ", ".join(i.get("files") or []) or ", ".join(i.get("request_ids") or []) or (i.get("error") or {}).get("code", "")
        cfg = f" cfg_scale {i['cfg_scale']}" if i.get("cfg_scale") is not None else ""
        lines.append(f"[{i.get('index')}] {i.get('status')}{cfg} {usd(i.get('cost_usd'))}: {where}")
    if result.get("hint"):
        lines.append(str(result["hint"]))
    return "\n".join(lines)


def status_summary(result: dict[str, Any]) -> str:
    """E.g. ``abc123: in_queue (queue position 2)``."""
    return f"{result.get('request_id')}: {_status_words(result)}"


def cancel_summary(result: dict[str, Any]) -> str:
    """The request_id and whether it will be charged."""
    return f"{result.get('request_id')}: {result.get('message')}"


def jobs_summary(result: dict[str, Any]) -> str:
    """A count, then one line per job (at most 20)."""
    rows = result.get("jobs") or []
    lines = [f"{len(rows)} job(s)"]
    lines += [f"{r.get('request_id')}  {r.get('state')}  {r.get('tier')}  {usd(r.get('cost_usd'))}" for r in rows[:20]]
    return "\n".join(lines)


def fallback_summary(result: dict[str, Any]) -> str:
    """For a result of no known tool: its JSON, cut to 200 characters."""
    return json.dumps(result, ensure_ascii=False)[:200]
