"""Cold start of `kling3 plan ... --json` against importing pydantic, yaml and jinja2.

Target: within 1.3x of the baseline, i.e. nothing heavy (httpx, mcp, rich) on the plan path.
Run: python bench/plan_cold_start.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path


def timed(cmd: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    py = sys.executable
    script = Path(py).parent / "kling3"
    kling = [str(script)] if script.exists() else [py, "-m", "skill.cli"]
    baseline = [py, "-c", "import pydantic, yaml, jinja2"]
    plan = [*kling, "plan", "a quick vertical draft of a barista pulling espresso, with cafe sound", "--json"]
    timed(plan, 2)
    used = [py, "-c", "import yaml, jinja2\nfrom pydantic import BaseModel\nclass M(BaseModel):\n    x: int = 0\nM(x=1)"]
    base_s = timed(baseline, args.runs)
    used_s = timed(used, args.runs)
    plan_s = timed(plan, args.runs)
    mods = subprocess.run(
        [py, "-X", "importtime", "-m", "skill.cli", "plan", "x", "--json"], capture_output=True, text=True, check=True
    ).stderr
    heavy = sorted({m for m in ("httpx", "mcp", "rich", "anyio") if f" {m}\n" in mods or f"| {m}\n" in mods})
    print(f"baseline (import pydantic, yaml, jinja2): {base_s * 1000:.0f} ms (median of {args.runs})")
    print(f"kling3 plan --json:                      {plan_s * 1000:.0f} ms (median of {args.runs})")
    print(f"ratio: {plan_s / base_s:.2f}x (target <= 1.30x); heavy modules imported: {heavy or 'none'}")
    print(f"pydantic actually used (BaseModel + one validation), yaml, jinja2: {used_s * 1000:.0f} ms -> "
          f"{plan_s / used_s:.2f}x (`import pydantic` alone is lazy and loads almost nothing)")


if __name__ == "__main__":
    main()
