"""The prompt builder's behaviours (issue 11): minimal edits, the caller's camera clause first,
shots only where the caller made them, continuity, long films, i2v anchors, dialogue, briefs,
other languages; and the router's spans as the one vocabulary of routing words."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from skill.errors import InputError
from skill.planning import make_plan
from skill.prompt import (
    BuiltPrompt,
    PromptInput,
    build_prompt,
    detect_camera_moves,
    parse_description,
    split_shots,
)
from skill.prompt import lexicon as lexm
from skill.request import Shot

IMAGE = "https://example.com/a.png"
TAIL = "https://example.com/b.png"


def spans_of(text: str) -> tuple[tuple[int, int], ...]:
    """The router's instruction spans of ``text``, as the planner passes them."""
    from skill.intent import extract
    from skill.rulebook import load_rules

    rules = load_rules()
    return extract(text, rules).routing_spans(rules.content_states)


def build(text: str = "", **kw: Any) -> BuiltPrompt:
    return build_prompt(PromptInput(text=text, routing_spans=spans_of(text), **kw))


def codes(built: BuiltPrompt) -> set[str]:
    return {w.code for w in built.warnings}


def plan(text: str, **fields: Any) -> Any:
    return make_plan({"text": text, **fields})


# --- the router's spans are the one vocabulary of routing words ------------------------------------

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
_WORD = re.compile(r"[\w$:]+(?:'\w+)?")


@pytest.mark.parametrize("text", SPAN_TEXTS)
def test_a_word_leaves_the_prompt_only_when_it_is_in_a_routing_span(text: str) -> None:
    spans = spans_of(text)
    built = build(text, generate_audio=True)
    lx = lexm.get_lex()
    framing = lx.request_words | lx.function_words | {"video", "draft", "film", "clip"}
    said = [w.lower() for w in _WORD.findall(built.prompt)]

    def inside(m: re.Match[str]) -> bool:
        return any(a <= m.start() and m.end() <= b for a, b in spans)

    words = list(_WORD.finditer(text))
    for m in words:
        word = m.group().lower()
        if inside(m) and not any(x.group().lower() == word and not inside(x) for x in words):
            assert word not in said, (word, built.prompt)
        elif not inside(m) and not set(word.split("'")) <= framing:
            assert word in said, (word, built.prompt)


def test_a_clause_that_was_only_an_instruction_goes_whole() -> None:
    assert build("a barista pours latte art, we're not paying for 4K").prompt == "A barista pours latte art."
    assert build("a fox in the snow. Make it vertical. 10 seconds please").prompt == "A fox in the snow."
    assert build("a lantern on a table, 4K? nah").prompt == "A lantern on a table."
    assert build("Using Kling Pro, a red kite over the dunes").prompt == "A red kite over the dunes."


def test_look_alikes_stay_and_the_builder_alone_removes_nothing_of_routing() -> None:
    for text, kept in [("a 4K monitor on a desk", "4K monitor"), ("a vertical cliff at dawn", "vertical cliff"),
                       ("a 30-second timer on a counter", "30-second timer")]:
        assert spans_of(text) == ()
        assert kept in build(text).prompt
        assert kept in plan(text).prompt
    assert "vertical" in build_prompt(PromptInput(text="a fox in the snow, vertical")).prompt


def test_a_routing_span_that_names_a_sound_is_the_sound_to_write() -> None:
    built = build("a barista pulls espresso, with cafe sound", generate_audio=True)
    assert built.prompt == "A barista pulls espresso. Audio: cafe sound, no dialogue."
    assert "with sound" not in build("a barista pulls espresso, with sound", generate_audio=True).prompt
    assert "wings buzzing" in build("a hummingbird hovers, with sound of wings buzzing", generate_audio=True).prompt


# --- minimal edit ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["A golden retriever chases a red ball across a sunny park",
     "A jazz singer on a small stage, single amber spotlight, blue rim light, cigarette haze, tense atmosphere",
     "Claymation style, a small fox knits a scarf by the fireplace",
     'Slow pan across a rainy street to a neon sign that reads "OPEN 24 HOURS", reflections in puddles'],
)
def test_the_callers_sentences_are_kept(text: str) -> None:
    assert build(text).prompt == text + "."


def test_hype_goes_with_its_whole_modifier_chain() -> None:
    built = build("an amazing stunning epic 8k masterpiece of a cat")
    assert built.prompt == "A cat." and "hype_words" in codes(built)
    assert build("epic cinematic, 8k, ultra detailed masterpiece of a dragon flying over snowy mountains").prompt == (
        "A dragon flying over snowy mountains."
    )
    assert build("a beautiful woman walks through a dramatic sunset").prompt == "A beautiful woman walks through a dramatic sunset."


def test_a_causative_lead_becomes_the_sentence_it_asks_for() -> None:
    assert build("make the lantern flicker and slowly sway").prompt == "The lantern flickers and slowly sways."
    assert build("make the trees sway in the wind").prompt == "The trees sway in the wind."
    assert build("make her smile").prompt == "She smiles."
    assert build("Make a short ad for the sneaker: it spins on a pedestal").prompt.startswith("The sneaker")


def test_request_framing_and_the_requesters_my_go() -> None:
    assert build("Can you make a video of a red fox in the snow, please").prompt == "A red fox in the snow."
    assert build("I need a clip where my dog runs on the beach").prompt == "The dog runs on the beach."
    assert build("can u make video where a cat jumps on the table pls").prompt == "A cat jumps on the table."


