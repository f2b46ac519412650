"""Throughput of `kling3 plan --batch FILE --json` over 10,000 varied request lines.

Target: >= 3,000 distinct plans/s on 2 cores (--unique: every line differs, so no memo helps).
Run: python bench/plan_batch.py [--lines 10000] [--unique]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus" / "routing.jsonl"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=10_000)
    ap.add_argument("--unique", action="store_true", help="make every line distinct (defeats the prompt memo)")
    args = ap.parse_args()
    requests = [json.loads(line)["request"] for line in CORPUS.read_text().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batch.jsonl"
        with path.open("w") as fh:
            for i in range(args.lines):
                req = dict(requests[i % len(requests)])
                if args.unique and req.get("text"):
                    req["text"] = f"{req['text']} (take {i})"
                fh.write(json.dumps(req) + "\n")
        script = Path(sys.executable).parent / "kling3"
        kling = [str(script)] if script.exists() else [sys.executable, "-m", "skill.cli"]
        t0 = time.perf_counter()
        proc = subprocess.run([*kling, "plan", "--batch", str(path), "--json"], capture_output=True, text=True, check=True)
        elapsed = time.perf_counter() - t0
    out = proc.stdout.splitlines()
    errors = sum(1 for line in out if line.startswith('{"error"'))
    assert len(out) == args.lines, (len(out), args.lines)
    kind = "distinct" if args.unique else f"cycling {len(requests)} corpus"
    print(f"{args.lines} {kind} lines in {elapsed:.2f} s (process start included): {args.lines / elapsed:,.0f} plans/s "
          f"({errors} refusals among them) on {os.cpu_count()} cores; target >= 3,000 distinct plans/s")


if __name__ == "__main__":
    main()
