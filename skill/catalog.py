"""The endpoint catalog: six endpoints, their rates and their wire schemas, read from data.

The friendly schema agents use (``image_url``, ``generate_audio``, ...) differs from what RunComfy
accepts (``start_image_url``, ``sound`` on text-to-video, ...). This module is the one place that
translates between them and checks a wire body, so the planner, the executor and the emulator
cannot disagree about what a valid call is.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from skill import startup_cache
from skill.data import data_path, load_yaml
from skill.errors import ConfigError

__all__ = [
    "Catalog",
    "Endpoint",
    "FieldSpec",
    "Limits",
    "WireProblem",
    "load_catalog",
]

Tier = Literal["standard", "pro", "4k"]
Mode = Literal["t2v", "i2v"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class FieldSpec(_Strict):
    type: Literal["string", "integer", "number", "boolean"]
    max_length: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    enum: list[str] | None = None
    format: Literal["image_uri"] | None = None
    default: Any = None


class WireSchema(_Strict):
    required: list[str]
    always_send: list[str] = Field(default_factory=list)
    fields: dict[str, FieldSpec]

    @model_validator(mode="after")
    def _known(self) -> WireSchema:
        for name in [*self.required, *self.always_send]:
            if name not in self.fields:
                raise ValueError(f"{name!r} is required or always sent but not a field")
        return self


class Endpoint(_Strict):
    tier: Tier
    mode: Mode
    model_id: str
    schema_name: str = Field(alias="schema")
    usd_per_second: float
    usd_per_second_audio: float

    def rate(self, audio: bool) -> float:
        return self.usd_per_second_audio if audio else self.usd_per_second


class Limits(_Strict):
    min_duration: int
    max_duration: int
    default_duration: int
    max_total_duration: int
    max_prompt_chars: int
    max_shot_chars: int
    max_shots: int


class AspectRatios(_Strict):
    asked: list[str]
    native: list[str]
    default: str
    render_from: dict[str, str]


class TierInfo(_Strict):
    resolution: str
    order: int


class WireProblem(_Strict):
    """One reason a wire body would be rejected: the wire field and what is wrong with it."""

    field: str
    message: str


class Catalog(_Strict):
    version: int
    api_base_default: str
    limits: Limits
    aspect_ratios: AspectRatios
    tiers: dict[str, TierInfo]
    field_maps: dict[Mode, dict[str, str | None]]
    schemas: dict[str, WireSchema]
    endpoints: list[Endpoint]
    image_extensions: list[str]

    @model_validator(mode="after")
    def _consistent(self) -> Catalog:
        seen = set()
        for ep in self.endpoints:
            if ep.schema_name not in self.schemas:
                raise ValueError(f"endpoint {ep.model_id}: unknown schema {ep.schema_name!r}")
            if ep.tier not in self.tiers:
                raise ValueError(f"endpoint {ep.model_id}: unknown tier {ep.tier!r}")
            seen.add((ep.tier, ep.mode))
        missing = {(t, m) for t in self.tiers for m in ("t2v", "i2v")} - seen
        if missing:
            raise ValueError(f"no endpoint for {sorted(missing)}")
        return self

    # -- lookups ---------------------------------------------------------------------------

    def endpoint(self, tier: str, mode: str) -> Endpoint:
        for ep in self.endpoints:
            if ep.tier == tier and ep.mode == mode:
                return ep
        raise KeyError((tier, mode))

    def by_model_id(self, model_id: str) -> Endpoint | None:
        for ep in self.endpoints:
            if ep.model_id == model_id:
                return ep
        return None

    def schema_for(self, ep: Endpoint) -> WireSchema:
        return self.schemas[ep.schema_name]

    def tiers_by_order(self) -> list[str]:
        return sorted(self.tiers, key=lambda t: self.tiers[t].order)

    def supports(self, ep: Endpoint, friendly_field: str) -> bool:
        """Whether ``ep`` accepts a friendly field (e.g. ``tail_image_url`` on standard i2v: no)."""
        wire = self.field_maps[ep.mode].get(friendly_field)
        return wire is not None and wire in self.schema_for(ep).fields

    def cost(self, ep: Endpoint, seconds: float, audio: bool) -> float:
        return round(ep.rate(audio) * seconds, 4)

    def render_ratio(self, asked: str) -> str:
        """The native ratio rendered for an asked ratio (itself when native)."""
        if asked in self.aspect_ratios.native:
            return asked
        return self.aspect_ratios.render_from[asked]

    # -- wire ------------------------------------------------------------------------------

    def to_wire(self, ep: Endpoint, friendly: dict[str, Any]) -> dict[str, Any]:
        """Translate friendly fields into the endpoint's wire body, dropping unsupported ones."""
        mapping = self.field_maps[ep.mode]
        fields = self.schema_for(ep).fields
        body: dict[str, Any] = {}
        for name, value in friendly.items():
            wire = mapping.get(name)
            if wire is None or wire not in fields or value is None:
                continue
            body[wire] = value
        return body

    def validate_wire(self, ep: Endpoint, body: dict[str, Any]) -> list[WireProblem]:
        """Every problem the endpoint's schema finds in ``body`` (empty list: valid)."""
        schema = self.schema_for(ep)
        problems: list[WireProblem] = []
        for name in schema.required:
            if name not in body:
                problems.append(WireProblem(field=name, message="is required"))
        for name, value in body.items():
            spec = schema.fields.get(name)
            if spec is None:
                allowed = ", ".join(sorted(schema.fields))
                problems.append(
                    WireProblem(field=name, message=f"is not accepted by {ep.model_id} (fields: {allowed})")
                )
                continue
            msg = _check_value(spec, value, self.image_extensions)
            if msg:
                problems.append(WireProblem(field=name, message=msg))
        return problems


def _check_value(spec: FieldSpec, value: Any, image_exts: list[str]) -> str | None:
    if spec.type == "boolean":
        return None if isinstance(value, bool) else "must be true or false"
    if spec.type == "string":
        if not isinstance(value, str):
            return "must be a string"
        if spec.max_length is not None and len(value) > spec.max_length:
            return f"is {len(value)} characters; at most {spec.max_length}"
        if spec.enum is not None and value not in spec.enum:
            return f"must be one of {', '.join(spec.enum)}"
        if spec.format == "image_uri":
            from skill.request import image_url_problem

            return image_url_problem(value, image_exts)
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"must be a{'n integer' if spec.type == 'integer' else ' number'}"
    if spec.type == "integer" and not float(value).is_integer():
        return "must be a whole number"
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    if spec.minimum is not None and value < spec.minimum:
        return f"must be between {_num(spec.minimum)} and {_num(spec.maximum)}"
    if spec.maximum is not None and value > spec.maximum:
        return f"must be between {_num(spec.minimum)} and {_num(spec.maximum)}"
    return None


def _num(x: float | None) -> str:
    if x is None:
        return "?"
    return str(int(x)) if float(x).is_integer() else str(x)


@functools.lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """The bundled catalog, validated once (kept validated in the start-up cache, so a warm start
    builds none of its models' schemas)."""
    path = data_path("catalog.yaml")
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", code="bad_catalog") from exc
    k = startup_cache.key(content, code=(__file__,), libs=("pydantic", "yaml"))
    return startup_cache.memo("catalog", k, lambda: _validated(path), lambda c: isinstance(c, Catalog))


def _validated(path: Path) -> Catalog:
    raw = load_yaml(path)
    try:
        return Catalog.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {exc}", code="bad_catalog") from exc
