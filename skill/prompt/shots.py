"""Splitting a description into shots: headers, lists, inline numbers, sequencing prose."""

from __future__ import annotations

import re
from dataclasses import dataclass

from skill.prompt.camera import find_moves
from skill.prompt.grammar import looks_clause
from skill.prompt.lexicon import Lex, get_lex
from skill.prompt.patterns import Hit, Rx
from skill.prompt.text import norm_space, normalise_input

__all__ = ["Split", "split_shots", "split_text"]




@dataclass
class Split:
    """A request cut into its shots: what comes before them, each shot's text and seconds."""
    preamble: str
    shots: list[tuple[str, int | None]]
    structured: bool
    sequenced: bool = False  # cut from prose by its sequencers ("then", "next", "it opens on")


def _dur_from(lx: Lex, txt: str | None) -> int | None:
    if not txt:
        return None
    m = lx.dur_text.search(txt)
    if not m:
        return None
    a, b = m.group(1), m.group(2)
    n = int(b) - int(a) if a is not None else int(b)
    return n if n > 0 else None


def _shot_body(lx: Lex, txt: str) -> tuple[str, int | None]:
    dur: int | None = None
    m = lx.paren_dur.search(txt)
    if m:
        a, b = m.group(1), m.group(2)
        n = int(b) - int(a) if a is not None else int(b)
        dur = n if n > 0 else None
        txt = txt[: m.start()] + " " + txt[m.end():]
    return norm_space(txt).strip(" ,;-—"), dur


def _headers(lx: Lex, text: str) -> Split | None:
    """ "Shot 1: ... Shot 2 (3s): ...", "Shot A - ...", "Beat two: ..."."""
    heads = list(lx.header.hits(text)) if lx.header.may(text.lower()) else []
    if len(heads) < 2:
        return None
    shots = []
    for k, h in enumerate(heads):
        end = heads[k + 1].start() if k + 1 < len(heads) else len(text)
        body, dur = _shot_body(lx, text[h.end(): end])
        dur = _dur_from(lx, h.group("dur") or h.group("dur2")) or dur
        if body:
            shots.append((body, dur))
    return Split(norm_space(text[: heads[0].start()]), shots, True) if len(shots) >= 2 else None


def _listed(lx: Lex, text: str) -> Split | None:
    """A numbered, lettered or bulleted list, one item a line."""
    lines = text.split("\n")
    items = [(k, lx.list_item.match(ln)) for k, ln in enumerate(lines)] if len(lines) > 1 else []
    listed = [(k, m) for k, m in items if m]
    if len(listed) < 2:
        return None
    shots = [_shot_body(lx, m.group(2)) for _, m in listed]
    pre = " ".join(ln for k, ln in enumerate(lines) if not items[k][1])
    return Split(norm_space(pre), [s for s in shots if s[0]], True)


def _inline_numbers(lx: Lex, flat: str) -> Split | None:
    """ "1) ... 2) ..." in one line."""
    nums = list(lx.inline_num.finditer(flat)) if ")" in flat else []
    if not nums and ". 2. " in flat:
        # "1. ... 2. ...", from the start of the text: read as "1) ... 2)"
        nums = [m for m in lx.inline_dot.finditer(flat) if m.group(1) != "1" or not flat[: m.start()].strip()]
    seq: list[re.Match[str]] = []
    for m in nums:
        mark = m.group(1)
        nth = int(mark) if mark.isdigit() else ord(mark.lower()) - ord("a") + 1
        same_kind = not seq or seq[0].group(1).isdigit() == mark.isdigit()
        if nth == len(seq) + 1 and same_kind and (mark.isdigit() or m.group(0).lstrip().startswith("(")):
            seq.append(m)  # "1) ... 2)", "(1) ... (2)", "(a) ... (b)"; a bare "a)" is too often a word
    if len(seq) < 2:
        seq = _lettered(lx, flat)
    if len(seq) < 2:
        return None
    shots = []
    for k, m in enumerate(seq):
        end = seq[k + 1].start() if k + 1 < len(seq) else len(flat)
        item = _shot_body(lx, flat[m.end(): end])
        if item[0]:
            shots.append(item)
    return Split(flat[: seq[0].start()].strip(), shots, True) if len(shots) >= 2 else None


def _lettered(lx: Lex, flat: str) -> list[re.Match[str]]:
    """ "A) ... B) ... C) ...", "A. ...", "A - ...": capital letters in order, each where a sentence
    starts, the first at the text's start (or after what is said before the list)."""
    if "A" not in flat:
        return []
    seq: list[re.Match[str]] = []
    for m in lx.inline_letter.finditer(flat):
        if ord(m.group(1)) - ord("A") == len(seq) and (not seq or m.group(0)[1:2] == seq[0].group(0)[1:2]):
            seq.append(m)  # the same mark after each letter ("A)" ... "B)"), never "A." then "B)"
    return seq


