"""Reading a request into a story: the beats the caller made, each beat's sentences edited as
little as possible, and what the story says about sound, exclusions and identity.

The order of the edits: the router's instruction spans go first (:mod:`skill.prompt.instructions`),
then the request framing at the start, then per sentence the causative lead, the requester's "my",
hype chains, the camera said as its move, stacked moves, the spoken lines, exclusion and sound
clauses; last, the bare camera clauses of each beat move to its front. Every other word stays.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from skill.prompt.agent import drop_agent_framing, relay_as_own, unwrap_call
from skill.prompt.brief import Brief, json_brief, parse_brief
from skill.prompt.camera import (
    Frame,
    Move,
    camera_first,
    camera_only,
    drop_stacked,
    find_framing,
    find_moves,
    lead_buried_move,
    leads_with_camera,
    opens_on_camera,
    say_camera_subject,
    told_after,
)
from skill.prompt.cues import extract_atmosphere, extract_identity, extract_lighting, extract_style
from skill.prompt.dialogue import Line, split_dialogue
from skill.prompt.editing import (
    causative,
    clear_marks,
    drop_hype,
    lead_in,
    request_heading,
    request_phrases,
    requester_to_the,
)
from skill.prompt.foreign import edit_foreign
from skill.prompt.grammar import adjective_of, looks_clause
from skill.prompt.instructions import strip_instructions
from skill.prompt.lexicon import Lex
from skill.prompt.patterns import MARK
from skill.prompt.shots import Split, split_text
from skill.prompt.sound import exclusion_of, sound_cue
from skill.prompt.state import Seg
from skill.prompt.text import (
    cap,
    double_quoted,
    join_clauses,
    normalise_input,
    scrub,
    split_clauses,
    split_sentences,
    uncap,
)
from skill.request import Shot

__all__ = ["Beat", "Story", "read_story"]

Item = str | Line


@dataclass
class Beat:
    """One shot the caller made, as edited sentences and spoken lines."""

    items: list[Item]
    duration: int | None = None
    raw: str = ""
    moves: list[Move] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    place: str = ""  # the first place it names ("a small cafe")
    time: str = ""  # its time of day or light phrase ("at dawn")
    sounds: list[tuple[str, str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(x for x in self.items if isinstance(x, str))

    @property
    def lines(self) -> list[Line]:
        return [x for x in self.items if isinstance(x, Line)]


@dataclass
class Story:
    """The request read as a film: its beats, where they came from, and what each shot restates."""
    beats: list[Beat]
    source: str = "single"  # single, text, field, brief
    preamble: list[str] = field(default_factory=list)  # said before the shots: restated in each
    subject_np: str = ""  # a preamble that only names the film's subject ("the sneaker")
    subject_nps: list[str] = field(default_factory=list)  # noun phrases the preamble introduces
    text_had_shots: bool = False
    exclusions: list[str] = field(default_factory=list)
    no_audio: set[str] = field(default_factory=set)
    sounds: list[tuple[str, str]] = field(default_factory=list)
    meta: list[str] = field(default_factory=list)
    hype: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    cues: Seg = field(default_factory=lambda: Seg(raw=""))  # lighting, atmosphere, style, identity found
    speech: bool = False  # speech is asked or implied ("two friends chat", "with dialogue")
    quiet_lines: int = 0  # lines not voiced because audio is off
    as_written: bool = False


_QUOTED_LINE = re.compile(r'"[^"\n]*[^\W\d_][^"\n]*"')
_DASH = re.compile(r"\s[-\u2013\u2014]\s|\u2014")
_LETTER = re.compile(r"[^\W\d_]")
_MAIL_QUOTE = re.compile(r"(?m)^[ \t]*(?:>[ \t]?)+")


def _clauses_kept(lx: Lex, text: str, audio_on: bool, story: Story, beat: Beat) -> str:
    """The text without its exclusion clauses, and without its sound clauses when audio is on
    (they go to the audio part); with audio off sound words stay where the caller put them, but
    a sentence that is only a sound goes (a silent video shows none of it; a warning names it)."""
    out: list[tuple[str, str]] = []
    clauses = split_clauses(text)
    labelled = ""  # "Music: gentle acoustic guitar": what follows a sound's label is that sound
    for c, sep in clauses:
        body = c.rstrip(".!?")
        if labelled and '"' not in body and body.strip():
            beat.sounds.append((labelled, body.strip()))
            if not audio_on:
                story.meta.append(c.strip())
            labelled = ""
            continue
        label = lx.brief_parts.get(body.strip().lower()) if sep == ":" else None
        if label == "audio" and lx.au_music_mod.fullmatch(body.strip()) is None:
            labelled = "music" if body.strip().lower() in ("music", "soundtrack") else "brief"
            story.meta.append(c.strip())
            continue
        ex = exclusion_of(lx, body)
        if ex is not None and not ex.camera:
            story.exclusions += [x for x in (*ex.items, *ex.sound_items)
                                 if x.lower() not in (e.lower() for e in story.exclusions)]
            story.no_audio |= set(ex.sound)
            after = _DASH.split(c, maxsplit=1)
            if len(after) == 2 and after[1].strip(" .!?"):
                out.append((after[1].strip(), sep))  # "no music - a sword drawn ...": the scene after the dash stays
            continue  # a sound refused is in the negative prompt (and the audio line), not the picture
        if '"' not in body and _about_request(lx, body) and not lx.negations & set(body.lower().split()):  # "no change" stays
            story.meta.append(c.strip())  # "..., normal quality is ok": a clause about the request
            continue
        cue = sound_cue(lx, body)
        if cue is not None:
            beat.sounds.append(cue)
            if not audio_on and len(clauses) == 1 and not looks_clause(lx, body.split()):
                story.meta.append(c.strip())  # "Background jazz.": a sentence only heard, and nothing is
                continue  # (the audio_cues_without_audio warning names it)
            if audio_on:
                if out and out[-1][1] == ":" and lx.brief_parts.get(out[-1][0].strip().lower()) == "audio":
                    out.pop()  # "Sound: music.": the label goes with its sound
                continue
        out.append((c, sep))
    if len(out) == len(clauses):
        return text
    joined = join_clauses(out)
    return joined + ("." if out and not joined.endswith((".", "!", "?", '"')) else "")


def _about_request(lx: Lex, text: str) -> bool:
    """Whether every word is request framing or a function word ("Too pricey, skip it.")."""
    words = re.findall(r"[^\W_]+", text.lower())
    if any(not w.isalpha() for w in words):
        return False  # "1960s": a number left once the routing spans are gone is the caller's
    return bool(words) and all(
        w in lx.request_words or w in lx.function_words or w in lx.containers for w in words)


def _edit_sentence(lx: Lex, sentence: str, audio_on: bool, story: Story, beat: Beat) -> list[Item]:
    label = lx.brief_key.match(sentence)
    part = lx.brief_parts.get(" ".join(re.split(r"[\s_-]+", label.group("key").lower()))) if label else None
    if part == "request":
        story.meta.append(sentence.strip())  # "Budget: a dollar.": a line of the request, not of the picture
        return []
    if part == "avoid" and label is not None and '"' not in sentence:
        # "Negative prompt: text, watermark, blurry.": the negative prompt's items, as nouns
        said = (re.sub(r"(?i)^(?:no|not|without|avoid|never)\s+", "", x.strip(" .")) for x in re.split(r"[,;]|\bor\b", sentence[label.end():]))
        story.exclusions += [x for x in said if x and x.lower() not in (e.lower() for e in story.exclusions)]
        return []
    if _about_request(lx, sentence) or not _LETTER.search(sentence):
        story.meta.append(sentence.strip())  # "Too pricey, skip it.", "2.": about the request, not the picture
        return []
    if "(" in sentence:
        sentence = _asides_dropped(lx, sentence, story)
    bare = sentence.strip(" .;,!")
    if bare.lower() in lx.v.editing.manner_adverbs:
        # "[Animate the painting] gently;": the manner of the motion the request asked for
        return [lx.v.editing.manner_say.format(how=cap(adjective_of(bare, lx.adverbs)))]
    s = requester_to_the(lx, _kept_positively(lx, causative(lx, sentence)))
    s, hype = drop_hype(lx, s)
    if hype:
        story.hype += hype
        s = clear_marks(lx, s)
        if _about_request(lx, s):
            return []  # "Make it STUNNING and viral!": once the hype goes, only the order is left
    s = say_camera_subject(lx, _shorthand_said(lx, s))
    s, dropped = drop_stacked(lx, s)
    story.dropped += dropped
    s = lead_buried_move(lx, s)
    items: list[Item] = []
    # a silent film's lines are seen (intertitles), lines dubbed later are mouthed: with audio off
    # they stay as written
    shown = not audio_on and '"' in s and any(
        lx.shown_speech.search(t) is not None for t in (beat.raw or sentence, *story.meta))
    for it in [s] if shown else split_dialogue(lx, s, audio_on):
        if isinstance(it, Line):
            items.append(it)
            continue
        kept = _clauses_kept(lx, it, audio_on, story, beat)
        if kept.strip(" ,.;:!?\""):
            items.append(kept)
    if not audio_on and '"' in s:
        story.quiet_lines += sum(isinstance(x, Line) for x in split_dialogue(lx, s, True))
    return items


_ASIDE = re.compile(r"\s*\(([^()\"\n]{1,80})\)")


def _asides_dropped(lx: Lex, sentence: str, story: Story) -> str:
    """ "(no rush on this one)", "(sorry, last-minute ask)": an aside about the request goes whole."""
    def drop(m: re.Match[str]) -> str:
        if not _about_request(lx, m.group(1)):
            return m.group(0)
        story.meta.append(m.group(1).strip())
        return ""
    return _ASIDE.sub(drop, sentence)


def _shorthand_said(lx: Lex, sentence: str) -> str:
    """ "tight on the kettle spout" -> "Tight shot on the kettle spout": the crew's shorthand said as the shot."""
    if not sentence[:5].lower().startswith(("tight", "close")):
        return sentence
    for rx, say in lx.shorthand:
        m = rx.match(sentence)
        if m is not None:
            return say + sentence[m.end():]
    return sentence


