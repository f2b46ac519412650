"""Function-calling tools for LLM agents: one definition, every framework.

Six tools, generated from pydantic models (the request fields are :class:`~skill.request.VideoRequest`'s
own, with its descriptions), exported in OpenAI or Anthropic format, and dispatched from any
framework through :func:`call` (sync) or :func:`acall` (async)::

    from skill.tools import tools_for, call

    tools = tools_for("openai")        # pass to chat.completions.create(tools=tools)
    out = call("kling_plan_video", '{"text": "a fox in snow, 8 seconds"}')
    out["cost_usd"]                    # 0.672

Results are JSON-serialisable dicts. Errors never raise: they come back as
``{"error": {"code", "field", "message", ...}}`` with the same stable codes the CLI prints
(``missing_image``, ``over_budget``, ``invalid_input``, ``unknown_tool``, ...).

``kling_plan_video`` is free; ``kling_generate_video`` spends. The MCP server
(:mod:`skill.mcp_server`) serves exactly these tools, names and input schemas.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from skill.errors import InputError, Kling3Error, UsageError, WaitTimeout
from skill.execution.states import API_DONE
from skill.media.ffmpeg import video_tools_available
from skill.money import usd
from skill.request import VideoRequest

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_WAIT_SECONDS",
    "TOOL_NAMES",
    "CancelVideoInput",
    "FetchVideoInput",
    "GenerateOptions",
    "GenerateVideoInput",
    "ListJobsInput",
    "PlanVideoInput",
    "ToolSpec",
    "VideoStatusInput",
    "acall",
    "call",
    "cli_tools",
    "default_output_dir",
    "input_schema",
    "summarize",
    "tool_specs",
    "tools_for",
]

DEFAULT_WAIT_SECONDS = 45
"""How long ``kling_generate_video`` and ``kling_fetch_video`` wait before answering with a status."""
MAX_WAIT_SECONDS = 600
DEFAULT_POLL_INTERVAL = 2.0
"""Seconds between status polls while a tool waits."""
CANCEL_GRACE_SECONDS = 15.0
"""How long a cancelled ``acall`` still waits for the queued job's cancel request to reach the API."""

TOOL_NAMES = (
    "kling_plan_video",
    "kling_generate_video",
    "kling_video_status",
    "kling_fetch_video",
    "kling_cancel_video",
    "kling_list_jobs",
)

Event = dict[str, Any]
EventSink = Callable[[Event], None]
ToolFormat = Literal["openai", "anthropic"]

# Fields of VideoRequest an LLM should not be offered: Kling 3.0 takes no seed, so the field would
# only suggest a reproducibility that does not exist.
_HIDDEN_REQUEST_FIELDS = frozenset({"seed"})


# -- input models ----------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


_WaitSeconds = Annotated[
    int,
    Field(
        ge=0,
        le=MAX_WAIT_SECONDS,
        description=(
            "Longest time to wait for the video before answering, in seconds (default "
            f"{DEFAULT_WAIT_SECONDS}). If the job is not done by then the answer carries its status "
            "and request_id, and the job keeps running: fetch it later with kling_fetch_video."
        ),
    ),
]
_OutputDir = Annotated[
    str | None,
    Field(description="Directory to save the MP4 in (created if missing). Default: the server's output directory."),
]
_RequestId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="The request_id returned by kling_generate_video (or a 6+ character prefix from kling_list_jobs).",
    ),
]


class GenerateOptions(_Strict):
    """The options of ``kling_generate_video`` besides the video request itself."""

    wait_seconds: _WaitSeconds = DEFAULT_WAIT_SECONDS
    output_dir: _OutputDir = None


class VideoStatusInput(_Strict):
    """Input of ``kling_video_status``."""

    request_id: _RequestId


class FetchVideoInput(_Strict):
    """Input of ``kling_fetch_video``."""

    request_id: _RequestId
    wait_seconds: _WaitSeconds = DEFAULT_WAIT_SECONDS
    output_dir: _OutputDir = None


class CancelVideoInput(_Strict):
    """Input of ``kling_cancel_video``."""

    request_id: _RequestId


