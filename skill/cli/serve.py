"""Commands that serve or describe the tools rather than make one video: ``emulator``, ``demo``,
``tools`` and ``mcp``.

The emulator and demo run entirely on this machine (nothing is spent); ``tools`` prints the
function-calling schemas; ``mcp`` serves them. Their heavy imports (the emulator, the mcp SDK)
happen inside the handlers.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from skill.cli.flags import SubParsers, add_journal, add_json, plan_from_args
from skill.cli.render import emit_json, say
from skill.errors import Unavailable, UsageError
from skill.money import usd

__all__ = [
    "RESULT_SHAPE_CHOICES",
    "add_demo_parser",
    "add_emulator_parser",
    "add_mcp_parser",
    "add_tools_parser",
    "cmd_demo",
    "cmd_emulator",
    "cmd_mcp",
    "cmd_tools",
    "register",
]


def register(sub: SubParsers) -> None:
    """Add ``emulator``, ``demo``, ``tools`` and ``mcp``, in the order ``kling3 --help`` lists them."""
    add_emulator_parser(sub)
    add_demo_parser(sub)
    add_tools_parser(sub)
    add_mcp_parser(sub)


RESULT_SHAPE_CHOICES = ("video", "videos", "image_videos", "string")
"""The emulator's result shapes (``skill.testing.emulator.RESULT_SHAPES``), spelled here so the
parser does not import the emulator; a test keeps the two equal."""


def add_emulator_parser(sub: SubParsers) -> None:
    """``emulator [--port N] [--json]``: serve in the foreground, print the two ``export`` lines."""
    p = sub.add_parser(
        "emulator",
        help="serve the built-in RunComfy API emulator on 127.0.0.1 (offline, free)",
        description=(
            "Serve the built-in RunComfy Model API emulator in the foreground until Ctrl-C. It prints "
            "the two `export` lines that point kling3 (and the official runcomfy CLI) at it; paste them "
            "into another shell. Nothing leaves this machine and nothing is spent. Progress and the "
            "counters URL go to stderr.\n\n"
            "examples:\n"
            "  kling3 emulator --port 8765\n"
            "  kling3 emulator --result-shape image_videos   # a cover image beside the video\n"
            "  kling3 emulator --json                        # {\"env\": {...}, \"exports\": [...]}"
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (the default)")
    p.add_argument("--token", default="test-token", help="the Bearer token it accepts (not a RunComfy token)")
    p.add_argument("--queue-seconds", type=float, default=1.0, metavar="S", help="seconds a job waits in the queue")
    p.add_argument("--run-seconds", type=float, default=3.0, metavar="S", help="seconds a job then runs")
    p.add_argument("--result-shape", choices=RESULT_SHAPE_CHOICES, default="video",
                   help="what a finished job's output looks like (default video: {\"video\": url})")
    add_json(p)
    p.set_defaults(handler=cmd_emulator)


def cmd_emulator(args: argparse.Namespace) -> int:
    """Serve the emulator until interrupted; a port already in use exits 69 (EX_UNAVAILABLE)."""
    import errno

    from skill.testing.emulator import EmulatorConfig, serve_forever

    if not 0 <= args.port <= 65535:
        raise UsageError(f"kling3 emulator: --port must be 0-65535, not {args.port}", field="port")
    config = EmulatorConfig(token=args.token, queue_seconds=args.queue_seconds, run_seconds=args.run_seconds,
                            result_shape=args.result_shape)
    try:
        serve_forever(config, args.host, args.port, on_ready=lambda emu: _announce(emu, args.json))
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise
        what = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror})"
        raise Unavailable(
            f"port {args.port} on {args.host} {what}: stop what holds it, pick another with --port N, "
            "or pass --port 0 for a free one",
            code="port_in_use" if exc.errno == errno.EADDRINUSE else "port_unusable",
            field="port",
            details={"host": args.host, "port": args.port},
        ) from None
    return 0


def _announce(emu: Any, as_json: bool) -> None:
    """The two ``export`` lines (stdout), then how to use and stop it (stderr)."""
    from skill.settings import API_BASE_VAR, TOKEN_VAR

    env = {API_BASE_VAR: emu.base_url, TOKEN_VAR: emu.token}
    exports = [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
    counters = emu.origin + "/__emulator/counters"
    if as_json:
        emit_json({"api_base": emu.base_url, "env": env, "exports": exports, "counters_url": counters})
        emit_json({"event": "emulator_ready", "api_base": emu.base_url}, sys.stderr)
        return
    sys.stdout.write("\n".join(exports) + "\n")
    sys.stdout.flush()
    say(f"emulator: the RunComfy Model API at {emu.base_url} (nothing is spent); paste the two lines above "
        f"into another shell. Counters: {counters}. Ctrl-C stops it.")


def add_demo_parser(sub: SubParsers) -> None:
    """``demo [TEXT]``."""
    p = sub.add_parser("demo", help="run one request end to end against the built-in emulator (offline, free)")
    p.add_argument("text", nargs="?", help="what the video shows (default: the barista example)")
    p.add_argument("--output-dir", default=None, help="where the MP4 goes (default ./kling3-demo)")
    add_json(p)
    p.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    """One request end to end against the built-in emulator: nothing leaves this machine."""
    import tempfile

    from skill.cli.progress import progress_printer
    from skill.execution.client import RunComfyClient
    from skill.execution.flow import run
    from skill.execution.journal import Journal
    from skill.testing.emulator import Emulator, EmulatorConfig

    text = args.text or "a quick vertical draft of a barista pulling espresso, with cafe sound"
    out_dir = Path(args.output_dir or "kling3-demo").resolve()
    plan = plan_from_args(args, {"text": text})
    events = progress_printer(args.json)
    if not args.json:
        say(f"demo: {plan.endpoint}, {usd(plan.cost_usd)} (emulated: nothing is spent)")
    with (
        tempfile.TemporaryDirectory() as home,
        Emulator(EmulatorConfig(queue_seconds=0.5, run_seconds=1.0)) as emu,
        Journal(Path(home) / "jobs.sqlite3") as journal,
        RunComfyClient(base_url=emu.base_url, token=emu.token) as client,
    ):
        result = run(plan, output_dir=out_dir, poll_interval=0.25, on_event=events, client=client,
                     journal=journal, check_live_schema=True)
    if args.json:
        emit_json({"demo": True, **result.to_json_dict()})
    else:
        for f in result.files:
            sys.stdout.write(f + "\n")
    return 0


def add_tools_parser(sub: SubParsers) -> None:
    """``tools [--format openai|anthropic]``."""
    p = sub.add_parser(
        "tools",
        help="print the function-calling tool schemas (OpenAI or Anthropic format)",
        description="Print the agent tools as JSON, generated from the same pydantic models the CLI uses.\n\n"
        "examples:\n  kling3 tools --format openai > tools.json\n  kling3 tools --format anthropic",
    )
    p.add_argument("--format", choices=["openai", "anthropic"], default="openai")
    add_json(p)
    p.set_defaults(handler=cmd_tools)


def cmd_tools(args: argparse.Namespace) -> int:
    """Print the tool schemas; they come from the same models the CLI validates with."""
    from skill.tools import cli_tools

    sys.stdout.write(cli_tools(args.format) + "\n")
    return 0


def add_mcp_parser(sub: SubParsers) -> None:
    """``mcp [--http --host --port]``."""
    p = sub.add_parser(
        "mcp",
        help="serve the tools over MCP (stdio, or streamable HTTP on 127.0.0.1)",
        description="Serve over MCP the agent tools that `kling3 tools` lists (plan, generate, batch and "
        "variants, status, fetch, cancel, jobs), the reference documents, a resource per journal job and "
        "ready-made prompts. Needs the [mcp] extra.\n\n"
        "examples:\n  kling3 mcp                 # stdio, for Claude Desktop and other hosts\n"
        "  kling3 mcp --http --port 8765\n"
        "  uvx --from 'kling3-skill[mcp]' kling3-skill mcp   # what the README's host snippets run",
    )
    p.add_argument("--http", action="store_true", help="streamable HTTP instead of stdio")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--poll-interval", type=float, default=2.0, metavar="S")
    p.add_argument("--output-dir", default=None,
                   help="where generated videos go, and the only folder a call's own output_dir may name "
                   "(default: KLING3_OUTPUT_DIR, else ~/Videos/kling3)")
    add_journal(p)
    add_json(p)
    p.set_defaults(handler=cmd_mcp)


def cmd_mcp(args: argparse.Namespace) -> int:
    """Serve the tools over MCP (stdio by default); needs the [mcp] extra."""
    from skill.mcp_server import serve

    serve(http=args.http, host=args.host, port=args.port, poll_interval=args.poll_interval, output_dir=args.output_dir)
    return 0
