"""Just enough English grammar: verbs, subjects, noun phrases and the entities they introduce."""

from __future__ import annotations

from collections.abc import Sequence

from skill.prompt.lexicon import Lex
from skill.prompt.patterns import MARK
from skill.prompt.state import Entity

__all__ = [
    "find_entities",
    "is_verb",
    "looks_clause",
    "looks_like_place",
    "np_end",
    "split_subject",
    "subject_of",
    "word_of",
]


def subject_of(lx: Lex, clause: str) -> str:
    toks = clause.replace(MARK, " ").split()
    if not toks:
        return ""
    subj, _ = split_subject(lx, toks)
    return " ".join(subj).strip(" ,")


def looks_clause(lx: Lex, words: list[str]) -> bool:
    toks = [w.strip(",.") for w in words]
    ws = _words_of(toks)
    return any(is_verb(lx, toks, k, 0, ws) for k in range(1, len(toks)))


def looks_like_place(lx: Lex, phrase: str) -> bool:
    """Whether a phrase ends with a scene noun ("a small cafe", "the living room")."""
    words = phrase.lower().replace(MARK, " ").split()
    if not words:
        return False
    last = words[-1].strip(",.;:!?\"'")
    if last in lx.scene_one or (last.endswith("s") and last[:-1] in lx.scene_one):
        return True
    return len(words) > 1 and f"{words[-2]} {last}" in lx.scene_two


_WORD_STRIP = ",.;:!?\"()"


def word_of(t: str) -> str:
    return t.lower().strip(_WORD_STRIP)


def _words_of(toks: Sequence[str]) -> list[str]:
    return [t.lower().strip(_WORD_STRIP) for t in toks]


def is_verb(lx: Lex, toks: Sequence[str], k: int, start: int, ws: Sequence[str] | None = None) -> bool:
    """Whether ``toks[k]`` looks like the verb of a clause whose noun phrase starts at ``start``."""
    if ws is None:
        ws = _words_of(toks)
    w = ws[k]
    if not w or w in lx.function_words or not w.replace("-", "").isalpha():
        return False
    if w in lx.verbs:
        return k > start
    prev = ws[k - 1] if k > start else None
    n = len(ws)
    nxt = ws[k + 1] if k + 1 < n else None
    light = lx.light
    if w.endswith("ing") and len(w) > 4 and w not in lx.ing_nouns and w.rsplit("-", 1)[-1] not in lx.ing_nouns:
        return prev is not None  # (not "re-opening", "hand-painting": nouns in -ing after a prefix)
    if prev is None:
        return False
    prev_det = prev in lx.dets or prev.endswith("'s") or prev.isdigit() or prev in lx.numbers
    if prev == "one" and k - 1 > start:
        prev_det = False  # "the older one slams": "one" is the noun the article began
    if w.endswith("ed") and len(w) > 4:
        return not prev_det and (nxt is None or nxt in light or nxt.endswith("ly"))
    if w.endswith("s") and not w.endswith("ss") and "'" not in w and w not in lx.s_nouns and len(w) > 2:
        if prev_det or (nxt in lx.verbs and not nxt.endswith("s")) or _plural_head(lx, ws, k, start):
            return False  # "the dogs", "two old friends sit", "two chess players ponder"
        if nxt is None or nxt in light or nxt.endswith("ly") or toks[k].endswith(","):
            return True
        nxt2 = ws[k + 2] if k + 2 < n else None
        return nxt2 is None or nxt2 in light or toks[k + 1].endswith(",")
    if prev.endswith("s") and not prev.endswith("ss") and prev not in lx.function_words and not prev_det:
        # a base verb after a plural noun ("two dogs run across")
        return nxt is None or nxt in light or nxt.endswith("ly")
    return False


def _plural_head(lx: Lex, ws: Sequence[str], k: int, start: int) -> bool:
    """Whether the -s word at ``k`` is the plural head of its noun phrase, not a verb: its phrase
    opens on a number or a plural determiner ("two chess players ponder"), or a verb in -s follows
    it ("a runner in white sneakers sprints through")."""
    n = len(ws)
    nxt, nxt2 = (ws[k + 1] if k + 1 < n else None), (ws[k + 2] if k + 2 < n else None)
    attached = any(x in lx.preps for x in ws[max(0, start - 1): k])  # "a runner in white sneakers", not "a girl paints"
    if attached and nxt and nxt.endswith("s") and not nxt.endswith("ss") and nxt not in lx.s_nouns \
            and nxt not in lx.function_words and (nxt2 is None or nxt2 in lx.light):
        return True
    opener = ws[start] if start < k else ""
    counted = (opener.isdigit() and opener != "1") or lx.numbers.get(opener, 0) > 1 or opener in lx.plural_dets
    return counted and not any(x.endswith("s") and not x.endswith("ss") and x not in lx.s_nouns for x in ws[start + 1: k])


def split_subject(lx: Lex, toks: list[str]) -> tuple[list[str], list[str]]:
    """Split a sentence's words into subject and the rest, at the first verb."""
    if not toks:
        return [], []
    ws = _words_of(toks)
    if ws[0] in lx.pronouns:
        return toks[:1], toks[1:]
    for k in range(1, min(len(toks), 14)):
        if ws[k] in lx.np_stop:
            return (toks[:k], toks[k:]) if k <= 12 else ([], toks)
        if is_verb(lx, toks, k, 0, ws):
            return toks[:k], toks[k:]
    return (toks, []) if len(toks) <= 10 else ([], toks)


