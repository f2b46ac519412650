"""The public reading of a description: its parts, and its shots when there are several."""

from __future__ import annotations

from collections.abc import Sequence

from skill.prompt.build import story_of
from skill.prompt.camera import find_moves
from skill.prompt.lexicon import get_lex
from skill.prompt.lint import uniq
from skill.prompt.models import Description, PromptParts, ShotDraft
from skill.prompt.shots import split_text
from skill.prompt.story import Beat, Story
from skill.prompt.text import normalise_input, scrub
from skill.request import Shot

__all__ = ["detect_camera_moves", "parse_description", "split_shots"]


def _parts(story: Story, beats: Sequence[Beat]) -> PromptParts:
    return PromptParts(
        camera=uniq(m.phrase for b in beats for m in b.moves),
        framing=uniq(f.phrase for b in beats for f in b.frames),
        scene=next((b.place for b in beats if b.place), ""),
        lighting=uniq(story.cues.lighting),
        atmosphere=uniq(story.cues.atmosphere),
        style=uniq(p for _f, p in story.cues.style),
        audio=uniq(c for _k, c in story.sounds),
        exclusions=list(story.exclusions),
        identity=uniq(story.cues.keep),
        meta=uniq(story.meta),
        hype=uniq(story.hype),
    )


def parse_description(
    text: str, shots: list[Shot] | None = None, routing_spans: Sequence[tuple[int, int]] = ()
) -> Description:
    """Split a caller's description into its parts, and into the shots the caller made. Pure.

    ``routing_spans``: the router's instruction spans in ``text`` (removed first).
    """
    story = story_of(text, shots, routing_spans)
    multi = len(story.beats) > 1
    drafts = [
        ShotDraft(index=k + 1, text=b.text, duration=b.duration, parts=_parts(story, [b]))
        for k, b in enumerate(story.beats)
    ] if multi else []
    source = story.source if story.source in ("text", "field") and multi else "single"
    return Description(parts=_parts(story, story.beats), shots=drafts, shot_source=source)  # type: ignore[arg-type]


def split_shots(text: str) -> list[str]:
    """The shot texts found in free text: several for a multi-shot text, one otherwise, none when blank."""
    flat = normalise_input(scrub(text))
    if not flat.strip():
        return []
    return [t for t, _ in split_text(get_lex(), flat).shots]


def detect_camera_moves(text: str) -> list[str]:
    """The names of the camera moves (vocabulary ``camera.moves[].name``) found in ``text``."""
    names: list[str] = []
    for mv in find_moves(get_lex(), normalise_input(scrub(text))):
        if mv.name not in names:
            names.append(mv.name)
    return names
