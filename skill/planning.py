"""Planning: from a request to the exact calls that would be made, their cost and the reasons.

Pure: no network, no files beyond the bundled data read once. ``make_plan`` is what
``kling3 plan`` prints and what ``kling3 run`` executes, so what a caller sees for free is
exactly what would be paid for.

Whether ffmpeg is there to stitch or crop is a fact about the machine, so it is not looked up
here: the surfaces (``skill.plan``, the CLI, the tools, the run flow) pass
``video_tools=skill.media.ffmpeg.video_tools_available`` and this module never imports
:mod:`skill.media`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from skill import settings
from skill.catalog import Catalog, Endpoint, load_catalog
from skill.errors import VIDEO_TOOLS_MISSING, ConfigError, InputError
from skill.intent import Intent, extract
from skill.money import amount
from skill.request import Shot, VideoRequest, fill_durations, parse_request
from skill.routing import Outcome, WarningItem, fill_message, route
from skill.rulebook import CompiledRules, Slots, load_rules

if TYPE_CHECKING:
    from skill.prompt import BuiltPrompt

__all__ = ["Decision", "Params", "Plan", "Segment", "make_plan"]


# Empty defaults come from lambdas, not `list`/`dict`: pydantic reads each factory's signature,
# and a builtin's is parsed with tokenize, whose first use compiles a large pattern (~2% of a
# cold `kling3 plan`).
class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)


class Segment(_Out):
    """One paid call: its seconds, prompt, exact wire body and cost."""

    index: int
    duration: int
    prompt: str
    payload: dict[str, Any]
    cost_usd: float
    shots: list[dict[str, Any]] = Field(default_factory=lambda: [])


class Params(_Out):
    """The friendly parameters after routing. ``duration`` is the total asked."""

    duration: int
    aspect_ratio: str
    render_aspect_ratio: str
    generate_audio: bool
    cfg_scale: float | None = None
    negative_prompt: str | None = None
    image_url: str | None = None
    tail_image_url: str | None = None
    max_cost_usd: float | None = None
    seed: int | None = None


class Decision(_Out):
    """Why: the rule that decided each slot, every signal found, every change made."""

    rules: dict[str, str]
    signals: list[dict[str, Any]]
    changes: list[dict[str, Any]]
    ruled_out: dict[str, list[Any]] = Field(default_factory=lambda: {})


class Plan(_Out):
    """Everything ``run`` would do, priced, with the reasons. Costs nothing to make."""

    endpoint: str
    tier: str
    mode: str
    resolution: str
    params: Params
    payload: dict[str, Any]
    prompt: str
    negative_prompt: str | None = None
    prompt_parts: dict[str, Any] | None = None
    cost_usd: float
    segments: list[Segment]
    decision: Decision
    warnings: list[str]
    warning_details: list[WarningItem]

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def _wire_field_to_friendly(catalog: Catalog, ep: Endpoint, wire: str) -> str:
    for friendly, w in catalog.field_maps[ep.mode].items():
        if w == wire:
            return "text" if friendly == "prompt" else friendly
    return wire


def _payload(catalog: Catalog, ep: Endpoint, friendly: dict[str, Any]) -> dict[str, Any]:
    body = catalog.to_wire(ep, friendly)
    schema = catalog.schema_for(ep)
    missing = [f for f in schema.always_send if f not in body]
    if missing:
        raise ConfigError(f"{ep.model_id}: payload lacks always-sent fields {missing}", code="bad_catalog")
    problems = catalog.validate_wire(ep, body)
    if problems:
        p = problems[0]
        field = _wire_field_to_friendly(catalog, ep, p.field)
        raise InputError(f"{field}: {p.message}", code="invalid_input", field=field)
    return body


@dataclass(frozen=True)
class _Call:
    """One planned call before pricing: its seconds and, for a film of several calls, the story's
    beats it tells (start, stop); start == stop continues the action of the last beat."""

    seconds: int
    beats: tuple[int, int] | None
    shots: tuple[Shot, ...] | None = None


def _pack_shots(durations: list[int], limits: Any) -> list[tuple[int, int]]:
    """Split consecutive shots into calls: fewest calls, then the most even lengths.

    Each call lasts min..max seconds and holds at most max_shots shots; a shot is never split.
    """
    n = len(durations)
    best: list[tuple[int, int, int] | None] = [None] * (n + 1)
    best[0] = (0, 0, -1)
    for i in range(1, n + 1):
        for j in range(max(0, i - limits.max_shots), i):
            prev = best[j]
            secs = sum(durations[j:i])
            if prev is None or not limits.min_duration <= secs <= limits.max_duration:
                continue
            cand = (prev[0] + 1, prev[1] + secs * secs, j)
            cur = best[i]
            if cur is None or cand[:2] < cur[:2]:
                best[i] = cand
    if best[n] is None:
        raise InputError(
            f"the shots ({'+'.join(map(str, durations))} s) cannot be grouped into calls of "
            f"{limits.min_duration}-{limits.max_duration} s with at most {limits.max_shots} shots each "
            "without splitting a shot: shorten the long shots or merge the short ones",
            code="invalid_input", field="shots",
        )
    spans = []
    i = n
    while i > 0:
        entry = best[i]
        assert entry is not None
        spans.append((entry[2], i))
        i = entry[2]
    return spans[::-1]


def _spread(n_beats: int, seconds: list[int]) -> list[tuple[int, int]]:
    """Beats over calls in order, the earlier calls taking the extra; calls past the story's end
    continue it (start == stop)."""
    calls = len(seconds)
    if n_beats < calls:
        return [(k, k + 1) if k < n_beats else (n_beats, n_beats) for k in range(calls)]
    base, extra = divmod(n_beats, calls)
    out, start = [], 0
    for k in range(calls):
        stop = start + base + (1 if k < extra else 0)
        out.append((start, stop))
        start = stop
    return out


def _calls(catalog: Catalog, req: VideoRequest, total: int, spans: tuple[tuple[int, int], ...] = ()) -> list[_Call]:
    """Seconds and beats of each call. A film longer than one call tells its story once: the
    beats go over the calls in order (shots are never split); with fewer beats than calls, the
    later calls continue the action."""
    limits = catalog.limits
    if total <= limits.max_duration:
        return [_Call(total, None)]
    from skill.prompt import story_of

    beats = story_of(req.text, req.shots, spans, film=True).beats
    given = [b.duration for b in beats]
    field = "shots" if req.shots else "text"
    if len(beats) >= 2 and any(d is not None for d in given):
        durations = fill_durations(total, given, field=field, span="video")
        filled = tuple(Shot(prompt=sh.prompt, duration=durations[k]) for k, sh in enumerate(req.shots)) if req.shots else None
        return [_Call(sum(durations[a:b]), (a, b), filled) for a, b in _pack_shots(durations, limits)]
    n_calls = max(-(-total // limits.max_duration), -(-len(beats) // limits.max_shots))
    base, extra = divmod(total, n_calls)
    seconds = [base + (1 if i < extra else 0) for i in range(n_calls)]
    shots = tuple(req.shots) if req.shots else None
    return [_Call(secs, rng, shots) for secs, rng in zip(seconds, _spread(max(len(beats), 1), seconds), strict=True)]


def _build_or_fallback(build: Any, inp: Any, *, template_dir: Path | None) -> BuiltPrompt:
    """Build the expert prompt; when the text is only routing words, send it as written and say so
    (the plan still routes and prices the request; the warning tells the caller to describe it)."""
    from skill.prompt import BuiltPrompt, LintWarning, PromptParts

    try:
        return build(inp, template_dir=template_dir)  # type: ignore[no-any-return]
    except InputError as err:
        if err.code != "nothing_to_show":
            raise
        exc = err
    return BuiltPrompt(
        prompt=inp.text.strip(),
        negative_prompt=inp.negative_prompt,
        parts=PromptParts(),
        shots=[],
        anchor=None,
        warnings=[LintWarning(code="thin_prompt", message=f"{exc.message}: the text is sent as written")],
    )


def _segments(
    catalog: Catalog, ep: Endpoint, req: VideoRequest, slots: _Chosen, template_dir: Path | None,
    spans: tuple[tuple[int, int], ...] = (), as_written: bool = False,
) -> tuple[list[Segment], list[BuiltPrompt]]:
    from skill.prompt import PromptInput, build_prompt

    audio = bool(slots.generate_audio)
    several = len(calls := _calls(catalog, req, int(slots.duration), spans)) > 1
    told = next((k for k, c in enumerate(calls) if c.beats and c.beats[0] >= c.beats[1]), len(calls))
    render = catalog.render_ratio(slots.aspect_ratio)
    out, built_all = [], []
    for i, call in enumerate(calls):
        last = i == len(calls) - 1
        tail = slots.tail_image_url if last else None
        built = _build_or_fallback(
            build_prompt,
            PromptInput(
                text=req.text,
                shots=list(call.shots) if call.shots is not None else req.shots,
                mode=ep.mode,
                tier=ep.tier,
                duration=call.seconds,
                generate_audio=audio,
                usd_per_second=ep.rate(audio),
                routing_spans=spans,
                negative_prompt=req.negative_prompt,
                has_tail_image=tail is not None,
                cfg_scale=req.cfg_scale,
                beats=call.beats if several else None,
                continuation=max(0, i - told + 1),
                as_written=as_written,
            ),
            template_dir=template_dir,
        )
        friendly = {
            "prompt": built.prompt,
            "negative_prompt": built.negative_prompt,
            "duration": call.seconds,
            "aspect_ratio": render,
            "cfg_scale": req.cfg_scale,
            "generate_audio": audio,
            "image_url": slots.image_url,
            "tail_image_url": tail,
        }
        out.append(
            Segment(
                index=i + 1,
                duration=call.seconds,
                prompt=built.prompt,
                payload=_payload(catalog, ep, friendly),
                cost_usd=catalog.cost(ep, call.seconds, audio),
                shots=[s.model_dump() for s in built.shots],
            )
        )
        built_all.append(built)
    return out, built_all


@dataclass
class _Chosen:
    """The decided slots, with the ones every plan needs known to be set."""

    tier: str
    mode: str
    duration: int
    aspect_ratio: str
    generate_audio: bool
    image_url: str | None
    tail_image_url: str | None
    max_cost_usd: float | None


def _chosen(slots: Slots, rules: CompiledRules) -> _Chosen:
    for needed in ("mode", "tier", "duration", "aspect_ratio", "generate_audio"):
        if not slots.is_set(needed):
            raise ConfigError(f"{rules.source}: no rule decided {needed!r}", code="bad_rules")
    assert slots.tier is not None and slots.mode is not None and slots.aspect_ratio is not None
    i2v = slots.mode == "i2v"
    return _Chosen(
        tier=slots.tier,
        mode=slots.mode,
        duration=int(slots.duration or 0),
        aspect_ratio=slots.aspect_ratio,
        generate_audio=bool(slots.generate_audio),
        image_url=slots.image_url if i2v else None,
        tail_image_url=slots.tail_image_url if i2v else None,
        max_cost_usd=slots.max_cost_usd,
    )


def _apply_budget(
    catalog: Catalog, rules: CompiledRules, outcome: Outcome, slots: _Chosen, req: VideoRequest,
    template_dir: Path | None, spans: tuple[tuple[int, int], ...] = (), as_written: bool = False,
) -> tuple[Endpoint, list[Segment], list[BuiltPrompt]]:
    mode = slots.mode
    ep = catalog.endpoint(slots.tier, mode)
    segments, built = _segments(catalog, ep, req, slots, template_dir, spans, as_written)
    cap = slots.max_cost_usd
    if cap is None:
        return ep, segments, built
    cost = round(sum(s.cost_usd for s in segments), 4)
    if cost <= cap + 1e-9:
        return ep, segments, built
    budget = rules.data.budget
    order = budget.step_down
    start = order.index(slots.tier) if slots.tier in order else len(order)
    needs = [f for f in ("tail_image_url",) if getattr(slots, f)]
    ruled_out = outcome.excluded.get("tier", [])
    cheapest: tuple[Endpoint, float] | None = None
    for tier in order[start + 1 :]:
        cand = catalog.endpoint(tier, mode)
        if tier in ruled_out or not all(catalog.supports(cand, f) for f in needs):
            continue
        cand_segments, cand_built = _segments(catalog, cand, req, slots, template_dir, spans, as_written)
        cand_cost = round(sum(s.cost_usd for s in cand_segments), 4)
        cheapest = (cand, cand_cost)
        if cand_cost <= cap + 1e-9:
            outcome.changes.append(
                _change(
                    "budget.step_down",
                    "tier",
                    slots.tier,
                    tier,
                    fill_message(
                        budget.change, cap=amount(cap), to=tier, to_cost=amount(cand_cost),
                        from_cost=amount(cost), **{"from": slots.tier},
                    ),
                )
            )
            slots.tier = tier
            outcome.decided_by["tier"] = outcome.decided_by.get("tier", "") + "+budget.step_down"
            return cand, cand_segments, cand_built
    best_ep, best_cost = cheapest if cheapest else (ep, cost)
    raise InputError(
        fill_message(
            budget.refuse.message,
            tier=best_ep.tier, mode=mode, seconds=slots.duration,
            audio="on" if slots.generate_audio else "off", cost=amount(best_cost), cap=amount(cap),
        ),
        code=budget.refuse.code,
        field=budget.refuse.field,
        details={"cost_usd": best_cost, "cap_usd": cap, "tier": best_ep.tier},
    )


def _change(rule: str, slot: str, before: Any, after: Any, reason: str) -> Any:
    from skill.routing import Change

    return Change.model_validate({"rule": rule, "slot": slot, "from": before, "to": after, "reason": reason})


def _video_tools_missing(video_tools: bool | Callable[[], bool] | None) -> bool:
    """True only when the caller said ffmpeg is not there; a callable is asked here, lazily."""
    if video_tools is None:
        return False
    return not (video_tools() if callable(video_tools) else video_tools)


def _fields(req: VideoRequest) -> dict[str, Any]:
    return {k: v for k, v in req.model_dump(exclude={"text", "shots"}).items() if v is not None}


def make_plan(
    request: VideoRequest | dict[str, Any] | str,
    *,
    rules_path: Path | str | None = None,
    template_dir: Path | str | None = None,
    video_tools: bool | Callable[[], bool] | None = None,
) -> Plan:
    """Route, price and write the calls for one request. Raises :class:`InputError` on refusal.

    ``video_tools`` says whether stitching/cropping can run here: a bool, or a callable that is
    asked only when the plan needs that local work (the surfaces pass
    :func:`skill.media.ffmpeg.video_tools_available`, so a single native clip never looks for
    ffmpeg). False adds the ``video_tools_missing`` warning; None (unknown) adds nothing.
    """
    if isinstance(request, str):
        request = {"text": request}
    req = parse_request(request)
    rules = load_rules(rules_path)
    catalog = load_catalog()
    shot_durations = [s.duration for s in req.shots] if req.shots else None
    intent: Intent = extract(req.text, rules, shot_durations=shot_durations)
    outcome = route(_fields(req), intent, rules)
    slots = _chosen(outcome.slots, rules)

    tdir = Path(template_dir) if template_dir else settings.templates_dir()
    # one vocabulary for routing words: the prompt loses exactly the spans the router read as instructions
    spans = intent.routing_spans(rules.content_states)
    # the language rules are English: other text is sent as written (the router warns)
    as_written = intent.first("language_other") is not None
    ep, segments, built = _apply_budget(catalog, rules, outcome, slots, req, tdir, spans, as_written)
    warnings = list(outcome.warnings)
    seen = {w.code for w in warnings}
    for b in built:
        for lw in b.warnings:
            if lw.code == "shots_field_overrides_text" and len(segments) > 1 and not req.shots:
                continue
            if lw.code not in seen:
                seen.add(lw.code)
                warnings.append(WarningItem(code=lw.code, message=lw.message, rule="prompt"))
    messages = rules.data.messages
    asked = slots.aspect_ratio
    render = catalog.render_ratio(asked)
    if render != asked and "crop_locally" in messages:
        warnings.append(
            WarningItem(code="crop_locally", message=fill_message(messages["crop_locally"], asked=asked, native=render))
        )
    if len(segments) > 1 and "segmented" in messages:
        durations = "+".join(str(s.duration) for s in segments)
        warnings.append(
            WarningItem(
                code="segmented",
                message=fill_message(messages["segmented"], seconds=slots.duration, calls=len(segments), durations=durations),
            )
        )
        if slots.tail_image_url and "tail_on_last_segment" in messages:
            warnings.append(WarningItem(code="tail_on_last_segment", message=fill_message(messages["tail_on_last_segment"])))
    if ep.tier != "4k":
        warnings = [w for w in warnings if w.code != "4k_cost"]
    if (len(segments) > 1 or render != asked) and _video_tools_missing(video_tools):
        warnings.append(WarningItem(code="video_tools_missing", message=VIDEO_TOOLS_MISSING))

    params = Params(
        duration=int(slots.duration),
        aspect_ratio=asked,
        render_aspect_ratio=render,
        generate_audio=bool(slots.generate_audio),
        cfg_scale=req.cfg_scale,
        negative_prompt=req.negative_prompt,
        image_url=slots.image_url,
        tail_image_url=slots.tail_image_url,
        max_cost_usd=slots.max_cost_usd,
        seed=req.seed,
    )
    decision = Decision(
        rules=dict(outcome.decided_by),
        signals=[s.to_dict() for s in intent.signals],
        changes=[c.model_dump(by_alias=True) for c in outcome.changes],
        ruled_out=dict(outcome.excluded),
    )
    return Plan(
        endpoint=ep.model_id,
        tier=ep.tier,
        mode=ep.mode,
        resolution=catalog.tiers[ep.tier].resolution,
        params=params,
        payload=segments[0].payload,
        prompt=segments[0].prompt,
        negative_prompt=built[0].negative_prompt,
        prompt_parts=built[0].parts.model_dump(),
        cost_usd=round(sum(s.cost_usd for s in segments), 4),
        segments=segments,
        decision=decision,
        warnings=[f"{w.code}: {w.message}" for w in warnings],
        warning_details=warnings,
    )
