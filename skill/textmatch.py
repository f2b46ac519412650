"""The regex and trie toolkit that the router and the prompt builder share.

Both stages compile hundreds of vocabulary patterns; these helpers build fast alternations
(factored by first letter, longest first), tries, and the substrings a pattern's every match
must contain, read from the pattern's own parse tree, so a scan that cannot match is skipped
without keeping a keyword list in step with the vocabulary. No video words live here.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from typing import Any

__all__ = [
    "alternation",
    "boundary_factored",
    "bounded",
    "build_trie",
    "regex_internals",
    "required_substrings",
    "tree_needs",
    "trie_longest",
    "trie_starts",
    "word_alternation",
]

_QUANT = frozenset("?*+{")


def alternation(patterns: Iterable[str], *, ordered: bool = False) -> str:
    """An alternation of patterns, longest first (or in the given order), factored by first letter.

    CPython tries every alternative at every position; grouping the alternatives that start
    with the same plain letter ("c(?:lose-up|rane)") makes most positions fail after one test.
    """
    items = [p for p in patterns if p]
    if not ordered:
        # Longest first, so "medium close-up" wins over "medium" at the same position.
        items.sort(key=len, reverse=True)
    groups: dict[str, list[str]] = {}
    rest: list[str] = []
    for p in items:
        if len(p) > 1 and p[0].isalnum() and p[0].isascii() and p[1] not in _QUANT:
            groups.setdefault(p[0].lower(), []).append(p[1:])
        else:
            rest.append(p)
    out = [
        f"{k}(?:{'|'.join(f'(?:{t})' for t in tails)})" if len(tails) > 1 else f"{k}(?:{tails[0]})"
        for k, tails in groups.items()
    ]
    return "|".join([*(f"(?:{x})" for x in out), *(f"(?:{p})" for p in rest)])


def word_alternation(words: Iterable[str]) -> str:
    return alternation(re.escape(w).replace(r"\ ", r"\s+") for w in words)


def _top_level_branch(p: str) -> bool:
    """Whether ``p`` has a ``|`` outside every group and character class."""
    depth, i, n = 0, 0, len(p)
    while i < n:
        ch = p[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            i += 2 if p.startswith("[^", i) else 1
            i += 1 if i < n and p[i] == "]" else 0  # a "]" first in the class is literal
            while i < n and p[i] != "]":
                i += 2 if p[i] == "\\" else 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            return True
        i += 1
    return False


def boundary_factored(patterns: Iterable[str]) -> str:
    """``(?:p1)|(?:p2)|...`` in order, with the ``\\b`` that consecutive alternatives start with
    written once: ``\\b(?:(?:alpha...)|(?:beta...))``.

    The same matches (``\\b`` is zero-width, tested at the same place), but ``re`` can then skip
    an alternative on its first letter instead of testing a word boundary for each of hundreds.
    """
    pieces: list[str] = []
    run: list[str] = []
    for p in patterns:
        if p.startswith("\\b") and len(p) > 2 and p[2] not in _QUANT and not _top_level_branch(p):
            run.append(f"(?:{p[2:]})")
            continue
        if run:
            pieces.append(f"\\b(?:{'|'.join(run)})")
            run = []
        pieces.append(f"(?:{p})")
    if run:
        pieces.append(f"\\b(?:{'|'.join(run)})")
    return "|".join(pieces)


def bounded(p: str) -> str:
    """A pattern that must start and end on word boundaries."""
    return rf"(?<![\w'])(?:{p})(?![\w])"


def regex_internals() -> tuple[Any, Any, Any, Any] | None:
    """``(parser, compiler, constants, _sre)`` of this Python's ``re``, or None when they look unfamiliar."""
    parser: Any = getattr(re, "_parser", None)
    compiler: Any = getattr(re, "_compiler", None)
    consts: Any = getattr(re, "_constants", None)
    try:
        if parser is None or compiler is None or consts is None:  # Python 3.10
            parser = importlib.import_module("sre_parse")
            compiler = importlib.import_module("sre_compile")
            consts = importlib.import_module("sre_constants")
        sre = importlib.import_module("_sre")
    except ImportError:  # pragma: no cover - another implementation
        return None
    if not all(callable(getattr(m, n, None)) for m, n in ((parser, "parse"), (compiler, "_code"), (sre, "compile"))):
        return None  # pragma: no cover
    return parser, compiler, consts, sre


def required_substrings(pattern: str, flags: int = 0) -> frozenset[str] | None:
    """Lower-case substrings one of which every match of ``pattern`` contains (None: unknown).

    The router's batch mode uses it to skip signal scans that cannot match.
    """
    internals = regex_internals()
    if internals is None:  # pragma: no cover
        return None
    parser, _compiler, consts, _sre = internals
    try:
        tree = parser.parse(pattern, flags)
    except Exception:  # pragma: no cover - the pattern compiled already
        return None
    return tree_needs(list(tree), consts)


