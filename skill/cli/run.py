"""``kling3 run`` (one request, or ``--variants K`` of it) and ``kling3 batch``: the commands that spend.

Each shows the plan and the price before anything is sent, and asks on a TTY when the call is
costly. The execution modules (httpx, asyncio) are imported inside the handlers, so loading this
module for ``kling3 plan`` costs nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from skill.cli.flags import (
    SubParsers,
    add_journal,
    add_json,
    add_request_flags,
    add_wait_flags,
    plan_from_args,
    request_from_args,
    rules_from_args,
)
from skill.cli.render import emit_json, print_plan, print_report, say, warn
from skill.errors import Declined, UsageError
from skill.money import usd

__all__ = ["add_batch_parser", "add_run_parser", "cmd_batch", "cmd_run", "confirm", "register"]


def register(sub: SubParsers) -> None:
    """Add ``run`` and ``batch``, in the order ``kling3 --help`` lists them."""
    add_run_parser(sub)
    add_batch_parser(sub)


def add_run_parser(sub: SubParsers) -> None:
    """``run TEXT``: the request fields, the wait flags, ``--no-wait``, ``--yes``, ``--variants``."""
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
    )
    p.add_argument("text", nargs="?", help="what the video shows, in plain words")
    add_request_flags(p)
    add_wait_flags(p)
    p.add_argument("--no-wait", action="store_true", help="submit and return the request_id without waiting")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask before 4K or calls over $2")
    p.add_argument("--variants", type=int, default=None, metavar="K",
                   help="make K variants (cfg_scale spread 0.3-0.8, stated in the plan); K x the cost")
    add_journal(p)
    add_json(p)
    p.set_defaults(handler=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    """Plan (shown on stderr), confirm if costly, submit, wait, download; the result on stdout."""
    from skill.cli.progress import WATCH, progress_printer
    from skill.execution.flow import run

    if not args.text and not args.shot:
        raise UsageError("kling3 run: give TEXT (what the video shows) or --shot")
    if args.variants and args.variants > 1:
        return _run_variants(args)
    plan = plan_from_args(args)
    if args.json:
        emit_json({"event": "plan", **plan.to_json_dict()}, sys.stderr)
    else:
        sys.stdout.flush()
        print_plan(plan, sys.stderr, rules=rules_from_args(args))
    _confirm_if_needed(plan, args.yes)
    options: dict[str, Any] = {"output_dir": args.output_dir, "wait": not args.no_wait,
                               "poll_interval": args.poll_interval, "timeout": args.timeout}
    if _live(args):
        from skill.cli.live import live_board

        with live_board() as board:
            for seg in plan.segments:
                label = _snippet(seg.prompt) if len(plan.segments) == 1 else f"{seg.index}/{len(plan.segments)}: {_snippet(seg.prompt)}"
                board.add_row(seg.index, label, seg.cost_usd)
            result = run(plan, on_event=WATCH.tee(board.on_event), **options)
    else:
        result = run(plan, on_event=progress_printer(args.json), **options)
    if args.json:
        emit_json(result.to_json_dict())
        return 0
    for w in result.warnings:
        if w not in plan.warnings:
            warn(w)
    say(f"[{result.status}] request_id {result.request_id}  cost {usd(result.cost_usd)}")
    from skill.tool_results import video_entries

    for video in video_entries(result):
        if video.get("contact_sheet"):
            say(f"contact sheet: {video['contact_sheet']}")
    for f in result.files:
        sys.stdout.write(f + "\n")
    return 0


def _live(args: argparse.Namespace) -> bool:
    """The live table for people at a terminal; plain lines for pipes, logs and ``--json``."""
    return not args.json and sys.stderr.isatty()


def _snippet(text: str, limit: int = 40) -> str:
    words = " ".join(text.split())
    return words if len(words) <= limit else words[: limit - 3] + "..."


def _run_variants(args: argparse.Namespace) -> int:
    """K variants of one request, each planned and shown, then run as one batch."""
    from skill.execution.batch import make_variants

    variants = make_variants(request_from_args(args), args.variants)
    plans = [plan_from_args(args, v) for v in variants]
    for i, (v, p) in enumerate(zip(variants, plans, strict=True), 1):
        line = {"event": "variant", "index": i, "cfg_scale": v.get("cfg_scale"), "endpoint": p.endpoint, "cost_usd": p.cost_usd}
        if args.json:
            emit_json(line, sys.stderr)
        else:
            say(f"variant {i}: cfg_scale {v.get('cfg_scale')}  {p.endpoint}  {usd(p.cost_usd)}")
    total = round(sum(p.cost_usd for p in plans), 4)
    if not args.json:
        say(f"{len(plans)} variants, {usd(total)} in all")
    args.concurrency = min(len(variants), 4)
    return _run_batch_and_report(variants, args, one_document=True)


def _confirm_if_needed(plan: Any, yes: bool) -> None:
    """4K or over $2 asks on a TTY; without a TTY (agents) it proceeds, the plan already shown."""
    confirm(plan.tier == "4k" or plan.cost_usd > 2.0, f"about {usd(plan.cost_usd)} on {plan.endpoint}", yes)


def confirm(costly: bool, what: str, yes: bool) -> None:
    """Ask "This will spend WHAT. Proceed?" on a TTY when ``costly`` (4K or over $2) unless
    ``yes``; a "no" is :class:`~skill.errors.Declined` (exit 10): nothing was sent."""
    if yes or not costly or not sys.stdin.isatty():
        return
    sys.stderr.write(f"This will spend {what}. Proceed? [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise Declined("not confirmed: nothing was sent (pass --yes to skip the question)")


def add_batch_parser(sub: SubParsers) -> None:
    """``batch FILE``: concurrency, a whole-batch budget, and the wait flags."""
    p = sub.add_parser(
        "batch",
        help="run many requests (JSON lines) with bounded concurrency and one budget check",
        description=(
            "Run every request of FILE (one JSON object per line, the same fields as `plan`). All are "
            "planned and priced first; the whole batch is checked against --max-cost-usd and the "
            "daily cap before anything is sent, then announced (\"N jobs, $X planned, K at a time\"); "
            "on a TTY, 4K or a batch over $2 asks first unless --yes. Each job is journaled and "
            "resumable. The exit code is a run's: 65 when every line was refused, else the gravest "
            "of the jobs sent (69 possibly paid, 75 paid but unfinished, 1 failed).\n\n"
            "examples:\n  kling3 batch ads.jsonl --concurrency 8 --output-dir ./ads --json\n"
            "  kling3 batch ads.jsonl --max-cost-usd 20"
        ),
    )
    p.add_argument("file", help="JSON lines file, or - for stdin")
    p.add_argument("--concurrency", type=int, default=4, metavar="N", help="jobs in flight at once (default 4)")
    p.add_argument("--max-cost-usd", type=float, default=None, metavar="X", help="refuse the batch if it would cost more")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask before 4K or a batch over $2")
    add_wait_flags(p)
    add_journal(p)
    add_json(p)
    p.set_defaults(handler=cmd_batch)


def cmd_batch(args: argparse.Namespace) -> int:
    """Run every line of FILE as one budget-checked batch; one JSON line per job with --json.
    Once it has answered, the process ends without the interpreter's teardown (see
    :mod:`skill.cli.quick_exit`): a batch of quick jobs would otherwise pay it on top."""
    from skill.execution.batch import read_jsonl

    code = _run_batch_and_report(read_jsonl(args.file), args, one_document=False)
    args.exit_now = True
    return code


def _run_batch_and_report(reqs: list[dict[str, Any]], args: argparse.Namespace, *, one_document: bool) -> int:
    """Run the batch, saying each item's end as it comes; Ctrl-C still prints what finished."""
    import asyncio

    from skill.execution.batch import BatchPreview, BatchReport, run_batch

    collected: dict[int, Any] = {}
    board: Any = None

    def on_item(item: Any) -> None:
        collected[item.index] = item
        if board is not None:
            board.on_item(item)
        elif not args.json and item.status not in ("queued", "running"):
            say(f"[{item.index}] {item.status}" + (f"  {item.files[0]}" if getattr(item, "files", None) else ""))

    def on_event(index: int, event: Any) -> None:
        if board is not None:
            board.on_event(event, index)

    def before_sending(preview: BatchPreview) -> None:
        nonlocal board
        _settle_heap()
        if args.json:
            emit_json(preview.to_json_dict(), sys.stderr)
        else:
            say(preview.line())
        confirm(preview.costly, f"about {usd(preview.planned_cost_usd)} on {preview.jobs} jobs", args.yes)
        if _live(args):  # only once the question, if any, is answered
            from skill.cli.live import live_board

            board = screen.enter_context(live_board(transient=True))

    batch = run_batch(reqs, concurrency=args.concurrency, output_dir=Path(args.output_dir or ".").resolve(),
                      max_cost_usd=args.max_cost_usd, poll_interval=args.poll_interval, timeout=args.timeout,
                      on_item=on_item, on_event=on_event, before_sending=before_sending)
    screen = contextlib.ExitStack()
    try:
        with screen:
            report = asyncio.run(batch)
    except KeyboardInterrupt:
        partial = BatchReport.from_items(sorted(collected.values(), key=lambda i: i.index))
        print_report(partial, as_json=args.json, one_document=one_document)
        message = "interrupted: running jobs keep going; `kling3 resume --all` fetches them"
        if args.json:
            emit_json({"event": "interrupted", "message": message}, sys.stderr)
        else:
            say(message)
        return 130
    page = _batch_gallery(report, Path(args.output_dir or ".").resolve())
    if args.json and one_document:
        emit_json({**report.model_dump(mode="json"), "gallery": None if page is None else str(page)})
    else:
        print_report(report, as_json=args.json, one_document=one_document)
    if page is not None and args.json and not one_document:
        emit_json({"event": "gallery", "path": str(page), "uri": page.as_uri()}, sys.stderr)
    elif page is not None and not args.json:
        say(f"side by side: {page.as_uri()}")
    return report.exit_code


def _settle_heap() -> None:
    """Once every request is planned: what start-up and planning built (modules, the compiled
    rule book, the plans) lives until the process ends, so the collector stops scanning it, and
    runs less often while the jobs run (each poll allocates only short-lived objects). The
    batch's garbage collection then costs what a bare script's does, not three times that."""
    import gc

    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def _batch_gallery(report: Any, output_dir: Path) -> Path | None:
    """``gallery.html`` of this batch's finished videos beside them (None when none finished)."""
    from skill.execution.journal import Journal
    from skill.gallery import collect, write_gallery

    if not any(i.status == "completed" for i in report.items):
        return None
    with Journal() as journal:
        gallery = collect(journal, batch_id=report.batch_id)
    return write_gallery(output_dir / "gallery.html", gallery) if gallery.groups else None
