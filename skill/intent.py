"""Intent extraction: the signals a request's text carries, each with the words behind it.

Mechanism only: what to look for comes from the ``signals`` and ``image_urls`` sections of the
rules file. Every signal records its span and its state, because "not 4K" and "4K later" must
be reported as seen yet not acted on.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from skill.rulebook import URL_MASK, CompiledModifier, CompiledRules, CompiledSignal

__all__ = ["Intent", "Signal", "enable_prefilter", "extract"]

_TRANSLATE = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-", "\u00a0": " "})
# A pictograph is no word and ends a phrase where it stands ("<platform> \U0001f3a4 talking head"):
# the scan reads it as a comma, one character for one, so offsets do not move.
_PICTOGRAPH_RANGES = ((0x1F000, 0x1FAFF), (0x2300, 0x23FF), (0x2600, 0x27BF), (0x2B00, 0x2BFF), (0xFE0F, 0xFE0F), (0x200D, 0x200D), (0x20E3, 0x20E3))
_PICTOGRAPHS = {c: "," for lo, hi in _PICTOGRAPH_RANGES for c in range(lo, hi + 1)}


# URL roles read a whole sentence ("start from A, end on B"), so commas do not cut there.
_SENTENCE_BREAK = re.compile(r"[.;!?\n](?=\s|$)")


@dataclass(frozen=True)
class Signal:
    """One thing the text says: ``name`` and ``value``, the ``words`` that said it, and ``state``."""

    name: str
    value: Any
    words: str
    start: int
    end: int
    state: str = "plain"
    in_shots: bool = False
    extent: tuple[int, int] | None = None  # the cue with the words that set its state
    instruction: bool = True  # words addressed to the tool, not a description of the video
    bounds: tuple[float, float] | None = None  # a time range's start and end ("0:03-0:07")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "value": self.value, "words": self.words}
        if self.state != "plain":
            out["state"] = self.state
        return out


@dataclass(frozen=True)
class Intent:
    """Every signal found in one request's text, with what the router reads from them."""
    text: str
    signals: tuple[Signal, ...]
    excludes: dict[str, str] = field(default_factory=dict)
    ruling_out: frozenset[str] = frozenset()  # signals whose plain cues rule their value out
    shots_total: int | None = None
    shot_count: int = 0
    by_name: dict[str, tuple[Signal, ...]] = field(default_factory=dict)

    def first(self, name: str) -> Signal | None:
        return next((s for s in self.signals if s.name == name and s.state == "plain"), None)

    def routing_spans(self, content_states: frozenset[str]) -> tuple[tuple[int, int], ...]:
        """The spans of ``text`` that are instructions to the tool, merged and in order.

        One reading serves both stages: the router decided on these words, so the prompt builder
        removes exactly these (a negation goes with its cue) and keeps every other word, including
        cue words the content test gave back to the scene ("a 4K monitor").
        """
        spans = sorted(
            s.extent or (s.start, s.end)
            for s in self.signals
            if s.instruction and s.state not in content_states and s.end > s.start
        )
        merged: list[tuple[int, int]] = []
        for lo, hi in spans:
            if merged and lo <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
            else:
                merged.append((lo, hi))
        return tuple(merged)


def _clause_before(rules: CompiledRules, text: str, start: int, window: int) -> str:
    chunk = text[max(0, start - window) : start]
    cut = 0
    for m in rules.clause_break.finditer(chunk):
        cut = m.end()
    return chunk[cut:]


def _clause_after(rules: CompiledRules, text: str, end: int, window: int) -> str:
    chunk = text[end : end + window]
    m = rules.clause_break.search(chunk)
    return chunk[: m.start()] if m else chunk


_WORD = re.compile(r"[\w'-]+")
_SENTENCE_END = re.compile(r"(?<!\.)\.(?!\.)|[!;\n]")  # an ellipsis is no sentence end
_PHRASE_END = re.compile(r"[:()\[\]\"|]|\s-\s")
_KEY_VALUE = re.compile(r"\w=\s*[\"']?$")  # "channel=reels": the value of a key the caller set


def _in_scope(mod: CompiledModifier, before: str) -> int | None:
    """Where a trigger earlier in the clause starts whose scope reaches the cue (only fillers in
    between), or None."""
    assert mod.triggers is not None
    for m in reversed(list(mod.triggers.finditer(before))):
        if _PHRASE_END.search(before, m.end()):
            return None  # a colon, bracket or dash ends the scope: "no need for X: <cue>"
        if URL_MASK in before[m.end() :]:
            return None  # a URL is content between the trigger and the cue
        gap = _WORD.findall(before[m.end() :])
        if len(gap) <= mod.scope_words and all(w.strip("'") in mod.fillers for w in gap):
            if _first(mod.cancelled_by, before[: m.start()]) is not None:
                return None  # a negated trigger affirms: "don't skip the Pro tier"
            return m.start()
    return None


def _following(mod: CompiledModifier, after: str) -> list[str]:
    """The words right after the cue, up to a function word or the end of the phrase."""
    cut = _PHRASE_END.search(after)
    out: list[str] = []
    for w in (w.strip("'") for w in _WORD.findall(after[: cut.start()] if cut else after)[:4]):
        if not w:
            continue  # a closing quote is no word
        if w in mod.function_words or w[0].isdigit():
            break  # a number starts a phrase of its own ("<cue> 8sec")
        out.append(w)
    return out


def _shown_by_scene_object(mod: CompiledModifier, before: str, following: list[str]) -> bool:
    """A length on a thing in the scene ("a 30-second timer"), not the length of the video."""
    if following and following[-1] in mod.video_nouns:
        return False  # the phrase's head is the video: "a <cue> retro TV look"
    if any(w in mod.scene_nouns for w in following):
        return not any(w in mod.targets for w in _WORD.findall(before)[-3:])
    lead = _WORD.findall(before)[-mod.lead_words :] if mod.lead_words else []
    return bool(lead) and lead[-1] not in mod.targets and any(w in mod.scene_nouns for w in lead)


