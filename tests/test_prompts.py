"""The prompt builder (skill.prompt): snapshots, structure, properties, template security.

Snapshots live in tests/prompt_snapshots/<case>.json (the input and the built prompt). They are
compared exactly; regenerate them only on purpose:

    UPDATE_SNAPSHOTS=1 /tmp/venv/bin/pytest tests/test_prompts.py
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import tokenize
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skill.errors import ConfigError, InputError
from skill.prompt import (
    BuiltPrompt,
    PromptInput,
    build_prompt,
    detect_camera_moves,
    parse_description,
    split_shots,
)
from skill.prompt import build as bld
from skill.prompt import lexicon as lexm
from skill.prompt import patterns as pat
from skill.prompt.build import _build
from skill.request import Shot

SNAPSHOTS = Path(__file__).parent / "prompt_snapshots"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"

# Each case is the keyword arguments of PromptInput; "shots" is a list of {prompt, duration?}.
CASES: dict[str, dict[str, Any]] = {
    # --- the requests the issue names ---------------------------------------------------------------
    "barista_vertical_cafe_sound": {
        "text": "a quick vertical draft of a barista pulling espresso, with cafe sound",
        "generate_audio": True,
    },
    "cafe_three_shots": {
        "text": "Shot 1: wide shot of a small cafe at dawn, a barista with a red apron wipes the counter. "
        "Shot 2: close-up, she tamps the coffee. "
        "Shot 3: medium shot, slow push-in as she hands the cup to a smiling customer.",
        "duration": 10,
    },
    "cafe_sequence_prose": {
        "text": "opens on a wide shot of the cafe, then cut to a close-up of the espresso dripping into a cup, "
        "finally the barista hands over the cup",
        "duration": 9,
    },
    "i2v_product_hero_tail": {
        "text": "Product hero shot: the perfume bottle on a marble pedestal, slow orbit around it, soft studio light",
        "mode": "i2v",
        "has_tail_image": True,
        "tier": "pro",
    },
    "dialogue_audio_on": {
        "text": 'Two detectives argue in an interrogation room. The older detective slams the table and says '
        'angrily "Where were you last night?" The younger one whispers "I was home."',
        "generate_audio": True,
        "tier": "pro",
    },
    "dialogue_audio_off": {
        "text": 'Two detectives argue in an interrogation room. The older detective slams the table and says '
        'angrily "Where were you last night?"',
    },
    "exclusions_text": {
        "text": "A red sports car speeds down a wet road at night, neon reflections on wet pavement, "
        "no text overlays, no logos",
    },
    "exclusions_merged_with_negative_prompt": {
        "text": "A chef plates a dessert in a busy kitchen, without watermarks or subtitles",
        "negative_prompt": "blurry faces, distorted hands, watermarks",
    },
    "hype_words": {"text": "epic cinematic, 8k, ultra detailed masterpiece of a dragon flying over snowy mountains"},
    "conflicting_styles": {
        "text": "anime style girl walking through a photorealistic city street, black and white, vibrant colors",
    },
    "shots_field_no_durations": {
        "shots": [
            {"prompt": "Wide shot of a foggy harbor at dawn, a fisherman in a yellow raincoat unties his boat"},
            {"prompt": "Medium shot, he rows away from the dock"},
            {"prompt": "Aerial shot, the boat disappears into the fog"},
        ],
        "duration": 10,
    },
    "shots_field_with_durations": {
        "text": "Moody, desaturated.",
        "shots": [
            {"prompt": "Close-up of an old clockmaker's hands repairing a pocket watch", "duration": 4},
            {"prompt": "Rack focus to his face, he smiles", "duration": 3},
            {"prompt": "Wide shot of the workshop, warm lamp light", "duration": 3},
        ],
        "duration": 10,
    },
    # --- i2v -----------------------------------------------------------------------------------------
    "i2v_portrait_keep_face": {
        "text": "Animate this portrait; she smiles and looks at the camera; keep her face exactly the same.",
        "mode": "i2v",
    },
    "i2v_default_anchor": {"text": "the waves roll in and the palm trees sway", "mode": "i2v"},
    "i2v_only_camera_moves": {
        "text": "slow push-in toward the storefront sign, only the camera moves",
        "mode": "i2v",
        "tier": "pro",
    },
    "i2v_two_frames": {
        "text": "Start on image A and end on image B: the flower blooms, time-lapse feel, soft natural light",
        "mode": "i2v",
        "has_tail_image": True,
        "tier": "pro",
    },
    "i2v_multi_shot": {
        "text": "Shot 1: medium shot, the chef tastes the sauce. Shot 2: close-up, he nods.",
        "mode": "i2v",
        "duration": 6,
        "generate_audio": True,
    },
    # --- camera and framing ----------------------------------------------------------------------------
    "camera_verb_form": {
        "text": "The camera slowly pushes in on a steaming cup of coffee on a wooden table, "
        "soft morning window light, warm tones",
    },
    "stacked_camera_moves": {"text": "Drone shot orbiting a lighthouse while the camera zooms in and pans left, stormy sea"},
    "static_camera": {
        "text": "Locked-off static frame of a candle flickering on a windowsill at night, camera fixed, no movement",
    },
    "crane_reveal": {"text": "Crane up to reveal a misty valley at sunrise, a lone hiker on the ridge"},
    "framing_after_subject": {"text": "A lone cowboy rides across the desert at sunset, low angle, 35mm lens"},
    "no_camera_given": {"text": "A golden retriever chases a red ball across a sunny park"},
    # --- shots -----------------------------------------------------------------------------------------
    "sneaker_ad_list": {
        "text": "Make a 15-second vertical ad for my sneaker: wide street shot, close-up on the sole, "
        "then the logo. Add upbeat music.",
        "generate_audio": True,
        "duration": 15,
    },
    "numbered_list": {
        "text": "A short film about a girl and her kite:\n"
        "1. Wide shot of a girl in a red dress running across a meadow\n"
        "2. Low angle, the kite rises into the sky\n"
        "3. Close-up, she laughs",
        "duration": 9,
    },
    "bulleted_list": {
        "text": "- Aerial shot of a mountain lake at dawn\n- Tracking shot, a canoe glides across the water\n"
        "- Close-up, a paddle dips into the lake",
        "duration": 12,
    },
    "shot_headers_with_durations": {
        "text": "Shot 1 (3s): wide shot of a harbor. Shot 2 (0-2s): close-up of a rope. Shot 3: a gull lands.",
        "duration": 8,
    },
    "pronoun_they_shots": {"text": "Shot 1: two kids in raincoats jump into puddles. Shot 2: close-up, they laugh.", "duration": 6},
    "four_k_many_cuts_dialogue": {
        "text": 'Shot 1: wide shot of a throne room, the queen rises. Shot 2: close-up, she says coldly "Kneel." '
        "Shot 3: over-the-shoulder shot, the knight kneels. Shot 4: low angle, the queen smiles.",
        "tier": "4k",
        "duration": 15,
        "generate_audio": True,
        "usd_per_second": 0.42,
    },
    # --- audio -----------------------------------------------------------------------------------------
    "voiceover_spanish": {
        "text": "Tracking shot following a cyclist through Paris at sunrise, calm female voiceover in Spanish, "
        "soft piano music",
        "generate_audio": True,
        "tier": "pro",
    },
    "no_dialogue_no_music": {
        "text": "A potter shapes clay on a wheel in a quiet studio, ambient room tone, the hum of the wheel, "
        "no music, no dialogue",
        "generate_audio": True,
    },
    "dialogue_tagged": {
        "text": 'Close-up of a tired nurse at a hospital vending machine. [Nurse: exhausted, quiet]: "Just one more hour."',
        "generate_audio": True,
    },
    "audio_cues_without_audio": {"text": "Rain falls on a tin roof, rain sounds and distant thunder"},
    "sign_text_is_not_dialogue": {
        "text": 'Slow pan across a rainy street to a neon sign that reads "OPEN 24 HOURS", reflections in puddles',
        "generate_audio": True,
    },
    # --- routing words, styles, lighting --------------------------------------------------------------------
    "routing_words_heavy": {
        "text": "Using Kling Pro, make me an 8 second 16:9 video in 4K under $2 of a hummingbird feeding "
        "from a red flower, macro lens, shallow depth of field",
    },
    "lighting_heavy": {
        "text": "A jazz singer on a small stage, single amber spotlight, blue rim light, cigarette haze, tense atmosphere",
    },
    "cfg_loose_documentary": {
        "text": "Handheld documentary style, a street vendor fries noodles at a night market in Bangkok, candid",
    },
    "cfg_strict_claymation": {"text": "Claymation style, a small fox knits a scarf by the fireplace", "cfg_scale": 0.5},
    "cfg_already_in_range": {"text": "Claymation style, a small fox knits a scarf by the fireplace", "cfg_scale": 0.8},
    # --- refusals ----------------------------------------------------------------------------------------
    "shots_durations_do_not_sum": {
        "shots": [{"prompt": "Wide shot of a beach", "duration": 3}, {"prompt": "Close-up of a crab", "duration": 3}],
        "duration": 8,
    },
    "nothing_left_after_routing_words": {"text": "make a quick 4K video"},
    "seven_shots": {"text": " ".join(f"Shot {i}: a dog runs." for i in range(1, 8)), "duration": 14},
}


def spans_of(text: str) -> tuple[tuple[int, int], ...]:
    """The router's instruction spans of ``text``, as the planner passes them."""
    from skill.intent import extract
    from skill.rulebook import load_rules

    rules = load_rules()
    return extract(text, rules).routing_spans(rules.content_states)


