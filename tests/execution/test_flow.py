"""`kling3 run` and friends end to end: real HTTP to the emulator, real journal, real files."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from clihelp import kling3_cmd, run_cli

from skill.errors import JobFailed, WaitTimeout
from skill.execution.client import AsyncRunComfyClient, RunComfyClient
from skill.execution.flow import arun, fetch, resume, run
from skill.execution.journal import Journal
from skill.media.mp4probe import probe_mp4
from skill.testing.emulator import Emulator, Fault

TEXT = "a quick vertical draft of a barista pulling espresso, 6 seconds"


ApiClient = Callable[..., RunComfyClient]
AsyncApiClient = Callable[..., AsyncRunComfyClient]


def env_for(emu: Emulator, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "RUNCOMFY_MODEL_API_BASE": emu.base_url,
        "RUNCOMFY_TOKEN": emu.token,
        "KLING3_HOME": str(tmp_path / "home"),
        "RUNCOMFY_CONFIG_DIR": str(tmp_path / "rc"),
        **extra,
    }


def journal_rows(tmp_path: Path) -> list[dict[str, Any]]:
    db = tmp_path / "home" / "jobs.sqlite3"
    if not db.exists():
        return []
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    rows = [dict(r) for r in con.execute("select * from jobs order by id")]
    con.close()
    return rows


def no_partial_files(out: Path) -> bool:
    return not out.exists() or all(not p.name.startswith(".") for p in out.iterdir())


# -- python API ------------------------------------------------------------------------------


def test_run_end_to_end_downloads_a_verified_video_and_journals_it(
    emulator: Emulator, home: Path, tmp_path: Path, api_client: ApiClient
) -> None:
    events: list[dict[str, Any]] = []
    with api_client(emulator) as client:
        res = run(TEXT, output_dir=tmp_path / "out", poll_interval=0.02, client=client, on_event=events.append)
    assert res.status == "completed" and res.request_id
    assert res.endpoint == "kling/kling-3.0/standard/text-to-video"
    (path,) = res.files
    assert Path(path).is_absolute() and Path(path).parent == (tmp_path / "out").resolve()
    info = probe_mp4(path)
    assert abs(info.duration_s - 6) < 0.2 and info.height > info.width  # 9:16
    assert emulator.counts["submit"] == 1
    job = Journal().get(res.request_id)
    assert job is not None and job.state == "downloaded" and job.payload["sound"] is False
    (f,) = Journal().files(job)
    assert f.path == path and f.size == Path(path).stat().st_size
    kinds = [e.event for e in events]
    assert kinds[0] == "submitting" and "submitted" in kinds and kinds[-1] == "done"


def test_async_twin_behaves_the_same(
    emulator: Emulator, home: Path, tmp_path: Path, api_client: ApiClient, async_api_client: AsyncApiClient
) -> None:
    async def go() -> Any:
        async with async_api_client(emulator) as client:
            return await arun(TEXT, output_dir=tmp_path / "a", poll_interval=0.02, client=client)

    ares = asyncio.run(go())
    with api_client(emulator) as client:
        sres = run(TEXT, output_dir=tmp_path / "s", poll_interval=0.02, client=client)
    strip = {"request_id", "request_ids", "files", "segment_files", "calls"}
    assert {k: v for k, v in ares.to_json_dict().items() if k not in strip} == {
        k: v for k, v in sres.to_json_dict().items() if k not in strip
    }
    assert probe_mp4(ares.files[0]) == probe_mp4(sres.files[0])
    assert emulator.counts["submit"] == 2


def test_failed_job_raises_with_the_api_error(
    make_emulator: Callable[..., Emulator], home: Path, tmp_path: Path, api_client: ApiClient
) -> None:
    emu = make_emulator(fail_job={"message": "content policy"})
    with api_client(emu) as client, pytest.raises(JobFailed) as info:
        run(TEXT, output_dir=tmp_path, poll_interval=0.02, client=client)
    assert "content policy" in info.value.message and info.value.request_id
    assert Journal().get(info.value.request_id).state == "failed"  # type: ignore[union-attr]


def test_timeout_leaves_job_running_and_resume_finishes_it_without_resubmitting(
    make_emulator: Callable[..., Emulator], home: Path, tmp_path: Path, api_client: ApiClient
) -> None:
    emu = make_emulator(queue_seconds=0.3, run_seconds=0.3)
    with api_client(emu) as client:
        with pytest.raises(WaitTimeout) as info:
            run(TEXT, output_dir=tmp_path, poll_interval=0.05, timeout=0.1, client=client)
        rid = info.value.request_id
        assert rid and Journal().get(rid).state == "timeout"  # type: ignore[union-attr]
        out = resume(output_dir=tmp_path, poll_interval=0.05, client=client)
    assert [o["request_id"] for o in out] == [rid] and out[0]["status"] == "completed"
    assert emu.counts["submit"] == 1
    assert Journal().get(rid).state == "downloaded"  # type: ignore[union-attr]


def test_no_wait_then_fetch_with_wait(emulator: Emulator, home: Path, tmp_path: Path, api_client: ApiClient) -> None:
    with api_client(emulator) as client:
        res = run(TEXT, output_dir=tmp_path, wait=False, client=client)
        assert res.status == "submitted" and res.files == []
        got = fetch(res.request_id or "", wait=True, poll_interval=0.02, client=client)
    assert got.status == "completed" and Path(got.files[0].path).exists()


# -- CLI: exit codes, journal, no partial files, nothing sent on bad input --------------------


def test_cli_run_json_prints_one_final_object(emulator: Emulator, tmp_path: Path) -> None:
    out = tmp_path / "videos"
    r = run_cli("run", TEXT, "--output-dir", str(out), "--poll-interval", "0.05", "--json", env=env_for(emulator, tmp_path))
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["status"] == "completed" and doc["request_id"] and doc["cost_usd"] == 0.504
    assert Path(doc["files"][0]).exists() and Path(doc["files"][0]).is_absolute()
    events = [json.loads(line) for line in r.err.splitlines() if line.startswith("{")]
    assert events[0]["event"] == "plan" and any(e["event"] == "status" for e in events)
    assert emulator.token not in r.out + r.err


@pytest.mark.parametrize(
    "args",
    [["animate this photo"], ["a dog", "--aspect-ratio", "5:4"], ["a dog", "--duration", "200"],
     ["a dog", "--image-url", "http://insecure.example.com/a.jpg"], ["a dog in 4K", "--max-cost-usd", "0.1"]],
)
def test_bad_input_exits_65_and_sends_nothing(emulator: Emulator, tmp_path: Path, args: list[str]) -> None:
    r = run_cli("run", *args, "--json", env=env_for(emulator, tmp_path))
    assert r.code == 65, r.err
    assert "error" in r.json()
    assert emulator.counts["submit"] == 0 and journal_rows(tmp_path) == []


def test_402_says_balance_and_exits_65(make_emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = make_emulator(no_balance=True)
    r = run_cli("run", TEXT, "--json", env=env_for(emu, tmp_path))
    assert r.code == 65 and "balance" in r.json()["error"]["message"].lower()
    assert journal_rows(tmp_path)[0]["state"] == "failed"


def test_bad_token_exits_77_and_never_prints_it(emulator: Emulator, tmp_path: Path) -> None:
    secret = "sk-very-secret-token-123456"
    r = run_cli("run", TEXT, "--json", env=env_for(emulator, tmp_path, RUNCOMFY_TOKEN=secret))
    assert r.code == 77
    assert secret not in r.out + r.err
    db = tmp_path / "home" / "jobs.sqlite3"
    assert not db.exists() or secret.encode() not in db.read_bytes()


def test_submit_5xx_is_unconfirmed_recorded_and_never_repeated(emulator: Emulator, tmp_path: Path) -> None:
    emulator.add_fault(Fault(route="submit", status=502))
    r = run_cli("run", TEXT, "--json", env=env_for(emulator, tmp_path))
    assert r.code == 69 and r.json()["error"]["code"] == "submit_unconfirmed"
    assert emulator.counts["submit"] == 1
    (row,) = journal_rows(tmp_path)
    assert row["state"] == "unconfirmed"


def test_status_5xx_and_429_are_retried_through(emulator: Emulator, tmp_path: Path) -> None:
    emulator.add_fault(Fault(route="status", status=503, on_call=1, times=2))
    emulator.add_fault(Fault(route="status", status=429, retry_after=0.05, on_call=3))
    r = run_cli("run", TEXT, "--poll-interval", "0.05", "--output-dir", str(tmp_path / "o"), "--json",
                env=env_for(emulator, tmp_path))
    assert r.code == 0, r.err
    assert emulator.counts["submit"] == 1


def test_download_from_foreign_host_exits_75_and_leaves_no_file(make_emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = make_emulator(output_host="evil.example.com")
    out = tmp_path / "o"
    r = run_cli("run", TEXT, "--poll-interval", "0.05", "--output-dir", str(out), "--json", env=env_for(emu, tmp_path))
    assert r.code == 75
    err = r.json()["error"]
    assert err["request_id"] and f"kling3 resume {err['request_id']}" in err["message"]
    assert err["code"] == "untrusted_url" and err["skipped"][0]["reason"].startswith("untrusted host 'evil.example.com'")
    assert not out.exists() or list(out.iterdir()) == []
    assert journal_rows(tmp_path)[0]["state"] == "download_failed"


def test_truncated_download_fails_cleanly(make_emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = make_emulator()
    emu.add_fault(Fault(route="download", kind="truncate", times=0))
    out = tmp_path / "o"
    r = run_cli("run", TEXT, "--poll-interval", "0.05", "--output-dir", str(out), "--json", env=env_for(emu, tmp_path))
    assert r.code == 75
    assert not out.exists() or list(out.iterdir()) == []


def test_failed_job_exits_1(make_emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = make_emulator(fail_job={"message": "NSFW"})
    r = run_cli("run", TEXT, "--poll-interval", "0.05", "--json", env=env_for(emu, tmp_path))
    assert r.code == 1 and r.json()["error"]["code"] == "job_failed"


def test_timeout_exits_75_with_request_id(make_emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = make_emulator(queue_seconds=5, run_seconds=5)
    r = run_cli("run", TEXT, "--poll-interval", "0.05", "--timeout", "0.3", "--json", env=env_for(emu, tmp_path))
    assert r.code == 75
    assert r.json()["error"]["request_id"] == emu.jobs()[0]["request_id"]


def test_daily_cap_refuses_before_submit(emulator: Emulator, tmp_path: Path) -> None:
    env = env_for(emulator, tmp_path, KLING3_DAILY_CAP_USD="0.60")
    assert run_cli("run", TEXT, "--poll-interval", "0.05", "--output-dir", str(tmp_path / "o"), "--json", env=env).code == 0
    r = run_cli("run", TEXT, "--json", env=env)
    assert r.code == 65 and r.json()["error"]["code"] == "daily_cap_exceeded"
    assert emulator.counts["submit"] == 1


def test_live_schema_mismatch_refuses_before_paying(emulator: Emulator, tmp_path: Path) -> None:
    emulator.add_fault(
        Fault(route="schema", status=200, times=0,
              body={"model_id": "x", "input_schema": {"type": "object", "properties": {"prompt": {"type": "string"}}}})
    )
    r = run_cli("run", TEXT, "--json", env=env_for(emulator, tmp_path))
    assert r.code == 65 and r.json()["error"]["code"] == "schema_mismatch"
    assert emulator.counts["submit"] == 0


def test_kill_9_while_polling_then_resume_finishes_with_one_submit(make_emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = make_emulator(queue_seconds=0.6, run_seconds=0.6)
    env = {**os.environ, **env_for(emu, tmp_path)}
    proc = subprocess.Popen([*kling3_cmd(), "run", TEXT, "--poll-interval", "0.1", "--json", "--output-dir", str(tmp_path / "o")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert emu.wait_for_requests("status", 1, timeout=20)
    proc.kill()
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    (row,) = journal_rows(tmp_path)
    assert row["request_id"] and row["state"] in ("submitted", "in_queue", "in_progress")
    r = run_cli("resume", "--all", "--poll-interval", "0.1", "--json", env=env_for(emu, tmp_path))
    assert r.code == 0, r.err
    (outcome,) = r.json()["resumed"]
    assert outcome["status"] == "completed" and Path(outcome["files"][0]).exists()
    assert emu.counts["submit"] == 1
    assert run_cli("resume", "--all", "--json", env=env_for(emu, tmp_path)).json() == {"resumed": []}


def test_ctrl_c_while_queued_cancels_and_exits_130(make_emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = make_emulator(queue_seconds=30, run_seconds=1)
    env = {**os.environ, **env_for(emu, tmp_path)}
    proc = subprocess.Popen([*kling3_cmd(), "run", TEXT, "--poll-interval", "0.1", "--json"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert emu.wait_for_requests("status", 1, timeout=20)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert emu.counts["cancel"] == 1
    assert emu.jobs()[0]["status"] == "cancelled"
    assert journal_rows(tmp_path)[0]["state"] == "cancelled"
    assert json.loads(out)["error"]["code"] == "interrupted"


def test_jobs_status_result_cancel_spend_commands(make_emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = make_emulator(queue_seconds=30)
    env = env_for(emu, tmp_path)
    r = run_cli("run", TEXT, "--no-wait", "--json", env=env)
    rid = r.json()["request_id"]
    assert run_cli("status", rid[:8], "--json", env=env).json()["status"] == "in_queue"
    assert run_cli("jobs", "--json", env=env).json()["jobs"][0]["request_id"] == rid
    c = run_cli("cancel", rid, "--json", env=env)
    assert c.code == 0 and c.json()["outcome"] == "cancelled"
    spend = run_cli("spend", "--json", env=env).json()
    assert spend["today_usd"] == 0  # cancelled while queued: not charged
    (gone,) = spend["cancelled_not_charged"]
    assert gone["jobs"] == 1 and gone["cost_usd"] == pytest.approx(0.504)


def test_demo_runs_offline_end_to_end(tmp_path: Path) -> None:
    r = run_cli("demo", "--output-dir", str(tmp_path / "d"), "--json", env={"KLING3_HOME": str(tmp_path / "h")})
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["status"] == "completed" and probe_mp4(doc["files"][0]).height > probe_mp4(doc["files"][0]).width


def test_a_long_plan_submits_every_call_before_waiting(
    make_emulator: Callable[..., Emulator], home: Path, tmp_path: Path, api_client: ApiClient
) -> None:
    emu = make_emulator(queue_seconds=0.2, run_seconds=0.2)
    events: list[dict[str, Any]] = []
    with api_client(emu) as client:
        res = run("a 40-second film of a lighthouse at dusk", output_dir=tmp_path, poll_interval=0.02, client=client,
                  on_event=events.append, finish_video=False)
    kinds = [e.event for e in events]
    assert kinds[:6] == ["submitting", "submitted"] * 3
    assert res.status == "completed" and len(res.segment_files) == 3 and emu.counts["submit"] == 3


def test_a_finished_job_without_a_file_url_is_reported_not_silently_empty(emulator: Emulator, tmp_path: Path) -> None:
    emulator.add_fault(Fault(route="result", status=200, body={"status": "succeeded", "output": {}}))
    r = run_cli("run", TEXT, "--poll-interval", "0.05", "--output-dir", str(tmp_path / "o"), "--json",
                env=env_for(emulator, tmp_path))
    assert r.code == 75
    err = r.json()["error"]
    assert err["code"] == "no_output" and "kling3 resume" in err["message"]
    assert journal_rows(tmp_path)[0]["state"] == "download_failed"
    again = run_cli("result", err["request_id"], "--output-dir", str(tmp_path / "o"), "--json", env=env_for(emulator, tmp_path))
    assert again.code == 0 and Path(again.json()["files"][0]["path"]).exists()


# -- delivery per file ------------------------------------------------------------------------


def _mp4s(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.suffix == ".mp4") if directory.exists() else []


def _shape(names: list[str], rid: str) -> list[str]:
    """File names with the request's stem written S: ``fox-snow-3f9a2c-2.mp4`` -> ``S-2.mp4``."""
    return [re.sub(rf"^[a-z0-9-]*-{rid[:6]}", "S", n) for n in names]


