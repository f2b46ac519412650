"""Dialogue: each quoted line right after the action that carries it, tagged by its speaker.

fal's rules [S22][S23]: a visible action before each line (P2), the tone inside the tag (P3), and
linking words between speakers (P4). With audio off nothing is heard, so the line goes and its
speech verb becomes what is seen ("a chef calls out and slams the bell"); the sentence stays whole.
Quoted words after "reads", "sign", "labelled" ... are on-screen text, not speech, and stay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from skill.prompt.camera import find_framing
from skill.prompt.editing import lead_in, request_phrases
from skill.prompt.grammar import adjective_of, base_of, split_subject, word_of
from skill.prompt.lexicon import Lex
from skill.prompt.text import cap, norm_space
from skill.textmatch import word_alternation

__all__ = ["Line", "split_dialogue"]

_PIECES = re.compile(r",|;|:|\s[-\u2013\u2014]\s|\u2014")


@cache
def _caused(lx: Lex) -> re.Pattern[str]:
    """ "Make me say ...": the causer before the speaker."""
    c = lx.v.closed_words
    return re.compile(rf"^(?:{word_alternation(c.causers)})\s+(?=(?:{word_alternation(c.caused_objects)})$)", re.IGNORECASE)


@cache
def _leading_conj(lx: Lex) -> re.Pattern[str]:
    return re.compile(rf"^(?:\s*(?:{word_alternation(lx.v.closed_words.leading_conjunctions)}|,)\s+)+", re.IGNORECASE)


@dataclass
class Line:
    """One spoken line; ``speaker`` is the noun phrase as written, labelled later."""

    speaker: str
    tone: str
    line: str
    reply: bool = False
    label: str = ""
    link: str = ""


def _tone(*parts: str | None) -> str:
    seen: list[str] = []
    for p in parts:
        p = norm_space(p or "").strip(" ,")
        if p and p.lower() not in (x.lower() for x in seen):
            seen.append(p)
    return ", ".join(seen)


def _said(line: str) -> str:
    return norm_space(line).rstrip(",;: ")


def _is_text_quote(lx: Lex, before: str, verb: str) -> bool:
    prev = before.rstrip().rsplit(" ", 1)[-1].lower().strip(",") if before.strip() else ""
    return prev in lx.not_speech or prev in lx.closed["relatives"] or verb in lx.not_speech


def _has_action(lx: Lex, carry: str) -> bool:
    """Whether the words before a speech verb do something besides naming the speaker: a clause
    whose verb follows its subject ("the chef slams the bell"), not a noun phrase with its
    attachments ("the customer, a tired nurse in scrubs")."""
    for piece in _PIECES.split(carry):
        toks = _leading_conj(lx).sub("", piece.strip()).split()
        if not toks or _is_np(lx, toks) or find_framing(lx, piece):
            continue  # a noun phrase, or camera language ("Reverse shot,")
        _subj, rest = split_subject(lx, toks)
        if rest and word_of(rest[0]) not in lx.function_words and any(word_of(w) not in lx.function_words for w in rest):
            return True
    return False


def _adj(lx: Lex, adverb: str | None) -> str | None:
    return adjective_of(adverb, lx.adverbs) if adverb else None


def _opens_np(lx: Lex, piece: str) -> bool:
    first = piece.split(" ", 1)[0]
    low = first.lower()
    return low in lx.dets or low in lx.pronouns or low in lx.closed["speaking_persons"] or first[:1].isupper()


def _speaker_of(lx: Lex, carry: str) -> str:
    """Who speaks: the noun phrase(s) the carrying words end on ("the customer, a tired nurse in
    scrubs," -> the more specific of the two), else the subject of the last clause that has one
    ("He looks into the lens, nods, and" -> "He")."""
    pieces = [_caused(lx).sub("", _leading_conj(lx).sub("", p.strip())) for p in _PIECES.split(carry)]
    pieces = [p for p in pieces if p]
    if not pieces:
        return ""
    nps: list[str] = []
    if carry.rstrip().endswith(","):
        for p in reversed(pieces):
            if not _opens_np(lx, p) or not _is_np(lx, p.split()):
                break
            nps.insert(0, p)
    if nps:
        specific = [p for p in nps if word_of(p.split()[_head_at(lx, p.split())]) not in lx.generic_people]
        return (specific or nps)[0]
    for n in range(len(pieces) - 1, -1, -1):
        subject = split_subject(lx, pieces[n].split())[0]
        if subject and _opens_np(lx, pieces[n]):
            if n and _is_name(lx, pieces[n - 1]) and word_of(subject[0]) in lx.dets:
                return pieces[n - 1]  # "Amara, a home cook in her 30s, ... says": the name is who speaks
            return " ".join(subject)
    return " ".join(split_subject(lx, pieces[-1].split())[0])


def _is_name(lx: Lex, piece: str) -> bool:
    """ "Amara", "Grandpa Joe": one to three capitalised words, none an article or pronoun."""
    toks = piece.split()
    return 0 < len(toks) <= 3 and all(t[:1].isupper() for t in toks) and not any(
        word_of(t) in lx.dets or word_of(t) in lx.pronouns or word_of(t) in lx.function_words for t in toks)


def _is_np(lx: Lex, toks: list[str]) -> bool:
    """A noun phrase with its attachments ("a tired nurse in scrubs"): no verb before them."""
    if word_of(toks[0]) not in lx.dets or word_of(toks[0]) in lx.pronouns:
        return False
    core = toks[: _head_at(lx, toks) + 1]
    return not split_subject(lx, core)[1]


def _head_at(lx: Lex, toks: list[str]) -> int:
    """Index of a noun phrase's head: the last word before an attachment ("a nurse in scrubs")."""
    cut = next((n for n, t in enumerate(toks) if n and (word_of(t) in lx.attach or word_of(t) in lx.preps)), len(toks))
    return max(0, cut - 1)


def _says(lx: Lex, m: re.Match[str], carry: str, audio_on: bool) -> tuple[str, Line | None]:
    g = m.group
    verb = g("sverb").lower()
    lang = g("slang")
    speaker = _speaker_of(lx, carry) or lx.v.dialogue.default_speaker
    tone = _tone(g("stone"), _adj(lx, g("sadv1")), _adj(lx, g("sadv2")), _adj(lx, g("sadv3")),
                 lx.speech_tone.get(verb), g("smanner"), g("swith"), g("sto"), f"in {lang}" if lang else None)
    line = Line(speaker, tone, _said(g("sline")), reply=verb in lx.reply_verbs)
    # up to the opening quote, without the manner the tag now carries ("replies, wistful,")
    lead = m.string[m.start(): m.start("smanner") if g("smanner") else m.start("sline") - 1]
    silent = lx.silent_addressed if g("sobj") else lx.silent  # "tells the orchestra" -> "turns to the orchestra"
    seen = re.sub(rf"(?<![\w']){re.escape(g('sverb'))}(?![\w'])", silent.get(verb, g("sverb")), lead, count=1)
    seen = seen.rstrip(" ,:")
    if not audio_on:
        return carry + seen + (g("sto") or ""), None
    if _has_action(lx, _leading_conj(lx).sub("", carry)):
        return carry, line
    return carry + seen, line


def _reversed(lx: Lex, m: re.Match[str], audio_on: bool) -> tuple[str, Line | None]:
    g = m.group
    verb = g("rverb").lower()
    lang = g("rlang")
    tone = _tone(_adj(lx, g("radv1")), _adj(lx, g("radv2")), lx.speech_tone.get(verb), f"in {lang}" if lang else None)
    seen = f"{g('rspk')} {lx.silent.get(verb, g('rverb'))}"
    if g("radv1") or g("radv2"):
        seen += " " + (g("radv1") or g("radv2"))
    line = Line(g("rspk"), tone, _said(g("rline")), reply=verb in lx.reply_verbs)
    return seen, line if audio_on else None


def _reported(lx: Lex, sentence: str) -> list[str | Line] | None:
    """Reported speech with audio on is a line: "the seller, loud, calls out that mangoes are two for
    a dollar while he stacks them" -> "the seller, loud, calls out while he stacks them" and
    [Seller, calling out]: "Mangoes are two for a dollar." Only when the words need no change of
    person (no pronoun in what is said), so the line is the caller's words exactly."""
    m = lx.reported.search(sentence)
    if m is None or any(word_of(w) in lx.shifting_words for w in m.group("said").split()):
        return None
    verb = m.group("verb").lower()
    speaker = _speaker_of(lx, sentence[: m.start()]) or lx.v.dialogue.default_speaker
    said = m.group("said").strip()
    line = Line(speaker, _tone(lx.speech_tone.get(verb)), said[:1].upper() + said[1:] + ".")
    text = norm_space(f"{sentence[: m.start()]}{m.group('verb')}{sentence[m.end():]}")
    return [text, line]


def split_dialogue(lx: Lex, sentence: str, audio_on: bool) -> list[str | Line]:
    """The sentence as pieces of text and spoken lines, each line after the text that carries it."""
    if '"' not in sentence:
        got = _reported(lx, sentence) if audio_on and " that " in sentence else None
        return got if got is not None else [sentence]
    items: list[str | Line] = []
    pos, last = 0, ""
    for m in lx.dialogue.finditer(sentence):
        g = m.group
        carry = sentence[pos: m.start()]
        if g("sline") is not None:
            if _is_text_quote(lx, sentence[: m.start()], g("sverb").lower()):
                continue
            text, line = _says(lx, m, carry, audio_on)
        elif g("aline") is not None:
            acted = _acted(lx, m, carry, audio_on)
            if acted is None:
                continue
            text, line = acted
        elif g("rline") is not None:
            items.append(carry)
            text, line = _reversed(lx, m, audio_on)
        else:
            spk = g("tspk") or g("cspk") or ""
            items.append(carry)
            text = ""
            line = Line(spk, _tone(g("ttone") or g("ctone") or g("cmood")), norm_space(g("tline") or g("cline") or ""))
            if not audio_on:
                text = _silent_tagged(lx, spk, last, g("tline") or g("cline") or "")
                last, line = spk.lower(), None
        items.append(text)
        if line is not None:
            items.append(line)
        pos = m.end()
    items.append(sentence[pos:])
    if not audio_on:
        text = "".join(x for x in items if isinstance(x, str))
        return [norm_space(text).strip(" ,;:")] if text.strip(" ,.;:!?\"") else []
    return _ordered(lx, items)


def _acted(lx: Lex, m: re.Match[str], carry: str, audio_on: bool) -> tuple[str, Line | None] | None:
    """'Hale, calm, leans back: "Knowing isn't a crime."': the line is said by the subject of the
    action before the colon (its apposition, "calm", is the tone); None when the words before the
    colon are no person acting ('The ink reads: "Dear Thomas"', 'A sign: "OPEN"')."""
    before = carry.rstrip()
    prev = before.rsplit(" ", 1)[-1].lower().strip(",") if before else ""
    if not before or prev in lx.not_speech or not _has_action(lx, _leading_conj(lx).sub("", before)):
        return None
    speaker = _speaker_of(lx, before)
    toks = speaker.split()
    head = word_of(toks[-1]) if toks else ""
    said = m.group("aline")
    if head in lx.not_speakers or _is_request(lx, said):
        return None  # 'Agent relaying for a theatre company: "turn our poster into ..."': a request relayed
    person = head in lx.pronouns or head in lx.people or base_of(head) in lx.people or head.endswith(lx.person_endings)
    if not person and not (toks and toks[-1][:1].isupper() and head not in lx.function_words):
        return None
    pieces = [p.strip() for p in _PIECES.split(before)]
    tone = next((p for p in pieces[1:-1] if re.fullmatch(r"[a-z]+(?:\s+and\s+[a-z]+)?", p) and p not in lx.function_words), "")
    if tone and pieces[0].strip() == speaker:
        before = re.sub(rf",\s*{re.escape(tone)}\s*,", "", before, count=1)  # "Hale, calm, leans back": the tag says "calm"
    line = Line(speaker, _tone(tone), _said(said))
    return (before, line) if audio_on else (before, None)


def _is_request(lx: Lex, said: str) -> bool:
    """Whether quoted words are a request relayed, not a line anyone in the video says ("pls do a
    preview of ...", "video of my cat as a pro gamer", "animate the photo ...")."""
    return bool(lx.quoted_request.search(said) or request_phrases(lx, said)[1] or lead_in(lx, said)[1])


def _silent_tagged(lx: Lex, speaker: str, last: str, said: str) -> str:
    """What is seen of a tagged line with audio off: its speaker speaking ("The girl speaks."), or
    answering when another speaker's line came just before; a name stays a name ("Sam speaks.").
    A "line" that is a request relayed ('Slack: "pls do a preview of ..."') is no one speaking."""
    low = speaker.strip().lower()
    if not low or _is_request(lx, said) or low.split()[-1] in lx.not_speakers:
        return ""
    person = low in lx.people or base_of(low) in lx.people or low.endswith(lx.person_endings)
    who = f"the {low}" if person and " " not in low else (speaker.title() if speaker.isupper() else speaker)
    said = lx.v.dialogue.silent_tagged["reply" if last and last != low else "first"].format(who=who)
    return f" {cap(said)} "


def _ordered(lx: Lex, items: list[str | Line]) -> list[str | Line]:
    """Text and lines in order; a verb phrase after a line joins the action before it
    ("calls out [line] and slams the bell" -> "calls out and slams the bell [line]")."""
    out: list[str | Line] = []
    for it in items:
        if isinstance(it, Line):
            out.append(it)
            continue
        piece = it.strip(" ,;:")
        if not piece.strip(" .!?\""):
            continue
        bare = _leading_conj(lx).sub("", piece)
        first = bare.split(" ", 1)[0].lower().rstrip(".!?,;:")
        if out and isinstance(out[-1], Line) and len(out) >= 2 and isinstance(out[-2], str) and _starts_with_verb(lx, first):
            out[-2] = f"{out[-2]} {piece if piece != bare else 'and ' + bare}"
            continue
        out.append(bare)
    return out


def _starts_with_verb(lx: Lex, word: str) -> bool:
    if not word or word in lx.dets or word in lx.pronouns or word in lx.closed["non_subject_openers"]:
        return False
    return (word.endswith(("s", "ed")) and not word.endswith("ss")) or word in lx.verbs
