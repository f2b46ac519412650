"""The batch fast paths (``enable_prefilter``) give byte-identical plans on the whole corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from skill import intent
from skill.errors import Kling3Error
from skill.planning import make_plan

CORPUS = Path(__file__).parent / "corpus"


def _requests() -> list[dict[str, Any]]:
    out = []
    for path in sorted(CORPUS.rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                c = json.loads(line)
                out.append(c.get("request") or {"text": c["text"], **{k: c[k] for k in ("image_url", "tail_image_url") if c.get(k)},
                                                **c.get("fields", {})})
    return out


def _plans(requests: list[dict[str, Any]], prefilter: bool) -> list[str]:
    saved = intent._PREFILTER
    intent._PREFILTER = prefilter
    try:
        lines = []
        for req in requests:
            try:
                lines.append(make_plan(req, video_tools=True).model_dump_json(by_alias=True))
            except Kling3Error as exc:
                lines.append(json.dumps(exc.to_dict(), sort_keys=True))
        return lines
    finally:
        intent._PREFILTER = saved


def test_every_corpus_plan_is_the_same_with_the_batch_prefilter() -> None:
    requests = _requests()
    assert len(requests) > 1000
    plain, filtered = _plans(requests, False), _plans(requests, True)
    assert sum('"error"' not in p and '"code"' not in p for p in plain) > 500
    for req, a, b in zip(requests, plain, filtered, strict=True):
        assert a == b, req
