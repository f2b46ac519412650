"""Camera and framing language: where it is, and the whole clauses that carry it.

Kling weighs the first words most [S19][S30], so the clause that carries the caller's framing or
camera move leads the shot. Only whole clauses move, never fragments: a bare camera clause ("low
angle", "35mm lens", "slow orbit around it") goes first; a sentence whose subject is the camera
("The camera slowly pushes in on a cup") says its move the way Kling reads it ("Slow push-in on
a cup"); a second move stacked under the first ("while the camera zooms in and pans left") goes,
since stacked moves jitter [I3 #912].
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from skill.prompt.grammar import is_verb, np_end, split_subject, word_of
from skill.prompt.lexicon import Lex
from skill.prompt.patterns import MARK, Hit, Rx
from skill.prompt.text import cap, clean_phrase, norm_space, split_clauses, uncap, walk_left

__all__ = [
    "Frame",
    "Move",
    "camera_first",
    "camera_only",
    "drop_stacked",
    "find_framing",
    "find_moves",
    "lead_buried_move",
    "leads_with_camera",
    "opens_on_camera",
    "say_camera_subject",
    "told_after",
]


@dataclass(frozen=True)
class Move:
    """A camera move found in the text, with its span and how the caller phrased it."""
    start: int
    end: int
    name: str
    phrase: str
    form: str  # noun ("slow push-in"), verb ("the camera pushes in"), imp ("push in")
    stacks: bool


@dataclass(frozen=True)
class Frame:
    """A framing (shot size, angle, lens, ...) found in the text, with its span."""
    start: int
    end: int
    kind: str  # size, angle, composition, lens, technique
    name: str
    phrase: str


def _phrase(lx: Lex, m: Hit, form: str, pace_word: str | None) -> tuple[str, str, bool] | None:
    group = {"noun": "nn", "verb": "vv", "imp": "ii"}[form]
    start = m.start(group)
    idx = lx.move_which[form].at(m.m.string[start:], m.end(group) - start) if start >= 0 else -1
    if idx < 0:  # pragma: no cover - the pattern always names a move
        return None
    mv = lx.moves[idx]
    sfx = {"noun": "a", "verb": "b", "imp": "c"}[form]
    pace = lx.pace_of(pace_word or m.group(f"q{sfx}"))
    direction = (m.group(f"dir{sfx}") or "").lower()
    tprep, target = m.group(f"tp{sfx}"), clean_phrase(m.group(f"tg{sfx}") or "")
    reveal, rtarget = m.group(f"rv{sfx}"), clean_phrase(m.group(f"rt{sfx}") or "")
    if form == "verb":
        core = mv.say
        last = word_of((m.group("vv") or "").split()[-1])
        direction = direction or (last if last in lx.particles else "")
        if direction and not core.endswith(direction) and core.rsplit("-", 1)[-1] not in lx.particles:
            core = f"{core} {direction}"  # "pulls back" is a "pull-out", not a "pull-out back"
        if target:
            core = f"{core} {(tprep or mv.object_prep or 'on').lower()} {target}"
    else:
        core = clean_phrase(m.group(group) or "")
        core = core[0].lower() + core[1:] if core[:1].isupper() and not core[:3].isupper() else core
        core = f"{core} {direction}" if direction else core
        core = f"{core} {norm_space(tprep or '')} {target}" if target else core
    if reveal and rtarget:
        core = f"{core}, {norm_space(reveal).lower()} {rtarget}"
    phrase = f"{pace} {core}" if pace and not core.lower().startswith(pace) else core
    return mv.name, norm_space(phrase), mv.stacks


def _scan(lx: Lex, rx: Rx, form: str, s: str, taken: list[tuple[int, int]], out: list[Move]) -> None:
    if not rx.may(s.lower()):
        return
    for m in rx.hits(s):
        if any(a < m.end() and m.start() < b for a, b in taken):
            continue
        start = m.start()
        pace_word = m.group("pb") if form == "verb" else m.group("pc") if form == "imp" else None
        if form == "verb":
            start, _ = walk_left(s, start, lambda w: w.lower() in lx.cam_subject_words, 3)
        if form == "noun":
            start, n = walk_left(s, start, lambda w: bool(lx.pace_word.fullmatch(w)), 3, commas=True)
            if n:
                words = [w for w in re.split(r"[\s,]+", s[start: m.start()]) if w]
                pace_word = next((w for w in words if w.lower() not in ("very", "and")), None)
            start, _ = walk_left(s, start, lambda w: w.lower() in ("a", "an", "the"), 1)
        start = max([start, *(b for a, b in taken if b <= m.start())])
        got = _phrase(lx, m, form, pace_word)
        if got:
            out.append(Move(start, m.end(), got[0], got[1], form, got[2]))
            taken.append((start, m.end()))


_MEMO_MAX = 2048


_MOVES_MEMO: dict[tuple[Lex, str], tuple[Move, ...]] = {}


_FRAMES_MEMO: dict[tuple[Lex, str], tuple[Frame, ...]] = {}
_T = TypeVar("_T")


def find_moves(lx: Lex, s: str) -> list[Move]:
    """Every camera move in ``s``, in order, with its span and its phrase as Kling reads it.

    Memoised: one plan asks about the same sentence and clause several times (a fresh list each call).
    """
    return _memoised(_MOVES_MEMO, lx, s, _find_moves)


def _find_moves(lx: Lex, s: str) -> list[Move]:
    out: list[Move] = []
    taken: list[tuple[int, int]] = []
    for form, rx in lx.cam_forms:
        _scan(lx, rx, form, s, taken, out)
    if out and lx.cam_again is not None:
        # "zooms in and pans left": the second verb, found behind the first (offsets kept)
        masked = list(s)
        for a, b in taken:
            masked[a:b] = [" "] * (b - a - 1) + [MARK]
        _scan(lx, lx.cam_again, "verb", "".join(masked), taken, out)
    return sorted(out, key=lambda mv: mv.start)


def find_framing(lx: Lex, s: str) -> list[Frame]:
    """Shot sizes, angles, compositions, lenses and time effects in ``s``, in order (memoised)."""
    return _memoised(_FRAMES_MEMO, lx, s, _find_framing)


def _memoised(memo: dict[tuple[Lex, str], tuple[_T, ...]], lx: Lex, s: str,
              find: Callable[[Lex, str], list[_T]]) -> list[_T]:
    """``find(lx, s)`` from a bounded memo, as a fresh list (a caller may change it)."""
    got = memo.get((lx, s))
    if got is None:
        if len(memo) >= _MEMO_MAX:
            memo.clear()
        got = memo[(lx, s)] = tuple(find(lx, s))
    return list(got)


def _find_framing(lx: Lex, s: str) -> list[Frame]:
    if not lx.framing.may(s.lower()):
        return []
    out: list[Frame] = []
    for m in lx.framing.hits(s):
        idx = lx.framing_which(m.group(0) or "")
        if idx < 0:  # pragma: no cover - a match always belongs to an entry
            continue
        e = lx.framing_entries[idx]
        phrase = e.say or clean_phrase(m.group(0) or "").lower()
        if e.kind == "lens" and phrase[:1].isdigit():
            phrase = re.sub(r"(\d)\s+mm", r"\1mm", phrase)
        start, _ = walk_left(s, m.start(), lambda w: w.lower() in lx.framing_prefix, 3)
        out.append(Frame(start, m.end(), e.kind, e.name, phrase))
    return out


def _covered(lx: Lex, clause: str) -> bool:
    """Whether every content word of the clause is camera language (a bare camera clause), or the
    clause is about the camera itself ("camera is go slowly from left to right side")."""
    if lx.cam_clause_subject.match(clause.strip()) and '"' not in clause:
        return True
    spans = [(m.start, m.end) for m in find_moves(lx, clause)] + [(f.start, f.end) for f in find_framing(lx, clause)]
    if not spans:
        return False
    rest = list(clause)
    for a, b in spans:
        rest[a:b] = [" "] * (b - a)
    left = [w for w in re.findall(r"[\w'-]+", "".join(rest).lower()) if w not in lx.function_words]
    return all(
        w in lx.camera_filler or w in lx.particles or bool(lx.pace_word.fullmatch(w))
        or lx.move_which["verb"](w) >= 0 or lx.move_which["noun"](w) >= 0
        for w in left
    )


def camera_only(lx: Lex, sentence: str) -> bool:
    """Whether every clause of a sentence is bare camera language ("Medium shot, static.")."""
    clauses = [c.rstrip(".!?") for c, _sep in split_clauses(sentence)]
    if not clauses or '"' in sentence:
        return False
    covered = [_covered(lx, c) for c in clauses]
    fill = lx.camera_filler
    return any(covered) and all(ok or all(w in fill for w in re.findall(r"[\w'-]+", c.lower())) for ok, c in zip(covered, clauses, strict=True))


def opens_on_camera(lx: Lex, sentence: str) -> bool:
    """Whether a sentence's first clause is bare camera language ("Over-the-shoulder shots, tense,
    cold light."): the sentence is the shot's framing, whatever its other clauses say of the look."""
    clauses = split_clauses(sentence)
    return bool(clauses) and '"' not in sentence and _covered(lx, clauses[0][0].rstrip(".!?"))


