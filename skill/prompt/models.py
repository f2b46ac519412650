"""The public models of the prompt builder: what it takes (one call) and what it gives back."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from skill.request import Shot

__all__ = [
    "BuiltPrompt",
    "Description",
    "LintWarning",
    "PromptInput",
    "PromptParts",
    "ShotDraft",
    "ShotOut",
]




# Empty defaults come from lambdas, not `list`/`dict`: pydantic reads each factory's signature,
# and a builtin's is parsed with tokenize, whose first use compiles a large pattern (~2% of a
# cold `kling3 plan`).
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
    routing_spans: tuple[tuple[int, int], ...] = Field(
        default=(),
        description="Offsets in text of the words the router read as instructions (Intent.routing_spans): "
        "removed from the prompt, and nothing else of routing.",
    )
    negative_prompt: str | None = None
    has_tail_image: bool = False
    cfg_scale: float | None = Field(default=None, ge=0, le=1)
    beats: tuple[int, int] | None = Field(
        default=None,
        description="For one call of a longer film: the story's beats (start, stop) this call tells; "
        "start == stop means the story is told and this call continues its action. None: all of them.",
    )
    continuation: int = Field(
        default=0, ge=0,
        description="With beats (n, n): which call after the story's end this is (1, 2, ...), so that no "
        "two continuing calls say the same.",
    )
    as_written: bool = Field(
        default=False,
        description="The text is not English (the router warns language_not_english): the builder's "
        "English rules do not apply and the text is sent as written.",
    )


class LintWarning(_Frozen):
    code: str
    message: str


class ShotOut(_Frozen):
    index: int
    prompt: str
    duration: int


class PromptParts(_Frozen):
    """The description split into parts (JSON-serialisable). Lists keep the caller's order."""

    camera: list[str] = Field(default_factory=lambda: [], description="Camera moves, normalised.")
    framing: list[str] = Field(default_factory=lambda: [], description="Shot sizes, angles, compositions, lenses.")
    subject: str = ""
    action: str = ""
    scene: str = ""
    lighting: list[str] = Field(default_factory=lambda: [])
    atmosphere: list[str] = Field(default_factory=lambda: [])
    style: list[str] = Field(default_factory=lambda: [])
    audio: list[str] = Field(default_factory=lambda: [], description="Sound cues: voiceover, ambience, effects, music.")
    dialogue: list[dict[str, str]] = Field(default_factory=lambda: [], description="{speaker, tone, line}")
    exclusions: list[str] = Field(default_factory=lambda: [])
    identity: list[str] = Field(default_factory=lambda: [], description="What the caller said must stay fixed.")
    moving: str = Field(default="", description="What the caller said may move ('only the camera moves').")
    meta: list[str] = Field(default_factory=lambda: [], description="Routing words removed from the visual prompt.")
    hype: list[str] = Field(default_factory=lambda: [], description="Hype and tag-soup words removed.")


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
