"""``kling3 plan`` and ``kling3 prompt``: the free commands, which send nothing.

They are the hot path (agents call ``plan`` before every paid run), so this module and what it
imports at the top stay light: the planner is imported inside the handlers, and nothing here
touches httpx, mcp or asyncio.
"""

from __future__ import annotations

import argparse
import sys

from skill.cli.flags import SubParsers, add_json, add_request_flags, plan_from_args, rules_from_args
from skill.cli.plan_batch import plan_batch
from skill.cli.render import emit_json, print_plan, warn
from skill.errors import UsageError

__all__ = ["add_plan_parser", "add_prompt_parser", "cmd_plan", "cmd_prompt", "register"]


def register(sub: SubParsers) -> None:
    """Add ``plan`` and ``prompt``, in the order ``kling3 --help`` lists them."""
    add_plan_parser(sub)
    add_prompt_parser(sub)


def add_plan_parser(sub: SubParsers) -> None:
    """``plan TEXT`` or ``plan --batch FILE``, with every request field."""
    p = sub.add_parser(
        "plan",
        help="free: show endpoint, prompt, payload, cost and reasons (sends nothing)",
        description=(
            "Plan a video without spending anything. The text may name the tier, ratio, length, "
            "audio and budget in plain words; flags override the text.\n\n"
            "examples:\n"
            "  kling3 plan \"a quick vertical draft of a barista pulling espresso, with cafe sound\"\n"
            "  kling3 plan \"hero shot of a sneaker on wet asphalt\" --duration 8 --json\n"
            "  kling3 plan \"slow push-in, she smiles\" --image-url https://example.com/face.jpg\n"
            "  kling3 plan --batch requests.jsonl --json   # one JSON request per line"
        ),
    )
    p.add_argument("text", nargs="?", help="what the video shows, in plain words")
    p.add_argument("--batch", metavar="FILE", help="plan every JSON line of FILE ('-' for stdin); one JSON line out per line in")
    add_request_flags(p)
    add_json(p)
    p.set_defaults(handler=cmd_plan)


def cmd_plan(args: argparse.Namespace) -> int:
    """Print the plan (human or JSON); ``--batch`` hands the file to the batch planner.
    Once it has answered, the process ends without the interpreter's teardown (see
    :mod:`skill.cli.quick_exit`): for a cold plan the teardown costs more than a third of the floor."""
    args.exit_now = True  # read only once the command has returned (an error exits the ordinary way)
    if args.batch:
        if args.text:
            raise UsageError("kling3 plan: give either TEXT or --batch FILE, not both")
        return plan_batch(args.batch, rules=args.rules, templates=args.templates)
    if not args.text and not args.shot:
        raise UsageError("kling3 plan: give TEXT (what the video shows), --shot, or --batch FILE")
    plan = plan_from_args(args)
    if args.json:
        emit_json(plan.to_json_dict())
    else:
        print_plan(plan, rules=rules_from_args(args))
    return 0


def add_prompt_parser(sub: SubParsers) -> None:
    """``prompt TEXT``: the same request fields as ``plan``, without ``--batch``."""
    p = sub.add_parser(
        "prompt",
        help="free: print only the prompt that would be sent (one line per call)",
        description=(
            "Print the prompt an expert would write from the request: camera and framing first, "
            "numbered shots, identity anchors for image-to-video, the audio described, exclusions "
            "moved to the negative prompt. Lint warnings go to stderr.\n\n"
            "examples:\n"
            "  kling3 prompt \"she walks to the window, slow push-in, golden hour, no text overlays\"\n"
            "  kling3 prompt \"Shot 1: wide cafe. Shot 2: close-up on the cup\" --json"
        ),
    )
    p.add_argument("text", nargs="?", help="what the video shows, in plain words")
    add_request_flags(p)
    add_json(p)
    p.set_defaults(handler=cmd_prompt)


def cmd_prompt(args: argparse.Namespace) -> int:
    """Print one prompt per call (stdout) and the lint warnings (stderr), or all of it as JSON."""

    if not args.text and not args.shot:
        raise UsageError("kling3 prompt: give TEXT (what the video shows) or --shot")
    plan = plan_from_args(args)
    if args.json:
        emit_json({
            "prompt": plan.prompt,
            "negative_prompt": plan.negative_prompt,
            "prompt_parts": plan.prompt_parts,
            "segments": [{"index": s.index, "duration": s.duration, "prompt": s.prompt} for s in plan.segments],
            "warnings": plan.warnings,
        })
    else:
        for seg in plan.segments:
            sys.stdout.write(seg.prompt + "\n")
        for w in plan.warnings:
            warn(w)
    return 0
