"""The ``kling3`` command line.

Agent-friendly by construction: every command takes ``--json`` (stdout carries exactly one JSON
document, or one per line for batches; diagnostics go to stderr), never prompts without a TTY,
and exits with a documented sysexits code. Heavy modules (httpx, mcp) are imported only by the
commands that need them, so ``kling3 plan`` starts fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TextIO

from .errors import Kling3Error, UsageError

__all__ = ["main"]

EXIT_CODES = """\
exit codes:
  0    success (plan printed; job done)
  1    the job failed or was cancelled
  64   usage error (bad flags)
  65   bad input, refused before anything was sent; or the API rejected the input (402: balance)
  66   an input file does not exist
  69   the API is unavailable (5xx)
  75   temporary: rate limited, network trouble, or --timeout reached (the job keeps running)
  77   not signed in, or the token was rejected
  78   a rules, catalog or template file is broken
  130  interrupted (Ctrl-C)
"""


class _Parser(argparse.ArgumentParser):
    """argparse that exits 64 (EX_USAGE) and answers in JSON when ``--json`` was asked."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def _add_request_flags(p: argparse.ArgumentParser) -> None:
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
    g.add_argument("--rules", metavar="FILE", default=os.environ.get("KLING3_RULES"), help="use another routing_rules.yaml (env KLING3_RULES)")


_FIELD_FLAGS = (
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


def _request_from_args(args: argparse.Namespace) -> dict[str, Any]:
    req: dict[str, Any] = {"text": args.text or ""}
    for name in _FIELD_FLAGS:
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


# -- output helpers --------------------------------------------------------------------------


def _emit_json(doc: Any, out: TextIO | None = None) -> None:
    stream = out or sys.stdout
    stream.write(json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n")
    stream.flush()


def _say(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def _print_plan(plan: Any) -> None:
    p = plan.params
    lines = [
        f"endpoint   {plan.endpoint}",
        f"tier       {plan.tier} ({plan.resolution}), {plan.mode}",
        f"cost       ${plan.cost_usd:.4f}".rstrip("0").rstrip(".")
        + f" for {p.duration} s, audio {'on' if p.generate_audio else 'off'}",
        f"aspect     {p.aspect_ratio}" + ("" if p.render_aspect_ratio == p.aspect_ratio else f" (rendered {p.render_aspect_ratio}, cropped)"),
    ]
    if p.image_url:
        lines.append(f"image      {p.image_url}")
    if p.tail_image_url:
        lines.append(f"end frame  {p.tail_image_url}")
    if len(plan.segments) > 1:
        lines.append(f"calls      {len(plan.segments)}: " + ", ".join(f"{s.duration} s ${s.cost_usd:g}" for s in plan.segments))
    lines.append("why")
    for slot, rule in plan.decision.rules.items():
        lines.append(f"  {slot:<15} {rule}")
    for change in plan.decision.changes:
        lines.append(f"  change: {change['reason']}")
    words = [f"{s['words']!r}->{s['name']}" + (f" ({s['state']})" if s.get("state") else "") for s in plan.decision.signals]
    if words:
        lines.append("  signals: " + ", ".join(words))
    lines.append("prompt")
    lines.append("  " + plan.prompt)
    if plan.negative_prompt:
        lines.append(f"negative   {plan.negative_prompt}")
    lines.append("payload    " + json.dumps(plan.payload, ensure_ascii=False))
    for w in plan.warnings:
        lines.append(f"warning    {w}")
    sys.stdout.write("\n".join(lines) + "\n")


# -- commands --------------------------------------------------------------------------------


def cmd_plan(args: argparse.Namespace) -> int:
    from .plan import make_plan

    if args.batch:
        return _plan_batch(args)
    if not args.text and not args.shot:
        raise UsageError("kling3 plan: give TEXT (what the video shows), --shot, or --batch FILE")
    plan = make_plan(_request_from_args(args), rules_path=args.rules)
    if args.json:
        _emit_json(plan.to_json_dict())
    else:
        _print_plan(plan)
    return 0


def _plan_batch(args: argparse.Namespace) -> int:
    from .plan import make_plan

    if args.text:
        raise UsageError("kling3 plan: give either TEXT or --batch FILE, not both")
    try:
        stream = sys.stdin if args.batch == "-" else open(args.batch, encoding="utf-8")  # noqa: SIM115
    except FileNotFoundError:
        raise Kling3Error(f"batch file not found: {args.batch}", code="no_input") from None
    except OSError as exc:
        raise Kling3Error(f"cannot read batch file {args.batch}: {exc.strerror}", code="no_input") from None
    out = sys.stdout
    write = out.write
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with stream:
        for lineno, line in enumerate(stream, 1):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                write(dumps({"error": {"code": "invalid_input", "field": None, "line": lineno, "message": f"line {lineno}: not JSON: {exc.msg}"}}) + "\n")
                continue
            try:
                if not isinstance(obj, dict):
                    raise UsageError("a request line must be a JSON object")
                doc = make_plan(obj, rules_path=args.rules).to_json_dict()
            except Kling3Error as exc:
                err = exc.to_dict()
                err["line"] = lineno
                if exc.code == "usage":
                    err["code"] = "invalid_input"
                doc = {"error": err}
            write(dumps(doc) + "\n")
    out.flush()
    return 0


# -- parser ----------------------------------------------------------------------------------

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kling3",
        description=(
            "Plan, price and run Kling 3.0 videos on the RunComfy Model API. "
            "Start with `kling3 plan \"...\"`: it is free and shows the endpoint, prompt, exact "
            "payload, cost and the reasons."
        ),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kling3 {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

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
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("text", nargs="?", help="what the video shows, in plain words")
    p.add_argument("--batch", metavar="FILE", help="plan every JSON line of FILE ('-' for stdin); one JSON line out per line in")
    _add_request_flags(p)
    _add_json(p)
    p.set_defaults(handler=cmd_plan)

    return parser


def _version() -> str:
    from . import __version__

    return __version__


def _wants_json(argv: Sequence[str]) -> bool:
    return "--json" in argv


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kling3`` console script; returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    as_json = _wants_json(args_list)
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
        handler: Handler | None = getattr(args, "handler", None)
        if handler is None:
            parser.print_help(sys.stderr)
            return 64
        return handler(args)
    except Kling3Error as exc:
        code = exc.exit_code
        if exc.code == "no_input":
            code = 66
        if as_json:
            _emit_json({"error": exc.to_dict()})
        _say(f"error: {exc.message}" + (f" [{exc.code}]" if exc.code else ""))
        return code
    except KeyboardInterrupt:
        if as_json:
            _emit_json({"error": {"code": "interrupted", "field": None, "message": "interrupted"}})
        _say("interrupted")
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
