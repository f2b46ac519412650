"""A hostile stand-in for the RunComfy Model API, written from runcomfy-protocol.md alone.

It shares nothing with ``skill/testing/emulator.py`` (and imports nothing from the package):
the emulator was written by the same hands as the client, so a misreading of the protocol
could sit in both and never fail a test. This server reads the notes again, independently, and
is built to misbehave in the ways issue 12 measured:

- ``submit_500_after_create``: the job is created, then the submit answers 500 (§1.7: no
  idempotency key, so the client cannot know; §1.2: never retry a paid POST);
- ``submit_delay_s``: the job is created at once, the answer comes late;
- ``status_404_first``: the first polls of a new job answer 404 (404001, §1.7), as if the
  request were not visible yet;
- ``status_5xx_first``: a long run of 503 answers on the status route;
- ``shape``: ``{"video": url}``, ``{"videos": [a, b]}`` or the docs' own example
  ``{"image": ..., "videos": [...]}`` (§1.5);
- ``foreign``: some outputs on a second loopback port, which a client must treat as a host
  other than RunComfy's CDN (§1.5, §2.8);
- ``file_404_once``: named files answer 404 the first time they are asked for.

Routes (§1.1): ``POST /v1/models/{model_id}``, ``GET /v1/models/{model_id}``,
``GET /v1/requests/{id}/status``, ``GET /v1/requests/{id}/result``,
``POST /v1/requests/{id}/cancel``; files under ``/files/{id}/{name}``, without a token (§1.5).
Statuses: ``in_queue`` (with ``queue_position``), ``in_progress``, ``completed`` on the status
route, ``succeeded`` on the result route (§1.4, §1.5); errors are ``{"error_code",
"error_message"}`` (§1.8); a wrong token is 401 with 400004.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import tempfile
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

__all__ = ["KLING_MODELS", "Scenario", "StandIn", "sample_videos"]

KLING_MODELS = frozenset(
    f"kling/kling-3.0/{tier}/{mode}"
    for tier in ("standard", "pro", "4k")
    for mode in ("text-to-video", "image-to-video")
)  # §3.1


@dataclass
class Scenario:
    """How the stand-in misbehaves; every job takes the settings current when it is submitted."""

    token: str = "standin-token"
    queue_s: float = 0.05
    run_s: float = 0.05
    shape: Literal["video", "videos", "image_videos"] = "video"
    foreign: Literal["none", "image", "first"] = "none"
    submit_500_after_create: bool = False
    submit_delay_s: float = 0.0
    status_404_first: int = 0
    status_5xx_first: int = 0
    file_404_once: tuple[str, ...] = ()


@dataclass
class _Job:
    rid: str
    created: float
    scenario: Scenario
    files: dict[str, tuple[str, bool]]  # name -> (kind, foreign)
    polls: int = 0
    cancelled: bool = False
    asked: Counter[str] = field(default_factory=Counter)

    def status(self, now: float) -> str:
        if self.cancelled:
            return "cancelled"
        age = now - self.created
        if age < self.scenario.queue_s:
            return "in_queue"
        return "in_progress" if age < self.scenario.queue_s + self.scenario.run_s else "completed"


def _png() -> bytes:
    """A 2x2 grey PNG, written here so the stand-in owes nothing to the package's writers."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = (2).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])  # 8-bit greyscale
    pixels = zlib.compress(b"\x00\x80\x80" * 2)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def sample_videos() -> tuple[bytes, bytes]:
    """Two different one-second MP4s made by ffmpeg (imageio-ffmpeg, a test dependency), not by
    the package's own MP4 writer."""
    import imageio_ffmpeg

    exe = imageio_ffmpeg.get_ffmpeg_exe()
    out: list[bytes] = []
    with tempfile.TemporaryDirectory() as tmp:
        for color in ("red", "blue"):
            path = Path(tmp) / f"{color}.mp4"
            subprocess.run(
                [exe, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", f"color=c={color}:s=64x36:d=1:r=8",
                 "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-y", str(path)],
                check=True, capture_output=True, timeout=60,
            )
            out.append(path.read_bytes())
    return out[0], out[1]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self.server.standin.handle(self, "GET")

    def do_POST(self) -> None:
        self.server.standin.handle(self, "POST")

    def reply(self, status: int, payload: Any = None, *, raw: bytes | None = None, kind: str = "application/json") -> None:
        body = raw if raw is not None else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, standin: StandIn, files_only: bool) -> None:
        self.standin = standin
        self.files_only = files_only
        super().__init__(("127.0.0.1", 0), _Handler)


