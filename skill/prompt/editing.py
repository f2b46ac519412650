"""The minimal edits: what is taken out of the caller's sentences, and how the rest is mended.

Everything here keeps the caller's words and order. It removes request framing ("make me a video
of", "please", "animate this photo"), hype with its whole modifier chain ("an amazing stunning
epic 8k masterpiece of a cat" -> "a cat"), and the requester's "my"; it turns a causative lead
into the sentence it asks for ("make the lantern flicker and slowly sway" -> "The lantern flickers
and slowly sways"). Removed words leave a marker until :func:`clear_marks` mends the gap
(a dangling preposition, "an" before a consonant).
"""

from __future__ import annotations

import re

from skill.prompt.grammar import third_person
from skill.prompt.lexicon import Lex
from skill.prompt.patterns import MARK, MARK_SPACED
from skill.prompt.text import cap, cleanup, lift_with_prefix, tidy

__all__ = ["causative", "clear_marks", "drop_hype", "lead_in", "request_heading", "request_phrases", "requester_to_the"]

_QUOTED = re.compile(r'"[^"\n]*"')
_ADJECTIVE_END = ("ous", "ful", "ive", "al", "ic", "able", "ible", "less", "er", "ish", "ed", "ing", "est", "le")


def lead_in(lx: Lex, text: str) -> tuple[str, str]:
    """The text without its request framing at the start ("Make a short ad for ..."), and that framing."""
    m = lx.lead_in.match(text)
    if not m or m.end() == 0 or not any(ch.isalpha() for ch in m.group(0)):
        return text, ""
    return MARK_SPACED + text[m.end():], " ".join(m.group(0).replace(MARK, " ").split()).strip(" ,:-")


_HEAD_END = re.compile(r"[.!?\n]")


def request_heading(lx: Lex, text: str) -> tuple[str, str]:
    """ "I'm putting together a slideshow for my parents' anniversary and would love a short clip
    to open it: an old couple ...": a first sentence ending in a colon, in the requester's own
    person and naming the deliverable, is the request; the scene starts after the colon. Not when
    the deliverable is "of" something (that is the scene: "We need a clip of our cafe: ...")."""
    colon = text.find(":")
    if colon < 0 or '"' in text[:colon]:
        return text, ""
    start = max((m.end() for m in _HEAD_END.finditer(text, 0, colon)), default=0)
    if text[:start].strip(f" {MARK},;!?.\n"):
        return text, ""  # a sentence of the scene comes before
    words = re.findall(r"[a-z]+(?:'[a-z]+)?", text[start:colon].lower())
    own = any(w in lx.relay_persons or w.split("'")[0] in ("i", "we") for w in words)
    made = [n for n, w in enumerate(words) if w in lx.containers]
    if not own or not made or len(words) > 40:
        return text, ""
    if any(w in lx.scene_connectors for w in words[made[0] + 1:]):
        return text, ""
    return MARK_SPACED + text[colon + 1:], " ".join(text[start:colon].split())


def request_phrases(lx: Lex, text: str) -> tuple[str, list[str]]:
    """The text without request phrases anywhere ("please", "animate this photo")."""
    removed: list[str] = []
    text = _frames_named(lx, text, removed)
    sign = lx.sign_off.search(text) if text.rstrip()[-1:].isalpha() or "\n" in text else None
    if sign is not None and sign.group(0).strip():
        removed.append(" ".join(sign.group(0).split()))  # "Many thanks, Helen": the letter's, not the scene's
        text = text[: sign.start()] + f" {MARK} "
    if '"' not in text:
        return lift_with_prefix(lx.request, text, removed, lx.request_prefix, text.lower()), removed
    out: list[str] = []  # a quoted line is speech: its "Thanks for joining us" stays
    pos = 0
    for m in [*_QUOTED.finditer(text), None]:
        chunk = text[pos: m.start() if m else len(text)]
        out.append(lift_with_prefix(lx.request, chunk, removed, lx.request_prefix, chunk.lower()))
        if m:
            out.append(m.group(0))
            pos = m.end()
    return "".join(out), removed


