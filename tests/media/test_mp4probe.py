"""The MP4 reader: it reports what a file is, walks its boxes, and refuses a cut or foreign file."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from skill.errors import Kling3Error
from skill.media.mp4probe import (
    Mp4Error,
    child_box,
    child_boxes,
    probe_mp4,
    top_level_boxes,
)
from skill.testing.mp4writer import RESOLUTIONS, make_mp4


@pytest.mark.parametrize("ratio", sorted(RESOLUTIONS))
@pytest.mark.parametrize("duration", [3, 5, 15])
def test_probe_round_trips_size_and_duration(ratio: str, duration: int) -> None:
    info = probe_mp4(make_mp4(duration, ratio))
    assert (info.width, info.height) == RESOLUTIONS[ratio]
    assert info.duration_s == pytest.approx(duration, abs=1 / 8)
    assert info.frames == duration * 8
    assert info.brand == "isom"
    assert info.codec == "avc1"


def test_probe_refuses_truncated_and_foreign_files(tmp_path: Path) -> None:
    data = make_mp4(5, "16:9")
    with pytest.raises(Mp4Error, match="truncated"):
        probe_mp4(data[:-10])
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(make_mp4(5, "16:9", pad_to_bytes=100_000)[:90_000])
    with pytest.raises(Mp4Error, match="truncated"):
        probe_mp4(cut)
    with pytest.raises(Mp4Error):
        probe_mp4(b"<html>not found</html>")
    with pytest.raises(Mp4Error):
        probe_mp4(b"")


def test_box_walkers_reach_the_sample_description() -> None:
    data = make_mp4(3, "1:1")
    boxes = top_level_boxes(io.BytesIO(data), len(data))
    assert set(boxes) == {b"ftyp", b"moov"}
    kinds = [kind for kind, _ in child_boxes(boxes[b"moov"])]
    assert kinds == [b"mvhd", b"trak"]
    trak = child_box(boxes[b"moov"], b"trak")
    assert trak is not None and child_box(trak, b"nope") is None
    mdia = child_box(trak, b"mdia")
    assert mdia is not None
    minf = child_box(mdia, b"minf")
    stbl = child_box(minf, b"stbl") if minf is not None else None
    stsd = child_box(stbl, b"stsd") if stbl is not None else None
    assert stsd is not None and stsd[12:16] == b"avc1"


def test_a_child_box_that_overruns_its_parent_is_refused() -> None:
    with pytest.raises(Mp4Error, match="runs past its parent"):
        list(child_boxes(b"\x00\x00\x00\x40moov" + bytes(8)))


def test_mp4_error_is_in_the_tree_and_still_a_value_error() -> None:
    with pytest.raises(Mp4Error) as info:
        probe_mp4(b"")
    assert isinstance(info.value, Kling3Error) and isinstance(info.value, ValueError)
    assert info.value.exit_code == 1 and str(info.value) == info.value.message