def leads_with_camera(lx: Lex, clause: str) -> bool:
    lows = clause.lstrip(" \"'(").lower()
    hits = [m.start for m in find_moves(lx, clause)] + [f.start for f in find_framing(lx, clause)]
    return any(clause[:h].strip(" ,\"'(").lower() in ("", "a", "an", "the") for h in hits) or lows.startswith(("camera", "the camera"))


def say_camera_subject(lx: Lex, sentence: str) -> str:
    """ "The camera slowly pushes in on a cup, ..." -> "Slow push-in on a cup, ..." (the clause's move)."""
    if "camera" not in sentence.lower():
        return sentence
    for mv in find_moves(lx, sentence):
        if mv.form != "verb" or sentence[: mv.start].strip():
            continue
        if not re.match(r"\s*(?:the\s+|our\s+|a\s+)?camera\b", sentence[mv.start:], re.IGNORECASE):
            continue
        said = mv.phrase.lower()
        words = [w for w in re.findall(r"[^\W\d_]{3,}", sentence[mv.start: mv.end].lower())
                 if w not in lx.function_words and w not in lx.cam_subject_words and w != "camera"]
        if any(w[:3] not in said for w in words):
            return sentence  # "the camera rises over the masts" is not "crane over": the caller's verb stays
        return cap(mv.phrase) + sentence[mv.end:]
    return sentence