def _inp(case: dict[str, Any]) -> PromptInput:
    kw = dict(case)
    if kw.get("shots") is not None:
        kw["shots"] = [Shot(**s) for s in kw["shots"]]
    kw["routing_spans"] = spans_of(kw.get("text", ""))
    return PromptInput(**kw)


def _run(case: dict[str, Any]) -> dict[str, Any]:
    try:
        built = build_prompt(_inp(case))
    except InputError as exc:
        return {"error": {"type": "InputError", **exc.to_dict()}}
    return built.model_dump(mode="json")


@pytest.mark.parametrize("name", sorted(CASES))
def test_snapshot(name: str) -> None:
    case = CASES[name]
    got = {"input": case, "output": _run(case)}
    path = SNAPSHOTS / f"{name}.json"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return
    assert path.exists(), f"no snapshot for {name}; run with UPDATE_SNAPSHOTS=1 to create it"
    want = json.loads(path.read_text(encoding="utf-8"))
    assert got == want


def test_at_least_thirty_snapshots() -> None:
    assert len(CASES) >= 30
    if not UPDATE:
        assert {p.stem for p in SNAPSHOTS.glob("*.json")} == set(CASES), "stale or missing snapshot files"


# --- structural assertions over every case -----------------------------------------------------------

BUILT = {name: c for name, c in CASES.items() if "error" not in _run(c)}
FUNCTION_WORDS = {"the", "and", "with", "for", "from", "her", "his", "its", "their", "any"}