def test_the_callers_camera_clause_leads_as_a_whole_clause() -> None:
    assert build("A lone cowboy rides across the desert at sunset, low angle, 35mm lens").prompt == (
        "Low angle, 35mm lens: a lone cowboy rides across the desert at sunset."
    )
    built = build("The perfume bottle on a marble pedestal, slow orbit around it, soft studio light")
    assert built.prompt == "Slow orbit around the perfume bottle on a marble pedestal, soft studio light."
    assert build("A dog runs on the beach. Slow tracking shot.").prompt == "Slow tracking shot: a dog runs on the beach."
    # the camera said as its move; a word "camera" that is no move stays where it is
    assert build("The camera slowly pushes in on a cup of coffee, warm tones").prompt == (
        "Slow push-in on a cup of coffee, warm tones."
    )
    assert build("She smiles and looks at the camera").prompt == "She smiles and looks at the camera."
    # a clause about the camera leads whatever its English; a move said after a dash leads too
    assert build("one old woman is feed the cats on the roof, camera is go slowly from left to right side").prompt == (
        "Camera is go slowly from left to right side: one old woman is feed the cats on the roof."
    )
    assert build("Portrait of the grandfather — slow push-in while he laughs", mode="i2v").prompt.startswith(
        "Slow push-in: portrait of the grandfather, while he laughs."
    )
    assert build("a camera crew films a parade, drone shot").prompt.startswith("Drone shot: a camera crew")
    # a move that points back moves when the next word says who; a clause is not taken in as its object
    assert build("He walks to the shop in the rain, camera follows him from behind").prompt == (
        "Camera follows him from behind: he walks to the shop in the rain."
    )
    assert build("A girl dances, slow orbit around her").prompt == "Slow orbit around her: a girl dances."


def test_a_stacked_move_goes_and_is_warned() -> None:
    built = build("Drone shot orbiting a lighthouse while the camera zooms in and pans left, stormy sea")
    assert built.prompt == "Drone shot orbiting a lighthouse, stormy sea."
    assert "stacked_camera_moves" in codes(built)
    assert "stacked_camera_moves" not in codes(build("handheld tracking shot of a runner"))


def test_exclusions_move_to_the_negative_prompt_and_merge() -> None:
    built = build("A red sports car speeds down a wet road at night, no text overlays, no logos")
    assert built.prompt == "A red sports car speeds down a wet road at night."
    assert built.negative_prompt == "text overlays, logos"
    merged = build("A chef plates a dessert in a busy kitchen, without watermarks or subtitles",
                   negative_prompt="blurry faces, distorted hands, watermarks")
    assert merged.negative_prompt == "blurry faces, distorted hands, watermarks, subtitles"
    assert build("a dog runs", negative_prompt="no blur, Blur, distortion").negative_prompt == "blur, distortion"
    # a man without a hat is a description; "no camera movement" is a camera direction
    assert build("a man without a hat walks in the rain").negative_prompt is None
    assert "no camera movement" in build("a candle flickers, no camera movement").prompt.lower()


# --- shots only where the caller made them ----------------------------------------------------------

SHOT_CASES = [
    ("Shot 1: a dog runs. Shot 2: close-up, it barks.", 2),
    ("Shot A - a lighthouse at dusk. Shot B - close-up, the lamp turns on.", 2),
    ("1. a dog runs\n2. a cat sleeps\n3. a bird sings", 3),
    ("a) a dog runs\nb) a cat sleeps", 2),
    ("- a dog runs\n* a cat sleeps", 2),
    ("It opens on a foggy harbour at dawn. Then we cut to a fisherman coiling rope on deck. "
     "Finally the boat slips out past the lighthouse.", 3),
    ("First the kettle boils then she pours the tea and finally she sips it", 3),
    ("First, the kettle boils, then she pours the tea, and finally she sips it", 3),
    ("a sailboat crosses a bay, then it docks at a pier, then the sailor ties the rope", 3),
    ("she picks up the cup, then sips", 0),
    ("a barista pulls a shot and then hands it over", 0),
    ("A dog sits next to the window and finally sleeps", 0),
]


@pytest.mark.parametrize(("text", "n"), SHOT_CASES)
def test_shots_only_where_the_caller_made_them(text: str, n: int) -> None:
    built = build(text, duration=9)
    assert len(built.shots) == n, built.prompt
    lx = lexm.get_lex()
    for s in built.shots:
        words = re.findall(r"[a-z']+", s.prompt.lower())
        assert len(words) >= 2 and any(w not in lx.function_words for w in words), s.prompt  # never empty


def test_a_later_shot_names_what_its_pronoun_stands_for_only_when_it_is_sure() -> None:
    p = plan("a 40 second film: a kid builds a sandcastle, then a wave washes it away")
    assert p.segments[1].prompt.startswith("A wave washes the sandcastle away")
    two = build("Scene 1: a kettle on a stove. Scene 2: a hand lifts it.", duration=6)
    assert two.shots[1].prompt.startswith("A hand lifts it")  # the kettle or the stove: not guessed
    tea = build("First the kettle boils then she pours the tea and finally she sips it", duration=6)
    assert tea.shots[2].prompt.startswith("She sips it")  # the kettle or the tea: not guessed
    plural = build("Shot 1: seagulls fly across the sky. Shot 2: waves lap the shore.", duration=6)
    assert plural.shots[1].prompt.startswith("Waves lap the shore")


def test_sequencers_never_leave_a_subjectless_or_invented_shot() -> None:
    built = build("It opens on a foggy harbour at dawn. Then we cut to a fisherman coiling rope on deck. "
                  "Finally the boat slips out past the lighthouse.", duration=9)
    assert all(not s.prompt.startswith("We") for s in built.shots)
    assert built.shots[0].prompt.startswith("A foggy harbour at dawn")
    docking = build("a sailboat crossing a bay, then docking at a pier, then the sailor ties the rope", duration=9)
    assert docking.shots[1].prompt.startswith("The sailboat docking at a pier")


def test_later_shots_restate_what_the_first_established_without_inventing() -> None:
    built = build("Shot 1: wide shot of a small cafe at dawn, a barista with a red apron wipes the counter. "
                  "Shot 2: close-up, she tamps the coffee. Shot 3: medium shot, slow push-in as she hands the cup "
                  "to a smiling customer.", duration=10)
    assert "the barista with the red apron tamps the coffee" in built.shots[1].prompt
    assert all("small cafe" in s.prompt for s in built.shots)
    they = build("Shot 1: two kids in raincoats jump into puddles. Shot 2: close-up, they laugh.", duration=6)
    assert "the two kids in raincoats laugh" in they.shots[1].prompt
    bus = build("First a young woman in a yellow raincoat waits at a bus stop in the rain. Then she boards a tram.", duration=6)
    assert " bus " not in f" {bus.shots[1].prompt} ".replace("bus stop", "")
    field = build_prompt(PromptInput(shots=[
        Shot(prompt="Wide shot of a foggy harbor at dawn, a fisherman in a yellow raincoat unties his boat"),
        Shot(prompt="Medium shot, he rows away from the dock")], duration=6))
    assert "the fisherman in the yellow raincoat rows away" in field.shots[1].prompt


