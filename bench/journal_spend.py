"""`kling3 spend` on a 100k-job journal against an empty one, whole process against whole process.

The big journal is filled with bulk SQL of the journal's own schema (the schema made by opening it
with :class:`~skill.execution.journal.Journal`, then one ``executemany``), jobs spread over 90 days
and three tiers, with a prompt-sized payload so the table is the size a real one would be. Both
commands run with bytecode compiled (as a wheel install has it), interleaved A B A B, and the
median of the pair-by-pair ratios is quoted (:mod:`interleave`).

Target (issue 14): the 100k journal within 1.5x the empty one.
Run: python bench/journal_spend.py [--jobs 100000] [--runs 15]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import sys
import tempfile
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

from interleave import Run, compile_bytecode, interleaved, report, timed

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
    compile_bytecode()
    root = Path(tempfile.mkdtemp(prefix="kling3-spend-"))
    empty, big = root / "empty", root / "big"
    Journal(empty / "jobs.sqlite3").close()
    fill(big, args.jobs)
    py = sys.executable
    script = Path(py).parent / "kling3"
    cmd = [str(script)] if script.exists() else [py, "-m", "skill.cli"]
    cmd += ["spend", "--json"]
    env = {**os.environ, "RUNCOMFY_MODEL_API_BASE": BASE}
    env.pop("KLING3_JOURNAL_URL", None)

    def on(home: Path) -> Callable[[int], Run]:
        return lambda _n: timed(cmd, {**env, "KLING3_HOME": str(home)})

    a, b = interleaved((f"{args.jobs:,} jobs", on(big)), ("empty", on(empty)), args.runs, warmup=2)
    ratio = report(a, b, "wall_s")
    print(f"kling3 spend --json: {ratio:.2f}x an empty journal (target <= 1.50x)")


if __name__ == "__main__":
    main()
