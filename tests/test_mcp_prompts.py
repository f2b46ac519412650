"""The MCP prompts (skill/data/mcp_prompts.yaml): each renders, names only real tools and
resources, refuses bad arguments by name, and a broken catalog file is refused naming the prompt.
What the official client sees of them is tested in tests/test_mcp_server.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from skill import tools
from skill.errors import ConfigError, InputError
from skill.mcp_prompts import load_prompts, prompt_specs, render_prompt

FULL = {
    "plan-then-generate": {"request": "a fox trotting through snow, vertical", "budget_usd": "2"},
    "write-multi-shot-prompt": {"idea": "a lighthouse keeper lights the lamp", "shots": "3", "duration": "12"},
    "animate-image": {"image_url": "https://example.com/portrait.jpg", "motion": "slow push-in, she smiles",
                      "keep": "her face and the red coat"},
}


def test_the_three_prompts_cover_the_common_jobs() -> None:
    assert [p.name for p in prompt_specs()] == list(FULL)
    for spec in prompt_specs():
        assert spec.title and spec.description and any(a.required for a in spec.arguments)


@pytest.mark.parametrize("name", list(FULL))
def test_each_prompt_renders_every_argument_and_names_only_real_tools(name: str) -> None:
    full = render_prompt(name, FULL[name])
    text = "\n".join(m.text for m in full.messages)
    for value in FULL[name].values():
        assert value in text
    named = set(re.findall(r"\bkling_[a-z_]+", text))
    assert named and named <= set(tools.TOOL_NAMES), named - set(tools.TOOL_NAMES)
    assert "kling_plan_video" in named and "{{" not in text and "{%" not in text
    required = {a.name: FULL[name][a.name] for a in next(p for p in prompt_specs() if p.name == name).arguments
                if a.required}
    short = "\n".join(m.text for m in render_prompt(name, required).messages)
    assert "\n\n\n" not in short and len(short) < len(text)


def test_embedded_resources_are_served_by_the_server() -> None:
    pytest.importorskip("mcp")
    from skill.mcp_server import RESOURCES

    served = {r.uri for r in RESOURCES}
    for spec in prompt_specs():
        assert set(spec.embed) <= served, spec.name


def test_plan_then_generate_keeps_the_rule_plan_first_confirm_then_fetch_not_regenerate() -> None:
    text = render_prompt("plan-then-generate", {"request": "a fox"}).messages[0].text
    assert text.index("kling_plan_video") < text.index("yes") < text.index("kling_generate_video")
    assert "kling_fetch_video" in text and "never call kling_generate_video again" in text
    assert "max_cost_usd" not in text  # no budget given, none mentioned


@pytest.mark.parametrize(("name", "arguments", "field"), [
    ("plan-then-generate", {}, "request"),
    ("plan-then-generate", {"request": "   "}, "request"),
    ("plan-then-generate", {"request": "a fox", "tier": "4k"}, "tier"),
    ("animate-image", {"image_url": "https://example.com/a.jpg"}, "motion"),
    ("no-such-prompt", {}, "name"),
])
def test_bad_arguments_are_refused_naming_the_field(name: str, arguments: dict[str, str], field: str) -> None:
    with pytest.raises(InputError) as refused:
        render_prompt(name, arguments)
    assert refused.value.field == field


def test_an_argument_is_a_value_not_a_template() -> None:
    text = render_prompt("plan-then-generate", {"request": "{{ 7 * 7 }} {% raw %}"}).messages[0].text
    assert "{{ 7 * 7 }} {% raw %}" in text and "49" not in text


@pytest.mark.parametrize(("body", "says"), [
    ("prompts:\n  - name: x\n    title: X\n    description: d\n    messages: [{role: user, text: '{{ nope }}'}]\n",
     "uses ['nope']"),
    ("prompts:\n  - name: x\n    title: X\n    description: d\n    messages: [{role: user, text: '{% if %}'}]\n",
     "prompt 'x'"),
    ("prompts:\n  - name: x\n    title: X\n    description: d\n    colour: red\n    messages: [{role: user, text: hi}]\n",
     "colour"),
    ("prompts:\n  - {name: x, title: X, description: d, messages: [{role: user, text: hi}]}\n"
     "  - {name: x, title: Y, description: e, messages: [{role: user, text: ho}]}\n", "defined twice"),
])
def test_a_broken_catalog_is_refused_naming_what_is_wrong(tmp_path: Path, body: str, says: str) -> None:
    path = tmp_path / "mcp_prompts.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as broken:
        load_prompts(path)
    assert says in broken.value.message and broken.value.code == "bad_data_file"
