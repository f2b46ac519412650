"""Secrets, through the real CLI and the emulator: a short token or one that reads like a JSON
literal alters nothing it should not, the journal keeps the exact body sent, and polls of a real
(non-loopback) API are at least a second apart."""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from clihelp import run_cli

from skill.testing.emulator import Emulator


def env_for(emu: Emulator, tmp_path: Path, base: str | None = None, token: str | None = None) -> dict[str, str]:
    return {"RUNCOMFY_MODEL_API_BASE": base or emu.base_url, "RUNCOMFY_TOKEN": token or emu.token,
            "KLING3_HOME": str(tmp_path / "home"), "RUNCOMFY_CONFIG_DIR": str(tmp_path / "rc")}


def stored_payloads(tmp_path: Path) -> list[str]:
    con = sqlite3.connect(tmp_path / "home" / "jobs.sqlite3")
    rows = [r[0] for r in con.execute("select payload_json from jobs order by id")]
    con.close()
    return rows


def test_a_short_token_alters_neither_the_api_message_nor_the_stored_body(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = make_emulator(token="tok")
    r = run_cli("run", "a tokyo street at night, 5 seconds", "--poll-interval", "0.05", "--output-dir",
                str(tmp_path / "o"), "--json", env=env_for(emu, tmp_path))
    assert r.code == 0, r.err
    (sent,) = emu.jobs()
    (stored,) = stored_payloads(tmp_path)
    assert "tokyo" in stored and "***" not in stored
    assert json.loads(stored) == sent["body"]  # the exact body that was sent
    other = make_emulator(token="another")  # rejects "tok" with "missing, expired or revoked API token"
    denied = run_cli("run", "a fox", "--json", env=env_for(other, tmp_path, token="tok"))
    assert denied.code == 77
    assert "revoked API token" in denied.json()["error"]["message"]
    late = run_cli("status", sent["request_id"], "--json", env=env_for(emu, tmp_path, token="wrong"))
    assert late.code == 75  # a journaled (paid) job: never 77, "sign in and run it again"


def test_a_token_reading_true_corrupts_nothing_run_after_run(make_emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = make_emulator(token="true")
    env = env_for(emu, tmp_path)
    for n in range(2):
        r = run_cli("run", f"a lighthouse in fog, take {n}", "--poll-interval", "0.05", "--output-dir",
                    str(tmp_path / "o"), "--json", env=env)
        assert r.code == 0, r.err
    jobs = run_cli("jobs", "--json", env=env)
    assert jobs.code == 0 and [j["state"] for j in jobs.json()["jobs"]] == ["downloaded", "downloaded"]
    assert all('"sound": false' in p for p in stored_payloads(tmp_path))


def test_polls_of_a_loopback_api_may_be_fast(make_emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = make_emulator(queue_seconds=30)
    r = run_cli("run", "a kite", "--poll-interval", "0", "--timeout", "1", "--json", env=env_for(emu, tmp_path))
    assert r.code == 75
    assert emu.counts["status"] > 10


def test_polls_of_a_non_loopback_api_are_at_least_a_second_apart(
    make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    name = socket.gethostname()
    try:
        if not socket.gethostbyname(name).startswith("127."):
            pytest.skip(f"{name} does not resolve to a loopback address here")
    except OSError:
        pytest.skip(f"{name} does not resolve")
    emu = make_emulator(queue_seconds=30)
    base = emu.base_url.replace("127.0.0.1", name)  # not loopback by its name; traffic stays local
    r = run_cli("run", "a kite", "--poll-interval", "0", "--timeout", "2.5", "--json", env=env_for(emu, tmp_path, base))
    assert r.code == 75, r.err
    assert 1 <= emu.counts["status"] <= 3  # at 0 s intervals this would be hundreds
