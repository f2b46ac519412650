"""The journal in one SQLite file: the embedded default, shared by every process of one user.

Several CLI runs, a batch and the MCP server may write at the same moment, so: WAL mode (readers
never block the writer), a busy timeout, full sync for durable commits (a journaled submit survives
a power cut; see :meth:`SqliteStore.write`),
and ``BEGIN IMMEDIATE`` write transactions that take the write lock up front (a deferred
transaction that upgrades can fail without waiting). The file is created 0600 before SQLite
opens it; its WAL and SHM files copy that mode.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from skill import settings
from skill.errors import ConfigError, TransientError
from skill.execution.journal_db import Conn, Params

__all__ = ["SCHEMA_VERSION", "SqliteStore"]

SCHEMA_VERSION = 6

_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE IF NOT EXISTS jobs (
            id INTEGER PRIMARY KEY,
            job_key TEXT NOT NULL UNIQUE,
            request_id TEXT UNIQUE,
            state TEXT NOT NULL,
            model_id TEXT NOT NULL,
            tier TEXT NOT NULL,
            mode TEXT NOT NULL,
            payload_json TEXT NOT NULL,
            cost_usd REAL NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            status_detail TEXT,
            output_dir TEXT,
            batch_id TEXT,
            label TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS jobs_created_at ON jobs (created_at)",
        "CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state)",
        "CREATE INDEX IF NOT EXISTS jobs_batch_id ON jobs (batch_id)",
        """CREATE TABLE IF NOT EXISTS files (
            id INTEGER PRIMARY KEY,
            job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            url TEXT NOT NULL,
            path TEXT NOT NULL,
            sha256 TEXT,
            size INTEGER,
            created_at TEXT NOT NULL,
            UNIQUE (job_id, path)
        )""",
        """CREATE TABLE IF NOT EXISTS events (
            id INTEGER PRIMARY KEY,
            job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            state TEXT NOT NULL,
            detail TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS events_job_id ON events (job_id)",
    ),
    # A run groups the calls of one plan that are finished together (stitched, cropped), so that
    # `resume` can finish the video of a run that was interrupted.
    2: (
        """CREATE TABLE IF NOT EXISTS runs (
            run_id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            aspect_ratio TEXT NOT NULL,
            duration INTEGER NOT NULL,
            segments INTEGER NOT NULL,
            tier TEXT NOT NULL,
            output_dir TEXT,
            video TEXT
        )""",
        "ALTER TABLE jobs ADD COLUMN run_id TEXT",
        "CREATE INDEX IF NOT EXISTS jobs_run_id ON jobs (run_id)",
    ),
    # Possibly-paid submits are settled by the user; each row names the process holding it.
    3: (
        "ALTER TABLE jobs ADD COLUMN settled TEXT",
        "ALTER TABLE jobs ADD COLUMN claimed_by TEXT",
        "ALTER TABLE jobs ADD COLUMN claimed_until TEXT",
    ),
    # The API base each job was sent to: jobs of the emulator are not real spend, and are never
    # polled on the real API (or the other way round). NULL: recorded before, any base.
    4: (
        "ALTER TABLE jobs ADD COLUMN api_base TEXT",
        "CREATE INDEX IF NOT EXISTS jobs_api_base ON jobs (api_base)",
    ),
    # `spend` reads only this index (covering: every column it tests or sums, the day first so
    # the rows come grouped), never the table's payloads: 100k jobs cost ~10 ms, not ~90.
    5: (
        "CREATE INDEX IF NOT EXISTS jobs_spend ON jobs (substr(created_at, 1, 10), tier, state, api_base, cost_usd,"
        " request_id, created_at)",
    ),
    # Who submitted each job (host, OS user, KLING3_ACTOR), once journals are shared by a team.
    6: (
        "ALTER TABLE jobs ADD COLUMN host TEXT",
        "ALTER TABLE jobs ADD COLUMN os_user TEXT",
        "ALTER TABLE jobs ADD COLUMN actor TEXT",
    ),
}


