"""Stitching and cropping with a real ffmpeg on real (tiny) H.264 MP4s from skill.testing.mp4writer."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from skill.errors import ConfigError
from skill.media import ffmpeg
from skill.media.ffmpeg import find_ffmpeg
from skill.media.video import (
    VideoError,
    crop_size,
    crop_to_ratio,
    finish,
    probe_video,
    stitch,
    stitch_method,
)
from skill.testing.mp4writer import write_mp4

FFMPEG = find_ffmpeg()
needs_ffmpeg = pytest.mark.skipif(
    FFMPEG is None, reason="no ffmpeg: install kling3-skill[video] or put ffmpeg on PATH"
)


def segments(tmp_path: Path, spec: list[tuple[float, str]]) -> list[Path]:
    seg_dir = tmp_path / "segments"
    seg_dir.mkdir(exist_ok=True)
    return [
        write_mp4(seg_dir / f"seg{n}.mp4", secs, ratio) for n, (secs, ratio) in enumerate(spec, 1)
    ]


def reencoded(path: Path) -> bool:
    """libx264 leaves its signature in the stream; the pure-Python writer does not."""
    return b"x264 - core" in path.read_bytes()


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@needs_ffmpeg
def test_three_matching_segments_stitch_by_stream_copy(tmp_path: Path) -> None:
    segs = segments(tmp_path, [(14, "16:9"), (13, "16:9"), (13, "16:9")])
    before = [p.read_bytes() for p in segs]
    assert stitch_method([probe_video(p) for p in segs]) == "copy"
    out = stitch(segs, tmp_path / "out" / "joined.mp4")
    info = probe_video(out)
    assert abs(info.duration_s - 40) <= 0.5
    assert (info.width, info.height) == (128, 72) and info.codec == "h264"
    assert not reencoded(out)
    assert [p.read_bytes() for p in segs] == before  # segments untouched
    assert listing(out.parent) == ["joined.mp4"]  # no temp or list file left


@needs_ffmpeg
def test_mixed_sizes_are_reencoded_to_the_first_size(tmp_path: Path) -> None:
    segs = segments(tmp_path, [(5, "16:9"), (4, "9:16"), (3, "1:1")])
    assert stitch_method([probe_video(p) for p in segs]) == "reencode"
    out = stitch(segs, tmp_path / "mixed.mp4")
    info = probe_video(out)
    assert (info.width, info.height) == (128, 72)
    assert abs(info.duration_s - 12) <= 0.5
    assert reencoded(out)


@needs_ffmpeg
def test_audio_and_silent_segments_are_joined_with_audio_kept(tmp_path: Path) -> None:
    assert FFMPEG is not None
    voiced = tmp_path / "voiced.mp4"
    subprocess.run(
        [
            FFMPEG,
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=128x72:rate=8:duration=3",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=3",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
            str(voiced),
        ],
        check=True,
        timeout=60,
    )
    (silent,) = segments(tmp_path, [(4, "16:9")])
    assert probe_video(voiced).has_audio and not probe_video(silent).has_audio
    out = stitch([voiced, silent], tmp_path / "av.mp4")
    info = probe_video(out)
    assert info.has_audio and abs(info.duration_s - 7) <= 0.5


@needs_ffmpeg
@pytest.mark.parametrize(
    ("ratio", "source", "expected"),
    [
        ("21:9", "16:9", 21 / 9),
        ("4:3", "16:9", 4 / 3),
        ("3:4", "9:16", 3 / 4),
        ("3:4", "1:1", 3 / 4),
    ],
)
def test_crop_to_ratio_centre_crops_to_even_dimensions(
    tmp_path: Path, ratio: str, source: str, expected: float
) -> None:
    (src,) = segments(tmp_path, [(3, source)])
    out = crop_to_ratio(src, tmp_path / "cropped.mp4", ratio)
    info = probe_video(out)
    assert abs(info.width / info.height - expected) / expected <= 0.02
    assert info.width % 2 == 0 and info.height % 2 == 0
    assert abs(info.duration_s - 3) <= 0.5


def test_crop_size_is_even_and_close_for_real_sizes() -> None:
    for w, h in [(1920, 1080), (1080, 1920), (3840, 2160), (1280, 720), (96, 96), (128, 72)]:
        for ratio, value in [("21:9", 21 / 9), ("4:3", 4 / 3), ("3:4", 3 / 4)]:
            cw, ch = crop_size(w, h, ratio)
            assert cw % 2 == 0 and ch % 2 == 0 and cw <= w and ch <= h
            assert abs(cw / ch - value) / value <= 0.01, (w, h, ratio, cw, ch)
    assert crop_size(1920, 1080, "21:9") == (1918, 822)


@needs_ffmpeg
def test_finish_stitches_crops_and_verifies(tmp_path: Path) -> None:
    segs = segments(tmp_path, [(14, "16:9"), (13, "16:9"), (13, "16:9")])
    done = finish(
        segs, asked_ratio="21:9", expected_duration=40, out_dir=tmp_path / "final", name="clip"
    )
    assert done.path == (tmp_path / "final" / "clip.mp4").resolve()
    assert done.stitched and done.cropped and done.stitch_method == "copy"
    assert (
        abs(done.width / done.height - 21 / 9) / (21 / 9) <= 0.02
        and abs(done.duration_s - 40) <= 0.5
    )
    assert all(p.exists() for p in segs)
    assert listing(tmp_path / "final") == ["clip.mp4"]
    again = finish(
        segs, asked_ratio="16:9", expected_duration=40, out_dir=tmp_path / "final", name="clip"
    )
    assert again.path.name == "clip-1.mp4" and not again.cropped  # never overwrites


def test_finish_with_one_native_segment_needs_no_ffmpeg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (seg,) = segments(tmp_path, [(5, "9:16")])
    monkeypatch.setattr(ffmpeg, "find_ffmpeg", lambda: None)
    done = finish([seg], asked_ratio="9:16", expected_duration=5, out_dir=tmp_path / "o", name="v")
    assert done.path == seg and not (done.stitched or done.cropped)
    with pytest.raises(ConfigError) as info:
        finish(
            [seg, seg], asked_ratio="9:16", expected_duration=10, out_dir=tmp_path / "o", name="v"
        )
    assert info.value.code == "ffmpeg_missing" and "kling3-skill[video]" in info.value.message
    assert not ffmpeg.video_tools_available()


@needs_ffmpeg
def test_verification_failure_raises_and_leaves_nothing_under_the_final_name(
    tmp_path: Path,
) -> None:
    segs = segments(tmp_path, [(5, "16:9"), (5, "16:9")])
    out_dir = tmp_path / "final"
    with pytest.raises(VideoError) as info:
        finish(segs, asked_ratio="16:9", expected_duration=15, out_dir=out_dir, name="clip")
    err = info.value
    assert err.code == "video_verify_failed" and err.exit_code == 1
    assert "10.00 s, expected 15 s" in err.message
    assert err.to_dict()["segments"] == [str(p) for p in segs]
    assert listing(out_dir) == []  # no final file, no temporaries
    assert all(p.exists() for p in segs)
    with pytest.raises(VideoError) as ratio:
        finish(segs[:1], asked_ratio="1:1", expected_duration=5, out_dir=out_dir, name="clip")
    assert ratio.value.code == "video_verify_failed" and "expected 1:1" in ratio.value.message


@needs_ffmpeg
def test_ffmpeg_failure_is_summarised_and_leaves_no_partial_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 1000)
    (good,) = segments(tmp_path, [(3, "16:9")])
    with pytest.raises(VideoError) as info:
        stitch([good, bad], tmp_path / "out" / "joined.mp4")
    assert info.value.code in ("video_unreadable", "ffmpeg_failed")
    assert not (tmp_path / "out").exists() or listing(tmp_path / "out") == []