def _kept_positively(lx: Lex, sentence: str) -> str:
    """"Don't change the houses or the harbour layout." -> "Keep the houses and the harbour layout
    unchanged.": a sentence that is only a "do not change" says what stays, positively."""
    low = sentence.lower()
    if '"' in sentence or not lx.identity.may(low):
        return sentence
    m = lx.identity.search(sentence)
    kept = m.group("c") if m is not None else None
    if m is None or not kept or sentence[: m.start()].strip() or sentence[m.end():].strip(" .!;"):
        return sentence
    idn = lx.v.identity
    what = re.sub(r"(?i)(?<![\w'])(" + "|".join(map(re.escape, idn.list_and)) + r")(?![\w'])",
                  lambda w: idn.list_and.get(w.group(1).lower(), w.group(1)), kept.strip(" .,"))
    return idn.keep_say.format(what=what)


def _camera_sentence_first(lx: Lex, sentences: list[str]) -> list[str]:
    """ "A night market in Taipei after a downpour. Steam rises ... Handheld tracking shot moving
    through the crowd." -> the camera's sentence first, whole, the others in the caller's order:
    Kling reads the camera from the first words [S19][S30]. A sentence that opens on camera
    language moves, wherever it stands; not one told after what comes before it ("then tilt
    up ..."), nor a camera sentence that points back at a thing ("slow orbit around it": "it"
    would come before what it names; "her" and "his" name the person the shot is about)."""
    if not sentences or leads_with_camera(lx, split_clauses(sentences[0])[0][0] if split_clauses(sentences[0]) else ""):
        return sentences
    for k, s in enumerate(sentences[1:], 1):
        if _camera_led(lx, s):
            return [s, *sentences[:k], *sentences[k + 1:]]
        if _opens_camera(lx, s):
            return sentences  # "Slow orbit around it.": it stays after what it names
    return sentences