def test_the_preamble_is_said_in_every_shot() -> None:
    built = build_prompt(PromptInput(text="Moody, desaturated.", shots=[
        Shot(prompt="Close-up of an old clockmaker's hands", duration=4), Shot(prompt="Wide shot of the workshop", duration=3)],
        duration=7))
    assert all("Moody, desaturated." in s.prompt for s in built.shots)
    sneaker = build("Make a 15-second vertical ad for my sneaker: wide street shot, close-up on the sole, then the logo.",
                    duration=15)
    assert [s.prompt for s in sneaker.shots] == [
        "Wide street shot of the sneaker.", "Close-up on the sole of the sneaker.", "The logo of the sneaker."]


def test_shot_durations_and_counts() -> None:
    inp = PromptInput(shots=[Shot(prompt="wide shot of a beach", duration=2), Shot(prompt="close-up of a crab"),
                             Shot(prompt="a gull lands")], duration=10)
    assert [s.duration for s in build_prompt(inp).shots] == [2, 4, 4]
    with pytest.raises(InputError) as err:
        build_prompt(PromptInput(shots=[Shot(prompt="a beach", duration=3), Shot(prompt="a crab", duration=3)], duration=8))
    assert err.value.code == "invalid_input" and err.value.field == "shots" and "3+3 = 6 s" in err.value.message
    with pytest.raises(InputError) as err:
        build_prompt(PromptInput(shots=[Shot(prompt=f"a dog, take {i}") for i in range(7)], duration=10))
    assert err.value.field == "shots"
    # seven shots written in the text: the last ones are told together, and that is said
    seven = build(" ".join(f"Shot {i}: a dog runs." for i in range(1, 8)), duration=14)
    assert len(seven.shots) == 6 and "shots_merged" in codes(seven)
    assert seven.shots[-1].prompt == "A dog runs. A dog runs."


def test_shots_field_overrides_shots_in_the_text() -> None:
    built = build_prompt(PromptInput(text="Shot 1: a cat. Shot 2: a dog.", shots=[Shot(prompt="a bird"), Shot(prompt="a fish")],
                                     duration=6))
    assert "shots_field_overrides_text" in codes(built) and "cat" not in built.prompt


# --- long films ------------------------------------------------------------------------------------


def test_a_pronoun_names_the_latest_person_not_the_latest_thing_said_with_a() -> None:
    p = plan("A 25-second short, five beats. Beat one: a lighthouse at dusk. Beat two: a small sailboat fights the "
             "swell. Beat three: the keeper spots it through binoculars. Beat four: he swings the beam toward the "
             "boat. Beat five: the sailboat reaches the harbor.")
    assert "The keeper swings the beam" in " ".join(s.prompt for s in p.segments)


def test_a_later_call_names_the_subject_of_the_last_beat_that_had_one() -> None:
    p = plan("A 20 second film: a surfer paddles out at dawn, then catches a big wave, then rides it to the shore")
    assert p.segments[-1].prompt == "The surfer rides the big wave to the shore."


def test_a_long_film_tells_its_story_once_over_its_calls() -> None:
    p = plan("a 30 second film of a sailboat crossing a bay, then docking at a pier, then the sailor ties the rope")
    assert len(p.segments) == 2 and sum(s.duration for s in p.segments) == 30
    first, last = p.segments
    assert "crossing a bay" in first.prompt and "docking at a pier" in first.prompt and "ties the rope" not in first.prompt
    assert "ties the rope" in last.prompt and "crossing a bay" not in last.prompt
    assert len(first.shots) == 2 and first.prompt.startswith("Shot 1:")


def test_later_calls_restate_the_continuity_at_their_head() -> None:
    p = plan("Shot 1 (8s): a barista with a red apron in a sunlit cafe, wide shot. Shot 2 (8s): close-up, she tamps "
             "the coffee. Shot 3 (8s): she pours milk, slow push-in")
    assert len(p.segments) == 3
    for seg in p.segments[1:]:
        assert "barista with the red apron" in seg.prompt and "sunlit cafe" in seg.prompt


def test_a_story_shorter_than_the_film_is_continued_not_repeated() -> None:
    p = plan("a 45 second film of a dog running on a beach")
    prompts = [s.prompt for s in p.segments]
    assert len(prompts) == 3 and len(set(prompts)) == 3
    assert prompts[0] == "A dog running on a beach."
    assert all("dog" in x and "beach" in x for x in prompts[1:])
    assert any(w.startswith("story_shorter_than_film") for w in p.warnings)


# --- i2v anchors -----------------------------------------------------------------------------------


def _i2v(text: str, **kw: Any) -> BuiltPrompt:
    return build(text, mode="i2v", **kw)


def test_anchors_fit_the_subject() -> None:
    person = _i2v("she turns to the camera and smiles")
    assert person.anchor == "Keep her face, identity and wardrobe unchanged from the image."
    product = _i2v("slow orbit around the perfume bottle, soft studio light")
    assert product.anchor == "Keep the perfume bottle's shape, label and colours unchanged."
    place = _i2v("the waves roll in and the palm trees sway")
    assert place.anchor == "Keep the composition of the image unchanged."
    built = _i2v("slow push-in toward the storefront sign, only the camera moves")
    assert built.anchor == "Keep the composition and architecture of the image unchanged."


def test_a_transformation_keeps_only_framing_and_background() -> None:
    built = _i2v("the ice sculpture melts into a puddle", has_tail_image=True, tier="pro")
    assert built.anchor == "Keep the framing and background unchanged."
    assert "identity" not in built.prompt and "subject" not in built.prompt


def test_never_freeze_what_should_move_and_no_boilerplate() -> None:
    scarf = _i2v("a man on a windy cliff, his scarf fluttering in the wind")
    assert scarf.anchor == "Keep the man's face and identity unchanged from the image."
    own = _i2v("she smiles; keep her face exactly the same")
    assert own.anchor is None and own.prompt == "She smiles. Keep her face exactly the same."
    for b in (scarf, own, _i2v("the waves roll in"), _i2v("")):
        assert "subject's identity" not in b.prompt
    assert _i2v("slow push-in").prompt == "Slow push-in."  # nothing named that the image would fix


