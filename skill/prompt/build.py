"""Building the prompt of one call, in named steps, memoised.

``build_prompt`` reads the story (the caller's text minus the router's spans, edited minimally),
takes the beats this call tells, restates what earlier beats established, picks the i2v anchor,
renders the templates within Kling's limits, and lints. Refusals (:class:`InputError`):
``prompt_too_long`` (field ``text``), ``shot_too_long`` (field ``shots``), ``invalid_input``
(shot count, durations that do not add up), ``nothing_to_show`` (only routing words).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from skill.catalog import Limits, load_catalog
from skill.errors import InputError
from skill.prompt.anchor import anchor_of
from skill.prompt.continuity import Restated, continuation, restate_beats
from skill.prompt.dialogue import Line
from skill.prompt.grammar import split_subject
from skill.prompt.lexicon import Lex, get_lex
from skill.prompt.lint import lint, uniq
from skill.prompt.models import BuiltPrompt, LintWarning, PromptInput, PromptParts, ShotOut
from skill.prompt.render import render
from skill.prompt.story import Beat, Story, read_story
from skill.request import Shot, fill_durations

__all__ = ["MAX_INPUT_CHARS", "build_prompt", "story_of"]

# Text longer than this is refused before parsing (the rendered prompt could never fit anyway).
MAX_INPUT_CHARS = 10_000
_SOUND_ORDER = {"voiceover": 0, "ambience": 1, "effects": 2, "brief": 2, "music": 3}

Warn = Callable[[str, str], None]


def build_prompt(inp: PromptInput, *, template_dir: Path | None = None) -> BuiltPrompt:
    """Write the prompt for one call. Pure and deterministic.

    Raises :class:`InputError` (``prompt_too_long``, ``shot_too_long``, ``invalid_input``,
    ``nothing_to_show``) when the request cannot be written within Kling's limits, and
    :class:`ConfigError` (``bad_template``) when a template is broken or hostile.

    Results are memoised (the same input gives the same object back): treat them as read-only.
    """
    tdir = _resolved(str(template_dir)) if template_dir is not None else None
    shots = tuple((s.prompt, s.duration) for s in inp.shots) if inp.shots is not None else None
    key = (inp.text, shots, inp.mode, inp.tier, inp.duration, inp.generate_audio, inp.negative_prompt,
           inp.has_tail_image, inp.cfg_scale, inp.usd_per_second, inp.routing_spans, inp.beats,
           inp.continuation, inp.as_written, tdir)
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


@functools.lru_cache(maxsize=512)
def _story_cached(
    text: str, shots: tuple[tuple[str, int | None], ...] | None, spans: tuple[tuple[int, int], ...],
    audio_on: bool, as_written: bool, film: bool,
) -> Story:
    field = [Shot(prompt=p, duration=d) for p, d in shots] if shots else None
    return read_story(get_lex(), text, field, spans, audio_on=audio_on, as_written=as_written, film=film)


def story_of(
    text: str, shots: Sequence[Shot] | None, spans: Sequence[tuple[int, int]] = (), *,
    audio_on: bool = False, as_written: bool = False, film: bool = False,
) -> Story:
    """The story a request tells (memoised; treat it as read-only). The planner sizes calls on it
    (``film``: longer than one call, so beats are cut eagerly; each call's build reads the same)."""
    key = tuple((s.prompt, s.duration) for s in shots) if shots else None
    return _story_cached(text, key, tuple(spans), audio_on, as_written, film)


# --- the steps ------------------------------------------------------------------------------


def _check_input(inp: PromptInput, limits: Limits) -> None:
    if len(inp.text) > MAX_INPUT_CHARS:
        raise InputError(
            f"text is {len(inp.text)} characters; a Kling prompt holds at most {limits.max_prompt_chars}",
            code="prompt_too_long", field="text", details={"chars": len(inp.text), "limit": limits.max_prompt_chars},
        )
    for k, sh in enumerate(inp.shots or (), start=1):
        if len(sh.prompt) > MAX_INPUT_CHARS:
            raise InputError(
                f"shot {k} is {len(sh.prompt)} characters; a shot holds at most {limits.max_shot_chars}",
                code="shot_too_long", field="shots",
                details={"shot": k, "chars": len(sh.prompt), "limit": limits.max_shot_chars},
            )
    if inp.shots and len(inp.shots) > limits.max_shots and inp.beats is None:
        raise InputError(
            f"{len(inp.shots)} shots given; one call takes at most {limits.max_shots}",
            code="invalid_input", field="shots", details={"shots": len(inp.shots), "limit": limits.max_shots},
        )


def _beats_of_call(lx: Lex, story: Story, inp: PromptInput, warn: Warn) -> tuple[list[Beat], list[Restated]]:
    """The beats this call tells, restated; a call after the story's end continues its action."""
    n = len(story.beats)
    start, stop = inp.beats if inp.beats is not None else (0, n)
    start, stop = max(0, min(start, n)), max(0, min(stop, n))
    if start >= stop and n:
        warn(
            "story_shorter_than_film",
            f"the text tells {n} beat(s), fewer than the film's calls: this call continues the action of the "
            "last one instead of telling the story again; describe one beat per call to direct each",
        )
        items = continuation(lx, story, max(1, inp.continuation))
        beat = Beat(items=list(items), raw=story.beats[-1].raw)
        return [beat], restate_beats(lx, Story(beats=[*story.beats, beat], subject_nps=story.subject_nps), n, n + 1)
    return story.beats[start:stop], restate_beats(lx, story, start, stop)


def _merge_surplus(story: Story, beats: list[Beat], restated: list[Restated], limits: Limits, warn: Warn) -> None:
    """More shots than one call holds: the shots of a text merge into the last one (the field's are refused)."""
    extra = len(restated) - limits.max_shots
    if extra <= 0:
        return
    if story.source == "field":
        raise InputError(
            f"{len(restated)} shots given; one call takes at most {limits.max_shots}",
            code="invalid_input", field="shots", details={"shots": len(restated), "limit": limits.max_shots},
        )
    last = restated[limits.max_shots - 1]
    for r in restated[limits.max_shots:]:
        last.items += r.items
    keep_beat = beats[limits.max_shots - 1]
    durs = [b.duration for b in beats[limits.max_shots - 1:]]
    keep_beat_d = sum(d for d in durs if d) if all(durs) else None
    beats[limits.max_shots - 1:] = [Beat(items=keep_beat.items, duration=keep_beat_d, raw=keep_beat.raw,
                                         moves=keep_beat.moves, frames=keep_beat.frames)]
    del restated[limits.max_shots:]
    warn("shots_merged", f"the text describes {limits.max_shots + extra} shots; one call takes at most "
         f"{limits.max_shots}, so the last {extra + 1} are told as shot {limits.max_shots}")


def _durations(inp: PromptInput, story: Story, beats: list[Beat]) -> list[int]:
    if len(beats) > 1:
        field = "shots" if story.source == "field" else "text"
        return fill_durations(inp.duration, [b.duration for b in beats], field=field, span="call")
    given = beats[0].duration if beats else None
    if given is not None and story.source == "field" and given != inp.duration and inp.beats is None:
        raise InputError(
            f"the shot lasts {given} s but the call lasts {inp.duration} s",
            code="invalid_input", field="shots",
            details={"shot_durations": [given], "sum": given, "duration": inp.duration},
        )
    return [inp.duration]


def _audio(story: Story, inp: PromptInput, beat: Beat, multi: bool, own_only: bool) -> dict[str, Any]:
    if multi:
        cues = [c for c in story.sounds if c[0] not in ("effects",)] if not own_only else []
        cues += [c for c in beat.sounds if c[0] == "effects" or own_only]
    else:
        cues = list(story.sounds)
    cues = sorted(dict.fromkeys(cues), key=lambda kc: _SOUND_ORDER.get(kc[0], 9))
    kinds = {k for k, _ in cues}
    said = any(b.lines for b in story.beats)
    speech = said or "voiceover" in kinds or "dialogue" in kinds or story.speech
    return {
        "on": inp.generate_audio,
        "cues": uniq(c for k, c in cues if k != "dialogue"),
        "no_music": "music" in story.no_audio and "music" not in kinds,
        "no_voiceover": "voiceover" in story.no_audio,
        "no_dialogue": inp.generate_audio and ("dialogue" in story.no_audio or not speech),
        "wants_dialogue": "dialogue" in kinds and not said,
    }


def _body(r: Restated) -> list[dict[str, str]]:
    out = []
    for it in r.items:
        if isinstance(it, Line):
            out.append({"kind": "line", "text": "", "speaker": it.label, "tone": it.tone, "line": it.line, "link": it.link})
        elif it.strip():
            out.append({"kind": "text", "text": it.rstrip(";"), "speaker": "", "tone": "", "line": "", "link": ""})
    return out


def _anchor(lx: Lex, story: Story, restated: list[Restated], inp: PromptInput, tdir: str | None) -> str:
    if inp.mode != "i2v":
        return ""
    text = " ".join(str(x) for r in restated for x in r.items if isinstance(x, str))
    # "Morph from [image] into the final frame [image]": the framing words went, the change stays
    named = inp.has_tail_image and any(lx.transformation.search(m) is not None for m in story.meta)
    # "Keep everything else still" names nothing the image fixes: the anchor by subject still goes in
    kept = any(re.findall(r"[a-z]+", k.lower()) and not all(
        w in lx.function_words or w in lx.generic_kept for w in re.findall(r"[a-z]+", k.lower())) for k in story.cues.keep)
    got = anchor_of(lx, text, caller_kept=kept, changes=named)
    if got is None:
        return ""
    ctx = {"anchor": {"kind": got.kind, "whose": got.whose, "wardrobe": got.wardrobe, "buildings": got.buildings,
                      "group": got.group}}
    return render("anchor.j2", ctx, tdir)


def _render_all(
    story: Story, beats: list[Beat], restated: list[Restated], durations: list[int], inp: PromptInput,
    anchor: str, tdir: str | None, level: int,
) -> tuple[str, list[ShotOut]]:
    multi = len(restated) > 1
    base = {"mode": inp.mode, "tier": inp.tier, "anchor": anchor}
    if not multi:
        shot = {"index": 1, "duration": durations[0], "multi": False, "body": _body(restated[0]),
                "camera": [m.phrase for m in beats[0].moves], "framing": [f.phrase for f in beats[0].frames]}
        ctx = {**base, "shot": shot, "audio": _audio(story, inp, beats[0], False, False),
               "identity": {"tail": inp.has_tail_image}}
        return render("i2v.j2" if inp.mode == "i2v" else "t2v.j2", ctx, tdir), []
    outs = []
    for k, (beat, r) in enumerate(zip(beats, restated, strict=True)):
        shot = {"index": k + 1, "duration": durations[k], "multi": True, "body": _body(r),
                "camera": [m.phrase for m in beat.moves], "framing": [f.phrase for f in beat.frames]}
        ctx = {**base, "shot": shot, "audio": _audio(story, inp, beat, True, level >= 3),
               "anchor": anchor if level < 2 or k == 0 else ""}
        outs.append(ShotOut(index=k + 1, prompt=render("multi_shot_item.j2", ctx, tdir), duration=durations[k]))
    joined = render("multi_shot.j2", {"shots": [o.model_dump() for o in outs], "mode": inp.mode, "tier": inp.tier}, tdir)
    return joined, outs


def _fitted(
    lx: Lex, story: Story, beats: list[Beat], restated: list[Restated], durations: list[int], inp: PromptInput,
    anchor: str, tdir: str | None, limits: Limits, warn: Warn,
) -> tuple[str, list[ShotOut]]:
    """Render; when too long, drop restated style, then restated places, then shared sound."""
    level = 0
    prompt, outs = _render_all(story, beats, restated, durations, inp, anchor, tdir, level)
    while len(outs) > 1 and level < 3 and (
        len(prompt) > limits.max_prompt_chars or any(len(o.prompt) > limits.max_shot_chars for o in outs)
    ):
        level += 1
        restated = _trimmed(restated, level)
        prompt, outs = _render_all(story, beats, restated, durations, inp, anchor, tdir, level)
    if level:
        warn("anchors_trimmed", "restated style, places or sound were shortened to fit Kling's length limits")
    return prompt, outs


def _trimmed(restated: list[Restated], level: int) -> list[Restated]:
    out = []
    for k, r in enumerate(restated):
        items = list(r.items)
        if level >= 1 and k > 0 and r.added_style:
            items = items[: len(items) - len(r.added_style)]
        if level >= 2 and r.added_place:
            items = [x.replace(" " + r.added_place, "") if isinstance(x, str) else x for x in items]
        out.append(Restated(items, "" if level >= 2 else r.added_place, () if level >= 1 and k > 0 else r.added_style))
    return out


def _check_output(prompt: str, outs: list[ShotOut], limits: Limits) -> None:
    for o in outs:
        if len(o.prompt) > limits.max_shot_chars:
            raise InputError(
                f"shot {o.index} is {len(o.prompt)} characters; a shot holds at most {limits.max_shot_chars}",
                code="shot_too_long", field="shots",
                details={"shot": o.index, "chars": len(o.prompt), "limit": limits.max_shot_chars},
            )
    if len(prompt) > limits.max_prompt_chars:
        raise InputError(
            f"the prompt is {len(prompt)} characters; Kling takes at most {limits.max_prompt_chars}",
            code="prompt_too_long", field="text", details={"chars": len(prompt), "limit": limits.max_prompt_chars},
        )
    if not prompt.strip():
        raise InputError("the prompt is empty; describe what to show", code="invalid_input", field="text")


def _negative(inp: PromptInput, story: Story) -> str | None:
    import re

    caller = []
    for item in re.split(r"[,;\n]+", inp.negative_prompt or ""):
        item = re.sub(r"^\s*(?:no|without|avoid)\s+", "", " ".join(item.split()), flags=re.IGNORECASE).strip(" .")
        if item:
            caller.append(item)
    negatives = uniq([*caller, *story.exclusions])
    return ", ".join(negatives) if negatives else None


def _parts(lx: Lex, story: Story, beats: list[Beat], restated: list[Restated]) -> PromptParts:
    first = next((x for b in beats for x in b.items if isinstance(x, str)), "")
    subj, rest = split_subject(lx, first.rstrip(".!?").split(", ")[-1].split()) if first else ([], [])
    c = story.cues
    return PromptParts(
        camera=uniq(m.phrase for b in beats for m in b.moves),
        framing=uniq(f.phrase for b in beats for f in b.frames),
        subject=" ".join(subj),
        action=" ".join(rest),
        scene=next((b.place for b in story.beats if b.place), ""),
        lighting=uniq(c.lighting),
        atmosphere=uniq(c.atmosphere),
        style=uniq(p for _f, p in c.style),
        audio=uniq(cue for _k, cue in story.sounds),
        dialogue=[
            {"speaker": ln.label or ln.speaker, "tone": ln.tone, "line": ln.line}
            for r in restated for ln in r.items if isinstance(ln, Line)
        ],
        exclusions=list(story.exclusions),
        identity=uniq(c.keep),
        moving=next(iter(c.moving), ""),
        meta=uniq(story.meta),
        hype=uniq(story.hype),
    )


def _build(inp: PromptInput, tdir: str | None) -> BuiltPrompt:
    """:func:`build_prompt` without the memo (``tdir``: resolved template folder or None)."""
    limits = load_catalog().limits
    lx = get_lex()
    _check_input(inp, limits)
    story = story_of(inp.text, inp.shots or None, inp.routing_spans, audio_on=inp.generate_audio,
                     as_written=inp.as_written, film=inp.beats is not None)
    warnings: list[LintWarning] = []

    def warn(code: str, message: str) -> None:
        if all(w.code != code for w in warnings):
            warnings.append(LintWarning(code=code, message=message))

    if story.text_had_shots:
        warn("shots_field_overrides_text", "the shots field is used; the shots written in the text are ignored")
    beats, restated = _beats_of_call(lx, story, inp, warn)
    beats, restated = list(beats), list(restated)
    _merge_surplus(story, beats, restated, limits, warn)
    if not any(r.items for r in restated) and inp.mode != "i2v":
        raise InputError(
            "nothing is left to show once routing words are removed; describe the subject and action",
            code="nothing_to_show", field="text",
        )
    if not restated:
        restated, beats = [Restated([])], [Beat(items=[])]
    durations = _durations(inp, story, beats)
    anchor = _anchor(lx, story, restated, inp, tdir)
    prompt, outs = _fitted(lx, story, beats, restated, durations, inp, anchor, tdir, limits, warn)
    _check_output(prompt, outs, limits)
    parts = _parts(lx, story, beats, restated)
    lint(lx, inp, story, beats, parts, prompt, warn)
    return BuiltPrompt(
        prompt=prompt, negative_prompt=_negative(inp, story), parts=parts, shots=outs,
        anchor=anchor or None, warnings=warnings,
    )
