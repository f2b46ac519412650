"""Text helpers: normalising input, lifting spans out behind markers, tidying what is left."""

from __future__ import annotations

import re
from collections.abc import Callable

from skill.prompt.lexicon import Lex, get_lex
from skill.prompt.patterns import MARK, MARK_SPACED, Hit, Rx

__all__ = [
    "SENTENCES",
    "as_sentence",
    "cap",
    "clean_phrase",
    "cleanup",
    "cue_of",
    "double_quoted",
    "end_of",
    "join_clauses",
    "lift",
    "lift_with_prefix",
    "norm_space",
    "normalise_input",
    "scrub",
    "splice",
    "split_clauses",
    "split_sentences",
    "tidy",
    "two_word_prefix",
    "uncap",
    "walk_left",
]




def norm_space(s: str) -> str:
    return " ".join(s.split())


def clean_phrase(s: str) -> str:
    s = norm_space(s.replace(MARK, " "))
    return s.strip(" ,;:-—")


_QUOTES = str.maketrans(
    {
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"'),  # curly and angle double quotes
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", "'"),  # curly single quotes, prime
        "\t": " ",
        "\r": "\n",
        "\u00a0": " ",
        "\u2028": "\n",
        "\u2029": "\n",
    }
)


_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


# Emoji and pictographs (with their joiners and variation selectors): a chat's tone, no picture
# Kling reads ("need a shot of the atrium \U0001F44B", "\U0001F64F thx").
_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\uFE0F\u200D\u20E3]")


def scrub(text: str) -> str:
    """The caller's text without the builder's marker character and without emoji (same length,
    same offsets)."""
    text = text.replace(MARK, " ")
    return _EMOJI.sub(" ", text) if not text.isascii() else text


# A quote in single marks: an opening mark after a boundary, the nearest closing mark that is not
# inside a word ("You're"), with no double quote or line break between. Apostrophes ("it's", the
# players' bench) open nothing: an opening mark needs a boundary before it and a letter after it.
_SINGLE_QUOTED = re.compile(r"""(?:(?<=^)|(?<=[\s(:,=\[\u2014-]))'(?=[^\W_])((?:[^'"\n]|'(?=[^\W_])(?<=[^\W_]'))+?)'(?![^\W_])""")




_DQ_REGION = re.compile(r'"[^"\n]*"')


def _requoted(m: re.Match[str]) -> str:
    inner = m.group(1)
    if len(inner) < 2 or inner[-1:] == " " or get_lex().quoted_request.search(inner):  # a quoted request is not a line
        return m.group(0)
    return f'"{inner}"'


def double_quoted(text: str) -> str:
    """Single-quoted lines in double quotes ('Next!' -> "Next!"), so one quote mark means speech."""
    if "'" not in text:
        return text
    if '"' not in text:
        return _SINGLE_QUOTED.sub(_requoted, text)
    inside = [m.span() for m in _DQ_REGION.finditer(text)]  # "...Define 'last'.": a quote within a line stays

    def outside(m: re.Match[str]) -> str:
        return m.group(0) if any(a < m.start() < b for a, b in inside) else _requoted(m)

    return _SINGLE_QUOTED.sub(outside, text)


def normalise_input(text: str) -> str:
    text = double_quoted(_CTRL.sub(" ", text.translate(_QUOTES)))
    if len(text.lower()) != len(text):
        # a few characters ("İ") lowercase to two; patterns run on lowercased text with shared offsets
        text = "".join(ch if len(ch.lower()) == 1 else ch.lower()[0] for ch in text)
    lines = [" ".join(ln.split()) for ln in text.split("\n")]
    return "\n".join(ln for ln in lines if ln)


def lift(rx: Rx, s: str, on: Callable[[Hit], bool | None], low: str) -> str:
    """Replace every match for which ``on`` does not return False by a marker.

    ``low`` is the lowercased text before any lifting: a superset of what is left, so the
    pattern's pre-check stays valid.
    """
    if not rx.may(low):
        return s
    spans = [(h.start(), h.end()) for h in rx.hits(s) if on(h) is not False]
    return splice(s, spans)


def two_word_prefix(phrases: frozenset[str], second: str) -> Callable[[str], bool]:
    """A word test for ``walk_left``: the word and ``second`` form one of ``phrases`` ("lit by")."""

    def ok(w: str) -> bool:
        return f"{w.lower()} {second}" in phrases

    return ok


def lift_with_prefix(
    rx: Rx, s: str, record: list[str], prefix: frozenset[str], low: str, *, core: bool = False
) -> str:
    """Lift every match with the prefix words right before it ("using" Kling Pro).

    ``core``: record the match without its prefix words.
    """
    if not rx.may(low):
        return s
    spans: list[tuple[int, int]] = []
    last = 0
    for m in rx.hits(s):
        if m.start() < last:
            continue
        start, _ = walk_left(s, m.start(), lambda w: w.lower() in prefix, 4)
        start = max(start, last)
        record.append(clean_phrase(s[m.start() if core else start: m.end()]))
        spans.append((start, m.end()))
        last = m.end()
    return splice(s, spans)