def _words(text: str) -> set[str]:
    out = set()
    for w in re.findall(r"[a-z0-9']+", text.lower()):
        if len(w) >= 3 and w not in FUNCTION_WORDS:
            out.add(w[:-1] if w.endswith("s") and len(w) > 3 else w)
    return out


def _caller_text(case: dict[str, Any]) -> str:
    return " ".join([case.get("text", ""), *(s["prompt"] for s in case.get("shots") or [])])


@pytest.mark.parametrize("name", sorted(BUILT))
def test_first_clause_carries_camera_and_framing(name: str) -> None:
    case = BUILT[name]
    built = build_prompt(_inp(case))
    desc = parse_description(case.get("text", ""), _inp(case).shots)
    if built.shots:
        for draft, out in zip(desc.shots, built.shots, strict=True):
            lead = [*draft.parts.framing, *draft.parts.camera]
            if lead:
                assert any(out.prompt.lower().startswith(x.lower()) for x in lead), (out.prompt, lead)
    else:
        lead = [*desc.parts.framing, *desc.parts.camera]
        if lead:
            assert any(built.prompt.lower().startswith(x.lower()) for x in lead), (built.prompt, lead)


@pytest.mark.parametrize("name", sorted(BUILT))
def test_shots_numbered_in_order_and_timed(name: str) -> None:
    case = BUILT[name]
    inp = _inp(case)
    built = build_prompt(inp)
    if not built.shots:
        assert "Shot 1:" not in built.prompt
        return
    assert [s.index for s in built.shots] == list(range(1, len(built.shots) + 1))
    assert sum(s.duration for s in built.shots) == inp.duration
    assert all(s.duration >= 1 for s in built.shots)
    positions = [built.prompt.index(f"Shot {s.index}: ") for s in built.shots]
    assert positions == sorted(positions) and positions[0] == 0
    for s in built.shots:
        assert s.prompt in built.prompt


@pytest.mark.parametrize("name", sorted(n for n, c in BUILT.items() if c.get("mode") == "i2v"))
def test_every_i2v_prompt_has_an_anchor_sentence(name: str) -> None:
    built = build_prompt(_inp(BUILT[name]))
    assert built.anchor and "source image" in built.anchor
    assert built.anchor in built.prompt
    for s in built.shots:
        assert built.anchor in s.prompt


@pytest.mark.parametrize("name", sorted(BUILT))
def test_no_excluded_word_in_the_prompt(name: str) -> None:
    built = build_prompt(_inp(BUILT[name]))
    excluded = set().union(*(_words(x) for x in built.parts.exclusions)) if built.parts.exclusions else set()
    assert not excluded & _words(built.prompt)
    if built.parts.exclusions:
        assert built.negative_prompt
        for item in built.parts.exclusions:
            assert item in built.negative_prompt


@pytest.mark.parametrize("name", sorted(BUILT))
def test_no_camera_move_the_caller_did_not_give(name: str) -> None:
    case = BUILT[name]
    built = build_prompt(_inp(case))
    given = set(detect_camera_moves(_caller_text(case)))
    assert set(detect_camera_moves(built.prompt)) <= given


@pytest.mark.parametrize("name", sorted(BUILT))
def test_routing_and_hype_words_do_not_reach_the_prompt(name: str) -> None:
    built = build_prompt(_inp(BUILT[name]))
    low = built.prompt.lower()
    for word in ("quick draft", "vertical", "16:9", "9:16", "8 second", "15-second", "in 4k", "under $2",
                 "kling", "make me", "epic", "masterpiece", "8k", "ultra detailed"):
        assert word not in low, word


# --- the router's spans are the one vocabulary of routing words -------------------------------------------

SPAN_TEXTS = [
    "a barista pours latte art, we're not paying for 4K",
    "a fox in the snow. Make it vertical. 10 seconds please",
    "a lantern on a table, 4K? nah",
    "a 4K monitor on a desk showing a graph",
    "a climber on a vertical cliff, a 30-second timer on the wall",
    "Using Kling Pro, make me an 8 second 16:9 video in 4K under $2 of a hummingbird feeding from a red flower",
    "draft it cheap first on standard, a dog running on a beach, final in 4K later",
    "keep it under $3 and 16:9, a robot waters plants",
    "a quick vertical draft of a barista pulling espresso",
]


