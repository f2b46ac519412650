"""The prompt builder: turn a caller's description into the prompt an expert would send to Kling 3.0.

Motion first: framing and camera movement lead the prompt (or each shot), then subject and action,
then scene, lighting, atmosphere and style, then the audio block. The caller's own words are kept
for subject and action; cue phrases are lifted out, normalised and put back in that order.

Everything this module recognises (camera moves, shot sizes, lighting cues, hype words, routing
words, ...) lives in ``skill/data/prompt_vocabulary.yaml``; what it writes lives in the Jinja
templates of ``prompt_templates/``. Python holds the mechanisms only:

* a segment parser: lift cue spans out of the text (each removal leaves a marker), tidy what is
  left around the markers, and split the remaining prose into subject and action;
* a shot splitter: "Shot 1: ...", numbered or bulleted lists, the ``shots`` field, or sequencing
  prose ("opens on ..., then cut to ..., finally ...");
* continuity for multi-shot calls (shots share no context): a character or prop introduced with a
  description is restated wherever a later shot names it or starts with a pronoun, and the scene,
  lighting, atmosphere and style are restated in every shot;
* a sandboxed renderer and a linter with stable warning codes.

Warning codes (``BuiltPrompt.warnings``): ``hype_words``, ``style_conflict``, ``too_many_styles``,
``stacked_camera_moves``, ``dialogue_without_audio``, ``audio_cues_without_audio``,
``costly_4k_call``, ``cfg_scale_suggestion`` (never applied), ``exclusion_conflict``,
``end_frame_with_shots``, ``adjacent_shots_same_framing``, ``shots_field_overrides_text``,
``anchors_trimmed``. Refusals (:class:`InputError`): ``prompt_too_long`` (field ``text``),
``shot_too_long`` (field ``shots``), ``invalid_input`` (fields ``shots`` or ``text``: shot count,
durations that do not add up, nothing left to show). Template trouble: :class:`ConfigError`
``bad_template``; a broken vocabulary file: ``bad_data_file``.

Speed: the vocabulary is compiled once per file and the templates once per folder; what compiling
the vocabulary derives (parsed vocabulary, compiled pattern code, pre-check sets) is also kept on
disk under ``KLING3_HOME/cache``, so a new process skips the parsing (see ``_LexCache``). Patterns run
case-sensitively on lowercased text (CPython's alternations are several times faster that way),
and one scan per text decides which patterns can match at all, so most passes are skipped.
Whole builds are memoised, since they are pure.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import itertools
import marshal
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from skill.catalog import load_catalog
from skill.data import data_path, load_yaml
from skill.errors import ConfigError, InputError, Kling3Error
from skill.money import usd
from skill.request import Shot, fill_durations
from skill.textmatch import (
    alternation,
    bounded,
    regex_internals,
    required_substrings,
    tree_needs,
    trie_longest,
    trie_starts,
    word_alternation,
)

__all__ = [
    "BuiltPrompt",
    "Description",
    "LintWarning",
    "PromptInput",
    "PromptParts",
    "ShotDraft",
    "ShotOut",
    "Vocabulary",
    "build_prompt",
    "detect_camera_moves",
    "parse_description",
    "split_shots",
]

VOCABULARY_FILE = "prompt_vocabulary.yaml"
TEMPLATES_DIR = "prompt_templates"
# Text longer than this is refused before parsing (the rendered prompt could never fit anyway).
MAX_INPUT_CHARS = 10_000

_M = "\ue000"  # marker left where a span was lifted out (private use: neither a word char nor a space)
_MS = f" {_M} "


# =====================================================================================
# Public models
# =====================================================================================


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PromptInput(_Frozen):
    """What the builder needs for one call (one segment of a plan)."""

    text: str = ""
    shots: list[Shot] | None = None
    mode: Literal["t2v", "i2v"] = "t2v"
    tier: Literal["standard", "pro", "4k"] = "standard"
    duration: int = Field(default=5, ge=1, description="Seconds of this call.")
    generate_audio: bool = False
    usd_per_second: float | None = Field(
        default=None, ge=0, description="This call's price, from the planner, for the costly-call lint."
    )
    keep: tuple[str, ...] = Field(
        default=(), description="Cue words the router read as content (a 4K monitor): kept in the prompt."
    )
    negative_prompt: str | None = None
    has_tail_image: bool = False
    cfg_scale: float | None = Field(default=None, ge=0, le=1)


class LintWarning(_Frozen):
    code: str
    message: str


class ShotOut(_Frozen):
    index: int
    prompt: str
    duration: int


class PromptParts(_Frozen):
    """The description split into parts (JSON-serialisable). Lists keep the caller's order."""

    camera: list[str] = Field(default_factory=list, description="Camera moves, normalised.")
    framing: list[str] = Field(default_factory=list, description="Shot sizes, angles, compositions, lenses.")
    subject: str = ""
    action: str = ""
    scene: str = ""
    lighting: list[str] = Field(default_factory=list)
    atmosphere: list[str] = Field(default_factory=list)
    style: list[str] = Field(default_factory=list)
    audio: list[str] = Field(default_factory=list, description="Sound cues: voiceover, ambience, effects, music.")
    dialogue: list[dict[str, str]] = Field(default_factory=list, description="{speaker, tone, line}")
    exclusions: list[str] = Field(default_factory=list)
    identity: list[str] = Field(default_factory=list, description="What the caller said must stay fixed.")
    moving: str = Field(default="", description="What the caller said may move ('only the camera moves').")
    meta: list[str] = Field(default_factory=list, description="Routing words removed from the visual prompt.")
    hype: list[str] = Field(default_factory=list, description="Hype and tag-soup words removed.")


class ShotDraft(_Frozen):
    index: int
    text: str
    duration: int | None
    parts: PromptParts


class Description(_Frozen):
    """What :func:`parse_description` found: the parts, and the shots when there are several."""

    parts: PromptParts
    shots: list[ShotDraft]
    shot_source: Literal["single", "text", "field"]


class BuiltPrompt(_Frozen):
    prompt: str
    negative_prompt: str | None
    parts: PromptParts
    shots: list[ShotOut] = Field(description="The shots of a multi-shot call (empty for one shot).")
    anchor: str | None
    warnings: list[LintWarning]


# =====================================================================================
# Vocabulary file model
# =====================================================================================


