"""The Claude Code plugin: the repository is a marketplace of one plugin that bundles the skill
(SKILL.md at the root) and the MCP server (the root .mcp.json, which tests/test_host_registration.py
starts). The manifests parse, follow the documented shapes, agree on names and versions with the
package, and point at files that exist. Where Claude Code itself is installed, its own validator
checks them too."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from skill._version import __version__

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = ROOT / ".claude-plugin"
KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def load(name: str) -> dict[str, Any]:
    doc = json.loads((PLUGIN_DIR / name).read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def inside(base: Path, relative: str) -> Path:
    """A manifest path: relative, starting with ./, and not leaving ``base``."""
    assert relative.startswith("./"), f"{relative}: manifest paths start with ./"
    target = (base / relative).resolve()
    assert target == base.resolve() or base.resolve() in target.parents, f"{relative} leaves {base}"
    return target


def test_the_marketplace_lists_the_plugin_at_the_repository_root() -> None:
    market = load("marketplace.json")
    assert KEBAB.match(market["name"]) and isinstance(market["owner"]["name"], str)
    (entry,) = market["plugins"]
    plugin_root = inside(ROOT, entry["source"])
    manifest = json.loads((plugin_root / ".claude-plugin" / "plugin.json").read_text(encoding="utf-8"))
    assert entry["name"] == manifest["name"]
    assert entry["version"] == manifest["version"] == __version__


def test_the_plugin_bundles_the_skill_and_the_mcp_server() -> None:
    plugin = load("plugin.json")
    assert KEBAB.match(plugin["name"]) and plugin["name"] == "kling3-skill"
    assert plugin["version"] == __version__ and plugin["license"] == "MIT"
    skills = plugin["skills"]
    assert isinstance(skills, list) and skills
    for path in skills:
        skill_md = inside(ROOT, path) / "SKILL.md"
        head = skill_md.read_text(encoding="utf-8").split("\n---\n", 1)[0].removeprefix("---\n")
        assert yaml.safe_load(head)["name"] == plugin["name"]
    servers_file = inside(ROOT, plugin["mcpServers"])
    assert servers_file == (ROOT / ".mcp.json").resolve()
    server = json.loads(servers_file.read_text(encoding="utf-8"))["mcpServers"]["kling3"]
    assert server["command"] == "uvx" and "kling3-skill[mcp]" in server["args"]


def test_the_sdist_carries_the_plugin_and_what_it_points_at() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    sdist = re.search(r"\[tool\.hatch\.build\.targets\.sdist\]\ninclude = \[(.*?)\]", text)
    assert sdist is not None
    included = set(re.findall(r'"([^"]+)"', sdist.group(1)))
    assert {".claude-plugin", ".mcp.json", "SKILL.md", "references"} <= included


@pytest.mark.skipif(shutil.which("claude") is None, reason="Claude Code (`claude`) is not installed")
def test_claude_code_validates_the_plugin_and_the_marketplace(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
           "DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1", "DISABLE_ERROR_REPORTING": "1"}
    for target in (ROOT, PLUGIN_DIR / "plugin.json"):
        proc = subprocess.run(["claude", "plugin", "validate", str(target)], capture_output=True, text=True,
                              env=env, timeout=120, check=False)
        assert proc.returncode == 0 and "Validation passed" in proc.stdout, proc.stdout + proc.stderr
        assert "skills: kling3-skill" in proc.stdout and "mcpServers: kling3 stdio uvx" in proc.stdout
