"""Parsing one segment (a shot, or the whole text) into its parts."""

from __future__ import annotations

from skill.prompt.cues import (
    extract_atmosphere,
    extract_audio,
    extract_camera,
    extract_dialogue,
    extract_exclusions,
    extract_framing,
    extract_identity,
    extract_lighting,
    extract_style,
)
from skill.prompt.grammar import looks_clause, looks_like_place, split_subject, word_of
from skill.prompt.lexicon import Lex
from skill.prompt.patterns import MARK, MARK_SPACED, Hit
from skill.prompt.state import Seg
from skill.prompt.text import SENTENCES, clean_phrase, cleanup, lift, lift_with_prefix, tidy

__all__ = ["parse_segment"]


def parse_segment(lx: Lex, text: str, *, lead_in: bool) -> Seg:
    seg = Seg(raw=text)
    low = lx.scan(text)
    s = extract_dialogue(lx, text, seg)

    s = lift_with_prefix(lx.request, s, seg.meta, lx.request_prefix, low)
    if lead_in:
        m = lx.lead_in.match(s)
        if m and m.end() > 0 and m.group(0).strip(f" ,{MARK}"):
            seg.meta.append(clean_phrase(m.group(0)))
            s = MARK_SPACED + s[m.end():]
    s = extract_identity(lx, s, seg, low)
    s = extract_exclusions(lx, s, seg, low)

    def on_hype(m: Hit) -> None:
        seg.hype.append(clean_phrase(m.group(0) or ""))

    s = lift(lx.hype, s, on_hype, low)
    s = lift(lx.soup, s, on_hype, low)
    s = lift(lx.soup_head, s, on_hype, low)
    s = extract_audio(lx, s, seg, low)
    s = extract_style(lx, s, seg, low)

    s = extract_lighting(lx, s, seg, low)

    s = extract_atmosphere(lx, s, seg, low)
    cur = s

    def on_scene(m: Hit) -> bool | None:
        if (m.group("prep") or "").lower() == "at":
            before = cur[: m.start()].rstrip().rsplit(" ", 1)[-1].lower()
            if before.endswith(("s", "ing", "ed")) and before not in lx.dets:
                return False  # "looks at the city": an action, not a place
        seg.scene.append(clean_phrase(m.group(0) or ""))
        return None

    s = lift(lx.scene, s, on_scene, low)
    s = extract_camera(lx, s, seg, low)
    if seg.static_asked and not any(n == "static" for n, _ in seg.camera):
        seg.camera.append(("static", seg.static_asked))
    s = extract_framing(lx, s, seg, low)
    _finish_prose(lx, s, seg)
    return seg


def _finish_prose(lx: Lex, s: str, seg: Seg) -> None:
    s = tidy(cleanup(lx, s))
    prose: list[str] = []
    for sentence in SENTENCES.split(s):
        sentence = sentence.strip(" ;")
        if not sentence:
            continue
        end = sentence[-1] if sentence[-1] in ".!?" else ""
        clauses: list[str] = []
        for clause in (c.strip() for c in sentence.rstrip(".!?").split(",")):
            clause = lx.c_start_conn.sub("", clause) if not clauses else clause
            words = clause.split()
            if not words:
                continue
            if all(w.lower().strip(".!?") in lx.function_words for w in words) and not (
                seg.dialogue and len(words) == 1 and word_of(words[0]) in lx.pronouns
            ):
                continue
            if not any(ch.isalnum() for ch in clause):
                continue
            if (
                len(words) <= 6
                and looks_like_place(lx, clause)
                and not any(word_of(w) in lx.preps or word_of(w) in lx.conj for w in words)
                and not looks_clause(lx, words)
                and (word_of(words[0]) in lx.dets or len(words) <= 3)
            ):
                seg.scene.append(clause)
                continue
            clauses.append(clause)
        if clauses:
            prose.append(", ".join(clauses) + end)
    seg.prose = prose
    if prose:
        toks = prose[0].rstrip(".!?").split()
        subj, rest = split_subject(lx, toks)
        seg.subject = " ".join(subj)
        seg.action = ". ".join(x for x in [" ".join(rest), *(p.rstrip(".!?") for p in prose[1:])] if x)
        if not subj:
            seg.action = ". ".join(p.rstrip(".!?") for p in prose)
    seg.entities = None  # computed on demand: only multi-shot continuity and dialogue labels need them
