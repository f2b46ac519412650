"""The job journal: what `kling3 status/resume/spend` and the daily cap rely on."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from skill import settings
from skill.errors import ConfigError, InputError
from skill.execution.journal import SCHEMA_VERSION, Journal

MODEL = "kling/kling-3.0/standard/text-to-video"
PAYLOAD = {"prompt": "a red fox runs through snow, ünïcode", "duration": 5, "aspect_ratio": "16:9"}
REPO = Path(__file__).resolve().parents[2]


class Clock:
    """A settable UTC clock, so jobs can be placed on given days."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNCOMFY_CONFIG_DIR", str(tmp_path / "runcomfy-config"))
    monkeypatch.setenv("KLING3_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RUNCOMFY_TOKEN", raising=False)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2025, 3, 10, 12, 0, tzinfo=timezone.utc))


@pytest.fixture(params=["sqlite", "postgresql"])
def journal(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> Iterator[Journal]:
    """The journal on each backend: the suite below holds both to the same promises."""
    target = tmp_path / "state" / "jobs.sqlite3" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    with Journal(target, clock=clock) as j:
        assert j.kind == request.param
        yield j


def _submitted(j: Journal, request_id: str, tier: str = "standard", cost: float = 1.0) -> str:
    rec = j.begin(MODEL, tier, "t2v", PAYLOAD, cost)
    j.set_request_id(rec.job_key, request_id)
    return rec.job_key


def test_default_path_is_under_kling3_home(tmp_path: Path) -> None:
    with Journal() as j:
        assert j.path == tmp_path / "home" / "jobs.sqlite3"
        assert j.path.exists()


def test_lifecycle_round_trip(journal: Journal, tmp_path: Path) -> None:
    rec = journal.begin(MODEL, "standard", "t2v", PAYLOAD, 0.42, tmp_path / "out", "b1", "fox")
    assert rec.state == "submitting" and rec.request_id is None
    assert rec.payload == PAYLOAD and rec.cost_usd == 0.42
    assert (rec.output_dir, rec.batch_id, rec.label) == (str(tmp_path / "out"), "b1", "fox")

    assert journal.set_request_id(rec.job_key, "req-0001-aaaa").state == "submitted"
    assert [j.job_key for j in journal.unfinished()] == [rec.job_key]
    journal.update_state("req-0001-aaaa", "in_queue", {"status": "in_queue", "queue_position": 3})
    journal.update_state("req-0001-aaaa", "completed", {"status": "completed"})
    saved = journal.add_file(
        "req-0001-aaaa", "https://a.runcomfy.net/o.mp4", tmp_path / "out/o.mp4", "ab" * 32, 1234
    )
    done = journal.update_state(rec.job_key, "downloaded")

    again = journal.get("req-0001-aaaa")
    assert again == done
    assert again is not None and again.state == "downloaded"
    assert again.status_detail == {"status": "completed"}
    assert again.created_at <= again.updated_at
    assert datetime.fromisoformat(again.created_at).tzinfo is not None
    assert journal.files(again) == [saved]
    assert (saved.path, saved.size, saved.sha256) == (str(tmp_path / "out/o.mp4"), 1234, "ab" * 32)
    assert journal.unfinished() == []
    json.dumps(again.to_dict())


def test_lookup_by_id_job_key_request_id_and_prefix(journal: Journal) -> None:
    key1 = _submitted(journal, "abcdef12-0000")
    key2 = _submitted(journal, "abcdef99-0000")
    first = journal.get(key1)
    assert first is not None and first.request_id == "abcdef12-0000"
    assert journal.get(first.id) == first
    assert journal.get(str(first.id)) == first
    assert journal.get("abcdef12-0000") == first
    assert journal.get("abcdef1") == first
    second = journal.get("abcdef9")
    assert second is not None and second.job_key == key2
    assert journal.get("abcde") is None
    assert journal.get("zzzzzzzz") is None
    with pytest.raises(InputError) as err:
        journal.get("abcdef")
    assert err.value.code == "ambiguous_job"
    assert "abcdef12-0000" in err.value.message and "abcdef99-0000" in err.value.message


def test_list_newest_first_with_filters(journal: Journal) -> None:
    keys = [_submitted(journal, f"req-{i:04d}") for i in range(5)]
    journal.update_state(keys[1], "failed", {"error": "boom"})
    assert [j.job_key for j in journal.list()] == keys[::-1]
    assert [j.job_key for j in journal.list(limit=2)] == [keys[4], keys[3]]
    assert [j.job_key for j in journal.list(states=["failed"])] == [keys[1]]
    assert journal.list(states=[]) == []


def test_every_state_change_appends_an_event(journal: Journal) -> None:
    rec = journal.begin(MODEL, "pro", "t2v", PAYLOAD, 2.0)
    journal.set_request_id(rec.job_key, "req-events")
    journal.update_state("req-events", "in_queue")
    journal.update_state("req-events", "in_progress", {"status": "in_progress", "n": 1})
    journal.update_state("req-events", "in_progress", {"status": "in_progress", "n": 2})
    journal.update_state("req-events", "completed", {"status": "completed"})
    journal.update_state("req-events", "download_failed", {"error": "disk full"})
    journal.update_state("req-events", "downloaded")

    events = journal.events("req-events")
    assert [e.state for e in events] == [
        "submitting",
        "submitted",
        "in_queue",
        "in_progress",
        "completed",
        "download_failed",
        "downloaded",
    ]
    assert events[3].detail == {"status": "in_progress", "n": 1}
    assert events[5].detail == {"error": "disk full"}
    assert [e.at for e in events] == sorted(e.at for e in events)


def test_stale_running_state_does_not_reopen_a_finished_job(journal: Journal) -> None:
    key = _submitted(journal, "req-stale")
    journal.update_state(key, "completed")
    assert journal.update_state(key, "in_progress", {"status": "in_progress"}).state == "completed"
    assert [e.state for e in journal.events(key)][-1] == "completed"


def test_unconfirmed_submit_is_kept_and_can_be_reconciled(journal: Journal) -> None:
    rec = journal.begin(MODEL, "standard", "t2v", PAYLOAD, 1.0)
    journal.mark_unconfirmed(rec.job_key, {"error": "ReadTimeout"})
    got = journal.get(rec.job_key)
    assert got is not None and got.state == "unconfirmed"
    assert got.status_detail == {"error": "ReadTimeout"}
    assert journal.unfinished() == []
    assert journal.set_request_id(rec.job_key, "req-found").state == "submitted"


def test_unknown_job_and_state_are_refused(journal: Journal) -> None:
    with pytest.raises(InputError) as err:
        journal.update_state("no-such-job", "completed")
    assert err.value.code == "unknown_job"
    key = _submitted(journal, "req-x")
    with pytest.raises(ValueError):
        journal.update_state(key, "done")
    other = journal.begin(MODEL, "standard", "t2v", PAYLOAD, 1.0)
    with pytest.raises(InputError) as dup:
        journal.set_request_id(other.job_key, "req-x")
    assert dup.value.code == "duplicate_request_id"


def test_spend_groups_by_day_and_tier(journal: Journal, clock: Clock) -> None:
    clock.now = datetime(2025, 3, 9, 10, 0, tzinfo=timezone.utc)
    _submitted(journal, "d1-a", "standard", 1.0)
    _submitted(journal, "d1-b", "pro", 2.5)
    clock.now = datetime(2025, 3, 10, 9, 0, tzinfo=timezone.utc)
    _submitted(journal, "d2-a", "standard", 1.0)
    _submitted(journal, "d2-b", "standard", 0.25)
    failed_after_submit = _submitted(journal, "d2-c", "4k", 4.0)
    journal.update_state(failed_after_submit, "failed", {"error": "model error"})
    refused = journal.begin(MODEL, "pro", "t2v", PAYLOAD, 9.0)
    journal.update_state(refused.job_key, "failed", {"http_status": 400})
    unconfirmed = journal.begin(MODEL, "pro", "t2v", PAYLOAD, 3.0)
    journal.mark_unconfirmed(unconfirmed.job_key, {"error": "ReadTimeout"})
    abandoned = journal.begin(MODEL, "standard", "t2v", PAYLOAD, 100.0)  # its process died mid-submit
    clock.now = datetime(2025, 3, 10, 10, 30, tzinfo=timezone.utc)
    journal.begin(MODEL, "standard", "t2v", PAYLOAD, 0.5)  # being submitted right now

    rows = [(r.day, r.tier, r.jobs, r.cost_usd) for r in journal.spend()]
    assert rows == [
        ("2025-03-10", "4k", 1, 4.0),
        ("2025-03-10", "pro", 1, 3.0),
        ("2025-03-10", "standard", 4, 101.75),  # the abandoned submit may have arrived: counted
        ("2025-03-09", "pro", 1, 2.5),
        ("2025-03-09", "standard", 1, 1.0),
    ]
    assert {r.day for r in journal.spend(days=1)} == {"2025-03-10"}
    assert len(journal.spend(days=2)) == 5
    assert journal.spent_today() == pytest.approx(108.75)
    # An hour and a half later it is still counted, and listed as possibly paid, until settled.
    assert [j.job_key for j in journal.possibly_paid()] == [unconfirmed.job_key, abandoned.job_key]
    journal.settle(abandoned.job_key[:8], "unpaid")
    assert journal.spent_today() == pytest.approx(8.75)
    assert [j.job_key for j in journal.possibly_paid()] == [unconfirmed.job_key]


def test_daily_cap_refusal_names_the_figures(journal: Journal, clock: Clock) -> None:
    clock.now = datetime(2025, 3, 9, 23, 0, tzinfo=timezone.utc)
    _submitted(journal, "yesterday", cost=50.0)
    clock.now = datetime(2025, 3, 10, 8, 0, tzinfo=timezone.utc)
    _submitted(journal, "today-1", cost=1.0)
    _submitted(journal, "today-2", cost=2.0)

    journal.check_daily_cap(2.0, 5.0)
    journal.check_daily_cap(1000.0, None)
    with pytest.raises(InputError) as err:
        journal.check_daily_cap(2.5, 5.0)
    exc = err.value
    assert (exc.code, exc.field, exc.exit_code) == ("daily_cap_exceeded", "max_cost_usd", 65)
    assert "$3.00" in exc.message and "$2.50" in exc.message and "$5.00" in exc.message
    assert exc.details["spent_today_usd"] == 3.0 and exc.details["cap_usd"] == 5.0

    before = len(journal.list(limit=None))
    with pytest.raises(InputError):
        journal.begin(MODEL, "standard", "t2v", PAYLOAD, 2.5, daily_cap_usd=5.0)
    assert len(journal.list(limit=None)) == before
    journal.begin(MODEL, "standard", "t2v", PAYLOAD, 2.0, daily_cap_usd=5.0)


def test_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / "new" / "deeper" / "jobs.sqlite3"
        with Journal(path) as j:
            _submitted(j, "req-perm")
            for p in [path, *path.parent.glob("jobs.sqlite3-*")]:
                assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    finally:
        os.umask(old)


def test_token_never_reaches_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = "rc_test_TOKEN_5b1f0e9d8c7a"
    monkeypatch.setenv("RUNCOMFY_TOKEN", token)
    path = tmp_path / "tok" / "jobs.sqlite3"
    with Journal(path) as j:
        rec = j.begin(MODEL, "standard", "t2v", PAYLOAD, 0.42)
        j.set_request_id(rec.job_key, "req-token")
        j.update_state("req-token", "in_progress", {"status": "in_progress"})
        j.update_state("req-token", "failed", {"error": f"401: bad header Bearer {token}"})
        j.add_file(
            "req-token", f"https://a.runcomfy.net/o.mp4?t={token}", tmp_path / "o.mp4", None, None
        )
        got = j.get("req-token")
        assert got is not None and got.payload == PAYLOAD
        assert got.status_detail == {"error": "401: bad header Bearer ***"}
    blobs = b"".join(p.read_bytes() for p in path.parent.iterdir())
    assert b"a red fox runs" in blobs
    assert token.encode() not in blobs


# A journal as kling3 wrote it at schema version 2, before settling, claims and API bases.
_V2_SCHEMA = """
CREATE TABLE jobs (id INTEGER PRIMARY KEY, job_key TEXT NOT NULL UNIQUE, request_id TEXT UNIQUE,
    state TEXT NOT NULL, model_id TEXT NOT NULL, tier TEXT NOT NULL, mode TEXT NOT NULL,
    payload_json TEXT NOT NULL, cost_usd REAL NOT NULL, created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL, status_detail TEXT, output_dir TEXT, batch_id TEXT, label TEXT,
    run_id TEXT);
CREATE TABLE files (id INTEGER PRIMARY KEY, job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    url TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT, size INTEGER, created_at TEXT NOT NULL,
    UNIQUE (job_id, path));
CREATE TABLE events (id INTEGER PRIMARY KEY, job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at TEXT NOT NULL, state TEXT NOT NULL, detail TEXT);
CREATE TABLE runs (run_id TEXT PRIMARY KEY, created_at TEXT NOT NULL, aspect_ratio TEXT NOT NULL,
    duration INTEGER NOT NULL, segments INTEGER NOT NULL, tier TEXT NOT NULL, output_dir TEXT, video TEXT);
CREATE TABLE schema_version (version INTEGER NOT NULL);
INSERT INTO schema_version (version) VALUES (1), (2);
INSERT INTO jobs VALUES (1, 'k-old-done', 'req-old-done', 'downloaded', 'kling/x', 'pro', 't2v',
    '{"prompt": "an old fox"}', 1.5, '2025-03-10T08:00:00.000000+00:00', '2025-03-10T08:01:00.000000+00:00',
    NULL, '/out', NULL, NULL, NULL);
INSERT INTO jobs VALUES (2, 'k-old-submitting', NULL, 'submitting', 'kling/x', 'standard', 't2v',
    '{"prompt": "a lost submit"}', 0.5, '2025-03-10T09:00:00.000000+00:00', '2025-03-10T09:00:00.000000+00:00',
    NULL, '/out', NULL, NULL, NULL);
INSERT INTO files VALUES (1, 1, 'https://a.runcomfy.net/o.mp4', '/out/o.mp4', NULL, 10,
    '2025-03-10T08:01:00.000000+00:00');
"""


def test_a_version_2_journal_is_migrated_and_keeps_every_row(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(_V2_SCHEMA)
    conn.close()
    with Journal(path, clock=clock) as j:
        done = j.get("req-old-done")
        assert done is not None and done.state == "downloaded" and done.payload == {"prompt": "an old fox"}
        assert [f.path for f in j.files(done)] == ["/out/o.mp4"]
        (lost,) = j.possibly_paid()  # three hours old, its process unknown: possibly paid
        assert lost.job_key == "k-old-submitting" and lost.settled is None
        assert j.spent_today() == pytest.approx(2.0)
        assert j.spent_today("http://127.0.0.1:1/v1") == pytest.approx(2.0)  # no base recorded: any base's
        j.settle("k-old-submitting", "unpaid")
        assert j.spent_today() == pytest.approx(1.5)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_newer_or_damaged_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    Journal(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version (version) VALUES (99)")
    conn.close()
    with pytest.raises(ConfigError) as err:
        Journal(path)
    assert err.value.code == "journal_too_new"

    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigError) as err:
        Journal(junk)
    assert err.value.code == "journal_unusable"


_WORKER = """
import sys
from skill.execution.journal import Journal
path, worker = sys.argv[1], int(sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()
with Journal(path) as j:
    for i in range(50):
        rec = j.begin("kling/x", "standard", "t2v", {"prompt": f"w{worker} #{i}"}, 0.5, batch_id=f"w{worker}")
        rid = f"req-{worker}-{i}"
        j.set_request_id(rec.job_key, rid)
        j.update_state(rid, "in_progress", {"status": "in_progress"})
        j.update_state(rid, "completed")
        j.add_file(rid, "https://a.runcomfy.net/o.mp4", f"/out/{worker}-{i}.mp4", "0" * 64, 1)
        j.update_state(rid, "downloaded")
"""


def test_eight_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "jobs.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(path), str(w)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for w in range(8)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err

    with Journal(path) as j:
        jobs = j.list(limit=None)
        assert len(jobs) == 400
        assert len({job.job_key for job in jobs}) == 400
        assert all(job.state == "downloaded" for job in jobs)
        assert {job.request_id for job in jobs} == {
            f"req-{w}-{i}" for w in range(8) for i in range(50)
        }
        assert j.spend()[0].jobs == 400
        lifecycle = ["submitting", "submitted", "in_progress", "completed", "downloaded"]
        assert all([e.state for e in j.events(job)] == lifecycle for job in jobs)
        assert sum(len(j.files(job)) for job in jobs) == 400


@pytest.mark.parametrize("raw", ["abc", "0", "-5", "nan", "inf"])
def test_malformed_daily_cap_is_an_error_not_no_cap(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("KLING3_DAILY_CAP_USD", raw)
    with pytest.raises(ConfigError) as err:
        settings.daily_cap_usd()
    assert "KLING3_DAILY_CAP_USD" in err.value.message and err.value.exit_code == 78


def test_state_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KLING3_DAILY_CAP_USD", raising=False)
    monkeypatch.delenv("KLING3_MAX_DOWNLOAD_BYTES", raising=False)
    monkeypatch.delenv("KLING3_TEMPLATES", raising=False)
    assert settings.daily_cap_usd() is None
    assert settings.download_cap_bytes() == 2 * 1024**3
    assert settings.templates_dir() is None
    assert settings.journal_path() == tmp_path / "home" / "jobs.sqlite3"
    monkeypatch.setenv("KLING3_DAILY_CAP_USD", " 12.5 ")
    monkeypatch.setenv("KLING3_MAX_DOWNLOAD_BYTES", "1048576")
    monkeypatch.setenv("KLING3_TEMPLATES", str(tmp_path / "tpl"))
    assert settings.daily_cap_usd() == 12.5
    assert settings.download_cap_bytes() == 1048576
    assert settings.templates_dir() == tmp_path / "tpl"
    monkeypatch.delenv("KLING3_HOME")
    assert settings.kling3_home().name == "kling3"


def test_claims_hold_expire_and_die_with_their_holder(journal: Journal, clock: Clock) -> None:
    key = _submitted(journal, "req-claimed")
    journal.release(journal.get(key).claimed_by or "")  # type: ignore[union-attr]
    me, other_host = "thishost-placeholder", "some-other-host:1234:abcd"
    assert journal.claim(key, other_host, seconds=60) is not None
    assert journal.claim(key, me, seconds=60) is None  # another holder, not expired, liveness unknown
    clock.now += timedelta(seconds=61)
    assert journal.claim(key, me, seconds=60) is not None  # expired
    assert journal.claim(key, me, seconds=60) is not None  # renewing one's own claim
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    ghost = f"{socket.gethostname()}:{dead.pid}:0000"
    journal.release(me)
    assert journal.claim(key, ghost, seconds=600) is not None
    assert journal.claim(key, me, seconds=60) is not None  # its holder is gone: free at once
    journal.update_state(key, "downloaded")
    journal.release(me)
    assert journal.claim(key, me, unfinished_only=True) is None  # nothing left to fetch
