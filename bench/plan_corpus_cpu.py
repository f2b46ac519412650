"""CPU time per distinct plan, in one process, over every request of tests/corpus/**/*.jsonl.

What `plan --batch` does in each worker, without the process start and the pool: every corpus
request gets a unique suffix (so no memo helps), is planned with the batch prefilter on, and the
JSON line is kept. ``--dump FILE`` writes those lines, so two versions of the code can be
compared byte for byte (``cmp``). Reports the median of ``--rounds`` rounds of CPU time.

Run: python bench/plan_corpus_cpu.py [--rounds 3] [--dump out.jsonl]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from skill.errors import Kling3Error
from skill.intent import enable_prefilter
from skill.planning import make_plan

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus"


def requests() -> list[dict[str, Any]]:
    out = []
    for path in sorted(CORPUS.rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                c = json.loads(line)
                req = c.get("request") or {"text": c["text"], **{k: c[k] for k in ("image_url", "tail_image_url") if c.get(k)},
                                           **c.get("fields", {})}
                out.append(req)
    return out


def plan_line(req: dict[str, Any]) -> str:
    try:
        return make_plan(req, video_tools=True).model_dump_json(by_alias=True)
    except Kling3Error as exc:
        return json.dumps({"error": exc.to_dict()}, ensure_ascii=False, separators=(",", ":"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dump", type=Path, help="write the JSON line of every plan (first round) here")
    ap.add_argument("--no-prefilter", action="store_true", help="plan as a single `kling3 plan` does")
    args = ap.parse_args()
    reqs = requests()
    if not args.no_prefilter:
        enable_prefilter()
    plan_line({"text": "warm up the shared caches"})
    times = []
    for r in range(args.rounds):
        batch = [dict(q, text=f"{q['text']} (take {r}-{i})") if q.get("text") else q for i, q in enumerate(reqs)]
        t0 = time.process_time()
        lines = [plan_line(q) for q in batch]
        times.append(time.process_time() - t0)
        if r == 0 and args.dump:
            args.dump.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cpu = statistics.median(times)
    print(f"{len(reqs)} distinct plans, median of {args.rounds} rounds: {cpu / len(reqs) * 1e3:.3f} ms CPU/plan "
          f"= {len(reqs) / cpu:,.0f} plans/s per core (rounds: {', '.join(f'{t:.2f}' for t in times)} s)")


if __name__ == "__main__":
    main()
