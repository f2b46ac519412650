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
from pathlib import Path
from typing import Any, NoReturn, TextIO

from skill import settings
from skill.errors import Kling3Error, UsageError
from skill.media.ffmpeg import video_tools_available
from skill.money import usd

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
    g.add_argument("--rules", metavar="FILE", default=settings.rules_path(), help="use another routing_rules.yaml (env KLING3_RULES)")
    g.add_argument("--templates", metavar="DIR", default=None, help="use your own prompt templates (env KLING3_TEMPLATES)")


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
        f"cost       {usd(plan.cost_usd)} for {p.duration} s, audio {'on' if p.generate_audio else 'off'}",
        f"aspect     {p.aspect_ratio}" + ("" if p.render_aspect_ratio == p.aspect_ratio else f" (rendered {p.render_aspect_ratio}, cropped)"),
    ]
    if p.image_url:
        lines.append(f"image      {p.image_url}")
    if p.tail_image_url:
        lines.append(f"end frame  {p.tail_image_url}")
    if len(plan.segments) > 1:
        lines.append(f"calls      {len(plan.segments)}: " + ", ".join(f"{s.duration} s {usd(s.cost_usd)}" for s in plan.segments))
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
    from skill.planning import make_plan

    if args.batch:
        return _plan_batch(args)
    if not args.text and not args.shot:
        raise UsageError("kling3 plan: give TEXT (what the video shows), --shot, or --batch FILE")
    plan = make_plan(_request_from_args(args), rules_path=args.rules, template_dir=args.templates, video_tools=video_tools_available)
    if args.json:
        _emit_json(plan.to_json_dict())
    else:
        _print_plan(plan)
    return 0


