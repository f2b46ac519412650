"""Every tool's output schema describes what it really returns, key for key.

The published schemas allow extra keys (a host with an older schema must still accept a newer
server's answer), so here they are made strict: every object may hold only the keys its model
declares. Each tool then runs against the emulator in each of its outcomes, and each result is
checked. A field added to a result without its model fails here.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skill import tools
from skill.testing.emulator import Emulator

jsonschema = pytest.importorskip("jsonschema")


def strict(schema: Any) -> Any:
    node = copy.deepcopy(schema)
    if isinstance(node, dict):
        node = {k: strict(v) for k, v in node.items()}
        if "properties" in node:
            node["additionalProperties"] = False
    elif isinstance(node, list):
        node = [strict(v) for v in node]
    return node


def check(name: str, result: dict[str, Any]) -> dict[str, Any]:
    assert "error" not in result, result
    spec = tools.find_tool(name)
    assert spec is not None
    jsonschema.validate(result, strict(spec.output_schema))
    spec.output_model.model_validate(result)
    return result


@pytest.fixture
def emu(make_emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    emulator: Emulator = make_emulator(queue_seconds=0, run_seconds=0)
    monkeypatch.setenv("RUNCOMFY_MODEL_API_BASE", emulator.base_url)
    monkeypatch.setenv("RUNCOMFY_TOKEN", emulator.token)
    monkeypatch.setenv("KLING3_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KLING3_OUTPUT_DIR", str(tmp_path / "videos"))
    monkeypatch.delenv("KLING3_DAILY_CAP_USD", raising=False)
    yield emulator


def test_every_tool_publishes_an_object_schema_that_is_valid_json_schema() -> None:
    for spec in tools.TOOLS:
        schema = spec.output_schema
        assert schema["type"] == "object" and schema["properties"], spec.name
        jsonschema.validators.validator_for(schema).check_schema(schema)
        assert "$ref" not in str(schema) and "$defs" not in schema, spec.name


def test_plan_results_in_every_shape_match_the_schema() -> None:
    check("kling_plan_video", tools.call("kling_plan_video", {"text": "a fox in snow"}))
    long = check("kling_plan_video", tools.call("kling_plan_video", {"text": "a 40 second film of a kite, cinemascope"}))
    assert len(long["calls"]) == 3 and long["render_aspect_ratio"] == "16:9"
    i2v = check("kling_plan_video", tools.call("kling_plan_video", {
        "text": "slow push-in, she smiles", "image_url": "https://example.com/a.jpg",
        "tail_image_url": "https://example.com/b.jpg", "tier": "pro"}))
    assert i2v["mode"] == "i2v" and i2v["tail_image_url"]


def test_generate_fetch_status_cancel_and_jobs_results_match_their_schemas(emu: Emulator) -> None:
    done = check("kling_generate_video", tools.call("kling_generate_video", {"text": "a fox in snow"}, poll_interval=0.01))
    assert done["done"] is True
    rid = done["request_id"]
    check("kling_video_status", tools.call("kling_video_status", {"request_id": rid}))
    check("kling_fetch_video", tools.call("kling_fetch_video", {"request_id": rid, "wait_seconds": 0}))
    late = check("kling_cancel_video", tools.call("kling_cancel_video", {"request_id": rid}))
    assert late["cancelled"] is False
    split = check("kling_generate_video", tools.call("kling_generate_video", {"text": "a city at night, 20 seconds"}))
    assert split["done"] is False and len(split["request_ids"]) == 2

    emu.config.queue_seconds = 60
    pending = check("kling_generate_video", tools.call("kling_generate_video", {"text": "a fox", "wait_seconds": 0},
                                                      poll_interval=0.01))
    assert pending["done"] is False and pending["waited_s"] == 0
    waiting = check("kling_fetch_video", tools.call("kling_fetch_video", {"request_id": pending["request_id"],
                                                                          "wait_seconds": 0}))
    assert waiting["done"] is False
    queued = check("kling_video_status", tools.call("kling_video_status", {"request_id": pending["request_id"]}))
    assert queued["queue_position"] is not None
    cancelled = check("kling_cancel_video", tools.call("kling_cancel_video", {"request_id": pending["request_id"]}))
    assert cancelled["cancelled"] is True
    jobs = check("kling_list_jobs", tools.call("kling_list_jobs", {"limit": 10}))
    assert len(jobs["jobs"]) == 4


def test_results_with_a_cover_and_a_skipped_output_match_their_schemas(emu: Emulator) -> None:
    emu.config.result_shape, emu.config.video_count, emu.config.foreign_outputs = "image_videos", 2, "first"
    done = check("kling_generate_video", tools.call("kling_generate_video", {"text": "a fox in snow"}, poll_interval=0.01))
    assert len(done["files"]) == 1 and len(done["images"]) == 1 and len(done["skipped"]) == 1
    fetched = check("kling_fetch_video", tools.call("kling_fetch_video", {"request_id": done["request_id"],
                                                                          "wait_seconds": 0}))
    assert fetched["skipped"] == done["skipped"] and fetched["images"] == done["images"]
    batch = check("kling_generate_batch", tools.call("kling_generate_batch", {
        "requests": [{"text": "a fox in snow"}], "max_cost_usd": 5}, poll_interval=0.01))
    assert len(batch["items"][0]["skipped"]) == 1


def test_a_key_no_model_declares_is_caught() -> None:
    plan = tools.call("kling_plan_video", {"text": "a fox in snow"})
    with pytest.raises(jsonschema.ValidationError):
        check("kling_plan_video", {**plan, "contact_sheet": "/tmp/x.jpg"})


@pytest.mark.parametrize(("state", "says"), [
    ("downloaded", "saved"), ("timeout", "kling_fetch_video"), ("download_failed", "kling_fetch_video"),
    ("in_progress", "Do not generate it again"), ("unconfirmed", "dashboard"), ("failed", "change the prompt"),
    ("cancelled", "not charged"), ("submitting", "in a moment"),
])
def test_a_job_resource_says_what_to_do_next(state: str, says: str) -> None:
    from skill.tool_results import job_detail

    row = {"request_id": "abc123", "state": state, "model_id": "kling/x", "payload": {"prompt": "a fox"}}
    doc = job_detail(row, [{"path": "/v/a.mp4", "url": "https://f/a.mp4", "size": 3, "sha256": "00", "id": 1}],
                     [{"at": "2026-01-01T00:00:00+00:00", "state": state, "detail": None}])
    assert says in doc["next"] and doc["prompt"] == "a fox" and doc["endpoint"] == "kling/x"
    assert doc["files"] == [{"path": "/v/a.mp4", "url": "https://f/a.mp4", "size": 3, "sha256": "00"}]
    if state not in ("failed",):
        assert "change the prompt" not in doc["next"]


def test_batch_results_in_every_shape_match_the_schema(emu: Emulator) -> None:
    mixed = check("kling_generate_batch", tools.call("kling_generate_batch", {
        "requests": [{"text": "a fox in snow"}, {"text": "animate this photo"}, {"text": "a 20 second pan over a city"}],
        "max_cost_usd": 5}, poll_interval=0.01))
    assert [i["status"] for i in mixed["items"]] == ["completed", "refused", "completed"]
    emu.config.queue_seconds = 60
    pending = check("kling_generate_batch", tools.call("kling_generate_batch", {
        "requests": [{"text": "a fox"}], "variants": 2, "max_cost_usd": 1, "wait_seconds": 0}, poll_interval=0.01))
    assert [i["status"] for i in pending["items"]] == ["timeout", "timeout"] and pending["hint"]
