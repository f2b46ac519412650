"""24 emulated 2-second jobs at concurrency 8 must finish within 1.5x the ideal.

Ideal: ceil(24 / 8) = 3 waves x 2 s = 6 s, so the target is <= 9 s (planning, the budget check,
submits, polling, downloads and journaling included). One shared AsyncRunComfyClient, one
journal, real HTTP to a local emulator, real files.

Run: python bench/batch_concurrency.py [--jobs 24] [--concurrency 8] [--seconds 2] [--poll 0.25]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import tempfile
import time
from pathlib import Path

from skill.execution.batch import BatchItem, BatchReport, run_batch
from skill.execution.client import AsyncRunComfyClient
from skill.execution.journal import Journal
from skill.testing.emulator import Emulator, EmulatorConfig


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=24)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--poll", type=float, default=0.25)
    args = ap.parse_args()
    n, conc, secs = args.jobs, args.concurrency, args.seconds
    ideal = math.ceil(n / conc) * secs
    budget = 1.5 * ideal
    requests = [
        {"text": f"a paper boat number {i} drifting on a pond, 5 seconds"} for i in range(n)
    ]
    peak = 0
    running: set[int] = set()

    def on_item(item: BatchItem) -> None:
        nonlocal peak
        if item.status == "running":
            running.add(item.index)
            peak = max(peak, len(running))
        else:
            running.discard(item.index)

    with tempfile.TemporaryDirectory() as d:
        os.environ["KLING3_HOME"] = str(Path(d) / "home")  # schema cache and journal stay private
        os.environ.pop("KLING3_DAILY_CAP_USD", None)
        config = EmulatorConfig(queue_seconds=secs / 4, run_seconds=3 * secs / 4)
        with Emulator(config) as emu, Journal(Path(d) / "jobs.sqlite3") as journal:

            async def go() -> BatchReport:
                async with AsyncRunComfyClient(base_url=emu.base_url, token=emu.token) as client:
                    return await run_batch(
                        requests,
                        concurrency=conc,
                        output_dir=Path(d) / "out",
                        poll_interval=args.poll,
                        client=client,
                        journal=journal,
                        on_item=on_item,
                    )

            t0 = time.perf_counter()
            report = asyncio.run(go())
            elapsed = time.perf_counter() - t0
            submits = emu.counts["submit"]
    ok = (
        elapsed <= budget
        and report.counts == {"completed": n}
        and submits == n
        and peak == min(conc, n)
    )
    print(
        f"{n} jobs of {secs:g} s at concurrency {conc} (poll {args.poll:g} s): {elapsed:.2f} s "
        f"({report.counts}, {submits} submits, peak {peak} in flight); ideal {ideal:g} s, "
        f"target <= {budget:g} s -> {'ok' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