def _opens_camera(lx: Lex, sentence: str) -> bool:
    """Whether a sentence (no spoken line in it) opens on camera language, not told after what
    comes before it ("Then tilt up ...")."""
    first = split_clauses(sentence)[0][0] if split_clauses(sentence) else ""
    return bool(first) and '"' not in sentence and leads_with_camera(lx, first) and not told_after(lx, first)


def _camera_led(lx: Lex, sentence: str) -> bool:
    """Whether a sentence opens on camera language and may lead its shot: it does not point back
    at a thing ("slow orbit around it")."""
    return _opens_camera(lx, sentence) and lx.cam_thing_back.search(sentence) is None


def _speaker_names(beat: Beat) -> frozenset[str]:
    """The capitalised words of the speakers' names ("Amara"): a name stays capitalised after a
    camera clause moved before it ("Medium close-up: Amara, a home cook ...")."""
    return frozenset(w for ln in beat.items if isinstance(ln, Line) for w in ln.speaker.split() if w[:1].isupper())


def _read_beat(lx: Lex, text: str, duration: int | None, audio_on: bool, story: Story) -> Beat:
    beat = Beat(items=[], duration=duration, raw=text)
    for sentence in split_sentences(text):
        beat.items += _edit_sentence(lx, sentence, audio_on, story, beat)
    lead = 0
    while lead < len(beat.items) and isinstance(beat.items[lead], str):
        lead += 1
    if lead and lead < len(beat.items):
        # a camera sentence after the lines ("... [Leo]: "Like this?" Medium shot, static.") leads too
        later = [x for x in beat.items[lead:] if isinstance(x, str) and camera_only(lx, x)]
        # one whose first clause is the camera's ("Handheld close-ups, bright midday sun.") leads whole
        # and so does one that opens on the camera ("Close-up on each face, lit by the dashboard.")
        framing = [x for x in beat.items[lead:] if isinstance(x, str) and not camera_only(lx, x)
                   and (opens_on_camera(lx, x) or _camera_led(lx, x))]
        if later or framing:
            moved = [*later, *framing]
            rest = [x for x in beat.items[lead:] if not any(x is y for y in moved)]
            beat.items = [*framing[:1], *beat.items[:lead], *later, *framing[1:], *rest]
            lead += len(moved)
    if lead:
        moved = camera_first(lx, [str(x) for x in beat.items[:lead]], _speaker_names(beat))
        beat.items[:lead] = _camera_sentence_first(lx, moved)
    joined = beat.text
    beat.moves, beat.frames = find_moves(lx, joined), find_framing(lx, joined)
    if len(beat.items) == 1 and len(beat.frames) == 1 and joined[beat.frames[0].start: beat.frames[0].end].strip() == joined.strip(" .!?"):
        beat.items = [cap(beat.frames[0].phrase) + "."]  # a shot that is only "CU" or "OTS" is said in full
        joined = beat.text
    place = next(iter(lx.place_np.hits(joined)), None) if lx.place_np.may(joined.lower()) else None
    beat.place = (place.group(0) or "") if place is not None else ""
    if lx.lighting.may(joined.lower()):
        beat.time = next((h.group(0) or "" for h in lx.lighting.hits(joined) if h.lastgroup == "ph"), "")
    return beat


