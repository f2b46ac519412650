"""Stage 4: submit to RunComfy, poll, download safely, and journal every paid job.

The paid-call logic is one sans-I/O generator (:mod:`.flow`) run by a sync and an async driver
against the :mod:`.model_api` protocols; the HTTP client, the retry policy (:mod:`.retry`, shared
by the client and the downloader), the downloader, the journal and the token store are the I/O
it is driven with.
"""

import sys

# The package face exports nothing itself: importing it must not pull in httpx or sqlite, so
# callers import the module they need (skill.execution.flow, .client, .journal, ...).
__all__: list[str] = []

# `import httpx` also imports httpx's own command-line tool (httpx._main, with click, rich and
# pygments: ~25 ms of every batch, run and download) whenever those happen to be installed, as
# rich is for kling3's progress display. kling3 never runs that tool; a None entry makes httpx
# take its "CLI not installed" path. Only before httpx is first imported, so a process that
# already has it keeps it whole.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
