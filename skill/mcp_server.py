"""The MCP server: the tools of :mod:`skill.tools`, plus the catalog, rules and prompting guide,
a resource per journal job (``kling3://jobs/{request_id}``) and the prompts of
:mod:`skill.mcp_prompts`.

Run it over stdio (what desktop hosts and IDEs launch) or streamable HTTP on 127.0.0.1::

    python -m skill.mcp_server                  # stdio
    python -m skill.mcp_server --http --port 8765   # http://127.0.0.1:8765/mcp

This module is an adapter over :data:`skill.tools.TOOLS` and holds no tool facts of its own: each
:class:`~skill.tools.ToolSpec` gives the tool's name, title, description, input and output
schemas and annotations, and calls go through :func:`skill.tools.acall`. Every result carries
structured content (matching the output schema) plus a short text summary; refusals and API
errors are tool errors (``isError``) whose structured content is
``{"error": {"code", "field", "message"}}``.

The tools that wait for a job (``ToolSpec.reports_progress``) wait at most ``wait_seconds`` and
send a progress notification on every status change and every few seconds in between, so hosts
that reset their time-out on progress keep the call alive. A cancelled call (the client's
``notifications/cancelled``) cancels the tool's task, and a generation still queued is cancelled
at the API.

Needs the ``mcp`` extra (``pip install 'kling3-skill[mcp]'``, the official MCP Python SDK 2.x);
nothing else in the package imports it, and this module imports it only inside functions, so a
missing or old SDK is reported as a :class:`~skill.errors.ConfigError`, not an ImportError.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote

from skill import tools
from skill.errors import ConfigError, InputError, Kling3Error
from skill.execution import events as ev
from skill.money import usd

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
    from mcp import types
    from mcp.server import Server, ServerRequestContext
    from mcp.server.context import CallNext, HandlerResult

    Context = ServerRequestContext[Any, Any]

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "INSTRUCTIONS",
    "JOB_TEMPLATE",
    "MAX_IMAGE_BYTES",
    "RESOURCES",
    "ServerOptions",
    "build_server",
    "main",
    "serve",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_PROGRESS_INTERVAL = 5.0
"""Seconds between heartbeat progress notifications while a tool waits."""

SERVER_NAME = "kling3"
SERVER_TITLE = "Kling 3.0 video (RunComfy)"

log = logging.getLogger("skill.mcp_server")


# -- resources -------------------------------------------------------------------------------


def _catalog_json() -> str:
    from skill.data import data_path, load_yaml

    return json.dumps(load_yaml(data_path("catalog.yaml")), indent=2, ensure_ascii=False)


def _rules_text() -> str:
    from skill.data import data_path

    return data_path("routing_rules.yaml").read_text(encoding="utf-8")


def _guide_text() -> str:
    from skill.data import data_path

    return data_path("references/prompting-guide.md").read_text(encoding="utf-8")


@dataclass(frozen=True)
class _Resource:
    """One read-only reference document a model can read before it plans (read lazily, on request)."""

    uri: str
    name: str
    title: str
    description: str
    mime_type: str
    read: Callable[[], str]
    gist: str
    """What it is for, in a few words: how the server's instructions point a model at it."""


RESOURCES: tuple[_Resource, ...] = (
    _Resource(
        "kling3://catalog", "catalog", "Kling 3.0 endpoint catalog",
        "The six Kling 3.0 endpoints on RunComfy: model ids, per-second prices with and without audio, "
        "limits, aspect ratios and the wire schema of each (skill/data/catalog.yaml as JSON).",
        "application/json", _catalog_json, "endpoints and prices",
    ),
    _Resource(
        "kling3://routing-rules", "routing-rules", "Routing rules",
        "The routing policy as implemented: the YAML rules that pick mode, tier, length, ratio and "
        "audio from a request, and the refusals (routing_rules.yaml).",
        "application/yaml", _rules_text, "how a request is routed",
    ),
    _Resource(
        "kling3://prompting-guide", "prompting-guide", "Kling 3.0 prompting guide",
        "How to write prompts for Kling 3.0: motion and camera first, numbered shots, identity "
        "anchors for image-to-video, audio and dialogue tags.",
        "text/markdown", _guide_text, "how to write prompts",
    ),
)

