"""Stage 1 (skill.intent): which words are instructions to the tool, as spans both stages share."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skill.intent import extract
from skill.rulebook import load_rules

RULES = load_rules(None)


def _spans(text: str) -> list[str]:
    intent = extract(text, RULES)
    return [text[a:b] for a, b in intent.routing_spans(RULES.content_states)]


@pytest.mark.parametrize(
    ("text", "spans"),
    [
        # a negation goes with the cue it rules out
        ("we're not paying for 4K, a billboard spot of a sneaker", ["not paying for 4K", "billboard"]),
        ("anything but the 4K tier, a fox in snow", ["anything but the 4K tier"]),
        ("4K? nah. a fox in snow, keep it under $2", ["4K? nah", "keep it under $2"]),
        # cue words the content test gives back to the scene are not instructions
        ("a 4K monitor on a desk, vertical, 10 seconds, with sound", ["vertical", "10 seconds", "with sound"]),
        ("a vertical cliff face at dawn", []),
        ("a 30-second timer on a kitchen counter", []),
        # a quoted line is what is said, not what is asked
        ('a sign that reads "4K ULTRA" above a shop', []),
        # a shot header is structure the builder reads itself; its time range is an instruction
        ("Shot 1 (0-3s): a fox. Shot 2 (3-7s): it runs", ["0-3s", "3-7s"]),
    ],
)
def test_routing_spans(text: str, spans: list[str]) -> None:
    assert _spans(text) == spans


def test_an_image_url_is_an_instruction() -> None:
    text = "animate https://example.com/cat.png so the cat blinks"
    assert _spans(text) == ["animate https://example.com/cat.png"]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abc 4Kk pro,.;:!?'\"-0123456789s")), max_size=80))
def test_spans_are_ordered_disjoint_and_inside_the_text(text: str) -> None:
    spans = extract(text, RULES).routing_spans(RULES.content_states)
    assert all(0 <= a < b <= len(text) for a, b in spans)
    assert all(b1 < a2 for (_, b1), (a2, _) in itertools.pairwise(spans))


def _names(text: str) -> dict[str, str]:
    return {s.name: s.state for s in extract(text, RULES).signals}


def test_the_clause_after_a_url_ends_at_the_next_url_unless_a_coordinator_joins_them() -> None:
    source, ref = "https://example.com/panel.jpg", "https://example.com/palette.png"
    got = extract(f"animate {source} and use {ref} only as a colour reference", RULES).signals
    assert {s.name: s.value for s in got if s.name.startswith("image_")} == {"image_source": source, "image_reference": ref}
    both = extract(f"{source} and {ref} are colour references only, a fox in snow", RULES).signals
    assert [s.name for s in both if s.name.startswith("image_")] == ["image_reference", "image_reference"]


def test_a_run_named_before_the_cue_dates_the_deliverable_not_a_later_step() -> None:
    assert _names("running on the Piccadilly billboard next month - a fox in snow")["needs_4k_venue"] == "plain"
    assert _names("we do the 4K render next month; a fox in snow")["needs_4k"] == "deferred"


def test_a_thing_named_by_a_cue_and_a_video_noun_is_content() -> None:
    assert _names("a silent film poster peeling off a wall, with the sound of the rain")["audio_off"] == "content"
    assert _names("a silent film of a lighthouse")["audio_off"] == "plain"


@pytest.mark.parametrize(("text", "seconds"), [("Quinze secondes, une boulangerie", 15), ("doze segundos na praia", 12),
                                               ("une minute, un train dans les Alpes", 60), ("um, five seconds of a cat", 5)])
def test_number_words_of_other_languages_read_as_lengths(text: str, seconds: int) -> None:
    assert [s.value for s in extract(text, RULES).signals if s.name == "duration"] == [seconds]
