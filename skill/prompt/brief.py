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

from skill.prompt.camera import find_moves
from skill.prompt.lexicon import Lex

__all__ = ["Brief", "json_brief", "parse_brief"]


@dataclass
class Brief:
    """A structured brief's parts (subject, camera, audio, ...), each with the caller's lines."""
    parts: dict[str, list[str]] = field(default_factory=dict)

    def get(self, part: str) -> list[str]:
        return self.parts.get(part, [])


def _flat(value: Any) -> str:
    """A JSON value as words: lists joined, numbers, booleans and null dropped (never scene words)."""
    if isinstance(value, (bool, int, float)) or value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(_flat(v) for v in value.values() if _flat(v))
    if isinstance(value, (list, tuple)):
        return ", ".join(_flat(v) for v in value if _flat(v))
    return " ".join(str(value).split())


def _part_of(lx: Lex, name: str) -> str | None:
    """The part a key names; a request key with a suffix ("tier_text", "aspect hint") is the request's."""
    part = lx.brief_parts.get(name)
    if part is None and " " in name and lx.brief_parts.get(name.split(" ", 1)[0]) == "request":
        return "request"
    return part


def _add(lx: Lex, brief: Brief, key: str, value: str) -> bool:
    name = " ".join(re.split(r"[\s_-]+", key.lower().strip()))
    part = _part_of(lx, name)
    value = value.strip().strip(",;+&").rstrip(".").strip()
    if not value:
        return part is not None
    if part == "camera" and name in lx.named_by_key and len(value.split()) <= 2 and not find_moves(lx, value) \
            and name not in value.lower():
        value = f"{value} {name}"  # "camera=GoPro; lens=wide" -> "GoPro camera, wide lens": the key names it
    elif part == "style" and name in lx.named_by_key and name not in value.lower() and all(
            0 < len(x.split()) <= 2 for x in value.split(",")) and len(value.split(",")) <= 4:
        value = f"{value} {name}"  # "Mood: melancholic, quiet." -> "melancholic, quiet mood": adjectives need their noun
    brief.parts.setdefault(part or "details", []).append(value)
    return part is not None


def json_brief(lx: Lex, text: str) -> Brief | None:
    """The brief of a JSON object (None when ``text`` is not one)."""
    return _from_json(lx, text)


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
    _add_json(lx, brief, data)
    return brief


_IDENTIFIER = re.compile(r"^[a-z][a-z0-9]*(?:[_.][a-z0-9]+)+$")


def _add_json(lx: Lex, brief: Brief, data: dict[str, Any]) -> None:
    """A JSON object's keys as brief keys. An agent's payload nests them ("params": {...}): a
    request or unknown key holding an object is opened; a shot list keeps one shot an item; a
    value that is an identifier ("create_video") names a tool, not a scene."""
    for key, value in data.items():
        part = _part_of(lx, " ".join(re.split(r"[\s_-]+", str(key).lower().strip())))
        if isinstance(value, dict) and part in (None, "request"):
            _add_json(lx, brief, value)
        elif part == "shots" and isinstance(value, list):
            _add(lx, brief, str(key), " | ".join(_flat(v) for v in value if _flat(v)))
        elif isinstance(value, str) and _IDENTIFIER.match(value.strip()):
            brief.parts.setdefault("request", []).append(value.strip())
        else:
            _add(lx, brief, str(key), _flat(value))


_SCENE_PARTS = frozenset({"description", "subject", "shots", "action", "camera", "setting", "lighting", "style", "details"})
_EDGES = re.compile(r"^[\s;/|,]+|[\s;/|,]+$")


_LIST_MARK = r"(?:[-*\u2022>#]+|\(?\d{1,2}[.)]|\(?[a-hA-H]\))"
_OTHER_KEY = re.compile(rf"^\s*(?:{_LIST_MARK}\s*)?[A-Za-z][\w ]{{0,20}}[:=]\s*(\S.*)$")
_BARE_MARK = re.compile(rf"^\s*{_LIST_MARK}?[\s./|\ue000]*$")


_TITLE = re.compile(r'^\s*"([^"\n]{1,40})"\s*[.:;,-]?\s+(?=\S)')


def _content(lx: Lex, word: str) -> bool:
    return len(word) > 1 and word not in lx.function_words and word not in lx.request_words and word not in lx.switch_words


def _pairs(lx: Lex, text: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(key, value) pairs and the prose around them. A key starts a line, or follows ";", " / ",
    "|" or a sentence end ("... garden. Camera: ..."); a value runs to the next key, so a scene's
    own ";" stay in it."""
    pairs: list[tuple[str, str]] = []
    loose: list[str] = []
    keyed = any(lx.brief_key.search(line) for line in text.split("\n"))
    for line in text.split("\n"):
        hits = [m for m in lx.brief_key.finditer(line)]
        if not hits:
            other = _OTHER_KEY.match(line)
            if other and keyed:  # "Mood: calm" among known keys: a detail, not a label
                if any(_content(lx, w) for w in re.findall(r"[^\W\d_]+", other.group(1).lower())):
                    pairs.append(("details", other.group(1)))
            elif not _BARE_MARK.match(line):  # a list line its instruction emptied ("3. ") says nothing
                loose.append(line.strip())
            continue
        head = line[: hits[0].start("key")].strip(" ;/|-*\u2022\"'>#")
        head = "" if _BARE_MARK.match(head) else head
        if head.strip(" .:\ue000"):
            loose.append(head.rstrip(":").strip())
        for k, m in enumerate(hits):
            end = hits[k + 1].start() if k + 1 < len(hits) else len(line)
            value = _EDGES.sub("", line[m.end(): end])
            title = _TITLE.match(value)
            if title is not None:  # 'Concept: "First Light". A young woman ...': the film's name, then the scene
                pairs.append(("title", title.group(1)))
                value = value[title.end():]
            value = value.strip("\"'")
            if value.startswith("[") and "]" in value:  # "shots: [a | b | c] quality=..."
                value, rest = value[1: value.index("]")], value[value.index("]") + 1:]
                extra = _OTHER_KEY.match(rest.strip())
                if extra is None and rest.strip():
                    loose.append(rest.strip())
            pairs.append((m.group("key"), value))
    return pairs, loose


def parse_brief(lx: Lex, text: str) -> Brief | None:
    """The brief's parts, or None when ``text`` is prose: fewer than ``brief.min_keys`` known keys,
    none of them about the scene, or more prose than keys."""
    got = _from_json(lx, text)
    if got is not None:
        return got
    if ":" not in text and "=" not in text:
        return None
    pairs, loose = _pairs(lx, text)
    brief = Brief()
    known = sum(_add(lx, brief, key, value) for key, value in pairs)
    enough = known >= lx.brief_min or (known == 1 and not loose and len(pairs) == 1)  # "subject: a fox"
    if not enough or len(loose) > known:
        return None
    if not _SCENE_PARTS & set(brief.parts) and (loose or set(brief.parts) - {"request", "audio"}):
        return None  # prose with a label or two ("Opening image: ..."), not a brief

    if loose:
        brief.parts.setdefault("lead", [])[:0] = loose  # prose around the keys ("Create a 10s clip.")
    return brief
