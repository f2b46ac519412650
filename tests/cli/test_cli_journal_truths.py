"""The journal and the CLI tell the truth: jobs belong to the API base they were sent to, a job
cancelled while queued is not charged, cancel twice is fine, an unfinished result is not 0."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from clihelp import run_cli

from skill.testing.emulator import Emulator

TEXT = "a fox trotting through snow, 5 seconds"


def env_for(emu: Emulator, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"RUNCOMFY_MODEL_API_BASE": emu.base_url, "RUNCOMFY_TOKEN": emu.token,
            "KLING3_HOME": str(tmp_path / "home"), "RUNCOMFY_CONFIG_DIR": str(tmp_path / "rc"), **extra}


def test_each_base_sees_its_own_jobs_spend_and_cap(make_emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    trial = make_emulator(queue_seconds=30)  # e.g. the emulator tried first
    real = make_emulator()
    on_trial, on_real = env_for(trial, tmp_path), env_for(real, tmp_path, KLING3_DAILY_CAP_USD="0.5")
    rid = run_cli("run", TEXT, "--no-wait", "--json", env=on_trial).json()["request_id"]

    assert run_cli("spend", "--json", env=on_real).json()["today_usd"] == 0
    assert run_cli("spend", "--all-bases", "--json", env=on_real).json()["today_usd"] == pytest.approx(0.42)
    assert run_cli("jobs", "--json", env=on_real).json()["jobs"] == []
    (row,) = run_cli("jobs", "--all-bases", "--json", env=on_real).json()["jobs"]
    assert row["api_base"] == trial.base_url
    # The other base's spend does not count against this base's cap (0.42 + 0.42 > 0.5).
    own = run_cli("run", TEXT, "--no-wait", "--json", env=on_real).json()["request_id"]

    polls = trial.counts["status"]
    resumed = run_cli("resume", "--all", "--poll-interval", "0.05", "--output-dir", str(tmp_path / "o"), "--json",
                      env=on_real).json()["resumed"]
    assert [o["request_id"] for o in resumed] == [own]  # the trial job is not polled on the real API
    (elsewhere,) = run_cli("resume", "--all", "--all-bases", "--json", env=on_real).json()["resumed"]
    assert elsewhere["request_id"] == rid and elsewhere["status"] == "other_api_base"
    assert trial.base_url in elsewhere["message"]
    asked = real.counts["status"]
    wrong = run_cli("status", rid, "--json", env=on_real)
    assert wrong.code == 75 and wrong.json()["error"]["code"] == "other_api_base"
    assert wrong.json()["error"]["resume_command"] == f"RUNCOMFY_MODEL_API_BASE={trial.base_url} kling3 resume {rid}"
    assert real.counts["status"] == asked and trial.counts["status"] == polls  # nothing sent anywhere
    assert trial.counts["submit"] == 1 and real.counts["submit"] == 1


def test_a_job_cancelled_while_queued_is_not_charged_and_cancel_twice_says_so(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = make_emulator(queue_seconds=30)
    env = env_for(emu, tmp_path, KLING3_DAILY_CAP_USD="0.5")
    rid = run_cli("run", TEXT, "--no-wait", "--json", env=env).json()["request_id"]
    first = run_cli("cancel", rid, "--json", env=env)
    assert first.code == 0 and first.json()["outcome"] == "cancelled" and first.json()["charged"] is False
    again = run_cli("cancel", rid, "--json", env=env)
    assert again.code == 0 and again.json()["outcome"] == "already_cancelled"
    assert "already cancelled" in run_cli("cancel", rid, env=env).err
    assert emu.counts["cancel"] == 1
    spend = run_cli("spend", "--json", env=env).json()
    assert spend["today_usd"] == 0 and spend["cancelled_not_charged"][0]["jobs"] == 1
    assert "cancelled, not charged: 1 job(s), $0.42" in run_cli("spend", env=env).out
    assert run_cli("run", TEXT, "--no-wait", "--json", env=env).code == 0  # the cap does not count it


def test_cancel_too_late_is_75_with_the_command_that_fetches_the_video(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = make_emulator(queue_seconds=0, run_seconds=30)
    env = env_for(emu, tmp_path)
    rid = run_cli("run", TEXT, "--no-wait", "--json", env=env).json()["request_id"]
    late = run_cli("cancel", rid, "--json", env=env)
    assert late.code == 75
    err = late.json()["error"]
    assert err["code"] == "not_cancellable" and err["resume_command"] == f"kling3 resume {rid}"
    assert "charged" in err["message"]


def test_result_of_an_unfinished_job_exits_75(make_emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = make_emulator(queue_seconds=30)
    env = env_for(emu, tmp_path)
    rid = run_cli("run", TEXT, "--no-wait", "--json", env=env).json()["request_id"]
    r = run_cli("result", rid, "--json", env=env)
    assert r.code == 75
    err = r.json()["error"]
    assert err["code"] == "not_finished" and err["status"] == "in_queue" and err["request_id"] == rid
    assert f"kling3 result {rid} --wait" in err["message"]