def _frames_named(lx: Lex, text: str, removed: list[str]) -> str:
    """ "the end frame is the empty plate" -> "ending on the empty plate": the frames' names go."""
    low = text.lower()
    for (rx, say), needs in zip(lx.frame_names, lx.frame_name_needs, strict=True):
        if needs is not None and not any(n in low for n in needs):
            continue  # none of the words its match needs: the pattern cannot match
        def swap(m: re.Match[str], say: str = say) -> str:
            removed.append(" ".join(m.group(0).split()).strip(" ,;"))
            at_start = not m.string[: m.start()].strip() or m.string[: m.start()].rstrip()[-1:] in ".!?:\n"
            return cap(say.lstrip(" ,;")) if at_start else say
        text = rx.sub(swap, text)
        low = text.lower()
    return text


def clear_marks(lx: Lex, text: str) -> str:
    """Mend the gaps the removals left: dangling function words, articles, punctuation runs."""
    return tidy(cleanup(lx, text)) if MARK in text else text


def _outside_quotes(text: str, fix: re.Pattern[str], repl: str) -> str:
    out: list[str] = []
    pos = 0
    for m in _QUOTED.finditer(text):
        out.append(fix.sub(repl, text[pos:m.start()]))
        out.append(m.group(0))
        pos = m.end()
    out.append(fix.sub(repl, text[pos:]))
    return "".join(out)


def requester_to_the(lx: Lex, text: str) -> str:
    """ "my sneaker" -> "the sneaker": the video does not know who "my" is."""
    if not lx.requester.search(text):
        return text
    return _outside_quotes(text, lx.requester, "the")


def _bare_verb_at(lx: Lex, words: list[str], k: int, listed: bool = False) -> bool:
    """Whether words[k] is a bare verb; ``listed``: it follows another verb in a list ("blinks, and
    give a nod"), so a word the request also uses ("give", "keep") is the verb."""
    w = words[k].lower().strip(",.;:!?")
    after = words[k + 1].lower().strip(",.;:!?") if k + 1 < len(words) else ""
    if w in lx.request_words and after in lx.particles and words[k][-1:] not in ",.;:!?":
        return True  # "make him look up": a verb with its particle, not "make it look amazing"
    if not w.isalpha() or w in lx.function_words or (w in lx.request_words and not listed) or w in lx.grammar_particles:
        return False
    if listed and w in lx.verbs:
        return True  # "and give a nod": a known verb ("give" ends like an adjective)
    if words[k][:1].isupper():
        return False  # "our new SUV": a name or an acronym, not a verb
    adjective = w.endswith(_ADJECTIVE_END) or (len(w) > 3 and w.endswith("y") and w[-2] not in "aeiou")
    if adjective and w not in lx.verbs_like_adjectives:
        return False
    if w.endswith("s") and not w.endswith("ss"):
        return False
    if words[k][-1:] in ",.;:!?" or k + 1 == len(words):
        return True
    nxt = words[k + 1].lower().strip(",.;:!?")
    return nxt in lx.function_words or nxt.endswith("ly") or nxt in lx.grammar_particles


def causative(lx: Lex, sentence: str) -> str:
    """ "make the lantern flicker and slowly sway" -> "The lantern flickers and slowly sways"."""
    m = lx.causative.match(sentence)
    if not m:
        return sentence
    words = sentence[m.end():].split(" ")
    first = words[0].lower()
    infinitive = False
    if first in lx.object_pronouns:
        subject, k = [lx.object_pronouns[first]], 1
        if len(words) > 2 and words[1].lower() == "to":
            del words[1]  # "make him to blink": the learner's "to" goes
        plural = subject[0].lower() in ("they", "we", "i")
    elif first in lx.dets and first not in lx.pronouns:
        k = next((j for j in range(2, min(len(words), 6)) if _bare_verb_at(lx, words, j)), 0)
        to = next((j for j in range(3, min(len(words), 7)) if words[j - 1].lower() == "to" and _infinitive_at(lx, words, j)), 0)
        if to and (not k or to <= k):
            del words[to - 1]  # "we want the cabin to feel lived-in": the wish's "to" goes
            k, infinitive = to - 1, True
        if not k or any(w.lower() in lx.function_words or not w.replace("'", "").isalpha() for w in words[1:k]):
            return sentence
        if words[k].lower().strip(",.") in lx.containers or len(words[k]) < 3:
            return sentence  # "make a short ad for": request framing, not a causative
        subject = words[:k]
        head = subject[-1].lower()
        plural = first in lx.plural_dets or (head.endswith("s") and not head.endswith("ss"))
    else:
        return sentence
    if k >= len(words) or not (infinitive or _bare_verb_at(lx, words, k)):
        return sentence
    if not plural:
        words[k] = _conjugated(words[k])
        _conjugate_coordinated(lx, words, k)
    return cap(" ".join([*subject, *words[k:]]))


