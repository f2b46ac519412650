"""Commands about jobs already submitted: ``status``, ``result``, ``cancel``, ``jobs``, ``resume``, ``spend``.

None of them submits anything; they read the API or the local journal. Each takes a request_id
(or a unique prefix of one) where it acts on one job. The flow and journal are imported inside
the handlers so the plan path never loads httpx.
"""

from __future__ import annotations

import argparse
import sys

from skill.cli.flags import SubParsers, add_journal, add_json, add_wait_flags
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
    "add_all_bases",
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
    add_journal(p)
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
    add_journal(p)
    add_json(p)
    p.set_defaults(handler=cmd_result)


def cmd_result(args: argparse.Namespace) -> int:
    """Download a finished job's files (again); a job not finished yet exits 75 (it is paid:
    `--wait` or `kling3 resume ID` gets it), never 0."""
    from skill.cli.progress import progress_printer
    from skill.errors import JobUnfinished, resume_command
    from skill.execution.flow import fetch

    res = fetch(args.id, output_dir=args.output_dir, wait=args.wait, poll_interval=args.poll_interval,
                timeout=args.timeout, on_event=progress_printer(args.json))
    if res.status != "completed":
        rid = res.request_id or args.id
        raise JobUnfinished(
            f"job {rid} is not finished yet (status {res.status}): `kling3 result {rid} --wait` or "
            f"`{resume_command(rid)}` downloads it when it is; do not submit it again",
            code="not_finished",
            request_id=rid,
            details={"status": res.status, "queue_position": res.queue_position, "paid": True,
                     "resume_command": resume_command(rid)},
        )
    if args.json:
        emit_json(res.model_dump(mode="json"))
    else:
        for w in res.warnings:
            warn(w)
        for f in res.files:
            if f.contact_sheet:
                say(f"contact sheet: {f.contact_sheet}")
            sys.stdout.write(f.path + "\n")
    return 0


def add_cancel_parser(sub: SubParsers) -> None:
    """``cancel ID``."""
    p = sub.add_parser("cancel", help="cancel a queued job (not charged); running jobs finish and are charged")
    p.add_argument("id", help="request_id (or a prefix of 6+ characters)")
    add_journal(p)
    add_json(p)
    p.set_defaults(handler=cmd_cancel)


def cmd_cancel(args: argparse.Namespace) -> int:
    """Cancel a queued job (exit 0, also when it already was); a job that could not be cancelled
    runs and is charged: exit 75 with the command that fetches it."""
    from skill.errors import JobUnfinished, resume_command
    from skill.execution.flow import NOT_CHARGED, cancel

    doc = cancel(args.id)
    rid = doc["request_id"]
    if doc["outcome"] not in NOT_CHARGED:
        raise JobUnfinished(
            f"{rid} could not be cancelled ({doc['outcome']}): {doc['message']}",
            code="not_cancellable",
            request_id=rid,
            details={"outcome": doc["outcome"], "status": doc["status"], "paid": True,
                     "resume_command": resume_command(rid)},
        )
    if args.json:
        emit_json(doc)
    else:
        say(f"{rid}: {doc['message']}")
    return 0


def add_jobs_parser(sub: SubParsers) -> None:
    """``jobs [--limit N]`` and ``jobs --settle ID paid|unpaid [--request-id RID]``."""
    p = sub.add_parser(
        "jobs",
        help="recent jobs from the local journal; settle a possibly-paid submit",
        description=(
            "List the journal, newest first. A submit that was never confirmed (an HTTP 5xx or a "
            "dropped connection after sending, a process killed mid-submit) is listed as POSSIBLY "
            "PAID and counted in `kling3 spend` and the daily cap until you settle it: check your "
            "RunComfy requests, then\n\n"
            "  kling3 jobs --settle KEY paid --request-id ID   # found it: resume fetches the video\n"
            "  kling3 jobs --settle KEY paid                   # charged, but no video to fetch\n"
            "  kling3 jobs --settle KEY unpaid                 # never created: stop counting it\n\n"
            "KEY is the job key shown by `kling3 jobs` (6+ characters)."
        ),
    )
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--settle", nargs=2, metavar=("KEY", "paid|unpaid"),
                   help="settle a possibly-paid submit as paid or unpaid")
    p.add_argument("--request-id", default=None, metavar="ID",
                   help="with --settle KEY paid: the request_id found on RunComfy")
    add_all_bases(p)
    add_journal(p)
    add_json(p)
    p.set_defaults(handler=cmd_jobs)


