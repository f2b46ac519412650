"""Which journal commits are flushed on their own, and what the others still promise.

A batch job used to cost ten fsync'd commits; now only the promises are durable on their own
(the row before the submit, the request_id right after it), and what polling or the saved file
can tell again (a status on the way, a saved file's row, ``downloaded``, claims) commits without
a flush. Such a commit must still be atomic and survive the process being
killed (only a power cut may take it, and never a durable commit made before it), and the
next durable commit must be flushed as before.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from skill.errors import InputError
from skill.execution.journal import CLAIM_SECONDS, Journal

MODEL = "kling/kling-3.0/standard/text-to-video"
PAYLOAD = {"prompt": "a fox in the snow", "duration": 5}


@pytest.fixture(params=["sqlite", "postgresql"])
def journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Journal]:
    target = tmp_path / "jobs.sqlite3" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    with Journal(target) as j:
        yield j


def _submitted(j: Journal, request_id: str) -> str:
    rec = j.begin(MODEL, "standard", "t2v", PAYLOAD, 0.5)
    j.set_request_id(rec.job_key, request_id)
    return rec.job_key


def test_record_state_follows_the_rules_of_update_state(journal: Journal) -> None:
    key = _submitted(journal, "rid-durable-1")
    journal.record_state("rid-durable-1", "in_queue", {"status": {"status": "in_queue"}}, durable=False)
    journal.record_state("rid-durable-1", "in_queue", {"status": {"status": "in_queue", "queue_position": 0}},
                         durable=False)
    journal.record_state(key, "completed", {"result": {"status": "completed"}})
    journal.record_state("rid-durable-1", "in_progress", {"status": "late"}, durable=False)  # stale: ignored
    job = journal.get(key)
    assert job is not None and job.state == "completed" and job.status_detail == {"result": {"status": "completed"}}
    assert [e.state for e in journal.events(job)] == ["submitting", "submitted", "in_queue", "completed"]
    with pytest.raises(InputError) as err:
        journal.record_state("no-such-job", "in_queue")
    assert err.value.code == "unknown_job"
    with pytest.raises(ValueError):
        journal.record_state(key, "no-such-state")


def test_a_non_durable_file_row_and_state_are_kept_with_the_next_durable_state(journal: Journal) -> None:
    key = _submitted(journal, "rid-durable-2")
    journal.add_file("rid-durable-2", "https://x.runcomfy.net/v.mp4", "/tmp/v.mp4", "ab" * 32, 10, durable=False)
    journal.update_state(key, "downloaded", {"files": ["/tmp/v.mp4"]})
    assert [f.path for f in journal.files(key)] == ["/tmp/v.mp4"]
    assert journal.get(key).state == "downloaded"  # type: ignore[union-attr]


def test_a_job_is_claimed_from_its_row_for_the_time_asked(journal: Journal) -> None:
    long = journal.begin(MODEL, "standard", "t2v", PAYLOAD, 0.5, owner="me:1:a", claim_seconds=600)
    short = journal.begin(MODEL, "standard", "t2v", PAYLOAD, 0.5, owner="me:1:a")

    def held(rec_created: str, until: str | None) -> float:
        assert until is not None
        return (datetime.fromisoformat(until) - datetime.fromisoformat(rec_created)) / timedelta(seconds=1)

    assert long.claimed_by == "me:1:a" and held(long.created_at, long.claimed_until) == pytest.approx(600, abs=5)
    assert held(short.created_at, short.claimed_until) == pytest.approx(CLAIM_SECONDS, abs=5)


_WRITER = r"""
import os, sys
from skill.execution.journal import Journal
j = Journal(sys.argv[1])
rec = j.begin("m", "standard", "t2v", {"prompt": "x"}, 0.5, owner="someone:1:x")
j.set_request_id(rec.job_key, "rid-killed")
j.record_state("rid-killed", "in_queue", {"status": "q"}, durable=False)
j.record_state("rid-killed", "in_progress", {"status": "p"}, durable=False)
j.release("someone:1:x")
print("written", flush=True)
sys.stdin.read()  # killed here, the journal never closed
"""


def test_non_durable_commits_survive_a_kill_minus_9(tmp_path: Path) -> None:
    """Only a power cut may lose a non-durable commit: a killed process loses none of them."""
    path = tmp_path / "jobs.sqlite3"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "written"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with Journal(path) as j:
        job = j.get("rid-killed")
        assert job is not None and job.state == "in_progress" and job.claimed_by is None
        assert [e.state for e in j.events(job)] == ["submitting", "submitted", "in_queue", "in_progress"]


def test_a_durable_commit_after_non_durable_ones_is_flushed(tmp_path: Path) -> None:
    """SQLite's own word on the connection's sync level around each kind of commit: FULL (2)
    for the promises, NORMAL (1) only for the commit that asked for it."""
    path = tmp_path / "jobs.sqlite3"
    seen: list[int] = []
    with Journal(path) as j:
        key = _submitted(j, "rid-durable-3")
        trace_conn = j._store._conn  # type: ignore[attr-defined]  # the level is per connection
        trace_conn.set_trace_callback(
            lambda sql: seen.append(2 if "FULL" in sql else 1) if sql.startswith("PRAGMA synchronous") else None
        )
        j.record_state(key, "in_queue", durable=False)
        j.record_state(key, "in_progress", durable=False)
        j.update_state(key, "downloaded")
        j.claim(key, "me:1:b")
        j.set_request_id(key, "rid-durable-3")
        trace_conn.set_trace_callback(None)
    # NORMAL for the two polls, FULL for downloaded, NORMAL for the claim, FULL for the request_id
    assert seen == [1, 2, 1, 2]


def test_release_by_keys_frees_only_those_jobs_of_that_owner(journal: Journal) -> None:
    """A flow releases the jobs it claimed by job_key (an index lookup each), not by a scan."""
    mine = [journal.begin(MODEL, "standard", "t2v", PAYLOAD, 0.5, owner="me:1:c") for _ in range(3)]
    other = journal.begin(MODEL, "standard", "t2v", PAYLOAD, 0.5, owner="you:2:d")
    for n, rec in enumerate([*mine, other]):
        journal.set_request_id(rec.job_key, f"rid-release-{n}")
    journal.release("me:1:c", keys=[mine[0].job_key, mine[1].job_key, other.job_key])
    held = {rec.job_key: journal.get(rec.job_key).claimed_by for rec in [*mine, other]}  # type: ignore[union-attr]
    assert held == {mine[0].job_key: None, mine[1].job_key: None, mine[2].job_key: "me:1:c",
                    other.job_key: "you:2:d"}
