"""A throwaway PostgreSQL server for the tests: ``initdb`` and ``pg_ctl`` in a temp directory, on a
free loopback port, with password authentication (so the tests can check the password is never
printed). The server refuses to run as root; as root it runs as Debian's ``postgres`` user
through ``runuser``, in a directory that user owns. Each test takes a fresh database from it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

PASSWORD = "pw-Zq8-never-printed"
USER = "kling3"


def binaries() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: on PATH, else Debian's versioned dir."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True):
        return Path(candidate).parent
    return None


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """A running cluster; :meth:`database` makes an empty database and returns its URL."""

    root: Path
    bindir: Path
    port: int
    as_user: list[str]

    def url(self, dbname: str = "postgres", password: str = PASSWORD) -> str:
        return f"postgresql://{USER}:{password}@127.0.0.1:{self.port}/{dbname}"

    def database(self) -> str:
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        subprocess.run([*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate",
                        "stop"], capture_output=True, timeout=60, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def start(*, durable: bool = False) -> PgServer:
    """initdb and start a cluster (as ``postgres`` when this process is root); ``durable``: with
    fsync and synchronous commit on, as a real server runs (the tests do without)."""
    bindir = binaries()
    assert bindir is not None, "no initdb/pg_ctl"
    root = Path(tempfile.mkdtemp(prefix="kling3-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        pg = pwd.getpwnam("postgres")
        os.chown(root, pg.pw_uid, pg.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    pwfile = root / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if as_user:
        os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
    run = {"capture_output": True, "text": True, "timeout": 120, "check": True}
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(root / "data"), "-U", USER, "--pwfile", str(pwfile),
                    "--auth", "scram-sha-256", "-E", "UTF8", "--locale", "C.UTF-8", "--no-sync"], **run)  # type: ignore[call-overload]
    port = _free_port()
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c max_connections=200"
    if not durable:
        opts += " -c fsync=off -c synchronous_commit=off"
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "log"), "-o", opts,
                    "-w", "-t", "60", "start"], **run)  # type: ignore[call-overload]
    return PgServer(root=root, bindir=bindir, port=port, as_user=as_user)
