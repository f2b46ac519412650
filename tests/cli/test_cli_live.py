"""`run` and `batch` at a terminal: a live table (state, queue position, a ticking clock, a
download bar with real sizes, one row per job from the start), colour that NO_COLOR turns off,
and plain lines when the output is not a terminal. Driven on a real pty against the emulator."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from clihelp import run_cli
from ptyhelp import COLOUR, run_on_pty

from skill.testing.emulator import Emulator

BARISTA = "a quick vertical draft of a barista pulling espresso, with cafe sound"


def env_for(emu: Emulator, tmp_path: Path) -> dict[str, str]:
    return {"RUNCOMFY_MODEL_API_BASE": emu.base_url, "RUNCOMFY_TOKEN": emu.token,
            "KLING3_HOME": str(tmp_path / "home"), "RUNCOMFY_CONFIG_DIR": str(tmp_path / "rc")}


def test_run_on_a_terminal_shows_a_live_table(make_emulator: object, tmp_path: Path) -> None:
    emu = make_emulator(queue_seconds=1.2, run_seconds=0.8, output_bytes=3_000_000)  # type: ignore[operator]
    screen = run_on_pty("run", BARISTA, "--poll-interval", "0.2", "--output-dir", str(tmp_path / "o"),
                        env=env_for(emu, tmp_path))
    text = screen.text
    assert screen.code == 0, text
    assert re.search(r"#\s+job\s+state\s+time\s+cost\s+download / file", text)
    assert "in_queue #2" in text and "in_queue #1" in text and "in_progress" in text
    # The clock ticks while the job waits: many different readings, not one per status change.
    readings = {float(x) for x in re.findall(r"(\d+\.\d) s ", text)}
    assert len(readings) >= 5 and max(readings) >= 1.5
    assert "3.0 MB / 3.0 MB" in text and "MiB" not in text  # the real size, once
    (video,) = sorted((tmp_path / "o").glob("*.mp4"))
    assert "saved" in text and video.name in text and str(video) in text
    assert "[poll]" not in text  # the table, not the plain lines
    assert COLOUR.search(screen.raw)  # states in colour


def test_no_color_keeps_the_table_without_colour(make_emulator: object, tmp_path: Path) -> None:
    emu = make_emulator(queue_seconds=0.3, run_seconds=0.3)  # type: ignore[operator]
    screen = run_on_pty("run", BARISTA, "--poll-interval", "0.1", "--output-dir", str(tmp_path / "o"),
                        env={**env_for(emu, tmp_path), "NO_COLOR": "1"})
    assert screen.code == 0, screen.text
    assert "saved" in screen.text and "download / file" in screen.text
    assert not COLOUR.search(screen.raw), repr(COLOUR.search(screen.raw))


def test_a_batch_shows_every_job_from_the_start_and_errors_stand_out(make_emulator: object, tmp_path: Path) -> None:
    emu = make_emulator(queue_seconds=0.4, run_seconds=0.4)  # type: ignore[operator]
    jobs = tmp_path / "b.jsonl"
    jobs.write_text("\n".join(json.dumps(x) for x in [
        {"text": "a red kite over a beach"}, {"text": "animate this photo"}, {"text": "a blue kite at dusk"},
    ]) + "\n")
    screen = run_on_pty("batch", str(jobs), "--concurrency", "1", "--poll-interval", "0.1",
                        "--output-dir", str(tmp_path / "o"), env=env_for(emu, tmp_path))
    text = screen.text
    assert screen.code == 0, text  # the jobs sent completed; the refused line is listed, nothing was sent for it
    assert "2 jobs, $0.84 planned, 1 at a time (1 refused" in text
    frames = re.split(r"#\s+job\s+state", text)
    # The first frame where job 1 waits at the API already lists job 3, which has not started.
    first = next(f for f in frames if "in_queue" in f)
    assert "a red kite over a beach" in first and "animate this photo" in first
    assert re.search(r"a blue kite at dusk\s+queued", first)
    assert "warning: [2] missing_image" in text
    assert re.search(r"\x1b\[[0-9;]*33[0-9;]*mwarning", screen.raw)  # the warning in yellow
    assert "2 completed, 1 refused" in text


def test_without_a_terminal_the_output_stays_plain_lines(emulator: Emulator, tmp_path: Path) -> None:
    r = run_cli("run", BARISTA, "--poll-interval", "0.05", "--output-dir", str(tmp_path / "o"),
                env=env_for(emulator, tmp_path))
    assert r.code == 0, r.err
    assert "[poll] in_queue (position 2)" in r.err and "[ok] " in r.err and "\x1b[" not in r.err
    assert r.out.strip().endswith(".mp4")


@pytest.mark.parametrize("args", [["--json"], []])
def test_the_live_table_is_loaded_only_at_a_terminal(args: list[str], emulator: Emulator, tmp_path: Path) -> None:
    """`run --json` and `run` into a pipe never load the live table (nor, through it, rich).

    rich itself may still be in sys.modules there: httpx imports it for its own command-line
    client when it is installed. `plan`, which needs no httpx, is checked for rich in test_cli_plan.
    """
    code = (
        "import sys\nfrom skill.cli import main\n"
        f"rc = main(['run', {BARISTA!r}, '--poll-interval', '0.05', '--output-dir', {str(tmp_path / 'o')!r}, *{args!r}])\n"
        "sys.stderr.write('RICH=%s RC=%s\\n' % ('skill.cli.live' in sys.modules, rc))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**__import__("os").environ, **env_for(emulator, tmp_path)})
    assert "RICH=False RC=0" in proc.stderr, proc.stderr


def test_result_at_a_terminal_draws_one_download_bar_with_real_sizes(make_emulator: object, tmp_path: Path) -> None:
    emu = make_emulator(output_bytes=3_000_000)  # type: ignore[operator]
    env = env_for(emu, tmp_path)
    first = run_cli("run", BARISTA, "--poll-interval", "0.05", "--output-dir", str(tmp_path / "o"), "--json", env=env)
    rid = first.json()["request_id"]
    screen = run_on_pty("result", rid, "--output-dir", str(tmp_path / "again"), env=env)
    assert screen.code == 0, screen.text
    assert screen.text.count("] 3.0 MB / 3.0 MB\n") == 1 and "MiB" not in screen.text