def test_multi_shot_i2v_anchors_every_shot() -> None:
    built = _i2v("Shot 1: medium shot, the chef tastes the sauce. Shot 2: close-up, he nods.", duration=6)
    assert all("Keep the chef's face" in s.prompt for s in built.shots)
    assert "the chef nods" in built.shots[1].prompt


# --- dialogue --------------------------------------------------------------------------------------


def test_each_line_follows_its_action_with_the_speakers_noun_phrase() -> None:
    p = plan('With sound: a barber calls "Next!" and a small boy answers "Me, sir!"')
    assert p.prompt.startswith('A barber calls out. [Barber, calling out]: "Next!" Immediately, a small boy answers. '
                               '[Small boy]: "Me, sir!"')
    on = build('Two detectives argue in an interrogation room. The older detective slams the table and says angrily '
               '"Where were you last night?" The younger one whispers "I was home."', generate_audio=True)
    assert ('The older detective slams the table. [Older detective, angry]: "Where were you last night?"'
            in on.prompt)
    assert 'the younger detective whispers. [Younger detective, whispering]: "I was home."' in on.prompt
    tagged = build('Close-up of a tired nurse at a vending machine. [Nurse: exhausted, quiet]: "Just one more hour."',
                   generate_audio=True)
    assert '[Tired nurse, exhausted, quiet]: "Just one more hour."' in tagged.prompt


def test_single_quoted_lines_are_dialogue_and_apostrophes_are_not_quotes() -> None:
    built = build("A barber calls 'Next!' and a small boy answers 'Me, sir!'", generate_audio=True)
    assert '[Barber, calling out]: "Next!"' in built.prompt and '[Small boy]: "Me, sir!"' in built.prompt
    kept = build("The players' bench sits by the dog's bowl, it's raining", generate_audio=True)
    assert "players' bench" in kept.prompt and "it's raining" in kept.prompt and "[" not in kept.prompt
    off = build("A mother hugs her son and says 'Have a good day.' No sound needed.")
    assert off.prompt == "A mother hugs her son and speaks."


def test_the_speaker_is_the_noun_phrase_that_names_them_best() -> None:
    appos = build("Reverse shot, the customer, a tired nurse in scrubs, laughs, 'You're a lifesaver.'",
                  generate_audio=True)
    assert "laughs" in appos.prompt and '[Tired nurse, laughing]: "You\'re a lifesaver."' in appos.prompt
    role = build("The suspect, a nervous young man, stammers, 'I was home.'", generate_audio=True)
    assert '[Suspect, stammering]: "I was home."' in role.prompt
    he = build("He looks into the lens, nods, and says confidently, 'Welcome to the channel.'", generate_audio=True)
    assert '[Man, confident]: "Welcome to the channel."' in he.prompt
    pair = build("Two old friends share a bench. The bald one chuckles and says, 'We raced here.' "
                 "His friend replies, wistful, 'And you always lost.'", generate_audio=True)
    assert "The bald friend chuckles. [Bald friend]" in pair.prompt
    assert 'his friend replies. [Other friend, wistful]: "And you always lost."' in pair.prompt
    smile = build("A barista slides a latte across the counter and says with a smile, 'Your usual.'",
                  generate_audio=True)
    assert '[Barista, with a smile]: "Your usual."' in smile.prompt


def test_the_one_spoken_to_after_a_line_goes_to_its_tag() -> None:
    on = build("A street magician pulls a dove from his hat and says 'Ta-da!' to the crowd", generate_audio=True)
    assert on.prompt.startswith('A street magician pulls a dove from his hat. [Street magician, to the crowd]: "Ta-da!"')
    assert build('A barber calls "Next!" to the waiting boys.').prompt == "A barber calls out to the waiting boys."


def test_a_line_of_one_of_a_group_is_tagged_with_the_phrase() -> None:
    built = build("Two chess players sit in a park, one of them says 'Checkmate.' and the other laughs",
                  generate_audio=True)
    assert '[One of them]: "Checkmate."' in built.prompt and "other other" not in built.prompt


def test_reported_speech_with_audio_on_is_a_line_when_no_person_changes() -> None:
    built = build("At a busy market stall, the fruit seller, cheerful and loud, calls out that mangoes are two for "
                  "a dollar while he stacks them into a pyramid.", generate_audio=True)
    assert built.prompt.startswith("At a busy market stall, the fruit seller, cheerful and loud, calls out while he "
                                   'stacks them into a pyramid. [Fruit seller, calling out]: "Mangoes are two for a dollar."')
    same = build("She says that she is tired", generate_audio=True)
    assert same.prompt.startswith("She says that she is tired.") and "no dialogue" not in same.prompt
    assert build("He calls out that mangoes are ripe").prompt == "He calls out that mangoes are ripe."


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("Hi team! Please create a clip where a grandmother knits by the fireplace. Thanks so much, Maria",
         "A grandmother knits by the fireplace."),
        ("A dog runs on the beach. With sincere thanks, Margaret Ellison", "A dog runs on the beach."),
        ("A bakery at dawn, the best bread in town, love it", "A bakery at dawn, the best bread in town, love it."),
        ("The product photo: make the bottle rotate slowly on the table", "The bottle rotates slowly on the table."),
        ("Generate: (1) a baker slides bread into an oven, (2) close-up of the crust browning",
         "Shot 1: A baker slides bread into an oven. Shot 2: Close-up of the crust browning."),
    ],
)
def test_greetings_sign_offs_and_headings_are_the_requests(text: str, want: str) -> None:
    assert build(text, duration=6).prompt == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ('{"output_res": "2160p", "desc": "lava flowing into the sea at night", "dur_s": 15}',
         "Lava flowing into the sea at night."),
        ('{"brief": "two kids racing shopping carts", "frame": "square"}', "Two kids racing shopping carts."),
        ("Kling 4K... wait no, too pricey, skip it. A fox in the snow", "A fox in the snow."),
        ("A fox in the snow. Maybe like 8 secs?", "A fox in the snow."),
        ("A croissant comes out of the oven, format carre (square).", "A croissant comes out of the oven."),
        ("IMAX-style giant-screen opener: camera falls through clouds toward a city, 12s",
         "Camera falls through clouds toward a city."),
    ],
)
def test_what_an_instruction_leaves_around_it_goes_with_it(text: str, want: str) -> None:
    assert plan(text).segments[0].prompt == want


