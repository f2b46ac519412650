"""Prompt templates: hostile or broken templates are a ConfigError naming the file; user
templates override the bundled ones; the vocabulary file is validated; Python holds no Kling words."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

from skill.errors import ConfigError
from skill.prompt import PromptInput, build_prompt
from skill.prompt import lexicon as lexm


def _user_templates(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, body in files.items():
        (tmp_path / name).write_text(body, encoding="utf-8")
    return tmp_path


HOSTILE = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ shot.__class__.__init__.__globals__ }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ self._TemplateReference__context }}",
    "{{ 'a' * 100000000 }}",
    "{{ 2 ** 100000 }}",
]


@pytest.mark.parametrize("body", HOSTILE)
def test_hostile_template_is_a_config_error(tmp_path: Path, body: str) -> None:
    tdir = _user_templates(tmp_path, {"t2v.j2": body})
    with pytest.raises(ConfigError) as err:
        build_prompt(PromptInput(text="a dog runs"), template_dir=tdir)
    assert err.value.code == "bad_template"
    assert str(tdir / "t2v.j2") in err.value.message


def test_template_syntax_error_names_the_file(tmp_path: Path) -> None:
    tdir = _user_templates(tmp_path, {"t2v.j2": "{% if shot.lead %}\n{{ shot.lead }\n"})
    with pytest.raises(ConfigError) as err:
        build_prompt(PromptInput(text="a dog runs"), template_dir=tdir)
    assert err.value.code == "bad_template" and err.value.details["template"] == str(tdir / "t2v.j2")
    assert "TemplateSyntaxError" in err.value.message


def test_template_undefined_variable_is_a_config_error(tmp_path: Path) -> None:
    tdir = _user_templates(tmp_path, {"t2v.j2": "{{ shot.body }} {{ no_such_thing }}"})
    with pytest.raises(ConfigError) as err:
        build_prompt(PromptInput(text="a dog runs"), template_dir=tdir)
    assert err.value.code == "bad_template" and "no_such_thing" in err.value.message


def test_error_in_an_included_template_names_that_file(tmp_path: Path) -> None:
    tdir = _user_templates(tmp_path, {"audio.j2": "{{ audio.no_such_key }}"})
    with pytest.raises(ConfigError) as err:
        build_prompt(PromptInput(text="a dog runs", generate_audio=True), template_dir=tdir)
    assert err.value.details["template"] == str(tdir / "audio.j2")
    sub = tmp_path / "b"
    sub.mkdir()
    syntax = _user_templates(sub, {"shot.j2": "{% for %}"})
    with pytest.raises(ConfigError) as err:
        build_prompt(PromptInput(text="a dog runs"), template_dir=syntax)
    assert err.value.details["template"] == str(syntax / "shot.j2")


def test_user_templates_override_and_fall_back(tmp_path: Path) -> None:
    tdir = _user_templates(tmp_path, {"t2v.j2": 'CUSTOM: {% include "shot.j2" %}'})
    built = build_prompt(PromptInput(text="a dog runs"), template_dir=tdir)
    assert built.prompt == "CUSTOM: A dog runs."
    # i2v.j2 is not overridden: the bundled one is used
    assert "from the image" in build_prompt(PromptInput(text="a dog runs", mode="i2v"), template_dir=tdir).prompt


# --- the vocabulary ------------------------------------------------------------------------------------


def test_vocabulary_is_validated(tmp_path: Path) -> None:
    from skill.data import data_path
    good = data_path("prompt_vocabulary.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "vocab.yaml"
    bad.write_text(good + "\nunknown_section: [1]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        lexm._lex_for(str(bad))
    assert err.value.code == "bad_data_file" and "unknown_section" in err.value.message
    broken = tmp_path / "vocab2.yaml"
    broken.write_text(good.replace("'ecu'", "'ecu('"), encoding="utf-8")
    with pytest.raises(ConfigError):
        lexm._lex_for(str(broken))


def test_no_kling_vocabulary_in_python() -> None:
    """Python holds mechanisms only: no cue phrase appears in code (comments and docstrings aside)."""
    strings: list[str] = []
    comments: list[str] = []
    for path in sorted((Path(__file__).parents[2] / "skill" / "prompt").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        strings += [
            n.value.lower()
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
        ]
        comments += [t.string for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type == tokenize.COMMENT]
    code = " ".join(strings)
    assert comments  # the tokenizer ran
    for phrase in ("push-in", "close-up", "golden hour", "masterpiece", "tracking shot", "9:16", "whispering",
                   "anime", "photoreal", "handheld", "rim light", "kling pro", "orbit", "left|right"):
        assert not re.search(rf"(?<![\w]){re.escape(phrase)}(?![\w])", code), phrase