def _prefixes(items: list[Any], c: Any) -> set[str] | None:
    """The literal strings a sequence can start with ({""} when it may start otherwise)."""
    run = ""
    for op, av in items:
        if op is c.LITERAL:
            run += chr(av).lower()
            continue
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            continue
        sub: set[str] | None = None
        if op is c.SUBPATTERN:
            sub = _prefixes(list(av[-1]), c)
        elif op is c.BRANCH:
            parts = [_prefixes(list(a), c) for a in av[1]]
            sub = set().union(*parts) if all(p is not None for p in parts) else None  # type: ignore[arg-type]
        if sub is None or len(sub) > 64:
            return {run}
        return {run + x for x in sub}
    return {run}


def tree_needs(items: list[Any], c: Any) -> frozenset[str] | None:
    cands: list[frozenset[str]] = []
    run = ""
    zero_width = {c.AT, c.ASSERT, c.ASSERT_NOT}
    repeats = {c.MAX_REPEAT, c.MIN_REPEAT} | ({c.POSSESSIVE_REPEAT} if hasattr(c, "POSSESSIVE_REPEAT") else set())
    for op, av in items:
        if op is c.LITERAL:
            run += chr(av).lower()
            continue
        if op in zero_width:
            continue
        if op in (c.SUBPATTERN, c.BRANCH):
            # a literal run followed by an alternation: "c(?:lose-up|rane)" needs "close-up" or "crane"
            pre = _prefixes([(op, av)], c)
            if pre and all(run + x for x in pre):
                cands.append(frozenset(run + x for x in pre))
        if run:
            cands.append(frozenset({run}))
            run = ""
        if op is c.SUBPATTERN:
            sub = tree_needs(list(av[-1]), c)
        elif op is c.BRANCH:
            alts = [tree_needs(list(a), c) for a in av[1]]
            sub = frozenset().union(*alts) if alts and all(a is not None for a in alts) else None  # type: ignore[arg-type]
        elif op in repeats and av[0] >= 1:
            sub = tree_needs(list(av[2]), c)
        elif op is c.IN:
            sub = _charset(av, c)
        else:
            sub = None
        if sub:
            cands.append(sub)
    if run:
        cands.append(frozenset({run}))
    if not cands:
        return None
    return max(cands, key=_selectivity)


def _selectivity(st: frozenset[str]) -> tuple[int, int]:
    """Rank a needs set: longest shortest member (a digit counts as rare), then fewest members."""
    return (min(len(x) + (3 if x.isdigit() else 0) for x in st), -len(st))


def _charset(av: Any, c: Any) -> frozenset[str] | None:
    """The characters of a small character class (``\\d``, ``[0-9]``, ``[$€]``), or None."""
    chars: set[str] = set()
    for op, a in av:
        if op is c.LITERAL:
            chars.add(chr(a).lower())
        elif op is c.RANGE and a[1] - a[0] <= 12:
            chars.update(chr(x).lower() for x in range(a[0], a[1] + 1))
        elif op is c.CATEGORY and a is c.CATEGORY_DIGIT:
            chars.update("0123456789")
        else:
            return None
    return frozenset(chars) if chars else None


def build_trie(words: Iterable[str]) -> dict[str, Any]:
    """Nested dicts, one level per character; ``""`` marks the end of a word."""
    root: dict[str, Any] = {}
    for w in words:
        node = root
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}
    return root


def trie_longest(words: Iterable[str]) -> str:
    """A pattern matching the longest of ``words`` that starts here."""
    root = build_trie(words)

    def emit(node: dict[str, Any]) -> str:
        kids = [re.escape(k) + emit(node[k]) for k in sorted(node) if k]
        if not kids:
            return ""
        body = kids[0] if len(kids) == 1 else "(?:" + "|".join(kids) + ")"
        if "" in node:
            return f"(?:{body})?"
        return body if len(kids) == 1 or body.startswith("(?:") else f"(?:{body})"

    return emit(root)


def trie_starts(words: Iterable[str]) -> str:
    """A pattern matching where any of ``words`` starts (a word that has a shorter one as prefix is dropped)."""
    root = build_trie(words)

    def emit(node: dict[str, Any]) -> str:
        if "" in node:
            return ""
        parts = [re.escape(k) + emit(node[k]) for k in sorted(node)]
        return parts[0] if len(parts) == 1 else "(?:" + "|".join(parts) + ")"

    return emit(root)