@pytest.mark.parametrize("text", SPAN_TEXTS)
def test_a_word_leaves_the_prompt_only_when_it_is_in_a_routing_span(text: str) -> None:
    spans = spans_of(text)
    built = build_prompt(PromptInput(text=text, routing_spans=spans, generate_audio=True))
    lx = lexm.get_lex()
    framing = lx.request_words | lx.function_words | {"video", "draft", "film", "clip"}
    said = re.findall(r"[\w$:]+(?:'[\w]+)?", built.prompt.lower())
    for m in re.finditer(r"[\w$:]+(?:'[\w]+)?", text):
        word = m.group().lower()
        inside = any(a <= m.start() and m.end() <= b for a, b in spans)
        elsewhere = any(
            x.group().lower() == word and not any(a <= x.start() and x.end() <= b for a, b in spans)
            for x in re.finditer(r"[\w$:]+(?:'[\w]+)?", text)
        )
        if inside and not elsewhere:
            assert word not in said, (word, built.prompt)
        elif not inside and not set(word.split("'")) <= framing:
            assert word in said, (word, built.prompt)


def test_a_routing_span_that_names_a_sound_is_the_sound_to_write() -> None:
    text = "a barista pulls espresso, with cafe sound"
    assert spans_of(text)  # it turned the audio on
    built = build_prompt(PromptInput(text=text, routing_spans=spans_of(text), generate_audio=True))
    assert "cafe sound" in built.prompt
    switch = "a barista pulls espresso, with sound"
    built = build_prompt(PromptInput(text=switch, routing_spans=spans_of(switch), generate_audio=True))
    assert "with sound" not in built.prompt


def test_look_alikes_stay_without_any_routing_vocabulary_of_the_builder() -> None:
    for text, kept in [("a 4K monitor on a desk", "4K monitor"), ("a vertical cliff at dawn", "vertical cliff"),
                       ("a 30-second timer on a counter", "30-second timer")]:
        assert spans_of(text) == ()
        assert kept in build_prompt(PromptInput(text=text)).prompt
    # and the builder alone removes nothing of routing: that is the router's reading
    assert "vertical" in build_prompt(PromptInput(text="a fox in the snow, vertical")).prompt


# --- behaviour ------------------------------------------------------------------------------------------


def _codes(built: BuiltPrompt) -> set[str]:
    return {w.code for w in built.warnings}


def test_barista_request_keeps_the_callers_words_and_moves_the_sound() -> None:
    built = build_prompt(_inp(CASES["barista_vertical_cafe_sound"]))
    assert built.prompt.startswith("A barista pulling espresso.")
    assert "Audio: cafe sound" in built.prompt and "No dialogue" in built.prompt
    assert built.parts.subject == "a barista" and built.parts.action == "pulling espresso"
    assert "with cafe sound" not in built.prompt


def test_characters_are_restated_in_later_shots() -> None:
    built = build_prompt(_inp(CASES["cafe_three_shots"]))
    assert built.shots[1].prompt == "Close-up. The barista with a red apron tamps the coffee. A small cafe, at dawn."
    assert "the barista with a red apron" in (built.anchor or "")
    # the scene and lighting introduced in shot 1 are restated
    assert all("small cafe" in s.prompt and "dawn" in s.prompt for s in built.shots)


def test_dialogue_is_tagged_with_audio_and_dropped_without() -> None:
    on = build_prompt(_inp(CASES["dialogue_audio_on"]))
    assert '[Older detective: angrily]: "Where were you last night?"' in on.prompt
    assert '[Younger one: whispering]: "I was home."' in on.prompt
    off = build_prompt(_inp(CASES["dialogue_audio_off"]))
    assert "Where were you" not in off.prompt and "dialogue_without_audio" in _codes(off)


def test_exclusions_move_to_the_negative_prompt_and_merge() -> None:
    built = build_prompt(_inp(CASES["exclusions_text"]))
    assert built.negative_prompt == "text overlays, logos"
    merged = build_prompt(_inp(CASES["exclusions_merged_with_negative_prompt"]))
    assert merged.negative_prompt == "blurry faces, distorted hands, watermarks, subtitles"
    plain = build_prompt(PromptInput(text="a dog runs", negative_prompt="no blur, Blur, distortion"))
    assert plain.negative_prompt == "blur, distortion"


def test_hype_words_are_removed_and_warned() -> None:
    built = build_prompt(_inp(CASES["hype_words"]))
    assert built.prompt == "A dragon flying over snowy mountains."
    assert "hype_words" in _codes(built)


def test_style_lint() -> None:
    built = build_prompt(_inp(CASES["conflicting_styles"]))
    conflicts = [w.message for w in built.warnings if w.code == "style_conflict"]
    assert len(conflicts) == 2 and any("anime" in m and "photoreal" in m for m in conflicts)
    assert "too_many_styles" in _codes(built)


def test_stacked_camera_moves_warning() -> None:
    assert "stacked_camera_moves" in _codes(build_prompt(_inp(CASES["stacked_camera_moves"])))
    assert "stacked_camera_moves" not in _codes(build_prompt(PromptInput(text="handheld tracking shot of a runner")))


def test_costly_4k_warning_states_the_cost() -> None:
    built = build_prompt(_inp(CASES["four_k_many_cuts_dialogue"]))
    msg = next(w.message for w in built.warnings if w.code == "costly_4k_call")
    assert "costs $0.42/s x 15 s = $6.30;" in msg
    unpriced = build_prompt(_inp({**CASES["four_k_many_cuts_dialogue"], "usd_per_second": None}))
    assert "dialogue is costly; validate" in next(w.message for w in unpriced.warnings if w.code == "costly_4k_call")


