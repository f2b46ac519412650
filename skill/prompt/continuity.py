"""Continuity: Kling's shots (and calls) share no context, so a later shot restates briefly what
the first established [S28][S22] -- who (with their wardrobe and props), the place, the light --
in the caller's own words, never inventing ("a bus" is not restated from "a bus stop").

* a pronoun that opens a later shot's action names its referent ("she tamps" -> "the barista with
  the red apron tamps"); "the younger one" names its noun ("the younger detective");
* a later shot that does not name a place gets the film's first place ("... in the small cafe"),
  and its time of day when it has no light of its own;
* a shot with no subject of its own ("then docking at a pier") takes the previous one's;
* the preamble's style and mood ("Moody, desaturated.") are said in every shot;
* each spoken line is tagged with its speaker's noun phrase, and lines of different speakers are
  linked ("Immediately," "After a pause,") so they do not overlap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cache

from skill.prompt.dialogue import Line
from skill.prompt.grammar import (
    base_of,
    find_entities,
    ing_form,
    looks_clause,
    looks_like_place,
    np_end,
    split_subject,
)
from skill.prompt.lexicon import Lex
from skill.prompt.state import Entity
from skill.prompt.story import Beat, Item, Story
from skill.prompt.text import cap, norm_space, uncap
from skill.textmatch import word_alternation

__all__ = ["Restated", "continuation", "definite", "restate_beats", "speaker_label"]



@dataclass(frozen=True)
class _Rx:
    """The patterns of this module, built from the vocabulary's closed word classes."""

    indefinite: re.Pattern[str]
    one: re.Pattern[str]
    pronoun: re.Pattern[str]
    possessive: re.Pattern[str]
    thing: re.Pattern[str]
    quantified: re.Pattern[str]


@cache
def _rx(lx: Lex) -> _Rx:
    c, g = lx.v.closed_words, lx.v.grammar
    return _Rx(
        # not "ninety-one", nor the "a" of "one and a half": a number is no article
        indefinite=re.compile(rf"(?<![\w'-])(?<!\band )(?:{word_alternation(g.indefinite)})(?=\s)(?!\s+and\s+an?\s+half\b)", re.IGNORECASE),
        one=re.compile(rf"(?<![\w'])({word_alternation(c.one_determiners)})\s+((?:[\w-]+\s+){{1,2}}?)one(?![\w'])",
                       re.IGNORECASE),
        pronoun=re.compile(rf"(?<![\w'])({word_alternation(g.pronouns)})(?![\w'])", re.IGNORECASE),
        possessive=re.compile(rf"^(?:(.*?,\s*))?({word_alternation(c.possessive_determiners)})\s+(?=\w)", re.IGNORECASE),
        thing=re.compile("|".join(rf"(?<=[a-z]s ){re.escape(w)}(?![\w'])" for w in c.thing_pronouns)),
        quantified=re.compile(rf"(?:{word_alternation(c.quantified_of)})\s+of\s"),
    )
_ASIDE = re.compile(r"\s*\(([^()]{1,40})\)")


def definite(lx: Lex, full: str) -> str:
    """ "a barista with a red apron" -> "the barista with the red apron"."""
    first, _, rest = full.partition(" ")
    if first.lower() in lx.numbers or first.isdigit():
        return f"the {full}"
    if first.lower() in lx.requester_words or first.lower() in lx.closed["demonstratives"]:
        full = f"the {rest}"
    return _rx(lx).indefinite.sub("the", full)


def _referent(lx: Lex, known: list[Entity], plural: bool) -> Entity | None:
    """The latest person; one whose noun names a person ("the keeper", "a barista") before one that
    was only introduced with "a" ("a small sailboat")."""
    people = [e for e in known if e.person and e.plural == plural]
    named = [e for e in known if e.plural == plural and (e.person or e.subject) and (
        base_of(e.head) in lx.people or e.head in lx.people or base_of(e.head).endswith(lx.person_endings))]
    return (named or people)[-1] if (named or people) else None


def _head_of(lx: Lex, known: list[Entity]) -> str:
    """The noun "one" stands for: the latest plural group's, in the singular ("two detectives")."""
    for e in reversed(known):
        if e.plural and e.person:
            return base_of(e.head)
    last = known[-1] if known else None  # not "the other" itself ("the other laughs" -> "the other other")
    return last.head if last is not None and last.head not in lx.ordinal_words else ""