def _place_in_scene(mod: CompiledModifier, cue: str, before: str, after: str, following: list[str]) -> bool:
    """A place that is not the video's destination: "a giant <place> flashing above the cabs"."""
    # a heading before it ends the phrase: "<trade> agent: <place> on the motorway - <scene>"
    leading, trailing = _WORD.findall(before.rpartition(":")[2]), _WORD.findall(_PHRASE_END.split(after, 1)[0])
    heading = ":" in after  # the place names a heading: "<place> on the highway: <scene>"
    depicts = not following and trailing[:1] == ["of"]  # "a <place> of a city"
    # a spec item: "<place> LED screen, portrait, 10 s" (a bare noun phrase that is its own clause)
    # ... or a sized one: "<event>, a 20-metre <place>."
    sized = any(w[0].isdigit() for w in leading + _WORD.findall(cue)[:1])
    item = len(leading) <= 3 and all(w not in mod.function_words or (sized and w in mod.determiners) for w in leading) and not trailing
    opens_clause = heading or depicts or item or all(w in mod.video_nouns for w in leading)
    introduced = any(w in mod.targets for w in leading[-5:])  # "for the flower show's video wall"
    destined = bool(trailing) and trailing[0] in mod.destination_verbs and any(w in mod.video_nouns for w in trailing[1:4])
    return not (opens_clause or introduced or destined or any(w in mod.video_nouns for w in following))


def _modifies_scene_noun(mod: CompiledModifier, before: str, following: list[str]) -> bool:
    """An attributive cue before a noun that is not the video ("a <cue> monitor")."""
    if not following:
        return False
    if following[0] in mod.video_nouns:  # "a <cue> film", unless a thing is named by it: "a <cue> film poster"
        return len(following) > 1 and following[1] in mod.compound_tails
    if following[0] in mod.compound_heads:
        return True  # "a premium economy cabin": no destination makes the cue about the video
    if following[-1] in mod.video_nouns:
        return False
    # "for a 4K TV", "for the dome's 4K projector", "it runs on the 98-inch UHD display"; "our 4K
    # projector" is the product. Only determiners, possessives, sizes and linking words stand between.
    leading = _WORD.findall(before)[-5:]
    for i in range(len(leading) - 1, -1, -1):
        w = leading[i]
        if w in mod.targets or (w in mod.target_verbs and leading[i + 1 : i + 2] and leading[i + 1] in mod.target_links):
            rest = leading[i + 1 :]
            return not all(x in mod.determiners or x in mod.target_links or x.endswith("'s") or x[0].isdigit() for x in rest)
    return True


def _describes_scene(mod: CompiledModifier, cue: str, before: str, after: str) -> bool:
    """The content test, in the form the modifier asks for: closed (scene nouns), a place, or open."""
    if _KEY_VALUE.search(before):
        return False
    words = [w for w in _WORD.findall(cue) if w not in mod.function_words]
    if mod.attributive and (not words or any(w.split("-")[-1] not in mod.attributive for w in words)):
        return False
    following = _following(mod, after)
    if mod.scene_nouns:
        return _shown_by_scene_object(mod, before, following)
    if mod.needs_target:
        return _place_in_scene(mod, cue, before, after, following)
    return _modifies_scene_noun(mod, before, following)


def _first(patterns: Iterable[re.Pattern[str]], text: str, any_of: re.Pattern[str] | None = None) -> re.Match[str] | None:
    """The match of the first of ``patterns`` that matches; ``any_of``, their alternation, can
    tell in one search that none does."""
    if any_of is not None and any_of.search(text) is None:
        return None
    return next((m for m in (p.search(text) for p in patterns) if m), None)


_NO_ALTERNATIONS = (None, None, None, None)


class _Possible:
    """Which of a modifier's patterns can match anywhere in one scanned text.

    Every window a modifier reads is a substring of that text, so a pattern whose needed
    substrings the text lacks (the prescan's ``live``) cannot match in any window: left out, the
    first pattern that matches is still the same one. Without a prescan every pattern is kept.
    """

    __slots__ = ("live", "prescan")

    def __init__(self, prescan: _Prescan | None, live: list[int] | None) -> None:
        self.prescan = prescan
        self.live = live

    def of(self, name: str, kind: int, patterns: tuple[re.Pattern[str], ...],
           any_of: re.Pattern[str] | None) -> tuple[tuple[re.Pattern[str], ...], re.Pattern[str] | None]:
        """The patterns of list ``kind`` (0 before, 1 after, 2 after_text, 3 after_sentence, 4
        cancelled_by) that may match, with their alternation when all of them may."""
        if self.prescan is None or self.live is None or not patterns:
            return patterns, any_of
        first = self.prescan.modifier_patterns[name][kind]
        live = self.live
        kept = tuple(p for i, p in enumerate(patterns, first) if live[i])
        return (patterns, any_of) if len(kept) == len(patterns) else (kept, None)


_NO_PRESCAN = _Possible(None, None)