class _V(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Grammar(_V):
    determiners: list[str]
    indefinite: list[str]
    pronouns: list[str]
    prepositions: list[str]
    conjunctions: list[str]
    attach: list[str]
    verbs: list[str]
    ing_nouns: list[str]
    s_nouns: list[str]
    np_stop: list[str]
    numbers: dict[str, int]
    people: list[str]


class _LeadIn(_V):
    polite: list[str]
    verbs: list[str]
    adjectives: list[str]
    containers: list[str]
    connectors: list[str]


class _Meta(_V):
    kind: str
    prefix: list[str] = Field(default_factory=list)
    match: list[str]


class _ShotHeaders(_V):
    words: list[str]


class _Sequence(_V):
    openers: list[str]
    cuts: list[str]
    steps: list[str]


class _Move(_V):
    name: str
    say: str
    stacks: bool = True
    object_prep: str = ""
    match: list[str] = Field(default_factory=list)
    verb: list[str] = Field(default_factory=list)
    imperative: list[str] = Field(default_factory=list)


class _Camera(_V):
    pace: dict[str, str]
    subject_word: str
    subject_prefix: list[str]
    directions: list[str]
    verb_particles: list[str]
    target_preps: list[str]
    reveal: list[str]
    moves: list[_Move]


class _Framing(_V):
    name: str
    kind: Literal["size", "angle", "composition", "lens"]
    say: str | None = None
    match: list[str]


class _FramingSet(_V):
    prefix: list[str] = Field(default_factory=list)
    entries: list[_Framing]


class _Lighting(_V):
    drop_prefix: list[str]
    modifiers: list[str]
    need_modifier: list[str]
    heads: list[str]
    phrases: list[str]
    source_preps: list[str]
    segment: list[str]


class _Atmosphere(_V):
    phrases: list[str]
    segment: list[str]


class _Family(_V):
    name: str
    adherence: Literal["strict", "loose"] | None = None
    match: list[str] = Field(default_factory=list)
    segment: list[str] = Field(default_factory=list)


class _Style(_V):
    max_anchors: int = Field(ge=1)
    families: list[_Family]
    conflicts: list[tuple[str, str]]

    @model_validator(mode="after")
    def _known(self) -> _Style:
        names = {f.name for f in self.families}
        for a, b in self.conflicts:
            if a not in names or b not in names:
                raise ValueError(f"conflict [{a}, {b}] names an unknown style family")
        return self


class _Hype(_V):
    always: list[str]
    soup: list[str]
    soup_heads: list[str]


class _Exclusions(_V):
    triggers: list[str]
    not_after: list[str]
    not_before: list[str]
    audio: dict[Literal["dialogue", "music", "voiceover"], str]
    camera: str
    item_stop: list[str]
    max_items: int = Field(ge=1)


class _Audio(_V):
    languages: list[str]
    voice_tones: list[str]
    music_mods: list[str]
    music_heads: list[str]
    music_need_modifier: list[str]
    voiceover_heads: list[str]
    effect_free: list[str]
    ambience_heads: list[str]
    effect_heads: list[str]
    of_heads: list[str]
    drop_prefix: list[str]
    dialogue_words: list[str]


class _Dialogue(_V):
    speech_verbs: dict[str, str | None]
    not_speech_before: list[str]
    addressee: list[str]
    default_speaker: str
    max_line_chars: int = Field(ge=1)


class _Item(_V):
    match: str
    say: str


class _Identity(_V):
    keep_verbs: list[str]
    keep_tail: list[str]
    stay_verbs: list[str]
    change_verbs: list[str]
    negations: list[str]
    not_kept: list[str]
    same_objects: list[str]
    same_scope: str
    only_moving: list[str]
    items: list[_Item]


class _Scene(_V):
    preps: list[str]
    nouns: list[str]


class _Costly4k(_V):
    tier: Literal["standard", "pro", "4k"]
    min_shots: int = Field(ge=1)
    min_duration: int = Field(ge=1)


class _Lint(_V):
    costly_4k: _Costly4k
    cfg_scale: dict[Literal["strict", "loose"], tuple[float, float]]


class Vocabulary(_V):
    """The schema of ``prompt_vocabulary.yaml`` (unknown keys are refused)."""

    version: Literal[1]
    grammar: _Grammar
    lead_in: _LeadIn
    meta: list[_Meta]
    shot_headers: _ShotHeaders
    sequence: _Sequence
    camera: _Camera
    framing: _FramingSet
    lighting: _Lighting
    atmosphere: _Atmosphere
    style: _Style
    hype: _Hype
    exclusions: _Exclusions
    audio: _Audio
    dialogue: _Dialogue
    identity: _Identity
    scene: _Scene
    lint: _Lint


# =====================================================================================
# Compiled vocabulary
# =====================================================================================


def _needs(pattern: str, flags: int) -> frozenset[str] | None:
    """Substrings one of which every match must contain (lowercase), or None when unknown.

    Answered from the on-disk build cache when one is open, else read from the pattern.
    """
    cache = _BUILD_CACHE.get()
    if cache is not None:
        return cache.needs(pattern, flags)
    return required_substrings(pattern, flags)


_UPPER = re.compile(r"[A-Z]")
_ESCAPES = re.compile(r"\\.")
_GROUP_NAMES = re.compile(r"\(\?P[<=]\w+>?")


_RX_IDS = itertools.count()


class _Low(str):
    """Lowercased text that knows which patterns may match it (see ``_Lex.scan``)."""

    present: frozenset[int]


class _Hit:
    """A match found in the lowercased text, read back in the caller's case (same offsets)."""

    __slots__ = ("base", "m", "s")

    def __init__(self, m: re.Match[str], s: str, base: int | str = 0) -> None:
        self.m = m
        self.s = s
        self.base = base  # the group that stands for the whole match

    def group(self, g: int | str = 0) -> str | None:
        a, b = self.m.span(g or self.base)
        return None if a < 0 else self.s[a:b]

    def start(self, g: int | str = 0) -> int:
        return self.m.start(g or self.base)

    def end(self, g: int | str = 0) -> int:
        return self.m.end(g or self.base)

    @property
    def lastgroup(self) -> str | None:
        return self.m.lastgroup


# -- the on-disk cache of the compiled vocabulary -------------------------------------------------
#
# Compiling the vocabulary parses ~190 large patterns twice (once by ``re``, once for ``_needs``),
# which costs far more than the rest of a plan. Everything derived from it depends only on the
# pattern strings, so one build keeps, per (pattern, flags), the needs set and the compiled form
# that ``re`` hands to ``_sre.compile``, plus the parsed vocabulary; the next process rebuilds the
# same pattern objects in C without parsing anything. The file is keyed by the vocabulary bytes,
# this module's source, the package version and the Python build; any problem reading or writing
# it (missing, corrupt, stale, read-only home) means a normal build, never an error.

_CACHE_FORMAT = 1
_BUILD_CACHE: contextvars.ContextVar[_LexCache | None] = contextvars.ContextVar("_BUILD_CACHE", default=None)
# The router's content words for the prompt being built: a routing-word match that contains one
# of them describes the scene ("a 4K monitor") and stays in the prompt.
_KEEP: contextvars.ContextVar[re.Pattern[str] | None] = contextvars.ContextVar("_KEEP", default=None)


class _LexCache:
    """The ingredients of one vocabulary build, reused when ``key`` matches what was stored."""

    def __init__(self, key: str, stored: object = None) -> None:
        self.key = key
        old: dict[str, Any] = {}
        if isinstance(stored, dict) and stored.get("key") == key and stored.get("format") == _CACHE_FORMAT:
            old = stored
        self.raw: Any = old.get("raw")
        self.old_codes: dict[Any, Any] = old.get("codes") if isinstance(old.get("codes"), dict) else {}  # type: ignore[assignment]
        self.old_needs: dict[Any, Any] = old.get("needs") if isinstance(old.get("needs"), dict) else {}  # type: ignore[assignment]
        self.old_memo: dict[Any, Any] = old.get("memo") if isinstance(old.get("memo"), dict) else {}  # type: ignore[assignment]
        self.memo: dict[Any, Any] = {}
        self.codes: dict[tuple[str, int], tuple[Any, ...]] = {}
        self.needs_of: dict[tuple[str, int], frozenset[str] | None] = {}
        self.dirty = not old
        self.internals = regex_internals()
        self._trees: dict[tuple[str, int], Any] = {}

    def needs(self, pattern: str, flags: int) -> frozenset[str] | None:
        flags = int(flags)
        k = (pattern, flags)
        if k in self.needs_of:
            return self.needs_of[k]
        got = self.old_needs.get(k, False)
        if got is None or (isinstance(got, frozenset) and all(isinstance(x, str) for x in got)):
            self.needs_of[k] = got
            return got
        self.dirty = True
        if self.internals is None:  # pragma: no cover
            return None
        parser, _compiler, consts, _sre = self.internals
        try:
            tree = parser.parse(pattern, flags)
        except Exception:  # the compile that follows reports it
            return None
        self._trees[k] = tree
        needs = tree_needs(list(tree), consts)
        self.needs_of[k] = needs
        return needs

    def compile(self, pattern: str, flags: int) -> re.Pattern[str]:
        flags = int(flags)
        k = (pattern, flags)
        if self.internals is None:  # pragma: no cover
            return re.compile(pattern, flags)
        parser, compiler, _consts, sre = self.internals
        got = self.codes.get(k) or self.old_codes.get(k)
        if isinstance(got, tuple) and len(got) == 5:
            try:
                rx: re.Pattern[str] = sre.compile(pattern, *got)
            except Exception:  # not what this Python's _sre accepts: compile afresh
                pass
            else:
                self.codes[k] = got
                return rx
        self.dirty = True
        tree = self._trees.pop(k, None)
        try:
            if tree is None:
                tree = parser.parse(pattern, flags)
            # as re._compiler.compile does it
            code = compiler._code(tree, flags)
            groupindex = dict(tree.state.groupdict)
            indexgroup: list[str | None] = [None] * tree.state.groups
            for name, i in groupindex.items():
                indexgroup[i] = name
            ingredients = (int(flags | tree.state.flags), [int(x) for x in code], tree.state.groups - 1, groupindex, tuple(indexgroup))
            rx = sre.compile(pattern, *ingredients)
        except re.error:
            raise
        except Exception:  # pragma: no cover - an unfamiliar re internals: the public way
            return re.compile(pattern, flags)
        self.codes[k] = ingredients
        return rx

    def remember(self, key: Any, make: Callable[[], Any], check: Callable[[Any], bool]) -> Any:
        if key in self.memo:
            return self.memo[key]
        got = self.old_memo.get(key)
        if got is None or not check(got):
            self.dirty = True
            got = make()
        self.memo[key] = got
        return got

    def dump(self, raw: Any) -> bytes:
        """The file's bytes: a SHA-256 of the payload, then the payload (so a damaged file is never used)."""
        payload = marshal.dumps(
            {
                "format": _CACHE_FORMAT,
                "key": self.key,
                "raw": raw,
                "codes": self.codes,
                "needs": self.needs_of,
                "memo": self.memo,
            }
        )
        return hashlib.sha256(payload).digest() + payload

    @staticmethod
    def load(blob: bytes) -> object:
        digest, payload = blob[:32], blob[32:]
        if hashlib.sha256(payload).digest() != digest:
            return None
        return marshal.loads(payload)


def _remember(key: Any, make: Callable[[], Any], check: Callable[[Any], bool]) -> Any:
    """``make()``, kept in the build cache under ``key`` (``check`` vets a stored value)."""
    cache = _BUILD_CACHE.get()
    return make() if cache is None else cache.remember(key, make, check)


def _is_str(x: object) -> bool:
    return isinstance(x, str)


def _is_scanner(x: object) -> bool:
    return (
        isinstance(x, tuple)
        and len(x) == 3
        and isinstance(x[0], dict)
        and isinstance(x[1], frozenset)
        and (x[2] is None or isinstance(x[2], str))
    )


def _compile(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile``, served from the build cache while a vocabulary is being compiled."""
    cache = _BUILD_CACHE.get()
    if cache is None:
        return re.compile(pattern, flags)
    return cache.compile(pattern, flags)


class _Rx:
    """A pattern matched case-sensitively on lowercased text, with a cheap pre-check.

    Case-insensitive matching is several times slower in CPython (an alternation can no longer
    skip a branch on its first letter), so patterns are written in lowercase and run on
    ``text.lower()``, which keeps every offset because the input is normalised to make sure of it.
    ``may(low)`` is False when the pattern cannot match.
    """

    __slots__ = ("at_start", "needs", "needs_rx", "rx", "uid")

    def __init__(self, pattern: str, flags: int = 0, *, clause: bool = False) -> None:
        """``clause``: the pattern only matches at the start of a clause (text start or after , . ; : ! ?)."""
        self.uid = next(_RX_IDS)
        flags &= ~re.IGNORECASE
        self.at_start: re.Pattern[str] | None = None
        if clause:
            # led by the punctuation itself: CPython then skips every other position in C
            self.at_start = _compile(rf"\s*(?P<cl>{pattern})", flags)
            pattern = rf"[,.;:!?\n{_M}]\s*(?P<cl>{pattern})"
        if _UPPER.search(_ESCAPES.sub("", _GROUP_NAMES.sub("", pattern))):
            raise re.error(f"pattern has an uppercase letter but is matched on lowercased text: {pattern[:80]}")
        needs = _needs(pattern, flags)  # first: a cached build parses the pattern once for both
        self.rx = _compile(pattern, flags)
        self.needs: tuple[str, ...] | None = tuple(sorted(needs)) if needs else None
        self.needs_rx = (
            _compile(_remember(("trie", self.needs), lambda: trie_starts(needs), _is_str)) if needs and len(needs) > 6 else None
        )

    def may(self, low: str) -> bool:
        present = getattr(low, "present", None)
        if present is not None:
            return self.uid in present
        if self.needs_rx is not None:
            return self.needs_rx.search(low) is not None
        needs = self.needs
        return needs is None or any(map(low.__contains__, needs))

    def hits(self, s: str, pos: int = 0) -> Iterator[_Hit]:
        low = s.lower()
        if self.at_start is not None:
            if pos == 0:
                m0 = self.at_start.match(low)
                if m0:
                    yield _Hit(m0, s, "cl")
            for m in self.rx.finditer(low, pos):
                yield _Hit(m, s, "cl")
            return
        for m in self.rx.finditer(low, pos):
            yield _Hit(m, s)

    def search(self, s: str, pos: int = 0) -> _Hit | None:
        return next(self.hits(s, pos), None)


class _Which:
    """Which entry a matched text belongs to (first entry whose patterns match it whole), memoised."""

    __slots__ = ("memo", "rxs")

    def __init__(self, entries: Sequence[Sequence[str]]) -> None:
        self.rxs = [_compile(alternation(pats)) if pats else None for pats in entries]
        self.memo: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        key = " ".join(text.lower().split())
        idx = self.memo.get(key)
        if idx is None:
            idx = next((i for i, rx in enumerate(self.rxs) if rx is not None and rx.fullmatch(key)), -1)
            if len(self.memo) > 4096:
                self.memo.clear()
            self.memo[key] = idx
        return idx


def _ordered(entries: Iterable[Sequence[str]]) -> str:
    """One alternation over several entries' patterns, entries in order, each entry's longest first."""
    return alternation((p for pats in entries for p in sorted(pats, key=len, reverse=True)), ordered=True)


_BOUND = rf"(?=\s*(?:[,.;:!?\n{_M}]|$))"  # clause boundary ahead
_SEG_START = rf"(?:^|(?<=[,.;:!?\n{_M}]))"  # clause start behind


class _Lex:
    """The vocabulary compiled into regular expressions, once per file."""

    def __init__(self, v: Vocabulary) -> None:
        self.v = v
        g = v.grammar
        f = re.IGNORECASE
        self.dets = {w.lower() for w in g.determiners}
        self.indef = {w.lower() for w in g.indefinite}
        self.pronouns = {w.lower() for w in g.pronouns}
        self.preps = {w.lower() for w in g.prepositions}
        self.conj = {w.lower() for w in g.conjunctions}
        self.attach = {w.lower() for w in g.attach}
        self.verbs = {w.lower() for w in g.verbs}
        self.ing_nouns = {w.lower() for w in g.ing_nouns}
        self.s_nouns = {w.lower() for w in g.s_nouns}
        self.np_stop = {w.lower() for w in g.np_stop}
        self.people = {w.lower() for w in g.people}
        self.numbers = {k.lower(): n for k, n in g.numbers.items()}
        self.function_words = (
            self.dets | self.preps | self.conj | self.pronouns | {"it", "them", "him", "me", "us", "you"}
        )
        # words after which a word ending in -s is a verb ("pulls a shot", "rises from")
        self.light = self.dets | self.preps | self.conj | {"it", "them", "him", "her", "me", "us"}
        stop = word_alternation(sorted(self.function_words))
        nonstop_word = rf"(?!(?:{stop})(?![\w'-]))[\w'-]+"
        num_words = word_alternation(self.numbers)

        # --- lead-in -------------------------------------------------------------------
        li = v.lead_in
        adj = alternation(li.adjectives)
        cont = alternation(li.containers)
        conn = alternation(re.escape(c) if not c.isalpha() and " " not in c else word_alternation([c]) for c in li.connectors)
        det = word_alternation(["a", "an", "the", "one", "some", "this", "my", "our"])
        ws = rf"[\s{_M}]"  # routing words are lifted first, so markers may sit between the words
        polite = rf"(?:(?:{alternation(li.polite)})[\s,!{_M}]+)*"
        verbs = alternation(li.verbs)
        tail = rf"(?:{ws}*(?:{conn})(?![\w'])|{ws}*(?=[.!?\n]|$))"
        self.lead_in = _compile(
            rf"^[\s,{_M}]*{polite}(?:"
            rf"(?:{verbs}){ws}+(?:(?:me|us){ws}+)?(?:(?:{det}){ws}+)?(?:(?:{adj})[\s,{_M}]+){{0,5}}(?:[\w'-]+{ws}+)?(?:{cont}){tail}"
            rf"|(?:(?:{det}){ws}+)?(?:(?:{adj})[\s,{_M}]+){{1,5}}(?:[\w'-]+{ws}+)?(?:{cont}){tail}"
            rf"|(?:(?:{det}){ws}+)?(?:{cont}){tail}"
            rf"|(?:{verbs}){ws}+(?:(?:me|us){ws}+)?(?=(?:{det}){ws})"
            rf")[\s{_M}]*[:,\-—]?\s*",
            f,
        )

        # --- meta (routing words) ---------------------------------------------------------
        # one pattern per kind, each with its own pre-check; prefix words are absorbed leftwards
        self.meta = [
            (m.kind, _Rx(bounded(alternation(m.match)), f), frozenset(w.lower() for w in m.prefix)) for m in v.meta if m.match
        ]

        # --- shots --------------------------------------------------------------------------
        hw = alternation(v.shot_headers.words)
        numtok = rf"(?:\d{{1,2}}|{num_words})"
        dur = r"(?:\d{1,2}(?:\.\d+)?\s*(?:s|sec|secs|seconds?))"
        self.header = _Rx(
            rf"(?:^|(?<=[\s.;:,!?)\]\"]))(?:{hw})\s*#?\s*(?P<num>{numtok})(?![\w.])\s*"
            rf"(?:\((?P<dur>[^)\n]{{0,30}})\)|[,\-\u2013\u2014]\s*(?P<dur2>{dur}|\d{{1,2}}\s*[-\u2013]\s*{dur}))?"
            r"\s*(?:[:.\-\u2013\u2014)]\s*|(?=\n))",
            f,
        )
        self.list_item = _compile(r"^\s*(?:\(?(\d{1,2})[.)]|[-*•])\s+(.+?)\s*$")
        self.inline_num = _compile(r"(?:^|(?<=\s))\(?(\d{1,2})\)\s+")
        self.opener = _Rx(bounded(alternation(v.sequence.openers)) + r"\s*", f)
        self.cut = _Rx(rf"\s*(?:,\s*)?(?:and\s+)?{bounded(alternation(v.sequence.cuts))}[\s,:]*", f)
        self.step = _Rx(
            rf"(?:^|[,.;:!?]|\s-)\s*(?:and\s+)?{bounded(alternation(v.sequence.steps))}[\s,:]*", f
        )
        self.paren_dur = _compile(
            r"\(\s*(?:duration\s*:?\s*)?(?:(\d{1,2})\s*(?:s|sec|secs|seconds?)?\s*[-\u2013]\s*)?(\d{1,2})\s*(?:s|sec|secs|seconds?)\s*\)",
            f,
        )
        self.dur_text = _compile(r"(?:(\d{1,2})\s*(?:s|sec|secs|seconds?)?\s*[-\u2013]\s*)?(\d{1,2})\s*(?:s|sec|secs|seconds?)?", f)

        # --- dialogue -------------------------------------------------------------------------
        d = v.dialogue
        self.speech_tone = {k.lower(): t for k, t in d.speech_verbs.items()}
        sv = word_alternation(d.speech_verbs)
        langs = word_alternation(v.audio.languages)
        addressee = word_alternation(d.addressee)

        def line(p: str) -> str:
            return rf"\"(?P<{p}line>[^\"\n]{{1,{d.max_line_chars}}})\""

        tagged = (
            r"\[\s*(?P<tspk>[^\]\[:\"\n]{1,40}?)\s*(?:[:,]\s*(?P<ttone>[^\]\[\"\n]{1,80}?))?\s*\]\s*:?\s*"
            + line("t")
        )
        colon = (
            r"(?:^|(?<=[.;!?\n]))\s*(?P<cspk>[A-Z][\w'-]*(?:\s+[A-Z0-9][\w'-]*){0,2})\s*"
            r"(?:\((?P<ctone>[^)\"\n]{1,60})\))?\s*:\s*" + line("c")
        )
        says = (
            rf"(?i:(?:\s*,?\s*(?:and|then|before|as)\s+)?(?:(?P<sadv1>\w+ly)\s+)?(?<![\w'])(?P<sverb>{sv})(?![\w'])"
            rf"(?:\s+(?P<sadv2>\w+ly))?(?:\s+(?:{addressee})\s+(?:(?:the|her|his|their|a|an)\s+)?[\w'-]+)?"
            rf"(?:\s+in\s+(?P<slang>{langs}))?(?:\s+(?P<sadv3>\w+ly))?\s*[,:]?\s*"
            rf"(?:\((?P<stone>[^)\"\n]{{1,60}})\)\s*)?)" + line("s")
        )
        rev = (
            line("r")
            + r"(?i:\s*,?\s*(?P<rspk>she|he|they|i|we|(?:the|a|an|her|his|their)\s+[\w'-]+(?:\s+[\w'-]+)?|[a-z][\w'-]+)\s+"
            rf"(?:(?P<radv1>\w+ly)\s+)?(?P<rverb>{sv})(?![\w'])(?:\s+(?P<radv2>\w+ly))?(?:\s+in\s+(?P<rlang>{langs}))?)"
        )
        self.dialogue = _compile(f"(?:{tagged})|(?:{colon})|(?:{says})|(?:{rev})")
        self.not_speech = {w.lower() for w in d.not_speech_before}

        # --- camera -----------------------------------------------------------------------------
        cam = v.camera
        pace_alt = "|".join(f"(?:{p})" for p in cam.pace.values())
        self.pace = [(k, _compile(rf"^(?:{p})$", f)) for k, p in cam.pace.items()]
        self.moves = cam.moves
        noun_groups = [f"(?P<nn>{_ordered(mv.match for mv in cam.moves)})"] if any(mv.match for mv in cam.moves) else []
        verb_groups = [f"(?P<vv>{_ordered(mv.verb for mv in cam.moves)})"] if any(mv.verb for mv in cam.moves) else []
        imp_groups = [f"(?P<ii>{_ordered(mv.imperative for mv in cam.moves)})"] if any(mv.imperative for mv in cam.moves) else []
        self.move_which = {
            "noun": _Which([mv.match for mv in cam.moves]),
            "verb": _Which([mv.verb for mv in cam.moves]),
            "imp": _Which([mv.imperative for mv in cam.moves]),
        }
        self.particles = frozenset(d.lower() for d in cam.verb_particles)
        direction = rf"(?:\s+(?:to\s+the\s+)?(?P<dir{{s}}>{word_alternation(cam.directions)}))?".replace("{{s}}", "{s}")
        tprep = alternation(word_alternation([p]) for p in cam.target_preps)
        boundary = rf"(?=\s*(?:[,.;:!?\n{_M}]|$)|\s+(?:as|while|and|then|before|until|where|when|who|to\s+reveal|revealing)(?![\w']))"
        tword = r"(?:\"[^\"\n]{1,60}\"|[\w'-]+)"
        objdet = word_alternation(["the", "a", "an", "her", "him", "them", "his", "their", "its", "it", "this", "that", "me", "us"])

        def suffix(s: str, allow_object: bool) -> str:
            # a direct object: after a verb form, or after an -ing noun ("orbiting a lighthouse")
            obj = (
                rf"|(?=(?:{objdet})(?![\w'])))"
                if allow_object
                else rf"|(?<=ing\s)(?=(?:{objdet})(?![\w'])))"
            )
            return (
                direction.format(s=s)
                + rf"(?:\s+(?P<q{s}>{pace_alt}))?"
                + rf"(?:\s+(?:(?P<tp{s}>{tprep})\s+{obj}(?P<tg{s}>{tword}(?:\s+{tword}){{0,11}}?){boundary})?"
                + rf"(?:\s*,?\s*(?P<rv{s}>{alternation(cam.reveal)})\s+(?P<rt{s}>{tword}(?:\s+{tword}){{0,7}}?){boundary})?"
            )

        # Three forms, each its own pattern with its own pre-check. Pacing words in front of a
        # noun form ("a slow, steady push-in") are collected leftwards in Python.
        self.pace_word = _compile(rf"(?:{pace_alt}|very|and)", f)
        self.cam_forms: list[tuple[str, _Rx]] = []
        self.cam_again: _Rx | None = None
        self.cam_subject_words: frozenset[str] = frozenset()
        if verb_groups:
            verb = rf"\s+(?:(?P<pb>{pace_alt})\s+)?(?:(?:begins?|starts?)\s+to\s+)?(?:{'|'.join(verb_groups)})" + suffix("b", True)
            self.cam_forms.append(("verb", _Rx(bounded(rf"{word_alternation([cam.subject_word])}{verb}"), f)))
            self.cam_subject_words = frozenset(w.lower() for w in cam.subject_prefix)
            # "... zooms in and pans left": a second verb after a lifted move
            self.cam_again = _Rx(rf"(?<={_M})\s*,?\s*(?:and\s+then|and|then){verb}", f)
        if noun_groups:
            self.cam_forms.append(("noun", _Rx(bounded(rf"(?:{'|'.join(noun_groups)})" + suffix("a", False)), f)))
        if imp_groups:
            self.cam_forms.append(
                ("imp", _Rx(rf"(?:(?P<pc>{pace_alt})\s+)?(?:{'|'.join(imp_groups)})" + suffix("c", False), f, clause=True))
            )

        # --- framing ---------------------------------------------------------------------------
        fe = v.framing.entries
        self.framing_entries = fe
        self.framing_prefix = frozenset(w.lower() for w in v.framing.prefix)
        self.framing = _Rx(bounded(_ordered(e.match for e in fe)), f)
        self.framing_which = _Which([e.match for e in fe])
        conj = word_alternation(sorted(self.conj))
        self.of_np = _compile(
            rf"\s+of\s+(?P<np>(?:(?!(?:{conj})(?![\w']))[\w'-]+\s*){{1,6}}?)(?=\s*(?:[,.;:!?\n{_M}]|$)|\s+(?:{conj})(?![\w']))",
            f,
        )
        self.list_sep = _compile(r"\s*(,|;|\.(?=\s)|(?<![\w'])(?:and\s+)?then(?![\w']))\s*", f)
        self.sizes = _Rx(bounded(alternation(p for e in fe if e.kind in ("size", "composition") for p in e.match)), f)

        # --- lighting: found by its head, modifiers collected leftwards in Python -----------------
        li_ = v.lighting
        self.li_mods = {m.lower() for m in li_.modifiers}
        self.li_next = _compile(rf"\s+({alternation(li_.need_modifier)})(?![\w'])", f)
        self.li_drop = frozenset(d.lower() for d in li_.drop_prefix)
        self.lighting = _Rx(
            bounded(
                rf"(?P<ph>{alternation(li_.phrases)})|(?P<hd>{alternation(li_.heads)})"
                rf"|(?P<nm>{alternation(li_.need_modifier)})|(?P<sg>{alternation(li_.segment)})"
            ),
            f,
        )
        self.li_src = _compile(
            rf"\s+(?:{alternation(li_.source_preps)})\s+(?:(?:the|a|an|her|his|their)\s+)?"
            rf"{nonstop_word}(?:\s+{nonstop_word})?(?=\s*(?:[,.;:!?\n{_M}]|$)|\s+(?:{stop})(?![\w']))",
            f,
        )

        # --- atmosphere -----------------------------------------------------------------------------
        at = v.atmosphere
        self.atmosphere = _Rx(bounded(alternation(at.phrases)), f)
        self.atmosphere_prefix = frozenset({"with", "in", "and", "a", "an"})
        self.atmosphere_seg = _Rx(rf"(?:and\s+)?(?P<seg>{alternation(at.segment)})(?=\s*(?:[,.;:!?\n{_M}]|$))", f, clause=True)

        # --- style ------------------------------------------------------------------------------------
        st = v.style
        self.families = st.families
        self.style = _Rx(bounded(rf"(?P<st>{_ordered(fam.match for fam in st.families)})(?:[\s-]+(?:style|look|aesthetic))?"), f)
        self.style_which = _Which([fam.match for fam in st.families])
        segs = [fam.segment for fam in st.families]
        self.style_seg_which = _Which(segs)
        self.style_seg = (
            _Rx(
                rf"(?:(?:in\s+)?(?:an?\s+)?)(?P<st>{_ordered(segs)})(?:\s+(?:style|look))?(?=\s*(?:[,.;:!?\n{_M}]|$))",
                f,
                clause=True,
            )
            if any(segs)
            else None
        )
        self.conflicts = [tuple(c) for c in st.conflicts]
        self.adherence = {fam.name: fam.adherence for fam in st.families}

        # --- hype --------------------------------------------------------------------------------------
        hy = v.hype
        self.hype = _Rx(bounded(alternation(hy.always)), f)
        soup = alternation(hy.soup)
        self.soup = _Rx(rf"(?:and\s+)?{soup}(?=\s*(?:[,.;:!?\n{_M}]|$))", f, clause=True)
        self.soup_head = _Rx(rf"(?<![\w'])(?:{soup})(?=\s+(?:{alternation(hy.soup_heads)})(?![\w]))", f)

        # --- exclusions ---------------------------------------------------------------------------------
        ex = v.exclusions
        self.excl_trigger = _Rx(bounded(rf"(?P<t>{alternation(ex.triggers)})") + r"\s+", f)
        self.excl_not_after = {w.lower() for w in ex.not_after}
        self.excl_not_before = {w.lower() for w in ex.not_before}
        self.excl_audio = [(k, _compile(rf"^(?:{p})$", f)) for k, p in ex.audio.items()]
        self.excl_camera = _compile(rf"^(?:{ex.camera})$", f)
        self.excl_item_stop = _compile(rf"\s+(?:{word_alternation(ex.item_stop)})(?![\w']).*$", f)
        self.excl_max = ex.max_items
        self.trigger_word = _compile(rf"^\s*(?:(?:or|and|nor)\s+)?(?:{alternation(ex.triggers)})\s+", f)

        # --- audio cues: found by their head word, modifiers collected leftwards in Python ---------
        au = v.audio
        self.au_tones = {t.lower() for t in au.voice_tones}
        self.au_music_mod = _compile(rf"(?:{alternation(au.music_mods)})", f)
        self.au_need_mod = _compile(rf"(?:{alternation(au.music_need_modifier)})", f)
        self.au_effect_free = _compile(rf"(?:{alternation(au.effect_free)})", f)
        self.au_drop = {w.lower() for w in au.drop_prefix}
        self.audio = _Rx(
            bounded(
                rf"(?P<vo>{alternation(au.voiceover_heads)})"
                rf"|(?P<of>{alternation(au.of_heads)})(?=\s+of\s)"
                rf"|(?P<mu>{alternation(au.music_heads)})"
                rf"|(?P<amb>{alternation(au.ambience_heads)})"
                rf"|(?P<fx>{alternation(au.effect_heads)})"
                rf"|(?P<dl>{alternation(au.dialogue_words)})"
            ),
            f,
        )
        self.au_music_next = _compile(rf"\s+(?:{alternation(au.music_heads)})(?![\w'])")
        self.au_lang = _compile(rf"\s+in\s+(?:{langs})(?![\w'])", f)
        self.au_of_tail = _compile(
            rf"\s+of\s+(?:(?:the|a|an|her|his|their|its)\s+)?{nonstop_word}(?:\s+{nonstop_word}){{0,2}}", f
        )

        # --- identity -------------------------------------------------------------------------------------
        idn = v.identity
        keep_tail = rf"(?:\s*(?:{alternation(idn.keep_tail)}))*"
        clause = rf"[^,.;:!?\n{_M}]"
        self.identity = _Rx(
            rf"(?:{_SEG_START}|(?<=\sand))\s*(?:and\s+)?(?:please\s+)?(?:{word_alternation(idn.keep_verbs)})\s+(?!{alternation(idn.not_kept)})(?P<k>{clause}{{1,60}}?){keep_tail}{_BOUND}"
            rf"|(?<![\w'])(?P<s>(?:her|his|their|its|the)\s+(?:[\w'-]+\s+){{0,3}}?[\w'-]+)\s+(?:{alternation(idn.stay_verbs)})\s+(?:exactly\s+)?(?:{alternation(idn.keep_tail)})"
            rf"|(?<![\w'])(?:{alternation(idn.negations)})\s+(?:{alternation(idn.change_verbs)})(?:ing)?\s+(?P<c>{clause}{{1,60}}?){_BOUND}"
            rf"|{_SEG_START}\s*(?:and\s+)?(?:keep\s+)?(?:the\s+)?same\s+(?P<a>{alternation(idn.same_objects)})(?:\s+{idn.same_scope})?{_BOUND}"
            rf"|{_SEG_START}\s*(?:and\s+)?only\s+(?P<m>{clause}{{1,40}}?)\s+(?:{alternation(idn.only_moving)}){_BOUND}",
            f,
        )
        self.items = [(_compile(bounded(it.match), f), it.say) for it in idn.items]

        # --- scene -----------------------------------------------------------------------------------------
        sc = v.scene
        self.scene_nouns = sorted({n.lower() for n in sc.nouns}, key=len, reverse=True)
        self.scene = _Rx(
            bounded(
                rf"(?P<prep>{word_alternation(sc.preps)})\s+(?P<core>(?:(?:{word_alternation(sorted(self.dets))})\s+)?"
                rf"(?:{nonstop_word}[\s-]+){{0,3}}?(?:{word_alternation(sc.nouns)})s?)"
            )
            + rf"(?=\s*(?:[,.;:!?\n{_M}]|$)|\s+(?:{stop})(?![\w']))",
            f,
        )
        self.scene_one = {n for n in self.scene_nouns if " " not in n}
        self.scene_two = {n for n in self.scene_nouns if n.count(" ") == 1}

        # --- cleanup ------------------------------------------------------------------------------------------
        articles = {"a", "an", "the", "this", "these", "those", "some", "another", "each", "every"}
        dangle = word_alternation(sorted(self.preps | self.conj | articles | {"so", "very", "plus", "featuring", "showing"}))
        lead = word_alternation(
            ["of", "as", "while", "and", "with", "then", "where", "that", "which", "in which", "showing",
             "featuring", "to", "for", "plus", "so", "but", "also", "as well as", "over", "under", "amid",
             "on", "onto", "toward", "towards", "into", "at", "around", "across", "through", "past", "from",
             "along", "behind"]
        )
        # around a lifted span: "a <wide shot> of", "with <cafe sound>.", ", <camera move> as she"
        self.c_around = _compile(
            rf"(?<![\w'])(?:a|an|the)\s*(?:{_M}\s*)+of\s+"
            rf"|(?<![\w'])(?:{dangle})\s*(?:{_M}\s*)+(?=[,.;:!?\n]|$|{_M})"
            rf"|{_SEG_START}\s*(?:{_M}\s*)+(?:(?:{lead})\s+)+",
            f,
        )
        self.c_article = _compile(rf"(?<![\w'])(a|an|A|An)\s*(?:{_M}\s*)+(?=(\w))")
        self.c_start_conn = _compile(rf"^\s*(?:(?:{lead})\s+)+", f)

        # --- lint -------------------------------------------------------------------------------------------------
        self.lint = v.lint
        self._build_scanner()

    def _build_scanner(self) -> None:
        """One regex that finds, in a single pass, every pattern whose needed substrings occur."""
        rxs: list[_Rx] = [x for x in vars(self).values() if isinstance(x, _Rx)]
        rxs += [rx for _k, rx, _p in self.meta] + [rx for _f, rx in self.cam_forms]
        base = min((rx.uid for rx in rxs), default=0)
        # kept with ids counted from this vocabulary's first pattern (0 in the first one of a process)
        spec = tuple((rx.uid - base, rx.needs) for rx in rxs)
        ids, always, trie = _remember(("scanner", spec), lambda: self._scanner(spec), _is_scanner)
        if base:
            ids = {w: frozenset(i + base for i in s) for w, s in ids.items()}
            always = frozenset(i + base for i in always)
        self.scan_ids: dict[str, frozenset[int]] = ids
        self.scan_always: frozenset[int] = always
        self.scan_rx = _compile(f"(?=({trie}))") if trie is not None else None

    @staticmethod
    def _scanner(
        spec: tuple[tuple[int, tuple[str, ...] | None], ...],
    ) -> tuple[dict[str, frozenset[int]], frozenset[int], str | None]:
        by_word: dict[str, set[int]] = {}
        always: set[int] = set()
        for uid, needs in spec:
            if needs is None or any(len(n) < 2 and not n.isdigit() for n in needs):
                always.add(uid)
                continue
            for n in needs:
                by_word.setdefault(n, set()).add(uid)
        # the scan reports the longest need at each position; it implies every need that prefixes it
        ids = {
            w: frozenset().union(*(by_word[w[:k]] for k in range(1, len(w) + 1) if w[:k] in by_word))
            for w in by_word
        }
        return ids, frozenset(always), (trie_longest(by_word) if by_word else None)

    def scan(self, text: str) -> _Low:
        """``text`` lowercased, with the set of patterns that may match it."""
        low = _Low(text.lower())
        present = set(self.scan_always)
        if self.scan_rx is not None:
            ids = self.scan_ids
            for w in set(self.scan_rx.findall(low)):
                present |= ids[w]
        low.present = frozenset(present)
        return low

    # -- helpers ---------------------------------------------------------------------------------------------------

    def pace_of(self, word: str | None) -> str:
        if not word:
            return ""
        w = " ".join(word.lower().split())
        for key, rx in self.pace:
            if rx.match(w):
                return key
        return w


@functools.lru_cache(maxsize=1)
def _default_vocab_path() -> str:
    return str(data_path(VOCABULARY_FILE))


@functools.lru_cache(maxsize=1)
def _module_digest() -> bytes:
    """Key of the build cache: this module's and the shared toolkit's source."""
    import skill.textmatch

    digest = hashlib.sha256()
    try:
        for source in (__file__, skill.textmatch.__file__):
            with open(source, "rb") as fh:
                digest.update(fh.read())
    except OSError:  # pragma: no cover - no source: the version alone keys the cache
        return b""
    return digest.digest()


def _cache_file(path: str) -> Path:
    from skill import settings

    name = hashlib.sha256(path.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return settings.kling3_home() / "cache" / f"prompt-vocabulary-{name}.marshal"


def _open_cache(path: str) -> _LexCache | None:
    """The build cache for the vocabulary file ``path`` (empty when nothing usable is stored)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None  # load_yaml reports it
    from skill._version import __version__

    h = hashlib.sha256(data)
    h.update(_module_digest())
    h.update(f"\0{__version__}\0{sys.version}\0{sys.implementation.cache_tag}\0{_CACHE_FORMAT}".encode())
    key = h.hexdigest()
    stored: object = None
    try:
        with open(_cache_file(path), "rb") as fh:
            stored = _LexCache.load(fh.read())
    except Exception:  # missing, unreadable or corrupt: build afresh
        stored = None
    return _LexCache(key, stored)


def _save_cache(path: str, cache: _LexCache, raw: Any) -> None:
    """Store the cache atomically; a cache that cannot be written is simply not written."""
    tmp: str | None = None
    try:
        from skill import settings

        target = _cache_file(path)
        blob = cache.dump(raw)
        settings.ensure_private_dir(target.parent)
        fd, tmp = tempfile.mkstemp(prefix=".prompt-vocabulary-", dir=target.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.replace(tmp, target)
        tmp = None
    except Exception:
        pass
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


@functools.lru_cache(maxsize=8)
def _lex_for(path: str) -> _Lex:
    cache = _open_cache(path)
    if cache is not None and cache.raw is not None:
        try:
            return _lex_from(path, cache.raw, cache)
        except Exception:  # a stored build that does not build again: start afresh
            cache = _LexCache(cache.key)
    return _lex_from(path, load_yaml(Path(path)), cache)


def _lex_from(path: str, raw: Any, cache: _LexCache | None) -> _Lex:
    try:
        vocab = Vocabulary.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid prompt vocabulary: {exc}", code="bad_data_file") from exc
    token = _BUILD_CACHE.set(cache)
    try:
        lex = _Lex(vocab)
    except re.error as exc:
        raise ConfigError(f"{path}: a pattern does not compile: {exc}", code="bad_data_file") from exc
    finally:
        _BUILD_CACHE.reset(token)
    if cache is not None and cache.dirty:
        _save_cache(path, cache, raw)
    return lex


def _lex(vocabulary: Path | str | None = None) -> _Lex:
    return _lex_for(str(vocabulary) if vocabulary is not None else _default_vocab_path())


# =====================================================================================
# Segment parsing
# =====================================================================================


@dataclass
class _Entity:
    full: str  # as introduced: "a barista with a red apron"
    head: str  # "barista"
    label: str  # "Barista"
    rich: bool  # carries a description worth restating
    plural: bool
    subject: bool = False  # the subject of a sentence (a pronoun can refer to it)
    person: bool = False  # names a person ("barista", "queen"), or was introduced with "a"


@dataclass
class _Seg:
    raw: str
    camera: list[tuple[str, str]] = field(default_factory=list)  # (move name, phrase)
    framing: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, name, phrase)
    prose: list[str] = field(default_factory=list)
    subject: str = ""
    action: str = ""
    scene: list[str] = field(default_factory=list)
    lighting: list[str] = field(default_factory=list)
    atmosphere: list[str] = field(default_factory=list)
    style: list[tuple[str, str]] = field(default_factory=list)  # (family, phrase)
    audio: list[tuple[str, str]] = field(default_factory=list)  # (kind, cue)
    no_audio: set[str] = field(default_factory=set)  # dialogue / music / voiceover said "no"
    wants_dialogue: bool = False
    dialogue: list[dict[str, str]] = field(default_factory=list)
    exclusions: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)
    moving: list[str] = field(default_factory=list)
    meta: list[str] = field(default_factory=list)
    hype: list[str] = field(default_factory=list)
    entities: list[_Entity] | None = None
    of_nps: list[str] = field(default_factory=list)  # "wide shot of <the cafe>": kept in the lead
    scene_in_lead: set[str] = field(default_factory=set)
    static_asked: str = ""  # "no camera movement" said as an exclusion
    duration: int | None = None


def _norm_space(s: str) -> str:
    return " ".join(s.split())


def _clean_phrase(s: str) -> str:
    s = _norm_space(s.replace(_M, " "))
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


def _normalise_input(text: str) -> str:
    text = _CTRL.sub(" ", text.translate(_QUOTES)).replace(_M, " ")
    if len(text.lower()) != len(text):
        # a few characters ("İ") lowercase to two; patterns run on lowercased text with shared offsets
        text = "".join(ch if len(ch.lower()) == 1 else ch.lower()[0] for ch in text)
    lines = [" ".join(ln.split()) for ln in text.split("\n")]
    return "\n".join(ln for ln in lines if ln)


def _lift(rx: _Rx, s: str, on: Callable[[_Hit], bool | None], low: str) -> str:
    """Replace every match for which ``on`` does not return False by a marker.

    ``low`` is the lowercased text before any lifting: a superset of what is left, so the
    pattern's pre-check stays valid.
    """
    if not rx.may(low):
        return s
    spans = [(h.start(), h.end()) for h in rx.hits(s) if not _kept(h.group(0) or "") and on(h) is not False]
    return _splice(s, spans)


_CLAUSE_START = re.compile(rf"[,.;:!?\n{_M}][^,.;:!?\n{_M}]*$")
_CLAUSE_END = re.compile(rf"\s*(?:[,.;:!?\n{_M}]|$)")


def _two_word_prefix(phrases: frozenset[str], second: str) -> Callable[[str], bool]:
    """A word test for ``_left``: the word and ``second`` form one of ``phrases`` ("lit by")."""

    def ok(w: str) -> bool:
        return f"{w.lower()} {second}" in phrases

    return ok


def _extract_lighting(lx: _Lex, s: str, seg: _Seg, low: str) -> str:
    if not lx.lighting.may(low):
        return s
    spans: list[tuple[int, int]] = []
    last = 0
    for m in lx.lighting.hits(s):
        if m.start() < last:
            continue
        kind = m.lastgroup or ""
        start, end = m.start(), m.end()
        if kind in ("hd", "nm", "sg"):
            nxt = lx.li_next.match(s, end)
            while nxt:  # "lamp light", "neon glow"
                end = nxt.end()
                nxt = lx.li_next.match(s, end)
            start, n = _left(s, start, lambda w: w.lower() in lx.li_mods, 3)
            if kind != "hd" and n == 0:
                # a bare head counts only as a clause of its own: ", single amber spotlight,"
                cs = _CLAUSE_START.search(s, 0, m.start())
                clause_start = cs.start() + 1 if cs else 0
                lead = s[clause_start: m.start()].split()
                if not _CLAUSE_END.match(s, end) or len(lead) > 3 or any(w.lower() in lx.function_words - {"a", "an"} for w in lead):
                    continue
                start = clause_start + (len(s[clause_start: m.start()]) - len(s[clause_start: m.start()].lstrip()))
            elif kind == "sg":
                continue
            src = lx.li_src.match(s, end)
            end = src.end() if src else end
        start = max(start, last)
        cue = _cue(s[start:end])
        start, _ = _left(s, start, lambda w: w.lower() in ("a", "an", "the"), 1)
        start2, _ = _left(s, start, lambda w: w.lower() in lx.li_drop, 1)
        if start2 < start:
            start = start2
            pair = _two_word_prefix(lx.li_drop, s[start:].split(" ", 1)[0].lower())
            start, _ = _left(s, start, pair, 1)
        start = max(start, last)
        if cue and cue.lower() not in (x.lower() for x in seg.lighting):
            seg.lighting.append(cue)
        spans.append((start, end))
        last = end
    return _splice(s, spans)


def _keep_pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    """One pattern for the router's content words, compiled once per build, not per match."""
    if not words:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w.lower()) for w in words) + r")(?!\w)")


