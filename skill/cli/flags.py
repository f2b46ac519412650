"""Flags that several commands share, and the one place that turns them into a request.

``plan``, ``prompt`` and ``run`` take the same request fields, and every command takes ``--json``;
defining them once keeps their spelling, help text and defaults identical across commands. Only
argparse and the settings module are imported here, so the plan path stays light.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, TypeAlias

from skill import settings

if TYPE_CHECKING:
    from skill.planning import Plan

__all__ = [
    "FIELD_FLAGS",
    "SubParsers",
    "add_journal",
    "add_json",
    "add_request_flags",
    "add_wait_flags",
    "plan_from_args",
    "request_from_args",
    "rules_from_args",
]

SubParsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
"""What ``add_subparsers`` returns: each command module adds its parsers to it."""

FIELD_FLAGS = (
    "image_url",
    "tail_image_url",
    "tier",
    "mode",
    "duration",
    "aspect_ratio",
    "generate_audio",
    "negative_prompt",
    "cfg_scale",
    "max_cost_usd",
    "seed",
)
"""Request fields copied from the flags into the request when given (None means not given)."""


def add_journal(p: argparse.ArgumentParser) -> None:
    """``--journal URL``: the journal this command reads and writes (beats KLING3_JOURNAL_URL)."""
    p.add_argument("--journal", metavar="URL", default=None,
                   help="postgresql://user:password@host/db for a team journal, or a SQLite file "
                        "(env KLING3_JOURNAL_URL; default: jobs.sqlite3 in KLING3_HOME)")


def add_json(p: argparse.ArgumentParser) -> None:
    """``--json``: every command has it, so agents can always ask for one JSON document."""
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def add_request_flags(p: argparse.ArgumentParser) -> None:
    """The structured request fields; they override whatever the text says."""
    g = p.add_argument_group("request fields (structured fields always beat the text)")
    g.add_argument("--image-url", metavar="URL", help="https URL of the first frame (jpg/png/webp/bmp): image-to-video")
    g.add_argument("--tail-image-url", metavar="URL", help="https URL of the last frame (pro and 4k image-to-video)")
    g.add_argument("--tier", choices=["standard", "pro", "4k"], help="force a tier (default: chosen by the rules)")
    g.add_argument("--mode", choices=["t2v", "i2v"], help="force text-to-video or image-to-video")
    g.add_argument("--duration", type=int, metavar="N", help="total seconds, 3-120 (over 15 becomes several calls)")
    g.add_argument("--aspect-ratio", metavar="R", help="16:9, 9:16, 1:1, or 4:3, 3:4, 21:9 (cropped locally)")
    audio = g.add_mutually_exclusive_group()
    audio.add_argument("--audio", dest="generate_audio", action="store_const", const=True, help="native audio (+50%% on standard/pro)")
    audio.add_argument("--no-audio", dest="generate_audio", action="store_const", const=False, help="no audio (the default)")
    g.add_argument("--negative-prompt", metavar="TEXT", help="things to keep out of the video")
    g.add_argument("--cfg-scale", type=float, metavar="F", help="prompt adherence 0-1 (best effort)")
    g.add_argument("--max-cost-usd", type=float, metavar="X", help="spend cap for this request; the tier steps down to fit")
    g.add_argument("--seed", type=int, help="accepted but not sent: Kling 3.0 takes no seed")
    g.add_argument("--shot", action="append", metavar="TEXT[@SECONDS]", help="add a shot (repeatable), e.g. --shot 'wide cafe@3'")
    g.add_argument("--rules", metavar="FILE", default=settings.rules_path(), help="use another routing_rules.yaml (env KLING3_RULES)")
    g.add_argument("--templates", metavar="DIR", default=None, help="use your own prompt templates (env KLING3_TEMPLATES)")


def add_wait_flags(p: argparse.ArgumentParser) -> None:
    """Where videos go and how long to wait: shared by every command that downloads."""
    p.add_argument("--output-dir", default=None, help="where videos go (default: the current directory)")
    p.add_argument("--poll-interval", type=float, default=2.0, metavar="S",
                   help="seconds between status polls (default 2; at least 1 unless the API is on loopback)")
    p.add_argument("--timeout", type=float, default=1800.0, metavar="S",
                   help="stop waiting after S seconds (default 1800); the job keeps running, exit 75")


def plan_from_args(args: argparse.Namespace, request: dict[str, Any] | None = None) -> Plan:
    """Plan ``request`` (default: the one the flags give) with ``--rules``/``--templates``.

    ffmpeg is looked for only when the plan needs stitching or cropping.
    """
    from skill.media.ffmpeg import video_tools_available
    from skill.planning import make_plan

    return make_plan(
        request_from_args(args) if request is None else request,
        rules_path=getattr(args, "rules", None),
        template_dir=getattr(args, "templates", None),
        video_tools=video_tools_available,
    )


def rules_from_args(args: argparse.Namespace) -> Any:
    """The compiled rule book of ``--rules`` (already loaded and cached by planning)."""
    from skill.rulebook import load_rules

    return load_rules(getattr(args, "rules", None))


def request_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The request dict the planner takes: the text, the given fields, and ``--shot TEXT@N``."""
    req: dict[str, Any] = {"text": args.text or ""}
    for name in FIELD_FLAGS:
        value = getattr(args, name, None)
        if value is not None:
            req[name] = value
    if args.shot:
        shots = []
        for raw in args.shot:
            text, sep, secs = raw.rpartition("@")
            if sep and secs.strip().isdigit():
                shots.append({"prompt": text, "duration": int(secs)})
            else:
                shots.append({"prompt": raw})
        req["shots"] = shots
    return req
