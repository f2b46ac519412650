"""Warnings about the prompt, with stable codes."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

from skill.money import usd
from skill.prompt.continuity import ShotPlan
from skill.prompt.describe import uniq
from skill.prompt.lexicon import Lex
from skill.prompt.models import PromptInput, PromptParts
from skill.prompt.state import Seg

__all__ = ["lint"]


def _contentword_alternation(lx: Lex, s: str) -> set[str]:
    out = set()
    for w in re.findall(r"[\w'-]+", s.lower()):
        if len(w) < 3 or w in lx.function_words:
            continue
        out.add(w[:-2] if w.endswith("es") and len(w) > 4 else w[:-1] if w.endswith("s") and len(w) > 3 else w)
    return out


def lint(
    lx: Lex,
    inp: PromptInput,
    parts: PromptParts,
    plans: list[ShotPlan],
    segs: list[Seg],
    prompt: str,
    warn: Callable[[str, str], None],
    multi: bool,
    audio_on: bool,
    source: str,
) -> None:
    if parts.hype:
        warn("hype_words", f"removed hype/tag-soup words: {', '.join(parts.hype)}; describe motion and look instead")
    families = uniq(f for s in segs for f, _ in s.style)
    for a, b in lx.conflicts:
        if a in families and b in families:
            pa = next(p for s in segs for f, p in s.style if f == a)
            pb = next(p for s in segs for f, p in s.style if f == b)
            warn("style_conflict", f"conflicting style cues: {pa!r} ({a}) vs {pb!r} ({b}); keep one")
    if len(families) > lx.v.style.max_anchors:
        warn(
            "too_many_styles",
            f"{len(families)} style anchors ({', '.join(families)}); Kling follows at most "
            f"{lx.v.style.max_anchors} clear style directives better",
        )
    for plan in plans:
        stacking = [p for name, p in plan.seg.camera if next(m for m in lx.moves if m.name == name).stacks]
        if len(stacking) > 1:
            where = f"shot {plan.index}" if multi else "the shot"
            warn(
                "stacked_camera_moves",
                f"{where} stacks camera moves ({'; '.join(stacking)}); keep one primary move per shot",
            )
    n_dialogue = sum(len(s.dialogue) for s in segs)
    if n_dialogue and not audio_on:
        warn(
            "dialogue_without_audio",
            f"{n_dialogue} dialogue line(s) dropped because audio is off; turn generate_audio on to keep them",
        )
    cues = uniq(c for s in segs for _, c in s.audio)
    if cues and not audio_on:
        warn("audio_cues_without_audio", f"sound cues dropped because audio is off: {', '.join(cues)}")
    c4 = lx.lint.costly_4k
    if (
        inp.tier == c4.tier
        and len(plans) >= c4.min_shots
        and inp.duration >= c4.min_duration
        and n_dialogue
        and audio_on
    ):
        rate = inp.usd_per_second
        price = f"costs {usd(rate)}/s x {inp.duration} s = {usd(rate * inp.duration)}" if rate is not None else "is costly"
        warn(
            "costly_4k_call",
            f"a {inp.tier} call with {len(plans)} cuts, {inp.duration} s and dialogue {price}; validate it on standard first",
        )
    adher = {lx.adherence.get(f) for f in families} - {None}
    if len(adher) == 1:
        kind = adher.pop()
        lo, hi = lx.lint.cfg_scale[kind]  # type: ignore[index]
        if inp.cfg_scale is None or not lo <= inp.cfg_scale <= hi:
            why = "strict adherence for a stylised look" if kind == "strict" else "looser, natural motion"
            warn(
                "cfg_scale_suggestion",
                f"consider cfg_scale {lo}-{hi} ({why}); not applied, and Kling 3.0 may ignore it",
            )
    if parts.exclusions:
        words = _contentword_alternation(lx, prompt)
        clash = uniq(x for x in parts.exclusions if _contentword_alternation(lx, x) & words)
        if clash:
            warn("exclusion_conflict", f"excluded but also described: {', '.join(clash)}")
    if inp.has_tail_image and multi:
        warn("end_frame_with_shots", "an end frame cannot be combined with multi-shot; the end frame is not described")
    for prev, cur in itertools.pairwise(plans):
        fa = [n for k, n, _ in prev.seg.framing if k in ("size", "angle")]
        fb = [n for k, n, _ in cur.seg.framing if k in ("size", "angle")]
        if fa and fa == fb and [n for n, _ in prev.seg.camera] == [n for n, _ in cur.seg.camera]:
            warn(
                "adjacent_shots_same_framing",
                f"shots {prev.index} and {cur.index} share framing and angle; the model may merge them into one take",
            )