def _detect(lx: Lex, story: Story, text: str) -> None:
    """Record the story's lighting, atmosphere, style and identity cues (the text is not changed)."""
    low = lx.scan(text)
    for find in (extract_lighting, extract_atmosphere, extract_style, extract_identity):
        find(lx, text, story.cues, low)
    if lx.implied_speech.may(low):
        story.speech = story.speech or any(not _refused(lx, text, h.start(), h.end()) for h in lx.implied_speech.hits(text))


def _refused(lx: Lex, text: str, start: int, end: int) -> bool:
    """ "dialogue none", "no dialogue", "without any talking": the word is said to be refused."""
    before = re.findall(r"[\w']+", text[max(0, start - 14): start].lower())[-2:]
    after = re.findall(r"[\w']+", text[end: end + 10].lower())[:1]
    return any(w in lx.negations for w in before) or any(w in lx.negations or w == "off" for w in after)


def _framing_removed(lx: Lex, text: str, story: Story) -> str:
    """The request framing of the whole text: relayed wishes, request phrases, then a causative or
    lead-in at the start."""
    text, relayed = relay_as_own(lx, text)
    story.meta += relayed
    if '"' in text and lx.relay_quote.search(text):
        story.meta += [" ".join(m.group(0).split()) for m in lx.relay_quote.finditer(text)]
        text = lx.relay_quote.sub(f" {MARK} ", text)  # "User said '...'": the request's words, relayed
    text, removed = request_phrases(lx, text)
    story.meta += removed
    first = causative(lx, text)
    if first == text:
        text, framing = lead_in(lx, text)
        if not framing:
            text, framing = request_heading(lx, text)
        else:
            text, again = lead_in(lx, text)  # "Morning team, quick one for the deck: need a shot of ..."
            framing = f"{framing} {again}".strip()
        if framing:
            story.meta.append(framing)
    else:
        text = first
    return clear_marks(lx, text)


