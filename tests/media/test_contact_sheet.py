"""Contact sheets: six frames, the first and the last among them, small enough for a model; and a
run that cannot make one (no ffmpeg) says so once and still delivers the video."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from imagehelp import decode

from skill.errors import ConfigError, VideoError
from skill.execution.client import RunComfyClient
from skill.execution.flow import fetch, run
from skill.media import ffmpeg
from skill.media.contact_sheet import (
    MAX_SHEET_BYTES,
    SHEET_UNAVAILABLE,
    make_contact_sheet,
    sheet_path,
)
from skill.testing.emulator import Emulator
from skill.testing.mp4writer import DEFAULT_COLOR, write_mp4

FFMPEG = ffmpeg.find_ffmpeg()
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="no ffmpeg: install kling3-skill[video]")
TEXT = "a quick vertical draft of a barista pulling espresso, 6 seconds"


def lavfi_video(out: Path, *colours: tuple[str, int], size: str = "320x180", fps: int = 24) -> Path:
    """An H.264 MP4 of solid colours, each for the given number of frames, in order."""
    assert FFMPEG is not None
    inputs: list[str] = []
    for colour, frames in colours:
        inputs += ["-f", "lavfi", "-i", f"color={colour}:s={size}:r={fps}:d={frames / fps}"]
    joined = "".join(f"[{n}:v]" for n in range(len(colours))) + f"concat=n={len(colours)}:v=1[v]"
    subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-y", *inputs, "-filter_complex", joined, "-map", "[v]",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(out)], check=True, timeout=60)
    return out


def close(rgb: tuple[int, int, int], want: tuple[int, int, int], tol: int = 40) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(rgb, want, strict=True))


@needs_ffmpeg
def test_the_sheet_shows_the_first_and_the_last_frame_in_a_small_jpeg(tmp_path: Path) -> None:
    # One red first frame, one blue last frame, green in between: only a sheet that really takes
    # the first and the last frame shows red top-left and blue bottom-right.
    video = lavfi_video(tmp_path / "clip.mp4", ("red", 1), ("green", 70), ("blue", 1))
    sheet = make_contact_sheet(video)
    assert sheet.path == tmp_path / "clip.contact.jpg" == sheet_path(video)
    data = sheet.path.read_bytes()
    assert data[:2] == b"\xff\xd8" and sheet.size == len(data) < MAX_SHEET_BYTES and sheet.frames == 6
    img = decode(sheet.path)
    assert (img.width, img.height) == (sheet.width, sheet.height) and img.width > img.height
    cell_w, cell_h = img.width // 3, img.height // 2
    assert close(img.pixel(cell_w // 2, cell_h // 2), (255, 0, 0))
    assert close(img.pixel(img.width - cell_w // 2, img.height - cell_h // 2), (0, 0, 255))
    assert close(img.pixel(cell_w + cell_w // 2, cell_h // 2), (0, 128, 0))
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@needs_ffmpeg
def test_a_full_hd_clip_stays_under_the_cap_and_a_tight_cap_gets_a_smaller_grid(tmp_path: Path) -> None:
    assert FFMPEG is not None
    video = tmp_path / "hd.mp4"
    subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=1920x1080:d=2:r=24",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(video)],
                   check=True, timeout=120)
    big = make_contact_sheet(video)
    assert big.size < MAX_SHEET_BYTES and decode(big.path).width == big.width
    small = make_contact_sheet(video, tmp_path / "small.jpg", max_bytes=big.size - 1)
    assert small.size <= big.size - 1 and small.width < big.width
    with pytest.raises(VideoError) as info:
        make_contact_sheet(video, tmp_path / "none.jpg", max_bytes=100)
    assert info.value.code == "video_write_failed" and not (tmp_path / "none.jpg").exists()


@needs_ffmpeg
def test_a_portrait_clip_and_a_clip_shorter_than_six_frames(tmp_path: Path) -> None:
    tall = make_contact_sheet(write_mp4(tmp_path / "tall.mp4", 5, "9:16"))
    assert tall.frames == 6 and tall.height > tall.width
    img = decode(tall.path)
    assert close(img.pixel(img.width // 2, img.height // 4), DEFAULT_COLOR)
    short = make_contact_sheet(write_mp4(tmp_path / "short.mp4", 0.375, "1:1", fps=8))  # 3 frames
    assert short.frames == 3


def test_a_file_that_is_not_a_video_is_a_video_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises((VideoError, ConfigError)):
        make_contact_sheet(bad)
    assert not sheet_path(bad).exists()


# -- in a run --------------------------------------------------------------------------------------


@pytest.fixture
def no_ffmpeg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A machine without ffmpeg: none on PATH, and the [video] extra pointed at a missing binary."""
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not (Path(d) / "ffmpeg").exists()]
    monkeypatch.setenv("PATH", os.pathsep.join(dirs))
    monkeypatch.setenv("IMAGEIO_FFMPEG_EXE", str(tmp_path / "no-ffmpeg-here"))
    ffmpeg.find_ffmpeg.cache_clear()
    yield
    ffmpeg.find_ffmpeg.cache_clear()