def test_cfg_scale_is_suggested_never_applied() -> None:
    loose = build_prompt(_inp(CASES["cfg_loose_documentary"]))
    assert any(w.code == "cfg_scale_suggestion" and "0.3-0.4" in w.message for w in loose.warnings)
    strict = build_prompt(_inp(CASES["cfg_strict_claymation"]))
    assert any(w.code == "cfg_scale_suggestion" and "0.7-0.9" in w.message for w in strict.warnings)
    assert "cfg_scale_suggestion" not in _codes(build_prompt(_inp(CASES["cfg_already_in_range"])))
    assert "cfg" not in json.dumps(strict.model_dump(exclude={"warnings"}))


def test_prompt_too_long_is_refused() -> None:
    with pytest.raises(InputError) as err:
        build_prompt(PromptInput(text="A barista with a red apron pulls espresso in a small cafe. " * 60))
    assert err.value.code == "prompt_too_long" and err.value.field == "text"
    with pytest.raises(InputError) as err:
        build_prompt(PromptInput(text="x" * 20_000))
    assert err.value.code == "prompt_too_long"


def test_durations_are_distributed_and_checked() -> None:
    inp = PromptInput(
        shots=[Shot(prompt="wide shot of a beach", duration=2), Shot(prompt="close-up of a crab"), Shot(prompt="a gull lands")],
        duration=10,
    )
    assert [s.duration for s in build_prompt(inp).shots] == [2, 4, 4]
    with pytest.raises(InputError) as err:
        build_prompt(_inp(CASES["shots_durations_do_not_sum"]))
    assert err.value.code == "invalid_input" and err.value.field == "shots"
    assert "3+3 = 6 s" in err.value.message and "8 s" in err.value.message
    with pytest.raises(InputError) as err:
        build_prompt(PromptInput(shots=[Shot(prompt="a", duration=8), Shot(prompt="b"), Shot(prompt="c")], duration=9))
    assert err.value.field == "shots" and err.value.details["sum"] == 8


def test_at_most_six_shots() -> None:
    with pytest.raises(InputError) as err:
        build_prompt(PromptInput(shots=[Shot(prompt=f"a dog, take {i}") for i in range(7)], duration=10))
    assert err.value.field == "shots"
    with pytest.raises(InputError):
        build_prompt(_inp(CASES["seven_shots"]))


def test_a_subset_of_shots_restates_the_anchors() -> None:
    """The planner calls build_prompt once per segment with that segment's shots."""
    shots = [Shot(prompt="Wide shot of a foggy harbor at dawn, a fisherman in a yellow raincoat unties his boat"),
             Shot(prompt="Medium shot, he rows away from the dock")]
    built = build_prompt(PromptInput(shots=shots, duration=6))
    assert "The fisherman in a yellow raincoat rows away" in built.shots[1].prompt
    assert "foggy harbor" in built.shots[1].prompt


def test_end_frame_with_shots_is_warned() -> None:
    built = build_prompt(PromptInput(text="Shot 1: a dog runs. Shot 2: close-up, it barks.", mode="i2v",
                                     has_tail_image=True, duration=6))
    assert "end_frame_with_shots" in _codes(built) and "last frame" not in built.prompt


def test_split_shots() -> None:
    assert split_shots("") == []
    assert split_shots("a dog runs on a beach") == ["a dog runs on a beach"]
    assert split_shots("Shot 1: a dog. Shot 2: a cat.") == ["a dog.", "a cat."]
    assert split_shots("1. a dog\n2. a cat") == ["a dog", "a cat"]
    assert split_shots("- a dog\n* a cat\n• a bird") == ["a dog", "a cat", "a bird"]
    assert split_shots("opens on a beach, then cut to a crab, finally a gull lands") == ["a beach", "a crab", "a gull lands"]
    # "then" inside a shot is an action, not a cut
    assert split_shots("she picks up the cup, then sips") == ["she picks up the cup, then sips"]


def test_parse_description_parts() -> None:
    d = parse_description("The camera slowly pushes in on a barista pulling espresso in a small cafe, golden hour, no logos")
    assert d.parts.camera == ["slow push-in on a barista pulling espresso"]
    assert d.parts.scene == "in a small cafe" and d.parts.lighting == ["golden hour"]
    assert d.parts.exclusions == ["logos"] and d.shots == [] and d.shot_source == "single"
    multi = parse_description("x", [Shot(prompt="close-up of a cup", duration=2), Shot(prompt="a dog", duration=3)])
    assert multi.shot_source == "field" and [s.duration for s in multi.shots] == [2, 3]
    assert multi.shots[0].parts.framing == ["close-up of a cup"]
    json.dumps(d.model_dump())


def test_empty_text() -> None:
    with pytest.raises(InputError):
        build_prompt(PromptInput(text=""))
    # an image alone is enough for i2v: the prompt is the anchor
    built = build_prompt(PromptInput(text="", mode="i2v"))
    assert built.prompt == built.anchor


# --- properties ----------------------------------------------------------------------------------------

