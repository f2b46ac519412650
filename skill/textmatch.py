"""The regex and trie toolkit that the router and the prompt builder share.

Both stages compile hundreds of vocabulary patterns; these helpers build fast alternations
(factored by first letter, longest first), tries, and the substrings a pattern's every match
must contain, read from the pattern's own parse tree, so a scan that cannot match is skipped
without keeping a keyword list in step with the vocabulary. No video words live here.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

__all__ = [
    "alternation",
    "alternation_finditer",
    "boundary_factored",
    "bounded",
    "build_trie",
    "dispatch_branches",
    "first_char_guarded",
    "first_char_skipped",
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


def alternation_finditer(patterns: Sequence[re.Pattern[str]], text: str) -> Iterator[re.Match[str]]:
    """The matches ``re.compile("|".join(f"(?:{p.pattern})" ...)).finditer(text)`` finds, from
    the patterns scanned one by one; for patterns that never match empty.

    The alternation's next match starts at the first position where any pattern matches, and is
    the match of the first such pattern in order; each pattern's leftmost match from the current
    position stays valid until the position passes its start, so each is searched again only then.
    A caller that knows some patterns cannot match a text (a word they all need is absent) scans
    the others alone and gets the joined pattern's matches.
    """
    found = [rx.search(text) for rx in patterns]
    pos = 0
    while True:
        best: re.Match[str] | None = None
        for i, m in enumerate(found):
            if m is not None and m.start() < pos:
                m = found[i] = patterns[i].search(text, pos)
            if m is not None and (best is None or m.start() < best.start()):
                best = m
        if best is None:
            return
        yield best
        pos = best.end()


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


def first_char_guarded(p: str) -> str:
    """``p`` behind a one-character lookahead when it opens with lookarounds or anchors.

    ``re`` starts a match at every position; a pattern such as ``(?<!her\\s)(?<!his\\s)\\bhero``
    runs all its lookbehinds before it reads a letter. ``(?=[h])`` first fails at once wherever
    the first character a match can start with is absent. Every match still starts with a
    character of that set, so the matches are the same; a pattern whose first character cannot be
    worked out (or that may match empty) is returned as written.
    """
    internals = regex_internals()
    if internals is None:  # pragma: no cover
        return p
    parser, _compiler, c, _sre = internals
    try:
        tree = parser.parse(p, 0)
    except Exception:
        return p  # the caller's compile names the error
    items = list(tree)
    if tree.state.flags & re.IGNORECASE or not _opens_zero_width(items, c):
        return p
    first = _first_chars(items, c)
    if first is None or first[1] or not first[0]:
        return p
    return f"(?=[{''.join(sorted(first[0]))}])(?:{p})"


def first_char_skipped(code: list[int], tree: Any, flags: int, internals: tuple[Any, Any, Any, Any]) -> list[int]:
    """``code`` (what ``re`` compiled from ``tree``) told which characters every match starts with.

    ``re`` records that set only when a pattern opens with a letter, a class or an alternation of
    letters; one that opens with ``\\b`` or a lookbehind is then tried at every position, running
    its assertions there. The set, worked out past those zero-width items, lets the search skip in
    C to the next position holding one of its characters and try the whole pattern there: the
    same matches, found without entering the pattern where none can start. Code that cannot be
    told (a match may be empty, a first character may be anything) is returned as it was.
    """
    _parser, compiler, c, _sre = internals
    try:
        if code[0] != c.INFO or code[2] or flags & (re.IGNORECASE | re.LOCALE):
            return code
        lo, hi = tree.getwidth()
        first = _first_items(list(tree), c)
        if lo == 0 or first is None or first[1] or not first[0]:
            return code
        charset, hascased = compiler._optimize_charset(first[0])
        if hascased:  # pragma: no cover - only with IGNORECASE, refused above
            return code
        info = [c.INFO, 0, c.SRE_INFO_CHARSET, min(lo, compiler.MAXCODE), min(hi, compiler.MAXCODE)]
        compiler._compile_charset(charset, flags, info)
    except Exception:  # pragma: no cover - unfamiliar internals: the code as re built it
        return code
    info[1] = len(info) - 1
    return info + code[1 + code[1] :]


def _first_items(items: list[Any], c: Any) -> tuple[list[tuple[Any, Any]], bool] | None:
    """The class items (parser form) a match of the sequence can start with, and whether it may
    be empty; None when a first character may be anything (a negated class, ``.``, a group
    reference, case-insensitive parts)."""
    out: list[tuple[Any, Any]] = []
    repeats = {c.MAX_REPEAT, c.MIN_REPEAT} | ({c.POSSESSIVE_REPEAT} if hasattr(c, "POSSESSIVE_REPEAT") else set())
    for op, av in items:
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            continue
        if op is c.LITERAL:
            return [*out, (op, av)], False
        if op is c.IN:
            if not all(iop in (c.LITERAL, c.RANGE, c.CATEGORY) for iop, _a in av):
                return None
            return [*out, *av], False
        sub: tuple[list[tuple[Any, Any]], bool] | None
        if op is c.SUBPATTERN:
            sub = None if av[1] & (re.IGNORECASE | re.LOCALE) else _first_items(list(av[-1]), c)
        elif op is c.BRANCH:
            alts = [_first_items(list(a), c) for a in av[1]]
            sub = None if any(a is None for a in alts) else (
                [x for a in alts if a for x in a[0]], any(a[1] for a in alts if a))
        elif op in repeats:
            body = _first_items(list(av[2]), c)
            sub = None if body is None else (body[0], body[1] or av[0] == 0)
        else:
            return None
        if sub is None:
            return None
        out += sub[0]
        if not sub[1]:
            return out, False
    return out, True


def _opens_zero_width(items: list[Any], c: Any) -> bool:
    """Whether a match attempt meets a lookaround or an anchor (other than one ``\\b``) first."""
    if not items:
        return False
    op, av = items[0]
    if op in (c.ASSERT, c.ASSERT_NOT):
        return True
    if op is c.AT:
        return av is not c.AT_BOUNDARY or _opens_zero_width(items[1:], c)
    if op is c.SUBPATTERN:
        return _opens_zero_width(list(av[-1]), c)
    if op is c.BRANCH:
        return any(_opens_zero_width(list(a), c) for a in av[1])
    return False


_CATEGORY_CLASS = {"CATEGORY_SPACE": r"\s", "CATEGORY_DIGIT": r"\d", "CATEGORY_WORD": r"\w",
                   "CATEGORY_NOT_SPACE": r"\S", "CATEGORY_NOT_DIGIT": r"\D", "CATEGORY_NOT_WORD": r"\W"}


def _class_items(av: Any, c: Any) -> set[str] | None:
    """A character class as items of a ``[...]`` (None for a negated class)."""
    out: set[str] = set()
    for op, a in av:
        if op is c.LITERAL:
            out.add(_class_char(a))
        elif op is c.RANGE:
            out.add(f"{_class_char(a[0])}-{_class_char(a[1])}")
        elif op is c.CATEGORY and str(a) in _CATEGORY_CLASS:
            out.add(_CATEGORY_CLASS[str(a)])
        else:
            return None
    return out


def _class_char(code: int) -> str:
    ch = chr(code)
    return ch if ch.isalnum() and ch.isascii() else f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}"


def _first_chars(items: list[Any], c: Any) -> tuple[set[str], bool] | None:
    """The ``[...]`` items a match of the sequence can start with, and whether it may be empty."""
    out: set[str] = set()
    repeats = {c.MAX_REPEAT, c.MIN_REPEAT} | ({c.POSSESSIVE_REPEAT} if hasattr(c, "POSSESSIVE_REPEAT") else set())
    for op, av in items:
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            continue
        if op is c.LITERAL:
            out.add(_class_char(av))
            return out, False
        if op is c.IN:
            got = _class_items(av, c)
            if got is None:
                return None
            return out | got, False
        if op is c.SUBPATTERN:
            if av[1] & re.IGNORECASE:
                return None
            sub = _first_chars(list(av[-1]), c)
        elif op is c.BRANCH:
            alts = [_first_chars(list(a), c) for a in av[1]]
            if any(a is None for a in alts):
                return None
            sub = (set().union(*(a[0] for a in alts if a)), any(a[1] for a in alts if a))
        elif op in repeats:
            body = _first_chars(list(av[2]), c)
            sub = None if body is None else (body[0], body[1] or av[0] == 0)
        else:
            return None  # any character, a back-reference, ...
        if sub is None:
            return None
        out |= sub[0]
        if not sub[1]:
            return out, False
    return out, True


def dispatch_branches(tree: Any, c: Any) -> Any:
    """A parsed pattern whose alternations are grouped by first letter: ``photo...|scan...|pic...``
    becomes ``p(?:hoto...|ic...)|scan...`` (in place; the tree is returned).

    CPython tries an alternation's branches one by one at every position; a branch led by a
    literal is skipped with one comparison, one led by anything else is entered. Branches led by
    the same letter are joined behind it, so a position costs one test per distinct letter.
    Alternatives are only moved past ones that cannot match at the same position (their first
    characters differ), so the first alternative to match, and every match, stay the same.
    Patterns with case-insensitive parts are left alone.
    """
    if tree.state.flags & re.IGNORECASE or _has_inline_flags(tree.data, c):
        return tree
    _dispatch_in(tree.data, c, tree.state, type(tree))
    return tree


def _items(seq: Any) -> list[Any]:
    """The item list of a parsed sequence (indexing a parser's SubPattern costs a call per item)."""
    return getattr(seq, "data", seq)  # type: ignore[no-any-return]


def _has_inline_flags(items: Any, c: Any) -> bool:
    for op, av in _items(items):
        if op is c.SUBPATTERN and (av[1] or av[2]):
            return True
        if any(_has_inline_flags(sub, c) for sub in _subsequences(op, av, c)):
            return True
    return False


@functools.lru_cache(maxsize=4)
def _nesting(c: Any) -> dict[Any, Callable[[Any], list[Any]]]:
    """For each parser op that holds sequences, how to reach them."""
    out: dict[Any, Callable[[Any], list[Any]]] = {
        c.BRANCH: lambda av: list(av[1]),
        c.SUBPATTERN: lambda av: [av[-1]],
        c.ASSERT: lambda av: [av[1]],
        c.ASSERT_NOT: lambda av: [av[1]],
    }
    for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        if hasattr(c, name):
            out[getattr(c, name)] = lambda av: [av[2]]
    if hasattr(c, "ATOMIC_GROUP"):
        out[c.ATOMIC_GROUP] = lambda av: [av]
    return out


def _subsequences(op: Any, av: Any, c: Any) -> list[Any]:
    reach = _nesting(c).get(op)
    return reach(av) if reach is not None else []


def _dispatch_in(seq: Any, c: Any, state: Any, sub: type) -> None:
    items = _items(seq)
    for i, (op, av) in enumerate(items):
        if op in (c.ASSERT, c.ASSERT_NOT):
            continue  # lookarounds stay as written (their width is checked already)
        for seq in _subsequences(op, av, c):
            _dispatch_in(seq, c, state, sub)
        if op is c.BRANCH:
            alts = _bucketed(list(av[1]), c, state, sub)
            items[i] = (op, (av[0], alts)) if len(alts) > 1 else (c.SUBPATTERN, (None, 0, 0, alts[0]))


def _first_set(items: Any, c: Any) -> frozenset[int] | None:
    """The characters a match of the sequence can start with (None: any, or it may be empty)."""
    for op, av in _items(items):
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            continue
        if op is c.LITERAL:
            return frozenset((av,))
        if op is c.IN:
            codes: set[int] = set()
            for iop, a in av:
                if iop is c.LITERAL:
                    codes.add(a)
                elif iop is c.RANGE and a[1] - a[0] <= 64:
                    codes.update(range(a[0], a[1] + 1))
                else:
                    return None
            return frozenset(codes)
        if op is c.SUBPATTERN:
            return _first_set(av[-1], c)
        if op is c.BRANCH:
            sets = [_first_set(a, c) for a in av[1]]
            return None if any(x is None for x in sets) else frozenset().union(*sets)  # type: ignore[arg-type]
        if op in (c.MAX_REPEAT, c.MIN_REPEAT) and av[0] >= 1:
            return _first_set(av[2], c)
        return None
    return None


_DISTRIBUTE_OPS = 240
"""How many pattern items copying an alternative's rest may add (the compiled code grows by it)."""


def _distributed(alt: Any, c: Any, state: Any, sub: type) -> list[Any]:
    """``(?:says|whispers)R`` as ``saysR`` and ``whispersR`` (the same matches, tried in the same
    order), so that each is led by its letter; only when every branch is led by a literal and
    the copies of ``R`` stay small."""
    items = _items(alt)
    if not items or items[0][0] is not c.BRANCH:
        return [alt]
    branches = [_items(b) for b in items[0][1][1]]
    rest = items[1:]
    if not all(b and b[0][0] is c.LITERAL for b in branches):
        return [alt]
    if (len(branches) - 1) * _size(rest, c) > _DISTRIBUTE_OPS:
        return [alt]
    return [sub(state, [*b, *rest]) for b in branches]


def _size(items: Any, c: Any) -> int:
    return sum(1 + sum(_size(seq, c) for seq in _subsequences(op, av, c)) for op, av in _items(items))


def _bucketed(alts: list[Any], c: Any, state: Any, sub: type) -> list[Any]:
    """Alternatives led by the same literal joined behind it, in their order; an alternative
    joins an earlier group only when nothing between could match where it does."""
    slots: list[tuple[int | None, frozenset[int] | None, list[Any]]] = []
    for alt in (x for a in alts for x in _distributed(a, c, state, sub)):
        items = _items(alt)
        head = items[0] if items else None
        key = head[1] if head is not None and head[0] is c.LITERAL else None
        if key is not None:
            j = next((j for j in range(len(slots) - 1, -1, -1) if slots[j][0] == key), None)
            if j is not None and not any(f is None or key in f for _k, f, _a in slots[j + 1 :]):
                slots[j][2].append(alt)
                continue
        slots.append((key, frozenset((key,)) if key is not None else _first_set(alt, c), [alt]))
    out = []
    for key, _f, group in slots:
        if len(group) == 1 or key is None:
            out.extend(group)
            continue
        tails = _bucketed([sub(state, _items(a)[1:]) for a in group], c, state, sub)
        body = tails[0].data if len(tails) == 1 else [(c.BRANCH, (None, tails))]
        out.append(sub(state, [(c.LITERAL, key), *body]))
    return out


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
    """Rank a needs set: longest shortest member, then fewest members. A digit counts as common:
    requests are full of numbers ("8 seconds", "take 3"), so a word the pattern needs beside its
    number filters far better."""
    return (min(len(x) - (1 if x.isdigit() else 0) for x in st), -len(st))


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
