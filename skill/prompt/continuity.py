"""Continuity across the shots of one call: shots share no context, so restate."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from skill.prompt.describe import uniq
from skill.prompt.grammar import find_entities
from skill.prompt.lexicon import Lex
from skill.prompt.state import Entity, Seg
from skill.prompt.text import norm_space

__all__ = [
    "ShotPlan",
    "definite",
    "entities_of",
    "lead_of",
    "pick",
    "restate",
    "speaker_label",
    "uniq_pairs",
]




@dataclass
class ShotPlan:
    seg: Seg
    index: int
    duration: int
    body: list[str]
    scene: list[str]
    lighting: list[str]
    atmosphere: list[str]
    style: list[str]
    inherited: set[str]
    audio: list[tuple[str, str]]
    dialogue: list[dict[str, str]]


def entities_of(lx: Lex, seg: Seg) -> list[Entity]:
    if seg.entities is None:
        seg.entities = find_entities(lx, [*seg.of_nps, *seg.prose])
    return seg.entities


def definite(lx: Lex, full: str) -> str:
    first, _, rest = full.partition(" ")
    if first.lower() in lx.indef:
        return f"the {rest}"
    if first.lower() in lx.numbers or first.isdigit():
        return f"the {full}"
    return full


def restate(lx: Lex, sentences: list[str], known: list[Entity]) -> list[str]:
    """Restate characters and props introduced earlier: shots share no context."""
    if not sentences or not known:
        return sentences
    out = list(sentences)
    first = out[0]
    word, _, rest = first.partition(" ")
    w = word.lower().strip(",.;:!?")
    if not rest and word[-1:] in ".!?":
        rest = word[-1]
    if w in ("she", "he", "they"):
        want_plural = w == "they"
        ent = _referent(known, plural=want_plural)
        if ent is not None:
            out[0] = f"{definite(lx, ent.full)}{'' if rest[:1] in '.!?' else ' '}{rest}".strip()
    text = " ".join(out)
    low = text.lower()
    for ent in known:
        if not ent.rich or ent.full.lower() in low or definite(lx, ent.full).lower() in low:
            continue
        rx = re.compile(rf"(?<![\w'])the\s+(?:[\w-]+\s+){{0,2}}?{re.escape(ent.head)}(?![\w'-])", re.IGNORECASE)
        for k, sentence in enumerate(out):
            m = rx.search(sentence)
            if m:
                repl = definite(lx, ent.full)
                if m.start() == 0 and sentence[:1].isupper():
                    repl = repl[0].upper() + repl[1:]
                out[k] = sentence[: m.start()] + repl + sentence[m.end():]
                low = " ".join(out).lower()
                break
    return out


def _referent(known: list[Entity], *, plural: bool, strict: bool = True) -> Entity | None:
    """What a pronoun refers to: the latest person; without one, the latest subject (not strict)."""
    people = [e for e in known if e.person and e.plural == plural]
    if people:
        return people[-1]
    if strict:
        return None
    subjects = [e for e in known if e.subject and e.plural == plural]
    return subjects[-1] if subjects else None


def speaker_label(lx: Lex, spk: str, known: list[Entity]) -> str:
    s = norm_space(spk).strip(" ,")
    low = s.lower()
    if low in lx.pronouns or low in ("i", "we"):
        ent = _referent(known, plural=low == "they", strict=False)
        return ent.label if ent else s.capitalize()
    toks = s.split()
    if toks and toks[0].lower() in lx.dets:
        toks = toks[1:]
    cut = next((n for n, t in enumerate(toks) if t.lower() in lx.attach), len(toks))
    toks = toks[:cut] or toks
    out = " ".join(toks)
    return out[:1].upper() + out[1:] if out else lx.v.dialogue.default_speaker


def lead_of(seg: Seg) -> list[str]:
    sizes = [p for k, _, p in seg.framing if k in ("size", "angle", "composition")]
    lenses = [p for k, _, p in seg.framing if k == "lens"]
    return [*sizes, *(p for _, p in seg.camera), *lenses]


def pick(own: list[str], glob: list[str], last: list[str], key: str, multi: bool, inherited: set[str]) -> list[str]:
    """A shot's own cues (with the call's global ones), else what it inherits; note inheritance."""
    if own:
        return uniq([*glob, *own])
    if glob:
        if multi:
            inherited.add(key)
        return list(glob)
    if last and multi:
        inherited.add(key)
        return list(last)
    return []


def uniq_pairs(items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for k, v in items:
        if v.lower() not in seen:
            seen.add(v.lower())
            out.append((k, v))
    return out