def _one(lx: Lex, text: str, known: list[Entity]) -> str:
    """ "the younger one" -> "the younger detective"; "the other laughs" -> "the other friend laughs"."""
    head = _head_of(lx, known)
    if not head:
        return text
    if " one" in text:
        text = _rx(lx).one.sub(lambda m: m.group(0) if _named_after(text, m, head) else f"{m.group(1)} {m.group(2)}{head}", text)
    if not any(e.plural for e in known):
        return text  # "the first stars": an ordinal stands for a noun only of a group ("two friends")
    return lx.ordinal.sub(lambda m: f"{m.group(1)} {m.group(2)} {head}", text)


def _named_after(text: str, m: re.Match[str], head: str) -> bool:
    """ "the billboard (the digital one): a giant wave ...": "one" points back, so a noun the text
    names only after it is not what it stands for."""
    rx = re.compile(rf"(?<![\w']){re.escape(head)}(?![\w'])", re.IGNORECASE)
    return rx.search(text, m.end()) is not None and rx.search(text, 0, m.start()) is None


def speaker_label(lx: Lex, speaker: str, known: list[Entity]) -> str:
    """The tag of a line: the speaker's noun phrase without article or attachments ("Barber")."""
    s = norm_space(_one(lx, speaker + " says", known)[: -len(" says")]).strip(" ,\"'")
    low = s.lower()
    if _rx(lx).quantified.match(low):
        return cap(s)  # "one of them": the phrase is the tag
    low = lx.object_pronouns.get(low, low).lower() if low in lx.closed["object_persons"] else low
    if low in lx.pronouns or low in lx.closed["speaking_persons"]:
        ent = _referent(lx, known, plural=low == "they")
        return ent.label if ent else lx.pronoun_speakers.get(low, lx.v.dialogue.default_speaker)
    toks = s.split()
    group = _head_of(lx, known)
    grouped = any(e.plural and e.person for e in known)  # "his son" of one mother is no "other son"
    if len(toks) == 2 and toks[0].lower() in lx.closed["possessive_determiners"] and grouped and base_of(toks[1].lower()) == group:
        return f"Other {group}"  # "his friend" of "two old friends": the other one of the group
    if toks and (toks[0].lower() in lx.dets or toks[0].lower() in lx.requester_words):
        toks = toks[1:]
    cut = next((n for n, t in enumerate(toks) if t.lower() in lx.attach or (n and t.lower() in lx.preps)), len(toks))
    toks = toks[:cut] or toks
    named = [n for n, t in enumerate(toks) if n and t[:1].isupper()]
    if named and toks[0][:1].islower():
        return " ".join(toks[named[0]: named[-1] + 1])  # "her grandson Mateo at the table": the name is the tag
    head = toks[-1].lower() if toks else ""
    richer = [e for e in known if e.head == head and len(e.label.split()) > len(toks)]
    if richer:
        return richer[-1].label
    out = " ".join(toks)
    return out[:1].upper() + out[1:] if out else lx.v.dialogue.default_speaker


@dataclass
class Restated:
    """A beat ready to render: its items after continuity, and what was added (for trimming)."""

    items: list[Item]
    added_place: str = ""
    added_style: tuple[str, ...] = ()


def _subject(lx: Lex, beat: Beat) -> str:
    first = next((x for x in beat.items if isinstance(x, str)), "")
    clause = first.split(",")[-1] if "," in first else first
    subj, _rest = split_subject(lx, clause.split())
    return " ".join(subj)


def _subjectless(lx: Lex, text: str) -> bool:
    """Whether a beat opens on its verb ("docking at a pier", "sips it"), not on a subject
    ("seagulls fly across the sky": a plural noun before its verb)."""
    toks = text.split()
    if not toks:
        return False
    w = toks[0].lower().strip(",.")
    if w in lx.dets or w in lx.pronouns or w in lx.closed["non_subject_openers"] or (toks[0][:1].isupper() and w not in lx.verbs):
        return False
    if w.endswith("ing") and w not in lx.ing_nouns:
        return True
    nxt = toks[1].lower().strip(",.") if len(toks) > 1 else ""
    verb_like = w in lx.verbs or (w.endswith("s") and not w.endswith("ss") and w not in lx.s_nouns)
    # "kids in animal costumes take a bow": a plural subject, its verb further on (but not a verb
    # after "where": "spins into a puddle where a boot splashes down" opens on its verb)
    main = next((toks[:n] for n, t in enumerate(toks) if n and t.lower().strip(",.") in lx.conj), toks)
    if verb_like and w not in lx.verbs and looks_clause(lx, main):
        return False
    return verb_like and (not nxt or nxt in lx.function_words or nxt in lx.grammar_particles or nxt in lx.closed["thing_pronouns"])


