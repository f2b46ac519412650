"""The emulator's copy of RunComfy's wire schema: what it accepts and what it serves as live schema.

The client builds bodies from :mod:`skill.catalog`; if the emulator judged those bodies with the
same catalog, a catalog mistake (a wrong field name, a range too wide) could never fail a test.
So the emulator reads its own fixture, ``wire_schema.yaml`` next to this module, written from the
protocol notes (runcomfy-protocol.md §3.2) rather than from the catalog, and this module never
imports :mod:`skill.catalog`.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from skill.data import load_yaml
from skill.errors import ConfigError

__all__ = [
    "FIXTURE_PATH",
    "ModelEntry",
    "Problem",
    "Property",
    "WireSchemas",
    "load_wire_schemas",
]

FIXTURE_PATH = Path(__file__).resolve().with_name("wire_schema.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Property(_Strict):
    """One input field as the API describes it; ``structured`` marks an array/object input whose
    shape is not documented (any JSON array or object is accepted)."""

    type: Literal["string", "integer", "number", "boolean"] | None = None
    structured: bool = False
    enum: list[str] | None = None
    minimum: float | None = None
    maximum: float | None = None
    default: Any = None
    format: Literal["image_uri"] | None = None
    description: str | None = None

    @model_validator(mode="after")
    def _typed(self) -> Property:
        if (self.type is None) == (not self.structured):
            raise ValueError("a property has either a type or structured: true")
        return self

    def json_schema(self) -> dict[str, Any]:
        """The property as ``input_schema.properties`` shows it (no ``structured`` marker)."""
        out = self.model_dump(exclude_none=True, exclude={"structured"})
        if self.structured:
            out.setdefault("description", "structured input (array or object)")
        for key in ("minimum", "maximum"):
            if isinstance(out.get(key), float) and out[key].is_integer():
                out[key] = int(out[key])
        return out


class InputSchema(_Strict):
    required: list[str]
    properties: dict[str, Property]

    @model_validator(mode="after")
    def _known(self) -> InputSchema:
        for name in self.required:
            if name not in self.properties:
                raise ValueError(f"{name!r} is required but not a property")
        return self


class ModelEntry(_Strict):
    schema_name: str = Field(alias="schema")
    base_price_usd: float


class Problem(_Strict):
    """One reason the API would refuse a body: the field and what is wrong with it."""

    field: str
    message: str


class WireSchemas(_Strict):
    """Every schema of the fixture and which model uses which."""

    schemas: dict[str, InputSchema]
    models: dict[str, ModelEntry]

    @model_validator(mode="after")
    def _consistent(self) -> WireSchemas:
        for model_id, entry in self.models.items():
            if entry.schema_name not in self.schemas:
                raise ValueError(f"{model_id}: unknown schema {entry.schema_name!r}")
        return self

    def input_schema(self, model_id: str) -> InputSchema | None:
        entry = self.models.get(model_id)
        return None if entry is None else self.schemas[entry.schema_name]

    def live_schema(self, model_id: str) -> dict[str, Any] | None:
        """What ``GET /v1/models/{model_id}`` answers; ``None`` for an unknown model."""
        schema = self.input_schema(model_id)
        if schema is None:
            return None
        return {
            "model_id": model_id,
            "base_price_usd": self.models[model_id].base_price_usd,
            "price_unit": "second",
            "input_schema": {
                "type": "object",
                "required": list(schema.required),
                "properties": {n: p.json_schema() for n, p in schema.properties.items()},
            },
        }

    def validate_body(self, model_id: str, body: dict[str, Any]) -> list[Problem]:
        """Every problem of ``body`` for ``model_id`` (empty: accepted). The model must exist."""
        schema = self.input_schema(model_id)
        if schema is None:
            raise KeyError(model_id)
        problems = [Problem(field=n, message="is required") for n in schema.required if n not in body]
        for name, value in body.items():
            prop = schema.properties.get(name)
            if prop is None:
                allowed = ", ".join(sorted(schema.properties))
                problems.append(Problem(field=name, message=f"is not a field of {model_id} ({allowed})"))
                continue
            message = _check(prop, value)
            if message:
                problems.append(Problem(field=name, message=message))
        return problems


def _check(prop: Property, value: Any) -> str | None:
    if prop.structured:
        return None if isinstance(value, (list, dict)) else "must be an array or an object"
    if prop.type == "boolean":
        return None if isinstance(value, bool) else "must be true or false"
    if prop.type == "string":
        if not isinstance(value, str):
            return "must be a string"
        if prop.enum is not None and value not in prop.enum:
            return f"must be one of {', '.join(prop.enum)}"
        if prop.format == "image_uri" and not value.startswith(("https://", "http://", "data:image/")):
            return "must be an image URL"
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"must be a{'n integer' if prop.type == 'integer' else ' number'}"
    if not math.isfinite(value) or (prop.type == "integer" and not float(value).is_integer()):
        return "must be a whole number" if prop.type == "integer" else "must be a finite number"
    too_low = prop.minimum is not None and value < prop.minimum
    too_high = prop.maximum is not None and value > prop.maximum
    if too_low or too_high:
        return f"must be between {prop.json_schema().get('minimum')} and {prop.json_schema().get('maximum')}"
    return None


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int) -> WireSchemas:
    try:
        return WireSchemas.model_validate(load_yaml(Path(path)))
    except ValidationError as exc:
        raise ConfigError(f"{path}: {exc}", code="bad_wire_schema") from exc


def load_wire_schemas(path: Path | None = None) -> WireSchemas:
    """The fixture (default :data:`FIXTURE_PATH`), validated once per file version."""
    target = path or FIXTURE_PATH
    try:
        mtime = target.stat().st_mtime_ns
    except OSError as exc:
        raise ConfigError(f"cannot read {target}: {exc.strerror}", code="bad_wire_schema") from exc
    return _load(str(target), mtime)
