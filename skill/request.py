"""What a caller may send: one pydantic model, in the friendly vocabulary agents use.

Validation errors become :class:`~skill.errors.InputError` with the field at fault, the allowed
values, and the policy's refusal code, so a bad request is refused before anything is paid.
"""

from __future__ import annotations

import math
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from skill.errors import InputError

__all__ = [
    "ASPECT_RATIOS",
    "MAX_TEXT_CHARS",
    "Shot",
    "VideoRequest",
    "fill_durations",
    "image_url_problem",
    "parse_request",
]

ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9")
IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp", "bmp")
# Files RunComfy cannot use as a still (shared/routing-policy.md, Mode): an image_url field ending
# in one of these is refused; any other https URL is taken as the image the caller says it is
# (pre-signed and CDN links often have no extension).
NOT_IMAGE_EXTENSIONS = ("gif", "mp4", "mov", "heic", "heif", "tif", "tiff", "svg", "pdf", "webm", "avi", "mkv")
MAX_TOTAL_SECONDS = 120
MIN_SECONDS = 3
MAX_URL_CHARS = 2048

_TIER_ALIASES = {"standard": "standard", "std": "standard", "pro": "pro", "4k": "4k", "uhd": "4k"}
_MODE_ALIASES = {
    "t2v": "t2v",
    "text-to-video": "t2v",
    "text2video": "t2v",
    "i2v": "i2v",
    "image-to-video": "i2v",
    "image2video": "i2v",
}

MAX_TEXT_CHARS = 10_000
"""The longest request text read: four times what one Kling prompt holds, room enough for
routing words and framing. Longer text cannot become a prompt, so it is refused before any
scan (a megabyte of text would otherwise cost seconds of matching)."""


def image_url_problem(url: str, extensions: list[str] | tuple[str, ...] = IMAGE_EXTENSIONS) -> str | None:
    """Why ``url`` cannot be sent as an image input, or ``None`` when it can."""
    if len(url) > MAX_URL_CHARS:
        return f"is {len(url)} characters long; at most {MAX_URL_CHARS}"
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "is not a valid URL"
    if parts.scheme != "https":
        return "must be an https:// URL that RunComfy can fetch without credentials"
    if not parts.hostname:
        return "has no host"
    if parts.username is not None or parts.password is not None:
        return "must not carry credentials (user:pass@): RunComfy fetches the link as it is"
    ext = parts.path.rsplit(".", 1)[-1].lower() if "." in parts.path.rsplit("/", 1)[-1] else ""
    if ext in NOT_IMAGE_EXTENSIONS:
        allowed = ", ".join(f".{e}" for e in extensions)
        return f"points to a .{ext} file, which is not a still image: use {allowed} (or a link to one)"
    return None


