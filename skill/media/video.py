"""Local finishing of a plan's videos with ffmpeg: stitch segments, crop to a non-native ratio.

Kling 3.0 caps a call at 15 s and renders only 16:9, 9:16 and 1:1, so a 40 s or 21:9 request
comes back as several native clips. :func:`finish` turns them into the one video that was
asked for, then *verifies* it (duration and aspect ratio) before giving it its final name.

Rules every function here keeps:

- ffmpeg is optional (the ``[video]`` extra brings one through imageio-ffmpeg); finding it is
  :mod:`skill.media.ffmpeg`'s job. Nothing fails at import; the planner warns up front, and only
  a call that really needs ffmpeg raises ``ConfigError(code="ffmpeg_missing")``.
- The paid segments are never modified, moved or deleted, whatever happens.
- Output is written to a hidden temporary file in the destination directory and renamed into
  place, so a crash, a Ctrl-C or a failed check never leaves a partial file under a final name.
- ffmpeg runs with list arguments (no shell), ``-nostdin``, ``-v error`` (``-v info`` only to
  probe a file that the pure-Python reader cannot read), and a timeout; its stderr is captured
  and summarised in the error.

Errors: ffmpeg failures and failed checks raise :class:`~skill.errors.VideoError` (exit code 1;
defined with the rest of the tree in :mod:`skill.errors`, re-exported here) with ``code``
``ffmpeg_failed``, ``ffmpeg_timeout``, ``video_unreadable``, ``video_write_failed`` or
``video_verify_failed``; ``details["segments"]`` lists the kept segment files. No ffmpeg, when
one is needed: ``ConfigError(code="ffmpeg_missing")`` (exit 78).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from skill.errors import ConfigError, InputError, Mp4Error, VideoError
from skill.fsutil import fsync_dir
from skill.media import ffmpeg
from skill.media.mp4probe import child_box, child_boxes, probe_mp4, top_level_boxes

__all__ = [
    "CROP_RATIOS",
    "DURATION_TOLERANCE_S",
    "NATIVE_RATIOS",
    "RATIO_TOLERANCE",
    "FinishedVideo",
    "VideoInfo",
    "crop_size",
    "crop_to_ratio",
    "finish",
    "needs_finishing",
    "probe_video",
    "run_ffmpeg",
    "stitch",
    "stitch_method",
]

NATIVE_RATIOS: tuple[str, ...] = ("16:9", "9:16", "1:1")
"""What Kling 3.0 renders; anything else is cropped locally from the plan's render ratio."""
CROP_RATIOS: tuple[str, ...] = ("4:3", "3:4", "21:9", *NATIVE_RATIOS)
DURATION_TOLERANCE_S = 0.5
RATIO_TOLERANCE = 0.02

_PROBE_TIMEOUT_S = 60.0
_ENCODE = ("-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p")
_AUDIO_RATE = 48000
_FOURCC = {
    "avc1": "h264", "avc3": "h264", "hvc1": "hevc", "hev1": "hevc", "av01": "av1",
    "vp09": "vp9", "mp4v": "mpeg4",
}  # fmt: skip


@dataclass(frozen=True)
class VideoInfo:
    """What one video file is: size, length, codec (ffmpeg's name, e.g. ``h264``), audio."""

    width: int
    height: int
    duration_s: float
    codec: str
    fps: float | None = None
    has_audio: bool | None = None
    signature: str | None = None
    """Digest of the sample descriptions (SPS/PPS, audio config): equal means stream-copyable."""


@dataclass(frozen=True)
class FinishedVideo:
    """The verified result of :func:`finish`."""

    path: Path
    width: int
    height: int
    duration_s: float
    stitched: bool
    cropped: bool
    stitch_method: Literal["copy", "reencode"] | None = None
    segments: tuple[Path, ...] = ()

    def to_json_dict(self) -> dict[str, object]:
        return {
            "path": str(self.path), "width": self.width, "height": self.height,
            "duration_s": self.duration_s, "stitched": self.stitched, "cropped": self.cropped,
            "stitch_method": self.stitch_method, "segments": [str(p) for p in self.segments],
        }  # fmt: skip


# -- running ffmpeg -----------------------------------------------------------------------------


