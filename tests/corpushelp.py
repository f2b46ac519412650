"""Every labelled request of ``tests/corpus``, read once the way every corpus test reads it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).parent / "corpus"


def corpus_requests(*, with_blind: bool = False) -> list[tuple[str, dict[str, Any]]]:
    """``(set:id, request)`` for each line: the line's ``request``, or its text with the image
    URLs and structured fields it carries. ``with_blind`` also reads ``corpus/blind/``."""
    out: list[tuple[str, dict[str, Any]]] = []
    paths = CORPUS.rglob("*.jsonl") if with_blind else CORPUS.glob("*.jsonl")
    for path in sorted(paths):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            c = json.loads(line)
            if "request" in c:
                req = dict(c["request"])
            else:
                req = {"text": c["text"], **{k: c[k] for k in ("image_url", "tail_image_url") if c.get(k)},
                       **c.get("fields", {})}
            out.append((f"{path.stem}:{c.get('id', len(out))}", req))
    return out
