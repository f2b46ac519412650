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
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import distribution
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


# -- the Agent Skills reference validator, in a checkout named after the distribution ----------


def _agentskills(folder: Path) -> subprocess.CompletedProcess[str]:
    """``skills-ref``'s own command line (its console script is called ``agentskills``)."""
    script = Path(sys.executable).parent / "agentskills"
    argv = [str(script)] if script.exists() else [sys.executable, "-c", "from skills_ref.cli import main; main()"]
    return subprocess.run([*argv, "validate", str(folder)], capture_output=True, text=True, timeout=60, check=False)


def test_skills_ref_validates_the_skill_in_a_folder_named_after_the_distribution(tmp_path: Path) -> None:
    skills_ref = pytest.importorskip("skills_ref", reason="skills-ref (the Agent Skills validator) is not installed")
    meta, _ = split_skill()
    assert meta["name"] == distribution("kling3-skill").metadata["Name"] == "kling3-skill"
    checkout = tmp_path / "kling3-skill"
    checkout.symlink_to(ROOT, target_is_directory=True)
    proc = _agentskills(checkout)
    assert proc.returncode == 0, proc.stderr
    assert skills_ref.validate(checkout) == []
    assert skills_ref.read_properties(checkout).compatibility == meta["compatibility"]
    # The same files under another name fail: the validator does check the folder name.
    elsewhere = tmp_path / "kling3-video"
    elsewhere.symlink_to(ROOT, target_is_directory=True)
    failed = _agentskills(elsewhere)
    assert failed.returncode == 1 and "must match skill name" in failed.stderr


def test_compatibility_names_python_network_and_the_token() -> None:
    meta, _ = split_skill()
    compat = meta["compatibility"]
    assert isinstance(compat, str) and len(compat) <= 500
    for needle in ("Python 3.10", "network", "RunComfy API token", "RUNCOMFY_TOKEN"):
        assert needle in compat, needle
    requires = distribution("kling3-skill").metadata["Requires-Python"]
    assert requires == ">=3.10"


LINK_RE = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def _relative_links(text: str) -> list[str]:
    return [t for t in LINK_RE.findall(text) if "://" not in t and not t.startswith("mailto:")]


def test_references_are_linked_one_level_deep() -> None:
    _, body = split_skill()
    links = _relative_links(body)
    assert "references/prompting-guide.md" in links
    for target in links:
        assert (ROOT / target).is_file(), f"SKILL.md links to {target}, which does not exist"
    referenced = {ROOT / t for t in links if t.startswith("references/")}
    assert referenced == set((ROOT / "references").glob("*.md")), "every reference is linked from SKILL.md"
    for ref in referenced:
        deeper = [t for t in _relative_links(ref.read_text(encoding="utf-8")) if t.endswith(".md")]
        assert not deeper, f"{ref.name} links on to {deeper}: keep references one level deep"


def test_the_guide_the_skill_links_is_the_one_the_package_serves() -> None:
    from skill.data import data_path

    assert data_path("references/prompting-guide.md").resolve() == (ROOT / "references" / "prompting-guide.md").resolve()


# -- inline commands: every flag exists, every extra exists ---------------------------------------

INLINE_RE = re.compile(r"`([^`\n]+)`")


def _inline_commands() -> list[str]:
    _, body = split_skill()
    prose = FENCE_RE.sub("", body)
    return [c.strip() for c in INLINE_RE.findall(prose) if c.split(" ", 1)[0] in ("kling3", "pip", "uvx", "python")]


def test_every_inline_command_names_real_subcommands_flags_extras_and_modules() -> None:
    import importlib.util

    extras = set(distribution("kling3-skill").metadata.get_all("Provides-Extra") or [])
    helps: dict[str, str] = {}
    shown = _inline_commands()
    assert len(shown) >= 10
    for line in shown:
        argv = shlex.split(line)
        if argv[0] == "kling3":
            sub = argv[1] if len(argv) > 1 else ""
            if not sub or sub.isupper():  # `kling3 COMMAND --help`: a placeholder
                continue
            if sub not in helps:
                proc = subprocess.run([*kling3_cmd(), sub, "--help"], capture_output=True, text=True, timeout=60, check=False)
                assert proc.returncode == 0, f"`{line}`: {sub} is not a kling3 command"
                helps[sub] = proc.stdout
            for flag in (a for a in argv if a.startswith("--")):
                assert re.search(rf"{re.escape(flag)}\b", helps[sub]), f"`{line}`: kling3 {sub} has no {flag}"
        elif argv[:2] == ["pip", "install"]:
            spec = re.fullmatch(r"kling3-skill(?:\[([\w,-]+)\])?", argv[2])
            assert spec, f"`{line}` installs something else"
            assert set(filter(None, (spec.group(1) or "").split(","))) <= extras, f"`{line}`: no such extra"
        elif argv[:2] == ["python", "-m"]:
            assert importlib.util.find_spec(argv[2]) is not None, f"`{line}`: no module {argv[2]}"
        elif argv[0] == "uvx":
            assert argv[1:3] == ["--from", "kling3-skill[mcp]"] and argv[3] in ("kling3", "kling3-skill"), line


def test_the_skill_and_the_readme_name_every_agent_tool() -> None:
    from skill.tools import TOOL_NAMES

    _, body = split_skill()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in TOOL_NAMES:
        assert f"`{name}`" in body, f"SKILL.md does not mention {name}"
        assert f"`{name}`" in readme, f"README.md does not mention {name}"
