"""Names for saved videos: a short slug of the prompt plus the first characters of the request id.

``barista-pulling-espresso-cafe-3f9a2c.mp4`` says what a file is and which job made it, where
every download used to be ``output.mp4``, ``output-1.mp4``... The slug is made safe here, not
trusted from anywhere: the text is Unicode-folded to ASCII (``café`` -> ``cafe``), only
``[a-z0-9]`` words joined by ``-`` remain (no separators, dots or traversal can survive), small
function words are left out, and the length is bounded. A prompt with no Latin letters at all
(``東京の夜景``) falls back to ``video``.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["MAX_SLUG_CHARS", "MAX_SLUG_WORDS", "slug", "video_stem"]

MAX_SLUG_WORDS = 4
MAX_SLUG_CHARS = 40
_ID_CHARS = 6
_FALLBACK = "video"
_SHOT_LABEL = re.compile(r"\bshot\s+\d+\s*(\([^)]*\))?\s*:", re.IGNORECASE)
_WORD = re.compile(r"[a-z0-9]+")
# Words that name nothing in a file name: articles, pronouns, prepositions, and the prompt
# builder's own section labels ("Audio: ...", "No dialogue.").
_SKIP = frozenset({
    "a", "an", "the", "and", "or", "but", "with", "without", "of", "on", "in", "at", "to", "into",
    "onto", "over", "under", "for", "from", "by", "as", "is", "are", "be", "its", "it", "he", "she",
    "they", "her", "his", "him", "their", "them", "this", "that", "these", "those", "no", "not",
    "shot", "audio", "dialogue", "sound",
})  # fmt: skip


def _fold(text: str) -> str:
    """Lower-case ASCII: accents dropped (NFKD), ligatures and full-width forms decomposed."""
    decomposed = unicodedata.normalize("NFKD", text)
    return (
        "".join(c for c in decomposed if not unicodedata.combining(c))
        .encode("ascii", "ignore")
        .decode()
        .lower()
    )


def slug(
    text: str | None, *, max_words: int = MAX_SLUG_WORDS, max_chars: int = MAX_SLUG_CHARS
) -> str:
    """The first few meaningful words of ``text`` as ``a-b-c`` (``video`` when none)."""
    words = [
        w
        for w in _WORD.findall(_fold(_SHOT_LABEL.sub(" ", text or "")))
        if w not in _SKIP and len(w) > 1
    ]
    out: list[str] = []
    for word in words[:max_words]:
        if len("-".join([*out, word])) > max_chars:
            break
        out.append(word)
    if not out and words:
        out = [words[0][:max_chars]]
    return "-".join(out) or _FALLBACK


def video_stem(prompt: str | None, request_id: str | None, *, suffix: str = "") -> str:
    """``slug-3f9a2c`` (+ ``-suffix``): the file name, without ``.mp4``, of a job's video."""
    rid = "".join(_WORD.findall(_fold(request_id or "")))[:_ID_CHARS]
    extra = "-".join(_WORD.findall(_fold(suffix)))
    return "-".join(part for part in (slug(prompt), rid, extra) if part)
