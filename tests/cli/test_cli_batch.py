"""Long films, crops, batches and variants through the CLI, against the emulator."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from clihelp import run_cli

from skill.media.ffmpeg import find_ffmpeg
from skill.media.mp4probe import probe_mp4
from skill.media.video import probe_video
from skill.testing.emulator import Emulator

needs_ffmpeg = pytest.mark.skipif(find_ffmpeg() is None, reason="no ffmpeg (install kling3-skill[video])")


def env_for(emu: Emulator, tmp_path: Path) -> dict[str, str]:
    return {"RUNCOMFY_MODEL_API_BASE": emu.base_url, "RUNCOMFY_TOKEN": emu.token,
            "KLING3_HOME": str(tmp_path / "home"), "RUNCOMFY_CONFIG_DIR": str(tmp_path / "rc")}


@needs_ffmpeg
def test_40_second_film_is_three_calls_stitched_into_one_verified_mp4(emulator: Emulator, tmp_path: Path) -> None:
    r = run_cli("run", "a 40-second film of a lighthouse at dusk, slow push-in", "--poll-interval", "0.05",
                "--output-dir", str(tmp_path / "o"), "--json", env=env_for(emulator, tmp_path))
    assert r.code == 0, r.err
    doc = r.json()
    assert emulator.counts["submit"] == 3 and len(doc["request_ids"]) == 3 and len(doc["segment_files"]) == 3
    (final,) = doc["files"]
    info = probe_video(final)
    assert abs(info.duration_s - 40) <= 0.5 and (info.width, info.height) == (128, 72)
    assert doc["video"]["stitched"] is True


@needs_ffmpeg
def test_21_9_request_is_rendered_16_9_and_cropped(emulator: Emulator, tmp_path: Path) -> None:
    r = run_cli("run", "a car on a desert road, cinemascope, 5 seconds", "--poll-interval", "0.05",
                "--output-dir", str(tmp_path / "o"), "--json", env=env_for(emulator, tmp_path))
    assert r.code == 0, r.err
    doc = r.json()
    assert emulator.jobs()[0]["body"]["aspect_ratio"] == "16:9"
    info = probe_video(doc["files"][0])
    assert abs(info.width / info.height - 21 / 9) < 21 / 9 * 0.02
    assert doc["video"]["cropped"] is True


def test_batch_jsonl_reports_each_item_in_order(make_emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = make_emulator()
    f = tmp_path / "b.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in [
        {"text": "a red kite over a beach"}, {"text": "animate this photo"}, {"text": "a blue kite", "duration": 3},
    ]) + "\n")
    r = run_cli("batch", str(f), "--concurrency", "2", "--poll-interval", "0.05", "--output-dir", str(tmp_path / "o"),
                "--json", env=env_for(emu, tmp_path))
    items = [json.loads(line) for line in r.out.splitlines()]
    assert [i["status"] for i in items] == ["completed", "refused", "completed"]
    assert r.code == 0  # the jobs sent all completed; the refused line is listed, nothing was sent for it
    assert items[1]["exit_code"] == 65
    assert emu.counts["submit"] == 2
    assert all(Path(p).exists() for i in items for p in i.get("files", []))


def test_batch_over_budget_sends_nothing(emulator: Emulator, tmp_path: Path) -> None:
    f = tmp_path / "b.jsonl"
    f.write_text("\n".join(json.dumps({"text": f"kite {i}", "duration": 10}) for i in range(5)) + "\n")
    r = run_cli("batch", str(f), "--max-cost-usd", "2", "--json", env=env_for(emulator, tmp_path))
    assert r.code == 65 and r.json()["error"]["code"] == "over_budget"
    assert emulator.counts["submit"] == 0


def test_variants_make_k_jobs_with_the_stated_spread(emulator: Emulator, tmp_path: Path) -> None:
    r = run_cli("run", "a paper boat in rain", "--variants", "3", "--poll-interval", "0.05",
                "--output-dir", str(tmp_path / "o"), "--json", env=env_for(emulator, tmp_path))
    assert r.code == 0, r.err
    doc = r.json()
    assert len(doc["items"]) == 3 and all(i["status"] == "completed" for i in doc["items"])
    sent = sorted(j["body"]["cfg_scale"] for j in emulator.jobs())
    assert sent == [0.3, 0.55, 0.8]
    assert all(probe_mp4(p).duration_s > 4 for i in doc["items"] for p in i["files"])


@needs_ffmpeg
def test_kill_9_during_a_long_film_then_resume_stitches_it(make_emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    import os
    import signal
    import subprocess

    from clihelp import kling3_cmd

    emu = make_emulator(queue_seconds=0.6, run_seconds=0.6)
    env = {**os.environ, **env_for(emu, tmp_path)}
    out = tmp_path / "o"
    proc = subprocess.Popen([*kling3_cmd(), "run", "a 40-second film of a lighthouse at dusk", "--poll-interval", "0.1",
                             "--output-dir", str(out), "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert emu.wait_for_requests("status", 1, timeout=20)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert emu.counts["submit"] == 3
    r = run_cli("resume", "--all", "--poll-interval", "0.1", "--json", env=env_for(emu, tmp_path))
    assert r.code == 0, r.err
    resumed = r.json()["resumed"]
    assert sorted(o["status"] for o in resumed) == ["completed"] * 4
    (film,) = [o for o in resumed if "run_id" in o]
    info = probe_video(film["files"][0])
    assert abs(info.duration_s - 40) <= 0.5
    assert emu.counts["submit"] == 3


def test_batch_exit_codes_are_those_of_run(make_emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = make_emulator(queue_seconds=30)
    env = env_for(emu, tmp_path)
    missing = run_cli("batch", str(tmp_path / "nope.jsonl"), "--json", env=env)
    assert missing.code == 66 and missing.json()["error"]["code"] == "file_not_found"
    refused = tmp_path / "refused.jsonl"
    refused.write_text(json.dumps({"text": "animate this photo"}) + "\n" + json.dumps({"text": "a dog", "aspect_ratio": "5:4"}) + "\n")
    r = run_cli("batch", str(refused), "--json", env=env)
    assert r.code == 65 and [json.loads(x)["status"] for x in r.out.splitlines()] == ["refused", "refused"]
    assert emu.counts["submit"] == 0
    slow = tmp_path / "slow.jsonl"
    slow.write_text(json.dumps({"text": "a red kite"}) + "\n")
    t = run_cli("batch", str(slow), "--timeout", "0.3", "--poll-interval", "0.05", "--output-dir", str(tmp_path / "o"),
                "--json", env=env)
    assert t.code == 75, t.err
    (item,) = [json.loads(x) for x in t.out.splitlines()]
    assert item["status"] == "timeout" and item["error"]["resume_command"].startswith("kling3 resume ")
    lines = [json.loads(x) for x in t.err.splitlines()]  # --json: stderr carries JSON lines only
    assert lines[0]["event"] == "batch_plan" and lines[0]["message"] == "1 job, $0.42 planned, 1 at a time"


def test_batch_ends_without_teardown_but_with_its_output_and_at_exit_work(make_emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    """The batch command leaves through skill.cli.quick_exit: the whole report still reaches
    stdout, the exit code is the batch's, and the at-exit handlers run (the start-up cache
    stores the patterns this first run compiled only then)."""
    emu = make_emulator()
    f = tmp_path / "b.jsonl"
    f.write_text("".join(json.dumps({"text": f"a paper boat number {i} on a pond"}) + "\n" for i in range(3)))
    env = env_for(emu, tmp_path)
    r = run_cli("batch", str(f), "--poll-interval", "0.05", "--output-dir", str(tmp_path / "o"), "--json", env=env)
    assert r.code == 0, r.err
    assert [json.loads(x)["status"] for x in r.out.splitlines()] == ["completed"] * 3
    assert [json.loads(x)["event"] for x in r.err.splitlines()] == ["batch_plan", "gallery"]
    assert list((tmp_path / "home" / "cache").glob("regexes-*.k3c")), "the at-exit save of the start-up cache did not run"


def test_kill_9_after_a_group_commit_leaves_only_the_rows_about_to_be_sent(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    """Three of six jobs begin together (concurrency 3): their rows are one durable group, then
    their submits reach the API and hang unanswered; a kill -9 then leaves exactly those three
    rows, possibly paid, and none for the three never sent. Settled with the ids the API shows,
    resume fetches them with one submit each; the other three are simply run again."""
    import os
    import signal
    import subprocess

    from clihelp import kling3_cmd

    from skill.testing.emulator import Fault

    emu = make_emulator(queue_seconds=0.1, run_seconds=0.1)
    emu.add_fault(Fault(route="submit", kind="slow", times=3, hang_seconds=30))
    env = env_for(emu, tmp_path)
    f = tmp_path / "b.jsonl"
    f.write_text("".join(json.dumps({"text": f"a paper boat number {n} on a pond"}) + "\n" for n in range(6)))
    proc = subprocess.Popen([*kling3_cmd(), "batch", str(f), "--concurrency", "3", "--poll-interval", "0.05",
                             "--output-dir", str(tmp_path / "o"), "--yes", "--json"],
                            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert emu.wait_for_requests("submit", 3, timeout=30)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    rows = run_cli("jobs", "--json", env=env).json()["jobs"]
    assert len(rows) == 3 and all(r["state"] == "submitting" and r["possibly_paid"] for r in rows)
    waiting = run_cli("resume", "--all", "--json", env=env).json()["resumed"]
    assert [e["status"] for e in waiting] == ["possibly_paid"] * 3 and emu.counts["submit"] == 3
    by_prompt = {j["body"]["prompt"]: j["request_id"] for j in emu.jobs()}
    for row in rows:
        settled = run_cli("jobs", "--settle", row["job_key"], "paid", "--request-id",
                          by_prompt[row["payload"]["prompt"]], "--json", env=env)
        assert settled.code == 0, settled.err
    done = run_cli("resume", "--all", "--poll-interval", "0.05", "--json", env=env)
    assert done.code == 0, done.err
    assert sorted(o["status"] for o in done.json()["resumed"]) == ["completed"] * 3
    assert emu.counts["submit"] == 3
