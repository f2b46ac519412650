"""The rule book: ``routing_rules.yaml`` validated and compiled once.

The engine knows no video words. Vocabulary (signals and their patterns) and policy (ordered
rules) both live in the YAML file; this module only checks that file (every reference, every
slot a rule decides) and compiles its regexes. :mod:`skill.intent` reads signals with the
compiled patterns and :mod:`skill.routing` walks the rules.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from skill import respell, startup_cache, textmatch
from skill.data import data_path, load_yaml
from skill.errors import ConfigError
from skill.respell import Speller

__all__ = [
    "URL_MASK",
    "URL_SIGNALS",
    "CompiledModifier",
    "CompiledRole",
    "CompiledRules",
    "CompiledSignal",
    "Condition",
    "Rule",
    "RulesFile",
    "Slots",
    "compile_rules",
    "load_rules",
    "signal_alternatives",
]

URL_MASK = "\ue000"
URL_SIGNALS = ("image_source", "image_tail", "image_reference", "image_extra", "url_unsupported", "language_other")


@dataclass
class Slots:
    """The parameters the rules decide; ``None`` until a rule sets one.

    Typed so that the planner reads ``slots.tier`` rather than a dict key; rules name slots
    by these field names, and a rules file naming any other slot is refused when loaded.
    """

    tier: str | None = None
    mode: str | None = None
    duration: int | None = None
    aspect_ratio: str | None = None
    generate_audio: bool | None = None
    image_url: str | None = None
    tail_image_url: str | None = None
    max_cost_usd: float | None = None

    def get(self, name: str) -> Any:
        return getattr(self, name)

    def put(self, name: str, value: Any) -> None:
        if name not in SLOT_NAMES:
            raise KeyError(name)
        setattr(self, name, value)

    def is_set(self, name: str) -> bool:
        return getattr(self, name) is not None


SLOT_NAMES = frozenset(f.name for f in fields(Slots))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


class ModifierSpec(_Model):
    """A context that changes what a cue means. Three ways to see it, any of which applies:

    ``before``/``after``: patterns anchored at the cue. ``triggers`` with ``fillers``: negation
    by scope, in the spirit of NegEx (Chapman et al., 2001): a trigger earlier in the clause
    reaches the cue when only filler words stand between them (at most ``scope_words``).
    ``video_nouns`` with ``function_words``: the content test: a cue that modifies some other
    noun describes a thing in the scene, not the video being ordered, unless a ``targets``
    word introduces it. The test reads only cues that end in an ``attributive`` word (a cue
    that is itself a noun is never content); with ``scene_nouns`` it is closed: the cue is
    content only before one of those nouns (or after one, within ``lead_words``). With ``needs_target`` a cue naming a place counts
    only when a target word introduces it, when a video noun follows it, or when it opens its
    clause. ``keeps_words``: the state means content, so the prompt builder keeps the words (a
    negated or deferred tier is an instruction and goes). ``after_sentence``: patterns read after
    the cue up to the end of the sentence, across commas, dashes and question marks ("4K? nah").
    ``coordinators``: a cue joined to an earlier cue of the same signal by only these words
    shares its state ("don't add any music or voiceover"). ``cancelled_by``: patterns read right
    before a trigger that undo it ("don't skip the Pro tier"). ``after_text``: patterns read after
    the cue across sentence ends ("the 4K tier; skip it"). The words live in the rules file.
    """

    window: int = Field(gt=0, le=400)
    before: list[str] = Field(default_factory=list)
    after: list[str] = Field(default_factory=list)
    triggers: list[str] = Field(default_factory=list)
    fillers: list[str] = Field(default_factory=list)
    scope_words: int = Field(default=4, ge=0, le=12)
    video_nouns: list[str] = Field(default_factory=list)
    function_words: list[str] = Field(default_factory=list)
    targets: list[str] = Field(default_factory=list)
    target_verbs: list[str] = Field(default_factory=list, description="targets only when a link word follows ('runs on the')")
    target_links: list[str] = Field(default_factory=list)
    destination_verbs: list[str] = Field(
        default_factory=list,
        description="a place followed by one of these and a video noun is its destination ('the <place> needs a new <noun>')",
    )
    determiners: list[str] = Field(default_factory=list)
    attributive: list[str] = Field(default_factory=list)
    scene_nouns: list[str] = Field(default_factory=list)
    compound_heads: list[str] = Field(
        default_factory=list,
        description="scene nouns that make a compound with the cue right before them ('commercial kitchen', "
        "'premium economy'): content even when a video noun ends the phrase ('a commercial kitchen scene')",
    )
    compound_tails: list[str] = Field(
        default_factory=list,
        description="things named after a cue and a video noun ('a silent film poster'): content, not the video",
    )
    lead_words: int = Field(default=6, ge=0, le=12)
    needs_target: bool = False
    keeps_words: bool = False
    after_sentence: list[str] = Field(default_factory=list)
    coordinators: list[str] = Field(default_factory=list)
    cancelled_by: list[str] = Field(default_factory=list)
    after_text: list[str] = Field(default_factory=list)
    after_unless_before: list[str] = Field(
        default_factory=list,
        description="patterns read before the cue that undo an ``after`` match: in 'running on the <place> "
        "next month' the date is the deliverable's, not a later step's",
    )


class RoleSpec(_Model):
    role: str
    before: list[str] = Field(default_factory=list)
    after: list[str] = Field(default_factory=list)
    next_sentence: list[str] = Field(default_factory=list)  # "URL. Don't animate it, ..."


class ImageUrlSpec(_Model):
    pattern: str
    any_url: str
    window: int = Field(gt=0, le=400)
    roles: list[RoleSpec]
    default_role: str
    # words that join two URLs into one phrase ("URL and URL are references"): the clause read
    # after a URL runs past the next URL only when these alone stand between them
    coordinators: list[str] = Field(default_factory=list)


class NumberGrammar(_Model):
    """How number words combine: "seventy-five", "a hundred and twenty", "seven and a half"."""

    joiner: str = "and"
    article: str = "a"
    scales: dict[str, int] = Field(default_factory=dict)
    fractions: dict[str, float] = Field(default_factory=dict)
    point: str | None = None  # the word for a decimal point: "zero point five"


class TypoSpec(_Model):
    """Cue words read through a one-letter typo ("stdandard", "portait"): see :mod:`skill.respell`."""

    words: list[str] = Field(default_factory=list)
    min_length: int = Field(default=6, ge=4, le=12)
    joined_first: list[str] = Field(default_factory=list)
    joined_second: list[str] = Field(default_factory=list)
    real_words: list[str] = Field(default_factory=list, description="English words never read as a typo of a cue word")


class LanguageSpec(_Model):
    """The rules read English: a text whose function words are mostly another language's gets
    the ``language_other`` signal (and a warning) instead of routing on accidents."""

    english: list[str] = Field(default_factory=list)
    other: list[str] = Field(default_factory=list)
    min_other: int = Field(default=3, ge=1)


class QuotedSpec(_Model):
    """Words in quotes after a speech or label word ("says 'cut to black'", "a sign reading
    '4K'") are what someone in the video says or shows: content, never an instruction. Quoted
    words relayed from the caller's side ("the user asked, quote, '...'") stay instructions."""

    after_words: list[str] = Field(default_factory=list)
    lookback_words: int = Field(default=3, ge=1, le=8)
    relayed_by: list[str] = Field(default_factory=list)
    relay_lookback_words: int = Field(default=8, ge=1, le=20)
    relay_pronouns: list[str] = Field(
        default_factory=list,
        description="'they said' opening a sentence relays too, once a relayer word came earlier in the text",
    )
    request_keys: list[str] = Field(
        default_factory=list,
        description="a quote that is the value of one of these keys ('\"text\": \"...\"', 'prompt=\"...\"') is the request itself",
    )


class SupersedeSpec(_Model):
    """A value introduced as a replacement ("No, make it 12", "corrected to 6s", "actually ... 16:9,
    use that") takes the place of every earlier value of its kind, however far back it was said;
    a correction aimed at one kind leaves the other kinds in between alone."""

    leads: list[str] = Field(default_factory=list, description="regexes that end where the new value starts")
    window: int = Field(default=40, ge=5, le=200)
    kinds: list[list[str]] = Field(default_factory=list, description="signals that set the same parameter")


class SignalSpec(_Model):
    name: str
    kind: Literal["flag", "number", "ratio"] = "flag"
    value: Any = None
    values: dict[str, list[str]] | None = None
    patterns: list[str] | None = None
    units: dict[str, float] | None = None
    modifiers: list[str] = Field(default_factory=list)
    excludes: str | None = None
    rules_out: bool = Field(
        default=False,
        description="A plain cue rules its value out of the `excludes` slot, the way a negated cue of "
        "another signal does: \"1080p is plenty\" says no 4K without a negation word.",
    )
    instruction: bool = Field(
        default=True,
        description="The words are addressed to the tool (the prompt builder removes them); false for "
        "structure the builder reads itself, such as shot headers.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> SignalSpec:
        if (self.values is None) == (self.patterns is None):
            raise ValueError("give exactly one of `patterns` (with `value`) or `values`")
        return self


class Condition(_Model):
    """One test on the request; exactly one of field/signal/slot/shots_total/all/any/not/always."""

    field_: str | None = Field(default=None, alias="field")
    signal: str | None = None
    slot: str | None = None
    shots_total: bool | None = None
    all_: list[Condition] | None = Field(default=None, alias="all")
    any_: list[Condition] | None = Field(default=None, alias="any")
    not_: Condition | None = Field(default=None, alias="not")
    always: bool | None = None
    equals: Any = None
    in_: list[Any] | None = Field(default=None, alias="in")
    not_in: list[Any] | None = None
    lt: float | None = None
    gt: float | None = None
    state: Literal["plain", "negated", "deferred", "any"] = "plain"
    scope: Literal["anywhere", "outside_shots"] = "anywhere"

    @model_validator(mode="after")
    def _exactly_one(self) -> Condition:
        keys = [self.field_, self.signal, self.slot, self.shots_total, self.all_, self.any_, self.not_, self.always]
        if sum(k is not None for k in keys) != 1:
            raise ValueError("a condition needs exactly one of field, signal, slot, shots_total, all, any, not, always")
        return self


class Refusal(_Model):
    code: str
    field: str | None = None
    message: str


class WarnSpec(_Model):
    code: str
    message: str


class Rule(_Model):
    id: str
    slot: str | None = None
    override: bool = False
    when: Condition | None = None
    set: Any = None
    refuse: Refusal | None = None
    warn: WarnSpec | None = None
    change: str | None = None
    respect_exclusions: bool = True

    @model_validator(mode="after")
    def _shape(self) -> Rule:
        kinds = [self.slot is not None, self.refuse is not None, self.warn is not None]
        if sum(kinds) != 1:
            raise ValueError("a rule has exactly one of `slot` (with `set`), `refuse` or `warn`")
        if self.slot is not None and self.set is None:
            raise ValueError("a slot rule needs `set`")
        return self


class BudgetSpec(_Model):
    step_down: list[str]
    change: str
    refuse: Refusal


class RulesFile(_Model):
    version: int
    clause_break: str
    word_joiners: str = ""
    """Characters that join words in identifiers ("hero_video"), read as spaces by the cue patterns."""
    modifiers: dict[str, ModifierSpec]
    number_words: dict[str, int]
    number_grammar: NumberGrammar = Field(default_factory=lambda: NumberGrammar())
    quoted: QuotedSpec = Field(default_factory=lambda: QuotedSpec())
    supersede: SupersedeSpec = Field(default_factory=lambda: SupersedeSpec())
    typos: TypoSpec = Field(default_factory=lambda: TypoSpec())
    language: LanguageSpec = Field(default_factory=lambda: LanguageSpec())
    image_urls: ImageUrlSpec
    signals: list[SignalSpec]
    rules: list[Rule]
    budget: BudgetSpec
    messages: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references(self) -> RulesFile:
        names = {s.name for s in self.signals} | set(URL_SIGNALS)
        seen_signals: set[str] = set()
        for spec in self.signals:
            if spec.name in seen_signals:
                raise ValueError(f"signal {spec.name!r} is defined twice")
            seen_signals.add(spec.name)
            for mod in spec.modifiers:
                if mod not in self.modifiers:
                    raise ValueError(f"signal {spec.name!r}: unknown modifier {mod!r}")
        slots = {r.slot for r in self.rules if r.slot}
        unknown = sorted(slots - SLOT_NAMES)
        if unknown:
            raise ValueError(f"rules decide unknown slot(s) {unknown}; slots are {sorted(SLOT_NAMES)}")
        ids: set[str] = set()
        for rule in self.rules:
            if rule.id in ids:
                raise ValueError(f"rule {rule.id!r} is defined twice")
            ids.add(rule.id)
            for cond in _walk(rule.when):
                if cond.signal is not None and cond.signal not in names:
                    raise ValueError(f"rule {rule.id!r}: unknown signal {cond.signal!r}")
                if cond.slot is not None and cond.slot not in slots:
                    raise ValueError(f"rule {rule.id!r}: no rule decides slot {cond.slot!r}")
            if isinstance(rule.set, dict):
                ref = rule.set.get("signal")
                if ref is not None and ref not in names:
                    raise ValueError(f"rule {rule.id!r}: sets from unknown signal {ref!r}")
                if len(set(rule.set) - {"field", "signal", "slot", "shots_total", "first_allowed", "scope", "pick"}) > 0:
                    raise ValueError(f"rule {rule.id!r}: unknown value source {sorted(rule.set)}")
                if rule.set.get("pick", "first") not in ("first", "last"):
                    raise ValueError(f"rule {rule.id!r}: pick is 'first' or 'last', not {rule.set['pick']!r}")
        return self


def _walk(cond: Condition | None) -> list[Condition]:
    if cond is None:
        return []
    out = [cond]
    for sub in (cond.all_ or []) + (cond.any_ or []):
        out.extend(_walk(sub))
    if cond.not_ is not None:
        out.extend(_walk(cond.not_))
    return out


# -- compiled form ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledSignal:
    """A signal with its patterns compiled, each paired with the value it stands for."""
    spec: SignalSpec
    patterns: tuple[tuple[Any, re.Pattern[str]], ...]


@dataclass(frozen=True)
class CompiledModifier:
    """A modifier with its patterns compiled and its word lists as sets."""
    name: str
    window: int
    before: tuple[re.Pattern[str], ...]
    after: tuple[re.Pattern[str], ...]
    triggers: re.Pattern[str] | None = None
    fillers: frozenset[str] = frozenset()
    scope_words: int = 4
    video_nouns: frozenset[str] = frozenset()
    function_words: frozenset[str] = frozenset()
    targets: frozenset[str] = frozenset()
    target_verbs: frozenset[str] = frozenset()
    target_links: frozenset[str] = frozenset()
    destination_verbs: frozenset[str] = frozenset()
    determiners: frozenset[str] = frozenset()
    attributive: frozenset[str] = frozenset()
    scene_nouns: frozenset[str] = frozenset()
    compound_heads: frozenset[str] = frozenset()
    compound_tails: frozenset[str] = frozenset()
    lead_words: int = 6
    needs_target: bool = False
    keeps_words: bool = False
    after_sentence: tuple[re.Pattern[str], ...] = ()
    coordinators: frozenset[str] = frozenset()
    cancelled_by: tuple[re.Pattern[str], ...] = ()
    after_text: tuple[re.Pattern[str], ...] = ()
    after_unless_before: tuple[re.Pattern[str], ...] = ()


@dataclass(frozen=True)
class CompiledRole:
    """An image URL role with its before/after patterns compiled."""
    role: str
    before: tuple[re.Pattern[str], ...]
    after: tuple[re.Pattern[str], ...]
    next_sentence: tuple[re.Pattern[str], ...] = ()


@dataclass(frozen=True)
class CompiledRules:
    """The rules file with every regex compiled; built once per process."""

    source: Path
    data: RulesFile
    clause_break: re.Pattern[str]
    image_url: re.Pattern[str]
    any_url: re.Pattern[str]
    url_window: int
    roles: tuple[CompiledRole, ...]
    default_role: str
    modifiers: dict[str, CompiledModifier]
    signals: tuple[CompiledSignal, ...]
    number_words: dict[str, int]
    number_grammar: NumberGrammar
    speller: Speller
    content_states: frozenset[str] = frozenset({"quoted"})
    supersede_leads: tuple[re.Pattern[str], ...] = ()
    kinds: dict[str, str] = field(default_factory=dict)
    language_words: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())  # (english, other)
    excludes: dict[str, str] = field(default_factory=dict)  # signal -> the slot its negated cues rule out
    ruling_out: frozenset[str] = frozenset()  # signals whose plain cues rule their value out too
    slots: dict[str, frozenset[str]] = field(default_factory=dict)  # signal -> the slots its rules decide
    joiners: dict[int, str] = field(default_factory=dict)  # str.translate table: word joiners -> spaces

    def kind_of(self, signal: str) -> str:
        """The parameter a signal sets, named by the first signal of its ``supersede.kinds`` group
        (a signal in no group is its own kind): what a correction or a replacement compares."""
        return self.kinds.get(signal, signal)


def _expand(pattern: str, subs: Mapping[str, str]) -> str:
    """The placeholders written out: ``{number}``, ``{url}`` and ``{video_noun}`` (any noun of
    the content test's ``video_nouns``: "shorts {video_noun}" is about the video ordered).

    ``{url}`` is one whole masked URL, from the start of its run to its end, never a part of it:
    a pattern led by it does not restart at each of the URL's characters, nor hand characters
    back to a gap that follows ("{url}[^?!]{0,40}..." was cubic in the URL's length: 4x the CPU
    of a whole plan on the corpus)."""
    for name, written in subs.items():
        pattern = pattern.replace(name, written)
    return pattern


_URL_RUN = f"(?<!{URL_MASK}){URL_MASK}" + ("++" if sys.version_info >= (3, 11) else "+")  # possessive from 3.11


def _guarded(pattern: str, subs: Mapping[str, str]) -> str:
    """A signal pattern expanded; one that opens with lookbehinds reads its first character
    before them (same matches, no lookbehind run at every position of the text)."""
    return textmatch.first_char_guarded(_expand(pattern, subs))


def _compile(where: str, pattern: str, subs: Mapping[str, str]) -> re.Pattern[str]:
    expanded = _expand(pattern, subs)
    literal = re.sub(r"\\.|\(\?P[<=]\w+>?|\{\w+\}", "", pattern)
    if any(ch.isupper() for ch in literal):
        raise ValueError(f"{where}: write patterns in lower case (text is lower-cased first): {pattern!r}")
    try:
        return startup_cache.compile_pattern(expanded)
    except re.error as exc:
        raise ValueError(f"{where}: bad regex {pattern!r}: {exc}") from None


def _placeholders(data: RulesFile) -> dict[str, str]:
    """What each placeholder stands for, derived from the rules file once per compile."""
    content = data.modifiers.get("content")
    nouns = sorted(content.video_nouns or [], key=len, reverse=True) if content else []
    video_noun = "(?:" + "|".join(re.escape(w) for w in nouns) + ")" if nouns else "(?!)"
    return {"{number}": _number_pattern(data), "{url}": _URL_RUN, "{video_noun}": video_noun}


def _number_pattern(data: RulesFile) -> str:
    """``{number}``: digits, or number words joined the way people say them, maybe "and a half"."""
    g = data.number_grammar
    words = sorted([*data.number_words, *g.scales], key=len, reverse=True)
    word = "(?:" + "|".join(re.escape(w).replace("\\ ", "[\\s-]+") for w in words) + ")"
    joiner = re.escape(g.joiner)
    spoken = f"{word}(?:[\\s-]+(?:{joiner}[\\s-]+)?{word})*"
    tail = ""
    if g.fractions:
        fractions = "|".join(re.escape(f) for f in sorted(g.fractions, key=len, reverse=True))
        tail = f"(?:[\\s-]+{joiner}[\\s-]+{re.escape(g.article)}[\\s-]+(?:{fractions}))?"
    decimal = f"(?:[\\s-]+{re.escape(g.point)}[\\s-]+{word})?" if g.point else ""
    # digits with a decimal point, or a decimal comma before two digits ("1,50")
    return f"(?:(?:\\d+(?:\\.\\d+|,\\d{{2}}(?!\\d))?|{spoken}{decimal}){tail})"


def _words_set(items: list[str]) -> frozenset[str]:
    return frozenset(w.lower() for w in items)


def _compile_modifier(name: str, m: ModifierSpec, subs: Mapping[str, str]) -> CompiledModifier:
    where = f"modifier {name!r}"
    triggers = None
    if m.triggers:
        triggers = _compile(where, "|".join(f"(?:{p})" for p in m.triggers), subs)
    return CompiledModifier(
        name,
        m.window,
        tuple(_compile(where, p, subs) for p in m.before),
        tuple(_compile(where, p, subs) for p in m.after),
        triggers=triggers,
        fillers=_words_set(m.fillers),
        scope_words=m.scope_words,
        video_nouns=_words_set(m.video_nouns),
        function_words=_words_set(m.function_words),
        targets=_words_set(m.targets),
        target_verbs=_words_set(m.target_verbs),
        target_links=_words_set(m.target_links),
        destination_verbs=_words_set(m.destination_verbs),
        determiners=_words_set(m.determiners),
        attributive=_words_set(m.attributive),
        scene_nouns=_words_set(m.scene_nouns),
        compound_heads=_words_set(m.compound_heads),
        compound_tails=_words_set(m.compound_tails),
        lead_words=m.lead_words,
        needs_target=m.needs_target,
        keeps_words=m.keeps_words,
        after_sentence=tuple(_compile(where, p, subs) for p in m.after_sentence),
        coordinators=_words_set(m.coordinators),
        cancelled_by=tuple(_compile(where, p, subs) for p in m.cancelled_by),
        after_text=tuple(_compile(where, p, subs) for p in m.after_text),
        after_unless_before=tuple(_compile(where, p, subs) for p in m.after_unless_before),
    )


def _value_groups(spec: SignalSpec) -> list[tuple[Any, list[str]]]:
    return list(spec.values.items()) if spec.values is not None else [(spec.value, spec.patterns or [])]


def _plain_and_named(plist: list[str], subs: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """A value's patterns, expanded: those without named groups (scanned as one) and the others."""
    plain = [_guarded(p, subs) for p in plist if "(?P<" not in p]
    named = [_guarded(p, subs) for p in plist if "(?P<" in p]
    return plain, named


def signal_alternatives(data: RulesFile) -> tuple[tuple[tuple[str, ...] | None, ...], ...]:
    """For each signal and each of its compiled patterns (in the order of ``CompiledSignal.patterns``),
    the patterns that one scan joins, in order, as compiled; None for a pattern scanned on its own.

    The batch prefilter reads them: an alternative whose every match needs a word the text lacks
    can be left out of the scan, and the scan of the rest finds the same matches.
    """
    subs = _placeholders(data)
    out = []
    for spec in data.signals:
        per: list[tuple[str, ...] | None] = []
        for _value, plist in _value_groups(spec):
            plain, named = _plain_and_named(plist, subs)
            if plain:
                per.append(tuple(plain))
            per.extend(None for _ in named)
        out.append(tuple(per))
    return tuple(out)


def compile_rules(data: RulesFile, source: Path) -> CompiledRules:
    subs = _placeholders(data)
    signals = []
    for spec in data.signals:
        where = f"signal {spec.name!r}"
        pats: list[tuple[Any, re.Pattern[str]]] = []
        for value, plist in _value_groups(spec):
            plain, named = _plain_and_named(plist, subs)
            if plain:
                # One scan per value instead of one per pattern: the batch path depends on it.
                try:
                    combined = _compile(where, textmatch.boundary_factored(plain), subs)
                except ValueError:
                    for p in plist:
                        _compile(where, p, subs)  # raises naming the bad pattern
                    raise
                pats.append((value, combined))
            pats.extend((value, _compile(where, p, subs)) for p in named)
        signals.append(CompiledSignal(spec, tuple(pats)))
    modifiers = {name: _compile_modifier(name, m, subs) for name, m in data.modifiers.items()}
    roles = tuple(
        CompiledRole(
            r.role,
            tuple(_compile(f"image_urls role {r.role!r}", p, subs) for p in r.before),
            tuple(_compile(f"image_urls role {r.role!r}", p, subs) for p in r.after),
            tuple(_compile(f"image_urls role {r.role!r}", p, subs) for p in r.next_sentence),
        )
        for r in data.image_urls.roles
    )
    return CompiledRules(
        source=source,
        data=data,
        clause_break=_compile("clause_break", data.clause_break, subs),
        image_url=_compile("image_urls.pattern", data.image_urls.pattern, subs),
        any_url=_compile("image_urls.any_url", data.image_urls.any_url, subs),
        url_window=data.image_urls.window,
        roles=roles,
        default_role=data.image_urls.default_role,
        modifiers=modifiers,
        signals=tuple(signals),
        number_words={" ".join(k.lower().replace("-", " ").split()): v for k, v in data.number_words.items()},
        number_grammar=data.number_grammar,
        speller=Speller(data.typos.words, data.typos.min_length, (data.typos.joined_first, data.typos.joined_second),
                        real_words=data.typos.real_words),
        content_states=frozenset({"quoted", *(n for n, m in data.modifiers.items() if m.keeps_words)}),
        supersede_leads=tuple(_compile("supersede.leads", p, subs) for p in data.supersede.leads),
        kinds={name: group[0] for group in data.supersede.kinds for name in group},
        language_words=(frozenset(data.language.english), frozenset(data.language.other)),
        excludes={s.name: s.excludes for s in data.signals if s.excludes},
        ruling_out=frozenset(s.name for s in data.signals if s.rules_out),
        slots=_slots_of_signals(data.rules),
        joiners={ord(ch): " " for ch in data.word_joiners},
    )


def _slots_of_signals(rules: list[Rule]) -> dict[str, frozenset[str]]:
    """Which slots each signal can decide: those of the slot rules that test or set it. A
    correction whose new value decides other slots than the cue before it is not about that cue."""
    found: dict[str, set[str]] = {}

    def walk(cond: Condition | None, slot: str) -> None:
        if cond is None:
            return
        if cond.signal is not None:
            found.setdefault(cond.signal, set()).add(slot)
        for sub in (*(cond.all_ or ()), *(cond.any_ or ()), cond.not_):
            walk(sub, slot)

    for rule in rules:
        if rule.slot is None:
            continue
        walk(rule.when, rule.slot)
        if isinstance(rule.set, dict) and isinstance(rule.set.get("signal"), str):
            found.setdefault(rule.set["signal"], set()).add(rule.slot)
    return {name: frozenset(slots) for name, slots in found.items()}


def load_rules(path: Path | str | None = None) -> CompiledRules:
    """Load, validate and compile a rules file (the bundled one by default); cached.

    An explicit path is re-read when its mtime changes, so a long-running server picks up edits.
    """
    if path is None:
        return _default_rules()
    resolved = Path(path)
    try:
        mtime = resolved.stat().st_mtime_ns
    except OSError as exc:
        raise ConfigError(f"cannot read rules file {resolved}: {exc.strerror}", code="bad_rules") from exc
    return _load_rules_cached(str(resolved), mtime)


@functools.lru_cache(maxsize=1)
def _default_rules() -> CompiledRules:
    resolved = data_path("routing_rules.yaml")
    return _load_rules_cached(str(resolved), resolved.stat().st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _load_rules_cached(path: str, mtime_ns: int) -> CompiledRules:
    """Through the start-up cache, keyed by the file's bytes: a warm start compiles nothing."""
    try:
        with open(path, "rb") as fh:
            content = fh.read()
    except OSError as exc:
        raise ConfigError(f"cannot read rules file {path}: {exc.strerror}", code="bad_rules") from exc
    k = startup_cache.key(content, code=(__file__, respell.__file__, textmatch.__file__), libs=("pydantic", "yaml"))
    rules = startup_cache.memo("rules", k, lambda: _build_rules(path), lambda r: isinstance(r, CompiledRules))
    return rules if rules.source == Path(path) else dataclasses.replace(rules, source=Path(path))


def _build_rules(path: str) -> CompiledRules:
    raw = load_yaml(Path(path))
    try:
        data = RulesFile.model_validate(raw)
        return compile_rules(data, Path(path))
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_describe(exc, raw)}", code="bad_rules") from None
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}", code="bad_rules") from None


def _describe(exc: ValidationError, raw: Any) -> str:
    """Name the rule or signal at fault (by id/name), not only its list index."""
    parts = []
    for err in exc.errors(include_url=False)[:3]:
        loc = list(err.get("loc", ()))
        where = ".".join(str(p) for p in loc)
        if len(loc) >= 2 and loc[0] in ("rules", "signals") and isinstance(loc[1], int):
            try:
                item = raw[loc[0]][loc[1]]
                label = item.get("id") or item.get("name")
                kind = "rule" if loc[0] == "rules" else "signal"
                where = f"{kind} {label!r} ({'.'.join(str(p) for p in loc[2:]) or 'entry'})"
            except (KeyError, IndexError, TypeError, AttributeError):
                pass
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    return "; ".join(parts)
