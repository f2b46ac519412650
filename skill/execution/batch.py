"""Many requests at once: plan all, check the whole budget once, run with bounded concurrency.

:func:`run_batch` is what ``kling3 batch FILE.jsonl`` runs:

1. Every request is planned first (:func:`skill.planning.make_plan`). A refusal becomes an item
   with status ``refused`` and its error; it costs nothing and does not stop the batch.
2. The sum of the plannable items' costs is checked against ``max_cost_usd`` and against the
   daily cap (``KLING3_DAILY_CAP_USD`` minus what the journal says was spent today) *before the
   first submit*. Over either: :class:`InputError` (``over_budget`` / ``daily_cap_exceeded``,
   field ``max_cost_usd``), nothing sent. The live model schema is then checked once per
   endpoint; an item that does not match it is ``refused`` (also before any submit).
3. Plans run through :func:`skill.execution.flow.arun` under an ``asyncio.Semaphore(concurrency)`` with
   ONE shared :class:`AsyncRunComfyClient` (one connection pool) and one journal, so every call is
   journaled before it is sent. One failing item does not stop the others.
4. Cancellation (Ctrl-C, task cancel) stops the batch: items not started yet are never sent
   (``not_started``); running items get the flow's usual treatment (a queued job is cancelled
   at the API; a job already running is left running, in the journal, for
   ``kling3 resume --all``) and are reported ``interrupted``. Every item is delivered to
   ``on_item`` before the ``CancelledError`` propagates, so a caller can still print a report
   (:meth:`BatchReport.from_items`).

Item statuses:

===============  ===========================================================================
``completed``    every call done and downloaded (``video``: the stitched/cropped file, if any)
``failed``       the API refused the submit (4xx) or the job ended failed / cancelled
``timeout``      still running after ``timeout`` s; ``kling3 resume`` fetches it later
``refused``      refused before anything was sent (planning, live schema, daily cap); free
``error``        anything else: network, unconfirmed submit, download, internal error
``interrupted``  the batch was stopped while this item ran (``error.running`` lists the jobs
                 left running at the API for ``kling3 resume --all``)
``not_started``  the batch was stopped before this item was sent; free
===============  ===========================================================================

An item's ``cost_usd`` is estimated the way the journal counts spend: every call the API
accepted (or may have accepted), failed jobs included; a call cancelled while queued is not
charged and is counted apart (``cancelled_usd``).

While running, ``on_item`` also sees ``queued`` (planned, waiting for a slot) and ``running``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import math
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from skill import settings
from skill.errors import (
    ApiClientError,
    InputError,
    InternalError,
    JobFailed,
    Kling3Error,
    NoInput,
    OutputDirError,
    SubmitUnconfirmed,
    WaitTimeout,
    after_submit,
)
from skill.execution.events import Cancelled, Done, Event, Submitted, Submitting
from skill.execution.flow import RunResult, arun
from skill.execution.journal import Journal
from skill.execution.live_schema import acached_schema, refuse_schema_mismatch, schema_unavailable
from skill.execution.model_api import AsyncModelApi
from skill.fsutil import check_output_dir
from skill.media.ffmpeg import video_tools_available
from skill.money import usd
from skill.planning import Plan, make_plan

__all__ = [
    "FINAL_STATUSES",
    "MAX_CONCURRENCY",
    "MAX_VARIANTS",
    "VARIANT_CFG_RANGE",
    "BatchItem",
    "BatchPreview",
    "BatchReport",
    "make_variants",
    "read_jsonl",
    "run_batch",
]

MAX_CONCURRENCY = 32
MAX_VARIANTS = 10
VARIANT_CFG_RANGE = (0.3, 0.8)
FINAL_STATUSES: tuple[str, ...] = (
    "completed", "failed", "timeout", "refused", "error", "interrupted", "not_started",
)  # fmt: skip


class BatchItem(BaseModel):
    """One request of a batch and what became of it. ``index`` is 1-based, in input order."""

    index: int
    status: str = "queued"
    label: str = ""
    endpoint: str | None = None
    tier: str | None = None
    duration: int | None = None
    aspect_ratio: str | None = None
    calls: int = 0
    planned_cost_usd: float = 0.0
    cost_usd: float = 0.0
    """Estimated spend: the cost of every call the API accepted (or may have accepted), but
    those cancelled while queued (not charged: :attr:`cancelled_usd`)."""
    cancelled_usd: float = 0.0
    request_ids: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    skipped: list[dict[str, str]] = Field(default_factory=list)
    """Outputs not saved (``{"url", "reason"}``): an untrusted host, an unusable cover image."""
    video: str | None = None
    """The finished (stitched and/or cropped) video, when the plan needed one and it worked."""
    output_dir: str | None = None
    error: dict[str, Any] | None = None
    warnings: list[str] = Field(default_factory=list)
    exit_code: int = 0
    """What the CLI would exit with for this item alone (0, 65 refused, 75 paid but unfinished...)."""

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class BatchReport(BaseModel):
    """The outcome of a batch: items in input order, costs and counts by status."""

    batch_id: str
    items: list[BatchItem]
    planned_cost_usd: float
    total_cost_usd: float
    counts: dict[str, int]
    elapsed_s: float = 0.0
    cancelled_usd: float = 0.0
    """Calls cancelled while queued: not charged, so not in :attr:`total_cost_usd`."""

    @classmethod
    def from_items(
        cls, items: list[BatchItem], *, batch_id: str = "", elapsed_s: float = 0.0
    ) -> BatchReport:
        ordered = sorted(items, key=lambda i: i.index)
        counts: dict[str, int] = {}
        for item in ordered:
            counts[item.status] = counts.get(item.status, 0) + 1
        return cls(
            batch_id=batch_id,
            items=ordered,
            planned_cost_usd=round(sum(i.planned_cost_usd for i in ordered), 4),
            total_cost_usd=round(sum(i.cost_usd for i in ordered), 4),
            counts=counts,
            elapsed_s=round(elapsed_s, 2),
            cancelled_usd=round(sum(i.cancelled_usd for i in ordered), 4),
        )

    @property
    def ok(self) -> bool:
        """Every item completed."""
        return all(i.status == "completed" for i in self.items)

    @property
    def exit_code(self) -> int:
        """The batch's exit code, the same contract as one run's: 65 when every line was refused
        (nothing sent); else the gravest of the items that were sent, gravest first: an
        unconfirmed submit (69, possibly paid), a paid job not finished (75), an interrupt (130),
        a job that failed (1), any other; lines refused (by the planner or by the API) beside
        sent ones are listed, not counted: the batch must not read as "nothing was sent"."""
        sent = [i for i in self.items if i.status not in ("refused", "not_started") and i.exit_code != 65]
        if not sent:
            return max((i.exit_code for i in self.items), default=0)
        if any((i.error or {}).get("paid") == "unknown" for i in sent):
            return 69
        codes = {i.exit_code for i in sent}
        for code in (75, 130, 1):
            if code in codes:
                return code
        return max(codes)

    def to_json_lines(self) -> str:
        """One compact JSON object per item, in input order, joined by newlines (no trailing one)."""
        return "\n".join(
            json.dumps(i.to_json_dict(), ensure_ascii=False, separators=(",", ":"))
            for i in self.items
        )

    def table(self) -> str:
        """A plain-text summary for a terminal."""
        rows = [("#", "status", "cost", "tier", "ratio", "secs", "result")]
        for i in self.items:
            if i.error is not None:
                result = f"{i.error.get('code')}: {i.error.get('message', '')}"
            else:
                result = i.video or ", ".join(i.files) or ", ".join(i.request_ids)
            if len(result) > 100:
                result = result[:97] + "..."
            rows.append((
                str(i.index), i.status, usd(i.cost_usd),
                i.tier or "-", i.aspect_ratio or "-", str(i.duration or "-"), result,
            ))  # fmt: skip
        widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]) - 1)]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=False)) + "  " + r[-1]
            for r in rows
        ]
        counts = ", ".join(f"{n} {s}" for s, n in self.counts.items())
        lines.append(
            f"{len(self.items)} item(s): {counts}; spent ~{usd(self.total_cost_usd)} "
            f"of {usd(self.planned_cost_usd)} planned"
            + (f"; cancelled, not charged {usd(self.cancelled_usd)}" if self.cancelled_usd else "")
            + (f", in {self.elapsed_s:g} s" if self.elapsed_s else "")
        )
        if any(i.status == "timeout" or (i.error or {}).get("running") for i in self.items):
            lines.append("unfinished jobs keep running: `kling3 resume --all` fetches them")
        return "\n".join(lines)


class BatchPreview(BaseModel):
    """What a batch is about to send, told before the first submit (and asked about on a TTY)."""

    jobs: int
    calls: int
    planned_cost_usd: float
    concurrency: int
    refused: int
    tiers: list[str]

    @property
    def costly(self) -> bool:
        """Worth a question before spending, as for one run: any 4K, or over $2 in all."""
        return "4k" in self.tiers or self.planned_cost_usd > 2.0

    def line(self) -> str:
        """E.g. ``6 jobs, $2.52 planned, 3 at a time``."""
        refused = f" ({self.refused} refused: nothing is sent for them)" if self.refused else ""
        jobs = f"{self.jobs} job{'' if self.jobs == 1 else 's'}"
        return f"{jobs}, {usd(self.planned_cost_usd)} planned, {self.concurrency} at a time{refused}"

    def to_json_dict(self) -> dict[str, Any]:
        return {"event": "batch_plan", **self.model_dump(mode="json"), "message": self.line()}


# -- input -------------------------------------------------------------------------------------


def read_jsonl(path_or_dash: str | Path) -> list[dict[str, Any]]:
    """Requests from a JSON Lines file (``-`` for stdin): one object per line.

    Blank lines are skipped; a line that is a JSON string is taken as ``{"text": ...}``. A bad
    line raises :class:`InputError` (code ``bad_jsonl``) naming the file and line number.
    """
    name = str(path_or_dash)
    if name == "-":
        text = sys.stdin.read()
        name = "<stdin>"
    else:
        try:
            text = Path(path_or_dash).read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise NoInput(f"no such file: {name}", code="file_not_found", field="file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise NoInput(f"cannot read {name}: {exc}", code="unreadable_file", field="file") from None
    out: list[dict[str, Any]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise InputError(
                f"{name}:{lineno}: not valid JSON ({exc.args[0] if exc.args else exc})",
                code="bad_jsonl",
                field="file",
                details={"line": lineno},
            ) from None
        if isinstance(value, str):
            value = {"text": value}
        if not isinstance(value, dict):
            raise InputError(
                f"{name}:{lineno}: each line must be a JSON object (a request), not {type(value).__name__}",
                code="bad_jsonl",
                field="file",
                details={"line": lineno},
            )
        out.append(value)
    if not out:
        raise InputError(f"{name}: no requests in the file", code="empty_batch", field="file")
    return out


def make_variants(request: dict[str, Any], k: int) -> list[dict[str, Any]]:
    """``k`` variants of one request that differ only in ``cfg_scale``, stated in each dict.

    The values are evenly spaced over 0.3..0.8 (rounded to 2 decimals): for k=3, 0.3, 0.55,
    0.8. ``k=1`` returns the request unchanged. Kling 3.0 takes no seed, so ``cfg_scale`` is
    the only knob to spread; when the request already fixes ``cfg_scale`` there is nothing to
    vary and :class:`InputError` (code ``variants_conflict``, field ``variants``) says so
    rather than silently running k identical, separately paid copies.
    """
    if not isinstance(request, dict):
        raise InputError("a request must be a JSON object", field="variants")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_VARIANTS:
        raise InputError(
            f"variants must be a whole number from 1 to {MAX_VARIANTS}, not {k!r}",
            code="invalid_input",
            field="variants",
        )
    if k == 1:
        return [dict(request)]
    if request.get("cfg_scale") is not None:
        raise InputError(
            f"variants spread cfg_scale over {VARIANT_CFG_RANGE[0]}-{VARIANT_CFG_RANGE[1]}, but the "
            f"request fixes cfg_scale={request['cfg_scale']}; drop cfg_scale or drop --variants",
            code="variants_conflict",
            field="variants",
        )
    lo, hi = VARIANT_CFG_RANGE
    return [{**request, "cfg_scale": round(lo + (hi - lo) * n / (k - 1), 2)} for n in range(k)]


# -- running -------------------------------------------------------------------------------------


def _label(request: Any) -> str:
    text = ""
    if isinstance(request, dict):
        text = str(request.get("text") or request.get("prompt") or "")
        if not text and isinstance(request.get("shots"), list) and request["shots"]:
            text = (
                str(request["shots"][0].get("prompt", ""))
                if isinstance(request["shots"][0], dict)
                else ""
            )
    elif isinstance(request, str):
        text = request
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


def _plan_all(requests: list[dict[str, Any]]) -> tuple[list[BatchItem], list[Plan | None]]:
    """Plan every request before anything is sent; a refusal is an item, not an exception,
    so one bad line costs nothing and does not stop the rest.

    A plan is a pure function of its request, so identical requests are planned once (a plan
    is never changed by running it), and the rule book's substring prefilter is switched on:
    it pays for itself from a handful of texts on (same plans either way)."""
    from skill.intent import enable_prefilter

    enable_prefilter()
    items: list[BatchItem] = []
    plans: list[Plan | None] = []
    made: dict[str, Plan | InputError] = {}
    for n, request in enumerate(requests, 1):
        item = BatchItem(index=n, label=_label(request))
        try:
            plan = _plan_once(request, made)
        except InputError as exc:
            item.status, item.error, item.exit_code = "refused", exc.to_dict(), exc.exit_code
            plans.append(None)
        else:
            item.endpoint, item.tier = plan.endpoint, plan.tier
            item.duration, item.aspect_ratio = plan.params.duration, plan.params.aspect_ratio
            item.calls, item.planned_cost_usd = len(plan.segments), plan.cost_usd
            item.warnings = list(plan.warnings)
            plans.append(plan)
        items.append(item)
    return items, plans


def _plan_once(request: Any, made: dict[str, Plan | InputError]) -> Plan:
    """The plan of ``request``, made once per distinct request (by its canonical JSON)."""
    try:
        key = json.dumps(request, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        return make_plan(request, video_tools=video_tools_available)
    if key not in made:
        try:
            made[key] = make_plan(request, video_tools=video_tools_available)
        except InputError as exc:
            made[key] = exc
    found = made[key]
    if isinstance(found, InputError):
        raise found
    return found


def _check_budget(
    total: float, count: int, max_cost_usd: float | None, journal: Journal, api_base: str
) -> None:
    """Refuse the whole batch up front when it is over ``max_cost_usd`` or today's cap, rather
    than stop it half way with some videos paid for and others not."""
    if max_cost_usd is not None:
        if not math.isfinite(max_cost_usd) or max_cost_usd <= 0:
            raise InputError(
                f"max_cost_usd must be a positive amount, not {max_cost_usd!r}",
                code="invalid_input",
                field="max_cost_usd",
            )
        if total > max_cost_usd + 1e-9:
            raise InputError(
                f"the batch would cost {usd(total)} for {count} video(s), over the cap of "
                f"{usd(max_cost_usd)}; nothing was sent. Raise --max-cost-usd, drop requests, "
                "or make them cheaper (`kling3 plan` shows each one's price)",
                code="over_budget",
                field="max_cost_usd",
                details={"cost_usd": total, "cap_usd": max_cost_usd, "items": count},
            )
    cap = settings.daily_cap_usd()
    if cap is not None:
        spent = journal.spent_today(api_base)
        if spent + total > cap + 1e-9:
            raise InputError(
                f"daily spending cap: {usd(spent)} already spent today (UTC) plus {usd(total)} for "
                f"this batch of {count} video(s) makes {usd(spent + total)}, over the cap of "
                f"{usd(cap)} (KLING3_DAILY_CAP_USD); nothing was sent",
                code="daily_cap_exceeded",
                field="max_cost_usd",
                details={
                    "spent_today_usd": spent,
                    "extra_usd": total,
                    "cap_usd": cap,
                    "items": count,
                },
            )


async def _check_schemas(
    client: AsyncModelApi,
    plans: list[Plan | None],
    items: list[BatchItem],
    emit: Callable[[int, Event], None],
) -> None:
    """Fetch each endpoint's live schema once (cached a day); refuse items that do not match."""
    schemas: dict[str, dict[str, Any] | None] = {}
    for plan, item in zip(plans, items, strict=True):
        if plan is None:
            continue
        if plan.endpoint not in schemas:
            try:
                schemas[plan.endpoint] = await acached_schema(
                    client.base_url, plan.endpoint, client.model_schema
                )
            except Kling3Error as exc:
                schemas[plan.endpoint] = None
                emit(item.index, schema_unavailable(exc, plan.endpoint))
        schema = schemas[plan.endpoint]
        if schema is None:
            continue
        try:
            refuse_schema_mismatch(schema, plan)
        except InputError as exc:
            item.status, item.error, item.exit_code = "refused", exc.to_dict(), exc.exit_code


