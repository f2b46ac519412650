"""The job journal: the record of every job submitted, from every process (and, on a shared
PostgreSQL journal, from every machine of a team).

A job is written *before* its HTTP submit (state ``submitting``) so a crash, a Ctrl-C or a lost
response can never leave a paid job unknown; ``kling3 resume`` and the spend report read it
back. Several CLI runs, a batch and the MCP server (and other machines) may write at the same
moment, so every method is one short transaction, and writes are serialised by the store
(:mod:`skill.execution.journal_db`: ``BEGIN IMMEDIATE`` on the SQLite file, an advisory lock on
PostgreSQL), which is what makes the daily cap and claims race-free. The SQL here is the one
both databases understand; schema, migrations and locking live in the stores.

The payload is stored exactly as it is sent (the token travels in a header, never in a body).
API answers and error details are passed through :func:`skill.execution.auth.redact_data`, so even one that
somehow carries the API token is stored with ``***`` instead. Times are ISO-8601 UTC with
microseconds and a ``+00:00`` offset, so they sort as text and parse with
``datetime.fromisoformat`` on Python 3.10.

What counts as spent (:meth:`Journal.spend`, the daily cap), on the API base asked for: a job
the server may have accepted. That is any job with a ``request_id`` whatever its later state
(failed jobs included: the cost is an estimate and the cap must err on the safe side) but
``cancelled`` (the API cancels only queued jobs, which are not charged; ``spend(cancelled=True)``
lists them apart), a job marked
``unconfirmed`` (the submit may have arrived) and a ``submitting`` job, however old: either
another process is submitting it right now (concurrent runs must see each other's jobs against
the cap) or a process died during its submit, which may have arrived. Those last two are
*possibly paid* (:attr:`JobRecord.possibly_paid`) and keep counting until the user settles
them (:meth:`Journal.settle`: paid, with the request_id if known, or unpaid). A refused submit
(``failed`` without a ``request_id``) is not counted.

Each row also names the process that holds it (``claimed_by``: host, pid and a nonce, until
``claimed_until``): a ``submitting`` row whose process is gone is possibly paid at once, without
waiting for :data:`STALE_SUBMIT_AFTER`.
"""

from __future__ import annotations

import builtins
import contextlib
import getpass
import json
import math
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from skill import settings
from skill.errors import InputError, Kling3Error, TransientError
from skill.execution.auth import redact, redact_data
from skill.execution.journal_db import Conn, Store, open_store
from skill.execution.journal_db.sqlite import SCHEMA_VERSION
from skill.execution.model_api import wire_json
from skill.execution.states import (
    SETTLED_STATES,
    STATES,
    UNFINISHED_STATES,
    WAITING_STATES,
)
from skill.money import usd

__all__ = [
    "CLAIM_SECONDS",
    "PREFIX_QUERY",
    "SCHEMA_VERSION",
    "SETTLE_VERDICTS",
    "SPEND_BY",
    "SPEND_QUERY",
    "STALE_SUBMIT_AFTER",
    "EventRecord",
    "FileRecord",
    "JobRecord",
    "Journal",
    "SpendRow",
    "prefix_upper",
]


STALE_SUBMIT_AFTER = timedelta(minutes=10)
"""A ``submitting`` row older than this has no live submit behind it (a submit answers within
the client's 60 s time-out): it is listed as possibly paid even if its process cannot be checked."""
SETTLE_VERDICTS = ("paid", "unpaid")
CLAIM_SECONDS = 120.0
"""How long a claim on a job lasts unless renewed; a dead holder on this host loses it at once."""
_BUSY_TIMEOUT_S = 10.0

_DAY = "substr(created_at, 1, 10)"
"""A job's UTC day (``YYYY-MM-DD``), spelled as the spend index spells it so queries use it."""

_JOB_COLUMNS = (
    "id, job_key, request_id, state, model_id, tier, mode, payload_json, cost_usd, "
    "created_at, updated_at, status_detail, output_dir, batch_id, label, run_id, "
    "settled, claimed_by, claimed_until, api_base, host, os_user, actor"
)
_FILE_COLUMNS = "id, job_id, url, path, sha256, size, created_at"
_RUN_COLUMNS = "run_id, created_at, aspect_ratio, duration, segments, tier, output_dir, video"
_COUNTED_UNSENT = ("unconfirmed", "submitting")
_COUNTED = (
    "(state != 'cancelled' AND (request_id IS NOT NULL OR state IN ('unconfirmed', 'submitting')))"
)
_CANCELLED = "(state = 'cancelled' AND request_id IS NOT NULL)"
_ON_BASE = "(CAST(:base AS TEXT) IS NULL OR api_base IS NULL OR api_base = :base)"
_OPEN_SUBMITS = "state IN ('unconfirmed', 'submitting') AND request_id IS NULL AND settled IS NULL"
_MIN_PREFIX = 6
_ACTOR = "COALESCE(actor, os_user || '@' || host, host, '(unknown)')"
"""Who a job is counted for by ``spend --by actor``: KLING3_ACTOR, else user@host."""
SPEND_BY = ("tier", "actor")


def _spend_sql(group: str) -> str:
    return (
        f"SELECT {_DAY} AS day, {group} AS grp, state, COUNT(*) AS n, SUM(cost_usd) AS cost,"
        " COUNT(request_id) AS sent, SUM(cost_usd * CAST(request_id IS NOT NULL AS INTEGER)) AS sent_cost"
        f" FROM jobs WHERE {_DAY} >= :since AND {_ON_BASE} GROUP BY day, grp, state"
    )


SPEND_QUERY = _spend_sql("tier")
"""``spend``'s one pass (``:since`` a day or ``''``, ``:base``), over the covering index only."""
_SPEND_BY_ACTOR = _spend_sql(_ACTOR)
PREFIX_QUERY = (
    f"SELECT {_JOB_COLUMNS} FROM jobs WHERE (request_id >= :low AND request_id < :high)"
    " OR (job_key >= :low AND job_key < :high) ORDER BY id DESC LIMIT 6"
)
"""Jobs whose request_id or job_key starts with a prefix (``:low``, ``:high`` from
:func:`prefix_upper`): two index ranges, not a scan."""