class ListJobsInput(_Strict):
    """Input of ``kling_list_jobs``."""

    limit: int = Field(default=20, ge=1, le=200, description="How many recent jobs to list (newest first).")


def _request_field_definitions() -> dict[str, Any]:
    """VideoRequest's fields, annotations, constraints and descriptions, under their field names.

    ``text`` is listed as required: a request needs it unless it gives ``shots`` (the request
    validator checks that; ``prompt`` is accepted as an alias when called).
    """
    annotated: Any = Annotated
    out: dict[str, Any] = {}
    for name, info in VideoRequest.model_fields.items():
        if name in _HIDDEN_REQUEST_FIELDS:
            continue
        annotation = annotated[tuple([info.annotation, *info.metadata])] if info.metadata else info.annotation
        if name == "text":
            out[name] = (annotation, Field(description=info.description))
        else:
            out[name] = (annotation, Field(default=info.default, description=info.description))
    return out


def _option_definitions(model: type[BaseModel]) -> dict[str, Any]:
    return {name: (info.annotation, copy.copy(info)) for name, info in model.model_fields.items()}


_FORBID = ConfigDict(extra="forbid")

PlanVideoInput: type[BaseModel] = create_model(
    "PlanVideoInput", __config__=_FORBID, **_request_field_definitions()
)
GenerateVideoInput: type[BaseModel] = create_model(
    "GenerateVideoInput",
    __config__=_FORBID,
    **_request_field_definitions(),
    **_option_definitions(GenerateOptions),
)


# -- descriptions ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _pricing() -> str:
    from skill.catalog import load_catalog

    cat = load_catalog()
    std, pro, uhd = (cat.endpoint(t, "t2v") for t in ("standard", "pro", "4k"))
    ratio = uhd.usd_per_second / std.usd_per_second
    return (
        f"Price per second of video: standard {usd(std.usd_per_second)} ({usd(std.usd_per_second_audio)} with "
        f"audio), pro {usd(pro.usd_per_second)} ({usd(pro.usd_per_second_audio)} with audio), "
        f"4k {usd(uhd.usd_per_second)} (audio included): 4k is ~{ratio:.0f}x standard, audio adds 50% on "
        f"standard and pro. Default length {cat.limits.default_duration} s; {cat.limits.min_duration}-"
        f"{cat.limits.max_duration} s per call, up to {cat.limits.max_total_duration} s as several calls."
    )


_TIERS = (
    "Tiers: standard is the cheapest and the default, for drafts, tests, previews, variants and social "
    "clips; pro is 1080p hero quality, for final deliverables, ads, talking heads and faces or products "
    "that must stay consistent; 4k is native 3840x2160 and costs about 5x standard: choose it only when "
    "the user asks for 4K/UHD/big-screen output, and get their explicit OK on the price first. "
    "Image-to-video: pass image_url (an https link to a jpg, png or webp; tail_image_url for the last "
    "frame on pro/4k)."
)


