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

from skill import settings
from skill._version import __version__
from skill.cli import account, gallery, jobs, journal, plan, run, serve
from skill.cli.flags import SubParsers
from skill.cli.render import emit_json, say, styled, warn
from skill.errors import (
    InternalError,
    Interrupted,
    Kling3Error,
    SubmitUnconfirmed,
    TransientError,
    UsageError,
    after_submit,
    resume_command,
)

__all__ = ["COMMAND_GROUPS", "EXIT_CODES", "CommandGroup", "Handler", "build_parser", "main"]

EXIT_CODES = """\
exit codes:
  0    success (plan printed; job done)
  1    the job itself failed or was cancelled at the API: change the prompt
  10   "no" at the confirmation question: nothing was sent
  64   usage error (bad flags)
  65   refused, nothing was sent: bad input, the API refused the submit (402: balance)
  66   an input file does not exist
  69   nothing could be sent ("paid": false: retry later); or the submit was not
       confirmed (submit_unconfirmed, "paid": "unknown"): never submit again before
       checking `kling3 jobs`; kling3 emulator: the port is taken
  70   internal error before anything was sent (a bug: please report it)
  73   the output folder cannot be created or written: nothing was sent
  74   the journal's database server (KLING3_JOURNAL_URL, --journal) cannot be reached:
       nothing was sent or paid; fix the URL or the server, then retry
  75   the job was submitted and is paid, but not finished here (time-out, API or network
       trouble, download, journal, disk): `kling3 resume ID` finishes it; never run it again
  77   not signed in, or the token was rejected (before anything was sent)
  78   a rules, catalog or template file is broken
  130  interrupted (Ctrl-C)
"""

Handler = Callable[[argparse.Namespace], int]
"""What each subparser stores as ``handler``: takes the parsed flags, returns the exit code."""


class CommandGroup(Protocol):
    """A command module: it adds its subparsers, each with ``handler`` set to its command."""

    def register(self, sub: SubParsers) -> None: ...


COMMAND_GROUPS: tuple[CommandGroup, ...] = (plan, run, jobs, journal, gallery, account, serve)
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


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``kling3`` parser: the top level, then each command group's subparsers.

    With ``command`` (the command the user named), only that command's parser is built; the
    others are skipped, since argparse would never read them. Without it, or for a name no group
    adds, every parser is built (``kling3 --help`` lists them all, a typo is told the choices).
    """
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
    only = _OneCommand(sub, command) if command else None
    for group in COMMAND_GROUPS:
        group.register(cast(SubParsers, only) if only is not None else sub)
    if only is not None and not only.built:
        return build_parser()
    return parser


class _Unbuilt:
    """Stands for the parser of a command that was not invoked: every call is accepted and
    dropped, so a command module's ``register`` runs unchanged without building anything."""

    def __getattr__(self, name: str) -> Any:
        return self._drop

    def _drop(self, *args: Any, **kwargs: Any) -> _Unbuilt:
        return self


class _OneCommand:
    """The subparsers action as the command modules see it when one command was named."""

    def __init__(self, sub: SubParsers, command: str) -> None:
        self.sub = sub
        self.command = command
        self.built = False

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        if name != self.command and self.command not in kwargs.get("aliases", ()):
            return _Unbuilt()
        self.built = True
        return self.sub.add_parser(name, **kwargs)


def _command_of(argv: Sequence[str]) -> str | None:
    """The command named in ``argv``: its first word that is not an option (None: none named)."""
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word
    return None


