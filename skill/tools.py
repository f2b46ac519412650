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

Every fact about a tool lives in its one :class:`ToolSpec` record in :data:`TOOLS` (as a tool is
one record in the MCP Python SDK): :func:`call`, :func:`acall`, :func:`summarize`,
:func:`tools_for` and the MCP server all read that table, so adding a tool is adding a record.
The shape of the answers and their summaries is :mod:`skill.tool_results`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from skill.errors import (
    InputError,
    InternalError,
    Kling3Error,
    SubmitUnconfirmed,
    UsageError,
    WaitTimeout,
    after_submit,
)
from skill.execution.events import Event, EventSink, Status, SubmitWatch
from skill.media.ffmpeg import video_tools_available
from skill.money import usd
from skill.request import VideoRequest
from skill.tool_results import (
    BatchResult,
    CancelResult,
    FetchResult,
    GenerateResult,
    JobsResult,
    PlanResult,
    StatusResult,
    batch_result,
    batch_summary,
    cancel_result,
    cancel_summary,
    error_result,
    error_summary,
    fallback_summary,
    fetch_pending_result,
    fetch_result,
    generate_pending_result,
    generate_result,
    jobs_result,
    jobs_summary,
    plan_result,
    plan_summary,
    status_result,
    status_summary,
    wait_summary,
)

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_WAIT_SECONDS",
    "MAX_BATCH_VIDEOS",
    "MAX_VARIANTS",
    "TOOLS",
    "TOOL_NAMES",
    "WORKFLOW",
    "BatchOptions",
    "CallOptions",
    "CancelVideoInput",
    "FetchVideoInput",
    "GenerateBatchInput",
    "GenerateOptions",
    "GenerateVideoInput",
    "ListJobsInput",
    "PlanVideoInput",
    "ToolHints",
    "ToolSpec",
    "VideoStatusInput",
    "acall",
    "call",
    "cli_tools",
    "default_output_dir",
    "find_tool",
    "input_schema",
    "summarize",
    "tool_specs",
    "tools_for",
    "warm_up",
]

DEFAULT_WAIT_SECONDS = 45
"""How long ``kling_generate_video`` and ``kling_fetch_video`` wait before answering with a status."""
MAX_WAIT_SECONDS = 600
DEFAULT_POLL_INTERVAL = 2.0
"""Seconds between status polls while a tool waits."""
CANCEL_GRACE_SECONDS = 15.0
"""How long a cancelled ``acall`` still waits for the queued job's cancel request to reach the API."""

WORKFLOW = (
    "Kling 3.0 text-to-video and image-to-video on RunComfy. Call kling_plan_video first: it is free "
    "and shows the endpoint, prompt, payload and cost. Show the user the tier and the cost, and only "
    "then call kling_generate_video (it spends money; get an explicit OK for 4k, about 5x standard). "
    "If kling_generate_video answers before the video is ready, call kling_fetch_video with its "
    "request_id instead of generating again. For several videos, or variants of one, use "
    "kling_generate_batch: one budget check (max_cost_usd) before anything is sent."
)
"""How an agent should use the tools together, in a few sentences: the order, and what spends.

The MCP server's instructions open with it; a framework without server instructions can put it
in the system prompt. It lives here, with the tools it names, so the server states no tool facts.
"""

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
    Field(
        description=(
            "Directory to save the MP4 in (created if missing), inside the server's output folder (the "
            "user's videos folder, ~/Videos/kling3, unless configured): a relative path is taken inside "
            "it, and one outside it is refused. Default: that folder."
        )
    ),
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
    """A model's fields as ``create_model`` takes them.

    The FieldInfo objects are copies, so building the new model leaves the source model's alone.
    """
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

MAX_BATCH_VIDEOS = 12
"""The most videos one ``kling_generate_batch`` call makes (requests x variants); all are submitted at once."""
MAX_VARIANTS = 10
"""The most variants of one request (the batch executor's own limit, :data:`skill.execution.batch.MAX_VARIANTS`)."""


