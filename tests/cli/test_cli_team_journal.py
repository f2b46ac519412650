"""A team on one PostgreSQL journal: 16 `kling3` processes acting as 4 machines (4 KLING3_HOMEs,
one KLING3_JOURNAL_URL) share one daily cap, a machine killed mid-poll is finished by exactly one
of two others, and a machine's SQLite journal migrated in shows the same jobs and spend. Every
process is the real console script against the emulator on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pghelp
import pytest
from clihelp import kling3_cmd, run_cli

from skill.execution.client import RunComfyClient
from skill.execution.flow import run
from skill.execution.journal import Journal
from skill.testing.emulator import Emulator

PROMPT = "a kite over a beach, 5 seconds"  # standard, $0.42


def _machine(i: int, tmp_path: Path, emu: Emulator, url: str) -> dict[str, str]:
    return {**os.environ, "KLING3_HOME": str(tmp_path / f"machine{i}"), "KLING3_JOURNAL_URL": url,
            "RUNCOMFY_MODEL_API_BASE": emu.base_url, "RUNCOMFY_TOKEN": emu.token, "KLING3_ACTOR": f"agent-{i}"}


def _popen(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([*kling3_cmd(), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _finish(proc: subprocess.Popen[str]) -> tuple[int, Any, str]:
    out, err = proc.communicate(timeout=60)
    return proc.returncode, json.loads(out), err


def test_sixteen_processes_on_four_machines_share_one_daily_cap(
    make_emulator: Callable[..., Emulator], pg_url: str, tmp_path: Path
) -> None:
    emu = make_emulator()
    procs = []
    for i in range(16):
        env = {**_machine(i % 4, tmp_path, emu, pg_url), "KLING3_DAILY_CAP_USD": "1"}
        procs.append(_popen(["run", PROMPT, "--json", "--poll-interval", "0.05",
                             "--output-dir", str(tmp_path / f"out{i}")], env))
    results = [_finish(p) for p in procs]
    paid = [doc for code, doc, _ in results if code == 0]
    refused = [doc["error"] for code, doc, _ in results if code == 65]
    assert len(paid) == 2 and len(refused) == 14, [(code, err[-300:]) for code, _, err in results if code not in (0, 65)]
    assert {e["code"] for e in refused} == {"daily_cap_exceeded"}
    assert emu.counts["submit"] == 2
    assert all(doc["cost_usd"] == 0.42 for doc in paid)

    env = _machine(0, tmp_path, emu, pg_url)
    jobs = run_cli("jobs", "--json", env=env).json()["jobs"]
    assert len(jobs) == 2 and all(j["state"] == "downloaded" and j["host"] and j["os_user"] for j in jobs)
    assert {j["actor"] for j in jobs} <= {f"agent-{i}" for i in range(4)}
    by_actor = run_cli("spend", "--by", "actor", "--json", env=env).json()["spend"]
    assert round(sum(r["cost_usd"] for r in by_actor), 2) == 0.84
    assert {r["actor"] for r in by_actor} == {j["actor"] for j in jobs}


def _wait_for_request_id(url: str, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    with Journal(url) as jr:
        while time.monotonic() < deadline:
            job = next(iter(jr.list(limit=1)), None)
            if job is not None and job.request_id:
                return job.request_id
            time.sleep(0.05)
    raise AssertionError("the submit was never journaled")


def test_a_machine_killed_mid_poll_is_finished_once_by_two_others(
    make_emulator: Callable[..., Emulator], pg_url: str, tmp_path: Path
) -> None:
    emu = make_emulator(queue_seconds=0.2, run_seconds=4.0)
    victim = _popen(["run", PROMPT, "--json", "--poll-interval", "0.1", "--output-dir", str(tmp_path / "out")],
                    _machine(0, tmp_path, emu, pg_url))
    request_id = _wait_for_request_id(pg_url)
    time.sleep(0.3)  # polling now
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)  # reaped: its pid no longer names a live process
    rescuers = [_popen(["resume", "--all", "--json", "--poll-interval", "0.1"], _machine(i, tmp_path, emu, pg_url))
                for i in (1, 2)]
    outcomes = []
    for proc in rescuers:
        code, doc, err = _finish(proc)
        assert code == 0, err
        outcomes += doc["resumed"]
    done = [o for o in outcomes if o["status"] == "completed"]
    assert [o["request_id"] for o in done] == [request_id]
    assert all(o["status"] == "claimed" for o in outcomes if o not in done)
    assert emu.counts["submit"] == 1 and emu.counts["download"] == 1
    assert len(list((tmp_path / "out").glob("*.mp4"))) == 1


def test_a_migrated_sqlite_journal_shows_the_same_jobs_and_spend(
    make_emulator: Callable[..., Emulator], pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = make_emulator()
    home = tmp_path / "laptop"
    monkeypatch.setenv("KLING3_HOME", str(home))
    with Journal() as jr, RunComfyClient(base_url=emu.base_url, token=emu.token) as client:
        for n in range(3):
            run(f"a kite number {n}, 5 seconds", output_dir=tmp_path / "o", client=client, journal=jr,
                poll_interval=0.05)
        lost = jr.begin("kling/kling-3.0/standard/text-to-video", "standard", "t2v", {"prompt": "lost answer"},
                        0.42, api_base=emu.base_url)
        jr.mark_unconfirmed(lost.job_key)  # possibly paid: counted until settled
    local = {"KLING3_HOME": str(home), "RUNCOMFY_MODEL_API_BASE": emu.base_url, "KLING3_JOURNAL_URL": ""}
    team = {**local, "KLING3_JOURNAL_URL": pg_url}
    first = run_cli("journal", "migrate", "--to", pg_url, "--json", env=local)
    assert first.code == 0, first.err
    assert first.json()["migrated"]["jobs"] == 4 and first.json()["migrated"]["files"] == 3
    again = run_cli("journal", "migrate", "--to", pg_url, "--json", env=local).json()["migrated"]
    assert (again["jobs"], again["jobs_already_there"], again["events"]) == (0, 4, 0)
    assert pghelp.PASSWORD not in first.out + first.err + json.dumps(again)
    for command in (["jobs", "--json"], ["spend", "--json"], ["spend", "--by", "actor", "--json"]):
        mine, ours = run_cli(*command, env=local).json(), run_cli(*command, env=team).json()
        mine.pop("journal", None)
        if command[0] == "spend":
            assert ours.pop("journal").startswith("postgresql://kling3:***@")
        assert ours == mine and mine
    pages = [run_cli("gallery", "--json", "--output", str(tmp_path / f"{name}.html"), env=env).json()
             for name, env in (("mine", local), ("ours", team))]
    assert pages[0]["videos"] == pages[1]["videos"] == 3
    rows = run_cli("jobs", "--json", env=team).json()["jobs"]
    assert sum(1 for r in rows if r["possibly_paid"]) == 1 and sum(len(r["files"]) for r in rows) == 3


@pytest.mark.parametrize("command", [["run", PROMPT], ["spend"], ["jobs"], ["resume", "--all"]])
def test_an_unreachable_journal_is_exit_74_before_anything_is_sent(
    make_emulator: Callable[..., Emulator], pg_server: pghelp.PgServer, tmp_path: Path, command: list[str]
) -> None:
    emu = make_emulator()
    wrong_password = pg_server.url(password="Wr0ng-secret-pw")
    closed_port = f"postgresql://kling3:{pghelp.PASSWORD}@127.0.0.1:9/db"
    for url, secret in ((wrong_password, "Wr0ng-secret-pw"), (closed_port, pghelp.PASSWORD)):
        env = {"KLING3_HOME": str(tmp_path / "h"), "RUNCOMFY_MODEL_API_BASE": emu.base_url, "RUNCOMFY_TOKEN": emu.token}
        res = run_cli(*command, "--journal", url, "--json", env=env)
        assert res.code == 74, res.out + res.err
        error = res.json()["error"]
        assert error["code"] == "journal_unreachable" and "postgresql://kling3:***@127.0.0.1" in error["message"]
        assert secret not in res.out + res.err
        human = run_cli(*command, env={**env, "KLING3_JOURNAL_URL": url})
        assert human.code == 74 and "journal_unreachable" in human.err and secret not in human.out + human.err
    assert emu.counts["submit"] == 0


def test_the_sqlite_journal_never_imports_psycopg(tmp_path: Path) -> None:
    code = ("import sys; from skill.cli import main; rc = main(['spend', '--json']); "
            "assert 'psycopg' not in sys.modules, 'psycopg imported'; sys.exit(rc)")
    env = {**os.environ, "KLING3_HOME": str(tmp_path / "h")}
    env.pop("KLING3_JOURNAL_URL", None)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