def np_end(lx: Lex, toks: list[str], i: int, ws: Sequence[str] | None = None) -> int:
    """End (exclusive) of the noun phrase core starting at toks[i] (a determiner)."""
    if ws is None:
        ws = _words_of(toks)
    j = i + 1
    while j < len(toks) and j - i <= 5:
        w = ws[j]
        if not w or w in lx.function_words or is_verb(lx, toks, j, i, ws):
            break
        j += 1
        if toks[j - 1][-1:] in ",.;:!?":
            break
    return j


def find_entities(lx: Lex, prose: list[str]) -> list[Entity]:
    found: list[Entity] = []
    for sentence in prose:
        toks = sentence.split()
        ws = _words_of(toks)
        i = 0
        while i < len(toks):
            w = ws[i]
            clause_start = i == 0 or toks[i - 1][-1:] in ",;:"
            if w in lx.indef or (clause_start and w in lx.dets and w not in lx.pronouns):
                j = _attached(lx, toks, ws, i, np_end(lx, toks, i, ws))
                if j - i >= 2:
                    words = [t.strip(",.;:!?\"") for t in toks[i:j]]
                    owner = next((n for n in range(1, len(words)) if words[n].lower().endswith("'s")), 0)
                    if owner:
                        # "an old clockmaker's hands": the owner is the character
                        _add_entity(lx, found, [*words[:owner], words[owner][:-2]], clause_start, indefinite=w in lx.indef)
                    _add_entity(lx, found, words, clause_start, indefinite=w in lx.indef)
                i = max(j, i + 1)
            else:
                i += 1
    return found


def _attached(lx: Lex, toks: list[str], ws: Sequence[str], i: int, j: int) -> int:
    """The end of a noun phrase with one attached description ("a barista with a red apron",
    "two kids in raincoats")."""
    if j - i < 2 or toks[j - 1][-1:] in ",.;:!?" or j + 1 >= len(toks) or ws[j] not in lx.attach:
        return j
    if ws[j + 1] in lx.dets:
        k = np_end(lx, toks, j + 1, ws)
        return k if k - (j + 1) >= 2 else j
    k = j + 1
    while k < len(toks) and k - j <= 3 and ws[k] and ws[k] not in lx.function_words and not is_verb(lx, toks, k, j + 1, ws):
        k += 1
        if toks[k - 1][-1:] in ",.;:!?":
            break
    return k if k > j + 1 else j


def _add_entity(lx: Lex, found: list[Entity], words: list[str], first: bool, *, indefinite: bool) -> None:
    core_end = next((n for n in range(1, len(words)) if words[n].lower() in lx.attach), len(words))
    head = words[core_end - 1].lower()
    if not head.replace("-", "").isalpha() or head in lx.function_words or len(head) < 3:
        return
    is_place = looks_like_place(lx, " ".join(words[:core_end]))
    singular = head[:-1] if head.endswith("s") and not head.endswith("ss") else head
    found.append(
        Entity(
            full=" ".join(words),
            head=head,
            label=" ".join(words[1:core_end]).capitalize() if core_end > 1 else head.capitalize(),
            rich=len(words) > 2,
            plural=(head.endswith("s") and not head.endswith("ss"))
            or (words[0].lower() in lx.numbers and words[0].lower() != "one"),
            subject=first and not is_place,
            person=(head in lx.people or singular in lx.people) or (indefinite and not is_place and first),
        )
    )


# --- verb and adverb forms (regular English; irregular ones come from the vocabulary) -----------

_VOWELS = "aeiou"


def third_person(verb: str) -> str:
    """flicker -> flickers, sway -> sways, fly -> flies, watch -> watches, go -> goes."""
    v = verb.lower()
    if v.endswith(("s", "x", "z", "ch", "sh", "o")):
        out = verb + "es"
    elif v.endswith("y") and len(v) > 1 and v[-2] not in _VOWELS:
        out = verb[:-1] + "ies"
    else:
        out = verb + "s"
    return out


def base_of(verb: str) -> str:
    """runs -> run, flies -> fly, watches -> watch, crosses -> cross (the reverse of third_person)."""
    v = verb.lower()
    if v.endswith("ies") and len(v) > 4:
        return verb[:-3] + "y"
    if v.endswith(("ches", "shes", "sses", "xes", "zes", "oes")):
        return verb[:-2]
    if v.endswith("s") and not v.endswith("ss"):
        return verb[:-1]
    return verb


def ing_form(verb: str) -> str:
    """run -> running, glide -> gliding, tie -> tying, cross -> crossing, sway -> swaying."""
    v = verb.lower()
    if v.endswith("ie"):
        return verb[:-2] + "ying"
    if v.endswith("e") and not v.endswith(("ee", "ye", "oe")) and len(v) > 2:
        return verb[:-1] + "ing"
    short = len(v) == 3 or (len(v) == 4 and v[0] not in _VOWELS and v[1] not in _VOWELS)
    if short and v[-1] not in _VOWELS + "wxy" and v[-2] in _VOWELS and v[-3] not in _VOWELS:
        return verb + verb[-1] + "ing"  # run -> running, stop -> stopping
    return verb + "ing"


def adjective_of(adverb: str, irregular: dict[str, str]) -> str:
    """angrily -> angry, coldly -> cold, gently -> gentle (from ``irregular``), softly -> soft."""
    a = adverb.lower()
    if a in irregular:
        return irregular[a]
    if a.endswith("ily") and len(a) > 4:
        return a[:-3] + "y"
    if a.endswith("ly") and len(a) > 4:
        return a[:-2]
    return a
