"""``kling3 plan`` ends its process without the interpreter's teardown: the same answer, exit
code and exit handlers as a normal exit."""

from __future__ import annotations

import json
from pathlib import Path

from clihelp import run_cli

from skill.cli.plan_batch import PARALLEL_BATCH_LINES


def test_a_plan_exits_with_its_answer_flushed_and_its_exit_handlers_run(tmp_path: Path) -> None:
    home = tmp_path / "home"
    got = run_cli("plan", "a lighthouse at dusk, slow push-in", "--json", env={"KLING3_HOME": str(home)})
    assert got.code == 0, got.err
    assert got.json()["endpoint"].endswith("/text-to-video")
    # the start-up cache's exit handler stores the patterns this process compiled
    assert list((home / "cache").glob("regexes-*.k3c"))


def test_a_refusal_keeps_its_exit_code_and_json_error(tmp_path: Path) -> None:
    got = run_cli("plan", "", "--json", env={"KLING3_HOME": str(tmp_path)})
    assert got.code == 64
    assert json.loads(got.out)["error"]["code"] == "usage"


def test_a_large_batch_reaches_its_reader_whole(tmp_path: Path) -> None:
    lines = PARALLEL_BATCH_LINES + 50
    batch = tmp_path / "batch.jsonl"
    batch.write_text("".join(json.dumps({"text": f"a red kite over the dunes, take {i}"}) + "\n" for i in range(lines)))
    got = run_cli("plan", "--batch", str(batch), "--json", env={"KLING3_HOME": str(tmp_path / "home")}, timeout=120)
    assert got.code == 0, got.err
    out = got.out.splitlines()
    assert len(out) == lines
    assert all(json.loads(line)["prompt"] for line in out)