def cmd_jobs(args: argparse.Namespace) -> int:
    """List the newest jobs of the local journal under a header (a film's calls are grouped,
    possibly-paid submits marked); or settle one."""
    from skill import settings
    from skill.execution.flow import jobs, settle
    from skill.execution.journal import Journal

    if args.settle:
        key, verdict = args.settle
        if verdict not in ("paid", "unpaid"):
            raise UsageError(f"kling3 jobs --settle KEY paid|unpaid: not {verdict!r}")
        if args.request_id and verdict != "paid":
            raise UsageError("kling3 jobs: --request-id goes with --settle KEY paid")
        row = settle(key, verdict, request_id=args.request_id)
        if args.json:
            emit_json({"settled": row})
        else:
            say(f"settled {row['job_key']} as {verdict}" + (
                f"; `kling3 resume {row['request_id']}` fetches it" if row["request_id"] else ""))
        return 0
    if args.request_id:
        raise UsageError("kling3 jobs: --request-id goes with --settle KEY paid")
    rows = jobs(limit=args.limit, api_base=None if args.all_bases else settings.api_base())
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
    p.add_argument("--all", action="store_true", help="every unfinished job of the current API base")
    add_wait_flags(p)
    add_all_bases(p)
    add_journal(p)
    add_json(p)
    p.set_defaults(handler=cmd_resume)


def cmd_resume(args: argparse.Namespace) -> int:
    """Re-poll and download unfinished jobs; exit 75 when any could not be finished now."""
    from skill.cli.progress import progress_printer
    from skill.execution.flow import resume

    if not args.id and not args.all:
        raise UsageError("kling3 resume: give a request_id or --all")
    outcomes = resume(None if args.all else args.id, output_dir=args.output_dir, poll_interval=args.poll_interval,
                      timeout=args.timeout, on_event=progress_printer(args.json), all_bases=args.all_bases)
    if args.json:
        emit_json({"resumed": outcomes})
    else:
        if not outcomes:
            say("nothing to resume")
        for o in outcomes:
            sys.stdout.write(resume_lines(o))
    # A job another process is fetching is its business under --all, but `resume ID` did not finish it.
    unfinished = [o for o in outcomes if o["status"] == "error" or (args.id and o["status"] == "claimed")]
    return 0 if not unfinished else 75


def add_spend_parser(sub: SubParsers) -> None:
    """``spend [--days N]``."""
    p = sub.add_parser("spend", help="estimated spend by day and tier (from the journal)")
    p.add_argument("--days", type=int, default=None, help="only the last N days")
    p.add_argument("--by", choices=["tier", "actor"], default="tier",
                   help="sum per tier (default) or per actor: KLING3_ACTOR, else user@host of the submitter")
    add_all_bases(p)
    add_journal(p)
    add_json(p)
    p.set_defaults(handler=cmd_spend)


def cmd_spend(args: argparse.Namespace) -> int:
    """Estimated spend by day and tier, today's total against the daily cap, and apart the jobs
    cancelled while queued (not charged)."""
    from skill import settings
    from skill.execution.journal import Journal

    base = None if args.all_bases else settings.api_base()
    jr = Journal()
    counted, gone = jr.spend_report(days=args.days, api_base=base, by=args.by)
    rows, cancelled = [r.to_dict() for r in counted], [r.to_dict() for r in gone]
    today = jr.spent_today(base)
    cap = settings.daily_cap_usd()
    if args.json:
        emit_json({"spend": rows, "today_usd": today, "daily_cap_usd": cap, "api_base": base or "all",
                   "by": args.by, "journal": jr.where, "cancelled_not_charged": cancelled})
        return 0
    sys.stdout.write(spend_lines(rows, today, cap, cancelled))
    return 0


def add_all_bases(p: argparse.ArgumentParser) -> None:
    """``--all-bases``: the journal's jobs of every API base, not only RUNCOMFY_MODEL_API_BASE's."""
    p.add_argument("--all-bases", action="store_true",
                   help="jobs of every API base (default: only those sent to RUNCOMFY_MODEL_API_BASE)")
