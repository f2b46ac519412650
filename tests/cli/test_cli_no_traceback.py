"""No traceback ever reaches the user: a CLI whose reader went away after a paid run still says
which job to resume (exit 75); closed streams never crash a command."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from clihelp import kling3_cmd

from skill.testing.emulator import Emulator

TEXT = "a lantern floating on a dark river, 5 seconds"


def env_for(emu: Emulator, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "RUNCOMFY_MODEL_API_BASE": emu.base_url, "RUNCOMFY_TOKEN": emu.token,
            "KLING3_HOME": str(tmp_path / "home"), "RUNCOMFY_CONFIG_DIR": str(tmp_path / "rc")}


def test_a_reader_gone_after_a_paid_run_gets_exit_75_and_the_resume_command_on_stderr(
    emulator: Emulator, tmp_path: Path
) -> None:
    proc = subprocess.Popen([*kling3_cmd(), "run", TEXT, "--poll-interval", "0.05", "--output-dir",
                             str(tmp_path / "o"), "--json"], env=env_for(emulator, tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    proc.stdout.close()  # the agent reading stdout died; the result cannot be written
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 75, err
    assert "Traceback" not in err and "Exception ignored" not in err
    lines = [json.loads(line) for line in err.splitlines()]  # --json: JSON lines only
    (last,) = [e for e in lines if e.get("event") == "error"]
    rid = emulator.jobs()[0]["request_id"]
    assert last["error"]["request_id"] == rid and last["error"]["resume_command"] == f"kling3 resume {rid}"
    assert emulator.counts["submit"] == 1


def test_closed_stdout_and_stderr_never_crash_a_command(emulator: Emulator, tmp_path: Path) -> None:
    for fd in (1, 2):
        proc = subprocess.run([*kling3_cmd(), "run", TEXT, "--no-wait", "--json"], env=env_for(emulator, tmp_path),
                              preexec_fn=lambda fd=fd: os.close(fd), capture_output=False,  # type: ignore[misc]
                              stdin=subprocess.DEVNULL, timeout=60, check=False,
                              stdout=None if fd == 1 else subprocess.PIPE, stderr=None if fd == 2 else subprocess.PIPE)
        assert proc.returncode == 0, (fd, proc.stderr)
    assert emulator.counts["submit"] == 2
