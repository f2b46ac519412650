"""Run the real ``kling3`` console script in a subprocess, as users and agents do."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
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


def wait_for_port(proc: subprocess.Popen[Any], port: int, log: Path, seconds: float) -> None:
    """Wait until ``proc`` listens on ``port`` on loopback; fail with its log if it dies or is slow."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            assert proc.poll() is None, log.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, "the HTTP server did not start"
            time.sleep(0.05)


def stop(proc: subprocess.Popen[Any]) -> None:
    """Terminate ``proc``, killing it if it does not exit within 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