def _state(rules: CompiledRules, spec_mods: list[str], text: str, start: int, end: int,
           prescan: _Prescan | None = None, possible: _Possible = _NO_PRESCAN) -> tuple[str, int, int]:
    """The cue's state and the extent of the words that gave it ("not" ... "4K"), so the prompt
    builder can remove an instruction together with its negation."""
    clauses: dict[int, tuple[str, str]] = {}  # modifiers with the same window read the same clause
    for name in spec_mods:
        mod = rules.modifiers[name]
        any_before, any_after, any_text, any_sentence = prescan.any_of.get(name, _NO_ALTERNATIONS) if prescan else _NO_ALTERNATIONS
        got = clauses.get(mod.window)
        if got is None:
            got = clauses[mod.window] = (_clause_before(rules, text, start, mod.window), _clause_after(rules, text, end, mod.window))
        before, after = got
        patterns, any_of = possible.of(name, 0, mod.before, any_before)
        if (m := _first(patterns, before, any_of)) is not None and not (
            mod.cancelled_by and _first(possible.of(name, 4, mod.cancelled_by, None)[0], before[: m.start()]) is not None
        ):  # a negated negation
            return name, start - len(before) + m.start(), end
        patterns, any_of = possible.of(name, 1, mod.after, any_after)
        if (m := _first(patterns, after, any_of)) is not None and _first(mod.after_unless_before, before) is None:
            return name, start, end + m.end()
        if mod.triggers is not None and (at := _in_scope(mod, before)) is not None:
            return name, start - len(before) + at, end
        patterns, any_of = possible.of(name, 2, mod.after_text, any_text)
        if patterns and (m := _first(patterns, text[end : end + mod.window], any_of)) is not None:
            return name, start, end + m.end()
        if mod.after_sentence:
            patterns, any_of = possible.of(name, 3, mod.after_sentence, any_sentence)
            if patterns:
                sentence = _SENTENCE_END.split(text[end : end + mod.window], 1)[0]
                if (m := _first(patterns, sentence, any_of)) is not None:
                    return name, start, end + m.end()
        if (mod.video_nouns or mod.scene_nouns or mod.needs_target) and _describes_scene(mod, text[start:end], before, after):
            return name, start, end
    return "plain", start, end


def _coordinate(rules: CompiledRules, masked: str, signals: list[Signal]) -> list[Signal]:
    """A plain cue joined to an earlier cue of the same signal by coordinators only shares its
    state: "don't add any music or voiceover" rules out both."""
    out: list[Signal] = []
    last: dict[str, Signal] = {}
    for sig in sorted(signals, key=lambda s: s.start):
        prev = last.get(sig.name)
        mod = rules.modifiers.get(prev.state) if prev is not None else None
        if prev is not None and mod is not None and mod.coordinators and sig.state == "plain":
            gap = masked[prev.end : sig.start]
            words = _WORD.findall(gap)
            if words and not rules.clause_break.search(gap) and all(w in mod.coordinators for w in words):
                sig = replace(sig, state=prev.state, extent=(sig.start, sig.end))
        out.append(sig)
        last[sig.name] = sig
    return out


def _nearest_correction(signals: list[Signal]) -> list[Signal]:
    """A correction takes back the value just before it: in "10 seconds, max fifty cents... no
    wait, make the cap three dollars" it is the cap, not the length, that was changed."""
    out: list[Signal] = []
    for sig in signals:
        hi = (sig.extent or (sig.start, sig.end))[1]
        if sig.state == "corrected" and hi > sig.end and any(
            o is not sig and o.state == "corrected" and o.instruction and o.value != sig.value
            and sig.end <= o.start and o.end <= hi
            for o in signals
        ):
            sig = replace(sig, state="plain", extent=(sig.start, sig.end))
        out.append(sig)
    return out


def _replacement(sig: Signal, signals: list[Signal]) -> Signal | None:
    """The value a correction of ``sig`` brings in: the first cue that runs past its trigger."""
    hi = (sig.extent or (sig.start, sig.end))[1]
    return next((o for o in signals if o is not sig and o.instruction and o.state == "plain"
                 and sig.end <= o.start <= hi + 25 and o.end > hi), None)


def _aimed_elsewhere(rules: CompiledRules, signals: list[Signal]) -> list[Signal]:
    """A correction whose new value is of another kind ("5 s, 9:16, actually make it 6 s") takes
    back the earlier value of that kind, not the cue of another kind just before it."""
    kind = rules.kind_of
    out: list[Signal] = []
    for sig in signals:
        if sig.state == "corrected" and sig.instruction and (new := _replacement(sig, signals)) is not None:
            new_kind = kind(new.name)
            decides, decides_new = rules.slots.get(sig.name), rules.slots.get(new.name)
            hi = (sig.extent or (sig.start, sig.end))[1]
            # the words that took the cue back bring, right after them, a value that decides
            # another slot: they were about that slot
            apart = bool(decides and decides_new and not decides & decides_new) and sig.end < hi and new.start - hi <= 2
            if kind(sig.name) != new_kind and (apart or any(
                o is not sig and kind(o.name) == new_kind and o.value != new.value
                and o.end <= new.start and o.instruction
                for o in signals
            )):
                sig = replace(sig, state="plain", extent=(sig.start, sig.end))
        out.append(sig)
    return out


def _superseded(rules: CompiledRules, masked: str, signals: list[Signal], prescan: _Prescan | None = None) -> list[Signal]:
    """Earlier values of a kind taken back by a replacement ("No, make it 12") anywhere later."""
    if not rules.supersede_leads:
        return signals
    kind = rules.kind_of
    window = rules.data.supersede.window
    candidates = [o for o in signals if o.state == "plain" and o.instruction and not isinstance(o.value, bool)]
    if not candidates:
        return signals
    leads = rules.supersede_leads
    if prescan is not None:  # a lead whose needed substrings the text lacks finds nothing in any part of it
        leads = tuple(p for p, ns in zip(leads, prescan.lead_needs, strict=True) if _may_hold(ns, masked))
    news = [o for o in candidates if any(p.search(masked, max(0, o.start - window), o.start) for p in leads)]
    if not news:
        return signals
    out: list[Signal] = []
    for sig in signals:
        if sig.state == "plain" and sig.instruction and any(
            kind(n.name) == kind(sig.name) and n.value != sig.value and sig.end <= n.start
            for n in news
        ):
            sig = replace(sig, state="corrected")
        out.append(sig)
    return out