def _classify(exc: Kling3Error, sent: bool) -> str:
    """The item status for a run's error; an input error before any submit cost nothing."""
    if isinstance(exc, WaitTimeout):
        return "timeout"
    if isinstance(exc, (JobFailed, ApiClientError)):
        return "failed"
    if isinstance(exc, (InputError, OutputDirError)) and not sent:
        return "refused"
    return "error"


def _check_batch(requests: list[dict[str, Any]], concurrency: int) -> None:
    """Refuse an empty batch or a ``concurrency`` that is not a whole number in range."""
    if not requests:
        raise InputError("the batch has no requests", code="empty_batch", field="requests")
    if (
        isinstance(concurrency, bool)
        or not isinstance(concurrency, int)
        or not 1 <= concurrency <= MAX_CONCURRENCY
    ):
        raise InputError(
            f"concurrency must be a whole number from 1 to {MAX_CONCURRENCY}, not {concurrency!r}",
            code="invalid_input",
            field="concurrency",
        )


async def run_batch(
    requests: list[dict[str, Any]],
    *,
    concurrency: int = 4,
    output_dir: Path | str,
    max_cost_usd: float | None = None,
    poll_interval: float = 2.0,
    timeout: float | None = 1800,
    on_item: Callable[[BatchItem], None] | None = None,
    on_event: Callable[[int, Event], None] | None = None,
    client: AsyncModelApi | None = None,
    journal: Journal | None = None,
    check_live_schema: bool = True,
    finish_videos: bool = True,
    before_sending: Callable[[BatchPreview], None] | None = None,
) -> BatchReport:
    """Plan, budget-check and run ``requests``; see the module docstring for the rules.

    ``output_dir/<index>`` (zero-padded to the batch size, e.g. ``03``) receives each item's
    files. ``on_item`` gets a copy of an item at each change (queued → running → final);
    ``on_event`` gets ``(index, event)`` for every event of :func:`skill.execution.flow.arun`.
    ``finish_videos`` stitches a multi-call item and crops a non-native ratio with
    :func:`skill.media.video.finish` (``item.video``); without ffmpeg the segments are kept and a
    warning says so. Raises :class:`InputError` before anything is sent for an empty batch, a
    bad ``concurrency``, or a batch over ``max_cost_usd`` or the daily cap. ``before_sending``
    gets the :class:`BatchPreview` once every check passed and before the first submit; what
    it raises (a "no" at the question: :class:`~skill.errors.Declined`) stops the batch with
    nothing sent.
    """
    started = time.monotonic()
    _check_batch(requests, concurrency)
    batch_id = uuid.uuid4().hex
    items, plans = _plan_all(requests)
    runnable = [p for p in plans if p is not None]
    runner = _Runner(
        batch_id=batch_id,
        root=Path(output_dir),
        width=len(str(len(items))),
        poll_interval=poll_interval,
        timeout=timeout,
        finish_videos=finish_videos,
        on_item=on_item,
        on_event=on_event,
    )
    # A journal or client made here is closed here (the client first); a caller's stays open.
    async with contextlib.AsyncExitStack() as owned:
        jr = journal if journal is not None else owned.enter_context(Journal())
        _before_sending(runnable, max_cost_usd, jr, client, output_dir)
        cl = client
        if cl is None and runnable:
            from skill.execution.client import AsyncRunComfyClient

            cl = await owned.enter_async_context(AsyncRunComfyClient())
        if check_live_schema and cl is not None and runnable:
            await _check_schemas(cl, plans, items, runner.emit)
        if before_sending is not None and cl is not None:
            _announce(before_sending, _preview(items, plans, concurrency))
        for item in items:
            runner.notify(item)
        if cl is not None:
            await _run_items(items, plans, concurrency, cl, jr, runner)
    return BatchReport.from_items(items, batch_id=batch_id, elapsed_s=time.monotonic() - started)


