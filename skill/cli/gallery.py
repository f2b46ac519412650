"""``kling3 gallery``: one static HTML page of the finished videos, to compare them side by side.

Free and offline: it reads the local journal and writes a file. The page builder is
:mod:`skill.gallery`, imported in the handler.
"""

from __future__ import annotations

import argparse
import sys

from skill.cli.flags import SubParsers, add_journal, add_json
from skill.cli.render import emit_json, say

__all__ = ["DEFAULT_NAME", "add_gallery_parser", "cmd_gallery", "register"]

DEFAULT_NAME = "gallery.html"


def register(sub: SubParsers) -> None:
    add_gallery_parser(sub)


def add_gallery_parser(sub: SubParsers) -> None:
    """``gallery [--output FILE] [--open] [--limit N]``."""
    p = sub.add_parser(
        "gallery",
        help="free: one offline HTML page of your finished videos, variants side by side",
        description=(
            "Write one static HTML page (no server, no network, no scripts) of the finished videos in "
            "the journal: each playable, with its contact sheet as the poster, its prompt, endpoint, "
            "length, ratio, cfg_scale, cost, request_id and date; the variants of one request side by "
            "side, a batch together, a film's calls as its finished video.\n\n"
            "examples:\n"
            "  kling3 gallery --open\n"
            "  kling3 gallery --output ~/kling.html --limit 20 --json"
        ),
    )
    p.add_argument("--output", metavar="FILE", default=None,
                   help=f"where to write the page (default: {DEFAULT_NAME} in the kling3 home folder)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.add_argument("--limit", type=int, default=50, metavar="N", help="the newest N finished jobs (default 50)")
    add_journal(p)
    add_json(p)
    p.set_defaults(handler=cmd_gallery)


def cmd_gallery(args: argparse.Namespace) -> int:
    """Write the page; its path on stdout (or the JSON document), and open it if asked."""
    from skill import settings
    from skill.errors import InputError
    from skill.execution.journal import Journal
    from skill.gallery import collect, write_gallery

    if args.limit < 1:
        raise InputError("--limit must be at least 1", code="invalid_input", field="limit")
    with Journal() as journal:
        gallery = collect(journal, limit=args.limit)
    path = write_gallery(args.output or settings.kling3_home() / DEFAULT_NAME, gallery)
    if args.json:
        emit_json({"path": str(path), "uri": path.as_uri(), "groups": len(gallery.groups), "videos": gallery.videos})
    else:
        say(f"{gallery.videos} video(s) in {len(gallery.groups)} group(s)")
        sys.stdout.write(path.as_uri() + "\n")
    if args.open:
        import webbrowser

        if not webbrowser.open(path.as_uri()):
            say(f"could not start a browser: open {path.as_uri()} yourself")
    return 0