def cue_of(s: str) -> str:
    """A cue phrase as a list item: no leading article, no sentence-start capital."""
    s = _strip_article(clean_phrase(s))
    if s[:1].isupper() and s[1:2].islower() and not any(w[:1].isupper() for w in s.split()[1:]):
        s = s[0].lower() + s[1:]
    return s


def _strip_article(s: str) -> str:
    low = s.lower()
    for a in ("a ", "an ", "the "):
        if low.startswith(a):
            return s[len(a):]
    return s


# --- camera ----------------------------------------------------------------------------------


def splice(s: str, spans: list[tuple[int, int]]) -> str:
    """Replace non-overlapping, ordered spans of ``s`` by markers."""
    if not spans:
        return s
    out: list[str] = []
    pos = 0
    for a, b in spans:
        out.append(s[pos:a])
        out.append(MARK_SPACED)
        pos = b
    out.append(s[pos:])
    return "".join(out)


# --- audio -----------------------------------------------------------------------------------


def walk_left(s: str, pos: int, ok: Callable[[str], bool], most: int, *, commas: bool = False) -> tuple[int, int]:
    """Walk left from ``pos`` over at most ``most`` words that satisfy ``ok``: (new start, count)."""
    gap = " \t," if commas else " \t"
    start, n = pos, 0
    while n < most:
        i = start
        while i > 0 and s[i - 1] in gap:
            i -= 1
        j = i
        while j > 0 and (s[j - 1].isalnum() or s[j - 1] in "'-_"):
            j -= 1
        if j == i or not ok(s[j:i]):
            break
        start, n = j, n + 1
    return start, n


# --- prose -----------------------------------------------------------------------------------


_SPACES = re.compile(r"[ \t]+")


# a run of punctuation with spaces: keep the strongest mark ("a , ." -> "a.")
_PUNCT_RUN = re.compile(r"\s*([,.;:!?])(?:\s*[,.;:!?])*")


_PARENS = re.compile(r"\([\s,;:.]*\)|\[[\s,;:.]*\]|(?<=\()\s+|\s+(?=\))")
# a dash whose other side was removed ("colours only -- [please don't animate it].")
_DANGLING_DASH = re.compile(r"\s+[-\u2013\u2014]+(?=\s*(?:[,.;:!?]|$))")
# a dash whose first side was removed (", — and its breath", "spotlight haze. — and he", "— —")
_EMPTIED_DASH = re.compile(r"(?<=[,;])\s+[-\u2013\u2014]+(?=\s)|(?:^|(?<=[.!?]))\s*[\u2013\u2014]+(?=\s)|(?<=\s)[\u2013\u2014](?=\s+[\u2013\u2014]\s)")


SENTENCES = re.compile(r"(?<=[.!?;])\s+|\n+")


def _punct(m: re.Match[str]) -> str:
    run = m.group(0)
    if "?" in run and "!" in run:
        return "."  # "... windows? [Thanks!!]": the request's own marks, not the picture's
    for mark in ".!?":
        if mark in run:
            return mark
    return m.group(1)


_DOUBLE_QUOTED = re.compile(r'"[^"\n]*"')


def _punct_outside_quotes(s: str) -> str:
    """Runs of marks collapsed, except inside a spoken line ("...the dog?" is what is said)."""
    if '"' not in s:
        return _PUNCT_RUN.sub(_punct, s)
    out: list[str] = []
    pos = 0
    for m in _DOUBLE_QUOTED.finditer(s):
        out += [_PUNCT_RUN.sub(_punct, _after_line(out, s[pos:m.start()])), m.group(0)]
        pos = m.end()
    return "".join([*out, _PUNCT_RUN.sub(_punct, _after_line(out, s[pos:]))])


def _after_line(out: list[str], chunk: str) -> str:
    """The text after a spoken line without the full stop its own stop already made
    ('"Not even close.".')."""
    m = _STOP_AFTER_LINE.match(chunk) if out and out[-1][-2:-1] in (".", "!", "?") else None
    return chunk[m.end():] if m is not None else chunk


# '"Not even close.".': the line's own stop ends the sentence, the one after it goes
_STOP_AFTER_LINE = re.compile(r"[ \t]*\.(?!\.)")


def tidy(s: str) -> str:
    s = _SPACES.sub(" ", s)
    if "(" in s or "[" in s:
        s = _PARENS.sub("", s)
    if "-" in s or "\u2013" in s or "\u2014" in s:
        s = _SPACES.sub(" ", _EMPTIED_DASH.sub("", _DANGLING_DASH.sub("", s)))
    if ")" in s and s.count(")") > s.count("("):
        s = _unmatched_closers(s)
    s = _punct_outside_quotes(s)
    return s.strip().lstrip(",.;:!?-— ").rstrip(",;:-— ")


