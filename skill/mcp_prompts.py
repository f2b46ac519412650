"""The MCP server's prompts: the catalog in ``skill/data/mcp_prompts.yaml``, checked, and rendered.

A prompt is a ready-made start a user picks in a host (plan then generate; write a multi-shot
prompt; animate an image). Its words are data; this module only checks the file once (unknown
keys, duplicate names, templates that do not parse or use a name that is no argument are a
:class:`~skill.errors.ConfigError`) and renders a prompt in a Jinja sandbox. It imports no MCP
code: :mod:`skill.mcp_server` turns a :class:`RenderedPrompt` into the SDK's types.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from skill.errors import ConfigError, InputError

if TYPE_CHECKING:
    from jinja2 import Template

__all__ = [
    "PROMPTS_FILE",
    "CompiledPrompts",
    "PromptSpec",
    "RenderedMessage",
    "RenderedPrompt",
    "load_prompts",
    "prompt_specs",
    "render_prompt",
]

PROMPTS_FILE = "mcp_prompts.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PromptArgument(_Strict):
    """One argument a user fills in (MCP prompt arguments are strings)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str
    required: bool = False


class PromptMessageSpec(_Strict):
    """One message of a prompt, as a Jinja template over the prompt's arguments."""

    role: Literal["user", "assistant"]
    text: str


class PromptSpec(_Strict):
    """One prompt of the catalog."""

    name: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    title: str
    description: str
    arguments: tuple[PromptArgument, ...] = ()
    embed: tuple[str, ...] = ()
    """URIs of server resources attached to the prompt (the server resolves them)."""
    messages: tuple[PromptMessageSpec, ...] = Field(min_length=1)


class _Catalog(_Strict):
    prompts: tuple[PromptSpec, ...] = Field(min_length=1)


@dataclass(frozen=True)
class RenderedMessage:
    role: Literal["user", "assistant"]
    text: str


@dataclass(frozen=True)
class RenderedPrompt:
    """A prompt with its arguments filled in: what ``prompts/get`` answers."""

    name: str
    description: str
    messages: tuple[RenderedMessage, ...]
    embed: tuple[str, ...]


def _environment() -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                                keep_trailing_newline=False, autoescape=False)


CompiledPrompts = tuple[tuple[PromptSpec, tuple["Template", ...]], ...]


@functools.lru_cache(maxsize=1)
def _catalog() -> CompiledPrompts:
    from skill.data import data_path

    return load_prompts(data_path(PROMPTS_FILE))


def load_prompts(path: Path) -> CompiledPrompts:
    """The prompts of a catalog file and their compiled templates; a broken file names the prompt."""
    from jinja2 import TemplateSyntaxError, meta

    from skill.data import load_yaml

    try:
        catalog = _Catalog.model_validate(load_yaml(path))
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid prompt catalog: {exc}", code="bad_data_file") from None
    env = _environment()
    out: list[tuple[PromptSpec, tuple[Template, ...]]] = []
    seen: set[str] = set()
    for spec in catalog.prompts:
        if spec.name in seen:
            raise ConfigError(f"{path}: prompt {spec.name!r} is defined twice", code="bad_data_file")
        seen.add(spec.name)
        names = {a.name for a in spec.arguments}
        templates = []
        for message in spec.messages:
            try:
                used = meta.find_undeclared_variables(env.parse(message.text))
                templates.append(env.from_string(message.text))
            except TemplateSyntaxError as exc:
                raise ConfigError(f"{path}: prompt {spec.name!r}: {exc.message} (line {exc.lineno})",
                                  code="bad_data_file") from None
            if used - names:
                raise ConfigError(f"{path}: prompt {spec.name!r} uses {sorted(used - names)}, which are no "
                                  f"arguments of it ({sorted(names)})", code="bad_data_file")
        out.append((spec, tuple(templates)))
    return tuple(out)


def prompt_specs() -> tuple[PromptSpec, ...]:
    """Every prompt, in the file's order."""
    return tuple(spec for spec, _ in _catalog())


def _arguments(spec: PromptSpec, given: dict[str, str] | None) -> dict[str, str]:
    """The prompt's arguments, stripped; unknown or missing ones are refused naming the field."""
    given = dict(given or {})
    known = [a.name for a in spec.arguments]
    for key in given:
        if key not in known:
            raise InputError(f"{key}: not an argument of prompt {spec.name!r}; its arguments: {', '.join(known)}",
                             field=key)
    values = {a.name: str(given.get(a.name) or "").strip() for a in spec.arguments}
    for arg in spec.arguments:
        if arg.required and not values[arg.name]:
            raise InputError(f"{arg.name}: is required by prompt {spec.name!r} ({arg.description})", field=arg.name)
    return values


def render_prompt(name: str, arguments: dict[str, str] | None = None) -> RenderedPrompt:
    """Fill in prompt ``name``; :class:`InputError` for an unknown prompt or a bad argument."""
    for spec, templates in _catalog():
        if spec.name == name:
            values = _arguments(spec, arguments)
            messages = tuple(
                RenderedMessage(m.role, re.sub(r"\n{3,}", "\n\n", t.render(**values)).strip())
                for m, t in zip(spec.messages, templates, strict=True)
            )
            return RenderedPrompt(spec.name, spec.description, messages, spec.embed)
    names = ", ".join(spec.name for spec in prompt_specs())
    raise InputError(f"unknown prompt {name!r}; prompts: {names}", code="unknown_prompt", field="name")
