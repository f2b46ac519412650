"""Segmented plans: calls of 3-15 s, shots never split, anchors restated, frames placed right."""

from __future__ import annotations

import pytest

from skill.errors import InputError
from skill.planning import make_plan

BARISTA = ("Shot 1 (8s): a barista with a red apron in a sunlit cafe, wide shot. Shot 2 (8s): close-up, she tamps "
           "the coffee. Shot 3 (8s): she pours milk, slow push-in")


def test_shots_are_never_split_and_calls_stay_within_limits() -> None:
    p = make_plan({"text": BARISTA})
    assert [s.duration for s in p.segments] == [8, 8, 8]
    assert all(3 <= s.duration <= 15 and s.payload["duration"] == s.duration for s in p.segments)
    assert p.params.duration == 24 and p.cost_usd == pytest.approx(24 * 0.084)


def test_every_call_restates_the_characters_and_scene_of_the_film() -> None:
    p = make_plan({"text": BARISTA})
    for seg in p.segments:
        assert "red apron" in seg.prompt and "sunlit cafe" in seg.prompt


def test_short_shots_are_packed_into_as_few_calls_as_possible() -> None:
    shots = [{"prompt": f"shot {i}: a kite over the dunes, wide shot", "duration": 5} for i in range(6)]
    p = make_plan({"text": "a kite film", "shots": shots})
    assert [s.duration for s in p.segments] == [15, 15]
    assert [len(s.shots) for s in p.segments] == [3, 3]


def test_shot_durations_that_do_not_add_up_are_refused() -> None:
    with pytest.raises(InputError) as info:
        make_plan({"text": "a kite film", "duration": 40, "shots": [{"prompt": "a kite", "duration": 10}] * 3})
    assert info.value.field == "shots" and "30" in info.value.message and "40" in info.value.message


def test_a_shot_longer_than_one_call_is_refused() -> None:
    with pytest.raises(InputError) as info:
        make_plan({"text": "a kite film", "shots": [{"prompt": "a kite", "duration": 15}, {"prompt": "the sea", "duration": 2}]})
    assert info.value.field == "shots"


def test_i2v_segments_all_start_from_the_source_and_only_the_last_has_the_end_frame() -> None:
    p = make_plan({"text": "a slow orbit around the sneaker, 30 seconds", "image_url": "https://x.example.com/a.png",
                   "tail_image_url": "https://x.example.com/b.png"})
    assert len(p.segments) == 2 and p.tier == "pro"
    assert all(s.payload["start_image_url"] == "https://x.example.com/a.png" for s in p.segments)
    assert "end_image_url" not in p.segments[0].payload
    assert p.segments[-1].payload["end_image_url"] == "https://x.example.com/b.png"
