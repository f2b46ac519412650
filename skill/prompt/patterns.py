"""Compiled patterns: lowercase matching with a cheap pre-check, and the on-disk cache of compiled code."""

from __future__ import annotations

import contextvars
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from skill import startup_cache
from skill.textmatch import (
    alternation,
    regex_internals,
    required_substrings,
    tree_needs,
    trie_starts,
)

__all__ = [
    "BOUND",
    "BUILD_CACHE",
    "MARK",
    "MARK_SPACED",
    "SEG_START",
    "Hit",
    "LexCache",
    "Low",
    "Rx",
    "Which",
    "cache_key",
    "claim_ids",
    "compile_pattern",
    "is_scanner",
    "mark_ids",
    "open_cache",
    "ordered_alternation",
    "remember",
    "save_cache",
]


MARK = "\ue000"  # marker left where a span was lifted out (private use: neither a word char nor a space)


MARK_SPACED = f" {MARK} "




def _needs(pattern: str, flags: int) -> frozenset[str] | None:
    """Substrings one of which every match must contain (lowercase), or None when unknown.

    Answered from the on-disk build cache when one is open, else read from the pattern.
    """
    cache = BUILD_CACHE.get()
    if cache is not None:
        return cache.needs(pattern, flags)
    return required_substrings(pattern, flags)


_UPPER = re.compile(r"[A-Z]")


_ESCAPES = re.compile(r"\\.")


_GROUP_NAMES = re.compile(r"\(\?P[<=]\w+>?")


_RX_IDS = itertools.count()


def mark_ids() -> int:
    """The id the next pattern will get."""
    global _RX_IDS
    n = next(_RX_IDS)
    _RX_IDS = itertools.count(n)
    return n


def claim_ids(start: int, end: int) -> bool:
    """Take the ids ``start``..``end - 1`` for patterns loaded from the start-up cache; False when
    a pattern of this process already has one of them (ids must stay unique per process)."""
    global _RX_IDS
    n = mark_ids()
    if not (isinstance(start, int) and isinstance(end, int)) or n > start or end < start:
        return False
    _RX_IDS = itertools.count(end)
    return True


class Low(str):
    """Lowercased text that knows which patterns may match it (see ``Lex.scan``)."""

    present: frozenset[int]


class Hit:
    """A match found in the lowercased text, read back in the caller's case (same offsets)."""

    __slots__ = ("base", "m", "s")

    def __init__(self, m: re.Match[str], s: str, base: int | str = 0) -> None:
        self.m = m
        self.s = s
        self.base = base  # the group that stands for the whole match

    def group(self, g: int | str = 0) -> str | None:
        a, b = self.m.span(g or self.base)
        return None if a < 0 else self.s[a:b]

    def start(self, g: int | str = 0) -> int:
        return self.m.start(g or self.base)

    def end(self, g: int | str = 0) -> int:
        return self.m.end(g or self.base)

    @property
    def lastgroup(self) -> str | None:
        return self.m.lastgroup


# -- the on-disk cache of the compiled vocabulary -------------------------------------------------
#
# Compiling the vocabulary parses ~190 large patterns twice (once by ``re``, once for ``_needs``),
# which costs far more than the rest of a plan. Everything derived from it depends only on the
# pattern strings, so one build keeps, per (pattern, flags), the needs set and the compiled form
# that ``re`` hands to ``_sre.compile``, plus the parsed vocabulary; the next process rebuilds the
# same pattern objects in C without parsing anything. The file is keyed by the vocabulary bytes,
# this module's source, the package version and the Python build (see skill/startup_cache.py);
# any problem reading or writing it (missing, corrupt, stale, read-only home) means a normal build.

_CACHE_FORMAT = 1


BUILD_CACHE: contextvars.ContextVar[LexCache | None] = contextvars.ContextVar("BUILD_CACHE", default=None)


