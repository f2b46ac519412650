"""Saved videos are named after their request: a safe, bounded slug of the prompt plus the
request id's first characters."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from skill.filenames import MAX_SLUG_CHARS, slug, video_stem

SAFE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def test_the_prompt_words_and_the_request_id_make_the_name() -> None:
    prompt = "A barista pulling espresso. Audio: cafe sound. No dialogue."
    assert video_stem(prompt, "3F9A2C1e-8b7d-4c2a-9f00-123456789abc") == "barista-pulling-espresso-cafe-3f9a2c"
    assert video_stem("Shot 1: Wide cafe. Shot 2: Close-up. The cup.", "ab12cd34") == "wide-cafe-close-up-ab12cd"
    assert video_stem("A kite.", "dbd8686f", suffix="40s 21x9") == "kite-dbd868-40s-21x9"


def test_unicode_is_folded_and_other_scripts_fall_back_to_video() -> None:
    assert slug("Un café à Paris, crème brûlée") == "un-cafe-paris-creme"
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in "Fullwidth")  # U+FF26 ..., folded by NFKD
    assert slug(fullwidth + " \ufb01sh") == "fullwidth-fish"
    assert video_stem("東京の夜景", "9e8d7c6b") == "video-9e8d7c"
    assert video_stem(None, None) == "video"


def test_no_path_trick_survives() -> None:
    for evil in ("../../etc/passwd", "a/b\\c", "..", ".hidden", "CON", "nul.mp4", "x\x00y", "\u202eevil"):
        name = video_stem(evil, "../../x")
        assert SAFE.match(name) and "/" not in name and ".." not in name, name


@given(st.text(max_size=400), st.text(max_size=60))
def test_any_prompt_and_id_give_a_short_safe_name(prompt: str, request_id: str) -> None:
    name = video_stem(prompt, request_id, suffix="40s")
    assert SAFE.match(name)
    assert len(slug(prompt)) <= MAX_SLUG_CHARS and len(name) <= MAX_SLUG_CHARS + 12