def test_a_quoted_request_is_not_a_line_and_a_word_holding_and_is_not_and() -> None:
    relayed = plan("The user said: 'i just want a little loop of a candle flame flickering'.", generate_audio=True)
    assert "[" not in relayed.segments[0].prompt
    order = plan("Quote: 'make the awning flutter a little and have a couple of people stroll past'.")
    assert "awning flutter" in order.segments[0].prompt
    band = build('A singer smiles and makes her band say "Hello!"', generate_audio=True)
    assert "her band" in band.prompt


def test_an_instruction_clause_goes_whole_with_what_it_says_of_itself() -> None:
    p = plan("I want the very best quality, it's the showpiece of the party. Fireworks over the harbour, 10 seconds.")
    assert p.segments[0].prompt.startswith("It's the") and "very" not in p.segments[0].prompt
    assert "I want the very best quality" in p.prompt_parts["meta"]
    q = plan("animate. motion realism is critical, 8s, sfx", image_url=IMAGE)
    assert "critical" not in q.segments[0].prompt and "Is " not in q.segments[0].prompt


def test_speaker_labels_never_carry_routing_words() -> None:
    for text in ['With sound, 4K: a chef shouts "Service!"', 'Vertical, 10 seconds, with audio: she says "hello"']:
        p = plan(text)
        labels = re.findall(r"\[([^\]]+)\]", p.prompt)
        assert labels and not any(re.search(r"sound|audio|4k|vertical|second", x, re.I) for x in labels), p.prompt


def test_implied_speech_with_audio_gets_no_no_dialogue() -> None:
    assert "no dialogue" not in build("Two friends chat on a park bench", generate_audio=True).prompt.lower()
    assert "no dialogue" not in build("Two lawyers argue in a courtroom", generate_audio=True).prompt.lower()
    assert build("A potter shapes clay", generate_audio=True).prompt.endswith("Audio: natural ambient sound, no dialogue.")


def test_audio_off_gives_a_visual_substitute_and_a_warning() -> None:
    built = build('A chef calls "Order up!" and slams the bell')
    assert built.prompt == "A chef calls out and slams the bell."
    assert "dialogue_without_audio" in codes(built)
    off = build('The older detective slams the table and says angrily "Where were you last night?"')
    assert off.prompt == "The older detective slams the table and speaks angrily."


def test_sign_text_is_not_dialogue() -> None:
    built = build('a neon sign that reads "OPEN 24 HOURS" flickers in the rain', generate_audio=True)
    assert '"OPEN 24 HOURS"' in built.prompt and "[" not in built.prompt


# --- sound -----------------------------------------------------------------------------------------


def test_sound_clauses_go_to_the_audio_part_when_audio_is_on() -> None:
    built = build("A potter shapes clay on a wheel in a quiet studio, ambient room tone, the hum of the wheel, "
                  "no music, no dialogue", generate_audio=True)
    assert built.prompt == ("A potter shapes clay on a wheel in a quiet studio. "
                            "Audio: ambient room tone, the hum of the wheel, no music, no dialogue.")
    off = build("Rain falls on a tin roof, rain sounds and distant thunder")
    assert off.prompt == "Rain falls on a tin roof, rain sounds and distant thunder."
    assert "audio_cues_without_audio" in codes(off)


def test_a_sound_refused_is_a_negative_prompt_whether_audio_is_on_or_off() -> None:
    on = plan("Handheld follow of a vendor flipping noodles in a wok, audio on. No music, just street noise.")
    assert "music" in (on.negative_prompt or "") and "no music" in on.segments[0].prompt
    quiet = build("A man walks his dog in the park, then he throws a ball, and the dog catches it. No talking.")
    assert "talking" not in quiet.prompt.lower() and quiet.negative_prompt == "talking"
    assert "dog catches it" in quiet.prompt  # the shot names its own thing before "it"
    off = plan("A lighthouse at dusk, the lamp flickers on. No dialogue.")
    assert "dialogue" in (off.negative_prompt or "") and "dialogue" not in off.segments[0].prompt.lower()


# --- structured briefs -------------------------------------------------------------------------------


def test_key_value_briefs_are_parsed_into_parts() -> None:
    built = build("subject: a red kite; setting: windy beach, noon; camera: slow pan; avoid: birds, text")
    assert built.prompt == "Slow pan: a red kite, windy beach, noon."
    assert built.negative_prompt == "birds, text"
    lines = build("Subject: an old sailor\nAction: he coils a rope\nLighting: golden hour\nStyle: 35mm film\nAvoid: logos")
    assert lines.prompt == "An old sailor coils a rope, golden hour. 35mm film."
    assert lines.negative_prompt == "logos"


def test_json_briefs_are_parsed_and_an_audio_key_is_the_sound() -> None:
    brief = json.dumps({"subject": "a red kite", "camera": "slow pan", "setting": "windy beach", "audio": "wind and waves"})
    on = build(brief, generate_audio=True)
    assert on.prompt == "Slow pan: a red kite, windy beach. Audio: wind and waves, no dialogue."
    off = build(brief)
    assert "wind and waves" in off.prompt.lower() and "audio_cues_without_audio" in codes(off)
    assert "{" not in off.prompt and '"' not in off.prompt
    assert build(json.dumps({"subject": "a fox", "avoid": ["text", "logos"]})).negative_prompt == "text, logos"


def test_a_numbered_list_of_requirements_is_a_brief_not_shots() -> None:
    p = plan("1. Deliverable: master for a video wall.\n2. Budget: $2.\n3. Duration: 10 s.\n"
             "4. Motion: slow aerial drift over the city, light trails moving along the avenues.\n"
             "5. Constraints: no text overlays, no logos.\n6. Output naming: city_v01.")
    assert p.segments[0].prompt == "Slow aerial drift over the city, light trails moving along the avenues."
    assert not p.segments[0].shots and p.negative_prompt == "text overlays, logos"
    only = make_plan({"text": "1. Budget: 0.30 USD max.\n2. Duration: 3 s.\n3. Audio: false."})
    assert any(w.startswith("thin_prompt") for w in only.warnings)