class StandIn:
    """The stand-in API on two loopback ports (the API, and a 'foreign' file host)."""

    def __init__(self, scenario: Scenario, videos: tuple[bytes, bytes]) -> None:
        self.scenario = scenario
        self.videos = videos
        self.counts: Counter[str] = Counter()
        self.jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()
        self._servers = [_Server(self, files_only=False), _Server(self, files_only=True)]
        self._threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
                         for s in self._servers]

    def __enter__(self) -> StandIn:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for s in self._servers:
            s.shutdown()
            s.server_close()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._servers[0].server_address[1]}"

    @property
    def foreign_origin(self) -> str:
        return f"http://127.0.0.1:{self._servers[1].server_address[1]}"

    @property
    def base_url(self) -> str:
        return self.origin + "/v1"

    # -- dispatch ----------------------------------------------------------------------------------

    def handle(self, h: _Handler, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        parts = h.path.split("?")[0].split("/")
        files_only = h.server.files_only
        if len(parts) == 4 and parts[1] == "files" and method == "GET":
            return self._file(h, parts[2], parts[3], foreign=files_only)
        if files_only:
            return h.reply(404, {"error_code": 404, "error_message": "not found"})
        if h.headers.get("Authorization", "") != f"Bearer {self.scenario.token}":
            return h.reply(401, {"error_code": 400004, "error_message": "invalid or missing API token"})
        if parts[:3] == ["", "v1", "models"] and len(parts) > 3:
            model = "/".join(parts[3:])
            if model not in KLING_MODELS:
                return h.reply(404, {"error_code": 400001, "error_message": f"unknown model {model}"})
            if method == "POST":
                return self._submit(h, body)
            self._count("schemas")
            return h.reply(200, {"model_id": model, "input_schema": {"type": "object", "properties": {}}})
        if len(parts) == 5 and parts[:3] == ["", "v1", "requests"]:
            with self._lock:
                job = self.jobs.get(parts[3])
            action = (parts[4], method)
            if action == ("status", "GET"):
                return self._status(h, job, parts[3])
            if job is None:
                return h.reply(404, {"error_code": 404001, "error_message": "request not found"})
            if action == ("result", "GET"):
                return self._result(h, job)
            if action == ("cancel", "POST"):
                return self._cancel(h, job)
        return h.reply(404, {"error_code": 404, "error_message": "no such route"})

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def _submit(self, h: _Handler, body: bytes) -> None:
        self._count("submits")
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            return h.reply(422, {"error_code": 422, "error_message": "body must be a JSON object"})
        sc = Scenario(**vars(self.scenario))
        rid = secrets.token_hex(12)
        names = ["a.mp4", "b.mp4"] if sc.shape != "video" else ["a.mp4"]
        files = {n: ("video", sc.foreign == "first" and i == 0) for i, n in enumerate(names)}
        if sc.shape == "image_videos":
            files["thumb.png"] = ("image", sc.foreign == "image")
        job = _Job(rid, time.monotonic(), sc, files)
        with self._lock:
            self.jobs[rid] = job
            self.counts["jobs"] += 1
        if sc.submit_delay_s:
            time.sleep(sc.submit_delay_s)
        if sc.submit_500_after_create:
            return h.reply(500, {"error_code": 500, "error_message": "internal error"})
        base = f"{self.base_url}/requests/{rid}"
        h.reply(200, {"request_id": rid, "status_url": f"{base}/status", "result_url": f"{base}/result",
                      "cancel_url": f"{base}/cancel"})

    def _status(self, h: _Handler, job: _Job | None, rid: str) -> None:
        self._count("polls")
        if job is None:
            return h.reply(404, {"error_code": 404001, "error_message": "request not found"})
        with self._lock:
            job.polls += 1
            n = job.polls
        sc = job.scenario
        if n <= sc.status_404_first:
            return h.reply(404, {"error_code": 404001, "error_message": "request not found"})
        if n <= sc.status_404_first + sc.status_5xx_first:
            return h.reply(503, {"error_code": 503, "error_message": "service unavailable"})
        status = job.status(time.monotonic())
        record: dict[str, Any] = {"request_id": rid, "status": status}
        if status == "in_queue":
            record["queue_position"] = 1
        h.reply(200, record)

    def _result(self, h: _Handler, job: _Job) -> None:
        self._count("results")
        status = job.status(time.monotonic())
        if status != "completed":
            return h.reply(200, {"request_id": job.rid, "status": status})
        urls = {n: f"{self.foreign_origin if foreign else self.origin}/files/{job.rid}/{n}"
                for n, (_kind, foreign) in job.files.items()}
        videos = [urls[n] for n, (kind, _) in job.files.items() if kind == "video"]
        output: dict[str, Any] = {"video": videos[0]} if job.scenario.shape == "video" else {"videos": videos}
        if "thumb.png" in urls:
            output = {"image": urls["thumb.png"], **output}
        h.reply(200, {"request_id": job.rid, "status": "succeeded", "output": output,
                      "created_at": "2026-01-01T00:00:00Z", "finished_at": "2026-01-01T00:00:09Z"})

    def _cancel(self, h: _Handler, job: _Job) -> None:
        self._count("cancels")
        if job.status(time.monotonic()) == "in_queue":
            job.cancelled = True
            return h.reply(202, {"request_id": job.rid, "status": "cancelled", "outcome": "cancelled"})
        h.reply(202, {"request_id": job.rid, "status": job.status(time.monotonic()), "outcome": "not_cancellable"})

    def _file(self, h: _Handler, rid: str, name: str, *, foreign: bool) -> None:
        self._count("foreign_downloads" if foreign else "downloads")
        with self._lock:
            job = self.jobs.get(rid)
            entry = job.files.get(name) if job else None
            if job is not None:
                job.asked[name] += 1
        if job is None or entry is None or entry[1] != foreign or job.status(time.monotonic()) != "completed":
            return h.reply(404, {"error_code": 404001, "error_message": "no such file"})
        if name in job.scenario.file_404_once and job.asked[name] == 1:
            return h.reply(404, {"error_code": 404001, "error_message": "not there yet"})
        if entry[0] == "image":
            return h.reply(200, raw=_png(), kind="image/png")
        h.reply(200, raw=self.videos[0 if name == "a.mp4" else 1], kind="video/mp4")