def _infinitive_at(lx: Lex, words: list[str], k: int) -> bool:
    """ "the cabin to feel lived-in": after "to", a word that is no function word is the verb."""
    w = words[k].lower().strip(",.;:!?")
    return w.isalpha() and w not in lx.function_words and not words[k][:1].isupper()


def _conjugated(word: str) -> str:
    bare = word.rstrip(",.;:!?")
    return third_person(bare) + word[len(bare):]


def _conjugate_coordinated(lx: Lex, words: list[str], k: int) -> None:
    """ "flickers and slowly sway" -> "flickers and slowly sways"; a list of verbs too ("looks up
    ..., blink, and give a nod" -> "..., blinks, and gives a nod")."""
    j = k + 1
    while j < len(words) and not words[j - 1].endswith((".", ";", "!", "?")):
        if words[j - 1].endswith(","):
            nxt = j + 1 if words[j].lower() == "and" else j
            if nxt < len(words) and words[nxt].lower() not in lx.function_words and _bare_verb_at(lx, words, nxt, True):
                words[nxt] = _conjugated(words[nxt])
                j = nxt + 1
                continue
            return  # ", a bird flies over": the list of verbs ended
        if words[j].lower() == "and":
            nxt = j + 1
            if nxt < len(words) and words[nxt].lower().endswith("ly"):
                nxt += 1
            if nxt < len(words) and words[nxt].lower() not in lx.function_words and _bare_verb_at(lx, words, nxt):
                words[nxt] = _conjugated(words[nxt])
                j = nxt
        j += 1


def drop_hype(lx: Lex, sentence: str) -> tuple[str, list[str]]:
    """The sentence without hype and tag soup, each with its whole modifier chain, and what went."""
    low = sentence.lower()
    # "Amazing lighting.": praise standing alone as its clause, nothing else said
    hits = [(m.start(), m.end(), True) for m in lx.praise.finditer(sentence) if _alone(sentence, m.start(), m.end())]
    if lx.hype.may(low):
        hits += [(h.start(), h.end(), True) for h in lx.hype.hits(sentence)
                 if not any(a < h.end() and h.start() < b for a, b, _ in hits)]
        hits.sort()
    hits += [
        (m.start(), m.end(), False)
        for m in lx.soup_word.finditer(sentence)
        if not any(a < m.end() and m.start() < b for a, b, _ in hits)
    ]
    if not hits:
        return sentence, []
    cut: list[tuple[int, int]] = []
    removed: list[str] = []
    for a, b, strong in _runs(sentence, sorted(hits)):
        after = sentence[b:]
        if not (strong or _alone(sentence, a, b) or lx.soup_head_word.match(after)):
            continue
        cut.append((a, b))
        removed.append(sentence[a:b])
    if not cut:
        return sentence, []
    out = []
    pos = 0
    for a, b in cut:
        out.append(sentence[pos:a])
        out.append(MARK_SPACED)
        pos = b
    out.append(sentence[pos:])
    return "".join(out), removed


def _alone(sentence: str, a: int, b: int) -> bool:
    """Whether sentence[a:b] is a clause by itself, between separators."""
    return bool(re.search(r"(?:^|[,.;:!?(]\s*)$", sentence[:a]) and re.match(r"\s*(?:[,.;:!?)]|$)", sentence[b:]))


_JOIN = re.compile(r"^[\s,&/+-]*(?:and\s+|or\s+)?[\s,]*$", re.IGNORECASE)


def _runs(sentence: str, hits: list[tuple[int, int, bool]]) -> list[tuple[int, int, bool]]:
    """Hype words next to each other (spaces, commas, "and") form one chain."""
    runs: list[tuple[int, int, bool]] = []
    for a, b, strong in hits:
        if runs and _JOIN.match(sentence[runs[-1][1]:a]):
            ra, _rb, rs = runs[-1]
            runs[-1] = (ra, b, rs or strong)
        else:
            runs.append((a, b, strong))
    return runs
