"""Delivery per file, like the official CLI: each trusted output is fetched on its own, untrusted
ones are skipped and listed, a cover is saved by its verified type or skipped, and only a video
that could not be saved makes the job incomplete. Real sockets, the emulator's result shapes."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from skill.execution.client import RunComfyClient
from skill.execution.delivery import adeliver, deliver, output_items, output_urls
from skill.execution.retry import RetryPolicy
from skill.testing.emulator import Emulator, Fault

T2V = "kling/kling-3.0/standard/text-to-video"
FAST = RetryPolicy(attempts=2, base_delay=0.001, max_delay=0.002, max_retry_after=0.01)
MakeEmulator = Callable[..., Emulator]


def _finished_output(emu: Emulator) -> Any:
    """Run one job to completion on ``emu``; its result's ``output``."""
    with RunComfyClient(base_url=emu.base_url, token=emu.token, retry=FAST) as client:
        rid = client.submit(T2V, {"prompt": "a fox"}).request_id
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            result = client.result(rid)
            if result.done:
                return result.output
            time.sleep(0.02)
    raise AssertionError("job did not finish")


def _deliver(emu: Emulator, output: Any, dest: Path, **kw: Any) -> Any:
    return deliver(output, dest, api_base=emu.base_url, retry=FAST, sleep=lambda _s: None, **kw)


def _names(directory: Path) -> list[str]:
    return sorted(os.listdir(directory)) if directory.exists() else []


# -- reading a result ---------------------------------------------------------------------------------


def test_output_items_name_each_slot_and_what_it_should_hold() -> None:
    a, b, i = "https://f.runcomfy.net/a.mp4", "https://f.runcomfy.net/b", "https://f.runcomfy.net/c.png"
    found = {
        str(output): [(x.url, x.slot, x.expect) for x in output_items(output)]
        for output in (
            {"image": i, "videos": [a, b]},
            {"video": b},
            b,
            {"output": b},
            {"result": {"video": {"url": b}}, "thumbnail_url": i},
            {"url": a, "other": b, "poster": b},
        )
    }
    assert list(found.values()) == [
        [(i, "image", "image"), (a, "videos[0]", "video"), (b, "videos[1]", "video")],
        [(b, "video", "video")],
        [(b, "output", "video")],
        [(b, "output", "video")],
        [(b, "result.video.url", "video"), (i, "thumbnail_url", "image")],
        [(a, "url", "video"), (b, "other", "any")],  # the poster repeats b: listed once, first slot
    ]


def test_output_urls_in_document_order_without_duplicates() -> None:
    output = {
        "video": "https://a.runcomfy.net/1.mp4",
        "videos": ["https://a.runcomfy.net/2.mp4", "https://a.runcomfy.net/1.mp4"],
        "nested": {"deep": [{"url": "HTTP://b.runcomfy.net/3.mp4"}], "n": 3, "f": None},
        "text": "see https://x",
        "data": "data:video/mp4;base64,AAAA",
    }
    assert output_urls(output) == [
        "https://a.runcomfy.net/1.mp4",
        "https://a.runcomfy.net/2.mp4",
        "HTTP://b.runcomfy.net/3.mp4",
    ]
    assert output_urls(None) == []


# -- one file's trouble is its own ----------------------------------------------------------------------


