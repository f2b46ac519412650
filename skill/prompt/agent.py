"""Text an agent wrote for a tool: the call around the prompt is the request, the prompt is the scene.

Agents often pass on the call they would make (``generate_video(prompt="a fox in snow",
aspect_ratio="9:16", model="kling-v3")``) or the task they were handed ("Task for video agent:
..."). Kling would read the function name, the parameter names and their values as scene words, so
the call is unwrapped into the brief it is (its arguments as keys: the ``prompt`` is the
description, request keys stay out), and in prose the task framing, request parameter pairs
(``aspect_ratio=9:16``), their list labels ("params:") and model ids go. Every removed phrase is
reported, so the caller sees what was taken out.
"""

from __future__ import annotations

import json
import re
from typing import Any

from skill.prompt.editing import causative, lead_in, request_phrases
from skill.prompt.lexicon import Lex
from skill.prompt.patterns import MARK, MARK_SPACED

__all__ = ["drop_agent_framing", "relay_as_own", "unwrap_call"]

_KEYWORD = re.compile(r"^\s*(?P<key>[A-Za-z_][\w-]{0,40})\s*(?:=|:)\s*(?P<value>.*)$", re.DOTALL)
_OPEN = {"(": ")", "[": "]", "{": "}"}
_SENTENCE_END = re.compile(r"[.!?\n]")


def _split_args(args: str) -> list[str]:
    """The arguments of a call, split on the commas outside quotes and brackets."""
    out: list[str] = []
    depth: list[str] = []
    quote = ""
    cur: list[str] = []
    for ch in args:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in _OPEN:
            depth.append(_OPEN[ch])
        elif depth and ch == depth[-1]:
            depth.pop()
        elif ch == "," and not depth:
            out.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur))
    return [a for a in out if a.strip(f" {MARK}")]


def _value(raw: str) -> Any:
    v = raw.replace(MARK, " ").strip()
    if v[:1] in "[{":
        try:
            return json.loads(v)
        except ValueError:
            return v.strip("[]{}")
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        return v[1:-1]
    return v


def unwrap_call(lx: Lex, text: str) -> tuple[str, list[str]]:
    """A whole text that is one function call, as the JSON brief of its arguments (positional
    arguments are the prompt), and the call's name; any other text unchanged."""
    m = lx.agent_call.match(text) or lx.agent_obj_call.match(text)
    if m is None:
        return text, []
    data: dict[str, Any] = {}
    for arg in _split_args(m.group("args")):
        kw = _KEYWORD.match(arg)
        if kw is not None and not kw.group("key")[:1].isdigit():
            data[kw.group("key")] = _value(kw.group("value"))
        else:
            data.setdefault("prompt", _value(arg))
    if not any(isinstance(v, str) and re.search(r"[^\W\d_]{3}", v) for v in data.values()):
        return text, []  # "render(9:16)": nothing of a scene inside
    return json.dumps(data, ensure_ascii=False), [" ".join(m.string[: m.end("name")].replace(MARK, " ").split())]


def drop_agent_framing(lx: Lex, text: str) -> tuple[str, list[str]]:
    """Prose without the task framing, request parameter pairs, their labels and model ids (each
    leaves a marker for the tidying), and what went."""
    removed: list[str] = []
    spans: list[tuple[int, int]] = []
    low = text.lower()
    if lx.agent_framing.may(low):
        for h in lx.agent_framing.hits(text):
            spans.append((h.start(), h.end()))
            opened = h.end() + len(text[h.end():]) - len(text[h.end():].lstrip())
            close = text.find('"', opened + 1) if text[opened: opened + 1] == '"' else -1
            if close > 0:  # "prompt: 'a poodle trotting ...'": the value is the description, not a line
                spans += [(opened, opened + 1), (close, close + 1)]
    for rx in (lx.agent_pair, lx.model_id, lx.agent_label):
        spans += [mt.span() for mt in rx.finditer(text) if not any(a < mt.end() and mt.start() < b for a, b in spans)]
    if not spans:
        return text, []
    out: list[str] = []
    pos = 0
    for a, b in sorted(spans):
        if a < pos:
            continue
        out.append(text[pos:a])
        out.append(f" {MARK} ")
        removed.append(" ".join(text[a:b].split()))
        pos = b
    out.append(text[pos:])
    return "".join(out), removed


def relay_as_own(lx: Lex, text: str) -> tuple[str, list[str]]:
    """The text with each relayed wish at a sentence's start ("The user wants a short clip: ...",
    "my client would like the logo to glow") edited as the caller's own wish would be, and the
    heads that went. The relayer's words are request framing, never the scene; cutting only the
    head would leave a fragment ("the logo to glow"), so the sentence is read in the first person
    and the lead-in or causative edit mends it ("The logo glows"). A relayer who may be in the scene
    ("the customer asks for a coffee") is one only when the wish is about the video."""
    if not lx.relay_wish.search(text):
        return text, []
    removed: list[str] = []
    for m in reversed(list(lx.relay_wish.finditer(text))):
        if text.count('"', 0, m.start("head")) % 2:
            continue  # inside a spoken line: the speaker's words
        end = m.end()
        stop = _SENTENCE_END.search(text, end)
        close = stop.start() if stop is not None else len(text)
        rest, phrases = request_phrases(lx, text[end:close])  # "a short clip [for their Instagram]:"
        edited = _relayed(lx, rest, m.group("plain") is not None, m.group("it") is not None)
        if edited is None:
            continue
        removed += [*phrases[::-1], " ".join(m.group("head").split())]
        text = text[: m.start("head")] + edited + text[close:]
    return text, removed[::-1]


def _relayed(lx: Lex, rest: str, plain: bool, video: bool) -> str | None:
    """The sentence after a relayer's head, edited as the caller's own wish (None: not a relay)."""
    if video:
        return MARK_SPACED + rest.lstrip()  # "wants it slow and moody:": about the video, the head goes
    own = lx.relay_say + rest.lstrip()
    words = rest.split()
    to = next((k for k in range(1, min(len(words), 6)) if words[k].lower() == "to"), 0)
    if to and words[0].lower() in lx.dets | set(lx.object_pronouns):
        said = causative(lx, own)
        if said != own:
            return said  # "wants the fox to look up" -> "The fox looks up"
    after, framing = lead_in(lx, own)
    framed = [w for w in re.findall(r"[a-z]+", framing.lower()) if w in lx.containers]
    if framing and (plain or framed or framing.endswith(":")):
        return after  # "wants a short clip of": the request's, the scene after it stays
    return MARK_SPACED + rest.lstrip() if plain else None