def _preamble(lx: Lex, text: str, audio_on: bool, story: Story) -> None:
    """What is said before the shots: style and mood restated in every shot, the film's subject."""
    scratch = Beat(items=[])
    for sentence in split_sentences(text):
        for it in _edit_sentence(lx, sentence, audio_on, story, scratch):
            if isinstance(it, Line):
                continue
            words = re.findall(r"[^\W\d_]+", it.lower())
            if all(w in lx.request_words or w in lx.function_words or w in lx.containers for w in words):
                story.meta.append(it)  # "Generate:" before the list: the request's, not the film's
                continue
            toks = it.rstrip(".!?:").split()
            head = toks[-1].lower() if toks else ""
            named = head in lx.containers and len(toks) <= 4  # "a cooking short" ("cooking" is no verb here)
            if toks and toks[0].lower() in lx.dets and (named or (head in lx.clients and not looks_clause(lx, toks))):
                # "an ad for my sneaker brand:", "a cooking short:": whom the video is for, or the
                # deliverable itself, not what it shows
                story.meta.append(it)
                continue
            if toks and toks[0].lower() in lx.dets and not looks_clause(lx, toks):
                # it names the film's subject(s): their descriptions are restated, not the phrase
                story.subject_nps.append(" ".join(toks))
                if "and" not in (w.lower() for w in toks) and "," not in it:
                    story.subject_np = story.subject_np or " ".join(toks)
            else:
                story.preamble.append(it)
    story.sounds += scratch.sounds


def _from_brief(lx: Lex, brief: Brief, audio_on: bool, story: Story) -> None:
    """A brief's parts in Kling's order: the description (or subject and action), the setting, light
    and details, the style; the camera goes first (kling3.md: motion and camera lead); the request's
    own keys stay out (their values are the router's)."""
    subjects, actions = brief.get("subject"), brief.get("action")
    if subjects and actions:
        # "Subject: an old sailor / Action: he coils a rope" -> "An old sailor coils a rope": the
        # subject said, its pronoun goes (after a comma when the subject has its own apposition)
        first, _, rest = actions[0].partition(" ")
        if first.lower() in lx.v.brief.action_pronouns and rest:
            glue = ", " if "," in subjects[-1] else " "
            subjects, actions = [*subjects[:-1], f"{subjects[-1].rstrip(' ,')}{glue}{rest}"], actions[1:]
    body = ", ".join(x for x in [*subjects, *actions] if x)
    first = ", ".join(x for x in [body, *brief.get("setting"), *brief.get("lighting"), *brief.get("details")] if x)
    # the camera's key leads (a bare move is led by camera_first later: "Slow pan: a red kite"), even
    # a sentence of its own that points ahead ("slow arc from her profile to ... as the sun breaks")
    camera = ", ".join(brief.get("camera"))
    bare = not camera or camera_only(lx, camera)
    sentences = [*([] if bare else [camera]), *brief.get("description"), first, ", ".join(brief.get("style")),
                 *([camera] if bare else [])]
    for k, item in enumerate((x for v in brief.get("shots") for x in re.split(r"\s*[|;]\s*", v.strip("[] ")) if x), 1):
        head = re.match(r"(?i)(shot\s+\w+(?:\s*\([^)]*\))?)\s*[:.-]?\s*", item)
        sentences.append(f"{head.group(1)}: {item[head.end():]}" if head else f"Shot {k}: {item}")
    sentences += [line if '"' in line else f'"{line}"' for line in brief.get("dialogue")]
    story.meta += brief.get("request")
    lead = " ".join(brief.get("lead"))  # "Generate a video:" before the first key: request framing, or kept
    if lead:
        rest, framing = lead_in(lx, lead)
        story.meta += [framing] if framing else []
        if clear_marks(lx, rest).strip(" .:"):
            sentences.insert(0, clear_marks(lx, rest))
    text = " ".join(x.strip().rstrip(".") + "." for x in sentences if x.strip())
    _beats(lx, _framing_removed(lx, text, story), None, audio_on, story)
    if story.source == "single":
        story.source = "brief"
    beat = story.beats[-1] if story.beats else Beat(items=[])
    for cue in brief.get("audio"):
        if all(w in lx.switch_words for w in re.findall(r"[\w'-]+", cue.lower())):
            continue  # "audio: none", "sound: on": a switch, the router's
        beat.sounds.append(("brief", cue))
        if not audio_on:
            beat.items.append(cue.rstrip(".") + ".")
    for avoid in brief.get("avoid"):
        items = (re.sub(r"(?i)^(?:no|not|without|avoid|never)\s+", "", x.strip()) for x in re.split(r"[,;]|\bor\b|\band\b", avoid))
        story.exclusions += [x for x in items if x.strip(" .")]
    if not story.beats:
        story.beats = [beat]


