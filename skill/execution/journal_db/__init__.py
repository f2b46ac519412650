"""Where the job journal's rows live: one small interface, two databases behind it.

:class:`~skill.execution.journal.Journal` holds every promise (the row before the submit, the
cap and the reservation in one transaction, claims) and speaks one SQL: named ``:name`` or
positional ``?`` parameters and only what SQLite and PostgreSQL both understand. A
:class:`Store` gives it connections and serialised write transactions and keeps the rest apart:
the schema and its versioned migrations, locking, and turning driver errors into the package's.

- ``sqlite`` (:mod:`.sqlite`): the file in KLING3_HOME, the default that needs nothing.
- ``postgresql`` (:mod:`.postgres`): a team journal on a server, through psycopg 3 (the
  ``[postgres]`` extra), imported only when the URL names it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["POSTGRES_SCHEMES", "Conn", "Params", "Store", "is_postgres_url", "mask_url", "open_store", "secrets_of"]

POSTGRES_SCHEMES = ("postgresql", "postgres")
Params = Mapping[str, Any] | Sequence[Any]


class Conn(Protocol):
    """What a journal transaction runs its SQL on; rows read as mappings (``row["state"]``)."""

    def execute(self, sql: str, params: Params = ()) -> Any: ...


class Store(Protocol):
    """One opened journal database, shared by the threads of one process (the caller locks)."""

    kind: str
    """``sqlite`` or ``postgresql``."""
    where: str
    """The database as a person may read it: a file path, or the URL with its password masked."""
    local_path: Path
    """A path on this machine beside which the journal keeps its side file (request_ids noted
    while the database was busy): the SQLite file itself, or a name in KLING3_HOME."""
    integrity_errors: tuple[type[BaseException], ...]
    """What a broken UNIQUE constraint raises."""

    def read(self) -> contextlib.AbstractContextManager[Conn]:
        """A connection for reads (each statement sees committed data)."""
        ...

    def write(self, durable: bool = True) -> contextlib.AbstractContextManager[Conn]:
        """One write transaction, serialised against every other writer of the journal (on
        every machine): what the daily cap and claims rely on. Committed on a clean exit.

        ``durable``: on disk before the commit returns (it survives a power cut). ``False``
        for what the journal can do without after a power cut (a status seen on the way, a
        claim): the commit is as atomic and ordered, and the next durable commit makes it
        durable too, but it skips the flush (an fsync per commit on SQLite)."""
        ...

    def insert(self, conn: Conn, sql: str, params: Params) -> int:
        """Run an INSERT into a table with an ``id`` key; the new row's id."""
        ...

    def close(self) -> None: ...


def is_postgres_url(target: object) -> bool:
    """Whether ``target`` is a ``postgresql://`` (or ``postgres://``) URL."""
    return isinstance(target, str) and target.split("://", 1)[0].lower() in POSTGRES_SCHEMES and "://" in target


def mask_url(url: str) -> str:
    """``url`` with any password (in the user part or a ``password=`` parameter) shown as ``***``,
    so it can go in messages, logs and ``--json`` output."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            user, sep, _pw = userinfo.partition(":")
            netloc = f"{user}:***@{hostport}" if sep else netloc
        query = parts.query
        if query:
            pairs = [(k, "***" if k.lower() == "password" else v) for k, v in parse_qsl(query, keep_blank_values=True)]
            query = urlencode(pairs, safe="*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return url.split("://", 1)[0] + "://***"


def secrets_of(url: str) -> list[str]:
    """The password(s) a URL carries, to scrub from driver messages that might echo them."""
    found: list[str] = []
    with contextlib.suppress(ValueError):
        parts = urlsplit(url)
        if parts.password:
            found.append(parts.password)
        found += [v for k, v in parse_qsl(parts.query) if k.lower() == "password" and v]
    return [s for s in found if s]


def open_store(target: str | Path, *, busy_timeout: float) -> Store:
    """The store for ``target``: a ``postgresql://`` URL, else a SQLite file path."""
    if is_postgres_url(target):
        from skill.execution.journal_db.postgres import PostgresStore

        return PostgresStore(str(target), busy_timeout=busy_timeout)
    from skill.execution.journal_db.sqlite import SqliteStore

    return SqliteStore(Path(target), busy_timeout=busy_timeout)

