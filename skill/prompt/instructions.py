"""Removing the router's instruction spans from the caller's text, clause by clause.

The router reads the text once (:meth:`skill.intent.Intent.routing_spans`); the spans it gives are
the words that told the tool what to do ("4K", "vertical", "not paying for 4K", "under $2"). The
builder removes exactly those, and only in a way that leaves English behind:

* a clause left with nothing but request framing and function words ("we're not paying for 4K",
  "make it vertical", "10 seconds please") goes whole, with its separator;
* otherwise the span goes with the preposition that governed it ("in 4K", "for 10 seconds") and the
  rest of the clause stays as the caller wrote it.

Never touched: quoted lines (a span that reaches into a quote is part of the speech), shot headers
(structure: "Shot 1 (3s):"), and a span that names a sound ("with cafe sound", "soft piano
music"): it turned the audio on and it is also the sound to write, so it stays for the audio part.
Removed text leaves a marker, so the passes that follow see where the words were.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from skill.prompt.camera import find_framing, find_moves
from skill.prompt.grammar import looks_clause
from skill.prompt.lexicon import Lex
from skill.prompt.patterns import MARK
from skill.prompt.sound import sound_cue
from skill.textmatch import word_alternation

__all__ = ["quoted_regions", "strip_instructions"]

_QUOTE_PAIRS = re.compile(r'"[^"\n]*"|\u201c[^\u201d\n]*\u201d')
_BREAK = re.compile(rf"[,.;:!?\n()\[\]{MARK}]|\s[-\u2013\u2014]\s|\u2014")
_TOKEN = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*|\$\d")


def quoted_regions(text: str) -> list[tuple[int, int]]:
    """Where the quoted lines are (straight or curly quotes)."""
    return [m.span() for m in _QUOTE_PAIRS.finditer(text)]


_APOSTROPHE = re.compile(r"['\u2019]")


def _words(text: str) -> list[str]:
    out: list[str] = []
    for tok in _TOKEN.findall(text.lower()):
        if "'" in tok or "\u2019" in tok:
            out.extend(p for p in _APOSTROPHE.split(tok) if p)
        else:
            out.append(tok)  # most words: nothing to split, no trip through re's cache
    return out


def _is_content(lx: Lex, word: str) -> bool:
    return (
        len(word) > 1
        and not word.isdigit()
        and word not in lx.function_words
        and word not in lx.request_words
        and word not in lx.containers
    )


def _names_a_sound(lx: Lex, phrase: str, audio_on: bool = True) -> bool:
    """Whether the span describes a sound ("with cafe sound", "music"), not only switches audio on."""
    if not lx.sound_word.search(phrase.lower()):
        return False
    if not audio_on and lx.negations & set(_words(phrase)):
        return False
    cue = sound_cue(lx, phrase.strip(" ,.;:"))
    return cue is not None and any(w not in lx.switch_words for w in _words(cue[1]))


def _of_what(text: str, end: int) -> str:
    """ "with sound of wings buzzing": what the sound is of, right after the span."""
    m = re.match(r"\s+of\s+[^\W\d_]+", text[end:])
    return m.group(0) if m else ""


def _trimmed(text: str, a: int, b: int) -> tuple[int, int]:
    """A span without the spaces and punctuation at its ends (", landscape format")."""
    while a < b and text[a] in " ,;:.!?-\u2013\u2014\n":
        a += 1
    while b > a and text[b - 1] in " ,;:.!?-\u2013\u2014\n":
        b -= 1
    return a, b


def _is_json(text: str) -> bool:
    s = text.strip()
    return s.startswith("{") and s.endswith("}")




@cache
def _timed_header(lx: Lex) -> re.Pattern[str]:
    """ "Shot 1 (0-3s)": a header with its times, structure the spans never reach into."""
    words = word_alternation(lx.v.closed_words.timed_header_words)
    return re.compile(rf"(?i)\b(?:{words})\s+\w{{1,3}}\s*\(\s*[\d.\s\-\u2013]+s(?:ec(?:onds?)?)?\s*\)")


def _protected(lx: Lex, text: str) -> list[tuple[int, int]]:
    regions = [] if _is_json(text) else quoted_regions(text)  # a JSON brief's quotes are syntax
    if lx.header.may(text.lower()):
        regions += [(h.start(), h.end()) for h in lx.header.hits(text)]
    regions += [m.span() for m in _timed_header(lx).finditer(text)]  # "Shot 1 (0-3s) close on hands"
    return regions


def _kept_clauses(lx: Lex, text: str) -> list[tuple[int, int]]:
    """Where the caller says what stays the same ("his face must stay same", "her identity must
    remain consistent"): a span inside is the anchor the caller wrote, so the clause stays whole."""
    if not lx.identity.may(text.lower()):
        return []
    return [(m.start(), m.end()) for m in lx.identity.hits(text) if m.lastgroup in ("k", "s", "c", "a")]


def _breaks(text: str, quotes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The clause breaks (punctuation, dashes) outside the quoted lines, and the end of a quoted
    line that ends its sentence ('... says "Have a good day." No sound needed.')."""
    out = [m.span() for m in _BREAK.finditer(text) if not any(a <= m.start() < b for a, b in quotes)]
    out += [(b, b) for a, b in quotes if b - a > 2 and text[b - 2] in ".!?"]
    return sorted(out)


def _clause_of(breaks: list[tuple[int, int]], a: int, b: int, size: int) -> tuple[int, int]:
    """The clause around the span a..b: from the break before it to the break after it."""
    start = max((e for s, e in breaks if e <= a), default=0)
    end = min((s for s, e in breaks if s >= b), default=size)
    return start, end


def _governing(lx: Lex, text: str, start: int, end: int, following: str) -> int:
    """Where a span's removal starts: before the preposition that only governed it ("in 4K")."""
    before = text[:start]
    m = re.search(r"([A-Za-z]+)\s*$", before)
    if not m or m.group(1).lower() not in lx.request_governing:
        return start
    nxt = _words(following[:40])
    if nxt and _is_content(lx, nxt[0]) and following[:1] != MARK:
        return start  # "a 4K video": the article governs the noun, not the span
    return m.start(1)


def strip_instructions(
    lx: Lex, text: str, spans: Sequence[tuple[int, int]], *, whole_clauses_only: bool = False, audio_on: bool = True
) -> tuple[str, list[str]]:
    """The text with the routing spans removed (markers left), and the removed phrases in order.

    ``whole_clauses_only``: remove only clauses that were nothing but an instruction (for text in
    another language, which the builder's English cannot mend). ``audio_on``: a sound said "no" to
    ("no music") is a sound direction with audio on, and only an instruction with audio off.
    """
    if not spans or not text:
        return text, []
    quotes = [] if _is_json(text) else quoted_regions(text)
    guarded = _protected(lx, text) + _kept_clauses(lx, text)
    breaks = _breaks(text, quotes)
    keep = [
        (a, b)
        for a, b in (_trimmed(text, x, y) for x, y in spans)
        if 0 <= a < b <= len(text)
        and not any(a < y and x < b for x, y in guarded)
        and not _names_a_sound(lx, text[a:b] + _of_what(text, b), audio_on)
        and not _names_a_sound(lx, text[a:_clause_of(breaks, a, b, len(text))[1]], audio_on)
    ]
    if not keep:
        return text, []
    keep = sorted(set(_with_suffix(lx, text, a, b) for a, b in keep) | set(_request_lines(lx, text)))
    by_clause: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for a, b in keep:
        by_clause.setdefault(_clause_of(breaks, a, b, len(text)), []).append((a, b))
    cut: list[tuple[int, int]] = []
    for (cs, ce), inside in by_clause.items():
        rest = text[cs:ce]
        for a, b in sorted(inside, reverse=True):
            rest = rest[: a - cs] + " " * (b - a) + rest[b - cs:]
        left = [w for w in _words(rest) if _is_content(lx, w)
                and not (whole_clauses_only and w in lx.foreign_request_words)]  # "Bitte [in 4K]"
        opener = _words(text[cs:ce])[:1]
        if opener and lx.brief_parts.get(opener[0]) == "request" and not _is_json(text):
            left = []  # "format carre (square)": a clause that opens on a request key is the request's
        title = len([w for w in _words(rest) if w not in lx.function_words]) == 1 and text[ce:ce + 1] == ":" and cs == 0
        if not left or title:
            # only an instruction, or a one-word title before a colon ("Product hero shot:")
            cut.append((cs, ce + (text[ce:ce + 1] == ":")))
            glossed = _glossed(lx, text, breaks, cs, ce)
            if glossed is not None:
                cut.append(glossed)
            continue
        if whole_clauses_only:
            continue
        if _residue(lx, text, cs, ce, inside):
            cut.append((cs, ce))  # "totally silent", "Instagram square": the words left are the span's
            continue
        if not _leaves_a_clause(lx, text[cs:ce], rest):
            if _only_its_purpose(lx, rest):
                cut.append((cs, ce))  # "A [30-second] [brand film] for a coffee roaster": whom it is for
                continue
            if text[ce:ce + 1] == ":" and text[ce + 1:].strip():
                cut.append((cs, ce + 1))  # "not Pro but the 4K tier: a skyline": a header of instructions
            continue  # the spans are inside a content clause ("a CEO addressing camera about ..."): keep it
        for a, b in inside:
            named = _named_as(lx, text, cs, ce, a, b)
            if named is not None:
                cut.append(named)  # "The photo of my wife is [the link] and ...": the image named, not shown
                continue
            measured = _measured_order(lx, text, cs, a, b)
            if measured is not None:
                cut.append(measured)  # "make [30 seconds] of calm aquarium fish": the fish are the text
                continue
            following = text[b:ce]
            if any(x == b or (b < x and not text[b:x].strip()) for x, _y in inside):
                following = MARK
            cut.append((_governing(lx, text, a, b, following.lstrip() or MARK), b))
    return _apply(text, cut + _labels_of(lx, text, breaks, cut))


@cache
def _named_patterns(lx: Lex) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """The copula before a span, the "and" after it, and the order a measure follows."""
    c = lx.v.closed_words
    copula = re.compile(
        rf"(?i)(?<![\w'])(?:{word_alternation(c.copulas)})(?:\s+(?:{word_alternation(c.copula_tails)}))?\s*$")
    order = re.compile(
        r"(?i)(?:(?:can|could|would|will)\s+(?:you|u)\s+(?:please\s+)?|(?:please|pls|just)\s+)?"
        rf"(?:{word_alternation(c.measured_orders)})\s+(?:me\s+|us\s+)?$")
    return copula, re.compile(r"(?i)\s*(?:and|but|so)\s+([\w']+)"), order


def _named_as(lx: Lex, text: str, cs: int, ce: int, a: int, b: int) -> tuple[int, int] | None:
    """ "The artwork is [link]", "the video was [3 seconds] and ...": a span that was the whole
    predicate of its clause; the clause says what the request's things are, so it goes (up to an
    "and" that starts a clause of its own, or whole when what follows shares its subject)."""
    copula, and_after, _order = _named_patterns(lx)
    if copula.search(text, cs, a) is None or not text[cs:a].strip(" ,;:"):
        return None
    rest = text[b:ce]
    if not rest.strip(" ,;:.!?"):
        return cs, ce
    m = and_after.match(rest)
    if m is None:
        return None
    if m.group(1).lower() in lx.closed["auxiliaries"]:
        return cs, ce  # "... is [link] and will be shown on a projection wall": all of it the request's
    return cs, b + m.start(1)


_OF_AFTER = re.compile(r"\s+of\s+(?=\S)")


def _measured_order(lx: Lex, text: str, cs: int, a: int, b: int) -> tuple[int, int] | None:
    """ "Please make [30 seconds] of calm aquarium fish", "could you do [a minute and a half] of a
    train": the order and its measure go together with "of", and what it is of is the text."""
    after = _OF_AFTER.match(text, b)
    before = _named_patterns(lx)[2].search(text, cs, a)
    if after is None or before is None:
        return None
    return before.start(), after.end()


_REQUEST_LINE = re.compile(
    r"^[ \t]*(?:[-*\u2022>#]+|\(?\d{1,2}[.)]|\(?[a-hA-H]\))?[ \t]*([A-Za-z][\w \t-]{0,24}?)[ \t]*[:=][^\n]*?(?=(?<=[.;])\s|$)",
    re.MULTILINE,
)


def _glossed(lx: Lex, text: str, breaks: list[tuple[int, int]], cs: int, ce: int) -> tuple[int, int] | None:
    """ "format carre (square)": an instruction in brackets glosses the clause before it; when that
    clause opens on a request key, it goes too (with the brackets)."""
    if text[cs - 1: cs] != "(" or text[ce: ce + 1] != ")":
        return None
    start = max((e for s, e in breaks if e <= cs - 1), default=0)
    opener = _words(text[start: cs - 1])[:1]
    if not opener or lx.brief_parts.get(opener[0]) != "request":
        return None
    return _trimmed(text, start, cs - 1)[0], ce + 1


def _with_suffix(lx: Lex, text: str, a: int, b: int) -> tuple[int, int]:
    """ "IMAX-style": the suffix hyphened to a span is the span's ("-style" alone says nothing)."""
    m = lx.span_suffix.match(text, b)
    return (a, m.end()) if m else (a, b)


def _request_lines(lx: Lex, text: str) -> list[tuple[int, int]]:
    """Lines of a list or brief whose key is the request's ("2. Budget: $2.", "7. Output naming:
    city_wall_v01"): the value is the router's or the agent's, so the line goes whole."""
    if "\n" not in text.strip():
        return []
    out = []
    for m in _REQUEST_LINE.finditer(text):
        words = re.split(r"[\s_-]+", m.group(1).lower().strip())
        whole = lx.brief_parts.get(" ".join(words))
        if whole == "request" or (whole is None and all(lx.brief_parts.get(w) == "request" for w in words)):
            out.append(_trimmed(text, m.start(1), m.end()))
    return out


def _labels_of(lx: Lex, text: str, breaks: list[tuple[int, int]], cut: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """A label whose value was an instruction goes with it ("Format:" before "ultra-wide (21:9)")."""
    out = []
    for s, e in breaks:
        if text[s:e] != ":":
            continue
        start = max((b for a, b in breaks if b <= s), default=0)
        words = _words(text[start:s])
        if not words or len(words) > 2 or any(_is_content(lx, w) and w not in lx.brief_parts for w in words):
            continue
        after = min((a for a, b in breaks if a >= e), default=len(text))
        if any((a <= e and after <= b) or (not text[e:a].strip() and not text[b:after].strip()) for a, b in cut):
            out.append((start, e))
    return out


def _runs(text: str, cs: int, ce: int, inside: list[tuple[int, int]]) -> list[tuple[str, str, bool]]:
    """The words a clause keeps between its spans: (words, side, glued), ``side`` "before" a span,
    "after" one, or "between" two; ``glued``: nothing but spaces parts them from the span."""
    out = []
    pos, prev_end = cs, -1
    for a, b in [*sorted(inside), (ce, ce)]:
        chunk = text[pos:a]
        if chunk.strip(" ,;:.!?\"'"):
            after = prev_end >= 0 and not chunk[:1].strip() and chunk.strip()[:1].isalnum()
            before = a < ce and chunk[-1:] in (" ", "") and chunk.rstrip()[-1:].isalnum()
            side = "between" if after and before else "after" if prev_end >= 0 else "before"
            out.append((chunk.strip(" ,;:.!?\"'"), side, (after or prev_end < 0) and (before or a >= ce) and (after or before)))
        pos, prev_end = b, b
    return out


def _purpose(lx: Lex, run: str) -> bool:
    """ "for the pitch", "for the school play trailer": what the request is for, after its span
    ("Rough animatic for the pitch"); it goes with the clause, never keeps it."""
    words = [w.lower().strip(",.;:!?\"'") for w in run.split()]
    return len(words) >= 2 and words[0] in lx.closed["purpose_preps"] and (words[-1] in lx.containers or words[-1] in lx.request_words)


def _residue(lx: Lex, text: str, cs: int, ce: int, inside: list[tuple[int, int]]) -> bool:
    """Whether what a clause keeps once its spans go is only a modifier of them: a word or two
    glued to the span ("totally silent", "Instagram square", "storyboard pass", "Ten seconds is
    plenty", "for LinkedIn mobile" after "portrait orientation"). Never a phrase with its own
    article ("a [4K] sunset"), a clause, an "of" phrase, a motion ("blinking", "gently"), or style."""
    runs = [r for r in _runs(text, cs, ce, inside) if not (r[1] == "after" and _purpose(lx, r[0]))]
    if not runs or not all(glued for _w, _s, glued in runs):
        return False
    words = [w for run, _s, _g in runs for w in run.split()]
    bare = [w.lower().strip(",.;:!?\"'") for w in words]
    if any(w in lx.residue_kept for w in bare) or len(words) > 3 or sum(_is_content(lx, w) for w in bare) > 2:
        return False
    own: list[str] = []  # the words not tied to the span by a joiner: a clause of their own?
    for run, side, _g in runs:
        first = run.split()[0].lower()
        motion = first.endswith(("ing", "ly")) and first not in lx.ing_nouns
        if first in lx.dets or (side == "after" and first not in lx.residue_joiners and motion):
            return False
        if side == "after" and first in lx.preps and first not in lx.residue_joiners:
            return False
        if side == "before" and run.split()[-1].lower() in lx.preps:
            return False  # "Palette from [the link]", "a cat in [4K]": the span is its complement
        if not (side == "after" and first in lx.residue_joiners):
            own += run.split()
    low = " ".join(words).lower()
    styled = lx.style.may(low) and lx.style.search(" ".join(words)) is not None
    if find_moves(lx, " ".join(words)) or find_framing(lx, " ".join(words)):
        return False  # "animate [the image] static camera": camera language is the shot's, never the span's
    return not styled and not (len(own) > 1 and looks_clause(lx, own))


def _only_its_purpose(lx: Lex, rest: str) -> bool:
    """Whether what a clause keeps is an article and the purpose of the span it lost ("a [brand
    film] for a coffee roaster"): the deliverable and whom it is for, nothing the video shows."""
    words = [w.lower().strip(",;:.!?\"'") for w in rest.split()]
    while words and words[0] in lx.dets:
        words = words[1:]
    return len(words) >= 2 and words[0] in lx.closed["purpose_preps"] and not looks_clause(lx, words[1:])


_ORPHAN_POSSESSIVE = re.compile(r"(?:^|\s)['\u2019]s?(?![\w'])")


def _leaves_a_clause(lx: Lex, clause: str, rest: str) -> bool:
    """Whether the clause is still English once its spans are gone: no article or preposition
    left hanging ("a [span] about ..."), and the verb, if it had one, still there."""
    toks = [t for t in re.split(r"\s+", rest.strip()) if t]
    if _ORPHAN_POSSESSIVE.search(rest):
        return False  # "[For our client]'s museum installation": the span owns what follows it
    words = [t.lower().strip(",;:.!?\"'") for t in toks]
    gaps = [m.start() for m in re.finditer(r"\S\s{2,}(?=\S)|\s{2,}$", rest)]
    for g in gaps:
        before = rest[: g + 1].split()[-1].lower().strip(",;:\"'") if rest[: g + 1].split() else ""
        after = rest[g + 1:].split()
        nxt = after[0].lower().strip(",;:.!?\"'") if after else ""
        dangling = not nxt or nxt in lx.function_words or (nxt in lx.request_words and nxt not in lx.containers)
        if before in lx.dets and before not in lx.pronouns and nxt != "of" and dangling:
            return False
    if toks and words[0] in lx.conj - lx.closed["clause_joiners_kept"] and not any(_is_content(lx, w) for w in words[1:2]):
        return False
    whole = [t for t in clause.split() if t]
    if len(toks) > 1 and words[0].endswith("ing") and len(rest) - len(rest.lstrip()) > len(clause) - len(clause.lstrip()):
        return True  # "[15-second] establishing aerial over ...": the span only modified the words after it
    return not (looks_clause(lx, whole) and not looks_clause(lx, toks)) if len(toks) > 1 else True


def _apply(text: str, cut: list[tuple[int, int]]) -> tuple[str, list[str]]:
    merged: list[tuple[int, int]] = []
    for a, b in sorted(cut):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    out: list[str] = []
    removed: list[str] = []
    pos = 0
    for a, b in merged:
        out.append(text[pos:a])
        out.append(f" {MARK} ")
        phrase = " ".join(text[a:b].split()).strip(" ,;:.")
        if phrase:
            removed.append(phrase)
        pos = b
    out.append(text[pos:])
    return "".join(out), removed