def _before_sending(
    runnable: list[Plan], max_cost_usd: float | None, journal: Journal, client: AsyncModelApi | None,
    output_dir: Path | str,
) -> None:
    """The checks of the whole batch before its first submit: the budget and the daily cap (of
    the API base it goes to), then the output folder (created and written to)."""
    base = client.base_url if client is not None else settings.api_base()
    _check_budget(round(sum(p.cost_usd for p in runnable), 4), len(runnable), max_cost_usd, journal, base)
    if runnable:
        check_output_dir(output_dir)


def _announce(before_sending: Callable[[BatchPreview], None], preview: BatchPreview) -> None:
    """Tell (and let the caller ask) what is about to be sent; nothing to send, nothing to ask."""
    if preview.jobs:
        before_sending(preview)


def _preview(items: list[BatchItem], plans: list[Plan | None], concurrency: int) -> BatchPreview:
    sending = [(i, p) for i, p in zip(items, plans, strict=True) if p is not None and i.status == "queued"]
    return BatchPreview(
        jobs=len(sending),
        calls=sum(len(p.segments) for _, p in sending),
        planned_cost_usd=round(sum(p.cost_usd for _, p in sending), 4),
        concurrency=min(concurrency, len(sending)) if sending else concurrency,
        refused=sum(1 for i in items if i.status == "refused"),
        tiers=sorted({p.tier for _, p in sending}),
    )


