"""Typo tolerance for cue words: a misspelt word within one edit of a listed word is read as it.

"stdandard tier", "portait", "commerical" mean what the writer meant. The words to tolerate are
data (``typos`` in the rules file); this module only finds them, with the deletion-neighbourhood
trick of SymSpell (Garbe, 2012) so that a plan pays a few dictionary look-ups per word, and maps
every corrected position back to the caller's text, so signals still quote the words written.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

__all__ = ["Speller", "damerau"]

_TOKEN = re.compile(r"[a-z]{5,}")


def damerau(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions, swaps."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class Speller:
    """Corrects tokens of five letters or more to a listed word one edit away.

    Words of five letters are corrected only for a doubled or swapped letter ("drafft",
    "klign"): one edit from
    such a short word is too often another real word ("drift", "craft"). A token that is an
    inflection of a listed word ("drafts", "seconds") is left alone, and so is a tie.
    """

    def __init__(
        self,
        words: Iterable[str],
        min_length: int = 6,
        joined: tuple[Iterable[str], Iterable[str]] = ((), ()),
        real_words: Iterable[str] = (),
    ) -> None:
        self.words = frozenset(w.lower() for w in words)
        self.real_words = frozenset(w.lower() for w in real_words)
        self.min_length = min_length
        self.firsts = frozenset(w.lower() for w in joined[0])
        self.seconds = frozenset(w.lower() for w in joined[1])
        index: dict[str, set[str]] = {}
        for w in self.words:
            for key in {w, *_deletes(w)}:
                index.setdefault(key, set()).add(w)
        self._index = {k: frozenset(v) for k, v in index.items()}
        self.fix = functools.lru_cache(maxsize=4096)(self._fix)

    def _split(self, token: str) -> str | None:
        """Two cue words run together ("draftquality", "herovideo"): a cue and the noun it
        qualifies, both listed, so that a real word ("protest") is never cut apart."""
        for i in range(2, len(token) - 1):
            if token[:i] in self.firsts and token[i:] in self.seconds:
                return f"{token[:i]} {token[i:]}"
        return None

    def _fix(self, token: str) -> str | None:
        if token in self.words or token in self.real_words:  # "walking" is no typo of "talking"
            return None
        if self.firsts and (split := self._split(token)) is not None:
            return split
        undoubled = re.sub(r"(.)\1", r"\1", token)
        if undoubled != token and undoubled in self.words:
            return undoubled
        for i in range(len(token) - 1):  # two letters swapped ("klign"): rarely another real word
            swapped = token[:i] + token[i + 1] + token[i] + token[i + 2 :]
            if swapped != token and swapped in self.words:
                return swapped
        found: set[str] = set()
        for key in {token, *_deletes(token)}:
            found |= self._index.get(key, frozenset())
        best = [
            w
            for w in found
            if len(w) >= self.min_length
            and not token.startswith(w)  # an inflection ("drafts"), not a typo
            and not (w.startswith(token) and w[len(token):] == "s")  # "dollar" of "dollars"; "standar" is one
            and damerau(token, w) == 1
        ]
        return best[0] if len(best) == 1 else None

    def correct(self, text: str) -> tuple[str, list[int] | None]:
        """``text`` with its misspelt cue words corrected, and where each position came from
        (``None`` when nothing changed)."""
        parts: list[str] = []
        back: list[int] = []
        pos = 0
        for m in _TOKEN.finditer(text):
            fix = self.fix(m.group())
            if fix is None:
                continue
            parts.append(text[pos : m.start()])
            back.extend(range(pos, m.start()))
            parts.append(fix)
            if " " in fix and fix.replace(" ", "") == m.group():  # split: the space sits at the joint
                cut = fix.index(" ")
                # the joint maps to the token's end: a cue read in the first part takes the word whole
                back.extend(m.start() + (i if i < cut else m.end() - m.start() if i == cut else i - 1)
                            for i in range(len(fix)))
            else:
                back.extend(m.start() + min(i, len(m.group()) - 1) for i in range(len(fix)))
            pos = m.end()
        if not parts:
            return text, None
        parts.append(text[pos:])
        back.extend(range(pos, len(text) + 1))
        return "".join(parts), back