def cmd_prompt(args: argparse.Namespace) -> int:
    from skill.planning import make_plan

    if not args.text and not args.shot:
        raise UsageError("kling3 prompt: give TEXT (what the video shows) or --shot")
    plan = make_plan(_request_from_args(args), rules_path=args.rules, template_dir=args.templates, video_tools=video_tools_available)
    if args.json:
        _emit_json({
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
            _say(f"warning: {w}")
    return 0


_BATCH_OPTS: dict[str, Any] = {}


def _plan_line(item: tuple[int, str]) -> str:
    """One batch line -> one JSON line (a plan or an error). Runs in worker processes too."""
    from skill.planning import make_plan

    lineno, line = item
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        doc: dict[str, Any] = {"error": {"code": "invalid_input", "field": None, "line": lineno,
                                         "message": f"line {lineno}: not JSON: {exc.msg}"}}
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    try:
        if not isinstance(obj, dict):
            raise UsageError("a request line must be a JSON object")
        return make_plan(obj, rules_path=_BATCH_OPTS.get("rules"), template_dir=_BATCH_OPTS.get("templates"), video_tools=video_tools_available).model_dump_json(by_alias=True)
    except Kling3Error as exc:
        err = exc.to_dict()
        err["line"] = lineno
        if exc.code == "usage":
            err["code"] = "invalid_input"
        doc = {"error": err}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


PARALLEL_BATCH_LINES = 400


def _plan_batch(args: argparse.Namespace) -> int:
    """Plan every line, in order. Large files use every core: plans are pure, so workers forked
    after the rules and vocabulary are compiled share them and only the JSON comes back."""
    if args.text:
        raise UsageError("kling3 plan: give either TEXT or --batch FILE, not both")
    try:
        stream = sys.stdin if args.batch == "-" else open(args.batch, encoding="utf-8")  # noqa: SIM115
    except FileNotFoundError:
        raise Kling3Error(f"batch file not found: {args.batch}", code="no_input") from None
    except OSError as exc:
        raise Kling3Error(f"cannot read batch file {args.batch}: {exc.strerror}", code="no_input") from None
    _BATCH_OPTS.update(rules=args.rules, templates=args.templates)
    with stream:
        lines = list(enumerate(stream, 1))
    out = sys.stdout
    workers = min(os.cpu_count() or 1, 8)
    if len(lines) >= PARALLEL_BATCH_LINES and workers > 1 and _can_fork():
        import multiprocessing

        from skill.intent import enable_prefilter

        enable_prefilter()
        _plan_line((0, '{"text": "warm up the shared caches"}'))
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for doc in pool.imap(_plan_line, lines, chunksize=64):
                out.write(doc + "\n")
    else:
        for item in lines:
            out.write(_plan_line(item) + "\n")
    out.flush()
    return 0


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _progress_printer(as_json: bool) -> Callable[[dict[str, Any]], None]:
    """Progress on stderr: JSON lines with --json, short lines for people otherwise."""
    tty = sys.stderr.isatty()
    last_bar = [0.0]

    def show(event: dict[str, Any]) -> None:
        if as_json:
            _emit_json(event, sys.stderr)
            return
        kind = event.get("event")
        if kind == "download_progress":
            if not tty:
                return
            import time as _t

            now = _t.monotonic()
            if now - last_bar[0] < 0.1 and event.get("total") != event.get("bytes"):
                return
            last_bar[0] = now
            done, total = event.get("bytes", 0), event.get("total")
            if total:
                width = 30
                filled = int(width * done / total)
                sys.stderr.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done / 2**20:.1f}/{total / 2**20:.1f} MiB")
                if done >= total:
                    sys.stderr.write("\n")
            else:
                sys.stderr.write(f"\r  {done / 2**20:.1f} MiB")
            sys.stderr.flush()
            return
        if kind == "status":
            pos = event.get("queue_position")
            _say(f"[poll] {event['status']}" + (f" (position {pos})" if pos is not None else "") + f"  {event.get('elapsed_s', 0)} s")
        elif kind == "submitting":
            _say(f"[submit] {event['endpoint']} (segment {event['segment']}, {usd(event['cost_usd'])})")
        elif kind == "submitted":
            _say(f"[submit] request_id: {event['request_id']}")
        elif kind == "downloading":
            _say(f"[download] to {event['output_dir']}")
        elif kind == "done":
            for f in event.get("files", []):
                _say(f"[ok] {f}")
        elif kind in ("cancelled", "not_cancellable", "cancel_failed", "schema_unavailable"):
            _say(f"[{kind}] {event.get('message', event.get('request_id', ''))}")

    return show


def _confirm_if_needed(plan: Any, yes: bool) -> None:
    """4K or over $2 asks on a TTY; without a TTY (agents) it proceeds, the plan already shown."""
    costly = plan.tier == "4k" or plan.cost_usd > 2.0
    if yes or not costly or not sys.stdin.isatty():
        return
    sys.stderr.write(f"This will spend about {usd(plan.cost_usd)} on {plan.endpoint}. Proceed? [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise UsageError("not confirmed: nothing was sent (pass --yes to skip the question)", code="not_confirmed")


def cmd_run(args: argparse.Namespace) -> int:
    from skill.execution.flow import run
    from skill.planning import make_plan

    if not args.text and not args.shot:
        raise UsageError("kling3 run: give TEXT (what the video shows) or --shot")
    if args.variants and args.variants > 1:
        return _run_variants(args)
    plan = make_plan(_request_from_args(args), rules_path=args.rules, template_dir=args.templates, video_tools=video_tools_available)
    if args.json:
        _emit_json({"event": "plan", **plan.to_json_dict()}, sys.stderr)
    else:
        sys.stdout.flush()
        out = sys.stdout
        sys.stdout = sys.stderr
        try:
            _print_plan(plan)
        finally:
            sys.stdout = out
    _confirm_if_needed(plan, args.yes)
    result = run(
        plan,
        output_dir=args.output_dir,
        wait=not args.no_wait,
        poll_interval=args.poll_interval,
        timeout=args.timeout,
        on_event=_progress_printer(args.json),
    )
    if args.json:
        _emit_json(result.to_json_dict())
    else:
        _say(f"[{result.status}] request_id {result.request_id}  cost {usd(result.cost_usd)}")
        for f in result.files:
            sys.stdout.write(f + "\n")
    return 0


def _run_variants(args: argparse.Namespace) -> int:
    """K variants of one request, each planned and shown, then run as one batch."""
    from skill.execution.batch import make_variants
    from skill.planning import make_plan

    variants = make_variants(_request_from_args(args), args.variants)
    plans = [make_plan(v, rules_path=args.rules, template_dir=args.templates, video_tools=video_tools_available) for v in variants]
    for i, (v, p) in enumerate(zip(variants, plans, strict=True), 1):
        line = {"event": "variant", "index": i, "cfg_scale": v.get("cfg_scale"), "endpoint": p.endpoint, "cost_usd": p.cost_usd}
        if args.json:
            _emit_json(line, sys.stderr)
        else:
            _say(f"variant {i}: cfg_scale {v.get('cfg_scale')}  {p.endpoint}  {usd(p.cost_usd)}")
    total = round(sum(p.cost_usd for p in plans), 4)
    if not args.json:
        _say(f"{len(plans)} variants, {usd(total)} in all")
    probe = plans[0].model_copy(update={"cost_usd": total})
    _confirm_if_needed(probe, args.yes)
    args.concurrency = min(len(variants), 4)
    return _run_batch_and_report(variants, args, one_document=True)


def cmd_status(args: argparse.Namespace) -> int:
    from skill.execution.flow import status

    doc = status(args.id)
    if args.json:
        _emit_json(doc)
    else:
        pos = doc.get("queue_position")
        sys.stdout.write(f"{doc['request_id']}  {doc['status']}" + (f" (position {pos})" if pos is not None else "") + "\n")
    return 0


def cmd_result(args: argparse.Namespace) -> int:
    from skill.execution.flow import fetch

    res = fetch(args.id, output_dir=args.output_dir, wait=args.wait, poll_interval=args.poll_interval,
                timeout=args.timeout, on_event=_progress_printer(args.json))
    if args.json:
        _emit_json(res.model_dump(mode="json"))
    else:
        if res.status != "completed":
            _say(f"not finished yet (status: {res.status}); try again later or pass --wait")
        for f in res.files:
            sys.stdout.write(f.path + "\n")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from skill.execution.flow import cancel

    doc = cancel(args.id)
    if args.json:
        _emit_json(doc)
    elif doc["outcome"] == "cancelled":
        _say(f"cancelled {doc['request_id']}")
    else:
        _say(f"{doc['request_id']} could not be cancelled ({doc['outcome']}): it will run to completion and be "
             f"charged; fetch it with `kling3 result {doc['request_id']}`")
    return 0 if doc["outcome"] == "cancelled" else 1


def cmd_jobs(args: argparse.Namespace) -> int:
    from skill.execution.flow import jobs

    rows = jobs(limit=args.limit)
    if args.json:
        _emit_json({"jobs": rows})
        return 0
    for r in rows:
        sys.stdout.write(
            f"{r['created_at'][:19]}  {r['state']:<15} {r['tier']:<8} {r['mode']}  {usd(r['cost_usd']):<8} "
            f"{r['request_id'] or '(no request_id: ' + r['job_key'][:8] + ')'}\n"
        )
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from skill.execution.flow import resume

    if not args.id and not args.all:
        raise UsageError("kling3 resume: give a request_id or --all")
    outcomes = resume(None if args.all else args.id, output_dir=args.output_dir, poll_interval=args.poll_interval,
                      timeout=args.timeout, on_event=_progress_printer(args.json))
    if args.json:
        _emit_json({"resumed": outcomes})
    else:
        if not outcomes:
            _say("nothing to resume")
        for o in outcomes:
            line = f"{o.get('request_id') or 'run ' + str(o.get('run_id'))}  {o['status']}"
            if o.get("error"):
                line += f"  {o['error']['message']}"
            sys.stdout.write(line + "\n" + "".join(f"  {f}\n" for f in o.get("files", [])))
    failed = [o for o in outcomes if o["status"] == "error"]
    return 0 if not failed else 75


def cmd_spend(args: argparse.Namespace) -> int:
    from skill import settings
    from skill.execution.journal import Journal

    jr = Journal()
    rows = [r.to_dict() for r in jr.spend(days=args.days)]
    today = jr.spent_today()
    cap = settings.daily_cap_usd()
    if args.json:
        _emit_json({"spend": rows, "today_usd": today, "daily_cap_usd": cap})
        return 0
    for r in rows:
        sys.stdout.write(f"{r['day']}  {r['tier']:<8} {r['jobs']:>4} jobs  {usd(r['cost_usd'])}\n")
    sys.stdout.write(f"today {usd(today)}" + (f" of a {usd(cap)} cap" if cap else "") + " (estimates)\n")
    return 0


def cmd_login(args: argparse.Namespace) -> int:
    from skill import settings
    from skill.execution import auth

    if args.with_token:
        token = sys.stdin.readline().strip()
        if not token:
            raise UsageError("kling3 login --with-token: no token on stdin")
        path = auth.save_token(token)
    else:
        import httpx

        def on_code(user_code: str, verify_url: str) -> None:
            _say(f"Open {verify_url} and enter the code {user_code}")

        with httpx.Client(timeout=30) as client:
            token = auth.device_login(settings.web_base(), client=client, on_code=on_code)
        path = auth.save_token(token)
    if args.json:
        _emit_json({"logged_in": True, "token_file": str(path)})
    else:
        _say(f"signed in; token saved to {path} (mode 0600)")
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    from skill.execution import auth

    removed = auth.delete_token()
    if args.json:
        _emit_json({"logged_out": removed})
    else:
        _say("token removed" if removed else "no token file to remove")
    return 0


def cmd_emulator(args: argparse.Namespace) -> int:
    from skill.testing.emulator import EmulatorConfig, serve_forever

    config = EmulatorConfig(token=args.token, queue_seconds=args.queue_seconds, run_seconds=args.run_seconds)
    serve_forever(config, args.host, args.port)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """One request end to end against the built-in emulator: nothing leaves this machine."""
    import tempfile

    from skill.execution.client import RunComfyClient
    from skill.execution.flow import run
    from skill.execution.journal import Journal
    from skill.planning import make_plan
    from skill.testing.emulator import Emulator, EmulatorConfig

    text = args.text or "a quick vertical draft of a barista pulling espresso, with cafe sound"
    out_dir = Path(args.output_dir or "kling3-demo").resolve()
    plan = make_plan({"text": text}, video_tools=video_tools_available)
    events = _progress_printer(args.json)
    if not args.json:
        _say(f"demo: {plan.endpoint}, {usd(plan.cost_usd)} (emulated: nothing is spent)")
    with (
        tempfile.TemporaryDirectory() as home,
        Emulator(EmulatorConfig(queue_seconds=0.5, run_seconds=1.0)) as emu,
        Journal(Path(home) / "jobs.sqlite3") as journal,
        RunComfyClient(base_url=emu.base_url, token=emu.token) as client,
    ):
        result = run(plan, output_dir=out_dir, poll_interval=0.25, on_event=events, client=client,
                     journal=journal, check_live_schema=True)
    if args.json:
        _emit_json({"demo": True, **result.to_json_dict()})
    else:
        for f in result.files:
            sys.stdout.write(f + "\n")
    return 0


def cmd_tools(args: argparse.Namespace) -> int:
    from skill.tools import cli_tools

    sys.stdout.write(cli_tools(args.format) + "\n")
    return 0


def cmd_mcp(args: argparse.Namespace) -> int:
    from skill.mcp_server import serve

    serve(http=args.http, host=args.host, port=args.port, poll_interval=args.poll_interval, output_dir=args.output_dir)
    return 0


def _run_batch_and_report(reqs: list[dict[str, Any]], args: argparse.Namespace, *, one_document: bool) -> int:
    import asyncio

    from skill.execution.batch import BatchReport, run_batch

    collected: dict[int, Any] = {}

    def on_item(item: Any) -> None:
        collected[item.index] = item
        if not args.json and item.status not in ("queued", "running"):
            _say(f"[{item.index}] {item.status}" + (f"  {item.files[0]}" if getattr(item, "files", None) else ""))

    try:
        report = asyncio.run(
            run_batch(reqs, concurrency=args.concurrency, output_dir=Path(args.output_dir or ".").resolve(),
                      max_cost_usd=args.max_cost_usd, poll_interval=args.poll_interval, timeout=args.timeout,
                      on_item=on_item)
        )
    except KeyboardInterrupt:
        partial = BatchReport.from_items(sorted(collected.values(), key=lambda i: i.index))
        _print_report(partial, args, one_document=one_document)
        _say("interrupted: running jobs keep going; `kling3 resume --all` fetches them")
        return 130
    _print_report(report, args, one_document=one_document)
    return 0 if report.ok else 1


def _print_report(report: Any, args: argparse.Namespace, *, one_document: bool) -> None:
    if not args.json:
        sys.stdout.write(report.table() + "\n")
    elif one_document:
        _emit_json(report.model_dump(mode="json"))
    else:
        text = report.to_json_lines()
        if text:
            sys.stdout.write(text + "\n")


def cmd_batch(args: argparse.Namespace) -> int:
    from skill.execution.batch import read_jsonl

    return _run_batch_and_report(read_jsonl(args.file), args, one_document=False)


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
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("text", nargs="?", help="what the video shows, in plain words")
    _add_request_flags(p)
    _add_json(p)
    p.set_defaults(handler=cmd_prompt)

    p = sub.add_parser(
        "run",
        help="spend: plan, submit, wait and download the video",
        description=(
            "Plan, then submit to RunComfy, wait, and download the MP4. The plan is printed first "
            "(stderr). 4K or calls over $2 ask for confirmation on a TTY unless --yes; without a "
            "TTY (agents) it proceeds. Every paid job is recorded in the journal before it is "
            "submitted: `kling3 jobs`, `kling3 resume`.\n\n"
            "examples:\n"
            "  kling3 run \"a fox trotting through snow, 8 seconds\" --output-dir ./videos\n"
            "  kling3 run \"hero shot of a watch\" --no-wait --json   # returns the request_id at once"
        ),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("text", nargs="?", help="what the video shows, in plain words")
    _add_request_flags(p)
    _add_wait_flags(p)
    p.add_argument("--no-wait", action="store_true", help="submit and return the request_id without waiting")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask before 4K or calls over $2")
    p.add_argument("--variants", type=int, default=None, metavar="K",
                   help="make K variants (cfg_scale spread 0.3-0.8, stated in the plan); K x the cost")
    _add_json(p)
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser(
        "batch",
        help="run many requests (JSON lines) with bounded concurrency and one budget check",
        description=(
            "Run every request of FILE (one JSON object per line, the same fields as `plan`). All are "
            "planned and priced first; the whole batch is checked against --max-cost-usd and the "
            "daily cap before anything is sent. Each job is journaled and resumable.\n\n"
            "examples:\n  kling3 batch ads.jsonl --concurrency 8 --output-dir ./ads --json\n"
            "  kling3 batch ads.jsonl --max-cost-usd 20"
        ),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", help="JSON lines file, or - for stdin")
    p.add_argument("--concurrency", type=int, default=4, metavar="N", help="jobs in flight at once (default 4)")
    p.add_argument("--max-cost-usd", type=float, default=None, metavar="X", help="refuse the batch if it would cost more")
    _add_wait_flags(p)
    _add_json(p)
    p.set_defaults(handler=cmd_batch)

    p = sub.add_parser("status", help="live status of a job (request_id or a unique prefix)", epilog=EXIT_CODES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("id", help="request_id (or a prefix of 6+ characters from `kling3 jobs`)")
    _add_json(p)
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser("result", help="fetch a finished job's video (again)", epilog=EXIT_CODES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("id", help="request_id (or a prefix of 6+ characters)")
    _add_wait_flags(p)
    p.add_argument("--wait", action="store_true", help="wait for the job to finish first")
    _add_json(p)
    p.set_defaults(handler=cmd_result)

    p = sub.add_parser("cancel", help="cancel a queued job (running jobs finish and are charged)", epilog=EXIT_CODES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("id", help="request_id (or a prefix of 6+ characters)")
    _add_json(p)
    p.set_defaults(handler=cmd_cancel)

    p = sub.add_parser("jobs", help="recent jobs from the local journal", epilog=EXIT_CODES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--limit", type=int, default=50)
    _add_json(p)
    p.set_defaults(handler=cmd_jobs)

    p = sub.add_parser("resume", help="re-poll and download unfinished jobs; never resubmits", epilog=EXIT_CODES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("id", nargs="?", help="one request_id; or --all")
    p.add_argument("--all", action="store_true", help="every unfinished job in the journal")
    _add_wait_flags(p)
    _add_json(p)
    p.set_defaults(handler=cmd_resume)

    p = sub.add_parser("spend", help="estimated spend by day and tier (from the journal)", epilog=EXIT_CODES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--days", type=int, default=None, help="only the last N days")
    _add_json(p)
    p.set_defaults(handler=cmd_spend)

    p = sub.add_parser("login", help="sign in to RunComfy (shares the official CLI's token file)", epilog=EXIT_CODES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--with-token", action="store_true", help="read an API token from stdin instead of the browser flow")
    _add_json(p)
    p.set_defaults(handler=cmd_login)

    p = sub.add_parser("logout", help="delete the saved token", epilog=EXIT_CODES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_json(p)
    p.set_defaults(handler=cmd_logout)

    p = sub.add_parser("emulator", help="serve the built-in RunComfy API emulator on 127.0.0.1",
                       description="Serve the emulator; the first stdout line is the base URL to put in RUNCOMFY_MODEL_API_BASE.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--token", default="test-token", help="the Bearer token it accepts")
    p.add_argument("--queue-seconds", type=float, default=1.0)
    p.add_argument("--run-seconds", type=float, default=3.0)
    _add_json(p)
    p.set_defaults(handler=cmd_emulator)

    p = sub.add_parser("demo", help="run one request end to end against the built-in emulator (offline, free)",
                       epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("text", nargs="?", help="what the video shows (default: the barista example)")
    p.add_argument("--output-dir", default=None, help="where the MP4 goes (default ./kling3-demo)")
    _add_json(p)
    p.set_defaults(handler=cmd_demo)

    p = sub.add_parser(
        "tools",
        help="print the function-calling tool schemas (OpenAI or Anthropic format)",
        description="Print the six tools as JSON, generated from the same pydantic models the CLI uses.\n\n"
        "examples:\n  kling3 tools --format openai > tools.json\n  kling3 tools --format anthropic",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--format", choices=["openai", "anthropic"], default="openai")
    _add_json(p)
    p.set_defaults(handler=cmd_tools)

    p = sub.add_parser(
        "mcp",
        help="serve the tools over MCP (stdio, or streamable HTTP on 127.0.0.1)",
        description="Serve kling_plan_video, kling_generate_video, kling_video_status, kling_fetch_video, "
        "kling_cancel_video and kling_list_jobs over MCP. Needs the [mcp] extra.\n\n"
        "examples:\n  kling3 mcp                 # stdio, for Claude Desktop and other hosts\n"
        "  kling3 mcp --http --port 8765",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--http", action="store_true", help="streamable HTTP instead of stdio")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--poll-interval", type=float, default=2.0, metavar="S")
    p.add_argument("--output-dir", default=None, help="where generated videos go")
    _add_json(p)
    p.set_defaults(handler=cmd_mcp)

    return parser


def _add_wait_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output-dir", default=None, help="where videos go (default: the current directory)")
    p.add_argument("--poll-interval", type=float, default=2.0, metavar="S", help="seconds between status polls (default 2)")
    p.add_argument("--timeout", type=float, default=1800.0, metavar="S",
                   help="stop waiting after S seconds (default 1800); the job keeps running, exit 75")


def _version() -> str:
    from skill._version import __version__

    return __version__


def _wants_json(argv: Sequence[str]) -> bool:
    return "--json" in argv


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kling3`` console script; returns the exit code."""
    # The CLI uses no pydantic plugin; not scanning entry points for them saves start-up time.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
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
    finally:
        _warn_token_file()


def _warn_token_file() -> None:
    """A token file that others can read is used, but the user hears about it (stderr)."""
    auth = sys.modules.get("skill.execution.auth")
    warning = auth.token_file_warning() if auth is not None else None
    if warning:
        _say(f"warning: {warning}")


if __name__ == "__main__":
    raise SystemExit(main())
