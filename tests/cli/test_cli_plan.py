"""The `kling3 plan` contract that agents and outside tests rely on."""

from __future__ import annotations

import json
from pathlib import Path

from clihelp import run_cli


def test_plan_json_has_the_contract_fields() -> None:
    r = run_cli("plan", "a quick vertical draft of a barista pulling espresso, with cafe sound", "--json")
    assert r.code == 0, r.err
    doc = r.json()
    for key in ("endpoint", "tier", "mode", "params", "payload", "prompt", "cost_usd", "segments", "decision", "warnings"):
        assert key in doc
    assert doc["endpoint"] == "kling/kling-3.0/standard/text-to-video"
    assert doc["params"]["duration"] == 5 and doc["params"]["aspect_ratio"] == "9:16"
    assert doc["params"]["generate_audio"] is True
    assert doc["payload"] == {"prompt": doc["prompt"], "duration": 5, "aspect_ratio": "9:16", "sound": True}
    assert doc["cost_usd"] == 0.63
    assert len(doc["segments"]) == 1 and doc["segments"][0]["payload"] == doc["payload"]
    assert {"rules", "signals", "changes"} <= set(doc["decision"])
    assert any(s["words"] == "with cafe sound" for s in doc["decision"]["signals"])


def test_flags_override_text() -> None:
    r = run_cli(
        "plan", "vertical 4K billboard with music", "--tier", "pro", "--aspect-ratio", "1:1", "--no-audio", "--duration", "7", "--json"
    )
    doc = r.json()
    assert (doc["tier"], doc["params"]["aspect_ratio"], doc["params"]["generate_audio"], doc["params"]["duration"]) == ("pro", "1:1", False, 7)


def test_image_flags_route_to_image_to_video_wire_names() -> None:
    r = run_cli(
        "plan", "product hero shot, slow orbit", "--image-url", "https://cdn.example.com/p.png",
        "--tail-image-url", "https://cdn.example.com/q.png", "--json",
    )
    doc = r.json()
    assert doc["endpoint"] == "kling/kling-3.0/pro/image-to-video"
    assert doc["payload"]["start_image_url"] == "https://cdn.example.com/p.png"
    assert doc["payload"]["end_image_url"] == "https://cdn.example.com/q.png"
    assert doc["payload"]["generate_audio"] is False


def test_refusal_exits_65_with_stable_json_error() -> None:
    r = run_cli("plan", "animate this photo", "--json")
    assert r.code == 65
    err = r.json()["error"]
    assert err["code"] == "missing_image" and err["field"] == "image_url" and err["message"]
    assert "missing" not in r.out.split("\n", 1)[1]  # exactly one JSON document on stdout


def test_refusal_without_json_explains_on_stderr() -> None:
    r = run_cli("plan", "a dog", "--aspect-ratio", "4:5")
    assert r.code == 65 and r.out == ""
    assert "aspect_ratio" in r.err and "16:9" in r.err


def test_usage_error_exits_64() -> None:
    r = run_cli("plan", "--duration", "ten", "--json")
    assert r.code == 64
    assert r.json()["error"]["code"] == "usage"


def test_human_output_shows_endpoint_cost_and_reasons() -> None:
    r = run_cli("plan", "hero shot of a red sneaker, 8 seconds")
    assert r.code == 0
    assert "kling/kling-3.0/pro/text-to-video" in r.out and "$0.896" in r.out and "tier pro: 'hero shot'" in r.out


def test_batch_prints_one_line_per_input_line_in_order(tmp_path: Path) -> None:
    lines = [
        json.dumps({"text": "a dog on a beach"}),
        json.dumps({"text": "animate this photo"}),
        "not json",
        json.dumps({"text": "billboard of a car", "duration": 10}),
        json.dumps(["not", "an", "object"]),
    ]
    f = tmp_path / "reqs.jsonl"
    f.write_text("\n".join(lines) + "\n")
    r = run_cli("plan", "--batch", str(f), "--json")
    assert r.code == 0, r.err
    out = [json.loads(x) for x in r.out.splitlines()]
    assert len(out) == 5
    assert out[0]["tier"] == "standard"
    assert out[1]["error"]["code"] == "missing_image"
    assert out[2]["error"]["code"] == "invalid_input" and out[2]["error"]["line"] == 3
    assert out[3]["tier"] == "4k" and out[3]["cost_usd"] == 4.2
    assert out[4]["error"]["code"] == "invalid_input"


