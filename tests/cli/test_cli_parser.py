"""Only the invoked command's parser is built; `kling3 --help` still lists every command."""

from __future__ import annotations

import argparse
import contextlib
import io
import subprocess
import sys

import pytest

from skill.cli.app import build_parser


def _commands(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Command name -> its one-line help, as the top-level help lists them."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {c.dest: c.help or "" for c in sub._choices_actions}


ALL = _commands(build_parser())


def test_every_command_is_there_when_none_is_named() -> None:
    assert {"plan", "prompt", "run", "batch", "status", "jobs", "spend", "login", "mcp"} <= set(ALL)


@pytest.mark.parametrize("name", sorted(ALL))
def test_naming_a_command_builds_only_its_parser(name: str) -> None:
    parser = build_parser(name)
    assert set(_commands(parser)) == {name}
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exc:
        parser.parse_args([name, "--help"])
    assert exc.value.code == 0
    full = io.StringIO()
    with contextlib.redirect_stdout(full), pytest.raises(SystemExit):
        build_parser().parse_args([name, "--help"])
    assert out.getvalue() == full.getvalue()  # the same parser, built alone


def test_a_name_no_command_has_builds_them_all() -> None:
    assert set(_commands(build_parser("plna"))) == set(ALL)


def test_top_level_help_lists_every_command_with_its_help() -> None:
    proc = subprocess.run([sys.executable, "-m", "skill.cli", "--help"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    for name, line in ALL.items():
        assert f"{name} {' '.join(line.split())}" in text, name


def test_plan_answers_as_before() -> None:
    proc = subprocess.run([sys.executable, "-m", "skill.cli", "plan", "a red fox in the snow", "--json"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0 and '"endpoint"' in proc.stdout
    bad = subprocess.run([sys.executable, "-m", "skill.cli", "plna", "x", "--json"], capture_output=True, text=True, check=False)
    assert bad.returncode == 64 and "invalid choice" in bad.stdout and "'prompt'" in bad.stdout