@contextlib.contextmanager
def _db_errors(where: str, busy_timeout: float) -> Iterator[None]:
    """Turn SQLite failures into the package's errors, naming the file and what to do."""
    try:
        yield
    except sqlite3.IntegrityError:
        raise
    except sqlite3.OperationalError as exc:
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            raise TransientError(
                f"the job journal {where} stayed locked by another process for over "
                f"{busy_timeout:g} s; try again",
                code="journal_busy",
            ) from exc
        raise ConfigError(f"the job journal {where} cannot be used: {exc}", code="journal_unusable") from exc
    except sqlite3.DatabaseError as exc:
        raise ConfigError(
            f"the job journal {where} is damaged or not a journal: {exc}; move it aside to start a new one",
            code="journal_unusable",
        ) from exc


class SqliteStore:
    """The journal file, opened for one process (see the module docstring)."""

    kind = "sqlite"
    integrity_errors: tuple[type[BaseException], ...] = (sqlite3.IntegrityError,)

    def __init__(self, path: Path, *, busy_timeout: float) -> None:
        self.local_path = path
        self.where = str(path)
        self._busy = float(busy_timeout)
        self._lock = threading.RLock()
        try:
            settings.ensure_private_dir(path.parent)
            self._create_private_file()
        except OSError as exc:
            raise ConfigError(
                f"cannot create the job journal {path}: {exc.strerror or exc}", code="journal_unusable"
            ) from None
        with _db_errors(self.where, self._busy):
            self._conn = sqlite3.connect(str(path), timeout=self._busy, isolation_level=None, check_same_thread=False)
            try:
                self._conn.row_factory = sqlite3.Row
                self._setup()
            except BaseException:
                self._conn.close()
                raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _create_private_file(self) -> None:
        try:
            fd = os.open(self.local_path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        os.close(fd)

    def _setup(self) -> None:
        """WAL, full sync and foreign keys; switching to WAL needs a moment's exclusive lock, so
        a busy file is waited for rather than failed."""
        conn = self._conn
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy * 1000)}")
        deadline = time.monotonic() + self._busy
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        conn.execute("PRAGMA synchronous = FULL")
        self._durable = True
        conn.execute("PRAGMA foreign_keys = ON")
        if self._version(conn) != SCHEMA_VERSION:
            self._migrate()

    @staticmethod
    def _version(conn: sqlite3.Connection) -> int:
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        if not exists:
            return 0
        return int(conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0)

    def _migrate(self) -> None:
        """Bring the schema up to :data:`SCHEMA_VERSION` in one write transaction (whichever
        process comes first; the others then find it current); a journal from a newer kling3
        is refused rather than written in a shape it does not expect."""
        with self.write() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            current = self._version(self._conn)
            if current > SCHEMA_VERSION:
                raise ConfigError(
                    f"the job journal {self.where} was written by a newer kling3 "
                    f"(schema {current}, this one knows {SCHEMA_VERSION}); upgrade kling3",
                    code="journal_too_new",
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[version]:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))

    @contextlib.contextmanager
    def write(self, durable: bool = True) -> Iterator[Conn]:
        with self._lock, _db_errors(self.where, self._busy):
            conn = self._conn
            self._sync(durable)
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _sync(self, durable: bool) -> None:
        """``synchronous = FULL`` for a durable commit (the WAL is fsync'ed at its commit, and
        with it every commit before), ``NORMAL`` for one that may wait for the next durable
        commit or checkpoint (WAL frames are appended in order, so a power cut can only lose
        the newest non-durable commits, never a durable one written before them)."""
        if durable != self._durable:
            self._conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
            self._durable = durable

    @contextlib.contextmanager
    def read(self) -> Iterator[Conn]:
        with self._lock, _db_errors(self.where, self._busy):
            yield self._conn

    def insert(self, conn: Conn, sql: str, params: Params) -> int:
        cursor: Any = conn.execute(sql, params)
        return int(cursor.lastrowid or 0)