def test_batch_from_stdin() -> None:
    r = run_cli("plan", "--batch", "-", "--json", stdin='{"text": "a cat"}\n{"text": "a cat", "tier": "pro"}\n')
    assert [json.loads(x)["tier"] for x in r.out.splitlines()] == ["standard", "pro"]


def test_batch_unreadable_file_fails() -> None:
    r = run_cli("plan", "--batch", "/nonexistent/reqs.jsonl", "--json")
    assert r.code == 66
    assert r.json()["error"]["code"] == "no_input"


def test_help_teaches_exit_codes_and_examples() -> None:
    r = run_cli("plan", "--help")
    assert r.code == 0
    assert "examples:" in r.out and "65" in r.out and "--max-cost-usd" in r.out


def test_large_batch_uses_workers_and_keeps_order_and_content(tmp_path: Path) -> None:
    from skill.cli.plan_batch import PARALLEL_BATCH_LINES

    reqs = [{"text": f"a red kite number {i} over a beach", "duration": 3 + i % 13} for i in range(PARALLEL_BATCH_LINES + 50)]
    reqs[7] = {"text": "animate this photo"}
    f = tmp_path / "big.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in reqs) + "\n")
    big = run_cli("plan", "--batch", str(f), "--json", timeout=300)
    assert big.code == 0, big.err
    out = [json.loads(x) for x in big.out.splitlines()]
    assert len(out) == len(reqs)
    assert out[7]["error"]["code"] == "missing_image" and out[7]["error"]["line"] == 8
    assert [o["params"]["duration"] for i, o in enumerate(out) if i != 7] == [r["duration"] for i, r in enumerate(reqs) if i != 7]
    small = tmp_path / "small.jsonl"
    small.write_text("\n".join(json.dumps(r) for r in reqs[:20]) + "\n")
    assert run_cli("plan", "--batch", str(small), "--json").out.splitlines() == big.out.splitlines()[:20]


def test_plan_path_imports_no_network_or_mcp_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from skill.cli import main\n"
        "main(['plan', 'a 40 second film of a kite, cinemascope, with music', '--json'])\n"
        "heavy = sorted(m for m in ('httpx', 'httpcore', 'mcp', 'rich', 'anyio') if m in sys.modules)\n"
        "sys.stderr.write(repr(heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stderr.strip().endswith("[]"), proc.stderr


def test_own_template_folder_by_flag_and_env(tmp_path: Path) -> None:
    import shutil

    from skill.data import data_path

    mine = tmp_path / "templates"
    shutil.copytree(data_path("prompt_templates"), mine)
    (mine / "t2v.j2").write_text("HOUSE STYLE. " + (mine / "t2v.j2").read_text())
    by_flag = run_cli("prompt", "a red kite over the dunes, slow pan left", "--templates", str(mine))
    assert by_flag.code == 0 and by_flag.out.startswith("HOUSE STYLE.")
    by_env = run_cli("plan", "a red kite over the dunes", "--json", env={"KLING3_TEMPLATES": str(mine)})
    assert by_env.json()["payload"]["prompt"].startswith("HOUSE STYLE.")
    (mine / "t2v.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    hostile = run_cli("plan", "a red kite", "--templates", str(mine), "--json")
    assert hostile.code == 78 and hostile.json()["error"]["code"] == "bad_template"


def test_the_human_plan_says_what_decided_in_the_requests_words() -> None:
    r = run_cli("plan", "launch video for our sneaker, keep it under $5, 40 seconds 21:9")
    assert r.code == 0, r.err
    why = r.out[r.out.index("\nwhy") + 1 : r.out.index("\nprompt")].splitlines()
    assert [line[11:] for line in why] == [
        "tier pro: 'launch video'",
        "length 40 s: '40 seconds'",
        "ratio 21:9: '21:9'",
        "budget $5.00 from 'keep it under $5'",
    ]
    assert ".default" not in r.out and "signals" not in r.out
    assert "calls      3: 14 s $1.568, 13 s $1.456, 13 s $1.456" in r.out  # money as money.py writes it
    doc = run_cli("plan", "launch video for our sneaker, keep it under $5", "--json").json()
    assert doc["decision"]["rules"]["mode"] == "mode.default"  # --json keeps every rule id


def test_flags_are_said_to_be_asked_for_and_defaults_are_said_once() -> None:
    asked = run_cli("plan", "a kite", "--tier", "pro", "--max-cost-usd", "3").out
    assert "why        tier pro (asked for)\n           budget $3.00 (asked for)\n" in asked
    plain = run_cli("plan", "a kite").out
    assert "why        the defaults: nothing in the request asked otherwise\n" in plain