_QUOTED = re.compile(r'"[^"\n]*"|\u201c[^\u201d\n]*\u201d')
_SENTENCE_START = re.compile(r"(?:^|[.!?;:]\s*)$")
_CLAUSE_START = re.compile(r"(?:^|[,.!?;:]\s*)$")


def _cuts(lx: Lex, flat: str, eager: bool = False) -> list[Hit]:
    """The sequencers that cut the story: openers and cuts always; "then" (and "next", "finally")
    at a clause start or before a new subject ("then she pours") when the story is sequenced (an
    opener, a cut or a second step). A lone "then" links two actions of one take ("she points at
    one, then he pulls it out of her ear"). ``eager`` (a film longer than one call, which needs
    its beats): every clause-start step cuts."""
    if not lx.seq.may(flat.lower()):
        return []
    quotes = [m.span() for m in _QUOTED.finditer(flat)] if '"' in flat or "\u201c" in flat else []
    hits = [h for h in lx.seq.hits(flat) if not any(a < h.start() < b for a, b in quotes)]  # a line's "Then" is speech
    strong = sum(1 for h in hits if h.lastgroup in ("op", "cut")) + sum(1 for h in hits if h.lastgroup == "step") >= 2
    out = []
    for h in hits:
        before = flat[: h.start()]
        word = (flat[h.end():].split(" ", 1)[0] or "").lower().strip(",")
        subject_follows = word in lx.subject_starts or word[:1].isdigit()
        if h.lastgroup == "step" and _camera_moves_on(lx, flat[h.end():]):
            continue  # "..., then tilt up to reveal the skyline": the camera moves on in the same take
        if h.lastgroup == "op":
            ok = _SENTENCE_START.search(before) is not None
        elif h.lastgroup == "cut":
            ok = True
        else:
            at_clause = _CLAUSE_START.search(before) is not None
            ok = (at_clause or subject_follows) and (strong or eager)
        if ok:
            out.append(h)
    return out


def _camera_moves_on(lx: Lex, after: str) -> bool:
    """Whether the words after a "then" open on a camera move ("tilt up to reveal ...", "the
    camera pulls back"): a move continues the shot; a cut ("cut to") or a new action makes one."""
    head = after.lstrip(" ,")[:80]
    return any(mv.start == 0 for mv in find_moves(lx, head))


def _sequenced(lx: Lex, flat: str, eager: bool = False) -> Split | None:
    """Sequencing prose: "It opens on ... Then we cut to ... Finally ...", with or without commas."""
    pre, body = _colon_preamble(flat)
    if pre and (lx.framing.may(pre.lower()) or any(rx.may(pre.lower()) for _f, rx in lx.cam_forms)):
        pre, body = "", flat  # "Wide shot: a knight ...": the first shot's framing, not a preamble
    cuts = _cuts(lx, body, eager)
    if not cuts:
        return None
    pieces, pos = [], 0
    for h in cuts:
        pieces.append(body[pos: h.start()])
        pos = h.end()
    pieces.append(body[pos:])
    if cuts[0].lastgroup == "op" and _trim(pieces[0]):
        pre = f"{pre} {pieces.pop(0)}".strip()  # "A film about a cellist. It opens on ...": said before the shots
    beats = [lx.viewer.sub("", b) for p in pieces for b in _framed(lx, _trim(p)) or [_trim(p)] if b]
    if len(beats) == 1 and cuts[0].lastgroup == "op" and not pre and cuts[0].start() == 0:
        # "Start with the camera low ..., then tilt up ...": one take; its opener says nothing more
        return Split(pre, [_shot_body(lx, beats[0])], False)
    if len(beats) < 2:
        return None
    return Split(pre, [_shot_body(lx, b) for b in beats], True, sequenced=True)


def _colon_preamble(flat: str) -> tuple[str, str]:
    """ "the sneaker: wide street shot, ..." -> ("the sneaker", "wide street shot, ...")."""
    head, sep, rest = flat.partition(":")
    if sep and rest.strip() and len(head.split()) <= 6 and '"' not in head:
        return head.strip(), rest.strip()
    return "", flat


_TRIM = re.compile(r"^[\s,;:.-]*(?:and\s+|then\s+)*|[\s,;:-]*(?:\band)?[\s,;:-]*$", re.IGNORECASE)


def _trim(piece: str) -> str:
    return _TRIM.sub("", piece).strip()


def _framed(lx: Lex, body: str) -> list[str]:
    """Framed shots listed in prose: "wide street shot, close-up on the sole, then the logo"."""
    if _count_sizes(lx, body) < 2:
        return []
    toks = _separated(lx, body)
    found: list[str] = []
    cur: list[str] = []
    for i in range(0, len(toks), 2):
        clause = toks[i].strip(" ,;.")
        if not clause:
            continue
        sep = toks[i - 1].lower() if i else ""
        if cur and (_count_sizes(lx, clause) or sep.endswith("then")):
            found.append(", ".join(cur))
            cur = []
        cur.append(clause)
    if cur:
        found.append(", ".join(cur))
    framed = sum(1 for f in found if _count_sizes(lx, f))  # "over-the-shoulder two-shot": one framing
    return found if len(found) >= 2 and framed >= 2 else []


