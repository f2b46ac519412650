"""The one vocabulary of job states: what the API reports, and what the journal records.

The API speaks of a job as queued, in progress, completed, failed or cancelled (with a couple
of spellings); the journal adds the states only this side knows: a submit not yet answered, a
download that failed, a wait that timed out. Every module asks these sets instead of spelling
states out.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "API_CANCELLED",
    "API_DONE",
    "API_WAITING",
    "JOURNALED_API_STATES",
    "SETTLED_STATES",
    "STATES",
    "UNFINISHED_STATES",
    "WAITING_STATES",
    "JobState",
]

API_WAITING = frozenset({"in_queue", "in_progress"})
"""API statuses of a job that is still rendering."""
API_DONE = frozenset({"completed", "succeeded"})
"""API statuses of a finished job whose files can be fetched."""
API_CANCELLED = frozenset({"cancelled", "canceled"})

JobState = Literal[
    "submitting",
    "submitted",
    "unconfirmed",
    "in_queue",
    "in_progress",
    "completed",
    "downloaded",
    "failed",
    "cancelled",
    "download_failed",
    "timeout",
]
STATES: tuple[str, ...] = get_args(JobState)

JOURNALED_API_STATES: tuple[str, ...] = ("in_queue", "in_progress", "completed", "failed", "cancelled")
"""API statuses the journal records as they are (any other answer is recorded as ``submitted``)."""

UNFINISHED_STATES: tuple[str, ...] = (
    "submitted",
    "in_queue",
    "in_progress",
    "completed",
    "download_failed",
    "timeout",
)
"""States of a job the server has and whose files we lack: what ``resume`` picks up."""

SETTLED_STATES = frozenset({"completed", "downloaded", "download_failed", "failed", "cancelled"})
"""States the server has settled; a late 'still waiting' answer never moves a job back from them."""
WAITING_STATES = frozenset({"submitting", "submitted", "unconfirmed", "in_queue", "in_progress", "timeout"})
