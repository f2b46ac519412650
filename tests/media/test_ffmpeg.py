"""Finding ffmpeg, and every plan surface telling make_plan whether it is there (planning itself
never looks: it is pure and does not import skill.media)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import skill
from skill import tools
from skill.cli import main
from skill.errors import VIDEO_TOOLS_MISSING, ConfigError
from skill.execution.batch import run_batch
from skill.execution.client import AsyncRunComfyClient, RunComfyClient
from skill.execution.flow import run
from skill.media import ffmpeg
from skill.planning import make_plan
from skill.testing.emulator import Emulator

SEGMENTED = "a 40 second film of a kite, cinemascope, with music"  # 3 calls, cropped to 21:9
SINGLE = "a quick vertical draft of a barista pulling espresso, with cafe sound"
WARNING = f"video_tools_missing: {VIDEO_TOOLS_MISSING}"

needs_ffmpeg = pytest.mark.skipif(
    ffmpeg.find_ffmpeg() is None, reason="no ffmpeg: install kling3-skill[video]"
)


@pytest.fixture
def no_ffmpeg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ffmpeg, "find_ffmpeg", lambda: None)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLING3_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", "__all__")  # main() sets it; keep it scoped


def test_require_ffmpeg_names_the_extra_and_the_kept_segments(no_ffmpeg: None) -> None:
    assert not ffmpeg.video_tools_available()
    with pytest.raises(ConfigError) as info:
        ffmpeg.require_ffmpeg([Path("a.mp4"), Path("b.mp4")])
    err = info.value
    assert (err.code, err.exit_code) == ("ffmpeg_missing", 78)
    assert err.message == VIDEO_TOOLS_MISSING + " (or put ffmpeg on PATH)"
    assert err.to_dict()["segments"] == ["a.mp4", "b.mp4"]


@needs_ffmpeg
def test_require_ffmpeg_returns_the_found_binary() -> None:
    assert ffmpeg.video_tools_available()
    assert ffmpeg.require_ffmpeg() == ffmpeg.find_ffmpeg()


def test_make_plan_warns_only_when_told_the_tools_are_missing() -> None:
    def warned(**kw: Any) -> bool:
        return WARNING in make_plan(SEGMENTED, **kw).warnings

    assert warned(video_tools=False)
    assert warned(video_tools=lambda: False)
    assert not warned(video_tools=True)
    assert not warned(video_tools=lambda: True)
    assert not warned()  # None: unknown, so no claim either way


def test_the_availability_callable_is_asked_only_when_the_plan_needs_finishing() -> None:
    asked: list[int] = []

    def probe() -> bool:
        asked.append(1)
        return False

    assert WARNING not in make_plan(SINGLE, video_tools=probe).warnings
    assert asked == []  # one native clip: nothing to stitch or crop, so ffmpeg is not looked for
    make_plan(SEGMENTED, video_tools=probe)
    assert asked == [1]


def test_planning_imports_nothing_from_skill_media() -> None:
    code = (
        "import sys\n"
        "from skill.planning import make_plan\n"
        f"make_plan({SEGMENTED!r}, video_tools=False)\n"
        "sys.stderr.write(repr(sorted(m for m in sys.modules if m.startswith('skill.media'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stderr.strip().endswith("[]"), proc.stderr


# -- every surface passes the answer ----------------------------------------------------------


def _via_api() -> list[str]:
    return skill.plan(SEGMENTED).warnings


def _via_cli(capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert main(["plan", SEGMENTED, "--json"]) == 0
    warnings: list[str] = json.loads(capsys.readouterr().out)["warnings"]
    return warnings


def _via_cli_batch(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> list[str]:
    batch = tmp_path / "requests.jsonl"
    batch.write_text(json.dumps({"text": SEGMENTED}) + "\n")
    assert main(["plan", "--batch", str(batch), "--json"]) == 0
    warnings: list[str] = json.loads(capsys.readouterr().out.splitlines()[0])["warnings"]
    return warnings


def _via_tool() -> list[str]:
    warnings: list[str] = tools.call("kling_plan_video", {"text": SEGMENTED})["warnings"]
    return warnings


def _via_run(emulator: Emulator, tmp_path: Path) -> list[str]:
    with RunComfyClient(base_url=emulator.base_url, token=emulator.token) as client:
        return run(SEGMENTED, output_dir=tmp_path, wait=False, client=client).warnings


def _via_batch(emulator: Emulator, tmp_path: Path) -> list[str]:
    async def go() -> list[str]:
        async with AsyncRunComfyClient(base_url=emulator.base_url, token=emulator.token) as client:
            report = await run_batch(
                [{"text": SEGMENTED}], output_dir=tmp_path / "batch", client=client,
                poll_interval=0.02, finish_videos=False,
            )  # fmt: skip
        return report.items[0].warnings

    return asyncio.run(go())


def _surfaces(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, emulator: Emulator
) -> dict[str, Callable[[], list[str]]]:
    return {
        "skill.plan": _via_api,
        "kling3 plan": lambda: _via_cli(capsys),
        "kling3 plan --batch": lambda: _via_cli_batch(capsys, tmp_path),
        "kling_plan_video": _via_tool,
        "run": lambda: _via_run(emulator, tmp_path),
        "run_batch": lambda: _via_batch(emulator, tmp_path),
    }


def test_every_surface_warns_when_there_is_no_ffmpeg(
    no_ffmpeg: None, capsys: pytest.CaptureFixture[str], tmp_path: Path, emulator: Emulator
) -> None:
    for name, warnings in _surfaces(capsys, tmp_path, emulator).items():
        assert WARNING in warnings(), name


@needs_ffmpeg
def test_no_surface_warns_when_ffmpeg_is_there(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, emulator: Emulator
) -> None:
    for name, warnings in _surfaces(capsys, tmp_path, emulator).items():
        got = warnings()
        assert any(w.startswith("segmented:") for w in got), (name, got)
        assert WARNING not in got, name
