"""The cue families (lighting, atmosphere, dialogue, camera, identity, exclusions, audio, style, framing)."""

from __future__ import annotations

import re
from collections.abc import Callable

from skill.prompt.lexicon import Lex
from skill.prompt.patterns import MARK, Hit, Which
from skill.prompt.state import Seg
from skill.prompt.text import (
    clean_phrase,
    cue_of,
    lift,
    splice,
    two_word_prefix,
    walk_left,
)

__all__ = [
    "extract_atmosphere",
    "extract_audio",
    "extract_identity",
    "extract_lighting",
    "extract_style",
]


_CLAUSE_START = re.compile(rf"[,.;:!?\n{MARK}][^,.;:!?\n{MARK}]*$")


_CLAUSE_END = re.compile(rf"\s*(?:[,.;:!?\n{MARK}]|$)")


def extract_lighting(lx: Lex, s: str, seg: Seg, low: str) -> str:
    if not lx.lighting.may(low):
        return s
    spans: list[tuple[int, int]] = []
    last = 0
    for m in lx.lighting.hits(s):
        if m.start() < last:
            continue
        kind = m.lastgroup or ""
        start, end = m.start(), m.end()
        if kind in ("hd", "nm", "sg"):
            nxt = lx.li_next.match(s, end)
            while nxt:  # "lamp light", "neon glow"
                end = nxt.end()
                nxt = lx.li_next.match(s, end)
            start, n = walk_left(s, start, lambda w: w.lower() in lx.li_mods, 3)
            if kind != "hd" and n == 0:
                # a bare head counts only as a clause of its own: ", single amber spotlight,"
                cs = _CLAUSE_START.search(s, 0, m.start())
                clause_start = cs.start() + 1 if cs else 0
                lead = s[clause_start: m.start()].split()
                if not _CLAUSE_END.match(s, end) or len(lead) > 3 or any(w.lower() in lx.function_words - {"a", "an"} for w in lead):
                    continue
                start = clause_start + (len(s[clause_start: m.start()]) - len(s[clause_start: m.start()].lstrip()))
            elif kind == "sg":
                continue
            src = lx.li_src.match(s, end)
            end = src.end() if src else end
        start = max(start, last)
        cue = cue_of(s[start:end])
        start, _ = walk_left(s, start, lambda w: w.lower() in ("a", "an", "the"), 1)
        start2, _ = walk_left(s, start, lambda w: w.lower() in lx.li_drop, 1)
        if start2 < start:
            start = start2
            pair = two_word_prefix(lx.li_drop, s[start:].split(" ", 1)[0].lower())
            start, _ = walk_left(s, start, pair, 1)
        start = max(start, last)
        if cue and cue.lower() not in (x.lower() for x in seg.lighting):
            seg.lighting.append(cue)
        spans.append((start, end))
        last = end
    return splice(s, spans)


def extract_atmosphere(lx: Lex, s: str, seg: Seg, low: str) -> str:
    found: list[tuple[int, int, str]] = []
    if lx.atmosphere.may(low):
        for m in lx.atmosphere.hits(s):
            start, _ = walk_left(s, m.start(), lambda w: w.lower() in lx.atmosphere_prefix, 2)
            found.append((start, m.end(), m.group(0) or ""))
    if lx.atmosphere_seg.may(low):
        for m in lx.atmosphere_seg.hits(s):
            if not any(a < m.end() and m.start() < b for a, b, _ in found):
                found.append((m.start(), m.end(), m.group("seg") or ""))
    if not found:
        return s
    found.sort()
    spans: list[tuple[int, int]] = []
    for a, b, cue in found:
        if spans and a < spans[-1][1]:
            continue
        spans.append((a, b))
        seg.atmosphere.append(cue_of(cue))
    return splice(s, spans)


# --- dialogue -------------------------------------------------------------------------------








# --- identity --------------------------------------------------------------------------------