def prefix_upper(prefix: str) -> str | None:
    """The smallest text above every text starting with ``prefix`` (its last character + 1), so
    ``x >= prefix AND x < upper`` is an index range; ``None`` when nothing is above."""
    for cut in range(len(prefix) - 1, -1, -1):
        code = ord(prefix[cut]) + 1
        if 0xD800 <= code <= 0xDFFF:
            code = 0xE000
        if code <= 0x10FFFF:
            return prefix[:cut] + chr(code)
    return None


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One job as the journal knows it; ``payload`` is the exact wire body sent."""

    id: int
    job_key: str
    request_id: str | None
    state: str
    model_id: str
    tier: str
    mode: str
    payload: dict[str, Any]
    cost_usd: float
    created_at: str
    updated_at: str
    status_detail: dict[str, Any] | None
    output_dir: str | None
    batch_id: str | None
    label: str | None
    run_id: str | None = None
    settled: str | None = None
    """``paid`` or ``unpaid`` once the user settled a possibly-paid submit."""
    claimed_by: str | None = None
    claimed_until: str | None = None
    api_base: str | None = None
    """The API base it was sent to (``None``: recorded before bases were, counted for any)."""
    host: str | None = None
    """The machine that submitted it (``None``: recorded before hosts were)."""
    os_user: str | None = None
    actor: str | None = None
    """``KLING3_ACTOR`` of the submitting process: a person or agent name a team chose."""
    possibly_paid: bool = False
    """The submit may have created a paid job nobody has the request_id of: an ``unconfirmed``
    row, or a ``submitting`` one whose process is gone; never resubmit it before checking."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``--json`` output and MCP tool results."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One saved output file of a job."""

    id: int
    job_id: int
    url: str
    path: str
    sha256: str | None
    size: int | None
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One state change of a job, in the order it was recorded."""

    id: int
    job_id: int
    at: str
    state: str
    detail: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SpendRow:
    """Estimated spend of one tier (or one actor) on one UTC day (``YYYY-MM-DD``)."""

    day: str
    tier: str
    jobs: int
    cost_usd: float
    actor: str | None = None
    """Set (and ``tier`` is ``all``) in ``spend --by actor``: KLING3_ACTOR, else user@host."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"day": self.day, "tier": self.tier, "jobs": self.jobs, "cost_usd": self.cost_usd}
        if self.actor is not None:
            out["actor"] = self.actor
        return out


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _loads(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    value = json.loads(text)
    return value if isinstance(value, dict) else {"value": value}


def _detail_json(detail: Mapping[str, Any] | None) -> str | None:
    if detail is None:
        return None
    plain = json.loads(json.dumps(dict(detail), ensure_ascii=False, default=str))
    return json.dumps(redact_data(plain), ensure_ascii=False)


def _job(row: Any, possibly_paid: bool = False) -> JobRecord:
    return JobRecord(
        id=row["id"],
        job_key=row["job_key"],
        request_id=row["request_id"],
        state=row["state"],
        model_id=row["model_id"],
        tier=row["tier"],
        mode=row["mode"],
        payload=_loads(row["payload_json"]) or {},
        cost_usd=row["cost_usd"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        status_detail=_loads(row["status_detail"]),
        output_dir=row["output_dir"],
        batch_id=row["batch_id"],
        label=row["label"],
        run_id=row["run_id"],
        settled=row["settled"],
        claimed_by=row["claimed_by"],
        claimed_until=row["claimed_until"],
        api_base=row["api_base"],
        host=row["host"],
        os_user=row["os_user"],
        actor=row["actor"],
        possibly_paid=possibly_paid,
    )


def _fold_spend(rows: Iterable[Mapping[str, Any]], by: str) -> tuple[list[SpendRow], list[SpendRow]]:
    """Per (day, tier or actor, state) counts folded into the counted and the cancelled spend rows, by the
    rule :data:`_COUNTED` and :data:`_CANCELLED` spell in SQL (grouping by state and folding here
    costs one plain pass over the spend index, where CASE expressions per row cost twice that)."""
    counted: dict[tuple[str, str], list[float]] = {}
    gone: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        key = (r["day"], r["grp"])
        if r["state"] == "cancelled":
            n, cost, into = r["sent"], r["sent_cost"], gone
        elif r["state"] in _COUNTED_UNSENT:
            n, cost, into = r["n"], r["cost"], counted
        else:
            n, cost, into = r["sent"], r["sent_cost"], counted
        if n:
            total = into.setdefault(key, [0, 0.0])
            total[0] += n
            total[1] += cost
    return _spend_rows(counted, by), _spend_rows(gone, by)


def _spend_rows(totals: Mapping[tuple[str, str], list[float]], by: str) -> list[SpendRow]:
    """Newest day first, tiers (or actors) in order within a day (two stable sorts)."""
    keys = sorted(sorted(totals, key=lambda k: k[1]), key=lambda k: k[0], reverse=True)
    return [SpendRow(day=d, tier=g if by == "tier" else "all", jobs=int(totals[d, g][0]),
                     cost_usd=round(totals[d, g][1], 6), actor=g if by == "actor" else None)
            for d, g in keys]


def who_submits() -> tuple[str, str | None, str | None]:
    """(host name, OS user, ``KLING3_ACTOR``) of this process: who a job is recorded as sent by."""
    try:
        user: str | None = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (some containers)
        user = None
    return socket.gethostname(), user, settings.actor()


def new_owner() -> str:
    """A claim holder's name: ``host:pid:nonce``, so a holder that died on this host is known."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_alive(owner: str | None) -> bool | None:
    """Whether the process named by ``owner`` still runs; ``None`` when it cannot be told
    (another host, or not a name :func:`new_owner` made)."""
    if not owner:
        return None
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return None
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    except OSError:
        return None
    return True


def _file(row: Any) -> FileRecord:
    return FileRecord(**{key: row[key] for key in row.keys()})  # noqa: SIM118


def _checked(payload: Mapping[str, Any], cost_usd: float) -> tuple[str, float]:
    """The payload as the exact wire JSON, and the cost as a finite amount >= 0."""
    try:
        payload_json = wire_json(payload)
    except (TypeError, ValueError) as exc:
        raise InputError(f"the payload is not JSON: {exc}", code="invalid_payload") from None
    cost = float(cost_usd)
    if not math.isfinite(cost) or cost < 0:
        raise InputError(f"cost_usd must be a finite amount >= 0, got {cost_usd!r}", code="invalid_cost")
    return payload_json, cost


