"""Cold start of `kling3 plan ... --json` against the floor of its own libraries.

The floor is bench/floor_plan.py: a short script that really uses pydantic (a 10-field model
validated), yaml (CSafeLoader on routing_rules.yaml) and jinja2 (one template rendered). Both run
as whole processes, interleaved A B A B so that a machine whose speed drifts moves both alike,
with bytecode compiled first (as a wheel install has it: `python -m compileall`). Two cases:
a writable KLING3_HOME holding a warm start-up cache, and a KLING3_HOME that cannot be written
(a 0500 directory; as root, whom modes do not stop, a path under a regular file), where the cache
falls back to a per-user directory. The ratio is the median of the per-pair ratios of CPU time
(user + system of the child); wall time is printed too.

Target: ratio <= 1.25x in both cases.
Run: python bench/plan_cold_start.py [--runs 15] [--text "..."]
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEXT = "a quick vertical draft of a barista pulling espresso, with cafe sound"


def _child_cpu() -> float:
    """CPU seconds of every child reaped so far (the kernel's accounting)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, cpu) seconds of one whole run of ``cmd``."""
    before = _child_cpu()
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t0, _child_cpu() - before


def interleaved(a: list[str], b: list[str], env: dict[str, str], runs: int) -> dict[str, float]:
    wall_a, wall_b, cpu_a, cpu_b, ratios = [], [], [], [], []
    for _ in range(runs):
        wa, ca = one(a, env)
        wb, cb = one(b, env)
        wall_a.append(wa)
        wall_b.append(wb)
        cpu_a.append(ca)
        cpu_b.append(cb)
        ratios.append(ca / cb if cb else float("nan"))
    return {
        "a_wall": statistics.median(wall_a),
        "b_wall": statistics.median(wall_b),
        "a_cpu": statistics.median(cpu_a),
        "b_cpu": statistics.median(cpu_b),
        "ratio": statistics.median(ratios),
        "wall_ratio": statistics.median(x / y for x, y in zip(wall_a, wall_b, strict=True)),
    }


def _readonly_home(tmp: Path) -> tuple[Path, str]:
    home = tmp / "readonly-home"
    home.mkdir()
    home.chmod(0o500)
    if os.geteuid() != 0:
        return home, "a 0500 directory"
    blocker = tmp / "not-a-directory"
    blocker.write_text("KLING3_HOME lies under this file, so nothing can be created there\n")
    return blocker / "home", "a path under a regular file (root ignores a 0500 mode)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--text", default=TEXT)
    args = ap.parse_args()
    py = sys.executable
    for tree in (ROOT / "skill", ROOT / "bench"):
        compileall.compile_dir(str(tree), quiet=1)
    script = Path(py).parent / "kling3"
    kling = [str(script)] if script.exists() else [py, "-m", "skill.cli"]
    plan = [*kling, "plan", args.text, "--json"]
    floor = [py, str(ROOT / "bench" / "floor_plan.py")]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        base = {k: v for k, v in os.environ.items() if k not in ("KLING3_CACHE", "KLING3_PROMPT_CACHE")}
        writable = {**base, "KLING3_HOME": str(tmp / "home")}
        ro_home, how = _readonly_home(tmp)
        readonly = {**base, "KLING3_HOME": str(ro_home), "XDG_CACHE_HOME": str(tmp / "xdg-cache")}
        cases = [("writable KLING3_HOME", writable), (f"read-only KLING3_HOME ({how})", readonly)]
        for name, env in cases:
            for _ in range(2):  # warm: the first run of each case fills its cache
                one(plan, env)
            r = interleaved(plan, floor, env, args.runs)
            print(f"{name}, {args.runs} interleaved pairs, medians:")
            print(f"  kling3 plan --json  cpu {r['a_cpu'] * 1000:6.0f} ms   wall {r['a_wall'] * 1000:6.0f} ms")
            print(f"  floor_plan.py       cpu {r['b_cpu'] * 1000:6.0f} ms   wall {r['b_wall'] * 1000:6.0f} ms")
            print(f"  ratio (cpu, per pair) {r['ratio']:.2f}x   wall {r['wall_ratio']:.2f}x   target <= 1.25x")
        (tmp / "readonly-home").chmod(0o700)  # so the temporary directory can be removed


if __name__ == "__main__":
    main()