def test_a_cover_beside_the_video_is_saved_and_the_run_succeeds(make_emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = make_emulator(result_shape="image_videos")
    out = tmp_path / "o"
    r = run_cli("run", TEXT, "--poll-interval", "0.05", "--output-dir", str(out), "--json", env=env_for(emu, tmp_path))
    assert r.code == 0, r.err
    doc = r.json()
    rid = doc["request_id"]
    assert _shape([Path(f).name for f in doc["files"]], rid) == ["S.mp4"] and doc["skipped"] == []
    assert [Path(f).name for f in doc["images"]] == ["cover.png"]
    assert _shape(sorted(p.name for p in out.iterdir()), rid) == ["S.contact.jpg", "S.mp4", "cover.png"]
    assert journal_rows(tmp_path)[0]["state"] == "downloaded"


def test_a_404_on_the_first_of_two_videos_exits_75_and_resume_delivers_both_once(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = make_emulator(result_shape="videos", video_count=2, faults=[Fault(route="download", status=404)])
    out, env = tmp_path / "o", env_for(emu, tmp_path)
    r = run_cli("run", TEXT, "--poll-interval", "0.05", "--output-dir", str(out), "--json", env=env)
    assert r.code == 75, r.err
    err = r.json()["error"]
    rid = err["request_id"]
    assert err["code"] == "download_failed" and f"kling3 resume {rid}" in err["message"]
    assert [m["url"].rsplit("/", 1)[1] for m in err["missing"]] == ["output.mp4"]
    assert _shape(_mp4s(out), rid) == ["S-2.mp4"]  # the second file did not wait for the first
    assert journal_rows(tmp_path)[0]["state"] == "download_failed"

    again = run_cli("resume", rid, "--poll-interval", "0.05", "--json", env=env)
    assert again.code == 0, again.err
    (outcome,) = again.json()["resumed"]
    assert _shape([Path(f).name for f in outcome["files"]], rid) == ["S.mp4", "S-2.mp4"]
    fetched = run_cli("result", rid, "--json", env=env)
    assert fetched.code == 0 and len(fetched.json()["files"]) == 2
    assert _shape(_mp4s(out), rid) == ["S-2.mp4", "S.mp4"]  # no copy on resume or result
    assert emu.counts["submit"] == 1 and journal_rows(tmp_path)[0]["state"] == "downloaded"


def test_a_foreign_output_is_skipped_and_result_converges(make_emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = make_emulator(result_shape="image_videos", video_count=2, foreign_outputs="first")
    out, env = tmp_path / "o", env_for(emu, tmp_path)
    r = run_cli("run", TEXT, "--poll-interval", "0.05", "--output-dir", str(out), "--json", env=env)
    assert r.code == 0, r.err
    doc = r.json()
    (skipped,) = doc["skipped"]
    assert skipped["url"].startswith(emu.foreign_origin) and skipped["reason"].startswith("untrusted host '127.0.0.1'")
    assert _shape([Path(f).name for f in doc["files"]], doc["request_id"]) == ["S-2.mp4"] and len(doc["images"]) == 1
    human = run_cli("result", doc["request_id"], env=env)
    assert human.code == 0 and "[skip] " + skipped["url"] in human.err
    again = run_cli("result", doc["request_id"], "--json", env=env).json()
    assert [f["path"] for f in again["files"]] == doc["files"] and again["skipped"] == [skipped]
    assert _shape(sorted(p.name for p in out.iterdir()), doc["request_id"]) == ["S-2.contact.jpg", "S-2.mp4", "cover.png"]
    assert emu.counters()["foreign_downloads"] == 0
    assert run_cli("resume", "--all", "--json", env=env).json() == {"resumed": []}  # nothing left to repeat
