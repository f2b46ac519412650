"""The floor of a cold `kling3 plan`: what its own libraries cost when really used, nothing else.

A 10-field pydantic model validated, routing_rules.yaml parsed with yaml's CSafeLoader, one
Jinja template rendered. bench/plan_cold_start.py runs it against `kling3 plan ... --json`.
"""

import json
import sys
from pathlib import Path

import jinja2
import yaml
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parent.parent


class Plan(BaseModel):
    endpoint: str
    tier: str
    mode: str
    duration: int
    aspect_ratio: str
    generate_audio: bool
    prompt: str
    cost_usd: float
    warnings: list[str]
    reasons: list[str]


rules = yaml.load((ROOT / "routing_rules.yaml").read_bytes(), Loader=yaml.CSafeLoader)
prompt = jinja2.Template("{{ subject }}, {{ camera }}. {{ audio }}.").render(
    subject=" ".join(sys.argv[1:]) or "a barista pulling espresso", camera="slow push-in", audio="cafe sound"
)
plan = Plan(endpoint="kling/v3/t2v", tier="standard", mode="t2v", duration=5, aspect_ratio="9:16", generate_audio=True,
            prompt=prompt, cost_usd=0.42, warnings=[], reasons=[f"{len(rules['rules'])} rules read"])
print(json.dumps(plan.model_dump()))