JOB_TEMPLATE = "kling3://jobs/{request_id}"
"""One job of the local journal, by request_id (or a 6+ character prefix), as JSON."""
_JOB_PREFIX = JOB_TEMPLATE.split("{", 1)[0]

INSTRUCTIONS = (
    f"{tools.WORKFLOW} Resources: " + ", ".join(f"{r.uri} ({r.gist})" for r in RESOURCES)
    + f"; {JOB_TEMPLATE} (one job from the local journal: state, payload, files, what to do next)."
)
"""What the server tells a model when it connects: the tools' workflow, then where the references are."""


def _resource_list() -> list[types.Resource]:
    from mcp import types

    return [
        types.Resource(uri=r.uri, name=r.name, title=r.title, description=r.description, mime_type=r.mime_type)
        for r in RESOURCES
    ]


def _resource_templates() -> list[types.ResourceTemplate]:
    from mcp import types

    return [
        types.ResourceTemplate(
            uri_template=JOB_TEMPLATE, name="job", title="A Kling job from the local journal",
            description="One generation job by request_id (or a 6+ character prefix from kling_list_jobs): "
            "its state, the exact payload sent, cost, saved files, state changes and what to do next. "
            "Read from the local journal: free, nothing is sent.",
            mime_type="application/json",
        )
    ]


def _job_json(ref: str) -> str:
    """The job resource's text, from the journal (a blocking read: run it in a worker thread)."""
    from skill.execution.journal import Journal
    from skill.tool_results import job_detail

    journal = Journal()
    job = journal.get(ref)
    if job is None:
        raise InputError(f"no job {ref!r} in the local journal; kling_list_jobs lists them", field="request_id",
                         code="unknown_job")
    doc = job_detail(job.to_dict(), [f.to_dict() for f in journal.files(job)],
                     [e.to_dict() for e in journal.events(job)])
    return json.dumps(doc, ensure_ascii=False, indent=2)


async def _read_job(uri: str) -> types.ReadResourceResult:
    """``kling3://jobs/{request_id}``; an unknown or ambiguous id is an MCP error naming it."""
    import anyio
    from mcp import types
    from mcp.shared.exceptions import MCPError

    ref = unquote(uri.removeprefix(_JOB_PREFIX)).strip()
    try:
        if not ref or "/" in ref:
            raise InputError(f"{uri}: name one job, as {JOB_TEMPLATE}", field="request_id")
        text = await anyio.to_thread.run_sync(_job_json, ref)
    except Kling3Error as exc:
        code = types.INVALID_PARAMS if isinstance(exc, InputError) else types.INTERNAL_ERROR
        raise MCPError(code=code, message=exc.message, data={"uri": uri, "code": exc.code}) from None
    return types.ReadResourceResult(
        contents=[types.TextResourceContents(uri=uri, mime_type="application/json", text=text)]
    )


def _read_resource(uri: str) -> types.ReadResourceResult:
    """The resource's text; an unknown URI or an unreadable file is an MCP error, as the spec asks."""
    from mcp import types
    from mcp.shared.exceptions import MCPError

    for r in RESOURCES:
        if r.uri == uri:
            try:
                text = r.read()
            except Kling3Error as exc:
                raise MCPError(code=types.INTERNAL_ERROR, message=exc.message, data={"uri": uri}) from None
            return types.ReadResourceResult(
                contents=[types.TextResourceContents(uri=uri, mime_type=r.mime_type, text=text)]
            )
    known = ", ".join([*(r.uri for r in RESOURCES), JOB_TEMPLATE])
    raise MCPError(code=types.INVALID_PARAMS, message=f"unknown resource {uri}; resources: {known}", data={"uri": uri})


# -- prompts ---------------------------------------------------------------------------------


def _prompt_list() -> list[types.Prompt]:
    from mcp import types

    from skill.mcp_prompts import prompt_specs

    return [
        types.Prompt(
            name=p.name, title=p.title, description=p.description,
            arguments=[types.PromptArgument(name=a.name, description=a.description, required=a.required)
                       for a in p.arguments],
        )
        for p in prompt_specs()
    ]


