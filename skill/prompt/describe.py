"""A whole description: preamble and shots, and the public parts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from skill.prompt.instructions import strip_instructions
from skill.prompt.lexicon import Lex, get_lex
from skill.prompt.models import Description, PromptParts, ShotDraft
from skill.prompt.segment import parse_segment
from skill.prompt.shots import Split, split_text
from skill.prompt.state import Seg
from skill.prompt.text import normalise_input, scrub
from skill.request import Shot

__all__ = ["describe", "parse_description", "parts_of", "uniq"]




@dataclass
class _Desc:
    preamble: Seg | None
    shots: list[Seg]
    source: Literal["single", "text", "field"]
    text_had_shots: bool = False


def describe(
    lx: Lex, text: str, shots: Sequence[Shot] | None, routing_spans: Sequence[tuple[int, int]] = ()
) -> _Desc:
    d = _describe(lx, *strip_instructions(lx, scrub(text), routing_spans), shots)
    return d


def _describe(lx: Lex, text: str, removed: list[str], shots: Sequence[Shot] | None) -> _Desc:
    d = _describe_flat(lx, normalise_input(text), shots)
    first = d.preamble or (d.shots[0] if d.shots else None)
    if first is not None:
        first.meta[:0] = removed
    return d


def _describe_flat(lx: Lex, flat: str, shots: Sequence[Shot] | None) -> _Desc:
    if shots:
        sp = split_text(lx, flat) if flat else Split("", [], False)
        pre_text = sp.preamble if sp.structured else flat
        pre = parse_segment(lx, pre_text, lead_in=True) if pre_text.strip() else None
        segs = []
        for sh in shots:
            seg = parse_segment(lx, normalise_input(scrub(sh.prompt)), lead_in=False)
            seg.duration = sh.duration
            segs.append(seg)
        return _Desc(pre, segs, "field", text_had_shots=sp.structured)
    sp = split_text(lx, flat)
    if not sp.structured:
        return _Desc(None, [parse_segment(lx, flat, lead_in=True)], "single")
    pre = parse_segment(lx, sp.preamble, lead_in=True) if sp.preamble.strip() else None
    segs = []
    for k, (body, dur) in enumerate(sp.shots):
        seg = parse_segment(lx, body, lead_in=k == 0 and pre is None)
        seg.duration = dur
        segs.append(seg)
    return _Desc(pre, segs, "text")


def uniq(items: Iterable[str]) -> list[str]:
    """Items in order, without case-insensitive duplicates or empties."""
    if isinstance(items, list) and len(items) < 2:
        return [x for x in items if x]
    seen: set[str] = set()
    out: list[str] = []
    for it in items:
        key = it.lower()
        if it and key not in seen:
            seen.add(key)
            out.append(it)
    return out


def parts_of(segs: Sequence[Seg]) -> PromptParts:
    subject = next((s.subject for s in segs if s.subject), "")
    action = next((s.action for s in segs if s.subject == subject and s.action), "") if subject else ""
    if not action:
        action = next((s.action for s in segs if s.action), "")
    return PromptParts(
        camera=uniq(p for s in segs for _, p in s.camera),
        framing=uniq(p for s in segs for _, _, p in s.framing),
        subject=subject,
        action=action,
        scene=", ".join(uniq(x for s in segs for x in s.scene)),
        lighting=uniq(x for s in segs for x in s.lighting),
        atmosphere=uniq(x for s in segs for x in s.atmosphere),
        style=uniq(p for s in segs for _, p in s.style),
        audio=uniq(c for s in segs for _, c in s.audio),
        dialogue=[dict(d) for s in segs for d in s.dialogue],
        exclusions=uniq(x for s in segs for x in s.exclusions),
        identity=uniq(x for s in segs for x in s.keep),
        moving=next((m for s in segs for m in s.moving), ""),
        meta=uniq(x for s in segs for x in s.meta),
        hype=uniq(x for s in segs for x in s.hype),
    )


def parse_description(
    text: str, shots: list[Shot] | None = None, routing_spans: Sequence[tuple[int, int]] = ()
) -> Description:
    """Split a caller's description into parts, and into shots when it has several. Pure.

    ``routing_spans``: the router's instruction spans in ``text`` (removed first).
    """
    lx = get_lex()
    d = describe(lx, text, shots, routing_spans)
    all_segs = ([d.preamble] if d.preamble else []) + d.shots
    multi = len(d.shots) > 1
    drafts = (
        [
            ShotDraft(index=k + 1, text=seg.raw, duration=seg.duration, parts=parts_of([seg]))
            for k, seg in enumerate(d.shots)
        ]
        if multi
        else []
    )
    return Description(parts=parts_of(all_segs), shots=drafts, shot_source=d.source if multi else "single")