def _wants_json(argv: Sequence[str]) -> bool:
    """Errors are answered in JSON when ``--json`` is anywhere in argv, even if parsing fails."""
    return "--json" in argv


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kling3`` console script; returns the exit code."""
    # The CLI uses no pydantic plugin; not scanning entry points for them saves start-up time.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    _no_missing_streams()
    args_list = list(sys.argv[1:] if argv is None else argv)
    as_json = _wants_json(args_list)
    parser = build_parser(_command_of(args_list))
    try:
        args = parser.parse_args(args_list)
        settings.use_journal_url(getattr(args, "journal", None))
        handler: Handler | None = getattr(args, "handler", None)
        if handler is None:
            parser.print_help(sys.stderr)
            return 64
        code = handler(args)
    except Kling3Error as exc:
        return _report_error(exc, as_json)
    except KeyboardInterrupt:
        return _report_error(_interrupted(), as_json)
    except BrokenPipeError:  # the reader of stdout went away
        _silence_stdout()
        submitted = _paid_so_far()[0]
        if not submitted:
            return 0
        lost = TransientError("the answer could not be written: stdout was closed", code="stdout_closed")
        return _report_error(after_submit(lost, submitted), as_json, stdout=False)
    except Exception as exc:  # no traceback ever reaches the user
        return _report_error(_unexpected(exc), as_json)
    finally:
        settings.use_journal_url(None)
        _warn_token_file(as_json)
    if argv is None and getattr(args, "exit_now", False):  # the console script, done: no teardown
        from skill.cli.quick_exit import exit_now

        exit_now(code)
    return code


def _no_missing_streams() -> None:
    """A process started with stdout or stderr closed has ``None`` there; writing to it would
    crash the command half way (maybe after paying), so the missing stream goes nowhere."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the exit flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _paid_so_far() -> tuple[list[str], bool]:
    """The request_ids this process saw confirmed, and whether a submit was left unanswered
    (what the progress printer watched; nothing when no command that spends ran)."""
    progress = sys.modules.get("skill.cli.progress")
    watch = getattr(progress, "WATCH", None)
    if watch is None:
        return [], False
    return list(watch.submitted), watch.in_flight


def _interrupted() -> Kling3Error:
    """Ctrl-C outside the flow's own handling: still say what was paid."""
    submitted, in_flight = _paid_so_far()
    message = "interrupted"
    if in_flight:
        message += "; a submit was under way and may have created a paid job: check `kling3 jobs`"
    elif submitted:
        message += f"; submitted jobs keep running: `{resume_command(submitted)}` fetches them"
    return Interrupted(message, request_id=submitted[0] if submitted else None)


def _unexpected(exc: Exception) -> Kling3Error:
    """A bug, reported as data: after a confirmed submit as the paid job's error (75), during
    one as an unconfirmed submit (69), else as an internal error (70); never a traceback."""
    submitted, in_flight = _paid_so_far()
    cause = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if in_flight:
        return SubmitUnconfirmed(
            f"unexpected error during a submit ({cause}); the job may or may not have been "
            "created: do not submit again before checking `kling3 jobs`"
        )
    if submitted:
        return after_submit(exc, submitted)
    return InternalError(f"unexpected error ({cause}); nothing was paid. Please report it.")


def _report_error(exc: Kling3Error, as_json: bool, *, stdout: bool = True) -> int:
    """The error as JSON on stdout (with --json), else a line on stderr; its exit code. With
    ``stdout`` gone (a broken pipe) a --json error is a JSON line on stderr instead."""
    try:
        if as_json and stdout:
            emit_json({"error": exc.to_dict()})
        elif as_json:
            emit_json({"event": "error", "error": exc.to_dict()}, sys.stderr)
        else:
            say(f"{styled('error')}: {exc.message}" + (f" [{exc.code}]" if exc.code else ""))
    except OSError:
        pass  # nowhere left to say it; the exit code still does
    return exc.exit_code


def _warn_token_file(as_json: bool) -> None:
    """A token file that others can read is used, but the user hears about it (stderr)."""
    auth = sys.modules.get("skill.execution.auth")
    warning = auth.token_file_warning() if auth is not None else None
    if warning and as_json:
        emit_json({"event": "warning", "message": warning}, sys.stderr)
    elif warning:
        warn(warning)