def _kept(phrase: str) -> bool:
    """Whether ``phrase`` holds a word the router read as content (it then stays in the prompt)."""
    keep = _KEEP.get()
    return keep is not None and keep.search(phrase.lower()) is not None


def _lift_with_prefix(
    rx: _Rx, s: str, record: list[str], prefix: frozenset[str], low: str, *, core: bool = False
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
        if _kept(m.group(0) or ""):
            continue
        start, _ = _left(s, m.start(), lambda w: w.lower() in prefix, 4)
        start = max(start, last)
        record.append(_clean_phrase(s[m.start() if core else start: m.end()]))
        spans.append((start, m.end()))
        last = m.end()
    return _splice(s, spans)


def _extract_atmosphere(lx: _Lex, s: str, seg: _Seg, low: str) -> str:
    found: list[tuple[int, int, str]] = []
    if lx.atmosphere.may(low):
        for m in lx.atmosphere.hits(s):
            start, _ = _left(s, m.start(), lambda w: w.lower() in lx.atmosphere_prefix, 2)
            found.append((start, m.end(), m.group(0) or ""))
    if lx.atmosphere_seg.may(low):
        for m in lx.atmosphere_seg.hits(s):
            if not any(a < m.end() and m.start() < b for a, b, _ in found):
                found.append((m.start(), m.end(), m.group("seg") or ""))
    if not found:
        return s
    found.sort()
    spans: list[tuple[int, int]] = []
    for a, b, cue in found:
        if spans and a < spans[-1][1]:
            continue
        spans.append((a, b))
        seg.atmosphere.append(_cue(cue))
    return _splice(s, spans)


def _parse_segment(lx: _Lex, text: str, *, lead_in: bool) -> _Seg:
    seg = _Seg(raw=text)
    low = lx.scan(text)
    s = _extract_dialogue(lx, text, seg)

    for _kind, rx, prefix in lx.meta:
        s = _lift_with_prefix(rx, s, seg.meta, prefix, low)
    if lead_in:
        m = lx.lead_in.match(s)
        if m and m.end() > 0 and m.group(0).strip(f" ,{_M}") and not _kept(m.group(0)):
            seg.meta.append(_clean_phrase(m.group(0)))
            s = _MS + s[m.end():]
    s = _extract_identity(lx, s, seg, low)
    s = _extract_exclusions(lx, s, seg, low)

    def on_hype(m: _Hit) -> None:
        seg.hype.append(_clean_phrase(m.group(0) or ""))

    s = _lift(lx.hype, s, on_hype, low)
    s = _lift(lx.soup, s, on_hype, low)
    s = _lift(lx.soup_head, s, on_hype, low)
    s = _extract_audio(lx, s, seg, low)
    s = _extract_style(lx, s, seg, low)

    s = _extract_lighting(lx, s, seg, low)

    s = _extract_atmosphere(lx, s, seg, low)
    cur = s

    def on_scene(m: _Hit) -> bool | None:
        if (m.group("prep") or "").lower() == "at":
            before = cur[: m.start()].rstrip().rsplit(" ", 1)[-1].lower()
            if before.endswith(("s", "ing", "ed")) and before not in lx.dets:
                return False  # "looks at the city": an action, not a place
        seg.scene.append(_clean_phrase(m.group(0) or ""))
        return None

    s = _lift(lx.scene, s, on_scene, low)
    s = _extract_camera(lx, s, seg, low)
    if seg.static_asked and not any(n == "static" for n, _ in seg.camera):
        seg.camera.append(("static", seg.static_asked))
    s = _extract_framing(lx, s, seg, low)
    _finish_prose(lx, s, seg)
    return seg


def _cue(s: str) -> str:
    """A cue phrase as a list item: no leading article, no sentence-start capital."""
    s = _strip_article(_clean_phrase(s))
    if s[:1].isupper() and s[1:2].islower() and not any(w[:1].isupper() for w in s.split()[1:]):
        s = s[0].lower() + s[1:]
    return s


def _strip_article(s: str) -> str:
    low = s.lower()
    for a in ("a ", "an ", "the "):
        if low.startswith(a):
            return s[len(a):]
    return s


# --- dialogue -------------------------------------------------------------------------------


def _extract_dialogue(lx: _Lex, s: str, seg: _Seg) -> str:
    if '"' not in s:
        return s

    def tone_of(*parts: str | None) -> str:
        seen: list[str] = []
        for p in parts:
            p = _norm_space(p or "").strip(" ,")
            if p and p.lower() not in (x.lower() for x in seen):
                seen.append(p)
        return ", ".join(seen)

    def on(m: re.Match[str]) -> str:
        g = m.group
        if g("tline") is not None:
            spk, tone = g("tspk"), tone_of(g("ttone"))
        elif g("cline") is not None:
            spk, tone = g("cspk"), tone_of(g("ctone"))
        elif g("sline") is not None:
            verb = g("sverb").lower()
            before = s[: m.start()]
            prev_words = before.rstrip().rsplit(" ", 2)[-2:]
            prev = prev_words[-1].lower().strip(",") if prev_words else ""
            if prev in lx.not_speech or prev in ("that", "which") or verb in lx.not_speech:
                return m.group(0)
            clause = re.split(rf"[.;!?\n\"{_M}]", before)[-1]
            if "," in clause and clause.rsplit(",", 1)[-1].strip():
                clause = clause.rsplit(",", 1)[-1]
            spk = _subject_of(lx, clause) or lx.v.dialogue.default_speaker
            lang = g("slang")
            tone = tone_of(g("stone"), g("sadv1"), g("sadv2"), g("sadv3"), lx.speech_tone.get(verb),
                           f"in {lang}" if lang else None)
        else:
            verb = g("rverb").lower()
            lang = g("rlang")
            spk = g("rspk")
            tone = tone_of(g("radv1"), g("radv2"), lx.speech_tone.get(verb), f"in {lang}" if lang else None)
        line = g("tline") or g("cline") or g("sline") or g("rline") or ""
        seg.dialogue.append({"speaker": _norm_space(spk).strip("\"' "), "tone": tone, "line": _norm_space(line)})
        nxt = s[m.end(): m.end() + 3].lstrip()
        ends = line.rstrip()[-1:] in ".!?" and (not nxt or nxt[:1].isupper())
        return _MS + (". " if ends else "")

    return lx.dialogue.sub(on, s)


def _subject_of(lx: _Lex, clause: str) -> str:
    toks = clause.replace(_M, " ").split()
    if not toks:
        return ""
    subj, _ = _split_subject(lx, toks)
    return " ".join(subj).strip(" ,")


# --- camera ----------------------------------------------------------------------------------


def _splice(s: str, spans: list[tuple[int, int]]) -> str:
    """Replace non-overlapping, ordered spans of ``s`` by markers."""
    if not spans:
        return s
    out: list[str] = []
    pos = 0
    for a, b in spans:
        out.append(s[pos:a])
        out.append(_MS)
        pos = b
    out.append(s[pos:])
    return "".join(out)


def _extract_camera(lx: _Lex, s: str, seg: _Seg, low: str) -> str:
    found: list[tuple[int, str, str]] = []

    def phrase_of(m: _Hit, form: str, pace_word: str | None) -> tuple[str, str] | None:
        group = {"noun": "nn", "verb": "vv", "imp": "ii"}[form]
        idx = lx.move_which[form](m.group(group) or "")
        if idx < 0:  # pragma: no cover - the pattern always names a move
            return None
        mv = lx.moves[idx]
        sfx = {"noun": "a", "verb": "b", "imp": "c"}[form]
        pace = lx.pace_of(pace_word or m.group(f"q{sfx}"))
        direction = (m.group(f"dir{sfx}") or "").lower()
        tprep = m.group(f"tp{sfx}")
        target = _clean_phrase(m.group(f"tg{sfx}") or "")
        reveal = m.group(f"rv{sfx}")
        rtarget = _clean_phrase(m.group(f"rt{sfx}") or "")
        if form == "verb":
            core = mv.say
            last = _word((m.group("vv") or "").split()[-1])
            if not direction and last in lx.particles:
                direction = last
            if direction and not core.endswith(direction):
                core = f"{core} {direction}"
            if target:
                prep = (tprep or mv.object_prep or "on").lower()
                core = f"{core} {prep} {target}"
        else:
            core = _clean_phrase(m.group("nn" if form == "noun" else "ii") or "")
            core = core[0].lower() + core[1:] if core[:1].isupper() and not core[:3].isupper() else core
            if direction:
                core = f"{core} {direction}"
            if target:
                core = f"{core} {_norm_space(tprep or '')} {target}"
        if reveal and rtarget:
            core = f"{core}, {_norm_space(reveal).lower()} {rtarget}"
        phrase = f"{pace} {core}" if pace and not core.lower().startswith(pace) else core
        return mv.name, _norm_space(phrase)

    def run(rx: _Rx, form: str, s: str, taken: list[tuple[int, int]]) -> None:
        if not rx.may(low):
            return
        for m in rx.hits(s):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            start = m.start()
            pace_word = m.group("pb") if form == "verb" else m.group("pc") if form == "imp" else None
            if form == "verb":
                start, _ = _left(s, start, lambda w: w.lower() in lx.cam_subject_words, 3)
                start = max([start, *(b for a, b in taken if b <= m.start())])
            if form == "noun":
                start, n = _left(s, start, lambda w: bool(lx.pace_word.fullmatch(w)), 3, commas=True)
                if n:
                    words = [w for w in re.split(r"[\s,]+", s[start: m.start()]) if w]
                    pace_word = next((w for w in words if w.lower() not in ("very", "and")), None)
                start, _ = _left(s, start, lambda w: w.lower() in ("a", "an", "the"), 1)
                start = max([start, *(b for a, b in taken if b <= m.start())])
            got = phrase_of(m, form, pace_word)
            if got:
                found.append((start, *got))
                taken.append((start, m.end()))

    taken: list[tuple[int, int]] = []
    for form, rx in lx.cam_forms:
        run(rx, form, s, taken)
    s = _splice(s, sorted(taken))
    if found and lx.cam_again is not None:
        again: list[tuple[int, int]] = []
        base = len(found)
        run(lx.cam_again, "verb", s, again)
        for k in range(base, len(found)):
            found[k] = (10**9 + found[k][0], found[k][1], found[k][2])
        s = _splice(s, sorted(again))
    seen: set[str] = set()
    for _pos, name, phrase in sorted(found):
        if name not in seen:
            seen.add(name)
            seg.camera.append((name, phrase))
    return s


def detect_camera_moves(text: str) -> list[str]:
    """The names of the camera moves (vocabulary ``camera.moves[].name``) found in ``text``."""
    lx = _lex()
    seg = _Seg(raw=text)
    flat = _normalise_input(text)
    _extract_camera(lx, flat, seg, flat.lower())
    return [name for name, _ in seg.camera]


# --- identity --------------------------------------------------------------------------------


def _extract_identity(lx: _Lex, s: str, seg: _Seg, low: str) -> str:
    def on(m: _Hit) -> None:
        for g in ("k", "s", "c", "a"):
            if m.group(g):
                obj = _clean_phrase(m.group(g) or "")
                if g == "a":
                    obj = f"the same {obj}"
                seg.keep.append(obj)
                return
        if m.group("m"):
            seg.moving.append(_clean_phrase(m.group("m") or ""))

    return _lift(lx.identity, s, on, low)


# --- exclusions ------------------------------------------------------------------------------


_SPLIT_ITEMS = re.compile(r"\s*(?:,|\bor\b|\bnor\b|\band\b|&|/)\s*", re.IGNORECASE)


def _extract_exclusions(lx: _Lex, s: str, seg: _Seg, low: str) -> str:
    if not lx.excl_trigger.may(low):
        return s
    out: list[str] = []
    pos = 0
    for m in lx.excl_trigger.hits(s):
        if m.start() < pos:
            continue
        trig = (m.group("t") or "").lower()
        before = s[: m.start()].rstrip().rsplit(" ", 1)[-1].lower().strip(",") if m.start() else ""
        after_words = s[m.end():].split(" ", 1)
        nxt = after_words[0].lower().strip(",.") if after_words else ""
        if trig == "no" and (before in lx.excl_not_after or nxt in lx.excl_not_before):
            continue
        if trig.startswith("without") and nxt.endswith("ing") and nxt not in lx.ing_nouns:
            continue
        end_m = re.search(rf"[.;:!?\n{_M}]", s[m.end():])
        stop = m.end() + end_m.start() if end_m else len(s)
        chunks = s[m.end():stop].split(",")
        taken = [chunks[0]]
        consumed = len(chunks[0])
        rest = chunks[1:]
        for k, ch in enumerate(rest):
            st = ch.strip()
            words = st.split()
            if not words:
                break
            trig_m = lx.trigger_word.match(st)
            first = words[0].lower()
            short_tail = all(len(c.split()) <= 3 for c in rest[k:])
            if trig_m or (
                short_tail and first not in lx.pronouns and first not in lx.dets and not _looks_clause(lx, words)
            ):
                taken.append(st[trig_m.end():] if trig_m else st)
                consumed += len(ch) + 1
            else:
                break
        items: list[str] = []
        for chunk in taken:
            for raw in _SPLIT_ITEMS.split(chunk):
                item = lx.trigger_word.sub("", " " + raw).strip()
                item = re.sub(r"^(?:any|the|a|an|other|visible|more)\s+", "", item, flags=re.IGNORECASE)
                item = lx.excl_item_stop.sub("", item).strip(" ,.")
                words = item.split()
                if not words or all(w.lower() in lx.function_words for w in words):
                    continue
                items.append(" ".join(words[:5]))
        if not items:
            continue
        out.append(s[pos: m.start()])
        out.append(_MS)
        pos = m.end() + consumed
        for item in items[: lx.excl_max]:
            kind = next((k for k, rx in lx.excl_audio if rx.match(item)), None)
            if kind:
                seg.no_audio.add(kind)
            elif lx.excl_camera.match(item):
                seg.static_asked = f"no {item}"
            elif item.lower() not in (e.lower() for e in seg.exclusions):
                seg.exclusions.append(item)
    if not out:
        return s
    out.append(s[pos:])
    return "".join(out)


def _looks_clause(lx: _Lex, words: list[str]) -> bool:
    toks = [w.strip(",.") for w in words]
    ws = _words_of(toks)
    return any(_is_verb(lx, toks, k, 0, ws) for k in range(1, len(toks)))


# --- audio -----------------------------------------------------------------------------------


def _left(s: str, pos: int, ok: Callable[[str], bool], most: int, *, commas: bool = False) -> tuple[int, int]:
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


def _extract_audio(lx: _Lex, s: str, seg: _Seg, low: str) -> str:
    if not lx.audio.may(low):
        return s
    spans: list[tuple[int, int]] = []
    last = 0
    fw = lx.function_words

    def content(w: str) -> bool:
        return w.lower() not in fw

    for m in lx.audio.hits(s):
        if m.start() < last:
            continue
        kind = m.lastgroup or ""
        start, end = m.start(), m.end()
        if kind == "vo":
            start, _ = _left(s, start, lambda w: w.lower() in lx.au_tones or w.lower() == "and", 5, commas=True)
            lang = lx.au_lang.match(s, end)
            end = lang.end() if lang else end
        elif kind == "mu":
            start, n = _left(s, start, lambda w: bool(lx.au_music_mod.fullmatch(w)), 3)
            if n == 0 and lx.au_need_mod.fullmatch(m.group(0) or ""):
                continue
            nxt = lx.au_music_next.match(s.lower(), end)
            while nxt:  # "soft piano music"
                end = nxt.end()
                nxt = lx.au_music_next.match(s.lower(), end)
        elif kind == "of":
            tail = lx.au_of_tail.match(s, end)
            if not tail:
                continue
            end = tail.end()
            start, _ = _left(s, start, content, 2)
        elif kind in ("amb", "fx"):
            start, n = _left(s, start, content, 2)
            if kind == "fx" and n == 0 and not lx.au_effect_free.fullmatch(m.group(0) or ""):
                continue
        start = max(start, last)
        cue = s[start:end]
        # an article, then a joining word ("with", "and", "plus"), go with the cue
        start, _ = _left(s, start, lambda w: w.lower() in ("a", "an", "some", "the"), 1)
        start, _ = _left(s, start, lambda w: w.lower() in lx.au_drop, 1)
        start = max(start, last)
        if kind == "dl":
            seg.wants_dialogue = True
        else:
            name = {"vo": "voiceover", "mu": "music", "of": "effects", "amb": "ambience", "fx": "effects"}[kind]
            text = _cue(cue)
            if text and text.lower() not in (c.lower() for _, c in seg.audio):
                seg.audio.append((name, text))
        spans.append((start, end))
        last = end
    return _splice(s, spans)


# --- style -----------------------------------------------------------------------------------


def _extract_style(lx: _Lex, s: str, seg: _Seg, low: str) -> str:
    def on_with(which: _Which) -> Callable[[_Hit], bool | None]:
        def on(m: _Hit) -> bool | None:
            idx = which(m.group("st") or "")
            if idx < 0:  # pragma: no cover - a match always belongs to a family
                return False
            phrase = re.sub(r"^(?:in\s+)?(?:an?\s+)?", "", _clean_phrase(m.group(0) or ""), flags=re.IGNORECASE)
            seg.style.append((lx.families[idx].name, _cue(phrase)))
            return None

        return on

    s = _lift(lx.style, s, on_with(lx.style_which), low)
    if lx.style_seg is not None:
        s = _lift(lx.style_seg, s, on_with(lx.style_seg_which), low)
    return s


# --- framing ---------------------------------------------------------------------------------


def _extract_framing(lx: _Lex, s: str, seg: _Seg, low: str) -> str:
    if not lx.framing.may(low):
        return s
    out: list[str] = []
    pos = 0
    for m in lx.framing.hits(s):
        if m.start() < pos:
            continue
        idx = lx.framing_which(m.group(0) or "")
        if idx < 0:  # pragma: no cover - a match always belongs to an entry
            continue
        e = lx.framing_entries[idx]
        phrase = e.say or _cue(m.group(0) or "").lower()
        if e.kind == "lens" and phrase[:1].isdigit():
            phrase = re.sub(r"(\d)\s+mm", r"\1mm", phrase)
        end = m.end()
        if e.kind in ("size", "composition"):
            of = lx.of_np.match(s, end)
            if of:
                toks = of.group("np").split()
                if toks and not any(_is_verb(lx, toks, k, 0) for k in range(len(toks))):
                    np_text = _norm_space(of.group("np"))
                    phrase = f"{phrase} of {np_text}"
                    seg.of_nps.append(np_text)
                    if _is_place(lx, np_text):
                        seg.scene.append(np_text)
                        seg.scene_in_lead.add(np_text)
                    end = of.end()
        if all(p != phrase for _, _, p in seg.framing):
            seg.framing.append((e.kind, e.name, phrase))
        start, _ = _left(s, m.start(), lambda w: w.lower() in lx.framing_prefix, 3)
        start = max(start, pos)
        out.append(s[pos:start])
        out.append(_MS)
        pos = end
    if not out:
        return s
    out.append(s[pos:])
    return "".join(out)


# --- prose -----------------------------------------------------------------------------------


_SPACES = re.compile(r"[ \t]+")
# a run of punctuation with spaces: keep the strongest mark ("a , ." -> "a.")
_PUNCT_RUN = re.compile(r"\s*([,.;:!?])(?:\s*[,.;:!?])*")
_PARENS = re.compile(r"\(\s*\)|\[\s*\]|(?<=\()\s+|\s+(?=\))")
_SENTENCES = re.compile(r"(?<=[.!?;])\s+|\n+")


def _punct(m: re.Match[str]) -> str:
    run = m.group(0)
    for mark in ".!?":
        if mark in run:
            return mark
    return m.group(1)


def _tidy(s: str) -> str:
    s = _SPACES.sub(" ", s)
    if "(" in s or "[" in s:
        s = _PARENS.sub("", s)
    s = _PUNCT_RUN.sub(_punct, s)
    return s.strip().lstrip(",.;:!?-— ").rstrip(",;:-— ")


def _is_place(lx: _Lex, phrase: str) -> bool:
    """Whether a phrase ends with a scene noun ("a small cafe", "the living room")."""
    words = phrase.lower().replace(_M, " ").split()
    if not words:
        return False
    last = words[-1].strip(",.;:!?\"'")
    if last in lx.scene_one or (last.endswith("s") and last[:-1] in lx.scene_one):
        return True
    return len(words) > 1 and f"{words[-2]} {last}" in lx.scene_two


_MARKER_RUN = re.compile(rf"\s*{_M}(?:\s*{_M})*\s*")


def _cleanup(lx: _Lex, s: str) -> str:
    if _M not in s:
        return s

    def article(m: re.Match[str]) -> str:
        art = m.group(1)
        an = m.group(2).lower() in "aeiou"
        new = ("an" if an else "a") if art.islower() else ("An" if an else "A")
        return f"{new} "

    # one marker per gap first: the patterns below would be quadratic over a long run of markers
    s = _MARKER_RUN.sub(_MS, s)
    for _ in range(4):
        s, n = lx.c_around.subn(_MS, s)
        if not n:
            break
        s = _MARKER_RUN.sub(_MS, s)
    s = lx.c_article.sub(article, s)
    return s.replace(_M, " ")


def _finish_prose(lx: _Lex, s: str, seg: _Seg) -> None:
    s = _tidy(_cleanup(lx, s))
    prose: list[str] = []
    for sentence in _SENTENCES.split(s):
        sentence = sentence.strip(" ;")
        if not sentence:
            continue
        end = sentence[-1] if sentence[-1] in ".!?" else ""
        clauses: list[str] = []
        for clause in (c.strip() for c in sentence.rstrip(".!?").split(",")):
            clause = lx.c_start_conn.sub("", clause) if not clauses else clause
            words = clause.split()
            if not words:
                continue
            if all(w.lower().strip(".!?") in lx.function_words for w in words) and not (
                seg.dialogue and len(words) == 1 and _word(words[0]) in lx.pronouns
            ):
                continue
            if not any(ch.isalnum() for ch in clause):
                continue
            if (
                len(words) <= 6
                and _is_place(lx, clause)
                and not any(_word(w) in lx.preps or _word(w) in lx.conj for w in words)
                and not _looks_clause(lx, words)
                and (_word(words[0]) in lx.dets or len(words) <= 3)
            ):
                seg.scene.append(clause)
                continue
            clauses.append(clause)
        if clauses:
            prose.append(", ".join(clauses) + end)
    seg.prose = prose
    if prose:
        toks = prose[0].rstrip(".!?").split()
        subj, rest = _split_subject(lx, toks)
        seg.subject = " ".join(subj)
        seg.action = ". ".join(x for x in [" ".join(rest), *(p.rstrip(".!?") for p in prose[1:])] if x)
        if not subj:
            seg.action = ". ".join(p.rstrip(".!?") for p in prose)
    seg.entities = None  # computed on demand: only multi-shot continuity and dialogue labels need them


_WORD_STRIP = ",.;:!?\"()"


def _word(t: str) -> str:
    return t.lower().strip(_WORD_STRIP)


def _words_of(toks: Sequence[str]) -> list[str]:
    return [t.lower().strip(_WORD_STRIP) for t in toks]


def _is_verb(lx: _Lex, toks: Sequence[str], k: int, start: int, ws: Sequence[str] | None = None) -> bool:
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
    if w.endswith("ing") and len(w) > 4 and w not in lx.ing_nouns:
        return prev is not None
    if prev is None:
        return False
    prev_det = prev in lx.dets or prev.endswith("'s") or prev.isdigit() or prev in lx.numbers
    if w.endswith("ed") and len(w) > 4:
        return not prev_det and (nxt is None or nxt in light or nxt.endswith("ly"))
    if w.endswith("s") and not w.endswith("ss") and "'" not in w and w not in lx.s_nouns and len(w) > 2:
        if prev_det:
            return False
        if nxt is None or nxt in light or nxt.endswith("ly") or toks[k].endswith(","):
            return True
        nxt2 = ws[k + 2] if k + 2 < n else None
        return nxt2 is None or nxt2 in light or toks[k + 1].endswith(",")
    if prev.endswith("s") and not prev.endswith("ss") and prev not in lx.function_words and not prev_det:
        # a base verb after a plural noun ("two dogs run across")
        return nxt is None or nxt in light or nxt.endswith("ly")
    return False


def _split_subject(lx: _Lex, toks: list[str]) -> tuple[list[str], list[str]]:
    """Split a sentence's words into subject and the rest, at the first verb."""
    if not toks:
        return [], []
    ws = _words_of(toks)
    if ws[0] in lx.pronouns:
        return toks[:1], toks[1:]
    for k in range(1, min(len(toks), 14)):
        if ws[k] in lx.np_stop:
            return (toks[:k], toks[k:]) if k <= 12 else ([], toks)
        if _is_verb(lx, toks, k, 0, ws):
            return toks[:k], toks[k:]
    return (toks, []) if len(toks) <= 10 else ([], toks)


def _np_end(lx: _Lex, toks: list[str], i: int, ws: Sequence[str] | None = None) -> int:
    """End (exclusive) of the noun phrase core starting at toks[i] (a determiner)."""
    if ws is None:
        ws = _words_of(toks)
    j = i + 1
    while j < len(toks) and j - i <= 5:
        w = ws[j]
        if not w or w in lx.function_words or _is_verb(lx, toks, j, i, ws):
            break
        j += 1
        if toks[j - 1][-1:] in ",.;:!?":
            break
    return j


def _entities(lx: _Lex, prose: list[str]) -> list[_Entity]:
    found: list[_Entity] = []
    for sentence in prose:
        toks = sentence.split()
        ws = _words_of(toks)
        i = 0
        while i < len(toks):
            w = ws[i]
            if w in lx.indef or (i == 0 and w in lx.dets and w not in lx.pronouns):
                j = _np_end(lx, toks, i, ws)
                # one attached description: "a barista with a red apron"
                if (
                    j - i >= 2
                    and toks[j - 1][-1:] not in ",.;:!?"
                    and j + 1 < len(toks)
                    and ws[j] in lx.attach
                    and ws[j + 1] in lx.dets
                ):
                    k = _np_end(lx, toks, j + 1, ws)
                    if k - (j + 1) >= 2:
                        j = k
                if j - i >= 2:
                    words = [t.strip(",.;:!?\"") for t in toks[i:j]]
                    owner = next((n for n in range(1, len(words)) if words[n].lower().endswith("'s")), 0)
                    if owner:
                        # "an old clockmaker's hands": the owner is the character
                        _add_entity(lx, found, [*words[:owner], words[owner][:-2]], i == 0, indefinite=w in lx.indef)
                    _add_entity(lx, found, words, i == 0, indefinite=w in lx.indef)
                i = max(j, i + 1)
            else:
                i += 1
    return found


def _add_entity(lx: _Lex, found: list[_Entity], words: list[str], first: bool, *, indefinite: bool) -> None:
    core_end = next((n for n in range(1, len(words)) if words[n].lower() in lx.attach), len(words))
    head = words[core_end - 1].lower()
    if not head.replace("-", "").isalpha() or head in lx.function_words or len(head) < 3:
        return
    is_place = _is_place(lx, " ".join(words[:core_end]))
    singular = head[:-1] if head.endswith("s") and not head.endswith("ss") else head
    found.append(
        _Entity(
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


# =====================================================================================
# Shot splitting
# =====================================================================================


@dataclass
class _Split:
    preamble: str
    shots: list[tuple[str, int | None]]
    structured: bool


def _dur_from(lx: _Lex, txt: str | None) -> int | None:
    if not txt:
        return None
    m = lx.dur_text.search(txt)
    if not m:
        return None
    a, b = m.group(1), m.group(2)
    n = int(b) - int(a) if a is not None else int(b)
    return n if n > 0 else None


def _shot_body(lx: _Lex, txt: str) -> tuple[str, int | None]:
    dur: int | None = None
    m = lx.paren_dur.search(txt)
    if m:
        a, b = m.group(1), m.group(2)
        n = int(b) - int(a) if a is not None else int(b)
        dur = n if n > 0 else None
        txt = txt[: m.start()] + " " + txt[m.end():]
    return _norm_space(txt).strip(" ,;-—"), dur


def _split(lx: _Lex, text: str) -> _Split:
    # 1. "Shot 1: ... Shot 2: ..."
    low = text.lower()
    heads = list(lx.header.hits(text)) if lx.header.may(low) else []
    if len(heads) >= 2:
        shots = []
        for k, h in enumerate(heads):
            end = heads[k + 1].start() if k + 1 < len(heads) else len(text)
            body, dur = _shot_body(lx, text[h.end(): end])
            dur = _dur_from(lx, h.group("dur") or h.group("dur2")) or dur
            if body:
                shots.append((body, dur))
        if len(shots) >= 2:
            return _Split(_norm_space(text[: heads[0].start()]), shots, True)
    if len(heads) == 1 and not text[: heads[0].start()].strip():
        text = text[heads[0].end():]
    # 2. a numbered or bulleted list, one item a line
    lines = text.split("\n")
    items = [(k, lx.list_item.match(ln)) for k, ln in enumerate(lines)] if len(lines) > 1 else []
    listed = [(k, m) for k, m in items if m]
    if len(listed) >= 2:
        shots = [_shot_body(lx, m.group(2)) for _, m in listed]
        pre = " ".join(ln for k, ln in enumerate(lines) if not items[k][1])
        return _Split(_norm_space(pre), [s for s in shots if s[0]], True)
    flat = _norm_space(text)
    # 3. inline "1) ... 2) ..."
    nums = list(lx.inline_num.finditer(flat)) if ")" in flat else []
    seq: list[re.Match[str]] = []
    for m in nums:
        if int(m.group(1)) == len(seq) + 1:
            seq.append(m)
    if len(seq) >= 2:
        shots = []
        for k, m in enumerate(seq):
            end = seq[k + 1].start() if k + 1 < len(seq) else len(flat)
            item = _shot_body(lx, flat[m.end(): end])
            if item[0]:
                shots.append(item)
        if len(shots) >= 2:
            return _Split(flat[: seq[0].start()].strip(), shots, True)
    # 4. sequencing prose: "opens on ..., then cut to ..., finally ..."
    low = flat.lower()
    op = lx.opener.search(flat) if lx.opener.may(low) else None
    has_cut = lx.cut.may(low) and lx.cut.search(flat) is not None
    if has_cut or (op and lx.step.search(flat, op.end())):
        pre = ""
        body = flat
        if op:
            pre, body = flat[: op.start()], flat[op.end():]
        parts = [p for chunk in _split_on(lx.cut, body) for p in _split_on(lx.step, chunk)]
        shots = [_shot_body(lx, p) for p in parts if p and p.strip(" ,.;")]
        if len(shots) >= 2:
            return _Split(pre.strip(), [s for s in shots if s[0]], True)
    # 5. framed shots listed in prose: "wide street shot, close-up on the sole, then the logo"
    colon = flat.rfind(":")
    pre, body = ("", flat)
    total = _count_sizes(lx, flat, low)
    if total >= 2 and colon >= 0 and _count_sizes(lx, flat[colon + 1:]) >= 2:
        pre, body = flat[:colon], flat[colon + 1:]
    if total >= 2 and _count_sizes(lx, body) >= 2:
        toks = lx.list_sep.split(body)
        found: list[str] = []
        cur: list[str] = []
        for i in range(0, len(toks), 2):
            clause = toks[i].strip(" ,;.")
            if not clause:
                continue
            sep = toks[i - 1].lower() if i else ""
            if cur and (_count_sizes(lx, clause) or sep.endswith("then")):
                found.append(", ".join(cur))
                cur = []
            cur.append(clause)
        if cur:
            found.append(", ".join(cur))
        if len(found) >= 2:
            return _Split(pre.strip(), [_shot_body(lx, x) for x in found], True)
    return _Split("", [(flat, None)], False)


def _split_on(rx: _Rx, s: str) -> list[str]:
    """``re.split`` for an ``_Rx`` (pieces keep the caller's case)."""
    out: list[str] = []
    pos = 0
    for h in rx.hits(s):
        out.append(s[pos: h.start()])
        pos = h.end()
    out.append(s[pos:])
    return out


def _count_sizes(lx: _Lex, text: str, low: str | None = None) -> int:
    if not lx.sizes.may(low if low is not None else text.lower()):
        return 0
    return sum(1 for _ in lx.sizes.rx.finditer(low if low is not None else text.lower()))


def split_shots(text: str) -> list[str]:
    """The shot texts found in free text: several for a multi-shot text, one otherwise, none when blank."""
    flat = _normalise_input(text)
    if not flat.strip():
        return []
    sp = _split(_lex(), flat)
    return [t for t, _ in sp.shots]


# =====================================================================================
# Description (public, pure)
# =====================================================================================


@dataclass
class _Desc:
    preamble: _Seg | None
    shots: list[_Seg]
    source: Literal["single", "text", "field"]
    text_had_shots: bool = False


def _describe(lx: _Lex, text: str, shots: Sequence[Shot] | None) -> _Desc:
    flat = _normalise_input(text)
    if shots:
        sp = _split(lx, flat) if flat else _Split("", [], False)
        pre_text = sp.preamble if sp.structured else flat
        pre = _parse_segment(lx, pre_text, lead_in=True) if pre_text.strip() else None
        segs = []
        for sh in shots:
            seg = _parse_segment(lx, _normalise_input(sh.prompt), lead_in=False)
            seg.duration = sh.duration
            segs.append(seg)
        return _Desc(pre, segs, "field", text_had_shots=sp.structured)
    sp = _split(lx, flat)
    if not sp.structured:
        return _Desc(None, [_parse_segment(lx, flat, lead_in=True)], "single")
    pre = _parse_segment(lx, sp.preamble, lead_in=True) if sp.preamble.strip() else None
    segs = []
    for k, (body, dur) in enumerate(sp.shots):
        seg = _parse_segment(lx, body, lead_in=k == 0 and pre is None)
        seg.duration = dur
        segs.append(seg)
    return _Desc(pre, segs, "text")


def _uniq(items: Iterable[str]) -> list[str]:
    """Items in order, without case-insensitive duplicates or empties."""
    if isinstance(items, list) and len(items) < 2:
        return [x for x in items if x]
    seen: set[str] = set()
    out: list[str] = []
    for it in items:
        key = it.lower()
        if it and key not in seen:
            seen.add(key)
            out.append(it)
    return out


def _parts(segs: Sequence[_Seg]) -> PromptParts:
    subject = next((s.subject for s in segs if s.subject), "")
    action = next((s.action for s in segs if s.subject == subject and s.action), "") if subject else ""
    if not action:
        action = next((s.action for s in segs if s.action), "")
    return PromptParts(
        camera=_uniq(p for s in segs for _, p in s.camera),
        framing=_uniq(p for s in segs for _, _, p in s.framing),
        subject=subject,
        action=action,
        scene=", ".join(_uniq(x for s in segs for x in s.scene)),
        lighting=_uniq(x for s in segs for x in s.lighting),
        atmosphere=_uniq(x for s in segs for x in s.atmosphere),
        style=_uniq(p for s in segs for _, p in s.style),
        audio=_uniq(c for s in segs for _, c in s.audio),
        dialogue=[dict(d) for s in segs for d in s.dialogue],
        exclusions=_uniq(x for s in segs for x in s.exclusions),
        identity=_uniq(x for s in segs for x in s.keep),
        moving=next((m for s in segs for m in s.moving), ""),
        meta=_uniq(x for s in segs for x in s.meta),
        hype=_uniq(x for s in segs for x in s.hype),
    )


def parse_description(text: str, shots: list[Shot] | None = None) -> Description:
    """Split a caller's description into parts, and into shots when it has several. Pure."""
    lx = _lex()
    d = _describe(lx, text, shots)
    all_segs = ([d.preamble] if d.preamble else []) + d.shots
    multi = len(d.shots) > 1
    drafts = (
        [
            ShotDraft(index=k + 1, text=seg.raw, duration=seg.duration, parts=_parts([seg]))
            for k, seg in enumerate(d.shots)
        ]
        if multi
        else []
    )
    return Description(parts=_parts(all_segs), shots=drafts, shot_source=d.source if multi else "single")


# =====================================================================================
# Templates
# =====================================================================================


def _sentence(value: Any) -> str:
    s = _norm_space(str(value)).strip(" ,;")
    if not s:
        return ""
    s = s[0].upper() + s[1:]
    return s if s[-1] in ".!?" else s + "."


def _env_for(template_dir: str | None) -> Any:
    return _env_cached(template_dir, _bundled_templates())


@functools.lru_cache(maxsize=1)
def _bundled_templates() -> str:
    return str(data_path(TEMPLATES_DIR))


# A hostile template could build a huge string; refuse operands that would.
_MAX_REPEAT = 10_000


@functools.lru_cache(maxsize=16)
def _env_cached(template_dir: str | None, bundled: str) -> Any:
    from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import SandboxedEnvironment

    class _Env(SandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**" and isinstance(right, int) and abs(right) > 64:
                raise SecurityError("exponent too large in a template")
            if operator == "*":
                for seq, n in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(n, int) and len(seq) * n > _MAX_REPEAT:
                        raise SecurityError("sequence repetition too large in a template")
            return super().call_binop(context, operator, left, right)

    loaders = [FileSystemLoader(template_dir)] if template_dir else []
    loaders.append(FileSystemLoader(bundled))
    env = _Env(
        loader=_InliningLoader(ChoiceLoader(loaders)),
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
        cache_size=64,
    )
    env.filters["sentence"] = _sentence
    return env


_INCLUDE = re.compile(r"""\{%-?\s*include\s+(["'])([^"'\n]{1,200})\1\s*-?%\}""")


class _InliningLoader:
    """Wraps a Jinja loader and inlines static ``{% include "x.j2" %}`` tags at load time.

    Rendering an include costs a new context every time; inlining keeps the template files
    separate for the people who edit them at no cost per call. Each file is still parsed on its
    own first, so a syntax error names the file it is in, and a line map sends a runtime error
    in inlined text back to its own file.
    """

    max_depth = 8

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.lines: dict[str, list[tuple[str, int]]] = {}

    def get_source(self, environment: Any, name: str) -> tuple[str, str | None, Any]:
        text, filename, uptodate, owners = self._load(environment, name, ())
        if filename:
            # each line belongs to the file of its first non-blank character
            lines: list[tuple[str, int]] = []
            pos = 0
            for line in text.split("\n"):
                k = len(line) - len(line.lstrip())
                idx = min(pos + k, len(owners) - 1)
                lines.append(owners[idx] if owners else (filename, len(lines) + 1))
                pos += len(line) + 1
            self.lines[filename] = lines
        return text, filename, uptodate

    def _load(self, env: Any, name: str, stack: tuple[str, ...]) -> tuple[str, str | None, Any, list[tuple[str, int]]]:
        """The source with static includes inlined, and the (file, line) each character comes from."""
        from jinja2 import TemplateSyntaxError

        if name in stack or len(stack) > self.max_depth:
            raise TemplateSyntaxError(f"include cycle or nesting too deep: {' -> '.join((*stack, name))}", 1, name)
        source, filename, uptodate = self.inner.get_source(env, name)
        env.parse(source, name, filename)  # a syntax error names this very file
        where = filename or name
        out: list[str] = []
        owners: list[tuple[str, int]] = []
        line = 1

        def take(chunk: str) -> None:
            nonlocal line
            out.append(chunk)
            for ch in chunk:
                owners.append((where, line))
                if ch == "\n":
                    line += 1

        pos = 0
        for m in _INCLUDE.finditer(source):
            take(source[pos: m.start()])
            text, _f, _u, sub = self._load(env, m.group(2), (*stack, name))
            # fenced, so the included file's own whitespace control stays inside it
            fence = "{{ '' }}"
            out.append(fence + text + fence)
            first = sub[0] if sub else (where, line)
            owners.extend([first] * len(fence) + sub + [sub[-1] if sub else first] * len(fence))
            pos = m.end()
        take(source[pos:])
        return "".join(out), filename, uptodate, owners

    def load(self, environment: Any, name: str, globals: Any = None) -> Any:
        from jinja2.loaders import BaseLoader

        return BaseLoader.load(self, environment, name, globals)  # type: ignore[arg-type]


def _template_file(exc: BaseException, name: str, template_dir: str | None, env: Any = None) -> str:
    """The template file an error comes from: the syntax error's file, or the deepest template frame."""
    from jinja2 import TemplateNotFound, TemplateSyntaxError

    if isinstance(exc, TemplateSyntaxError) and (exc.filename or exc.name):
        return str(exc.filename or exc.name)
    if isinstance(exc, TemplateNotFound):
        return str(Path(template_dir) / str(exc.name)) if template_dir else str(exc.name)
    found, lineno = "", 0
    tb = exc.__traceback__
    while tb is not None:
        fname = tb.tb_frame.f_code.co_filename
        if fname.endswith(".j2") or (template_dir and fname.startswith(template_dir)):
            found, lineno = fname, tb.tb_lineno
        tb = tb.tb_next
    if found:
        loader = getattr(env, "loader", None)
        lines = loader.lines.get(found) if isinstance(loader, _InliningLoader) else None
        if lines and 0 < lineno <= len(lines):
            return lines[lineno - 1][0]
        return found
    return str(Path(template_dir) / name) if template_dir else name


def _render(name: str, ctx: dict[str, Any], template_dir: str | None) -> str:
    env = _env_for(template_dir)
    try:
        out = env.get_template(name).render(ctx)
    except Kling3Error:
        raise
    except Exception as exc:
        where = _template_file(exc, name, template_dir, env)
        raise ConfigError(
            f"prompt template {where} failed: {type(exc).__name__}: {exc}",
            code="bad_template",
            details={"template": where},
        ) from None
    if not isinstance(out, str):  # pragma: no cover - jinja always returns str
        raise ConfigError(f"prompt template {name} did not render text", code="bad_template")
    return _tidy(_norm_space(out))


# =====================================================================================
# Building
# =====================================================================================


@dataclass
class _ShotPlan:
    seg: _Seg
    index: int
    duration: int
    body: list[str]
    scene: list[str]
    lighting: list[str]
    atmosphere: list[str]
    style: list[str]
    inherited: set[str]
    audio: list[tuple[str, str]]
    dialogue: list[dict[str, str]]


def _ents(lx: _Lex, seg: _Seg) -> list[_Entity]:
    if seg.entities is None:
        seg.entities = _entities(lx, [*seg.of_nps, *seg.prose])
    return seg.entities


def _definite(lx: _Lex, full: str) -> str:
    first, _, rest = full.partition(" ")
    if first.lower() in lx.indef:
        return f"the {rest}"
    if first.lower() in lx.numbers or first.isdigit():
        return f"the {full}"
    return full


def _restate(lx: _Lex, sentences: list[str], known: list[_Entity]) -> list[str]:
    """Restate characters and props introduced earlier: shots share no context."""
    if not sentences or not known:
        return sentences
    out = list(sentences)
    first = out[0]
    word, _, rest = first.partition(" ")
    w = word.lower().strip(",.;:!?")
    if not rest and word[-1:] in ".!?":
        rest = word[-1]
    if w in ("she", "he", "they"):
        want_plural = w == "they"
        ent = _referent(known, plural=want_plural)
        if ent is not None:
            out[0] = f"{_definite(lx, ent.full)}{'' if rest[:1] in '.!?' else ' '}{rest}".strip()
    text = " ".join(out)
    low = text.lower()
    for ent in known:
        if not ent.rich or ent.full.lower() in low or _definite(lx, ent.full).lower() in low:
            continue
        rx = re.compile(rf"(?<![\w'])the\s+(?:[\w-]+\s+){{0,2}}?{re.escape(ent.head)}(?![\w'-])", re.IGNORECASE)
        for k, sentence in enumerate(out):
            m = rx.search(sentence)
            if m:
                repl = _definite(lx, ent.full)
                if m.start() == 0 and sentence[:1].isupper():
                    repl = repl[0].upper() + repl[1:]
                out[k] = sentence[: m.start()] + repl + sentence[m.end():]
                low = " ".join(out).lower()
                break
    return out


def _referent(known: list[_Entity], *, plural: bool, strict: bool = True) -> _Entity | None:
    """What a pronoun refers to: the latest person; without one, the latest subject (not strict)."""
    people = [e for e in known if e.person and e.plural == plural]
    if people:
        return people[-1]
    if strict:
        return None
    subjects = [e for e in known if e.subject and e.plural == plural]
    return subjects[-1] if subjects else None


def _label(lx: _Lex, spk: str, known: list[_Entity]) -> str:
    s = _norm_space(spk).strip(" ,")
    low = s.lower()
    if low in lx.pronouns or low in ("i", "we"):
        ent = _referent(known, plural=low == "they", strict=False)
        return ent.label if ent else s.capitalize()
    toks = s.split()
    if toks and toks[0].lower() in lx.dets:
        toks = toks[1:]
    cut = next((n for n, t in enumerate(toks) if t.lower() in lx.attach), len(toks))
    toks = toks[:cut] or toks
    out = " ".join(toks)
    return out[:1].upper() + out[1:] if out else lx.v.dialogue.default_speaker


def _lead(seg: _Seg) -> list[str]:
    sizes = [p for k, _, p in seg.framing if k in ("size", "angle", "composition")]
    lenses = [p for k, _, p in seg.framing if k == "lens"]
    return [*sizes, *(p for _, p in seg.camera), *lenses]


def _audio_ctx(on: bool, cues: list[tuple[str, str]], dialogue: list[dict[str, str]],
               no_audio: set[str], wants_dialogue: bool) -> dict[str, Any]:
    order = {"voiceover": 0, "ambience": 1, "effects": 2, "music": 3}
    ordered = [c for _, c in sorted(cues, key=lambda kc: order.get(kc[0], 9))]
    speech = bool(dialogue) or any(k == "voiceover" for k, _ in cues) or wants_dialogue
    return {
        "on": on,
        "cues": ordered,
        "no_music": "music" in no_audio and not any(k == "music" for k, _ in cues),
        "no_voiceover": "voiceover" in no_audio,
        "no_dialogue": on and not speech,
        "dialogue": dialogue if on else [],
        "wants_dialogue": wants_dialogue and not dialogue,
    }


def _contentword_alternation(lx: _Lex, s: str) -> set[str]:
    out = set()
    for w in re.findall(r"[\w'-]+", s.lower()):
        if len(w) < 3 or w in lx.function_words:
            continue
        out.add(w[:-2] if w.endswith("es") and len(w) > 4 else w[:-1] if w.endswith("s") and len(w) > 3 else w)
    return out


def build_prompt(inp: PromptInput, *, template_dir: Path | None = None) -> BuiltPrompt:
    """Write the prompt for one call. Pure and deterministic.

    Raises :class:`InputError` (``prompt_too_long``, ``shot_too_long``, ``invalid_input``) when the
    request cannot be written within Kling's limits, and :class:`ConfigError` (``bad_template``)
    when a template is broken or hostile.

    Results are memoised (the same input gives the same object back): treat them as read-only.
    """
    tdir = _resolved(str(template_dir)) if template_dir is not None else None
    shots = tuple((s.prompt, s.duration) for s in inp.shots) if inp.shots is not None else None
    key = (inp.text, shots, inp.mode, inp.tier, inp.duration, inp.generate_audio, inp.negative_prompt,
           inp.has_tail_image, inp.cfg_scale, inp.usd_per_second, inp.keep, tdir)
    return _build_memo(key, inp)


@functools.lru_cache(maxsize=16)
def _resolved(path: str) -> str:
    return str(Path(path).resolve())


class _Key:
    """A memo key that carries the input along without hashing it."""

    __slots__ = ("inp", "key")

    def __init__(self, key: tuple[Any, ...], inp: PromptInput) -> None:
        self.key = key
        self.inp = inp

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Key) and other.key == self.key


def _build_memo(key: tuple[Any, ...], inp: PromptInput) -> BuiltPrompt:
    return _build_cached(_Key(key, inp))


@functools.lru_cache(maxsize=2048)
def _build_cached(k: _Key) -> BuiltPrompt:
    token = _KEEP.set(_keep_pattern(k.inp.keep))
    try:
        return _build(k.inp, k.key[-1])
    finally:
        _KEEP.reset(token)


def _build(inp: PromptInput, tdir: str | None) -> BuiltPrompt:
    """:func:`build_prompt` without the memo (``tdir``: resolved template folder or None)."""
    cat = load_catalog()
    limits = cat.limits
    lx = _lex()
    if len(inp.text) > MAX_INPUT_CHARS:
        raise InputError(
            f"text is {len(inp.text)} characters; a Kling prompt holds at most {limits.max_prompt_chars}",
            code="prompt_too_long",
            field="text",
            details={"chars": len(inp.text), "limit": limits.max_prompt_chars},
        )
    shots_in = inp.shots or None
    for k, sh in enumerate(shots_in or (), start=1):
        if len(sh.prompt) > MAX_INPUT_CHARS:
            raise InputError(
                f"shot {k} is {len(sh.prompt)} characters; a shot holds at most {limits.max_shot_chars}",
                code="shot_too_long",
                field="shots",
                details={"shot": k, "chars": len(sh.prompt), "limit": limits.max_shot_chars},
            )
    if shots_in is not None and len(shots_in) > limits.max_shots:
        raise InputError(
            f"{len(shots_in)} shots given; one call takes at most {limits.max_shots}",
            code="invalid_input",
            field="shots",
            details={"shots": len(shots_in), "limit": limits.max_shots},
        )
    d = _describe(lx, inp.text, shots_in)
    warnings: list[LintWarning] = []

    def warn(code: str, message: str) -> None:
        warnings.append(LintWarning(code=code, message=message))

    if d.text_had_shots:
        warn("shots_field_overrides_text", "the shots field is used; the shots written in the text are ignored")
    if len(d.shots) > limits.max_shots:
        raise InputError(
            f"the text describes {len(d.shots)} shots; one call takes at most {limits.max_shots}",
            code="invalid_input",
            field="text",
            details={"shots": len(d.shots), "limit": limits.max_shots},
        )
    pre = d.preamble
    segs = d.shots
    multi = len(segs) > 1
    all_segs = ([pre] if pre else []) + segs
    parts = _parts(all_segs)
    audio_on = inp.generate_audio
    i2v = inp.mode == "i2v"

    # -- durations ------------------------------------------------------------------------
    if multi:
        durations = fill_durations(inp.duration, [s.duration for s in segs], field="shots" if d.source == "field" else "text", span="call")
    else:
        given = segs[0].duration if segs else None
        if given is not None and d.source == "field" and given != inp.duration:
            raise InputError(
                f"the shot lasts {given} s but the call lasts {inp.duration} s",
                code="invalid_input",
                field="shots",
                details={"shot_durations": [given], "sum": given, "duration": inp.duration},
            )
        durations = [inp.duration]

    # -- per-shot plans with continuity -------------------------------------------------------
    need_entities = multi or any(s.dialogue for s in all_segs)
    known: list[_Entity] = list(_ents(lx, pre)) if pre and need_entities else []
    g_scene = list(pre.scene) if pre else []
    g_light = list(pre.lighting) if pre else []
    g_atmo = list(pre.atmosphere) if pre else []
    g_style = [p for _, p in pre.style] if pre else []
    g_audio = list(pre.audio) if pre else []
    if multi:
        g_audio += [c for seg in segs for c in seg.audio if c[0] != "effects"]
    last_scene: list[str] = []
    last_light: list[str] = []
    last_atmo: list[str] = []
    pre_np: list[tuple[str, str]] = []
    if pre and multi:
        for sentence in pre.prose:
            toks = sentence.rstrip(".!?").split()
            if toks and not _split_subject(lx, toks)[1]:
                head = _word(toks[-1])
                pre_np.append((sentence, head))
    plans: list[_ShotPlan] = []
    for k, seg in enumerate(segs):
        body = _restate(lx, seg.prose, known) if multi else list(seg.prose)
        if pre_np:
            seen = " ".join([*body, *seg.of_nps]).lower()
            body = body + [np for np, head in pre_np if not re.search(rf"(?<![\w']){re.escape(head)}", seen)]
        if pre and not multi:
            body = list(pre.prose) + body
        inherited: set[str] = set()
        own_scene = [x for x in seg.scene if x not in seg.scene_in_lead]
        scene = _pick(own_scene, g_scene, [] if seg.scene else last_scene, "scene", multi, inherited)
        light = _pick(seg.lighting, g_light, last_light, "lighting", multi, inherited)
        atmo = _pick(seg.atmosphere, g_atmo, last_atmo, "atmosphere", multi, inherited)
        style = _uniq([*g_style, *(p for _, p in seg.style)])
        if multi and g_style and not seg.style:
            inherited.add("style")
        last_scene = (_uniq([*g_scene, *seg.scene]) if seg.scene else scene) or last_scene
        last_light = light or last_light
        last_atmo = atmo or last_atmo
        dialogue = [dict(x) for x in seg.dialogue]
        if k == 0 and pre:
            dialogue = [dict(x) for x in pre.dialogue] + dialogue
        seg_ents = _ents(lx, seg) if need_entities else []
        ents_here = known + seg_ents
        for line in dialogue:
            line["speaker"] = _label(lx, line["speaker"], ents_here)
        plans.append(
            _ShotPlan(
                seg=seg, index=k + 1, duration=durations[k], body=body, scene=scene, lighting=light,
                atmosphere=atmo, style=style, inherited=inherited,
                audio=_uniq_pairs([*g_audio, *(c for c in seg.audio if c[0] == "effects" or not multi)]),
                dialogue=dialogue,
            )
        )
        if seg_ents:
            heads = {x.head for x in known}
            known = known + [e for e in seg_ents if e.head not in heads]

    # -- identity (i2v) -------------------------------------------------------------------------
    keep = parts.identity
    identity: dict[str, Any] = {
        "fixed": keep,
        "moving": parts.moving,
        "has_camera": bool(parts.camera),
        "has_action": bool(parts.action),
        "tail": inp.has_tail_image and not multi,
    }
    if i2v and not keep:
        visible = " ".join(p for plan in plans for p in plan.body)
        identity["fixed"] = _uniq(say for rx, say in lx.items if rx.search(visible))
    if not multi and not i2v and not any(plans[0].body) and not _lead(plans[0].seg) and not plans[0].scene:
        raise InputError(
            "nothing is left to show once routing words are removed; describe the subject and action",
            code="nothing_to_show",
            field="text",
        )

    no_audio = set().union(*(s.no_audio for s in all_segs)) if all_segs else set()
    wants_dialogue = any(s.wants_dialogue for s in all_segs)
    anchor_i2v = _render("anchor.j2", {"identity": identity, "mode": inp.mode}, tdir) if i2v else None

    def shot_ctx(plan: _ShotPlan, level: int) -> dict[str, Any]:
        drop = set()
        if level >= 1:
            drop |= {"lighting", "atmosphere", "style"} & plan.inherited
        if level >= 2:
            drop |= {"scene"} & plan.inherited
        setting = [
            *([] if "scene" in drop else plan.scene),
            *([] if "lighting" in drop else plan.lighting),
            *([] if "atmosphere" in drop else plan.atmosphere),
        ]
        return {
            "index": plan.index,
            "duration": plan.duration,
            "multi": multi,
            "lead": _lead(plan.seg),
            "camera": [p for _, p in plan.seg.camera],
            "framing": [p for _, _, p in plan.seg.framing],
            "body": plan.body,
            "setting": setting,
            "style": [] if "style" in drop else plan.style,
            "keep": plan.seg.keep if not i2v else [],
        }

    def audio_for(plan: _ShotPlan, level: int) -> dict[str, Any]:
        cues = plan.audio if level < 3 or not multi else list(plan.seg.audio)
        return _audio_ctx(audio_on, cues, plan.dialogue, no_audio, wants_dialogue)

    def render_all(level: int) -> tuple[str, list[ShotOut]]:
        if not multi:
            plan = plans[0]
            ctx = {
                "shot": shot_ctx(plan, 0),
                "audio": audio_for(plan, 0),
                "identity": identity,
                "anchor": anchor_i2v or "",
                "mode": inp.mode,
                "tier": inp.tier,
            }
            return _render("i2v.j2" if i2v else "t2v.j2", ctx, tdir), []
        outs = []
        for plan in plans:
            ctx = {
                "shot": shot_ctx(plan, level),
                "audio": audio_for(plan, level),
                "identity": identity,
                "anchor": (anchor_i2v or "") if (level < 2 or plan.index == 1) else "",
                "mode": inp.mode,
                "tier": inp.tier,
            }
            outs.append(
                ShotOut(
                    index=plan.index, prompt=_render("multi_shot_item.j2", ctx, tdir), duration=plan.duration
                )
            )
        joined = _render(
            "multi_shot.j2",
            {"shots": [{"index": o.index, "prompt": o.prompt, "duration": o.duration} for o in outs],
             "mode": inp.mode, "tier": inp.tier},
            tdir,
        )
        return joined, outs

    level = 0
    prompt, shot_outs = render_all(level)
    while multi and level < 3 and (
        len(prompt) > limits.max_prompt_chars or any(len(o.prompt) > limits.max_shot_chars for o in shot_outs)
    ):
        level += 1
        prompt, shot_outs = render_all(level)
    if level:
        warn("anchors_trimmed", "restated scene/lighting/style were shortened to fit Kling's length limits")
    for o in shot_outs:
        if len(o.prompt) > limits.max_shot_chars:
            raise InputError(
                f"shot {o.index} is {len(o.prompt)} characters; a shot holds at most {limits.max_shot_chars}",
                code="shot_too_long",
                field="shots",
                details={"shot": o.index, "chars": len(o.prompt), "limit": limits.max_shot_chars},
            )
    if len(prompt) > limits.max_prompt_chars:
        raise InputError(
            f"the prompt is {len(prompt)} characters; Kling takes at most {limits.max_prompt_chars}",
            code="prompt_too_long",
            field="text",
            details={"chars": len(prompt), "limit": limits.max_prompt_chars},
        )
    if not prompt.strip():
        raise InputError("the prompt is empty; describe what to show", code="invalid_input", field="text")

    # -- negative prompt ---------------------------------------------------------------------------
    caller_neg = []
    if inp.negative_prompt:
        for item in re.split(r"[,;\n]+", inp.negative_prompt):
            item = re.sub(r"^\s*(?:no|without|avoid)\s+", "", _norm_space(item), flags=re.IGNORECASE).strip(" .")
            if item:
                caller_neg.append(item)
    negatives = _uniq([*caller_neg, *parts.exclusions])
    negative_prompt = ", ".join(negatives) if negatives else None

    # -- anchor -------------------------------------------------------------------------------------
    anchor: str | None = anchor_i2v
    if multi and not i2v:
        restated = _uniq(
            [*(_definite(lx, e.full) for e in known if e.rich), *g_scene, *(plans[0].scene if not g_scene else []),
             *g_light, *(plans[0].lighting if not g_light else []), *g_style]
        )
        anchor = "; ".join(restated) if restated else None

    # -- lint -----------------------------------------------------------------------------------------
    _lint(lx, inp, parts, plans, all_segs, prompt, warn, multi, audio_on, d.source)

    return BuiltPrompt(
        prompt=prompt,
        negative_prompt=negative_prompt,
        parts=parts,
        shots=shot_outs,
        anchor=anchor,
        warnings=warnings,
    )


def _pick(own: list[str], glob: list[str], last: list[str], key: str, multi: bool, inherited: set[str]) -> list[str]:
    """A shot's own cues (with the call's global ones), else what it inherits; note inheritance."""
    if own:
        return _uniq([*glob, *own])
    if glob:
        if multi:
            inherited.add(key)
        return list(glob)
    if last and multi:
        inherited.add(key)
        return list(last)
    return []


def _uniq_pairs(items: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for k, v in items:
        if v.lower() not in seen:
            seen.add(v.lower())
            out.append((k, v))
    return out


def _lint(
    lx: _Lex,
    inp: PromptInput,
    parts: PromptParts,
    plans: list[_ShotPlan],
    segs: list[_Seg],
    prompt: str,
    warn: Callable[[str, str], None],
    multi: bool,
    audio_on: bool,
    source: str,
) -> None:
    if parts.hype:
        warn("hype_words", f"removed hype/tag-soup words: {', '.join(parts.hype)}; describe motion and look instead")
    families = _uniq(f for s in segs for f, _ in s.style)
    for a, b in lx.conflicts:
        if a in families and b in families:
            pa = next(p for s in segs for f, p in s.style if f == a)
            pb = next(p for s in segs for f, p in s.style if f == b)
            warn("style_conflict", f"conflicting style cues: {pa!r} ({a}) vs {pb!r} ({b}); keep one")
    if len(families) > lx.v.style.max_anchors:
        warn(
            "too_many_styles",
            f"{len(families)} style anchors ({', '.join(families)}); Kling follows at most "
            f"{lx.v.style.max_anchors} clear style directives better",
        )
    for plan in plans:
        stacking = [p for name, p in plan.seg.camera if next(m for m in lx.moves if m.name == name).stacks]
        if len(stacking) > 1:
            where = f"shot {plan.index}" if multi else "the shot"
            warn(
                "stacked_camera_moves",
                f"{where} stacks camera moves ({'; '.join(stacking)}); keep one primary move per shot",
            )
    n_dialogue = sum(len(s.dialogue) for s in segs)
    if n_dialogue and not audio_on:
        warn(
            "dialogue_without_audio",
            f"{n_dialogue} dialogue line(s) dropped because audio is off; turn generate_audio on to keep them",
        )
    cues = _uniq(c for s in segs for _, c in s.audio)
    if cues and not audio_on:
        warn("audio_cues_without_audio", f"sound cues dropped because audio is off: {', '.join(cues)}")
    c4 = lx.lint.costly_4k
    if (
        inp.tier == c4.tier
        and len(plans) >= c4.min_shots
        and inp.duration >= c4.min_duration
        and n_dialogue
        and audio_on
    ):
        rate = inp.usd_per_second
        price = f"costs {usd(rate)}/s x {inp.duration} s = {usd(rate * inp.duration)}" if rate is not None else "is costly"
        warn(
            "costly_4k_call",
            f"a {inp.tier} call with {len(plans)} cuts, {inp.duration} s and dialogue {price}; validate it on standard first",
        )
    adher = {lx.adherence.get(f) for f in families} - {None}
    if len(adher) == 1:
        kind = adher.pop()
        lo, hi = lx.lint.cfg_scale[kind]  # type: ignore[index]
        if inp.cfg_scale is None or not lo <= inp.cfg_scale <= hi:
            why = "strict adherence for a stylised look" if kind == "strict" else "looser, natural motion"
            warn(
                "cfg_scale_suggestion",
                f"consider cfg_scale {lo}-{hi} ({why}); not applied, and Kling 3.0 may ignore it",
            )
    if parts.exclusions:
        words = _contentword_alternation(lx, prompt)
        clash = _uniq(x for x in parts.exclusions if _contentword_alternation(lx, x) & words)
        if clash:
            warn("exclusion_conflict", f"excluded but also described: {', '.join(clash)}")
    if inp.has_tail_image and multi:
        warn("end_frame_with_shots", "an end frame cannot be combined with multi-shot; the end frame is not described")
    for prev, cur in itertools.pairwise(plans):
        fa = [n for k, n, _ in prev.seg.framing if k in ("size", "angle")]
        fb = [n for k, n, _ in cur.seg.framing if k in ("size", "angle")]
        if fa and fa == fb and [n for n, _ in prev.seg.camera] == [n for n, _ in cur.seg.camera]:
            warn(
                "adjacent_shots_same_framing",
                f"shots {prev.index} and {cur.index} share framing and angle; the model may merge them into one take",
            )
