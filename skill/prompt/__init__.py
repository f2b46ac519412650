"""The prompt builder: turn a caller's description into the prompt an expert would send to Kling 3.0.

Minimal edit: the caller's sentences are kept; the router's instruction spans, request framing and
hype go, the caller's camera clause leads, shots are cut only where the caller made them, and later
shots (and calls) restate what the first established.

One module per concept: ``models`` (what goes in and out), ``vocabulary`` (the schema of
``skill/data/prompt_vocabulary.yaml``), ``patterns`` (compiled patterns and their on-disk cache,
which ``KLING3_PROMPT_CACHE=off`` switches off), ``lexicon`` (the vocabulary compiled once per
file), ``text`` and ``grammar`` (helpers), ``instructions`` (the router's spans), ``editing``
(request framing, hype, causatives), ``camera``, ``sound``, ``dialogue``, ``cues`` (lighting,
atmosphere, style, identity), ``brief`` (structured briefs), ``shots`` (the caller's shots),
``story`` (the beats of a request), ``continuity``, ``anchor`` (i2v), ``render`` (the sandboxed
templates of ``prompt_templates/``), ``lint``, ``build`` and ``describe``.
"""

from __future__ import annotations

from skill.prompt.build import build_prompt, story_of
from skill.prompt.describe import detect_camera_moves, parse_description, split_shots
from skill.prompt.models import (
    BuiltPrompt,
    Description,
    LintWarning,
    PromptInput,
    PromptParts,
    ShotDraft,
    ShotOut,
)
from skill.prompt.vocabulary import Vocabulary

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
    "story_of",
]
