"""The MCP server: the six tools of :mod:`skill.tools`, plus the catalog, rules and prompting guide.

Run it over stdio (what desktop hosts and IDEs launch) or streamable HTTP on 127.0.0.1::

    python -m skill.mcp_server                  # stdio
    python -m skill.mcp_server --http --port 8765   # http://127.0.0.1:8765/mcp

Tools, names and input schemas are exactly those of :mod:`skill.tools` (one source of truth).
Every result carries structured content plus a short text summary; refusals and API errors are
tool errors (``isError``) whose structured content is ``{"error": {"code", "field", "message"}}``.

``kling_generate_video`` and ``kling_fetch_video`` wait at most ``wait_seconds`` and send a progress
notification on every status change and every few seconds in between, so hosts that reset their
time-out on progress keep the call alive. A cancelled ``kling_generate_video`` (the client's
``notifications/cancelled``) cancels its job at the API while it is still queued.

Needs the ``mcp`` extra (``pip install 'kling3-skill[mcp]'``, the official MCP Python SDK 2.x);
nothing else in the package imports it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skill import tools
from skill.errors import ConfigError, Kling3Error
from skill.money import usd

if TYPE_CHECKING:
    from mcp.server import Server

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "INSTRUCTIONS",
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
INSTRUCTIONS = (
    "Kling 3.0 text-to-video and image-to-video on RunComfy. Call kling_plan_video first: it is free "
    "and shows the endpoint, prompt, payload and cost. Show the user the tier and the cost, and only "
    "then call kling_generate_video (it spends money; get an explicit OK for 4k, about 5x standard). "
    "If kling_generate_video answers before the video is ready, call kling_fetch_video with its "
    "request_id instead of generating again. Resources: kling3://catalog (endpoints and prices), "
    "kling3://routing-rules (how a request is routed), kling3://prompting-guide (how to write prompts)."
)

_TOOL_TITLES = {
    "kling_plan_video": "Plan a Kling video (free)",
    "kling_generate_video": "Generate a Kling video (spends)",
    "kling_video_status": "Kling job status",
    "kling_fetch_video": "Fetch a Kling video",
    "kling_cancel_video": "Cancel a queued Kling job",
    "kling_list_jobs": "List recent Kling jobs",
}
# (read_only, destructive, idempotent, open_world)
_TOOL_HINTS: dict[str, tuple[bool, bool, bool, bool]] = {
    "kling_plan_video": (True, False, True, False),
    "kling_generate_video": (False, False, False, True),
    "kling_video_status": (True, False, True, True),
    "kling_fetch_video": (False, False, True, True),
    "kling_cancel_video": (False, True, True, True),
    "kling_list_jobs": (True, False, True, False),
}
_WAITING_TOOLS = ("kling_generate_video", "kling_fetch_video")

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

    return data_path("prompting-guide.md").read_text(encoding="utf-8")


@dataclass(frozen=True)
class _Resource:
    uri: str
    name: str
    title: str
    description: str
    mime_type: str
    read: Any  # Callable[[], str]


RESOURCES: tuple[_Resource, ...] = (
    _Resource(
        "kling3://catalog", "catalog", "Kling 3.0 endpoint catalog",
        "The six Kling 3.0 endpoints on RunComfy: model ids, per-second prices with and without audio, "
        "limits, aspect ratios and the wire schema of each (skill/data/catalog.yaml as JSON).",
        "application/json", _catalog_json,
    ),
    _Resource(
        "kling3://routing-rules", "routing-rules", "Routing rules",
        "The routing policy as implemented: the YAML rules that pick mode, tier, length, ratio and "
        "audio from a request, and the refusals (routing_rules.yaml).",
        "application/yaml", _rules_text,
    ),
    _Resource(
        "kling3://prompting-guide", "prompting-guide", "Kling 3.0 prompting guide",
        "How to write prompts for Kling 3.0: motion and camera first, numbered shots, identity "
        "anchors for image-to-video, audio and dialogue tags.",
        "text/markdown", _guide_text,
    ),
)


# -- server ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerOptions:
    """How the tools behave inside the server."""

    poll_interval: float = tools.DEFAULT_POLL_INTERVAL
    output_dir: Path | None = None
    progress_interval: float = DEFAULT_PROGRESS_INTERVAL


MIN_MCP_MAJOR = 2


def _require_mcp() -> None:
    """The official MCP SDK 2.x must be installed (its low-level server API is the 2.x one)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("mcp")
    except PackageNotFoundError:
        raise ConfigError(
            "the MCP server needs the official MCP SDK: pip install 'kling3-skill[mcp]'",
            code="missing_dependency",
        ) from None
    major = found.split(".", 1)[0]
    if not major.isdigit() or int(major) < MIN_MCP_MAJOR:
        raise ConfigError(
            f"the MCP server needs the MCP SDK {MIN_MCP_MAJOR}.x, found mcp {found}: "
            "pip install -U 'kling3-skill[mcp]'",
            code="missing_dependency",
        )


def _describe(event: dict[str, Any]) -> str | None:
    kind = event.get("event")
    if kind == "submitting":
        return f"submitting to {event.get('endpoint')} ({usd(event.get('cost_usd'))})"
    if kind == "submitted":
        return f"submitted: request_id {event.get('request_id')}"
    if kind == "status":
        pos = event.get("queue_position")
        return f"{event.get('status')}" + (f" (queue position {pos})" if pos is not None else "") + (
            f", {event.get('elapsed_s')} s"
        )
    if kind == "downloading":
        return "downloading the video"
    if kind == "done":
        return "saved " + ", ".join(str(f) for f in event.get("files", []))
    if kind in ("cancelled", "not_cancellable", "cancel_failed", "schema_unavailable"):
        return f"{kind}: {event.get('message') or event.get('request_id') or ''}".rstrip(": ")
    return None