def test_lettered_and_parenthesised_lists_are_shots() -> None:
    built = build("(a) a chef flambés a pan, flames leap; (b) close-up of the sauce glazing the meat; "
                  "(c) a waiter carries the plate out through swinging doors", duration=9)
    assert [s.prompt.split(" ")[0] for s in built.shots] == ["A", "Close-up", "A"]
    assert "(a)" not in built.prompt and "(b)" not in built.prompt
    assert len(build("a fox (a red one) runs and a) dog sits").shots) == 0


def test_prose_with_a_colon_is_not_a_brief() -> None:
    assert build("Product hero shot: a perfume bottle on a marble pedestal").prompt == "A perfume bottle on a marble pedestal."


# --- other languages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["Un perro corre en la playa con una pelota, al atardecer", "Ein Hund läuft mit einem Ball über eine Wiese im Sommer"],
)
def test_text_in_another_language_is_sent_as_written(text: str) -> None:
    p = plan(text)
    assert p.prompt == text + "."
    assert any(w.startswith("language_not_english") for w in p.warnings)


def test_as_written_only_removes_whole_instruction_clauses() -> None:
    text = "Un perro corre en la playa, vídeo vertical"
    built = build_prompt(PromptInput(text=text, routing_spans=spans_of(text), as_written=True))
    assert built.prompt == "Un perro corre en la playa, vídeo vertical."


def test_another_language_keeps_its_clauses_whole_and_loses_only_the_request_and_negations() -> None:
    es = plan("Quiero un video de 8 segundos para Instagram: la cámara sigue a una bailarina de flamenco "
              "en una plaza de Sevilla al atardecer. Sin música de fondo.")
    assert es.segments[0].prompt == "La cámara sigue a una bailarina de flamenco en una plaza de Sevilla al atardecer."
    assert es.negative_prompt == "música de fondo"
    de = plan("Bitte ein Video im Hochformat: Ein alter Uhrmacher repariert eine Taschenuhr, während die Kamera "
              "langsam auf seine Hände zufährt. Kein Text im Bild.")
    assert de.segments[0].prompt == ("Während die Kamera langsam auf seine Hände zufährt: Ein alter Uhrmacher "
                                     "repariert eine Taschenuhr.")
    assert de.negative_prompt == "Text im Bild"
    assert any(w.startswith("language_not_english") for w in de.warnings)


# --- the public helpers ------------------------------------------------------------------------------


def test_split_shots_and_parse_description() -> None:
    assert split_shots("") == []
    assert split_shots("a dog runs on a beach") == ["a dog runs on a beach"]
    assert split_shots("Shot 1: a dog. Shot 2: a cat.") == ["a dog.", "a cat."]
    assert split_shots("opens on a beach, then cut to a crab, finally a gull lands") == ["a beach", "a crab", "a gull lands"]
    d = parse_description("The camera slowly pushes in on a barista pulling espresso in a small cafe, golden hour, no logos")
    assert d.parts.camera == ["slow push-in on a barista pulling espresso in a small cafe"]
    assert d.parts.lighting == ["golden hour"] and d.parts.exclusions == ["logos"] and d.shots == []
    multi = parse_description("x", [Shot(prompt="close-up of a cup", duration=2), Shot(prompt="a dog", duration=3)])
    assert multi.shot_source == "field" and [s.duration for s in multi.shots] == [2, 3]
    assert detect_camera_moves("a slow dolly in, then the camera pans left") == ["dolly", "pan"]


def test_lint_warnings() -> None:
    styles = build("anime style girl walking through a photorealistic city street, black and white, vibrant colors")
    assert "style_conflict" in codes(styles) and "too_many_styles" in codes(styles)
    assert any(w.code == "cfg_scale_suggestion" and "0.7-0.9" in w.message for w in build("Claymation style, a fox knits").warnings)
    assert "cfg_scale_suggestion" not in codes(build("Claymation style, a fox knits", cfg_scale=0.8))
    four_k = build('Shot 1: wide shot of a throne room, the queen rises. Shot 2: close-up, she says coldly "Kneel." '
                   "Shot 3: over-the-shoulder shot, the knight kneels.", tier="4k", duration=15, generate_audio=True,
                   usd_per_second=0.42)
    assert "costs $0.42/s x 15 s = $6.30;" in next(w.message for w in four_k.warnings if w.code == "costly_4k_call")
    tail = build("Shot 1: a dog runs. Shot 2: close-up, it barks.", mode="i2v", has_tail_image=True, duration=6)
    assert "end_frame_with_shots" in codes(tail)


def test_limits_and_nothing_to_show() -> None:
    with pytest.raises(InputError) as err:
        build("A barista with a red apron pulls espresso in a small cafe. " * 60)
    assert err.value.code == "prompt_too_long" and err.value.field == "text"
    with pytest.raises(InputError) as err:
        build("make a quick 4K video")
    assert err.value.code == "nothing_to_show"
    p = plan("make a quick 4K video")
    assert any(w.startswith("thin_prompt") for w in p.warnings)
    assert build("", mode="i2v").prompt == "Keep the composition of the image unchanged."


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ('generate_video(prompt="a red fox trots through fresh snow", aspect_ratio="9:16", model="kling-v3")',
         ["generate_video", "aspect_ratio", "9:16", "kling-v3", "prompt="]),
        ("Task for video agent: a red fox trots through fresh snow. aspect_ratio=9:16, duration=5",
         ["task", "agent", "aspect_ratio", "duration"]),
        ("Call kling with prompt: a red fox trots through fresh snow; params: resolution=1080p",
         ["call kling", "params", "resolution", "1080p"]),
        ("Use kling-v3 to render a red fox trots through fresh snow. --ar 9:16", ["kling-v3", "--ar", "render"]),
    ],
)
def test_an_agents_tool_call_leaves_only_the_scene(text: str, gone: list[str]) -> None:
    p = make_plan({"text": text})
    assert "red fox trots through fresh snow" in p.prompt.lower()
    assert not [g for g in gone if g.lower() in p.prompt.lower()], p.prompt


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        ("ULTRA-REALISTIC, insanely detailed 8K masterpiece: a hummingbird hovers at a red flower. Hyper-detailed.",
         "hummingbird hovers at a red flower", ["realistic", "detailed", "masterpiece"]),
        ("A close-up of a dewdrop on a leaf, photorealistic, hyperreal, super crisp.", "photorealistic",
         ["hyperreal", "crisp"]),
        ("A slow pan across the bakery counter for our bakery's homepage hero.", "slow pan across the bakery counter",
         ["homepage", "hero"]),
        ("A mini film about a lighthouse keeper climbing the stairs at night.", "lighthouse keeper climbing", ["mini", "film"]),
        ("A story in four beats: 1) a seed sprouts, 2) the stem grows, 3) a bud forms, 4) the flower blooms.",
         "seed sprouts", ["four beats", "story"]),
    ],
)
def test_hype_destinations_and_beat_counts_are_not_scene(text: str, kept: str, gone: list[str]) -> None:
    p = make_plan({"text": text})
    sent = " ".join(s.prompt for s in p.segments).lower()
    assert kept in sent
    assert not [g for g in gone if g in sent], sent


