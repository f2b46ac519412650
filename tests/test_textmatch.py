"""The regex toolkit's rewrites change speed, never what matches."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skill.textmatch import boundary_factored

CORPUS = Path(__file__).parent / "corpus"

ALTERNATIVES = [
    r"\bhero[\s-]*(?:shot|clip)s?\b", r"\bkey\s+visual\b", r"(?<!a\s)\bpro\b", r"\bfoo|bar", r"\b[|]x\b",
    r"\b(?:a|b)c", r"bare", r"\bvertical(?:ly)?\b", r"\b\w+-ready\b", r"\b[\]|]z",
]


def _matches(rx: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    return [m.span() for m in rx.finditer(text)]


@pytest.mark.parametrize("cut", range(1, len(ALTERNATIVES) + 1))
def test_factored_boundaries_match_what_the_plain_join_matches(cut: int) -> None:
    parts = ALTERNATIVES[:cut]
    plain = re.compile("|".join(f"(?:{p})" for p in parts))
    factored = re.compile(boundary_factored(parts))
    assert factored.pattern != plain.pattern or cut == 1
    text = "a pro hero shot, foo-bar |x ac bc vertically web-ready ]z pro-bare heroshots"
    assert _matches(factored, text) == _matches(plain, text) != []


def test_a_top_level_branch_keeps_its_own_boundary() -> None:
    assert boundary_factored([r"\bfoo|bar"]) == r"(?:\bfoo|bar)"
    assert boundary_factored([r"\b[|]x", r"\b(?:a|b)"]) == r"\b(?:(?:[|]x)|(?:(?:a|b)))"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abcfhoprxz |-]\n", max_size=60))
def test_the_rewrite_agrees_on_any_text(text: str) -> None:
    plain = re.compile("|".join(f"(?:{p})" for p in ALTERNATIVES))
    assert _matches(re.compile(boundary_factored(ALTERNATIVES)), text) == _matches(plain, text)


def test_the_rules_signals_agree_on_the_whole_corpus() -> None:
    """Every signal value of routing_rules.yaml, joined plainly and factored, over every corpus text."""
    from skill.data import data_path, load_yaml
    from skill.rulebook import URL_MASK, RulesFile, _number_pattern

    data = RulesFile.model_validate(load_yaml(data_path("routing_rules.yaml")))
    number_re = _number_pattern(data)

    def expand(p: str) -> re.Pattern[str]:
        return re.compile(p.replace("{number}", number_re).replace("{url}", URL_MASK + "+"))

    texts = []
    for path in sorted(CORPUS.rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                c = json.loads(line)
                texts.append((c.get("request") or c).get("text", "").lower())
    assert len(texts) > 1000
    checked = 0
    for spec in data.signals:
        groups = spec.values.values() if spec.values is not None else [spec.patterns or []]
        for plist in groups:
            parts = [p for p in plist if "(?P<" not in p]
            if len(parts) < 2:
                continue
            plain, factored = expand("|".join(f"(?:{p})" for p in parts)), expand(boundary_factored(parts))
            for text in texts:
                assert _matches(factored, text) == _matches(plain, text), (spec.name, text)
            checked += 1
    assert checked > 20
