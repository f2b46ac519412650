"""The schema of ``skill/data/prompt_vocabulary.yaml`` (unknown keys are refused)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Vocabulary"]




class _V(BaseModel):
    # built when a vocabulary is validated, not at import: a warm start loads the validated one
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


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
    particles: list[str]
    plural_determiners: list[str]
    possessives: dict[str, str]
    ordinals: list[str]
    numbers: dict[str, int]
    people: list[str]
    person_endings: list[str]
    ordinal_words: list[str]


class _Item(_V):
    match: str
    say: str


class _LeadIn(_V):
    polite: list[str]
    verbs: list[str]
    adjectives: list[str]
    containers: list[str]
    connectors: list[str]
    stand_ins: list[str]
    clients: list[str]


class _Request(_V):
    words: list[str]
    governing: list[str]
    prefix: list[str]
    phrases: list[str]
    frame_names: list[_Item]
    residue_joiners: list[str]
    span_suffixes: list[str]
    sign_off: str
    residue_kept: list[str]


class _Relay(_V):
    requesters: list[str]
    maybe: list[str]
    dets: list[str]
    adverbs: list[str]
    wishes: list[str]
    objects: list[str]
    say: str


class _Agent(_V):
    relay: _Relay
    call_names: list[str]
    framing: list[str]
    param_labels: list[str]
    model_ids: list[str]
    relay_quote: str
    relay_head: str
    relay_persons: list[str]
    quoted_request: list[str]
    scene_connectors: list[str]


class _ShotHeaders(_V):
    words: list[str]


class _Sequence(_V):
    openers: list[str]
    cuts: list[str]
    steps: list[str]
    subject_starts: list[str]
    count_heads: list[str]
    viewer: list[str]


class _Move(_V):
    name: str
    say: str
    stacks: bool = True
    object_prep: str = ""
    match: list[str] = Field(default_factory=list)
    verb: list[str] = Field(default_factory=list)
    imperative: list[str] = Field(default_factory=list)


class _CameraClauses(_V):
    """The English of camera clauses: each list is one alternation of a pattern in camera.py."""
    subject_conjunctions: list[str]
    not_camera: list[str]
    buried_conjunctions: list[str]
    crew: list[str]
    crew_dets: list[str]
    points_back_preps: list[str]
    points_back_things: list[str]
    object_pronouns: list[str]
    same_person: dict[str, str]
    stacking_conjunctions: list[str]
    next_conjunctions: list[str]
    after_move: list[str]
    whole_film: list[str]


class _Camera(_V):
    pace: dict[str, str]
    subject_word: str
    subject_prefix: list[str]
    clauses: _CameraClauses
    directions: list[str]
    verb_particles: list[str]
    target_preps: list[str]
    reveal: list[str]
    filler: list[str]
    moves: list[_Move]


class _Framing(_V):
    name: str
    kind: Literal["size", "angle", "composition", "lens", "technique"]
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
    praise: list[str]
    praise_intensifiers: list[str]
    praised: list[str]
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
    music_tails: list[str]
    music_need_modifier: list[str]
    voiceover_heads: list[str]
    effect_free: list[str]
    ambience_heads: list[str]
    effect_heads: list[str]
    of_bare: list[str]
    of_heads: list[str]
    drop_prefix: list[str]
    dialogue_words: list[str]
    sound_verbs: list[str]
    switch_words: list[str]


class _Dialogue(_V):
    silent: dict[str, str]
    silent_addressed: dict[str, str]
    shown_speech: list[str]
    silent_tagged: dict[Literal["first", "reply"], str]
    implied_speech: list[str]
    reply_verbs: list[str]
    linking: dict[Literal["reply", "other"], str]
    speech_verbs: dict[str, str | None]
    not_speech_before: list[str]
    addressee: list[str]
    default_speaker: str
    pronoun_speakers: dict[str, str]
    generic_speakers: list[str]
    not_speakers: list[str]
    max_line_chars: int = Field(ge=1)
    shifting_words: list[str]


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
    keep_say: str
    list_and: dict[str, str]
    generic_kept: list[str]


class _Scene(_V):
    preps: list[str]
    on_nouns: list[str]
    at_nouns: list[str]
    nouns: list[str]


class _Costly4k(_V):
    tier: Literal["standard", "pro", "4k"]
    min_shots: int = Field(ge=1)
    min_duration: int = Field(ge=1)


class _Lint(_V):
    costly_4k: _Costly4k
    cfg_scale: dict[Literal["strict", "loose"], tuple[float, float]]


class _Continuation(_V):
    verbs: list[str] = Field(min_length=1)
    plural: dict[str, str]
    leads: list[str] = Field(min_length=1)
    more_of: str
    bare: str


class _Editing(_V):
    requester: list[str]
    mend_articles: list[str]
    mend_dangling: list[str]
    mend_lead: list[str]
    negations: list[str]
    causative: list[str]
    object_pronouns: dict[str, str]
    verbs_like_adjectives: list[str]
    adverbs: dict[str, str]
    manner_say: str
    manner_adverbs: list[str]
    shorthand: list[_Item]


class _Anchor(_V):
    groups: list[str]
    animals: list[str]
    products: list[str]
    contents_links: list[str]
    places: list[str]
    buildings: list[str]
    transformations: list[str]
    time_changes: list[str]
    end_states: list[str]
    wardrobe: list[str]
    moving: list[str]


_Part = Literal[
    "description", "request", "subject", "shots", "action", "camera", "setting", "lighting", "style", "details",
    "audio", "dialogue", "avoid",
]


class _Brief(_V):
    keys: dict[_Part, list[str]]
    action_pronouns: list[str]
    min_keys: int = Field(ge=1)
    named_by_key: list[str]


class _Foreign(_V):
    containers: list[str]
    negations: list[str]
    camera_nouns: list[str]
    request_words: list[str]
    item_joiners: list[str]


class _ClosedWords(_V):
    """Closed classes of English words the builder's mechanisms name (pronouns, joiners, openers)."""
    demonstratives: list[str]
    one_determiners: list[str]
    quantified_of: list[str]
    object_persons: list[str]
    speaking_persons: list[str]
    possessive_determiners: list[str]
    non_subject_openers: list[str]
    thing_pronouns: list[str]
    causers: list[str]
    caused_objects: list[str]
    leading_conjunctions: list[str]
    relatives: list[str]
    item_articles: list[str]
    sound_joiners: list[str]
    sound_nouns: list[str]
    exclusion_openers: list[str]
    item_splitters: list[str]
    timed_header_words: list[str]
    purpose_preps: list[str]
    clause_joiners_kept: list[str]
    copulas: list[str]
    copula_tails: list[str]
    auxiliaries: list[str]
    measured_orders: list[str]
    refused_after: list[str]


class Vocabulary(_V):
    """The schema of ``prompt_vocabulary.yaml`` (unknown keys are refused)."""

    version: Literal[1]
    grammar: _Grammar
    lead_in: _LeadIn
    request: _Request
    agent: _Agent
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
    continuation: _Continuation
    editing: _Editing
    anchor: _Anchor
    brief: _Brief
    foreign: _Foreign
    closed_words: _ClosedWords
    lint: _Lint
