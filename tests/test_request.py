"""Shot lengths: one filler for the planner (a film's calls) and the prompt builder (one call)."""

from __future__ import annotations

import pytest

from skill.errors import InputError
from skill.planning import make_plan
from skill.request import MAX_TEXT_CHARS, fill_durations, parse_request


@pytest.mark.parametrize(
    ("total", "given", "want"),
    [(10, [None, None], [5, 5]), (10, [4, None, None], [4, 3, 3]), (7, [None, None, None], [3, 2, 2]),
     (6, [2, 4], [2, 4])],
)
def test_the_given_lengths_stay_and_the_rest_is_shared(total: int, given: list[int | None], want: list[int]) -> None:
    assert fill_durations(total, given, field="shots", span="call") == want


@pytest.mark.parametrize(
    ("total", "given", "words"),
    [(8, [3, 3], "do not add up to the call's 8 s"), (2, [None, None, None], "the call lasts 2 s"),
     (5, [4, None, None], "leave 1 s for 2 more shot(s)")],
)
def test_lengths_that_cannot_fit_are_refused(total: int, given: list[int | None], words: str) -> None:
    with pytest.raises(InputError) as info:
        fill_durations(total, given, field="shots", span="call")
    assert words in info.value.message and info.value.code == "invalid_input"


def test_a_long_film_uses_the_same_rule_and_says_video() -> None:
    shots = [{"prompt": "a boat leaves the bay", "duration": 10}, {"prompt": "it crosses"}, {"prompt": "it docks"}]
    plan = make_plan({"text": "a film", "duration": 30, "shots": shots})
    assert [s.duration for s in plan.segments] == [10, 10, 10]
    with pytest.raises(InputError) as info:
        make_plan({"text": "a film", "duration": 30, "shots": [{"prompt": "a", "duration": 10},
                                                             {"prompt": "b", "duration": 10}]})
    assert "do not add up to the video's 30 s" in info.value.message


def test_a_text_longer_than_four_prompts_is_refused_before_any_scan() -> None:
    with pytest.raises(InputError) as err:
        parse_request({"text": "a fox in snow. " * (1_000_000 // 15)})
    assert err.value.code == "prompt_too_long" and err.value.field == "text"
    assert str(MAX_TEXT_CHARS) in err.value.message
    assert parse_request({"text": "x" * MAX_TEXT_CHARS}).text  # the limit itself is accepted


def test_a_shot_may_say_text_or_description_for_its_prompt() -> None:
    req = parse_request({"text": "a balloon", "duration": 8,
                         "shots": [{"text": "a red balloon rises", "duration": 4}, {"description": "it pops", "duration": 4}]})
    assert [s.prompt for s in req.shots or []] == ["a red balloon rises", "it pops"]
    with pytest.raises(InputError) as err:
        parse_request({"text": "x", "shots": [{"caption": "a balloon"}]})
    assert err.value.field == "shots"