@pytest.mark.parametrize(
    ("text", "lead", "rest"),
    [
        ("A woman walks through the market as the camera slowly tracks her.", "slow tracking shot",
         "a woman walks through the market"),
        ("The old fisherman mends his net on the dock while we slowly pull back to reveal the harbor.",
         "slow pull back to reveal the harbor", "the old fisherman mends his net on the dock"),
        ("Once the kettle starts to whistle, with the camera pushing in slowly, the steam fogs the window.",
         "slow push-in", "once the kettle starts to whistle, the steam fogs the window"),
        ("Two old friends share a bench, feeding pigeons, while the camera slowly arcs around them.",
         "the camera slowly arcs", "two old friends share a bench, feeding pigeons"),
    ],
)
def test_a_move_buried_in_a_subordinate_clause_leads_as_its_own_clause(text: str, lead: str, rest: str) -> None:
    prompt = make_plan({"text": text}).prompt
    head, _, body = prompt.partition(": ")
    assert head.lower() == lead and body.lower().startswith(rest), prompt


@pytest.mark.parametrize(
    ("text", "duration", "beats"),
    [
        ("A film in five beats: a boy wakes up; he brushes his teeth; he runs outside; he arrives at school; "
         "he hugs his friend.", 30, 5),
        ("A 30 second mini film, four beats. A fox wakes in its den. It trots across a frozen field. "
         "It pounces on a mouse. It curls up again at dusk.", 30, 4),
        ("A clip in three beats: the kettle boils, she pours the tea, she sips it.", 12, 3),
        ("A film about a street musician. It opens on him setting up his cello under a bridge. Then commuters "
         "hurry past. Then a little boy stops and listens. Finally the boy drops a coin in the case.", 30, 4),
    ],
)
def test_the_callers_beat_count_is_the_films_shot_count(text: str, duration: int, beats: int) -> None:
    p = make_plan({"text": text, "duration": duration})
    shots = [s["prompt"] for seg in p.segments for s in seg.shots]
    assert len(shots) == beats, [s.prompt for s in p.segments]
    assert not any("beats" in s.lower() or "film" in s.lower() for s in shots), shots


@pytest.mark.parametrize(
    ("text", "want", "gone"),
    [
        ("The ice sculpture melts into a puddle; the end frame is the empty plate.",
         "the ice sculpture melts into a puddle, ending on the empty plate", ["end frame"]),
        ("Start image is the empty lot, end image is the finished house. The house is being built in time-lapse.",
         "starting on the empty lot, ending on the finished house", ["start image", "end image"]),
        ("A candle burns down until it matches the end frame.", "a candle burns down", ["end frame", "matches"]),
    ],
)
def test_the_end_frames_name_is_an_instruction_and_its_change_anchors_only_the_framing(
    text: str, want: str, gone: list[str]
) -> None:
    p = make_plan({"text": text, "image_url": IMAGE, "tail_image_url": TAIL})
    low = p.prompt.lower()
    assert want in low and not [g for g in gone if g in low], p.prompt
    assert "framing and background" in low and "shape" not in low, p.prompt


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        ("Dear video team,\n\nI hope this finds you well. A slow glide along a counter of fresh croissants.\n\n"
         "Kind regards,\nMarta", "glide along a counter of fresh croissants", ["dear", "hope", "regards", "marta"]),
        ("Hey! So I've been thinking about this for a while lol. Could you make me a little video of a golden "
         "retriever chasing soap bubbles? Thanks a ton!!", "golden retriever chasing soap bubbles",
         ["lol", "thinking", "could you", "thanks", "ton"]),
        ("This is our cabin. A drone rises from the lake shore to reveal the cabin. For our YouTube intro.",
         "drone rises from the lake shore", ["this is", "intro", "youtube"]),
        ("Product photo attached. The camera orbits slowly around the earbuds case.", "earbuds case",
         ["product.", "attached"]),
    ],
)
def test_letters_pleasantries_and_uses_are_not_scene(text: str, kept: str, gone: list[str]) -> None:
    low = make_plan({"text": text, "image_url": IMAGE}).prompt.lower()
    assert kept in low and not [g for g in gone if g in low], low


@pytest.mark.parametrize(
    ("payload", "kept", "gone", "shots"),
    [
        ({"action": "create_video", "params": {"shots": [{"desc": "an old man opens the bakery door", "sec": 4},
          {"desc": "he puts the breads on the shelf", "sec": 4}], "total_duration": 8, "audio": False}},
         ["opens the bakery door", "breads on the shelf"], ["create_video", "params", "total_duration", "desc"], 2),
        ({"tool": "kling.generate", "arguments": {"prompt": "a janitor mops beneath a dinosaur skeleton",
          "aspect_ratio": "16:9"}}, ["janitor mops beneath a dinosaur skeleton"], ["kling.generate", "16:9"], 0),
    ],
)
def test_an_agents_nested_json_payload_is_read_by_its_keys(
    payload: dict[str, Any], kept: list[str], gone: list[str], shots: int
) -> None:
    p = make_plan({"text": json.dumps(payload)})
    low = p.prompt.lower()
    assert all(k in low for k in kept) and not [g for g in gone if g in low], p.prompt
    assert len(p.segments[0].shots) == shots