def _name_pronoun(lx: Lex, text: str, known: list[Entity]) -> str:
    """The first subject pronoun of a later shot says who it is."""
    for m in _rx(lx).pronoun.finditer(text):
        after = text[m.end():].split()
        if not after or after[0].lower().strip(",.") in lx.function_words:
            continue
        ent = _referent(lx, known, plural=m.group(1).lower() == "they")
        owner = lx.possessives.get(m.group(1).lower(), "")
        if ent is None or (owner and re.search(rf"(?<![\w']){owner}(?![\w'])", text[: m.start()], re.IGNORECASE)):
            return text  # "close-up of her face as she exhales": the shot already says whose, so "she" stays
        name = definite(lx, ent.full)
        name = cap(name) if m.start() == 0 else name
        return text[: m.start()] + name + text[m.end():]
    return text


def _name_it(lx: Lex, text: str, before: Beat) -> str:
    """ "It slips down a drain" after "the boat races along the water": a later shot opening on
    "it" says what it is, the thing the shot before was about (never a person: they are "she")."""
    toks = text.split()
    if len(toks) < 2 or toks[0].lower() != "it" or toks[1].lower() in lx.function_words:
        return text
    subj = _subject(lx, before)
    words = subj.split()
    if not words or words[0].lower() not in lx.dets or words[0].lower() in lx.pronouns:
        return text
    head = base_of(words[-1].lower())
    if head in lx.people or words[-1].lower() in lx.people or words[-1].lower().endswith("s"):
        return text
    return cap(definite(lx, subj)) + text[2:]


def _name_possessive(lx: Lex, text: str, known: list[Entity]) -> str:
    """A later shot that opens on "his dog" says whose ("the boy's dog")."""
    m = _rx(lx).possessive.match(text)
    if m is None:
        return text
    ent = _referent(lx, known, plural=m.group(2).lower() == "their")
    if ent is None:
        return text
    owner = definite(lx, " ".join(ent.full.split()[: len(ent.label.split()) + 1]))
    name = f"{owner}'s "
    name = cap(name) if m.start(2) == 0 else name
    return text[: m.start(2)] + name + text[m.end():]




def _things(lx: Lex, lines: list[str]) -> list[str]:
    """The heads of the noun phrases of some sentences that are not people or places."""
    out: list[str] = []
    for line in lines:
        toks = line.split()
        for i, t in enumerate(toks):
            w = t.lower().strip(",.;:!?\"")
            if w not in lx.dets or w in lx.pronouns:
                continue
            j = np_end(lx, toks, i)
            if j - i < 2:
                continue
            np = " ".join(x.strip(",.;:!?\"") for x in toks[i + 1: j]).lower()
            head = np.split()[-1]
            if head not in lx.people and base_of(head) not in lx.people and not looks_like_place(lx, np):
                out.append(np)
    return out


def _name_object(lx: Lex, text: str, before: list[Beat]) -> str:
    """ "a wave washes it away": a later shot's object pronoun names the one thing the earlier
    shots named ("the sandcastle"); with two candidates ("the kettle", "the tea") it stays."""
    m = _rx(lx).thing.search(text)
    if m is None:
        return text
    plural = m.group(0) == "them"
    head = text[: m.start()].split()
    named = " ".join(head[len(split_subject(lx, head)[0]):])  # after the shot's own subject
    if any((np.split()[-1].endswith("s") and not np.endswith("ss")) == plural for np in _things(lx, [named])):
        return text  # "throws a ball, and the dog catches it": the shot names its own thing first
    lines = [x for b in before for x in b.items if isinstance(x, str)]
    heads = dict.fromkeys(np for np in _things(lx, lines) if (np.split()[-1].endswith("s") and not np.endswith("ss")) == plural)
    if len(heads) != 1:
        return text
    return text[: m.start()] + "the " + next(iter(heads)) + text[m.end():]


