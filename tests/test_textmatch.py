"""The regex toolkit's rewrites change speed, never what matches."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skill.startup_cache import compile_pattern, pattern_ingredients
from skill.textmatch import (
    alternation_finditer,
    boundary_factored,
    dispatch_branches,
    first_char_guarded,
    regex_internals,
)

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
    from skill.rulebook import URL_MASK, RulesFile, _expand, _guarded, _placeholders

    data = RulesFile.model_validate(load_yaml(data_path("routing_rules.yaml")))
    subs = _placeholders(data)
    plain_subs = {**subs, "{url}": URL_MASK + "+"}

    def expand(p: str) -> re.Pattern[str]:
        return re.compile(_expand(p, plain_subs))

    texts = []
    for path in sorted(CORPUS.rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                c = json.loads(line)
                texts.append((c.get("request") or c).get("text", "").lower())
    assert len(texts) > 1000
    checked = guarded = 0
    for spec in data.signals:
        groups = spec.values.values() if spec.values is not None else [spec.patterns or []]
        for plist in groups:
            for p in (p for p in plist if "(?P<" in p):  # compiled alone, maybe guarded
                if (g := _guarded(p, subs)) != expand(p).pattern:
                    named, rx = expand(p), compile_pattern(g)
                    assert all(_matches(rx, t) == _matches(named, t) for t in texts), (spec.name, p)
                    guarded += 1
            parts = [p for p in plist if "(?P<" not in p]
            if len(parts) < 2:
                continue
            plain = expand("|".join(f"(?:{p})" for p in parts))
            factored = compile_pattern(boundary_factored(_guarded(p, subs) for p in parts))  # as the rule book does
            for text in texts:
                assert _matches(factored, text) == _matches(plain, text), (spec.name, text)
            checked += 1
    assert checked > 20 and guarded > 5


LOOKBEHIND_LED = [
    r"(?<!\bher\s)(?<!his\s)\bhero(?:es)?\b", r"(?:^|(?<=[.;!:\n]))\s*pro(?=\s*\?)", r"(?<![\d.])2[.,]39\s*:\s*1\b",
    r"(?:(?<=\bno\s)|(?<=\bnot\s))(?:the\s+)?pro\b", r"(?<=sec)\s*(?:-+|,|/)\s*(?:no|wait)", r"(?<![\w'])[-*]\s*x",
]


@pytest.mark.parametrize("pattern", LOOKBEHIND_LED)
def test_a_pattern_led_by_lookbehinds_is_guarded_by_its_first_character(pattern: str) -> None:
    guarded = first_char_guarded(pattern)
    assert guarded.startswith("(?=[") and guarded.endswith(f"(?:{pattern})")
    re.compile(guarded)


@pytest.mark.parametrize("pattern", [r"\bhero\b", r"hero", r"(?<=a)b?", r"(?<=a)[^x]", r"(?<=a).", r"(?i)(?<=a)b", r"(?<=a)(?i:b)"])
def test_what_cannot_be_guarded_is_left_as_written(pattern: str) -> None:
    assert first_char_guarded(pattern) == pattern


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abehiopr snot.;?!-*x2:9\n", max_size=60))
def test_guarded_patterns_match_what_they_guard(text: str) -> None:
    for p in LOOKBEHIND_LED:
        assert _matches(re.compile(first_char_guarded(p)), text) == _matches(re.compile(p), text), p


BRANCHY = [
    r"\b(?:photo\s+x|scan|pic\b|(?:a|b)c|photograph|p|pix)", r"abc|abd|x|(?:ab)|[ax]y|az", r"(?P<n>ab)|ac|(?P<m>ad)",
    r"a(?:b|c)|a|ab|b", r"(?:says|said|wh)\s*x|(?:s|t)y|sz", r"\b(?:(?:x|y)|xa|(?<=a)xb|ya)", r"(?:ab|a)(?:c|)|(?:a|b)+c",
    r"(?:(?P<w>s)ay|sa(?=y)|s)y?", r"(?i:ab)|ab|AB", r"(?:p|q)(?:r|s)t|pq|[p-r]x",
]


def _tree(p: str) -> object:
    got = regex_internals()
    assert got is not None
    return got[0].parse(p, 0)


def test_alternatives_led_by_one_letter_are_tried_behind_it() -> None:
    got = regex_internals()
    assert got is not None
    c = got[2]
    tree = dispatch_branches(_tree(r"\b(?:scan|photo|pic\b|photograph|sx)"), c)
    (_at, (_op, (_none, alts))) = list(tree)
    assert [a[0] for a in alts] == [(c.LITERAL, ord("s")), (c.LITERAL, ord("p"))]
    # an alternative that can start where a later one does keeps them apart: "[ax]y" sits between
    tree = dispatch_branches(_tree(r"abc|[ax]y|abd"), c)
    assert len(next(av for op, av in tree if op is c.BRANCH)[1]) == 3


@pytest.mark.parametrize("pattern", BRANCHY)
def test_dispatched_patterns_find_the_same_matches_and_groups(pattern: str) -> None:
    text = "photograph pic scan pix p photo x ac bc abd abc az ay xy ab x says x saidx sy ty sz whx xa xb ya abc aab sayy AB pqt qst rx"
    got, want = compile_pattern(pattern), re.compile(pattern)
    assert [(m.span(), m.groups()) for m in got.finditer(text)] == [(m.span(), m.groups()) for m in want.finditer(text)]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcpsqxyz ", max_size=40))
def test_dispatched_patterns_agree_on_any_text(text: str) -> None:
    for p in BRANCHY:
        got, want = compile_pattern(p), re.compile(p)
        assert [(m.span(), m.groups()) for m in got.finditer(text)] == [(m.span(), m.groups()) for m in want.finditer(text)], p


URL_LED = [
    r"{url}[^?!]{0,12}[.?!]?\s*[^.?!]{0,8}\b(?:can\s+you\s+|please\s+)animate\s+(?:the|it)\b",
    r"{url}\s*,?\s*animated\b", r"\bof\s+\w+\s*:\s*{url}", r"\bfrom\s*{url}\s*(?:to|->)\s*$", r"(?:\bpic\s+)?(?:{url}\s+)?animated\b",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["\ue000" * 3, "\ue000", " ", ".", "?", ",", "please ", "animate ", "it", "animated", "of x:", "from", "to",
                                 "pic ", "can you "]), max_size=14))
def test_a_url_is_read_whole_and_matches_as_before(parts: list[str]) -> None:
    from skill.rulebook import _URL_RUN, URL_MASK, _expand

    text = "".join(parts)
    for p in URL_LED:
        whole, plain = re.compile(_expand(p, {"{url}": _URL_RUN})), re.compile(p.replace("{url}", URL_MASK + "+"))
        assert _matches(whole, text) == _matches(plain, text), p


@pytest.mark.parametrize("pattern", [*LOOKBEHIND_LED, r"\bhero\b", r"\b(?:says|whispers)\s+x", r"(?<!a)\b[\d$]+\s*k"])
def test_a_pattern_led_by_zero_width_items_tells_re_where_a_match_can_start(pattern: str) -> None:
    internals = regex_internals()
    assert internals is not None
    got = pattern_ingredients(pattern)
    assert got is not None
    code = got[1]
    assert code[0] == internals[2].INFO and code[2] & internals[2].SRE_INFO_CHARSET


@pytest.mark.parametrize("pattern", [r"(?<=a)b?", r"(?<=a)[^x]", r"(?<=a).", r"(?i)\bab", r"\b(?:x|)"])
def test_no_start_set_where_a_match_may_start_anywhere_or_be_empty(pattern: str) -> None:
    internals = regex_internals()
    got = pattern_ingredients(pattern)
    assert internals is not None and got is not None
    assert not got[1][2] & internals[2].SRE_INFO_CHARSET  # as re leaves it


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abehiopr snot.;?!-*x2:9k$\n", max_size=60))
def test_start_sets_change_no_match(text: str) -> None:
    for p in [*LOOKBEHIND_LED, r"\bhero\b", r"(?<!a)\b[\d$]+\s*k", *ALTERNATIVES]:
        assert _matches(compile_pattern(p), text) == _matches(re.compile(p), text), p


NON_EMPTY = [r"\bhero\b", r"\bher", r"(?<!a\s)\bpro\b", r"o\s+\w+", r"pro(?=\s)", r"[a-z]+o\b", r"\bs\w", r"\w+\b"]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="aehopr sw-\n", max_size=50), st.lists(st.sampled_from(NON_EMPTY), min_size=1, max_size=5))
def test_alternatives_scanned_one_by_one_match_what_their_alternation_matches(text: str, parts: list[str]) -> None:
    joined = re.compile("|".join(f"(?:{p})" for p in parts))
    got = [m.span() for m in alternation_finditer([re.compile(p) for p in parts], text)]
    assert got == _matches(joined, text)


def test_the_rules_alternatives_scanned_one_by_one_match_each_signal_scan() -> None:
    """The batch prefilter scans a signal value's alternatives apart: the same matches on every corpus text."""
    from skill.intent import _lower
    from skill.rulebook import load_rules, signal_alternatives

    rules = load_rules()
    texts = [_lower((c.get("request") or c).get("text", "")) for path in sorted(CORPUS.rglob("*.jsonl"))
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip() for c in [json.loads(line)]]
    split = 0
    for csig, alts in zip(rules.signals, signal_alternatives(rules.data), strict=True):
        for (_v, combined), sources in zip(csig.patterns, alts, strict=True):
            if sources is None or len(sources) < 2:
                continue
            parts = [compile_pattern(p) for p in sources]
            for text in texts:
                assert [m.span() for m in alternation_finditer(parts, text)] == _matches(combined, text), (csig.spec.name, text)
            split += 1
    assert split > 20
