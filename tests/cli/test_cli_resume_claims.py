"""Two `kling3 resume --all` at the same time never fetch the same job twice: each job is claimed
in the journal (with an expiry, and void at once if its holder died) by the process fetching it."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from clihelp import kling3_cmd, run_cli

from skill.execution.client import RunComfyClient
from skill.execution.flow import run
from skill.execution.journal import Journal
from skill.testing.emulator import Emulator


def test_two_resume_all_at_once_fetch_each_job_exactly_once(
    make_emulator: Callable[..., Emulator], home: Path, tmp_path: Path
) -> None:
    emu = make_emulator(queue_seconds=0.8, run_seconds=0.2)
    with Journal() as jr, RunComfyClient(base_url=emu.base_url, token=emu.token) as client:
        ids = [run(f"a kite number {n}, 5 seconds", wait=False, output_dir=tmp_path / "o", client=client,
                   journal=jr).request_id for n in range(4)]
    env = {**os.environ, "RUNCOMFY_MODEL_API_BASE": emu.base_url, "RUNCOMFY_TOKEN": emu.token,
           "KLING3_HOME": str(home)}
    procs = [subprocess.Popen([*kling3_cmd(), "resume", "--all", "--poll-interval", "0.05", "--json"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    docs = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        docs.append(json.loads(out)["resumed"])
    done = [[o["request_id"] for o in doc if o["status"] == "completed"] for doc in docs]
    assert sorted(done[0] + done[1]) == sorted(ids)  # every job once, none twice
    assert not set(done[0]) & set(done[1])
    assert emu.counts["download"] == 4 and emu.counts["submit"] == 4
    assert len(list((tmp_path / "o").glob("*.mp4"))) == 4
    again = run_cli("resume", "--all", "--json", env={"RUNCOMFY_MODEL_API_BASE": emu.base_url,
                                                     "RUNCOMFY_TOKEN": emu.token, "KLING3_HOME": str(home)})
    assert again.json() == {"resumed": []}
