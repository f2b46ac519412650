"""Text in another language: whole-clause edits only.

The router's rules and the builder's grammar are English, so a request in Spanish or German is
sent as the caller wrote it (with the router's ``language_not_english`` warning). Three edits need
no grammar, only the vocabulary's short lists, and never cut inside a clause: the request's head
before a colon that names the video goes ("Bitte ein Video im Hochformat: ..."), a sentence that
opens on a negation becomes the negative prompt ("Sin música de fondo."), and a clause about the
camera moves to the front, whole, before a colon.
"""

from __future__ import annotations

import re
from functools import cache

from skill.prompt.lexicon import Lex
from skill.prompt.text import cap, split_sentences
from skill.textmatch import word_alternation

__all__ = ["ForeignEdit", "edit_foreign"]


class ForeignEdit:
    """What the edits found: the text to send, the request head removed, the negatives."""

    __slots__ = ("negatives", "removed", "text")

    def __init__(self, text: str, removed: list[str], negatives: list[str]) -> None:
        self.text = text
        self.removed = removed
        self.negatives = negatives


@cache
def _patterns(lx: Lex) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    f = lx.v.foreign
    container = re.compile(rf"(?<![\w])(?:{word_alternation(f.containers)})(?![\w])", re.IGNORECASE)
    negation = re.compile(rf"^(?:{word_alternation(sorted(f.negations, key=len, reverse=True))})\s+(?P<rest>\S.*)$",
                          re.IGNORECASE)
    camera = re.compile(rf"(?<![\w])(?:{word_alternation(f.camera_nouns)})(?![\w])", re.IGNORECASE)
    items = re.compile(rf"\s*(?:,|;|/|\s(?:{word_alternation(f.item_joiners)})\s)\s*", re.IGNORECASE)
    return container, negation, camera, items




def edit_foreign(lx: Lex, text: str) -> ForeignEdit:
    """The text with its request head, negation sentences and camera clause handled (pure)."""
    container, negation, camera, items = _patterns(lx)
    removed: list[str] = []
    negatives: list[str] = []
    head, sep, rest = text.partition(":")
    if sep and rest.strip() and len(head.split()) <= 10 and '"' not in head and container.search(head):
        removed.append(head.strip())
        text = rest.strip()
    else:
        # the colon went with the router's spans: "Bitte ein Video im Hochformat, Ein alter Uhrmacher ..."
        head, sep, rest = text.partition(",")
        if sep and len(head.split()) <= 6 and '"' not in head and container.search(head) and rest.strip()[:1].isupper():
            removed.append(head.strip())
            text = rest.strip()
    kept: list[str] = []
    for sentence in split_sentences(text):
        m = negation.match(sentence.strip())
        if m and '"' not in sentence:
            negatives += [x for x in items.split(m.group("rest").rstrip(" .!?")) if x.strip()]
            continue
        kept.append(sentence)
    if kept:
        kept[0] = _camera_first(camera, kept[0])
    if len(kept) > 1 and not camera.search(kept[0]):
        # a later sentence about the camera ("La cámara la rodea lentamente.") leads, whole
        at = next((k for k, s in enumerate(kept) if camera.search(" ".join(s.split()[:3]))), None)
        if at is not None:
            kept.insert(0, kept.pop(at))
            kept[1] = cap(kept[1])
    return ForeignEdit(cap(" ".join(kept)), removed, negatives)


def _camera_first(camera: re.Pattern[str], sentence: str) -> str:
    """ "A ..., während die Kamera ... zufährt." -> "Während die Kamera ... zufährt: A ..."."""
    clauses = [c.strip() for c in sentence.split(",")]
    if len(clauses) < 2 or camera.search(clauses[0]) or '"' in sentence:
        return sentence
    at = next((k for k, c in enumerate(clauses) if camera.search(c)), None)
    if at is None:
        return sentence
    moved = clauses[at].rstrip(" .!?")
    end = sentence.rstrip()[-1:] if sentence.rstrip()[-1:] in ".!?" else "."
    others = [c.rstrip(" .!?") for k, c in enumerate(clauses) if k != at]
    return f"{cap(moved)}: {', '.join(others)}{end}"
