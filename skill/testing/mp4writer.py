"""Tiny but real MP4 files in pure Python: the videos the RunComfy emulator serves.

The emulator (:mod:`skill.testing.emulator`, behind ``kling3 demo``, ``kling3 emulator`` and the
test suite) must hand out videos that a player, ``ffprobe`` and our own download check accept,
without ffmpeg on the machine. So this module writes an H.264 Baseline stream by hand: one IDR
frame of I_PCM macroblocks (raw samples of a solid colour, no transform or entropy coding to get
wrong) followed by P frames whose macroblocks are all skipped, in an ISO BMFF container with the
moov box first. Padding for "huge file" tests is a ``free`` box streamed as zeros, so a 256 MiB
file is never held in memory.

It lives in :mod:`skill.testing` (not :mod:`skill.media`) because only the test doubles write
MP4s; the package itself only reads them (:mod:`skill.media.mp4probe`, which checks what this
module writes). Bad arguments raise ``ValueError``.
"""

from __future__ import annotations

import functools
import math
import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEFAULT_COLOR",
    "RESOLUTIONS",
    "Mp4Stream",
    "iter_mp4_chunks",
    "make_mp4",
    "mp4_stream",
    "write_mp4",
]

RESOLUTIONS: dict[str, tuple[int, int]] = {
    "16:9": (128, 72),
    "9:16": (72, 128),
    "1:1": (96, 96),
}
"""Frame size (width, height) written for each aspect ratio: small, so files stay tiny."""

DEFAULT_COLOR = (40, 90, 160)
_CHUNK = 1 << 20
_LOG2_MAX_FRAME_NUM = 8
_MOVIE_TIMESCALE = 1000
_PROFILE_BASELINE = 66
_CONSTRAINT_FLAGS = 0xC0  # constraint_set0 + set1: constrained baseline (no FMO/ASO)
_LEVEL_IDC = 30


# -- H.264 bitstream -----------------------------------------------------------------------------


class _BitWriter:
    """MSB-first bit writer with the exp-Golomb codes H.264 headers are made of."""

    def __init__(self) -> None:
        self._out = bytearray()
        self._acc = 0
        self._nbits = 0

    def u(self, bits: int, value: int) -> None:
        if value < 0 or value >= 1 << bits:
            raise ValueError(f"{value} does not fit in {bits} bits")
        self._acc = (self._acc << bits) | value
        self._nbits += bits
        while self._nbits >= 8:
            self._nbits -= 8
            self._out.append((self._acc >> self._nbits) & 0xFF)
        self._acc &= (1 << self._nbits) - 1

    def ue(self, value: int) -> None:
        code = value + 1
        self.u(2 * code.bit_length() - 1, code)

    def se(self, value: int) -> None:
        self.ue(2 * value - 1 if value > 0 else -2 * value)

    def align_zero(self) -> None:
        if self._nbits:
            self.u(8 - self._nbits, 0)

    def raw(self, data: bytes) -> None:
        if self._nbits:
            raise ValueError("raw bytes need byte alignment")
        self._out += data

    def trailing_bits(self) -> None:
        self.u(1, 1)
        self.align_zero()

    def getvalue(self) -> bytes:
        if self._nbits:
            raise ValueError("bitstream is not byte aligned")
        return bytes(self._out)


_EMULATION = re.compile(b"\x00\x00(?=[\x00-\x03])")


def _nal(ref_idc: int, nal_type: int, rbsp: bytes) -> bytes:
    """A NAL unit: header byte plus the RBSP with emulation-prevention bytes inserted."""
    return bytes([(ref_idc << 5) | nal_type]) + _EMULATION.sub(b"\x00\x00\x03", rbsp)


