"""The output folder is proven usable before anything is paid (exit 73, nothing sent); one that
breaks after the submit is the paid job's download failure (exit 75), resumable elsewhere."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from clihelp import kling3_cmd, run_cli

from skill.testing.emulator import Emulator

TEXT = "a kite over a beach, 5 seconds"


def env_for(emu: Emulator, tmp_path: Path) -> dict[str, str]:
    return {"RUNCOMFY_MODEL_API_BASE": emu.base_url, "RUNCOMFY_TOKEN": emu.token,
            "KLING3_HOME": str(tmp_path / "home"), "RUNCOMFY_CONFIG_DIR": str(tmp_path / "rc")}


def _a_file(tmp_path: Path) -> Path:
    f = tmp_path / "taken"
    f.write_text("not a folder")
    return f


def _under_a_file(tmp_path: Path) -> Path:
    return _a_file(tmp_path) / "videos"


def _read_only(tmp_path: Path) -> Path:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o500)
    return d


@pytest.mark.parametrize("make_dir", [_a_file, _under_a_file, _read_only])
def test_an_unusable_output_folder_exits_73_and_sends_nothing(
    emulator: Emulator, tmp_path: Path, make_dir: Callable[[Path], Path]
) -> None:
    out = make_dir(tmp_path)
    r = run_cli("run", TEXT, "--output-dir", str(out), "--json", env=env_for(emulator, tmp_path))
    assert r.code == 73, r.err
    err = r.json()["error"]
    assert err["code"] == "output_dir_unusable" and err["field"] == "output_dir"
    assert "nothing was sent" in err["message"]
    assert emulator.counts["submit"] == 0
    assert run_cli("jobs", "--json", env=env_for(emulator, tmp_path)).json()["jobs"] == []
    assert all(line.startswith("{") for line in r.err.splitlines())  # --json: JSON lines only


def test_a_missing_folder_is_created_and_the_probe_leaves_nothing_behind(emulator: Emulator, tmp_path: Path) -> None:
    out = tmp_path / "new" / "deeper"
    r = run_cli("run", TEXT, "--no-wait", "--output-dir", str(out), "--json", env=env_for(emulator, tmp_path))
    assert r.code == 0, r.err
    assert out.is_dir() and list(out.iterdir()) == []


def test_batch_checks_its_folder_before_the_first_submit(emulator: Emulator, tmp_path: Path) -> None:
    f = tmp_path / "b.jsonl"
    f.write_text(json.dumps({"text": "a red kite"}) + "\n")
    r = run_cli("batch", str(f), "--output-dir", str(_a_file(tmp_path)), "--json", env=env_for(emulator, tmp_path))
    assert r.code == 73 and r.json()["error"]["code"] == "output_dir_unusable"
    assert emulator.counts["submit"] == 0


def test_a_folder_lost_after_the_submit_is_a_paid_download_failure_resumable_elsewhere(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = make_emulator(queue_seconds=0.5, run_seconds=0.3)
    env = env_for(emu, tmp_path)
    out = tmp_path / "o"
    proc = subprocess.Popen([*kling3_cmd(), "run", TEXT, "--poll-interval", "0.05", "--output-dir", str(out), "--json"],
                            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert emu.wait_for_requests("status", 1, timeout=20)
    shutil.rmtree(out)
    out.write_text("the folder was replaced by a file")
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 75, stderr
    err = json.loads(stdout)["error"]
    rid = emu.jobs()[0]["request_id"]
    assert err["code"] == "output_dir_unusable" and err["request_id"] == rid and err["paid"] is True
    assert f"kling3 resume {rid} --output-dir DIR" in err["message"]
    other = tmp_path / "elsewhere"
    r = run_cli("resume", rid, "--output-dir", str(other), "--poll-interval", "0.05", "--json", env=env)
    assert r.code == 0, r.err
    assert Path(r.json()["resumed"][0]["files"][0]).parent == other.resolve()
    assert emu.counts["submit"] == 1
