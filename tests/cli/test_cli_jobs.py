"""`kling3 jobs` and `kling3 status` for people, and files named after their request."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from clihelp import run_cli

from skill.media.ffmpeg import find_ffmpeg
from skill.testing.emulator import Emulator

BARISTA = "a quick vertical draft of a barista pulling espresso, with cafe sound"
KITE = "a 20 second film of a kite over the sea"


def env_for(emu: Emulator, tmp_path: Path) -> dict[str, str]:
    return {"RUNCOMFY_MODEL_API_BASE": emu.base_url, "RUNCOMFY_TOKEN": emu.token,
            "KLING3_HOME": str(tmp_path / "home"), "RUNCOMFY_CONFIG_DIR": str(tmp_path / "rc")}


def test_an_empty_journal_says_no_jobs_yet(tmp_path: Path) -> None:
    r = run_cli("jobs", env={"KLING3_HOME": str(tmp_path / "home")})
    assert r.code == 0 and r.out.startswith("no jobs yet") and "kling3 run" in r.out
    assert run_cli("jobs", "--json", env={"KLING3_HOME": str(tmp_path / "home")}).json() == {"jobs": []}


def test_files_are_named_after_the_prompt_and_the_request(emulator: Emulator, tmp_path: Path) -> None:
    r = run_cli("run", BARISTA, "--poll-interval", "0.05", "--output-dir", str(tmp_path / "o"), "--json",
                env=env_for(emulator, tmp_path))
    assert r.code == 0, r.err
    doc = r.json()
    (path,) = doc["files"]
    assert Path(path).name == f"barista-pulling-espresso-cafe-{doc['request_id'][:6]}.mp4"
    assert not (tmp_path / "o" / "output.mp4").exists()


@pytest.mark.skipif(find_ffmpeg() is None, reason="stitching needs ffmpeg ([video] extra)")
def test_jobs_has_a_header_prompts_files_and_groups_a_film(emulator: Emulator, tmp_path: Path) -> None:
    env = env_for(emulator, tmp_path)
    one = run_cli("run", BARISTA, "--poll-interval", "0.05", "--output-dir", str(tmp_path / "o"), "--json", env=env)
    film = run_cli("run", KITE, "--poll-interval", "0.05", "--output-dir", str(tmp_path / "o"), "--json", env=env)
    assert one.code == 0 and film.code == 0, one.err + film.err
    final = film.json()["files"][0]
    assert Path(final).name == f"kite-sea-{film.json()['request_ids'][0][:6]}-20s.mp4"

    r = run_cli("jobs", env=env)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].split()[:3] == ["submitted", "(UTC)", "state"] and "prompt" in lines[0]
    assert lines[1] == f"film 20 s 16:9, 2 of 2 calls, $1.68: {final}"
    segments = film.json()["segment_files"]
    film_rows = lines[2:6]
    assert all(line.startswith("  ") for line in film_rows)
    assert [line.strip() for line in film_rows[1::2]] == segments  # each call's file under it, in order
    assert "A kite over the sea." in film_rows[0] and "$0.84" in film_rows[0]
    assert "A barista pulling espresso." in lines[6] and "$0.63" in lines[6]
    assert lines[7].strip() == one.json()["files"][0]
    assert lines[7].index("/") == lines[0].index("prompt")


def test_status_shows_elapsed_time_cost_and_prompt(emulator: Emulator, tmp_path: Path) -> None:
    env = env_for(emulator, tmp_path)
    rid = run_cli("run", BARISTA, "--poll-interval", "0.05", "--output-dir", str(tmp_path / "o"), "--json",
                  env=env).json()["request_id"]
    r = run_cli("status", rid[:8], env=env)
    assert r.code == 0, r.err
    head, elapsed, cost, prompt = r.out.splitlines()
    assert head == f"{rid}  completed"
    assert re.fullmatch(r"  elapsed  \d+ s since it was submitted", elapsed)
    assert cost.startswith("  cost     $0.63 (standard t2v")
    assert prompt == "  prompt   A barista pulling espresso. Audio: cafe sound, no dialogue."
