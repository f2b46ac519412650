"""A job of N seconds (queue + run on the emulator) must finish within N + poll interval + 0.5 s.

Run: python bench/job_latency.py [--seconds 3] [--poll 0.5]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from skill.execution.client import RunComfyClient
from skill.execution.flow import run
from skill.execution.journal import Journal
from skill.testing.emulator import Emulator, EmulatorConfig


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--poll", type=float, default=0.5)
    args = ap.parse_args()
    n = args.seconds
    with (
        tempfile.TemporaryDirectory() as d,
        Emulator(EmulatorConfig(queue_seconds=n / 3, run_seconds=2 * n / 3)) as emu,
        RunComfyClient(base_url=emu.base_url, token=emu.token) as client,
        Journal(Path(d) / "j.sqlite3") as jr,
    ):
        t0 = time.perf_counter()
        res = run("a dog on a beach", output_dir=d, poll_interval=args.poll, client=client, journal=jr,
                  check_live_schema=False)
        elapsed = time.perf_counter() - t0
    budget = n + args.poll + 0.5
    print(f"job of {n:g} s (poll {args.poll:g} s): finished in {elapsed:.2f} s incl. download "
          f"({res.status}); target <= {budget:.2f} s -> {'ok' if elapsed <= budget else 'MISSED'}")


if __name__ == "__main__":
    main()
