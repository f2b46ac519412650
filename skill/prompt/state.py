"""What parsing one segment finds, before it becomes public parts."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Entity", "Seg"]




@dataclass
class Entity:
    """A subject as first introduced, so later shots can name it again the same way."""
    full: str  # as introduced: "a barista with a red apron"
    head: str  # "barista"
    label: str  # "Barista"
    rich: bool  # carries a description worth restating
    plural: bool
    subject: bool = False  # the subject of a sentence (a pronoun can refer to it)
    person: bool = False  # names a person ("barista", "queen"), or was introduced with "a"


@dataclass
class Seg:
    """One piece of a shot's text, sorted into camera, framing, prose and the rest."""
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
    entities: list[Entity] | None = None
    of_nps: list[str] = field(default_factory=list)  # "wide shot of <the cafe>": kept in the lead
    scene_in_lead: set[str] = field(default_factory=set)
    static_asked: str = ""  # "no camera movement" said as an exclusion
    duration: int | None = None
