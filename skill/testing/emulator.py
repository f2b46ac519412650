"""A local RunComfy Model API: same routes, bodies and error codes, plus scripted faults.

The real CLI cannot run here and the live API costs money, so the client, the CLI and the tests
all talk to this server over real sockets instead. It follows the documented protocol (submit,
status, result, cancel, model schema; absolute URLs in the submit answer; ``completed`` on the
status route but ``succeeded`` on the result route; cancel only while queued). It validates
bodies, and serves the live schema, from its own copy of the wire schema
(:mod:`skill.testing.wire_schema`), never from the client's catalog: a catalog mistake then
fails a test instead of being mirrored. Jobs move through their states by elapsed time; the finished job's output URL
serves a real, playable MP4 (see :mod:`skill.testing.mp4writer`) without asking for a token, as RunComfy's CDN
does.

Results come in the shapes RunComfy documents (:data:`ResultShape`): one ``{"video": url}``,
a ``videos`` list, the ``{"image": ..., "videos": [...]}`` of the docs' example, or a bare URL
string; some outputs can be served from a second loopback origin, which a client must treat as
a foreign host. Each job keeps the shape, timings and failure settings of the config it was
submitted under, so a test selects them per job by changing :attr:`Emulator.config` between
submits.

Faults (:class:`Fault`) make a route fail on its Nth call: an HTTP error (optionally with
``Retry-After``), a dropped connection, a hang, a slow answer to work already done, a body cut
short, or a body that claims 3 GiB. ``GET /__emulator/counters`` (no token, not counted) says
how many submits, polls, results, downloads and cancels it has served, for tests and demos.
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, get_args
from urllib.parse import quote, unquote, urlsplit

from skill.testing.mp4writer import DEFAULT_COLOR, Mp4Stream, mp4_stream
from skill.testing.pngwriter import make_png
from skill.testing.wire_schema import load_wire_schemas

__all__ = [
    "COUNTERS_PATH",
    "OVERSIZE_BYTES",
    "RESULT_SHAPES",
    "ROUTES",
    "Emulator",
    "EmulatorConfig",
    "Fault",
    "FaultKind",
    "ForeignOutputs",
    "ResultShape",
    "Route",
    "serve_forever",
]

Route = Literal["submit", "status", "result", "cancel", "schema", "download", "foreign_download"]
FaultKind = Literal["http", "drop", "hang", "slow", "truncate", "oversize"]
ResultShape = Literal["video", "videos", "image_videos", "string"]
"""``output`` of a finished job: ``{"video": url}``; ``{"videos": [url, ...]}``;
``{"image": url, "videos": [...]}`` (the docs' example, a cover beside the videos); a bare URL."""
ForeignOutputs = Literal["none", "image", "first", "all"]
"""Which outputs are served from the second (foreign) origin: none, the image, the first video,
or every file."""
ROUTES: tuple[Route, ...] = get_args(Route)
RESULT_SHAPES: tuple[ResultShape, ...] = get_args(ResultShape)
COUNTERS_PATH = "/__emulator/counters"

OVERSIZE_BYTES = 3 * 1024**3
"""The Content-Length an ``oversize`` fault claims: above the 2 GiB download cap clients use."""

_MAX_BODY = 64 << 20
_VIDEO_COLORS = (DEFAULT_COLOR, (40, 160, 220), (230, 200, 40), (120, 60, 200))
_FILLER_CHUNK = 1 << 16


@dataclass
class Fault:
    """Make ``route`` misbehave on its ``on_call``-th call and the ``times - 1`` calls after it.

    Calls are counted per route from the emulator's start, faulted calls included. Kinds:

    - ``http``: answer ``status`` with ``body`` (default ``{"error_code", "error_message"}``) and,
      when ``retry_after`` is set, a ``Retry-After`` header; a faulted submit creates no job.
    - ``drop``: close the connection without answering. On submit the job *is* created first:
      that is the case a client cannot tell from a lost request, so it must not resubmit.
    - ``hang``: wait ``hang_seconds``, then answer normally (a client should time out first).
    - ``slow``: do the work at once (a submit creates its job), then wait ``hang_seconds``
      before answering: a slow submit answer, the other case a client cannot tell apart.
    - ``truncate``: answer normally but close after about half the bytes promised by
      Content-Length.
    - ``oversize``: claim a Content-Length of 3 GiB and stream until the client hangs up.
    """

    route: Route
    kind: FaultKind = "http"
    status: int = 500
    retry_after: float | None = None
    body: dict[str, Any] | None = None
    on_call: int = 1
    times: int = 1
    hang_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.route not in ROUTES:
            raise ValueError(f"route must be one of {', '.join(ROUTES)}, not {self.route!r}")
        if self.kind not in get_args(FaultKind):
            raise ValueError(
                f"kind must be one of {', '.join(get_args(FaultKind))}, not {self.kind!r}"
            )
        if self.on_call < 1 or self.times < 0:
            raise ValueError("on_call must be >= 1 and times >= 0")
        if not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status code, not {self.status}")

    def fires_on(self, call: int) -> bool:
        """Whether the ``call``-th call (1-based) of the route is hit."""
        if call < self.on_call:
            return False
        return self.times == 0 or call < self.on_call + self.times


@dataclass
class EmulatorConfig:
    """How the emulator behaves. Timings, failure settings, the result shape and which outputs
    are foreign are captured per job at submit."""

    token: str = "test-token"
    queue_seconds: float = 0.2
    run_seconds: float = 0.3
    queue_position: int = 2
    fail_job: dict[str, Any] | None = None
    no_balance: bool = False
    output_host: str | None = None
    redirect_to: str | None = None
    output_filename: str = "output.mp4"
    result_shape: ResultShape = "video"
    video_count: int = 1
    """Videos of the list shapes (``videos``, ``image_videos``); the others have one."""
    foreign_outputs: ForeignOutputs = "none"
    output_bytes: int | None = None
    video_fps: int = 8
    faults: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.result_shape not in RESULT_SHAPES:
            raise ValueError(
                f"result_shape must be one of {', '.join(RESULT_SHAPES)}, not {self.result_shape!r}"
            )
        choices = get_args(ForeignOutputs)
        if self.foreign_outputs not in choices:
            raise ValueError(
                f"foreign_outputs must be one of {', '.join(choices)}, not {self.foreign_outputs!r}"
            )
        if self.video_count < 1:
            raise ValueError("video_count must be >= 1")


@dataclass(frozen=True)
class _File:
    """One output file of a job: its name under ``/files/{request_id}/``, kind and full URL."""

    name: str
    kind: Literal["video", "image"]
    url: str
    foreign: bool
    index: int = 0
    """Which video of the job it is; each is drawn in its own colour, so their bytes differ."""


@dataclass
class _Job:
    request_id: str
    model_id: str
    body: dict[str, Any]
    created: float  # wall clock, for created_at/finished_at
    started: float  # monotonic, for the state machine
    queue_seconds: float
    run_seconds: float
    queue_position: int
    error: dict[str, Any] | None
    duration: int
    aspect_ratio: str
    shape: ResultShape
    files: list[_File]
    cancelled: bool = False

    @property
    def video_urls(self) -> list[str]:
        return [f.url for f in self.files if f.kind == "video"]

    def output(self) -> Any:
        """The result's ``output`` in this job's shape."""
        videos = self.video_urls
        if self.shape == "string":
            return videos[0]
        if self.shape == "video":
            return {"video": videos[0]}
        if self.shape == "videos":
            return {"videos": videos}
        image = next(f.url for f in self.files if f.kind == "image")
        return {"image": image, "videos": videos}

    def state(self, now: float) -> tuple[str, int | None]:
        """Current status and, while queued, the queue position (counting down to 1)."""
        if self.cancelled:
            return "cancelled", None
        elapsed = now - self.started
        if elapsed < self.queue_seconds:
            left = 1.0 - elapsed / self.queue_seconds
            return "in_queue", max(
                min(1, self.queue_position), math.ceil(self.queue_position * left)
            )
        if elapsed < self.queue_seconds + self.run_seconds:
            return "in_progress", None
        return ("failed" if self.error is not None else "completed"), None


@dataclass
class _Reply:
    """A response before delivery, so faults can mangle how it is sent."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stream: Mp4Stream | None = None

    @property
    def length(self) -> int:
        return self.stream.size if self.stream is not None else len(self.body)

    def chunks(self) -> Iterator[bytes]:
        if self.stream is not None:
            yield from self.stream.chunks()
        elif self.body:
            yield self.body


def _json(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(
        status,
        {"Content-Type": "application/json", **(headers or {})},
        json.dumps(payload).encode("utf-8"),
    )


def _error(status: int, code: int, message: str, **extra: Any) -> _Reply:
    return _json(status, {"error_code": code, "error_message": message, **extra})


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat().replace("+00:00", "Z")


class _Server(ThreadingHTTPServer):
    """One listening socket of the emulator. ``foreign`` marks the second origin, which serves
    only files (as a CDN on another host would)."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # the listen backlog: 32+ clients connecting at once are not reset

    def __init__(
        self,
        address: tuple[str, int],
        emulator: Emulator,
        family: socket.AddressFamily,
        *,
        foreign: bool = False,
    ) -> None:
        self.address_family = family
        self.emulator = emulator
        self.foreign = foreign
        super().__init__(address, _Handler)

    @property
    def origin(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-answer is what the faults are for; only report real bugs.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes; no 40 ms stalls
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def setup(self) -> None:
        super().setup()
        self.server.emulator._track(self.connection, add=True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.emulator._track(self.connection, add=False)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    # -- plumbing ------------------------------------------------------------------------------

    def _read_body(self) -> bytes | None:
        """The request body (Content-Length or chunked); ``None`` after answering a bad one."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = bytearray()
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    self._deliver(_error(400, 400, "bad chunked encoding"), True)
                    self.close_connection = True
                    return None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                if len(data) + size > _MAX_BODY:
                    break
                data += self.rfile.read(size)
                self.rfile.readline(1024)
        else:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if length < 0:
                self._deliver(_error(400, 400, "bad Content-Length"), True)
                self.close_connection = True
                return None
            if length <= _MAX_BODY:
                return self.rfile.read(length) if length else b""
        self._deliver(_error(413, 413, f"request body is larger than {_MAX_BODY} bytes"), True)
        self.close_connection = True
        return None

    def _dispatch(self, method: str) -> None:
        emu = self.server.emulator
        body = self._read_body()
        if body is None:
            return
        path = urlsplit(self.path).path
        if path == COUNTERS_PATH and method == "GET" and not self.server.foreign:
            self._deliver(_json(200, emu.counters()), True)
            return
        route, arg = emu._route(method, path, foreign=self.server.foreign)
        if route is None:
            self._deliver(_error(404, 404, f"no route for {method} {path}"), method != "HEAD")
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        fault = emu._register(route, headers)
        if fault is not None and fault.kind == "http":
            self._deliver(emu._fault_reply(fault), method != "HEAD")
            return
        if fault is not None and fault.kind == "hang" and emu._stopping.wait(fault.hang_seconds):
            self.close_connection = True
            return
        oversize = fault is not None and fault.kind == "oversize"
        reply = emu._answer(route, method, arg, headers, body, oversize=oversize)
        if fault is not None and fault.kind == "slow" and emu._stopping.wait(fault.hang_seconds):
            self.close_connection = True
            return
        send_body = method != "HEAD"
        if fault is None or fault.kind in ("hang", "slow"):
            self._deliver(reply, send_body)
        elif fault.kind == "drop":
            self.close_connection = True
        elif fault.kind == "truncate":
            total = reply.length
            self._deliver(reply, send_body, claim=max(total, 1), limit=total // 2)
            self.close_connection = True
        else:
            self._deliver(reply, send_body, claim=OVERSIZE_BYTES, limit=OVERSIZE_BYTES, fill=True)
            self.close_connection = True

    def _deliver(
        self,
        reply: _Reply,
        send_body: bool,
        *,
        claim: int | None = None,
        limit: int | None = None,
        fill: bool = False,
    ) -> None:
        """Send ``reply``; ``claim`` overrides Content-Length, ``limit`` caps the bytes sent, and
        ``fill`` pads with filler bytes up to ``limit`` (until the client hangs up)."""
        stopping = self.server.emulator._stopping
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(reply.length if claim is None else claim))
            self.end_headers()
            if not send_body:
                return
            budget = reply.length if limit is None else limit
            sent = 0
            for chunk in reply.chunks():
                if sent >= budget or stopping.is_set():
                    return
                piece = memoryview(chunk)[: budget - sent]  # a view: no copy of big chunks
                self.wfile.write(piece)
                sent += len(piece)
            if fill:
                filler = memoryview((b"\x00" if reply.stream is not None else b" ") * _FILLER_CHUNK)
                while sent < budget and not stopping.is_set():
                    piece = filler[: budget - sent]
                    self.wfile.write(piece)
                    sent += len(piece)
        except OSError:
            self.close_connection = True


class Emulator:
    """A RunComfy Model API on a loopback port; use as a context manager or start()/stop()."""

    def __init__(
        self, config: EmulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.config = config if config is not None else EmulatorConfig()
        self.host = host
        self.port = port
        self.download_saw_auth = False
        self._lock = threading.Condition()
        self._counts: dict[str, int] = dict.fromkeys(ROUTES, 0)
        self._last_headers: dict[str, dict[str, str]] = {}
        self._faults: list[Fault] = list(self.config.faults)
        self._jobs: dict[str, _Job] = {}
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._foreign: _Server | None = None
        self._threads: list[tuple[_Server, threading.Thread]] = []

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Listen on ``host:port`` (0: a free port). An address in use raises ``OSError``."""
        if self._server is not None:
            raise RuntimeError("emulator already started")
        self._stopping.clear()
        self._server = self._listen(self.port, foreign=False)
        return self

    def _listen(self, port: int, *, foreign: bool) -> _Server:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        server = _Server((self.host, port), self, family, foreign=foreign)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="kling3-emulator-foreign" if foreign else "kling3-emulator",
            daemon=True,
        )
        thread.start()
        self._threads.append((server, thread))
        return server

    def stop(self) -> None:
        """Stop serving and cut open connections, so hung or streaming handlers end at once."""
        if self._server is None:
            return
        self._server = self._foreign = None
        self._stopping.set()
        with self._lock:
            pairs, self._threads = self._threads, []
        for server, _ in pairs:
            server.shutdown()
            server.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for _, thread in pairs:
            thread.join(timeout=5)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests read -----------------------------------------------------------------------

    @property
    def origin(self) -> str:
        if self._server is None:
            raise RuntimeError("emulator is not running")
        return self._server.origin

    @property
    def foreign_origin(self) -> str:
        """A second loopback origin (another port, so a foreign host to a client) that serves
        only files; it starts on first use."""
        with self._lock:
            if self._server is None:
                raise RuntimeError("emulator is not running")
            if self._foreign is None:
                self._foreign = self._listen(0, foreign=True)
            return self._foreign.origin

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    @property
    def token(self) -> str:
        return self.config.token

    @property
    def counts(self) -> dict[str, int]:
        """Calls per route so far, faulted ones included (a snapshot)."""
        with self._lock:
            return dict(self._counts)

    def counters(self) -> dict[str, int]:
        """What ``GET /__emulator/counters`` answers: the counts under plain names."""
        c = self.counts
        return {
            "submits": c["submit"],
            "polls": c["status"],
            "results": c["result"],
            "downloads": c["download"],
            "foreign_downloads": c["foreign_download"],
            "cancels": c["cancel"],
            "schemas": c["schema"],
        }

    def last_headers(self, route: str) -> dict[str, str]:
        """Headers (lower-cased names) of the latest call of ``route``; empty if none yet."""
        with self._lock:
            return dict(self._last_headers.get(route, {}))

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def job(self, request_id: str) -> dict[str, Any]:
        """A snapshot of one job; ``KeyError`` for an unknown id."""
        with self._lock:
            return self._snapshot(self._jobs[request_id])

    def jobs(self) -> list[dict[str, Any]]:
        """Snapshots of every submitted job, oldest first."""
        with self._lock:
            return [self._snapshot(job) for job in self._jobs.values()]

    def wait_for_requests(self, route: str, n: int, timeout: float = 5.0) -> bool:
        """Block until ``route`` has been called ``n`` times; False on timeout."""
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}")
        with self._lock:
            return self._lock.wait_for(lambda: self._counts[route] >= n, timeout=timeout)

    # -- internals (called by the handler) -----------------------------------------------------

    def _snapshot(self, job: _Job) -> dict[str, Any]:
        status, position = job.state(time.monotonic())
        return {
            "request_id": job.request_id,
            "model_id": job.model_id,
            "body": copy.deepcopy(job.body),
            "status": status,
            "queue_position": position,
            "created": job.created,
            "cancelled": job.cancelled,
            "duration": job.duration,
            "aspect_ratio": job.aspect_ratio,
            "output_url": job.video_urls[0],
            "result_shape": job.shape,
            "output_urls": [f.url for f in job.files],
        }

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _route(self, method: str, path: str, *, foreign: bool = False) -> tuple[Route | None, str]:
        parts = path.split("/")
        is_file = len(parts) == 4 and parts[1] == "files" and parts[2] and parts[3]
        if foreign or is_file:
            if not is_file or method not in ("GET", "HEAD"):
                return None, ""
            return ("foreign_download" if foreign else "download"), f"{parts[2]}/{parts[3]}"
        if path.startswith("/v1/models/") and len(path) > len("/v1/models/"):
            model_id = unquote(path[len("/v1/models/") :]).strip("/")
            if method == "POST":
                return "submit", model_id
            if method in ("GET", "HEAD"):
                return "schema", model_id
            return None, ""
        if len(parts) == 5 and parts[:3] == ["", "v1", "requests"] and parts[3]:
            action = parts[4]
            if (action, method) in (("status", "GET"), ("result", "GET"), ("cancel", "POST")):
                return action, parts[3]  # type: ignore[return-value]
        return None, ""

    def _register(self, route: Route, headers: dict[str, str]) -> Fault | None:
        """Count a call of ``route`` and return the fault it triggers, if any."""
        with self._lock:
            self._counts[route] += 1
            call = self._counts[route]
            self._last_headers[route] = dict(headers)
            if route in ("download", "foreign_download") and "authorization" in headers:
                self.download_saw_auth = True
            fault = next((f for f in self._faults if f.route == route and f.fires_on(call)), None)
            self._lock.notify_all()
        return fault

    def _fault_reply(self, fault: Fault) -> _Reply:
        try:
            phrase = HTTPStatus(fault.status).phrase
        except ValueError:
            phrase = "Error"
        body = (
            fault.body
            if fault.body is not None
            else {
                "error_code": fault.status,
                "error_message": f"{phrase} (injected by the emulator)",
            }
        )
        headers: dict[str, str] = {}
        if fault.retry_after is not None:
            seconds = fault.retry_after
            headers["Retry-After"] = (
                str(int(seconds)) if float(seconds).is_integer() else str(seconds)
            )
        return _json(fault.status, body, headers)

    def _authorized(self, headers: dict[str, str]) -> bool:
        scheme, _, value = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and value.strip() == self.config.token

    def _answer(
        self,
        route: Route,
        method: str,
        arg: str,
        headers: dict[str, str],
        body: bytes,
        *,
        oversize: bool = False,
    ) -> _Reply:
        if route in ("download", "foreign_download"):
            return self._download(arg, oversize=oversize, foreign=route == "foreign_download")
        if not self._authorized(headers):
            return _error(401, 400004, "missing, expired or revoked API token")
        if route == "submit":
            return self._submit(arg, body)
        if route == "schema":
            return self._schema(arg)
        with self._lock:
            job = self._jobs.get(arg)
            if job is None:
                return _error(404, 404001, f"request {arg!r} not found")
            if route == "cancel":
                return self._cancel(job)
            status, position = job.state(time.monotonic())
            if route == "status":
                return _json(200, self._status_record(job, status, position))
            return _json(200, self._result_record(job, status, position))

    def _schema(self, model_id: str) -> _Reply:
        live = load_wire_schemas().live_schema(model_id)
        if live is None:
            return _error(404, 400001, f"unknown model_id {model_id!r}")
        return _json(200, live)

    def _submit(self, model_id: str, raw: bytes) -> _Reply:
        wire = load_wire_schemas()
        schema = wire.input_schema(model_id)
        if schema is None:
            return _error(404, 400001, f"unknown model_id {model_id!r}")
        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            body = None
        if not isinstance(body, dict):
            msg = "request body must be a JSON object"
            return _error(422, 422, msg, detail=[{"loc": ["body"], "msg": msg}])
        problems = wire.validate_body(model_id, body)
        if problems:
            first = problems[0]
            return _error(
                422,
                422,
                f"{first.field} {first.message}",
                detail=[{"loc": [p.field], "msg": p.message} for p in problems],
            )
        cfg = self.config
        if cfg.no_balance:
            return _error(402, 400002, "Insufficient balance")
        props = schema.properties
        duration = int(body.get("duration", props["duration"].default))
        ratio = props.get("aspect_ratio")
        aspect = str(body.get("aspect_ratio", ratio.default)) if ratio is not None else "16:9"
        request_id = str(uuid.uuid4())
        job = _Job(
            request_id=request_id,
            model_id=model_id,
            body=copy.deepcopy(body),
            created=time.time(),
            started=time.monotonic(),
            queue_seconds=cfg.queue_seconds,
            run_seconds=cfg.run_seconds,
            queue_position=cfg.queue_position,
            error=copy.deepcopy(cfg.fail_job),
            duration=duration,
            aspect_ratio=aspect,
            shape=cfg.result_shape,
            files=self._files(request_id),
        )
        with self._lock:
            self._jobs[request_id] = job
        base = f"{self.base_url}/requests/{request_id}"
        return _json(
            200,
            {
                "request_id": request_id,
                "status_url": f"{base}/status",
                "result_url": f"{base}/result",
                "cancel_url": f"{base}/cancel",
            },
        )

    def _files(self, request_id: str) -> list[_File]:
        """The output files of a new job, by the config's shape and foreign setting."""
        cfg = self.config
        count = max(1, cfg.video_count) if cfg.result_shape in ("videos", "image_videos") else 1
        stem, dot, ext = cfg.output_filename.rpartition(".")
        names = [cfg.output_filename] + [
            f"{stem}_{i}.{ext}" if dot else f"{cfg.output_filename}_{i}" for i in range(2, count + 1)
        ]
        kinds: list[tuple[str, Literal["video", "image"]]] = [(n, "video") for n in names]
        if cfg.result_shape == "image_videos":
            kinds.append(("cover.png", "image"))
        own = self.origin
        if cfg.output_host:
            own = cfg.output_host if "://" in cfg.output_host else f"https://{cfg.output_host}"
        files = []
        for i, (name, kind) in enumerate(kinds):
            foreign = cfg.foreign_outputs == "all" or (
                (cfg.foreign_outputs, kind, i) in (("image", "image", len(kinds) - 1), ("first", "video", 0))
            )
            origin = self.foreign_origin if foreign else own
            url = f"{origin.rstrip('/')}/files/{request_id}/{quote(name, safe='')}"
            files.append(_File(name=name, kind=kind, url=url, foreign=foreign, index=i))
        return files

    def _status_record(self, job: _Job, status: str, position: int | None) -> dict[str, Any]:
        base = f"{self.base_url}/requests/{job.request_id}"
        record: dict[str, Any] = {"request_id": job.request_id, "status": status}
        if position is not None:
            record["queue_position"] = position
        record["status_url"] = f"{base}/status"
        record["result_url"] = f"{base}/result"
        return record

    def _result_record(self, job: _Job, status: str, position: int | None) -> dict[str, Any]:
        record: dict[str, Any] = {"request_id": job.request_id}
        finished_at = _iso(job.created + job.queue_seconds + job.run_seconds)
        if status == "completed":
            record["status"] = "succeeded"
            record["output"] = job.output()
            record["created_at"] = _iso(job.created)
            record["finished_at"] = finished_at
        elif status == "failed":
            record.update(
                status="failed", error=copy.deepcopy(job.error), created_at=_iso(job.created)
            )
            record["finished_at"] = finished_at
        else:
            record["status"] = status
            if position is not None:
                record["queue_position"] = position
            record["created_at"] = _iso(job.created)
        return record

    def _cancel(self, job: _Job) -> _Reply:
        status, _ = job.state(time.monotonic())
        if status == "in_queue":
            job.cancelled = True
            return _json(
                202, {"request_id": job.request_id, "status": "cancelled", "outcome": "cancelled"}
            )
        return _json(
            202, {"request_id": job.request_id, "status": status, "outcome": "not_cancellable"}
        )

    def _download(self, arg: str, *, oversize: bool, foreign: bool = False) -> _Reply:
        """A finished job's file, from the origin its URL names (a file is on one origin only)."""
        if self.config.redirect_to:
            return _Reply(302, {"Location": self.config.redirect_to})
        request_id, _, name = arg.partition("/")
        with self._lock:
            job = self._jobs.get(request_id)
            status = job.state(time.monotonic())[0] if job is not None else None
        wanted = unquote(name)
        found = None if job is None else next((f for f in job.files if f.name == wanted), None)
        if job is None or found is None or found.foreign != foreign or status != "completed":
            return _error(404, 404001, "no such file")
        if found.kind == "image":
            return _Reply(200, {"Content-Type": "image/png"}, make_png())
        pad = OVERSIZE_BYTES if oversize else self.config.output_bytes
        color = _VIDEO_COLORS[found.index % len(_VIDEO_COLORS)]
        stream = mp4_stream(
            job.duration, job.aspect_ratio, fps=self.config.video_fps, color=color, pad_to_bytes=pad
        )
        return _Reply(200, {"Content-Type": "video/mp4"}, stream=stream)


def serve_forever(
    config: EmulatorConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    on_ready: Callable[[Emulator], None] | None = None,
) -> None:
    """Run an emulator until Ctrl-C or SIGTERM. Once it listens, ``on_ready(emulator)`` is
    called (default: print its base URL as the first stdout line). An address already in use
    raises ``OSError`` before anything is printed."""
    done = threading.Event()
    previous: Any = None
    in_main = threading.current_thread() is threading.main_thread()
    with Emulator(config, host=host, port=port) as emu:
        if in_main:
            previous = signal.signal(signal.SIGTERM, lambda *_: done.set())
        try:
            if on_ready is None:
                print(emu.base_url, flush=True)
            else:
                on_ready(emu)
            while not done.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            if in_main:
                signal.signal(signal.SIGTERM, previous)
