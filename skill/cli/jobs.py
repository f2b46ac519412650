"""Commands about jobs already submitted: ``status``, ``result``, ``cancel``, ``jobs``, ``resume``, ``spend``.

None of them submits anything; they read the API or the local journal. Each takes a request_id
(or a unique prefix of one) where it acts on one job. The flow and journal are imported inside
the handlers so the plan path never loads httpx.
"""

from __future__ import annotations

import argparse
import sys

from skill.cli.flags import SubParsers, add_json, add_wait_flags
from skill.cli.render import (
    emit_json,
    jobs_table,
    resume_lines,
    say,
    spend_lines,
    status_line,
    warn,
)
from skill.errors import UsageError

__all__ = [
    "add_cancel_parser",
    "add_jobs_parser",
    "add_result_parser",
    "add_resume_parser",
    "add_spend_parser",
    "add_status_parser",
    "cmd_cancel",
    "cmd_jobs",
    "cmd_result",
    "cmd_resume",
    "cmd_spend",
    "cmd_status",
    "register",
]


def register(sub: SubParsers) -> None:
    """Add the job commands, in the order ``kling3 --help`` lists them."""
    add_status_parser(sub)
    add_result_parser(sub)
    add_cancel_parser(sub)
    add_jobs_parser(sub)
    add_resume_parser(sub)
    add_spend_parser(sub)


def add_status_parser(sub: SubParsers) -> None:
    """``status ID``."""
    p = sub.add_parser("status", help="live status of a job, with its elapsed time, cost and prompt")
    p.add_argument("id", help="request_id (or a prefix of 6+ characters from `kling3 jobs`)")
    add_json(p)
    p.set_defaults(handler=cmd_status)


def cmd_status(args: argparse.Namespace) -> int:
    """Ask the API for the job's live status (and queue position)."""
    from skill.execution.flow import status

    doc = status(args.id)
    if args.json:
        emit_json(doc)
    else:
        sys.stdout.write(status_line(doc) + "\n")
    return 0


def add_result_parser(sub: SubParsers) -> None:
    """``result ID``, with the wait flags and ``--wait``."""
    p = sub.add_parser("result", help="fetch a finished job's video (again)")
    p.add_argument("id", help="request_id (or a prefix of 6+ characters)")
    add_wait_flags(p)
    p.add_argument("--wait", action="store_true", help="wait for the job to finish first")
    add_json(p)
    p.set_defaults(handler=cmd_result)


def cmd_result(args: argparse.Namespace) -> int:
    """Download a finished job's files (again); an unfinished job is said, not an error."""
    from skill.cli.progress import progress_printer
    from skill.execution.flow import fetch

    res = fetch(args.id, output_dir=args.output_dir, wait=args.wait, poll_interval=args.poll_interval,
                timeout=args.timeout, on_event=progress_printer(args.json))
    if args.json:
        emit_json(res.model_dump(mode="json"))
    else:
        if res.status != "completed":
            say(f"not finished yet (status: {res.status}); try again later or pass --wait")
        for w in res.warnings:
            warn(w)
        for f in res.files:
            if f.contact_sheet:
                say(f"contact sheet: {f.contact_sheet}")
            sys.stdout.write(f.path + "\n")
    return 0


def add_cancel_parser(sub: SubParsers) -> None:
    """``cancel ID``."""
    p = sub.add_parser("cancel", help="cancel a queued job (running jobs finish and are charged)")
    p.add_argument("id", help="request_id (or a prefix of 6+ characters)")
    add_json(p)
    p.set_defaults(handler=cmd_cancel)


def cmd_cancel(args: argparse.Namespace) -> int:
    """Cancel a queued job; exit 1 when it could not be cancelled (it runs and is charged)."""
    from skill.execution.flow import cancel

    doc = cancel(args.id)
    if args.json:
        emit_json(doc)
    elif doc["outcome"] == "cancelled":
        say(f"cancelled {doc['request_id']}")
    else:
        say(f"{doc['request_id']} could not be cancelled ({doc['outcome']}): it will run to completion and be "
            f"charged; fetch it with `kling3 result {doc['request_id']}`")
    return 0 if doc["outcome"] == "cancelled" else 1


def add_jobs_parser(sub: SubParsers) -> None:
    """``jobs [--limit N]``."""
    p = sub.add_parser("jobs", help="recent jobs from the local journal")
    p.add_argument("--limit", type=int, default=50)
    add_json(p)
    p.set_defaults(handler=cmd_jobs)


def cmd_jobs(args: argparse.Namespace) -> int:
    """List the newest jobs of the local journal under a header; a film's calls are grouped."""
    from skill.execution.flow import jobs
    from skill.execution.journal import Journal

    rows = jobs(limit=args.limit)
    if args.json:
        emit_json({"jobs": rows})
        return 0
    journal = Journal()
    runs = {r["run_id"]: journal.run_info(r["run_id"]) or {} for r in rows if r.get("run_id")}
    sys.stdout.write(jobs_table(rows, runs))
    return 0


def add_resume_parser(sub: SubParsers) -> None:
    """``resume ID`` or ``resume --all``, with the wait flags."""
    p = sub.add_parser("resume", help="re-poll and download unfinished jobs; never resubmits")
    p.add_argument("id", nargs="?", help="one request_id; or --all")
    p.add_argument("--all", action="store_true", help="every unfinished job in the journal")
    add_wait_flags(p)
    add_json(p)
    p.set_defaults(handler=cmd_resume)


def cmd_resume(args: argparse.Namespace) -> int:
    """Re-poll and download unfinished jobs; exit 75 when any could not be finished now."""
    from skill.cli.progress import progress_printer
    from skill.execution.flow import resume

    if not args.id and not args.all:
        raise UsageError("kling3 resume: give a request_id or --all")
    outcomes = resume(None if args.all else args.id, output_dir=args.output_dir, poll_interval=args.poll_interval,
                      timeout=args.timeout, on_event=progress_printer(args.json))
    if args.json:
        emit_json({"resumed": outcomes})
    else:
        if not outcomes:
            say("nothing to resume")
        for o in outcomes:
            sys.stdout.write(resume_lines(o))
    failed = [o for o in outcomes if o["status"] == "error"]
    return 0 if not failed else 75


def add_spend_parser(sub: SubParsers) -> None:
    """``spend [--days N]``."""
    p = sub.add_parser("spend", help="estimated spend by day and tier (from the journal)")
    p.add_argument("--days", type=int, default=None, help="only the last N days")
    add_json(p)
    p.set_defaults(handler=cmd_spend)


def cmd_spend(args: argparse.Namespace) -> int:
    """Estimated spend by day and tier, and today's total against the daily cap."""
    from skill import settings
    from skill.execution.journal import Journal

    jr = Journal()
    rows = [r.to_dict() for r in jr.spend(days=args.days)]
    today = jr.spent_today()
    cap = settings.daily_cap_usd()
    if args.json:
        emit_json({"spend": rows, "today_usd": today, "daily_cap_usd": cap})
        return 0
    sys.stdout.write(spend_lines(rows, today, cap))
    return 0
