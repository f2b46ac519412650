"""Function-calling tools: schemas for OpenAI and Anthropic, and dispatch from any framework."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import skill
from skill import tools
from skill.errors import UsageError
from skill.request import VideoRequest
from skill.testing.emulator import Emulator, Fault

NAMES = [
    "kling_plan_video",
    "kling_generate_video",
    "kling_generate_batch",
    "kling_video_status",
    "kling_fetch_video",
    "kling_cancel_video",
    "kling_list_jobs",
]


def walk(node: Any) -> list[Any]:
    out = [node]
    if isinstance(node, dict):
        for v in node.values():
            out += walk(v)
    elif isinstance(node, list):
        for v in node:
            out += walk(v)
    return out


# -- schemas ---------------------------------------------------------------------------------


def test_openai_and_anthropic_formats_carry_the_same_seven_tools() -> None:
    openai = tools.tools_for("openai")
    anthropic = tools.tools_for("anthropic")
    assert [t["function"]["name"] for t in openai] == NAMES == [t["name"] for t in anthropic]
    for o, a in zip(openai, anthropic, strict=True):
        assert o["type"] == "function" and set(o["function"]) == {"name", "description", "parameters"}
        assert set(a) == {"name", "description", "input_schema"}
        assert o["function"]["parameters"] == a["input_schema"]
        assert o["function"]["description"] == a["description"]
        schema = a["input_schema"]
        assert schema["type"] == "object" and schema["additionalProperties"] is False
        for node in walk(schema):
            if isinstance(node, dict):
                assert "$ref" not in node and "$defs" not in node and "title" not in node.get("properties", {}).values()
                if node.get("type") == "object":
                    assert node.get("additionalProperties") is False


def test_schemas_are_valid_json_schema_and_accept_what_a_model_sends() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    for name in NAMES:
        schema = tools.input_schema(name)
        jsonschema.Draft202012Validator.check_schema(schema)
    gen = jsonschema.Draft202012Validator(tools.input_schema("kling_generate_video"))
    good = {"text": "a fox", "tier": "pro", "duration": 8, "shots": [{"prompt": "wide", "duration": 4}], "wait_seconds": 30}
    assert list(gen.iter_errors(good)) == []
    assert list(gen.iter_errors({"text": "a fox", "tier": "8k"}))
    assert list(gen.iter_errors({"text": "a fox", "shots": [{"prompt": "x", "extra": 1}]}))
    assert list(gen.iter_errors({"tier": "pro"}))  # text is required


def test_request_fields_reuse_video_request_fields_and_descriptions() -> None:
    props = tools.input_schema("kling_generate_video")["properties"]
    plan_props = tools.input_schema("kling_plan_video")["properties"]
    request_fields = set(VideoRequest.model_fields) - {"seed"}
    assert set(plan_props) == request_fields
    assert set(props) == request_fields | {"wait_seconds", "output_dir"}
    for name in request_fields:
        assert props[name]["description"] == VideoRequest.model_fields[name].description
    assert props["tier"]["enum"] == ["standard", "pro", "4k"]
    assert props["shots"]["items"]["required"] == ["prompt"]
    assert props["wait_seconds"]["default"] == tools.DEFAULT_WAIT_SECONDS == 45
    assert tools.input_schema("kling_plan_video")["required"] == ["text"]
    assert tools.input_schema("kling_fetch_video")["required"] == ["request_id"]


def test_descriptions_tell_a_model_what_costs_money() -> None:
    d = {t["name"]: t["description"] for t in tools.tools_for("anthropic")}
    assert "FREE" in d["kling_plan_video"] and "first" in d["kling_plan_video"]
    assert "cost" in d["kling_plan_video"] and "kling_generate_video" in d["kling_plan_video"]
    assert "~5x standard" in d["kling_plan_video"] and "audio adds 50%" in d["kling_plan_video"]
    assert "$0.084" in d["kling_plan_video"] and "$0.42" in d["kling_plan_video"]
    assert "SPENDS" in d["kling_generate_video"] and "request_id" in d["kling_generate_video"]
    assert "kling_fetch_video" in d["kling_generate_video"]
    assert all(len(v) < 2000 for v in d.values())


def test_cli_tools_prints_the_same_json() -> None:
    for fmt in ("openai", "anthropic"):
        assert json.loads(tools.cli_tools(fmt)) == tools.tools_for(fmt)  # type: ignore[arg-type]
    with pytest.raises(UsageError) as info:
        tools.cli_tools("gemini")
    assert info.value.exit_code == 64


# -- dispatch without the network ------------------------------------------------------------


def test_plan_call_matches_the_python_api_and_accepts_json_text() -> None:
    text = "a quick vertical draft of a barista pulling espresso, with cafe sound"
    out = tools.call("kling_plan_video", json.dumps({"text": text}))
    assert out == tools.call("kling_plan_video", {"prompt": text})  # the alias works too
    p = skill.plan(text)
    assert (out["endpoint"], out["cost_usd"], out["payload"], out["prompt"]) == (p.endpoint, p.cost_usd, p.payload, p.prompt)
    assert out["free"] is True and out["why"]["rules"]["tier"] == p.decision.rules["tier"]
    json.dumps(out)
    assert tools.summarize("kling_plan_video", out).startswith("standard t2v, $0.63, 5 s, 9:16")


@pytest.mark.parametrize(
    ("name", "arguments", "code", "field"),
    [
        ("kling_make_video", {}, "unknown_tool", "name"),
        ("kling_plan_video", "{not json", "invalid_input", None),
        ("kling_plan_video", "[1, 2]", "invalid_input", None),
        ("kling_plan_video", {"text": "a fox", "colour": "red"}, "invalid_input", "colour"),
        ("kling_plan_video", {"text": "a fox", "duration": 300}, "duration_out_of_range", "duration"),
        ("kling_plan_video", {"text": "a fox", "aspect_ratio": "5:4"}, "bad_aspect_ratio", "aspect_ratio"),
        ("kling_plan_video", {"text": "animate this photo"}, "missing_image", "image_url"),
        ("kling_plan_video", {"text": "a fox, 15 seconds", "max_cost_usd": 1}, "over_budget", "max_cost_usd"),
        ("kling_generate_video", {"text": "a fox", "wait_seconds": -1}, "invalid_input", "wait_seconds"),
        ("kling_generate_video", {"text": "animate this photo"}, "missing_image", "image_url"),
        ("kling_video_status", {}, "invalid_input", "request_id"),
        ("kling_fetch_video", {"request_id": "abc", "wait_seconds": "soon"}, "invalid_input", "wait_seconds"),
        ("kling_list_jobs", {"limit": 0}, "invalid_input", "limit"),
    ],
)
def test_errors_come_back_as_data_never_raised(name: str, arguments: Any, code: str, field: str | None) -> None:
    out = tools.call(name, arguments)
    assert set(out) == {"error"}
    assert out["error"]["code"] == code and out["error"]["field"] == field
    assert out["error"]["message"]
    assert asyncio.run(tools.acall(name, arguments)) == out
    assert tools.summarize(name, out).startswith(f"error [{code}]")


def test_an_unknown_tool_gives_the_same_clear_error_from_call_and_acall() -> None:
    expected = {
        "error": {
            "code": "unknown_tool",
            "field": "name",
            "message": "unknown tool 'kling_make_video'; tools: kling_plan_video, kling_generate_video, "
            "kling_generate_batch, kling_video_status, kling_fetch_video, kling_cancel_video, kling_list_jobs",
        }
    }
    cases: list[dict[str, Any] | str | None] = [{}, '{"text": "a fox"}', "{not json", None]
    for arguments in cases:
        assert tools.call("kling_make_video", arguments) == expected
        assert asyncio.run(tools.acall("kling_make_video", arguments)) == expected
    assert tools.summarize("kling_make_video", expected) == f"error [unknown_tool] (name): {expected['error']['message']}"
    assert tools.find_tool("kling_make_video") is None
    with pytest.raises(KeyError):
        tools.input_schema("kling_make_video")


def test_the_exports_and_dispatch_are_generated_from_the_one_table() -> None:
    assert [spec.name for spec in tools.TOOLS] == NAMES == list(tools.TOOL_NAMES)
    assert tools.tool_specs() is tools.TOOLS
    for spec, o, a in zip(tools.TOOLS, tools.tools_for("openai"), tools.tools_for("anthropic"), strict=True):
        assert tools.find_tool(spec.name) is spec
        assert o["function"] == {"name": spec.name, "description": spec.description, "parameters": spec.input_schema}
        assert a == {"name": spec.name, "description": spec.description, "input_schema": spec.input_schema}
        assert spec.title and all(callable(f) for f in (spec.summary, spec.run, spec.arun, spec.describe))
    assert [s.name for s in tools.TOOLS if s.reports_progress] == ["kling_generate_video", "kling_generate_batch",
                                                                   "kling_fetch_video"]


def test_adding_a_tool_is_adding_one_record(monkeypatch: pytest.MonkeyPatch) -> None:
    class EchoInput(tools.ListJobsInput):
        """Input of kling_echo."""

    def run(args: dict[str, Any], opts: tools.CallOptions) -> dict[str, Any]:
        return {"echo": args, "poll_interval": opts.poll_interval}

    async def arun(args: dict[str, Any], opts: tools.CallOptions) -> dict[str, Any]:
        return {**run(args, opts), "async": True}

    class EchoResult(BaseModel):
        echo: dict[str, Any]

    echo = tools.ToolSpec(
        name="kling_echo", title="Echo", describe=lambda: "Echoes its arguments.", input_model=EchoInput,
        hints=tools.ToolHints(read_only=True, destructive=False, idempotent=True, open_world=False),
        run=run, arun=arun, summary=lambda result: f"echoed {result['echo']}", output_model=EchoResult,
    )
    monkeypatch.setattr(tools, "TOOLS", (*tools.TOOLS, echo))
    assert [t["name"] for t in tools.tools_for("anthropic")] == [*NAMES, "kling_echo"]
    assert tools.tools_for("openai")[-1]["function"]["description"] == "Echoes its arguments."
    assert tools.input_schema("kling_echo")["properties"]["limit"]["maximum"] == 200
    assert tools.call("kling_echo", '{"limit": 3}', poll_interval=1) == {"echo": {"limit": 3}, "poll_interval": 1.0}
    assert asyncio.run(tools.acall("kling_echo", {"limit": 3}))["async"] is True
    assert tools.summarize("kling_echo", {"echo": {"limit": 3}}) == "echoed {'limit': 3}"
    assert "kling_echo" in tools.call("kling_nope")["error"]["message"]


def test_an_openai_tool_call_dispatches_through_call() -> None:
    """The round trip an OpenAI chat loop makes: tools in, tool_calls out, tool messages back."""
    definitions = tools.tools_for("openai")
    assistant_message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "kling_plan_video", "arguments": '{"text": "hero shot of a watch", "duration": 8}'},
            },
            {"id": "call_2", "type": "function", "function": {"name": "kling_plan_video", "arguments": '{"text": ""}'}},
        ],
    }
    offered = {d["function"]["name"] for d in definitions}
    replies = []
    for tc in assistant_message["tool_calls"]:  # type: ignore[attr-defined]
        assert tc["function"]["name"] in offered
        result = tools.call(tc["function"]["name"], tc["function"]["arguments"])
        replies.append({"role": "tool", "tool_call_id": tc["id"], "content": json.dumps(result)})
    first, second = (json.loads(r["content"]) for r in replies)
    assert first["tier"] == "pro" and first["cost_usd"] == pytest.approx(0.896)
    assert second["error"]["code"] == "invalid_input" and second["error"]["field"] == "text"


# -- dispatch against the emulator -----------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[Emulator], Path]:
    def point(emu: Emulator) -> Path:
        monkeypatch.setenv("RUNCOMFY_MODEL_API_BASE", emu.base_url)
        monkeypatch.setenv("RUNCOMFY_TOKEN", emu.token)
        monkeypatch.setenv("KLING3_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("RUNCOMFY_CONFIG_DIR", str(tmp_path / "rc"))
        monkeypatch.delenv("KLING3_DAILY_CAP_USD", raising=False)
        return tmp_path

    return point


def test_generate_status_fetch_and_list_in_process(emulator: Emulator, env: Callable[[Emulator], Path]) -> None:
    tmp = env(emulator)
    events: list[dict[str, Any]] = []
    out = tools.call("kling_generate_video", {"text": "a fox in snow, vertical", "output_dir": str(tmp / "v")},
                     poll_interval=0.02, on_event=events.append)
    assert out["done"] is True and out["status"] == "completed"
    (path,) = out["files"]
    assert Path(path).is_file() and Path(path).parent == (tmp / "v").resolve()
    assert out["cost_usd"] == 0.42 and out["aspect_ratio"] == "9:16"
    assert "status" in {e.event for e in events}
    rid = out["request_id"]
    assert tools.call("kling_video_status", {"request_id": rid})["status"] == "completed"
    fetched = tools.call("kling_fetch_video", {"request_id": rid, "wait_seconds": 0, "output_dir": str(tmp / "f")})
    assert fetched["done"] and Path(fetched["files"][0]).parent == (tmp / "f").resolve()
    listed = tools.call("kling_list_jobs", {"limit": 5})["jobs"]
    assert [j["request_id"] for j in listed] == [rid] and listed[0]["files"]
    late = tools.call("kling_cancel_video", {"request_id": rid})
    assert late["cancelled"] is False and "charged" in late["message"]
    assert tools.summarize("kling_generate_video", out).startswith(f"completed (request_id {rid}")


def test_tool_results_list_the_cover_and_the_outputs_not_saved(
    make_emulator: Callable[..., Emulator], env: Callable[[Emulator], Path]
) -> None:
    emu = make_emulator(result_shape="image_videos", video_count=2, foreign_outputs="image")
    tmp = env(emu)
    out = tools.call("kling_generate_video", {"text": "a fox in snow", "output_dir": str(tmp / "v")}, poll_interval=0.02)
    rid6 = out["request_id"][:6]
    names = [Path(f).name for f in out["files"]]
    assert out["done"] is True and names[0].endswith(f"-{rid6}.mp4") and names[1].endswith(f"-{rid6}-2.mp4")
    (skipped,) = out["skipped"]
    assert out["images"] == [] and skipped["url"].endswith("/cover.png") and "untrusted host" in skipped["reason"]
    assert "1 output(s) not saved" in tools.summarize("kling_generate_video", out)
    fetched = tools.call("kling_fetch_video", {"request_id": out["request_id"], "wait_seconds": 0})
    assert fetched["files"] == out["files"] and fetched["skipped"] == out["skipped"]  # converged, no copies
    assert sorted(p.name for p in (tmp / "v").iterdir() if p.suffix == ".mp4") == sorted(names)


def test_generate_returns_the_request_id_when_the_wait_runs_out_then_cancel(
    make_emulator: Callable[..., Emulator], env: Callable[[Emulator], Path]
) -> None:
    emu = make_emulator(queue_seconds=30)
    env(emu)

    async def go() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        pending = await tools.acall("kling_generate_video", {"text": "a fox", "wait_seconds": 0}, poll_interval=0.02)
        status = await tools.acall("kling_video_status", {"request_id": pending["request_id"]})
        cancelled = await tools.acall("kling_cancel_video", {"request_id": pending["request_id"]})
        return pending, status, cancelled

    pending, status, cancelled = asyncio.run(go())
    assert pending["done"] is False and pending["request_id"] and pending["status"] == "in_queue"
    assert "kling_fetch_video" in pending["hint"] and pending["files"] == []
    assert status["status"] == "in_queue" and status["queue_position"] is not None
    assert cancelled["cancelled"] is True and emu.jobs()[0]["status"] == "cancelled"


def test_fetch_waits_at_most_wait_seconds(make_emulator: Callable[..., Emulator], env: Callable[[Emulator], Path]) -> None:
    emu = make_emulator(queue_seconds=30)
    env(emu)
    rid = tools.call("kling_generate_video", {"text": "a fox", "wait_seconds": 0}, poll_interval=0.02)["request_id"]
    started = time.monotonic()
    out = tools.call("kling_fetch_video", {"request_id": rid, "wait_seconds": 1}, poll_interval=0.05)
    assert time.monotonic() - started < 5
    assert out["done"] is False and out["status"] == "in_queue" and "kling_fetch_video" in out["hint"]


def test_segmented_requests_submit_every_call_at_once(emulator: Emulator, env: Callable[[Emulator], Path]) -> None:
    env(emulator)
    out = tools.call("kling_generate_video", {"text": "a slow pan over a city, 20 seconds"}, poll_interval=0.02)
    assert len(out["request_ids"]) == 2 and out["done"] is False and "kling_fetch_video" in out["hint"]
    assert emulator.counts["submit"] == 2


@pytest.mark.parametrize("runner", ["asyncio", "anyio"])
def test_cancelling_acall_cancels_the_queued_job(
    runner: str, make_emulator: Callable[..., Emulator], env: Callable[[Emulator], Path]
) -> None:
    """Plain asyncio cancellation and anyio's level-triggered kind both reach the API."""
    emu = make_emulator(queue_seconds=30)
    env(emu)

    async def until_queued(queued: asyncio.Event | Any) -> None:
        await tools.acall(
            "kling_generate_video", {"text": "a fox", "wait_seconds": 60}, poll_interval=0.05,
            on_event=lambda e: queued.set() if getattr(e, "status", None) == "in_queue" else None,
        )

    async def with_asyncio() -> None:
        queued = asyncio.Event()
        task = asyncio.ensure_future(until_queued(queued))
        await asyncio.wait_for(queued.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    async def with_anyio() -> None:
        import anyio

        queued = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(until_queued, queued)
            with anyio.fail_after(10):
                await queued.wait()
            tg.cancel_scope.cancel()

    if runner == "asyncio":
        asyncio.run(with_asyncio())
    else:
        anyio = pytest.importorskip("anyio")
        anyio.run(with_anyio)
    assert emu.counts["cancel"] == 1
    assert emu.jobs()[0]["status"] == "cancelled"
    assert tools.call("kling_list_jobs", {})["jobs"][0]["state"] == "cancelled"


# -- after a submit, a tool error names the job and says not to generate again -----------------


def test_a_host_sink_failing_after_the_submit_names_the_paid_job(emulator: Emulator, env: Callable[[Emulator], Path]) -> None:
    env(emulator)

    def sink(event: Any) -> None:
        if event.event == "submitted":
            raise RuntimeError("the host's progress callback broke")

    out = tools.call("kling_generate_video", {"text": "a fox in snow"}, poll_interval=0.02, on_event=sink)
    rid = emulator.jobs()[0]["request_id"]
    err = out["error"]
    assert out["request_id"] == rid and err["request_id"] == rid and err["paid"] is True
    assert err["code"] == "internal_error" and "do not generate it again" in err["hint"]
    assert f"request_id={rid!r}" in err["hint"] and "do not generate it again" in tools.summarize("kling_generate_video", out)
    fetched = tools.call("kling_fetch_video", {"request_id": rid, "wait_seconds": 10}, poll_interval=0.02)
    assert fetched["done"] is True and Path(fetched["files"][0]).is_file()
    assert emulator.counts["submit"] == 1


def test_a_host_sink_failing_before_the_submit_sends_nothing(emulator: Emulator, env: Callable[[Emulator], Path]) -> None:
    env(emulator)

    def sink(event: Any) -> None:
        if event.event == "submitting":
            raise RuntimeError("broken before anything was sent")

    out = tools.call("kling_generate_video", {"text": "a fox in snow"}, poll_interval=0.02, on_event=sink)
    assert out["error"]["code"] == "internal_error" and "nothing was sent" in out["error"]["message"]
    assert "hint" not in out["error"] and emulator.counts["submit"] == 0
    (job,) = tools.call("kling_list_jobs", {})["jobs"]
    assert job["state"] == "failed"


def test_polls_failing_after_the_submit_answer_with_the_request_id_async(
    emulator: Emulator, env: Callable[[Emulator], Path]
) -> None:
    env(emulator)
    emulator.add_fault(Fault(route="status", status=404, times=0))
    out = asyncio.run(tools.acall("kling_generate_video", {"text": "a fox in snow"}, poll_interval=0.02))
    rid = emulator.jobs()[0]["request_id"]
    assert out["request_id"] == rid and out["error"]["code"] == "not_found" and out["error"]["paid"] is True
    assert "kling_fetch_video" in out["error"]["hint"] and "do not generate it again" in out["error"]["hint"]


def test_an_unconfirmed_submit_tells_the_model_not_to_generate_again(
    emulator: Emulator, env: Callable[[Emulator], Path]
) -> None:
    env(emulator)
    emulator.add_fault(Fault(route="submit", kind="drop"))
    out = tools.call("kling_generate_video", {"text": "a fox in snow"}, poll_interval=0.02)
    err = out["error"]
    assert err["code"] == "submit_unconfirmed" and err["paid"] == "unknown"
    assert "do not generate again" in err["hint"] and "possibly_paid" in err["hint"]
    assert emulator.counts["submit"] == 1
# -- the batch/variants tool -------------------------------------------------------------------


def test_batch_limits_agree_with_the_executor() -> None:
    from skill.execution import batch

    assert tools.MAX_VARIANTS == batch.MAX_VARIANTS
    assert tools.MAX_BATCH_VIDEOS <= batch.MAX_CONCURRENCY  # every video is submitted at once
    props = tools.input_schema("kling_generate_batch")["properties"]
    assert props["variants"]["maximum"] == batch.MAX_VARIANTS and props["requests"]["maxItems"] == tools.MAX_BATCH_VIDEOS
    assert props["requests"]["items"] == tools.input_schema("kling_plan_video")
    assert "max_cost_usd" in tools.input_schema("kling_generate_batch")["required"]


def test_batch_variants_one_budget_check_and_refusals_that_cost_nothing(
    emulator: Emulator, env: Callable[[Emulator], Path]
) -> None:
    tmp = env(emulator)
    over = tools.call("kling_generate_batch", {"requests": [{"text": "a fox in snow"}], "variants": 3,
                                               "max_cost_usd": 1.0})
    assert over["error"]["code"] == "over_budget" and over["error"]["field"] == "max_cost_usd"
    assert over["error"]["cost_usd"] == pytest.approx(1.26) and emulator.counts["submit"] == 0
    out = tools.call("kling_generate_batch", {
        "requests": [{"text": "a fox in snow"}, {"text": "animate this photo, slow push-in"}],
        "variants": 3, "max_cost_usd": 1.3, "output_dir": str(tmp / "b"),
    }, poll_interval=0.02)
    assert "error" not in out and out["done"] is False  # the second request was refused, the rest ran
    statuses = [(i["status"], i["cfg_scale"]) for i in out["items"]]
    assert statuses == [("completed", 0.3), ("completed", 0.55), ("completed", 0.8),
                        ("refused", 0.3), ("refused", 0.55), ("refused", 0.8)]
    assert all(Path(f).is_file() and (tmp / "b").resolve() in Path(f).parents for f in out["files"])
    assert len(out["files"]) == 3 and len(out["request_ids"]) == 3 and emulator.counts["submit"] == 3
    assert out["cost_usd"] == pytest.approx(1.26) and out["counts"] == {"completed": 3, "refused": 3}
    assert out["items"][3]["error"]["code"] == "missing_image" and "not sent (free)" in out["hint"]
    summary = tools.summarize("kling_generate_batch", out)
    assert summary.startswith("batch of 6: 3 completed, 3 refused; $1.26 spent") and "cfg_scale 0.55" in summary
    jobs = tools.call("kling_list_jobs", {})["jobs"]
    assert {j["request_id"] for j in jobs} == set(out["request_ids"])


def test_a_batch_that_outlasts_its_wait_returns_every_request_id_to_fetch(
    make_emulator: Callable[..., Emulator], env: Callable[[Emulator], Path]
) -> None:
    emu = make_emulator(queue_seconds=30)
    env(emu)
    out = asyncio.run(tools.acall("kling_generate_batch", {
        "requests": [{"text": "a fox"}, {"text": "a hare"}], "max_cost_usd": 1, "wait_seconds": 0}, poll_interval=0.02))
    assert [i["status"] for i in out["items"]] == ["timeout", "timeout"] and out["done"] is False
    assert len(out["request_ids"]) == 2 and all(rid in out["hint"] for rid in out["request_ids"])
    assert "kling_fetch_video" in out["hint"] and "Do not run the batch again" in out["hint"]
    fetched = tools.call("kling_fetch_video", {"request_id": out["request_ids"][0], "wait_seconds": 0})
    assert fetched["status"] == "in_queue"


@pytest.mark.parametrize(("arguments", "code", "field"), [
    ({"requests": [{"text": "a fox"}]}, "invalid_input", "max_cost_usd"),
    ({"requests": [], "max_cost_usd": 1}, "invalid_input", "requests"),
    ({"requests": ["a fox"], "max_cost_usd": 1}, "invalid_input", "requests"),
    ({"requests": [{"text": "a fox", "colour": "red"}], "max_cost_usd": 1}, "invalid_input", "requests[0].colour"),
    ({"requests": [{"text": "a fox", "cfg_scale": 0.5}], "variants": 2, "max_cost_usd": 5}, "variants_conflict", "variants"),
    ({"requests": [{"text": "a fox"}] * 5, "variants": 3, "max_cost_usd": 50}, "invalid_input", "variants"),
    ({"requests": [{"text": "a fox"}], "variants": 11, "max_cost_usd": 5}, "invalid_input", "variants"),
    ({"requests": [{"text": "a fox"}], "max_cost_usd": -1}, "invalid_input", "max_cost_usd"),
    ({"requests": [{"text": "a fox"}], "max_cost_usd": 1, "concurrency": 3}, "invalid_input", "concurrency"),
])
def test_bad_batch_arguments_are_refused_before_anything_is_sent(
    arguments: dict[str, Any], code: str, field: str, emulator: Emulator, env: Callable[[Emulator], Path]
) -> None:
    env(emulator)
    out = tools.call("kling_generate_batch", arguments)
    assert out["error"]["code"] == code and out["error"]["field"] == field, out
    assert emulator.counts["submit"] == 0