class LexCache:
    """The ingredients of one vocabulary build, reused when ``key`` matches what was stored."""

    def __init__(self, key: str, stored: object = None) -> None:
        self.key = key
        old: dict[str, Any] = {}
        if isinstance(stored, dict) and stored.get("key") == key and stored.get("format") == _CACHE_FORMAT:
            old = stored
        self.raw: Any = old.get("raw")
        self.vocab: Any = old.get("vocab")  # the validated vocabulary (a model, pickled)
        self.old_codes: dict[Any, Any] = old.get("codes") if isinstance(old.get("codes"), dict) else {}  # type: ignore[assignment]
        self.old_needs: dict[Any, Any] = old.get("needs") if isinstance(old.get("needs"), dict) else {}  # type: ignore[assignment]
        self.old_memo: dict[Any, Any] = old.get("memo") if isinstance(old.get("memo"), dict) else {}  # type: ignore[assignment]
        self.memo: dict[Any, Any] = {}
        self.codes: dict[tuple[str, int], tuple[Any, ...]] = {}
        self.needs_of: dict[tuple[str, int], frozenset[str] | None] = {}
        self.dirty = not old
        self.whole_stored = False  # the whole compiled vocabulary is stored already
        self.internals = regex_internals()
        self._trees: dict[tuple[str, int], Any] = {}

    def needs(self, pattern: str, flags: int) -> frozenset[str] | None:
        flags = int(flags)
        k = (pattern, flags)
        if k in self.needs_of:
            return self.needs_of[k]
        got = self.old_needs.get(k, False)
        if got is None or (isinstance(got, frozenset) and all(isinstance(x, str) for x in got)):
            self.needs_of[k] = got
            return got
        self.dirty = True
        if self.internals is None:  # pragma: no cover
            return None
        parser, _compiler, consts, _sre = self.internals
        try:
            tree = parser.parse(pattern, flags)
        except Exception:  # the compile that follows reports it
            return None
        self._trees[k] = tree
        needs = tree_needs(list(tree), consts)
        self.needs_of[k] = needs
        return needs

    def compile(self, pattern: str, flags: int) -> re.Pattern[str]:
        flags = int(flags)
        k = (pattern, flags)
        if self.internals is None:  # pragma: no cover
            return re.compile(pattern, flags)
        parser, compiler, _consts, sre = self.internals
        got = self.codes.get(k) or self.old_codes.get(k)
        if isinstance(got, tuple) and len(got) == 5:
            try:
                rx: re.Pattern[str] = sre.compile(pattern, *got)
            except Exception:  # not what this Python's _sre accepts: compile afresh
                pass
            else:
                self.codes[k] = got
                return rx
        self.dirty = True
        tree = self._trees.pop(k, None)
        try:
            if tree is None:
                tree = parser.parse(pattern, flags)
            # as re._compiler.compile does it
            code = compiler._code(tree, flags)
            groupindex = dict(tree.state.groupdict)
            indexgroup: list[str | None] = [None] * tree.state.groups
            for name, i in groupindex.items():
                indexgroup[i] = name
            ingredients = (int(flags | tree.state.flags), [int(x) for x in code], tree.state.groups - 1, groupindex, tuple(indexgroup))
            rx = sre.compile(pattern, *ingredients)
        except re.error:
            raise
        except Exception:  # pragma: no cover - an unfamiliar re internals: the public way
            return re.compile(pattern, flags)
        self.codes[k] = ingredients
        return rx

    def remember(self, key: Any, make: Callable[[], Any], check: Callable[[Any], bool]) -> Any:
        if key in self.memo:
            return self.memo[key]
        got = self.old_memo.get(key)
        if got is None or not check(got):
            self.dirty = True
            got = make()
        self.memo[key] = got
        return got

    def payload(self, raw: Any, vocab: Any = None) -> dict[str, Any]:
        """What is stored: the parsed and the validated vocabulary and every ingredient of its build."""
        return {
            "format": _CACHE_FORMAT,
            "key": self.key,
            "raw": raw,
            "vocab": vocab,
            "codes": self.codes,
            "needs": self.needs_of,
            "memo": self.memo,
        }


def remember(key: Any, make: Callable[[], Any], check: Callable[[Any], bool]) -> Any:
    """``make()``, kept in the build cache under ``key`` (``check`` vets a stored value)."""
    cache = BUILD_CACHE.get()
    return make() if cache is None else cache.remember(key, make, check)


def _is_str(x: object) -> bool:
    return isinstance(x, str)


def is_scanner(x: object) -> bool:
    return (
        isinstance(x, tuple)
        and len(x) == 3
        and isinstance(x[0], dict)
        and isinstance(x[1], frozenset)
        and (x[2] is None or isinstance(x[2], str))
    )


