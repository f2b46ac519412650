"""A small ISO BMFF (MP4) reader: is this file a complete MP4 with a video track, and what is it?

:func:`probe_mp4` confirms a file is an MP4 with a video track and reports its size, duration,
frame count and codec. It refuses a file whose boxes run past its end, which is what a truncated
download looks like, so :mod:`skill.execution.downloads` runs it on every file before giving it
its final name. Only the ftyp and moov boxes are read, so probing a large file is cheap.

The box walkers it is built from are public too, because :mod:`skill.media.video` reads the
sample descriptions with them (to tell whether segments can be joined by stream copy):
:func:`top_level_boxes` (the ftyp and moov payloads of a file), :func:`child_boxes` (the boxes
inside a payload) and :func:`child_box` (the first one of a kind). Every failure is an
:class:`~skill.errors.Mp4Error`.

The writer of the tiny MP4s the emulator serves is :mod:`skill.testing.mp4writer`.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from skill.errors import Mp4Error

__all__ = [
    "Mp4Error",
    "Mp4Info",
    "child_box",
    "child_boxes",
    "probe_mp4",
    "top_level_boxes",
]

_MAX_HEADER_BOX = 64 << 20  # ftyp/moov bigger than this are not worth reading in full


@dataclass(frozen=True)
class Mp4Info:
    """What :func:`probe_mp4` found: enough to check a download is the video that was asked."""

    width: int
    height: int
    duration_s: float
    frames: int
    brand: str
    codec: str = ""


# -- box walking --------------------------------------------------------------------------------------


def _read_exact(fh: BinaryIO, n: int) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise Mp4Error("file ends in the middle of a box")
    return data


def top_level_boxes(fh: BinaryIO, file_size: int) -> dict[bytes, bytes]:
    """Payloads of the ftyp and moov boxes; every box's extent is checked against the file size.

    ``file_size`` is the length of ``fh`` (``os.fstat(fh.fileno()).st_size``); a box that runs
    past it raises :class:`Mp4Error` ("truncated"), however large the media data in between.
    """
    found: dict[bytes, bytes] = {}
    pos = 0
    while pos < file_size:
        fh.seek(pos)
        if file_size - pos < 8:
            raise Mp4Error(f"{file_size - pos} stray bytes at the end of the file")
        size, kind = struct.unpack(">I4s", _read_exact(fh, 8))
        header = 8
        if size == 1:
            size = struct.unpack(">Q", _read_exact(fh, 8))[0]
            header = 16
        elif size == 0:
            size = file_size - pos
        if size < header:
            raise Mp4Error(f"box {kind!r} at offset {pos} has an impossible size {size}")
        if pos + size > file_size:
            raise Mp4Error(
                f"truncated: box {kind.decode('latin-1')!r} at offset {pos} needs {size} bytes, "
                f"only {file_size - pos} present"
            )
        if kind in (b"ftyp", b"moov") and kind not in found:
            if size > _MAX_HEADER_BOX:
                raise Mp4Error(f"box {kind!r} is implausibly large ({size} bytes)")
            found[kind] = _read_exact(fh, size - header)
        pos += size
    return found


def child_boxes(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """``(kind, payload)`` of each box inside a container payload; :class:`Mp4Error` if one overruns."""
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > len(data):
                raise Mp4Error("box header runs past its parent")
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = len(data) - pos
        if size < header or pos + size > len(data):
            raise Mp4Error(f"box {kind!r} runs past its parent")
        yield kind, data[pos + header : pos + size]
        pos += size


def child_box(data: bytes, kind: bytes) -> bytes | None:
    """The payload of the first ``kind`` box inside ``data`` (e.g. ``b"mdia"`` in a trak), or None."""
    return next((payload for k, payload in child_boxes(data) if k == kind), None)


# -- probing -------------------------------------------------------------------------------------


def _need(data: bytes | None, kind: str) -> bytes:
    if data is None:
        raise Mp4Error(f"no {kind} box")
    return data


def _timing(payload: bytes, kind: str) -> tuple[int, int]:
    """(timescale, duration) of an mvhd or mdhd payload, version 0 or 1."""
    try:
        if payload[0] == 1:
            timescale, duration = struct.unpack_from(">IQ", payload, 20)
        else:
            timescale, duration = struct.unpack_from(">II", payload, 12)
    except (struct.error, IndexError) as exc:
        raise Mp4Error(f"{kind} box is too short") from exc
    return int(timescale), int(duration)


def _video_track(moov: bytes) -> tuple[bytes, bytes]:
    for kind, trak in child_boxes(moov):
        if kind != b"trak":
            continue
        mdia = child_box(trak, b"mdia")
        hdlr = child_box(mdia, b"hdlr") if mdia is not None else None
        if mdia is not None and hdlr is not None and hdlr[8:12] == b"vide":
            return trak, mdia
    raise Mp4Error("no video track")


def probe_mp4(data_or_path: bytes | bytearray | memoryview | str | os.PathLike[str]) -> Mp4Info:
    """Read an MP4's major brand, video size, duration and frame count; :class:`Mp4Error` if invalid.

    Only the ftyp and moov boxes are read, so probing a large file is cheap; the media data is
    not decoded, but a file cut short anywhere is refused.
    """
    if isinstance(data_or_path, (bytes, bytearray, memoryview)):
        raw = bytes(data_or_path)
        boxes = top_level_boxes(io.BytesIO(raw), len(raw))
    else:
        with open(data_or_path, "rb") as fh:
            boxes = top_level_boxes(fh, os.fstat(fh.fileno()).st_size)
    ftyp = _need(boxes.get(b"ftyp"), "ftyp")
    moov = _need(boxes.get(b"moov"), "moov")
    if len(ftyp) < 8:
        raise Mp4Error("ftyp box is too short")
    brand = ftyp[:4].decode("latin-1")
    trak, mdia = _video_track(moov)
    tkhd = _need(child_box(trak, b"tkhd"), "tkhd")
    try:
        width, height = struct.unpack_from(">II", tkhd, len(tkhd) - 8)
    except struct.error as exc:
        raise Mp4Error("tkhd box is too short") from exc
    timescale, duration = _timing(_need(child_box(mdia, b"mdhd"), "mdhd"), "mdhd")
    if timescale == 0:
        timescale, duration = _timing(_need(child_box(moov, b"mvhd"), "mvhd"), "mvhd")
    if timescale == 0:
        raise Mp4Error("zero timescale")
    stbl = _need(child_box(_need(child_box(mdia, b"minf"), "minf"), b"stbl"), "stbl")
    stsz = _need(child_box(stbl, b"stsz"), "stsz")
    stsd = _need(child_box(stbl, b"stsd"), "stsd")
    if len(stsz) < 12 or len(stsd) < 16:
        raise Mp4Error("stsz or stsd box is too short")
    frames = struct.unpack_from(">I", stsz, 8)[0]
    codec = stsd[12:16].decode("latin-1")
    return Mp4Info(
        width=width >> 16,
        height=height >> 16,
        duration_s=duration / timescale,
        frames=int(frames),
        brand=brand,
        codec=codec,
    )
