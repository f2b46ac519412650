"""Image-to-video anchors: what the source image fixes, chosen by what the prompt is about.

The image is the anchor; the prompt says how it moves [S22][S19]. So the anchor never freezes
what the caller wants to move: a person (or an animal) keeps face and identity (and wardrobe, unless
the caller makes it move: "his scarf fluttering"); a product keeps shape, label and colours; a place keeps its
composition (and architecture); a subject that changes between the frames (ice melting, a flower
blooming) keeps only the framing and background. A caller who wrote their own "keep ..." gets no
second one.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from skill.prompt.lexicon import Lex

__all__ = ["Anchor", "anchor_of"]

_WORDS = re.compile(r"[\w'-]+")


@dataclass(frozen=True)
class Anchor:
    """What an image-to-video prompt must keep the same: a person, a product, a place or a change."""
    kind: str  # person, product, place, transformation
    whose: str = ""  # "her", "the chef's", "the perfume bottle's"
    wardrobe: bool = True
    buildings: bool = False
    group: bool = False  # a crowd, a couple, two friends: faces


def _np_at(words: list[str], k: int, lx: Lex, gaps: list[str] | None = None) -> str:
    """The noun phrase around words[k] ("the perfume bottle"), from its determiner to its head;
    ``gaps[j]``: what stands between words[j - 1] and words[j] (a clause mark ends the phrase:
    "orbits 180 degrees: leather backpack")."""
    start = k
    while start > 0 and k - start < 3 and words[start - 1].lower() not in lx.function_words and not (
            gaps and gaps[start].strip(" '-")):
        start -= 1
    end = k + 1
    while end < len(words) and end - k < 2 and words[end].lower() in lx.products:
        end += 1
    return "the " + " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words[start:end])  # "the CEO"


def anchor_of(lx: Lex, text: str, *, caller_kept: bool, changes: bool = False) -> Anchor | None:
    """The anchor for an i2v prompt about ``text`` (None: the caller wrote their own, or the text
    names nothing the image would fix; an empty text keeps the image's composition). ``changes``:
    the caller named a change between the frames in words the prompt no longer carries."""
    if caller_kept:
        return None
    low = text.lower()
    hits = list(_WORDS.finditer(text))
    words = [m.group(0) for m in hits]
    gaps = [""] + [text[a.end(): b.start()] for a, b in itertools.pairwise(hits)]
    lows = [w.lower() for w in words]
    if changes or (lx.end_state.may(low) and lx.end_state.search(text) is not None):
        return _product_moved(lx, text, words, gaps) or Anchor("transformation")
    if lx.time_change.may(low) and lx.time_change.search(text) is not None:
        buildings = any(w in lx.buildings for w in lows)
        if buildings or any(w in lx.places for w in lows):
            # the light changes over the skyline ("traffic becomes light trails"); the skyline stays
            return Anchor("place", buildings=buildings)
        return Anchor("transformation")
    if lx.transformation.may(low) and lx.transformation.search(text) is not None:
        return Anchor("transformation")
    for k, w in enumerate(lows):
        single = w[:-1] if w.endswith("s") and not w.endswith("ss") else w
        if w in lx.pronouns and w in lx.possessives:
            return Anchor("person", lx.possessives[w], wardrobe=not _moving_wardrobe(lx, lows, text))
        if w in lx.people or single in lx.people:
            whose = _possessive(_np_at(words, k, lx, gaps))
            return Anchor("person", whose, wardrobe=not _moving_wardrobe(lx, lows, text), group=w in lx.groups or w != single)
        if w in lx.animals and not _contents(lx, lows, k):
            return Anchor("person", _possessive(_np_at(words, k, lx, gaps)), wardrobe=False)
        if w in lx.products:
            return Anchor("product", _possessive(_np_at(words, k, lx, gaps)))
    buildings = any(w in lx.buildings for w in lows)
    if lows and not buildings and not any(w in lx.places or w in lx.scene_one for w in lows):
        return None  # nothing the image fixes is named ("slow push-in"): no boilerplate
    return Anchor("place", buildings=buildings)


def _product_moved(lx: Lex, text: str, words: list[str], gaps: list[str]) -> Anchor | None:
    """ "starting on the closed lipstick, ending on the lipstick fully twisted up": a product that
    only moves between the frames (no change of what it is) keeps its shape, label and colours."""
    low = text.lower()
    if (lx.transformation.may(low) and lx.transformation.search(text) is not None) or (
            lx.time_change.may(low) and lx.time_change.search(text) is not None):
        return None
    lows = [w.lower() for w in words]
    named = [k for k, w in enumerate(lows) if w in lx.products]
    if len(named) < 2 or len({lows[k] for k in named}) != 1 or any(w in lx.people or w in lx.animals for w in lows):
        return None  # the same product named in both frames, and no one else
    return Anchor("product", _possessive(f"the {lows[named[0]]}"))


def _contents(lx: Lex, lows: list[str], k: int) -> bool:
    """Whether the animal lows[k] is what a product holds ("a tin of sardines", "fish in a tin",
    "a jar full of honey bees"): the link word right after the product, or right after the animal
    with the product close behind it ("a dog sniffs a box of treats": the dog is no contents)."""
    def link_at(j: int) -> int:
        """The length of the link word(s) at lows[j], 0 if none."""
        two = " ".join(lows[j: j + 2])
        return 2 if two in lx.contents_links else int(j < len(lows) and lows[j] in lx.contents_links)
    after = link_at(k + 1)
    if after and any(w in lx.products for w in lows[k + 1 + after: k + 4 + after]):
        return True
    return any(lows[j] in lx.products and link_at(j + 1) for j in range(max(0, k - 4), k - 1))


def _moving_wardrobe(lx: Lex, lows: list[str], text: str) -> bool:
    return any(w in lx.wardrobe for w in lows) and lx.moving_words.search(text) is not None


def _possessive(np: str) -> str:
    """ "the chef" -> "the chef's"; a plural in -s takes the apostrophe only ("the earbuds'")."""
    return f"{np}'" if np.endswith("s") and not np.endswith("ss") else f"{np}'s"
