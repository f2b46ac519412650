"""Group commit and writes behind: fewer transactions, the same promises.

The rows of flows that begin at one turn of the loop are committed together (one durable
transaction), so are the request_ids that arrived together; a flow waits for its own write
before it goes on. States that are not promises are written behind, several jobs in one
transaction, and still reach other processes within a poll interval. What the journal's
connection commits is counted with SQLite's statement trace.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from skill.errors import InputError, TransientError
from skill.execution.group_commit import group_commit
from skill.execution.journal import Journal

MODEL = "kling/kling-3.0/standard/text-to-video"


def _row(n: int, **extra: Any) -> dict[str, Any]:
    return {"model_id": MODEL, "tier": "standard", "mode": "t2v", "payload": {"prompt": f"fox {n}", "duration": 5},
            "cost_usd": 0.42, **extra}


def _commits(journal: Journal) -> list[str]:
    """Every COMMIT the journal's own connection runs from now on (the test's window into it)."""
    seen: list[str] = []
    conn: sqlite3.Connection = journal._store._conn  # type: ignore[attr-defined]
    conn.set_trace_callback(lambda sql: seen.append(sql) if sql.strip().upper() == "COMMIT" else None)
    return seen


class _Flow:
    """The flow's own way to keep a request_id, recording what it was asked to keep."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.kept: list[tuple[str, str]] = []

    def remember(self, job_key: str, request_id: str) -> None:
        self.kept.append((job_key, request_id))
        try:
            self.journal.set_request_id(job_key, request_id)
        except TransientError:
            self.journal.note_request_id(job_key, request_id)


def test_rows_begun_at_one_turn_are_one_transaction_and_each_flow_gets_its_own(tmp_path: Path) -> None:
    with Journal(tmp_path / "jobs.sqlite3") as journal:
        commits = _commits(journal)

        async def go() -> list[str]:
            group = group_commit(journal)
            return list(await asyncio.gather(*(group.begin(_row(n)) for n in range(5))))

        keys = asyncio.run(go())
        assert len(commits) == 1
        jobs = [journal.get(k) for k in keys]
        assert [j.payload["prompt"] for j in jobs if j] == [f"fox {n}" for n in range(5)]
        assert {j.state for j in jobs if j} == {"submitting"}


def test_one_refused_row_of_a_group_does_not_refuse_the_others(tmp_path: Path) -> None:
    with Journal(tmp_path / "jobs.sqlite3") as journal:

        async def go() -> list[Any]:
            group = group_commit(journal)
            rows = [_row(0, daily_cap_usd=1.0), _row(1, daily_cap_usd=1.0), _row(2, daily_cap_usd=1.0)]
            return list(await asyncio.gather(*(group.begin(r) for r in rows), return_exceptions=True))

        first, second, third = asyncio.run(go())
        assert isinstance(first, str) and isinstance(second, str)
        assert isinstance(third, InputError) and third.code == "daily_cap_exceeded"  # 3 x 0.42 > 1.00
        assert len(journal.list()) == 2


def test_request_ids_that_arrive_together_are_one_durable_transaction(tmp_path: Path) -> None:
    with Journal(tmp_path / "jobs.sqlite3") as journal:
        keys = [journal.begin(MODEL, "standard", "t2v", {"prompt": f"fox {n}"}, 0.42).job_key for n in range(4)]
        commits = _commits(journal)
        flow = _Flow(journal)

        async def go() -> None:
            group = group_commit(journal)
            await asyncio.gather(*(group.remember(flow, k, f"rid-{n}") for n, k in enumerate(keys)))

        asyncio.run(go())
        assert len(commits) == 1 and flow.kept == []  # the group wrote them: no flow needed its own way
    with Journal(tmp_path / "jobs.sqlite3") as again:  # on disk, seen by a new connection
        assert [again.get(f"rid-{n}").state for n in range(4)] == ["submitted"] * 4  # type: ignore[union-attr]


