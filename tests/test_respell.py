"""Typo tolerance: one edit from a listed cue word is read as it; real words and inflections are not."""

from __future__ import annotations

import pytest

from skill.planning import make_plan
from skill.respell import Speller, damerau
from skill.rulebook import load_rules

SPELLER = Speller(["standard", "portrait", "commercial", "draft", "version", "seconds", "second"])


@pytest.mark.parametrize(
    ("token", "fixed"),
    [("stdandard", "standard"), ("portait", "portrait"), ("potrait", "portrait"), ("commerical", "commercial"),
     ("drafft", "draft"), ("versoin", "version"), ("secnods", "seconds"),
     ("drift", None), ("craft", None), ("drafts", None), ("standards", None), ("seconds", None)],
)
def test_one_edit_from_a_cue_word(token: str, fixed: str | None) -> None:
    assert SPELLER.fix(token) == fixed


def test_positions_map_back_to_the_words_written() -> None:
    text = "drafft, portait view"
    corrected, back = SPELLER.correct(text)
    assert corrected == "draft, portrait view"
    assert back is not None and len(back) == len(corrected) + 1
    start = corrected.index("portrait")
    assert text[back[start] : back[start + len("portrait")]] == "portait"


def test_damerau_counts_a_swap_as_one_edit() -> None:
    assert damerau("versoin", "version") == 1 and damerau("abc", "abc") == 0 and damerau("kitten", "sitting") == 3


def test_a_typo_routes_and_the_decision_quotes_the_words_written() -> None:
    p = make_plan({"text": "drafft versoin pls: a skateboarder over a bench, portait"})
    assert (p.tier, p.params.aspect_ratio) == ("standard", "9:16")
    assert any(s["words"] == "drafft versoin" for s in p.decision.signals)  # "draft version" is one cue
    with pytest.raises(Exception) as info:
        make_plan({"text": "stdandard tier, from one frame to the next", "image_url": "https://i.example.org/a.png",
                   "tail_image_url": "https://i.example.org/b.png"})
    assert getattr(info.value, "code", None) == "end_frame_unsupported"


JOINER = Speller(["standard"], joined=(["pro", "draft", "square"], ["tier", "quality", "video"]))


@pytest.mark.parametrize(
    ("token", "fixed"),
    [("protier", "pro tier"), ("draftquality", "draft quality"), ("squarevideo", "square video"),
     ("protest", None), ("program", None), ("drafts", None)],
)
def test_two_cue_words_run_together_are_read_apart(token: str, fixed: str | None) -> None:
    assert JOINER.fix(token) == fixed


def test_a_cue_in_the_first_part_of_a_joined_word_takes_the_word_whole() -> None:
    text = "a draftquality pass"
    corrected, back = JOINER.correct(text)
    assert corrected == "a draft quality pass"
    assert back is not None
    start = corrected.index("draft")
    assert text[back[start] : back[start + len("draft")]] == "draftquality"
    later = corrected.index("quality")
    assert text[back[later] : back[later + len("quality")]] == "quality"


@pytest.mark.parametrize(("token", "cue"), [("walking", "talking"), ("stores", "stories"), ("lunch", "launch"),
                                            ("shots", "shorts"), ("review", "preview")])
def test_an_english_word_one_edit_from_a_cue_is_a_word_not_a_typo(token: str, cue: str) -> None:
    speller = load_rules().speller
    assert Speller([cue]).fix(token) == cue  # without the list it would be read as the cue
    assert speller.fix(token) is None


def test_a_rare_word_near_a_cue_is_still_read_as_its_typo() -> None:
    assert load_rules().speller.fix("secund") == "second"