def _prep_for(lx: Lex, place: str) -> str:
    words = place.lower().split()
    last = words[-1] if words else ""
    two = " ".join(words[-2:])
    if last in lx.on_nouns or two in lx.on_nouns:
        return "on"
    if last in lx.at_nouns or two in lx.at_nouns:
        return "at"
    return "in"


def _append(text: str, extra: str) -> str:
    body = text.rstrip()
    end = body[-1] if body[-1:] in ".!?" else ""
    body = body[:-1] if end else body
    return f"{body} {extra}{end or '.'}"


def _place_of(lx: Lex, story: Story, upto: int) -> tuple[str, str]:
    """The place and time of day the first beat established, said before beat ``upto`` (a place
    a later beat passes through, "tips over a little waterfall", is not where the film is)."""
    place = story.beats[0].place if story.beats and upto > 0 else ""
    if not place:
        place = next((m.group(0) or "" for np in story.subject_nps for m in lx.place_np.hits(np)), "")
    time = story.beats[0].time if story.beats and upto > 0 else ""
    return place, time


def _restate_one(lx: Lex, story: Story, k: int, known: list[Entity]) -> Restated:
    beat = story.beats[k]
    items: list[Item] = [_one(lx, x, known) if isinstance(x, str) else replace(x) for x in beat.items]
    first = next((n for n, x in enumerate(items) if isinstance(x, str)), None)
    out = Restated(items)
    if first is None or k == 0:
        return out
    text = str(items[first])
    if _subjectless(lx, text):
        subj = next((_subject(lx, b) for b in reversed(story.beats[:k])
                     if _subject(lx, b) and not _subjectless(lx, b.text)), "")  # "then catches a wave" has none
        if subj and subj.lower() not in lx.pronouns:
            text = f"{definite(lx, subj)} {text}"
    text = _name_it(lx, _name_pronoun(lx, _name_possessive(lx, text, known), known), story.beats[k - 1])
    text = _name_object(lx, text, story.beats[:k])
    place, time = _place_of(lx, story, k)
    low = beat.text.lower()
    if place and not beat.place and place.split()[-1].lower() not in low:
        extra = f"{_prep_for(lx, place)} {definite(lx, place) if not place.lower().startswith('the ') else place}"
        if time and not beat.time:
            extra += f" {time}"
        text = _append(text, extra)
        out.added_place = extra
    items[first] = cap(text)
    return out


def restate_beats(lx: Lex, story: Story, start: int, stop: int) -> list[Restated]:
    """The beats start..stop of the story, each restating what earlier beats established."""
    known: list[Entity] = find_entities(lx, story.subject_nps) if story.subject_nps else []
    for b in story.beats[:start]:
        known = _learn(lx, known, b)
    out: list[Restated] = []
    multi = len(story.beats) > 1
    for k in range(start, stop):
        here = _learn(lx, known, story.beats[k])
        r = _restate_one(lx, story, k, known if k > 0 else here)
        if story.subject_np and multi:
            if not _subject_np(lx, story, r) and k == 0:
                r.items = [*r.items, _sentence(story.subject_np)]
        elif k == 0 and story.subject_nps and multi:
            # the preamble's noun phrases ("a girl and her kite:") close the first shot
            r.items = [*r.items, *(_sentence(np) for np in story.subject_nps)]
        if story.preamble and (multi or story.source == "field"):
            r.added_style = tuple(story.preamble)
            r.items = [*r.items, *story.preamble]
        _label_lines(lx, r.items, here)
        out.append(r)
        known = here
    return out


def _sentence(np: str) -> str:
    return cap(np.rstrip(" :,;")) + "."


def _learn(lx: Lex, known: list[Entity], beat: Beat) -> list[Entity]:
    heads = {e.head for e in known}
    found = find_entities(lx, [x for x in beat.items if isinstance(x, str)])
    return known + [e for e in found if e.head not in heads]


def _subject_np(lx: Lex, story: Story, r: Restated) -> bool:
    """A preamble that names the film's subject ("my sneaker:") is said in each verbless shot
    ("close-up on the sole of the sneaker"); False when this shot could not take it."""
    np = definite(lx, story.subject_np)
    head = np.split()[-1].lower()
    first = next((n for n, x in enumerate(r.items) if isinstance(x, str)), None)
    if first is None:
        return False
    if head in " ".join(str(x) for x in r.items if isinstance(x, str)).lower():
        _name_subject(r, np)
        return True
    text = str(r.items[first])
    toks = text.rstrip(".!?").split()
    if toks and not split_subject(lx, toks)[1]:
        r.items[first] = _append(text, f"of {np}")
        return True
    return False