def read_story(
    lx: Lex,
    text: str,
    shots: Sequence[Shot] | None,
    spans: Sequence[tuple[int, int]],
    *,
    audio_on: bool,
    as_written: bool = False,
    film: bool = False,
) -> Story:
    """The story the request tells, edited minimally. Pure.

    ``film``: the request is longer than one call, so its beats are cut eagerly (a lone "then").
    """
    quoted, relayed = _relays_unwrapped(lx, _pipes_as_lines(lx, double_quoted(scrub(text))))
    stripped, removed = strip_instructions(lx, quoted, spans, whole_clauses_only=as_written, audio_on=audio_on)
    if ">" in stripped:
        stripped = _MAIL_QUOTE.sub("", stripped)  # "> From: Client": a mail's quoting marks, not the scene's
    story = Story(beats=[], meta=[*relayed, *removed], as_written=as_written)
    _sounds_refused(lx, removed, story)
    flat = _emptied_items_dropped(normalise_input(stripped))
    if as_written:
        edit = edit_foreign(lx, clear_marks(lx, flat))
        story.meta += edit.removed
        story.exclusions += edit.negatives
        story.beats = [Beat(items=[edit.text] if edit.text.strip() else [], raw=flat)]
        # a quoted line in another language is speech all the same: with audio on, no "no dialogue"
        story.speech = _QUOTED_LINE.search(edit.text) is not None
        if shots:
            story.beats = [Beat(items=[normalise_input(scrub(s.prompt))], duration=s.duration) for s in shots]
            story.source = "field"
        return story
    flat = _agent_removed(lx, flat, story)
    brief = parse_brief(lx, clear_marks(lx, flat)) if not shots else None
    opened = flat.lstrip(f" {MARK}").startswith("{")
    if not shots and ((brief is None and opened) or (not opened and text.lstrip().startswith("{"))):
        # a JSON brief the router's spans broke ("audio": false}} cut whole, or its first pair
        # '{"task": "text_to_video"' taken as one clause): its keys already keep the request
        # apart, so it is read as sent
        brief = json_brief(lx, normalise_input(scrub(text))) or brief
    if brief is not None:
        _from_brief(lx, brief, audio_on, story)
    else:
        _beats(lx, _framing_removed(lx, flat, story), shots, audio_on, story, film, beat_count(lx, flat))
    _detect(lx, story, " ".join(b.text for b in story.beats))
    for b in story.beats:
        story.sounds += [c for c in b.sounds if c not in story.sounds]
    return story