def _unmatched_closers(s: str) -> str:
    """ "..., last-minute ask)": a bracket whose opening half went with a removed clause goes too."""
    out, depth = [], 0
    for k, ch in enumerate(s):
        if ch == "(":
            depth += 1
        elif ch == ")":
            if not depth and s[k + 1: k + 2] in ("", ".", ",", ";", "!", "?") and re.search(r"\w{2}$", s[:k]):
                continue  # not "a) establishing": a list's mark has no opening half
            depth = max(0, depth - 1)
        out.append(ch)
    return "".join(out)


_MARKER_RUN = re.compile(rf"[ \t]*{MARK}(?:[ \t]*{MARK})*[ \t]*")


def cleanup(lx: Lex, s: str) -> str:
    if MARK not in s:
        return s

    def article(m: re.Match[str]) -> str:
        art = m.group(1)
        an = m.group(2).lower() in "aeiou"
        new = ("an" if an else "a") if art.islower() else ("An" if an else "A")
        return f"{new} "

    # one marker per gap first: the patterns below would be quadratic over a long run of markers
    s = _MARKER_RUN.sub(MARK_SPACED, s)
    for _ in range(4):
        s, n = lx.c_around.subn(MARK_SPACED, s)
        if not n:
            break
        s = _MARKER_RUN.sub(MARK_SPACED, s)
    s = lx.c_article.sub(article, s)
    return s.replace(MARK, " ")


# --- sentences and clauses, quotes kept whole ---------------------------------------------------

_ENDS = ".!?;"


_SENTENCE_MARKS = re.compile(r'["\n.!?;]')  # the only characters split_sentences decides on
_CLAUSE_MARKS = re.compile(r'[",:]')  # the only characters split_clauses decides on


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, each with its end mark; a quoted line is never cut.

    A sentence ends at . ! ? or ; followed by a space (or at a line break); a quote that ends
    with . ! or ? and is followed by a capital ends its sentence too. Only the marks are
    visited (one regex scan), not every character.
    """
    out: list[str] = []
    start = 0
    quoted = False
    n = len(text)
    for m in _SENTENCE_MARKS.finditer(text):
        i = m.start()
        ch = text[i]
        if ch == '"':
            quoted = not quoted
            if not quoted and i > 0 and text[i - 1] in ".!?":
                j = i + 1
                while j < n and text[j] == " ":
                    j += 1
                if j >= n or text[j].isupper() or text[j] in '"[':
                    out.append(text[start : i + 1])
                    start = i + 1
        elif ch == "\n" or (not quoted and ch in _ENDS and (i + 1 >= n or text[i + 1] in " \n")):
            out.append(text[start : i + 1])
            start = i + 1
    out.append(text[start:])
    return [s.strip() for s in out if s.strip(" \n;")]


def split_clauses(sentence: str) -> list[tuple[str, str]]:
    """(clause, separator after it) for the comma and colon clauses of one sentence, outside quotes."""
    out: list[tuple[str, str]] = []
    start = 0
    quoted = False
    for m in _CLAUSE_MARKS.finditer(sentence):
        i = m.start()
        ch = sentence[i]
        if ch == '"':
            quoted = not quoted
        elif not quoted and not (ch == ":" and sentence[i + 1 : i + 2].isdigit()):
            out.append((sentence[start:i].strip(), ch))
            start = i + 1
    out.append((sentence[start:].strip(), ""))
    return [(c, sep) for c, sep in out if c]


def join_clauses(clauses: list[tuple[str, str]]) -> str:
    parts: list[str] = []
    for k, (c, sep) in enumerate(clauses):
        parts.append(c + (sep if k < len(clauses) - 1 and sep else ("," if k < len(clauses) - 1 else "")))
    return " ".join(parts)


def end_of(sentence: str) -> tuple[str, str]:
    """(body, end mark) of a sentence; the end mark is "" when it has none (or ends in a quote)."""
    s = sentence.rstrip()
    if s[-1:] in ".!?;" and not s.endswith('"'):
        return s[:-1].rstrip(), "." if s[-1] == ";" else s[-1]
    return s, ""


def cap(s: str) -> str:
    """The first letter in upper case (after a quote or bracket)."""
    for i, ch in enumerate(s):
        if ch.isalpha():
            return s[:i] + ch.upper() + s[i + 1 :]
        if ch not in "\"'([ ":
            return s
    return s


def uncap(s: str, names: frozenset[str] = frozenset()) -> str:
    """The first word in lower case unless it is a name (in ``names``), an acronym or "I"."""
    word = s.split(" ", 1)[0]
    bare = word.strip(",.;:!?\"'")
    if not word[:1].isupper() or bare == "I" or word[1:2].isupper() or bare in names:
        return s
    return s[:1].lower() + s[1:]


def as_sentence(s: str) -> str:
    """``s`` with a capital and an end mark."""
    s = s.strip().strip(",;: ")
    if not s:
        return ""
    s = cap(s)
    return s if s[-1] in ".!?\"" else s + "."