def _reaffirmed(rules: CompiledRules, masked: str, signals: list[Signal]) -> list[Signal]:
    """A value ruled out and then asked for again in a later clause was a change of mind: "we
    were going to skip Pro, but the client upped the budget, so Pro tier please"."""
    out: list[Signal] = []
    for sig in signals:
        if sig.state == "plain" and sig.instruction and not isinstance(sig.value, bool) and any(
            o.name == sig.name and o.value == sig.value and o.state == "negated" and o.start > sig.end
            for o in signals
        ):
            sig = replace(sig, state="corrected")  # taken back later: "3s ... not 3 seconds, make it 6"
        elif sig.state == "negated" and any(
            o.name == sig.name and o.value == sig.value and o.state == "plain" and o.start > sig.end
            and rules.clause_break.search(masked, sig.end, o.start) and _same_words(sig.words, o.words)
            for o in signals
        ):
            sig = replace(sig, state="corrected")
        out.append(sig)
    return out


def _same_words(a: str, b: str) -> bool:
    """Whether one cue's words hold the other's: asking for "Pro tier" again after "skip Pro" is
    a change of mind; "cinema commercial" after "not 4K" only describes where it plays."""
    a, b = a.lower(), b.lower()
    return a in b or b in a


_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_TIMECODE = re.compile(r"(\d{1,2}):(\d{2}):(\d{2})")
_DECIMAL_COMMA = re.compile(r"\d+,\d{2}")
_MIXED_FRACTION = re.compile(r"(\d+)\s+(\d)/(\d{1,2})")


def _number(rules: CompiledRules, raw: str) -> float | None:
    raw = raw.strip().lower()
    try:
        return float(raw)
    except ValueError:
        pass
    if timecode := _TIMECODE.fullmatch(raw):  # hours:minutes:seconds of a timecode, "00:00:09"
        return int(timecode.group(1)) * 3600 + int(timecode.group(2)) * 60 + int(timecode.group(3))
    if clock := _CLOCK.fullmatch(raw):  # a clock time in a shot range, "0:04"
        return int(clock.group(1)) * 60 + int(clock.group(2))
    if _DECIMAL_COMMA.fullmatch(raw):  # "1,50 dollars"
        return float(raw.replace(",", "."))
    if mixed := _MIXED_FRACTION.fullmatch(raw):  # "2 1/2 minutes"
        return int(mixed.group(1)) + int(mixed.group(2)) / int(mixed.group(3))
    words = raw.replace("-", " ").split()
    known = rules.number_words.get(" ".join(words))
    if known is not None:
        return float(known)
    g = rules.number_grammar
    if g.point and f" {g.point} " in f" {' '.join(words)} ":  # "zero point five"
        whole, _, digits = " ".join(words).partition(f" {g.point} ")
        head, tail = _number(rules, whole), _number(rules, digits)
        if head is None or tail is None or not float(tail).is_integer():
            return None
        return head + tail / 10.0 ** len(str(int(tail)))
    fraction = 0.0
    if len(words) >= 3 and words[-3:-1] == [g.joiner, g.article] and words[-1] in g.fractions:
        fraction, words = g.fractions[words[-1]], words[:-3]
    try:
        return float(" ".join(words)) + fraction
    except ValueError:
        pass
    total = 0.0
    for i, w in enumerate(words):
        if w in g.scales:
            total = (total or 1.0) * g.scales[w]
        elif w == g.article and i + 1 < len(words) and words[i + 1] in g.scales:
            continue
        elif w in rules.number_words:
            total += rules.number_words[w]
        elif w != g.joiner:
            return None
    return total + fraction if words else None


def _amount(rules: CompiledRules, raw: str) -> float | None:
    """A number, where the article alone counts one ("a dollar fifty")."""
    if raw.strip().lower() == rules.number_grammar.article:
        return 1.0
    return _number(rules, raw)


def _unit(units: dict[str, float], unit: str | None) -> float:
    return units.get(unit.lower(), 1.0) if unit else 1.0


def _fixed_number(fixed: Any) -> Any:
    """A value written in the rules file as a string ("12", "0.5") read as a number."""
    if not isinstance(fixed, str):
        return fixed
    try:
        value = float(fixed)
    except ValueError:
        return fixed
    return int(value) if value.is_integer() else value


def _value(rules: CompiledRules, csig: CompiledSignal, fixed: Any, m: Any) -> Any:
    spec = csig.spec
    groups = m.groupdict()
    if spec.kind == "ratio":  # "16:9", "sixteen by ten" -> "16:10"
        a, b = (_number(rules, groups[k]) for k in ("a", "b"))
        if a is None or b is None:
            return f"{_fixed_number(groups['a'])}:{_fixed_number(groups['b'])}"
        return f"{_fixed_number(str(a))}:{_fixed_number(str(b))}"
    if spec.kind == "number":
        if groups.get("n") is None:
            return _fixed_number(fixed)
        n = _amount(rules, groups["n"])
        if n is not None and groups.get("lo") is not None:
            lo = _number(rules, groups["lo"])  # a time range "(2-6s)" spans its difference
            n = n - lo if lo is not None and n > lo else None
        if n is None:
            return None
        units = spec.units or {}
        total = n * _unit(units, groups.get("unit"))
        if groups.get("half") is not None:  # "three minutes and a half": half of the unit more
            total += _unit(units, groups.get("unit")) / 2
        if groups.get("n2") is not None:  # "two minutes ten seconds", "a dollar fifty"
            n2 = _amount(rules, groups["n2"])
            if n2 is None:
                return None
            total += n2 * _unit(units, groups.get("unit2"))
        if groups.get("cents") is not None:
            cents = _number(rules, groups["cents"])
            if cents is None:
                return None
            total += cents / 100
        if units and all(v >= 1 for v in units.values()):
            if total >= 3 or float(total).is_integer():
                return math.floor(total + 0.5)
            return total  # "2.5 s" stays too short rather than rounding up to an allowed length
        return round(total, 2) if not float(total).is_integer() else int(total)
    return fixed


