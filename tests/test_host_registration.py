"""The README's host registrations work as pasted: every configuration parses, names the ``[mcp]``
extra, and the command it names starts the server, which lists the tools to the official MCP
client.

Tests are offline, so ``uvx --from 'kling3-skill[mcp]' kling3-skill ARGS`` runs as the console
script uvx would have installed, ``kling3-skill ARGS``, from this environment; the console script
itself is checked against the installed package's metadata.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import distribution
from pathlib import Path

import pytest
from clihelp import stop, wait_for_port

from skill import tools

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SECTION = "## Register the MCP server in a host"
HOSTS = ("Claude Desktop", "Claude Code", "Cursor", "VS Code")
PACKAGE = "kling3-skill[mcp]"
FENCE_RE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
INPUT_RE = re.compile(r"\$\{input:([\w.-]+)\}")
TOKEN = "test-token-from-a-host-input"


@dataclass
class Launch:
    """One way the README starts a program: where it is shown, the command, its arguments."""

    where: str
    command: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.where}: {shlex.join([self.command, *self.args])}"


def section() -> str:
    text = README.read_text(encoding="utf-8")
    assert SECTION in text, f"README has no {SECTION!r} section"
    body = text.split(SECTION, 1)[1]
    return body.split("\n## ", 1)[0]


def blocks() -> list[tuple[str, str, str]]:
    """(host heading, fence language, fence body) for every code block of the section."""
    intro, *parts = re.split(r"^### ", section(), flags=re.MULTILINE)
    out = [("Sign in", lang, body) for lang, body in FENCE_RE.findall(intro)]
    for part in parts:
        heading = part.split("\n", 1)[0].strip()
        out.extend((heading, lang, body) for lang, body in FENCE_RE.findall(part))
    return out


def _server_entry(doc: dict[str, object], where: str) -> Launch:
    servers = doc.get("mcpServers", doc.get("servers"))
    assert isinstance(servers, dict) and "kling3" in servers, f"{where}: no kling3 server"
    entry = servers["kling3"]
    assert isinstance(entry, dict)
    if "servers" in doc:  # VS Code: the type is required, secrets come from declared inputs
        assert entry["type"] == "stdio", where
    env = {str(k): str(v) for k, v in dict(entry.get("env") or {}).items()}
    inputs = {i["id"]: i for i in doc.get("inputs", [])}  # type: ignore[attr-defined]
    for name, value in env.items():
        for ref in INPUT_RE.findall(value):
            assert ref in inputs, f"{where}: env {name} uses undeclared input {ref}"
            assert inputs[ref]["type"] == "promptString" and inputs[ref]["password"] is True, where
        env[name] = INPUT_RE.sub(TOKEN, value)
    return Launch(where, str(entry["command"]), [str(a) for a in entry["args"]], env)


def launches() -> list[Launch]:
    out: list[Launch] = []
    for heading, lang, body in blocks():
        if lang == "json":
            out.append(_server_entry(json.loads(body), f"{heading} (json)"))
            continue
        for line in body.replace("\\\n", " ").splitlines():
            argv = shlex.split(line, comments=True)
            if argv[:3] == ["claude", "mcp", "add"]:
                cut = argv.index("--")
                assert argv[cut - 1] == "kling3", f"{line}: options go before the name, the command after --"
                out.append(Launch(f"{heading} (claude mcp add)", argv[cut + 1], argv[cut + 2:]))
            elif argv and argv[0] == "uvx":
                out.append(Launch(f"{heading} (shell)", argv[0], argv[1:]))
    return out


def local_argv(launch: Launch) -> list[str]:
    """What uvx would run, from this environment: the console script and its arguments."""
    assert launch.command == "uvx", f"{launch}: every snippet starts the server through uvx"
    args = list(launch.args)
    assert args[:2] == ["--from", PACKAGE], f"{launch}: expected uvx --from '{PACKAGE}' ..."
    script, rest = args[2], args[3:]
    scripts = {ep.name: ep.value for ep in distribution("kling3-skill").entry_points if ep.group == "console_scripts"}
    assert scripts.get(script) == "skill.cli:main", f"{launch}: {script} is not a console script of kling3-skill"
    path = Path(sys.executable).parent / script
    assert path.exists(), f"{path} is not installed (pip install -e .)"
    return [str(path), *rest]


def test_every_host_has_a_snippet_and_each_names_the_mcp_extra() -> None:
    found = launches()
    for host in HOSTS:
        assert any(launch.where.startswith(host) for launch in found), f"no snippet for {host}"
    for launch in found:
        assert PACKAGE in launch.args, str(launch)
    assert sum(1 for launch in found if "mcp" in launch.args) >= 6


def test_the_repository_mcp_json_is_the_one_the_readme_shows() -> None:
    shown = [json.loads(body) for heading, lang, body in blocks()
             if heading == "Claude Code" and lang == "json"]
    assert shown == [json.loads((ROOT / ".mcp.json").read_text(encoding="utf-8"))]


def test_a_console_script_named_after_the_distribution() -> None:
    scripts = {ep.name: ep.value for ep in distribution("kling3-skill").entry_points if ep.group == "console_scripts"}
    assert scripts == {"kling3": "skill.cli:main", "kling3-skill": "skill.cli:main"}


@contextmanager
def http_server(argv: list[str], env: dict[str, str], tmp: Path) -> Iterator[str]:
    """The shown HTTP command on a free port (the one shown may be taken here); yields its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = [str(port) if i and argv[i - 1] == "--port" else a for i, a in enumerate(argv)]
    assert str(port) in argv, "the HTTP snippet names no --port"
    with open(tmp / "server.log", "w", encoding="utf-8") as log:
        proc = subprocess.Popen(argv, env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for_port(proc, port, tmp / "server.log", 30)
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            stop(proc)


SERVER_LAUNCHES = [launch for launch in launches() if "mcp" in launch.args]
OTHER_LAUNCHES = [launch for launch in launches() if "mcp" not in launch.args]


def _env(tmp: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {name: os.environ[name] for name in ("PATH", "SYSTEMROOT") if name in os.environ}
    env.update(HOME=str(tmp / "user"), KLING3_HOME=str(tmp / "state"), RUNCOMFY_CONFIG_DIR=str(tmp / "rc"),
               RUNCOMFY_MODEL_API_BASE="http://127.0.0.1:9/v1")
    env.update(extra)
    return env


@pytest.mark.parametrize("launch", SERVER_LAUNCHES, ids=str)
def test_each_server_snippet_starts_the_server_and_lists_the_tools(launch: Launch, tmp_path: Path) -> None:
    pytest.importorskip("mcp", reason="the [mcp] extra (official MCP SDK) is not installed")
    import anyio
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import stdio_client

    argv = local_argv(launch)
    env = _env(tmp_path, launch.env)

    async def listed(client: Client) -> tuple[list[str], dict[str, object]]:
        names = [t.name for t in (await client.list_tools()).tools]
        plan = await client.call_tool("kling_plan_video", {"text": "a fox in fresh snow"})
        assert isinstance(plan.structured_content, dict)
        return names, plan.structured_content

    async def over_stdio() -> tuple[list[str], dict[str, object]]:
        params = StdioServerParameters(command=argv[0], args=argv[1:], env=env, cwd=str(tmp_path))
        with open(tmp_path / "server.log", "w", encoding="utf-8") as errlog:
            async with Client(stdio_client(params, errlog=errlog)) as client:
                return await listed(client)

    if "--http" in argv:
        with http_server(argv, env, tmp_path) as url:

            async def over_http() -> tuple[list[str], dict[str, object]]:
                async with Client(url) as client:
                    return await listed(client)

            names, plan = anyio.run(over_http)
    else:
        names, plan = anyio.run(over_stdio)
    assert names == list(tools.TOOL_NAMES)
    assert plan["tier"] == "standard" and plan["free"] is True
    assert TOKEN not in (tmp_path / "server.log").read_text(encoding="utf-8")


@pytest.mark.parametrize("launch", OTHER_LAUNCHES, ids=str)
def test_each_other_command_shown_exists(launch: Launch) -> None:
    argv = local_argv(launch)
    proc = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, f"{launch}\n{proc.stderr}"