async def _run_items(
    items: list[BatchItem],
    plans: list[Plan | None],
    concurrency: int,
    client: AsyncModelApi,
    journal: Journal,
    runner: _Runner,
) -> None:
    """Run every item still queued, at most ``concurrency`` at once, and wait for them all."""
    sem = asyncio.Semaphore(concurrency)
    tasks = [
        asyncio.ensure_future(_run_item(item, plan, sem, client, journal, runner))
        for item, plan in zip(items, plans, strict=True)
        if plan is not None and item.status == "queued"
    ]
    if tasks:
        await _wait_all(tasks)


async def _wait_all(tasks: Sequence[asyncio.Future[None]]) -> None:
    """Wait for every item; when cancelled, cancel each item ONCE and let it clean up.

    Not ``gather``: a gather resumes its caller as soon as the first child is cancelled, and a
    second ``cancel()`` would interrupt a running item in the middle of its own clean-up (the
    API cancel of a queued job, the journal update).
    """
    try:
        await asyncio.wait(tasks)
    except asyncio.CancelledError:
        for task in tasks:
            cancelling = getattr(task, "cancelling", None)  # Python 3.11+
            if not task.done() and (cancelling is None or cancelling() == 0):
                task.cancel()
        await asyncio.wait(tasks)
        raise
    for task in tasks:
        task.result()  # items catch their own errors; anything else is a bug worth raising


