"""`kling3 emulator` serves the RunComfy emulator for other tools (e.g. the official CLI)."""

from __future__ import annotations

import os
import subprocess

import httpx
from clihelp import kling3_cmd


def test_emulator_command_prints_its_base_url_and_serves_the_api() -> None:
    proc = subprocess.Popen([*kling3_cmd(), "emulator", "--token", "tok", "--queue-seconds", "0", "--run-seconds", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:") and base.endswith("/v1")
        r = httpx.post(f"{base}/models/kling/kling-3.0/standard/text-to-video", headers={"Authorization": "Bearer tok"},
                       json={"prompt": "a kite", "duration": 5, "sound": False}, timeout=10)
        assert r.status_code == 200 and r.json()["request_id"]
        assert httpx.post(f"{base}/models/kling/kling-3.0/standard/text-to-video", json={"prompt": "x"}, timeout=10).status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=10)
