"""The model sees what it paid for: a finished generation or fetch returns the contact sheet as MCP
image content, a file:// resource link to each MP4, the RunComfy file URL and the cost, through
the official MCP client talking to the real server process; function calling carries the same
facts as data."""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from imagehelp import decode

from skill import tools
from skill.media.ffmpeg import find_ffmpeg
from skill.testing.emulator import Emulator
from skill.testing.mp4writer import DEFAULT_COLOR

pytest.importorskip("mcp", reason="the [mcp] extra (official MCP SDK) is not installed")

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

pytestmark = pytest.mark.skipif(find_ffmpeg() is None, reason="contact sheets need ffmpeg ([video] extra)")

TEXT = "a fox trotting through fresh snow, vertical"


def env_for(emu: Emulator, tmp: Path) -> dict[str, str]:
    env = {"RUNCOMFY_MODEL_API_BASE": emu.base_url, "RUNCOMFY_TOKEN": emu.token,
           "KLING3_HOME": str(tmp / "home"), "RUNCOMFY_CONFIG_DIR": str(tmp / "rc")}
    return {**env, **{k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}}


def check_media(result: Any, doc: dict[str, Any]) -> None:
    """Image content that decodes to the sheet on disk, and one video/mp4 link per video."""
    kinds = [c.type for c in result.content]
    assert kinds[0] == "text" and kinds[-1] == "text" and "image" in kinds and "resource_link" in kinds
    (video,) = doc["videos"]
    sheet = Path(video["contact_sheet"])
    assert sheet.is_file() and sheet.name == Path(video["path"]).stem + ".contact.jpg"
    (image,) = [c for c in result.content if c.type == "image"]
    assert image.mime_type == "image/jpeg"
    raw = base64.b64decode(image.data)
    assert raw == sheet.read_bytes() and len(raw) < 300_000
    img = decode(raw)
    assert img.height > img.width  # six 9:16 frames in a 3x2 grid
    assert img.has_colour(DEFAULT_COLOR)  # the emulator's clip, not a blank image
    (link,) = [c for c in result.content if c.type == "resource_link"]
    assert link.mime_type == "video/mp4" and str(link.uri) == Path(video["path"]).as_uri()
    assert str(link.uri).startswith("file://") and Path(video["path"]).is_file()
    assert link.name == Path(video["path"]).name and link.size == Path(video["path"]).stat().st_size
    assert video["url"].startswith(doc["_emulator_origin"] + "/files/") and video["url"] in (link.description or "")


def test_generate_and_fetch_over_stdio_return_the_contact_sheet_and_links(
    make_emulator: Any, tmp_path: Path
) -> None:
    emu = make_emulator(queue_seconds=0.1, run_seconds=0.1)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "skill.mcp_server", "--poll-interval", "0.05", "--output-dir", str(tmp_path / "videos")],
        env=env_for(emu, tmp_path), cwd=str(tmp_path),
    )

    async def go() -> None:
        with open(tmp_path / "server.log", "a", encoding="utf-8") as errlog:
            async with Client(stdio_client(params, errlog=errlog)) as client:
                gen = await client.call_tool("kling_generate_video", {"text": TEXT})
                doc = dict(gen.structured_content or {})
                assert gen.is_error is False and doc["done"] is True and doc["cost_usd"] == 0.42
                check_media(gen, {**doc, "_emulator_origin": emu.origin})
                assert "contact sheet" in gen.content[0].text and "$0.42" in gen.content[0].text

                fetched = await client.call_tool("kling_fetch_video", {"request_id": doc["request_id"]})
                again = dict(fetched.structured_content or {})
                assert again["done"] is True and again["cost_usd"] == 0.42
                check_media(fetched, {**again, "_emulator_origin": emu.origin})

                planned = await client.call_tool("kling_plan_video", {"text": TEXT})
                assert [c.type for c in planned.content] == ["text", "text"]  # nothing to show before paying

    anyio.run(go)


def test_function_calling_results_carry_paths_urls_and_the_sheet(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in env_for(emulator, tmp_path).items():
        monkeypatch.setenv(name, value)
    out = tools.call("kling_generate_video", {"text": TEXT, "output_dir": str(tmp_path / "v")}, poll_interval=0.02)
    assert out["done"] is True, out
    (video,) = out["videos"]
    assert video["path"] == out["files"][0] and video["uri"] == Path(video["path"]).as_uri()
    assert video["url"].startswith(emulator.origin) and video["mime_type"] == "video/mp4"
    assert Path(video["contact_sheet"]).is_file() and video["size"] == Path(video["path"]).stat().st_size
    fetched = tools.call("kling_fetch_video", {"request_id": out["request_id"], "wait_seconds": 0})
    assert fetched["videos"][0]["url"] == video["url"] and fetched["cost_usd"] == out["cost_usd"]


def test_a_stitched_film_is_one_video_with_its_own_sheet_and_its_calls_urls(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from skill.execution.flow import run
    from skill.tool_results import video_entries

    for name, value in env_for(emulator, tmp_path).items():
        monkeypatch.setenv(name, value)
    res = run("a 20 second film of a kite over the sea", output_dir=tmp_path / "v", poll_interval=0.02)
    (film,) = video_entries(res)
    assert film["path"] == res.files[0] and film["url"] is None and len(film["source_urls"]) == 2
    assert Path(film["contact_sheet"]).is_file() and film["duration_s"] == pytest.approx(20, abs=0.5)
