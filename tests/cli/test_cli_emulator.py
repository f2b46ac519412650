"""`kling3 emulator` serves the RunComfy emulator in the foreground and prints the two `export`
lines a user pastes; a port already taken is a clean error, not a traceback."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from clihelp import kling3_cmd, run_cli

from skill.cli.serve import RESULT_SHAPE_CHOICES
from skill.settings import API_BASE_VAR, TOKEN_VAR
from skill.testing.emulator import COUNTERS_PATH, RESULT_SHAPES

T2V = "kling/kling-3.0/standard/text-to-video"


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)


def _start(procs: list[subprocess.Popen[str]], *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([*kling3_cmd(), "emulator", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=os.environ.copy())
    procs.append(proc)
    return proc


def _exports(proc: subprocess.Popen[str]) -> dict[str, str]:
    assert proc.stdout is not None
    env = {}
    for _ in range(2):
        words = shlex.split(proc.stdout.readline())
        assert words[0] == "export", words
        name, _, value = words[1].partition("=")
        env[name] = value
    return env


def test_it_prints_the_two_export_lines_and_kling3_runs_against_them(
    started: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    proc = _start(started, "--token", "tok'$en", "--queue-seconds", "0", "--run-seconds", "0")
    env = _exports(proc)
    assert list(env) == [API_BASE_VAR, TOKEN_VAR] == ["RUNCOMFY_MODEL_API_BASE", "RUNCOMFY_TOKEN"]
    assert env[API_BASE_VAR].startswith("http://127.0.0.1:") and env[API_BASE_VAR].endswith("/v1")
    assert env[TOKEN_VAR] == "tok'$en"  # quoted for the shell, read back whole
    r = httpx.post(f"{env[API_BASE_VAR]}/models/{T2V}", json={"prompt": "x"}, timeout=10)
    assert r.status_code == 401

    run = run_cli("run", "a kite over dunes", "--poll-interval", "0.05", "--output-dir", str(tmp_path / "o"), "--json",
                  env={**env, "KLING3_HOME": str(tmp_path / "home")})
    assert run.code == 0, run.err
    counters = httpx.get(env[API_BASE_VAR].removesuffix("/v1") + COUNTERS_PATH, timeout=10).json()
    assert counters["submits"] == 2 and counters["downloads"] == 1  # the refused one counts too
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert proc.stderr is not None and "Ctrl-C stops it" in proc.stderr.read()


def test_json_prints_one_document_and_json_lines_on_stderr(started: list[subprocess.Popen[str]]) -> None:
    proc = _start(started, "--json", "--result-shape", "image_videos")
    assert proc.stdout is not None and proc.stderr is not None
    doc = json.loads(proc.stdout.readline())
    assert doc["env"] == {API_BASE_VAR: doc["api_base"], TOKEN_VAR: "test-token"}
    assert doc["exports"][0] == f"export {API_BASE_VAR}={doc['api_base']}"
    assert json.loads(proc.stderr.readline())["event"] == "emulator_ready"
    assert httpx.get(doc["counters_url"], timeout=10).json()["submits"] == 0
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0
    assert proc.stdout.read() == "" and all(line.startswith("{") for line in proc.stderr.read().splitlines())


@pytest.mark.parametrize("as_json", [True, False])
def test_a_port_in_use_is_a_clean_error(as_json: bool) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        r = run_cli("emulator", "--port", str(port), *(["--json"] if as_json else []), timeout=30)
    assert r.code == 69
    assert "Traceback" not in r.err
    if as_json:
        err = r.json()["error"]
        assert (err["code"], err["field"], err["port"]) == ("port_in_use", "port", port)
        assert f"port {port} on 127.0.0.1 is already in use" in err["message"]
    else:
        assert r.out == "" and "--port 0" in r.err and str(port) in r.err


def test_a_port_out_of_range_is_a_usage_error() -> None:
    r = run_cli("emulator", "--port", "70000", "--json")
    assert r.code == 64 and r.json()["error"]["field"] == "port"


def test_the_result_shape_choices_are_the_emulators() -> None:
    assert RESULT_SHAPE_CHOICES == RESULT_SHAPES
