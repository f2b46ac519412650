"""``kling3 journal migrate --to URL``: carry a machine's SQLite journal into a team's PostgreSQL one.

Free and offline but for the database: nothing is sent to RunComfy. Copying again is harmless
(jobs already there, by their key, are skipped), so every machine of a team can migrate its own
file into the one journal, in any order.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from skill.cli.flags import SubParsers, add_json
from skill.cli.render import emit_json, say

__all__ = ["add_journal_parser", "cmd_migrate", "register"]


def register(sub: SubParsers) -> None:
    add_journal_parser(sub)


def add_journal_parser(sub: SubParsers) -> None:
    """``journal migrate --to URL [--from FILE]``."""
    p = sub.add_parser(
        "journal",
        help="copy this machine's journal into a team journal on PostgreSQL",
        description=(
            "Copy every job, file, event and film of a SQLite journal (default: jobs.sqlite3 in "
            "KLING3_HOME) into another journal, usually a team's PostgreSQL one. Idempotent: jobs "
            "already there are skipped. Then set KLING3_JOURNAL_URL on every machine.\n\n"
            "example:\n  kling3 journal migrate --to postgresql://kling3@db.internal/kling3"
        ),
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    m = actions.add_parser("migrate", help="copy a SQLite journal into URL (idempotent)")
    m.add_argument("--to", required=True, metavar="URL", help="postgresql://user:password@host/db (or a SQLite file)")
    m.add_argument("--from", dest="source", default=None, metavar="FILE",
                   help="the SQLite journal to copy (default: jobs.sqlite3 in KLING3_HOME)")
    add_json(m)
    m.set_defaults(handler=cmd_migrate)


def cmd_migrate(args: argparse.Namespace) -> int:
    """Copy the journal; print what was copied and what was there already."""
    from skill import settings
    from skill.errors import NoInput
    from skill.execution.journal import Journal

    source = Path(args.source).expanduser() if args.source else settings.journal_path()
    if not source.is_file():
        raise NoInput(f"there is no journal to migrate at {source}", code="no_journal", field="from")
    with Journal(source) as src, Journal(args.to) as dst:
        counts = src.copy_into(dst)
        doc = {"migrated": {"from": src.where, "to": dst.where, **counts}}
    if args.json:
        emit_json(doc)
    else:
        say(f"copied {counts['jobs']} job(s), {counts['files']} file(s), {counts['events']} event(s) and "
            f"{counts['runs']} film(s) into {doc['migrated']['to']}; {counts['jobs_already_there']} already there")
    return 0
