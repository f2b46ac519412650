"""A day-long cache of RunComfy's live model schemas, so ``run`` can check a payload against
the real schema without a round trip on every call."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from skill import settings

__all__ = ["acached_schema", "cache_path", "cached_schema"]

TTL_SECONDS = 24 * 3600


def cache_path() -> Path:
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


def cached_schema(base_url: str, model_id: str, fetch: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
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
    key = f"{base_url}|{model_id}"
    hit = _fresh(_read().get(key))
    if hit is not None:
        return hit
    schema = await fetch(model_id)
    _write(key, schema)
    return schema
