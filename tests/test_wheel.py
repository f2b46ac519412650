"""The wheel carries its data: built, installed into a fresh venv, and `kling3 plan` run there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0 and "No module named build" in proc.stderr:
        pytest.skip("the `build` package is not installed")
    assert proc.returncode == 0, proc.stderr[-2000:]
    (whl,) = out.glob("kling3_skill-*.whl")
    return whl


def test_wheel_contains_rules_templates_and_catalog(wheel: Path) -> None:
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    assert "skill/data/routing_rules.yaml" in names
    assert "skill/data/catalog.yaml" in names
    assert "skill/testing/wire_schema.yaml" in names  # the emulator's own copy of the schema
    assert any(n.startswith("skill/data/prompt_templates/") for n in names)
    assert "skill/data/references/prompting-guide.md" in names  # served as kling3://prompting-guide


def _install(wheel: Path, tmp_path: Path) -> Path:
    """A fresh venv with the wheel installed; dependencies come from the test environment, the
    package itself only from the wheel."""
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True, capture_output=True)
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True, check=True
    ).stdout.strip()
    Path(site, "deps-from-test-env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env_dir


def test_installed_wheel_plans_from_its_own_data(wheel: Path, tmp_path: Path) -> None:
    env_dir = _install(wheel, tmp_path)
    py = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KLING3_RULES")}
    proc = subprocess.run(
        [str(env_dir / "bin" / "kling3"), "plan", "hero shot of a watch, 8 seconds, with music", "--json"],
        capture_output=True, text=True, cwd=tmp_path, env=env, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["endpoint"] == "kling/kling-3.0/pro/text-to-video" and doc["cost_usd"] == 1.344
    where = subprocess.run([str(py), "-c", "import skill; print(skill.__file__)"], capture_output=True, text=True, cwd=tmp_path, env=env, check=True)
    assert str(env_dir) in where.stdout


def test_wheel_carries_a_prebuilt_start_up_cache(wheel: Path) -> None:
    import zipfile

    names = [n for n in zipfile.ZipFile(wheel).namelist() if n.startswith("skill/data/cache/")]
    kinds = {Path(n).name.split("-")[0] for n in names if n.endswith(".k3c")}
    assert {"rules", "lexicon", "vocabulary", "template", "yaml", "regexes"} <= kinds, names


_FIRST_CALL = """
import contextlib, io, json, sys
from skill.cli import main
from skill import startup_cache
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(["plan", "hero shot of a watch, 8 seconds, with music", "--json"])
print(json.dumps({"code": code, "plan": json.loads(out.getvalue()), "stats": startup_cache.stats(),
                  "writable": str(startup_cache.writable_dir())}))
"""


def test_a_fresh_install_with_a_read_only_home_starts_from_the_prebuilt_cache(wheel: Path, tmp_path: Path) -> None:
    env_dir = _install(wheel, tmp_path)
    py = env_dir / "bin" / "python"
    blocker = tmp_path / "a-file"
    blocker.write_text("nothing can be created below a regular file, even by root\n")
    (tmp_path / "tmp").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KLING3_RULES", "KLING3_CACHE", "KLING3_PROMPT_CACHE")}
    env |= {"KLING3_HOME": str(blocker / "home"), "XDG_CACHE_HOME": str(blocker / "cache"), "TMPDIR": str(tmp_path / "tmp")}
    proc = subprocess.run([str(py), "-c", _FIRST_CALL], capture_output=True, text=True, cwd=tmp_path, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["code"] == 0 and doc["plan"]["cost_usd"] == 1.344
    where = dict(doc["stats"])
    for kind in ("rules", "lexicon", "template"):
        assert where.get(kind) == "prebuilt", doc["stats"]
    assert "miss" not in {w for k, w in doc["stats"] if k != "vocabulary"}, doc["stats"]