def _bounds(rules: CompiledRules, csig: CompiledSignal, m: re.Match[str]) -> tuple[float, float] | None:
    """Where a time range starts and ends, in seconds: "(2-6s)" -> (2, 6)."""
    groups = m.groupdict()
    if groups.get("lo") is None or groups.get("n") is None:
        return None
    lo, hi = _number(rules, groups["lo"]), _amount(rules, groups["n"])
    if lo is None or hi is None:
        return None
    return lo, hi * _unit(csig.spec.units or {}, groups.get("unit"))


def _chained_total(signals: list[Signal]) -> int | None:
    """Time ranges that follow on from 0 ("0-3s ... 3-7s ... 7-10s") time one film: its length
    is the last range's end, with or without shot headers."""
    ranges = [s.bounds for s in signals if s.name == "duration" and s.bounds and s.state == "plain"]
    if len(ranges) < 2 or ranges[0][0] != 0:
        return None
    if any(abs(a[1] - b[0]) > 1e-9 for a, b in itertools.pairwise(ranges)):
        return None
    return math.floor(ranges[-1][1] + 0.5)


_PREFILTER = False

@dataclass(frozen=True)
class _Prescan:
    """What one scan of a text tells about every signal pattern of a rule book.

    The signal patterns are numbered in order (every pattern of every signal); one that joins
    alternatives keeps them, each compiled alone, in ``parts``. ``literals`` finds, at each
    position, the longest substring some pattern or alternative needs that starts there;
    ``lights`` maps it to the patterns it makes possible: (number, bits), bit i standing for
    alternative i (bit 0 for a pattern of its own). ``always`` has the bits of those whose need
    is unknown. So a scan yields, for each pattern, exactly the alternatives whose needed
    substrings the text holds. ``any_of`` has, for each modifier, the alternation of its
    ``before``, ``after``, ``after_text`` and ``after_sentence`` patterns (None for fewer than two):
    one search that fails says none of them matches. The modifiers' patterns are numbered after
    the signals' (``modifier_patterns``: each modifier's first number in its ``before``, ``after``,
    ``after_text``, ``after_sentence`` and ``cancelled_by``), so the same scan tells which of them
    can match in any window of the text.
    """

    literals: re.Pattern[str]
    lights: dict[str, tuple[tuple[int, int], ...]]
    always: tuple[int, ...]
    parts: tuple[tuple[re.Pattern[str], ...] | None, ...]
    any_of: dict[str, tuple[re.Pattern[str] | None, ...]]
    modifier_patterns: dict[str, tuple[int, int, int, int, int]]
    url_needs: tuple[frozenset[str] | None, frozenset[str] | None]  # of ``image_url`` and ``any_url``
    lead_needs: tuple[frozenset[str] | None, ...]  # of each ``supersede_leads`` pattern

    def live(self, text: str) -> list[int]:
        masks = list(self.always)
        for lit in set(self.literals.findall(text)):
            for u, bits in self.lights[lit]:
                masks[u] |= bits
        return masks

    def finditer(self, u: int, mask: int, pattern: re.Pattern[str], text: str) -> Iterable[re.Match[str]]:
        """``pattern.finditer(text)`` for pattern number ``u``, leaving out what cannot match: the
        whole pattern, or its alternatives outside ``mask`` (the others find the same matches)."""
        if not mask:
            return ()
        parts = self.parts[u]
        if parts is None or mask == (1 << len(parts)) - 1:
            return pattern.finditer(text)
        if not mask & (mask - 1):
            return parts[mask.bit_length() - 1].finditer(text)
        live = []
        while mask:
            low = mask & -mask
            live.append(parts[low.bit_length() - 1])
            mask ^= low
        from skill.textmatch import alternation_finditer

        return alternation_finditer(live, text)


_PRESCANS: dict[int, tuple[CompiledRules, _Prescan]] = {}


def enable_prefilter() -> None:
    """Skip a signal's scan, or the alternatives of it, when a substring every match needs is
    absent from the text.

    Worth it for batches: working out those substrings costs a parse and a compile of each
    pattern once (kept in the start-up cache), which a single plan would not win back. The
    result is identical either way (tested).
    """
    global _PREFILTER
    _PREFILTER = True


def _prescan(rules: CompiledRules) -> _Prescan:
    got = _PRESCANS.get(id(rules))
    if got is not None and got[0] is rules:
        return got[1]
    from skill import rulebook, startup_cache, textmatch

    sources = repr([(s.name, s.values, s.value, s.patterns) for s in rules.data.signals])
    modifiers = repr(sorted(rules.data.modifiers.items()))  # ``any_of`` is built from them
    # ``url_needs`` and ``lead_needs`` come from these compiled patterns
    others = repr([(p.pattern, p.flags) for p in (rules.image_url, rules.any_url, *rules.supersede_leads)])
    k = startup_cache.key(sources, modifiers, others, repr(rules.data.number_grammar), repr(sorted(rules.data.number_words.items())),
                          code=(__file__, rulebook.__file__, textmatch.__file__))
    scan = startup_cache.memo("prescan", k, lambda: _build_prescan(rules), lambda x: isinstance(x, _Prescan))
    _PRESCANS[id(rules)] = (rules, scan)
    return scan