@dataclass(frozen=True)
class _Runner:
    """What every item of one batch shares besides the client and journal: ids, options and
    the caller's callbacks."""

    batch_id: str
    root: Path
    width: int
    poll_interval: float
    timeout: float | None
    finish_videos: bool
    on_item: Callable[[BatchItem], None] | None
    on_event: Callable[[int, Event], None] | None

    def out_dir(self, item: BatchItem) -> Path:
        """``root/<index>``, zero-padded to the batch size so the folders sort in input order."""
        return self.root / f"{item.index:0{self.width}d}"

    def notify(self, item: BatchItem) -> None:
        """Show the caller a copy, so its later changes to the item cannot reach the report."""
        if self.on_item is not None:
            self.on_item(_snapshot(item))

    def emit(self, index: int, event: Event) -> None:
        if self.on_event is not None:
            self.on_event(index, event)


def _snapshot(item: BatchItem) -> BatchItem:
    """A copy of ``item`` that shares nothing mutable with it: its lists and the error are
    copied, the rest is immutable (a generic deep copy costs 5x as much, 3 times per item)."""
    return item.model_copy(update={
        "request_ids": list(item.request_ids),
        "files": list(item.files),
        "skipped": [dict(s) for s in item.skipped],
        "warnings": list(item.warnings),
        "error": None if item.error is None else copy.deepcopy(item.error),
    })


