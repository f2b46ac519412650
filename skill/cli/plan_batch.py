"""``kling3 plan --batch``: plan every JSON line of a file, in order, one JSON line out per line in.

Plans are pure functions of the request, so a large file is spread over forked workers: they
are forked after the rules and vocabulary are compiled, share them copy-on-write, and only the
JSON text comes back. Small files (and platforms without ``fork``) are planned in-process, which
gives exactly the same lines. This is a CLI mechanism only; the Python API plans one request.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from typing import Any, TextIO

from skill.errors import Kling3Error, NoInput, UsageError

__all__ = ["PARALLEL_BATCH_LINES", "plan_batch"]

PARALLEL_BATCH_LINES = 400
"""From this many lines on, forked workers pay for their start-up."""

_BATCH_OPTS: dict[str, Any] = {}
"""The rules and templates of this batch; a module global so forked workers inherit it."""


def _plan_line(item: tuple[int, str]) -> str:
    """One batch line -> one JSON line (a plan or an error). Runs in worker processes too."""
    from skill.media.ffmpeg import video_tools_available
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
        plan = make_plan(obj, rules_path=_BATCH_OPTS.get("rules"), template_dir=_BATCH_OPTS.get("templates"),
                         video_tools=video_tools_available)
        return plan.model_dump_json(by_alias=True)
    except Kling3Error as exc:
        err = exc.to_dict()
        err["line"] = lineno
        if exc.code == "usage":
            err["code"] = "invalid_input"
        doc = {"error": err}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def _read_lines(source: str) -> list[tuple[int, str]]:
    """The numbered lines of FILE ('-' is stdin); a missing or unreadable file is ``no_input``."""
    try:
        stream = sys.stdin if source == "-" else open(source, encoding="utf-8")  # noqa: SIM115
    except FileNotFoundError:
        raise NoInput(f"batch file not found: {source}") from None
    except OSError as exc:
        raise NoInput(f"cannot read batch file {source}: {exc.strerror}") from None
    with stream:
        return list(enumerate(stream, 1))


def plan_batch(source: str, *, rules: str | None, templates: str | None, out: TextIO | None = None) -> int:
    """Plan every line of ``source`` in order, writing one JSON line each; returns the exit code.

    Errors on a line become that line's ``{"error": ...}``; they do not stop the batch.
    """
    lines = _read_lines(source)
    _BATCH_OPTS.update(rules=rules, templates=templates)
    stream = out or sys.stdout
    workers = min(os.cpu_count() or 1, 8)
    if len(lines) >= PARALLEL_BATCH_LINES and workers > 1 and _can_fork():
        import multiprocessing

        from skill.intent import enable_prefilter

        enable_prefilter()
        _plan_line((0, '{"text": "warm up the shared caches"}'))
        gc.freeze()  # the compiled rules stay shared: no collection touches (and copies) their pages
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for doc in pool.imap(_plan_line, lines, chunksize=64):
                stream.write(doc + "\n")
    else:
        for item in lines:
            stream.write(_plan_line(item) + "\n")
    stream.flush()
    return 0


def _can_fork() -> bool:
    """Workers rely on fork (inherited caches and options); spawn would recompile everything."""
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()
