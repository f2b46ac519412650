"""On a TTY, 4K or a call over $2 asks first; "no" sends nothing. Without a TTY, agents proceed."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from clihelp import kling3_cmd, run_cli

from skill.testing.emulator import Emulator


def _env(emu: Emulator, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "RUNCOMFY_MODEL_API_BASE": emu.base_url, "RUNCOMFY_TOKEN": emu.token,
            "KLING3_HOME": str(tmp_path / "home")}


def _run_on_tty(args: list[str], env: dict[str, str], answer: str) -> tuple[int, str]:
    master, slave = pty.openpty()
    proc = subprocess.Popen([*kling3_cmd(), *args], stdin=slave, stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 30
    while b"Proceed?" not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                seen += os.read(master, 4096)
            except OSError:
                break
    os.write(master, answer.encode() + b"\n")
    proc.wait(timeout=30)
    os.close(master)
    return proc.returncode, seen.decode(errors="replace")


def test_4k_on_a_tty_asks_and_no_sends_nothing(emulator: Emulator, tmp_path: Path) -> None:
    code, shown = _run_on_tty(["run", "a billboard of a city at night", "--no-wait"], _env(emulator, tmp_path), "n")
    assert "Proceed?" in shown and "$2.10" in shown
    assert code == 10  # declined: its own code, not a usage error
    assert emulator.counts["submit"] == 0


def test_4k_on_a_tty_yes_submits(emulator: Emulator, tmp_path: Path) -> None:
    code, shown = _run_on_tty(["run", "a billboard of a city at night", "--no-wait"], _env(emulator, tmp_path), "y")
    assert "Proceed?" in shown and code == 0
    assert emulator.counts["submit"] == 1


def test_without_a_tty_agents_proceed_and_see_the_plan_first(make_emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = make_emulator()
    env = {k: v for k, v in _env(emu, tmp_path).items() if k.startswith(("RUNCOMFY", "KLING3"))}
    r = run_cli("run", "a billboard of a city at night", "--no-wait", env=env)
    assert r.code == 0 and emu.counts["submit"] == 1
    assert r.err.index("kling/kling-3.0/4k/text-to-video") < r.err.index("[submit]")


def _batch_file(tmp_path: Path, lines: list[dict[str, object]]) -> Path:
    import json

    f = tmp_path / "b.jsonl"
    f.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return f


def test_a_4k_batch_on_a_tty_asks_like_run_and_no_sends_nothing(emulator: Emulator, tmp_path: Path) -> None:
    f = _batch_file(tmp_path, [{"text": "a billboard of a city at night"}, {"text": "a kite"}])
    code, shown = _run_on_tty(["batch", str(f), "--concurrency", "2"], _env(emulator, tmp_path), "n")
    assert "2 jobs, $2.52 planned, 2 at a time" in shown and "Proceed?" in shown
    assert code == 10 and emulator.counts["submit"] == 0


def test_a_cheap_batch_or_yes_does_not_ask(emulator: Emulator, tmp_path: Path) -> None:
    f = _batch_file(tmp_path, [{"text": "a billboard of a city at night"}])
    r = run_cli("batch", str(f), "--yes", "--poll-interval", "0.05", "--output-dir", str(tmp_path / "o"),
                env={k: v for k, v in _env(emulator, tmp_path).items() if k.startswith(("RUNCOMFY", "KLING3"))})
    assert r.code == 0, r.err
    assert "1 job, $2.10 planned, 1 at a time" in r.err and "Proceed?" not in r.err
