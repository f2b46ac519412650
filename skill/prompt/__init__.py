"""The prompt builder: turn a caller's description into the prompt an expert would send to Kling 3.0.

One module per concept: ``models`` (what goes in and out), ``vocabulary`` (the schema of
``skill/data/prompt_vocabulary.yaml``), ``patterns`` (compiled patterns and their on-disk cache),
``lexicon`` (the vocabulary compiled once per file), ``text`` and ``grammar`` (helpers), ``cues``
(the cue families), ``segment`` and ``shots`` (parsing), ``describe``, ``continuity``, ``render``
(the sandboxed templates of ``prompt_templates/``), ``lint`` and ``build``.
"""

from __future__ import annotations

from skill.prompt.build import build_prompt
from skill.prompt.cues import detect_camera_moves
from skill.prompt.describe import parse_description
from skill.prompt.models import (
    BuiltPrompt,
    Description,
    LintWarning,
    PromptInput,
    PromptParts,
    ShotDraft,
    ShotOut,
)
from skill.prompt.shots import split_shots
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
]
