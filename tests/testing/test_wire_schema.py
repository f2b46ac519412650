"""The emulator judges bodies with its own copy of the wire schema, so the client's catalog is
checked against RunComfy's facts instead of against itself."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from skill.catalog import Catalog, load_catalog
from skill.data import data_path, load_yaml
from skill.execution.client import RunComfyClient
from skill.execution.live_schema import schema_problems
from skill.testing.emulator import Emulator
from skill.testing.wire_schema import FIXTURE_PATH, WireSchemas, load_wire_schemas

ROOT = Path(__file__).resolve().parents[2]
T2V = "kling/kling-3.0/standard/text-to-video"
PRO_T2V = "kling/kling-3.0/pro/text-to-video"
I2V = "kling/kling-3.0/standard/image-to-video"


def disagreements(catalog: Catalog, wire: WireSchemas) -> list[str]:
    """Where the client's catalog says something RunComfy's schema (the fixture) does not.

    The catalog may be stricter (a narrower range or enum) but never wider, never name a field
    the API lacks, and never assume another default or another required set.
    """
    out: list[str] = []
    for ep in catalog.endpoints:
        schema = wire.input_schema(ep.model_id)
        if schema is None:
            out.append(f"{ep.model_id}: not a RunComfy model id")
            continue
        ours = catalog.schema_for(ep)
        if sorted(ours.required) != sorted(schema.required):
            out.append(f"{ep.model_id}: required {sorted(ours.required)} vs {sorted(schema.required)}")
        if ep.usd_per_second != wire.models[ep.model_id].base_price_usd:
            out.append(f"{ep.model_id}: price {ep.usd_per_second}")
        for name, spec in ours.fields.items():
            prop = schema.properties.get(name)
            if prop is None:
                out.append(f"{ep.model_id}: {name} is not a field of the API")
                continue
            if spec.type != prop.type or spec.format != prop.format:
                out.append(f"{ep.model_id}: {name} is {spec.type}/{spec.format}, the API {prop.type}/{prop.format}")
            if spec.enum is not None and not set(spec.enum) <= set(prop.enum or spec.enum):
                out.append(f"{ep.model_id}: {name} allows {spec.enum}, the API {prop.enum}")
            if prop.minimum is not None and (spec.minimum is None or spec.minimum < prop.minimum):
                out.append(f"{ep.model_id}: {name} minimum {spec.minimum} below {prop.minimum}")
            if prop.maximum is not None and (spec.maximum is None or spec.maximum > prop.maximum):
                out.append(f"{ep.model_id}: {name} maximum {spec.maximum} above {prop.maximum}")
            if spec.default is not None and prop.default is not None and spec.default != prop.default:
                out.append(f"{ep.model_id}: {name} default {spec.default!r}, the API {prop.default!r}")
    return out


def test_the_catalog_agrees_with_runcomfys_schema() -> None:
    wire = load_wire_schemas()
    assert disagreements(load_catalog(), wire) == []
    assert {ep.model_id for ep in load_catalog().endpoints} == set(wire.models)


def _broken_catalog() -> Catalog:
    """The agent skill's mistake (SKILLS-A, runcomfy-protocol.md §3.3): ``generate_audio`` on
    text-to-video instead of ``sound``, and durations up to 20 s."""
    raw = copy.deepcopy(load_yaml(data_path("catalog.yaml")))
    raw["field_maps"]["t2v"]["generate_audio"] = "generate_audio"
    t2v = raw["schemas"]["t2v"]
    t2v["fields"]["generate_audio"] = t2v["fields"].pop("sound")
    t2v["always_send"] = ["duration", "generate_audio"]
    t2v["fields"]["duration"]["maximum"] = 20
    return Catalog.model_validate(raw)


@pytest.fixture
def raw_api() -> Iterator[Callable[[Emulator], httpx.Client]]:
    made: list[httpx.Client] = []

    def factory(emu: Emulator) -> httpx.Client:
        client = httpx.Client(headers={"Authorization": f"Bearer {emu.token}"}, timeout=5, trust_env=False)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


def test_a_catalog_mistake_fails_against_the_emulator(emulator: Emulator, raw_api: Any) -> None:
    broken = _broken_catalog()
    ep = broken.endpoint("standard", "t2v")
    body = broken.to_wire(ep, {"prompt": "a kite over dunes", "duration": 18, "generate_audio": False})
    assert broken.validate_wire(ep, body) == []  # the catalog alone sees nothing wrong

    found = disagreements(broken, load_wire_schemas())
    assert any("generate_audio is not a field" in d for d in found)
    assert any("duration maximum 20" in d for d in found)

    resp = raw_api(emulator).post(f"{emulator.base_url}/models/{ep.model_id}", json=body)
    assert resp.status_code == 422
    assert {tuple(d["loc"]) for d in resp.json()["detail"]} == {("duration",), ("generate_audio",)}
    assert emulator.jobs() == []

    with RunComfyClient(base_url=emulator.base_url, token=emulator.token) as client:
        live = client.model_schema(ep.model_id)
    assert {name for name, _ in schema_problems(live, body)} == {"duration", "generate_audio"}


def test_the_emulator_knows_fields_the_catalog_does_not(emulator: Emulator, raw_api: Any) -> None:
    client = raw_api(emulator)
    assert "shot_type" not in load_catalog().schema_for(load_catalog().endpoint("standard", "t2v")).fields
    ok = client.post(f"{emulator.base_url}/models/{T2V}",
                     json={"prompt": "x", "shot_type": "intelligent", "multi_prompt": [{"prompt": "a"}]})
    assert ok.status_code == 200, ok.text
    pro = client.post(f"{emulator.base_url}/models/{PRO_T2V}", json={"prompt": "x", "shot_type": "intelligent"})
    assert pro.status_code == 422 and pro.json()["detail"][0]["loc"] == ["shot_type"]
    flat = client.post(f"{emulator.base_url}/models/{I2V}",
                       json={"prompt": "x", "start_image_url": "https://a.example/i.png", "elements": "no"})
    assert flat.status_code == 422 and flat.json()["error_message"].startswith("elements")
    live = client.get(f"{emulator.base_url}/models/{PRO_T2V}").json()["input_schema"]["properties"]
    assert live["shot_type"] == {"type": "string", "enum": ["customize"], "default": "customize"}
    assert live["sound"]["default"] is True and "structured" not in live["multi_prompt"]


def test_the_emulator_never_reads_the_catalog() -> None:
    code = "import sys, skill.testing.emulator; print('skill.catalog' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"
    assert FIXTURE_PATH.parent == ROOT / "skill" / "testing"
    assert "§3.2" in FIXTURE_PATH.read_text(encoding="utf-8")