def extract_identity(lx: Lex, s: str, seg: Seg, low: str) -> str:
    def on(m: Hit) -> None:
        for g in ("k", "s", "c", "a"):
            if m.group(g):
                obj = clean_phrase(m.group(g) or "")
                if g == "a":
                    obj = f"the same {obj}"
                seg.keep.append(obj)
                return
        if m.group("m"):
            seg.moving.append(clean_phrase(m.group("m") or ""))

    return lift(lx.identity, s, on, low)


# --- exclusions ------------------------------------------------------------------------------


_SPLIT_ITEMS = re.compile(r"\s*(?:,|\bor\b|\bnor\b|\band\b|&|/)\s*", re.IGNORECASE)




def extract_audio(lx: Lex, s: str, seg: Seg, low: str) -> str:
    if not lx.audio.may(low):
        return s
    spans: list[tuple[int, int]] = []
    last = 0
    fw = lx.function_words

    def content(w: str) -> bool:
        return w.lower() not in fw

    for m in lx.audio.hits(s):
        if m.start() < last:
            continue
        kind = m.lastgroup or ""
        start, end = m.start(), m.end()
        if kind == "vo":
            start, _ = walk_left(s, start, lambda w: w.lower() in lx.au_tones or w.lower() == "and", 5, commas=True)
            lang = lx.au_lang.match(s, end)
            end = lang.end() if lang else end
        elif kind == "mu":
            start, n = walk_left(s, start, lambda w: bool(lx.au_music_mod.fullmatch(w)), 3)
            if n == 0 and lx.au_need_mod.fullmatch(m.group(0) or ""):
                continue
            nxt = lx.au_music_next.match(s.lower(), end)
            while nxt:  # "soft piano music"
                end = nxt.end()
                nxt = lx.au_music_next.match(s.lower(), end)
            post = lx.au_music_post.match(s, end) if n == 0 else None
            end = post.end() if post else end  # "music soft"
        elif kind == "of":
            tail = lx.au_of_tail.match(s, end)
            if not tail:
                continue
            end = tail.end()
            start, _ = walk_left(s, start, content, 2)
            if (m.group(0) or "").lower() in lx.au_of_bare:
                start = tail.start() + tail.group(0).lower().index("of") + 3
        elif kind in ("amb", "fx"):
            start, n = walk_left(s, start, content, 2)
            if kind == "fx" and n == 0 and not lx.au_effect_free.fullmatch(m.group(0) or ""):
                continue
            tail = lx.au_of_tail.match(s, end)  # "ambient sound of water": what it is the sound of
            end = tail.end() if tail else end
        start = max(start, last)
        cue = s[start:end]
        # an article, then a joining word ("with", "and", "plus"), go with the cue
        start, _ = walk_left(s, start, lambda w: w.lower() in ("a", "an", "some", "the"), 1)
        start, _ = walk_left(s, start, lambda w: w.lower() in lx.au_drop, 1)
        start = max(start, last)
        if kind == "dl":
            seg.wants_dialogue = True
        else:
            name = {"vo": "voiceover", "mu": "music", "of": "effects", "amb": "ambience", "fx": "effects"}[kind]
            text = cue_of(cue)
            if text and text.lower() not in (c.lower() for _, c in seg.audio):
                seg.audio.append((name, text))
        spans.append((start, end))
        last = end
    return splice(s, spans)


# --- style -----------------------------------------------------------------------------------


def extract_style(lx: Lex, s: str, seg: Seg, low: str) -> str:
    def on_with(which: Which) -> Callable[[Hit], bool | None]:
        def on(m: Hit) -> bool | None:
            idx = which(m.group("st") or "")
            if idx < 0:  # pragma: no cover - a match always belongs to a family
                return False
            phrase = re.sub(r"^(?:in\s+)?(?:an?\s+)?", "", clean_phrase(m.group(0) or ""), flags=re.IGNORECASE)
            seg.style.append((lx.families[idx].name, cue_of(phrase)))
            return None

        return on

    s = lift(lx.style, s, on_with(lx.style_which), low)
    if lx.style_seg is not None:
        s = lift(lx.style_seg, s, on_with(lx.style_seg_which), low)
    return s


# --- framing ---------------------------------------------------------------------------------