VOCAB_BITS = [
    "Shot 1:", "Shot 2 (3s):", "close-up", "wide shot of", "the camera", "slowly", "pushes in", "pan left", "no",
    "without", "with", "sound", "music", '"hello"', "says", "she", "he", "they", "a barista", "the cafe", "in a",
    "at night", "golden hour", "epic", "8k", "anime", "photorealistic", ",", ".", ";", ":", "then cut to",
    "opens on", "finally", "1.", "2)", "\n", "-", "keep her face", "the same", "only the camera moves",
    "[Nurse: tired]:", "vertical", "$2", "8 seconds", "in 4K", "Kling Pro", "whispers", "(", ")", "'", "İ",
]
TEXTS = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(VOCAB_BITS) | st.text(max_size=10), max_size=40).map(" ".join),
)
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


@PROPS
@given(TEXTS, st.sampled_from(["t2v", "i2v"]), st.booleans(), st.integers(3, 15), st.sampled_from(["standard", "4k"]))
def test_any_text_renders_within_limits_or_is_refused(text: str, mode: str, audio: bool, duration: int, tier: str) -> None:
    inp = PromptInput(text=text, mode=mode, generate_audio=audio, duration=duration, tier=tier)  # type: ignore[arg-type]
    try:
        built = build_prompt(inp)
    except InputError:
        return
    assert 0 < len(built.prompt) <= 2500
    assert len(built.shots) <= 6 and all(len(s.prompt) <= 512 for s in built.shots)
    assert built.shots == [] or sum(s.duration for s in built.shots) == duration
    assert _build(inp, None) == built  # deterministic (the memo aside)


@PROPS
@given(st.lists(st.text(min_size=1, max_size=120).filter(str.strip), min_size=1, max_size=6), st.integers(6, 15))
def test_any_shots_render_within_limits_or_are_refused(prompts: list[str], duration: int) -> None:
    inp = PromptInput(shots=[Shot(prompt=p) for p in prompts], duration=duration)
    try:
        built = build_prompt(inp)
    except InputError:
        return
    assert len(built.prompt) <= 2500 and len(built.shots) <= 6
    assert all(len(s.prompt) <= 512 for s in built.shots)
    assert _build(inp, None) == built


@PROPS
@given(TEXTS)
def test_parsing_is_pure(text: str) -> None:
    assert parse_description(text) == parse_description(text)
    assert split_shots(text) == split_shots(text)


# --- templates -----------------------------------------------------------------------------------------


def _user_templates(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, body in files.items():
        (tmp_path / name).write_text(body, encoding="utf-8")
    return tmp_path


HOSTILE = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ shot.__class__.__init__.__globals__ }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ self._TemplateReference__context }}",
    "{{ 'a' * 100000000 }}",
    "{{ 2 ** 100000 }}",
]


@pytest.mark.parametrize("body", HOSTILE)
def test_hostile_template_is_a_config_error(tmp_path: Path, body: str) -> None:
    tdir = _user_templates(tmp_path, {"t2v.j2": body})
    with pytest.raises(ConfigError) as err:
        build_prompt(PromptInput(text="a dog runs"), template_dir=tdir)
    assert err.value.code == "bad_template"
    assert str(tdir / "t2v.j2") in err.value.message


def test_template_syntax_error_names_the_file(tmp_path: Path) -> None:
    tdir = _user_templates(tmp_path, {"t2v.j2": "{% if shot.lead %}\n{{ shot.lead }\n"})
    with pytest.raises(ConfigError) as err:
        build_prompt(PromptInput(text="a dog runs"), template_dir=tdir)
    assert err.value.code == "bad_template" and err.value.details["template"] == str(tdir / "t2v.j2")
    assert "TemplateSyntaxError" in err.value.message


def test_template_undefined_variable_is_a_config_error(tmp_path: Path) -> None:
    tdir = _user_templates(tmp_path, {"t2v.j2": "{{ shot.lead }} {{ no_such_thing }}"})
    with pytest.raises(ConfigError) as err:
        build_prompt(PromptInput(text="a dog runs"), template_dir=tdir)
    assert err.value.code == "bad_template" and "no_such_thing" in err.value.message


def test_error_in_an_included_template_names_that_file(tmp_path: Path) -> None:
    tdir = _user_templates(tmp_path, {"audio.j2": "{{ audio.no_such_key }}"})
    with pytest.raises(ConfigError) as err:
        build_prompt(PromptInput(text="a dog runs", generate_audio=True), template_dir=tdir)
    assert err.value.details["template"] == str(tdir / "audio.j2")
    sub = tmp_path / "b"
    sub.mkdir()
    syntax = _user_templates(sub, {"shot.j2": "{% for %}"})
    with pytest.raises(ConfigError) as err:
        build_prompt(PromptInput(text="a dog runs"), template_dir=syntax)
    assert err.value.details["template"] == str(syntax / "shot.j2")


def test_user_templates_override_and_fall_back(tmp_path: Path) -> None:
    tdir = _user_templates(tmp_path, {"t2v.j2": 'CUSTOM: {% include "shot.j2" %}'})
    built = build_prompt(PromptInput(text="a dog runs"), template_dir=tdir)
    assert built.prompt == "CUSTOM: A dog runs."
    # i2v.j2 is not overridden: the bundled one is used
    assert "source image" in build_prompt(PromptInput(text="a dog runs", mode="i2v"), template_dir=tdir).prompt


