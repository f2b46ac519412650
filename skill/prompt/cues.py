"""The cue families (lighting, atmosphere, dialogue, camera, identity, exclusions, audio, style, framing)."""

from __future__ import annotations

import re
from collections.abc import Callable

from skill.prompt.grammar import is_verb, looks_clause, looks_like_place, subject_of, word_of
from skill.prompt.lexicon import Lex, get_lex
from skill.prompt.patterns import MARK, MARK_SPACED, Hit, Rx, Which
from skill.prompt.state import Seg
from skill.prompt.text import (
    clean_phrase,
    cue_of,
    lift,
    norm_space,
    normalise_input,
    splice,
    two_word_prefix,
    walk_left,
)

__all__ = [
    "detect_camera_moves",
    "extract_atmosphere",
    "extract_audio",
    "extract_camera",
    "extract_dialogue",
    "extract_exclusions",
    "extract_framing",
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


def extract_dialogue(lx: Lex, s: str, seg: Seg) -> str:
    if '"' not in s:
        return s

    def tone_of(*parts: str | None) -> str:
        seen: list[str] = []
        for p in parts:
            p = norm_space(p or "").strip(" ,")
            if p and p.lower() not in (x.lower() for x in seen):
                seen.append(p)
        return ", ".join(seen)

    def on(m: re.Match[str]) -> str:
        g = m.group
        if g("tline") is not None:
            spk, tone = g("tspk"), tone_of(g("ttone"))
        elif g("cline") is not None:
            spk, tone = g("cspk"), tone_of(g("ctone"))
        elif g("sline") is not None:
            verb = g("sverb").lower()
            before = s[: m.start()]
            prev_words = before.rstrip().rsplit(" ", 2)[-2:]
            prev = prev_words[-1].lower().strip(",") if prev_words else ""
            if prev in lx.not_speech or prev in ("that", "which") or verb in lx.not_speech:
                return m.group(0)
            clause = re.split(rf"[.;!?\n\"{MARK}]", before)[-1]
            if "," in clause and clause.rsplit(",", 1)[-1].strip():
                clause = clause.rsplit(",", 1)[-1]
            spk = subject_of(lx, clause) or lx.v.dialogue.default_speaker
            lang = g("slang")
            tone = tone_of(g("stone"), g("sadv1"), g("sadv2"), g("sadv3"), lx.speech_tone.get(verb),
                           f"in {lang}" if lang else None)
        else:
            verb = g("rverb").lower()
            lang = g("rlang")
            spk = g("rspk")
            tone = tone_of(g("radv1"), g("radv2"), lx.speech_tone.get(verb), f"in {lang}" if lang else None)
        line = g("tline") or g("cline") or g("sline") or g("rline") or ""
        seg.dialogue.append({"speaker": norm_space(spk).strip("\"' "), "tone": tone, "line": norm_space(line)})
        nxt = s[m.end(): m.end() + 3].lstrip()
        ends = line.rstrip()[-1:] in ".!?" and (not nxt or nxt[:1].isupper())
        return MARK_SPACED + (". " if ends else "")

    return lx.dialogue.sub(on, s)


def extract_camera(lx: Lex, s: str, seg: Seg, low: str) -> str:
    found: list[tuple[int, str, str]] = []

    def phrase_of(m: Hit, form: str, pace_word: str | None) -> tuple[str, str] | None:
        group = {"noun": "nn", "verb": "vv", "imp": "ii"}[form]
        idx = lx.move_which[form](m.group(group) or "")
        if idx < 0:  # pragma: no cover - the pattern always names a move
            return None
        mv = lx.moves[idx]
        sfx = {"noun": "a", "verb": "b", "imp": "c"}[form]
        pace = lx.pace_of(pace_word or m.group(f"q{sfx}"))
        direction = (m.group(f"dir{sfx}") or "").lower()
        tprep = m.group(f"tp{sfx}")
        target = clean_phrase(m.group(f"tg{sfx}") or "")
        reveal = m.group(f"rv{sfx}")
        rtarget = clean_phrase(m.group(f"rt{sfx}") or "")
        if form == "verb":
            core = mv.say
            last = word_of((m.group("vv") or "").split()[-1])
            if not direction and last in lx.particles:
                direction = last
            if direction and not core.endswith(direction):
                core = f"{core} {direction}"
            if target:
                prep = (tprep or mv.object_prep or "on").lower()
                core = f"{core} {prep} {target}"
        else:
            core = clean_phrase(m.group("nn" if form == "noun" else "ii") or "")
            core = core[0].lower() + core[1:] if core[:1].isupper() and not core[:3].isupper() else core
            if direction:
                core = f"{core} {direction}"
            if target:
                core = f"{core} {norm_space(tprep or '')} {target}"
        if reveal and rtarget:
            core = f"{core}, {norm_space(reveal).lower()} {rtarget}"
        phrase = f"{pace} {core}" if pace and not core.lower().startswith(pace) else core
        return mv.name, norm_space(phrase)

    def run(rx: Rx, form: str, s: str, taken: list[tuple[int, int]]) -> None:
        if not rx.may(low):
            return
        for m in rx.hits(s):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            start = m.start()
            pace_word = m.group("pb") if form == "verb" else m.group("pc") if form == "imp" else None
            if form == "verb":
                start, _ = walk_left(s, start, lambda w: w.lower() in lx.cam_subject_words, 3)
                start = max([start, *(b for a, b in taken if b <= m.start())])
            if form == "noun":
                start, n = walk_left(s, start, lambda w: bool(lx.pace_word.fullmatch(w)), 3, commas=True)
                if n:
                    words = [w for w in re.split(r"[\s,]+", s[start: m.start()]) if w]
                    pace_word = next((w for w in words if w.lower() not in ("very", "and")), None)
                start, _ = walk_left(s, start, lambda w: w.lower() in ("a", "an", "the"), 1)
                start = max([start, *(b for a, b in taken if b <= m.start())])
            got = phrase_of(m, form, pace_word)
            if got:
                found.append((start, *got))
                taken.append((start, m.end()))

    taken: list[tuple[int, int]] = []
    for form, rx in lx.cam_forms:
        run(rx, form, s, taken)
    s = splice(s, sorted(taken))
    if found and lx.cam_again is not None:
        again: list[tuple[int, int]] = []
        base = len(found)
        run(lx.cam_again, "verb", s, again)
        for k in range(base, len(found)):
            found[k] = (10**9 + found[k][0], found[k][1], found[k][2])
        s = splice(s, sorted(again))
    seen: set[str] = set()
    for _pos, name, phrase in sorted(found):
        if name not in seen:
            seen.add(name)
            seg.camera.append((name, phrase))
    return s


def detect_camera_moves(text: str) -> list[str]:
    """The names of the camera moves (vocabulary ``camera.moves[].name``) found in ``text``."""
    lx = get_lex()
    seg = Seg(raw=text)
    flat = normalise_input(text)
    extract_camera(lx, flat, seg, flat.lower())
    return [name for name, _ in seg.camera]


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


def extract_exclusions(lx: Lex, s: str, seg: Seg, low: str) -> str:
    if not lx.excl_trigger.may(low):
        return s
    out: list[str] = []
    pos = 0
    for m in lx.excl_trigger.hits(s):
        if m.start() < pos:
            continue
        trig = (m.group("t") or "").lower()
        before = s[: m.start()].rstrip().rsplit(" ", 1)[-1].lower().strip(",") if m.start() else ""
        after_words = s[m.end():].split(" ", 1)
        nxt = after_words[0].lower().strip(",.") if after_words else ""
        if trig == "no" and (before in lx.excl_not_after or nxt in lx.excl_not_before):
            continue
        if trig.startswith("without") and nxt.endswith("ing") and nxt not in lx.ing_nouns:
            continue
        end_m = re.search(rf"[.;:!?\n{MARK}]", s[m.end():])
        stop = m.end() + end_m.start() if end_m else len(s)
        chunks = s[m.end():stop].split(",")
        taken = [chunks[0]]
        consumed = len(chunks[0])
        rest = chunks[1:]
        for k, ch in enumerate(rest):
            st = ch.strip()
            words = st.split()
            if not words:
                break
            trig_m = lx.trigger_word.match(st)
            first = words[0].lower()
            short_tail = all(len(c.split()) <= 3 for c in rest[k:])
            if trig_m or (
                short_tail and first not in lx.pronouns and first not in lx.dets and not looks_clause(lx, words)
            ):
                taken.append(st[trig_m.end():] if trig_m else st)
                consumed += len(ch) + 1
            else:
                break
        items: list[str] = []
        for chunk in taken:
            for raw in _SPLIT_ITEMS.split(chunk):
                item = lx.trigger_word.sub("", " " + raw).strip()
                item = re.sub(r"^(?:any|the|a|an|other|visible|more)\s+", "", item, flags=re.IGNORECASE)
                item = lx.excl_item_stop.sub("", item).strip(" ,.")
                words = item.split()
                if not words or all(w.lower() in lx.function_words for w in words):
                    continue
                items.append(" ".join(words[:5]))
        if not items:
            continue
        out.append(s[pos: m.start()])
        out.append(MARK_SPACED)
        pos = m.end() + consumed
        for item in items[: lx.excl_max]:
            kind = next((k for k, rx in lx.excl_audio if rx.match(item)), None)
            if kind:
                seg.no_audio.add(kind)
            elif lx.excl_camera.match(item):
                seg.static_asked = f"no {item}"
            elif item.lower() not in (e.lower() for e in seg.exclusions):
                seg.exclusions.append(item)
    if not out:
        return s
    out.append(s[pos:])
    return "".join(out)


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
        elif kind == "of":
            tail = lx.au_of_tail.match(s, end)
            if not tail:
                continue
            end = tail.end()
            start, _ = walk_left(s, start, content, 2)
        elif kind in ("amb", "fx"):
            start, n = walk_left(s, start, content, 2)
            if kind == "fx" and n == 0 and not lx.au_effect_free.fullmatch(m.group(0) or ""):
                continue
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


def extract_framing(lx: Lex, s: str, seg: Seg, low: str) -> str:
    if not lx.framing.may(low):
        return s
    out: list[str] = []
    pos = 0
    for m in lx.framing.hits(s):
        if m.start() < pos:
            continue
        idx = lx.framing_which(m.group(0) or "")
        if idx < 0:  # pragma: no cover - a match always belongs to an entry
            continue
        e = lx.framing_entries[idx]
        phrase = e.say or cue_of(m.group(0) or "").lower()
        if e.kind == "lens" and phrase[:1].isdigit():
            phrase = re.sub(r"(\d)\s+mm", r"\1mm", phrase)
        end = m.end()
        if e.kind in ("size", "composition"):
            of = lx.of_np.match(s, end)
            if of:
                toks = of.group("np").split()
                if toks and not any(is_verb(lx, toks, k, 0) for k in range(len(toks))):
                    np_text = norm_space(of.group("np"))
                    phrase = f"{phrase} of {np_text}"
                    seg.of_nps.append(np_text)
                    if looks_like_place(lx, np_text):
                        seg.scene.append(np_text)
                        seg.scene_in_lead.add(np_text)
                    end = of.end()
        if all(p != phrase for _, _, p in seg.framing):
            seg.framing.append((e.kind, e.name, phrase))
        start, _ = walk_left(s, m.start(), lambda w: w.lower() in lx.framing_prefix, 3)
        start = max(start, pos)
        out.append(s[pos:start])
        out.append(MARK_SPACED)
        pos = end
    if not out:
        return s
    out.append(s[pos:])
    return "".join(out)
