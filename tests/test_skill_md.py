"""SKILL.md: valid Agent Skill frontmatter, and every `kling3 ...` command it shows really runs.

Commands come from the fenced code blocks, in document order. ``plan`` runs for real (offline);
``run``/``status``/``result``/``jobs``/``resume``/``cancel``/``spend`` run against the emulator
with a private KLING3_HOME. ``REQUEST_ID`` is replaced by the request_id of the last ``run``
shown; ``cancel`` gets a job that is still queued. A trailing ``# exit N: code`` comment is the
documented outcome of a refusal example, and is checked.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from clihelp import kling3_cmd

from skill.testing.emulator import Emulator

ROOT = Path(__file__).resolve().parents[1]
SKILL_MD = ROOT / "SKILL.md"
ALLOWED_KEYS = {"name", "description", "license", "allowed-tools", "metadata", "compatibility"}
NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
FENCE_RE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
EXPECT_RE = re.compile(r"\s#\s*exit\s+(\d+)(?::\s*([a-z_]+))?")
EXECUTED = {"plan", "run", "status", "result", "jobs", "resume", "cancel", "spend"}
PLACEHOLDER = "REQUEST_ID"


def split_skill() -> tuple[dict[str, object], str]:
    text = SKILL_MD.read_text(encoding="utf-8")
    assert text.startswith("---\n"), "SKILL.md must open with YAML frontmatter"
    head, sep, body = text[4:].partition("\n---\n")
    assert sep, "frontmatter is not closed by a --- line"
    meta = yaml.safe_load(head)
    assert isinstance(meta, dict)
    return meta, body


@dataclass
class Shown:
    line: str
    argv: list[str]
    exit_code: int
    error_code: str | None


def shown_commands() -> list[Shown]:
    _, body = split_skill()
    out: list[Shown] = []
    for block in FENCE_RE.findall(body):
        for raw in block.replace("\\\n", " ").splitlines():
            line = raw.strip().removeprefix("$ ").strip()
            if not line.startswith("kling3 "):
                continue
            expect = EXPECT_RE.search(line)
            argv = shlex.split(line, comments=True)
            out.append(
                Shown(line, argv[1:], int(expect.group(1)) if expect else 0, expect.group(2) if expect else None)
            )
    return out


# -- frontmatter ------------------------------------------------------------------------------


def test_frontmatter_has_only_allowed_keys_and_valid_values() -> None:
    meta, body = split_skill()
    assert set(meta) <= ALLOWED_KEYS, f"unexpected keys: {set(meta) - ALLOWED_KEYS}"
    name, description = meta["name"], meta["description"]
    assert isinstance(name, str) and NAME_RE.match(name) and len(name) <= 64
    assert "anthropic" not in name and "claude" not in name
    assert isinstance(description, str) and 0 < len(description) <= 1024
    assert "<" not in description and ">" not in description  # no XML tags
    for trigger in ("Kling 3.0", "V3.0", "Pro", "4K", "text", "image-to-video"):
        assert trigger in description, trigger
    if "metadata" in meta:
        assert isinstance(meta["metadata"], dict)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta["metadata"].items())
    assert len(body.splitlines()) < 500


def test_body_covers_the_workflow() -> None:
    _, body = split_skill()
    for needle in ("plan", "--json", "4K", "kling3 jobs", "kling3 resume", "kling3 result", "Shot 1:",
                   "--image-url", "exit", "75", "65", "77"):
        assert needle in body, needle
    commands = {s.argv[0] for s in shown_commands()}
    assert {"plan", "run", "status", "result", "jobs", "resume", "cancel"} <= commands


# -- every command shown runs -----------------------------------------------------------------


@pytest.fixture
def skill_env(make_emulator: Callable[..., Emulator], tmp_path: Path) -> tuple[Emulator, dict[str, str], Path]:
    emu = make_emulator(queue_seconds=0, run_seconds=0)  # jobs finish at once: no poll sleeps
    env = {
        **os.environ,
        "RUNCOMFY_MODEL_API_BASE": emu.base_url,
        "RUNCOMFY_TOKEN": emu.token,
        "KLING3_HOME": str(tmp_path / "home"),
        "RUNCOMFY_CONFIG_DIR": str(tmp_path / "rc"),
    }
    env.pop("KLING3_DAILY_CAP_USD", None)
    work = tmp_path / "work"
    work.mkdir()
    return emu, env, work


def _kling3(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*kling3_cmd(), *argv], capture_output=True, text=True, env=env, cwd=cwd, timeout=60, check=False
    )


def _submit(env: dict[str, str], cwd: Path) -> str:
    proc = _kling3(["run", "a setup clip of a fox", "--no-wait", "--json"], env, cwd)
    assert proc.returncode == 0, proc.stderr
    rid = json.loads(proc.stdout)["request_id"]
    assert isinstance(rid, str)
    return rid


def test_every_command_shown_runs(skill_env: tuple[Emulator, dict[str, str], Path]) -> None:
    emu, env, work = skill_env
    shown = shown_commands()
    assert len(shown) >= 10
    last_rid: str | None = None
    for cmd in shown:
        sub = cmd.argv[0]
        argv = list(cmd.argv)
        if sub not in EXECUTED:
            proc = _kling3([sub, "--help"], env, work)
            assert proc.returncode == 0, f"{cmd.line}: not a kling3 command"
            continue
        if PLACEHOLDER in argv:
            if sub == "cancel":
                # Only a queued job can be cancelled: submit one that waits in the queue.
                emu.config.queue_seconds = 60
                try:
                    rid = _submit(env, work)
                finally:
                    emu.config.queue_seconds = 0
            else:
                last_rid = last_rid or _submit(env, work)
                rid = last_rid
            argv = [rid if a == PLACEHOLDER else a for a in argv]
        proc = _kling3(argv, env, work)
        assert proc.returncode == cmd.exit_code, f"{cmd.line}\nexit {proc.returncode}\n{proc.stderr}"
        if "--json" in argv:
            doc = json.loads(proc.stdout)
            if cmd.error_code:
                assert doc["error"]["code"] == cmd.error_code, cmd.line
            elif cmd.exit_code == 0:
                assert "error" not in doc, cmd.line
        if sub == "run" and proc.returncode == 0 and "--json" in argv:
            last_rid = json.loads(proc.stdout)["request_id"]
        if sub == "cancel":
            assert json.loads(proc.stdout)["outcome"] == "cancelled"
    assert emu.counts["submit"] >= 3
    videos = list(work.rglob("*.mp4"))
    assert videos, "no command shown saved a video"