def _build_prescan(rules: CompiledRules) -> _Prescan:
    from skill import startup_cache
    from skill.rulebook import signal_alternatives
    from skill.textmatch import required_substrings, trie_longest

    def needs(p: str, flags: int = 0) -> frozenset[str] | None:
        return required_substrings(p, flags & ~re.UNICODE)

    parts: list[tuple[re.Pattern[str], ...] | None] = []
    always: list[int] = []
    bits_of: dict[str, dict[int, int]] = {}  # a needed substring -> the bits it lights, by number
    for csig, alts in zip(rules.signals, signal_alternatives(rules.data), strict=True):
        for (_v, p), sources in zip(csig.patterns, alts, strict=True):
            u = len(parts)
            split = sources is not None and len(sources) > 1 and all(_never_empty(a) for a in sources)
            sources = sources if split and sources is not None else None
            parts.append(tuple(startup_cache.compile_pattern(a) for a in sources) if sources is not None else None)
            always.append(0)
            for i, ns in enumerate([needs(a) for a in sources] if sources is not None else [needs(p.pattern, p.flags)]):
                if ns is None:
                    always[u] |= 1 << i
                for n in ns or ():
                    by = bits_of.setdefault(n, {})
                    by[u] = by.get(u, 0) | 1 << i
    modifier_patterns = {name: _number_modifier(m, needs, parts, always, bits_of) for name, m in rules.modifiers.items()}
    lits = sorted(bits_of)
    lights: dict[str, tuple[tuple[int, int], ...]] = {}
    for lit in lits:
        merged: dict[int, int] = {}
        for x in (x for x in lits if lit.startswith(x)):
            for u, b in bits_of[x].items():
                merged[u] = merged.get(u, 0) | b
        lights[lit] = tuple(sorted(merged.items()))
    literals = startup_cache.compile_pattern(f"(?=({trie_longest(lits)}))" if lits else "(?!)")
    any_of = {name: tuple(_alternation_of(ps) for ps in (m.before, m.after, m.after_text, m.after_sentence))
              for name, m in rules.modifiers.items()}
    url_needs = (needs(rules.image_url.pattern, rules.image_url.flags), needs(rules.any_url.pattern, rules.any_url.flags))
    lead_needs = tuple(needs(p.pattern, p.flags) for p in rules.supersede_leads)
    return _Prescan(literals, lights, tuple(always), tuple(parts), any_of, modifier_patterns, url_needs, lead_needs)


def _number_modifier(
    mod: CompiledModifier, needs: Callable[[str, int], frozenset[str] | None], parts: list[tuple[re.Pattern[str], ...] | None],
    always: list[int], bits_of: dict[str, dict[int, int]],
) -> tuple[int, int, int, int, int]:
    """Number a modifier's patterns after those already numbered, each lit by its needed
    substrings (always live when they are unknown); returns the first number of each list."""
    firsts: list[int] = []
    for patterns in (mod.before, mod.after, mod.after_text, mod.after_sentence, mod.cancelled_by):
        firsts.append(len(parts))
        for p in patterns:
            u = len(parts)
            parts.append(None)
            ns = needs(p.pattern, p.flags)
            always.append(0 if ns and "" not in ns else 1)
            for n in ns or ():
                by = bits_of.setdefault(n, {})
                by[u] = by.get(u, 0) | 1
    before, after, after_text, after_sentence, cancelled_by = firsts
    return before, after, after_text, after_sentence, cancelled_by


_GROUP_REF = re.compile(r"\\\d|\(\?P=|\(\?\(")


def _alternation_of(patterns: tuple[re.Pattern[str], ...]) -> re.Pattern[str] | None:
    """One pattern that matches where any of ``patterns`` does (None: fewer than two, or they
    cannot be joined: group references, clashing names, different flags)."""
    from skill import startup_cache

    if len(patterns) < 2 or len({p.flags for p in patterns}) > 1 or any(_GROUP_REF.search(p.pattern) for p in patterns):
        return None
    try:
        return startup_cache.compile_pattern("|".join(f"(?:{p.pattern})" for p in patterns), patterns[0].flags & ~re.UNICODE)
    except re.error:
        return None


def _never_empty(pattern: str) -> bool:
    """Whether no match of ``pattern`` can be empty (the split scan relies on it)."""
    from skill.textmatch import regex_internals

    internals = regex_internals()
    if internals is None:  # pragma: no cover
        return False
    lo, _hi = internals[0].parse(pattern, 0).getwidth()
    return bool(lo > 0)


def _lower(text: str) -> str:
    """Lower-case without changing any offset (a few characters grow when lower-cased)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _classify_urls(rules: CompiledRules, text: str, lowered: str, masked: str) -> list[Signal]:
    out: list[Signal] = []
    have_source = False
    for m in rules.image_url.finditer(lowered):
        # a URL's label is read through typos like any cue: "last frmae URL"
        before = rules.speller.correct(_clause_before_urls(rules, masked, m.start()))[0]
        after = rules.speller.correct(_clause_after_urls(rules, masked, m.end()))[0]
        following = rules.speller.correct(_next_sentence(rules, masked, m.end()))[0]
        role = rules.default_role
        for r in rules.roles:
            if (any(p.search(before) for p in r.before) or any(p.search(after) for p in r.after)
                    or any(p.search(following) for p in r.next_sentence)):
                role = r.role
                break
        name = f"image_{role}"
        if role == rules.default_role:
            if have_source:
                name = "image_extra"
            have_source = True
        url = text[m.start() : m.end()]
        out.append(Signal(name, url, url, m.start(), m.end()))
    images = [(s.start, s.end) for s in out]
    for m in rules.any_url.finditer(lowered):
        if not any(a < m.end() and m.start() < b for a, b in images):
            url = text[m.start() : m.end()].rstrip(".,;:!?")  # never dropped silently: the rules name it
            out.append(Signal("url_unsupported", url, url, m.start(), m.start() + len(url)))
    return out


def _joined(rules: CompiledRules, between: str) -> bool:
    """Only coordinators stand between two URLs ("URL and URL"): they share one phrase."""
    joiners = rules.data.image_urls.coordinators
    return all(w in joiners for w in between.replace(",", " , ").split())


def _clause_before_urls(rules: CompiledRules, masked: str, start: int) -> str:
    """The clause before a URL, from the previous URL on unless coordinators alone join them: in
    "mood board URL and the actual photo URL" the mood board is the first URL's."""
    chunk = masked[max(0, start - rules.url_window) : start]
    cut = 0
    for m in _SENTENCE_BREAK.finditer(chunk):
        cut = m.end()
    chunk = chunk[cut:]
    at = chunk.rfind(URL_MASK)
    if at >= 0 and not _joined(rules, chunk[at + 1 :]):
        return chunk[at + 1 :]
    return chunk