@needs_ffmpeg
def test_a_run_writes_the_sheet_beside_each_saved_video(
    emulator: Emulator, home: Path, tmp_path: Path, api_client: Callable[..., RunComfyClient]
) -> None:
    with api_client(emulator) as client:
        res = run(TEXT, output_dir=tmp_path / "out", poll_interval=0.02, client=client)
        (info,) = res.calls[0].files
        assert info.contact_sheet == str(sheet_path(info.path)) and Path(info.contact_sheet).is_file()
        assert not any(w.startswith("contact_sheet") for w in res.warnings)
        again = fetch(res.request_id or "", client=client)
    assert again.files[0].contact_sheet is not None and Path(again.files[0].contact_sheet).is_file()
    assert decode(Path(info.contact_sheet)).height > decode(Path(info.contact_sheet)).width  # 9:16


@needs_ffmpeg
def test_a_stitched_film_gets_a_sheet_of_the_finished_video(
    emulator: Emulator, home: Path, tmp_path: Path, api_client: Callable[..., RunComfyClient]
) -> None:
    with api_client(emulator) as client:
        res = run("a 20 second film of a kite over the sea", output_dir=tmp_path / "out", poll_interval=0.02,
                  client=client)
    assert res.video is not None and len(res.calls) == 2
    assert res.video["contact_sheet"] == str(sheet_path(res.video["path"]))
    assert Path(res.video["contact_sheet"]).is_file()


def test_without_ffmpeg_the_run_delivers_and_says_so_once(
    no_ffmpeg: None, emulator: Emulator, home: Path, tmp_path: Path, api_client: Callable[..., RunComfyClient]
) -> None:
    assert ffmpeg.find_ffmpeg() is None
    with api_client(emulator) as client:
        res = run("a 20 second film of a kite over the sea", output_dir=tmp_path / "out", poll_interval=0.02,
                  client=client)
    assert res.status == "completed" and len(res.segment_files) == 2
    assert all(Path(f).is_file() for f in res.segment_files)
    notes = [w for w in res.warnings if w.startswith(SHEET_UNAVAILABLE)]
    assert len(notes) == 1 and "kling3-skill[video]" in notes[0]
    assert not list((tmp_path / "out").glob("*.contact.jpg"))
    assert all(f.contact_sheet is None for c in res.calls for f in c.files)


@needs_ffmpeg
def test_the_sheet_is_one_ffmpeg_run_with_single_threaded_decoders(tmp_path: Path) -> None:
    """Six one-frame decodes gain nothing from thread pools (starting them was a quarter of the
    sheet's CPU): the one ffmpeg run asks for one thread per input and per filter graph."""
    assert FFMPEG is not None
    video = lavfi_video(tmp_path / "clip.mp4", ("red", 12), ("blue", 12))
    log, tools = tmp_path / "ffmpeg.log", tmp_path / "bin"
    tools.mkdir()
    wrapper = tools / "ffmpeg"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{FFMPEG}" "$@"\n')
    wrapper.chmod(0o755)
    code = "import sys; from skill.media.contact_sheet import make_contact_sheet; make_contact_sheet(sys.argv[1])"
    env = {**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run([sys.executable, "-c", code, str(video)], env=env, check=True, timeout=120)
    (line,) = [x for x in log.read_text().splitlines() if "-filter_complex " in x]
    assert line.count("-threads 1 -ss ") == line.count(" -i ") == 6
    assert "-filter_threads 1" in line and "-filter_complex_threads 1" in line
    assert sheet_path(video).stat().st_size > 0
