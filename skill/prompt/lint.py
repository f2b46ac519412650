"""Warnings about the prompt, with stable codes.

``hype_words``, ``style_conflict``, ``too_many_styles``, ``stacked_camera_moves``,
``dialogue_without_audio``, ``audio_cues_without_audio``, ``costly_4k_call``,
``cfg_scale_suggestion`` (never applied), ``exclusion_conflict``, ``end_frame_with_shots``,
``adjacent_shots_same_framing``. The builder adds ``shots_field_overrides_text``, ``shots_merged``,
``anchors_trimmed`` and ``story_shorter_than_film``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable

from skill.money import usd
from skill.prompt.lexicon import Lex
from skill.prompt.models import PromptInput, PromptParts
from skill.prompt.story import Beat, Story

__all__ = ["lint", "uniq"]

Warn = Callable[[str, str], None]


def uniq(items: Iterable[str]) -> list[str]:
    """Items in order, without case-insensitive duplicates or empties."""
    seen: set[str] = set()
    out: list[str] = []
    for it in items:
        key = it.lower()
        if it and key not in seen:
            seen.add(key)
            out.append(it)
    return out


def _stems(lx: Lex, s: str) -> set[str]:
    out = set()
    for w in re.findall(r"[\w'-]+", s.lower()):
        if len(w) < 3 or w in lx.function_words:
            continue
        out.add(w[:-2] if w.endswith("es") and len(w) > 4 else w[:-1] if w.endswith("s") and len(w) > 3 else w)
    return out


def _styles(lx: Lex, story: Story, warn: Warn, inp: PromptInput) -> None:
    families = uniq(f for f, _ in story.cues.style)
    for a, b in lx.conflicts:
        if a in families and b in families:
            pa = next(p for f, p in story.cues.style if f == a)
            pb = next(p for f, p in story.cues.style if f == b)
            warn("style_conflict", f"conflicting style cues: {pa!r} ({a}) vs {pb!r} ({b}); keep one")
    if len(families) > lx.v.style.max_anchors:
        warn(
            "too_many_styles",
            f"{len(families)} style anchors ({', '.join(families)}); Kling follows at most "
            f"{lx.v.style.max_anchors} clear style directives better",
        )
    adher = {lx.adherence.get(f) for f in families} - {None}
    if len(adher) == 1:
        kind = adher.pop()
        lo, hi = lx.lint.cfg_scale[kind]  # type: ignore[index]
        if inp.cfg_scale is None or not lo <= inp.cfg_scale <= hi:
            why = "strict adherence for a stylised look" if kind == "strict" else "looser, natural motion"
            warn("cfg_scale_suggestion", f"consider cfg_scale {lo}-{hi} ({why}); not applied, and Kling 3.0 may ignore it")


def _camera(story: Story, beats: list[Beat], warn: Warn, multi: bool) -> None:
    if story.dropped:
        warn(
            "stacked_camera_moves",
            f"kept the first camera move and removed the stacked one(s): {'; '.join(story.dropped)}; "
            "one primary move per shot",
        )
        return
    for k, beat in enumerate(beats, 1):
        stacking = uniq(mv.phrase for mv in beat.moves if mv.stacks)
        if len(stacking) > 1:
            where = f"shot {k}" if multi else "the shot"
            warn("stacked_camera_moves", f"{where} stacks camera moves ({'; '.join(stacking)}); keep one primary move per shot")
    for (i, a), (j, b) in itertools.pairwise(enumerate(beats, 1)):
        fa = [f.name for f in a.frames if f.kind in ("size", "angle")]
        fb = [f.name for f in b.frames if f.kind in ("size", "angle")]
        if fa and fa == fb and [m.name for m in a.moves] == [m.name for m in b.moves]:
            warn("adjacent_shots_same_framing", f"shots {i} and {j} share framing and angle; the model may merge them into one take")


def _sound(story: Story, inp: PromptInput, warn: Warn) -> None:
    if story.quiet_lines:
        warn(
            "dialogue_without_audio",
            f"{story.quiet_lines} dialogue line(s) not voiced because audio is off (the action that carried "
            "each stays); turn generate_audio on to hear them",
        )
    cues = uniq(c for _k, c in story.sounds)
    if cues and not inp.generate_audio:
        warn("audio_cues_without_audio", f"audio is off, so these sounds will not be heard: {', '.join(cues)}")


def lint(lx: Lex, inp: PromptInput, story: Story, beats: list[Beat], parts: PromptParts, prompt: str, warn: Warn) -> None:
    multi = len(beats) > 1
    if parts.hype:
        warn("hype_words", f"removed hype/tag-soup words: {', '.join(parts.hype)}; describe motion and look instead")
    _styles(lx, story, warn, inp)
    _camera(story, beats, warn, multi)
    _sound(story, inp, warn)
    n_lines = sum(len(b.lines) for b in beats)
    c4 = lx.lint.costly_4k
    if inp.tier == c4.tier and len(beats) >= c4.min_shots and inp.duration >= c4.min_duration and n_lines and inp.generate_audio:
        rate = inp.usd_per_second
        price = f"costs {usd(rate)}/s x {inp.duration} s = {usd(rate * inp.duration)}" if rate is not None else "is costly"
        warn("costly_4k_call", f"a {inp.tier} call with {len(beats)} cuts, {inp.duration} s and dialogue {price}; validate it on standard first")
    if parts.exclusions:
        words = _stems(lx, prompt)
        clash = uniq(x for x in parts.exclusions if _stems(lx, x) & words)
        if clash:
            warn("exclusion_conflict", f"excluded but also described: {', '.join(clash)}")
    if inp.has_tail_image and multi:
        warn("end_frame_with_shots", "an end frame cannot be combined with multi-shot; the end frame is not described")