def test_a_404_on_the_first_of_two_videos_does_not_stop_the_second(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emu = make_emulator(result_shape="videos", video_count=2, faults=[Fault(route="download", status=404)])
    output = _finished_output(emu)
    first, second = output["videos"]
    delivery = _deliver(emu, output, tmp_path)
    assert [f.url for f in delivery.files] == [second] and _names(tmp_path) == ["output_2.mp4"]
    problem = delivery.problem()
    assert problem is not None and (problem.code, problem.exit_code) == ("download_failed", 75)
    assert [m["url"] for m in problem.details["missing"]] == [first]
    assert problem.details["saved"] == [str(tmp_path / "output_2.mp4")]

    known = {f.sha256: f.path for f in delivery.files}
    again = _deliver(emu, output, tmp_path, known=known)
    assert again.problem() is None and [f.reused for f in again.files] == [False, True]
    assert _names(tmp_path) == ["output.mp4", "output_2.mp4"]  # no third copy
    assert emu.counters()["downloads"] == 4


def test_a_cover_beside_the_videos_is_saved_as_what_its_bytes_are(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emu = make_emulator(result_shape="image_videos")
    delivery = _deliver(emu, _finished_output(emu), tmp_path)
    assert delivery.problem() is None
    assert [(f.path.name, f.kind) for f in delivery.files] == [("cover.png", "image"), ("output.mp4", "video")]
    (image,) = delivery.images
    assert image.width is None and image.path.read_bytes().startswith(b"\x89PNG")
    assert [v.width for v in delivery.videos] == [128]


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Fault(route="download", status=404), "HTTP 404"),
        (Fault(route="download", status=200, body={"error": "no cover"}), "neither an MP4 video nor"),
        (Fault(route="download", kind="truncate", times=2), "after 2 tries"),  # both tries of the cover
    ],
)
def test_a_cover_that_cannot_be_saved_is_skipped_never_failing_the_video(
    make_emulator: MakeEmulator, tmp_path: Path, fault: Fault, reason: str
) -> None:
    emu = make_emulator(result_shape="image_videos")
    output = _finished_output(emu)
    emu.add_fault(fault)  # the cover comes first in the document, so it takes the fault
    delivery = _deliver(emu, output, tmp_path)
    assert delivery.problem() is None
    assert [f.kind for f in delivery.files] == ["video"] and _names(tmp_path) == ["output.mp4"]
    (skipped,) = delivery.skipped
    assert skipped.url == output["image"] and reason in skipped.reason


def test_untrusted_outputs_are_never_fetched_and_block_nothing(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emu = make_emulator(result_shape="image_videos", video_count=2, foreign_outputs="first")
    output = _finished_output(emu)
    delivery = _deliver(emu, output, tmp_path)
    assert delivery.problem() is None
    assert [f.url for f in delivery.files] == [output["image"], output["videos"][1]]
    (skipped,) = delivery.skipped
    assert skipped.to_dict() == {
        "url": output["videos"][0],
        "reason": "untrusted host '127.0.0.1': IP addresses are not trusted download hosts",
    }
    assert emu.counters()["foreign_downloads"] == 0


def test_when_every_video_is_untrusted_the_problem_names_the_host(
    make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    emu = make_emulator(result_shape="image_videos", foreign_outputs="all")
    delivery = _deliver(emu, _finished_output(emu), tmp_path)
    problem = delivery.problem()
    assert problem is not None and problem.code == "untrusted_url" and "127.0.0.1" in problem.message
    assert len(problem.details["skipped"]) == 2 and problem.details["saved"] == []
    assert emu.counters()["foreign_downloads"] == 0 and not tmp_path.joinpath("x").exists()
    assert _names(tmp_path) == []


def test_a_cover_alone_is_no_video(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    emu = make_emulator(result_shape="image_videos")
    cover = _finished_output(emu)["image"]
    delivery = _deliver(emu, {"image": cover}, tmp_path)
    problem = delivery.problem()
    assert problem is not None and problem.code == "no_output"
    assert [f.kind for f in delivery.files] == ["image"]  # kept: it is paid for too


def test_the_async_twin_delivers_the_same(make_emulator: MakeEmulator, tmp_path: Path) -> None:
    emu = make_emulator(result_shape="image_videos", video_count=2, foreign_outputs="first")
    output = _finished_output(emu)
    sync = _deliver(emu, output, tmp_path / "sync")

    async def nap(_s: float) -> None:
        return None

    delivery = asyncio.run(adeliver(output, tmp_path / "async", api_base=emu.base_url, retry=FAST, sleep=nap))
    assert [(f.path.name, f.kind, f.sha256) for f in delivery.files] == [
        (f.path.name, f.kind, f.sha256) for f in sync.files
    ]
    assert [s.to_dict() for s in delivery.skipped] == [s.to_dict() for s in sync.skipped]