def _separated(lx: Lex, body: str) -> list[str]:
    """``list_sep.split(body)``, never inside a quoted line (a line's "Then why ...?" is speech)."""
    if '"' not in body and "\u201c" not in body:
        return lx.list_sep.split(body)
    masked = _QUOTED.sub(lambda m: '"' + "x" * (len(m.group(0)) - 2) + '"', body)
    toks: list[str] = []
    pos = 0
    for m in lx.list_sep.finditer(masked):
        toks += [body[pos: m.start()], body[m.start(1): m.end(1)]]
        pos = m.end()
    return [*toks, body[pos:]]


_COUNTED_SEPARATORS = (
    re.compile(r"\s*;\s*"),
    re.compile(r"(?<=[.!?])\s+(?=[A-Z\"])"),
    re.compile(r"\s*,\s*(?:and\s+|then\s+)*|\s+and\s+then\s+|\s+then\s+"),
)


def _counted(lx: Lex, text: str, count: int) -> Split | None:
    """The caller said how many beats ("in five beats: a; b; c; d; e"): the separator that gives
    exactly that many pieces cuts them (semicolons, then sentences, then commas and "then")."""
    flat = norm_space(text)
    pre, body = _colon_preamble(flat)
    for part_pre, part in ((pre, body), ("", flat)) if pre else (("", flat),):
        for sep in _COUNTED_SEPARATORS:
            pieces = [_trim(p) for p in sep.split(part)]
            pieces = [p for p in pieces if p.strip(" .")]
            if len(pieces) == count + 1 and not looks_clause(lx, pieces[0].split()):
                head = pieces.pop(0)  # "A mini film. A fox wakes ...": not a beat; framing only, it goes
                lead = lx.lead_in.match(head)
                if lead is None or head[lead.end():].strip(" .,:"):
                    part_pre = f"{part_pre} {head}".strip()
            if len(pieces) == count and all(re.search(r"[^\W\d_]{3}", p) for p in pieces):
                return Split(part_pre, [_shot_body(lx, p) for p in pieces], True, sequenced=True)
    return None


def split_text(lx: Lex, text: str, eager: bool = False, count: int = 0) -> Split:
    """The shots the caller made: headers, lists, inline numbers, sequencers, framed lists.
    ``eager``: the text is a film of several calls, so a lone "then" between actions cuts too.
    ``count``: the number of beats the caller said the story has (0: not said)."""
    got = _split_text(lx, text, eager)
    if count >= 2 and len(got.shots) != count:
        return _counted(lx, text, count) or got
    return got


def _split_text(lx: Lex, text: str, eager: bool) -> Split:
    got = _headers(lx, text)
    if got:
        return got
    heads = list(lx.header.hits(text)) if lx.header.may(text.lower()) else []
    if len(heads) == 1 and not text[: heads[0].start()].strip():
        text = text[heads[0].end():]
    got = _listed(lx, text)
    if got:
        return got
    flat = norm_space(text)
    got = _inline_numbers(lx, flat) or _sequenced(lx, flat, eager)
    if got:
        return got
    pre, body = _colon_preamble(flat)
    framed = _framed(lx, body)
    if not framed:
        pre, framed = "", _framed(lx, flat)
    if framed:
        return Split(pre, [_shot_body(lx, x) for x in framed], True)
    return Split("", [(_lines_ended(text) if "\n" in text.strip() else flat, None)], False)


def _lines_ended(text: str) -> str:
    """A chat's lines as sentences ("steam\nslow push in\n" -> "steam. Slow push in."): a line
    break without a mark ends what the line said."""
    lines = [norm_space(ln) for ln in text.split("\n") if ln.strip()]
    return " ".join(ln + "." if ln[-1:].isalnum() else ln for ln in lines)


def _split_on(rx: Rx, s: str) -> list[str]:
    """``re.split`` for an ``Rx`` (pieces keep the caller's case)."""
    out: list[str] = []
    pos = 0
    for h in rx.hits(s):
        out.append(s[pos: h.start()])
        pos = h.end()
    out.append(s[pos:])
    return out


def _count_sizes(lx: Lex, text: str, low: str | None = None) -> int:
    if not lx.sizes.may(low if low is not None else text.lower()):
        return 0
    return sum(1 for _ in lx.sizes.rx.finditer(low if low is not None else text.lower()))


def split_shots(text: str) -> list[str]:
    """The shot texts found in free text: several for a multi-shot text, one otherwise, none when blank."""
    flat = normalise_input(text)
    if not flat.strip():
        return []
    sp = split_text(get_lex(), flat)
    return [t for t, _ in sp.shots]