def _check_state(state: str) -> None:
    if state not in STATES:
        raise ValueError(f"unknown job state {state!r}; expected one of {', '.join(STATES)}")


class Journal:
    """The journal file, opened for one process; safe to share between its threads.

    Every method is one short transaction, so holding a ``Journal`` open for hours (the MCP
    server) does not block other processes.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        clock: Callable[[], datetime] = _utcnow,
        busy_timeout: float = _BUSY_TIMEOUT_S,
    ) -> None:
        """Open (creating if needed) the journal at ``path``: a SQLite file, or a
        ``postgresql://`` URL (a team's journal on a server); default :func:`settings.journal_url`
        (``--journal``, ``KLING3_JOURNAL_URL``), else :func:`settings.journal_path`. An
        unreachable server raises :class:`~skill.errors.JournalUnreachable` here, before any
        submit can be attempted.

        ``clock`` returns the current time; tests inject one to place jobs on given days.
        ``busy_timeout`` is how long a write waits for another process's transaction before
        :class:`TransientError` (``journal_busy``).
        """
        target = path if path is not None else (settings.journal_url() or settings.journal_path())
        self._clock = clock
        self._lock = threading.RLock()
        self._noted_size = -1
        self._deferred: builtins.list[Callable[[Conn], None]] = []
        self._flush_due = False
        self._store: Store = open_store(target if isinstance(target, str) else Path(target),
                                        busy_timeout=float(busy_timeout))
        self.path = self._store.local_path
        """The SQLite file; on PostgreSQL, the local name beside which the side file is kept."""
        self.where = self._store.where
        """The journal as messages name it: the file, or the server URL with its password masked."""
        self.kind = self._store.kind
        """``sqlite`` or ``postgresql``."""
        self._adopt_noted()

    def __repr__(self) -> str:
        return f"Journal({self.where!r})"

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(Kling3Error):
                self.flush_deferred()
            self._store.close()

    @contextlib.contextmanager
    def _write(self, durable: bool = True) -> Iterator[Conn]:
        """One write transaction; the deferred states go first in it (so they keep their order
        before whatever this write says), and are forgotten only once it committed."""
        with self._lock:
            pending = builtins.list(self._deferred)
            with self._store.write(durable) as conn:
                self._apply_deferred(conn, pending)
                yield conn
            del self._deferred[: len(pending)]

    @contextlib.contextmanager
    def _read(self) -> Iterator[Conn]:
        with self._lock:
            if self._deferred:  # this process reads what it wrote
                with contextlib.suppress(TransientError):
                    self.flush_deferred()
            with self._store.read() as conn:
                yield conn

    # -- states written behind: several jobs' observations in one transaction -----------------

    def defer_state(
        self,
        ref: str,
        state: str,
        detail: Mapping[str, Any] | None,
        *,
        schedule: Callable[[Callable[[], None]], object],
    ) -> None:
        """:meth:`record_state` written behind: by the next transaction of this journal or, at
        the latest, by the callback handed to ``schedule`` (an event loop's ``call_later`` a
        fraction of a poll interval ahead). The statuses every flow of a batch sees meanwhile
        then cost one transaction together, not one each.

        Only for what is not a promise (a status polling finds again, ``completed``,
        ``downloaded``): a crash before the write loses it, and ``resume`` derives it again from
        the request_id, or from the saved file. Another process sees it once the scheduled
        write ran."""
        _check_state(state)
        detail_json, at = _detail_json(detail), self._now()

        def write(conn: Conn) -> None:
            row = conn.execute(
                "SELECT id, state FROM jobs WHERE job_key = :ref OR request_id = :ref LIMIT 1", {"ref": ref}
            ).fetchone()
            if row is not None:  # a job this journal never had is not tracked (as record_state refuses it)
                self._apply_state(conn, row["id"], row["state"], state, detail_json, at)

        self._defer(write, schedule)

    def defer_file(
        self,
        request_id: str,
        url: str,
        path: str | os.PathLike[str],
        sha256: str | None,
        size: int | None,
        *,
        schedule: Callable[[Callable[[], None]], object],
    ) -> None:
        """:meth:`add_file` written behind, as :meth:`defer_state` (the file itself is on disk,
        fsync'ed: ``resume`` finds it again by its hash)."""
        at, file_path, shown = self._now(), os.fspath(path), redact(url)

        def write(conn: Conn) -> None:
            row = conn.execute(
                "SELECT id FROM jobs WHERE job_key = :ref OR request_id = :ref LIMIT 1", {"ref": request_id}
            ).fetchone()
            if row is not None:
                self._upsert_file(conn, row["id"], shown, file_path, sha256, size, at)

        self._defer(write, schedule)

    def _defer(self, write: Callable[[Conn], None], schedule: Callable[[Callable[[], None]], object]) -> None:
        with self._lock:
            self._deferred.append(write)
            if self._flush_due:
                return
            self._flush_due = True
        schedule(self._flush_scheduled)

    def _flush_scheduled(self) -> None:
        self._flush_due = False
        with contextlib.suppress(Kling3Error):  # kept: the next write of this journal tries again
            self.flush_deferred()

    def flush_deferred(self) -> None:
        """Write the deferred states now (one transaction, not flushed to disk on its own)."""
        with self._lock:
            if not self._deferred:
                return
            with self._write(durable=False):
                pass

    @staticmethod
    def _apply_deferred(conn: Conn, pending: Iterable[Callable[[Conn], None]]) -> None:
        for write in pending:
            write(conn)

    # -- request_ids noted while the journal was busy --------------------------------------------

    @property
    def noted_path(self) -> Path:
        """The side file of what could not be written while the journal was locked: the
        request_ids of confirmed submits, and claims to release."""
        return self.path.with_name(self.path.name + ".request-ids")

    def note_request_id(self, job_key: str, request_id: str) -> Path:
        """Keep a confirmed submit's ``request_id`` when the journal itself stays locked: one
        line appended (and fsync'ed) to :attr:`noted_path`, which needs no lock. Every journal
        opened later records it on the job (:meth:`_adopt_noted`), so even a process killed
        right after cannot lose the paid job's id. Returns the side file's path."""
        return self._note({"job_key": job_key, "request_id": request_id})

    def note_release(self, owner: str) -> Path:
        """Keep the release of ``owner``'s claims for later when the journal stays locked as its
        flow ends (else its jobs would stay claimed until the claims expire)."""
        return self._note({"release": owner})

    def _note(self, item: dict[str, str]) -> Path:
        fd = os.open(self.noted_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (json.dumps(item) + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        return self.noted_path

    def _adopt_noted(self) -> None:
        """Record the request_ids of :attr:`noted_path` on their jobs (best effort, idempotent:
        the file is never truncated, as another process may be appending to it)."""
        try:
            size = self.noted_path.stat().st_size
        except OSError:
            return
        if size == self._noted_size:
            return
        try:
            lines = self.noted_path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return
        items = []
        for line in lines:
            with contextlib.suppress(ValueError):
                items.append(json.loads(line))
        try:
            with self._write() as conn:
                for item in items:
                    if not isinstance(item, dict):
                        continue
                    if isinstance(item.get("release"), str):
                        conn.execute(
                            "UPDATE jobs SET claimed_by = NULL, claimed_until = NULL"
                            " WHERE claimed_by = ? AND state != 'submitting'",
                            (item["release"],),
                        )
                    elif isinstance(item.get("job_key"), str) and isinstance(item.get("request_id"), str):
                        conn.execute(
                            "UPDATE jobs SET request_id = :rid, state = CASE WHEN state IN"
                            " ('submitting', 'unconfirmed') THEN 'submitted' ELSE state END,"
                            " updated_at = :now WHERE job_key = :key AND request_id IS NULL"
                            " AND NOT EXISTS (SELECT 1 FROM jobs WHERE request_id = :rid)",
                            {"rid": item["request_id"], "now": self._now(), "key": item["job_key"]},
                        )
        except TransientError:
            return  # still busy: the next read tries again
        self._noted_size = size

    def _now(self) -> str:
        return _iso(self._clock())

    def _stale_cutoff(self) -> str:
        return _iso(self._clock() - STALE_SUBMIT_AFTER)

    def _possibly_paid(self, row: Any) -> bool:
        """An open submit nobody is still waiting on: see :attr:`JobRecord.possibly_paid`."""
        if row["request_id"] is not None or row["settled"] is not None:
            return False
        if row["state"] == "unconfirmed":
            return True
        if row["state"] != "submitting":
            return False
        return owner_alive(row["claimed_by"]) is False or row["created_at"] < self._stale_cutoff()

    def _rec(self, row: Any) -> JobRecord:
        return _job(row, self._possibly_paid(row))

    @staticmethod
    def _exact(conn: Conn, ref: int | str) -> Any | None:
        if isinstance(ref, int):
            row = conn.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (ref,)).fetchone()
        else:
            row = conn.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE job_key = :ref OR request_id = :ref LIMIT 1",
                {"ref": ref},
            ).fetchone()
        return row

    def _require(self, conn: Conn, ref: int | str) -> Any:
        row = self._exact(conn, ref)
        if row is None:
            raise InputError(f"no job {ref!r} in the journal {self.where}", code="unknown_job")
        return row

    @staticmethod
    def _event(
        conn: Conn, job_id: int, at: str, state: str, detail: str | None
    ) -> None:
        conn.execute(
            "INSERT INTO events (job_id, at, state, detail) VALUES (?, ?, ?, ?)",
            (job_id, at, state, detail),
        )

    def _reload(self, conn: Conn, job_id: int) -> JobRecord:
        row = conn.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._rec(row)

    def begin(
        self,
        model_id: str,
        tier: str,
        mode: str,
        payload: Mapping[str, Any],
        cost_usd: float,
        output_dir: str | os.PathLike[str] | None = None,
        batch_id: str | None = None,
        label: str | None = None,
        *,
        daily_cap_usd: float | None = None,
        run_id: str | None = None,
        owner: str | None = None,
        api_base: str | None = None,
        claim_seconds: float = CLAIM_SECONDS,
    ) -> JobRecord:
        """Record a job about to be submitted (state ``submitting``); call before the HTTP submit.

        With ``daily_cap_usd`` the cap is checked in the same transaction as the insert, so
        concurrent runs cannot each pass the check and together exceed it. ``owner`` (default: a
        new :func:`new_owner`) holds the job's claim, so a process that dies during the submit
        leaves a row other processes know at once to be possibly paid, for ``claim_seconds``
        (renewed with :meth:`claim`). ``api_base`` is where the job is sent; the cap counts that
        base's spend only.
        """
        row = self._new_row(model_id, tier, mode, payload, cost_usd, output_dir, batch_id, label, run_id,
                            owner, api_base, claim_seconds)
        with self._write() as conn:
            return self._reload(conn, self._insert_job(conn, row, daily_cap_usd))

    def begin_many(self, jobs: Iterable[Mapping[str, Any]]) -> builtins.list[str | InputError]:
        """:meth:`begin` for several jobs about to be submitted at once (each mapping holds
        :meth:`begin`'s arguments), in ONE durable transaction: a group commit, one flush to disk
        for all their rows. Each job gets its job_key, or the :class:`InputError` that refused
        it alone (its payload, the daily cap: counted in order, so the group cannot exceed it
        together); an error of the journal itself raises for all. Give it only jobs whose
        submit waits for this call: a row is a "maybe submitted" promise from the moment it is
        on disk."""
        rows: builtins.list[dict[str, Any] | InputError] = []
        for job in jobs:
            try:
                args = dict(job)
                cap = args.pop("daily_cap_usd", None)
                rows.append({"row": self._new_row(**args), "cap": cap})
            except InputError as exc:
                rows.append(exc)
        out: builtins.list[str | InputError] = []
        with self._write() as conn:
            for entry in rows:
                if isinstance(entry, InputError):
                    out.append(entry)
                    continue
                try:
                    self._insert_job(conn, entry["row"], entry["cap"])
                except InputError as exc:
                    out.append(exc)
                else:
                    out.append(str(entry["row"][0]))
        return out

    def _new_row(
        self,
        model_id: str,
        tier: str,
        mode: str,
        payload: Mapping[str, Any],
        cost_usd: float,
        output_dir: str | os.PathLike[str] | None = None,
        batch_id: str | None = None,
        label: str | None = None,
        run_id: str | None = None,
        owner: str | None = None,
        api_base: str | None = None,
        claim_seconds: float = CLAIM_SECONDS,
    ) -> tuple[Any, ...]:
        """The values of a new ``submitting`` row, checked (the job_key first, the cost at 5)."""
        payload_json, cost = _checked(payload, cost_usd)
        now = self._now()
        host, os_user, actor = who_submits()
        return (
            str(uuid.uuid4()), model_id, tier, mode, payload_json, cost, now, now,
            None if output_dir is None else os.fspath(output_dir), batch_id, label, run_id,
            owner or new_owner(),
            _iso(self._clock() + timedelta(seconds=max(float(claim_seconds), 1.0))),
            api_base, host, os_user, actor,
        )

    def _insert_job(self, conn: Conn, row: tuple[Any, ...], daily_cap_usd: float | None) -> int:
        """Insert a :meth:`_new_row` (after the cap check, on this transaction); its id."""
        if daily_cap_usd is not None:
            self._check_cap(conn, row[5], daily_cap_usd, row[14])
        job_id = self._store.insert(
            conn,
            "INSERT INTO jobs (job_key, state, model_id, tier, mode, payload_json, cost_usd,"
            " created_at, updated_at, output_dir, batch_id, label, run_id, claimed_by,"
            " claimed_until, api_base, host, os_user, actor)"
            " VALUES (?, 'submitting', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            row,
        )
        self._event(conn, job_id, row[6], "submitting", None)
        return job_id

    def begin_run(
        self, *, aspect_ratio: str, duration: int, segments: int, tier: str, output_dir: str | None
    ) -> str:
        """Record a plan whose calls are finished together; returns its ``run_id``."""
        run_id = uuid.uuid4().hex
        with self._write() as conn:
            conn.execute(
                "INSERT INTO runs (run_id, created_at, aspect_ratio, duration, segments, tier, output_dir)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, self._now(), aspect_ratio, int(duration), int(segments), tier, output_dir),
            )
        return run_id

    def copy_into(self, target: Journal) -> dict[str, Any]:
        """Copy every job (with its files and events) and run of this journal into ``target``,
        in one write transaction there; jobs ``target`` already has (by job_key) are left as they
        are, so copying again copies nothing (``kling3 journal migrate``). The counts copied."""
        with self._read() as conn:
            jobs = conn.execute(f"SELECT {_JOB_COLUMNS} FROM jobs ORDER BY id").fetchall()
            files = conn.execute(f"SELECT {_FILE_COLUMNS} FROM files ORDER BY id").fetchall()
            events = conn.execute("SELECT id, job_id, at, state, detail FROM events ORDER BY id").fetchall()
            runs = conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs").fetchall()
        columns = [c.strip() for c in _JOB_COLUMNS.split(",") if c.strip() != "id"]
        insert = (f"INSERT INTO jobs ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
                  " ON CONFLICT DO NOTHING")
        counts = {"jobs": 0, "jobs_already_there": 0, "files": 0, "events": 0, "runs": 0}
        new_ids: dict[int, int] = {}
        with target._write() as out:
            for run in runs:
                cur = out.execute(f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES ({', '.join('?' * 8)})"
                                  " ON CONFLICT DO NOTHING", tuple(run[c] for c in _RUN_COLUMNS.split(", ")))
                counts["runs"] += max(cur.rowcount, 0)
            for job in jobs:
                cur = out.execute(insert, tuple(job[c] for c in columns))
                if cur.rowcount != 1:
                    counts["jobs_already_there"] += 1
                    continue
                found = out.execute("SELECT id FROM jobs WHERE job_key = ?", (job["job_key"],)).fetchone()
                new_ids[job["id"]] = found["id"]
                counts["jobs"] += 1
            for f in files:
                if f["job_id"] in new_ids:
                    out.execute("INSERT INTO files (job_id, url, path, sha256, size, created_at)"
                                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                                (new_ids[f["job_id"]], f["url"], f["path"], f["sha256"], f["size"], f["created_at"]))
                    counts["files"] += 1
            for e in events:
                if e["job_id"] in new_ids:
                    self._event(out, new_ids[e["job_id"]], e["at"], e["state"], e["detail"])
                    counts["events"] += 1
        return counts

    def run_info(self, run_id: str) -> dict[str, Any] | None:
        """The run's plan facts and finished ``video`` (None until finished)."""
        with self._read() as conn:
            row = conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return dict(row) if row is not None else None

    def run_jobs(self, run_id: str) -> builtins.list[JobRecord]:
        """The calls of a run, in submit order."""
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE run_id = ? ORDER BY id", (run_id,)
            ).fetchall()
        return [self._rec(r) for r in rows]

    def set_run_video(self, run_id: str, path: str) -> None:
        with self._write() as conn:
            conn.execute("UPDATE runs SET video = ? WHERE run_id = ?", (path, run_id))

    def set_request_id(self, job_key: str, request_id: str) -> JobRecord:
        """Attach the server's ``request_id``; the job becomes ``submitted`` unless already further."""
        now = self._now()
        with self._write() as conn:
            return self._reload(conn, self._attach(conn, job_key, request_id, now))

    def set_request_ids(self, pairs: Iterable[tuple[str, str]]) -> builtins.list[InputError | None]:
        """:meth:`set_request_id` for several confirmed submits at once (``(job_key,
        request_id)`` pairs), in ONE durable transaction: a group commit of the request_ids that
        arrived together. Each pair gets ``None``, or the :class:`InputError` that refused it
        alone (a mismatch, a duplicate); an error of the journal itself raises for all."""
        now = self._now()
        out: builtins.list[InputError | None] = []
        with self._write() as conn:
            for job_key, request_id in pairs:
                try:
                    self._attach(conn, job_key, request_id, now, check_duplicate=True)
                except InputError as exc:
                    out.append(exc)
                else:
                    out.append(None)
        return out

    def _attach(self, conn: Conn, job_key: str, request_id: str, now: str, *, check_duplicate: bool = False) -> int:
        """Record ``request_id`` on the job ``job_key`` in this transaction; the job's id.
        ``check_duplicate`` looks first rather than let the UNIQUE index refuse it (on
        PostgreSQL a refused statement would end the whole transaction of a group)."""
        row = self._require(conn, job_key)
        if row["request_id"] not in (None, request_id):
            raise InputError(
                f"job {job_key} already has request_id {row['request_id']}",
                code="request_id_mismatch",
            )
        duplicate = InputError(f"request_id {request_id} is already recorded for another job",
                               code="duplicate_request_id")
        if check_duplicate and row["request_id"] is None and conn.execute(
            "SELECT 1 FROM jobs WHERE request_id = ?", (request_id,)
        ).fetchone() is not None:
            raise duplicate
        state = "submitted" if row["state"] in ("submitting", "unconfirmed") else row["state"]
        try:
            conn.execute(
                "UPDATE jobs SET request_id = ?, state = ?, updated_at = ? WHERE id = ?",
                (request_id, state, now, row["id"]),
            )
        except self._store.integrity_errors:
            raise duplicate from None
        if state != row["state"]:
            self._event(conn, row["id"], now, state, None)
        return int(row["id"])

    def mark_unconfirmed(self, job_key: str, detail: Mapping[str, Any] | None = None) -> JobRecord:
        """The submit may or may not have reached the server: keep it, never resend it blindly."""
        return self.update_state(job_key, "unconfirmed", detail)

    def claim(
        self,
        ref: int | str,
        owner: str,
        *,
        seconds: float = CLAIM_SECONDS,
        unfinished_only: bool = False,
    ) -> JobRecord | None:
        """Take the job for ``owner`` for ``seconds`` (again: renew), so two processes never
        fetch the same job at once; ``None`` when another holder has it (its claim has not
        expired and its process is not known to be gone), or, with ``unfinished_only``, when
        the job no longer needs fetching. One write transaction: two claimers cannot both win."""
        until = _iso(self._clock() + timedelta(seconds=max(float(seconds), 1.0)))
        with self._write(durable=False) as conn:  # a power cut ends every holder anyway
            row = self._require(conn, ref)
            if unfinished_only and (row["request_id"] is None or row["state"] not in UNFINISHED_STATES):
                return None
            holder = row["claimed_by"]
            taken = (
                holder is not None
                and holder != owner
                and (row["claimed_until"] or "") >= self._now()
                and owner_alive(holder) is not False
            )
            if taken:
                return None
            conn.execute(
                "UPDATE jobs SET claimed_by = ?, claimed_until = ? WHERE id = ?", (owner, until, row["id"])
            )
            return self._reload(conn, row["id"])

    def release(
        self, owner: str, ref: int | str | None = None, *, keys: Iterable[str] | None = None
    ) -> None:
        """Give up ``owner``'s claim on one job, on the jobs of ``keys`` (job_keys: an index
        lookup each, where "every job it holds" reads the whole table), or on every job it
        holds. Not flushed on its own: a claim outlives no power cut, as its holder does not."""
        with self._write(durable=False) as conn:
            if keys is not None:
                for key in keys:
                    conn.execute(
                        "UPDATE jobs SET claimed_by = NULL, claimed_until = NULL WHERE job_key = ?"
                        " AND claimed_by = ? AND state != 'submitting'",
                        (key, owner),
                    )
                return
            if ref is None:
                conn.execute(
                    "UPDATE jobs SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ?"
                    " AND state != 'submitting'",
                    (owner,),
                )
                return
            row = self._exact(conn, ref)
            if row is not None and row["claimed_by"] == owner:
                conn.execute(
                    "UPDATE jobs SET claimed_by = NULL, claimed_until = NULL WHERE id = ?", (row["id"],)
                )

    def possibly_paid(self, api_base: str | None = None) -> builtins.list[JobRecord]:
        """Open submits that may have created a paid job nobody has the request_id of, oldest
        first: what ``kling3 jobs`` and ``kling3 resume`` list as possibly paid (``api_base``:
        only that base's; ``None``: every base's)."""
        self._adopt_noted()
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE {_OPEN_SUBMITS} AND {_ON_BASE} ORDER BY id",
                {"base": api_base},
            ).fetchall()
            jobs = [self._rec(r) for r in rows]
        return [j for j in jobs if j.possibly_paid]

    def settle(self, ref: str, verdict: str, request_id: str | None = None) -> JobRecord:
        """The user's word on a possibly-paid submit, after checking the RunComfy dashboard.

        ``paid`` keeps it counted in the spend; with the ``request_id`` found there, the job
        becomes ``submitted`` and ``kling3 resume`` fetches its video. ``unpaid`` stops counting
        it (state ``failed``, never sent). Anything but a possibly-paid job is refused.
        """
        if verdict not in SETTLE_VERDICTS:
            raise InputError(
                f"settle a job as paid or unpaid, not {verdict!r}", code="bad_verdict", field="settle"
            )
        if request_id is not None and verdict != "paid":
            raise InputError(
                "a request_id only goes with paid", code="bad_verdict", field="request_id"
            )
        job = self.get(ref)
        if job is None:
            raise InputError(f"no job {ref!r} in the journal {self.where}", code="unknown_job", field="settle")
        if not job.possibly_paid:
            raise InputError(
                f"job {job.request_id or job.job_key} is not possibly paid (state {job.state}"
                + (f", settled {job.settled}" if job.settled else "")
                + "): there is nothing to settle",
                code="not_possibly_paid",
                field="settle",
            )
        now = self._now()
        state = "failed" if verdict == "unpaid" else "unconfirmed"
        detail = _detail_json({"settled": verdict, "request_id": request_id})
        with self._write() as conn:
            if request_id is not None:
                clash = conn.execute(
                    "SELECT job_key FROM jobs WHERE request_id = ?", (request_id,)
                ).fetchone()
                if clash is not None:
                    raise InputError(
                        f"request_id {request_id} is already recorded for job {clash['job_key']}",
                        code="duplicate_request_id",
                        field="request_id",
                    )
                state = "submitted"
            conn.execute(
                "UPDATE jobs SET state = ?, settled = ?, request_id = COALESCE(?, request_id),"
                " claimed_by = NULL, claimed_until = NULL, updated_at = ? WHERE id = ?",
                (state, verdict, request_id, now, job.id),
            )
            self._event(conn, job.id, now, state, detail)
            return self._reload(conn, job.id)

    def update_state(
        self,
        key_or_request_id: int | str,
        state: str,
        detail: Mapping[str, Any] | None = None,
        *,
        durable: bool = True,
    ) -> JobRecord:
        """Record an observed state and its detail (status JSON, error JSON); returns the job.

        An event is appended when the state changes. A stale observation is ignored: once
        the job is done (completed, downloaded, download_failed, failed, cancelled), a
        waiting state reported late by a slower process does not move it back.
        ``durable=False`` for an observation that polling can make again (a status on the
        way): committed without a flush of its own (see :meth:`Store.write`).
        Raises ``ValueError`` for a state outside :data:`STATES` (a programming error).
        """
        _check_state(state)
        now = self._now()
        detail_json = _detail_json(detail)
        with self._write(durable) as conn:
            row = self._require(conn, key_or_request_id)
            if not self._apply_state(conn, row["id"], row["state"], state, detail_json, now):
                return self._rec(row)
            return self._reload(conn, row["id"])

    def record_state(
        self,
        key_or_request_id: int | str,
        state: str,
        detail: Mapping[str, Any] | None = None,
        *,
        durable: bool = True,
    ) -> None:
        """:meth:`update_state` for a caller that needs no record back (the flow, at every
        status it sees): the same rules, without reading and decoding the whole row twice."""
        _check_state(state)
        now = self._now()
        detail_json = _detail_json(detail)
        with self._write(durable) as conn:
            row = conn.execute(
                "SELECT id, state FROM jobs WHERE job_key = :ref OR request_id = :ref LIMIT 1"
                if isinstance(key_or_request_id, str) else "SELECT id, state FROM jobs WHERE id = :ref",
                {"ref": key_or_request_id},
            ).fetchone()
            if row is None:
                raise InputError(f"no job {key_or_request_id!r} in the journal {self.where}", code="unknown_job")
            self._apply_state(conn, row["id"], row["state"], state, detail_json, now)

    def _apply_state(
        self, conn: Conn, job_id: int, current: str, state: str, detail_json: str | None, now: str
    ) -> bool:
        """Move a job to ``state`` (an event when it changes); ``False``, doing nothing, for a
        waiting state seen late on a job already done."""
        if current in SETTLED_STATES and state in WAITING_STATES:
            return False
        conn.execute(
            "UPDATE jobs SET state = ?, status_detail = COALESCE(?, status_detail),"
            " updated_at = ? WHERE id = ?",
            (state, detail_json, now, job_id),
        )
        if state != current:
            self._event(conn, job_id, now, state, detail_json)
        return True

    def add_file(
        self,
        request_id: int | str,
        url: str,
        path: str | os.PathLike[str],
        sha256: str | None,
        size: int | None,
        *,
        durable: bool = True,
    ) -> FileRecord:
        """Record a saved output file; saving to the same path again replaces the entry.
        ``durable=False`` when a durable write follows (the job's ``downloaded`` state)."""
        now = self._now()
        with self._write(durable) as conn:
            row = self._require(conn, request_id)
            file_path = os.fspath(path)
            self._upsert_file(conn, row["id"], redact(url), file_path, sha256, size, now)
            saved = conn.execute(
                f"SELECT {_FILE_COLUMNS} FROM files WHERE job_id = ? AND path = ?",
                (row["id"], file_path),
            ).fetchone()
            return _file(saved)

    @staticmethod
    def _upsert_file(
        conn: Conn, job_id: int, url: str, path: str, sha256: str | None, size: int | None, at: str
    ) -> None:
        conn.execute(
            "INSERT INTO files (job_id, url, path, sha256, size, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (job_id, path) DO UPDATE SET url = excluded.url,"
            " sha256 = excluded.sha256, size = excluded.size, created_at = excluded.created_at",
            (job_id, url, path, sha256, size, at),
        )

    def get(self, ref: int | str) -> JobRecord | None:
        """A job by id, job_key, request_id, or a unique request_id (or job_key) prefix of 6+
        characters (a possibly-paid submit has no request_id: it is named by its job_key).

        An ambiguous prefix raises :class:`InputError` listing the matches rather than
        guessing: acting on the wrong job could cancel or re-download someone's video.
        """
        self._adopt_noted()
        with self._read() as conn:
            if isinstance(ref, int):
                row = self._exact(conn, ref)
                return None if row is None else self._rec(row)
            ref = ref.strip()
            if not ref:
                return None
            row = self._exact(conn, ref)
            if row is None and ref.isdigit():
                row = self._exact(conn, int(ref))
            if row is not None:
                return self._rec(row)
            if len(ref) < _MIN_PREFIX:
                return None
            upper = prefix_upper(ref)
            if upper is None:
                return None
            rows = conn.execute(PREFIX_QUERY, {"low": ref, "high": upper}).fetchall()
        if len(rows) > 1:
            matches = [r["request_id"] or r["job_key"] for r in rows]
            raise InputError(
                f"{ref!r} matches several jobs ({', '.join(matches)}); give more characters",
                code="ambiguous_job",
                details={"matches": matches},
            )
        return self._rec(rows[0]) if rows else None

    def list(
        self,
        limit: int | None = 50,
        states: Iterable[str] | None = None,
        *,
        batch_id: str | None = None,
        api_base: str | None = None,
    ) -> builtins.list[JobRecord]:
        """Jobs newest first, optionally only some states, one batch or one API base (and the
        jobs recorded before bases were); ``limit=None`` for all."""
        self._adopt_noted()
        clauses: builtins.list[str] = []
        params: builtins.list[Any] = []
        if states is not None:
            wanted = builtins.list(states)
            for state in wanted:
                _check_state(state)
            clauses.append(f"state IN ({', '.join('?' * len(wanted))})" if wanted else "1 = 0")
            params.extend(wanted)
        if batch_id is not None:
            clauses.append("batch_id = ?")
            params.append(batch_id)
        if api_base is not None:
            clauses.append("(api_base IS NULL OR api_base = ?)")
            params.append(api_base)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        if limit is not None:
            params.append(max(int(limit), 0))
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs{where} ORDER BY id DESC" + ("" if limit is None else " LIMIT ?"),
                params,
            ).fetchall()
        return [self._rec(r) for r in rows]

    def unfinished(self, api_base: str | None = None) -> builtins.list[JobRecord]:
        """Jobs the server has (a request_id) whose files we do not have yet, oldest first;
        ``api_base``: only those sent there (and those recorded before bases were).

        This is the work list of ``kling3 resume``; possibly-paid submits are not in it because
        without a request_id there is nothing to poll (:meth:`possibly_paid` lists them).
        """
        self._adopt_noted()
        marks = ", ".join(f":s{i}" for i in range(len(UNFINISHED_STATES)))
        params: dict[str, Any] = {f"s{i}": state for i, state in enumerate(UNFINISHED_STATES)}
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE request_id IS NOT NULL"
                f" AND state IN ({marks}) AND {_ON_BASE} ORDER BY id",
                {**params, "base": api_base},
            ).fetchall()
        return [self._rec(r) for r in rows]

    def _job_id(self, job: JobRecord | int | str) -> int | None:
        if isinstance(job, JobRecord):
            return job.id
        found = self.get(job)
        return None if found is None else found.id

    def files(self, job: JobRecord | int | str) -> builtins.list[FileRecord]:
        """Saved files of a job, in the order they were saved."""
        job_id = self._job_id(job)
        if job_id is None:
            return []
        with self._read() as conn:
            rows = conn.execute(
                f"SELECT {_FILE_COLUMNS} FROM files WHERE job_id = ? ORDER BY id", (job_id,)
            ).fetchall()
        return [_file(r) for r in rows]

    def events(self, job: JobRecord | int | str) -> builtins.list[EventRecord]:
        """State changes of a job, oldest first."""
        job_id = self._job_id(job)
        if job_id is None:
            return []
        with self._read() as conn:
            rows = conn.execute(
                "SELECT id, job_id, at, state, detail FROM events WHERE job_id = ? ORDER BY id",
                (job_id,),
            ).fetchall()
        return [
            EventRecord(
                id=r["id"],
                job_id=r["job_id"],
                at=r["at"],
                state=r["state"],
                detail=_loads(r["detail"]),
            )
            for r in rows
        ]

    def spend(
        self, days: int | None = None, *, api_base: str | None = None, cancelled: bool = False
    ) -> builtins.list[SpendRow]:
        """Estimated spend per UTC day and tier, newest day first.

        ``days=N`` covers today and the N-1 days before it; ``None`` covers all history.
        ``api_base``: only the jobs sent there (and those recorded before bases were).
        Which jobs count is explained in the module docstring; ``cancelled`` lists instead the
        jobs cancelled while queued, which are not charged.
        """
        counted, gone = self.spend_report(days, api_base=api_base)
        return gone if cancelled else counted

    def spend_report(
        self, days: int | None = None, *, api_base: str | None = None, by: str = "tier"
    ) -> tuple[builtins.list[SpendRow], builtins.list[SpendRow]]:
        """:meth:`spend` and ``spend(cancelled=True)`` from one pass over the spend index (what
        ``kling3 spend`` shows: the 100k-job journal is read once, not twice). ``by="actor"``
        sums per person or agent (KLING3_ACTOR, else user@host) instead of per tier."""
        if by not in SPEND_BY:
            raise InputError(f"spend by tier or actor, not {by!r}", code="invalid_spend_by", field="by")
        since = ""
        if days is not None:
            if days < 1:
                raise InputError("days must be at least 1", code="invalid_days", field="days")
            since = (
                self._clock().astimezone(timezone.utc).date() - timedelta(days=days - 1)
            ).isoformat()
        with self._read() as conn:
            rows = conn.execute(SPEND_QUERY if by == "tier" else _SPEND_BY_ACTOR,
                                {"since": since, "base": api_base}).fetchall()
        return _fold_spend(rows, by)

    def _spent_today(self, conn: Conn, api_base: str | None) -> tuple[str, float]:
        today = self._clock().astimezone(timezone.utc).date()
        row = conn.execute(
            "SELECT COALESCE(SUM(cost_usd), 0) AS spent FROM jobs"
            f" WHERE {_DAY} = :day AND {_COUNTED} AND {_ON_BASE}",
            {"day": today.isoformat(), "base": api_base},
        ).fetchone()
        return today.isoformat(), round(float(row["spent"]), 6)

    def spent_today(self, api_base: str | None = None) -> float:
        """Estimated spend of the current UTC day, in US dollars (``api_base``: on that base)."""
        with self._read() as conn:
            return self._spent_today(conn, api_base)[1]

    def _check_cap(
        self, conn: Conn, extra_cost: float, cap: float, api_base: str | None
    ) -> None:
        """Refuse ``extra_cost`` over today's cap as seen on ``conn``. Inside :meth:`begin`'s
        write transaction this is race-free: two processes cannot both pass with the last
        dollar."""
        day, spent = self._spent_today(conn, api_base)
        total = spent + extra_cost
        if total <= cap + 1e-9:
            return
        raise InputError(
            f"daily spending cap reached: {usd(spent)} already spent today ({day} UTC) plus "
            f"{usd(extra_cost)} for this request makes {usd(total)}, over the cap of {usd(cap)} "
            "(KLING3_DAILY_CAP_USD); raise the cap or wait for the next UTC day",
            code="daily_cap_exceeded",
            field="max_cost_usd",
            details={
                "day": day,
                "spent_today_usd": spent,
                "extra_usd": extra_cost,
                "cap_usd": cap,
            },
        )

    def check_daily_cap(
        self, extra_cost: float, cap: float | None, api_base: str | None = None
    ) -> None:
        """Refuse (``daily_cap_exceeded``) when today's spend plus ``extra_cost`` exceeds ``cap``.

        For an early, friendly refusal; :meth:`begin` with ``daily_cap_usd`` is the race-free
        check to use right before submitting.
        """
        if cap is None:
            return
        with self._read() as conn:
            self._check_cap(conn, float(extra_cost), float(cap), api_base)