def _descriptions() -> dict[str, str]:
    return {
        "kling_plan_video": (
            "Plan a Kling 3.0 video on RunComfy for FREE: nothing is sent and nothing is paid. Returns "
            "the endpoint (tier and mode), the final prompt, the exact API payload, the cost in USD and "
            "why each choice was made. Call this first, show the user the tier and the cost, and only "
            "then call kling_generate_video with the same arguments. "
            f"{_TIERS} {_pricing()} A request that cannot run (no image for image-to-video, over the "
            "budget, a bad ratio or length) comes back as an error with a stable code and the field at fault."
        ),
        "kling_generate_video": (
            "Generate a Kling 3.0 video on RunComfy. This SPENDS money: the cost kling_plan_video shows. "
            "Plan first, show the cost, and have the user's go-ahead (always for 4k). Submits the job, "
            f"waits at most wait_seconds (default {DEFAULT_WAIT_SECONDS}) and always returns the request_id. "
            "When the video is ready it is downloaded and the local file paths are returned; otherwise the "
            "answer carries the status and the job keeps running (it is already paid): call "
            "kling_fetch_video with the request_id to wait for it. Never call kling_generate_video again "
            "for the same video. Requests over 15 s become several calls, all submitted at once; fetch each "
            f"request_id. {_TIERS}"
        ),
        "kling_video_status": (
            "Live status of a Kling job by request_id (free): in_queue (with the queue position), "
            "in_progress, completed, failed or cancelled. Use kling_fetch_video to download a finished video."
        ),
        "kling_fetch_video": (
            "Wait for a submitted Kling job (at most wait_seconds, default "
            f"{DEFAULT_WAIT_SECONDS}) and download its video by request_id. Free: the job was paid when it "
            "was submitted. Returns the local file paths when done, else the current status (call it again "
            "to keep waiting). Also downloads a finished video again."
        ),
        "kling_cancel_video": (
            "Cancel a Kling job by request_id. Only a job still waiting in the queue can be cancelled (it "
            "is then not charged); a job already in progress runs to completion and is charged. The answer "
            "says which happened."
        ),
        "kling_list_jobs": (
            "Recent Kling jobs from the local journal, newest first (free): request_id, state, tier, "
            "cost and saved files. Use it to find a request_id to check, fetch or cancel."
        ),
    }


# -- schemas ---------------------------------------------------------------------------------


def _clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema strict consumers accept: refs inlined, no titles, optional nulls folded."""
    defs: dict[str, Any] = schema.get("$defs", {})

    def walk(node: Any, properties: bool = False) -> Any:
        if isinstance(node, list):
            return [walk(x) for x in node]
        if not isinstance(node, dict):
            return node
        if properties:  # a name -> schema mapping: keep every key, whatever it is called
            return {k: walk(v) for k, v in node.items()}
        if "$ref" in node:
            target = defs[str(node["$ref"]).rsplit("/", 1)[-1]]
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return walk({**target, **rest})
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("title", "$defs") or (key == "default" and value is None):
                continue
            out[key] = walk(value, properties=key == "properties")
        any_of = out.get("anyOf")
        if isinstance(any_of, list):
            non_null = [s for s in any_of if s != {"type": "null"}]
            if len(non_null) == 1 and len(non_null) < len(any_of):
                del out["anyOf"]
                out = {**non_null[0], **out}
        return out

    cleaned: dict[str, Any] = walk(schema)
    cleaned.pop("description", None)  # the model's docstring; the tool description says it better
    cleaned.setdefault("properties", {})
    cleaned["additionalProperties"] = False
    return cleaned


@dataclass(frozen=True)
class ToolSpec:
    """One tool: its name, a description written for a model, and its input model."""

    name: str
    description: str
    input_model: type[BaseModel]

    @functools.cached_property
    def input_schema(self) -> dict[str, Any]:
        return _clean_schema(self.input_model.model_json_schema())


_INPUT_MODELS: dict[str, type[BaseModel]] = {
    "kling_plan_video": PlanVideoInput,
    "kling_generate_video": GenerateVideoInput,
    "kling_video_status": VideoStatusInput,
    "kling_fetch_video": FetchVideoInput,
    "kling_cancel_video": CancelVideoInput,
    "kling_list_jobs": ListJobsInput,
}


@functools.lru_cache(maxsize=1)
def tool_specs() -> tuple[ToolSpec, ...]:
    """The six tools, in the order a model should meet them."""
    descriptions = _descriptions()
    return tuple(ToolSpec(name, descriptions[name], _INPUT_MODELS[name]) for name in TOOL_NAMES)


def input_schema(name: str) -> dict[str, Any]:
    """The cleaned JSON Schema of one tool's arguments (a fresh copy)."""
    for spec in tool_specs():
        if spec.name == name:
            return copy.deepcopy(spec.input_schema)
    raise KeyError(name)