# --- the vocabulary ------------------------------------------------------------------------------------


def test_vocabulary_is_validated(tmp_path: Path) -> None:
    from skill.data import data_path
    good = data_path("prompt_vocabulary.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "vocab.yaml"
    bad.write_text(good + "\nunknown_section: [1]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        lexm._lex_for(str(bad))
    assert err.value.code == "bad_data_file" and "unknown_section" in err.value.message
    broken = tmp_path / "vocab2.yaml"
    broken.write_text(good.replace("'ecu'", "'ecu('"), encoding="utf-8")
    with pytest.raises(ConfigError):
        lexm._lex_for(str(broken))


def test_no_kling_vocabulary_in_python() -> None:
    """Python holds mechanisms only: no cue phrase appears in code (comments and docstrings aside)."""
    sources = sorted((Path(__file__).parents[1] / "skill" / "prompt").glob("*.py"))
    source = "\n".join(path.read_text(encoding="utf-8") for path in sources)
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    strings = [
        n.value.lower()
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
    ]
    code = " ".join(strings)
    comments = [t.string for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type == tokenize.COMMENT]
    assert comments  # the tokenizer ran
    for phrase in ("push-in", "close-up", "golden hour", "masterpiece", "tracking shot", "9:16", "whispering",
                   "anime", "photoreal", "handheld", "rim light", "kling pro", "orbit", "left|right"):
        assert not re.search(rf"(?<![\w]){re.escape(phrase)}(?![\w])", code), phrase


# ---------------------------------------------------------------------------------------------
# The on-disk cache of the compiled vocabulary
# ---------------------------------------------------------------------------------------------

_CACHE_TEXTS = [
    "a quick vertical draft of a barista pulling espresso, with cafe sound",
    "Shot 1: slow dolly in on a lighthouse at dusk. Shot 2: aerial orbit around it, fog, film grain",
    'a wide shot of a knight in the rain; he says "hold the gate" in a low voice. no music, 4k, epic',
    "close-up of a cat, golden hour backlight, anime style, keep her face the same",
]


def _lex_fingerprint(lx: Any) -> Any:
    """Everything a build derives from the vocabulary: pattern sources, flags, needs, scanner."""
    def norm(x: Any) -> Any:
        if isinstance(x, re.Pattern):
            return ("re", x.pattern, x.flags, x.groups, dict(x.groupindex))
        if isinstance(x, pat.Rx):
            return ("rx", norm(x.rx), norm(x.at_start), norm(x.needs_rx), x.needs)
        if isinstance(x, pat.Which):
            return ("which", [norm(r) for r in x.rxs])
        if isinstance(x, (list, tuple)):
            return [norm(y) for y in x]
        if isinstance(x, (set, frozenset)):
            return sorted(map(repr, x))
        if isinstance(x, dict):
            return {repr(k): norm(v) for k, v in x.items()}
        return repr(x)

    rxs = [x for x in vars(lx).values() if isinstance(x, pat.Rx)]
    rxs += [rx for _f, rx in lx.cam_forms]
    base = min(rx.uid for rx in rxs)  # ids count on across vocabularies in one process
    return {k: norm(v) for k, v in sorted(vars(lx).items()) if k not in ("scan_ids", "scan_always")} | {
        "scan": sorted((w, sorted(i - base for i in ids)) for w, ids in lx.scan_ids.items()),
        "always": sorted(i - base for i in lx.scan_always),
        "uids": [rx.uid - base for rx in rxs],
    }


def _built_with(lx: Any, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    monkeypatch.setattr(bld, "get_lex", lambda vocabulary=None: lx)
    out = [_build(PromptInput(text=t, generate_audio=True), None).model_dump() for t in _CACHE_TEXTS]
    monkeypatch.undo()
    return out


def _fresh_lex(path: Path) -> Any:
    lexm._lex_for.cache_clear()
    return lexm._lex_for(str(path))


@pytest.fixture
def vocab_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KLING3_HOME", str(tmp_path / "home"))
    src = Path(lexm._default_vocab_path())
    dst = tmp_path / "vocab" / "prompt_vocabulary.yaml"
    dst.parent.mkdir()
    dst.write_bytes(src.read_bytes())
    yield dst
    lexm._lex_for.cache_clear()


def test_vocabulary_cache_is_written_and_used(vocab_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = _lex_fingerprint(lexm.get_lex())
    expected = _built_with(lexm.get_lex(), monkeypatch)
    cache_file = pat._cache_file(str(vocab_copy))
    assert not cache_file.exists()
    cold = _fresh_lex(vocab_copy)
    assert cache_file.is_file()
    stamp = cache_file.stat().st_mtime_ns

    # a warm build parses nothing: neither the YAML nor a single pattern
    def boom(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("the warm cache should have been used")

    internals = pat.regex_internals()
    assert internals is not None
    monkeypatch.setattr(internals[0], "parse", boom)
    monkeypatch.setattr(lexm, "load_yaml", boom)
    monkeypatch.setattr(pat, "trie_starts", boom)
    monkeypatch.setattr(lexm, "trie_longest", boom)
    warm = _fresh_lex(vocab_copy)
    monkeypatch.undo()
    monkeypatch.setenv("KLING3_HOME", str(cache_file.parent.parent))
    assert cache_file.stat().st_mtime_ns == stamp  # nothing to rewrite
    assert _lex_fingerprint(cold) == _lex_fingerprint(warm) == reference
    assert _built_with(warm, monkeypatch) == _built_with(cold, monkeypatch) == expected


def test_corrupt_cache_is_ignored_and_rebuilt(vocab_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _built_with(lexm.get_lex(), monkeypatch)
    monkeypatch.setenv("KLING3_HOME", str(vocab_copy.parent.parent / "home"))
    reference = _lex_fingerprint(_fresh_lex(vocab_copy))
    cache_file = pat._cache_file(str(vocab_copy))
    good = cache_file.read_bytes()
    for bad in (b"", b"not marshal at all", good[: len(good) // 2], good[:-7] + b"\x00" * 7, b"\xff" * 64):
        cache_file.write_bytes(bad)
        lx = _fresh_lex(vocab_copy)
        assert _lex_fingerprint(lx) == reference
        assert _built_with(lx, monkeypatch) == expected
        monkeypatch.setenv("KLING3_HOME", str(vocab_copy.parent.parent / "home"))
        assert cache_file.read_bytes() != bad  # rebuilt and rewritten
    # a well-formed file holding nonsense for every pattern is not trusted either
    # a well-formed file (right key, right checksum) holding nonsense is not trusted either
    import hashlib
    import marshal

    def forge(change: Any) -> None:
        stored = pat.LexCache.load(good)
        assert isinstance(stored, dict)
        change(stored)
        payload = marshal.dumps(stored)
        cache_file.write_bytes(hashlib.sha256(payload).digest() + payload)

    forgeries = [
        lambda d: d.update(codes={k: (0, [1, 2, 3], 0, {}, ()) for k in d["codes"]}),  # code _sre refuses
        lambda d: d.update(codes={k: "junk" for k in d["codes"]}, needs={k: {1: 2} for k in d["needs"]}),
        lambda d: d.update(memo={k: ({}, frozenset(), "(unbalanced") for k in d["memo"]}),  # does not compile
        lambda d: d.update(raw={"version": 2}),  # does not validate
    ]
    for change in forgeries:
        forge(change)
        lx = _fresh_lex(vocab_copy)
        assert _lex_fingerprint(lx) == reference
        assert _built_with(lx, monkeypatch) == expected
        monkeypatch.setenv("KLING3_HOME", str(vocab_copy.parent.parent / "home"))


def test_changed_vocabulary_does_not_reuse_the_cache(vocab_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fresh_lex(vocab_copy)
    cache_file = pat._cache_file(str(vocab_copy))
    before = cache_file.read_bytes()
    # same meaning, different bytes: a new hash, so a full rebuild (the YAML is read again)
    vocab_copy.write_bytes(vocab_copy.read_bytes() + b"\n# edited\n")
    loaded: list[Path] = []
    real_load = lexm.load_yaml

    def spy(path: Path) -> Any:
        loaded.append(path)
        return real_load(path)

    monkeypatch.setattr(lexm, "load_yaml", spy)
    _fresh_lex(vocab_copy)
    assert loaded == [vocab_copy]
    assert cache_file.read_bytes() != before

    # a real change of meaning shows up in the compiled patterns
    text = vocab_copy.read_text(encoding="utf-8")
    assert "'swish pan'" in text
    lx = _fresh_lex(vocab_copy)
    assert lx.move_which["noun"]("swoosh pan") == -1
    vocab_copy.write_text(text.replace("'swish pan'", "'swoosh pan'"), encoding="utf-8")
    lx = _fresh_lex(vocab_copy)
    assert lx.moves[lx.move_which["noun"]("swoosh pan")].name == "whip_pan"
    assert lx.move_which["noun"]("swish pan") == -1


def test_unwritable_home_still_plans(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _built_with(lexm.get_lex(), monkeypatch)
    home = tmp_path / "home"
    home.write_text("a file where the state directory should be")  # mkdir fails, even as root
    monkeypatch.setenv("KLING3_HOME", str(home))
    lexm._lex_for.cache_clear()
    try:
        lx = lexm.get_lex()
        assert _built_with(lx, monkeypatch) == expected
        assert home.is_file()
        bld._build_cached.cache_clear()
        monkeypatch.setenv("KLING3_HOME", str(home))
        built = build_prompt(PromptInput(text=_CACHE_TEXTS[0]))
        assert built.prompt
    finally:
        lexm._lex_for.cache_clear()
        bld._build_cached.cache_clear()


def test_the_cache_can_be_switched_off(vocab_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLING3_PROMPT_CACHE", "off")
    cache_file = pat._cache_file(str(vocab_copy))
    lx = _fresh_lex(vocab_copy)
    assert not cache_file.exists()
    assert _lex_fingerprint(lx) == _lex_fingerprint(lexm.get_lex())
    monkeypatch.setenv("KLING3_PROMPT_CACHE", "on")
    _fresh_lex(vocab_copy)
    assert cache_file.is_file()