def _clause_after_urls(rules: CompiledRules, masked: str, end: int) -> str:
    """The clause after a URL, up to the next URL unless only coordinators join the two: in
    "animate URL and use URL only as a reference" the words after the second belong to it."""
    chunk = masked[end : end + rules.url_window]
    m = _SENTENCE_BREAK.search(chunk)
    chunk = chunk[: m.start()] if m else chunk
    at = chunk.find(URL_MASK)
    if at > 0 and not _joined(rules, chunk[:at]):
        return chunk[: at + 1]  # the next URL's mark stays: a label right before it is that URL's
    return chunk


def _next_sentence(rules: CompiledRules, masked: str, end: int) -> str:
    """The sentence after the URL's own: "URL is our old kitchen. Don't animate it, ..." """
    chunk = masked[end : end + 2 * rules.url_window]
    m = _SENTENCE_BREAK.search(chunk)
    if m is None:
        return ""
    rest = chunk[m.end() :]
    n = _SENTENCE_BREAK.search(rest)
    return rest[: n.start()] if n else rest


_KEY_BEFORE = re.compile(r"(?:[\"']([A-Za-z_]+)[\"']\s*:|\b([A-Za-z_]+)\s*=)\s*$")
_QUOTE = re.compile(r"\"([^\"\n]{1,200})\"|(?<![\w])'((?:[^'\n]|(?<=\w)'(?=\w)){1,120})'(?![\w])")