def build_server(options: ServerOptions | None = None) -> Server[Any]:
    """The low-level MCP ``Server`` with the tools and resources wired; not yet running."""
    _require_mcp()
    import anyio
    from mcp import types
    from mcp.server import Server, ServerRequestContext

    opts = options or ServerOptions()

    def tool_list() -> list[types.Tool]:
        out = []
        for spec in tools.tool_specs():
            ro, destructive, idempotent, open_world = _TOOL_HINTS[spec.name]
            out.append(
                types.Tool(
                    name=spec.name,
                    title=_TOOL_TITLES[spec.name],
                    description=spec.description,
                    input_schema=tools.input_schema(spec.name),
                    annotations=types.ToolAnnotations(
                        title=_TOOL_TITLES[spec.name],
                        read_only_hint=ro,
                        destructive_hint=destructive,
                        idempotent_hint=idempotent,
                        open_world_hint=open_world,
                    ),
                )
            )
        return out

    async def on_list_tools(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tool_list())

    def to_result(name: str, doc: dict[str, Any]) -> types.CallToolResult:
        is_error = isinstance(doc.get("error"), dict)
        return types.CallToolResult(
            content=[
                types.TextContent(type="text", text=tools.summarize(name, doc)),
                types.TextContent(type="text", text=json.dumps(doc, ensure_ascii=False)),
            ],
            structured_content=doc,
            is_error=is_error,
        )

    async def with_progress(ctx: ServerRequestContext[Any, Any], name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """Run a waiting tool while a side task turns its events into progress notifications."""
        send, receive = anyio.create_memory_object_stream[dict[str, Any]](256)
        started = time.monotonic()
        state: dict[str, Any] = {"progress": 0.0, "status": "working"}

        def on_event(event: dict[str, Any]) -> None:
            with contextlib.suppress(anyio.WouldBlock, anyio.BrokenResourceError, anyio.ClosedResourceError):
                send.send_nowait(event)

        async def notify(message: str) -> None:
            elapsed = round(time.monotonic() - started, 1)
            state["progress"] = max(elapsed, round(state["progress"] + 0.1, 1))
            try:
                await ctx.session.report_progress(state["progress"], None, message)
            except Exception as exc:  # a vanished client must not fail the job
                log.debug("progress notification failed: %r", exc)

        async def pump() -> None:
            async with receive:
                while True:
                    event: dict[str, Any] | None = None
                    with anyio.move_on_after(opts.progress_interval):
                        event = await receive.receive()
                    if event is None:
                        await notify(f"still {state['status']} after {round(time.monotonic() - started)} s")
                        continue
                    if event.get("event") == "status":
                        pos = event.get("queue_position")
                        state["status"] = str(event.get("status")) + (f" (queue position {pos})" if pos is not None else "")
                    message = _describe(event)
                    if message is not None:
                        await notify(message)

        doc: dict[str, Any] = {}
        async with anyio.create_task_group() as tg:
            tg.start_soon(pump)
            try:
                doc = await tools.acall(
                    name, arguments, poll_interval=opts.poll_interval, output_dir=opts.output_dir, on_event=on_event
                )
            finally:
                tg.cancel_scope.cancel()
                send.close()
        return doc

    async def on_call_tool(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        name = params.name
        arguments = dict(params.arguments or {})
        try:
            if name in _WAITING_TOOLS:
                doc = await with_progress(ctx, name, arguments)
            else:
                doc = await tools.acall(
                    name, arguments, poll_interval=opts.poll_interval, output_dir=opts.output_dir
                )
        except Kling3Error as exc:  # acall returns these; kept as a safety net
            doc = {"error": exc.to_dict()}
        except Exception as exc:
            log.exception("tool %s crashed", name)
            doc = {"error": {"code": "internal_error", "field": None, "message": f"{type(exc).__name__}: {exc}"}}
        return to_result(name, doc)

    async def on_list_resources(
        ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        return types.ListResourcesResult(
            resources=[
                types.Resource(uri=r.uri, name=r.name, title=r.title, description=r.description, mime_type=r.mime_type)
                for r in RESOURCES
            ]
        )

    async def on_read_resource(
        ctx: ServerRequestContext[Any, Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        from mcp.shared.exceptions import MCPError

        uri = str(params.uri)
        for r in RESOURCES:
            if r.uri == uri:
                try:
                    text = r.read()
                except Kling3Error as exc:
                    raise MCPError(code=types.INTERNAL_ERROR, message=exc.message, data={"uri": uri}) from None
                return types.ReadResourceResult(
                    contents=[types.TextResourceContents(uri=uri, mime_type=r.mime_type, text=text)]
                )
        known = ", ".join(r.uri for r in RESOURCES)
        raise MCPError(code=types.INVALID_PARAMS, message=f"unknown resource {uri}; resources: {known}", data={"uri": uri})

    from skill._version import __version__

    return Server(
        SERVER_NAME,
        version=__version__,
        title="Kling 3.0 video (RunComfy)",
        instructions=INSTRUCTIONS,
        get_tool_input_schema=lambda name: tools.input_schema(name) if name in tools.TOOL_NAMES else None,
        on_list_tools=on_list_tools,
        on_call_tool=on_call_tool,
        on_list_resources=on_list_resources,
        on_read_resource=on_read_resource,
    )


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
    with DNS-rebinding protection). ``output_dir`` is where videos go when a call names none.
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
    p.add_argument("--output-dir", default=None, help="where videos go when a call names no output_dir")
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
