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
from typing import TYPE_CHECKING, Any

from skill.errors import Kling3Error
from skill.execution.states import API_DONE
from skill.money import usd

if TYPE_CHECKING:
    from skill.execution.flow import CallResult, RunResult
    from skill.planning import Plan

__all__ = [
    "cancel_result",
    "cancel_summary",
    "error_result",
    "error_summary",
    "fallback_summary",
    "fetch_pending_result",
    "fetch_result",
    "generate_pending_result",
    "generate_result",
    "job_row",
    "jobs_result",
    "jobs_summary",
    "plan_result",
    "plan_summary",
    "status_result",
    "status_summary",
    "wait_summary",
]


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
    if not done:
        ids = ", ".join(res.request_ids)
        out["hint"] = (
            f"{len(res.request_ids)} calls were submitted ({ids}) and keep running; they are paid. Call "
            "kling_fetch_video for each request_id to wait for and download its part."
        )
    return out


def fetch_result(res: CallResult, request_id: str) -> dict[str, Any]:
    """``kling_fetch_video``'s answer when the fetch returned: the files, or the status to wait on."""
    done = res.status in API_DONE
    out: dict[str, Any] = {
        "request_id": res.request_id or request_id,
        "status": res.status,
        "done": done,
        "files": [f.path for f in res.files],
        "images": [f.path for f in res.images],
        "skipped": [k.model_dump() for k in res.skipped],
    }
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
    cancelled = doc.get("outcome") == "cancelled"
    message = (
        "Cancelled while queued: it will not be charged."
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
        "state": row.get("state"),
        "endpoint": row.get("model_id"),
        "tier": row.get("tier"),
        "mode": row.get("mode"),
        "cost_usd": row.get("cost_usd"),
        "created_at": row.get("created_at"),
        "prompt": prompt if len(prompt) <= 120 else prompt[:117] + "...",
        "files": row.get("files", []),
    }


def jobs_result(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """``kling_list_jobs``'s answer: the rows under ``jobs`` (an object, as every tool result is)."""
    return {"jobs": [job_row(r) for r in rows]}


def error_result(exc: Kling3Error) -> dict[str, Any]:
    """A refusal or failure as data: ``{"error": {"code", "field", "message", ...}}``, never raised."""
    return {"error": exc.to_dict()}


# -- summaries -------------------------------------------------------------------------------


def _status_words(doc: dict[str, Any]) -> str:
    pos = doc.get("queue_position")
    return f"{doc.get('status')}" + (f" (queue position {pos})" if pos is not None else "")


def error_summary(err: dict[str, Any]) -> str:
    """The line for any tool's error, e.g. ``error [missing_image] (image_url): ...``."""
    field = f" ({err.get('field')})" if err.get("field") else ""
    return f"error [{err.get('code')}]{field}: {err.get('message')}"


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
        files = result.get("files") or []
        where = ", ".join(files) if files else "no file"
        cost = f", {usd(result['cost_usd'])}" if "cost_usd" in result else ""
        skipped = result.get("skipped") or []
        extra = f"; {len(skipped)} output(s) not saved (see skipped)" if skipped else ""
        return f"completed (request_id {rid}{cost}): {where}{extra}"
    return f"{_status_words(result)}; request_id {rid}. {result.get('hint', '')}".strip()


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
