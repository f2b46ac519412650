"""Group commit for the flows of one event loop: the journal's promises, one flush per turn.

A batch runs many flows on one loop and one journal. Two writes per job are promises and must
be on disk before the flow goes on: the row before its submit, and the request_id after it.
Flows that reach the same point at the same turn of the loop (jobs started together, answers
that arrived together) hand their write to :class:`GroupCommit` and wait; the first one
schedules a single write for the end of the turn (``loop.call_soon``), which commits every
waiting row, or every waiting request_id, in ONE durable transaction (one fsync), then wakes
them. A flow is only ever in a group while it waits for that write, so a crash after the fsync
leaves rows only of jobs that were about to be submitted; the wait adds one turn of the loop,
not a timer.

What is not a promise (statuses on the way, ``completed``, ``downloaded``) is deferred by
:meth:`Journal.defer_state` instead: written behind, several jobs at a time.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from skill.errors import InputError
from skill.execution.journal import Journal

__all__ = ["GroupCommit", "Remembers", "group_commit"]


class Remembers(Protocol):
    """What keeps a confirmed submit's request_id when the group's write fails: the flow's own
    way (tried again, kept in memory and in the journal's side file while the journal is busy)."""

    def remember(self, job_key: str, request_id: str) -> None: ...


_GROUPS: weakref.WeakKeyDictionary[Journal, GroupCommit] = weakref.WeakKeyDictionary()


def group_commit(journal: Journal) -> GroupCommit:
    """The group commit of ``journal`` on the running loop (one per journal and loop)."""
    loop = asyncio.get_running_loop()
    group = _GROUPS.get(journal)
    if group is None or group.loop is not loop:
        group = _GROUPS[journal] = GroupCommit(journal, loop)
    return group


class GroupCommit:
    """Rows and request_ids of the flows waiting at one turn of ``loop``, written together."""

    def __init__(self, journal: Journal, loop: asyncio.AbstractEventLoop) -> None:
        self.journal = journal
        self.loop = loop
        self._rows: list[tuple[Mapping[str, Any], asyncio.Future[str]]] = []
        self._ids: list[tuple[Remembers, str, str, asyncio.Future[None]]] = []

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Schedule ``callback`` at the end of this turn (what :meth:`Journal.defer_state` takes)."""
        self.loop.call_soon(callback)

    async def begin(self, job: Mapping[str, Any]) -> str:
        """:meth:`Journal.begin` (its arguments as a mapping), committed with the rows of the
        other flows that begin at this turn; the job_key once the row is on disk.

        Cancelled while waiting: a row not written yet never is; one written already is marked
        failed and not sent (its submit will not happen), so no false "maybe submitted" row stays."""
        future: asyncio.Future[str] = self.loop.create_future()
        if not self._rows:
            self.loop.call_soon(self._write_rows)
        self._rows.append((job, future))
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled() and future.exception() is None:
                self.journal.update_state(future.result(), "failed",
                                          {"error": "interrupted before the submit", "sent": False})
            raise

    def _write_rows(self) -> None:
        waiting = [(job, f) for job, f in self._rows if not f.cancelled()]
        self._rows = []
        if not waiting:
            return
        try:
            keys = self.journal.begin_many(job for job, _ in waiting)
        except Exception as exc:  # the journal itself failed: every waiter raises it, nothing sent
            for _, future in waiting:
                future.set_exception(exc)
            return
        for (_, future), key in zip(waiting, keys, strict=True):
            if isinstance(key, InputError):
                future.set_exception(key)
            else:
                future.set_result(key)

    async def remember(self, flow: Remembers, job_key: str, request_id: str) -> None:
        """Record a confirmed submit's request_id with the others that arrived at this turn,
        durable before this returns. If the group's write fails, each is kept the flow's own
        way (:class:`Remembers`). Cancelled while waiting, the id is written before the
        cancellation goes on: the job is paid for."""
        future: asyncio.Future[None] = self.loop.create_future()
        if not self._ids:
            self.loop.call_soon(self._write_ids)
        self._ids.append((flow, job_key, request_id, future))
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError:
            if not future.done():
                self._write_ids()
            if not future.cancelled():
                future.exception()  # seen here: the flow goes on with its cancellation
            raise

    def _write_ids(self) -> None:
        waiting, self._ids = self._ids, []
        if not waiting:
            return
        try:
            errors: list[InputError | None] = self.journal.set_request_ids((k, r) for _, k, r, _ in waiting)
        except Exception:  # the whole group failed (a busy journal...): each is kept its own way
            for flow, job_key, request_id, future in waiting:
                try:
                    flow.remember(job_key, request_id)
                except Exception as exc:
                    future.set_exception(exc)
                else:
                    future.set_result(None)
            return
        for (_, _, _, future), error in zip(waiting, errors, strict=True):
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)