def _sps(width: int, height: int) -> bytes:
    mbs_w, mbs_h = -(-width // 16), -(-height // 16)
    w = _BitWriter()
    w.u(8, _PROFILE_BASELINE)
    w.u(8, _CONSTRAINT_FLAGS)
    w.u(8, _LEVEL_IDC)
    w.ue(0)  # seq_parameter_set_id
    w.ue(_LOG2_MAX_FRAME_NUM - 4)
    w.ue(2)  # pic_order_cnt_type 2: output order is decode order, nothing to signal
    w.ue(1)  # max_num_ref_frames
    w.u(1, 0)  # gaps_in_frame_num_value_allowed_flag
    w.ue(mbs_w - 1)
    w.ue(mbs_h - 1)
    w.u(1, 1)  # frame_mbs_only_flag
    w.u(1, 1)  # direct_8x8_inference_flag
    crop_right, crop_bottom = (mbs_w * 16 - width) // 2, (mbs_h * 16 - height) // 2
    if crop_right or crop_bottom:
        w.u(1, 1)
        for offset in (0, crop_right, 0, crop_bottom):  # in 2-pixel units for 4:2:0 frames
            w.ue(offset)
    else:
        w.u(1, 0)
    w.u(1, 0)  # vui_parameters_present_flag
    w.trailing_bits()
    return _nal(3, 7, w.getvalue())


def _pps() -> bytes:
    w = _BitWriter()
    w.ue(0)  # pic_parameter_set_id
    w.ue(0)  # seq_parameter_set_id
    w.u(1, 0)  # entropy_coding_mode_flag: CAVLC
    w.u(1, 0)  # bottom_field_pic_order_in_frame_present_flag
    w.ue(0)  # num_slice_groups_minus1
    w.ue(0)  # num_ref_idx_l0_default_active_minus1
    w.ue(0)  # num_ref_idx_l1_default_active_minus1
    w.u(1, 0)  # weighted_pred_flag
    w.u(2, 0)  # weighted_bipred_idc
    w.se(0)  # pic_init_qp_minus26
    w.se(0)  # pic_init_qs_minus26
    w.se(0)  # chroma_qp_index_offset
    w.u(1, 1)  # deblocking_filter_control_present_flag
    w.u(1, 0)  # constrained_intra_pred_flag
    w.u(1, 0)  # redundant_pic_cnt_present_flag
    w.trailing_bits()
    return _nal(3, 8, w.getvalue())


def _yuv(color: tuple[int, int, int]) -> tuple[int, int, int]:
    """BT.601 limited-range Y, Cb, Cr of an RGB colour (never 0, which old decoders refuse in PCM)."""
    r, g, b = color
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    cb = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    cr = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    y_, cb_, cr_ = (min(254, max(1, round(v))) for v in (y, cb, cr))
    return y_, cb_, cr_


def _idr_slice(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    mbs = -(-width // 16) * -(-height // 16)
    y, cb, cr = _yuv(color)
    pcm = bytes([y]) * 256 + bytes([cb]) * 64 + bytes([cr]) * 64
    w = _BitWriter()
    w.ue(0)  # first_mb_in_slice
    w.ue(7)  # slice_type: I, and so are all slices of the picture
    w.ue(0)  # pic_parameter_set_id
    w.u(_LOG2_MAX_FRAME_NUM, 0)  # frame_num
    w.ue(0)  # idr_pic_id
    w.u(1, 0)  # no_output_of_prior_pics_flag
    w.u(1, 0)  # long_term_reference_flag
    w.se(0)  # slice_qp_delta
    w.ue(1)  # disable_deblocking_filter_idc
    for _ in range(mbs):
        w.ue(25)  # mb_type I_PCM
        w.align_zero()  # pcm_alignment_zero_bit
        w.raw(pcm)
    w.trailing_bits()
    return _nal(3, 5, w.getvalue())


def _skip_slice(width: int, height: int, frame_num: int) -> bytes:
    mbs = -(-width // 16) * -(-height // 16)
    w = _BitWriter()
    w.ue(0)  # first_mb_in_slice
    w.ue(5)  # slice_type: P
    w.ue(0)  # pic_parameter_set_id
    w.u(_LOG2_MAX_FRAME_NUM, frame_num % (1 << _LOG2_MAX_FRAME_NUM))
    w.u(1, 0)  # num_ref_idx_active_override_flag
    w.u(1, 0)  # ref_pic_list_modification_flag_l0
    w.u(1, 0)  # adaptive_ref_pic_marking_mode_flag
    w.se(0)  # slice_qp_delta
    w.ue(1)  # disable_deblocking_filter_idc
    w.ue(mbs)  # mb_skip_run: every macroblock copies the previous frame
    w.trailing_bits()
    return _nal(2, 1, w.getvalue())


# -- ISO BMFF container --------------------------------------------------------------------------


def _box(kind: bytes, *parts: bytes) -> bytes:
    payload = b"".join(parts)
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _full_box(kind: bytes, version: int, flags: int, *parts: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *parts)


_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def _avcc(sps: bytes, pps: bytes) -> bytes:
    return _box(
        b"avcC",
        bytes(
            [1, sps[1], sps[2], sps[3], 0xFF, 0xE1]
        ),  # version, profile, compat, level, 4-byte lengths, 1 SPS
        struct.pack(">H", len(sps)),
        sps,
        bytes([1]),
        struct.pack(">H", len(pps)),
        pps,
    )


def _moov(
    width: int,
    height: int,
    fps: int,
    sample_sizes: list[int],
    mdat_offset: int,
    sps: bytes,
    pps: bytes,
) -> bytes:
    frames = len(sample_sizes)
    timescale = fps * 1000
    media_duration = frames * 1000
    movie_duration = round(frames * _MOVIE_TIMESCALE / fps)
    mvhd = _full_box(
        b"mvhd",
        0,
        0,
        struct.pack(">IIII", 0, 0, _MOVIE_TIMESCALE, movie_duration),
        struct.pack(">IH", 0x10000, 0x100),
        bytes(10),
        _MATRIX,
        bytes(24),
        struct.pack(">I", 2),
    )
    tkhd = _full_box(
        b"tkhd",
        0,
        3,  # enabled, in movie
        struct.pack(">IIII", 0, 0, 1, 0),
        struct.pack(">I", movie_duration),
        bytes(8),
        struct.pack(">hhhH", 0, 0, 0, 0),
        _MATRIX,
        struct.pack(">II", width << 16, height << 16),
    )
    mdhd = _full_box(
        b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, timescale, media_duration, 0x55C4, 0)
    )
    hdlr = _full_box(b"hdlr", 0, 0, struct.pack(">I4s", 0, b"vide"), bytes(12), b"VideoHandler\x00")
    vmhd = _full_box(b"vmhd", 0, 1, bytes(8))
    dinf = _box(b"dinf", _full_box(b"dref", 0, 0, struct.pack(">I", 1), _full_box(b"url ", 0, 1)))
    compressor = b"kling3-skill"
    avc1 = _box(
        b"avc1",
        bytes(6),
        struct.pack(">H", 1),  # data_reference_index
        bytes(16),
        struct.pack(">HH", width, height),
        struct.pack(">III", 0x480000, 0x480000, 0),
        struct.pack(">H", 1),  # frame_count
        bytes([len(compressor)]) + compressor.ljust(31, b"\x00"),
        struct.pack(">Hh", 0x18, -1),
        _avcc(sps, pps),
    )
    stbl = _box(
        b"stbl",
        _full_box(b"stsd", 0, 0, struct.pack(">I", 1), avc1),
        _full_box(b"stts", 0, 0, struct.pack(">III", 1, frames, 1000)),
        _full_box(b"stss", 0, 0, struct.pack(">II", 1, 1)),
        _full_box(b"stsc", 0, 0, struct.pack(">IIII", 1, 1, frames, 1)),
        _full_box(
            b"stsz", 0, 0, struct.pack(">II", 0, frames), struct.pack(f">{frames}I", *sample_sizes)
        ),
        _full_box(b"stco", 0, 0, struct.pack(">II", 1, mdat_offset)),
    )
    minf = _box(b"minf", vmhd, dinf, stbl)
    mdia = _box(b"mdia", mdhd, hdlr, minf)
    return _box(b"moov", mvhd, _box(b"trak", tkhd, mdia))


def _check_args(duration_s: float, aspect_ratio: str, fps: int, color: tuple[int, int, int]) -> int:
    if aspect_ratio not in RESOLUTIONS:
        raise ValueError(
            f"aspect_ratio must be one of {', '.join(RESOLUTIONS)}, not {aspect_ratio!r}"
        )
    if not isinstance(fps, int) or not 1 <= fps <= 240:
        raise ValueError(f"fps must be a whole number from 1 to 240, not {fps!r}")
    if not math.isfinite(duration_s) or duration_s <= 0:
        raise ValueError(f"duration_s must be a positive number, not {duration_s!r}")
    if len(color) != 3 or any(not 0 <= c <= 255 for c in color):
        raise ValueError(f"color must be three values from 0 to 255, not {color!r}")
    frames = max(1, round(duration_s * fps))
    if frames > 1_000_000:
        raise ValueError("duration_s * fps is too large")
    return frames


@functools.lru_cache(maxsize=32)
def _head(frames: int, aspect_ratio: str, fps: int, color: tuple[int, int, int]) -> bytes:
    """ftyp + moov + mdat of a video: small (tens of kB), so it is cached for the emulator."""
    width, height = RESOLUTIONS[aspect_ratio]
    sps, pps = _sps(width, height), _pps()
    samples = [_idr_slice(width, height, color)]
    samples += [_skip_slice(width, height, i) for i in range(1, frames)]
    sizes = [4 + len(s) for s in samples]
    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 512), b"isom", b"iso2", b"avc1", b"mp41")
    moov_len = len(_moov(width, height, fps, sizes, 0, sps, pps))
    moov = _moov(width, height, fps, sizes, len(ftyp) + moov_len + 8, sps, pps)
    payload = b"".join(struct.pack(">I", len(s)) + s for s in samples)
    return ftyp + moov + struct.pack(">I4s", 8 + len(payload), b"mdat") + payload


@dataclass(frozen=True)
class Mp4Stream:
    """A playable MP4 as a small head plus a zero-filled ``free`` box, sent without building it.

    ``size`` is known up front (for Content-Length); :meth:`chunks` yields the bytes, reusing one
    zero buffer for the padding so memory stays flat whatever the size.
    """

    head: bytes
    padding: int = 0

    @property
    def size(self) -> int:
        return len(self.head) + self.padding

    def chunks(self, chunk_size: int = _CHUNK) -> Iterator[bytes]:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        yield self.head
        if not self.padding:
            return
        if self.padding > 0xFFFFFFFF:
            header = struct.pack(">I4sQ", 1, b"free", self.padding)
        else:
            header = struct.pack(">I4s", self.padding, b"free")
        yield header
        left = self.padding - len(header)
        zeros = bytes(min(chunk_size, left))
        while left > 0:
            piece = zeros if left >= len(zeros) else zeros[:left]
            yield piece
            left -= len(piece)

    def tobytes(self) -> bytes:
        return b"".join(self.chunks())


def mp4_stream(
    duration_s: float,
    aspect_ratio: str,
    *,
    fps: int = 8,
    color: tuple[int, int, int] = DEFAULT_COLOR,
    pad_to_bytes: int | None = None,
) -> Mp4Stream:
    """Plan an MP4 of ``round(duration_s * fps)`` frames, padded to at least ``pad_to_bytes``."""
    frames = _check_args(duration_s, aspect_ratio, fps, color)
    r, g, b = (int(c) for c in color)
    head = _head(frames, aspect_ratio, fps, (r, g, b))
    padding = 0
    if pad_to_bytes is not None and pad_to_bytes > len(head):
        padding = max(8, pad_to_bytes - len(head))  # a box is at least its 8-byte header
    return Mp4Stream(head, padding)


def make_mp4(
    duration_s: float,
    aspect_ratio: str,
    *,
    fps: int = 8,
    color: tuple[int, int, int] = DEFAULT_COLOR,
    pad_to_bytes: int | None = None,
) -> bytes:
    """A complete MP4 in memory. Use :func:`iter_mp4_chunks` or :func:`write_mp4` for big padding."""
    return mp4_stream(
        duration_s, aspect_ratio, fps=fps, color=color, pad_to_bytes=pad_to_bytes
    ).tobytes()


def iter_mp4_chunks(
    duration_s: float,
    aspect_ratio: str,
    *,
    fps: int = 8,
    color: tuple[int, int, int] = DEFAULT_COLOR,
    pad_to_bytes: int | None = None,
    chunk_size: int = _CHUNK,
) -> Iterator[bytes]:
    """The bytes of :func:`make_mp4`, in chunks of at most ``chunk_size`` after the head."""
    stream = mp4_stream(duration_s, aspect_ratio, fps=fps, color=color, pad_to_bytes=pad_to_bytes)
    return stream.chunks(chunk_size)


def write_mp4(
    path: str | os.PathLike[str],
    duration_s: float,
    aspect_ratio: str,
    *,
    fps: int = 8,
    color: tuple[int, int, int] = DEFAULT_COLOR,
    pad_to_bytes: int | None = None,
) -> Path:
    """Write the MP4 to ``path`` chunk by chunk and return the path."""
    out = Path(path)
    stream = mp4_stream(duration_s, aspect_ratio, fps=fps, color=color, pad_to_bytes=pad_to_bytes)
    with out.open("wb") as fh:
        for chunk in stream.chunks():
            fh.write(chunk)
    return out