def _pipes_as_lines(lx: Lex, text: str) -> str:
    """ "prompt: '...' | purpose: ... | seconds: 8": a brief on one line, its pairs split by "|",
    read as lines (same length, so the router's spans still fit)."""
    if text.count("|") < 2 or "\n" in text.strip():
        return text
    pieces = text.split("|")
    keyed = sum(1 for p in pieces if lx.brief_key.match(p.strip()))
    return text.replace("|", "\n") if keyed >= 2 and keyed >= len(pieces) - 1 else text


def _relays_unwrapped(lx: Lex, text: str) -> tuple[str, list[str]]:
    """ "user (bike shop) says 'show a mechanic ...'": the relayed description is the text. The head
    and the quote marks become spaces, so the router's spans (offsets into the text) still fit."""
    if '"' not in text or not lx.relay_head.search(text):
        return text, []
    out, removed = text, []
    for m in lx.relay_head.finditer(text):
        close = text.find('"', m.end() + 1)
        inner = text[m.end() + 1: close] if close > 0 else ""
        said = [x for x in re.split(r"[.!?]+", inner.lower()) if x.strip()]
        if not said or all(lx.relay_persons & set(re.findall(r"[a-z]+", x)) for x in said):
            continue  # "User said 'no need for 4K'": the requester speaking, not a description
        removed.append(" ".join(m.group(0).split()))
        out = out[: m.start()] + " " * (m.end() + 1 - m.start()) + out[m.end() + 1: close] + " " + out[close + 1:]
    return out, removed


_EMPTIED_ITEM = re.compile(rf"^[ \t{MARK}]*(?:[-*\u2022>#]+|\(?\d{{1,2}}[.)]|\(?[a-hA-H]\))[ \t{MARK}.,;:]*$")


def _emptied_items_dropped(flat: str) -> str:
    """List lines the router's spans emptied ("2. Duration: 3 s." -> "2.") go: a number says nothing."""
    if "\n" not in flat:
        return flat
    return "\n".join(ln for ln in flat.split("\n") if not _EMPTIED_ITEM.match(ln))


def _sounds_refused(lx: Lex, removed: list[str], story: Story) -> None:
    """A sound the router read as a switch ("No dialogue", "no music") is still a sound the caller
    does not want: it goes to the negative prompt (and, with audio on, to the audio line)."""
    for phrase in removed:
        ex = exclusion_of(lx, phrase)
        if ex is not None and ex.sound_items:
            story.exclusions += [x for x in ex.sound_items if x.lower() not in (e.lower() for e in story.exclusions)]
            story.no_audio |= set(ex.sound)


def _agent_removed(lx: Lex, flat: str, story: Story) -> str:
    """An agent's tool call unwrapped into its brief; in prose, its task framing and parameters gone."""
    flat, call = unwrap_call(lx, flat)
    if not call and not flat.lstrip(f" {MARK}").startswith("{"):
        flat, call = drop_agent_framing(lx, flat)
    story.meta += call
    return flat


def _shared_camera(lx: Lex, sp: Split) -> tuple[Split, str]:
    """The camera clause said once for the whole film, taken out of where it stands: a sentence
    that says so ("Close-ups throughout, warm café light.") before the shots or after the last
    one, or, in prose cut by its sequencers where no shot has camera language of its own, a
    trailing sentence of camera language only ("... then it bows to the dolls. Slow push-in from
    the back row."). Returns the split without it, and the clause ("" when there is none)."""
    if not sp.structured or len(sp.shots) < 2:
        return sp, ""
    shared: list[str] = []
    kept: list[str] = []
    for s in split_sentences(sp.preamble):
        said = _whole_film(lx, s, loose=False)
        (kept if said is None else shared).append(s if said is None else said)
    body, dur = sp.shots[-1]
    sentences = split_sentences(body)
    loose = sp.sequenced and not any(_has_camera(lx, t) for t, _ in sp.shots[:-1])
    tail: list[str] = []
    while len(sentences) > 1:
        said = _whole_film(lx, sentences[-1], loose=loose)
        if said is None:
            if sentences[-1].strip(f" .{MARK}"):
                break
            said = ""  # the router's spans emptied it ("Silent.")
        tail.insert(0, said)
        sentences.pop()
    if not any(x for x in [*shared, *tail]):
        return sp, ""
    shots = [*sp.shots[:-1], (" ".join(sentences), dur)]
    split = Split(" ".join(kept), shots, sp.structured, sp.sequenced)
    return split, ", ".join(x.rstrip(".!? ") for x in [*shared, *tail] if x)