class BatchOptions(_Strict):
    """The options of ``kling_generate_batch`` besides its requests."""

    variants: int = Field(
        default=1, ge=1, le=MAX_VARIANTS,
        description=(
            f"How many variants of each request, 1-{MAX_VARIANTS} (default 1). Kling 3.0 takes no seed, so "
            "variants differ in cfg_scale, spread evenly over 0.3-0.8 and stated per item; each variant is a "
            "separate paid video. A request that fixes cfg_scale cannot have variants."
        ),
    )
    max_cost_usd: float = Field(
        gt=0,
        description=(
            "The most the whole batch may cost, in US dollars (required): every request is planned and priced "
            "first, and the batch is refused with nothing sent if the total is over it or over the daily cap."
        ),
    )
    wait_seconds: _WaitSeconds = DEFAULT_WAIT_SECONDS
    output_dir: _OutputDir = None


_batch_requests: Any = list[PlanVideoInput]  # type: ignore[valid-type]
GenerateBatchInput: type[BaseModel] = create_model(
    "GenerateBatchInput",
    __config__=_FORBID,
    requests=(
        Annotated[_batch_requests, Field(min_length=1, max_length=MAX_BATCH_VIDEOS)],
        Field(
            description=(
                "The videos to make, each with the same fields as kling_plan_video (text, tier, duration, "
                "aspect_ratio, image_url, ...). One request with variants=3 makes three variants of it."
            )
        ),
    ),
    **_option_definitions(BatchOptions),
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


def _plan_description() -> str:
    return (
        "Plan a Kling 3.0 video on RunComfy for FREE: nothing is sent and nothing is paid. Returns "
        "the endpoint (tier and mode), the final prompt, the exact API payload, the cost in USD and "
        "why each choice was made. Call this first, show the user the tier and the cost, and only "
        "then call kling_generate_video with the same arguments. "
        f"{_TIERS} {_pricing()} A request that cannot run (no image for image-to-video, over the "
        "budget, a bad ratio or length) comes back as an error with a stable code and the field at fault."
    )


def _generate_description() -> str:
    return (
        "Generate a Kling 3.0 video on RunComfy. This SPENDS money: the cost kling_plan_video shows. "
        "Plan first, show the cost, and have the user's go-ahead (always for 4k). Submits the job, "
        f"waits at most wait_seconds (default {DEFAULT_WAIT_SECONDS}) and always returns the request_id. "
        "When the video is ready it is downloaded and the local file paths are returned, with a contact "
        "sheet (six frames, first to last, as an image) to check the result before re-prompting and the "
        "RunComfy file URL; otherwise the "
        "answer carries the status and the job keeps running (it is already paid): call "
        "kling_fetch_video with the request_id to wait for it. Never call kling_generate_video again "
        "for the same video. Requests over 15 s become several calls, all submitted at once; fetch each "
        f"request_id. {_TIERS}"
    )


def _batch_description() -> str:
    return (
        "Generate several Kling 3.0 videos in one call, or variants of one: this SPENDS money, every video "
        "is paid. Give requests (each with the fields of kling_plan_video) and, for variants, variants=K: K "
        "versions of each request that differ in cfg_scale (stated per item), at K times the cost. "
        "max_cost_usd is required: the whole batch is planned and priced first and refused, with nothing "
        "sent, if it would cost more or pass the daily cap. Plan first (kling_plan_video for each request; "
        "variants cost the same as their request), show the user the total and get their go-ahead. Every "
        f"video is submitted at once (at most {MAX_BATCH_VIDEOS} per call) and the call waits at most "
        f"wait_seconds (default {DEFAULT_WAIT_SECONDS}); videos not finished by then keep running, already "
        "paid, and their request_ids are in the answer: fetch each with kling_fetch_video, never run the "
        "batch again. A request that cannot run is refused on its own (free) and does not stop the others."
    )


def _fixed(text: str) -> Callable[[], str]:
    """A description that needs nothing computed (the catalog is read only for the pricing ones)."""
    return lambda: text


# -- the tool record -------------------------------------------------------------------------


@dataclass(frozen=True)
class CallOptions:
    """How one :func:`call` or :func:`acall` runs: its poll interval, default output directory and
    sink; ``output_root``, when set, is the folder a call's own ``output_dir`` must stay inside."""

    poll_interval: float
    output_dir: Path | None
    on_event: EventSink | None
    output_root: Path | None = None


ToolRun = Callable[[dict[str, Any], CallOptions], dict[str, Any]]
ToolARun = Callable[[dict[str, Any], CallOptions], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class ToolHints:
    """What a tool does to the world, as MCP's tool annotations say it: hints for hosts, no guarantee."""

    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool


@dataclass(frozen=True)
class ToolSpec:
    """One tool, whole: everything :func:`call`, :func:`acall`, the exports and MCP need to know.

    ``run`` and ``arun`` take the parsed arguments (a dict) and the call's :class:`CallOptions`,
    and return the result dict or raise :class:`~skill.errors.Kling3Error` (dispatch turns that
    into an error result). ``on_event`` reaches ``arun`` unchanged: an ``arun`` that runs its work
    in a thread must hand the events back to the loop itself, as the blocking tools here do.
    ``reports_progress`` marks the tools that wait for a job, so MCP streams progress for them.
    """

    name: str
    title: str
    describe: Callable[[], str]
    """Builds the description written for a model (on first use: the pricing sentence reads the catalog)."""
    input_model: type[BaseModel]
    hints: ToolHints
    run: ToolRun
    arun: ToolARun
    summary: Callable[[dict[str, Any]], str]
    """The short human line for a successful result (errors share one line for every tool)."""
    output_model: type[BaseModel]
    """The shape of a successful result (:mod:`skill.tool_results`), published as MCP's output schema."""
    reports_progress: bool = False

    @functools.cached_property
    def description(self) -> str:
        """The description written for a model, built once per process."""
        return self.describe()

    @functools.cached_property
    def input_schema(self) -> dict[str, Any]:
        """The input model's JSON Schema, cleaned for strict consumers (shared: copy before changing it)."""
        return _clean_schema(self.input_model.model_json_schema())

    @functools.cached_property
    def output_schema(self) -> dict[str, Any]:
        """The JSON Schema of a successful result: refs inlined, nulls kept (a result may hold them)."""
        schema: dict[str, Any] = _inline_refs(self.output_model.model_json_schema(mode="serialization"), fold_nulls=False)
        return schema


# -- schemas ---------------------------------------------------------------------------------


def _clean_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema strict consumers accept: refs inlined, no titles, optional nulls folded."""
    cleaned: dict[str, Any] = _inline_refs(schema, fold_nulls=True)
    cleaned.pop("description", None)  # the model's docstring; the tool description says it better
    cleaned.setdefault("properties", {})
    cleaned["additionalProperties"] = False
    return cleaned


def _inline_refs(schema: dict[str, Any], *, fold_nulls: bool) -> Any:
    """``schema`` with its ``$defs`` inlined and titles and null defaults dropped.

    ``fold_nulls`` turns an optional ``X | None`` into ``X``: right for arguments (leave it out
    instead of sending null), wrong for results, which do carry nulls.
    """
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
        if fold_nulls and isinstance(any_of, list):
            non_null = [s for s in any_of if s != {"type": "null"}]
            if len(non_null) == 1 and len(non_null) < len(any_of):
                del out["anyOf"]
                out = {**non_null[0], **out}
        return out

    return walk(schema)


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


# -- progress --------------------------------------------------------------------------------


class _Tracker:
    """Remembers the last status event, to say where a job was when the wait ended.

    The one place in this module that reads a progress event.
    """

    def __init__(self, sink: EventSink | None) -> None:
        self.sink = sink
        self.status: str | None = None
        self.queue_position: int | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, Status):
            self.status = event.status
            self.queue_position = event.queue_position
        if self.sink is not None:
            self.sink(event)


# -- what each tool runs ---------------------------------------------------------------------


def default_output_dir() -> Path:
    """Where videos go when neither the call nor the caller names a folder: the user's videos
    folder (``KLING3_OUTPUT_DIR`` overrides it), never the working directory of whatever process
    loaded the tools (see :func:`skill.settings.videos_dir`)."""
    from skill.settings import videos_dir

    return videos_dir().resolve()


def _out_dir(given: str | None, opts: CallOptions) -> Path:
    """The call's own output_dir wins, then the caller's default, then :func:`default_output_dir`.

    A relative output_dir from a call is taken inside that default folder, not in the working
    directory, which for an MCP server is wherever the host happened to start it. With an
    ``output_root`` (the MCP server's) the call's folder must also stay inside that root: a model
    must not be able to write videos anywhere the server can.
    """
    base = opts.output_dir or default_output_dir()
    if not given:
        return base
    path = Path(given).expanduser()
    if opts.output_root is None:
        return path if path.is_absolute() else base / path
    root = opts.output_root.expanduser().resolve()
    target = (root / path).resolve()
    if target != root and root not in target.parents:
        raise InputError(
            f"output_dir {given!r} is outside this server's output folder {root}: give a folder "
            "inside it (a relative path is read from it); nothing was sent",
            code="output_dir_outside_root",
            field="output_dir",
        )
    return target


def _plan(args: dict[str, Any], opts: CallOptions) -> dict[str, Any]:
    """Plans offline; the arguments are checked by name only, the request model does the rest."""
    from skill.planning import make_plan

    _check_known(args, PlanVideoInput, _REQUEST_KEYS)
    return plan_result(make_plan(args, video_tools=video_tools_available))


def _generate_sync(args: dict[str, Any], opts: CallOptions) -> dict[str, Any]:
    """Submits and waits at most ``wait_seconds``; several calls are submitted at once, not awaited."""
    from skill.execution.flow import run
    from skill.planning import make_plan

    request, options = _split_request(args)
    plan = make_plan(request, video_tools=video_tools_available)
    tracker = _Tracker(opts.on_event)
    out_dir = _out_dir(options.output_dir, opts)
    if len(plan.segments) > 1:
        return generate_result(plan, run(plan, output_dir=out_dir, wait=False, on_event=tracker))
    try:
        res = run(plan, output_dir=out_dir, poll_interval=opts.poll_interval, timeout=options.wait_seconds,
                  on_event=tracker)
    except WaitTimeout as exc:
        return generate_pending_result(plan, exc.request_id, tracker.status, tracker.queue_position,
                                       options.wait_seconds)
    return generate_result(plan, res)


async def _generate_async(args: dict[str, Any], opts: CallOptions) -> dict[str, Any]:
    """Runs on :func:`skill.execution.flow.arun`, on the loop: a cancelled call cancels the queued job."""
    from skill.execution.flow import arun
    from skill.planning import make_plan

    request, options = _split_request(args)
    plan = make_plan(request, video_tools=video_tools_available)
    tracker = _Tracker(opts.on_event)
    out_dir = _out_dir(options.output_dir, opts)
    if len(plan.segments) > 1:
        res = await _cancel_safely(arun(plan, output_dir=out_dir, wait=False, on_event=tracker))
        return generate_result(plan, res)
    try:
        res = await _cancel_safely(
            arun(plan, output_dir=out_dir, poll_interval=opts.poll_interval, timeout=options.wait_seconds,
                 on_event=tracker)
        )
    except WaitTimeout as exc:
        return generate_pending_result(plan, exc.request_id, tracker.status, tracker.queue_position,
                                       options.wait_seconds)
    return generate_result(plan, res)


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


def _split_batch(args: dict[str, Any]) -> tuple[list[dict[str, Any]], BatchOptions]:
    """The batch's requests, checked by name only (the planner refuses each bad one on its own),
    and its options, validated."""
    requests = args.get("requests")
    if not isinstance(requests, list) or not requests:
        raise InputError("requests: give at least one request, an object with the fields of kling_plan_video",
                         field="requests")
    known = set(PlanVideoInput.model_fields) | _REQUEST_KEYS
    for n, request in enumerate(requests):
        if not isinstance(request, dict):
            raise InputError(f"requests[{n}]: must be an object with the fields of kling_plan_video",
                             field="requests")
        for key in request:
            if key not in known:
                listed = ", ".join(k for k in PlanVideoInput.model_fields)
                raise InputError(f"requests[{n}].{key}: is not a known field; known: {listed}", field=f"requests[{n}].{key}")
    return [dict(r) for r in requests], _validate(BatchOptions, {k: v for k, v in args.items() if k != "requests"})


def _expand(requests: list[dict[str, Any]], variants: int) -> list[dict[str, Any]]:
    """Every video the call makes: each request, or its variants, in order."""
    from skill.execution.batch import make_variants

    videos = [v for request in requests for v in make_variants(request, variants)]
    if len(videos) > MAX_BATCH_VIDEOS:
        raise InputError(
            f"variants: {len(requests)} request(s) x {variants} variant(s) make {len(videos)} videos; one call "
            f"makes at most {MAX_BATCH_VIDEOS}: send fewer, or split them over several calls",
            field="variants",
        )
    return videos


async def _batch_async(args: dict[str, Any], opts: CallOptions) -> dict[str, Any]:
    """The batch executor (one budget check, every video journaled before it is sent), on the loop."""
    from skill.execution.batch import run_batch

    requests, options = _split_batch(args)
    videos = _expand(requests, options.variants)
    sink = opts.on_event

    def on_event(index: int, event: Event) -> None:
        if sink is not None:
            sink(event)

    report = await _cancel_safely(
        run_batch(videos, concurrency=len(videos), output_dir=_out_dir(options.output_dir, opts),
                  max_cost_usd=options.max_cost_usd, poll_interval=opts.poll_interval,
                  timeout=options.wait_seconds, on_event=on_event)
    )
    return batch_result(report, videos)


def _batch_sync(args: dict[str, Any], opts: CallOptions) -> dict[str, Any]:
    """:func:`_batch_async` on a loop of its own: the executor is asynchronous."""
    return asyncio.run(_batch_async(args, opts))


def _status(args: dict[str, Any], opts: CallOptions) -> dict[str, Any]:
    """One status request; free, and never waits."""
    from skill.execution.flow import status

    inp = _validate(VideoStatusInput, args)
    return status_result(status(inp.request_id.strip()))


def _fetch(args: dict[str, Any], opts: CallOptions) -> dict[str, Any]:
    """Waits at most ``wait_seconds``, then downloads where the job's own run meant to, if known."""
    from skill.execution.flow import fetch

    inp = _validate(FetchVideoInput, args)
    rid = inp.request_id.strip()
    tracker = _Tracker(opts.on_event)
    out_dir = _out_dir(inp.output_dir, opts) if inp.output_dir or not _known_job(rid) else None
    try:
        res = fetch(rid, output_dir=out_dir, wait=inp.wait_seconds > 0, poll_interval=opts.poll_interval,
                    timeout=inp.wait_seconds, on_event=tracker)
    except WaitTimeout as exc:
        return fetch_pending_result(exc.request_id or rid, tracker.status, tracker.queue_position, inp.wait_seconds)
    return fetch_result(res, rid)


def _known_job(ref: str) -> bool:
    """Whether the journal has this job (then its own output_dir is used for the download)."""
    from skill.execution.journal import Journal

    with contextlib.suppress(Kling3Error):
        job = Journal().get(ref)
        return job is not None and bool(job.output_dir)
    return False


def _cancel(args: dict[str, Any], opts: CallOptions) -> dict[str, Any]:
    """Asks the API to cancel; the result says whether the job will still be charged."""
    from skill.execution.flow import cancel

    inp = _validate(CancelVideoInput, args)
    return cancel_result(cancel(inp.request_id.strip()))


def _jobs(args: dict[str, Any], opts: CallOptions) -> dict[str, Any]:
    """Reads the local journal only: no network, no token needed."""
    from skill import settings
    from skill.execution.flow import jobs

    inp = _validate(ListJobsInput, args)
    return jobs_result(jobs(limit=inp.limit, api_base=settings.api_base()))


def _inline(run: ToolRun) -> ToolARun:
    """The async form of a tool quick enough to run on the loop itself (planning touches no network)."""

    async def arun(args: dict[str, Any], opts: CallOptions) -> dict[str, Any]:
        return run(args, opts)

    return arun


def _in_thread(run: ToolRun) -> ToolARun:
    """The async form of a blocking tool: a worker thread runs it, so the loop keeps serving.

    Its events are handed back to the loop, so ``on_event`` is always called on the loop's thread
    (what :func:`acall` promises, and what a sink that touches loop objects needs).
    """

    async def arun(args: dict[str, Any], opts: CallOptions) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        sink = opts.on_event
        if sink is not None:
            target = sink

            def threaded_sink(event: Event) -> None:
                loop.call_soon_threadsafe(target, event)

            opts = dataclasses.replace(opts, on_event=threaded_sink)
        return await asyncio.to_thread(run, args, opts)

    return arun


# -- the table -------------------------------------------------------------------------------

_READ_ONLY_LOCAL = ToolHints(read_only=True, destructive=False, idempotent=True, open_world=False)

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        name="kling_plan_video",
        title="Plan a Kling video (free)",
        describe=_plan_description,
        input_model=PlanVideoInput,
        hints=_READ_ONLY_LOCAL,
        run=_plan,
        arun=_inline(_plan),
        summary=plan_summary,
        output_model=PlanResult,
    ),
    ToolSpec(
        name="kling_generate_video",
        title="Generate a Kling video (spends)",
        describe=_generate_description,
        input_model=GenerateVideoInput,
        hints=ToolHints(read_only=False, destructive=False, idempotent=False, open_world=True),
        run=_generate_sync,
        arun=_generate_async,
        summary=wait_summary,
        output_model=GenerateResult,
        reports_progress=True,
    ),
    ToolSpec(
        name="kling_generate_batch",
        title="Generate several Kling videos or variants (spends)",
        describe=_batch_description,
        input_model=GenerateBatchInput,
        hints=ToolHints(read_only=False, destructive=False, idempotent=False, open_world=True),
        run=_batch_sync,
        arun=_batch_async,
        summary=batch_summary,
        output_model=BatchResult,
        reports_progress=True,
    ),
    ToolSpec(
        name="kling_video_status",
        title="Kling job status",
        describe=_fixed(
            "Live status of a Kling job by request_id (free): in_queue (with the queue position), "
            "in_progress, completed, failed or cancelled. Use kling_fetch_video to download a finished video."
        ),
        input_model=VideoStatusInput,
        hints=ToolHints(read_only=True, destructive=False, idempotent=True, open_world=True),
        run=_status,
        arun=_in_thread(_status),
        summary=status_summary,
        output_model=StatusResult,
    ),
    ToolSpec(
        name="kling_fetch_video",
        title="Fetch a Kling video",
        describe=_fixed(
            "Wait for a submitted Kling job (at most wait_seconds, default "
            f"{DEFAULT_WAIT_SECONDS}) and download its video by request_id. Free: the job was paid when it "
            "was submitted. Returns the local file paths and a contact sheet (six frames as an image) when done, else the current status (call it again "
            "to keep waiting). Also downloads a finished video again."
        ),
        input_model=FetchVideoInput,
        hints=ToolHints(read_only=False, destructive=False, idempotent=True, open_world=True),
        run=_fetch,
        arun=_in_thread(_fetch),
        summary=wait_summary,
        output_model=FetchResult,
        reports_progress=True,
    ),
    ToolSpec(
        name="kling_cancel_video",
        title="Cancel a queued Kling job",
        describe=_fixed(
            "Cancel a Kling job by request_id. Only a job still waiting in the queue can be cancelled (it "
            "is then not charged); a job already in progress runs to completion and is charged. The answer "
            "says which happened."
        ),
        input_model=CancelVideoInput,
        hints=ToolHints(read_only=False, destructive=True, idempotent=True, open_world=True),
        run=_cancel,
        arun=_in_thread(_cancel),
        summary=cancel_summary,
        output_model=CancelResult,
    ),
    ToolSpec(
        name="kling_list_jobs",
        title="List recent Kling jobs",
        describe=_fixed(
            "Recent Kling jobs from the local journal, newest first (free): request_id, state, tier, "
            "cost and saved files. Use it to find a request_id to check, fetch or cancel."
        ),
        input_model=ListJobsInput,
        hints=_READ_ONLY_LOCAL,
        run=_jobs,
        arun=_in_thread(_jobs),
        summary=jobs_summary,
        output_model=JobsResult,
    ),
)
"""Every tool, in the order a model should meet them. The one table: everything else reads it."""

TOOL_NAMES = tuple(spec.name for spec in TOOLS)
"""The tools' names, in :data:`TOOLS` order."""


def find_tool(name: str) -> ToolSpec | None:
    """The record of the tool called ``name``, or ``None`` if there is no such tool."""
    return next((spec for spec in TOOLS if spec.name == name), None)


def tool_specs() -> tuple[ToolSpec, ...]:
    """The tools, in the order a model should meet them (:data:`TOOLS`)."""
    return TOOLS


# -- exports ---------------------------------------------------------------------------------


def input_schema(name: str) -> dict[str, Any]:
    """The cleaned JSON Schema of one tool's arguments (a fresh copy); ``KeyError`` if no such tool."""
    spec = find_tool(name)
    if spec is None:
        raise KeyError(name)
    return copy.deepcopy(spec.input_schema)


def tools_for(format: ToolFormat) -> list[dict[str, Any]]:
    """Tool definitions for OpenAI (``tools=[...]``) or Anthropic (``tools=[...]``) requests."""
    out: list[dict[str, Any]] = []
    for spec in TOOLS:
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


# -- dispatch --------------------------------------------------------------------------------


def _unknown(name: str) -> dict[str, Any]:
    """The error for a name that is no tool, listing the real ones so a model can correct itself."""
    names = ", ".join(spec.name for spec in TOOLS)
    return error_result(Kling3Error(f"unknown tool {name!r}; tools: {names}", code="unknown_tool", field="name"))


def _options(
    poll_interval: float | None, output_dir: str | Path | None, on_event: EventSink | None,
    output_root: str | Path | None = None,
) -> CallOptions:
    """The call's options, with a floor on the poll interval so a bad value cannot spin on the API."""
    return CallOptions(
        poll_interval=DEFAULT_POLL_INTERVAL if poll_interval is None else max(0.01, float(poll_interval)),
        output_dir=Path(output_dir).expanduser() if output_dir else None,
        on_event=on_event,
        output_root=Path(output_root).expanduser() if output_root else None,
    )


def call(
    name: str,
    arguments: dict[str, Any] | str | None = None,
    *,
    poll_interval: float | None = None,
    output_dir: str | Path | None = None,
    on_event: EventSink | None = None,
    output_root: str | Path | None = None,
) -> dict[str, Any]:
    """Run one tool call (arguments as a dict or the JSON string a model produced).

    Returns a JSON-serialisable dict; a refusal, an API error or bad arguments come back as
    ``{"error": {"code", "field", "message", ...}}`` instead of raising. ``output_dir`` is the
    default download directory when the call names none; ``output_root`` confines the folders a
    call may name (``output_dir_outside_root`` otherwise, before anything is sent); ``on_event``
    receives progress events.
    """
    spec = find_tool(name)
    if spec is None:
        return _unknown(name)
    watch = SubmitWatch()
    opts = _options(poll_interval, output_dir, watch.tee(on_event), output_root)
    try:
        return spec.run(_parse_arguments(arguments), opts)
    except Exception as exc:
        return error_result(_as_error(exc, watch))


async def acall(
    name: str,
    arguments: dict[str, Any] | str | None = None,
    *,
    poll_interval: float | None = None,
    output_dir: str | Path | None = None,
    on_event: EventSink | None = None,
    output_root: str | Path | None = None,
) -> dict[str, Any]:
    """The async twin of :func:`call`. ``on_event`` is always called on the event loop's thread.

    ``kling_generate_video`` runs on :func:`skill.execution.flow.arun`: cancelling the awaiting task
    while the job is queued cancels the job at the API. The other tools run in a worker thread.
    """
    spec = find_tool(name)
    if spec is None:
        return _unknown(name)
    watch = SubmitWatch()
    try:
        args = _parse_arguments(arguments)
        return await spec.arun(args, _options(poll_interval, output_dir, watch.tee(on_event), output_root))
    except Exception as exc:
        return error_result(_as_error(exc, watch))


def _as_error(exc: Exception, watch: SubmitWatch) -> Kling3Error:
    """Any failure of a tool call as the package's error: once a submit was confirmed it is the
    paid job's (request_id, do not generate again); a bug during a submit is an unconfirmed
    submit; a bug before any is an internal error. Never an exception out of a tool call."""
    if watch.submitted:
        return after_submit(exc, watch.submitted)
    if isinstance(exc, Kling3Error):
        return exc
    cause = f"{type(exc).__name__}: {exc}"
    if watch.in_flight:
        return SubmitUnconfirmed(f"unexpected error during the submit ({cause}); it may have created a paid job")
    return InternalError(f"unexpected error ({cause}); nothing was paid")


def summarize(name: str, result: dict[str, Any]) -> str:
    """A short human line for a tool result, e.g. ``standard t2v, $0.63, 5 s, 9:16``."""
    err = result.get("error")
    if isinstance(err, dict):
        return error_summary(err)
    spec = find_tool(name)
    return spec.summary(result) if spec is not None else fallback_summary(result)


_WARM_UP_REQUEST = {"text": "wide shot, slow push-in: a fox trotting through fresh snow at dawn"}


def warm_up() -> None:
    """Fill, once, the caches the first call would otherwise fill on its own time.

    One free plan reads and compiles the routing rules, the prompt vocabulary and the templates
    and loads the catalog; then every tool's description and schemas are built. A long-lived
    host (the MCP server) calls this off the request path, so the first ``kling_plan_video``
    costs what every later one does.
    """
    from skill.planning import make_plan

    make_plan(dict(_WARM_UP_REQUEST), video_tools=video_tools_available)
    for spec in TOOLS:
        _ = spec.description, spec.input_schema, spec.output_schema
