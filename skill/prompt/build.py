"""Building the prompt of one call, memoised."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from skill.catalog import load_catalog
from skill.errors import InputError
from skill.prompt.continuity import (
    ShotPlan,
    definite,
    entities_of,
    lead_of,
    pick,
    restate,
    speaker_label,
    uniq_pairs,
)
from skill.prompt.describe import describe, parts_of, uniq
from skill.prompt.grammar import split_subject, word_of
from skill.prompt.lexicon import get_lex
from skill.prompt.lint import lint
from skill.prompt.models import BuiltPrompt, LintWarning, PromptInput, ShotOut
from skill.prompt.render import render
from skill.prompt.state import Entity
from skill.prompt.text import norm_space
from skill.request import fill_durations

__all__ = ["MAX_INPUT_CHARS", "build_prompt"]


# Text longer than this is refused before parsing (the rendered prompt could never fit anyway).
MAX_INPUT_CHARS = 10_000


def _audio_ctx(on: bool, cues: list[tuple[str, str]], dialogue: list[dict[str, str]],
               no_audio: set[str], wants_dialogue: bool) -> dict[str, Any]:
    order = {"voiceover": 0, "ambience": 1, "effects": 2, "music": 3}
    ordered = [c for _, c in sorted(cues, key=lambda kc: order.get(kc[0], 9))]
    speech = bool(dialogue) or any(k == "voiceover" for k, _ in cues) or wants_dialogue
    return {
        "on": on,
        "cues": ordered,
        "no_music": "music" in no_audio and not any(k == "music" for k, _ in cues),
        "no_voiceover": "voiceover" in no_audio,
        "no_dialogue": on and not speech,
        "dialogue": dialogue if on else [],
        "wants_dialogue": wants_dialogue and not dialogue,
    }


def build_prompt(inp: PromptInput, *, template_dir: Path | None = None) -> BuiltPrompt:
    """Write the prompt for one call. Pure and deterministic.

    Raises :class:`InputError` (``prompt_too_long``, ``shot_too_long``, ``invalid_input``) when the
    request cannot be written within Kling's limits, and :class:`ConfigError` (``bad_template``)
    when a template is broken or hostile.

    Results are memoised (the same input gives the same object back): treat them as read-only.
    """
    tdir = _resolved(str(template_dir)) if template_dir is not None else None
    shots = tuple((s.prompt, s.duration) for s in inp.shots) if inp.shots is not None else None
    key = (inp.text, shots, inp.mode, inp.tier, inp.duration, inp.generate_audio, inp.negative_prompt,
           inp.has_tail_image, inp.cfg_scale, inp.usd_per_second, inp.routing_spans, tdir)
    return _build_memo(key, inp)


@functools.lru_cache(maxsize=16)
def _resolved(path: str) -> str:
    return str(Path(path).resolve())


class _Key:
    """A memo key that carries the input along without hashing it."""

    __slots__ = ("inp", "key")

    def __init__(self, key: tuple[Any, ...], inp: PromptInput) -> None:
        self.key = key
        self.inp = inp

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Key) and other.key == self.key


def _build_memo(key: tuple[Any, ...], inp: PromptInput) -> BuiltPrompt:
    return _build_cached(_Key(key, inp))


@functools.lru_cache(maxsize=2048)
def _build_cached(k: _Key) -> BuiltPrompt:
    return _build(k.inp, k.key[-1])


def _build(inp: PromptInput, tdir: str | None) -> BuiltPrompt:
    """:func:`build_prompt` without the memo (``tdir``: resolved template folder or None)."""
    cat = load_catalog()
    limits = cat.limits
    lx = get_lex()
    if len(inp.text) > MAX_INPUT_CHARS:
        raise InputError(
            f"text is {len(inp.text)} characters; a Kling prompt holds at most {limits.max_prompt_chars}",
            code="prompt_too_long",
            field="text",
            details={"chars": len(inp.text), "limit": limits.max_prompt_chars},
        )
    shots_in = inp.shots or None
    for k, sh in enumerate(shots_in or (), start=1):
        if len(sh.prompt) > MAX_INPUT_CHARS:
            raise InputError(
                f"shot {k} is {len(sh.prompt)} characters; a shot holds at most {limits.max_shot_chars}",
                code="shot_too_long",
                field="shots",
                details={"shot": k, "chars": len(sh.prompt), "limit": limits.max_shot_chars},
            )
    if shots_in is not None and len(shots_in) > limits.max_shots:
        raise InputError(
            f"{len(shots_in)} shots given; one call takes at most {limits.max_shots}",
            code="invalid_input",
            field="shots",
            details={"shots": len(shots_in), "limit": limits.max_shots},
        )
    d = describe(lx, inp.text, shots_in, inp.routing_spans)
    warnings: list[LintWarning] = []

    def warn(code: str, message: str) -> None:
        warnings.append(LintWarning(code=code, message=message))

    if d.text_had_shots:
        warn("shots_field_overrides_text", "the shots field is used; the shots written in the text are ignored")
    if len(d.shots) > limits.max_shots:
        raise InputError(
            f"the text describes {len(d.shots)} shots; one call takes at most {limits.max_shots}",
            code="invalid_input",
            field="text",
            details={"shots": len(d.shots), "limit": limits.max_shots},
        )
    pre = d.preamble
    segs = d.shots
    multi = len(segs) > 1
    all_segs = ([pre] if pre else []) + segs
    parts = parts_of(all_segs)
    audio_on = inp.generate_audio
    i2v = inp.mode == "i2v"

    # -- durations ------------------------------------------------------------------------
    if multi:
        durations = fill_durations(inp.duration, [s.duration for s in segs], field="shots" if d.source == "field" else "text", span="call")
    else:
        given = segs[0].duration if segs else None
        if given is not None and d.source == "field" and given != inp.duration:
            raise InputError(
                f"the shot lasts {given} s but the call lasts {inp.duration} s",
                code="invalid_input",
                field="shots",
                details={"shot_durations": [given], "sum": given, "duration": inp.duration},
            )
        durations = [inp.duration]

    # -- per-shot plans with continuity -------------------------------------------------------
    need_entities = multi or any(s.dialogue for s in all_segs)
    known: list[Entity] = list(entities_of(lx, pre)) if pre and need_entities else []
    g_scene = list(pre.scene) if pre else []
    g_light = list(pre.lighting) if pre else []
    g_atmo = list(pre.atmosphere) if pre else []
    g_style = [p for _, p in pre.style] if pre else []
    g_audio = list(pre.audio) if pre else []
    if multi:
        g_audio += [c for seg in segs for c in seg.audio if c[0] != "effects"]
    last_scene: list[str] = []
    last_light: list[str] = []
    last_atmo: list[str] = []
    pre_np: list[tuple[str, str]] = []
    if pre and multi:
        for sentence in pre.prose:
            toks = sentence.rstrip(".!?").split()
            if toks and not split_subject(lx, toks)[1]:
                head = word_of(toks[-1])
                pre_np.append((sentence, head))
    plans: list[ShotPlan] = []
    for k, seg in enumerate(segs):
        body = restate(lx, seg.prose, known) if multi else list(seg.prose)
        if pre_np:
            seen = " ".join([*body, *seg.of_nps]).lower()
            body = body + [np for np, head in pre_np if not re.search(rf"(?<![\w']){re.escape(head)}", seen)]
        if pre and not multi:
            body = list(pre.prose) + body
        inherited: set[str] = set()
        own_scene = [x for x in seg.scene if x not in seg.scene_in_lead]
        scene = pick(own_scene, g_scene, [] if seg.scene else last_scene, "scene", multi, inherited)
        light = pick(seg.lighting, g_light, last_light, "lighting", multi, inherited)
        atmo = pick(seg.atmosphere, g_atmo, last_atmo, "atmosphere", multi, inherited)
        style = uniq([*g_style, *(p for _, p in seg.style)])
        if multi and g_style and not seg.style:
            inherited.add("style")
        last_scene = (uniq([*g_scene, *seg.scene]) if seg.scene else scene) or last_scene
        last_light = light or last_light
        last_atmo = atmo or last_atmo
        dialogue = [dict(x) for x in seg.dialogue]
        if k == 0 and pre:
            dialogue = [dict(x) for x in pre.dialogue] + dialogue
        seg_ents = entities_of(lx, seg) if need_entities else []
        ents_here = known + seg_ents
        for line in dialogue:
            line["speaker"] = speaker_label(lx, line["speaker"], ents_here)
        plans.append(
            ShotPlan(
                seg=seg, index=k + 1, duration=durations[k], body=body, scene=scene, lighting=light,
                atmosphere=atmo, style=style, inherited=inherited,
                audio=uniq_pairs([*g_audio, *(c for c in seg.audio if c[0] == "effects" or not multi)]),
                dialogue=dialogue,
            )
        )
        if seg_ents:
            heads = {x.head for x in known}
            known = known + [e for e in seg_ents if e.head not in heads]

    # -- identity (i2v) -------------------------------------------------------------------------
    keep = parts.identity
    identity: dict[str, Any] = {
        "fixed": keep,
        "moving": parts.moving,
        "has_camera": bool(parts.camera),
        "has_action": bool(parts.action),
        "tail": inp.has_tail_image and not multi,
    }
    if i2v and not keep:
        visible = " ".join(p for plan in plans for p in plan.body)
        identity["fixed"] = uniq(say for rx, say in lx.items if rx.search(visible))
    if not multi and not i2v and not any(plans[0].body) and not lead_of(plans[0].seg) and not plans[0].scene:
        raise InputError(
            "nothing is left to show once routing words are removed; describe the subject and action",
            code="nothing_to_show",
            field="text",
        )

    no_audio = set().union(*(s.no_audio for s in all_segs)) if all_segs else set()
    wants_dialogue = any(s.wants_dialogue for s in all_segs)
    anchor_i2v = render("anchor.j2", {"identity": identity, "mode": inp.mode}, tdir) if i2v else None

    def shot_ctx(plan: ShotPlan, level: int) -> dict[str, Any]:
        drop = set()
        if level >= 1:
            drop |= {"lighting", "atmosphere", "style"} & plan.inherited
        if level >= 2:
            drop |= {"scene"} & plan.inherited
        setting = [
            *([] if "scene" in drop else plan.scene),
            *([] if "lighting" in drop else plan.lighting),
            *([] if "atmosphere" in drop else plan.atmosphere),
        ]
        return {
            "index": plan.index,
            "duration": plan.duration,
            "multi": multi,
            "lead": lead_of(plan.seg),
            "camera": [p for _, p in plan.seg.camera],
            "framing": [p for _, _, p in plan.seg.framing],
            "body": plan.body,
            "setting": setting,
            "style": [] if "style" in drop else plan.style,
            "keep": plan.seg.keep if not i2v else [],
        }

    def audio_for(plan: ShotPlan, level: int) -> dict[str, Any]:
        cues = plan.audio if level < 3 or not multi else list(plan.seg.audio)
        return _audio_ctx(audio_on, cues, plan.dialogue, no_audio, wants_dialogue)

    def render_all(level: int) -> tuple[str, list[ShotOut]]:
        if not multi:
            plan = plans[0]
            ctx = {
                "shot": shot_ctx(plan, 0),
                "audio": audio_for(plan, 0),
                "identity": identity,
                "anchor": anchor_i2v or "",
                "mode": inp.mode,
                "tier": inp.tier,
            }
            return render("i2v.j2" if i2v else "t2v.j2", ctx, tdir), []
        outs = []
        for plan in plans:
            ctx = {
                "shot": shot_ctx(plan, level),
                "audio": audio_for(plan, level),
                "identity": identity,
                "anchor": (anchor_i2v or "") if (level < 2 or plan.index == 1) else "",
                "mode": inp.mode,
                "tier": inp.tier,
            }
            outs.append(
                ShotOut(
                    index=plan.index, prompt=render("multi_shot_item.j2", ctx, tdir), duration=plan.duration
                )
            )
        joined = render(
            "multi_shot.j2",
            {"shots": [{"index": o.index, "prompt": o.prompt, "duration": o.duration} for o in outs],
             "mode": inp.mode, "tier": inp.tier},
            tdir,
        )
        return joined, outs

    level = 0
    prompt, shot_outs = render_all(level)
    while multi and level < 3 and (
        len(prompt) > limits.max_prompt_chars or any(len(o.prompt) > limits.max_shot_chars for o in shot_outs)
    ):
        level += 1
        prompt, shot_outs = render_all(level)
    if level:
        warn("anchors_trimmed", "restated scene/lighting/style were shortened to fit Kling's length limits")
    for o in shot_outs:
        if len(o.prompt) > limits.max_shot_chars:
            raise InputError(
                f"shot {o.index} is {len(o.prompt)} characters; a shot holds at most {limits.max_shot_chars}",
                code="shot_too_long",
                field="shots",
                details={"shot": o.index, "chars": len(o.prompt), "limit": limits.max_shot_chars},
            )
    if len(prompt) > limits.max_prompt_chars:
        raise InputError(
            f"the prompt is {len(prompt)} characters; Kling takes at most {limits.max_prompt_chars}",
            code="prompt_too_long",
            field="text",
            details={"chars": len(prompt), "limit": limits.max_prompt_chars},
        )
    if not prompt.strip():
        raise InputError("the prompt is empty; describe what to show", code="invalid_input", field="text")

    # -- negative prompt ---------------------------------------------------------------------------
    caller_neg = []
    if inp.negative_prompt:
        for item in re.split(r"[,;\n]+", inp.negative_prompt):
            item = re.sub(r"^\s*(?:no|without|avoid)\s+", "", norm_space(item), flags=re.IGNORECASE).strip(" .")
            if item:
                caller_neg.append(item)
    negatives = uniq([*caller_neg, *parts.exclusions])
    negative_prompt = ", ".join(negatives) if negatives else None

    # -- anchor -------------------------------------------------------------------------------------
    anchor: str | None = anchor_i2v
    if multi and not i2v:
        restated = uniq(
            [*(definite(lx, e.full) for e in known if e.rich), *g_scene, *(plans[0].scene if not g_scene else []),
             *g_light, *(plans[0].lighting if not g_light else []), *g_style]
        )
        anchor = "; ".join(restated) if restated else None

    # -- lint -----------------------------------------------------------------------------------------
    lint(lx, inp, parts, plans, all_segs, prompt, warn, multi, audio_on, d.source)

    return BuiltPrompt(
        prompt=prompt,
        negative_prompt=negative_prompt,
        parts=parts,
        shots=shot_outs,
        anchor=anchor,
        warnings=warnings,
    )