class _Tracker:
    """What one item's flow events say about it: the calls submitted (or being submitted), the
    files saved, the jobs cancelled; and from those, the item's final state and estimated spend.

    Events are the only view into a running :func:`~skill.execution.flow.arun`, and an
    interrupted item must still be reported with its request ids and its cost.
    """

    def __init__(self, item: BatchItem, plan: Plan, runner: _Runner) -> None:
        self.item = item
        self.runner = runner
        self.seg_cost = {s.index: s.cost_usd for s in plan.segments}
        self.submitted: dict[int, str] = {}
        self.submitting: list[int] = []
        self.files: list[str] = []
        self.cancelled: set[str] = set()

    def hook(self, event: Event) -> None:
        """The ``on_event`` of the item's run: record, then pass the event on."""
        if isinstance(event, Submitting):
            self.submitting.append(event.segment)
        elif isinstance(event, Submitted):
            self.submitted[event.segment] = event.request_id
        elif isinstance(event, Done):
            self.files.extend(event.files)
            self.item.skipped.extend(event.skipped)
        elif isinstance(event, Cancelled):
            self.cancelled.add(event.request_id)
        self.runner.emit(self.item.index, event)

    def settle(
        self,
        status: str,
        error: dict[str, Any] | None = None,
        *,
        unconfirmed: bool = False,
        exit_code: int = 0,
    ) -> None:
        """Give the item its final status; ``unconfirmed``: the last submit may have arrived,
        so its cost counts (the way the journal counts it against the daily cap)."""
        item = self.item
        item.status, item.error, item.exit_code = status, error, exit_code
        item.request_ids = [self.submitted[k] for k in sorted(self.submitted)]
        item.files = list(self.files)
        last = {self.submitting[-1]} if unconfirmed and self.submitting else set()
        gone = {k for k, rid in self.submitted.items() if rid in self.cancelled}
        paid = (set(self.submitted) | last) - gone
        item.cost_usd = round(sum(self.seg_cost.get(k, 0.0) for k in paid), 4)
        item.cancelled_usd = round(sum(self.seg_cost.get(k, 0.0) for k in gone), 4)

    def finished(self, result: RunResult) -> None:
        """Settle an item whose run returned."""
        item = self.item
        self.files[:] = list(result.segment_files)
        if result.video is not None:
            item.video = str(result.video["path"])
        item.warnings.extend(w for w in result.warnings if w not in item.warnings)
        if result.status == "completed":
            self.settle("completed", None)
        else:
            self.settle(
                "error",
                {
                    "code": "unexpected_status",
                    "field": None,
                    "message": f"run ended {result.status}",
                },
                exit_code=75,
            )

    def failed(self, exc: Exception) -> None:
        """Settle an item whose run raised: a :class:`Kling3Error` by its kind, else a bug (the
        paid job's error once a submit was confirmed)."""
        if isinstance(exc, JobFailed) and exc.code == "cancelled" and exc.request_id:
            self.cancelled.add(exc.request_id)  # cancelled at the API while queued: not charged
        if not isinstance(exc, Kling3Error):
            cause = f"{type(exc).__name__}: {exc}"
            submitted = [self.submitted[k] for k in sorted(self.submitted)]
            exc = after_submit(exc, submitted) if submitted else InternalError(f"unexpected error ({cause})")
        assert isinstance(exc, Kling3Error)
        self.settle(
            _classify(exc, bool(self.submitted)),
            exc.to_dict(),
            unconfirmed=isinstance(exc, SubmitUnconfirmed),
            exit_code=exc.exit_code,
        )

    def stopped(self) -> None:
        """Settle an item the batch's cancellation reached before it had settled."""
        if self.item.status not in ("queued", "running"):
            return
        if not (self.submitted or self.submitting):
            self.settle(
                "not_started",
                {
                    "code": "not_started",
                    "field": None,
                    "message": "the batch was stopped before this item was sent",
                },
            )
            return
        left = [r for r in self.submitted.values() if r not in self.cancelled]
        if left:
            message = (
                f"the batch was stopped; job(s) {', '.join(left)} keep running at the "
                "API: `kling3 resume --all` fetches them"
            )
        elif len(self.submitting) > len(self.submitted):
            message = (
                "the batch was stopped during a submit, which may or may not have reached "
                "the API: check `kling3 jobs` before running this request again"
            )
        else:
            message = "the batch was stopped; its queued job(s) were cancelled at the API"
        error = {
            "code": "interrupted",
            "field": None,
            "message": message,
            "running": left,
            "cancelled": sorted(self.cancelled),
        }
        self.settle("interrupted", error, unconfirmed=True, exit_code=130)


async def _run_item(
    item: BatchItem,
    plan: Plan,
    sem: asyncio.Semaphore,
    client: AsyncModelApi,
    journal: Journal,
    runner: _Runner,
) -> None:
    """Run one item when a slot is free; whatever happens, it ends settled and reported."""
    tracker = _Tracker(item, plan, runner)
    out = runner.out_dir(item)
    try:
        async with sem:
            item.status, item.output_dir = "running", str(out.resolve())
            runner.notify(item)
            try:
                result = await arun(
                    plan,
                    output_dir=out,
                    poll_interval=runner.poll_interval,
                    timeout=runner.timeout,
                    on_event=tracker.hook,
                    client=client,
                    journal=journal,
                    check_live_schema=False,
                    batch_id=runner.batch_id,
                    finish_video=runner.finish_videos,
                )
            except Exception as exc:  # a bug must not take the other items down
                tracker.failed(exc)
            else:
                tracker.finished(result)
    except asyncio.CancelledError:
        tracker.stopped()
        runner.notify(item)
        raise
    runner.notify(item)
