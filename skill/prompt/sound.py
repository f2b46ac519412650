"""Sound clauses and exclusions: the clauses that are not pictures.

A clause that only names sounds ("with cafe sound", "soft piano music", "the hum of the wheel")
is the audio part of the prompt: with audio on it goes to the ``Audio:`` sentence (fal's "name the
sound design explicitly" [S22][S23]); with audio off it stays where the caller wrote it (nothing
will be heard, and a warning says so). A clause that excludes ("no text overlays", "without
watermarks") goes to the negative prompt as a list of nouns [S23]; "no music" and "no dialogue" are
sound directions, and "no camera movement" is a camera direction, so those stay in the prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from skill.prompt.cues import extract_audio
from skill.prompt.lexicon import Lex
from skill.prompt.patterns import MARK
from skill.prompt.state import Seg
from skill.textmatch import alternation, word_alternation

__all__ = ["Exclusion", "exclusion_of", "sound_cue"]



@cache
def _patterns(lx: Lex) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """The item splitter ("no text or logos"), the item article ("no visible logos") and "the
    sound of ..." ("with the sound of rain"), from the vocabulary's closed word classes."""
    c = lx.v.closed_words
    joiners = "|".join(rf"\b{re.escape(w)}\b" for w in c.item_splitters)
    split = re.compile(rf"\s*(?:,|{joiners}|&|/)\s*", re.IGNORECASE)
    article = re.compile(rf"^(?:{word_alternation(c.item_articles)})\s+", re.IGNORECASE)
    sound_of = re.compile(rf"^(?:(?:{word_alternation(c.sound_joiners)})\s+)?(?:the\s+)?(?:{alternation(c.sound_nouns)})\s+of\s+\S",
                          re.IGNORECASE)
    return split, article, sound_of


def sound_cue(lx: Lex, clause: str) -> tuple[str, str] | None:
    """(kind, cue) when every content word of ``clause`` names a sound, else None."""
    low = clause.lower()
    if _patterns(lx)[2].match(clause.strip()) and '"' not in clause:
        return "effects", _strip_prefix(lx, clause)
    if '"' in clause or not lx.audio.may(low):
        return None
    seg = Seg(raw=clause)
    rest = extract_audio(lx, clause, seg, low)
    if not seg.audio and not seg.wants_dialogue:
        return None
    left = [w for w in re.findall(r"[\w'-]+", rest.replace(MARK, " ").lower()) if w not in lx.function_words]
    if any(w not in lx.switch_words and w not in lx.request_words for w in left):
        return None
    kind = seg.audio[0][0] if seg.audio else "dialogue"
    cue = _strip_prefix(lx, clause)
    head, _, mod = cue.rpartition(" ")
    if kind == "music" and head and " " not in head and lx.au_music_mod.fullmatch(mod) and not lx.au_music_mod.fullmatch(head):
        cue = f"{mod} {head.lower()}"  # "music soft" -> "soft music": the modifier where English puts it
    return kind, cue


def _strip_prefix(lx: Lex, clause: str) -> str:
    """ "with cafe sound" -> "cafe sound": the joining words go with the clause."""
    words = " ".join(clause.split()).strip(" ,.;:").split(" ")
    if len(words) > 2 and words[0].lower() == "keep" and words[-1].lower() in ("in", "on"):
        words = words[:-1]  # "keep the street noise in": the sound kept is the cue
    while len(words) > 1 and words[0].lower() in lx.au_drop:
        words = words[1:]
    if len(words) > 2 and words[0].lower() in lx.au_of_bare and words[1].lower() == "of":
        words = words[2:]  # "audio of the honey dripping": the honey dripping
    return " ".join(words)


@dataclass(frozen=True)
class Exclusion:
    """What the caller wants kept out: nouns for the negative prompt, audio and camera directions."""
    items: tuple[str, ...]  # what to keep out, as nouns
    sound: tuple[str, ...]  # "dialogue", "music", "voiceover": directions for the audio part
    camera: bool  # "no camera movement": a camera direction, kept in the prompt
    sound_items: tuple[str, ...] = ()  # the caller's words for those sounds ("music"): negatives too


_DASH = re.compile(r"\s[-\u2013\u2014]\s|\u2014")


@cache
def _postposed(lx: Lex) -> re.Pattern[str]:
    """ "dialogue none", "music: none": the sound named, then refused."""
    said = alternation([re.escape(w) for w in lx.v.closed_words.refused_after])
    return re.compile(rf"(?i)^\s*([a-z][a-z -]{{1,30}}?)\s*[:=-]?\s*(?:{said})\s*[.!]?\s*$")


def exclusion_of(lx: Lex, clause: str) -> Exclusion | None:
    """The exclusion a clause states ("no text overlays", "without watermarks or subtitles", and a
    sound refused after its name: "dialogue none", "music: none")."""
    post = _postposed(lx).match(clause)
    if post is not None:
        kind = next((k for k, rx in lx.excl_audio if rx.fullmatch(post.group(1).strip())), None)
        if kind is not None:
            return Exclusion((), (kind,), False, (post.group(1).strip(),))
    low = clause.lower()
    if not lx.excl_trigger.may(low):
        return None
    m = lx.excl_trigger.search(clause)
    if m is None or clause[: m.start()].strip(" ,").lower() not in lx.closed["exclusion_openers"]:
        return None
    trig = (m.group("t") or "").lower()
    words = clause[m.end():].split()
    nxt = words[0].lower().strip(",.") if words else ""
    if not nxt or (trig == "no" and nxt in lx.excl_not_before):
        return None
    if trig.startswith("without") and nxt.endswith("ing") and nxt not in lx.ing_nouns:
        return None
    items: list[str] = []
    sound: list[str] = []
    said: list[str] = []
    camera = False
    # a dash ends what is refused ("no music - a sword drawn slowly ..."): what follows is the scene
    split_items, item_article, _sound_of = _patterns(lx)
    for raw in split_items.split(_DASH.split(clause[m.end():], maxsplit=1)[0]):
        item = lx.trigger_word.sub("", " " + raw).strip()
        item = item_article.sub("", item).strip(" ,.;:!?")
        toks = item.split()
        if not toks or all(w.lower() in lx.function_words for w in toks):
            continue
        item = " ".join(toks[:6])
        kind = next((k for k, rx in lx.excl_audio if rx.match(item)), None)
        if kind:
            sound.append(kind)
            said.append(item)
        elif lx.excl_camera.match(item):
            camera = True
        else:
            items.append(item)
    if not (items or sound or camera):
        return None
    return Exclusion(tuple(items[: lx.excl_max]), tuple(sound), camera, tuple(said))