def _summary(stderr: bytes, limit: int = 600) -> str:
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    text = " | ".join(lines[-6:]) or "(no message)"
    return text if len(text) <= limit else "..." + text[-limit:]


def run_ffmpeg(
    args: Sequence[str],
    *,
    what: str,
    timeout: float,
    segments: Sequence[Path] = (),
    level: str = "error",
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run ffmpeg (list args, no shell, no stdin); raise :class:`VideoError` on failure.

    Public so that the other ffmpeg work of :mod:`skill.media` (the contact sheets) runs it the
    same way: ``-nostdin``, a timeout, and stderr summarised in the error.
    """
    exe = ffmpeg.require_ffmpeg(segments)
    cmd = [exe, "-nostdin", "-hide_banner", "-v", level, *args]
    kept = {"segments": [str(p) for p in segments]}
    try:
        proc = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise VideoError(
            f"ffmpeg took longer than {timeout:g} s to {what} and was stopped: "
            f"{_summary(exc.stderr or b'')}",
            code="ffmpeg_timeout",
            details=kept,
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot run ffmpeg at {exe}: {exc.strerror or exc}",
            code="ffmpeg_unusable",
            details=kept,
        ) from None
    if check and proc.returncode != 0:
        raise VideoError(
            f"ffmpeg could not {what} (exit {proc.returncode}): {_summary(proc.stderr)}",
            code="ffmpeg_failed",
            details={**kept, "returncode": proc.returncode},
        )
    return proc


def _encode_timeout(seconds: float) -> float:
    """Generous: a 2-minute 4K re-encode on a slow machine, never forever."""
    return 120.0 + 15.0 * max(seconds, 1.0)


# -- probing ------------------------------------------------------------------------------------


def _tracks(path: Path) -> tuple[bytes | None, bytes | None]:
    """The stsd payloads of the first video and first audio track (pure Python)."""
    with open(path, "rb") as fh:
        moov = top_level_boxes(fh, os.fstat(fh.fileno()).st_size).get(b"moov")
    video = audio = None
    for kind, trak in child_boxes(moov or b""):
        if kind != b"trak":
            continue
        mdia = child_box(trak, b"mdia")
        hdlr = child_box(mdia, b"hdlr") if mdia is not None else None
        minf = child_box(mdia, b"minf") if mdia is not None else None
        stbl = child_box(minf, b"stbl") if minf is not None else None
        stsd = child_box(stbl, b"stsd") if stbl is not None else None
        if hdlr is None or stsd is None:
            continue
        handler = hdlr[8:12]
        if handler == b"vide" and video is None:
            video = stsd
        elif handler == b"soun" and audio is None:
            audio = stsd
    return video, audio


def _probe_pure(path: Path) -> VideoInfo:
    info = probe_mp4(path)
    video, audio = _tracks(path)
    digest = hashlib.sha256()
    for part in (video or b"", b"|", audio or b""):
        digest.update(part)
    fps = info.frames / info.duration_s if info.duration_s > 0 and info.frames else None
    return VideoInfo(
        width=info.width,
        height=info.height,
        duration_s=info.duration_s,
        codec=_FOURCC.get(info.codec, info.codec.strip().lower() or "unknown"),
        fps=None if fps is None else round(fps, 3),
        has_audio=audio is not None,
        signature=digest.hexdigest() if video is not None else None,
    )


_DURATION_RE = re.compile(r"Duration:\s*(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")
_VIDEO_RE = re.compile(r"Stream #\S+.*?: Video: (\w+).*?[, ](\d{2,5})x(\d{2,5})[ ,\[]")
_FPS_RE = re.compile(r"([\d.]+) fps")


def _probe_ffmpeg(path: Path) -> VideoInfo:
    # `ffmpeg -i FILE` with no output exits 1 after printing the stream list: expected here.
    proc = run_ffmpeg(
        ["-i", str(path)],
        what=f"read {path.name}",
        timeout=_PROBE_TIMEOUT_S,
        level="info",
        check=False,
    )
    text = proc.stderr.decode("utf-8", "replace")
    video = _VIDEO_RE.search(text)
    duration = _DURATION_RE.search(text)
    if video is None or duration is None:
        raise VideoError(
            f"{path} is not a readable video: {_summary(proc.stderr)}",
            code="video_unreadable",
            details={"path": str(path)},
        )
    h, m, s = duration.groups()
    line = text[video.start() : text.find("\n", video.start())]
    fps = _FPS_RE.search(line)
    return VideoInfo(
        width=int(video.group(2)),
        height=int(video.group(3)),
        duration_s=int(h) * 3600 + int(m) * 60 + float(s),
        codec=video.group(1).lower(),
        fps=float(fps.group(1)) if fps else None,
        has_audio=re.search(r"Stream #\S+.*?: Audio: ", text) is not None,
    )


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Size, duration and codec of a video: pure Python for MP4, else ``ffmpeg -i``."""
    p = Path(path)
    if not p.is_file():
        raise VideoError(f"no video file at {p}", code="video_unreadable", details={"path": str(p)})
    try:
        return _probe_pure(p)
    except (Mp4Error, OSError):
        if ffmpeg.find_ffmpeg() is None:
            raise VideoError(
                f"{p} is not an MP4 this package can read, and there is no ffmpeg to try",
                code="video_unreadable",
                details={"path": str(p)},
            ) from None
        return _probe_ffmpeg(p)


# -- temp files and publishing --------------------------------------------------------------------


def _temp_path(directory: Path, stem: str, tag: str) -> Path:
    return directory / f".{stem}.{tag}-{secrets.token_hex(6)}.mp4"


@contextlib.contextmanager
def _cleanup(*paths: Path) -> Iterator[None]:
    """Remove the given temporaries on the way out, whatever happened (they are never results)."""
    try:
        yield
    finally:
        for p in paths:
            with contextlib.suppress(OSError):
                p.unlink()


@contextlib.contextmanager
def _os_errors(what: str, segments: Sequence[Path]) -> Iterator[None]:
    """A full disk or an unwritable directory becomes a :class:`VideoError`, segments kept."""
    try:
        yield
    except OSError as exc:
        raise VideoError(
            f"cannot {what}: {exc.strerror or exc} ({exc.filename or ''})",
            code="video_write_failed",
            details={"segments": [str(p) for p in segments]},
        ) from None


def _publish_free(tmp: Path, directory: Path, name: str) -> Path:
    """Give ``tmp`` the first free name among ``name``, ``name-1``...; never replace a file."""
    stem = name[:-4] if name.lower().endswith(".mp4") else name
    for n in range(10000):
        final = directory / (f"{stem}.mp4" if n == 0 else f"{stem}-{n}.mp4")
        try:
            os.link(tmp, final)
        except FileExistsError:
            continue
        except OSError:  # no hard links here: claim the name, then replace the placeholder
            try:
                fd = os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                continue
            os.close(fd)
            os.replace(tmp, final)
        else:
            tmp.unlink()
        fsync_dir(directory)
        return final
    raise VideoError(f"no free file name for {stem}.mp4 in {directory}", code="video_write_failed")


# -- stitching -----------------------------------------------------------------------------------


def stitch_method(infos: Sequence[VideoInfo]) -> Literal["copy", "reencode"]:
    """``copy`` when every segment has the same codec, size, audio and stream configuration."""
    first = infos[0]
    same = all(
        i.codec == first.codec
        and (i.width, i.height) == (first.width, first.height)
        and i.has_audio == first.has_audio
        and i.signature is not None
        and i.signature == first.signature
        for i in infos
    )
    return "copy" if same else "reencode"


def _concat_line(path: Path) -> str:
    text = str(path.resolve())
    if "\n" in text or "\r" in text:
        raise InputError(
            f"cannot stitch a file whose path has a line break: {text!r}",
            code="invalid_input",
            field="paths",
        )
    return "file '" + text.replace("'", "'\\''") + "'\n"


def _stitch_copy(paths: Sequence[Path], tmp: Path, total: float) -> None:
    listing = tmp.with_name(tmp.name[:-4] + ".txt")
    with _cleanup(listing):
        listing.write_text("".join(_concat_line(p) for p in paths), encoding="utf-8")
        run_ffmpeg(
            [
                "-y",
                "-f",
                "concat",
                "-safe",
                "0",
                "-i",
                str(listing),
                "-map",
                "0:v:0",
                "-map",
                "0:a:0?",
                "-c",
                "copy",
                "-movflags",
                "+faststart",
                "-f",
                "mp4",
                str(tmp),
            ],
            what=f"join {len(paths)} segments",
            timeout=_encode_timeout(total / 10),
            segments=paths,
        )


def _even(n: float) -> int:
    return max(2, int(n) // 2 * 2)


def _reencode(
    paths: Sequence[Path], infos: Sequence[VideoInfo], tmp: Path, crop: tuple[int, int] | None
) -> None:
    """Concatenate with the concat filter (scaled/padded to the first segment), optionally crop."""
    first = infos[0]
    width, height = _even(first.width), _even(first.height)
    fps = f",fps={first.fps:g}" if first.fps else ""
    audio = any(i.has_audio for i in infos)
    args: list[str] = ["-y"]
    for p in paths:
        args += ["-i", str(p)]
    chains, labels = [], []
    for n, info in enumerate(infos):
        chains.append(
            f"[{n}:v:0]scale={width}:{height}:force_original_aspect_ratio=decrease,"
            f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1{fps},format=yuv420p[v{n}]"
        )
        labels.append(f"[v{n}]")
        if audio:
            if info.has_audio:
                src = f"[{n}:a:0]aresample={_AUDIO_RATE}"
            else:
                src = f"anullsrc=r={_AUDIO_RATE}:cl=stereo,atrim=duration={info.duration_s:.3f}"
            chains.append(f"{src},aformat=sample_fmts=fltp:channel_layouts=stereo[a{n}]")
            labels.append(f"[a{n}]")
    chains.append(
        f"{''.join(labels)}concat=n={len(paths)}:v=1:a={int(audio)}[vc]" + ("[ac]" if audio else "")
    )
    out_v = "[vc]"
    if crop is not None:
        cw, ch = crop
        chains.append(
            f"[vc]crop={cw}:{ch}:{(width - cw) // 4 * 2}:{(height - ch) // 4 * 2},setsar=1[vout]"
        )
        out_v = "[vout]"
    args += ["-filter_complex", ";".join(chains), "-map", out_v]
    if audio:
        args += ["-map", "[ac]", "-c:a", "aac", "-b:a", "192k"]
    args += [*_ENCODE, "-movflags", "+faststart", "-f", "mp4", str(tmp)]
    total = sum(i.duration_s for i in infos)
    what = f"re-encode {len(paths)} segments" if len(paths) > 1 else "re-encode the video"
    run_ffmpeg(args, what=what, timeout=_encode_timeout(total), segments=paths)


def _check_inputs(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    if not paths:
        raise InputError("no video files given", code="no_segments", field="paths")
    out = [Path(p) for p in paths]
    missing = [str(p) for p in out if not p.is_file()]
    if missing:
        raise VideoError(
            f"missing video file(s): {', '.join(missing)}",
            code="video_unreadable",
            details={"segments": [str(p) for p in out]},
        )
    return out


def _stitch_into(
    paths: list[Path], infos: list[VideoInfo], tmp: Path, crop: tuple[int, int] | None = None
) -> Literal["copy", "reencode"]:
    method = stitch_method(infos) if crop is None else "reencode"
    if method == "copy":
        _stitch_copy(paths, tmp, sum(i.duration_s for i in infos))
    else:
        _reencode(paths, infos, tmp, crop)
    return method


def stitch(paths: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str]) -> Path:
    """Join segments, in order, into one MP4 at ``out`` (replaced if it exists).

    Stream copy when all segments share codec, size, audio and stream configuration (see
    :func:`stitch_method`); otherwise re-encode (libx264, yuv420p), scaling and padding to the
    first segment's size. Written to a temporary file next to ``out``, checked, then renamed.
    """
    segs = _check_inputs(paths)
    dest = Path(out)
    tmp = _temp_path(dest.parent, dest.stem, "stitch")
    with _os_errors(f"write {dest}", segs), _cleanup(tmp):
        dest.parent.mkdir(parents=True, exist_ok=True)
        if len(segs) == 1:
            shutil.copyfile(segs[0], tmp)
        else:
            infos = [probe_video(p) for p in segs]
            ffmpeg.require_ffmpeg(segs)
            _stitch_into(segs, infos, tmp)
            probe_video(tmp)
        os.replace(tmp, dest)
    fsync_dir(dest.parent)
    return dest


# -- cropping ------------------------------------------------------------------------------------


def _ratio_value(ratio: str) -> float:
    try:
        a, b = (float(x) for x in ratio.split(":"))
    except ValueError:
        a = b = math.nan
    if not (math.isfinite(a) and math.isfinite(b) and a > 0 and b > 0):
        raise InputError(
            f"aspect ratio {ratio!r} is not W:H, e.g. 21:9",
            code="bad_aspect_ratio",
            field="aspect_ratio",
        )
    return a / b


def crop_size(width: int, height: int, ratio: str) -> tuple[int, int]:
    """The largest centred crop of even dimensions whose ratio is within 1% of ``ratio``."""
    target = _ratio_value(ratio)
    max_w, max_h = _even(width), _even(height)
    start_h = max_h if max_w / max_h > target else _even(max_w / target)  # too wide: keep h
    best: tuple[float, int, int] | None = None
    h = start_h
    while h >= max(2, start_h // 2):
        w = min(max_w, max(2, round(h * target / 2) * 2))
        err = abs(w / h - target) / target
        if err <= 0.01:
            return w, h
        if best is None or err < best[0]:
            best = (err, w, h)
        h -= 2
    assert best is not None
    return best[1], best[2]


def crop_to_ratio(src: str | os.PathLike[str], out: str | os.PathLike[str], ratio: str) -> Path:
    """Centre-crop ``src`` to ``ratio`` (e.g. 4:3, 3:4, 21:9), re-encoding; audio is copied."""
    if ratio not in CROP_RATIOS:
        raise InputError(
            f"cannot crop to {ratio!r}; allowed: {', '.join(CROP_RATIOS)}",
            code="bad_aspect_ratio",
            field="aspect_ratio",
        )
    (source,) = _check_inputs([src])
    dest = Path(out)
    info = probe_video(source)
    tmp = _temp_path(dest.parent, dest.stem, "crop")
    with _os_errors(f"write {dest}", [source]), _cleanup(tmp):
        dest.parent.mkdir(parents=True, exist_ok=True)
        _crop_into(source, info, tmp, ratio)
        probe_video(tmp)
        os.replace(tmp, dest)
    fsync_dir(dest.parent)
    return dest


def _crop_into(source: Path, info: VideoInfo, tmp: Path, ratio: str) -> None:
    cw, ch = crop_size(info.width, info.height, ratio)
    x, y = (info.width - cw) // 4 * 2, (info.height - ch) // 4 * 2
    run_ffmpeg(
        [
            "-y",
            "-i",
            str(source),
            "-map",
            "0:v:0",
            "-map",
            "0:a:0?",
            "-vf",
            f"crop={cw}:{ch}:{x}:{y},setsar=1",
            *_ENCODE,
            "-c:a",
            "copy",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
            str(tmp),
        ],
        what=f"crop {source.name} to {ratio}",
        timeout=_encode_timeout(info.duration_s),
        segments=[source],
    )


# -- finishing -----------------------------------------------------------------------------------


def needs_finishing(segments: int, asked_ratio: str) -> bool:
    """Whether a plan's output needs local work: several segments, or a non-native ratio."""
    return segments > 1 or asked_ratio not in NATIVE_RATIOS


def _verify(
    path: Path,
    info: VideoInfo,
    asked_ratio: str,
    expected: float,
    segs: Sequence[Path],
    duration_tol: float,
    ratio_tol: float,
) -> None:
    target = _ratio_value(asked_ratio)
    got = info.width / info.height if info.height else math.inf
    problems = []
    if abs(info.duration_s - expected) > duration_tol:
        problems.append(
            f"it lasts {info.duration_s:.2f} s, expected {expected:g} s (± {duration_tol:g} s)"
        )
    if abs(got - target) / target > ratio_tol:
        problems.append(
            f"it is {info.width}x{info.height} (ratio {got:.3f}), expected {asked_ratio} "
            f"({target:.3f} ± {ratio_tol:.0%})"
        )
    if problems:
        raise VideoError(
            "the finished video failed its check: "
            + "; ".join(problems)
            + f". The segments are kept: {', '.join(str(p) for p in segs)}",
            code="video_verify_failed",
            details={
                "segments": [str(p) for p in segs],
                "width": info.width,
                "height": info.height,
                "duration_s": info.duration_s,
                "expected_duration_s": expected,
                "asked_ratio": asked_ratio,
            },
        )


def _render(
    segs: list[Path], asked_ratio: str, stitched: Path, cropped: Path
) -> tuple[Path, Literal["copy", "reencode"] | None]:
    """Stitch several segments and/or crop to a non-native ratio, into the temporary files.

    Returns the temporary that holds the result and the stitch method (None: nothing stitched).
    Only for :func:`finish`, once it knows there is work to do and that ffmpeg is there.
    """
    infos = [probe_video(p) for p in segs]
    need_crop = asked_ratio not in NATIVE_RATIOS
    if len(segs) == 1:
        _crop_into(segs[0], infos[0], cropped, asked_ratio)
        return cropped, None
    copyable = stitch_method(infos) == "copy"
    # One encode, not two: a stitch that must re-encode applies the crop in the same pass.
    crop = (
        crop_size(_even(infos[0].width), _even(infos[0].height), asked_ratio)
        if need_crop and not copyable
        else None
    )
    method = _stitch_into(segs, infos, stitched, crop)
    if need_crop and crop is None:
        _crop_into(stitched, probe_video(stitched), cropped, asked_ratio)
        return cropped, method
    return stitched, method


def finish(
    paths: Sequence[str | os.PathLike[str]],
    *,
    asked_ratio: str,
    expected_duration: float,
    out_dir: str | os.PathLike[str],
    name: str,
    duration_tolerance_s: float = DURATION_TOLERANCE_S,
    ratio_tolerance: float = RATIO_TOLERANCE,
) -> FinishedVideo:
    """Stitch (several paths) and crop (non-native ``asked_ratio``), then verify and publish.

    The result is ``out_dir/name.mp4`` (``name-1.mp4``... if taken; never overwritten). With
    one segment at a native ratio there is nothing to do: the segment itself is verified and
    returned (no copy), and no ffmpeg is needed. The segments are always kept.

    Raises ``ConfigError(code="ffmpeg_missing")`` when work is needed and there is no ffmpeg,
    ``VideoError(code="video_verify_failed")`` when the result's duration is not within
    ``duration_tolerance_s`` of ``expected_duration`` or its ratio not within
    ``ratio_tolerance`` of ``asked_ratio`` (nothing is left under the final name), and
    ``VideoError`` with ``ffmpeg_failed`` / ``ffmpeg_timeout`` / ``video_unreadable`` /
    ``video_write_failed`` otherwise.
    """
    segs = _check_inputs(paths)
    _ratio_value(asked_ratio)
    need_stitch = len(segs) > 1
    need_crop = asked_ratio not in NATIVE_RATIOS
    if not (need_stitch or need_crop):
        info = probe_video(segs[0])
        _verify(
            segs[0],
            info,
            asked_ratio,
            expected_duration,
            segs,
            duration_tolerance_s,
            ratio_tolerance,
        )
        return FinishedVideo(
            segs[0], info.width, info.height, info.duration_s, False, False, None, tuple(segs)
        )
    if need_crop and asked_ratio not in CROP_RATIOS:
        raise InputError(
            f"cannot crop to {asked_ratio!r}; allowed: {', '.join(CROP_RATIOS)}",
            code="bad_aspect_ratio",
            field="aspect_ratio",
        )
    ffmpeg.require_ffmpeg(segs)
    directory = Path(out_dir)
    stem = Path(name).name.removesuffix(".mp4") or "video"
    stitched = _temp_path(directory, stem, "stitch")
    cropped = _temp_path(directory, stem, "crop")
    with _os_errors(f"write the video in {directory}", segs), _cleanup(stitched, cropped):
        directory.mkdir(parents=True, exist_ok=True)
        result, method = _render(segs, asked_ratio, stitched, cropped)
        info = probe_video(result)
        _verify(
            result,
            info,
            asked_ratio,
            expected_duration,
            segs,
            duration_tolerance_s,
            ratio_tolerance,
        )
        final = _publish_free(result, directory, stem)
    return FinishedVideo(
        final.resolve(),
        info.width,
        info.height,
        info.duration_s,
        need_stitch,
        need_crop,
        method,
        tuple(segs),
    )
