"""`kling3 login --with-token` / `logout`: the official CLI's token file, 0600, never echoed."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

from clihelp import run_cli

from skill.testing.emulator import Emulator


def test_login_with_token_writes_the_shared_file_0600_and_logout_removes_it(tmp_path: Path) -> None:
    cfg = tmp_path / "rc"
    env = {"RUNCOMFY_CONFIG_DIR": str(cfg), "RUNCOMFY_TOKEN": ""}
    secret = "rc-secret-token-abc123"
    r = run_cli("login", "--with-token", "--json", stdin=secret + "\n", env=env)
    assert r.code == 0, r.err
    path = cfg / "token.json"
    assert json.loads(path.read_text())["access_token"] == secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret not in r.out + r.err
    r = run_cli("logout", "--json", env=env)
    assert r.json() == {"logged_out": True} and not path.exists()


def test_token_file_readable_by_others_is_used_with_a_warning(make_emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = make_emulator()
    cfg = tmp_path / "rc"
    cfg.mkdir()
    (cfg / "token.json").write_text(json.dumps({"access_token": emu.token}))
    os.chmod(cfg / "token.json", 0o644)
    env = {"RUNCOMFY_CONFIG_DIR": str(cfg), "RUNCOMFY_TOKEN": "", "RUNCOMFY_MODEL_API_BASE": emu.base_url,
           "KLING3_HOME": str(tmp_path / "home")}
    r = run_cli("run", "a kite on a beach", "--no-wait", "--json", env=env)
    assert r.code == 0, r.err
    assert "warning" in r.err.lower() and "token.json" in r.err
    assert emu.token not in r.err
