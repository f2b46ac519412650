"""Splitting a description into shots: headers, lists, inline numbers, sequencing prose."""

from __future__ import annotations

import re
from dataclasses import dataclass

from skill.prompt.lexicon import Lex, get_lex
from skill.prompt.patterns import Rx
from skill.prompt.text import norm_space, normalise_input

__all__ = ["Split", "split_shots", "split_text"]




@dataclass
class Split:
    preamble: str
    shots: list[tuple[str, int | None]]
    structured: bool


def _dur_from(lx: Lex, txt: str | None) -> int | None:
    if not txt:
        return None
    m = lx.dur_text.search(txt)
    if not m:
        return None
    a, b = m.group(1), m.group(2)
    n = int(b) - int(a) if a is not None else int(b)
    return n if n > 0 else None


def _shot_body(lx: Lex, txt: str) -> tuple[str, int | None]:
    dur: int | None = None
    m = lx.paren_dur.search(txt)
    if m:
        a, b = m.group(1), m.group(2)
        n = int(b) - int(a) if a is not None else int(b)
        dur = n if n > 0 else None
        txt = txt[: m.start()] + " " + txt[m.end():]
    return norm_space(txt).strip(" ,;-—"), dur


def split_text(lx: Lex, text: str) -> Split:
    # 1. "Shot 1: ... Shot 2: ..."
    low = text.lower()
    heads = list(lx.header.hits(text)) if lx.header.may(low) else []
    if len(heads) >= 2:
        shots = []
        for k, h in enumerate(heads):
            end = heads[k + 1].start() if k + 1 < len(heads) else len(text)
            body, dur = _shot_body(lx, text[h.end(): end])
            dur = _dur_from(lx, h.group("dur") or h.group("dur2")) or dur
            if body:
                shots.append((body, dur))
        if len(shots) >= 2:
            return Split(norm_space(text[: heads[0].start()]), shots, True)
    if len(heads) == 1 and not text[: heads[0].start()].strip():
        text = text[heads[0].end():]
    # 2. a numbered or bulleted list, one item a line
    lines = text.split("\n")
    items = [(k, lx.list_item.match(ln)) for k, ln in enumerate(lines)] if len(lines) > 1 else []
    listed = [(k, m) for k, m in items if m]
    if len(listed) >= 2:
        shots = [_shot_body(lx, m.group(2)) for _, m in listed]
        pre = " ".join(ln for k, ln in enumerate(lines) if not items[k][1])
        return Split(norm_space(pre), [s for s in shots if s[0]], True)
    flat = norm_space(text)
    # 3. inline "1) ... 2) ..."
    nums = list(lx.inline_num.finditer(flat)) if ")" in flat else []
    seq: list[re.Match[str]] = []
    for m in nums:
        if int(m.group(1)) == len(seq) + 1:
            seq.append(m)
    if len(seq) >= 2:
        shots = []
        for k, m in enumerate(seq):
            end = seq[k + 1].start() if k + 1 < len(seq) else len(flat)
            item = _shot_body(lx, flat[m.end(): end])
            if item[0]:
                shots.append(item)
        if len(shots) >= 2:
            return Split(flat[: seq[0].start()].strip(), shots, True)
    # 4. sequencing prose: "opens on ..., then cut to ..., finally ..."
    low = flat.lower()
    op = lx.opener.search(flat) if lx.opener.may(low) else None
    has_cut = lx.cut.may(low) and lx.cut.search(flat) is not None
    if has_cut or (op and lx.step.search(flat, op.end())):
        pre = ""
        body = flat
        if op:
            pre, body = flat[: op.start()], flat[op.end():]
        parts = [p for chunk in _split_on(lx.cut, body) for p in _split_on(lx.step, chunk)]
        shots = [_shot_body(lx, p) for p in parts if p and p.strip(" ,.;")]
        if len(shots) >= 2:
            return Split(pre.strip(), [s for s in shots if s[0]], True)
    # 5. framed shots listed in prose: "wide street shot, close-up on the sole, then the logo"
    colon = flat.rfind(":")
    pre, body = ("", flat)
    total = _count_sizes(lx, flat, low)
    if total >= 2 and colon >= 0 and _count_sizes(lx, flat[colon + 1:]) >= 2:
        pre, body = flat[:colon], flat[colon + 1:]
    if total >= 2 and _count_sizes(lx, body) >= 2:
        toks = lx.list_sep.split(body)
        found: list[str] = []
        cur: list[str] = []
        for i in range(0, len(toks), 2):
            clause = toks[i].strip(" ,;.")
            if not clause:
                continue
            sep = toks[i - 1].lower() if i else ""
            if cur and (_count_sizes(lx, clause) or sep.endswith("then")):
                found.append(", ".join(cur))
                cur = []
            cur.append(clause)
        if cur:
            found.append(", ".join(cur))
        if len(found) >= 2:
            return Split(pre.strip(), [_shot_body(lx, x) for x in found], True)
    return Split("", [(flat, None)], False)


def _split_on(rx: Rx, s: str) -> list[str]:
    """``re.split`` for an ``Rx`` (pieces keep the caller's case)."""
    out: list[str] = []
    pos = 0
    for h in rx.hits(s):
        out.append(s[pos: h.start()])
        pos = h.end()
    out.append(s[pos:])
    return out


def _count_sizes(lx: Lex, text: str, low: str | None = None) -> int:
    if not lx.sizes.may(low if low is not None else text.lower()):
        return 0
    return sum(1 for _ in lx.sizes.rx.finditer(low if low is not None else text.lower()))


def split_shots(text: str) -> list[str]:
    """The shot texts found in free text: several for a multi-shot text, one otherwise, none when blank."""
    flat = normalise_input(text)
    if not flat.strip():
        return []
    sp = split_text(get_lex(), flat)
    return [t for t, _ in sp.shots]
