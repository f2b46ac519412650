"""Where the data files live, installed or in a source checkout.

The wheel carries ``routing_rules.yaml``, ``prompt_templates/`` and the skill's ``references/``
under ``skill/data/``; a source checkout keeps them at the repository root, where people edit them
(and where an agent reading SKILL.md finds the references). Both are looked up here so
the rest of the package never guesses paths.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from skill.errors import ConfigError

__all__ = ["data_path", "load_yaml"]

_DATA_DIR = Path(__file__).resolve().parent
_PACKAGE_DIR = _DATA_DIR.parent
_REPO_ROOT = _PACKAGE_DIR.parent


def data_path(name: str) -> Path:
    """Path of a bundled data file or folder (``catalog.yaml``, ``routing_rules.yaml``, ...)."""
    for base in (_DATA_DIR, _REPO_ROOT):
        candidate = base / name
        if candidate.exists():
            return candidate
    raise ConfigError(f"data file {name!r} is missing from the installation", code="missing_data")


@functools.lru_cache(maxsize=32)
def _load_yaml_cached(path: str, mtime_ns: int) -> Any:
    """Parsed once per content: the start-up cache keeps the result keyed by the file's bytes."""
    from skill import startup_cache

    try:
        with open(path, "rb") as fh:
            content = fh.read()
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", code="bad_data_file") from exc
    if not startup_cache.enabled():
        return _parse_yaml(path, content)
    k = startup_cache.key(content, code=(__file__,), libs=("yaml",))
    return startup_cache.memo("yaml", k, lambda: _parse_yaml(path, content))


def _parse_yaml(path: str, content: bytes) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(content.decode("utf-8"), Loader=loader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}", code="bad_data_file") from exc


def load_yaml(path: Path) -> Any:
    """Parse a YAML file with the C loader when present; cached per path and mtime."""
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", code="bad_data_file") from exc
    return _load_yaml_cached(str(path), mtime)