class Shot(BaseModel):
    """One shot of a multi-shot call: what it shows and, optionally, how long it lasts."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True, populate_by_name=True)

    prompt: str = Field(
        min_length=1,
        validation_alias=AliasChoices("prompt", "text", "description"),
        description="What this shot shows: framing, subject, action (also accepted as text or description).",
    )
    duration: int | None = Field(default=None, ge=1, le=15, description="Seconds; >= 1.")

    @field_validator("prompt")
    @classmethod
    def _strip(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("must not be empty")
        return v


class VideoRequest(BaseModel):
    """A video request in the friendly schema. Structured fields always beat the text."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    text: str = Field(
        default="",
        alias="prompt",
        max_length=MAX_TEXT_CHARS,
        description="What the video should show, in plain words; may also name tier, ratio, length, audio.",
    )
    image_url: str | None = Field(
        default=None, description="https URL of the first frame (jpg, png, webp, bmp): makes it image-to-video."
    )
    tail_image_url: str | None = Field(
        default=None, description="https URL of the last frame; pro and 4k image-to-video only."
    )
    negative_prompt: str | None = Field(default=None, description="Things to keep out of the video.")
    duration: int | None = Field(
        default=None,
        description="Total seconds, 3-120. Up to 15 is one call; longer becomes several calls.",
    )
    aspect_ratio: str | None = Field(
        default=None, description="16:9, 9:16, 1:1 (native) or 4:3, 3:4, 21:9 (cropped locally)."
    )
    cfg_scale: float | None = Field(
        default=None, ge=0, le=1, description="Prompt adherence 0-1 (0.5 default at the API; may be ignored)."
    )
    generate_audio: bool | None = Field(
        default=None, description="Native audio. Costs +50% on standard and pro. Default off."
    )
    seed: int | None = Field(default=None, description="Accepted but never sent: no Kling 3.0 endpoint takes a seed.")
    tier: Literal["standard", "pro", "4k"] | None = Field(
        default=None, description="standard (cheapest), pro (1080p hero), 4k (native 2160p, ~5x standard)."
    )
    mode: Literal["t2v", "i2v"] | None = Field(
        default=None, description="t2v (text-to-video) or i2v (image-to-video); inferred when omitted."
    )
    max_cost_usd: float | None = Field(
        default=None, gt=0, description="Spend cap for the whole request in USD; the tier steps down to fit."
    )
    shots: list[Shot] | None = Field(
        default=None, description="Multi-shot: a list of {prompt, duration?}; at most 6 per call."
    )

    @field_validator("tier", mode="before")
    @classmethod
    def _tier_alias(cls, v: Any) -> Any:
        if isinstance(v, str):
            return _TIER_ALIASES.get(v.strip().lower(), v)
        return v

    @field_validator("mode", mode="before")
    @classmethod
    def _mode_alias(cls, v: Any) -> Any:
        if isinstance(v, str):
            return _MODE_ALIASES.get(v.strip().lower(), v)
        return v

    @field_validator("aspect_ratio", mode="before")
    @classmethod
    def _ratio(cls, v: Any) -> Any:
        if v is None:
            return v
        if not isinstance(v, str):
            raise ValueError("must be a string such as '16:9'")
        norm = v.strip().replace(" ", "").replace("x", ":").replace("/", ":")
        if norm not in ASPECT_RATIOS:
            raise ValueError(f"{v!r} is not supported; allowed: {', '.join(ASPECT_RATIOS)}")
        return norm

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        if v is None:
            return v
        if isinstance(v, bool):
            raise ValueError("must be a whole number of seconds")
        if isinstance(v, str) and v.strip().rstrip("s").strip().isdigit():
            v = int(v.strip().rstrip("s").strip())
        if isinstance(v, float) and math.isfinite(v) and v.is_integer():
            v = int(v)
        if not isinstance(v, int):
            raise ValueError("must be a whole number of seconds")
        if not MIN_SECONDS <= v <= MAX_TOTAL_SECONDS:
            raise ValueError(
                f"{v} s is out of range: {MIN_SECONDS}-15 s per call, up to {MAX_TOTAL_SECONDS} s in a segmented plan"
            )
        return v

    @field_validator("image_url", "tail_image_url")
    @classmethod
    def _image(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = v.strip()
        problem = image_url_problem(v)
        if problem:
            raise ValueError(problem)
        return v

    @field_validator("max_cost_usd", "cfg_scale")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v

    @field_validator("shots")
    @classmethod
    def _shots(cls, v: list[Shot] | None) -> list[Shot] | None:
        if v is not None and not v:
            return None
        return v

    @model_validator(mode="after")
    def _something_to_show(self) -> VideoRequest:
        if not self.text.strip() and not self.shots:
            raise ValueError("give a text (prompt) or a list of shots")
        return self


def fill_durations(total: int, given: list[int | None], *, field: str, span: str) -> list[int]:
    """Shot lengths that add up to ``total``: the given ones kept, the others sharing the rest.

    One rule for the planner (shots spread over a long film's calls) and the prompt builder
    (shots within one call); ``span`` names which ("video" or "call") in the refusals.
    """
    n = len(given)
    if n > total:
        raise InputError(
            f"{n} shots need at least {n} s (1 s each); the {span} lasts {total} s",
            code="invalid_input",
            field=field,
            details={"shots": n, "duration": total},
        )
    known = [d for d in given if d is not None]
    missing = n - len(known)
    figures = "+".join(str(d) for d in known)
    details = {"shot_durations": known, "sum": sum(known), "duration": total}
    if missing == 0:
        if sum(known) != total:
            raise InputError(
                f"shot durations {figures} = {sum(known)} s do not add up to the {span}'s {total} s",
                code="invalid_input", field="shots", details=details,
            )
        return [int(d) for d in known]
    rest = total - sum(known)
    if rest < missing:
        raise InputError(
            f"given shot durations {figures} = {sum(known)} s leave {rest} s for {missing} more shot(s) "
            f"of at least 1 s each in a {total} s {span}",
            code="invalid_input", field="shots", details=details,
        )
    base, extra = divmod(rest, missing)
    out: list[int] = []
    for d in given:
        if d is None:
            out.append(base + (1 if extra > 0 else 0))
            extra -= 1
        else:
            out.append(d)
    return out


_CODE_BY_FIELD = {"aspect_ratio": "bad_aspect_ratio", "duration": "duration_out_of_range"}


def parse_request(data: dict[str, Any] | VideoRequest) -> VideoRequest:
    """Validate caller input; raise :class:`InputError` naming the field and allowed values."""
    if isinstance(data, VideoRequest):
        return data
    if not isinstance(data, dict):
        raise InputError("a request must be a JSON object", field=None)
    try:
        return VideoRequest.model_validate(data)
    except ValidationError as exc:
        raise _to_input_error(exc) from None


def _to_input_error(exc: ValidationError) -> InputError:
    err = exc.errors(include_url=False)[0]
    loc = [str(p) for p in err.get("loc", ())]
    field = loc[0] if loc else None
    if field == "prompt":
        field = "text"
    kind = err.get("type", "")
    msg = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        allowed = ", ".join(sorted({f.alias or n for n, f in VideoRequest.model_fields.items()} | {"text"}))
        msg = f"is not a known field; known fields: {allowed}"
    elif kind == "literal_error" and field in ("tier", "mode"):
        msg = "must be one of " + ("standard, pro, 4k" if field == "tier" else "t2v, i2v")
    code = _CODE_BY_FIELD.get(field or "", "invalid_input")
    if kind == "string_too_long" and field == "text":
        code, msg = "prompt_too_long", f"is longer than {MAX_TEXT_CHARS} characters; a Kling prompt holds at most 2500"
    if code == "duration_out_of_range" and "out of range" not in msg:
        code = "invalid_input"
    where = ".".join(loc) if loc else "request"
    return InputError(f"{where}: {msg}", code=code, field=field)
