"""Stage 4: submit to RunComfy, poll, download safely, and journal every paid job.

The paid-call logic is one sans-I/O generator (:mod:`.flow`) run by a sync and an async driver;
the HTTP client, retry policy, downloader, journal and token store are the I/O it is driven with.
"""
