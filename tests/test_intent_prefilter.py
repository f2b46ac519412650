"""The batch fast paths (``enable_prefilter``) give byte-identical plans on the whole corpus."""

from __future__ import annotations

import json
from typing import Any

from corpushelp import corpus_requests

from skill import intent
from skill.errors import Kling3Error
from skill.planning import make_plan


def _requests() -> list[dict[str, Any]]:
    return [req for _, req in corpus_requests(with_blind=True)]


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
