"""Build time of the prompt builder per distinct prompt, with no memo to help.

Each corpus request (tests/corpus/*.jsonl, the blind sets aside) is built once as the planner
builds it (the router's spans, audio, the request's duration and shots), with the build and story
memos cleared before every build, so each figure is a cold build of a new prompt (the vocabulary
and templates are compiled once per process, as in any run). Target: < 1 ms per distinct prompt.

Run: python bench/prompt_build.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import time
from pathlib import Path
from typing import Any

from skill.errors import InputError
from skill.intent import extract
from skill.prompt import PromptInput
from skill.prompt.build import _build, _story_cached
from skill.request import Shot
from skill.rulebook import load_rules

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus"


def _inputs() -> list[PromptInput]:
    rules = load_rules()
    out = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            c = json.loads(line)
            req: dict[str, Any] = c.get("request") or {"text": c["text"], **c.get("fields", {})}
            text = req.get("text") or req.get("prompt") or ""
            intent = extract(text, rules)
            duration = int(req.get("duration") or 5)
            out.append(
                PromptInput(
                    text=text,
                    shots=[Shot(**s) for s in req["shots"]] if req.get("shots") else None,
                    mode="i2v" if req.get("image_url") else "t2v",
                    duration=min(max(duration, 3), 15),
                    generate_audio=bool(req.get("generate_audio")) or intent.first("audio_on") is not None,
                    routing_spans=intent.routing_spans(rules.content_states),
                    as_written=intent.first("language_other") is not None,
                )
            )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3, help="passes over the corpus; the best is reported")
    args = ap.parse_args()
    inputs = _inputs()
    for inp in inputs[:50]:  # compile the vocabulary and templates once, as a running process has
        with contextlib.suppress(InputError):
            _build(inp, None)
    best: list[float] = []
    for _ in range(args.rounds):
        times = []
        for inp in inputs:
            _story_cached.cache_clear()
            t0 = time.perf_counter()
            with contextlib.suppress(InputError):
                _build(inp, None)
            times.append(time.perf_counter() - t0)
        if not best or statistics.mean(times) < statistics.mean(best):
            best = times
    ms = sorted(t * 1000 for t in best)
    p95 = ms[int(len(ms) * 0.95)]
    print(f"{len(ms)} distinct prompts: mean {statistics.mean(ms):.3f} ms, median {statistics.median(ms):.3f} ms, "
          f"p95 {p95:.3f} ms, max {ms[-1]:.3f} ms per build; target < 1 ms")


if __name__ == "__main__":
    main()
