"""`kling3 mcp` (the console script, not only `python -m skill.mcp_server`) speaks MCP over stdio."""

from __future__ import annotations

import json
import os
import subprocess

from clihelp import kling3_cmd


def _rpc(proc: subprocess.Popen[str], msg: dict[str, object]) -> None:
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(msg) + "\n")
    proc.stdin.flush()


def _read(proc: subprocess.Popen[str], want_id: int) -> dict[str, object]:
    assert proc.stdout is not None
    while True:
        line = proc.stdout.readline()
        assert line, "the server closed stdout"
        doc = json.loads(line)
        if doc.get("id") == want_id:
            return doc  # type: ignore[no-any-return]


def test_kling3_mcp_initializes_and_lists_the_seven_tools() -> None:
    proc = subprocess.Popen([*kling3_cmd(), "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        _rpc(proc, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}})
        init = _read(proc, 1)
        assert "result" in init, init
        _rpc(proc, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        _rpc(proc, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        tools = _read(proc, 2)
        names = sorted(t["name"] for t in tools["result"]["tools"])  # type: ignore[index]
        assert names == sorted(["kling_plan_video", "kling_generate_video", "kling_generate_batch",
                                "kling_video_status", "kling_fetch_video", "kling_cancel_video", "kling_list_jobs"])
    finally:
        proc.kill()
        proc.wait(timeout=10)