def _get_prompt(name: str, arguments: dict[str, str] | None) -> types.GetPromptResult:
    """A prompt filled in, with the resources it names attached; a bad name or argument is an MCP error."""
    from mcp import types
    from mcp.shared.exceptions import MCPError

    from skill.mcp_prompts import render_prompt

    try:
        rendered = render_prompt(name, arguments)
        attached = [_read_resource(uri).contents[0] for uri in rendered.embed]
    except Kling3Error as exc:
        code = types.INVALID_PARAMS if isinstance(exc, InputError) else types.INTERNAL_ERROR
        raise MCPError(code=code, message=exc.message, data={"prompt": name, "field": exc.field}) from None
    messages = [types.PromptMessage(role=m.role, content=types.TextContent(type="text", text=m.text))
                for m in rendered.messages]
    messages += [types.PromptMessage(role="user", content=types.EmbeddedResource(type="resource", resource=r))
                 for r in attached]
    return types.GetPromptResult(description=rendered.description, messages=messages)


# -- tools -----------------------------------------------------------------------------------


def _tool(spec: tools.ToolSpec) -> types.Tool:
    """A :class:`~skill.tools.ToolSpec` as MCP lists it."""
    from mcp import types

    hints = spec.hints
    return types.Tool(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        input_schema=tools.input_schema(spec.name),
        output_schema=spec.output_schema,
        annotations=types.ToolAnnotations(
            title=spec.title,
            read_only_hint=hints.read_only,
            destructive_hint=hints.destructive,
            idempotent_hint=hints.idempotent,
            open_world_hint=hints.open_world,
        ),
    )


def _input_schema_of(name: str) -> dict[str, Any] | None:
    """The SDK validates call arguments against this; ``None`` for a name that is no tool."""
    return tools.input_schema(name) if tools.find_tool(name) is not None else None


MAX_IMAGE_BYTES = 1 << 20
"""A contact sheet larger than this is not inlined (they are made under 300 KB)."""


def _media(doc: dict[str, Any]) -> list[types.ImageContent | types.ResourceLink]:
    """For a finished video: its contact sheet as image content (so a multimodal model sees the
    frames it paid for), then a ``file://`` resource link to each MP4."""
    import base64

    from mcp import types

    videos = [v for v in doc.get("videos") or [] if isinstance(v, dict) and v.get("path")]
    images: list[types.ImageContent | types.ResourceLink] = []
    for v in videos:
        sheet = Path(str(v.get("contact_sheet") or ""))
        if not v.get("contact_sheet") or not sheet.is_file() or sheet.stat().st_size > MAX_IMAGE_BYTES:
            continue
        data = base64.b64encode(sheet.read_bytes()).decode("ascii")
        images.append(types.ImageContent(type="image", data=data, mime_type="image/jpeg"))
    links: list[types.ImageContent | types.ResourceLink] = []
    for v in videos:
        path = Path(str(v["path"]))
        where = f"; RunComfy file: {v['url']}" if v.get("url") else ""
        links.append(types.ResourceLink(
            type="resource_link", uri=path.as_uri(), name=path.name, mime_type="video/mp4",
            size=v.get("size"), description=f"the generated video, saved locally{where}",
        ))  # fmt: skip
    return images + links


def _tool_result(name: str, doc: dict[str, Any]) -> types.CallToolResult:
    """A tool's result dict as MCP returns it: the summary line, the contact sheet and a link
    to each video (for a finished one), the JSON, and structured content."""
    from mcp import types

    return types.CallToolResult(
        content=[
            types.TextContent(type="text", text=tools.summarize(name, doc)),
            *_media(doc),
            types.TextContent(type="text", text=json.dumps(doc, ensure_ascii=False)),
        ],
        structured_content=doc,
        is_error=isinstance(doc.get("error"), dict),
    )


# -- progress --------------------------------------------------------------------------------


class _Rendered(NamedTuple):
    message: str | None
    """The progress message to send, or ``None`` for an event not worth telling."""
    status: str | None
    """The job's status in words when the event reports one (what the heartbeat repeats)."""