def test_a_group_that_fails_keeps_each_request_id_the_flows_own_way(tmp_path: Path) -> None:
    """A duplicate id refuses only its pair; the journal failing for the whole group hands each
    id to its flow (which retries, or keeps it in the side file while the journal is busy)."""
    with Journal(tmp_path / "jobs.sqlite3") as journal:
        a, b = (journal.begin(MODEL, "standard", "t2v", {"prompt": f"fox {n}"}, 0.42).job_key for n in range(2))
        flow = _Flow(journal)

        async def go() -> list[Any]:
            group = group_commit(journal)
            return list(await asyncio.gather(group.remember(flow, a, "rid-x"), group.remember(flow, b, "rid-x"),
                                             return_exceptions=True))

        ok, clash = asyncio.run(go())
        assert ok is None and isinstance(clash, InputError) and clash.code == "duplicate_request_id"
    with Journal(tmp_path / "jobs.sqlite3", busy_timeout=0.1) as journal:
        c = journal.begin(MODEL, "standard", "t2v", {"prompt": "fox 3"}, 0.42).job_key
        flow = _Flow(journal)
        blocker = sqlite3.connect(tmp_path / "jobs.sqlite3", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # another process holds the journal

        async def busy() -> None:
            await group_commit(journal).remember(flow, c, "rid-z")

        asyncio.run(busy())
        assert flow.kept == [(c, "rid-z")]  # handed to the flow, which kept it in the side file
        blocker.execute("ROLLBACK")
        blocker.close()
    with Journal(tmp_path / "jobs.sqlite3") as again:
        job = again.get("rid-z")
        assert job is not None and job.job_key == c


def test_a_flow_cancelled_while_its_row_waits_leaves_no_maybe_submitted_row(tmp_path: Path) -> None:
    with Journal(tmp_path / "jobs.sqlite3") as journal:

        async def go() -> None:
            group = group_commit(journal)
            kept = asyncio.ensure_future(group.begin(_row(0)))
            gone = asyncio.ensure_future(group.begin(_row(1)))
            await asyncio.sleep(0)  # both are waiting for the write at the end of this turn
            gone.cancel()
            await kept
            with pytest.raises(asyncio.CancelledError):
                await gone

        asyncio.run(go())
        (row,) = journal.list()
        assert row.payload["prompt"] == "fox 0"


def test_states_written_behind_share_a_transaction_and_reach_another_process(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    with Journal(path) as journal:
        rids = []
        for n in range(3):
            key = journal.begin(MODEL, "standard", "t2v", {"prompt": f"fox {n}"}, 0.42).job_key
            rids.append(f"rid-{n}")
            journal.set_request_id(key, rids[-1])
        commits = _commits(journal)

        async def go() -> list[str | None]:
            loop = asyncio.get_running_loop()
            for rid in rids:
                journal.defer_state(rid, "in_queue", {"status": {"status": "in_queue"}},
                                    schedule=lambda write: loop.call_later(0.05, write))
            assert commits == []  # nothing written yet
            await asyncio.sleep(0.2)
            with Journal(path) as other:  # another process's view
                return [j.state if (j := other.get(r)) else None for r in rids]

        assert asyncio.run(go()) == ["in_queue"] * 3
        assert len(commits) == 1


def test_a_state_written_behind_goes_first_in_the_next_write(tmp_path: Path) -> None:
    """Order holds: a deferred ``completed`` never lands after a later ``downloaded``."""
    with Journal(tmp_path / "jobs.sqlite3") as journal:
        key = journal.begin(MODEL, "standard", "t2v", {"prompt": "fox"}, 0.42).job_key
        journal.set_request_id(key, "rid-1")
        later: list[Any] = []
        journal.defer_state("rid-1", "completed", None, schedule=later.append)
        journal.record_state("rid-1", "downloaded", {"files": ["/x.mp4"]})
        assert len(later) == 1
        later[0]()  # the scheduled write finds nothing left to do
        job = journal.get("rid-1")
        assert job is not None and job.state == "downloaded"
        assert [e.state for e in journal.events(job)] == ["submitting", "submitted", "completed", "downloaded"]
