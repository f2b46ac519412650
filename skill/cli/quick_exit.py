"""Leave the process without the interpreter's teardown, once a command has said all it had to.

Tearing down a process that imported httpx, pydantic, asyncio and the planner (freeing every
module and object one by one) costs tens of milliseconds of CPU that change nothing once the
output is flushed and the files are closed; a batch of quick jobs pays it on top of its work.
:func:`exit_now` does what an ordinary exit does that can be seen from outside (the exit code,
the ``atexit`` handlers such as the start-up cache's, the flush of stdout and stderr) and skips
the rest with :func:`os._exit`. Whenever that cannot be done exactly, it returns, and the
caller exits the ordinary way.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading

__all__ = ["exit_now"]


def exit_now(code: int) -> None:
    """End the process with ``code`` at once if nothing but the teardown is left: no other
    thread is alive (an ordinary exit would wait for it) and both streams flush cleanly (a
    failed flush is left to the ordinary exit, which reports it as it always does)."""
    if threading.active_count() != 1 or not 0 <= code <= 255:
        return
    if not _flushed():
        return
    atexit._run_exitfuncs()
    if not _flushed():  # a handler wrote something that does not flush: the ordinary way
        return
    os._exit(code)


def _flushed() -> bool:
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        return False
    return True