def _render(event: ev.Event) -> _Rendered:
    """What a progress event says to an MCP client: the one place this module reads an event."""
    match event:
        case ev.Status(status=status, queue_position=pos, elapsed_s=elapsed):
            said = status + (f" (queue position {pos})" if pos is not None else "")
            return _Rendered(f"{said}, {elapsed} s", said)
        case ev.Submitting():
            return _Rendered(f"submitting to {event.endpoint} ({usd(event.cost_usd)})", None)
        case ev.Submitted():
            return _Rendered(f"submitted: request_id {event.request_id}", None)
        case ev.Downloading():
            return _Rendered("downloading the video", None)
        case ev.Done():
            skipped = f"; skipped {len(event.skipped)} output(s) not saved" if event.skipped else ""
            return _Rendered("saved " + ", ".join(event.files + event.images) + skipped, None)
        case ev.Cancelled():
            return _Rendered(f"cancelled: {event.request_id}", None)
        case ev.NotCancellable() | ev.CancelFailed() | ev.SchemaUnavailable():
            return _Rendered(f"{event.event}: {event.message}", None)
        case ev.DownloadProgress() | ev.Finishing() | ev.FinishFailed() | ev.Finished():
            return _Rendered(None, None)
        case _:
            ev.unhandled(event)


class _Progress:
    """The progress notifications of one waiting call: one per event worth telling, and a heartbeat.

    Events arrive on the loop (``acall`` promises that) and are queued without blocking; a side
    task sends them, so a slow or vanished client never holds up the job.
    """

    def __init__(self, ctx: Context, interval: float) -> None:
        import anyio

        self.ctx = ctx
        self.interval = interval
        streams = anyio.create_memory_object_stream[ev.Event](256)
        self.send: MemoryObjectSendStream[ev.Event] = streams[0]
        self.receive: MemoryObjectReceiveStream[ev.Event] = streams[1]
        self.started = time.monotonic()
        self.progress = 0.0
        self.status = "working"

    def on_event(self, event: ev.Event) -> None:
        import anyio

        with contextlib.suppress(anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
            self.send.send_nowait(event)

    async def notify(self, message: str) -> None:
        """Send one notification; progress only grows (at least by 0.1), as the spec requires."""
        elapsed = round(time.monotonic() - self.started, 1)
        self.progress = max(elapsed, round(self.progress + 0.1, 1))
        try:
            await self.ctx.session.report_progress(self.progress, None, message)
        except Exception as exc:  # a vanished client must not fail the job
            log.debug("progress notification failed: %r", exc)

    async def pump(self) -> None:
        """Turn queued events into notifications, with a heartbeat when none comes for a while."""
        import anyio

        async with self.receive:
            while True:
                event: ev.Event | None = None
                with anyio.move_on_after(self.interval):
                    event = await self.receive.receive()
                if event is None:
                    await self.notify(f"still {self.status} after {round(time.monotonic() - self.started)} s")
                    continue
                rendered = _render(event)
                if rendered.status is not None:
                    self.status = rendered.status
                if rendered.message is not None:
                    await self.notify(rendered.message)


# -- warm-up ---------------------------------------------------------------------------------


class _WarmUp:
    """Server middleware that warms the planner's caches once per process, right after the
    first request of a connection (``initialize``, or ``server/discover`` on the newer protocol)
    has been answered.

    The work (:func:`skill.tools.warm_up`: one free plan, every tool's schemas) runs in a daemon
    thread, so neither the handshake nor any later request waits for it; a tool call that arrives
    first simply fills the same caches itself. One line on stderr (the host's server log) says how
    long it took, or why it failed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started = False

    async def __call__(self, ctx: Context, call_next: CallNext) -> HandlerResult:
        result = await call_next(ctx)
        if ctx.request_id is not None and not self._started:
            self.start()
        return result

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._run, name="kling3-warm-up", daemon=True).start()

    @staticmethod
    def _run() -> None:
        started = time.perf_counter()
        try:
            tools.warm_up()
        except Exception as exc:  # the tool call that needs the broken file reports it properly
            sys.stderr.write(f"kling3 MCP server: cache warm-up failed: {type(exc).__name__}: {exc}\n")
        else:
            ms = round((time.perf_counter() - started) * 1000)
            sys.stderr.write(f"kling3 MCP server: caches warm ({ms} ms)\n")
        sys.stderr.flush()


# -- server ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerOptions:
    """How the tools behave inside the server."""

    poll_interval: float = tools.DEFAULT_POLL_INTERVAL
    output_dir: Path | None = None
    progress_interval: float = DEFAULT_PROGRESS_INTERVAL

    @property
    def output_root(self) -> Path:
        """The one folder a call's ``output_dir`` may name (or a folder inside): the configured
        one, else the default videos folder."""
        return self.output_dir or tools.default_output_dir()


async def _call_with_progress(ctx: Context, opts: ServerOptions, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Run a waiting tool while a side task turns its events into progress notifications."""
    import anyio

    progress = _Progress(ctx, opts.progress_interval)
    doc: dict[str, Any] = {}
    async with anyio.create_task_group() as tg:
        tg.start_soon(progress.pump)
        try:
            doc = await tools.acall(
                name, arguments, poll_interval=opts.poll_interval, output_dir=opts.output_dir,
                on_event=progress.on_event, output_root=opts.output_root,
            )
        finally:
            tg.cancel_scope.cancel()
            progress.send.close()
    return doc


async def _call(ctx: Context, opts: ServerOptions, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """One tool call's result dict, whatever happens: a crash becomes an ``internal_error`` result."""
    spec = tools.find_tool(name)
    try:
        if spec is not None and spec.reports_progress:
            return await _call_with_progress(ctx, opts, name, arguments)
        return await tools.acall(name, arguments, poll_interval=opts.poll_interval, output_dir=opts.output_dir,
                                 output_root=opts.output_root)
    except Kling3Error as exc:  # acall returns these; kept as a safety net
        return {"error": exc.to_dict()}
    except Exception as exc:  # acall answers every failure as data; kept as a safety net
        log.exception("tool %s crashed", name)
        inner = getattr(exc, "exceptions", None)  # an exception group: say what is inside
        while isinstance(inner, tuple) and len(inner) == 1 and isinstance(inner[0], Exception):
            exc = inner[0]
            inner = getattr(exc, "exceptions", None)
        return {"error": {"code": "internal_error", "field": None, "message": f"{type(exc).__name__}: {exc}"}}


@dataclass(frozen=True)
class _Handlers:
    """The MCP request handlers, bound to the server's options (the SDK calls them with ``(ctx, params)``)."""

    opts: ServerOptions

    async def list_tools(self, ctx: Context, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        from mcp import types

        return types.ListToolsResult(tools=[_tool(spec) for spec in tools.tool_specs()])

    async def call_tool(self, ctx: Context, params: types.CallToolRequestParams) -> types.CallToolResult:
        doc = await _call(ctx, self.opts, params.name, dict(params.arguments or {}))
        return _tool_result(params.name, doc)

    async def list_resources(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        from mcp import types

        return types.ListResourcesResult(resources=_resource_list())

    async def list_prompts(self, ctx: Context, params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
        from mcp import types

        return types.ListPromptsResult(prompts=_prompt_list())

    async def get_prompt(self, ctx: Context, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        return _get_prompt(params.name, params.arguments)

    async def list_resource_templates(
        self, ctx: Context, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        from mcp import types

        return types.ListResourceTemplatesResult(resource_templates=_resource_templates())

    async def read_resource(self, ctx: Context, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        uri = str(params.uri)
        if uri.startswith(_JOB_PREFIX):
            return await _read_job(uri)
        return _read_resource(uri)


MIN_MCP_MAJOR = 2


def _require_mcp() -> None:
    """The official MCP SDK 2.x must be installed (its low-level server API is the 2.x one)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("mcp")
    except PackageNotFoundError:
        raise ConfigError(
            "the MCP server needs the official MCP SDK: pip install 'kling3-skill[mcp]', "
            "or start it with uvx --from 'kling3-skill[mcp]' kling3-skill mcp",
            code="missing_dependency",
        ) from None
    major = found.split(".", 1)[0]
    if not major.isdigit() or int(major) < MIN_MCP_MAJOR:
        raise ConfigError(
            f"the MCP server needs the MCP SDK {MIN_MCP_MAJOR}.x, found mcp {found}: "
            "pip install -U 'kling3-skill[mcp]'",
            code="missing_dependency",
        )


def build_server(options: ServerOptions | None = None) -> Server[Any]:
    """The low-level MCP ``Server`` with the tools and resources wired; not yet running."""
    _require_mcp()
    from mcp.server import Server

    from skill._version import __version__

    handlers = _Handlers(options or ServerOptions())
    server: Server[Any] = Server(
        SERVER_NAME,
        version=__version__,
        title=SERVER_TITLE,
        instructions=INSTRUCTIONS,
        get_tool_input_schema=_input_schema_of,
        on_list_tools=handlers.list_tools,
        on_call_tool=handlers.call_tool,
        on_list_resources=handlers.list_resources,
        on_list_resource_templates=handlers.list_resource_templates,
        on_read_resource=handlers.read_resource,
        on_list_prompts=handlers.list_prompts,
        on_get_prompt=handlers.get_prompt,
    )
    server.middleware.append(_WarmUp())
    return server


async def _serve_stdio(server: Server[Any]) -> None:
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


async def _serve_http(server: Server[Any], host: str, port: int) -> None:
    import uvicorn

    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.stderr.write(
            f"warning: serving on {host}: anyone who can reach it can spend your RunComfy balance; "
            "the server has no authentication of its own\n"
        )
    app = server.streamable_http_app(host=host)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    sys.stderr.write(f"kling3 MCP server on http://{host}:{port}/mcp (streamable HTTP)\n")
    sys.stderr.flush()
    await uvicorn.Server(config).serve()


def serve(
    *,
    http: bool = False,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    poll_interval: float = tools.DEFAULT_POLL_INTERVAL,
    output_dir: str | Path | None = None,
    progress_interval: float = DEFAULT_PROGRESS_INTERVAL,
) -> None:
    """Serve MCP until the client hangs up (stdio) or the process is stopped (HTTP).

    ``http=True`` serves streamable HTTP at ``http://{host}:{port}/mcp`` (127.0.0.1 by default,
    with DNS-rebinding protection). ``output_dir`` is where videos go when a call names none
    (default :func:`skill.settings.videos_dir`, never the working directory the host chose),
    and the only folder (with its subfolders) a call may name.
    Raises :class:`~skill.errors.ConfigError` (``missing_dependency``) without the ``mcp`` extra.
    """
    import anyio

    server = build_server(
        ServerOptions(
            poll_interval=max(0.01, poll_interval),
            output_dir=Path(output_dir).expanduser().resolve() if output_dir else None,
            progress_interval=max(0.05, progress_interval),
        )
    )
    if http:
        anyio.run(_serve_http, server, host, port)
    else:
        anyio.run(_serve_stdio, server)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m skill.mcp_server",
        description="Serve the kling3 tools over MCP: stdio by default, streamable HTTP with --http.",
    )
    p.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"HTTP host (default {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"HTTP port (default {DEFAULT_PORT})")
    p.add_argument("--output-dir", default=None,
                   help="where videos go when a call names no output_dir, and the only folder a call "
                   "may name (default: KLING3_OUTPUT_DIR, else kling3/ in the user's videos folder; "
                   "never the working directory)")
    p.add_argument("--poll-interval", type=float, default=tools.DEFAULT_POLL_INTERVAL, metavar="S",
                   help="seconds between status polls while a tool waits (default 2)")
    p.add_argument("--progress-interval", type=float, default=DEFAULT_PROGRESS_INTERVAL, metavar="S",
                   help="seconds between heartbeat progress notifications (default 5)")
    return p


def main(argv: list[str] | None = None) -> int:
    """``python -m skill.mcp_server [--http] [--host H] [--port N]``; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        serve(
            http=args.http,
            host=args.host,
            port=args.port,
            poll_interval=args.poll_interval,
            output_dir=args.output_dir,
            progress_interval=args.progress_interval,
        )
    except Kling3Error as exc:
        sys.stderr.write(f"error: {exc.message} [{exc.code}]\n")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # no traceback reaches the user
        sys.stderr.write(f"error: the MCP server stopped: {type(exc).__name__}: {exc} [internal_error]\n")
        return 70
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
