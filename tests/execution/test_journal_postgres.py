"""What only the PostgreSQL journal has to get right: migrations run once however many processes
open a new database together, a dropped connection is survived, the password never shows, and
the journal's SQL reaches psycopg in its own spelling. (The shared promises are in
test_journal.py, run on both backends.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pghelp
import pytest

from skill.errors import JournalUnreachable, TransientError
from skill.execution.journal import PREFIX_QUERY, SCHEMA_VERSION, SPEND_QUERY, Journal
from skill.execution.journal_db import is_postgres_url, mask_url
from skill.execution.journal_db.postgres import translate

psycopg = pytest.importorskip("psycopg")  # without it the pg_server fixture skips (fails on CI) too
MODEL = "kling/kling-3.0/standard/text-to-video"


def test_eight_processes_opening_a_new_database_migrate_it_once(pg_url: str, tmp_path: Path) -> None:
    code = "import sys; from skill.execution.journal import Journal; Journal(sys.argv[1]).close()"
    procs = [subprocess.Popen([sys.executable, "-c", code, pg_url], stderr=subprocess.PIPE, text=True)
             for _ in range(8)]
    for proc in procs:
        assert proc.wait(60) == 0, proc.stderr.read() if proc.stderr else ""
    with psycopg.connect(pg_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == [SCHEMA_VERSION]


def test_a_dropped_connection_is_busy_once_then_reconnected(pg_url: str) -> None:
    with Journal(pg_url) as jr:
        jr.begin(MODEL, "standard", "t2v", {"prompt": "fox"}, 0.42)
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                          " WHERE application_name = 'kling3' AND datname = current_database()")
        with pytest.raises(TransientError) as err:
            jr.list()
        assert err.value.code == "journal_busy" and pghelp.PASSWORD not in str(err.value)
        assert len(jr.list()) == 1


def test_unreachable_and_refused_never_show_the_password(pg_server: pghelp.PgServer) -> None:
    for url, secret in ((pg_server.url(password="Bad-pw-123"), "Bad-pw-123"),
                        (f"postgresql://kling3:{pghelp.PASSWORD}@127.0.0.1:9/x", pghelp.PASSWORD)):
        with pytest.raises(JournalUnreachable) as err:
            Journal(url)
        assert err.value.exit_code == 74 and err.value.code == "journal_unreachable"
        text = str(err.value) + repr(err.value.to_dict())
        assert secret not in text and "kling3:***@127.0.0.1" in text
        assert "nothing was sent or paid" in text


def test_the_journal_names_its_server_without_the_password(pg_url: str) -> None:
    with Journal(pg_url) as jr:
        assert pghelp.PASSWORD not in repr(jr) + jr.where
        assert jr.where.startswith("postgresql://kling3:***@127.0.0.1:") and jr.kind == "postgresql"


def test_url_masking_and_recognition() -> None:
    assert mask_url("postgresql://u:s3cret@h:5432/db?sslmode=require") == "postgresql://u:***@h:5432/db?sslmode=require"
    assert mask_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert "s3cret" not in mask_url("postgresql://h/db?user=u&password=s3cret")
    assert is_postgres_url("postgres://h/db") and is_postgres_url("POSTGRESQL://h/db")
    assert not is_postgres_url("/tmp/jobs.sqlite3") and not is_postgres_url(Path("postgresql://x"))


def test_sql_is_translated_to_psycopg_parameters() -> None:
    assert translate("SELECT a FROM t WHERE x = :base OR :base IS NULL") == (
        "SELECT a FROM t WHERE x = %(base)s OR %(base)s IS NULL")
    assert translate("VALUES (?, ?, 'submitting')") == "VALUES (%s, %s, 'submitting')"
    assert translate("SELECT 5 % 2, x::text") == "SELECT 5 %% 2, x::text"


def _plan(url: str, sql: str, params: dict[str, object], *off: str) -> str:
    """EXPLAIN with the plans named in ``off`` disabled: a test table is tiny, so this asks
    whether an index can serve the query, not whether the planner prefers it on 1 row."""
    with psycopg.connect(url) as conn:
        for name in off:
            conn.execute(f"SET enable_{name} = off")
        return "\n".join(row[0] for row in conn.execute("EXPLAIN " + translate(sql), params))


def test_spend_and_prefix_are_index_scans_on_postgresql(pg_url: str) -> None:
    with Journal(pg_url) as jr:
        jr.set_request_id(jr.begin(MODEL, "standard", "t2v", {"prompt": "fox"}, 0.42).job_key, "abcdef-1")
        spend = _plan(pg_url, SPEND_QUERY, {"since": "", "base": "http://127.0.0.1:9/v1"}, "seqscan", "bitmapscan")
        assert "Index Only Scan using jobs_spend" in spend, spend
        prefix = _plan(pg_url, PREFIX_QUERY, {"low": "abcdef", "high": "abcdeg"}, "seqscan")
        assert "jobs_request_id_key" in prefix and "jobs_job_key_key" in prefix, prefix
        assert jr.get("abcdef").request_id == "abcdef-1"  # type: ignore[union-attr]
