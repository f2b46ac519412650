"""Stage 4: submit to RunComfy, poll, download safely, and journal every paid job.

The paid-call logic is one sans-I/O generator (:mod:`.flow`) run by a sync and an async driver
against the :mod:`.model_api` protocols; the HTTP client, the retry policy (:mod:`.retry`, shared
by the client and the downloader), the downloader, the journal and the token store are the I/O
it is driven with.
"""

# The package face exports nothing itself: importing it must not pull in httpx or sqlite, so
# callers import the module they need (skill.execution.flow, .client, .journal, ...).
__all__: list[str] = []