def _name_subject(r: Restated, np: str) -> None:
    """ "the lamp clicks on" under "Teaser for the Aurora desk lamp:" -> "the Aurora desk lamp
    clicks on": a shot that names the film's subject by its head noun says it whole (shots share
    no context [S28], and the preamble's words are said nowhere else); "a lamp" or "the brass lamp"
    (the caller's own description) stays."""
    words = np.split()
    if len(words) < 3:
        return
    head = re.escape(words[-1])
    rx = re.compile(rf"(?:(?<=^)|(?<=[,;:]\s)|(?<=\bthe\s)|(?<=\bThe\s))(?<![\w'-]){head}(?![\w-])", re.IGNORECASE)
    for n, it in enumerate(r.items):
        if not isinstance(it, str) or np.lower() in it.lower():
            continue
        m = rx.search(it)
        if m is None:
            continue
        start = m.start() - 4 if it[max(0, m.start() - 4): m.start()].lower() == "the " else m.start()
        said = np if start > 0 or not it[:1].isupper() else cap(np)
        r.items[n] = it[:start] + said + it[m.end():]
        return


def _label_lines(lx: Lex, items: list[Item], known: list[Entity]) -> None:
    prev: Line | None = None
    names = frozenset(  # the speakers' names ("Hale"), not a capitalised article or noun ("The", "Girl")
        w for x in items if isinstance(x, Line) for w in x.speaker.split()
        if w[:1].isupper() and w.lower() not in lx.function_words and w.lower() not in lx.dets and w.lower() not in lx.people
    )
    for n, it in enumerate(items):
        if not isinstance(it, Line):
            continue
        aside = _ASIDE.search(it.speaker)
        if aside is not None:  # "Mom (cheerful) asks": the bracket is the tone, not the name
            it.speaker = norm_space(it.speaker[: aside.start()] + it.speaker[aside.end():])
            it.tone = ", ".join(x for x in (aside.group(1).strip(), it.tone) if x)
        it.label = speaker_label(lx, it.speaker, known)
        if prev is not None and prev.label != it.label:
            word = lx.linking["reply" if it.reply else "other"]
            before = items[n - 1] if n > 0 else None
            if isinstance(before, str) and not before.lower().startswith(tuple(w.lower() for w in lx.linking.values())):
                items[n - 1] = f"{word} {uncap(before, names)}"  # "After a pause, Hale leans back"
            else:
                it.link = word
        prev = it


def continuation(lx: Lex, story: Story, nth: int = 1) -> list[Item]:
    """What the ``nth`` call after the story's last beat says: the same subject, going on with its
    action ("The surfer keeps paddling out"), or more of the same scene ("More of the snowfall over
    the mountain village"), worded differently in each call so that none repeats another."""
    last = story.beats[-1] if story.beats else None
    text = next((x for x in last.items if isinstance(x, str)), "") if last else ""
    cont = lx.v.continuation
    lead = cont.leads[(nth - 1) % len(cont.leads)]
    lead = f"{lead} " if lead else ""
    if not text:
        return [] if last is None or last.items else [cap(f"{lead}{cont.bare}.")]
    toks = text.rstrip(".!?").split()
    subj, rest = split_subject(lx, toks)
    plural = bool(subj) and subj[-1].lower().endswith("s") and not subj[-1].lower().endswith("ss")
    if subj and rest and subj[0].lower() in lx.dets | lx.pronouns and (
        rest[0].lower().endswith("ing") or rest[0].lower() in lx.verbs or rest[0].lower().endswith("s")
    ) and not (len(rest) > 1 and rest[1].lower().endswith("ing")):
        verb = rest[0] if rest[0].lower().endswith("ing") else ing_form(base_of(rest[0]))
        goes = cont.verbs[(nth - 1) % len(cont.verbs)]
        goes = cont.plural.get(goes, goes) if plural else goes
        said = f"{definite(lx, ' '.join(subj))} {goes} {verb} {' '.join(rest[1:])}"
    else:
        said = f"{cont.more_of} {definite(lx, uncap(' '.join(toks)))}"
    return [cap(f"{lead}{norm_space(_rx(lx).indefinite.sub('the', said))}".rstrip(" ,") + ".")]
