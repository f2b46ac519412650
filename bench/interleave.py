"""Timing two whole processes fairly: A B A B ..., each run measured from outside.

Used by the comparisons in bench/ (``from interleave import ...``, as they run from this
folder). Each run is a fresh process started with :func:`subprocess.Popen` and reaped with
:func:`os.wait4`, so its CPU time (user + system, the kernel's own accounting, children it
waited for included) and its wall time cover start-up, imports and exit. The runs alternate
so that a machine whose speed drifts (other work on shared cores) moves both sides alike, and
the ratio is taken pair by pair before its median. Bytecode is compiled first, as a wheel
install has it, so no run pays for compiling the package.
"""

from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Run", "Side", "compile_bytecode", "interleaved", "report"]

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Run:
    wall_s: float
    cpu_s: float
    returncode: int


@dataclass
class Side:
    name: str
    runs: list[Run] = field(default_factory=list)

    def median(self, what: str) -> float:
        return statistics.median(getattr(r, what) for r in self.runs)


def compile_bytecode() -> None:
    """``python -m compileall`` over the package and bench/, quietly (a no-op when current)."""
    for folder in ("skill", "bench"):
        compileall.compile_dir(str(ROOT / folder), quiet=1, workers=1)


def timed(cmd: Sequence[str], env: dict[str, str] | None = None) -> Run:
    """One whole process: wall clock around it, CPU from the kernel's rusage of the child."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(wall, usage.ru_utime + usage.ru_stime, proc.returncode)


def interleaved(
    a: tuple[str, Callable[[int], Run]],
    b: tuple[str, Callable[[int], Run]],
    runs: int,
    warmup: int = 1,
) -> tuple[Side, Side]:
    """``runs`` pairs of A then B (after ``warmup`` uncounted pairs); each callable gets the
    run number and returns its :class:`Run` (so it can prepare a fresh folder first)."""
    side_a, side_b = Side(a[0]), Side(b[0])
    for n in range(warmup + runs):
        ra, rb = a[1](n), b[1](n)
        for side, r in ((side_a, ra), (side_b, rb)):
            if r.returncode != 0:
                raise SystemExit(f"{side.name} exited {r.returncode} (run {n})")
            if n >= warmup:
                side.runs.append(r)
    return side_a, side_b


def report(side_a: Side, side_b: Side, what: str, unit: str = "s") -> float:
    """Print both medians of ``what`` (``wall_s`` or ``cpu_s``) and the median of the ratios
    taken pair by pair; return that ratio."""
    ratios = [getattr(x, what) / getattr(y, what) for x, y in zip(side_a.runs, side_b.runs, strict=True)]
    ratio = statistics.median(ratios)
    label = what.removesuffix("_s")
    print(
        f"{label:>4}: {side_a.name} {side_a.median(what):.3f} {unit}, {side_b.name} "
        f"{side_b.median(what):.3f} {unit} -> {ratio:.2f}x (median of {len(ratios)} interleaved "
        f"pairs; pair ratios {min(ratios):.2f}-{max(ratios):.2f})"
    )
    return ratio


def kling3() -> list[str]:
    """The installed `kling3` script, or the module when only the source is there."""
    import sys

    script = Path(sys.executable).parent / "kling3"
    return [str(script)] if script.exists() else [sys.executable, "-m", "skill.cli"]


def no_ffmpeg_path() -> str:
    """PATH without the folders that hold an ffmpeg (so no contact sheet is made)."""
    keep = [p for p in os.environ.get("PATH", "").split(os.pathsep)
            if p and not os.path.exists(os.path.join(p, "ffmpeg"))]
    return os.pathsep.join(keep)
