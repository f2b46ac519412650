"""The public Python API: `skill.__all__` is exactly what the package exports, and it works."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import pkgutil
from pathlib import Path
from typing import Any

import pytest

import skill
from skill.execution.client import AsyncRunComfyClient, RunComfyClient
from skill.testing.emulator import Emulator


def test_all_matches_what_the_package_exports() -> None:
    exported = set(skill.__all__)
    assert len(exported) == len(skill.__all__), "duplicates in __all__"
    for name in skill.__all__:
        assert getattr(skill, name) is not None, name
        ns: dict[str, Any] = {}
        exec(f"from skill import {name}", ns)  # the spelling users write
    assert set(dir(skill)) >= exported
    with pytest.raises(AttributeError):
        _ = skill.not_a_real_name
    # Nothing public is missing: the API functions and every Kling3Error subclass.
    assert {"plan", "run", "arun", "status", "result", "cancel", "jobs", "resume"} <= exported
    errors = importlib.import_module("skill.errors")
    assert set(errors.__all__) <= exported
    for name in ("VideoRequest", "Shot", "Plan", "RunResult", "CallResult"):
        assert name in exported
    # Every exported class comes from a real module of the package.
    for name in exported - {"__version__"}:
        obj = getattr(skill, name)
        module = inspect.getmodule(obj).__name__  # type: ignore[union-attr]
        assert module == "skill" or module.startswith("skill."), name


def test_every_submodule_imports() -> None:
    names = [m.name for m in pkgutil.walk_packages(skill.__path__, "skill.")]
    assert "skill.execution.flow" in names and "skill.routing" in names
    for name in names:
        if name.endswith(".__main__"):
            continue  # running it is the CLI's test
        if name == "skill.mcp_server":
            pytest.importorskip("mcp")
        importlib.import_module(name)


def test_plan_is_free_and_offline() -> None:
    p = skill.plan("a quick vertical draft of a barista pulling espresso, with cafe sound")
    assert isinstance(p, skill.Plan)
    assert (p.endpoint, p.cost_usd) == ("kling/kling-3.0/standard/text-to-video", 0.63)
    assert skill.plan({"text": "a fox", "tier": "pro", "duration": 8}).cost_usd == pytest.approx(0.896)
    assert skill.plan("a fox", tier="4k").tier == "4k"
    assert skill.plan(skill.VideoRequest(text="a fox", aspect_ratio="1:1")).params.aspect_ratio == "1:1"
    with pytest.raises(skill.InputError) as info:
        skill.plan("animate this photo")
    assert info.value.code == "missing_image" and info.value.exit_code == 65


def test_run_and_arun_give_the_same_structure(emulator: Emulator, home: Path) -> None:
    with RunComfyClient(base_url=emulator.base_url, token=emulator.token) as client:
        sync = skill.run("a fox in snow", output_dir=home / "s", poll_interval=0.02, client=client)

    async def go() -> Any:
        async with AsyncRunComfyClient(base_url=emulator.base_url, token=emulator.token) as client:
            return await skill.arun("a fox in snow", output_dir=home / "a", poll_interval=0.02, client=client)

    asynced = asyncio.run(go())
    assert isinstance(sync, skill.RunResult) and isinstance(asynced, skill.RunResult)
    s, a = sync.to_json_dict(), asynced.to_json_dict()
    assert s.keys() == a.keys()
    assert s["status"] == a["status"] == "completed"
    assert (s["endpoint"], s["cost_usd"]) == (a["endpoint"], a["cost_usd"])
    assert [c.keys() for c in s["calls"]] == [c.keys() for c in a["calls"]]
    assert len(s["files"]) == len(a["files"]) == 1
    # The rest of the API follows the job by its request_id.
    with RunComfyClient(base_url=emulator.base_url, token=emulator.token) as client:
        assert skill.status(sync.request_id, client=client)["status"] == "completed"  # type: ignore[arg-type]
        again = skill.result(sync.request_id, output_dir=home / "again", client=client)  # type: ignore[arg-type]
    assert isinstance(again, skill.CallResult) and again.files
    assert {j["request_id"] for j in skill.jobs()} == {sync.request_id, asynced.request_id}
    assert skill.resume() == []