# --- asides, relayed notes and the request's own residue (issue 11g) -------------------------------


def test_a_relayed_note_keeps_the_wish_and_drops_who_relayed_it() -> None:
    p = plan("The director wants it handheld, following a courier through Lagos traffic. "
             "She said fifteen seconds, keep the street noise in, and it must not look like a car ad.")
    prompt = p.segments[0].prompt
    assert prompt.startswith("Handheld, following a courier through Lagos traffic.")
    assert "director" not in prompt.lower() and "she said" not in prompt.lower()
    assert "car ad" in (p.negative_prompt or "") and "street noise" in prompt
    relayed = plan('Forwarding from the client (Henrik): "We want the cabin to feel lived-in. Smoke from the chimney, '
                   'a dog asleep on the porch. No cars, no power lines." He is fine with 10 seconds.')
    assert "Forwarding" not in relayed.segments[0].prompt and "Smoke from the chimney" in relayed.segments[0].prompt
    assert "cars" in (relayed.negative_prompt or "") and "power lines" in (relayed.negative_prompt or "")


def test_hedges_around_the_camera_go_and_the_camera_leads() -> None:
    p = plan("Here's my photo of the Old Man of Storr. Make the clouds move over the ridge, maybe a very slow pan "
             "right if it looks natural? Don't change the landscape itself.", image_url=IMAGE)
    prompt = p.segments[0].prompt
    assert prompt.lower().startswith("a very slow pan right")
    assert "maybe" not in prompt and "if it looks natural" not in prompt and "Here's" not in prompt
    crane = plan("Could we get — and correct me if this is a silly idea — a crane up from a chalk drawing to reveal "
                 "the whole block party").segments[0].prompt
    assert crane.startswith("A crane up from a chalk drawing") and "silly" not in crane and "Could" not in crane


def test_the_requester_introducing_themselves_is_not_the_subject_of_the_anchor() -> None:
    p = plan("Hi, I'm a real estate agent. I want a slow pan across the living room like a walkthrough.", image_url=IMAGE)
    assert "real estate agent" not in p.segments[0].prompt
    assert "face" not in p.segments[0].prompt  # a room: its composition stays, nobody's face


def test_a_sentence_only_heard_leaves_a_silent_prompt_and_a_non_native_music_cue_is_read() -> None:
    silent = build("Couples clinking glasses on a rooftop at dusk. Background jazz.")
    assert silent.prompt == "Couples clinking glasses on a rooftop at dusk."
    assert "audio_cues_without_audio" in codes(silent)
    heard = build("Waiter opens a bottle of wine by the window. Music soft.", generate_audio=True)
    assert "Music soft" not in heard.prompt and "soft music" in heard.prompt


def test_an_order_with_its_measure_and_a_thing_named_by_its_link_go_whole() -> None:
    assert build("Please make 30 seconds of calm aquarium fish for the waiting room TV.").prompt.startswith(
        "Calm aquarium fish")
    text = "The photo of my wife is https://i.example.com/w.jpg and I'd just like her hair moving in the breeze."
    assert "The photo" not in build(text, mode="i2v").prompt and "her hair moving" in build(text, mode="i2v").prompt
    assert "A 30-second brand film" not in plan(
        "A 30-second brand film for a coffee roaster. Shot 1 (0-15s): aerial over a farm. Shot 2 (15-30s): "
        "close-up of hands picking cherries.").segments[0].prompt


def test_a_chat_keeps_its_lines_apart_and_a_sound_label_carries_its_value() -> None:
    chat = plan("hey!!\nso for the bakery promo\ncan u do croissants coming out of the oven, steam\nslow push in\nvertical pls")
    assert chat.segments[0].prompt.startswith("Slow push in")
    assert "can u do" not in chat.segments[0].prompt and "steam slow" not in chat.segments[0].prompt
    scored = build("A barista pours milk. Music: gentle acoustic guitar.", generate_audio=True)
    assert scored.prompt == "A barista pours milk. Audio: gentle acoustic guitar, no dialogue."


def test_dialogue_labels_are_names_and_a_quote_inside_a_line_stays_in_it() -> None:
    built = build('Shot 1: her grandson Mateo at the kitchen table, mouth full, answers "Si, abuela." '
                  'Shot 2: Omar freezes. Nadia says: "Define \'last\'."', generate_audio=True, duration=10)
    assert "[Mateo" in built.prompt and "[Grandson" not in built.prompt
    assert "\"Define 'last'.\"" in built.prompt


def test_a_brief_leads_with_its_camera_and_a_quoted_title_is_not_the_scene() -> None:
    built = build('Concept: "First Light". A young woman stands on a rooftop at dawn.\n'
                  "Camera: slow arc from her profile to a front view as the sun breaks over the roofs.\n"
                  "Lighting: warm backlight.")
    assert built.prompt.startswith("Slow arc from her profile") and "First Light" not in built.prompt
    refused = build("pro tier. i2v. the girl blows the dandelion seeds away. 5s. dialogue none.", mode="i2v",
                    generate_audio=True).prompt
    assert "Spoken dialogue" not in refused and "no dialogue" in refused


def test_an_aside_a_wish_and_a_last_camera_beat_are_read_as_the_caller_meant() -> None:
    assert build("A slow pan across the harbour at dusk, boats bobbing (no rush on this one).").prompt == (
        "A slow pan across the harbour at dusk, boats bobbing.")
    assert build("We want the cabin to feel lived-in. Smoke from the chimney.").prompt.startswith("The cabin feels lived-in.")
    settles = build("Drone rises over a foggy forest, a canoe drifts across, and the camera settles on the reflection.")
    assert settles.prompt.startswith("Drone rises over a foggy forest")
    greeted = build("Hope your week's going well! A keeper climbing the stairs with a lantern.").prompt
    assert "week" not in greeted and greeted.startswith("A keeper climbing")


def test_the_ratio_not_chosen_and_a_deliverable_left_with_its_modifier_go() -> None:
    assert build("Vertical for Reels? Or square for the feed? Reels wins. A smoothie being poured.").prompt == (
        "A smoothie being poured.")
