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

from skill.prompt.lexicon import Lex
from skill.prompt.patterns import MARK

__all__ = ["quoted_regions", "strip_instructions"]

_QUOTE_PAIRS = re.compile(r'"[^"\n]*"|\u201c[^\u201d\n]*\u201d')
_BREAK = re.compile(rf"[,.;:!?\n()\[\]{MARK}]|\s[-\u2013\u2014]\s|\u2014")
_TOKEN = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*|\$\d")


def quoted_regions(text: str) -> list[tuple[int, int]]:
    """Where the quoted lines are (straight or curly quotes)."""
    return [m.span() for m in _QUOTE_PAIRS.finditer(text)]


def _words(text: str) -> list[str]:
    out: list[str] = []
    for tok in _TOKEN.findall(text.lower()):
        out.extend(p for p in re.split(r"['\u2019]", tok) if p)
    return out


def _is_content(lx: Lex, word: str) -> bool:
    return (
        len(word) > 1
        and not word.isdigit()
        and word not in lx.function_words
        and word not in lx.request_words
    )


def _names_a_sound(lx: Lex, phrase: str) -> bool:
    words = _words(phrase)
    return bool(lx.sound_word.search(phrase.lower())) and any(w not in lx.switch_words for w in words)


def _protected(lx: Lex, text: str) -> list[tuple[int, int]]:
    regions = quoted_regions(text)
    if lx.header.may(text.lower()):
        regions += [(h.start(), h.end()) for h in lx.header.hits(text)]
    return regions


def _breaks(text: str, quotes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The clause breaks (punctuation, dashes) outside the quoted lines."""
    return [m.span() for m in _BREAK.finditer(text) if not any(a <= m.start() < b for a, b in quotes)]


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


def strip_instructions(lx: Lex, text: str, spans: Sequence[tuple[int, int]]) -> tuple[str, list[str]]:
    """The text with the routing spans removed (markers left), and the removed phrases in order."""
    if not spans or not text:
        return text, []
    quotes = quoted_regions(text)
    guarded = _protected(lx, text)
    keep = [
        (a, b)
        for a, b in spans
        if 0 <= a < b <= len(text)
        and not any(a < y and x < b for x, y in guarded)
        and not _names_a_sound(lx, text[a:b])
    ]
    if not keep:
        return text, []
    breaks = _breaks(text, quotes)
    by_clause: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for a, b in keep:
        by_clause.setdefault(_clause_of(breaks, a, b, len(text)), []).append((a, b))
    cut: list[tuple[int, int]] = []
    for (cs, ce), inside in by_clause.items():
        rest = text[cs:ce]
        for a, b in sorted(inside, reverse=True):
            rest = rest[: a - cs] + " " * (b - a) + rest[b - cs:]
        left = [w for w in _words(rest) if _is_content(lx, w)]
        if not left or (len(left) == 1 and text[ce:ce + 1] == ":" and cs == 0):
            # only an instruction, or a one-word title before a colon ("Product hero shot:")
            cut.append((cs, ce + (text[ce:ce + 1] == ":")))
            continue
        for a, b in inside:
            following = text[b:ce]
            if any(x == b or (b < x and not text[b:x].strip()) for x, _y in inside):
                following = MARK
            cut.append((_governing(lx, text, a, b, following.lstrip() or MARK), b))
    return _apply(text, cut)


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