def compile_pattern(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile``, served from the build cache while a vocabulary is being compiled."""
    cache = BUILD_CACHE.get()
    if cache is None:
        return re.compile(pattern, flags)
    return cache.compile(pattern, flags)


class Rx:
    """A pattern matched case-sensitively on lowercased text, with a cheap pre-check.

    Case-insensitive matching is several times slower in CPython (an alternation can no longer
    skip a branch on its first letter), so patterns are written in lowercase and run on
    ``text.lower()``, which keeps every offset because the input is normalised to make sure of it.
    ``may(low)`` is False when the pattern cannot match.
    """

    __slots__ = ("at_start", "needs", "needs_rx", "rx", "uid")

    def __init__(self, pattern: str, flags: int = 0, *, clause: bool = False) -> None:
        """``clause``: the pattern only matches at the start of a clause (text start or after , . ; : ! ?)."""
        self.uid = next(_RX_IDS)
        flags &= ~re.IGNORECASE
        self.at_start: re.Pattern[str] | None = None
        if clause:
            # led by the punctuation itself: CPython then skips every other position in C
            self.at_start = compile_pattern(rf"\s*(?P<cl>{pattern})", flags)
            pattern = rf"[,.;:!?\n{MARK}]\s*(?P<cl>{pattern})"
        if _UPPER.search(_ESCAPES.sub("", _GROUP_NAMES.sub("", pattern))):
            raise re.error(f"pattern has an uppercase letter but is matched on lowercased text: {pattern[:80]}")
        needs = _needs(pattern, flags)  # first: a cached build parses the pattern once for both
        self.rx = compile_pattern(pattern, flags)
        self.needs: tuple[str, ...] | None = tuple(sorted(needs)) if needs else None
        self.needs_rx = (
            compile_pattern(remember(("trie", self.needs), lambda: trie_starts(needs), _is_str)) if needs and len(needs) > 6 else None
        )

    def may(self, low: str) -> bool:
        present = getattr(low, "present", None)
        if present is not None:
            return self.uid in present
        if self.needs_rx is not None:
            return self.needs_rx.search(low) is not None
        needs = self.needs
        return needs is None or any(map(low.__contains__, needs))

    def hits(self, s: str, pos: int = 0) -> Iterator[Hit]:
        low = s.lower()
        if self.at_start is not None:
            if pos == 0:
                m0 = self.at_start.match(low)
                if m0:
                    yield Hit(m0, s, "cl")
            for m in self.rx.finditer(low, pos):
                yield Hit(m, s, "cl")
            return
        for m in self.rx.finditer(low, pos):
            yield Hit(m, s)

    def search(self, s: str, pos: int = 0) -> Hit | None:
        return next(self.hits(s, pos), None)


class Which:
    """Which entry a matched text belongs to (first entry whose patterns match it whole), memoised."""

    __slots__ = ("memo", "rxs")

    def __init__(self, entries: Sequence[Sequence[str]]) -> None:
        self.rxs = [compile_pattern(alternation(pats)) if pats else None for pats in entries]
        self.memo: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        key = " ".join(text.lower().split())
        idx = self.memo.get(key)
        if idx is None:
            idx = next((i for i, rx in enumerate(self.rxs) if rx is not None and rx.fullmatch(key)), -1)
            if len(self.memo) > 4096:
                self.memo.clear()
            self.memo[key] = idx
        return idx

    def at(self, text: str, length: int) -> int:
        """The entry whose pattern matches exactly the first ``length`` characters of ``text``, read
        with what follows them (for patterns that look ahead: "tracks?(?=\\s+(?:her|the))")."""
        low = text.lower()
        found = self(low[:length])
        if found >= 0:
            return found
        return next(
            (i for i, rx in enumerate(self.rxs) if rx is not None and (m := rx.match(low)) and m.end() == length), -1
        )


def ordered_alternation(entries: Iterable[Sequence[str]]) -> str:
    """One alternation over several entries' patterns, entries in order, each entry's longest first."""
    return alternation((p for pats in entries for p in sorted(pats, key=lambda p: (-len(p), p))), ordered=True)


BOUND = rf"(?=\s*(?:[,.;:!?\n{MARK}]|$))"  # clause boundary ahead


SEG_START = rf"(?:^|(?<=[,.;:!?\n{MARK}]))"  # clause start behind


_CODE = (__file__, str(Path(__file__).parent / "lexicon.py"), str(Path(__file__).parent / "vocabulary.py"))


def _key(data: bytes) -> str:
    """Key of the build cache: the vocabulary bytes and the source of the modules that derive it."""
    import skill.textmatch

    return startup_cache.key(data, code=(*_CODE, skill.textmatch.__file__), libs=("pydantic", "yaml"))


def _cache_file(path: str) -> Path:
    """Where the build of ``path`` is written when ``KLING3_HOME`` can be written."""
    from skill import settings

    with open(path, "rb") as fh:
        k = _key(fh.read())
    return settings.kling3_home() / "cache" / startup_cache.entry_name("vocabulary", k)


def cache_key(path: str) -> str | None:
    """The start-up cache key of the vocabulary file ``path``; None when the cache is switched off
    (``KLING3_CACHE=off``) or the file cannot be read (``load_yaml`` reports it)."""
    if not startup_cache.enabled():
        return None
    try:
        with open(path, "rb") as fh:
            return _key(fh.read())
    except OSError:
        return None


def open_cache(path: str, k: str | None = None) -> LexCache | None:
    """The build cache for the vocabulary file ``path`` (empty when nothing usable is stored).

    None when the start-up cache is switched off: everything is compiled afresh.
    """
    k = k or cache_key(path)
    return None if k is None else LexCache(k, startup_cache.load("vocabulary", k))


def save_cache(path: str, cache: LexCache, raw: Any, vocab: Any = None) -> None:
    """Store the cache (atomically, by :mod:`skill.startup_cache`); one that cannot be written is not."""
    startup_cache.store("vocabulary", cache.key, cache.payload(raw, vocab))
