"""The exit-code contract after money may have been spent, through the real CLI and sockets.

Only 1 says "the job itself failed", 65 is never used once a submit was confirmed, every failure
after a confirmed submit exits 75 with the request_id and the command that finishes the job, and
a submit that may have arrived exits 69 and stays "possibly paid" until the user settles it.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from clihelp import kling3_cmd, run_cli

from skill.testing.emulator import Emulator, Fault

TEXT = "a paper boat drifting down a rain gutter, 5 seconds"
FAST = ["--poll-interval", "0.05"]


def env_for(emu: Emulator, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"RUNCOMFY_MODEL_API_BASE": emu.base_url, "RUNCOMFY_TOKEN": emu.token,
            "KLING3_HOME": str(tmp_path / "home"), "RUNCOMFY_CONFIG_DIR": str(tmp_path / "rc"), **extra}


def assert_paid_error(err: dict[str, Any], request_id: str) -> None:
    """What every exit 75 after a confirmed submit carries."""
    assert err["request_id"] == request_id and err["paid"] is True
    assert err["resume_command"] == f"kling3 resume {request_id}"
    assert f"`kling3 resume {request_id}`" in err["message"] and "do not submit again" in err["message"]


# -- unconfirmed submits: 69, possibly paid until settled -----------------------------------


def test_submit_500_exits_69_possibly_paid_counted_until_settled_unpaid(emulator: Emulator, tmp_path: Path) -> None:
    emulator.add_fault(Fault(route="submit", status=500))
    env = env_for(emulator, tmp_path)
    r = run_cli("run", TEXT, "--json", env=env)
    assert r.code == 69, r.err
    err = r.json()["error"]
    assert err["code"] == "submit_unconfirmed" and err["paid"] == "unknown"
    assert "before submitting again" in err["message"]

    (row,) = run_cli("jobs", "--json", env=env).json()["jobs"]
    assert row["possibly_paid"] is True and row["state"] == "unconfirmed" and row["request_id"] is None
    resumed = run_cli("resume", "--all", "--json", env=env)
    assert resumed.code == 0
    (entry,) = resumed.json()["resumed"]
    assert entry["status"] == "possibly_paid" and entry["job_key"] == row["job_key"]
    assert "POSSIBLY PAID" in run_cli("jobs", env=env).out
    assert run_cli("spend", "--json", env=env).json()["today_usd"] == pytest.approx(0.42)

    settled = run_cli("jobs", "--settle", row["job_key"][:8], "unpaid", "--json", env=env)
    assert settled.code == 0 and settled.json()["settled"]["settled"] == "unpaid"
    assert run_cli("spend", "--json", env=env).json()["today_usd"] == 0
    assert run_cli("resume", "--all", "--json", env=env).json() == {"resumed": []}
    again = run_cli("jobs", "--settle", row["job_key"][:8], "paid", "--json", env=env)
    assert again.code == 65 and again.json()["error"]["code"] == "not_possibly_paid"
    assert emulator.counts["submit"] == 1


def test_dropped_submit_settled_paid_with_its_request_id_is_resumed_to_the_video(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.add_fault(Fault(route="submit", kind="drop"))  # the job is created, the answer lost
    env = env_for(emulator, tmp_path)
    r = run_cli("run", TEXT, "--json", env=env)
    assert r.code == 69 and r.json()["error"]["code"] == "submit_unconfirmed"
    (row,) = run_cli("jobs", "--json", env=env).json()["jobs"]
    (created,) = emulator.jobs()  # what the user finds on the RunComfy dashboard
    s = run_cli("jobs", "--settle", row["job_key"], "paid", "--request-id", created["request_id"], "--json", env=env)
    assert s.code == 0 and s.json()["settled"]["state"] == "submitted"
    done = run_cli("resume", "--all", *FAST, "--output-dir", str(tmp_path / "o"), "--json", env=env)
    assert done.code == 0, done.err
    (outcome,) = done.json()["resumed"]
    assert outcome["request_id"] == created["request_id"] and Path(outcome["files"][0]).is_file()
    assert run_cli("spend", "--json", env=env).json()["today_usd"] == pytest.approx(0.42)
    assert emulator.counts["submit"] == 1


def test_a_process_killed_during_the_submit_leaves_a_possibly_paid_row_that_keeps_counting(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.add_fault(Fault(route="submit", kind="hang", hang_seconds=30))
    env = env_for(emulator, tmp_path)
    proc = subprocess.Popen([*kling3_cmd(), "run", TEXT, "--json"], env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert emulator.wait_for_requests("submit", 1, timeout=20)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    (row,) = run_cli("jobs", "--json", env=env).json()["jobs"]
    assert row["state"] == "submitting" and row["possibly_paid"] is True
    (entry,) = run_cli("resume", "--all", "--json", env=env).json()["resumed"]
    assert entry["status"] == "possibly_paid"
    assert run_cli("spend", "--json", env=env).json()["today_usd"] == pytest.approx(0.42)
    cap = run_cli("run", TEXT, "--json", env={**env, "KLING3_DAILY_CAP_USD": "0.5"})
    assert cap.code == 65 and cap.json()["error"]["code"] == "daily_cap_exceeded"
    assert emulator.counts["submit"] == 1


# -- after a confirmed submit: 75, the request_id and the resume command ---------------------


def test_a_long_5xx_run_on_status_exits_75_and_resume_finishes_it(emulator: Emulator, tmp_path: Path) -> None:
    emulator.add_fault(Fault(route="status", status=503, times=5))  # one poll's every retry
    env = env_for(emulator, tmp_path)
    r = run_cli("run", TEXT, *FAST, "--output-dir", str(tmp_path / "o"), "--json", env=env)
    assert r.code == 75, r.err
    (job,) = emulator.jobs()
    err = r.json()["error"]
    assert err["code"] == "api_unavailable"
    assert_paid_error(err, job["request_id"])
    done = run_cli(*err["resume_command"].split()[1:], *FAST, "--json", env=env)
    assert done.code == 0, done.err
    assert Path(done.json()["resumed"][0]["files"][0]).parent == (tmp_path / "o").resolve()
    assert emulator.counts["submit"] == 1


def test_a_404_on_the_first_poll_after_creation_is_polled_through(emulator: Emulator, tmp_path: Path) -> None:
    emulator.add_fault(Fault(route="status", status=404, times=2))
    r = run_cli("run", TEXT, *FAST, "--output-dir", str(tmp_path / "o"), "--json", env=env_for(emulator, tmp_path))
    assert r.code == 0, r.err
    assert r.json()["status"] == "completed" and emulator.counts["submit"] == 1


def test_a_404_that_never_ends_after_the_submit_is_75_not_65(emulator: Emulator, tmp_path: Path) -> None:
    emulator.add_fault(Fault(route="status", status=404, times=0))
    r = run_cli("run", TEXT, *FAST, "--json", env=env_for(emulator, tmp_path))
    assert r.code == 75, r.err
    err = r.json()["error"]
    assert err["code"] == "not_found"
    assert_paid_error(err, emulator.jobs()[0]["request_id"])
    assert emulator.counts["status"] >= 6  # polled a few times before giving up


def test_a_token_rejected_after_the_submit_is_75_not_77(emulator: Emulator, tmp_path: Path) -> None:
    emulator.add_fault(Fault(route="status", status=401, times=0))
    r = run_cli("run", TEXT, *FAST, "--json", env=env_for(emulator, tmp_path))
    assert r.code == 75, r.err
    err = r.json()["error"]
    assert err["code"] == "auth_rejected" and "kling3 login" in err["message"]
    assert_paid_error(err, emulator.jobs()[0]["request_id"])


def test_time_out_names_the_resume_command(make_emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = make_emulator(queue_seconds=5, run_seconds=5)
    r = run_cli("run", TEXT, *FAST, "--timeout", "0.3", "--json", env=env_for(emu, tmp_path))
    assert r.code == 75
    err = r.json()["error"]
    assert err["code"] == "timeout"
    assert_paid_error(err, emu.jobs()[0]["request_id"])


def test_the_job_itself_failing_is_the_only_exit_1(make_emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = make_emulator(fail_job={"message": "content policy"})
    r = run_cli("run", TEXT, *FAST, "--json", env=env_for(emu, tmp_path))
    assert r.code == 1 and r.json()["error"]["code"] == "job_failed"
    assert "paid" not in r.json()["error"]


# -- plans of several calls ---------------------------------------------------------------------


def test_a_daily_cap_too_small_for_the_whole_plan_refuses_before_the_first_call(
    emulator: Emulator, tmp_path: Path
) -> None:
    r = run_cli("run", "a slow pan over a city, 20 seconds", *FAST, "--json",
                env=env_for(emulator, tmp_path, KLING3_DAILY_CAP_USD="1.0"))
    assert r.code == 65 and r.json()["error"]["code"] == "daily_cap_exceeded"
    assert emulator.counts["submit"] == 0


def test_an_unconfirmed_second_call_names_the_first_one_that_is_paid(emulator: Emulator, tmp_path: Path) -> None:
    emulator.add_fault(Fault(route="submit", status=500, on_call=2))
    r = run_cli("run", "a slow pan over a city, 20 seconds", *FAST, "--json", env=env_for(emulator, tmp_path))
    assert r.code == 69, r.err
    err = r.json()["error"]
    (first,) = emulator.jobs()
    assert err["code"] == "submit_unconfirmed" and err["submitted_request_ids"] == [first["request_id"]]
    assert f"`kling3 resume {first['request_id']}`" in err["message"]


def test_a_submit_rate_limited_to_the_end_was_never_sent_69_paid_false(emulator: Emulator, tmp_path: Path) -> None:
    emulator.add_fault(Fault(route="submit", status=429, retry_after=0.01, times=5))
    env = env_for(emulator, tmp_path)
    r = run_cli("run", TEXT, "--json", env=env)
    assert r.code == 69, r.err
    err = r.json()["error"]
    assert err["code"] == "rate_limited" and err["paid"] is False and "nothing was sent" in err["message"]
    (row,) = run_cli("jobs", "--json", env=env).json()["jobs"]
    assert row["state"] == "failed" and row["possibly_paid"] is False
    assert run_cli("spend", "--json", env=env).json()["today_usd"] == 0
    assert emulator.jobs() == []
