"""Structured briefs: ``key: value`` lines (or ``;``-separated pairs) and JSON objects.

Agents often send a brief instead of prose. Its values are the caller's words, so they are kept as
written and only put in Kling's order [S24][S23]: camera first, then subject and action, setting,
lighting, details, style; sound to the audio part; ``avoid`` to the negative prompt. A key the
builder does not know keeps its value as a detail (never dropped, never shown as "Key:").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from skill.prompt.lexicon import Lex

__all__ = ["Brief", "parse_brief"]


@dataclass
class Brief:
    parts: dict[str, list[str]] = field(default_factory=dict)

    def get(self, part: str) -> list[str]:
        return self.parts.get(part, [])


def _flat(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(_flat(v) for v in value.values() if _flat(v))
    if isinstance(value, (list, tuple)):
        return ", ".join(_flat(v) for v in value if _flat(v))
    if value is None or isinstance(value, bool):
        return ""
    return " ".join(str(value).split())


def _add(lx: Lex, brief: Brief, key: str, value: str) -> bool:
    part = lx.brief_parts.get(" ".join(re.split(r"[\s_-]+", key.lower().strip())))
    value = value.strip().strip(",;").rstrip(".")
    if not value:
        return part is not None
    brief.parts.setdefault(part or "details", []).append(value)
    return part is not None


def _from_json(lx: Lex, text: str) -> Brief | None:
    s = text.strip()
    if not (s.startswith("{") and s.endswith("}")):
        return None
    try:
        data = json.loads(s)
    except ValueError:
        return None
    if not isinstance(data, dict) or not data:
        return None
    brief = Brief()
    for key, value in data.items():
        _add(lx, brief, str(key), _flat(value))
    return brief


# pairs are split at ";" and line ends, and at a sentence end followed by "Key:" ("... garden. Camera: ...")
_PAIRS = re.compile(r"[;\n]+|(?<=[.!?])\s+(?=[A-Z][\w ]{0,20}\s*[:=])|\s+[/|]\s+(?=[\w ]{1,20}\s*[:=])")


def parse_brief(lx: Lex, text: str) -> Brief | None:
    """The brief's parts, or None when ``text`` is prose (fewer than ``brief.min_keys`` known keys)."""
    got = _from_json(lx, text)
    if got is not None:
        return got
    if ":" not in text and "=" not in text:
        return None
    brief = Brief()
    known = 0
    loose: list[str] = []
    for chunk in _PAIRS.split(text):
        if not chunk.strip(" ./|\ue000"):
            continue
        m = lx.brief_line.match(chunk)
        if m is None:
            loose.append(chunk.strip())
            continue
        if (m.group("pre") or "").strip(" :;,"):
            brief.parts.setdefault("lead", []).append(m.group("pre").strip(" :;,"))
        known += _add(lx, brief, m.group("key"), m.group("val").strip().strip("\"'"))
    if known < lx.brief_min or len(loose) > known:
        return None
    if loose:
        brief.parts.setdefault("lead", [])[:0] = loose  # prose around the keys ("Create a 10s clip.")
    return brief
