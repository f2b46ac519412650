"""The batch fast paths (``enable_prefilter``) give byte-identical plans on the whole corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from corpushelp import corpus_requests

from skill import intent, rulebook
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



def test_a_modifier_edit_alone_gets_a_fresh_prescan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stored prescan holds each modifier's alternation, so its key must cover the modifiers:
    an edit to a modifier's patterns, and nothing else, once reused the old alternation in batches."""
    monkeypatch.setenv("KLING3_HOME", str(tmp_path / "home"))
    text = rulebook.data_path("routing_rules.yaml").read_text(encoding="utf-8")
    watching = next(line for line in text.splitlines(keepends=True) if "glued)" in line)  # a venue pattern
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(text, encoding="utf-8")
    second.write_text(text.replace(watching, "", 1), encoding="utf-8")
    a, b = rulebook.load_rules(first), rulebook.load_rules(second)
    assert len(a.modifiers["venue"].before) == len(b.modifiers["venue"].before) + 1 >= 3
    before_a, before_b = intent._prescan(a).any_of["venue"][0], intent._prescan(b).any_of["venue"][0]
    assert before_a is not None and before_b is not None
    assert before_a.pattern != before_b.pattern


def test_a_url_or_supersede_edit_alone_gets_a_fresh_prescan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stored prescan holds the substrings the URL patterns and the supersede leads need, so
    its key must cover those patterns too: else an edit to them alone would be skipped in batches."""
    monkeypatch.setenv("KLING3_HOME", str(tmp_path / "home"))
    text = rulebook.data_path("routing_rules.yaml").read_text(encoding="utf-8")
    lead = next(line for line in text.splitlines(keepends=True) if "(?:make|change)\\s+that" in line)
    any_url = next(line for line in text.splitlines(keepends=True) if line.lstrip().startswith("any_url:"))
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(text, encoding="utf-8")
    second.write_text(text.replace(lead, "", 1).replace(any_url, any_url.replace("https?://", "(?:https?|ftp)://"), 1),
                      encoding="utf-8")
    a, b = rulebook.load_rules(first), rulebook.load_rules(second)
    assert len(a.supersede_leads) == len(b.supersede_leads) + 1
    scan_a, scan_b = intent._prescan(a), intent._prescan(b)
    assert len(scan_a.lead_needs) == len(scan_b.lead_needs) + 1
    assert scan_a.url_needs[1] == frozenset({"http"})
    assert scan_b.url_needs[1] != scan_a.url_needs[1]