def _quoted_spans(rules: CompiledRules, masked: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Spans of quoted words that follow a speech or label word (what is said or shown), and the
    spans of quotes relayed from the caller (instructions, though a speech word may open them)."""
    spec = rules.data.quoted
    if not spec.after_words or ('"' not in masked and "'" not in masked):  # every match of _QUOTE holds one
        return [], []
    cues = frozenset(spec.after_words)
    relayers = frozenset(spec.relayed_by)
    pronouns = frozenset(spec.relay_pronouns)
    keys = frozenset(spec.request_keys)
    spoken, relayed = [], []
    for m in _QUOTE.finditer(masked):
        words = _WORD.findall(masked[max(0, m.start() - 120) : m.start()])
        near = [w.removesuffix("'s") for w in words[-spec.relay_lookback_words :]]
        key = _KEY_BEFORE.search(masked, max(0, m.start() - 40), m.start())
        if key is not None and (key.group(1) or key.group(2)).lower() in keys:
            relayed.append((m.start(), m.end()))  # a field of a pasted call: the request itself
        elif relayers and (any(w in relayers for w in near) or _relayed_by_pronoun(masked, m.start(), words, pronouns, relayers)):
            relayed.append((m.start(), m.end()))  # the caller's own words, passed on by an agent
        elif any(w in cues for w in words[-spec.lookback_words :]):
            spoken.append((m.start(), m.end()))
    return spoken, relayed


def _relayed_by_pronoun(masked: str, at: int, words: list[str], pronouns: frozenset[str], relayers: frozenset[str]) -> bool:
    """"The user sent a photo. They said: '...'": a pronoun opening the sentence of the quote."""
    if not pronouns or len(words) < 2 or words[-2] not in pronouns:
        return False
    cut = max((m.end() for m in _SENTENCE_BREAK.finditer(masked, 0, at)), default=0)
    opening = _WORD.findall(masked[cut:at])
    return opening[:1] == words[-2:-1] and any(w.removesuffix("'s") in relayers for w in _WORD.findall(masked[:cut]))


def _other_language(rules: CompiledRules, masked: str) -> Signal | None:
    """``language_other`` when another language's function words outnumber English ones."""
    spec = rules.data.language
    if not spec.other:
        return None
    english_words, other_words = rules.language_words
    words = _WORD.findall(masked)
    other = [w for w in words if w in other_words]
    if len(other) < spec.min_other:
        return None  # too few to count the English ones against
    english = sum(w in english_words for w in words)
    if len(other) <= english:
        return None
    sample = ", ".join(list(dict.fromkeys(other))[:5])
    return Signal("language_other", sample, sample, 0, 0, instruction=False)


def _may_hold(needs: frozenset[str] | None, text: str) -> bool:
    """Whether ``text`` holds one of the substrings every match needs (None: unknown, so it may)."""
    return needs is None or any(n in text for n in needs)


def _mask_urls(rules: CompiledRules, lowered: str) -> str:
    """``lowered`` with every URL blanked out, offsets kept, in one pass (words inside a URL
    never count; the comma after a URL still ends a clause)."""
    parts: list[str] = []
    pos = 0
    for m in rules.any_url.finditer(lowered):
        end = m.start() + len(m.group().rstrip(".,;:!?"))
        parts += [lowered[pos : m.start()], URL_MASK * (end - m.start())]
        pos = end
    parts.append(lowered[pos:])
    return "".join(parts)


def _cues(rules: CompiledRules, csig: CompiledSignal, scans: list[tuple[Any, Iterable[re.Match[str]]]], scan: str,
          text: str, back: list[int] | None, prescan: _Prescan | None, possible: _Possible = _NO_PRESCAN) -> list[Signal]:
    """One signal's cues from the matches of its patterns (``scans``: each pattern's value and
    matches, in order). An earlier match keeps its words, except that a later match holding it
    whole replaces it: "music bed" is one cue, not "music" and a leftover "bed"."""
    spec = csig.spec
    kept: list[Signal] = []
    spans: list[tuple[int, int]] = []
    for fixed, found in scans:
        for m in found:
            a, b = m.start(), m.end()
            if a == b:
                continue
            hit = [i for i, (s, e) in enumerate(spans) if a < e and s < b]
            if hit and not all(a <= spans[i][0] and spans[i][1] <= b and (a, b) != spans[i] for i in hit):
                continue
            value = _value(rules, csig, fixed, m)
            if value is None:
                continue
            state, lo, hi = _state(rules, spec.modifiers, scan, a, b, prescan, possible) if spec.modifiers else ("plain", a, b)
            start, end = (back[a], back[b]) if back else (a, b)
            if back:
                lo, hi = back[lo], back[hi]
            for i in reversed(hit):
                del spans[i], kept[i]
            spans.append((a, b))
            kept.append(Signal(spec.name, value, text[start:end].strip(), start, end, state,
                               extent=(lo, hi), instruction=spec.instruction, bounds=_bounds(rules, csig, m)))
    return kept


def extract(text: str, rules: CompiledRules, *, shot_durations: list[int | None] | None = None) -> Intent:
    """All signals in ``text``, in order of appearance. Pure and deterministic."""
    text = text.translate(_TRANSLATE)
    lowered = _lower(text)
    if not lowered.isascii():
        lowered = lowered.translate(_PICTOGRAPHS)
    prescan = _prescan(rules) if _PREFILTER else None
    image_needs, url_needs = prescan.url_needs if prescan is not None else (None, None)
    any_url = _may_hold(url_needs, lowered)
    masked = _mask_urls(rules, lowered) if any_url else lowered
    signals: list[Signal] = _classify_urls(rules, text, lowered, masked) if any_url or _may_hold(image_needs, lowered) else []
    language = _other_language(rules, masked)
    if language is not None:
        signals.append(language)
    # matching reads through typos and identifiers ("hero_video"); spans map back
    scan, back = rules.speller.correct(masked.translate(rules.joiners) if rules.joiners else masked)

    live = prescan.live(scan) if prescan is not None else None
    possible = _Possible(prescan, live)
    u = 0
    for csig in rules.signals:
        first, u = u, u + len(csig.patterns)
        if live is not None and not any(live[first:u]):
            continue  # no pattern of this signal can match: it has no cue
        scans: list[tuple[Any, Iterable[re.Match[str]]]] = []
        for k, (fixed, pattern) in enumerate(csig.patterns, first):
            if live is None or prescan is None:
                scans.append((fixed, pattern.finditer(scan)))
            elif live[k]:  # else a substring every match needs is absent
                scans.append((fixed, prescan.finditer(k, live[k], pattern, scan)))
        signals.extend(_cues(rules, csig, scans, scan, text, back, prescan, possible))

    signals = _nearest_correction(_aimed_elsewhere(rules, _coordinate(rules, masked, signals)))
    signals = _reaffirmed(rules, masked, _superseded(rules, masked, signals, prescan))
    quoted, relayed = _quoted_spans(rules, masked)
    if relayed:  # "the user said: '...'" opens the caller's words, not a line someone speaks
        signals = [s for s in signals if s.instruction or not any(s.start <= a < s.end for a, _ in relayed)]
    if quoted:
        signals = [
            replace(s, state="quoted")
            if s.state == "plain" and any(a <= s.start and s.end <= b for a, b in quoted) else s
            for s in signals
        ]
    markers = sorted((s for s in signals if s.name == "shot_marker"), key=lambda s: s.start)
    shots_start = markers[0].start if markers else None
    if shots_start is not None:
        signals = [
            replace(s, in_shots=True) if s.start >= shots_start else s
            for s in signals
        ]
    signals.sort(key=lambda s: (s.start, s.name))

    shots_total = None
    if shot_durations:
        if all(d is not None for d in shot_durations):
            shots_total = sum(d for d in shot_durations if d is not None)
    elif markers:
        bounds = [m.start for m in markers] + [len(masked)]
        per_shot: list[int] = []
        for a, b in itertools.pairwise(bounds):
            d = next((s.value for s in signals if s.name == "duration" and a <= s.start < b), None)
            if not isinstance(d, int):
                break
            per_shot.append(d)
        else:
            shots_total = sum(per_shot)
    if shots_total is None and not shot_durations and len(markers) >= 2:
        each = next((s.value for s in signals if s.name == "duration_each" and s.state == "plain"), None)
        if isinstance(each, int):  # "Shot 1 ... Shot 3 ... Each about 4 seconds"
            shots_total = each * len({m.value for m in markers})
    if shots_total is None and not shot_durations and (shots_total := _chained_total(signals)) is not None:
        signals = [replace(s, in_shots=True) if s.bounds else s for s in signals]  # shot timings
    by_name: dict[str, list[Signal]] = {}
    for sig in signals:
        by_name.setdefault(sig.name, []).append(sig)
    return Intent(
        by_name={k: tuple(v) for k, v in by_name.items()},
        text=text,
        signals=tuple(signals),
        excludes=rules.excludes,
        ruling_out=rules.ruling_out,
        shots_total=shots_total,
        shot_count=len({s.value for s in markers}),
    )
