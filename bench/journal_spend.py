"""`kling3 spend` on a 100k-job journal against an empty one, whole process against whole process.

The big journal is filled with bulk SQL of the journal's own schema (the schema made by opening it
with :class:`~skill.execution.journal.Journal`, then one ``executemany``), jobs spread over 90 days
and three tiers, with a prompt-sized payload so the table is the size a real one would be. Both
commands run with bytecode compiled (as a wheel install has it), interleaved A B A B, and the
median of each is compared.

Target (issue 14): the 100k journal within 1.5x the empty one.
Run: python bench/journal_spend.py [--jobs 100000] [--runs 15]
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from skill.execution.journal import Journal

BASE = "http://127.0.0.1:9/v1"


def fill(home: Path, jobs: int) -> None:
    """``jobs`` rows in the journal of ``home``, most submitted, some cancelled or refused."""
    Journal(home / "jobs.sqlite3").close()
    with contextlib.closing(sqlite3.connect(home / "jobs.sqlite3", isolation_level=None)) as conn:
        start = datetime(2025, 1, 1, tzinfo=timezone.utc)
        payload = json.dumps({"prompt": "a red fox runs through fresh snow at dawn " * 8, "duration": 5})
        rows = []
        for i in range(jobs):
            at = (start + timedelta(seconds=i * 77)).isoformat(timespec="microseconds")
            state = ("downloaded", "downloaded", "failed", "cancelled", "completed")[i % 5]
            rid = None if i % 17 == 0 else uuid.uuid4().hex
            rows.append((uuid.uuid4().hex, rid, state, "kling/kling-3.0/std/t2v", ("standard", "pro", "4k")[i % 3],
                         "t2v", payload, 0.42, at, at, BASE))
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO jobs (job_key, request_id, state, model_id, tier, mode, payload_json, cost_usd,"
            " created_at, updated_at, api_base) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
        conn.execute("ANALYZE")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    compileall.compile_dir(str(Path(__file__).resolve().parents[1] / "skill"), quiet=1)
    root = Path(tempfile.mkdtemp(prefix="kling3-spend-"))
    empty, big = root / "empty", root / "big"
    Journal(empty / "jobs.sqlite3").close()
    fill(big, args.jobs)
    py = sys.executable
    script = Path(py).parent / "kling3"
    kling = [str(script)] if script.exists() else [py, "-m", "skill.cli"]
    cmd = [*kling, "spend", "--json"]
    env = {**os.environ, "RUNCOMFY_MODEL_API_BASE": BASE}
    samples: dict[str, list[float]] = {"empty": [], "big": []}
    for i in range(args.runs + 2):
        for name, home in (("empty", empty), ("big", big)):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env={**env, "KLING3_HOME": str(home)})
            if i >= 2:  # two warm-up rounds
                samples[name].append(time.perf_counter() - t0)
    e, b = statistics.median(samples["empty"]), statistics.median(samples["big"])
    print(f"kling3 spend --json, empty journal:     {e * 1000:.0f} ms (median of {args.runs}, interleaved)")
    print(f"kling3 spend --json, {args.jobs:,}-job journal: {b * 1000:.0f} ms")
    print(f"ratio: {b / e:.2f}x (target <= 1.50x)")


if __name__ == "__main__":
    main()