def tools_for(format: ToolFormat) -> list[dict[str, Any]]:
    """Tool definitions for OpenAI (``tools=[...]``) or Anthropic (``tools=[...]``) requests."""
    out: list[dict[str, Any]] = []
    for spec in tool_specs():
        schema = copy.deepcopy(spec.input_schema)
        if format == "openai":
            out.append(
                {"type": "function", "function": {"name": spec.name, "description": spec.description, "parameters": schema}}
            )
        elif format == "anthropic":
            out.append({"name": spec.name, "description": spec.description, "input_schema": schema})
        else:
            raise UsageError(f"unknown tool format {format!r}: use openai or anthropic", field="format")
    return out


def cli_tools(format: str) -> str:
    """The JSON text ``kling3 tools --format openai|anthropic`` prints (raises UsageError, exit 64)."""
    if format not in ("openai", "anthropic"):
        raise UsageError(f"unknown tool format {format!r}: use openai or anthropic", field="format")
    fmt: ToolFormat = "openai" if format == "openai" else "anthropic"
    return json.dumps(tools_for(fmt), indent=2, ensure_ascii=False)


# -- argument handling -----------------------------------------------------------------------

_M = TypeVar("_M", bound=BaseModel)


def _parse_arguments(arguments: dict[str, Any] | str | None) -> dict[str, Any]:
    if arguments is None:
        return {}
    if isinstance(arguments, (str, bytes)):
        text = arguments.strip() if isinstance(arguments, str) else arguments.decode("utf-8", "replace").strip()
        if not text:
            return {}
        try:
            arguments = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"arguments are not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(arguments, dict):
        raise InputError("arguments must be a JSON object")
    return dict(arguments)


def _validate(model: type[_M], data: dict[str, Any]) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = [str(p) for p in err.get("loc", ())]
        field = loc[0] if loc else None
        msg = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            msg = "is not a known argument; known: " + ", ".join(model.model_fields)
        elif err.get("type") == "missing":
            msg = "is required"
        raise InputError(f"{'.'.join(loc) or 'arguments'}: {msg}", field=field) from None


_REQUEST_KEYS = frozenset(VideoRequest.model_fields) | {"prompt"}


def _check_known(args: dict[str, Any], model: type[BaseModel], extra: frozenset[str] = frozenset()) -> None:
    known = set(model.model_fields) | extra
    for key in args:
        if key not in known:
            listed = ", ".join(k for k in model.model_fields if k not in _HIDDEN_REQUEST_FIELDS)
            raise InputError(f"{key}: is not a known argument; known: {listed}", field=key)
    text = args.get("text", args.get("prompt"))
    if not args.get("shots") and (text is None or (isinstance(text, str) and not text.strip())):
        raise InputError("text: describe what the video should show (or give shots)", field="text")


def _split_request(args: dict[str, Any]) -> tuple[dict[str, Any], GenerateOptions]:
    _check_known(args, GenerateVideoInput, _REQUEST_KEYS)
    own = {k: args.pop(k) for k in list(args) if k in GenerateOptions.model_fields}
    return args, _validate(GenerateOptions, own)


# -- results ---------------------------------------------------------------------------------


def default_output_dir() -> Path:
    """Where videos go when a call names no output_dir: the working directory when it is
    writable (not ``/``), else ``videos/`` under ``KLING3_HOME``."""
    cwd = Path.cwd()
    if cwd.parent != cwd and os.access(cwd, os.W_OK):
        return cwd
    from skill.settings import kling3_home

    return kling3_home() / "videos"


def _plan_dict(plan: Any) -> dict[str, Any]:
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


class _Tracker:
    """Remembers the last status event, to say where a job was when the wait ended."""

    def __init__(self, sink: EventSink | None) -> None:
        self.sink = sink
        self.status: str | None = None
        self.queue_position: int | None = None

    def __call__(self, event: Event) -> None:
        if event.get("event") == "status":
            self.status = event.get("status")
            self.queue_position = event.get("queue_position")
        if self.sink is not None:
            self.sink(event)


def _pending(plan: Any, exc: WaitTimeout, tracker: _Tracker, waited: int) -> dict[str, Any]:
    rid = exc.request_id
    return {
        "request_id": rid,
        "request_ids": [rid] if rid else [],
        "status": tracker.status or "submitted",
        "queue_position": tracker.queue_position,
        "done": False,
        "files": [],
        "endpoint": plan.endpoint,
        "tier": plan.tier,
        "mode": plan.mode,
        "cost_usd": plan.cost_usd,
        "waited_s": waited,
        "hint": _fetch_hint(rid),
    }


