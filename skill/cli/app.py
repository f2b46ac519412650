"""The ``kling3`` entry point: the top-level parser, error handling and exit codes.

Agent-friendly by construction: every command takes ``--json`` (stdout carries exactly one JSON
document, or one per line for batches; diagnostics go to stderr), never prompts without a TTY,
and exits with a documented sysexits code. Each command group lives in its own module and adds
its own subparsers; this module only assembles them and turns errors into exit codes. Heavy
modules (httpx, mcp) are imported only by the commands that need them, so ``kling3 plan``
starts fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, Protocol, cast

from skill._version import __version__
from skill.cli import account, gallery, jobs, plan, run, serve
from skill.cli.flags import SubParsers
from skill.cli.render import emit_json, say, styled, warn
from skill.errors import Kling3Error, UsageError

__all__ = ["COMMAND_GROUPS", "EXIT_CODES", "CommandGroup", "Handler", "build_parser", "main"]

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

Handler = Callable[[argparse.Namespace], int]
"""What each subparser stores as ``handler``: takes the parsed flags, returns the exit code."""


class CommandGroup(Protocol):
    """A command module: it adds its subparsers, each with ``handler`` set to its command."""

    def register(self, sub: SubParsers) -> None: ...


COMMAND_GROUPS: tuple[CommandGroup, ...] = (plan, run, jobs, gallery, account, serve)
"""In the order ``kling3 --help`` lists their commands."""


class _Parser(argparse.ArgumentParser):
    """argparse that exits 64 (EX_USAGE) and answers in JSON when ``--json`` was asked.

    Every parser ends its help with the exit codes (kept verbatim, hence the raw formatter)
    unless a command passes its own ``epilog`` and ``formatter_class``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("epilog", EXIT_CODES)
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    """The whole ``kling3`` parser: the top level, then each command group's subparsers."""
    parser = _Parser(
        prog="kling3",
        description=(
            "Plan, price and run Kling 3.0 videos on the RunComfy Model API. "
            "Start with `kling3 plan \"...\"`: it is free and shows the endpoint, prompt, exact "
            "payload, cost and the reasons."
        ),
    )
    parser.add_argument("--version", action="version", version=f"kling3 {__version__}")
    # The command modules only call add_parser, whose _Parser is an ArgumentParser, so viewing
    # the (invariant) _SubParsersAction[_Parser] as SubParsers is safe.
    sub = cast(SubParsers, parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser))
    for group in COMMAND_GROUPS:
        group.register(sub)
    return parser


def _wants_json(argv: Sequence[str]) -> bool:
    """Errors are answered in JSON when ``--json`` is anywhere in argv, even if parsing fails."""
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
        return _report_error(exc, as_json)
    except KeyboardInterrupt:
        if as_json:
            emit_json({"error": {"code": "interrupted", "field": None, "message": "interrupted"}})
        say("interrupted")
        return 130
    except BrokenPipeError:
        return 0
    finally:
        _warn_token_file()


def _report_error(exc: Kling3Error, as_json: bool) -> int:
    """The error as JSON on stdout (with --json) and a line on stderr; its exit code."""
    code = exc.exit_code
    if exc.code == "no_input":
        code = 66
    if as_json:
        emit_json({"error": exc.to_dict()})
    say(f"{styled('error')}: {exc.message}" + (f" [{exc.code}]" if exc.code else ""))
    return code


def _warn_token_file() -> None:
    """A token file that others can read is used, but the user hears about it (stderr)."""
    auth = sys.modules.get("skill.execution.auth")
    warning = auth.token_file_warning() if auth is not None else None
    if warning:
        warn(warning)