_BREAK_AFTER = re.compile(r"[,;.!?]|$")


def lead_buried_move(lx: Lex, sentence: str) -> str:
    """A camera move buried in a subordinate clause leads the sentence as its own clause, the rest
    of the caller's sentence kept whole after a colon: "A woman walks through the market as the
    camera slowly tracks her" -> "Slow tracking shot: a woman walks through the market." A pronoun
    the move points back with goes (the subject it names follows)."""
    if '"' in sentence or not lx.cam_buried.search(sentence):
        return sentence
    first = split_clauses(sentence)[0][0] if split_clauses(sentence) else ""
    if leads_with_camera(lx, first):
        return sentence
    for mv in find_moves(lx, sentence):
        conj = next((m for m in lx.cam_buried.finditer(sentence) if mv.start - 30 <= m.start() <= mv.start + 8 and m.end() <= mv.end), None)
        if conj is None or not sentence[: conj.start()].strip(" ,"):
            continue
        if conj.group(0).strip(" ,").lower().startswith("and "):
            return sentence  # "the runner stops and the camera tilts down": the move comes after, in the caller's order
        stop = mv.end + _BREAK_AFTER.search(sentence, mv.end).start() - mv.end  # type: ignore[union-attr]
        tail = sentence[mv.end: stop]
        said = mv.phrase
        words = [w for w in re.findall(r"[^\W\d_]{3,}", sentence[conj.end(): mv.end].lower()) if w not in lx.function_words]
        if any(w[:3] not in said.lower() for w in words):  # "arcs" said as "orbit": keep the caller's words
            said = re.sub(r"^\s*,?\s*\w+\s+", "", sentence[conj.start(): mv.end])
        lead = lx.cam_points_back.sub("", said + tail).strip(" ,")
        rest = norm_space(sentence[: conj.start()] + sentence[stop:]).strip()
        rest = re.sub(r"\s+([,.;:!?])", r"\1", re.sub(r",\s*(?=[,.;:!?]|$)", "", rest)).strip(" ,")
        if not lead or not re.search(r"[^\W\d_]{3}", rest):
            return sentence
        return f"{cap(lead)}: {uncap(rest)}" + ("" if rest[-1:] in ".!?" else ".")
    return sentence