def _run_dict(plan: Any, res: Any) -> dict[str, Any]:
    done = res.status in API_DONE
    out: dict[str, Any] = {
        "request_id": res.request_id,
        "request_ids": res.request_ids,
        "status": res.status,
        "done": done,
        "files": res.files,
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


def _call_dict(res: Any, request_id: str) -> dict[str, Any]:
    done = res.status in API_DONE
    out: dict[str, Any] = {
        "request_id": res.request_id or request_id,
        "status": res.status,
        "done": done,
        "files": [f.path for f in res.files],
    }
    if not done:
        out["queue_position"] = res.queue_position
        out["hint"] = f"Not finished yet: call kling_fetch_video again with request_id={out['request_id']!r} to keep waiting."
    return out


def _status_dict(doc: dict[str, Any]) -> dict[str, Any]:
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


def _cancel_dict(doc: dict[str, Any]) -> dict[str, Any]:
    cancelled = doc.get("outcome") == "cancelled"
    message = (
        "Cancelled while queued: it will not be charged."
        if cancelled
        else "Could not be cancelled: it is already running (or finished) and will be charged. "
        "Call kling_fetch_video to get the video."
    )
    return {**doc, "cancelled": cancelled, "message": message}


def _job_dict(row: dict[str, Any]) -> dict[str, Any]:
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


def _error(exc: Kling3Error) -> dict[str, Any]:
    return {"error": exc.to_dict()}


# -- dispatch --------------------------------------------------------------------------------


@dataclass
class _Options:
    poll_interval: float
    output_dir: Path | None
    on_event: EventSink | None


def _out_dir(given: str | None, opts: _Options) -> Path:
    return Path(given).expanduser() if given else (opts.output_dir or default_output_dir())


def _plan(args: dict[str, Any]) -> dict[str, Any]:
    from skill.planning import make_plan

    _check_known(args, PlanVideoInput, _REQUEST_KEYS)
    return _plan_dict(make_plan(args, video_tools=video_tools_available))


def _generate_sync(args: dict[str, Any], opts: _Options) -> dict[str, Any]:
    from skill.execution.flow import run
    from skill.planning import make_plan

    request, options = _split_request(args)
    plan = make_plan(request, video_tools=video_tools_available)
    tracker = _Tracker(opts.on_event)
    out_dir = _out_dir(options.output_dir, opts)
    if len(plan.segments) > 1:
        return _run_dict(plan, run(plan, output_dir=out_dir, wait=False, on_event=tracker))
    try:
        res = run(plan, output_dir=out_dir, poll_interval=opts.poll_interval, timeout=options.wait_seconds,
                  on_event=tracker)
    except WaitTimeout as exc:
        return _pending(plan, exc, tracker, options.wait_seconds)
    return _run_dict(plan, res)


async def _generate_async(args: dict[str, Any], opts: _Options) -> dict[str, Any]:
    from skill.execution.flow import arun
    from skill.planning import make_plan

    request, options = _split_request(args)
    plan = make_plan(request, video_tools=video_tools_available)
    tracker = _Tracker(opts.on_event)
    out_dir = _out_dir(options.output_dir, opts)
    if len(plan.segments) > 1:
        return _run_dict(plan, await _cancel_safely(arun(plan, output_dir=out_dir, wait=False, on_event=tracker)))
    try:
        res = await _cancel_safely(
            arun(plan, output_dir=out_dir, poll_interval=opts.poll_interval, timeout=options.wait_seconds,
                 on_event=tracker)
        )
    except WaitTimeout as exc:
        return _pending(plan, exc, tracker, options.wait_seconds)
    return _run_dict(plan, res)


_T = TypeVar("_T")


async def _cancel_safely(coro: Awaitable[_T]) -> _T:
    """Await ``coro`` in its own task; if we are cancelled, cancel it and let it clean up.

    ``arun`` answers a cancellation by cancelling the queued job at the API. Under anyio (the MCP
    SDK, pydantic-ai) cancellation is level-triggered: every await inside the cancelled scope fails
    at once, so that cancel request could never be sent from our own task. The work therefore runs
    in a separate asyncio task, which gets exactly one CancelledError, and we wait for it (shielded,
    for a bounded time) before re-raising.
    """
    import anyio

    task = asyncio.ensure_future(coro)
    try:
        return await asyncio.shield(task)
    except BaseException:
        if not task.done():
            task.cancel()
            with anyio.CancelScope(shield=True), anyio.move_on_after(CANCEL_GRACE_SECONDS):
                await asyncio.wait({task})
        if task.done() and not task.cancelled():
            task.exception()  # consumed: the cancellation is what propagates
        raise


def _status(args: dict[str, Any]) -> dict[str, Any]:
    from skill.execution.flow import status

    inp = _validate(VideoStatusInput, args)
    return _status_dict(status(inp.request_id.strip()))


def _fetch(args: dict[str, Any], opts: _Options) -> dict[str, Any]:
    from skill.execution.flow import fetch

    inp = _validate(FetchVideoInput, args)
    rid = inp.request_id.strip()
    tracker = _Tracker(opts.on_event)
    out_dir = Path(inp.output_dir).expanduser() if inp.output_dir else None
    if out_dir is None and not _known_job(rid):
        out_dir = opts.output_dir or default_output_dir()
    try:
        res = fetch(rid, output_dir=out_dir, wait=inp.wait_seconds > 0, poll_interval=opts.poll_interval,
                    timeout=inp.wait_seconds, on_event=tracker)
    except WaitTimeout as exc:
        return {
            "request_id": exc.request_id or rid,
            "status": tracker.status or "unknown",
            "queue_position": tracker.queue_position,
            "done": False,
            "files": [],
            "waited_s": inp.wait_seconds,
            "hint": f"Still running: call kling_fetch_video again with request_id={exc.request_id or rid!r} to keep waiting.",
        }
    return _call_dict(res, rid)


def _known_job(ref: str) -> bool:
    """Whether the journal has this job (then its own output_dir is used for the download)."""
    from skill.execution.journal import Journal

    with contextlib.suppress(Kling3Error):
        job = Journal().get(ref)
        return job is not None and bool(job.output_dir)
    return False


def _cancel(args: dict[str, Any]) -> dict[str, Any]:
    from skill.execution.flow import cancel

    inp = _validate(CancelVideoInput, args)
    return _cancel_dict(cancel(inp.request_id.strip()))


def _jobs(args: dict[str, Any]) -> dict[str, Any]:
    from skill.execution.flow import jobs

    inp = _validate(ListJobsInput, args)
    return {"jobs": [_job_dict(r) for r in jobs(limit=inp.limit)]}


def _unknown(name: str) -> dict[str, Any]:
    return _error(
        Kling3Error(f"unknown tool {name!r}; tools: {', '.join(TOOL_NAMES)}", code="unknown_tool", field="name")
    )


def _options(poll_interval: float | None, output_dir: str | Path | None, on_event: EventSink | None) -> _Options:
    return _Options(
        poll_interval=DEFAULT_POLL_INTERVAL if poll_interval is None else max(0.01, float(poll_interval)),
        output_dir=Path(output_dir).expanduser() if output_dir else None,
        on_event=on_event,
    )


def call(
    name: str,
    arguments: dict[str, Any] | str | None = None,
    *,
    poll_interval: float | None = None,
    output_dir: str | Path | None = None,
    on_event: EventSink | None = None,
) -> dict[str, Any]:
    """Run one tool call (arguments as a dict or the JSON string a model produced).

    Returns a JSON-serialisable dict; a refusal, an API error or bad arguments come back as
    ``{"error": {"code", "field", "message", ...}}`` instead of raising. ``output_dir`` is the
    default download directory when the call names none; ``on_event`` receives progress events.
    """
    if name not in TOOL_NAMES:
        return _unknown(name)
    opts = _options(poll_interval, output_dir, on_event)
    try:
        args = _parse_arguments(arguments)
        if name == "kling_plan_video":
            return _plan(args)
        if name == "kling_generate_video":
            return _generate_sync(args, opts)
        if name == "kling_video_status":
            return _status(args)
        if name == "kling_fetch_video":
            return _fetch(args, opts)
        if name == "kling_cancel_video":
            return _cancel(args)
        return _jobs(args)
    except Kling3Error as exc:
        return _error(exc)


async def acall(
    name: str,
    arguments: dict[str, Any] | str | None = None,
    *,
    poll_interval: float | None = None,
    output_dir: str | Path | None = None,
    on_event: EventSink | None = None,
) -> dict[str, Any]:
    """The async twin of :func:`call`. ``on_event`` is always called on the event loop's thread.

    ``kling_generate_video`` runs on :func:`skill.execution.flow.arun`: cancelling the awaiting task
    while the job is queued cancels the job at the API. The other tools run in a worker thread.
    """
    if name not in TOOL_NAMES:
        return _unknown(name)
    loop = asyncio.get_running_loop()
    sink = on_event
    threaded_sink: EventSink | None = None
    if sink is not None:
        target = sink

        def threaded_sink(event: Event) -> None:
            loop.call_soon_threadsafe(target, event)

    try:
        args = _parse_arguments(arguments)
        if name == "kling_plan_video":
            return _plan(args)
        if name == "kling_generate_video":
            return await _generate_async(args, _options(poll_interval, output_dir, sink))
        opts = _options(poll_interval, output_dir, threaded_sink)
        if name == "kling_video_status":
            return await asyncio.to_thread(_status, args)
        if name == "kling_fetch_video":
            return await asyncio.to_thread(_fetch, args, opts)
        if name == "kling_cancel_video":
            return await asyncio.to_thread(_cancel, args)
        return await asyncio.to_thread(_jobs, args)
    except Kling3Error as exc:
        return _error(exc)


# -- summaries -------------------------------------------------------------------------------


def _status_words(doc: dict[str, Any]) -> str:
    pos = doc.get("queue_position")
    return f"{doc.get('status')}" + (f" (queue position {pos})" if pos is not None else "")


def summarize(name: str, result: dict[str, Any]) -> str:
    """A short human line for a tool result, e.g. ``standard t2v, $0.63, 5 s, 9:16``."""
    err = result.get("error")
    if isinstance(err, dict):
        field = f" ({err.get('field')})" if err.get("field") else ""
        return f"error [{err.get('code')}]{field}: {err.get('message')}"
    if name == "kling_plan_video":
        audio = ", audio" if result.get("generate_audio") else ""
        calls = f", {len(result['calls'])} calls" if result.get("calls") else ""
        return (
            f"{result.get('tier')} {result.get('mode')}, {usd(result.get('cost_usd'))}, {result.get('duration_s')} s, "
            f"{result.get('aspect_ratio')}{audio}{calls} (free plan: nothing was sent)"
        )
    if name in ("kling_generate_video", "kling_fetch_video"):
        rid = result.get("request_id")
        if result.get("done"):
            files = result.get("files") or []
            where = ", ".join(files) if files else "no file"
            cost = f", {usd(result['cost_usd'])}" if "cost_usd" in result else ""
            return f"completed (request_id {rid}{cost}): {where}"
        return f"{_status_words(result)}; request_id {rid}. {result.get('hint', '')}".strip()
    if name == "kling_video_status":
        return f"{result.get('request_id')}: {_status_words(result)}"
    if name == "kling_cancel_video":
        return f"{result.get('request_id')}: {result.get('message')}"
    if name == "kling_list_jobs":
        rows = result.get("jobs") or []
        lines = [f"{len(rows)} job(s)"]
        lines += [f"{r.get('request_id')}  {r.get('state')}  {r.get('tier')}  {usd(r.get('cost_usd'))}" for r in rows[:20]]
        return "\n".join(lines)
    return json.dumps(result, ensure_ascii=False)[:200]
