"""A journal locked by another process when the submit answer arrives never loses the request_id:
the ``submitted`` event carries it first, the write is tried again, and if the journal stays
locked the id is kept in memory and in the journal's side file, and every final answer names it."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from skill.errors import JobUnfinished, WaitTimeout
from skill.execution.client import RunComfyClient
from skill.execution.events import Submitted
from skill.execution.flow import resume, run
from skill.execution.journal import Journal
from skill.testing.emulator import Emulator, Fault

TEXT = "a heron lifting off a misty lake, 5 seconds"


@contextmanager
def lock_when_submitted(emu: Emulator, path: Path, release: threading.Event) -> Iterator[threading.Event]:
    """Take the journal's write lock (another process's BEGIN IMMEDIATE) once the submit reached the
    emulator and before its (delayed) answer comes back; hold it until ``release`` is set."""
    held = threading.Event()

    def hold() -> None:
        assert emu.wait_for_requests("submit", 1, timeout=20)
        conn = sqlite3.connect(path, isolation_level=None, timeout=5)
        conn.execute("BEGIN IMMEDIATE")
        held.set()
        release.wait(30)
        conn.execute("COMMIT")
        conn.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    try:
        yield held
    finally:
        release.set()
        thread.join(10)


@pytest.fixture
def slow_submit(make_emulator: Callable[..., Emulator]) -> Emulator:
    emu = make_emulator(queue_seconds=0.2, run_seconds=0.2)
    emu.add_fault(Fault(route="submit", kind="hang", hang_seconds=0.5))  # time to take the lock
    return emu


def test_the_id_is_announced_before_the_journal_write_and_recorded_once_the_lock_goes(
    slow_submit: Emulator, tmp_path: Path
) -> None:
    path = tmp_path / "jobs.sqlite3"
    release = threading.Event()
    seen: list[Any] = []

    def on_event(event: Any) -> None:
        seen.append(event)
        if isinstance(event, Submitted):
            assert held.is_set()  # the journal is still locked: the id got out first
            threading.Timer(0.2, release.set).start()

    with Journal(path, busy_timeout=0.15) as jr, lock_when_submitted(slow_submit, path, release) as held, \
            RunComfyClient(base_url=slow_submit.base_url, token=slow_submit.token) as client:
        res = run(TEXT, output_dir=tmp_path / "o", poll_interval=0.05, client=client, journal=jr, on_event=on_event)
        assert res.status == "completed" and not [w for w in res.warnings if "journal_busy" in w]
        job = jr.get(res.request_id or "")
        assert job is not None and job.state == "downloaded"
    assert [e.request_id for e in seen if isinstance(e, Submitted)] == [res.request_id]
    assert slow_submit.counts["submit"] == 1


def test_a_journal_locked_for_the_whole_run_still_delivers_and_names_the_id(
    slow_submit: Emulator, tmp_path: Path
) -> None:
    path = tmp_path / "jobs.sqlite3"
    release = threading.Event()
    with Journal(path, busy_timeout=0.1) as jr, lock_when_submitted(slow_submit, path, release), \
            RunComfyClient(base_url=slow_submit.base_url, token=slow_submit.token) as client:
        res = run(TEXT, output_dir=tmp_path / "o", poll_interval=0.05, client=client, journal=jr)
        assert res.status == "completed" and Path(res.files[0]).is_file()
        (warning,) = [w for w in res.warnings if w.startswith("journal_busy")]
        assert str(res.request_id) in warning and "request-ids" in warning
    # Once the lock is gone, the next journal opened records the id from the side file.
    with Journal(path) as later:
        (job,) = later.list()
        assert job.request_id == res.request_id and job.state == "submitted" and not job.possibly_paid
    assert slow_submit.counts["submit"] == 1


def test_a_wait_that_ends_while_the_journal_is_locked_names_the_id_and_resume_finishes_it(
    make_emulator: Callable[..., Emulator], home: Path, tmp_path: Path
) -> None:
    emu = make_emulator(queue_seconds=1.0, run_seconds=0.2)
    emu.add_fault(Fault(route="submit", kind="hang", hang_seconds=0.5))
    path = home / "jobs.sqlite3"
    release = threading.Event()
    with Journal(path, busy_timeout=0.1) as jr, lock_when_submitted(emu, path, release), \
            RunComfyClient(base_url=emu.base_url, token=emu.token) as client:
        with pytest.raises(WaitTimeout) as info:
            run(TEXT, output_dir=tmp_path / "o", poll_interval=0.05, timeout=0.3, client=client, journal=jr)
        err = info.value
        rid = emu.jobs()[0]["request_id"]
        assert isinstance(err, JobUnfinished) is False and err.exit_code == 75
        assert err.request_id == rid and err.details["resume_command"] == f"kling3 resume {rid}"
        assert "journal_busy" in err.details["journal"]
    with RunComfyClient(base_url=emu.base_url, token=emu.token) as client:
        (done,) = resume(rid, poll_interval=0.05, client=client)
    assert done["status"] == "completed" and Path(done["files"][0]).parent == (tmp_path / "o").resolve()
    assert emu.counts["submit"] == 1
