"""The MCP server, driven by clients nobody here wrote: the official SDK's client (stdio and
streamable HTTP), the MCP Inspector's CLI, and a pydantic-ai agent. The server always runs as a
real subprocess against the emulator started in the test."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from clihelp import stop, wait_for_port
from pydantic import BaseModel

from skill import tools
from skill.testing.emulator import Emulator

pytest.importorskip("mcp", reason="the [mcp] extra (official MCP SDK) is not installed")

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError

SERVER = [sys.executable, "-m", "skill.mcp_server"]
FAST = ["--poll-interval", "0.05", "--progress-interval", "0.3"]
TEXT = "a fox trotting through fresh snow, vertical"


def server_env(emu: Emulator, tmp: Path) -> dict[str, str]:
    env = {
        "RUNCOMFY_MODEL_API_BASE": emu.base_url,
        "RUNCOMFY_TOKEN": emu.token,
        "KLING3_HOME": str(tmp / "home"),
        "RUNCOMFY_CONFIG_DIR": str(tmp / "rc"),
    }
    for name in ("PATH", "HOME", "SYSTEMROOT"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


@asynccontextmanager
async def stdio_session(
    emu: Emulator, tmp: Path, mode: str = "auto", output_dir: Path | None = None
) -> AsyncIterator[Client]:
    params = StdioServerParameters(
        command=SERVER[0], args=[*SERVER[1:], *FAST, "--output-dir", str(output_dir or tmp / "videos")],
        env=server_env(emu, tmp), cwd=str(tmp),
    )
    with open(tmp / "server.log", "a", encoding="utf-8") as errlog:
        async with Client(stdio_client(params, errlog=errlog), mode=mode) as client:
            yield client


def structured(result: Any) -> dict[str, Any]:
    assert isinstance(result.structured_content, dict), result
    assert result.content[0].type == "text" and result.content[0].text
    assert json.loads(result.content[-1].text) == result.structured_content
    return result.structured_content


# -- the official SDK client over stdio ------------------------------------------------------


@pytest.mark.parametrize("mode", ["auto", "legacy"])
def test_stdio_tools_progress_resources_and_refusals(
    mode: str, make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = make_emulator(queue_seconds=0.4, run_seconds=0.4)

    async def go() -> None:
        async with stdio_session(emu, tmp_path, mode) as client:
            listed = (await client.list_tools()).tools
            assert [t.name for t in listed] == list(tools.TOOL_NAMES)
            for t in listed:
                assert t.input_schema == tools.input_schema(t.name)
                assert t.description == next(s.description for s in tools.tool_specs() if s.name == t.name)
            assert next(t for t in listed if t.name == "kling_plan_video").annotations.read_only_hint is True

            plan = await client.call_tool("kling_plan_video", {"text": TEXT})
            assert plan.is_error is False
            doc = structured(plan)
            assert doc["endpoint"] == "kling/kling-3.0/standard/text-to-video" and doc["cost_usd"] == 0.42
            assert plan.content[0].text.startswith("standard t2v, $0.42, 5 s, 9:16")

            progress: list[tuple[float, str | None]] = []

            async def on_progress(value: float, total: float | None, message: str | None) -> None:
                progress.append((value, message))

            gen = await client.call_tool("kling_generate_video", {"text": TEXT}, progress_callback=on_progress)
            out = structured(gen)
            assert gen.is_error is False and out["done"] is True and out["status"] == "completed"
            assert Path(out["files"][0]).parent == (tmp_path / "videos").resolve()
            values = [v for v, _ in progress]
            assert len(values) >= 3 and values == sorted(values) and len(set(values)) == len(values)
            messages = " | ".join(m or "" for _, m in progress)
            assert "submitted" in messages and "in_queue" in messages and "in_progress" in messages

            rid = out["request_id"]
            status = structured(await client.call_tool("kling_video_status", {"request_id": rid}))
            assert status["status"] == "completed" and status["done"] is True
            fetched = structured(await client.call_tool("kling_fetch_video", {"request_id": rid, "wait_seconds": 5}))
            assert fetched["done"] is True and Path(fetched["files"][0]).is_file()
            jobs = structured(await client.call_tool("kling_list_jobs", {}))
            assert [j["request_id"] for j in jobs["jobs"]] == [rid]

            refused = await client.call_tool("kling_plan_video", {"text": "animate this photo, slow push-in"})
            assert refused.is_error is True
            err = structured(refused)["error"]
            assert err["code"] == "missing_image" and err["field"] == "image_url"
            assert "missing_image" in refused.content[0].text
            bad = await client.call_tool("kling_generate_video", {"text": TEXT, "wait_seconds": "soon"})
            assert bad.is_error
            assert structured(bad)["error"]["code"] == "invalid_input"
            assert structured(bad)["error"]["field"] == "wait_seconds"
            unknown = await client.call_tool("kling_render", {})
            assert unknown.is_error and structured(unknown)["error"]["code"] == "unknown_tool"

            resources = {str(r.uri): r for r in (await client.list_resources()).resources}
            assert set(resources) == {"kling3://catalog", "kling3://routing-rules", "kling3://prompting-guide"}
            catalog = json.loads((await client.read_resource("kling3://catalog")).contents[0].text)
            assert len(catalog["endpoints"]) == 6
            rules = (await client.read_resource("kling3://routing-rules")).contents[0].text
            assert "missing_image" in rules
            guide = (await client.read_resource("kling3://prompting-guide")).contents[0].text
            assert "Shot 1:" in guide and "camera" in guide

            templates = (await client.list_resource_templates()).resource_templates
            assert [(t.uri_template, t.mime_type) for t in templates] == [("kling3://jobs/{request_id}", "application/json")]
            job = json.loads((await client.read_resource(f"kling3://jobs/{rid}")).contents[0].text)
            assert job["request_id"] == rid and job["state"] == "downloaded" and job["cost_usd"] == 0.42
            assert out["files"][0] in [f["path"] for f in job["files"]] and job["payload"]["prompt"]
            assert [e["state"] for e in job["events"]][-1] == "downloaded" and "saved" in job["next"]
            by_prefix = json.loads((await client.read_resource(f"kling3://jobs/{rid[:8]}")).contents[0].text)
            assert by_prefix["request_id"] == rid
            with pytest.raises(MCPError) as missing:
                await client.read_resource("kling3://jobs/no-such-job-0000")
            assert "no job" in str(missing.value) and "kling_list_jobs" in str(missing.value)

            prompts = {p.name: p for p in (await client.list_prompts()).prompts}
            assert list(prompts) == ["plan-then-generate", "write-multi-shot-prompt", "animate-image"]
            assert [a.name for a in prompts["animate-image"].arguments or [] if a.required] == ["image_url", "motion"]
            got = await client.get_prompt("write-multi-shot-prompt", {"idea": "a kite festival on a beach"})
            first, guide_part = got.messages[0].content, got.messages[-1].content
            assert first.type == "text" and "a kite festival on a beach" in first.text and "Shot 1:" in first.text
            assert guide_part.type == "resource" and str(guide_part.resource.uri) == "kling3://prompting-guide"
            assert guide_part.resource.text == guide
            with pytest.raises(MCPError) as no_motion:
                await client.get_prompt("animate-image", {"image_url": "https://example.com/a.jpg"})
            assert "motion" in str(no_motion.value)

    anyio.run(go)
    assert emu.counts["submit"] == 1


def test_client_cancellation_cancels_the_queued_job_and_cancel_tool(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = make_emulator(queue_seconds=60)

    async def go() -> None:
        async with stdio_session(emu, tmp_path) as client:
            queued = anyio.Event()

            async def on_progress(value: float, total: float | None, message: str | None) -> None:
                if message and message.startswith("in_queue"):
                    queued.set()

            async def generate() -> None:
                await client.call_tool("kling_generate_video", {"text": TEXT, "wait_seconds": 30},
                                       progress_callback=on_progress)
                raise AssertionError("the call should have been cancelled")

            async with anyio.create_task_group() as tg:
                tg.start_soon(generate)
                with anyio.fail_after(10):
                    await queued.wait()
                tg.cancel_scope.cancel()  # the SDK sends notifications/cancelled
            with anyio.fail_after(10):
                while emu.counts["cancel"] < 1:
                    await anyio.sleep(0.05)
            assert emu.jobs()[0]["status"] == "cancelled"

            # A short wait answers with the status and the request_id: not an error. While it waits
            # without any status change, heartbeat progress keeps arriving.
            beats: list[str] = []

            async def on_beat(value: float, total: float | None, message: str | None) -> None:
                beats.append(message or "")

            pending = await client.call_tool("kling_generate_video", {"text": TEXT, "wait_seconds": 1},
                                             progress_callback=on_beat)
            assert any(b.startswith("still in_queue") for b in beats), beats
            doc = structured(pending)
            assert pending.is_error is False and doc["done"] is False and doc["status"] == "in_queue"
            assert "kling_fetch_video" in doc["hint"] and doc["request_id"] in pending.content[0].text
            cancelled = structured(await client.call_tool("kling_cancel_video", {"request_id": doc["request_id"]}))
            assert cancelled["cancelled"] is True and cancelled["outcome"] == "cancelled"
            jobs = structured(await client.call_tool("kling_list_jobs", {}))["jobs"]
            assert [j["state"] for j in jobs] == ["cancelled", "cancelled"]

    anyio.run(go)
    assert emu.counts["cancel"] == 2


def test_output_dir_is_confined_to_the_server_folder_and_checked_before_paying(
    emulator: Emulator, tmp_path: Path
) -> None:
    async def go() -> None:
        async with stdio_session(emulator, tmp_path) as client:
            for outside in ("/etc/kling3", "../escape", str(tmp_path)):
                refused = await client.call_tool("kling_generate_video", {"text": TEXT, "output_dir": outside})
                err = structured(refused)["error"]
                assert refused.is_error and err["code"] == "output_dir_outside_root", outside
                assert err["field"] == "output_dir"
            assert emulator.counts["submit"] == 0
            inside = structured(await client.call_tool("kling_generate_video", {"text": TEXT, "output_dir": "clips/a"}))
            assert Path(inside["files"][0]).parent == (tmp_path / "videos" / "clips" / "a").resolve()
        taken = tmp_path / "taken"
        taken.write_text("a file where the videos should go")
        async with stdio_session(emulator, tmp_path, output_dir=taken) as client:
            unusable = await client.call_tool("kling_generate_video", {"text": TEXT})
            err = structured(unusable)["error"]
            assert unusable.is_error and err["code"] == "output_dir_unusable"

    anyio.run(go)
    assert emulator.counts["submit"] == 1
    assert not (tmp_path / "escape").exists()


def test_a_folder_lost_after_the_submit_is_a_tool_error_with_the_request_id_not_a_crash(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = make_emulator(queue_seconds=0.5, run_seconds=0.2)

    async def go() -> None:
        async with stdio_session(emu, tmp_path) as client:
            target = tmp_path / "videos" / "lost"

            async def on_progress(value: float, total: float | None, message: str | None) -> None:
                if message and message.startswith("submitted") and target.is_dir():
                    target.rmdir()
                    target.write_text("the folder became a file")

            res = await client.call_tool("kling_generate_video", {"text": TEXT, "output_dir": "lost"},
                                         progress_callback=on_progress)
            doc = structured(res)
            rid = emu.jobs()[0]["request_id"]
            err = doc["error"]
            assert res.is_error and doc["request_id"] == rid and err["request_id"] == rid
            assert err["code"] == "output_dir_unusable" and err["paid"] is True
            assert "do not generate it again" in err["hint"] and "ExceptionGroup" not in res.content[0].text
            fetched = structured(await client.call_tool(
                "kling_fetch_video", {"request_id": rid, "wait_seconds": 10, "output_dir": "found"}))
            assert fetched["done"] is True
            assert Path(fetched["files"][0]).parent == (tmp_path / "videos" / "found").resolve()

    anyio.run(go)
    assert emu.counts["submit"] == 1
def test_videos_go_to_the_videos_folder_not_the_hosts_cwd_and_caches_warm_after_initialize(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = make_emulator(queue_seconds=0, run_seconds=0)
    host_cwd = tmp_path / "where-the-host-started-it"
    host_cwd.mkdir()
    env = {**server_env(emu, tmp_path), "HOME": str(tmp_path / "user"), "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    params = StdioServerParameters(command=SERVER[0], args=[*SERVER[1:], *FAST], env=env, cwd=str(host_cwd))
    log = tmp_path / "server.log"

    async def go() -> tuple[dict[str, Any], dict[str, Any]]:
        with open(log, "w", encoding="utf-8") as errlog:
            async with Client(stdio_client(params, errlog=errlog)) as client:
                # Initialized, and nothing asked yet: the warm-up runs on its own.
                with anyio.fail_after(30):
                    while "caches warm" not in log.read_text(encoding="utf-8"):
                        await anyio.sleep(0.05)
                first = structured(await client.call_tool("kling_generate_video", {"text": TEXT}))
                second = structured(await client.call_tool("kling_generate_video", {"text": TEXT, "output_dir": "drafts"}))
                return first, second

    first, second = anyio.run(go)
    videos = (tmp_path / "user" / "Videos" / "kling3").resolve()
    assert first["done"] is True and Path(first["files"][0]).parent == videos
    assert Path(second["files"][0]).parent == videos / "drafts"
    assert list(host_cwd.iterdir()) == []
    assert log.read_text(encoding="utf-8").count("caches warm") == 1


def test_a_batch_of_variants_through_mcp_one_budget_check_and_progress(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = make_emulator(queue_seconds=0.3, run_seconds=0.3)

    async def go() -> tuple[Any, Any, list[str]]:
        async with stdio_session(emu, tmp_path) as client:
            tool = next(t for t in (await client.list_tools()).tools if t.name == "kling_generate_batch")
            assert tool.annotations.read_only_hint is False and tool.annotations.open_world_hint is True
            assert "items" in tool.output_schema["properties"] and "max_cost_usd" in tool.input_schema["required"]
            over = await client.call_tool("kling_generate_batch", {"requests": [{"text": TEXT}], "variants": 3,
                                                                   "max_cost_usd": 1})
            messages: list[str] = []

            async def on_progress(value: float, total: float | None, message: str | None) -> None:
                messages.append(message or "")

            done = await client.call_tool("kling_generate_batch", {"requests": [{"text": TEXT}], "variants": 3,
                                                                   "max_cost_usd": 1.5}, progress_callback=on_progress)
            return over, done, messages

    over, done, messages = anyio.run(go)
    assert over.is_error is True and structured(over)["error"]["code"] == "over_budget"
    doc = structured(done)  # the SDK client has checked it against the output schema
    assert done.is_error is False and doc["done"] is True and doc["counts"] == {"completed": 3}
    assert [i["cfg_scale"] for i in doc["items"]] == [0.3, 0.55, 0.8]
    assert all((tmp_path / "videos").resolve() in Path(f).parents and Path(f).is_file() for f in doc["files"])
    assert sum(m.startswith("submitted: request_id") for m in messages) == 3
    assert done.content[0].text.startswith("batch of 3: 3 completed; $1.26 spent of $1.26 planned")
    assert emu.counts["submit"] == 3


# -- in process: the adapter over skill.tools.TOOLS ------------------------------------------


def test_mcp_tools_and_both_exports_are_generated_from_the_one_table() -> None:
    from skill import mcp_server

    async def go() -> list[Any]:
        async with Client(mcp_server.build_server()) as client:
            return list((await client.list_tools()).tools)

    listed = anyio.run(go)
    openai = tools.tools_for("openai")
    anthropic = tools.tools_for("anthropic")
    names = [spec.name for spec in tools.TOOLS]
    assert [t.name for t in listed] == names == [o["function"]["name"] for o in openai] == [a["name"] for a in anthropic]
    for spec, t, o, a in zip(tools.TOOLS, listed, openai, anthropic, strict=True):
        assert t.description == spec.description == o["function"]["description"] == a["description"]
        assert t.input_schema == spec.input_schema == o["function"]["parameters"] == a["input_schema"]
        assert t.output_schema == spec.output_schema and t.output_schema["type"] == "object"
        assert t.title == spec.title == t.annotations.title
        hints = t.annotations
        assert (hints.read_only_hint, hints.destructive_hint, hints.idempotent_hint, hints.open_world_hint) == (
            spec.hints.read_only, spec.hints.destructive, spec.hints.idempotent, spec.hints.open_world
        )


def test_a_record_added_to_tools_is_served_over_mcp(monkeypatch: pytest.MonkeyPatch) -> None:
    from skill import mcp_server

    def run(args: dict[str, Any], opts: tools.CallOptions) -> dict[str, Any]:
        return {"echo": args}

    async def arun(args: dict[str, Any], opts: tools.CallOptions) -> dict[str, Any]:
        return run(args, opts)

    class EchoResult(BaseModel):
        echo: dict[str, int]

    echo = tools.ToolSpec(
        name="kling_echo", title="Echo", describe=lambda: "Echoes its arguments.", input_model=tools.ListJobsInput,
        hints=tools.ToolHints(read_only=True, destructive=False, idempotent=True, open_world=False),
        run=run, arun=arun, summary=lambda result: f"echoed {result['echo']}", output_model=EchoResult,
    )
    monkeypatch.setattr(tools, "TOOLS", (*tools.TOOLS, echo))

    async def go() -> tuple[list[Any], Any]:
        async with Client(mcp_server.build_server()) as client:
            return list((await client.list_tools()).tools), await client.call_tool("kling_echo", {"limit": 3})

    listed, result = anyio.run(go)
    assert [t.name for t in listed][-1] == "kling_echo" and listed[-1].annotations.title == "Echo"
    assert structured(result) == {"echo": {"limit": 3}} and result.content[0].text == "echoed {'limit': 3}"


# -- streamable HTTP -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def http_server(emulator: Emulator, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = open(tmp_path / "http.log", "w", encoding="utf-8")  # noqa: SIM115
    proc = subprocess.Popen([*SERVER, "--http", "--port", str(port), *FAST], env=server_env(emulator, tmp_path),
                            cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_port(proc, port, tmp_path / "http.log", 20)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(proc)
        log.close()


def test_streamable_http_lists_tools_and_plans(http_server: str) -> None:
    async def go() -> None:
        async with Client(http_server) as client:
            assert [t.name for t in (await client.list_tools()).tools] == list(tools.TOOL_NAMES)
            doc = structured(await client.call_tool("kling_plan_video", {"text": "hero shot of a watch, 8 seconds"}))
            assert doc["tier"] == "pro" and doc["cost_usd"] == pytest.approx(0.896)

    anyio.run(go)


# -- the MCP Inspector's CLI (a TypeScript client) --------------------------------------------

# Pinned so a new release cannot change the flags under us; the first run downloads it (~10-30 s).
INSPECTOR = ["npx", "-y", "@modelcontextprotocol/inspector@2.12.0", "--cli"]


def inspector(*args: str, env: dict[str, str], cwd: Path) -> Any:
    proc = subprocess.run([*INSPECTOR, *SERVER, *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


@pytest.mark.skipif(shutil.which("npx") is None or shutil.which("node") is None,
                    reason="node/npx not installed: the MCP Inspector CLI cannot run")
def test_mcp_inspector_cli_lists_and_calls_tools(emulator: Emulator, tmp_path: Path) -> None:
    env = {**os.environ, **server_env(emulator, tmp_path)}
    # --strict: the Inspector also checks every tool schema for portability problems (exit 6).
    listed = inspector("--method", "tools/list", "--strict", env=env, cwd=tmp_path)
    assert [t["name"] for t in listed["tools"]] == list(tools.TOOL_NAMES)
    assert listed["tools"][1]["inputSchema"] == tools.input_schema("kling_generate_video")
    called = inspector("--method", "tools/call", "--tool-name", "kling_plan_video",
                       "--tool-arg", "text=a quick draft of a barista, with cafe sound", "--tool-arg", "duration=8",
                       env=env, cwd=tmp_path)
    assert called.get("isError") in (None, False)
    assert called["structuredContent"]["cost_usd"] == pytest.approx(1.008)
    assert called["content"][0]["text"].startswith("standard t2v, $1.008, 8 s")


# -- a pydantic-ai agent (FunctionModel, no LLM) through the MCP server -----------------------


def test_pydantic_ai_agent_plans_then_generates_through_mcp(emulator: Emulator, tmp_path: Path) -> None:
    pytest.importorskip("pydantic_ai", reason="pydantic-ai-slim[mcp] is not installed")
    pytest.importorskip("fastmcp", reason="pydantic-ai-slim[mcp] is not installed")
    from fastmcp.client.transports import StdioTransport
    from pydantic_ai import Agent
    from pydantic_ai.mcp import MCPToolset
    from pydantic_ai.messages import (
        BinaryImage,
        ModelMessage,
        ModelRequest,
        ModelResponse,
        RetryPromptPart,
        TextPart,
        ToolCallPart,
        ToolReturnPart,
    )
    from pydantic_ai.models.function import AgentInfo, FunctionModel

    seen: list[Any] = []

    def is_retry(part: Any) -> bool:
        # Older pydantic-ai sends a RetryPromptPart; newer a ToolReturnPart with outcome 'retried'.
        return isinstance(part, RetryPromptPart) or getattr(part, "outcome", "success") in ("retried", "failed")

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        assert {t.name for t in info.function_tools} == set(tools.TOOL_NAMES)
        parts = [p for m in messages if isinstance(m, ModelRequest) for p in m.parts]
        last = parts[-1]
        seen.append(last)
        if is_retry(last):  # the refusal came back as a tool error: fix the request and plan again
            return ModelResponse(parts=[ToolCallPart("kling_plan_video", {"text": TEXT}, tool_call_id="plan2")])
        if isinstance(last, ToolReturnPart) and last.tool_name == "kling_plan_video":
            assert last.content["cost_usd"] == 0.42  # shown to the user, who agrees
            return ModelResponse(parts=[ToolCallPart("kling_generate_video", {"text": TEXT}, tool_call_id="gen")])
        if isinstance(last, ToolReturnPart) and last.tool_name == "kling_generate_video":
            # A finished video comes back as the summary, the contact sheet (an image the model
            # can look at), the file:// link and the JSON.
            summary, sheet, link, doc = last.content
            assert summary.startswith("completed")
            assert isinstance(sheet, BinaryImage) and sheet.media_type == "image/jpeg"
            assert link == Path(doc["files"][0]).as_uri() and doc["done"] is True
            return ModelResponse(parts=[TextPart("Your video: " + doc["files"][0])])
        return ModelResponse(
            parts=[ToolCallPart("kling_plan_video", {"text": "animate this photo of a fox"}, tool_call_id="plan1")]
        )

    transport = StdioTransport(command=SERVER[0], args=[*SERVER[1:], *FAST, "--output-dir", str(tmp_path / "v")],
                               env=server_env(emulator, tmp_path), cwd=str(tmp_path), keep_alive=False,
                               log_file=tmp_path / "pai-server.log")
    agent = Agent(FunctionModel(model), toolsets=[MCPToolset(transport)])

    async def go() -> str:
        async with agent:
            result = await agent.run("Make me a short vertical video of a fox in the snow.")
        return str(result.output)

    output = anyio.run(go)
    assert output.startswith("Your video: ") and Path(output.removeprefix("Your video: ")).is_file()
    refusal = next(p for p in seen if is_retry(p))
    assert "missing_image" in str(refusal.content)
    assert emulator.counts["submit"] == 1


def test_an_sdk_older_than_2_is_refused_with_an_install_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.metadata

    from skill import mcp_server

    monkeypatch.setattr(importlib.metadata, "version", lambda name: "1.26.0")
    assert mcp_server.main(["--port", "1"]) == 78
    err = capsys.readouterr().err
    assert "missing_dependency" in err and "kling3-skill[mcp]" in err