def drop_stacked(lx: Lex, sentence: str) -> tuple[str, list[str]]:
    """A move stacked under an earlier one in a subordinate camera clause goes ("while the camera
    zooms in and pans left"); the caller's primary move stays. Returns the sentence and what went."""
    moves = find_moves(lx, sentence)
    stacking = [mv for mv in moves if mv.stacks]
    if len(stacking) < 2:
        return sentence, []
    first = stacking[0]
    cut: list[tuple[int, int]] = []
    for mv in stacking[1:]:
        if mv.form != "verb" or mv.start < first.end:
            continue
        if cut and mv.start <= cut[-1][1] + 12 and not sentence[cut[-1][1]: mv.start].strip(" ,"):
            cut[-1] = (cut[-1][0], mv.end)  # "... and pans left" after the first dropped move
            continue
        if lx.cam_subordinate.match(sentence[mv.start: mv.end]) or (cut and lx.cam_and_next.match(sentence[cut[-1][1]: mv.end])):
            cut.append((mv.start, mv.end))
    if not cut:
        return sentence, []
    out, pos, dropped = [], 0, []
    for a, b in cut:
        out.append(sentence[pos:a])
        dropped.append(norm_space(sentence[a:b]).strip(" ,"))
        pos = b
    out.append(sentence[pos:])
    return re.sub(r"\s+([,.;:!?])", r"\1", norm_space("".join(out))), dropped




def camera_first(lx: Lex, sentences: list[str], names: frozenset[str] = frozenset()) -> list[str]:
    """The shot's sentences with its bare camera clauses moved to the front, whole.

    Nothing moves when the shot already opens on camera language, when a moved clause would
    point back at something not yet said ("slow orbit around it" moves only when "it" is the
    bare subject phrase it can take in), or when the camera clause is the shot's only content.
    """
    if not sentences:
        return sentences
    sentences = [_dash_camera(lx, sentences[0], names), *sentences[1:]]
    parts = [split_clauses(s) for s in sentences]
    if not parts[0] or leads_with_camera(lx, parts[0][0][0]):
        return sentences
    lead: list[str] = []
    rest: list[list[tuple[str, str]]] = []
    for sentence, clauses in zip(sentences, parts, strict=True):
        keep = []
        whole = camera_only(lx, sentence)  # "Medium shot, static.": its filler clause goes with it
        for c, sep in clauses:
            if (whole or _covered(lx, c.rstrip(".!?"))) and not told_after(lx, c):
                lead.append(c.rstrip(".!?"))
            else:
                keep.append((c, sep))
        rest.append(keep)
    rest = [r for r in rest if r]
    if not lead or not rest:
        return sentences
    lead.sort(key=lambda c: _only_technique(lx, c))  # "slow-mo, close shot" -> "close shot, slow-mo": the framing first
    joined = ", ".join(uncap(x, names) for x in lead)
    first = rest[0]
    pron = lx.cam_object_pronoun.search(joined)
    if pron and lx.cam_same_person.get(pron.group(1).lower()) == first[0][0].split(" ", 1)[0].lower():
        pron = None  # "camera follows him from behind: he walks to the shop": the next word says who
    if pron:
        subject = first[0][0].rstrip(".!?")
        if not _bare_np(lx, subject):
            if pron.group(1).lower() in lx.cam_same_person:
                return _led(joined, rest, names)  # "the camera tracks her: a woman in a red coat walks ..."
            named = _named_subject(lx, subject)
            if not named:
                return sentences
            # "..., tracking shot following it": "it" is the clause's subject, said definitely
            return _led(joined[: pron.start()] + named + joined[pron.end():], rest, names)
        joined = joined[: pron.start()] + uncap(subject, names) + joined[pron.end():]
        rest[0] = first[1:]
        tail = [_render(r) for r in rest if r]
        if rest[0]:
            tail[0] = _finish(f"{cap(joined)}, {uncap(tail[0], names)}")
            return tail
        return [_finish(cap(joined)), *tail]
    return _led(joined, rest, names)


