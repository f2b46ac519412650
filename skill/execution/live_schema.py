"""The live model schema: a day-long cache of RunComfy's schemas, and the payload check.

``run`` and ``kling3 batch`` check every payload against the schema the API really serves,
before anything is paid, so a model change on RunComfy's side refuses a call for free instead of
failing it after the money is spent. The schema changes rarely, so it is fetched at most once a
day per API base and model (``schema-cache.json`` under ``KLING3_HOME``) rather than on every
call. When it cannot be fetched the check is skipped with a ``schema_unavailable`` event (the
API validates anyway), except for an :class:`~skill.errors.AuthError`: without a usable token
nothing else would work either.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skill import settings
from skill.errors import AuthError, InputError, Kling3Error
from skill.execution.events import EventSink, SchemaUnavailable

if TYPE_CHECKING:
    from skill.execution.model_api import AsyncModelApi, ModelApi
    from skill.planning import Plan

__all__ = [
    "TTL_SECONDS",
    "acached_schema",
    "acheck_plan",
    "cache_path",
    "cached_schema",
    "check_plan",
    "refuse_schema_mismatch",
    "schema_problems",
    "schema_unavailable",
]

TTL_SECONDS = 24 * 3600



def cache_path() -> Path:
    """Where the cache lives: one JSON file, shared by every process of this user."""
    return settings.kling3_home() / "schema-cache.json"


def _read() -> dict[str, Any]:
    try:
        data = json.loads(cache_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _fresh(entry: Any) -> dict[str, Any] | None:
    if isinstance(entry, dict) and time.time() - float(entry.get("fetched_at", 0)) < TTL_SECONDS:
        schema = entry.get("schema")
        return schema if isinstance(schema, dict) else None
    return None


def _write(key: str, schema: dict[str, Any]) -> None:
    data = _read()
    data[key] = {"fetched_at": time.time(), "schema": schema}
    path = cache_path()
    try:
        settings.ensure_private_dir(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".schema-cache.")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)
    except OSError:
        pass


def cached_schema(
    base_url: str, model_id: str, fetch: Callable[[str], dict[str, Any]]
) -> dict[str, Any]:
    """The schema of ``model_id`` at ``base_url``, fetched at most once a day."""
    key = f"{base_url}|{model_id}"
    hit = _fresh(_read().get(key))
    if hit is not None:
        return hit
    schema = fetch(model_id)
    _write(key, schema)
    return schema


async def acached_schema(
    base_url: str, model_id: str, fetch: Callable[[str], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    """The asyncio twin of :func:`cached_schema`."""
    key = f"{base_url}|{model_id}"
    hit = _fresh(_read().get(key))
    if hit is not None:
        return hit
    schema = await fetch(model_id)
    _write(key, schema)
    return schema


# -- the payload check -----------------------------------------------------------------------


def schema_problems(schema: dict[str, Any], payload: dict[str, Any]) -> list[tuple[str, str]]:
    """Check a payload against the live JSON schema's properties (types, enums, ranges)."""
    input_schema = schema.get("input_schema") or {}
    props: dict[str, Any] = input_schema.get("properties") or {}
    if not props:
        return []
    out = []
    for name in input_schema.get("required") or []:
        if name not in payload:
            out.append((name, "is required by the live schema"))
    for name, value in payload.items():
        spec = props.get(name)
        if spec is None:
            out.append((name, "is not in the live schema"))
            continue
        enum = spec.get("enum")
        if enum is not None and value not in enum:
            out.append((name, f"must be one of {', '.join(map(str, enum))}"))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            lo, hi = spec.get("minimum"), spec.get("maximum")
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                out.append((name, f"must be between {lo} and {hi}"))
    return out


def refuse_schema_mismatch(schema: dict[str, Any], plan: Plan) -> None:
    """Raise :class:`InputError` (``schema_mismatch``) naming the first field of any of the plan's
    payloads that the live schema refuses; nothing has been sent at that point."""
    for seg in plan.segments:
        problems = schema_problems(schema, seg.payload)
        if problems:
            field_name, msg = problems[0]
            raise InputError(
                f"{field_name}: {msg} ({plan.endpoint}); nothing was sent",
                code="schema_mismatch",
                field=field_name,
            )


def schema_unavailable(exc: Kling3Error, endpoint: str) -> SchemaUnavailable:
    """The ``schema_unavailable`` event for a schema that could not be fetched; an
    :class:`AuthError` is raised instead (no token, or a rejected one: nothing would work)."""
    if isinstance(exc, AuthError):
        raise exc
    return SchemaUnavailable(endpoint=endpoint, message=exc.message)


def check_plan(client: ModelApi, plan: Plan, on_event: EventSink) -> None:
    """Validate against the live schema when reachable (cached a day); refuse before paying."""
    try:
        schema = cached_schema(client.base_url, plan.endpoint, client.model_schema)
    except Kling3Error as exc:
        on_event(schema_unavailable(exc, plan.endpoint))
        return
    refuse_schema_mismatch(schema, plan)


async def acheck_plan(client: AsyncModelApi, plan: Plan, on_event: EventSink) -> None:
    """The asyncio twin of :func:`check_plan`."""
    try:
        schema = await acached_schema(client.base_url, plan.endpoint, client.model_schema)
    except Kling3Error as exc:
        on_event(schema_unavailable(exc, plan.endpoint))
        return
    refuse_schema_mismatch(schema, plan)
