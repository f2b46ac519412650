"""`kling3 jobs` and `kling3 spend` read the journal only: they must not load the HTTP stack.

Each command runs in a fresh interpreter over a journal that holds a finished job (so the rows,
files and spend are really rendered), and reports which HTTP modules it imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from clihelp import run_cli

from skill.testing.emulator import Emulator

HTTP_STACK = ("httpx", "httpcore", "anyio", "h11", "certifi")

_PROBE = (
    "import sys\n"
    "from skill.cli import main\n"
    "code = main(sys.argv[1:])\n"
    f"loaded = sorted(m for m in {HTTP_STACK!r} if m in sys.modules)\n"
    "sys.stderr.write('\\nLOADED=' + repr(loaded) + ' CODE=' + repr(code) + '\\n')\n"
)


@pytest.fixture(scope="module")
def journal_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("light")
    env = {"KLING3_HOME": str(tmp / "home"), "RUNCOMFY_CONFIG_DIR": str(tmp / "rc")}
    with Emulator() as emu:
        env |= {"RUNCOMFY_MODEL_API_BASE": emu.base_url, "RUNCOMFY_TOKEN": emu.token}
        done = run_cli("run", "a paper boat drifting on a pond", "--poll-interval", "0.05",
                       "--output-dir", str(tmp / "out"), "--json", env=env)
    assert done.code == 0, done.err
    return env  # the base stays the emulator's, so its job is listed (nothing is sent any more)


@pytest.mark.parametrize(
    "argv",
    [["jobs"], ["jobs", "--json"], ["jobs", "--all-bases", "--json"], ["spend"], ["spend", "--json"]],
)
def test_journal_commands_do_not_import_the_http_stack(journal_home: dict[str, str], argv: list[str]) -> None:
    proc = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True,
                          env={**os.environ, **journal_home}, timeout=60, check=False)
    tail = proc.stderr.rsplit("\nLOADED=", 1)
    assert len(tail) == 2, proc.stderr
    assert tail[1].strip() == "[] CODE=0", proc.stderr
    if "--json" in argv:
        doc = json.loads(proc.stdout)  # the finished job is really rendered, not an early exit
        assert doc["jobs"][0]["state"] == "downloaded" if argv[0] == "jobs" else doc["spend"][0]["jobs"] == 1, doc


def test_the_probe_sees_the_http_stack_where_it_is_used(tmp_path: Path) -> None:
    """The same probe on a command that talks HTTP finds it, so the checks above can fail."""
    env = {**os.environ, "KLING3_HOME": str(tmp_path / "home"), "RUNCOMFY_CONFIG_DIR": str(tmp_path / "rc")}
    with Emulator() as emu:
        env |= {"RUNCOMFY_MODEL_API_BASE": emu.base_url, "RUNCOMFY_TOKEN": emu.token}
        proc = subprocess.run([sys.executable, "-c", _PROBE, "status", "nosuchrequest", "--json"],
                              capture_output=True, text=True, env=env, timeout=60, check=False)
    assert "'httpx'" in proc.stderr.rsplit("\nLOADED=", 1)[-1], proc.stderr