def _has_camera(lx: Lex, text: str) -> bool:
    """Whether a clause of the text opens on camera language ("..., side-on tracking shot"); a
    look-alike inside a clause is not one ("he tosses them in a pan")."""
    return any(leads_with_camera(lx, c) for s in split_sentences(text) for c, _sep in split_clauses(s))


def _whole_film(lx: Lex, sentence: str, *, loose: bool) -> str | None:
    """The camera language of a sentence said of the whole film, its marker ("throughout") gone;
    ``loose``: a sentence of camera language only counts without the marker. None: not one."""
    sentence = sentence.strip()
    if '"' in sentence:
        return None
    bare = lx.cam_whole_film.sub("", sentence).strip(" ,")
    head = bare.split(" ", 1)
    if len(head) == 2 and head[0].lower() in lx.indef and leads_with_camera(lx, head[1]):
        bare = head[1]  # "Every shot is a close-up." -> "close-up", each shot's lead
    if bare == sentence.strip() and not loose:
        return None
    if not (find_moves(lx, bare) or find_framing(lx, bare)):
        return None
    if bare != sentence.strip():
        return bare if camera_only(lx, bare) or _opens_camera(lx, bare) else None
    # without the marker, a style of camera ("Wide shot, camera static."), not a move told as an
    # event ("The camera pulls back.": the last shot's)
    style = camera_only(lx, bare) or opens_on_camera(lx, bare)
    return bare if style and all(mv.form != "verb" for mv in find_moves(lx, bare)) else None


def _led_by(lx: Lex, camera: str, body: str) -> str:
    """A shot's text led by the film's camera clause, as its own clause before a colon
    ("Wide shot, camera static: an empty ice rink ..."), or its own sentence when the shot's
    first sentence has a colon already. A shot that opens on its own camera keeps it alone."""
    first = split_sentences(body)[:1]
    if not camera or not first or _opens_camera(lx, first[0]):
        return body
    if ":" in first[0]:
        return f"{cap(camera)}. {body}"
    return f"{cap(camera)}: {uncap(body)}"


def beat_count(lx: Lex, text: str) -> int:
    """How many beats the caller said the story has ("in five beats", "4 parts:"), 0 if not said."""
    m = lx.beat_count.search(text)
    if m is None:
        return 0
    n = m.group("n").lower()
    return int(n) if n.isdigit() else lx.numbers.get(n, 0)


def _beats(
    lx: Lex, flat: str, shots: Sequence[Shot] | None, audio_on: bool, story: Story, eager: bool = False,
    count: int = 0,
) -> None:
    if shots:
        sp = split_text(lx, flat) if flat.strip(f" {MARK}") else None
        pre = sp.preamble if sp is not None and sp.structured else flat
        bodies = [(clear_marks(lx, normalise_input(scrub(sh.prompt))), sh.duration) for sh in shots]
        field, shared = _shared_camera(lx, Split(pre, bodies, True))
        if field.preamble.strip():
            _preamble(lx, field.preamble, audio_on, story)
        story.text_had_shots = bool(sp and sp.structured)
        story.source = "field"
        for body, dur in field.shots:
            story.beats.append(_read_beat(lx, _led_by(lx, shared, body), dur, audio_on, story))
        return
    sp, shared = _shared_camera(lx, split_text(lx, flat, eager, count))
    sp.shots = [(_led_by(lx, shared, body), dur) for body, dur in sp.shots]
    if sp.preamble.strip():
        _preamble(lx, sp.preamble, audio_on, story)
    story.source = "text" if sp.structured else "single"
    for body, dur in sp.shots:
        beat = _read_beat(lx, body, dur, audio_on, story)
        if beat.items or not sp.structured:
            story.beats.append(beat)
