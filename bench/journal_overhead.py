"""The journal's cost per job on each backend: the writes and reads one job makes, in ms.

One job's journal traffic, as the flow makes it: the row with the daily-cap check before the
submit, the request_id after it, three observed states, the claim for the download, the saved
file, ``downloaded``, the release, and one ``get`` by prefix. Run on the SQLite file (WAL, full
sync) and on PostgreSQL over loopback (a throwaway cluster from ``tests/pghelp.py``, with fsync
and synchronous commit on like a real server, unless ``--pg URL`` names one), interleaved in
rounds, median per job. Both commit every write to disk before answering.

Run: python bench/journal_overhead.py [--jobs 200] [--rounds 5] [--pg postgresql://...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from skill.execution.journal import Journal

MODEL = "kling/kling-3.0/standard/text-to-video"


def one_job(jr: Journal, owner: str) -> None:
    rec = jr.begin(MODEL, "standard", "t2v", {"prompt": "a red fox in snow", "duration": 5}, 0.42,
                   daily_cap_usd=1e9, owner=owner, api_base="http://127.0.0.1:9/v1")
    rid = uuid.uuid4().hex
    jr.set_request_id(rec.job_key, rid)
    for state in ("in_queue", "in_progress", "completed"):
        jr.update_state(rid, state, {"status": state})
    jr.claim(rid, owner)
    jr.add_file(rid, f"https://cdn.example/{rid}.mp4", f"/tmp/{rid}.mp4", "ab" * 32, 1234)
    jr.update_state(rid, "downloaded")
    jr.release(owner, rid)
    jr.get(rid[:8])


def per_job_ms(jr: Journal, jobs: int) -> float:
    owner = f"bench:{uuid.uuid4().hex[:8]}"
    t0 = time.perf_counter()
    for _ in range(jobs):
        one_job(jr, owner)
    return (time.perf_counter() - t0) * 1000 / jobs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--pg", default=None, help="a PostgreSQL database URL (default: start a throwaway cluster)")
    args = ap.parse_args()
    server = None
    url = args.pg
    if url is None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        import pghelp

        server = pghelp.start(durable=True)
        url = server.database()
    try:
        with Journal(Path(tempfile.mkdtemp()) / "jobs.sqlite3") as lite, Journal(url) as pg:
            samples: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
            per_job_ms(lite, 10), per_job_ms(pg, 10)  # warm-up
            for _ in range(args.rounds):
                samples["sqlite"].append(per_job_ms(lite, args.jobs))
                samples["postgresql"].append(per_job_ms(pg, args.jobs))
    finally:
        if server is not None:
            server.stop()
    for name, values in samples.items():
        print(f"{name:<10} {statistics.median(values):6.2f} ms per job (9 write transactions and a prefix lookup; median of "
              f"{args.rounds} rounds of {args.jobs} jobs)")


if __name__ == "__main__":
    main()