def told_after(lx: Lex, clause: str) -> bool:
    """ "then tilt up to reveal the skyline", "and the camera settles on ...": a move told after
    what comes before it stays there."""
    c = clause.lstrip(" ,")
    if c[:4].lower() == "and ":
        return True  # "..., and the camera settles on the paddler's reflection": the story's last beat
    return lx.seq.may(c[:20].lower()) and any(h.start() == 0 and h.lastgroup == "step" for h in lx.seq.hits(c[:20]))


def _only_technique(lx: Lex, clause: str) -> bool:
    """Whether a camera clause is only a time effect ("slow-mo", "time-lapse"), no framing or move."""
    frames = find_framing(lx, clause)
    return bool(frames) and all(f.kind == "technique" for f in frames) and not find_moves(lx, clause)


def _led(joined: str, rest: list[list[tuple[str, str]]], names: frozenset[str]) -> list[str]:
    """The camera clauses first, then the shot's other clauses as the caller wrote them."""
    body = _render(rest[0])
    if any(sep == ":" for _c, sep in rest[0]):  # "Interview setup: ...": its own colon, so a sentence first
        return [_finish(cap(joined)), body, *(_render(r) for r in rest[1:])]
    return [_finish(f"{cap(joined)}: {uncap(body, names)}"), *(_render(r) for r in rest[1:])]


_DASH = re.compile(r"\s[-\u2013\u2014]\s|\s?\u2014\s?")


def _dash_camera(lx: Lex, sentence: str, names: frozenset[str]) -> str:
    """ "Portrait of the grandfather — slow push-in while he laughs" -> "Slow push-in: portrait of
    the grandfather, while he laughs": the camera said after a dash leads, its clause kept whole."""
    m = _DASH.search(sentence)
    if m is None or '"' in sentence or leads_with_camera(lx, sentence[: m.start()]):
        return sentence
    head, tail = sentence[: m.start()].strip(), sentence[m.end():].strip()
    cut = lx.cam_after_move.search(tail)
    move, rest = (tail[: cut.start()], tail[cut.end():]) if cut else (tail.rstrip(".!?"), "")
    if not head or not _covered(lx, move.rstrip(".!?")):
        return sentence
    body = f"{uncap(head, names)}, {rest}" if rest else uncap(head, names)
    return _finish(f"{cap(move.rstrip('.!?'))}: {body.rstrip('.!?')}")


def _named_subject(lx: Lex, clause: str) -> str:
    """The subject noun phrase a clause opens on, made definite ("A red fox trots ..." -> "the red
    fox"), or "" when the clause does not open on an article and a noun."""
    toks = clause.split()
    if len(toks) < 3 or word_of(toks[0]) not in lx.indef:
        return ""
    end = np_end(lx, toks, 0)
    ws = [word_of(t) for t in toks]
    # "a dragon made of leaves": the core ends before a word that a preposition follows
    end = next((k for k in range(2, end) if k + 1 < len(ws) and ws[k + 1] in lx.preps), end)
    core = [t.strip(",.;:!?\"'") for t in toks[1:end]]
    if not core or len(core) > 4 or not any(is_verb(lx, toks, k, 0) for k in range(end, min(len(toks), end + 8))):
        return ""
    return " ".join(["the", *core])


def _bare_np(lx: Lex, phrase: str) -> bool:
    words = phrase.split()
    return bool(words) and words[0].lower() in lx.dets and not any(
        w.lower() in lx.verbs or w.lower().endswith(("ing", "ed")) for w in words[1:]
    ) and len(words) <= 8 and not split_subject(lx, words)[1]  # "a girl dances" is a clause


def _render(clauses: list[tuple[str, str]]) -> str:
    text = ""
    for k, (c, sep) in enumerate(clauses):
        text += c
        if k < len(clauses) - 1:
            text += (sep or ",") + " "
    return _finish(text)


def _finish(s: str) -> str:
    s = s.strip().rstrip(",:")
    return s if s[-1:] in ".!?\"" else s + "."
