"""The labelled routing corpus must route 100% right: every line is a user-visible promise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from skill.errors import InputError
from skill.planning import make_plan

CORPUS = Path(__file__).parent / "corpus" / "routing.jsonl"
CASES = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_corpus_is_large_and_covers_every_endpoint() -> None:
    assert len(CASES) >= 150
    endpoints = {c["expect"].get("endpoint") for c in CASES} - {None}
    assert len(endpoints) == 6
    codes = {c["expect"].get("error") for c in CASES} - {None}
    assert codes == {
        "missing_image",
        "tail_without_source",
        "end_frame_unsupported",
        "over_budget",
        "bad_aspect_ratio",
        "duration_out_of_range",
        "invalid_input",
    }


def _outcome(request: dict[str, Any]) -> dict[str, Any]:
    try:
        plan = make_plan(request)
    except InputError as exc:
        return {"error": exc.code, "field": exc.field}
    return {
        "endpoint": plan.endpoint,
        "tier": plan.tier,
        "mode": plan.mode,
        "duration": plan.params.duration,
        "aspect_ratio": plan.params.aspect_ratio,
        "generate_audio": plan.params.generate_audio,
        "segments": len(plan.segments),
        "cost_usd": round(plan.cost_usd, 4),
    }


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_routes_as_labelled(case: dict[str, Any]) -> None:
    got = _outcome(case["request"])
    expected = case["expect"]
    assert {k: got.get(k) for k in expected} == expected, case.get("why")
