"""Run the real ``kling3`` console script in a subprocess, as users and agents do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def kling3_cmd() -> list[str]:
    script = Path(sys.executable).parent / "kling3"
    return [str(script)] if script.exists() else [sys.executable, "-m", "skill.cli"]


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None, timeout: float = 60) -> Result:
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        [*kling3_cmd(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)
