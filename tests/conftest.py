"""Shared pytest fixtures: a private environment, the emulator, clients pointed at it, a private
journal, and a throwaway local HTTP server."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pghelp
import pytest

from skill.execution.client import AsyncRunComfyClient, RunComfyClient
from skill.execution.journal import Journal
from skill.testing.emulator import Emulator, EmulatorConfig


def pytest_configure(config: pytest.Config) -> None:
    """Keep the suite away from the developer's journal, token and the real API.

    Every test (and every subprocess it starts) sees a private KLING3_HOME, output folder and
    RunComfy config dir, a dummy token, and an API base on a closed loopback port, so a test that forgets to
    point at the emulator fails instead of spending money. Tests set their own values on top.
    """
    import os
    import tempfile

    root = tempfile.mkdtemp(prefix="kling3-tests-")
    os.environ["KLING3_HOME"] = os.path.join(root, "home")
    os.environ["RUNCOMFY_CONFIG_DIR"] = os.path.join(root, "runcomfy")
    os.environ["KLING3_OUTPUT_DIR"] = os.path.join(root, "videos")
    os.environ["RUNCOMFY_MODEL_API_BASE"] = "http://127.0.0.1:9/v1"
    os.environ["RUNCOMFY_WEB_BASE"] = "http://127.0.0.1:9"
    os.environ["RUNCOMFY_TOKEN"] = "test-token-not-real"
    os.environ["XDG_CACHE_HOME"] = os.path.join(root, "xdg-cache")  # the start-up cache's fallback
    for name in ("KLING3_DAILY_CAP_USD", "KLING3_RULES", "KLING3_TEMPLATES", "KLING3_MAX_DOWNLOAD_BYTES",
                 "KLING3_CACHE", "KLING3_PROMPT_CACHE", "KLING3_JOURNAL_URL", "KLING3_ACTOR"):
        os.environ.pop(name, None)

# Jobs finish in ~0.1 s so client tests stay fast; pass other timings to make_emulator when a
# test needs to catch a job while queued or running.
FAST_TIMINGS: dict[str, Any] = {"queue_seconds": 0.05, "run_seconds": 0.05}


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., Emulator]]:
    """Factory: ``make_emulator(**EmulatorConfig kwargs)`` -> a started emulator, stopped at teardown.

    ``make_emulator(SubClass, ...)`` starts an :class:`Emulator` subclass instead, for a test that
    needs the server to misbehave in a way no config does.
    """
    started: list[Emulator] = []

    def factory(emulator_class: type[Emulator] = Emulator, /, **kwargs: Any) -> Emulator:
        emu = emulator_class(EmulatorConfig(**{**FAST_TIMINGS, **kwargs})).start()
        started.append(emu)
        return emu

    yield factory
    for emu in started:
        emu.stop()


@pytest.fixture
def emulator(make_emulator: Callable[..., Emulator]) -> Emulator:
    """A running emulator with the default config and fast job timings."""
    return make_emulator()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private KLING3_HOME (journal, schema cache) and RunComfy config dir for in-process calls,
    with no daily cap; ``tmp_path / "home"`` is returned."""
    h = tmp_path / "home"
    monkeypatch.setenv("KLING3_HOME", str(h))
    monkeypatch.setenv("RUNCOMFY_CONFIG_DIR", str(tmp_path / "rc"))
    monkeypatch.delenv("KLING3_DAILY_CAP_USD", raising=False)
    return h


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    """A private journal file (``tmp_path / "jobs.sqlite3"``), closed at teardown."""
    with Journal(tmp_path / "jobs.sqlite3") as jr:
        yield jr


@pytest.fixture
def api_client() -> Iterator[Callable[..., RunComfyClient]]:
    """Factory: ``api_client(emu, **kw)`` -> a RunComfyClient pointed at ``emu`` with its token
    (``kw`` overrides or adds client options), closed at teardown if the test did not."""
    made: list[RunComfyClient] = []

    def factory(emu: Emulator, **kw: Any) -> RunComfyClient:
        kw.setdefault("base_url", emu.base_url)
        kw.setdefault("token", emu.token)
        client = RunComfyClient(**kw)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


@pytest.fixture
def async_api_client() -> Callable[..., AsyncRunComfyClient]:
    """Factory: ``async_api_client(emu, **kw)`` -> an AsyncRunComfyClient pointed at ``emu``.

    Open it with ``async with`` inside the test's event loop: its connections belong to that
    loop, so it cannot be closed at teardown.
    """

    def factory(emu: Emulator, **kw: Any) -> AsyncRunComfyClient:
        kw.setdefault("base_url", emu.base_url)
        kw.setdefault("token", emu.token)
        return AsyncRunComfyClient(**kw)

    return factory


@pytest.fixture
def serve_http() -> Iterator[Callable[[type[BaseHTTPRequestHandler]], str]]:
    """Factory: ``serve_http(HandlerClass)`` -> ``http://127.0.0.1:PORT`` of a threaded server
    running that handler, shut down at teardown; for answers the emulator does not give."""
    servers: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def factory(handler: type[BaseHTTPRequestHandler]) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield factory
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pghelp.PgServer]:
    """A throwaway PostgreSQL cluster for the whole session (see tests/pghelp.py). Skipped only
    when PostgreSQL is not installed and this is not CI; on CI its absence fails."""
    missing = None
    if pghelp.binaries() is None:
        missing = "PostgreSQL's initdb/pg_ctl are not installed (apt-get install postgresql)"
    else:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            missing = "psycopg is not installed (pip install 'kling3-skill[postgres]')"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    server = pghelp.start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: pghelp.PgServer) -> str:
    """The URL of a fresh, empty database on the session's PostgreSQL server."""
    return pg_server.database()
