"""Rule families of the routing policy, refusals, and the rules file's own validation."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from skill.data import data_path
from skill.errors import ConfigError, InputError
from skill.planning import make_plan
from skill.rulebook import load_rules


def plan(text: str, **fields: object):  # type: ignore[no-untyped-def]
    return make_plan({"text": text, **fields})


def refusal(text: str, **fields: object) -> InputError:
    with pytest.raises(InputError) as info:
        make_plan({"text": text, **fields})
    return info.value


# -- tier ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tier", "rule"),
    [
        ("a fox in snow, Kling 4K please", "4k", "tier.named"),
        ("V3.0 Pro: a fox in snow", "pro", "tier.named"),
        ("Kling 3.0 Standard, a fox in snow", "standard", "tier.named"),
        ("a fox in snow for an LED wall", "4k", "tier.native_4k"),
        ("a fox in snow, 3840x2160 master", "4k", "tier.native_4k"),
        ("hero shot of a fox in snow", "pro", "tier.hero_role"),
        ("a talking head explainer", "pro", "tier.hero_role"),
        ("rough storyboard of a fox in snow", "standard", "tier.draft_role"),
        ("a fox in snow", "standard", "tier.default"),
    ],
)
def test_tier_rules_in_policy_order(text: str, tier: str, rule: str) -> None:
    p = plan(text)
    assert p.tier == tier
    assert p.decision.rules["tier"] == rule


def test_explicit_tier_name_beats_4k_need_and_role() -> None:
    p = plan("billboard hero ad, use Kling Pro")
    assert p.tier == "pro" and p.decision.rules["tier"] == "tier.named"


def test_field_beats_text() -> None:
    p = plan("Kling 4K billboard", tier="standard")
    assert p.tier == "standard" and p.decision.rules["tier"] == "tier.field"


@pytest.mark.parametrize("text", ["not 4K, a hero shot", "no need for 4K: hero shot", "skip the 4K tier, hero shot"])
def test_negated_tier_is_ruled_out_and_next_rule_decides(text: str) -> None:
    p = plan(text)
    assert p.tier == "pro"
    assert "4k" in p.decision.ruled_out["tier"]
    assert any(s.get("state") == "negated" for s in p.decision.signals)


def test_without_going_pro_rules_out_pro() -> None:
    p = plan("a premium look without going pro")
    assert p.tier == "standard"


@pytest.mark.parametrize("text", ["shot on a GoPro", "a professional chef", "filmed on an iPhone 15 Pro", "a superhero lands"])
def test_words_containing_a_tier_name_do_not_select_it(text: str) -> None:
    assert plan(text).tier == "standard"


@pytest.mark.parametrize(
    "text",
    ["a quick draft before we commit to the 4K render", "rough cut now, will upscale to 4K later", "preview now, 4K version later"],
)
def test_4k_later_does_not_decide_this_call(text: str) -> None:
    p = plan(text)
    assert p.tier == "standard"
    assert any(s.get("state") == "deferred" for s in p.decision.signals)


# -- mode and images -------------------------------------------------------------------------


def test_image_url_in_text_makes_i2v_and_is_sent_as_start_image() -> None:
    p = plan("animate https://cdn.example.com/a/product.jpg?v=2 with a slow push-in")
    assert p.mode == "i2v"
    assert p.payload["start_image_url"] == "https://cdn.example.com/a/product.jpg?v=2"
    assert "aspect_ratio" not in p.payload


def test_second_url_introduced_as_end_frame_is_the_tail_and_raises_to_pro() -> None:
    p = plan("start on https://x.example.com/a.png and end on https://x.example.com/b.png")
    assert (p.mode, p.tier) == ("i2v", "pro")
    assert p.payload["end_image_url"] == "https://x.example.com/b.png"
    assert p.decision.changes and p.decision.changes[0]["rule"] == "tier.end_frame_needs_pro"


def test_reference_only_url_is_not_a_source() -> None:
    p = plan("a misty forest; https://x.example.com/mood.webp is only a colour reference, don't animate it")
    assert p.mode == "t2v"
    assert any(w.startswith("reference_image_not_sent") for w in p.warnings)


@pytest.mark.parametrize(
    ("text", "fields", "code", "field"),
    [
        ("animate this photo of my dog", {}, "missing_image", "image_url"),
        ("a dog", {"mode": "i2v"}, "missing_image", "image_url"),
        ("a dog", {"tail_image_url": "https://x.example.com/b.png"}, "tail_without_source", "tail_image_url"),
        (
            "a dog",
            {"image_url": "https://x.example.com/a.png", "tail_image_url": "https://x.example.com/b.png", "tier": "standard"},
            "end_frame_unsupported",
            "tail_image_url",
        ),
        ("a dog in 4:5", {}, "bad_aspect_ratio", "aspect_ratio"),
        ("a 2 second clip of a dog", {}, "duration_out_of_range", "duration"),
        ("a 3 minute film of a dog", {}, "duration_out_of_range", "duration"),
        ("a 15 s dog video in 4K under $1", {}, "over_budget", "max_cost_usd"),
        ("a dog", {"image_url": "http://x.example.com/a.png"}, "invalid_input", "image_url"),
        ("a dog", {"image_url": "https://x.example.com/a.gif"}, "invalid_input", "image_url"),
        ("a dog", {"cfg_scale": 1.5}, "invalid_input", "cfg_scale"),
    ],
)
def test_refusals_carry_code_and_field(text: str, fields: dict[str, object], code: str, field: str) -> None:
    err = refusal(text, **fields)
    assert (err.code, err.field) == (code, field)
    assert err.exit_code == 65
    assert err.message


# -- budget ----------------------------------------------------------------------------------


def test_budget_steps_down_and_says_so() -> None:
    p = plan("a billboard of a city at night, 10 seconds, under $2")
    assert p.tier == "pro"  # 4k $4.20 > $2; pro $1.12 fits
    assert p.cost_usd == pytest.approx(1.12)
    change = p.decision.changes[-1]
    assert change["rule"] == "budget.step_down" and change["from"] == "4k" and change["to"] == "pro"


def test_over_budget_refusal_gives_the_figures() -> None:
    err = refusal("a 10 second clip with music", max_cost_usd=0.5)
    assert err.code == "over_budget"
    assert "1.26" in err.message and "0.50" in err.message


def test_end_frame_stops_step_down_at_pro() -> None:
    err = refusal(
        "a dog", image_url="https://x.example.com/a.png", tail_image_url="https://x.example.com/b.png", max_cost_usd=0.5
    )
    assert err.code == "over_budget" and err.details["tier"] == "pro"


# -- parameters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("8 seconds", 8), ("an 8s clip", 8), ("an 8-second clip", 8), ("eight seconds", 8), ("twelve secs", 12), ("half a minute", 30)],
)
def test_durations_in_digits_and_words(text: str, seconds: int) -> None:
    assert plan(f"a dog, {text}").params.duration == seconds


def test_90s_style_is_not_a_duration() -> None:
    assert plan("a 90s style music video").params.duration == 5


@pytest.mark.parametrize(
    ("text", "ratio"),
    [("for TikTok", "9:16"), ("square", "1:1"), ("for YouTube", "16:9"), ("YouTube Shorts", "9:16"), ("anamorphic", "21:9"), ("in 3:4", "3:4")],
)
def test_aspect_words(text: str, ratio: str) -> None:
    assert plan(f"a dog running {text}").params.aspect_ratio == ratio


def test_cropped_ratio_renders_nearest_native_and_warns() -> None:
    p = plan("a dog running, cinemascope")
    assert p.params.render_aspect_ratio == "16:9" and p.payload["aspect_ratio"] == "16:9"
    assert any(w.startswith("crop_locally") for w in p.warnings)


@pytest.mark.parametrize(("text", "audio"), [("with sound", True), ("voiceover", True), ("silent", False), ("no audio", False), ("", False)])
def test_audio_words(text: str, audio: bool) -> None:
    p = plan(f"a dog running {text}")
    assert p.params.generate_audio is audio
    assert p.payload["sound"] is audio


def test_audio_flag_and_duration_always_sent_explicitly() -> None:
    for p in (plan("a dog"), plan("a dog", image_url="https://x.example.com/a.png")):
        flag = "sound" if p.mode == "t2v" else "generate_audio"
        assert p.payload[flag] is False and p.payload["duration"] == 5


def test_seed_is_accepted_warned_and_never_sent() -> None:
    p = plan("a dog", seed=42)
    assert "seed" not in p.payload
    assert any(w.startswith("seed_ignored") for w in p.warnings)


def test_long_request_is_segmented_into_balanced_calls() -> None:
    p = plan("a 40-second film of a lighthouse")
    assert [s.duration for s in p.segments] == [14, 13, 13]
    assert all(s.payload["duration"] == s.duration for s in p.segments)
    assert p.cost_usd == pytest.approx(40 * 0.084)


# -- rules file ------------------------------------------------------------------------------


def _rules_copy(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(data_path("routing_rules.yaml").read_text(encoding="utf-8"))
    mutate(data)
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_a_rule_deciding_an_unknown_slot_is_refused(tmp_path: Path) -> None:
    def mutate(d):  # type: ignore[no-untyped-def]
        d["rules"].append({"id": "colour.always", "slot": "colour", "set": "red"})

    with pytest.raises(ConfigError) as info:
        load_rules(_rules_copy(tmp_path, mutate))
    assert "unknown slot(s) ['colour']" in info.value.message
    assert "tier" in info.value.message  # the allowed slots are named


def test_bad_rules_file_names_the_rule(tmp_path: Path) -> None:
    def mutate(d):  # type: ignore[no-untyped-def]
        d["rules"][1]["colour"] = "red"

    with pytest.raises(ConfigError) as info:
        load_rules(_rules_copy(tmp_path, mutate))
    assert "mode.source_field" in info.value.message and "colour" in info.value.message


def test_rule_referring_to_unknown_signal_is_rejected(tmp_path: Path) -> None:
    def mutate(d):  # type: ignore[no-untyped-def]
        d["rules"][2]["when"] = {"signal": "no_such_signal"}

    with pytest.raises(ConfigError) as info:
        load_rules(_rules_copy(tmp_path, mutate))
    assert "no_such_signal" in info.value.message


def test_bad_regex_names_the_signal(tmp_path: Path) -> None:
    def mutate(d):  # type: ignore[no-untyped-def]
        d["signals"][0]["values"]["i2v"].append("(unclosed")

    with pytest.raises(ConfigError) as info:
        load_rules(_rules_copy(tmp_path, mutate))
    assert "mode_named" in info.value.message


def test_vocabulary_is_data_a_new_synonym_needs_no_code(tmp_path: Path) -> None:
    def mutate(d):  # type: ignore[no-untyped-def]
        for sig in d["signals"]:
            if sig["name"] == "needs_4k":
                sig["patterns"].append(r"\bscoreboard\b")

    path = _rules_copy(tmp_path, mutate)
    assert make_plan({"text": "a goal replay for the scoreboard"}, rules_path=path).tier == "4k"
    assert make_plan({"text": "a goal replay for the scoreboard"}).tier == "standard"


def test_python_holds_no_policy_vocabulary() -> None:
    src = Path(__file__).resolve().parent.parent / "skill"
    engine = "".join((src / name).read_text() for name in ("rulebook.py", "routing.py", "intent.py", "textmatch.py", "planning.py"))
    for word in ("billboard", "hero", "draft", "vertical", "kling", "tiktok"):
        assert not re.search(rf"\b{word}\b", engine, re.IGNORECASE), word


def test_shipped_rules_are_copied_not_shared(tmp_path: Path) -> None:
    copy = tmp_path / "r.yaml"
    shutil.copy(data_path("routing_rules.yaml"), copy)
    assert load_rules(copy).data == load_rules().data


# -- properties ------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_text_plans_or_refuses_and_is_deterministic(text: str) -> None:
    def once() -> object:
        try:
            return make_plan({"text": text or "x"}).to_json_dict()
        except InputError as exc:
            return exc.to_dict()

    assert once() == once()


words = st.sampled_from(
    ["4K", "not", "pro", "Kling", "draft", "hero", "vertical", "8 seconds", "with sound", "silent", "under $2",
     "https://x.example.com/a.jpg", "end on", "later", "billboard", "square", "21:9", "no need for", ",", "."]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(words, max_size=14))
def test_keyword_soup_never_crashes(parts: list[str]) -> None:
    text = " ".join(parts) or "x"
    try:
        p = make_plan({"text": text})
    except InputError as exc:
        assert exc.code in {"missing_image", "tail_without_source", "over_budget", "bad_aspect_ratio", "duration_out_of_range", "invalid_input", "end_frame_unsupported"}
    else:
        assert p.cost_usd > 0 and 3 <= p.segments[0].duration <= 15


def _extract_both(text: str) -> tuple[object, object]:
    from skill import intent

    rules = load_rules()
    plain = intent.extract(text, rules)
    saved = intent._PREFILTER
    intent._PREFILTER = True
    try:
        filtered = intent.extract(text, rules)
    finally:
        intent._PREFILTER = saved
    return plain, filtered


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=200), st.lists(words, max_size=14).map(" ".join)))
def test_batch_prefilter_never_changes_what_is_found(text: str) -> None:
    plain, filtered = _extract_both(text)
    assert plain == filtered


def test_batch_prefilter_agrees_on_the_whole_corpus() -> None:
    import json
    from pathlib import Path

    corpus = Path(__file__).parent / "corpus" / "routing.jsonl"
    for line in corpus.read_text().splitlines():
        text = json.loads(line)["request"].get("text", "")
        plain, filtered = _extract_both(text)
        assert plain == filtered, text


# -- negation by scope and the content test ---------------------------------------------------

LOOK_ALIKES = [  # (text, tier, aspect_ratio, duration): scene words decide nothing
    ("a 4K monitor on a desk, steam rising from a mug", "standard", "16:9", 5),
    ("a vertical cliff face at sunset", "standard", "16:9", 5),
    ("a 30-second timer on a kitchen counter", "standard", "16:9", 5),
    ("a pro surfer riding a wave", "standard", "16:9", 5),
    ("a video for pro athletes stretching", "standard", "16:9", 5),
    ("a draft beer tap pouring into a glass", "standard", "16:9", 5),
    ("the final whistle blows in a stadium", "standard", "16:9", 5),
    # ... while the same words about the video still count
    ("a 4K render of a canyon at dawn", "4k", "16:9", 5),
    ("for a 4K TV in a showroom, a slow orbit around a car", "4k", "16:9", 5),
    ("vertical video of a climber on a cliff", "standard", "9:16", 5),
    ("a 30-second pan across a harbour", "standard", "16:9", 30),
    ("no dialogue in vertical format, a cat on a sofa", "standard", "9:16", 5),
]


@pytest.mark.parametrize(("text", "tier", "ratio", "seconds"), LOOK_ALIKES)
def test_words_about_the_scene_are_content(text: str, tier: str, ratio: str, seconds: int) -> None:
    p = make_plan({"text": text})
    assert (p.tier, p.params.aspect_ratio, p.params.duration) == (tier, ratio, seconds)


@pytest.mark.parametrize(
    "text",
    [
        "we're not paying for 4K, billboard of a sneaker",
        "anything but the 4K tier, this is for a billboard",
        "not worth pro: our launch video for the app",
        "no need for pro, a product launch video",
    ],
)
def test_a_negated_tier_is_ruled_out_wherever_the_trigger_stands(text: str) -> None:
    p = make_plan({"text": text})
    assert p.tier == "standard"
    assert p.decision.ruled_out.get("tier")


@pytest.mark.parametrize(
    ("text", "seconds", "cap"),
    [
        ("a seventy-five second film of a river", 75, None),
        ("seven and a half seconds of rain on a window", 8, None),
        ("keep it under seventy-five cents, a fox in snow", 5, 0.75),
        ("a hundred and twenty seconds of waves", 120, None),
        ("spend at most 1.20 on a clip of a fox", 5, 1.2),
        ("Shot 1 (0-3s): a kettle on a stove. Shot 2 (3-7s): steam rises and she pours the tea.", 7, None),
    ],
)
def test_quantities_are_read_as_quantities(text: str, seconds: int, cap: float | None) -> None:
    p = make_plan({"text": text})
    assert (p.params.duration, p.params.max_cost_usd) == (seconds, cap)


@pytest.mark.parametrize(
    ("text", "tier", "mode"),
    [
        ("kling/kling-3.0/pro/text-to-video: a fox in snow", "pro", "t2v"),
        ("use kling/kling-3.0/4k/image-to-video with https://a.example.com/x.png", "4k", "i2v"),
        ("protier please, a fox", "pro", "t2v"),
        ("render in 4 k, a canyon at dawn", "4k", "t2v"),
        ("a 4 kids birthday party", "standard", "t2v"),
    ],
)
def test_model_ids_and_joined_or_split_tier_names(text: str, tier: str, mode: str) -> None:
    p = make_plan({"text": text})
    assert (p.tier, p.mode) == (tier, mode)


@pytest.mark.parametrize(
    ("request_", "outcome"),
    [
        ({"text": "slow push-in on the painting", "image_url": "https://storage.example.com/u/9f3c2a?X-Amz-Signature=8b1e"}, "i2v"),
        ({"text": "animate the logo", "image_url": "https://cdn.example.com/loops/logo.gif"}, "invalid_input"),
        ({"text": "animate the photo", "image_url": "https://user:pass@img.example.com/p.jpg"}, "invalid_input"),
        ({"text": "old scan https://files.example.org/scans/1962.bmp - make everyone wave"}, "i2v"),
        ({"text": "make this gif move smoother: https://img.example.org/loops/dance.gif"}, "missing_image"),
        ({"text": "bring the painting on this page to life: https://img.example.org/gallery/night.html"}, "missing_image"),
        ({"text": "bring the city to life at night with neon"}, "t2v"),
    ],
)
def test_urls_follow_the_policy(request_: dict[str, str], outcome: str) -> None:
    try:
        got = make_plan(request_).mode
    except InputError as exc:
        got = exc.code
        if outcome == "missing_image" and "http" in request_["text"]:
            assert request_["text"].split()[-1].rstrip(".") in exc.message  # the URL is named
    assert got == outcome


def test_a_url_that_is_not_used_is_named_in_a_warning() -> None:
    p = make_plan({"text": "a fox in snow, see https://example.org/brief for the mood"})
    assert p.mode == "t2v"
    assert any(w.startswith("url_not_used: https://example.org/brief ") for w in p.warnings)


def test_quoted_words_after_a_speech_or_label_word_are_content() -> None:
    p = make_plan({"text": "an hourglass labelled 'one minute' draining sand on an oak desk"})
    assert p.params.duration == 5
    p = make_plan({"text": 'she says "make it vertical and 4K" to the camera'})
    assert (p.tier, p.params.aspect_ratio) == ("standard", "16:9")


@pytest.mark.parametrize(
    ("text", "warned"),
    [("Un perro corre en la playa con una pelota, vídeo vertical", True),
     ("Ein Hund läuft mit einem Ball am Strand und die Sonne scheint", True),
     ("a dog runs on the beach with a ball, la dolce vita in the sun", False)],
)
def test_text_in_another_language_is_warned_not_routed_on_accidents(text: str, warned: bool) -> None:
    codes = [w.split(":")[0] for w in make_plan({"text": text}).warnings]
    assert ("language_not_english" in codes) == warned


@pytest.mark.parametrize(
    ("text", "kept"),
    [("a 4K monitor on a desk, steam rising from a mug", "4K monitor"),
     ("a vertical cliff face at sunset", "vertical cliff"),
     ("a 30-second timer on a kitchen counter", "30-second timer")],
)
def test_words_the_router_read_as_content_stay_in_the_prompt(text: str, kept: str) -> None:
    p = make_plan({"text": text})
    assert kept in p.prompt
    assert (p.tier, p.params.aspect_ratio, p.params.duration) == ("standard", "16:9", 5)


def test_routing_words_still_leave_the_prompt() -> None:
    p = make_plan({"text": "a quick vertical draft of a barista pulling espresso, with cafe sound"})
    assert "vertical" not in p.prompt.lower() and "draft" not in p.prompt.lower()


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("Make it 4K - no wait, Pro is enough. A sailboat heeling at sunset.", "tier", "pro"),
        ("Vertical - actually no, make it square: a bowl of cherries spinning.", "aspect_ratio", "1:1"),
        ("10 seconds, sorry, I meant 8: a chameleon changing colour on a branch.", "duration", 8),
        ("Instead of 16:9 let's do 21:9: a convoy of trucks crossing a salt flat.", "aspect_ratio", "21:9"),
        ("Final version? Not yet, this is a rough pass: a skyline reflected in a puddle.", "tier", "standard"),
        ("Was going to ask for Pro, but the cheapest is fine: a rubber duck in a bathtub.", "tier", "standard"),
    ],
)
def test_a_value_taken_back_gives_way_to_the_one_that_follows(text: str, field: str, value: object) -> None:
    p = make_plan({"text": text})
    got = {"tier": p.tier, "aspect_ratio": p.params.aspect_ratio, "duration": p.params.duration}[field]
    assert got == value


# -- structured briefs, mind changes, hedges: fresh sentences for each family of the dev L round


@pytest.mark.parametrize(
    ("text", "tier", "seconds", "audio"),
    [
        ('{"scene": "a heron fishing at dawn", "clip_seconds": 12, "render_quality": "pro"}', "pro", 12, False),
        ("output_tier = standard\nsubject = a heron fishing\ntarget_len = 7", "standard", 7, False),
        ("concept: paper lanterns rising\ntotal_duration: 9s\nsound_on: true", "standard", 9, True),
        ('{"prompt": "paper lanterns rising", "enable_audio": "yes", "video_length_sec": 6}', "standard", 6, True),
        ("Video grade: pro | runtime_s: 11 | desc: a heron lifting off", "pro", 11, False),
    ],
)
def test_brief_keys_are_read_by_their_key_words(text: str, tier: str, seconds: int, audio: bool) -> None:
    p = plan(text)
    assert (p.tier, p.params.duration, p.params.generate_audio) == (tier, seconds, audio)


@pytest.mark.parametrize(
    ("text", "tier", "seconds"),
    [
        ("Originally I asked for 4K, but this is only a work-in-progress look at the heron.", "standard", 5),
        ("Do 12 seconds... actually 7... a heron lifting off the water.", "standard", 7),
        ("4K feels a bit much, right? It's the client deliverable though: a heron at dawn.", "pro", 5),
        ("A heron at dawn, premium look, nothing crazy like 4K.", "pro", 5),
        ("For the TV spot launching next week: a heron lifting off the lake.", "pro", 5),
        ("Read the brief at https://example.com/brief first, then make a launch video of a heron.", "pro", 5),
        ("Quarter of a minute: a heron lifting off the lake.", "standard", 15),
    ],
)
def test_mind_changes_hedges_and_dates_are_read_as_people_mean_them(text: str, tier: str, seconds: int) -> None:
    p = plan(text)
    assert (p.tier, p.params.duration) == (tier, seconds)


def test_a_budget_taken_back_is_replaced_by_the_new_one() -> None:
    p = plan("A heron at dawn, 10 seconds, max fifty cents... no wait, make the cap three dollars.")
    assert p.tier == "standard" and p.params.duration == 10


@pytest.mark.parametrize(
    "text",
    [
        "The photo of my grandfather on the porch should come to life: he waves.",
        '{"job": "x", "task": "animate_picture", "seconds": 6}',
    ],
)
def test_asking_to_animate_without_an_image_is_refused(text: str) -> None:
    assert refusal(text).code == "missing_image"


def test_a_url_marked_not_to_be_animated_before_it_is_a_reference() -> None:
    p = plan("Palette only, please keep this one still and not animated: https://cdn.example.com/m/a.jpg. A heron at dawn.")
    assert p.mode == "t2v"


@pytest.mark.parametrize("text", ["With the roar of the waterfall behind her, she dives.", "Gulls circling the pier, waves and cheers."])
def test_a_sound_named_in_the_scene_turns_audio_on_and_stays_in_the_prompt(text: str) -> None:
    p = plan(text)
    assert p.params.generate_audio is True


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("SHOT A 0-4s: a kettle on the stove\nSHOT B 4-9s: steam curls up\nSHOT C 9-13s: a hand lifts it", 13),
        ("[0:00-0:05] dawn over the bay\n[0:05-0:12] the ferry docks", 12),
        ("1) 00:00-00:03 a door opens\n2) 00:03-00:08 a dog runs out", 8),
    ],
)
def test_time_ranges_that_follow_on_time_the_whole_film(text: str, seconds: int) -> None:
    assert plan(text).params.duration == seconds


def test_a_tier_ruled_out_and_asked_for_again_later_is_chosen() -> None:
    p = plan("We meant to skip Pro, but the budget came through - so yes, Pro tier please. A heron at dawn.")
    assert p.tier == "pro"


def test_a_clock_length_is_not_a_ratio() -> None:
    assert refusal("Music video, the whole track is 3:40, can you do all of it?").code == "duration_out_of_range"


def test_a_price_per_clip_is_a_cap() -> None:
    assert refusal("My client caps me at $1 a clip. 15-second walkthrough of a loft, no sound.").code == "over_budget"


@pytest.mark.parametrize(
    ("text", "audio"),
    [
        ("A meadow at dusk with crickets chirping, 8 seconds.", True),
        ("A jazz trio in a cellar bar, soft piano, 6 seconds.", True),
        ("Lighthouse on a cliff, 10s with thunder.", True),
        ("A gospel service at sunrise with a choir.", True),
    ],
)
def test_sounds_and_music_in_the_scene_turn_audio_on(text: str, audio: bool) -> None:
    assert plan(text).params.generate_audio is audio


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("A mid-50s woman smiles at the camera, ten seconds.", 10), ("A 30s spot for the bakery, a tray of buns.", 30)],
)
def test_decades_and_ages_are_not_lengths(text: str, seconds: int) -> None:
    assert plan(text).params.duration == seconds


@pytest.mark.parametrize(
    "text",
    [
        "Same actor in every shot and his face can't drift. Shot 1: he opens a door. Shot 2: he turns.",
        "The founder presents it and must look like himself the whole time, no morphing.",
        "Intent=final_deliverable dur=8 prompt=a runway walk",
    ],
)
def test_identity_and_finished_work_said_other_ways_choose_pro(text: str) -> None:
    assert plan(text).tier == "pro"


def test_the_callers_own_price_is_a_cap() -> None:
    assert refusal("Two-minute silent loop of a campfire, I'll pay 8 dollars max.").code == "over_budget"


def test_a_photo_announced_before_it_is_asked_to_come_alive_needs_the_image() -> None:
    text = "I have a scanned photograph of my grandmother in her garden. I'd love to see it come alive."
    assert refusal(text).code == "missing_image"


@pytest.mark.parametrize(
    ("text", "ratio"),
    [("Lanterns lighting up one by one along a river, 6 seconds.", "16:9"), ("A tram crossing a rainy square in Porto at night.", "16:9"),
     ("Kites over a beach, format: stories, 7 seconds.", "9:16")],
)
def test_idioms_and_places_are_not_ratios(text: str, ratio: str) -> None:
    assert plan(text).params.aspect_ratio == ratio


def test_a_value_taken_back_later_voids_its_earlier_mention() -> None:
    p = plan("A paper rocket lifts off, 3s. Follow-up from the user: not 3 seconds, make it 7.")
    assert p.params.duration == 7


@pytest.mark.parametrize(
    ("text", "tier"),
    [("Please go a step above the basic model, it's the spot that airs on local TV: a tractor at dawn.", "pro"),
     ("Our planetarium's dome show opens with this: the Milky Way rising, 12 seconds.", "4k"),
     ("It's the hero shot, but the budget committee says pro is off the table. Wind turbines at dusk.", "standard")],
)
def test_tiers_said_other_ways(text: str, tier: str) -> None:
    assert plan(text).tier == tier


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("S1 0-5s a tram in fog\nS2 5-11s it stops\nS3 11-16s doors open", 16),
     ("Fireworks over a lake, 8 seconds. Sorry, make that 11.", 11),
     ("A kettle boiling, 10-ish seconds.", 10)],
)
def test_lengths_in_shot_lines_corrections_and_hedges(text: str, seconds: int) -> None:
    assert plan(text).params.duration == seconds


def test_a_bare_ratio_number_and_scope_name_the_wide_ratio() -> None:
    assert plan("Rooftops at blue hour, 10 seconds, ratio 2.39.").params.aspect_ratio == "21:9"
    assert plan("Rooftops at blue hour, 10 seconds, scope, light rain.").params.aspect_ratio == "21:9"


def test_a_later_correction_of_the_same_value_keeps_both_mentions_taken_back() -> None:
    assert plan("vertical 9:16, no wait, the client wants it square. 6s, a lamp.").params.aspect_ratio == "1:1"


def test_a_no_that_names_a_noun_is_not_a_refusal_of_the_length() -> None:
    assert plan("Maybe ten seconds? And no noise please. A cat on a windowsill.").params.duration == 10


@pytest.mark.parametrize(
    ("text", "param", "value"),
    [
        # a replacement takes back every earlier value of its kind, however far back
        ("8 seconds of bread coming out of the oven. No, make it 12, the song is longer.", "duration", 12),
        ("the user wanted 10s but corrected to 6s - a pen signing a contract", "duration", 6),
        ("ultra-wide 21:9 for the banner... actually steam wants 16:9, use that. 7s", "aspect_ratio", "16:9"),
        # a correction aimed at one kind leaves the cue of another kind before it alone
        ("a frog waving, 5s, tiktok, actually make it 6s", "aspect_ratio", "9:16"),
        ("a frog waving, 5s, tiktok, actually make it 6s", "duration", 6),
    ],
)
def test_a_replacement_value_supersedes_its_kind(text: str, param: str, value: object) -> None:
    assert getattr(plan(text).params, param) == value


@pytest.mark.parametrize(
    ("text", "tier"),
    [
        # the correction brings a value of another slot: it was about that slot, not the tier
        ("Kling Pro please. Actually make it twelve seconds rather than ten. A tailor chalks a line.", "pro"),
        ("4K tier. Actually, make it 9:16. A waterfall at dawn.", "4k"),
        # a correction that brings nothing of its own still takes the cue back
        ("Kling Pro please. Hmm, no - scratch that. A tailor chalks a line.", "standard"),
    ],
)
def test_a_correction_is_about_the_slot_of_the_value_it_brings(text: str, tier: str) -> None:
    assert plan(text).tier == tier


@pytest.mark.parametrize(
    ("text", "tier"),
    [("Don't skip the Pro tier on this one - a bakery window with bread rising", "pro"),
     ("Do not skip the 4K tier: a bakery window with bread rising", "4k"),
     ("skip the Pro tier: a bakery window with bread rising", "standard")],
)
def test_a_negated_negation_before_the_cue_affirms_it(text: str, tier: str) -> None:
    assert plan(text).tier == tier


@pytest.mark.parametrize("text", ["A tech reviewer holds up a box labelled 2160p in a home office.",
                                  "A crate stamped 4K on a dock at dawn."])
def test_words_written_on_a_thing_in_the_scene_are_content(text: str) -> None:
    assert plan(text).tier == "standard"


def test_a_price_shown_in_the_scene_is_no_cap() -> None:
    p = plan("A stock ticker scrolls past showing a share price of 0.41.")
    assert p.params.max_cost_usd is None
    assert plan("Keep the price of this under $1: a fox in snow").params.max_cost_usd == 1


def test_the_words_of_an_identifier_are_read_as_words() -> None:
    assert plan("task=hero_video sku=CUP-1 dur=10").tier == "pro"
    assert plan("placement=airport_led_wall; seconds=10").tier == "4k"
    assert refusal("task=animate_product_shot sku=WTCH-77 src= dur=5").code == "missing_image"
    kept = plan("tier_hint: pro, a kettle boiling")
    assert kept.tier == "pro" and "tier_hint" in kept.decision.signals[0]["words"]


def test_text_to_video_ruled_out_leaves_image_to_video_which_needs_its_image() -> None:
    assert refusal("NO TEXT2VIDEO").code == "missing_image"
    assert plan("not text-to-video, not image-to-video: a fox").mode == "t2v"
    assert plan("a fox in snow, no text2video", image_url="https://example.com/a.jpg").mode == "i2v"


def test_every_tier_ruled_out_falls_back_to_standard_by_a_named_rule() -> None:
    p = plan("No 4K tier, no pro tier, no standard tier. A goldfish bowl filling, 5s.")
    assert p.tier == "standard"
    assert "tier.all_ruled_out" in json.dumps(p.decision.model_dump())


def test_a_speech_cue_opening_quoted_words_relayed_by_an_agent_is_no_dialogue() -> None:
    relayed = plan("Assistant: the user sent a photo. They said: 'make it move, a phone wallpaper'.",
                   image_url="https://example.com/a.jpg")
    assert relayed.params.generate_audio is False
    spoken = plan("A barber says 'Next!' and a boy answers 'Me!'")
    assert spoken.params.generate_audio is True


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys silently; a rule list written twice loses the first."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
    seen: set[object] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        assert key not in seen, f"duplicate key {key!r} at line {key_node.start_mark.line + 1}"
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


@pytest.mark.parametrize("path", [data_path("routing_rules.yaml"), *sorted(data_path("").glob("*.yaml"))], ids=str)
def test_data_files_have_no_duplicate_keys(path: Path) -> None:
    yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)


@pytest.mark.parametrize(("text", "ratio"), [
    ("Landscape, no, portrait, no - square. A cat batting at a dangling string.", "1:1"),
    ("Square or vertical? Vertical, definitely. A serum dropper falling into a bottle.", "9:16"),
])
def test_the_last_ratio_said_is_the_request(text: str, ratio: str) -> None:
    assert make_plan({"text": text}).params.aspect_ratio == ratio


def test_the_last_length_said_is_the_request() -> None:
    plan = make_plan({"text": "Ten seconds of a heron fishing. Hmm, 7 seconds is better."})
    assert plan.params.duration == 7


def test_a_resolution_limit_rules_4k_out_and_the_next_rule_decides() -> None:
    plan = make_plan({"text": "For the LED wall in the lobby, but honestly 1080p is plenty. "
                              "A final client deliverable: a bride walking down an aisle."})
    assert plan.tier == "pro"
    assert make_plan({"text": "a cat on a sofa, 1080p is plenty"}).tier == "standard"
